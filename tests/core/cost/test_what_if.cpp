// The what-if calculator: its cumulative closed form against summing the per-step form, its
// crossovers against a search step by step, its slopes against their limits, its parameter counts
// against the engine and against every preset's published figure, its bytes against hand
// computation, and the short machine probe.

#include "cost/bandwidth_probe.h"
#include "cost/machine_probe.h"
#include "cost/what_if.h"
#include "model/model.h"
#include "model/model_presets.h"
#include "tiny_model.h"

#include <QSettings>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>

using namespace kvscope;
using namespace kvscope::whatif;

namespace {

ModelConfig preset(const char* key) {
    const ModelPreset* p = findPreset(QString::fromLatin1(key));
    if (!p) qFatal("no preset %s", key);
    return p->config;
}

// A GPT-2 whose attention overtakes its weights early (d = 16), and two small Llamas.
std::vector<std::pair<QString, ModelConfig>> smallConfigs() {
    ModelConfig g;
    g.nLayer = 2, g.nHead = 2, g.nKvHead = 2, g.nEmbd = 16, g.nInner = 64;
    g.nPositions = 320, g.vocabSize = 257;
    test::TinyLlamaShape gqa;
    test::TinyLlamaShape mqa;
    mqa.nKvHead = 1, mqa.tied = true;
    ModelConfig qwen = preset("qwen2.5-0.5b");  // biases on Q, K, V
    return {{QStringLiteral("gpt2-tiny"), g},
            {QStringLiteral("llama-gqa"), test::tinyLlamaConfig(gqa)},
            {QStringLiteral("llama-mqa"), test::tinyLlamaConfig(mqa)},
            {QStringLiteral("gpt2-small"), preset("gpt2-small")},
            {QStringLiteral("qwen2.5-0.5b"), qwen}};
}

FlopSplit splitOf(const FlopBreakdown& f) {
    return {double(f.attention()), double(f.weightProducts()), double(f.other)};
}

bool near(double a, double b, double rel) {
    return std::abs(a - b) <= rel * std::max(std::abs(a), std::abs(b));
}

}  // namespace

class TestWhatIf : public QObject {
    Q_OBJECT

private Q_SLOTS:
    // The cumulative closed form equals cumulativeFlops, which sums stepFlops step by step,
    // exactly, component by component.
    void cumulativeClosedFormEqualsTheSumOfSteps_data() {
        QTest::addColumn<QString>("name");
        QTest::addColumn<int>("prompt");
        QTest::addColumn<int>("tokens");
        for (const auto& [name, c] : smallConfigs())
            for (int prompt : {1, 2, 7, 64})
                for (int tokens : {1, 2, 3, 50, 1000})
                    QTest::addRow("%s p=%d t=%d", qPrintable(name), prompt, tokens)
                        << name << prompt << tokens;
    }
    void cumulativeClosedFormEqualsTheSumOfSteps() {
        QFETCH(QString, name);
        QFETCH(int, prompt);
        QFETCH(int, tokens);
        ModelConfig c;
        for (const auto& [n, cfg] : smallConfigs())
            if (n == name) c = cfg;
        for (Mode m : {Mode::Naive, Mode::Cached}) {
            const auto closed = cumulativeFlopsClosedForm(c, prompt, tokens, m);
            QVERIFY(closed);
            QCOMPARE(*closed, cumulativeFlops(c, prompt, tokens, m));
            const FlopSplit s = cumulativeSplit(c, prompt, prompt + tokens - 1, m);
            const FlopSplit e = splitOf(*closed);
            QCOMPARE(s.attention, e.attention);
            QCOMPARE(s.weights, e.weights);
            QCOMPARE(s.other, e.other);
        }
    }

    void stepSplitEqualsStepFlops() {
        for (const auto& [name, c] : smallConfigs())
            for (std::int64_t n : {1, 2, 3, 100, 4097, 123457}) {
                for (Mode m : {Mode::Naive, Mode::Cached}) {
                    const FlopSplit s = stepSplit(c, n, m), e = splitOf(stepFlops(c, n, m));
                    QCOMPARE(s.attention, e.attention);
                    QCOMPARE(s.weights, e.weights);
                    QCOMPARE(s.other, e.other);
                }
            }
    }

    // At a million tokens the closed form (no loop) equals the sum of a million per-step values
    // (a loop), for a 70B model whose naive total (~1e24) is far beyond int64.
    void aMillionTokensWithoutLooping() {
        const ModelConfig c = preset("llama3-70b");
        const std::int64_t N = kMaxLength;
        long double naive = 0, cached = 0, naiveAttention = 0;
        for (std::int64_t n = 1; n <= N; ++n) {
            const FlopBreakdown f = stepFlops(c, n, Mode::Naive);
            naive += f.total();
            naiveAttention += f.attention();
            cached += n == 1 ? f.total() : stepFlops(c, n, Mode::Cached).total();
        }
        const FlopSplit sn = cumulativeSplit(c, 1, N, Mode::Naive);
        const FlopSplit sc = cumulativeSplit(c, 1, N, Mode::Cached);
        QVERIFY(sn.total() > 1e23);
        QVERIFY2(near(sn.total(), double(naive), 1e-12), qPrintable(QString::number(sn.total())));
        QVERIFY(near(sn.attention, double(naiveAttention), 1e-12));
        QVERIFY(near(sc.total(), double(cached), 1e-12));
        qInfo("Llama 3 70B to 1M tokens: naive %.4g FLOP, cached %.4g FLOP", sn.total(),
              sc.total());
    }

    // The crossover lengths against a search one length at a time.
    void crossoversAgainstASearch() {
        for (const auto& [name, c] : smallConfigs())
            for (Mode m : {Mode::Naive, Mode::Cached}) {
                std::optional<std::int64_t> step, total;
                FlopSplit sum;
                for (std::int64_t n = 1; n <= 200000 && !(step && total); ++n) {
                    const FlopBreakdown f =
                        n == 1 ? stepFlops(c, 1, Mode::Naive) : stepFlops(c, n, m);
                    sum.attention += double(f.attention());
                    sum.weights += double(f.weightProducts());
                    if (!step &&
                        stepFlops(c, n, m).attention() >= stepFlops(c, n, m).weightProducts())
                        step = n;
                    if (!total && sum.attention >= sum.weights) total = n;
                }
                QVERIFY2(step && total, qPrintable(name));
                QCOMPARE(stepCrossover(c, m), step);
                QCOMPARE(cumulativeCrossover(c, m), total);
                // Within the context the old search over positions agrees.
                if (*step <= c.nPositions) QCOMPARE(attentionCrossoverLength(c, m), step);
            }
    }

    // GPT-2 small's decode crossover by hand: ceil((24 d^2 L + 2 d V) / (4 d L)) = 6703.
    void gpt2SmallCrossoverByHand() {
        const ModelConfig c = preset("gpt2-small");
        QCOMPARE(stepCrossover(c, Mode::Cached), std::optional<std::int64_t>(6703));
        QVERIFY(!stepCrossover(c, Mode::Cached, 6702));
        // A cumulative cached run crosses where 4 L d N (N + 1) / 2 ~ W N: about twice as late.
        const auto total = cumulativeCrossover(c, Mode::Cached);
        QVERIFY(total && *total > 13000 && *total < 13600);
    }

    // Log-log slopes tend to 3 and 2 (totals) as attention dominates, attention alone is 3 and 2
    // almost from the start, and per step 2 and 1.
    void decadeSlopesTendToThreeAndTwo() {
        const auto slopes = decadeSlopes(preset("gpt2-small"), kMaxLength);
        QCOMPARE(int(slopes.size()), 6);
        QCOMPARE(slopes.front().from, std::int64_t(1));
        QCOMPARE(slopes.back().to, kMaxLength);
        const DecadeSlope& last = slopes.back();
        QVERIFY(last.naiveCumulative > 2.8 && last.naiveCumulative < 3.0);
        QVERIFY(last.cachedCumulative > 1.8 && last.cachedCumulative < 2.0);
        QVERIFY(std::abs(last.naiveAttentionCumulative - 3) < 1e-4);
        QVERIFY(std::abs(last.cachedAttentionCumulative - 2) < 1e-4);
        QVERIFY(last.naiveStep > 1.8 && last.naiveStep <= 2.0);
        QVERIFY(last.cachedStep > 0.8 && last.cachedStep <= 1.0);
        // Early on the weights dominate: the totals grow about linearly.
        QVERIFY(slopes[1].cachedCumulative < 1.1);
        for (std::size_t i = 1; i < slopes.size(); ++i)  // steeper decade by decade
            QVERIFY(slopes[i].naiveCumulative >= slopes[i - 1].naiveCumulative);
        // A length that is not a power of ten ends the last interval.
        const auto partial = decadeSlopes(preset("gpt2-small"), 2500);
        QCOMPARE(partial.back().from, std::int64_t(1000));
        QCOMPARE(partial.back().to, std::int64_t(2500));
    }

    // The configuration's count equals what the engine allocates for real models.
    void parameterCountEqualsTheEngines() {
        auto gpt2 = loadModel(QStringLiteral(KVSCOPE_FIXTURES "/reference/model"));
        QVERIFY2(gpt2, qPrintable(gpt2.errorMessage()));
        QCOMPARE(parameterCount(gpt2.value()->config), gpt2.value()->transformer->parameterCount());
        for (bool tied : {false, true}) {
            test::TinyLlamaShape s;
            s.tied = tied;
            const ModelPtr m = test::tinyLlama(s);
            QVERIFY(m);
            QCOMPARE(parameterCount(m->config), m->transformer->parameterCount());
        }
    }

    // Each preset against the published figure, within 2%.
    void presetsMatchTheirPublishedSizes_data() {
        QTest::addColumn<QString>("key");
        QTest::addColumn<double>("published");
        // openai/gpt-2 on GitHub names its checkpoints by size (download_model.py, README):
        // 124M, 355M, 774M, 1558M (the paper's 117M and 345M were miscounted, says the README).
        QTest::newRow("gpt2-small") << "gpt2-small" << 124e6;
        QTest::newRow("gpt2-medium") << "gpt2-medium" << 355e6;
        QTest::newRow("gpt2-large") << "gpt2-large" << 774e6;
        QTest::newRow("gpt2-xl") << "gpt2-xl" << 1558e6;
        // LLaMA (Touvron et al. 2023, arXiv:2302.13971), Table 2: 6.7B and 13.0B for the shapes
        // Llama 2 7B and 13B keep (Llama 2 paper, arXiv:2307.09288, section 2.2).
        QTest::newRow("llama2-7b") << "llama2-7b" << 6.7e9;
        QTest::newRow("llama2-13b") << "llama2-13b" << 13.0e9;
        // Llama 2 paper, Table 1: 70B.
        QTest::newRow("llama2-70b") << "llama2-70b" << 70e9;
        // Meta Llama 3 model card (github.com/meta-llama/llama3, MODEL_CARD.md): 8B and 70B.
        QTest::newRow("llama3-8b") << "llama3-8b" << 8e9;
        QTest::newRow("llama3-70b") << "llama3-70b" << 70e9;
        // Mistral AI, "Announcing Mistral 7B" (mistral.ai/news/announcing-mistral-7b): "a 7.3B
        // parameter model".
        QTest::newRow("mistral-7b") << "mistral-7b" << 7.3e9;
        // Qwen2.5 model cards on Hugging Face, "Number of Parameters": 0.49B and 7.61B.
        QTest::newRow("qwen2.5-0.5b") << "qwen2.5-0.5b" << 0.49e9;
        QTest::newRow("qwen2.5-7b") << "qwen2.5-7b" << 7.61e9;
        // SmolLM2 model cards (HuggingFaceTB/SmolLM2-135M, -360M): 135M and 360M.
        QTest::newRow("smollm2-135m") << "smollm2-135m" << 135e6;
        QTest::newRow("smollm2-360m") << "smollm2-360m" << 360e6;
    }
    void presetsMatchTheirPublishedSizes() {
        QFETCH(QString, key);
        QFETCH(double, published);
        const ModelPreset* p = findPreset(key);
        QVERIFY(p);
        const double n = double(parameterCount(p->config));
        qInfo("%s: %.0f parameters, published %.4g (%+.2f%%)", qPrintable(key), n, published,
              100 * (n - published) / published);
        QVERIFY(std::abs(n - published) <= 0.02 * published);
        QVERIFY(QString::fromLatin1(p->source).contains(QStringLiteral("huggingface.co/")));
        QCOMPARE(p->config.headDim() * p->config.nHead, p->config.nEmbd);
    }

    void everyPresetIsListedOnce() {
        QStringList keys;
        for (const ModelPreset& p : modelPresets()) keys << QString::fromLatin1(p.key);
        QCOMPARE(keys.size(), 14);
        QCOMPARE(keys.removeDuplicates(), 0);
        QVERIFY(!findPreset(QStringLiteral("gpt-5")));
    }

    // K/V cache and weight bytes by hand.
    void bytesByHand() {
        const ModelConfig c = preset("llama2-7b");
        // 2 (K, V) x 32 layers x 4096 positions x 4096 values x 2 bytes = 2 GiB.
        QCOMPARE(kvBytes(c, 4096, 32, GgmlType::F16), std::int64_t(2) << 30);
        // Q8_0: 34 bytes per 32 values.
        QCOMPARE(kvBytes(c, 4096, 32, GgmlType::Q8_0), std::int64_t(2) * 32 * 4096 * 128 * 34);
        QCOMPARE(kvBytes(c, 4096, 1, GgmlType::F32), std::int64_t(2) * 32 * 4096 * 128 * 4);
        const ModelConfig l3 = preset("llama3-8b");
        QCOMPARE(kvBytes(l3, 1000, l3.nKvHead, GgmlType::F32), kvCacheBytes(l3, 1000));
        // Weights: F32 is four bytes a parameter; F16 halves the matrices, not the norm gains
        // (32 layers x 2 norms + the final one, 4096 each).
        const std::int64_t params = parameterCount(c), vectors = (32 * 2 + 1) * 4096;
        QCOMPARE(weightBytes(c, GgmlType::F32), 4 * params);
        QCOMPARE(weightBytes(c, GgmlType::F16), 2 * (params - vectors) + 4 * vectors);
        QCOMPARE(weightBytes(c, GgmlType::Q8_0), (params - vectors) / 32 * 34 + 4 * vectors);
        QCOMPARE(weightBytes(c, GgmlType::Q4_K), (params - vectors) / 256 * 144 + 4 * vectors);
        // A step reads one row of the (untied) token embedding, all of everything else.
        QCOMPARE(weightBytesPerStep(c, GgmlType::F32), 4 * (params - std::int64_t(31999) * 4096));
        // GPT-2 small: a step reads one row of the positions; the tied embedding in full.
        const ModelConfig g = preset("gpt2-small");
        QCOMPARE(weightBytesPerStep(g, GgmlType::F32),
                 weightBytes(g, GgmlType::F32) - std::int64_t(1023) * 768 * 4);
    }

    // time = max(bytes / bandwidth, FLOPs / GEMM rate), from the parts computed by hand.
    void stepTimeIsTheSlowerRoof() {
        const ModelConfig c = preset("gpt2-small");
        const Roofs roofs{20, 200};
        const StepTime cached =
            stepTime(c, 1000, Mode::Cached, GgmlType::F32, GgmlType::F16, roofs);
        const double bytes =
            double(weightBytesPerStep(c, GgmlType::F32)) + double(2 * 12 * 1000 * 768 * 2);
        QCOMPARE(cached.bytes, bytes);
        QCOMPARE(cached.flops, double(stepFlops(c, 1000, Mode::Cached).total()));
        QCOMPARE(cached.memorySeconds, bytes / 20e9);
        QCOMPARE(cached.computeSeconds, cached.flops / 200e9);
        QVERIFY(cached.memoryBound());
        QCOMPARE(cached.seconds(), cached.memorySeconds);
        const StepTime naive = stepTime(c, 1000, Mode::Naive, GgmlType::F32, GgmlType::F16, roofs);
        QVERIFY(!naive.memoryBound());
        QCOMPARE(naive.seconds(), double(stepFlops(c, 1000, Mode::Naive).total()) / 200e9);
        const StepTime unknown = stepTime(c, 10, Mode::Naive, GgmlType::F32, GgmlType::F16, {});
        QCOMPARE(unknown.seconds(), 0.0);
    }

    // The short probe measures something, and what it measured comes back from QSettings.
    void probeRunsAndIsRemembered() {
        QVERIFY(measureGemmRate(1, 128, 1) > 0);
        QVERIFY(bench::quickReadBandwidth(1, 8 << 20, 1) > 0);
        QTemporaryDir dir;
        QSettings s(dir.filePath(QStringLiteral("roofs.ini")), QSettings::IniFormat);
        QVERIFY(!rememberedRoofs(s));
        MachineRoofs r;
        r.bandwidthGBs = 31.5, r.gemmGflops = 123.4, r.threads = 2;
        r.measured = QDateTime(QDate(2026, 12, 2), QTime(1, 10), Qt::UTC);
        rememberRoofs(s, r);
        const auto back = rememberedRoofs(s);
        QVERIFY(back);
        QCOMPARE(back->bandwidthGBs, 31.5);
        QCOMPARE(back->gemmGflops, 123.4);
        QCOMPARE(back->threads, 2);
        QCOMPARE(back->measured, r.measured);
        QCOMPARE(describeRoofs(r),
                 QStringLiteral("31.5 GB/s read, 123.4 GFLOP/s GEMM (2 threads, measured "
                                "2026-12-02 01:10 UTC)"));
    }
};

QTEST_MAIN(TestWhatIf)
#include "test_what_if.moc"
