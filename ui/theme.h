#pragma once
// Colours and fonts shared by every panel, so naive and cached, prompt and generated tokens look
// the same everywhere, in light and dark palettes alike.

#include "cost/flops.h"

#include <QColor>
#include <QFont>
#include <QPalette>

namespace kvscope::theme {

QColor modeColor(Mode m);  // naive: vermilion, cached: blue (colour-blind safe pair)
// The mode's colour for lines and markers on `p`'s background: on dark, lifted a quarter of the
// way to white (the blue has under 3:1 contrast on dark grey).
QColor modeColor(Mode m, const QPalette& p);
QColor liftedForDark(const QColor& c);
QColor weightsColor();  // bytes of weights streamed: bluish green, apart from both modes
QColor promptChip(const QPalette& p);
QColor generatedChip(const QPalette& p);
QColor selectionColor(const QPalette& p);
QColor mismatchColor(const QPalette& p);  // naive and cached disagree: must never be seen
// Component i is kFlopComponents[i] (cost/flops.h).
QColor componentColor(int component);
const char* componentName(int component);
constexpr int kComponents = kFlopComponentCount;
static_assert(kComponents == 7, "componentColor() has one colour per FLOP component");
std::int64_t componentValue(const FlopBreakdown& f, int component);
bool isDark(const QPalette& p);
// The explicit palettes of View > Appearance (Fusion's colour roles, set in full so every style
// draws them), and exports on white.
QPalette lightPalette();
QPalette darkPalette();
// For a projector: pure black or white text, and a selection that stands out from everything
// else on screen.
QPalette highContrast(QPalette p);
// How much larger than normal fonts, lines and markers are drawn (presentation mode: 1.5). Set by
// Appearance; the charts scale their own fonts by it, as QCustomPlot does not follow the app font.
double uiScale();
void setUiScale(double scale);
QColor blend(const QColor& from, const QColor& to, double t);  // t = 0: from, t = 1: to
QFont monoFont(int pointSize = 0);
// `f` `factor` times larger, in points or pixels as it was given.
QFont scaledFont(QFont f, double factor);

}  // namespace kvscope::theme
