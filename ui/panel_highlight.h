#pragma once
// An outline drawn over the window around one panel, so a class sees where to look: the lesson
// points at the panel its narration talks about. It lets every click through and follows the
// panel when the window or the docks are resized.

#include <QPointer>
#include <QWidget>

namespace kvscope {

class PanelHighlight : public QWidget {
    Q_OBJECT
public:
    explicit PanelHighlight(QWidget* window);

    // Outlines `target` (a widget inside the window); null hides the outline.
    void setTarget(QWidget* target);
    QWidget* target() const { return target_; }
    // The outline's rectangle in window coordinates (empty when nothing is outlined).
    QRect outline() const;

protected:
    bool eventFilter(QObject* watched, QEvent* e) override;
    void paintEvent(QPaintEvent* e) override;

private:
    void follow();

    QPointer<QWidget> target_;
};

}  // namespace kvscope
