#pragma once
// GPT-2's byte-level BPE tokenizer, reproducing OpenAI's encoder.py id for id so the token
// boundaries the UI shows are the ones the model actually saw.

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
    // so decode(encode(s)) == s always. The literal "<|endoftext|>" becomes special().eot when
    // the vocabulary has that token.
    std::vector<int> encode(std::string_view utf8) const override;
    // Raw bytes of one token; "" when the id is out of range or unused.
    std::string tokenBytes(int id) const override;
    int vocabSize() const override { return static_cast<int>(idToBytes_.size()); }
    // <|endoftext|> ends every training text and is the start token of an empty prompt.
    SpecialTokens special() const override { return SpecialTokens{-1, -1, endOfTextId_, false}; }

    // GPT-2's pre-tokenization regex applied to utf8; the pieces are views into utf8 and
    // concatenate back to it. Exposed because it is the part most easily subtly wrong.
    static std::vector<std::string_view> preTokenize(std::string_view utf8);

private:
    ByteLevelBpe() = default;
    void appendPieceIds(std::string_view piece, std::vector<int>& out) const;
    void encodeOrdinary(std::string_view text, std::vector<int>& out) const;

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
    int endOfTextId_ = -1;
};

}  // namespace kvscope
