#pragma once
// Fast row dot products for the weight types of the common files (Q8_0; Q4_K_M = Q4_K + Q6_K)
// with activations quantized per block (quantize_activation.h), using AVX2 when the build has
// it (-march=native on a CPU with AVX2) and the scalar reference (dot_reference.h) otherwise.
//
// Each computes the same value as its reference: exact integer sums per block, one float32
// scale product per block, but the block terms accumulate in float32 lanes instead of double,
// so results differ from the reference by float32 rounding of the sum (tests/core/tensor/
// test_quant_dot_avx.cpp bounds it by 2^-16 of sum |block terms|).
//
// Used row by row in a matrix-vector product: the weights are read once, at their stored
// size, which is the point (a decode step is limited by the bytes it streams).

#include "tensor/quantize_activation.h"

#include <cstdint>

namespace kvscope {

// True when the functions below use AVX2 (else they run the scalar reference).
bool quantDotUsesAvx2();

// row: n / 32 Q8_0 blocks (unaligned); x: n / 32 blocks. n a multiple of 32.
float dotQ8_0Q8_0(const std::uint8_t* row, const BlockQ8_0* x, std::int64_t n);
// row: n / 256 Q4_K blocks (unaligned); x: n / 256 Q8_K blocks. n a multiple of 256.
float dotQ4_KQ8_K(const std::uint8_t* row, const BlockQ8_K* x, std::int64_t n);
// row: n / 256 Q6_K blocks (unaligned); x: n / 256 Q8_K blocks. n a multiple of 256.
float dotQ6_KQ8_K(const std::uint8_t* row, const BlockQ8_K* x, std::int64_t n);

}  // namespace kvscope
