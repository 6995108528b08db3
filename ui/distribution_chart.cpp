#include "distribution_chart.h"

#include "theme.h"
#include "token_text.h"

#include <QCheckBox>
#include <QHelpEvent>
#include <QToolTip>
#include <QVBoxLayout>
#include "qcustomplot_include.h"

#include <algorithm>
#include <cmath>

namespace kvscope {
namespace {

constexpr double kBarWidth = 0.7;
constexpr int kMaxLabelChars = 8;

QString elided(const QString& s) {
    return s.size() <= kMaxLabelChars ? s : s.left(kMaxLabelChars - 1) + QChar(0x2026);
}

double shownValue(const CandidateReport& c, bool raw) {
    return raw ? double(c.rawProb) : double(c.prob);
}

}  // namespace

DistributionChart::DistributionChart(QWidget* parent) : QWidget(parent) {
    rawBox_ = new QCheckBox(tr("raw probabilities"), this);
    rawBox_->setToolTip(
        tr("Show the softmax of the raw logits (temperature 1, no top-k or "
           "top-p) instead of the probabilities the sampler drew from."));
    plot_ = new QCustomPlot(this);
    plot_->setAccessibleName(tr("Candidate token probabilities"));
    plot_->installEventFilter(this);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(rawBox_);
    layout->addWidget(plot_, 1);
    buildPlot();
    applyPalette();
    showEmpty();
    connect(rawBox_, &QCheckBox::toggled, this, &DistributionChart::refresh);
}

void DistributionChart::buildPlot() {
    title_ = new QCPTextElement(plot_, QString(), font());
    plot_->plotLayout()->insertRow(0);
    plot_->plotLayout()->addElement(0, 0, title_);
    candidates_ = new QCPBars(plot_->xAxis, plot_->yAxis);
    sampled_ = new QCPBars(plot_->xAxis, plot_->yAxis);  // added second, so drawn on top
    for (QCPBars* b : {candidates_, sampled_}) b->setWidth(kBarWidth);
    candidates_->setName(tr("candidates"));
    sampled_->setName(tr("sampled token"));
    plot_->xAxis->setTicker(QSharedPointer<QCPAxisTickerText>::create());
    plot_->xAxis->setTickLabelFont(theme::monoFont(font().pointSize()));
    plot_->xAxis->grid()->setVisible(false);
    // QCustomPlot's margin for turned labels comes out a few pixels short of the last glyph.
    plot_->xAxis->setPadding(QFontMetrics(plot_->xAxis->tickLabelFont(), this).height() / 2);
    plot_->legend->setVisible(true);
    plot_->legend->setFont(font());
    plot_->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
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
    const bool raw = showingRaw();
    if (step == shown_ && raw == shownRaw_ && !stale_) return;
    const bool modeChanged = !shown_ || !step || step->mode != shown_->mode;
    shown_ = step;
    shownRaw_ = raw;
    stale_ = false;
    if (modeChanged) applyPalette();
    if (!step || view_.empty() || !view_.run->model) {
        showEmpty();
    } else {
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
    candidates_->data()->clear();
    sampled_->data()->clear();
    plot_->xAxis->setTicker(QSharedPointer<QCPAxisTickerText>::create());
    plot_->xAxis->setRange(-0.5, 0.5);
    plot_->yAxis->setRange(0, 1);
    title_->setText(tr("No step yet: the candidates appear once a run starts."));
}

void DistributionChart::fillBars() {
    const Tokenizer& tok = *view_.run->model->tokenizer;
    const SampleSummary& m = shown_->sample;
    top_ = m.top;
    labels_.clear();
    sampledIndex_ = -1;
    QVector<double> keys, values;
    QVector<QString> ticks;
    for (std::size_t i = 0; i < top_.size(); ++i) {
        labels_.push_back(visibleText(tok.tokenDisplay(top_[i].id)));
        keys << double(i);
        values << shownValue(top_[i], shownRaw_);
        ticks << elided(labels_.back());
        if (top_[i].id == m.token) sampledIndex_ = int(i);
    }
    candidates_->setData(keys, values, true);
    sampled_->data()->clear();
    if (sampledIndex_ >= 0) sampled_->addData(double(sampledIndex_), values[sampledIndex_]);
    auto ticker = QSharedPointer<QCPAxisTickerText>::create();
    ticker->setTicks(keys, ticks);
    plot_->xAxis->setTicker(ticker);
}

void DistributionChart::updateAxes() {
    double top = 0;
    for (const CandidateReport& c : top_) top = std::max(top, shownValue(c, shownRaw_));
    plot_->xAxis->setRange(-0.6, std::max(0.6, double(top_.size()) - 0.4));
    plot_->yAxis->setRange(0, std::max(0.02, top * 1.12));
    plot_->yAxis->setLabel(shownRaw_ ? tr("raw probability") : tr("probability"));
    plot_->xAxis->setTickLabelRotation(labelsFit() ? 0 : 90);
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

// Upright labels read best; they are turned only when the widest would overlap its neighbour.
bool DistributionChart::labelsFit() const {
    const QFontMetrics fm(plot_->xAxis->tickLabelFont(), this);
    int widest = 0;
    for (const QString& l : labels_) widest = std::max(widest, fm.horizontalAdvance(elided(l)));
    // The axis rect is not laid out before the first replot; the plot less the y axis is close.
    const double perBar = 0.88 * plot_->width() / std::max<double>(1, double(top_.size()) + 0.2);
    return widest < perBar * 0.9;
}

QString DistributionChart::title() const {
    return title_->text();
}

bool DistributionChart::showingRaw() const {
    return rawBox_->isChecked();
}

void DistributionChart::setShowRaw(bool raw) {
    rawBox_->setChecked(raw);  // toggled() refreshes
}

int DistributionChart::barAt(QPoint plotPos) const {
    if (top_.empty() || !plot_->axisRect()->rect().contains(plotPos)) return -1;
    const double key = plot_->xAxis->pixelToCoord(plotPos.x());
    const long i = std::lround(key);
    if (i < 0 || i >= long(top_.size()) || std::abs(key - double(i)) > kBarWidth / 2) return -1;
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
