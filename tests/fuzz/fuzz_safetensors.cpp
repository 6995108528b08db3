// SafetensorsFile::parse on arbitrary bytes. parse() promises that every TensorInfo it returns
// lies inside the file, after the header, and matches its shape and dtype; this target checks
// that promise and then reads every tensor the way WeightStore does, so ASan sees any read
// outside the input.

#include "fuzz_common.h"

#include "formats/safetensors.h"

#include <cstddef>
#include <cstdint>
#include <vector>

using namespace kvscope;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const QString name = QStringLiteral("fuzz.safetensors");
    const auto parsed = SafetensorsFile::parse(data, size, name);
    if (!parsed) {
        // Errors name the file so the user knows which of the model's files is damaged.
        FUZZ_CHECK(parsed.errorMessage().startsWith(name + QStringLiteral(": ")));
        return 0;
    }
    const SafetensorsFile& file = parsed.value();
    FUZZ_CHECK(size >= 8);
    std::uint64_t headerSize = 0;
    for (int i = 7; i >= 0; --i) headerSize = (headerSize << 8) | data[i];
    const std::uint64_t dataStart = 8 + headerSize;
    FUZZ_CHECK(dataStart <= size);

    const TensorInfo* previous = nullptr;
    for (const TensorInfo& t : file.tensors()) {
        FUZZ_CHECK(dataStart <= t.begin);
        FUZZ_CHECK(t.begin <= t.end);
        FUZZ_CHECK(t.end <= size);
        const std::int64_t count = t.elementCount();
        FUZZ_CHECK(count >= 0);
        FUZZ_CHECK(t.end - t.begin == static_cast<std::uint64_t>(count) * dtypeSize(t.dtype));
        FUZZ_CHECK(file.find(t.name) == &t);
        // Sorted by begin; tensors holding bytes never share them.
        if (previous) FUZZ_CHECK(previous->begin <= t.begin);
        if (t.begin != t.end) {
            if (previous && previous->begin != previous->end) FUZZ_CHECK(previous->end <= t.begin);
            previous = &t;
        }
        std::vector<float> converted(static_cast<std::size_t>(count));
        convertToFloat32(data + t.begin, t.dtype, count, converted.data());
    }
    return 0;
}
