// Least-squares fits against cases whose answer is known in closed form.

#include "cost/curve_fit.h"

#include <QtTest>

#include <cmath>
#include <vector>

using namespace kvscope;

class TestCurveFit : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void exactLineIsRecovered() {
        const std::vector<double> x{-2, 0, 1, 5, 9};
        std::vector<double> y;
        for (double v : x) y.push_back(-1.5 * v + 4);
        const auto f = fitLine(x, y);
        QVERIFY(f);
        QCOMPARE(f->slope, -1.5);
        QCOMPARE(f->intercept, 4.0);
        QCOMPARE(f->points, 5);
    }

    // y = 1, 2, 2, 3 at x = 0..3: slope = Sxy / Sxx = 3 / 5, intercept = 2 - 0.6 * 1.5.
    void noisyLineMatchesNormalEquations() {
        const std::vector<double> x{0, 1, 2, 3}, y{1, 2, 2, 3};
        const auto f = fitLine(x, y);
        QVERIFY(f);
        QVERIFY(std::abs(f->slope - 0.6) < 1e-12);
        QVERIFY(std::abs(f->intercept - 1.1) < 1e-12);
    }

    void cubeHasSlopeThree() {
        std::vector<double> x, y;
        for (int t = 1; t <= 200; ++t) {
            x.push_back(t);
            y.push_back(7.0 * t * t * t);
        }
        const auto f = fitPowerLaw(x, y);
        QVERIFY(f);
        QVERIFY(std::abs(f->slope - 3.0) < 1e-12);
        QVERIFY(std::abs(f->intercept - std::log(7.0)) < 1e-9);
    }

    void squareOfLargeValuesHasSlopeTwo() {
        std::vector<double> x, y;
        for (int t = 1000; t <= 1100; ++t) {
            x.push_back(t);
            y.push_back(3e9 * double(t) * t);
        }
        const auto f = fitPowerLaw(x, y);
        QVERIFY(f);
        QVERIFY(std::abs(f->slope - 2.0) < 1e-9);
    }

    // A cubic with a linear part is steeper than 1 and shallower than 3: the fit reports the
    // local exponent, which is what the chart shows for a curve not yet attention-dominated.
    void mixedPolynomialLiesBetweenItsTerms() {
        std::vector<double> x, y;
        for (int t = 10; t <= 20; ++t) {
            x.push_back(t);
            y.push_back(double(t) * t * t + 100.0 * t);
        }
        const auto f = fitPowerLaw(x, y);
        QVERIFY(f);
        QVERIFY(f->slope > 1.5 && f->slope < 3.0);
    }

    void nonPositivePointsAreSkipped() {
        const std::vector<double> x{0, -1, 1, 2, 4}, y{5, 5, 1, 4, 16};
        const auto f = fitPowerLaw(x, y);
        QVERIFY(f);
        QCOMPARE(f->points, 3);
        QVERIFY(std::abs(f->slope - 2.0) < 1e-12);
    }

    void degenerateInputHasNoFit() {
        QVERIFY(!fitLine(std::vector<double>{}, std::vector<double>{}));
        QVERIFY(!fitLine(std::vector<double>{1}, std::vector<double>{2}));
        QVERIFY(!fitLine(std::vector<double>{3, 3, 3}, std::vector<double>{1, 2, 3}));
        QVERIFY(!fitPowerLaw(std::vector<double>{-1, 0, 2}, std::vector<double>{1, 1, 1}));
    }
};

QTEST_GUILESS_MAIN(TestCurveFit)
#include "test_curve_fit.moc"
