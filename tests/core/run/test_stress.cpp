// The worker through a lecture's worth of abuse: a warm-up cycle (a full run on each model), then
// 500 cycles of start / random delay / stop with random modes, sampler settings, prompts, pauses
// and per-token delays, a model reload every 25 cycles (the embedded default model and the
// reference model, alternately), then one full run whose tokens must equal fresh sessions'.
// Every request must be acknowledged (runFinished or runFailed) well within the bound, no signal
// may arrive for a run after its end, and the resident set at the end must be within 10% of the
// one after the first (warm-up) cycle. Leaks are left to LeakSanitizer (the ASan run of .ci/run).

#include "model/embedded_model.h"
#include "model/model.h"
#include "run/generation_session.h"
#include "run/generation_worker.h"
#include "worker_harness.h"

#include <QElapsedTimer>
#include <QFile>
#include <QRandomGenerator>
#include <QtTest>

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

using namespace kvscope;

namespace {

constexpr int kCycles = 500;
// Random cycles run after the warm-up and before the RSS baseline. With the compute threads
// (OpenMP) the random cycles add ~1.4 MiB over the warm-up baseline within their first ~250 and
// then stop: +9.2% from the warm-up after 500 cycles and the same +9.2% after 2000 (measured),
// +1.1% over 500 cycles after 250 settling ones. The baseline is taken after these, so the check
// measures growth over the cycles (a leak), not one-time setup of the threads' arenas.
constexpr int kSettleCycles = 250;
constexpr int kReloadEvery = 25;
// Fixed so that a failure replays exactly; printed at the start.
constexpr quint32 kSeed = 0x6b7673;
// A stop lands within one step (milliseconds here); this only tells a deadlock from a slow machine.
constexpr int kAckTimeoutMs = 30000;
// A whole run to its end (the final 120-token compare run, naive and cached, and the settling
// runs): it took 57.6 s under ThreadSanitizer on a 2-core Zen 3 VM, so the acknowledgement's 30 s
// is the wrong bound for it; still well inside Qt's 300 s per test function, so a hang fails.
constexpr int kRunEndTimeoutMs = 240000;

const QString kReferenceModel = QStringLiteral(KVSCOPE_FIXTURES "/reference/model");

// Resident set size from /proc/self/statm (pages): all of it, and the part backed by files
// (code, the mapped model), so that the rest, mostly the heap, can be printed apart.
struct Rss {
    qint64 total = -1, fileBacked = -1;
    qint64 anonymous() const { return total - fileBacked; }
};
Rss resident() {
    QFile f(QStringLiteral("/proc/self/statm"));
    if (!f.open(QIODevice::ReadOnly)) return {};
    const QList<QByteArray> fields = f.readAll().split(' ');
    if (fields.size() < 3) return {};
    const qint64 page = sysconf(_SC_PAGESIZE);
    return {fields[1].toLongLong() * page, fields[2].toLongLong() * page};
}

// The resident set before and after malloc_trim(0), which hands the allocator's free pages back
// to the kernel. Untrimmed, the figure also measures how much freed memory glibc keeps in its
// per-thread arenas, which depends on the order of allocations: the end reading was 7% below to
// 13% above the baseline in three identical runs. Trimmed, it is the memory in use, which a leak
// or an ever-growing cache would raise: it stayed within 0.2% over 500 cycles and flat over 2000.
struct RssReading {
    Rss untrimmed, trimmed;
};
RssReading readRss() {
    RssReading r;
    r.untrimmed = resident();
    malloc_trim(0);
    r.trimmed = resident();
    return r;
}

double mib(qint64 bytes) {
    return double(bytes) / (1024.0 * 1024.0);
}

// What the worker reported about one request. Filled on the worker thread through direct
// connections and read on the test thread, always under the mutex: a std::mutex is something
// ThreadSanitizer sees, unlike the locks inside the (uninstrumented) Qt event queue.
struct RunLog {
    bool started = false;
    std::vector<int> promptIds;
    std::vector<int> naive, cached;  // generated tokens by mode
    int steps = 0;
    bool ended = false, failed = false;
    QString reason;       // runFinished's stop reason, or runFailed's message
    int lateSignals = 0;  // signals for this run after its end
};

class Recorder {
public:
    // The run being driven; a signal naming any other is a stale run speaking out of turn.
    void expect(std::uint64_t id) {
        std::lock_guard lock(mutex_);
        expected_ = id;
    }
    void started(std::uint64_t id, const std::vector<int>& ids) {
        std::lock_guard lock(mutex_);
        if (id != expected_) ++strays_;
        RunLog& r = runs_[id];
        if (r.ended || r.started) ++r.lateSignals;
        r.started = true;
        r.promptIds = ids;
    }
    void step(const StepResultPtr& s) {
        std::lock_guard lock(mutex_);
        if (s->runId != expected_) ++strays_;
        RunLog& r = runs_[s->runId];
        if (r.ended || !r.started) ++r.lateSignals;
        ++r.steps;
        (s->mode == Mode::Naive ? r.naive : r.cached).push_back(s->token);
    }
    void ended(std::uint64_t id, const QString& reason, bool failed) {
        std::lock_guard lock(mutex_);
        if (id != expected_) ++strays_;
        RunLog& r = runs_[id];
        if (r.ended) ++r.lateSignals;
        r.ended = true;
        r.failed = failed;
        r.reason = reason;
    }
    bool hasEnded(std::uint64_t id) {
        std::lock_guard lock(mutex_);
        auto it = runs_.find(id);
        return it != runs_.end() && it->second.ended;
    }
    RunLog get(std::uint64_t id) {
        std::lock_guard lock(mutex_);
        return runs_[id];
    }
    int strays() {
        std::lock_guard lock(mutex_);
        return strays_;
    }
    void forget(std::uint64_t id) {
        std::lock_guard lock(mutex_);
        runs_.erase(id);
    }

private:
    std::mutex mutex_;
    std::map<std::uint64_t, RunLog> runs_;
    std::uint64_t expected_ = 0;
    int strays_ = 0;
};

struct Choice {
    RunRequest request;
    bool tooLong = false;  // the prompt leaves no room in the context: runFailed expected
};

const char* const kWords[] = {"Once",       "upon",   "a",  "time", "the", "little", "cat", "said",
                              "lighthouse", "keeper", "\n", "\t",   ",",   ".",      "!",   "42"};

// A random prompt: empty, words, odd characters (control characters, any script), or one that
// overflows the context.
QString randomPrompt(QRandomGenerator& rng, int context, bool& overflow) {
    overflow = false;
    const quint32 kind = rng.bounded(25);
    if (kind == 0) return QString();
    if (kind == 1) {
        overflow = true;
        return QStringLiteral("x ").repeated(context + 10);
    }
    QString p;
    const int n = int(rng.bounded(1, 30));
    for (int i = 0; i < n; ++i) {
        if (kind == 2 && rng.bounded(3) == 0)
            p += QChar(char16_t(rng.bounded(1, 0xD7FF)));  // any BMP scalar value, controls too
        else
            p += QLatin1String(kWords[rng.bounded(int(std::size(kWords)))]);
        p += QLatin1Char(' ');
    }
    return p;
}

Choice randomChoice(QRandomGenerator& rng, std::uint64_t id, const ModelPtr& model) {
    Choice c;
    RunRequest& r = c.request;
    r.runId = id;
    r.model = model;
    bool overflow = false;
    r.prompt = randomPrompt(rng, model->config.nPositions, overflow);
    const QByteArray utf8 = r.prompt.toUtf8();
    c.tooLong =
        model->tokenizer->encode(std::string_view(utf8.constData(), std::size_t(utf8.size())))
            .size() >= std::size_t(model->config.nPositions);
    const quint32 mode = rng.bounded(3);
    r.compare = mode == 2;
    r.settings.mode = mode == 0 ? Mode::Naive : Mode::Cached;
    const float temperatures[] = {0.0f, 0.7f, 1.0f, 1.5f, 1e3f};
    const int topKs[] = {0, 1, 40, model->config.vocabSize + 100};
    const float topPs[] = {0.0f, 0.5f, 0.95f, 1.0f};
    r.settings.sampler.temperature = temperatures[rng.bounded(5)];
    r.settings.sampler.topK = topKs[rng.bounded(4)];
    r.settings.sampler.topP = topPs[rng.bounded(4)];
    r.settings.sampler.seed = rng.generate64();
    const int maxTokens[] = {0, 1, int(rng.bounded(2, 200)), 100000};
    r.settings.maxNewTokens = maxTokens[rng.bounded(4)];
    r.settings.captureAttention = rng.bounded(4) != 0;
    r.settings.stopAtEndOfText = rng.bounded(2) == 0;
    r.startPaused = rng.bounded(8) == 0;
    r.singleSteps = r.startPaused ? int(rng.bounded(3)) : 0;
    return c;
}

// Mostly short, as a user double-clicking Generate then Stop; sometimes long enough for steps.
int randomDelayMs(QRandomGenerator& rng) {
    const quint32 k = rng.bounded(10);
    if (k < 4) return 0;
    if (k < 7) return int(rng.bounded(1, 4));
    return int(rng.bounded(4, 21));
}

std::vector<int> sessionTokens(const ModelPtr& model, const RunRequest& r, Mode mode) {
    GenerationSession session(model);
    const QByteArray utf8 = r.prompt.toUtf8();
    GenerationSettings s = r.settings;
    s.mode = mode;
    auto started = session.start(
        model->tokenizer->encode(std::string_view(utf8.constData(), std::size_t(utf8.size()))), s);
    if (!started) qFatal("%s", qPrintable(started.errorMessage()));
    while (session.step()) {
    }
    return session.tokens();
}

}  // namespace

class TestStress : public QObject {
    Q_OBJECT
    test::WorkerHarness harness_{false};  // the recorder below also checks signal order
    GenerationWorker* worker_ = harness_.worker();
    Recorder log_;

    void post(const RunRequest& r) {
        log_.expect(r.runId);
        harness_.post(r);
    }

    // Runs `r` (in lockstep) to its end and checks each mode's tokens against a fresh session on
    // this thread; returns the tokens generated per mode. The caller checks currentTestFailed().
    std::size_t checkFullRun(const RunRequest& r) {
        RunLog full;
        runToEnd(r, full);
        if (QTest::currentTestFailed()) return 0;
        [&] {
            QVERIFY(r.compare);
            QVERIFY2(full.reason != QLatin1String("cancelled"), qPrintable(full.reason));
            QVERIFY(!full.naive.empty());
            std::vector<int> naive = full.promptIds, cached = full.promptIds;
            naive.insert(naive.end(), full.naive.begin(), full.naive.end());
            cached.insert(cached.end(), full.cached.begin(), full.cached.end());
            QCOMPARE(naive, sessionTokens(r.model, r, Mode::Naive));
            QCOMPARE(cached, sessionTokens(r.model, r, Mode::Cached));
        }();
        return full.naive.size();
    }

    // RSS after a one-token compare run, so that every reading is taken with the worker in the
    // same state: its sessions otherwise keep whatever the last random run touched (K/V caches
    // and activations, up to both modes' whole context: 9 MB for the embedded GPT-2).
    RssReading settledRss(const ModelPtr& m, std::uint64_t& id) {
        RunLog out;
        runToEnd(compareRequest(m, ++id, QStringLiteral("Once"), 1), out);
        return readRss();
    }

    static RunRequest compareRequest(const ModelPtr& m, std::uint64_t id, const QString& prompt,
                                     int maxNewTokens) {
        RunRequest r;
        r.runId = id;
        r.model = m;
        r.prompt = prompt;
        r.compare = true;
        r.settings.maxNewTokens = maxNewTokens;
        return r;
    }

    // Posts a run and waits for its end; the caller checks QTest::currentTestFailed().
    void runToEnd(const RunRequest& r, RunLog& out) {
        post(r);
        QTRY_VERIFY_WITH_TIMEOUT(log_.hasEnded(r.runId), kRunEndTimeoutMs);
        out = log_.get(r.runId);
        log_.forget(r.runId);
        QVERIFY2(!out.failed, qPrintable(out.reason));
        QCOMPARE(out.lateSignals, 0);
        QCOMPARE(log_.strays(), 0);
    }

private Q_SLOTS:
    void initTestCase() {
        // Direct: the recorder runs on the worker thread and locks its own mutex.
        connect(
            worker_, &GenerationWorker::runStarted, worker_,
            [this](quint64 id, const std::vector<int>& ids) { log_.started(id, ids); },
            Qt::DirectConnection);
        connect(
            worker_, &GenerationWorker::stepReady, worker_,
            [this](const StepResultPtr& s) { log_.step(s); }, Qt::DirectConnection);
        connect(
            worker_, &GenerationWorker::runFinished, worker_,
            [this](quint64 id, const QString& reason, float) { log_.ended(id, reason, false); },
            Qt::DirectConnection);
        connect(
            worker_, &GenerationWorker::runFailed, worker_,
            [this](quint64 id, const QString& message) { log_.ended(id, message, true); },
            Qt::DirectConnection);
        harness_.start();
    }

    void startStopReload() {
        qInfo("seed %u, a warm-up cycle then %d cycles, a reload every %d", kSeed, kCycles,
              kReloadEvery);
        QRandomGenerator rng(kSeed);
        auto embedded = loadEmbeddedModel();
        QVERIFY2(embedded.ok(), qPrintable(embedded.errorMessage()));
        ModelPtr model = embedded.value();
        bool onReference = false;

        QElapsedTimer total;
        total.start();
        std::uint64_t id = 0;
        // The first cycle warms up: a full lockstep run on each model, so that one-time costs
        // (code and model pages touched for the first time, the worker thread's malloc arena,
        // Qt's lazily built tables) are in the baseline. Measured from a random first cycle
        // instead, RSS rose about 50% over the first ~250 cycles and then stayed flat for 3000.
        // Then a few steps on a prompt filling most of the context: the compute threads (OpenMP)
        // and their GEMM work buffers only reach their full size on the longest sequences, and
        // without this step the random cycles that reach them first added 1.5 MiB (+10.1%).
        for (const ModelPtr& m : {loadModel(kReferenceModel).value(), model}) {
            RunRequest warm = compareRequest(m, ++id, QStringLiteral("Once upon a time"), 200);
            checkFullRun(warm);
            if (QTest::currentTestFailed()) return;
            QString longPrompt;
            while (int(m->tokenizer->encode(longPrompt.toStdString()).size()) <
                   m->config.nPositions * 9 / 10)
                longPrompt += QStringLiteral("Once upon a time, a cat sat. ");
            warm.runId = ++id;
            warm.prompt = longPrompt;
            warm.settings.maxNewTokens = 3;
            checkFullRun(warm);
            if (QTest::currentTestFailed()) return;
        }
        const RssReading rssAfterWarmUp = settledRss(model, id);
        RssReading rssAfterFirst = rssAfterWarmUp, rssHalfway = rssAfterWarmUp;
        int started = 0, droppedQueued = 0, failed = 0, cancelled = 0, completed = 0, steps = 0;
        int reloads = 0;
        qint64 worstAckMs = 0;
        for (int cycle = 0; cycle < kSettleCycles + kCycles; ++cycle) {
            if (cycle == kSettleCycles) rssAfterFirst = settledRss(model, id);
            if (cycle == kSettleCycles + kCycles / 2) rssHalfway = settledRss(model, id);
            if (cycle > 0 && cycle % kReloadEvery == 0) {
                // Alternate the two models; the worker may still hold the old one in a request.
                onReference = !onReference;
                auto next = onReference ? loadModel(kReferenceModel) : loadEmbeddedModel();
                QVERIFY2(next.ok(), qPrintable(next.errorMessage()));
                model = next.value();
                ++reloads;
            }
            const Choice c = randomChoice(rng, ++id, model);
            worker_->setDelayMs(rng.bounded(5) == 0 ? int(rng.bounded(1, 4)) : 0);
            const int delay = randomDelayMs(rng);
            const bool pauseMidway = rng.bounded(10) == 0;
            post(c.request);
            if (pauseMidway) {
                std::this_thread::sleep_for(std::chrono::milliseconds(delay / 2));
                worker_->setPaused(true);
                std::this_thread::sleep_for(std::chrono::milliseconds(delay - delay / 2));
            } else {
                std::this_thread::sleep_for(std::chrono::milliseconds(delay));
            }
            QElapsedTimer ack;
            ack.start();
            worker_->stop(id);
            QTRY_VERIFY2_WITH_TIMEOUT(
                log_.hasEnded(id),
                qPrintable(QStringLiteral("cycle %1 (run %2): no runFinished/runFailed %3 ms "
                                          "after stop")
                               .arg(cycle)
                               .arg(id)
                               .arg(kAckTimeoutMs)),
                kAckTimeoutMs);
            worstAckMs = std::max(worstAckMs, ack.elapsed());

            const RunLog r = log_.get(id);
            const QString where = QStringLiteral("cycle %1: ").arg(cycle);
            QVERIFY2(r.lateSignals == 0, qPrintable(where + "a signal after the run's end"));
            QCOMPARE(log_.strays(), 0);
            if (r.failed) {
                QVERIFY2(c.tooLong, qPrintable(where + r.reason));
                QVERIFY2(r.reason.contains(QStringLiteral("context")), qPrintable(r.reason));
                ++failed;
            } else {
                QVERIFY2(!c.tooLong || !r.started, qPrintable(where + "an overlong prompt ran"));
                const bool ok = r.reason == QLatin1String("cancelled") ||
                                r.reason == QLatin1String("max-tokens") ||
                                r.reason == QLatin1String("context-full") ||
                                r.reason == QLatin1String("end-of-text");
                QVERIFY2(ok, qPrintable(where + r.reason));
                if (r.reason == QLatin1String("cancelled"))
                    ++cancelled;
                else
                    ++completed;
            }
            if (r.started) {
                ++started;
                const int modes = c.request.compare ? 2 : 1;
                QVERIFY(r.steps <= modes * c.request.settings.maxNewTokens);
                steps += r.steps;
            } else if (!r.failed) {
                ++droppedQueued;  // stopped before the worker picked it up
            }
            log_.forget(id);
        }
        worker_->setPaused(false);
        worker_->setDelayMs(0);
        // The baseline was read with only the embedded model loaded; so is the final reading.
        // (The reference model's own memory is about 1.5 MB: a tenth of this process.)
        if (onReference) {
            auto embeddedAgain = loadEmbeddedModel();
            QVERIFY2(embeddedAgain.ok(), qPrintable(embeddedAgain.errorMessage()));
            model = embeddedAgain.value();
            ++reloads;
        }
        const RssReading rssEnd = settledRss(model, id);

        // One full run, in lockstep, checked token for token against fresh sessions.
        Choice last = randomChoice(rng, ++id, model);
        RunRequest& r = last.request;
        r.prompt = QStringLiteral("Once upon a time, the little cat");
        r.compare = true;
        r.startPaused = false;
        r.settings.maxNewTokens = 120;
        r.settings.sampler.temperature = 0.9f;
        const std::size_t finalTokens = checkFullRun(r);
        if (QTest::currentTestFailed()) return;
        qInfo(
            "stress: %d cycles in %.1f s (seed %u): %d started (%d steps), %d stopped while "
            "queued, %d refused (prompt too long), %d cancelled, %d ended on their own, %d "
            "model reloads; slowest stop acknowledgement %lld ms (polled every 50 ms)",
            kCycles, double(total.elapsed()) / 1000.0, kSeed, started, steps, droppedQueued, failed,
            cancelled, completed, reloads, worstAckMs);
        const Rss& first = rssAfterFirst.trimmed;
        const Rss& end = rssEnd.trimmed;
        const double growth = 100.0 * double(end.total - first.total) / double(first.total);
        const double fromWarmUp = 100.0 * double(end.total - rssAfterWarmUp.trimmed.total) /
                                  double(rssAfterWarmUp.trimmed.total);
        qInfo(
            "stress: RSS (after malloc_trim) after the warm-up and %d settling cycles %.1f MiB "
            "(%.1f MiB not file-backed), after %d more cycles %.1f MiB (%.1f MiB): %+.1f%% "
            "(%+.1f%% from the warm-up alone, %.1f MiB); untrimmed %.1f -> %.1f MiB; final run "
            "%zu tokens per mode, equal to fresh sessions",
            kSettleCycles, mib(first.total), mib(first.anonymous()), kCycles, mib(end.total),
            mib(end.anonymous()), growth, fromWarmUp, mib(rssAfterWarmUp.trimmed.total),
            mib(rssAfterFirst.untrimmed.total), mib(rssEnd.untrimmed.total), finalTokens);
#ifdef KVSCOPE_SANITIZED
        QSKIP("RSS check skipped under " KVSCOPE_SANITIZED
              ": the sanitizer's allocator keeps freed memory in quarantine and its own caches");
#else
        QVERIFY2(first.total > 0 && end.total > 0, "cannot read /proc/self/statm");
        qInfo("stress: halfway %.1f MiB (%.1f MiB not file-backed)", mib(rssHalfway.trimmed.total),
              mib(rssHalfway.trimmed.anonymous()));
        // 10%, plus one copy of the embedded model's weights: the reading may catch a previous
        // copy still held (by a session the worker keeps until that mode's next run, or by the
        // allocator's high-water mark). Measured: +0.4 MiB over the first 250 cycles, +2.7 MiB
        // over the next 250, with the 3.9 MB GPT-2. A leaked copy per reload would be 30 of them.
        const double allowed = 10.0 + 100.0 * double(model->weightBytes) / double(first.total);
        QVERIFY2(
            growth <= allowed,
            qPrintable(
                QStringLiteral("RSS grew from %1 to %2 bytes").arg(first.total).arg(end.total)));
#endif
    }
};

QTEST_GUILESS_MAIN(TestStress)
#include "test_stress.moc"
