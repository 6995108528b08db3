#include "tensor/quant_matvec.h"

#include "tensor/dequantize.h"
#include "tensor/dot_reference.h"
#include "tensor/quant_dot_avx.h"
#include "tensor/quantize_activation.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>

namespace kvscope {
namespace {

std::atomic<bool> gQuantizedActivations{true};

std::int64_t q8_0Bytes(int in) {
    return std::int64_t(in / 32) * std::int64_t(sizeof(BlockQ8_0));
}
std::int64_t q8_KBytes(int in) {
    return std::int64_t(in / kQK_K) * std::int64_t(sizeof(BlockQ8_K));
}

// Sixteen independent partial sums, which the compiler keeps in vector lanes (a single running
// sum would be one dependent chain: float addition may not be reordered).
float dotLanes(const float* w, const float* x, int n) {
    float lanes[16] = {};
    int i = 0;
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < 16; ++k) lanes[k] += w[i + k] * x[i + k];
    float s = 0;
    for (float v : lanes) s += v;
    for (; i < n; ++i) s += w[i] * x[i];
    return s;
}

// Float activation against a stored row: dequantized 256 values at a time (a whole number of
// blocks of every type), then a float32 dot.
float floatDot(GgmlType type, const std::uint8_t* row, const float* x, int in) {
    if (type == GgmlType::F32) return dotLanes(reinterpret_cast<const float*>(row), x, in);
    const GgmlTypeTraits t = ggmlTypeTraits(type);
    alignas(64) std::array<float, kQK_K> w;  // (kQK_K)
    float s = 0;
    for (int start = 0; start < in; start += kQK_K) {
        const int count = std::min(kQK_K, in - start);
        dequantizeRow(type, row + std::int64_t(start) / t.blockSize * t.blockBytes, count,
                      w.data());
        s += dotLanes(w.data(), x + start, count);
    }
    return s;
}

}  // namespace

void setQuantizedActivations(bool on) {
    gQuantizedActivations.store(on);
}

bool quantizedActivations() {
    return gQuantizedActivations.load();
}

std::int64_t storedRowBytes(GgmlType type, std::int64_t in) {
    const GgmlTypeTraits t = ggmlTypeTraits(type);
    return in / t.blockSize * t.blockBytes;
}

PreparedActivations::~PreparedActivations() {
    std::free(storage_);
}

void PreparedActivations::prepare(const float* x, int rows, int in, std::int64_t stride,
                                  std::span<const GgmlType> types) {
    x_ = x;
    rows_ = rows;
    in_ = in;
    stride_ = stride;
    quantized_ = quantizedActivations();
    bool need0 = false, needK = false;
    for (GgmlType t : types) {
        const auto a = activationTypeFor(t);
        need0 |= a == GgmlType::Q8_0;
        needK |= a == GgmlType::Q8_K;
    }
    if (!quantized_ || (!need0 && !needK)) return;
    const std::size_t bytes0 = need0 ? std::size_t(rows) * std::size_t(q8_0Bytes(in)) : 0,
                      bytesK = needK ? std::size_t(rows) * std::size_t(q8_KBytes(in)) : 0;
    if (bytes0 + bytesK > capacity_) {
        std::free(storage_);
        capacity_ = (bytes0 + bytesK) * 2;
        storage_ = static_cast<std::uint8_t*>(std::aligned_alloc(64, (capacity_ + 63) / 64 * 64));
        if (!storage_) {
            capacity_ = 0;
            throw std::bad_alloc();
        }
    }
    q8_0_ = need0 ? storage_ : nullptr;
    q8_K_ = needK ? storage_ + bytes0 : nullptr;
    for (int r = 0; r < rows; ++r) {
        const float* row = x + r * stride;
        if (q8_0_)
            quantizeRowQ8_0(row, in, reinterpret_cast<BlockQ8_0*>(q8_0_ + r * q8_0Bytes(in)));
        if (q8_K_)
            quantizeRowQ8_K(row, in, reinterpret_cast<BlockQ8_K*>(q8_K_ + r * q8_KBytes(in)));
    }
}

namespace {

// The row kernels behind PreparedActivations::Kernel: one signature, the activation row as the
// type the weight type takes (float, Q8_0 blocks or Q8_K blocks).
float floatKernel(const std::uint8_t* w, const void* x, int in, GgmlType type) {
    return floatDot(type, w, static_cast<const float*>(x), in);
}
float q8_0Fast(const std::uint8_t* w, const void* x, int in, GgmlType) {
    return dotQ8_0Q8_0(w, static_cast<const BlockQ8_0*>(x), in);
}
float q8_0Reference(const std::uint8_t* w, const void* x, int in, GgmlType type) {
    return float(*dotQ8_0Reference(type, w, static_cast<const BlockQ8_0*>(x), in));
}
float q4_KFast(const std::uint8_t* w, const void* x, int in, GgmlType) {
    return dotQ4_KQ8_K(w, static_cast<const BlockQ8_K*>(x), in);
}
float q6_KFast(const std::uint8_t* w, const void* x, int in, GgmlType) {
    return dotQ6_KQ8_K(w, static_cast<const BlockQ8_K*>(x), in);
}
float q8_KReference(const std::uint8_t* w, const void* x, int in, GgmlType type) {
    return float(*dotQ8_KReference(type, w, static_cast<const BlockQ8_K*>(x), in));
}

}  // namespace

PreparedActivations::Kernel PreparedActivations::kernel(GgmlType type) const {
    const auto act = activationTypeFor(type);
    if (!quantized_ || !act)
        return {&floatKernel, reinterpret_cast<const std::uint8_t*>(x_),
                stride_ * std::int64_t(sizeof(float)), in_, type};
    if (*act == GgmlType::Q8_0)
        return {type == GgmlType::Q8_0 ? &q8_0Fast : &q8_0Reference, q8_0_, q8_0Bytes(in_), in_,
                type};
    return {type == GgmlType::Q4_K   ? &q4_KFast
            : type == GgmlType::Q6_K ? &q6_KFast
                                     : &q8_KReference,
            q8_K_, q8_KBytes(in_), in_, type};
}

}  // namespace kvscope
