#include "tensor/dot_reference.h"

#include "formats/safetensors.h"
#include "tensor/dequantize.h"
#include "tensor/quant_blocks.h"

#include <algorithm>
#include <array>

namespace kvscope {
namespace {

bool hasOffset(GgmlType t) {
    return t == GgmlType::Q4_1 || t == GgmlType::Q5_1;
}

bool hasMins(GgmlType t) {
    return t == GgmlType::Q2_K || t == GgmlType::Q4_K || t == GgmlType::Q5_K;
}

// sum_s scale_s * sum_{i in s} q_w[i] * q_a[i] over one block.
int scaledIntegerDot(const UnpackedBlock& w, const std::int8_t* qa) {
    int total = 0;
    for (int s = 0; s < w.size / w.subBlockSize; ++s) {
        int sum = 0;
        for (int i = s * w.subBlockSize; i < (s + 1) * w.subBlockSize; ++i) sum += w.q[i] * qa[i];
        total += w.scale[s] * sum;
    }
    return total;
}

}  // namespace

std::optional<GgmlType> activationTypeFor(GgmlType weight) {
    switch (weight) {
        case GgmlType::Q4_0:
        case GgmlType::Q4_1:
        case GgmlType::Q5_0:
        case GgmlType::Q5_1:
        case GgmlType::Q8_0:
            return GgmlType::Q8_0;
        case GgmlType::Q2_K:
        case GgmlType::Q3_K:
        case GgmlType::Q4_K:
        case GgmlType::Q5_K:
        case GgmlType::Q6_K:
            return GgmlType::Q8_K;
        default:
            return std::nullopt;
    }
}

std::optional<double> dotFloatReference(GgmlType type, const std::uint8_t* row, const float* x,
                                        std::int64_t n) {
    const GgmlTypeTraits t = ggmlTypeTraits(type);
    if (!t.supported || n < 0 || n % t.blockSize != 0) return std::nullopt;
    // Dequantize 256 values at a time (a whole number of blocks of every type).
    std::array<float, kQK_K> w;  // (kQK_K)
    double sum = 0.0;
    for (std::int64_t start = 0; start < n; start += kQK_K) {
        const std::int64_t count = std::min<std::int64_t>(kQK_K, n - start);
        const std::int64_t offset = start / t.blockSize * t.blockBytes;
        dequantizeRow(type, row + offset, count, w.data());
        for (std::int64_t i = 0; i < count; ++i) sum += double(w[i]) * double(x[start + i]);
    }
    return sum;
}

std::optional<double> dotQ8_0Reference(GgmlType type, const std::uint8_t* row, const BlockQ8_0* x,
                                       std::int64_t n) {
    if (activationTypeFor(type) != GgmlType::Q8_0 || n < 0 || n % 32 != 0) return std::nullopt;
    const int blockBytes = ggmlTypeTraits(type).blockBytes;
    UnpackedBlock w;
    double sum = 0.0;
    for (std::int64_t b = 0; b < n / 32; ++b) {
        unpackBlock(type, row + b * blockBytes, w);
        const float da = halfToFloat(x[b].d);
        sum += double(w.d * da) * scaledIntegerDot(w, x[b].qs);
        if (hasOffset(type)) {
            int sumA = 0;
            for (int i = 0; i < 32; ++i) sumA += x[b].qs[i];
            sum += double(w.dmin * da) * sumA;
        }
    }
    return sum;
}

std::optional<double> dotQ8_KReference(GgmlType type, const std::uint8_t* row, const BlockQ8_K* x,
                                       std::int64_t n) {
    if (activationTypeFor(type) != GgmlType::Q8_K || n < 0 || n % kQK_K != 0) return std::nullopt;
    const int blockBytes = ggmlTypeTraits(type).blockBytes;
    UnpackedBlock w;
    double sum = 0.0;
    for (std::int64_t b = 0; b < n / kQK_K; ++b) {
        unpackBlock(type, row + b * blockBytes, w);
        sum += double(w.d * x[b].d) * scaledIntegerDot(w, x[b].qs);
        if (hasMins(type)) {
            // A sub-block of 16 values has one bsum, one of 32 values two.
            const int sumsPerSub = w.subBlockSize / 16;
            int minSum = 0;
            for (int s = 0; s < w.size / w.subBlockSize; ++s)
                for (int k = 0; k < sumsPerSub; ++k)
                    minSum += w.min[s] * x[b].bsums[s * sumsPerSub + k];
            sum -= double(w.dmin * x[b].d) * minSum;
        }
    }
    return sum;
}

}  // namespace kvscope
