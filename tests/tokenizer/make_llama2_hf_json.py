#!/usr/bin/python3
"""Writes llama2/tokenizer.json.zlib: Llama 2's vocabulary (llama2/tokenizer.bin, llama2.c's
export of Llama 2's tokenizer.model) in the layout Hugging Face's `tokenizers` gives a Llama 2
folder's tokenizer.json: a BPE model with byte_fallback whose merges are every split of every
piece into two pieces, ordered by the merged piece's score (what its SentencePiece converter
writes), the normalizer Prepend U+2581 + Replace " " -> U+2581, no pre-tokenizer, the added
tokens <unk>, <s>, </s>, and a template post-processor that puts <s> first. The test reads it
against sentencepiece's ids for the same vocabulary (llama2_sp_ids.json). Written by this
project from the layout of such files; see README.md.

    /usr/bin/python3 tests/tokenizer/make_llama2_hf_json.py

The .zlib file is in qCompress's layout: the uncompressed length as a 4-byte big-endian
integer, then a zlib stream.
"""

import json
import pathlib
import struct
import zlib

HERE = pathlib.Path(__file__).resolve().parent
MARK = "\u2581"


def read_tokenizer_bin(path):
    """[(text, score)] from llama2.c's tokenizer.bin (spaces for U+2581)."""
    data = path.read_bytes()
    pieces, pos = [], 4
    while pos < len(data):
        score, length = struct.unpack_from("<fI", data, pos)
        pieces.append((data[pos + 8:pos + 8 + length].decode("utf-8"), score))
        pos += 8 + length
    return pieces


def main():
    pieces = read_tokenizer_bin(HERE / "llama2" / "tokenizer.bin")
    assert len(pieces) == 32000, len(pieces)
    names = {0: "<unk>", 1: "<s>", 2: "</s>"}
    texts = [names.get(i, text.replace(" ", MARK)) for i, (text, _) in enumerate(pieces)]
    scores = [score for _, score in pieces]
    vocab = {text: i for i, text in enumerate(texts)}
    assert len(vocab) == len(texts), "repeated piece"

    # Every split of a piece into two pieces, ordered by the piece's score (best first), then
    # by the ids of the two parts.
    merges = []
    for i, text in enumerate(texts):
        local = [(text[:k], text[k:]) for k in range(1, len(text))
                 if text[:k] in vocab and text[k:] in vocab]
        local.sort(key=lambda pair: (vocab[pair[0]], vocab[pair[1]]))
        merges.extend((scores[i], i, pair) for pair in local)
    merges.sort(key=lambda m: -m[0])  # stable: ties keep vocabulary order

    added = [{"id": i, "content": names[i], "single_word": False, "lstrip": False,
              "rstrip": False, "normalized": False, "special": True} for i in range(3)]
    doc = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": MARK},
            {"type": "Replace", "pattern": {"String": " "}, "content": MARK}]},
        "pre_tokenizer": None,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                     {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "<s>", "type_id": 1}},
                     {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": MARK}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>",
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": True, "byte_fallback": True,
                  "vocab": vocab, "merges": [f"{a} {b}" for _, _, (a, b) in merges]},
    }
    raw = json.dumps(doc, ensure_ascii=False, indent=None).encode("utf-8")
    out = HERE / "llama2" / "tokenizer.json.zlib"
    out.write_bytes(struct.pack(">I", len(raw)) + zlib.compress(raw, 9))
    print(f"wrote {out.name}: {len(vocab)} tokens, {len(merges)} merges, {len(raw)} bytes "
          f"({out.stat().st_size} compressed)")


if __name__ == "__main__":
    main()
