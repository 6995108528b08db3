#include "formats/sniff.h"

#include "formats/llama2c.h"

#include <QStringList>

#include <cstring>

namespace kvscope {
namespace {

bool startsWith(const std::uint8_t* bytes, std::uint64_t available, const char* magic) {
    const std::size_t n = std::strlen(magic);
    return available >= n && std::memcmp(bytes, magic, n) == 0;
}

// The length prefix fits the file and the header opens a JSON object.
bool looksLikeSafetensors(const std::uint8_t* b, std::uint64_t available, std::uint64_t size) {
    if (available < 9) return false;
    std::uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | b[i];
    return n >= 2 && n <= size - 8 && b[8] == '{';
}

}  // namespace

FileKind sniffFile(const std::uint8_t* bytes, std::uint64_t available, std::uint64_t fileSize) {
    if (startsWith(bytes, available, "GGUF")) return FileKind::Gguf;
    if (startsWith(bytes, available, "PK\x03\x04")) return FileKind::Zip;
    // Before the pickle test: a legacy llama2.c header has no magic (dim = 640 starts with the
    // bytes 80 02), but it must account for the file's exact size, which a pickle never does.
    if (looksLikeLlama2c(bytes, available, fileSize)) return FileKind::Llama2c;
    if (looksLikeSafetensors(bytes, available, fileSize)) return FileKind::Safetensors;
    // Pickle protocol 2 to 5 opens with PROTO (0x80) and the protocol number.
    if (available >= 2 && bytes[0] == 0x80 && bytes[1] >= 2 && bytes[1] <= 5)
        return FileKind::Pickle;
    return FileKind::Unknown;
}

QString fileKindName(FileKind kind) {
    switch (kind) {
        case FileKind::Safetensors:
            return QStringLiteral("safetensors");
        case FileKind::Llama2c:
            return QStringLiteral("llama2.c checkpoint");
        case FileKind::Gguf:
            return QStringLiteral("GGUF");
        case FileKind::Zip:
            return QStringLiteral("zip archive (a PyTorch checkpoint)");
        case FileKind::Pickle:
            return QStringLiteral("Python pickle");
        case FileKind::Unknown:
            break;
    }
    return QStringLiteral("unknown format");
}

QString describeLeadingBytes(const std::uint8_t* bytes, std::uint64_t available) {
    QStringList hex;
    QString text;
    for (std::uint64_t i = 0; i < std::min<std::uint64_t>(available, 8); ++i) {
        hex << QStringLiteral("%1").arg(bytes[i], 2, 16, QLatin1Char('0'));
        text += bytes[i] >= 0x20 && bytes[i] < 0x7f ? QChar(bytes[i]) : QChar(u'.');
    }
    return available == 0 ? QStringLiteral("an empty file")
                          : QStringLiteral("first bytes %1 (\"%2\")").arg(hex.join(u' '), text);
}

}  // namespace kvscope
