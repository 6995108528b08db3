// Bad model input is normal input: every broken folder gives an error that names the file, the
// field, what was expected and what was found, and nothing crashes.

#include "model/model.h"
#include "run/generation_session.h"
#include "tiny_model.h"

#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>

#ifdef __linux__
#include <sys/resource.h>
#endif

using namespace kvscope;

namespace {

QString loadError(const QString& path) {
    auto m = loadModel(path);
    return m.ok() ? QString() : m.errorMessage();
}

QByteArray readAll(const QString& path) {
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

// Replaces one key of config.json.
void patchConfig(const QString& dir, const QString& key, const QJsonValue& value) {
    const QString path = QDir(dir).filePath("config.json");
    QJsonObject o = QJsonDocument::fromJson(readAll(path)).object();
    o.insert(key, value);
    QVERIFY(test::writeFile(path, QJsonDocument(o).toJson()));
}

void expectParts(const QString& message, const QStringList& parts) {
    QVERIFY2(!message.isEmpty(), "expected an error, the model loaded");
    for (const QString& p : parts)
        QVERIFY2(message.contains(p),
                 qPrintable(QStringLiteral("\"%1\" not in: %2").arg(p, message)));
}

}  // namespace

class TestModelLoading : public QObject {
    Q_OBJECT
    QTemporaryDir tmp_;
    int counter_ = 0;

    QString freshModel(const test::TinyShape& s = {}) {
        const QString dir = tmp_.filePath(QString::number(counter_++));
        if (!test::writeTinyModel(dir, s)) qFatal("cannot write the test model");
        return dir;
    }

private Q_SLOTS:
    // Weights are copied at load and the file is closed: replacing, truncating or deleting the
    // file while the model is in use changes nothing (a memory-mapped model would read the new
    // bytes, or die of SIGBUS on the truncated ones).
    void modelSurvivesItsFileChanging() {
        const QString dir = freshModel();
        const QString weights = QDir(dir).filePath("model.safetensors");
        auto m = loadModel(dir);
        QVERIFY2(m.ok(), qPrintable(m.errorMessage()));
        auto greedy = [&] {
            GenerationSettings s;
            s.sampler.temperature = 0;
            s.maxNewTokens = 40;
            GenerationSession session(m.value());
            if (!session.start({1, 2, 3}, s).ok()) return std::vector<int>();
            while (session.step()) {
            }
            return session.tokens();
        };
        const std::vector<int> before = greedy();
        QCOMPARE(before.size(), std::size_t(43));

        QByteArray bytes = readAll(weights);
        for (qsizetype i = bytes.size() / 2; i < bytes.size(); ++i) bytes[i] = char(0x7f);
        QVERIFY(test::writeFile(weights, bytes));  // overwritten in place
        QCOMPARE(greedy(), before);
        QFile f(weights);
        QVERIFY(f.open(QIODevice::ReadWrite) && f.resize(64));  // truncated
        f.close();
        QCOMPARE(greedy(), before);
        QVERIFY(QFile::remove(weights));  // deleted
        QCOMPARE(greedy(), before);
    }

    void loadsValidModel() {
        const QString dir = freshModel();
        auto m = loadModel(dir);
        QVERIFY2(m.ok(), qPrintable(m.errorMessage()));
        QCOMPARE(m.value()->config.nLayer, 2);
        QCOMPARE(m.value()->config.nEmbd, 16);
        QCOMPARE(m.value()->tokenizer->vocabSize(), 257);
        QCOMPARE(m.value()->weightBytes, m.value()->transformer->parameterCount() * 4);
        QCOMPARE(m.value()->convertedBytes, std::int64_t(0));
        // The safetensors path inside the folder works too.
        QVERIFY(loadModel(QDir(dir).filePath("model.safetensors")).ok());
    }

    void missingPath() { expectParts(loadError(tmp_.filePath("nope")), {"nope", "no such file"}); }

    void folderWithoutModel() {
        const QString dir = tmp_.filePath("empty");
        QDir().mkpath(dir);
        test::writeFile(QDir(dir).filePath("notes.txt"), "hello");
        expectParts(loadError(dir), {"no model here", "model.safetensors", "notes.txt"});
    }

    void missingFiles_data() {
        QTest::addColumn<QString>("file");
        QTest::newRow("config") << "config.json";
        QTest::newRow("vocab") << "vocab.json";
        QTest::newRow("merges") << "merges.txt";
    }
    void missingFiles() {
        QFETCH(QString, file);
        const QString dir = freshModel();
        QVERIFY(QFile::remove(QDir(dir).filePath(file)));
        expectParts(loadError(dir), {file, "missing"});
    }

    void pickleRefused() {
        const QString dir = tmp_.filePath("pickle");
        QDir().mkpath(dir);
        test::writeFile(QDir(dir).filePath("pytorch_model.bin"), QByteArray("\x80\x02}q\x00.", 6));
        expectParts(loadError(dir), {"pytorch_model.bin", "run arbitrary code", "safetensors"});
        // By content, not by suffix: a zip checkpoint (torch.save since PyTorch 1.6) under any
        // name, and a .bin or .pt that is neither a pickle nor a model gets no pickle advice.
        const QString pt = QDir(dir).filePath("weights.pt");
        test::writeFile(pt, QByteArray("PK\x03\x04\x00\x00\x08\x00archive/data.pkl", 24));
        expectParts(loadError(pt), {"weights.pt", "zip", "run arbitrary code"});
        const QString renamed = QDir(dir).filePath("model.weights");
        test::writeFile(renamed, QByteArray("\x80\x04\x95\x10\x00\x00\x00", 7));
        expectParts(loadError(renamed), {"model.weights", "pickle", "run arbitrary code"});
        for (const char* name : {"random.bin", "notes.pt"}) {
            const QString path = tmp_.filePath(QLatin1String(name));
            QByteArray noise(1000, '\0');
            QRandomGenerator rng(5);
            for (char& c : noise) c = char(rng.bounded(32, 127));  // no magic of any format
            test::writeFile(path, noise);
            const QString message = loadError(path);
            expectParts(message, {name, "not a model file", "first bytes", "1000 bytes"});
            QVERIFY2(!message.contains(QLatin1String("arbitrary code")), qPrintable(message));
        }
        // A GGUF header cut after its version goes to the GGUF reader, which says where it ends.
        const QString gguf = tmp_.filePath("model.gguf");
        test::writeFile(gguf, QByteArray("GGUF\x03\x00\x00\x00", 8));
        expectParts(loadError(gguf), {"model.gguf", "truncated", "tensor_count"});
    }

    void invalidConfigJson() {
        const QString dir = freshModel();
        test::writeFile(QDir(dir).filePath("config.json"), "{\"n_layer\": 2,,}");
        expectParts(loadError(dir), {"config.json", "invalid JSON"});
    }

    void badDimensions_data() {
        QTest::addColumn<QString>("key");
        QTest::addColumn<QJsonValue>("value");
        QTest::addColumn<QString>("found");
        QTest::newRow("zero layers") << "n_layer" << QJsonValue(0) << "found 0";
        QTest::newRow("negative heads") << "n_head" << QJsonValue(-4) << "found -4";
        QTest::newRow("huge embd") << "n_embd" << QJsonValue(1e12) << "found 1000000000000";
        QTest::newRow("fractional") << "n_positions" << QJsonValue(2.5) << "found 2.5";
        QTest::newRow("string") << "vocab_size" << QJsonValue("many") << "found the string";
        QTest::newRow("missing") << "n_layer" << QJsonValue(QJsonValue::Undefined) << "missing";
        QTest::newRow("epsilon") << "layer_norm_epsilon" << QJsonValue(-1) << "found -1";
    }
    void badDimensions() {
        QFETCH(QString, key);
        QFETCH(QJsonValue, value);
        QFETCH(QString, found);
        const QString dir = freshModel();
        if (value.isUndefined()) {
            const QString path = QDir(dir).filePath("config.json");
            QJsonObject o = QJsonDocument::fromJson(readAll(path)).object();
            o.remove(key);
            test::writeFile(path, QJsonDocument(o).toJson());
        } else {
            patchConfig(dir, key, value);
        }
        expectParts(loadError(dir), {"config.json", key, found});
    }

    void shapeDisagreesWithConfig() {
        // config.json says n_embd 32 while the tensors were written for 16.
        const QString dir = freshModel();
        patchConfig(dir, "n_embd", 32);
        expectParts(loadError(dir), {"model.safetensors", "wte.weight", "[257, 32]",
                                     "found [257, 16]", "n_embd=32"});
    }

    void missingTensor() {
        const QString dir = freshModel();
        auto tensors = test::tinyTensors({});
        std::erase_if(tensors,
                      [](const test::TensorSpec& t) { return t.name == "h.1.mlp.c_fc.bias"; });
        test::writeFile(QDir(dir).filePath("model.safetensors"), test::safetensorsBytes(tensors));
        expectParts(loadError(dir), {"model.safetensors", "h.1.mlp.c_fc.bias", "missing", "[64]"});
    }

    void prefixedNamesAccepted() {
        const QString dir = freshModel();
        auto tensors = test::tinyTensors({});
        for (auto& t : tensors) t.name.prepend("transformer.");
        test::writeFile(QDir(dir).filePath("model.safetensors"), test::safetensorsBytes(tensors));
        auto m = loadModel(dir);
        QVERIFY2(m.ok(), qPrintable(m.errorMessage()));
    }

    void truncatedWeights() {
        const QString dir = freshModel();
        const QString path = QDir(dir).filePath("model.safetensors");
        const QByteArray bytes = readAll(path);
        test::writeFile(path, bytes.left(bytes.size() / 2));
        expectParts(loadError(dir), {"model.safetensors"});
        test::writeFile(path, bytes.left(5));
        expectParts(loadError(dir), {"model.safetensors"});
        test::writeFile(path, QByteArray());
        expectParts(loadError(dir), {"model.safetensors", "empty"});
    }

    void headerLengthBeyondFile() {
        const QString dir = freshModel();
        const QString path = QDir(dir).filePath("model.safetensors");
        QByteArray bytes = readAll(path);
        bytes[6] = 0x01;  // header length now about 2^48
        test::writeFile(path, bytes);
        expectParts(loadError(dir), {"model.safetensors", "header"});
    }

    void mergesNamingUnknownSymbols() {
        const QString dir = freshModel();
        test::writeFile(QDir(dir).filePath("merges.txt"), "#version: 0.2\nq u\nqu ux\n");
        expectParts(loadError(dir), {"merges.txt", "line"});
    }

    void progressIsReportedAndCancels() {
        const QString dir = freshModel();
        QList<double> seen;
        auto ok = loadModel(dir, [&](double f, const QString&) {
            seen << f;
            return true;
        });
        QVERIFY(ok.ok());
        QVERIFY(seen.size() >= 4);
        QCOMPARE(seen.last(), 1.0);
        QVERIFY(std::is_sorted(seen.begin(), seen.end()));
        auto cancelled = loadModel(dir, [](double f, const QString&) { return f < 0.5; });
        expectParts(cancelled.ok() ? QString() : cancelled.errorMessage(), {"cancelled"});
    }

    void vocabularyLargerThanConfig() {
        const QString dir = freshModel();
        patchConfig(dir, "vocab_size", 100);
        expectParts(loadError(dir), {"vocab.json", "expected an id below", "vocab_size=100"});
    }

    // One id near the format's 2^24 bound in an otherwise small vocabulary: refused by the
    // config's vocab_size while reading the ids, before the id table (16.7 M strings, ~500 MB)
    // would be made. Peak memory tells the table was never allocated.
    void strayHugeIdRefusedBeforeTheTable() {
        const QString dir = freshModel();
        const QString path = QDir(dir).filePath("vocab.json");
        QJsonObject vocab = QJsonDocument::fromJson(readAll(path)).object();
        const int vocabSize = QJsonDocument::fromJson(readAll(QDir(dir).filePath("config.json")))
                                  .object()
                                  .value("vocab_size")
                                  .toInt();
        QVERIFY(vocabSize > 0 && vocabSize < 1000);
        vocab.insert(QStringLiteral("\u0120\u0120\u0120"), 16700000);
        QVERIFY(test::writeFile(path, QJsonDocument(vocab).toJson()));
#ifdef __linux__
        rusage before{};
        getrusage(RUSAGE_SELF, &before);
#endif
        expectParts(loadError(dir),
                    {"vocab.json", "16700000", QStringLiteral("vocab_size=%1").arg(vocabSize)});
#ifdef __linux__
        rusage after{};
        getrusage(RUSAGE_SELF, &after);
        const long grewKiB = after.ru_maxrss - before.ru_maxrss;
        QVERIFY2(grewKiB < 100 * 1024, qPrintable(QStringLiteral("peak grew %1 KiB").arg(grewKiB)));
#endif
    }
};

QTEST_GUILESS_MAIN(TestModelLoading)
#include "test_model_loading.moc"
