#pragma once
// Where each value of a quantized block lives: the byte layout of the ggml block types, read
// into plain integers. This file is the one place that knows the bit packing; dequantize.cpp
// turns the integers into floats with each format's formula and dot_reference.cpp multiplies
// them with quantized activations.
//
// Block layouts (byte offsets; every multi-byte field little-endian; "f16" is IEEE binary16).
// Value i of a block is written y[i]; q[i] is its integer quant.
//
// Q4_0, 32 values, 18 bytes          y = (q - 8) * d
//   0  f16  d
//   2  u8   qs[16]   byte j: q[j] in the low nibble, q[j+16] in the high nibble
// Q4_1, 32 values, 20 bytes          y = q * d + m
//   0  f16  d
//   2  f16  m
//   4  u8   qs[16]   as Q4_0
// Q5_0, 32 values, 22 bytes          y = (q - 16) * d, q = nibble | fifth bit << 4
//   0  f16  d
//   2  u32  qh       bit i: the fifth bit of q[i]
//   6  u8   qs[16]   low nibbles, as Q4_0
// Q5_1, 32 values, 24 bytes          y = q * d + m
//   0  f16  d
//   2  f16  m
//   4  u32  qh       as Q5_0
//   8  u8   qs[16]   as Q4_0
// Q8_0, 32 values, 34 bytes          y = q * d
//   0  f16  d
//   2  i8   qs[32]
//
// The K-quants: super-blocks of 256 values in sub-blocks of 16 or 32 values, each sub-block
// with an integer scale (and min) that multiplies the super-block's float scale d (and dmin).
// Q2_K, 84 bytes, 16 sub-blocks of 16   y = (d * sc) * q - (dmin * m), q 0..3
//   0  u8   scales[16]  sub-block s: sc in the low nibble, m in the high nibble
//  16  u8   qs[64]      value 128h + 32j + l (h < 2, j < 4, l < 32): bits 2j..2j+1 of
//                       qs[32h + l]; sub-block = value / 16
//  80  f16  d
//  82  f16  dmin
// Q3_K, 110 bytes, 16 sub-blocks of 16  y = (d * sc) * q, q -4..3, sc -32..31
//   0  u8   hmask[32]   value 128h + 32j + l: bit 4h + j of hmask[l] set means q = low bits,
//                       clear means q = low bits - 4
//  32  u8   qs[64]      low 2 bits, placed as Q2_K's
//  96  u8   scales[12]  16 6-bit scales stored + 32: low 4 bits of scale k in the low (k < 8)
//                       or high (k >= 8) nibble of byte k % 8; top 2 bits in bits
//                       2(k/4)..2(k/4)+1 of byte 8 + k % 4
// 108  f16  d
// Q4_K, 144 bytes, 8 sub-blocks of 32   y = (d * sc) * q - (dmin * m), q 0..15, sc, m 0..63
//   0  f16  d
//   2  f16  dmin
//   4  u8   scales[12]  sub-block j < 4: sc = byte j & 63, m = byte j+4 & 63; j >= 4: low 4
//                       bits from byte j+4 (sc low nibble, m high nibble), top 2 bits from the
//                       top 2 bits of byte j-4 (sc) or byte j (m)
//  16  u8   qs[128]     value 64g + 32hi + l (g < 4, hi < 2, l < 32): nibble hi of qs[32g + l];
//                       sub-block = value / 32
// Q5_K, 176 bytes, 8 sub-blocks of 32   y = (d * sc) * q - (dmin * m), q 0..31
//   0  f16  d
//   2  f16  dmin
//   4  u8   scales[12]  as Q4_K
//  16  u8   qh[32]      value 64g + 32hi + l: fifth bit is bit 2g + hi of qh[l]
//  48  u8   qs[128]     low nibbles, as Q4_K
// Q6_K, 210 bytes, 16 sub-blocks of 16  y = (d * sc) * q, q -32..31, sc -128..127
//   0  u8   ql[128]     value 128h + 32k + l (h < 2, k < 4, l < 32): low 4 bits are the low
//                       (k < 2) or high (k >= 2) nibble of ql[64h + l + 32(k % 2)]
// 128  u8   qh[64]      its bits 4-5 are bits 2k..2k+1 of qh[32h + l]; q = 6 bits - 32
// 192  i8   scales[16]  sub-block = value / 16
// 208  f16  d
//
// Sources for the layouts: ggml's ggml-common.h (block_* structs) and the reference
// dequantize_row_* functions in ggml-quants.c.

#include "tensor/ggml_type.h"

#include <array>
#include <cstdint>

namespace kvscope {

// The integers of one block and its float scales.
struct UnpackedBlock {
    int size = 0;          // values in the block: 32 or 256
    int subBlockSize = 0;  // values sharing one integer scale: 16, 32, or the whole block
    // (size) the quants centred as the format defines them: Q4_0 -8..7, Q5_0 -16..15, Q8_0
    // -128..127, Q4_1 0..15, Q5_1 0..31, Q2_K 0..3, Q3_K -4..3, Q4_K 0..15, Q5_K 0..31,
    // Q6_K -32..31
    std::array<std::int8_t, kQK_K> q{};
    // (size / subBlockSize) integer scale per sub-block: Q2_K 0..15, Q3_K -32..31, Q4_K and
    // Q5_K 0..63, Q6_K -128..127; 1 for the 32-value types
    std::array<std::int16_t, 16> scale{};
    // (size / subBlockSize) integer min per sub-block: Q2_K 0..15, Q4_K and Q5_K 0..63; else 0
    std::array<std::int16_t, 16> min{};
    float d = 0;     // the block's scale
    float dmin = 0;  // Q2_K, Q4_K, Q5_K: scale of the mins; Q4_1, Q5_1: the offset m; else 0
};

// Reads one block of a quantized type (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K .. Q6_K; `block`
// needs no alignment). False, with `out` untouched, for any other type.
bool unpackBlock(GgmlType type, const std::uint8_t* block, UnpackedBlock& out);

// The f16 at p, little-endian, as float (exact, NaN payloads kept).
float loadF16(const std::uint8_t* p);

// Q4_K and Q5_K's 8 6-bit sub-block scales and 8 6-bit mins from their 12 bytes.
void unpackKScalesMins(const std::uint8_t* packed, std::uint8_t scales[8], std::uint8_t mins[8]);

}  // namespace kvscope
