#pragma once
// The default model, compiled into the executable with the Qt resource system, so a fresh
// install generates text with no download. It is loaded through the same path as a folder on
// disk (config.json, model.safetensors, vocab.json, merges.txt), from memory.

#include "model/model.h"

namespace kvscope {

inline constexpr const char* kEmbeddedModelName = "kvscope-tiny-stories (embedded)";

Result<ModelPtr> loadEmbeddedModel(const LoadProgress& progress = {});

}  // namespace kvscope
