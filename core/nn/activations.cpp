#include "nn/activations.h"

#include "util/parallel.h"

#include <cmath>
#include <numbers>

namespace kvscope {

void geluTanh(Eigen::Ref<RowMatrix> x, FlopBreakdown& f) {
    const int rows = int(x.rows());
    const std::int64_t work = kGeluFlopsPerElement * rows * x.cols();
    const float c = std::sqrt(2.0f / std::numbers::pi_v<float>);
    parallelChunks(rows, work, 4, [&](int begin, int end) {
        auto a = x.middleRows(begin, end - begin).array();
        a = 0.5f * a * (1.0f + (c * (a + 0.044715f * a.cube())).tanh());
    });
    f.other += work;
}

void swiGlu(Eigen::Ref<RowMatrix> gateUp, FlopBreakdown& f) {
    const int rows = int(gateUp.rows());
    const std::int64_t inner = gateUp.cols() / 2;
    const std::int64_t work = (kSiluFlopsPerElement + kGateFlopsPerElement) * rows * inner;
    parallelChunks(rows, work, 4, [&](int begin, int end) {
        auto block = gateUp.middleRows(begin, end - begin);
        auto gate = block.leftCols(inner).array();
        gate = gate / (1.0f + (-gate).exp()) * block.rightCols(inner).array();
    });
    f.other += work;
}

}  // namespace kvscope
