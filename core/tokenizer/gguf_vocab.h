#pragma once
// Tokenizers from the vocabulary a GGUF file carries in its metadata (the tokenizer.ggml.*
// keys), as plain arrays: the GGUF reader reads them, this builds the tokenizer, following
// llama.cpp's vocabulary loader (llama-vocab.cpp) for the defaults.
//
//   tokenizer.ggml.model = "llama": SentencePiece-style BPE (SentencePieceBpe): pieces with
//       U+2581 for a space, scores, token types, byte fallback through the "<0xNN>" pieces.
//   tokenizer.ggml.model = "gpt2":  byte-level BPE (ByteLevelBpe): tokens in GPT-2's byte
//       alphabet, "a b" merges, and the pre-tokenizer named by tokenizer.ggml.pre.

#include "tokenizer/tokenizer.h"
#include "util/result.h"

#include <QString>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kvscope {

struct GgufVocabulary {
    std::string model;                // tokenizer.ggml.model
    std::optional<std::string> pre;   // tokenizer.ggml.pre (gpt2 only; absent means "default")
    std::vector<std::string> tokens;  // tokenizer.ggml.tokens (n_vocab)
    std::vector<float> scores;        // tokenizer.ggml.scores (n_vocab, or empty: all 0)
    std::vector<std::int32_t> types;  // tokenizer.ggml.token_type (n_vocab, or empty: normal)
    std::vector<std::string> merges;  // tokenizer.ggml.merges (gpt2)
    // tokenizer.ggml.bos_token_id, eos_token_id, eot_token_id; absent: llama.cpp's defaults
    // (llama: BOS 1, EOS 2; gpt2: none here, since llama.cpp's 11 is a guess that names a
    // wrong token in most vocabularies).
    std::optional<std::int64_t> bos, eos, eot;
    // tokenizer.ggml.add_bos_token; absent: true for llama and for the llama-bpe pre-tokenizer,
    // false otherwise, as llama.cpp decides.
    std::optional<bool> addBos;
};

// Refused with a message naming fileName and the key: a model other than llama or gpt2, a
// pre-tokenizer other than those of pre_tokenizer.h (named in the message), arrays of
// different lengths, and everything SentencePieceBpe::fromPieces and
// ByteLevelBpe::fromVocabulary refuse. vocabSize > 0 is the model's: the vocabulary must not be
// larger (a smaller one leaves ids the model can emit that decode to nothing).
Result<TokenizerPtr> tokenizerFromGguf(const GgufVocabulary& vocab, const QString& fileName,
                                       int vocabSize = 0);

}  // namespace kvscope
