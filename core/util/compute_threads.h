#pragma once
// How many threads one forward pass may use. A process-wide setting, the size of the pool of
// util/work_pool.h, applied when a run starts (GenerationSession::start) rather than passed per
// call.

namespace kvscope {

// Threads this process may run at once (its CPU affinity; at least 1).
int hardwareThreads();
// n <= 0 means hardwareThreads(). Values are clamped to [1, hardwareThreads()]: fork-join
// parallel loops wait for their slowest thread, so a thread without a core of its own makes every
// product wait for the scheduler (measured: 20x slower with 3 threads on 2 cores).
void setComputeThreads(int n);
int computeThreads();

}  // namespace kvscope
