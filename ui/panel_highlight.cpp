#include "panel_highlight.h"

#include <QEvent>
#include <QPainter>

namespace kvscope {
namespace {

// Wide enough to read from the back of a room; Okabe-Ito orange, apart from both modes' colours.
constexpr int kPen = 4;
const QColor kColor(230, 159, 0);

}  // namespace

PanelHighlight::PanelHighlight(QWidget* window) : QWidget(window) {
    setAttribute(Qt::WA_TransparentForMouseEvents);
    setAttribute(Qt::WA_NoSystemBackground);
    setObjectName(QStringLiteral("panelHighlight"));
    window->installEventFilter(this);
    hide();
}

void PanelHighlight::setTarget(QWidget* target) {
    if (target_) target_->removeEventFilter(this);
    target_ = target;
    if (target_) target_->installEventFilter(this);
    follow();
}

QRect PanelHighlight::outline() const {
    return isVisible() ? geometry() : QRect();
}

bool PanelHighlight::eventFilter(QObject* watched, QEvent* e) {
    switch (e->type()) {
        case QEvent::Move:
        case QEvent::Resize:
        case QEvent::Show:
        case QEvent::Hide:
        case QEvent::LayoutRequest:
            follow();
            break;
        default:
            break;
    }
    return QWidget::eventFilter(watched, e);
}

// Docks move inside the window without their own widget moving relative to its dock, so the
// position is mapped to the window whenever anything on the way reports a change.
void PanelHighlight::follow() {
    QWidget* window = parentWidget();
    if (!target_ || !target_->isVisible() || target_->window() != window) {
        hide();
        return;
    }
    const QRect r(target_->mapTo(window, QPoint(0, 0)), target_->size());
    setGeometry(r.adjusted(-kPen / 2, -kPen / 2, kPen / 2, kPen / 2) & window->rect());
    show();
    raise();
}

void PanelHighlight::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.setRenderHint(QPainter::Antialiasing);
    p.setPen(QPen(kColor, kPen));
    p.setBrush(Qt::NoBrush);
    p.drawRoundedRect(QRectF(rect()).adjusted(kPen / 2.0, kPen / 2.0, -kPen / 2.0, -kPen / 2.0), 6,
                      6);
}

}  // namespace kvscope
