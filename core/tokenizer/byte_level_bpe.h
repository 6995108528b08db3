#pragma once
// Byte-level BPE, reproducing OpenAI's encoder.py for GPT-2 and llama.cpp's / Hugging Face's BPE
// for the vocabularies of Llama 3, Qwen2 and SmolLM id for id, so the token boundaries the UI
// shows are the ones the model actually saw. The pre-tokenizer (pre_tokenizer.h) is what differs
// between the families; merging is the same.

#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/text_index.h"
#include "tokenizer/tokenizer.h"
#include "util/result.h"

#include <QByteArray>
#include <QString>

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kvscope {

class ByteLevelBpe final : public Tokenizer {
public:
    // GGUF's token types (llama.cpp's llama_token_type); 0 is read as normal.
    enum TokenType : std::int32_t {
        Normal = 1,
        Unknown = 2,
        Control = 3,
        UserDefined = 4,
        Unused = 5,
        Byte = 6,
    };

    // A vocabulary as GGUF's tokenizer.ggml.* arrays (tokenizer.ggml.model "gpt2") or a Hugging
    // Face tokenizer.json hold it.
    struct Vocabulary {
        // (n_vocab) Normal, unknown, unused and byte tokens written in GPT-2's byte-to-unicode
        // alphabet; control and user-defined tokens as their raw UTF-8 text. "" leaves an id
        // unused (it decodes to nothing).
        std::vector<std::string> tokens;
        // (n_vocab) or empty (all normal): TokenType values.
        std::vector<std::int32_t> types;
        // "left right", highest priority first; each side and their concatenation are tokens.
        std::vector<std::string> merges;
        SpecialTokens special;
        PreTokenizer pre = PreTokenizer::Gpt2;
        // A piece that is itself a token becomes that token without merging (llama.cpp for
        // Llama 3, Hugging Face's `ignore_merges`).
        bool ignoreMerges = false;
        // NFC-normalise the text between whole tokens (Qwen's tokenizer.json normalizer); GGUF
        // vocabularies never ask for it, as llama.cpp does not normalise.
        bool nfc = false;
        // How error messages name the arrays.
        QString tokensField = QStringLiteral("tokenizer.ggml.tokens");
        QString typesField = QStringLiteral("tokenizer.ggml.token_type");
        QString mergesField = QStringLiteral("tokenizer.ggml.merges");
    };

    // Control and user-defined tokens are matched whole in the text (leftmost, then longest),
    // as Hugging Face matches added tokens and llama.cpp special tokens when it parses them;
    // the text between them is pre-tokenized and merged. Refused, naming the field and the
    // index: more than 2^24 tokens, a type outside 0-6, a normal token with a character outside
    // the byte alphabet, a byte without a token, a special id outside the vocabulary, a merge
    // that is not two tokens separated by a space or whose concatenation is not a token.
    // sourceName (a file) starts every message.
    static Result<ByteLevelBpe> fromVocabulary(const Vocabulary& vocab, const QString& sourceName);

    // vocabJson maps token strings (written in GPT-2's byte-to-unicode alphabet) to ids; merges
    // holds an optional "#version" first line, then one "a b" merge per line, ranked by line
    // order. The names only appear in error messages. vocabSize > 0 is the model's vocab_size:
    // every id must lie below it, checked before the id table (of max id + 1 entries) is made,
    // so one stray id near 2^24 is refused rather than allocated.
    static Result<ByteLevelBpe> fromData(const QByteArray& vocabJson, const QByteArray& merges,
                                         const QString& vocabName, const QString& mergesName,
                                         int vocabSize = 0);
    static Result<ByteLevelBpe> fromFiles(const QString& vocabPath, const QString& mergesPath,
                                          int vocabSize = 0);

    // Any byte string is accepted: bytes that are not valid UTF-8 are tokenized as punctuation,
    // so decode(encode(s)) == s always (NFC(s) when the vocabulary asks for NFC). From vocab.json
    // the literal "<|endoftext|>" becomes special().eot when the vocabulary has that token; from
    // a Vocabulary every control and user-defined token is matched whole.
    std::vector<int> encode(std::string_view utf8) const override;
    // Raw bytes of one token; "" when the id is out of range or unused.
    std::string tokenBytes(int id) const override;
    int vocabSize() const override { return static_cast<int>(idToBytes_.size()); }
    // GPT-2's <|endoftext|> ends every training text and is the start token of an empty prompt.
    SpecialTokens special() const override { return special_; }
    PreTokenizer preTokenizer() const { return pre_; }

    // GPT-2's pre-tokenization regex applied to utf8; the pieces are views into utf8 and
    // concatenate back to it. Exposed because it is the part most easily subtly wrong.
    static std::vector<std::string_view> preTokenize(std::string_view utf8) {
        return kvscope::preTokenize(PreTokenizer::Gpt2, utf8);
    }

private:
    ByteLevelBpe() = default;
    void appendPieceIds(std::string_view piece, std::vector<int>& out) const;
    void encodeOrdinary(std::string_view text, std::vector<int>& out) const;
    // The whole token (control or user-defined) longest at text[pos], or -1.
    int wholeTokenAt(std::string_view text, std::size_t pos) const;
    // Sorts the whole tokens for wholeTokenAt once they are all known.
    void indexWholeTokens();

    struct Merge {
        int rank;
        int merged;
    };
    static std::uint64_t pairKey(int left, int right) {
        return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(left)) << 32) |
               static_cast<std::uint32_t>(right);
    }

    std::vector<std::string> idToBytes_;
    std::array<int, 256> byteIds_{};
    // Keyed by the pair of token ids rather than strings: ids are unique per token string, so
    // this is the same relation encoder.py keys by string tuples, without string hashing.
    std::unordered_map<std::uint64_t, Merge> merges_;
    // Ids of the tokens matched whole in the text, by their first byte, longest first.
    std::array<std::vector<int>, 256> wholeTokens_;
    bool hasWholeTokens_ = false;
    // Normal tokens by their bytes (idToBytes_), for ignoreMerges only (empty otherwise).
    TextIndex pieceIds_;
    SpecialTokens special_;
    PreTokenizer pre_ = PreTokenizer::Gpt2;
    bool ignoreMerges_ = false;
    bool nfc_ = false;
};

}  // namespace kvscope
