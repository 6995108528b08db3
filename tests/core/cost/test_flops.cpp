// The engine's FLOP counters, gathered while it executes, must equal the closed form computed from
// the configuration alone, for every sequence length, in both modes. The closed form itself is
// pinned to hand-computed GPT-2 small figures and to Kaplan et al.'s "2N per token" rule.

#include "cost/flops.h"
#include "run/generation_session.h"
#include "model/model.h"
#include "tiny_model.h"

#include <QTemporaryDir>
#include <QtTest>

using namespace kvscope;

class TestFlops : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    ModelPtr model_;
    std::vector<int> tokens_;

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(test::writeTinyModel(dir_.path()));
        auto m = loadModel(dir_.path());
        QVERIFY2(m.ok(), qPrintable(m.errorMessage()));
        model_ = m.value();
        QRandomGenerator rng(3);
        for (int i = 0; i < model_->config.nPositions; ++i)
            tokens_.push_back(int(rng.bounded(256)));
    }

    void gpt2SmallByHand() {
        ModelConfig c;
        c.nLayer = 12, c.nHead = 12, c.nKvHead = 12, c.nEmbd = 768, c.nInner = 3072;
        c.nPositions = 1024, c.vocabSize = 50257;
        const FlopBreakdown f = stepFlops(c, 1, Mode::Cached);
        QCOMPARE(f.qkv, std::int64_t(42467328));  // 12 layers * 2 * 768 * 2304
        QCOMPARE(f.scores, std::int64_t(18432));  // 12 * 2 * 1 key * 768
        QCOMPARE(f.attnV, std::int64_t(18432));
        QCOMPARE(f.outProj, std::int64_t(14155776));  // 12 * 2 * 768 * 768
        QCOMPARE(f.mlp, std::int64_t(113246208));     // 12 * 2 * 2 * 768 * 3072
        QCOMPARE(f.lmHead, std::int64_t(77194752));   // 2 * 50257 * 768
        // 2 FLOPs per non-embedding parameter (12 * 12 * 768^2 of them) per token.
        QCOMPARE(f.qkv + f.outProj + f.mlp, std::int64_t(2) * 12 * 12 * 768 * 768);
        // Decode attention grows by 4 * d * L per extra key.
        QCOMPARE(stepFlops(c, 101, Mode::Cached).attention() -
                     stepFlops(c, 100, Mode::Cached).attention(),
                 std::int64_t(4) * 768 * 12);
        // ceil((24 d^2 L + 2 d V) / (4 d L)) = 6703 > 1024: attention never dominates a decode
        // step.
        QVERIFY(!attentionCrossoverLength(c, Mode::Cached).has_value());
    }

    void naiveStepIsSumOfDecodeRows() {
        // Recomputing n rows costs the prefill; its attention is the triangle sum of decode steps.
        const ModelConfig& c = model_->config;
        for (int n : {1, 2, 17, 300}) {
            std::int64_t triangle = 0;
            for (int k = 1; k <= n; ++k) triangle += stepFlops(c, k, Mode::Cached).scores;
            QCOMPARE(stepFlops(c, n, Mode::Naive).scores, triangle);
            QCOMPARE(stepFlops(c, n, Mode::Naive), prefillFlops(c, n));
        }
    }

    void crossoverMatchesFormula() {
        const ModelConfig& c = model_->config;
        const std::int64_t d = c.nEmbd, L = c.nLayer;
        const std::int64_t weights = 24 * d * d * L + 2 * d * c.vocabSize;
        const auto n = attentionCrossoverLength(c, Mode::Cached);
        QVERIFY(n.has_value());
        QCOMPARE(*n, (weights + 4 * d * L - 1) / (4 * d * L));
        const FlopBreakdown at = stepFlops(c, *n, Mode::Cached),
                            before = stepFlops(c, *n - 1, Mode::Cached);
        QVERIFY(at.attention() >= at.weightProducts());
        QVERIFY(before.attention() < before.weightProducts());
    }

    void engineCountsNaive_data() {
        QTest::addColumn<int>("n");
        for (int n = 1; n <= 300; ++n) QTest::addRow("n=%d", n) << n;
        QTest::addRow("context limit") << model_->config.nPositions;
    }
    void engineCountsNaive() {
        QFETCH(int, n);
        auto state = model_->transformer->newState();
        std::vector<float> logits(model_->config.vocabSize);
        FlopBreakdown counted;
        QVERIFY(model_->transformer->forward(*state, std::span(tokens_).first(n), 0, {}, counted,
                                             logits));
        QCOMPARE(counted, stepFlops(model_->config, n, Mode::Naive));
    }

    void engineCountsCached() {
        // One cached pass over the whole context: prefill of one token, then a decode per length.
        const ModelConfig& c = model_->config;
        auto state = model_->transformer->newState();
        std::vector<float> logits(c.vocabSize);
        for (int n = 1; n <= c.nPositions; ++n) {
            FlopBreakdown counted;
            QVERIFY(model_->transformer->forward(*state, std::span(tokens_).first(n), n - 1, {},
                                                 counted, logits));
            if (counted != stepFlops(c, n, Mode::Cached))
                QFAIL(qPrintable(QStringLiteral("cached step n=%1: counted %2, closed form %3")
                                     .arg(n)
                                     .arg(counted.total())
                                     .arg(stepFlops(c, n, Mode::Cached).total())));
        }
    }

    void sessionCumulativeMatches_data() {
        QTest::addColumn<int>("mode");
        QTest::addRow("naive") << int(Mode::Naive);
        QTest::addRow("cached") << int(Mode::Cached);
    }
    void sessionCumulativeMatches() {
        QFETCH(int, mode);
        GenerationSession session(model_);
        GenerationSettings s;
        s.mode = Mode(mode);
        s.maxNewTokens = 40;
        const int prompt = 7;
        QVERIFY(session.start(std::vector<int>(tokens_.begin(), tokens_.begin() + prompt), s).ok());
        int steps = 0;
        while (StepResultPtr r = session.step()) {
            const FlopBreakdown expected = r->prefill
                                               ? prefillFlops(model_->config, r->position)
                                               : stepFlops(model_->config, r->position, Mode(mode));
            QCOMPARE(r->flops, expected);
            QCOMPARE(r->cumulative, cumulativeFlops(model_->config, prompt, steps + 1, Mode(mode)));
            ++steps;
        }
        QCOMPARE(steps, 40);
    }
};

QTEST_GUILESS_MAIN(TestFlops)
#include "test_flops.moc"
