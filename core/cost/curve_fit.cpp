#include "cost/curve_fit.h"

#include <cmath>
#include <vector>

namespace kvscope {

std::optional<LineFit> fitLine(std::span<const double> x, std::span<const double> y) {
    const std::size_t n = std::min(x.size(), y.size());
    if (n < 2) return std::nullopt;
    // Centring on the means first keeps the sums small, so large x (tokens in the thousands,
    // FLOPs in the 1e12s) do not cancel catastrophically.
    double mx = 0, my = 0;
    for (std::size_t i = 0; i < n; ++i) {
        mx += x[i];
        my += y[i];
    }
    mx /= double(n);
    my /= double(n);
    double sxx = 0, sxy = 0;
    for (std::size_t i = 0; i < n; ++i) {
        sxx += (x[i] - mx) * (x[i] - mx);
        sxy += (x[i] - mx) * (y[i] - my);
    }
    if (!(sxx > 0)) return std::nullopt;
    const double slope = sxy / sxx;
    return LineFit{slope, my - slope * mx, int(n)};
}

std::optional<LineFit> fitPowerLaw(std::span<const double> x, std::span<const double> y) {
    std::vector<double> lx, ly;
    const std::size_t n = std::min(x.size(), y.size());
    for (std::size_t i = 0; i < n; ++i) {
        if (x[i] <= 0 || y[i] <= 0) continue;
        lx.push_back(std::log(x[i]));
        ly.push_back(std::log(y[i]));
    }
    return fitLine(lx, ly);
}

}  // namespace kvscope
