// kvscope --headless --what-if as a user runs it: the JSON against the core's summing forms and
// hand-computed figures, the presets in --help, typed configurations, the time rule, and usage
// errors.

#include "cost/flops.h"
#include "cost/what_if.h"
#include "model/model.h"
#include "model/model_presets.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>

using namespace kvscope;

namespace {

struct Run {
    int exitCode = -1;
    QByteArray out, err;
};

// Each run gets an empty configuration folder, so no remembered roofs leak in.
Run runCli(const QStringList& args) {
    QTemporaryDir config;
    QProcess p;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("XDG_CONFIG_HOME"), config.path());
    p.setProcessEnvironment(env);
    p.start(QStringLiteral(KVSCOPE_BIN), QStringList{"--headless"} + args);
    if (!p.waitForFinished(120000)) qFatal("kvscope did not finish");
    return Run{p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1,
               p.readAllStandardOutput(), p.readAllStandardError()};
}

QJsonObject whatIf(const QStringList& args) {
    const Run r = runCli(QStringList{"--what-if"} + args);
    if (r.exitCode != 0) qWarning("kvscope exited with %d: %s", r.exitCode, r.err.constData());
    QJsonParseError e{};
    const QJsonDocument doc = QJsonDocument::fromJson(r.out, &e);
    if (e.error != QJsonParseError::NoError) qWarning("not JSON: %s", r.out.left(200).constData());
    return doc.object();
}

double at(const QJsonObject& o, const QString& path) {
    QJsonValue v = o;
    for (const QString& k : path.split(QLatin1Char('.'))) v = v.toObject().value(k);
    return v.toDouble(std::nan(""));
}

}  // namespace

class TestWhatIfCli : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void helpListsThePresets() {
        const Run r = runCli({"--help"});
        QCOMPARE(r.exitCode, 0);
        QVERIFY(r.out.contains("--what-if"));
        for (const ModelPreset& p : modelPresets()) QVERIFY2(r.out.contains(p.key), p.key);
    }

    // GPT-2 small at a million tokens: totals against cumulativeFlops (a sum over steps) where
    // int64 holds them, the decode crossover by hand, slopes near their limits.
    void presetAtAMillionTokens() {
        const QJsonObject o = whatIf({"--preset", "gpt2-small", "--length", "1000000"});
        QCOMPARE(at(o, "length"), 1e6);
        QCOMPARE(o["model"].toObject()["name"].toString(), QStringLiteral("gpt2-small"));
        QVERIFY(o["model"].toObject()["source"].toString().contains("openai-community/gpt2"));
        QCOMPARE(at(o, "model.parameters"), 124439808.0);
        QCOMPARE(at(o, "crossover.step.cached"), 6703.0);  // ceil((24 d^2 L + 2 d V) / (4 d L))
        QVERIFY(o["beyond_context"].toBool());
        const ModelConfig c = findPreset("gpt2-small")->config;
        for (Mode m : {Mode::Naive, Mode::Cached}) {
            const QString mode = QString::fromLatin1(modeName(m));
            const FlopBreakdown step = stepFlops(c, 1000000, m);
            QCOMPARE(at(o, "step." + mode + ".attention"), double(step.attention()));
            QCOMPARE(at(o, "step." + mode + ".weights"), double(step.weightProducts()));
            QCOMPARE(at(o, "step." + mode + ".total"), double(step.total()));
        }
        // A million cached steps: the sum still fits int64 (~1e16 FLOPs).
        const FlopBreakdown cached = cumulativeFlops(c, 1, 1000000, Mode::Cached);
        QCOMPARE(at(o, "cumulative.cached.total"), double(cached.total()));
        QCOMPARE(at(o, "cumulative.cached.attention"), double(cached.attention()));
        const QJsonArray slopes = o["log_log_slopes"].toArray();
        QCOMPARE(slopes.size(), 6);
        const QJsonObject last = slopes.last().toObject();
        QCOMPARE(last["to"].toDouble(), 1e6);
        QVERIFY(std::abs(last["naive_attention_cumulative"].toDouble() - 3) < 1e-3);
        QVERIFY(std::abs(last["cached_attention_cumulative"].toDouble() - 2) < 1e-3);
        QVERIFY(last["naive_cumulative"].toDouble() > 2.8);
        // 2 x 12 layers x 1e6 positions x 768 values x 2 bytes (F16).
        QCOMPARE(at(o, "kv_cache_bytes.model.F16"), 2.0 * 12 * 1e6 * 768 * 2);
        QCOMPARE(at(o, "kv_cache_bytes.mqa.kv_heads"), 1.0);
        QCOMPARE(at(o, "weight_bytes.F32"), 4.0 * 124439808);
        QVERIFY(o["roofs"].isNull() && o["step_time"].isNull());  // none measured here
    }

    // A typed configuration equals the same shape built in the test; its totals equal the sums.
    void typedConfiguration() {
        const QJsonObject o = whatIf(
            {"--arch",     "llama", "--layers", "2",   "--d-model",       "32",  "--heads",   "8",
             "--kv-heads", "2",     "--ffn",    "48",  "--vocab",         "257", "--context", "320",
             "--tied",     "no",    "--length", "300", "--prompt-length", "5"});
        ModelConfig c;
        c.nLayer = 2, c.nHead = 8, c.nKvHead = 2, c.nEmbd = 32, c.nInner = 48, c.vocabSize = 257;
        c.nPositions = 320, c.norm = NormKind::RmsNorm, c.activation = Activation::SwiGlu;
        c.positions = PositionKind::Rotary, c.tiedLmHead = false, c.attnBias = c.projBias = false;
        QCOMPARE(at(o, "model.config.n_kv_head"), 2.0);
        QCOMPARE(at(o, "model.parameters"), double(whatif::parameterCount(c)));
        for (Mode m : {Mode::Naive, Mode::Cached}) {
            const FlopBreakdown f = cumulativeFlops(c, 5, 296, m);  // steps at n = 5..300
            QCOMPARE(
                at(o, QStringLiteral("cumulative.%1.total").arg(QString::fromLatin1(modeName(m)))),
                double(f.total()));
        }
        QCOMPARE(at(o, "kv_cache_bytes.model.F32"), double(kvCacheBytes(c, 300)));
        QCOMPARE(at(o, "kv_cache_bytes.mha.F32"), double(kvCacheBytes(mhaOf(c), 300)));
        QVERIFY(!o["beyond_context"].toBool());
    }

    // Without a preset: the model's own configuration.
    void theLoadedModel() {
        const QString dir = QStringLiteral(KVSCOPE_FIXTURES "/reference/model");
        const QJsonObject o = whatIf({"--model", dir, "--length", "64"});
        auto m = loadModel(dir);
        QVERIFY(m);
        QCOMPARE(at(o, "model.config.n_layer"), double(m.value()->config.nLayer));
        QCOMPARE(at(o, "model.parameters"), double(m.value()->transformer->parameterCount()));
        QCOMPARE(at(o, "step.cached.total"),
                 double(stepFlops(m.value()->config, 64, Mode::Cached).total()));
    }

    // time = max(bytes / bandwidth, FLOPs / GEMM rate), and which roof binds.
    void timeAtGivenRoofs() {
        const QJsonObject o = whatIf({"--preset", "llama2-7b", "--length", "4096", "--bandwidth",
                                      "25", "--gemm", "150", "--weight-type", "q4_k"});
        QCOMPARE(o["step_time"].toObject()["weight_type"].toString(), QStringLiteral("Q4_K"));
        const ModelConfig c = findPreset("llama2-7b")->config;
        const double cachedBytes = double(whatif::weightBytesPerStep(c, GgmlType::Q4_K)) +
                                   2.0 * 32 * 4096 * 4096 * 2;  // K/V of 4096 positions, F16
        QCOMPARE(at(o, "step_time.cached.bytes"), cachedBytes);
        for (const char* mode : {"naive", "cached"}) {
            const QString m = QString::fromLatin1(mode);
            const double bytes = at(o, "step_time." + m + ".bytes");
            const double flops = at(o, "step_time." + m + ".flops");
            const double expected = std::max(bytes / 25e9, flops / 150e9);
            QVERIFY(std::abs(at(o, "step_time." + m + ".seconds") - expected) <= 1e-12 * expected);
        }
        QCOMPARE(o["step_time"].toObject()["cached"].toObject()["bound"].toString(),
                 QStringLiteral("memory bandwidth"));
        QCOMPARE(o["step_time"].toObject()["naive"].toObject()["bound"].toString(),
                 QStringLiteral("GEMM rate"));
        QCOMPARE(o["roofs"].toObject()["source"].toString(),
                 QStringLiteral("given on the command line"));
    }

    // --measure-roofs, the run's option, measures for --what-if as --probe does.
    void measureRoofsActsAsProbe() {
        const QJsonObject o = whatIf({"--preset", "gpt2-small", "--measure-roofs"});
        QVERIFY(!o["roofs"].isNull());
        QVERIFY2(o["roofs"].toObject()["source"].toString().contains("GB/s read"),
                 qPrintable(o["roofs"].toObject()["source"].toString()));
        QVERIFY(!o["step_time"].isNull());
    }

    void usageErrors_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("message");
        QTest::newRow("unknown preset") << QStringList{"--preset", "gpt-5"} << "smollm2-360m";
        QTest::newRow("length 0") << QStringList{"--preset", "gpt2-xl", "--length", "0"}
                                  << "--length";
        QTest::newRow("length beyond 1M")
            << QStringList{"--preset", "gpt2-xl", "--length", "1000001"} << "1000000";
        QTest::newRow("kv heads") << QStringList{"--preset", "llama3-8b", "--kv-heads", "3"}
                                  << "--kv-heads";
        QTest::newRow("one roof") << QStringList{"--preset", "llama3-8b", "--bandwidth", "20"}
                                  << "--gemm";
        QTest::newRow("weight type")
            << QStringList{"--preset", "llama3-8b", "--weight-type", "Q9"} << "Q4_K";
        QTest::newRow("kv type") << QStringList{"--preset", "llama3-8b", "--kv-type", "Q4_K"}
                                 << "Q8_0";
        QTest::newRow("preset and model")
            << QStringList{"--preset", "llama3-8b", "--model", "x"} << "--preset";
        QTest::newRow("arch") << QStringList{"--arch", "rwkv"} << "gpt2 or llama";
    }
    void usageErrors() {
        QFETCH(QStringList, args);
        QFETCH(QString, message);
        const Run r = runCli(QStringList{"--what-if"} + args);
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(QString::fromUtf8(r.err).contains(message), r.err.constData());
        QVERIFY(r.out.isEmpty());
    }
};

QTEST_MAIN(TestWhatIfCli)
#include "test_what_if_cli.moc"
