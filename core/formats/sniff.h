#pragma once
// Identifies a model file by its first bytes, never by its name: a llama2.c checkpoint and a
// PyTorch pickle both end in .bin, and a renamed file must get the right message.

#include <QString>

#include <cstdint>

namespace kvscope {

enum class FileKind {
    Safetensors,  // u64 header length, then a JSON object
    Llama2c,      // "ak42" magic, or a legacy header that accounts for the whole file
    Gguf,         // "GGUF" magic
    Zip,          // PyTorch's zip checkpoints (torch.save since 1.6): hold a pickle
    Pickle,       // a bare pickle (older torch.save, .pkl): unpickling runs code
    Unknown,
};

// Leading bytes sniffFile() looks at (fewer are fine for a shorter file).
constexpr std::uint64_t kSniffBytes = 256;

FileKind sniffFile(const std::uint8_t* bytes, std::uint64_t available, std::uint64_t fileSize);
QString fileKindName(FileKind kind);
// The first few bytes as hex and printable text, for a message about an unknown file.
QString describeLeadingBytes(const std::uint8_t* bytes, std::uint64_t available);

}  // namespace kvscope
