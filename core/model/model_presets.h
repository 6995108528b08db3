#pragma once
// Published model configurations for the what-if calculator. Each preset names where its numbers
// come from (the model's config.json on its Hugging Face page, or the paper); tests/core/cost/
// test_what_if.cpp holds each one's parameter count against the published figure.

#include "model/model_config.h"

#include <span>

namespace kvscope {

struct ModelPreset {
    const char* key;     // the CLI's --preset name, e.g. "llama3-8b"
    const char* label;   // for menus, e.g. "Llama 3 8B"
    const char* source;  // where the numbers come from, and what the closed form leaves out
    ModelConfig config;
};

std::span<const ModelPreset> modelPresets();
// nullptr when no preset has that key.
const ModelPreset* findPreset(const QString& key);

}  // namespace kvscope
