#include "run/sampler.h"

#include <QList>
#include <QTest>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <new>
#include <numeric>
#include <random>
#include <stdexcept>
#include <vector>

#include "alloc_counter.h"

Q_DECLARE_METATYPE(kvscope::SamplerSettings)

using kvscope::Sampler;
using kvscope::SamplerSettings;
using kvscope::SampleSummary;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr double kTol = 1e-6;

const double e = std::exp(1.0);

SamplerSettings cfg(float temperature, int topK = 0, float topP = 1.0f, int report = 64) {
    SamplerSettings s;
    s.temperature = temperature;
    s.topK = topK;
    s.topP = topP;
    s.reportTopK = report;
    return s;
}

std::span<const float> view(const QList<float>& v) {
    return {v.constData(), static_cast<std::size_t>(v.size())};
}

SampleSummary once(const SamplerSettings& s, const QList<float>& logits) {
    Sampler sampler(s, static_cast<int>(logits.size()));
    return sampler.sample(view(logits));
}

QList<double> normalized(QList<double> w) {
    double z = 0;
    for (double x : w) z += x;
    for (double& x : w) x /= z;
    return w;
}

double entropy(const QList<double>& p) {
    double h = 0;
    for (double x : p)
        if (x > 0) h -= x * std::log(x);
    return h;
}

// Indexes the report by id; needs reportTopK >= vocabulary.
QList<double> byId(const SampleSummary& s, bool processed) {
    QList<double> out(s.top.size(), -1.0);
    for (const auto& c : s.top) out[c.id] = processed ? c.prob : c.rawProb;
    return out;
}

void compareProbs(const QList<double>& actual, const QList<double>& expected) {
    QCOMPARE(actual.size(), expected.size());
    for (qsizetype i = 0; i < actual.size(); ++i) {
        if (!(std::abs(actual[i] - expected[i]) <= kTol))  // NaN must fail too
            QFAIL(qPrintable(QStringLiteral("id %1: got %2, expected %3")
                                 .arg(i)
                                 .arg(actual[i], 0, 'g', 10)
                                 .arg(expected[i], 0, 'g', 10)));
    }
}

// A stage's listed probabilities indexed by id (the vocabulary must fit the trace's list);
// `before` gives what the previous stage left instead.
QList<double> stageById(const SampleSummary& s, kvscope::SamplerStage stage, bool before = false) {
    const kvscope::StageSnapshot& st = s.trace.at(stage);
    QList<double> out(st.count, -1.0);
    for (int i = 0; i < st.count; ++i) {
        const auto& c = st.top[std::size_t(i)];
        out[c.id] = before ? c.before : c.prob;
    }
    return out;
}

SamplerSettings penalties(float repeat, float frequency, float presence, int lastN = 64,
                          float temperature = 1.0f) {
    SamplerSettings s = cfg(temperature);
    s.repeatPenalty = repeat;
    s.frequencyPenalty = frequency;
    s.presencePenalty = presence;
    s.repeatLastN = lastN;
    return s;
}

SampleSummary once(const SamplerSettings& s, const QList<float>& logits,
                   const std::vector<int>& history) {
    Sampler sampler(s, static_cast<int>(logits.size()));
    return sampler.sample(view(logits), history);
}

QList<double> softmaxOf(const QList<double>& x) {
    QList<double> w;
    for (double v : x) w << std::exp(v);
    return normalized(w);
}

// The reference selector, written from the header's words: u from the top 53 bits of one
// mt19937_64 output, first id (descending order) whose running sum exceeds u.
int referenceDraw(std::mt19937_64& rng, const QList<double>& descending, const QList<int>& ids) {
    const double u = static_cast<double>(rng() >> 11) / 9007199254740992.0;  // 2^53
    double cum = 0;
    for (qsizetype i = 0; i < descending.size(); ++i) {
        cum += descending[i];
        if (cum > u) return ids[i];
    }
    return ids.last();
}

QList<float> randomLogits(std::mt19937& rng, int n) {
    std::uniform_real_distribution<float> d(-4.0f, 4.0f);
    QList<float> out(n);
    for (float& x : out) x = d(rng);
    return out;
}

}  // namespace

class TestSampler : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void rawStatisticsUnderGreedy();
    void temperature_data();
    void temperature();
    void topK_data();
    void topK();
    void topP_data();
    void topP();
    void chainOrder();
    void greedyTiesAndRank();
    void rankAndRawProbOfDrawnTokens();
    void selectorFollowsStream();
    void nonFinite_data();
    void nonFinite();
    void degenerateRow();
    void vocabularyOfOne();
    void reporting();
    void reportSize_data();
    void reportSize();
    void determinism();
    void frequencies();
    void noAllocationsPerToken();
    void contractViolations();
    // The stages added with the chain's trace.
    void penaltiesByHand_data();
    void penaltiesByHand();
    void penaltiesNeedAWindowAndASetting();
    void greedyTakesThePenalizedArgmax();
    void minP_data();
    void minP();
    void traceFollowsTheChain();
    void traceListsKeepTheirPlaces();
    void drawReportsWhereUFell();
    void stageEntropies();
    void defaultsIgnoreTheHistory();
    void penalizedRunsAreReproducible();
    void headsMatchAFullSort_data();
    void headsMatchAFullSort();
};

// logits {2, 1, 0, -1}: p_i = e^{x_i} / (e^2 + e + 1 + e^-1)
//                         ~ {0.643914, 0.236883, 0.087144, 0.032059}
// rawEntropy = -sum p ln p ~ 0.947536; greedy picks id 0 with prob 1 and entropy 0.
void TestSampler::rawStatisticsUnderGreedy() {
    const SampleSummary s = once(cfg(0.0f), {2, 1, 0, -1});
    const QList<double> p = normalized({e * e, e, 1, 1 / e});
    QCOMPARE(s.token, 0);
    QCOMPARE(s.rank, 0);
    QCOMPARE(s.prob, 1.0f);
    QCOMPARE(s.entropy, 0.0);
    QVERIFY(std::abs(s.rawProb - 0.643914) < 1e-6);
    QVERIFY(std::abs(s.rawEntropy - entropy(p)) < kTol);
    QVERIFY(std::abs(s.rawEntropy - 0.947536) < 1e-6);
    compareProbs(byId(s, false), p);
    compareProbs(byId(s, true), {1, 0, 0, 0});
}

void TestSampler::temperature_data() {
    QTest::addColumn<float>("t");
    QTest::addColumn<QList<double>>("expected");
    // 1/T scales the logits: T = 0.5 gives {4, 2, 0, -2}, T = 2 gives {1, 0.5, 0, -0.5}.
    QTest::newRow("T=1") << 1.0f << normalized({e * e, e, 1, 1 / e});
    QTest::newRow("T=0.5") << 0.5f << normalized({std::pow(e, 4), e * e, 1, 1 / (e * e)});
    QTest::newRow("T=2") << 2.0f << normalized({e, std::sqrt(e), 1, 1 / std::sqrt(e)});
    // T = 1000: {0.002, 0.001, 0, -0.001}, within 1e-3 of uniform.
    QTest::newRow("T=1e3") << 1e3f
                           << normalized({std::exp(0.002), std::exp(0.001), 1, std::exp(-0.001)});
}

void TestSampler::temperature() {
    QFETCH(float, t);
    QFETCH(QList<double>, expected);
    const SampleSummary s = once(cfg(t), {2, 1, 0, -1});
    compareProbs(byId(s, true), expected);
    QVERIFY(std::abs(s.entropy - entropy(expected)) < kTol);
    QVERIFY(std::abs(s.prob - expected[s.token]) < kTol);
    if (t > 100) {
        for (double p : byId(s, true)) QVERIFY(std::abs(p - 0.25) < 1e-3);
        QVERIFY(std::abs(s.entropy - std::log(4.0)) < 1e-5);
    }
}

void TestSampler::topK_data() {
    QTest::addColumn<int>("k");
    QTest::addColumn<QList<double>>("expected");
    const QList<double> all = normalized({e * e, e, 1, 1 / e});
    QTest::newRow("k=0 disabled") << 0 << all;
    QTest::newRow("k<0 disabled") << -3 << all;
    QTest::newRow("k=vocab") << 4 << all;
    QTest::newRow("k>vocab") << 1000 << all;
    // {e^2, e} / (e^2 + e) = {1/(1+e^-1), 1/(1+e)} ~ {0.731059, 0.268941}
    QTest::newRow("k=2") << 2 << QList<double>{1 / (1 + 1 / e), 1 / (1 + e), 0, 0};
    QTest::newRow("k=1") << 1 << QList<double>{1, 0, 0, 0};
}

void TestSampler::topK() {
    QFETCH(int, k);
    QFETCH(QList<double>, expected);
    const SampleSummary s = once(cfg(1.0f, k), {2, 1, 0, -1});
    compareProbs(byId(s, true), expected);
    QVERIFY(expected[s.token] > 0);
    QVERIFY(std::abs(s.entropy - entropy(expected)) < kTol);
}

void TestSampler::topP_data() {
    QTest::addColumn<QList<float>>("logits");
    QTest::addColumn<float>("p");
    QTest::addColumn<QList<double>>("expected");
    // Cumulative sums of {0.643914, 0.236883, 0.087144, 0.032059}: 0.6439, 0.8808, 0.9679, 1.
    const QList<float> base{2, 1, 0, -1};
    const QList<double> all = normalized({e * e, e, 1, 1 / e});
    QTest::newRow("p=0 keeps one") << base << 0.0f << QList<double>{1, 0, 0, 0};
    QTest::newRow("p=0.5") << base << 0.5f << QList<double>{1, 0, 0, 0};
    QTest::newRow("p=0.7") << base << 0.7f << QList<double>{1 / (1 + 1 / e), 1 / (1 + e), 0, 0};
    QTest::newRow("p=0.9") << base << 0.9f << QList<double>{normalized({e * e, e, 1}) << 0.0};
    QTest::newRow("p=0.97 needs all") << base << 0.97f << all;
    QTest::newRow("p=1 disabled") << base << 1.0f << all;
    // Logits {0, 0}: p = {0.5, 0.5} exactly, so p = 0.5 hits the ">=" edge and stops at one.
    QTest::newRow("p at boundary") << QList<float>{0, 0} << 0.5f << QList<double>{1, 0};
    // The list is walked by probability, not id: logits {-1, 2, 1} give ids 1, 2, 0 with
    // p ~ {0.7054, 0.2595, 0.0351}; p = 0.8 stops after ids 1, 2: {e^2, e} / (e^2 + e).
    QTest::newRow("unsorted ids") << QList<float>{-1, 2, 1} << 0.8f
                                  << QList<double>{0, 1 / (1 + 1 / e), 1 / (1 + e)};
}

void TestSampler::topP() {
    QFETCH(QList<float>, logits);
    QFETCH(float, p);
    QFETCH(QList<double>, expected);
    const SampleSummary s = once(cfg(1.0f, 0, p), logits);
    compareProbs(byId(s, true), expected);
    QVERIFY(expected[s.token] > 0);
    QVERIFY(std::abs(s.prob - expected[s.token]) < kTol);
}

// T = 0.5 doubles {2, 1, 0, -1} to {4, 2, 0, -2}; top-k 3 keeps {e^4, e^2, 1} / 62.987
// ~ {0.86682, 0.11731, 0.01588}; top-p 0.9 stops at 0.98413 after two, giving
// {e^4, e^2} / (e^4 + e^2) = {1/(1+e^-2), 1/(1+e^2)} ~ {0.880797, 0.119203}.
void TestSampler::chainOrder() {
    const SampleSummary s = once(cfg(0.5f, 3, 0.9f), {2, 1, 0, -1});
    compareProbs(byId(s, true), {1 / (1 + 1 / (e * e)), 1 / (1 + e * e), 0, 0});
    QVERIFY(s.token == 0 || s.token == 1);
    // Raw statistics ignore the chain.
    compareProbs(byId(s, false), normalized({e * e, e, 1, 1 / e}));
}

void TestSampler::greedyTiesAndRank() {
    const SampleSummary s = once(cfg(0.0f, 1, 0.1f), {1, 3, 3, 0});
    QCOMPARE(s.token, 1);  // ids 1 and 2 tie; the lowest wins
    QCOMPARE(s.rank, 0);
    QCOMPARE(s.prob, 1.0f);
    // e^3 / (e + 2 e^3 + 1)
    QVERIFY(std::abs(s.rawProb - std::pow(e, 3) / (e + 2 * std::pow(e, 3) + 1)) < kTol);
    QCOMPARE(s.top[0].id, 1);
    QCOMPARE(s.top[1].id, 2);
    QCOMPARE(s.top[1].prob, 0.0f);
    // Non-positive and NaN temperatures are greedy too.
    for (float t : {-1.0f, kNaN}) QCOMPARE(once(cfg(t), {1, 3, 3, 0}).token, 1);
}

// Logits {0, 3, 1, 2}: by raw logit the order is ids 1, 3, 2, 0, so rank(id) = {3, 0, 2, 1} and
// rawProb(id) = e^{x_id} / (1 + e^3 + e + e^2). 400 draws at T = 1 reach every id (min p ~ 0.032).
void TestSampler::rankAndRawProbOfDrawnTokens() {
    Sampler sampler(cfg(1.0f), 4);
    const QList<float> logits{0, 3, 1, 2};
    const QList<int> rank{3, 0, 2, 1};
    const QList<double> raw = normalized({1, std::pow(e, 3), e, e * e});
    QList<bool> seen(4, false);
    for (int i = 0; i < 400; ++i) {
        const SampleSummary s = sampler.sample(view(logits));
        QCOMPARE(s.rank, rank[s.token]);
        QVERIFY(std::abs(s.rawProb - raw[s.token]) < kTol);
        QVERIFY(std::abs(s.prob - raw[s.token]) < kTol);
        seen[s.token] = true;
    }
    QVERIFY(!seen.contains(false));
    // Equal logits rank by id.
    Sampler flat(cfg(1.0f), 3);
    const QList<float> ties{1, 1, 1};
    for (int i = 0; i < 50; ++i) {
        const SampleSummary s = flat.sample(view(ties));
        QCOMPARE(s.rank, s.token);
    }
}

// Each call consumes exactly one stream output, including rows that need no randomness.
void TestSampler::selectorFollowsStream() {
    const QList<float> logits{-1, 2, 0, 1};  // descending: ids 1, 3, 2, 0
    const QList<double> desc = normalized({e * e, e, 1, 1 / e});
    const QList<int> ids{1, 3, 2, 0};
    const QList<float> dead{-kInf, kNaN, -kInf, -kInf};
    for (std::uint64_t seed : {1ull, 7ull, 42ull, 0xdeadbeefull, 123456789ull}) {
        Sampler sampler(cfg(1.0f), 4);
        sampler.reset(seed);
        QCOMPARE(sampler.settings().seed, seed);
        std::mt19937_64 ref(seed);
        for (int step = 0; step < 200; ++step) {
            if (step % 10 == 3) {
                QCOMPARE(sampler.sample(view(dead)).token, 0);
                ref();
                continue;
            }
            QCOMPARE(sampler.sample(view(logits)).token, referenceDraw(ref, desc, ids));
        }
    }
}

void TestSampler::nonFinite_data() {
    QTest::addColumn<QList<float>>("logits");
    QTest::addColumn<float>("t");
    QTest::addColumn<QList<double>>("raw");
    QTest::addColumn<QList<double>>("processed");
    // NaN reads as -inf: {1, 0} / (e + 1) over ids 1, 2.
    const QList<double> nanRow{0, e / (e + 1), 1 / (e + 1)};
    QTest::newRow("NaN") << QList<float>{kNaN, 1, 0} << 1.0f << nanRow << nanRow;
    // -inf at T = +inf stays out while the finite logits flatten to uniform.
    QTest::newRow("T=inf") << QList<float>{3, -kInf, 0} << kInf << QList<double>{e * e * e, 0, 1}
                           << QList<double>{0.5, 0, 0.5};
    // +inf tokens split all the mass whatever the temperature.
    const QList<double> split{0, 0.5, 0, 0.5};
    QTest::newRow("+inf") << QList<float>{1, kInf, 0, kInf} << 0.3f << split << split;
    QTest::newRow("+inf,NaN,-inf")
        << QList<float>{kNaN, kInf, -kInf, kInf} << 2.0f << split << split;
    // A single finite logit among -inf takes everything.
    const QList<double> only{0, 0, 1};
    QTest::newRow("one finite") << QList<float>{-kInf, kNaN, 5} << 1.0f << only << only;
}

void TestSampler::nonFinite() {
    QFETCH(QList<float>, logits);
    QFETCH(float, t);
    QFETCH(QList<double>, raw);
    QFETCH(QList<double>, processed);
    raw = normalized(raw);
    Sampler sampler(cfg(t), static_cast<int>(logits.size()));
    for (int i = 0; i < 300; ++i) {
        const SampleSummary s = sampler.sample(view(logits));
        QVERIFY(processed[s.token] > 0);
        QVERIFY(std::isfinite(s.entropy) && std::isfinite(s.rawEntropy));
        compareProbs(byId(s, false), raw);
        compareProbs(byId(s, true), processed);
        if (QTest::currentTestFailed()) return;  // helpers' QFAIL only leaves the helper
    }
    // Greedy agrees with the most probable survivor, lowest id on ties.
    const SampleSummary g = once(cfg(0.0f), logits);
    int best = 0;
    for (int i = 1; i < raw.size(); ++i)
        if (raw[i] > raw[best] + kTol) best = i;
    QCOMPARE(g.token, best);
}

void TestSampler::degenerateRow() {
    const QList<float> dead{-kInf, kNaN, -kInf};
    for (float t : {0.0f, 1.0f}) {
        const SampleSummary s = once(cfg(t, 2, 0.5f), dead);
        QCOMPARE(s.token, 0);
        QCOMPARE(s.prob, 1.0f);
        QCOMPARE(s.rawProb, 0.0f);
        QCOMPARE(s.rank, 0);
        QCOMPARE(s.entropy, 0.0);
        QCOMPARE(s.rawEntropy, 0.0);
        compareProbs(byId(s, true), {1, 0, 0});
        compareProbs(byId(s, false), {0, 0, 0});
    }
}

void TestSampler::vocabularyOfOne() {
    for (float t : {0.0f, 0.7f, 1e3f})
        for (float logit : {-50.0f, 0.0f, 3.0f, kInf}) {
            const SampleSummary s = once(cfg(t, 1, 0.0f), {logit});
            QCOMPARE(s.token, 0);
            QCOMPARE(s.prob, 1.0f);
            QCOMPARE(s.rawProb, 1.0f);
            QCOMPARE(s.entropy, 0.0);
            QCOMPARE(s.rawEntropy, 0.0);
            QCOMPARE(s.top.size(), std::size_t(1));
        }
}

// Vocabulary 100, top-k 10 and top-p 0.9 inside a 20-entry report: every survivor is reported.
void TestSampler::reporting() {
    std::mt19937 gen(5);
    Sampler sampler(cfg(0.9f, 10, 0.9f, 20), 100);
    for (int step = 0; step < 50; ++step) {
        const QList<float> logits = randomLogits(gen, 100);
        const SampleSummary s = sampler.sample(view(logits));
        QCOMPARE(s.top.size(), std::size_t(20));
        double sum = 0;
        bool chosenReported = false;
        for (std::size_t i = 0; i < s.top.size(); ++i) {
            const auto& c = s.top[i];
            if (i > 0) QVERIFY(c.rawProb <= s.top[i - 1].rawProb);
            if (i > 0 && c.rawProb > 0) QVERIFY(logits[c.id] <= logits[s.top[i - 1].id]);
            if (i >= 10) QCOMPARE(c.prob, 0.0f);                             // beyond top-k
            if (i > 0 && s.top[i - 1].prob == 0.0f) QCOMPARE(c.prob, 0.0f);  // top-p cuts a tail
            sum += c.prob;
            if (c.id == s.token) {
                chosenReported = true;
                QCOMPARE(c.prob, s.prob);
                QCOMPARE(c.rawProb, s.rawProb);
                QCOMPARE(static_cast<int>(i), s.rank);
            }
        }
        QVERIFY(chosenReported);
        QVERIFY(std::abs(sum - 1.0) < 1e-5);
    }
}

void TestSampler::reportSize_data() {
    QTest::addColumn<int>("report");
    QTest::addColumn<int>("expected");
    QTest::newRow("fewer than vocab") << 3 << 3;
    QTest::newRow("equal") << 6 << 6;
    QTest::newRow("more than vocab") << 50 << 6;
    QTest::newRow("zero") << 0 << 0;
    QTest::newRow("negative") << -1 << 0;
}

void TestSampler::reportSize() {
    QFETCH(int, report);
    QFETCH(int, expected);
    const SampleSummary s = once(cfg(1.0f, 0, 1.0f, report), {0, 5, 1, 4, 2, 3});
    QCOMPARE(s.top.size(), static_cast<std::size_t>(expected));
    const QList<int> order{1, 3, 5, 4, 2, 0};
    for (int i = 0; i < expected; ++i) QCOMPARE(s.top[i].id, order[i]);
}

void TestSampler::determinism() {
    const SamplerSettings s = cfg(0.8f, 40, 0.95f, 5);
    auto run = [&](std::uint64_t seed) {
        SamplerSettings withSeed = s;
        withSeed.seed = seed;
        Sampler sampler(withSeed, 256);
        std::mt19937 gen(11);  // the same logits sequence for every run
        std::vector<int> tokens;
        for (int i = 0; i < 1000; ++i)
            tokens.push_back(sampler.sample(view(randomLogits(gen, 256))).token);
        return tokens;
    };
    const std::vector<int> a = run(42);
    QVERIFY(a == run(42));
    QVERIFY(a != run(43));
    // reset() replays the stream from the start.
    Sampler sampler(s, 256);
    std::mt19937 gen(11);
    const QList<float> first = randomLogits(gen, 256);
    const int t0 = sampler.sample(view(first)).token;
    for (int i = 0; i < 5; ++i) sampler.sample(view(first));
    sampler.reset(s.seed);
    QCOMPARE(sampler.sample(view(first)).token, t0);
}

// Fixed seed, 20000 draws from {2, 1, 0, -1} at T = 1: ~{0.6439, 0.2369, 0.0871, 0.0321}.
void TestSampler::frequencies() {
    Sampler sampler(cfg(1.0f, 0, 1.0f, 0), 4);
    const QList<float> logits{2, 1, 0, -1};
    const QList<double> p = normalized({e * e, e, 1, 1 / e});
    QList<int> counts(4, 0);
    const int draws = 20000;
    for (int i = 0; i < draws; ++i) ++counts[sampler.sample(view(logits)).token];
    for (int i = 0; i < 4; ++i) QVERIFY(std::abs(counts[i] / double(draws) - p[i]) < 0.01);
}

void TestSampler::noAllocationsPerToken() {
    std::mt19937 gen(3);
    const QList<float> logits = randomLogits(gen, 5000);
    for (int report : {0, 20}) {
        SamplerSettings chain = penalties(1.3f, 0.2f, 0.1f, 64, 0.8f);
        chain.minP = 0.05f;
        chain.reportTopK = report;
        const std::vector<int> history{1, 2, 3, 2, 1, 4000, 4999, 0};
        for (SamplerSettings s :
             {cfg(0.0f, 0, 1.0f, report), cfg(0.8f, 0, 1.0f, report), cfg(0.8f, 40, 0.95f, report),
              cfg(1.2f, 0, 0.5f, report), chain}) {
            Sampler sampler(s, 5000);
            for (int i = 0; i < 20; ++i) {
                const long before = kvscope::test::allocations;
                const SampleSummary out = sampler.sample(view(logits), history);
                QCOMPARE(kvscope::test::allocations - before, report > 0 ? 1L : 0L);
            }
        }
    }
}

void TestSampler::contractViolations() {
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, Sampler(cfg(1.0f), 0));
    Sampler sampler(cfg(1.0f), 3);
    const QList<float> wrong{1, 2};
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, sampler.sample(view(wrong)));
    QCOMPARE(sampler.settings().temperature, 1.0f);
}

using kvscope::SamplerStage;

// Logits {2, 1, 0, -1}; llama.cpp's rules: the repetition penalty divides a positive logit and
// multiplies one <= 0 (0 stays 0), then frequency * count + presence is subtracted, once per id.
void TestSampler::penaltiesByHand_data() {
    QTest::addColumn<SamplerSettings>("settings");
    QTest::addColumn<std::vector<int>>("history");
    QTest::addColumn<QList<double>>("penalized");
    // repeat 4, id 0 in the window: 2 / 4 = 0.5.
    QTest::newRow("repeat divides positive")
        << penalties(4, 0, 0) << std::vector<int>{0} << QList<double>{0.5, 1, 0, -1};
    // repeat 2, ids 2 and 3: 0 * 2 = 0, -1 * 2 = -2.
    QTest::newRow("repeat multiplies <= 0")
        << penalties(2, 0, 0) << std::vector<int>{3, 2, 3} << QList<double>{2, 1, 0, -2};
    // frequency 0.5, presence 0.25; id 0 twice, id 1 once: 2 - 1 - 0.25, 1 - 0.5 - 0.25.
    QTest::newRow("frequency and presence")
        << penalties(1, 0.5f, 0.25f) << std::vector<int>{0, 0, 1}
        << QList<double>{0.75, 0.25, 0, -1};
    // All three; id 0 once: 2 / 2 - 0.5 - 1 = -0.5; id 3 three times: -1 * 2 - 1.5 - 1 = -4.5.
    QTest::newRow("all three") << penalties(2, 0.5f, 1) << std::vector<int>{3, 0, 3, 3}
                               << QList<double>{-0.5, 1, 0, -4.5};
    // The window is the last N tokens: of {0, 0, 1, 2} the last 2 are ids 1, 2: 1 / 2, 0 * 2.
    QTest::newRow("window of 2") << penalties(2, 0, 0, 2) << std::vector<int>{0, 0, 1, 2}
                                 << QList<double>{2, 0.5, 0, -1};
    // -1: the whole sequence: 2 / 2, 1 / 2.
    QTest::newRow("window -1 = all")
        << penalties(2, 0, 0, -1) << std::vector<int>{0, 0, 1, 2} << QList<double>{1, 0.5, 0, -1};
    // Ids outside the vocabulary are ignored.
    QTest::newRow("stray ids") << penalties(2, 0, 0) << std::vector<int>{-5, 7, 1}
                               << QList<double>{2, 0.5, 0, -1};
    // A negative presence penalty rewards repetition: 1 + 2.
    QTest::newRow("negative presence")
        << penalties(1, 0, -2) << std::vector<int>{1} << QList<double>{2, 3, 0, -1};
}

void TestSampler::penaltiesByHand() {
    QFETCH(SamplerSettings, settings);
    QFETCH(std::vector<int>, history);
    QFETCH(QList<double>, penalized);
    const QList<float> logits{2, 1, 0, -1};
    const SampleSummary s = once(settings, logits, history);
    const QList<double> expected = softmaxOf(penalized);
    QVERIFY(s.trace.at(SamplerStage::Penalties).on);
    compareProbs(stageById(s, SamplerStage::Penalties), expected);
    // What the stage started from is the raw softmax; raw statistics ignore the penalties.
    compareProbs(stageById(s, SamplerStage::Penalties, true), softmaxOf({2, 1, 0, -1}));
    compareProbs(byId(s, false), softmaxOf({2, 1, 0, -1}));
    // At T = 1 with no filter the sampler draws from the penalized softmax.
    compareProbs(byId(s, true), expected);
    QVERIFY(std::abs(s.trace.at(SamplerStage::Penalties).entropy - entropy(expected)) < kTol);
}

void TestSampler::penaltiesNeedAWindowAndASetting() {
    const QList<float> logits{2, 1, 0, -1};
    const QList<double> raw = softmaxOf({2, 1, 0, -1});
    struct Case {
        SamplerSettings s;
        std::vector<int> history;
    };
    for (const Case& c : {Case{penalties(2, 0, 0, 0), {0, 1}},  // window 0
                          Case{penalties(1, 0, 0), {0, 1}},     // neutral values
                          Case{penalties(2, 0, 0), {}},         // nothing seen yet
                          Case{penalties(0, 0, 0), {0}},        // repeat 0: ignored, not 0 * x
                          Case{penalties(kNaN, kNaN, kInf), {0}}}) {
        const SampleSummary s = once(c.s, logits, c.history);
        QVERIFY(!s.trace.at(SamplerStage::Penalties).on);
        compareProbs(byId(s, true), raw);
        compareProbs(stageById(s, SamplerStage::Penalties), raw);
    }
    // A row with +inf logits: +inf less a finite penalty is still +inf.
    const SampleSummary inf = once(penalties(2, 1, 1), {1, kInf, 0, kInf}, {1, 1});
    compareProbs(byId(inf, true), {0, 0.5, 0, 0.5});
}

// Greedy takes the argmax after the penalties: {2, 1, 0, -1} with id 0 penalized by 4 is
// {0.5, 1, 0, -1}, so id 1 (raw rank 1, raw p e / (e^2 + e + 1 + 1/e)).
void TestSampler::greedyTakesThePenalizedArgmax() {
    const QList<double> raw = softmaxOf({2, 1, 0, -1});
    const SampleSummary s = once(penalties(4, 0, 0, 64, 0.0f), {2, 1, 0, -1}, {0});
    QCOMPARE(s.token, 1);
    QCOMPARE(s.rank, 1);
    QCOMPARE(s.prob, 1.0f);
    QVERIFY(std::abs(s.rawProb - raw[1]) < kTol);
    QVERIFY(!s.trace.draw.drawn);
    // From temperature on, everything sits on the greedy token; the listed order is penalized.
    for (SamplerStage st :
         {SamplerStage::Temperature, SamplerStage::TopK, SamplerStage::TopP, SamplerStage::MinP})
        compareProbs(stageById(s, st), {0, 1, 0, 0});
    QCOMPARE(s.trace.at(SamplerStage::Temperature).top[0].id, 1);
    QCOMPARE(s.trace.at(SamplerStage::Temperature).survivors, 1);
    QCOMPARE(s.trace.at(SamplerStage::Temperature).entropy, 0.0);
}

void TestSampler::minP_data() {
    QTest::addColumn<float>("t");
    QTest::addColumn<float>("minP");
    QTest::addColumn<QList<double>>("expected");
    // A token survives when p_i / p_max = e^((x_i - x_max) / T) >= min-p.
    // T = 1: ratios {1, e^-1 = 0.3679, e^-2 = 0.1353, e^-3 = 0.0498}.
    QTest::newRow("0 off") << 1.0f << 0.0f << softmaxOf({2, 1, 0, -1});
    QTest::newRow("0.3") << 1.0f << 0.3f << QList<double>{1 / (1 + 1 / e), 1 / (1 + e), 0, 0};
    QTest::newRow("0.1") << 1.0f << 0.1f << QList<double>{normalized({e * e, e, 1}) << 0.0};
    QTest::newRow("0.05 cuts e^-3")
        << 1.0f << 0.05f << QList<double>{normalized({e * e, e, 1}) << 0.0};
    QTest::newRow("0.0497 keeps e^-3") << 1.0f << 0.0497f << softmaxOf({2, 1, 0, -1});
    QTest::newRow("1 keeps the top") << 1.0f << 1.0f << QList<double>{1, 0, 0, 0};
    // T = 0.5 doubles the gaps: ratios {1, e^-2, e^-4, e^-6}; 0.1 keeps two.
    QTest::newRow("T=0.5, 0.1") << 0.5f << 0.1f
                                << QList<double>{1 / (1 + 1 / (e * e)), 1 / (1 + e * e), 0, 0};
}

void TestSampler::minP() {
    QFETCH(float, t);
    QFETCH(float, minP);
    QFETCH(QList<double>, expected);
    SamplerSettings s = cfg(t);
    s.minP = minP;
    const SampleSummary out = once(s, {2, 1, 0, -1});
    compareProbs(byId(out, true), expected);
    compareProbs(stageById(out, SamplerStage::MinP), expected);
    QCOMPARE(out.trace.at(SamplerStage::MinP).on, minP > 0);
    QVERIFY(expected[out.token] > 0);
}

// T = 0.5, top-k 3, top-p 0.9, min-p 0.2 on {2, 1, 0, -1}:
//   temperature {4, 2, 0, -2}: e^{4, 2, 0, -2} / 63.1225 ~ {0.86495, 0.11706, 0.01584, 0.00214}
//   top-k 3: {e^4, e^2, 1} / 62.987 ~ {0.86682, 0.11731, 0.01588, 0}
//   top-p 0.9: {e^4, e^2} / (e^4 + e^2) ~ {0.880797, 0.119203, 0, 0}
//   min-p 0.2: e^-2 = 0.135 < 0.2, so {1, 0, 0, 0}: token 0 whatever u is.
void TestSampler::traceFollowsTheChain() {
    SamplerSettings s = cfg(0.5f, 3, 0.9f);
    s.minP = 0.2f;
    s.seed = 99;
    const SampleSummary out = once(s, {2, 1, 0, -1});
    const QList<double> raw = softmaxOf({2, 1, 0, -1});
    const QList<double> tempered = softmaxOf({4, 2, 0, -2});
    const QList<double> k3{normalized({std::pow(e, 4), e * e, 1}) << 0.0};
    const QList<double> p09{1 / (1 + 1 / (e * e)), 1 / (1 + e * e), 0, 0};
    const QList<double> m02{1, 0, 0, 0};
    struct Expect {
        SamplerStage stage;
        QList<double> before, after;
        int survivors;
        bool on;
    };
    for (const Expect& x : {Expect{SamplerStage::Raw, raw, raw, 4, true},
                            Expect{SamplerStage::Penalties, raw, raw, 4, false},
                            Expect{SamplerStage::Temperature, raw, tempered, 4, true},
                            Expect{SamplerStage::TopK, tempered, k3, 3, true},
                            Expect{SamplerStage::TopP, k3, p09, 2, true},
                            Expect{SamplerStage::MinP, p09, m02, 1, true}}) {
        const auto& st = out.trace.at(x.stage);
        QVERIFY2(st.on == x.on, kvscope::samplerStageKey(x.stage));
        QCOMPARE(st.survivors, x.survivors);
        QCOMPARE(st.count, 4);
        compareProbs(stageById(out, x.stage), x.after);
        compareProbs(stageById(out, x.stage, true), x.before);
        QVERIFY(std::abs(st.entropy - entropy(x.after)) < kTol);
        QVERIFY(std::abs(st.shownMass - 1.0) < 1e-6);
    }
    QCOMPARE(out.token, 0);
    QVERIFY(out.trace.draw.drawn);
    QCOMPARE(out.trace.draw.index, 0);
    QCOMPARE(out.trace.draw.cumBefore, 0.0);
    QCOMPARE(out.trace.draw.cumAfter, 1.0);
}

// Raw lists by raw logit; later stages by penalized logit, with filtered tokens kept in place at
// probability 0 so one list reads across the stages. Logits {0, 3, 1, 2, -1, 0.5}, id 1 penalized
// by 10: penalized {0, 0.3, 1, 2, -1, 0.5}, order ids 3, 2, 5, 1, 0, 4; top-k 2 keeps ids 3, 2.
void TestSampler::traceListsKeepTheirPlaces() {
    SamplerSettings s = penalties(10, 0, 0);
    s.topK = 2;
    s.reportTopK = 5;  // lists shorter than the vocabulary
    const SampleSummary out = once(s, {0, 3, 1, 2, -1, 0.5f}, {1});
    const auto& raw = out.trace.at(SamplerStage::Raw);
    QCOMPARE(raw.count, 5);
    const QList<int> rawOrder{1, 3, 2, 5, 0};
    for (int i = 0; i < 5; ++i) QCOMPARE(raw.top[std::size_t(i)].id, rawOrder[i]);
    const QList<int> penalizedOrder{3, 2, 5, 1, 0};
    const QList<double> pen = softmaxOf({0, 0.3, 1, 2, -1, 0.5});
    for (SamplerStage st : {SamplerStage::Penalties, SamplerStage::Temperature, SamplerStage::TopK,
                            SamplerStage::TopP, SamplerStage::MinP}) {
        const auto& snap = out.trace.at(st);
        double mass = 0;
        for (int i = 0; i < 5; ++i) {
            const auto& c = snap.top[std::size_t(i)];
            QCOMPARE(c.id, penalizedOrder[i]);
            if (st >= SamplerStage::TopK && i >= 2) QCOMPARE(c.prob, 0.0f);
            mass += c.prob;
        }
        QVERIFY(std::abs(snap.shownMass - mass) < 1e-6);
    }
    // Five of six listed after the penalties: the mass of all but id 4 (penalized order last).
    QVERIFY(std::abs(out.trace.at(SamplerStage::Penalties).shownMass - (1 - pen[4])) < 1e-6);
    QCOMPARE(out.trace.at(SamplerStage::TopK).survivors, 2);
}

// The draw: u is the reference stream's number, and the drawn token's cumulative interval over
// the survivors in descending order holds it.
void TestSampler::drawReportsWhereUFell() {
    const QList<float> logits{-1, 2, 0, 1};  // descending: ids 1, 3, 2, 0
    const QList<double> desc = softmaxOf({2, 1, 0, -1});
    const QList<int> ids{1, 3, 2, 0};
    for (std::uint64_t seed : {3ull, 42ull, 777ull}) {
        SamplerSettings s = cfg(1.0f);
        s.seed = seed;
        Sampler sampler(s, 4);
        std::mt19937_64 ref(seed);
        for (int step = 0; step < 100; ++step) {
            const double u = static_cast<double>(ref() >> 11) / 9007199254740992.0;
            const SampleSummary out = sampler.sample(view(logits));
            const auto& d = out.trace.draw;
            QVERIFY(d.drawn);
            QCOMPARE(d.u, u);
            QCOMPARE(ids[d.index], out.token);
            double before = 0;
            for (int i = 0; i < d.index; ++i) before += desc[i];
            QVERIFY(std::abs(d.cumBefore - before) < kTol);
            QVERIFY(std::abs(d.cumAfter - (before + desc[d.index])) < kTol);
            QVERIFY(d.cumBefore <= u && u < d.cumAfter);
        }
    }
}

// Each stage's entropy is -sum p ln p of its own distribution, at a vocabulary of 300 random
// logits under every stage on.
void TestSampler::stageEntropies() {
    std::mt19937 gen(8);
    SamplerSettings s = penalties(1.3f, 0.2f, 0.1f, 32, 0.7f);
    s.topK = 150;
    s.topP = 0.9f;
    s.minP = 0.02f;
    s.reportTopK = 20;
    Sampler sampler(s, 300);
    std::vector<int> history;
    for (int step = 0; step < 30; ++step) {
        const QList<float> logits = randomLogits(gen, 300);
        // Every stage in full, by id, to check the entropies against.
        QList<double> x;
        for (float v : logits) x << v;
        QList<int> counts(300, 0);
        const std::size_t n = std::min<std::size_t>(history.size(), 32);
        for (std::size_t i = history.size() - n; i < history.size(); ++i) ++counts[history[i]];
        const double r = 1.3f, f = 0.2f, p = 0.1f, t07 = 0.7f;  // the settings' float values
        for (int id = 0; id < 300; ++id)
            if (counts[id] > 0) {
                x[id] = x[id] <= 0 ? x[id] * r : x[id] / r;
                x[id] -= f * counts[id] + p;
            }
        const SampleSummary out = sampler.sample(view(logits), history);
        QVERIFY(std::abs(out.trace.at(SamplerStage::Penalties).entropy - entropy(softmaxOf(x))) <
                1e-9);
        QList<double> t;
        for (double v : x) t << v / t07;
        QVERIFY(std::abs(out.trace.at(SamplerStage::Temperature).entropy - entropy(softmaxOf(t))) <
                1e-9);
        // The last stage's entropy is the summary's.
        QVERIFY(std::abs(out.trace.at(SamplerStage::MinP).entropy - out.entropy) < 1e-9);
        history.push_back(out.token);
    }
}

// Penalties off and min-p 0 (the defaults): the history changes nothing, token for token.
void TestSampler::defaultsIgnoreTheHistory() {
    SamplerSettings s;  // the defaults: T 0.8, top-k 40, top-p 0.95
    QVERIFY(!s.penaltiesOn());
    QCOMPARE(s.minP, 0.0f);
    Sampler with(s, 256), without(s, 256);
    std::mt19937 gen(21);
    std::vector<int> history;
    for (int i = 0; i < 500; ++i) {
        const QList<float> logits = randomLogits(gen, 256);
        const SampleSummary a = with.sample(view(logits), history);
        const SampleSummary b = without.sample(view(logits));
        QCOMPARE(a.token, b.token);
        QCOMPARE(a.prob, b.prob);
        history.push_back(a.token);
    }
}

void TestSampler::penalizedRunsAreReproducible() {
    SamplerSettings s = penalties(1.5f, 0.3f, 0.4f, 16, 0.9f);
    s.minP = 0.05f;
    auto run = [&](std::uint64_t seed) {
        SamplerSettings withSeed = s;
        withSeed.seed = seed;
        Sampler sampler(withSeed, 64);
        std::mt19937 gen(4);
        std::vector<int> tokens;
        for (int i = 0; i < 300; ++i)
            tokens.push_back(sampler.sample(view(randomLogits(gen, 64)), tokens).token);
        return tokens;
    };
    const std::vector<int> a = run(5);
    QVERIFY(a == run(5));
    QVERIFY(a != run(6));
}

// The report and the stage lists find their heads by one insertion pass (up to Sampler::kHeadMax)
// or a heap (beyond): both must list what a full sort lists, ties to the lowest id, over a
// vocabulary with many ties, -inf and NaN.
void TestSampler::headsMatchAFullSort_data() {
    QTest::addColumn<float>("t");
    QTest::addColumn<int>("report");
    QTest::addColumn<int>("topK");
    for (float t : {0.0f, 0.7f})
        for (int report : {1, 20, int(Sampler::kHeadMax), int(Sampler::kHeadMax) + 1, 300})
            for (int topK : {0, 50})
                QTest::addRow("T %.1f report %d top-k %d", double(t), report, topK)
                    << t << report << topK;
}

void TestSampler::headsMatchAFullSort() {
    QFETCH(float, t);
    QFETCH(int, report);
    QFETCH(int, topK);
    const int vocab = 3000;
    std::mt19937 gen(17);
    std::uniform_int_distribution<int> level(-40, 40), odd(0, 99);
    Sampler sampler(cfg(t, topK, 1.0f, report), vocab);
    for (int step = 0; step < 20; ++step) {
        QList<float> logits(vocab);
        for (float& x : logits) {
            const int o = odd(gen);
            x = o == 0 ? -kInf : o == 1 ? kNaN : 0.25f * float(level(gen));  // ties everywhere
        }
        std::vector<int> order(vocab);
        std::iota(order.begin(), order.end(), 0);
        auto key = [&](int id) { return std::isnan(logits[id]) ? -kInf : logits[id]; };
        std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return key(a) > key(b); });
        const SampleSummary s = sampler.sample(view(logits));
        QCOMPARE(int(s.top.size()), report);
        for (int i = 0; i < report; ++i) QCOMPARE(s.top[std::size_t(i)].id, order[i]);
        // The stage lists follow the same order (no penalties, a positive temperature keeps it).
        // Their probabilities are the softmax over every finite id: none lost, none counted twice.
        const auto& listed = s.trace.at(SamplerStage::Temperature);
        double z = 0, h = 0;
        for (int id = 0; id < vocab; ++id)
            if (std::isfinite(key(id)))
                z += std::exp((double(key(id)) - key(order[0])) / double(t));
        for (int id = 0; id < vocab; ++id)
            if (std::isfinite(key(id))) {
                const double p = std::exp((double(key(id)) - key(order[0])) / double(t)) / z;
                h -= p * std::log(p);
            }
        if (t > 0)
            QVERIFY2(std::abs(listed.entropy - h) < 1e-9,
                     qPrintable(QString::number(listed.entropy - h)));
        for (int i = 0; i < listed.count; ++i) {
            QCOMPARE(listed.top[std::size_t(i)].id, order[i]);
            if (t > 0) {
                const double p = std::exp((double(key(order[i])) - key(order[0])) / double(t)) / z;
                QVERIFY(std::abs(listed.top[std::size_t(i)].prob - p) < 1e-6);
            }
        }
        if (t == 0) QCOMPARE(s.token, order[0]);
        if (QTest::currentTestFailed()) return;
    }
}

QTEST_GUILESS_MAIN(TestSampler)
#include "test_sampler.moc"
