#include "model/model.h"

#include "arch/gpt2.h"
#include "model/weight_store.h"
#include "tokenizer/byte_level_bpe.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>

namespace kvscope {
namespace {

const QStringList kPickleSuffixes = {QStringLiteral("bin"), QStringLiteral("pt"),
                                     QStringLiteral("pth"), QStringLiteral("ckpt"),
                                     QStringLiteral("pkl")};

Error pickleRefusal(const QString& path) {
    return Error{
        QStringLiteral("%1: refused: PyTorch pickle checkpoints can run arbitrary code when they "
                       "are loaded, so kvscope reads only safetensors. Convert it once, in an "
                       "environment you trust, with Python and the transformers package: "
                       "GPT2LMHeadModel.from_pretrained(folder).save_pretrained(folder, "
                       "safe_serialization=True), which writes model.safetensors next to it.")
            .arg(path)};
}

Result<QByteArray> readSmallFile(const QString& path) {
    QFile f(path);
    if (!f.exists())
        return Error{QStringLiteral("%1: missing (a GPT-2 model folder needs config.json, "
                                    "model.safetensors, vocab.json and merges.txt)")
                         .arg(path)};
    if (!f.open(QIODevice::ReadOnly))
        return Error{QStringLiteral("%1: cannot open for reading: %2").arg(path, f.errorString())};
    constexpr qint64 kMaxTextFile = 256 << 20;
    if (f.size() > kMaxTextFile)
        return Error{QStringLiteral("%1: %2 bytes, expected at most %3 for a text file")
                         .arg(path)
                         .arg(f.size())
                         .arg(kMaxTextFile)};
    return f.readAll();
}

// Resolves `path` to the model folder and its weights file, refusing pickle checkpoints.
Result<QString> modelFolder(const QString& path) {
    const QFileInfo info(path);
    if (!info.exists()) return Error{QStringLiteral("%1: no such file or folder").arg(path)};
    if (info.isFile()) {
        if (kPickleSuffixes.contains(info.suffix().toLower())) return pickleRefusal(path);
        if (info.suffix().toLower() != QLatin1String("safetensors"))
            return Error{QStringLiteral("%1: expected a model folder or its model.safetensors, "
                                        "found a .%2 file")
                             .arg(path, info.suffix())};
        return info.absolutePath();
    }
    const QDir dir(path);
    if (dir.exists(QStringLiteral("model.safetensors"))) return dir.absolutePath();
    for (const QFileInfo& f : dir.entryInfoList(QDir::Files)) {
        if (kPickleSuffixes.contains(f.suffix().toLower())) return pickleRefusal(f.filePath());
    }
    return Error{
        QStringLiteral("%1: no model here: expected model.safetensors with config.json, "
                       "vocab.json and merges.txt, found %2")
            .arg(path, dir.entryList(QDir::Files).isEmpty()
                           ? QStringLiteral("no files")
                           : dir.entryList(QDir::Files).mid(0, 8).join(QStringLiteral(", ")))};
}

// The phases of a load, run in order with progress reported between them, so a config error is
// found before the tokenizer and the weights are read.
struct LoadSteps {
    QString name, source;
    QByteArray configJson;
    std::function<Result<ByteLevelBpe>()> tokenizer;
    std::function<Result<std::unique_ptr<WeightStore>>()> weights;
};

struct Cancelled {};

Result<ModelPtr> assemble(const LoadSteps& steps, const LoadProgress& progress) {
    const QString configName = QStringLiteral("config.json");
    auto report = [&](double f, const QString& stage) {
        if (progress && !progress(f, stage)) throw Cancelled{};
    };
    try {
        report(0.0, QStringLiteral("reading config.json"));
        auto config = parseModelConfig(steps.configJson, configName);
        if (!config) return config.error();
        report(0.05, QStringLiteral("reading the vocabulary and merges"));
        auto tokenizer = steps.tokenizer();
        if (!tokenizer) return tokenizer.error();
        if (tokenizer.value().vocabSize() > config.value().vocabSize)
            return Error{QStringLiteral("vocab.json: holds %1 tokens, expected at most "
                                        "vocab_size=%2 from %3")
                             .arg(tokenizer.value().vocabSize())
                             .arg(config.value().vocabSize)
                             .arg(configName)};
        report(0.3, QStringLiteral("reading model.safetensors"));
        auto store = steps.weights();
        if (!store) return store.error();
        auto model = std::make_shared<Model>();
        model->tokenizer = std::make_shared<const ByteLevelBpe>(tokenizer.take());
        model->name = steps.name;
        model->source = steps.source;
        model->config = config.value();
        const int layers = model->config.nLayer;
        WeightStore& weights = *store.value();
        model->transformer = makeGpt2(model->config, weights, [&](int layer) {
            report(0.35 + 0.65 * (layer + 1) / layers,
                   QStringLiteral("reading layer %1 of %2").arg(layer + 1).arg(layers));
        });
        model->weightBytes = weights.readBytes() + weights.convertedBytes();
        model->convertedBytes = weights.convertedBytes();
        return ModelPtr(std::move(model));
    } catch (const LoadError& e) {
        return Error{e.message()};
    } catch (const Cancelled&) {
        return Error{QStringLiteral("%1: loading cancelled").arg(steps.source)};
    }
}

}  // namespace

Result<ModelPtr> loadModel(const QString& path, const LoadProgress& progress) {
    auto folder = modelFolder(path);
    if (!folder) return folder.error();
    const QDir dir(folder.value());
    auto configJson = readSmallFile(dir.filePath(QStringLiteral("config.json")));
    if (!configJson) return configJson.error();
    const QString vocab = dir.filePath(QStringLiteral("vocab.json"));
    const QString merges = dir.filePath(QStringLiteral("merges.txt"));
    for (const QString& f : {vocab, merges}) {
        if (!QFileInfo::exists(f)) return readSmallFile(f).error();
    }
    const QString weights = QFileInfo(path).isFile()
                                ? QFileInfo(path).absoluteFilePath()
                                : dir.filePath(QStringLiteral("model.safetensors"));
    return assemble(LoadSteps{dir.dirName(), dir.absolutePath(), configJson.value(),
                              [=] { return ByteLevelBpe::fromFiles(vocab, merges); },
                              [=] { return WeightStore::open(weights); }},
                    progress);
}

Result<ModelPtr> loadModel(const ModelSources& s, const LoadProgress& progress) {
    return assemble(LoadSteps{s.name, s.name, s.configJson,
                              [&] {
                                  return ByteLevelBpe::fromData(s.vocabJson, s.merges,
                                                             QStringLiteral("vocab.json"),
                                                             QStringLiteral("merges.txt"));
                              },
                              [&] {
                                  return WeightStore::fromBytes(
                                      s.weights, s.weightsSize,
                                      QStringLiteral("model.safetensors"));
                              }},
                    progress);
}

}  // namespace kvscope
