#pragma once
// The engine's thread adapter: a QObject that lives on a QThread and runs one generation at a
// time, emitting one immutable StepResult per token. Control (stop, pause, single step, speed)
// goes through plain thread-safe methods backed by atomics and a condition variable, never
// through the worker's event loop, which is busy while a run is going.

#include "model/model.h"
#include "run/lockstep.h"

#include <QObject>
#include <QString>

#include <atomic>
#include <condition_variable>
#include <mutex>

namespace kvscope {

struct RunRequest {
    std::uint64_t runId = 0;
    ModelPtr model;
    QString prompt;
    GenerationSettings settings;  // settings.mode is ignored when compare is set
    bool compare = false;         // naive and cached in lockstep on the same seed
    bool startPaused = false;
    int singleSteps = 0;  // tokens to compute right away when starting paused (the Step button)
};

class GenerationWorker : public QObject {
    Q_OBJECT
public:
    explicit GenerationWorker(QObject* parent = nullptr);

    // Thread-safe; take effect within one step. stop(id) ends run `id` and every earlier one,
    // including requests still queued, and interrupts a step in progress.
    void stop(std::uint64_t runId);
    void setPaused(bool paused);
    void stepOnce();  // while paused: compute exactly one more token (per mode)
    void setDelayMs(int ms);
    bool isPaused() const { return paused_.load(); }

public Q_SLOTS:
    // Runs to completion on the worker thread. Emits runStarted, then stepReady per token (both
    // modes when comparing: naive first), then runFinished. Every request ends with exactly one
    // runFinished or runFailed: one stopped while still queued gets runFinished("cancelled")
    // with no runStarted.
    void run(const kvscope::RunRequest& request);

Q_SIGNALS:
    void runStarted(quint64 runId, const std::vector<int>& promptIds);
    void stepReady(const kvscope::StepResultPtr& step);
    void runFinished(quint64 runId, const QString& stopReason, float maxLogitDiff);
    void runFailed(quint64 runId, const QString& message);

private:
    void runUnguarded(const RunRequest& request);
    void forgetSessions();
    // Waits for the per-token delay (when `delay`) and while paused; false when stopped.
    bool waitForTurn(std::uint64_t runId, bool delay);
    bool stopped(std::uint64_t runId) const { return stopUpTo_.load() >= runId; }

    std::atomic<std::uint64_t> stopUpTo_{0};
    std::atomic<bool> paused_{false};
    std::atomic<int> delayMs_{0};
    std::atomic<int> singleSteps_{0};
    std::mutex mutex_;
    std::condition_variable wake_;
    LockstepRun* active_ = nullptr;  // guarded by mutex_, for stop() to cancel
    std::uint64_t activeRunId_ = 0;  // guarded by mutex_
};

void registerMetaTypes();

}  // namespace kvscope

Q_DECLARE_METATYPE(kvscope::RunRequest)
