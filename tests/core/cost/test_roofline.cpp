// A step's place on the roofline, against cases computed by hand: roofs of 20 GB/s and
// 100 GFLOP/s meet at the ridge, 100 / 20 = 5 FLOP per byte.

#include "cost/roofline.h"
#include "run/step_result.h"

#include <QtTest>

#include <cmath>

using namespace kvscope;

namespace {

const whatif::Roofs kRoofs{20, 100};

bool near(double a, double b) {
    return std::abs(a - b) <= 1e-12 * std::max(1.0, std::abs(b));
}

}  // namespace

class TestRoofline : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void ridgeIsGemmOverBandwidth() {
        QCOMPARE(ridgeIntensity(kRoofs), 5.0);
        QCOMPARE(ridgeIntensity(whatif::Roofs{}), 0.0);
    }

    void attainableIsTheLowerRoof_data() {
        QTest::addColumn<double>("intensity");
        QTest::addColumn<double>("attainable");
        QTest::addColumn<bool>("compute");
        QTest::newRow("slope") << 0.5 << 10.0 << false;        // 20 x 0.5
        QTest::newRow("below ridge") << 4.0 << 80.0 << false;  // 20 x 4
        QTest::newRow("at ridge") << 5.0 << 100.0 << true;     // both give 100: compute
        QTest::newRow("flat") << 300.0 << 100.0 << true;
    }
    void attainableIsTheLowerRoof() {
        QFETCH(double, intensity);
        QFETCH(double, attainable);
        QFETCH(bool, compute);
        Roof bound = Roof::Bandwidth;
        QCOMPARE(attainableGflops(kRoofs, intensity, &bound), attainable);
        QCOMPARE(bound == Roof::Compute, compute);
    }

    // A decode-like step: 2 GFLOP over 1 GB in 200 ms = 10 GFLOP/s at 2 FLOP/byte, where the
    // bandwidth allows 20 x 2 = 40: a quarter of its roof.
    void memoryBoundStep() {
        const auto p = rooflinePoint(2e9, 1e9, 200, kRoofs);
        QVERIFY(p);
        QCOMPARE(p->intensity, 2.0);
        QVERIFY(near(p->gflops, 10.0));
        QCOMPARE(p->attainableGflops, 40.0);
        QVERIFY(p->bound == Roof::Bandwidth);
        QVERIFY(near(p->fractionOfRoof, 0.25));
    }

    // A naive-like step: 60 GFLOP over 1 GB in 1 s = 60 GFLOP/s at 60 FLOP/byte, under the
    // 100 GFLOP/s compute roof: 60 % of it.
    void computeBoundStep() {
        const auto p = rooflinePoint(6e10, 1e9, 1000, kRoofs);
        QVERIFY(p);
        QCOMPARE(p->intensity, 60.0);
        QVERIFY(near(p->gflops, 60.0));
        QCOMPARE(p->attainableGflops, 100.0);
        QVERIFY(p->bound == Roof::Compute);
        QVERIFY(near(p->fractionOfRoof, 0.6));
    }

    // Without roofs the step is still placed; nothing is said about a roof.
    void withoutRoofsOnlyThePoint() {
        for (const auto& roofs : {std::optional<whatif::Roofs>(), std::optional(whatif::Roofs{})}) {
            const auto p = rooflinePoint(3e6, 1.5e6, 0.5, roofs);
            QVERIFY(p);
            QCOMPARE(p->intensity, 2.0);
            QVERIFY(near(p->gflops, 6.0));  // 3e6 / 0.5 ms x 1e-6
            QCOMPARE(p->attainableGflops, 0.0);
            QCOMPARE(p->fractionOfRoof, 0.0);
        }
    }

    // Log-log axes have no place for zero.
    void unplaceableSteps() {
        QVERIFY(!rooflinePoint(0, 1e6, 1, kRoofs));
        QVERIFY(!rooflinePoint(1e6, 0, 1, kRoofs));
        QVERIFY(!rooflinePoint(1e6, 1e6, 0, kRoofs));
    }

    // From a StepResult: all FLOPs over all bytes (weights, K/V read and written).
    void fromAStep() {
        StepResult s;
        s.flops.qkv = 600, s.flops.mlp = 300, s.flops.scores = 100;          // 1000 FLOPs
        s.bytes.weights = 400, s.bytes.kvRead = 90, s.bytes.kvWritten = 10;  // 500 bytes
        s.milliseconds = 0.001;  // 1 us: 1000 FLOPs at 1 GFLOP/s
        const auto p = rooflinePoint(s, kRoofs);
        QVERIFY(p);
        QCOMPARE(p->intensity, 2.0);
        QVERIFY(near(p->gflops, 1.0));
        QVERIFY(near(p->fractionOfRoof, 1.0 / 40));
        QCOMPARE(QString::fromLatin1(roofName(p->bound)), QStringLiteral("memory bandwidth"));
    }
};

QTEST_MAIN(TestRoofline)
#include "test_roofline.moc"
