#pragma once
// The one generation loop: one session per mode on the same prompt ids and seed, stepped in
// lockstep (naive first), so two modes can be compared token by token. The worker thread and the
// headless CLI both run it; they differ only in what they do between and after steps.

#include "run/generation_session.h"

#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace kvscope {

struct LockstepOutcome {
    std::vector<StopReason> stops;       // per mode, in the order given
    std::vector<double> computeSeconds;  // per mode: time inside step(), waits excluded
    std::optional<float> maxLogitDiff;   // two modes: largest logit difference of any step
    bool tokensEqual = true;             // two modes: the same tokens throughout
};

class LockstepRun {
public:
    // Starts one session per mode; an error (e.g. a prompt that fills the context) when any
    // refuses. An empty prompt starts from BOS or end-of-text (GenerationSession::start).
    static Result<std::unique_ptr<LockstepRun>> start(const ModelPtr& model,
                                                      const std::vector<int>& promptIds,
                                                      const GenerationSettings& settings,
                                                      const std::vector<Mode>& modes,
                                                      std::uint64_t runId = 0);

    // The ids the run really starts from (an empty prompt became BOS or end-of-text).
    const std::vector<int>& promptIds() const { return promptIds_; }
    const std::vector<Mode>& modes() const { return modes_; }

    // Steps until the first mode's session finishes. Before every round, `beforeRound(first)`
    // may wait (pause, and the delay between tokens) and returns false to stop; `onStep(i,
    // result)` receives each mode's result as it is computed.
    using BeforeRound = std::function<bool(bool first)>;
    using OnStep = std::function<void(std::size_t mode, const StepResultPtr& step)>;
    LockstepOutcome run(const BeforeRound& beforeRound, const OnStep& onStep);

    // Thread-safe: interrupts the step in progress in every session.
    void cancel();

private:
    LockstepRun() = default;

    std::vector<std::unique_ptr<GenerationSession>> sessions_;
    std::vector<Mode> modes_;
    std::vector<int> promptIds_;
};

}  // namespace kvscope
