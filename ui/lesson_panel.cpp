#include "lesson_panel.h"

#include <QBoxLayout>
#include <QComboBox>
#include <QLabel>
#include <QPushButton>
#include <QSignalBlocker>
#include <QTextBrowser>

namespace kvscope {

LessonPanel::LessonPanel(QWidget* parent) : QWidget(parent) {
    QFont bold = font();
    bold.setBold(true);
    chapters_ = new QComboBox;
    chapters_->setObjectName(QStringLiteral("lesson.chapters"));
    chapters_->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    chapters_->setMinimumContentsLength(12);
    where_ = new QLabel;
    where_->setObjectName(QStringLiteral("lesson.where"));
    stepTitle_ = new QLabel;
    stepTitle_->setWordWrap(true);
    stepTitle_->setFont(bold);
    text_ = new QTextBrowser;
    text_->setObjectName(QStringLiteral("lesson.text"));
    text_->setOpenLinks(false);
    text_->setFocusPolicy(Qt::NoFocus);  // Page Up/Down stay with the lesson's shortcuts
    status_ = new QLabel;
    status_->setObjectName(QStringLiteral("lesson.status"));
    status_->setWordWrap(true);
    back_ = new QPushButton(tr("Back"));
    back_->setToolTip(tr("The previous step (Page Up, Alt+Left)."));
    next_ = new QPushButton(tr("Next"));
    next_->setToolTip(tr("The next step (Page Down, Alt+Right)."));
    next_->setDefault(true);
    next_->setFocusPolicy(Qt::StrongFocus);  // has the focus when a lesson opens
    restart_ = new QPushButton(tr("Restart"));
    restart_->setToolTip(tr("Back to the first step."));
    close_ = new QPushButton(tr("Close"));
    close_->setToolTip(tr("End the lesson; your own settings come back."));
    for (QPushButton* b : {back_, restart_, close_}) b->setFocusPolicy(Qt::TabFocus);
    back_->setObjectName(QStringLiteral("lesson.back"));
    next_->setObjectName(QStringLiteral("lesson.next"));

    auto* top = new QHBoxLayout;
    top->addWidget(chapters_, 1);
    top->addWidget(where_);
    // One row of buttons: the narration needs the height more than the buttons do.
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(back_);
    buttons->addWidget(next_, 1);
    buttons->addWidget(restart_);
    buttons->addWidget(close_);
    auto* v = new QVBoxLayout(this);
    v->addLayout(top);
    v->addWidget(stepTitle_);
    v->addWidget(text_, 1);
    v->addWidget(status_);
    v->addLayout(buttons);

    connect(back_, &QPushButton::clicked, this, &LessonPanel::backRequested);
    connect(next_, &QPushButton::clicked, this, &LessonPanel::nextRequested);
    connect(restart_, &QPushButton::clicked, this, &LessonPanel::restartRequested);
    connect(close_, &QPushButton::clicked, this, &LessonPanel::closeRequested);
    connect(chapters_, &QComboBox::activated, this, &LessonPanel::chapterRequested);
}

void LessonPanel::setLesson(const QString& title, const QStringList& chapters, int steps) {
    chapters_->setToolTip(tr("%1: jump to the start of a chapter.").arg(title));
    const QSignalBlocker quiet(chapters_);
    chapters_->clear();
    for (int i = 0; i < chapters.size(); ++i)
        chapters_->addItem(QStringLiteral("%1. %2").arg(i + 1).arg(chapters[i]));
    steps_ = steps;
}

void LessonPanel::setStep(int chapter, int index, const QString& title) {
    const QSignalBlocker quiet(chapters_);
    chapters_->setCurrentIndex(chapter);
    index_ = index;
    where_->setText(tr("%1 / %2").arg(index + 1).arg(steps_));
    where_->setToolTip(tr("Step %1 of %2").arg(index + 1).arg(steps_));
    stepTitle_->setText(title);
    back_->setEnabled(index > 0);
    next_->setText(index + 1 < steps_ ? tr("Next") : tr("Finish"));
}

void LessonPanel::setNarration(const QString& markdown) {
    text_->setMarkdown(markdown);
}

void LessonPanel::setStatus(const QString& text, bool problem) {
    status_->setText(text);
    QPalette p = palette();
    if (problem) p.setColor(QPalette::WindowText, QColor(170, 51, 119));  // theme's mismatch hue
    status_->setPalette(p);
    status_->setVisible(!text.isEmpty());
}

void LessonPanel::focusNext() {
    next_->setFocus();
}

QString LessonPanel::narrationText() const {
    return text_->toPlainText();
}

QString LessonPanel::statusText() const {
    return status_->text();
}

}  // namespace kvscope
