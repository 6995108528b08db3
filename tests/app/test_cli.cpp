// The headless command line as a user runs it: exit codes, stdout/stderr, and the JSON and CSV
// files, checked against the closed-form FLOPs and the other mode.

#include "flops.h"
#include "model_config.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

using namespace kvscope;

namespace {

const QString kModel = QStringLiteral(KVSCOPE_FIXTURES "/reference/model");

struct Run {
    int exitCode = -1;
    QByteArray out, err;
};

Run runCli(const QStringList& args) {
    QProcess p;
    p.start(QStringLiteral(KVSCOPE_BIN), args);
    if (!p.waitForFinished(120000)) qFatal("kvscope did not finish");
    return Run{p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1,
               p.readAllStandardOutput(), p.readAllStandardError()};
}

QByteArray readAll(const QString& path) {
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

}  // namespace

class TestCli : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void helpListsEveryOption() {
        const Run r = runCli({"--help"});
        QCOMPARE(r.exitCode, 0);
        for (const char* o :
             {"--headless", "--model", "--prompt", "--max-tokens", "--mode", "--temperature",
              "--top-k", "--top-p", "--seed", "--json", "--csv", "Exit codes"})
            QVERIFY2(r.out.contains(o), o);
    }

    void usageErrorsExitWith2_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("message");
        QTest::newRow("unknown option") << QStringList{"--frobnicate"} << "frobnicate";
        QTest::newRow("bad mode") << QStringList{"--model", kModel, "--mode", "fast"} << "--mode";
        QTest::newRow("bad top-p") << QStringList{"--model", kModel, "--top-p", "2"} << "--top-p";
        QTest::newRow("negative tokens")
            << QStringList{"--model", kModel, "--max-tokens", "-1"} << "--max-tokens";
        QTest::newRow("bad seed") << QStringList{"--model", kModel, "--seed", "x"} << "--seed";
    }
    void usageErrorsExitWith2() {
        QFETCH(QStringList, args);
        QFETCH(QString, message);
        const Run r = runCli(QStringList{"--headless"} + args);
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains(message.toUtf8()), r.err.constData());
    }

    void badModelExitsWith3() {
        QTemporaryDir dir;
        const Run r = runCli({"--headless", "--model", dir.path(), "--prompt", "x"});
        QCOMPARE(r.exitCode, 3);
        QVERIFY2(r.err.contains("no model here"), r.err.constData());
    }

    void bothModesAgreeAndMatchTheClosedForm() {
        QTemporaryDir dir;
        const QString json = dir.filePath("out.json"), csv = dir.filePath("out.csv");
        const Run r =
            runCli({"--headless", "--model", kModel, "--prompt", "hello", "--max-tokens", "50",
                    "--mode", "both", "--temperature", "0", "--json", json, "--csv", csv});
        QCOMPARE(r.exitCode, 0);
        QVERIFY(!r.out.trimmed().isEmpty());
        QVERIFY2(r.err.contains("tokens equal"), r.err.constData());

        const QJsonObject o = QJsonDocument::fromJson(readAll(json)).object();
        QVERIFY(o["comparison"].toObject()["tokens_equal"].toBool());
        QVERIFY(o["comparison"].toObject()["max_logit_diff"].toDouble() <= 1e-4);
        const QJsonObject m = o["model"].toObject();
        ModelConfig c;
        c.nLayer = m["n_layer"].toInt(), c.nHead = m["n_head"].toInt(), c.nKvHead = c.nHead;
        c.nEmbd = m["n_embd"].toInt(), c.nInner = m["n_inner"].toInt();
        c.nPositions = m["n_positions"].toInt(), c.vocabSize = m["vocab_size"].toInt();
        const QJsonArray runs = o["runs"].toArray();
        QCOMPARE(runs.size(), 2);
        QCOMPARE(runs[0]["tokens"].toArray(), runs[1]["tokens"].toArray());
        const int prompt = int(o["settings"].toObject()["prompt_ids"].toArray().size());
        for (const QJsonValue& run : runs) {
            const Mode mode = run["mode"].toString() == "naive" ? Mode::Naive : Mode::Cached;
            const QJsonArray steps = run["steps"].toArray();
            QCOMPARE(steps.size(), 50);
            for (const QJsonValue& s : steps) {
                const int n = s["position"].toInt();
                const FlopBreakdown f =
                    s["prefill"].toBool() ? prefillFlops(c, n) : stepFlops(c, n, mode);
                QCOMPARE(qint64(s["flops"].toObject()["total"].toDouble()), qint64(f.total()));
                QCOMPARE(s["top_k"].toArray().size(), 20);
            }
            QCOMPARE(qint64(steps.last()["cumulative_flops"].toObject()["total"].toDouble()),
                     qint64(cumulativeFlops(c, prompt, 50, mode).total()));
        }
        const QList<QByteArray> rows = readAll(csv).trimmed().split('\n');
        QCOMPARE(rows.size(), 1 + 2 * 50);
        QVERIFY(rows[0].startsWith("mode,step,position"));
    }
};

QTEST_GUILESS_MAIN(TestCli)
#include "test_cli.moc"
