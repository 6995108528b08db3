#pragma once
// Dequantizing a row of any supported ggml weight type to float32, exactly as the format
// defines it: the same float32 operations in the same order as ggml's reference
// dequantize_row_* (e.g. Q4_K: y = (d*sc)*q - (dmin*m), each product rounded to float32), so the
// result is bit for bit ggml's, NaN and infinite scales included. The block layouts are
// documented in quant_blocks.h.

#include "tensor/ggml_type.h"

#include <cstdint>

namespace kvscope {

// Writes the n values stored at `src` in `type` to dst (n floats). `src` needs no alignment and
// holds n / blockSize blocks. False, writing nothing, when the type is not supported (see
// ggmlTypeTraits) or n is negative or not a multiple of the type's block size.
bool dequantizeRow(GgmlType type, const std::uint8_t* src, std::int64_t n, float* dst);

}  // namespace kvscope
