#pragma once
// A loaded model: configuration, tokenizer and the architecture's forward pass over weights
// copied into memory at load (the files are closed afterwards). Formats: Hugging Face GPT-2
// folders (config.json, model.safetensors, vocab.json, merges.txt) and llama2.c checkpoints
// (legacy and version 1, with a tokenizer.bin).

#include "model/model_config.h"
#include "model/transformer.h"
#include "model/weight_store.h"
#include "tokenizer/tokenizer.h"
#include "util/result.h"

#include <QByteArray>
#include <QString>

#include <functional>
#include <memory>

namespace kvscope {

struct Model {
    QString name;            // shown to the user: the folder's or file's name, or "embedded: ..."
    QString source;          // where it was loaded from
    QString format;          // "safetensors", "llama2.c legacy", "llama2.c version 1"
    ModelConfig config;      // nPositions: the context runs get (LoadOptions::contextLength)
    int fileContext = 0;     // the context the file declares
    TokenizerPtr tokenizer;  // never null once loaded
    std::unique_ptr<const Transformer> transformer;
    std::int64_t weightBytes = 0;     // weights held in memory: float32, or as stored (quantized)
    std::int64_t convertedBytes = 0;  // of which converted from F16/BF16 at load
    // The types the file stores the weights in (GGUF: quantized ones stay so in memory).
    std::vector<WeightTypeShare> weightTypes;
};

using ModelPtr = std::shared_ptr<const Model>;

// The four files of a Hugging Face GPT-2 folder, already in memory. The weights bytes must stay
// valid while `keepAlive` lives (they are only read during loadModel()).
struct ModelSources {
    QString name;
    QString source;  // empty: the name
    QByteArray configJson, vocabJson, merges;
    std::shared_ptr<const void> keepAlive;
    const std::uint8_t* weights = nullptr;
    std::uint64_t weightsSize = 0;
};

// Reports loading progress in [0, 1]; returning false cancels the load (it then fails with a
// "cancelled" error). Called on the loading thread.
using LoadProgress = std::function<bool(double fraction, const QString& stage)>;

// Files may declare a context far longer than a run here needs (Llama 3: 131,072 positions), and
// the K/V cache and activations are sized for the whole context when a run starts; a model
// declaring more than this is given this many positions unless LoadOptions says otherwise.
constexpr int kDefaultMaxContext = 8192;

struct LoadOptions {
    // A llama2.c checkpoint's tokenizer.bin; empty: the tokenizer.bin beside the checkpoint.
    QString tokenizerPath = {};
    // Positions a run may use (llama.cpp's --ctx-size); 0: the file's, capped at
    // kDefaultMaxContext. Rotary models take any length; a learned position table (GPT-2) keeps
    // its own length and refuses a longer one.
    int contextLength = 0;
    // Shown instead of the file's name and path when set (the embedded models).
    QString name = {}, source = {};
};

// `path` is a model folder or a model file, identified by its bytes (formats/sniff.h): a Hugging
// Face GPT-2 folder or the model.safetensors inside one; a llama2.c checkpoint (.bin) or a folder
// holding one; or "embedded:NAME", a model compiled into the executable (embedded_model.h). PyTorch
// checkpoints (zip or pickle) are refused: unpickling runs code.
Result<ModelPtr> loadModel(const QString& path, const LoadProgress& progress = {},
                           const LoadOptions& options = {});
Result<ModelPtr> loadModel(const ModelSources& sources, const LoadProgress& progress = {});

// Only the tokenizer of the model at `path`: from a GGUF file's metadata without reading a
// weight (a vocabulary-only GGUF, which has no tensors, opens this way); from any other model
// by loading it.
Result<TokenizerPtr> loadTokenizer(const QString& path, const LoadOptions& options = {});

}  // namespace kvscope
