#pragma once
// The two normalisations the architectures use, over each row of a (rows, d) matrix. Each adds
// the FLOPs it executes (cost/flops.h gives the per-element costs).

#include "cost/flops.h"
#include "nn/linear.h"

#include <span>

namespace kvscope {

struct NormWeights {
    const float* gain = nullptr;  // (d)
    const float* bias = nullptr;  // (d); LayerNorm only
};

// GPT-2: (x - mean) / sqrt(var + eps) * gain + bias.
void layerNorm(const NormWeights& w, float eps, Eigen::Ref<RowMatrix> out,
               const Eigen::Ref<const RowMatrix>& in, FlopBreakdown& f);
// Llama: x / sqrt(mean(x^2) + eps) * gain; no centring, no bias.
void rmsNorm(const NormWeights& w, float eps, Eigen::Ref<RowMatrix> out,
             const Eigen::Ref<const RowMatrix>& in, FlopBreakdown& f);

// The end of every forward pass: the final norm of the last position's residual row and the
// classifier's logits (vocab floats), the only ones needed to sample the next token.
void lastRowLogits(NormKind kind, const NormWeights& norm, float eps, const Linear& classifier,
                   Eigen::Ref<RowMatrix> normed, const Eigen::Ref<const RowMatrix>& residual,
                   std::span<float> logits, FlopBreakdown& f);

inline void applyNorm(NormKind kind, const NormWeights& w, float eps, Eigen::Ref<RowMatrix> out,
                      const Eigen::Ref<const RowMatrix>& in, FlopBreakdown& f) {
    if (kind == NormKind::LayerNorm)
        layerNorm(w, eps, out, in, f);
    else
        rmsNorm(w, eps, out, in, f);
}

}  // namespace kvscope
