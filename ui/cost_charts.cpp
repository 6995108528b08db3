#include "cost_charts.h"

#include "chart_style.h"
#include "cost/curve_fit.h"
#include "cost/what_if.h"
#include "plot_appearance.h"
#include "roofline_chart.h"
#include "theme.h"

#include "qcustomplot_include.h"

#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QSignalBlocker>
#include <QStackedWidget>
#include <QTabWidget>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <span>

namespace kvscope {
namespace {

using charts::ModeSeries;
using charts::VLine;

constexpr Mode kModes[2] = {Mode::Naive, Mode::Cached};
int idx(Mode m) {
    return m == Mode::Naive ? 0 : 1;
}
Mode otherMode(Mode m) {
    return m == Mode::Naive ? Mode::Cached : Mode::Naive;
}
QString name(Mode m) {
    return QString::fromLatin1(modeName(m));
}
QString str(const char* s) {
    return QString::fromUtf8(s);
}

const QString kPositionAxis = QStringLiteral("sequence length n (tokens the step's pass sees)");

// Greys, as shares of the way from the palette's text colour to its base (charts::setInk), so
// they read on dark as on white.
constexpr double kGuideInk = 0.47;      // the selected step, the slopes' labels
constexpr double kReferenceInk = 0.59;  // reference slopes: behind the data
constexpr double kStrongInk = 0.35;     // the ratio curve, the breakdown's crossover

QPen selectionPen() {
    return QPen(Qt::gray, 1.2, Qt::DashDotLine);
}

// What a refresh hands every chart: the view, the model's shape, and which modes ran.
struct Ctx {
    const RunView& view;
    const ModelConfig* config;  // null when there is no run
    bool ran[2];
    bool comparing() const { return ran[0] && ran[1]; }
};

const QString kEmptyText = QStringLiteral(
    "No run yet.\nType a prompt and press Generate (Ctrl+Return):\nthe cost of every step appears "
    "here.");

// A chart receives each step once, in order, so its series grow by appending.
class Chart {
public:
    explicit Chart(QCustomPlot* p)
        : plot(p),
          empty_(charts::addEmptyNote(p->axisRect(), p->objectName() + QStringLiteral(".empty"),
                                      kEmptyText)) {}
    virtual ~Chart() = default;
    // Before the first run: a note saying what to do, and no legend listing nothing.
    void showEmptyState(bool empty) {
        empty_->setVisible(empty);
        plot->legend->setVisible(!empty && plot->legend->itemCount() > 0);
    }
    virtual void reset(const Ctx& c) = 0;
    virtual void add(const Ctx& c, const StepResult& s) = 0;
    virtual void update(const Ctx& c, std::optional<double> selectedX) = 0;
    virtual void setLog(bool) {}
    QCustomPlot* const plot;

private:
    QCPItemText* empty_;
};

// The selected step's marker: an interaction aid, which exports leave out.
VLine selectionLine(QCPAxisRect* r, const QString& id) {
    VLine v = charts::addVLine(r, id, selectionPen(), false);
    charts::setInk(v.line, kGuideInk);
    charts::markInteractive(v.line);
    return v;
}

void placeSelection(VLine& line, std::optional<double> x) {
    if (x)
        line.place(*x);
    else
        line.hide();
}

// --- FLOPs per step ---------------------------------------------------------------------------

class PerStepChart : public Chart {
public:
    explicit PerStepChart(QWidget* parent)
        : Chart(charts::newPlot(QStringLiteral("flops_per_step"),
                                QStringLiteral("FLOPs per generation step"), parent)) {
        QCPAxisRect* r = plot->axisRect();
        charts::labelAxes(r, kPositionAxis, QStringLiteral("FLOPs per step"), true);
        for (Mode m : kModes) {
            const QColor c = theme::modeColor(m);
            measured_[idx(m)] = charts::addModeSeries(r, "perStep." + name(m), name(m), c, false);
            predicted_[idx(m)] = charts::addModeSeries(r, "perStep.predicted." + name(m),
                                                       name(m) + " (predicted)", c, true);
        }
        // In the top-left corner, with an arrow down to the marker: both lines start at the
        // bottom left and the naive one rises to the right (in log scale too), so that corner
        // stays empty, while beside the marker the note sat on the cached line.
        prefillNote_ = new QCPItemText(plot);
        prefillNote_->setObjectName(QStringLiteral("perStep.prefillNote"));
        prefillNote_->position->setType(QCPItemPosition::ptAxisRectRatio);
        prefillNote_->position->setAxisRect(r);
        prefillNote_->position->setCoords(0.03, 0.04);
        prefillNote_->setPositionAlignment(Qt::AlignLeft | Qt::AlignTop);
        prefillNote_->setPadding(QMargins(2, 2, 2, 2));
        prefillArrow_ = new QCPItemLine(plot);
        prefillArrow_->setObjectName(QStringLiteral("perStep.prefillArrow"));
        prefillArrow_->start->setParentAnchor(prefillNote_->bottomLeft);
        prefillArrow_->start->setCoords(12, 0);
        prefillArrow_->setHead(QCPLineEnding(QCPLineEnding::esSpikeArrow, 8, 10));
        prefillArrow_->setPen(QPen(theme::modeColor(Mode::Cached), 1));
        prefillArrow_->setVisible(false);
        // Right, half-way up: between naive at the top and cached at the bottom, in linear and
        // log scale alike.
        r->insetLayout()->setInsetAlignment(0, Qt::AlignRight | Qt::AlignVCenter);
        prefillNote_->setColor(theme::modeColor(Mode::Cached));
        select_ = selectionLine(r, QStringLiteral("perStep.selected"));
    }

    void reset(const Ctx&) override {
        for (int i = 0; i < 2; ++i) {
            measured_[i].clear();
            predicted_[i].clear();
        }
        prefillNote_->setVisible(false);
        prefillArrow_->setVisible(false);
    }

    void add(const Ctx& c, const StepResult& s) override {
        measured_[idx(s.mode)].add(s.position, double(s.flops.total()), s.prefill);
        if (s.prefill) notePrefill(s.position, double(s.flops.total()), s.promptLength);
        if (c.comparing()) return;
        // The mode that is not running, drawn from its closed form over the same positions.
        const Mode o = otherMode(s.mode);
        const bool prefill = o == Mode::Cached && s.position == s.promptLength;
        const FlopBreakdown f =
            prefill ? prefillFlops(*c.config, s.promptLength) : stepFlops(*c.config, s.position, o);
        predicted_[idx(o)].add(s.position, double(f.total()), prefill);
        if (prefill) notePrefill(s.position, double(f.total()), s.promptLength);
    }

    void update(const Ctx& c, std::optional<double> x) override {
        for (Mode m : kModes) {
            measured_[idx(m)].setShown(c.ran[idx(m)]);
            predicted_[idx(m)].setShown(c.config && !c.ran[idx(m)]);
        }
        charts::rescale(plot->axisRect());
        placeSelection(select_, x);
    }

    void setLog(bool on) override {
        charts::setLogAxis(plot->xAxis, on, false);
        charts::setLogAxis(plot->yAxis, on, true);
    }

private:
    void notePrefill(double x, double y, int promptLength) {
        prefillArrow_->end->setCoords(x, y);
        prefillArrow_->setVisible(true);
        prefillNote_->setText(
            promptLength == 1 ? QStringLiteral("prefill: 1 token in one pass")
                              : QStringLiteral("prefill: %1 tokens in one pass").arg(promptLength));
        prefillNote_->setVisible(true);
    }

    ModeSeries measured_[2], predicted_[2];
    QCPItemText* prefillNote_;
    QCPItemLine* prefillArrow_;
    VLine select_;
};

// --- Cumulative FLOPs, their slopes, and the naive/cached ratio --------------------------------

// One mode's cumulative FLOPs, measured or predicted, at each step so far.
struct CumulativeSeries {
    std::vector<double> position, generated, flops, attention;
    bool predicted = false;
};

// Lengths from `from` to `to` (from < to), evenly spaced on a log axis, whole numbers.
std::vector<std::int64_t> logSteps(std::int64_t from, std::int64_t to, int points) {
    std::vector<std::int64_t> out{from};
    const double ratio = std::log(double(to) / double(from));
    for (int i = 1; i <= points; ++i) {
        const auto n = std::int64_t(std::llround(double(from) * std::exp(ratio * i / points)));
        if (n > out.back()) out.push_back(n);
    }
    if (out.back() != to) out.push_back(to);
    return out;
}

// The local power law of a run's cumulative FLOPs against the tokens it generated, as the
// chart's slopes are fitted: the log-log slope over [T / 1.2, 1.2 T] at T = n - prompt + 1, for
// a run from `prompt` tokens.
double localSlope(const ModelConfig& c, std::int64_t prompt, std::int64_t n, Mode m) {
    const std::int64_t t = std::max<std::int64_t>(1, n - prompt + 1);
    const std::int64_t a = std::max<std::int64_t>(1, std::llround(double(t) / 1.2));
    const std::int64_t b = std::max<std::int64_t>(a + 1, std::llround(double(t) * 1.2));
    auto total = [&](std::int64_t k) {
        return whatif::cumulativeSplit(c, prompt, prompt + k - 1, m).total();
    };
    return std::log(total(b) / total(a)) / std::log(double(b) / double(a));
}

struct SlopeFit {
    double slope = 0;
    double from = 0, to = 0;  // positions covered
    bool attentionDominated = false;
};

// The exponent shows only where attention dominates, so fit beyond the crossover when the run got
// there (and has a few points past it); otherwise the last half, where the trend is steepest.
std::optional<SlopeFit> fitSlope(const CumulativeSeries& s, std::optional<std::int64_t> crossover) {
    const std::size_t n = s.position.size();
    std::size_t from = n / 2;
    bool attention = false;
    if (crossover) {
        const auto it = std::lower_bound(s.position.begin(), s.position.end(), double(*crossover));
        const std::size_t at = std::size_t(it - s.position.begin());
        if (n >= at + 3) {
            from = at;
            attention = true;
        }
    }
    const auto fit =
        fitPowerLaw(std::span(s.generated).subspan(from), std::span(s.flops).subspan(from));
    if (!fit) return std::nullopt;
    return SlopeFit{fit->slope, s.position[from], s.position.back(), attention};
}

class CumulativeChart : public Chart {
public:
    explicit CumulativeChart(QWidget* parent)
        : Chart(charts::newPlot(QStringLiteral("cumulative"),
                                QStringLiteral("Cumulative FLOPs since the run started"), parent)) {
        top_ = plot->axisRect();
        ratioRect_ = charts::addRectBelow(plot, 0.45);
        charts::labelAxes(top_, QString(), QStringLiteral("cumulative FLOPs"), true);
        charts::labelAxes(ratioRect_, kPositionAxis, QStringLiteral("naive ÷ cached"), false);
        ratioRect_->axis(QCPAxis::atLeft)->ticker()->setTickCount(3);
        for (Mode m : kModes) {
            const QColor c = theme::modeColor(m);
            const int i = idx(m);
            measured_[i] = charts::addLine(top_, "cumulative." + name(m), name(m), c, false);
            predicted_[i] = charts::addLine(top_, "cumulative.predicted." + name(m),
                                            name(m) + " (predicted)", c, true);
            QPen pen(c, 1.2, Qt::DotLine);
            crossover_[i] = charts::addVLine(top_, "cumulative.crossover." + name(m), pen, true);
        }
        for (Mode m : kModes) {
            const QColor c = theme::modeColor(m);
            const int i = idx(m);
            attention_[i] = charts::addLine(top_, "cumulative.attention." + name(m),
                                            name(m) + " attention alone", c, false);
            attention_[i]->setPen(QPen(c, 1.2));
            attentionPredicted_[i] =
                charts::addLine(top_, "cumulative.attention.predicted." + name(m),
                                name(m) + " attention alone (predicted)", c, true);
            attentionPredicted_[i]->setPen(QPen(c, 1.2, Qt::DashLine));
            beyond_[i] = charts::addLine(top_, "cumulative.beyond." + name(m),
                                         QStringLiteral("beyond the run: closed form"), c, true);
            beyondAttention_[i] = charts::addLine(top_, "cumulative.beyond.attention." + name(m),
                                                  name(m) + " attention beyond the run", c, true);
            beyondAttention_[i]->setPen(QPen(c, 1.0, Qt::DashLine));
        }
        for (int k = 0; k < 3; ++k) {
            reference_[k] =
                charts::addLine(top_, QStringLiteral("cumulative.reference.%1").arg(k + 1),
                                QStringLiteral("slope %1").arg(k + 1), Qt::gray, false);
            reference_[k]->setPen(QPen(Qt::gray, 1.0));
            charts::setInk(reference_[k], kReferenceInk);
            referenceLabel_[k] = new QCPItemText(plot);
            referenceLabel_[k]->setObjectName(
                QStringLiteral("cumulative.reference.%1.label").arg(k + 1));
            referenceLabel_[k]->setClipAxisRect(top_);
            referenceLabel_[k]->position->setAxes(top_->axis(QCPAxis::atBottom),
                                                  top_->axis(QCPAxis::atLeft));
            referenceLabel_[k]->setPositionAlignment(Qt::AlignLeft | Qt::AlignBottom);
            charts::setInk(referenceLabel_[k], kGuideInk);
            referenceLabel_[k]->setText(QStringLiteral("slope %1").arg(k + 1));
            referenceLabel_[k]->setVisible(false);
        }
        ratio_ = charts::addLine(ratioRect_, QStringLiteral("cumulative.ratio"),
                                 QStringLiteral("naive ÷ cached"), Qt::gray, false);
        charts::setInk(ratio_, kStrongInk);
        ratio_->removeFromLegend();
        notes_ = charts::addSubtitle(plot, QStringLiteral("cumulative.notes"));
        ratioNote_ = charts::addNote(ratioRect_, QStringLiteral("cumulative.ratioNote"),
                                     Qt::AlignLeft | Qt::AlignTop);
        select_[0] = selectionLine(top_, QStringLiteral("cumulative.selected"));
        select_[1] = selectionLine(ratioRect_, QStringLiteral("cumulative.ratio.selected"));
    }

    void reset(const Ctx&) override {
        for (int i = 0; i < 2; ++i) {
            for (QCPGraph* g : {measured_[i], predicted_[i], attention_[i], attentionPredicted_[i],
                                beyond_[i], beyondAttention_[i]})
                g->data()->clear();
            series_[i] = CumulativeSeries{};
            fits_[i].reset();
        }
        ratio_->data()->clear();
        ratioCount_ = 0;
    }

    void add(const Ctx& c, const StepResult& s) override {
        prompt_ = s.promptLength;
        append(s.mode, s.position, s.step + 1, s.cumulative, false);
        if (!c.comparing()) {
            const Mode o = otherMode(s.mode);
            append(o, s.position, s.step + 1,
                   cumulativeFlops(*c.config, s.promptLength, s.step + 1, o), true);
        }
        appendRatios();
    }

    void update(const Ctx& c, std::optional<double> x) override {
        QStringList notes;
        for (Mode m : kModes) {
            const int i = idx(m);
            charts::setShown(measured_[i], c.ran[i]);
            charts::setShown(predicted_[i], c.config && !c.ran[i]);
            charts::setShown(attention_[i], showAttention_ && c.ran[i]);
            charts::setShown(attentionPredicted_[i], showAttention_ && c.config && !c.ran[i]);
            updateMode(c, m, notes);
        }
        updateBeyond(c);
        if (c.config && !series_[0].position.empty()) notes << expectation(*c.config);
        notes_->setText(notes.join(QLatin1Char('\n')));
        updateRatioNote();
        updateReferences();
        for (QCPAxisRect* r : {top_, ratioRect_}) charts::rescale(r);
        ratioRect_->axis(QCPAxis::atBottom)->setRange(top_->axis(QCPAxis::atBottom)->range());
        placeSelection(select_[0], x);
        placeSelection(select_[1], x);
    }

    void setLog(bool on) override {
        log_ = on;
        charts::setLogAxis(top_->axis(QCPAxis::atBottom), on, false);
        charts::setLogAxis(top_->axis(QCPAxis::atLeft), on, true);
        charts::setLogAxis(ratioRect_->axis(QCPAxis::atBottom), on, false);
    }

    void setShowAttention(bool on) { showAttention_ = on; }
    void setExtension(std::int64_t length) { extendTo_ = length; }

    std::optional<double> slope(Mode m) const {
        const auto& f = fits_[idx(m)];
        return f ? std::optional<double>(f->slope) : std::nullopt;
    }

private:
    void append(Mode m, double position, double generated, const FlopBreakdown& f, bool predicted) {
        CumulativeSeries& s = series_[idx(m)];
        s.position.push_back(position);
        s.generated.push_back(generated);
        s.flops.push_back(double(f.total()));
        s.attention.push_back(double(f.attention()));
        s.predicted = predicted;
        (predicted ? predicted_ : measured_)[idx(m)]->addData(position, double(f.total()));
        (predicted ? attentionPredicted_ : attention_)[idx(m)]->addData(position,
                                                                        double(f.attention()));
    }

    // Past the run's last step, the closed form continues each curve dashed to the length the
    // user picked, so the bend towards n^3 shows although the model's context ends earlier.
    void updateBeyond(const Ctx& c) {
        for (Mode m : kModes) {
            const int i = idx(m);
            beyond_[i]->data()->clear();
            beyondAttention_[i]->data()->clear();
            const auto& pos = series_[i].position;
            const bool shown = c.config && !pos.empty() && extendTo_ > std::int64_t(pos.back());
            charts::setShown(beyond_[i], shown);
            charts::setShown(beyondAttention_[i], shown && showAttention_);
            if (i == 1)
                beyond_[i]->removeFromLegend();  // one entry says what dashes past the run mean
            beyondAttention_[i]->removeFromLegend();
            if (!shown) continue;
            for (std::int64_t n : logSteps(std::int64_t(pos.back()), extendTo_, 120)) {
                const whatif::FlopSplit f = whatif::cumulativeSplit(*c.config, prompt_, n, m);
                beyond_[i]->addData(double(n), f.total());
                beyondAttention_[i]->addData(double(n), f.attention);
            }
        }
    }

    // Lines of slope 1, 2 and 3 through the top curve's last point, on log-log axes only, drawn
    // down to the lowest value the curves reach (no further: they would stretch the axis).
    void updateReferences() {
        double xEnd = 0, yEnd = 0, yMin = 0;
        for (QCPGraph* g :
             {measured_[0], measured_[1], predicted_[0], predicted_[1], beyond_[0], beyond_[1]}) {
            if (!g->visible() || g->data()->isEmpty()) continue;
            const auto last = g->data()->constEnd() - 1;
            if (last->key > xEnd || (last->key == xEnd && last->value > yEnd))
                xEnd = last->key, yEnd = last->value;
            const double first = g->data()->constBegin()->value;
            if (first > 0 && (yMin == 0 || first < yMin)) yMin = first;
        }
        double xMin = 0;
        for (int i = 0; i < 2; ++i)
            if (!series_[i].position.empty())
                xMin = xMin == 0 ? series_[i].position.front()
                                 : std::min(xMin, series_[i].position.front());
        for (int k = 0; k < 3; ++k) {
            QCPGraph* g = reference_[k];
            g->data()->clear();
            const bool shown = log_ && xEnd > xMin && xMin > 0 && yEnd > 0 && yMin > 0;
            charts::setShown(g, shown);
            g->removeFromLegend();
            referenceLabel_[k]->setVisible(shown);
            if (!shown) continue;
            const double s = k + 1;
            const double x0 = std::max(xMin, xEnd * std::pow(yMin / yEnd, 1 / s));
            for (double x : {x0, xEnd}) g->addData(x, yEnd * std::pow(x / xEnd, s));
            referenceLabel_[k]->position->setCoords(x0, yEnd * std::pow(x0 / xEnd, s));
        }
    }

    // What slope the curves should show at the length drawn, and why.
    QString expectation(const ModelConfig& c) const {
        std::int64_t n = 0;
        for (const auto& s : series_)
            if (!s.position.empty()) n = std::max(n, std::int64_t(s.position.back()));
        n = std::max(n, extendTo_);
        const whatif::FlopSplit naive = whatif::cumulativeSplit(c, prompt_, n, Mode::Naive);
        const whatif::FlopSplit cached = whatif::cumulativeSplit(c, prompt_, n, Mode::Cached);
        auto at = [](std::optional<std::int64_t> x) {
            return x ? QLocale(QLocale::English).toString(qlonglong(*x)) : QStringLiteral("10^9");
        };
        const double sn = localSlope(c, prompt_, n, Mode::Naive),
                     sc = localSlope(c, prompt_, n, Mode::Cached);
        const QString head =
            QStringLiteral("At n\u00a0=\u00a0%1 expect slopes ≈ %2 (naive) and ≈ %3 (cached), ")
                .arg(QLocale(QLocale::English).toString(qlonglong(n)))
                .arg(sn, 0, 'f', 2)
                .arg(sc, 0, 'f', 2);
        const QString share = QStringLiteral("attention is %1% and %2% of the FLOPs so far")
                                  .arg(100 * naive.attention / naive.total(), 0, 'f', 0)
                                  .arg(100 * cached.attention / cached.total(), 0, 'f', 0);
        if (sn > 2.9 && sc > 1.9)
            return head + QStringLiteral("near 3 and 2: ") + share + QLatin1Char('.');
        return head + QStringLiteral("not 3 and 2: ") + share +
               QStringLiteral(
                   "; the totals steepen towards its 3 and 2 once it dominates a run "
                   "(n\u00a0≈\u00a0%1 and %2).")
                   .arg(at(whatif::cumulativeCrossover(c, Mode::Naive)),
                        at(whatif::cumulativeCrossover(c, Mode::Cached)));
    }

    // In lockstep runs one mode may be a step ahead; a ratio needs both values at that step.
    void appendRatios() {
        const auto& a = series_[0];
        const auto& b = series_[1];
        for (; ratioCount_ < std::min(a.flops.size(), b.flops.size()); ++ratioCount_) {
            const std::size_t i = ratioCount_;
            if (b.flops[i] > 0) ratio_->addData(a.position[i], a.flops[i] / b.flops[i]);
        }
    }

    // One note line per mode: the fitted slope and where attention takes over.
    void updateMode(const Ctx& c, Mode m, QStringList& notes) {
        const int i = idx(m);
        crossover_[i].hide();
        fits_[i].reset();
        if (!c.config) return;
        const auto crossover = attentionCrossoverLength(*c.config, m);
        fits_[i] = fitSlope(series_[i], crossover);
        const QString label = name(m) + (series_[i].predicted ? " (predicted)" : "");
        QString line = label + QStringLiteral(": ");
        measured_[i]->setName(name(m));
        predicted_[i]->setName(name(m) + " (predicted)");
        if (fits_[i]) {
            const SlopeFit& f = *fits_[i];
            (series_[i].predicted ? predicted_ : measured_)[i]->setName(
                QStringLiteral("%1 · slope %2").arg(label).arg(f.slope, 0, 'f', 2));
            line += QStringLiteral("slope %1 over n\u00a0=\u00a0%2–%3 (%4) · ")
                        .arg(f.slope, 0, 'f', 2)
                        .arg(f.from)
                        .arg(f.to)
                        .arg(f.attentionDominated ? str("attention-dominated") : str("last half"));
        }
        notes << line + crossoverNote(c, m, crossover);
    }

    QString crossoverNote(const Ctx& c, Mode m, std::optional<std::int64_t> crossover) {
        const int i = idx(m);
        if (!crossover)
            return QStringLiteral("attention < weights up to the context limit (%1)")
                .arg(c.config->nPositions);
        crossover_[i].place(double(*crossover),
                            // Short: the note above says what the line means, and a long label
                            // would cover the legend or the curves.
                            QStringLiteral("%1: n = %2").arg(name(m)).arg(*crossover),
                            i == 0 ? 0.02 : 0.12);
        const auto& pos = series_[i].position;
        const bool reached = !pos.empty() && pos.back() >= double(*crossover);
        return QStringLiteral("attention ≥ weights from n\u00a0=\u00a0%1 (dotted)%2")
            .arg(*crossover)
            .arg(reached ? QString() : QStringLiteral(" (not reached yet)"));
    }

    void updateRatioNote() {
        if (ratio_->data()->isEmpty()) {
            ratioNote_->setVisible(false);
            return;
        }
        const auto last = ratio_->data()->constEnd() - 1;
        ratioNote_->setText(QStringLiteral("naive costs %1× cached after n = %2")
                                .arg(last->value, 0, 'f', 1)
                                .arg(last->key));
        ratioNote_->setVisible(true);
    }

    QCPAxisRect *top_, *ratioRect_;
    QCPGraph *measured_[2], *predicted_[2], *ratio_;
    QCPGraph *attention_[2], *attentionPredicted_[2];  // attention FLOPs alone
    QCPGraph *beyond_[2], *beyondAttention_[2];        // closed form past the run's last step
    QCPGraph* reference_[3];                           // slopes 1, 2, 3 (log-log only)
    QCPItemText* referenceLabel_[3];
    bool log_ = false, showAttention_ = false;
    std::int64_t extendTo_ = 0;  // 0: the curves end with the run
    int prompt_ = 1;
    CumulativeSeries series_[2];
    std::optional<SlopeFit> fits_[2];
    std::size_t ratioCount_ = 0;
    VLine crossover_[2], select_[2];
    QCPTextElement* notes_;
    QCPItemText* ratioNote_;
};

// --- Stacked breakdown by component ------------------------------------------------------------

// One mode's breakdown: measured when that mode ran, else its closed form over the positions of
// the mode that did, so that Compare and single runs both export one chart per mode.
class BreakdownChart : public Chart {
public:
    BreakdownChart(QWidget* parent, Mode mode)
        : Chart(
              charts::newPlot("breakdown_" + name(mode), QStringLiteral("FLOPs per step"), parent)),
          mode_(mode) {
        QCPAxisRect* r = plot->axisRect();
        charts::labelAxes(r, kPositionAxis, QStringLiteral("FLOPs per step"), true);
        // In a layout row of its own: inside the axis rect the legend would cover the bars it
        // explains. Up to four entries a line, fewer when the plot is narrow.
        charts::useWrappingLegend(plot, 1, 4);
        const QString id = plot->objectName();
        for (int i = 0; i < theme::kComponents; ++i) {
            auto* b = new QCPBars(plot->xAxis, plot->yAxis);
            b->setObjectName(QStringLiteral("%1.%2").arg(id).arg(i));
            b->setName(str(theme::componentName(i)));
            b->setBrush(theme::componentColor(i));
            b->setPen(Qt::NoPen);
            // Touching, unsmoothed bars: antialiased edges of stacked segments and of neighbours
            // blend with the background into light stripes.
            b->setWidth(1.0);
            b->setAntialiased(false);
            b->setAntialiasedFill(false);
            b->setStackingGap(0);
            if (i > 0) b->moveAbove(bars_[i - 1]);
            bars_[i] = b;
        }
        prefillNote_ = new QCPItemText(plot);
        prefillNote_->setObjectName(id + QStringLiteral(".prefillNote"));
        prefillNote_->setClipToAxisRect(false);
        prefillNote_->setPositionAlignment(Qt::AlignLeft | Qt::AlignTop);
        prefillNote_->position->setTypeY(QCPItemPosition::ptAxisRectRatio);
        prefillNote_->position->setAxisRect(r);
        prefillNote_->setPadding(QMargins(6, 2, 0, 0));
        charts::setInk(prefillNote_, 0);
        crossover_ = charts::addVLine(r, id + QStringLiteral(".crossover"),
                                      QPen(Qt::gray, 1.2, Qt::DotLine), true);
        crossover_.setInk(kStrongInk);
        select_ = selectionLine(r, id + QStringLiteral(".selected"));
    }

    Mode mode() const { return mode_; }

    void reset(const Ctx& c) override {
        for (QCPBars* b : bars_) b->data()->clear();
        prefill_.reset();
        decodeMax_ = 0;
        const bool predicted = c.config && !c.ran[idx(mode_)];
        charts::plotTitle(plot)->setText(QStringLiteral("FLOPs per step by component · %1 %2")
                                             .arg(name(mode_))
                                             .arg(predicted ? str("(predicted)") : str("run")));
    }

    void add(const Ctx& c, const StepResult& s) override {
        if (s.mode == mode_) {
            addBars(s.position, s.flops, s.prefill);
        } else if (!c.ran[idx(mode_)]) {
            const bool prefill = mode_ == Mode::Cached && s.position == s.promptLength;
            addBars(s.position,
                    prefill ? prefillFlops(*c.config, s.promptLength)
                            : stepFlops(*c.config, s.position, mode_),
                    prefill);
        }
    }

    void update(const Ctx& c, std::optional<double> x) override {
        plot->legend->setVisible(c.config != nullptr);
        charts::rescale(plot->axisRect());
        clipPrefill();
        placeSelection(select_, x);
        crossover_.hide();
        if (!c.config) return;
        if (const auto n = attentionCrossoverLength(*c.config, mode_))
            crossover_.place(double(*n), QStringLiteral("attention ≥ weights from n = %1").arg(*n),
                             0.3);
    }

private:
    void addBars(double position, const FlopBreakdown& f, bool prefill) {
        for (int i = 0; i < theme::kComponents; ++i)
            bars_[i]->addData(position, double(theme::componentValue(f, i)));
        if (prefill)
            prefill_ = std::make_pair(position, double(f.total()));
        else
            decodeMax_ = std::max(decodeMax_, double(f.total()));
    }

    // A long prompt's prefill bar can be a hundred decode steps tall and flatten them into
    // invisibility; scale to the decode steps and write the prefill's height on its bar instead.
    void clipPrefill() {
        const bool clip = prefill_ && decodeMax_ > 0 && prefill_->second > 3 * decodeMax_;
        prefillNote_->setVisible(clip);
        if (!clip) return;
        plot->yAxis->setRange(0, decodeMax_ * 1.2);
        prefillNote_->position->setCoords(prefill_->first, 0.02);
        prefillNote_->setText(QStringLiteral("prefill bar: %1 (off scale)")
                                  .arg(charts::siValue(prefill_->second, QStringLiteral("FLOP"))));
    }

    const Mode mode_;
    QCPBars* bars_[theme::kComponents];
    std::optional<std::pair<double, double>> prefill_;  // position, total
    double decodeMax_ = 0;
    QCPItemText* prefillNote_;
    VLine crossover_, select_;
};

// --- Measured time and throughput ----------------------------------------------------------------

// Per-step times are dominated by the machine's hiccups (another process, a page fault); each
// step stays visible as a light dot, and a running median over a window centred on it shows the
// trend a class can read.
constexpr int kMedianHalf = 7;  // window of 15 steps

class MedianSeries {
public:
    MedianSeries() = default;
    MedianSeries(QCPAxisRect* r, const QString& id, const QString& label, const QColor& c) {
        QColor light = c;
        light.setAlpha(70);
        raw_ = charts::addMarkers(r, id, label + QStringLiteral(" (each step)"), light, true);
        raw_->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, light, light, 4));
        median_ = charts::addLine(
            r, id + QStringLiteral(".median"),
            QStringLiteral("%1 · median of %2 steps").arg(label).arg(2 * kMedianHalf + 1), c,
            false);
        prefill_ = charts::addMarkers(r, id + QStringLiteral(".prefill"),
                                      label + QStringLiteral(" prefill"), c, true);
    }

    void add(double x, double y, bool prefill) {
        if (prefill) {
            prefill_->addData(x, y);
            return;
        }
        raw_->addData(x, y);
        xs_.push_back(x);
        ys_.push_back(y);
        // The new point changes the medians of the last half-window too.
        const std::size_t n = xs_.size();
        const std::size_t from = n > kMedianHalf ? n - 1 - kMedianHalf : 0;
        median_->data()->remove(xs_[from], xs_.back());
        for (std::size_t i = from; i < n; ++i) median_->addData(xs_[i], medianAround(i));
    }

    void clear() {
        for (QCPGraph* g : {raw_, median_, prefill_}) g->data()->clear();
        xs_.clear();
        ys_.clear();
    }

    void setShown(bool shown, bool inLegend) {
        charts::setShown(median_, shown);
        charts::setShown(raw_, shown);
        raw_->removeFromLegend();
        charts::setShown(prefill_, shown && !prefill_->data()->isEmpty());
        if (!inLegend) {
            median_->removeFromLegend();
            prefill_->removeFromLegend();
        }
    }

private:
    double medianAround(std::size_t i) const {
        const std::size_t lo = i > kMedianHalf ? i - kMedianHalf : 0;
        const std::size_t hi = std::min(ys_.size(), i + kMedianHalf + 1);
        std::vector<double> w(ys_.begin() + std::ptrdiff_t(lo), ys_.begin() + std::ptrdiff_t(hi));
        const auto mid = w.begin() + std::ptrdiff_t(w.size() / 2);
        std::nth_element(w.begin(), mid, w.end());
        if (w.size() % 2) return *mid;
        return (*mid + *std::max_element(w.begin(), mid)) / 2;
    }

    QCPGraph *raw_ = nullptr, *median_ = nullptr, *prefill_ = nullptr;
    std::vector<double> xs_, ys_;  // decode steps so far
};

class TimeChart : public Chart {
public:
    explicit TimeChart(QWidget* parent)
        : Chart(charts::newPlot(QStringLiteral("time"),
                                QStringLiteral("Measured time per step and achieved throughput"),
                                parent)) {
        top_ = plot->axisRect();
        rate_ = charts::addRectBelow(plot, 1.0);
        // Bytes per second: where a cached step's speed comes from (it streams every weight once).
        bandwidth_ = charts::addRectBelow(plot, 1.0);
        charts::labelAxes(top_, QString(), QStringLiteral("time per step (ms, log)"), false);
        // Log: naive steps grow to hundreds of times a cached step, which a linear axis would
        // flatten onto zero.
        top_->axis(QCPAxis::atLeft)->setScaleType(QCPAxis::stLogarithmic);
        top_->axis(QCPAxis::atLeft)->setTicker(charts::plainLogTicker());
        charts::labelAxes(rate_, QString(), QStringLiteral("FLOP/s"), true);
        charts::labelAxes(bandwidth_, kPositionAxis, QStringLiteral("bytes/s moved"), true);
        for (Mode m : kModes) {
            const QColor c = theme::modeColor(m);
            ms_[idx(m)] = MedianSeries(top_, "time.ms." + name(m), name(m), c);
            rate_s_[idx(m)] = MedianSeries(rate_, "time.rate." + name(m), name(m), c);
            bytes_s_[idx(m)] = MedianSeries(bandwidth_, "time.bytes." + name(m), name(m), c);
        }
        notes_ = charts::addSubtitle(plot, QStringLiteral("time.notes"));
        // Between naive at the top and cached at the bottom: the log axis leaves the middle free.
        top_->insetLayout()->setInsetAlignment(0, Qt::AlignRight | Qt::AlignVCenter);
        notes_->setText(QStringLiteral("dots: each step as measured · lines: running median over "
                                       "%1 steps · time axis logarithmic · bytes/s: weights at "
                                       "their stored size and K/V read and written, per second")
                            .arg(2 * kMedianHalf + 1));
        select_[0] = selectionLine(top_, QStringLiteral("time.selected"));
        select_[1] = selectionLine(rate_, QStringLiteral("time.rate.selected"));
        select_[2] = selectionLine(bandwidth_, QStringLiteral("time.bytes.selected"));
    }

    void reset(const Ctx&) override {
        for (int i = 0; i < 2; ++i) {
            ms_[i].clear();
            rate_s_[i].clear();
            bytes_s_[i].clear();
        }
    }

    void add(const Ctx&, const StepResult& s) override {
        const int i = idx(s.mode);
        ms_[i].add(s.position, s.milliseconds, s.prefill);
        // A step too fast for the clock has no meaningful rate.
        if (s.milliseconds > 0) {
            rate_s_[i].add(s.position, double(s.flops.total()) / (s.milliseconds * 1e-3),
                           s.prefill);
            bytes_s_[i].add(s.position, double(s.bytes.total()) / (s.milliseconds * 1e-3),
                            s.prefill);
        }
    }

    // The time axis is always logarithmic (naive steps take hundreds of times a cached one);
    // log-log adds the length axis and the rate.
    void setLog(bool on) override {
        for (QCPAxisRect* r : {top_, rate_})
            charts::setLogAxis(r->axis(QCPAxis::atBottom), on, false);
        charts::setLogAxis(rate_->axis(QCPAxis::atLeft), on, true);
    }

    void update(const Ctx& c, std::optional<double> x) override {
        for (int i = 0; i < 2; ++i) {
            ms_[i].setShown(c.ran[i], true);
            rate_s_[i].setShown(c.ran[i], false);
            bytes_s_[i].setShown(c.ran[i], false);
        }
        notes_->setVisible(c.config != nullptr);
        for (QCPAxisRect* r : {top_, rate_, bandwidth_}) charts::rescale(r);
        for (QCPAxisRect* r : {rate_, bandwidth_})
            r->axis(QCPAxis::atBottom)->setRange(top_->axis(QCPAxis::atBottom)->range());
        for (int i = 0; i < 3; ++i) placeSelection(select_[i], x);
    }

private:
    QCPAxisRect *top_, *rate_, *bandwidth_;
    MedianSeries ms_[2], rate_s_[2], bytes_s_[2];
    QCPTextElement* notes_;
    VLine select_[3];
};

// --- KV-cache memory against FLOPs saved ---------------------------------------------------------

class MemoryChart : public Chart {
public:
    explicit MemoryChart(QWidget* parent)
        : Chart(charts::newPlot(QStringLiteral("memory"),
                                QStringLiteral("KV-cache memory paid for the FLOPs saved"),
                                parent)) {
        top_ = plot->axisRect();
        saved_ = charts::addRectBelow(plot, 1.0);
        charts::labelAxes(top_, QString(), QStringLiteral("bytes"), true);
        charts::labelAxes(saved_, kPositionAxis, QStringLiteral("FLOPs saved so far"), true);
        bytes_[0] = charts::addLine(top_, QStringLiteral("memory.kvBytes.naive"),
                                    QStringLiteral("KV cache: naive keeps none"),
                                    theme::modeColor(Mode::Naive), false);
        bytes_[1] = charts::addLine(top_, QStringLiteral("memory.kvBytes.cached"),
                                    QStringLiteral("KV cache held (cached)"),
                                    theme::modeColor(Mode::Cached), false);
        // With grouped- or multi-query attention: what the same model would hold with one K/V
        // head per query head, beside what it holds (closed form; hidden for MHA models).
        mha_ = charts::addLine(top_, QStringLiteral("memory.kvBytes.mha"),
                               QStringLiteral("KV cache, one KV head per query head"),
                               theme::modeColor(Mode::Cached), true);
        // What every decode step streams besides the cache: the weights at their stored size
        // (a quantized model's line sits lower), against which the cache's growth is read.
        weights_ = charts::addLine(top_, QStringLiteral("memory.weightsPerStep"),
                                   QStringLiteral("weights read per decode step"),
                                   theme::weightsColor(), true);
        const QColor c = theme::modeColor(Mode::Cached);
        savedLine_ = charts::addLine(saved_, QStringLiteral("memory.saved"),
                                     QStringLiteral("saved"), c, false);
        savedPredicted_ = charts::addLine(saved_, QStringLiteral("memory.saved.predicted"),
                                          QStringLiteral("saved (predicted)"), c, true);
        // A row of its own under the title: inside the axis rect it covered the cached line at
        // small n, and the selected-step line ran through it.
        note_ = charts::addSubtitle(plot, QStringLiteral("memory.note"));
        // Top left is above the cached line (the cache grows with n); bottom right would cover
        // the naive line, which runs along zero.
        plot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignLeft);
        select_[0] = selectionLine(top_, QStringLiteral("memory.selected"));
        select_[1] = selectionLine(saved_, QStringLiteral("memory.saved.selected"));
    }
    void reset(const Ctx&) override {
        for (QCPGraph* g : {bytes_[0], bytes_[1], mha_, weights_, savedLine_, savedPredicted_})
            g->data()->clear();
        rows_.clear();
    }

    // Saved = what naive would have spent by this step (closed form) minus what cached spent:
    // measured when the cached run exists, else its closed form too.
    void add(const Ctx& c, const StepResult& s) override {
        bytes_[idx(s.mode)]->addData(s.position, double(s.kvCacheBytes));
        const bool measured = s.mode == Mode::Cached;
        if (measured && !s.prefill) weights_->addData(s.position, double(s.bytes.weights));
        if (measured && grouped(c))
            mha_->addData(s.position, double(kvCacheBytes(mhaOf(*c.config), s.position)));
        if (!measured && c.ran[idx(Mode::Cached)]) return;
        const int k = s.step + 1;
        const double naive =
            double(cumulativeFlops(*c.config, s.promptLength, k, Mode::Naive).total());
        const double cached =
            measured ? double(s.cumulative.total())
                     : double(cumulativeFlops(*c.config, s.promptLength, k, Mode::Cached).total());
        (measured ? savedLine_ : savedPredicted_)->addData(s.position, naive - cached);
        rows_.push_back(
            {double(s.position), measured ? double(s.kvCacheBytes) : -1, naive - cached});
    }

    // Bytes grow as n, FLOPs saved as n^2 to n^3: straight lines of those slopes on log-log axes.
    void setLog(bool on) override {
        for (QCPAxisRect* r : {top_, saved_}) {
            charts::setLogAxis(r->axis(QCPAxis::atBottom), on, false);
            charts::setLogAxis(r->axis(QCPAxis::atLeft), on, true);
        }
    }

    void update(const Ctx& c, std::optional<double> x) override {
        for (Mode m : kModes) charts::setShown(bytes_[idx(m)], c.ran[idx(m)]);
        charts::setShown(mha_, c.ran[idx(Mode::Cached)] && grouped(c));
        charts::setShown(weights_, c.ran[idx(Mode::Cached)] && !weights_->data()->isEmpty());
        kvGroups_ = grouped(c) ? c.config->nHead / c.config->nKvHead : 1;
        // The lower rect's axis names what it shows; the legend is the upper rect's.
        charts::setShown(savedLine_, c.ran[idx(Mode::Cached)]);
        charts::setShown(savedPredicted_, c.config && !c.ran[idx(Mode::Cached)]);
        savedLine_->removeFromLegend();
        savedPredicted_->removeFromLegend();
        for (QCPAxisRect* r : {top_, saved_}) charts::rescale(r);
        saved_->axis(QCPAxis::atBottom)->setRange(top_->axis(QCPAxis::atBottom)->range());
        placeSelection(select_[0], x);
        placeSelection(select_[1], x);
        updateNote(x);
    }

private:
    struct Row {
        double position, bytes, saved;  // bytes < 0: no cached run measured them
    };

    void updateNote(std::optional<double> x) {
        const auto it = std::find_if(rows_.begin(), rows_.end(),
                                     [&](const Row& r) { return x && r.position == *x; });
        if (it == rows_.end()) {
            note_->setText(QString());
            return;
        }
        QString text = QStringLiteral("at n\u00a0=\u00a0%1: %2 saved")
                           .arg(it->position)
                           .arg(charts::siValue(it->saved, QStringLiteral("FLOP")));
        if (it->bytes < 0)
            text += QStringLiteral(" · KV cache: run the cached mode to measure it");
        else if (it->bytes > 0)
            text += QStringLiteral(" for %1 of KV cache = %2 saved per byte held")
                        .arg(charts::siValue(it->bytes, QStringLiteral("B")),
                             charts::siValue(it->saved / it->bytes, QStringLiteral("FLOP")));
        if (it->bytes > 0 && kvGroups_ > 1)
            text += QStringLiteral(" (one KV head per query head: %1, %2\u00d7 more)")
                        .arg(charts::siValue(it->bytes * kvGroups_, QStringLiteral("B")))
                        .arg(kvGroups_);
        note_->setText(text);
    }

    static bool grouped(const Ctx& c) { return c.config && c.config->nKvHead < c.config->nHead; }

    QCPAxisRect *top_, *saved_;
    QCPGraph *bytes_[2], *mha_, *weights_, *savedLine_, *savedPredicted_;
    int kvGroups_ = 1;  // query heads per K/V head
    std::vector<Row> rows_;
    QCPTextElement* note_;
    VLine select_[2];
};

// --- Each step on this machine's roofline --------------------------------------------------------

// The roofline draws itself (roofline_chart.h); this hosts it among the tabs, with their empty
// state and run handling.
class RooflineTab : public Chart {
public:
    explicit RooflineTab(std::unique_ptr<RooflineChart> r)
        : Chart(r->plot()), roofline(std::move(r)) {}
    void reset(const Ctx&) override { roofline->clear(); }
    void add(const Ctx&, const StepResult& s) override { roofline->add(s); }
    void update(const Ctx& c, std::optional<double> x) override {
        const auto position = x ? std::optional<int>(int(*x)) : std::nullopt;
        roofline->update(c.ran[0], c.ran[1], position);
    }
    // Both axes are always logarithmic: the log-log box leaves them alone.

    const std::unique_ptr<RooflineChart> roofline;
};

// Identifies a run: when any part changes, the charts start over instead of appending.
struct RunKey {
    const RunExport* run = nullptr;
    const Model* model = nullptr;
    Mode focus = Mode::Cached;
    std::vector<std::pair<int, std::uint64_t>> runs;  // mode, run id of the first step
    bool operator==(const RunKey&) const = default;
};

RunKey keyOf(const RunView& v) {
    RunKey k;
    if (v.empty()) return k;
    k.run = v.run;
    k.model = v.run->model.get();
    k.focus = v.focus()->mode;
    for (const RunRecord& r : v.run->runs)
        k.runs.emplace_back(idx(r.mode), r.steps.empty() ? 0 : r.steps.front()->runId);
    return k;
}

Ctx contextOf(const RunView& v) {
    const bool live = !v.empty() && v.run->model;
    return Ctx{v,
               live ? &v.run->model->config : nullptr,
               {live && v.record(Mode::Naive), live && v.record(Mode::Cached)}};
}

}  // namespace

struct CostCharts::Impl {
    QTabWidget* tabs = nullptr;
    QCheckBox* logBox = nullptr;
    QWidget* cumulativeOptions = nullptr;  // shown under the tabs while Cumulative is
    QComboBox* beyond = nullptr;
    QCheckBox* attentionAlone = nullptr;
    QWidget* rooflineOptions = nullptr;  // shown under the tabs while Roofline is
    QPushButton* measureRoofs = nullptr;
    QLabel* roofsStatus = nullptr;
    QStackedWidget* breakdownStack = nullptr;  // one breakdown per mode, the focus one shown
    std::vector<std::unique_ptr<Chart>> charts;
    std::vector<QCustomPlot*> tabPlots[6];  // the charts each tab holds
    CumulativeChart* cumulative = nullptr;
    RooflineTab* roofline = nullptr;
    BreakdownChart* breakdown[2] = {nullptr, nullptr};
    RunView view;
    RunKey key;
    std::size_t appended[2] = {0, 0};
    bool logAvailable = true;
};

namespace {
// Short labels: all six tabs and the checkbox fit a cost panel a third of a 1280 px window wide.
const char* const kTabNames[] = {"Per step", "Cumulative", "Breakdown",
                                 "Time",     "Memory",     "Roofline"};
// Every tab but the stacked bars of the breakdown, whose sums a log axis would misstate, and the
// roofline, whose axes are logarithmic whatever the box says.
constexpr bool kTabHasLogLog[] = {true, true, false, true, true, false};
constexpr int kCumulativeTab = 1;
constexpr int kRooflineTab = 5;
}  // namespace

CostCharts::CostCharts(QWidget* parent) : QWidget(parent), d_(std::make_unique<Impl>()) {
    d_->tabs = new QTabWidget(this);
    // Elide rather than scroll: a tab behind scroll arrows is a tab nobody finds.
    d_->tabs->setUsesScrollButtons(false);
    d_->tabs->setElideMode(Qt::ElideRight);
    auto add = [this](std::unique_ptr<Chart> c) {
        Chart* raw = c.get();
        d_->charts.push_back(std::move(c));
        return raw;
    };
    QCustomPlot* perStep = add(std::make_unique<PerStepChart>(this))->plot;
    d_->cumulative = static_cast<CumulativeChart*>(add(std::make_unique<CumulativeChart>(this)));
    d_->breakdownStack = new QStackedWidget(this);
    for (Mode m : kModes) {
        auto* b = static_cast<BreakdownChart*>(add(std::make_unique<BreakdownChart>(this, m)));
        d_->breakdown[idx(m)] = b;
        d_->breakdownStack->addWidget(b->plot);
    }
    QCustomPlot* time = add(std::make_unique<TimeChart>(this))->plot;
    QCustomPlot* memory = add(std::make_unique<MemoryChart>(this))->plot;
    d_->roofline = static_cast<RooflineTab*>(
        add(std::make_unique<RooflineTab>(std::make_unique<RooflineChart>(this))));
    QCustomPlot* roofline = d_->roofline->plot;
    d_->tabPlots[0] = {perStep};
    d_->tabPlots[1] = {d_->cumulative->plot};
    d_->tabPlots[2] = {d_->breakdown[0]->plot, d_->breakdown[1]->plot};
    d_->tabPlots[3] = {time};
    d_->tabPlots[4] = {memory};
    d_->tabPlots[5] = {roofline};
    const QList<QWidget*> pages = {perStep, d_->cumulative->plot, d_->breakdownStack, time, memory,
                                   roofline};
    for (int i = 0; i < pages.size(); ++i) d_->tabs->addTab(pages[i], tr(kTabNames[i]));

    d_->logBox = new QCheckBox(tr("log-log"), this);
    d_->logBox->setObjectName(QStringLiteral("logLog"));
    d_->tabs->setCornerWidget(d_->logBox, Qt::TopRightCorner);
    connect(d_->tabs, &QTabWidget::currentChanged, this, [this](int i) {
        if (i < 0) return;
        for (QCustomPlot* p : d_->tabPlots[i]) p->replot(QCustomPlot::rpQueuedReplot);
        d_->cumulativeOptions->setVisible(i == kCumulativeTab);
        d_->rooflineOptions->setVisible(i == kRooflineTab);
        updateLogAvailability();
    });
    connect(d_->logBox, &QCheckBox::toggled, this, &CostCharts::setLogScale);
    buildCumulativeOptions();
    buildRooflineOptions();

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(2);
    layout->addWidget(d_->tabs);
    layout->addWidget(d_->cumulativeOptions);
    layout->addWidget(d_->rooflineOptions);
    d_->cumulativeOptions->setVisible(d_->tabs->currentIndex() == kCumulativeTab);
    d_->rooflineOptions->setVisible(d_->tabs->currentIndex() == kRooflineTab);
    setRoofs(std::nullopt);
    reset();
    updateCharts();
    updateLogAvailability();
}

bool CostCharts::logScaleAvailable() const {
    return d_->logAvailable;
}

void CostCharts::updateLogAvailability() {
    const int i = d_->tabs->currentIndex();
    const bool available = i >= 0 && kTabHasLogLog[i];
    d_->logBox->setEnabled(available);
    d_->logBox->setToolTip(
        available ? tr("Log-log axes: a power law T^k becomes a straight line of slope k.")
                  : tr("Log-log axes apply to every tab but Breakdown, whose stacked bars a log "
                       "axis would misstate, and Roofline, whose axes are always logarithmic."));
    if (available == d_->logAvailable) return;
    d_->logAvailable = available;
    Q_EMIT logScaleAvailableChanged(available);
}

CostCharts::~CostCharts() = default;

// Under the tabs while Cumulative is shown: continue the curves past the run with the closed
// form, and show attention's FLOPs on their own.
void CostCharts::buildCumulativeOptions() {
    auto* row = new QWidget(this);
    row->setObjectName(QStringLiteral("cumulative.options"));
    auto* h = new QHBoxLayout(row);
    h->setContentsMargins(6, 0, 6, 2);
    auto* label = new QLabel(tr("Beyond the run:"), row);
    d_->beyond = new QComboBox(row);
    d_->beyond->setObjectName(QStringLiteral("cumulative.beyondLength"));
    d_->beyond->addItem(tr("stop"), 0);
    for (int n : {10000, 100000, 1000000})
        d_->beyond->addItem(tr("closed form to %1").arg(QLocale(QLocale::English).toString(n)), n);
    d_->beyond->setToolTip(
        tr("Continue the cumulative curves dashed past the run's last step with the closed "
           "form, beyond the model's context, so the bend towards n³ and n² shows."));
    label->setBuddy(d_->beyond);
    d_->attentionAlone = new QCheckBox(tr("attention alone"), row);
    d_->attentionAlone->setObjectName(QStringLiteral("cumulative.attentionAlone"));
    d_->attentionAlone->setToolTip(
        tr("Also draw the attention FLOPs (QK^T and attention × V) on their own: their slopes "
           "are exactly 3 (naive) and 2 (cached) for large n, while the totals carry the "
           "weight matrices' n and n² terms."));
    h->addWidget(label);
    h->addWidget(d_->beyond);
    h->addWidget(d_->attentionAlone);
    h->addStretch(1);
    d_->cumulativeOptions = row;
    connect(d_->beyond, &QComboBox::currentIndexChanged, this,
            [this] { setExtension(d_->beyond->currentData().toLongLong()); });
    connect(d_->attentionAlone, &QCheckBox::toggled, this, &CostCharts::setShowAttention);
}

// Under the tabs while Roofline is shown: what the roofs are, and a button to measure them.
void CostCharts::buildRooflineOptions() {
    auto* row = new QWidget(this);
    row->setObjectName(QStringLiteral("roofline.options"));
    auto* h = new QHBoxLayout(row);
    h->setContentsMargins(6, 0, 6, 2);
    d_->measureRoofs = new QPushButton(tr("Measure roofs"), row);
    d_->measureRoofs->setObjectName(QStringLiteral("roofline.measure"));
    d_->measureRoofs->setToolTip(
        tr("Measure this machine's read bandwidth (a read-sum over 256 MB) and GEMM rate (a "
           "1024³ float product) now: about a second, in the background, best while nothing "
           "else runs. Remembered for the next start."));
    d_->roofsStatus = new QLabel(row);
    d_->roofsStatus->setObjectName(QStringLiteral("roofline.status"));
    // Squeezed rather than widening the panel: the chart's note says the same at full length.
    d_->roofsStatus->setMinimumWidth(0);
    d_->roofsStatus->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
    h->addWidget(d_->measureRoofs);
    h->addWidget(d_->roofsStatus, 1);
    d_->rooflineOptions = row;
    connect(d_->measureRoofs, &QPushButton::clicked, this, &CostCharts::measureRoofsRequested);
}

void CostCharts::setRoofs(const std::optional<MachineRoofs>& roofs, bool measuring) {
    d_->roofline->roofline->setRoofs(roofs, measuring);
    d_->measureRoofs->setEnabled(!measuring);
    d_->measureRoofs->setText(roofs && !measuring ? tr("Measure again") : tr("Measure roofs"));
    // The hover hint lives here, in the window only: the chart's note goes into every export.
    d_->roofsStatus->setText(measuring ? tr("Measuring this machine's roofs…")
                             : roofs
                                 ? tr("%1 GB/s read · %2 GFLOP/s GEMM · hover a step for its bound")
                                       .arg(roofs->bandwidthGBs, 0, 'f', 1)
                                       .arg(roofs->gemmGflops, 0, 'f', 1)
                                 : tr("Roofs not measured yet."));
    d_->roofsStatus->setToolTip(roofs && !measuring ? describeRoofs(*roofs)
                                                    : d_->roofsStatus->text());
    updateCharts();
    replotShown();
}

const RooflineChart& CostCharts::roofline() const {
    return *d_->roofline->roofline;
}

void CostCharts::setShowAttention(bool on) {
    {
        const QSignalBlocker quiet(d_->attentionAlone);
        d_->attentionAlone->setChecked(on);
    }
    d_->cumulative->setShowAttention(on);
    updateCharts();
    replotShown();
}

bool CostCharts::showsAttention() const {
    return d_->attentionAlone->isChecked();
}

void CostCharts::setExtension(std::int64_t length) {
    {
        const QSignalBlocker quiet(d_->beyond);
        const int i = d_->beyond->findData(qlonglong(length));
        if (i >= 0) d_->beyond->setCurrentIndex(i);
    }
    d_->cumulative->setExtension(length);
    updateCharts();
    replotShown();
}

std::int64_t CostCharts::extension() const {
    return d_->beyond->currentData().toLongLong();
}

void CostCharts::setView(const RunView& v) {
    d_->view = v;
}

void CostCharts::refresh() {
    appendNewSteps();
    updateCharts();
    replotShown();
}

// Only the tab on screen is drawn; the others are drawn when their tab is shown (exports render
// on their own), which keeps a frame cheap while tokens stream in.
void CostCharts::replotShown() {
    for (auto& c : d_->charts)
        if (c->plot->isVisible() || !isVisible()) c->plot->replot(QCustomPlot::rpQueuedReplot);
}

void CostCharts::reset() {
    d_->key = keyOf(d_->view);
    d_->appended[0] = d_->appended[1] = 0;
    const Ctx c = contextOf(d_->view);
    for (auto& chart : d_->charts) chart->reset(c);
}

void CostCharts::appendNewSteps() {
    const RunView& v = d_->view;
    bool restart = keyOf(v) != d_->key;
    for (Mode m : kModes)
        if (const RunRecord* r = v.record(m); r && r->steps.size() < d_->appended[idx(m)])
            restart = true;  // the record was cleared and refilled under the same key
    if (restart) reset();
    const Ctx c = contextOf(v);
    if (!c.config) return;
    for (Mode m : kModes) {
        const RunRecord* r = v.record(m);
        if (!r) continue;
        for (std::size_t& i = d_->appended[idx(m)]; i < r->steps.size(); ++i)
            for (auto& chart : d_->charts) chart->add(c, *r->steps[i]);
    }
}

void CostCharts::updateCharts() {
    const Ctx c = contextOf(d_->view);
    const StepResultPtr selected = d_->view.step();
    const std::optional<double> x =
        selected ? std::optional<double>(selected->position) : std::nullopt;
    for (auto& chart : d_->charts) {
        chart->update(c, x);
        chart->showEmptyState(!c.config);
    }
    const RunRecord* focus = d_->view.focus();
    const Mode shown = focus ? focus->mode : Mode::Cached;
    d_->breakdownStack->setCurrentWidget(d_->breakdown[idx(shown)]->plot);
}

QList<QCustomPlot*> CostCharts::plots() const {
    QList<QCustomPlot*> out;
    for (const auto& c : d_->charts) out << c->plot;
    return out;
}

QList<QPair<QString, QCustomPlot*>> CostCharts::namedPlots() const {
    QList<QPair<QString, QCustomPlot*>> out;
    for (const auto& c : d_->charts) out << qMakePair(c->plot->objectName(), c->plot);
    return out;
}

void CostCharts::setLogScale(bool on) {
    {
        const QSignalBlocker quiet(d_->logBox);  // already handling this change
        d_->logBox->setChecked(on);
    }
    for (auto& c : d_->charts) c->setLog(on);
    updateCharts();
    replotShown();
}

void CostCharts::showTab(int index) {
    d_->tabs->setCurrentIndex(index);
}

int CostCharts::currentTab() const {
    return d_->tabs->currentIndex();
}

std::optional<double> CostCharts::cumulativeSlope(Mode m) const {
    return d_->cumulative->slope(m);
}

}  // namespace kvscope
