#pragma once
// A model's configuration from a GGUF file's metadata: `general.architecture` and the keys under
// its name (`llama.block_count`, ...). One row per architecture kvscope runs (llama, qwen2,
// gpt2) says which keys it reads and what the architecture fixes; any other architecture is
// refused by name. Tensor names are GGUF's own (token_embd.weight, blk.N.attn_q.weight, ...),
// the names core/arch binds.

#include "formats/gguf.h"
#include "model/model_config.h"
#include "util/result.h"

namespace kvscope {

Result<ModelConfig> ggufModelConfig(const GgufFile& file);

}  // namespace kvscope
