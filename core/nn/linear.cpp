#include "nn/linear.h"

#include "tensor/dequantize.h"
#include "tensor/quant_matvec.h"
#include "util/parallel.h"

#include <immintrin.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace kvscope {
namespace {

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#define KVSCOPE_VECTOR_GEMV 1
#if defined(__AVX512F__)
using Vec = __m512;  // 16 floats
constexpr int kLanes = 16;
inline Vec zero() {
    return _mm512_setzero_ps();
}
inline Vec load(const float* p) {
    return _mm512_loadu_ps(p);
}
inline Vec fma(Vec a, Vec b, Vec c) {
    return _mm512_fmadd_ps(a, b, c);
}
inline Vec add(Vec a, Vec b) {
    return _mm512_add_ps(a, b);
}
inline void store(float* p, Vec v) {
    _mm512_storeu_ps(p, v);
}
#else
using Vec = __m256;  // 8 floats
constexpr int kLanes = 8;
inline Vec zero() {
    return _mm256_setzero_ps();
}
inline Vec load(const float* p) {
    return _mm256_loadu_ps(p);
}
inline Vec fma(Vec a, Vec b, Vec c) {
    return _mm256_fmadd_ps(a, b, c);
}
inline Vec add(Vec a, Vec b) {
    return _mm256_add_ps(a, b);
}
inline void store(float* p, Vec v) {
    _mm256_storeu_ps(p, v);
}
#endif

// A tree of shuffles, not _mm512_reduce_add_ps (GCC 12 warns, wrongly, of an uninitialised value
// inside it) nor a scalar loop over the lanes, whose chain of adds would stall every block of rows.
#if defined(__AVX512F__)
inline float horizontalSum(__m512 v) {
    v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(1, 0, 3, 2)));
    v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(2, 3, 0, 1)));
    v = _mm512_add_ps(v, _mm512_permute_ps(v, _MM_SHUFFLE(1, 0, 3, 2)));
    v = _mm512_add_ps(v, _mm512_permute_ps(v, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm512_cvtss_f32(v);
}
#else
inline float horizontalSum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
#endif

constexpr int kRowsAtOnce = 4;

// y[k] = row[k] . x for four rows of `in` floats anywhere in memory: two accumulators per row,
// so eight FMA chains are in flight, and each slice of x is loaded once for the four rows.
void dot4(const float* const row[kRowsAtOnce], const float* x, int in,
          float* const y[kRowsAtOnce]) {
    Vec lo[kRowsAtOnce], hi[kRowsAtOnce];
    for (int k = 0; k < kRowsAtOnce; ++k) lo[k] = hi[k] = zero();
    int i = 0;
    for (; i + 2 * kLanes <= in; i += 2 * kLanes) {
        const Vec x0 = load(x + i), x1 = load(x + i + kLanes);
        for (int k = 0; k < kRowsAtOnce; ++k) {
            lo[k] = fma(load(row[k] + i), x0, lo[k]);
            hi[k] = fma(load(row[k] + i + kLanes), x1, hi[k]);
        }
    }
    for (int k = 0; k < kRowsAtOnce; ++k) {
        float s = horizontalSum(add(lo[k], hi[k]));
        for (int j = i; j < in; ++j) s += row[k][j] * x[j];
        *y[k] = s;
    }
}

float dot1(const float* w, const float* x, int in) {
    Vec acc = zero();
    int i = 0;
    for (; i + kLanes <= in; i += kLanes) acc = fma(load(w + i), load(x + i), acc);
    float s = horizontalSum(acc);
    for (; i < in; ++i) s += w[i] * x[i];
    return s;
}

// y[begin, end) = W[begin, end) x for W (out, in) row-major. The four rows computed together
// come from the four quarters of the range, so memory is read as four long sequential streams
// (as the bandwidth probe's read-sum reads it). Four adjacent rows would be four streams of a
// single row each (3 KB for a 768-wide matrix), too short for the hardware prefetchers to lock
// on: measured on a Zen 3 VM, one thread, a 110M Llama's decode products: 14.2 GB/s with
// quarters against 8.8 with adjacent rows, the read-sum over the same bytes 14.2.
void gemvRows(const float* w, const float* x, int in, int begin, int end, float* y) {
    const int quarter = (end - begin) / kRowsAtOnce;
    for (int r = begin; r < begin + quarter; ++r) {
        const float* rows[kRowsAtOnce];
        float* out[kRowsAtOnce];
        for (int k = 0; k < kRowsAtOnce; ++k) {
            rows[k] = w + std::int64_t(r + k * quarter) * in;
            out[k] = y + r + k * quarter;
        }
        dot4(rows, x, in, out);
    }
    for (int r = begin + kRowsAtOnce * quarter; r < end; ++r)
        y[r] = dot1(w + std::int64_t(r) * in, x, in);
}
#endif

// Asks the kernel to back the 2 MB-aligned whole pages inside [p, p + bytes) with huge pages
// (Linux's transparent huge pages are often "madvise" only). A decode step streams every weight
// once: with 4 KB pages that is a TLB miss every 4 KB and the prefetchers stop at each page;
// measured here, the decode's products streamed ~20% faster with the advice.
void adviseHugePages(void* p, std::size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    constexpr std::uintptr_t kPage = 4096;
    const std::uintptr_t begin = (std::uintptr_t(p) + kPage - 1) & ~(kPage - 1),
                         end = (std::uintptr_t(p) + bytes) & ~(kPage - 1);
    if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
#else
    (void)p;
    (void)bytes;
#endif
}

// y (rows, out) = x (rows, in) W^T for weights in their stored types: the activation rows
// prepared once (quantized per block, or kept float), then every output an integer (or float)
// dot of one stored row with one activation row. The weight rows are split over the threads in
// blocks, and each block's rows meet every activation row while they are in the cache.
void applyStored(const Linear& l, const Eigen::Ref<const RowMatrix>& x, Eigen::Ref<RowMatrix> y) {
    thread_local PreparedActivations prepared;  // grown once, reused by every product
    std::vector<GgmlType> types;                // a handful: one per stacked part
    types.reserve(l.stored.size());
    for (const StoredRows& p : l.stored) types.push_back(p.type);
    const int rows = int(x.rows());
    prepared.prepare(x.data(), rows, l.in, x.outerStride(), types);
    const PreparedActivations& a = prepared;
    parallelBlocks(l.out, std::int64_t(l.out) * l.in * rows, 16, [&](int begin, int end) {
        int partStart = 0;
        for (const StoredRows& p : l.stored) {
            const std::int64_t rowBytes = storedRowBytes(p.type, l.in);
            const PreparedActivations::Kernel k = a.kernel(p.type);
            for (int o = std::max(begin, partStart); o < std::min(end, partStart + p.rows); ++o) {
                const std::uint8_t* w = p.data + std::int64_t(o - partStart) * rowBytes;
                for (int r = 0; r < rows; ++r) y(r, o) = k.dot(w, r);
            }
            partStart += p.rows;
        }
    });
    if (l.bias) y.rowwise() += Eigen::Map<const Eigen::RowVectorXf>(l.bias, l.out);
}

}  // namespace

std::int64_t Linear::weightBytes() const {
    if (weight) return std::int64_t(out) * in * std::int64_t(sizeof(float));
    std::int64_t bytes = 0;
    for (const StoredRows& p : stored) bytes += p.rows * storedRowBytes(p.type, in);
    return bytes;
}

void gemvRowsF32(const float* w, const float* x, int in, int begin, int end, float* y) {
#ifdef KVSCOPE_VECTOR_GEMV
    gemvRows(w, x, in, begin, end, y);
#else
    const Eigen::Map<const RowMatrix> m(w + std::int64_t(begin) * in, end - begin, in);
    Eigen::Map<Eigen::VectorXf>(y + begin, end - begin).noalias() =
        m * Eigen::Map<const Eigen::VectorXf>(x, in);
#endif
}

void linearRow(const Linear& l, int r, float* dst) {
    if (l.weight) {
        std::memcpy(dst, l.weight + std::int64_t(r) * l.in, sizeof(float) * std::size_t(l.in));
        return;
    }
    for (const StoredRows& p : l.stored) {
        if (r < p.rows) {
            dequantizeRow(p.type, p.data + r * storedRowBytes(p.type, l.in), l.in, dst);
            return;
        }
        r -= p.rows;
    }
}

void applyLinear(const Linear& l, const Eigen::Ref<const RowMatrix>& x, Eigen::Ref<RowMatrix> y) {
    if (!l.stored.empty()) {
        applyStored(l, x, y);
        return;
    }
    const Eigen::Map<const RowMatrix> w(l.weight, l.out, l.in);
    if (x.rows() == 1) {
        const float* in = x.data();
        float* out = y.data();
        // Blocks of whole multiples of 16 rows, so no thread gets a sliver of a few rows.
        parallelBlocks(l.out, std::int64_t(l.out) * l.in, 16, [&](int begin, int end) {
            gemvRowsF32(l.weight, in, l.in, begin, end, out);
            if (l.bias)
                Eigen::Map<Eigen::VectorXf>(out + begin, end - begin) +=
                    Eigen::Map<const Eigen::VectorXf>(l.bias + begin, end - begin);
        });
        return;
    }
    // Several rows: Eigen's matrix-matrix product for each block of weight rows (output
    // columns), the blocks over the threads. Blocks of at least 128 rows keep each product wide
    // enough for Eigen's register blocking; each repacks x, a small cost beside the product.
    parallelBlocks(l.out, std::int64_t(l.out) * l.in * x.rows(), 128, [&](int begin, int end) {
        auto out = y.middleCols(begin, end - begin);
        out.noalias() = x * w.middleRows(begin, end - begin).transpose();
        if (l.bias)
            out.rowwise() += Eigen::Map<const Eigen::RowVectorXf>(l.bias + begin, end - begin);
    });
}

void FreeDeleter::operator()(float* p) const {
    std::free(p);
}

AlignedFloats allocateAligned(std::int64_t count) {
    constexpr std::size_t kAlign = 64, kHugePage = std::size_t(2) << 20;
    const std::size_t bytes = (std::size_t(count) * sizeof(float) + kAlign - 1) / kAlign * kAlign;
    void* p = std::aligned_alloc(kAlign, bytes ? bytes : kAlign);
    if (!p) throw std::bad_alloc();
    // Before the first write, so the pages are huge from the first fault. Not rounded up to huge
    // pages: the parts of the buffer outside whole 2 MB pages stay in 4 KB pages, so the advice
    // never adds to the resident size.
    if (bytes >= 2 * kHugePage) adviseHugePages(p, bytes);
    return AlignedFloats(static_cast<float*>(p));
}

}  // namespace kvscope
