// Lesson files: the built-in lesson parses; every kind of mistake a teacher can make is refused
// with the file and the line; the live figures equal what the run and the closed forms say.

#include "cost/flops.h"
#include "cost/what_if.h"
#include "lesson/lesson.h"
#include "lesson/lesson_figures.h"
#include "model/embedded_model.h"
#include "run/generation_session.h"

#include <QFile>
#include <QtTest>

using namespace kvscope;

namespace {

const QByteArray kHead = "# A lesson\n\n## A chapter\n\n### A step\n";

// A run of `tokens` tokens in each of `modes`, as the window would hold it.
RunExport makeRun(const ModelPtr& model, const QString& prompt, int tokens,
                  std::vector<Mode> modes) {
    const QByteArray utf8 = prompt.toUtf8();
    RunExport e{model, prompt, model->tokenizer->encode(utf8.toStdString()), {}, {}, std::nullopt};
    e.settings.sampler.temperature = 0;
    e.settings.maxNewTokens = tokens;
    for (Mode m : modes) {
        GenerationSession s(model);
        GenerationSettings settings = e.settings;
        settings.mode = m;
        if (!s.start(e.promptIds, settings)) return e;
        RunRecord r{m, {}, StopReason::None};
        while (auto step = s.step()) r.steps.push_back(step);
        e.runs.push_back(std::move(r));
    }
    return e;
}

double figure(const FigureContext& c, const char* name, const char* arg = "") {
    const auto f = evaluateFigure(c, QLatin1String(name), QLatin1String(arg));
    if (!f) qWarning("%s: %s", name, qPrintable(f.errorMessage()));
    return f ? f.value().value : -1;
}

}  // namespace

class TestLesson : public QObject {
    Q_OBJECT
    ModelPtr model_;

private Q_SLOTS:
    void initTestCase() {
        auto m = loadEmbeddedModel();
        QVERIFY2(m, qPrintable(m.errorMessage()));
        model_ = m.value();
    }

    void builtInLessonParses() {
        auto lesson = loadLesson(builtInLessonPath());
        QVERIFY2(lesson, qPrintable(lesson.errorMessage()));
        const Lesson& l = lesson.value();
        QVERIFY(!l.title.isEmpty());
        // The chapters issue 15 asks for, in its order.
        QCOMPARE(int(l.chapters.size()), 8);
        QVERIFY(l.steps.size() >= 16);
        int figures = 0;
        for (const LessonStep& s : l.steps) {
            QVERIFY2(!s.text.empty(), qPrintable(s.title));
            for (const LessonText& t : s.text) figures += t.isFigure();
        }
        QVERIFY(figures >= 60);
        // The first step sets up everything a reader starting there needs.
        QCOMPARE(l.steps.front().actions.front().verb, QStringLiteral("model"));
    }

    void actionsAreParsedAndConverted() {
        auto lesson = parseLesson(kHead +
                                      "@set mode=compare temperature=0.7 top_k=5 seed=12 "
                                      "stop_at_eot=on\n"
                                      "@prompt One\\ntwo \\\\ three\n"
                                      "@step 3\n@select last\n@attention head=mean layer=1\n"
                                      "@show cost:roofline\nText {{literal}} {step_flops:naive}.\n",
                                  QStringLiteral("t.md"));
        QVERIFY2(lesson, qPrintable(lesson.errorMessage()));
        const auto& a = lesson.value().steps.front().actions;
        QCOMPARE(int(a.size()), 6);
        QCOMPARE(a[0].options.at("mode").toString(), QStringLiteral("compare"));
        QCOMPARE(a[0].options.at("temperature").toDouble(), 0.7);
        QCOMPARE(a[0].options.at("top_k").toInt(), 5);
        QCOMPARE(a[0].options.at("stop_at_eot").toBool(), true);
        QCOMPARE(a[1].text, QStringLiteral("One\ntwo \\ three"));
        QCOMPARE(a[2].options.at("count").toInt(), 3);
        QCOMPARE(a[3].options.at("step").toInt(), -1);
        QCOMPARE(a[4].options.at("head").toInt(), -1);
        QCOMPARE(a[5].text, QStringLiteral("cost:roofline"));
        const auto& t = lesson.value().steps.front().text;
        QCOMPARE(t[0].markdown, QStringLiteral("Text {literal} "));
        QCOMPARE(t[1].figure, QStringLiteral("step_flops"));
        QCOMPARE(t[1].arg, QStringLiteral("naive"));
    }

    void mistakesNameTheLine_data() {
        QTest::addColumn<QByteArray>("text");
        QTest::addColumn<QString>("expected");  // in the message, after "file: line N: "
        QTest::newRow("unknown verb") << kHead + "@fly\n"
                                      << "6: unknown action \"@fly\"";
        QTest::newRow("unknown option") << kHead + "@set colour=red\n"
                                        << "6: @set: \"colour=red\"";
        QTest::newRow("bad number") << kHead + "@set temperature=hot\n"
                                    << "6: @set temperature=: expected a number";
        QTest::newRow("out of range") << kHead + "@set max_tokens=0\n"
                                      << "6: @set max_tokens=: expected a whole number from 1";
        QTest::newRow("bad choice") << kHead + "@set mode=fast\n"
                                    << "6: @set mode=: expected one of naive, cached, compare";
        QTest::newRow("twice") << kHead + "@set seed=1 seed=2\n"
                               << "6: @set: seed is given twice";
        QTest::newRow("no argument") << kHead + "@model\n"
                                     << "6: @model needs an argument";
        QTest::newRow("stray argument") << kHead + "@run now\n"
                                        << "6: @run takes no argument";
        QTest::newRow("unknown panel") << kHead + "@show cost:pie\n"
                                       << "6: @show: unknown panel \"cost:pie\"";
        QTest::newRow("bad select") << kHead + "@select -2\n"
                                    << "6: @select: expected a step";
        QTest::newRow("unknown preset") << kHead + "@whatif model=gpt5\n"
                                        << "6: @whatif model=: expected one of loaded";
        QTest::newRow("bad escape") << kHead + "@prompt a\\qb\n"
                                    << "6: unknown escape \\q";
        QTest::newRow("unknown figure") << kHead + "Cost {dollars}.\n"
                                        << "6: column 6: unknown figure {dollars}";
        QTest::newRow("bad mode") << kHead + "{rows:lazy}\n"
                                  << "6: column 1: {rows:MODE}: expected naive or cached";
        QTest::newRow("bad type") << kHead + "{weight_bytes_as:Q3}\n"
                                  << "6: column 1: {weight_bytes_as:TYPE}: expected a weight type";
        QTest::newRow("stray arg") << kHead + "{layers:naive}\n"
                                   << "6: column 1: {layers} takes no argument";
        QTest::newRow("open brace") << kHead + "a {rows\n"
                                    << "6: column 3: a { without its }";
        QTest::newRow("close brace") << kHead + "a } b\n"
                                     << "6: column 3: a } without its {";
        QTest::newRow("action first")
            << QByteArray("# T\n@run\n") << "2: an action before any step";
        QTest::newRow("text first") << QByteArray("# T\nHello\n") << "2: text outside a step";
        QTest::newRow("step first") << QByteArray("# T\n### S\n") << "2: a step before any";
        QTest::newRow("chapter first") << QByteArray("## C\n") << "1: a chapter before the";
        QTest::newRow("two titles") << QByteArray("# T\n# U\n") << "2: a second \"# \" title";
        QTest::newRow("no steps") << QByteArray("# T\n## C\n") << "3: no steps";
        QTest::newRow("no title") << QByteArray("") << "1: no title";
        QTest::newRow("open fence") << kHead + "```\ncode {not a figure}\n"
                                    << "8: a ``` code block is not closed";
        QTest::newRow("not utf-8") << kHead + "fine\n\xff\xfe\n"
                                   << "7: not UTF-8";
    }
    void mistakesNameTheLine() {
        QFETCH(QByteArray, text);
        QFETCH(QString, expected);
        const auto lesson = parseLesson(text, QStringLiteral("bad.md"));
        QVERIFY(!lesson);
        const QString message = lesson.errorMessage();
        QVERIFY2(message.startsWith(QStringLiteral("bad.md: line ") + expected),
                 qPrintable(message));
    }

    void codeBlocksAndEscapesStayLiteral() {
        auto lesson = parseLesson(kHead + "```\n@run {x}\n```\n\\@home\n", QStringLiteral("t.md"));
        QVERIFY2(lesson, qPrintable(lesson.errorMessage()));
        const LessonStep& s = lesson.value().steps.front();
        QVERIFY(s.actions.empty());
        QString text;
        for (const LessonText& t : s.text) text += t.markdown;
        QCOMPARE(text.trimmed(), QStringLiteral("```\n@run {x}\n```\n@home"));
    }

    void oversizedAndMissingFilesAreRefused() {
        const auto big = parseLesson(QByteArray(kMaxLessonBytes + 1, 'a'), QStringLiteral("b.md"));
        QVERIFY(!big);
        QVERIFY(big.errorMessage().contains(QStringLiteral("at most")));
        const auto none = loadLesson(QStringLiteral("/nonexistent/lesson.md"));
        QVERIFY(!none);
        QVERIFY(none.errorMessage().startsWith(QStringLiteral("/nonexistent/lesson.md: cannot")));
    }

    // Each figure against the step it reads and an independent count: the closed-form FLOPs,
    // the cache's size from the shape, the weights' bytes from the file.
    void figuresEqualTheRunAndTheClosedForms() {
        const RunExport run =
            makeRun(model_, QStringLiteral("Once upon a time"), 40, {Mode::Naive, Mode::Cached});
        QCOMPARE(int(run.runs.size()), 2);
        const ModelConfig& c = model_->config;
        const int prompt = int(run.promptIds.size());
        FigureContext ctx{&run, 20, Mode::Cached, std::nullopt};
        const int n = prompt + 20;  // tokens the pass of step 20 sees
        QCOMPARE(figure(ctx, "prompt_tokens"), double(prompt));
        QCOMPARE(figure(ctx, "step"), 20.0);
        QCOMPARE(figure(ctx, "position"), double(n));
        QCOMPARE(figure(ctx, "rows", "naive"), double(n));
        QCOMPARE(figure(ctx, "rows", "cached"), 1.0);
        QCOMPARE(figure(ctx, "recomputed_rows"), double(n - 1));
        QVERIFY(figure(ctx, "recompute_diff") >= 0 && figure(ctx, "recompute_diff") < 1e-3);
        QCOMPARE(figure(ctx, "step_flops", "naive"), double(stepFlops(c, n, Mode::Naive).total()));
        QCOMPARE(figure(ctx, "step_flops"), double(stepFlops(c, n, Mode::Cached).total()));
        QCOMPARE(figure(ctx, "step_ratio"), double(stepFlops(c, n, Mode::Naive).total()) /
                                                double(stepFlops(c, n, Mode::Cached).total()));
        QCOMPARE(figure(ctx, "total_flops", "cached"),
                 double(cumulativeFlops(c, prompt, 21, Mode::Cached).total()));
        const std::int64_t perToken = 2 * c.nLayer * c.nKvHead * c.headDim() * 4;
        QCOMPARE(figure(ctx, "kv_per_token"), double(perToken));
        QCOMPARE(figure(ctx, "kv_bytes"), double(perToken * n));
        QCOMPARE(figure(ctx, "kv_context"), double(perToken * c.nPositions));
        QCOMPARE(figure(ctx, "gqa_factor"), 1.0);
        QCOMPARE(figure(ctx, "weight_bytes_as", "F32"), double(model_->weightBytes));
        QCOMPARE(figure(ctx, "generated"), 40.0);
        QCOMPARE(figure(ctx, "layers"), double(c.nLayer));
        const auto token = evaluateFigure(ctx, QStringLiteral("token"), QString());
        QVERIFY(token && token.value().text == run.runs[1].steps[20]->tokenText);
        // The newest step when none is selected.
        ctx.selectedStep = -1;
        QCOMPARE(figure(ctx, "step"), 39.0);
    }

    // Naive attention FLOPs add n^2 per step, so a run's grow as T^3; cached ones as T^2.
    void slopesShowTheCubic() {
        const RunExport run =
            makeRun(model_, QStringLiteral("Once"), 160, {Mode::Naive, Mode::Cached});
        const FigureContext ctx{&run, -1, Mode::Cached, std::nullopt};
        const double naive = figure(ctx, "attention_slope", "naive");
        const double cached = figure(ctx, "attention_slope", "cached");
        QVERIFY2(naive > 2.8 && naive < 3.05, qPrintable(QString::number(naive)));
        QVERIFY2(cached > 1.8 && cached < 2.05, qPrintable(QString::number(cached)));
        QVERIFY(figure(ctx, "flops_slope", "naive") > figure(ctx, "flops_slope", "cached"));
        QVERIFY(figure(ctx, "flops_ratio") > 10);
    }

    void rooflineFiguresFollowTheRoofs() {
        const RunExport run = makeRun(model_, QStringLiteral("Once"), 8, {Mode::Cached});
        FigureContext ctx{&run, -1, Mode::Cached, std::nullopt};
        const auto missing = evaluateFigure(ctx, QStringLiteral("bandwidth"), QString());
        QVERIFY(!missing && missing.errorMessage().contains(QStringLiteral("@roofs")));
        ctx.roofs = MachineRoofs{20, 100, 2, {}};
        QCOMPARE(figure(ctx, "bandwidth"), 20.0);
        QCOMPARE(figure(ctx, "ridge"), 5.0);  // 100 GFLOP/s over 20 GB/s
        // One step's weights at 20 GB/s: bytes / 2e7 per millisecond.
        QCOMPARE(figure(ctx, "stream_ms", "F32"),
                 double(whatif::weightBytesPerStep(model_->config, GgmlType::F32)) / 2e7);
        const StepResult& s = *run.runs[0].steps.back();
        QCOMPARE(figure(ctx, "intensity"), double(s.flops.total()) / double(s.bytes.total()));
    }

    void figuresSayWhatIsMissing() {
        const RunExport cachedOnly = makeRun(model_, QStringLiteral("Once"), 4, {Mode::Cached});
        const FigureContext ctx{&cachedOnly, -1, Mode::Cached, std::nullopt};
        const auto rows = evaluateFigure(ctx, QStringLiteral("recomputed_rows"), QString());
        QVERIFY(!rows && rows.errorMessage().contains(QStringLiteral("no naive steps")));
        const auto diff = evaluateFigure(ctx, QStringLiteral("max_logit_diff"), QString());
        QVERIFY(!diff);
        const FigureContext none{};
        const auto layers = evaluateFigure(none, QStringLiteral("layers"), QString());
        QVERIFY(!layers && layers.errorMessage().contains(QStringLiteral("needs a run")));
    }
};

QTEST_GUILESS_MAIN(TestLesson)
#include "test_lesson.moc"
