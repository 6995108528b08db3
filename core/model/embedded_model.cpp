#include "model/embedded_model.h"

#include <QResource>

// Resources compiled into a static library must be registered by hand.
static void initEmbeddedModelResource() {
    Q_INIT_RESOURCE(default_model);
}

namespace kvscope {
namespace {

QString path(const char* file) {
    return QStringLiteral(":/kvscope/model/") + QLatin1String(file);
}

}  // namespace

Result<ModelPtr> loadEmbeddedModel(const LoadProgress& progress) {
    initEmbeddedModelResource();
    ModelSources s;
    s.name = QLatin1String(kEmbeddedModelName);
    const QResource weights(path("model.safetensors"));
    if (!weights.isValid())
        return Error{QStringLiteral("%1: missing from this build").arg(path("model.safetensors"))};
    for (auto [file, target] :
         {std::pair{"config.json", &s.configJson}, std::pair{"vocab.json", &s.vocabJson},
          std::pair{"merges.txt", &s.merges}}) {
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

}  // namespace kvscope
