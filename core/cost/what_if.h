#pragma once
// The what-if calculator: what generation would cost for any configuration at any length up to a
// million tokens, from the closed form alone, without running a model.
//
// Every FLOP component of one forward pass is affine in two counts (see forwardFlops): the rows
// the pass computes, r, and the keys those rows see, K (query row i sees i + 1 keys). So
//     flops = alpha * r + beta * K + gamma
// per component, and a sum over many passes only needs the sums of r, of K and of the passes:
//     naive step at length n      r = n, K = n (n + 1) / 2
//     cached decode step at n     r = 1, K = n
//     prefill of p tokens         r = p, K = p (p + 1) / 2
// The sums over steps p..N are sums of n and n^2, whose closed forms are N (N + 1) / 2 and
// N (N + 1)(2N + 1) / 6. alpha, beta and gamma are read off forwardFlops itself (three small
// passes), so the two can never drift apart. Counts are exact (128-bit) and reported as doubles:
// a 70B model's naive run to 10^6 tokens is ~10^24 FLOPs, beyond int64.

#include "cost/flops.h"
#include "model/model_config.h"
#include "tensor/ggml_type.h"

#include <cstdint>
#include <optional>
#include <vector>

namespace kvscope::whatif {

inline constexpr std::int64_t kMaxLength = 1'000'000;

// FLOPs split the way the calculator shows them.
struct FlopSplit {
    double attention = 0;  // QK^T and attention x V, every layer and query head
    double weights = 0;    // the weight matrices: QKV, output projection, MLP, lm_head
    double other = 0;      // norms, softmax, activations, RoPE, bias and residual adds
    double total() const { return attention + weights + other; }
};

// One step whose pass sees n tokens (cached: a decode step; its prefill is naiveStep(prompt)).
FlopSplit stepSplit(const ModelConfig& c, std::int64_t n, Mode mode);
// A whole run that starts from a prompt of `prompt` tokens and ends with the step that sees
// `length` tokens: the prefill (the same pass in both modes), then one step per new token, as
// cumulativeFlops(c, prompt, length - prompt + 1, mode) counts it. Zero when length < prompt.
FlopSplit cumulativeSplit(const ModelConfig& c, std::int64_t prompt, std::int64_t length,
                          Mode mode);
// The same total per component, exactly, in closed form; nullopt when a component would not fit
// in int64 (tests hold it against summing stepFlops).
std::optional<FlopBreakdown> cumulativeFlopsClosedForm(const ModelConfig& c, std::int64_t prompt,
                                                       std::int64_t newTokens, Mode mode);

// Crossover lengths, where attention overtakes the weight matrices (nullopt: not below `limit`):
// per step, the smallest n at which one step's attention FLOPs reach that step's weight-matrix
// FLOPs (for a cached step 4 L d n >= W, n >= W / (4 L d)); cumulative, the smallest N at which
// a run from a one-token prompt to N tokens has spent at least as much on attention as on the
// weight matrices in total. Both ratios only grow with n, so each is one boundary.
std::optional<std::int64_t> stepCrossover(const ModelConfig& c, Mode mode,
                                          std::int64_t limit = std::int64_t(1) << 40);
std::optional<std::int64_t> cumulativeCrossover(const ModelConfig& c, Mode mode,
                                                std::int64_t limit = std::int64_t(1) << 40);

// Log-log slope d log F / d log n between two lengths: the exponent of the power law the curve
// follows there. Per step it tends to 2 (naive) and 1 (cached) as attention takes over; a run's
// total to 3 and 2.
struct DecadeSlope {
    std::int64_t from = 0, to = 0;
    double naiveStep = 0, cachedStep = 0;
    double naiveCumulative = 0, cachedCumulative = 0;
    // Attention FLOPs alone: exactly 2, 1, 3 and 2 for large n.
    double naiveAttentionCumulative = 0, cachedAttentionCumulative = 0;
};
// Over [1, 10], [10, 100], ... up to `length`; the last interval ends at `length` when that is
// not a power of ten. Runs start from a one-token prompt.
std::vector<DecadeSlope> decadeSlopes(const ModelConfig& c, std::int64_t length);

// Every tensor of the model by shape, from the configuration: matrices (stored at the chosen
// type) and one-dimensional tensors (norm gains and biases, kept at F32 as GGUF files keep them).
struct TensorShapes {
    struct Matrix {
        std::int64_t rows = 0, cols = 0, count = 0;  // `count` tensors of (rows, cols)
        bool lookupTable = false;                    // an embedding a step reads one row of
    };
    std::vector<Matrix> matrices;
    std::int64_t vectorValues = 0;
};
TensorShapes tensorShapes(const ModelConfig& c);
std::int64_t parameterCount(const ModelConfig& c);

// Bytes of n values of one row stored at `type`: whole blocks (a row is padded to its last
// block; ggml would refuse or fall back for rows that are not a multiple of the block).
std::int64_t rowBytes(std::int64_t values, GgmlType type);
// Matrices at `type`, vectors at F32.
std::int64_t weightBytes(const ModelConfig& c, GgmlType type);
// What one step reads of the weights: every matrix once, but only one row of a lookup table (the
// token embedding unless it is also the classifier, learned positions).
std::int64_t weightBytesPerStep(const ModelConfig& c, GgmlType type);
// K and V of n positions over every layer, `kvHeads` heads of head_dim values each, at `type`.
std::int64_t kvBytes(const ModelConfig& c, std::int64_t n, int kvHeads, GgmlType type);

// The machine's two roofs: the read bandwidth bounds a step that streams its bytes, the GEMM rate
// one that is arithmetic.
struct Roofs {
    double bandwidthGBs = 0;  // 1e9 bytes per second
    double gemmGflops = 0;    // 1e9 FLOPs per second
    bool valid() const { return bandwidthGBs > 0 && gemmGflops > 0; }
};

// What a step must move and compute, and how long it would take at the roofs:
// time = max(bytes / bandwidth, FLOPs / GEMM rate), whichever roof binds. Bytes are the weights a
// step reads at `weightType` plus the K/V it reads and writes at `kvType` (cached: n positions
// read, one written; naive: none kept); activations are not counted.
struct StepTime {
    double flops = 0, bytes = 0;
    double memorySeconds = 0, computeSeconds = 0;
    double seconds() const {
        return memorySeconds > computeSeconds ? memorySeconds : computeSeconds;
    }
    bool memoryBound() const { return memorySeconds >= computeSeconds; }
};
StepTime stepTime(const ModelConfig& c, std::int64_t n, Mode mode, GgmlType weightType,
                  GgmlType kvType, const Roofs& roofs);

}  // namespace kvscope::whatif
