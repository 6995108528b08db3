#!/usr/bin/python3
"""The embedded Llama's tokenizer: a SentencePiece BPE model trained with Debian's
python3-sentencepiece on the story corpus, in the layout Llama's tokenizer has (unknown 0,
<s> 1, </s> 2, the 256 byte pieces <0x00>..<0xFF> at 3..258 for byte fallback, then the learned
pieces), and its GGUF vocabulary (tokenizer.ggml.model = llama).

    /usr/bin/python3 resources/model/sp_tokenizer.py --corpus corpus.txt --vocab-size 2048 \
        --out cache/sp

Text is encoded the way kvscope's engine (and llama.cpp) encodes a prompt: one dummy space
before the text, every other space kept as U+2581, and a newline through its byte piece. So a
word after a blank line has no space before it ("\\n\\nTom"). SentencePiece's trainer sees
paragraphs, one per line, and gets the dummy space only on a story's first paragraph; with
add_dummy_prefix off it therefore learns the pieces both spellings of a word need.
"""

import argparse
import os
import sys

import sentencepiece as spm

SEP = "<|endoftext|>"
UNK, BOS, EOS = 0, 1, 2


def training_sentences(stories):
    for s in stories:
        for i, para in enumerate(s.split("\n")):
            if para:
                yield (" " + para) if i == 0 else para


def train(corpus_path, vocab_size, out_dir):
    with open(corpus_path, encoding="utf-8") as f:
        stories = [s for s in f.read().split(SEP) if s]
    os.makedirs(out_dir, exist_ok=True)
    spm.SentencePieceTrainer.train(
        sentence_iterator=training_sentences(stories), model_prefix=os.path.join(out_dir, "sp"),
        model_type="bpe", vocab_size=vocab_size, character_coverage=1.0, byte_fallback=True,
        split_digits=True, add_dummy_prefix=False, remove_extra_whitespaces=False,
        normalization_rule_name="identity", unk_id=UNK, bos_id=BOS, eos_id=EOS, pad_id=-1,
        max_sentence_length=1 << 16, num_threads=2, minloglevel=2)


class Tokenizer:
    def __init__(self, directory):
        self.sp = spm.SentencePieceProcessor(model_file=os.path.join(directory, "sp.model"))
        self.n_vocab = self.sp.get_piece_size()
        self.bos, self.eos = BOS, EOS

    def encode(self, text):
        """As the engine encodes a prompt, without <s>: the dummy space first."""
        return self.sp.encode(" " + text) if text else []

    def decode(self, ids):
        return self.sp.decode(ids)

    def gguf_vocab(self):
        """tokens, scores and token types as GGUF stores them (types: 1 normal, 2 unknown,
        3 control, 6 byte)."""
        tokens, scores, types = [], [], []
        for i in range(self.n_vocab):
            tokens.append(self.sp.id_to_piece(i))
            scores.append(self.sp.get_score(i))
            if self.sp.is_unknown(i):
                types.append(2)
            elif self.sp.is_control(i):
                types.append(3)
            elif self.sp.is_byte(i):
                types.append(6)
            else:
                types.append(1)
        return dict(model="llama", tokens=tokens, scores=scores, types=types, bos=BOS, eos=EOS,
                    add_bos=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--vocab-size", type=int, default=2048)
    ap.add_argument("--out", required=True, help="directory for sp.model and sp.vocab")
    args = ap.parse_args()
    train(args.corpus, args.vocab_size, args.out)
    tok = Tokenizer(args.out)
    with open(args.corpus, encoding="utf-8") as f:
        sample = f.read(200000)
    ids = tok.encode(sample)
    print("vocab %d, %.2f characters per token on the first 200k characters -> %s"
          % (tok.n_vocab, len(sample) / len(ids), args.out), file=sys.stderr)


if __name__ == "__main__":
    main()
