#include "nn/causal_attention.h"

#include "util/parallel.h"

#include <cmath>

namespace kvscope {
namespace {

// A head's slice of a (positions, width) row-major buffer.
using HeadMap = Eigen::Map<const RowMatrix, 0, Eigen::OuterStride<>>;
using HeadOut = Eigen::Map<RowMatrix, 0, Eigen::OuterStride<>>;

constexpr int kQueryBlock = 64;

}  // namespace

CausalAttention::CausalAttention(const AttentionLayout& layout, int positions)
    : layout_(layout),
      scores_(std::size_t(layout.nHead), RowMatrix(kQueryBlock, positions)),
      headFlops_(std::size_t(layout.nHead)) {}

// Query rows [start, n) of one head, in blocks of kQueryBlock rows. For a block [i0, i1) the
// keys before i0 are visible to every row, so scores and mixing over them are two matrix-matrix
// products; the keys i0..row inside the block's diagonal are done row by row. That keeps the work
// exactly the causal triangle (no masked cell is computed) while most of it runs as GEMM, which
// is what makes a long naive step fast. Polls `cancelled` once per block.
bool CausalAttention::head(const AttentionBuffers& b, int layer, int h, int start, int n,
                           AttentionSink* sink, const std::atomic<bool>& cancelled) {
    const int hd = layout_.headDim;
    const int kvHead = h / (layout_.nHead / layout_.nKvHead);
    const float scale = 1.0f / std::sqrt(float(hd));
    const HeadMap K(b.k + kvHead * hd, n, hd, Eigen::OuterStride<>(b.kvStride));
    const HeadMap V(b.v + kvHead * hd, n, hd, Eigen::OuterStride<>(b.kvStride));
    RowMatrix& scores = scores_[std::size_t(h)];
    FlopBreakdown& f = headFlops_[std::size_t(h)];
    for (int i0 = start; i0 < n; i0 += kQueryBlock) {
        if (i0 > start && cancelled.load(std::memory_order_relaxed)) return false;
        const int m = std::min(kQueryBlock, n - i0);
        const HeadMap Q(b.q + std::int64_t(i0) * b.qStride + h * hd, m, hd,
                        Eigen::OuterStride<>(b.qStride));
        HeadOut out(b.out + std::int64_t(i0) * b.outStride + h * hd, m, hd,
                    Eigen::OuterStride<>(b.outStride));
        auto S = scores.topRows(m);
        if (i0 > 0) S.leftCols(i0).noalias() = Q * K.topRows(i0).transpose();
        countMatmul(f.scores, m, hd, i0);
        for (int r = 0; r < m; ++r) {
            const int keys = i0 + r + 1;
            S.row(r).segment(i0, r + 1).noalias() =
                (K.middleRows(i0, r + 1) * Q.row(r).transpose()).transpose();
            countMatmul(f.scores, 1, hd, r + 1);
            auto p = S.row(r).head(keys);
            p *= scale;
            p.array() = (p.array() - p.maxCoeff()).exp();
            p /= p.sum();
            f.other += kSoftmaxFlopsPerScore * keys;
            if (sink) sink->attentionRow(layer, h, i0 + r, p.data());
        }
        if (i0 > 0)
            out.noalias() = S.leftCols(i0) * V.topRows(i0);
        else
            out.setZero();
        countMatmul(f.attnV, m, i0, hd);
        for (int r = 0; r < m; ++r) {
            out.row(r).noalias() += S.row(r).segment(i0, r + 1) * V.middleRows(i0, r + 1);
            countMatmul(f.attnV, 1, r + 1, hd);
        }
    }
    return true;
}

bool CausalAttention::run(const AttentionBuffers& b, int layer, int start, int n,
                          const ForwardHooks& hooks, FlopBreakdown& f) {
    const std::int64_t rows = n - start;
    // Both products, all heads: the work that decides whether threads pay.
    const std::int64_t work = rows * (start + n + 1) * layout_.nHead * layout_.headDim;
    static const std::atomic<bool> never{false};
    const std::atomic<bool>& cancel = hooks.cancel ? *hooks.cancel : never;
    std::atomic<bool> stopped{false};
    for (FlopBreakdown& hf : headFlops_) hf = {};
    parallelItems(layout_.nHead, work, [&](int h) {
        if (stopped.load(std::memory_order_relaxed) || cancel.load(std::memory_order_relaxed) ||
            !head(b, layer, h, start, n, hooks.attention, cancel))
            stopped.store(true, std::memory_order_relaxed);
    });
    for (const FlopBreakdown& hf : headFlops_) f += hf;
    return !stopped.load();
}

}  // namespace kvscope
