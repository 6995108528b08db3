// Issue 15, 3 and 4: dark mode reaches every panel and chart and System gives the start-up look
// back; exports stay on white unless asked; presentation mode scales every font, line and
// marker by one factor in a high-contrast palette and back; Reset Layout docks every panel again.
// Nothing here depends on font metrics: fonts are compared as ratios of their own sizes, colours
// by lightness, layouts by dock areas.

#include "appearance.h"
#include "chart_export.h"
#include "chart_runs.h"
#include "control_panel.h"
#include "distribution_chart.h"
#include "main_window.h"
#include "plot_appearance.h"
#include "theme.h"
#include "token_strip.h"

#include "qcustomplot_include.h"

#include <QAction>
#include <QApplication>
#include <QDockWidget>
#include <QMenu>
#include <QMenuBar>
#include <QSettings>
#include <QTemporaryDir>
#include <QtTest>

using namespace kvscope;

namespace {

constexpr double kScale = Appearance::kPresentationScale;

// A corner of the plot as drawn: its background (every chart keeps a margin there).
QColor backgroundOf(QCustomPlot* plot) {
    plot->replot();
    return plot->toPixmap(400, 300).toImage().pixelColor(2, 2);
}

QColor exportedBackground(QCustomPlot* plot, const QString& path) {
    const auto written = exportChart(plot, path, QStringLiteral("a caption"), 1.0, QSize(400, 300));
    if (!written) qFatal("%s", qPrintable(written.errorMessage()));
    return QImage(path).pixelColor(2, 2);
}

QList<QCPAxis*> axesOf(QCustomPlot* plot) {
    QList<QCPAxis*> out;
    for (QCPLayoutElement* el : plot->plotLayout()->elements(true)) {
        if (auto* r = qobject_cast<QCPAxisRect*>(el)) out += r->axes();
        if (auto* c = qobject_cast<QCPColorScale*>(el)) out << c->axis();
    }
    return out;
}

QList<QCPTextElement*> textsOf(QCustomPlot* plot) {
    QList<QCPTextElement*> out;
    for (QCPLayoutElement* el : plot->plotLayout()->elements(true))
        if (auto* t = qobject_cast<QCPTextElement*>(el)) out << t;
    return out;
}

double points(const QFont& f) {
    return f.pointSizeF() > 0 ? f.pointSizeF() : f.pixelSize();
}

// What presentation mode scales, per chart: fonts, and the widest pen of its series.
struct ChartSizes {
    double tickFont, labelFont, titleFont, legendFont, widestPen;
};

ChartSizes sizesOf(QCustomPlot* plot) {
    double pen = 0;
    for (int i = 0; i < plot->plottableCount(); ++i)
        pen = std::max(pen, plot->plottable(i)->pen().widthF());
    const QList<QCPTextElement*> texts = textsOf(plot);
    return {points(plot->xAxis->tickLabelFont()), points(plot->xAxis->labelFont()),
            texts.isEmpty() ? 0 : points(texts.first()->font()), points(plot->legend->font()), pen};
}

}  // namespace

class TestAppearance : public QObject {
    Q_OBJECT
    QPalette startup_;
    QFont startupFont_;
    std::unique_ptr<MainWindow> w_;
    QTemporaryDir tmp_;

    QList<QCustomPlot*> charts() const {
        QList<QCustomPlot*> out;
        for (const auto& [name, plot] : w_->charts()) out << plot;
        return out;
    }

    // Every chart's background as drawn, and every axis's and title's ink, are of the scheme.
    void checkCharts(bool dark) {
        for (const auto& [name, plot] : w_->charts()) {
            const QColor back = backgroundOf(plot);
            QVERIFY2(dark ? back.lightness() < 80 : back == QColor(Qt::white),
                     qPrintable(name + QLatin1Char(' ') + back.name()));
            for (QCPAxis* a : axesOf(plot)) {
                for (const QColor& ink :
                     {a->tickLabelColor(), a->labelColor(), a->basePen().color()})
                    QVERIFY2(dark ? ink.lightness() > 200 : ink.lightness() < 60,
                             qPrintable(name + QLatin1Char(' ') + ink.name()));
            }
            for (QCPTextElement* t : textsOf(plot))
                QVERIFY2(dark == (t->textColor().lightness() > 128), qPrintable(name));
            QVERIFY2(dark == (plot->legend->textColor().lightness() > 128), qPrintable(name));
        }
    }

private Q_SLOTS:
    void initTestCase() {
        QCoreApplication::setOrganizationName(QStringLiteral("kvscope-tests-appearance"));
        QSettings().clear();
        startup_ = QApplication::palette();
        startupFont_ = QApplication::font();
        QVERIFY(tmp_.isValid());
        w_ = std::make_unique<MainWindow>();
        w_->resize(1280, 680);
        w_->show();
        QVERIFY(QTest::qWaitForWindowExposed(w_.get()));
        const ModelPtr model = test::loadOrDie(QStringLiteral(KVSCOPE_FIXTURES "/reference/model"));
        auto run = std::make_unique<RunExport>(
            test::generate(model, {Mode::Naive, Mode::Cached},
                           model->tokenizer->encode("The quick brown fox"), 30));
        w_->showRun(std::move(run));
        w_->selectStep(10);
        QTest::qWait(80);
    }
    void cleanupTestCase() {
        w_.reset();
        QCOMPARE(QApplication::palette(), startup_);  // the window put the start-up look back
        QCOMPARE(QApplication::font(), startupFont_);
        QSettings().clear();
    }

    void darkReachesEveryChartAndLightComesBack() {
        QVERIFY(!theme::isDark(startup_));  // the offscreen platform starts light
        w_->setColorScheme(ColorScheme::Dark);
        QVERIFY(theme::isDark(QApplication::palette()));
        checkCharts(true);
        if (QTest::currentTestFailed()) return;
        // The token strip and the controls paint from the palette they are given.
        QVERIFY(theme::isDark(w_->tokenStrip()->palette()));
        QVERIFY(w_->controls()->palette().color(QPalette::WindowText).lightness() > 200);
        w_->setColorScheme(ColorScheme::Light);
        checkCharts(false);
    }

    // Greys drawn on white (the cost charts' guides, the roofline's roofs) keep their contrast on
    // dark: the same share of the way from the text colour to the background in both schemes.
    // The modes' lines are lifted on dark (the blue fades there) and come back on light.
    void greysAndModeColoursFollowThePalette() {
        QCPGraph *reference = nullptr, *cached = nullptr;
        for (QCustomPlot* p : charts()) {
            if (auto* g = p->findChild<QCPGraph*>(QStringLiteral("cumulative.reference.1")))
                reference = g;
            if (auto* g = p->findChild<QCPGraph*>(QStringLiteral("perStep.cached"))) cached = g;
        }
        QVERIFY(reference && cached);
        QList<double> shares;
        for (ColorScheme s : {ColorScheme::Dark, ColorScheme::Light}) {
            w_->setColorScheme(s);
            const QPalette pal = reference->parentPlot()->palette();
            const double text = pal.color(QPalette::Text).lightness();
            const double base = pal.color(QPalette::Base).lightness();
            shares << (reference->pen().color().lightness() - text) / (base - text);
            QCOMPARE(cached->pen().color(), theme::modeColor(Mode::Cached, pal));
        }
        QVERIFY2(shares[0] > 0.2 && shares[0] < 0.8 && std::abs(shares[0] - shares[1]) < 0.03,
                 qPrintable(QStringLiteral("%1 dark, %2 light").arg(shares[0]).arg(shares[1])));
        QVERIFY(theme::modeColor(Mode::Cached, theme::darkPalette()) !=
                theme::modeColor(Mode::Cached));
    }

    void systemRestoresTheStartUpPalette() {
        w_->setColorScheme(ColorScheme::Dark);
        w_->setColorScheme(ColorScheme::System);
        QCOMPARE(QApplication::palette(), startup_);
        QCOMPARE(w_->appearance()->colorScheme(), ColorScheme::System);
        QCOMPARE(backgroundOf(charts().first()), startup_.color(QPalette::Base));
    }

    // The View menu offers the three schemes, checked as set, and the choice is remembered.
    void menuOffersAndRemembersTheScheme() {
        auto* look = w_->menuBar()->findChild<QMenu*>(QStringLiteral("appearanceMenu"));
        QVERIFY(look);
        QAction* dark = nullptr;
        for (QAction* a : look->actions())
            if (a->isCheckable() && a->data().toInt() == int(ColorScheme::Dark)) dark = a;
        QVERIFY(dark);
        dark->trigger();
        QCOMPARE(w_->appearance()->colorScheme(), ColorScheme::Dark);
        QVERIFY(dark->isChecked());
        {
            Appearance next;  // as the next start would
            next.restoreSettings();
            QCOMPARE(next.colorScheme(), ColorScheme::Dark);
        }
        w_->setColorScheme(ColorScheme::System);
        QVERIFY(!dark->isChecked());
    }

    // In dark mode exports are drawn on white and the screen stays dark; asked for, they keep
    // the screen's colours.
    void exportsStayWhiteUnlessAsked() {
        w_->setColorScheme(ColorScheme::Dark);
        for (const auto& [name, plot] : w_->charts()) {
            const QColor exported = exportedBackground(plot, tmp_.filePath(name + ".png"));
            QVERIFY2(exported == QColor(Qt::white), qPrintable(name + ' ' + exported.name()));
            QVERIFY2(backgroundOf(plot).lightness() < 80, qPrintable(name));
        }
        const auto all = w_->exportAll(tmp_.filePath(QStringLiteral("all")));
        QVERIFY2(all, qPrintable(all.errorMessage()));
        const QImage cumulative(tmp_.filePath(QStringLiteral("all/cumulative.png")));
        QCOMPARE(cumulative.pixelColor(2, 2), QColor(Qt::white));

        auto* screen = w_->findChild<QAction*>(QStringLiteral("exportScreenColors"));
        QVERIFY(screen && !screen->isChecked());
        screen->trigger();
        QVERIFY(exportsInScreenColors());
        for (const auto& [name, plot] : w_->charts()) {
            const QColor exported = exportedBackground(plot, tmp_.filePath(name + ".dark.png"));
            QVERIFY2(exported.lightness() < 80, qPrintable(name + ' ' + exported.name()));
        }
        screen->trigger();
        QVERIFY(!exportsInScreenColors());
        w_->setColorScheme(ColorScheme::System);
    }

    // Presentation mode: every chart's fonts and series pens and every widget's font 1.5 times
    // larger, high contrast in light and dark; off, everything as it was.
    void presentationScalesEverythingAndBack() {
        QList<ChartSizes> before;
        for (QCustomPlot* p : charts()) before << sizesOf(p);
        const double stripFont = points(w_->tokenStrip()->font());
        const double controlsFont = points(w_->controls()->font());
        w_->setPresentationMode(true);
        QVERIFY(w_->appearance()->presentation());
        QCOMPARE(theme::uiScale(), kScale);
        QCOMPARE(points(w_->tokenStrip()->font()), stripFont * kScale);
        QCOMPARE(points(w_->controls()->font()), controlsFont * kScale);
        for (int i = 0; i < charts().size(); ++i) {
            const ChartSizes now = sizesOf(charts()[i]), was = before[i];
            const QString name = charts()[i]->objectName();
            for (auto [a, b] : {std::pair{now.tickFont, was.tickFont},
                                {now.labelFont, was.labelFont},
                                {now.titleFont, was.titleFont},
                                {now.legendFont, was.legendFont},
                                {now.widestPen, was.widestPen}})
                QVERIFY2(qFuzzyCompare(a, b * kScale),
                         qPrintable(QStringLiteral("%1: %2 for %3").arg(name).arg(a).arg(b)));
        }
        // High contrast: pure ink on pure paper, light then dark.
        QPalette pal = QApplication::palette();
        QCOMPARE(pal.color(QPalette::Text), QColor(Qt::black));
        QCOMPARE(pal.color(QPalette::Base), QColor(Qt::white));
        QVERIFY(pal.color(QPalette::Highlight) != startup_.color(QPalette::Highlight));
        QCOMPARE(backgroundOf(charts().first()), QColor(Qt::white));
        w_->setColorScheme(ColorScheme::Dark);
        pal = QApplication::palette();
        QCOMPARE(pal.color(QPalette::Text), QColor(Qt::white));
        QCOMPARE(pal.color(QPalette::Base), QColor(Qt::black));
        QCOMPARE(backgroundOf(charts().first()), QColor(Qt::black));
        w_->setColorScheme(ColorScheme::System);

        w_->setPresentationMode(false);
        QCOMPARE(QApplication::palette(), startup_);
        QCOMPARE(points(w_->tokenStrip()->font()), stripFont);
        for (int i = 0; i < charts().size(); ++i) {
            const ChartSizes now = sizesOf(charts()[i]), was = before[i];
            QVERIFY(qFuzzyCompare(now.tickFont, was.tickFont));
            QVERIFY(qFuzzyCompare(now.legendFont, was.legendFont));
            QVERIFY(qFuzzyCompare(now.widestPen, was.widestPen));
        }
    }

    // A part a chart keeps out of its layout for now (the distribution's legend, until there is
    // a step) is scaled with the rest, and comes in at the size of the rest.
    void partsOutsideTheLayoutScaleToo() {
        DistributionChart empty;
        QCPLegend* legend = empty.plot()->legend;
        QVERIFY(!legend->layout());
        const double font = points(legend->font()),
                     ticks = points(empty.plot()->xAxis->tickLabelFont());
        w_->setPresentationMode(true);
        QCOMPARE(points(legend->font()), font * kScale);
        QCOMPARE(points(empty.plot()->xAxis->tickLabelFont()), ticks * kScale);
        w_->setPresentationMode(false);
        QCOMPARE(points(legend->font()), font);
    }

    // An export looks the same whether or not presentation mode is on. (The distribution and
    // the heatmap are left out: they show as many candidates and token labels as fit their size
    // on screen, which presentation mode changes.)
    void exportsIgnorePresentationMode() {
        QStringList differ;
        for (const auto& [name, plot] : w_->charts()) {
            if (name == QLatin1String("distribution") || name == QLatin1String("attention"))
                continue;
            const QString normal = tmp_.filePath(name + ".normal.png");
            const QString presenting = tmp_.filePath(name + ".big.png");
            exportedBackground(plot, normal);
            w_->setPresentationMode(true);
            exportedBackground(plot, presenting);
            w_->setPresentationMode(false);
            if (QImage(presenting) != QImage(normal)) differ << name;
        }
        QVERIFY2(differ.isEmpty(), qPrintable(differ.join(' ')));
    }

    // Reset Layout shows a closed dock and docks a floating or moved one where it started.
    void resetLayoutRestoresTheDefault() {
        auto dockNamed = [this](const char* name) {
            return w_->findChild<QDockWidget*>(QLatin1String(name));
        };
        QMap<QString, Qt::DockWidgetArea> areas;
        for (QDockWidget* d : w_->findChildren<QDockWidget*>())
            areas[d->objectName()] = w_->dockWidgetArea(d);
        QDockWidget *heat = dockNamed("attention"), *dist = dockNamed("distribution"),
                    *what = dockNamed("whatIf"), *cost = dockNamed("cost");
        heat->close();
        dist->setFloating(true);
        w_->addDockWidget(Qt::LeftDockWidgetArea, what);
        QTest::qWait(50);
        QVERIFY(!heat->isVisible());
        w_->resetLayout();
        QTest::qWait(50);
        for (QDockWidget* d : w_->findChildren<QDockWidget*>()) {
            // The lesson's dock shows while a lesson runs, not because of a reset.
            if (d->objectName() == QLatin1String("lesson")) {
                QVERIFY(d->isHidden());
                continue;
            }
            QVERIFY2(d->isVisible() && !d->isFloating(), qPrintable(d->objectName()));
            QCOMPARE(w_->dockWidgetArea(d), areas[d->objectName()]);
        }
        QVERIFY(w_->tabifiedDockWidgets(cost).contains(what));
        QVERIFY(!cost->visibleRegion().isEmpty());  // Cost in front, as at the first start
    }

    // Leaving presentation mode gives back the arrangement from before it.
    void presentationGivesTheLayoutBack() {
        QDockWidget* dist = w_->findChild<QDockWidget*>(QStringLiteral("distribution"));
        w_->addDockWidget(Qt::LeftDockWidgetArea, dist);
        QTest::qWait(50);
        w_->setPresentationMode(true);
        QTest::qWait(50);
        w_->setPresentationMode(false);
        QTest::qWait(50);
        QCOMPARE(w_->dockWidgetArea(dist), Qt::LeftDockWidgetArea);
        w_->resetLayout();
        QCOMPARE(w_->dockWidgetArea(dist), Qt::RightDockWidgetArea);
    }
};

QTEST_MAIN(TestAppearance)
#include "test_appearance.moc"
