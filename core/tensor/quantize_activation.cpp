#include "tensor/quantize_activation.h"

#include <Eigen/Core>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

// Built with -ffp-contract=off (core/CMakeLists.txt): iscale*x + 12582912 must round twice, as
// in ggml, not once as a fused multiply-add.

namespace kvscope {
namespace {

// Round half to even for |v| < 2^22, by ggml's trick: adding 1.5 * 2^23 leaves the rounded
// integer in the low mantissa bits. Defined for every float (no float-to-int conversion).
int nearestInt(float v) {
    const float shifted = v + 12582912.0f;
    return static_cast<int>(std::bit_cast<std::uint32_t>(shifted) & 0x007FFFFFu) - 0x00400000;
}

std::uint16_t toF16Bits(float v) {
    return Eigen::numext::bit_cast<std::uint16_t>(Eigen::half(v));  // round to nearest even
}

}  // namespace

bool quantizeRowQ8_0(const float* x, std::int64_t n, BlockQ8_0* y) {
    if (n < 0 || n % 32 != 0) return false;
    for (std::int64_t b = 0; b < n / 32; ++b) {
        const float* xb = x + 32 * b;  // (32)
        float amax = 0.0f;
        for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(xb[i]));
        y[b].d = toF16Bits(amax / 127.0f);
        const float inverse = amax != 0.0f ? 127.0f / amax : 0.0f;
        for (int i = 0; i < 32; ++i) {
            // fmin/fmax keep a NaN from reaching the conversion; finite values are within +-127.
            const float v = std::fmin(std::fmax(std::nearbyint(xb[i] * inverse), -127.0f), 127.0f);
            y[b].qs[i] = static_cast<std::int8_t>(v);
        }
    }
    return true;
}

bool quantizeRowQ8_K(const float* x, std::int64_t n, BlockQ8_K* y) {
    if (n < 0 || n % 256 != 0) return false;
    for (std::int64_t b = 0; b < n / 256; ++b) {
        const float* xb = x + 256 * b;  // (256)
        BlockQ8_K& out = y[b];
        float amax = 0.0f, max = 0.0f;  // largest magnitude, and that value with its sign
        for (int i = 0; i < 256; ++i) {
            if (std::fabs(xb[i]) > amax) {
                amax = std::fabs(xb[i]);
                max = xb[i];
            }
        }
        if (amax == 0.0f) {
            std::memset(&out, 0, sizeof out);
            continue;
        }
        const float iscale = -127.0f / max;
        for (int i = 0; i < 256; ++i)
            out.qs[i] = static_cast<std::int8_t>(std::clamp(nearestInt(iscale * xb[i]), -128, 127));
        for (int j = 0; j < 16; ++j) {
            int sum = 0;
            for (int i = 0; i < 16; ++i) sum += out.qs[16 * j + i];
            out.bsums[j] = static_cast<std::int16_t>(sum);
        }
        out.d = 1.0f / iscale;
    }
    return true;
}

}  // namespace kvscope
