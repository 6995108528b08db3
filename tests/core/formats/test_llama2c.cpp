// The llama2.c checkpoint reader against files built here byte by byte from the layout of
// llama2.c's export.py (legacy and version 1), so each damaged case is one visible edit of a
// valid header and the numbers in the expected messages follow from the test itself. Valid files
// are checked against tensor offsets worked out by hand for a tiny model, against a second,
// independent size formula for a GQA one, and against the files the PyTorch reference script
// wrote (tests/reference/llama): both layouts of a model must give the same bytes per tensor.

#include "formats/llama2c.h"

#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

#include <bit>
#include <cstring>
#include <limits>
#include <random>

using namespace kvscope;

namespace {

const QString kFile = QStringLiteral("stories.bin");
constexpr qint32 kIntMax = std::numeric_limits<qint32>::max();
constexpr qint32 kIntMin = std::numeric_limits<qint32>::min();

// The seven header fields in file order; vocab < 0 marks a separate classifier (legacy).
struct Dims {
    qint32 dim, hidden, layers, heads, kvHeads, vocab, seqLen;
};

// dim 4, hidden 6, 2 layers, 2 heads of 2 dimensions, 1 KV head (kv_dim 2), vocab 5, seq_len 3.
constexpr Dims kTiny{4, 6, 2, 2, 1, 5, 3};
// A GQA model shaped like the reference fixture's.
constexpr Dims kGqa{48, 100, 3, 8, 2, 300, 256};

QByteArray i32(qint32 v) {
    QByteArray out(4, '\0');
    const auto u = static_cast<quint32>(v);
    for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((u >> (8 * i)) & 0xFF);
    return out;
}

QByteArray fields(const Dims& d) {
    return i32(d.dim) + i32(d.hidden) + i32(d.layers) + i32(d.heads) + i32(d.kvHeads) +
           i32(d.vocab) + i32(d.seqLen);
}

// export.py's version-1 header: magic, version, the fields, shared_classifier, zeros to 256.
QByteArray v1Header(const Dims& d, quint8 shared, qint32 version = 1) {
    QByteArray h = QByteArray("24ka") + i32(version) + fields(d);
    h.append(static_cast<char>(shared));
    h.append(256 - h.size(), '\0');
    return h;
}

// Float i of the body holds i (exact below 2^24), so a tensor's first value tells where it is.
QByteArray body(qint64 floats) {
    QByteArray out(floats * 4, '\0');
    for (qint64 i = 0; i < floats; ++i) {
        const auto bits = std::bit_cast<quint32>(float(i % (1 << 24)));
        std::memcpy(out.data() + 4 * i, &bits, 4);
    }
    return out;
}

// The weight count written differently from the reader: per tensor kind, summed over layers.
qint64 weightFloats(const Dims& d, bool tied) {
    const qint64 D = d.dim, H = d.hidden, L = d.layers, V = std::abs(qint64(d.vocab));
    const qint64 kv = D / d.heads * d.kvHeads;
    const qint64 embedding = V * D, norms = 2 * L * D + D;
    const qint64 attention = L * (D * D + kv * D + kv * D + D * D);
    const qint64 ffn = L * (H * D + D * H + H * D);
    return embedding + norms + attention + ffn + (tied ? 0 : V * D);
}

qint64 ropeFloats(const Dims& d) {
    return 2 * qint64(d.seqLen) * (d.dim / d.heads / 2);
}

QByteArray legacyFile(const Dims& d) {
    return fields(d) + body(weightFloats(d, d.vocab > 0) + ropeFloats(d));
}

QByteArray v1File(const Dims& d, bool tied) {
    return v1Header(d, tied ? 1 : 0) + body(weightFloats(d, tied));
}

Result<Llama2cCheckpoint> parseBytes(const QByteArray& bytes, const QString& name = kFile) {
    return parseLlama2c(reinterpret_cast<const std::uint8_t*>(bytes.constData()),
                        static_cast<std::uint64_t>(bytes.size()),
                        static_cast<std::uint64_t>(bytes.size()), name);
}

bool sniff(const QByteArray& bytes) {
    return looksLikeLlama2c(reinterpret_cast<const std::uint8_t*>(bytes.constData()),
                            static_cast<std::uint64_t>(bytes.size()),
                            static_cast<std::uint64_t>(bytes.size()));
}

float floatAt(const QByteArray& bytes, std::uint64_t offset) {
    quint32 bits = 0;
    std::memcpy(&bits, bytes.constData() + offset, 4);
    return std::bit_cast<float>(bits);
}

// Every failing case must say which file, which field and the numbers involved.
void expectFailure(const QByteArray& bytes, const QStringList& fragments) {
    const auto result = parseBytes(bytes);
    QVERIFY2(!result.ok(), "parse accepted a bad file");
    const QString message = result.errorMessage();
    QVERIFY2(message.startsWith(kFile + QStringLiteral(": ")), qPrintable(message));
    for (const QString& fragment : fragments)
        QVERIFY2(message.contains(fragment),
                 qPrintable(QStringLiteral("missing \"%1\" in: %2").arg(fragment, message)));
}

struct Expected {
    const char* name;
    std::uint64_t begin, end;
    std::vector<std::int64_t> shape;
};

// Offsets for kTiny worked out by hand from export.py's write order (in floats after the header:
// embedding 20, attn norms 2x4, wq 2x16, wk 2x8, wv 2x8, wo 2x16, ffn norms 2x4, w1 2x24,
// w2 2x24, w3 2x24, final norm 4, freq_cis 2x3, classifier 20).
const std::vector<Expected> kTinyLegacy = {
    {"token_embd.weight", 28, 108, {5, 4}},
    {"blk.0.attn_norm.weight", 108, 124, {4}},
    {"blk.1.attn_norm.weight", 124, 140, {4}},
    {"blk.0.attn_q.weight", 140, 204, {4, 4}},
    {"blk.1.attn_q.weight", 204, 268, {4, 4}},
    {"blk.0.attn_k.weight", 268, 300, {2, 4}},
    {"blk.1.attn_k.weight", 300, 332, {2, 4}},
    {"blk.0.attn_v.weight", 332, 364, {2, 4}},
    {"blk.1.attn_v.weight", 364, 396, {2, 4}},
    {"blk.0.attn_output.weight", 396, 460, {4, 4}},
    {"blk.1.attn_output.weight", 460, 524, {4, 4}},
    {"blk.0.ffn_norm.weight", 524, 540, {4}},
    {"blk.1.ffn_norm.weight", 540, 556, {4}},
    {"blk.0.ffn_gate.weight", 556, 652, {6, 4}},
    {"blk.1.ffn_gate.weight", 652, 748, {6, 4}},
    {"blk.0.ffn_down.weight", 748, 844, {4, 6}},
    {"blk.1.ffn_down.weight", 844, 940, {4, 6}},
    {"blk.0.ffn_up.weight", 940, 1036, {6, 4}},
    {"blk.1.ffn_up.weight", 1036, 1132, {6, 4}},
    {"output_norm.weight", 1132, 1148, {4}},
    // 1148..1172: freq_cis_real and freq_cis_imag, 3 x 1 each, skipped.
    {"output.weight", 1172, 1252, {5, 4}},
};

// Version 1 puts the norms first and drops the RoPE tables; header 256 bytes.
const std::vector<Expected> kTinyV1 = {
    {"blk.0.attn_norm.weight", 256, 272, {4}},      {"blk.1.attn_norm.weight", 272, 288, {4}},
    {"blk.0.ffn_norm.weight", 288, 304, {4}},       {"blk.1.ffn_norm.weight", 304, 320, {4}},
    {"output_norm.weight", 320, 336, {4}},          {"token_embd.weight", 336, 416, {5, 4}},
    {"blk.0.attn_q.weight", 416, 480, {4, 4}},      {"blk.1.attn_q.weight", 480, 544, {4, 4}},
    {"blk.0.attn_k.weight", 544, 576, {2, 4}},      {"blk.1.attn_k.weight", 576, 608, {2, 4}},
    {"blk.0.attn_v.weight", 608, 640, {2, 4}},      {"blk.1.attn_v.weight", 640, 672, {2, 4}},
    {"blk.0.attn_output.weight", 672, 736, {4, 4}}, {"blk.1.attn_output.weight", 736, 800, {4, 4}},
    {"blk.0.ffn_gate.weight", 800, 896, {6, 4}},    {"blk.1.ffn_gate.weight", 896, 992, {6, 4}},
    {"blk.0.ffn_down.weight", 992, 1088, {4, 6}},   {"blk.1.ffn_down.weight", 1088, 1184, {4, 6}},
    {"blk.0.ffn_up.weight", 1184, 1280, {6, 4}},    {"blk.1.ffn_up.weight", 1280, 1376, {6, 4}},
    {"output.weight", 1376, 1456, {5, 4}},
};

void compareTable(const QByteArray& bytes, const Llama2cCheckpoint& c,
                  const std::vector<Expected>& expected, std::uint64_t headerBytes) {
    QCOMPARE(c.tensors.size(), expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
        const TensorInfo& t = c.tensors[i];
        QCOMPARE(t.name, QString::fromLatin1(expected[i].name));
        QCOMPARE(t.begin, expected[i].begin);
        QCOMPARE(t.end, expected[i].end);
        QCOMPARE(t.shape, expected[i].shape);
        QCOMPARE(t.dtype, DType::F32);
        QCOMPARE(floatAt(bytes, t.begin), float((t.begin - headerBytes) / 4));
    }
}

}  // namespace

class TestLlama2c : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void readsLegacyTensorTable_data() {
        QTest::addColumn<bool>("tied");
        QTest::newRow("tied (vocab_size > 0)") << true;
        QTest::newRow("separate classifier (vocab_size < 0)") << false;
    }
    void readsLegacyTensorTable() {
        QFETCH(bool, tied);
        Dims d = kTiny;
        if (!tied) d.vocab = -d.vocab;
        const QByteArray file = legacyFile(d);
        QCOMPARE(file.size(), tied ? 1172 : 1252);
        const auto r = parseBytes(file);
        QVERIFY2(r.ok(), qPrintable(r.errorMessage()));
        QCOMPARE(r.value().version, 0);
        std::vector<Expected> expected = kTinyLegacy;
        if (tied) expected.pop_back();
        compareTable(file, r.value(), expected, 28);
        const ModelConfig& c = r.value().config;
        QCOMPARE(c.vocabSize, 5);
        QCOMPARE(c.tiedLmHead, tied);
    }

    void readsVersion1TensorTable_data() {
        QTest::addColumn<bool>("tied");
        QTest::newRow("shared_classifier 1") << true;
        QTest::newRow("shared_classifier 0") << false;
    }
    void readsVersion1TensorTable() {
        QFETCH(bool, tied);
        const QByteArray file = v1File(kTiny, tied);
        QCOMPARE(file.size(), tied ? 1376 : 1456);
        const auto r = parseBytes(file);
        QVERIFY2(r.ok(), qPrintable(r.errorMessage()));
        QCOMPARE(r.value().version, 1);
        std::vector<Expected> expected = kTinyV1;
        if (tied) expected.pop_back();
        compareTable(file, r.value(), expected, 256);
        QCOMPARE(r.value().config.tiedLmHead, tied);
    }

    void configFollowsRunC() {
        const auto r = parseBytes(legacyFile(kGqa));
        QVERIFY2(r.ok(), qPrintable(r.errorMessage()));
        const ModelConfig& c = r.value().config;
        QCOMPARE(c.modelType, QStringLiteral("llama"));
        QCOMPARE(c.nEmbd, 48);
        QCOMPARE(c.nInner, 100);
        QCOMPARE(c.nLayer, 3);
        QCOMPARE(c.nHead, 8);
        QCOMPARE(c.nKvHead, 2);
        QCOMPARE(c.vocabSize, 300);
        QCOMPARE(c.nPositions, 256);
        QCOMPARE(c.headDim(), 6);
        QCOMPARE(c.kvDim(), 12);
        QCOMPARE(c.normEps, 1e-5f);
        QCOMPARE(c.norm, NormKind::RmsNorm);
        QCOMPARE(c.activation, Activation::SwiGlu);
        QCOMPARE(c.positions, PositionKind::Rotary);
        QCOMPARE(c.ropeTheta, 10000.0f);
        QCOMPARE(c.ropePairing, RopePairing::Adjacent);
        QVERIFY(c.tiedLmHead);
    }

    // A bigger model: the tensors tile the file from the header to the end (except the skipped
    // RoPE tables in legacy), each is rows x cols floats, and per-layer slices are equally spaced.
    void gqaTablesTileTheFile_data() {
        QTest::addColumn<int>("version");
        QTest::addColumn<bool>("tied");
        QTest::newRow("legacy tied") << 0 << true;
        QTest::newRow("legacy untied") << 0 << false;
        QTest::newRow("v1 tied") << 1 << true;
        QTest::newRow("v1 untied") << 1 << false;
    }
    void gqaTablesTileTheFile() {
        QFETCH(int, version);
        QFETCH(bool, tied);
        Dims d = kGqa;
        if (version == 0 && !tied) d.vocab = -d.vocab;
        const QByteArray file = version == 0 ? legacyFile(d) : v1File(d, tied);
        const auto r = parseBytes(file);
        QVERIFY2(r.ok(), qPrintable(r.errorMessage()));
        const auto& ts = r.value().tensors;
        QCOMPARE(ts.size(), std::size_t(9 * d.layers + 2 + (tied ? 0 : 1)));
        std::uint64_t at = version == 0 ? 28 : 256;
        const std::uint64_t rope = 4 * std::uint64_t(ropeFloats(d));
        qint64 floats = 0;
        for (const TensorInfo& t : ts) {
            if (version == 0 && t.name == QStringLiteral("output.weight")) at += rope;
            QCOMPARE(t.begin, at);
            QCOMPARE(t.end - t.begin, std::uint64_t(t.elementCount()) * 4);
            at = t.end;
            floats += t.elementCount();
        }
        if (version == 0 && tied) at += rope;
        QCOMPARE(at, std::uint64_t(file.size()));
        QCOMPARE(floats, weightFloats(d, tied));
        const auto find = [&](const QString& name) -> const TensorInfo& {
            for (const TensorInfo& t : ts)
                if (t.name == name) return t;
            qFatal("no tensor %s", qPrintable(name));
        };
        const TensorInfo& k0 = find(QStringLiteral("blk.0.attn_k.weight"));
        const TensorInfo& k2 = find(QStringLiteral("blk.2.attn_k.weight"));
        QCOMPARE(k0.shape, (std::vector<std::int64_t>{12, 48}));
        QCOMPARE(k2.begin - k0.begin, 2u * 12 * 48 * 4);
        QCOMPARE(find(QStringLiteral("blk.1.ffn_down.weight")).shape,
                 (std::vector<std::int64_t>{48, 100}));
        QCOMPARE(find(QStringLiteral("blk.1.ffn_gate.weight")).shape,
                 (std::vector<std::int64_t>{100, 48}));
    }

    // The reference fixture's checkpoints come from an independent writer (Python, from
    // export.py's layout). The legacy and version-1 files of one model hold the same weights in
    // different orders, so equal bytes under every name pin every offset of both layouts.
    void readsReferenceFixtures_data() {
        QTest::addColumn<QString>("model");
        QTest::newRow("gqa (tied)") << "gqa";
        QTest::newRow("mqa (separate classifier)") << "mqa";
    }
    void readsReferenceFixtures() {
        QFETCH(QString, model);
        const QString dir = QStringLiteral(KVSCOPE_FIXTURES "/reference/llama/");
        QFile json(dir + "expected.json");
        QVERIFY(json.open(QIODevice::ReadOnly));
        const QJsonObject e =
            QJsonDocument::fromJson(json.readAll()).object()["models"].toObject()[model].toObject();
        QByteArray bytes[2];
        Llama2cCheckpoint parsed[2];
        for (int v = 0; v < 2; ++v) {
            QFile f(dir + e[v == 0 ? "legacy" : "v1"].toString());
            QVERIFY(f.open(QIODevice::ReadOnly));
            bytes[v] = f.readAll();
            auto r = parseBytes(bytes[v], f.fileName());
            QVERIFY2(r.ok(), qPrintable(r.errorMessage()));
            parsed[v] = r.take();
            QCOMPARE(parsed[v].version, v);
            const ModelConfig& c = parsed[v].config;
            QCOMPARE(c.nEmbd, e["dim"].toInt());
            QCOMPARE(c.nInner, e["hidden_dim"].toInt());
            QCOMPARE(c.nLayer, e["n_layers"].toInt());
            QCOMPARE(c.nHead, e["n_heads"].toInt());
            QCOMPARE(c.nKvHead, e["n_kv_heads"].toInt());
            QCOMPARE(c.vocabSize, e["vocab_size"].toInt());
            QCOMPARE(c.nPositions, e["seq_len"].toInt());
            QCOMPARE(c.tiedLmHead, e["tied_classifier"].toBool());
        }
        QCOMPARE(parsed[0].tensors.size(), parsed[1].tensors.size());
        for (const TensorInfo& a : parsed[0].tensors) {
            const auto b = std::find_if(parsed[1].tensors.begin(), parsed[1].tensors.end(),
                                        [&](const TensorInfo& t) { return t.name == a.name; });
            QVERIFY2(b != parsed[1].tensors.end(), qPrintable(a.name));
            QCOMPARE(b->shape, a.shape);
            const auto length = qsizetype(a.end - a.begin);
            QVERIFY2(bytes[0].mid(qsizetype(a.begin), length) ==
                         bytes[1].mid(qsizetype(b->begin), length),
                     qPrintable(a.name));
        }
    }

    void rejectsTruncatedHeader_data() {
        QTest::addColumn<QByteArray>("file");
        QTest::addColumn<QStringList>("fragments");
        for (int n : {0, 1, 3})
            QTest::addRow("%d bytes", n)
                << QByteArray(n, '\x01')
                << QStringList{QStringLiteral("file is %1 bytes").arg(n), "28-byte header"};
        QTest::addRow("legacy, 27 bytes")
            << fields(kTiny).left(27)
            << QStringList{"file is 27 bytes", "28-byte header of a legacy", "no \"ak42\" magic"};
        QTest::addRow("ak42, 255 bytes")
            << v1Header(kTiny, 1).left(255)
            << QStringList{"file is 255 bytes", "256-byte header", "\"ak42\""};
        QTest::addRow("ak42, magic only")
            << QByteArray("24ka") << QStringList{"file is 4 bytes", "256-byte header"};
    }
    void rejectsTruncatedHeader() {
        QFETCH(QByteArray, file);
        QFETCH(QStringList, fragments);
        expectFailure(file, fragments);
    }

    void rejectsBadField_data() {
        QTest::addColumn<QByteArray>("file");
        QTest::addColumn<QStringList>("fragments");
        const auto legacy = [](Dims d) { return legacyFile(kTiny).replace(0, 28, fields(d)); };
        const auto row = [](const char* name, const QByteArray& file, const char* layout,
                            const char* field, const QString& expected, qint64 found) {
            QTest::newRow(name) << file
                                << QStringList{
                                       QStringLiteral("llama2.c %1 header field %2")
                                           .arg(QLatin1String(layout), QLatin1String(field)),
                                       expected, QStringLiteral("found %1").arg(found)};
        };
        const QString count = QStringLiteral("expected a count from 1 to %1");
        Dims d = kTiny;
        d.dim = 0;
        row("dim 0", legacy(d), "legacy", "dim", count.arg(kMaxEmbd), 0);
        d.dim = -4;
        row("dim negative", legacy(d), "legacy", "dim", count.arg(kMaxEmbd), -4);
        d.dim = kMaxEmbd + 2;
        row("dim over the cap", legacy(d), "legacy", "dim", count.arg(kMaxEmbd), kMaxEmbd + 2);
        d = kTiny;
        d.hidden = 0;
        row("hidden_dim 0", legacy(d), "legacy", "hidden_dim", count.arg(4 * kMaxEmbd), 0);
        d.hidden = kIntMin;
        row("hidden_dim INT_MIN", legacy(d), "legacy", "hidden_dim", count.arg(4 * kMaxEmbd),
            kIntMin);
        d.hidden = kIntMax;
        row("hidden_dim INT_MAX", legacy(d), "legacy", "hidden_dim", count.arg(4 * kMaxEmbd),
            kIntMax);
        d = kTiny;
        d.layers = 0;
        row("n_layers 0", legacy(d), "legacy", "n_layers", count.arg(kMaxLayers), 0);
        d.layers = kMaxLayers + 1;
        row("n_layers over the cap", legacy(d), "legacy", "n_layers", count.arg(kMaxLayers),
            kMaxLayers + 1);
        d = kTiny;
        d.heads = 0;
        row("n_heads 0", legacy(d), "legacy", "n_heads", count.arg("dim = 4"), 0);
        d.heads = 8;
        row("n_heads above dim", legacy(d), "legacy", "n_heads", count.arg("dim = 4"), 8);
        d = kGqa;
        d.heads = 7;
        row("dim not divisible by n_heads", legacy(d), "legacy", "n_heads", "a divisor of dim = 48",
            7);
        d = kGqa;
        d.dim = 24;
        d.heads = 8;
        d.kvHeads = 8;
        row("odd head_dim", legacy(d), "legacy", "n_heads", "head_dim = 3", 8);
        d = kGqa;
        d.kvHeads = 0;
        row("n_kv_heads 0", legacy(d), "legacy", "n_kv_heads", count.arg("n_heads = 8"), 0);
        d.kvHeads = 16;
        row("n_kv_heads above n_heads", legacy(d), "legacy", "n_kv_heads", count.arg("n_heads = 8"),
            16);
        d.kvHeads = 3;
        row("n_heads not divisible by n_kv_heads", legacy(d), "legacy", "n_kv_heads",
            "a divisor of n_heads = 8", 3);
        d = kTiny;
        d.vocab = 0;
        row("vocab_size 0", legacy(d), "legacy", "vocab_size", "negative when the classifier", 0);
        d.vocab = kIntMin;  // |INT_MIN| does not fit an int32
        row("vocab_size INT_MIN", legacy(d), "legacy", "vocab_size", count.arg(kMaxVocab), kIntMin);
        d.vocab = -(kMaxVocab + 1);
        row("vocab_size below -cap", legacy(d), "legacy", "vocab_size", count.arg(kMaxVocab),
            -(kMaxVocab + 1));
        d = kTiny;
        d.seqLen = 0;
        row("seq_len 0", legacy(d), "legacy", "seq_len", count.arg(kMaxPositions), 0);
        d.seqLen = -256;
        row("seq_len negative", legacy(d), "legacy", "seq_len", count.arg(kMaxPositions), -256);
        d.seqLen = kIntMax;
        row("seq_len INT_MAX", legacy(d), "legacy", "seq_len", count.arg(kMaxPositions), kIntMax);

        const QByteArray v1 = v1File(kTiny, true);
        d = kTiny;
        d.vocab = -5;
        row("v1 negative vocab_size", v1File(kTiny, true).replace(0, 256, v1Header(d, 1)),
            "version 1", "vocab_size", "marks a separate classifier with shared_classifier", -5);
        d = kTiny;
        d.kvHeads = 0;
        row("v1 n_kv_heads 0", QByteArray(v1).replace(0, 256, v1Header(d, 1)), "version 1",
            "n_kv_heads", count.arg("n_heads = 2"), 0);
        row("v1 shared_classifier 2", QByteArray(v1).replace(0, 256, v1Header(kTiny, 2)),
            "version 1", "shared_classifier", "expected 0 or 1", 2);
        row("v1 shared_classifier 255", QByteArray(v1).replace(0, 256, v1Header(kTiny, 255)),
            "version 1", "shared_classifier", "expected 0 or 1", 255);
        for (qint32 version : {0, 3, -1, kIntMax})
            row(qPrintable(QStringLiteral("version %1").arg(version)),
                QByteArray(v1).replace(0, 256, v1Header(kTiny, 1, version)), "version 1", "version",
                "expected 1", version);
        // One letter off the magic: read as a legacy header whose dim is the four ASCII bytes.
        row("bad magic", QByteArray(v1).replace(0, 4, "34ka"), "legacy", "dim", count.arg(kMaxEmbd),
            0x616b3433);
    }
    void rejectsBadField() {
        QFETCH(QByteArray, file);
        QFETCH(QStringList, fragments);
        expectFailure(file, fragments);
    }

    void refusesVersion2() {
        QByteArray file = v1Header(kTiny, 1, 2) + QByteArray(4000, '\0');
        expectFailure(
            file, {"quantized llama2.c version 2 is not supported yet", "export.py --version 1"});
    }

    void rejectsSizeMismatch_data() {
        QTest::addColumn<QByteArray>("file");
        QTest::addColumn<QStringList>("fragments");
        const QByteArray legacy = legacyFile(kTiny);  // 1172 bytes
        const QString header = QStringLiteral(
            "dim 4, hidden_dim 6, n_layers 2, n_heads 2, n_kv_heads 1, vocab_size %1, seq_len 3");
        QTest::newRow("legacy one byte short")
            << legacy.left(1171)
            << QStringList{"llama2.c legacy file size", "expected 1172 bytes", header.arg(5),
                           "28-byte header + 280 float32 weights + 6 float32 values of the "
                           "unused freq_cis tables",
                           "found 1171 bytes"};
        QTest::newRow("legacy one byte extra")
            << legacy + QByteArray(1, '\0')
            << QStringList{"legacy file size", "expected 1172 bytes", "found 1173 bytes"};
        QTest::newRow("legacy header only")
            << legacy.left(28) << QStringList{"expected 1172 bytes", "found 28 bytes"};
        QTest::newRow("legacy classifier present, vocab_size positive")
            << legacy + QByteArray(80, '\0')
            << QStringList{"expected 1172 bytes", "found 1252 bytes",
                           "one vocab_size x dim classifier more",
                           "marked by a negative vocab_size"};
        Dims untied = kTiny;
        untied.vocab = -5;
        QTest::newRow("legacy classifier missing, vocab_size negative")
            << QByteArray(legacy).replace(0, 28, fields(untied))
            << QStringList{"expected 1252 bytes", header.arg(-5), "found 1172 bytes",
                           "one vocab_size x dim classifier less"};
        const QByteArray v1 = v1File(kTiny, false);  // 1456 bytes
        QTest::newRow("v1 shared_classifier 1 but classifier stored")
            << QByteArray(v1).replace(0, 256, v1Header(kTiny, 1))
            << QStringList{"llama2.c version 1 file size", "expected 1376 bytes",
                           "256-byte header + 280 float32 weights)", "found 1456 bytes",
                           "marked by shared_classifier 0"};
        QTest::newRow("v1 truncated")
            << v1.left(1000) << QStringList{"expected 1456 bytes", "found 1000 bytes"};
        QTest::newRow("v1 header only")
            << v1.left(256) << QStringList{"expected 1456 bytes", "found 256 bytes"};
        // A legacy file read as version 1 (magic spliced in front): its header claims 256 bytes.
        QTest::newRow("v1 header on legacy body")
            << v1Header(kTiny, 1) + legacy.mid(28)
            << QStringList{"version 1 file size", "expected 1376 bytes", "found 1400 bytes"};
    }
    void rejectsSizeMismatch() {
        QFETCH(QByteArray, file);
        QFETCH(QStringList, fragments);
        expectFailure(file, fragments);
    }

    // Every field at its cap describes a file of about 2^48 bytes: the size must be computed
    // without wrapping and reported exactly (here from 128-bit arithmetic).
    void reportsHugeSizesExactly_data() {
        QTest::addColumn<int>("version");
        QTest::newRow("legacy") << 0;
        QTest::newRow("v1") << 1;
    }
    void reportsHugeSizesExactly() {
        QFETCH(int, version);
        const Dims d{kMaxEmbd,     4 * kMaxEmbd, kMaxLayers,
                     kMaxEmbd / 2, kMaxEmbd / 2, version == 0 ? -kMaxVocab : kMaxVocab,
                     kMaxPositions};
        const unsigned __int128 D = d.dim, H = d.hidden, L = d.layers, V = kMaxVocab, S = d.seqLen;
        const unsigned __int128 floats =
            2 * V * D + L * (2 * D + 4 * D * D + 3 * H * D) + D + (version == 0 ? S * 2 : 0);
        const unsigned __int128 bytes = (version == 0 ? 28 : 256) + 4 * floats;
        QVERIFY(bytes < (unsigned __int128)(1) << 63);
        const QByteArray file = version == 0 ? fields(d) + QByteArray(100, '\0')
                                             : v1Header(d, 0) + QByteArray(100, '\0');
        expectFailure(file, {QStringLiteral("expected %1 bytes").arg(quint64(bytes)),
                             QStringLiteral("found %1 bytes").arg(file.size())});
    }

    void rejectsShortBuffer() {
        const QByteArray file = legacyFile(kTiny);
        const auto r = parseLlama2c(reinterpret_cast<const std::uint8_t*>(file.constData()), 20,
                                    std::uint64_t(file.size()), kFile);
        QVERIFY(!r.ok());
        QVERIFY2(r.errorMessage().contains("given 20 bytes; expected the file's first 28"),
                 qPrintable(r.errorMessage()));
        // A version-1 header needs all 256 bytes.
        const QByteArray v1 = v1File(kTiny, true);
        const auto r1 = parseLlama2c(reinterpret_cast<const std::uint8_t*>(v1.constData()), 64,
                                     std::uint64_t(v1.size()), kFile);
        QVERIFY2(r1.errorMessage().contains("given 64 bytes; expected the file's first 256"),
                 qPrintable(r1.errorMessage()));
        // Only the header is needed: the table comes from the size alone.
        const auto r2 = parseLlama2c(reinterpret_cast<const std::uint8_t*>(v1.constData()),
                                     kLlama2cHeaderBytes, std::uint64_t(v1.size()), kFile);
        QVERIFY2(r2.ok(), qPrintable(r2.errorMessage()));
    }

    void sniffsLlama2cFiles() {
        QVERIFY(sniff(legacyFile(kTiny)));
        QVERIFY(sniff(legacyFile(kGqa)));
        QVERIFY(sniff(v1File(kTiny, false)));
        QVERIFY(sniff(v1Header(kTiny, 1, 2) + QByteArray(10, '\0')));  // refused later, by name
        QVERIFY(sniff(QByteArray("24ka")));
        QVERIFY(!sniff(legacyFile(kTiny).left(1171)));  // a legacy header must fit the size
        QVERIFY(!sniff(QByteArray()));
        QVERIFY(!sniff(QByteArray("24k")));
        // A safetensors prefix: an 8-byte header length, then JSON.
        QByteArray st(8, '\0');
        st[0] = 2;
        QVERIFY(!sniff(st + "{}" + QByteArray(40, ' ')));
        QVERIFY(!sniff(QByteArray("GGUF") + QByteArray(200, '\0')));
        QVERIFY(!sniff(QByteArray(4096, '\xff')));
    }

    // Truncations and random header edits of valid files: each is rejected with the file's name,
    // or accepted with a table that lies inside the file.
    void survivesMutatedFiles() {
        int accepted = 0, rejected = 0;
        const auto check = [&](const QByteArray& bytes) {
            const auto r = parseBytes(bytes);
            if (!r.ok()) {
                ++rejected;
                QVERIFY2(r.errorMessage().startsWith(kFile + QStringLiteral(": ")),
                         qPrintable(r.errorMessage()));
                return;
            }
            ++accepted;
            std::uint64_t previous = 0;
            for (const TensorInfo& t : r.value().tensors) {
                QVERIFY(t.begin >= previous);
                QVERIFY(t.end <= std::uint64_t(bytes.size()));
                QCOMPARE(t.end - t.begin, std::uint64_t(t.elementCount()) * 4);
                previous = t.end;
            }
        };
        Dims untied = kTiny;
        untied.vocab = -5;
        const std::vector<QByteArray> valid = {legacyFile(kTiny), legacyFile(untied),
                                               v1File(kTiny, true), v1File(kTiny, false)};
        for (const QByteArray& file : valid) {
            for (qsizetype n = 0; n < file.size(); ++n) check(file.left(n));
            if (QTest::currentTestFailed()) return;
        }
        std::mt19937 rng(20240611);
        for (int i = 0; i < 20000; ++i) {
            QByteArray file = valid[std::size_t(i) % valid.size()];
            const int headerBytes = file.startsWith("24ka") ? 40 : 28;
            for (int e = 0; e <= int(rng() % 3); ++e)
                file[qsizetype(rng() % unsigned(headerBytes))] = char(rng());
            check(file);
            if (QTest::currentTestFailed()) return;
        }
        qInfo("mutations: %d accepted, %d rejected", accepted, rejected);
        QVERIFY(accepted > 0 && rejected > 0);
    }
};

QTEST_GUILESS_MAIN(TestLlama2c)
#include "test_llama2c.moc"
