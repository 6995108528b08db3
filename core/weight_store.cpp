#include "weight_store.h"

#include <QFile>
#include <QFileInfo>
#include <QStringList>

#include <cstring>

namespace kvscope {
namespace {

QString shapeText(const std::vector<std::int64_t>& shape) {
    QStringList parts;
    for (std::int64_t s : shape) parts << QString::number(s);
    return QLatin1Char('[') + parts.join(QStringLiteral(", ")) + QLatin1Char(']');
}

}  // namespace

WeightStore::WeightStore(SafetensorsFile table, const std::uint8_t* data)
    : table_(std::move(table)), data_(data) {}

WeightStore::~WeightStore() = default;

Result<std::shared_ptr<WeightStore>> WeightStore::open(const QString& path) {
    auto file = std::make_unique<QFile>(path);
    const QString name = QFileInfo(path).fileName();
    if (!file->open(QIODevice::ReadOnly))
        return Error{
            QStringLiteral("%1: cannot open for reading: %2").arg(path, file->errorString())};
    const qint64 size = file->size();
    if (size <= 0)
        return Error{
            QStringLiteral("%1: the file is empty (expected a safetensors header)").arg(name)};
    const uchar* bytes = file->map(0, size);
    if (!bytes)
        return Error{QStringLiteral("%1: cannot memory-map %2 bytes: %3")
                         .arg(path)
                         .arg(size)
                         .arg(file->errorString())};
    auto table = SafetensorsFile::parse(bytes, static_cast<std::uint64_t>(size), name);
    if (!table) return table.error();
    std::shared_ptr<WeightStore> store(new WeightStore(table.take(), bytes));
    store->file_ = std::move(file);
    return store;
}

Result<std::shared_ptr<WeightStore>> WeightStore::fromBytes(std::shared_ptr<const void> keepAlive,
                                                            const std::uint8_t* data,
                                                            std::uint64_t size,
                                                            const QString& name) {
    auto table = SafetensorsFile::parse(data, size, name);
    if (!table) return table.error();
    std::shared_ptr<WeightStore> store(new WeightStore(table.take(), data));
    store->keepAlive_ = std::move(keepAlive);
    return store;
}

const TensorInfo* WeightStore::lookup(const QString& name) const {
    if (const TensorInfo* t = table_.find(name)) return t;
    return table_.find(QStringLiteral("transformer.") + name);
}

bool WeightStore::has(const QString& name) const {
    return lookup(name) != nullptr;
}

const float* WeightStore::tensor(const QString& name, std::initializer_list<std::int64_t> shape,
                                 const QString& origin) {
    const TensorInfo* t = lookup(name);
    const std::vector<std::int64_t> expected(shape);
    if (!t)
        throw LoadError(QStringLiteral("%1: tensor \"%2\" is missing (expected shape %3 from %4; "
                                       "also looked for \"transformer.%2\")")
                            .arg(fileName(), name, shapeText(expected), origin));
    if (t->shape != expected)
        throw LoadError(
            QStringLiteral("%1: tensor \"%2\": expected shape %3 from %4, found %5")
                .arg(fileName(), t->name, shapeText(expected), origin, shapeText(t->shape)));
    const std::uint8_t* src = data_ + t->begin;
    const std::int64_t count = t->elementCount();
    const bool aligned = reinterpret_cast<std::uintptr_t>(src) % alignof(float) == 0;
    if (t->dtype == DType::F32 && aligned) {
        mappedBytes_ += count * 4;
        return reinterpret_cast<const float*>(src);
    }
    auto buffer = std::make_unique<float[]>(static_cast<std::size_t>(count));
    convertToFloat32(src, t->dtype, count, buffer.get());
    convertedBytes_ += count * 4;
    converted_.push_back(std::move(buffer));
    return converted_.back().get();
}

}  // namespace kvscope
