#include "control_panel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
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
#include <QVBoxLayout>

namespace kvscope {

ControlPanel::ControlPanel(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    modelSummary_ = new QLabel(tr("No model loaded."));
    modelSummary_->setWordWrap(true);
    modelSummary_->setTextFormat(Qt::RichText);
    modelSummary_->setToolTip(tr("The model every run uses. File > Open Model changes it."));
    layout->addWidget(modelSummary_);
    layout->addWidget(buildPromptBox());
    layout->addWidget(buildButtons());
    layout->addWidget(buildSamplingBox());
    layout->addStretch(1);
    setState(State::NoModel);
}

QWidget* ControlPanel::buildPromptBox() {
    auto* box = new QGroupBox(tr("Prompt"));
    auto* l = new QVBoxLayout(box);
    prompt_ = new QPlainTextEdit;
    prompt_->setPlaceholderText(tr("Type a prompt; empty starts from <|endoftext|>."));
    prompt_->setToolTip(tr("The text the model continues. Ctrl+Return generates."));
    prompt_->setTabChangesFocus(true);
    prompt_->setMinimumHeight(prompt_->fontMetrics().lineSpacing() * 4);
    l->addWidget(prompt_);
    auto* modeRow = new QFormLayout;
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
    connect(focus_, &QComboBox::currentIndexChanged, this, &ControlPanel::focusModeChanged);
    connect(mode_, &QComboBox::currentIndexChanged, this,
            [this](int i) { focus_->setEnabled(i == 2); });
    modeRow->addRow(tr("Mode"), mode_);
    modeRow->addRow(tr("Panels show"), focus_);
    l->addLayout(modeRow);
    return box;
}

QWidget* ControlPanel::buildButtons() {
    auto* w = new QWidget;
    auto* l = new QGridLayout(w);  // two rows keep the panel narrow
    l->setContentsMargins(0, 0, 0, 0);
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
    l->addWidget(generate_, 0, 0, 1, 2);
    l->addWidget(pause_, 0, 2);
    l->addWidget(step_, 1, 0);
    l->addWidget(stop_, 1, 1);
    l->addWidget(reset_, 1, 2);
    connect(generate_, &QPushButton::clicked, this, &ControlPanel::generateRequested);
    connect(pause_, &QPushButton::clicked, this, &ControlPanel::pauseToggled);
    connect(step_, &QPushButton::clicked, this, &ControlPanel::stepRequested);
    connect(stop_, &QPushButton::clicked, this, &ControlPanel::stopRequested);
    connect(reset_, &QPushButton::clicked, this, &ControlPanel::resetRequested);
    return w;
}

QWidget* ControlPanel::buildSamplingBox() {
    auto* box = new QGroupBox(tr("Sampling"));
    auto* f = new QFormLayout(box);
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
    maxTokens_->setToolTip(tr("Stop after this many new tokens (or at the end of the context)."));
    threads_ = new QSpinBox;
    threads_->setRange(1, hardwareThreads());
    threads_->setValue(hardwareThreads());
    threads_->setToolTip(tr("Threads per forward pass (this machine runs %1 at once). Fewer "
                            "threads leave cores free for other work; the FLOPs are the same.")
                             .arg(hardwareThreads()));
    stopAtEot_ = new QCheckBox(tr("Stop at <|endoftext|>"));
    stopAtEot_->setToolTip(tr("End the run when the model emits the end-of-text token."));
    delay_ = new QSlider(Qt::Horizontal);
    delay_->setRange(0, 1000);
    delay_->setSingleStep(10);
    delay_->setPageStep(100);
    delay_->setToolTip(tr("Wait this long between tokens so a class can follow."));
    delayLabel_ = new QLabel;
    delayLabel_->setMinimumWidth(
        delayLabel_->fontMetrics().horizontalAdvance(QStringLiteral("1000 ms")));
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
    f->addRow(tr("Temperature"), temperature_);
    f->addRow(tr("Top-k"), topK_);
    f->addRow(tr("Top-p"), topP_);
    f->addRow(tr("Seed"), seedRow);
    f->addRow(tr("Max new tokens"), maxTokens_);
    f->addRow(tr("Threads"), threads_);
    f->addRow(QString(), stopAtEot_);
    f->addRow(tr("Delay per token"), delayRow);
    return box;
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
    return focus_->currentIndex() == 0 ? Mode::Naive : Mode::Cached;
}

GenerationSettings ControlPanel::settings() const {
    GenerationSettings s;
    s.mode = runMode() == RunMode::Naive ? Mode::Naive : Mode::Cached;
    s.sampler.temperature = float(temperature_->value());
    s.sampler.topK = topK_->value();
    s.sampler.topP = float(topP_->value());
    s.sampler.seed = seed_->text().toULongLong();
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
    for (QWidget* w :
         std::initializer_list<QWidget*>{prompt_, mode_, temperature_, topK_, topP_, seed_, dice_,
                                         maxTokens_, stopAtEot_, threads_})
        w->setEnabled(!active && s != State::NoModel);
    generate_->setEnabled(idle);
    pause_->setEnabled(active);
    pause_->setText(s == State::Paused ? tr("Resume") : tr("Pause"));
    step_->setEnabled(idle || s == State::Paused);
    stop_->setEnabled(active);
    reset_->setEnabled(s != State::NoModel);
}

void ControlPanel::saveSettings() const {
    QSettings q;
    q.beginGroup(QStringLiteral("controls"));
    q.setValue(QStringLiteral("prompt"), prompt());
    q.setValue(QStringLiteral("mode"), mode_->currentIndex());
    q.setValue(QStringLiteral("focus"), focus_->currentIndex());
    q.setValue(QStringLiteral("temperature"), temperature_->value());
    q.setValue(QStringLiteral("topK"), topK_->value());
    q.setValue(QStringLiteral("topP"), topP_->value());
    q.setValue(QStringLiteral("seed"), seed_->text());
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
    focus_->setCurrentIndex(q.value(QStringLiteral("focus"), focus_->currentIndex()).toInt());
    temperature_->setValue(
        q.value(QStringLiteral("temperature"), temperature_->value()).toDouble());
    topK_->setValue(q.value(QStringLiteral("topK"), topK_->value()).toInt());
    topP_->setValue(q.value(QStringLiteral("topP"), topP_->value()).toDouble());
    seed_->setText(q.value(QStringLiteral("seed"), seed_->text()).toString());
    maxTokens_->setValue(q.value(QStringLiteral("maxTokens"), maxTokens_->value()).toInt());
    stopAtEot_->setChecked(q.value(QStringLiteral("stopAtEot"), false).toBool());
    delay_->setValue(q.value(QStringLiteral("delayMs"), 0).toInt());
    threads_->setValue(q.value(QStringLiteral("threads"), hardwareThreads()).toInt());
}

}  // namespace kvscope
