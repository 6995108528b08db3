#include "lesson/lesson_figures.h"

#include "cost/curve_fit.h"
#include "cost/flops.h"
#include "cost/roofline.h"
#include "cost/what_if.h"
#include "cost/what_if_report.h"

#include <QStringList>

#include <cmath>
#include <functional>

namespace kvscope {
namespace {

// What one figure is computed from: the context, the run of the mode asked for (or the focus),
// its step on screen, and the figure's argument.
struct Inputs {
    const FigureContext& context;
    const RunRecord* record = nullptr;  // null when the figure needs no run
    const StepResult* step = nullptr;
    std::optional<GgmlType> type;
};

using Eval = std::function<Result<Figure>(const Inputs&)>;

struct FigureDef {
    FigureSpec spec;
    bool needsStep;  // reads a step of a run (of the mode asked for)
    Eval eval;
};

Figure count(double v) {
    return {v, FigureUnit::Count, {}};
}
Figure of(double v, FigureUnit u) {
    return {v, u, {}};
}

const ModelConfig& config(const Inputs& in) {
    return in.context.run->model->config;
}

const RunRecord* recordOf(const RunExport& run, Mode m) {
    for (const RunRecord& r : run.runs)
        if (r.mode == m) return &r;
    return nullptr;
}

// The step at the same index in the other mode's run (Compare runs in lockstep).
Result<const StepResult*> stepIn(const Inputs& in, Mode m) {
    const RunRecord* r = recordOf(*in.context.run, m);
    if (!r || r->steps.empty())
        return Error{QStringLiteral("this run has no %1 steps (run in mode %1 or compare)")
                         .arg(QLatin1String(modeName(m)))};
    const int i = in.step ? in.step->step : int(r->steps.size()) - 1;
    if (i >= int(r->steps.size()))
        return Error{
            QStringLiteral("the %1 run has no step %2").arg(QLatin1String(modeName(m))).arg(i)};
    return r->steps[std::size_t(i)].get();
}

// The exponent k of cumulative FLOPs ~ T^k over the second half of the run up to the step on
// screen, T being the tokens generated: what the Cumulative chart fits.
Result<Figure> slopeOf(const Inputs& in, const std::function<double(const FlopBreakdown&)>& f) {
    const int last = in.step->step;
    std::vector<double> x, y;
    for (int i = (last + 1) / 2; i <= last; ++i) {
        x.push_back(i + 1);
        y.push_back(f(in.record->steps[std::size_t(i)]->cumulative));
    }
    const auto fit = fitPowerLaw(x, y);
    if (!fit) return Error{QStringLiteral("a slope needs at least two generated steps")};
    return of(fit->slope, FigureUnit::Exponent);
}

Error noRoofs() {
    return Error{QStringLiteral("this machine's roofs are not measured yet (@roofs)")};
}

Result<Figure> needRoofs(const Inputs& in, const std::function<Figure(const MachineRoofs&)>& f) {
    if (!in.context.roofs) return noRoofs();
    return f(*in.context.roofs);
}

Result<Figure> rooflineFigure(const Inputs& in,
                              const std::function<Figure(const RooflinePoint&)>& f) {
    std::optional<whatif::Roofs> roofs;
    if (in.context.roofs) roofs = in.context.roofs->roofs();
    const auto p = rooflinePoint(*in.step, roofs);
    if (!p) return Error{QStringLiteral("step %1 was too fast to time").arg(in.step->step)};
    return f(*p);
}

Result<Figure> ratioOf(const Inputs& in, const std::function<double(const StepResult&)>& f) {
    auto naive = stepIn(in, Mode::Naive);
    if (!naive) return naive.error();
    auto cached = stepIn(in, Mode::Cached);
    if (!cached) return cached.error();
    const double below = f(*cached.value());
    if (below <= 0) return Error{QStringLiteral("the cached step counted nothing")};
    return of(f(*naive.value()) / below, FigureUnit::Factor);
}

const std::vector<FigureDef>& table() {
    using A = FigureArg;
    using U = FigureUnit;
    static const std::vector<FigureDef> defs = {
        {{"model", A::None, "the loaded model's name"},
         false,
         [](const Inputs& in) {
             return Figure{0, U::Text, in.context.run->model->name};
         }},
        {{"layers", A::None, "transformer layers"},
         false,
         [](const Inputs& in) { return count(config(in).nLayer); }},
        {{"heads", A::None, "query heads per layer"},
         false,
         [](const Inputs& in) { return count(config(in).nHead); }},
        {{"kv_heads", A::None, "key/value heads per layer"},
         false,
         [](const Inputs& in) { return count(config(in).nKvHead); }},
        {{"head_dim", A::None, "values per head"},
         false,
         [](const Inputs& in) { return count(config(in).headDim()); }},
        {{"d_model", A::None, "the residual stream's width"},
         false,
         [](const Inputs& in) { return count(config(in).nEmbd); }},
        {{"context", A::None, "positions a run may use"},
         false,
         [](const Inputs& in) { return count(config(in).nPositions); }},
        {{"vocab", A::None, "tokens in the vocabulary"},
         false,
         [](const Inputs& in) { return count(config(in).vocabSize); }},
        {{"params", A::None, "parameters"},
         false,
         [](const Inputs& in) {
             return count(double(in.context.run->model->transformer->parameterCount()));
         }},
        {{"gqa_factor", A::None, "query heads per K/V head: how much smaller GQA makes the cache"},
         false,
         [](const Inputs& in) {
             return of(double(config(in).nHead) / config(in).nKvHead, U::Factor);
         }},
        {{"kv_per_token", A::None, "K/V-cache bytes one token adds, every layer"},
         false,
         [](const Inputs& in) { return of(double(kvCacheBytes(config(in), 1)), U::Bytes); }},
        {{"kv_per_token_mha", A::None, "the same with one K/V head per query head"},
         false,
         [](const Inputs& in) { return of(double(kvCacheBytes(mhaOf(config(in)), 1)), U::Bytes); }},
        {{"kv_context", A::None, "K/V-cache bytes of a full context"},
         false,
         [](const Inputs& in) {
             return of(double(kvCacheBytes(config(in), config(in).nPositions)), U::Bytes);
         }},
        {{"weight_bytes", A::None, "the weights' bytes as loaded"},
         false,
         [](const Inputs& in) { return of(double(in.context.run->model->weightBytes), U::Bytes); }},
        {{"weight_bytes_as", A::WeightType, "the weights' bytes stored at a type, e.g. Q4_K"},
         false,
         [](const Inputs& in) {
             return of(double(whatif::weightBytes(config(in), *in.type)), U::Bytes);
         }},
        {{"stream_ms", A::WeightType,
          "milliseconds to read one step's weights at a type at the measured bandwidth"},
         false,
         [](const Inputs& in) {
             return needRoofs(in, [&](const MachineRoofs& r) {
                 const double bytes = double(whatif::weightBytesPerStep(config(in), *in.type));
                 return of(bytes / (r.bandwidthGBs * 1e6), U::Milliseconds);
             });
         }},
        {{"crossover", A::None,
          "the length from which a cached step spends more on attention than on the weights"},
         false,
         [](const Inputs& in) -> Result<Figure> {
             const auto n = whatif::stepCrossover(config(in), Mode::Cached);
             if (!n) return Error{QStringLiteral("attention never overtakes the weights")};
             return count(double(*n));
         }},
        {{"bandwidth", A::None, "this machine's measured read bandwidth"},
         false,
         [](const Inputs& in) {
             return needRoofs(
                 in, [](const MachineRoofs& r) { return of(r.bandwidthGBs, U::GBytesPerS); });
         }},
        {{"gemm", A::None, "this machine's measured matrix-product rate"},
         false,
         [](const Inputs& in) {
             return needRoofs(
                 in, [](const MachineRoofs& r) { return of(r.gemmGflops, U::GFlopsPerS); });
         }},
        {{"ridge", A::None, "FLOPs per byte where the two roofs meet"},
         false,
         [](const Inputs& in) {
             return needRoofs(in, [](const MachineRoofs& r) {
                 return of(ridgeIntensity(r.roofs()), U::FlopsPerByte);
             });
         }},
        {{"prompt_tokens", A::None, "tokens the prompt became"},
         false,
         [](const Inputs& in) { return count(double(in.context.run->promptIds.size())); }},
        {{"max_logit_diff", A::None, "largest naive-cached logit difference of the run"},
         false,
         [](const Inputs& in) -> Result<Figure> {
             if (!in.context.run->maxLogitDiff)
                 return Error{QStringLiteral("only a finished compare run has this")};
             return of(double(*in.context.run->maxLogitDiff), U::Number);
         }},
        {{"generated", A::Mode, "tokens the run generated so far"},
         true,
         [](const Inputs& in) { return count(double(in.record->steps.size())); }},
        {{"step", A::Mode, "the step on screen (0 is the first generated token)"},
         true,
         [](const Inputs& in) { return count(in.step->step); }},
        {{"position", A::Mode, "tokens the step's forward pass saw"},
         true,
         [](const Inputs& in) { return count(in.step->position); }},
        {{"token", A::Mode, "the token the step chose"},
         true,
         [](const Inputs& in) {
             return Figure{0, U::Text, in.step->tokenText};
         }},
        {{"token_prob", A::Mode, "its probability after temperature, top-k, top-p"},
         true,
         [](const Inputs& in) { return of(100.0 * in.step->sample.prob, U::Percent); }},
        {{"raw_prob", A::Mode, "its probability in the raw softmax"},
         true,
         [](const Inputs& in) { return of(100.0 * in.step->sample.rawProb, U::Percent); }},
        {{"entropy", A::Mode, "the sampled distribution's entropy, nats"},
         true,
         [](const Inputs& in) { return of(in.step->sample.entropy, U::Number); }},
        {{"rows", A::Mode, "query rows the step's forward pass computed"},
         true,
         [](const Inputs& in) { return count(in.step->position - in.step->firstComputedRow); }},
        {{"recomputed_rows", A::None, "rows the naive step computed again (all but the new one)"},
         true,
         [](const Inputs& in) -> Result<Figure> {
             auto s = stepIn(in, Mode::Naive);
             if (!s) return s.error();
             return count(std::max(0, s.value()->position - s.value()->firstComputedRow - 1));
         }},
        {{"recompute_diff", A::None, "the largest change of a recomputed naive row"},
         true,
         [](const Inputs& in) -> Result<Figure> {
             auto s = stepIn(in, Mode::Naive);
             if (!s) return s.error();
             if (s.value()->recomputeMaxDiff < 0)
                 return Error{QStringLiteral("naive step %1 recomputed no row it had before")
                                  .arg(s.value()->step)};
             return of(double(s.value()->recomputeMaxDiff), U::Number);
         }},
        {{"step_flops", A::Mode, "FLOPs of the step on screen"},
         true,
         [](const Inputs& in) { return of(double(in.step->flops.total()), U::Flops); }},
        {{"total_flops", A::Mode, "FLOPs of the run up to the step on screen"},
         true,
         [](const Inputs& in) { return of(double(in.step->cumulative.total()), U::Flops); }},
        {{"attention_share", A::Mode, "attention's share of those FLOPs"},
         true,
         [](const Inputs& in) {
             const FlopBreakdown& c = in.step->cumulative;
             return of(100.0 * double(c.attention()) / double(std::max<std::int64_t>(1, c.total())),
                       U::Percent);
         }},
        {{"step_ratio", A::None, "naive step FLOPs over cached step FLOPs"},
         true,
         [](const Inputs& in) {
             return ratioOf(in, [](const StepResult& s) { return double(s.flops.total()); });
         }},
        {{"flops_ratio", A::None, "naive run FLOPs over cached run FLOPs so far"},
         true,
         [](const Inputs& in) {
             return ratioOf(in, [](const StepResult& s) { return double(s.cumulative.total()); });
         }},
        {{"flops_slope", A::Mode, "k in: the run's FLOPs grow as T^k (second half)"},
         true,
         [](const Inputs& in) {
             return slopeOf(in, [](const FlopBreakdown& f) { return double(f.total()); });
         }},
        {{"attention_slope", A::Mode, "k in: the run's attention FLOPs grow as T^k"},
         true,
         [](const Inputs& in) {
             return slopeOf(in, [](const FlopBreakdown& f) { return double(f.attention()); });
         }},
        {{"step_ms", A::Mode, "milliseconds the step took"},
         true,
         [](const Inputs& in) { return of(in.step->milliseconds, U::Milliseconds); }},
        {{"mean_ms", A::Mode, "mean milliseconds of the run's steps after the first"},
         true,
         [](const Inputs& in) -> Result<Figure> {
             const auto& steps = in.record->steps;
             if (steps.size() < 2) return Error{QStringLiteral("the run has one step")};
             double ms = 0;
             for (std::size_t i = 1; i < steps.size(); ++i) ms += steps[i]->milliseconds;
             return of(ms / double(steps.size() - 1), U::Milliseconds);
         }},
        {{"kv_bytes", A::None, "what the K/V cache holds after the step on screen"},
         true,
         [](const Inputs& in) -> Result<Figure> {
             auto s = stepIn(in, Mode::Cached);
             if (!s) return s.error();
             return of(double(s.value()->kvCacheBytes), U::Bytes);
         }},
        {{"step_bytes", A::Mode, "bytes the step's forward pass moved"},
         true,
         [](const Inputs& in) { return of(double(in.step->bytes.total()), U::Bytes); }},
        {{"intensity", A::Mode, "the step's FLOPs per byte moved"},
         true,
         [](const Inputs& in) {
             return rooflineFigure(
                 in, [](const RooflinePoint& p) { return of(p.intensity, U::FlopsPerByte); });
         }},
        {{"achieved", A::Mode, "the step's FLOPs per second"},
         true,
         [](const Inputs& in) {
             return rooflineFigure(
                 in, [](const RooflinePoint& p) { return of(p.gflops, U::GFlopsPerS); });
         }},
        {{"roof_share", A::Mode, "the step's rate as a share of the roof above it"},
         true,
         [](const Inputs& in) -> Result<Figure> {
             if (!in.context.roofs) return noRoofs();  // a share of a roof needs the roof
             return rooflineFigure(in, [](const RooflinePoint& p) {
                 return of(100.0 * p.fractionOfRoof, U::Percent);
             });
         }},
    };
    return defs;
}

const FigureDef* find(const QString& name) {
    for (const FigureDef& d : table())
        if (name == QLatin1String(d.spec.name)) return &d;
    return nullptr;
}

std::optional<Mode> modeNamed(const QString& s) {
    if (s == QLatin1String("naive")) return Mode::Naive;
    if (s == QLatin1String("cached")) return Mode::Cached;
    return std::nullopt;
}

}  // namespace

const std::vector<FigureSpec>& lessonFigures() {
    static const std::vector<FigureSpec> specs = [] {
        std::vector<FigureSpec> out;
        for (const FigureDef& d : table()) out.push_back(d.spec);
        return out;
    }();
    return specs;
}

std::optional<QString> checkFigure(const QString& name, const QString& arg) {
    const FigureDef* d = find(name);
    if (!d) {
        QStringList names;
        for (const FigureSpec& s : lessonFigures()) names << QLatin1String(s.name);
        return QStringLiteral("unknown figure {%1}; the figures are: %2")
            .arg(name, names.join(QStringLiteral(", ")));
    }
    switch (d->spec.arg) {
        case FigureArg::None:
            if (!arg.isEmpty())
                return QStringLiteral("{%1} takes no argument, found \"%2\"").arg(name, arg);
            break;
        case FigureArg::Mode:
            if (!arg.isEmpty() && !modeNamed(arg))
                return QStringLiteral("{%1:MODE}: expected naive or cached, found \"%2\"")
                    .arg(name, arg);
            break;
        case FigureArg::WeightType:
            if (!whatif::typeNamed(arg))
                return QStringLiteral(
                           "{%1:TYPE}: expected a weight type such as F16, Q8_0 or Q4_K, "
                           "found \"%2\"")
                    .arg(name, arg);
            break;
    }
    return std::nullopt;
}

Result<Figure> evaluateFigure(const FigureContext& context, const QString& name,
                              const QString& arg) {
    if (auto wrong = checkFigure(name, arg)) return Error{*wrong};
    const FigureDef& d = *find(name);
    if (!context.run || !context.run->model)
        return Error{QStringLiteral("{%1} needs a run, and there is none yet").arg(name)};
    Inputs in{context, nullptr, nullptr, std::nullopt};
    if (d.spec.arg == FigureArg::WeightType) in.type = whatif::typeNamed(arg);
    if (d.needsStep) {
        const Mode m = modeNamed(arg).value_or(context.focus);
        in.record = recordOf(*context.run, m);
        if (!in.record && arg.isEmpty() && !context.run->runs.empty())
            in.record = &context.run->runs.front();  // the focus mode did not run: the one that did
        if (!in.record || in.record->steps.empty())
            return Error{QStringLiteral("{%1} needs a %2 step, and this run has none")
                             .arg(name, QLatin1String(modeName(m)))};
        const int last = int(in.record->steps.size()) - 1;
        const int i = context.selectedStep < 0 ? last : std::min(context.selectedStep, last);
        in.step = in.record->steps[std::size_t(i)].get();
    }
    return d.eval(in);
}

}  // namespace kvscope
