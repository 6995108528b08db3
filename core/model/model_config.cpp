#include "model/model_config.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QJsonParseError>

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
    if (type != QLatin1String("gpt2"))
        return Error{QStringLiteral("%1: field \"model_type\": expected \"gpt2\" (model folders "
                                    "are read as GPT-2; Llama models open from llama2.c "
                                    "checkpoints), found \"%2\"")
                         .arg(fileName, type)};
    try {
        return parseGpt2(o, fileName);
    } catch (const LoadError& e) {
        return Error{e.message()};
    }
}

}  // namespace kvscope
