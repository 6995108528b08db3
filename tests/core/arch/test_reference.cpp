// The engine against an independent PyTorch float64 reference (tests/reference/make_reference.py):
// logits to 1e-4 and greedy tokens exactly, in both modes, for F32, F16 and BF16 weights; and the
// two modes against each other over 200 tokens, greedy and sampled.

#include "model/model.h"
#include "run/generation_session.h"

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
using test::readJson;

namespace {

const QString kRefDir = QStringLiteral(KVSCOPE_FIXTURES "/reference");

}  // namespace

class TestReference : public QObject {
    Q_OBJECT
    QJsonObject expected_;
    ModelPtr model_;

private Q_SLOTS:
    void initTestCase() {
        expected_ = readJson(kRefDir + "/expected.json");
        auto m = loadModel(kRefDir + "/model");
        QVERIFY2(m.ok(), qPrintable(m.errorMessage()));
        model_ = m.value();
    }

    void logitsMatchPyTorch_data() {
        QTest::addColumn<int>("prompt");
        QTest::addColumn<int>("mode");
        for (int p = 0; p < expected_["prompts"].toArray().size(); ++p)
            for (Mode m : {Mode::Naive, Mode::Cached})
                QTest::addRow("prompt %d %s", p, modeName(m)) << p << int(m);
    }
    void logitsMatchPyTorch() {
        QFETCH(int, prompt);
        QFETCH(int, mode);
        const QJsonObject p = expected_["prompts"].toArray()[prompt].toObject();
        const QJsonArray logits = p["logits"].toArray();
        const std::vector<int> generated = ids(p["generated"]);
        GenerationSession session(model_);
        QVERIFY(session.start(ids(p["ids"]), greedy(Mode(mode), int(logits.size()))).ok());
        float worst = 0;
        for (qsizetype k = 0; k < logits.size(); ++k) {
            StepResultPtr r = session.step();
            QVERIFY(r);
            worst = std::max(worst, maxDiff(session.lastLogits(), logits[k].toArray()));
            if (k < qsizetype(generated.size())) QCOMPARE(r->token, generated[std::size_t(k)]);
        }
        qInfo("max |logit - PyTorch float64| = %.3g over %lld steps", double(worst),
              qlonglong(logits.size()));
        QVERIFY2(worst <= 1e-4f, qPrintable(QString::number(worst)));
    }

    void convertedDtypesMatch_data() {
        QTest::addColumn<QString>("variant");
        QTest::newRow("f16 with transformer. prefix") << "f16";
        QTest::newRow("bf16") << "bf16";
    }
    void convertedDtypesMatch() {
        QFETCH(QString, variant);
        const QJsonObject v = expected_["variants"].toObject()[variant].toObject();
        QTemporaryDir dir;
        for (const char* f : {"config.json", "vocab.json", "merges.txt"})
            QVERIFY(QFile::copy(kRefDir + "/model/" + f, dir.filePath(f)));
        QVERIFY(QFile::copy(kRefDir + "/variants/" + variant + "/model.safetensors",
                            dir.filePath("model.safetensors")));
        auto m = loadModel(dir.path());
        QVERIFY2(m.ok(), qPrintable(m.errorMessage()));
        QVERIFY(m.value()->convertedBytes > 0);
        QCOMPARE(m.value()->weightBytes, m.value()->convertedBytes);
        for (Mode mode : {Mode::Naive, Mode::Cached}) {
            GenerationSession session(m.value());
            const std::vector<int> generated = ids(v["generated"]);
            QVERIFY(session.start(ids(v["prompt_ids"]), greedy(mode, int(generated.size()))).ok());
            for (std::size_t k = 0; k < generated.size(); ++k) {
                StepResultPtr r = session.step();
                QVERIFY(r);
                if (k == 0)
                    QVERIFY(maxDiff(session.lastLogits(), v["first_step_logits"].toArray()) <=
                            1e-4f);
                QCOMPARE(r->token, generated[k]);
            }
        }
    }

    void tokenizerMatchesReferenceEncoder() {
        for (const QJsonValue& c : expected_["tokenizer_cases"].toArray()) {
            const QByteArray text = c["text"].toString().toUtf8();
            QCOMPARE(model_->tokenizer->encode(
                         std::string_view(text.constData(), std::size_t(text.size()))),
                     ids(c["ids"]));
        }
        const QJsonObject p = expected_["prompts"].toArray()[0].toObject();
        const QByteArray text = p["text"].toString().toUtf8();
        QCOMPARE(
            model_->tokenizer->encode(std::string_view(text.constData(), std::size_t(text.size()))),
            ids(p["ids"]));
    }

    // 200 tokens in both modes, run in lockstep: the same logits within 1e-4 at every step and the
    // same tokens, greedy (pinned to PyTorch's ids) and sampled with one seed.
    void naiveEqualsCachedOver200Tokens_data() {
        QTest::addColumn<float>("temperature");
        QTest::newRow("greedy") << 0.0f;
        QTest::newRow("sampled T=0.9 top-k 50 top-p 0.95") << 0.9f;
    }
    void naiveEqualsCachedOver200Tokens() {
        QFETCH(float, temperature);
        const QJsonObject run = expected_["long_run"].toObject();
        const test::NaiveVsCached r =
            test::runNaiveAndCached(model_, ids(run["prompt_ids"]), temperature, 200);
        QVERIFY(r.tokensEqual);
        QCOMPARE(r.steps, 200);
        QVERIFY(r.bothReachedMaxTokens);
        qInfo("max |naive - cached| logit over 200 steps: %.3g", double(r.maxLogitDiff));
        QVERIFY(r.maxLogitDiff >= 0 && r.maxLogitDiff <= 1e-4f);
        if (temperature == 0.0f) QCOMPARE(r.generated, ids(run["generated"]));
    }
};

QTEST_GUILESS_MAIN(TestReference)
#include "test_reference.moc"
