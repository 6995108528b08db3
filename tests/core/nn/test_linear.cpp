// applyLinear against the definition y_o = b_o + sum_i W(o, i) x_i, summed in double: one row (the
// decode product, split over threads) and several rows (the prefill's matrix product), over
// shapes whose sizes are not multiples of any vector width or block, with and without a bias,
// on 1 and 2 compute threads.

#include "nn/linear.h"
#include "util/compute_threads.h"

#include <QtTest>

#include <cmath>
#include <vector>

using namespace kvscope;

class TestLinear : public QObject {
    Q_OBJECT

    struct Product {
        int rows, out, in;
        bool bias;
        int threads;
    };

    // Deterministic values of mixed sign and size, so a dropped or doubled term shows.
    static AlignedFloats values(std::int64_t n, int seed) {
        AlignedFloats a = allocateAligned(n);
        for (std::int64_t i = 0; i < n; ++i)
            a[i] = float(std::sin(0.37 * double(i) + seed) * (1 + (i * 7 + seed) % 5));
        return a;
    }

    // Largest |kernel - reference| over max |reference|, for the product `p`.
    static double relativeError(const Product& p) {
        const AlignedFloats w = values(std::int64_t(p.out) * p.in, 1), b = values(p.out, 2),
                            x = values(std::int64_t(p.rows) * p.in, 3),
                            y = allocateAligned(std::int64_t(p.rows) * p.out);
        const Linear l{w.get(), p.bias ? b.get() : nullptr, p.out, p.in};
        setComputeThreads(p.threads);
        applyLinear(l, Eigen::Map<const RowMatrix>(x.get(), p.rows, p.in),
                    Eigen::Map<RowMatrix>(y.get(), p.rows, p.out));
        double worst = 0, scale = 0;
        for (int r = 0; r < p.rows; ++r) {
            for (int o = 0; o < p.out; ++o) {
                double ref = p.bias ? b[o] : 0;
                for (int i = 0; i < p.in; ++i)
                    ref += double(w[std::int64_t(o) * p.in + i]) * x[std::int64_t(r) * p.in + i];
                worst = std::max(worst, std::abs(ref - y[std::int64_t(r) * p.out + o]));
                scale = std::max(scale, std::abs(ref));
            }
        }
        return worst / scale;
    }

private Q_SLOTS:
    void matchesTheDefinition_data() {
        QTest::addColumn<int>("rows");
        QTest::addColumn<int>("out");
        QTest::addColumn<int>("in");
        QTest::addColumn<bool>("bias");
        QTest::addColumn<int>("threads");
        // Tiny, odd, one below and above the kernel's blocks, and one big enough to be split over
        // two threads (out * in above kParallelMinWork) with a row count that splits unevenly.
        const int shapes[][2] = {{1, 1},   {3, 5},    {7, 31},   {9, 33},
                                 {16, 64}, {37, 100}, {63, 257}, {1029, 771}};
        for (const auto& s : shapes) {
            for (int rows : {1, 3}) {
                for (bool bias : {false, true}) {
                    for (int threads : {1, 2}) {
                        QTest::addRow("%dx%dx%d%s@%d", rows, s[0], s[1], bias ? "+b" : "", threads)
                            << rows << s[0] << s[1] << bias << threads;
                    }
                }
            }
        }
    }

    void matchesTheDefinition() {
        QFETCH(int, rows);
        QFETCH(int, out);
        QFETCH(int, in);
        QFETCH(bool, bias);
        QFETCH(int, threads);
        const double err = relativeError({rows, out, in, bias, threads});
        if (err > 1e-5) qWarning("largest relative difference %g", err);
        QVERIFY(err <= 1e-5);
    }

    // Rows of W need not start on a cache line (in odd), nor x (a row of a bigger matrix).
    void unalignedInputRow() {
        const int out = 45, in = 77;
        const AlignedFloats w = values(std::int64_t(out) * in, 4), x = values(in + 1, 5),
                            y = allocateAligned(out);
        setComputeThreads(1);
        applyLinear(Linear{w.get(), nullptr, out, in},
                    Eigen::Map<const RowMatrix>(x.get() + 1, 1, in),
                    Eigen::Map<RowMatrix>(y.get(), 1, out));
        double worst = 0;
        for (int o = 0; o < out; ++o) {
            double ref = 0;
            for (int i = 0; i < in; ++i) ref += double(w[std::int64_t(o) * in + i]) * x[i + 1];
            worst = std::max(worst, std::abs(ref - y[o]) / (1 + std::abs(ref)));
        }
        QVERIFY2(worst <= 1e-5, qPrintable(QString::number(worst)));
    }
};

QTEST_GUILESS_MAIN(TestLinear)
#include "test_linear.moc"
