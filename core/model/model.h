#pragma once
// A loaded model: configuration, tokenizer and the architecture's forward pass over weights
// copied into memory at load (the files are closed afterwards).

#include "model/model_config.h"
#include "util/result.h"
#include "tokenizer/tokenizer.h"
#include "model/transformer.h"

#include <QByteArray>
#include <QString>

#include <functional>
#include <memory>

namespace kvscope {

struct Model {
    QString name;    // shown to the user: the folder's name, or "embedded: ..."
    QString source;  // where it was loaded from
    ModelConfig config;
    TokenizerPtr tokenizer;  // never null once loaded
    std::unique_ptr<const Transformer> transformer;
    std::int64_t weightBytes = 0;     // float32 weights held in memory
    std::int64_t convertedBytes = 0;  // of which converted from F16/BF16 at load
};

using ModelPtr = std::shared_ptr<const Model>;

// The four files of a Hugging Face GPT-2 folder, already in memory. The weights bytes must stay
// valid while `keepAlive` lives (they are only read during loadModel()).
struct ModelSources {
    QString name;
    QByteArray configJson, vocabJson, merges;
    std::shared_ptr<const void> keepAlive;
    const std::uint8_t* weights = nullptr;
    std::uint64_t weightsSize = 0;
};

// Reports loading progress in [0, 1]; returning false cancels the load (it then fails with a
// "cancelled" error). Called on the loading thread.
using LoadProgress = std::function<bool(double fraction, const QString& stage)>;

// `path` is a Hugging Face GPT-2 folder (config.json, model.safetensors, vocab.json, merges.txt)
// or the model.safetensors inside one. PyTorch pickle checkpoints are refused: unpickling runs
// code.
Result<ModelPtr> loadModel(const QString& path, const LoadProgress& progress = {});
Result<ModelPtr> loadModel(const ModelSources& sources, const LoadProgress& progress = {});

}  // namespace kvscope
