#pragma once
// What a class can read off the attention heatmap: the panel is rendered as it is drawn on screen
// and every cell of the shown causal triangle is read at its centre. A cell is "visible" when its
// colour is at least kVisibleDeltaE (CIE76, in CIELAB) from the colour the scale gives a weight of
// 0 (or the log scale's floor), the dark end of viridis: a projector washes out smaller
// differences in dark colours. kJndDeltaE (2.3, the usual just-noticeable difference) is reported
// beside it, and the spread: the entropy in bits of the cells' lightness over 10 equal bins of
// viridis's L* range (0 bits: one colour; log2(10) = 3.32: evenly spread).

#include "attention_heatmap.h"
#include "qcustomplot_include.h"

#include <QColor>
#include <QImage>

#include <algorithm>
#include <array>
#include <cmath>

namespace kvscope::test {

constexpr double kVisibleDeltaE = 10.0;
constexpr double kJndDeltaE = 2.3;

struct Lab {
    double l, a, b;
};

inline double linearSrgb(double c) {
    return c <= 0.04045 ? c / 12.92 : std::pow((c + 0.055) / 1.055, 2.4);
}

// sRGB -> XYZ (D65) -> CIELAB.
inline Lab toLab(const QColor& colour) {
    const double r = linearSrgb(colour.redF()), g = linearSrgb(colour.greenF()),
                 b = linearSrgb(colour.blueF());
    const double x = (0.4124564 * r + 0.3575761 * g + 0.1804375 * b) / 0.95047;
    const double y = 0.2126729 * r + 0.7151522 * g + 0.0721750 * b;
    const double z = (0.0193339 * r + 0.1191920 * g + 0.9503041 * b) / 1.08883;
    auto f = [](double t) {
        return t > 216.0 / 24389 ? std::cbrt(t) : (24389.0 / 27 * t + 16) / 116;
    };
    return {116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))};
}

inline double deltaE(const Lab& p, const Lab& q) {
    return std::sqrt((p.l - q.l) * (p.l - q.l) + (p.a - q.a) * (p.a - q.a) +
                     (p.b - q.b) * (p.b - q.b));
}

struct Legibility {
    long long cells = 0;
    double visible = 0;  // fraction of cells >= kVisibleDeltaE from the colour of 0
    double jnd = 0;      // fraction >= kJndDeltaE
    double spreadBits = 0;
};

// The panel must be laid out at the size to measure (shown, or resized and replotted).
inline Legibility measureLegibility(const AttentionHeatmap& w) {
    QCustomPlot* plot = w.plot();
    plot->replot(QCustomPlot::rpImmediateRefresh);
    const QImage img = plot->toPixmap(plot->width(), plot->height(), 1.0).toImage();
    const QCPColorMap* map = w.colorMap();
    const QCPRange range = map->dataRange();
    const bool log = map->dataScaleType() == QCPAxis::stLogarithmic;
    const Lab zero = toLab(QColor(map->gradient().color(range.lower, range, log)));
    const double lowL = toLab(QColor(map->gradient().color(range.lower, range, log))).l;
    const double highL = toLab(QColor(map->gradient().color(range.upper, range, log))).l;
    std::array<long long, 10> bins{};
    Legibility out;
    long long visible = 0, jnd = 0;
    const int n = w.shownRows();
    for (int q = 0; q < n; ++q) {
        const int y = int(std::lround(plot->yAxis->coordToPixel(q)));
        for (int k = 0; k <= q; ++k) {
            const int x = int(std::lround(plot->xAxis->coordToPixel(k)));
            if (!img.valid(x, y)) continue;
            const Lab c = toLab(img.pixelColor(x, y));
            const double d = deltaE(c, zero);
            visible += d >= kVisibleDeltaE;
            jnd += d >= kJndDeltaE;
            const double t = (c.l - lowL) / (highL - lowL);
            ++bins[std::size_t(std::clamp(int(t * 10), 0, 9))];
            ++out.cells;
        }
    }
    if (out.cells == 0) return out;
    out.visible = double(visible) / out.cells;
    out.jnd = double(jnd) / out.cells;
    for (long long b : bins)
        if (b > 0) {
            const double p = double(b) / out.cells;
            out.spreadBits -= p * std::log2(p);
        }
    return out;
}

}  // namespace kvscope::test
