#pragma once
// Float32 views of the tensors of one safetensors file. F32 tensors are used in place from the
// memory mapping (no copy); F16/BF16 tensors, and F32 data that is not 4-byte aligned, are
// converted once into owned buffers.

#include "result.h"
#include "safetensors.h"

#include <QString>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <vector>

class QFile;

namespace kvscope {

class WeightStore {
public:
    // Memory-maps `path` read-only.
    static Result<std::shared_ptr<WeightStore>> open(const QString& path);
    // Uses bytes that stay valid while `keepAlive` lives (e.g. an embedded resource).
    static Result<std::shared_ptr<WeightStore>> fromBytes(std::shared_ptr<const void> keepAlive,
                                                          const std::uint8_t* data,
                                                          std::uint64_t size, const QString& name);
    ~WeightStore();

    // The tensor `name` (also found under the "transformer." prefix) as float32, after checking
    // that its shape is `shape`. Throws LoadError naming the file, the tensor, the expected shape
    // and its origin (`origin`, e.g. "config.json: n_embd=64") and what the file holds.
    const float* tensor(const QString& name, std::initializer_list<std::int64_t> shape,
                        const QString& origin);
    bool has(const QString& name) const;

    QString fileName() const { return table_.fileName(); }
    std::int64_t mappedBytes() const { return mappedBytes_; }
    std::int64_t convertedBytes() const { return convertedBytes_; }

private:
    WeightStore(SafetensorsFile table, const std::uint8_t* data);
    const TensorInfo* lookup(const QString& name) const;

    SafetensorsFile table_;
    const std::uint8_t* data_ = nullptr;
    std::unique_ptr<QFile> file_;
    std::shared_ptr<const void> keepAlive_;
    std::vector<std::unique_ptr<float[]>> converted_;
    std::int64_t mappedBytes_ = 0;
    std::int64_t convertedBytes_ = 0;
};

}  // namespace kvscope
