// The GGUF reader against files written by the project's Python writer from the specification
// (tests/formats/gguf_writer.py, fixtures in tests/formats/gguf/ with a JSON manifest of what was
// written: every metadata value and tensor info is checked against it), and against damaged
// files built here byte by byte, so each bad case is one visible edit of a valid file and the
// numbers in its expected message follow from the test itself.

#include "formats/gguf.h"
#include "formats/sniff.h"

#include <QBuffer>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

#include <bit>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <limits>
#include <numbers>
#include <optional>

using namespace kvscope;

namespace {

const QString kFile = QStringLiteral("model.gguf");
const QString kFixtures = QStringLiteral(KVSCOPE_FIXTURES "/formats/gguf/");
constexpr quint64 kU64Max = std::numeric_limits<quint64>::max();

QByteArray readFile(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) qFatal("cannot read %s", qPrintable(path));
    return f.readAll();
}

const std::uint8_t* data(const QByteArray& b) {
    return reinterpret_cast<const std::uint8_t*>(b.constData());
}

Result<GgufFile> parseBytes(const QByteArray& bytes) {
    return GgufFile::parse(data(bytes), std::uint64_t(bytes.size()), kFile);
}

// Little-endian encoders.
QByteArray le(quint64 v, int bytes) {
    QByteArray out(bytes, '\0');
    for (int i = 0; i < bytes; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
    return out;
}
QByteArray u32(quint32 v) {
    return le(v, 4);
}
QByteArray u64(quint64 v) {
    return le(v, 8);
}
QByteArray str(const QByteArray& s) {
    return u64(quint64(s.size())) + s;
}
QByteArray type(GgufType t) {
    return u32(quint32(t));
}

QByteArray tensorInfo(const QByteArray& name, const std::vector<quint64>& dims, quint32 ggmlType,
                      quint64 offset) {
    QByteArray info = str(name) + u32(quint32(dims.size()));
    for (quint64 d : dims) info += u64(d);
    return info + u32(ggmlType) + u64(offset);
}

// A GGUF file assembled from its parts: each field is public so a damaged case edits one.
struct Builder {
    QByteArray magic = "GGUF";
    quint32 version = 3;
    std::optional<quint64> tensorCount, kvCount;  // the real counts when unset
    std::vector<QByteArray> kvs;                  // each: key, type, value
    std::vector<QByteArray> tensorInfos;          // each: name, n_dims, dims, type, offset
    quint32 alignment = 32;                       // for the padding only
    QByteArray data;                              // the data section

    Builder& kv(const QByteArray& key, GgufType t, const QByteArray& value) {
        kvs.push_back(str(key) + type(t) + value);
        return *this;
    }
    Builder& tensor(const QByteArray& name, std::vector<quint64> dims, quint32 ggmlType,
                    quint64 offset) {
        tensorInfos.push_back(tensorInfo(name, dims, ggmlType, offset));
        return *this;
    }
    QByteArray header() const {
        QByteArray out = magic + u32(version) + u64(tensorCount.value_or(tensorInfos.size())) +
                         u64(kvCount.value_or(kvs.size()));
        for (const QByteArray& kv : kvs) out += kv;
        for (const QByteArray& t : tensorInfos) out += t;
        return out;
    }
    QByteArray build() const {
        QByteArray out = header();
        out.append((alignment - out.size() % alignment) % alignment, '\0');
        return out + data;
    }
};

constexpr quint32 kF32 = 0, kF16 = 1, kQ8_0 = 8, kQ4_K = 12, kIQ2_XXS = 16;

// Two tensors: "a" (F32, 4 x 2, 32 bytes at 0) and "b" (Q8_0, one block of 32, 34 bytes at 32).
Builder valid() {
    Builder b;
    b.kv("general.architecture", GgufType::String, str("llama"));
    b.kv("llama.block_count", GgufType::UInt32, u32(2));
    b.tensor("a", {4, 2}, kF32, 0);
    b.tensor("b", {32}, kQ8_0, 32);
    b.data = QByteArray(96, '\x11');
    return b;
}

// An array value: element type, length, elements.
QByteArray array(GgufType element, quint64 count, const QByteArray& elements) {
    return type(element) + u64(count) + elements;
}

// `depth` arrays, each holding the next; the innermost holds one UINT8.
QByteArray nestedArray(int depth) {
    QByteArray v = array(GgufType::UInt8, 1, QByteArray(1, '\x07'));
    for (int d = 1; d < depth; ++d) v = array(GgufType::Array, 1, v);
    return v;
}

void expectError(const QString& message, const QStringList& parts) {
    QVERIFY2(message.startsWith(kFile + QStringLiteral(": ")), qPrintable(message));
    for (const QString& p : parts)
        QVERIFY2(message.contains(p),
                 qPrintable(QStringLiteral("missing \"%1\" in: %2").arg(p, message)));
}

// Parses `bytes` into `const GgufFile& name`, failing the test function with the message if not.
#define PARSE_OK(name, bytes)                                             \
    const auto name##Parsed = parseBytes(bytes);                          \
    QVERIFY2(name##Parsed.ok(), qPrintable(name##Parsed.errorMessage())); \
    const GgufFile& name = name##Parsed.value()

// ---- the manifest written by gguf_writer.py ----

std::uint64_t toU64(const QJsonValue& v) {
    bool ok = false;
    const quint64 x = v.toString().toULongLong(&ok);
    if (!ok) qFatal("manifest: not an unsigned integer");
    return x;
}

std::int64_t toI64(const QJsonValue& v) {
    bool ok = false;
    const qint64 x = v.toString().toLongLong(&ok);
    if (!ok) qFatal("manifest: not an integer");
    return x;
}

// float.hex() text, exact.
double toReal(const QJsonValue& v) {
    return std::strtod(v.toString().toLatin1().constData(), nullptr);
}

bool sameReal(double a, double b) {
    return std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b);
}

GgufType typeByName(const QString& name) {
    for (quint32 id = 0; id <= 12; ++id)
        if (ggufTypeName(GgufType(id)) == name) return GgufType(id);
    qFatal("manifest: unknown type %s", qPrintable(name));
    return GgufType::UInt8;
}

// One scalar (or array element `i`) of type t against its manifest value.
void compareScalar(const GgufValue& v, GgufType t, std::optional<std::uint64_t> i,
                   const QJsonValue& expected, const QString& where) {
    const auto integerSigned = [&] { return i ? v.integerAt<qint64>(*i) : v.integer<qint64>(); };
    const auto integerUnsigned = [&] {
        return i ? v.integerAt<quint64>(*i) : v.integer<quint64>();
    };
    switch (t) {
        case GgufType::Int8:
        case GgufType::Int16:
        case GgufType::Int32:
        case GgufType::Int64:
            QVERIFY2(integerSigned() == toI64(expected), qPrintable(where));
            return;
        case GgufType::UInt8:
        case GgufType::UInt16:
        case GgufType::UInt32:
        case GgufType::UInt64:
            QVERIFY2(integerUnsigned() == toU64(expected), qPrintable(where));
            return;
        case GgufType::Float32:
        case GgufType::Float64: {
            const auto got = i ? v.realAt(*i) : v.real();
            QVERIFY2(got && sameReal(*got, toReal(expected)), qPrintable(where));
            return;
        }
        case GgufType::Bool: {
            // Bool arrays are raw bytes, 0 or 1.
            const bool got =
                i ? v.rawElements()[*i] != 0 : v.boolean().value_or(!expected.toBool());
            QVERIFY2(got == expected.toBool(), qPrintable(where));
            return;
        }
        default:
            QFAIL("compareScalar: not a scalar type");
    }
}

void compareValue(const GgufValue& v, const QString& typeName, const QJsonValue& expected,
                  const QString& where) {
    const GgufType t = typeByName(typeName);
    QCOMPARE(v.type(), t);
    if (t == GgufType::String) {
        QCOMPARE(QString::fromUtf8(v.stringBytes().data(), qsizetype(v.stringBytes().size())),
                 expected.toString());
        return;
    }
    if (t != GgufType::Array) {
        compareScalar(v, t, std::nullopt, expected, where);
        return;
    }
    const QJsonObject a = expected.toObject();
    const GgufType element = typeByName(a.value("element_type").toString());
    const QJsonArray items = a.value("items").toArray();
    QCOMPARE(v.elementType(), element);
    QCOMPARE(v.arraySize(), std::uint64_t(items.size()));
    for (qsizetype i = 0; i < items.size(); ++i) {
        const QString at = where + QStringLiteral("[%1]").arg(i);
        if (element == GgufType::String) {
            QCOMPARE(v.strings().string(std::size_t(i)), items[i].toString());
        } else if (element == GgufType::Array) {
            const QJsonObject inner = items[i].toObject();
            compareValue(v.items()[std::size_t(i)], QStringLiteral("ARRAY"), inner, at);
        } else {
            compareScalar(v, element, std::uint64_t(i), items[i], at);
        }
        if (QTest::currentTestFailed()) return;
    }
}

QJsonObject manifest(const QString& fixture) {
    return QJsonDocument::fromJson(readFile(kFixtures + fixture + QStringLiteral(".json")))
        .object();
}

// The file of a big vocabulary: `n` tokens "tok<i>", scores -i/2, token types 1 and 3.
QByteArray vocabularyFile(int n) {
    QByteArray tokens, scores, types;
    for (int i = 0; i < n; ++i) {
        tokens += str("tok" + QByteArray::number(i));
        scores += u32(std::bit_cast<quint32>(-0.5f * float(i)));
        types += u32(i < 3 ? 3 : 1);
    }
    Builder b;
    b.kv("tokenizer.ggml.model", GgufType::String, str("llama"));
    b.kv("tokenizer.ggml.tokens", GgufType::Array, array(GgufType::String, quint64(n), tokens));
    b.kv("tokenizer.ggml.scores", GgufType::Array, array(GgufType::Float32, quint64(n), scores));
    b.kv("tokenizer.ggml.token_type", GgufType::Array, array(GgufType::Int32, quint64(n), types));
    return b.build();
}

}  // namespace

class TestGguf : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void fixtureMatchesManifest_data() {
        QTest::addColumn<QString>("fixture");
        for (const char* f :
             {"all_types_v3.gguf", "default_alignment_v2.gguf", "vocab_only_v3.gguf"})
            QTest::newRow(f) << QString::fromLatin1(f);
    }

    // Every metadata pair in file order, every tensor info and every tensor's bytes, as the
    // Python writer says it wrote them.
    void fixtureMatchesManifest() {
        QFETCH(QString, fixture);
        const QByteArray bytes = readFile(kFixtures + fixture);
        const QJsonObject m = manifest(fixture);
        QCOMPARE(sniffFile(data(bytes), std::uint64_t(bytes.size()), std::uint64_t(bytes.size())),
                 FileKind::Gguf);
        const auto parsed = parseBytes(bytes);
        QVERIFY2(parsed.ok(), qPrintable(parsed.errorMessage()));
        const GgufFile& f = parsed.value();
        QCOMPARE(f.fileName(), kFile);
        QCOMPARE(qint64(bytes.size()), m.value("size").toInteger());
        QCOMPARE(qint64(f.version()), m.value("version").toInteger());
        QCOMPARE(qint64(f.alignment()), m.value("alignment").toInteger());
        QCOMPARE(qint64(f.dataOffset()), m.value("data_offset").toInteger());

        const QJsonArray kvs = m.value("metadata").toArray();
        QCOMPARE(f.metadata().size(), std::size_t(kvs.size()));
        for (qsizetype i = 0; i < kvs.size(); ++i) {
            const QJsonObject kv = kvs[i].toObject();
            const QString key = kv.value("key").toString();
            QCOMPARE(f.metadata()[std::size_t(i)].key, key);
            QVERIFY(f.value(key) == &f.metadata()[std::size_t(i)].value);
            compareValue(*f.value(key), kv.value("type").toString(), kv.value("value"), key);
            if (QTest::currentTestFailed()) return;
        }

        const QJsonArray tensors = m.value("tensors").toArray();
        QCOMPARE(f.tensors().size(), std::size_t(tensors.size()));
        for (qsizetype i = 0; i < tensors.size(); ++i) {
            const QJsonObject e = tensors[i].toObject();
            const GgufTensor& t = f.tensors()[std::size_t(i)];
            QCOMPARE(t.name, e.value("name").toString());
            QCOMPARE(f.find(t.name), &t);
            QCOMPARE(qint64(t.type), e.value("type").toInteger());
            const std::string_view typeName = ggmlTypeTraits(t.type).name;
            QCOMPARE(QString::fromLatin1(typeName.data(), qsizetype(typeName.size())),
                     e.value("type_name").toString());
            std::vector<std::int64_t> dims;
            for (const QJsonValue& d : e.value("dims").toArray()) dims.push_back(d.toInteger());
            QCOMPARE(t.dims, dims);
            QCOMPARE(t.shape(), std::vector<std::int64_t>(dims.rbegin(), dims.rend()));
            QCOMPARE(qint64(t.offset), e.value("offset").toInteger());
            QCOMPARE(qint64(t.begin), e.value("begin").toInteger());
            QCOMPARE(qint64(t.end), e.value("end").toInteger());
            const auto view = GgufFile::tensorBytes(t, data(bytes), std::uint64_t(bytes.size()));
            const QByteArray got(reinterpret_cast<const char*>(view.data()),
                                 qsizetype(view.size()));
            QCOMPARE(got.toHex(), e.value("hex").toString().toLatin1());
        }
        QVERIFY(f.find(QStringLiteral("absent")) == nullptr);
        QVERIFY(f.value(QStringLiteral("absent")) == nullptr);
    }

    // Typed access over the fixture's values: integers of any type that fit, nothing that does
    // not, and messages naming the key, the expected and the found type and value.
    void typedAccess() {
        const auto parsed = parseBytes(readFile(kFixtures + "all_types_v3.gguf"));
        QVERIFY2(parsed.ok(), qPrintable(parsed.errorMessage()));
        const GgufFile& f = parsed.value();
        QCOMPARE(f.u32("test.uint32").value(), 4294967295u);
        QCOMPARE(f.u32("test.int32_small").value(), 4096u);   // INT32 that fits
        QCOMPARE(f.u32("test.uint64_small").value(), 2048u);  // UINT64 that fits
        QCOMPARE(f.i32("test.uint8").value(), 255);
        QCOMPARE(f.i64("test.int64").value(), std::numeric_limits<qint64>::min());
        QCOMPARE(f.u64("test.uint64").value(), kU64Max);
        QCOMPARE(f.f32("test.float32").value(), -1.5f);
        QCOMPARE(f.f32("test.float64").value(), float(std::numbers::pi));
        QCOMPARE(f.f64("test.float32").value(), -1.5);
        QCOMPARE(f.boolean("test.bool_true").value(), true);
        QCOMPARE(f.boolean("test.bool_false").value(), false);
        QCOMPARE(f.str("general.architecture").value(), QStringLiteral("llama"));
        QCOMPARE(f.str("test.empty_string").value(), QString());
        QCOMPARE(f.i32s("test.array.uint8").value(), (std::vector<std::int32_t>{0, 1, 255}));
        QCOMPARE(f.i32s("test.array.int8").value(), (std::vector<std::int32_t>{-128, 0, 127}));
        QCOMPARE(f.f32s("test.array.float32").value(),
                 (std::vector<float>{0.5f, -2.25f, std::numeric_limits<float>::max()}));
        QCOMPARE(f.i32s("test.array.empty").value(), std::vector<std::int32_t>{});
        const GgufStringArray s = f.strings("test.array.string").value();
        QCOMPARE(s.size(), std::size_t(4));
        QCOMPARE(s.at(1), std::string_view());
        QCOMPARE(s.string(2), QStringLiteral("\u2581the"));
        QVERIFY(!f.optionalU32("absent").value().has_value());
        QVERIFY(f.optionalU32("test.uint16").value() == 65535u);
        QVERIFY(!f.optionalStr("absent").value().has_value());
        QVERIFY(!f.optionalStrings("absent").value().has_value());
        QVERIFY(f.optionalF32("llama.attention.layer_norm_rms_epsilon").value() == 1e-5f);
        QVERIFY(f.optionalBool("test.bool_true").value() == true);

        const auto fails = [](const auto& result, const QStringList& parts) {
            QVERIFY(!result.ok());
            expectError(result.errorMessage(), parts);
        };
        fails(f.u32("test.int32"),
              {"\"test.int32\"", "an integer that fits in UINT32 (0 to 4294967295)",
               "found INT32 -2147483648"});
        fails(f.i32("test.uint32"), {"fits in INT32", "found UINT32 4294967295"});
        fails(f.u64("test.int8"), {"\"test.int8\"", "found INT8 -128"});
        fails(f.i64("test.uint64"), {"found UINT64 18446744073709551615"});
        fails(f.u32("test.float32"), {"found FLOAT32 -1.5"});
        fails(f.f32("test.uint8"), {"expected a FLOAT32", "found UINT8 255"});
        fails(f.boolean("test.uint8"), {"expected a BOOL", "found UINT8 255"});
        fails(f.str("test.bool_true"), {"expected a STRING", "found BOOL true"});
        fails(f.strings("test.array.int32"),
              {"expected an ARRAY of STRING", "found ARRAY of 3 INT32"});
        fails(f.f32s("test.array.float64"), {"an ARRAY of FLOAT32", "found ARRAY of 2 FLOAT64"});
        fails(f.i32s("test.array.uint32"), {"integers that fit in INT32", "ARRAY of 3 UINT32"});
        fails(f.i32s("test.array.string"), {"found ARRAY of 4 STRING"});
        fails(f.u32("absent.key"), {"missing metadata key \"absent.key\"", "expected an integer"});
        fails(f.strings("absent.key"), {"missing metadata key", "ARRAY of STRING"});
        fails(f.optionalU32("test.int8"), {"\"test.int8\"", "found INT8 -128"});
        fails(f.optionalStr("test.array.nested"), {"found ARRAY of 4 ARRAY"});
        fails(f.u32("general.name"),
              {"found STRING \"kvscope test fixture: h\u00e9llo \u2581world \U0001f642\""});
    }

    // A FLOAT64 beyond float's range is not a FLOAT32; NaN and infinities stay what they are.
    void floatConversion() {
        Builder b;
        b.kv("big", GgufType::Float64, u64(std::bit_cast<quint64>(1e300)));
        b.kv("inf", GgufType::Float64,
             u64(std::bit_cast<quint64>(std::numeric_limits<double>::infinity())));
        b.kv("nan", GgufType::Float32, u32(0x7FC00000u));
        const auto parsed = parseBytes(b.build());
        QVERIFY2(parsed.ok(), qPrintable(parsed.errorMessage()));
        const GgufFile& f = parsed.value();
        QVERIFY(!f.f32("big").ok());
        expectError(f.f32("big").errorMessage(), {"\"big\"", "found FLOAT64 1e+300"});
        QCOMPARE(f.f64("big").value(), 1e300);
        QVERIFY(std::isinf(f.f32("inf").value()));
        QVERIFY(std::isnan(f.f32("nan").value()));
    }

    void damaged_data() {
        QTest::addColumn<QByteArray>("file");
        QTest::addColumn<QStringList>("parts");
        // Each case is one edit of valid().
        const auto row = [](const char* name, const std::function<void(Builder&)>& edit,
                            const QStringList& parts) {
            Builder b = valid();
            edit(b);
            QTest::newRow(name) << b.build() << parts;
        };
        const auto secondTensor = [](std::vector<quint64> dims, quint32 ggmlType, quint64 offset,
                                     const QByteArray& name = "b") {
            return [=](Builder& b) { b.tensorInfos[1] = tensorInfo(name, dims, ggmlType, offset); };
        };

        // The preamble.
        row("bad magic", [](Builder& b) { b.magic = "GGUG"; },
            {"not a GGUF file", "\"GGUF\"", "47 47 55 47"});
        QTest::newRow("empty file") << QByteArray() << QStringList{"truncated", "the magic"};
        row("version 1", [](Builder& b) { b.version = 1; },
            {"version 1 is not supported", "32 bits", "versions 2 and 3"});
        row("version 4", [](Builder& b) { b.version = 4; },
            {"version 4 is not supported", "versions 2 and 3"});
        row("version 0", [](Builder& b) { b.version = 0; }, {"version 0 is not supported"});
        row("big-endian", [](Builder& b) { b.version = 0x03000000; },
            {"big-endian", "0x03000000", "version 3 byte-swapped"});
        row("big-endian v2", [](Builder& b) { b.version = 0x02000000; },
            {"big-endian", "version 2 byte-swapped"});
        row("tensor count beyond the file", [](Builder& b) { b.tensorCount = 1000000; },
            {"tensor_count is 1000000", "at least 32 bytes", "follow the 24-byte header"});
        row("kv count beyond the file", [](Builder& b) { b.kvCount = kU64Max; },
            {"metadata_kv_count is 18446744073709551615", "at least 13 bytes"});

        // Metadata.
        row("key length beyond the file",
            [](Builder& b) { b.kvs[0] = u64(1000000000) + "general.architecture"; },
            {"the key of metadata pair 0", "string length 1000000000", "past the end of the file"});
        row("key longer than the spec allows",
            [](Builder& b) { b.kv(QByteArray(65536, 'k'), GgufType::UInt8, "\1"); },
            {"the key of metadata pair 2", "string length 65536", "limit of 65535"});
        row("string length beyond the file",
            [](Builder& b) { b.kv("general.name", GgufType::String, u64(kU64Max) + "x"); },
            {"metadata key \"general.name\"", "string length 18446744073709551615",
             "past the end"});
        row("value type that does not exist", [](Builder& b) { b.kv("x", GgufType(13), u32(0)); },
            {"\"x\"", "value type 13", "does not exist"});
        row("value type 2^31", [](Builder& b) { b.kv("x", GgufType(0x80000000u), u32(0)); },
            {"value type 2147483648", "does not exist"});
        row("array of a type that does not exist",
            [](Builder& b) {
                b.kv("tokenizer.ggml.tokens", GgufType::Array, array(GgufType(13), 1, u32(0)));
            },
            {"\"tokenizer.ggml.tokens\"", "array element type 13", "does not exist"});
        row("array length beyond the file",
            [](Builder& b) {
                b.kv("scores", GgufType::Array, array(GgufType::Float32, 1000000000000, u32(0)));
            },
            {"\"scores\"", "array length 1000000000000", "at least 4 bytes per FLOAT32"});
        row("string array length beyond the file",
            [](Builder& b) {
                b.kv("tokens", GgufType::Array, array(GgufType::String, kU64Max / 4, str("a")));
            },
            {"\"tokens\"", "array length 4611686018427387903", "8 bytes per STRING"});
        row("string in an array beyond the file",
            [](Builder& b) {
                b.kv("tokens", GgufType::Array,
                     array(GgufType::String, 2, str("a") + u64(1 << 30) + "b"));
            },
            {"element 1 of metadata key \"tokens\"", "string length 1073741824"});
        row("arrays nested too deep",
            [](Builder& b) {
                b.kv("deep", GgufType::Array, nestedArray(GgufFile::kMaxArrayDepth + 1));
            },
            {"\"deep\"", "nested more than 8 deep"});
        row("array of arrays beyond the file",
            [](Builder& b) {
                b.kv("nested", GgufType::Array, array(GgufType::Array, 1ull << 40, {}));
            },
            {"array length 1099511627776", "12 bytes per ARRAY"});
        row("bool that is neither 0 nor 1",
            [](Builder& b) { b.kv("flag", GgufType::Bool, QByteArray(1, '\x02')); },
            {"\"flag\"", "BOOL value 2", "expected 0 or 1"});
        row("bool array element neither 0 nor 1",
            [](Builder& b) {
                b.kv("flags", GgufType::Array, array(GgufType::Bool, 3, QByteArray("\1\0\xff", 3)));
            },
            {"\"flags\"", "element 2 is BOOL value 255"});
        row("duplicate key",
            [](Builder& b) { b.kv("llama.block_count", GgufType::UInt32, u32(3)); },
            {"\"llama.block_count\" appears twice", "pairs 1 and 2"});
        for (quint32 a : {0u, 48u, 1u << 21})
            row(qPrintable(QStringLiteral("alignment %1").arg(a)),
                [a](Builder& b) { b.kv("general.alignment", GgufType::UInt32, u32(a)); },
                {"\"general.alignment\"", "expected a power of two from 1 to 1048576",
                 QStringLiteral("found UINT32 %1").arg(a)});
        row("alignment as a string",
            [](Builder& b) { b.kv("general.alignment", GgufType::String, str("32")); },
            {"\"general.alignment\"", "found STRING \"32\""});
        row("negative alignment",
            [](Builder& b) { b.kv("general.alignment", GgufType::Int32, u32(quint32(-32))); },
            {"found INT32 -32"});

        // Tensor infos and the data section.
        row("tensor past the end of the data", secondTensor({32}, kQ8_0, 64),
            {"tensor \"b\" (34 bytes at offset 64", "runs past the end of the file",
             "holds 96 bytes"});
        row("tensor far larger than the file",
            [](Builder& b) {
                b.tensorInfos[0] = tensorInfo("a", {4, 1000000}, kF32, 0);
            },
            {"tensor \"a\" (16000000 bytes"});
        row("data section one byte short", [](Builder& b) { b.data = QByteArray(65, '\0'); },
            {"tensor \"b\"", "holds 65 bytes"});
        row("no data section", [](Builder& b) { b.data = QByteArray(); },
            {"tensor \"a\"", "runs past the end of the file", "holds 0 bytes"});
        row("tensors at the same offset", secondTensor({8}, kF32, 0),
            {"tensors \"a\" (data section bytes 0 to 32) and \"b\" (bytes 0 to 32) overlap"});
        row("overlapping tensors",
            [](Builder& b) { b.tensorInfos[0] = tensorInfo("a", {16}, kF32, 0); },
            {"tensors \"a\" (data section bytes 0 to 64) and \"b\" (bytes 32 to 66) overlap"});
        row("misaligned offset", secondTensor({32}, kQ8_0, 48),
            {"tensor \"b\": offset 48", "not a multiple of the alignment 32"});
        row("dimension product overflows", secondTensor({1ull << 32, 1ull << 32}, kF32, 32),
            {"tensor \"b\" (F32, dims [4294967296, 4294967296])", "overflows 2^63-1"});
        row("dimension beyond int64", secondTensor({1ull << 63}, kF32, 32),
            {"dims [9223372036854775808]", "overflows 2^63-1"});
        row("byte size overflows", secondTensor({1ull << 62}, kF32, 32),
            {"dims [4611686018427387904]", "byte size overflows 2^64"});
        row("zero dimension", secondTensor({32, 0}, kF32, 32),
            {"tensor \"b\" (F32, dims [32, 0])", "dimension 1 is 0"});
        row("n_dims 0", secondTensor({}, kF32, 32), {"tensor \"b\": n_dims is 0; expected 1 to 4"});
        row("n_dims 5", secondTensor({1, 1, 1, 1, 1}, kF32, 32), {"n_dims is 5"});
        row("row not whole Q8_0 blocks", secondTensor({33}, kQ8_0, 32),
            {"tensor \"b\" (Q8_0, dims [33])", "row length ne0 = 33", "Q8_0's block size 32"});
        row("row not whole Q4_K blocks", secondTensor({128, 2}, kQ4_K, 32),
            {"ne0 = 128", "Q4_K's block size 256"});
        row("retired type id", secondTensor({32}, 4, 32),
            {"tensor \"b\" has type id 4, which is not a ggml type"});
        row("unknown type id", secondTensor({32}, 99, 32), {"type id 99"});
        row("unsupported type", secondTensor({256}, kIQ2_XXS, 32, "blk.0.attn_q.weight"),
            {"tensor \"blk.0.attn_q.weight\" has type IQ2_XXS, which kvscope does not support",
             "supported: F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, "
             "BF16"});
        row("duplicate tensor name", secondTensor({8}, kF16, 32, "a"),
            {"tensor \"a\" appears twice in the tensor infos (0 and 1)"});
        row("tensor name longer than 64 bytes", secondTensor({8}, kF32, 32, QByteArray(65, 'n')),
            {"the name of tensor info 1", "string length 65", "limit of 64"});
        row("tensor name beyond the file",
            [](Builder& b) { b.tensorInfos[1] = u64(1ull << 40) + "b"; },
            {"the name of tensor info 1", "past the end of the file"});
    }

    // Each damaged file is refused with a message naming the file and what is wrong, and the
    // header-only parse gives the same answer.
    void damaged() {
        QFETCH(QByteArray, file);
        QFETCH(QStringList, parts);
        const auto result = parseBytes(file);
        QVERIFY2(!result.ok(), "a damaged file was accepted");
        expectError(result.errorMessage(), parts);
    }

    // The builder's own valid file and its boundary cases load: the damaged rows above are one
    // edit away from these.
    void validEdges() {
        PARSE_OK(base, valid().build());
        QCOMPARE(base.tensors().size(), std::size_t(2));
        QCOMPARE(base.find("b")->end - base.find("b")->begin, std::uint64_t(34));
        QCOMPARE(base.find("a")->rowCount(), std::int64_t(2));
        QCOMPARE(base.find("a")->elementCount(), std::int64_t(8));

        Builder b = valid();
        b.kv("deep", GgufType::Array, nestedArray(GgufFile::kMaxArrayDepth));
        PARSE_OK(deep, b.build());
        const GgufValue* v = deep.value("deep");
        for (int d = 1; d < GgufFile::kMaxArrayDepth; ++d) v = &v->items().at(0);
        QVERIFY(v->integerAt<int>(0) == 7);

        for (quint32 a : {1u, 8u, 64u, GgufFile::kMaxAlignment}) {
            const quint32 offset = std::max(a, 32u);  // after "a"'s 32 bytes
            b = valid();
            b.kv("general.alignment", GgufType::UInt64, u64(a));  // not UINT32: fits, accepted
            b.alignment = a;
            b.tensorInfos[1] = tensorInfo("b", {32}, kQ8_0, offset);
            b.data = QByteArray(offset + 34, '\0');
            PARSE_OK(f, b.build());
            QCOMPARE(f.alignment(), a);
            QCOMPARE(f.dataOffset() % a, std::uint64_t(0));
            QVERIFY(f.dataOffset() < std::uint64_t(b.header().size()) + a);
            QCOMPARE(f.find("b")->begin, f.dataOffset() + offset);
        }

        b = valid();
        b.tensorInfos[0] = tensorInfo("a", {1, 1, 1, 1}, kF32, 0);
        PARSE_OK(fourDims, b.build());
        QCOMPARE(fourDims.find("a")->dims, (std::vector<std::int64_t>{1, 1, 1, 1}));

        // Gaps between tensors and bytes after the last one are allowed.
        b = valid();
        b.tensorInfos[1] = tensorInfo("b", {32}, kQ8_0, 64);
        b.data += QByteArray(100, '\0');
        PARSE_OK(gaps, b.build());
        QCOMPARE(gaps.find("b")->end - gaps.dataOffset(), std::uint64_t(98));

        // No tensors: the file may end where the metadata does, without padding.
        b = Builder();
        b.kv("tokenizer.ggml.model", GgufType::String, str("gpt2"));
        PARSE_OK(bare, b.header());
        QVERIFY(bare.tensors().empty());
    }

    // A file cut at every byte: never a crash, always an error naming the file, until the last
    // tensor's end; the header-only parse asks for more bytes exactly until the tensor infos end.
    void truncatedAtEveryByte_data() {
        QTest::addColumn<QString>("fixture");
        for (const char* f :
             {"all_types_v3.gguf", "default_alignment_v2.gguf", "vocab_only_v3.gguf"})
            QTest::newRow(f) << QString::fromLatin1(f);
    }
    void truncatedAtEveryByte() {
        QFETCH(QString, fixture);
        const QByteArray bytes = readFile(kFixtures + fixture);
        const auto full = parseBytes(bytes);
        QVERIFY(full.ok());
        std::uint64_t dataEnd = 0;
        for (const GgufTensor& t : full.value().tensors()) dataEnd = std::max(dataEnd, t.end);
        const auto size = std::uint64_t(bytes.size());

        std::optional<std::uint64_t> headerEnd;  // the first prefix parseHeader() accepts
        for (std::uint64_t k = 0; k <= size; ++k) {
            std::uint64_t needed = 0;
            const auto head = GgufFile::parseHeader(data(bytes), k, size, kFile, &needed);
            if (head.ok()) {
                if (!headerEnd) headerEnd = k;
                QCOMPARE(needed, std::uint64_t(0));
                QCOMPARE(head.value().tensors().size(), full.value().tensors().size());
            } else {
                QVERIFY2(!headerEnd, qPrintable(head.errorMessage()));  // never fails after
                QVERIFY2(needed > k && needed <= size, qPrintable(QString::number(needed)));
                expectError(head.errorMessage(), {"only the first"});
            }
            if (k == size) break;
            const QByteArray cut = bytes.left(qsizetype(k));
            const auto r = parseBytes(cut);
            if (dataEnd > 0 ? k >= dataEnd : headerEnd.has_value()) {
                QVERIFY2(r.ok(),
                         qPrintable(QStringLiteral("cut at %1: ").arg(k) + r.errorMessage()));
            } else {
                QVERIFY2(!r.ok(), qPrintable(QStringLiteral("cut at %1 accepted").arg(k)));
                expectError(r.errorMessage(), {});
                if (QTest::currentTestFailed()) return;
            }
        }
        QVERIFY(headerEnd.has_value());
        QVERIFY(*headerEnd <= full.value().dataOffset());
        QVERIFY(*headerEnd + full.value().alignment() > full.value().dataOffset());
    }

    // readHeader() reads a prefix, grows it as parseHeader() asks, and never reads the data.
    void readHeaderFromDevice() {
        const QByteArray bytes = readFile(kFixtures + "all_types_v3.gguf");
        QBuffer buffer;
        buffer.setData(bytes);
        QVERIFY(buffer.open(QIODevice::ReadOnly));
        const auto r = GgufFile::readHeader(buffer, kFile);
        QVERIFY2(r.ok(), qPrintable(r.errorMessage()));
        QCOMPARE(r.value().tensors().size(), std::size_t(6));
        QCOMPARE(r.value().find("blk.0.ffn_down.weight")->begin,
                 parseBytes(bytes).value().find("blk.0.ffn_down.weight")->begin);

        // A damaged file's message is the same as from parse().
        QByteArray bad = bytes;
        bad[4] = 1;
        QBuffer badBuffer;
        badBuffer.setData(bad);
        QVERIFY(badBuffer.open(QIODevice::ReadOnly));
        QCOMPARE(GgufFile::readHeader(badBuffer, kFile).errorMessage(),
                 parseBytes(bad).errorMessage());
    }

    // A 150k-entry vocabulary (about 2.4 MB of header, more than readHeader()'s first read):
    // every string, score and type where it was written. The time is printed, not asserted.
    void bigVocabulary() {
        constexpr int n = 150000;
        const QByteArray bytes = vocabularyFile(n);
        QElapsedTimer timer;
        timer.start();
        const auto parsed = parseBytes(bytes);
        const qint64 parseNs = timer.nsecsElapsed();
        QVERIFY2(parsed.ok(), qPrintable(parsed.errorMessage()));
        QBuffer buffer;
        buffer.setData(bytes);
        QVERIFY(buffer.open(QIODevice::ReadOnly));
        timer.restart();
        const auto read = GgufFile::readHeader(buffer, kFile);
        const qint64 readNs = timer.nsecsElapsed();
        QVERIFY2(read.ok(), qPrintable(read.errorMessage()));
        for (const GgufFile* f : {&parsed.value(), &read.value()}) {
            const GgufStringArray tokens = f->strings("tokenizer.ggml.tokens").value();
            QCOMPARE(tokens.size(), std::size_t(n));
            for (int i : {0, 1, 9999, 123456, n - 1})
                QCOMPARE(tokens.string(std::size_t(i)), QStringLiteral("tok%1").arg(i));
            const std::vector<float> scores = f->f32s("tokenizer.ggml.scores").value();
            QCOMPARE(scores.size(), std::size_t(n));
            QCOMPARE(scores[777], -388.5f);
            const std::vector<std::int32_t> types = f->i32s("tokenizer.ggml.token_type").value();
            QCOMPARE(types[2], 3);
            QCOMPARE(types[3], 1);
        }
        qInfo("%d-token vocabulary, %lld bytes: parse %.1f ms, readHeader from a buffer %.1f ms", n,
              qint64(bytes.size()), parseNs / 1e6, readNs / 1e6);
    }

    void typeNamesAndDescriptions() {
        QCOMPARE(ggufTypeName(GgufType::UInt8), QStringLiteral("UINT8"));
        QCOMPARE(ggufTypeName(GgufType::Float64), QStringLiteral("FLOAT64"));
        QCOMPARE(ggufTypeName(GgufType(13)), QStringLiteral("type 13"));
        Builder b;
        b.kv("s", GgufType::String, str(QByteArray(200, 'x')));
        b.kv("i", GgufType::Int16, le(quint16(-2), 2));
        const auto f = parseBytes(b.build());
        QVERIFY(f.ok());
        QCOMPARE(f.value().value("i")->describe(), QStringLiteral("INT16 -2"));
        // Long strings are clipped in messages.
        QCOMPARE(f.value().value("s")->describe(),
                 QStringLiteral("STRING \"%1...\"").arg(QString(80, u'x')));
    }
};

QTEST_GUILESS_MAIN(TestGguf)
#include "test_gguf.moc"
