#include "attention_heatmap.h"

#include "plot_appearance.h"
#include "plot_note.h"
#include "theme.h"
#include "token_text.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFontMetrics>
#include <QHBoxLayout>
#include <QLabel>
#include <QMouseEvent>
#include <QSpinBox>
#include <QStandardItemModel>
#include <QToolTip>
#include <QVBoxLayout>
#include "qcustomplot_include.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace kvscope {
namespace {

constexpr double kLogFloor = 1e-4;  // log scale: weights below this share the darkest colour
constexpr int kMinCapacity = 32;
constexpr int kMaxTokenChars = 10;
constexpr int kStripPx = 22;  // height of the cached overlay's K/V strip

// Viridis sampled at tenths: perceptually uniform and readable with colour-vision deficiencies.
// QCustomPlot 2.1 has no such preset.
QCPColorGradient viridis() {
    static const char* stops[] = {"#440154", "#482475", "#414487", "#355f8d", "#2a788e", "#21918c",
                                  "#22a884", "#44bf70", "#7ad151", "#bddf26", "#fde725"};
    QMap<double, QColor> map;
    for (int i = 0; i <= 10; ++i) map.insert(i / 10.0, QColor(stops[i]));
    QCPColorGradient g;
    g.setColorStops(map);
    g.setLevelCount(256);
    g.setNanHandling(QCPColorGradient::nhTransparent);  // the empty upper triangle
    return g;
}

// Numeric ticks: the smallest 1-2-5 stride whose labels keep `minPx` apart.
int numericStride(double cellPx, double minPx) {
    if (!(cellPx > 0)) return 1;  // not laid out yet: the next resize decides
    for (int base = 1;; base *= 10) {
        for (int m : {1, 2, 5})
            if (cellPx * m * base >= minPx) return m * base;
    }
}

QString formatDiff(float d) {
    if (d < 0) return QStringLiteral("none (nothing was computed before)");
    const QString text = QString::number(double(d), 'e', 1);
    return d == 0 ? text + QStringLiteral(" (bit-identical)") : text;
}

void styleItemText(QCPItemText* t, const QColor& frame, int padding) {
    t->setBrush(QColor(255, 255, 255, 225));  // the paper's colour, as translucent
    t->setPen(QPen(frame, 1.5));
    charts::setInk(t, 0);
    charts::setPaper(t, false);
    t->setPadding(QMargins(padding + 2, padding, padding + 2, padding));
}

}  // namespace

AttentionHeatmap::AttentionHeatmap(QWidget* parent) : QWidget(parent) {
    buildControls();
    buildPlot();
    buildOverlay();
    charts::applyPalette(plot_, plot_->palette());
    // Token labels or a numeric stride: which fits depends on the font's size.
    charts::followAppearance(plot_, [this] {
        if (shown_ == 0) return;
        relayout();
        updateAxes();
    });
    applyScale();
    syncControls();  // choices can be made before the first run
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    auto* bar = new QHBoxLayout;
    bar->addWidget(layerBox_);
    bar->addWidget(headBox_);
    bar->addWidget(recomputeBox_);
    bar->addWidget(scaleBox_);
    bar->addStretch(1);
    layout->addLayout(bar);
    layout->addWidget(plot_, 1);
    showEmpty(tr("No run yet."));
}

void AttentionHeatmap::buildControls() {
    layerBox_ = new QSpinBox(this);
    layerBox_->setPrefix(tr("layer "));
    layerBox_->setRange(0, 0);
    layerBox_->setToolTip(tr("Transformer layer whose attention is shown"));
    headBox_ = new QComboBox(this);
    headBox_->setObjectName(QStringLiteral("head"));
    headBox_->setToolTip(tr("Attention head, or the mean over all heads of the layer"));
    recomputeBox_ = new QCheckBox(tr("recompute map"), this);
    recomputeBox_->setToolTip(
        tr("Mark the cells the selected step computed, and the K/V rows it read from the cache"));
    scaleBox_ = new QComboBox(this);
    scaleBox_->setObjectName(QStringLiteral("scale"));
    for (Scale sc : {Scale::Log, Scale::RowMax, Scale::Percentile, Scale::Linear})
        scaleBox_->addItem(scaleName(sc), int(sc));
    scaleBox_->setCurrentIndex(scaleBox_->findData(int(kDefaultScale)));
    scaleBox_->setToolTip(
        tr("Colour scale. Log: log10 of the weight from 1e-4 to 1, where most cells can be told "
           "apart. Row max: each row divided by its largest weight, so every row's strongest "
           "key shows (rows are not comparable). Percentile: linear, clipped at the 95th "
           "percentile of the shown weights. Linear: the weight from 0 to 1, where most cells "
           "look alike."));
    connect(layerBox_, &QSpinBox::valueChanged, this, &AttentionHeatmap::selectionChanged);
    connect(headBox_, &QComboBox::currentIndexChanged, this, &AttentionHeatmap::selectionChanged);
    connect(recomputeBox_, &QCheckBox::toggled, this, &AttentionHeatmap::refresh);
    connect(scaleBox_, &QComboBox::currentIndexChanged, this, &AttentionHeatmap::selectionChanged);
}

void AttentionHeatmap::buildPlot() {
    plot_ = new QCustomPlot(this);
    plot_->setMinimumSize(240, 200);
    for (QCPAxis* a : {plot_->xAxis, plot_->yAxis}) {
        a->setTicker(QSharedPointer<QCPAxisTickerText>::create());
        a->grid()->setVisible(false);
        a->setSubTicks(false);
    }
    plot_->xAxis->setLabel(tr("key position (attended to)"));
    plot_->yAxis->setLabel(tr("query position (attending)"));
    plot_->yAxis->setRangeReversed(true);  // position 0 at the top, as text reads

    map_ = new QCPColorMap(plot_->xAxis, plot_->yAxis);
    map_->setInterpolate(false);
    map_->setTightBoundary(false);
    scale_ = new QCPColorScale(plot_);
    plot_->plotLayout()->addElement(0, 1, scale_);
    scale_->setType(QCPAxis::atRight);
    map_->setColorScale(scale_);
    map_->setGradient(viridis());
    map_->setDataRange(QCPRange(0, 1));
    auto* group = new QCPMarginGroup(plot_);
    plot_->axisRect()->setMarginGroup(QCP::msBottom | QCP::msTop, group);
    scale_->setMarginGroup(QCP::msBottom | QCP::msTop, group);
    // The title in a row of its own above the matrix, wrapped to its column like the note.
    title_ = new PlotNote(plot_);
    plot_->plotLayout()->insertRow(0);
    plot_->plotLayout()->addElement(0, 0, title_);
    plot_->plotLayout()->setRowStretchFactor(0, 0.001);

    plot_->installEventFilter(this);
    plot_->setMouseTracking(true);
    connect(plot_, &QCustomPlot::mouseMove, this, &AttentionHeatmap::onMouseMove);
}

void AttentionHeatmap::buildOverlay() {
    triangle_ = new QCPCurve(plot_->xAxis, plot_->yAxis);
    triangle_->setSelectable(QCP::stNone);
    newRow_ = new QCPItemRect(plot_);
    cacheStrip_ = new QCPItemRect(plot_);
    freshKey_ = new QCPItemRect(plot_);
    stripText_ = new QCPItemText(plot_);
    note_ = new PlotNote(plot_);
    QFont small = note_->font();
    small.setPointSizeF(small.pointSizeF() * 0.9);
    note_->setFont(small);
    note_->setVisible(false);
    const QColor cached = theme::modeColor(Mode::Cached);
    newRow_->setPen(QPen(Qt::white, 3));
    cacheStrip_->setPen(QPen(cached, 1));
    cacheStrip_->setBrush(QBrush(cached, Qt::BDiagPattern));
    freshKey_->setPen(QPen(cached, 1));
    freshKey_->setBrush(cached);
    styleItemText(stripText_, cached, 0);
    stripText_->setPositionAlignment(Qt::AlignCenter);
    for (QCPAbstractItem* item :
         std::initializer_list<QCPAbstractItem*>{newRow_, cacheStrip_, freshKey_, stripText_}) {
        item->setSelectable(false);
        item->setVisible(false);
    }
    triangle_->setVisible(false);
}

void AttentionHeatmap::setView(const RunView& v) {
    view_ = v;
    const Model* model = v.run ? v.run->model.get() : nullptr;
    if (model != model_) {
        model_ = model;
        firstStep_.reset();
        syncControls();
    }
}

// Fills the layer and head choices for the model, keeping the user's choice where it still exists.
void AttentionHeatmap::syncControls() {
    const int layers = model_ ? model_->config.nLayer : 1;
    const int heads = model_ ? model_->config.nHead : 1;
    const int keepHead = head();
    const QSignalBlocker blockLayer(layerBox_), blockHead(headBox_);
    layerBox_->setRange(0, layers - 1);
    headBox_->clear();
    // With grouped-query attention the query heads are listed under the K/V head they share
    // (query head h reads K/V head h / (n_head / n_kv_head)); the group titles are not choices.
    const int kvHeads = model_ ? model_->config.nKvHead : heads;
    const int perKv = kvHeads > 0 && kvHeads < heads ? heads / kvHeads : 0;
    auto* items = qobject_cast<QStandardItemModel*>(headBox_->model());
    for (int h = 0; h < heads; ++h) {
        if (perKv && h % perKv == 0) {
            headBox_->addItem(perKv == heads ? tr("one KV head, shared by all")
                                             : tr("KV head %1, shared by:").arg(h / perKv));
            if (items) items->item(headBox_->count() - 1)->setEnabled(false);
        }
        headBox_->addItem(perKv ? tr("    head %1").arg(h) : tr("head %1").arg(h), h);
    }
    headBox_->addItem(tr("mean of heads"), kMeanOfHeads);
    const int index = headBox_->findData(keepHead);
    headBox_->setCurrentIndex(index < 0 ? headBox_->findData(0) : index);
    written_ = 0;
}

int AttentionHeatmap::layer() const {
    return layerBox_->value();
}

void AttentionHeatmap::setLayer(int layer) {
    layerBox_->setValue(layer);
}

int AttentionHeatmap::head() const {
    return headBox_->count() ? headBox_->currentData().toInt() : 0;
}

void AttentionHeatmap::setHead(int head) {
    const int index = headBox_->findData(head);
    if (index >= 0) headBox_->setCurrentIndex(index);
}

bool AttentionHeatmap::recomputeMapShown() const {
    return recomputeBox_->isChecked();
}

void AttentionHeatmap::setRecomputeMapShown(bool on) {
    recomputeBox_->setChecked(on);
}

void AttentionHeatmap::setLogScale(bool on) {
    setScale(on ? Scale::Log : Scale::Linear);
}

AttentionHeatmap::Scale AttentionHeatmap::scale() const {
    return Scale(scaleBox_->currentData().toInt());
}

void AttentionHeatmap::setScale(Scale s) {
    scaleBox_->setCurrentIndex(scaleBox_->findData(int(s)));
}

QString AttentionHeatmap::scaleName(Scale s) {
    switch (s) {
        case Scale::RowMax:
            return tr("row max");
        case Scale::Percentile:
            return tr("p%1 clip").arg(kClipPercentile);
        case Scale::Log:
            return tr("log");
        case Scale::Linear:
            return tr("linear");
    }
    return {};
}

QString AttentionHeatmap::scaleKey(Scale s) {
    switch (s) {
        case Scale::RowMax:
            return QStringLiteral("row-max");
        case Scale::Percentile:
            return QStringLiteral("p%1").arg(kClipPercentile);
        case Scale::Log:
            return QStringLiteral("log");
        case Scale::Linear:
            return QStringLiteral("linear");
    }
    return {};
}

double AttentionHeatmap::colourTop() const {
    return map_->dataRange().upper;
}

QString AttentionHeatmap::title() const {
    return title_->note();
}

// A new layer, head or scale: every row shown must be written again, once.
void AttentionHeatmap::selectionChanged() {
    written_ = 0;
    applyScale();
    refresh();
}

// The colour map's scale type, ticks and range for the chosen scale (the percentile's range
// follows the cells, in refresh()).
void AttentionHeatmap::applyScale() {
    const bool log = scale() == Scale::Log;
    map_->setDataScaleType(log ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
    scale_->axis()->setTicker(log ? QSharedPointer<QCPAxisTicker>(new QCPAxisTickerLog)
                                  : QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
    map_->setDataRange(log ? QCPRange(kLogFloor, 1) : QCPRange(0, 1));
}

void AttentionHeatmap::refresh() {
    const RunRecord* rec = view_.focus();
    const int index = view_.stepIndex();
    if (!rec || index < 0) return showEmpty(tr("No steps yet."));
    if (!syncRun(*rec, index))
        return showEmpty(tr("This run did not capture attention (capture was off)."));
    const StepResult& step = *rec->steps[std::size_t(index)];
    shown_ = step.position;
    ensureCapacity(shown_);
    writeRows(shown_);
    map_->setVisible(true);
    if (scale() == Scale::Percentile) updateClip();
    const bool mean = head() == kMeanOfHeads;
    const QString weight = mean ? tr("mean weight over heads") : tr("attention weight");
    switch (scale()) {
        case Scale::RowMax:
            scale_->axis()->setLabel(tr("%1 \u00F7 row max").arg(weight));
            break;
        case Scale::Percentile:
            scale_->axis()->setLabel(tr("%1, clipped at p%2").arg(weight).arg(kClipPercentile));
            break;
        default:
            scale_->axis()->setLabel(weight);
    }
    updateTitle(&step);
    updateOverlay(step);
    updateAxes();
    plot_->replot(QCustomPlot::rpQueuedReplot);
}

// Folds steps up to `stepIndex` into the row history; false when the step's rows are missing.
bool AttentionHeatmap::syncRun(const RunRecord& rec, int stepIndex) {
    if (rec.steps.front() != firstStep_) {
        firstStep_ = rec.steps.front();
        rows_.clear();
        scanned_ = 0;
        written_ = 0;
    }
    for (; scanned_ <= std::size_t(stepIndex); ++scanned_) appendRows(*rec.steps[scanned_]);
    const int needed = rec.steps[std::size_t(stepIndex)]->position;
    return needed > 0 && int(rows_.size()) >= needed;
}

// A cached step brings its new rows only; a naive step brings every row, of which the earlier
// ones are the very rows already held, so only the tail is new.
void AttentionHeatmap::appendRows(const StepResult& step) {
    if (step.attention.empty()) return;
    const int first = step.attention.front()->position();
    const int have = int(rows_.size());
    if (first > have) return;  // a gap: capture was off for an earlier step
    for (std::size_t i = std::size_t(have - first); i < step.attention.size(); ++i)
        rows_.push_back(step.attention[i]);
}

// Grows by doubling so a run of n rows rewrites O(n^2) cells in total, not per step.
void AttentionHeatmap::ensureCapacity(int rows) {
    if (rows <= capacity_) return;
    int cap = std::max(kMinCapacity, capacity_);
    while (cap < rows) cap *= 2;
    capacity_ = cap;
    QCPColorMapData* data = map_->data();
    data->setSize(cap, cap);
    data->setRange(QCPRange(0, cap - 1), QCPRange(0, cap - 1));
    data->fill(std::numeric_limits<double>::quiet_NaN());
    written_ = 0;
}

void AttentionHeatmap::writeRows(int upTo) {
    QCPColorMapData* data = map_->data();
    const Scale sc = scale();
    for (; written_ < upTo; ++written_) {
        const AttentionRow& row = *rows_[std::size_t(written_)];
        double rowMax = 0;
        if (sc == Scale::RowMax)
            for (int key = 0; key < row.length(); ++key)
                rowMax = std::max(rowMax, cellWeight(row, key));
        for (int key = 0; key < row.length(); ++key) {
            const double w = cellWeight(row, key);
            double v = w;
            if (sc == Scale::Log) v = std::max(w, kLogFloor);
            if (sc == Scale::RowMax) v = rowMax > 0 ? w / rowMax : 0.0;
            data->setCell(key, written_, v);
        }
        ++rowsWritten_;
    }
}

double AttentionHeatmap::cellValue(const AttentionRow& row, int key) const {
    return map_->data()->cell(key, row.position());
}

// The percentile of the shown triangle's weights becomes the top of the colour range. Taken over
// at most kSample cells spread evenly over the triangle, so a 1000-token run costs no more than a
// short one.
void AttentionHeatmap::updateClip() {
    constexpr long long kSample = 20000;
    const long long cells = (long long)shown_ * (shown_ + 1) / 2;
    const long long stride = std::max(1LL, (cells + kSample - 1) / kSample);
    sample_.clear();
    QCPColorMapData* data = map_->data();
    long long i = 0;
    for (int q = 0; q < shown_; ++q)
        for (int k = 0; k <= q; ++k, ++i)
            if (i % stride == 0) sample_.push_back(data->cell(k, q));
    double top = 1;
    if (!sample_.empty()) {
        const auto at = std::size_t(std::llround((sample_.size() - 1) * kClipPercentile / 100));
        std::nth_element(sample_.begin(), sample_.begin() + std::ptrdiff_t(at), sample_.end());
        top = sample_[at];
    }
    clipTop_ = top > 0 ? top : 1;
    map_->setDataRange(QCPRange(0, clipTop_));
}

// "layer 1 · mean of heads · cached run · step 29 (position 40, token “the”) · colour: row max"
void AttentionHeatmap::updateTitle(const StepResult* step, const QString& empty) {
    if (!step) {
        title_->setNote(empty);
        plot_->setProperty("kvscopeExportTag", QString());
        relayout();
        return;
    }
    const int h = head();
    const QString headText = h == kMeanOfHeads ? tr("mean of heads") : tr("head %1").arg(h);
    const QString text = tr("layer %1 \u00B7 %2 \u00B7 %3 run \u00B7 step %4 (position %5, "
                            "token \u201C%6\u201D) \u00B7 colour: %7")
                             .arg(layer())
                             .arg(headText, QLatin1String(modeName(step->mode)))
                             .arg(step->step)
                             .arg(step->position)
                             .arg(visibleText(step->tokenText), scaleName(scale()));
    const QString tag =
        QStringLiteral("layer-%1_%2_%3_step-%4_%5")
            .arg(layer())
            .arg(h == kMeanOfHeads ? QStringLiteral("mean") : QStringLiteral("head-%1").arg(h),
                 QLatin1String(modeName(step->mode)))
            .arg(step->step)
            .arg(scaleKey(scale()));
    plot_->setProperty("kvscopeExportTag", tag);
    if (text == title_->note()) return;
    title_->setNote(text);
    relayout();
}

double AttentionHeatmap::cellWeight(const AttentionRow& row, int key) const {
    const int l = std::min(layer(), row.layers() - 1);
    const int h = head();
    if (h != kMeanOfHeads) return row.at(l, std::min(h, row.heads() - 1), key);
    double sum = 0;
    for (int i = 0; i < row.heads(); ++i) sum += row.at(l, i, key);
    return sum / row.heads();
}

void AttentionHeatmap::showEmpty(const QString& why) {
    shown_ = 0;
    overlayText_.clear();
    updateTitle(nullptr, why);
    map_->setVisible(false);
    triangle_->setVisible(false);
    for (QCPAbstractItem* item :
         std::initializer_list<QCPAbstractItem*>{newRow_, cacheStrip_, freshKey_, stripText_})
        item->setVisible(false);
    hideNote();
    stripShown_ = false;
    updateAxes();
    plot_->replot(QCustomPlot::rpQueuedReplot);
}

void AttentionHeatmap::updateAxes() {
    layoutGeometry(plot_->axisRect()->width(), plot_->axisRect()->height());
}

// The K/V strip keeps a readable height however many rows share the axis: it takes
// extra = kStripPx * n / (height - kStripPx) rows, at least one.
void AttentionHeatmap::layoutGeometry(int axisWidth, int axisHeight) {
    const int n = std::max(shown_, 1);
    double extra = 0;
    if (stripShown_) {
        extra = axisHeight > 2 * kStripPx ? double(kStripPx) * n / (axisHeight - kStripPx) : 1.0;
        extra = std::max(extra, 1.0);
        placeStrip(extra);
    }
    plot_->xAxis->setRange(-0.5, n - 0.5);
    plot_->yAxis->setRange(-0.5, n - 0.5 + extra);
    updateTickers(axisWidth, axisHeight, extra);
}

void AttentionHeatmap::placeStrip(double extra) {
    const int n = shown_;
    const double top = n - 0.5 + 0.1 * extra, bottom = n - 0.5 + 0.95 * extra;
    cacheStrip_->topLeft->setCoords(-0.5, top);
    cacheStrip_->bottomRight->setCoords(n - 1.5, bottom);
    freshKey_->topLeft->setCoords(n - 1.5, top);
    freshKey_->bottomRight->setCoords(n - 0.5, bottom);
    stripText_->position->setCoords((n - 2) / 2.0, (top + bottom) / 2);
}

// Token texts when every cell has room for a line of text, else positions at a readable stride.
void AttentionHeatmap::updateTickers(int axisWidth, int axisHeight, double extraRows) {
    const int n = shown_;
    const int lineHeight = QFontMetrics(plot_->xAxis->tickLabelFont()).height();
    const int digitsWidth = QFontMetrics(plot_->xAxis->tickLabelFont()).horizontalAdvance("0000");
    struct Side {
        QCPAxis* axis;
        double cellPx, minNumericPx;
    };
    const double rows = n + extraRows;
    for (const Side& s :
         {Side{plot_->xAxis, double(axisWidth) / std::max(n, 1), digitsWidth * 1.5},
          Side{plot_->yAxis, double(axisHeight) / std::max(rows, 1.0), lineHeight * 1.5}}) {
        auto ticker = s.axis->ticker().dynamicCast<QCPAxisTickerText>();
        ticker->clear();
        const bool tokens = s.cellPx >= lineHeight;
        const int stride = tokens ? 1 : numericStride(s.cellPx, s.minNumericPx);
        for (int p = 0; p < n; p += stride)
            ticker->addTick(p, tokens ? tokenLabel(p) : QString::number(p));
        if (s.axis == plot_->xAxis) s.axis->setTickLabelRotation(tokens ? -90 : 0);
    }
}

// As the chips show it (spaces as middle dots: GPT-2 tokens usually carry their leading space).
QString AttentionHeatmap::tokenLabel(int position) const {
    QString t = visibleText(tokenAt(position));  // the chips' escapes and whitespace glyphs
    if (t.size() > kMaxTokenChars) t = t.left(kMaxTokenChars - 1) + QChar(0x2026);
    return t;
}

QString AttentionHeatmap::tokenAt(int position) const {
    const RunRecord* rec = view_.focus();
    if (!rec || rec->steps.empty() || !model_) return QString::number(position);
    const Tokenizer& tok = *model_->tokenizer;
    const int promptLength = rec->steps.front()->promptLength;
    if (position < promptLength) {
        const auto& ids = view_.run->promptIds;
        // An empty prompt starts from <|endoftext|>.
        const int id = position < int(ids.size()) ? ids[std::size_t(position)] : tok.special().eot;
        return tok.tokenDisplay(id);
    }
    const std::size_t generated = std::size_t(position - promptLength);
    return generated < rec->steps.size() ? rec->steps[generated]->tokenText : QString();
}

void AttentionHeatmap::updateOverlay(const StepResult& step) {
    const bool on = recomputeBox_->isChecked();
    triangle_->setVisible(false);
    for (QCPAbstractItem* item :
         std::initializer_list<QCPAbstractItem*>{newRow_, cacheStrip_, freshKey_, stripText_})
        item->setVisible(false);
    stripShown_ = false;
    overlayText_.clear();
    if (!on) return hideNote();
    if (step.mode == Mode::Naive)
        showNaiveOverlay(step);
    else if (step.prefill)
        showPrefillOverlay(step);
    else
        showCachedOverlay(step);
}

void AttentionHeatmap::showNaiveOverlay(const StepResult& step) {
    const long long n = step.position - step.firstComputedRow;
    setTriangle(step.position);
    triangle_->setPen(QPen(theme::modeColor(Mode::Naive, plot_->palette()), 2.5));
    triangle_->setBrush(QBrush(QColor(255, 255, 255, 110), Qt::FDiagPattern));
    overlayText_ = tr("naive step: recomputed %1 rows = %2 cells; max change vs earlier steps: %3")
                       .arg(n)
                       .arg(n * (n + 1) / 2)
                       .arg(formatDiff(step.recomputeMaxDiff));
    showNote(overlayText_ + tr("; only row %1 is new").arg(step.position - 1));
}

void AttentionHeatmap::showPrefillOverlay(const StepResult& step) {
    const long long n = step.position;
    setTriangle(step.position);
    triangle_->setPen(QPen(theme::modeColor(Mode::Cached, plot_->palette()), 2.5));
    triangle_->setBrush(QBrush(QColor(255, 255, 255, 110), Qt::FDiagPattern));
    overlayText_ = tr("cached prefill: %1 prompt rows = %2 cells computed in one pass; "
                      "their K/V written to the cache")
                       .arg(n)
                       .arg(n * (n + 1) / 2);
    showNote(overlayText_);
}

// The new query row, and below the matrix the keys it read: all but the last from the cache.
void AttentionHeatmap::showCachedOverlay(const StepResult& step) {
    const int n = step.position;
    stripShown_ = true;  // placed with the axes, whose height it depends on
    newRow_->topLeft->setCoords(-0.5, n - 1.5);
    newRow_->bottomRight->setCoords(n - 0.5, n - 0.5);
    stripText_->setText(tr("K/V of keys 0..%1 read from cache").arg(n - 2));
    for (QCPAbstractItem* item :
         std::initializer_list<QCPAbstractItem*>{newRow_, cacheStrip_, freshKey_, stripText_})
        item->setVisible(true);
    stripText_->setVisible(n > 1);
    overlayText_ =
        tr("cached step: 1 new row of %1 cells; %2 K/V rows read from cache").arg(n).arg(n - 1);
    showNote(overlayText_ + tr("; K/V of position %1 computed now and appended").arg(n - 1));
}

// Outline of the causal triangle of `rows` rows: a staircase along the diagonal.
void AttentionHeatmap::setTriangle(int rows) {
    triangle_->setVisible(true);
    if (rows == triangleRows_) return;
    triangleRows_ = rows;
    QVector<double> t, x, y;
    auto add = [&](double px, double py) {
        t.push_back(t.size());
        x.push_back(px);
        y.push_back(py);
    };
    add(-0.5, -0.5);
    for (int r = 0; r < rows; ++r) {
        add(r + 0.5, r - 0.5);
        add(r + 0.5, r + 0.5);
    }
    add(-0.5, rows - 0.5);
    add(-0.5, -0.5);
    triangle_->setData(t, x, y, true);
}

// One clause a paragraph, wrapped by the note to the width of the matrix's column.
void AttentionHeatmap::showNote(const QString& text) {
    QString paragraphs = text;
    paragraphs.replace(QStringLiteral("; "), QStringLiteral("\n"));
    note_->setNote(paragraphs);
    if (!note_->layout()) {
        plot_->plotLayout()->insertRow(1);  // under the title
        plot_->plotLayout()->addElement(1, 0, note_);
        plot_->plotLayout()->setRowStretchFactor(1, 0.001);
    }
    note_->setVisible(true);
    relayout();
}

void AttentionHeatmap::hideNote() {
    if (!note_->layout()) return;
    plot_->plotLayout()->take(note_);
    plot_->plotLayout()->simplify();  // drops the emptied row
    note_->setVisible(false);
    note_->setNote(QString());
    relayout();
}

// The note's row changes the matrix's height, which the tickers depend on: lay the plot out now
// rather than at the next replot. Twice: the first pass tells the note its column's width.
void AttentionHeatmap::relayout() {
    QCPLayoutGrid* layout = plot_->plotLayout();
    for (int pass = 0; pass < 2; ++pass)
        for (auto phase : {QCPLayoutElement::upPreparation, QCPLayoutElement::upMargins,
                           QCPLayoutElement::upLayout})
            layout->update(phase);
}

bool AttentionHeatmap::eventFilter(QObject* watched, QEvent* event) {
    // The widget has its new size already: lay the plot out for it (as its own resize handler
    // will) so the tickers and the note's wrapping see the axis rect it will draw.
    if (watched == plot_ && event->type() == QEvent::Resize && shown_ > 0) {
        plot_->setViewport(plot_->rect());
        relayout();
        updateAxes();
    }
    return QWidget::eventFilter(watched, event);
}

void AttentionHeatmap::onMouseMove(QMouseEvent* e) {
    const QPointF pos = e->position();
    const int key = int(std::lround(plot_->xAxis->pixelToCoord(pos.x())));
    const int query = int(std::lround(plot_->yAxis->pixelToCoord(pos.y())));
    const bool inside = plot_->axisRect()->rect().contains(pos.toPoint());
    if (!inside || query < 0 || query >= shown_ || key < 0 || key > query ||
        query >= int(rows_.size())) {
        QToolTip::hideText();
        return;
    }
    const float w = float(cellWeight(*rows_[std::size_t(query)], key));
    const QString text = tr("query %1 \"%2\" attends to key %3 \"%4\"\nweight %5")
                             .arg(query)
                             .arg(visibleText(tokenAt(query)))
                             .arg(key)
                             .arg(visibleText(tokenAt(key)))
                             .arg(double(w), 0, 'g', 4);
    QToolTip::showText(e->globalPosition().toPoint(), text, plot_);
    Q_EMIT cellHovered(query, key, w);
}

}  // namespace kvscope
