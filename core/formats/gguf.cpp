#include "formats/gguf.h"

#include "formats/sniff.h"

#include <QIODevice>
#include <QLocale>
#include <QStringList>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

namespace kvscope {

namespace gguf_detail {

bool isInteger(GgufType type) {
    switch (type) {
        case GgufType::UInt8:
        case GgufType::Int8:
        case GgufType::UInt16:
        case GgufType::Int16:
        case GgufType::UInt32:
        case GgufType::Int32:
        case GgufType::UInt64:
        case GgufType::Int64:
            return true;
        default:
            return false;
    }
}

bool isSigned(GgufType type) {
    return type == GgufType::Int8 || type == GgufType::Int16 || type == GgufType::Int32 ||
           type == GgufType::Int64;
}

int scalarBytes(GgufType type) {
    switch (type) {
        case GgufType::UInt8:
        case GgufType::Int8:
        case GgufType::Bool:
            return 1;
        case GgufType::UInt16:
        case GgufType::Int16:
            return 2;
        case GgufType::UInt32:
        case GgufType::Int32:
        case GgufType::Float32:
            return 4;
        case GgufType::UInt64:
        case GgufType::Int64:
        case GgufType::Float64:
            return 8;
        case GgufType::String:
        case GgufType::Array:
            break;
    }
    return 0;
}

std::uint64_t loadLittleEndian(const std::uint8_t* p, int bytes) {
    std::uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

}  // namespace gguf_detail

namespace {

using gguf_detail::isInteger;
using gguf_detail::loadLittleEndian;
using gguf_detail::scalarBytes;

constexpr std::uint32_t kLastType = static_cast<std::uint32_t>(GgufType::Float64);
constexpr std::uint64_t kU64Max = std::numeric_limits<std::uint64_t>::max();
constexpr std::uint64_t kI64Max = std::numeric_limits<std::int64_t>::max();
// The smallest encodings: an empty key, the type and a one-byte value; an empty name, n_dims,
// one dimension, the type and the offset; an empty array (element type and length).
constexpr std::uint64_t kMinKeyValueBytes = 8 + 4 + 1;
constexpr std::uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;
constexpr std::uint64_t kMinArrayBytes = 4 + 8;
// The first read of readHeader(): enough for most headers without a vocabulary.
constexpr std::uint64_t kFirstReadBytes = 1u << 20;

// The header continues past the bytes in memory (but not past the file).
struct NeedMoreBytes {
    std::uint64_t prefix;
};

// A value's encoded size is at least this, so `count` elements need count * this bytes.
std::uint64_t minEncodedBytes(GgufType type) {
    if (type == GgufType::String) return 8;
    if (type == GgufType::Array) return kMinArrayBytes;
    return static_cast<std::uint64_t>(scalarBytes(type));
}

// Found text is echoed into messages; a hostile file could hold megabytes in one string.
QString clipped(const QString& s) {
    constexpr qsizetype kMax = 80;
    return s.size() <= kMax ? s : s.left(kMax) + QStringLiteral("...");
}

QString quoted(const QString& s) {
    return QLatin1Char('"') + clipped(s) + QLatin1Char('"');
}

QString dimsText(const std::vector<std::uint64_t>& dims) {
    QStringList parts;
    for (std::uint64_t d : dims) parts << QString::number(d);
    return QLatin1Char('[') + parts.join(QStringLiteral(", ")) + QLatin1Char(']');
}

QString supportedTypeNames() {
    QStringList names;
    for (std::uint32_t id = 0; id < 64; ++id)
        if (const auto t = ggmlTypeTraits(id); t && t->supported)
            names << QString::fromLatin1(t->name.data(), qsizetype(t->name.size()));
    return names.join(QStringLiteral(", "));
}

QString scalarText(GgufType type, std::uint64_t bits) {
    switch (type) {
        case GgufType::Float32:
            return QString::number(std::bit_cast<float>(static_cast<std::uint32_t>(bits)), 'g', 9);
        case GgufType::Float64:
            return QString::number(std::bit_cast<double>(bits), 'g',
                                   QLocale::FloatingPointShortest);
        case GgufType::Bool:
            return bits ? QStringLiteral("true") : QStringLiteral("false");
        default:
            break;
    }
    if (gguf_detail::isSigned(type))
        return QString::number(*gguf_detail::fitInteger<std::int64_t>(type, bits));
    return QString::number(bits);
}

std::optional<double> realFromBits(GgufType type, std::uint64_t bits) {
    if (type == GgufType::Float32)
        return double(std::bit_cast<float>(static_cast<std::uint32_t>(bits)));
    if (type == GgufType::Float64) return std::bit_cast<double>(bits);
    return std::nullopt;
}

}  // namespace

QString ggufTypeName(GgufType type) {
    static const char* const kNames[] = {"UINT8",  "INT8",    "UINT16", "INT16",  "UINT32",
                                         "INT32",  "FLOAT32", "BOOL",   "STRING", "ARRAY",
                                         "UINT64", "INT64",   "FLOAT64"};
    const auto id = static_cast<std::uint32_t>(type);
    return id <= kLastType ? QString::fromLatin1(kNames[id]) : QStringLiteral("type %1").arg(id);
}

std::string_view GgufStringArray::at(std::size_t i) const {
    const std::uint64_t begin = i == 0 ? 0 : data_->ends[i - 1];
    return std::string_view(data_->blob).substr(begin, data_->ends[i] - begin);
}

std::optional<double> GgufValue::real() const {
    return realFromBits(type_, bits_);
}

std::optional<double> GgufValue::realAt(std::uint64_t i) const {
    if (!isArray() || i >= count_) return std::nullopt;
    const int width = scalarBytes(elementType_);
    if (elementType_ != GgufType::Float32 && elementType_ != GgufType::Float64) return std::nullopt;
    return realFromBits(elementType_, loadLittleEndian(raw_.data() + i * width, width));
}

std::optional<bool> GgufValue::boolean() const {
    if (type_ != GgufType::Bool) return std::nullopt;
    return bits_ != 0;
}

QString GgufValue::describe() const {
    const QString name = ggufTypeName(type_);
    if (type_ == GgufType::String)
        return name + QLatin1Char(' ') +
               quoted(QString::fromUtf8(QByteArrayView(string_.data(), qsizetype(string_.size()))));
    if (type_ == GgufType::Array)
        return QStringLiteral("ARRAY of %1 %2").arg(count_).arg(ggufTypeName(elementType_));
    return name + QLatin1Char(' ') + scalarText(type_, bits_);
}

std::int64_t GgufTensor::elementCount() const {
    std::int64_t n = 1;
    for (std::int64_t d : dims) n *= d;  // parse() checked the product fits
    return n;
}

std::int64_t GgufTensor::rowCount() const {
    std::int64_t n = 1;
    for (std::size_t i = 1; i < dims.size(); ++i) n *= dims[i];
    return n;
}

// One pass over the header. Reads go through take(), which tells a file that ends too early
// (an error) from a header that continues past the bytes in memory (NeedMoreBytes).
class GgufParser {
public:
    GgufParser(const std::uint8_t* bytes, std::uint64_t available, std::uint64_t size,
               const QString& fileName)
        : bytes_(bytes),
          available_(std::min(available, size)),
          size_(size),
          limit_(std::min(size, GgufFile::kMaxHeaderBytes)),
          fileName_(fileName) {}

    GgufFile run() {
        GgufFile file;
        file.fileName_ = fileName_;
        file.version_ = readPreamble();
        const std::uint64_t tensorCount = u64(QStringLiteral("tensor_count"));
        const std::uint64_t kvCount = u64(QStringLiteral("metadata_kv_count"));
        checkCount(kvCount, kMinKeyValueBytes, QStringLiteral("metadata_kv_count"),
                   QStringLiteral("key-value pair"));
        checkCount(tensorCount, kMinTensorInfoBytes, QStringLiteral("tensor_count"),
                   QStringLiteral("tensor info"));
        for (std::uint64_t i = 0; i < kvCount; ++i) readKeyValue(file, i);
        file.alignment_ = alignment(file);
        for (std::uint64_t i = 0; i < tensorCount; ++i) readTensorInfo(file, i);
        file.dataOffset_ = alignedEnd(file.alignment_);
        placeTensors(file);
        return file;
    }

private:
    [[noreturn]] void fail(const QString& message) const {
        throw LoadError(fileName_ + QStringLiteral(": ") + message);
    }

    // `what` is built only when the read fails, so the hot loops stay cheap.
    template <typename What>
    const std::uint8_t* take(std::uint64_t n, What what) {
        if (n > size_ - pos_)
            fail(QStringLiteral("truncated: %4 at byte %1 takes %2 bytes, but the file ends %3 "
                                "bytes later")
                     .arg(pos_)
                     .arg(n)
                     .arg(size_ - pos_)
                     .arg(what()));
        if (n > limit_ - pos_) failHeaderLimit(what());
        if (n > available_ - pos_) throw NeedMoreBytes{pos_ + n};
        const std::uint8_t* p = bytes_ + pos_;
        pos_ += n;
        return p;
    }

    [[noreturn]] void failHeaderLimit(const QString& what) const {
        fail(QStringLiteral("%3 at byte %1 lies beyond %2 bytes of metadata and tensor infos, "
                            "kvscope's limit for a GGUF header (real ones are a few MB)")
                 .arg(pos_)
                 .arg(GgufFile::kMaxHeaderBytes)
                 .arg(what));
    }

    std::uint32_t u32(const QString& what) {
        return static_cast<std::uint32_t>(loadLittleEndian(take(4, [&] { return what; }), 4));
    }
    std::uint64_t u64(const QString& what) {
        return loadLittleEndian(take(8, [&] { return what; }), 8);
    }

    std::uint32_t readPreamble() {
        // The message for a wrong magic quotes the first 8 bytes: have them all, so a prefix
        // gives the same message as the whole file.
        const std::uint64_t lead = std::min<std::uint64_t>(size_, 8);
        if (available_ < lead) throw NeedMoreBytes{lead};
        // Compared over what is there, so a file cut inside the magic reads as truncated below.
        if (lead > 0 && std::memcmp(bytes_, "GGUF", std::min<std::uint64_t>(lead, 4)) != 0)
            fail(QStringLiteral("not a GGUF file: expected the magic \"GGUF\" (47 47 55 46), "
                                "found %1")
                     .arg(describeLeadingBytes(bytes_, lead)));
        take(4, [] { return QStringLiteral("the magic"); });
        const std::uint32_t version = u32(QStringLiteral("the version"));
        if (version == 1)
            fail(
                QStringLiteral("GGUF version 1 is not supported (it stored counts and lengths in "
                               "32 bits); kvscope reads versions 2 and 3, which llama.cpp has "
                               "written since 2023: convert the model again"));
        // A big-endian writer stores the version byte-swapped: 3 reads as 0x03000000 here.
        const std::uint32_t swapped = (version >> 24) | ((version >> 8) & 0xFF00u) |
                                      ((version << 8) & 0xFF0000u) | (version << 24);
        if ((version & 0xFFFFu) == 0 && swapped >= 1 && swapped <= 3)
            fail(QStringLiteral("a big-endian GGUF (the version field reads 0x%1, version %2 "
                                "byte-swapped); kvscope reads little-endian files only")
                     .arg(version, 8, 16, QLatin1Char('0'))
                     .arg(swapped));
        if (version != 2 && version != 3)
            fail(QStringLiteral("GGUF version %1 is not supported; kvscope reads versions 2 and 3")
                     .arg(version));
        return version;
    }

    // Before anything is sized by `count`: each item takes at least `minBytes`.
    void checkCount(std::uint64_t count, std::uint64_t minBytes, const QString& field,
                    const QString& item) const {
        if (count > (size_ - pos_) / minBytes)
            fail(QStringLiteral("%1 is %2, but each %3 takes at least %4 bytes and only %5 bytes "
                                "follow the %6-byte header")
                     .arg(field)
                     .arg(count)
                     .arg(item)
                     .arg(minBytes)
                     .arg(size_ - pos_)
                     .arg(pos_));
    }

    // Where a value sits, for messages: a key and, inside an array, an element.
    struct Where {
        const QString& key;
        std::uint64_t element = 0;
        bool inArray = false;
        QString text() const {
            const QString k = QStringLiteral("metadata key ") + quoted(key);
            return inArray ? QStringLiteral("element %1 of %2").arg(element).arg(k) : k;
        }
    };

    // A u64 length and that many bytes, checked against the file before they are read.
    template <typename What>
    std::string_view readString(std::uint64_t maxBytes, What what) {
        const std::uint64_t at = pos_;
        const std::uint64_t n =
            loadLittleEndian(take(8, [&] { return QStringLiteral("the length of ") + what(); }), 8);
        if (n > size_ - pos_)
            fail(QStringLiteral("%4: string length %1 at byte %2 runs past the end of the file "
                                "(%3 bytes left)")
                     .arg(n)
                     .arg(at)
                     .arg(size_ - pos_)
                     .arg(what()));
        if (n > maxBytes)
            fail(QStringLiteral("%4: string length %1 at byte %2 exceeds the format's limit of %3 "
                                "bytes")
                     .arg(n)
                     .arg(at)
                     .arg(maxBytes)
                     .arg(what()));
        const auto* p = take(n, what);
        return {reinterpret_cast<const char*>(p), static_cast<std::size_t>(n)};
    }

    GgufType readType(const Where& where, bool element) {
        const std::uint64_t at = pos_;
        const std::uint32_t id = static_cast<std::uint32_t>(loadLittleEndian(
            take(4, [&] { return QStringLiteral("the value type of ") + where.text(); }), 4));
        if (id > kLastType)
            fail(QStringLiteral("%4: %5 type %1 at byte %2 does not exist (expected 0 to %3: "
                                "UINT8 to FLOAT64)")
                     .arg(id)
                     .arg(at)
                     .arg(kLastType)
                     .arg(where.text(),
                          element ? QStringLiteral("array element") : QStringLiteral("value")));
        return static_cast<GgufType>(id);
    }

    void readKeyValue(GgufFile& file, std::uint64_t index) {
        const std::string_view raw = readString(GgufFile::kMaxKeyBytes, [&] {
            return QStringLiteral("the key of metadata pair %1").arg(index);
        });
        GgufKeyValue kv{QString::fromUtf8(QByteArrayView(raw.data(), qsizetype(raw.size()))), {}};
        if (file.keyIndex_.contains(kv.key))
            fail(QStringLiteral("metadata key %3 appears twice (pairs %1 and %2); readers disagree "
                                "on which one wins, so the file is ambiguous")
                     .arg(file.keyIndex_.value(kv.key))
                     .arg(index)
                     .arg(quoted(kv.key)));
        const Where where{kv.key};
        kv.value = readValue(readType(where, false), 1, where);
        file.keyIndex_.insert(kv.key, file.metadata_.size());
        file.metadata_.push_back(std::move(kv));
    }

    // `depth` counts arrays: a scalar at the top is 1, an array's elements are one deeper.
    GgufValue readValue(GgufType type, int depth, const Where& where) {
        GgufValue v;
        v.type_ = type;
        if (type == GgufType::String) {
            v.string_ = std::string(readString(kU64Max, [&] { return where.text(); }));
        } else if (type == GgufType::Array) {
            readArray(v, depth, where);
        } else {
            const int width = scalarBytes(type);
            const std::uint64_t at = pos_;
            v.bits_ = loadLittleEndian(take(width, [&] { return where.text(); }), width);
            if (type == GgufType::Bool && v.bits_ > 1)
                fail(QStringLiteral("%3: BOOL value %1 at byte %2; expected 0 or 1")
                         .arg(v.bits_)
                         .arg(at)
                         .arg(where.text()));
        }
        return v;
    }

    void readArray(GgufValue& v, int depth, const Where& where) {
        v.elementType_ = readType(where, true);
        const std::uint64_t at = pos_;
        v.count_ = loadLittleEndian(
            take(8, [&] { return QStringLiteral("the array length of ") + where.text(); }), 8);
        const std::uint64_t minBytes = minEncodedBytes(v.elementType_);
        if (minBytes > 0 && v.count_ > (size_ - pos_) / minBytes)
            fail(QStringLiteral("%6: array length %1 at byte %2 needs at least %3 bytes per %4 "
                                "but only %5 bytes are left in the file")
                     .arg(v.count_)
                     .arg(at)
                     .arg(minBytes)
                     .arg(ggufTypeName(v.elementType_))
                     .arg(size_ - pos_)
                     .arg(where.text()));
        if (v.elementType_ == GgufType::Array) {
            if (depth + 1 > GgufFile::kMaxArrayDepth)
                fail(QStringLiteral("%2: arrays nested more than %1 deep")
                         .arg(GgufFile::kMaxArrayDepth)
                         .arg(where.text()));
            nestedArrays_ += v.count_;
            if (nestedArrays_ > GgufFile::kMaxNestedArrays)
                fail(QStringLiteral("%2: more than %1 arrays inside arrays in the file")
                         .arg(GgufFile::kMaxNestedArrays)
                         .arg(where.text()));
        }
        // Everything below allocates for count_ elements: make sure their bytes are in memory.
        reserveBytes(v.count_ * minBytes, where);
        switch (v.elementType_) {
            case GgufType::String:
                readStrings(v, where);
                return;
            case GgufType::Array:
                v.items_.reserve(v.count_);
                for (std::uint64_t i = 0; i < v.count_; ++i) {
                    const Where inner{where.key, i, true};
                    v.items_.push_back(readValue(GgufType::Array, depth + 1, inner));
                }
                return;
            default:
                readNumbers(v, where);
                return;
        }
    }

    // `n` more bytes are needed now: an error beyond the file or the header limit, a request
    // for more when they are not in memory yet.
    void reserveBytes(std::uint64_t n, const Where& where) {
        if (n > limit_ - pos_) failHeaderLimit(where.text());
        if (n > available_ - pos_) throw NeedMoreBytes{pos_ + n};
    }

    void readStrings(GgufValue& v, const Where& where) {
        auto data = std::make_shared<GgufStringArray::Data>();
        data->ends.reserve(v.count_);
        for (std::uint64_t i = 0; i < v.count_; ++i) {
            const Where inner{where.key, i, true};
            const std::string_view s = readString(kU64Max, [&] { return inner.text(); });
            data->blob.append(s);
            data->ends.push_back(data->blob.size());
        }
        v.strings_.data_ = std::move(data);
    }

    void readNumbers(GgufValue& v, const Where& where) {
        const auto width = static_cast<std::uint64_t>(scalarBytes(v.elementType_));
        const std::uint64_t at = pos_;
        const std::uint8_t* p = take(v.count_ * width, [&] { return where.text(); });
        v.raw_.assign(p, p + v.count_ * width);
        if (v.elementType_ != GgufType::Bool) return;
        for (std::uint64_t i = 0; i < v.count_; ++i)
            if (p[i] > 1)
                fail(QStringLiteral("%4: element %1 is BOOL value %2 at byte %3; expected 0 or 1")
                         .arg(i)
                         .arg(unsigned(p[i]))
                         .arg(at + i)
                         .arg(where.text()));
    }

    std::uint32_t alignment(const GgufFile& file) const {
        const QString key = QStringLiteral("general.alignment");
        const GgufValue* v = file.value(key);
        if (!v) return GgufFile::kDefaultAlignment;
        const auto a = v->integer<std::uint32_t>();
        if (!a || *a == 0 || !std::has_single_bit(*a) || *a > GgufFile::kMaxAlignment)
            fail(QStringLiteral("metadata key %2: expected a power of two from 1 to %1 (the spec: "
                                "a UINT32 multiple of 8, 32 when absent), found %3")
                     .arg(GgufFile::kMaxAlignment)
                     .arg(quoted(key), v->describe()));
        return *a;
    }

    void readTensorInfo(GgufFile& file, std::uint64_t index) {
        const std::string_view raw = readString(GgufFile::kMaxTensorNameBytes, [&] {
            return QStringLiteral("the name of tensor info %1").arg(index);
        });
        GgufTensor t;
        t.name = QString::fromUtf8(QByteArrayView(raw.data(), qsizetype(raw.size())));
        const QString name = quoted(t.name);
        const auto what = [&](const char* field) {
            return [&, field] {
                return QStringLiteral("%1 of tensor %2").arg(QLatin1String(field), name);
            };
        };
        if (file.tensorIndex_.contains(t.name))
            fail(QStringLiteral("tensor %3 appears twice in the tensor infos (%1 and %2)")
                     .arg(file.tensorIndex_.value(t.name))
                     .arg(index)
                     .arg(name));
        const std::uint32_t nDims =
            static_cast<std::uint32_t>(loadLittleEndian(take(4, what("n_dims")), 4));
        if (nDims < 1 || nDims > GgufFile::kMaxDims)
            fail(QStringLiteral("tensor %3: n_dims is %1; expected 1 to %2")
                     .arg(nDims)
                     .arg(GgufFile::kMaxDims)
                     .arg(name));
        std::vector<std::uint64_t> dims(nDims);
        for (std::uint64_t& d : dims) d = loadLittleEndian(take(8, what("a dimension")), 8);
        const std::uint32_t typeId =
            static_cast<std::uint32_t>(loadLittleEndian(take(4, what("the type")), 4));
        t.offset = loadLittleEndian(take(8, what("the offset")), 8);
        const auto traits = checkType(name, typeId);
        t.type = traits.type;
        const std::uint64_t bytes = checkShape(name, dims, traits);
        if (t.offset % file.alignment_ != 0)
            fail(QStringLiteral("tensor %3: offset %1 in the data section is not a multiple of "
                                "the alignment %2")
                     .arg(t.offset)
                     .arg(file.alignment_)
                     .arg(name));
        t.dims.assign(dims.begin(), dims.end());
        t.end = bytes;  // placeTensors() makes begin and end absolute
        file.tensorIndex_.insert(t.name, file.tensors_.size());
        file.tensors_.push_back(std::move(t));
    }

    GgmlTypeTraits checkType(const QString& name, std::uint32_t id) const {
        const auto traits = ggmlTypeTraits(id);
        if (!traits)
            fail(QStringLiteral("tensor %2 has type id %1, which is not a ggml type")
                     .arg(id)
                     .arg(name));
        if (!traits->supported)
            fail(QStringLiteral("tensor %1 has type %2, which kvscope does not support; "
                                "supported: %3")
                     .arg(name,
                          QString::fromLatin1(traits->name.data(), qsizetype(traits->name.size())),
                          supportedTypeNames()));
        return *traits;
    }

    // The tensor's byte size, after checking its dimensions and that they fit its type's blocks.
    std::uint64_t checkShape(const QString& name, const std::vector<std::uint64_t>& dims,
                             const GgmlTypeTraits& traits) const {
        const QString typeName =
            QString::fromLatin1(traits.name.data(), qsizetype(traits.name.size()));
        const QString prefix =
            QStringLiteral("tensor %1 (%2, dims %3)").arg(name, typeName, dimsText(dims));
        std::uint64_t elements = 1;
        for (std::size_t i = 0; i < dims.size(); ++i) {
            if (dims[i] == 0)
                fail(QStringLiteral("%2: dimension %1 is 0; every dimension must be at least 1")
                         .arg(i)
                         .arg(prefix));
            if (dims[i] > kI64Max / elements)
                fail(QStringLiteral("%1: the element count overflows 2^63-1").arg(prefix));
            elements *= dims[i];
        }
        const auto blockSize = static_cast<std::uint64_t>(traits.blockSize);
        const auto blockBytes = static_cast<std::uint64_t>(traits.blockBytes);
        if (dims[0] % blockSize != 0)
            fail(QStringLiteral("%4: the row length ne0 = %1 is not a multiple of %2's block "
                                "size %3")
                     .arg(dims[0])
                     .arg(typeName)
                     .arg(blockSize)
                     .arg(prefix));
        const std::uint64_t blocks = elements / blockSize;  // whole rows, so exact
        if (blocks > kU64Max / blockBytes)
            fail(QStringLiteral("%1: the byte size overflows 2^64").arg(prefix));
        return blocks * blockBytes;
    }

    std::uint64_t alignedEnd(std::uint32_t alignment) const {
        const std::uint64_t pad = (alignment - pos_ % alignment) % alignment;
        if (pad > kU64Max - pos_) fail(QStringLiteral("the data section starts beyond 2^64"));
        return pos_ + pad;
    }

    // Absolute ranges inside the file, and no two tensors sharing a byte.
    void placeTensors(GgufFile& file) const {
        const std::uint64_t start = file.dataOffset_;
        const std::uint64_t dataBytes = size_ > start ? size_ - start : 0;
        for (GgufTensor& t : file.tensors_) {
            const std::uint64_t bytes = t.end;
            if (t.offset > dataBytes || bytes > dataBytes - t.offset)
                fail(QStringLiteral("tensor %5 (%1 bytes at offset %2 of the data section) runs "
                                    "past the end of the file: the data section starts at byte "
                                    "%3 and holds %4 bytes")
                         .arg(bytes)
                         .arg(t.offset)
                         .arg(start)
                         .arg(dataBytes)
                         .arg(quoted(t.name)));
            t.begin = start + t.offset;
            t.end = t.begin + bytes;
        }
        std::vector<const GgufTensor*> sorted;
        sorted.reserve(file.tensors_.size());
        for (const GgufTensor& t : file.tensors_) sorted.push_back(&t);
        // Stable, so tensors at one offset are named in table order. Sorted by start, any overlap
        // shows between neighbours.
        std::stable_sort(
            sorted.begin(), sorted.end(),
            [](const GgufTensor* a, const GgufTensor* b) { return a->begin < b->begin; });
        for (std::size_t i = 1; i < sorted.size(); ++i) {
            const GgufTensor& a = *sorted[i - 1];
            const GgufTensor& b = *sorted[i];
            if (a.end > b.begin)
                fail(QStringLiteral("tensors %5 (data section bytes %1 to %2) and %6 (bytes %3 to "
                                    "%4) overlap")
                         .arg(a.begin - start)
                         .arg(a.end - start)
                         .arg(b.begin - start)
                         .arg(b.end - start)
                         .arg(quoted(a.name), quoted(b.name)));
        }
    }

    const std::uint8_t* bytes_;
    std::uint64_t available_;
    std::uint64_t size_;
    std::uint64_t limit_;  // reads stop here: the end of the file or kMaxHeaderBytes
    const QString& fileName_;
    std::uint64_t pos_ = 0;
    std::uint64_t nestedArrays_ = 0;
};

Result<GgufFile> GgufFile::parse(const std::uint8_t* bytes, std::uint64_t size,
                                 const QString& fileName) {
    return parseHeader(bytes, size, size, fileName);
}

Result<GgufFile> GgufFile::parseHeader(const std::uint8_t* bytes, std::uint64_t available,
                                       std::uint64_t size, const QString& fileName,
                                       std::uint64_t* needed) {
    if (needed) *needed = 0;
    try {
        return GgufParser(bytes, available, size, fileName).run();
    } catch (const LoadError& e) {
        return Error{e.message()};
    } catch (const NeedMoreBytes& more) {
        if (needed) *needed = more.prefix;
        return Error{fileName + QStringLiteral(": only the first %1 bytes were read; the header "
                                               "continues to at least byte %2")
                                    .arg(std::min(available, size))
                                    .arg(more.prefix)};
    }
}

Result<GgufFile> GgufFile::readHeader(QIODevice& device, const QString& fileName) {
    const qint64 deviceSize = device.size();
    if (deviceSize < 0 || device.isSequential())
        return Error{fileName + QStringLiteral(": cannot tell the file's size")};
    const auto size = static_cast<std::uint64_t>(deviceSize);
    QByteArray head;
    std::uint64_t want = std::min(size, kFirstReadBytes);
    for (;;) {
        const auto have = static_cast<std::uint64_t>(head.size());
        if (!device.seek(qint64(have)))
            return Error{
                fileName +
                QStringLiteral(": cannot seek to byte %1: %2").arg(have).arg(device.errorString())};
        const QByteArray more = device.read(qint64(want - have));
        head += more;
        if (std::uint64_t(head.size()) != want)
            return Error{fileName + QStringLiteral(": could read only %1 of the first %2 bytes: %3")
                                        .arg(head.size())
                                        .arg(want)
                                        .arg(device.errorString())};
        std::uint64_t needed = 0;
        auto parsed = parseHeader(reinterpret_cast<const std::uint8_t*>(head.constData()), want,
                                  size, fileName, &needed);
        if (parsed.ok() || needed == 0) return parsed;
        // Doubling keeps the total parsing work within twice the last pass.
        want = std::min(size, std::max(needed, 2 * want));
    }
}

std::span<const std::uint8_t> GgufFile::tensorBytes(const GgufTensor& tensor,
                                                    const std::uint8_t* file,
                                                    std::uint64_t available) {
    if (tensor.end > available || tensor.begin > tensor.end) return {};
    return {file + tensor.begin, static_cast<std::size_t>(tensor.end - tensor.begin)};
}

const GgufValue* GgufFile::value(const QString& key) const {
    const auto it = keyIndex_.constFind(key);
    return it == keyIndex_.constEnd() ? nullptr : &metadata_[*it].value;
}

const GgufTensor* GgufFile::find(const QString& name) const {
    const auto it = tensorIndex_.constFind(name);
    return it == tensorIndex_.constEnd() ? nullptr : &tensors_[*it];
}

template <typename T, typename Get>
Result<std::optional<T>> GgufFile::optionalTyped(const QString& key, const QString& expected,
                                                 Get get) const {
    const GgufValue* v = value(key);
    if (!v) return std::optional<T>();
    std::optional<T> got = get(*v);
    if (!got)
        return Error{QStringLiteral("%1: metadata key %2: expected %3, found %4")
                         .arg(fileName_, quoted(key), expected, v->describe())};
    return got;
}

template <typename T, typename Get>
Result<T> GgufFile::typed(const QString& key, const QString& expected, Get get) const {
    auto got = optionalTyped<T>(key, expected, get);
    if (!got) return got.error();
    if (!got.value())
        return Error{QStringLiteral("%1: missing metadata key %2 (expected %3)")
                         .arg(fileName_, quoted(key), expected)};
    return std::move(*got.value());
}

namespace {

template <typename T>
QString integerExpectation(const char* typeName) {
    return QStringLiteral("an integer that fits in %1 (%2 to %3)")
        .arg(QLatin1String(typeName))
        .arg(std::numeric_limits<T>::min())
        .arg(std::numeric_limits<T>::max());
}

template <typename T>
auto integerGetter() {
    return [](const GgufValue& v) { return v.integer<T>(); };
}

std::optional<float> asFloat(const GgufValue& v) {
    const auto d = v.real();
    if (!d) return std::nullopt;
    // A FLOAT64 beyond float's range would become infinity; NaN and infinities stay what they are.
    if (std::isfinite(*d) && std::abs(*d) > double(std::numeric_limits<float>::max()))
        return std::nullopt;
    return static_cast<float>(*d);
}

std::optional<QString> asString(const GgufValue& v) {
    if (v.type() != GgufType::String) return std::nullopt;
    const std::string_view s = v.stringBytes();
    return QString::fromUtf8(QByteArrayView(s.data(), qsizetype(s.size())));
}

std::optional<GgufStringArray> asStrings(const GgufValue& v) {
    if (!v.isArray() || v.elementType() != GgufType::String) return std::nullopt;
    return v.strings();
}

const QString kStringArray = QStringLiteral("an ARRAY of STRING");

}  // namespace

Result<std::uint32_t> GgufFile::u32(const QString& key) const {
    return typed<std::uint32_t>(key, integerExpectation<std::uint32_t>("UINT32"),
                                integerGetter<std::uint32_t>());
}

Result<std::int32_t> GgufFile::i32(const QString& key) const {
    return typed<std::int32_t>(key, integerExpectation<std::int32_t>("INT32"),
                               integerGetter<std::int32_t>());
}

Result<std::uint64_t> GgufFile::u64(const QString& key) const {
    return typed<std::uint64_t>(key, integerExpectation<std::uint64_t>("UINT64"),
                                integerGetter<std::uint64_t>());
}

Result<std::int64_t> GgufFile::i64(const QString& key) const {
    return typed<std::int64_t>(key, integerExpectation<std::int64_t>("INT64"),
                               integerGetter<std::int64_t>());
}

Result<float> GgufFile::f32(const QString& key) const {
    return typed<float>(key, QStringLiteral("a FLOAT32 (or a FLOAT64 within its range)"), asFloat);
}

Result<double> GgufFile::f64(const QString& key) const {
    return typed<double>(key, QStringLiteral("a FLOAT32 or FLOAT64"),
                         [](const GgufValue& v) { return v.real(); });
}

Result<bool> GgufFile::boolean(const QString& key) const {
    return typed<bool>(key, QStringLiteral("a BOOL"),
                       [](const GgufValue& v) { return v.boolean(); });
}

Result<QString> GgufFile::str(const QString& key) const {
    return typed<QString>(key, QStringLiteral("a STRING"), asString);
}

Result<GgufStringArray> GgufFile::strings(const QString& key) const {
    return typed<GgufStringArray>(key, kStringArray, asStrings);
}

Result<std::vector<float>> GgufFile::f32s(const QString& key) const {
    return typed<std::vector<float>>(
        key, QStringLiteral("an ARRAY of FLOAT32"),
        [](const GgufValue& v) -> std::optional<std::vector<float>> {
            if (!v.isArray() || v.elementType() != GgufType::Float32) return std::nullopt;
            std::vector<float> out(v.arraySize());
            for (std::size_t i = 0; i < out.size(); ++i)
                out[i] = std::bit_cast<float>(static_cast<std::uint32_t>(
                    loadLittleEndian(v.rawElements().data() + 4 * i, 4)));
            return out;
        });
}

Result<std::vector<std::int32_t>> GgufFile::i32s(const QString& key) const {
    return typed<std::vector<std::int32_t>>(
        key, QStringLiteral("an ARRAY of integers that fit in INT32"),
        [](const GgufValue& v) -> std::optional<std::vector<std::int32_t>> {
            if (!v.isArray() || !isInteger(v.elementType())) return std::nullopt;
            std::vector<std::int32_t> out(v.arraySize());
            for (std::size_t i = 0; i < out.size(); ++i) {
                const auto x = v.integerAt<std::int32_t>(i);
                if (!x) return std::nullopt;
                out[i] = *x;
            }
            return out;
        });
}

Result<std::optional<std::uint32_t>> GgufFile::optionalU32(const QString& key) const {
    return optionalTyped<std::uint32_t>(key, integerExpectation<std::uint32_t>("UINT32"),
                                        integerGetter<std::uint32_t>());
}

Result<std::optional<float>> GgufFile::optionalF32(const QString& key) const {
    return optionalTyped<float>(key, QStringLiteral("a FLOAT32 (or a FLOAT64 within its range)"),
                                asFloat);
}

Result<std::optional<bool>> GgufFile::optionalBool(const QString& key) const {
    return optionalTyped<bool>(key, QStringLiteral("a BOOL"),
                               [](const GgufValue& v) { return v.boolean(); });
}

Result<std::optional<QString>> GgufFile::optionalStr(const QString& key) const {
    return optionalTyped<QString>(key, QStringLiteral("a STRING"), asString);
}

Result<std::optional<GgufStringArray>> GgufFile::optionalStrings(const QString& key) const {
    return optionalTyped<GgufStringArray>(key, kStringArray, asStrings);
}

}  // namespace kvscope
