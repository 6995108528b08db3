#pragma once
// Keeps every chart in step with the app's look. QCustomPlot takes its colours and fonts once, when
// a part is made, so a chart built in a light palette stays white in dark mode and its text stays
// small in presentation mode unless someone redoes them: this file does, for the parts every chart
// has, and calls the chart back for the colours only it knows.

#include "qcustomplot_include.h"

#include <QPalette>

#include <functional>

namespace kvscope::charts {

// `p` in colour `c` (its transparency kept), its width and dashes unchanged.
QPen recoloured(QPen p, const QColor& c);

// Marks a part drawn in a grey between the palette's text (t = 0) and base (t = 1) colours, and
// colours it so: a text item's text, any other item's or plottable's pen (and a graph's markers'
// outline). Fixed greys chosen for white fade on dark; these keep their contrast.
void setInk(QCPLayerable* part, double t);
// A text item's box: filled with the palette's base colour (its alpha kept), and framed in the
// palette's Mid colour when `framed`.
void setPaper(QCPItemText* text, bool framed);

// Colours the parts every chart has from `pal`: background, axes and grids, text elements,
// legends, lines and markers in a mode's colour (theme::modeColor), and the parts marked by setInk
// and setPaper.
void applyPalette(QCustomPlot* plot, const QPalette& pal);

// The factor the plot's fonts, pens, markers and legend icons are drawn at, relative to how the
// chart built them (1).
double drawnScale(const QCustomPlot* plot);
// Then the chart, if it follows the appearance, redoes what depends on its font sizes.
void setDrawnScale(QCustomPlot* plot, double scale);

// Keeps `plot` in step with its palette (applyPalette) and with theme::uiScale() (setDrawnScale)
// on every palette or font change; then `restyled`, if given, redoes the chart's own colours and
// whatever depends on its font sizes. Charts are built at normal size, some from the app's font:
// the window builds them all before presentation mode can be turned on.
void followAppearance(QCustomPlot* plot, std::function<void()> restyled = {});

}  // namespace kvscope::charts
