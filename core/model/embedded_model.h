#pragma once
// The models compiled into the executable with the Qt resource system, so a fresh install
// generates text with no download: a GPT-2 (a Hugging Face folder's four files, loaded from
// memory) and a Llama with grouped-query attention (one GGUF file). "embedded:NAME" names one
// wherever a model path is accepted: loadModel(), the CLI's --model, Open Recent.

#include "model/model.h"

#include <vector>

namespace kvscope {

struct EmbeddedModel {
    QString key;      // "gpt2", "llama": the NAME of "embedded:NAME"
    QString title;    // the loaded model's name
    QString summary;  // one line for menus and --help
};

// The default first.
const std::vector<EmbeddedModel>& embeddedModels();
QString defaultEmbeddedModel();
// "embedded:NAME" for a key, and the key of such a path (empty when it is not one).
QString embeddedModelPath(const QString& key);
QString embeddedModelKey(const QString& path);

// "embedded:gpt2 (the default): GPT-2, ...; embedded:llama: Llama, ...", for --help.
QString embeddedModelsHelp();

// An empty key loads the default. An unknown key is an error naming the keys there are.
Result<ModelPtr> loadEmbeddedModel(const QString& key = {}, const LoadProgress& progress = {},
                                   const LoadOptions& options = {});

}  // namespace kvscope
