// Hugging Face Llama-family folders (config.json, sharded safetensors with their index,
// tokenizer.json): tests/reference/hf_llama holds the weights of
// tests/reference/gguf/llama_f32.gguf as Hugging Face lays them out, Q and K rows permuted for
// its rotation of the first half of each head with the second
// (tests/reference/make_hf_llama_reference.py). The folder must give the logits recorded for
// the GGUF file by the float64 reference, which pins the halves pairing and the name table, and
// tokenize as the GGUF's vocabulary does. Damaged folders are refused naming file and field.

#include "model/model.h"
#include "run/generation_session.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>

#include "reference_helpers.h"

using namespace kvscope;
using test::greedy;
using test::ids;
using test::maxDiff;

namespace {

const QString kFolder = QStringLiteral(KVSCOPE_FIXTURES "/reference/hf_llama");
const QString kGguf = QStringLiteral(KVSCOPE_FIXTURES "/reference/gguf");

// A copy of the fixture folder to damage.
QString copyFolder(const QTemporaryDir& tmp) {
    const QString dir = tmp.filePath(QStringLiteral("model"));
    QDir().mkpath(dir);
    for (const QString& f : QDir(kFolder).entryList(QDir::Files))
        QFile::copy(kFolder + "/" + f, dir + "/" + f);
    return dir;
}

void patchJson(const QString& path, const std::function<void(QJsonObject&)>& edit) {
    QFile f(path);
    QVERIFY(f.open(QIODevice::ReadOnly));
    QJsonObject o = QJsonDocument::fromJson(f.readAll()).object();
    f.close();
    edit(o);
    QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
    f.write(QJsonDocument(o).toJson());
}

}  // namespace

class TestHfLlama : public QObject {
    Q_OBJECT
    ModelPtr model_;
    QJsonObject expected_;

private Q_SLOTS:
    void initTestCase() {
        auto m = loadModel(kFolder);
        QVERIFY2(m.ok(), qPrintable(m.errorMessage()));
        model_ = m.value();
        expected_ = test::readJson(kGguf + "/expected.json")["llama_f32"].toObject();
    }

    void configFromConfigJson() {
        const ModelConfig& c = model_->config;
        QCOMPARE(c.modelType, QStringLiteral("llama"));
        QCOMPARE(c.nHead, 8);
        QCOMPARE(c.nKvHead, 2);
        QCOMPARE(c.nLayer, 2);
        QCOMPARE(c.ropePairing, RopePairing::Halves);
        QVERIFY(c.tiedLmHead);
        QVERIFY(!c.attnBias);
        QCOMPARE(model_->tokenizer->special().bos, 1);
    }

    // Position t of the fixed sequence, both modes: the GGUF file's float64 reference logits.
    void logitsEqualTheSameModelsGgufReference_data() {
        QTest::addColumn<int>("mode");
        QTest::newRow("naive") << int(Mode::Naive);
        QTest::newRow("cached") << int(Mode::Cached);
    }
    void logitsEqualTheSameModelsGgufReference() {
        QFETCH(int, mode);
        const std::vector<int> all = ids(expected_["sequence"]);
        const QJsonArray logits = expected_["logits_last"].toArray();
        float worst = 0;
        for (std::size_t t = 0; t < all.size(); ++t) {
            GenerationSession session(model_);
            const std::vector<int> prefix(all.begin(), all.begin() + std::ptrdiff_t(t) + 1);
            QVERIFY(session.start(prefix, greedy(Mode(mode), 1)).ok());
            QVERIFY(session.step());
            worst = std::max(worst, maxDiff(session.lastLogits(), logits[qsizetype(t)].toArray()));
        }
        qInfo("max |logit - PyTorch float64 of the GGUF file| = %.3g", double(worst));
        QVERIFY2(worst <= 1e-4f, qPrintable(QString::number(worst)));
    }

    void tokenizesAsTheGgufVocabulary() {
        auto gguf = loadTokenizer(kGguf + "/llama_vocab_only.gguf");
        QVERIFY2(gguf.ok(), qPrintable(gguf.errorMessage()));
        for (const char* text :
             {"Once upon a time, there was a little girl.", "", " ", "  two  spaces ",
              "Lily's ball!!", "\xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80 caf\xc3\xa9",
              "42 + 17 = 59\n\tx", "The cat met a bird. \"Hello, cat!\""}) {
            QCOMPARE(model_->tokenizer->encode(text), gguf.value()->encode(text));
            QCOMPARE(model_->tokenizer->decode(model_->tokenizer->encode(text)), std::string(text));
        }
    }

    void damagedFoldersAreRefused_data() {
        QTest::addColumn<QString>("damage");
        QTest::addColumn<QStringList>("expected");
        QTest::newRow("missing shard") << "shard" << QStringList{"model-00002-of-00002", "open"};
        QTest::newRow("tensor in another shard")
            << "map" << QStringList{"model.safetensors.index.json", "expected in"};
        QTest::newRow("no tokenizer.json")
            << "tokenizer" << QStringList{"tokenizer.json", "missing"};
        QTest::newRow("unknown model_type") << "type" << QStringList{"config.json", "model_type"};
        QTest::newRow("rope scaling") << "scaling" << QStringList{"config.json", "rope_scaling"};
        QTest::newRow("kv heads not dividing")
            << "kv" << QStringList{"config.json", "num_key_value_heads"};
    }
    void damagedFoldersAreRefused() {
        QFETCH(QString, damage);
        QFETCH(QStringList, expected);
        QTemporaryDir tmp;
        const QString dir = copyFolder(tmp);
        const QString config = dir + "/config.json", index = dir + "/model.safetensors.index.json";
        if (damage == "shard") QFile::remove(dir + "/model-00002-of-00002.safetensors");
        if (damage == "tokenizer") QFile::remove(dir + "/tokenizer.json");
        if (damage == "map")
            patchJson(index, [](QJsonObject& o) {
                QJsonObject map = o["weight_map"].toObject();
                map["model.norm.weight"] = map["model.norm.weight"].toString().contains("00001")
                                               ? "model-00002-of-00002.safetensors"
                                               : "model-00001-of-00002.safetensors";
                o["weight_map"] = map;
            });
        if (damage == "type") patchJson(config, [](QJsonObject& o) { o["model_type"] = "falcon"; });
        if (damage == "scaling")
            patchJson(config, [](QJsonObject& o) {
                o["rope_scaling"] = QJsonObject{{"type", "linear"}, {"factor", 2.0}};
            });
        if (damage == "kv") patchJson(config, [](QJsonObject& o) { o["num_key_value_heads"] = 3; });
        auto m = loadModel(dir);
        QVERIFY(!m.ok());
        for (const QString& part : expected)
            QVERIFY2(m.errorMessage().contains(part), qPrintable(m.errorMessage()));
    }
};

QTEST_GUILESS_MAIN(TestHfLlama)
#include "test_hf_llama.moc"
