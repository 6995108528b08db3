#include "roofline_chart.h"

#include "chart_style.h"
#include "plot_appearance.h"
#include "theme.h"

#include "qcustomplot_include.h"

#include <QToolTip>
#include <QtMath>

#include <algorithm>
#include <cmath>
#include <limits>

namespace kvscope {
namespace {

constexpr Mode kModes[2] = {Mode::Naive, Mode::Cached};
int idx(Mode m) {
    return m == Mode::Naive ? 0 : 1;
}
QString name(Mode m) {
    return QString::fromLatin1(modeName(m));
}
// Three significant digits, no exponent for the values a roofline shows (0.01 to 10^5).
QString num(double v) {
    return QString::number(v, 'g', v >= 1000 ? 4 : 3);
}

constexpr double kHoverPx = 10;  // how close the pointer must come to a marker

// A label along a line of the plot: its angle follows the line as drawn, which depends on the
// axis rect's size in pixels (on screen and in every export), so it is taken when drawing.
class SlopeText : public QCPItemText {
public:
    SlopeText(QCustomPlot* plot, QCPGraph* line) : QCPItemText(plot), line_(line) {}

protected:
    void draw(QCPPainter* painter) override {
        if (line_->data()->size() >= 2) {
            const auto a = line_->data()->constBegin();
            const auto b = line_->data()->constEnd() - 1;
            const QPointF pa = line_->coordsToPixels(a->key, a->value);
            const QPointF pb = line_->coordsToPixels(b->key, b->value);
            mRotation = qRadiansToDegrees(std::atan2(pb.y() - pa.y(), pb.x() - pa.x()));
        }
        QCPItemText::draw(painter);
    }

private:
    QCPGraph* line_;
};

QCPItemText* roofLabel(QCPItemText* t, const QString& id) {
    t->setObjectName(id);
    t->setPositionAlignment(Qt::AlignHCenter | Qt::AlignBottom);
    t->setPadding(QMargins(2, 0, 2, 3));  // just above its line
    charts::setInk(t, 0);
    QFont f = t->font();
    f.setPointSizeF(9);
    t->setFont(f);
    t->setVisible(false);
    return t;
}

std::optional<whatif::Roofs> validRoofs(const std::optional<MachineRoofs>& r) {
    if (!r || !r->roofs().valid()) return std::nullopt;
    return r->roofs();
}

}  // namespace

RooflineChart::RooflineChart(QWidget* parent)
    : plot_(charts::newPlot(QStringLiteral("roofline"),
                            QStringLiteral("Roofline: achieved rate against FLOPs per byte moved"),
                            parent)) {
    QCPAxisRect* r = plot_->axisRect();
    charts::labelAxes(r, QStringLiteral("arithmetic intensity (FLOP per byte moved, log)"),
                      QStringLiteral("achieved GFLOP/s (log)"), false);
    for (QCPAxis* a : {plot_->xAxis, plot_->yAxis}) {
        a->setScaleType(QCPAxis::stLogarithmic);
        a->setTicker(charts::plainLogTicker());
    }
    const QColor ink = plot_->palette().color(QPalette::Text);
    const QPen roofPen(ink, 1.8);
    bandwidthRoof_ = charts::addLine(r, QStringLiteral("roofline.roof.bandwidth"),
                                     QStringLiteral("memory roof"), ink, false);
    computeRoof_ = charts::addLine(r, QStringLiteral("roofline.roof.compute"),
                                   QStringLiteral("compute roof"), ink, false);
    for (QCPGraph* g : {bandwidthRoof_, computeRoof_}) {
        g->setPen(roofPen);
        charts::setInk(g, 0);
    }
    for (Mode m : kModes) {
        const QColor c = theme::modeColor(m);
        QColor fill = c;
        fill.setAlpha(150);  // hundreds of decode steps overlap: the dense places show darker
        QCPGraph* g = charts::addMarkers(r, QStringLiteral("roofline.") + name(m),
                                         name(m) + QStringLiteral(" · each step"), c, true);
        g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, fill, fill, 6));
        decode_[idx(m)] = g;
        // The prefill passes the whole prompt at once: a point of its own, far right of the
        // decode steps, which the legend names.
        prefill_[idx(m)] = charts::addMarkers(r, QStringLiteral("roofline.prefill.") + name(m),
                                              name(m) + QStringLiteral(" prefill"), c, true);
        prefill_[idx(m)]->setScatterStyle(
            QCPScatterStyle(QCPScatterStyle::ssDiamond, QPen(ink, 1.2), QBrush(c), 12));
        charts::setInk(prefill_[idx(m)], 0);  // the outline; the line is not drawn
    }
    selected_ = charts::addMarkers(r, QStringLiteral("roofline.selected"),
                                   QStringLiteral("selected step"), ink, false);
    selected_->setScatterStyle(
        QCPScatterStyle(QCPScatterStyle::ssCircle, QPen(ink, 1.5), Qt::NoBrush, 16));
    charts::setInk(selected_, 0);
    charts::markInteractive(selected_);
    bandwidthLabel_ =
        roofLabel(new SlopeText(plot_, bandwidthRoof_), "roofline.roof.bandwidth.label");
    computeLabel_ = roofLabel(new QCPItemText(plot_), "roofline.roof.compute.label");
    computeLabel_->setPositionAlignment(Qt::AlignRight | Qt::AlignBottom);
    computeLabel_->setPadding(QMargins(2, 0, 6, 3));
    note_ = charts::addSubtitle(plot_, QStringLiteral("roofline.note"));
    // In a row of its own under the note: where the steps fall depends on the machine and the
    // model (a small model's decode steps run from cache, above the memory roof), so no corner
    // of the axis rect is reliably free.
    charts::useWrappingLegend(plot_, 2, 3);
    hover_ = QObject::connect(plot_, &QCustomPlot::mouseMove, plot_, [this](QMouseEvent* e) {
        onMouseMove(e->position(), e->globalPosition().toPoint());
    });
    clear();
}

RooflineChart::~RooflineChart() {
    QObject::disconnect(hover_);
}

void RooflineChart::clear() {
    for (QCPGraph* g : {decode_[0], decode_[1], prefill_[0], prefill_[1], selected_})
        g->data()->clear();
    points_.clear();
}

void RooflineChart::add(const StepResult& s) {
    const auto at = rooflinePoint(s, std::nullopt);
    if (!at) return;
    points_.push_back({s.mode, s.step, s.position, s.promptLength, s.prefill,
                       double(s.flops.total()), double(s.bytes.total()), s.milliseconds, *at});
    (s.prefill ? prefill_ : decode_)[idx(s.mode)]->addData(at->intensity, at->gflops);
}

void RooflineChart::setRoofs(const std::optional<MachineRoofs>& roofs, bool measuring) {
    roofs_ = roofs;
    measuring_ = measuring;
}

void RooflineChart::update(bool naiveRan, bool cachedRan, std::optional<int> selectedPosition) {
    shown_[0] = naiveRan;
    shown_[1] = cachedRan;
    // Re-listed in one order every time: a series shown again would otherwise join at the end
    // (the cached prefill arrives before the first cached decode step).
    for (QCPGraph* g : {decode_[0], decode_[1], prefill_[0], prefill_[1]}) g->removeFromLegend();
    for (QCPGraph* g : {decode_[0], decode_[1], prefill_[0], prefill_[1]}) {
        const int i = g == decode_[0] || g == prefill_[0] ? 0 : 1;
        charts::setShown(g, shown_[i] && !g->data()->isEmpty());
    }
    selected_->data()->clear();
    double xLo = std::numeric_limits<double>::infinity(), xHi = 0;
    double yLo = std::numeric_limits<double>::infinity(), yHi = 0;
    for (const Point& p : points_) {
        if (!shown_[idx(p.mode)]) continue;
        xLo = std::min(xLo, p.at.intensity), xHi = std::max(xHi, p.at.intensity);
        yLo = std::min(yLo, p.at.gflops), yHi = std::max(yHi, p.at.gflops);
        if (selectedPosition && p.position == *selectedPosition)
            selected_->addData(p.at.intensity, p.at.gflops);
    }
    selected_->setVisible(!selected_->data()->isEmpty());
    selected_->removeFromLegend();
    if (xHi == 0) {
        // No run, or no step the clock could time: nothing to draw roofs against.
        for (QCPGraph* g : {bandwidthRoof_, computeRoof_}) g->setVisible(false);
        bandwidthLabel_->setVisible(false);
        computeLabel_->setVisible(false);
        note_->setVisible(false);
        charts::rescale(plot_->axisRect());
        return;
    }
    // The ridge in sight, and room above the compute roof for its label.
    if (const auto roofs = validRoofs(roofs_)) {
        const double ridge = ridgeIntensity(*roofs);
        xLo = std::min(xLo, ridge), xHi = std::max(xHi, ridge);
        yHi = std::max(yHi, roofs->gemmGflops);
    }
    plot_->xAxis->setRange(xLo / 2, xHi * 2);
    plot_->yAxis->setRange(yLo / 3, yHi * 3);
    for (QCPAxis* a : {plot_->xAxis, plot_->yAxis}) a->setTickLabels(true);
    placeRoofs(xLo / 2, xHi * 2);
    updateNote();
}

// The bent line of the roofline model: bandwidth x intensity from the left edge up to the
// ridge, the GEMM rate from there to the right edge.
void RooflineChart::placeRoofs(double xLower, double xUpper) {
    bandwidthRoof_->data()->clear();
    computeRoof_->data()->clear();
    const auto roofs = validRoofs(roofs_);
    for (QCPGraph* g : {bandwidthRoof_, computeRoof_}) {
        g->setVisible(roofs.has_value());
        g->removeFromLegend();  // the labels on the lines name them
    }
    bandwidthLabel_->setVisible(roofs.has_value());
    computeLabel_->setVisible(roofs.has_value());
    if (!roofs) return;
    const double bw = roofs->bandwidthGBs, gemm = roofs->gemmGflops;
    const double ridge = ridgeIntensity(*roofs);
    bandwidthRoof_->addData(xLower, bw * xLower);
    bandwidthRoof_->addData(ridge, gemm);
    computeRoof_->addData(ridge, gemm);
    computeRoof_->addData(xUpper, gemm);
    // Each label above its line, along the part of it in sight (on log axes, fractions of that part
    // are fractions of its log). The flat roof's half-way point is free: no step beats the GEMM
    // rate by much. Steps can sit above the slope, though (a small model's weights read from
    // cache), so the memory label goes where it covers fewest of them.
    const double slopeFrom = std::max(xLower, plot_->yAxis->range().lower / bw);
    const double span = std::log(ridge / slopeFrom);
    double xSlope = std::sqrt(slopeFrom * ridge), clearest = -1;
    for (double t : {0.5, 0.35, 0.65, 0.2}) {  // not at the ridge: the compute label ends there
        const double x = slopeFrom * std::exp(t * span);
        double nearest = std::numeric_limits<double>::infinity();  // log distance to a step
        for (const Point& p : points_)
            if (shown_[idx(p.mode)] && p.at.gflops > 0.7 * bw * p.at.intensity)
                nearest = std::min(nearest, std::abs(std::log(p.at.intensity / x)));
        // Half the label's length, about a third of the slope's log span, is far enough.
        if (std::min(nearest, span / 3) > clearest)
            clearest = std::min(nearest, span / 3), xSlope = x;
    }
    bandwidthLabel_->position->setCoords(xSlope, bw * xSlope);
    bandwidthLabel_->setText(QStringLiteral("memory roof: %1 GB/s read").arg(num(bw)));
    // Its right end at the right edge: centred on a short flat part it would run off the plot.
    computeLabel_->position->setCoords(xUpper, gemm);
    computeLabel_->setText(QStringLiteral("compute roof: %1 GFLOP/s GEMM").arg(num(gemm)));
}

void RooflineChart::updateNote() {
    note_->setVisible(true);
    // Short: on a 1280x720 screen every line here is a line less of chart.
    const QString bytes = QStringLiteral("Bytes: weights as stored, K/V read and written.");
    if (const auto roofs = validRoofs(roofs_)) {
        QString when =
            roofs_->measured.isValid()
                ? QStringLiteral("measured %1 UTC")
                      .arg(roofs_->measured.toUTC().toString(QStringLiteral("yyyy-MM-dd hh:mm")))
                : QStringLiteral("given");
        if (roofs_->threads > 0) when += QStringLiteral(" at %1 threads").arg(roofs_->threads);
        // No word of hovering: the note is in every export, where nothing can be hovered.
        note_->setText(QStringLiteral("Roofs %1, meeting at %2 FLOP/byte. %3")
                           .arg(when, num(ridgeIntensity(*roofs)), bytes));
    } else if (measuring_) {
        note_->setText(QStringLiteral("Measuring this machine's roofs (about a second, in the "
                                      "background)… %1")
                           .arg(bytes));
    } else {
        note_->setText(QStringLiteral("Roofs not measured yet: press Measure roofs, or run "
                                      "kvscope --headless --measure-roofs once. %1")
                           .arg(bytes));
    }
}

QString RooflineChart::describe(const Point& p) const {
    QString head = p.prefill
                       ? QStringLiteral("%1 prefill, step %2: the %3 prompt tokens in one pass")
                             .arg(name(p.mode))
                             .arg(p.step)
                             .arg(p.promptLength)
                       : QStringLiteral("%1, step %2 (n\u00a0=\u00a0%3)")
                             .arg(name(p.mode))
                             .arg(p.step)
                             .arg(p.position);
    head += QStringLiteral("\n%1 FLOP/byte, %2 GFLOP/s").arg(num(p.at.intensity), num(p.at.gflops));
    const auto roofs = validRoofs(roofs_);
    if (!roofs) return head + QStringLiteral("\nroofs not measured yet: no bound to compare with");
    const auto at = rooflinePoint(p.flops, p.bytes, p.milliseconds, roofs);
    const double percent = 100 * at->fractionOfRoof;
    const QString roof =
        at->bound == Roof::Bandwidth
            ? QStringLiteral("memory bandwidth (%1 GB/s)").arg(num(roofs->bandwidthGBs))
            : QStringLiteral("compute (GEMM %1 GFLOP/s)").arg(num(roofs->gemmGflops));
    head += QStringLiteral("\nbound by %1: ran at %2% of the roof").arg(roof, num(percent));
    // Under the slope the roof's height depends on the intensity: say what it is there.
    if (at->bound == Roof::Bandwidth)
        head += QStringLiteral(" (%1 GFLOP/s at this intensity)").arg(num(at->attainableGflops));
    // The probe reads 256 MB, more than any cache; a small model's weights can stay in one.
    if (percent > 100)
        head += QStringLiteral(
            "\nabove the roof: its bytes came partly from cache, faster than "
            "the probe's reads from memory");
    return head;
}

QString RooflineChart::pointToolTip(Mode mode, int step) const {
    for (const Point& p : points_)
        if (p.mode == mode && p.step == step) return describe(p);
    return {};
}

QString RooflineChart::toolTipAt(const QPointF& pixel) const {
    const Point* nearest = nullptr;
    double best = kHoverPx * kHoverPx;
    for (const Point& p : points_) {
        if (!shown_[idx(p.mode)]) continue;
        const double dx = plot_->xAxis->coordToPixel(p.at.intensity) - pixel.x();
        const double dy = plot_->yAxis->coordToPixel(p.at.gflops) - pixel.y();
        if (dx * dx + dy * dy <= best) best = dx * dx + dy * dy, nearest = &p;
    }
    return nearest ? describe(*nearest) : QString();
}

void RooflineChart::onMouseMove(const QPointF& pixel, const QPoint& global) {
    const QString text = toolTipAt(pixel);
    if (text.isEmpty())
        QToolTip::hideText();
    else
        QToolTip::showText(global, text, plot_);
}

}  // namespace kvscope
