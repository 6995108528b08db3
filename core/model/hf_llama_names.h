#pragma once
// The tensor-name table of Hugging Face Llama-family folders (Llama, Mistral, Qwen2): their names
// (model.layers.N.self_attn.q_proj.weight, ...) to the canonical ones core/arch binds, GGUF's
// (blk.N.attn_q.weight, ...). Names the table does not know are left as they are.

#include <QString>

namespace kvscope {

QString canonicalLlamaName(const QString& huggingFaceName);

}  // namespace kvscope
