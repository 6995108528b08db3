#include "nn/norms.h"

#include "util/parallel.h"

#include <cmath>

namespace kvscope {
namespace {
using ConstRowVector = Eigen::Map<const Eigen::RowVectorXf>;
}

void layerNorm(const NormWeights& w, float eps, Eigen::Ref<RowMatrix> out,
               const Eigen::Ref<const RowMatrix>& in, FlopBreakdown& f) {
    const float invD = 1.0f / float(in.cols());
    const ConstRowVector gain(w.gain, in.cols()), bias(w.bias, in.cols());
    const std::int64_t work = kLayerNormFlopsPerElement * in.rows() * in.cols();
    parallelChunks(int(in.rows()), work, 8, [&](int begin, int end) {
        for (int r = begin; r < end; ++r) {
            const float mean = in.row(r).sum() * invD;
            const float var = (in.row(r).array() - mean).square().sum() * invD;
            const float rstd = 1.0f / std::sqrt(var + eps);
            out.row(r) = ((in.row(r).array() - mean) * rstd * gain.array() + bias.array()).matrix();
        }
    });
    f.other += work;
}

void rmsNorm(const NormWeights& w, float eps, Eigen::Ref<RowMatrix> out,
             const Eigen::Ref<const RowMatrix>& in, FlopBreakdown& f) {
    const float invD = 1.0f / float(in.cols());
    const ConstRowVector gain(w.gain, in.cols());
    const std::int64_t work = kRmsNormFlopsPerElement * in.rows() * in.cols();
    parallelChunks(int(in.rows()), work, 8, [&](int begin, int end) {
        for (int r = begin; r < end; ++r) {
            const float scale = 1.0f / std::sqrt(in.row(r).squaredNorm() * invD + eps);
            out.row(r) = (in.row(r).array() * scale * gain.array()).matrix();
        }
    });
    f.other += work;
}

}  // namespace kvscope
