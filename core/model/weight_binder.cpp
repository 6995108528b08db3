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

}  // namespace kvscope
