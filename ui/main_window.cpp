#include "main_window.h"

#include "attention_heatmap.h"
#include "chart_export.h"
#include "cost_charts.h"
#include "distribution_chart.h"
#include "lesson_driver.h"
#include "lesson_panel.h"
#include "model_load_task.h"
#include "plot_appearance.h"
#include "roofs_probe.h"
#include "token_strip.h"
#include "units.h"
#include "what_if_panel.h"

#include "model/embedded_model.h"
#include "tensor/ggml_type.h"

#include "qcustomplot_include.h"

#include <QAction>
#include <QActionGroup>
#include <QApplication>
#include <QCloseEvent>
#include <QDateTime>
#include <QDir>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QJsonDocument>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressDialog>
#include <QScreen>
#include <QScrollArea>
#include <QScrollBar>
#include <QSettings>
#include <QShortcut>
#include <QStatusBar>

namespace kvscope {
namespace {

// Tokens per second: whole numbers from 10 up, one decimal below (a 0.5 s delay reads 2.0).
// Short for the status line: "12", "3.4", "4.7k".
QString rateText(double perSecond) {
    if (perSecond >= 1000) return QString::number(perSecond / 1000, 'f', 1) + QLatin1Char('k');
    return QString::number(perSecond, 'f', perSecond >= 10 ? 0 : 1);
}

// The weights on the model card: each stored type's share of the parameters with its bits per
// weight (a Q4_K_M file mixes Q4_K and Q6_K), and the bytes the model holds, which a cached
// decode step streams once. A float32 model says so in a few words after the KV cache (the card
// must not make the controls scroll at 720 px); anything else gets a line of its own.
QString weightsText(const Model& m) {
    if (m.weightTypes.size() == 1 && m.weightTypes.front().type == GgmlType::F32)
        return QObject::tr(" · weights F32, %1").arg(units::bytesText(double(m.weightBytes)));
    QStringList parts;
    std::int64_t total = 0;
    for (const WeightTypeShare& s : m.weightTypes) total += s.parameters;
    for (const WeightTypeShare& s : m.weightTypes) {
        const GgmlTypeTraits t = ggmlTypeTraits(s.type);
        const double share = total ? 100.0 * double(s.parameters) / double(total) : 0.0;
        parts << QObject::tr("%1 %2 (%3 bits)")
                     .arg(QLatin1String(t.name.data(), qsizetype(t.name.size())),
                          share < 1 ? QStringLiteral("&lt;1%")
                                    : QString::number(share, 'f', 0) + QLatin1Char('%'))
                     .arg(ggmlBitsPerWeight(s.type), 0, 'g', 3);
    }
    return QObject::tr("<br>weights %1 · %2 in memory")
        .arg(parts.join(QStringLiteral(" · ")), units::bytesText(double(m.weightBytes)));
}

// The model card: what the architecture is and what its KV cache costs per token, beside what
// the same model would need with one K/V head per query head (the saving of GQA and MQA).
QString modelSummary(const Model& m) {
    const ModelConfig& c = m.config;
    const QString heads =
        c.nKvHead == c.nHead
            ? QObject::tr("%1 heads").arg(c.nHead)
            : QObject::tr("%1 heads sharing %2 KV heads").arg(c.nHead).arg(c.nKvHead);
    const std::int64_t kv = kvCacheBytes(c, 1), mha = kvCacheBytes(mhaOf(c), 1);
    const QString cache =
        c.nKvHead == c.nHead
            ? QObject::tr("KV cache %1 per token").arg(units::bytesText(double(kv)))
            : QObject::tr("KV cache %1 per token (%2 with one KV head per query head: %3× more)")
                  .arg(units::bytesText(double(kv)), units::bytesText(double(mha)))
                  .arg(c.nHead / c.nKvHead);
    return QObject::tr(
               "<b>%1</b><br>%2 · %3 parameters · %4 layers × %5 · head dim %6 · d = %7 · "
               "context %8 · vocab %9<br>%10%11")
        .arg(m.name.toHtmlEscaped(), c.modelType,
             units::siText(double(m.transformer->parameterCount()), QString()))
        .arg(c.nLayer)
        .arg(heads)
        .arg(c.headDim())
        .arg(c.nEmbd)
        .arg(c.nPositions)
        .arg(c.vocabSize)
        .arg(cache, weightsText(m));
}

QDockWidget* dock(const QString& title, const QString& name, QWidget* w, QMainWindow* parent) {
    auto* d = new QDockWidget(title, parent);
    d->setObjectName(name);  // QMainWindow::saveState keys docks by object name
    d->setWidget(w);
    return d;
}

}  // namespace

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
    setWindowTitle(QStringLiteral("kvscope"));
    setAcceptDrops(true);
    setDockOptions(AnimatedDocks | AllowTabbedDocks | AllowNestedDocks);
    controls_ = new ControlPanel;
    tokens_ = new TokenStrip;
    distribution_ = new DistributionChart;
    heatmap_ = new AttentionHeatmap;
    costs_ = new CostCharts;
    roofs_ = new RoofsProbe(this);
    whatIf_ = new WhatIfPanel(roofs_);
    appearance_ = new Appearance(this);
    setCentralWidget(tokens_);
    buildDocks();
    buildMenus();
    buildStatusBar();
    wireWorker();

    connect(controls_, &ControlPanel::generateRequested, this, [this] { generate(false); });
    connect(controls_, &ControlPanel::pauseToggled, this, &MainWindow::togglePause);
    connect(controls_, &ControlPanel::stepRequested, this, &MainWindow::stepOnce);
    connect(controls_, &ControlPanel::stopRequested, this, &MainWindow::stopRun);
    connect(controls_, &ControlPanel::resetRequested, this, &MainWindow::resetRun);
    connect(controls_, &ControlPanel::delayChanged, this,
            [this](int ms) { worker_->setDelayMs(ms); });
    connect(controls_, &ControlPanel::focusModeChanged, this, [this] { dirty_ = true; });
    connect(tokens_, &TokenStrip::stepSelected, this, &MainWindow::selectStep);
    auto showRoofs = [this] { costs_->setRoofs(roofs_->roofs(), roofs_->isMeasuring()); };
    connect(roofs_, &RoofsProbe::changed, this, showRoofs);
    connect(costs_, &CostCharts::measureRoofsRequested, roofs_, &RoofsProbe::measure);
    showRoofs();
    for (const auto& [name, plot] : charts()) {
        plot->setObjectName(name);  // single exports name their file and title by it
        // Built in a dark system palette, the modes' colours are lifted as after a change.
        charts::applyPalette(plot, plot->palette());
        installExportMenu(plot, [this] { return chartCaption(view_); });
    }

    frame_.setInterval(33);  // about 30 redraws per second, however fast tokens arrive
    connect(&frame_, &QTimer::timeout, this, &MainWindow::onFrame);
    frame_.start();

    controls_->restoreSettings();
    worker_->setDelayMs(controls_->delayMs());
    QSettings q;
    // First start: fill the screen (up to 1920x1200), the panels need the room.
    if (!restoreGeometry(q.value(QStringLiteral("window/geometry")).toByteArray()))
        resize(screen()->availableGeometry().size().boundedTo(QSize(1920, 1200)));
    restoreState(q.value(QStringLiteral("window/state")).toByteArray());
    controls_->setState(ControlPanel::State::NoModel);
    connect(appearance_, &Appearance::presentationChanging, this,
            &MainWindow::onPresentationChanging);
    connect(appearance_, &Appearance::presentationChanged, this,
            &MainWindow::onPresentationChanged);
    appearance_->restoreSettings();
}

MainWindow::~MainWindow() {
    delete appearance_;  // puts the start-up look back while every panel is whole
    worker_->stop(~std::uint64_t(0));
    workerThread_.quit();
    workerThread_.wait();
}

void MainWindow::buildDocks() {
    // Controls and the per-step panels run the full height; the cost curves sit under the tokens.
    setCorner(Qt::BottomLeftCorner, Qt::LeftDockWidgetArea);
    setCorner(Qt::TopRightCorner, Qt::RightDockWidgetArea);
    setCorner(Qt::BottomRightCorner, Qt::RightDockWidgetArea);
    auto* scroll = new QScrollArea;  // the controls stay reachable on a short screen
    scroll->setWidget(controls_);
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);
    scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    dock(tr("Controls"), QStringLiteral("controls"), scroll, this);
    dock(tr("Next-token distribution"), QStringLiteral("distribution"), distribution_, this);
    dock(tr("Attention"), QStringLiteral("attention"), heatmap_, this);
    // A chart's minimum grows with its labels (slopes, crossovers at 1000 tokens); the window
    // must still fit a 1280x720 projector, so the cost dock's minimum is fixed here and a long
    // label wraps or is squeezed inside the chart instead of widening the window.
    costs_->setMinimumSize(420, 240);
    dock(tr("Cost"), QStringLiteral("cost"), costs_, this);
    dock(tr("What if"), QStringLiteral("whatIf"), whatIf_, this);
    arrangeDocks();
    buildLessonDock();
}

QDockWidget* MainWindow::dockNamed(const char* name) const {
    return findChild<QDockWidget*>(QLatin1String(name), Qt::FindDirectChildrenOnly);
}

// The default arrangement (presentation mode's while it is on), also what Reset Layout restores:
// adding a dock that is already in the window moves it.
void MainWindow::arrangeDocks() {
    QDockWidget *ctl = dockNamed("controls"), *cost = dockNamed("cost");
    const QList<QDockWidget*> all = {ctl, dockNamed("distribution"), dockNamed("attention"), cost,
                                     dockNamed("whatIf")};
    for (QDockWidget* d : all) d->setFloating(false);
    addDockWidget(Qt::LeftDockWidgetArea, ctl);
    if (QDockWidget* lesson = dockNamed("lesson")) splitDockWidget(ctl, lesson, Qt::Vertical);
    if (appearance_->presentation())
        arrangeForPresentation();
    else
        arrangeForScreen();
    for (QDockWidget* d : all) d->show();
    cost->raise();
}

void MainWindow::arrangeForScreen() {
    QDockWidget *ctl = dockNamed("controls"), *dist = dockNamed("distribution"),
                *heat = dockNamed("attention"), *cost = dockNamed("cost");
    addDockWidget(Qt::RightDockWidgetArea, heat);
    addDockWidget(Qt::RightDockWidgetArea, dist);
    addDockWidget(Qt::BottomDockWidgetArea, cost);
    resizeDocks({heat, dist}, {3, 2}, Qt::Vertical);
    // On a 1280-pixel screen the token strip and the cost tabs get what the controls and the
    // attention panel leave: 400 px for the right column leaves the cost tabs room to show.
    resizeDocks({ctl, heat}, {fitControlsWidth(), 400}, Qt::Horizontal);
    resizeDocks({cost}, {420}, Qt::Vertical);
    // The what-if calculator shares the cost dock's place, as a tab behind it.
    QDockWidget* what = dockNamed("whatIf");
    addDockWidget(Qt::BottomDockWidgetArea, what);
    tabifyDockWidget(cost, what);
}

// The controls' width follows their font (presentation mode): no horizontal scrolling.
int MainWindow::fitControlsWidth() {
    auto* scroll = static_cast<QScrollArea*>(dockNamed("controls")->widget());
    scroll->setMinimumWidth(controls_->minimumSizeHint().width() +
                            scroll->verticalScrollBar()->sizeHint().width());
    return scroll->minimumWidth();
}

// At 1.5 times the size three columns do not fit 1280 px: the charts share one tab group under
// the tokens, so the one raised (by the user or a lesson) gets the whole width right of the
// controls. Straight from any arrangement, the controls widened last: three columns of the larger
// panels, even for a moment, would widen the window past the screen.
void MainWindow::arrangeForPresentation() {
    QDockWidget *ctl = dockNamed("controls"), *cost = dockNamed("cost");
    // Only what is not in place moves: taking the cost dock out of its group, even for a moment,
    // puts the rest of the group beside it.
    if (dockWidgetArea(cost) != Qt::BottomDockWidgetArea)
        addDockWidget(Qt::BottomDockWidgetArea, cost);
    for (const char* name : {"whatIf", "attention", "distribution"})
        if (!tabifiedDockWidgets(cost).contains(dockNamed(name)))
            tabifyDockWidget(cost, dockNamed(name));
    resizeDocks({ctl}, {fitControlsWidth()}, Qt::Horizontal);
    resizeDocks({cost}, {height() * 2 / 3}, Qt::Vertical);
}

// The lesson reads beside the controls it drives, under them in the left column, so that
// pointing at any other panel never hides the narration. Hidden until a lesson opens.
void MainWindow::buildLessonDock() {
    lessonPanel_ = new LessonPanel;
    auto* d = dock(tr("Lesson"), QStringLiteral("lesson"), lessonPanel_, this);
    auto* controls = dockNamed("controls");
    splitDockWidget(controls, d, Qt::Vertical);
    d->hide();
    // Closing goes through the panel's Close (or View > Lesson), which gives the settings back.
    d->setFeatures(d->features() & ~QDockWidget::DockWidgetClosable);
    connect(d->toggleViewAction(), &QAction::triggered, this, [this](bool on) {
        if (!on) return closeLesson();
        if (lessonDriver_->current() < 0) openLesson();
    });
    lessonDriver_ = new LessonDriver(this, lessonPanel_, this);
    connect(lessonPanel_, &LessonPanel::closeRequested, this, &MainWindow::closeLesson);
    // A presenter's remote sends Page Down and Page Up. One plain lambda per key: GCC 12's
    // UBSan reported a null `this` in a lambda nested in another that captured it.
    const std::pair<QKeySequence, bool> keys[] = {{QKeySequence(Qt::Key_PageDown), true},
                                                  {QKeySequence(Qt::ALT | Qt::Key_Right), true},
                                                  {QKeySequence(Qt::Key_PageUp), false},
                                                  {QKeySequence(Qt::ALT | Qt::Key_Left), false}};
    for (const auto& [key, forward] : keys) {
        auto* s = new QShortcut(key, this);
        connect(s, &QShortcut::activated, this, [this, forward = forward] { lessonKey(forward); });
    }
}

void MainWindow::lessonKey(bool forward) {
    if (!dockNamed("lesson")->isVisible()) return;
    if (forward)
        lessonDriver_->next();
    else
        lessonDriver_->back();
}

Result<bool> MainWindow::openLesson(const QString& path) {
    auto lesson = loadLesson(path.isEmpty() ? builtInLessonPath() : path);
    if (!lesson) return lesson.error();
    auto* d = dockNamed("lesson");
    if (!d->isVisible()) {
        d->show();
        // The narration gets most of the left column; the controls scroll.
        resizeDocks({dockNamed("controls"), d}, {35, 65}, Qt::Vertical);
    }
    d->raise();
    lessonPanel_->focusNext();
    const QString file = lesson.value().file;
    lessonDriver_->start(lesson.take(), LessonDriver::rememberedStep(file));
    return true;
}

void MainWindow::closeLesson() {
    lessonDriver_->finish();
    dockNamed("lesson")->hide();
}

void MainWindow::openLessonDialog() {
    const QString path = QFileDialog::getOpenFileName(this, tr("Open a lesson"), QString(),
                                                      tr("Lessons (*.md);;All files (*)"));
    if (path.isEmpty()) return;
    if (auto r = openLesson(path); !r)
        QMessageBox::warning(this, tr("Cannot open the lesson"), r.errorMessage());
}

void MainWindow::buildMenus() {
    QMenu* file = menuBar()->addMenu(tr("&File"));
    QAction* open = file->addAction(tr("&Open Model…"), this, &MainWindow::openModelDialog);
    open->setShortcut(QKeySequence::Open);
    open->setToolTip(
        tr("Open a model file: a llama2.c checkpoint (.bin, with its tokenizer.bin "
           "beside it) or the model.safetensors of a GPT-2 folder."));
    QAction* openFolder =
        file->addAction(tr("Open Model &Folder…"), this, &MainWindow::openModelFolderDialog);
    openFolder->setToolTip(
        tr("Open a Hugging Face GPT-2 folder or a folder holding a llama2.c "
           "checkpoint and its tokenizer.bin."));
    recentMenu_ = file->addMenu(tr("Open &Recent"));
    rebuildRecentMenu();
    buildEmbeddedMenu(file->addMenu(tr("E&mbedded Models")));
    file->addSeparator();
    QAction* exportAll = file->addAction(tr("&Export All…"), this, &MainWindow::exportAllDialog);
    exportAll->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_E));
    QMenu* charts = file->addMenu(tr("Export &Chart"));
    connect(charts, &QMenu::aboutToShow, this, [this, charts] {
        charts->clear();
        for (const auto& [name, plot] : this->charts())
            charts->addAction(chartTitle(plot), this, [this, plot = plot] {
                exportChartDialog(this, plot, chartCaption(view_));
            });
    });
    file->addSeparator();
    QAction* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
    quit->setShortcut(QKeySequence::Quit);

    QMenu* view = menuBar()->addMenu(tr("&View"));
    for (QDockWidget* d : findChildren<QDockWidget*>()) view->addAction(d->toggleViewAction());
    view->addSeparator();
    appearance_->addMenuEntries(view);
    QAction* reset = view->addAction(tr("&Reset Layout"), this, &MainWindow::resetLayout);
    reset->setObjectName(QStringLiteral("resetLayout"));
    reset->setStatusTip(tr("Show every panel again, docked where it was at the first start."));

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    QAction* lesson = help->addAction(tr("&Lesson"), this, [this] { openLesson(); });
    lesson->setShortcut(QKeySequence::HelpContents);
    lesson->setStatusTip(
        tr("A guided lesson that drives the app: tokens, sampling, attention, naive "
           "generation, the KV cache, the cost curves, GQA and quantization."));
    lesson->setObjectName(QStringLiteral("help.lesson"));
    help->addAction(tr("Open Lesson &File…"), this, &MainWindow::openLessonDialog);
    help->addSeparator();
    help->addAction(tr("&About kvscope"), this, &MainWindow::showAbout);

    auto* gen = new QShortcut(QKeySequence(Qt::CTRL | Qt::Key_Return), this);
    connect(gen, &QShortcut::activated, this, [this] {
        if (!running_) generate(false);
    });
    auto* space = new QShortcut(QKeySequence(Qt::Key_Space), this);
    connect(space, &QShortcut::activated, this, [this] {
        if (running_) togglePause();
    });
    auto* esc = new QShortcut(QKeySequence(Qt::Key_Escape), this);
    connect(esc, &QShortcut::activated, this, &MainWindow::stopRun);
}

void MainWindow::buildStatusBar() {
    statusRun_ = new QLabel;
    statusTokens_ = new QLabel;
    statusSpeed_ = new QLabel;
    statusFlops_ = new QLabel;
    statusKv_ = new QLabel;
    statusTokens_->setToolTip(
        tr("Tokens generated in this run, per mode (one count when both "
           "modes, in lockstep, have the same)."));
    statusCompute_ = new QLabel;
    statusSpeed_->setToolTip(
        tr("Wall-clock tokens per second since Generate, per mode: what the audience sees, "
           "delays included, pauses excluded. In Compare the two modes run in lockstep."));
    statusCompute_->setToolTip(
        tr("Compute-only tokens per second: counting only each mode's forward passes and "
           "sampling, the engine's speed, without delays, pauses, the other mode or the "
           "window's drawing (k = 1000)."));
    statusFlops_->setToolTip(tr("FLOPs counted so far in this run, per mode (SI prefixes)."));
    statusKv_->setToolTip(tr("Memory the K/V cache holds now (cached mode)."));
    statusBar()->addWidget(statusRun_, 1);
    for (QLabel* l : {statusTokens_, statusSpeed_, statusCompute_, statusFlops_, statusKv_})
        statusBar()->addPermanentWidget(l);
}

void MainWindow::wireWorker() {
    worker_ = new GenerationWorker;
    worker_->moveToThread(&workerThread_);
    connect(&workerThread_, &QThread::finished, worker_, &QObject::deleteLater);
    connect(worker_, &GenerationWorker::runStarted, this, &MainWindow::onRunStarted);
    connect(worker_, &GenerationWorker::stepReady, this, &MainWindow::onStep);
    connect(worker_, &GenerationWorker::runFinished, this, &MainWindow::onRunFinished);
    connect(worker_, &GenerationWorker::runFailed, this, &MainWindow::onRunFailed);
    workerThread_.setObjectName(QStringLiteral("kvscope engine"));
    workerThread_.start();
}

void MainWindow::setModel(const ModelPtr& model) {
    if (running_) stopRun();
    // The run so far becomes what the next model's runs are compared with (the same prompt on
    // the same model in two precisions shows how far the probabilities moved and the speed).
    if (run_ && !run_->runs.empty() && !run_->runs.front().steps.empty() && run_->model != model)
        reference_ = std::move(run_);
    model_ = model;
    run_.reset();
    view_ = RunView{};
    dirty_ = true;
    controls_->setModelSummary(modelSummary(*model));
    controls_->setTokenizer(model->tokenizer, model->config.nPositions);
    controls_->setState(ControlPanel::State::Idle);
    whatIf_->setLoadedModel(model->config, model->name);
    setWindowTitle(QStringLiteral("kvscope — %1").arg(model->name));
    statusRun_->setText(tr("Model %1 loaded.").arg(model->name));
    Q_EMIT modelChanged();
}

void MainWindow::generate(bool paused) {
    if (!model_ || running_) return;
    const RunMode mode = controls_->runMode();
    RunRequest r;
    r.runId = ++runId_;
    r.model = model_;
    r.prompt = controls_->prompt();
    r.settings = controls_->settings();
    r.compare = mode == RunMode::Compare;
    r.startPaused = paused;
    r.singleSteps = paused ? 1 : 0;
    // The last run stays until this one starts: a refused prompt must not wipe the panels.
    shelved_ = std::move(run_);
    run_ =
        std::make_unique<RunExport>(RunExport{model_, r.prompt, {}, r.settings, {}, std::nullopt});
    for (Mode m : r.compare ? std::vector{Mode::Naive, Mode::Cached} : std::vector{r.settings.mode})
        run_->runs.push_back(RunRecord{m, {}, StopReason::None});
    if (!shelved_) view_ = RunView{run_.get(), -1, controls_->focusMode()};
    running_ = true;
    paused_ = paused;
    computeMs_ = {0, 0};
    wallMs_ = 0;
    if (!paused) wallClock_.start();
    controls_->setState(paused ? ControlPanel::State::Paused : ControlPanel::State::Running);
    updateRunText();
    dirty_ = true;
    QMetaObject::invokeMethod(
        worker_, [w = worker_, r] { w->run(r); }, Qt::QueuedConnection);
}

void MainWindow::togglePause() {
    if (!running_) return;
    paused_ = !paused_;
    worker_->setPaused(paused_);
    // The wall clock of tokens/s runs only while the run does.
    if (paused_ && wallClock_.isValid()) {
        wallMs_ += wallClock_.elapsed();
        wallClock_.invalidate();
    } else if (!paused_) {
        wallClock_.start();
    }
    controls_->setState(paused_ ? ControlPanel::State::Paused : ControlPanel::State::Running);
    updateRunText();
    dirty_ = true;
}

void MainWindow::updateRunText() {
    if (!running_) return;
    statusRun_->setText(paused_ ? tr("Paused: Space or Resume continues, Step adds one token.")
                                : tr("Generating…"));
}

double MainWindow::wallSeconds() const {
    return (wallMs_ + (wallClock_.isValid() ? wallClock_.elapsed() : 0)) / 1000.0;
}

void MainWindow::stepOnce() {
    if (!running_) return generate(true);
    if (!paused_) togglePause();
    worker_->stepOnce();
}

void MainWindow::stopRun() {
    if (running_) worker_->stop(runId_);
}

void MainWindow::resetRun() {
    stopRun();
    run_.reset();
    shelved_.reset();
    view_ = RunView{};
    statusRun_->setText(QString());
    dirty_ = true;
}

void MainWindow::onRunStarted(quint64 runId, const std::vector<int>& promptIds) {
    if (runId != runId_ || !run_) return;  // a run the user has already replaced
    run_->promptIds = promptIds;
    if (shelved_) {
        shelved_.reset();
        view_ = RunView{run_.get(), -1, controls_->focusMode()};
    }
    dirty_ = true;
}

void MainWindow::onStep(const StepResultPtr& step) {
    if (step->runId != runId_ || !run_) return;
    for (RunRecord& r : run_->runs)
        if (r.mode == step->mode) r.steps.push_back(step);
    computeMs_[step->mode == Mode::Naive ? 0 : 1] += step->milliseconds;
    dirty_ = true;
    Q_EMIT stepAppended();
}

// A run that never started (refused, or stopped while queued) gives the screen back to the last.
void MainWindow::restoreShelvedRun() {
    if (!shelved_) return;
    run_ = std::move(shelved_);
    view_.run = run_.get();
    dirty_ = true;
}

void MainWindow::stopWallClock() {
    if (wallClock_.isValid()) wallMs_ += wallClock_.elapsed();
    wallClock_.invalidate();
}

void MainWindow::onRunFinished(quint64 runId, const QString& reason, float maxLogitDiff) {
    if (runId != runId_) return;
    running_ = paused_ = false;
    stopWallClock();
    if (shelved_)
        return finishWithoutStart(
            tr("Stopped before the run started; the last run stays on "
               "screen."));
    controls_->setState(model_ ? ControlPanel::State::Idle : ControlPanel::State::NoModel);
    if (run_) {
        for (RunRecord& r : run_->runs)
            r.stop = r.steps.empty() ? StopReason::None : r.steps.back()->stop;
        if (maxLogitDiff >= 0) run_->maxLogitDiff = maxLogitDiff;
    }
    // Short enough to stay whole beside the figures at 1280 px; the sentence is in the tooltip.
    QString text = tr("Run finished: %1.").arg(reason);
    QString tip = text;
    if (maxLogitDiff >= 0) {
        const QString diff = QString::number(double(maxLogitDiff), 'g', 2);
        text += tr(" Logits differ \u2264 %1.").arg(diff);
        tip += tr(" Naive and cached logits differ by at most %1.").arg(diff);
    }
    statusRun_->setText(text);
    statusRun_->setToolTip(tip);
    dirty_ = true;
    Q_EMIT runEnded();
}

void MainWindow::onRunFailed(quint64 runId, const QString& message) {
    if (runId != runId_) return;
    running_ = paused_ = false;
    stopWallClock();
    controls_->setState(ControlPanel::State::Idle);
    const bool kept = shelved_ && run_ && run_->runs.front().steps.empty();
    if (kept) restoreShelvedRun();
    statusRun_->setText(kept ? message + QLatin1Char(' ') + tr("The last run stays on screen.")
                             : message);
    auto* box = new QMessageBox(QMessageBox::Warning, tr("Cannot generate"), message,
                                QMessageBox::Ok, this);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
    Q_EMIT runEnded();
}

void MainWindow::finishWithoutStart(const QString& text) {
    controls_->setState(model_ ? ControlPanel::State::Idle : ControlPanel::State::NoModel);
    restoreShelvedRun();
    statusRun_->setText(text);
    Q_EMIT runEnded();
}

void MainWindow::showRun(std::unique_ptr<RunExport> run) {
    stopRun();
    ++runId_;  // whatever the worker still sends belongs to an older run
    running_ = paused_ = false;
    model_ = run->model;
    controls_->setModelSummary(modelSummary(*model_));
    controls_->setTokenizer(model_->tokenizer, model_->config.nPositions);
    whatIf_->setLoadedModel(model_->config, model_->name);
    controls_->setState(ControlPanel::State::Idle);
    shelved_.reset();
    run_ = std::move(run);
    if (run_->roofs) roofs_->setRoofs(run_->roofs);
    view_ = RunView{run_.get(), -1, run_->runs.front().mode};
    dirty_ = true;
    onFrame();
}

void MainWindow::selectStep(int step) {
    view_.selectedStep = step;
    dirty_ = true;
    Q_EMIT stepSelected(step);
}

void MainWindow::updateView() {
    view_.run = shelved_ ? shelved_.get() : run_.get();
    view_.focusMode = controls_->focusMode();
    view_.reference = reference_.get();
    tokens_->setView(view_);
    distribution_->setView(view_);
    heatmap_->setView(view_);
    costs_->setView(view_);
}

// While tokens stream in, the two heavy panels (heatmap, cost curves) take turns, one per frame,
// so no single frame holds the GUI thread for long; otherwise everything is redrawn at once.
void MainWindow::onFrame() {
    if (dirty_) {
        dirty_ = false;
        heavyDirty_ = {true, true};
        updateView();
        tokens_->refresh();
        distribution_->refresh();
        updateStatus();
    }
    if (!heavyDirty_[0] && !heavyDirty_[1]) return;
    const int first = running_ ? int(++frames_ % 2) : 0;
    for (int i : {first, 1 - first}) {
        if (!heavyDirty_[std::size_t(i)]) continue;
        heavyDirty_[std::size_t(i)] = false;
        if (i == 0)
            heatmap_->refresh();
        else
            costs_->refresh();
        if (running_) break;
    }
}

void MainWindow::updateStatus() {
    QStringList tokens, flops, wall, compute;
    std::int64_t kv = 0;
    const double seconds = wallSeconds();
    bool sameCount = true;
    if (run_) {
        for (const RunRecord& r : run_->runs) {
            const std::size_t n = r.steps.size();
            const QLatin1String mode(modeName(r.mode));
            sameCount = sameCount && n == run_->runs.front().steps.size();
            tokens << QStringLiteral("%1 %2").arg(n).arg(mode);
            flops << QStringLiteral("%1 %2").arg(
                units::flopsText(n ? double(r.steps.back()->cumulative.total()) : 0), mode);
            if (r.mode == Mode::Cached && n) kv = r.steps.back()->kvCacheBytes;
            if (n && seconds > 0)
                wall << QStringLiteral("%1 %2").arg(rateText(double(n) / seconds), mode);
            const double ms = computeMs_[r.mode == Mode::Naive ? 0 : 1];
            if (n && ms > 0)
                compute << QStringLiteral("%1 %2").arg(rateText(double(n) * 1000 / ms), mode);
        }
    }
    // Short labels: the run's message on the left must stay readable at 1280 px; the tooltips
    // say what each figure counts.
    const std::size_t first = run_ ? run_->runs.front().steps.size() : 0;
    statusTokens_->setText(tokens.size() > 1 && !sameCount
                               ? tr("%1 tokens").arg(tokens.join(QStringLiteral(", ")))
                               : tr("%1 tokens").arg(first));
    statusSpeed_->setText(wall.isEmpty() ? QString()
                                         : tr("tok/s %1").arg(wall.join(QStringLiteral(", "))));
    statusCompute_->setText(
        compute.isEmpty() ? QString() : tr("compute %1").arg(compute.join(QStringLiteral(", "))));
    statusFlops_->setText(flops.isEmpty() ? tr("0 FLOP") : flops.join(QStringLiteral(", ")));
    statusKv_->setText(tr("KV %1").arg(units::bytesText(double(kv))));
}

QList<QPair<QString, QCustomPlot*>> MainWindow::charts() const {
    QList<QPair<QString, QCustomPlot*>> out{{QStringLiteral("distribution"), distribution_->plot()},
                                            {QStringLiteral("attention"), heatmap_->plot()}};
    return out + costs_->namedPlots() +
           QList<QPair<QString, QCustomPlot*>>{{QStringLiteral("what_if"), whatIf_->plot()}};
}

Result<QStringList> MainWindow::exportAll(const QString& dir) {
    if (!run_) return Error{tr("Nothing to export yet: generate a run first.")};
    onFrame();
    QDir().mkpath(dir);
    // One slide-sized 16:10 frame for every chart, whatever the docks' sizes on screen.
    auto written = exportAllCharts(charts(), dir, chartCaption(view_), QSize(1200, 750));
    if (!written) return written;
    QStringList files = written.value();
    run_->roofs = roofs_->roofs();  // run.json records the roofs the roofline chart draws
    const QString json = QDir(dir).filePath(QStringLiteral("run.json"));
    const QString csv = QDir(dir).filePath(QStringLiteral("run.csv"));
    if (auto w = writeFile(json, QJsonDocument(runToJson(*run_)).toJson()); !w) return w.error();
    if (auto w = writeFile(csv, runToCsv(*run_)); !w) return w.error();
    return files << json << csv;
}

void MainWindow::exportAllDialog() {
    const QString dir = QFileDialog::getExistingDirectory(
        this, tr("Export all charts and run data to"), lastExportFolder());
    if (dir.isEmpty()) return;
    rememberExportFolder(dir);
    auto r = exportAll(dir);
    if (!r)
        QMessageBox::warning(this, tr("Export failed"), r.errorMessage());
    else
        statusRun_->setText(tr("Exported %1 files to %2.").arg(r.value().size()).arg(dir));
}

void MainWindow::openModelDialog() {
    const QString path =
        QFileDialog::getOpenFileName(this, tr("Open a model file"), QString(),
                                     tr("Model files (*.gguf *.bin *.safetensors);;All files (*)"));
    if (!path.isEmpty()) openModel(path);
}

void MainWindow::openModelFolderDialog() {
    const QString path = QFileDialog::getExistingDirectory(this, tr("Open a model folder"));
    if (!path.isEmpty()) openModel(path);
}

void MainWindow::openModel(const QString& path, const QString& tokenizer) {
    if (loading_) loading_->cancel();
    auto* task = new ModelLoadTask(path, LoadOptions{.tokenizerPath = tokenizer}, this);
    loading_ = task;
    auto* progress = new QProgressDialog(tr("Loading %1…").arg(QFileInfo(path).fileName()),
                                         tr("Cancel"), 0, 100, this);
    progress->setWindowModality(Qt::WindowModal);
    progress->setMinimumDuration(300);
    progress->setAttribute(Qt::WA_DeleteOnClose);
    connect(progress, &QProgressDialog::canceled, task, &ModelLoadTask::cancel);
    connect(task, &ModelLoadTask::progress, progress, [progress](double f, const QString& stage) {
        progress->setValue(int(f * 100));
        progress->setLabelText(stage);
    });
    auto done = [this, task, progress] {
        progress->close();
        if (loading_ == task) loading_ = nullptr;
        task->deleteLater();
    };
    connect(task, &ModelLoadTask::loaded, this, [this, path, done](const ModelPtr& m) {
        done();
        setModel(m);
        rememberModel(path);
    });
    connect(task, &ModelLoadTask::failed, this, [this, done](const QString& message) {
        done();
        statusRun_->setText(tr("Model not loaded: %1").arg(message));
        auto* box = new QMessageBox(QMessageBox::Warning, tr("Cannot open the model"), message,
                                    QMessageBox::Ok, this);
        box->setInformativeText(
            model_ ? tr("The previous model, %1, stays loaded.").arg(model_->name) : QString());
        box->setAttribute(Qt::WA_DeleteOnClose);
        box->open();
        Q_EMIT modelLoadFailed(message);
    });
    task->start();
}

// One checkable entry per model inside the executable; the loaded one is checked. Opening one
// goes through the same loader as a file ("embedded:NAME"), so the run settings stay.
void MainWindow::buildEmbeddedMenu(QMenu* menu) {
    auto* group = new QActionGroup(menu);
    group->setExclusive(true);
    for (const EmbeddedModel& m : embeddedModels()) {
        const QString path = embeddedModelPath(m.key);
        QAction* a = menu->addAction(m.title, this, [this, path] { openModel(path); });
        a->setCheckable(true);
        a->setToolTip(m.summary);
        a->setStatusTip(m.summary);
        a->setData(path);
        a->setObjectName(QStringLiteral("embedded.") + m.key);
        group->addAction(a);
    }
    menu->setToolTipsVisible(true);
    connect(this, &MainWindow::modelChanged, menu, [this, group] {
        for (QAction* a : group->actions()) a->setChecked(model_ && model_->source == a->data());
    });
}

void MainWindow::rememberModel(const QString& path) {
    QSettings q;
    QStringList recent = q.value(QStringLiteral("recentModels")).toStringList();
    recent.removeAll(path);
    recent.prepend(path);
    q.setValue(QStringLiteral("recentModels"), recent.mid(0, 8));
    rebuildRecentMenu();
}

void MainWindow::rebuildRecentMenu() {
    recentMenu_->clear();
    const QStringList recent = QSettings().value(QStringLiteral("recentModels")).toStringList();
    for (const QString& path : recent)
        recentMenu_->addAction(path, this, [this, path] { openModel(path); });
    recentMenu_->setEnabled(!recent.isEmpty());
}

void MainWindow::dragEnterEvent(QDragEnterEvent* e) {
    if (e->mimeData()->hasUrls() && e->mimeData()->urls().first().isLocalFile())
        e->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* e) {
    openModel(e->mimeData()->urls().first().toLocalFile());
    e->acceptProposedAction();
}

void MainWindow::setColorScheme(ColorScheme scheme) {
    appearance_->setColorScheme(scheme);
}

void MainWindow::setPresentationMode(bool on) {
    appearance_->setPresentation(on);
}

void MainWindow::resetLayout() {
    arrangeDocks();
}

// Presentation mode has its own arrangement, made while the fonts are still small; leaving it
// gives back the docks as they were, once the fonts are small again.
void MainWindow::onPresentationChanging(bool on) {
    // At 1.5 times the size the status line has room for the run's message, the tokens, FLOPs
    // and KV bytes only: the two speeds leave it (the Time tab draws them).
    statusSpeed_->setVisible(!on);
    statusCompute_->setVisible(!on);
    if (!on) return;
    normalState_ = saveState();
    arrangeDocks();
}

void MainWindow::onPresentationChanged(bool on) {
    if (on) {
        arrangeDocks();  // again, the controls' width for the larger font
    } else if (!normalState_.isEmpty()) {
        arrangeDocks();
        restoreState(normalState_);
        normalState_.clear();
    }
}

void MainWindow::closeEvent(QCloseEvent* e) {
    QSettings q;
    q.setValue(QStringLiteral("window/geometry"), saveGeometry());
    // The arrangement to start with next time: presentation mode is not remembered.
    q.setValue(QStringLiteral("window/state"),
               appearance_->presentation() ? normalState_ : saveState());
    controls_->saveSettings();
    stopRun();
    e->accept();
}

void MainWindow::showAbout() {
    QMessageBox::about(
        this, tr("About kvscope"),
        tr("<h3>kvscope %1</h3><p>Watch a transformer generate text token by token, "
           "and count what each token costs: naive generation recomputes the whole "
           "sequence at every step (O(T³) attention FLOPs), a KV cache computes only "
           "the new position (O(T²)).</p><p>Qt %2 · Eigen · QCustomPlot</p>")
            .arg(QApplication::applicationVersion(), QLatin1String(qVersion())));
}

}  // namespace kvscope
