#include "run/run_comparison.h"

#include <cmath>

namespace kvscope {
namespace {

const RunRecord* recordOf(const RunExport& e, Mode mode) {
    for (const RunRecord& r : e.runs)
        if (r.mode == mode) return &r;
    return nullptr;
}

// Steps over the compute time of the decode steps (the prefill's pass over the prompt apart).
double decodeRate(const RunRecord& r) {
    double ms = 0;
    int steps = 0;
    for (const StepResultPtr& s : r.steps) {
        if (s->prefill) continue;
        ms += s->milliseconds;
        ++steps;
    }
    return ms > 0 ? steps / (ms / 1e3) : 0;
}

// The largest change of a raw probability among the candidates both steps report.
StepShift shiftOf(const StepResult& reference, const StepResult& step) {
    StepShift s;
    for (const CandidateReport& a : step.sample.top)
        for (const CandidateReport& b : reference.sample.top) {
            if (a.id != b.id) continue;
            ++s.compared;
            if (s.token < 0 || std::abs(a.rawProb - b.rawProb) > std::abs(s.change()))
                s = StepShift{a.id, b.rawProb, a.rawProb, s.compared};
        }
    return s;
}

}  // namespace

std::optional<RunComparison> compareRuns(const RunExport& reference, const RunExport& run,
                                         Mode mode) {
    const RunRecord* a = recordOf(reference, mode);
    const RunRecord* b = recordOf(run, mode);
    if (!a || !b || !reference.model || !run.model) return std::nullopt;
    if (reference.model->config.vocabSize != run.model->config.vocabSize ||
        reference.promptIds != run.promptIds)
        return std::nullopt;
    RunComparison c;
    c.referenceModel = reference.model->name;
    const std::size_t n = std::min(a->steps.size(), b->steps.size());
    for (std::size_t k = 0; k < n; ++k) {
        c.shifts.push_back(shiftOf(*a->steps[k], *b->steps[k]));
        ++c.comparableSteps;
        if (a->steps[k]->token != b->steps[k]->token) break;  // the next contexts differ
    }
    c.referenceTokensPerSecond = decodeRate(*a);
    c.tokensPerSecond = decodeRate(*b);
    return c;
}

}  // namespace kvscope
