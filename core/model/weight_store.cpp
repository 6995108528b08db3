#include "model/weight_store.h"

#include "tensor/dequantize.h"

#include <QFile>
#include <QFileInfo>
#include <QStringList>

#include <algorithm>
#include <bit>
#include <cstring>

namespace kvscope {
namespace {

// Tensors are converted in chunks of this many raw bytes, so a 150 MB embedding costs no 150 MB
// temporary on top of its float32 copy.
constexpr std::uint64_t kChunkBytes = 4 << 20;

QString shapeText(const std::vector<std::int64_t>& shape) {
    QStringList parts;
    for (std::int64_t s : shape) parts << QString::number(s);
    return QLatin1Char('[') + parts.join(QStringLiteral(", ")) + QLatin1Char(']');
}

}  // namespace

WeightStore::WeightStore(QString fileName, std::vector<TensorInfo> tensors)
    : fileName_(std::move(fileName)), tensors_(std::move(tensors)) {
    for (std::size_t i = 0; i < tensors_.size(); ++i) index_.insert(tensors_[i].name, i);
}

std::unique_ptr<WeightStore> WeightStore::overFile(std::unique_ptr<QFile> file, const QString& name,
                                                   std::vector<TensorInfo> tensors) {
    std::unique_ptr<WeightStore> store(new WeightStore(name, std::move(tensors)));
    store->files_.push_back(std::move(file));
    return store;
}

std::unique_ptr<WeightStore> WeightStore::overFiles(std::vector<std::unique_ptr<QFile>> files,
                                                    const QString& name,
                                                    std::vector<TensorInfo> tensors) {
    std::unique_ptr<WeightStore> store(new WeightStore(name, std::move(tensors)));
    store->files_ = std::move(files);
    return store;
}

WeightStore::~WeightStore() = default;

Result<std::unique_ptr<WeightStore>> WeightStore::open(const QString& path) {
    auto file = std::make_unique<QFile>(path);
    const QString name = QFileInfo(path).fileName();
    if (!file->open(QIODevice::ReadOnly))
        return Error{
            QStringLiteral("%1: cannot open for reading: %2").arg(path, file->errorString())};
    const qint64 size = file->size();
    if (size <= 0)
        return Error{
            QStringLiteral("%1: the file is empty (expected a safetensors header)").arg(name)};
    // Only the header is read now; the tensors are read one by one as the model copies them.
    QByteArray head = file->read(8);
    if (head.size() == 8) {
        const std::uint64_t need = SafetensorsFile::headerBytesNeeded(
            reinterpret_cast<const std::uint8_t*>(head.constData()), std::uint64_t(size));
        head += file->read(qint64(need) - 8);
    }
    auto table =
        SafetensorsFile::parseHeader(reinterpret_cast<const std::uint8_t*>(head.data()),
                                     std::uint64_t(head.size()), std::uint64_t(size), name);
    if (!table) return table.error();
    return overFile(std::move(file), name, table.value().tensors());
}

Result<std::unique_ptr<WeightStore>> WeightStore::fromBytes(const std::uint8_t* data,
                                                            std::uint64_t size,
                                                            const QString& name) {
    auto table = SafetensorsFile::parse(data, size, name);
    if (!table) return table.error();
    std::unique_ptr<WeightStore> store(new WeightStore(name, table.value().tensors()));
    store->memory_ = data;
    return store;
}

const TensorInfo* WeightStore::lookup(const QString& name) const {
    for (const QString& n : {name, QStringLiteral("transformer.") + name}) {
        const auto it = index_.constFind(n);
        if (it != index_.constEnd()) return &tensors_[*it];
    }
    return nullptr;
}

bool WeightStore::has(const QString& name) const {
    return lookup(name) != nullptr;
}

const TensorInfo& WeightStore::find(const QString& name, std::initializer_list<std::int64_t> shape,
                                    const QString& origin) const {
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
    return *t;
}

void WeightStore::readRaw(const TensorInfo& t, std::uint64_t offset, std::uint64_t size,
                          std::uint8_t* dst) {
    if (memory_) {
        std::memcpy(dst, memory_ + offset, size);
        return;
    }
    QFile* file = files_.at(std::size_t(t.file)).get();
    if (!file->seek(qint64(offset)) ||
        file->read(reinterpret_cast<char*>(dst), qint64(size)) != qint64(size))
        throw LoadError(QStringLiteral("%1: cannot read %2 bytes at offset %3 (the file changed "
                                       "or got shorter while loading?): %4")
                            .arg(fileName())
                            .arg(size)
                            .arg(offset)
                            .arg(file->errorString()));
}

GgmlType WeightStore::storedType(const TensorInfo& t) {
    if (t.ggml) return *t.ggml;
    switch (t.dtype) {
        case DType::F16:
            return GgmlType::F16;
        case DType::BF16:
            return GgmlType::BF16;
        case DType::F32:
            break;
    }
    return GgmlType::F32;
}

void WeightStore::count(const TensorInfo& t) {
    const GgmlType type = storedType(t);
    auto it = std::find_if(shares_.begin(), shares_.end(),
                           [&](const WeightTypeShare& s) { return s.type == type; });
    if (it == shares_.end()) it = shares_.insert(shares_.end(), WeightTypeShare{type, 0, 0});
    it->parameters += t.elementCount();
    it->fileBytes += std::int64_t(t.end - t.begin);
}

std::vector<WeightTypeShare> WeightStore::typeShares() const {
    std::vector<WeightTypeShare> out = shares_;
    std::sort(out.begin(), out.end(), [](const WeightTypeShare& a, const WeightTypeShare& b) {
        return a.parameters > b.parameters;
    });
    return out;
}

void WeightStore::readStored(const TensorInfo& t, std::uint8_t* dst) {
    count(t);
    readRaw(t, t.begin, t.end - t.begin, dst);
    storedBytes_ += std::int64_t(t.end - t.begin);
}

// A GGUF tensor to float32: whole rows at a time through the type's dequantizer.
void WeightStore::readGgml(const TensorInfo& t, float* dst) {
    const GgmlType type = *t.ggml;
    const std::int64_t rowLength = t.shape.empty() ? 1 : t.shape.back();
    const std::int64_t rows = t.elementCount() / rowLength;
    const std::int64_t rowBytes = std::int64_t(t.end - t.begin) / std::max<std::int64_t>(1, rows);
    const std::int64_t perChunk = std::max<std::int64_t>(1, std::int64_t(kChunkBytes) / rowBytes);
    chunk_.resize(std::size_t(std::min(rows, perChunk) * rowBytes));
    for (std::int64_t done = 0; done < rows; done += perChunk) {
        const std::int64_t n = std::min(perChunk, rows - done);
        readRaw(t, t.begin + std::uint64_t(done * rowBytes), std::uint64_t(n * rowBytes),
                chunk_.data());
        for (std::int64_t r = 0; r < n; ++r)
            dequantizeRow(type, chunk_.data() + r * rowBytes, rowLength,
                          dst + (done + r) * rowLength);
    }
    (type == GgmlType::F32 ? readBytes_ : convertedBytes_) += t.elementCount() * 4;
}

void WeightStore::read(const TensorInfo& t, float* dst) {
    count(t);
    if (t.ggml) {
        readGgml(t, dst);
        return;
    }
    const std::uint64_t elementSize = dtypeSize(t.dtype);
    if (t.dtype == DType::F32 && std::endian::native == std::endian::little) {
        readRaw(t, t.begin, t.end - t.begin, reinterpret_cast<std::uint8_t*>(dst));
        readBytes_ += std::int64_t(t.end - t.begin);
        return;
    }
    const std::uint64_t perChunk = kChunkBytes / elementSize;
    const auto count = std::uint64_t(t.elementCount());
    chunk_.resize(std::min(count, perChunk) * elementSize);
    for (std::uint64_t done = 0; done < count; done += perChunk) {
        const std::uint64_t n = std::min(perChunk, count - done);
        readRaw(t, t.begin + done * elementSize, n * elementSize, chunk_.data());
        convertToFloat32(chunk_.data(), t.dtype, std::int64_t(n), dst + done);
    }
    (t.dtype == DType::F32 ? readBytes_ : convertedBytes_) += std::int64_t(count * 4);
}

}  // namespace kvscope
