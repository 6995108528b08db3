// The engine's FLOP counters, gathered while it executes, must equal the closed form computed from
// the configuration alone, for every sequence length, in both modes. The closed form itself is
// pinned to hand-computed GPT-2 small figures and to Kaplan et al.'s "2N per token" rule.

#include "cost/flops.h"
#include "model/model.h"
#include "run/generation_session.h"
#include "tiny_model.h"

#include <QTemporaryDir>

#include <QtTest>
#include <map>

using namespace kvscope;

class TestFlops : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    ModelPtr model_;  // GPT-2
    // The engine is held against the closed form for GPT-2 and for Llamas with grouped-query
    // (8 query heads, 2 KV heads) and multi-query attention (1 KV head, tied classifier).
    std::map<QString, ModelPtr> models_;
    std::vector<int> tokens_;

    void addModelRows(const char* what, int n) {
        for (const auto& [name, m] : models_)
            QTest::addRow("%s %s n=%d", qPrintable(name), what, n) << name << n;
    }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(test::writeTinyModel(dir_.path()));
        auto m = loadModel(dir_.path());
        QVERIFY2(m.ok(), qPrintable(m.errorMessage()));
        model_ = m.value();
        models_[QStringLiteral("gpt2")] = model_;
        test::TinyLlamaShape gqa;
        models_[QStringLiteral("llama-gqa")] = test::tinyLlama(gqa);
        test::TinyLlamaShape mqa;
        mqa.nKvHead = 1, mqa.tied = true;
        models_[QStringLiteral("llama-mqa")] = test::tinyLlama(mqa);
        for (const auto& [name, m] : models_) {
            QVERIFY2(m, qPrintable(name));
            QCOMPARE(m->config.nPositions, model_->config.nPositions);
        }
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
        QTest::addColumn<QString>("model");
        QTest::addColumn<int>("n");
        for (int n = 1; n <= 300; ++n) addModelRows("", n);
        addModelRows("context limit", model_->config.nPositions);
    }
    void engineCountsNaive() {
        QFETCH(QString, model);
        QFETCH(int, n);
        const ModelPtr& m = models_.at(model);
        auto state = m->transformer->newState();
        std::vector<float> logits(m->config.vocabSize);
        FlopBreakdown counted;
        QVERIFY(
            m->transformer->forward(*state, std::span(tokens_).first(n), 0, {}, counted, logits));
        QCOMPARE(counted, stepFlops(m->config, n, Mode::Naive));
    }

    void engineCountsCached_data() {
        QTest::addColumn<QString>("model");
        for (const auto& [name, m] : models_) QTest::addRow("%s", qPrintable(name)) << name;
    }
    void engineCountsCached() {
        // One cached pass over the whole context: prefill of one token, then a decode per length.
        QFETCH(QString, model);
        const ModelPtr& m = models_.at(model);
        const ModelConfig& c = m->config;
        auto state = m->transformer->newState();
        std::vector<float> logits(c.vocabSize);
        for (int n = 1; n <= c.nPositions; ++n) {
            FlopBreakdown counted;
            QVERIFY(m->transformer->forward(*state, std::span(tokens_).first(n), n - 1, {}, counted,
                                            logits));
            if (counted != stepFlops(c, n, Mode::Cached))
                QFAIL(qPrintable(QStringLiteral("cached step n=%1: counted %2, closed form %3")
                                     .arg(n)
                                     .arg(counted.total())
                                     .arg(stepFlops(c, n, Mode::Cached).total())));
        }
    }

    // Grouped-query attention shares K/V heads between query heads: it shrinks the K/V
    // projections and the cache, never the attention itself, which every query head computes.
    void kvHeadsChangeProjectionsAndCacheNotAttention() {
        const ModelConfig gqa = models_.at(QStringLiteral("llama-gqa"))->config;
        ModelConfig mha = gqa, mqa = gqa;
        mha.nKvHead = mha.nHead;
        mqa.nKvHead = 1;
        for (std::int64_t n : {1, 17, 300}) {
            for (Mode mode : {Mode::Naive, Mode::Cached}) {
                const FlopBreakdown a = stepFlops(mha, n, mode), b = stepFlops(gqa, n, mode),
                                    q = stepFlops(mqa, n, mode);
                QCOMPARE(a.scores, b.scores);
                QCOMPARE(a.attnV, q.attnV);
                QCOMPARE(a.scores, q.scores);
                QVERIFY(a.qkv > b.qkv && b.qkv > q.qkv);
                // Q is d x d in all three; K and V are kv_dim x d each.
                const std::int64_t rows = mode == Mode::Naive ? n : 1;
                QCOMPARE(a.qkv - b.qkv,
                         2 * rows * gqa.nLayer * gqa.nEmbd * 2 * (mha.kvDim() - gqa.kvDim()));
            }
            // 2 * n_layer * n * kv_dim * bytes per value.
            QCOMPARE(kvCacheBytes(gqa, n), 2 * gqa.nLayer * n * gqa.kvDim() * 4);
            QCOMPARE(kvCacheBytes(mha, n), kvCacheBytes(gqa, n) * (gqa.nHead / gqa.nKvHead));
            QCOMPARE(kvCacheBytes(mha, n), kvCacheBytes(mqa, n) * mqa.nHead);
            QCOMPARE(kvCacheBytes(gqa, n, 2) * 2, kvCacheBytes(gqa, n));
        }
        // The engine's state reports the same bytes.
        for (const auto& [name, m] : models_) {
            auto state = m->transformer->newState();
            QCOMPARE(state->kvCacheBytes(100), kvCacheBytes(m->config, 100));
        }
    }

    void sessionCumulativeMatches_data() {
        QTest::addColumn<QString>("model");
        QTest::addColumn<int>("mode");
        for (const auto& [name, m] : models_) {
            QTest::addRow("%s naive", qPrintable(name)) << name << int(Mode::Naive);
            QTest::addRow("%s cached", qPrintable(name)) << name << int(Mode::Cached);
        }
    }
    void sessionCumulativeMatches() {
        QFETCH(QString, model);
        QFETCH(int, mode);
        const ModelPtr& m = models_.at(model);
        GenerationSession session(m);
        GenerationSettings s;
        s.mode = Mode(mode);
        s.maxNewTokens = 40;
        const int prompt = 7;
        QVERIFY(session.start(std::vector<int>(tokens_.begin(), tokens_.begin() + prompt), s).ok());
        int steps = 0;
        while (StepResultPtr r = session.step()) {
            const FlopBreakdown expected = r->prefill
                                               ? prefillFlops(m->config, r->position)
                                               : stepFlops(m->config, r->position, Mode(mode));
            QCOMPARE(r->flops, expected);
            QCOMPARE(r->cumulative, cumulativeFlops(m->config, prompt, steps + 1, Mode(mode)));
            ++steps;
        }
        QCOMPARE(steps, 40);
    }
};

QTEST_GUILESS_MAIN(TestFlops)
#include "test_flops.moc"
