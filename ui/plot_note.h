#pragma once
// A note in a plot's layout, outside the axis rect it describes: a text element that wraps its
// text at word boundaries to the width its layout column gets, so it is never clipped and never
// covers data. QCPTextElement alone asks its column for the width of its longest line, which
// would squeeze the colour scale or run past the edge of a narrow dock.

#include "qcustomplot_include.h"

#include <QString>

namespace kvscope {

class PlotNote : public QCPTextElement {
public:
    explicit PlotNote(QCustomPlot* plot);

    // '\n' separates paragraphs; each is wrapped on its own.
    void setNote(const QString& text);
    QString note() const { return note_; }
    bool isEmpty() const { return note_.isEmpty(); }

    // Where the text was last drawn, in the plot's pixels; empty before the first draw.
    QRect drawnTextRect() const { return mTextBoundingRect; }

    void update(UpdatePhase phase) override;

    // `text` broken into lines no wider than `width` px in `metrics` (a word wider than that is
    // broken between characters).
    static QString wrapped(const QString& text, const QFontMetrics& metrics, int width);

private:
    int availableWidth() const;

    QString note_;
    int reservedPx_ = -1;  // viewport width the other columns took in the last layout pass
};

}  // namespace kvscope
