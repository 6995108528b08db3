#pragma once
// The Cost panel's Roofline tab: every step of the run as a point of achieved GFLOP/s against
// arithmetic intensity (FLOPs per byte moved: weights at their stored size, K/V read and
// written), naive and cached in their colours and the cached prefill marked, under this
// machine's two roofs (read bandwidth and GEMM rate, core/cost/machine_probe.h). Both axes are
// logarithmic: the bandwidth roof is then a line of slope 1 that bends into the flat compute
// roof at the ridge point. Hovering a point names the roof that bounds its step and how far
// below it the step ran (core/cost/roofline.h does the arithmetic).
//
// The plot's objectName is its export file stem, "roofline". Series: "roofline.naive",
// "roofline.cached" (decode steps), "roofline.prefill.cached", "roofline.roof.bandwidth",
// "roofline.roof.compute" (with ".label" items naming each roof), "roofline.selected" (the
// selected step, an interaction aid) and "roofline.note" (when the roofs were measured).

#include "cost/machine_probe.h"
#include "cost/roofline.h"
#include "run/step_result.h"

#include <QMetaObject>
#include <QPointF>
#include <QString>

#include <optional>
#include <vector>

class QCustomPlot;
class QCPGraph;
class QCPItemText;
class QCPTextElement;
class QWidget;

namespace kvscope {

class RooflineChart {
public:
    explicit RooflineChart(QWidget* parent);
    ~RooflineChart();
    RooflineChart(const RooflineChart&) = delete;
    RooflineChart& operator=(const RooflineChart&) = delete;

    QCustomPlot* plot() const { return plot_; }

    void clear();
    // One point per step; a step too fast for the clock (0 ms) has no rate and is left out.
    void add(const StepResult& s);
    // nullopt: not measured yet (`measuring`: a probe is running).
    void setRoofs(const std::optional<MachineRoofs>& roofs, bool measuring);
    // Shows the modes that ran, rings the selected step's points, fits the axes and the roofs.
    void update(bool naiveRan, bool cachedRan, std::optional<int> selectedPosition);

    // What hovering shows: the step nearest `pixel` (within a few pixels of its marker) as
    // pointToolTip describes it; empty when no point is that close.
    QString toolTipAt(const QPointF& pixel) const;
    // Step, mode, intensity, GFLOP/s, and the roof that bounds it with the share of it reached;
    // empty when the run has no such point.
    QString pointToolTip(Mode mode, int step) const;

private:
    struct Point {
        Mode mode = Mode::Cached;
        int step = 0, position = 0, promptLength = 0;
        bool prefill = false;
        double flops = 0, bytes = 0, milliseconds = 0;  // as measured, for the roofs to judge
        RooflinePoint at;                               // without roofs: intensity and rate only
    };

    QString describe(const Point& p) const;
    void placeRoofs(double xLower, double xUpper);
    void updateNote();
    void onMouseMove(const QPointF& pixel, const QPoint& global);

    QCustomPlot* plot_;
    QCPGraph *decode_[2], *prefill_[2];  // [naive, cached]
    QCPGraph *bandwidthRoof_, *computeRoof_, *selected_;
    QCPItemText *bandwidthLabel_, *computeLabel_;
    QCPTextElement* note_;
    std::vector<Point> points_;  // (steps of both modes, in arrival order)
    bool shown_[2] = {false, false};
    std::optional<MachineRoofs> roofs_;
    bool measuring_ = false;
    QMetaObject::Connection hover_;
};

}  // namespace kvscope
