#pragma once
// The live figures a lesson's narration quotes ({recomputed_rows}, {total_flops:naive}, ...):
// each is read off the run on screen, the step selected in it, the loaded model's configuration
// or this machine's measured roofs, and comes back as a value with its unit; the window formats
// it as every panel does. A figure that the run cannot give (no naive run to count recomputed
// rows in) is an error naming what is missing, never a made-up number.

#include "cost/machine_probe.h"
#include "run/run_export.h"
#include "util/result.h"

#include <QString>

#include <optional>
#include <vector>

namespace kvscope {

enum class FigureUnit {
    Count,         // a whole number: tokens, rows, heads
    Flops,         // FLOPs, shown with an SI prefix
    Bytes,         // bytes, shown with an SI prefix
    Percent,       // 0..100
    Factor,        // a ratio, shown as "12.3×"
    Number,        // a plain number, three significant digits (a difference, an entropy)
    Exponent,      // a power law's exponent, two decimals (2.00 reads as a square)
    Milliseconds,  //
    GBytesPerS,    // 1e9 bytes per second
    GFlopsPerS,    // 1e9 FLOPs per second
    FlopsPerByte,  // arithmetic intensity
    Text,          // a token or a name
};

struct Figure {
    double value = 0;
    FigureUnit unit = FigureUnit::Number;
    QString text;  // for FigureUnit::Text
};

// What a figure's argument may be.
enum class FigureArg {
    None,       // {name}
    Mode,       // {name:naive} or {name:cached}; optional, the run's focus mode when left out
    WeightType  // {name:Q4_K}: a ggml type name (whatif::typeNamed)
};

struct FigureSpec {
    const char* name;
    FigureArg arg;
    const char* help;
};
const std::vector<FigureSpec>& lessonFigures();

// Parse time: nullopt when `name` and `arg` make a figure, else what is wrong with them.
std::optional<QString> checkFigure(const QString& name, const QString& arg);

struct FigureContext {
    const RunExport* run = nullptr;  // null before any run
    int selectedStep = -1;           // -1: the newest step
    Mode focus = Mode::Cached;       // the run single-run figures read when both ran
    std::optional<MachineRoofs> roofs;
};

Result<Figure> evaluateFigure(const FigureContext& context, const QString& name,
                              const QString& arg);

}  // namespace kvscope
