// Dequantization of every weight type against tests/tensor/quant_vectors.json, bit for bit: the
// vectors come from ggml_quants.py, a numpy implementation written from the format definitions
// (random blocks plus zero, negative, subnormal, huge, infinite and NaN scales and extreme
// quants). A NaN must equal the expected NaN by its bits. Hand-computed blocks pin the layouts
// independently of both implementations.

#include "tensor/dequantize.h"

#include "quant_vectors.h"

#include <QtTest>

#include <bit>
#include <cstring>
#include <vector>

using namespace kvscope;

namespace {

QByteArray block(int bytes, std::initializer_list<std::pair<int, std::uint8_t>> set,
                 std::uint8_t fill = 0) {
    QByteArray b(bytes, char(fill));
    for (const auto& [offset, value] : set) b[offset] = char(value);
    return b;
}

std::vector<float> dequantized(GgmlType type, const QByteArray& bytes, int n) {
    std::vector<float> y(std::size_t(n), -12345.0f);
    if (!dequantizeRow(type, test::bytesOf(bytes), n, y.data())) return {};
    return y;
}

}  // namespace

class TestDequantize : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void matchesPythonBitForBit_data() {
        QTest::addColumn<QJsonObject>("entry");
        const QJsonArray types = test::quantVectors().value("types").toArray();
        QVERIFY2(types.size() == 13, "tests/tensor/quant_vectors.json: expected 13 weight types");
        for (const auto& t : types)
            QTest::newRow(t.toObject().value("name").toString().toUtf8().constData())
                << t.toObject();
    }

    void matchesPythonBitForBit() {
        QFETCH(QJsonObject, entry);
        const QString name = entry.value("name").toString();
        const auto type = test::ggmlTypeNamed(name);
        QVERIFY2(type, qPrintable("no GgmlType named " + name));
        const GgmlTypeTraits traits = ggmlTypeTraits(*type);
        // The contract in ggml_type.h agrees with the Python's reading of the format.
        QCOMPARE(int(traits.type), entry.value("id").toInt());
        QCOMPARE(traits.blockSize, entry.value("block_size").toInt());
        QCOMPARE(traits.blockBytes, entry.value("block_bytes").toInt());
        QVERIFY(traits.supported);

        const int n = entry.value("n").toInt();
        const QByteArray blocks = test::base64Field(entry, "blocks");
        const std::vector<float> expected = test::floatsField(entry, "values");
        QCOMPARE(blocks.size(), n / traits.blockSize * traits.blockBytes);
        QCOMPARE(int(expected.size()), n);
        const std::vector<float> got = dequantized(*type, blocks, n);
        QCOMPARE(int(got.size()), n);
        int mismatches = 0;
        for (int i = 0; i < n; ++i) {
            const auto g = std::bit_cast<std::uint32_t>(got[std::size_t(i)]);
            const auto e = std::bit_cast<std::uint32_t>(expected[std::size_t(i)]);
            if (g != e && ++mismatches <= 5)
                qWarning("%s value %d (block %d): got %g (0x%08x), expected %g (0x%08x)",
                         qPrintable(name), i, i / traits.blockSize, double(got[std::size_t(i)]), g,
                         double(expected[std::size_t(i)]), e);
        }
        QCOMPARE(mismatches, 0);
    }

    void refusesUnsupportedTypesAndRaggedLengths() {
        const QByteArray bytes(4 * 292, '\x11');
        std::vector<float> y(1024, 7.0f);
        const auto* src = test::bytesOf(bytes);
        QVERIFY(!dequantizeRow(GgmlType::Q8_K, src, 256, y.data()));  // activation type only
        QVERIFY(!dequantizeRow(GgmlType::IQ2_XXS, src, 256, y.data()));
        QVERIFY(!dequantizeRow(GgmlType::Q8_1, src, 32, y.data()));
        QVERIFY(!dequantizeRow(GgmlType::Q4_K, src, 100, y.data()));
        QVERIFY(!dequantizeRow(GgmlType::Q4_0, src, 48, y.data()));
        QVERIFY(!dequantizeRow(GgmlType::Q4_0, src, -32, y.data()));
        for (float v : y) QCOMPARE(v, 7.0f);  // nothing written
        QVERIFY(dequantizeRow(GgmlType::Q4_0, src, 0, y.data()));
    }

    // Hand-computed blocks: each value below follows from the layout table in quant_blocks.h
    // by hand, so a misread bit position shows here even if Python made the same mistake.
    void handCheckedQ4_0AndQ5_0() {
        // d = 1.0; byte 0 = 0x1F: value 0 = 0xF - 8 = 7, value 16 = 0x1 - 8 = -7; 0x88 -> 0.
        auto y =
            dequantized(GgmlType::Q4_0, block(18, {{0, 0x00}, {1, 0x3C}, {2, 0x1F}}, 0x88), 32);
        QCOMPARE(y[0], 7.0f);
        QCOMPARE(y[16], -7.0f);
        QCOMPARE(y[1], 0.0f);
        // d = 1.0, qh bit 20 set, qs byte 4 = 0x30: value 20 = (3 | 16) - 16 = 3, value 4 =
        // 0 - 16.
        y = dequantized(GgmlType::Q5_0, block(22, {{1, 0x3C}, {4, 0x10}, {6 + 4, 0x30}}), 32);
        QCOMPARE(y[20], 3.0f);
        QCOMPARE(y[4], -16.0f);
        QCOMPARE(y[0], -16.0f);
    }

    void handCheckedQ4_1Q5_1Q8_0() {
        // d = 1.5, m = 0.25, qs byte 2 = 0x9C: value 2 = 12 * 1.5 + 0.25, value 18 = 9 * 1.5 +
        // 0.25.
        auto y = dequantized(GgmlType::Q4_1, block(20, {{1, 0x3E}, {3, 0x34}, {4 + 2, 0x9C}}), 32);
        QCOMPARE(y[2], 18.25f);
        QCOMPARE(y[18], 13.75f);
        QCOMPARE(y[0], 0.25f);
        // d = 0.5, m = -1, qh bits 0 and 31, qs byte 0 = 0x21, byte 15 = 0xF0: value 0 = 17,
        // value 16 = 2, value 15 = 0, value 31 = 31.
        y = dequantized(
            GgmlType::Q5_1,
            block(24, {{1, 0x38}, {3, 0xBC}, {4, 0x01}, {7, 0x80}, {8, 0x21}, {8 + 15, 0xF0}}), 32);
        QCOMPARE(y[0], 7.5f);
        QCOMPARE(y[16], 0.0f);
        QCOMPARE(y[15], -1.0f);
        QCOMPARE(y[31], 14.5f);
        // d = -2: qs[3] = -5 -> 10, qs[31] = 127 -> -254, qs[0] = -128 -> 256.
        y = dequantized(GgmlType::Q8_0, block(34, {{1, 0xC0}, {2, 0x80}, {5, 0xFB}, {33, 0x7F}}),
                        32);
        QCOMPARE(y[3], 10.0f);
        QCOMPARE(y[31], -254.0f);
        QCOMPARE(y[0], 256.0f);
    }

    void handCheckedQ2_KAndQ3_K() {
        // Q2_K: d = 1, dmin = 2; scales[0] = 0x35 (sc 5, m 3), scales[6] = 0x12 (sc 2, m 1),
        // scales[10] = 0x71 (sc 1, m 7); qs[0] = 0x83: value 0 = bits 0-1 = 3, value 32 = bits
        // 2-3 = 0, value 96 = bits 6-7 = 2; qs[33] = 0x0C: value 128 + 32 + 1 = bits 2-3 = 3.
        auto y = dequantized(GgmlType::Q2_K,
                             block(84, {{0, 0x35},
                                        {6, 0x12},
                                        {10, 0x71},
                                        {16, 0x83},
                                        {16 + 33, 0x0C},
                                        {81, 0x3C},
                                        {83, 0x40}}),
                             256);
        QCOMPARE(y[0], 9.0f);      // (1*5)*3 - 2*3
        QCOMPARE(y[96], 2.0f);     // (1*2)*2 - 2*1
        QCOMPARE(y[32], 0.0f);     // sub-block 2: sc 0, m 0
        QCOMPARE(y[161], -11.0f);  // sub-block 10: (1*1)*3 - 2*7

        // Q3_K: d = 2; scale 0 stored 34 (low nibble 2 in byte 96, top bits 2 in byte 104),
        // scale 2 stored 0 (-32), scale 9 stored 45 (low 0xD in byte 97's high nibble, top bits 2
        // in bits 4-5 of byte 105); hmask[0] = 0x01, qs[0] = 0x07: value 0 = 3 with its high bit
        // set, value 32 = 1 with it clear (1 - 4); value 144 (= 128 + 16): qs[32 + 16] = 0x02,
        // bit 4 of hmask[16] set; value 145: 0 with its high bit clear.
        y = dequantized(GgmlType::Q3_K,
                        block(110, {{0, 0x01},
                                    {16, 0x10},
                                    {32, 0x07},
                                    {32 + 48, 0x02},
                                    {96, 0x02},
                                    {97, 0xD0},
                                    {104, 0x02},
                                    {105, 0x20},
                                    {109, 0x40}}),
                        256);
        QCOMPARE(y[0], 12.0f);      // (2*2)*3
        QCOMPARE(y[32], 192.0f);    // (2*-32)*-3
        QCOMPARE(y[144], 52.0f);    // (2*13)*2
        QCOMPARE(y[145], -104.0f);  // (2*13)*-4
    }

    void handCheckedQ4_KAndQ5_K() {
        // Q4_K: d = 1, dmin = 0.5; scale bytes: [0] = 2, [1] = 0x80, [4] = 3, [5] = 0x40,
        // [9] = 0x15: sub-block 0 sc 2, m 3; sub-block 5 sc 5 | 2 << 4 = 37, m 1 | 1 << 4 = 17;
        // qs[0] = 0x07 (value 0 = 7, value 32 = 0), qs[64] = 0xA0 (value 160 = 10).
        auto y = dequantized(GgmlType::Q4_K,
                             block(144, {{1, 0x3C},
                                         {3, 0x38},
                                         {4 + 0, 2},
                                         {4 + 1, 0x80},
                                         {4 + 4, 3},
                                         {4 + 5, 0x40},
                                         {4 + 9, 0x15},
                                         {16, 0x07},
                                         {16 + 64, 0xA0}}),
                             256);
        QCOMPARE(y[0], 12.5f);     // (1*2)*7 - 0.5*3
        QCOMPARE(y[1], -1.5f);     // (1*2)*0 - 0.5*3
        QCOMPARE(y[32], 0.0f);     // sub-block 1: sc 0, m 0
        QCOMPARE(y[160], 361.5f);  // (1*37)*10 - 0.5*17

        // Q5_K: d = dmin = 1; scale byte [1] = 3 (sub-block 1 sc 3), [5] = 1 (its m 1), [3] =
        // 0xC0 and [11] = 0x21 (sub-block 7: sc 1 | 3 << 4 = 49, m 2); qh[1] = 0x82, qs[1] =
        // 0x40, qs[97] = 0xF0: value 33 = 4 + 16 (qh bit 1), value 225 = 15 + 16 (qh bit 7).
        y = dequantized(GgmlType::Q5_K,
                        block(176, {{1, 0x3C},
                                    {3, 0x3C},
                                    {4 + 1, 3},
                                    {4 + 3, 0xC0},
                                    {4 + 5, 1},
                                    {4 + 11, 0x21},
                                    {16 + 1, 0x82},
                                    {48 + 1, 0x40},
                                    {48 + 97, 0xF0}}),
                        256);
        QCOMPARE(y[33], 59.0f);     // (1*3)*20 - 1*1
        QCOMPARE(y[225], 1517.0f);  // (1*49)*31 - 1*2
        QCOMPARE(y[1], 0.0f);       // sub-block 0: sc 0, m 0
    }

    void handCheckedQ6_K() {
        // d = 0.25; scales[0] = -3, [2] = -128, [6] = 2, [9] = 5; ql[0] = 0x0F, qh[0] = 0x01:
        // value 0 = 15 | 1 << 4 = 31 - 32; ql[32] = 0x50: value 32 = 0 - 32, value 96 = 5 - 32
        // (high nibble, qh bits 6-7 = 0); value 144 (= 128 + 16): ql[64 + 16] = 0x03,
        // qh[32 + 16] = 0x03: 3 | 3 << 4 = 51 - 32.
        const auto y = dequantized(GgmlType::Q6_K,
                                   block(210, {{0, 0x0F},
                                               {32, 0x50},
                                               {80, 0x03},
                                               {128, 0x01},
                                               {128 + 48, 0x03},
                                               {192, 0xFD},
                                               {194, 0x80},
                                               {198, 0x02},
                                               {201, 5},
                                               {209, 0x34}}),
                                   256);
        QCOMPARE(y[0], 0.75f);     // (0.25*-3)*-1
        QCOMPARE(y[32], 1024.0f);  // (0.25*-128)*-32
        QCOMPARE(y[96], -13.5f);   // (0.25*2)*-27
        QCOMPARE(y[144], 23.75f);  // (0.25*5)*19
    }

    void floatTypesKeepTheirBits() {
        // F16 sNaN 0x7C01 widens to the float sNaN 0x7F802000; BF16 0xFFC1 is float 0xFFC10000;
        // F32 bytes come back as they are.
        const QByteArray half = block(4, {{0, 0x01}, {1, 0x7C}, {2, 0x01}, {3, 0x00}});
        const auto h = dequantized(GgmlType::F16, half, 2);
        QCOMPARE(std::bit_cast<std::uint32_t>(h[0]), 0x7F802000u);
        QCOMPARE(h[1], 0x1p-24f);  // the smallest f16 subnormal
        const auto b = dequantized(GgmlType::BF16, block(2, {{0, 0xC1}, {1, 0xFF}}), 1);
        QCOMPARE(std::bit_cast<std::uint32_t>(b[0]), 0xFFC10000u);
        const auto f =
            dequantized(GgmlType::F32, block(4, {{0, 0x45}, {1, 0x23}, {2, 0x81}, {3, 0x7F}}), 1);
        QCOMPARE(std::bit_cast<std::uint32_t>(f[0]), 0x7F812345u);
    }
};

QTEST_GUILESS_MAIN(TestDequantize)
#include "test_dequantize.moc"
