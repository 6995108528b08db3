#pragma once
// The sequence as a wrapping strip of token chips: the prompt, then the focus run's generated
// tokens. One widget paints every chip itself because a run reaches thousands of tokens at
// thousands per second: chip sizes are measured once per token, new tokens are laid out after
// the last one, and a paint touches only the visible rows.

#include "run_view.h"
#include "token_text.h"

#include <QAbstractScrollArea>
#include <QElapsedTimer>

#include <cstdint>
#include <vector>

class QPainter;
class QVariantAnimation;

namespace kvscope {

class TokenStrip : public QAbstractScrollArea {
    Q_OBJECT
public:
    explicit TokenStrip(QWidget* parent = nullptr);

    void setView(const RunView& v);
    void refresh();

    int chipCount() const { return int(chips_.size()); }
    QRect chipRect(int index) const;       // viewport coordinates; click at viewport()
    int chipAt(QPoint viewportPos) const;  // -1 when no chip is there
    int stepOfChip(int index) const;       // -1 for a prompt chip
    QString chipToolTip(int index) const;  // rich text
    int mismatchCount() const { return mismatches_; }
    bool animatingNewest() const;
    QString emptyText() const;  // what the strip says while it holds no chip; empty otherwise
    // Chips positioned since construction: grows by the new tokens only, unless the width changed.
    std::int64_t layoutCount() const { return layouts_; }

    QSize sizeHint() const override;
    QSize minimumSizeHint() const override;

Q_SIGNALS:
    // A generated token's step, or -1: go back to following the newest step.
    void stepSelected(int step);

protected:
    void paintEvent(QPaintEvent* event) override;
    void resizeEvent(QResizeEvent* event) override;
    void mousePressEvent(QMouseEvent* event) override;
    void mouseReleaseEvent(QMouseEvent* event) override;
    void keyPressEvent(QKeyEvent* event) override;
    bool viewportEvent(QEvent* event) override;
    void changeEvent(QEvent* event) override;

private:
    struct Chip {
        std::vector<TextRun> runs;
        int width = 0;
        QRect rect;     // content coordinates
        int step = -1;  // index into the focus run's steps; -1 for the prompt
        int token = -1;
        bool differs = false;  // the other run chose another token here
    };
    // What the chips were built from; any change but growth means starting over.
    struct Source {
        const RunExport* run = nullptr;
        const Model* model = nullptr;
        Mode mode = Mode::Cached;
        bool comparing = false;
        std::vector<int> promptIds;
        StepResultPtr firstStep;
    };

    bool sameSource() const;
    void rebuild();
    int appendNewChips();
    void addChip(const QString& display, int token, int step);
    int chipWidth(const std::vector<TextRun>& runs) const;
    void placeChip(Chip& c);
    void relayout();
    void markMismatches();
    void updateMetrics();
    void updateScrollRange();
    void startAnimation(int added);
    void ensureVisible(int index);
    void select(int step);
    int contentWidth() const;
    int selectedChip() const;
    int generatedCount() const { return chipCount() - promptChips_; }

    void paintChip(QPainter& p, const Chip& c, int index) const;
    void paintText(QPainter& p, const Chip& c, const QColor& fill) const;
    QColor chipFill(const Chip& c, int index) const;
    int firstChipBelow(int y) const;
    QString generatedToolTip(const Chip& c) const;
    QString alternativesTable(const SampleSummary& m) const;

    RunView view_;
    Source source_;
    std::vector<Chip> chips_;
    int promptChips_ = 0;
    int compared_ = 0;  // steps already checked against the other run
    int mismatches_ = 0;
    int selected_ = -1;  // step, as the view last said or the user just chose
    bool selectionMoved_ = false;
    std::int64_t layouts_ = 0;

    QFont font_;
    int padX_ = 0, padY_ = 0, gap_ = 0, chipHeight_ = 0, margin_ = 0, ascent_ = 0;
    QPoint cursor_;  // where the next chip goes, content coordinates
    int laidOutWidth_ = -1;

    QVariantAnimation* anim_ = nullptr;
    int animChip_ = -1;
    QElapsedTimer sinceAppend_;
};

}  // namespace kvscope
