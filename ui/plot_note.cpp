#include "plot_note.h"

#include <QFontMetrics>
#include <QStringList>

#include <algorithm>

namespace kvscope {
namespace {

constexpr int kGuessReservedPx = 90;  // other columns' width before the first layout pass

// Breaks one word that cannot fit a line on its own between characters.
void appendLongWord(const QString& word, const QFontMetrics& fm, int width, QStringList& lines) {
    QString line;
    for (const QChar c : word) {
        if (!line.isEmpty() && fm.horizontalAdvance(line + c) > width) {
            lines << line;
            line.clear();
        }
        line += c;
    }
    if (!line.isEmpty()) lines << line;
}

}  // namespace

PlotNote::PlotNote(QCustomPlot* plot) : QCPTextElement(plot) {
    setTextFlags(Qt::AlignLeft | Qt::AlignVCenter);  // wrapped here, not by the painter
    setMargins(QMargins(8, 4, 8, 4));
    // Width 1: the column's width comes from the other elements; height 0: from the text.
    setMinimumSize(1, 0);
}

void PlotNote::setNote(const QString& text) {
    note_ = text;
    setText(text);  // wrapped to the column on the next layout pass
}

// The column this note sits in is as wide as the viewport less the other columns; those keep
// their width from one pass to the next, so the last pass tells how much they take.
int PlotNote::availableWidth() const {
    const int reserved = reservedPx_ >= 0 ? reservedPx_ : kGuessReservedPx;
    return std::max(
        1, mParentPlot->viewport().width() - reserved - mMargins.left() - mMargins.right());
}

void PlotNote::update(UpdatePhase phase) {
    if (phase == upPreparation && !note_.isEmpty())
        mText = wrapped(note_, QFontMetrics(mainFont()), availableWidth());
    QCPTextElement::update(phase);
    if (phase == upLayout && mOuterRect.width() > 0)
        reservedPx_ = mParentPlot->viewport().width() - mOuterRect.width();
}

QString PlotNote::wrapped(const QString& text, const QFontMetrics& fm, int width) {
    QStringList lines;
    for (const QString& paragraph : text.split(QLatin1Char('\n'))) {
        QString line;
        for (const QString& word : paragraph.split(QLatin1Char(' '), Qt::SkipEmptyParts)) {
            const QString candidate = line.isEmpty() ? word : line + QLatin1Char(' ') + word;
            if (fm.horizontalAdvance(candidate) <= width) {
                line = candidate;
                continue;
            }
            if (!line.isEmpty()) lines << line;
            line.clear();
            if (fm.horizontalAdvance(word) <= width)
                line = word;
            else
                appendLongWord(word, fm, width, lines);
        }
        if (!line.isEmpty() || paragraph.isEmpty()) lines << line;
    }
    return lines.join(QLatin1Char('\n'));
}

}  // namespace kvscope
