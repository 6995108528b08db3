#include "run/sampler.h"

#include <Eigen/Core>

#include <algorithm>
#include <array>
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

// out[i] = exp(x[i] - m) for n values (out may be x); returns their sum. Eigen's exp is
// vectorised: within an ulp of std::exp and three times faster here (32000 ids: 64 against
// 200 us), and a sampler runs serially between two decode steps while the other threads wait.
// Where std::exp would fall below the smallest normal double (x - m < -708.4, -inf included),
// Eigen's stops at 5.6e-309; those are 0 here, as a -inf logit's probability must be.
double expShifted(const double* x, double m, double* out, std::size_t n) {
    const auto count = static_cast<Eigen::Index>(n);
    const Eigen::Map<const Eigen::ArrayXd> in(x, count);
    Eigen::Map<Eigen::ArrayXd> y(out, count);
    // Eigen 3.4's select() would not vectorise, so the underflows are zeroed after.
    y = (in - m).exp();
    constexpr double kSmallest = std::numeric_limits<double>::min();
    double sum = 0;
    for (std::size_t i = 0; i < n; ++i) {
        out[i] = out[i] < kSmallest ? 0.0 : out[i];
        sum += out[i];
    }
    return sum;
}

// The top ids are kept by insertion while they are few; beyond this a heap does better.
constexpr int kInsertionTopMax = int(Sampler::kHeadMax);

// head[0, k) becomes the k best of [0, n) by the strict order better(a, b), best first, in one
// pass: an index is compared with more than the current k-th only when it beats it, so for a
// few best of many the rest costs one comparison each. k >= 1.
template <class Index, class Better>
void keepBest(std::size_t n, std::size_t k, Index* head, const Better& better) {
    std::size_t kept = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (kept == k && !better(i, std::size_t(head[k - 1]))) continue;
        std::size_t j = std::min(kept, k - 1);  // when full, the k-th gives way
        for (; j > 0 && better(i, std::size_t(head[j - 1])); --j) head[j] = head[j - 1];
        head[j] = static_cast<Index>(i);
        kept = std::min(kept + 1, k);
    }
}

bool usable(float x) {
    return std::isfinite(x) && x != 0;
}

}  // namespace

bool SamplerSettings::penaltiesOn() const {
    if (repeatLastN == 0) return false;
    const bool repeat = std::isfinite(repeatPenalty) && repeatPenalty > 0 && repeatPenalty != 1;
    return repeat || usable(presencePenalty) || usable(frequencyPenalty);
}

const char* samplerStageKey(SamplerStage s) {
    switch (s) {
        case SamplerStage::Raw:
            return "raw";
        case SamplerStage::Penalties:
            return "penalties";
        case SamplerStage::Temperature:
            return "temperature";
        case SamplerStage::TopK:
            return "top-k";
        case SamplerStage::TopP:
            return "top-p";
        case SamplerStage::MinP:
            return "min-p";
    }
    return "unknown";
}

Sampler::Sampler(const SamplerSettings& s, int vocabSize)
    : settings_(s), vocab_(vocabSize), rng_(s.seed) {
    if (vocabSize < 1) throw std::invalid_argument("Sampler: vocabulary size must be >= 1");
    const auto n = static_cast<std::size_t>(vocabSize);
    traceTop_ = std::clamp(s.reportTopK, 0, std::min(vocabSize, StageSnapshot::kTraceTop));
    raw_.resize(n);
    rawProb_.resize(n);
    pen_.resize(n);
    counts_.assign(n, 0);
    processed_.resize(n);
    order_.resize(n);
    cand_.resize(n);
    scratch_.resize(n);
}

void Sampler::reset(std::uint64_t seed) {
    settings_.seed = seed;
    rng_.seed(seed);
}

SampleSummary Sampler::sample(std::span<const float> logits, std::span<const int> history) {
    if (logits.size() != raw_.size())
        throw std::invalid_argument("Sampler: logits size differs from the vocabulary size");
    loadRaw(logits);
    rawSoftmax();
    std::fill(processed_.begin(), processed_.end(), 0.0);

    SampleSummary out;
    sortRaw(std::clamp(settings_.reportTopK, 0, vocab_));
    recordRaw(out.trace);
    const bool penalized = applyPenalties(history);
    // Negated so a NaN temperature falls to greedy, as the header promises.
    if (!(settings_.temperature > 0)) {
        // The stage lists need the head of the penalized order; without penalties that is the
        // raw order's, already sorted.
        if (penalized) {
            loadCandidates(1.0);
            ensureSorted(std::size_t(traceTop_));
        } else {
            headFromRawOrder();
        }
        recordPenalties(out.trace, penalized);
        // The head of the penalized order at temperature 1 is the greedy token.
        out.token = traceTop_ > 0 ? cand_[0].id : greedyToken();
        processed_[static_cast<std::size_t>(out.token)] = 1.0;
        for (SamplerStage s : {SamplerStage::Temperature, SamplerStage::TopK, SamplerStage::TopP,
                               SamplerStage::MinP})
            recordOneHot(out.trace, s, out.token);
        out.trace.stages[std::size_t(SamplerStage::Temperature)].on = true;
    } else {
        out.token = sampleToken(out.trace, penalized);
        if (!degenerate_) out.entropy = stageEntropy();
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
    anyPosInf_ =
        std::any_of(logits.begin(), logits.end(), [](float x) { return std::isinf(x) && x > 0; });
    double best = kNegInf;
    for (std::size_t i = 0; i < logits.size(); ++i) {
        const float x = logits[i];
        double v;
        if (anyPosInf_)
            v = (std::isinf(x) && x > 0) ? 0.0 : kNegInf;  // the limit as +inf logits grow
        else
            v = std::isnan(x) ? kNegInf : static_cast<double>(x);
        raw_[i] = v;
        best = std::max(best, v);
    }
    degenerate_ = (best == kNegInf);
    rawMax_ = best;
}

void Sampler::rawSoftmax() {
    rawEntropy_ = 0;
    if (degenerate_) {
        std::fill(rawProb_.begin(), rawProb_.end(), 0.0);
        return;
    }
    const double m = rawMax_;
    const double z = expShifted(raw_.data(), m, rawProb_.data(), raw_.size());
    // -log p_i = log z - (x_i - m), so H = log z - sum p_i (x_i - m): no logarithm per id.
    double s = 0;
    for (std::size_t i = 0; i < raw_.size(); ++i) {
        double& p = rawProb_[i];
        p /= z;
        s += p > 0 ? p * (raw_[i] - m) : 0.0;  // 0 * -inf would be NaN
    }
    rawEntropy_ = std::max(0.0, std::log(z) - s);
}

// order_[0, n) becomes the n highest raw logits, descending.
void Sampler::sortRaw(int n) {
    if (n > kInsertionTopMax) {
        std::iota(order_.begin(), order_.end(), 0);
        std::partial_sort(order_.begin(), order_.begin() + n, order_.end(), [this](int a, int b) {
            return higher(raw_[std::size_t(a)], a, raw_[std::size_t(b)], b);
        });
        return;
    }
    if (n <= 0) return;
    keepBest(
        std::size_t(vocab_), std::size_t(n), order_.data(),
        [this](std::size_t a, std::size_t b) { return higher(raw_[a], int(a), raw_[b], int(b)); });
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
    out.top.reserve(static_cast<std::size_t>(k));
    for (int i = 0; i < k; ++i) {
        const auto id = static_cast<std::size_t>(order_[static_cast<std::size_t>(i)]);
        out.top.push_back({static_cast<int>(id), static_cast<float>(rawProb_[id]),
                           static_cast<float>(processed_[id])});
    }
}

// pen_ = raw_ with llama.cpp's penalties for the ids of the window; false when nothing applies.
bool Sampler::applyPenalties(std::span<const int> history) {
    std::copy(raw_.begin(), raw_.end(), pen_.begin());
    if (!settings_.penaltiesOn() || degenerate_ || anyPosInf_) return false;
    std::size_t n = history.size();
    if (settings_.repeatLastN > 0) n = std::min(n, static_cast<std::size_t>(settings_.repeatLastN));
    if (n == 0) return false;
    const std::span<const int> window = history.last(n);
    auto inVocab = [this](int id) { return id >= 0 && id < vocab_; };
    for (int id : window)
        if (inVocab(id)) ++counts_[static_cast<std::size_t>(id)];
    const float r = settings_.repeatPenalty;
    const double repeat = std::isfinite(r) && r > 0 ? double(r) : 1.0;
    const double presence = usable(settings_.presencePenalty) ? settings_.presencePenalty : 0.0;
    const double frequency = usable(settings_.frequencyPenalty) ? settings_.frequencyPenalty : 0.0;
    for (int id : window) {
        if (!inVocab(id)) continue;
        int& c = counts_[static_cast<std::size_t>(id)];
        if (c == 0) continue;  // this id's penalty is already applied
        double& x = pen_[static_cast<std::size_t>(id)];
        x = x <= 0 ? x * repeat : x / repeat;
        x -= frequency * c + presence;
        c = 0;  // leaves counts_ all zero for the next call
    }
    return true;
}

int Sampler::greedyToken() const {
    int best = 0;
    for (int i = 1; i < vocab_; ++i)
        if (higher(pen_[static_cast<std::size_t>(i)], i, pen_[static_cast<std::size_t>(best)],
                   best))
            best = i;
    return best;
}

int Sampler::sampleToken(SamplerTrace& trace, bool penalized) {
    // Drawn before anything can return early so the stream position is the step count.
    const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
    trace.draw = {true, u, 0, 0, 1};
    if (degenerate_) {
        processed_[0] = 1.0;
        loadCandidates(1.0);
        ensureSorted(std::size_t(traceTop_));
        recordPenalties(trace, false);
        for (SamplerStage s : {SamplerStage::Temperature, SamplerStage::TopK, SamplerStage::TopP,
                               SamplerStage::MinP})
            recordOneHot(trace, s, 0);
        count_ = 0;
        return 0;
    }
    loadCandidates(settings_.temperature);
    softmax();  // in id order, before any sorting: the sums stay what they were without a trace
    ensureSorted(std::size_t(traceTop_));  // the stage lists: fixed at the head from here on
    recordPenalties(trace, penalized);
    recordStage(trace, SamplerStage::Temperature, settings_.temperature != 1);
    const bool kOn = settings_.topK > 0 && static_cast<std::size_t>(settings_.topK) < count_;
    topK();
    recordStage(trace, SamplerStage::TopK, kOn);
    topP();
    recordStage(trace, SamplerStage::TopP, settings_.topP < 1);
    minP();
    recordStage(trace, SamplerStage::MinP, settings_.minP > 0);
    const Candidate& chosen = cand_[select(u, trace.draw)];
    for (std::size_t i = 0; i < count_; ++i)
        processed_[static_cast<std::size_t>(cand_[i].id)] = cand_[i].p;
    return chosen.id;
}

// cand_ holds only the raw order's head (greedy without penalties reads nothing else).
void Sampler::headFromRawOrder() {
    const auto k = static_cast<std::size_t>(traceTop_);
    for (std::size_t i = 0; i < k; ++i) {
        const int id = order_[i];
        cand_[i] = {id, raw_[static_cast<std::size_t>(id)], 0.0};
    }
    count_ = sorted_ = k;
}

void Sampler::loadCandidates(double temperature) {
    const double t = temperature;
    if (t == 1) {  // greedy's and the default's: x / 1 is x
        for (std::size_t i = 0; i < pen_.size(); ++i)
            cand_[i] = {static_cast<int>(i), pen_[i], 0.0};
    } else {
        for (std::size_t i = 0; i < pen_.size(); ++i) {
            // -inf stays -inf even at t = +inf, where -inf / inf would be NaN.
            const double x = std::isinf(pen_[i]) ? pen_[i] : pen_[i] / t;
            cand_[i] = {static_cast<int>(i), x, 0.0};
        }
    }
    count_ = cand_.size();
    sorted_ = 0;
}

void Sampler::softmax() {
    double m = kNegInf;
    for (std::size_t i = 0; i < count_; ++i) m = std::max(m, cand_[i].logit);
    for (std::size_t i = 0; i < count_; ++i) scratch_[i] = cand_[i].logit;
    const double z = expShifted(scratch_.data(), m, scratch_.data(), count_);
    for (std::size_t i = 0; i < count_; ++i) cand_[i].p = scratch_[i] / z;
    max_ = m;
    logZ_ = std::log(z);
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

// Survivors are a prefix of the descending order: walk it until p drops below the threshold.
void Sampler::minP() {
    if (!(settings_.minP > 0) || count_ == 0) return;
    ensureSorted(1);
    const double threshold = static_cast<double>(settings_.minP) * cand_[0].p;
    std::size_t kept = 1;
    while (kept < count_) {
        ensureSorted(kept + 1);
        if (cand_[kept].p < threshold) break;
        ++kept;
    }
    count_ = kept;
    sorted_ = std::min(sorted_, count_);
    renormalize();
}

std::size_t Sampler::select(double u, DrawReport& draw) {
    std::size_t lastPositive = 0;
    double cum = 0;
    for (std::size_t i = 0; i < count_; ++i) {
        ensureSorted(i + 1);
        if (cand_[i].p > 0) lastPositive = i;
        const double before = cum;
        cum += cand_[i].p;
        if (cum > u) {
            draw.index = static_cast<int>(i);
            draw.cumBefore = before;
            draw.cumAfter = cum;
            return i;
        }
    }
    // Rounding can leave the total a hair below u; never hand out a zero-probability token then.
    draw.index = static_cast<int>(lastPositive);
    draw.cumAfter = cum;
    draw.cumBefore = cum - cand_[lastPositive].p;
    return lastPositive;
}

void Sampler::ensureSorted(std::size_t len) {
    if (len <= sorted_) return;
    // Doubling keeps repeated small extensions (top-p, selector walks) at O(n log s) overall.
    const std::size_t upto = std::min(count_, std::max(len, 2 * sorted_ + 16));
    if (sorted_ == 0 && upto <= std::size_t(kInsertionTopMax)) {
        selectHead(upto);
        return;
    }
    const auto base = cand_.begin();
    std::partial_sort(
        base + static_cast<std::ptrdiff_t>(sorted_), base + static_cast<std::ptrdiff_t>(upto),
        base + static_cast<std::ptrdiff_t>(count_), [](const Candidate& a, const Candidate& b) {
            return higher(a.logit, a.id, b.logit, b.id);
        });
    sorted_ = upto;
}

// cand_[0, k) becomes the k highest candidates, descending, as partial_sort would leave it: the
// positions of the best k found in one pass, then the candidates the head displaces moved into
// the places the head came from.
void Sampler::selectHead(std::size_t k) {
    sorted_ = 0;
    if (k == 0) return;
    keepBest(count_, k, head_.data(), [this](std::size_t a, std::size_t b) {
        return higher(cand_[a].logit, cand_[a].id, cand_[b].logit, cand_[b].id);
    });
    std::array<Candidate, kInsertionTopMax> picked;
    std::array<bool, kInsertionTopMax> taken{};  // which of the first k places the head holds
    for (std::size_t j = 0; j < k; ++j) {
        picked[j] = cand_[head_[j]];
        if (head_[j] < k) taken[head_[j]] = true;
    }
    std::size_t free = 0;  // the next place at or beyond k that the head leaves empty
    for (std::size_t p = 0; p < k; ++p) {
        if (taken[p]) continue;
        while (head_[free] < k) ++free;
        cand_[head_[free++]] = cand_[p];
    }
    std::copy(picked.begin(), picked.begin() + std::ptrdiff_t(k), cand_.begin());
    sorted_ = k;
}

void Sampler::renormalize() {
    double z = 0;
    for (std::size_t i = 0; i < count_; ++i) z += cand_[i].p;
    for (std::size_t i = 0; i < count_; ++i) cand_[i].p /= z;
    logZ_ += std::log(z);
}

// -log p_i = logZ - (x_i - max) for every survivor, so H = logZ - sum p_i (x_i - max).
double Sampler::stageEntropy() const {
    double s = 0;
    for (std::size_t i = 0; i < count_; ++i)
        if (cand_[i].p > 0) s += cand_[i].p * (cand_[i].logit - max_);
    return std::max(0.0, logZ_ - s);
}

void Sampler::recordRaw(SamplerTrace& trace) const {
    StageSnapshot& st = trace.stages[std::size_t(SamplerStage::Raw)];
    st.on = true;
    st.entropy = rawEntropy_;
    st.survivors =
        int(std::count_if(rawProb_.begin(), rawProb_.end(), [](double p) { return p > 0; }));
    st.count = traceTop_;
    st.shownMass = 0;
    for (int i = 0; i < traceTop_; ++i) {
        const int id = order_[std::size_t(i)];
        const float p = static_cast<float>(rawProb_[std::size_t(id)]);
        st.top[std::size_t(i)] = {id, p, p};
        st.shownMass += p;
    }
}

// The softmax of the penalized logits at temperature 1, listed in the candidates' order.
void Sampler::recordPenalties(SamplerTrace& trace, bool on) {
    StageSnapshot& st = trace.stages[std::size_t(SamplerStage::Penalties)];
    const StageSnapshot& raw = trace.stages[std::size_t(SamplerStage::Raw)];
    st.on = on;
    st.count = traceTop_;
    double m = 0, z = 1, s = 0;
    if (on) {
        m = *std::max_element(pen_.begin(), pen_.end());
        z = expShifted(pen_.data(), m, scratch_.data(), pen_.size());  // scratch_ by id
        int survivors = 0;
        for (std::size_t i = 0; i < pen_.size(); ++i) {
            const double p = scratch_[i] / z;
            if (p > 0) {
                s += p * (pen_[i] - m);
                ++survivors;
            }
        }
        st.survivors = survivors;
        st.entropy = std::max(0.0, std::log(z) - s);
    } else {
        st.survivors = raw.survivors;
        st.entropy = raw.entropy;
    }
    st.shownMass = 0;
    for (int i = 0; i < traceTop_; ++i) {
        const auto id = std::size_t(cand_[std::size_t(i)].id);
        const float before = static_cast<float>(rawProb_[id]);
        const float p = on ? static_cast<float>(scratch_[id] / z) : before;
        st.top[std::size_t(i)] = {int(id), p, before};
        st.shownMass += p;
        lastShown_[std::size_t(i)] = p;
    }
}

void Sampler::recordStage(SamplerTrace& trace, SamplerStage s, bool on) {
    StageSnapshot& st = trace.stages[std::size_t(s)];
    st.on = on;
    st.count = traceTop_;
    st.entropy = stageEntropy();
    st.survivors = int(std::count_if(cand_.begin(), cand_.begin() + std::ptrdiff_t(count_),
                                     [](const Candidate& c) { return c.p > 0; }));
    st.shownMass = 0;
    for (int i = 0; i < traceTop_; ++i) {
        const auto k = std::size_t(i);
        const float p = k < count_ ? static_cast<float>(cand_[k].p) : 0.0f;
        st.top[k] = {cand_[k].id, p, lastShown_[k]};
        st.shownMass += p;
        lastShown_[k] = p;
    }
}

// Greedy (and a row with no finite logit): all the mass on one token.
void Sampler::recordOneHot(SamplerTrace& trace, SamplerStage s, int token) {
    StageSnapshot& st = trace.stages[std::size_t(s)];
    st.on = false;
    st.count = traceTop_;
    st.entropy = 0;
    st.survivors = 1;
    st.shownMass = 0;
    for (int i = 0; i < traceTop_; ++i) {
        const auto k = std::size_t(i);
        const float p = cand_[k].id == token ? 1.0f : 0.0f;
        st.top[k] = {cand_[k].id, p, lastShown_[k]};
        st.shownMass += p;
        lastShown_[k] = p;
    }
}

}  // namespace kvscope
