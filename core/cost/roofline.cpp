#include "cost/roofline.h"

#include "run/step_result.h"

#include <algorithm>

namespace kvscope {

const char* roofName(Roof r) {
    return r == Roof::Bandwidth ? "memory bandwidth" : "compute (GEMM rate)";
}

double ridgeIntensity(const whatif::Roofs& roofs) {
    return roofs.valid() ? roofs.gemmGflops / roofs.bandwidthGBs : 0;
}

double attainableGflops(const whatif::Roofs& roofs, double intensity, Roof* bound) {
    // GB/s x FLOP/B = GFLOP/s. At the ridge both roofs give the same rate; past it more reuse
    // buys nothing, so the step counts as compute-bound there.
    const double slope = roofs.bandwidthGBs * intensity;
    const Roof r = slope < roofs.gemmGflops ? Roof::Bandwidth : Roof::Compute;
    if (bound) *bound = r;
    return std::min(slope, roofs.gemmGflops);
}

std::optional<RooflinePoint> rooflinePoint(double flops, double bytes, double milliseconds,
                                           const std::optional<whatif::Roofs>& roofs) {
    if (!(flops > 0) || !(bytes > 0) || !(milliseconds > 0)) return std::nullopt;
    RooflinePoint p;
    p.intensity = flops / bytes;
    p.gflops = flops / (milliseconds * 1e-3) / 1e9;  // = flops / ms x 1e-6
    if (roofs && roofs->valid()) {
        p.attainableGflops = attainableGflops(*roofs, p.intensity, &p.bound);
        p.fractionOfRoof = p.gflops / p.attainableGflops;
    }
    return p;
}

std::optional<RooflinePoint> rooflinePoint(const StepResult& s,
                                           const std::optional<whatif::Roofs>& roofs) {
    return rooflinePoint(double(s.flops.total()), double(s.bytes.total()), s.milliseconds, roofs);
}

}  // namespace kvscope
