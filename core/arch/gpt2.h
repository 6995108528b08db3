#pragma once
// GPT-2: learned position embeddings, pre-LayerNorm blocks, tanh GELU, lm_head tied to wte.

#include "model/transformer.h"
#include "model/weight_store.h"

#include <functional>
#include <memory>

namespace kvscope {

// Copies every tensor GPT-2 needs out of `weights`, checking each shape against `config`; the
// model keeps no reference to the store. `layerDone(i)` is called after each layer is read and
// may throw to cancel. Throws LoadError.
std::unique_ptr<Transformer> makeGpt2(const ModelConfig& config, WeightStore& weights,
                                      const std::function<void(int)>& layerDone = {});

}  // namespace kvscope
