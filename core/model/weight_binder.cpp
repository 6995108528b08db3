#include "model/weight_binder.h"

#include <new>

namespace kvscope {

WeightBinder::WeightBinder(WeightStore& store, OwnedWeights& owned, QString origin)
    : store_(store), owned_(owned), origin_(std::move(origin)) {}

float* WeightBinder::allocate(std::int64_t count, const QString& name) {
    try {
        owned_.buffers.push_back(allocateAligned(count));
    } catch (const std::bad_alloc&) {
        throw LoadError(QStringLiteral("%1: out of memory for tensor \"%2\" (%3 bytes)")
                            .arg(store_.fileName(), name)
                            .arg(count * 4));
    }
    owned_.parameters += count;
    return owned_.buffers.back().get();
}

const float* WeightBinder::copy(const QString& name, std::initializer_list<std::int64_t> shape) {
    const TensorInfo& t = store_.find(name, shape, origin_);
    float* dst = allocate(t.elementCount(), name);
    store_.read(t, dst);
    return dst;
}

const float* WeightBinder::transposed(const QString& name, std::int64_t rows, std::int64_t cols) {
    const TensorInfo& t = store_.find(name, {rows, cols}, origin_);
    scratch_.resize(std::size_t(t.elementCount()));
    store_.read(t, scratch_.data());
    float* dst = allocate(t.elementCount(), name);
    Eigen::Map<RowMatrix>(dst, cols, rows) =
        Eigen::Map<const RowMatrix>(scratch_.data(), rows, cols).transpose();
    return dst;
}

const float* WeightBinder::stacked(std::initializer_list<std::pair<QString, std::int64_t>> parts,
                                   std::int64_t cols) {
    std::int64_t rows = 0;
    for (const auto& [name, r] : parts) {
        store_.find(name, {r, cols}, origin_);  // every shape checked before anything is copied
        rows += r;
    }
    float* dst = allocate(rows * cols, parts.begin()->first);
    std::int64_t row = 0;
    for (const auto& [name, r] : parts) {
        store_.read(store_.find(name, {r, cols}, origin_), dst + row * cols);
        row += r;
    }
    return dst;
}

const float* WeightBinder::concatenated(
    std::initializer_list<std::pair<QString, std::int64_t>> parts) {
    std::int64_t total = 0;
    for (const auto& [name, r] : parts) total += store_.find(name, {r}, origin_).elementCount();
    float* dst = allocate(total, parts.begin()->first);
    std::int64_t at = 0;
    for (const auto& [name, r] : parts) {
        store_.read(store_.find(name, {r}, origin_), dst + at);
        at += r;
    }
    return dst;
}

bool WeightBinder::quantized(const QString& name) const {
    const TensorInfo* t = store_.info(name);
    if (!t) return false;
    const GgmlType type = WeightStore::storedType(*t);
    return type != GgmlType::F32 && type != GgmlType::F16 && type != GgmlType::BF16;
}

// The tensor's bytes as stored, in a buffer of the model's (whole floats, 64-byte aligned).
StoredRows WeightBinder::storedRows(const QString& name, std::int64_t rows, std::int64_t cols) {
    const TensorInfo& t = store_.find(name, {rows, cols}, origin_);
    const std::uint64_t bytes = t.end - t.begin;
    float* dst = allocate(std::int64_t((bytes + 3) / 4), name);
    owned_.parameters += rows * cols - std::int64_t((bytes + 3) / 4);  // count values, not words
    store_.readStored(t, reinterpret_cast<std::uint8_t*>(dst));
    return StoredRows{WeightStore::storedType(t), reinterpret_cast<const std::uint8_t*>(dst),
                      int(rows)};
}

Linear WeightBinder::linear(const QString& name, int rows, int cols) {
    if (!quantized(name)) return Linear{copy(name, {rows, cols}), nullptr, rows, cols};
    Linear l{nullptr, nullptr, rows, cols};
    l.stored.push_back(storedRows(name, rows, cols));
    return l;
}

Linear WeightBinder::stackedLinear(std::initializer_list<std::pair<QString, std::int64_t>> parts,
                                   std::int64_t cols) {
    bool anyQuantized = false;
    std::int64_t rows = 0;
    for (const auto& [name, r] : parts) {
        store_.find(name, {r, cols}, origin_);  // every shape checked before anything is copied
        anyQuantized |= quantized(name);
        rows += r;
    }
    if (!anyQuantized) return Linear{stacked(parts, cols), nullptr, int(rows), int(cols)};
    Linear l{nullptr, nullptr, int(rows), int(cols)};
    for (const auto& [name, r] : parts) {
        if (quantized(name)) {
            l.stored.push_back(storedRows(name, r, cols));
        } else {  // a float part beside quantized ones: float32 rows, computed as such
            l.stored.push_back(
                StoredRows{GgmlType::F32,
                           reinterpret_cast<const std::uint8_t*>(copy(name, {r, cols})), int(r)});
        }
    }
    return l;
}

}  // namespace kvscope
