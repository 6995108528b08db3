#include "chart_export.h"

#include "qcustomplot_include.h"

#include <QBuffer>
#include <QClipboard>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QGuiApplication>
#include <QInputDialog>
#include <QMenu>
#include <QMessageBox>
#include <QSvgGenerator>
#include <QTemporaryDir>

#include <optional>

namespace kvscope {
namespace {

// A hidden widget may never have been laid out; its nominal size would make a useless figure.
QSize exportSize(QCustomPlot* plot, QSize asked) {
    if (!asked.isEmpty()) return asked;
    const QSize own = plot->size();
    return own.width() >= 200 && own.height() >= 150 ? own : QSize(800, 500);
}

bool hasEmptyCell(QCPLayoutGrid* g) {
    for (int i = 0; i < g->elementCount(); ++i)
        if (!g->elementAt(i)) return true;
    return false;
}

// The caption as a bottom row of the plot's layout while one export runs. QCPLayoutGrid cannot
// remove a single row, so the row is dropped with simplify(), which is exact only for a grid
// without empty cells; other grids get no caption rather than a rearranged layout.
class CaptionRow {
public:
    CaptionRow(QCustomPlot* plot, const QString& caption) : plot_(plot) {
        QCPLayoutGrid* g = plot->plotLayout();
        if (caption.isEmpty() || hasEmptyCell(g)) return;
        QFont font;
        font.setPointSizeF(7.5);
        text_ = new QCPTextElement(plot, caption, font);
        text_->setTextColor(QColor(110, 110, 110));
        text_->setMargins(QMargins(8, 2, 8, 4));
        text_->setTextFlags(Qt::AlignRight | Qt::AlignVCenter);
        const int row = g->rowCount();
        g->insertRow(row);
        g->addElement(row, 0, text_);
    }
    ~CaptionRow() {
        if (!text_) return;
        plot_->plotLayout()->remove(text_);
        plot_->plotLayout()->simplify();
        plot_->replot(QCustomPlot::rpQueuedReplot);  // lay the screen copy out at its own size
    }
    CaptionRow(const CaptionRow&) = delete;
    CaptionRow& operator=(const CaptionRow&) = delete;

private:
    QCustomPlot* plot_;
    QCPTextElement* text_ = nullptr;
};

Error fileError(const QString& path, const QString& what) {
    return Error{QStringLiteral("%1: %2").arg(path, what)};
}

QImage renderImage(QCustomPlot* plot, QSize size, double scale, const QString& caption) {
    CaptionRow row(plot, caption);
    return plot->toPixmap(size.width(), size.height(), scale).toImage();
}

Result<bool> writePng(QCustomPlot* plot, const QString& path, const QString& caption, double scale,
                      QSize size) {
    const QImage image = renderImage(plot, size, scale, caption);
    QByteArray bytes;
    QBuffer buffer(&bytes);
    buffer.open(QIODevice::WriteOnly);
    if (image.isNull() || !image.save(&buffer, "PNG"))
        return fileError(path, QStringLiteral("could not render the chart as PNG"));
    return writeFile(path, bytes);
}

// savePdf writes to a file name only; going through a temporary file keeps the final write atomic
// and its error message the same as for the other formats.
Result<bool> writePdf(QCustomPlot* plot, const QString& path, const QString& caption, QSize size) {
    QTemporaryDir tmp;
    const QString scratch = tmp.filePath(QStringLiteral("chart.pdf"));
    bool saved = false;
    {
        CaptionRow row(plot, caption);
        saved =
            tmp.isValid() && plot->savePdf(scratch, size.width(), size.height(), QCP::epNoCosmetic,
                                           QStringLiteral("kvscope"), caption);
    }
    QFile f(scratch);
    if (!saved || !f.open(QIODevice::ReadOnly))
        return fileError(path, QStringLiteral("could not render the chart as PDF"));
    return writeFile(path, f.readAll());
}

Result<bool> writeSvg(QCustomPlot* plot, const QString& path, const QString& caption, QSize size) {
    QByteArray bytes;
    QBuffer buffer(&bytes);
    buffer.open(QIODevice::WriteOnly);
    QSvgGenerator svg;
    svg.setOutputDevice(&buffer);
    svg.setSize(size);
    svg.setViewBox(QRect(QPoint(0, 0), size));
    svg.setResolution(96);  // the CSS pixel, so browsers show the SVG at `size` pixels
    svg.setTitle(plot->objectName());
    svg.setDescription(caption);
    {
        CaptionRow row(plot, caption);
        QCPPainter painter;
        if (!painter.begin(&svg))
            return fileError(path, QStringLiteral("could not render the chart as SVG"));
        painter.setMode(QCPPainter::pmVectorized);
        plot->toPainter(&painter, size.width(), size.height());
        painter.end();
    }
    return writeFile(path, bytes);
}

QString suffixFilter(const QString& suffix) {
    if (suffix == QLatin1String("png")) return QObject::tr("PNG image (*.png)");
    if (suffix == QLatin1String("pdf")) return QObject::tr("PDF document (*.pdf)");
    return QObject::tr("SVG image (*.svg)");
}

// Where the last export went, so a series of exports does not start from the home folder.
QString& lastExportDir() {
    static QString dir = QDir::homePath();
    return dir;
}

// 1x-4x for PNG; nullopt when the user cancels.
std::optional<double> askScale(QWidget* parent) {
    const QStringList scales = {QStringLiteral("1x"), QStringLiteral("2x"), QStringLiteral("3x"),
                                QStringLiteral("4x")};
    bool ok = false;
    const QString pick = QInputDialog::getItem(
        parent, QObject::tr("Export as PNG"),
        QObject::tr("Pixel ratio (1x = the chart's size on screen):"), scales, 1, false, &ok);
    if (!ok) return std::nullopt;
    return pick.chopped(1).toDouble();
}

void exportInteractively(QCustomPlot* plot, const QString& suffix, const QString& caption) {
    double scale = 1.0;
    if (suffix == QLatin1String("png")) {
        const auto picked = askScale(plot);
        if (!picked) return;
        scale = *picked;
    }
    const QString stem =
        plot->objectName().isEmpty() ? QStringLiteral("chart") : plot->objectName();
    const QString title = QObject::tr("Export chart as %1").arg(suffix.toUpper());
    QString path = QFileDialog::getSaveFileName(
        plot, title, QDir(lastExportDir()).filePath(stem + QLatin1Char('.') + suffix),
        suffixFilter(suffix));
    if (path.isEmpty()) return;
    if (QFileInfo(path).suffix().isEmpty()) path += QLatin1Char('.') + suffix;
    lastExportDir() = QFileInfo(path).absolutePath();
    const auto written = exportChart(plot, path, caption, scale);
    if (!written) QMessageBox::warning(plot, title, written.errorMessage());
}

void showExportMenu(QCustomPlot* plot, const std::function<QString()>& caption, QPoint at) {
    auto* menu = new QMenu(plot);
    menu->setAttribute(Qt::WA_DeleteOnClose);
    for (const char* suffix : {"png", "pdf", "svg"}) {
        const QString s = QString::fromLatin1(suffix);
        menu->addAction(QObject::tr("Export as %1…").arg(s.toUpper()), plot,
                        [plot, caption, s] { exportInteractively(plot, s, caption()); });
    }
    menu->addSeparator();
    menu->addAction(QObject::tr("Copy to clipboard"), plot,
                    [plot, caption] { copyChartToClipboard(plot, caption()); });
    menu->popup(plot->mapToGlobal(at));
}

}  // namespace

QString chartCaption(const RunView& v) {
    if (v.empty()) return QStringLiteral("no run");
    const RunExport& run = *v.run;
    const RunRecord* focus = v.focus();
    const QString mode =
        v.comparing() ? QStringLiteral("compare") : QString::fromLatin1(modeName(focus->mode));
    // An empty prompt runs from <|endoftext|>, so the steps know the length that was really fed.
    const int prompt =
        focus->steps.empty() ? int(run.promptIds.size()) : focus->steps.front()->promptLength;
    return QStringLiteral("model %1 · mode %2 · prompt %3 tokens · %4 tokens generated · seed %5")
        .arg(run.model ? run.model->name : QStringLiteral("?"), mode)
        .arg(prompt)
        .arg(focus->steps.size())
        .arg(run.settings.sampler.seed);
}

Result<bool> exportChart(QCustomPlot* plot, const QString& path, const QString& caption,
                         double scale, QSize size) {
    const QString suffix = QFileInfo(path).suffix().toLower();
    size = exportSize(plot, size);
    if (suffix == QLatin1String("png")) {
        if (!(scale > 0 && scale <= 16))
            return fileError(path, QStringLiteral("pixel ratio %1 is outside (0, 16]").arg(scale));
        return writePng(plot, path, caption, scale, size);
    }
    if (suffix == QLatin1String("pdf")) return writePdf(plot, path, caption, size);
    if (suffix == QLatin1String("svg")) return writeSvg(plot, path, caption, size);
    return fileError(
        path, QStringLiteral("unknown chart format \"%1\"; use .png, .pdf or .svg").arg(suffix));
}

void copyChartToClipboard(QCustomPlot* plot, const QString& caption) {
    const QImage image =
        renderImage(plot, exportSize(plot, {}), plot->devicePixelRatioF(), caption);
    QGuiApplication::clipboard()->setImage(image);
}

void installExportMenu(QCustomPlot* plot, std::function<QString()> caption) {
    plot->setContextMenuPolicy(Qt::CustomContextMenu);
    QObject::connect(plot, &QWidget::customContextMenuRequested, plot,
                     [plot, caption = std::move(caption)](const QPoint& at) {
                         showExportMenu(plot, caption, at);
                     });
}

Result<QStringList> exportAllCharts(const QList<QPair<QString, QCustomPlot*>>& charts,
                                    const QString& dir, const QString& caption, QSize size) {
    if (!QDir().mkpath(dir)) return fileError(dir, QStringLiteral("cannot create the folder"));
    QStringList written;
    for (const auto& [name, plot] : charts) {
        for (const char* suffix : {"png", "pdf", "svg"}) {
            const QString path = QDir(dir).filePath(name + QLatin1Char('.') + suffix);
            if (auto r = exportChart(plot, path, caption, 2.0, size); !r) return r.error();
            written << path;
        }
    }
    return written;
}

}  // namespace kvscope
