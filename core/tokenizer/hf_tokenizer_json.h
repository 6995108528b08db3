#pragma once
// Hugging Face's tokenizer.json, for the two kinds of BPE that Llama-family folders ship:
//
// - byte-level BPE (GPT-2, Llama 3, Qwen2, SmolLM): a ByteLevel pre-tokenizer, alone (GPT-2's
//   pattern) or after a Split with Llama 3's or Qwen2's pattern or after single Digits (SmolLM);
//   optionally the NFC normalizer (Qwen);
// - SentencePiece-style BPE with byte_fallback (Llama 2, Mistral, TinyLlama): the normalizer
//   Prepend U+2581 + Replace " " -> U+2581, or a Metaspace pre-tokenizer, and "<0xNN>" tokens.
//
// added_tokens are matched whole in the text (leftmost, then longest), as Hugging Face does
// whether they are special or not; the post-processor's template says whether a prompt starts
// with BOS. Everything else (WordPiece, Unigram, another pre-tokenizer or normalizer, BPE
// dropout, word suffixes) is refused with a message naming the file and the field.

#include "tokenizer/tokenizer.h"
#include "util/result.h"

#include <QByteArray>
#include <QString>

namespace kvscope {

// Llama 3's file is 9 MB and Qwen's 11 MB; the largest common ones are about 35 MB.
constexpr qint64 kMaxTokenizerJsonBytes = 64 * 1024 * 1024;

// vocabSize > 0 is the model's vocab_size: every id must lie below it. fileName starts every
// error message. End of sequence is the added token "</s>" or "<|end_of_text|>"; end of text
// "<|endoftext|>", "<|eot_id|>" or "<|im_end|>", the first the vocabulary has.
Result<TokenizerPtr> parseHfTokenizerJson(const QByteArray& json, const QString& fileName,
                                          int vocabSize = 0);
Result<TokenizerPtr> loadHfTokenizerJson(const QString& path, int vocabSize = 0);

}  // namespace kvscope
