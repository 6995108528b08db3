#pragma once
// Two runs of one prompt on two models that share a vocabulary (the same model in two
// precisions, say F32 and Q4_K_M): how far the next-token distribution moved at each step, and
// how fast each model decoded. A step is comparable while both runs saw the same tokens before
// it; after the first step where they sampled different tokens, their contexts differ.

#include "run/run_export.h"

#include <QString>

#include <optional>
#include <vector>

namespace kvscope {

struct StepShift {
    int token = -1;    // the candidate whose raw probability moved most
    float before = 0;  // its raw probability in the reference run
    float after = 0;   // and in this run
    int compared = 0;  // candidates both steps report (each reports its top by raw logit)
    float change() const { return after - before; }
};

struct RunComparison {
    QString referenceModel;   // the reference run's model, by name
    int comparableSteps = 0;  // steps 0 .. comparableSteps - 1 saw the same tokens before them
    std::vector<StepShift> shifts;        // (comparableSteps)
    double referenceTokensPerSecond = 0;  // decode steps only (not the prefill), compute time
    double tokensPerSecond = 0;
};

// Compares `run`'s record of `mode` with `reference`'s record of the same mode; nullopt when
// either is missing, the vocabularies differ in size or the prompts' ids differ.
std::optional<RunComparison> compareRuns(const RunExport& reference, const RunExport& run,
                                         Mode mode);

}  // namespace kvscope
