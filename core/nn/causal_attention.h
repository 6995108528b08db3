#pragma once
// Causal self-attention of one layer over query rows [start, n), for any grouping of heads:
// multi-head (n_kv_head == n_head), grouped-query (n_head a multiple of n_kv_head) and
// multi-query (n_kv_head == 1). Query head h reads key/value head h / (n_head / n_kv_head).
// Only the causal triangle is computed: row i scores keys 0..i and mixes values 0..i, so the
// FLOPs depend on n_head and head_dim but never on n_kv_head.

#include "model/transformer.h"
#include "nn/linear.h"

#include <vector>

namespace kvscope {

struct AttentionLayout {
    int nHead = 0, nKvHead = 0, headDim = 0;
};

// Row i of each buffer starts at base + i * stride; head h's slice at + h * head_dim.
struct AttentionBuffers {
    const float* q = nullptr;  // (positions, n_head * head_dim)
    std::int64_t qStride = 0;
    const float* k = nullptr;  // (positions, n_kv_head * head_dim): the cache, rows [0, n) valid
    const float* v = nullptr;  // (positions, n_kv_head * head_dim)
    std::int64_t kvStride = 0;
    float* out = nullptr;  // (positions, n_head * head_dim)
    std::int64_t outStride = 0;
};

// Holds the per-head score blocks, sized once for the whole context, so a step never allocates.
class CausalAttention {
public:
    CausalAttention() = default;
    CausalAttention(const AttentionLayout& layout, int positions);

    // Heads run on the compute threads; the attention sink (if any) receives every computed
    // row's probabilities, from several threads at once. Returns false when cancelled.
    bool run(const AttentionBuffers& b, int layer, int start, int n, const ForwardHooks& hooks,
             FlopBreakdown& f);

private:
    bool head(const AttentionBuffers& b, int layer, int h, int start, int n, AttentionSink* sink,
              const std::atomic<bool>& cancelled);

    AttentionLayout layout_;
    std::vector<RowMatrix> scores_;         // per head (kQueryBlock, positions)
    std::vector<FlopBreakdown> headFlops_;  // per head, so heads on different threads never share
};

}  // namespace kvscope
