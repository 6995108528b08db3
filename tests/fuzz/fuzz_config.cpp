// parseModelConfig on arbitrary bytes: either an Error naming config.json, or a configuration
// inside the documented caps whose derived sizes (head size, MLP width) are usable as they are.

#include "fuzz_common.h"

#include "model/model_config.h"

#include <cstddef>
#include <cstdint>

using namespace kvscope;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const QString name = QStringLiteral("config.json");
    const QByteArray json(reinterpret_cast<const char*>(data), static_cast<qsizetype>(size));
    const auto parsed = parseModelConfig(json, name);
    if (!parsed) {
        FUZZ_CHECK(parsed.errorMessage().startsWith(name + QStringLiteral(": ")));
        return 0;
    }
    const ModelConfig& c = parsed.value();
    FUZZ_CHECK(c.nLayer >= 1 && c.nLayer <= kMaxLayers);
    FUZZ_CHECK(c.nHead >= 1 && c.nEmbd >= 1 && c.nEmbd <= kMaxEmbd);
    FUZZ_CHECK(c.nEmbd % c.nHead == 0 && c.headDim() >= 1);
    FUZZ_CHECK(c.nKvHead >= 1 && c.kvDim() >= 1);
    FUZZ_CHECK(c.nPositions >= 1 && c.nPositions <= kMaxPositions);
    FUZZ_CHECK(c.vocabSize >= 1 && c.vocabSize <= kMaxVocab);
    FUZZ_CHECK(c.nInner >= 1);
    FUZZ_CHECK(c.normEps > 0 && c.normEps < 1);
    return 0;
}
