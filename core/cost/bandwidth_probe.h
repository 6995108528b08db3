#pragma once
// What this machine can stream from memory at a given thread count, measured by several kernels
// so that the limit a cached decode step is held to is the machine's and not one kernel's. Every
// buffer is far larger than the last-level cache; each figure is the best of a few passes.

#include "nn/linear.h"

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

// The probe at the grain of one decode step: a buffer of about `bytes` (far beyond the caches
// for the 110M-class models) that pass() streams twice, as a four-stream read-sum and as a
// matrix-vector product, returning the faster in GB/s. Run just before each step, so that the
// step and its limit see the same state of a machine whose bandwidth, shared with other
// tenants, changes from one second to the next.
class StepProbe {
public:
    StepProbe(std::int64_t bytes, int threads);
    double pass();
    double bytes() const;

private:
    int threads_ = 1, rows_ = 0;
    AlignedFloats buffer_, x_, y_;  // (rows, 4096), (4096), (rows)
    float sink_ = 0;
};
// A short read-sum for the app's roof (core/cost/machine_probe.h): `bytes`, still far beyond the
// last-level cache, read by `threads` threads as measureBandwidth's read-sum reads, best of
// `passes`; GB/s.
double quickReadBandwidth(int threads, std::int64_t bytes, int passes);

}  // namespace kvscope::bench
