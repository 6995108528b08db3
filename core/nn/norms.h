#pragma once
// The two normalisations the architectures use, over each row of a (rows, d) matrix. Each adds
// the FLOPs it executes (cost/flops.h gives the per-element costs).

#include "cost/flops.h"
#include "nn/linear.h"

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

inline void applyNorm(NormKind kind, const NormWeights& w, float eps, Eigen::Ref<RowMatrix> out,
                      const Eigen::Ref<const RowMatrix>& in, FlopBreakdown& f) {
    if (kind == NormKind::LayerNorm)
        layerNorm(w, eps, out, in, f);
    else
        rmsNorm(w, eps, out, in, f);
}

}  // namespace kvscope
