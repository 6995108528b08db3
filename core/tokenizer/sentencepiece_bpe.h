#pragma once
// SentencePiece's BPE over scored pieces, with the settings Llama 2 uses (identity
// normalisation, a dummy prefix, no removal of extra whitespace, byte fallback), reproducing
// sentencepiece's ids so the token boundaries the UI shows are the ones the model saw.

#include "tokenizer/tokenizer.h"
#include "util/result.h"

#include <QString>

#include <array>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kvscope {

class SentencePieceBpe final : public Tokenizer {
public:
    // SentencePiece's piece types (sentencepiece_model.proto) that matter for encoding.
    // Unused pieces (GGUF's type 5) are never produced by encoding and decode to nothing.
    enum class Type { Normal, Unknown, Control, UserDefined, Byte, Unused };

    struct Piece {
        // As the piece stands in running text: U+2581 already replaced by a space, as llama2.c's
        // tokenizer.bin stores it. Byte pieces are "<0xNN>", control pieces their name ("<s>").
        std::string text;
        float score = 0;  // larger merges first
        Type type = Type::Normal;
    };

    // bos and eos are ids of control pieces, or -1. Refused: an empty list, a NaN score, a byte
    // piece that is not "<0xNN>", two pieces for one byte, a byte without a piece (byte fallback
    // must be able to spell every byte string), two normal or user-defined pieces with the same
    // text. sourceName only appears in error messages.
    // addBos is special().addBos: whether a prompt starts with BOS; by default when there is one.
    static Result<SentencePieceBpe> fromPieces(std::vector<Piece> pieces, int bos, int eos,
                                               const QString& sourceName,
                                               std::optional<bool> addBos = std::nullopt);

    // A space is prepended when the text is not empty (the dummy prefix); each UTF-8 character
    // starts as one symbol (a user-defined piece is matched whole and never merged), the adjacent
    // pair whose concatenation is the best-scored piece merges first (ties: leftmost), and what
    // is left that is not a piece is spelt with byte pieces. Bytes that are not valid UTF-8 are
    // byte pieces too (sentencepiece would turn them into U+FFFD), so decode(encode(s)) == s.
    std::vector<int> encode(std::string_view utf8) const override { return encode(utf8, true); }
    // The same with or without the dummy prefix: a text cut at added tokens (Hugging Face) has
    // it on each part, or on the first part only.
    std::vector<int> encode(std::string_view utf8, bool dummyPrefix) const;
    // " Hello" for the piece "▁Hello"; one byte for "<0xNN>"; "" for control and unknown pieces.
    std::string tokenBytes(int id) const override;
    int vocabSize() const override { return static_cast<int>(pieces_.size()); }
    SpecialTokens special() const override { return SpecialTokens{bos_, eos_, -1, addBos_}; }

    // The ids read as a text from its start: the dummy prefix, the space that the first
    // token with any bytes begins with, is dropped.
    std::string decode(std::span<const int> ids) const override;
    // Control and unknown pieces show their name.
    QString tokenDisplay(int id) const override;

    // The byte a "<0xNN>" piece stands for (upper-case hex, as sentencepiece writes them), or -1.
    static int byteOfPiece(std::string_view text);
    // A piece as sentencepiece, GGUF and tokenizer.json write it, with U+2581 for a space, as
    // the Piece text it stands for.
    static std::string spacesForMarkers(std::string_view text);

    // id must be in [0, vocabSize()).
    const Piece& piece(int id) const { return pieces_[static_cast<std::size_t>(id)]; }

private:
    struct Symbol;

    SentencePieceBpe() = default;
    // Fill the lookup tables from pieces_; an error message, or "" when the pieces are usable.
    QString indexPieces(const QString& sourceName);
    QString checkSpecial(const char* which, int id, const QString& sourceName) const;
    // One symbol per UTF-8 character, user-defined piece or invalid byte of text.
    std::vector<Symbol> split(std::string_view text) const;
    // Merges the best-scored adjacent pairs until no concatenation is a piece.
    void merge(std::string_view text, std::vector<Symbol>& symbols) const;
    // Length of the user-defined piece matched at text[pos], 0 when none.
    std::size_t userDefinedAt(std::string_view text, std::size_t pos) const;
    int mergeableId(std::string_view text) const;

    std::vector<Piece> pieces_;
    // Normal and user-defined pieces by text: the only ones merges can produce, as in
    // sentencepiece (control, unknown and byte pieces are never the result of a merge). An
    // open-addressing table of ids (-1 empty, size a power of two) rather than a map keyed by
    // views into pieces_, so that copying the tokenizer cannot leave keys dangling.
    std::vector<int> mergeable_;
    std::size_t maxPieceLength_ = 0;  // of the mergeable pieces; longer texts are not looked up
    // Ids, longest text first; scanned in full at each character, which suits the handful a
    // vocabulary has (Llama 2 has none).
    std::vector<int> userDefined_;
    std::array<int, 256> byteIds_{};
    int bos_ = -1;
    int eos_ = -1;
    bool addBos_ = false;
};

}  // namespace kvscope
