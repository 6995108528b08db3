#pragma once
// One what-if query and everything the calculator says about it, as JSON: what `kvscope
// --headless --what-if` prints and what the what-if dock shows.

#include "cost/what_if.h"

#include <QJsonObject>
#include <QString>

#include <optional>
#include <vector>

namespace kvscope::whatif {

struct Query {
    ModelConfig config;
    QString name;                // preset key, model name, or "custom"
    QString source;              // where the configuration comes from
    std::int64_t length = 1024;  // the last step sees this many tokens
    std::int64_t prompt = 1;     // the run starts with a prefill of this many
    GgmlType weightType = GgmlType::F16;
    GgmlType kvType = GgmlType::F16;
    std::optional<Roofs> roofs;  // nullopt: no time estimate
    QString roofsSource;         // "measured ...", "given on the command line", ...
};

// The types the tables list, in order.
const std::vector<GgmlType>& weightTypes();  // F32, F16, BF16, Q8_0, Q6_K, Q5_K, Q4_K, Q4_0, ...
const std::vector<GgmlType>& kvTypes();      // F32, F16, Q8_0
// By ggml's name ("Q4_K"), case-insensitive; nullopt for a type not in weightTypes().
std::optional<GgmlType> typeNamed(const QString& name);
QString typeName(GgmlType t);

// How the crossovers are defined, in one sentence each (the JSON and the dock say it).
extern const char* const kStepCrossoverDefinition;
extern const char* const kCumulativeCrossoverDefinition;
extern const char* const kTimeRule;

QJsonObject configToJson(const ModelConfig& c);
QJsonObject toJson(const Query& q);

}  // namespace kvscope::whatif
