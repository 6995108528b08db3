#pragma once
// Least-squares line fits for the charts: the exponent of a power law y = c x^k is the slope of
// log y against log x, which is how the cost charts show "naive grows as T^3, cached as T^2".

#include <optional>
#include <span>

namespace kvscope {

struct LineFit {
    double slope = 0;
    double intercept = 0;
    int points = 0;  // points that took part in the fit
};

// Ordinary least squares y = slope * x + intercept. nullopt with fewer than two distinct x, where
// the slope is undefined. x and y must have the same length.
std::optional<LineFit> fitLine(std::span<const double> x, std::span<const double> y);

// Fits log y = slope * log x + intercept (natural logs). Points with x <= 0 or y <= 0 have no
// logarithm and are skipped rather than failing the whole fit.
std::optional<LineFit> fitPowerLaw(std::span<const double> x, std::span<const double> y);

}  // namespace kvscope
