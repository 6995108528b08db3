#include "token_strip.h"

#include "theme.h"

#include <QHelpEvent>
#include <QKeyEvent>
#include <QMouseEvent>
#include <QPainter>
#include <QScrollBar>
#include <QToolTip>
#include <QVariantAnimation>

#include <algorithm>

namespace kvscope {
namespace {

constexpr int kAnimationMs = 150;
constexpr int kToolTipAlternatives = 5;

QString escaped(const QString& display) {
    return visibleText(display).toHtmlEscaped();
}

Mode otherMode(Mode m) {
    return m == Mode::Naive ? Mode::Cached : Mode::Naive;
}

}  // namespace

TokenStrip::TokenStrip(QWidget* parent) : QAbstractScrollArea(parent) {
    setFocusPolicy(Qt::StrongFocus);
    setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    setVerticalScrollBarPolicy(Qt::ScrollBarAsNeeded);
    viewport()->setBackgroundRole(QPalette::Base);
    setAccessibleName(tr("Token strip"));
    setAccessibleDescription(
        tr("Prompt and generated tokens. Click a generated token or use the "
           "Left and Right keys to inspect its step; Esc follows the newest."));
    anim_ = new QVariantAnimation(this);
    anim_->setStartValue(0.0);
    anim_->setEndValue(1.0);
    anim_->setDuration(kAnimationMs);
    connect(anim_, &QVariantAnimation::valueChanged, this, [this] {
        if (animChip_ >= 0) viewport()->update(chipRect(animChip_));
    });
    connect(anim_, &QVariantAnimation::finished, this, [this] {
        if (animChip_ >= 0) viewport()->update(chipRect(animChip_));
        animChip_ = -1;
    });
    updateMetrics();
}

void TokenStrip::setView(const RunView& v) {
    view_ = v;
    if (v.selectedStep != selected_) {
        selected_ = v.selectedStep;
        selectionMoved_ = true;
    }
}

void TokenStrip::refresh() {
    const bool rebuilt = !sameSource();
    if (rebuilt) rebuild();
    QScrollBar* bar = verticalScrollBar();
    // A new run starts at the top with its prompt laid out already: that is not the user
    // scrolling away, so it follows the newest token like a run that fits.
    const bool atBottom = rebuilt || bar->value() >= bar->maximum();
    const int added = appendNewChips();
    const int mismatchesBefore = mismatches_;
    markMismatches();
    if (added > 0) {
        updateScrollRange();
        startAnimation(rebuilt ? 0 : added);
    }
    if (selected_ < 0 && (atBottom || selectionMoved_)) bar->setValue(bar->maximum());
    if (selected_ >= 0 && selectionMoved_) ensureVisible(selectedChip());
    if (rebuilt || added > 0 || selectionMoved_ || mismatches_ != mismatchesBefore)
        viewport()->update();
    selectionMoved_ = false;
}

bool TokenStrip::sameSource() const {
    const RunRecord* focus = view_.focus();
    if (view_.run != source_.run || view_.comparing() != source_.comparing) return false;
    if (!view_.run) return true;
    if (view_.run->model.get() != source_.model || view_.run->promptIds != source_.promptIds)
        return false;
    if (!focus) return generatedCount() == 0;
    if (focus->mode != source_.mode || int(focus->steps.size()) < generatedCount()) return false;
    return !source_.firstStep || focus->steps.front() == source_.firstStep;
}

void TokenStrip::rebuild() {
    anim_->stop();
    animChip_ = -1;
    chips_.clear();
    source_ = Source{};
    source_.run = view_.run;
    source_.comparing = view_.comparing();
    if (const RunRecord* focus = view_.focus()) source_.mode = focus->mode;
    compared_ = mismatches_ = 0;
    cursor_ = QPoint(margin_, margin_);
    laidOutWidth_ = viewport()->width();
    if (view_.run) {
        source_.model = view_.run->model.get();
        source_.promptIds = view_.run->promptIds;
        for (int id : view_.run->promptIds)
            addChip(view_.run->model ? view_.run->model->tokenizer->tokenDisplay(id) : QString(),
                    id, -1);
    }
    promptChips_ = chipCount();
    updateScrollRange();
    verticalScrollBar()->setValue(0);
}

int TokenStrip::appendNewChips() {
    const RunRecord* focus = view_.focus();
    if (!focus) return 0;
    const int have = generatedCount();
    const int total = int(focus->steps.size());
    chips_.reserve(std::size_t(promptChips_ + total));
    for (int i = have; i < total; ++i) {
        const StepResult& s = *focus->steps[std::size_t(i)];
        addChip(s.tokenText, s.token, i);
    }
    if (total > 0 && !source_.firstStep) source_.firstStep = focus->steps.front();
    return total - have;
}

void TokenStrip::addChip(const QString& display, int token, int step) {
    Chip c;
    c.runs = visibleRuns(display);
    c.width = chipWidth(c.runs);
    c.token = token;
    c.step = step;
    placeChip(c);
    chips_.push_back(std::move(c));
}

int TokenStrip::chipWidth(const std::vector<TextRun>& runs) const {
    const QFontMetrics fm(font_, this);
    int text = 0;
    for (const TextRun& r : runs) text += fm.horizontalAdvance(r.text);
    return std::max(text, fm.averageCharWidth()) + 2 * padX_;
}

void TokenStrip::placeChip(Chip& c) {
    const int right = margin_ + std::max(contentWidth(), c.width);
    if (cursor_.x() > margin_ && cursor_.x() + c.width > right)
        cursor_ = QPoint(margin_, cursor_.y() + chipHeight_ + gap_);
    c.rect = QRect(cursor_, QSize(c.width, chipHeight_));
    cursor_.rx() += c.width + gap_;
    ++layouts_;
}

void TokenStrip::relayout() {
    cursor_ = QPoint(margin_, margin_);
    laidOutWidth_ = viewport()->width();
    for (Chip& c : chips_) placeChip(c);
    updateScrollRange();
}

void TokenStrip::markMismatches() {
    const RunRecord* focus = view_.focus();
    const RunRecord* other = focus ? view_.record(otherMode(focus->mode)) : nullptr;
    if (!view_.comparing() || !other) return;
    const int n = std::min(generatedCount(), int(other->steps.size()));
    for (; compared_ < n; ++compared_) {
        const auto i = std::size_t(compared_);
        if (focus->steps[i]->token == other->steps[i]->token) continue;
        chips_[std::size_t(promptChips_ + compared_)].differs = true;
        ++mismatches_;
    }
}

void TokenStrip::updateMetrics() {
    font_ = theme::monoFont(font().pointSize());
    const QFontMetrics fm(font_, this);
    padX_ = std::max(2, fm.averageCharWidth() / 2);
    padY_ = std::max(1, fm.height() / 6);
    gap_ = std::max(2, fm.averageCharWidth() / 2);
    margin_ = gap_ + 1;  // room for the selection outline
    ascent_ = fm.ascent();
    chipHeight_ = fm.height() + 2 * padY_;
    verticalScrollBar()->setSingleStep(chipHeight_ + gap_);
}

void TokenStrip::updateScrollRange() {
    const int content = chips_.empty() ? 0 : chips_.back().rect.bottom() + 1 + margin_;
    QScrollBar* bar = verticalScrollBar();
    bar->setPageStep(viewport()->height());
    bar->setRange(0, std::max(0, content - viewport()->height()));
}

void TokenStrip::startAnimation(int added) {
    const bool slow = !sinceAppend_.isValid() || sinceAppend_.elapsed() >= kAnimationMs;
    sinceAppend_.restart();
    anim_->stop();
    if (animChip_ >= 0) viewport()->update(chipRect(animChip_));
    animChip_ = -1;
    // Several tokens per frame, or one sooner than the fade lasts: a pulse would only flicker.
    if (added != 1 || !slow) return;
    animChip_ = chipCount() - 1;
    anim_->start();
}

bool TokenStrip::animatingNewest() const {
    return animChip_ >= 0 && anim_->state() == QAbstractAnimation::Running;
}

void TokenStrip::ensureVisible(int index) {
    if (index < 0) return;
    QScrollBar* bar = verticalScrollBar();
    const QRect r = chips_[std::size_t(index)].rect.adjusted(0, -margin_, 0, margin_);
    if (r.top() < bar->value())
        bar->setValue(r.top());
    else if (r.bottom() >= bar->value() + viewport()->height())
        bar->setValue(r.bottom() + 1 - viewport()->height());
}

void TokenStrip::select(int step) {
    selected_ = step;
    if (step >= 0)
        ensureVisible(selectedChip());
    else
        verticalScrollBar()->setValue(verticalScrollBar()->maximum());
    viewport()->update();
    Q_EMIT stepSelected(step);
}

int TokenStrip::contentWidth() const {
    return std::max(1, viewport()->width() - 2 * margin_);
}

int TokenStrip::selectedChip() const {
    if (selected_ < 0 || generatedCount() == 0) return -1;
    return promptChips_ + std::min(selected_, generatedCount() - 1);
}

QRect TokenStrip::chipRect(int index) const {
    if (index < 0 || index >= chipCount()) return {};
    return chips_[std::size_t(index)].rect.translated(0, -verticalScrollBar()->value());
}

// Chips are in reading order, so their bottoms never decrease: a binary search finds the first
// row a paint or a hit test needs.
int TokenStrip::firstChipBelow(int y) const {
    const auto it = std::partition_point(chips_.begin(), chips_.end(),
                                         [y](const Chip& c) { return c.rect.bottom() < y; });
    return int(it - chips_.begin());
}

int TokenStrip::chipAt(QPoint viewportPos) const {
    const QPoint p = viewportPos + QPoint(0, verticalScrollBar()->value());
    for (int i = firstChipBelow(p.y()); i < chipCount(); ++i) {
        const QRect& r = chips_[std::size_t(i)].rect;
        if (r.top() > p.y()) break;
        if (r.contains(p)) return i;
    }
    return -1;
}

int TokenStrip::stepOfChip(int index) const {
    return index < 0 || index >= chipCount() ? -1 : chips_[std::size_t(index)].step;
}

QSize TokenStrip::sizeHint() const {
    return QSize(60 * QFontMetrics(font_, this).averageCharWidth(),
                 4 * (chipHeight_ + gap_) + 2 * margin_ + 2 * frameWidth());
}

QSize TokenStrip::minimumSizeHint() const {
    return QSize(12 * QFontMetrics(font_, this).averageCharWidth(),
                 chipHeight_ + 2 * margin_ + 2 * frameWidth());
}

QString TokenStrip::emptyText() const {
    if (!chips_.empty()) return {};
    return tr(
        "No tokens yet.\nType a prompt in Controls and press Generate (Ctrl+Return): the "
        "prompt's tokens appear here, then each generated token as it is sampled.");
}

void TokenStrip::paintEvent(QPaintEvent* event) {
    QPainter p(viewport());
    if (chips_.empty()) {
        // A blank white strip on first launch looked broken: say what will appear here.
        p.setPen(
            theme::blend(palette().color(QPalette::Text), palette().color(QPalette::Base), 0.4));
        p.drawText(viewport()->rect().adjusted(2 * margin_, margin_, -2 * margin_, -margin_),
                   Qt::AlignCenter | Qt::TextWordWrap, emptyText());
        return;
    }
    p.setRenderHint(QPainter::Antialiasing);
    p.setFont(font_);
    const int top = verticalScrollBar()->value();
    const QRect visible = event->rect().translated(0, top);
    p.translate(0, -top);
    for (int i = firstChipBelow(visible.top()); i < chipCount(); ++i) {
        const Chip& c = chips_[std::size_t(i)];
        if (c.rect.top() > visible.bottom()) break;
        if (c.rect.intersects(visible)) paintChip(p, c, i);
    }
}

QColor TokenStrip::chipFill(const Chip& c, int index) const {
    const QColor base = c.step < 0 ? theme::promptChip(palette()) : theme::generatedChip(palette());
    if (index != animChip_ || !animatingNewest()) return base;
    return theme::blend(theme::modeColor(source_.mode, palette()), base,
                        anim_->currentValue().toDouble());
}

void TokenStrip::paintChip(QPainter& p, const Chip& c, int index) const {
    const QColor fill = chipFill(c, index);
    const qreal radius = padY_ + 1;
    p.setPen(Qt::NoPen);
    p.setBrush(fill);
    p.drawRoundedRect(QRectF(c.rect), radius, radius);
    paintText(p, c, fill);
    p.setBrush(Qt::NoBrush);
    const QRectF outline = QRectF(c.rect).adjusted(-1, -1, 1, 1);
    if (c.differs) {
        p.setPen(QPen(theme::mismatchColor(palette()), 2, Qt::DashLine));
        p.drawRoundedRect(outline, radius, radius);
    }
    const bool following = selected_ < 0 && c.step >= 0 && index == chipCount() - 1;
    if (index == selectedChip() || following) {
        p.setPen(QPen(theme::selectionColor(palette()), following ? 1 : 2,
                      following ? Qt::DotLine : Qt::SolidLine));
        p.drawRoundedRect(outline, radius, radius);
    }
}

void TokenStrip::paintText(QPainter& p, const Chip& c, const QColor& fill) const {
    const QColor text = palette().color(QPalette::Text);
    const QColor dim = theme::blend(text, fill, 0.55);
    const QFontMetrics fm(font_, this);
    QPoint at(c.rect.left() + padX_, c.rect.top() + padY_ + ascent_);
    for (const TextRun& r : c.runs) {
        p.setPen(r.marker ? dim : text);
        p.drawText(at, r.text);
        at.rx() += fm.horizontalAdvance(r.text);
    }
}

void TokenStrip::resizeEvent(QResizeEvent* event) {
    QAbstractScrollArea::resizeEvent(event);
    QScrollBar* bar = verticalScrollBar();
    const bool atBottom = bar->value() >= bar->maximum();
    if (viewport()->width() != laidOutWidth_)
        relayout();
    else
        updateScrollRange();
    if (selected_ >= 0)
        ensureVisible(selectedChip());
    else if (atBottom)
        bar->setValue(bar->maximum());
}

void TokenStrip::mousePressEvent(QMouseEvent* event) {
    if (event->button() != Qt::LeftButton) return QAbstractScrollArea::mousePressEvent(event);
    setFocus(Qt::MouseFocusReason);
    const int step = stepOfChip(chipAt(event->position().toPoint()));
    if (step < 0) return;
    select(step == selected_ ? -1 : step);
}

void TokenStrip::mouseReleaseEvent(QMouseEvent* event) {
    // The press already acted; taking the release keeps it from reaching the parent.
    event->setAccepted(event->button() == Qt::LeftButton);
}

void TokenStrip::keyPressEvent(QKeyEvent* event) {
    const int last = generatedCount() - 1;
    const int current = selected_ < 0 ? last : std::min(selected_, last);
    switch (event->key()) {
        case Qt::Key_Left:
            if (last >= 0) select(std::max(0, current - 1));
            break;
        case Qt::Key_Right:
            // Stepping past the newest token goes back to following the run.
            if (selected_ >= 0) select(current + 1 > last ? -1 : current + 1);
            break;
        case Qt::Key_Home:
            if (last >= 0) select(0);
            break;
        case Qt::Key_Escape:
        case Qt::Key_End:
            if (selected_ < 0) return event->ignore();
            select(-1);
            break;
        default:
            return QAbstractScrollArea::keyPressEvent(event);
    }
    event->accept();
}

bool TokenStrip::viewportEvent(QEvent* event) {
    if (event->type() != QEvent::ToolTip) return QAbstractScrollArea::viewportEvent(event);
    const auto* help = static_cast<QHelpEvent*>(event);
    const int i = chipAt(help->pos());
    if (i < 0) {
        QToolTip::hideText();
        event->ignore();
    } else {
        QToolTip::showText(help->globalPos(), chipToolTip(i), viewport(), chipRect(i));
    }
    return true;
}

void TokenStrip::changeEvent(QEvent* event) {
    QAbstractScrollArea::changeEvent(event);
    if (event->type() != QEvent::FontChange) return;
    updateMetrics();
    for (Chip& c : chips_) c.width = chipWidth(c.runs);
    relayout();
    viewport()->update();
}

QString TokenStrip::chipToolTip(int index) const {
    if (index < 0 || index >= chipCount()) return {};
    const Chip& c = chips_[std::size_t(index)];
    QString text;
    for (const TextRun& r : c.runs) text += r.text;
    const QString head =
        QStringLiteral("<b style=\"font-family:monospace\">%1</b><br>").arg(text.toHtmlEscaped());
    if (c.step < 0)
        return head + tr("id %1 &middot; prompt token (position %2)").arg(c.token).arg(index);
    return head + generatedToolTip(c);
}

QString TokenStrip::generatedToolTip(const Chip& c) const {
    const RunRecord* focus = view_.focus();
    if (!focus || c.step >= int(focus->steps.size())) return {};
    const StepResult& s = *focus->steps[std::size_t(c.step)];
    const SampleSummary& m = s.sample;
    QString tip =
        tr("step %1 &middot; position %2 &middot; id %3<br>")
            .arg(s.step)
            .arg(s.position)
            .arg(s.token) +
        tr("probability %1 (raw %2) &middot; rank %3 by raw logit<br>")
            .arg(probabilityText(m.prob), probabilityText(m.rawProb))
            .arg(m.rank + 1) +
        tr("entropy %1 nats (raw %2 nats)").arg(m.entropy, 0, 'f', 3).arg(m.rawEntropy, 0, 'f', 3);
    tip += alternativesTable(m);
    const RunRecord* other = view_.record(otherMode(focus->mode));
    if (c.differs && other && c.step < int(other->steps.size())) {
        const StepResult& o = *other->steps[std::size_t(c.step)];
        tip += QStringLiteral("<br><b>") +
               tr("the %1 run chose %2 (id %3) here")
                   .arg(QLatin1String(modeName(o.mode)), escaped(o.tokenText))
                   .arg(o.token) +
               QStringLiteral("</b>");
    }
    return tip;
}

QString TokenStrip::alternativesTable(const SampleSummary& m) const {
    if (m.top.empty() || !view_.run || !view_.run->model) return {};
    const Tokenizer& tok = *view_.run->model->tokenizer;
    QString rows = QStringLiteral("<tr><th align=left>%1</th><th>%2</th><th>%3</th></tr>")
                       .arg(tr("top %1").arg(kToolTipAlternatives), tr("p"), tr("raw"));
    const std::size_t n = std::min<std::size_t>(m.top.size(), kToolTipAlternatives);
    for (std::size_t i = 0; i < n; ++i) {
        const CandidateReport& r = m.top[i];
        const bool chosen = r.id == m.token;
        rows +=
            QStringLiteral("<tr><td><code>%1%2%3</code></td><td>%4</td><td>%5</td></tr>")
                .arg(chosen ? QStringLiteral("<b>") : QString(), escaped(tok.tokenDisplay(r.id)),
                     chosen ? QStringLiteral("</b>") : QString(), probabilityText(r.prob),
                     probabilityText(r.rawProb));
    }
    return QStringLiteral("<table cellspacing=0 cellpadding=2>%1</table>").arg(rows);
}

}  // namespace kvscope
