#pragma once
// Token text as the panels show it: Tokenizer::tokenDisplay() escapes control characters as
// \n, \r, \t, \xNN and \\; a reader should instead see where the whitespace is, so spaces,
// newlines and tabs become glyphs (drawn dimmer than the token's letters) and the
// backslash escape is undone. Format characters (bidi overrides and isolates, zero-width
// characters) and the line and paragraph separators show as \u202E-style escapes, so no chip
// can reorder or break its own text.

#include <QString>

#include <vector>

namespace kvscope {

struct TextRun {
    QString text;
    bool marker = false;  // a stand-in glyph (whitespace, raw byte), not the token's own text
};

// Consecutive characters of the same kind share one run; an empty token is one marker run.
std::vector<TextRun> visibleRuns(const QString& display);
QString visibleText(const QString& display);

// A probability as the panels print it: four decimals.
QString probabilityText(double p);

}  // namespace kvscope
