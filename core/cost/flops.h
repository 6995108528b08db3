#pragma once
// FLOP accounting. The engine counts what it executes as it executes it (each product adds
// 2*m*n*k from the operands' real dimensions); this header also gives the same numbers in closed
// form from the configuration alone, so tests can hold the two against each other and the UI can
// draw predictions for a mode that is not running.
//
// Attention computes only the causal triangle: query row i takes dot products with keys 0..i and
// mixes values 0..i, i.e. (i + 1) * head_dim multiply-adds per head for each of QK^T and A*V. No
// masked-out cell is ever computed.
//
// Per-element costs of the non-product work ("other"); scalar work per row (one sqrt, one
// division) is not counted:
//   layer norm  8 per element: sum for the mean (1); subtract, square, accumulate for the
//               variance (3); subtract mean, scale by 1/sigma, gain, bias (4).
//   RMS norm    4 per element: square and accumulate (2); scale by 1/rms, gain (2).
//   softmax     5 per score: scale by 1/sqrt(head_dim), subtract the max, exp, accumulate,
//               normalise (comparisons for the max are not arithmetic and not counted).
//   GELU(tanh)  9 per element: x^3 (2), x + 0.044715 x^3 (2), tanh(sqrt(2/pi) * .) (2),
//               0.5 * x * (1 + t) (3).
//   SiLU        4 per element: x / (1 + exp(-x)): negate, exp, add, divide.
//   gate        1 per element: SwiGLU's silu(x W1) * (x W3).
//   RoPE        3 per rotated element (6 per pair): (a cos - b sin, a sin + b cos); the cos and
//               sin of each position and frequency are a table made once per run, not counted.
//   adds        1 per element: bias adds, residual adds, token + position embedding.

#include "model/model_config.h"

#include <cstdint>
#include <iterator>
#include <optional>

namespace kvscope {

enum class Mode { Naive, Cached };
const char* modeName(Mode m);

constexpr std::int64_t kLayerNormFlopsPerElement = 8;
constexpr std::int64_t kRmsNormFlopsPerElement = 4;
constexpr std::int64_t kSoftmaxFlopsPerScore = 5;
constexpr std::int64_t kGeluFlopsPerElement = 9;
constexpr std::int64_t kSiluFlopsPerElement = 4;
constexpr std::int64_t kGateFlopsPerElement = 1;
constexpr std::int64_t kRopeFlopsPerElement = 3;
constexpr std::int64_t kAddFlopsPerElement = 1;

constexpr std::int64_t normFlopsPerElement(NormKind n) {
    return n == NormKind::LayerNorm ? kLayerNormFlopsPerElement : kRmsNormFlopsPerElement;
}

struct FlopBreakdown {
    std::int64_t qkv = 0;      // Q, K, V projections
    std::int64_t scores = 0;   // Q K^T
    std::int64_t attnV = 0;    // softmax(QK^T) V
    std::int64_t outProj = 0;  // attention output projection
    std::int64_t mlp = 0;      // the MLP products (two for GELU, three for SwiGLU)
    std::int64_t lmHead = 0;   // final projection to the vocabulary
    std::int64_t other = 0;    // norms, softmax, activations, RoPE, bias and residual adds

    std::int64_t attention() const { return scores + attnV; }
    std::int64_t weightProducts() const { return qkv + outProj + mlp + lmHead; }
    std::int64_t total() const { return attention() + weightProducts() + other; }
    FlopBreakdown& operator+=(const FlopBreakdown& o);
    bool operator==(const FlopBreakdown&) const = default;
};

// The components, declared once: run.json, run.csv and the panels iterate this table, so a new
// component is one line here. `key` names it in the data files, `label` on screen.
struct FlopComponent {
    const char* key;
    const char* label;
    std::int64_t FlopBreakdown::*field;
};
inline constexpr FlopComponent kFlopComponents[] = {
    {"qkv", "QKV projection", &FlopBreakdown::qkv},
    {"scores", "scores QK^T", &FlopBreakdown::scores},
    {"attn_v", "attention x V", &FlopBreakdown::attnV},
    {"out_proj", "output projection", &FlopBreakdown::outProj},
    {"mlp", "MLP", &FlopBreakdown::mlp},
    {"lm_head", "lm_head", &FlopBreakdown::lmHead},
    {"other", "other", &FlopBreakdown::other},
};
inline constexpr int kFlopComponentCount = int(std::size(kFlopComponents));

// Adds the cost of an (m x k) * (k x n) product.
inline void countMatmul(std::int64_t& counter, std::int64_t m, std::int64_t k, std::int64_t n) {
    counter += 2 * m * k * n;
}

// Closed form of one forward pass that computes rows [start, n) of an n-token sequence, reading
// keys and values of rows [0, start) from a cache, and producing logits for row n - 1 only.
FlopBreakdown forwardFlops(const ModelConfig& c, std::int64_t start, std::int64_t n);

// Bytes a K/V cache holds for n positions: keys and values of every layer, kv_dim values each.
// Grouped-query attention shrinks it by n_head / n_kv_head; attention FLOPs stay the same.
std::int64_t kvCacheBytes(const ModelConfig& c, std::int64_t n, std::int64_t bytesPerValue = 4);
// The same model with one K/V head per query head (multi-head attention): what GQA saves.
ModelConfig mhaOf(ModelConfig c);

// One generation step whose input sequence has n tokens. Naive recomputes all n rows; cached
// computes row n - 1 only (a decode step). The cached run's first step is the prefill of the
// prompt, which is forwardFlops(c, 0, promptLength) and so equals the naive step of that length.
FlopBreakdown stepFlops(const ModelConfig& c, std::int64_t n, Mode mode);
FlopBreakdown prefillFlops(const ModelConfig& c, std::int64_t promptLength);

// Total for generating `newTokens` tokens after a prompt of `promptLength` tokens.
FlopBreakdown cumulativeFlops(const ModelConfig& c, std::int64_t promptLength,
                              std::int64_t newTokens, Mode mode);

// The smallest sequence length at which a step's attention FLOPs (QK^T + AV) reach its
// weight-matrix FLOPs (QKV, output projection, MLP, lm_head); nullopt if not within the context.
std::optional<std::int64_t> attentionCrossoverLength(const ModelConfig& c, Mode mode);

}  // namespace kvscope
