#pragma once
// Where a measured step sits on this machine's roofline (Williams, Waterman and Patterson, 2009):
// its arithmetic intensity (FLOPs per byte moved), the rate it achieved, and the roof above it.
// Below the ridge point (GEMM rate / read bandwidth, FLOP/byte) a step can at best run at
// bandwidth x intensity: it waits on memory, as a cached decode step streaming its weights for
// one row does. Above it the GEMM rate bounds it, as it does a naive step reusing every weight
// for n rows. Bytes are bytes_moved.h's: weights at their stored size, K/V read and written.

#include "cost/what_if.h"

#include <optional>

namespace kvscope {

struct StepResult;

enum class Roof { Bandwidth, Compute };
const char* roofName(Roof r);  // "memory bandwidth", "compute (GEMM rate)"

struct RooflinePoint {
    double intensity = 0;  // FLOP per byte moved
    double gflops = 0;     // achieved: FLOPs / time, 1e9 per second
    // With roofs only (0 and Bandwidth without): the best rate the roofs allow at this
    // intensity, min(gemm, bandwidth x intensity), which of them that is, and achieved / that.
    double attainableGflops = 0;
    Roof bound = Roof::Bandwidth;
    double fractionOfRoof = 0;
};

// FLOP/byte where the bandwidth slope meets the compute roof; 0 for invalid roofs.
double ridgeIntensity(const whatif::Roofs& roofs);
// min(gemm, bandwidth x intensity), GFLOP/s, and which roof gives it (Compute at the ridge).
double attainableGflops(const whatif::Roofs& roofs, double intensity, Roof* bound = nullptr);

// nullopt when the step cannot be placed on log-log axes: no FLOPs, no bytes, or no time (a
// step too fast for the clock).
std::optional<RooflinePoint> rooflinePoint(double flops, double bytes, double milliseconds,
                                           const std::optional<whatif::Roofs>& roofs);
std::optional<RooflinePoint> rooflinePoint(const StepResult& s,
                                           const std::optional<whatif::Roofs>& roofs);

}  // namespace kvscope
