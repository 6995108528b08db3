#include "distribution_chart.h"

#include "plot_appearance.h"
#include "theme.h"
#include "token_text.h"

#include "run/run_comparison.h"

#include <QComboBox>
#include <QHelpEvent>
#include <QToolTip>
#include <QVBoxLayout>
#include "qcustomplot_include.h"

#include <algorithm>
#include <cmath>

namespace kvscope {
namespace {

constexpr double kBarWidth = 0.38;  // of a pair: raw and processed side by side
constexpr int kMinCandidates = 5;   // fewer and the shape of the distribution is lost
constexpr int kLabelChars[] = {8, 6, 4, 3};

QString elided(const QString& s, int chars) {
    return s.size() <= chars ? s : s.left(chars - 1) + QChar(0x2026);
}

}  // namespace

DistributionChart::DistributionChart(QWidget* parent) : QWidget(parent) {
    stageBox_ = new QComboBox(this);
    for (int v = kOverview; v <= kDraw; ++v) stageBox_->addItem(stageName(v));
    stageBox_->setToolTip(
        tr("Walk the sampler's chain: the distribution after each stage (penalties, "
           "temperature, top-k, top-p, min-p), each bar beside what the stage before gave it, "
           "and the draw: where the random number fell in the cumulative distribution."));
    connect(stageBox_, &QComboBox::currentIndexChanged, this, [this] {
        stale_ = true;
        refresh();
    });
    plot_ = new QCustomPlot(this);
    plot_->setAccessibleName(tr("Candidate token probabilities"));
    plot_->installEventFilter(this);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(2);
    layout->addWidget(stageBox_);
    layout->addWidget(plot_, 1);
    buildPlot();
    charts::applyPalette(plot_, plot_->palette());
    applyPalette();
    // How many candidates' labels fit depends on the font's size.
    charts::followAppearance(plot_, [this] {
        applyPalette();
        stale_ = true;
        refresh();
    });
    showEmpty();
}

void DistributionChart::buildPlot() {
    title_ = new QCPTextElement(plot_, QString(), font());
    plot_->plotLayout()->insertRow(0);
    plot_->plotLayout()->addElement(0, 0, title_);
    raw_ = new QCPBars(plot_->xAxis, plot_->yAxis);
    candidates_ = new QCPBars(plot_->xAxis, plot_->yAxis);
    sampled_ = new QCPBars(plot_->xAxis, plot_->yAxis);  // added last, so drawn on top
    for (QCPBars* b : {raw_, candidates_, sampled_}) b->setWidth(kBarWidth);
    raw_->setName(tr("raw (T 1, no top-k/p)"));
    candidates_->setName(tr("sampler's"));
    sampled_->setName(tr("sampled"));
    plot_->xAxis->setTicker(QSharedPointer<QCPAxisTickerText>::create());
    plot_->xAxis->setTickLabelFont(theme::monoFont(font().pointSize()));
    plot_->xAxis->grid()->setVisible(false);
    plot_->xAxis->setTickLabelRotation(0);  // upright: fewer candidates rather than turned text
    // The legend in a row of its own under the title: inside the axis rect it would cover bars
    // when the distribution is flat.
    plot_->legend->setFont(font());
    plot_->axisRect()->insetLayout()->take(plot_->legend);
    plot_->legend->setFillOrder(QCPLegend::foColumnsFirst);
    plot_->legend->setWrap(3);
    // The draw: the survivors' cumulative distribution as a staircase on the right axis, u as a
    // line across it, and a marker where the staircase first rises above u.
    cumulative_ = new QCPCurve(plot_->xAxis, plot_->yAxis2);
    cumulative_->setName(tr("cumulative"));
    marker_ = new QCPGraph(plot_->xAxis, plot_->yAxis2);
    marker_->setName(tr("u fell here"));
    marker_->setLineStyle(QCPGraph::lsNone);
    marker_->setScatterStyle(
        QCPScatterStyle(QCPScatterStyle::ssDiamond, QPen(Qt::black, 1.5), QBrush(Qt::black), 13));
    uLine_ = new QCPItemStraightLine(plot_);
    uLabel_ = new QCPItemText(plot_);
    for (QCPItemPosition* pos : {uLine_->point1, uLine_->point2, uLabel_->position})
        pos->setAxes(plot_->xAxis, plot_->yAxis2);
    uLabel_->setPositionAlignment(Qt::AlignLeft | Qt::AlignBottom);
    uLabel_->setClipToAxisRect(true);
    plot_->yAxis2->setRange(0, 1.05);
    plot_->yAxis2->setLabel(tr("cumulative"));
    // Widths here, colours in applyPalette: presentation mode scales the widths.
    sampled_->setPen(QPen(Qt::black, 1.5));
    cumulative_->setPen(QPen(Qt::black, 1.5));
    uLine_->setPen(QPen(Qt::black, 1.5, Qt::DashLine));
    hideDraw();
    showLegend(false);  // until there is a step: no empty boxes on first launch
}

int DistributionChart::shownStage() const {
    return stageBox_->currentIndex();
}

void DistributionChart::setShownStage(int stage) {
    stageBox_->setCurrentIndex(std::clamp(stage, int(kOverview), int(kDraw)));
}

QString DistributionChart::stageName(int stage) {
    if (stage == kOverview) return tr("raw beside final");
    if (stage == kDraw) return tr("the draw");
    switch (SamplerStage(stage - 1)) {
        case SamplerStage::Raw:
            return tr("raw logits");
        case SamplerStage::Penalties:
            return tr("after penalties");
        case SamplerStage::Temperature:
            return tr("after temperature");
        case SamplerStage::TopK:
            return tr("after top-k");
        case SamplerStage::TopP:
            return tr("after top-p");
        case SamplerStage::MinP:
            return tr("after min-p");
    }
    return {};
}

QString DistributionChart::stageKey(int stage) {
    if (stage == kOverview) return {};
    if (stage == kDraw) return QStringLiteral("draw");
    return QLatin1String(samplerStageKey(SamplerStage(stage - 1)));
}

void DistributionChart::hideDraw() {
    cumulative_->data()->clear();
    marker_->data()->clear();
    for (QCPAbstractPlottable* p :
         std::initializer_list<QCPAbstractPlottable*>{cumulative_, marker_}) {
        p->setVisible(false);
        p->removeFromLegend();
    }
    uLine_->setVisible(false);
    uLabel_->setVisible(false);
    plot_->yAxis2->setVisible(false);
}

// The chart's file names carry the stage (the overview keeps the plain name).
void DistributionChart::updateExportTag() {
    const QString key = stageKey(shownStage());
    plot_->setProperty("kvscopeExportTag",
                       key.isEmpty() ? QString() : QStringLiteral("stage-") + key);
}

// In a row of the layout under the title while shown; out of the layout when hidden, where an
// invisible element would still hold its row's height.
void DistributionChart::showLegend(bool on) {
    QCPLegend* legend = plot_->legend;
    legend->setVisible(on);
    if (on == (legend->layout() != nullptr)) return;
    QCPLayoutGrid* grid = plot_->plotLayout();
    if (on) {
        grid->insertRow(1);
        grid->addElement(1, 0, legend);
        grid->setRowStretchFactor(1, 0.001);
    } else {
        grid->take(legend);
        grid->simplify();
    }
}

// The chart's own colours; the background, axes, title and legend text follow the palette with
// every chart's (charts::applyPalette). Only colours change here: presentation mode scales the
// widths.
void DistributionChart::applyPalette() {
    using charts::recoloured;
    const QPalette& pal = plot_->palette();
    const QColor fg = pal.color(QPalette::Text);
    const QColor bg = pal.color(QPalette::Base);
    for (QCPAxis* a : {plot_->xAxis, plot_->yAxis})
        a->grid()->setPen(QPen(theme::blend(fg, bg, 0.8), 0, Qt::DotLine));
    plot_->legend->setBrush(bg);
    plot_->legend->setBorderPen(recoloured(plot_->legend->borderPen(), theme::blend(fg, bg, 0.6)));
    // Colours follow the run's mode; the sampled bar differs in lightness too, for greyscale.
    const QColor mode = theme::modeColor(shown_ ? shown_->mode : view_.focusMode, pal);
    raw_->setBrush(theme::blend(fg, bg, 0.82));
    raw_->setPen(recoloured(raw_->pen(), theme::blend(fg, bg, 0.45)));
    candidates_->setBrush(theme::blend(mode, bg, 0.6));
    candidates_->setPen(recoloured(candidates_->pen(), theme::blend(mode, bg, 0.3)));
    sampled_->setBrush(mode);
    sampled_->setPen(recoloured(sampled_->pen(), theme::blend(mode, fg, 0.5)));
    cumulative_->setPen(recoloured(cumulative_->pen(), fg));
    QCPScatterStyle marker = marker_->scatterStyle();
    marker.setPen(recoloured(marker.pen(), fg));
    marker.setBrush(mode);
    marker_->setScatterStyle(marker);
    uLine_->setPen(recoloured(uLine_->pen(), fg));
    uLabel_->setColor(fg);
}

void DistributionChart::setView(const RunView& v) {
    view_ = v;
}

void DistributionChart::refresh() {
    const StepResultPtr step = view_.step();
    if (step == shown_ && !stale_) return;
    const bool modeChanged = !shown_ || !step || step->mode != shown_->mode;
    shown_ = step;
    stale_ = false;
    if (modeChanged) applyPalette();
    updateExportTag();
    if (!step || view_.empty() || !view_.run->model) {
        showEmpty();
    } else {
        showLegend(true);
        fillBars();
        fillDraw();
        updateAxes();
        updateTitle();
    }
    plot_->replot(QCustomPlot::rpQueuedReplot);
}

void DistributionChart::showEmpty() {
    top_.clear();
    labels_.clear();
    sampledIndex_ = -1;
    shownCount_ = 0;
    for (QCPBars* b : {raw_, candidates_, sampled_}) b->data()->clear();
    hideDraw();
    showLegend(false);
    plot_->xAxis->setTicker(QSharedPointer<QCPAxisTickerText>::create());
    plot_->xAxis->setRange(-0.5, 0.5);
    plot_->yAxis->setRange(0, 1);
    title_->setText(tr("No step yet: the candidates appear once a run starts."));
}

void DistributionChart::fillBars() {
    const Tokenizer& tok = *view_.run->model->tokenizer;
    const SampleSummary& m = shown_->sample;
    const int stage = shownStage();
    bars_.clear();
    if (stage == kOverview) {
        for (const CandidateReport& c : m.top) bars_.push_back({c.id, c.rawProb, c.prob});
    } else {
        // The draw lists the survivors as min-p left them, the order the selector walks.
        const auto& st = m.trace.at(stage == kDraw ? SamplerStage::MinP : SamplerStage(stage - 1));
        for (int i = 0; i < st.count; ++i) {
            const StageCandidate& c = st.top[std::size_t(i)];
            bars_.push_back({c.id, c.before, c.prob});
        }
    }
    // Raw has nothing before it and the draw changes nothing: one bar per candidate there.
    const bool pairs = stage != kDraw && stage != 1 + int(SamplerStage::Raw);
    raw_->setVisible(pairs);
    if (pairs)
        raw_->addToLegend();
    else
        raw_->removeFromLegend();
    raw_->setName(stage == kOverview ? tr("raw (T 1, no top-k/p)") : tr("before"));
    candidates_->setName(stage == kOverview ? tr("sampler's")
                         : stage == kDraw   ? tr("final")
                                            : stageName(stage));
    std::vector<QString> labels;
    for (const Bar& b : bars_) labels.push_back(visibleText(tok.tokenDisplay(b.id)));
    chooseCount(labels);
    top_.assign(bars_.begin(), bars_.begin() + shownCount_);
    labels_.assign(labels.begin(), labels.begin() + shownCount_);
    sampledIndex_ = -1;
    QVector<double> ticks, rawKeys, keys, raw, values;
    QVector<QString> names;
    const double offset = pairs ? kPairOffset : 0.0;  // a lone bar sits on its tick
    for (std::size_t i = 0; i < top_.size(); ++i) {
        ticks << double(i);
        keys << double(i) + offset;
        values << double(top_[i].after);
        if (pairs) {
            rawKeys << double(i) - kPairOffset;
            raw << double(top_[i].before);
        }
        names << elided(labels_[i], labelChars_);
        if (top_[i].id == m.token) sampledIndex_ = int(i);
    }
    raw_->setData(rawKeys, raw, true);
    candidates_->setData(keys, values, true);
    sampled_->data()->clear();
    if (sampledIndex_ >= 0) sampled_->addData(keys[sampledIndex_], values[sampledIndex_]);
    auto ticker = QSharedPointer<QCPAxisTickerText>::create();
    ticker->setTicks(ticks, names);
    plot_->xAxis->setTicker(ticker);
}

// The staircase of the listed survivors' cumulative probability, u across it, and the marker
// on the drawn token's column at height u.
void DistributionChart::fillDraw() {
    const DrawReport& d = shown_->sample.trace.draw;
    if (shownStage() != kDraw || !d.drawn) return hideDraw();
    QVector<double> t, x, y;
    double cum = 0;
    auto add = [&](double px, double py) {
        t << double(t.size());
        x << px;
        y << py;
    };
    add(-0.5, 0);
    for (std::size_t i = 0; i < top_.size(); ++i) {
        cum += double(top_[i].after);
        add(double(i) - 0.5, cum);
        add(double(i) + 0.5, cum);
    }
    cumulative_->setData(t, x, y, true);
    marker_->data()->clear();
    if (d.index < int(top_.size())) marker_->addData(double(d.index), d.u);
    const double right = std::max(0.6, double(top_.size()) - 0.4);
    uLine_->point1->setCoords(-0.6, d.u);
    uLine_->point2->setCoords(right, d.u);
    uLabel_->position->setCoords(-0.45, d.u);
    uLabel_->setText(QStringLiteral("u = %1").arg(d.u, 0, 'f', 4));
    for (QCPAbstractPlottable* p :
         std::initializer_list<QCPAbstractPlottable*>{cumulative_, marker_}) {
        p->setVisible(true);
        p->addToLegend();
    }
    uLine_->setVisible(true);
    uLabel_->setVisible(true);
    plot_->yAxis2->setVisible(true);
}

// The plot less the margins the last layout pass gave the axis rect (during a resize the
// widget has its new width, the layout not yet); before any pass, less a y axis's width.
double DistributionChart::axisWidth() const {
    const int laidOut = plot_->axisRect()->width();
    if (laidOut <= 0) return 0.88 * plot_->width();
    return plot_->width() - (plot_->viewport().width() - laidOut);
}

// The most candidates whose upright labels keep apart, eliding the labels further before
// dropping below kMinCandidates.
void DistributionChart::chooseCount(const std::vector<QString>& labels) {
    const QFontMetrics fm(plot_->xAxis->tickLabelFont(), this);
    const int total = int(labels.size());
    const int least = std::min(total, kMinCandidates);
    const double gap = fm.horizontalAdvance(QLatin1Char(' '));
    for (int chars : kLabelChars) {
        int widest = 0;
        std::vector<int> widestUpTo;  // widest label among the first n + 1
        for (const QString& l : labels) {
            widest = std::max(widest, fm.horizontalAdvance(elided(l, chars)));
            widestUpTo.push_back(widest);
        }
        for (int n = total; n >= least && n > 0; --n) {
            const double slot = axisWidth() / (n + 0.2);
            if (widestUpTo[std::size_t(n - 1)] + gap <= slot) {
                shownCount_ = n;
                labelChars_ = chars;
                return;
            }
        }
    }
    shownCount_ = least;
    labelChars_ = kLabelChars[std::size(kLabelChars) - 1];
}

void DistributionChart::updateAxes() {
    double top = 0;
    for (const Bar& b : top_) top = std::max({top, double(b.after), double(b.before)});
    plot_->xAxis->setRange(-0.6, std::max(0.6, double(top_.size()) - 0.4));
    plot_->yAxis->setRange(0, std::max(0.02, top * 1.12));
    plot_->yAxis->setLabel(tr("probability"));
}

void DistributionChart::updateTitle() {
    const StepResult& s = *shown_;
    const SampleSummary& m = s.sample;
    const QString where = tr("Step %1 (position %2, %3)")
                              .arg(s.step)
                              .arg(s.position)
                              .arg(QLatin1String(modeName(s.mode)));
    const int stage = shownStage();
    // Short lines: the dock is about 400 px wide on a 1280-pixel screen.
    if (stage != kOverview) {
        title_->setText(where + QStringLiteral(" \u00B7 ") + stageName(stage) + QLatin1Char('\n') +
                        (stage == kDraw ? drawTitle() : stageTitle()));
        return;
    }
    const QString entropy =
        tr("entropy %1 nats (raw %2 nats)").arg(m.entropy, 0, 'f', 3).arg(m.rawEntropy, 0, 'f', 3);
    const QString versus = referenceText();
    title_->setText(where + QStringLiteral(" \u00B7 ") + entropy + QLatin1Char('\n') +
                    sampledText() + (versus.isEmpty() ? QString() : QLatin1Char('\n') + versus));
}

// Against the previous model's run of the same prompt (RunView::reference): how far this step's
// raw probabilities moved, and the two decode speeds; empty when there is nothing to compare.
QString DistributionChart::referenceText() const {
    if (!view_.reference || !view_.run) return {};
    const auto c = compareRuns(*view_.reference, *view_.run, shown_->mode);
    if (!c) return {};
    // Two short lines: the dock is about 400 px wide.
    QString head = tr("vs %1").arg(c->referenceModel);
    if (c->referenceTokensPerSecond > 0 && c->tokensPerSecond > 0)
        head += tr(" \u00B7 decode %1\u00D7 its speed")
                    .arg(c->tokensPerSecond / c->referenceTokensPerSecond, 0, 'f', 2);
    const int k = view_.stepIndex();
    if (k >= c->comparableSteps)
        return head + QLatin1Char('\n') +
               tr("other tokens before this step (the runs parted at step %1)")
                   .arg(c->comparableSteps - 1);
    const StepShift& s = c->shifts[std::size_t(k)];
    if (s.token < 0) return head + QLatin1Char('\n') + tr("no candidate in both runs' top");
    return head + QLatin1Char('\n') +
           tr("largest move \u201C%1\u201D: raw %2 \u2192 %3")
               .arg(visibleText(view_.run->model->tokenizer->tokenDisplay(s.token)))
               .arg(double(s.before), 0, 'g', 3)
               .arg(double(s.after), 0, 'g', 3);
}

// "after top-p: 3 tokens left, entropy 0.512 nats", or that the stage was off.
QString DistributionChart::stageTitle() const {
    const int stage = shownStage();
    const StageSnapshot& st = shown_->sample.trace.at(SamplerStage(stage - 1));
    QString text =
        tr("%n token(s) left, entropy %1 nats", nullptr, st.survivors).arg(st.entropy, 0, 'f', 3);
    if (!st.on && stage != 1 + int(SamplerStage::Raw)) text += tr(" (stage off)");
    return text;
}

// Where u fell: the drawn token's interval of the cumulative distribution.
QString DistributionChart::drawTitle() const {
    const DrawReport& d = shown_->sample.trace.draw;
    const QString token = visibleText(shown_->tokenText);
    if (!d.drawn) return tr("none: temperature 0 takes the most likely, \u201C%1\u201D").arg(token);
    QString text = tr("u = %1 fell in [%2, %3): \u201C%4\u201D, survivor %5")
                       .arg(d.u, 0, 'f', 4)
                       .arg(d.cumBefore, 0, 'f', 4)
                       .arg(d.cumAfter, 0, 'f', 4)
                       .arg(token)
                       .arg(d.index + 1);
    if (d.index >= int(top_.size())) text += tr(" (beyond the %1 shown)").arg(top_.size());
    return text;
}

QString DistributionChart::sampledText() const {
    const SampleSummary& m = shown_->sample;
    const QString token = visibleText(shown_->tokenText);
    const QString probs =
        tr("p %1, raw %2").arg(probabilityText(m.prob), probabilityText(m.rawProb));
    if (sampledIndex_ >= 0)
        return tr("sampled \u201C%1\u201D (id %2, %3), highlighted")
            .arg(token)
            .arg(m.token)
            .arg(probs);
    return tr("sampled \u201C%1\u201D (id %2, %3, raw rank %4) is not among the top %5 shown")
        .arg(token)
        .arg(m.token)
        .arg(probs)
        .arg(m.rank + 1)
        .arg(top_.size());
}

QString DistributionChart::title() const {
    return title_->text();
}

int DistributionChart::barAt(QPoint plotPos) const {
    if (top_.empty() || !plot_->axisRect()->rect().contains(plotPos)) return -1;
    const double key = plot_->xAxis->pixelToCoord(plotPos.x());
    const long i = std::lround(key);
    if (i < 0 || i >= long(top_.size()) || std::abs(key - double(i)) > kPairOffset + kBarWidth / 2)
        return -1;
    return int(i);
}

QString DistributionChart::barToolTip(int index) const {
    if (index < 0 || index >= int(top_.size())) return {};
    const Bar& c = top_[std::size_t(index)];
    const int stage = shownStage();
    QString tip = QStringLiteral("<b style=\"font-family:monospace\">%1</b><br>")
                      .arg(labels_[std::size_t(index)].toHtmlEscaped());
    if (stage == kOverview) {
        tip += tr("id %1 &middot; rank %2 by raw logit<br>").arg(c.id).arg(index + 1) +
               tr("probability %1 &middot; raw %2")
                   .arg(probabilityText(c.after), probabilityText(c.before));
        if (c.after == 0 && c.before > 0)
            tip += QStringLiteral("<br>") + tr("filtered out by top-k/top-p/min-p");
    } else {
        tip += tr("id %1 &middot; %2 of the list<br>").arg(c.id).arg(index + 1) +
               tr("%1: %2 &middot; before: %3")
                   .arg(stageName(stage), probabilityText(c.after), probabilityText(c.before));
        if (c.after == 0 && c.before > 0)
            tip += QStringLiteral("<br>") + tr("filtered out by this stage");
    }
    if (index == sampledIndex_)
        tip += QStringLiteral("<br><b>") + tr("sampled") + QStringLiteral("</b>");
    return tip;
}

bool DistributionChart::eventFilter(QObject* watched, QEvent* event) {
    if (watched == plot_ && event->type() == QEvent::Resize && shown_) {
        stale_ = true;  // the room for labels changed: maybe more or fewer candidates
        refresh();
    }
    if (watched != plot_ || event->type() != QEvent::ToolTip)
        return QWidget::eventFilter(watched, event);
    const auto* help = static_cast<QHelpEvent*>(event);
    const int i = barAt(help->pos());
    if (i < 0) {
        QToolTip::hideText();
        event->ignore();
    } else {
        QToolTip::showText(help->globalPos(), barToolTip(i), plot_);
    }
    return true;
}

}  // namespace kvscope
