#pragma once
// The architectures kvscope runs, by the name a configuration gives (config.json's model_type,
// GGUF's general.architecture): each builds its Transformer from a WeightStore. The closed-form
// costs need no entry here: they follow from the configuration alone (cost/flops.h).

#include "model/transformer.h"
#include "model/weight_store.h"

#include <QStringList>

#include <functional>
#include <memory>

namespace kvscope {

using BuildTransformer = std::unique_ptr<Transformer> (*)(const ModelConfig&, WeightStore&,
                                                          const std::function<void(int)>&);

struct Architecture {
    const char* name;
    BuildTransformer build;
};

// nullptr when kvscope does not run `name`.
const Architecture* findArchitecture(const QString& name);
QStringList architectureNames();

}  // namespace kvscope
