#pragma once
// Reader for the safetensors format: an 8-byte little-endian header length N, N bytes of JSON
// describing each tensor (dtype, shape, byte range), then the tensor bytes. The file is untrusted,
// so parse() checks every number in the header against the file before anyone uses it; once it
// returns a SafetensorsFile, every TensorInfo range lies inside the file and matches its shape.

#include "tensor/ggml_type.h"
#include "util/result.h"

#include <QHash>
#include <QMap>
#include <QString>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace kvscope {

// Only the float types that weights are stored in; the spec's integer, F64 and FP8 types are
// rejected with a message rather than silently misread.
enum class DType { F32, F16, BF16 };

struct TensorInfo {
    QString name;
    DType dtype = DType::F32;
    std::vector<std::int64_t> shape;  // empty = scalar (one element)
    std::uint64_t begin = 0,
                  end = 0;  // absolute byte offsets in the file (already shifted by 8 + N)
    // GGUF tensors: the ggml type the bytes are stored in (quantized ones stay so in memory);
    // `dtype` then means nothing.
    std::optional<GgmlType> ggml;
    int file = 0;  // which of a sharded model's files holds it (WeightStore::overFiles)
    // Product of shape; parse() guarantees it neither overflows nor disagrees with end - begin.
    std::int64_t elementCount() const;
};

// Parsed and validated table; does not own the bytes.
class SafetensorsFile {
public:
    // Largest header accepted. The reference implementation uses the same limit; real headers are
    // at most a few MB, so anything bigger is a corrupt length rather than a big model.
    static constexpr std::uint64_t kMaxHeaderSize = 100ull * 1024 * 1024;

    // `bytes` is the whole file (memory-mapped by the caller); `fileName` is used in messages.
    // Gaps between tensors and trailing bytes after the last one are accepted (some writers pad
    // for alignment although the spec forbids holes); overlapping ranges and duplicate JSON keys
    // are rejected.
    static Result<SafetensorsFile> parse(const std::uint8_t* bytes, std::uint64_t size,
                                         const QString& fileName);
    // The same checks when only the first `available` bytes of a `size`-byte file are in memory:
    // enough for the 8-byte prefix and the header that it announces (headerBytesNeeded()).
    static Result<SafetensorsFile> parseHeader(const std::uint8_t* bytes, std::uint64_t available,
                                               std::uint64_t size, const QString& fileName);

    // How many leading bytes of a `size`-byte file parseHeader() reads, given its first 8: the
    // prefix and the header it announces, capped by kMaxHeaderSize and the file (parseHeader()
    // rejects a header beyond either).
    static std::uint64_t headerBytesNeeded(const std::uint8_t* prefix, std::uint64_t size);

    // Sorted by begin, i.e. in file order, so sequential reads walk the file forwards.
    const std::vector<TensorInfo>& tensors() const { return tensors_; }
    const TensorInfo* find(const QString& name) const;  // nullptr when absent
    QString fileName() const { return fileName_; }
    QMap<QString, QString> metadata() const { return metadata_; }

private:
    SafetensorsFile() = default;

    QString fileName_;
    std::vector<TensorInfo> tensors_;
    QHash<QString, std::size_t> index_;
    QMap<QString, QString> metadata_;
};

// Converts one tensor to float32 (F32: memcpy-safe copy handling unaligned data; F16/BF16: exact
// conversion incl. subnormals, inf, NaN). Source bytes are little-endian as the format requires;
// `src` needs no alignment. Does nothing when count <= 0.
void convertToFloat32(const std::uint8_t* src, DType dtype, std::int64_t count, float* dst);
float halfToFloat(std::uint16_t h);
float bfloat16ToFloat(std::uint16_t b);
QString dtypeName(DType);
std::size_t dtypeSize(DType);

}  // namespace kvscope
