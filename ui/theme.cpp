#include "theme.h"

#include <QFontDatabase>

#include <algorithm>

namespace kvscope::theme {

bool isDark(const QPalette& p) {
    return p.color(QPalette::Window).lightness() < 128;
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

}  // namespace kvscope::theme
