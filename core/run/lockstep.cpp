#include "run/lockstep.h"

#include <QElapsedTimer>

#include <algorithm>

namespace kvscope {

Result<std::unique_ptr<LockstepRun>> LockstepRun::start(const ModelPtr& model,
                                                        const std::vector<int>& promptIds,
                                                        const GenerationSettings& settings,
                                                        const std::vector<Mode>& modes,
                                                        std::uint64_t runId) {
    std::unique_ptr<LockstepRun> run(new LockstepRun);
    run->modes_ = modes;
    for (Mode mode : modes) {
        GenerationSettings s = settings;
        s.mode = mode;
        run->sessions_.push_back(std::make_unique<GenerationSession>(model));
        auto started = run->sessions_.back()->start(promptIds, s, runId);
        if (!started) return started.error();
    }
    run->promptIds_ = run->sessions_.front()->tokens();
    return run;
}

LockstepOutcome LockstepRun::run(const BeforeRound& beforeRound, const OnStep& onStep) {
    LockstepOutcome out;
    out.computeSeconds.assign(sessions_.size(), 0.0);
    float maxDiff = 0;
    for (bool first = true; !sessions_.front()->finished(); first = false) {
        if (beforeRound && !beforeRound(first)) break;
        bool all = true;
        for (std::size_t i = 0; i < sessions_.size(); ++i) {
            QElapsedTimer t;
            t.start();
            StepResultPtr r = sessions_[i]->step();
            out.computeSeconds[i] += double(t.nsecsElapsed()) / 1e9;
            if (r && onStep) onStep(i, r);
            all = all && r;
        }
        if (sessions_.size() == 2 && all)
            maxDiff = std::max(
                maxDiff, maxAbsDifference(sessions_[0]->lastLogits(), sessions_[1]->lastLogits()));
    }
    for (const auto& s : sessions_) out.stops.push_back(s->stopReason());
    if (sessions_.size() == 2) {
        out.maxLogitDiff = maxDiff;
        out.tokensEqual = sessions_[0]->tokens() == sessions_[1]->tokens();
    }
    return out;
}

void LockstepRun::cancel() {
    for (const auto& s : sessions_) s->cancel();
}

}  // namespace kvscope
