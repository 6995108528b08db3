#pragma once
// Charts leave the app as PNG (raster, at a chosen pixel ratio), PDF and SVG (vector), or via the
// clipboard. Every exported chart carries a one-line caption saying which run it shows, so a
// figure pasted into a handout still says what produced it.

#include "util/result.h"
#include "run_view.h"

#include <QList>
#include <QPair>
#include <QSize>
#include <QString>
#include <QStringList>

#include <functional>

class QCustomPlot;

namespace kvscope {

// "model <name> · mode <naive|cached|compare> · prompt <p> tokens · <n> tokens generated ·
// seed <s>"; "no run" when the view is empty.
QString chartCaption(const RunView& v);

// Writes `plot` with `caption` below it. The format follows the suffix: .png (pixel size is
// size * scale), .pdf and .svg (vector, size in points/user units). An empty size means the
// widget's. The on-screen plot is left as it was. Errors name the file.
Result<bool> exportChart(QCustomPlot* plot, const QString& path, const QString& caption,
                         double scale = 2.0, QSize size = {});

// The plot with its caption, at the screen's pixel ratio, as an image on the clipboard.
void copyChartToClipboard(QCustomPlot* plot, const QString& caption);

// Right-click menu: Export as PNG… (asks 1x-4x), Export as PDF…, Export as SVG…, Copy to
// clipboard. `caption` is asked at the moment of export, so it describes the run then shown.
void installExportMenu(QCustomPlot* plot, std::function<QString()> caption);

// Writes <name>.png, <name>.pdf and <name>.svg for each (name, plot) into `dir` (created if
// missing), at `size` (empty: each widget's own). Returns the written paths, or the first error.
Result<QStringList> exportAllCharts(const QList<QPair<QString, QCustomPlot*>>& charts,
                                    const QString& dir, const QString& caption, QSize size = {});

}  // namespace kvscope
