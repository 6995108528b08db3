#pragma once
// Quantizing the activation vector per block, as llama.cpp does before a quantized matrix-vector
// product: the weights' integer quants then multiply int8 activations, and each block's scales
// are applied once per block. Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0 weights take Q8_0 activations
// (32 values per block), the K-quants take Q8_K (256 per block).
//
// Q8_0, as llama.cpp's x86 quantize_row_q8_0: amax = max|x| over the block, d = amax/127 stored
//   as f16, q = round-half-even(x * (127/amax)) in float32, 0 when amax is 0. (ggml's portable
//   quantize_row_q8_0_ref multiplies by 1/d and rounds halves away from zero; the two differ only
//   on exact ties.)
// Q8_K, as ggml's quantize_row_q8_K_ref: max = the block's value of largest magnitude, with its
//   sign (the first on ties); iscale = -127/max; q = min(127, round-half-even(iscale * x)) in
//   float32; d = 1/iscale as float, so d is negative when max is positive and q holds the negated
//   values; bsums[j] = sum of q over values 16j..16j+15. A zero block has d = 0, q = 0.
//
// What it changes. Value x_i of block b comes back as x^_i = q_i * d_b with
//   |x^_i - x_i| <= e_b,  Q8_0: e_b = (0.5 + 2^-15) * D + 127 * max(2^-11 * D, 2^-25),
//                         Q8_K: e_b = (0.5 + 2^-15) * D,        D = amax_b / 127
// (half a quantization step, float32 rounding, and for Q8_0 the f16 rounding of d, relative
// 2^-11 while d is an f16 normal, absolute 2^-25 below that). Hence for any weight row w
//   |w . x^ - w . x| <= sum_b e_b * sum_{i in b} |w_i|        and <= ||w||_2 ||x^ - x||_2
// (the first checked by tests/core/tensor/test_quant_dot.cpp on random rows of every type, the
// second Cauchy-Schwarz). Measured there (n = 4096, a 256 x 4096 Gaussian W): ||x^ - x|| / ||x||
// and the matrix-vector product's relative error ||W x^ - W x|| / ||W x|| are 0.53% and 0.56%
// (Q8_0), 0.70% and 0.70% (Q8_K) for Gaussian x, and 1.2% and 1.1% (Q8_0), 3.0% and 2.9% (Q8_K)
// when 8 of the 4096 channels are 40 times larger (an outlier widens its whole block's step;
// the test holds them below 0.65%, 1.0%, 1.4% and 3.8%). Single dot products of unrelated
// vectors can lose all relative precision (w . x near 0), which is why the bound is stated
// against sum |w_i| and ||w||.
//
// Finite activations are assumed (a forward pass has them); for inf or NaN the output is defined
// (no undefined behaviour) but meaningless.

#include <cstdint>

namespace kvscope {

// ggml's block_q8_0, the same 34 bytes as a Q8_0 weight block.
struct BlockQ8_0 {
    std::uint16_t d;     // f16 bits of the scale
    std::int8_t qs[32];  // (32) value i is qs[i] * d
};
static_assert(sizeof(BlockQ8_0) == 34);

// ggml's block_q8_K (292 bytes).
struct BlockQ8_K {
    float d;                 // the scale (negative when the largest-magnitude value is positive)
    std::int8_t qs[256];     // (256) value i is qs[i] * d
    std::int16_t bsums[16];  // (16) bsums[j] = qs[16j] + ... + qs[16j + 15], for the mins' term
};
static_assert(sizeof(BlockQ8_K) == 292);

// x (n) -> y (n / 32 blocks). False, writing nothing, when n is negative or not a multiple of 32.
bool quantizeRowQ8_0(const float* x, std::int64_t n, BlockQ8_0* y);
// x (n) -> y (n / 256 blocks). False, writing nothing, when n is not a multiple of 256.
bool quantizeRowQ8_K(const float* x, std::int64_t n, BlockQ8_K* y);

}  // namespace kvscope
