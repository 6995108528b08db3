#pragma once
// kvscope --headless --what-if: the what-if calculator on the command line, one JSON object on
// stdout (core/cost/what_if_report.h).

class QCommandLineParser;

namespace kvscope {

void addWhatIfOptions(QCommandLineParser& p);
// Runs the query the options describe; returns the exit code (headless.h).
int runWhatIf(const QCommandLineParser& p);

}  // namespace kvscope
