#include "tensor/quant_blocks.h"

#include "formats/safetensors.h"

namespace kvscope {

float loadF16(const std::uint8_t* p) {
    return halfToFloat(static_cast<std::uint16_t>(p[0] | p[1] << 8));
}

void unpackKScalesMins(const std::uint8_t* sc, std::uint8_t scales[8], std::uint8_t mins[8]) {
    for (int j = 0; j < 8; ++j) {
        if (j < 4) {
            scales[j] = sc[j] & 63;
            mins[j] = sc[j + 4] & 63;
        } else {
            scales[j] = static_cast<std::uint8_t>((sc[j + 4] & 0xF) | (sc[j - 4] >> 6) << 4);
            mins[j] = static_cast<std::uint8_t>((sc[j + 4] >> 4) | (sc[j] >> 6) << 4);
        }
    }
}

namespace {

std::uint32_t loadU32(const std::uint8_t* p) {
    return std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 | std::uint32_t(p[2]) << 16 |
           std::uint32_t(p[3]) << 24;
}

// Q4_0 / Q4_1 / Q5_0 / Q5_1: byte j of qs holds values j (low nibble) and j + 16 (high).
// highBits: Q5's qh (bit i is value i's fifth bit), 0 for Q4; offset: 8, 16 or 0.
void unpackNibbles32(const std::uint8_t* qs, std::uint32_t highBits, int offset,
                     UnpackedBlock& out) {
    for (int j = 0; j < 16; ++j) {
        const int lo = qs[j] & 0xF, hi = qs[j] >> 4;
        const int fifthLo = (highBits >> j) & 1, fifthHi = (highBits >> (j + 16)) & 1;
        out.q[j] = static_cast<std::int8_t>((lo | fifthLo << 4) - offset);
        out.q[j + 16] = static_cast<std::int8_t>((hi | fifthHi << 4) - offset);
    }
}

void unpackSmall(GgmlType type, const std::uint8_t* b, UnpackedBlock& out) {
    out.size = out.subBlockSize = 32;
    out.scale[0] = 1;
    out.d = loadF16(b);
    switch (type) {
        case GgmlType::Q4_0:
            unpackNibbles32(b + 2, 0, 8, out);
            break;
        case GgmlType::Q4_1:
            out.dmin = loadF16(b + 2);
            unpackNibbles32(b + 4, 0, 0, out);
            break;
        case GgmlType::Q5_0:
            unpackNibbles32(b + 6, loadU32(b + 2), 16, out);
            break;
        case GgmlType::Q5_1:
            out.dmin = loadF16(b + 2);
            unpackNibbles32(b + 8, loadU32(b + 4), 0, out);
            break;
        default:  // Q8_0
            for (int i = 0; i < 32; ++i) out.q[i] = static_cast<std::int8_t>(b[2 + i]);
            break;
    }
}

// Q2_K and Q3_K's low bits: value 128h + 32j + l is bits 2j..2j+1 of qs[32h + l].
int twoBits(const std::uint8_t* qs, int i) {
    const int h = i / 128, j = (i % 128) / 32, l = i % 32;
    return (qs[32 * h + l] >> (2 * j)) & 3;
}

void unpackQ2K(const std::uint8_t* b, UnpackedBlock& out) {
    out.size = kQK_K;
    const std::uint8_t* scales = b;   // 16
    const std::uint8_t* qs = b + 16;  // 64
    out.subBlockSize = 16;
    for (int s = 0; s < 16; ++s) {
        out.scale[s] = scales[s] & 0xF;
        out.min[s] = scales[s] >> 4;
    }
    for (int i = 0; i < kQK_K; ++i) out.q[i] = static_cast<std::int8_t>(twoBits(qs, i));
    out.d = loadF16(b + 80);
    out.dmin = loadF16(b + 82);
}

void unpackQ3K(const std::uint8_t* b, UnpackedBlock& out) {
    out.size = kQK_K;
    const std::uint8_t* hmask = b;    // 32
    const std::uint8_t* qs = b + 32;  // 64
    const std::uint8_t* sc = b + 96;  // 12
    out.subBlockSize = 16;
    for (int k = 0; k < 16; ++k) {
        const int low = k < 8 ? sc[k] & 0xF : sc[k - 8] >> 4;
        const int high = (sc[8 + k % 4] >> (2 * (k / 4))) & 3;
        out.scale[k] = static_cast<std::int16_t>((low | high << 4) - 32);
    }
    for (int i = 0; i < kQK_K; ++i) {
        const int h = i / 128, j = (i % 128) / 32, l = i % 32;
        const bool highBit = (hmask[l] >> (4 * h + j)) & 1;
        out.q[i] = static_cast<std::int8_t>(twoBits(qs, i) - (highBit ? 0 : 4));
    }
    out.d = loadF16(b + 108);
}

void unpackScalesMins12(const std::uint8_t* sc, UnpackedBlock& out) {
    std::uint8_t scales[8], mins[8];
    unpackKScalesMins(sc, scales, mins);
    for (int j = 0; j < 8; ++j) {
        out.scale[j] = scales[j];
        out.min[j] = mins[j];
    }
}

// Q4_K (qh null) and Q5_K: value 64g + 32hi + l is nibble hi of qs[32g + l], fifth bit
// 2g + hi of qh[l].
void unpackQ4Q5K(const std::uint8_t* b, const std::uint8_t* qh, const std::uint8_t* qs,
                 UnpackedBlock& out) {
    out.size = kQK_K;
    out.subBlockSize = 32;
    out.d = loadF16(b);
    out.dmin = loadF16(b + 2);
    unpackScalesMins12(b + 4, out);
    for (int i = 0; i < kQK_K; ++i) {
        const int g = i / 64, hi = (i % 64) / 32, l = i % 32;
        int q = (qs[32 * g + l] >> (4 * hi)) & 0xF;
        if (qh) q |= ((qh[l] >> (2 * g + hi)) & 1) << 4;
        out.q[i] = static_cast<std::int8_t>(q);
    }
}

void unpackQ6K(const std::uint8_t* b, UnpackedBlock& out) {
    out.size = kQK_K;
    const std::uint8_t* ql = b;        // 128
    const std::uint8_t* qh = b + 128;  // 64
    const std::uint8_t* sc = b + 192;  // 16, int8
    out.subBlockSize = 16;
    for (int s = 0; s < 16; ++s) out.scale[s] = static_cast<std::int8_t>(sc[s]);
    for (int i = 0; i < kQK_K; ++i) {
        const int h = i / 128, k = (i % 128) / 32, l = i % 32;
        const int low = (ql[64 * h + l + 32 * (k % 2)] >> (4 * (k / 2))) & 0xF;
        const int high = (qh[32 * h + l] >> (2 * k)) & 3;
        out.q[i] = static_cast<std::int8_t>((low | high << 4) - 32);
    }
    out.d = loadF16(b + 208);
}

}  // namespace

bool unpackBlock(GgmlType type, const std::uint8_t* block, UnpackedBlock& out) {
    UnpackedBlock u;
    switch (type) {
        case GgmlType::Q4_0:
        case GgmlType::Q4_1:
        case GgmlType::Q5_0:
        case GgmlType::Q5_1:
        case GgmlType::Q8_0:
            unpackSmall(type, block, u);
            break;
        case GgmlType::Q2_K:
            unpackQ2K(block, u);
            break;
        case GgmlType::Q3_K:
            unpackQ3K(block, u);
            break;
        case GgmlType::Q4_K:
            unpackQ4Q5K(block, nullptr, block + 16, u);
            break;
        case GgmlType::Q5_K:
            unpackQ4Q5K(block, block + 16, block + 48, u);
            break;
        case GgmlType::Q6_K:
            unpackQ6K(block, u);
            break;
        default:
            return false;
    }
    out = u;
    return true;
}

}  // namespace kvscope
