#include "tensor/quant_dot_avx.h"

#include "tensor/dot_reference.h"
#include "tensor/quant_blocks.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#define KVSCOPE_QUANT_AVX2 1
#include <immintrin.h>
#endif

namespace kvscope {

#if KVSCOPE_QUANT_AVX2
namespace {

float f16At(const std::uint8_t* p) {
    return _cvtsh_ss(static_cast<unsigned short>(p[0] | p[1] << 8));
}

__m256i load32(const void* p) {
    return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

float horizontalSum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// 32 signed bytes times 32 signed bytes, as 8 int32 partial sums. maddubs multiplies unsigned by
// signed bytes, so the weight's sign moves onto the activation (|-128| reads as 128 unsigned).
// Pairs stay within int16: 2 * 128 * 127 < 32767.
__m256i dotBytes(__m256i w, __m256i a) {
    const __m256i pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w));
    return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
}

}  // namespace

bool quantDotUsesAvx2() {
    return true;
}

float dotQ8_0Q8_0(const std::uint8_t* row, const BlockQ8_0* x, std::int64_t n) {
    __m256 acc = _mm256_setzero_ps();  // (8) float lanes
    for (std::int64_t b = 0; b < n / 32; ++b) {
        const std::uint8_t* w = row + 34 * b;  // f16 d, then 32 int8
        const float scale = f16At(w) * _cvtsh_ss(x[b].d);
        const __m256i sums = dotBytes(load32(w + 2), load32(x[b].qs));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(scale), _mm256_cvtepi32_ps(sums), acc);
    }
    return horizontalSum(acc);
}

float dotQ4_KQ8_K(const std::uint8_t* row, const BlockQ8_K* x, std::int64_t n) {
    const __m256i lowNibble = _mm256_set1_epi8(0x0F);
    __m256 acc = _mm256_setzero_ps();  // (8) the scaled integer sums
    float minTerms = 0.0f;             // sum over blocks of dmin * sum_s m_s * (sum of a over s)
    for (std::int64_t b = 0; b < n / 256; ++b) {
        const std::uint8_t* w = row + 144 * b;  // d, dmin, 12 scale bytes, 128 nibble bytes
        const BlockQ8_K& a = x[b];
        std::uint8_t sc[8], mn[8];
        unpackKScalesMins(w + 4, sc, mn);
        int minSum = 0;
        for (int j = 0; j < 8; ++j) minSum += mn[j] * (a.bsums[2 * j] + a.bsums[2 * j + 1]);
        minTerms += f16At(w + 2) * a.d * float(minSum);

        __m256i sumi = _mm256_setzero_si256();  // (8) int32
        for (int g = 0; g < 4; ++g) {
            // 32 bytes hold values 64g + l (low nibbles, sub-block 2g) and 64g + 32 + l (high
            // nibbles, sub-block 2g + 1). Nibbles are unsigned, activations signed: maddubs.
            const __m256i q4 = load32(w + 16 + 32 * g);
            const __m256i lo = _mm256_and_si256(q4, lowNibble);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q4, 4), lowNibble);
            const __m256i pLo = _mm256_maddubs_epi16(lo, load32(a.qs + 64 * g));
            const __m256i pHi = _mm256_maddubs_epi16(hi, load32(a.qs + 64 * g + 32));
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(pLo, _mm256_set1_epi16(sc[2 * g])));
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(pHi, _mm256_set1_epi16(sc[2 * g + 1])));
        }
        const float d = f16At(w) * a.d;
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    return horizontalSum(acc) - minTerms;
}

float dotQ6_KQ8_K(const std::uint8_t* row, const BlockQ8_K* x, std::int64_t n) {
    const __m256i lowNibble = _mm256_set1_epi8(0x0F), twoBits = _mm256_set1_epi8(0x03);
    __m256 acc = _mm256_setzero_ps();  // (8)
    float offsetTerms = 0.0f;          // the -32 of every quant, applied through bsums
    for (std::int64_t b = 0; b < n / 256; ++b) {
        const std::uint8_t* w = row + 210 * b;  // ql[128], qh[64], int8 scales[16], f16 d
        const auto* sc = reinterpret_cast<const std::int8_t*>(w + 192);
        const BlockQ8_K& a = x[b];
        const float d = f16At(w + 208) * a.d;
        // q - 32 times a, summed: the unsigned 6-bit q goes through maddubs, and
        // 32 * sum_s sc_s * (sum of a over s) is taken off once.
        int offsetSum = 0;
        for (int s = 0; s < 16; ++s) offsetSum += sc[s] * a.bsums[s];
        offsetTerms += d * float(32 * offsetSum);

        __m256i sumi = _mm256_setzero_si256();  // (8) int32
        for (int h = 0; h < 2; ++h) {
            const __m256i l1 = load32(w + 64 * h), l2 = load32(w + 64 * h + 32);
            const __m256i hb = load32(w + 128 + 32 * h);
            auto high = [&](int shift) {  // bits shift..shift+1 of qh, moved to bits 4-5
                return _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, shift), twoBits),
                                         4);
            };
            const __m256i q[4] = {
                // values 128h + 32k + l, k = 0..3, as unsigned 0..63
                _mm256_or_si256(_mm256_and_si256(l1, lowNibble), high(0)),
                _mm256_or_si256(_mm256_and_si256(l2, lowNibble), high(2)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), lowNibble), high(4)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l2, 4), lowNibble), high(6)),
            };
            for (int k = 0; k < 4; ++k) {
                // int16 lanes 0-7 hold sub-block s = 8h + 2k, lanes 8-15 sub-block s + 1.
                const int s = 8 * h + 2 * k;
                const __m256i pairs = _mm256_maddubs_epi16(q[k], load32(a.qs + 128 * h + 32 * k));
                const __m256i scales =
                    _mm256_set_m128i(_mm_set1_epi16(sc[s + 1]), _mm_set1_epi16(sc[s]));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(pairs, scales));
            }
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    return horizontalSum(acc) - offsetTerms;
}

#else  // no AVX2: the scalar reference

bool quantDotUsesAvx2() {
    return false;
}

float dotQ8_0Q8_0(const std::uint8_t* row, const BlockQ8_0* x, std::int64_t n) {
    return float(dotQ8_0Reference(GgmlType::Q8_0, row, x, n).value_or(0.0));
}
float dotQ4_KQ8_K(const std::uint8_t* row, const BlockQ8_K* x, std::int64_t n) {
    return float(dotQ8_KReference(GgmlType::Q4_K, row, x, n).value_or(0.0));
}
float dotQ6_KQ8_K(const std::uint8_t* row, const BlockQ8_K* x, std::int64_t n) {
    return float(dotQ8_KReference(GgmlType::Q6_K, row, x, n).value_or(0.0));
}

#endif

}  // namespace kvscope
