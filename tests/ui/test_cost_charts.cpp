// The cost charts and their export, on real runs of the reference model (and a tiny model whose
// attention overtakes its weight matrices inside the context).

#include "../core/tiny_model.h"
#include "chart_export.h"
#include "chart_runs.h"
#include "chart_style.h"
#include "cost/what_if.h"
#include "cost_charts.h"
#include "model/model.h"
#include "qcustomplot_include.h"
#include "run/generation_session.h"

#include <QCheckBox>
#include <QSignalSpy>
#include <QStackedWidget>
#include <QSvgRenderer>
#include <QTabBar>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <set>

using namespace kvscope;

namespace {

using test::generate;
using test::loadOrDie;
using test::viewOf;

template <typename T = QCPGraph>
T* find(const CostCharts& w, const QString& name) {
    for (QCustomPlot* p : w.plots())
        if (T* t = p->findChild<T*>(name)) return t;
    qFatal("no chart element %s", qPrintable(name));
}

QCustomPlot* plotNamed(const CostCharts& w, const QString& name) {
    for (const auto& [n, p] : w.namedPlots())
        if (n == name) return p;
    return nullptr;
}

// The value plotted at `key`, or nullopt when the graph has no point there.
std::optional<double> valueAt(const QCPGraph* g, double key) {
    const auto it = g->data()->findBegin(key, false);
    if (it == g->data()->constEnd() || it->key != key) return std::nullopt;
    return it->value;
}

// The plot a tab page shows: the page itself, or the current plot of a stacked page.
QCustomPlot* shownPlot(QWidget* page) {
    if (auto* p = qobject_cast<QCustomPlot*>(page)) return p;
    if (auto* stack = qobject_cast<QStackedWidget*>(page))
        return qobject_cast<QCustomPlot*>(stack->currentWidget());
    return nullptr;
}

int pointCount(const QCPGraph* g) {
    return g->data()->size();
}

// Distinct colours in a sample of pixels: a blank or single-colour render has one or two.
int distinctColors(const QImage& img, int stride = 7) {
    std::set<QRgb> seen;
    for (int y = 0; y < img.height(); y += stride)
        for (int x = 0; x < img.width(); x += stride) seen.insert(img.pixel(x, y));
    return int(seen.size());
}

}  // namespace

class TestCostCharts : public QObject {
    Q_OBJECT
    QTemporaryDir tmp_;
    ModelPtr ref_, tiny_, narrow_;
    RunExport compare_, cachedOnly_, naiveOnly_, tinyCompare_, tinyEdge_, narrowCompare_;

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(tmp_.isValid());
        ref_ = loadOrDie(QStringLiteral(KVSCOPE_FIXTURES "/reference/model"));
        const std::vector<int> prompt = ref_->tokenizer->encode("The quick brown fox jumps");
        QVERIFY(prompt.size() >= 3);
        compare_ = generate(ref_, {Mode::Naive, Mode::Cached}, prompt, 60);
        cachedOnly_ = generate(ref_, {Mode::Cached}, prompt, 60);
        naiveOnly_ = generate(ref_, {Mode::Naive}, prompt, 60);
        QCOMPARE(compare_.runs[0].steps.size(), std::size_t(60));
        QCOMPARE(compare_.runs[1].steps.size(), std::size_t(60));

        // Context 320, width 16: attention overtakes the weights near n = 161 (cached) and
        // n = 193 (naive), so a run from 150 to 230 tokens crosses both.
        QVERIFY(test::writeTinyModel(tmp_.filePath(QStringLiteral("tiny"))));
        tiny_ = loadOrDie(tmp_.filePath(QStringLiteral("tiny")));
        std::vector<int> longPrompt;
        for (int i = 0; i < 150; ++i) longPrompt.push_back((i * 37) % 256);
        tinyCompare_ = generate(tiny_, {Mode::Naive, Mode::Cached}, longPrompt, 80);
        // Ends at n = 196, just past the naive crossover (193): its label meets the right edge.
        tinyEdge_ = generate(tiny_, {Mode::Naive, Mode::Cached}, longPrompt, 46);

        // Width 4, context 1024: a Compare run of 1000 tokens, as in the issue, in a second.
        test::TinyShape shape;
        shape.nEmbd = 4;
        shape.nPositions = 1024;
        QVERIFY(test::writeTinyModel(tmp_.filePath(QStringLiteral("narrow1000")), shape));
        narrow_ = loadOrDie(tmp_.filePath(QStringLiteral("narrow1000")));
        narrowCompare_ =
            generate(narrow_, {Mode::Naive, Mode::Cached}, std::vector<int>{1, 2, 3}, 1000);
    }

    void perStepGraphsHaveOnePointPerStep() {
        CostCharts w;
        w.setView(viewOf(compare_));
        w.refresh();
        for (const RunRecord& r : compare_.runs) {
            const QString id = QStringLiteral("perStep.") + modeName(r.mode);
            const QCPGraph* line = find(w, id);
            const QCPGraph* prefill = find(w, id + ".prefill");
            QVERIFY(line->visible());
            QCOMPARE(pointCount(line) + pointCount(prefill), int(r.steps.size()));
            for (const StepResultPtr& s : r.steps) {
                const auto v = valueAt(s->prefill ? prefill : line, s->position);
                QVERIFY2(v, qPrintable(QStringLiteral("no point at %1").arg(s->position)));
                QCOMPARE(*v, double(s->flops.total()));
            }
        }
        // The cached prefill stands apart from the decode line, with its note.
        const QCPGraph* cachedPrefill = find(w, QStringLiteral("perStep.cached.prefill"));
        QCOMPARE(pointCount(cachedPrefill), 1);
        const int p = compare_.runs[1].steps.front()->promptLength;
        QVERIFY(valueAt(cachedPrefill, p));
        QVERIFY(!valueAt(find(w, QStringLiteral("perStep.cached")), p));
        const auto* note = find<QCPItemText>(w, QStringLiteral("perStep.prefillNote"));
        QVERIFY(note->visible());
        QCOMPARE(note->text(), QStringLiteral("prefill: %1 tokens in one pass").arg(p));
        // The note sits in the empty top-left corner and points at the marker.
        QCOMPARE(note->position->type(), QCPItemPosition::ptAxisRectRatio);
        QVERIFY(note->position->coords().x() < 0.25 && note->position->coords().y() < 0.25);
        const auto* arrow = find<QCPItemLine>(w, QStringLiteral("perStep.prefillArrow"));
        QVERIFY(arrow->visible());
        QCOMPARE(arrow->end->coords(), QPointF(p, *valueAt(cachedPrefill, p)));
        // Both modes ran: nothing is predicted.
        QVERIFY(!find(w, QStringLiteral("perStep.predicted.naive"))->visible());
        QVERIFY(!find(w, QStringLiteral("perStep.predicted.cached"))->visible());
    }

    void predictionShowsTheNaiveModeWhenOnlyCachedRuns() {
        CostCharts w;
        w.setView(viewOf(cachedOnly_));
        w.refresh();
        const QCPGraph* predicted = find(w, QStringLiteral("perStep.predicted.naive"));
        QVERIFY(predicted->visible());
        QVERIFY(!find(w, QStringLiteral("perStep.naive"))->visible());
        QCOMPARE(predicted->pen().style(), Qt::DashLine);
        QCOMPARE(pointCount(predicted), int(cachedOnly_.runs[0].steps.size()));
        for (const StepResultPtr& s : cachedOnly_.runs[0].steps)
            QCOMPARE(*valueAt(predicted, s->position),
                     double(stepFlops(ref_->config, s->position, Mode::Naive).total()));
    }

    void predictionShowsTheCachedModeWhenOnlyNaiveRuns() {
        CostCharts w;
        w.setView(viewOf(naiveOnly_));
        w.refresh();
        const QCPGraph* decode = find(w, QStringLiteral("perStep.predicted.cached"));
        const QCPGraph* prefill = find(w, QStringLiteral("perStep.predicted.cached.prefill"));
        QVERIFY(decode->visible());
        QCOMPARE(pointCount(decode) + pointCount(prefill), int(naiveOnly_.runs[0].steps.size()));
        for (const StepResultPtr& s : naiveOnly_.runs[0].steps) {
            const bool first = s->position == s->promptLength;
            const auto expected = first ? prefillFlops(ref_->config, s->promptLength)
                                        : stepFlops(ref_->config, s->position, Mode::Cached);
            QCOMPARE(*valueAt(first ? prefill : decode, s->position), double(expected.total()));
        }
    }

    void cumulativeCurvesCarryTheirSlopes() {
        CostCharts w;
        w.setView(viewOf(compare_));
        w.refresh();
        const auto naive = w.cumulativeSlope(Mode::Naive);
        const auto cached = w.cumulativeSlope(Mode::Cached);
        QVERIFY(naive && cached);
        QVERIFY2(*naive > *cached, qPrintable(QStringLiteral("%1 %2").arg(*naive).arg(*cached)));
        qInfo("reference model, prompt %d, 60 tokens: slope naive %.3f, cached %.3f",
              compare_.runs[0].steps.front()->promptLength, *naive, *cached);
        for (const char* m : {"naive", "cached"}) {
            const QCPGraph* g = find(w, QStringLiteral("cumulative.") + m);
            QVERIFY2(g->name().contains(QStringLiteral("slope")), qPrintable(g->name()));
            QCOMPARE(*valueAt(g, g->data()->at(g->data()->size() - 1)->key),
                     double(compare_.runs[m[0] == 'n' ? 0 : 1].steps.back()->cumulative.total()));
        }
        const auto* notes = find<QCPTextElement>(w, QStringLiteral("cumulative.notes"));
        QVERIFY(notes->text().contains(QStringLiteral("naive: slope")));
        QVERIFY(notes->text().contains(QStringLiteral("cached: slope")));
        // Neither mode reaches the crossover within this model's 256-token context: said, not
        // drawn.
        QVERIFY(notes->text().contains(QStringLiteral("up to the context limit (256)")));
        QVERIFY(!find<QCPItemLine>(w, QStringLiteral("cumulative.crossover.naive"))->visible());
        // The ratio at the last step is the two cumulative totals divided.
        const QCPGraph* ratio = find(w, QStringLiteral("cumulative.ratio"));
        QCOMPARE(pointCount(ratio), 60);
        const double expected = double(compare_.runs[0].steps.back()->cumulative.total()) /
                                double(compare_.runs[1].steps.back()->cumulative.total());
        QCOMPARE(ratio->data()->at(59)->value, expected);
    }

    void crossoverMarkedWhereAttentionOvertakes() {
        CostCharts w;
        w.setView(viewOf(tinyCompare_));
        w.refresh();
        for (Mode m : {Mode::Naive, Mode::Cached}) {
            const auto n = attentionCrossoverLength(tiny_->config, m);
            QVERIFY(n && *n > 150 && *n < 220);
            const auto* line =
                find<QCPItemLine>(w, QStringLiteral("cumulative.crossover.") + modeName(m));
            QVERIFY(line->visible());
            QCOMPARE(line->start->coords().x(), double(*n));
            QCOMPARE(line->end->coords().x(), double(*n));
        }
        // Past the crossover the fit covers the attention-dominated steps only.
        const auto* notes = find<QCPTextElement>(w, QStringLiteral("cumulative.notes"));
        QCOMPARE(notes->text().count(QStringLiteral("attention-dominated")), 2);
        qInfo("tiny model, prompt 150, 80 tokens: slope naive %.3f, cached %.3f",
              *w.cumulativeSlope(Mode::Naive), *w.cumulativeSlope(Mode::Cached));
        const auto* breakdownLine =
            find<QCPItemLine>(w, QStringLiteral("breakdown_cached.crossover"));
        QCOMPARE(breakdownLine->start->coords().x(),
                 double(*attentionCrossoverLength(tiny_->config, Mode::Cached)));
    }

    // Width 4 in a context of 1024: attention overtakes the weights at n = 50 (naive) and 89
    // (cached), so most of a 1000-token run is attention-dominated and the fitted exponents
    // approach the asymptotic 3 and 2.
    void slopesApproachThreeAndTwoWhenAttentionDominates() {
        test::TinyShape shape;
        shape.nEmbd = 4;
        shape.nPositions = 1024;
        QVERIFY(test::writeTinyModel(tmp_.filePath(QStringLiteral("narrow")), shape));
        const ModelPtr narrow = loadOrDie(tmp_.filePath(QStringLiteral("narrow")));
        QVERIFY(*attentionCrossoverLength(narrow->config, Mode::Cached) < 100);
        const RunExport run = generate(narrow, {Mode::Cached}, std::vector<int>{1, 2, 3}, 1000);
        CostCharts w;
        w.setView(viewOf(run));
        w.refresh();
        const double naive = *w.cumulativeSlope(Mode::Naive);  // the closed-form prediction
        const double cached = *w.cumulativeSlope(Mode::Cached);
        qInfo(
            "narrow tiny model, prompt 3, 1000 tokens: slope naive %.3f (predicted), cached "
            "%.3f",
            naive, cached);
        QVERIFY2(naive > 2.6 && naive <= 3.0, qPrintable(QString::number(naive)));
        QVERIFY2(cached > 1.6 && cached <= 2.0, qPrintable(QString::number(cached)));
    }

    void breakdownSumsToTheTotal() {
        CostCharts w;
        w.setView(viewOf(compare_));  // focus: cached
        w.refresh();
        const RunRecord& r = compare_.runs[1];
        for (const StepResultPtr& s : r.steps) {
            double sum = 0;
            for (int i = 0; i < 7; ++i) {
                const auto* bars = find<QCPBars>(w, QStringLiteral("breakdown_cached.%1").arg(i));
                const auto it = bars->data()->findBegin(s->position, false);
                QVERIFY(it != bars->data()->constEnd() && it->key == s->position);
                sum += it->value;
            }
            QCOMPARE(sum, double(s->flops.total()));
        }
        QCOMPARE(find<QCPBars>(w, QStringLiteral("breakdown_cached.0"))->data()->size(),
                 int(r.steps.size()));
    }

    void refreshAppendsAndRestartsOnANewRun() {
        RunExport partial = compare_;
        for (RunRecord& r : partial.runs) r.steps.resize(20);
        CostCharts w;
        w.setView(viewOf(partial));
        w.refresh();
        const QCPGraph* naive = find(w, QStringLiteral("perStep.naive"));
        QCOMPARE(pointCount(naive), 20);
        partial.runs[0].steps = compare_.runs[0].steps;  // naive a step ahead, as in lockstep
        partial.runs[1].steps.resize(35);
        for (std::size_t i = 20; i < 35; ++i) partial.runs[1].steps[i] = compare_.runs[1].steps[i];
        w.refresh();
        QCOMPARE(pointCount(naive), 60);
        QCOMPARE(pointCount(find(w, QStringLiteral("cumulative.ratio"))), 35);
        // Another run in the same record: the charts start over rather than append to the old.
        w.setView(viewOf(cachedOnly_));
        w.refresh();
        QVERIFY(!naive->visible());
        QCOMPARE(pointCount(find(w, QStringLiteral("perStep.predicted.naive"))), 60);
    }

    void selectedStepIsMarkedOnEveryChart() {
        CostCharts w;
        w.setView(viewOf(compare_, 10));
        w.refresh();
        const double x = compare_.runs[1].steps[10]->position;
        for (const char* id : {"perStep.selected", "cumulative.selected",
                               "breakdown_cached.selected", "time.selected", "memory.selected"}) {
            const auto* line = find<QCPItemLine>(w, QString::fromLatin1(id));
            QVERIFY(line->visible());
            QCOMPARE(line->start->coords().x(), x);
        }
        const auto* note = find<QCPTextElement>(w, QStringLiteral("memory.note"));
        QVERIFY(note->text().startsWith(QStringLiteral("at n\u00a0=\u00a0%1").arg(x)));
        // Issue 14, 17: the note has a row of its own, so neither the cached line at small n nor
        // the selected-step line can run through it.
        w.resize(700, 450);
        w.show();
        QCustomPlot* memory = plotNamed(w, QStringLiteral("memory"));
        w.findChild<QTabWidget*>()->setCurrentWidget(memory);
        QCoreApplication::processEvents();
        memory->replot();
        for (QCPAxisRect* r : memory->axisRects())
            QVERIFY(!note->outerRect().intersects(r->outerRect()));
        QVERIFY(note->outerRect().height() > 0);
    }

    void memoryAndTimeFollowTheSteps() {
        CostCharts w;
        w.setView(viewOf(compare_));
        w.refresh();
        const RunRecord& cached = compare_.runs[1];
        const QCPGraph* bytes = find(w, QStringLiteral("memory.kvBytes.cached"));
        const QCPGraph* saved = find(w, QStringLiteral("memory.saved"));
        for (const StepResultPtr& s : cached.steps) {
            QCOMPARE(*valueAt(bytes, s->position), double(s->kvCacheBytes));
            const auto naive =
                cumulativeFlops(ref_->config, s->promptLength, s->step + 1, Mode::Naive);
            QCOMPARE(*valueAt(saved, s->position), double(naive.total() - s->cumulative.total()));
        }
        const QCPGraph* ms = find(w, QStringLiteral("time.ms.naive"));
        QCOMPARE(pointCount(ms), 60);
        QCOMPARE(*valueAt(ms, compare_.runs[0].steps[7]->position),
                 compare_.runs[0].steps[7]->milliseconds);
        // Throughput: FLOPs over seconds, so GFLOP/s = total / ms / 1e6 reads off the G ticks.
        const StepResult& s7 = *compare_.runs[0].steps[7];
        QVERIFY(s7.milliseconds > 0);
        const double rate = *valueAt(find(w, QStringLiteral("time.rate.naive")), s7.position);
        QVERIFY(std::abs(rate / 1e9 - double(s7.flops.total()) / s7.milliseconds / 1e6) <
                1e-9 * rate / 1e9);
    }

    // Grouped-query attention: the Memory chart draws what the same model would hold with one
    // K/V head per query head beside what the run holds (8 query heads over 2 K/V heads: 4x).
    void memoryShowsWhatGqaSaves() {
        const ModelPtr gqa =
            test::loadOrDie(QStringLiteral(KVSCOPE_FIXTURES "/reference/llama/gqa.bin"));
        const RunExport run = test::generate(gqa, {Mode::Cached}, {1, 304, 310}, 20);
        CostCharts w;
        w.setView(viewOf(run, 5));
        w.refresh();
        const QCPGraph* held = find(w, QStringLiteral("memory.kvBytes.cached"));
        const QCPGraph* mha = find(w, QStringLiteral("memory.kvBytes.mha"));
        QVERIFY(mha->visible());
        for (const StepResultPtr& s : run.runs[0].steps) {
            QCOMPARE(*valueAt(held, s->position), double(s->kvCacheBytes));
            QCOMPARE(*valueAt(mha, s->position), 4.0 * double(s->kvCacheBytes));
        }
        const auto* note = find<QCPTextElement>(w, QStringLiteral("memory.note"));
        QVERIFY2(note->text().contains(QStringLiteral("4\u00d7 more")), qPrintable(note->text()));
        // GPT-2 has one K/V head per query head: no second line.
        CostCharts flat;
        flat.setView(viewOf(compare_));
        flat.refresh();
        QVERIFY(!find(flat, QStringLiteral("memory.kvBytes.mha"))->visible());
    }

    void logScaleSwitchesTheCostAxes() {
        CostCharts w;
        w.setView(viewOf(compare_));
        w.refresh();
        w.setLogScale(true);
        QCustomPlot* cumulative = plotNamed(w, QStringLiteral("cumulative"));
        QCOMPARE(cumulative->xAxis->scaleType(), QCPAxis::stLogarithmic);
        QCOMPARE(cumulative->yAxis->scaleType(), QCPAxis::stLogarithmic);
        QVERIFY(cumulative->yAxis->range().lower > 0);
        w.setLogScale(false);
        QCOMPARE(cumulative->yAxis->scaleType(), QCPAxis::stLinear);
    }

    // Issue 14, 13: before the first run no chart shows made-up numbers or an empty legend box,
    // and each says what to do.
    void emptyChartsSayWhatToDo() {
        CostCharts w;
        w.resize(800, 500);
        w.show();
        for (QCustomPlot* p : w.plots()) {
            p->replot();
            for (QCPAxisRect* r : p->axisRects())
                for (QCPAxis* a : {r->axis(QCPAxis::atBottom), r->axis(QCPAxis::atLeft)}) {
                    QVERIFY2(a->range().lower >= 0, qPrintable(p->objectName()));
                    QVERIFY2(!a->tickLabels(), qPrintable(p->objectName()));
                }
            QVERIFY2(!p->legend->visible(), qPrintable(p->objectName()));
            const auto* note = p->findChild<QCPItemText*>(p->objectName() + ".empty");
            QVERIFY(note && note->visible());
            QVERIFY(note->text().contains(QStringLiteral("Generate")));
        }
        w.setView(viewOf(compare_));
        w.refresh();
        for (QCustomPlot* p : w.plots()) {
            QVERIFY(!p->findChild<QCPItemText*>(p->objectName() + ".empty")->visible());
            QVERIFY(p->xAxis->tickLabels());
            QVERIFY(p->legend->visible());
        }
    }

    // Issue 14, 14: no value axis reaches below zero when no value is negative (the naive run's
    // Memory chart went to -200 k bytes).
    void valueAxesStartAtZero_data() {
        QTest::addColumn<int>("which");
        QTest::newRow("naive") << 0;
        QTest::newRow("cached") << 1;
        QTest::newRow("compare") << 2;
    }
    void valueAxesStartAtZero() {
        QFETCH(int, which);
        const RunExport* runs[] = {&naiveOnly_, &cachedOnly_, &compare_};
        CostCharts w;
        w.setView(viewOf(*runs[which]));
        w.refresh();
        for (QCustomPlot* p : w.plots())
            for (QCPAxisRect* r : p->axisRects()) {
                const QCPRange y = r->axis(QCPAxis::atLeft)->range();
                QVERIFY2(y.lower >= 0 && y.upper > y.lower,
                         qPrintable(QStringLiteral("%1: %2 to %3")
                                        .arg(p->objectName())
                                        .arg(y.lower)
                                        .arg(y.upper)));
            }
    }

    // Issue 14, 3: a crossover label stays inside the chart, at any width, also when its line is
    // near the right edge.
    void crossoverLabelsStayInsideTheChart() {
        CostCharts w;
        w.setView(viewOf(tinyEdge_));
        w.refresh();
        w.show();
        auto* tabs = w.findChild<QTabWidget*>();
        QCustomPlot* plot = plotNamed(w, QStringLiteral("cumulative"));
        bool flipped = false;
        for (int width : {360, 520, 820, 1280}) {
            for (int tab : {1, 2}) {
                tabs->setCurrentIndex(tab);
                w.resize(width, 480);
                QCoreApplication::processEvents();
                QCustomPlot* p = tab == 1 ? plot : shownPlot(tabs->widget(tab));
                p->replot();
                const QStringList ids = tab == 1
                                            ? QStringList{"cumulative.crossover.naive.label",
                                                          "cumulative.crossover.cached.label"}
                                            : QStringList{p->objectName() + ".crossover.label"};
                for (const QString& id : ids) {
                    const auto* label = p->findChild<QCPItemText*>(id);
                    QVERIFY(label && label->visible());
                    const QRectF box(label->topLeft->pixelPosition(),
                                     label->bottomRight->pixelPosition());
                    const QRectF inside = QRectF(p->axisRect(0)->rect()).adjusted(-1, -1, 1, 1);
                    QVERIFY2(inside.contains(box),
                             qPrintable(QStringLiteral("%1 at width %2: label %3-%4, chart %5-%6")
                                            .arg(id)
                                            .arg(width)
                                            .arg(box.left())
                                            .arg(box.right())
                                            .arg(inside.left())
                                            .arg(inside.right())));
                    flipped = flipped || (label->positionAlignment() & Qt::AlignRight);
                }
            }
        }
        QVERIFY(flipped);  // the run does put a label at the right edge
    }

    // Issue 14, 2: whatever the tab and however long the run, the cost panel asks for no more
    // than a third of a 1280 px window, and every tab stays in sight (no scroll arrows).
    void costPanelFitsBesideTheOtherPanels() {
        CostCharts w;
        w.setView(viewOf(narrowCompare_));
        w.refresh();
        w.show();
        auto* tabs = w.findChild<QTabWidget*>();
        for (int i = 0; i < tabs->count(); ++i) {
            tabs->setCurrentIndex(i);
            QCoreApplication::processEvents();
            const int least = w.minimumSizeHint().width();
            qInfo("1000-token Compare run, tab %d: minimum width %d px", i, least);
            QVERIFY2(least <= 1280 / 3, qPrintable(QString::number(least)));
        }
        QTabBar* bar = tabs->tabBar();
        QVERIFY(!bar->usesScrollButtons());
        w.resize(w.minimumSizeHint().width(), 400);
        QCoreApplication::processEvents();
        for (int i = 0; i < tabs->count(); ++i)
            QVERIFY2(bar->rect().contains(bar->tabRect(i)), qPrintable(tabs->tabText(i)));
        const auto* notes = find<QCPTextElement>(w, QStringLiteral("cumulative.notes"));
        QVERIFY(notes->text().contains(QStringLiteral("attention-dominated")));
    }

    // Issue 14, 9: each step's time stays visible, lighter, under a running median over the 15
    // steps around it; the log axis shows both modes.
    void timeChartShowsARunningMedian() {
        CostCharts w;
        w.setView(viewOf(compare_));
        w.refresh();
        double cachedLow = 1e300, naiveHigh = 0;
        for (const RunRecord& r : compare_.runs) {
            const QString id = QStringLiteral("time.ms.") + modeName(r.mode);
            const QCPGraph* raw = find(w, id);
            const QCPGraph* median = find(w, id + ".median");
            std::vector<const StepResult*> decode;
            for (const StepResultPtr& s : r.steps)
                if (!s->prefill) decode.push_back(s.get());
            QCOMPARE(pointCount(median), int(decode.size()));
            for (std::size_t i = 0; i < decode.size(); ++i) {
                std::vector<double> window;
                for (std::size_t j = i >= 7 ? i - 7 : 0; j < std::min(decode.size(), i + 8); ++j)
                    window.push_back(decode[j]->milliseconds);
                std::sort(window.begin(), window.end());
                const std::size_t k = window.size();
                const double expected =
                    k % 2 ? window[k / 2] : (window[k / 2 - 1] + window[k / 2]) / 2;
                QCOMPARE(*valueAt(median, decode[i]->position), expected);
                if (r.mode == Mode::Cached && expected > 0)
                    cachedLow = std::min(cachedLow, expected);
                if (r.mode == Mode::Naive) naiveHigh = std::max(naiveHigh, expected);
            }
            QVERIFY(raw->scatterStyle().pen().color().alpha() < median->pen().color().alpha());
            QCOMPARE(raw->lineStyle(), QCPGraph::lsNone);
        }
        const QCPAxis* y = find(w, QStringLiteral("time.ms.naive"))->valueAxis();
        QCOMPARE(y->scaleType(), QCPAxis::stLogarithmic);
        QVERIFY(y->range().contains(cachedLow) && y->range().contains(naiveHigh));
    }

    // Issue 14, 10 and issue 13, 2: the log-log box is enabled on every tab it changes (Per
    // step, Cumulative, Time, Memory) and disabled on the stacked Breakdown and on the Roofline,
    // whose axes are always logarithmic (issue 13, 3).
    void logLogIsOfferedOnlyWhereItApplies() {
        CostCharts w;
        QSignalSpy spy(&w, &CostCharts::logScaleAvailableChanged);
        auto* tabs = w.findChild<QTabWidget*>();
        auto* box = w.findChild<QCheckBox*>(QStringLiteral("logLog"));
        QVERIFY(tabs && box);
        QCOMPARE(tabs->count(), 6);
        for (int i : {0, 1, 2, 3, 4, 5, 0}) {
            tabs->setCurrentIndex(i);
            QCOMPARE(box->isEnabled(), i != 2 && i != 5);
            QCOMPARE(w.logScaleAvailable(), i != 2 && i != 5);
        }
        QCOMPARE(spy.count(), 4);
        QCOMPARE(spy.at(0).at(0).toBool(), false);
        QCOMPARE(spy.at(1).at(0).toBool(), true);
        QCOMPARE(spy.at(3).at(0).toBool(), true);
        QCustomPlot* roofline = plotNamed(w, QStringLiteral("roofline"));
        for (bool on : {true, false}) {
            w.setLogScale(on);
            QCOMPARE(roofline->xAxis->scaleType(), QCPAxis::stLogarithmic);
            QCOMPARE(roofline->yAxis->scaleType(), QCPAxis::stLogarithmic);
        }
    }

    // Issue 13, 2: attention FLOPs on their own beside the totals, equal to the run's own
    // counters, and reference lines of slope 1, 2 and 3 on log-log axes only.
    void attentionAloneWithReferenceSlopes() {
        CostCharts w;
        w.setView(viewOf(compare_));
        w.refresh();
        const QCPGraph* naive = find(w, QStringLiteral("cumulative.attention.naive"));
        QVERIFY(!naive->visible());
        w.setShowAttention(true);
        QVERIFY(w.showsAttention());
        QVERIFY(naive->visible());
        for (const RunRecord& r : compare_.runs) {
            const QCPGraph* g = find(w, QStringLiteral("cumulative.attention.") + modeName(r.mode));
            for (const StepResultPtr& s : r.steps)
                QCOMPARE(*valueAt(g, s->position), double(s->cumulative.attention()));
        }
        for (int k = 1; k <= 3; ++k)
            QVERIFY(!find(w, QStringLiteral("cumulative.reference.%1").arg(k))->visible());
        w.setLogScale(true);
        for (int k = 1; k <= 3; ++k) {
            const QCPGraph* ref = find(w, QStringLiteral("cumulative.reference.%1").arg(k));
            QVERIFY(ref->visible());
            QCOMPARE(ref->data()->size(), 2);
            const auto a = ref->data()->constBegin(), b = a + 1;
            const double slope = std::log(b->value / a->value) / std::log(b->key / a->key);
            QVERIFY2(std::abs(slope - k) < 1e-9, qPrintable(QString::number(slope)));
        }
        // Why the fitted slopes are not 3 and 2 yet, in one line under the title.
        const auto* notes = find<QCPTextElement>(w, QStringLiteral("cumulative.notes"));
        QVERIFY2(notes->text().contains(QStringLiteral("expect slopes")),
                 qPrintable(notes->text()));
        QVERIFY(notes->text().contains(QStringLiteral("3 and 2")));
        w.setLogScale(false);
        QVERIFY(!find(w, QStringLiteral("cumulative.reference.3"))->visible());
    }

    // Issue 13, 1: past the run the closed form continues the curves, dashed, to the length the
    // user picks; it joins the measured curve and bends towards slope 3.
    void curvesContinueBeyondTheContext() {
        CostCharts w;
        w.setView(viewOf(narrowCompare_));
        w.refresh();
        const QCPGraph* beyond = find(w, QStringLiteral("cumulative.beyond.naive"));
        QVERIFY(!beyond->visible());
        w.setExtension(100000);
        QCOMPARE(w.extension(), std::int64_t(100000));
        QVERIFY(beyond->visible());
        QVERIFY(beyond->pen().style() != Qt::SolidLine);
        const StepResult& last = *narrowCompare_.runs[0].steps.back();
        QCOMPARE(beyond->data()->constBegin()->key, double(last.position));
        QCOMPARE(beyond->data()->constBegin()->value, double(last.cumulative.total()));
        QCOMPARE((beyond->data()->constEnd() - 1)->key, 100000.0);
        const ModelConfig& c = narrow_->config;
        const double at1e5 = (beyond->data()->constEnd() - 1)->value;
        QCOMPARE(at1e5, whatif::cumulativeSplit(c, last.promptLength, 100000, Mode::Naive).total());
        const double at1e4 =
            whatif::cumulativeSplit(c, last.promptLength, 10000, Mode::Naive).total();
        QVERIFY(std::log10(at1e5 / at1e4) > 2.9);  // width 4: attention dominates early
        // The x axis reaches the extension; "stop" takes it away again.
        QVERIFY(plotNamed(w, QStringLiteral("cumulative"))->xAxis->range().upper >= 100000);
        w.setExtension(0);
        QVERIFY(!beyond->visible());
        QVERIFY(plotNamed(w, QStringLiteral("cumulative"))->xAxis->range().upper < 2000);
    }

    // Issue 13, 2: log-log on the Time and Memory tabs too.
    void logLogReachesTimeAndMemory() {
        CostCharts w;
        w.setView(viewOf(compare_));
        w.refresh();
        w.setLogScale(true);
        const QCPGraph* ms = find(w, QStringLiteral("time.ms.cached"));
        QCOMPARE(ms->keyAxis()->scaleType(), QCPAxis::stLogarithmic);
        QCOMPARE(ms->valueAxis()->scaleType(), QCPAxis::stLogarithmic);
        const QCPGraph* kv = find(w, QStringLiteral("memory.kvBytes.cached"));
        QCOMPARE(kv->keyAxis()->scaleType(), QCPAxis::stLogarithmic);
        QCOMPARE(kv->valueAxis()->scaleType(), QCPAxis::stLogarithmic);
        w.setLogScale(false);
        QCOMPARE(kv->valueAxis()->scaleType(), QCPAxis::stLinear);
        QCOMPARE(ms->valueAxis()->scaleType(), QCPAxis::stLogarithmic);  // time stays log
        QCOMPARE(ms->keyAxis()->scaleType(), QCPAxis::stLinear);
    }

    // Issue 14, 11: a breakdown per mode, measured for the modes that ran and predicted from the
    // closed form otherwise; the tab shows the focus run's.
    void breakdownPerMode() {
        auto sums = [](QCustomPlot* p, double key) {
            double sum = 0;
            for (int i = 0; i < 7; ++i) {
                const auto* bars =
                    p->findChild<QCPBars*>(p->objectName() + QStringLiteral(".%1").arg(i));
                const auto it = bars->data()->findBegin(key, false);
                if (it != bars->data()->constEnd() && it->key == key) sum += it->value;
            }
            return sum;
        };
        CostCharts w;
        RunView v = viewOf(compare_);
        w.setView(v);
        w.refresh();
        for (const RunRecord& r : compare_.runs) {
            QCustomPlot* p = plotNamed(w, QStringLiteral("breakdown_") + modeName(r.mode));
            QVERIFY(p);
            QVERIFY(charts::plotTitle(p)->text().endsWith(QStringLiteral(" run")));
            for (const StepResultPtr& s : r.steps)
                QCOMPARE(sums(p, s->position), double(s->flops.total()));
        }
        auto* stack = qobject_cast<QStackedWidget*>(
            plotNamed(w, QStringLiteral("breakdown_naive"))->parentWidget());
        QVERIFY(stack);
        QCOMPARE(stack->currentWidget(), plotNamed(w, QStringLiteral("breakdown_cached")));
        v.focusMode = Mode::Naive;
        w.setView(v);
        w.refresh();
        QCOMPARE(stack->currentWidget(), plotNamed(w, QStringLiteral("breakdown_naive")));

        w.setView(viewOf(cachedOnly_));
        w.refresh();
        QCustomPlot* predicted = plotNamed(w, QStringLiteral("breakdown_naive"));
        QVERIFY(charts::plotTitle(predicted)->text().contains(QStringLiteral("predicted")));
        for (const StepResultPtr& s : cachedOnly_.runs[0].steps)
            QCOMPARE(sums(predicted, s->position),
                     double(stepFlops(ref_->config, s->position, Mode::Naive).total()));
    }

    void captionDescribesTheRun() {
        const int p = compare_.runs[0].steps.front()->promptLength;
        QCOMPARE(chartCaption(viewOf(compare_)),
                 QStringLiteral("model %1 · mode compare · prompt %2 tokens · 60 tokens "
                                "generated · seed 1234")
                     .arg(ref_->name)
                     .arg(p));
        QVERIFY(chartCaption(viewOf(cachedOnly_)).contains(QStringLiteral("mode cached ·")));
        QCOMPARE(chartCaption(RunView{}), QStringLiteral("no run"));
    }

    void pngHasTheAskedPixelSize() {
        CostCharts w;
        w.setView(viewOf(compare_));
        w.refresh();
        QCustomPlot* plot = w.plots().front();
        const QString path = tmp_.filePath(QStringLiteral("per_step.png"));
        QVERIFY(exportChart(plot, path, chartCaption(viewOf(compare_)), 2.0, QSize(640, 400)));
        QImage img(path);
        QCOMPARE(img.size(), QSize(1280, 800));
        QVERIFY(distinctColors(img) > 5);
        QVERIFY(exportChart(plot, path, QStringLiteral("c"), 1.5, QSize(500, 300)));
        QCOMPARE(QImage(path).size(), QSize(750, 450));
    }

    void pdfAndSvgAreVectorFiles() {
        CostCharts w;
        w.setView(viewOf(compare_));
        w.refresh();
        QCustomPlot* plot = plotNamed(w, QStringLiteral("cumulative"));
        const QString pdf = tmp_.filePath(QStringLiteral("c.pdf"));
        const QString svg = tmp_.filePath(QStringLiteral("c.svg"));
        QVERIFY(exportChart(plot, pdf, QStringLiteral("caption"), 2.0, QSize(700, 450)));
        QVERIFY(exportChart(plot, svg, QStringLiteral("caption"), 2.0, QSize(700, 450)));
        QFile f(pdf);
        QVERIFY(f.open(QIODevice::ReadOnly));
        QVERIFY(f.read(4) == "%PDF");
        QSvgRenderer renderer(svg);
        QVERIFY(renderer.isValid());
        QCOMPARE(renderer.viewBoxF(), QRectF(0, 0, 700, 450));
    }

    void exportLeavesTheScreenLayoutUnchanged() {
        CostCharts w;
        w.setView(viewOf(compare_));
        w.refresh();
        for (QCustomPlot* plot : w.plots()) {
            const int cells = plot->plotLayout()->elementCount();
            // Elements, not cells: a wrapping legend re-flows into a grid of another shape.
            const auto present = [plot] {
                const auto all = plot->plotLayout()->elements(true);
                return int(all.size() - all.count(nullptr));
            };
            const int elements = present();
            const int rows = plot->plotLayout()->rowCount();
            for (const char* suffix : {"png", "pdf", "svg"}) {
                const QString path = tmp_.filePath(plot->objectName() + "." + suffix);
                QVERIFY(
                    exportChart(plot, path, QStringLiteral("the caption"), 1.0, QSize(400, 300)));
            }
            QCOMPARE(plot->plotLayout()->elementCount(), cells);
            QCOMPARE(present(), elements);
            QCOMPARE(plot->plotLayout()->rowCount(), rows);
        }
    }

    void exportedChartCarriesTheCaption() {
        CostCharts w;
        w.setView(viewOf(compare_));
        w.refresh();
        QCustomPlot* plot = w.plots().front();
        const QString with = tmp_.filePath(QStringLiteral("with.png"));
        const QString without = tmp_.filePath(QStringLiteral("without.png"));
        QVERIFY(exportChart(plot, with, QStringLiteral("model x · mode y"), 1.0, QSize(600, 400)));
        QVERIFY(exportChart(plot, without, QString(), 1.0, QSize(600, 400)));
        // The caption sits right-aligned in the bottom strip, which is plain background below
        // the centred axis label when there is no caption.
        const QImage a(with), b(without);
        QCOMPARE(a.size(), b.size());
        if (const QString keep = qEnvironmentVariable("KVSCOPE_GRAB_DIR"); !keep.isEmpty()) {
            a.save(QDir(keep).filePath(QStringLiteral("caption_with.png")));
            b.save(QDir(keep).filePath(QStringLiteral("caption_without.png")));
        }
        QVERIFY(distinctColors(a.copy(500, 386, 100, 12), 1) > 1);
        QCOMPARE(distinctColors(b.copy(500, 386, 100, 12), 1), 1);
        const QString svg = tmp_.filePath(QStringLiteral("with.svg"));
        QVERIFY(exportChart(plot, svg, QStringLiteral("model x · mode y"), 1.0, QSize(600, 400)));
        QFile f(svg);
        QVERIFY(f.open(QIODevice::ReadOnly));
        QVERIFY(QString::fromUtf8(f.readAll()).contains(QStringLiteral("model x · mode y")));
    }

    void exportErrorsNameTheFile() {
        CostCharts w;
        QCustomPlot* plot = w.plots().front();
        QFile blocker(tmp_.filePath(QStringLiteral("not-a-dir")));
        QVERIFY(blocker.open(QIODevice::WriteOnly));
        blocker.close();
        for (const char* suffix : {"png", "pdf", "svg"}) {
            const QString path = blocker.fileName() + "/chart." + suffix;
            const auto r = exportChart(plot, path, QStringLiteral("c"));
            QVERIFY(!r);
            QVERIFY2(r.errorMessage().contains(path), qPrintable(r.errorMessage()));
        }
        const QString bmp = tmp_.filePath(QStringLiteral("chart.bmp"));
        const auto r = exportChart(plot, bmp, QStringLiteral("c"));
        QVERIFY(!r);
        QVERIFY(r.errorMessage().contains(bmp));
        QVERIFY(!QFile::exists(bmp));
        const auto all = exportAllCharts(w.namedPlots(), blocker.fileName() + "/sub", "c");
        QVERIFY(!all);
        QVERIFY(all.errorMessage().contains(blocker.fileName()));
    }

    void exportAllWritesThreeFormatsPerChart() {
        CostCharts w;
        w.setView(viewOf(compare_));
        w.refresh();
        const QString dir = tmp_.filePath(QStringLiteral("all/charts"));
        const auto written = exportAllCharts(w.namedPlots(), dir, chartCaption(viewOf(compare_)));
        QVERIFY2(written, qPrintable(written.errorMessage()));
        QCOMPARE(written.value().size(), 21);  // seven charts: a breakdown per mode, the roofline
        for (const auto& [name, plot] : w.namedPlots())
            for (const char* suffix : {".png", ".pdf", ".svg"})
                QVERIFY(written.value().contains(QDir(dir).filePath(name + suffix)));
        for (const char* both : {"breakdown_naive.png", "breakdown_cached.png"})
            QVERIFY(written.value().contains(QDir(dir).filePath(QString::fromLatin1(both))));
        for (const QString& path : written.value())
            QVERIFY2(QFileInfo(path).size() > 1000, qPrintable(path));
    }

    // Each tab as the user sees it at 1280x800. With KVSCOPE_GRAB_DIR set the images are kept
    // there for a human to look at.
    void tabsRenderAtWindowSize() {
        CostCharts w;
        w.resize(1280, 800);
        w.setView(viewOf(compare_, 30));
        w.refresh();
        w.show();
        const QString keep = qEnvironmentVariable("KVSCOPE_GRAB_DIR");
        auto* tabs = w.findChild<QTabWidget*>();
        QVERIFY(tabs);
        for (int i = 0; i < tabs->count(); ++i) {
            tabs->setCurrentIndex(i);
            auto* plot = shownPlot(tabs->widget(i));
            plot->replot();
            const QImage img = w.grab().toImage();
            QVERIFY(distinctColors(img) > 10);
            if (!keep.isEmpty())
                img.save(QDir(keep).filePath(
                    QStringLiteral("tab_%1_%2.png").arg(i).arg(plot->objectName())));
        }
        if (!keep.isEmpty()) {
            w.setLogScale(true);
            tabs->setCurrentIndex(1);
            shownPlot(tabs->widget(1))->replot();
            w.grab().save(QDir(keep).filePath(QStringLiteral("tab_1_cumulative_log.png")));
            // Issue 13: attention alone, slope references and the closed form past the run.
            w.setView(viewOf(narrowCompare_, 30));
            w.refresh();
            w.setShowAttention(true);
            w.setExtension(100000);
            shownPlot(tabs->widget(1))->replot();
            w.grab().save(QDir(keep).filePath(QStringLiteral("tab_1_cumulative_beyond.png")));
            w.setShowAttention(false);
            w.setExtension(0);
            w.setView(viewOf(compare_, 30));
            w.refresh();
            QVERIFY(exportChart(w.plots().at(2), QDir(keep).filePath("export_breakdown.png"),
                                chartCaption(viewOf(compare_)), 2.0, QSize(640, 400)));
            // A smaller panel, and a run that crosses over, for a second look.
            w.resize(820, 520);
            w.setView(viewOf(tinyCompare_, 40));
            w.refresh();
            for (int i = 0; i < tabs->count(); ++i) {
                tabs->setCurrentIndex(i);
                shownPlot(tabs->widget(i))->replot();
                w.grab().save(QDir(keep).filePath(QStringLiteral("small_%1.png").arg(i)));
            }
        }
    }
};

QTEST_MAIN(TestCostCharts)
#include "test_cost_charts.moc"
