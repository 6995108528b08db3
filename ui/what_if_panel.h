#pragma once
// The what-if dock: pick a published configuration (or the loaded model, or type one in) and a
// length up to a million tokens, and read what generation would cost, from the closed form alone
// (core/cost/what_if.h): FLOPs per step and in total with attention and weights apart, where
// attention takes over, the log-log slope per decade, K/V-cache and weight bytes by type, and
// how long a step would take at this machine's measured roofs. A log-log chart (objectName
// "what_if", exported like the other charts) draws per-step and cumulative FLOPs.
//
// The roofs come from a short probe (core/cost/machine_probe.h) run on a thread of its own, at
// start-up when none is remembered or when the user asks; never on the GUI thread.

#include "cost/machine_probe.h"
#include "cost/what_if_report.h"

#include <QWidget>

#include <memory>
#include <optional>

class QCustomPlot;

namespace kvscope {

class WhatIfPanel : public QWidget {
    Q_OBJECT
public:
    explicit WhatIfPanel(QWidget* parent = nullptr);
    ~WhatIfPanel() override;

    // The first entry of the model list, "the loaded model".
    void setLoadedModel(const ModelConfig& config, const QString& name);
    // A preset key (model_presets.h), or an empty string for the loaded model.
    bool selectPreset(const QString& key);
    void setLength(std::int64_t n);
    // The configuration typed into the fields: the selected entry until a field is edited.
    void setConfig(const ModelConfig& config);

    // What the panel shows now; nullopt while the typed configuration is not valid.
    std::optional<whatif::Query> query() const;
    QCustomPlot* plot() const;
    // The figures as shown (plain text), for tests and the clipboard.
    QString reportText() const;

    void setRoofs(const MachineRoofs& roofs);
    std::optional<MachineRoofs> roofs() const;
    // Measures the roofs on a background thread and remembers them in QSettings.
    void measureRoofs();
    // At start-up: measures only when QSettings remembers no roofs.
    void measureRoofsIfUnknown();
    bool isMeasuring() const;

Q_SIGNALS:
    void roofsMeasured();

private:
    void buildForm();
    void buildChart();
    void fillFields(const ModelConfig& c);
    void onFieldEdited();
    void onModelPicked(int index);
    void recompute();
    void updateChart(const whatif::Query& q);
    void updateReport(const whatif::Query& q);
    void updateRoofsLine();

    struct Impl;
    std::unique_ptr<Impl> d_;
};

}  // namespace kvscope
