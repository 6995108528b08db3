#pragma once
// The window wires views together: the control panel drives the worker, steps arrive as values
// and are appended to the run, and a frame timer redraws the panels at display rate.

#include "appearance.h"
#include "control_panel.h"
#include "run/generation_worker.h"
#include "run/run_export.h"
#include "run_view.h"

#include <QElapsedTimer>
#include <QMainWindow>
#include <QThread>
#include <QTimer>

#include <array>
#include <memory>

class QCustomPlot;
class QDockWidget;
class QLabel;

namespace kvscope {

class AttentionHeatmap;
class CostCharts;
class DistributionChart;
class LessonDriver;
class LessonPanel;
class ModelLoadTask;
class RoofsProbe;
class TokenStrip;
class WhatIfPanel;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    void setModel(const ModelPtr& model);
    // Asynchronous; the current model stays until the new one has loaded. `tokenizer`: a llama2.c
    // checkpoint's tokenizer.bin when it is not beside the checkpoint.
    void openModel(const QString& path, const QString& tokenizer = QString());
    ModelPtr model() const { return model_; }

    // For tests and the headless export.
    ControlPanel* controls() const { return controls_; }
    TokenStrip* tokenStrip() const { return tokens_; }
    DistributionChart* distribution() const { return distribution_; }
    AttentionHeatmap* attention() const { return heatmap_; }
    CostCharts* costs() const { return costs_; }
    WhatIfPanel* whatIf() const { return whatIf_; }
    // This machine's roofs, which the what-if dock and the roofline chart both read.
    RoofsProbe* roofs() const { return roofs_; }
    const RunExport* run() const { return run_.get(); }
    bool isRunning() const { return running_; }
    QList<QPair<QString, QCustomPlot*>> charts() const;
    Result<QStringList> exportAll(const QString& dir);
    void selectStep(int step);
    int selectedStep() const { return view_.selectedStep; }
    // What the Generate, Step and Stop buttons do (the lesson drives the engine through these).
    void generate(bool paused);
    void stepOnce();
    void stopRun();
    // Redraws every panel from the run now rather than at the next frame.
    void refreshPanels() { onFrame(); }

    // Opens a lesson (core/lesson/lesson.h) in the Lesson dock, at the step where the reader
    // stopped; empty: the built-in lesson. A file that does not parse is reported (the message
    // names the line) and changes nothing.
    Result<bool> openLesson(const QString& path = QString());
    void closeLesson();
    LessonDriver* lesson() const { return lessonDriver_; }
    LessonPanel* lessonPanel() const { return lessonPanel_; }
    // Shows a run computed elsewhere (the headless export), as if it had just finished here; the
    // roofs it carries, if any, replace the window's (not remembered).
    void showRun(std::unique_ptr<RunExport> run);

    // View > Appearance, Presentation Mode and Reset Layout, for the lesson and tests.
    Appearance* appearance() const { return appearance_; }
    void setColorScheme(ColorScheme scheme);
    void setPresentationMode(bool on);
    // Every dock shown and docked again, in the default arrangement (presentation mode's while
    // it is on).
    void resetLayout();

Q_SIGNALS:
    void runEnded();
    void modelChanged();
    void modelLoadFailed(const QString& message);
    void stepAppended();          // a step of the run on screen arrived
    void stepSelected(int step);  // the step the panels show (-1: the newest)

protected:
    void closeEvent(QCloseEvent* e) override;
    void dragEnterEvent(QDragEnterEvent* e) override;
    void dropEvent(QDropEvent* e) override;

private:
    void buildDocks();
    void arrangeDocks();
    void arrangeForScreen();
    void arrangeForPresentation();
    int fitControlsWidth();
    void onPresentationChanging(bool on);
    void onPresentationChanged(bool on);
    QDockWidget* dockNamed(const char* name) const;
    void buildMenus();
    void buildStatusBar();
    void wireWorker();
    void togglePause();
    void resetRun();
    void onRunStarted(quint64 runId, const std::vector<int>& promptIds);
    void onStep(const StepResultPtr& step);
    void onRunFinished(quint64 runId, const QString& reason, float maxLogitDiff);
    void onRunFailed(quint64 runId, const QString& message);
    void onFrame();
    void updateStatus();
    void updateRunText();
    double wallSeconds() const;
    void stopWallClock();
    void restoreShelvedRun();
    void finishWithoutStart(const QString& text);
    void updateView();
    void openModelDialog();
    void openModelFolderDialog();
    void exportAllDialog();
    void rememberModel(const QString& path);
    void rebuildRecentMenu();
    void buildEmbeddedMenu(QMenu* menu);
    void showAbout();
    void openLessonDialog();
    void buildLessonDock();
    void lessonKey(bool forward);  // Page Down / Page Up while a lesson is open

    ModelPtr model_;
    QThread workerThread_;
    GenerationWorker* worker_ = nullptr;
    std::uint64_t runId_ = 0;
    bool running_ = false, paused_ = false;
    std::unique_ptr<RunExport> run_;
    RunView view_;
    bool dirty_ = false;
    std::array<bool, 2> heavyDirty_{false, false};  // heatmap, cost curves
    std::uint64_t frames_ = 0;
    QTimer frame_;
    std::unique_ptr<RunExport> shelved_;     // the last run, until the new one has started
    std::unique_ptr<RunExport> reference_;   // the previous model's last run (RunView::reference)
    std::array<double, 2> computeMs_{0, 0};  // naive, cached: forward passes and sampling
    QElapsedTimer wallClock_;                // runs while the run does (not while paused)
    qint64 wallMs_ = 0;                      // wall time before the last pause

    ControlPanel* controls_ = nullptr;
    TokenStrip* tokens_ = nullptr;
    DistributionChart* distribution_ = nullptr;
    AttentionHeatmap* heatmap_ = nullptr;
    CostCharts* costs_ = nullptr;
    WhatIfPanel* whatIf_ = nullptr;
    RoofsProbe* roofs_ = nullptr;
    QLabel* statusTokens_ = nullptr;
    QLabel* statusSpeed_ = nullptr;
    QLabel* statusCompute_ = nullptr;
    QLabel* statusFlops_ = nullptr;
    QLabel* statusKv_ = nullptr;
    QLabel* statusRun_ = nullptr;
    QMenu* recentMenu_ = nullptr;
    ModelLoadTask* loading_ = nullptr;
    Appearance* appearance_ = nullptr;
    QByteArray normalState_;  // the docks as they were before presentation mode
    LessonPanel* lessonPanel_ = nullptr;
    LessonDriver* lessonDriver_ = nullptr;
};

}  // namespace kvscope
