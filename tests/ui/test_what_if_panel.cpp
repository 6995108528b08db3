// The what-if dock offscreen: presets fill the fields, the chart draws the closed form (held
// against the core's summing form), typed configurations are checked, the time per step follows
// the roofs, the probe runs off the GUI thread and is remembered, and the chart exports like the
// others. No check depends on font metrics.

#include "chart_export.h"
#include "chart_style.h"
#include "cost/what_if.h"
#include "main_window.h"
#include "model/embedded_model.h"
#include "model/model_presets.h"
#include "qcustomplot_include.h"
#include "roofs_probe.h"
#include "what_if_panel.h"

#include <QComboBox>
#include <QDockWidget>
#include <QSettings>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStandardPaths>
#include <QSvgRenderer>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>

using namespace kvscope;

namespace {

QCPGraph* graph(const WhatIfPanel& p, const QString& name) {
    auto* g = p.plot()->findChild<QCPGraph*>(name);
    if (!g) qFatal("no graph %s", qPrintable(name));
    return g;
}

double lastKey(const QCPGraph* g) {
    return (g->data()->constEnd() - 1)->key;
}

std::optional<double> valueAt(const QCPGraph* g, double key) {
    const auto it = g->data()->findBegin(key, false);
    if (it == g->data()->constEnd() || it->key != key) return std::nullopt;
    return it->value;
}

}  // namespace

class TestWhatIfPanel : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        QCoreApplication::setOrganizationName(QStringLiteral("kvscope-tests-whatif"));
        QSettings().clear();
    }
    void cleanupTestCase() { QSettings().clear(); }

    void presetsFillTheFieldsAndCiteTheirSource() {
        WhatIfPanel p;
        for (const ModelPreset& preset : modelPresets()) {
            QVERIFY(p.selectPreset(QString::fromLatin1(preset.key)));
            const auto q = p.query();
            QVERIFY(q);
            QCOMPARE(q->config.nLayer, preset.config.nLayer);
            QCOMPARE(q->config.nKvHead, preset.config.nKvHead);
            QCOMPARE(q->config.vocabSize, preset.config.vocabSize);
            QCOMPARE(q->source, QString::fromUtf8(preset.source));
            auto* combo = p.findChild<QComboBox*>(QStringLiteral("whatIf.model"));
            QCOMPARE(combo->toolTip(), QString::fromUtf8(preset.source));
            QCOMPARE(combo->itemData(combo->currentIndex(), Qt::ToolTipRole).toString(),
                     QString::fromUtf8(preset.source));
        }
        QVERIFY(!p.selectPreset(QStringLiteral("no-such-model")));
    }

    // The chart is the closed form: at a length the summing form can reach, the plotted run
    // totals equal cumulativeFlops, and the per-step curves equal stepFlops.
    void chartDrawsTheClosedForm() {
        WhatIfPanel p;
        QVERIFY(p.selectPreset(QStringLiteral("smollm2-135m")));
        p.setLength(3000);
        const ModelConfig c = findPreset(QStringLiteral("smollm2-135m"))->config;
        for (Mode m : {Mode::Naive, Mode::Cached}) {
            const QString mode = QString::fromLatin1(modeName(m));
            const QCPGraph* total = graph(p, "whatIf.cumulative." + mode + ".total");
            const QCPGraph* attention = graph(p, "whatIf.cumulative." + mode + ".attention");
            const QCPGraph* step = graph(p, "whatIf.step." + mode + ".weights");
            QCOMPARE(lastKey(total), 3000.0);
            QVERIFY(total->data()->size() > 100);
            const FlopBreakdown f = cumulativeFlops(c, 1, 3000, m);
            QCOMPARE(*valueAt(total, 3000), double(f.total()));
            QCOMPARE(*valueAt(attention, 3000), double(f.attention()));
            QCOMPARE(*valueAt(step, 3000), double(stepFlops(c, 3000, m).weightProducts()));
            QCOMPARE(total->keyAxis()->scaleType(), QCPAxis::stLogarithmic);
            QCOMPARE(total->valueAxis()->scaleType(), QCPAxis::stLogarithmic);
        }
        // Beyond the context (8192) the context line shows.
        p.setLength(1000000);
        QCOMPARE(lastKey(graph(p, "whatIf.cumulative.naive.total")), 1e6);
        QVERIFY(p.plot()
                    ->findChild<QCPItemLine*>(QStringLiteral("whatIf.cumulative.context"))
                    ->visible());
        QVERIFY(p.reportText().contains(QStringLiteral("beyond the model's context")));
        // The crossover marks: where a whole cached run turns attention-dominated.
        const auto x = whatif::cumulativeCrossover(c, Mode::Cached);
        QVERIFY(x);
        auto* line =
            p.plot()->findChild<QCPItemLine*>(QStringLiteral("whatIf.cumulative.crossover.cached"));
        QVERIFY(line->visible());
        QCOMPARE(line->start->coords().x(), double(*x));
    }

    void reportNamesTheFigures() {
        WhatIfPanel p;
        QVERIFY(p.selectPreset(QStringLiteral("llama2-7b")));
        p.setLength(4096);
        const QString text = p.reportText();
        // 2 x 32 layers x 4096 positions x 4096 values x 2 bytes = 2.15 GB at F16.
        QVERIFY2(text.contains(QStringLiteral("2.15 GB")), qPrintable(text));
        QVERIFY(text.contains(QStringLiteral("6.74 G")));  // parameters
        QVERIFY(text.contains(QStringLiteral("MQA")));
        QVERIFY(text.contains(QStringLiteral("Q4_K")));
        QVERIFY(text.contains(QStringLiteral("measure this machine's roofs")));
    }

    void invalidConfigurationSaysWhy() {
        WhatIfPanel p;
        QVERIFY(p.selectPreset(QStringLiteral("gpt2-small")));
        ModelConfig c = findPreset(QStringLiteral("gpt2-small"))->config;
        c.nHead = 7;  // 768 is not a multiple of 7
        p.setConfig(c);
        QVERIFY(!p.query());
        QVERIFY(p.reportText().contains(QStringLiteral("Not a valid configuration")));
        c.nHead = 12, c.nKvHead = 4;
        p.setConfig(c);
        QVERIFY(p.query());
        QCOMPARE(p.query()->config.nKvHead, 4);
        QCOMPARE(p.query()->source, QStringLiteral("typed in"));
    }

    // time = max(bytes / bandwidth, FLOPs / GEMM rate): a cached step is bound by the read
    // bandwidth, a naive one by the GEMM rate.
    void timeFollowsTheRoofs() {
        WhatIfPanel p;
        QVERIFY(p.selectPreset(QStringLiteral("llama3-8b")));
        p.setLength(8192);
        MachineRoofs r;
        r.bandwidthGBs = 30, r.gemmGflops = 150, r.threads = 2;
        p.roofsProbe()->setRoofs(r);
        const QString text = p.reportText();
        QVERIFY2(text.contains(QStringLiteral("cached: ")) &&
                     text.contains(QStringLiteral("bound by the read bandwidth")),
                 qPrintable(text));
        QVERIFY(text.contains(QStringLiteral("bound by the GEMM rate")));
        const ModelConfig c = findPreset(QStringLiteral("llama3-8b"))->config;
        const whatif::StepTime t =
            whatif::stepTime(c, 8192, Mode::Cached, GgmlType::F16, GgmlType::F16, r.roofs());
        QVERIFY(text.contains(charts::siValue(t.seconds(), QStringLiteral("s"))));
    }

    // The probe runs on a thread of its own: measure() returns at once, the result arrives
    // through the event loop, and QSettings keeps it for the next panel.
    void probeRunsInTheBackgroundAndIsRemembered() {
        QSettings().clear();
        {
            WhatIfPanel p;
            RoofsProbe* probe = p.roofsProbe();
            QVERIFY(!probe->roofs());
            QSignalSpy done(probe, &RoofsProbe::measured);
            probe->measure();
            QVERIFY(probe->isMeasuring());
            QVERIFY(done.isEmpty());
            QVERIFY(done.wait(60000));
            QVERIFY(!probe->isMeasuring());
            const auto r = probe->roofs();
            QVERIFY(r && r->bandwidthGBs > 0 && r->gemmGflops > 0);
            qInfo("roofs: %s", qPrintable(describeRoofs(*r)));
            QVERIFY(p.reportText().contains(QStringLiteral("bound by")));
        }
        WhatIfPanel again;
        QVERIFY(again.roofsProbe()->roofs());
        QVERIFY(again.reportText().contains(QStringLiteral("bound by")));
    }

    // The window: a dock of its own, the loaded model in the list, the chart in Export All.
    void windowShowsTheLoadedModelAndExportsTheChart() {
        MainWindow w;
        auto m = loadEmbeddedModel();
        QVERIFY(m);
        w.setModel(m.value());
        QVERIFY(w.findChild<QDockWidget*>(QStringLiteral("whatIf")));
        const auto q = w.whatIf()->query();
        QVERIFY(q);
        QCOMPARE(q->config.nEmbd, m.value()->config.nEmbd);
        QCOMPARE(q->name, m.value()->name);
        bool listed = false;
        for (const auto& [name, plot] : w.charts())
            listed = listed || (name == QStringLiteral("what_if") && plot == w.whatIf()->plot());
        QVERIFY(listed);
        QTemporaryDir dir;
        for (const char* suffix : {".png", ".pdf", ".svg"}) {
            const QString path = dir.filePath(QStringLiteral("what_if") + suffix);
            const auto r = exportChart(w.whatIf()->plot(), path, QStringLiteral("caption"), 1.0,
                                       QSize(800, 500));
            QVERIFY2(r, qPrintable(r.errorMessage()));
            QVERIFY(QFileInfo(path).size() > 1000);
        }
        QCOMPARE(QImage(dir.filePath(QStringLiteral("what_if.png"))).size(), QSize(800, 500));
        QVERIFY(QSvgRenderer(dir.filePath(QStringLiteral("what_if.svg"))).isValid());
        // A preset the user picked stays when another model loads.
        QVERIFY(w.whatIf()->selectPreset(QStringLiteral("qwen2.5-7b")));
        w.setModel(m.value());
        QCOMPARE(w.whatIf()->query()->config.nLayer, 28);
    }

    // With KVSCOPE_GRAB_DIR set: the dock in a 1280x720 window and the panel alone, for a human
    // to look at (run under Xvfb with QT_QPA_PLATFORM=xcb to see the real window system).
    void screenshotsWhenAsked() {
        const QString keep = qEnvironmentVariable("KVSCOPE_GRAB_DIR");
        if (keep.isEmpty()) QSKIP("KVSCOPE_GRAB_DIR not set");
        MainWindow w;
        w.resize(1280, 680);
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        auto m = loadEmbeddedModel();
        QVERIFY(m);
        w.setModel(m.value());
        w.findChild<QDockWidget*>(QStringLiteral("whatIf"))->raise();
        w.whatIf()->selectPreset(QStringLiteral("llama3-70b"));
        w.whatIf()->setLength(1000000);
        MachineRoofs r;
        r.bandwidthGBs = 30, r.gemmGflops = 120, r.threads = 2;
        w.roofs()->setRoofs(r);
        QTest::qWait(200);
        w.grab().save(QDir(keep).filePath(QStringLiteral("whatif_window_1280x680.png")));
        WhatIfPanel p;
        p.resize(1200, 700);
        p.selectPreset(QStringLiteral("gpt2-small"));
        p.setLength(1000000);
        p.roofsProbe()->setRoofs(r);
        p.show();
        QVERIFY(QTest::qWaitForWindowExposed(&p));
        QTest::qWait(200);
        p.grab().save(QDir(keep).filePath(QStringLiteral("whatif_panel_1200x700.png")));
        p.findChild<QTabWidget*>(QStringLiteral("whatIf.views"))->setCurrentIndex(1);
        QTest::qWait(100);
        p.grab().save(QDir(keep).filePath(QStringLiteral("whatif_figures_1200x700.png")));
        QVERIFY(exportChart(p.plot(), QDir(keep).filePath(QStringLiteral("what_if_export.png")),
                            QStringLiteral("what-if caption"), 1.0, QSize(1200, 750)));
    }
};

QTEST_MAIN(TestWhatIfPanel)
#include "test_what_if_panel.moc"
