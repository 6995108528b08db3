// parseLlama2c on arbitrary bytes. It promises that an accepted checkpoint's config respects the
// caps and divisibility rules the forward pass relies on, and that its tensors lie inside the
// file in order, each rows x cols float32s, ending exactly at the end of the file (legacy: after
// the skipped RoPE tables and before the optional classifier). This target checks that, reads
// every tensor so ASan sees any read outside the input, and checks that the reader gives the same
// answer from the header bytes alone and that the sniffer accepts whatever the reader accepts.

#include "fuzz_common.h"

#include "formats/llama2c.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

using namespace kvscope;

namespace {

void checkConfig(const ModelConfig& c, bool tiedExpected) {
    FUZZ_CHECK(c.nEmbd >= 1 && c.nEmbd <= kMaxEmbd);
    FUZZ_CHECK(c.nLayer >= 1 && c.nLayer <= kMaxLayers);
    FUZZ_CHECK(c.vocabSize >= 1 && c.vocabSize <= kMaxVocab);
    FUZZ_CHECK(c.nPositions >= 1 && c.nPositions <= kMaxPositions);
    FUZZ_CHECK(c.nInner >= 1 && c.nInner <= 4 * kMaxEmbd);
    FUZZ_CHECK(c.nHead >= 1 && c.nEmbd % c.nHead == 0 && c.headDim() % 2 == 0);
    FUZZ_CHECK(c.nKvHead >= 1 && c.nHead % c.nKvHead == 0);
    FUZZ_CHECK(c.tiedLmHead == tiedExpected);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const QString name = QStringLiteral("fuzz.bin");
    const auto parsed = parseLlama2c(data, size, size, name);
    const auto fromHeader =
        parseLlama2c(data, std::min<std::uint64_t>(size, kLlama2cHeaderBytes), size, name);
    FUZZ_CHECK(parsed.ok() == fromHeader.ok());
    FUZZ_CHECK(parsed.errorMessage() == fromHeader.errorMessage());
    if (!parsed) {
        // Errors name the file so the user knows which of the model's files is damaged.
        FUZZ_CHECK(parsed.errorMessage().startsWith(name + QStringLiteral(": ")));
        return 0;
    }
    FUZZ_CHECK(looksLikeLlama2c(data, size, size));
    const Llama2cCheckpoint& ckpt = parsed.value();
    FUZZ_CHECK(ckpt.version == 0 || ckpt.version == 1);
    const bool hasClassifier =
        std::any_of(ckpt.tensors.begin(), ckpt.tensors.end(),
                    [](const TensorInfo& t) { return t.name == QStringLiteral("output.weight"); });
    checkConfig(ckpt.config, !hasClassifier);
    const ModelConfig& c = ckpt.config;
    FUZZ_CHECK(ckpt.tensors.size() == std::size_t(9 * c.nLayer + 2 + (hasClassifier ? 1 : 0)));

    std::uint64_t at = ckpt.version == 0 ? 28 : 256;
    const std::uint64_t ropeBytes =
        ckpt.version == 0 ? std::uint64_t(c.nPositions) * std::uint64_t(c.headDim()) * 4 : 0;
    std::vector<float> converted;
    for (const TensorInfo& t : ckpt.tensors) {
        if (t.name == QStringLiteral("output.weight")) at += ropeBytes;
        FUZZ_CHECK(t.dtype == DType::F32);
        FUZZ_CHECK(t.begin == at);
        FUZZ_CHECK(t.begin <= t.end && t.end <= size);
        FUZZ_CHECK(t.shape.size() == 1 || t.shape.size() == 2);
        FUZZ_CHECK(t.end - t.begin == std::uint64_t(t.elementCount()) * 4);
        at = t.end;
        converted.resize(std::size_t(t.elementCount()));
        convertToFloat32(data + t.begin, t.dtype, t.elementCount(), converted.data());
    }
    if (!hasClassifier) at += ropeBytes;
    FUZZ_CHECK(at == size);
    return 0;
}
