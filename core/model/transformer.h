#pragma once
// The seam between a model architecture and the generation loop. The session only ever calls
// forward() with "compute rows [start, n), read K/V of [0, start) from the state": naive
// generation passes start = 0 every step, cached generation prefills once and then passes
// start = n - 1. A Llama-family model (RMSNorm, RoPE, SwiGLU, grouped-query attention) is another
// implementation of this interface; the session, the sampler and the FLOP accounting stay as they
// are.

#include "cost/bytes_moved.h"
#include "cost/flops.h"
#include "model/model_config.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>

namespace kvscope {

// Receives the attention probabilities of each computed query row: probs[0..pos] over keys
// 0..pos. Called on the inference thread while the forward pass runs.
class AttentionSink {
public:
    virtual ~AttentionSink() = default;
    virtual void attentionRow(int layer, int head, int pos, const float* probs) = 0;
};

// Activations and the K/V cache of one generation, sized for the whole context once, so the
// per-token loop never allocates.
class InferenceState {
public:
    virtual ~InferenceState() = default;
    // Bytes the K/V cache holds when n positions are cached.
    virtual std::int64_t kvCacheBytes(std::int64_t n) const = 0;
};

struct ForwardHooks {
    AttentionSink* attention = nullptr;  // null: nothing captured
    const std::atomic<bool>* cancel =
        nullptr;  // polled between heads; set -> forward returns false
};

class Transformer {
public:
    virtual ~Transformer() = default;
    virtual const ModelConfig& config() const = 0;
    virtual std::int64_t parameterCount() const = 0;
    virtual std::unique_ptr<InferenceState> newState() const = 0;

    // Computes positions [start, tokens.size()) of the sequence, reading cached keys and values
    // of positions [0, start) from `state` and storing those it computes. Writes the logits of the
    // last position to `logits` (vocabSize floats) and adds the FLOPs it executed to `counted`.
    // Returns false when cancelled (state then holds a partial pass and must be re-run).
    virtual bool forward(InferenceState& state, std::span<const int> tokens, int start,
                         const ForwardHooks& hooks, FlopBreakdown& counted,
                         std::span<float> logits) const = 0;
    // What forward(state, tokens of length n, start) moves (bytes_moved.h).
    virtual BytesMoved bytesMoved(int start, int n) const = 0;
};

}  // namespace kvscope
