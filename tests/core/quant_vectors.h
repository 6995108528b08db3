#pragma once
// Test support: reads tests/tensor/quant_vectors.json, the vectors ggml_quants.py (numpy,
// written from the format definitions) computed for every weight type; see
// tests/tensor/README.md.

#include "tensor/ggml_type.h"

#include <QByteArray>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QString>

#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

namespace kvscope::test {

inline QJsonObject quantVectors() {
    QFile f(QStringLiteral(KVSCOPE_FIXTURES "/tensor/quant_vectors.json"));
    if (!f.open(QIODevice::ReadOnly)) return {};
    return QJsonDocument::fromJson(f.readAll()).object();
}

inline QByteArray base64Field(const QJsonObject& o, const char* key) {
    return QByteArray::fromBase64(o.value(QLatin1String(key)).toString().toLatin1());
}

inline std::vector<float> floatsField(const QJsonObject& o, const char* key) {
    const QByteArray bytes = base64Field(o, key);  // little-endian float32 bits
    std::vector<float> out(std::size_t(bytes.size()) / 4);
    std::memcpy(out.data(), bytes.constData(), out.size() * 4);
    return out;
}

inline const std::uint8_t* bytesOf(const QByteArray& a) {
    return reinterpret_cast<const std::uint8_t*>(a.constData());
}

// The GgmlType named `name` ("Q4_K"), found by its name in ggml_type.h's table.
inline std::optional<GgmlType> ggmlTypeNamed(const QString& name) {
    for (std::uint32_t id = 0; id < 64; ++id) {
        const auto t = ggmlTypeTraits(id);
        if (t && QString::fromUtf8(t->name.data(), qsizetype(t->name.size())) == name)
            return t->type;
    }
    return std::nullopt;
}

}  // namespace kvscope::test
