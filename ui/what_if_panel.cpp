#include "what_if_panel.h"

#include "chart_style.h"
#include "model/model_presets.h"
#include "roofs_probe.h"
#include "theme.h"
#include "units.h"

#include "qcustomplot_include.h"

#include <QCheckBox>
#include <QComboBox>
#include <QEvent>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QScrollArea>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QTabWidget>
#include <QTextDocument>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace kvscope {
namespace {

constexpr Mode kModes[2] = {Mode::Naive, Mode::Cached};
constexpr int kChartPoints = 200;
const char* const kKinds[3] = {"total", "attention", "weights"};
const QString kCustom = QStringLiteral("custom");

// Past 10^21 the SI prefixes run out (a 70B model's naive run to 10^6 tokens is ~10^24).
QString flops(double v) {
    return v >= 1e21 ? QStringLiteral("%1 FLOP").arg(v, 0, 'e', 2) : units::flopsText(v);
}
// Milliseconds to days: a naive step of a big model at 10^6 tokens takes hours.
QString seconds(double v) {
    if (v < 100) return charts::siValue(v, QStringLiteral("s"));
    if (v < 2 * 3600) return QStringLiteral("%1 min").arg(v / 60, 0, 'g', 3);
    if (v < 2 * 86400) return QStringLiteral("%1 h").arg(v / 3600, 0, 'g', 3);
    return QStringLiteral("%1 days").arg(v / 86400, 0, 'g', 3);
}
QString bytes(double v) {
    return units::bytesText(v);
}
QString mode(Mode m) {
    return QString::fromLatin1(modeName(m));
}
QString count(std::int64_t n) {
    return QLocale(QLocale::English).toString(qlonglong(n));
}

// Lengths 1..n spaced evenly on a log axis, each a whole number, n last.
std::vector<std::int64_t> logSpaced(std::int64_t n) {
    std::vector<std::int64_t> out;
    for (int i = 0; i < kChartPoints; ++i) {
        const auto x =
            std::int64_t(std::llround(std::pow(double(n), double(i) / (kChartPoints - 1))));
        if (out.empty() || x > out.back()) out.push_back(x);
    }
    if (out.back() != n) out.push_back(n);
    return out;
}

QSpinBox* spin(int lo, int hi, const QString& tip) {
    auto* s = new QSpinBox;
    s->setRange(lo, hi);
    s->setStepType(QAbstractSpinBox::AdaptiveDecimalStepType);
    s->setGroupSeparatorShown(true);
    s->setToolTip(tip);
    return s;
}

}  // namespace

struct WhatIfPanel::Impl {
    QComboBox* model = nullptr;
    QSpinBox* length = nullptr;
    QComboBox* arch = nullptr;
    QSpinBox *layers = nullptr, *width = nullptr, *heads = nullptr, *kvHeads = nullptr;
    QSpinBox *ffn = nullptr, *vocab = nullptr, *context = nullptr;
    QCheckBox *tied = nullptr, *qkvBias = nullptr;
    QComboBox *weightType = nullptr, *kvType = nullptr;
    QLabel* roofsLine = nullptr;
    QPushButton* measure = nullptr;
    QLabel* source = nullptr;
    QLabel* report = nullptr;

    QScrollArea* form = nullptr;  // the fields, in a column of their own
    QTabWidget* views = nullptr;  // the chart, the figures
    QCustomPlot* plot = nullptr;
    QCPAxisRect* rects[2] = {nullptr, nullptr};  // cumulative, per step
    QCPGraph* graphs[2][2][3] = {};              // [rect][mode][total, attention, weights]
    charts::VLine context_[2], crossover[2][2];  // [rect], [rect][mode]

    ModelConfig loaded;
    QString loadedName;
    ModelConfig typed;  // what the fields hold (kept for fields the form does not show)
    QString typedSource;
    RoofsProbe* roofs = nullptr;
    bool userChose = false;  // until then a newly loaded model is what the panel shows
};

WhatIfPanel::WhatIfPanel(RoofsProbe* roofs, QWidget* parent)
    : QWidget(parent), d_(std::make_unique<Impl>()) {
    d_->roofs = roofs ? roofs : new RoofsProbe(this);
    buildForm();
    buildChart();
    connect(d_->roofs, &RoofsProbe::changed, this, [this] {
        updateRoofsLine();
        recompute();
    });
    {
        const QSignalBlocker quiet(d_->length);
        d_->length->setValue(100000);
    }
    // Before any model is loaded: GPT-2 small, the model most lectures start from; a model
    // loaded later replaces it, a preset the user picks stays.
    selectPreset(QStringLiteral("gpt2-small"));
    d_->userChose = false;
    updateRoofsLine();
}

WhatIfPanel::~WhatIfPanel() = default;

void WhatIfPanel::buildForm() {
    Impl& d = *d_;
    d.model = new QComboBox;
    d.model->setObjectName(QStringLiteral("whatIf.model"));
    d.model->addItem(tr("the loaded model"), QString());
    for (const ModelPreset& p : modelPresets()) {
        d.model->addItem(QString::fromUtf8(p.label), QString::fromLatin1(p.key));
        d.model->setItemData(d.model->count() - 1, QString::fromUtf8(p.source), Qt::ToolTipRole);
    }
    d.model->addItem(tr("typed in"), kCustom);
    d.length = spin(1, int(whatif::kMaxLength),
                    tr("The sequence length of the last step: a run from one token to this many "
                       "(up to 1,000,000)."));
    d.arch = new QComboBox;
    d.arch->addItem(tr("GPT-2 style"));
    d.arch->addItem(tr("Llama style"));
    d.arch->setToolTip(
        tr("GPT-2: LayerNorm, GELU, learned positions, biases. Llama: RMSNorm, "
           "SwiGLU, rotary positions, no biases."));
    d.layers = spin(1, kMaxLayers, tr("Layers"));
    d.width = spin(1, kMaxEmbd, tr("Model width d"));
    d.heads = spin(1, kMaxEmbd, tr("Query heads"));
    d.kvHeads = spin(1, kMaxEmbd,
                     tr("K/V heads: fewer than the query heads is grouped-query "
                        "attention, 1 is multi-query"));
    d.ffn = spin(1, 4 * kMaxEmbd, tr("MLP width"));
    d.vocab = spin(1, kMaxVocab, tr("Vocabulary size"));
    d.context = spin(1, kMaxPositions, tr("The model's context (the chart marks it)"));
    d.tied = new QCheckBox(tr("tied classifier"));
    d.tied->setToolTip(tr("The classifier is the token embedding (one matrix, not two)."));
    d.qkvBias = new QCheckBox(tr("QKV bias"));
    d.weightType = new QComboBox;
    for (GgmlType t : whatif::weightTypes()) d.weightType->addItem(whatif::typeName(t));
    d.weightType->setCurrentText(QStringLiteral("F16"));
    d.weightType->setToolTip(tr("How the weights are stored: the bytes a step reads"));
    d.kvType = new QComboBox;
    for (GgmlType t : whatif::kvTypes()) d.kvType->addItem(whatif::typeName(t));
    d.kvType->setCurrentText(QStringLiteral("F16"));
    d.kvType->setToolTip(tr("How the K/V cache is stored: the bytes a cached step reads"));
    d.roofsLine = new QLabel;
    d.roofsLine->setWordWrap(true);
    d.measure = new QPushButton(tr("Measure"));
    d.measure->setToolTip(
        tr("Measure this machine's read bandwidth and GEMM rate now (about a "
           "second, in the background; best while nothing else runs)."));
    d.source = new QLabel;
    d.source->setWordWrap(true);
    d.report = new QLabel;
    d.report->setWordWrap(true);
    d.report->setTextFormat(Qt::RichText);
    d.report->setTextInteractionFlags(Qt::TextSelectableByMouse);
    d.report->setAlignment(Qt::AlignTop | Qt::AlignLeft);

    // Left: the configuration, one field a row, narrow enough for a dock a third of a 1280 px
    // window wide. Right: the chart and the figures, a tab each, so both get the width.
    auto* form = new QWidget;
    auto* rows = new QFormLayout(form);
    rows->setContentsMargins(4, 4, 4, 4);
    rows->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
    d.model->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    d.model->setMinimumContentsLength(10);
    rows->addRow(tr("Model"), d.model);
    rows->addRow(tr("Length"), d.length);
    rows->addRow(tr("Kind"), d.arch);
    rows->addRow(tr("Layers"), d.layers);
    rows->addRow(tr("d"), d.width);
    rows->addRow(tr("Heads"), d.heads);
    rows->addRow(tr("KV heads"), d.kvHeads);
    rows->addRow(tr("MLP"), d.ffn);
    rows->addRow(tr("Vocab"), d.vocab);
    rows->addRow(tr("Context"), d.context);
    rows->addRow(d.tied);
    rows->addRow(d.qkvBias);
    rows->addRow(tr("Weights"), d.weightType);
    rows->addRow(tr("K/V cache"), d.kvType);
    rows->addRow(d.roofsLine);
    rows->addRow(d.measure);
    rows->addRow(d.source);

    auto* scroll = new QScrollArea;
    scroll->setWidget(form);
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);
    scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    d.form = scroll;
    fitFormWidth();

    auto* figures = new QScrollArea;
    figures->setObjectName(QStringLiteral("whatIf.figures"));
    auto* page = new QWidget;
    auto* pageLayout = new QVBoxLayout(page);
    pageLayout->addWidget(d.report);
    pageLayout->addStretch(1);
    figures->setWidget(page);
    figures->setWidgetResizable(true);
    figures->setFrameShape(QFrame::NoFrame);

    d.plot = charts::newPlot(QStringLiteral("what_if"), QString(), this);
    d.views = new QTabWidget;
    d.views->setObjectName(QStringLiteral("whatIf.views"));
    d.views->addTab(d.plot, tr("Chart"));
    d.views->addTab(figures, tr("Figures"));
    auto* layout = new QHBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(scroll);
    layout->addWidget(d.views, 1);
    setMinimumSize(200, 120);

    connect(d.model, &QComboBox::currentIndexChanged, this, &WhatIfPanel::onModelPicked);
    connect(d.model, &QComboBox::activated, this, [this] { d_->userChose = true; });
    for (QSpinBox* s : {d.layers, d.width, d.heads, d.kvHeads, d.ffn, d.vocab, d.context})
        connect(s, &QSpinBox::valueChanged, this, &WhatIfPanel::onFieldEdited);
    for (QCheckBox* c : {d.tied, d.qkvBias})
        connect(c, &QCheckBox::toggled, this, &WhatIfPanel::onFieldEdited);
    connect(d.arch, &QComboBox::currentIndexChanged, this, &WhatIfPanel::onFieldEdited);
    connect(d.length, &QSpinBox::valueChanged, this, &WhatIfPanel::recompute);
    for (QComboBox* c : {d.weightType, d.kvType})
        connect(c, &QComboBox::currentIndexChanged, this, &WhatIfPanel::recompute);
    connect(d.measure, &QPushButton::clicked, d.roofs, &RoofsProbe::measure);
}

void WhatIfPanel::buildChart() {
    Impl& d = *d_;
    QCustomPlot* p = d.plot;
    d.rects[0] = p->axisRect();
    d.rects[1] = charts::addRectBelow(p, 1.0);
    charts::labelAxes(d.rects[0], QString(), tr("FLOPs of the whole run"), true);
    charts::labelAxes(d.rects[1], tr("sequence length n (log)"), tr("FLOPs per step"), true);
    for (QCPAxisRect* r : d.rects) {
        charts::setLogAxis(r->axis(QCPAxis::atBottom), true, false);
        // Powers of ten: the FLOPs span up to twenty decades, past the last SI prefix.
        QCPAxis* y = r->axis(QCPAxis::atLeft);
        y->setScaleType(QCPAxis::stLogarithmic);
        auto ticker = QSharedPointer<QCPAxisTickerLog>::create();
        ticker->setSubTickCount(0);
        y->setTicker(ticker);
        y->setNumberFormat(QStringLiteral("eb"));
        y->setNumberPrecision(0);
    }
    const QString rectName[2] = {QStringLiteral("cumulative"), QStringLiteral("step")};
    const QString kindLabel[3] = {tr("total"), tr("attention"), tr("weights")};
    for (int r = 0; r < 2; ++r) {
        for (Mode m : kModes) {
            const int i = m == Mode::Naive ? 0 : 1;
            const QColor c = theme::modeColor(m);
            for (int k = 0; k < 3; ++k) {
                QCPGraph* g =
                    charts::addLine(d.rects[r],
                                    QStringLiteral("whatIf.%1.%2.%3")
                                        .arg(rectName[r], mode(m), QString::fromLatin1(kKinds[k])),
                                    QStringLiteral("%1 %2").arg(mode(m), kindLabel[k]), c, k == 1);
                if (k == 2) g->setPen(QPen(c, 1.5, Qt::DotLine));
                if (r == 1) g->removeFromLegend();
                d.graphs[r][i][k] = g;
            }
            d.crossover[r][i] = charts::addVLine(
                d.rects[r], QStringLiteral("whatIf.%1.crossover.%2").arg(rectName[r], mode(m)),
                QPen(c, 1.0, Qt::DashDotLine), true);
        }
        d.context_[r] =
            charts::addVLine(d.rects[r], QStringLiteral("whatIf.%1.context").arg(rectName[r]),
                             QPen(Qt::gray, 1.0, Qt::DashLine), r == 0);
        // A grey that keeps its contrast in dark mode (as the cost charts' guides).
        d.context_[r].setInk(0.47);
    }
    p->legend->setFont(QFont(p->legend->font().family(), 7));
    // Top left: every curve starts low and rises to the right, so that corner stays empty.
    d.rects[0]->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignLeft);
    charts::addSubtitle(p, QStringLiteral("whatIf.note"))
        ->setText(tr("dash-dot: attention overtakes the weights · grey: the context"));
}

// The form's column is as wide as its fields, which follow the font (presentation mode).
void WhatIfPanel::fitFormWidth() {
    QWidget* form = d_->form->widget();
    d_->form->setMinimumWidth(form->minimumSizeHint().width() + 16);
    d_->form->setMaximumWidth(form->sizeHint().width() + 40);
}

void WhatIfPanel::changeEvent(QEvent* event) {
    QWidget::changeEvent(event);
    if (event->type() == QEvent::FontChange) fitFormWidth();
}

void WhatIfPanel::setLoadedModel(const ModelConfig& config, const QString& name) {
    d_->loaded = config;
    d_->loadedName = name;
    d_->model->setItemText(0, tr("the loaded model: %1").arg(name));
    d_->model->setItemData(0, tr("The model kvscope has loaded (%1).").arg(name), Qt::ToolTipRole);
    if (d_->userChose && d_->model->currentIndex() != 0) return;
    if (d_->model->currentIndex() == 0)
        onModelPicked(0);
    else
        d_->model->setCurrentIndex(0);
}

bool WhatIfPanel::selectPreset(const QString& key) {
    const int i = key.isEmpty() ? 0 : d_->model->findData(key);
    if (i < 0 || (i == 0 && d_->loadedName.isEmpty() && key.isEmpty())) return false;
    d_->userChose = true;
    if (d_->model->currentIndex() == i)
        onModelPicked(i);
    else
        d_->model->setCurrentIndex(i);
    return true;
}

void WhatIfPanel::setLength(std::int64_t n) {
    d_->length->setValue(int(std::clamp<std::int64_t>(n, 1, whatif::kMaxLength)));
}

void WhatIfPanel::setConfig(const ModelConfig& config) {
    fillFields(config);
    onFieldEdited();
}

void WhatIfPanel::onModelPicked(int index) {
    Impl& d = *d_;
    const QString key = d.model->itemData(index).toString();
    if (key == kCustom) return recompute();
    if (key.isEmpty()) {
        if (d.loadedName.isEmpty()) return recompute();
        d.typed = d.loaded;
        d.typedSource = tr("the loaded model, %1").arg(d.loadedName);
    } else {
        const ModelPreset* p = findPreset(key);
        d.typed = p->config;
        d.typedSource = QString::fromUtf8(p->source);
    }
    fillFields(d.typed);
    d.model->setToolTip(d.typedSource);
    recompute();
}

void WhatIfPanel::fillFields(const ModelConfig& c) {
    Impl& d = *d_;
    const QList<QObject*> fields = {d.layers, d.width,   d.heads, d.kvHeads, d.ffn,
                                    d.vocab,  d.context, d.tied,  d.qkvBias, d.arch};
    std::vector<std::unique_ptr<QSignalBlocker>> quiet;
    for (QObject* f : fields) quiet.push_back(std::make_unique<QSignalBlocker>(f));
    d.layers->setValue(c.nLayer);
    d.width->setValue(c.nEmbd);
    d.heads->setValue(c.nHead);
    d.kvHeads->setValue(c.nKvHead);
    d.ffn->setValue(c.nInner);
    d.vocab->setValue(c.vocabSize);
    d.context->setValue(c.nPositions);
    d.tied->setChecked(c.tiedLmHead);
    d.qkvBias->setChecked(c.attnBias);
    d.arch->setCurrentIndex(c.norm == NormKind::RmsNorm ? 1 : 0);
}

// A field changed by hand: the configuration is now the user's own.
void WhatIfPanel::onFieldEdited() {
    Impl& d = *d_;
    d.userChose = true;
    ModelConfig& c = d.typed;
    const bool llama = d.arch->currentIndex() == 1;
    if (llama != (c.norm == NormKind::RmsNorm)) {
        c.modelType = llama ? QStringLiteral("llama") : QStringLiteral("gpt2");
        c.norm = llama ? NormKind::RmsNorm : NormKind::LayerNorm;
        c.activation = llama ? Activation::SwiGlu : Activation::GeluTanh;
        c.positions = llama ? PositionKind::Rotary : PositionKind::Learned;
        c.projBias = !llama;
    }
    c.nLayer = d.layers->value();
    c.nEmbd = d.width->value();
    c.nHead = d.heads->value();
    c.nKvHead = d.kvHeads->value();
    c.nInner = d.ffn->value();
    c.vocabSize = d.vocab->value();
    c.nPositions = d.context->value();
    c.tiedLmHead = d.tied->isChecked();
    c.attnBias = d.qkvBias->isChecked();
    {
        const QSignalBlocker quiet(d.model);
        d.model->setCurrentIndex(d.model->findData(kCustom));
    }
    d.typedSource = tr("typed in");
    d.model->setToolTip(d.typedSource);
    recompute();
}

std::optional<whatif::Query> WhatIfPanel::query() const {
    const Impl& d = *d_;
    const ModelConfig& c = d.typed;
    if (c.nHead < 1 || c.nEmbd % c.nHead != 0 || c.nKvHead < 1 || c.nKvHead > c.nHead ||
        c.nHead % c.nKvHead != 0 || c.nLayer < 1 || c.vocabSize < 1 || c.nInner < 1)
        return std::nullopt;
    whatif::Query q;
    q.config = c;
    const QString key = d.model->currentData().toString();
    q.name =
        key == kCustom ? tr("typed in") : (key.isEmpty() ? d.loadedName : d.model->currentText());
    q.source = d.typedSource;
    q.length = d.length->value();
    q.prompt = 1;
    q.weightType = whatif::typeNamed(d.weightType->currentText()).value_or(GgmlType::F16);
    q.kvType = whatif::typeNamed(d.kvType->currentText()).value_or(GgmlType::F16);
    if (const auto r = d.roofs->roofs()) {
        q.roofs = r->roofs();
        q.roofsSource = describeRoofs(*r);
    }
    return q;
}

QCustomPlot* WhatIfPanel::plot() const {
    return d_->plot;
}

QString WhatIfPanel::reportText() const {
    QTextDocument doc;
    doc.setHtml(d_->report->text());
    return doc.toPlainText();
}

void WhatIfPanel::recompute() {
    const auto q = query();
    d_->source->setText(QStringLiteral("<small>%1</small>").arg(d_->typedSource.toHtmlEscaped()));
    d_->source->setToolTip(d_->typedSource);
    if (!q) {
        d_->report->setText(
            tr("<b>Not a valid configuration:</b> the heads must divide d, and the K/V heads "
               "must divide the heads."));
        for (auto& r : d_->graphs)
            for (auto& m : r)
                for (QCPGraph* g : m) g->data()->clear();
        d_->plot->replot(QCustomPlot::rpQueuedReplot);
        return;
    }
    updateReport(*q);
    updateChart(*q);
}

void WhatIfPanel::updateChart(const whatif::Query& q) {
    Impl& d = *d_;
    const ModelConfig& c = q.config;
    for (auto& r : d.graphs)
        for (auto& m : r)
            for (QCPGraph* g : m) g->data()->clear();
    for (std::int64_t n : logSpaced(q.length)) {
        for (Mode m : kModes) {
            const int i = m == Mode::Naive ? 0 : 1;
            const whatif::FlopSplit s[2] = {whatif::cumulativeSplit(c, 1, n, m),
                                            whatif::stepSplit(c, n, m)};
            for (int r = 0; r < 2; ++r) {
                d.graphs[r][i][0]->addData(double(n), s[r].total());
                d.graphs[r][i][1]->addData(double(n), s[r].attention);
                d.graphs[r][i][2]->addData(double(n), s[r].weights);
            }
        }
    }
    for (int r = 0; r < 2; ++r) {
        for (Mode m : kModes) {
            const int i = m == Mode::Naive ? 0 : 1;
            const auto x = r == 0 ? whatif::cumulativeCrossover(c, m) : whatif::stepCrossover(c, m);
            if (x && *x <= q.length)
                d.crossover[r][i].place(
                    double(*x),
                    r == 0 ? QStringLiteral("%1: n = %2").arg(mode(m), count(*x)) : QString(),
                    i == 0 ? 0.02 : 0.12);
            else
                d.crossover[r][i].hide();
        }
        if (c.nPositions < q.length)
            d.context_[r].place(double(c.nPositions),
                                r == 0 ? tr("context %1").arg(c.nPositions) : QString(), 0.22);
        else
            d.context_[r].hide();
        charts::rescale(d.rects[r]);
    }
    // The legend names the line styles; the dash-dot lines' labels say what they mark.
    charts::plotTitle(d.plot)->setText(tr("What if: %1 to %2 tokens").arg(q.name, count(q.length)));
    d.plot->replot(QCustomPlot::rpQueuedReplot);
}

void WhatIfPanel::updateReport(const whatif::Query& q) {
    const ModelConfig& c = q.config;
    const std::int64_t n = q.length;
    QString h;
    h += tr("<b>%1</b>: %2 parameters · %3 layers · d = %4 · %5 heads, %6 K/V · MLP %7 · vocab "
            "%8 · context %9")
             .arg(q.name.toHtmlEscaped(), units::siText(double(whatif::parameterCount(c)), {}))
             .arg(c.nLayer)
             .arg(c.nEmbd)
             .arg(c.nHead)
             .arg(c.nKvHead)
             .arg(c.nInner)
             .arg(c.vocabSize)
             .arg(c.nPositions);
    if (n > c.nPositions)
        h += tr("<br><i>%1 tokens is beyond the model's context (%2): what the closed form "
                "predicts if it could go on.</i>")
                 .arg(count(n))
                 .arg(c.nPositions);
    auto row = [](const QString& label, const whatif::FlopSplit& s) {
        return QStringLiteral(
                   "<tr><td>%1</td><td align=right>%2</td><td align=right>%3</td>"
                   "<td align=right>%4</td><td align=right><b>%5</b></td></tr>")
            .arg(label, flops(s.attention), flops(s.weights), flops(s.other), flops(s.total()));
    };
    h += tr("<p><b>FLOPs at n = %1</b><table cellspacing=4><tr><th></th><th>attention</th>"
            "<th>weights</th><th>other</th><th>total</th></tr>")
             .arg(count(n));
    h += row(tr("naive step"), whatif::stepSplit(c, n, Mode::Naive));
    h += row(tr("cached step"), whatif::stepSplit(c, n, Mode::Cached));
    h += row(tr("naive run 1..n"), whatif::cumulativeSplit(c, 1, n, Mode::Naive));
    h += row(tr("cached run 1..n"), whatif::cumulativeSplit(c, 1, n, Mode::Cached));
    h += QStringLiteral("</table>");

    auto at = [](std::optional<std::int64_t> x) {
        return x ? QStringLiteral("n = %1").arg(count(*x)) : tr("beyond 10^9");
    };
    h += tr("<p><b>Attention overtakes the weights</b> per step: naive %1, cached %2; over a "
            "whole run: naive %3, cached %4.")
             .arg(at(whatif::stepCrossover(c, Mode::Naive)),
                  at(whatif::stepCrossover(c, Mode::Cached)),
                  at(whatif::cumulativeCrossover(c, Mode::Naive)),
                  at(whatif::cumulativeCrossover(c, Mode::Cached)));

    h +=
        tr("<p><b>Log-log slope per decade</b> (the power of n the cost grows with there)"
           "<table cellspacing=4><tr><th>n</th><th>naive run</th><th>cached run</th>"
           "<th>attention alone</th><th>naive step</th><th>cached step</th></tr>");
    for (const whatif::DecadeSlope& s : whatif::decadeSlopes(c, n))
        h += QStringLiteral(
                 "<tr><td>%1–%2</td><td align=right>%3</td><td align=right>%4</td>"
                 "<td align=right>%5 / %6</td><td align=right>%7</td>"
                 "<td align=right>%8</td></tr>")
                 .arg(count(s.from), count(s.to))
                 .arg(s.naiveCumulative, 0, 'f', 2)
                 .arg(s.cachedCumulative, 0, 'f', 2)
                 .arg(s.naiveAttentionCumulative, 0, 'f', 2)
                 .arg(s.cachedAttentionCumulative, 0, 'f', 2)
                 .arg(s.naiveStep, 0, 'f', 2)
                 .arg(s.cachedStep, 0, 'f', 2);
    h += tr("</table>A run's slope tends to 3 (naive) and 2 (cached) once attention dominates.");

    h += tr("<p><b>K/V cache at n = %1</b><table cellspacing=4><tr><th></th>").arg(count(n));
    for (GgmlType t : whatif::kvTypes())
        h += QStringLiteral("<th>%1</th>").arg(whatif::typeName(t));
    h += QStringLiteral("</tr>");
    const std::pair<QString, int> variants[3] = {{tr("MHA, %1 heads").arg(c.nHead), c.nHead},
                                                 {tr("this model, %1").arg(c.nKvHead), c.nKvHead},
                                                 {tr("MQA, 1 head"), 1}};
    for (const auto& [label, heads] : variants) {
        h += QStringLiteral("<tr><td>%1</td>").arg(label);
        for (GgmlType t : whatif::kvTypes())
            h += QStringLiteral("<td align=right>%1</td>")
                     .arg(bytes(double(whatif::kvBytes(c, n, heads, t))));
        h += QStringLiteral("</tr>");
    }
    h += QStringLiteral("</table>");

    QStringList w;
    for (GgmlType t : whatif::weightTypes())
        w << QStringLiteral("%1 %2").arg(whatif::typeName(t),
                                         bytes(double(whatif::weightBytes(c, t))));
    h += tr("<p><b>Weights</b> (norms and biases F32): %1").arg(w.join(QStringLiteral(" · ")));

    if (q.roofs && q.roofs->valid()) {
        h += tr("<p><b>One step at n = %1 on this machine</b> (weights %2, K/V %3):")
                 .arg(count(n), whatif::typeName(q.weightType), whatif::typeName(q.kvType));
        for (Mode m : kModes) {
            const whatif::StepTime t = whatif::stepTime(c, n, m, q.weightType, q.kvType, *q.roofs);
            h += tr("<br>%1: <b>%2</b>, bound by the %3 (%4 moved: %5; %6 computed: %7)")
                     .arg(mode(m), seconds(t.seconds()),
                          t.memoryBound() ? tr("read bandwidth") : tr("GEMM rate"), bytes(t.bytes),
                          seconds(t.memorySeconds), flops(t.flops), seconds(t.computeSeconds));
        }
        h += tr("<br><small>%1.</small>").arg(QString::fromLatin1(whatif::kTimeRule));
    } else {
        h += tr("<p>Time per step: measure this machine's roofs first (Measure).");
    }
    d_->report->setText(h);
}

RoofsProbe* WhatIfPanel::roofsProbe() const {
    return d_->roofs;
}

void WhatIfPanel::updateRoofsLine() {
    Impl& d = *d_;
    d.measure->setEnabled(!d.roofs->isMeasuring());
    if (d.roofs->isMeasuring())
        d.roofsLine->setText(tr("Measuring this machine's roofs…"));
    else if (const auto r = d.roofs->roofs())
        d.roofsLine->setText(tr("Roofs: %1").arg(describeRoofs(*r)));
    else
        d.roofsLine->setText(tr("Roofs not measured yet."));
    d.roofsLine->setToolTip(
        tr("Read bandwidth: a read-sum over 256 MB (the bench's probe kernel), best of 4. GEMM "
           "rate: a 1024³ float product through Eigen, best of 3. Both at every hardware thread."));
}

}  // namespace kvscope
