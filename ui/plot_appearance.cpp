#include "plot_appearance.h"

#include "theme.h"

#include <QEvent>

#include <cmath>
#include <set>

namespace kvscope::charts {
namespace {

constexpr char kInk[] = "kvscopeInk";
constexpr char kPaper[] = "kvscopePaper";
constexpr char kScale[] = "kvscopeDrawnScale";

QColor withAlpha(QColor c, int alpha) {
    c.setAlpha(alpha);
    return c;
}

QBrush refilled(QBrush b, const QColor& c) {
    if (b.style() != Qt::NoBrush) b.setColor(withAlpha(c, b.color().alpha()));
    return b;
}

// The plot's layout elements, however deeply nested, and its legend even while a chart keeps it
// out of the layout (the distribution does until there is a step).
QList<QCPLayoutElement*> allElements(QCustomPlot* plot) {
    QList<QCPLayoutElement*> out = plot->plotLayout()->elements(true);
    if (plot->legend && !out.contains(plot->legend)) out << plot->legend;
    return out;
}

// Every axis of the plot: the axis rects' and the colour scales'.
std::set<QCPAxis*> allAxes(QCustomPlot* plot) {
    std::set<QCPAxis*> axes;
    for (QCPLayoutElement* el : allElements(plot)) {
        if (auto* r = qobject_cast<QCPAxisRect*>(el))
            for (QCPAxis* a : r->axes()) axes.insert(a);
        if (auto* c = qobject_cast<QCPColorScale*>(el)) axes.insert(c->axis());
    }
    return axes;
}

template <typename F>
void forEachPart(QCustomPlot* plot, F f) {
    for (int i = 0; i < plot->itemCount(); ++i) f(plot->item(i));
    for (int i = 0; i < plot->plottableCount(); ++i) f(plot->plottable(i));
}

void colourAxis(QCPAxis* a, const QColor& text) {
    a->setBasePen(recoloured(a->basePen(), text));
    a->setTickPen(recoloured(a->tickPen(), text));
    a->setSubTickPen(recoloured(a->subTickPen(), text));
    a->setTickLabelColor(text);
    a->setLabelColor(text);
    a->grid()->setPen(recoloured(a->grid()->pen(), text));
    a->grid()->setSubGridPen(recoloured(a->grid()->subGridPen(), text));
}

void colourElement(QCPLayoutElement* el, const QPalette& pal) {
    if (auto* t = qobject_cast<QCPTextElement*>(el)) t->setTextColor(pal.color(QPalette::Text));
    if (auto* l = qobject_cast<QCPLegend*>(el)) {
        l->setTextColor(pal.color(QPalette::Text));
        l->setBrush(refilled(l->brush(), pal.color(QPalette::Base)));
        l->setBorderPen(recoloured(l->borderPen(), pal.color(QPalette::Mid)));
    }
}

// A mode's colour set for either background, in the mode's colour for `pal`'s (alpha kept); any
// other colour as it is.
QColor forModes(const QColor& c, const QPalette& pal) {
    for (Mode m : {Mode::Naive, Mode::Cached})
        for (const QColor& set : {theme::modeColor(m), theme::liftedForDark(theme::modeColor(m))})
            if (c.rgb() == set.rgb()) return withAlpha(theme::modeColor(m, pal), c.alpha());
    return c;
}

// Lines, markers and labels in a mode's colour. Bars keep theirs: filled areas read on dark as
// they are, and the breakdown's components (two of them in the modes' colours) must stay apart.
void colourModes(QCPLayerable* part, const QPalette& pal) {
    if (qobject_cast<QCPBars*>(part)) return;
    for (const char* name : {"pen", "brush", "color"}) {
        const QVariant v = part->property(name);
        if (v.typeId() == QMetaType::QPen) {
            const QPen p = v.value<QPen>();
            part->setProperty(name, recoloured(p, forModes(p.color(), pal)));
        } else if (v.typeId() == QMetaType::QBrush) {
            const QBrush b = v.value<QBrush>();
            part->setProperty(name, refilled(b, forModes(b.color(), pal)));
        } else if (v.typeId() == QMetaType::QColor) {
            part->setProperty(name, forModes(v.value<QColor>(), pal));
        }
    }
    if (auto* g = qobject_cast<QCPGraph*>(part); g && !g->scatterStyle().isNone()) {
        QCPScatterStyle s = g->scatterStyle();
        s.setPen(recoloured(s.pen(), forModes(s.pen().color(), pal)));
        s.setBrush(refilled(s.brush(), forModes(s.brush().color(), pal)));
        g->setScatterStyle(s);
    }
}

// The marked parts: ink for text or lines, paper for a text's box.
void colourPart(QCPLayerable* part, const QPalette& pal) {
    const QVariant ink = part->property(kInk);
    if (ink.isValid()) {
        const QColor c =
            theme::blend(pal.color(QPalette::Text), pal.color(QPalette::Base), ink.toDouble());
        if (auto* text = qobject_cast<QCPItemText*>(part))
            text->setColor(withAlpha(c, text->color().alpha()));
        else
            part->setProperty("pen", recoloured(part->property("pen").value<QPen>(), c));
        if (auto* g = qobject_cast<QCPGraph*>(part); g && !g->scatterStyle().isNone()) {
            QCPScatterStyle s = g->scatterStyle();
            s.setPen(recoloured(s.pen(), c));
            g->setScatterStyle(s);
        }
    }
    const QVariant paper = part->property(kPaper);
    if (auto* text = qobject_cast<QCPItemText*>(part); text && paper.isValid()) {
        text->setBrush(refilled(text->brush(), pal.color(QPalette::Base)));
        if (paper.toBool()) text->setPen(recoloured(text->pen(), pal.color(QPalette::Mid)));
    }
}

QFont scaled(const QFont& f, double k) {
    return theme::scaledFont(f, k);
}

// Cosmetic pens (width 0) stay one device pixel.
QPen scaled(QPen p, double k) {
    p.setWidthF(p.widthF() * k);
    return p;
}

void scaleAxis(QCPAxis* a, double k) {
    a->setTickLabelFont(scaled(a->tickLabelFont(), k));
    a->setLabelFont(scaled(a->labelFont(), k));
    a->setSelectedTickLabelFont(scaled(a->selectedTickLabelFont(), k));
    a->setSelectedLabelFont(scaled(a->selectedLabelFont(), k));
    a->setBasePen(scaled(a->basePen(), k));
    a->setTickPen(scaled(a->tickPen(), k));
    a->setSubTickPen(scaled(a->subTickPen(), k));
    a->grid()->setPen(scaled(a->grid()->pen(), k));
}

void scaleElement(QCPLayoutElement* el, double k) {
    if (auto* t = qobject_cast<QCPTextElement*>(el)) {
        t->setFont(scaled(t->font(), k));
        t->setSelectedFont(scaled(t->selectedFont(), k));
    }
    if (auto* l = qobject_cast<QCPLegend*>(el)) {
        l->setFont(scaled(l->font(), k));  // and its items'
        l->setSelectedFont(scaled(l->selectedFont(), k));
        l->setIconSize((QSizeF(l->iconSize()) * k).toSize());
        l->setBorderPen(scaled(l->borderPen(), k));
    }
    if (auto* c = qobject_cast<QCPColorScale*>(el))
        c->setBarWidth(int(std::lround(c->barWidth() * k)));
}

// Items declare their pen (and text items their font) as Qt properties, whatever their class.
void scalePart(QCPLayerable* part, double k) {
    for (const char* name : {"font", "selectedFont"})
        if (const QVariant v = part->property(name); v.isValid())
            part->setProperty(name, scaled(v.value<QFont>(), k));
    for (const char* name : {"pen", "selectedPen"})
        if (const QVariant v = part->property(name); v.isValid())
            part->setProperty(name, scaled(v.value<QPen>(), k));
    QCPScatterStyle s;
    if (auto* g = qobject_cast<QCPGraph*>(part)) s = g->scatterStyle();
    if (auto* c = qobject_cast<QCPCurve*>(part)) s = c->scatterStyle();
    if (s.isNone()) return;
    s.setSize(s.size() * k);
    s.setPen(scaled(s.pen(), k));
    if (auto* g = qobject_cast<QCPGraph*>(part)) g->setScatterStyle(s);
    if (auto* c = qobject_cast<QCPCurve*>(part)) c->setScatterStyle(s);
}

class Follower : public QObject {
public:
    Follower(QCustomPlot* plot, std::function<void()> restyled)
        : QObject(plot), plot_(plot), restyled_(std::move(restyled)) {
        plot->installEventFilter(this);
    }

    void restyle() {
        if (restyled_) restyled_();
        plot_->replot(QCustomPlot::rpQueuedReplot);
    }

protected:
    bool eventFilter(QObject*, QEvent* e) override {
        if (e->type() == QEvent::PaletteChange) {
            applyPalette(plot_, plot_->palette());
            restyle();
        }
        if (e->type() == QEvent::FontChange) setDrawnScale(plot_, theme::uiScale());
        return false;
    }

private:
    QCustomPlot* plot_;
    std::function<void()> restyled_;
};

Follower* followerOf(QCustomPlot* plot) {
    for (QObject* child : plot->children())
        if (auto* f = dynamic_cast<Follower*>(child)) return f;
    return nullptr;
}

}  // namespace

QPen recoloured(QPen p, const QColor& c) {
    p.setColor(withAlpha(c, p.color().alpha()));
    return p;
}

void setInk(QCPLayerable* part, double t) {
    part->setProperty(kInk, t);
    colourPart(part, part->parentPlot()->palette());
}

void setPaper(QCPItemText* text, bool framed) {
    text->setProperty(kPaper, framed);
    colourPart(text, text->parentPlot()->palette());
}

void applyPalette(QCustomPlot* plot, const QPalette& pal) {
    plot->setBackground(pal.brush(QPalette::Base));
    for (QCPAxis* a : allAxes(plot)) colourAxis(a, pal.color(QPalette::Text));
    for (QCPLayoutElement* el : allElements(plot)) colourElement(el, pal);
    forEachPart(plot, [&pal](QCPLayerable* p) {
        colourModes(p, pal);
        colourPart(p, pal);
    });
}

double drawnScale(const QCustomPlot* plot) {
    const QVariant v = plot->property(kScale);
    return v.isValid() ? v.toDouble() : 1.0;
}

void setDrawnScale(QCustomPlot* plot, double scale) {
    const double k = scale / drawnScale(plot);
    if (k == 1) return;
    plot->setProperty(kScale, scale);
    for (QCPAxis* a : allAxes(plot)) scaleAxis(a, k);
    for (QCPLayoutElement* el : allElements(plot)) scaleElement(el, k);
    forEachPart(plot, [k](QCPLayerable* p) { scalePart(p, k); });
    // Exports change the scale too: what the chart fits to its fonts must follow.
    if (Follower* f = followerOf(plot)) f->restyle();
}

void followAppearance(QCustomPlot* plot, std::function<void()> restyled) {
    new Follower(plot, std::move(restyled));
}

}  // namespace kvscope::charts
