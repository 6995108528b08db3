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
        } else {
            if (c == QLatin1Char(' '))
                append(runs, QStringLiteral("\u00B7"), true);
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
