#include "what_if_cli.h"

#include "headless.h"

#include "cost/machine_probe.h"
#include "cost/what_if_report.h"
#include "model/embedded_model.h"
#include "model/model.h"
#include "model/model_presets.h"

#include <QCommandLineParser>
#include <QJsonDocument>
#include <QSettings>
#include <QStringList>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace kvscope {
namespace {

QString presetList() {
    QStringList keys;
    for (const ModelPreset& p : modelPresets()) keys << QString::fromLatin1(p.key);
    return keys.join(QStringLiteral(", "));
}

QString typeList(const std::vector<GgmlType>& types) {
    QStringList names;
    for (GgmlType t : types) names << whatif::typeName(t);
    return names.join(QStringLiteral(", "));
}

// An integer option in [lo, hi], or an error naming the option and the range.
Result<std::int64_t> integer(const QCommandLineParser& p, const QString& name, std::int64_t lo,
                             std::int64_t hi) {
    bool ok = false;
    const double v = p.value(name).toDouble(&ok);
    if (!ok || v != std::floor(v) || v < double(lo) || v > double(hi))
        return Error{QStringLiteral("--%1: expected an integer from %2 to %3, found \"%4\"")
                         .arg(name)
                         .arg(lo)
                         .arg(hi)
                         .arg(p.value(name))};
    return std::int64_t(v);
}

Result<bool> yesNo(const QCommandLineParser& p, const QString& name) {
    const QString v = p.value(name).toLower();
    if (v == QLatin1String("yes")) return true;
    if (v == QLatin1String("no")) return false;
    return Error{QStringLiteral("--%1: expected yes or no, found \"%2\"").arg(name, p.value(name))};
}

// Applies --arch, the dimensions, --tied and --qkv-bias over `c`; throws LoadError.
void applyOverrides(const QCommandLineParser& p, ModelConfig& c) {
    auto take = [&](const char* name, int& field, std::int64_t lo, std::int64_t hi) {
        const QString n = QString::fromLatin1(name);
        if (!p.isSet(n)) return;
        auto v = integer(p, n, lo, hi);
        if (!v) throw LoadError(v.errorMessage());
        field = int(v.value());
    };
    if (p.isSet(QStringLiteral("arch"))) {
        const QString arch = p.value(QStringLiteral("arch"));
        const bool llama = arch == QLatin1String("llama");
        if (!llama && arch != QLatin1String("gpt2"))
            throw LoadError(
                QStringLiteral("--arch: expected gpt2 or llama, found \"%1\"").arg(arch));
        c.modelType = arch;
        c.norm = llama ? NormKind::RmsNorm : NormKind::LayerNorm;
        c.activation = llama ? Activation::SwiGlu : Activation::GeluTanh;
        c.positions = llama ? PositionKind::Rotary : PositionKind::Learned;
        c.projBias = !llama;
        c.attnBias = !llama;
    }
    take("layers", c.nLayer, 1, kMaxLayers);
    take("d-model", c.nEmbd, 1, kMaxEmbd);
    take("heads", c.nHead, 1, kMaxEmbd);
    const bool kvGiven = p.isSet(QStringLiteral("kv-heads"));
    if (!kvGiven && c.nKvHead > c.nHead) c.nKvHead = c.nHead;
    if (c.norm == NormKind::LayerNorm && !kvGiven) c.nKvHead = c.nHead;
    take("kv-heads", c.nKvHead, 1, kMaxEmbd);
    take("ffn", c.nInner, 1, 4 * kMaxEmbd);
    take("vocab", c.vocabSize, 1, kMaxVocab);
    take("context", c.nPositions, 1, kMaxPositions);
    for (const char* flag : {"tied", "qkv-bias"}) {
        const QString n = QString::fromLatin1(flag);
        if (!p.isSet(n)) continue;
        auto v = yesNo(p, n);
        if (!v) throw LoadError(v.errorMessage());
        (n == QLatin1String("tied") ? c.tiedLmHead : c.attnBias) = v.value();
    }
    if (c.nEmbd % c.nHead != 0)
        throw LoadError(QStringLiteral("--d-model: expected a multiple of the heads (%1), found %2")
                            .arg(c.nHead)
                            .arg(c.nEmbd));
    if (c.nKvHead > c.nHead || c.nHead % c.nKvHead != 0)
        throw LoadError(QStringLiteral("--kv-heads: expected a divisor of the heads (%1), found %2")
                            .arg(c.nHead)
                            .arg(c.nKvHead));
}

bool overridesGiven(const QCommandLineParser& p) {
    for (const char* o : {"arch", "layers", "d-model", "heads", "kv-heads", "ffn", "vocab",
                          "context", "tied", "qkv-bias"})
        if (p.isSet(QString::fromLatin1(o))) return true;
    return false;
}

// The configuration: a preset, the model (--model or the embedded one), then the overrides.
Result<whatif::Query> buildQuery(const QCommandLineParser& p, int& exitCode) {
    exitCode = ExitUsage;
    whatif::Query q;
    const bool preset = p.isSet(QStringLiteral("preset"));
    if (preset && p.isSet(QStringLiteral("model")))
        return Error{QStringLiteral("--preset and --model: give one of them")};
    if (preset) {
        const ModelPreset* found = findPreset(p.value(QStringLiteral("preset")));
        if (!found)
            return Error{QStringLiteral("--preset: expected one of %1, found \"%2\"")
                             .arg(presetList(), p.value(QStringLiteral("preset")))};
        q.config = found->config;
        q.name = QString::fromLatin1(found->key);
        q.source = QString::fromLatin1(found->source);
    } else {
        const QString path = p.value(QStringLiteral("model"));
        auto model =
            loadModel(path.isEmpty() ? embeddedModelPath(defaultEmbeddedModel()) : path, {},
                      LoadOptions{.tokenizerPath = p.value(QStringLiteral("tokenizer"))});
        if (!model) {
            exitCode = ExitModel;
            return model.error();
        }
        q.config = model.value()->config;
        q.name = model.value()->name;
        q.source = path.isEmpty() ? embeddedModelPath(defaultEmbeddedModel()) : path;
    }
    try {
        applyOverrides(p, q.config);
    } catch (const LoadError& e) {
        return Error{e.message()};
    }
    if (overridesGiven(p)) {
        q.source += QStringLiteral(", changed on the command line");
        q.name += QStringLiteral(" (modified)");
    }
    auto prompt = integer(p, QStringLiteral("prompt-length"), 1, whatif::kMaxLength);
    if (!prompt) return prompt.error();
    q.prompt = prompt.value();
    if (p.isSet(QStringLiteral("length"))) {
        auto length = integer(p, QStringLiteral("length"), q.prompt, whatif::kMaxLength);
        if (!length) return length.error();
        q.length = length.value();
    } else {
        q.length = std::max<std::int64_t>(q.prompt, q.config.nPositions);
    }
    for (const char* option : {"weight-type", "kv-type"}) {
        const QString name = QString::fromLatin1(option);
        const auto t = whatif::typeNamed(p.value(name));
        const bool kv = name == QLatin1String("kv-type");
        const auto& allowed = kv ? whatif::kvTypes() : whatif::weightTypes();
        if (!t || std::find(allowed.begin(), allowed.end(), *t) == allowed.end())
            return Error{QStringLiteral("--%1: expected one of %2, found \"%3\"")
                             .arg(name, typeList(allowed), p.value(name))};
        (kv ? q.kvType : q.weightType) = *t;
    }
    return q;
}

// --bandwidth and --gemm, --probe (or --measure-roofs), or what an earlier measurement left in
// the settings.
Result<bool> addRoofs(const QCommandLineParser& p, whatif::Query& q) {
    const bool bw = p.isSet(QStringLiteral("bandwidth")), gemm = p.isSet(QStringLiteral("gemm"));
    if (bw != gemm) return Error{QStringLiteral("--bandwidth and --gemm: give both or neither")};
    QSettings settings(QStringLiteral("kvscope"), QStringLiteral("kvscope"));
    if (bw) {
        bool ok1 = false, ok2 = false;
        const double b = p.value(QStringLiteral("bandwidth")).toDouble(&ok1);
        const double g = p.value(QStringLiteral("gemm")).toDouble(&ok2);
        if (!ok1 || !ok2 || !(b > 0) || !(g > 0) || !std::isfinite(b) || !std::isfinite(g))
            return Error{
                QStringLiteral("--bandwidth, --gemm: expected positive numbers (GB/s, "
                               "GFLOP/s)")};
        q.roofs = whatif::Roofs{b, g};
        q.roofsSource = QStringLiteral("given on the command line");
    } else if (p.isSet(QStringLiteral("probe")) || p.isSet(QStringLiteral("measure-roofs"))) {
        const MachineRoofs r = measureMachineRoofs();
        rememberRoofs(settings, r);
        q.roofs = r.roofs();
        q.roofsSource = describeRoofs(r);
    } else if (const auto r = rememberedRoofs(settings)) {
        q.roofs = r->roofs();
        q.roofsSource = QStringLiteral("remembered: ") + describeRoofs(*r);
    }
    return true;
}

}  // namespace

void addWhatIfOptions(QCommandLineParser& p) {
    p.addOptions({
        {QStringLiteral("what-if"),
         QStringLiteral("Print, as JSON, what generation would cost for a configuration at a "
                        "length up to 1000000 tokens (closed form; no model runs): FLOPs per "
                        "step and in total, naive and cached, attention and weights apart; "
                        "crossover lengths; log-log slopes per decade; K/V-cache and weight "
                        "bytes by type; a step's time at this machine's roofs. The "
                        "configuration is --preset, else --model (default: the embedded "
                        "model), changed by the dimension options.")},
        {QStringLiteral("preset"),
         QStringLiteral("With --what-if: a published configuration, one of: %1.").arg(presetList()),
         QStringLiteral("NAME")},
        {QStringLiteral("length"),
         QStringLiteral("With --what-if: the sequence length of the last step, 1 to 1000000 "
                        "(default: the model's context)."),
         QStringLiteral("N")},
        {QStringLiteral("prompt-length"),
         QStringLiteral("With --what-if: tokens of the prompt the run starts with (default 1)."),
         QStringLiteral("P"), QStringLiteral("1")},
        {QStringLiteral("arch"),
         QStringLiteral("With --what-if: gpt2 (LayerNorm, GELU, learned positions, biases) or "
                        "llama (RMSNorm, SwiGLU, RoPE, no biases)."),
         QStringLiteral("ARCH")},
        {QStringLiteral("layers"), QStringLiteral("With --what-if: layers."), QStringLiteral("N")},
        {QStringLiteral("d-model"), QStringLiteral("With --what-if: model width."),
         QStringLiteral("N")},
        {QStringLiteral("heads"), QStringLiteral("With --what-if: query heads."),
         QStringLiteral("N")},
        {QStringLiteral("kv-heads"),
         QStringLiteral("With --what-if: K/V heads (a divisor of the heads; fewer is GQA, 1 is "
                        "MQA)."),
         QStringLiteral("N")},
        {QStringLiteral("ffn"), QStringLiteral("With --what-if: MLP width."), QStringLiteral("N")},
        {QStringLiteral("vocab"), QStringLiteral("With --what-if: vocabulary size."),
         QStringLiteral("N")},
        {QStringLiteral("context"), QStringLiteral("With --what-if: the model's context."),
         QStringLiteral("N")},
        {QStringLiteral("tied"),
         QStringLiteral("With --what-if: yes if the classifier is the token embedding."),
         QStringLiteral("yes|no")},
        {QStringLiteral("qkv-bias"), QStringLiteral("With --what-if: yes for Q/K/V biases."),
         QStringLiteral("yes|no")},
        {QStringLiteral("weight-type"),
         QStringLiteral("With --what-if: how the weights are stored for the time estimate, one "
                        "of %1 (default F16).")
             .arg(typeList(whatif::weightTypes())),
         QStringLiteral("TYPE"), QStringLiteral("F16")},
        {QStringLiteral("kv-type"),
         QStringLiteral("With --what-if: how the K/V cache is stored for the time estimate, one "
                        "of %1 (default F16).")
             .arg(typeList(whatif::kvTypes())),
         QStringLiteral("TYPE"), QStringLiteral("F16")},
        {QStringLiteral("bandwidth"),
         QStringLiteral("With --what-if: read bandwidth in GB/s for the time estimate (with "
                        "--gemm; default: the last measurement, see --probe)."),
         QStringLiteral("GBS")},
        {QStringLiteral("gemm"),
         QStringLiteral("With --what-if: GEMM rate in GFLOP/s for the time estimate."),
         QStringLiteral("GFLOPS")},
        {QStringLiteral("probe"),
         QStringLiteral("With --what-if: measure this machine's read bandwidth and GEMM rate now "
                        "(about a second) and remember them.")},
    });
}

int runWhatIf(const QCommandLineParser& p) {
    int exitCode = ExitUsage;
    auto q = buildQuery(p, exitCode);
    if (!q) {
        std::fprintf(stderr, "kvscope: %s\n%s", qPrintable(q.errorMessage()),
                     exitCode == ExitUsage ? "Try kvscope --help.\n" : "");
        return exitCode;
    }
    if (auto r = addRoofs(p, q.value()); !r) {
        std::fprintf(stderr, "kvscope: %s\nTry kvscope --help.\n", qPrintable(r.errorMessage()));
        return ExitUsage;
    }
    const QByteArray json = QJsonDocument(whatif::toJson(q.value())).toJson();
    std::fwrite(json.constData(), 1, std::size_t(json.size()), stdout);
    return ExitOk;
}

}  // namespace kvscope
