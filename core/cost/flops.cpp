#include "cost/flops.h"

namespace kvscope {

const char* modeName(Mode m) {
    return m == Mode::Naive ? "naive" : "cached";
}

FlopBreakdown& FlopBreakdown::operator+=(const FlopBreakdown& o) {
    for (const FlopComponent& c : kFlopComponents) this->*c.field += o.*c.field;
    return *this;
}

// One formula for every architecture: the configuration's choices (norm, activation, positions,
// biases) select the terms, never the model's name.
FlopBreakdown forwardFlops(const ModelConfig& c, std::int64_t start, std::int64_t n) {
    const std::int64_t r = n - start;  // rows computed
    const std::int64_t d = c.nEmbd, inner = c.nInner, kv = c.kvDim(), L = c.nLayer;
    const std::int64_t qDim = std::int64_t(c.nHead) * c.headDim();
    const bool gelu = c.activation == Activation::GeluTanh;
    const std::int64_t norm = normFlopsPerElement(c.norm);
    // Query rows i in [start, n) see i + 1 keys: sum of (i + 1) over the rows.
    const std::int64_t keysSeen = (n * (n + 1) - start * (start + 1)) / 2;

    FlopBreakdown f;
    f.qkv = L * 2 * r * d * (qDim + 2 * kv);
    f.scores = L * 2 * keysSeen * qDim;  // every query head: head_dim per key
    f.attnV = f.scores;
    f.outProj = L * 2 * r * qDim * d;
    f.mlp = L * 2 * r * d * inner * (gelu ? 2 : 3);

    std::int64_t perLayerOther = 2 * norm * r * d                              // the two norms
                                 + kSoftmaxFlopsPerScore * c.nHead * keysSeen  // every score
                                 + kAddFlopsPerElement * r * d * 2;            // two residuals
    if (c.attnBias) perLayerOther += kAddFlopsPerElement * r * (qDim + 2 * kv);
    if (c.projBias) perLayerOther += kAddFlopsPerElement * r * (d + (gelu ? inner : 2 * inner) + d);
    if (c.positions == PositionKind::Rotary)
        perLayerOther += kRopeFlopsPerElement * r * (qDim + kv);  // Q and K rows
    perLayerOther += gelu ? kGeluFlopsPerElement * r * inner
                          : (kSiluFlopsPerElement + kGateFlopsPerElement) * r * inner;
    f.other = L * perLayerOther + norm * d;  // the final norm on the last row only
    if (c.positions == PositionKind::Learned)
        f.other += kAddFlopsPerElement * r * d;  // token + position embedding
    f.lmHead = 2 * std::int64_t(c.vocabSize) * d;
    return f;
}

ModelConfig mhaOf(ModelConfig c) {
    c.nKvHead = c.nHead;
    return c;
}

std::int64_t kvCacheBytes(const ModelConfig& c, std::int64_t n, std::int64_t bytesPerValue) {
    return 2 * std::int64_t(c.nLayer) * n * c.kvDim() * bytesPerValue;
}

FlopBreakdown stepFlops(const ModelConfig& c, std::int64_t n, Mode mode) {
    return forwardFlops(c, mode == Mode::Naive ? 0 : n - 1, n);
}

FlopBreakdown prefillFlops(const ModelConfig& c, std::int64_t promptLength) {
    return forwardFlops(c, 0, promptLength);
}

FlopBreakdown cumulativeFlops(const ModelConfig& c, std::int64_t promptLength,
                              std::int64_t newTokens, Mode mode) {
    FlopBreakdown total;
    if (newTokens <= 0) return total;
    total += prefillFlops(c, promptLength);  // the first step is the same in both modes
    for (std::int64_t n = promptLength + 1; n < promptLength + newTokens; ++n)
        total += stepFlops(c, n, mode);
    return total;
}

std::optional<std::int64_t> attentionCrossoverLength(const ModelConfig& c, Mode mode) {
    for (std::int64_t n = 1; n <= c.nPositions; ++n) {
        const FlopBreakdown f = stepFlops(c, n, mode);
        if (f.attention() >= f.weightProducts()) return n;
    }
    return std::nullopt;
}

}  // namespace kvscope
