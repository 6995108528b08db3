// Every input a fuzz target (tests/fuzz/) failed on, replayed through the same API on every
// ctest run. tests/fuzz/regressions/<target>/ holds the files as the fuzzer wrote them (target
// without the fuzz_ prefix); each folder is replayed whole, so a new finding is covered by
// dropping its file there, and the table in expectedErrors() says what each known one must give.

#include "model/model_config.h"
#include "formats/safetensors.h"

#include <QDir>
#include <QtTest>

#include <cstdint>
#include <optional>
#include <vector>

using namespace kvscope;

namespace {

const QString kRegressions = QStringLiteral(KVSCOPE_FIXTURES "/fuzz/regressions");

QByteArray readAll(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) qFatal("cannot read %s", qPrintable(path));
    return f.readAll();
}

// What a known finding must give now: nullopt for an input not listed (any clean result), an
// empty list when it must load, otherwise parts its error message must contain.
std::optional<QStringList> expectedErrors(const QString& target, const QString& file) {
    const QHash<QString, QStringList> table = {
        // 1e-85 is in (0, 1) as a double but 0 as a float: layer norm would divide by zero.
        {QStringLiteral("config/layer_norm_epsilon_rounds_to_zero.json"),
         {QStringLiteral("config.json"), QStringLiteral("layer_norm_epsilon"),
          QStringLiteral("float32")}},
        // shape [2^62, 4, 0] is a valid empty tensor; elementCount() overflowed before the 0
        // (signed overflow: seen only when ctest runs under UBSan, the product wraps to 0).
        {QStringLiteral("safetensors/empty_tensor_huge_dims.safetensors"), {}},
    };
    const QString key = target + QLatin1Char('/') + file;
    if (!table.contains(key)) return std::nullopt;
    return table.value(key);
}

void expectError(const QString& message, const QStringList& parts) {
    for (const QString& p : parts)
        QVERIFY2(message.contains(p),
                 qPrintable(QStringLiteral("\"%1\" not in: %2").arg(p, message)));
}

}  // namespace

class TestFuzzRegressions : public QObject {
    Q_OBJECT

    // Rows "<target>/<file>" for every regression input of one target.
    static void addRows(const QString& target) {
        QTest::addColumn<QString>("file");
        const QDir dir(kRegressions + QLatin1Char('/') + target);
        for (const QString& f : dir.entryList(QDir::Files, QDir::Name))
            QTest::newRow(qPrintable(target + QLatin1Char('/') + f)) << f;
    }

private Q_SLOTS:
    // What fuzz_safetensors checks: every tensor inside the file, its length matching its shape,
    // and converting it reads only its own bytes.
    void safetensors_data() { addRows(QStringLiteral("safetensors")); }
    void safetensors() {
        QFETCH(QString, file);
        const QByteArray bytes = readAll(kRegressions + QStringLiteral("/safetensors/") + file);
        const auto* data = reinterpret_cast<const std::uint8_t*>(bytes.constData());
        const auto size = static_cast<std::uint64_t>(bytes.size());
        const auto parsed = SafetensorsFile::parse(data, size, QStringLiteral("model.safetensors"));
        const auto parts = expectedErrors(QStringLiteral("safetensors"), file);
        if (parts && !parts->isEmpty()) {
            QVERIFY(!parsed.ok());
            expectError(parsed.errorMessage(), *parts);
            return;
        }
        if (parts) QVERIFY2(parsed.ok(), qPrintable(parsed.errorMessage()));
        if (!parsed.ok()) return;  // a clean error is all an unlisted input must give
        for (const TensorInfo& t : parsed.value().tensors()) {
            QVERIFY(t.begin <= t.end && t.end <= size);
            const std::int64_t count = t.elementCount();
            QVERIFY(count >= 0);
            QCOMPARE(t.end - t.begin, static_cast<std::uint64_t>(count) * dtypeSize(t.dtype));
            std::vector<float> out(static_cast<std::size_t>(count));
            convertToFloat32(data + t.begin, t.dtype, count, out.data());
        }
    }

    void config_data() { addRows(QStringLiteral("config")); }
    void config() {
        QFETCH(QString, file);
        const auto parsed =
            parseModelConfig(readAll(kRegressions + QStringLiteral("/config/") + file),
                             QStringLiteral("config.json"));
        const auto parts = expectedErrors(QStringLiteral("config"), file);
        if (parts && !parts->isEmpty()) {
            QVERIFY(!parsed.ok());
            expectError(parsed.errorMessage(), *parts);
            return;
        }
        if (parts) QVERIFY2(parsed.ok(), qPrintable(parsed.errorMessage()));
        if (parsed.ok()) QVERIFY(parsed.value().normEps > 0 && parsed.value().normEps < 1);
    }

    // The boundary the config regression moved: the smallest float32 epsilons still load, the
    // doubles that round to 0 or 1 in float32 do not.
    void layerNormEpsilonInFloat32_data() {
        QTest::addColumn<QString>("eps");
        QTest::addColumn<bool>("accepted");
        QTest::newRow("1e-5") << "1e-05" << true;
        QTest::newRow("smallest subnormal") << "1.5e-45" << true;
        QTest::newRow("rounds to 0") << "1e-46" << false;
        QTest::newRow("rounds to 1") << "0.99999999999" << false;
        QTest::newRow("largest below 1") << "0.9999999" << true;
    }
    void layerNormEpsilonInFloat32() {
        QFETCH(QString, eps);
        QFETCH(bool, accepted);
        const QByteArray json = QStringLiteral(R"({"n_layer": 1, "n_head": 1, "n_embd": 4,
            "n_positions": 8, "vocab_size": 300, "layer_norm_epsilon": %1})")
                                    .arg(eps)
                                    .toUtf8();
        const auto parsed = parseModelConfig(json, QStringLiteral("config.json"));
        QCOMPARE(parsed.ok(), accepted);
        if (!accepted) expectError(parsed.errorMessage(), {QStringLiteral("layer_norm_epsilon")});
    }
};

QTEST_GUILESS_MAIN(TestFuzzRegressions)
#include "test_fuzz_regressions.moc"
