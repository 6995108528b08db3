#pragma once
// Scalar reference dot products of one quantized weight row with an activation vector: what the
// fast matrix-vector kernels are tested against. Written for obviousness, not speed.
//
// (a) Float activations: sum_i w_i * x_i, where w_i are exactly dequantizeRow's float32 values;
//     products and sum in double, so the result is the exact dot of those floats up to the
//     double sum's rounding.
// (b) Quantized activations (quantize_activation.h), per block in integers then scaled, as
//     llama.cpp's ggml_vec_dot_<type>_q8_<0|K> define it:
//       Q4_0, Q5_0, Q8_0:  (d_w * d_a) * sum q_w q_a
//       Q4_1, Q5_1:        (d_w * d_a) * sum q_w q_a + (m_w * d_a) * sum q_a
//       Q2_K, Q4_K, Q5_K:  (d_w * d_a) * sum_s sc_s sum_{i in s} q_w q_a
//                          - (dmin_w * d_a) * sum_s m_s * (sum of q_a over sub-block s, from bsums)
//       Q3_K, Q6_K:        (d_w * d_a) * sum_s sc_s sum_{i in s} q_w q_a
//     The integer sums are exact (int32 cannot overflow: at most 256 * 128 * 32 * 128 = 2^27);
//     each scale product (d_w * d_a etc.) is one float32 product, as in ggml; block terms are
//     summed in double. ggml's Q4_1 and Q5_1 take Q8_1 activations, whose precomputed
//     s = d_a * sum q_a is rounded to f16; here the sum is taken from the int8 values instead.

#include "tensor/ggml_type.h"
#include "tensor/quantize_activation.h"

#include <cstdint>
#include <optional>

namespace kvscope {

// The activation type a weight type's integer dot product takes: Q8_0 for Q4_0, Q4_1, Q5_0,
// Q5_1 and Q8_0; Q8_K for Q2_K .. Q6_K; nullopt for the float types and anything else.
std::optional<GgmlType> activationTypeFor(GgmlType weight);

// (a) Row of n values of a supported type (`row` unaligned) with float x (n). nullopt when the
// type is not supported or n is not a multiple of its block size.
std::optional<double> dotFloatReference(GgmlType type, const std::uint8_t* row, const float* x,
                                        std::int64_t n);

// (b) Row of n values with x (n / 32 Q8_0 blocks). nullopt unless activationTypeFor(type) is
// Q8_0 and n is a multiple of 32.
std::optional<double> dotQ8_0Reference(GgmlType type, const std::uint8_t* row, const BlockQ8_0* x,
                                       std::int64_t n);

// (b) Row of n values with x (n / 256 Q8_K blocks). nullopt unless activationTypeFor(type) is
// Q8_K and n is a multiple of 256.
std::optional<double> dotQ8_KReference(GgmlType type, const std::uint8_t* row, const BlockQ8_K* x,
                                       std::int64_t n);

}  // namespace kvscope
