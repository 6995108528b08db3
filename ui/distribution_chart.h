#pragma once
// The candidates at one step: the top tokens by raw logit, each as a pair of bars, the raw
// softmax beside the probability the sampler finally gave it, so a reader sees how temperature,
// top-k and top-p reshaped the distribution (under top-p most processed bars are zero; the raw
// ones are not) and which token was drawn. As many candidates as have room for an upright label.
//
// A selector walks the sampler's chain stage by stage (core/run/sampler.h): after each stage its
// candidates, each bar beside what the stage before gave it; and the draw, where the uniform
// number u is a line across the cumulative distribution of the survivors and the drawn token is
// the column where the staircase first rises above it. Exports name the stage in their title and
// file name.

#include "run_view.h"

#include <QWidget>

#include <vector>

class QComboBox;
class QCPBars;
class QCPCurve;
class QCPGraph;
class QCPItemStraightLine;
class QCPItemText;
class QCPTextElement;
class QCustomPlot;

namespace kvscope {

class DistributionChart : public QWidget {
    Q_OBJECT
public:
    explicit DistributionChart(QWidget* parent = nullptr);

    void setView(const RunView& v);
    // Redraws only when the shown step, the toggle or the palette changed.
    void refresh();

    // What the chart shows: the overview (raw beside final, by raw logit), one stage of the
    // chain, or the draw.
    static constexpr int kOverview = 0;  // then 1 + int(SamplerStage) for each stage
    static constexpr int kDraw = 1 + kSamplerStages;
    int shownStage() const;
    void setShownStage(int stage);
    static QString stageName(int stage);  // "after top-p", "the draw"
    static QString stageKey(int stage);   // for file names: "top-p", "draw"; "" for the overview

    QCustomPlot* plot() const { return plot_; }
    // One bar per shown candidate, at key i + kPairOffset (processed) and i - kPairOffset (raw);
    // the tick of candidate i is at i.
    static constexpr double kPairOffset = 0.2;
    QCPBars* candidateBars() const { return candidates_; }     // the sampler's probabilities
    QCPBars* rawBars() const { return raw_; }                  // softmax of the raw logits
    QCPBars* sampledBar() const { return sampled_; }           // over the sampled token's bar
    QCPCurve* cumulativeCurve() const { return cumulative_; }  // the draw: staircase on yAxis2
    QCPItemStraightLine* uLine() const { return uLine_; }      // the draw: u on yAxis2
    QCPGraph* drawMarker() const { return marker_; }           // the draw: (drawn column, u)
    int shownCandidates() const { return shownCount_; }        // of the step's reported top
    QString title() const;
    int barAt(QPoint plotPos) const;  // -1 when the point is over no candidate's column
    QString barToolTip(int index) const;

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    void buildPlot();
    void applyPalette();
    void showLegend(bool on);
    void fillBars();
    void fillDraw();
    void hideDraw();
    QString stageTitle() const;
    QString drawTitle() const;
    QString referenceText() const;
    void updateExportTag();
    void updateAxes();
    void updateTitle();
    void chooseCount(const std::vector<QString>& labels);
    double axisWidth() const;
    void showEmpty();
    QString sampledText() const;

    RunView view_;
    StepResultPtr shown_;
    bool stale_ = true;
    struct Bar {
        int id;
        float before;  // the light bar: raw (overview) or the previous stage's
        float after;   // the coloured bar: final (overview) or this stage's
    };
    std::vector<Bar> bars_;        // what the current view lists, before choosing how many fit
    std::vector<Bar> top_;         // the shown ones, kept for tooltips
    std::vector<QString> labels_;  // visible-whitespace token text, by candidate
    int sampledIndex_ = -1;        // in top_, or -1 when the sampled token is not there
    int shownCount_ = 0;           // candidates shown: the first of top_
    int labelChars_ = 8;           // labels elided to this many characters

    QComboBox* stageBox_ = nullptr;
    QCustomPlot* plot_ = nullptr;
    QCPTextElement* title_ = nullptr;
    QCPCurve* cumulative_ = nullptr;
    QCPItemStraightLine* uLine_ = nullptr;
    QCPItemText* uLabel_ = nullptr;
    QCPGraph* marker_ = nullptr;
    QCPBars* raw_ = nullptr;
    QCPBars* candidates_ = nullptr;
    QCPBars* sampled_ = nullptr;
};

}  // namespace kvscope
