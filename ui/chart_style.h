#pragma once
// Building blocks shared by the cost charts: SI tick labels, palette-aware plot setup, and the
// few item kinds every chart repeats (a vertical marker line, a corner note, a measured/predicted
// series whose prefill step is kept apart from the decode steps).

#include "qcustomplot_include.h"

#include <QColor>
#include <QString>

namespace kvscope::charts {

// "1.2 G", "350 k", "12": three significant digits and an SI prefix, for FLOPs and bytes.
QString siLabel(double v);
// "48.1 kB", "203 MFLOP": the value with its prefixed unit, for notes.
QString siValue(double v, const QString& unit);
QSharedPointer<QCPAxisTicker> siTicker(bool logarithmic);
// Log10 ticks with plain numbers (milliseconds: "0.5", not "500 m"), every digit on short ranges.
QSharedPointer<QCPAxisTicker> plainLogTicker();
// Switches an axis between linear and log10. Log axes always get SI labels at 1-2-5 steps;
// linear ones only when `siLinear` (token positions read better as plain integers).
void setLogAxis(QCPAxis* axis, bool logarithmic, bool siLinear);

// A plot with a title row above its one axis rect, coloured from `parent`'s palette and
// following its changes (followAppearance in plot_appearance.h).
QCustomPlot* newPlot(const QString& id, const QString& title, QWidget* parent);
QCPTextElement* plotTitle(QCustomPlot* plot);
// A second axis rect below the first, its left and right margins aligned with the first so both
// position axes line up.
QCPAxisRect* addRectBelow(QCustomPlot* plot, double stretch);
void labelAxes(QCPAxisRect* rect, const QString& x, const QString& y, bool siY);

// `id` is the objectName (tests and tools find series by it), `label` the legend text.
QCPGraph* addLine(QCPAxisRect* rect, const QString& id, const QString& label, const QColor& c,
                  bool dashed);
QCPGraph* addMarkers(QCPAxisRect* rect, const QString& id, const QString& label, const QColor& c,
                     bool filled);
// Hidden series also leave the legend, so it lists only what is drawn.
void setShown(QCPAbstractPlottable* p, bool shown);

// Text in a layout row that wraps to the plot's width instead of widening it: it asks the layout
// for little width and for as many lines as the plot's current width needs. For rows of a plot's
// top-level one-column layout (subtitles, export captions).
class WrappedText : public QCPTextElement {
public:
    WrappedText(QCustomPlot* plot, const QString& text, const QFont& font);
    // Notes (addSubtitle) take no room at presentation scale; titles and captions always show.
    void setFoldsWhenPresenting(bool on) { foldsWhenPresenting_ = on; }

protected:
    QSize minimumOuterSizeHint() const override;
    QSize maximumOuterSizeHint() const override;
    void draw(QCPPainter* painter) override;

private:
    bool folded() const;
    bool foldsWhenPresenting_ = false;
};

// A legend in a layout row that puts as many entries on a line as the plot's width allows, up to
// `maxColumns`, so it never sets the plot's minimum width beyond its widest entry.
class WrappingLegend : public QCPLegend {
public:
    explicit WrappingLegend(int maxColumns) : maxColumns_(maxColumns) {}
    void update(UpdatePhase phase) override;

protected:
    QSize minimumOuterSizeHint() const override;

private:
    int columnsFor(int width) const;
    int maxColumns_;
};

// Replaces `plot`'s legend (inside its axis rect) with a WrappingLegend in a layout row of its own
// at `row`, where it covers no data.
WrappingLegend* useWrappingLegend(QCustomPlot* plot, int row, int maxColumns);

// A label that stays inside its clip rect (the axis rect): drawn right of its position, else
// left of it, else broken at its last " from " into two lines.
class InsideText : public QCPItemText {
public:
    explicit InsideText(QCustomPlot* plot) : QCPItemText(plot) {}
    void setFullText(const QString& text);

protected:
    void draw(QCPPainter* painter) override;

private:
    QRectF rectFor(Qt::Alignment a) const;
    QString full_;
};

// A vertical line spanning the axis rect at plot x, with an optional label at its top that stays
// inside the axis rect.
struct VLine {
    QCPItemLine* line = nullptr;
    InsideText* label = nullptr;
    void place(double x, const QString& text = {}, double labelY = 0.02);
    void hide();
    // Line and label in a grey that follows the palette (setInk in plot_appearance.h).
    void setInk(double t);
};
VLine addVLine(QCPAxisRect* rect, const QString& id, const QPen& pen, bool labelled);

// A line of small text in its own layout row below the title (wrapped to the plot's width):
// notes that must never cover data. They fold away at presentation scale (WrappedText).
QCPTextElement* addSubtitle(QCustomPlot* plot, const QString& id, int row = 1);

// Marks an item as an interaction aid (the selected-step line): exports leave it out.
void markInteractive(QCPLayerable* item);
bool isInteractive(const QCPLayerable* item);

// The note an empty chart shows in the middle of its axis rect, saying what to do.
QCPItemText* addEmptyNote(QCPAxisRect* rect, const QString& id, const QString& text);

// A small multi-line note pinned to a corner of the axis rect.
QCPItemText* addNote(QCPAxisRect* rect, const QString& id, Qt::Alignment corner);

// One mode's series: decode steps joined by a line, the cached prefill as a lone marker, because
// that step processes the whole prompt and is not a point on the per-token trend.
struct ModeSeries {
    QCPGraph* line = nullptr;
    QCPGraph* prefill = nullptr;
    void add(double x, double y, bool isPrefill);
    void clear();
    void setShown(bool shown);
};
// Object names: <id> for the line, <id>.prefill for the marker.
ModeSeries addModeSeries(QCPAxisRect* rect, const QString& id, const QString& label,
                         const QColor& c, bool predicted);

// Fits both axes to the visible data with a little headroom: values from zero (never below it
// when no value is negative), log axes over the positive data only. An axis with no data, or
// values that are all zero, keeps a plain 0-1 range and hides its tick labels: numbers there
// would describe nothing.
void rescale(QCPAxisRect* rect);

}  // namespace kvscope::charts
