// parseTokenizerBin on arbitrary bytes. The file does not say how many tokens it holds, so the
// harness counts the well-formed records itself and asks for that many (which must parse unless a
// length exceeds max_token_length, a score is NaN or a byte piece is missing), one more (which
// must be refused) and one fewer (refused too: bytes are left over). A tokenizer that loads must
// round-trip a few probe strings and the input itself, with ids in range.

#include "fuzz_common.h"

#include "tokenizer/tokenizer_bin.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

using namespace kvscope;

namespace {

// Words and spaces for the merges, a newline and an emoji for byte fallback, a stray byte.
constexpr std::string_view kProbes[] = {"Hello world", "  two  spaces ", "line\nbreak",
                                        "\xF0\x9F\x98\x80 caf\xC3\xA9 \xFF!", ""};

std::int32_t int32At(const std::uint8_t* p) {
    std::uint32_t w = 0;
    for (int k = 3; k >= 0; --k) w = (w << 8) | p[k];
    return static_cast<std::int32_t>(w);
}

// Whole records (score, length >= 0, text) after the 4-byte header; -1 when they do not tile the
// file exactly.
int countTokens(const std::uint8_t* data, std::size_t size) {
    if (size < 4) return -1;
    std::size_t pos = 4;
    int count = 0;
    while (pos < size) {
        if (size - pos < 8) return -1;
        const std::int32_t length = int32At(data + pos + 4);
        if (length < 0 || static_cast<std::size_t>(length) > size - pos - 8) return -1;
        pos += 8 + static_cast<std::size_t>(length);
        ++count;
    }
    return count;
}

void checkRoundTrip(const Tokenizer& tok, std::string_view text) {
    const std::vector<int> ids = tok.encode(text);
    for (int id : ids) FUZZ_CHECK(id >= 0 && id < tok.vocabSize());
    FUZZ_CHECK(tok.decode(ids) == text);
    FUZZ_CHECK(text.empty() == ids.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const QByteArrayView file(data, static_cast<qsizetype>(size));
    const QString name = QStringLiteral("tokenizer.bin");
    const int tokens = countTokens(data, size);
    // Any count at all, including the real one when the records do not tile the file.
    const int guess = tokens > 0 ? tokens : static_cast<int>(size % 300) + 1;
    for (int vocab : {guess + 1, guess - 1}) {
        const auto refused = parseTokenizerBin(file, vocab, name);
        if (tokens > 0) FUZZ_CHECK(!refused.ok());
        if (!refused.ok()) FUZZ_CHECK(refused.errorMessage().startsWith(name));
    }
    auto parsed = parseTokenizerBin(file, guess, name);
    if (!parsed.ok()) {
        FUZZ_CHECK(parsed.errorMessage().startsWith(name));
        return 0;
    }
    FUZZ_CHECK(tokens == guess);
    const SentencePieceBpe& tok = parsed.value();
    FUZZ_CHECK(tok.vocabSize() == guess);
    for (std::string_view probe : kProbes) checkRoundTrip(tok, probe);
    checkRoundTrip(tok, std::string_view(reinterpret_cast<const char*>(data), size));
    for (int id = -1; id <= tok.vocabSize(); ++id) (void)tok.tokenDisplay(id);
    return 0;
}
