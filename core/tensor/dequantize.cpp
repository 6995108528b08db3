#include "tensor/dequantize.h"

#include "formats/safetensors.h"
#include "tensor/quant_blocks.h"

#include <cstring>

// Built with -ffp-contract=off (core/CMakeLists.txt): a fused multiply-add would round
// (d*sc)*q - dmin*m once instead of three times and break the bit-exact match with ggml.

namespace kvscope {
namespace {

// y = the block's values, in each format's operation order (ggml's dequantize_row_*).
void dequantizeBlock(GgmlType type, const UnpackedBlock& b, float* y) {
    switch (type) {
        case GgmlType::Q4_0:
        case GgmlType::Q5_0:
        case GgmlType::Q8_0:
            for (int i = 0; i < b.size; ++i) y[i] = float(b.q[i]) * b.d;
            break;
        case GgmlType::Q4_1:
        case GgmlType::Q5_1:
            for (int i = 0; i < b.size; ++i) y[i] = float(b.q[i]) * b.d + b.dmin;
            break;
        case GgmlType::Q2_K:
        case GgmlType::Q4_K:
        case GgmlType::Q5_K:
            for (int i = 0; i < b.size; ++i) {
                const int s = i / b.subBlockSize;
                const float dl = b.d * float(b.scale[s]);
                const float ml = b.dmin * float(b.min[s]);
                y[i] = dl * float(b.q[i]) - ml;
            }
            break;
        default:  // Q3_K, Q6_K: no mins
            for (int i = 0; i < b.size; ++i) {
                const float dl = b.d * float(b.scale[i / b.subBlockSize]);
                y[i] = dl * float(b.q[i]);
            }
            break;
    }
}

std::uint16_t loadU16(const std::uint8_t* p) {
    return static_cast<std::uint16_t>(p[0] | p[1] << 8);
}

std::uint32_t loadU32(const std::uint8_t* p) {
    return std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 | std::uint32_t(p[2]) << 16 |
           std::uint32_t(p[3]) << 24;
}

}  // namespace

bool dequantizeRow(GgmlType type, const std::uint8_t* src, std::int64_t n, float* dst) {
    const GgmlTypeTraits t = ggmlTypeTraits(type);
    if (!t.supported || n < 0 || n % t.blockSize != 0) return false;
    switch (type) {
        case GgmlType::F32:
            // By the bits, so NaN payloads survive.
            for (std::int64_t i = 0; i < n; ++i) {
                const std::uint32_t bits = loadU32(src + 4 * i);
                std::memcpy(dst + i, &bits, sizeof bits);
            }
            return true;
        case GgmlType::F16:
            for (std::int64_t i = 0; i < n; ++i) dst[i] = halfToFloat(loadU16(src + 2 * i));
            return true;
        case GgmlType::BF16:
            for (std::int64_t i = 0; i < n; ++i) dst[i] = bfloat16ToFloat(loadU16(src + 2 * i));
            return true;
        default:
            break;
    }
    UnpackedBlock block;
    for (std::int64_t b = 0; b < n / t.blockSize; ++b) {
        unpackBlock(type, src + b * t.blockBytes, block);
        dequantizeBlock(type, block, dst + b * t.blockSize);
    }
    return true;
}

}  // namespace kvscope
