#include "theme.h"

#include <QFontDatabase>
#include <QStyle>
#include <QStyleFactory>

#include <algorithm>
#include <cmath>
#include <memory>

namespace kvscope::theme {

bool isDark(const QPalette& p) {
    return p.color(QPalette::Window).lightness() < 128;
}

namespace {
double scale_ = 1.0;

void setTextColors(QPalette& p, const QColor& ink) {
    for (auto role :
         {QPalette::WindowText, QPalette::Text, QPalette::ButtonText, QPalette::ToolTipText})
        p.setColor(QPalette::All, role, ink);
}

void setDisabledInk(QPalette& p, const QColor& ink) {
    for (auto role : {QPalette::WindowText, QPalette::Text, QPalette::ButtonText})
        p.setColor(QPalette::Disabled, role, ink);
}
}  // namespace

double uiScale() {
    return scale_;
}

void setUiScale(double scale) {
    scale_ = scale;
}

// Fusion's own light palette: what Debian's Qt shows without a desktop theme.
QPalette lightPalette() {
    const std::unique_ptr<QStyle> fusion(QStyleFactory::create(QStringLiteral("Fusion")));
    return fusion->standardPalette();
}

// Off-white text on dark grey: pure white on black glares on a monitor (presentation mode has it).
QPalette darkPalette() {
    QPalette p = lightPalette();
    const QColor window(53, 53, 53), base(36, 36, 36);
    for (auto [role, c] : {std::pair{QPalette::Window, window},
                           {QPalette::Button, window},
                           {QPalette::Base, base},
                           {QPalette::AlternateBase, QColor(48, 48, 48)},
                           {QPalette::ToolTipBase, window},
                           {QPalette::Light, QColor(80, 80, 80)},
                           {QPalette::Midlight, QColor(66, 66, 66)},
                           {QPalette::Mid, QColor(110, 110, 110)},
                           {QPalette::Dark, QColor(30, 30, 30)},
                           {QPalette::Shadow, QColor(15, 15, 15)},
                           {QPalette::Highlight, QColor(42, 130, 218)},
                           {QPalette::HighlightedText, QColor(255, 255, 255)},
                           {QPalette::Link, QColor(110, 170, 240)},
                           {QPalette::LinkVisited, QColor(190, 140, 230)},
                           {QPalette::PlaceholderText, QColor(150, 150, 150)},
                           {QPalette::BrightText, QColor(255, 110, 110)}})
        p.setColor(QPalette::All, role, c);
    setTextColors(p, QColor(232, 232, 232));
    setDisabledInk(p, QColor(128, 128, 128));
    p.setColor(QPalette::Disabled, QPalette::Button, window);
    p.setColor(QPalette::Disabled, QPalette::Base, window);
    return p;
}

QPalette highContrast(QPalette p) {
    const bool dark = isDark(p);
    const QColor ink = dark ? Qt::white : Qt::black, paper = dark ? Qt::black : Qt::white;
    setTextColors(p, ink);
    setDisabledInk(p, dark ? QColor(170, 170, 170) : QColor(90, 90, 90));
    p.setColor(QPalette::All, QPalette::Base, paper);
    p.setColor(QPalette::All, QPalette::Window, blend(paper, ink, 0.08));
    p.setColor(QPalette::All, QPalette::Button, blend(paper, ink, 0.12));
    p.setColor(QPalette::All, QPalette::Mid, blend(paper, ink, 0.6));
    // Yellow on dark and deep blue on light: apart from both modes' colours and the chips.
    p.setColor(QPalette::All, QPalette::Highlight, dark ? QColor(255, 210, 0) : QColor(0, 60, 190));
    p.setColor(QPalette::All, QPalette::HighlightedText, dark ? Qt::black : Qt::white);
    return p;
}

QColor blend(const QColor& from, const QColor& to, double t) {
    const auto lerp = [t](int a, int b) { return int(a + (b - a) * t + 0.5); };
    return QColor(lerp(from.red(), to.red()), lerp(from.green(), to.green()),
                  lerp(from.blue(), to.blue()));
}

// Okabe-Ito colours: distinguishable with the common colour-vision deficiencies.
QColor modeColor(Mode m) {
    return m == Mode::Naive ? QColor(213, 94, 0) : QColor(0, 114, 178);
}

QColor modeColor(Mode m, const QPalette& p) {
    return isDark(p) ? liftedForDark(modeColor(m)) : modeColor(m);
}

QColor liftedForDark(const QColor& c) {
    QColor out = blend(c, Qt::white, 0.25);
    out.setAlpha(c.alpha());
    return out;
}

QColor weightsColor() {
    return QColor(0x00, 0x9E, 0x73);  // Okabe-Ito bluish green
}

QColor promptChip(const QPalette& p) {
    return isDark(p) ? QColor(70, 74, 82) : QColor(226, 230, 236);
}

QColor generatedChip(const QPalette& p) {
    return isDark(p) ? QColor(24, 84, 60) : QColor(200, 236, 214);
}

QColor selectionColor(const QPalette& p) {
    return p.color(QPalette::Highlight);
}

// Reddish purple (Okabe-Ito) rather than red: it must not read as the naive mode's vermilion.
QColor mismatchColor(const QPalette& p) {
    return isDark(p) ? QColor(230, 140, 190) : QColor(170, 51, 119);
}

// One colour per entry of kFlopComponents, in its order.
QColor componentColor(int c) {
    static const QColor colors[kComponents] = {
        QColor(0, 114, 178), QColor(213, 94, 0),    QColor(230, 159, 0),  QColor(86, 180, 233),
        QColor(0, 158, 115), QColor(204, 121, 167), QColor(140, 140, 140)};
    return colors[std::clamp(c, 0, kComponents - 1)];
}

const char* componentName(int c) {
    return kFlopComponents[std::clamp(c, 0, kComponents - 1)].label;
}

std::int64_t componentValue(const FlopBreakdown& f, int c) {
    return f.*kFlopComponents[std::clamp(c, 0, kComponents - 1)].field;
}

QFont monoFont(int pointSize) {
    QFont f = QFontDatabase::systemFont(QFontDatabase::FixedFont);
    if (pointSize > 0) f.setPointSize(pointSize);
    return f;
}

QFont scaledFont(QFont f, double factor) {
    if (f.pointSizeF() > 0)
        f.setPointSizeF(f.pointSizeF() * factor);
    else
        f.setPixelSize(std::max(1, int(std::lround(f.pixelSize() * factor))));
    return f;
}

}  // namespace kvscope::theme
