#include "model/embedded_model.h"

#include <QResource>
#include <QStringList>

// Resources compiled into a static library must be registered by hand.
static void initEmbeddedModelResource() {
    Q_INIT_RESOURCE(default_model);
}

namespace kvscope {
namespace {

const QString kPrefix = QStringLiteral("embedded:");

QString path(const char* file) {
    return QStringLiteral(":/kvscope/model/") + QLatin1String(file);
}

QString keys() {
    QStringList k;
    for (const EmbeddedModel& m : embeddedModels()) k << m.key;
    return k.join(QStringLiteral(", "));
}

Result<ModelPtr> loadGpt2(const EmbeddedModel& m, const LoadProgress& progress) {
    ModelSources s;
    s.name = m.title;
    s.source = embeddedModelPath(m.key);
    const QResource weights(path("gpt2/model.safetensors"));
    if (!weights.isValid())
        return Error{QStringLiteral("%1: missing from this build").arg(weights.fileName())};
    for (auto [file, target] :
         {std::pair{"gpt2/config.json", &s.configJson}, std::pair{"gpt2/vocab.json", &s.vocabJson},
          std::pair{"gpt2/merges.txt", &s.merges}}) {
        const QResource r(path(file));
        if (!r.isValid())
            return Error{QStringLiteral("%1: missing from this build").arg(path(file))};
        *target = r.uncompressedData();
    }
    if (weights.compressionAlgorithm() == QResource::NoCompression) {
        // Read from where the bytes live in the executable: no copy before the model's own.
        s.weights = weights.data();
        s.weightsSize = std::uint64_t(weights.size());
    } else {
        auto bytes = std::make_shared<QByteArray>(weights.uncompressedData());
        s.weights = reinterpret_cast<const std::uint8_t*>(bytes->constData());
        s.weightsSize = std::uint64_t(bytes->size());
        s.keepAlive = bytes;
    }
    return loadModel(s, progress);
}

}  // namespace

const std::vector<EmbeddedModel>& embeddedModels() {
    static const std::vector<EmbeddedModel> models{
        {QStringLiteral("gpt2"), QStringLiteral("kvscope tiny GPT-2 (embedded:gpt2)"),
         QStringLiteral("GPT-2, 6 layers, 6 heads, 96 wide, 2,163-token byte-level BPE, "
                        "trained on the project's stories")},
        {QStringLiteral("llama"), QStringLiteral("kvscope tiny Llama (embedded:llama)"),
         QStringLiteral("Llama, 6 layers, 8 query heads sharing 2 KV heads, 96 wide, "
                        "2,560-piece SentencePiece, trained on the same stories")},
    };
    return models;
}

QString defaultEmbeddedModel() {
    return embeddedModels().front().key;
}

QString embeddedModelsHelp() {
    QStringList lines;
    for (const EmbeddedModel& m : embeddedModels())
        lines << QStringLiteral("%1%2: %3")
                     .arg(embeddedModelPath(m.key),
                          m.key == defaultEmbeddedModel() ? QStringLiteral(" (the default)")
                                                          : QString(),
                          m.summary);
    return lines.join(QStringLiteral("; "));
}

QString embeddedModelPath(const QString& key) {
    return kPrefix + key;
}

QString embeddedModelKey(const QString& path) {
    return path.startsWith(kPrefix) ? path.mid(kPrefix.size()) : QString();
}

Result<ModelPtr> loadEmbeddedModel(const QString& key, const LoadProgress& progress,
                                   const LoadOptions& options) {
    initEmbeddedModelResource();
    const QString k = key.isEmpty() ? defaultEmbeddedModel() : key;
    for (const EmbeddedModel& m : embeddedModels()) {
        if (m.key != k) continue;
        if (k == QLatin1String("gpt2")) return loadGpt2(m, progress);
        LoadOptions named = options;
        named.name = m.title;
        named.source = embeddedModelPath(k);
        return loadModel(path("llama/model.gguf"), progress, named);
    }
    return Error{QStringLiteral("%1: no such embedded model: expected one of %2")
                     .arg(embeddedModelPath(k), keys())};
}

}  // namespace kvscope
