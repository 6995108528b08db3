#include "cost/bandwidth_probe.h"

#include "nn/linear.h"
#include "util/compute_threads.h"
#include "util/parallel.h"

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace kvscope::bench {
namespace {

constexpr int kPasses = 5;

int threadIndex() {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

double secondsSince(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Best GB/s of `passes` calls of `pass`, which moves `bytes`.
template <class Pass>
double bestOf(double bytes, const Pass& pass, int passes = kPasses) {
    double best = 0;
    for (int i = 0; i < passes; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        pass();
        best = std::max(best, bytes / secondsSince(t0) / 1e9);
    }
    return best;
}

// Written by the threads that later read it, in the same static split (first touch).
AlignedFloats filled(std::int64_t n, int threads, float value) {
    AlignedFloats a = allocateAligned(n);
    float* p = a.get();
#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::int64_t i = 0; i < n; ++i) p[i] = value + float(i & 15) * 1e-3f;
    return a;
}

#if defined(__AVX512F__)
// Not _mm512_reduce_add_ps: GCC 12 warns (wrongly) of an uninitialised value inside it.
float horizontalSum(__m512 v) {
    alignas(64) float lanes[16];
    _mm512_store_ps(lanes, v);
    float s = 0;
    for (float f : lanes) s += f;
    return s;
}
#endif

// Sum of a[0, n), n a multiple of 128, a 64-byte aligned, read as four streams (the quarters of
// the range side by side, as a matrix-vector product reads four rows): one stream left the
// prefetchers too little to do here, and the sum read ~25% slower than the products did. Eight
// independent accumulators, so the adds never wait on each other.
float sumRange(const float* a, std::int64_t n) {
    const std::int64_t q = n / 4;
    const float* s[4] = {a, a + q, a + 2 * q, a + 3 * q};
#if defined(__AVX512F__)
    __m512 acc[8];
    for (__m512& v : acc) v = _mm512_setzero_ps();
    for (std::int64_t i = 0; i < q; i += 32) {
        for (int k = 0; k < 4; ++k) {
            acc[2 * k] = _mm512_add_ps(acc[2 * k], _mm512_load_ps(s[k] + i));
            acc[2 * k + 1] = _mm512_add_ps(acc[2 * k + 1], _mm512_load_ps(s[k] + i + 16));
        }
    }
    for (int k = 1; k < 8; ++k) acc[0] = _mm512_add_ps(acc[0], acc[k]);
    return horizontalSum(acc[0]);
#elif defined(__AVX2__)
    __m256 acc[8];
    for (__m256& v : acc) v = _mm256_setzero_ps();
    for (std::int64_t i = 0; i < q; i += 16) {
        for (int k = 0; k < 4; ++k) {
            acc[2 * k] = _mm256_add_ps(acc[2 * k], _mm256_load_ps(s[k] + i));
            acc[2 * k + 1] = _mm256_add_ps(acc[2 * k + 1], _mm256_load_ps(s[k] + i + 8));
        }
    }
    for (int k = 1; k < 8; ++k) acc[0] = _mm256_add_ps(acc[0], acc[k]);
    float lanes[8];
    _mm256_storeu_ps(lanes, acc[0]);
    float total = 0;
    for (float v : lanes) total += v;
    return total;
#else
    float acc[8] = {};
    for (std::int64_t i = 0; i < q; i += 2)
        for (int k = 0; k < 4; ++k) {
            acc[2 * k] += s[k][i];
            acc[2 * k + 1] += s[k][i + 1];
        }
    float total = 0;
    for (float v : acc) total += v;
    return total;
#endif
}

// Part t of `threads` contiguous parts of a[0, n); what the sum is does not matter, but it is
// returned so the reads cannot be optimised away.
float readSumPart(const float* a, std::int64_t n, int threads, int t) {
    const std::int64_t part = n / threads / 128 * 128;
    return sumRange(a + std::int64_t(t) * part, part);
}

// Reads a[0, n) split in one contiguous part per thread.
float readSumPass(const float* a, std::int64_t n, int threads) {
    float total = 0;
#pragma omp parallel num_threads(threads) reduction(+ : total)
    total += readSumPart(a, n, threads, threadIndex());
    return total;
}

// Reads 1 GiB split in one contiguous part per thread.
double readSum(int threads) {
    const std::int64_t n = std::int64_t(1) << 28;  // floats
    const AlignedFloats a = filled(n, threads, 1);
    const std::int64_t part = n / threads / 128 * 128;
    float sink = 0;
    const double gbs =
        bestOf(4.0 * part * threads, [&] { sink += readSumPass(a.get(), n, threads); });
    return sink == -1 ? 0 : gbs;
}

// STREAM's triad a = b + s c over three 256 MB arrays, counted as STREAM counts it: 12 bytes per
// element (two reads, one write; not the write-allocate read).
double triad(int threads) {
    const std::int64_t n = std::int64_t(1) << 26;
    AlignedFloats a = filled(n, threads, 0);
    const AlignedFloats b = filled(n, threads, 1), c = filled(n, threads, 2);
    float* pa = a.get();
    const float *pb = b.get(), *pc = c.get();
    const float s = 3;
    const double gbs = bestOf(12.0 * n, [&] {
#pragma omp parallel for simd num_threads(threads) schedule(static)
        for (std::int64_t i = 0; i < n; ++i) pa[i] = pb[i] + s * pc[i];
    });
    return pa[n / 2] == -1 ? 0 : gbs;
}

constexpr int kGemvRows = 16384, kGemvIn = 4096;  // 256 MB of float32 weights

// The project's own decode product: applyLinear on one row over a (16384, 4096) matrix.
double gemvProject(int threads) {
    const AlignedFloats w = filled(std::int64_t(kGemvRows) * kGemvIn, threads, 0.5f);
    const AlignedFloats x = filled(kGemvIn, 1, 1), y = allocateAligned(kGemvRows);
    setComputeThreads(threads);
    const Linear l{w.get(), nullptr, kGemvRows, kGemvIn};
    const Eigen::Map<const RowMatrix> in(x.get(), 1, kGemvIn);
    Eigen::Map<RowMatrix> out(y.get(), 1, kGemvRows);
    const double gbs = bestOf(4.0 * kGemvRows * kGemvIn, [&] { applyLinear(l, in, out); });
    return y[7] == -1 ? 0 : gbs;
}

// Part t of y(rows) = W(rows, in) x through the decode's own kernel, the rows split in one
// contiguous part per thread: no blocks taken in turn, so what it measures is the kernel's
// streaming alone.
void gemvPart(const float* w, const float* x, float* y, int rows, int in, int threads, int t) {
    const int part = rows / threads;
    gemvRowsF32(w, x, in, t * part, (t + 1) * part, y);
}

void gemvHalvesPass(const float* w, const float* x, float* y, int rows, int in, int threads) {
#pragma omp parallel num_threads(threads)
    gemvPart(w, x, y, rows, in, threads, threadIndex());
}

double gemvHalves(int threads) {
    const AlignedFloats w = filled(std::int64_t(kGemvRows) * kGemvIn, threads, 0.5f);
    const AlignedFloats x = filled(kGemvIn, 1, 1), y = allocateAligned(kGemvRows);
    const double gbs = bestOf(4.0 * kGemvRows * kGemvIn, [&] {
        gemvHalvesPass(w.get(), x.get(), y.get(), kGemvRows, kGemvIn, threads);
    });
    return y[7] == -1 ? 0 : gbs;
}

}  // namespace

BandwidthProbe measureBandwidth(int threads) {
    BandwidthProbe p;
    p.threads = threads;
    p.figures = {{"read-sum", readSum(threads)},
                 {"triad", triad(threads)},
                 {"gemv-applyLinear", gemvProject(threads)},
                 {"gemv-halves", gemvHalves(threads)}};
    for (const ProbeFigure& f : p.figures) {
        if (f.gbs > p.best) {
            p.best = f.gbs;
            p.bestKernel = f.kernel;
        }
    }
    return p;
}

StepProbe::StepProbe(std::int64_t bytes, int threads) : threads_(threads) {
    // Whole rows of kGemvIn floats, an even number of them per thread.
    const std::int64_t perRow = 4 * kGemvIn;
    rows_ = int(std::max<std::int64_t>(
        2 * threads, (bytes + perRow - 1) / perRow / (2 * threads) * (2 * threads)));
    buffer_ = filled(std::int64_t(rows_) * kGemvIn, threads, 0.5f);
    x_ = filled(kGemvIn, 1, 1);
    y_ = allocateAligned(rows_);
}

double StepProbe::bytes() const {
    return 4.0 * rows_ * kGemvIn;
}

// The step probe's passes run on the decode's own threads (util/work_pool.h), one part per
// thread: OpenMP's threads, spinning for milliseconds after each of its passes, would take a core
// from the step that follows.
double StepProbe::pass() {
    const std::int64_t n = std::int64_t(rows_) * kGemvIn;
    std::vector<float> sums(std::size_t(threads_), 0.0f);
    const float* w = buffer_.get();
    setComputeThreads(threads_);
    auto t0 = std::chrono::steady_clock::now();
    runBodyBlocks(threads_, [&](int t) { sums[std::size_t(t)] = readSumPart(w, n, threads_, t); });
    for (float v : sums) sink_ += v;
    const double sum = bytes() / secondsSince(t0) / 1e9;
    t0 = std::chrono::steady_clock::now();
    runBodyBlocks(threads_,
                  [&](int t) { gemvPart(w, x_.get(), y_.get(), rows_, kGemvIn, threads_, t); });
    const double gemv = bytes() / secondsSince(t0) / 1e9;
    sink_ += y_[0];
    return std::max(sum, gemv);
}

double quickReadBandwidth(int threads, std::int64_t bytes, int passes) {
#ifndef _OPENMP
    threads = 1;  // one part: threadIndex() is 0 for every "thread"
#endif
    threads = std::max(1, threads);
    const std::int64_t n = bytes / 4 / threads / 128 * 128 * threads;  // floats
    const AlignedFloats a = filled(n, threads, 1);
    float sink = 0;
    const double gbs = bestOf(
        4.0 * double(n), [&] { sink += readSumPass(a.get(), n, threads); }, passes);
    return sink == -1 ? 0 : gbs;
}

}  // namespace kvscope::bench
