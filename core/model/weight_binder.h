#pragma once
// Copies an architecture's tensors out of a WeightStore into buffers the model owns, checking
// each shape, counting parameters. The architectures (core/arch) bind their weights through it.

#include "model/weight_store.h"
#include "nn/linear.h"

#include <QString>

#include <initializer_list>
#include <utility>
#include <vector>

namespace kvscope {

struct OwnedWeights {
    std::vector<AlignedFloats> buffers;
    std::int64_t parameters = 0;
};

class WeightBinder {
public:
    // `origin` says where the expected shapes come from, for error messages, e.g.
    // "config.json (n_embd=64, ...)".
    WeightBinder(WeightStore& store, OwnedWeights& owned, QString origin);

    bool has(const QString& name) const { return store_.has(name); }
    // A tensor copied as it is stored, `shape` elements.
    const float* copy(const QString& name, std::initializer_list<std::int64_t> shape);
    // A (rows, cols) matrix stored row-major, returned transposed: (cols, rows).
    const float* transposed(const QString& name, std::int64_t rows, std::int64_t cols);
    // Matrices (rows_i, cols) stacked into one (sum of rows_i, cols), so that products sharing
    // an input (Q, K and V; SwiGLU's gate and up) are one product.
    const float* stacked(std::initializer_list<std::pair<QString, std::int64_t>> parts,
                         std::int64_t cols);

    // Vectors (rows_i) one after another, as the biases of stacked products.
    const float* concatenated(std::initializer_list<std::pair<QString, std::int64_t>> parts);

    // A (rows, cols) weight matrix for products: float types become float32; quantized types
    // are kept as stored (their bytes copied into the model's memory, not dequantized).
    Linear linear(const QString& name, int rows, int cols);
    // Matrices (rows_i, cols) stacked into one product, as stacked(); kept as stored parts when
    // any of them is quantized (the parts may then differ in type, as in a Q4_K_M file).
    Linear stackedLinear(std::initializer_list<std::pair<QString, std::int64_t>> parts,
                         std::int64_t cols);

private:
    float* allocate(std::int64_t count, const QString& name);
    bool quantized(const QString& name) const;
    StoredRows storedRows(const QString& name, std::int64_t rows, std::int64_t cols);

    WeightStore& store_;
    OwnedWeights& owned_;
    QString origin_;
    std::vector<float> scratch_;
};

}  // namespace kvscope
