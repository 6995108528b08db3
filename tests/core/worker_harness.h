#pragma once
// Test support: a GenerationWorker on its own QThread, fed and observed in ways ThreadSanitizer
// can follow. Qt's event queue synchronizes with locks inside libQt6Core, which is not
// instrumented, so TSan cannot see that a queued call's captures were written before the worker
// thread reads them, and QSignalSpy appends on the emitting thread with no lock at all. Here a
// queued call carries no data: it tells the worker thread to take the next job from a mailbox
// guarded by a std::mutex, and the signals are recorded on the worker thread under a std::mutex.

#include "run/generation_worker.h"

#include <QObject>
#include <QThread>

#include <atomic>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace kvscope::test {

// Everything the worker emitted, in order.
class SignalLog {
public:
    struct Started {
        std::uint64_t runId;
        std::vector<int> promptIds;
    };
    struct Finished {
        std::uint64_t runId;
        QString reason;
        float maxLogitDiff;
    };
    struct Failed {
        std::uint64_t runId;
        QString message;
    };

    // Direct connections: the slots run on the worker thread, inside the emit.
    void attach(GenerationWorker* w) {
        QObject::connect(
            w, &GenerationWorker::runStarted, w,
            [this](quint64 id, const std::vector<int>& ids) {
                std::lock_guard lock(mutex_);
                started_.push_back({id, ids});
            },
            Qt::DirectConnection);
        QObject::connect(
            w, &GenerationWorker::stepReady, w,
            [this](const StepResultPtr& s) {
                std::lock_guard lock(mutex_);
                steps_.push_back(s);
            },
            Qt::DirectConnection);
        QObject::connect(
            w, &GenerationWorker::runFinished, w,
            [this](quint64 id, const QString& reason, float diff) {
                std::lock_guard lock(mutex_);
                finished_.push_back({id, reason, diff});
            },
            Qt::DirectConnection);
        QObject::connect(
            w, &GenerationWorker::runFailed, w,
            [this](quint64 id, const QString& message) {
                std::lock_guard lock(mutex_);
                failed_.push_back({id, message});
            },
            Qt::DirectConnection);
    }

    void clear() {
        std::lock_guard lock(mutex_);
        started_.clear();
        steps_.clear();
        finished_.clear();
        failed_.clear();
    }
    std::vector<Started> started() const { return copy(started_); }
    std::vector<StepResultPtr> steps() const { return copy(steps_); }
    std::vector<Finished> finished() const { return copy(finished_); }
    std::vector<Failed> failed() const { return copy(failed_); }
    int startedCount() const { return size(started_); }
    int stepCount() const { return size(steps_); }
    int finishedCount() const { return size(finished_); }
    int failedCount() const { return size(failed_); }

private:
    template <typename T>
    std::vector<T> copy(const std::vector<T>& v) const {
        std::lock_guard lock(mutex_);
        return v;
    }
    template <typename T>
    int size(const std::vector<T>& v) const {
        std::lock_guard lock(mutex_);
        return int(v.size());
    }

    mutable std::mutex mutex_;
    std::vector<Started> started_;
    std::vector<StepResultPtr> steps_;
    std::vector<Finished> finished_;
    std::vector<Failed> failed_;
};

// The worker, its thread and the mailbox. One per test executable (the queued call finds it
// through a pointer set before the thread starts, so the call itself carries nothing).
class WorkerHarness {
public:
    // Without `keepLog` nothing is recorded (a long test that records on its own would only
    // grow the log).
    explicit WorkerHarness(bool keepLog = true) {
        instance() = this;
        worker_ = new GenerationWorker;
        worker_->moveToThread(&thread_);
        QObject::connect(&thread_, &QThread::finished, worker_, &QObject::deleteLater);
        if (keepLog) log_.attach(worker_);
    }
    // Connections of the test's own are made before this, while only this thread knows them.
    void start() { thread_.start(); }
    ~WorkerHarness() {
        if (!thread_.isRunning()) {
            delete worker_;
            return;
        }
        worker_->stop(~0ull);
        // One job that locks the worker's own mutex on its thread, so that everything the test
        // thread did to the worker happens-before its destruction there, for TSan too.
        std::atomic<bool> synced{false};
        post([w = worker_, &synced] {
            w->setDelayMs(0);
            synced.store(true);
        });
        while (!synced.load()) std::this_thread::yield();
        thread_.quit();
        thread_.wait();
        // Locking what the worker thread last locked orders its last writes before the frees.
        log_.clear();
        std::lock_guard lock(mutex_);
        jobs_.clear();
        instance() = nullptr;
    }

    GenerationWorker* worker() const { return worker_; }
    SignalLog& log() { return log_; }

    // Runs `job` on the worker thread, after the jobs posted before it.
    void post(std::function<void()> job) {
        QMetaObject::invokeMethod(
            worker_, [] { instance()->runNext(); }, Qt::QueuedConnection);
        // Pushed after the queued call is built, so that its construction happens-before the
        // worker thread's pop, which waits for the push.
        std::lock_guard lock(mutex_);
        jobs_.push_back(std::move(job));
    }
    void post(const RunRequest& r) {
        post([w = worker_, r] { w->run(r); });
    }

private:
    static WorkerHarness*& instance() {
        static WorkerHarness* h = nullptr;
        return h;
    }
    void runNext() {
        std::function<void()> job;
        while (!job) {
            {
                std::lock_guard lock(mutex_);
                if (!jobs_.empty()) {
                    job = std::move(jobs_.front());
                    jobs_.pop_front();
                }
            }
            if (!job) std::this_thread::yield();  // the push is a few instructions away
        }
        job();
    }

    QThread thread_;
    GenerationWorker* worker_ = nullptr;
    SignalLog log_;
    std::mutex mutex_;
    std::deque<std::function<void()>> jobs_;
};

}  // namespace kvscope::test
