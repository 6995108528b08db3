// The token strip and the candidate distribution chart, driven by a real run of the reference
// model: what they show, how the user selects a step, and that a growing run costs only the new
// tokens.

#include "chart_export.h"
#include "distribution_chart.h"
#include "model/model.h"
#include "qcustomplot_include.h"
#include "run/generation_session.h"
#include "run/run_export.h"
#include "token_strip.h"
#include "token_text.h"

#include <QScrollBar>
#include <QSignalSpy>
#include <QtTest>

#include <algorithm>

using namespace kvscope;

namespace {

constexpr int kSteps = 40;

std::vector<StepResultPtr> generate(const ModelPtr& model, const std::vector<int>& prompt,
                                    Mode mode) {
    GenerationSession session(model);
    GenerationSettings s;
    s.mode = mode;
    s.maxNewTokens = kSteps;
    s.captureAttention = false;
    if (!session.start(prompt, s)) qFatal("session did not start");
    std::vector<StepResultPtr> steps;
    while (StepResultPtr step = session.step()) steps.push_back(step);
    return steps;
}

std::vector<StepResultPtr> firstSteps(const std::vector<StepResultPtr>& all, int n) {
    return {all.begin(), all.begin() + n};
}

// Labels upright, and each no wider than the distance to its neighbour's tick (centred labels
// then cannot touch). Font metrics on both sides: a relation, whatever fonts are installed.
void checkLabelsUprightAndApart(const DistributionChart& chart) {
    QCPAxis* x = chart.plot()->xAxis;
    QCOMPARE(x->tickLabelRotation(), 0.0);
    const QFontMetrics fm(x->tickLabelFont());
    const auto ticks = x->ticker().dynamicCast<QCPAxisTickerText>()->ticks();
    QCOMPARE(int(ticks.size()), chart.shownCandidates());
    const double spacing = x->coordToPixel(1) - x->coordToPixel(0);
    for (const QString& label : ticks)
        QVERIFY2(fm.horizontalAdvance(label) < spacing,
                 qPrintable(QStringLiteral("%1 wider than %2 px").arg(label).arg(spacing)));
}

}  // namespace

class TestPanelsTokens : public QObject {
    Q_OBJECT

    ModelPtr model_;
    std::vector<int> prompt_;
    std::vector<StepResultPtr> cached_, naive_;

    // A run of the cached mode holding its first `steps` steps (and the naive run's when `both`).
    RunExport exportWith(int steps, bool both = false) const {
        RunExport e{model_, QStringLiteral("prompt"), prompt_, {}, {}, std::nullopt};
        if (both) e.runs.push_back(RunRecord{Mode::Naive, firstSteps(naive_, steps), {}});
        e.runs.push_back(RunRecord{Mode::Cached, firstSteps(cached_, steps), {}});
        return e;
    }
    int promptChips() const { return int(prompt_.size()); }

    static void showAndRefresh(TokenStrip& strip, const RunView& v, QSize size = {900, 300}) {
        strip.resize(size);
        strip.setView(v);
        strip.show();
        QVERIFY(QTest::qWaitForWindowExposed(&strip));
        strip.refresh();
    }

private Q_SLOTS:
    void initTestCase() {
        auto m = loadModel(QStringLiteral(KVSCOPE_FIXTURES "/reference/model"));
        QVERIFY2(m, qPrintable(m.errorMessage()));
        model_ = m.value();
        prompt_ = model_->tokenizer->encode("Once upon a time,\nthere was\ta  little fox.");
        cached_ = generate(model_, prompt_, Mode::Cached);
        naive_ = generate(model_, prompt_, Mode::Naive);
        QCOMPARE(int(cached_.size()), kSteps);
        QCOMPARE(int(naive_.size()), kSteps);
    }

    void visibleTextShowsWhitespace() {
        QCOMPARE(visibleText(QStringLiteral(" the")), QStringLiteral("\u00B7the"));
        QCOMPARE(visibleText(QStringLiteral("\\n\\t\\r")), QStringLiteral("\u21B5\u2192\u2190"));
        QCOMPARE(visibleText(QStringLiteral("a\\\\b")), QStringLiteral("a\\b"));
        QCOMPARE(visibleText(QStringLiteral("\\xE2")), QStringLiteral("\\xE2"));
        QCOMPARE(visibleText(QString()), QStringLiteral("\u2205"));
        // Invisible characters that would reorder or break a chip's text become escapes
        // (Unicode: U+202E RIGHT-TO-LEFT OVERRIDE and U+200B ZERO WIDTH SPACE are format
        // characters, U+2028 and U+2029 the line and paragraph separators).
        QCOMPARE(visibleText(QStringLiteral("a\u202Ebc")), QStringLiteral("a\\u202Ebc"));
        QCOMPARE(visibleText(QStringLiteral("\u2028\u2029")), QStringLiteral("\\u2028\\u2029"));
        QCOMPARE(visibleText(QStringLiteral("x\u200By\u2066")), QStringLiteral("x\\u200By\\u2066"));
        QCOMPARE(visibleText(QString::fromUcs4(U"\U000E0041")), QStringLiteral("\\U000E0041"));
        QCOMPARE(visibleText(QString::fromUcs4(U"\U0001F600")), QString::fromUcs4(U"\U0001F600"));
        QCOMPARE(visibleText(QStringLiteral("\u05D0\u05D1")), QStringLiteral("\u05D0\u05D1"));
        for (const TextRun& r : visibleRuns(QStringLiteral("\u202Eevil")))
            for (QChar c : r.text) QVERIFY(c.category() != QChar::Other_Format);
        const std::vector<TextRun> runs = visibleRuns(QStringLiteral(" fox\\n"));
        QCOMPARE(int(runs.size()), 3);
        QVERIFY(runs[0].marker && !runs[1].marker && runs[2].marker);
        QCOMPARE(runs[1].text, QStringLiteral("fox"));
    }

    void stripShowsPromptThenGeneratedTokens() {
        const RunExport e = exportWith(kSteps);
        TokenStrip strip;
        showAndRefresh(strip, RunView{&e});
        QCOMPARE(strip.chipCount(), promptChips() + kSteps);
        QCOMPARE(strip.stepOfChip(promptChips() - 1), -1);
        QCOMPARE(strip.stepOfChip(promptChips()), 0);
        QCOMPARE(strip.stepOfChip(strip.chipCount() - 1), kSteps - 1);
        // Reading order, wrapped inside the viewport, never overlapping.
        for (int i = 1; i < strip.chipCount(); ++i) {
            const QRect a = strip.chipRect(i - 1), b = strip.chipRect(i);
            QVERIFY(!a.intersects(b));
            QVERIFY(b.top() > a.top() || (b.top() == a.top() && b.left() > a.right()));
            QVERIFY(b.right() < strip.viewport()->width());
        }
        QVERIFY(strip.chipToolTip(0).contains(QStringLiteral("prompt token")));
        QVERIFY(strip.chipToolTip(0).contains(QString::number(prompt_[0])));
    }

    void generatedChipToolTipExplainsTheStep() {
        const RunExport e = exportWith(kSteps);
        TokenStrip strip;
        showAndRefresh(strip, RunView{&e});
        const StepResult& s = *cached_[3];
        const QString tip = strip.chipToolTip(promptChips() + 3);
        QVERIFY2(tip.contains(QStringLiteral("id %1").arg(s.token)), qPrintable(tip));
        QVERIFY(tip.contains(QString::number(s.sample.prob, 'f', 4)));
        QVERIFY(tip.contains(QString::number(s.sample.rawProb, 'f', 4)));
        QVERIFY(tip.contains(QStringLiteral("rank %1").arg(s.sample.rank + 1)));
        QVERIFY(tip.contains(QString::number(s.sample.entropy, 'f', 3)));
        for (int i = 0; i < 5; ++i) {
            const CandidateReport& c = s.sample.top[std::size_t(i)];
            const QString text = visibleText(model_->tokenizer->tokenDisplay(c.id)).toHtmlEscaped();
            QVERIFY2(tip.contains(text), qPrintable(text));
            QVERIFY(tip.contains(QString::number(c.prob, 'f', 4)));
        }
    }

    void clickingAChipSelectsItsStep() {
        const RunExport e = exportWith(kSteps);
        TokenStrip strip;
        showAndRefresh(strip, RunView{&e});
        QSignalSpy spy(&strip, &TokenStrip::stepSelected);
        QTest::mouseClick(strip.viewport(), Qt::LeftButton, {},
                          strip.chipRect(promptChips() + 5).center());
        QCOMPARE(spy.count(), 1);
        QCOMPARE(spy.takeFirst().at(0).toInt(), 5);
        // The selected chip again: back to following the newest.
        QTest::mouseClick(strip.viewport(), Qt::LeftButton, {},
                          strip.chipRect(promptChips() + 5).center());
        QCOMPARE(spy.takeFirst().at(0).toInt(), -1);
        // Prompt tokens have no step.
        QTest::mouseClick(strip.viewport(), Qt::LeftButton, {}, strip.chipRect(1).center());
        QCOMPARE(spy.count(), 0);
    }

    void keysMoveTheSelection() {
        const RunExport e = exportWith(kSteps);
        RunView view{&e};
        TokenStrip strip;
        showAndRefresh(strip, view);
        // What the main window does: feed the choice back through the view.
        connect(&strip, &TokenStrip::stepSelected, &strip, [&](int step) {
            view.selectedStep = step;
            strip.setView(view);
            strip.refresh();
        });
        QSignalSpy spy(&strip, &TokenStrip::stepSelected);
        view.selectedStep = 10;
        strip.setView(view);
        strip.refresh();
        QTest::keyClick(&strip, Qt::Key_Right);
        QTest::keyClick(&strip, Qt::Key_Right);
        QTest::keyClick(&strip, Qt::Key_Left);
        QCOMPARE(spy.count(), 3);
        QCOMPARE(spy.at(0).at(0).toInt(), 11);
        QCOMPARE(spy.at(1).at(0).toInt(), 12);
        QCOMPARE(spy.at(2).at(0).toInt(), 11);
        QTest::keyClick(&strip, Qt::Key_Escape);
        QCOMPARE(spy.last().at(0).toInt(), -1);
        QTest::keyClick(&strip, Qt::Key_Left);  // from following: the step before the newest
        QCOMPARE(spy.last().at(0).toInt(), kSteps - 2);
        QTest::keyClick(&strip, Qt::Key_Right);
        QTest::keyClick(&strip, Qt::Key_Right);  // past the newest: follow again
        QCOMPARE(spy.last().at(0).toInt(), -1);
        QCOMPARE(view.selectedStep, -1);
    }

    void refreshLaysOutOnlyNewChips() {
        RunExport e = exportWith(20);
        TokenStrip strip;
        showAndRefresh(strip, RunView{&e});
        QCOMPARE(strip.chipCount(), promptChips() + 20);
        const std::int64_t before = strip.layoutCount();
        const QRect kept = strip.chipRect(promptChips() + 3);
        for (int i = 20; i < 30; ++i) e.runs[0].steps.push_back(cached_[std::size_t(i)]);
        strip.refresh();
        QCOMPARE(strip.chipCount(), promptChips() + 30);
        QCOMPARE(strip.layoutCount() - before, 10);
        strip.refresh();  // nothing new
        QCOMPARE(strip.layoutCount() - before, 10);
        QCOMPARE(strip.chipRect(promptChips() + 3).size(), kept.size());
    }

    void aNewRunRebuildsTheStrip() {
        RunExport e = exportWith(30);
        TokenStrip strip;
        showAndRefresh(strip, RunView{&e});
        // Same RunExport object, new run: fewer steps than chips, then a different first step.
        e.runs[0].steps = firstSteps(naive_, 5);
        strip.refresh();
        QCOMPARE(strip.chipCount(), promptChips() + 5);
        e.runs[0].steps = firstSteps(cached_, 8);
        const std::int64_t before = strip.layoutCount();
        strip.refresh();
        QCOMPARE(strip.chipCount(), promptChips() + 8);
        QCOMPARE(strip.layoutCount() - before, promptChips() + 8);
    }

    void onlyASlowNewestTokenAnimates() {
        RunExport e = exportWith(10);
        TokenStrip strip;
        showAndRefresh(strip, RunView{&e});
        QVERIFY(!strip.animatingNewest());  // the first fill is not news
        QTest::qWait(200);
        e.runs[0].steps.push_back(cached_[10]);
        strip.refresh();
        QVERIFY(strip.animatingNewest());
        e.runs[0].steps.push_back(cached_[11]);  // sooner than the fade lasts
        strip.refresh();
        QVERIFY(!strip.animatingNewest());
        QTest::qWait(200);
        for (int i = 12; i < 15; ++i) e.runs[0].steps.push_back(cached_[std::size_t(i)]);
        strip.refresh();  // several in one frame
        QVERIFY(!strip.animatingNewest());
        QTest::qWait(200);
        e.runs[0].steps.push_back(cached_[15]);
        strip.refresh();
        QVERIFY(strip.animatingNewest());
        QTRY_VERIFY_WITH_TIMEOUT(!strip.animatingNewest(), 1000);
    }

    void followsTheNewestUnlessScrubbedBack() {
        RunExport e = exportWith(30);
        RunView view{&e};
        TokenStrip strip;
        showAndRefresh(strip, view, QSize(260, 70));
        QScrollBar* bar = strip.verticalScrollBar();
        QVERIFY(bar->maximum() > 0);
        QCOMPARE(bar->value(), bar->maximum());
        view.selectedStep = 0;
        strip.setView(view);
        strip.refresh();
        const QRect first = strip.chipRect(promptChips());
        QVERIFY(strip.viewport()->rect().contains(first));
        const int scrubbed = bar->value();
        QVERIFY(scrubbed < bar->maximum());
        for (int i = 30; i < kSteps; ++i) e.runs[0].steps.push_back(cached_[std::size_t(i)]);
        strip.refresh();
        QCOMPARE(bar->value(), scrubbed);
        QSignalSpy spy(&strip, &TokenStrip::stepSelected);
        QTest::keyClick(&strip, Qt::Key_End);
        QCOMPARE(spy.takeFirst().at(0).toInt(), -1);
        QCOMPARE(bar->value(), bar->maximum());
    }

    // The issue-14 failure: with a taller monospace font the prompt alone overflowed the strip,
    // the fresh strip sat at the top, and that read as "the user scrolled away". A prompt many
    // rows longer than the strip is tall makes the same case with any font.
    void followsTheNewestWhenThePromptAloneOverflows() {
        RunExport e = exportWith(10);
        std::vector<int> longPrompt;
        for (int i = 0; i < 12; ++i)
            longPrompt.insert(longPrompt.end(), prompt_.begin(), prompt_.end());
        e.promptIds = longPrompt;
        RunView view{&e};
        TokenStrip strip;
        showAndRefresh(strip, view, QSize(260, 70));
        QScrollBar* bar = strip.verticalScrollBar();
        QVERIFY(bar->maximum() > 2 * strip.viewport()->height());  // the prompt overflows
        QCOMPARE(bar->value(), bar->maximum());
        const int newest = strip.chipCount() - 1;
        QVERIFY(strip.viewport()->rect().contains(strip.chipRect(newest)));
        // And it keeps following as tokens arrive and the scroll bar's appearance narrows it.
        e.runs[0].steps.push_back(cached_[10]);
        strip.refresh();
        QCoreApplication::processEvents();
        QCOMPARE(bar->value(), bar->maximum());
        QVERIFY(strip.viewport()->rect().contains(strip.chipRect(strip.chipCount() - 1)));
    }

    void comparingMarksDifferingTokens() {
        RunExport e = exportWith(kSteps, true);
        RunView view{&e};
        view.focusMode = Mode::Naive;
        TokenStrip strip;
        showAndRefresh(strip, view);
        QCOMPARE(strip.mismatchCount(), 0);  // naive and cached must agree
        QCOMPARE(strip.chipCount(), promptChips() + kSteps);

        // A fabricated disagreement at step 7 of a fresh comparison.
        auto changed = std::make_shared<StepResult>(*cached_[7]);
        changed->token = (changed->token + 1) % model_->tokenizer->vocabSize();
        changed->tokenText = model_->tokenizer->tokenDisplay(changed->token);
        RunExport bad = exportWith(kSteps, true);
        bad.runs[1].steps[7] = changed;
        view.run = &bad;
        view.focusMode = Mode::Cached;
        strip.setView(view);
        strip.refresh();
        QCOMPARE(strip.mismatchCount(), 1);
        QVERIFY(strip.chipToolTip(promptChips() + 7).contains(QStringLiteral("naive run chose")));
        QVERIFY(!strip.chipToolTip(promptChips() + 6).contains(QStringLiteral("chose")));
    }

    void chartShowsTheStepsCandidates() {
        const RunExport e = exportWith(kSteps);
        RunView view{&e};
        view.selectedStep = 12;
        DistributionChart chart;
        chart.resize(900, 300);
        chart.setView(view);
        chart.show();
        QVERIFY(QTest::qWaitForWindowExposed(&chart));
        chart.refresh();
        chart.plot()->replot(QCustomPlot::rpImmediateRefresh);
        const StepResult& s = *cached_[12];
        QCOMPARE(int(s.sample.top.size()), 20);
        // The first n by raw logit, each as a raw bar beside its processed bar.
        const int n = chart.shownCandidates();
        QVERIFY2(n >= 5 && n <= 20, qPrintable(QString::number(n)));
        const auto bars = chart.candidateBars()->data();
        const auto raw = chart.rawBars()->data();
        QCOMPARE(bars->size(), n);
        QCOMPARE(raw->size(), n);
        for (int i = 0; i < n; ++i) {
            QCOMPARE(bars->at(i)->key, i + DistributionChart::kPairOffset);
            QCOMPARE(bars->at(i)->value, double(s.sample.top[std::size_t(i)].prob));
            QCOMPARE(raw->at(i)->key, i - DistributionChart::kPairOffset);
            QCOMPARE(raw->at(i)->value, double(s.sample.top[std::size_t(i)].rawProb));
        }
        checkLabelsUprightAndApart(chart);
        const auto it = std::find_if(s.sample.top.begin(), s.sample.top.end(),
                                     [&](const CandidateReport& c) { return c.id == s.token; });
        QVERIFY(it != s.sample.top.end());
        const int sampled = int(it - s.sample.top.begin());
        if (sampled < n) {
            QCOMPARE(chart.sampledBar()->data()->size(), 1);
            QCOMPARE(chart.sampledBar()->data()->at(0)->key,
                     sampled + DistributionChart::kPairOffset);
        } else {
            QCOMPARE(chart.sampledBar()->data()->size(), 0);
            QVERIFY(chart.title().contains(QStringLiteral("not among the top %1").arg(n)));
        }
        QVERIFY(chart.sampledBar()->brush().color() != chart.candidateBars()->brush().color());
        QVERIFY(chart.rawBars()->brush().color() != chart.candidateBars()->brush().color());
        QVERIFY(chart.title().contains(QStringLiteral("Step 12")));
        QVERIFY(chart.title().contains(QString::number(s.sample.entropy, 'f', 3)));
        QVERIFY(chart.title().contains(QString::number(s.sample.rawEntropy, 'f', 3)));

        // A narrow dock shows fewer candidates, never turned labels.
        chart.resize(320, 300);
        QCoreApplication::processEvents();
        chart.plot()->replot(QCustomPlot::rpImmediateRefresh);
        QVERIFY(chart.shownCandidates() <= n);
        QVERIFY(chart.shownCandidates() >= 5);
        checkLabelsUprightAndApart(chart);
    }

    // Under top-p the sampler keeps a few candidates and zeroes the rest: the raw bars beside
    // them still show the distribution it cut.
    void chartUnderTopPIsNotAllZeros() {
        GenerationSession session(model_);
        GenerationSettings settings;
        settings.maxNewTokens = kSteps;
        settings.captureAttention = false;
        settings.sampler.temperature = 1.0f;
        settings.sampler.topP = 0.3f;
        QVERIFY(session.start(prompt_, settings));
        RunExport e{model_, QStringLiteral("prompt"), prompt_, settings, {}, std::nullopt};
        e.runs.push_back(RunRecord{Mode::Cached, {}, {}});
        int cut = -1;
        while (StepResultPtr step = session.step()) {
            const auto& top = step->sample.top;
            const auto zeros = std::count_if(top.begin(), top.end(),
                                             [](const CandidateReport& c) { return c.prob == 0; });
            if (cut < 0 && zeros + 2 >= std::ptrdiff_t(top.size())) cut = step->step;
            e.runs[0].steps.push_back(step);
        }
        QVERIFY2(cut >= 0, "top-p 0.3 never cut all but two candidates");
        RunView view{&e};
        view.selectedStep = cut;
        DistributionChart chart;
        chart.resize(600, 300);
        chart.setView(view);
        chart.show();
        QVERIFY(QTest::qWaitForWindowExposed(&chart));
        chart.refresh();
        chart.plot()->replot(QCustomPlot::rpImmediateRefresh);
        int processed = 0, raw = 0;
        for (int i = 0; i < chart.shownCandidates(); ++i) {
            processed += chart.candidateBars()->data()->at(i)->value > 0;
            raw += chart.rawBars()->data()->at(i)->value > 0;
        }
        QVERIFY(processed <= 2);
        QCOMPARE(raw, chart.shownCandidates());  // a softmax is never exactly 0 here
        QVERIFY(chart.shownCandidates() >= 5);
        // The raw bars are tall enough to see: the y axis is scaled to the larger of the two.
        const double topRaw = chart.rawBars()->data()->at(0)->value;
        QVERIFY(topRaw >= 0.2 * chart.plot()->yAxis->range().upper);
    }

    void chartSaysWhenTheSampledTokenIsNotShown() {
        auto outside = std::make_shared<StepResult>(*cached_[4]);
        outside->sample.top.resize(5);
        outside->sample.top.erase(
            std::remove_if(outside->sample.top.begin(), outside->sample.top.end(),
                           [&](const CandidateReport& c) { return c.id == outside->token; }),
            outside->sample.top.end());
        RunExport e = exportWith(0);
        e.runs[0].steps.push_back(outside);
        DistributionChart chart;
        chart.setView(RunView{&e});
        chart.refresh();
        QVERIFY(chart.title().contains(QStringLiteral("not among the top")));
        QCOMPARE(chart.sampledBar()->data()->size(), 0);
        QCOMPARE(chart.candidateBars()->data()->size(), int(outside->sample.top.size()));
    }

    void chartReplotsOnlyWhenTheStepChanges() {
        RunExport e = exportWith(10);
        RunView view{&e};
        DistributionChart chart;
        chart.resize(600, 300);
        chart.setView(view);
        chart.show();
        QVERIFY(QTest::qWaitForWindowExposed(&chart));
        QSignalSpy replots(chart.plot(), &QCustomPlot::afterReplot);
        chart.refresh();
        QTRY_COMPARE(replots.count(), 1);
        chart.refresh();
        chart.setView(view);
        chart.refresh();
        QTest::qWait(50);
        QCOMPARE(replots.count(), 1);
        e.runs[0].steps.push_back(cached_[10]);  // following: the newest step changed
        chart.refresh();
        QTRY_COMPARE(replots.count(), 2);
        QVERIFY(chart.title().contains(QStringLiteral("Step 10")));
    }

    void chartBarToolTip() {
        const RunExport e = exportWith(kSteps);
        DistributionChart chart;
        chart.resize(900, 300);
        chart.setView(RunView{&e});
        chart.show();
        QVERIFY(QTest::qWaitForWindowExposed(&chart));
        chart.refresh();
        chart.plot()->replot();  // lay out now to map coordinates to pixels
        const StepResult& s = *cached_.back();
        const QRect area = chart.plot()->axisRect()->rect();
        const int n = chart.shownCandidates();
        for (int i : {0, n / 2, n - 1}) {
            const QPoint at(int(chart.plot()->xAxis->coordToPixel(i)), area.center().y());
            QCOMPARE(chart.barAt(at), i);
            const CandidateReport& c = s.sample.top[std::size_t(i)];
            const QString tip = chart.barToolTip(i);
            QVERIFY(tip.contains(QStringLiteral("id %1").arg(c.id)));
            QVERIFY(tip.contains(QString::number(c.prob, 'f', 4)));
            QVERIFY(tip.contains(QString::number(c.rawProb, 'f', 4)));
        }
        const QPoint between(int(chart.plot()->xAxis->coordToPixel(3.5)), area.center().y());
        QCOMPARE(chart.barAt(between), -1);
    }

    // The selector walks the sampler's chain: each stage's listed candidates beside what the
    // stage before gave them, named in the title and the export's file name; the draw shows u
    // across the survivors' cumulative distribution and marks the drawn token's column.
    void chartWalksTheChainStageByStage() {
        GenerationSession session(model_);
        GenerationSettings settings;
        settings.maxNewTokens = 12;
        settings.captureAttention = false;
        settings.sampler.temperature = 0.9f;
        settings.sampler.topK = 12;
        settings.sampler.topP = 0.9f;
        settings.sampler.minP = 0.05f;
        settings.sampler.repeatPenalty = 1.3f;
        settings.sampler.presencePenalty = 0.2f;
        settings.sampler.repeatLastN = 32;
        QVERIFY(session.start(prompt_, settings));
        RunExport e{model_, QStringLiteral("prompt"), prompt_, settings, {}, std::nullopt};
        e.runs.push_back(RunRecord{Mode::Cached, {}, {}});
        while (StepResultPtr step = session.step()) e.runs[0].steps.push_back(step);
        RunView view{&e};
        view.selectedStep = 7;
        const SampleSummary& m = e.runs[0].steps[7]->sample;
        DistributionChart chart;
        chart.resize(900, 320);
        chart.setView(view);
        chart.show();
        QVERIFY(QTest::qWaitForWindowExposed(&chart));
        chart.plot()->setObjectName(QStringLiteral("distribution"));
        QCOMPARE(chart.shownStage(), int(DistributionChart::kOverview));
        for (int stage = 1; stage <= kSamplerStages; ++stage) {
            chart.setShownStage(stage);
            chart.plot()->replot(QCustomPlot::rpImmediateRefresh);
            const StageSnapshot& st = m.trace.at(SamplerStage(stage - 1));
            const int n = chart.shownCandidates();
            QVERIFY(n >= 5 && n <= st.count);
            QCOMPARE(chart.candidateBars()->data()->size(), n);
            const bool raw = SamplerStage(stage - 1) == SamplerStage::Raw;
            QCOMPARE(chart.rawBars()->data()->size(), raw ? 0 : n);
            for (int i = 0; i < n; ++i) {
                QCOMPARE(chart.candidateBars()->data()->at(i)->value,
                         double(st.top[std::size_t(i)].prob));
                if (!raw)
                    QCOMPARE(chart.rawBars()->data()->at(i)->value,
                             double(st.top[std::size_t(i)].before));
            }
            QVERIFY2(chart.title().contains(DistributionChart::stageName(stage)),
                     qPrintable(chart.title()));
            const QString name =
                defaultExportName(chart.plot(), QStringLiteral("no run"), QStringLiteral("png"));
            QCOMPARE(name, QStringLiteral("distribution_stage-%1.png")
                               .arg(QLatin1String(samplerStageKey(SamplerStage(stage - 1)))));
        }
        // Top-k 12 leaves at most 12 tokens, min-p no more than top-p.
        QVERIFY(m.trace.at(SamplerStage::TopK).survivors <= 12);
        QVERIFY(m.trace.at(SamplerStage::MinP).survivors <=
                m.trace.at(SamplerStage::TopP).survivors);

        chart.setShownStage(DistributionChart::kDraw);
        chart.plot()->replot(QCustomPlot::rpImmediateRefresh);
        const DrawReport& d = m.trace.draw;
        QVERIFY(d.drawn);
        QVERIFY2(chart.title().contains(QStringLiteral("u = %1").arg(d.u, 0, 'f', 4)),
                 qPrintable(chart.title()));
        QCOMPARE(chart.uLine()->point1->coords().y(), d.u);
        QVERIFY(chart.uLine()->visible() && chart.cumulativeCurve()->visible());
        QCOMPARE(chart.rawBars()->data()->size(), 0);
        // The staircase climbs by each shown bar; the drawn column holds u.
        const int n = chart.shownCandidates();
        double cum = 0;
        for (int i = 0; i < n; ++i) cum += chart.candidateBars()->data()->at(i)->value;
        const auto curve = chart.cumulativeCurve()->data();
        QVERIFY(std::abs((curve->end() - 1)->value - cum) < 1e-6);
        if (d.index < n) {
            QCOMPARE(chart.drawMarker()->data()->size(), 1);
            QCOMPARE(chart.drawMarker()->data()->at(0)->key, double(d.index));
            QCOMPARE(chart.drawMarker()->data()->at(0)->value, d.u);
            double before = 0;
            for (int i = 0; i < d.index; ++i) before += chart.candidateBars()->data()->at(i)->value;
            QVERIFY(before <= d.u + 1e-6 &&
                    d.u < before + chart.candidateBars()->data()->at(d.index)->value + 1e-6);
        }
        QCOMPARE(defaultExportName(chart.plot(), QStringLiteral("no run"), QStringLiteral("svg")),
                 QStringLiteral("distribution_stage-draw.svg"));
        QVERIFY(chart.grab().save(QStringLiteral("/tmp/distribution_draw.png")));
        chart.setShownStage(1 + int(SamplerStage::TopP));
        chart.plot()->replot(QCustomPlot::rpImmediateRefresh);
        QVERIFY(chart.grab().save(QStringLiteral("/tmp/distribution_top_p.png")));
        // Back to the overview: the draw's marks leave, the file name is plain again.
        chart.setShownStage(DistributionChart::kOverview);
        QVERIFY(!chart.uLine()->visible() && !chart.cumulativeCurve()->visible());
        QCOMPARE(defaultExportName(chart.plot(), QStringLiteral("no run"), QStringLiteral("png")),
                 QStringLiteral("distribution.png"));
    }

    // Not a check of pixels: the PNGs are for a person to look at.
    void grabPanels() {
        const RunExport e = exportWith(kSteps);
        RunView view{&e};
        view.selectedStep = 12;
        TokenStrip strip;
        showAndRefresh(strip, view);
        QVERIFY(strip.grab().save(QStringLiteral("/tmp/token_strip.png")));
        DistributionChart chart;
        chart.resize(900, 300);
        chart.setView(view);
        chart.show();
        QVERIFY(QTest::qWaitForWindowExposed(&chart));
        chart.refresh();
        chart.plot()->replot();
        QVERIFY(chart.grab().save(QStringLiteral("/tmp/distribution_chart.png")));

        // Dark palette, following the newest step, raw probabilities.
        QPalette dark;
        dark.setColor(QPalette::Window, QColor(40, 42, 46));
        dark.setColor(QPalette::WindowText, QColor(230, 230, 230));
        dark.setColor(QPalette::Base, QColor(30, 31, 34));
        dark.setColor(QPalette::Text, QColor(230, 230, 230));
        view.selectedStep = -1;
        strip.setPalette(dark);
        strip.setView(view);
        strip.refresh();
        QVERIFY(strip.grab().save(QStringLiteral("/tmp/token_strip_dark.png")));
        chart.setPalette(dark);
        chart.setView(view);
        chart.refresh();
        chart.plot()->replot();
        QVERIFY(chart.grab().save(QStringLiteral("/tmp/distribution_chart_dark.png")));
    }
};

QTEST_MAIN(TestPanelsTokens)
#include "test_panels_tokens.moc"
