#include "chart_export.h"

#include "chart_style.h"
#include "plot_appearance.h"
#include "qcustomplot_include.h"
#include "theme.h"

#include <QBuffer>
#include <QClipboard>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QGuiApplication>
#include <QInputDialog>
#include <QMainWindow>
#include <QMenu>
#include <QMessageBox>
#include <QRegularExpression>
#include <QSettings>
#include <QStandardPaths>
#include <QStatusBar>
#include <QSvgGenerator>
#include <QTemporaryDir>

#include <algorithm>
#include <cmath>
#include <optional>
#include <set>

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

// Fonts given in points become pixels of the export's logical frame (96 per inch, the CSS pixel),
// so a figure's text has the same size whatever the screen it was exported from.
QFont scaledFont(QFont f, double scale) {
    const double px = f.pointSizeF() > 0 ? f.pointSizeF() * 96.0 / 72.0 : double(f.pixelSize());
    f.setPixelSize(std::max(1, int(std::lround(px * scale))));
    return f;
}

}  // namespace

double ExportLook::fontScale(QSize size) {
    return std::clamp(std::min(size.width() / 600.0, size.height() / 375.0), 1.0, 2.0);
}

ExportLook::ExportLook(QCustomPlot* plot, QSize size, const QString& caption) : plot_(plot) {
    useExportLook();
    const double f = fontScale(size);
    scaleFonts(f);
    for (int i = 0; i < plot->itemCount(); ++i) {
        QCPAbstractItem* item = plot->item(i);
        if (!charts::isInteractive(item) || !item->visible()) continue;
        item->setVisible(false);
        undo_.push_back([item] { item->setVisible(true); });
    }
    // Plottables too: the roofline rings the selected step with a scatter graph.
    for (int i = 0; i < plot->plottableCount(); ++i) {
        QCPAbstractPlottable* p = plot->plottable(i);
        if (!charts::isInteractive(p) || !p->visible()) continue;
        p->setVisible(false);
        undo_.push_back([p] { p->setVisible(true); });
    }
    addCaption(caption, f);
}

ExportLook::~ExportLook() {
    // The caption first: the nested grid's undo expects a layout of that grid alone.
    if (caption_) {
        plot_->plotLayout()->remove(caption_);
        plot_->plotLayout()->simplify();
    }
    for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) (*it)();
    // Lay the screen copy out at its own size now: the legend's wrap and the wrapped texts follow
    // the width they were last laid out at.
    plot_->replot();
}

// Put back last (undo_ runs backwards): the fonts scaled for the frame are restored first, at the
// normal scale they were taken at.
void ExportLook::useExportLook() {
    if (const double drawn = charts::drawnScale(plot_); drawn != 1) {
        charts::setDrawnScale(plot_, 1);
        undo_.push_back([plot = plot_, drawn] { charts::setDrawnScale(plot, drawn); });
    }
    const QPalette light = theme::lightPalette();
    if (exportsInScreenColors() || plot_->palette() == light) return;
    const bool own = plot_->testAttribute(Qt::WA_SetPalette);
    const QPalette screen = plot_->palette();
    plot_->setPalette(light);  // the plot follows it (followAppearance)
    undo_.push_back([plot = plot_, own, screen] { plot->setPalette(own ? screen : QPalette()); });
}

void ExportLook::scaleFonts(double f) {
    std::set<QCPAxis*> axes;
    for (QCPLayoutElement* el : plot_->plotLayout()->elements(true)) {
        if (auto* r = qobject_cast<QCPAxisRect*>(el))
            for (QCPAxis* a : r->axes()) axes.insert(a);
        if (auto* c = qobject_cast<QCPColorScale*>(el)) {
            axes.insert(c->axis());
            const int width = c->barWidth();
            c->setBarWidth(int(std::lround(width * f)));
            undo_.push_back([c, width] { c->setBarWidth(width); });
        }
        if (auto* t = qobject_cast<QCPTextElement*>(el)) {
            const QFont old = t->font();
            t->setFont(scaledFont(old, f));
            undo_.push_back([t, old] { t->setFont(old); });
        }
        if (auto* l = qobject_cast<QCPLegend*>(el)) {
            const QFont old = l->font();
            const QSize icon = l->iconSize();
            l->setFont(scaledFont(old, f));
            l->setIconSize((QSizeF(icon) * f).toSize());
            undo_.push_back([l, old, icon] {
                l->setFont(old);
                l->setIconSize(icon);
            });
        }
    }
    for (QCPAxis* a : axes) {
        const QFont tick = a->tickLabelFont(), label = a->labelFont();
        a->setTickLabelFont(scaledFont(tick, f));
        a->setLabelFont(scaledFont(label, f));
        undo_.push_back([a, tick, label] {
            a->setTickLabelFont(tick);
            a->setLabelFont(label);
        });
    }
    for (int i = 0; i < plot_->itemCount(); ++i)
        if (auto* t = qobject_cast<QCPItemText*>(plot_->item(i))) {
            const QFont old = t->font();
            t->setFont(scaledFont(old, f));
            undo_.push_back([t, old] { t->setFont(old); });
        }
}

// The caption as a bottom row of the plot's layout, wrapped to the frame's width and spanning
// it. A caption wider than a narrow chart used to widen its column past the frame, cutting the
// caption's start; in a grid of several columns (the heatmap and its colour bar) it also widened
// the first column and squeezed the others (the colour bar's numbers onto the bar). So a grid of
// several columns, or with empty cells, moves into one cell of a one-column grid while the export
// runs, and the caption takes the row below it.
void ExportLook::addCaption(const QString& caption, double f) {
    if (caption.isEmpty()) return;
    QCPLayoutGrid* g = plot_->plotLayout();
    if (g->columnCount() != 1 || hasEmptyCell(g)) nestLayout();
    QFont font;
    font.setPointSizeF(7.5);
    auto* text = new charts::WrappedText(plot_, caption, scaledFont(font, f));
    // Dark, like the axes: light grey vanished on a projector.
    text->setTextColor(plot_->xAxis ? plot_->xAxis->labelColor() : QColor(40, 40, 40));
    text->setMargins(QMargins(8, 2, 8, 4));
    text->setTextFlags(Qt::AlignRight | Qt::AlignVCenter | Qt::TextWordWrap);
    const int row = g->rowCount();
    g->insertRow(row);
    g->addElement(row, 0, text);
    g->setRowStretchFactor(row, 0.001);
    caption_ = text;
}

// QCPLayoutGrid cannot remove a single row, so the caption's row goes with simplify(), which is
// exact only for a grid without empty cells: hence the nesting of any other grid.
void ExportLook::nestLayout() {
    QCPLayoutGrid* g = plot_->plotLayout();
    struct Cell {
        int row, column;
        QCPLayoutElement* element;
    };
    std::vector<Cell> cells;
    const int rows = g->rowCount(), columns = g->columnCount();
    for (int r = 0; r < rows; ++r)
        for (int c = 0; c < columns; ++c)
            if (g->hasElement(r, c)) cells.push_back({r, c, g->element(r, c)});
    const QList<double> rowStretch = g->rowStretchFactors(),
                        columnStretch = g->columnStretchFactors();
    auto* inner = new QCPLayoutGrid;
    inner->setRowSpacing(g->rowSpacing());
    inner->setColumnSpacing(g->columnSpacing());
    for (const Cell& c : cells) g->take(c.element);
    g->simplify();
    g->addElement(0, 0, inner);
    for (const Cell& c : cells) inner->addElement(c.row, c.column, c.element);
    inner->setRowStretchFactors(rowStretch);
    inner->setColumnStretchFactors(columnStretch);
    inner_ = inner;
    undo_.push_back([g, inner, cells, rowStretch, columnStretch] {
        for (const Cell& c : cells) inner->take(c.element);
        g->remove(inner);
        g->simplify();
        for (const Cell& c : cells) g->addElement(c.row, c.column, c.element);
        g->setRowStretchFactors(rowStretch);
        g->setColumnStretchFactors(columnStretch);
    });
}

namespace {

Error fileError(const QString& path, const QString& what) {
    return Error{QStringLiteral("%1: %2").arg(path, what)};
}

QImage renderImage(QCustomPlot* plot, QSize size, double scale, const QString& caption) {
    const ExportLook look(plot, size, caption);
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
        const ExportLook look(plot, size, caption);
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
    svg.setTitle(exportStem(plot, plot->objectName()));
    svg.setDescription(caption);
    {
        const ExportLook look(plot, size, caption);
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

// Writes, remembers the folder, and says what happened: a status-bar line or a warning.
void exportAndConfirm(QWidget* parent, QCustomPlot* plot, const QString& path,
                      const QString& caption, double scale) {
    rememberExportFolder(QFileInfo(path).absolutePath());
    const auto written = exportChart(plot, path, caption, scale);
    if (!written) {
        QMessageBox::warning(parent, QObject::tr("Export failed"), written.errorMessage());
        return;
    }
    ExportNotifier::instance()->announce(
        parent, QObject::tr("Exported \u201c%1\u201d to %2").arg(chartTitle(plot), path));
}

void exportInteractively(QCustomPlot* plot, const QString& suffix, const QString& caption) {
    double scale = 1.0;
    if (suffix == QLatin1String("png")) {
        const auto picked = askScale(plot);
        if (!picked) return;
        scale = *picked;
    }
    const QString title =
        QObject::tr("Export \u201c%1\u201d as %2").arg(chartTitle(plot), suffix.toUpper());
    QString path = QFileDialog::getSaveFileName(
        plot, title, QDir(lastExportFolder()).filePath(defaultExportName(plot, caption, suffix)),
        suffixFilter(suffix));
    if (path.isEmpty()) return;
    if (QFileInfo(path).suffix().isEmpty()) path += QLatin1Char('.') + suffix;
    exportAndConfirm(plot, plot, path, caption, scale);
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
    ExportNotifier::instance()->announce(plot,
                                         QObject::tr("Copied “%1” to the clipboard (%2 x %3 px)")
                                             .arg(chartTitle(plot))
                                             .arg(image.width())
                                             .arg(image.height()));
}

QString chartTitle(QCustomPlot* plot) {
    // These two panels' headings describe the step shown, not the chart.
    const QString id = plot->objectName();
    if (id == QLatin1String("attention")) return QObject::tr("Attention heatmap");
    if (id == QLatin1String("distribution")) return QObject::tr("Next-token distribution");
    if (plot->plotLayout()->elementCount() > 0)
        if (auto* t = qobject_cast<QCPTextElement*>(plot->plotLayout()->elementAt(0));
            t && !t->text().isEmpty())
            return t->text();
    return id.isEmpty() ? QObject::tr("chart") : id;
}

QString exportStem(QCustomPlot* plot, const QString& name) {
    const QString tag = plot->property("kvscopeExportTag").toString();
    return tag.isEmpty() ? name : name + QLatin1Char('_') + tag;
}

QString defaultExportName(QCustomPlot* plot, const QString& caption, const QString& suffix) {
    QString name = exportStem(
        plot, plot->objectName().isEmpty() ? QStringLiteral("chart") : plot->objectName());
    static const QRegularExpression mode(QStringLiteral("\\bmode (\\w+)"));
    static const QRegularExpression tokens(QStringLiteral("(\\d+) tokens generated"));
    const auto m = mode.match(caption);
    const auto t = tokens.match(caption);
    if (m.hasMatch()) name += QLatin1Char('_') + m.captured(1);
    if (t.hasMatch()) name += QLatin1Char('_') + t.captured(1) + QStringLiteral("-tokens");
    return name + QLatin1Char('.') + suffix;
}

QString lastExportFolder() {
    const QString saved = QSettings().value(QStringLiteral("export/lastFolder")).toString();
    if (!saved.isEmpty() && QFileInfo(saved).isDir()) return saved;
    const QString pictures = QStandardPaths::writableLocation(QStandardPaths::PicturesLocation);
    return !pictures.isEmpty() && QFileInfo(pictures).isDir() ? pictures : QDir::homePath();
}

void rememberExportFolder(const QString& dir) {
    QSettings().setValue(QStringLiteral("export/lastFolder"), dir);
}

bool exportsInScreenColors() {
    return QSettings().value(QStringLiteral("export/screenColors"), false).toBool();
}

void setExportsInScreenColors(bool on) {
    QSettings().setValue(QStringLiteral("export/screenColors"), on);
}

void exportChartDialog(QWidget* parent, QCustomPlot* plot, const QString& caption) {
    const QString png = suffixFilter(QStringLiteral("png")),
                  pdf = suffixFilter(QStringLiteral("pdf")),
                  svg = suffixFilter(QStringLiteral("svg"));
    QString filter = png;
    QString path = QFileDialog::getSaveFileName(
        parent, QObject::tr("Export “%1”").arg(chartTitle(plot)),
        QDir(lastExportFolder()).filePath(defaultExportName(plot, caption, QStringLiteral("png"))),
        QStringList{png, pdf, svg}.join(QStringLiteral(";;")), &filter);
    if (path.isEmpty()) return;
    if (QFileInfo(path).suffix().isEmpty())
        path += filter == pdf   ? QStringLiteral(".pdf")
                : filter == svg ? QStringLiteral(".svg")
                                : QStringLiteral(".png");
    exportAndConfirm(parent, plot, path, caption, 2.0);
}

ExportNotifier* ExportNotifier::instance() {
    static ExportNotifier* notifier = new ExportNotifier(QCoreApplication::instance());
    return notifier;
}

void ExportNotifier::announce(QWidget* origin, const QString& message) {
    if (origin)
        if (auto* window = qobject_cast<QMainWindow*>(origin->window()))
            window->statusBar()->showMessage(message, 8000);
    Q_EMIT exported(message);
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
            const QString path =
                QDir(dir).filePath(exportStem(plot, name) + QLatin1Char('.') + suffix);
            if (auto r = exportChart(plot, path, caption, 2.0, size); !r) return r.error();
            written << path;
        }
    }
    return written;
}

}  // namespace kvscope
