#pragma once
// What every panel draws from: the current run as the GUI thread holds it, and the step the user
// selected. Panels keep a RunView and redraw from it in refresh(); they never see the engine.

#include "run/run_export.h"

namespace kvscope {

struct RunView {
    const RunExport* run = nullptr;  // null before the first run. runs[] holds one RunRecord per
                                     // mode: {naive, cached} when comparing, else the one mode.
    int selectedStep = -1;           // -1: follow the newest step
    Mode focusMode = Mode::Cached;   // the run that single-run panels show when comparing
    // The last run of the model loaded before this one (the same model in another precision,
    // say), which the distribution panel compares this run with; null when there is none.
    const RunExport* reference = nullptr;

    bool empty() const { return !run || run->runs.empty(); }
    bool comparing() const { return run && run->runs.size() == 2; }
    const RunRecord* record(Mode m) const {
        if (!run) return nullptr;
        for (const RunRecord& r : run->runs)
            if (r.mode == m) return &r;
        return nullptr;
    }
    const RunRecord* focus() const {
        if (const RunRecord* r = record(focusMode)) return r;
        return empty() ? nullptr : &run->runs.front();
    }
    // The step shown: the selected one, or the newest of the focus run.
    int stepIndex() const {
        const RunRecord* r = focus();
        if (!r || r->steps.empty()) return -1;
        const int last = int(r->steps.size()) - 1;
        return selectedStep < 0 ? last : std::min(selectedStep, last);
    }
    StepResultPtr step() const {
        const int i = stepIndex();
        return i < 0 ? nullptr : focus()->steps[std::size_t(i)];
    }
};

}  // namespace kvscope
