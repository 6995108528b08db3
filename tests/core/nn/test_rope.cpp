// Rotary embeddings against the definition: pair i of a head is rotated by position *
// theta^(-2i/head_dim), as the complex product (a + ib) * e^(i angle). Which dimensions form a
// pair is the format's: adjacent (llama2.c, GGUF llama) or halves (Hugging Face Llama folders,
// whose Q and K rows were permuted at conversion), and the two agree under that permutation.

#include "nn/rope.h"

#include <QtTest>

#include <cmath>
#include <complex>
#include <vector>

using namespace kvscope;

class TestRope : public QObject {
    Q_OBJECT

    static std::vector<float> ramp(int n) {
        std::vector<float> x(static_cast<std::size_t>(n));
        for (int i = 0; i < n; ++i) x[std::size_t(i)] = 0.25f * float(i) - 1.0f + 0.01f * i * i;
        return x;
    }

private Q_SLOTS:
    void adjacentPairsAreComplexProducts() {
        const int hd = 8, heads = 2, pos = 37;
        const double theta = 10000;
        const RopeTable table(64, hd, theta);
        std::vector<float> x = ramp(hd * heads), rotated = x;
        FlopBreakdown f;
        table.rotate(rotated.data(), heads, pos, RopePairing::Adjacent, f);
        for (int h = 0; h < heads; ++h) {
            for (int i = 0; i < hd / 2; ++i) {
                const std::size_t a = std::size_t(h * hd + 2 * i);
                const double angle = pos * std::pow(theta, -2.0 * i / hd);
                const std::complex<double> z =
                    std::complex<double>(x[a], x[a + 1]) * std::polar(1.0, angle);
                QVERIFY(std::abs(rotated[a] - z.real()) < 1e-5);
                QVERIFY(std::abs(rotated[a + 1] - z.imag()) < 1e-5);
            }
        }
        QCOMPARE(f.other, kRopeFlopsPerElement * hd * heads);
    }

    void halvesPairIWithIPlusHalf() {
        const int hd = 6, pos = 5;
        const double theta = 500000;  // Llama 3's base
        const RopeTable table(8, hd, theta);
        std::vector<float> x = ramp(hd), rotated = x;
        FlopBreakdown f;
        table.rotate(rotated.data(), 1, pos, RopePairing::Halves, f);
        for (int i = 0; i < hd / 2; ++i) {
            const double angle = pos * std::pow(theta, -2.0 * i / hd);
            const std::complex<double> z =
                std::complex<double>(x[std::size_t(i)], x[std::size_t(i + hd / 2)]) *
                std::polar(1.0, angle);
            QVERIFY(std::abs(rotated[std::size_t(i)] - z.real()) < 1e-5);
            QVERIFY(std::abs(rotated[std::size_t(i + hd / 2)] - z.imag()) < 1e-5);
        }
    }

    void layoutsAgreeUnderThePermutation() {
        const int hd = 16;
        const RopeTable table(128, hd, 10000);
        const std::vector<float> x = ramp(hd);
        std::vector<float> halves(
            static_cast<std::size_t>(hd));  // dims (2i, 2i+1) moved to (i, i + hd/2)
        for (int i = 0; i < hd / 2; ++i) {
            halves[std::size_t(i)] = x[std::size_t(2 * i)];
            halves[std::size_t(i + hd / 2)] = x[std::size_t(2 * i + 1)];
        }
        std::vector<float> adjacent = x;
        FlopBreakdown f;
        table.rotate(adjacent.data(), 1, 100, RopePairing::Adjacent, f);
        table.rotate(halves.data(), 1, 100, RopePairing::Halves, f);
        for (int i = 0; i < hd / 2; ++i) {
            QCOMPARE(halves[std::size_t(i)], adjacent[std::size_t(2 * i)]);
            QCOMPARE(halves[std::size_t(i + hd / 2)], adjacent[std::size_t(2 * i + 1)]);
        }
    }

    void positionZeroIsIdentity() {
        const RopeTable table(4, 4, 10000);
        std::vector<float> x = ramp(4), y = x;
        FlopBreakdown f;
        table.rotate(y.data(), 1, 0, RopePairing::Adjacent, f);
        QCOMPARE(y, x);
    }
};

QTEST_GUILESS_MAIN(TestRope)
#include "test_rope.moc"
