// The worker on its own thread, as the window drives it: one signal per token with consistent
// payloads, stop mid-run returning promptly, a new run starting cleanly, pause and single-step.

#include "model/model.h"
#include "run/generation_worker.h"
#include "worker_harness.h"

#include <QElapsedTimer>
#include <QtTest>

using namespace kvscope;

namespace {

// An architecture whose state cannot be allocated, as GPT-2 small's would fail for a context of
// millions of positions: newState() throws bad_alloc, or another exception.
class UnallocatableTransformer : public Transformer {
public:
    UnallocatableTransformer(const ModelConfig& c, bool badAlloc)
        : config_(c), badAlloc_(badAlloc) {}
    const ModelConfig& config() const override { return config_; }
    std::int64_t parameterCount() const override { return 0; }
    std::unique_ptr<InferenceState> newState() const override {
        if (badAlloc_) throw std::bad_alloc();
        throw std::runtime_error("state: unsupported layout");
    }
    bool forward(InferenceState&, std::span<const int>, int, const ForwardHooks&, FlopBreakdown&,
                 std::span<float>) const override {
        return false;
    }
    BytesMoved bytesMoved(int, int) const override { return {}; }

private:
    ModelConfig config_;
    bool badAlloc_;
};

}  // namespace

// Under sanitizers a step, and so the time for a stop to land, is several times slower.
#ifdef KVSCOPE_SANITIZED
constexpr qint64 kStopLimitMs = 3000;
#else
constexpr qint64 kStopLimitMs = 500;
#endif

// The worker emits from its own thread, so a signal can land before a wait would start; the
// tests poll the harness's log (tests/core/worker_harness.h) instead.
class TestWorker : public QObject {
    Q_OBJECT
    ModelPtr model_;
    test::WorkerHarness harness_;
    GenerationWorker* worker_ = harness_.worker();
    test::SignalLog& log_ = harness_.log();
    std::uint64_t nextId_ = 100;  // above the ids the other tests use

    RunRequest request(std::uint64_t id, int tokens, bool compare = false) {
        RunRequest r;
        r.runId = id;
        r.model = model_;
        r.prompt = QStringLiteral("The old lighthouse keeper said that");
        r.settings.maxNewTokens = tokens;
        r.settings.sampler.seed = 11;
        r.compare = compare;
        return r;
    }
    void post(const RunRequest& r) { harness_.post(r); }

private Q_SLOTS:
    void initTestCase() {
        auto m = loadModel(QStringLiteral(KVSCOPE_FIXTURES "/reference/model"));
        QVERIFY2(m.ok(), qPrintable(m.errorMessage()));
        model_ = m.value();
        harness_.start();
    }
    void init() { log_.clear(); }

    void oneSignalPerToken() {
        post(request(1, 30, true));
        QTRY_COMPARE_WITH_TIMEOUT(log_.finishedCount(), 1, 10000);
        QCOMPARE(log_.startedCount(), 1);
        QCOMPARE(log_.stepCount(), 60);  // both modes
        QCOMPARE(log_.finished().front().reason, QStringLiteral("max-tokens"));
        QVERIFY(log_.finished().front().maxLogitDiff <= 1e-4f);
        const auto promptIds = log_.started().front().promptIds;
        int naive = 0, cached = 0;
        for (const StepResultPtr& s : log_.steps()) {
            QVERIFY(s);
            QCOMPARE(s->runId, std::uint64_t(1));
            int& k = s->mode == Mode::Naive ? naive : cached;
            QCOMPARE(s->step, k);
            QCOMPARE(s->position, int(promptIds.size()) + k);
            ++k;
        }
        QCOMPARE(naive, 30);
        QCOMPARE(cached, 30);
    }

    void stopMidRunThenNewRun() {
        worker_->setDelayMs(20);
        post(request(2, 200));
        QTRY_VERIFY_WITH_TIMEOUT(log_.stepCount() >= 3, 5000);
        QElapsedTimer t;
        t.start();
        worker_->stop(2);
        QTRY_COMPARE_WITH_TIMEOUT(log_.finishedCount(), 1, 5000);
        qInfo("stop returned after %lld ms", t.elapsed());
        QVERIFY2(t.elapsed() < kStopLimitMs, qPrintable(QString::number(t.elapsed())));
        QCOMPARE(log_.finished().back().reason, QStringLiteral("cancelled"));
        QVERIFY(log_.stepCount() < 200);

        worker_->setDelayMs(0);
        log_.clear();
        post(request(3, 25));
        QTRY_COMPARE_WITH_TIMEOUT(log_.finishedCount(), 1, 5000);
        QCOMPARE(log_.finished().back().runId, std::uint64_t(3));
        QCOMPARE(log_.stepCount(), 25);
    }

    // Never started, but still acknowledged: the window leaves its Running state on runFinished.
    void stoppedBeforeItStarts() {
        worker_->stop(4);
        post(request(4, 10));
        QTRY_COMPARE_WITH_TIMEOUT(log_.finishedCount(), 1, 5000);
        QCOMPARE(log_.finished().front().runId, std::uint64_t(4));
        QCOMPARE(log_.finished().front().reason, QStringLiteral("cancelled"));
        QCOMPARE(log_.finished().front().maxLogitDiff, -1.0f);
        QTest::qWait(100);
        QCOMPARE(log_.startedCount(), 0);
        QCOMPARE(log_.finishedCount(), 1);
    }

    void pauseAndSingleStep() {
        RunRequest r = request(5, 50);
        r.startPaused = true;
        post(r);
        QTest::qWait(150);
        QCOMPARE(log_.stepCount(), 0);
        worker_->stepOnce();
        QTRY_COMPARE_WITH_TIMEOUT(log_.stepCount(), 1, 2000);
        worker_->stepOnce();
        worker_->stepOnce();
        QTRY_COMPARE_WITH_TIMEOUT(log_.stepCount(), 3, 2000);
        QTest::qWait(100);
        QCOMPARE(log_.stepCount(), 3);
        worker_->setPaused(false);
        QTRY_COMPARE_WITH_TIMEOUT(log_.finishedCount(), 1, 5000);
        QCOMPARE(log_.stepCount(), 50);
    }

    // The prompt arrives as a QString and reaches the tokenizer as its UTF-8. Control characters
    // pass through unchanged; text that was invalid UTF-8 arrives already decoded by Qt, each bad
    // byte as U+FFFD; a lone UTF-16 surrogate (a broken paste), which has no UTF-8 form, is
    // written by Qt as '?'.
    void oddPromptsReachTheTokenizerAsUtf8_data() {
        QTest::addColumn<QString>("prompt");
        QTest::addColumn<QByteArray>("utf8");
        QTest::newRow("control characters") << QString::fromUtf8("a\x01\x1b[0m\tb\r\n\x7f\xc2\x85")
                                            << QByteArray("a\x01\x1b[0m\tb\r\n\x7f\xc2\x85");
        QTest::newRow("decoded invalid UTF-8")
            << QString::fromUtf8("a\xff\xc0\xafz")
            << QByteArray("a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz");
        QTest::newRow("lone surrogate")
            << (QString(QChar(0xD800)) + QLatin1String("x")) << QByteArray("?x");
    }
    void oddPromptsReachTheTokenizerAsUtf8() {
        QFETCH(QString, prompt);
        QFETCH(QByteArray, utf8);
        RunRequest r = request(nextId_++, 2);
        r.prompt = prompt;
        post(r);
        QTRY_COMPARE_WITH_TIMEOUT(log_.finishedCount(), 1, 5000);
        QCOMPARE(log_.startedCount(), 1);
        const std::vector<int> expected =
            model_->tokenizer->encode(std::string_view(utf8.constData(), std::size_t(utf8.size())));
        QCOMPARE(log_.started().front().promptIds, expected);
        QCOMPARE(model_->tokenizer->decode(expected), utf8.toStdString());
    }

    void badPromptFails() {
        RunRequest r = request(6, 5);
        r.prompt = QString(300, QLatin1Char('x')).replace(QLatin1String("x"), QLatin1String("x "));
        post(r);
        QTRY_COMPARE_WITH_TIMEOUT(log_.failedCount(), 1, 5000);
        QVERIFY(log_.failed().front().message.contains(QStringLiteral("context")));
    }

    // The worker's slot turns any exception into runFailed; the worker keeps serving runs.
    void exceptionsBecomeFailures() {
        for (bool badAlloc : {true, false}) {
            log_.clear();
            auto broken = std::make_shared<Model>();
            broken->name = QStringLiteral("broken");
            broken->config = model_->config;
            broken->tokenizer = model_->tokenizer;
            broken->transformer =
                std::make_unique<UnallocatableTransformer>(model_->config, badAlloc);
            RunRequest r = request(nextId_++, 5, true);
            r.model = broken;
            post(r);
            QTRY_COMPARE_WITH_TIMEOUT(log_.failedCount(), 1, 5000);
            const QString message = log_.failed().front().message;
            QVERIFY2(message.contains(badAlloc ? QStringLiteral("memory")
                                               : QStringLiteral("unsupported layout")),
                     qPrintable(message));
            QCOMPARE(log_.finishedCount(), 0);
            post(request(nextId_++, 3));
            QTRY_COMPARE_WITH_TIMEOUT(log_.finishedCount(), 1, 10000);
            QCOMPARE(log_.stepCount(), 3);
        }
    }

    // The delay paces running time: after Resume the next token waits a whole delay again rather
    // than following at once (the window's wall-clock tokens/s leaves pauses out and must stay at
    // most one token per delay). A lower bound only: a wait is never shorter than asked.
    // Last: stopping its run stops every lower id too.
    void resumeWaitsAWholeDelay() {
        const std::uint64_t id = nextId_++;
        worker_->setDelayMs(300);
        post(request(id, 20));
        QTRY_VERIFY_WITH_TIMEOUT(log_.stepCount() >= 1, 5000);
        worker_->setPaused(true);
        QTest::qWait(450);  // past the delay: a deadline set before the pause has expired
        const int before = log_.stepCount();
        QElapsedTimer t;
        t.start();
        worker_->setPaused(false);
        QTRY_VERIFY_WITH_TIMEOUT(log_.stepCount() > before, 5000);
        const qint64 waited = t.elapsed();
        worker_->stop(id);
        QTRY_COMPARE_WITH_TIMEOUT(log_.finishedCount(), 1, 5000);
        worker_->setDelayMs(0);
        QVERIFY2(waited >= 250,
                 qPrintable(QStringLiteral("next token %1 ms after Resume").arg(waited)));
    }
};

QTEST_GUILESS_MAIN(TestWorker)
#include "test_worker.moc"
