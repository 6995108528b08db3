#pragma once
// The attention matrix of one layer and head (or their mean) for the focus run up to the selected
// step, with an optional "recompute map" showing which cells that step actually computed: the
// whole triangle in naive mode, a single row reading the K/V cache in cached mode.
//
// The matrix is updated incrementally: rows are immutable and shared between steps, so each row is
// written into the colour map once per layer/head/scale choice, and scrubbing back only narrows
// the axes.
//
// Colour scales. A row of attention sums to 1 over up to n keys, and most heads put much of it on
// a few keys (often the first token), so on a linear 0-1 scale nearly every cell is the colour of
// 0. The scales on offer, in the order of what fraction of the triangle's cells a class can tell
// from the colour of 0 (tests/ui/heatmap_legibility.h; figures in the README):
//   log         log10 of the weight from 1e-4 to 1: the default
//   row max     each row divided by its largest weight: every row's strongest key shows, but
//               rows are no longer comparable with each other
//   percentile  linear, clipped at the 95th percentile of the shown cells' weights
//   linear      the weight itself, 0 to 1
// The title names the layer, head, run, step and scale, and so does the file name of an export.

#include "run_view.h"

#include <QString>
#include <QWidget>

#include <vector>

class QCheckBox;
class QComboBox;
class QLabel;
class QMouseEvent;
class QSpinBox;
class QCustomPlot;
class QCPColorMap;
class QCPColorScale;
class QCPCurve;
class QCPItemRect;
class QCPItemText;

namespace kvscope {

class PlotNote;

class AttentionHeatmap : public QWidget {
    Q_OBJECT
public:
    static constexpr int kMeanOfHeads = -1;
    enum class Scale { Log, RowMax, Percentile, Linear };
    static constexpr Scale kDefaultScale = Scale::Log;
    static constexpr double kClipPercentile = 95;
    static QString scaleName(Scale s);  // as the panel's box and the title say it
    static QString scaleKey(Scale s);   // for file names: "row-max", "p95", "log", "linear"

    explicit AttentionHeatmap(QWidget* parent = nullptr);

    void setView(const RunView& v);
    void refresh();
    QCustomPlot* plot() const { return plot_; }
    QCPColorMap* colorMap() const { return map_; }

    int layer() const;
    void setLayer(int layer);
    int head() const;  // kMeanOfHeads for the mean over heads
    void setHead(int head);
    bool recomputeMapShown() const;
    void setRecomputeMapShown(bool on);
    Scale scale() const;
    void setScale(Scale s);
    void setLogScale(bool on);  // log, or back to linear
    // The upper end of the colour range: 1, or the clipping percentile's weight.
    double colourTop() const;
    QString title() const;

    int shownRows() const { return shown_; }  // query positions on screen
    QString overlayText() const { return overlayText_; }
    // The recompute map's note, in a row of the plot's layout above the matrix (never over it);
    // out of the layout and hidden when there is nothing to say.
    const PlotNote* note() const { return note_; }
    // Rows written into the colour map since construction; shows that refresh is incremental.
    long long rowsWritten() const { return rowsWritten_; }

Q_SIGNALS:
    void cellHovered(int query, int key, float weight);

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    void buildControls();
    void buildPlot();
    void buildOverlay();
    void syncControls();
    void selectionChanged();
    void applyScale();

    bool syncRun(const RunRecord& rec, int stepIndex);
    void appendRows(const StepResult& step);
    void ensureCapacity(int rows);
    void writeRows(int upTo);
    double cellWeight(const AttentionRow& row, int key) const;
    double cellValue(const AttentionRow& row, int key) const;  // as the scale colours it
    void updateClip();
    void updateTitle(const StepResult* step, const QString& empty = {});

    void showEmpty(const QString& why);
    void updateAxes();
    void layoutGeometry(int axisWidth, int axisHeight);
    void placeStrip(double extraRows);
    void updateTickers(int axisWidth, int axisHeight, double extraRows);
    QString tokenLabel(int position) const;
    QString tokenAt(int position) const;

    void updateOverlay(const StepResult& step);
    void showNaiveOverlay(const StepResult& step);
    void showPrefillOverlay(const StepResult& step);
    void showCachedOverlay(const StepResult& step);
    void setTriangle(int rows);
    void showNote(const QString& text);
    void hideNote();
    void relayout();

    void onMouseMove(QMouseEvent* e);

    RunView view_;
    const Model* model_ = nullptr;

    QSpinBox* layerBox_ = nullptr;
    QComboBox* headBox_ = nullptr;
    QCheckBox* recomputeBox_ = nullptr;
    QComboBox* scaleBox_ = nullptr;

    QCustomPlot* plot_ = nullptr;
    QCPColorMap* map_ = nullptr;
    QCPColorScale* scale_ = nullptr;
    QCPCurve* triangle_ = nullptr;
    QCPItemRect* newRow_ = nullptr;
    QCPItemRect* cacheStrip_ = nullptr;
    QCPItemRect* freshKey_ = nullptr;
    QCPItemText* stripText_ = nullptr;
    PlotNote* note_ = nullptr;
    PlotNote* title_ = nullptr;   // row 0 of the plot's layout, above the note
    std::vector<double> sample_;  // cells the percentile is taken over, reused
    double clipTop_ = 1;

    StepResultPtr firstStep_;            // identifies the run the history belongs to
    std::vector<AttentionRowPtr> rows_;  // history by query position
    std::size_t scanned_ = 0;            // steps of the run already folded into rows_
    int capacity_ = 0;                   // rows/columns the colour map data holds
    int written_ = 0;  // rows 0..written_-1 of the colour map hold the current choice
    int shown_ = 0;
    int triangleRows_ = -1;
    bool stripShown_ = false;  // the cached overlay's K/V strip sits below the matrix
    long long rowsWritten_ = 0;
    QString overlayText_;
};

}  // namespace kvscope
