// The fast row dots (AVX2 when built with it) against the scalar reference of dot_reference.h on
// random rows: equal up to float32 accumulation, bounded by 2^-16 of the sum of the magnitudes of
// every term either side adds (weights, the Q6_K offset of 32, the mins).

#include "formats/safetensors.h"
#include "tensor/dot_reference.h"
#include "tensor/quant_blocks.h"
#include "tensor/quant_dot_avx.h"
#include "tensor/quantize_activation.h"

#include <Eigen/Core>
#include <QtTest>

#include <cmath>
#include <random>
#include <vector>

using namespace kvscope;

namespace {

void putF16(std::vector<std::uint8_t>& row, std::size_t offset, float v) {
    const auto bits = Eigen::numext::bit_cast<std::uint16_t>(Eigen::half(v));
    row[offset] = std::uint8_t(bits & 0xFF);
    row[offset + 1] = std::uint8_t(bits >> 8);
}

// n values of `type` with random quant bits and scales of random sign (dmin positive).
std::vector<std::uint8_t> randomRow(GgmlType type, int n, std::mt19937& rng) {
    const GgmlTypeTraits t = ggmlTypeTraits(type);
    std::vector<std::uint8_t> row(static_cast<std::size_t>(n / t.blockSize * t.blockBytes));
    std::uniform_int_distribution<int> byte(0, 255);
    for (auto& c : row) c = std::uint8_t(byte(rng));
    std::uniform_real_distribution<float> scale(0.005f, 0.05f);
    auto sign = [&] { return byte(rng) % 2 ? 1.0f : -1.0f; };
    for (int b = 0; b < n / t.blockSize; ++b) {
        const std::size_t o = std::size_t(b) * std::size_t(t.blockBytes);
        if (type == GgmlType::Q4_K) {
            putF16(row, o, sign() * scale(rng));
            putF16(row, o + 2, scale(rng));
        } else if (type == GgmlType::Q6_K) {
            putF16(row, o + 208, sign() * scale(rng));
        } else {
            putF16(row, o, sign() * scale(rng));  // Q8_0
        }
    }
    return row;
}

// sum over values of (|d sc q| + |d sc| * 32 + |dmin m|) * |a|, with the activation's scale.
double magnitude(GgmlType type, const std::vector<std::uint8_t>& row,
                 const std::vector<double>& a) {
    const GgmlTypeTraits t = ggmlTypeTraits(type);
    UnpackedBlock u;
    double sum = 0;
    for (std::size_t b = 0; b < row.size() / std::size_t(t.blockBytes); ++b) {
        unpackBlock(type, row.data() + b * std::size_t(t.blockBytes), u);
        for (int i = 0; i < u.size; ++i) {
            const int s = i / u.subBlockSize;
            const double dsc = std::abs(double(u.d) * u.scale[s]);
            sum += (dsc * (std::abs(u.q[i]) + 32) + std::abs(double(u.dmin) * u.min[s])) *
                   std::abs(a[b * std::size_t(u.size) + std::size_t(i)]);
        }
    }
    return sum;
}

}  // namespace

class TestQuantDotAvx : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() {
        qInfo("fast quantized dots use %s", quantDotUsesAvx2() ? "AVX2" : "the scalar reference");
    }

    void agreesWithTheReference_data() {
        QTest::addColumn<int>("type");
        QTest::addColumn<int>("n");
        for (int n : {256, 4096, 11008}) {
            QTest::addRow("Q8_0 n=%d", n) << int(GgmlType::Q8_0) << n;
            QTest::addRow("Q4_K n=%d", n) << int(GgmlType::Q4_K) << n;
            QTest::addRow("Q6_K n=%d", n) << int(GgmlType::Q6_K) << n;
        }
    }

    void agreesWithTheReference() {
        QFETCH(int, type);
        QFETCH(int, n);
        const auto t = GgmlType(type);
        std::mt19937 rng(std::uint32_t(type * 1000 + n));
        std::normal_distribution<float> normal(0.0f, 1.0f);
        for (int trial = 0; trial < 20; ++trial) {
            const std::vector<std::uint8_t> row = randomRow(t, n, rng);
            std::vector<float> x(static_cast<std::size_t>(n));
            for (float& v : x) v = normal(rng);
            if (trial % 4 == 3) x[std::size_t(trial) % x.size()] *= 50.0f;  // an outlier
            double fast = 0, ref = 0;
            std::vector<double> a;  // the quantized activation's values
            if (t == GgmlType::Q8_0) {
                std::vector<BlockQ8_0> q(static_cast<std::size_t>(n / 32));
                QVERIFY(quantizeRowQ8_0(x.data(), n, q.data()));
                fast = dotQ8_0Q8_0(row.data(), q.data(), n);
                ref = *dotQ8_0Reference(t, row.data(), q.data(), n);
                for (const auto& b : q)
                    for (int i = 0; i < 32; ++i) a.push_back(b.qs[i] * double(halfToFloat(b.d)));
            } else {
                std::vector<BlockQ8_K> q(static_cast<std::size_t>(n / 256));
                QVERIFY(quantizeRowQ8_K(x.data(), n, q.data()));
                fast = t == GgmlType::Q4_K ? dotQ4_KQ8_K(row.data(), q.data(), n)
                                           : dotQ6_KQ8_K(row.data(), q.data(), n);
                ref = *dotQ8_KReference(t, row.data(), q.data(), n);
                for (const auto& b : q)
                    for (int i = 0; i < 256; ++i) a.push_back(b.qs[i] * double(b.d));
            }
            const double tolerance = 0x1p-16 * magnitude(t, row, a);
            QVERIFY2(std::abs(fast - ref) <= tolerance,
                     qPrintable(QStringLiteral("trial %1: fast %2, reference %3, tolerance %4")
                                    .arg(trial)
                                    .arg(fast, 0, 'g', 9)
                                    .arg(ref, 0, 'g', 9)
                                    .arg(tolerance)));
        }
    }
};

QTEST_GUILESS_MAIN(TestQuantDotAvx)
#include "test_quant_dot_avx.moc"
