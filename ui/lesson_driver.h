#pragma once
// Plays a lesson (core/lesson/lesson.h) on the real window: each step's actions load the model,
// set the prompt and the controls, run or step the engine, pick the step to look at and outline
// the panel in question; then the narration is filled with this run's figures and shown in the
// LessonPanel. Actions that take time (loading, a run, single steps, measuring the roofs) are
// waited for on the window's signals, never by blocking the GUI thread.
//
// Going to a step out of order (Back, a chapter, resuming where the reader stopped) first
// replays the settings of the steps before it, and the last run before it when the step has
// none of its own, so every step finds the app as it would have been reading straight through.
// A run whose model, prompt and settings equal the last finished run is not repeated.

#include "lesson/lesson.h"

#include <QObject>
#include <QPointer>
#include <QStringList>

#include <functional>
#include <optional>

class QDockWidget;

namespace kvscope {

class LessonPanel;
class MainWindow;
class PanelHighlight;

class LessonDriver : public QObject {
    Q_OBJECT
public:
    LessonDriver(MainWindow* window, LessonPanel* panel, QObject* parent = nullptr);
    ~LessonDriver() override;

    // Starts `lesson` at step `at` (clamped); the controls' settings and the model are kept
    // to be given back by finish().
    void start(Lesson lesson, int at = 0);
    // Gives the reader's settings and model back and removes the outline.
    void finish();

    void next();
    void back();
    void goTo(int index);

    const Lesson& lesson() const { return lesson_; }
    int current() const { return current_; }
    bool busy() const { return !pending_.empty() || waiting_; }
    // Delays are ignored: runs go as fast as the engine (tests, and a teacher in a hurry).
    void setFast(bool fast) { fast_ = fast; }
    // Figures of the step on screen that could not be filled, with why; empty when all were.
    QStringList unfilledFigures() const { return unfilled_; }
    // Figures filled so far on the step on screen: name (and argument) and the text shown.
    QList<QPair<QString, QString>> filledFigures() const { return filled_; }
    QWidget* outlined() const;

    // Where a reader stopped in `file`, remembered across sessions; 0 when never opened.
    static int rememberedStep(const QString& file);

Q_SIGNALS:
    // Every action of step `index` ran and the narration is on screen.
    void stepShown(int index);
    // An action failed (the message names the line); the lesson stays usable.
    void failed(const QString& message);

private:
    struct Snapshot;
    void queueFor(int index);
    void runPending();
    bool runAction(const LessonAction& a);  // false: wait for a signal to call runPending()
    bool runModel(const LessonAction& a);
    bool runRun(const LessonAction& a);
    bool runSteps(const LessonAction& a);
    bool runStop();
    bool runRoofs();
    void applySet(const LessonAction& a);
    void applyAttention(const LessonAction& a);
    void applyCost(const LessonAction& a);
    void applyWhatIf(const LessonAction& a);
    void show(const QString& panel);
    void waitFor(const QMetaObject::Connection& done);
    void resumeAfterWait();
    void fail(const LessonAction& a, const QString& message);
    void stepDone();
    void render();
    QString runSignature() const;

    MainWindow* window_;
    LessonPanel* panel_;
    PanelHighlight* highlight_;
    Lesson lesson_;
    int current_ = -1;
    std::vector<LessonAction> pending_;
    bool waiting_ = false;
    bool stopped_ = false;    // an action failed: the step's other actions are dropped
    int replayLeft_ = 0;      // pending_'s first actions replay earlier steps (queueFor)
    bool replaying_ = false;  // the action running is one of those
    std::vector<QMetaObject::Connection> waits_;
    QString lastRun_;  // signature of the last run a lesson action finished
    bool fast_ = false;
    bool resumed_ = false;  // the first step shown is where the reader stopped last time
    QStringList unfilled_;
    QList<QPair<QString, QString>> filled_;
    std::unique_ptr<Snapshot> snapshot_;
};

}  // namespace kvscope
