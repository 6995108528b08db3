#pragma once
// The one way ui/ includes QCustomPlot. The project builds with QT_NO_KEYWORDS (core's headers
// use Q_SIGNALS/Q_EMIT), but qcustomplot.h still says `signals` and `foreach`; define those two
// for the header only and take them away again so they cannot leak into our code.

#ifndef signals
#define signals Q_SIGNALS
#define KVSCOPE_QCP_UNDEF_SIGNALS
#endif
#ifndef foreach
#define foreach Q_FOREACH
#define KVSCOPE_QCP_UNDEF_FOREACH
#endif

#include <qcustomplot.h>

#ifdef KVSCOPE_QCP_UNDEF_SIGNALS
#undef signals
#undef KVSCOPE_QCP_UNDEF_SIGNALS
#endif
#ifdef KVSCOPE_QCP_UNDEF_FOREACH
#undef foreach
#undef KVSCOPE_QCP_UNDEF_FOREACH
#endif
