#pragma once
// Reader for llama2.c checkpoints (the .bin files that llama2.c's run.c reads and its export.py
// writes), in two layouts:
// - legacy (version 0): seven little-endian int32 fields dim, hidden_dim, n_layers, n_heads,
//   n_kv_heads, vocab_size, seq_len (a negative vocab_size marks a separate classifier), then
//   float32 tensors with each kind stacked over the layers, two unused RoPE tables
//   (freq_cis_real and freq_cis_imag, seq_len x head_dim/2 each) and the optional classifier;
// - version 1: a 256-byte header (uint32 magic "ak42", int32 version, the same seven fields with
//   a positive vocab_size, a shared_classifier byte, zero padding), then the norms first and the
//   matrices after, float32, without the RoPE tables.
// Version 2 (int8 groups) is recognised and refused. The file is untrusted: every header field is
// checked against the caps in model_config.h and against the file size before anyone allocates;
// once parseLlama2c() returns, every tensor range lies inside the file and the ranges tile it.
// The size must match exactly: export.py pads neither layout, and a header whose fields are off
// would otherwise be read as a valid prefix of a bigger file.

#include "formats/safetensors.h"
#include "model/model_config.h"
#include "util/result.h"

#include <QString>

#include <cstdint>
#include <vector>

namespace kvscope {

struct Llama2cCheckpoint {
    int version = 0;     // 0 = legacy (run.c), 1 = ak42 version 1 (float32)
    ModelConfig config;  // modelType "llama", RMSNorm, SwiGLU, adjacent-pair RoPE
    // In file order, all F32, shapes (rows = out, cols = in) as stored row-major, GGUF-style
    // names: token_embd.weight, blk.N.{attn_norm,attn_q,attn_k,attn_v,attn_output,ffn_norm,
    // ffn_gate,ffn_down,ffn_up}.weight, output_norm.weight and, untied only, output.weight.
    // begin/end are absolute byte offsets in the file.
    std::vector<TensorInfo> tensors;
};

// Leading bytes parseLlama2c needs (the largest header, 256).
constexpr std::uint64_t kLlama2cHeaderBytes = 256;

// `bytes` holds the first `available` bytes of a `fileSize`-byte file: at least the layout's
// header (28 bytes for legacy, 256 for version 1), so min(fileSize, kLlama2cHeaderBytes) always
// suffices. `fileName` is used in messages.
Result<Llama2cCheckpoint> parseLlama2c(const std::uint8_t* bytes, std::uint64_t available,
                                       std::uint64_t fileSize, const QString& fileName);

// True when the first bytes look like a llama2.c checkpoint: the ak42 magic (any version, so that
// version 2 reaches parseLlama2c's message), or a legacy header that passes every check and
// accounts for exactly `fileSize` bytes. Used by a byte sniffer, so it never fails.
bool looksLikeLlama2c(const std::uint8_t* bytes, std::uint64_t available, std::uint64_t fileSize);

}  // namespace kvscope
