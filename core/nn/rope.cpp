#include "nn/rope.h"

#include <cmath>

namespace kvscope {

RopeTable::RopeTable(int positions, int headDim, double theta) : headDim_(headDim) {
    const int pairs = headDim / 2;
    cos_.resize(std::size_t(positions) * pairs);
    sin_.resize(cos_.size());
    for (int i = 0; i < pairs; ++i) {
        const double frequency = std::pow(theta, -2.0 * i / headDim);
        for (int p = 0; p < positions; ++p) {
            const double angle = p * frequency;
            cos_[std::size_t(p) * pairs + i] = float(std::cos(angle));
            sin_[std::size_t(p) * pairs + i] = float(std::sin(angle));
        }
    }
}

void RopeTable::rotate(float* row, int heads, int position, RopePairing pairing,
                       FlopBreakdown& f) const {
    const int pairs = headDim_ / 2;
    const float* c = cos_.data() + std::size_t(position) * pairs;
    const float* s = sin_.data() + std::size_t(position) * pairs;
    // Pair i is (first + i * step, first + i * step + offset).
    const int step = pairing == RopePairing::Adjacent ? 2 : 1;
    const int offset = pairing == RopePairing::Adjacent ? 1 : pairs;
    for (int h = 0; h < heads; ++h) {
        float* x = row + std::size_t(h) * headDim_;
        for (int i = 0; i < pairs; ++i) {
            float& a = x[i * step];
            float& b = x[i * step + offset];
            const float a0 = a, b0 = b;
            a = a0 * c[i] - b0 * s[i];
            b = a0 * s[i] + b0 * c[i];
        }
    }
    f.other += kRopeFlopsPerElement * std::int64_t(heads) * headDim_;
}

}  // namespace kvscope
