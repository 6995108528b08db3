#include "run/generation_worker.h"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace kvscope {

void registerMetaTypes() {
    qRegisterMetaType<kvscope::StepResultPtr>("kvscope::StepResultPtr");
    qRegisterMetaType<kvscope::RunRequest>("kvscope::RunRequest");
    qRegisterMetaType<std::vector<int>>("std::vector<int>");
}

GenerationWorker::GenerationWorker(QObject* parent) : QObject(parent) {
    registerMetaTypes();
}

void GenerationWorker::stop(std::uint64_t runId) {
    std::lock_guard lock(mutex_);
    if (runId > stopUpTo_.load()) stopUpTo_.store(runId);
    if (activeRunId_ <= runId && active_) active_->cancel();
    wake_.notify_all();
}

void GenerationWorker::setPaused(bool paused) {
    std::lock_guard lock(mutex_);
    paused_.store(paused);
    wake_.notify_all();
}

void GenerationWorker::stepOnce() {
    std::lock_guard lock(mutex_);
    singleSteps_.fetch_add(1);
    wake_.notify_all();
}

void GenerationWorker::setDelayMs(int ms) {
    std::lock_guard lock(mutex_);
    delayMs_.store(std::clamp(ms, 0, 10000));
    wake_.notify_all();
}

bool GenerationWorker::waitForTurn(std::uint64_t runId, bool delay) {
    std::unique_lock lock(mutex_);
    // The delay paces a class through the run; a single-step request skips it. It counts running
    // time: after a pause it starts over, so a token never follows Resume at once and the
    // wall-clock rate, which leaves pauses out, stays at most one token per delay.
    for (;;) {
        const auto deadline = std::chrono::steady_clock::now() +
                              std::chrono::milliseconds(delay ? delayMs_.load() : 0);
        while (!stopped(runId) && !paused_ && singleSteps_ == 0 &&
               wake_.wait_until(lock, deadline) != std::cv_status::timeout) {
        }
        if (!paused_ || stopped(runId) || singleSteps_ > 0) break;
        while (!stopped(runId) && paused_ && singleSteps_ == 0) wake_.wait(lock);
        if (stopped(runId) || singleSteps_ > 0 || !delay) break;
    }
    if (stopped(runId)) return false;
    if (singleSteps_ > 0) singleSteps_.fetch_sub(1);
    return true;
}

// Every request still ends with one signal when the engine throws (bad_alloc from newState()
// for a huge context, say): the window reports it and stays up.
void GenerationWorker::run(const RunRequest& request) {
    try {
        runUnguarded(request);
        return;
    } catch (const std::bad_alloc&) {
        forgetSessions();
        Q_EMIT runFailed(request.runId,
                         tr("Not enough memory for this run (the model's state for its context "
                            "could not be allocated)."));
    } catch (const std::exception& e) {
        forgetSessions();
        Q_EMIT runFailed(request.runId, tr("The run failed: %1").arg(QString::fromUtf8(e.what())));
    } catch (...) {
        forgetSessions();
        Q_EMIT runFailed(request.runId, tr("The run failed with an unknown error."));
    }
}

void GenerationWorker::forgetSessions() {
    std::lock_guard lock(mutex_);
    active_ = nullptr;  // the run died with the stack that threw
}

void GenerationWorker::runUnguarded(const RunRequest& request) {
    // Stopped while still queued: acknowledged all the same, or a window that pressed Stop right
    // after Generate would wait for the end of a run that never began.
    if (stopped(request.runId)) {
        Q_EMIT runFinished(request.runId,
                           QString::fromLatin1(stopReasonName(StopReason::Cancelled)), -1.0f);
        return;
    }
    paused_.store(request.startPaused);
    singleSteps_.store(request.startPaused ? request.singleSteps : 0);
    const Tokenizer& tok = *request.model->tokenizer;
    const QByteArray utf8 = request.prompt.toUtf8();
    const std::vector<int> ids = tok.promptIds(
        std::string_view(utf8.constData(), std::size_t(utf8.size())), tok.special().addBos);
    const std::vector<Mode> modes = request.compare ? std::vector{Mode::Naive, Mode::Cached}
                                                    : std::vector{request.settings.mode};
    auto started = LockstepRun::start(request.model, ids, request.settings, modes, request.runId);
    if (!started) {
        Q_EMIT runFailed(request.runId, started.errorMessage());
        return;
    }
    LockstepRun& run = *started.value();
    {
        std::lock_guard lock(mutex_);
        active_ = &run;
        activeRunId_ = request.runId;
    }
    Q_EMIT runStarted(request.runId, run.promptIds());
    const LockstepOutcome outcome =
        run.run([&](bool first) { return waitForTurn(request.runId, !first); },
                [&](std::size_t, const StepResultPtr& r) { Q_EMIT stepReady(r); });
    {
        std::lock_guard lock(mutex_);
        active_ = nullptr;
    }
    const StopReason reason =
        stopped(request.runId) ? StopReason::Cancelled : outcome.stops.front();
    Q_EMIT runFinished(request.runId, QString::fromLatin1(stopReasonName(reason)),
                       outcome.maxLogitDiff.value_or(-1.0f));
}

}  // namespace kvscope
