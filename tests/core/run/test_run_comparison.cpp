// compareRuns: steps compared while both runs saw the same tokens, the largest raw-probability
// change among the candidates both report, decode rates without the prefill, and the runs it
// refuses to compare (other vocabulary, other prompt, a missing mode). Hand-made steps, and one
// real pair: a model against itself moves nothing.

#include "model/model.h"
#include "run/generation_session.h"
#include "run/run_comparison.h"

#include <QtTest>

using namespace kvscope;

namespace {

ModelPtr fakeModel(const QString& name, int vocab) {
    auto m = std::make_shared<Model>();
    m->name = name;
    m->config.vocabSize = vocab;
    return m;
}

StepResultPtr step(int token, std::vector<CandidateReport> top, double ms, bool prefill = false) {
    auto s = std::make_shared<StepResult>();
    s->token = token;
    s->sample.top = std::move(top);
    s->milliseconds = ms;
    s->prefill = prefill;
    return s;
}

RunExport run(const ModelPtr& m, std::vector<StepResultPtr> steps) {
    RunExport e;
    e.model = m;
    e.promptIds = {1, 5, 9};
    e.runs.push_back(RunRecord{Mode::Cached, std::move(steps), StopReason::MaxTokens});
    return e;
}

}  // namespace

class TestRunComparison : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void shiftsUntilTheRunsDiverge() {
        const RunExport f32 = run(fakeModel("f32", 10),
                                  {step(3, {{3, 0.5f, 1}, {4, 0.3f, 0}, {7, 0.1f, 0}}, 40, true),
                                   step(4, {{4, 0.6f, 1}, {2, 0.2f, 0}}, 10),
                                   step(2, {{2, 0.9f, 1}}, 10), step(8, {{8, 0.5f, 1}}, 10)});
        const RunExport q4 = run(fakeModel("q4", 10),
                                 {step(3, {{3, 0.45f, 1}, {7, 0.2f, 0}, {4, 0.31f, 0}}, 20, true),
                                  step(4, {{4, 0.6f, 1}, {9, 0.2f, 0}}, 4),
                                  step(6, {{6, 0.5f, 1}, {2, 0.4f, 0}}, 4), step(8, {}, 4)});
        const auto c = compareRuns(f32, q4, Mode::Cached);
        QVERIFY(c);
        QCOMPARE(c->referenceModel, QStringLiteral("f32"));
        // Step 2 sampled different tokens (2 vs 6): it is compared, step 3 is not.
        QCOMPARE(c->comparableSteps, 3);
        QCOMPARE(int(c->shifts.size()), 3);
        // Step 0: token 7 moved 0.1 -> 0.2, more than token 3 (0.05) or 4 (0.01).
        QCOMPARE(c->shifts[0].token, 7);
        QCOMPARE(c->shifts[0].before, 0.1f);
        QCOMPARE(c->shifts[0].after, 0.2f);
        QCOMPARE(c->shifts[0].compared, 3);
        // Step 1: only token 4 is in both reports, unchanged.
        QCOMPARE(c->shifts[1].token, 4);
        QCOMPARE(c->shifts[1].change(), 0.0f);
        QCOMPARE(c->shifts[1].compared, 1);
        // Step 2: token 2, 0.9 -> 0.4.
        QCOMPARE(c->shifts[2].token, 2);
        QCOMPARE(c->shifts[2].change(), 0.4f - 0.9f);
        // Three decode steps each: 30 ms and 12 ms, the prefills left out.
        QCOMPARE(c->referenceTokensPerSecond, 100.0);
        QCOMPARE(c->tokensPerSecond, 250.0);
    }

    void refusesRunsThatCannotBeCompared() {
        const RunExport a = run(fakeModel("a", 10), {step(1, {{1, 1, 1}}, 1)});
        RunExport otherVocab = run(fakeModel("b", 11), {step(1, {{1, 1, 1}}, 1)});
        QVERIFY(!compareRuns(a, otherVocab, Mode::Cached));
        RunExport otherPrompt = run(fakeModel("b", 10), {step(1, {{1, 1, 1}}, 1)});
        otherPrompt.promptIds = {1, 5};
        QVERIFY(!compareRuns(a, otherPrompt, Mode::Cached));
        QVERIFY(!compareRuns(a, a, Mode::Naive));
        QVERIFY(compareRuns(a, a, Mode::Cached));
    }

    // The same model run twice: every step comparable, nothing moved.
    void aModelAgainstItselfMovesNothing() {
        auto loaded = loadModel(QStringLiteral(KVSCOPE_FIXTURES "/reference/gguf/llama_f32.gguf"));
        QVERIFY2(loaded.ok(), qPrintable(loaded.errorMessage()));
        RunExport runs[2];
        for (RunExport& e : runs) {
            e.model = loaded.value();
            e.promptIds = {1, 304, 310};
            GenerationSettings s;
            s.maxNewTokens = 12;
            s.sampler.seed = 7;
            GenerationSession session(loaded.value());
            QVERIFY(session.start(e.promptIds, s).ok());
            RunRecord r{Mode::Cached, {}, StopReason::None};
            while (StepResultPtr p = session.step()) r.steps.push_back(p);
            e.runs.push_back(r);
        }
        const auto c = compareRuns(runs[0], runs[1], Mode::Cached);
        QVERIFY(c);
        QCOMPARE(c->comparableSteps, 12);
        for (const StepShift& s : c->shifts) {
            QCOMPARE(s.change(), 0.0f);
            QVERIFY(s.compared >= 1);
        }
        QVERIFY(c->tokensPerSecond > 0 && c->referenceTokensPerSecond > 0);
    }
};

QTEST_GUILESS_MAIN(TestRunComparison)
#include "test_run_comparison.moc"
