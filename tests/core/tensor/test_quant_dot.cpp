// Activation quantization (Q8_0, Q8_K) and the reference dot products:
// - the quantized activations equal, byte for byte, what ggml_quants.py (numpy, from the format
//   definitions) makes of the same vectors, ties rounding half to even;
// - the integer dot products equal Python's float64 sum over the dequantized integers, to the
//   float32 rounding of the block scales; hand-computed cases;
// - the float-activation dot equals dequantize-then-dot in double;
// - what quantizing the activations changes stays within the bound quantize_activation.h states.

#include "tensor/dequantize.h"
#include "tensor/dot_reference.h"
#include "tensor/quantize_activation.h"

#include "formats/safetensors.h"
#include "quant_vectors.h"

#include <Eigen/Core>
#include <QHash>
#include <QtTest>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

using namespace kvscope;

namespace {

std::vector<BlockQ8_0> toQ8_0(const std::vector<float>& x) {
    std::vector<BlockQ8_0> q(x.size() / 32);
    if (!quantizeRowQ8_0(x.data(), std::int64_t(x.size()), q.data())) return {};
    return q;
}

std::vector<BlockQ8_K> toQ8_K(const std::vector<float>& x) {
    std::vector<BlockQ8_K> q(x.size() / 256);
    if (!quantizeRowQ8_K(x.data(), std::int64_t(x.size()), q.data())) return {};
    return q;
}

// The activations as the dot products see them: q * d per value.
std::vector<double> dequantizedQ8(const std::vector<BlockQ8_0>& q) {
    std::vector<double> out;
    for (const auto& b : q)
        for (int i = 0; i < 32; ++i) out.push_back(double(b.qs[i]) * double(halfToFloat(b.d)));
    return out;
}

std::vector<double> dequantizedQ8(const std::vector<BlockQ8_K>& q) {
    std::vector<double> out;
    for (const auto& b : q)
        for (int i = 0; i < 256; ++i) out.push_back(double(b.qs[i]) * double(b.d));
    return out;
}

std::optional<double> dotQ8(GgmlType type, const std::uint8_t* row, const std::vector<float>& x) {
    const auto n = std::int64_t(x.size());
    if (activationTypeFor(type) == GgmlType::Q8_0)
        return dotQ8_0Reference(type, row, toQ8_0(x).data(), n);
    return dotQ8_KReference(type, row, toQ8_K(x).data(), n);
}

// A random row of `type` (n values): random quant bits, f16 scales of random sign near 0.02
// (the K-quants' dmin positive, as quantizers write it); float types: Gaussian values.
QByteArray randomRow(GgmlType type, int n, std::mt19937& rng) {
    const GgmlTypeTraits t = ggmlTypeTraits(type);
    QByteArray row(n / t.blockSize * t.blockBytes, '\0');
    std::uniform_int_distribution<int> byte(0, 255);
    for (char& c : row) c = char(byte(rng));
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::uniform_real_distribution<float> scale(0.01f, 0.04f);
    auto putF16 = [&](int offset, float v) {
        const auto bits = Eigen::numext::bit_cast<std::uint16_t>(Eigen::half(v));
        row[offset] = char(bits & 0xFF);
        row[offset + 1] = char(bits >> 8);
    };
    auto sign = [&] { return byte(rng) % 2 ? 1.0f : -1.0f; };
    for (int b = 0; b < n / t.blockSize; ++b) {
        const int o = b * t.blockBytes;
        switch (type) {
            case GgmlType::F32: {
                const float v = 0.02f * normal(rng);
                std::memcpy(row.data() + o, &v, 4);
                break;
            }
            case GgmlType::F16:
                putF16(o, 0.02f * normal(rng));
                break;
            case GgmlType::BF16: {
                const float v = 0.02f * normal(rng);
                const auto bits = std::uint16_t(std::bit_cast<std::uint32_t>(v) >> 16);
                row[o] = char(bits & 0xFF);
                row[o + 1] = char(bits >> 8);
                break;
            }
            case GgmlType::Q4_1:
            case GgmlType::Q5_1:
                putF16(o, sign() * scale(rng));
                putF16(o + 2, sign() * scale(rng));
                break;
            case GgmlType::Q2_K:
                putF16(o + 80, sign() * scale(rng));
                putF16(o + 82, scale(rng));
                break;
            case GgmlType::Q3_K:
                putF16(o + 108, sign() * scale(rng));
                break;
            case GgmlType::Q4_K:
            case GgmlType::Q5_K:
                putF16(o, sign() * scale(rng));
                putF16(o + 2, scale(rng));
                break;
            case GgmlType::Q6_K:
                putF16(o + 208, sign() * scale(rng));
                break;
            default:
                putF16(o, sign() * scale(rng));
                break;  // Q4_0, Q5_0, Q8_0
        }
    }
    return row;
}

std::vector<float> gaussian(int n, std::mt19937& rng, float sigma = 1.0f) {
    std::normal_distribution<float> normal(0.0f, sigma);
    std::vector<float> x(static_cast<std::size_t>(n));
    for (float& v : x) v = normal(rng);
    return x;
}

// Gaussian with 8 channels 40 times larger, the outliers transformer activations have.
std::vector<float> withOutliers(int n, std::mt19937& rng) {
    std::vector<float> x = gaussian(n, rng);
    for (int k = 0; k < 8; ++k) x[std::size_t((k * 997 + 13) % n)] *= 40.0f;
    return x;
}

const GgmlType kQuantized[] = {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1,
                               GgmlType::Q8_0, GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K,
                               GgmlType::Q5_K, GgmlType::Q6_K};

}  // namespace

class TestQuantDot : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void activationsMatchPython_data() {
        QTest::addColumn<QJsonObject>("entry");
        const QJsonArray acts = test::quantVectors().value("activations").toArray();
        QVERIFY2(acts.size() == 3, "tests/tensor/quant_vectors.json: expected 3 activations");
        for (const auto& a : acts)
            QTest::newRow(a.toObject().value("name").toString().toUtf8().constData())
                << a.toObject();
    }

    void activationsMatchPython() {
        QFETCH(QJsonObject, entry);
        const std::vector<float> x = test::floatsField(entry, "x");
        QCOMPARE(int(x.size()), 512);
        const auto q0 = toQ8_0(x);
        const auto qk = toQ8_K(x);
        const QByteArray e0 = test::base64Field(entry, "q8_0");
        const QByteArray ek = test::base64Field(entry, "q8_K");
        QCOMPARE(qsizetype(q0.size() * sizeof(BlockQ8_0)), e0.size());
        QCOMPARE(qsizetype(qk.size() * sizeof(BlockQ8_K)), ek.size());
        for (std::size_t b = 0; b < q0.size(); ++b)
            QVERIFY2(std::memcmp(&q0[b], e0.constData() + b * 34, 34) == 0,
                     qPrintable(QStringLiteral("Q8_0 block %1 differs").arg(b)));
        for (std::size_t b = 0; b < qk.size(); ++b)
            QVERIFY2(std::memcmp(&qk[b], ek.constData() + b * 292, 292) == 0,
                     qPrintable(QStringLiteral("Q8_K block %1 differs").arg(b)));
    }

    void activationRoundingByHand() {
        // Largest magnitude 127: Q8_0's multiplier 127/amax is 1, Q8_K's -127/max is -1, so
        // x.5 lands on a tie and rounds half to even.
        std::vector<float> x(256, 0.0f);
        x[0] = 127.0f, x[1] = 2.5f, x[2] = -3.5f, x[3] = 0.5f, x[4] = 1.5f;
        const auto q0 = toQ8_0(x);
        QCOMPARE(q0[0].d, std::uint16_t(0x3C00));  // f16 1.0
        QCOMPARE(int(q0[0].qs[0]), 127);
        QCOMPARE(int(q0[0].qs[1]), 2);
        QCOMPARE(int(q0[0].qs[2]), -4);
        QCOMPARE(int(q0[0].qs[3]), 0);
        QCOMPARE(int(q0[0].qs[4]), 2);
        QCOMPARE(q0[1].d, std::uint16_t(0));  // an all-zero block
        const auto qk = toQ8_K(x);
        QCOMPARE(qk[0].d, -1.0f);  // max = +127: negative scale, negated values
        QCOMPARE(int(qk[0].qs[0]), -127);
        QCOMPARE(int(qk[0].qs[1]), -2);
        QCOMPARE(int(qk[0].qs[2]), 4);
        QCOMPARE(int(qk[0].qs[3]), 0);
        QCOMPARE(int(qk[0].qs[4]), -2);
        QCOMPARE(int(qk[0].bsums[0]), -127 - 2 + 4 - 2);
        QCOMPARE(int(qk[0].bsums[1]), 0);
        // The first of two equal magnitudes sets the sign.
        x[0] = -127.0f, x[9] = 127.0f;
        QCOMPARE(toQ8_K(x)[0].d, 1.0f);
        // A zero block: zero scale, quants and sums.
        const auto zero = toQ8_K(std::vector<float>(256, 0.0f));
        QCOMPARE(zero[0].d, 0.0f);
        for (int j = 0; j < 16; ++j) QCOMPARE(int(zero[0].bsums[j]), 0);
        QVERIFY(!quantizeRowQ8_0(x.data(), 31, nullptr));
        QVERIFY(!quantizeRowQ8_K(x.data(), 255, nullptr));
    }

    void integerDotsMatchPythonFloat64_data() {
        QTest::addColumn<QJsonObject>("entry");
        const QJsonArray dots = test::quantVectors().value("dots").toArray();
        QVERIFY2(dots.size() == 10, "tests/tensor/quant_vectors.json: expected 10 dot rows");
        for (const auto& d : dots)
            QTest::newRow(d.toObject().value("type").toString().toUtf8().constData())
                << d.toObject();
    }

    void integerDotsMatchPythonFloat64() {
        QFETCH(QJsonObject, entry);
        const auto type = test::ggmlTypeNamed(entry.value("type").toString());
        QVERIFY(type);
        const QByteArray row = test::base64Field(entry, "row");
        QHash<QString, std::vector<float>> acts;
        for (const auto& a : test::quantVectors().value("activations").toArray())
            acts.insert(a.toObject().value("name").toString(),
                        test::floatsField(a.toObject(), "x"));
        const QJsonArray names = entry.value("x").toArray();
        const QJsonArray exact = entry.value("dot_q8_exact").toArray();
        const QJsonArray magnitude = entry.value("dot_q8_magnitude").toArray();
        for (int k = 0; k < names.size(); ++k) {
            const auto got = dotQ8(*type, test::bytesOf(row), acts.value(names[k].toString()));
            QVERIFY(got);
            // Each block's scale product is one float32 rounding (relative 2^-24) of a term at
            // most the magnitude sum_i (|scaled part| + |offset part|) * |a_i|.
            const double tolerance = 0x1p-22 * magnitude[k].toDouble();
            const double diff = std::abs(*got - exact[k].toDouble());
            if (diff > tolerance)
                qWarning("%s x %s: got %.17g, Python %.17g, diff %.3g > %.3g",
                         qPrintable(entry.value("type").toString()),
                         qPrintable(names[k].toString()), *got, exact[k].toDouble(), diff,
                         tolerance);
            QVERIFY(diff <= tolerance);
        }
    }

    void integerDotsByHand() {
        // Q8_0 weights d = 1, every quant 1, times 32 ones: amax = 1, so the activation is
        // q = 127 with d = 1/127 rounded to f16, (1 + 8/1024) / 128 = 0.00787353515625; the
        // dot is 32 * 127 * that = 31.998046875 where the float dot is 32.
        QByteArray w(34, '\x01');
        w[0] = '\x00', w[1] = '\x3C';
        const std::vector<float> ones32(32, 1.0f);
        QCOMPARE(*dotQ8(GgmlType::Q8_0, test::bytesOf(w), ones32), 31.998046875);
        QCOMPARE(*dotFloatReference(GgmlType::Q8_0, test::bytesOf(w), ones32.data(), 32), 32.0);

        // Q4_K with d = dmin = 1, every sc = m = 1, every quant 2: each weight is 1*1*2 - 1*1
        // = 1; times 256 ones (Q8_K: iscale -127, d = fl(-1/127), every bsum -16*127):
        // d * (256*2*-127) - d * (256*-127) = -32512 * fl(-1/127), 256 to float32 precision.
        QByteArray k4(144, '\x22');
        k4[0] = '\x00', k4[1] = '\x3C', k4[2] = '\x00', k4[3] = '\x3C';
        for (int i = 0; i < 8; ++i) k4[4 + i] = '\x01';
        for (int i = 8; i < 12; ++i) k4[4 + i] = '\x11';
        const std::vector<float> ones256(256, 1.0f);
        QCOMPARE(*dotQ8(GgmlType::Q4_K, test::bytesOf(k4), ones256),
                 -32512.0 * double(1.0f / -127.0f));
        QVERIFY(std::abs(*dotQ8(GgmlType::Q4_K, test::bytesOf(k4), ones256) - 256.0) < 1e-5);
        QCOMPARE(*dotFloatReference(GgmlType::Q4_K, test::bytesOf(k4), ones256.data(), 256), 256.0);

        // Types paired with the wrong activation, or ragged lengths, are refused.
        QVERIFY(!dotQ8_KReference(GgmlType::Q8_0, test::bytesOf(w), toQ8_K(ones256).data(), 256));
        QVERIFY(!dotQ8_0Reference(GgmlType::Q4_K, test::bytesOf(k4), toQ8_0(ones256).data(), 256));
        QVERIFY(!dotQ8_0Reference(GgmlType::F32, test::bytesOf(k4), toQ8_0(ones32).data(), 32));
        QVERIFY(!dotFloatReference(GgmlType::Q4_K, test::bytesOf(k4), ones256.data(), 128));
        QVERIFY(!activationTypeFor(GgmlType::F16));
    }

    void floatDotIsDequantizeThenDot() {
        std::mt19937 rng(11);
        const GgmlType types[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q4_0,
                                  GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0,
                                  GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K,
                                  GgmlType::Q6_K};
        for (GgmlType type : types) {
            const int n = 1024 + (ggmlTypeTraits(type).blockSize == 1 ? 37 : 0);
            const QByteArray row = randomRow(type, n, rng);
            const std::vector<float> x = gaussian(n, rng);
            std::vector<float> w(static_cast<std::size_t>(n));
            QVERIFY(dequantizeRow(type, test::bytesOf(row), n, w.data()));
            double expected = 0, magnitude = 0;
            for (int i = 0; i < n; ++i) {
                expected += double(w[std::size_t(i)]) * x[std::size_t(i)];
                magnitude += std::abs(double(w[std::size_t(i)]) * x[std::size_t(i)]);
            }
            const auto got = dotFloatReference(type, test::bytesOf(row), x.data(), n);
            QVERIFY(got);
            QVERIFY2(std::abs(*got - expected) <= 1e-13 * magnitude,
                     qPrintable(QString::fromLatin1(ggmlTypeTraits(type).name.data()) +
                                QStringLiteral(": %1 vs %2").arg(*got).arg(expected)));
        }
    }

    void quantizedActivationsStayWithinTheStatedBound() {
        std::mt19937 rng(5);
        const int n = 4096;
        for (int trial = 0; trial < 4; ++trial) {
            const std::vector<float> x = trial % 2 ? withOutliers(n, rng) : gaussian(n, rng, 0.3f);
            for (GgmlType type : kQuantized) {
                const bool q8k = activationTypeFor(type) == GgmlType::Q8_K;
                const int block = q8k ? 256 : 32;
                const QByteArray row = randomRow(type, n, rng);
                std::vector<float> w(static_cast<std::size_t>(n));
                QVERIFY(dequantizeRow(type, test::bytesOf(row), n, w.data()));
                // sum_b e_b sum_{i in b} |w_i| (quantize_activation.h), plus the float32
                // rounding of the block scales in the quantized dot itself.
                double bound = 0, magnitude = 0;
                for (int b = 0; b < n / block; ++b) {
                    double amax = 0, wsum = 0;
                    for (int i = b * block; i < (b + 1) * block; ++i) {
                        amax = std::max(amax, double(std::abs(x[std::size_t(i)])));
                        wsum += std::abs(w[std::size_t(i)]);
                    }
                    const double D = amax / 127;
                    const double e =
                        q8k ? (0.5 + 0x1p-15) * D
                            : (0.5 + 0x1p-15) * D + 127 * std::max(0x1p-11 * D, 0x1p-25);
                    bound += e * wsum;
                    magnitude += wsum * amax;
                }
                const double floatDot = *dotFloatReference(type, test::bytesOf(row), x.data(), n);
                const double quantDot = *dotQ8(type, test::bytesOf(row), x);
                QVERIFY2(std::abs(quantDot - floatDot) <= bound + 1e-6 * magnitude,
                         qPrintable(QStringLiteral("%1 trial %2: |%3 - %4| > %5")
                                        .arg(QLatin1String(ggmlTypeTraits(type).name.data()))
                                        .arg(trial)
                                        .arg(quantDot)
                                        .arg(floatDot)
                                        .arg(bound)));
            }
        }
    }

    // The figures quoted in quantize_activation.h: relative error of the activation vector and
    // of a 256 x 4096 Gaussian matrix-vector product.
    void measuredErrorMatchesTheHeader() {
        std::mt19937 rng(3);
        const int n = 4096, rows = 256;
        std::vector<float> W = gaussian(rows * n, rng);  // (rows, n)
        auto relative = [](const std::vector<double>& a, const std::vector<double>& b) {
            double num = 0, den = 0;
            for (std::size_t i = 0; i < a.size(); ++i) {
                num += (a[i] - b[i]) * (a[i] - b[i]);
                den += b[i] * b[i];
            }
            return std::sqrt(num / den);
        };
        auto matvec = [&](const std::vector<double>& v) {
            std::vector<double> y(std::size_t(rows), 0.0);
            for (int r = 0; r < rows; ++r)
                for (int i = 0; i < n; ++i)
                    y[std::size_t(r)] += W[std::size_t(r * n + i)] * v[std::size_t(i)];
            return y;
        };
        struct Case {
            const char* name;
            std::vector<float> x;
            double maxQ8_0, maxQ8_K;  // the header's figures, with a little room
        };
        const Case cases[] = {{"gaussian", gaussian(n, rng), 0.0065, 0.0100},
                              {"outliers", withOutliers(n, rng), 0.0140, 0.0380}};
        for (const Case& c : cases) {
            const std::vector<double> x(c.x.begin(), c.x.end());
            const auto y = matvec(x);
            const auto x0 = dequantizedQ8(toQ8_0(c.x));
            const auto xk = dequantizedQ8(toQ8_K(c.x));
            const double e0 = relative(x0, x), ek = relative(xk, x);
            const double m0 = relative(matvec(x0), y), mk = relative(matvec(xk), y);
            qInfo(
                "%s: ||x^-x||/||x|| Q8_0 %.3f%% Q8_K %.3f%%; ||Wx^-Wx||/||Wx|| Q8_0 %.3f%% "
                "Q8_K %.3f%%",
                c.name, 100 * e0, 100 * ek, 100 * m0, 100 * mk);
            QVERIFY(e0 < c.maxQ8_0 && m0 < c.maxQ8_0);
            QVERIFY(ek < c.maxQ8_K && mk < c.maxQ8_K);
            QVERIFY(e0 > 0.001 && ek > 0.001);  // quantization does change something
        }
    }
};

QTEST_GUILESS_MAIN(TestQuantDot)
#include "test_quant_dot.moc"
