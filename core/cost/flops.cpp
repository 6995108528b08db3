#include "cost/flops.h"

namespace kvscope {

const char* modeName(Mode m) {
    return m == Mode::Naive ? "naive" : "cached";
}

FlopBreakdown& FlopBreakdown::operator+=(const FlopBreakdown& o) {
    qkv += o.qkv;
    scores += o.scores;
    attnV += o.attnV;
    outProj += o.outProj;
    mlp += o.mlp;
    lmHead += o.lmHead;
    other += o.other;
    return *this;
}

FlopBreakdown forwardFlops(const ModelConfig& c, std::int64_t start, std::int64_t n) {
    const std::int64_t r = n - start;  // rows computed
    const std::int64_t d = c.nEmbd, inner = c.nInner, kv = c.kvDim(), L = c.nLayer;
    // Query rows i in [start, n) see i + 1 keys: sum of (i + 1) over the rows.
    const std::int64_t keysSeen = (n * (n + 1) - start * (start + 1)) / 2;

    FlopBreakdown f;
    f.qkv = L * 2 * r * d * (d + 2 * kv);
    f.scores = L * 2 * keysSeen * d;  // every query head: head_dim per key, heads * head_dim = d
    f.attnV = f.scores;
    f.outProj = L * 2 * r * d * d;
    f.mlp = L * 2 * (2 * r * d * inner);

    const std::int64_t perLayerOther =
        2 * kLayerNormFlopsPerElement * r * d                  // ln_1, ln_2
        + kAddFlopsPerElement * r * (d + 2 * kv)               // QKV bias
        + kSoftmaxFlopsPerScore * c.nHead * keysSeen           // softmax over each score
        + kAddFlopsPerElement * r * d * 2                      // projection bias, residual
        + kAddFlopsPerElement * r * inner                      // c_fc bias
        + kGeluFlopsPerElement * r * inner                     // GELU
        + kAddFlopsPerElement * r * d * 2;                     // c_proj bias, residual
    f.other = L * perLayerOther + kAddFlopsPerElement * r * d  // token + position embedding
              + kLayerNormFlopsPerElement * d;                 // ln_f on the last row only
    f.lmHead = 2 * std::int64_t(c.vocabSize) * d;
    return f;
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
