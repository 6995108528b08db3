#pragma once
// The what-if dock: pick a published configuration (or the loaded model, or type one in) and a
// length up to a million tokens, and read what generation would cost, from the closed form alone
// (core/cost/what_if.h): FLOPs per step and in total with attention and weights apart, where
// attention takes over, the log-log slope per decade, K/V-cache and weight bytes by type, and
// how long a step would take at this machine's measured roofs. A log-log chart (objectName
// "what_if", exported like the other charts) draws per-step and cumulative FLOPs.
//
// The roofs come from the window's RoofsProbe (roofs_probe.h), which the roofline chart reads
// too; the panel's Measure button asks it to measure again.

#include "cost/what_if_report.h"

#include <QWidget>

#include <memory>
#include <optional>

class QCustomPlot;

namespace kvscope {

class RoofsProbe;

class WhatIfPanel : public QWidget {
    Q_OBJECT
public:
    // `roofs`: the window's; null gives the panel one of its own (a panel shown alone).
    explicit WhatIfPanel(RoofsProbe* roofs = nullptr, QWidget* parent = nullptr);
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

    RoofsProbe* roofsProbe() const;

protected:
    void changeEvent(QEvent* event) override;

private:
    void fitFormWidth();
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
