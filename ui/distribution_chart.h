#pragma once
// The candidates at one step: the top-k tokens by raw logit as bars, with the probability the
// sampler finally gave them (or, on a toggle, the raw softmax), so a reader sees how
// temperature, top-k and top-p reshaped the distribution and which token was drawn.

#include "run_view.h"

#include <QWidget>

#include <vector>

class QCheckBox;
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
    QCPBars* candidateBars() const { return candidates_; }  // one bar per reported candidate
    QCPBars* sampledBar() const { return sampled_; }        // drawn over the sampled token's bar
    QString title() const;
    bool showingRaw() const;
    void setShowRaw(bool raw);
    int barAt(QPoint plotPos) const;  // -1 when the point is over no candidate's column
    QString barToolTip(int index) const;

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;
    void changeEvent(QEvent* event) override;

private:
    void buildPlot();
    void applyPalette();
    void fillBars();
    void updateAxes();
    void updateTitle();
    bool labelsFit() const;
    void showEmpty();
    QString sampledText() const;

    RunView view_;
    StepResultPtr shown_;
    bool shownRaw_ = false;
    bool stale_ = true;
    std::vector<CandidateReport> top_;  // of shown_, kept for tooltips
    std::vector<QString> labels_;       // visible-whitespace token text, by candidate
    int sampledIndex_ = -1;             // in top_, or -1 when the sampled token is not there

    QCheckBox* rawBox_ = nullptr;
    QCustomPlot* plot_ = nullptr;
    QCPTextElement* title_ = nullptr;
    QCPBars* candidates_ = nullptr;
    QCPBars* sampled_ = nullptr;
};

}  // namespace kvscope
