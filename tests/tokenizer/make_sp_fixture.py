#!/usr/bin/python3
"""SentencePiece fixtures for test_sentencepiece: trains a small BPE model on the project's story
corpus with Debian's python3-sentencepiece, exports it in llama2.c's tokenizer.bin layout, and
records sentencepiece's ids for every string in sp_strings.json, for that model and (with
--llama-model) for Llama 2's tokenizer.model. See README.md for the exact commands.

    /usr/bin/python3 tests/tokenizer/make_sp_fixture.py --llama-model /path/to/tokenizer.model
"""

import argparse
import json
import pathlib
import struct
import subprocess
import sys
import tempfile

import sentencepiece as spm

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SP_DIR = HERE / "sp"
LLAMA_BIN = HERE / "llama2" / "tokenizer.bin"

# Llama 2's normaliser settings (identity rules, a dummy prefix, whitespace kept as it is) and
# byte fallback; the rest only shapes which pieces training finds.
TRAINER = dict(
    model_type="bpe",
    vocab_size=1024,
    byte_fallback=True,
    normalization_rule_name="identity",
    add_dummy_prefix=True,
    remove_extra_whitespaces=False,
    split_digits=True,
    allow_whitespace_only_pieces=True,
    # The corpus is ASCII; below 1.0 its rarest characters are left out too and fall back to
    # bytes like every non-ASCII character.
    character_coverage=0.9995,
    unk_id=0,
    bos_id=1,
    eos_id=2,
    pad_id=-1,
    num_threads=1,
    input_sentence_size=0,
    shuffle_input_sentence=False,
    max_sentence_length=16384,
    minloglevel=2,
)


def make_corpus(folder, chars):
    """One line per paragraph of make_corpus.py's stories (without the <|endoftext|> marks)."""
    raw = folder / "stories.txt"
    subprocess.run([sys.executable, str(ROOT / "resources/model/make_corpus.py"), "--seed", "1",
                    "--chars", str(chars), "--out", str(raw)], check=True)
    text = raw.read_text(encoding="utf-8").replace("<|endoftext|>", "\n")
    lines = [line for line in text.split("\n") if line.strip()]
    path = folder / "sentences.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def export_bin(sp):
    """The bytes llama2.c's tokenizer.py export writes for a model: uint32 max_token_length, then
    per piece float32 score, uint32 length and the text with U+2581 as a space, BOS and EOS as
    "\\n<s>\\n" and "\\n</s>\\n"."""
    texts, scores = [], []
    for i in range(sp.vocab_size()):
        piece = sp.id_to_piece(i)
        if i == sp.bos_id():
            piece = "\n<s>\n"
        elif i == sp.eos_id():
            piece = "\n</s>\n"
        texts.append(piece.replace("\u2581", " ").encode("utf-8"))
        scores.append(sp.get_score(i))
    out = [struct.pack("<I", max(len(t) for t in texts))]
    for text, score in zip(texts, scores):
        out.append(struct.pack("<fI", score, len(text)) + text)
    return b"".join(out)


def record_ids(sp, strings, name):
    """[{"text", "ids"}] for every string, refusing strings sentencepiece cannot stand for."""
    out, problems = [], []
    for text in strings:
        fail = problems.append
        # sentencepiece reads U+2581 as a space (it is its own escape for one), so such a text
        # decodes to something else; kvscope spells it with byte pieces (checked in C++).
        if "\u2581" in text:
            fail(f"{text!r}: contains U+2581")
            continue
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            fail(f"{text!r}: not representable in UTF-8")
            continue
        ids = sp.encode(text)
        if sp.decode(ids) != text:
            fail(f"{text!r}: {name} does not round-trip: {sp.decode(ids)!r}")
        out.append({"text": text, "ids": ids})
    return out, problems


def write_json(path, entries, header):
    # ASCII escapes: Qt's JSON parser drops a U+FEFF that starts a raw UTF-8 string.
    lines = [json.dumps(e) for e in entries]
    path.write_text(json.dumps(header, ensure_ascii=False)[:-1] + ', "entries": [\n' +
                    ",\n".join(lines) + "\n]}\n", encoding="utf-8")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--chars", type=int, default=3_000_000, help="corpus size for training")
    ap.add_argument("--llama-model", help="llama2.c's tokenizer.model (Llama 2's vocabulary)")
    args = ap.parse_args()

    strings = json.loads((HERE / "sp_strings.json").read_text(encoding="utf-8"))
    if len(strings) < 300:
        sys.exit(f"only {len(strings)} strings")
    problems = []

    SP_DIR.mkdir(exist_ok=True)
    # A fixed folder: the .model records the paths of its input and prefix, so a random one
    # would change the file on every run.
    tmp = pathlib.Path(tempfile.gettempdir()) / "kvscope-sp-fixture"
    tmp.mkdir(exist_ok=True)
    corpus = make_corpus(tmp, args.chars)
    prefix = tmp / "story"
    spm.SentencePieceTrainer.train(input=str(corpus), model_prefix=str(prefix), **TRAINER)
    model = prefix.with_suffix(".model").read_bytes()
    sp = spm.SentencePieceProcessor(model_proto=model)
    entries, found = record_ids(sp, strings, "story model")
    problems += found
    fallback = sum(1 for i in range(sp.vocab_size()) if sp.is_byte(i))
    if fallback != 256:
        problems.append(f"story model has {fallback} byte pieces, not 256")

    llama = None
    if args.llama_model:
        lsp = spm.SentencePieceProcessor(model_file=args.llama_model)
        # The same export must give back llama2.c's own file, byte for byte, or the story
        # model's tokenizer.bin would not be what llama2.c writes.
        if export_bin(lsp) != LLAMA_BIN.read_bytes():
            problems.append(f"exporting {args.llama_model} does not reproduce {LLAMA_BIN}")
        llama, found = record_ids(lsp, strings, "Llama 2 model")
        problems += found

    if problems:
        print("\n".join(problems), file=sys.stderr)
        sys.exit(f"{len(problems)} problem(s); fixtures not written")
    (SP_DIR / "story.model").write_bytes(model)
    (SP_DIR / "tokenizer.bin").write_bytes(export_bin(sp))
    version = spm.__version__
    write_json(HERE / "sp_peer_ids.json", entries,
               {"peer": f"sentencepiece {version}", "model": "sp/story.model",
                "vocab_size": sp.vocab_size()})
    print(f"wrote {len(entries)} entries with sentencepiece {version}, vocab {sp.vocab_size()}")
    if llama is not None:
        write_json(HERE / "llama2_sp_ids.json", llama,
                   {"peer": f"sentencepiece {version}", "model": "llama2.c tokenizer.model",
                    "vocab_size": lsp.vocab_size()})
        print(f"wrote {len(llama)} entries for Llama 2's tokenizer.model")


if __name__ == "__main__":
    main()
