#pragma once
// Test support for the chart tests: real runs of a model, in lockstep on one seed as the window
// and the CLI run them, and the RunView the panels draw from.

#include "model/model.h"
#include "run/generation_session.h"
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
    std::vector<std::unique_ptr<GenerationSession>> sessions;
    for (Mode m : modes) {
        GenerationSettings s = out.settings;
        s.mode = m;
        sessions.push_back(std::make_unique<GenerationSession>(model));
        if (!sessions.back()->start(prompt, s, 1 + std::uint64_t(sessions.size())))
            qFatal("start failed");
        out.runs.push_back(RunRecord{m, {}, StopReason::None});
    }
    while (!sessions[0]->finished())
        for (std::size_t i = 0; i < sessions.size(); ++i)
            if (StepResultPtr s = sessions[i]->step()) out.runs[i].steps.push_back(s);
    return out;
}

inline RunView viewOf(const RunExport& run, int selected = -1) {
    RunView v;
    v.run = &run;
    v.selectedStep = selected;
    return v;
}

}  // namespace kvscope::test
