// The engine on llama2.c checkpoints against an independent PyTorch float64 reference
// (tests/reference/make_llama_reference.py): a grouped-query model with a tied classifier and a
// multi-query one with a separate classifier, each in the legacy and the version-1 layout, loaded
// through loadModel() with the tokenizer.bin beside them. Logits at every position of a fixed
// sequence and along a 200-token greedy run to 1e-4, greedy ids exactly, in both modes; the two
// layouts give the same logits; the two modes agree over 200 tokens; the tokenizer encodes as
// run.c's encode() does.

#include "model/model.h"
#include "run/generation_session.h"

#include <QHash>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

#include "reference_helpers.h"

using namespace kvscope;
using test::greedy;
using test::ids;
using test::maxDiff;
using test::readJson;

namespace {

const QString kRefDir = QStringLiteral(KVSCOPE_FIXTURES "/reference/llama");

// Rows: every model in expected.json, in each layout, in each mode (when `modes`).
void addModelRows(const QJsonObject& models, bool modes) {
    QTest::addColumn<QString>("model");
    QTest::addColumn<QString>("layout");
    QTest::addColumn<int>("mode");
    for (const QString& name : models.keys())
        for (const char* layout : {"legacy", "v1"}) {
            if (!modes) {
                QTest::addRow("%s %s", qPrintable(name), layout) << name << layout << 0;
                continue;
            }
            for (Mode m : {Mode::Naive, Mode::Cached})
                QTest::addRow("%s %s %s", qPrintable(name), layout, modeName(m))
                    << name << layout << int(m);
        }
}

}  // namespace

class TestLlamaReference : public QObject {
    Q_OBJECT
    QJsonObject expected_;
    QJsonObject models_;
    QHash<QString, ModelPtr> loaded_;

    // Loads <dir>/<file> once; a failure is reported by the calling test, with the message.
    ModelPtr load(const QString& model, const QString& layout, QString* error) {
        const QString file = models_[model].toObject()[layout].toString();
        if (auto it = loaded_.find(file); it != loaded_.end()) return *it;
        auto m = loadModel(kRefDir + "/" + file);
        if (!m.ok()) {
            *error = m.errorMessage();
            return nullptr;
        }
        loaded_.insert(file, m.value());
        return m.value();
    }

private Q_SLOTS:
    void initTestCase() {
        expected_ = readJson(kRefDir + "/expected.json");
        models_ = expected_["models"].toObject();
        QVERIFY(models_.size() >= 2);
    }

    void configMatchesHeader_data() { addModelRows(models_, false); }
    void configMatchesHeader() {
        QFETCH(QString, model);
        QFETCH(QString, layout);
        QString error;
        const ModelPtr m = load(model, layout, &error);
        QVERIFY2(m, qPrintable(error));
        const QJsonObject e = models_[model].toObject();
        const ModelConfig& c = m->config;
        QCOMPARE(c.modelType, QStringLiteral("llama"));
        QCOMPARE(c.nEmbd, e["dim"].toInt());
        QCOMPARE(c.nInner, e["hidden_dim"].toInt());
        QCOMPARE(c.nLayer, e["n_layers"].toInt());
        QCOMPARE(c.nHead, e["n_heads"].toInt());
        QCOMPARE(c.nKvHead, e["n_kv_heads"].toInt());
        QCOMPARE(c.vocabSize, e["vocab_size"].toInt());
        QCOMPARE(c.nPositions, e["seq_len"].toInt());
        QCOMPARE(c.tiedLmHead, e["tied_classifier"].toBool());
        QCOMPARE(m->tokenizer->vocabSize(), e["vocab_size"].toInt());
        QCOMPARE(m->tokenizer->special().bos, 1);
        QCOMPARE(m->tokenizer->special().eos, 2);
    }

    // Position t of the fixed sequence: a run started from its first t + 1 ids; the first step's
    // logits are those of position t.
    void sequenceLogitsMatchPyTorch_data() { addModelRows(models_, true); }
    void sequenceLogitsMatchPyTorch() {
        QFETCH(QString, model);
        QFETCH(QString, layout);
        QFETCH(int, mode);
        QString error;
        const ModelPtr m = load(model, layout, &error);
        QVERIFY2(m, qPrintable(error));
        const QJsonObject seq = models_[model].toObject()["sequence"].toObject();
        const std::vector<int> all = ids(seq["ids"]);
        const QJsonArray logits = seq["logits"].toArray();
        QCOMPARE(logits.size(), qsizetype(all.size()));
        float worst = 0;
        for (std::size_t t = 0; t < all.size(); ++t) {
            GenerationSession session(m);
            const std::vector<int> prefix(all.begin(), all.begin() + std::ptrdiff_t(t) + 1);
            QVERIFY(session.start(prefix, greedy(Mode(mode), 1)).ok());
            QVERIFY(session.step());
            worst = std::max(worst, maxDiff(session.lastLogits(), logits[qsizetype(t)].toArray()));
        }
        qInfo("max |logit - PyTorch float64| = %.3g over %zu positions", double(worst), all.size());
        QVERIFY2(worst <= 1e-4f, qPrintable(QString::number(worst)));
    }

    void greedyMatchesPyTorch_data() { addModelRows(models_, true); }
    void greedyMatchesPyTorch() {
        QFETCH(QString, model);
        QFETCH(QString, layout);
        QFETCH(int, mode);
        QString error;
        const ModelPtr m = load(model, layout, &error);
        QVERIFY2(m, qPrintable(error));
        const QJsonObject g = models_[model].toObject()["greedy"].toObject();
        const std::vector<int> generated = ids(g["generated"]);
        const std::vector<int> logged = ids(g["logged_steps"]);
        const QJsonArray logits = g["logits"].toArray();
        GenerationSession session(m);
        QVERIFY(
            session.start(ids(g["prompt_ids"]), greedy(Mode(mode), int(generated.size()))).ok());
        float worst = 0;
        std::size_t next = 0;
        for (std::size_t k = 0; k < generated.size(); ++k) {
            StepResultPtr r = session.step();
            QVERIFY(r);
            if (next < logged.size() && std::size_t(logged[next]) == k)
                worst = std::max(
                    worst, maxDiff(session.lastLogits(), logits[qsizetype(next++)].toArray()));
            QCOMPARE(r->token, generated[k]);
        }
        QCOMPARE(next, logged.size());
        qInfo("greedy: %zu ids equal; max |logit - PyTorch float64| = %.3g at %zu logged steps",
              generated.size(), double(worst), logged.size());
        QVERIFY2(worst <= 1e-4f, qPrintable(QString::number(worst)));
    }

    // Both layouts hold the same float32 weights, so the engine must give identical logits.
    void layoutsGiveIdenticalLogits_data() {
        QTest::addColumn<QString>("model");
        for (const QString& name : models_.keys()) QTest::newRow(qPrintable(name)) << name;
    }
    void layoutsGiveIdenticalLogits() {
        QFETCH(QString, model);
        QString error;
        const ModelPtr legacy = load(model, "legacy", &error);
        QVERIFY2(legacy, qPrintable(error));
        const ModelPtr v1 = load(model, "v1", &error);
        QVERIFY2(v1, qPrintable(error));
        const std::vector<int> prompt =
            ids(models_[model].toObject()["sequence"].toObject()["ids"]);
        GenerationSession a(legacy), b(v1);
        QVERIFY(a.start(prompt, greedy(Mode::Cached, 8)).ok());
        QVERIFY(b.start(prompt, greedy(Mode::Cached, 8)).ok());
        while (StepResultPtr r = a.step()) {
            StepResultPtr s = b.step();
            QVERIFY(s);
            QCOMPARE(r->token, s->token);
            QCOMPARE(maxAbsDifference(a.lastLogits(), b.lastLogits()), 0.0f);
        }
    }

    // 200 tokens in both modes, in lockstep: the same logits within 1e-4 at every step and the
    // same tokens, greedy (pinned to PyTorch's ids) and sampled with one seed.
    void naiveEqualsCachedOver200Tokens_data() {
        QTest::addColumn<QString>("model");
        QTest::addColumn<float>("temperature");
        for (const QString& name : models_.keys()) {
            QTest::addRow("%s greedy", qPrintable(name)) << name << 0.0f;
            QTest::addRow("%s sampled T=0.9 top-k 50 top-p 0.95", qPrintable(name)) << name << 0.9f;
        }
    }
    void naiveEqualsCachedOver200Tokens() {
        QFETCH(QString, model);
        QFETCH(float, temperature);
        QString error;
        const ModelPtr m = load(model, "legacy", &error);
        QVERIFY2(m, qPrintable(error));
        const QJsonObject g = models_[model].toObject()["greedy"].toObject();
        const test::NaiveVsCached r =
            test::runNaiveAndCached(m, ids(g["prompt_ids"]), temperature, 200);
        QVERIFY(r.tokensEqual);
        QCOMPARE(r.steps, 200);
        QVERIFY(r.bothReachedMaxTokens);
        qInfo("max |naive - cached| logit over 200 steps: %.3g", double(r.maxLogitDiff));
        QVERIFY(r.maxLogitDiff >= 0 && r.maxLogitDiff <= 1e-4f);
        if (temperature == 0.0f) QCOMPARE(r.generated, ids(g["generated"]));
    }

    // The reference's ids come from the algorithm run.c's encode() implements (BOS, a dummy
    // " " prefix, byte fallback, highest-score merges); run.c itself printed the same greedy text.
    void tokenizerEncodesLikeRunC() {
        QString error;
        const ModelPtr m = load(models_.keys().front(), "legacy", &error);
        QVERIFY2(m, qPrintable(error));
        QVERIFY(m->tokenizer->special().addBos);
        QJsonArray cases = expected_["tokenizer_cases"].toArray();
        for (const QJsonValue& model : models_) {
            const QJsonObject o = model.toObject();
            cases.append(
                QJsonObject{{"text", o["sequence"]["text"]}, {"ids", o["sequence"]["ids"]}});
            cases.append(
                QJsonObject{{"text", o["greedy"]["prompt"]}, {"ids", o["greedy"]["prompt_ids"]}});
        }
        for (const QJsonValue& c : cases) {
            const QByteArray text = c["text"].toString().toUtf8();
            const std::string_view view(text.constData(), std::size_t(text.size()));
            QCOMPARE(m->tokenizer->promptIds(view, true), ids(c["ids"]));
            QCOMPARE(m->tokenizer->decode(m->tokenizer->encode(view)), std::string(view));
        }
    }
};

QTEST_GUILESS_MAIN(TestLlamaReference)
#include "test_llama_reference.moc"
