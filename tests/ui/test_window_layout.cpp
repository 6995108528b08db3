// The window at a lecture: it fits a 1280x720 projector in every state, the status line says
// what is happening in words that match it, and a refused start leaves the last run on screen.
// Nothing here depends on font metrics: every check is a relation between widgets' own sizes.

#include "attention_heatmap.h"
#include "control_panel.h"
#include "cost_charts.h"
#include "distribution_chart.h"
#include "main_window.h"
#include "model/embedded_model.h"
#include "token_strip.h"

#include "qcustomplot_include.h"

#include <QDockWidget>
#include <QLabel>
#include <QPlainTextEdit>
#include <QScrollArea>
#include <QScrollBar>
#include <QSignalSpy>
#include <QStatusBar>
#include <QTabWidget>
#include <QtTest>

using namespace kvscope;

namespace {

// A projector's 1280x720 less a window manager's title bar.
constexpr int kScreenWidth = 1280;
constexpr int kScreenHeight = 720;
constexpr int kTitleBar = 40;

QTabWidget* costTabs(MainWindow& w) {
    return w.costs()->findChild<QTabWidget*>();
}

QStringList statusTexts(MainWindow& w) {
    QStringList out;
    for (QLabel* l : w.statusBar()->findChildren<QLabel*>()) out << l->text();
    return out;
}

// The plot element's rectangle lies inside the plot, and the plot inside the window.
bool onScreen(QCustomPlot* plot, const QRect& element, const QWidget& window) {
    const QRect inWindow(plot->mapTo(&window, element.topLeft()), element.size());
    return plot->rect().contains(element) && window.rect().contains(inWindow) && plot->isVisible();
}

}  // namespace

class TestWindowLayout : public QObject {
    Q_OBJECT
    std::unique_ptr<MainWindow> w_;

    // mode: 0 naive, 1 cached, 2 compare.
    void runToEnd(int tokens, int mode = 2,
                  const QString& prompt = QStringLiteral("The old lighthouse")) {
        QSignalSpy ended(w_.get(), &MainWindow::runEnded);
        w_->controls()->setPrompt(prompt);
        QSettings().setValue(QStringLiteral("controls/maxTokens"), tokens);
        QSettings().setValue(QStringLiteral("controls/mode"), mode);
        w_->controls()->restoreSettings();
        w_->controls()->setPrompt(prompt);
        Q_EMIT w_->controls()->generateRequested();
        QVERIFY2(ended.count() || ended.wait(180000), qPrintable(statusTexts(*w_).join('|')));
        QTest::qWait(80);  // one frame of the display timer
    }

    void checkFits(const char* state) {
        const QSize min = w_->minimumSizeHint();
        QString docks;
        for (QDockWidget* d : w_->findChildren<QDockWidget*>())
            docks += QStringLiteral(" %1 %2x%3;")
                         .arg(d->objectName())
                         .arg(d->minimumSizeHint().width())
                         .arg(d->minimumSizeHint().height());
        QVERIFY2(min.width() <= kScreenWidth && min.height() <= kScreenHeight - kTitleBar,
                 qPrintable(QStringLiteral("%1: the window needs at least %2x%3 (docks:%4)")
                                .arg(QLatin1String(state))
                                .arg(min.width())
                                .arg(min.height())
                                .arg(docks)));
        w_->resize(kScreenWidth, kScreenHeight - kTitleBar);
        QTest::qWait(50);
        QCOMPARE(w_->size(), QSize(kScreenWidth, kScreenHeight - kTitleBar));
        // The controls need no scrolling, every dock keeps some room.
        auto* scroll = w_->findChild<QScrollArea*>();
        QVERIFY(scroll);
        QVERIFY2(scroll->verticalScrollBar()->maximum() == 0,
                 qPrintable(QStringLiteral("%1: the controls scroll by %2 px")
                                .arg(QLatin1String(state))
                                .arg(scroll->verticalScrollBar()->maximum())));
        for (QDockWidget* d : w_->findChildren<QDockWidget*>())
            QVERIFY2(d->isVisible() && d->width() > 100 && d->height() > 100,
                     qPrintable(d->windowTitle()));
        // The colour bar and the legend stay inside the window.
        QCustomPlot* heat = w_->attention()->plot();
        heat->replot();
        auto* scale = heat->findChild<QCPColorScale*>();
        if (!scale) {
            for (int i = 0; i < heat->plotLayout()->elementCount(); ++i)
                if (auto* s = qobject_cast<QCPColorScale*>(heat->plotLayout()->elementAt(i)))
                    scale = s;
        }
        QVERIFY(scale);
        QVERIFY2(onScreen(heat, scale->outerRect(), *w_), state);
        QCustomPlot* dist = w_->distribution()->plot();
        dist->replot();
        QVERIFY2(onScreen(dist, dist->legend->outerRect(), *w_), state);
        QVERIFY2(onScreen(dist, dist->axisRect()->outerRect(), *w_), state);
    }

private Q_SLOTS:
    void initTestCase() {
        QCoreApplication::setOrganizationName(QStringLiteral("kvscope-tests-layout"));
        QSettings().clear();
        QSettings().setValue(QStringLiteral("controls/mode"), 2);  // compare
        QSettings().setValue(QStringLiteral("controls/delayMs"), 0);
        w_ = std::make_unique<MainWindow>();
        w_->resize(kScreenWidth, kScreenHeight - kTitleBar);
        w_->show();
        QVERIFY(QTest::qWaitForWindowExposed(w_.get()));
        auto m = loadEmbeddedModel();
        QVERIFY2(m, qPrintable(m.errorMessage()));
        w_->setModel(m.value());
    }
    void cleanupTestCase() {
        w_.reset();
        QSettings().clear();
    }

    void fitsA720pProjectorInEveryState() {
        checkFits("fresh window");
        if (QTest::currentTestFailed()) return;
        QTabWidget* tabs = costTabs(*w_);
        QVERIFY(tabs);
        // A naive run of 1000 tokens takes minutes on a shared machine; the cached one draws
        // the naive curve from the closed form, with the same long labels.
        for (auto [tokens, mode] : {std::pair{40, 2}, std::pair{200, 1}, std::pair{1000, 1}}) {
            runToEnd(tokens, mode);
            if (QTest::currentTestFailed()) return;
            for (int i = 0; i < tabs->count(); ++i) {
                tabs->setCurrentIndex(i);
                QTest::qWait(50);
                checkFits(qPrintable(
                    QStringLiteral("%1 tokens, tab %2").arg(tokens).arg(tabs->tabText(i))));
                if (QTest::currentTestFailed()) return;
            }
        }
        tabs->setCurrentIndex(0);
    }
};

QTEST_MAIN(TestWindowLayout)
#include "test_window_layout.moc"
