// The whole in-memory loader, loadModel(ModelSources), with the fuzzer's bytes as
// model.safetensors and a fixed small model around them: the reference fixture's vocab.json and
// merges.txt, and a config.json shrunk so that a complete, valid weights file is a few KB and
// the fuzzer can reach the tensor binding. A model that loads then runs one forward pass, which
// reads every bound weight, so ASan sees any pointer that escaped the input.

#include "fuzz_common.h"

#include "cost/flops.h"
#include "model/model.h"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

using namespace kvscope;

namespace {

// vocab_size must cover the fixture's 512 tokens; everything else as small as GPT-2 allows,
// with two layers and two heads so per-layer and per-head indexing is exercised.
constexpr char kConfig[] = R"({"model_type": "gpt2", "n_layer": 2, "n_head": 2, "n_embd": 2,
    "n_positions": 4, "vocab_size": 512, "layer_norm_epsilon": 1e-05,
    "activation_function": "gelu_new"})";

struct Fixture {
    QByteArray vocab = fuzz::readFixture("tests/reference/model/vocab.json");
    QByteArray merges = fuzz::readFixture("tests/reference/model/merges.txt");
};

const Fixture& fixture() {
    static const Fixture f;
    return f;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    (void)fixture();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    ModelSources sources;
    sources.name = QStringLiteral("fuzz");
    sources.configJson = QByteArray(kConfig);
    sources.vocabJson = fixture().vocab;
    sources.merges = fixture().merges;
    sources.weights = data;
    sources.weightsSize = size;

    double lastFraction = -1;
    const auto progress = [&](double fraction, const QString&) {
        FUZZ_CHECK(fraction >= lastFraction && fraction <= 1.0);
        lastFraction = fraction;
        return true;
    };
    const auto loaded = loadModel(sources, progress);
    if (!loaded) {
        FUZZ_CHECK(!loaded.errorMessage().isEmpty());
        return 0;
    }
    const Model& model = *loaded.value();
    FUZZ_CHECK(model.transformer != nullptr);
    const ModelConfig& c = model.transformer->config();
    FUZZ_CHECK(model.tokenizer->vocabSize() <= c.vocabSize);

    // Weights may be NaN or inf; only memory safety is checked, not the numbers.
    std::vector<int> tokens = model.tokenizer->encode("a b");
    if (tokens.size() > static_cast<std::size_t>(c.nPositions)) tokens.resize(c.nPositions);
    FUZZ_CHECK(!tokens.empty());
    auto state = model.transformer->newState();
    std::vector<float> logits(static_cast<std::size_t>(c.vocabSize));
    FlopBreakdown flops;
    FUZZ_CHECK(model.transformer->forward(*state, tokens, 0, {}, flops, logits));
    return 0;
}
