#pragma once
// The threads of the forward pass: the calling thread and computeThreads() - 1 workers that wait
// between jobs, spinning for a short while and then asleep.
//
// Two things OpenMP's fork-join does not do, both made for the decode, whose ~100 matrix-vector
// products a step are each a fraction of a millisecond (every other parallel loop of a forward
// pass runs here too, so that no second team of threads competes for the cores):
// - A job's blocks are claimed one at a time by whichever thread is free, the caller included,
//   and the caller waits only for blocks that were claimed. A worker the scheduler runs late
//   (another process holds its core) finds the blocks done and costs nothing; a fork-join region
//   waits for every thread to arrive.
// - Between jobs, idle workers read ahead the weights of the product the forward pass names next
//   (prefetchForNext), so memory keeps streaming while the caller does the serial parts of a
//   step (norms, rotary embeddings, the sampler); the product then finds part of its weights in
//   the cache.

#include <cstdint>

namespace kvscope {

using BlockFn = void (*)(const void* context, int block);

// What a job does to a read-ahead it interrupts: a product of the weights read ahead ends it
// (what is left of it is that product's own stream); other jobs let it go on after them.
enum class ReadAhead { Resume, End };

// Calls fn(context, b) for every b in [0, blocks), spread over the calling thread and the
// workers; returns when all are done. From one thread at a time: a call made while another
// thread's job runs does its blocks alone. fn must not throw and must not call runBlocks.
void runBlocks(int blocks, BlockFn fn, const void* context,
               ReadAhead readAhead = ReadAhead::Resume);

// Asks idle workers to read [p, p + bytes) into the cache, from its start, until the next call
// of prefetchForNext or dropPrefetch (jobs in between pause it). Capped at kPrefetchCapBytes,
// about what the last-level cache keeps. A hint: does nothing with one thread.
constexpr std::int64_t kPrefetchCapBytes = std::int64_t(8) << 20;
void prefetchForNext(const void* p, std::int64_t bytes);

// Ends the read-ahead and returns once no worker is reading: call before freeing memory that
// may have been named to prefetchForNext.
void dropPrefetch();

}  // namespace kvscope
