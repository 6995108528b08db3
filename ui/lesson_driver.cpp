#include "lesson_driver.h"

#include "attention_heatmap.h"
#include "cost_charts.h"
#include "lesson/lesson_figures.h"
#include "lesson_panel.h"
#include "main_window.h"
#include "panel_highlight.h"
#include "roofs_probe.h"
#include "token_strip.h"
#include "token_text.h"
#include "units.h"
#include "what_if_panel.h"

#include <QDockWidget>
#include <QLocale>
#include <QSettings>

#include <algorithm>
#include <cmath>

namespace kvscope {
namespace {

// Verbs that only set something up: replayed, folded, when a step is reached out of order.
bool isSetup(const QString& verb) {
    static const QStringList setup = {QStringLiteral("model"), QStringLiteral("prompt"),
                                      QStringLiteral("set"),   QStringLiteral("attention"),
                                      QStringLiteral("cost"),  QStringLiteral("whatif")};
    return setup.contains(verb);
}

bool makesRun(const LessonAction& a) {
    return a.verb == QLatin1String("run") || a.verb == QLatin1String("step");
}

// Three significant digits, and a power of ten written out below 0.001 (1.2×10⁻⁶ rather than
// 1.2e-06, which a class reads as an error code).
QString plainNumber(double v) {
    if (v == 0 || std::abs(v) >= 1e-3) return QString::number(v, 'g', 3);
    const int exponent = int(std::floor(std::log10(std::abs(v))));
    const double mantissa = v / std::pow(10.0, exponent);
    static const QString superscripts = QStringLiteral("⁰¹²³⁴⁵⁶⁷⁸⁹");
    QString power;
    for (QChar c : QString::number(std::abs(exponent))) power += superscripts[c.digitValue()];
    return QStringLiteral("%1×10⁻%2").arg(QString::number(mantissa, 'f', 1), power);
}

QString escapeMarkdown(const QString& s) {
    QString out;
    for (QChar c : s) {
        if (QStringLiteral("\\`*_{}[]<>()#+-.!|~").contains(c)) out += QLatin1Char('\\');
        out += c;
    }
    return out;
}

QString figureText(const Figure& f) {
    switch (f.unit) {
        case FigureUnit::Count:
            return QLocale(QLocale::English).toString(qlonglong(std::llround(f.value)));
        case FigureUnit::Flops:
            return units::flopsText(f.value);
        case FigureUnit::Bytes:
            return units::bytesText(f.value);
        case FigureUnit::Percent:
            return QString::number(f.value, 'f', f.value >= 10 || f.value == 0 ? 1 : 2) +
                   QLatin1Char('%');
        case FigureUnit::Factor:  // "4×" for a whole ratio (heads per K/V head), else "33.3×"
            return QString::number(f.value, 'f',
                                   f.value >= 100 || f.value == std::round(f.value) ? 0 : 1) +
                   QStringLiteral("×");
        case FigureUnit::Exponent:
            return QString::number(f.value, 'f', 2);
        case FigureUnit::Number:
            return plainNumber(f.value);
        case FigureUnit::Milliseconds:
            return QString::number(f.value, 'g', 3);
        case FigureUnit::GBytesPerS:
            return QStringLiteral("%1 GB/s").arg(f.value, 0, 'f', 1);
        case FigureUnit::GFlopsPerS:
            return QStringLiteral("%1 GFLOP/s").arg(f.value, 0, 'f', 1);
        case FigureUnit::FlopsPerByte:
            return QString::number(f.value, 'g', 3);
        case FigureUnit::Text:
            return escapeMarkdown(visibleText(f.text));
    }
    return {};
}

QString optionText(const LessonAction& a, const char* key) {
    const auto it = a.options.find(QLatin1String(key));
    return it == a.options.end() ? QString() : it->second.toString();
}

// Later options win: what the controls would show after every step before.
void fold(LessonAction& into, const LessonAction& a) {
    into.line = a.line;
    into.verb = a.verb;
    into.text = a.text;
    for (const auto& [k, v] : a.options) into.options[k] = v;
}

}  // namespace

// The reader's own settings and model, given back when the lesson ends.
struct LessonDriver::Snapshot {
    QString prompt;
    RunMode mode;
    Mode focus;
    GenerationSettings settings;
    int delayMs;
    QString model;
};

LessonDriver::LessonDriver(MainWindow* window, LessonPanel* panel, QObject* parent)
    : QObject(parent), window_(window), panel_(panel), highlight_(new PanelHighlight(window)) {
    connect(panel_, &LessonPanel::nextRequested, this, &LessonDriver::next);
    connect(panel_, &LessonPanel::backRequested, this, &LessonDriver::back);
    connect(panel_, &LessonPanel::restartRequested, this, [this] { goTo(0); });
    connect(panel_, &LessonPanel::chapterRequested, this, [this](int chapter) {
        for (std::size_t i = 0; i < lesson_.steps.size(); ++i)
            if (lesson_.steps[i].chapter == chapter) return goTo(int(i));
    });
    // The narration follows the reader: another step picked, a run of their own.
    auto refresh = [this] {
        if (current_ >= 0 && !busy()) render();
    };
    connect(window_, &MainWindow::stepSelected, this, refresh);
    connect(window_, &MainWindow::runEnded, this, refresh);
}

LessonDriver::~LessonDriver() {
    for (const auto& c : waits_) disconnect(c);
    delete highlight_;
}

void LessonDriver::start(Lesson lesson, int at) {
    lesson_ = std::move(lesson);
    if (!snapshot_) {
        const ControlPanel* c = window_->controls();
        snapshot_ = std::make_unique<Snapshot>(
            Snapshot{c->prompt(), c->runMode(), c->focusMode(), c->settings(), c->delayMs(),
                     window_->model() ? window_->model()->source : QString()});
    }
    QStringList chapters;
    for (const QString& c : lesson_.chapters) chapters << c;
    panel_->setLesson(lesson_.title, chapters, int(lesson_.steps.size()));
    current_ = -1;
    const int first = std::clamp(at, 0, int(lesson_.steps.size()) - 1);
    resumed_ = first > 0;
    goTo(first);
}

void LessonDriver::finish() {
    pending_.clear();
    for (const auto& c : waits_) disconnect(c);
    waits_.clear();
    waiting_ = false;
    highlight_->setTarget(nullptr);
    window_->stopRun();
    if (!snapshot_) return;
    ControlPanel* c = window_->controls();
    c->setPrompt(snapshot_->prompt);
    c->setRunMode(snapshot_->mode);
    c->setCompareFocus(snapshot_->focus);
    c->setSettings(snapshot_->settings);
    c->setDelayMs(snapshot_->delayMs);
    if (!snapshot_->model.isEmpty() &&
        (!window_->model() || window_->model()->source != snapshot_->model))
        window_->openModel(snapshot_->model);
    snapshot_.reset();
    current_ = -1;
}

void LessonDriver::next() {
    if (current_ + 1 < int(lesson_.steps.size())) goTo(current_ + 1);
}

void LessonDriver::back() {
    if (current_ > 0) goTo(current_ - 1);
}

int LessonDriver::rememberedStep(const QString& file) {
    return QSettings().value(QStringLiteral("lesson/positions/") + file, 0).toInt();
}

void LessonDriver::goTo(int index) {
    if (index < 0 || index >= int(lesson_.steps.size())) return;
    // Moving on mid-step: what the old step was waiting for no longer matters.
    for (const auto& c : waits_) disconnect(c);
    waits_.clear();
    waiting_ = false;
    stopped_ = false;
    current_ = index;
    const LessonStep& s = lesson_.steps[std::size_t(index)];
    panel_->setStep(s.chapter, index, s.title);
    panel_->setNarration(QString());
    panel_->setStatus(tr("Setting up…"));
    QSettings().setValue(QStringLiteral("lesson/positions/") + lesson_.file, index);
    queueFor(index);
    runPending();
}

// The actions that bring the app to step `index` as reading straight through would: the folded
// setup of the steps before the last run, that run's step, the setup since, then the step.
void LessonDriver::queueFor(int index) {
    const auto& steps = lesson_.steps;
    int runStep = -1;
    for (int i = index; i >= 0 && runStep < 0; --i)
        for (const LessonAction& a : steps[std::size_t(i)].actions)
            if (makesRun(a)) runStep = i;
    std::vector<QString> order = {QStringLiteral("model"), QStringLiteral("prompt"),
                                  QStringLiteral("set"),   QStringLiteral("attention"),
                                  QStringLiteral("cost"),  QStringLiteral("whatif")};
    std::map<QString, LessonAction> folded;
    const int foldEnd = runStep >= 0 ? runStep : index;
    for (int i = 0; i < foldEnd; ++i)
        for (const LessonAction& a : steps[std::size_t(i)].actions)
            if (isSetup(a.verb)) fold(folded[a.verb], a);
    pending_.clear();
    auto emitFolded = [&](int from, int to) {
        for (int k = from; k < to; ++k)
            if (auto it = folded.find(order[std::size_t(k)]); it != folded.end())
                pending_.push_back(it->second);
    };
    emitFolded(0, 3);  // model, prompt, settings before the run that needs them
    if (runStep >= 0 && runStep < index)
        for (const LessonAction& a : steps[std::size_t(runStep)].actions)
            if (a.verb != QLatin1String("show")) pending_.push_back(a);
    emitFolded(3, int(order.size()));  // panel settings once a run has shown the model
    for (int i = std::max(runStep + 1, foldEnd); i < index; ++i)
        for (const LessonAction& a : steps[std::size_t(i)].actions)
            if (isSetup(a.verb)) pending_.push_back(a);
    replayLeft_ = int(pending_.size());
    for (const LessonAction& a : steps[std::size_t(index)].actions) pending_.push_back(a);
}

void LessonDriver::runPending() {
    while (!pending_.empty() && !waiting_ && !stopped_) {
        const LessonAction a = pending_.front();
        pending_.erase(pending_.begin());
        replaying_ = replayLeft_-- > 0;
        if (!runAction(a)) return;
    }
    if (pending_.empty() && !waiting_ && !stopped_) stepDone();
}

bool LessonDriver::runAction(const LessonAction& a) {
    const QString& v = a.verb;
    if (v == QLatin1String("model")) return runModel(a);
    if (v == QLatin1String("run")) return runRun(a);
    if (v == QLatin1String("step")) return runSteps(a);
    if (v == QLatin1String("stop")) return runStop();
    if (v == QLatin1String("roofs")) return runRoofs();
    if (v == QLatin1String("prompt")) window_->controls()->setPrompt(a.text);
    if (v == QLatin1String("set")) applySet(a);
    if (v == QLatin1String("attention")) applyAttention(a);
    if (v == QLatin1String("cost")) applyCost(a);
    if (v == QLatin1String("whatif")) applyWhatIf(a);
    if (v == QLatin1String("show")) show(a.text);
    if (v == QLatin1String("select"))
        window_->selectStep(a.options.at(QStringLiteral("step")).toInt());
    return !waiting_ && !stopped_;
}

void LessonDriver::waitFor(const QMetaObject::Connection& done) {
    waits_.push_back(done);
    waiting_ = true;
}

void LessonDriver::resumeAfterWait() {
    for (const auto& c : waits_) disconnect(c);
    waits_.clear();
    waiting_ = false;
    // Queued: the signal that woke us is still being delivered to the window's other slots.
    QMetaObject::invokeMethod(this, &LessonDriver::runPending, Qt::QueuedConnection);
}

// An action of the step itself stops the step: what follows would run on a state it did not
// expect. One replayed from an earlier step was reported there; this step goes on without it.
void LessonDriver::fail(const LessonAction& a, const QString& message) {
    const bool wasWaiting = waiting_;
    for (const auto& c : waits_) disconnect(c);
    waits_.clear();
    waiting_ = false;
    const QString text = tr("%1: line %2: %3").arg(lesson_.file).arg(a.line).arg(message);
    Q_EMIT failed(text);
    if (replaying_) {
        if (wasWaiting)
            QMetaObject::invokeMethod(this, &LessonDriver::runPending, Qt::QueuedConnection);
        return;
    }
    stopped_ = true;
    pending_.clear();
    panel_->setStatus(text, true);
    render();
}

bool LessonDriver::runModel(const LessonAction& a) {
    if (window_->model() && window_->model()->source == a.text) return true;
    waitFor(connect(window_, &MainWindow::modelChanged, this, &LessonDriver::resumeAfterWait));
    waitFor(connect(window_, &MainWindow::modelLoadFailed, this,
                    [this, a](const QString& message) { fail(a, message); }));
    panel_->setStatus(tr("Loading %1…").arg(a.text));
    window_->openModel(a.text);
    return false;
}

// Model, prompt, mode and settings: equal signatures make the same run, token for token.
QString LessonDriver::runSignature() const {
    const ControlPanel* c = window_->controls();
    GenerationSettings s = c->settings();
    const SamplerSettings& p = s.sampler;
    return QStringList{window_->model() ? window_->model()->source : QString(),
                       c->prompt(),
                       QString::number(int(c->runMode())),
                       QString::number(double(p.temperature)),
                       QString::number(p.topK),
                       QString::number(double(p.topP)),
                       QString::number(double(p.minP)),
                       QString::number(p.seed),
                       QString::number(double(p.repeatPenalty)),
                       QString::number(double(p.presencePenalty)),
                       QString::number(double(p.frequencyPenalty)),
                       QString::number(p.repeatLastN),
                       QString::number(s.maxNewTokens),
                       QString::number(s.stopAtEndOfText)}
        .join(QChar(0x1f));
}

bool LessonDriver::runRun(const LessonAction& a) {
    if (window_->isRunning()) {  // a run of an earlier step, or of the reader's: end it first
        pending_.insert(pending_.begin(), a);
        waitFor(connect(window_, &MainWindow::runEnded, this, &LessonDriver::resumeAfterWait));
        window_->stopRun();
        return false;
    }
    const QString signature = runSignature();
    const RunExport* run = window_->run();
    if (signature == lastRun_ && run && !run->runs.empty() && !run->runs.front().steps.empty())
        return true;
    panel_->setStatus(tr("Generating…"));
    waitFor(connect(window_, &MainWindow::runEnded, this, [this, signature, a] {
        const RunExport* r = window_->run();
        const bool made = r && !r->runs.empty() && !r->runs.front().steps.empty();
        lastRun_ = made ? signature : QString();
        if (!made) return fail(a, tr("the run produced no token"));
        resumeAfterWait();
    }));
    window_->generate(false);
    return false;
}

bool LessonDriver::runSteps(const LessonAction& a) {
    const auto given = a.options.find(QStringLiteral("count"));
    const int count = given == a.options.end() ? 1 : given->second.toInt();
    lastRun_.clear();  // a paused run of a few steps is never the run a later @run wants
    const RunExport* run = window_->run();
    const std::size_t before =
        window_->isRunning() && run && !run->runs.empty() ? run->runs.front().steps.size() : 0;
    const std::size_t target = before + std::size_t(count);
    auto reached = [this, target] {
        const RunExport* r = window_->run();
        if (!r || r->runs.empty()) return false;
        for (const RunRecord& rec : r->runs)
            if (rec.steps.size() < target) return false;
        return true;
    };
    waitFor(connect(window_, &MainWindow::stepAppended, this, [this, reached] {
        if (reached()) return resumeAfterWait();
        const RunExport* r = window_->run();
        bool lockstep = true;  // in Compare both runs finish a step before the next is asked
        for (const RunRecord& rec : r->runs)
            lockstep = lockstep && rec.steps.size() == r->runs.front().steps.size();
        if (lockstep) window_->stepOnce();
    }));
    waitFor(connect(window_, &MainWindow::runEnded, this, &LessonDriver::resumeAfterWait));
    panel_->setStatus(tr("Stepping…"));
    window_->stepOnce();
    return false;
}

bool LessonDriver::runStop() {
    if (!window_->isRunning()) return true;
    waitFor(connect(window_, &MainWindow::runEnded, this, &LessonDriver::resumeAfterWait));
    window_->stopRun();
    return false;
}

bool LessonDriver::runRoofs() {
    RoofsProbe* roofs = window_->roofs();
    if (roofs->roofs() && !roofs->isMeasuring()) return true;
    panel_->setStatus(tr("Measuring this machine's memory bandwidth and GEMM rate…"));
    waitFor(connect(roofs, &RoofsProbe::measured, this, &LessonDriver::resumeAfterWait));
    if (!roofs->isMeasuring()) roofs->measure();
    return false;
}

void LessonDriver::applySet(const LessonAction& a) {
    ControlPanel* c = window_->controls();
    GenerationSettings s = c->settings();
    for (const auto& [key, value] : a.options) {
        if (key == QLatin1String("mode")) {
            const QString m = value.toString();
            c->setRunMode(m == QLatin1String("naive")    ? RunMode::Naive
                          : m == QLatin1String("cached") ? RunMode::Cached
                                                         : RunMode::Compare);
        } else if (key == QLatin1String("focus")) {
            c->setCompareFocus(value.toString() == QLatin1String("naive") ? Mode::Naive
                                                                          : Mode::Cached);
        } else if (key == QLatin1String("temperature")) {
            s.sampler.temperature = value.toFloat();
        } else if (key == QLatin1String("top_k")) {
            s.sampler.topK = value.toInt();
        } else if (key == QLatin1String("top_p")) {
            s.sampler.topP = value.toFloat();
        } else if (key == QLatin1String("min_p")) {
            s.sampler.minP = value.toFloat();
        } else if (key == QLatin1String("seed")) {
            s.sampler.seed = value.toULongLong();
        } else if (key == QLatin1String("max_tokens")) {
            s.maxNewTokens = value.toInt();
        } else if (key == QLatin1String("stop_at_eot")) {
            s.stopAtEndOfText = value.toBool();
        } else if (key == QLatin1String("delay")) {
            c->setDelayMs(fast_ ? 0 : value.toInt());
        }
    }
    c->setSettings(s);
}

void LessonDriver::applyAttention(const LessonAction& a) {
    window_->refreshPanels();  // the heatmap's layer and head choices follow the loaded model
    AttentionHeatmap* h = window_->attention();
    const ModelConfig* c = window_->model() ? &window_->model()->config : nullptr;
    for (const auto& [key, value] : a.options) {
        const int n = value.toInt();
        if (key == QLatin1String("layer")) {
            if (c && n >= c->nLayer)
                return fail(a, tr("@attention layer=%1: this model has layers 0 to %2")
                                   .arg(n)
                                   .arg(c->nLayer - 1));
            h->setLayer(n);
        } else if (key == QLatin1String("head")) {
            if (c && n >= c->nHead)
                return fail(a, tr("@attention head=%1: this model has heads 0 to %2")
                                   .arg(n)
                                   .arg(c->nHead - 1));
            h->setHead(n < 0 ? AttentionHeatmap::kMeanOfHeads : n);
        } else if (key == QLatin1String("recompute")) {
            h->setRecomputeMapShown(value.toBool());
        } else if (key == QLatin1String("scale")) {
            const QString s = value.toString();
            h->setScale(s == QLatin1String("log")      ? AttentionHeatmap::Scale::Log
                        : s == QLatin1String("rowmax") ? AttentionHeatmap::Scale::RowMax
                        : s == QLatin1String("linear") ? AttentionHeatmap::Scale::Linear
                                                       : AttentionHeatmap::Scale::Percentile);
        }
    }
}

void LessonDriver::applyCost(const LessonAction& a) {
    CostCharts* c = window_->costs();
    for (const auto& [key, value] : a.options) {
        if (key == QLatin1String("log")) c->setLogScale(value.toBool());
        if (key == QLatin1String("attention")) c->setShowAttention(value.toBool());
        if (key == QLatin1String("extend")) c->setExtension(value.toLongLong());
    }
}

void LessonDriver::applyWhatIf(const LessonAction& a) {
    WhatIfPanel* w = window_->whatIf();
    const QString model = optionText(a, "model");
    if (!model.isEmpty()) w->selectPreset(model == QLatin1String("loaded") ? QString() : model);
    const QString length = optionText(a, "length");
    if (!length.isEmpty()) w->setLength(length.toLongLong());
}

void LessonDriver::show(const QString& panel) {
    QWidget* target = nullptr;
    const QString dockName = panel.section(QLatin1Char(':'), 0, 0);
    if (dockName == QLatin1String("tokens")) {
        target = window_->tokenStrip();
    } else if (QDockWidget* d = window_->findChild<QDockWidget*>(
                   dockName == QLatin1String("whatif") ? QStringLiteral("whatIf") : dockName)) {
        d->show();
        d->raise();
        target = d;
    }
    const QString tab = panel.section(QLatin1Char(':'), 1);
    const auto& tabs = lessonCostTabs();
    if (const auto it = std::find(tabs.begin(), tabs.end(), tab); it != tabs.end())
        window_->costs()->showTab(int(it - tabs.begin()));
    highlight_->setTarget(target);
}

QWidget* LessonDriver::outlined() const {
    return highlight_->isVisible() ? highlight_->target() : nullptr;
}

void LessonDriver::stepDone() {
    panel_->setStatus(resumed_ ? tr("Resumed where you stopped; Restart goes back to the start.")
                               : QString());
    resumed_ = false;
    render();
    Q_EMIT stepShown(current_);
}

// The narration with every figure read off the run on screen now.
void LessonDriver::render() {
    if (current_ < 0) return;
    window_->refreshPanels();
    FigureContext context;
    context.run = window_->run();
    context.selectedStep = window_->selectedStep();
    context.focus = window_->controls()->focusMode();
    context.roofs = window_->roofs()->roofs();
    unfilled_.clear();
    filled_.clear();
    QString markdown;
    for (const LessonText& t : lesson_.steps[std::size_t(current_)].text) {
        if (!t.isFigure()) {
            markdown += t.markdown;
            continue;
        }
        const QString name = t.arg.isEmpty() ? t.figure : t.figure + QLatin1Char(':') + t.arg;
        const auto f = evaluateFigure(context, t.figure, t.arg);
        if (f) {
            const QString text = figureText(f.value());
            filled_.append({name, text});
            markdown += text;
        } else {
            unfilled_ << QStringLiteral("{%1}: %2").arg(name, f.errorMessage());
            markdown += QStringLiteral("*(%1?)*").arg(escapeMarkdown(name));
        }
    }
    panel_->setNarration(markdown);
    if (!unfilled_.isEmpty() && !busy() && !stopped_)
        panel_->setStatus(tr("Not filled: %1").arg(unfilled_.join(QStringLiteral("; "))), true);
}

}  // namespace kvscope
