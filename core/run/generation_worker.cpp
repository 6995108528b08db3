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
    if (activeRunId_ <= runId)
        for (GenerationSession* s : active_) s->cancel();
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
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(delay ? delayMs_.load() : 0);
    // The delay paces a class through the run; a single-step request skips it.
    while (!stopped(runId) && !paused_ && singleSteps_ == 0 &&
           wake_.wait_until(lock, deadline) != std::cv_status::timeout) {
    }
    while (!stopped(runId) && paused_ && singleSteps_ == 0) wake_.wait(lock);
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
    active_.clear();  // the sessions died with the stack that threw
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
    const std::vector<int> ids =
        tok.encode(std::string_view(utf8.constData(), std::size_t(utf8.size())));

    std::vector<std::unique_ptr<GenerationSession>> sessions;
    const std::vector<Mode> modes = request.compare ? std::vector{Mode::Naive, Mode::Cached}
                                                    : std::vector{request.settings.mode};
    for (Mode mode : modes) {
        GenerationSettings s = request.settings;
        s.mode = mode;
        sessions.push_back(std::make_unique<GenerationSession>(request.model));
        auto started = sessions.back()->start(ids, s, request.runId);
        if (!started) {
            Q_EMIT runFailed(request.runId, started.errorMessage());
            return;
        }
    }
    {
        std::lock_guard lock(mutex_);
        for (auto& s : sessions) active_.push_back(s.get());
        activeRunId_ = request.runId;
    }
    Q_EMIT runStarted(request.runId, sessions.front()->tokens());

    float maxDiff = 0;
    for (bool first = true; !sessions.front()->finished(); first = false) {
        if (!waitForTurn(request.runId, !first)) break;
        bool all = true;
        for (auto& s : sessions) {
            StepResultPtr r = s->step();
            if (r) Q_EMIT stepReady(r);
            all = all && r;
        }
        if (sessions.size() == 2 && all)
            maxDiff = std::max(
                maxDiff, maxAbsDifference(sessions[0]->lastLogits(), sessions[1]->lastLogits()));
    }
    {
        std::lock_guard lock(mutex_);
        active_.clear();
    }
    const StopReason reason =
        stopped(request.runId) ? StopReason::Cancelled : sessions.front()->stopReason();
    Q_EMIT runFinished(request.runId, QString::fromLatin1(stopReasonName(reason)),
                       sessions.size() == 2 ? maxDiff : -1.0f);
}

}  // namespace kvscope
