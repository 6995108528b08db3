// parseHfTokenizerJson on an arbitrary tokenizer.json. A refusal must name the file; a tokenizer
// that loads must keep its promises on a few probe strings: ids inside the vocabulary, decoding
// any id (in range or not) without failing, and for a byte-level vocabulary decode(encode(s)) == s
// on ASCII text (which NFC leaves alone; added tokens decode to their own text).

#include "fuzz_common.h"

#include "tokenizer/byte_level_bpe.h"
#include "tokenizer/hf_tokenizer_json.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

using namespace kvscope;

namespace {

// Words, digits in a run, contractions, whitespace runs and line breaks, an added token of the
// seeds, a two-byte character and a byte that is never valid UTF-8.
constexpr std::string_view kProbes[] = {"hello world", "  it's 12345\n\n", "<|begin|>he<think>",
                                        "caf\xc3\xa9 \xff!", ""};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const QByteArray json(reinterpret_cast<const char*>(data), static_cast<qsizetype>(size));
    const QString name = QStringLiteral("tokenizer.json");
    const auto loaded = parseHfTokenizerJson(json, name);
    if (!loaded) {
        FUZZ_CHECK(loaded.errorMessage().startsWith(name + QStringLiteral(": ")));
        return 0;
    }
    const Tokenizer& tok = *loaded.value();
    FUZZ_CHECK(tok.vocabSize() > 0);
    const SpecialTokens special = tok.special();
    for (int id : {special.bos, special.eos, special.eot}) {
        FUZZ_CHECK(id >= -1 && id < tok.vocabSize());
    }
    for (std::string_view probe : kProbes) {
        const std::vector<int> ids = tok.encode(probe);
        for (int id : ids) FUZZ_CHECK(id >= 0 && id < tok.vocabSize());
        (void)tok.decode(ids);
    }
    // (A SentencePiece-style vocabulary gives each part between added tokens the dummy prefix,
    // as Hugging Face does, so its round trip holds only for text without them.)
    if (dynamic_cast<const ByteLevelBpe*>(&tok) != nullptr) {
        for (std::string_view probe : {kProbes[0], kProbes[1], kProbes[2]}) {
            FUZZ_CHECK(tok.decode(tok.encode(probe)) == probe);
        }
    }
    const std::vector<int> odd = {-1, tok.vocabSize(), tok.vocabSize() - 1,
                                  0,  INT32_MIN,       INT32_MAX};
    for (int id : odd) {
        (void)tok.tokenBytes(id);
        (void)tok.tokenDisplay(id);
    }
    (void)tok.decode(odd);
    return 0;
}
