#pragma once
// The lesson's side panel: where the lesson is (chapter, step n of N), the narration with this
// run's figures filled in, and Back / Next. It only shows and asks; LessonDriver does the work.

#include <QWidget>

class QComboBox;
class QLabel;
class QPushButton;
class QTextBrowser;

namespace kvscope {

class LessonPanel : public QWidget {
    Q_OBJECT
public:
    explicit LessonPanel(QWidget* parent = nullptr);

    void setLesson(const QString& title, const QStringList& chapters, int steps);
    // The step on screen: its chapter, index (0-based) and title.
    void setStep(int chapter, int index, const QString& title);
    void setNarration(const QString& markdown);
    // "Generating…", a problem (shown as a warning), or nothing.
    void setStatus(const QString& text, bool problem = false);
    // Keys go to the lesson (a focused prompt box would keep Page Up and Page Down).
    void focusNext();

    QString narrationText() const;  // as shown, plain text
    QString statusText() const;

Q_SIGNALS:
    void nextRequested();
    void backRequested();
    void chapterRequested(int chapter);
    void restartRequested();
    void closeRequested();

private:
    QComboBox* chapters_;
    QLabel* where_;
    QLabel* stepTitle_;
    QTextBrowser* text_;
    QLabel* status_;
    QPushButton *back_, *next_, *restart_, *close_;
    int steps_ = 0, index_ = 0;
};

}  // namespace kvscope
