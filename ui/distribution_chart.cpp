#include "distribution_chart.h"

#include "theme.h"
#include "token_text.h"

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
    plot_ = new QCustomPlot(this);
    plot_->setAccessibleName(tr("Candidate token probabilities"));
    plot_->installEventFilter(this);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(plot_, 1);
    buildPlot();
    applyPalette();
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
    showLegend(false);  // until there is a step: no empty boxes on first launch
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

void DistributionChart::applyPalette() {
    const QPalette& pal = palette();
    const QColor fg = pal.color(QPalette::Text);
    const QColor bg = pal.color(QPalette::Base);
    plot_->setBackground(bg);
    for (QCPAxis* a : {plot_->xAxis, plot_->yAxis}) {
        a->setBasePen(QPen(fg));
        a->setTickPen(QPen(fg));
        a->setSubTickPen(QPen(fg));
        a->setLabelColor(fg);
        a->setTickLabelColor(fg);
        a->grid()->setPen(QPen(theme::blend(fg, bg, 0.8), 0, Qt::DotLine));
    }
    title_->setTextColor(fg);
    plot_->legend->setBrush(bg);
    plot_->legend->setTextColor(fg);
    plot_->legend->setBorderPen(QPen(theme::blend(fg, bg, 0.6)));
    // Colours follow the run's mode; the sampled bar differs in lightness too, for greyscale.
    const QColor mode = theme::modeColor(shown_ ? shown_->mode : view_.focusMode);
    raw_->setBrush(theme::blend(fg, bg, 0.82));
    raw_->setPen(QPen(theme::blend(fg, bg, 0.45)));
    candidates_->setBrush(theme::blend(mode, bg, 0.6));
    candidates_->setPen(QPen(theme::blend(mode, bg, 0.3)));
    sampled_->setBrush(mode);
    sampled_->setPen(QPen(theme::blend(mode, fg, 0.5), 1.5));
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
    if (!step || view_.empty() || !view_.run->model) {
        showEmpty();
    } else {
        showLegend(true);
        fillBars();
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
    showLegend(false);
    plot_->xAxis->setTicker(QSharedPointer<QCPAxisTickerText>::create());
    plot_->xAxis->setRange(-0.5, 0.5);
    plot_->yAxis->setRange(0, 1);
    title_->setText(tr("No step yet: the candidates appear once a run starts."));
}

void DistributionChart::fillBars() {
    const Tokenizer& tok = *view_.run->model->tokenizer;
    const SampleSummary& m = shown_->sample;
    std::vector<QString> labels;
    for (const CandidateReport& c : m.top) labels.push_back(visibleText(tok.tokenDisplay(c.id)));
    chooseCount(labels);
    top_.assign(m.top.begin(), m.top.begin() + shownCount_);
    labels_.assign(labels.begin(), labels.begin() + shownCount_);
    sampledIndex_ = -1;
    QVector<double> ticks, rawKeys, keys, raw, values;
    QVector<QString> names;
    for (std::size_t i = 0; i < top_.size(); ++i) {
        ticks << double(i);
        rawKeys << double(i) - kPairOffset;
        keys << double(i) + kPairOffset;
        raw << double(top_[i].rawProb);
        values << double(top_[i].prob);
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
    for (const CandidateReport& c : top_) top = std::max({top, double(c.prob), double(c.rawProb)});
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
    const QString entropy =
        tr("entropy %1 nats (raw %2 nats)").arg(m.entropy, 0, 'f', 3).arg(m.rawEntropy, 0, 'f', 3);
    title_->setText(where + QStringLiteral(" \u00B7 ") + entropy + QLatin1Char('\n') +
                    sampledText());
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
    const CandidateReport& c = top_[std::size_t(index)];
    QString tip = QStringLiteral("<b style=\"font-family:monospace\">%1</b><br>")
                      .arg(labels_[std::size_t(index)].toHtmlEscaped()) +
                  tr("id %1 &middot; rank %2 by raw logit<br>").arg(c.id).arg(index + 1) +
                  tr("probability %1 &middot; raw %2")
                      .arg(probabilityText(c.prob), probabilityText(c.rawProb));
    if (c.prob == 0 && c.rawProb > 0)
        tip += QStringLiteral("<br>") + tr("filtered out by top-k/top-p");
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

void DistributionChart::changeEvent(QEvent* event) {
    QWidget::changeEvent(event);
    if (event->type() != QEvent::PaletteChange) return;
    applyPalette();
    stale_ = true;
    refresh();
}

}  // namespace kvscope
