// The built-in lesson driven from its first step to its last on the real window: every action
// runs, every figure is filled from the run on screen, the outlined panel is the one the step
// names; Back, the keyboard and resuming work; a broken lesson file changes nothing; closing the
// lesson gives the reader's settings back.

#include "attention_heatmap.h"
#include "cost_charts.h"
#include "lesson_driver.h"
#include "lesson_panel.h"
#include "main_window.h"
#include "model/embedded_model.h"
#include "roofs_probe.h"
#include "token_strip.h"

#include <QDockWidget>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

using namespace kvscope;

namespace {

// Runs of up to 400 tokens in both modes; slower instrumented.
#ifdef KVSCOPE_SANITIZED
constexpr int kStepTimeoutMs = 600000;
#else
constexpr int kStepTimeoutMs = 300000;
#endif

// The panel a step's last @show names ("cost:memory" is the cost dock).
QString shownPanel(const LessonStep& s) {
    QString panel;
    for (const LessonAction& a : s.actions)
        if (a.verb == QLatin1String("show")) panel = a.text.section(QLatin1Char(':'), 0, 0);
    return panel;
}

int figureCount(const LessonStep& s) {
    int n = 0;
    for (const LessonText& t : s.text) n += t.isFigure();
    return n;
}

bool hasDigit(const QString& s) {
    return std::any_of(s.begin(), s.end(), [](QChar c) { return c.isDigit(); });
}

}  // namespace

class TestLessonMode : public QObject {
    Q_OBJECT
    std::unique_ptr<MainWindow> w_;

    // Goes to `index` and waits until its actions ran and its narration is on screen.
    bool showStep(int index) {
        QSignalSpy shown(w_->lesson(), &LessonDriver::stepShown);
        QSignalSpy failed(w_->lesson(), &LessonDriver::failed);
        w_->lesson()->goTo(index);
        while (shown.isEmpty() && failed.isEmpty())
            if (!shown.wait(kStepTimeoutMs)) break;
        if (!failed.isEmpty()) qWarning("%s", qPrintable(failed.first().first().toString()));
        return !shown.isEmpty() && shown.last().first().toInt() == index;
    }

private Q_SLOTS:
    void initTestCase() {
        QCoreApplication::setOrganizationName(QStringLiteral("kvscope-tests"));
        QStandardPaths::setTestModeEnabled(true);
        QSettings().clear();
        w_ = std::make_unique<MainWindow>();
        w_->resize(1280, 720);
        w_->show();
        auto model = loadEmbeddedModel();
        QVERIFY2(model, qPrintable(model.errorMessage()));
        w_->setModel(model.value());
        // Fixed roofs: the lesson's @roofs then has nothing to measure, and the figures that
        // read them are known numbers.
        w_->roofs()->setRoofs(MachineRoofs{20, 100, 1, QDateTime::currentDateTimeUtc()});
        w_->lesson()->setFast(true);
    }
    void cleanupTestCase() { w_.reset(); }

    void builtInLessonRunsFromStartToEnd() {
        w_->controls()->setPrompt(QStringLiteral("my own prompt"));
        QVERIFY(w_->openLesson());
        auto* dock = w_->findChild<QDockWidget*>(QStringLiteral("lesson"));
        QVERIFY(dock && dock->isVisible());
        const Lesson& lesson = w_->lesson()->lesson();
        for (int i = 0; i < int(lesson.steps.size()); ++i) {
            const LessonStep& s = lesson.steps[std::size_t(i)];
            QVERIFY2(showStep(i), qPrintable(s.title));
            QVERIFY2(w_->lesson()->unfilledFigures().isEmpty(),
                     qPrintable(s.title + QStringLiteral(": ") +
                                w_->lesson()->unfilledFigures().join(QStringLiteral("; "))));
            const auto filled = w_->lesson()->filledFigures();
            QCOMPARE(filled.size(), figureCount(s));
            const QString shown = w_->lessonPanel()->narrationText();
            for (const auto& [name, text] : filled) {
                QVERIFY2(!text.isEmpty(), qPrintable(name));
                // Numbers everywhere but the token and the model's name.
                if (name != QLatin1String("token") && name != QLatin1String("model"))
                    QVERIFY2(hasDigit(text), qPrintable(name + QStringLiteral(" = ") + text));
            }
            QVERIFY2(!shown.contains(QLatin1Char('{')), qPrintable(shown));
            // The outlined panel is the one the step names, on screen.
            const QString panel = shownPanel(s);
            QVERIFY2(!panel.isEmpty(), qPrintable(s.title));
            QWidget* outlined = w_->lesson()->outlined();
            QVERIFY2(outlined && outlined->isVisible(), qPrintable(s.title));
            if (panel == QLatin1String("tokens"))
                QCOMPARE(outlined, static_cast<QWidget*>(w_->tokenStrip()));
            else
                QCOMPARE(outlined->objectName(),
                         panel == QLatin1String("whatif") ? QStringLiteral("whatIf") : panel);
        }
        // The last chapters ran the Llama: grouped-query attention was on screen.
        QCOMPARE(w_->model()->config.nKvHead * 4, w_->model()->config.nHead);
    }

    // At 1280x720 the lesson takes the lower left, the narration keeps room to read, and every
    // other panel stays on screen.
    void fitsA720pWindow() {
        QCOMPARE(w_->size(), QSize(1280, 720));
        for (QDockWidget* d : w_->findChildren<QDockWidget*>()) {
            // Cost and What if share a place as tabs: the one in front is checked.
            if (!w_->tabifiedDockWidgets(d).isEmpty() && d->visibleRegion().isEmpty()) continue;
            QVERIFY2(d->isVisible() && d->width() >= 100 && d->height() >= 100,
                     qPrintable(d->objectName()));
            const QRect r(d->mapTo(w_.get(), QPoint()), d->size());
            QVERIFY2(w_->rect().contains(r), qPrintable(QStringLiteral("%1 at %2,%3 %4x%5")
                                                            .arg(d->objectName())
                                                            .arg(r.x())
                                                            .arg(r.y())
                                                            .arg(r.width())
                                                            .arg(r.height())));
        }
        auto* text = w_->lessonPanel()->findChild<QWidget*>(QStringLiteral("lesson.text"));
        QVERIFY(text && text->height() >= 200);
        auto* next = w_->lessonPanel()->findChild<QWidget*>(QStringLiteral("lesson.next"));
        QVERIFY(next && next->isVisible());
        QVERIFY(w_->rect().contains(QRect(next->mapTo(w_.get(), QPoint()), next->size())));
    }

    // The figures of the recompute step are this run's: the naive step at the selected step.
    void narrationQuotesTheRunOnScreen() {
        const Lesson& lesson = w_->lesson()->lesson();
        int index = -1;
        for (int i = 0; i < int(lesson.steps.size()); ++i)
            for (const LessonText& t : lesson.steps[std::size_t(i)].text)
                if (t.figure == QLatin1String("recomputed_rows") && index < 0) index = i;
        QVERIFY(index > 0);
        QVERIFY(showStep(index));
        const RunExport* run = w_->run();
        QVERIFY(run && run->runs.front().mode == Mode::Naive);
        const StepResult& s = *run->runs.front().steps[std::size_t(w_->selectedStep())];
        QString rows;
        for (const auto& [name, text] : w_->lesson()->filledFigures())
            if (name == QLatin1String("recomputed_rows")) rows = text;
        QCOMPARE(rows, QString::number(s.position - 1));
        QVERIFY(w_->attention()->recomputeMapShown());
        // Picking another step in the strip re-reads the figures.
        w_->selectStep(10);
        QTest::qWait(50);
        for (const auto& [name, text] : w_->lesson()->filledFigures())
            if (name == QLatin1String("recomputed_rows"))
                QCOMPARE(text, QString::number(run->runs.front().steps[10]->position - 1));
    }

    // "@step 3" leaves a paused run of three tokens in each mode; the next page's @run ends it
    // and runs to the end.
    void stepsTheEngineOneTokenAtATime() {
        const Lesson& lesson = w_->lesson()->lesson();
        int index = -1;
        for (int i = 0; i < int(lesson.steps.size()) && index < 0; ++i)
            for (const LessonAction& a : lesson.steps[std::size_t(i)].actions)
                if (a.verb == QLatin1String("step")) index = i;
        QVERIFY(index > 0);
        QVERIFY(showStep(index));
        QVERIFY(w_->isRunning());
        QCOMPARE(int(w_->run()->runs.size()), 2);
        for (const RunRecord& r : w_->run()->runs) QCOMPARE(int(r.steps.size()), 3);
        QVERIFY(w_->lesson()->unfilledFigures().isEmpty());
        QVERIFY(showStep(index + 1));
        QVERIFY(!w_->isRunning());
        for (const RunRecord& r : w_->run()->runs) QCOMPARE(int(r.steps.size()), 60);
    }

    void keysAndBackMoveThroughTheLesson() {
        QVERIFY(showStep(3));
        QSignalSpy shown(w_->lesson(), &LessonDriver::stepShown);
        QTest::keyClick(w_.get(), Qt::Key_PageDown);
        QVERIFY(shown.wait(kStepTimeoutMs));
        QCOMPARE(w_->lesson()->current(), 4);
        QTest::keyClick(w_.get(), Qt::Key_PageUp);
        QVERIFY(shown.wait(kStepTimeoutMs));
        QCOMPARE(w_->lesson()->current(), 3);
        w_->lesson()->back();
        QVERIFY(shown.wait(kStepTimeoutMs));
        QCOMPARE(w_->lesson()->current(), 2);
        QVERIFY(w_->lesson()->unfilledFigures().isEmpty());
    }

    // Reaching a step out of order replays what came before: the temperature step's run is at
    // temperature 1.5 with its seed even when it is the first step shown.
    void jumpingReplaysTheSettingsBefore() {
        const Lesson& lesson = w_->lesson()->lesson();
        int index = -1;
        for (int i = 0; i < int(lesson.steps.size()); ++i)
            if (lesson.steps[std::size_t(i)].title == QLatin1String("Top-k and top-p")) index = i;
        QVERIFY(index > 0);
        w_->controls()->setPrompt(QStringLiteral("something else"));
        QVERIFY(showStep(index));
        const GenerationSettings s = w_->controls()->settings();
        QCOMPARE(s.sampler.topK, 5);
        QCOMPARE(s.sampler.seed, std::uint64_t(7));
        QCOMPARE(w_->run()->prompt, lesson.steps.front().actions[1].text);
        QVERIFY(w_->lesson()->unfilledFigures().isEmpty());
    }

    void resumesWhereTheReaderStopped() {
        QVERIFY(showStep(5));
        QCOMPARE(LessonDriver::rememberedStep(builtInLessonPath()), 5);
        w_->closeLesson();
        QSignalSpy shown(w_->lesson(), &LessonDriver::stepShown);
        QVERIFY(w_->openLesson());
        QVERIFY(shown.count() || shown.wait(kStepTimeoutMs));  // at once when nothing runs
        QCOMPARE(w_->lesson()->current(), 5);
    }

    void closingGivesTheSettingsBack() {
        w_->closeLesson();
        QCOMPARE(w_->model()->source, embeddedModelPath(QStringLiteral("gpt2")));
        QCOMPARE(w_->controls()->prompt(), QStringLiteral("my own prompt"));
        QVERIFY(!w_->findChild<QDockWidget*>(QStringLiteral("lesson"))->isVisible());
        QVERIFY(!w_->lesson()->outlined());
    }

    void brokenLessonChangesNothing() {
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("broken.md"));
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("# Broken\n\n## One\n\n### First\n@set temperature=warm\n");
        f.close();
        const auto r = w_->openLesson(path);
        QVERIFY(!r);
        QVERIFY2(r.errorMessage().startsWith(path + QStringLiteral(": line 6: @set temperature=")),
                 qPrintable(r.errorMessage()));
        QVERIFY(!w_->findChild<QDockWidget*>(QStringLiteral("lesson"))->isVisible());
        QCOMPARE(w_->controls()->prompt(), QStringLiteral("my own prompt"));
    }

    // An action the parser cannot check (the model has no layer 40) stops the step with the
    // line in the panel; the lesson goes on.
    void actionThatCannotRunIsReported() {
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("deep.md"));
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(
            "# Deep\n\n## One\n\n### First\n@model embedded:gpt2\n@attention layer=40\n"
            "Layers: {layers}.\n\n### Second\n@show tokens\nThe end.\n");
        f.close();
        QSignalSpy failed(w_->lesson(), &LessonDriver::failed);
        QVERIFY(w_->openLesson(path));
        QVERIFY(failed.count() || failed.wait(10000));
        QVERIFY2(failed.first().first().toString().contains(QStringLiteral("line 7: @attention "
                                                                           "layer=40")),
                 qPrintable(failed.first().first().toString()));
        QVERIFY(w_->lessonPanel()->statusText().contains(QStringLiteral("line 7")));
        QVERIFY(showStep(1));
        QVERIFY(w_->lessonPanel()->narrationText().contains(QStringLiteral("The end.")));
        w_->closeLesson();
    }
};

QTEST_MAIN(TestLessonMode)
#include "test_lesson_mode.moc"
