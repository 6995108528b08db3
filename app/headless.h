#pragma once
// The command line without a display: generate, print, export.

namespace kvscope {

enum ExitCode { ExitOk = 0, ExitUsage = 2, ExitModel = 3, ExitGeneration = 4 };

int runHeadless(int argc, char** argv);

}  // namespace kvscope
