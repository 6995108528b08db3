#pragma once
// One generation run: prompt ids in, one StepResult per token out. Synchronous: the worker thread
// (or the CLI) calls step() in a loop; cancel() may be called from any thread and interrupts a
// step in progress.

#include "model/model.h"
#include "run/attention_capture.h"
#include "run/sampler.h"
#include "run/step_result.h"
#include "util/compute_threads.h"

#include <atomic>
#include <vector>

namespace kvscope {

struct GenerationSettings {
    Mode mode = Mode::Cached;
    SamplerSettings sampler;
    int maxNewTokens = 100;
    bool captureAttention = true;
    bool stopAtEndOfText = false;  // stop at EOS, or <|endoftext|> when there is no EOS
    int threads = 0;               // compute threads for the forward pass; 0 = all hardware threads
};

// Largest |a[i] - b[i]|: how far two modes' logits for the same step are apart.
float maxAbsDifference(std::span<const float> a, std::span<const float> b);

class GenerationSession {
public:
    explicit GenerationSession(ModelPtr model);

    // Starts a run. An empty prompt starts from BOS, or from <|endoftext|> (as GPT-2 was trained
    // to) when the vocabulary has no BOS; a prompt
    // that fills the context leaves no room and is an error.
    Result<bool> start(std::vector<int> promptIds, const GenerationSettings& settings,
                       std::uint64_t runId = 0);
    // Computes the next token. Returns null when the run has ended: see stopReason().
    StepResultPtr step();
    void cancel() { cancel_.store(true, std::memory_order_relaxed); }

    bool finished() const { return stop_ != StopReason::None; }
    StopReason stopReason() const { return stop_; }
    const std::vector<int>& tokens() const { return tokens_; }
    int promptLength() const { return promptLength_; }
    const GenerationSettings& settings() const { return settings_; }
    const ModelPtr& model() const { return model_; }
    // Logits of the last step (valid until the next step); for cross-checking the two modes.
    std::span<const float> lastLogits() const { return logits_; }

private:
    StopReason limitReached() const;

    ModelPtr model_;
    std::unique_ptr<InferenceState> state_;
    AttentionCapture capture_;
    Sampler sampler_;
    GenerationSettings settings_;
    std::vector<int> tokens_;  // prompt then generated, reserved to the context once
    std::vector<float> logits_;
    FlopBreakdown cumulative_;
    std::atomic<bool> cancel_{false};
    StopReason stop_ = StopReason::MaxTokens;  // not started
    std::uint64_t runId_ = 0;
    int promptLength_ = 0;
    int generated_ = 0;
};

}  // namespace kvscope
