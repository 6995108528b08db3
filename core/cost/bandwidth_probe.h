#pragma once
// What this machine can stream from memory at a given thread count, measured by several kernels
// so that the limit a cached decode step is held to is the machine's and not one kernel's. Every
// buffer is far larger than the last-level cache; each figure is the best of a few passes.

#include <cstdint>
#include <vector>

namespace kvscope::bench {

struct ProbeFigure {
    const char* kernel;  // what ran, for the report
    double gbs = 0;      // bytes the kernel must move per pass / seconds, 1e9 bytes
};

struct BandwidthProbe {
    int threads = 0;
    std::vector<ProbeFigure> figures;
    double best = 0;  // the fastest figure: "the probe"
    const char* bestKernel = "";
};

// Runs every kernel at `threads` (the compute threads are set to it, as a run would).
BandwidthProbe measureBandwidth(int threads);

// A short read-sum for the app's roof (core/cost/machine_probe.h): `bytes`, still far beyond the
// last-level cache, read by `threads` threads as measureBandwidth's read-sum reads, best of
// `passes`; GB/s.
double quickReadBandwidth(int threads, std::int64_t bytes, int passes);

}  // namespace kvscope::bench
