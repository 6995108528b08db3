// GPT-2's real tokenizer (tests/tokenizer/gpt2, loaded once) on arbitrary bytes: the
// pre-tokenizer's pieces tile the input, encode gives ids in range and decode gives the input
// back (documented for any byte string, valid UTF-8 or not); the same through QString, as the
// UI's prompt box passes it. The bytes are also read as a sequence of ids, in range or not, for
// decode and tokenDisplay.

#include "fuzz_common.h"

#include "tokenizer/byte_level_bpe.h"

#include <QStringDecoder>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

using namespace kvscope;

namespace {

const Tokenizer& gpt2() {
    static const ByteLevelBpe tokenizer = [] {
        auto loaded =
            ByteLevelBpe::fromData(fuzz::readFixture("tests/tokenizer/gpt2/vocab.json"),
                                fuzz::readFixture("tests/tokenizer/gpt2/merges.txt"),
                                QStringLiteral("vocab.json"), QStringLiteral("merges.txt"));
        if (!loaded) {
            std::fprintf(stderr, "%s\n", qPrintable(loaded.errorMessage()));
            std::abort();
        }
        return loaded.take();
    }();
    return tokenizer;
}

void checkRoundTrip(const Tokenizer& tok, std::string_view text) {
    std::string tiled;
    for (std::string_view piece : ByteLevelBpe::preTokenize(text)) {
        FUZZ_CHECK(!piece.empty());
        tiled += piece;
    }
    FUZZ_CHECK(tiled == text);
    const std::vector<int> ids = tok.encode(text);
    for (int id : ids) FUZZ_CHECK(id >= 0 && id < tok.vocabSize());
    FUZZ_CHECK(tok.decode(ids) == text);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    (void)gpt2();  // outside the timed runs
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const Tokenizer& tok = gpt2();
    const std::string_view raw(reinterpret_cast<const char*>(data), size);
    checkRoundTrip(tok, raw);

    // QString replaces invalid UTF-8 with U+FFFD, so its round trip is that of the converted
    // text, which equals the input exactly when the input was valid UTF-8.
    const QString text = QString::fromUtf8(raw.data(), static_cast<qsizetype>(raw.size()));
    const QByteArray utf8 = text.toUtf8();
    checkRoundTrip(tok, std::string_view(utf8.constData(), static_cast<std::size_t>(utf8.size())));
    const QByteArrayView input(data, static_cast<qsizetype>(size));
    // Stateless: a sequence cut off at the end is an error rather than kept for a next chunk.
    // decode() is lazy: the conversion, and so hasError(), happens when the result becomes a
    // QString.
    QStringDecoder strict(QStringDecoder::Utf8, QStringDecoder::Flag::ConvertInitialBom |
                                                    QStringDecoder::Flag::Stateless);
    const QString decoded = strict.decode(input);
    if (!strict.hasError()) FUZZ_CHECK(utf8 == input);

    // The same bytes as ids: mostly far out of range, which must decode to nothing.
    std::vector<int> ids(size / sizeof(int));
    if (!ids.empty()) std::memcpy(ids.data(), data, ids.size() * sizeof(int));
    std::string expected;
    for (int id : ids) {
        expected += tok.tokenBytes(id);
        (void)tok.tokenDisplay(id);
    }
    FUZZ_CHECK(tok.decode(ids) == expected);
    return 0;
}
