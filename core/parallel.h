#pragma once
// Splits a loop over the compute threads (OpenMP). Private to core's .cpp files: the pragma
// needs the OpenMP compile flag that only kvscope_core is built with.

#include "compute_threads.h"

#include <algorithm>
#include <cstdint>

namespace kvscope {

// Below this many multiply-adds (or element operations) a loop stays on the calling thread:
// waking a second thread costs a few microseconds, more than the work itself.
constexpr std::int64_t kParallelMinWork = 1 << 16;

// Calls body(begin, end) on contiguous chunks of [0, n), one chunk per thread, the chunk sizes
// rounded to `grain`. Runs inline when `work` (the whole loop's cost) is small.
template <class Body>
void parallelChunks(int n, std::int64_t work, int grain, const Body& body) {
    const int threads = std::min(computeThreads(), std::max(1, n / std::max(1, grain)));
    if (threads <= 1 || work < kParallelMinWork) {
        body(0, n);
        return;
    }
    const int chunk = (n + threads - 1) / threads;
    const int size = (chunk + grain - 1) / grain * grain;
#pragma omp parallel for num_threads(threads) schedule(static, 1)
    for (int t = 0; t < threads; ++t) {
        const int begin = std::min(n, t * size), end = std::min(n, begin + size);
        if (begin < end) body(begin, end);
    }
}

// Calls body(i) for every i in [0, n), spread over the threads item by item (for items of
// uneven cost, such as attention heads).
template <class Body>
void parallelItems(int n, std::int64_t work, const Body& body) {
    const int threads = std::min(computeThreads(), n);
    if (threads <= 1 || work < kParallelMinWork) {
        for (int i = 0; i < n; ++i) body(i);
        return;
    }
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (int i = 0; i < n; ++i) body(i);
}

}  // namespace kvscope
