#pragma once
// Products of a batch of activation rows with weight rows kept in their stored ggml type (the
// quantized blocks of a GGUF file), for core/nn/linear's stored-weight path.
//
// Two ways, chosen process-wide (setQuantizedActivations):
//  - quantized activations (the default, as llama.cpp does it): each activation row is quantized
//    per block once (Q8_0 for Q4_0..Q8_0 weights, Q8_K for the K-quants; quantize_activation.h
//    says what that changes and bounds it), then every output is an integer dot per block. A
//    row's result does not depend on how many rows are in the batch, so a naive step and a
//    cached step compute the same numbers for the same row.
//  - float activations: each weight row is dequantized and dotted with the float activation,
//    exactly what a float64 reference over the dequantized weights computes up to float32
//    rounding (the fidelity tests use it).

#include "tensor/ggml_type.h"

#include <cstdint>
#include <span>

namespace kvscope {

void setQuantizedActivations(bool on);
bool quantizedActivations();

// The activation rows of one product in the form the weights' type takes (see above). Kept
// between calls and only ever grown, so a run of same-sized products does not allocate.
class PreparedActivations {
public:
    PreparedActivations() = default;
    PreparedActivations(const PreparedActivations&) = delete;
    PreparedActivations& operator=(const PreparedActivations&) = delete;
    ~PreparedActivations();

    // x: `rows` rows of `in` floats, row stride `stride`. Prepares what `types` need.
    void prepare(const float* x, int rows, int in, std::int64_t stride,
                 std::span<const GgmlType> types);
    // Dot of one stored weight row (`in` values of `type`) with activation row `r`.
    float dot(GgmlType type, const std::uint8_t* weightRow, int r) const {
        return kernel(type).dot(weightRow, r);
    }

    // The dot product for one weight type, chosen once for a whole block of rows.
    struct Kernel {
        float (*fn)(const std::uint8_t* row, const void* activation, int in, GgmlType type);
        const std::uint8_t* activations;  // row r's at activations + r * stride
        std::int64_t stride;
        int in;
        GgmlType type;
        float dot(const std::uint8_t* row, int r) const {
            return fn(row, activations + r * stride, in, type);
        }
    };
    Kernel kernel(GgmlType type) const;

private:
    const float* x_ = nullptr;
    int rows_ = 0, in_ = 0;
    std::int64_t stride_ = 0;
    bool quantized_ = true;
    std::uint8_t* q8_0_ = nullptr;  // (rows, in / 32) BlockQ8_0, when a type needs them
    std::uint8_t* q8_K_ = nullptr;  // (rows, in / 256) BlockQ8_K, when a type needs them
    std::uint8_t* storage_ = nullptr;
    std::size_t capacity_ = 0;
};

// Bytes of one stored row of `in` values of `type`.
std::int64_t storedRowBytes(GgmlType type, std::int64_t in);

}  // namespace kvscope
