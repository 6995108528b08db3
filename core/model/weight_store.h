#pragma once
// Reads the tensors of one weights file (safetensors, llama2.c) as float32 into memory the caller
// owns (copy on load). The format's reader supplies the tensor table; this class only reads.
// Nothing stays mapped, so a model file that is replaced, truncated or deleted while the model is
// in use cannot reach the running model; only the load itself reads the file, and a file that gets
// shorter during the load is reported as an error.

#include "formats/safetensors.h"
#include "util/result.h"

#include <QHash>
#include <QString>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <vector>

class QFile;

namespace kvscope {

// How many of a model's parameters a file stores in one type, and in how many bytes.
struct WeightTypeShare {
    GgmlType type = GgmlType::F32;
    std::int64_t parameters = 0;
    std::int64_t fileBytes = 0;
};

class WeightStore {
public:
    // Opens `path` and reads and validates its header; tensor bytes are read on demand.
    static Result<std::unique_ptr<WeightStore>> open(const QString& path);
    // A file already in memory (e.g. an embedded resource); the bytes must outlive the store.
    static Result<std::unique_ptr<WeightStore>> fromBytes(const std::uint8_t* data,
                                                          std::uint64_t size, const QString& name);
    // Any format: `tensors` (already checked to lie inside the file) read from `file`, which
    // must be open for reading.
    static std::unique_ptr<WeightStore> overFile(std::unique_ptr<QFile> file, const QString& name,
                                                 std::vector<TensorInfo> tensors);
    // A model sharded over several files: each tensor's `file` indexes `files`.
    static std::unique_ptr<WeightStore> overFiles(std::vector<std::unique_ptr<QFile>> files,
                                                  const QString& name,
                                                  std::vector<TensorInfo> tensors);
    ~WeightStore();

    // The tensor `name` (also found under the "transformer." prefix) after checking that its
    // shape is `shape`. Throws LoadError naming the file, the tensor, the expected shape and its
    // origin (`origin`, e.g. "config.json: n_embd=64") and what the file holds.
    const TensorInfo& find(const QString& name, std::initializer_list<std::int64_t> shape,
                           const QString& origin) const;
    // Writes the tensor as float32 to dst (elementCount() floats). Throws LoadError when the
    // bytes cannot be read, e.g. the file was truncated after it was opened.
    void read(const TensorInfo& tensor, float* dst);
    // The tensor's bytes as stored, end - begin of them (quantized blocks stay quantized).
    void readStored(const TensorInfo& tensor, std::uint8_t* dst);
    // The ggml type of the stored bytes (F32, F16, BF16 for safetensors and llama2.c).
    static GgmlType storedType(const TensorInfo& tensor);
    bool has(const QString& name) const;
    // The tensor's entry without checking its shape; nullptr when absent.
    const TensorInfo* info(const QString& name) const { return lookup(name); }

    QString fileName() const { return fileName_; }
    // Bytes read as float32, and bytes converted to float32 from F16/BF16.
    std::int64_t readBytes() const { return readBytes_; }
    std::int64_t convertedBytes() const { return convertedBytes_; }
    // Bytes kept as stored (quantized weights).
    std::int64_t storedBytes() const { return storedBytes_; }
    // What was read, by the type the file stores it in, most parameters first.
    std::vector<WeightTypeShare> typeShares() const;

private:
    WeightStore(QString fileName, std::vector<TensorInfo> tensors);
    const TensorInfo* lookup(const QString& name) const;
    void readRaw(const TensorInfo& t, std::uint64_t offset, std::uint64_t size, std::uint8_t* dst);
    void readGgml(const TensorInfo& tensor, float* dst);
    void count(const TensorInfo& tensor);

    QString fileName_;
    std::vector<TensorInfo> tensors_;
    QHash<QString, std::size_t> index_;
    std::vector<std::unique_ptr<QFile>> files_;  // set when reading from files
    const std::uint8_t* memory_ = nullptr;       // set when reading from memory
    std::vector<std::uint8_t> chunk_;            // raw bytes of one chunk before conversion
    std::int64_t readBytes_ = 0;
    std::int64_t convertedBytes_ = 0;
    std::int64_t storedBytes_ = 0;
    std::vector<WeightTypeShare> shares_;
};

}  // namespace kvscope
