#include "run/run_export.h"

#include "cost/roofline.h"

#include <QJsonArray>
#include <QSaveFile>

namespace kvscope {
namespace {

QString generatedText(const Tokenizer& tok, const RunRecord& run) {
    std::vector<int> ids;
    for (const auto& s : run.steps) ids.push_back(s->token);
    return QString::fromUtf8(tok.decode(ids));
}

// The token as text, not as the window shows it: its bytes as UTF-8, a byte that is not part of
// valid UTF-8 (half a character split across tokens) as U+FFFD; the exact bytes stay reachable
// through the id. A control token, which has no bytes, by its name ("<s>").
QString fileText(const QByteArray& bytes, const QString& display) {
    return bytes.isEmpty() ? display : QString::fromUtf8(bytes);
}

QString fileText(const Tokenizer& tok, int id) {
    return fileText(QByteArray::fromStdString(tok.tokenBytes(id)), tok.tokenDisplay(id));
}

// What each stage left (tokens still possible, entropy) and where the draw fell; the full
// per-stage lists stay in the window, which draws them.
QJsonObject samplerTraceToJson(const SamplerTrace& t) {
    QJsonObject survivors, entropy;
    for (int i = 0; i < kSamplerStages; ++i) {
        const auto stage = SamplerStage(i);
        const QLatin1String key(samplerStageKey(stage));
        survivors.insert(key, t.at(stage).survivors);
        entropy.insert(key, t.at(stage).entropy);
    }
    QJsonObject o{{"survivors", survivors}, {"entropy", entropy}};
    if (t.draw.drawn) {
        o.insert(QStringLiteral("u"), t.draw.u);
        o.insert(QStringLiteral("drawn_index"), t.draw.index);  // 0 = the most probable survivor
        o.insert(QStringLiteral("cumulative_before"), t.draw.cumBefore);
        o.insert(QStringLiteral("cumulative_after"), t.draw.cumAfter);
    }
    return o;
}

QJsonObject stepToJson(const Model& m, const StepResult& s) {
    QJsonArray top;
    for (const CandidateReport& c : s.sample.top)
        top.append(QJsonObject{{"id", c.id},
                               {"text", fileText(*m.tokenizer, c.id)},
                               {"raw_prob", c.rawProb},
                               {"prob", c.prob}});
    const FlopBreakdown predicted =
        s.prefill ? prefillFlops(m.config, s.position) : stepFlops(m.config, s.position, s.mode);
    QJsonObject o{{"step", s.step},
                  {"position", s.position},
                  {"prefill", s.prefill},
                  {"token", s.token},
                  {"text", fileText(s.tokenBytes, s.tokenText)},
                  {"prob", s.sample.prob},
                  {"raw_prob", s.sample.rawProb},
                  {"rank", s.sample.rank + 1},  // 1 = highest raw logit, as the window says
                  {"entropy", s.sample.entropy},
                  {"top_k", top},
                  {"flops", flopsToJson(s.flops)},
                  {"flops_closed_form_total", double(predicted.total())},
                  {"cumulative_flops", flopsToJson(s.cumulative)},
                  {"ms", s.milliseconds},
                  {"kv_cache_bytes", double(s.kvCacheBytes)},
                  {"bytes_moved", QJsonObject{{"weights", double(s.bytes.weights)},
                                              {"kv_read", double(s.bytes.kvRead)},
                                              {"kv_written", double(s.bytes.kvWritten)},
                                              {"total", double(s.bytes.total())}}},
                  {"rows_computed", s.position - s.firstComputedRow}};
    if (s.recomputeMaxDiff >= 0) o.insert(QStringLiteral("recompute_max_diff"), s.recomputeMaxDiff);
    o.insert(QStringLiteral("sampler"), samplerTraceToJson(s.sample.trace));
    return o;
}

QJsonArray samplerOrderJson() {
    QJsonArray order;
    for (int i = 1; i < kSamplerStages; ++i)
        order.append(QLatin1String(samplerStageKey(SamplerStage(i))));
    order.append(QStringLiteral("draw"));
    return order;
}

QString csvField(QString s) {
    if (s.contains(QLatin1Char(',')) || s.contains(QLatin1Char('"')) ||
        s.contains(QLatin1Char('\n')) || s.contains(QLatin1Char('\r')))
        return QLatin1Char('"') + s.replace(QLatin1Char('"'), QStringLiteral("\"\"")) +
               QLatin1Char('"');
    return s;
}

}  // namespace

QJsonObject modelToJson(const Model& m) {
    const ModelConfig& c = m.config;
    return QJsonObject{
        {"name", m.name},
        {"source", m.source},
        {"model_type", c.modelType},
        {"n_layer", c.nLayer},
        {"n_head", c.nHead},
        {"n_embd", c.nEmbd},
        {"n_inner", c.nInner},
        {"n_positions", c.nPositions},
        {"vocab_size", c.vocabSize},
        {"layer_norm_epsilon", c.normEps},
        {"parameters", double(m.transformer->parameterCount())},
        // Added with the Llama architecture; the keys above keep their meaning.
        {"architecture", c.modelType},
        {"format", m.format},
        {"n_kv_head", c.nKvHead},
        {"head_dim", c.headDim()},
        {"norm", c.norm == NormKind::LayerNorm ? "layer_norm" : "rms_norm"},
        {"activation", c.activation == Activation::GeluTanh ? "gelu_tanh" : "swiglu"},
        {"positions", c.positions == PositionKind::Learned ? "learned" : "rotary"},
        {"rope_theta",
         c.positions == PositionKind::Rotary ? QJsonValue(c.ropeTheta) : QJsonValue()},
        {"kv_cache_bytes_per_token", double(kvCacheBytes(c, 1))},
        {"kv_cache_bytes_per_token_mha", double(kvCacheBytes(mhaOf(c), 1))}};
}

QJsonObject flopsToJson(const FlopBreakdown& f) {
    QJsonObject o;
    for (const FlopComponent& c : kFlopComponents)
        o.insert(QLatin1String(c.key), double(f.*c.field));
    o.insert(QStringLiteral("total"), double(f.total()));
    return o;
}

QJsonValue roofsToJson(const std::optional<MachineRoofs>& r) {
    if (!r || !r->roofs().valid()) return QJsonValue();
    QJsonObject o{{"bandwidth_gbs", r->bandwidthGBs},
                  {"gemm_gflops", r->gemmGflops},
                  {"ridge_flop_per_byte", ridgeIntensity(r->roofs())},
                  {"threads", r->threads}};
    o.insert(QStringLiteral("measured_utc"),
             r->measured.isValid() ? QJsonValue(r->measured.toUTC().toString(Qt::ISODate))
                                   : QJsonValue());
    return o;
}

QJsonObject runToJson(const RunExport& e) {
    const Model& m = *e.model;
    QJsonArray promptIds, runs;
    for (int id : e.promptIds) promptIds.append(id);
    for (const RunRecord& run : e.runs) {
        QJsonArray steps, tokens;
        for (const auto& s : run.steps) {
            steps.append(stepToJson(m, *s));
            tokens.append(s->token);
        }
        runs.append(QJsonObject{{"mode", modeName(run.mode)},
                                {"stop_reason", stopReasonName(run.stop)},
                                {"text", generatedText(*m.tokenizer, run)},
                                {"tokens", tokens},
                                {"steps", steps}});
    }
    const SamplerSettings& sm = e.settings.sampler;
    QJsonObject settings{{"prompt", e.prompt},
                         {"prompt_ids", promptIds},
                         {"max_new_tokens", e.settings.maxNewTokens},
                         {"temperature", sm.temperature},
                         {"top_k", sm.topK},
                         {"top_p", sm.topP},
                         {"seed", QString::number(sm.seed)},
                         {"capture_attention", e.settings.captureAttention},
                         // Added with the stage-by-stage chain (llama.cpp's option names).
                         {"min_p", sm.minP},
                         {"repeat_penalty", sm.repeatPenalty},
                         {"presence_penalty", sm.presencePenalty},
                         {"frequency_penalty", sm.frequencyPenalty},
                         {"repeat_last_n", sm.repeatLastN},
                         {"sampler_order", samplerOrderJson()}};
    QJsonObject crossover;
    for (Mode mode : {Mode::Naive, Mode::Cached}) {
        const auto n = attentionCrossoverLength(m.config, mode);
        crossover.insert(QLatin1String(modeName(mode)), n ? QJsonValue(double(*n)) : QJsonValue());
    }
    QJsonObject o{{"tool", QStringLiteral("kvscope")},
                  {"model", modelToJson(m)},
                  {"settings", settings},
                  {"attention_crossover_length", crossover},
                  // Added with the roofline: what the steps' rates are measured against.
                  {"machine_roofs", roofsToJson(e.roofs)},
                  {"runs", runs}};
    if (e.runs.size() == 2) {
        bool equal = e.runs[0].steps.size() == e.runs[1].steps.size();
        for (std::size_t i = 0; equal && i < e.runs[0].steps.size(); ++i)
            equal = e.runs[0].steps[i]->token == e.runs[1].steps[i]->token;
        QJsonObject cmp{{"tokens_equal", equal}};
        if (e.maxLogitDiff) cmp.insert(QStringLiteral("max_logit_diff"), *e.maxLogitDiff);
        o.insert(QStringLiteral("comparison"), cmp);
    }
    return o;
}

QByteArray runToCsv(const RunExport& e) {
    QByteArray out = "mode,step,position,prefill,token,text,prob,rank,entropy,";
    for (const FlopComponent& c : kFlopComponents) out += QByteArray("flops_") + c.key + ',';
    out +=
        "flops_total,cumulative_flops,kv_cache_bytes,ms,bytes_weights,bytes_kv_read,"
        "bytes_kv_written\n";
    for (const RunRecord& run : e.runs) {
        for (const auto& p : run.steps) {
            const StepResult& s = *p;
            const FlopBreakdown& f = s.flops;
            QStringList row{QLatin1String(modeName(s.mode)),
                            QString::number(s.step),
                            QString::number(s.position),
                            s.prefill ? QStringLiteral("1") : QStringLiteral("0"),
                            QString::number(s.token),
                            csvField(fileText(s.tokenBytes, s.tokenText)),
                            QString::number(s.sample.prob, 'g', 7),
                            QString::number(s.sample.rank + 1),
                            QString::number(s.sample.entropy, 'g', 7)};
            for (const FlopComponent& c : kFlopComponents) row << QString::number(f.*c.field);
            for (std::int64_t v : {f.total(), s.cumulative.total(), s.kvCacheBytes})
                row << QString::number(v);
            row << QString::number(s.milliseconds, 'f', 4);
            for (std::int64_t v : {s.bytes.weights, s.bytes.kvRead, s.bytes.kvWritten})
                row << QString::number(v);
            out += row.join(QLatin1Char(',')).toUtf8() + '\n';
        }
    }
    return out;
}

Result<bool> writeFile(const QString& path, const QByteArray& data) {
    QSaveFile f(path);
    if (!f.open(QIODevice::WriteOnly) || f.write(data) != data.size() || !f.commit())
        return Error{QStringLiteral("%1: cannot write: %2").arg(path, f.errorString())};
    return true;
}

}  // namespace kvscope
