#pragma once
// Test support: writes a small random GPT-2 folder (config.json, model.safetensors, vocab.json,
// merges.txt) so tests can reach any context length or corrupt any field without committed
// fixtures. The tokenizer is the 256 byte symbols plus <|endoftext|>, with no merges.

#include <QByteArray>
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRandomGenerator>
#include <QString>

#include <cstdint>
#include <cstring>
#include <vector>

namespace kvscope::test {

struct TinyShape {
    int nLayer = 2, nHead = 2, nEmbd = 16, nPositions = 320, vocab = 257;
};

struct TensorSpec {
    QString name;
    std::vector<std::int64_t> shape;
    std::vector<float> data;
};

inline std::vector<TensorSpec> tinyTensors(const TinyShape& s, std::uint32_t seed = 7) {
    QRandomGenerator rng(seed);
    const std::int64_t d = s.nEmbd;
    auto make = [&](const QString& name, std::vector<std::int64_t> shape, float scale, float bias) {
        std::int64_t n = 1;
        for (auto x : shape) n *= x;
        TensorSpec t{name, shape, std::vector<float>(std::size_t(n))};
        for (float& v : t.data) v = bias + scale * float(rng.generateDouble() * 2 - 1);
        return t;
    };
    std::vector<TensorSpec> out;
    out.push_back(make(QStringLiteral("wte.weight"), {s.vocab, d}, 0.5f, 0));
    out.push_back(make(QStringLiteral("wpe.weight"), {s.nPositions, d}, 0.1f, 0));
    for (int i = 0; i < s.nLayer; ++i) {
        const QString p = QStringLiteral("h.%1.").arg(i);
        out.push_back(make(p + "ln_1.weight", {d}, 0.1f, 1));
        out.push_back(make(p + "ln_1.bias", {d}, 0.1f, 0));
        out.push_back(make(p + "attn.c_attn.weight", {d, 3 * d}, 0.3f, 0));
        out.push_back(make(p + "attn.c_attn.bias", {3 * d}, 0.1f, 0));
        out.push_back(make(p + "attn.c_proj.weight", {d, d}, 0.3f, 0));
        out.push_back(make(p + "attn.c_proj.bias", {d}, 0.1f, 0));
        out.push_back(make(p + "ln_2.weight", {d}, 0.1f, 1));
        out.push_back(make(p + "ln_2.bias", {d}, 0.1f, 0));
        out.push_back(make(p + "mlp.c_fc.weight", {d, 4 * d}, 0.3f, 0));
        out.push_back(make(p + "mlp.c_fc.bias", {4 * d}, 0.1f, 0));
        out.push_back(make(p + "mlp.c_proj.weight", {4 * d, d}, 0.3f, 0));
        out.push_back(make(p + "mlp.c_proj.bias", {d}, 0.1f, 0));
    }
    out.push_back(make(QStringLiteral("ln_f.weight"), {d}, 0.1f, 1));
    out.push_back(make(QStringLiteral("ln_f.bias"), {d}, 0.1f, 0));
    return out;
}

// Serialises float32 tensors as safetensors: u64 header length, JSON header, data.
inline QByteArray safetensorsBytes(const std::vector<TensorSpec>& tensors) {
    QJsonObject header;
    QByteArray data;
    for (const TensorSpec& t : tensors) {
        QJsonArray shape;
        for (auto x : t.shape) shape.append(qint64(x));
        const qint64 begin = data.size();
        data.append(reinterpret_cast<const char*>(t.data.data()), qsizetype(t.data.size() * 4));
        header.insert(t.name,
                      QJsonObject{{"dtype", "F32"},
                                  {"shape", shape},
                                  {"data_offsets", QJsonArray{begin, qint64(data.size())}}});
    }
    QByteArray json = QJsonDocument(header).toJson(QJsonDocument::Compact);
    while ((8 + json.size()) % 8) json.append(' ');
    QByteArray out(8, '\0');
    const std::uint64_t n = std::uint64_t(json.size());
    for (int i = 0; i < 8; ++i) out[i] = char((n >> (8 * i)) & 0xff);
    return out + json + data;
}

inline QByteArray tinyConfig(const TinyShape& s) {
    return QJsonDocument(QJsonObject{{"model_type", "gpt2"},
                                     {"n_layer", s.nLayer},
                                     {"n_head", s.nHead},
                                     {"n_embd", s.nEmbd},
                                     {"n_positions", s.nPositions},
                                     {"vocab_size", s.vocab},
                                     {"layer_norm_epsilon", 1e-5}})
        .toJson();
}

// GPT-2's byte-to-unicode alphabet: printable Latin-1 bytes stand for themselves, the others are
// shifted to 256 + k so every byte has a visible symbol.
inline QByteArray byteVocabJson() {
    QJsonObject vocab;
    int shifted = 0;
    for (int b = 0; b < 256; ++b) {
        const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
        const char32_t cp = printable ? char32_t(b) : char32_t(256 + shifted++);
        vocab.insert(QString::fromUcs4(&cp, 1), b);
    }
    vocab.insert(QStringLiteral("<|endoftext|>"), 256);
    return QJsonDocument(vocab).toJson(QJsonDocument::Compact);
}

inline bool writeFile(const QString& path, const QByteArray& bytes) {
    QFile f(path);
    return f.open(QIODevice::WriteOnly) && f.write(bytes) == bytes.size();
}

// Writes a complete tiny model folder into `dir`.
inline bool writeTinyModel(const QString& dir, const TinyShape& s = {}, std::uint32_t seed = 7) {
    QDir().mkpath(dir);
    const QDir d(dir);
    return writeFile(d.filePath("config.json"), tinyConfig(s)) &&
           writeFile(d.filePath("model.safetensors"), safetensorsBytes(tinyTensors(s, seed))) &&
           writeFile(d.filePath("vocab.json"), byteVocabJson()) &&
           writeFile(d.filePath("merges.txt"), "#version: 0.2\n");
}

}  // namespace kvscope::test
