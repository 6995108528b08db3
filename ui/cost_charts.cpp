#include "cost_charts.h"

#include "chart_style.h"
#include "cost/curve_fit.h"
#include "theme.h"

#include "qcustomplot_include.h"

#include <QCheckBox>
#include <QSignalBlocker>
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

QPen selectionPen() {
    return QPen(QColor(120, 120, 120), 1.2, Qt::DashDotLine);
}

// What a refresh hands every chart: the view, the model's shape, and which modes ran.
struct Ctx {
    const RunView& view;
    const ModelConfig* config;  // null when there is no run
    bool ran[2];
    bool comparing() const { return ran[0] && ran[1]; }
};

// A chart receives each step once, in order, so its series grow by appending.
class Chart {
public:
    explicit Chart(QCustomPlot* p) : plot(p) {}
    virtual ~Chart() = default;
    virtual void reset(const Ctx& c) = 0;
    virtual void add(const Ctx& c, const StepResult& s) = 0;
    virtual void update(const Ctx& c, std::optional<double> selectedX) = 0;
    virtual void setLog(bool) {}
    QCustomPlot* const plot;
};

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
        prefillNote_ = new QCPItemText(plot);
        prefillNote_->setObjectName(QStringLiteral("perStep.prefillNote"));
        // Below and right of the marker: the naive line leaves that point upwards.
        prefillNote_->setPositionAlignment(Qt::AlignLeft | Qt::AlignTop);
        prefillNote_->setPadding(QMargins(8, 6, 0, 0));
        // Right, half-way up: between naive at the top and cached at the bottom, in linear and
        // log scale alike.
        r->insetLayout()->setInsetAlignment(0, Qt::AlignRight | Qt::AlignVCenter);
        prefillNote_->setColor(theme::modeColor(Mode::Cached));
        select_ = charts::addVLine(r, QStringLiteral("perStep.selected"), selectionPen(), false);
    }

    void reset(const Ctx&) override {
        for (int i = 0; i < 2; ++i) {
            measured_[i].clear();
            predicted_[i].clear();
        }
        prefillNote_->setVisible(false);
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
        prefillNote_->position->setCoords(x, y);
        prefillNote_->setText(QStringLiteral("prefill: %1 tokens in one pass").arg(promptLength));
        prefillNote_->setVisible(true);
    }

    ModeSeries measured_[2], predicted_[2];
    QCPItemText* prefillNote_;
    VLine select_;
};

// --- Cumulative FLOPs, their slopes, and the naive/cached ratio --------------------------------

// One mode's cumulative FLOPs, measured or predicted, at each step so far.
struct CumulativeSeries {
    std::vector<double> position, generated, flops;
    bool predicted = false;
};

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
        ratio_ = charts::addLine(ratioRect_, QStringLiteral("cumulative.ratio"),
                                 QStringLiteral("naive ÷ cached"), QColor(90, 90, 90), false);
        ratio_->removeFromLegend();
        notes_ = charts::addSubtitle(plot, QStringLiteral("cumulative.notes"));
        ratioNote_ = charts::addNote(ratioRect_, QStringLiteral("cumulative.ratioNote"),
                                     Qt::AlignLeft | Qt::AlignTop);
        select_[0] =
            charts::addVLine(top_, QStringLiteral("cumulative.selected"), selectionPen(), false);
        select_[1] = charts::addVLine(ratioRect_, QStringLiteral("cumulative.ratio.selected"),
                                      selectionPen(), false);
    }

    void reset(const Ctx&) override {
        for (int i = 0; i < 2; ++i) {
            measured_[i]->data()->clear();
            predicted_[i]->data()->clear();
            series_[i] = CumulativeSeries{};
            fits_[i].reset();
        }
        ratio_->data()->clear();
        ratioCount_ = 0;
    }

    void add(const Ctx& c, const StepResult& s) override {
        append(s.mode, s.position, s.step + 1, double(s.cumulative.total()), false);
        if (!c.comparing()) {
            const Mode o = otherMode(s.mode);
            const auto f = cumulativeFlops(*c.config, s.promptLength, s.step + 1, o);
            append(o, s.position, s.step + 1, double(f.total()), true);
        }
        appendRatios();
    }

    void update(const Ctx& c, std::optional<double> x) override {
        QStringList notes;
        for (Mode m : kModes) {
            const int i = idx(m);
            charts::setShown(measured_[i], c.ran[i]);
            charts::setShown(predicted_[i], c.config && !c.ran[i]);
            updateMode(c, m, notes);
        }
        notes_->setText(notes.join(QLatin1Char('\n')));
        updateRatioNote();
        for (QCPAxisRect* r : {top_, ratioRect_}) charts::rescale(r);
        ratioRect_->axis(QCPAxis::atBottom)->setRange(top_->axis(QCPAxis::atBottom)->range());
        placeSelection(select_[0], x);
        placeSelection(select_[1], x);
    }

    void setLog(bool on) override {
        charts::setLogAxis(top_->axis(QCPAxis::atBottom), on, false);
        charts::setLogAxis(top_->axis(QCPAxis::atLeft), on, true);
        charts::setLogAxis(ratioRect_->axis(QCPAxis::atBottom), on, false);
    }

    std::optional<double> slope(Mode m) const {
        const auto& f = fits_[idx(m)];
        return f ? std::optional<double>(f->slope) : std::nullopt;
    }

private:
    void append(Mode m, double position, double generated, double flops, bool predicted) {
        CumulativeSeries& s = series_[idx(m)];
        s.position.push_back(position);
        s.generated.push_back(generated);
        s.flops.push_back(flops);
        s.predicted = predicted;
        (predicted ? predicted_ : measured_)[idx(m)]->addData(position, flops);
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
            line += QStringLiteral("slope %1 over n = %2–%3 (%4) · ")
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
        crossover_[i].place(
            double(*crossover),
            QStringLiteral("%1: attention ≥ weights from n = %2").arg(name(m)).arg(*crossover),
            i == 0 ? 0.02 : 0.12);
        const auto& pos = series_[i].position;
        const bool reached = !pos.empty() && pos.back() >= double(*crossover);
        return QStringLiteral("attention ≥ weights from n = %1%2")
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
    CumulativeSeries series_[2];
    std::optional<SlopeFit> fits_[2];
    std::size_t ratioCount_ = 0;
    VLine crossover_[2], select_[2];
    QCPTextElement* notes_;
    QCPItemText* ratioNote_;
};

// --- Stacked breakdown by component ------------------------------------------------------------

class BreakdownChart : public Chart {
public:
    explicit BreakdownChart(QWidget* parent)
        : Chart(charts::newPlot(QStringLiteral("breakdown"),
                                QStringLiteral("FLOPs per step by component"), parent)) {
        QCPAxisRect* r = plot->axisRect();
        charts::labelAxes(r, kPositionAxis, QStringLiteral("FLOPs per step"), true);
        for (int i = 0; i < theme::kComponents; ++i) {
            auto* b = new QCPBars(plot->xAxis, plot->yAxis);
            b->setObjectName(QStringLiteral("breakdown.%1").arg(i));
            b->setName(str(theme::componentName(i)));
            b->setBrush(theme::componentColor(i));
            b->setPen(Qt::NoPen);
            b->setWidth(0.8);
            b->setStackingGap(0);
            if (i > 0) b->moveAbove(bars_[i - 1]);
            bars_[i] = b;
        }
        // Two rows of four in a layout row of their own: inside the axis rect the legend would
        // cover the bars it explains.
        plot->legend->setWrap(4);
        plot->legend->setFillOrder(QCPLayoutGrid::foColumnsFirst, true);
        r->insetLayout()->take(plot->legend);
        plot->plotLayout()->insertRow(1);
        plot->plotLayout()->addElement(1, 0, plot->legend);
        plot->plotLayout()->setRowStretchFactor(1, 0.001);
        prefillNote_ = new QCPItemText(plot);
        prefillNote_->setObjectName(QStringLiteral("breakdown.prefillNote"));
        prefillNote_->setClipToAxisRect(false);
        prefillNote_->setPositionAlignment(Qt::AlignLeft | Qt::AlignTop);
        prefillNote_->position->setTypeY(QCPItemPosition::ptAxisRectRatio);
        prefillNote_->position->setAxisRect(r);
        prefillNote_->setPadding(QMargins(6, 2, 0, 0));
        crossover_ = charts::addVLine(r, QStringLiteral("breakdown.crossover"),
                                      QPen(QColor(90, 90, 90), 1.2, Qt::DotLine), true);
        select_ = charts::addVLine(r, QStringLiteral("breakdown.selected"), selectionPen(), false);
    }

    void reset(const Ctx& c) override {
        for (QCPBars* b : bars_) b->data()->clear();
        prefill_.reset();
        decodeMax_ = 0;
        const RunRecord* focus = c.view.focus();
        mode_ = focus ? focus->mode : Mode::Cached;
        charts::plotTitle(plot)->setText(
            QStringLiteral("FLOPs per step by component · %1 run").arg(name(mode_)));
        plot->legend->setVisible(c.config != nullptr);
    }

    void add(const Ctx&, const StepResult& s) override {
        if (s.mode != mode_) return;
        for (int i = 0; i < theme::kComponents; ++i)
            bars_[i]->addData(s.position, double(theme::componentValue(s.flops, i)));
        if (s.prefill)
            prefill_ = std::make_pair(double(s.position), double(s.flops.total()));
        else
            decodeMax_ = std::max(decodeMax_, double(s.flops.total()));
    }

    void update(const Ctx& c, std::optional<double> x) override {
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

    QCPBars* bars_[theme::kComponents];
    Mode mode_ = Mode::Cached;
    std::optional<std::pair<double, double>> prefill_;  // position, total
    double decodeMax_ = 0;
    QCPItemText* prefillNote_;
    VLine crossover_, select_;
};

// --- Measured time and throughput ----------------------------------------------------------------

class TimeChart : public Chart {
public:
    explicit TimeChart(QWidget* parent)
        : Chart(charts::newPlot(QStringLiteral("time"),
                                QStringLiteral("Measured time per step and achieved throughput"),
                                parent)) {
        top_ = plot->axisRect();
        rate_ = charts::addRectBelow(plot, 1.0);
        charts::labelAxes(top_, QString(), QStringLiteral("time per step (ms)"), false);
        charts::labelAxes(rate_, kPositionAxis, QStringLiteral("achieved FLOP/s"), true);
        for (Mode m : kModes) {
            const QColor c = theme::modeColor(m);
            ms_[idx(m)] = charts::addModeSeries(top_, "time.ms." + name(m), name(m), c, false);
            rateSeries_[idx(m)] =
                charts::addModeSeries(rate_, "time.rate." + name(m), name(m), c, false);
            rateSeries_[idx(m)].line->removeFromLegend();
        }
        select_[0] = charts::addVLine(top_, QStringLiteral("time.selected"), selectionPen(), false);
        select_[1] =
            charts::addVLine(rate_, QStringLiteral("time.rate.selected"), selectionPen(), false);
    }

    void reset(const Ctx&) override {
        for (int i = 0; i < 2; ++i) {
            ms_[i].clear();
            rateSeries_[i].clear();
        }
    }

    void add(const Ctx&, const StepResult& s) override {
        const int i = idx(s.mode);
        ms_[i].add(s.position, s.milliseconds, s.prefill);
        // A step too fast for the clock has no meaningful rate.
        if (s.milliseconds > 0)
            rateSeries_[i].add(s.position, double(s.flops.total()) / (s.milliseconds * 1e-3),
                               s.prefill);
    }

    void update(const Ctx& c, std::optional<double> x) override {
        for (int i = 0; i < 2; ++i) {
            ms_[i].setShown(c.ran[i]);
            rateSeries_[i].setShown(c.ran[i]);
            rateSeries_[i].line->removeFromLegend();
            rateSeries_[i].prefill->removeFromLegend();
        }
        for (QCPAxisRect* r : {top_, rate_}) charts::rescale(r);
        rate_->axis(QCPAxis::atBottom)->setRange(top_->axis(QCPAxis::atBottom)->range());
        placeSelection(select_[0], x);
        placeSelection(select_[1], x);
    }

private:
    QCPAxisRect *top_, *rate_;
    ModeSeries ms_[2], rateSeries_[2];
    VLine select_[2];
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
        charts::labelAxes(top_, QString(), QStringLiteral("KV cache held (bytes)"), true);
        charts::labelAxes(saved_, kPositionAxis, QStringLiteral("FLOPs saved so far"), true);
        bytes_[0] = charts::addLine(top_, QStringLiteral("memory.kvBytes.naive"),
                                    QStringLiteral("naive (keeps no cache)"),
                                    theme::modeColor(Mode::Naive), false);
        bytes_[1] =
            charts::addLine(top_, QStringLiteral("memory.kvBytes.cached"), QStringLiteral("cached"),
                            theme::modeColor(Mode::Cached), false);
        const QColor c = theme::modeColor(Mode::Cached);
        savedLine_ = charts::addLine(saved_, QStringLiteral("memory.saved"),
                                     QStringLiteral("saved"), c, false);
        savedPredicted_ = charts::addLine(saved_, QStringLiteral("memory.saved.predicted"),
                                          QStringLiteral("saved (predicted)"), c, true);
        note_ = charts::addNote(top_, QStringLiteral("memory.note"), Qt::AlignLeft | Qt::AlignTop);
        plot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignBottom | Qt::AlignRight);
        select_[0] =
            charts::addVLine(top_, QStringLiteral("memory.selected"), selectionPen(), false);
        select_[1] = charts::addVLine(saved_, QStringLiteral("memory.saved.selected"),
                                      selectionPen(), false);
    }

    void reset(const Ctx&) override {
        for (QCPGraph* g : {bytes_[0], bytes_[1], savedLine_, savedPredicted_}) g->data()->clear();
        rows_.clear();
    }

    // Saved = what naive would have spent by this step (closed form) minus what cached spent:
    // measured when the cached run exists, else its closed form too.
    void add(const Ctx& c, const StepResult& s) override {
        bytes_[idx(s.mode)]->addData(s.position, double(s.kvCacheBytes));
        const bool measured = s.mode == Mode::Cached;
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

    void update(const Ctx& c, std::optional<double> x) override {
        for (Mode m : kModes) charts::setShown(bytes_[idx(m)], c.ran[idx(m)]);
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
        note_->setVisible(it != rows_.end());
        if (it == rows_.end()) return;
        QString text = QStringLiteral("at n = %1: %2 saved")
                           .arg(it->position)
                           .arg(charts::siValue(it->saved, QStringLiteral("FLOP")));
        if (it->bytes < 0)
            text += QStringLiteral("\nKV cache: run the cached mode to measure it");
        else if (it->bytes > 0)
            text += QStringLiteral(" for %1 of KV cache\n= %2 saved per byte held")
                        .arg(charts::siValue(it->bytes, QStringLiteral("B")),
                             charts::siValue(it->saved / it->bytes, QStringLiteral("FLOP")));
        note_->setText(text);
    }

    QCPAxisRect *top_, *saved_;
    QCPGraph *bytes_[2], *savedLine_, *savedPredicted_;
    std::vector<Row> rows_;
    QCPItemText* note_;
    VLine select_[2];
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
    std::vector<std::unique_ptr<Chart>> charts;
    CumulativeChart* cumulative = nullptr;
    RunView view;
    RunKey key;
    std::size_t appended[2] = {0, 0};
};

CostCharts::CostCharts(QWidget* parent) : QWidget(parent), d_(std::make_unique<Impl>()) {
    d_->tabs = new QTabWidget(this);
    d_->charts.push_back(std::make_unique<PerStepChart>(this));
    auto cumulative = std::make_unique<CumulativeChart>(this);
    d_->cumulative = cumulative.get();
    d_->charts.push_back(std::move(cumulative));
    d_->charts.push_back(std::make_unique<BreakdownChart>(this));
    d_->charts.push_back(std::make_unique<TimeChart>(this));
    d_->charts.push_back(std::make_unique<MemoryChart>(this));
    const char* tabNames[] = {"FLOPs per step", "Cumulative", "Breakdown", "Time", "Memory"};
    for (std::size_t i = 0; i < d_->charts.size(); ++i)
        d_->tabs->addTab(d_->charts[i]->plot, tr(tabNames[i]));

    d_->logBox = new QCheckBox(tr("log-log axes"), this);
    d_->logBox->setToolTip(
        tr("Log-log axes for FLOPs per step and cumulative FLOPs: a power law T^k becomes a "
           "straight line of slope k."));
    d_->tabs->setCornerWidget(d_->logBox, Qt::TopRightCorner);
    connect(d_->tabs, &QTabWidget::currentChanged, this, [this](int i) {
        if (i >= 0) d_->charts[std::size_t(i)]->plot->replot(QCustomPlot::rpQueuedReplot);
    });
    connect(d_->logBox, &QCheckBox::toggled, this, &CostCharts::setLogScale);

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(d_->tabs);
    reset();
    updateCharts();
}

CostCharts::~CostCharts() = default;

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
    for (auto& chart : d_->charts) chart->update(c, x);
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

std::optional<double> CostCharts::cumulativeSlope(Mode m) const {
    return d_->cumulative->slope(m);
}

}  // namespace kvscope
