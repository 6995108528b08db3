#include "headless.h"

#include "cost/machine_probe.h"
#include "main_window.h"
#include "model/embedded_model.h"
#include "model/model.h"
#include "run/lockstep.h"
#include "run/run_export.h"
#include "what_if_cli.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLayout>
#include <QResizeEvent>
#include <QSettings>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>
#include <type_traits>

namespace kvscope {
namespace {

struct Options {
    QString modelPath, tokenizerPath, prompt, jsonPath, csvPath, exportDir;
    std::optional<QByteArray> tokenize;  // --tokenize / --tokenize-file: these exact bytes
    bool addBos = false;
    bool measureRoofs = false;
    int contextLength = 0;  // --ctx-size; 0: the model's
    std::vector<Mode> modes;
    GenerationSettings settings;
};

void addOptions(QCommandLineParser& p) {
    p.setApplicationDescription(QStringLiteral(
        "kvscope: watch a transformer generate text token by token and count what it costs, "
        "naive (every step recomputes the whole sequence) versus KV-cached.\n\n"
        "Exit codes: 0 ok, 2 usage error, 3 model could not be loaded, 4 generation error."));
    p.addHelpOption();
    p.addVersionOption();
    p.addOptions({
        {QStringLiteral("headless"),
         QStringLiteral(
             "Run on the command line, without a window (without it, kvscope opens its window).")},
        {QStringLiteral("present"),
         QStringLiteral("The window only: start in presentation mode (fonts, lines and markers "
                        "1.5 times larger in high contrast, laid out for a 1280x720 projector; "
                        "View > Presentation Mode, F5).")},
        {QStringLiteral("lesson"),
         QStringLiteral("The window only: start the guided lesson, the built-in one or the "
                        "lesson FILE given after the options (Help > Lesson, F1; "
                        "docs/LESSONS.md).")},
        {QStringLiteral("model"),
         QStringLiteral("A model folder or file, identified by its bytes: a Hugging Face GPT-2 "
                        "folder (config.json, model.safetensors, vocab.json, merges.txt) or its "
                        "model.safetensors; a llama2.c checkpoint (.bin, legacy or version 1) "
                        "with its tokenizer.bin; a GGUF file (llama, qwen2, gpt2; F32, F16, "
                        "BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K..Q6_K); or a model inside "
                        "kvscope, one of: %1.")
             .arg(embeddedModelsHelp()),
         QStringLiteral("PATH")},
        {QStringLiteral("ctx-size"),
         QStringLiteral("Positions a run may use (default: the model's, at most 8192). Rotary "
                        "models take any length; GPT-2's learned positions cap it."),
         QStringLiteral("N")},
        {QStringLiteral("tokenizer"),
         QStringLiteral("The tokenizer.bin of a llama2.c checkpoint (default: the tokenizer.bin "
                        "beside it)."),
         QStringLiteral("FILE")},
        {QStringLiteral("prompt"),
         QStringLiteral("Prompt text; empty starts from the model's start token (<s> or "
                        "<|endoftext|>). Models with a BOS token get it before the prompt."),
         QStringLiteral("TEXT"), QString()},
        {QStringLiteral("tokenize"),
         QStringLiteral("Print how the model's tokenizer splits TEXT, as one JSON object "
                        "{\"ids\": [...], \"pieces\": [...]}, and exit; no generation."),
         QStringLiteral("TEXT")},
        {QStringLiteral("tokenize-file"),
         QStringLiteral("As --tokenize, for the exact bytes of FILE."), QStringLiteral("FILE")},
        {QStringLiteral("add-bos"),
         QStringLiteral("With --tokenize: put the BOS token first, as a run would.")},
        {QStringLiteral("max-tokens"), QStringLiteral("New tokens to generate (default 50)."),
         QStringLiteral("N"), QStringLiteral("50")},
        {QStringLiteral("mode"),
         QStringLiteral("naive, cached or both (both run in lockstep on the same seed and are "
                        "compared; default cached)."),
         QStringLiteral("MODE"), QStringLiteral("cached")},
        {QStringLiteral("temperature"),
         QStringLiteral("Sampling temperature; 0 is greedy (default 0.8)."), QStringLiteral("T"),
         QStringLiteral("0.8")},
        {QStringLiteral("top-k"),
         QStringLiteral("Keep the K most likely tokens; 0 disables (default 40)."),
         QStringLiteral("K"), QStringLiteral("40")},
        {QStringLiteral("top-p"),
         QStringLiteral("Keep the smallest set of tokens whose probability reaches P; 1 disables "
                        "(default 0.95)."),
         QStringLiteral("P"), QStringLiteral("0.95")},
        {QStringLiteral("min-p"),
         QStringLiteral("Keep the tokens at least P times as likely as the most likely one; 0 "
                        "disables (default 0)."),
         QStringLiteral("P"), QStringLiteral("0")},
        {QStringLiteral("repeat-penalty"),
         QStringLiteral("Divide the positive logits (multiply the negative ones) of the tokens "
                        "in the last --repeat-last-n by R; 1 disables (default 1)."),
         QStringLiteral("R"), QStringLiteral("1")},
        {QStringLiteral("presence-penalty"),
         QStringLiteral("Subtract X once from the logit of every token in the last "
                        "--repeat-last-n; 0 disables (default 0)."),
         QStringLiteral("X"), QStringLiteral("0")},
        {QStringLiteral("frequency-penalty"),
         QStringLiteral("Subtract X times its count there from the logit of every token in the "
                        "last --repeat-last-n; 0 disables (default 0)."),
         QStringLiteral("X"), QStringLiteral("0")},
        {QStringLiteral("repeat-last-n"),
         QStringLiteral("The penalties' window: the last N tokens, prompt included; 0 disables "
                        "the penalties, -1 is the whole sequence (default 64). Chain: penalties, "
                        "temperature, top-k, top-p, min-p, draw."),
         QStringLiteral("N"), QStringLiteral("64")},
        {QStringLiteral("seed"), QStringLiteral("64-bit random seed (default 42)."),
         QStringLiteral("SEED"), QStringLiteral("42")},
        {QStringLiteral("stop-at-eot"),
         QStringLiteral("Stop when the model emits its end token (</s> or <|endoftext|>).")},
        {QStringLiteral("threads"),
         QStringLiteral("Compute threads per forward pass, at most the %1 this machine runs at "
                        "once (default: all).")
             .arg(hardwareThreads()),
         QStringLiteral("N"), QStringLiteral("0")},
        {QStringLiteral("no-attention"),
         QStringLiteral("Do not capture attention probabilities (faster; no recompute check).")},
        {QStringLiteral("json"),
         QStringLiteral(
             "Write every step (ids, text, top-k, FLOPs by component, cumulative, ms, "
             "KV bytes, bytes moved) with the settings, the model config and the machine's roofs "
             "(see --measure-roofs) to FILE."),
         QStringLiteral("FILE")},
        {QStringLiteral("csv"), QStringLiteral("Write one row per step to FILE."),
         QStringLiteral("FILE")},
        {QStringLiteral("export-dir"),
         QStringLiteral("Write every chart (PNG, PDF, SVG) with run.csv and run.json to DIR, as "
                        "the window's File > Export All does; needs no display. Charts are on "
                        "white, whatever the window's colour scheme."),
         QStringLiteral("DIR")},
        {QStringLiteral("measure-roofs"),
         QStringLiteral("Before the run, measure this machine's read bandwidth and GEMM rate "
                        "(about a second) and remember them for the window and later runs. "
                        "--json, --export-dir's run.json (\"machine_roofs\") and the roofline "
                        "chart record the roofs: these, else the ones last remembered, else "
                        "none (null). With --what-if: as --probe.")},
    });
    addWhatIfOptions(p);
}

template <typename T>
std::optional<T> number(const QString& text, T lo, T hi) {
    bool ok = false;
    double v = text.toDouble(&ok);
    if (!ok || std::isnan(v) || v < double(lo) || v > double(hi)) return std::nullopt;
    if (std::is_integral_v<T> && v != std::floor(v)) return std::nullopt;  // 2.5 tokens is a typo
    return T(v);
}

// Parses and validates everything; returns an error message for exit code 2.
Result<Options> parseOptions(const QCommandLineParser& p) {
    Options o;
    auto fail = [](const QString& what) { return Error{what}; };
    o.modelPath = p.value(QStringLiteral("model"));
    o.tokenizerPath = p.value(QStringLiteral("tokenizer"));
    o.prompt = p.value(QStringLiteral("prompt"));
    o.addBos = p.isSet(QStringLiteral("add-bos"));
    if (p.isSet(QStringLiteral("ctx-size"))) {
        const auto n = number<int>(p.value(QStringLiteral("ctx-size")), 1, 1 << 20);
        if (!n)
            return fail(QStringLiteral("--ctx-size: expected 1 to %1, found \"%2\"")
                            .arg(1 << 20)
                            .arg(p.value(QStringLiteral("ctx-size"))));
        o.contextLength = *n;
    }
    if (p.isSet(QStringLiteral("tokenize")) && p.isSet(QStringLiteral("tokenize-file")))
        return fail(QStringLiteral("--tokenize and --tokenize-file: give one of them"));
    if (p.isSet(QStringLiteral("tokenize")))
        o.tokenize = p.value(QStringLiteral("tokenize")).toUtf8();
    if (p.isSet(QStringLiteral("tokenize-file"))) {
        const QString path = p.value(QStringLiteral("tokenize-file"));
        QFile f(path);
        constexpr qint64 kMaxText = 64 << 20;
        if (!f.open(QIODevice::ReadOnly))
            return fail(QStringLiteral("--tokenize-file: %1: cannot open for reading: %2")
                            .arg(path, f.errorString()));
        if (f.size() > kMaxText)
            return fail(QStringLiteral("--tokenize-file: %1: %2 bytes, expected at most %3")
                            .arg(path)
                            .arg(f.size())
                            .arg(kMaxText));
        o.tokenize = f.readAll();
    }
    if (o.addBos && !o.tokenize)
        return fail(
            QStringLiteral("--add-bos: only with --tokenize or --tokenize-file (a run "
                           "adds BOS when the model has one)"));
    const QString mode = p.value(QStringLiteral("mode"));
    if (mode == QLatin1String("naive"))
        o.modes = {Mode::Naive};
    else if (mode == QLatin1String("cached"))
        o.modes = {Mode::Cached};
    else if (mode == QLatin1String("both"))
        o.modes = {Mode::Naive, Mode::Cached};
    else
        return fail(
            QStringLiteral("--mode: expected naive, cached or both, found \"%1\"").arg(mode));

    const auto maxTokens = number<int>(p.value(QStringLiteral("max-tokens")), 0, 1 << 24);
    const auto temperature = number<float>(p.value(QStringLiteral("temperature")), 0.f, 1e6f);
    const auto topK = number<int>(p.value(QStringLiteral("top-k")), 0, 1 << 30);
    const auto topP = number<float>(p.value(QStringLiteral("top-p")), 0.f, 1.f);
    const auto minP = number<float>(p.value(QStringLiteral("min-p")), 0.f, 1.f);
    const auto repeat = number<float>(p.value(QStringLiteral("repeat-penalty")), 0.f, 100.f);
    const auto presence = number<float>(p.value(QStringLiteral("presence-penalty")), -100.f, 100.f);
    const auto frequency =
        number<float>(p.value(QStringLiteral("frequency-penalty")), -100.f, 100.f);
    const auto lastN = number<int>(p.value(QStringLiteral("repeat-last-n")), -1, 1 << 24);
    const auto threads = number<int>(p.value(QStringLiteral("threads")), 0, hardwareThreads());
    bool seedOk = false;
    const std::uint64_t seed = p.value(QStringLiteral("seed")).toULongLong(&seedOk);
    // The messages name the whole range: "expected >= 0" for a value that is too large misleads.
    if (!maxTokens)
        return fail(QStringLiteral("--max-tokens: expected an integer from 0 to %1").arg(1 << 24));
    if (!temperature)
        return fail(QStringLiteral("--temperature: expected a number from 0 to 1000000"));
    if (!topK)
        return fail(QStringLiteral("--top-k: expected an integer from 0 to %1").arg(1 << 30));
    if (!topP) return fail(QStringLiteral("--top-p: expected a number in [0, 1]"));
    if (!minP) return fail(QStringLiteral("--min-p: expected a number in [0, 1]"));
    if (!repeat || !(*repeat > 0))
        return fail(
            QStringLiteral("--repeat-penalty: expected a number above 0, at most 100 "
                           "(1 disables it)"));
    if (!presence)
        return fail(QStringLiteral("--presence-penalty: expected a number from -100 to 100"));
    if (!frequency)
        return fail(QStringLiteral("--frequency-penalty: expected a number from -100 to 100"));
    if (!lastN)
        return fail(QStringLiteral("--repeat-last-n: expected an integer from -1 (the whole "
                                   "sequence) to %1")
                        .arg(1 << 24));
    if (!threads)
        return fail(QStringLiteral("--threads: expected an integer from 1 to %1, the threads this "
                                   "machine runs at once")
                        .arg(hardwareThreads()));
    if (!seedOk) return fail(QStringLiteral("--seed: expected an unsigned 64-bit integer"));

    o.settings.maxNewTokens = *maxTokens;
    o.settings.sampler.temperature = *temperature;
    o.settings.sampler.topK = *topK;
    o.settings.sampler.topP = *topP;
    o.settings.sampler.seed = seed;
    o.settings.sampler.minP = *minP;
    o.settings.sampler.repeatPenalty = *repeat;
    o.settings.sampler.presencePenalty = *presence;
    o.settings.sampler.frequencyPenalty = *frequency;
    o.settings.sampler.repeatLastN = *lastN;
    o.settings.threads = *threads;
    o.settings.stopAtEndOfText = p.isSet(QStringLiteral("stop-at-eot"));
    o.settings.captureAttention = !p.isSet(QStringLiteral("no-attention"));
    o.jsonPath = p.value(QStringLiteral("json"));
    o.csvPath = p.value(QStringLiteral("csv"));
    o.exportDir = p.value(QStringLiteral("export-dir"));
    o.measureRoofs = p.isSet(QStringLiteral("measure-roofs"));
    return o;
}

// --tokenize: the ids and their printable pieces, one JSON object on stdout.
int printTokens(const Tokenizer& tok, const QByteArray& bytes, bool addBos) {
    const std::string_view text(bytes.constData(), std::size_t(bytes.size()));
    std::vector<int> ids = tok.encode(text);
    if (addBos && tok.special().bos >= 0) ids.insert(ids.begin(), tok.special().bos);
    QJsonArray idArray, pieces;
    for (int id : ids) {
        idArray.append(id);
        pieces.append(tok.tokenDisplay(id));
    }
    const QByteArray json = QJsonDocument(QJsonObject{{"ids", idArray}, {"pieces", pieces}})
                                .toJson(QJsonDocument::Compact);
    std::fwrite(json.constData(), 1, std::size_t(json.size()), stdout);
    std::fputc('\n', stdout);
    return ExitOk;
}

QString summary(const RunRecord& run, double seconds) {
    const std::int64_t flops = run.steps.empty() ? 0 : run.steps.back()->cumulative.total();
    return QStringLiteral("%1: %2 tokens in %3 s (%4 tokens/s), %5 GFLOP, stop: %6")
        .arg(QLatin1String(modeName(run.mode)))
        .arg(run.steps.size())
        .arg(seconds, 0, 'f', 3)
        .arg(seconds > 0 ? double(run.steps.size()) / seconds : 0.0, 0, 'f', 1)
        .arg(double(flops) / 1e9, 0, 'f', 4)
        .arg(QLatin1String(stopReasonName(run.stop)));
}

// Runs the modes in lockstep so that both can be compared step by step; prints the shown mode's
// text as it is generated.
int generate(const Options& o, RunExport& out) {
    auto started = LockstepRun::start(out.model, out.promptIds, o.settings, o.modes);
    if (!started) {
        std::fprintf(stderr, "kvscope: %s\n", qPrintable(started.errorMessage()));
        return ExitGeneration;
    }
    LockstepRun& run = *started.value();
    for (Mode mode : o.modes) out.runs.push_back(RunRecord{mode, {}, StopReason::None});
    // What the run really starts from: an empty prompt becomes BOS or <|endoftext|>, and the
    // exports must say so (the window takes the same ids from the worker's runStarted).
    out.promptIds = run.promptIds();
    const std::size_t shown = o.modes.size() - 1;  // print the cached run's text when both run
    const LockstepOutcome outcome = run.run({}, [&](std::size_t i, const StepResultPtr& step) {
        out.runs[i].steps.push_back(step);
        if (i == shown) {
            std::fwrite(step->tokenBytes.constData(), 1, size_t(step->tokenBytes.size()), stdout);
            std::fflush(stdout);
        }
    });
    std::fputc('\n', stdout);
    QStringList lines;
    for (std::size_t i = 0; i < out.runs.size(); ++i) {
        out.runs[i].stop = outcome.stops[i];
        lines << summary(out.runs[i], outcome.computeSeconds[i]);
    }
    if (outcome.maxLogitDiff) {
        out.maxLogitDiff = outcome.maxLogitDiff;
        lines << QStringLiteral("naive and cached tokens %1, max logit difference %2")
                     .arg(outcome.tokensEqual ? QStringLiteral("equal") : QStringLiteral("DIFFER"))
                     .arg(double(*outcome.maxLogitDiff), 0, 'g', 3);
    }
    std::fprintf(stderr, "kvscope: %s\n", qPrintable(lines.join(QStringLiteral("; "))));
    return ExitOk;
}

// --measure-roofs, else what the window or an earlier --measure-roofs remembered (the window's
// settings: the command line sets no organization, so it names them).
std::optional<MachineRoofs> machineRoofs(bool measure) {
    QSettings settings(QStringLiteral("kvscope"), QStringLiteral("kvscope"));
    if (!measure) return rememberedRoofs(settings);
    const MachineRoofs r = measureMachineRoofs();
    rememberRoofs(settings, r);
    std::fprintf(stderr, "kvscope: roofs: %s\n", qPrintable(describeRoofs(r)));
    return r;
}

int exportRun(const Options& o, const RunExport& run) {
    if (!o.jsonPath.isEmpty()) {
        auto w =
            writeFile(o.jsonPath, QJsonDocument(runToJson(run)).toJson(QJsonDocument::Indented));
        if (!w) {
            std::fprintf(stderr, "kvscope: %s\n", qPrintable(w.errorMessage()));
            return ExitGeneration;
        }
    }
    if (!o.csvPath.isEmpty()) {
        auto w = writeFile(o.csvPath, runToCsv(run));
        if (!w) {
            std::fprintf(stderr, "kvscope: %s\n", qPrintable(w.errorMessage()));
            return ExitGeneration;
        }
    }
    if (!o.exportDir.isEmpty()) {
        // The charts are the window's own panels, drawn offscreen.
        // Laid out as if shown (the heatmap picks token labels by its cell size), but never put
        // on screen: a shown window's size constraints go to the platform window, and the
        // offscreen platform answers each with "This plugin does not support
        // propagateSizeHints()".
        MainWindow window;
        window.resize(1600, 1000);
        window.layout()->activate();
        for (QWidget* w : window.findChildren<QWidget*>()) {
            QResizeEvent e(w->size(), QSize());
            QCoreApplication::sendEvent(w, &e);  // what show() would deliver
        }
        window.showRun(std::make_unique<RunExport>(run));
        auto written = window.exportAll(o.exportDir);
        if (!written) {
            std::fprintf(stderr, "kvscope: %s\n", qPrintable(written.errorMessage()));
            return ExitGeneration;
        }
        std::fprintf(stderr, "kvscope: wrote %lld files to %s\n", qlonglong(written.value().size()),
                     qPrintable(o.exportDir));
    }
    return ExitOk;
}

bool wantsExportDir(int argc, char** argv) {
    for (int i = 1; i < argc; ++i)
        if (std::strncmp(argv[i], "--export-dir", 12) == 0) return true;
    return false;
}

}  // namespace

int runHeadless(int argc, char** argv) {
    // Charts need a QApplication; without a display it draws on the offscreen platform.
    std::unique_ptr<QCoreApplication> gui;
    if (wantsExportDir(argc, argv)) {
        qputenv("QT_QPA_PLATFORM", "offscreen");
        gui = std::make_unique<QApplication>(argc, argv);
    } else {
        gui = std::make_unique<QCoreApplication>(argc, argv);
    }
    QCoreApplication& app = *gui;
    QCoreApplication::setApplicationName(QStringLiteral("kvscope"));
    QCoreApplication::setApplicationVersion(QStringLiteral(KVSCOPE_VERSION));
    QCommandLineParser parser;
    addOptions(parser);
    if (!parser.parse(app.arguments())) {
        std::fprintf(stderr, "kvscope: %s\nTry kvscope --help.\n", qPrintable(parser.errorText()));
        return ExitUsage;
    }
    if (parser.isSet(QStringLiteral("help"))) {
        std::fputs(qPrintable(parser.helpText()), stdout);
        return ExitOk;
    }
    if (parser.isSet(QStringLiteral("version"))) {
        std::printf("kvscope %s\n", KVSCOPE_VERSION);
        return ExitOk;
    }
    if (!parser.positionalArguments().isEmpty()) {
        std::fprintf(stderr, "kvscope: unexpected argument \"%s\"\nTry kvscope --help.\n",
                     qPrintable(parser.positionalArguments().first()));
        return ExitUsage;
    }
    if (parser.isSet(QStringLiteral("what-if"))) return runWhatIf(parser);
    auto options = parseOptions(parser);
    if (!options) {
        std::fprintf(stderr, "kvscope: %s\nTry kvscope --help.\n",
                     qPrintable(options.errorMessage()));
        return ExitUsage;
    }
    const Options& o = options.value();
    if (!o.tokenizerPath.isEmpty() && o.modelPath.isEmpty()) {
        std::fprintf(stderr,
                     "kvscope: --tokenizer: only with --model (a llama2.c checkpoint)\n"
                     "Try kvscope --help.\n");
        return ExitUsage;
    }
    if (o.tokenize && !o.modelPath.isEmpty()) {  // the tokenizer alone: no weights are read
        auto tokenizer = loadTokenizer(o.modelPath, LoadOptions{.tokenizerPath = o.tokenizerPath});
        if (!tokenizer) {
            std::fprintf(stderr, "kvscope: %s\n", qPrintable(tokenizer.errorMessage()));
            return ExitModel;
        }
        return printTokens(*tokenizer.value(), *o.tokenize, o.addBos);
    }
    const QString path =
        o.modelPath.isEmpty() ? embeddedModelPath(defaultEmbeddedModel()) : o.modelPath;
    auto model = loadModel(
        path, {}, LoadOptions{.tokenizerPath = o.tokenizerPath, .contextLength = o.contextLength});
    if (!model) {
        std::fprintf(stderr, "kvscope: %s\n", qPrintable(model.errorMessage()));
        return ExitModel;
    }
    if (o.tokenize) return printTokens(*model.value()->tokenizer, *o.tokenize, o.addBos);
    RunExport run{model.value(), o.prompt, {}, o.settings, {}, std::nullopt};
    run.roofs = machineRoofs(o.measureRoofs);  // measured before the run, not beside it
    const QByteArray utf8 = o.prompt.toUtf8();
    const Tokenizer& tok = *model.value()->tokenizer;
    run.promptIds =
        tok.promptIds(std::string_view(utf8.constData(), utf8.size()), tok.special().addBos);
    if (const int rc = generate(o, run); rc != ExitOk) return rc;
    return exportRun(o, run);
}

}  // namespace kvscope
