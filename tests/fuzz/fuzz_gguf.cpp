// GgufFile::parse on arbitrary bytes. It promises that an accepted file's tensors are of types
// kvscope computes with, 1 to 4 dimensions of at least 1 with whole blocks per row, byte ranges
// of exactly the size their shape and type give, aligned, inside the file and not overlapping,
// and unique names that find() finds. This target checks that with its own arithmetic, reads
// every tensor byte and every metadata value through the typed getters so ASan sees any read out
// of bounds, and checks that a header-only parse of any prefix either gives the same answer as
// the whole file or asks for more bytes than it was given.

#include "fuzz_common.h"

#include "formats/gguf.h"

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

using namespace kvscope;

namespace {

const QString kName = QStringLiteral("fuzz.gguf");
// Written so the compiler keeps every read that feeds it.
volatile std::uint64_t gSink = 0;

// Every typed getter on every key: any answer is fine, as long as it is an answer.
void touchMetadata(const GgufFile& f) {
    std::uint64_t sink = 0;
    for (const GgufKeyValue& kv : f.metadata()) {
        FUZZ_CHECK(f.value(kv.key) == &kv.value);
        sink += std::uint64_t(kv.value.describe().size());
        sink += f.u32(kv.key).ok() + f.i32(kv.key).ok() + f.u64(kv.key).ok() + f.i64(kv.key).ok();
        sink += f.f32(kv.key).ok() + f.f64(kv.key).ok() + f.boolean(kv.key).ok();
        sink += f.str(kv.key).ok() + f.optionalU32(kv.key).ok();
        if (const auto s = f.strings(kv.key); s.ok()) {
            FUZZ_CHECK(s.value().size() == kv.value.arraySize());
            for (std::size_t i = 0; i < s.value().size(); ++i) sink += s.value().at(i).size();
        }
        if (const auto v = f.f32s(kv.key); v.ok())
            FUZZ_CHECK(v.value().size() == kv.value.arraySize());
        if (const auto v = f.i32s(kv.key); v.ok())
            FUZZ_CHECK(v.value().size() == kv.value.arraySize());
        if (kv.value.isArray() && kv.value.elementType() == GgufType::Array)
            FUZZ_CHECK(kv.value.items().size() == kv.value.arraySize());
    }
    gSink = gSink + sink;
}

void checkTensors(const GgufFile& f, const std::uint8_t* data, std::uint64_t size) {
    const std::uint64_t a = f.alignment();
    FUZZ_CHECK(a >= 1 && a <= GgufFile::kMaxAlignment && std::has_single_bit(a));
    FUZZ_CHECK(f.dataOffset() % a == 0);
    std::vector<const GgufTensor*> sorted;
    std::uint8_t sum = 0;
    for (const GgufTensor& t : f.tensors()) {
        FUZZ_CHECK(f.find(t.name) == &t);
        const auto traits = ggmlTypeTraits(t.type);
        FUZZ_CHECK(traits.supported);
        FUZZ_CHECK(!t.dims.empty() && t.dims.size() <= 4);
        unsigned __int128 elements = 1;
        for (std::int64_t d : t.dims) {
            FUZZ_CHECK(d >= 1);
            elements *= std::uint64_t(d);
        }
        FUZZ_CHECK(t.dims[0] % traits.blockSize == 0);
        const unsigned __int128 bytes = elements / traits.blockSize * traits.blockBytes;
        FUZZ_CHECK(t.offset % a == 0);
        FUZZ_CHECK(t.begin == f.dataOffset() + t.offset);
        FUZZ_CHECK(t.end - t.begin == bytes && t.byteSize() == bytes);
        FUZZ_CHECK(t.begin <= t.end && t.end <= size);
        FUZZ_CHECK(std::int64_t(elements) == t.elementCount());
        const auto view = GgufFile::tensorBytes(t, data, size);
        FUZZ_CHECK(view.size() == bytes);
        for (std::uint8_t byte : view) sum ^= byte;
        sorted.push_back(&t);
    }
    std::sort(sorted.begin(), sorted.end(),
              [](const GgufTensor* x, const GgufTensor* y) { return x->begin < y->begin; });
    for (std::size_t i = 1; i < sorted.size(); ++i)
        FUZZ_CHECK(sorted[i - 1]->end <= sorted[i]->begin);
    gSink = gSink + sum;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto parsed = GgufFile::parse(data, size, kName);
    if (!parsed) {
        // Errors name the file so the user knows which one is damaged.
        FUZZ_CHECK(parsed.errorMessage().startsWith(kName + QStringLiteral(": ")));
    } else {
        const GgufFile& f = parsed.value();
        FUZZ_CHECK(f.version() == 2 || f.version() == 3);
        touchMetadata(f);
        checkTensors(f, data, size);
    }
    // Header-only parses of two prefixes: the same answer, or a request for more bytes.
    for (const std::uint64_t k : {std::uint64_t(size / 2), std::uint64_t(size ? size - 1 : 0)}) {
        std::uint64_t needed = 0;
        const auto head = GgufFile::parseHeader(data, k, size, kName, &needed);
        if (needed != 0) {
            FUZZ_CHECK(!head.ok() && needed > k && needed <= size);
            continue;
        }
        FUZZ_CHECK(head.ok() == parsed.ok());
        FUZZ_CHECK(head.errorMessage() == parsed.errorMessage());
        if (head.ok()) FUZZ_CHECK(head.value().tensors().size() == parsed.value().tensors().size());
    }
    return 0;
}
