#include "units.h"

#include <algorithm>
#include <cmath>

namespace kvscope::units {

QString siText(double v, const QString& unit) {
    if (v == 0 || !std::isfinite(v)) return QString::number(v) + QLatin1Char(' ') + unit;
    static const char* prefixes[] = {"", "k", "M", "G", "T", "P", "E"};
    // Rounding to the shown digits first picks the prefix, so 999,960 reads "1 M", not "1e+03 k".
    const double shown = QString::number(v, 'g', 3).toDouble();
    const int e = std::clamp(int(std::floor(std::log10(std::abs(shown)) / 3)), 0, 6);
    return QString::number(shown / std::pow(1000.0, e), 'g', 3) + QLatin1Char(' ') +
           QLatin1String(prefixes[e]) + unit;
}

QString bytesText(double bytes) {
    return siText(bytes, QStringLiteral("B"));
}

QString flopsText(double flops) {
    return siText(flops, QStringLiteral("FLOP"));
}

}  // namespace kvscope::units
