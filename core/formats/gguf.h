#pragma once
// Reader for GGUF, the single-file model format of llama.cpp (ggml's docs/gguf.md), versions 2
// and 3, little-endian: "GGUF", u32 version, u64 tensor_count, u64 metadata_kv_count, the typed
// key-value pairs, the tensor infos (name, dims with the contiguous row length ne0 first, ggml
// type id, offset into the data section), zero padding to `general.alignment`, the tensor data.
//
// The file is untrusted. Every count, string length, array length, dimension, byte size and
// offset is checked against the file before anything is allocated for it, so once parse()
// returns a GgufFile, every tensor is of a type kvscope computes with, its shape fits its type's
// blocks, and its byte range lies inside the file without overlapping another.
//
// Copied, not mapped: the GgufFile holds its own copy of the metadata (numeric arrays as the
// bytes they were stored as, string arrays as one blob plus offsets, so a 150k-entry vocabulary is
// two allocations) and the tensor table as absolute byte ranges; it keeps no pointer into the
// bytes it was parsed from. The loader reads the header with readHeader() (the first megabytes,
// not the whole file), then copies each tensor's raw bytes from the file into a buffer of its own
// (quantized tensors stay quantized) and closes the file, as it does for safetensors and llama2.c
// (model/weight_store.h): a file replaced or truncated after the load cannot reach the model, and
// one that shrinks during the load is a read error there.

#include "tensor/ggml_type.h"
#include "util/result.h"

#include <QByteArrayView>
#include <QHash>
#include <QString>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

class QIODevice;

namespace kvscope {

// Metadata value types by the ids the file stores.
enum class GgufType : std::uint32_t {
    UInt8 = 0,
    Int8 = 1,
    UInt16 = 2,
    Int16 = 3,
    UInt32 = 4,
    Int32 = 5,
    Float32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    UInt64 = 10,
    Int64 = 11,
    Float64 = 12,
};
// The spec's name: "UINT32", "STRING", ...
QString ggufTypeName(GgufType type);

// The strings of one STRING array: the bytes as stored (UTF-8 by the spec, not checked), all in
// one blob. A cheap handle: copies share the data, which outlives the GgufFile.
class GgufStringArray {
public:
    std::size_t size() const { return data_ ? data_->ends.size() : 0; }
    std::string_view at(std::size_t i) const;  // i < size()
    QString string(std::size_t i) const { return QString::fromUtf8(toByteView(at(i))); }

private:
    friend class GgufParser;
    struct Data {
        std::string blob;                 // every string back to back
        std::vector<std::uint64_t> ends;  // (size) end of string i in blob
    };
    static QByteArrayView toByteView(std::string_view s) { return {s.data(), qsizetype(s.size())}; }
    std::shared_ptr<const Data> data_;
};

// One metadata value: a scalar, a string or an array (of scalars, strings or arrays).
class GgufValue {
public:
    GgufType type() const { return type_; }
    bool isArray() const { return type_ == GgufType::Array; }
    GgufType elementType() const { return elementType_; }  // arrays only
    std::uint64_t arraySize() const { return count_; }     // arrays only

    // Scalars. Integer accessors accept any of the eight integer types (or, for arrays, element
    // i) and return nullopt when the value does not fit T; floats accept FLOAT32 and FLOAT64.
    template <typename T>
    std::optional<T> integer() const;
    template <typename T>
    std::optional<T> integerAt(std::uint64_t i) const;
    std::optional<double> real() const;
    std::optional<double> realAt(std::uint64_t i) const;
    std::optional<bool> boolean() const;
    std::string_view stringBytes() const { return string_; }  // STRING; empty otherwise
    GgufStringArray strings() const { return strings_; }      // ARRAY of STRING; empty otherwise
    const std::vector<GgufValue>& items() const { return items_; }  // ARRAY of ARRAY
    // ARRAY of a number type or BOOL: the elements as stored (little-endian), arraySize() of them.
    std::span<const std::uint8_t> rawElements() const { return raw_; }

    // For messages: "UINT32 7", "STRING \"llama\"", "ARRAY of 32000 STRING".
    QString describe() const;

private:
    friend class GgufParser;
    GgufType type_ = GgufType::UInt8;
    GgufType elementType_ = GgufType::UInt8;
    std::uint64_t count_ = 0;
    std::uint64_t bits_ = 0;         // numbers and BOOL: the value's bytes, zero-extended
    std::string string_;             // STRING
    std::vector<std::uint8_t> raw_;  // arrays of numbers or BOOL
    GgufStringArray strings_;        // arrays of STRING
    std::vector<GgufValue> items_;   // arrays of arrays
};

struct GgufKeyValue {
    QString key;
    GgufValue value;
};

struct GgufTensor {
    QString name;
    GgmlType type = GgmlType::F32;
    std::vector<std::int64_t> dims;    // 1 to 4, ne0 (the contiguous row length) first, all > 0
    std::uint64_t offset = 0;          // as stored: from the start of the data section
    std::uint64_t begin = 0, end = 0;  // absolute byte range in the file

    std::int64_t elementCount() const;
    std::int64_t rowLength() const { return dims.front(); }
    std::int64_t rowCount() const;  // product of dims[1..]; 1 for a vector
    // Outer dimension first, as safetensors and Eigen's row-major matrices write shapes:
    // a (out, in) weight matrix has dims {in, out} and shape {out, in}.
    std::vector<std::int64_t> shape() const { return {dims.rbegin(), dims.rend()}; }
    std::uint64_t byteSize() const { return end - begin; }
};

class GgufFile {
public:
    static constexpr std::uint32_t kDefaultAlignment = 32;
    // The spec asks for a multiple of 8; llama.cpp accepts any power of two. Beyond 1 MiB the
    // padding would be nothing but waste, so a larger value is taken for damage.
    static constexpr std::uint32_t kMaxAlignment = 1u << 20;
    static constexpr std::uint64_t kMaxKeyBytes = 65535;      // the spec's limit
    static constexpr std::uint64_t kMaxTensorNameBytes = 64;  // the spec's limit
    static constexpr int kMaxDims = 4;
    // Arrays of arrays: how deep (an array of arrays is depth 2), and how many inner arrays in
    // the whole file (each costs a GgufValue in memory, far more than its 12 bytes on disk).
    static constexpr int kMaxArrayDepth = 8;
    static constexpr std::uint64_t kMaxNestedArrays = 1u << 20;
    // Metadata plus tensor infos: real headers are a few MB (the vocabulary), so beyond this the
    // counts are damage, not a big model.
    static constexpr std::uint64_t kMaxHeaderBytes = 1ull << 30;

    // `bytes` is the whole file; `fileName` starts every error message.
    static Result<GgufFile> parse(const std::uint8_t* bytes, std::uint64_t size,
                                  const QString& fileName);
    // The same checks, and the same answer, when only the first `available` bytes of a
    // `size`-byte file are in memory. When the header runs past them the result is an error
    // and, if `needed` is given, *needed is set to a prefix length that lets parsing get further
    // (at most `size`); otherwise *needed is 0.
    static Result<GgufFile> parseHeader(const std::uint8_t* bytes, std::uint64_t available,
                                        std::uint64_t size, const QString& fileName,
                                        std::uint64_t* needed = nullptr);
    // Reads only as much of `device` (open for reading, random access) as the header takes,
    // growing the prefix as parseHeader() asks.
    static Result<GgufFile> readHeader(QIODevice& device, const QString& fileName);

    // The bytes of `tensor` within the first `available` bytes of its file; empty when they are
    // not all there.
    static std::span<const std::uint8_t> tensorBytes(const GgufTensor& tensor,
                                                     const std::uint8_t* file,
                                                     std::uint64_t available);

    QString fileName() const { return fileName_; }
    std::uint32_t version() const { return version_; }
    std::uint32_t alignment() const { return alignment_; }
    // Where the data section starts (the aligned end of the tensor infos); tensor offsets
    // count from here.
    std::uint64_t dataOffset() const { return dataOffset_; }

    // In file order.
    const std::vector<GgufKeyValue>& metadata() const { return metadata_; }
    const GgufValue* value(const QString& key) const;  // nullptr when absent
    bool has(const QString& key) const { return value(key) != nullptr; }

    // Typed access. Errors name the file, the key, what was expected and what was found. The
    // integer getters take any integer type whose value fits (writers differ: u32, i32, u64).
    Result<std::uint32_t> u32(const QString& key) const;
    Result<std::int32_t> i32(const QString& key) const;
    Result<std::uint64_t> u64(const QString& key) const;
    Result<std::int64_t> i64(const QString& key) const;
    Result<float> f32(const QString& key) const;  // FLOAT32, or FLOAT64 within float's range
    Result<double> f64(const QString& key) const;
    Result<bool> boolean(const QString& key) const;
    Result<QString> str(const QString& key) const;  // UTF-8 decoded
    Result<GgufStringArray> strings(const QString& key) const;
    Result<std::vector<float>> f32s(const QString& key) const;
    Result<std::vector<std::int32_t>> i32s(const QString& key) const;  // any integer elements

    // Optional keys: absent gives nullopt; present with the wrong type is still an error.
    Result<std::optional<std::uint32_t>> optionalU32(const QString& key) const;
    Result<std::optional<float>> optionalF32(const QString& key) const;
    Result<std::optional<bool>> optionalBool(const QString& key) const;
    Result<std::optional<QString>> optionalStr(const QString& key) const;
    Result<std::optional<GgufStringArray>> optionalStrings(const QString& key) const;

    // In the order of the file's tensor infos.
    const std::vector<GgufTensor>& tensors() const { return tensors_; }
    const GgufTensor* find(const QString& name) const;  // nullptr when absent

private:
    friend class GgufParser;
    GgufFile() = default;
    template <typename T, typename Get>
    Result<T> typed(const QString& key, const QString& expected, Get get) const;
    template <typename T, typename Get>
    Result<std::optional<T>> optionalTyped(const QString& key, const QString& expected,
                                           Get get) const;

    QString fileName_;
    std::uint32_t version_ = 0;
    std::uint32_t alignment_ = kDefaultAlignment;
    std::uint64_t dataOffset_ = 0;
    std::vector<GgufKeyValue> metadata_;
    QHash<QString, std::size_t> keyIndex_;
    std::vector<GgufTensor> tensors_;
    QHash<QString, std::size_t> tensorIndex_;
};

namespace gguf_detail {
bool isInteger(GgufType type);
bool isSigned(GgufType type);
int scalarBytes(GgufType type);  // bytes of a number or BOOL; 0 for STRING and ARRAY
std::uint64_t loadLittleEndian(const std::uint8_t* p, int bytes);

// `bits` holds a value of integer type `type`, zero-extended.
template <typename T>
std::optional<T> fitInteger(GgufType type, std::uint64_t bits) {
    const int width = scalarBytes(type);
    if (isSigned(type)) {
        const int shift = 64 - 8 * width;
        const auto v = static_cast<std::int64_t>(bits << shift) >> shift;
        if (!std::in_range<T>(v)) return std::nullopt;
        return static_cast<T>(v);
    }
    if (!std::in_range<T>(bits)) return std::nullopt;
    return static_cast<T>(bits);
}
}  // namespace gguf_detail

template <typename T>
std::optional<T> GgufValue::integer() const {
    if (!gguf_detail::isInteger(type_)) return std::nullopt;
    return gguf_detail::fitInteger<T>(type_, bits_);
}

template <typename T>
std::optional<T> GgufValue::integerAt(std::uint64_t i) const {
    if (!isArray() || !gguf_detail::isInteger(elementType_) || i >= count_) return std::nullopt;
    const int width = gguf_detail::scalarBytes(elementType_);
    return gguf_detail::fitInteger<T>(
        elementType_, gguf_detail::loadLittleEndian(raw_.data() + i * width, width));
}

}  // namespace kvscope
