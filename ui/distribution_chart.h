#pragma once
// The candidates at one step: the top tokens by raw logit, each as a pair of bars, the raw
// softmax beside the probability the sampler finally gave it, so a reader sees how temperature,
// top-k and top-p reshaped the distribution (under top-p most processed bars are zero; the raw
// ones are not) and which token was drawn. As many candidates as have room for an upright label.

#include "run_view.h"

#include <QWidget>

#include <vector>

class QCPBars;
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

    QCustomPlot* plot() const { return plot_; }
    // One bar per shown candidate, at key i + kPairOffset (processed) and i - kPairOffset (raw);
    // the tick of candidate i is at i.
    static constexpr double kPairOffset = 0.2;
    QCPBars* candidateBars() const { return candidates_; }  // the sampler's probabilities
    QCPBars* rawBars() const { return raw_; }               // softmax of the raw logits
    QCPBars* sampledBar() const { return sampled_; }        // over the sampled token's bar
    int shownCandidates() const { return shownCount_; }     // of the step's reported top
    QString title() const;
    int barAt(QPoint plotPos) const;  // -1 when the point is over no candidate's column
    QString barToolTip(int index) const;

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;
    void changeEvent(QEvent* event) override;

private:
    void buildPlot();
    void applyPalette();
    void showLegend(bool on);
    void fillBars();
    void updateAxes();
    void updateTitle();
    void chooseCount(const std::vector<QString>& labels);
    double axisWidth() const;
    void showEmpty();
    QString sampledText() const;

    RunView view_;
    StepResultPtr shown_;
    bool stale_ = true;
    std::vector<CandidateReport> top_;  // of shown_, kept for tooltips
    std::vector<QString> labels_;       // visible-whitespace token text, by candidate
    int sampledIndex_ = -1;             // in top_, or -1 when the sampled token is not there
    int shownCount_ = 0;                // candidates shown: the first of top_
    int labelChars_ = 8;                // labels elided to this many characters

    QCustomPlot* plot_ = nullptr;
    QCPTextElement* title_ = nullptr;
    QCPBars* raw_ = nullptr;
    QCPBars* candidates_ = nullptr;
    QCPBars* sampled_ = nullptr;
};

}  // namespace kvscope
