// The Cost panel's Roofline tab (issue 13, 3) on a short Compare run of the embedded model: one
// point per step at its FLOPs per byte and GFLOP/s, the roofs drawn where the given roofs put
// them (injected, never measured here), the tooltip naming the roof that bounds a step, the
// measuring states, and the export. No check depends on font metrics.

#include "chart_export.h"
#include "chart_runs.h"
#include "chart_style.h"
#include "cost/roofline.h"
#include "cost_charts.h"
#include "model/embedded_model.h"
#include "qcustomplot_include.h"
#include "roofline_chart.h"
#include "theme.h"

#include <QLabel>
#include <QPushButton>
#include <QSignalSpy>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>

using namespace kvscope;
using test::generate;
using test::viewOf;

namespace {

QCPGraph* graph(const CostCharts& w, const QString& id) {
    for (QCustomPlot* p : w.plots())
        if (auto* g = p->findChild<QCPGraph*>(id)) return g;
    qFatal("no graph %s", qPrintable(id));
}

QCustomPlot* rooflinePlot(const CostCharts& w) {
    for (const auto& [stem, plot] : w.namedPlots())
        if (stem == QStringLiteral("roofline")) return plot;
    qFatal("no roofline in namedPlots()");
}

bool near(double a, double b, double rel = 1e-9) {
    return std::abs(a - b) <= rel * std::max(std::abs(a), std::abs(b));
}

// Whether `g` has a point at (x, y).
bool hasPoint(const QCPGraph* g, double x, double y) {
    for (auto it = g->data()->constBegin(); it != g->data()->constEnd(); ++it)
        if (near(it->key, x) && near(it->value, y)) return true;
    return false;
}

MachineRoofs roofs(double bandwidth, double gemm) {
    MachineRoofs r;
    r.bandwidthGBs = bandwidth, r.gemmGflops = gemm, r.threads = 2;
    r.measured = QDateTime(QDate(2026, 3, 4), QTime(5, 6), Qt::UTC);
    return r;
}

QString name(Mode m) {
    return QString::fromLatin1(modeName(m));
}

}  // namespace

class TestRooflineChart : public QObject {
    Q_OBJECT
    ModelPtr model_;
    RunExport compare_, cachedOnly_;
    const StepResult* cachedDecode_ = nullptr;  // a cached decode step, memory-bound
    const StepResult* naiveLast_ = nullptr;     // the naive run's last step, most reuse
    MachineRoofs between_;  // roofs whose ridge lies between those two steps' intensities

private Q_SLOTS:
    void initTestCase() {
        auto m = loadEmbeddedModel();
        QVERIFY2(m, qPrintable(m.errorMessage()));
        model_ = m.value();
        const std::vector<int> prompt = model_->tokenizer->encode("Once upon a time, there was");
        QVERIFY(prompt.size() >= 3);
        compare_ = generate(model_, {Mode::Naive, Mode::Cached}, prompt, 24);
        cachedOnly_ = generate(model_, {Mode::Cached}, prompt, 8);
        cachedDecode_ = compare_.runs[1].steps[10].get();
        naiveLast_ = compare_.runs[0].steps.back().get();
        QVERIFY(!cachedDecode_->prefill && cachedDecode_->mode == Mode::Cached);
        QVERIFY(naiveLast_->mode == Mode::Naive);
        const double low = rooflinePoint(*cachedDecode_, std::nullopt)->intensity;
        const double high = rooflinePoint(*naiveLast_, std::nullopt)->intensity;
        // Naive reuses every weight for all n rows; a cached decode step for one.
        QVERIFY2(high > 4 * low, qPrintable(QStringLiteral("%1 vs %2").arg(high).arg(low)));
        const double ridge = std::sqrt(low * high);
        between_ = roofs(10, 10 * ridge);
    }

    // One point per step and mode, at x = FLOPs / bytes moved and y = FLOPs / ms x 1e-6; the
    // cached prefill in a series of its own.
    void onePointPerStepAtItsIntensityAndRate() {
        CostCharts w;
        w.setView(viewOf(compare_));
        w.refresh();
        for (const RunRecord& r : compare_.runs) {
            const QCPGraph* decode = graph(w, "roofline." + name(r.mode));
            const QCPGraph* prefill = graph(w, "roofline.prefill." + name(r.mode));
            QCOMPARE(decode->data()->size() + prefill->data()->size(), int(r.steps.size()));
            QCOMPARE(prefill->data()->size(), r.mode == Mode::Cached ? 1 : 0);
            for (const StepResultPtr& s : r.steps) {
                QVERIFY(s->milliseconds > 0);
                const double x = double(s->flops.total()) / double(s->bytes.total());
                const double y = double(s->flops.total()) / s->milliseconds * 1e-6;
                QVERIFY2(hasPoint(s->prefill ? prefill : decode, x, y),
                         qPrintable(QStringLiteral("%1 step %2").arg(name(r.mode)).arg(s->step)));
            }
            QCOMPARE(decode->scatterStyle().brush().color().rgb(), theme::modeColor(r.mode).rgb());
            QVERIFY(decode->visible());
        }
        QVERIFY(graph(w, "roofline.prefill.cached")->visible());
        QVERIFY(!graph(w, "roofline.prefill.naive")->visible());
        // Only the mode that ran is drawn.
        w.setView(viewOf(cachedOnly_));
        w.refresh();
        QVERIFY(!graph(w, "roofline.naive")->visible());
        QCOMPARE(graph(w, "roofline.cached")->data()->size(), 7);
    }

    // The bent line of the model: bandwidth x intensity up to the ridge, then the GEMM rate; every
    // point and the ridge inside the axes; labels that name each roof and its value.
    void roofsAreDrawnAsGiven() {
        CostCharts w;
        w.setRoofs(roofs(20, 100));  // ridge at 5 FLOP/byte
        // As the window streams it: the first step of each mode (the cached prefill), then the
        // rest.
        RunExport streaming = compare_;
        for (RunRecord& r : streaming.runs) r.steps.resize(1);
        w.setView(viewOf(streaming));
        w.refresh();
        streaming = compare_;
        w.refresh();
        const QCPGraph* bw = graph(w, "roofline.roof.bandwidth");
        const QCPGraph* gemm = graph(w, "roofline.roof.compute");
        QVERIFY(bw->visible() && gemm->visible());
        QCOMPARE(bw->data()->size(), 2);
        for (auto it = bw->data()->constBegin(); it != bw->data()->constEnd(); ++it)
            QVERIFY(near(it->value, 20 * it->key));
        QCOMPARE((bw->data()->constEnd() - 1)->key, 5.0);
        QCOMPARE((bw->data()->constEnd() - 1)->value, 100.0);
        QCOMPARE(gemm->data()->constBegin()->key, 5.0);
        for (auto it = gemm->data()->constBegin(); it != gemm->data()->constEnd(); ++it)
            QCOMPARE(it->value, 100.0);
        const QCustomPlot* p = rooflinePlot(w);
        QCOMPARE(p->xAxis->scaleType(), QCPAxis::stLogarithmic);
        QCOMPARE(p->yAxis->scaleType(), QCPAxis::stLogarithmic);
        QCOMPARE((gemm->data()->constEnd() - 1)->key, p->xAxis->range().upper);
        QVERIFY(p->xAxis->range().contains(5.0) && p->yAxis->range().contains(100.0));
        for (const char* id : {"roofline.naive", "roofline.cached", "roofline.prefill.cached"}) {
            const QCPGraph* g = graph(w, id);
            for (auto it = g->data()->constBegin(); it != g->data()->constEnd(); ++it)
                QVERIFY2(
                    p->xAxis->range().contains(it->key) && p->yAxis->range().contains(it->value),
                    id);
        }
        const auto* bwLabel = p->findChild<QCPItemText*>("roofline.roof.bandwidth.label");
        const auto* gemmLabel = p->findChild<QCPItemText*>("roofline.roof.compute.label");
        QVERIFY(bwLabel && bwLabel->visible() && gemmLabel && gemmLabel->visible());
        QVERIFY2(bwLabel->text().contains("memory") && bwLabel->text().contains("20 GB/s"),
                 qPrintable(bwLabel->text()));
        QVERIFY2(gemmLabel->text().contains("compute") && gemmLabel->text().contains("100 GFLOP/s"),
                 qPrintable(gemmLabel->text()));
        const auto* note = p->findChild<QCPTextElement*>("roofline.note");
        QVERIFY2(note->text().contains("measured 2026-03-04 05:06 UTC") &&
                     note->text().contains("2 threads") &&
                     note->text().contains("meeting at 5 FLOP/byte"),
                 qPrintable(note->text()));
        // The roofs are not series to read: the labels name them, the legend lists the steps.
        QVERIFY(!p->legend->hasItemWithPlottable(bw));
        // naive, cached, cached prefill: the order the series were made in, though the prefill
        // arrived first.
        QCOMPARE(p->legend->itemCount(), 3);
        const char* order[] = {"roofline.naive", "roofline.cached", "roofline.prefill.cached"};
        for (int i = 0; i < 3; ++i)
            QCOMPARE(p->legend->itemWithPlottable(graph(w, order[i])), p->legend->item(i));
    }

    // Hovering a step names the roof that bounds it and the share of that roof it reached: with
    // the ridge between them, a cached decode step is memory-bound and the last naive step
    // compute-bound.
    void toolTipNamesTheBoundingRoof() {
        CostCharts w;
        w.setRoofs(between_);
        w.setView(viewOf(compare_));
        w.refresh();
        const RooflineChart& chart = w.roofline();
        const auto decode = rooflinePoint(*cachedDecode_, between_.roofs());
        const QString tip = chart.pointToolTip(Mode::Cached, cachedDecode_->step);
        QVERIFY2(tip.startsWith(QStringLiteral("cached, step %1").arg(cachedDecode_->step)),
                 qPrintable(tip));
        QVERIFY(decode->bound == Roof::Bandwidth);
        QVERIFY2(tip.contains("bound by memory bandwidth (10 GB/s)"), qPrintable(tip));
        const QString percent =
            QStringLiteral("ran at %1% of the roof").arg(100 * decode->fractionOfRoof, 0, 'g', 3);
        QVERIFY2(tip.contains(percent), qPrintable(tip + " / " + percent));

        const auto naive = rooflinePoint(*naiveLast_, between_.roofs());
        QVERIFY(naive->bound == Roof::Compute);
        const QString naiveTip = chart.pointToolTip(Mode::Naive, naiveLast_->step);
        QVERIFY2(naiveTip.contains(QStringLiteral("bound by compute (GEMM")), qPrintable(naiveTip));
        QVERIFY(naiveTip.contains(
            QStringLiteral("ran at %1% of the roof").arg(100 * naive->fractionOfRoof, 0, 'g', 3)));
        QVERIFY(chart.pointToolTip(Mode::Cached, 0).contains("prefill"));

        // Under the pointer: the marker at the naive run's last point, as laid out on screen.
        QCustomPlot* p = rooflinePlot(w);
        p->resize(900, 600);
        p->replot();
        const QPointF at(p->xAxis->coordToPixel(naive->intensity),
                         p->yAxis->coordToPixel(naive->gflops));
        const QString hovered = chart.toolTipAt(at + QPointF(2, -1));
        QVERIFY2(hovered.startsWith("naive") && hovered.contains("bound by compute"),
                 qPrintable(hovered));
        QVERIFY(chart.toolTipAt(QPointF(1, 1)).isEmpty());  // far from every point
    }

    // Before the roofs are known the steps show, and the note and the button say what to do;
    // while a probe runs, the button waits.
    void withoutRoofsTheStepsShowAndTheNoteSaysHowToMeasure() {
        CostCharts w;
        w.setView(viewOf(compare_));
        w.refresh();
        QCustomPlot* p = rooflinePlot(w);
        QVERIFY(!graph(w, "roofline.roof.bandwidth")->visible());
        QVERIFY(!graph(w, "roofline.roof.compute")->visible());
        QVERIFY(graph(w, "roofline.cached")->visible());
        QVERIFY(p->xAxis->tickLabels() && p->yAxis->tickLabels());
        const auto* note = p->findChild<QCPTextElement*>("roofline.note");
        QVERIFY2(note->visible() && note->text().contains("not measured yet") &&
                     note->text().contains("Measure roofs") &&
                     note->text().contains("--measure-roofs"),
                 qPrintable(note->text()));
        QVERIFY(w.roofline().pointToolTip(Mode::Cached, 3).contains("roofs not measured yet"));
        auto* button = w.findChild<QPushButton*>("roofline.measure");
        QVERIFY(button && button->isEnabled());
        QSignalSpy asked(&w, &CostCharts::measureRoofsRequested);
        button->click();
        QCOMPARE(asked.count(), 1);

        w.setRoofs(std::nullopt, true);
        QVERIFY(!button->isEnabled());
        QVERIFY2(note->text().contains("Measuring"), qPrintable(note->text()));
        QVERIFY(w.findChild<QLabel*>("roofline.status")->text().contains("Measuring"));
        w.setRoofs(between_, false);  // the probe's answer arrives
        QVERIFY(button->isEnabled());
        QVERIFY(graph(w, "roofline.roof.bandwidth")->visible());
        QVERIFY(note->text().contains("measured 2026-03-04"));
    }

    // The roofs' options row shows with the Roofline tab only.
    void measureRowFollowsTheTab() {
        CostCharts w;
        w.show();
        auto* tabs = w.findChild<QTabWidget*>();
        auto* row = w.findChild<QWidget*>("roofline.options");
        QVERIFY(tabs && row);
        QCOMPARE(tabs->tabText(5), QStringLiteral("Roofline"));
        QCOMPARE(tabs->widget(5), rooflinePlot(w));
        tabs->setCurrentIndex(5);
        QVERIFY(row->isVisible());
        tabs->setCurrentIndex(0);
        QVERIFY(!row->isVisible());
    }

    // The selected step's points are ringed (an interaction aid the exports leave out).
    void selectedStepIsRinged() {
        CostCharts w;
        w.setView(viewOf(compare_, 5));
        w.refresh();
        const QCPGraph* ring = graph(w, "roofline.selected");
        QVERIFY(ring->visible());
        QCOMPARE(ring->data()->size(), 2);  // naive and cached at the same position
        QVERIFY(charts::isInteractive(ring));
        for (const RunRecord& r : compare_.runs) {
            const auto at = rooflinePoint(*r.steps[5], std::nullopt);
            QVERIFY(hasPoint(ring, at->intensity, at->gflops));
        }
    }

    // Exported like the other charts: in namedPlots() as "roofline", and written as PNG, PDF and
    // SVG by Export All.
    void exportsLikeTheOthers() {
        CostCharts w;
        w.setRoofs(between_);
        w.setView(viewOf(compare_));
        w.refresh();
        QTemporaryDir dir;
        const auto written =
            exportAllCharts(w.namedPlots(), dir.path(), chartCaption(viewOf(compare_)));
        QVERIFY2(written, qPrintable(written.errorMessage()));
        for (const char* suffix : {".png", ".pdf", ".svg"}) {
            const QString f = QDir(dir.path()).filePath(QStringLiteral("roofline") + suffix);
            QVERIFY2(written.value().contains(f), qPrintable(f));
            QVERIFY(QFileInfo(f).size() > 1000);
        }
        QVERIFY(!QImage(QDir(dir.path()).filePath("roofline.png")).isNull());
        const QString keep = qEnvironmentVariable("KVSCOPE_GRAB_DIR");
        if (!keep.isEmpty())
            QVERIFY(exportChart(rooflinePlot(w), QDir(keep).filePath("roofline_export.png"),
                                chartCaption(viewOf(compare_)), 1.0, QSize(1200, 750)));
    }
};

QTEST_MAIN(TestRooflineChart)
#include "test_roofline_chart.moc"
