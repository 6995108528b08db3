#pragma once
// Prompt and run controls: what to generate and how, and the buttons that drive the worker.

#include "run/generation_session.h"
#include "tokenizer/tokenizer.h"

#include <QWidget>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;
class QSlider;
class QSpinBox;
class QTabWidget;
class QTimer;

namespace kvscope {

enum class RunMode { Naive, Cached, Compare };

class ControlPanel : public QWidget {
    Q_OBJECT
public:
    explicit ControlPanel(QWidget* parent = nullptr);

    QString prompt() const;
    void setPrompt(const QString& text);
    RunMode runMode() const;
    GenerationSettings settings() const;  // mode from runMode() (cached when comparing)
    int delayMs() const;
    Mode focusMode() const;  // which run single-run panels show when comparing
    // Setters for a lesson (and tests): they write the widgets, as if the user had.
    void setRunMode(RunMode m);
    void setCompareFocus(Mode m);                   // the run the panels show when comparing
    void setSettings(const GenerationSettings& s);  // all but the mode
    void setDelayMs(int ms);

    enum class State { Idle, Running, Paused, NoModel };
    void setState(State s);
    void setModelSummary(const QString& html);
    // The loaded model's tokenizer and context, for the live prompt-length counter.
    void setTokenizer(TokenizerPtr tokenizer, int context);
    int promptTokens() const;  // -1 without a tokenizer
    QString promptCountText() const;
    QString promptPlaceholder() const;

    void saveSettings() const;
    void restoreSettings();

Q_SIGNALS:
    void generateRequested();
    void pauseToggled();
    void stepRequested();
    void stopRequested();
    void resetRequested();
    void delayChanged(int ms);
    void focusModeChanged();

protected:
    void changeEvent(QEvent* event) override;

private:
    void fitToFont();
    QWidget* buildPromptBox();
    QWidget* buildSamplingBox();
    void buildPenaltyBoxes();
    void updatePenaltyTab();
    QWidget* buildButtons();
    void newRandomSeed();
    void syncFocusBox();
    void updatePromptCount();

    QPlainTextEdit* prompt_;
    QComboBox* mode_;
    QComboBox* focus_;
    QDoubleSpinBox* temperature_;
    QSpinBox* topK_;
    QDoubleSpinBox* topP_;
    QDoubleSpinBox* minP_;
    QDoubleSpinBox* repeatPenalty_;
    QDoubleSpinBox* presencePenalty_;
    QDoubleSpinBox* frequencyPenalty_;
    QSpinBox* repeatLastN_;
    QTabWidget* samplingTabs_ = nullptr;  // Sampling | Penalties
    QLineEdit* seed_;
    QPushButton* dice_;
    QSpinBox* maxTokens_;
    QSpinBox* threads_;
    QSlider* delay_;
    QLabel* delayLabel_;
    QCheckBox* stopAtEot_;
    QPushButton *generate_, *pause_, *step_, *stop_, *reset_;
    QLabel* modelSummary_;
    QLabel* promptCount_;
    QTimer* countTimer_;
    TokenizerPtr tokenizer_;
    int context_ = 0;
    int compareFocus_ = 0;  // the run the panels show in Compare mode: 0 naive, 1 cached
    State state_ = State::NoModel;
};

}  // namespace kvscope
