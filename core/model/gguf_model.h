#pragma once
// What a GGUF file gives the loader besides its configuration (gguf_config.h): the vocabulary
// of its tokenizer.ggml.* keys and its tensors as the weight store's table, each carrying its
// stored ggml type so quantized weights are copied as they are.

#include "formats/gguf.h"
#include "formats/safetensors.h"
#include "tokenizer/gguf_vocab.h"
#include "util/result.h"

#include <vector>

namespace kvscope {

Result<GgufVocabulary> ggufVocabulary(const GgufFile& file);
std::vector<TensorInfo> ggufTensorInfos(const GgufFile& file);

}  // namespace kvscope
