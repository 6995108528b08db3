#pragma once
// llama2.c's tokenizer.bin: the pieces and scores of a SentencePiece BPE vocabulary, as its
// tokenizer.py exports them from a sentencepiece model.
//
// Layout (little-endian): int32 max_token_length, then for each of vocab_size tokens: float32
// score, int32 length, `length` bytes of text (U+2581 written as a space; BOS as "\n<s>\n" and
// EOS as "\n</s>\n"). The file does not hold vocab_size: the model's config gives it. As in
// llama2.c's run.c, id 0 is <unk>, 1 is <s> (BOS), 2 is </s> (EOS) and "<0xNN>" pieces are bytes.

#include "tokenizer/sentencepiece_bpe.h"
#include "util/result.h"

#include <QByteArrayView>
#include <QString>

namespace kvscope {

// Exactly vocabSize tokens must fill the file; each length must lie in [0, max_token_length] and
// inside the file. fileName only appears in error messages.
Result<SentencePieceBpe> parseTokenizerBin(QByteArrayView data, int vocabSize,
                                           const QString& fileName);
Result<SentencePieceBpe> loadTokenizerBin(const QString& path, int vocabSize);

}  // namespace kvscope
