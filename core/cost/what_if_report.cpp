#include "cost/what_if_report.h"

#include <QJsonArray>

namespace kvscope::whatif {

const char* const kStepCrossoverDefinition =
    "the smallest sequence length n at which one step's attention FLOPs (QK^T and attention x V) "
    "reach that step's weight-matrix FLOPs (QKV, output projection, MLP, lm_head)";
const char* const kCumulativeCrossoverDefinition =
    "the smallest length N at which a whole run from a one-token prompt to N tokens has spent at "
    "least as many FLOPs on attention as on the weight matrices";
const char* const kTimeRule =
    "time = max(bytes / read bandwidth, FLOPs / GEMM rate): whichever roof binds; bytes are the "
    "weights one step reads plus the K/V it reads and writes, activations not counted";

const std::vector<GgmlType>& weightTypes() {
    static const std::vector<GgmlType> types = {
        GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q6_K,
        GgmlType::Q5_K, GgmlType::Q4_K, GgmlType::Q4_0, GgmlType::Q3_K, GgmlType::Q2_K};
    return types;
}

const std::vector<GgmlType>& kvTypes() {
    static const std::vector<GgmlType> types = {GgmlType::F32, GgmlType::F16, GgmlType::Q8_0};
    return types;
}

QString typeName(GgmlType t) {
    const auto name = ggmlTypeTraits(t).name;
    return QString::fromLatin1(name.data(), qsizetype(name.size()));
}

std::optional<GgmlType> typeNamed(const QString& name) {
    for (GgmlType t : weightTypes())
        if (typeName(t).compare(name, Qt::CaseInsensitive) == 0) return t;
    return std::nullopt;
}

namespace {

QJsonObject splitJson(const FlopSplit& s) {
    return {{"attention", s.attention},
            {"weights", s.weights},
            {"other", s.other},
            {"total", s.total()}};
}

QJsonValue lengthOrNull(std::optional<std::int64_t> n) {
    return n ? QJsonValue(double(*n)) : QJsonValue();
}

QJsonObject kvRow(const Query& q, int kvHeads) {
    QJsonObject row{{"kv_heads", kvHeads}};
    for (GgmlType t : kvTypes()) row[typeName(t)] = double(kvBytes(q.config, q.length, kvHeads, t));
    return row;
}

QJsonObject timeJson(const StepTime& t) {
    return {{"seconds", t.seconds()},
            {"flops", t.flops},
            {"bytes", t.bytes},
            {"memory_seconds", t.memorySeconds},
            {"compute_seconds", t.computeSeconds},
            {"bound", t.memoryBound() ? "memory bandwidth" : "GEMM rate"}};
}

}  // namespace

QJsonObject configToJson(const ModelConfig& c) {
    const bool llama = c.norm == NormKind::RmsNorm;
    return {{"model_type", c.modelType},
            {"n_layer", c.nLayer},
            {"n_head", c.nHead},
            {"n_kv_head", c.nKvHead},
            {"n_embd", c.nEmbd},
            {"head_dim", c.headDim()},
            {"n_inner", c.nInner},
            {"vocab_size", c.vocabSize},
            {"n_positions", c.nPositions},
            {"norm", llama ? "rms_norm" : "layer_norm"},
            {"activation", c.activation == Activation::SwiGlu ? "swiglu" : "gelu_tanh"},
            {"positions", c.positions == PositionKind::Rotary ? "rotary" : "learned"},
            {"tied_lm_head", c.tiedLmHead},
            {"qkv_bias", c.attnBias},
            {"proj_bias", c.projBias}};
}

QJsonObject toJson(const Query& q) {
    const ModelConfig& c = q.config;
    QJsonObject out;
    out["model"] = QJsonObject{{"name", q.name},
                               {"source", q.source},
                               {"config", configToJson(c)},
                               {"parameters", double(parameterCount(c))}};
    out["length"] = double(q.length);
    out["prompt_length"] = double(q.prompt);
    out["beyond_context"] = q.length > c.nPositions;
    out["step"] = QJsonObject{{"naive", splitJson(stepSplit(c, q.length, Mode::Naive))},
                              {"cached", splitJson(stepSplit(c, q.length, Mode::Cached))}};
    out["cumulative"] =
        QJsonObject{{"naive", splitJson(cumulativeSplit(c, q.prompt, q.length, Mode::Naive))},
                    {"cached", splitJson(cumulativeSplit(c, q.prompt, q.length, Mode::Cached))}};
    out["crossover"] = QJsonObject{
        {"step", QJsonObject{{"naive", lengthOrNull(stepCrossover(c, Mode::Naive))},
                             {"cached", lengthOrNull(stepCrossover(c, Mode::Cached))},
                             {"definition", kStepCrossoverDefinition}}},
        {"cumulative", QJsonObject{{"naive", lengthOrNull(cumulativeCrossover(c, Mode::Naive))},
                                   {"cached", lengthOrNull(cumulativeCrossover(c, Mode::Cached))},
                                   {"definition", kCumulativeCrossoverDefinition}}}};
    QJsonArray slopes;
    for (const DecadeSlope& s : decadeSlopes(c, q.length))
        slopes.append(QJsonObject{{"from", double(s.from)},
                                  {"to", double(s.to)},
                                  {"naive_step", s.naiveStep},
                                  {"cached_step", s.cachedStep},
                                  {"naive_cumulative", s.naiveCumulative},
                                  {"cached_cumulative", s.cachedCumulative},
                                  {"naive_attention_cumulative", s.naiveAttentionCumulative},
                                  {"cached_attention_cumulative", s.cachedAttentionCumulative}});
    out["log_log_slopes"] = slopes;
    out["kv_cache_bytes"] = QJsonObject{
        {"mha", kvRow(q, c.nHead)}, {"model", kvRow(q, c.nKvHead)}, {"mqa", kvRow(q, 1)}};
    QJsonObject weights;
    for (GgmlType t : weightTypes()) weights[typeName(t)] = double(weightBytes(c, t));
    out["weight_bytes"] = weights;
    out["weight_bytes_note"] = "matrices at the type (whole blocks per row), norms and biases F32";
    if (q.roofs && q.roofs->valid()) {
        out["roofs"] = QJsonObject{{"bandwidth_gbs", q.roofs->bandwidthGBs},
                                   {"gemm_gflops", q.roofs->gemmGflops},
                                   {"source", q.roofsSource}};
        out["step_time"] = QJsonObject{
            {"rule", kTimeRule},
            {"weight_type", typeName(q.weightType)},
            {"kv_type", typeName(q.kvType)},
            {"naive",
             timeJson(stepTime(c, q.length, Mode::Naive, q.weightType, q.kvType, *q.roofs))},
            {"cached",
             timeJson(stepTime(c, q.length, Mode::Cached, q.weightType, q.kvType, *q.roofs))}};
    } else {
        out["roofs"] = QJsonValue();
        out["step_time"] = QJsonValue();
    }
    return out;
}

}  // namespace kvscope::whatif
