#pragma once
// y = x W^T + b over the rows of x, with W stored (out, in) row-major as nn.Linear keeps it, so
// that a decode step's matrix-vector product streams W once, row after row.

#include "tensor/ggml_type.h"

#include <Eigen/Core>

#include <cstdint>
#include <memory>
#include <vector>

namespace kvscope {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Rows of a weight matrix kept in the type they were stored in (a GGUF file's quantized blocks):
// `rows` rows of `in` values, row-major, each row in / blockSize blocks.
struct StoredRows {
    GgmlType type = GgmlType::F32;
    const std::uint8_t* data = nullptr;
    int rows = 0;
};

struct Linear {
    Linear() = default;
    Linear(const float* w, const float* b, int rows, int cols)
        : weight(w), bias(b), out(rows), in(cols) {}

    const float* weight = nullptr;  // (out, in) row-major, for float32 weights
    const float* bias = nullptr;    // (out), or null
    int out = 0, in = 0;
    // Weights kept in their stored types instead (weight is then null): parts stacked by rows,
    // their rows summing to `out`. Q, K and V of a Q4_K_M file, say, are Q4_K, Q4_K and Q6_K.
    std::vector<StoredRows> stored;

    // Bytes of weights one product reads: every row once, at its stored size.
    std::int64_t weightBytes() const;
};

// One row of x: a matrix-vector product whose rows of W are split over the compute threads.
// Several rows: Eigen's matrix-matrix products on blocks of W's rows, over the same threads. Stored
// (quantized) weights: see tensor/quant_matvec.h for how the activations are treated.
void applyLinear(const Linear& l, const Eigen::Ref<const RowMatrix>& x, Eigen::Ref<RowMatrix> y);

// y[begin, end) = W[begin, end) x on the calling thread, for float32 W (out, in) row-major: the
// kernel of every float32 decode product, which the bandwidth probe also times on its own.
void gemvRowsF32(const float* w, const float* x, int in, int begin, int end, float* y);

// Row `r` of a table kept as a Linear (an embedding, which a tied classifier shares) as float32:
// (in) floats to dst.
void linearRow(const Linear& l, int r, float* dst);

// Float buffers aligned to a cache line, so the rows of a weight matrix start on one.
struct FreeDeleter {
    void operator()(float* p) const;
};
using AlignedFloats = std::unique_ptr<float[], FreeDeleter>;
AlignedFloats allocateAligned(std::int64_t count);

}  // namespace kvscope
