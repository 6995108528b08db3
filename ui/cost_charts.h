#pragma once
// What generation costs, drawn from the run's StepResults and the core's closed-form FLOP counts:
// FLOPs per step, cumulative FLOPs with their power-law slopes, the per-component breakdown,
// measured time and throughput, the KV-cache memory paid for the compute saved, and each step on
// this machine's roofline (roofline_chart.h).
//
// Each plot's objectName is its export file stem (see namedPlots()): flops_per_step, cumulative,
// breakdown_naive, breakdown_cached (one per mode, the mode that did not run predicted from the
// closed form; the Breakdown tab shows the focus run's), time, memory, roofline. Series and markers
// carry objectNames too ("perStep.naive", "perStep.cached.prefill", "perStep.predicted.naive",
// "cumulative.crossover.cached", "breakdown.4", "cumulative.attention.naive",
// "cumulative.beyond.cached", "cumulative.reference.3", ...), so tests and tools can find them
// without reaching into this class.

#include "cost/machine_probe.h"
#include "run_view.h"

#include <QList>
#include <QPair>
#include <QWidget>

#include <cstdint>
#include <memory>
#include <optional>

class QCustomPlot;

namespace kvscope {

class RooflineChart;

class CostCharts : public QWidget {
    Q_OBJECT
public:
    explicit CostCharts(QWidget* parent = nullptr);
    ~CostCharts() override;

    void setView(const RunView& v);
    // Appends the steps that arrived since the last call and queues one replot per chart.
    void refresh();
    QList<QCustomPlot*> plots() const;
    QList<QPair<QString, QCustomPlot*>> namedPlots() const;  // (file stem, plot), for exports

    // Log-log axes (also a checkbox above the tabs, enabled on every tab but Breakdown, and
    // Roofline, whose axes are always logarithmic).
    void setLogScale(bool on);
    // Cumulative tab: attention FLOPs on their own beside the totals (with reference lines of
    // slope 1, 2 and 3 on log-log axes, always), and the curves continued dashed past the run's
    // last step with the closed form up to `length` tokens (0: not continued).
    void setShowAttention(bool on);
    bool showsAttention() const;
    void setExtension(std::int64_t length);
    std::int64_t extension() const;
    // The tabs, in order: per step, cumulative, breakdown, time, memory, roofline.
    void showTab(int index);
    int currentTab() const;
    // Whether the tab on screen has log-log axes to switch (see logScaleAvailableChanged).
    bool logScaleAvailable() const;
    // The exponent fitted to a mode's cumulative FLOPs (measured, or predicted when that mode did
    // not run); nullopt until there are enough steps.
    std::optional<double> cumulativeSlope(Mode m) const;

    // This machine's roofs for the Roofline tab; nullopt while unknown (`measuring`: a probe
    // runs). The charts never measure: the window's RoofsProbe does, on measureRoofsRequested.
    void setRoofs(const std::optional<MachineRoofs>& roofs, bool measuring = false);
    const RooflineChart& roofline() const;

Q_SIGNALS:
    // The shown tab changed between one with log-log axes and one without.
    void logScaleAvailableChanged(bool available);
    // The Roofline tab's "Measure roofs" button.
    void measureRoofsRequested();

private:
    void updateLogAvailability();
    void buildCumulativeOptions();
    void buildRooflineOptions();
    void reset();
    void appendNewSteps();
    void updateCharts();
    void replotShown();

    struct Impl;
    std::unique_ptr<Impl> d_;
};

}  // namespace kvscope
