#include "token_text.h"

namespace kvscope {
namespace {

void append(std::vector<TextRun>& runs, const QString& text, bool marker) {
    if (!runs.empty() && runs.back().marker == marker)
        runs.back().text += text;
    else
        runs.push_back(TextRun{text, marker});
}

// Reads the escape starting at display[i] (a backslash); returns the characters consumed.
qsizetype appendEscape(std::vector<TextRun>& runs, const QString& display, qsizetype i) {
    const QChar next = i + 1 < display.size() ? display[i + 1] : QChar();
    if (next == QLatin1Char('n')) {
        append(runs, QStringLiteral("\u21B5"), true);
    } else if (next == QLatin1Char('t')) {
        append(runs, QStringLiteral("\u2192"), true);
    } else if (next == QLatin1Char('r')) {
        // DejaVu Sans Mono has no U+240D (CR symbol); a left arrow reads as "back to column 0".
        append(runs, QStringLiteral("\u2190"), true);
    } else if (next == QLatin1Char('\\')) {
        append(runs, QStringLiteral("\\"), false);
    } else if (next == QLatin1Char('x') && i + 3 < display.size()) {
        // A lone byte of a split UTF-8 character: keep the hex, but mark it as not-text.
        append(runs, display.mid(i, 4), true);
        return 4;
    } else {
        append(runs, QStringLiteral("\\"), false);
        return 1;
    }
    return 2;
}

// Characters that are invisible or act on their neighbours: format characters (the bidi
// embeddings, overrides and isolates, zero-width joiners, the BOM) and the line and paragraph
// separators. Drawn raw, U+202E would reverse the chip's text and U+2028 break its line.
bool invisible(char32_t c) {
    const auto category = QChar::category(c);
    return category == QChar::Other_Format || category == QChar::Separator_Line ||
           category == QChar::Separator_Paragraph;
}

QString codePointEscape(char32_t c) {
    const QString hex = QString::number(uint(c), 16).toUpper();
    // As C and Python write them: \uXXXX in the BMP, \UXXXXXXXX beyond it.
    if (c > 0xFFFF) return QStringLiteral("\\U") + hex.rightJustified(8, QLatin1Char('0'));
    return QStringLiteral("\\u") + hex.rightJustified(4, QLatin1Char('0'));
}

}  // namespace

std::vector<TextRun> visibleRuns(const QString& display) {
    std::vector<TextRun> runs;
    if (display.isEmpty()) {
        runs.push_back(TextRun{QStringLiteral("\u2205"), true});
        return runs;
    }
    for (qsizetype i = 0; i < display.size();) {
        const QChar c = display[i];
        if (c == QLatin1Char('\\')) {
            i += appendEscape(runs, display, i);
        } else if (c.isHighSurrogate() && i + 1 < display.size() &&
                   display[i + 1].isLowSurrogate()) {
            const char32_t u = QChar::surrogateToUcs4(c, display[i + 1]);
            if (invisible(u))
                append(runs, codePointEscape(u), true);
            else
                append(runs, display.mid(i, 2), false);
            i += 2;
        } else {
            if (c == QLatin1Char(' '))
                append(runs, QStringLiteral("\u00B7"), true);
            else if (invisible(c.unicode()))
                append(runs, codePointEscape(c.unicode()), true);
            else
                append(runs, QString(c), false);
            ++i;
        }
    }
    return runs;
}

QString visibleText(const QString& display) {
    QString out;
    for (const TextRun& r : visibleRuns(display)) out += r.text;
    return out;
}

QString probabilityText(double p) {
    return QString::number(p, 'f', 4);
}

}  // namespace kvscope
