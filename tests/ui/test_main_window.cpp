// The whole window as a user drives it: a run through the worker fills every panel, scrubbing
// selects a step everywhere, exports write what they claim, a bad model leaves the old one, and
// the GUI thread never stalls while tokens stream in at full speed.

#include "attention_heatmap.h"
#include "cost_charts.h"
#include "distribution_chart.h"
#include "main_window.h"
#include "model/embedded_model.h"
#include "roofs_probe.h"
#include "token_strip.h"
#include "what_if_panel.h"

#include "qcustomplot_include.h"

#include <QElapsedTimer>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QMenu>
#include <QMenuBar>
#include <QSignalSpy>
#include <QSvgRenderer>
#include <QTemporaryDir>
#include <QtTest>

using namespace kvscope;

namespace {

const QString kModel = QStringLiteral(KVSCOPE_FIXTURES "/reference/model");

// The stall probe's bound: the drawing code runs several times slower under the sanitizers.
#ifdef KVSCOPE_SANITIZED
constexpr qint64 kStallLimitMs = 1500;
#else
constexpr qint64 kStallLimitMs = 250;
#endif

QCPGraph* graph(CostCharts* c, const QString& id) {
    for (QCustomPlot* p : c->plots())
        if (auto* g = p->findChild<QCPGraph*>(id)) return g;
    return nullptr;
}

int points(const QCPGraph* g) {
    return g ? g->data()->size() : -1;
}

}  // namespace

class TestMainWindow : public QObject {
    Q_OBJECT
    std::unique_ptr<MainWindow> w_;

    void runToEnd(int tokens) {
        QSignalSpy ended(w_.get(), &MainWindow::runEnded);
        w_->controls()->setPrompt(QStringLiteral("The old lighthouse keeper said that"));
        QSettings().setValue(QStringLiteral("controls/maxTokens"), tokens);
        w_->controls()->restoreSettings();
        Q_EMIT w_->controls()->generateRequested();
        QVERIFY(ended.wait(20000));
        QTest::qWait(80);  // one frame of the display timer
    }

private Q_SLOTS:
    void initTestCase() {
        QCoreApplication::setOrganizationName(QStringLiteral("kvscope-tests"));
        QSettings().clear();
        QSettings().setValue(QStringLiteral("controls/mode"), 2);  // compare
        QSettings().setValue(QStringLiteral("controls/delayMs"), 0);
        w_ = std::make_unique<MainWindow>();
        w_->resize(1280, 800);
        w_->show();
        QSignalSpy changed(w_.get(), &MainWindow::modelChanged);
        w_->openModel(kModel);
        QVERIFY(changed.wait(10000));
    }
    void cleanupTestCase() { w_.reset(); }

    void runFillsEveryPanel() {
        runToEnd(40);
        const RunExport* run = w_->run();
        QVERIFY(run);
        QCOMPARE(run->runs.size(), std::size_t(2));
        const int prompt = int(run->promptIds.size());
        for (const RunRecord& r : run->runs) QCOMPARE(r.steps.size(), std::size_t(40));
        QCOMPARE(w_->tokenStrip()->chipCount(), prompt + 40);
        const int candidates = w_->distribution()->shownCandidates();
        QVERIFY(candidates >= 5 && candidates <= 20);
        QCOMPARE(w_->distribution()->candidateBars()->data()->size(), candidates);
        QCOMPARE(w_->distribution()->rawBars()->data()->size(), candidates);
        QCOMPARE(w_->attention()->shownRows(), prompt + 39);  // rows the last step computed
        QCOMPARE(points(graph(w_->costs(), "perStep.naive")), 40);
        QCOMPARE(points(graph(w_->costs(), "perStep.cached")) +
                     points(graph(w_->costs(), "perStep.cached.prefill")),
                 40);
        QVERIFY(run->maxLogitDiff && *run->maxLogitDiff <= 1e-4f);
        QCOMPARE(points(graph(w_->costs(), "roofline.naive")), 40);
        QCOMPARE(points(graph(w_->costs(), "roofline.cached")) +
                     points(graph(w_->costs(), "roofline.prefill.cached")),
                 40);
    }

    void scrubbingSelectsTheStepEverywhere() {
        TokenStrip* strip = w_->tokenStrip();
        const int prompt = int(w_->run()->promptIds.size());
        const int chip = prompt + 7;  // generated step 7
        QCOMPARE(strip->stepOfChip(chip), 7);
        QTest::mouseClick(strip->viewport(), Qt::LeftButton, {}, strip->chipRect(chip).center());
        QTest::qWait(80);
        QVERIFY2(w_->distribution()->title().contains(QStringLiteral("Step 7")),
                 qPrintable(w_->distribution()->title()));
        QCOMPARE(w_->attention()->shownRows(), prompt + 7);
        QTest::keyClick(strip->viewport(), Qt::Key_Left);
        QTest::qWait(80);
        QVERIFY(w_->distribution()->title().contains(QStringLiteral("Step 6")));
        QTest::keyClick(strip->viewport(), Qt::Key_End);
        QTest::qWait(80);
        QVERIFY(w_->distribution()->title().contains(QStringLiteral("Step 39")));
    }

    void exportAllWritesWhatItClaims() {
        // One probe for the window: the what-if dock and the roofline read the same roofs, and
        // run.json records them.
        QCOMPARE(w_->whatIf()->roofsProbe(), w_->roofs());
        MachineRoofs roofs;
        roofs.bandwidthGBs = 12.5, roofs.gemmGflops = 75, roofs.threads = 2;
        roofs.measured = QDateTime(QDate(2026, 1, 2), QTime(3, 4, 5), Qt::UTC);
        w_->roofs()->setRoofs(roofs);
        QVERIFY(graph(w_->costs(), "roofline.roof.bandwidth")->visible());
        QTemporaryDir dir;
        auto files = w_->exportAll(dir.path());
        QVERIFY2(files.ok(), qPrintable(files.errorMessage()));
        int png = 0, pdf = 0, svg = 0;
        for (const QString& f : files.value()) {
            QFile file(f);
            QVERIFY(file.open(QIODevice::ReadOnly));
            if (f.endsWith(".png")) {
                QImage img(f);
                QCOMPARE(img.size(), QSize(2400, 1500));  // 1200 x 750 at 2x
                ++png;
            } else if (f.endsWith(".pdf")) {
                QVERIFY(file.read(4) == "%PDF");
                ++pdf;
            } else if (f.endsWith(".svg")) {
                QVERIFY(QSvgRenderer(f).isValid());
                ++svg;
            }
        }
        QCOMPARE(png, w_->charts().size());
        QVERIFY(files.value().contains(QDir(dir.path()).filePath("roofline.png")));
        QCOMPARE(pdf, png);
        QCOMPARE(svg, png);
        QFile csv(QDir(dir.path()).filePath("run.csv"));
        QVERIFY(csv.open(QIODevice::ReadOnly));
        // One record per step and mode; a token's own newline continues its quoted field.
        int records = 0;
        for (const QByteArray& line : csv.readAll().split('\n'))
            records += line.startsWith("naive,") || line.startsWith("cached,");
        QCOMPARE(records, 2 * 40);
        QFile json(QDir(dir.path()).filePath("run.json"));
        QVERIFY(json.open(QIODevice::ReadOnly));
        const QJsonObject o = QJsonDocument::fromJson(json.readAll()).object();
        QVERIFY(o.value(QStringLiteral("comparison"))
                    .toObject()
                    .value(QStringLiteral("tokens_equal"))
                    .toBool());
        const QJsonObject recorded = o["machine_roofs"].toObject();
        QCOMPARE(recorded["bandwidth_gbs"].toDouble(), 12.5);
        QCOMPARE(recorded["gemm_gflops"].toDouble(), 75.0);
        QCOMPARE(recorded["ridge_flop_per_byte"].toDouble(), 6.0);
        QCOMPARE(recorded["threads"].toInt(), 2);
        QCOMPARE(recorded["measured_utc"].toString(), QStringLiteral("2026-01-02T03:04:05Z"));
    }

    void badModelKeepsTheOldOne() {
        const ModelPtr before = w_->model();
        QTemporaryDir dir;
        QFile f(QDir(dir.path()).filePath("model.safetensors"));
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("\xff\xff\xff\xff\xff\xff\xff\x7f{}");
        f.close();
        QSignalSpy failed(w_.get(), &MainWindow::modelLoadFailed);
        w_->openModel(dir.path());
        QVERIFY(failed.wait(5000));
        QVERIFY(failed.first()[0].toString().contains(QStringLiteral("config.json")));
        QCOMPARE(w_->model(), before);
        // A llama2.c version-1 checkpoint cut short: refused by the header's size check.
        QFile v1(QStringLiteral(KVSCOPE_FIXTURES "/reference/llama/mqa_v1.bin"));
        QVERIFY(v1.open(QIODevice::ReadOnly));
        QFile cut(QDir(dir.path()).filePath("cut.bin"));
        QVERIFY(cut.open(QIODevice::WriteOnly));
        cut.write(v1.read(v1.size() / 2));
        cut.close();
        w_->openModel(cut.fileName());
        QVERIFY(failed.wait(5000));
        QVERIFY2(failed.last()[0].toString().contains(QStringLiteral("cut.bin")),
                 qPrintable(failed.last()[0].toString()));
        QCOMPARE(w_->model(), before);
        for (QWidget* box : QApplication::topLevelWidgets())
            if (qobject_cast<QMessageBox*>(box)) box->close();
    }

    // File > Open Model takes a llama2.c checkpoint file (its tokenizer.bin beside it); the model
    // card names the architecture and the KV heads the query heads share, and a run works.
    void opensALlama2cCheckpointFile() {
        const ModelPtr before = w_->model();
        QSignalSpy changed(w_.get(), &MainWindow::modelChanged);
        w_->openModel(QStringLiteral(KVSCOPE_FIXTURES "/reference/llama/gqa.bin"));
        QVERIFY(changed.wait(10000));
        QCOMPARE(w_->model()->config.modelType, QStringLiteral("llama"));
        QCOMPARE(w_->model()->config.nKvHead, 2);
        bool card = false;
        for (const QLabel* l : w_->findChildren<QLabel*>())
            card = card || (l->text().contains(QStringLiteral("llama")) &&
                            l->text().contains(QStringLiteral("8 heads sharing 2 KV heads")) &&
                            l->text().contains(QStringLiteral("4× more")));
        QVERIFY2(card, "the model card names the architecture, heads and KV heads");
        QSignalSpy failed(w_.get(), &MainWindow::modelLoadFailed);
        runToEnd(20);
        QCOMPARE(failed.count(), 0);
        w_->openModel(kModel);  // the other tests expect the GPT-2 reference
        QVERIFY(changed.wait(10000));
        QVERIFY(w_->model() != before);
    }

    // One prompt on one model in two precisions (a GGUF Llama in F32, then in Q8_0): after the
    // second run the distribution panel says how far the shown step's probabilities moved from
    // the first model's and at what speed the two decoded.
    void comparesWithThePreviousModelsRun() {
        QSignalSpy changed(w_.get(), &MainWindow::modelChanged);
        const QString dir = QStringLiteral(KVSCOPE_FIXTURES "/reference/gguf/");
        w_->openModel(dir + "llama_f32.gguf");
        QVERIFY(changed.wait(10000));
        runToEnd(6);
        QVERIFY(!w_->distribution()->title().contains(QStringLiteral("vs llama_f32.gguf")));
        w_->openModel(dir + "llama_q8_0.gguf");
        QVERIFY(changed.wait(10000));
        runToEnd(6);
        w_->selectStep(0);
        QTest::qWait(80);
        const QString title = w_->distribution()->title();
        QVERIFY2(title.contains(QStringLiteral("vs llama_f32.gguf")) &&
                     title.contains(QStringLiteral("largest move")) &&
                     title.contains(QStringLiteral("its speed")),
                 qPrintable(title));
        w_->openModel(kModel);  // the other tests expect the GPT-2 reference
        QVERIFY(changed.wait(10000));
    }

    // File > Embedded Models lists every model inside the executable, checks the loaded one, and
    // switching between them loads the other through the same path as a file, keeping the run
    // settings.
    void embeddedModelsMenuSwitchesAndKeepsSettings() {
        QMenu* menu = nullptr;
        for (QMenu* m : w_->menuBar()->findChildren<QMenu*>())
            if (m->title().remove(QLatin1Char('&')) == QLatin1String("Embedded Models")) menu = m;
        QVERIFY(menu);
        QStringList listed;
        for (QAction* a : menu->actions()) listed << a->data().toString();
        QCOMPARE(listed,
                 (QStringList{QStringLiteral("embedded:gpt2"), QStringLiteral("embedded:llama")}));
        auto* gpt2 = menu->findChild<QAction*>(QStringLiteral("embedded.gpt2"));
        auto* llama = menu->findChild<QAction*>(QStringLiteral("embedded.llama"));
        QVERIFY(gpt2 && llama);
        QVERIFY(!gpt2->isChecked() && !llama->isChecked());  // the reference model is loaded

        QSettings().setValue(QStringLiteral("controls/temperature"), 0.55);
        QSettings().setValue(QStringLiteral("controls/seed"), 4242);
        w_->controls()->restoreSettings();
        const GenerationSettings before = w_->controls()->settings();
        QSignalSpy changed(w_.get(), &MainWindow::modelChanged);
        llama->trigger();
        QVERIFY(changed.wait(20000));
        QCOMPARE(w_->model()->source, QStringLiteral("embedded:llama"));
        QVERIFY(w_->windowTitle().contains(QLatin1String("embedded:llama")));
        QVERIFY(llama->isChecked() && !gpt2->isChecked());
        // The prompt's hint names the start token of the model loaded.
        QVERIFY2(w_->controls()->promptPlaceholder().contains(QLatin1String("<s>")),
                 qPrintable(w_->controls()->promptPlaceholder()));
        const GenerationSettings after = w_->controls()->settings();
        QCOMPARE(after.sampler.temperature, before.sampler.temperature);
        QCOMPARE(after.sampler.seed, before.sampler.seed);
        QCOMPARE(after.maxNewTokens, before.maxNewTokens);
        QCOMPARE(after.mode, before.mode);

        gpt2->trigger();
        QVERIFY(changed.wait(20000));
        QCOMPARE(w_->model()->source, QStringLiteral("embedded:gpt2"));
        QVERIFY(gpt2->isChecked() && !llama->isChecked());
        QVERIFY(w_->controls()->promptPlaceholder().contains(QLatin1String("<|endoftext|>")));
        QCOMPARE(w_->controls()->settings().sampler.seed, before.sampler.seed);
        w_->openModel(kModel);  // the other tests expect the GPT-2 reference
        QVERIFY(changed.wait(10000));
        QVERIFY(!gpt2->isChecked() && !llama->isChecked());
    }

    // A probe timer on the GUI thread measures the longest gap between its ticks while the worker
    // streams the default model's tokens at full speed (cached: the fastest stream, and the
    // 1024-token context makes the heatmap and the curves as large as they get).
    void guiThreadNeverStalls() {
        auto embedded = loadEmbeddedModel();
        QVERIFY2(embedded.ok(), qPrintable(embedded.errorMessage()));
        w_->setModel(embedded.value());
        QSettings().setValue(QStringLiteral("controls/mode"), 1);  // cached
        QElapsedTimer clock;
        clock.start();
        qint64 last = 0, worst = 0;
        QTimer probe;
        probe.setInterval(2);
        connect(&probe, &QTimer::timeout, [&] {
            const qint64 now = clock.elapsed();
            worst = std::max(worst, now - last);
            last = now;
        });
        probe.start();
        last = clock.elapsed();
        QElapsedTimer run;
        run.start();
        runToEnd(1000);
        probe.stop();
        const std::size_t tokens = w_->run()->runs.front().steps.size();
        qInfo("longest GUI-thread stall while %zu tokens streamed in %lld ms: %lld ms", tokens,
              run.elapsed(), worst);
        QVERIFY(tokens > 900);
        // The target is 50 ms, reported above; the machine is shared, so the assertion only
        // catches a gross regression such as a replot per incoming token.
        QVERIFY2(worst < kStallLimitMs, qPrintable(QString::number(worst)));
    }
};

QTEST_MAIN(TestMainWindow)
#include "test_main_window.moc"
