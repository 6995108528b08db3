#pragma once
// The only way ui/ includes QCustomPlot. Its header is written with Qt's lowercase keywords
// (`signals:`, `foreach`), which the project turns off with QT_NO_KEYWORDS so that no other
// library's `emit` or `signals` can collide with them; they are defined here for that one header
// and removed again.

#if defined(QT_NO_KEYWORDS) && !defined(signals)
#define signals Q_SIGNALS
#define KVSCOPE_QCP_SIGNALS
#endif
#if defined(QT_NO_KEYWORDS) && !defined(foreach)
#define foreach Q_FOREACH
#define KVSCOPE_QCP_FOREACH
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
