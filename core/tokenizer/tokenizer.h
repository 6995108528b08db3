#pragma once
// What the session, the exports and the panels need of a tokenizer, whatever its algorithm:
// GPT-2's byte-level BPE (byte_level_bpe.h) or a SentencePiece-style BPE over scored pieces
// (sentencepiece_bpe.h). Implementations are immutable once loaded and keep no cache, so one
// instance can serve several threads.

#include <QString>

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kvscope {

// Ids of the special tokens; -1 when the vocabulary has none.
struct SpecialTokens {
    int bos = -1;  // beginning of sequence (SentencePiece's <s>)
    int eos = -1;  // end of sequence (</s>)
    int eot = -1;  // GPT-2's <|endoftext|>, which also serves as its start token
    // Whether a prompt is fed to the model after BOS (llama2.c's run.c always does).
    bool addBos = false;
};

class Tokenizer {
public:
    virtual ~Tokenizer() = default;

    // Ids of `utf8`, never with BOS (promptIds() adds it). Any byte string is accepted.
    virtual std::vector<int> encode(std::string_view utf8) const = 0;
    // Raw bytes of one token as it stands in running text (may be invalid UTF-8 when it holds
    // part of a character); "" when the id is out of range or a control token.
    virtual std::string tokenBytes(int id) const = 0;
    // One past the largest id, i.e. the number of rows a model's embedding matrix has.
    virtual int vocabSize() const = 0;
    virtual SpecialTokens special() const = 0;

    // Bytes of a sequence of ids. decode(encode(s)) == s for every s. Ids out of range or of
    // control tokens contribute nothing, so a UI can decode raw sampled ids without validating.
    virtual std::string decode(std::span<const int> ids) const;
    // Printable form of one token: displayBytes(tokenBytes(id)), or the token's name (e.g.
    // "<s>") for a control token.
    virtual QString tokenDisplay(int id) const;

    // The ids a run starts from: BOS first when the vocabulary asks for it; an empty text starts
    // from BOS, or from end-of-text when there is no BOS; empty only when there is neither.
    std::vector<int> promptIds(std::string_view utf8, bool addBos) const;
    // The id that ends a text: EOS, else end-of-text; -1 when the vocabulary has neither.
    int endId() const;
};

// Valid UTF-8 as text; control characters as \n, \r, \t or \xNN; bytes that are not valid UTF-8
// as \xNN; a backslash as \\ so the escapes stay unambiguous.
QString displayBytes(std::string_view bytes);

using TokenizerPtr = std::shared_ptr<const Tokenizer>;

}  // namespace kvscope
