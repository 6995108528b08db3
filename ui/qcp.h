#pragma once
// QCustomPlot for a project built with QT_NO_KEYWORDS: its header still says `signals` and
// `foreach`, so they are mapped to the macros for the duration of the include only.

#ifndef signals
#define KVSCOPE_QCP_SIGNALS
#define signals Q_SIGNALS
#endif
#ifndef foreach
#define KVSCOPE_QCP_FOREACH
#define foreach Q_FOREACH
#endif

#include <qcustomplot.h>

#ifdef KVSCOPE_QCP_SIGNALS
#undef signals
#undef KVSCOPE_QCP_SIGNALS
#endif
#ifdef KVSCOPE_QCP_FOREACH
#undef foreach
#undef KVSCOPE_QCP_FOREACH
#endif
