#pragma once
// y = x W^T + b over the rows of x, with W stored (out, in) row-major as nn.Linear keeps it, so
// that a decode step's matrix-vector product streams W once, row after row.

#include <Eigen/Core>

#include <cstdint>
#include <memory>

namespace kvscope {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

struct Linear {
    const float* weight = nullptr;  // (out, in) row-major
    const float* bias = nullptr;    // (out), or null
    int out = 0, in = 0;
};

// One row of x: a matrix-vector product whose rows of W are split over the compute threads.
// Several rows: a matrix-matrix product through Eigen, which uses the same threads.
void applyLinear(const Linear& l, const Eigen::Ref<const RowMatrix>& x, Eigen::Ref<RowMatrix> y);

// Float buffers aligned to a cache line, so the rows of a weight matrix start on one.
struct FreeDeleter {
    void operator()(float* p) const;
};
using AlignedFloats = std::unique_ptr<float[], FreeDeleter>;
AlignedFloats allocateAligned(std::int64_t count);

}  // namespace kvscope
