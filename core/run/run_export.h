#pragma once
// Run data for handouts and scripts: run.json (settings, model, every step) and run.csv (one row
// per step). Used by the headless CLI and by the window's "Export all".

#include "cost/machine_probe.h"
#include "run/generation_session.h"
#include "run/step_result.h"

#include <QJsonObject>
#include <QString>

#include <optional>
#include <vector>

namespace kvscope {

struct RunRecord {
    Mode mode = Mode::Cached;
    std::vector<StepResultPtr> steps;
    StopReason stop = StopReason::None;
};

struct RunExport {
    ModelPtr model;
    QString prompt;
    std::vector<int> promptIds;
    GenerationSettings settings;  // mode is per run
    std::vector<RunRecord> runs;
    std::optional<float> maxLogitDiff;  // when both modes ran in lockstep
    // This machine's roofs (machine_probe.h), which the roofline chart draws the steps under;
    // nullopt when not measured. run.json's "machine_roofs".
    std::optional<MachineRoofs> roofs = std::nullopt;
};

QJsonObject modelToJson(const Model& m);
QJsonObject flopsToJson(const FlopBreakdown& f);
// {bandwidth_gbs, gemm_gflops, ridge_flop_per_byte, threads, measured_utc}, or null.
QJsonValue roofsToJson(const std::optional<MachineRoofs>& r);
QJsonObject runToJson(const RunExport& e);
QByteArray runToCsv(const RunExport& e);

// Writes `data` to `path` atomically; returns an error naming the file.
Result<bool> writeFile(const QString& path, const QByteArray& data);

}  // namespace kvscope
