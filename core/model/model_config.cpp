#include "model/model_config.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QJsonParseError>

#include <algorithm>
#include <cmath>

namespace kvscope {
namespace {

QString describe(const QJsonValue& v) {
    if (v.isDouble()) return QString::number(v.toDouble(), 'g', 17);
    if (v.isString()) return QStringLiteral("the string \"%1\"").arg(v.toString().left(40));
    if (v.isBool()) return v.toBool() ? QStringLiteral("true") : QStringLiteral("false");
    if (v.isNull()) return QStringLiteral("null");
    return v.isArray() ? QStringLiteral("an array") : QStringLiteral("an object");
}

// Reads an integer field that must lie in [lo, hi]; the first of `keys` present wins, so the
// several spellings Hugging Face configs use (n_embd / hidden_size) are accepted.
int readInt(const QJsonObject& o, std::initializer_list<const char*> keys, int lo, int hi,
            const QString& file, bool required = true, int fallback = 0) {
    for (const char* key : keys) {
        if (!o.contains(QLatin1String(key))) continue;
        const QJsonValue v = o.value(QLatin1String(key));
        const double d = v.toDouble(std::nan(""));
        if (!v.isDouble() || std::isnan(d) || d != std::floor(d))
            throw LoadError(QStringLiteral("%1: field \"%2\": expected an integer, found %3")
                                .arg(file, QLatin1String(key), describe(v)));
        if (d < lo || d > hi)
            throw LoadError(
                QStringLiteral("%1: field \"%2\": expected an integer in [%3, %4], found %5")
                    .arg(file, QLatin1String(key))
                    .arg(lo)
                    .arg(hi)
                    .arg(d, 0, 'g', 17));
        return static_cast<int>(d);
    }
    if (!required) return fallback;
    throw LoadError(QStringLiteral("%1: field \"%2\" is missing (expected an integer)")
                        .arg(file, QLatin1String(*keys.begin())));
}

ModelConfig parseGpt2(const QJsonObject& o, const QString& file) {
    ModelConfig c;
    c.nLayer = readInt(o, {"n_layer", "num_hidden_layers"}, 1, kMaxLayers, file);
    c.nHead = readInt(o, {"n_head", "num_attention_heads"}, 1, kMaxEmbd, file);
    c.nEmbd = readInt(o, {"n_embd", "hidden_size"}, 1, kMaxEmbd, file);
    c.nPositions =
        readInt(o, {"n_positions", "n_ctx", "max_position_embeddings"}, 1, kMaxPositions, file);
    c.vocabSize = readInt(o, {"vocab_size"}, 1, kMaxVocab, file);
    c.nInner = readInt(o, {"n_inner"}, 1, 4 * kMaxEmbd, file, false, 4 * c.nEmbd);
    c.nKvHead = c.nHead;
    if (c.nEmbd % c.nHead != 0)
        throw LoadError(QStringLiteral("%1: field \"n_embd\": expected a multiple of n_head (%2), "
                                       "found %3")
                            .arg(file)
                            .arg(c.nHead)
                            .arg(c.nEmbd));
    if (o.contains(QLatin1String("layer_norm_epsilon"))) {
        const QJsonValue v = o.value(QLatin1String("layer_norm_epsilon"));
        // Checked again after the conversion to float: a tiny double such as 1e-85 rounds to 0
        // (layer norm would divide by zero on a constant row) and 0.99999999999 rounds to 1.
        // The double is checked first because converting one beyond float's range is undefined.
        const double d = v.toDouble();
        const auto eps = [d] { return static_cast<float>(d); };
        if (!v.isDouble() || !(d > 0) || !(d < 1) || !(eps() > 0) || !(eps() < 1))
            throw LoadError(QStringLiteral("%1: field \"layer_norm_epsilon\": expected a number in "
                                           "(0, 1) that is not 0 or 1 in float32, found %2")
                                .arg(file, describe(v)));
        c.normEps = eps();
    }
    const QString act =
        o.value(QLatin1String("activation_function")).toString(QStringLiteral("gelu_new"));
    if (act != QLatin1String("gelu_new") && act != QLatin1String("gelu_pytorch_tanh") &&
        act != QLatin1String("gelu_fast"))
        throw LoadError(QStringLiteral("%1: field \"activation_function\": expected \"gelu_new\" "
                                       "(GPT-2's tanh GELU), found \"%2\"")
                            .arg(file, act));
    return c;
}

// A float field in (lo, hi), checked as a double and again as float (see layer_norm_epsilon).
float readFloat(const QJsonObject& o, const char* key, double lo, double hi, float fallback,
                const QString& file) {
    if (!o.contains(QLatin1String(key)) || o.value(QLatin1String(key)).isNull()) return fallback;
    const QJsonValue v = o.value(QLatin1String(key));
    const double d = v.toDouble();
    if (!v.isDouble() || !(d > lo) || !(d < hi) || !(float(d) > lo) || !(float(d) < hi))
        throw LoadError(QStringLiteral("%1: field \"%2\": expected a number in (%3, %4), found %5")
                            .arg(file, QLatin1String(key))
                            .arg(lo)
                            .arg(hi)
                            .arg(describe(v)));
    return float(d);
}

bool readBool(const QJsonObject& o, const char* key, bool fallback, const QString& file) {
    const QJsonValue v = o.value(QLatin1String(key));
    if (v.isUndefined() || v.isNull()) return fallback;
    if (!v.isBool())
        throw LoadError(QStringLiteral("%1: field \"%2\": expected true or false, found %3")
                            .arg(file, QLatin1String(key), describe(v)));
    return v.toBool();
}

// Hugging Face Llama, Mistral and Qwen2 folders: RMSNorm, SwiGLU, rotary embeddings rotating
// the first half of each head with the second (the conversion to Hugging Face permuted Q and K
// for it), grouped-query attention; Qwen2 adds Q, K and V biases.
ModelConfig parseLlamaFamily(const QJsonObject& o, const QString& type, const QString& file) {
    ModelConfig c;
    c.modelType = type == QLatin1String("qwen2") ? type : QStringLiteral("llama");
    c.nLayer = readInt(o, {"num_hidden_layers"}, 1, kMaxLayers, file);
    c.nHead = readInt(o, {"num_attention_heads"}, 1, kMaxEmbd, file);
    c.nEmbd = readInt(o, {"hidden_size"}, 1, kMaxEmbd, file);
    c.nKvHead = readInt(o, {"num_key_value_heads"}, 1, c.nHead, file, false, c.nHead);
    c.nInner = readInt(o, {"intermediate_size"}, 1, 16 * kMaxEmbd, file);
    c.nPositions = readInt(o, {"max_position_embeddings"}, 1, kMaxPositions, file);
    c.vocabSize = readInt(o, {"vocab_size"}, 1, kMaxVocab, file);
    if (c.nEmbd % c.nHead != 0 || c.nHead % c.nKvHead != 0)
        throw LoadError(QStringLiteral("%1: fields \"hidden_size\" (%2), \"num_attention_heads\" "
                                       "(%3), \"num_key_value_heads\" (%4): expected heads "
                                       "dividing hidden_size and KV heads dividing the heads")
                            .arg(file)
                            .arg(c.nEmbd)
                            .arg(c.nHead)
                            .arg(c.nKvHead));
    const int headDim = readInt(o, {"head_dim"}, 1, kMaxEmbd, file, false, c.nEmbd / c.nHead);
    if (headDim != c.nEmbd / c.nHead)
        throw LoadError(QStringLiteral("%1: field \"head_dim\": expected hidden_size / "
                                       "num_attention_heads = %2, found %3")
                            .arg(file)
                            .arg(c.nEmbd / c.nHead)
                            .arg(headDim));
    c.normEps = readFloat(o, "rms_norm_eps", 0, 1, 1e-6f, file);
    c.ropeTheta = readFloat(o, "rope_theta", 1, 1e12, 10000.0f, file);
    c.tiedLmHead = readBool(o, "tie_word_embeddings", false, file);
    c.norm = NormKind::RmsNorm;
    c.activation = Activation::SwiGlu;
    c.positions = PositionKind::Rotary;
    c.ropePairing = RopePairing::Halves;
    c.attnBias =
        c.modelType == QLatin1String("qwen2") || readBool(o, "attention_bias", false, file);
    c.projBias = false;
    const QString act = o.value(QLatin1String("hidden_act")).toString(QStringLiteral("silu"));
    if (act != QLatin1String("silu"))
        throw LoadError(QStringLiteral("%1: field \"hidden_act\": expected \"silu\", found \"%2\"")
                            .arg(file, act));
    const QJsonValue scaling = o.value(QLatin1String("rope_scaling"));
    if (!scaling.isUndefined() && !scaling.isNull())
        throw LoadError(QStringLiteral("%1: field \"rope_scaling\": expected null (scaled rotary "
                                       "embeddings are not supported), found %2")
                            .arg(file, describe(scaling)));
    // A sliding window as long as the context is no window at all; a shorter one is honoured by
    // running no further than it (attention within the window is then exactly causal).
    const bool slidingUsed =
        type != QLatin1String("qwen2") || readBool(o, "use_sliding_window", false, file);
    const int window = readInt(o, {"sliding_window"}, 1, kMaxPositions, file, false, 0);
    if (slidingUsed && window > 0) c.nPositions = std::min(c.nPositions, window);
    return c;
}

}  // namespace

Result<ModelConfig> parseModelConfig(const QByteArray& json, const QString& fileName) {
    QJsonParseError err{};
    const QJsonDocument doc = QJsonDocument::fromJson(json, &err);
    if (err.error != QJsonParseError::NoError)
        return Error{QStringLiteral("%1: invalid JSON at byte %2: %3")
                         .arg(fileName)
                         .arg(err.offset)
                         .arg(err.errorString())};
    if (!doc.isObject())
        return Error{QStringLiteral("%1: expected a JSON object at the top level").arg(fileName)};
    const QJsonObject o = doc.object();
    const QString type = o.value(QLatin1String("model_type")).toString(QStringLiteral("gpt2"));
    const bool llama = type == QLatin1String("llama") || type == QLatin1String("mistral") ||
                       type == QLatin1String("qwen2");
    if (type != QLatin1String("gpt2") && !llama)
        return Error{QStringLiteral("%1: field \"model_type\": expected \"gpt2\", \"llama\", "
                                    "\"mistral\" or \"qwen2\", found \"%2\"")
                         .arg(fileName, type)};
    try {
        if (llama) return parseLlamaFamily(o, type, fileName);
        return parseGpt2(o, fileName);
    } catch (const LoadError& e) {
        return Error{e.message()};
    }
}

}  // namespace kvscope
