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

QString path(const QString& file) {
    return QStringLiteral(":/kvscope/model/") + file;
}

QString keys() {
    QStringList k;
    for (const EmbeddedModel& m : embeddedModels()) k << m.key;
    return k.join(QStringLiteral(", "));
}

// A Hugging Face GPT-2 folder's four files under NAME/ in the resource, read from memory.
Result<ModelPtr> loadFolder(const EmbeddedModel& m, const LoadProgress& progress) {
    ModelSources s;
    s.name = m.title;
    s.source = embeddedModelPath(m.key);
    const QString dir = m.key + QLatin1Char('/');
    const QResource weights(path(dir + QStringLiteral("model.safetensors")));
    if (!weights.isValid())
        return Error{QStringLiteral("%1: missing from this build").arg(weights.fileName())};
    for (auto [file, target] :
         {std::pair{"config.json", &s.configJson}, std::pair{"vocab.json", &s.vocabJson},
          std::pair{"merges.txt", &s.merges}}) {
        const QResource r(path(dir + QLatin1String(file)));
        if (!r.isValid())
            return Error{QStringLiteral("%1: missing from this build").arg(r.fileName())};
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
        // A model is stored either as one GGUF file or as a GPT-2 folder's four files.
        const QString gguf = path(k + QStringLiteral("/model.gguf"));
        if (!QResource(gguf).isValid()) return loadFolder(m, progress);
        LoadOptions named = options;
        named.name = m.title;
        named.source = embeddedModelPath(k);
        return loadModel(gguf, progress, named);
    }
    return Error{QStringLiteral("%1: no such embedded model: expected one of %2")
                     .arg(embeddedModelPath(k), keys())};
}

}  // namespace kvscope
