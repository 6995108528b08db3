// The files are generated here rather than committed, so each bad case is one visible edit of a
// valid header and the expected numbers in the messages follow from the test itself.

#include "formats/safetensors.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

using namespace kvscope;

namespace {

const QString kFile = QStringLiteral("model.safetensors");

struct TensorSpec {
    QString name;
    QString dtype;
    QList<qint64> shape;
    QByteArray data;
};

QByteArray withPrefix(std::uint64_t headerSize, const QByteArray& rest) {
    QByteArray out(8, '\0');
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((headerSize >> (8 * i)) & 0xFF);
    return out + rest;
}

QByteArray rawFile(const QByteArray& header, const QByteArray& data) {
    return withPrefix(static_cast<std::uint64_t>(header.size()), header + data);
}

// Lays the tensors out back to back in list order. headerPad appends spaces to the JSON (the
// spec's own padding mechanism), which moves where the data starts.
QByteArray writeSafetensors(const std::vector<TensorSpec>& tensors,
                            const QMap<QString, QString>& metadata = {}, int headerPad = 0) {
    QJsonObject root;
    QByteArray data;
    for (const TensorSpec& t : tensors) {
        QJsonArray shape;
        for (qint64 d : t.shape) shape.append(d);
        const qint64 begin = data.size();
        data += t.data;
        root.insert(t.name, QJsonObject{{"dtype", t.dtype},
                                        {"shape", shape},
                                        {"data_offsets", QJsonArray{begin, data.size()}}});
    }
    if (!metadata.isEmpty()) {
        QJsonObject meta;
        for (auto it = metadata.begin(); it != metadata.end(); ++it) meta.insert(it.key(), *it);
        root.insert("__metadata__", meta);
    }
    QByteArray header = QJsonDocument(root).toJson(QJsonDocument::Compact);
    header.append(headerPad, ' ');
    return rawFile(header, data);
}

Result<SafetensorsFile> parseBytes(const QByteArray& bytes, const QString& name = kFile) {
    return SafetensorsFile::parse(reinterpret_cast<const std::uint8_t*>(bytes.constData()),
                                  static_cast<std::uint64_t>(bytes.size()), name);
}

QByteArray floatBytes(const std::vector<float>& values) {
    QByteArray out(static_cast<qsizetype>(values.size() * 4), '\0');
    for (std::size_t i = 0; i < values.size(); ++i) {
        const auto bits = std::bit_cast<std::uint32_t>(values[i]);
        for (int b = 0; b < 4; ++b)
            out[static_cast<qsizetype>(4 * i) + b] = static_cast<char>((bits >> (8 * b)) & 0xFF);
    }
    return out;
}

QByteArray u16Bytes(const std::vector<std::uint16_t>& values) {
    QByteArray out;
    for (std::uint16_t v : values) {
        out.append(static_cast<char>(v & 0xFF));
        out.append(static_cast<char>(v >> 8));
    }
    return out;
}

std::vector<float> readTensor(const QByteArray& bytes, const TensorInfo& t) {
    std::vector<float> out(static_cast<std::size_t>(t.elementCount()));
    convertToFloat32(reinterpret_cast<const std::uint8_t*>(bytes.constData()) + t.begin, t.dtype,
                     t.elementCount(), out.data());
    return out;
}

bool sameBits(float a, float b) {
    return std::bit_cast<std::uint32_t>(a) == std::bit_cast<std::uint32_t>(b);
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

// A one-tensor header with the entry's fields spliced in as raw JSON text.
QByteArray entryHeader(const QByteArray& name, const QByteArray& fields) {
    return "{\"" + name + "\":{" + fields + "}}";
}

}  // namespace

class TestSafetensors : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void rejectsFileShorterThanPrefix_data();
    void rejectsFileShorterThanPrefix();
    void rejectsHeaderSizeBeyondFile();
    void rejectsAbsurdHeaderSize_data();
    void rejectsAbsurdHeaderSize();
    void rejectsZeroHeaderSize();
    void rejectsMalformedHeader_data();
    void rejectsMalformedHeader();
    void rejectsUnsupportedDtype_data();
    void rejectsUnsupportedDtype();
    void rejectsBadShape_data();
    void rejectsBadShape();
    void rejectsBadDataOffsets_data();
    void rejectsBadDataOffsets();
    void rejectsOverlappingTensors_data();
    void rejectsOverlappingTensors();
    void rejectsDuplicateKeys_data();
    void rejectsDuplicateKeys();
    void rejectsBadMetadata_data();
    void rejectsBadMetadata();

    void roundTripsF32();
    void roundTripsF16();
    void roundTripsBF16();
    void halfToFloatKnownValues_data();
    void halfToFloatKnownValues();
    void halfToFloatMatchesArithmeticDefinition();
    void bfloat16ToFloatKnownValues_data();
    void bfloat16ToFloatKnownValues();
    void readsMetadata();
    void convertsUnalignedData();
    void acceptsEmptyAndScalarTensors();
    void acceptsGapsBetweenTensors();
    void ordersTensorsByOffsetAndFindsByName();
    void dtypeNamesAndSizes();
    void survivesMutatedFiles();
};

void TestSafetensors::rejectsFileShorterThanPrefix_data() {
    QTest::addColumn<int>("size");
    for (int n = 0; n < 8; ++n) QTest::addRow("%d bytes", n) << n;
}

void TestSafetensors::rejectsFileShorterThanPrefix() {
    QFETCH(int, size);
    expectFailure(QByteArray(size, '\x01'),
                  {QStringLiteral("file is %1 bytes").arg(size), QStringLiteral("8-byte")});
}

void TestSafetensors::rejectsHeaderSizeBeyondFile() {
    // Claims 100 header bytes but only 10 follow the prefix.
    expectFailure(withPrefix(100, QByteArray(10, ' ')),
                  {QStringLiteral("header size 100 bytes"), QStringLiteral("the 10 bytes"),
                   QStringLiteral("file is 18 bytes")});
}

void TestSafetensors::rejectsAbsurdHeaderSize_data() {
    QTest::addColumn<quint64>("headerSize");
    QTest::addRow("just over 100 MB") << quint64(100ull * 1024 * 1024 + 1);
    QTest::addRow("2^40") << quint64(1ull << 40);
    // Would wrap 8 + N to 7 if the check added before comparing.
    QTest::addRow("u64 max") << std::numeric_limits<quint64>::max();
}

void TestSafetensors::rejectsAbsurdHeaderSize() {
    QFETCH(quint64, headerSize);
    expectFailure(withPrefix(headerSize, QByteArray(64, ' ')),
                  {QStringLiteral("header size %1 bytes").arg(headerSize),
                   QStringLiteral("100 MB limit (104857600 bytes)")});
}

void TestSafetensors::rejectsZeroHeaderSize() {
    expectFailure(withPrefix(0, QByteArray(16, '\0')), {QStringLiteral("header size is 0")});
}

void TestSafetensors::rejectsMalformedHeader_data() {
    QTest::addColumn<QByteArray>("header");
    QTest::addColumn<QStringList>("fragments");
    const QByteArray dtype = "\"dtype\":\"F32\"";
    const QByteArray shape = "\"shape\":[2]";
    const QByteArray offsets = "\"data_offsets\":[0,8]";

    QTest::addRow("not JSON") << QByteArray("{\"w\": ")
                              << QStringList{"header is not valid JSON", "of 6"};
    QTest::addRow("trailing garbage") << QByteArray("{}x") << QStringList{"not valid JSON"};
    QTest::addRow("array") << QByteArray("[1,2]")
                           << QStringList{"header: expected a JSON object, found an array"};
    QTest::addRow("entry not object")
        << QByteArray("{\"w\":5}")
        << QStringList{"tensor \"w\"", "expected an object with dtype, shape and data_offsets",
                       "found 5"};
    QTest::addRow("entry is array")
        << QByteArray("{\"w\":[0,8]}") << QStringList{"tensor \"w\"", "found [0,8]"};
    QTest::addRow("missing dtype") << entryHeader("w", shape + "," + offsets)
                                   << QStringList{"tensor \"w\"", "missing \"dtype\""};
    QTest::addRow("dtype number") << entryHeader("w", "\"dtype\":32," + shape + "," + offsets)
                                  << QStringList{"tensor \"w\"", "\"dtype\": expected a string",
                                                 "found 32"};
    QTest::addRow("missing shape") << entryHeader("w", dtype + "," + offsets)
                                   << QStringList{"tensor \"w\"", "missing \"shape\""};
    QTest::addRow("shape string") << entryHeader("w", dtype + ",\"shape\":\"2\"," + offsets)
                                  << QStringList{"tensor \"w\"", "\"shape\": expected an array",
                                                 "found \"2\""};
    QTest::addRow("shape null") << entryHeader("w", dtype + ",\"shape\":null," + offsets)
                                << QStringList{"tensor \"w\"", "\"shape\"", "found null"};
    QTest::addRow("missing data_offsets")
        << entryHeader("w", dtype + "," + shape)
        << QStringList{"tensor \"w\"", "missing \"data_offsets\""};
    QTest::addRow("data_offsets object")
        << entryHeader("w", dtype + "," + shape + ",\"data_offsets\":{\"begin\":0}")
        << QStringList{"tensor \"w\"", "\"data_offsets\": expected [begin, end]",
                       "found {\"begin\":0}"};
}

void TestSafetensors::rejectsMalformedHeader() {
    QFETCH(QByteArray, header);
    QFETCH(QStringList, fragments);
    expectFailure(rawFile(header, QByteArray(8, '\0')), fragments);
}

void TestSafetensors::rejectsUnsupportedDtype_data() {
    QTest::addColumn<QByteArray>("dtype");
    QTest::addColumn<QStringList>("fragments");
    for (const char* spec : {"I64", "F64", "U8", "F8_E4M3"})
        QTest::addRow("%s", spec) << QByteArray(spec)
                                  << QStringList{"tensor \"w\"", "\"dtype\"",
                                                 QString::fromLatin1(spec) +
                                                     " is a safetensors type but not supported",
                                                 "supported: F32, F16, BF16"};
    QTest::addRow("unknown") << QByteArray("Q4_K")
                             << QStringList{"tensor \"w\"", "\"dtype\"",
                                            "expected one of F32, F16, BF16",
                                            "unknown type \"Q4_K\""};
    QTest::addRow("lower case") << QByteArray("f32") << QStringList{"unknown type \"f32\""};
}

void TestSafetensors::rejectsUnsupportedDtype() {
    QFETCH(QByteArray, dtype);
    QFETCH(QStringList, fragments);
    const QByteArray header =
        entryHeader("w", "\"dtype\":\"" + dtype + "\",\"shape\":[2],\"data_offsets\":[0,8]");
    expectFailure(rawFile(header, QByteArray(8, '\0')), fragments);
}

void TestSafetensors::rejectsBadShape_data() {
    QTest::addColumn<QByteArray>("shape");
    QTest::addColumn<QStringList>("fragments");
    QTest::addRow("negative") << QByteArray("[-1,4]")
                              << QStringList{"tensor \"w\"", "\"shape\"[0]",
                                             "expected a non-negative integer", "found -1"};
    QTest::addRow("fraction") << QByteArray("[4,2.5]") << QStringList{"\"shape\"[1]", "found 2.5"};
    QTest::addRow("string dim") << QByteArray("[\"4\"]")
                                << QStringList{"\"shape\"[0]", "found \"4\""};
    QTest::addRow("beyond int64") << QByteArray("[1e30]")
                                  << QStringList{"\"shape\"[0]", "found 1e+30"};
    QTest::addRow("product overflows")
        << QByteArray("[4294967296,4294967296]")
        << QStringList{"tensor \"w\"", "shape [4294967296, 4294967296]", "more than 2^63-1"};
    QTest::addRow("exceeds data") << QByteArray("[1000]")
                                  << QStringList{"tensor \"w\"", "shape [1000] of F32",
                                                 "needs 4000 bytes", "holds only 16"};
    // count fits int64 but count * 4 does not fit u64.
    QTest::addRow("bytes overflow") << QByteArray("[9223372036854775807]")
                                    << QStringList{"shape [9223372036854775807] of F32",
                                                   "needs more than 2^64 bytes", "holds only 16"};
}

void TestSafetensors::rejectsBadShape() {
    QFETCH(QByteArray, shape);
    QFETCH(QStringList, fragments);
    const QByteArray header =
        entryHeader("w", "\"dtype\":\"F32\",\"shape\":" + shape + ",\"data_offsets\":[0,16]");
    expectFailure(rawFile(header, QByteArray(16, '\0')), fragments);
}

void TestSafetensors::rejectsBadDataOffsets_data() {
    QTest::addColumn<QByteArray>("name");
    QTest::addColumn<QByteArray>("shape");
    QTest::addColumn<QByteArray>("offsets");
    QTest::addColumn<int>("dataSize");
    QTest::addColumn<QStringList>("fragments");
    const QString expected = QStringLiteral("\"data_offsets\": expected [begin, end]");
    QTest::addRow("number") << QByteArray("w") << QByteArray("[1]") << QByteArray("4") << 8
                            << QStringList{"tensor \"w\"", expected, "found 4"};
    QTest::addRow("one element") << QByteArray("w") << QByteArray("[1]") << QByteArray("[0]") << 8
                                 << QStringList{"tensor \"w\"", expected, "found [0]"};
    QTest::addRow("three elements") << QByteArray("w") << QByteArray("[1]") << QByteArray("[0,4,8]")
                                    << 8 << QStringList{expected, "found [0,4,8]"};
    QTest::addRow("negative") << QByteArray("w") << QByteArray("[1]") << QByteArray("[-4,0]") << 8
                              << QStringList{expected, "found [-4,0]"};
    QTest::addRow("fraction") << QByteArray("w") << QByteArray("[1]") << QByteArray("[0,4.5]") << 8
                              << QStringList{expected, "found [0,4.5]"};
    QTest::addRow("string") << QByteArray("w") << QByteArray("[1]") << QByteArray("[\"0\",4]") << 8
                            << QStringList{expected, "found [\"0\",4]"};
    QTest::addRow("begin after end")
        << QByteArray("w") << QByteArray("[1]") << QByteArray("[8,4]") << 8
        << QStringList{"tensor \"w\"", "data_offsets [8, 4]", "begin 8 is after end 4"};
    QTest::addRow("end beyond data")
        << QByteArray("w") << QByteArray("[1]") << QByteArray("[12,16]") << 8
        << QStringList{"tensor \"w\"", "data_offsets [12, 16]",
                       "end 16 is beyond the data buffer of 8 bytes"};
    QTest::addRow("end near u64 max")
        << QByteArray("w") << QByteArray("[0]")
        << QByteArray("[9223372036854775807,9223372036854775807]") << 8
        << QStringList{"end 9223372036854775807 is beyond the data buffer of 8 bytes"};
    QTest::addRow("length too short")
        << QByteArray("h.0.attn.c_attn.weight") << QByteArray("[64,192]") << QByteArray("[0,4096]")
        << 49152
        << QStringList{
               "model.safetensors: tensor \"h.0.attn.c_attn.weight\": data_offsets "
               "[0, 4096] hold 4096 bytes but shape [64, 192] of F32 needs 49152"};
    QTest::addRow("length too long")
        << QByteArray("w") << QByteArray("[2]") << QByteArray("[0,12]") << 16
        << QStringList{"tensor \"w\"", "data_offsets [0, 12] hold 12 bytes",
                       "shape [2] of F32 needs 8"};
    QTest::addRow("empty tensor with bytes")
        << QByteArray("w") << QByteArray("[0,3]") << QByteArray("[0,4]") << 8
        << QStringList{"data_offsets [0, 4] hold 4 bytes", "shape [0, 3] of F32 needs 0"};
}

void TestSafetensors::rejectsBadDataOffsets() {
    QFETCH(QByteArray, name);
    QFETCH(QByteArray, shape);
    QFETCH(QByteArray, offsets);
    QFETCH(int, dataSize);
    QFETCH(QStringList, fragments);
    const QByteArray header =
        entryHeader(name, "\"dtype\":\"F32\",\"shape\":" + shape + ",\"data_offsets\":" + offsets);
    expectFailure(rawFile(header, QByteArray(dataSize, '\0')), fragments);
}

void TestSafetensors::rejectsOverlappingTensors_data() {
    QTest::addColumn<QByteArray>("header");
    QTest::addColumn<QStringList>("fragments");
    const auto entry = [](const char* name, int begin, int end) {
        return QByteArray("\"") + name + "\":{\"dtype\":\"F32\",\"shape\":[" +
               QByteArray::number((end - begin) / 4) + "],\"data_offsets\":[" +
               QByteArray::number(begin) + "," + QByteArray::number(end) + "]}";
    };
    QTest::addRow("partial") << "{" + entry("a", 0, 16) + "," + entry("b", 8, 24) + "}"
                             << QStringList{
                                    "tensors \"a\" data_offsets [0, 16] and \"b\" "
                                    "data_offsets [8, 24] overlap"};
    QTest::addRow("identical") << "{" + entry("a", 4, 12) + "," + entry("b", 4, 12) + "}"
                               << QStringList{"\"a\" data_offsets [4, 12]",
                                              "\"b\" data_offsets [4, 12] overlap"};
    // "z" contains "m" entirely, and the names sort in the opposite order to the offsets.
    QTest::addRow("nested") << "{" + entry("m", 8, 12) + "," + entry("z", 0, 24) + "}"
                            << QStringList{"\"z\" data_offsets [0, 24]",
                                           "\"m\" data_offsets [8, 12] overlap"};
}

void TestSafetensors::rejectsOverlappingTensors() {
    QFETCH(QByteArray, header);
    QFETCH(QStringList, fragments);
    expectFailure(rawFile(header, QByteArray(24, '\0')), fragments);
}

void TestSafetensors::rejectsDuplicateKeys_data() {
    QTest::addColumn<QByteArray>("header");
    QTest::addColumn<QStringList>("fragments");
    const QByteArray body = "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}";
    const QByteArray other = "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}";
    QTest::addRow("tensor name") << "{\"w\":" + body + ",\"w\":" + other + "}"
                                 << QStringList{"key \"w\" appears more than once"};
    QTest::addRow("escaped spelling") << "{\"w\":" + body + ",\"\\u0077\":" + other + "}"
                                      << QStringList{"key \"w\" appears more than once"};
    QTest::addRow("field in entry")
        << QByteArray(
               "{\"w\":{\"dtype\":\"F32\",\"dtype\":\"F16\",\"shape\":[1],"
               "\"data_offsets\":[0,4]}}")
        << QStringList{"key \"dtype\" appears more than once"};
}

void TestSafetensors::rejectsDuplicateKeys() {
    QFETCH(QByteArray, header);
    QFETCH(QStringList, fragments);
    expectFailure(rawFile(header, QByteArray(8, '\0')), fragments);
}

void TestSafetensors::rejectsBadMetadata_data() {
    QTest::addColumn<QByteArray>("metadata");
    QTest::addColumn<QStringList>("fragments");
    QTest::addRow("not object") << QByteArray("\"pt\"")
                                << QStringList{"\"__metadata__\": expected an object",
                                               "found \"pt\""};
    QTest::addRow("number value") << QByteArray("{\"format\":\"pt\",\"step\":3}")
                                  << QStringList{"\"__metadata__\" key \"step\"",
                                                 "expected a string value", "found 3"};
}

void TestSafetensors::rejectsBadMetadata() {
    QFETCH(QByteArray, metadata);
    QFETCH(QStringList, fragments);
    expectFailure(rawFile("{\"__metadata__\":" + metadata + "}", QByteArray()), fragments);
}

void TestSafetensors::roundTripsF32() {
    const std::vector<float> values = {1.5f,
                                       -0.0f,
                                       std::numeric_limits<float>::max(),
                                       std::numeric_limits<float>::denorm_min(),
                                       -std::numeric_limits<float>::infinity(),
                                       std::numeric_limits<float>::quiet_NaN()};
    const QByteArray bytes = writeSafetensors({{"w", "F32", {2, 3}, floatBytes(values)}});
    const auto result = parseBytes(bytes);
    QVERIFY2(result.ok(), qPrintable(result.errorMessage()));
    const TensorInfo* t = result.value().find("w");
    QVERIFY(t);
    QCOMPARE(t->dtype, DType::F32);
    QCOMPARE(t->shape, (std::vector<std::int64_t>{2, 3}));
    QCOMPARE(t->elementCount(), 6);
    QCOMPARE(t->end - t->begin, 24u);
    QCOMPARE(t->end, static_cast<std::uint64_t>(bytes.size()));
    const auto out = readTensor(bytes, *t);
    for (std::size_t i = 0; i < values.size(); ++i)
        QVERIFY2(sameBits(out[i], values[i]), qPrintable(QString::number(i)));
}

void TestSafetensors::roundTripsF16() {
    const std::vector<std::uint16_t> bits = {0x3C00, 0xC000, 0x7BFF, 0x0001, 0x7C00, 0x7E00};
    const QByteArray bytes = writeSafetensors({{"h", "F16", {6}, u16Bytes(bits)}});
    const auto result = parseBytes(bytes);
    QVERIFY2(result.ok(), qPrintable(result.errorMessage()));
    const TensorInfo* t = result.value().find("h");
    QVERIFY(t);
    QCOMPARE(t->dtype, DType::F16);
    const auto out = readTensor(bytes, *t);
    QCOMPARE(out[0], 1.0f);
    QCOMPARE(out[1], -2.0f);
    QCOMPARE(out[2], 65504.0f);
    QCOMPARE(out[3], 5.960464477539063e-08f);
    QVERIFY(std::isinf(out[4]) && out[4] > 0);
    QVERIFY(std::isnan(out[5]));
}

void TestSafetensors::roundTripsBF16() {
    const std::vector<std::uint16_t> bits = {0x3F80, 0xC000, 0x3E80, 0xFF80, 0x7FC0};
    const QByteArray bytes = writeSafetensors({{"b", "BF16", {5}, u16Bytes(bits)}});
    const auto result = parseBytes(bytes);
    QVERIFY2(result.ok(), qPrintable(result.errorMessage()));
    const TensorInfo* t = result.value().find("b");
    QVERIFY(t);
    QCOMPARE(t->dtype, DType::BF16);
    const auto out = readTensor(bytes, *t);
    QCOMPARE(out[0], 1.0f);
    QCOMPARE(out[1], -2.0f);
    QCOMPARE(out[2], 0.25f);
    QVERIFY(std::isinf(out[3]) && out[3] < 0);
    QVERIFY(std::isnan(out[4]));
}

void TestSafetensors::halfToFloatKnownValues_data() {
    QTest::addColumn<quint16>("bits");
    QTest::addColumn<float>("expected");
    const float inf = std::numeric_limits<float>::infinity();
    QTest::addRow("1") << quint16(0x3C00) << 1.0f;
    QTest::addRow("-2") << quint16(0xC000) << -2.0f;
    QTest::addRow("max") << quint16(0x7BFF) << 65504.0f;
    QTest::addRow("smallest subnormal") << quint16(0x0001) << 5.960464477539063e-08f;
    QTest::addRow("largest subnormal") << quint16(0x03FF) << 6.097555160522461e-05f;
    QTest::addRow("smallest normal") << quint16(0x0400) << 6.103515625e-05f;
    QTest::addRow("negative subnormal") << quint16(0x8200) << -3.0517578125e-05f;
    QTest::addRow("one third") << quint16(0x3555) << 0.333251953125f;
    QTest::addRow("+0") << quint16(0x0000) << 0.0f;
    QTest::addRow("-0") << quint16(0x8000) << -0.0f;
    QTest::addRow("+inf") << quint16(0x7C00) << inf;
    QTest::addRow("-inf") << quint16(0xFC00) << -inf;
}

void TestSafetensors::halfToFloatKnownValues() {
    QFETCH(quint16, bits);
    QFETCH(float, expected);
    // Bitwise, so -0 and +0 are told apart.
    QVERIFY2(sameBits(halfToFloat(bits), expected),
             qPrintable(QString::number(halfToFloat(bits), 'g', 17)));
}

// Independent of the bit-shuffling implementation: sign * 2^(e-15) * (1 + m/1024) evaluated in
// double, for all 65536 encodings.
void TestSafetensors::halfToFloatMatchesArithmeticDefinition() {
    for (std::uint32_t h = 0; h <= 0xFFFF; ++h) {
        const int sign = (h & 0x8000) ? -1 : 1;
        const int e = (h >> 10) & 0x1F;
        const int m = h & 0x3FF;
        const float got = halfToFloat(static_cast<std::uint16_t>(h));
        if (e == 0x1F) {
            if (m == 0) {
                QVERIFY(std::isinf(got) && std::signbit(got) == (sign < 0));
            } else {
                QVERIFY2(std::isnan(got), qPrintable(QString::number(h, 16)));
                QCOMPARE(std::signbit(got), sign < 0);
            }
            continue;
        }
        const double magnitude = e == 0 ? std::ldexp(m, -24) : std::ldexp(1.0 + m / 1024.0, e - 15);
        const float expected = static_cast<float>(sign * magnitude);
        if (!sameBits(got, expected))
            QFAIL(qPrintable(QStringLiteral("0x%1 -> %2, expected %3")
                                 .arg(h, 4, 16, QLatin1Char('0'))
                                 .arg(double(got), 0, 'g', 17)
                                 .arg(double(expected), 0, 'g', 17)));
    }
}

void TestSafetensors::bfloat16ToFloatKnownValues_data() {
    QTest::addColumn<quint16>("bits");
    QTest::addColumn<float>("expected");
    QTest::addRow("1") << quint16(0x3F80) << 1.0f;
    QTest::addRow("-2") << quint16(0xC000) << -2.0f;
    QTest::addRow("0.25") << quint16(0x3E80) << 0.25f;
    QTest::addRow("pi") << quint16(0x4049) << 3.140625f;
    QTest::addRow("max") << quint16(0x7F7F) << 3.3895313892515355e38f;
    QTest::addRow("smallest subnormal") << quint16(0x0001) << 9.183549615799121e-41f;
    QTest::addRow("-0") << quint16(0x8000) << -0.0f;
    QTest::addRow("+inf") << quint16(0x7F80) << std::numeric_limits<float>::infinity();
}

void TestSafetensors::bfloat16ToFloatKnownValues() {
    QFETCH(quint16, bits);
    QFETCH(float, expected);
    QVERIFY2(sameBits(bfloat16ToFloat(bits), expected),
             qPrintable(QString::number(bfloat16ToFloat(bits), 'g', 17)));
    QVERIFY(std::isnan(bfloat16ToFloat(0x7FC0)));
    QVERIFY(std::isnan(bfloat16ToFloat(0xFF81)));
}

void TestSafetensors::readsMetadata() {
    const QMap<QString, QString> meta = {{"format", "pt"}, {"note", "unicode \u00e9 \u2713"}};
    const QByteArray bytes = writeSafetensors({{"w", "F32", {1}, floatBytes({2.0f})}}, meta);
    const auto result = parseBytes(bytes);
    QVERIFY2(result.ok(), qPrintable(result.errorMessage()));
    QCOMPARE(result.value().metadata(), meta);
    QCOMPARE(result.value().fileName(), kFile);
    // __metadata__ is not a tensor.
    QCOMPARE(result.value().tensors().size(), 1u);
    QVERIFY(!result.value().find("__metadata__"));
}

void TestSafetensors::convertsUnalignedData() {
    const std::vector<float> f32 = {1.25f, -3.5f, 1e-40f, 7.0f};
    const std::vector<std::uint16_t> f16 = {0x3C00, 0x0001, 0xC000};
    const std::vector<std::uint16_t> bf16 = {0x3F80, 0xC000};
    for (int pad = 0; pad < 4; ++pad) {
        QByteArray bytes = writeSafetensors({{"f16", "F16", {3}, u16Bytes(f16)},
                                             {"f32", "F32", {4}, floatBytes(f32)},
                                             {"bf16", "BF16", {2}, u16Bytes(bf16)}},
                                            {}, pad);
        const auto result = parseBytes(bytes);
        QVERIFY2(result.ok(), qPrintable(result.errorMessage()));
        const TensorInfo* t = result.value().find("f32");
        QVERIFY(t);
        // f32 follows 6 bytes of F16, so it is misaligned for every pad except one; make sure
        // the misaligned case was really exercised.
        const auto address = reinterpret_cast<quintptr>(bytes.constData()) + t->begin;
        if (pad == 0) QVERIFY2(address % 4 != 0 || t->begin % 4 != 0, "expected misalignment");
        const auto out = readTensor(bytes, *t);
        for (std::size_t i = 0; i < f32.size(); ++i) QVERIFY(sameBits(out[i], f32[i]));
        const auto half = readTensor(bytes, *result.value().find("f16"));
        QCOMPARE(half, (std::vector<float>{1.0f, 5.960464477539063e-08f, -2.0f}));
        const auto brain = readTensor(bytes, *result.value().find("bf16"));
        QCOMPARE(brain, (std::vector<float>{1.0f, -2.0f}));
    }
}

void TestSafetensors::acceptsEmptyAndScalarTensors() {
    const QByteArray bytes = writeSafetensors({{"a", "F32", {2}, floatBytes({1.0f, 2.0f})},
                                               {"empty", "F16", {0, 1024}, QByteArray()},
                                               {"scalar", "BF16", {}, u16Bytes({0x4049})}});
    const auto result = parseBytes(bytes);
    QVERIFY2(result.ok(), qPrintable(result.errorMessage()));
    const TensorInfo* empty = result.value().find("empty");
    QVERIFY(empty);
    QCOMPARE(empty->elementCount(), 0);
    QCOMPARE(empty->begin, empty->end);
    const TensorInfo* scalar = result.value().find("scalar");
    QVERIFY(scalar);
    QVERIFY(scalar->shape.empty());
    QCOMPARE(scalar->elementCount(), 1);
    QCOMPARE(readTensor(bytes, *scalar), (std::vector<float>{3.140625f}));

    // An empty tensor placed inside another's range occupies no bytes, so it overlaps nothing.
    const QByteArray header =
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}}";
    const auto inside = parseBytes(rawFile(header, QByteArray(8, '\0')));
    QVERIFY2(inside.ok(), qPrintable(inside.errorMessage()));
}

void TestSafetensors::acceptsGapsBetweenTensors() {
    // 4 unused bytes between a and b, and 4 trailing bytes after b.
    const QByteArray header =
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
        "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}";
    const QByteArray data = floatBytes({1.0f, 99.0f, 2.0f, 99.0f});
    const QByteArray bytes = rawFile(header, data);
    const auto result = parseBytes(bytes);
    QVERIFY2(result.ok(), qPrintable(result.errorMessage()));
    QCOMPARE(readTensor(bytes, *result.value().find("b")), (std::vector<float>{2.0f}));
}

void TestSafetensors::ordersTensorsByOffsetAndFindsByName() {
    const QByteArray bytes = writeSafetensors({{"zeta", "F32", {1}, floatBytes({1.0f})},
                                               {"alpha", "F32", {2}, floatBytes({2.0f, 3.0f})},
                                               {"mid", "F16", {1}, u16Bytes({0x3C00})}},
                                              {}, 3);
    const auto result = parseBytes(bytes);
    QVERIFY2(result.ok(), qPrintable(result.errorMessage()));
    const auto& tensors = result.value().tensors();
    QCOMPARE(tensors.size(), 3u);
    QCOMPARE(tensors[0].name, QStringLiteral("zeta"));
    QCOMPARE(tensors[1].name, QStringLiteral("alpha"));
    QCOMPARE(tensors[2].name, QStringLiteral("mid"));
    // Offsets are absolute: data starts after the prefix and the (padded) header.
    const std::uint64_t dataStart = static_cast<std::uint64_t>(bytes.size()) - 14;
    QCOMPARE(tensors[0].begin, dataStart);
    QCOMPARE(tensors[1].begin, dataStart + 4);
    QCOMPARE(tensors[2].end, static_cast<std::uint64_t>(bytes.size()));
    QCOMPARE(result.value().find("alpha"), &tensors[1]);
    QVERIFY(!result.value().find("beta"));
    QVERIFY(!result.value().find(""));
}

void TestSafetensors::dtypeNamesAndSizes() {
    QCOMPARE(dtypeName(DType::F32), QStringLiteral("F32"));
    QCOMPARE(dtypeName(DType::F16), QStringLiteral("F16"));
    QCOMPARE(dtypeName(DType::BF16), QStringLiteral("BF16"));
    QCOMPARE(dtypeSize(DType::F32), 4u);
    QCOMPARE(dtypeSize(DType::F16), 2u);
    QCOMPARE(dtypeSize(DType::BF16), 2u);
}

// Whatever the bytes, parse must return; and when it accepts, every promise of the table must
// hold, so reading each tensor stays inside the buffer (an ASan build turns a miss into a crash).
void TestSafetensors::survivesMutatedFiles() {
    const QByteArray valid =
        writeSafetensors({{"layer.0.weight", "F32", {2, 3}, floatBytes({1, 2, 3, 4, 5, 6})},
                          {"layer.0.bias", "F16", {3}, u16Bytes({0x3C00, 0x0001, 0x7C00})},
                          {"layer.1.weight", "BF16", {2, 2}, u16Bytes({1, 2, 3, 4})}},
                         {{"format", "pt"}}, 5);
    QVERIFY(parseBytes(valid).ok());
    const auto headerEnd = static_cast<qsizetype>(valid.size() - 24 - 6 - 8);

    int accepted = 0;
    int rejected = 0;
    const auto check = [&](const QByteArray& bytes) {
        const auto result = parseBytes(bytes);
        if (!result.ok()) {
            ++rejected;
            QVERIFY2(result.errorMessage().startsWith(kFile + QStringLiteral(": ")),
                     qPrintable(result.errorMessage()));
            return;
        }
        ++accepted;
        const auto size = static_cast<std::uint64_t>(bytes.size());
        for (const TensorInfo& t : result.value().tensors()) {
            QVERIFY(t.begin >= 8);
            QVERIFY(t.begin <= t.end);
            QVERIFY(t.end <= size);
            QVERIFY(t.elementCount() >= 0);
            QCOMPARE(t.end - t.begin,
                     static_cast<std::uint64_t>(t.elementCount()) * dtypeSize(t.dtype));
            QCOMPARE(result.value().find(t.name), &t);
            const auto out = readTensor(bytes, t);
            QCOMPARE(out.size(), static_cast<std::size_t>(t.elementCount()));
        }
    };

    // Each truncation is copied so the buffer really ends where the parser is told it does.
    for (qsizetype n = 0; n < valid.size(); ++n) {
        check(QByteArray(valid.constData(), n));
        if (QTest::currentTestFailed()) return;
    }

    std::mt19937 rng(20240607);
    const auto pick = [&](qsizetype lo, qsizetype hi) {
        return std::uniform_int_distribution<qsizetype>(lo, hi)(rng);
    };
    for (int variant = 0; variant < 4000; ++variant) {
        QByteArray bytes = valid;
        // In-place edits first, so every position they pick exists; truncation comes last.
        const int mutations = static_cast<int>(pick(1, 3));
        for (int m = 0; m < mutations; ++m) {
            switch (pick(0, 4)) {
                case 0:  // flip one bit anywhere
                    bytes[pick(0, bytes.size() - 1)] ^= static_cast<char>(1 << pick(0, 7));
                    break;
                case 1:  // random byte anywhere
                    bytes[pick(0, bytes.size() - 1)] = static_cast<char>(pick(0, 255));
                    break;
                case 2: {  // keep the JSON valid but change a number in it
                    const qsizetype at = pick(8, headerEnd - 1);
                    for (qsizetype i = at; i < headerEnd; ++i) {
                        if (bytes[i] >= '0' && bytes[i] <= '9') {
                            bytes[i] = static_cast<char>('0' + pick(0, 9));
                            break;
                        }
                    }
                    break;
                }
                case 3:  // shift the header/data boundary by a few bytes
                    bytes[0] = static_cast<char>(bytes[0] + pick(-3, 3));
                    break;
                default:  // random byte in the length prefix
                    bytes[pick(0, 7)] = static_cast<char>(pick(0, 255));
                    break;
            }
        }
        if (pick(0, 4) == 0) bytes.truncate(pick(0, bytes.size()));
        check(bytes);
        if (QTest::currentTestFailed()) {
            qWarning("variant %d", variant);
            return;
        }
    }
    // Both outcomes must have occurred, or the mutations did not explore anything.
    QVERIFY2(accepted > 100, qPrintable(QString::number(accepted)));
    QVERIFY2(rejected > 100, qPrintable(QString::number(rejected)));
}

QTEST_GUILESS_MAIN(TestSafetensors)
#include "test_safetensors.moc"
