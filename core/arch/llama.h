#pragma once
// Llama: RMSNorm before attention and MLP, rotary position embeddings, SwiGLU MLP, grouped-query
// attention, no biases, a tied or separate classifier. Also Mistral without sliding window, and
// the llama2.c "stories" models.

#include "model/transformer.h"
#include "model/weight_store.h"

#include <functional>
#include <memory>

namespace kvscope {

// Tensors by their canonical (GGUF-style) names: token_embd, blk.N.attn_norm, blk.N.attn_q/k/v,
// blk.N.attn_output, blk.N.ffn_norm, blk.N.ffn_gate/up/down, output_norm, output (when not
// tied); every matrix stored (out, in). Copies them, checking each shape against `config`;
// `layerDone(i)` is called after each layer and may throw to cancel. Throws LoadError.
std::unique_ptr<Transformer> makeLlama(const ModelConfig& config, WeightStore& weights,
                                       const std::function<void(int)>& layerDone = {});

}  // namespace kvscope
