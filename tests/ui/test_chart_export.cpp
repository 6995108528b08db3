// Exports as they leave the app for a slide or a handout (issue 14): readable fonts, no
// interaction aids, a dark caption that wraps rather than cuts, whole layouts at any width,
// seamless stacked bars, human titles and file names, the last folder remembered, a status-bar
// confirmation, and a breakdown per mode from the headless export.

#include "chart_export.h"
#include "chart_runs.h"
#include "chart_style.h"
#include "cost_charts.h"
#include "qcustomplot_include.h"

#include <QMainWindow>
#include <QProcess>
#include <QSettings>
#include <QSignalSpy>
#include <QStatusBar>
#include <QTemporaryDir>
#include <QtTest>

using namespace kvscope;
using test::generate;
using test::loadOrDie;
using test::viewOf;

namespace {

QCustomPlot* plotNamed(const CostCharts& w, const QString& name) {
    for (const auto& [n, p] : w.namedPlots())
        if (n == name) return p;
    qFatal("no plot %s", qPrintable(name));
}

bool dark(QRgb c) {
    return qGray(c) < 110;
}

// The height of the first run of rows with dark pixels below row `from`, within columns
// [left, right): the tick labels under an axis, measured in the image.
int inkBandHeight(const QImage& img, int from, int left, int right) {
    auto inked = [&](int y) {
        for (int x = left; x < right; ++x)
            if (dark(img.pixel(x, y))) return true;
        return false;
    };
    int y = from;
    while (y < img.height() && !inked(y)) ++y;
    const int start = y;
    while (y < img.height() && inked(y)) ++y;
    return y - start;
}

// Pixels of a column close to the selected-step line's grey.
int selectionGreyPixels(const QImage& img, int x, int top, int bottom) {
    int n = 0;
    for (int y = top; y < bottom; ++y) {
        const QColor c = img.pixelColor(x, y);
        if (std::abs(c.red() - 120) < 30 && std::abs(c.green() - 120) < 30 &&
            std::abs(c.blue() - 120) < 30)
            ++n;
    }
    return n;
}

const QString kLongCaption = QStringLiteral(
    "model kvscope-tiny-stories (embedded) · mode compare · prompt 5 tokens · 1000 tokens "
    "generated · seed 42");

}  // namespace

class TestChartExport : public QObject {
    Q_OBJECT
    QTemporaryDir tmp_;
    ModelPtr ref_;
    RunExport compare_;

private Q_SLOTS:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);  // QSettings in a scratch location
        QCoreApplication::setOrganizationName(QStringLiteral("kvscope-test"));
        QCoreApplication::setApplicationName(QStringLiteral("chart-export"));
        QSettings().clear();
        QVERIFY(tmp_.isValid());
        ref_ = loadOrDie(QStringLiteral(KVSCOPE_FIXTURES "/reference/model"));
        compare_ = generate(ref_, {Mode::Naive, Mode::Cached},
                            ref_->tokenizer->encode("The quick brown fox jumps"), 60);
    }

    // A slide-sized frame (1200 x 750, written at 2x) gets fonts twice the screen's: tick labels
    // of at least 40 px; the selected-step line stays off the export; all is put back after.
    void slideExportsAreReadableAndClean() {
        CostCharts w;
        w.setView(viewOf(compare_, 30));
        w.refresh();
        QCustomPlot* plot = plotNamed(w, QStringLiteral("flops_per_step"));
        auto* selected = plot->findChild<QCPItemLine*>(QStringLiteral("perStep.selected"));
        QVERIFY(selected->visible());
        const QFont screenTicks = plot->xAxis->tickLabelFont();
        const QSize frame(1200, 750);
        QCOMPARE(ExportLook::fontScale(frame), 2.0);
        QImage slide, screen;
        int axisY = 0, left = 0, right = 0, lineX = 0, top = 0;
        {
            const ExportLook look(plot, frame, kLongCaption);
            QVERIFY2(plot->xAxis->tickLabelFont().pixelSize() * 2 >= 40,
                     qPrintable(QString::number(plot->xAxis->tickLabelFont().pixelSize())));
            QVERIFY(!selected->visible());
            slide = plot->toPixmap(frame.width(), frame.height(), 2.0).toImage();
            const QRect r = plot->axisRect()->rect();
            axisY = 2 * r.bottom() + 4;
            left = 2 * r.left();
            right = 2 * r.right();
            top = 2 * r.top();
            lineX = int(std::lround(2 * plot->xAxis->coordToPixel(selected->start->coords().x())));
        }
        QVERIFY(selected->visible());
        QCOMPARE(plot->xAxis->tickLabelFont(), screenTicks);
        // Measured in the image: the digits under the x axis (about 0.7 of the font's pixel
        // size), against the screen look drawn into the same frame.
        const int digits = inkBandHeight(slide, axisY, left, right);
        screen = plot->toPixmap(frame.width(), frame.height(), 2.0).toImage();
        const QRect r = plot->axisRect()->rect();
        const int screenDigits =
            inkBandHeight(screen, 2 * r.bottom() + 4, 2 * r.left(), 2 * r.right());
        qInfo("x tick digits: %d px exported at 2400x1500, %d px with the screen's fonts", digits,
              screenDigits);
        QVERIFY2(digits >= 24, qPrintable(QString::number(digits)));
        QVERIFY(digits > screenDigits * 3 / 2);
        // The dash-dot line: present in the screen look, absent from the export.
        const int screenLineX =
            int(std::lround(2 * plot->xAxis->coordToPixel(selected->start->coords().x())));
        QVERIFY(selectionGreyPixels(screen, screenLineX, 2 * r.top(), 2 * r.bottom()) > 40);
        QVERIFY(selectionGreyPixels(slide, lineX, top, axisY - 4) < 10);
    }

    // The caption is dark (it was light grey) and wrapped inside a narrow frame, where it used to
    // be cut at the left; a grid of several columns (the heatmap and its colour bar) keeps every
    // column inside the frame.
    void narrowExportsKeepCaptionAndColumnsWhole() {
        QCustomPlot plot;
        plot.resize(300, 360);
        auto* map = new QCPColorMap(plot.xAxis, plot.yAxis);
        map->data()->setSize(10, 10);
        map->data()->setRange(QCPRange(0, 9), QCPRange(0, 9));
        for (int i = 0; i < 10; ++i)
            for (int j = 0; j < 10; ++j) map->data()->setCell(i, j, (i + j) / 18.0);
        auto* scale = new QCPColorScale(&plot);
        plot.plotLayout()->addElement(0, 1, scale);
        map->setColorScale(scale);
        map->rescaleDataRange();
        plot.rescaleAxes();
        const QSize frame(300, 360);
        {
            const ExportLook look(&plot, frame, kLongCaption);
            plot.toPixmap(frame.width(), frame.height(), 1.0);  // lays the export out
            QCPTextElement* caption = nullptr;
            for (QCPLayoutElement* e : plot.plotLayout()->elements(true))
                if (auto* t = qobject_cast<QCPTextElement*>(e); t && t->text() == kLongCaption)
                    caption = t;
            QVERIFY(caption);
            QVERIFY(qGray(caption->textColor().rgb()) < 110);
            const QRect inside(QPoint(0, 0), frame);
            QVERIFY2(inside.contains(caption->outerRect()),
                     qPrintable(QStringLiteral("caption %1-%2")
                                    .arg(caption->outerRect().left())
                                    .arg(caption->outerRect().right())));
            QVERIFY(caption->outerRect().height() > 2 * QFontMetrics(caption->font()).height());
            QVERIFY(inside.contains(scale->outerRect()));
            QVERIFY(scale->outerRect().left() >= plot.axisRect()->outerRect().right());
        }
        // Back as it was: the colour bar beside the axis rect, no caption.
        QCOMPARE(plot.plotLayout()->rowCount(), 1);
        QCOMPARE(plot.plotLayout()->columnCount(), 2);
        QCOMPARE(plot.plotLayout()->element(0, 1), scale);
        QCOMPARE(plot.plotLayout()->element(0, 0), plot.axisRect());
        // And through the files: every format writes.
        for (const char* suffix : {"png", "pdf", "svg"}) {
            const QString path = tmp_.filePath(QStringLiteral("narrow.") + suffix);
            QVERIFY(exportChart(&plot, path, kLongCaption, 1.0, frame));
            QVERIFY(QFileInfo(path).size() > 500);
        }
    }

    // Stacked bars without light stripes: no background pixel inside a stack, neither between
    // its segments nor between neighbouring bars.
    void stackedBarsHaveNoStripes() {
        CostCharts w;
        w.setView(viewOf(compare_));
        w.refresh();
        QCustomPlot* plot = plotNamed(w, QStringLiteral("breakdown_cached"));
        const ExportLook look(plot, QSize(1200, 750), QString());
        const QImage img = plot->toPixmap(1200, 750, 2.0).toImage();
        const QRgb background = img.pixel(2, 2);
        const QCPRange keys = plot->xAxis->range();
        const double mid = std::round((keys.lower + keys.upper) / 2);
        const int x = int(std::lround(2 * plot->xAxis->coordToPixel(mid)));
        // Down the middle bar, from the axis up to half its total height.
        const auto* lowest = plot->findChild<QCPBars*>(QStringLiteral("breakdown_cached.0"));
        double total = 0;
        for (int i = 0; i < 7; ++i) {
            const auto* b = plot->findChild<QCPBars*>(QStringLiteral("breakdown_cached.%1").arg(i));
            total += b->data()->findBegin(mid, false)->value;
        }
        const int base = int(2 * plot->yAxis->coordToPixel(0)) - 2;
        const int half = int(2 * plot->yAxis->coordToPixel(total / 2));
        int gaps = 0;
        for (int y = half; y < base; ++y) gaps += img.pixel(x, y) == background;
        QCOMPARE(gaps, 0);
        // Nor a seam: a row lighter than the rows on both sides of it (a blend with the
        // background where two segments meet).
        int seams = 0;
        for (int y = half + 2; y < base - 2; ++y)
            seams += qGray(img.pixel(x, y)) >
                     15 + std::max(qGray(img.pixel(x, y - 2)), qGray(img.pixel(x, y + 2)));
        QCOMPARE(seams, 0);
        // Across the lowest segment, over the middle half of the bars.
        const int y = int(2 * plot->yAxis->coordToPixel(lowest->data()->findBegin(mid)->value / 2));
        const int x0 = int(2 * plot->xAxis->coordToPixel(keys.lower + keys.size() * 0.25));
        const int x1 = int(2 * plot->xAxis->coordToPixel(keys.lower + keys.size() * 0.75));
        for (int xi = x0; xi < x1; ++xi) {
            gaps += img.pixel(xi, y) == background;
            seams += qGray(img.pixel(xi, y)) >
                     15 + std::max(qGray(img.pixel(xi - 2, y)), qGray(img.pixel(xi + 2, y)));
        }
        QCOMPARE(gaps, 0);
        QCOMPARE(seams, 0);
    }

    // File > Export Chart lists headings, not file stems; default names say chart, mode, length
    // and format.
    void titlesAndDefaultNames() {
        CostCharts w;
        w.setView(viewOf(compare_));
        w.refresh();
        const QString caption = chartCaption(viewOf(compare_));
        for (const auto& [stem, plot] : w.namedPlots()) {
            const QString title = chartTitle(plot);
            QVERIFY2(title != stem && title.contains(QLatin1Char(' ')), qPrintable(title));
            for (const char* suffix : {"png", "pdf", "svg"})
                QCOMPARE(defaultExportName(plot, caption, QString::fromLatin1(suffix)),
                         stem + "_compare_60-tokens." + suffix);
            QCOMPARE(defaultExportName(plot, QStringLiteral("no run"), QStringLiteral("svg")),
                     stem + ".svg");
        }
        QCOMPARE(chartTitle(plotNamed(w, QStringLiteral("cumulative"))),
                 QStringLiteral("Cumulative FLOPs since the run started"));
        QCustomPlot bare;
        bare.setObjectName(QStringLiteral("attention"));
        QCOMPARE(chartTitle(&bare), QStringLiteral("Attention heatmap"));
        // The distribution's heading names the step, not the chart.
        QCustomPlot distribution;
        distribution.setObjectName(QStringLiteral("distribution"));
        distribution.plotLayout()->insertRow(0);
        distribution.plotLayout()->addElement(
            0, 0, new QCPTextElement(&distribution, QStringLiteral("Step 253 (position 258)")));
        QCOMPARE(chartTitle(&distribution), QStringLiteral("Next-token distribution"));
    }

    // The first dialog of a session opens where the last export went, not in the home folder.
    void lastExportFolderIsRemembered() {
        const QString dir = tmp_.filePath(QStringLiteral("slides"));
        QVERIFY(QDir().mkpath(dir));
        rememberExportFolder(dir);
        QCOMPARE(lastExportFolder(), dir);
        QCOMPARE(QSettings().value(QStringLiteral("export/lastFolder")).toString(), dir);
        // A folder since deleted: a real folder rather than a dialog in nowhere.
        rememberExportFolder(tmp_.filePath(QStringLiteral("gone")));
        QVERIFY(QFileInfo(lastExportFolder()).isDir());
    }

    // Copy to clipboard (and every single export) says so in the window's status bar.
    void exportsConfirmInTheStatusBar() {
        QMainWindow window;
        auto* costs = new CostCharts;
        window.setCentralWidget(costs);
        costs->setView(viewOf(compare_));
        costs->refresh();
        window.resize(900, 600);
        window.show();
        QSignalSpy spy(ExportNotifier::instance(), &ExportNotifier::exported);
        QCustomPlot* plot = plotNamed(*costs, QStringLiteral("memory"));
        copyChartToClipboard(plot, chartCaption(viewOf(compare_)));
        QCOMPARE(spy.count(), 1);
        const QString message = window.statusBar()->currentMessage();
        QVERIFY2(
            message.contains(chartTitle(plot)) && message.contains(QStringLiteral("clipboard")),
            qPrintable(message));
    }

    // Issue 14, 11: headless Compare exports write both breakdowns, named by mode.
    void headlessCompareExportsBothBreakdowns() {
        const QString dir = tmp_.filePath(QStringLiteral("headless"));
        QProcess p;
        p.start(QStringLiteral(KVSCOPE_BIN),
                {QStringLiteral("--headless"), QStringLiteral("--model"),
                 QStringLiteral(KVSCOPE_FIXTURES "/reference/model"), QStringLiteral("--mode"),
                 QStringLiteral("both"), QStringLiteral("--max-tokens"), QStringLiteral("8"),
                 QStringLiteral("--no-attention"), QStringLiteral("--export-dir"), dir});
        QVERIFY(p.waitForFinished(120000));
        QCOMPARE(p.exitCode(), 0);
        for (const char* mode : {"naive", "cached"})
            for (const char* suffix : {"png", "pdf", "svg"}) {
                const QString f =
                    QDir(dir).filePath(QStringLiteral("breakdown_%1.%2").arg(mode, suffix));
                QVERIFY2(QFileInfo(f).size() > 1000, qPrintable(f));
            }
        QVERIFY(!QFileInfo::exists(QDir(dir).filePath(QStringLiteral("breakdown.png"))));
        for (const char* suffix : {"png", "pdf", "svg"}) {  // issue 13, 6
            const QString f = QDir(dir).filePath(QStringLiteral("roofline.%1").arg(suffix));
            QVERIFY2(QFileInfo(f).size() > 1000, qPrintable(f));
        }
    }
};

QTEST_MAIN(TestChartExport)
#include "test_chart_export.moc"
