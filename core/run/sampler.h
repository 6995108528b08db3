#pragma once
// Turns one row of logits into one token through the chain
//   temperature -> softmax -> top-k -> top-p -> selector
// and reports what each stage did, so the UI can show why a token was chosen.
//
// Stage rules (these are the contract the tests check):
//  * temperature: logits are divided by it. temperature <= 0 (or NaN) means greedy: the argmax
//    of the raw logits, ties broken towards the lowest id, with no random draw. +inf is allowed and
//    gives the uniform distribution over the tokens whose logit is finite.
//  * softmax: max-subtracted, exponentials and sums in double.
//  * top-k: keep the k most probable (ties towards the lowest id), renormalize. k <= 0 or k >= the
//    vocabulary size disables the stage.
//  * top-p: keep the smallest prefix of the descending-probability list whose cumulative
//    probability is >= topP, always at least one token, then renormalize. topP >= 1 (or NaN)
//    disables the stage; topP <= 0 keeps only the most probable token.
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
// Cost per token: O(n) passes plus a partial sort of the k survivors when top-k is on; top-p and
// the selector sort the survivors only as far as they need to walk. Nothing is allocated except
// the summary's `top` vector.

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace kvscope {

struct SamplerSettings {
    float temperature = 0.8f;  // 0 = greedy (argmax of raw logits, ties -> lowest id)
    int topK = 40;             // 0 = disabled; values above the vocabulary behave as disabled
    float topP = 0.95f;        // 1 = disabled; 0 keeps only the most probable token
    std::uint64_t seed = 42;
    int reportTopK = 20;  // how many candidates the step summary reports (<= 0: none)
};

struct CandidateReport {
    int id;
    float rawProb;  // softmax of the raw logits at temperature 1
    float prob;     // after the whole chain; 0 if a stage filtered the token out
};

struct SampleSummary {
    int token = -1;
    float prob = 0;      // processed probability of the chosen token (1 for greedy)
    float rawProb = 0;   // softmax of raw logits at temperature 1
    int rank = 0;        // 0-based rank of the chosen token by raw logit, ties -> lowest id first
    double entropy = 0;  // entropy in nats of the processed distribution (0 for greedy)
    double rawEntropy = 0;             // entropy in nats of the raw softmax
    std::vector<CandidateReport> top;  // the reportTopK most probable by raw logit, descending
};

class Sampler {
public:
    // Throws std::invalid_argument if vocabSize < 1.
    explicit Sampler(const SamplerSettings& s, int vocabSize);

    // Restarts the random stream; settings().seed follows so it always names the live stream.
    void reset(std::uint64_t seed);

    // Throws std::invalid_argument unless logits.size() == vocabSize.
    SampleSummary sample(std::span<const float> logits);

    const SamplerSettings& settings() const { return settings_; }

private:
    struct Candidate {
        int id;
        double logit;
        double p;
    };

    void loadRaw(std::span<const float> logits);
    void rawSoftmax();
    void reportTop(SampleSummary& out);
    int rankOf(int token) const;

    void applyTemperature();
    void softmax();
    void topK();
    void topP();
    std::size_t select(double u);
    void ensureSorted(std::size_t len);
    void renormalize();

    int greedyToken() const;
    int sampleToken();

    SamplerSettings settings_;
    int vocab_;
    std::mt19937_64 rng_;
    bool degenerate_ = false;        // every logit was -inf/NaN
    std::vector<double> raw_;        // sanitized raw logits, by id
    std::vector<double> rawProb_;    // softmax of raw_, by id
    std::vector<double> processed_;  // final probabilities, by id (0 = filtered out)
    std::vector<int> order_;         // ids, partially sorted for the report
    std::vector<Candidate> cand_;    // the chain's working set; survivors are the first count_
    std::size_t count_ = 0;
    std::size_t sorted_ = 0;  // cand_[0, sorted_) is the sorted head of the survivors
    double rawEntropy_ = 0;
};

}  // namespace kvscope
