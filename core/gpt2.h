#pragma once
// GPT-2: learned position embeddings, pre-LayerNorm blocks, tanh GELU, lm_head tied to wte.

#include "transformer.h"
#include "weight_store.h"

#include <functional>
#include <memory>

namespace kvscope {

// Binds every tensor GPT-2 needs, checking each shape against `config`. `layerDone(i)` is called
// after each layer is bound and may throw to cancel. Throws LoadError.
std::unique_ptr<Transformer> makeGpt2(const ModelConfig& config,
                                      std::shared_ptr<WeightStore> weights,
                                      const std::function<void(int)>& layerDone = {});

}  // namespace kvscope
