// ByteLevelBpe::fromData on an arbitrary vocab.json and merges.txt. The input is split at its first
// 0x00 byte (neither file can hold one usefully): before it vocab.json, after it merges.txt. A
// tokenizer that loads must keep its documented promises on a few short strings.

#include "fuzz_common.h"

#include "tokenizer/byte_level_bpe.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

using namespace kvscope;

namespace {

// Words, digits, contractions, spaces, <|endoftext|>, a two-byte character and a byte that is
// never valid UTF-8: every branch of the pre-tokenizer once.
constexpr std::string_view kProbes[] = {"Hello world", "  it's 42\n\n",
                                        "<|endoftext|>ab<|endoftext|>", "caf\xc3\xa9 \xff!", ""};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const char* bytes = reinterpret_cast<const char*>(data);
    const char* split = std::find(bytes, bytes + size, '\0');
    const QByteArray vocab(bytes, static_cast<qsizetype>(split - bytes));
    const QByteArray merges =
        split == bytes + size
            ? QByteArray()
            : QByteArray(split + 1, static_cast<qsizetype>(bytes + size - split - 1));
    const QString vocabName = QStringLiteral("vocab.json");
    const QString mergesName = QStringLiteral("merges.txt");
    const auto loaded = ByteLevelBpe::fromData(vocab, merges, vocabName, mergesName);
    if (!loaded) {
        const QString message = loaded.errorMessage();
        FUZZ_CHECK(message.startsWith(vocabName + QStringLiteral(": ")) ||
                   message.startsWith(mergesName + QStringLiteral(": ")));
        return 0;
    }
    const Tokenizer& tok = loaded.value();
    // Every byte has a token, so there are at least 256 ids.
    FUZZ_CHECK(tok.vocabSize() >= 256);
    FUZZ_CHECK(tok.special().eot >= -1 && tok.special().eot < tok.vocabSize());

    for (std::string_view probe : kProbes) {
        const std::vector<int> ids = tok.encode(probe);
        for (int id : ids) FUZZ_CHECK(id >= 0 && id < tok.vocabSize());
        // Documented: decode(encode(s)) == s for any byte string.
        FUZZ_CHECK(tok.decode(ids) == probe);
    }
    // Ids outside the vocabulary and unused ids decode to nothing rather than failing.
    const std::vector<int> odd = {-1, tok.vocabSize(), tok.vocabSize() - 1,
                                  0,  INT32_MIN,       INT32_MAX};
    std::string expected;
    for (int id : odd) expected += tok.tokenBytes(id);
    FUZZ_CHECK(tok.decode(odd) == expected);
    for (int id : odd) (void)tok.tokenDisplay(id);
    return 0;
}
