#include "formats/safetensors.h"

#include <QByteArray>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QJsonParseError>
#include <QJsonValue>
#include <QSet>
#include <QStringList>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>

namespace kvscope {

namespace {

constexpr std::uint64_t kPrefixSize = 8;
constexpr std::uint64_t kU64Max = std::numeric_limits<std::uint64_t>::max();
constexpr std::uint64_t kI64Max =
    static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
const QString kMetadataKey = QStringLiteral("__metadata__");

// Everything the spec defines that we deliberately do not read, so the message can tell "valid
// file, unsupported weight type" apart from "corrupt dtype string".
const QStringList kSpecOnlyDtypes = {
    QStringLiteral("BOOL"),    QStringLiteral("U8"),      QStringLiteral("I8"),
    QStringLiteral("F8_E5M2"), QStringLiteral("F8_E4M3"), QStringLiteral("F8_E8M0"),
    QStringLiteral("F4"),      QStringLiteral("F6_E2M3"), QStringLiteral("F6_E3M2"),
    QStringLiteral("I16"),     QStringLiteral("U16"),     QStringLiteral("I32"),
    QStringLiteral("U32"),     QStringLiteral("I64"),     QStringLiteral("U64"),
    QStringLiteral("F64"),     QStringLiteral("C64")};

QString quoted(const QString& s) {
    return QLatin1Char('"') + s + QLatin1Char('"');
}

// Found values are echoed into messages; a hostile header could hold megabytes in one value.
QString clipped(const QString& s) {
    constexpr qsizetype kMax = 80;
    return s.size() <= kMax ? s : s.left(kMax) + QStringLiteral("...");
}

QString describe(const QJsonValue& v) {
    switch (v.type()) {
        case QJsonValue::Null:
            return QStringLiteral("null");
        case QJsonValue::Bool:
            return v.toBool() ? QStringLiteral("true") : QStringLiteral("false");
        case QJsonValue::Double: {
            const double d = v.toDouble();
            // Qt keeps integers that fit in 64 bits exactly; printing them via double would round.
            if (std::isfinite(d) && d == std::floor(d) && std::abs(d) < 9.2e18)
                return QString::number(v.toInteger());
            return QString::number(d, 'g', 17);
        }
        case QJsonValue::String:
            return quoted(clipped(v.toString()));
        case QJsonValue::Array:
            return clipped(
                QString::fromUtf8(QJsonDocument(v.toArray()).toJson(QJsonDocument::Compact)));
        case QJsonValue::Object:
            return clipped(
                QString::fromUtf8(QJsonDocument(v.toObject()).toJson(QJsonDocument::Compact)));
        case QJsonValue::Undefined:
            break;
    }
    return QStringLiteral("nothing");
}

// JSON numbers arrive as doubles or 64-bit integers; offsets beyond 2^53 must stay exact, so the
// integer path is taken whenever Qt has one.
std::optional<std::uint64_t> nonNegativeInteger(const QJsonValue& v) {
    if (!v.isDouble()) return std::nullopt;
    const double d = v.toDouble();
    if (!std::isfinite(d) || d < 0 || d != std::floor(d)) return std::nullopt;
    const qint64 i = v.toInteger(-1);
    if (i < 0) return std::nullopt;
    return static_cast<std::uint64_t>(i);
}

QString shapeText(const std::vector<std::int64_t>& shape) {
    QStringList parts;
    for (std::int64_t d : shape) parts << QString::number(d);
    return QLatin1Char('[') + parts.join(QStringLiteral(", ")) + QLatin1Char(']');
}

QString rangeText(std::uint64_t begin, std::uint64_t end) {
    return QStringLiteral("[%1, %2]").arg(begin).arg(end);
}

std::uint64_t readLittleEndian64(const std::uint8_t* p) {
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

// QJsonDocument silently keeps one of two equal keys, which would let a file show one tensor to
// us and another to a different reader. This walks the already-validated JSON text and reports
// the first key that repeats within one object, at any depth.
std::optional<QString> findDuplicateKey(const char* text, qsizetype size) {
    struct Frame {
        bool isObject;
        bool expectKey;
        QSet<QString> keys;
    };
    std::vector<Frame> stack;
    for (qsizetype i = 0; i < size; ++i) {
        const char c = text[i];
        if (c == '"') {
            const qsizetype start = i;
            bool escaped = false;
            for (++i; i < size; ++i) {
                if (escaped) {
                    escaped = false;
                } else if (text[i] == '\\') {
                    escaped = true;
                } else if (text[i] == '"') {
                    break;
                }
            }
            if (stack.empty() || !stack.back().isObject || !stack.back().expectKey) continue;
            stack.back().expectKey = false;
            const QByteArray raw(text + start, i - start + 1);
            QString key;
            if (!raw.contains('\\')) {
                key = QString::fromUtf8(raw.constData() + 1, raw.size() - 2);
            } else {
                // Escapes are rare in tensor names; let Qt decode them rather than duplicate
                // its unescaping here.
                key = QJsonDocument::fromJson('[' + raw + ']').array().at(0).toString();
            }
            if (stack.back().keys.contains(key)) return key;
            stack.back().keys.insert(key);
        } else if (c == '{') {
            stack.push_back({true, true, {}});
        } else if (c == '[') {
            stack.push_back({false, false, {}});
        } else if (c == '}' || c == ']') {
            if (!stack.empty()) stack.pop_back();
        } else if (c == ',') {
            if (!stack.empty() && stack.back().isObject) stack.back().expectKey = true;
        }
    }
    return std::nullopt;
}

class HeaderParser {
public:
    HeaderParser(const QString& fileName, std::uint64_t fileSize, std::uint64_t dataStart)
        : fileName_(fileName),
          fileSize_(fileSize),
          dataStart_(dataStart),
          dataSize_(fileSize - dataStart) {}

    [[noreturn]] void fail(const QString& message) const {
        throw LoadError(fileName_ + QStringLiteral(": ") + message);
    }
    [[noreturn]] void failTensor(const QString& name, const QString& message) const {
        fail(QStringLiteral("tensor %1: %2").arg(quoted(clipped(name)), message));
    }

    QMap<QString, QString> parseMetadata(const QJsonValue& v) const {
        if (!v.isObject())
            fail(QStringLiteral("\"%1\": expected an object of string values, found %2")
                     .arg(kMetadataKey, describe(v)));
        QMap<QString, QString> out;
        const QJsonObject obj = v.toObject();
        for (auto it = obj.begin(); it != obj.end(); ++it) {
            if (!it.value().isString())
                fail(QStringLiteral("\"%1\" key %2: expected a string value, found %3")
                         .arg(kMetadataKey, quoted(clipped(it.key())), describe(it.value())));
            out.insert(it.key(), it.value().toString());
        }
        return out;
    }

    TensorInfo parseTensor(const QString& name, const QJsonValue& entry) const {
        if (!entry.isObject())
            failTensor(name,
                       QStringLiteral("expected an object with dtype, shape and data_offsets, "
                                      "found %1")
                           .arg(describe(entry)));
        const QJsonObject obj = entry.toObject();
        TensorInfo t;
        t.name = name;
        t.dtype = parseDtype(name, obj.value(QStringLiteral("dtype")));
        t.shape = parseShape(name, obj.value(QStringLiteral("shape")));

        // A zero dimension makes the tensor empty whatever the others say, so it is checked
        // before the product can overflow on them.
        std::uint64_t count = 1;
        if (std::find(t.shape.begin(), t.shape.end(), 0) != t.shape.end()) {
            count = 0;
        } else {
            for (std::int64_t d : t.shape) {
                const auto dim = static_cast<std::uint64_t>(d);
                if (count > kI64Max / dim)
                    failTensor(name, QStringLiteral("shape %1 has more than 2^63-1 elements")
                                         .arg(shapeText(t.shape)));
                count *= dim;
            }
        }
        const std::uint64_t elementSize = dtypeSize(t.dtype);
        if (count > dataSize_ / elementSize) {
            const QString needed = count <= kU64Max / elementSize
                                       ? QString::number(count * elementSize)
                                       : QStringLiteral("more than 2^64");
            failTensor(name, QStringLiteral("shape %1 of %2 needs %3 bytes but the data buffer "
                                            "after the header holds only %4")
                                 .arg(shapeText(t.shape), dtypeName(t.dtype), needed)
                                 .arg(dataSize_));
        }
        const std::uint64_t needed = count * elementSize;

        const auto [begin, end] = parseOffsets(name, obj.value(QStringLiteral("data_offsets")));
        const QString range = rangeText(begin, end);
        if (begin > end)
            failTensor(name, QStringLiteral("data_offsets %1: begin %2 is after end %3")
                                 .arg(range)
                                 .arg(begin)
                                 .arg(end));
        if (end > dataSize_)
            failTensor(name, QStringLiteral("data_offsets %1: end %2 is beyond the data buffer of "
                                            "%3 bytes (file is %4 bytes, data starts at %5)")
                                 .arg(range)
                                 .arg(end)
                                 .arg(dataSize_)
                                 .arg(fileSize_)
                                 .arg(dataStart_));
        if (end - begin != needed)
            failTensor(name, QStringLiteral("data_offsets %1 hold %2 bytes but shape %3 of %4 "
                                            "needs %5")
                                 .arg(range)
                                 .arg(end - begin)
                                 .arg(shapeText(t.shape), dtypeName(t.dtype))
                                 .arg(needed));
        // Cannot overflow: end <= dataSize_ = fileSize_ - dataStart_.
        t.begin = dataStart_ + begin;
        t.end = dataStart_ + end;
        return t;
    }

    // Sorted by begin, any overlap shows up between neighbours: if i < j overlap then
    // begin[i+1] <= begin[j] < end[i]. Empty tensors occupy no bytes and are skipped.
    void checkOverlaps(const std::vector<TensorInfo>& sorted) const {
        const TensorInfo* prev = nullptr;
        for (const TensorInfo& t : sorted) {
            if (t.begin == t.end) continue;
            if (prev && prev->end > t.begin)
                fail(QStringLiteral("tensors %1 data_offsets %2 and %3 data_offsets %4 overlap")
                         .arg(quoted(clipped(prev->name)),
                              rangeText(prev->begin - dataStart_, prev->end - dataStart_),
                              quoted(clipped(t.name)),
                              rangeText(t.begin - dataStart_, t.end - dataStart_)));
            prev = &t;
        }
    }

private:
    DType parseDtype(const QString& name, const QJsonValue& v) const {
        if (v.isUndefined()) failTensor(name, QStringLiteral("missing \"dtype\""));
        if (!v.isString())
            failTensor(name,
                       QStringLiteral("\"dtype\": expected a string, found %1").arg(describe(v)));
        const QString s = v.toString();
        if (s == QLatin1String("F32")) return DType::F32;
        if (s == QLatin1String("F16")) return DType::F16;
        if (s == QLatin1String("BF16")) return DType::BF16;
        const QString supported = QStringLiteral("F32, F16, BF16");
        if (kSpecOnlyDtypes.contains(s))
            failTensor(name, QStringLiteral("\"dtype\": %1 is a safetensors type but not supported "
                                            "for weights (supported: %2)")
                                 .arg(s, supported));
        failTensor(name, QStringLiteral("\"dtype\": expected one of %1, found unknown type %2")
                             .arg(supported, quoted(clipped(s))));
    }

    std::vector<std::int64_t> parseShape(const QString& name, const QJsonValue& v) const {
        if (v.isUndefined()) failTensor(name, QStringLiteral("missing \"shape\""));
        if (!v.isArray())
            failTensor(name, QStringLiteral("\"shape\": expected an array of non-negative "
                                            "integers, found %1")
                                 .arg(describe(v)));
        const QJsonArray arr = v.toArray();
        std::vector<std::int64_t> shape;
        shape.reserve(static_cast<std::size_t>(arr.size()));
        for (qsizetype i = 0; i < arr.size(); ++i) {
            const auto dim = nonNegativeInteger(arr.at(i));
            if (!dim)
                failTensor(name, QStringLiteral("\"shape\"[%1]: expected a non-negative integer, "
                                                "found %2")
                                     .arg(i)
                                     .arg(describe(arr.at(i))));
            shape.push_back(static_cast<std::int64_t>(*dim));
        }
        return shape;
    }

    std::pair<std::uint64_t, std::uint64_t> parseOffsets(const QString& name,
                                                         const QJsonValue& v) const {
        if (v.isUndefined()) failTensor(name, QStringLiteral("missing \"data_offsets\""));
        const QString expected = QStringLiteral(
            "\"data_offsets\": expected [begin, end], two non-negative integers, found %1");
        if (!v.isArray() || v.toArray().size() != 2) failTensor(name, expected.arg(describe(v)));
        const QJsonArray arr = v.toArray();
        const auto begin = nonNegativeInteger(arr.at(0));
        const auto end = nonNegativeInteger(arr.at(1));
        if (!begin || !end) failTensor(name, expected.arg(describe(v)));
        return {*begin, *end};
    }

    const QString& fileName_;
    std::uint64_t fileSize_;
    std::uint64_t dataStart_;
    std::uint64_t dataSize_;
};

}  // namespace

std::int64_t TensorInfo::elementCount() const {
    // parse() bounds the product only for shapes without a zero, so [2^62, 4, 0] is a valid
    // empty tensor whose product, taken in order, would overflow before reaching the 0.
    if (std::find(shape.begin(), shape.end(), 0) != shape.end()) return 0;
    std::int64_t n = 1;
    for (std::int64_t d : shape) n *= d;
    return n;
}

Result<SafetensorsFile> SafetensorsFile::parse(const std::uint8_t* bytes, std::uint64_t size,
                                               const QString& fileName) {
    return parseHeader(bytes, size, size, fileName);
}

std::uint64_t SafetensorsFile::headerBytesNeeded(const std::uint8_t* prefix, std::uint64_t size) {
    if (size < kPrefixSize) return size;
    return kPrefixSize + std::min({readLittleEndian64(prefix), kMaxHeaderSize, size - kPrefixSize});
}

Result<SafetensorsFile> SafetensorsFile::parseHeader(const std::uint8_t* bytes,
                                                     std::uint64_t available, std::uint64_t size,
                                                     const QString& fileName) {
    try {
        const auto fail = [&](const QString& message) {
            throw LoadError(fileName + QStringLiteral(": ") + message);
        };
        if (available > size) available = size;
        if (size < kPrefixSize || available < kPrefixSize)
            fail(QStringLiteral("file is %1 bytes, shorter than the 8-byte header size prefix")
                     .arg(size));
        const std::uint64_t headerSize = readLittleEndian64(bytes);
        if (headerSize == 0) fail(QStringLiteral("header size is 0; expected a JSON object"));
        if (headerSize > kMaxHeaderSize)
            fail(QStringLiteral("header size %1 bytes exceeds the 100 MB limit (%2 bytes); the "
                                "length prefix is likely corrupt")
                     .arg(headerSize)
                     .arg(kMaxHeaderSize));
        if (headerSize > size - kPrefixSize)
            fail(QStringLiteral("header size %1 bytes is larger than the %2 bytes that follow the "
                                "8-byte prefix (file is %3 bytes)")
                     .arg(headerSize)
                     .arg(size - kPrefixSize)
                     .arg(size));

        const std::uint64_t dataStart = kPrefixSize + headerSize;
        if (dataStart > available)
            fail(QStringLiteral("only %1 of the %2 header bytes were readable")
                     .arg(available)
                     .arg(dataStart));
        const QByteArray headerText = QByteArray::fromRawData(
            reinterpret_cast<const char*>(bytes + kPrefixSize), static_cast<qsizetype>(headerSize));
        QJsonParseError jsonError;
        const QJsonDocument doc = QJsonDocument::fromJson(headerText, &jsonError);
        if (jsonError.error != QJsonParseError::NoError)
            fail(QStringLiteral("header is not valid JSON: %1 at header byte %2 of %3")
                     .arg(jsonError.errorString())
                     .arg(jsonError.offset)
                     .arg(headerSize));
        if (!doc.isObject())
            fail(QStringLiteral("header: expected a JSON object, found %1")
                     .arg(doc.isArray() ? QStringLiteral("an array") : QStringLiteral("a scalar")));
        if (const auto dup = findDuplicateKey(headerText.constData(), headerText.size()))
            fail(QStringLiteral("header: key %1 appears more than once in one object; JSON "
                                "readers disagree on which copy wins, so the file is ambiguous")
                     .arg(quoted(clipped(*dup))));

        HeaderParser parser(fileName, size, dataStart);
        SafetensorsFile file;
        file.fileName_ = fileName;
        const QJsonObject root = doc.object();
        for (auto it = root.begin(); it != root.end(); ++it) {
            if (it.key() == kMetadataKey) {
                file.metadata_ = parser.parseMetadata(it.value());
            } else {
                file.tensors_.push_back(parser.parseTensor(it.key(), it.value()));
            }
        }
        std::sort(file.tensors_.begin(), file.tensors_.end(),
                  [](const TensorInfo& a, const TensorInfo& b) {
                      if (a.begin != b.begin) return a.begin < b.begin;
                      if (a.end != b.end) return a.end < b.end;
                      return a.name < b.name;
                  });
        // Gaps are accepted on purpose: the spec forbids holes, but a gap cannot make us read
        // out of bounds or misattribute bytes, and alignment-padding writers exist.
        parser.checkOverlaps(file.tensors_);
        file.index_.reserve(static_cast<qsizetype>(file.tensors_.size()));
        for (std::size_t i = 0; i < file.tensors_.size(); ++i)
            file.index_.insert(file.tensors_[i].name, i);
        return file;
    } catch (const LoadError& e) {
        return Error{e.message()};
    }
}

const TensorInfo* SafetensorsFile::find(const QString& name) const {
    const auto it = index_.constFind(name);
    return it == index_.constEnd() ? nullptr : &tensors_[*it];
}

float halfToFloat(std::uint16_t h) {
    const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
    const std::uint32_t exponent = (h >> 10) & 0x1Fu;
    const std::uint32_t mantissa = h & 0x3FFu;
    std::uint32_t bits;
    if (exponent == 0) {
        if (mantissa == 0) return std::bit_cast<float>(sign);
        // Half subnormals are normal in float32; mantissa * 2^-24 is exact.
        const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
        return std::bit_cast<float>(sign | std::bit_cast<std::uint32_t>(magnitude));
    }
    if (exponent == 0x1F) {
        // Keep the NaN payload so a signalling/quiet distinction survives the conversion.
        bits = sign | 0x7F800000u | (mantissa << 13);
    } else {
        bits = sign | ((exponent + (127 - 15)) << 23) | (mantissa << 13);
    }
    return std::bit_cast<float>(bits);
}

float bfloat16ToFloat(std::uint16_t b) {
    return std::bit_cast<float>(static_cast<std::uint32_t>(b) << 16);
}

void convertToFloat32(const std::uint8_t* src, DType dtype, std::int64_t count, float* dst) {
    if (count <= 0) return;
    const auto n = static_cast<std::size_t>(count);
    switch (dtype) {
        case DType::F32:
            if constexpr (std::endian::native == std::endian::little) {
                std::memcpy(dst, src, n * sizeof(float));
            } else {
                for (std::size_t i = 0; i < n; ++i) {
                    const std::uint8_t* p = src + 4 * i;
                    const std::uint32_t bits = static_cast<std::uint32_t>(p[0]) |
                                               static_cast<std::uint32_t>(p[1]) << 8 |
                                               static_cast<std::uint32_t>(p[2]) << 16 |
                                               static_cast<std::uint32_t>(p[3]) << 24;
                    dst[i] = std::bit_cast<float>(bits);
                }
            }
            return;
        case DType::F16:
            for (std::size_t i = 0; i < n; ++i)
                dst[i] = halfToFloat(static_cast<std::uint16_t>(src[2 * i] | src[2 * i + 1] << 8));
            return;
        case DType::BF16:
            for (std::size_t i = 0; i < n; ++i)
                dst[i] =
                    bfloat16ToFloat(static_cast<std::uint16_t>(src[2 * i] | src[2 * i + 1] << 8));
            return;
    }
}

QString dtypeName(DType dtype) {
    switch (dtype) {
        case DType::F32:
            return QStringLiteral("F32");
        case DType::F16:
            return QStringLiteral("F16");
        case DType::BF16:
            return QStringLiteral("BF16");
    }
    return QStringLiteral("?");
}

std::size_t dtypeSize(DType dtype) {
    switch (dtype) {
        case DType::F32:
            return 4;
        case DType::F16:
        case DType::BF16:
            return 2;
    }
    return 1;
}

}  // namespace kvscope
