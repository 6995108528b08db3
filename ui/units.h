#pragma once
// One convention for quantities in every panel and the status bar: SI prefixes (k = 1000,
// M = 10^6, ...) with three significant digits, so 456,704 bytes read "457 kB" in the status bar
// and on the Memory chart alike, and FLOPs read "20.4 GFLOP".

#include <QString>

namespace kvscope::units {

// v with an SI prefix and three significant digits: siText(456704, "B") == "457 kB".
QString siText(double v, const QString& unit);
QString bytesText(double bytes);  // siText(bytes, "B")
QString flopsText(double flops);  // siText(flops, "FLOP")

}  // namespace kvscope::units
