#pragma once
// Turns one row of logits into one token through the chain
//   penalties -> temperature -> softmax -> top-k -> top-p -> min-p -> selector
// and reports what each stage did, so the UI can show why a token was chosen.
//
// Order. llama.cpp's default chain is penalties, (DRY, top-n-sigma), top-k, (typical), top-p,
// min-p, (XTC), temperature: it tempers last, so its top-p and min-p cut the untempered
// distribution. kvscope tempers first, as Hugging Face transformers' warpers and llama2.c's run.c
// do, because that is the order the window has always used (the defaults must keep giving the
// same tokens) and because each stage then acts on the distribution the previous one shows. Top-k
// does not care (temperature keeps the order); top-p and min-p keep more tokens here than in
// llama.cpp when T > 1 and fewer when T < 1. The penalties are llama.cpp's.
//
// Stage rules (these are the contract the tests check):
//  * penalties, over the window of the last `repeatLastN` tokens of the sequence so far (prompt
//    included, as llama.cpp's command line feeds it the prompt; -1 = the whole sequence, 0 = off).
//    For every token id present in the window with count c, once: the repetition penalty divides
//    a positive logit by `repeatPenalty` and multiplies a logit <= 0 by it; then
//    `frequencyPenalty * c + presencePenalty` is subtracted. Off when repeatPenalty is 1 (or <= 0
//    or NaN) and both others are 0 (or NaN). A row with +inf logits is left as it is (+inf less a
//    finite penalty is still +inf).
//  * temperature: logits are divided by it. temperature <= 0 (or NaN) means greedy: the argmax
//    of the penalized logits, ties broken towards the lowest id, with no random draw. +inf is
//    allowed and gives the uniform distribution over the tokens whose logit is finite.
//  * softmax: max-subtracted, exponentials and sums in double.
//  * top-k: keep the k most probable (ties towards the lowest id), renormalize. k <= 0 or k >= the
//    vocabulary size disables the stage.
//  * top-p: keep the smallest prefix of the descending-probability list whose cumulative
//    probability is >= topP, always at least one token, then renormalize. topP >= 1 (or NaN)
//    disables the stage; topP <= 0 keeps only the most probable token.
//  * min-p: keep the tokens whose probability is >= minP times the most probable one's (always
//    that one), then renormalize. minP <= 0 (or NaN) disables the stage.
//  * selector: u in [0, 1) from the top 53 bits of one std::mt19937_64 output; the token is the
//    first survivor, in descending-probability order, whose cumulative probability exceeds u.
//    Stochastic mode consumes exactly one 64-bit output per sample() call, whatever the logits,
//    so step t always uses the t-th number of the stream after construction or reset().
//
// Non-finite logits: NaN counts as -inf. If any logit is +inf, the row is read as the limit in
// which those logits grow without bound: the +inf tokens share all the mass equally (both raw and
// processed) and every other token gets 0. If every logit is -inf/NaN the row carries no
// information; the sampler then returns token 0 (what argmax with lowest-id ties gives) with
// prob 1, rawProb 0, rank 0 and both entropies 0, and still consumes its draw in stochastic mode.
//
// The trace: each stage's distribution, for the panel that shows the chain stage by stage. Kept
// cheap: the kTraceTop most probable candidates of each stage and a few numbers, in fixed arrays
// inside the summary (no allocation). Entropies come from log Z - sum p (x - max), one
// multiply-add per token, not one logarithm.
//
// Cost per token: O(n) passes plus a partial sort of the candidates the stages and the report
// need; top-p and the selector sort the survivors only as far as they need to walk. Nothing is
// allocated except the summary's `top` vector.

#include <array>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace kvscope {

struct SamplerSettings {
    float temperature = 0.8f;  // 0 = greedy (argmax of penalized logits, ties -> lowest id)
    int topK = 40;             // 0 = disabled; values above the vocabulary behave as disabled
    float topP = 0.95f;        // 1 = disabled; 0 keeps only the most probable token
    std::uint64_t seed = 42;
    int reportTopK = 20;  // how many candidates the step summary reports (<= 0: none)
    // Added with the stage-by-stage chain, after the fields above so that their aggregate
    // initialisers keep their meaning. The defaults leave the chain as it was.
    float minP = 0.0f;              // 0 = disabled; keep p >= minP * max p
    float repeatPenalty = 1.0f;     // 1 = off; > 1 makes tokens of the window less likely
    float presencePenalty = 0.0f;   // subtracted once from the logit of each token in the window
    float frequencyPenalty = 0.0f;  // times the token's count in the window, subtracted
    int repeatLastN = 64;           // the penalties' window in tokens; 0 = off, -1 = everything

    bool penaltiesOn() const;
};

// The chain's stages in order; each has a snapshot of the distribution after it.
enum class SamplerStage { Raw, Penalties, Temperature, TopK, TopP, MinP };
inline constexpr int kSamplerStages = 6;
// "raw", "penalties", "temperature", "top-k", "top-p", "min-p": names for files and JSON.
const char* samplerStageKey(SamplerStage s);

struct CandidateReport {
    int id;
    float rawProb;  // softmax of the raw logits at temperature 1
    float prob;     // after the whole chain; 0 if a stage filtered the token out
};

// One candidate as a stage left it, beside what the stage before gave it.
struct StageCandidate {
    int id = -1;
    float prob = 0;    // after this stage (0: filtered out)
    float before = 0;  // after the previous stage (raw: the same as prob)
};

// The distribution after one stage. Raw lists the most probable by raw logit; every later stage
// lists the most probable by penalized logit, the order temperature and the filters keep, so
// their lists hold the same ids in the same order and a filtered token keeps its place at 0.
struct StageSnapshot {
    static constexpr int kTraceTop = 20;
    bool on = false;      // the stage is enabled and could change something at this step
    int survivors = 0;    // tokens with probability > 0 after the stage
    double entropy = 0;   // nats
    int count = 0;        // entries of `top` in use: min(kTraceTop, reportTopK, vocabulary)
    float shownMass = 0;  // probability the `count` listed candidates hold together
    std::array<StageCandidate, kTraceTop> top{};
};

// Where the uniform number fell: the drawn token holds [cumBefore, cumAfter) of the cumulative
// distribution over the survivors in descending order, and u lies in it.
struct DrawReport {
    bool drawn = false;  // false under greedy, where nothing is drawn
    double u = 0;
    int index = 0;  // 0-based place of the drawn token among the survivors, most probable first
    double cumBefore = 0;
    double cumAfter = 0;
};

struct SamplerTrace {
    std::array<StageSnapshot, kSamplerStages> stages{};
    DrawReport draw;
    const StageSnapshot& at(SamplerStage s) const { return stages[std::size_t(s)]; }
};

struct SampleSummary {
    int token = -1;
    float prob = 0;      // processed probability of the chosen token (1 for greedy)
    float rawProb = 0;   // softmax of raw logits at temperature 1
    int rank = 0;        // 0-based rank of the chosen token by raw logit, ties -> lowest id first
    double entropy = 0;  // entropy in nats of the processed distribution (0 for greedy)
    double rawEntropy = 0;             // entropy in nats of the raw softmax
    std::vector<CandidateReport> top;  // the reportTopK most probable by raw logit, descending
    SamplerTrace trace;                // each stage's distribution and the draw
};

class Sampler {
public:
    // Up to this many of the best candidates are found by one insertion pass, not a heap.
    static constexpr std::size_t kHeadMax = 64;

    // Throws std::invalid_argument if vocabSize < 1.
    explicit Sampler(const SamplerSettings& s, int vocabSize);

    // Restarts the random stream; settings().seed follows so it always names the live stream.
    void reset(std::uint64_t seed);

    // `history`: the sequence so far (prompt and generated ids), whose last repeatLastN tokens
    // the penalties see; ids outside the vocabulary are ignored.
    // Throws std::invalid_argument unless logits.size() == vocabSize.
    SampleSummary sample(std::span<const float> logits, std::span<const int> history = {});

    const SamplerSettings& settings() const { return settings_; }

private:
    struct Candidate {
        int id;
        double logit;
        double p;
    };

    void loadRaw(std::span<const float> logits);
    void rawSoftmax();
    void sortRaw(int n);
    void reportTop(SampleSummary& out);
    int rankOf(int token) const;

    bool applyPenalties(std::span<const int> history);
    void loadCandidates(double temperature);
    void softmax();
    void topK();
    void topP();
    void minP();
    std::size_t select(double u, DrawReport& draw);
    void ensureSorted(std::size_t len);
    void renormalize();

    void recordRaw(SamplerTrace& trace) const;
    void recordPenalties(SamplerTrace& trace, bool on);
    void recordStage(SamplerTrace& trace, SamplerStage s, bool on);
    void recordOneHot(SamplerTrace& trace, SamplerStage s, int token);
    double stageEntropy() const;

    int greedyToken() const;
    void selectHead(std::size_t k);
    void headFromRawOrder();
    int sampleToken(SamplerTrace& trace, bool penalized);

    SamplerSettings settings_;
    int vocab_;
    int traceTop_ = 0;  // candidates each stage snapshot lists
    std::mt19937_64 rng_;
    bool degenerate_ = false;        // every logit was -inf/NaN
    bool anyPosInf_ = false;         // the row was read as the limit of its +inf logits
    std::vector<double> raw_;        // sanitized raw logits, by id
    std::vector<double> rawProb_;    // softmax of raw_, by id
    std::vector<double> pen_;        // raw_ after the penalties, by id
    std::vector<int> counts_;        // occurrences in the penalty window, by id; 0 between calls
    std::vector<double> processed_;  // final probabilities, by id (0 = filtered out)
    std::vector<int> order_;         // ids, partially sorted by raw logit for the report
    std::array<std::size_t, kHeadMax> head_{};  // selectHead's positions, best first
    std::vector<double> scratch_;  // (vocab) the candidates' logits, then their exponentials
    std::vector<Candidate> cand_;  // the chain's working set; survivors are the first count_
    std::size_t count_ = 0;
    std::size_t sorted_ = 0;  // cand_[0, sorted_) is the sorted head of the survivors
    double max_ = 0;          // the largest candidate logit at the softmax
    double logZ_ = 0;         // log of the survivors' total, relative to max_
    double rawEntropy_ = 0;
    double rawMax_ = 0;                                        // the largest of raw_
    std::array<float, StageSnapshot::kTraceTop> lastShown_{};  // previous stage's listed probs
};

}  // namespace kvscope
