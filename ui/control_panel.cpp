#include "control_panel.h"

#include "theme.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QEvent>
#include <QFormLayout>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QRandomGenerator>
#include <QRegularExpressionValidator>
#include <QSettings>
#include <QSlider>
#include <QSpinBox>
#include <QTabWidget>
#include <QTimer>
#include <QVBoxLayout>

#include <algorithm>

namespace kvscope {

ControlPanel::ControlPanel(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    // Tight spacing: everything must fit a 720-pixel-high projector without scrolling.
    layout->setContentsMargins(6, 4, 6, 4);
    layout->setSpacing(4);
    modelSummary_ = new QLabel(tr("No model loaded."));
    modelSummary_->setWordWrap(true);
    modelSummary_->setTextFormat(Qt::RichText);
    modelSummary_->setToolTip(tr("The model every run uses. File > Open Model changes it."));
    layout->addWidget(modelSummary_);
    layout->addWidget(buildPromptBox());
    layout->addWidget(buildButtons());
    layout->addWidget(buildSamplingBox());
    layout->addStretch(1);
    fitToFont();
    setState(State::NoModel);
}

// Widths measured in the font: presentation mode changes it after the panel is built.
void ControlPanel::fitToFont() {
    // The style's 80-pixel minimum button would make the row too wide for the dock: the text
    // and some padding is enough.
    for (QPushButton* b : {generate_, pause_, step_, stop_, reset_}) {
        const QFontMetrics fm = b->fontMetrics();
        const QString widest = b == pause_ ? tr("Resume") : b->text();
        b->setMinimumWidth(fm.horizontalAdvance(widest) + 3 * fm.averageCharWidth());
    }
    delayLabel_->setMinimumWidth(
        delayLabel_->fontMetrics().horizontalAdvance(QStringLiteral("1000 ms")));
    // Spin boxes ask for the width of their largest value (top-k and max tokens go to 2^20);
    // five digits is room enough for what is typed, and keeps two settings a row narrow.
    QSpinBox reference;
    reference.setFont(font());
    reference.setRange(0, 99999);
    for (QAbstractSpinBox* b : std::initializer_list<QAbstractSpinBox*>{
             temperature_, topK_, topP_, minP_, repeatPenalty_, repeatLastN_, presencePenalty_,
             frequencyPenalty_, maxTokens_, threads_})
        b->setMinimumWidth(reference.minimumSizeHint().width());
}

void ControlPanel::changeEvent(QEvent* event) {
    QWidget::changeEvent(event);
    if (event->type() == QEvent::FontChange) fitToFont();
    if (event->type() == QEvent::PaletteChange) updatePromptCount();  // its warning colour
}

QWidget* ControlPanel::buildPromptBox() {
    auto* box = new QGroupBox(tr("Prompt"));
    auto* l = new QVBoxLayout(box);
    l->setSpacing(4);
    prompt_ = new QPlainTextEdit;
    prompt_->setPlaceholderText(tr("Type a prompt."));  // setTokenizer names the start token
    prompt_->setToolTip(tr("The text the model continues. Ctrl+Return generates."));
    prompt_->setTabChangesFocus(true);
    prompt_->setMinimumHeight(prompt_->fontMetrics().lineSpacing() * 3);
    l->addWidget(prompt_);
    promptCount_ = new QLabel;
    promptCount_->setToolTip(
        tr("Tokens of the prompt as the loaded model's tokenizer splits it, against the "
           "model's context; a run needs room for at least one new token."));
    l->addWidget(promptCount_);
    countTimer_ = new QTimer(this);
    countTimer_->setSingleShot(true);
    countTimer_->setInterval(150);  // a long paste is tokenized once, not per keystroke
    connect(countTimer_, &QTimer::timeout, this, &ControlPanel::updatePromptCount);
    connect(prompt_, &QPlainTextEdit::textChanged, countTimer_, qOverload<>(&QTimer::start));
    auto* modeRow = new QFormLayout;
    modeRow->setVerticalSpacing(4);
    mode_ = new QComboBox;
    mode_->addItem(tr("Naive (recompute everything)"));
    mode_->addItem(tr("Cached (KV cache)"));
    mode_->addItem(tr("Compare (both, same seed)"));
    mode_->setCurrentIndex(2);
    mode_->setToolTip(
        tr("Naive re-runs the whole sequence at every step; Cached keeps each "
           "layer's keys and values and computes only the new position; Compare "
           "runs both in lockstep."));
    focus_ = new QComboBox;
    focus_->addItem(tr("naive run"));
    focus_->addItem(tr("cached run"));
    focus_->setCurrentIndex(0);
    focus_->setToolTip(
        tr("In Compare mode, which run the token strip, distribution and "
           "attention panels show."));
    connect(focus_, &QComboBox::currentIndexChanged, this, [this](int i) {
        if (runMode() == RunMode::Compare) compareFocus_ = i;
        Q_EMIT focusModeChanged();
    });
    connect(mode_, &QComboBox::currentIndexChanged, this, &ControlPanel::syncFocusBox);
    modeRow->addRow(tr("Mode"), mode_);
    modeRow->addRow(tr("Panels show"), focus_);
    l->addLayout(modeRow);
    return box;
}

QWidget* ControlPanel::buildButtons() {
    auto* w = new QWidget;
    auto* l = new QGridLayout(w);  // one row: the panel must not scroll at 720 px
    l->setContentsMargins(0, 0, 0, 0);
    l->setVerticalSpacing(4);
    generate_ = new QPushButton(tr("Generate"));
    pause_ = new QPushButton(tr("Pause"));
    step_ = new QPushButton(tr("Step"));
    stop_ = new QPushButton(tr("Stop"));
    reset_ = new QPushButton(tr("Reset"));
    generate_->setToolTip(tr("Start generating (Ctrl+Return)."));
    pause_->setToolTip(tr("Pause or resume the run (Space)."));
    step_->setToolTip(tr("Generate exactly one more token; starts a paused run if none is going."));
    stop_->setToolTip(tr("Stop the run, even in the middle of a step (Esc)."));
    reset_->setToolTip(tr("Stop and clear the run from every panel."));
    generate_->setDefault(true);
    l->addWidget(generate_, 0, 0);
    l->addWidget(pause_, 0, 1);
    l->addWidget(step_, 0, 2);
    l->addWidget(stop_, 0, 3);
    l->addWidget(reset_, 0, 4);
    l->setColumnStretch(0, 2);  // the main action is the widest
    for (int c = 1; c < 5; ++c) l->setColumnStretch(c, 1);
    connect(generate_, &QPushButton::clicked, this, &ControlPanel::generateRequested);
    connect(pause_, &QPushButton::clicked, this, &ControlPanel::pauseToggled);
    connect(step_, &QPushButton::clicked, this, &ControlPanel::stepRequested);
    connect(stop_, &QPushButton::clicked, this, &ControlPanel::stopRequested);
    connect(reset_, &QPushButton::clicked, this, &ControlPanel::resetRequested);
    return w;
}

QWidget* ControlPanel::buildSamplingBox() {
    temperature_ = new QDoubleSpinBox;
    temperature_->setRange(0, 5);
    temperature_->setSingleStep(0.1);
    temperature_->setValue(0.8);
    temperature_->setToolTip(
        tr("Divides the logits before the softmax; 0 always picks the most "
           "likely token (greedy)."));
    topK_ = new QSpinBox;
    topK_->setRange(0, 1 << 20);
    topK_->setValue(40);
    topK_->setSpecialValueText(tr("off"));
    topK_->setToolTip(tr("Keep only the K most likely tokens; 0 turns it off."));
    topP_ = new QDoubleSpinBox;
    topP_->setRange(0, 1);
    topP_->setSingleStep(0.05);
    topP_->setValue(0.95);
    topP_->setToolTip(
        tr("Keep the smallest set of tokens whose probabilities add up to P; "
           "1 turns it off."));
    buildPenaltyBoxes();
    seed_ = new QLineEdit(QStringLiteral("42"));
    seed_->setValidator(
        new QRegularExpressionValidator(QRegularExpression(QStringLiteral("[0-9]{1,19}")), seed_));
    seed_->setToolTip(tr("Random seed: the same seed and settings give the same tokens."));
    dice_ = new QPushButton(tr("New"));
    auto* dice = dice_;
    dice->setToolTip(tr("Pick a new random seed."));
    connect(dice, &QPushButton::clicked, this, &ControlPanel::newRandomSeed);
    auto* seedRow = new QHBoxLayout;
    seedRow->addWidget(seed_, 1);
    seedRow->addWidget(dice);
    maxTokens_ = new QSpinBox;
    maxTokens_->setRange(1, 1 << 20);
    maxTokens_->setValue(200);
    maxTokens_->setToolTip(
        tr("Maximum new tokens: stop after this many (or at the end of the context)."));
    threads_ = new QSpinBox;
    threads_->setRange(1, hardwareThreads());
    threads_->setValue(hardwareThreads());
    threads_->setToolTip(tr("Threads per forward pass (this machine runs %1 at once). Fewer "
                            "threads leave cores free for other work; the FLOPs are the same.")
                             .arg(hardwareThreads()));
    stopAtEot_ = new QCheckBox(tr("Stop at EOT"));
    stopAtEot_->setToolTip(
        tr("End the run when the model emits its end-of-text token (<|endoftext|> for GPT-2)."));
    delay_ = new QSlider(Qt::Horizontal);
    delay_->setRange(0, 1000);
    delay_->setSingleStep(10);
    delay_->setPageStep(100);
    delay_->setToolTip(tr("Delay per token: wait this long between tokens so a class can follow."));
    delayLabel_ = new QLabel;
    auto updateDelay = [this](int ms) {
        delayLabel_->setText(ms == 0 ? tr("full speed") : tr("%1 ms").arg(ms));
        Q_EMIT delayChanged(ms);
    };
    connect(delay_, &QSlider::valueChanged, this, updateDelay);
    delay_->setValue(0);
    updateDelay(0);
    auto* delayRow = new QHBoxLayout;
    delayRow->addWidget(delay_, 1);
    delayRow->addWidget(delayLabel_);
    // Two settings a row, on two tabs where the group box was: the panel must fit a
    // 720-pixel-high projector without scrolling, and the four penalties as two more rows did
    // not (with Noto fonts).
    auto grid = [](QWidget* page) {
        auto* g = new QGridLayout(page);
        g->setContentsMargins(6, 4, 6, 4);
        g->setVerticalSpacing(4);
        g->setColumnStretch(1, 1);
        g->setColumnStretch(3, 1);
        return g;
    };
    auto pair = [](QGridLayout* g, int row, int column, const QString& label, QWidget* field) {
        auto* l = new QLabel(label);
        l->setBuddy(field);
        g->addWidget(l, row, column);
        g->addWidget(field, row, column + 1);
    };
    auto* basics = new QWidget;
    QGridLayout* g = grid(basics);
    pair(g, 0, 0, tr("Temperature"), temperature_);
    pair(g, 0, 2, tr("Top-k"), topK_);
    pair(g, 1, 0, tr("Top-p"), topP_);
    pair(g, 1, 2, tr("Min-p"), minP_);
    pair(g, 2, 0, tr("Max tokens"), maxTokens_);
    pair(g, 2, 2, tr("Threads"), threads_);
    // The stop rule shares the seed's row, for the same reason.
    seedRow->addSpacing(6);
    seedRow->addWidget(stopAtEot_);
    g->addWidget(new QLabel(tr("Seed")), 3, 0);
    g->addLayout(seedRow, 3, 1, 1, 3);
    g->addWidget(new QLabel(tr("Delay")), 4, 0);
    g->addLayout(delayRow, 4, 1, 1, 3);
    auto* penalties = new QWidget;
    QGridLayout* p = grid(penalties);
    pair(p, 0, 0, tr("Repeat pen."), repeatPenalty_);
    pair(p, 0, 2, tr("Last n"), repeatLastN_);
    pair(p, 1, 0, tr("Presence"), presencePenalty_);
    pair(p, 1, 2, tr("Frequency"), frequencyPenalty_);
    auto* order =
        new QLabel(tr("The chain: penalties, temperature, top-k, top-p, min-p, then the draw. The "
                      "distribution panel shows each stage."));
    order->setWordWrap(true);
    p->addWidget(order, 2, 0, 1, 4);
    p->setRowStretch(3, 1);
    samplingTabs_ = new QTabWidget;
    samplingTabs_->addTab(basics, tr("Sampling"));
    samplingTabs_->addTab(penalties, tr("Penalties"));
    samplingTabs_->setDocumentMode(true);  // no frame around the pages: rows, not boxes
    for (QDoubleSpinBox* b : {repeatPenalty_, presencePenalty_, frequencyPenalty_})
        connect(b, &QDoubleSpinBox::valueChanged, this, &ControlPanel::updatePenaltyTab);
    connect(repeatLastN_, &QSpinBox::valueChanged, this, &ControlPanel::updatePenaltyTab);
    updatePenaltyTab();
    return samplingTabs_;
}

// The tab says whether the penalties are on, so settings hidden on it are not forgotten.
void ControlPanel::updatePenaltyTab() {
    const bool on = settings().sampler.penaltiesOn();
    samplingTabs_->setTabText(1, on ? tr("Penalties (on)") : tr("Penalties"));
}

// llama.cpp's penalties and min-p; the defaults leave the chain as it was before they existed.
void ControlPanel::buildPenaltyBoxes() {
    const SamplerSettings defaults;
    minP_ = new QDoubleSpinBox;
    minP_->setRange(0, 1);
    minP_->setDecimals(3);
    minP_->setSingleStep(0.01);
    minP_->setValue(defaults.minP);
    minP_->setSpecialValueText(tr("off"));
    minP_->setToolTip(
        tr("Min-p: keep only the tokens at least this fraction as likely as the "
           "most likely one (after temperature, top-k and top-p); 0 turns it off."));
    repeatPenalty_ = new QDoubleSpinBox;
    repeatPenalty_->setRange(0.01, 10);
    repeatPenalty_->setSingleStep(0.05);
    repeatPenalty_->setValue(defaults.repeatPenalty);
    repeatPenalty_->setToolTip(
        tr("Repetition penalty (llama.cpp's): for every token among the last n, a positive "
           "logit is divided by it and a negative one multiplied; 1 turns it off."));
    presencePenalty_ = new QDoubleSpinBox;
    presencePenalty_->setRange(-10, 10);
    presencePenalty_->setSingleStep(0.1);
    presencePenalty_->setValue(defaults.presencePenalty);
    presencePenalty_->setToolTip(
        tr("Presence penalty: subtracted once from the logit of every token among the last n; "
           "0 turns it off."));
    frequencyPenalty_ = new QDoubleSpinBox;
    frequencyPenalty_->setRange(-10, 10);
    frequencyPenalty_->setSingleStep(0.1);
    frequencyPenalty_->setValue(defaults.frequencyPenalty);
    frequencyPenalty_->setToolTip(
        tr("Frequency penalty: times the number of times a token occurs among the last n, "
           "subtracted from its logit; 0 turns it off."));
    repeatLastN_ = new QSpinBox;
    repeatLastN_->setRange(-1, 1 << 20);
    repeatLastN_->setValue(defaults.repeatLastN);
    repeatLastN_->setSpecialValueText(tr("all"));
    repeatLastN_->setToolTip(
        tr("The penalties' window: the last n tokens of the sequence, prompt included; 0 turns "
           "the penalties off, -1 (\"all\") takes the whole sequence."));
}

void ControlPanel::newRandomSeed() {
    seed_->setText(QString::number(QRandomGenerator::global()->generate64() >> 1));
}

QString ControlPanel::prompt() const {
    return prompt_->toPlainText();
}
void ControlPanel::setPrompt(const QString& text) {
    prompt_->setPlainText(text);
}
RunMode ControlPanel::runMode() const {
    return RunMode(mode_->currentIndex());
}
int ControlPanel::delayMs() const {
    return delay_->value();
}
Mode ControlPanel::focusMode() const {
    if (runMode() == RunMode::Naive) return Mode::Naive;
    if (runMode() == RunMode::Cached) return Mode::Cached;
    return compareFocus_ == 0 ? Mode::Naive : Mode::Cached;
}

void ControlPanel::setRunMode(RunMode m) {
    mode_->setCurrentIndex(int(m));
}

void ControlPanel::setCompareFocus(Mode m) {
    compareFocus_ = m == Mode::Naive ? 0 : 1;
    syncFocusBox();
}

void ControlPanel::setSettings(const GenerationSettings& s) {
    temperature_->setValue(double(s.sampler.temperature));
    topK_->setValue(s.sampler.topK);
    topP_->setValue(double(s.sampler.topP));
    seed_->setText(QString::number(s.sampler.seed));
    minP_->setValue(double(s.sampler.minP));
    repeatPenalty_->setValue(double(s.sampler.repeatPenalty));
    presencePenalty_->setValue(double(s.sampler.presencePenalty));
    frequencyPenalty_->setValue(double(s.sampler.frequencyPenalty));
    repeatLastN_->setValue(s.sampler.repeatLastN);
    maxTokens_->setValue(s.maxNewTokens);
    stopAtEot_->setChecked(s.stopAtEndOfText);
    threads_->setValue(s.threads);
}

void ControlPanel::setDelayMs(int ms) {
    delay_->setValue(ms);
}

// Outside Compare the box is greyed and names the one run there is; the user's Compare choice
// comes back with Compare.
void ControlPanel::syncFocusBox() {
    const RunMode m = runMode();
    const QSignalBlocker quiet(focus_);
    focus_->setCurrentIndex(m == RunMode::Naive ? 0 : m == RunMode::Cached ? 1 : compareFocus_);
    focus_->setEnabled(m == RunMode::Compare && state_ != State::Running &&
                       state_ != State::NoModel);
    Q_EMIT focusModeChanged();
}

void ControlPanel::setTokenizer(TokenizerPtr tokenizer, int context) {
    tokenizer_ = std::move(tokenizer);
    context_ = context;
    // What an empty prompt starts from is the model's: <s> for a Llama, <|endoftext|> for GPT-2.
    const std::vector<int> start =
        tokenizer_ ? tokenizer_->promptIds({}, tokenizer_->special().addBos) : std::vector<int>{};
    prompt_->setPlaceholderText(start.empty() ? tr("Type a prompt.")
                                              : tr("Type a prompt; empty starts from %1.")
                                                    .arg(tokenizer_->tokenDisplay(start.front())));
    updatePromptCount();
}

QString ControlPanel::promptPlaceholder() const {
    return prompt_->placeholderText();
}

int ControlPanel::promptTokens() const {
    if (!tokenizer_) return -1;
    const QByteArray utf8 = prompt().toUtf8();
    return int(tokenizer_
                   ->promptIds(std::string_view(utf8.constData(), std::size_t(utf8.size())),
                               tokenizer_->special().addBos)
                   .size());
}

QString ControlPanel::promptCountText() const {
    return promptCount_->text();
}

void ControlPanel::updatePromptCount() {
    countTimer_->stop();
    const int n = promptTokens();
    if (n < 0) {
        promptCount_->clear();
        return;
    }
    const bool fits = n < context_;
    QString text = tr("prompt: %1 / %2 tokens").arg(n).arg(context_);
    if (!fits) text += tr(" (too long: at most %1)").arg(context_ - 1);
    promptCount_->setText(text);
    // Only the warning's colour is the label's own; the rest follows the panel's palette.
    QPalette pal;
    if (!fits)
        pal.setColor(QPalette::WindowText,
                     theme::isDark(palette()) ? QColor(255, 120, 120) : QColor(200, 30, 30));
    promptCount_->setPalette(pal);
}

GenerationSettings ControlPanel::settings() const {
    GenerationSettings s;
    s.mode = runMode() == RunMode::Naive ? Mode::Naive : Mode::Cached;
    s.sampler.temperature = float(temperature_->value());
    s.sampler.topK = topK_->value();
    s.sampler.topP = float(topP_->value());
    s.sampler.seed = seed_->text().toULongLong();
    s.sampler.minP = float(minP_->value());
    s.sampler.repeatPenalty = float(repeatPenalty_->value());
    s.sampler.presencePenalty = float(presencePenalty_->value());
    s.sampler.frequencyPenalty = float(frequencyPenalty_->value());
    s.sampler.repeatLastN = repeatLastN_->value();
    s.maxNewTokens = maxTokens_->value();
    s.stopAtEndOfText = stopAtEot_->isChecked();
    s.threads = threads_->value();
    return s;
}

void ControlPanel::setModelSummary(const QString& html) {
    modelSummary_->setText(html);
}

// Settings that would change the run in flight are locked while it goes; pacing stays live.
void ControlPanel::setState(State s) {
    state_ = s;
    const bool idle = s == State::Idle, active = s == State::Running || s == State::Paused;
    for (QWidget* w : std::initializer_list<QWidget*>{
             prompt_, mode_, temperature_, topK_, topP_, minP_, repeatPenalty_, presencePenalty_,
             frequencyPenalty_, repeatLastN_, seed_, dice_, maxTokens_, stopAtEot_, threads_})
        w->setEnabled(!active && s != State::NoModel);
    generate_->setEnabled(idle);
    pause_->setEnabled(active);
    pause_->setText(s == State::Paused ? tr("Resume") : tr("Pause"));
    step_->setEnabled(idle || s == State::Paused);
    stop_->setEnabled(active);
    reset_->setEnabled(s != State::NoModel);
    syncFocusBox();
}

void ControlPanel::saveSettings() const {
    QSettings q;
    q.beginGroup(QStringLiteral("controls"));
    q.setValue(QStringLiteral("prompt"), prompt());
    q.setValue(QStringLiteral("mode"), mode_->currentIndex());
    q.setValue(QStringLiteral("focus"), compareFocus_);
    q.setValue(QStringLiteral("temperature"), temperature_->value());
    q.setValue(QStringLiteral("topK"), topK_->value());
    q.setValue(QStringLiteral("topP"), topP_->value());
    q.setValue(QStringLiteral("seed"), seed_->text());
    q.setValue(QStringLiteral("minP"), minP_->value());
    q.setValue(QStringLiteral("repeatPenalty"), repeatPenalty_->value());
    q.setValue(QStringLiteral("presencePenalty"), presencePenalty_->value());
    q.setValue(QStringLiteral("frequencyPenalty"), frequencyPenalty_->value());
    q.setValue(QStringLiteral("repeatLastN"), repeatLastN_->value());
    q.setValue(QStringLiteral("maxTokens"), maxTokens_->value());
    q.setValue(QStringLiteral("stopAtEot"), stopAtEot_->isChecked());
    q.setValue(QStringLiteral("delayMs"), delay_->value());
    q.setValue(QStringLiteral("threads"), threads_->value());
}

void ControlPanel::restoreSettings() {
    QSettings q;
    q.beginGroup(QStringLiteral("controls"));
    if (q.contains(QStringLiteral("prompt")))
        setPrompt(q.value(QStringLiteral("prompt")).toString());
    mode_->setCurrentIndex(q.value(QStringLiteral("mode"), mode_->currentIndex()).toInt());
    compareFocus_ = std::clamp(q.value(QStringLiteral("focus"), compareFocus_).toInt(), 0, 1);
    syncFocusBox();
    temperature_->setValue(
        q.value(QStringLiteral("temperature"), temperature_->value()).toDouble());
    topK_->setValue(q.value(QStringLiteral("topK"), topK_->value()).toInt());
    topP_->setValue(q.value(QStringLiteral("topP"), topP_->value()).toDouble());
    seed_->setText(q.value(QStringLiteral("seed"), seed_->text()).toString());
    minP_->setValue(q.value(QStringLiteral("minP"), minP_->value()).toDouble());
    repeatPenalty_->setValue(
        q.value(QStringLiteral("repeatPenalty"), repeatPenalty_->value()).toDouble());
    presencePenalty_->setValue(
        q.value(QStringLiteral("presencePenalty"), presencePenalty_->value()).toDouble());
    frequencyPenalty_->setValue(
        q.value(QStringLiteral("frequencyPenalty"), frequencyPenalty_->value()).toDouble());
    repeatLastN_->setValue(q.value(QStringLiteral("repeatLastN"), repeatLastN_->value()).toInt());
    maxTokens_->setValue(q.value(QStringLiteral("maxTokens"), maxTokens_->value()).toInt());
    stopAtEot_->setChecked(q.value(QStringLiteral("stopAtEot"), false).toBool());
    delay_->setValue(q.value(QStringLiteral("delayMs"), 0).toInt());
    threads_->setValue(q.value(QStringLiteral("threads"), hardwareThreads()).toInt());
}

}  // namespace kvscope
