#include "chart_style.h"

#include "plot_appearance.h"

#include <algorithm>
#include <cmath>
#include <optional>

namespace kvscope::charts {
namespace {

constexpr double kTickPt = 8, kLabelPt = 9, kNotePt = 8;

QFont sized(double points, bool bold = false) {
    QFont f;
    f.setPointSizeF(points);
    f.setBold(bold);
    return f;
}

template <typename Base>
class SiTicker : public Base {
protected:
    QString getTickLabel(double tick, const QLocale&, QChar, int) override { return siLabel(tick); }
};

// QCPAxisTickerLog labels only powers of ten, which leaves a sequence spanning less than a decade
// with one label or none; narrow ranges get every digit, a few decades 1-2-5 steps.
class LogTicker : public QCPAxisTickerLog {
protected:
    QVector<double> createTickVector(double tickStep, const QCPRange& range) override {
        const double decades = std::log10(range.upper / range.lower);
        narrow_ = range.lower > 0 && decades <= 3;
        if (!narrow_) return QCPAxisTickerLog::createTickVector(tickStep, range);
        // Within a factor of three, evenly spaced round numbers label better than any mantissas.
        if (decades < 0.5)
            return QCPAxisTicker::createTickVector(QCPAxisTicker::getTickStep(range), range);
        static const QVector<double> within = {1, 2, 3, 4, 5, 6, 7, 8, 9}, across = {1, 2, 5};
        QVector<double> ticks;
        const int e0 = int(std::floor(std::log10(range.lower)));
        const int e1 = int(std::ceil(std::log10(range.upper)));
        for (int e = e0; e <= e1; ++e)
            for (double m : decades < 1.2 ? within : across) ticks.append(m * std::pow(10.0, e));
        return ticks;
    }
    int getSubTickCount(double tickStep) override {
        return narrow_ ? 0 : QCPAxisTickerLog::getSubTickCount(tickStep);
    }

private:
    bool narrow_ = false;
};

using SiLogTicker = SiTicker<LogTicker>;

void styleRect(QCPAxisRect* rect, const QPalette& pal) {
    const QColor text = pal.color(QPalette::Text);
    QColor grid = text;
    grid.setAlpha(35);
    for (QCPAxis* a : rect->axes()) {
        a->setBasePen(QPen(text));
        a->setTickPen(QPen(text));
        a->setSubTickPen(QPen(text));
        a->setTickLabelColor(text);
        a->setLabelColor(text);
        a->setTickLabelFont(sized(kTickPt));
        a->setLabelFont(sized(kLabelPt));
        a->grid()->setPen(QPen(grid));
    }
}

QPalette paletteOf(QCustomPlot* plot) {
    return plot->parentWidget() ? plot->parentWidget()->palette() : plot->palette();
}

}  // namespace

namespace {
struct SiParts {
    QString mantissa, prefix;
};

SiParts siParts(double v) {
    if (v == 0 || !std::isfinite(v)) return {QString::number(v), QString()};
    static const char* prefixes[] = {"p", "n", "µ", "m", "", "k", "M", "G", "T", "P", "E"};
    // Rounding to the shown digits first picks the prefix, so 999.96 reads "1 k", not "1e+03".
    const double shown = QString::number(v, 'g', 3).toDouble();
    const int e = std::clamp(int(std::floor(std::log10(std::abs(shown)) / 3)), -4, 6);
    return {QString::number(shown / std::pow(1000.0, e), 'g', 3),
            QString::fromUtf8(prefixes[e + 4])};
}
}  // namespace

QString siLabel(double v) {
    const SiParts p = siParts(v);
    return p.prefix.isEmpty() ? p.mantissa : p.mantissa + QLatin1Char(' ') + p.prefix;
}

QString siValue(double v, const QString& unit) {
    const SiParts p = siParts(v);
    return p.mantissa + QLatin1Char(' ') + p.prefix + unit;
}

QSharedPointer<QCPAxisTicker> plainLogTicker() {
    return QSharedPointer<QCPAxisTicker>(new LogTicker);
}

QSharedPointer<QCPAxisTicker> siTicker(bool logarithmic) {
    if (logarithmic) return QSharedPointer<QCPAxisTicker>(new SiLogTicker);
    return QSharedPointer<QCPAxisTicker>(new SiTicker<QCPAxisTicker>);
}

void setLogAxis(QCPAxis* axis, bool logarithmic, bool siLinear) {
    axis->setScaleType(logarithmic ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
    if (logarithmic || siLinear)
        axis->setTicker(siTicker(logarithmic));
    else
        axis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
}

QCustomPlot* newPlot(const QString& id, const QString& title, QWidget* parent) {
    auto* plot = new QCustomPlot(parent);
    plot->setObjectName(id);
    const QPalette pal = paletteOf(plot);
    plot->setBackground(pal.color(QPalette::Base));
    plot->plotLayout()->insertRow(0);
    // Wrapped, not cut, when presentation mode's font makes it wider than the plot.
    auto* heading = new WrappedText(plot, title, sized(10, true));
    heading->setTextFlags(Qt::AlignHCenter | Qt::AlignVCenter | Qt::TextWordWrap);
    heading->setObjectName(id + QStringLiteral(".title"));
    heading->setTextColor(pal.color(QPalette::Text));
    plot->plotLayout()->addElement(0, 0, heading);
    styleRect(plot->axisRect(), pal);

    plot->legend->setVisible(true);
    plot->legend->setFont(sized(kNotePt));
    plot->legend->setTextColor(pal.color(QPalette::Text));
    QColor fill = pal.color(QPalette::Base);
    fill.setAlpha(215);
    plot->legend->setBrush(fill);
    plot->legend->setBorderPen(QPen(pal.color(QPalette::Mid)));
    plot->legend->setIconSize(18, 9);
    plot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignLeft);
    followAppearance(plot);
    return plot;
}

QCPTextElement* plotTitle(QCustomPlot* plot) {
    return qobject_cast<QCPTextElement*>(plot->plotLayout()->element(0, 0));
}

namespace {
// The width a row of the plot's top-level layout gets: the plot's, less the layout's margins.
int rowWidth(const QCustomPlot* plot) {
    const QMargins m = plot->plotLayout()->margins();
    return plot->viewport().width() - m.left() - m.right();
}
}  // namespace

WrappedText::WrappedText(QCustomPlot* plot, const QString& text, const QFont& font)
    : QCPTextElement(plot, text, font) {
    setTextFlags(Qt::AlignLeft | Qt::AlignVCenter | Qt::TextWordWrap);
}

QSize WrappedText::minimumOuterSizeHint() const {
    const QMargins m = margins();
    const QFontMetrics fm(mFont);
    // About a dozen characters: enough for a word, never what sets the window's width.
    const int least = fm.horizontalAdvance(QStringLiteral("attention-dominated"));
    if (folded()) return QSize(least, 0);
    int width = mParentPlot ? rowWidth(mParentPlot) - m.left() - m.right() : 0;
    width = std::max(width, least);
    const int flags = (mTextFlags | Qt::TextWordWrap) & ~Qt::TextDontClip;
    const QRect r = fm.boundingRect(QRect(0, 0, width, 1 << 20), flags, mText);
    const int height = mText.isEmpty() ? 0 : r.height();
    return QSize(least + m.left() + m.right(), height + m.top() + m.bottom());
}

QSize WrappedText::maximumOuterSizeHint() const {
    return QSize(QWIDGETSIZE_MAX, minimumOuterSizeHint().height());
}

// At presentation scale the charts share a 720-pixel projector with the lesson, and a few lines
// of notes would squeeze the curves flat: the notes fold away there (the narration says what they
// say) and come back at normal scale and in every export, which draws at scale 1.
bool WrappedText::folded() const {
    return foldsWhenPresenting_ && mParentPlot && drawnScale(mParentPlot) > 1;
}

void WrappedText::draw(QCPPainter* painter) {
    if (folded()) return;
    mTextFlags = (mTextFlags | Qt::TextWordWrap) & ~Qt::TextDontClip;
    QCPTextElement::draw(painter);
}

int WrappingLegend::columnsFor(int width) const {
    int widest = 0;
    for (int i = 0; i < itemCount(); ++i)
        if (QCPAbstractLegendItem* it = item(i))
            widest = std::max(widest, it->minimumOuterSizeHint().width());
    if (widest == 0) return maxColumns_;
    const int room = width - margins().left() - margins().right();
    const int columns = (room + columnSpacing()) / (widest + columnSpacing());
    return std::clamp(columns, 1, maxColumns_);
}

void WrappingLegend::update(UpdatePhase phase) {
    // Before the parent lays out its rows, so that it sizes this row for the new wrap.
    if (phase == upPreparation && mParentPlot) {
        const int columns = columnsFor(rowWidth(mParentPlot));
        if (columns != wrap()) {
            setWrap(columns);
            setFillOrder(fillOrder(), true);
        }
    }
    QCPLegend::update(phase);
}

QSize WrappingLegend::minimumOuterSizeHint() const {
    QSize s = QCPLegend::minimumOuterSizeHint();
    int widest = 0;
    for (int i = 0; i < itemCount(); ++i)
        if (QCPAbstractLegendItem* it = item(i))
            widest = std::max(widest, it->minimumOuterSizeHint().width());
    s.setWidth(std::min(s.width(), widest + margins().left() + margins().right()));
    return s;
}

WrappingLegend* useWrappingLegend(QCustomPlot* plot, int row, int maxColumns) {
    QCPLegend* old = plot->legend;
    auto* legend = new WrappingLegend(maxColumns);
    legend->setFont(old->font());
    legend->setTextColor(old->textColor());
    legend->setBrush(old->brush());
    legend->setBorderPen(old->borderPen());
    legend->setIconSize(old->iconSize());
    legend->setFillOrder(QCPLayoutGrid::foColumnsFirst, false);
    legend->setWrap(maxColumns);
    plot->axisRect()->insetLayout()->take(old);
    delete old;
    plot->legend = legend;
    plot->plotLayout()->insertRow(row);
    plot->plotLayout()->addElement(row, 0, legend);
    plot->plotLayout()->setRowStretchFactor(row, 0.001);
    legend->setLayer(QStringLiteral("legend"));
    return legend;
}

void InsideText::setFullText(const QString& text) {
    full_ = text;
    setText(text);
}

QRectF InsideText::rectFor(Qt::Alignment a) const {
    const QFontMetricsF fm(mainFont());
    QRectF box =
        fm.boundingRect(QRectF(), Qt::TextDontClip | mTextAlignment, mText)
            .adjusted(-mPadding.left(), -mPadding.top(), mPadding.right(), mPadding.bottom());
    const QPointF at = position->pixelPosition();
    box.moveTop(at.y());
    if (a & Qt::AlignRight)
        box.moveRight(at.x());
    else
        box.moveLeft(at.x());
    return box;
}

void InsideText::draw(QCPPainter* painter) {
    const QRectF clip = clipRect();
    const QString whole = full_.isEmpty() ? mText : full_;
    QString broken = whole;
    if (const int at = broken.lastIndexOf(QStringLiteral(" from ")); at > 0)
        broken.replace(at, 1, QLatin1Char('\n'));
    for (const QString& text : {whole, broken}) {
        mText = text;
        for (Qt::Alignment side : {Qt::AlignLeft, Qt::AlignRight}) {
            const QRectF r = rectFor(side);
            if (r.left() >= clip.left() && r.right() <= clip.right() + 0.5) {
                mPositionAlignment = side | Qt::AlignTop;
                QCPItemText::draw(painter);
                return;
            }
        }
    }
    // Nothing fits: the side with more room.
    const double x = position->pixelPosition().x();
    mPositionAlignment =
        (x - clip.left() > clip.right() - x ? Qt::AlignRight : Qt::AlignLeft) | Qt::AlignTop;
    QCPItemText::draw(painter);
}

QCPTextElement* addSubtitle(QCustomPlot* plot, const QString& id, int row) {
    auto* t = new WrappedText(plot, QString(), sized(kNotePt));
    t->setFoldsWhenPresenting(true);
    t->setObjectName(id);
    t->setTextColor(paletteOf(plot).color(QPalette::Text));
    t->setMargins(QMargins(12, 0, 12, 2));
    plot->plotLayout()->insertRow(row);
    plot->plotLayout()->addElement(row, 0, t);
    plot->plotLayout()->setRowStretchFactor(row, 0.001);
    return t;
}

void markInteractive(QCPLayerable* item) {
    item->setProperty("kvscopeInteractive", true);
}

bool isInteractive(const QCPLayerable* item) {
    return item->property("kvscopeInteractive").toBool();
}

QCPItemText* addEmptyNote(QCPAxisRect* rect, const QString& id, const QString& text) {
    auto* t = new QCPItemText(rect->parentPlot());
    t->setObjectName(id);
    t->setClipAxisRect(rect);
    t->position->setType(QCPItemPosition::ptAxisRectRatio);
    t->position->setAxisRect(rect);
    t->position->setCoords(0.5, 0.45);
    t->setPositionAlignment(Qt::AlignCenter);
    t->setTextAlignment(Qt::AlignHCenter);
    setInk(t, 0);
    t->setFont(sized(kLabelPt));
    t->setText(text);
    t->setVisible(false);
    return t;
}

QCPAxisRect* addRectBelow(QCustomPlot* plot, double stretch) {
    QCPAxisRect* top = plot->axisRect(0);
    auto* rect = new QCPAxisRect(plot);
    plot->plotLayout()->addElement(plot->plotLayout()->rowCount(), 0, rect);
    plot->plotLayout()->setRowStretchFactor(plot->plotLayout()->rowCount() - 1, stretch);
    auto* group = new QCPMarginGroup(plot);
    top->setMarginGroup(QCP::msLeft | QCP::msRight, group);
    rect->setMarginGroup(QCP::msLeft | QCP::msRight, group);
    styleRect(rect, paletteOf(plot));
    return rect;
}

void labelAxes(QCPAxisRect* rect, const QString& x, const QString& y, bool siY) {
    rect->axis(QCPAxis::atBottom)->setLabel(x);
    rect->axis(QCPAxis::atLeft)->setLabel(y);
    if (siY) rect->axis(QCPAxis::atLeft)->setTicker(siTicker(false));
}

QCPGraph* addLine(QCPAxisRect* rect, const QString& id, const QString& label, const QColor& c,
                  bool dashed) {
    QCPGraph* g =
        rect->parentPlot()->addGraph(rect->axis(QCPAxis::atBottom), rect->axis(QCPAxis::atLeft));
    g->setObjectName(id);
    g->setName(label);
    g->setPen(QPen(c, dashed ? 1.5 : 2.0, dashed ? Qt::DashLine : Qt::SolidLine));
    return g;
}

QCPGraph* addMarkers(QCPAxisRect* rect, const QString& id, const QString& label, const QColor& c,
                     bool filled) {
    QCPGraph* g = addLine(rect, id, label, c, false);
    g->setLineStyle(QCPGraph::lsNone);
    g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDiamond, QPen(c, 1.5),
                                       filled ? QBrush(c) : QBrush(Qt::NoBrush), 10));
    return g;
}

void setShown(QCPAbstractPlottable* p, bool shown) {
    p->setVisible(shown);
    if (shown)
        p->addToLegend();
    else
        p->removeFromLegend();
}

void VLine::place(double x, const QString& text, double labelY) {
    line->setVisible(true);
    line->start->setCoords(x, 0);
    line->end->setCoords(x, 1);
    if (!label) return;
    label->setVisible(!text.isEmpty());
    label->setFullText(text);
    label->position->setCoords(x, labelY);
}

void VLine::hide() {
    line->setVisible(false);
    if (label) label->setVisible(false);
}

void VLine::setInk(double t) {
    charts::setInk(line, t);
    if (label) charts::setInk(label, t);
}

namespace {
// x in plot coordinates, y as a fraction of the axis rect's height: a line or label that spans
// the rect whatever the value range or scale.
void pinToRect(QCPItemPosition* p, QCPAxisRect* rect) {
    p->setAxes(rect->axis(QCPAxis::atBottom), rect->axis(QCPAxis::atLeft));
    p->setAxisRect(rect);
    p->setTypeX(QCPItemPosition::ptPlotCoords);
    p->setTypeY(QCPItemPosition::ptAxisRectRatio);
}
}  // namespace

VLine addVLine(QCPAxisRect* rect, const QString& id, const QPen& pen, bool labelled) {
    VLine v;
    v.line = new QCPItemLine(rect->parentPlot());
    v.line->setObjectName(id);
    v.line->setPen(pen);
    v.line->setClipAxisRect(rect);
    pinToRect(v.line->start, rect);
    pinToRect(v.line->end, rect);
    if (labelled) {
        v.label = new InsideText(rect->parentPlot());
        v.label->setObjectName(id + QStringLiteral(".label"));
        v.label->setClipAxisRect(rect);
        pinToRect(v.label->position, rect);
        v.label->setPositionAlignment(Qt::AlignLeft | Qt::AlignTop);
        v.label->setFont(sized(kNotePt));
        v.label->setColor(pen.color());
        v.label->setPadding(QMargins(4, 1, 4, 1));
    }
    v.hide();
    return v;
}

QCPItemText* addNote(QCPAxisRect* rect, const QString& id, Qt::Alignment corner) {
    auto* t = new QCPItemText(rect->parentPlot());
    t->setObjectName(id);
    t->setClipAxisRect(rect);
    t->position->setType(QCPItemPosition::ptAxisRectRatio);
    t->position->setAxisRect(rect);
    t->position->setCoords(corner & Qt::AlignLeft ? 0.01 : 0.99,
                           corner & Qt::AlignTop ? 0.02 : 0.98);
    t->setPositionAlignment(corner);
    t->setTextAlignment(Qt::AlignLeft);
    t->setBrush(QColor(255, 255, 255, 215));  // the paper's colour, as translucent
    t->setPen(QPen());
    setInk(t, 0);
    setPaper(t, true);
    t->setFont(sized(kNotePt));
    t->setPadding(QMargins(5, 3, 5, 3));
    t->setVisible(false);
    return t;
}

void ModeSeries::add(double x, double y, bool isPrefill) {
    (isPrefill ? prefill : line)->addData(x, y);
}

void ModeSeries::clear() {
    line->data()->clear();
    prefill->data()->clear();
}

void ModeSeries::setShown(bool shown) {
    charts::setShown(line, shown);
    charts::setShown(prefill, shown && !prefill->data()->isEmpty());
}

ModeSeries addModeSeries(QCPAxisRect* rect, const QString& id, const QString& label,
                         const QColor& c, bool predicted) {
    ModeSeries s;
    s.line = addLine(rect, id, label, c, predicted);
    s.prefill = addMarkers(rect, id + QStringLiteral(".prefill"),
                           label + QStringLiteral(" prefill"), c, !predicted);
    return s;
}

namespace {
// The range of the visible data on axis `a`, over positive values only for a log axis.
std::optional<QCPRange> dataRange(QCPAxis* a) {
    const QCP::SignDomain sign =
        a->scaleType() == QCPAxis::stLogarithmic ? QCP::sdPositive : QCP::sdBoth;
    std::optional<QCPRange> out;
    for (QCPAbstractPlottable* p : a->plottables()) {
        // Bars report their base value as a range even without data.
        if (!p->visible() || !p->interface1D() || p->interface1D()->dataCount() == 0) continue;
        bool found = false;
        const QCPRange r =
            p->keyAxis() == a ? p->getKeyRange(found, sign) : p->getValueRange(found, sign);
        if (!found) continue;
        out = out ? QCPRange(std::min(out->lower, r.lower), std::max(out->upper, r.upper)) : r;
    }
    return out;
}

// Values start at zero so bar and line heights compare honestly; positions get half a token of
// margin so the first and last bars are not cut in half.
void rescaleAxis(QCPAxis* a, bool isValue) {
    const bool log = a->scaleType() == QCPAxis::stLogarithmic;
    const auto data = dataRange(a);
    a->setTickLabels(data.has_value());
    if (!data) {
        a->setRange(log ? QCPRange(1, 10) : QCPRange(0, 1));
        return;
    }
    const QCPRange r = *data;
    if (log) {
        const double pad = isValue ? 1.3 : 1.03;
        const double spread = r.upper > r.lower ? 1.0 : 2.0;  // a single value still gets a range
        a->setRange(r.lower / pad / spread, r.upper * pad * spread);
        return;
    }
    if (isValue && r.lower == 0 && r.upper == 0) {
        // Only zeros (the naive run's KV cache): a 0-1 range would label milli-bytes.
        a->setTickLabels(false);
        a->setRange(0, 1);
        return;
    }
    if (isValue) {
        const double lower = std::min(0.0, r.lower);
        double upper = r.upper > 0 ? r.upper * 1.08 : 0.0;
        if (upper <= lower) upper = lower + 1;
        a->setRange(lower, upper);
        return;
    }
    const double pad = std::max(r.size() * 0.02, 0.6);
    a->setRange(r.lower - pad, r.upper + pad);
}
}  // namespace

void rescale(QCPAxisRect* rect) {
    rescaleAxis(rect->axis(QCPAxis::atBottom), false);
    rescaleAxis(rect->axis(QCPAxis::atLeft), true);
}

}  // namespace kvscope::charts
