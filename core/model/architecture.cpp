#include "model/architecture.h"

#include "arch/gpt2.h"
#include "arch/llama.h"

namespace kvscope {
namespace {

const Architecture kArchitectures[] = {
    {"gpt2", &makeGpt2},
    {"llama", &makeLlama},
    {"qwen2", &makeLlama},  // Llama with Q, K and V biases and rotated halves (its configuration)
};

}  // namespace

const Architecture* findArchitecture(const QString& name) {
    for (const Architecture& a : kArchitectures)
        if (name == QLatin1String(a.name)) return &a;
    return nullptr;
}

QStringList architectureNames() {
    QStringList names;
    for (const Architecture& a : kArchitectures) names << QLatin1String(a.name);
    return names;
}

}  // namespace kvscope
