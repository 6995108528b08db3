#include "run/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace kvscope {

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// Ties go to the lowest id so every ordering in the sampler (greedy, rank, report, top-k) agrees.
bool higher(double a, int ida, double b, int idb) {
    return a > b || (a == b && ida < idb);
}

// Entropy terms of exactly-zero probabilities are 0 by continuity, not NaN.
double entropyTerm(double p) {
    return p > 0 ? -p * std::log(p) : 0.0;
}

}  // namespace

Sampler::Sampler(const SamplerSettings& s, int vocabSize)
    : settings_(s), vocab_(vocabSize), rng_(s.seed) {
    if (vocabSize < 1) throw std::invalid_argument("Sampler: vocabulary size must be >= 1");
    const auto n = static_cast<std::size_t>(vocabSize);
    raw_.resize(n);
    rawProb_.resize(n);
    processed_.resize(n);
    order_.resize(n);
    cand_.resize(n);
}

void Sampler::reset(std::uint64_t seed) {
    settings_.seed = seed;
    rng_.seed(seed);
}

SampleSummary Sampler::sample(std::span<const float> logits) {
    if (logits.size() != raw_.size())
        throw std::invalid_argument("Sampler: logits size differs from the vocabulary size");
    loadRaw(logits);
    rawSoftmax();
    std::fill(processed_.begin(), processed_.end(), 0.0);

    SampleSummary out;
    // Negated so a NaN temperature falls to greedy, as the header promises.
    if (!(settings_.temperature > 0)) {
        out.token = greedyToken();
        processed_[static_cast<std::size_t>(out.token)] = 1.0;
    } else {
        out.token = sampleToken();
        for (std::size_t i = 0; i < count_; ++i) out.entropy += entropyTerm(cand_[i].p);
    }
    const auto t = static_cast<std::size_t>(out.token);
    out.prob = static_cast<float>(processed_[t]);
    out.rawProb = static_cast<float>(rawProb_[t]);
    out.rank = rankOf(out.token);
    out.rawEntropy = rawEntropy_;
    reportTop(out);
    return out;
}

void Sampler::loadRaw(std::span<const float> logits) {
    const bool anyPosInf =
        std::any_of(logits.begin(), logits.end(), [](float x) { return std::isinf(x) && x > 0; });
    double best = kNegInf;
    for (std::size_t i = 0; i < logits.size(); ++i) {
        const float x = logits[i];
        double v;
        if (anyPosInf)
            v = (std::isinf(x) && x > 0) ? 0.0 : kNegInf;  // the limit as +inf logits grow
        else
            v = std::isnan(x) ? kNegInf : static_cast<double>(x);
        raw_[i] = v;
        best = std::max(best, v);
    }
    degenerate_ = (best == kNegInf);
}

void Sampler::rawSoftmax() {
    rawEntropy_ = 0;
    if (degenerate_) {
        std::fill(rawProb_.begin(), rawProb_.end(), 0.0);
        return;
    }
    const double m = *std::max_element(raw_.begin(), raw_.end());
    double z = 0;
    for (std::size_t i = 0; i < raw_.size(); ++i) z += (rawProb_[i] = std::exp(raw_[i] - m));
    for (double& p : rawProb_) {
        p /= z;
        rawEntropy_ += entropyTerm(p);
    }
}

int Sampler::rankOf(int token) const {
    const double x = raw_[static_cast<std::size_t>(token)];
    int rank = 0;
    for (int i = 0; i < vocab_; ++i)
        if (higher(raw_[static_cast<std::size_t>(i)], i, x, token)) ++rank;
    return rank;
}

void Sampler::reportTop(SampleSummary& out) {
    const int k = std::clamp(settings_.reportTopK, 0, vocab_);
    if (k == 0) return;
    std::iota(order_.begin(), order_.end(), 0);
    std::partial_sort(order_.begin(), order_.begin() + k, order_.end(), [this](int a, int b) {
        return higher(raw_[static_cast<std::size_t>(a)], a, raw_[static_cast<std::size_t>(b)], b);
    });
    out.top.reserve(static_cast<std::size_t>(k));
    for (int i = 0; i < k; ++i) {
        const auto id = static_cast<std::size_t>(order_[static_cast<std::size_t>(i)]);
        out.top.push_back({static_cast<int>(id), static_cast<float>(rawProb_[id]),
                           static_cast<float>(processed_[id])});
    }
}

int Sampler::greedyToken() const {
    int best = 0;
    for (int i = 1; i < vocab_; ++i)
        if (higher(raw_[static_cast<std::size_t>(i)], i, raw_[static_cast<std::size_t>(best)],
                   best))
            best = i;
    return best;
}

int Sampler::sampleToken() {
    // Drawn before anything can return early so the stream position is the step count.
    const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
    if (degenerate_) {
        count_ = 0;
        processed_[0] = 1.0;
        return 0;
    }
    applyTemperature();
    softmax();
    topK();
    topP();
    const Candidate& chosen = cand_[select(u)];
    for (std::size_t i = 0; i < count_; ++i)
        processed_[static_cast<std::size_t>(cand_[i].id)] = cand_[i].p;
    return chosen.id;
}

void Sampler::applyTemperature() {
    const double t = settings_.temperature;
    for (std::size_t i = 0; i < raw_.size(); ++i) {
        // -inf stays -inf even at t = +inf, where -inf / inf would be NaN.
        const double x = std::isinf(raw_[i]) ? raw_[i] : raw_[i] / t;
        cand_[i] = {static_cast<int>(i), x, 0.0};
    }
    count_ = cand_.size();
    sorted_ = 0;
}

void Sampler::softmax() {
    double m = kNegInf;
    for (std::size_t i = 0; i < count_; ++i) m = std::max(m, cand_[i].logit);
    double z = 0;
    for (std::size_t i = 0; i < count_; ++i) z += (cand_[i].p = std::exp(cand_[i].logit - m));
    for (std::size_t i = 0; i < count_; ++i) cand_[i].p /= z;
}

void Sampler::topK() {
    const int k = settings_.topK;
    if (k <= 0 || static_cast<std::size_t>(k) >= count_) return;
    ensureSorted(static_cast<std::size_t>(k));
    count_ = static_cast<std::size_t>(k);
    sorted_ = std::min(sorted_, count_);
    renormalize();
}

void Sampler::topP() {
    const double target = std::max(0.0, static_cast<double>(settings_.topP));
    if (!(settings_.topP < 1)) return;
    double cum = 0;
    std::size_t kept = 0;
    do {
        ensureSorted(kept + 1);
        cum += cand_[kept++].p;
    } while (cum < target && kept < count_);
    count_ = kept;
    sorted_ = std::min(sorted_, count_);
    renormalize();
}

std::size_t Sampler::select(double u) {
    std::size_t lastPositive = 0;
    double cum = 0;
    for (std::size_t i = 0; i < count_; ++i) {
        ensureSorted(i + 1);
        if (cand_[i].p > 0) lastPositive = i;
        cum += cand_[i].p;
        if (cum > u) return i;
    }
    // Rounding can leave the total a hair below u; never hand out a zero-probability token then.
    return lastPositive;
}

void Sampler::ensureSorted(std::size_t len) {
    if (len <= sorted_) return;
    // Doubling keeps repeated small extensions (top-p, selector walks) at O(n log s) overall.
    const std::size_t upto = std::min(count_, std::max(len, 2 * sorted_ + 16));
    const auto base = cand_.begin();
    std::partial_sort(
        base + static_cast<std::ptrdiff_t>(sorted_), base + static_cast<std::ptrdiff_t>(upto),
        base + static_cast<std::ptrdiff_t>(count_), [](const Candidate& a, const Candidate& b) {
            return higher(a.logit, a.id, b.logit, b.id);
        });
    sorted_ = upto;
}

void Sampler::renormalize() {
    double z = 0;
    for (std::size_t i = 0; i < count_; ++i) z += cand_[i].p;
    for (std::size_t i = 0; i < count_; ++i) cand_[i].p /= z;
}

}  // namespace kvscope
