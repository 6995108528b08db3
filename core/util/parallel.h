#pragma once
// Splits a loop over the compute threads: the calling thread and the workers of
// util/work_pool.h, which claim the loop's parts one at a time. Every parallel loop of a forward
// pass runs here, Eigen's matrix-matrix products included (split by the callers, Eigen itself is
// built with EIGEN_DONT_PARALLELIZE): a second team of threads (OpenMP's) would compete with
// this one for the same cores, its threads spinning for milliseconds after each region.

#include "util/compute_threads.h"
#include "util/work_pool.h"

#include <algorithm>
#include <array>
#include <cstdint>

namespace kvscope {

// Calls body(b) for every b in [0, blocks) on the pool.
template <class Body>
void runBodyBlocks(int blocks, const Body& body, ReadAhead readAhead = ReadAhead::Resume) {
    runBlocks(
        blocks, [](const void* c, int b) { (*static_cast<const Body*>(c))(b); }, &body, readAhead);
}

// Below this many multiply-adds (or element operations), about 1 MB of weights, a loop stays on
// the calling thread: handing a block to a worker costs about a microsecond, and more when the
// worker was asleep. GPT-2 small's smallest product (768 x 768) is above it.
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
    runBodyBlocks(threads, [&](int t) {
        const int begin = std::min(n, t * size), end = std::min(n, begin + size);
        if (begin < end) body(begin, end);
    });
}

// Calls body(begin, end) on contiguous blocks of [0, n), the block sizes rounded to `grain`; a
// thread takes the next block when it is done with one. For loops of equal cost per item (the
// products, split by weight rows): on a machine shared with other work a thread is often
// descheduled for milliseconds, and with one fixed half each the other thread would wait for all
// of that half; here it takes the blocks the absent thread has not started. The blocks shrink
// towards the end (each a 1/(2 threads) share of what is left, down to 1/(kTailBlocksPerThread
// threads) of the loop): long streams first, and at the end a thread waits for the other's
// short last block, not a long one. A product ends the read-ahead of its weights.
constexpr int kTailBlocksPerThread = 32;
constexpr int kMaxBlocks = 64;

template <class Body>
void parallelBlocks(int n, std::int64_t work, int grain, const Body& body) {
    const int threads = std::min(computeThreads(), std::max(1, n / std::max(1, grain)));
    if (threads <= 1 || work < kParallelMinWork) {
        body(0, n);
        return;
    }
    auto rounded = [grain](int size) {
        return (std::max(size, grain) + grain - 1) / grain * grain;
    };
    const int smallest = rounded(n / (threads * kTailBlocksPerThread));
    std::array<int, kMaxBlocks + 1> starts{};
    int blocks = 0;
    for (int at = 0; at < n && blocks < kMaxBlocks; ++blocks) {
        starts[std::size_t(blocks)] = at;
        at += std::max(smallest, rounded((n - at) / (2 * threads)));
    }
    starts[std::size_t(blocks)] = n;  // the last block takes whatever is left
    runBodyBlocks(
        blocks,
        [&](int b) { body(starts[std::size_t(b)], std::min(n, starts[std::size_t(b) + 1])); },
        ReadAhead::End);
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
    runBodyBlocks(n, body);
}

}  // namespace kvscope
