#!/usr/bin/env python3
"""Byte-level BPE trainer and encoder producing GPT-2-format tokenizer files.

Standard library only, so it runs anywhere a python3 exists and never becomes a
runtime dependency of kvscope (the app reads vocab.json / merges.txt itself).

Conventions (chosen to match the files OpenAI / Hugging Face ship for GPT-2):
  * Bytes are shown through GPT-2's byte-to-unicode table: the 188 printable
    Latin-1 bytes ('!'..'~', '\xa1'..'\xac', '\xae'..'\xff') stand for
    themselves, every other byte b becomes chr(256 + n), n counting those bytes
    in increasing order (so a space is 'Ġ', a newline 'Ċ').
  * Ids 0..255 follow GPT-2's encoder.json order, i.e. the order of that table:
    first the printable bytes in byte order, then the remapped ones.  The id of
    a byte is therefore NOT its value; consumers must read vocab.json.
  * Merged symbols get the following ids in merge order; <|endoftext|> is the
    last id.  As in the HF trainer, two different merges may spell the same
    string (e.g. "a bc" and "ab c"); the later merge keeps the earlier id, so
    len(merges) can exceed vocab_size - 257.  The target size counts distinct
    symbols.
  * Pre-tokenization is GPT-2's regex.  Python's re has no \\p{L}, so the
    letter / number / space classes are expanded from unicodedata (categories
    L*, N*, and str.isspace) of the running Python's Unicode version.
  * Training picks the most frequent adjacent pair; ties go to the
    lexicographically smallest (left, right) pair of symbol strings, which
    makes the result independent of dict / set iteration order.
"""

import argparse
import collections
import heapq
import json
import os
import re
import sys
import unicodedata

SPECIAL = "<|endoftext|>"


def bytes_to_unicode():
    printable = (list(range(ord("!"), ord("~") + 1))
                 + list(range(ord("\xa1"), ord("\xac") + 1))
                 + list(range(ord("\xae"), ord("\xff") + 1)))
    order = list(printable)
    chars = list(printable)
    n = 0
    for b in range(256):
        if b not in printable:
            order.append(b)
            chars.append(256 + n)
            n += 1
    # Returned as a list of (byte, char) in GPT-2 id order; the dict forms are
    # derived by callers.
    return [(b, chr(c)) for b, c in zip(order, chars)]


BYTE_ORDER = bytes_to_unicode()
BYTE_ENCODER = {b: c for b, c in BYTE_ORDER}
BYTE_DECODER = {c: b for b, c in BYTE_ORDER}


def _class_body(pred):
    """Character-class body ("a-z...") for every code point satisfying pred."""
    parts = []
    start = None
    for cp in range(0x110001):
        inside = cp < 0x110000 and pred(cp)
        if inside and start is None:
            start = cp
        elif not inside and start is not None:
            end = cp - 1
            lo = "\\U%08x" % start
            parts.append(lo if end == start else lo + "-" + "\\U%08x" % end)
            start = None
    return "".join(parts)


def _build_pretokenizer():
    cat = unicodedata.category
    letters = _class_body(lambda cp: cat(chr(cp)).startswith("L"))
    numbers = _class_body(lambda cp: cat(chr(cp)).startswith("N"))
    spaces = _class_body(lambda cp: chr(cp).isspace())
    # Same alternation order as GPT-2's pattern; (?![^S]) is \s+(?!\S) with
    # the class spelled out because Python's \S would not use str.isspace.
    pattern = ("'s|'t|'re|'ve|'m|'ll|'d"
               "| ?[{L}]+| ?[{N}]+| ?[^{S}{L}{N}]+"
               "|[{S}]+(?![^{S}])|[{S}]+").format(L=letters, N=numbers, S=spaces)
    return re.compile(pattern)


_PRETOKENIZER = None


def pretokenize(text):
    """Split text (without special tokens) into GPT-2 pre-tokens."""
    global _PRETOKENIZER
    if _PRETOKENIZER is None:
        # Built lazily: expanding the classes walks all of Unicode (~0.5 s).
        _PRETOKENIZER = _build_pretokenizer()
    return _PRETOKENIZER.findall(text)


def pretokenize_scan(text):
    """Hand-written scanner for the same pattern; kept as an independent
    cross-check of the regex expansion (see --self-test)."""
    def is_l(c):
        return unicodedata.category(c).startswith("L")

    def is_n(c):
        return unicodedata.category(c).startswith("N")

    def is_other(c):
        return not (c.isspace() or is_l(c) or is_n(c))

    out = []
    i, n = 0, len(text)
    while i < n:
        if text[i] == "'":
            hit = None
            for suf in ("s", "t", "re", "ve", "m", "ll", "d"):
                if text.startswith(suf, i + 1):
                    hit = 1 + len(suf)
                    break
            if hit:
                out.append(text[i:i + hit])
                i += hit
                continue
        j = i + 1 if text[i] == " " else i
        matched = False
        for pred in (is_l, is_n, is_other):
            k = j
            while k < n and pred(text[k]):
                k += 1
            if k > j:
                out.append(text[i:k])
                i = k
                matched = True
                break
        if matched:
            continue
        # Whitespace: a run not at the end of the text leaves its last char
        # to prefix the next token, mirroring the regex's backtracking.
        k = i
        while k < n and text[k].isspace():
            k += 1
        if k == n or k - i == 1:
            out.append(text[i:k])
            i = k
        else:
            out.append(text[i:k - 1])
            i = k - 1
    return out


def split_special(text):
    """Alternate ordinary text and the special token, dropping empty pieces."""
    pieces = []
    for idx, part in enumerate(text.split(SPECIAL)):
        if idx:
            pieces.append(SPECIAL)
        if part:
            pieces.append(part)
    return pieces


def to_symbols(token):
    return [BYTE_ENCODER[b] for b in token.encode("utf-8")]


def _pairs(word):
    return [(word[i], word[i + 1]) for i in range(len(word) - 1)]


def _merge_word(word, a, b):
    """Merge non-overlapping occurrences of (a, b) left to right."""
    out = []
    i, n = 0, len(word)
    while i < n:
        if i + 1 < n and word[i] == a and word[i + 1] == b:
            out.append(a + b)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return out


def train(text, vocab_size, log=None):
    """Train on text; returns (vocab dict symbol->id, merges list of pairs)."""
    if vocab_size < 257:
        raise ValueError("vocab_size must leave room for 256 bytes + <|endoftext|>")
    counts = collections.Counter()
    for piece in split_special(text):
        if piece != SPECIAL:
            counts.update(pretokenize(piece))

    vocab = {c: i for i, (_, c) in enumerate(BYTE_ORDER)}
    words, freqs = [], []
    for tok, f in counts.items():
        words.append(to_symbols(tok))
        freqs.append(f)

    pair_counts = collections.defaultdict(int)
    where = collections.defaultdict(set)
    for wi, w in enumerate(words):
        for p in _pairs(w):
            pair_counts[p] += freqs[wi]
            where[p].add(wi)
    # Max-heap via negated counts; stale entries are skipped on pop, which is
    # far cheaper than rescanning all pairs per merge.
    heap = [(-c, a, b) for (a, b), c in pair_counts.items()]
    heapq.heapify(heap)

    merges = []
    merged = set()
    while len(vocab) < vocab_size - 1 and heap:
        negc, a, b = heapq.heappop(heap)
        pair = (a, b)
        if pair_counts.get(pair, 0) != -negc or negc == 0:
            continue
        # A pair can come back after a different merge respelled one of its
        # symbols; its first rank already covers it when encoding.
        if pair not in merged:
            merged.add(pair)
            merges.append(pair)
        sym = a + b
        if sym not in vocab:
            vocab[sym] = len(vocab)
        touched = set()
        for wi in sorted(where.pop(pair, ())):
            w = words[wi]
            old = _pairs(w)
            if pair not in old:
                continue
            new_w = _merge_word(w, a, b)
            f = freqs[wi]
            for p in old:
                pair_counts[p] -= f
                touched.add(p)
            for p in _pairs(new_w):
                pair_counts[p] += f
                where[p].add(wi)
                touched.add(p)
            words[wi] = new_w
        pair_counts.pop(pair, None)
        touched.discard(pair)
        for p in touched:
            c = pair_counts[p]
            if c > 0:
                heapq.heappush(heap, (-c, p[0], p[1]))
            else:
                del pair_counts[p]
        if log and len(merges) % 200 == 0:
            log("merge %d: %r + %r (count %d)" % (len(merges), a, b, -negc))
    vocab[SPECIAL] = len(vocab)
    return vocab, merges


class Tokenizer:
    def __init__(self, vocab, merges):
        self.vocab = dict(vocab)
        self.inverse = {i: s for s, i in self.vocab.items()}
        self.ranks = {}
        for r, m in enumerate(merges):
            self.ranks.setdefault(tuple(m), r)
        self.cache = {}

    @classmethod
    def load(cls, directory):
        with open(os.path.join(directory, "vocab.json"), encoding="utf-8") as f:
            vocab = json.load(f)
        merges = []
        with open(os.path.join(directory, "merges.txt"), encoding="utf-8") as f:
            for line in f:
                line = line.rstrip("\n")
                if line and not line.startswith("#version"):
                    a, b = line.split(" ")
                    merges.append((a, b))
        return cls(vocab, merges)

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = to_symbols(token)
        while len(word) > 1:
            best = min(_pairs(word), key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            word = _merge_word(word, *best)
        self.cache[token] = word
        return word

    def encode(self, text):
        ids = []
        for piece in split_special(text):
            if piece == SPECIAL:
                ids.append(self.vocab[SPECIAL])
                continue
            for tok in pretokenize(piece):
                ids.extend(self.vocab[s] for s in self.bpe(tok))
        return ids

    def decode(self, ids):
        out = bytearray()
        for i in ids:
            sym = self.inverse[i]
            if sym == SPECIAL:
                out += SPECIAL.encode("utf-8")
            else:
                out += bytes(BYTE_DECODER[c] for c in sym)
        return out.decode("utf-8", errors="replace")

    def save(self, directory):
        os.makedirs(directory, exist_ok=True)
        ordered = dict(sorted(self.vocab.items(), key=lambda kv: kv[1]))
        with open(os.path.join(directory, "vocab.json"), "w", encoding="utf-8") as f:
            json.dump(ordered, f, ensure_ascii=False)
        merges = sorted(self.ranks, key=self.ranks.get)
        with open(os.path.join(directory, "merges.txt"), "w", encoding="utf-8") as f:
            f.write("#version: 0.2\n")
            for a, b in merges:
                f.write("%s %s\n" % (a, b))


def train_tokenizer(text, vocab_size, log=None):
    vocab, merges = train(text, vocab_size, log)
    return Tokenizer(vocab, merges)


def encode(text, directory):
    """Tokenize text with the vocab.json / merges.txt found in directory."""
    return Tokenizer.load(directory).encode(text)


def self_test():
    samples = [
        "Hello world", "  leading", "trailing  ", "a  b", "a\n\nb", "x \t\ny",
        "don't I'll we've 'S 'ss ''s", "?!'s", "3.14 and 42nd", "café naïve Ωmega",
        "½ ² ٣ 一二", "tabs\t\tand\u00a0nbsp\u2003em", "émoji 🙂🙂 ok", " ", "",
        "\n", "end with space ", "x  ", "a\u2028b", "MiXeD CaSe", "x--y...z",
    ]
    for s in samples:
        a, b = pretokenize(s), pretokenize_scan(s)
        assert a == b, (s, a, b)
        assert "".join(a) == s, s
    corpus = " ".join(samples * 20) + SPECIAL + "the the the theme then"
    tok = train_tokenizer(corpus, 300)
    for s in samples + ["unseen wörds " + SPECIAL + " x"]:
        assert tok.decode(tok.encode(s)) == s, s
    assert len(tok.vocab) == 300 and tok.vocab[SPECIAL] == 299
    print("self-test ok")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", help="UTF-8 text file; <|endoftext|> separates documents")
    ap.add_argument("--vocab-size", type=int, help="total ids incl. 256 bytes and <|endoftext|>")
    ap.add_argument("--out", help="directory for vocab.json and merges.txt")
    ap.add_argument("--self-test", action="store_true", help="check the pre-tokenizer and round trips")
    args = ap.parse_args()
    if args.self_test:
        self_test()
        return
    if not (args.corpus and args.vocab_size and args.out):
        ap.error("--corpus, --vocab-size and --out are required")
    with open(args.corpus, encoding="utf-8") as f:
        text = f.read()
    tok = train_tokenizer(text, args.vocab_size,
                          log=lambda m: print(m, file=sys.stderr))
    tok.save(args.out)
    print("vocab %d, merges %d -> %s" % (len(tok.vocab), len(tok.ranks), args.out))


if __name__ == "__main__":
    main()
