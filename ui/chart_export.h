#pragma once
// Charts leave the app as PNG (raster, at a chosen pixel ratio), PDF and SVG (vector), or via the
// clipboard. Every exported chart carries a one-line caption saying which run it shows, so a
// figure pasted into a handout still says what produced it.

#include "run_view.h"
#include "util/result.h"

#include <QList>
#include <QObject>
#include <QPair>
#include <QSize>
#include <QString>
#include <QStringList>

#include <functional>
#include <vector>

class QCustomPlot;
class QCPLayoutGrid;
class QCPTextElement;
class QWidget;

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

// A chart's human title: the panel's name for the attention and distribution plots (whose
// headings describe the step shown), else its heading ("Cumulative FLOPs since the run
// started"), else its objectName.
QString chartTitle(QCustomPlot* plot);

// A chart's file stem: `name`, then what the chart shows when that is a choice of the panel
// (the plot's "kvscopeExportTag" property: the attention heatmap's layer, head, run, step and
// scale; the distribution's stage): "attention_layer-1_mean_cached_step-29_row-max".
QString exportStem(QCustomPlot* plot, const QString& name);

// The default file name of an export: the chart's stem, then the run's mode and length read from
// its caption (as chartCaption() writes it), then the format: "cumulative_compare_1000-tokens.png".
// Without a run in the caption, "cumulative.png".
QString defaultExportName(QCustomPlot* plot, const QString& caption, const QString& suffix);

// Where the last export went, kept in QSettings across sessions; the Pictures folder (or home)
// before the first export.
QString lastExportFolder();
void rememberExportFolder(const QString& dir);

// Exports are drawn on white in the light palette, whatever the screen shows (a dark figure on a
// white handout page or slide reads badly), unless the user asks for the screen's colours (View >
// Export in Screen Colours); kept in QSettings.
bool exportsInScreenColors();
void setExportsInScreenColors(bool on);

// File > Export Chart: a save dialog in the last export folder with the default name, the format
// picked by the file's suffix or the filter; confirms in the status bar, warns on failure.
void exportChartDialog(QWidget* parent, QCustomPlot* plot, const QString& caption);

// Every finished single export and clipboard copy is announced here with a sentence naming what
// was written where. The message is also shown for a few seconds in the status bar of the
// plot's main window, so the window need not connect to it.
class ExportNotifier : public QObject {
    Q_OBJECT
public:
    using QObject::QObject;
    static ExportNotifier* instance();
    void announce(QWidget* origin, const QString& message);
Q_SIGNALS:
    void exported(const QString& message);
};

// How an export differs from the screen, for the lifetime of one export: the light palette
// (unless exportsInScreenColors()), the normal scale whatever presentation mode's, the caption as a
// bottom row, fonts scaled with the frame (a 1200x750 frame gets twice the screen's: tick labels
// >= 40 px on its 2400x1500 PNG, readable projected), interaction aids such as the selected-step
// line left out. Everything is put back on destruction.
class ExportLook {
public:
    ExportLook(QCustomPlot* plot, QSize size, const QString& caption);
    ~ExportLook();
    ExportLook(const ExportLook&) = delete;
    ExportLook& operator=(const ExportLook&) = delete;
    // 1 for a frame the size of a small panel, up to 2 for a slide-sized one.
    static double fontScale(QSize size);

private:
    void useExportLook();
    void scaleFonts(double f);
    void addCaption(const QString& caption, double f);
    void nestLayout();

    QCustomPlot* plot_;
    QCPTextElement* caption_ = nullptr;
    QCPLayoutGrid* inner_ = nullptr;  // the plot's grid moved into one cell, when it had to be
    std::vector<std::function<void()>> undo_;
};

}  // namespace kvscope
