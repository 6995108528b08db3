#pragma once
// Splits a loop over the compute threads (OpenMP). Private to core's .cpp files: the pragma
// needs the OpenMP compile flag that only kvscope_core is built with.

#include "util/compute_threads.h"

#include <algorithm>
#include <cstdint>

namespace kvscope {

// Below this many multiply-adds (or element operations), about 1 MB of weights, a loop stays on
// the calling thread. Waking a second thread costs microseconds on a quiet machine, but when the
// other core is busy the join waits for the scheduler (milliseconds): the default model, whose
// largest product is 65K multiply-adds, ran 50x slower on 2 threads than on 1 beside a busy core
// with the threshold at 64K. GPT-2 small's smallest product (768 x 768) is above it.
constexpr std::int64_t kParallelMinWork = 1 << 18;

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

// Calls body(begin, end) on contiguous blocks of [0, n), about kBlocksPerThread per thread, the
// block sizes rounded to `grain`; a thread takes the next block when it is done with one. For
// loops of equal cost per item that stream memory (the decode's matrix-vector products): on a
// machine shared with other work a thread is often descheduled for milliseconds, and with one
// fixed half each the other thread would wait for all of that half; here it takes the blocks the
// absent thread has not started.
constexpr int kBlocksPerThread = 8;

template <class Body>
void parallelBlocks(int n, std::int64_t work, int grain, const Body& body) {
    const int threads = std::min(computeThreads(), std::max(1, n / std::max(1, grain)));
    if (threads <= 1 || work < kParallelMinWork) {
        body(0, n);
        return;
    }
    const int wanted = (n + threads * kBlocksPerThread - 1) / (threads * kBlocksPerThread);
    const int size = (std::max(wanted, grain) + grain - 1) / grain * grain;
    const int blocks = (n + size - 1) / size;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (int b = 0; b < blocks; ++b) body(b * size, std::min(n, (b + 1) * size));
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
