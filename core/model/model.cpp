#include "model/model.h"

#include "formats/gguf.h"
#include "formats/llama2c.h"
#include "formats/sniff.h"
#include "model/architecture.h"
#include "model/embedded_model.h"
#include "model/gguf_config.h"
#include "model/gguf_model.h"
#include "model/hf_llama_names.h"
#include "model/weight_store.h"
#include "tokenizer/byte_level_bpe.h"
#include "tokenizer/hf_tokenizer_json.h"
#include "tokenizer/tokenizer_bin.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSet>

namespace kvscope {
namespace {

Error pickleRefusal(const QString& path, FileKind kind) {
    return Error{
        QStringLiteral("%1: refused: this is a %2, and PyTorch checkpoints can run arbitrary "
                       "code when they are loaded, so kvscope reads only safetensors and "
                       "llama2.c files. Convert it once, in an environment you trust, with "
                       "Python and the transformers package: "
                       "GPT2LMHeadModel.from_pretrained(folder).save_pretrained(folder, "
                       "safe_serialization=True), which writes model.safetensors next to it.")
            .arg(path, fileKindName(kind))};
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

// A model file's first bytes, its size and what they say it is.
struct Sniffed {
    QByteArray head;
    std::uint64_t size = 0;
    FileKind kind = FileKind::Unknown;
};

Result<Sniffed> sniffPath(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return Error{QStringLiteral("%1: cannot open for reading: %2").arg(path, f.errorString())};
    Sniffed s;
    s.head = f.read(qint64(std::max(kSniffBytes, kLlama2cHeaderBytes)));
    s.size = std::uint64_t(f.size());
    s.kind = sniffFile(reinterpret_cast<const std::uint8_t*>(s.head.constData()),
                       std::uint64_t(s.head.size()), s.size);
    return s;
}

// The phases of a load, run in order with progress reported between them, so a configuration
// error is found before the tokenizer and the weights are read.
struct LoadSteps {
    QString name, source, format;
    QString configName, tokenizerName, weightsName;  // for progress and messages
    std::function<Result<ModelConfig>()> config;
    std::function<Result<TokenizerPtr>(const ModelConfig&)> tokenizer;
    std::function<Result<std::unique_ptr<WeightStore>>()> weights;
};

struct Cancelled {};

// The context a run gets: the file's, capped by default, or the one asked for (see LoadOptions).
Result<int> contextFor(const ModelConfig& c, const LoadOptions& options, const QString& source) {
    if (c.positions == PositionKind::Learned && options.contextLength <= c.nPositions)
        return c.nPositions;
    if (options.contextLength <= 0) return std::min(c.nPositions, kDefaultMaxContext);
    if (options.contextLength > kMaxPositions)
        return Error{QStringLiteral("context length %1: expected at most %2")
                         .arg(options.contextLength)
                         .arg(kMaxPositions)};
    if (c.positions == PositionKind::Learned && options.contextLength > c.nPositions)
        return Error{QStringLiteral("%1: context length %2: expected at most %3, the positions "
                                    "this model learned")
                         .arg(source)
                         .arg(options.contextLength)
                         .arg(c.nPositions)};
    return options.contextLength;
}

Result<ModelPtr> assemble(const LoadSteps& steps, const LoadProgress& progress,
                          const LoadOptions& options = {}) {
    auto report = [&](double f, const QString& stage) {
        if (progress && !progress(f, stage)) throw Cancelled{};
    };
    try {
        report(0.0, QStringLiteral("reading %1").arg(steps.configName));
        auto config = steps.config();
        if (!config) return config.error();
        const auto context = contextFor(config.value(), options, steps.source);
        if (!context) return context.error();
        const Architecture* arch = findArchitecture(config.value().modelType);
        if (!arch)
            return Error{QStringLiteral("%1: architecture \"%2\": expected one of %3")
                             .arg(steps.configName, config.value().modelType,
                                  architectureNames().join(QStringLiteral(", ")))};
        report(0.05, QStringLiteral("reading %1").arg(steps.tokenizerName));
        auto tokenizer = steps.tokenizer(config.value());
        if (!tokenizer) return tokenizer.error();
        if (tokenizer.value()->vocabSize() > config.value().vocabSize)
            return Error{QStringLiteral("%1: holds %2 tokens, expected at most vocab_size=%3 "
                                        "from %4")
                             .arg(steps.tokenizerName)
                             .arg(tokenizer.value()->vocabSize())
                             .arg(config.value().vocabSize)
                             .arg(steps.configName)};
        report(0.3, QStringLiteral("reading %1").arg(steps.weightsName));
        auto store = steps.weights();
        if (!store) return store.error();
        auto model = std::make_shared<Model>();
        model->tokenizer = tokenizer.take();
        model->name = options.name.isEmpty() ? steps.name : options.name;
        model->source = options.source.isEmpty() ? steps.source : options.source;
        model->format = steps.format;
        model->config = config.value();
        model->fileContext = model->config.nPositions;
        // A learned position table is bound whole, so its models keep their context.
        if (model->config.positions == PositionKind::Rotary)
            model->config.nPositions = context.value();
        const int layers = model->config.nLayer;
        WeightStore& weights = *store.value();
        model->transformer = arch->build(model->config, weights, [&](int layer) {
            report(0.35 + 0.65 * (layer + 1) / layers,
                   QStringLiteral("reading layer %1 of %2").arg(layer + 1).arg(layers));
        });
        model->weightBytes = weights.readBytes() + weights.convertedBytes() + weights.storedBytes();
        model->convertedBytes = weights.convertedBytes();
        model->weightTypes = weights.typeShares();
        return ModelPtr(std::move(model));
    } catch (const LoadError& e) {
        return Error{e.message()};
    } catch (const Cancelled&) {
        return Error{QStringLiteral("%1: loading cancelled").arg(steps.source)};
    }
}

Result<TokenizerPtr> byteLevelBpe(const QString& vocab, const QString& merges, int vocabSize) {
    auto t = ByteLevelBpe::fromFiles(vocab, merges, vocabSize);
    if (!t) return t.error();
    return TokenizerPtr(std::make_shared<const ByteLevelBpe>(t.take()));
}

// A Hugging Face GPT-2 folder; `weights` is its model.safetensors.
Result<ModelPtr> loadGpt2Folder(const QDir& dir, const QString& weights,
                                const LoadProgress& progress, const LoadOptions& options = {}) {
    auto configJson = readSmallFile(dir.filePath(QStringLiteral("config.json")));
    if (!configJson) return configJson.error();
    const QString vocab = dir.filePath(QStringLiteral("vocab.json"));
    const QString merges = dir.filePath(QStringLiteral("merges.txt"));
    for (const QString& f : {vocab, merges}) {
        if (!QFileInfo::exists(f)) return readSmallFile(f).error();
    }
    const QByteArray json = configJson.value();
    LoadSteps steps{dir.dirName(),
                    dir.absolutePath(),
                    QStringLiteral("safetensors"),
                    QStringLiteral("config.json"),
                    QStringLiteral("vocab.json and merges.txt"),
                    QFileInfo(weights).fileName(),
                    [=] { return parseModelConfig(json, QStringLiteral("config.json")); },
                    [=](const ModelConfig& c) { return byteLevelBpe(vocab, merges, c.vocabSize); },
                    [=] { return WeightStore::open(weights); }};
    return assemble(steps, progress, options);
}

// The tensor table of one safetensors file, its tensors marked as file `index` of a sharded
// model and renamed to the canonical names.
Result<std::vector<TensorInfo>> shardTensors(QFile& file, const QString& name, int index) {
    const qint64 size = file.size();
    QByteArray head = file.read(8);
    if (head.size() == 8) {
        const std::uint64_t need = SafetensorsFile::headerBytesNeeded(
            reinterpret_cast<const std::uint8_t*>(head.constData()), std::uint64_t(size));
        head += file.read(qint64(need) - 8);
    }
    auto table =
        SafetensorsFile::parseHeader(reinterpret_cast<const std::uint8_t*>(head.constData()),
                                     std::uint64_t(head.size()), std::uint64_t(size), name);
    if (!table) return table.error();
    std::vector<TensorInfo> out = table.value().tensors();
    for (TensorInfo& t : out) {
        t.file = index;
        t.name = canonicalLlamaName(t.name);
    }
    return out;
}

// The shard files of a folder: model.safetensors alone, or those model.safetensors.index.json's
// weight_map names (each tensor must be in the shard the map says, and every mapped one present).
Result<std::unique_ptr<WeightStore>> openShards(const QDir& dir) {
    const QString single = dir.filePath(QStringLiteral("model.safetensors"));
    const QString indexPath = dir.filePath(QStringLiteral("model.safetensors.index.json"));
    QStringList shards;
    QHash<QString, QString> weightMap;  // Hugging Face tensor name -> shard
    if (QFileInfo::exists(single)) {
        shards << QStringLiteral("model.safetensors");
    } else {
        auto index = readSmallFile(indexPath);
        if (!index) return index.error();
        const QJsonObject map = QJsonDocument::fromJson(index.value())
                                    .object()
                                    .value(QLatin1String("weight_map"))
                                    .toObject();
        if (map.isEmpty())
            return Error{QStringLiteral("%1: field \"weight_map\": expected an object naming each "
                                        "tensor's file, found none")
                             .arg(indexPath)};
        for (auto it = map.begin(); it != map.end(); ++it) {
            const QString shard = it.value().toString();
            if (shard.isEmpty() || shard.contains(QLatin1Char('/')) ||
                shard.contains(QLatin1Char('\\')))
                return Error{QStringLiteral("%1: weight_map[\"%2\"]: expected a file name in the "
                                            "folder, found \"%3\"")
                                 .arg(indexPath, it.key(), shard)};
            weightMap.insert(canonicalLlamaName(it.key()), shard);
            if (!shards.contains(shard)) shards << shard;
        }
    }
    std::vector<std::unique_ptr<QFile>> files;
    std::vector<TensorInfo> tensors;
    QSet<QString> seen;
    for (const QString& shard : shards) {
        auto file = std::make_unique<QFile>(dir.filePath(shard));
        if (!file->open(QIODevice::ReadOnly))
            return Error{QStringLiteral("%1: cannot open for reading: %2")
                             .arg(file->fileName(), file->errorString())};
        auto part = shardTensors(*file, shard, int(files.size()));
        if (!part) return part.error();
        for (TensorInfo& t : part.value()) {
            if (seen.contains(t.name))
                return Error{QStringLiteral("%1: tensor \"%2\" is in more than one shard")
                                 .arg(shard, t.name)};
            if (!weightMap.isEmpty() && weightMap.value(t.name) != shard)
                return Error{QStringLiteral("%1: tensor \"%2\": expected in \"%3\" by "
                                            "model.safetensors.index.json, found in \"%1\"")
                                 .arg(shard, t.name, weightMap.value(t.name))};
            seen.insert(t.name);
            tensors.push_back(std::move(t));
        }
        files.push_back(std::move(file));
    }
    for (auto it = weightMap.begin(); it != weightMap.end(); ++it)
        if (!seen.contains(it.key()))
            return Error{
                QStringLiteral("%1: tensor \"%2\" is missing (model.safetensors.index.json "
                               "puts it there)")
                    .arg(it.value(), it.key())};
    return WeightStore::overFiles(std::move(files), dir.dirName(), std::move(tensors));
}

// A Hugging Face Llama, Mistral or Qwen2 folder: config.json, model.safetensors or its shards
// with their index, tokenizer.json.
Result<ModelPtr> loadHfLlamaFolder(const QDir& dir, const QByteArray& json,
                                   const LoadProgress& progress, const LoadOptions& options) {
    const QString tokenizer = dir.filePath(QStringLiteral("tokenizer.json"));
    if (!QFileInfo::exists(tokenizer))
        return Error{QStringLiteral("%1: missing (a Hugging Face Llama-family folder needs "
                                    "config.json, model.safetensors or its shards, and "
                                    "tokenizer.json)")
                         .arg(tokenizer)};
    LoadSteps steps{
        dir.dirName(),
        dir.absolutePath(),
        QStringLiteral("safetensors (Hugging Face)"),
        QStringLiteral("config.json"),
        QStringLiteral("tokenizer.json"),
        QStringLiteral("the safetensors weights"),
        [=] { return parseModelConfig(json, QStringLiteral("config.json")); },
        [=](const ModelConfig& c) { return loadHfTokenizerJson(tokenizer, c.vocabSize); },
        [=] { return openShards(dir); }};
    return assemble(steps, progress, options);
}

QString modelType(const QByteArray& configJson) {
    return QJsonDocument::fromJson(configJson)
        .object()
        .value(QLatin1String("model_type"))
        .toString(QStringLiteral("gpt2"));
}

// A Hugging Face folder: its config.json says which family it is. `weights`: the safetensors
// file a GPT-2 folder's weights are in (the one opened, whatever its name).
Result<ModelPtr> loadHfFolder(const QDir& dir, const QString& weights, const LoadProgress& progress,
                              const LoadOptions& options) {
    auto configJson = readSmallFile(dir.filePath(QStringLiteral("config.json")));
    if (!configJson) return configJson.error();
    const QString type = modelType(configJson.value());
    if (type == QLatin1String("gpt2")) return loadGpt2Folder(dir, weights, progress, options);
    if (type == QLatin1String("llama") || type == QLatin1String("mistral") ||
        type == QLatin1String("qwen2"))
        return loadHfLlamaFolder(dir, configJson.value(), progress, options);
    return Error{QStringLiteral("%1: field \"model_type\": expected \"gpt2\", \"llama\", "
                                "\"mistral\" or \"qwen2\", found \"%2\"")
                     .arg(dir.filePath(QStringLiteral("config.json")), type)};
}

// A llama2.c checkpoint whose header has been sniffed; its tokenizer.bin is given or beside it.
Result<ModelPtr> loadLlama2c(const QString& path, const Sniffed& sniffed,
                             const LoadOptions& options, const LoadProgress& progress) {
    const QFileInfo info(path);
    const QString name = info.fileName();
    auto checkpoint = parseLlama2c(reinterpret_cast<const std::uint8_t*>(sniffed.head.constData()),
                                   std::uint64_t(sniffed.head.size()), sniffed.size, name);
    if (!checkpoint) return checkpoint.error();
    const Llama2cCheckpoint ckpt = checkpoint.take();
    const QString tokenizer = options.tokenizerPath.isEmpty()
                                  ? info.dir().filePath(QStringLiteral("tokenizer.bin"))
                                  : options.tokenizerPath;
    if (!QFileInfo::exists(tokenizer))
        return Error{QStringLiteral("%1: missing: a llama2.c checkpoint (%2) needs its "
                                    "tokenizer.bin beside it (where the window looks) or given "
                                    "with --tokenizer FILE")
                         .arg(tokenizer, name)};
    LoadSteps steps{name,
                    info.absoluteFilePath(),
                    ckpt.version == 0 ? QStringLiteral("llama2.c legacy")
                                      : QStringLiteral("llama2.c version %1").arg(ckpt.version),
                    name + QStringLiteral(" (header)"),
                    QFileInfo(tokenizer).fileName(),
                    name,
                    [=]() -> Result<ModelConfig> { return ckpt.config; },
                    [=](const ModelConfig& c) -> Result<TokenizerPtr> {
                        auto t = loadTokenizerBin(tokenizer, c.vocabSize);
                        if (!t) return t.error();
                        return TokenizerPtr(std::make_shared<const SentencePieceBpe>(t.take()));
                    },
                    [=]() -> Result<std::unique_ptr<WeightStore>> {
                        auto file = std::make_unique<QFile>(path);
                        if (!file->open(QIODevice::ReadOnly))
                            return Error{QStringLiteral("%1: cannot open for reading: %2")
                                             .arg(path, file->errorString())};
                        return WeightStore::overFile(std::move(file), name, ckpt.tensors);
                    }};
    return assemble(steps, progress, options);
}

// A GGUF file: configuration and vocabulary from its metadata, weights kept in their stored
// types (quantized ones stay quantized). Only the header is read before the tensors are copied.
Result<ModelPtr> loadGguf(const QString& path, const LoadOptions& options,
                          const LoadProgress& progress) {
    const QFileInfo info(path);
    const QString name = info.fileName();
    auto file = std::make_shared<QFile>(path);
    if (!file->open(QIODevice::ReadOnly))
        return Error{
            QStringLiteral("%1: cannot open for reading: %2").arg(path, file->errorString())};
    auto header = GgufFile::readHeader(*file, name);
    if (!header) return header.error();
    const auto gguf = std::make_shared<const GgufFile>(header.take());
    if (gguf->tensors().empty())
        return Error{QStringLiteral("%1: a vocabulary-only GGUF (no tensors): it can tokenize "
                                    "(--tokenize) but holds no model to run")
                         .arg(name)};
    LoadSteps steps{
        name,
        info.absoluteFilePath(),
        QStringLiteral("GGUF version %1").arg(gguf->version()),
        name + QStringLiteral(" (metadata)"),
        name + QStringLiteral(" (tokenizer.ggml.*)"),
        name,
        [gguf] { return ggufModelConfig(*gguf); },
        [gguf, name](const ModelConfig& c) -> Result<TokenizerPtr> {
            auto vocab = ggufVocabulary(*gguf);
            if (!vocab) return vocab.error();
            return tokenizerFromGguf(vocab.value(), name, c.vocabSize);
        },
        [gguf, path, name]() -> Result<std::unique_ptr<WeightStore>> {
            auto f = std::make_unique<QFile>(path);
            if (!f->open(QIODevice::ReadOnly))
                return Error{
                    QStringLiteral("%1: cannot open for reading: %2").arg(path, f->errorString())};
            return WeightStore::overFile(std::move(f), name, ggufTensorInfos(*gguf));
        }};
    return assemble(steps, progress, options);
}

// One model file, whatever its name says.
Result<ModelPtr> loadFile(const QString& path, const LoadProgress& progress,
                          const LoadOptions& options) {
    auto sniffed = sniffPath(path);
    if (!sniffed) return sniffed.error();
    const Sniffed& s = sniffed.value();
    const QFileInfo info(path);
    switch (s.kind) {
        case FileKind::Safetensors:
            return loadHfFolder(info.absoluteDir(), info.absoluteFilePath(), progress, options);
        case FileKind::Llama2c:
            return loadLlama2c(path, s, options, progress);
        case FileKind::Zip:
        case FileKind::Pickle:
            return pickleRefusal(path, s.kind);
        case FileKind::Gguf:
            return loadGguf(path, options, progress);
        case FileKind::Unknown:
            break;
    }
    return Error{QStringLiteral("%1: not a model file kvscope reads: expected safetensors, a "
                                "llama2.c checkpoint (legacy or version 1) or a model folder; "
                                "found %2 in %3 bytes")
                     .arg(path, describeLeadingBytes(
                                    reinterpret_cast<const std::uint8_t*>(s.head.constData()),
                                    std::uint64_t(s.head.size())))
                     .arg(s.size)};
}

Result<ModelPtr> loadFolder(const QString& path, const LoadProgress& progress,
                            const LoadOptions& options) {
    const QDir dir(path);
    if (dir.exists(QStringLiteral("model.safetensors")) ||
        dir.exists(QStringLiteral("model.safetensors.index.json")))
        return loadHfFolder(dir, dir.filePath(QStringLiteral("model.safetensors")), progress,
                            options);
    // No safetensors: a llama2.c checkpoint, or a PyTorch checkpoint to refuse by its bytes.
    for (const QFileInfo& f : dir.entryInfoList(QDir::Files, QDir::Name)) {
        if (f.fileName() == QLatin1String("tokenizer.bin")) continue;
        auto s = sniffPath(f.filePath());
        if (!s) continue;
        if (s.value().kind == FileKind::Llama2c)
            return loadLlama2c(f.filePath(), s.value(), options, progress);
        if (s.value().kind == FileKind::Gguf) return loadGguf(f.filePath(), options, progress);
        if (s.value().kind == FileKind::Zip || s.value().kind == FileKind::Pickle)
            return pickleRefusal(f.filePath(), s.value().kind);
    }
    const QStringList files = dir.entryList(QDir::Files);
    return Error{
        QStringLiteral("%1: no model here: expected model.safetensors (or its shards) with "
                       "config.json and its tokenizer files, a GGUF file, or a llama2.c "
                       "checkpoint, found %2")
            .arg(path, files.isEmpty() ? QStringLiteral("no files")
                                       : files.mid(0, 8).join(QStringLiteral(", ")))};
}

}  // namespace

Result<ModelPtr> loadModel(const QString& path, const LoadProgress& progress,
                           const LoadOptions& options) {
    if (const QString key = embeddedModelKey(path); !key.isEmpty())
        return loadEmbeddedModel(key, progress, options);
    const QFileInfo info(path);
    if (!info.exists()) return Error{QStringLiteral("%1: no such file or folder").arg(path)};
    return info.isFile() ? loadFile(path, progress, options) : loadFolder(path, progress, options);
}

Result<ModelPtr> loadModel(const ModelSources& s, const LoadProgress& progress) {
    const ModelSources src = s;
    LoadSteps steps{
        s.name,
        s.source.isEmpty() ? s.name : s.source,
        QStringLiteral("safetensors"),
        QStringLiteral("config.json"),
        QStringLiteral("vocab.json and merges.txt"),
        QStringLiteral("model.safetensors"),
        [src] { return parseModelConfig(src.configJson, QStringLiteral("config.json")); },
        [src](const ModelConfig& c) -> Result<TokenizerPtr> {
            auto t = ByteLevelBpe::fromData(src.vocabJson, src.merges, QStringLiteral("vocab.json"),
                                            QStringLiteral("merges.txt"), c.vocabSize);
            if (!t) return t.error();
            return TokenizerPtr(std::make_shared<const ByteLevelBpe>(t.take()));
        },
        [src] {
            return WeightStore::fromBytes(src.weights, src.weightsSize,
                                          QStringLiteral("model.safetensors"));
        }};
    return assemble(steps, progress);
}

Result<TokenizerPtr> loadTokenizer(const QString& path, const LoadOptions& options) {
    const QFileInfo info(path);
    if (info.isFile()) {
        auto sniffed = sniffPath(path);
        if (!sniffed) return sniffed.error();
        if (sniffed.value().kind == FileKind::Gguf) {
            QFile file(path);
            if (!file.open(QIODevice::ReadOnly))
                return Error{QStringLiteral("%1: cannot open for reading: %2")
                                 .arg(path, file.errorString())};
            auto gguf = GgufFile::readHeader(file, info.fileName());
            if (!gguf) return gguf.error();
            auto vocab = ggufVocabulary(gguf.value());
            if (!vocab) return vocab.error();
            return tokenizerFromGguf(vocab.value(), info.fileName());
        }
    }
    auto model = loadModel(path, {}, options);
    if (!model) return model.error();
    return model.value()->tokenizer;
}

}  // namespace kvscope
