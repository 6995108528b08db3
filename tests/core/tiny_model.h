#pragma once
// Test support: writes a small random GPT-2 folder (config.json, model.safetensors, vocab.json,
// merges.txt) so tests can reach any context length or corrupt any field without committed
// fixtures. The tokenizer is the 256 byte symbols plus <|endoftext|>, with no merges.

#include "arch/llama.h"
#include "model/model.h"
#include "model/weight_store.h"
#include "tokenizer/byte_level_bpe.h"

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

// A small random Llama (RMSNorm, RoPE, SwiGLU, grouped-query attention) with tensors under their
// canonical names, loaded straight into the engine: the architecture without any file format.
struct TinyLlamaShape {
    int nLayer = 2, nHead = 8, nKvHead = 2, nEmbd = 32, nInner = 48, nPositions = 320, vocab = 257;
    bool tied = false;
};

inline ModelConfig tinyLlamaConfig(const TinyLlamaShape& s) {
    ModelConfig c;
    c.modelType = QStringLiteral("llama");
    c.nLayer = s.nLayer, c.nHead = s.nHead, c.nKvHead = s.nKvHead, c.nEmbd = s.nEmbd;
    c.nInner = s.nInner, c.nPositions = s.nPositions, c.vocabSize = s.vocab;
    c.norm = NormKind::RmsNorm, c.activation = Activation::SwiGlu;
    c.positions = PositionKind::Rotary, c.tiedLmHead = s.tied;
    c.attnBias = false, c.projBias = false;
    return c;
}

inline std::vector<TensorSpec> tinyLlamaTensors(const TinyLlamaShape& s, std::uint32_t seed = 11) {
    QRandomGenerator rng(seed);
    const std::int64_t d = s.nEmbd, kv = std::int64_t(s.nKvHead) * (s.nEmbd / s.nHead);
    auto make = [&](const QString& name, std::vector<std::int64_t> shape, float scale, float bias) {
        std::int64_t n = 1;
        for (auto x : shape) n *= x;
        TensorSpec t{name, shape, std::vector<float>(std::size_t(n))};
        for (float& v : t.data) v = bias + scale * float(rng.generateDouble() * 2 - 1);
        return t;
    };
    std::vector<TensorSpec> out;
    out.push_back(make(QStringLiteral("token_embd.weight"), {s.vocab, d}, 0.5f, 0));
    for (int i = 0; i < s.nLayer; ++i) {
        const QString p = QStringLiteral("blk.%1.").arg(i);
        out.push_back(make(p + "attn_norm.weight", {d}, 0.1f, 1));
        out.push_back(make(p + "attn_q.weight", {d, d}, 0.3f, 0));
        out.push_back(make(p + "attn_k.weight", {kv, d}, 0.3f, 0));
        out.push_back(make(p + "attn_v.weight", {kv, d}, 0.3f, 0));
        out.push_back(make(p + "attn_output.weight", {d, d}, 0.3f, 0));
        out.push_back(make(p + "ffn_norm.weight", {d}, 0.1f, 1));
        out.push_back(make(p + "ffn_gate.weight", {s.nInner, d}, 0.3f, 0));
        out.push_back(make(p + "ffn_up.weight", {s.nInner, d}, 0.3f, 0));
        out.push_back(make(p + "ffn_down.weight", {d, s.nInner}, 0.3f, 0));
    }
    out.push_back(make(QStringLiteral("output_norm.weight"), {d}, 0.1f, 1));
    if (!s.tied) out.push_back(make(QStringLiteral("output.weight"), {s.vocab, d}, 0.3f, 0));
    return out;
}

inline ModelPtr tinyLlama(const TinyLlamaShape& s = {}, std::uint32_t seed = 11) {
    const QByteArray bytes = safetensorsBytes(tinyLlamaTensors(s, seed));
    auto store = WeightStore::fromBytes(reinterpret_cast<const std::uint8_t*>(bytes.constData()),
                                        std::uint64_t(bytes.size()), QStringLiteral("tiny-llama"));
    auto tokenizer =
        ByteLevelBpe::fromData(byteVocabJson(), "#version: 0.2\n", QStringLiteral("vocab.json"),
                               QStringLiteral("merges.txt"));
    if (!store || !tokenizer) return nullptr;
    auto model = std::make_shared<Model>();
    model->name = QStringLiteral("tiny-llama");
    model->config = tinyLlamaConfig(s);
    model->tokenizer = std::make_shared<const ByteLevelBpe>(tokenizer.take());
    model->transformer = makeLlama(model->config, *store.value());
    return model;
}

}  // namespace kvscope::test
