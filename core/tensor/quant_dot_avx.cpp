#include "tensor/quant_dot_avx.h"

#include "tensor/dot_reference.h"
#include "tensor/quant_blocks.h"

#include <cstring>

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

// 32 signed bytes times 32 signed bytes, as 8 int32 partial sums. The byte products take an
// unsigned first operand, so the weight's sign moves onto the activation (|-128| reads as 128
// unsigned). With VNNI one instruction sums groups of four; otherwise maddubs sums pairs to
// int16 (2 * 128 * 127 < 32767, no saturation) and madd widens them.
__m256i dotBytes(__m256i w, __m256i a) {
    const __m256i absW = _mm256_sign_epi8(w, w), signedA = _mm256_sign_epi8(a, w);
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), absW, signedA);
#elif defined(__AVXVNNI__)
    return _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), absW, signedA);
#else
    return _mm256_madd_epi16(_mm256_maddubs_epi16(absW, signedA), _mm256_set1_epi16(1));
#endif
}

}  // namespace

bool quantDotUsesAvx2() {
    return true;
}

// One block's scaled integer sums added into acc (8 float lanes).
inline __m256 q8_0Block(const std::uint8_t* w, const BlockQ8_0& a, __m256 acc) {
    const float scale = f16At(w) * _cvtsh_ss(a.d);  // w: f16 d, then 32 int8
    const __m256i sums = dotBytes(load32(w + 2), load32(a.qs));
    return _mm256_fmadd_ps(_mm256_set1_ps(scale), _mm256_cvtepi32_ps(sums), acc);
}

float dotQ8_0Q8_0(const std::uint8_t* row, const BlockQ8_0* x, std::int64_t n) {
    // Four accumulators: with one, every block waited for the previous block's multiply-add
    // (4 cycles for 34 bytes), which held a decode step to about half the memory's speed.
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                     _mm256_setzero_ps()};
    const std::int64_t blocks = n / 32;
    std::int64_t b = 0;
    for (; b + 4 <= blocks; b += 4)
        for (int k = 0; k < 4; ++k) acc[k] = q8_0Block(row + 34 * (b + k), x[b + k], acc[k]);
    for (; b < blocks; ++b) acc[0] = q8_0Block(row + 34 * b, x[b], acc[0]);
    return horizontalSum(
        _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
}

namespace {

// The 8 scales and 8 mins of a Q4_K block (quant_blocks.h's layout, four bytes at a time):
// bytes 0-7 of the result are the scales, bytes 8-15 the mins.
__m128i q4kScalesMins(const std::uint8_t* packed) {
    std::uint32_t u[3];
    std::memcpy(u, packed, 12);
    const std::uint32_t low6 = 0x3F3F3F3F, low4 = 0x0F0F0F0F, low2 = 0x03030303;
    const std::uint32_t scales03 = u[0] & low6, mins03 = u[1] & low6;
    const std::uint32_t scales47 = (u[2] & low4) | ((u[0] >> 6) & low2) << 4;
    const std::uint32_t mins47 = ((u[2] >> 4) & low4) | ((u[1] >> 6) & low2) << 4;
    return _mm_set_epi32(int(mins47), int(mins03), int(scales47), int(scales03));
}

// A shuffle_epi8 mask that fills the low 128-bit lane with its int16 element `low` and the high
// lane with its int16 element `high`.
__m256i broadcast16Mask(int low, int high) {
    alignas(32) char m[32];
    for (int i = 0; i < 32; i += 2) {
        const int e = i < 16 ? low : high;
        m[i] = char(2 * e);
        m[i + 1] = char(2 * e + 1);
    }
    return _mm256_load_si256(reinterpret_cast<const __m256i*>(m));
}

}  // namespace

float dotQ4_KQ8_K(const std::uint8_t* row, const BlockQ8_K* x, std::int64_t n) {
    const __m256i lowNibble = _mm256_set1_epi8(0x0F);
    const __m256i pick[8] = {broadcast16Mask(0, 0), broadcast16Mask(1, 1), broadcast16Mask(2, 2),
                             broadcast16Mask(3, 3), broadcast16Mask(4, 4), broadcast16Mask(5, 5),
                             broadcast16Mask(6, 6), broadcast16Mask(7, 7)};
    __m256 acc = _mm256_setzero_ps();    // (8) the scaled integer sums
    __m128 minTerms = _mm_setzero_ps();  // (4) dmin * sum_s m_s * (sum of a over s)
    for (std::int64_t b = 0; b < n / 256; ++b) {
        const std::uint8_t* w = row + 144 * b;  // d, dmin, 12 scale bytes, 128 nibble bytes
        const BlockQ8_K& a = x[b];
        const __m128i scalesMins = q4kScalesMins(w + 4);
        // Mins: 8 sums of 32 activations (pairs of bsums) times the 8 mins.
        const __m256i bsums = load32(a.bsums);  // (16) int16
        const __m128i sums32 = _mm_hadd_epi16(_mm256_castsi256_si128(bsums),
                                              _mm256_extracti128_si256(bsums, 1));  // (8)
        const __m128i mins = _mm_cvtepu8_epi16(_mm_srli_si128(scalesMins, 8));
        minTerms = _mm_fmadd_ps(_mm_set1_ps(f16At(w + 2) * a.d),
                                _mm_cvtepi32_ps(_mm_madd_epi16(mins, sums32)), minTerms);

        // (16) int16: the 8 scales in both 128-bit lanes
        const __m256i scales = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(scalesMins));
        __m256i sumi = _mm256_setzero_si256();  // (8) int32
        for (int g = 0; g < 4; ++g) {
            // 32 bytes hold values 64g + l (low nibbles, sub-block 2g) and 64g + 32 + l (high
            // nibbles, sub-block 2g + 1). Nibbles are unsigned, activations signed: maddubs.
            const __m256i q4 = load32(w + 16 + 32 * g);
            const __m256i lo = _mm256_and_si256(q4, lowNibble);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q4, 4), lowNibble);
            const __m256i pLo = _mm256_maddubs_epi16(lo, load32(a.qs + 64 * g));
            const __m256i pHi = _mm256_maddubs_epi16(hi, load32(a.qs + 64 * g + 32));
            const __m256i scaleLo = _mm256_shuffle_epi8(scales, pick[2 * g]);
            const __m256i scaleHi = _mm256_shuffle_epi8(scales, pick[2 * g + 1]);
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(pLo, scaleLo));
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(pHi, scaleHi));
        }
        const float d = f16At(w) * a.d;
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    const __m128 m = _mm_hadd_ps(minTerms, minTerms);
    return horizontalSum(acc) - _mm_cvtss_f32(_mm_hadd_ps(m, m));
}

float dotQ6_KQ8_K(const std::uint8_t* row, const BlockQ8_K* x, std::int64_t n) {
    const __m256i lowNibble = _mm256_set1_epi8(0x0F), twoBits = _mm256_set1_epi8(0x03);
    // Group k of a half uses sub-block 2k in the low 128-bit lane and 2k + 1 in the high one.
    const __m256i pick[4] = {broadcast16Mask(0, 1), broadcast16Mask(2, 3), broadcast16Mask(4, 5),
                             broadcast16Mask(6, 7)};
    __m256 acc = _mm256_setzero_ps();  // (8)
    for (std::int64_t b = 0; b < n / 256; ++b) {
        const std::uint8_t* w = row + 210 * b;  // ql[128], qh[64], int8 scales[16], f16 d
        const BlockQ8_K& a = x[b];
        const __m128i sc8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 192));  // (16)
        // q - 32 times a, summed: the unsigned 6-bit q goes through maddubs, and
        // 32 * sum_s sc_s * (sum of a over s) is taken off the integer sum at the start.
        const __m256i offset = _mm256_madd_epi16(_mm256_cvtepi8_epi16(sc8), load32(a.bsums));
        __m256i sumi = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(offset, 5));
        for (int h = 0; h < 2; ++h) {
            // (16) int16: scales 8h .. 8h + 7 in both 128-bit lanes
            const __m256i scales = _mm256_broadcastsi128_si256(
                _mm_cvtepi8_epi16(h == 0 ? sc8 : _mm_srli_si128(sc8, 8)));
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
                // int16 lanes 0-7 hold sub-block 8h + 2k, lanes 8-15 sub-block 8h + 2k + 1.
                const __m256i pairs = _mm256_maddubs_epi16(q[k], load32(a.qs + 128 * h + 32 * k));
                sumi = _mm256_add_epi32(
                    sumi, _mm256_madd_epi16(pairs, _mm256_shuffle_epi8(scales, pick[k])));
            }
        }
        const float d = f16At(w + 208) * a.d;
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    return horizontalSum(acc);
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
