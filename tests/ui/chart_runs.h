#pragma once
// Test support for the chart tests: real runs of a model, in lockstep on one seed as the window
// and the CLI run them, and the RunView the panels draw from.

#include "model/model.h"
#include "run/lockstep.h"
#include "run_view.h"

#include <QtGlobal>

#include <memory>
#include <vector>

namespace kvscope::test {

inline ModelPtr loadOrDie(const QString& dir) {
    auto m = loadModel(dir);
    if (!m) qFatal("%s", qPrintable(m.errorMessage()));
    return m.value();
}

inline RunExport generate(const ModelPtr& model, std::vector<Mode> modes, std::vector<int> prompt,
                          int tokens) {
    RunExport out{model, QString(), prompt, {}, {}, std::nullopt};
    out.settings.maxNewTokens = tokens;
    out.settings.captureAttention = false;
    out.settings.sampler.seed = 1234;
    auto run = LockstepRun::start(model, prompt, out.settings, modes, 1);
    if (!run) qFatal("%s", qPrintable(run.errorMessage()));
    for (Mode m : modes) out.runs.push_back(RunRecord{m, {}, StopReason::None});
    run.value()->run(
        {}, [&](std::size_t i, const StepResultPtr& s) { out.runs[i].steps.push_back(s); });
    return out;
}

inline RunView viewOf(const RunExport& run, int selected = -1) {
    RunView v;
    v.run = &run;
    v.selectedStep = selected;
    return v;
}

}  // namespace kvscope::test
