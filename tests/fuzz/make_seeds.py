#!/usr/bin/env python3
"""Writes the seed corpora in tests/fuzz/corpus/<target>/ (committed; rerun after a format change).

Each seed is a small valid input, or one a single edit away from valid, so the fuzzer starts
inside the parsers instead of spending its first minutes rediscovering the formats."""

import json
import pathlib
import struct

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CORPUS = HERE / "corpus"


def write(target, name, data):
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def safetensors(tensors, metadata=None, pad=0, gap=0):
    """tensors: list of (name, dtype, numpy array). Laid out back to back, `gap` bytes apart."""
    header, blobs, offset = {}, [], 0
    for name, dtype, array in tensors:
        if dtype == "BF16":
            raw = (np.asarray(array, "<f4").view("<u4") >> 16).astype("<u2").tobytes()
        else:
            raw = np.asarray(array, {"F32": "<f4", "F16": "<f2"}[dtype]).tobytes()
        header[name] = {"dtype": dtype, "shape": list(np.shape(array)),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw + b"\0" * gap)
        offset += len(raw) + gap
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode() + b" " * pad
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def safetensors_seeds():
    rng = np.random.default_rng(1)
    write("fuzz_safetensors", "f32_matrix_and_scalar", safetensors(
        [("w", "F32", rng.standard_normal((2, 3))), ("s", "F32", np.float32(1.5))]))
    write("fuzz_safetensors", "f16_bf16_metadata", safetensors(
        [("a.weight", "F16", rng.standard_normal(4)), ("b.bias", "BF16", rng.standard_normal((2, 2)))],
        metadata={"format": "pt"}))
    write("fuzz_safetensors", "empty_tensor_padding_gap", safetensors(
        [("empty", "F32", np.zeros((0, 5))), ("x", "F16", [np.inf, -0.0, 6e-8])], pad=5, gap=2))
    write("fuzz_safetensors", "unsupported_dtype", safetensors([("i", "F32", [1.0])]).replace(
        b'"F32"', b'"I64"'))


def model_seeds():
    """The config in fuzz_model.cpp: 2 layers, 2 heads, n_embd 2, 4 positions, vocabulary 512."""
    rng = np.random.default_rng(2)
    d, inner, vocab, positions = 2, 8, 512, 4

    def tensors(dtypes):
        out = [("wte.weight", (vocab, d)), ("wpe.weight", (positions, d))]
        for i in range(2):
            p = f"h.{i}."
            out += [(p + "ln_1.weight", (d,)), (p + "ln_1.bias", (d,)),
                    (p + "attn.c_attn.weight", (d, 3 * d)), (p + "attn.c_attn.bias", (3 * d,)),
                    (p + "attn.c_proj.weight", (d, d)), (p + "attn.c_proj.bias", (d,)),
                    (p + "ln_2.weight", (d,)), (p + "ln_2.bias", (d,)),
                    (p + "mlp.c_fc.weight", (d, inner)), (p + "mlp.c_fc.bias", (inner,)),
                    (p + "mlp.c_proj.weight", (inner, d)), (p + "mlp.c_proj.bias", (d,))]
        out += [("ln_f.weight", (d,)), ("ln_f.bias", (d,))]
        return [(name, dtypes[k % len(dtypes)], 0.5 * rng.standard_normal(shape))
                for k, (name, shape) in enumerate(out)]

    write("fuzz_model", "f16", safetensors(tensors(["F16"])))
    # F32 mixed with BF16 and F16 puts some F32 tensors at offsets that are not 4-byte aligned.
    write("fuzz_model", "mixed_dtypes", safetensors(tensors(["BF16", "F32", "F16"])))
    prefixed = [("transformer." + n, t, a) for n, t, a in tensors(["F16"])]
    write("fuzz_model", "transformer_prefix", safetensors(prefixed, metadata={"format": "pt"}))


def config_seeds():
    write("fuzz_config", "reference_config", (ROOT / "tests/reference/model/config.json").read_bytes())
    write("fuzz_config", "default_config", (ROOT / "resources/model/default/config.json").read_bytes())
    write("fuzz_config", "hf_spelling", json.dumps(
        {"num_hidden_layers": 1, "num_attention_heads": 3, "hidden_size": 6,
         "max_position_embeddings": 8, "vocab_size": 300, "n_inner": 10,
         "activation_function": "gelu_pytorch_tanh"}))
    write("fuzz_config", "bad_heads", '{"n_layer":1,"n_head":5,"n_embd":64,"n_ctx":9,'
          '"vocab_size":1e3,"layer_norm_epsilon":0}')


def byte_alphabet():
    """GPT-2's bytes_to_unicode: printable Latin-1 stands for itself, the rest from U+0100."""
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD))
                 + list(range(0xAE, 0x100)))
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def tokenizer_seeds():
    alphabet = byte_alphabet()
    vocab = {alphabet[b]: b for b in range(256)}
    merges = [("h", "e"), ("l", "l"), ("he", "ll"), (alphabet[32], "w")]
    for left, right in merges:
        vocab[left + right] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    merges_text = "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges)
    vocab_json = json.dumps(vocab, ensure_ascii=False, separators=(",", ":"))
    write("fuzz_tokenizer_files", "bytes_and_merges", vocab_json + "\0" + merges_text)
    # Sparse ids, CRLF line ends and a repeated merge.
    sparse = {k: (v * 3 if v > 255 else v) for k, v in vocab.items()}
    write("fuzz_tokenizer_files", "sparse_ids_crlf",
          json.dumps(sparse, separators=(",", ":")) + "\0" +
          merges_text.replace("\n", "\r\n") + "h e\r\n")
    write("fuzz_tokenizer_files", "unknown_merge_symbol", vocab_json + "\0h x\n")


def bpe_seeds():
    prompts = {
        "ascii": "Once upon a time, there was a little robot who didn't like rain.",
        "contractions": "I'm sure they'll say it's 'fine' -- we've WON'T'S 'll",
        "endoftext": "first<|endoftext|>second <|endoftext|><|endoftext",
        "whitespace": "a  b\t\tc\n\n\n  d   \r\n \u00a0\u3000x",
        "unicode": "caf\u00e9 \u65e5\u672c\u8a9e \U0001f600 \u0645\u0631\u062d\u0628\u0627 123\u0663\u0664",
        "numbers_punct": "3.14159, 2**10=1024!!! ...??? $$$ #tag @user",
    }
    for name, text in prompts.items():
        write("fuzz_bpe", name, text)
    write("fuzz_bpe", "invalid_utf8", b"ok \xff\xfe \xc3( \xed\xa0\x80 \xf4\x90\x80\x80 \xe2\x82 end")
    write("fuzz_bpe", "ids", struct.pack("<8i", 15496, 995, 50256, -1, 50257, 2**31 - 1, 0, 220))


def llama2c_seeds():
    """llama2.c checkpoints in export.py's layouts, tiny (dim 4, 2 heads of 2, 1 KV head,
    hidden 6, 2 layers, vocab 5, seq_len 3): legacy tied and untied (negative vocab_size),
    version 1 tied and untied, and a version-2 header (refused by name)."""
    rng = np.random.default_rng(3)
    dim, hidden, layers, heads, kv_heads, vocab, seq_len = 4, 6, 2, 2, 1, 5, 3
    kv_dim, head_dim = dim // heads * kv_heads, dim // heads

    def floats(*shape):
        return rng.standard_normal(shape).astype("<f4").tobytes()

    def stacked(*shape):
        return b"".join(floats(*shape) for _ in range(layers))

    fields = (dim, hidden, layers, heads, kv_heads, vocab, seq_len)
    emb, classifier = floats(vocab, dim), floats(vocab, dim)
    norms_att, norms_ffn, norm_out = stacked(dim), stacked(dim), floats(dim)
    attn = stacked(dim, dim) + stacked(kv_dim, dim) + stacked(kv_dim, dim) + stacked(dim, dim)
    w1, w2, w3 = stacked(hidden, dim), stacked(dim, hidden), stacked(hidden, dim)
    rope = floats(seq_len, head_dim // 2) + floats(seq_len, head_dim // 2)
    for tied in (True, False):
        header = struct.pack("<7i", *fields[:5], vocab if tied else -vocab, seq_len)
        body = emb + norms_att + attn + norms_ffn + w1 + w2 + w3 + norm_out + rope
        write("fuzz_llama2c", "legacy_" + ("tied" if tied else "untied"),
              header + body + (b"" if tied else classifier))
        header = struct.pack("<Ii7iB", 0x616B3432, 1, *fields, int(tied)).ljust(256, b"\0")
        body = norms_att + norms_ffn + norm_out + emb + attn + w1 + w2 + w3
        write("fuzz_llama2c", "v1_" + ("tied" if tied else "untied"),
              header + body + (b"" if tied else classifier))
    v2 = struct.pack("<Ii7iBi", 0x616B3432, 2, *fields, 1, 4).ljust(256, b"\0")
    write("fuzz_llama2c", "v2_header", v2 + b"\0" * 64)


def tokenizer_bin(pieces, max_length=None):
    """llama2.c's tokenizer.bin: uint32 max_token_length, then float32 score, uint32 length and
    the bytes of each (text, score)."""
    texts = [(t.encode() if isinstance(t, str) else t, s) for t, s in pieces]
    longest = max(len(t) for t, _ in texts) if max_length is None else max_length
    return struct.pack("<I", longest) + b"".join(
        struct.pack("<fI", s, len(t)) + t for t, s in texts)


def tokenizer_bin_seeds():
    # <unk>, BOS, EOS and the 256 byte pieces first, as llama2.c's files have them.
    base = [("<unk>", 0.0), ("\n<s>\n", 0.0), ("\n</s>\n", 0.0)]
    base += [(f"<0x{b:02X}>", 0.0) for b in range(256)]
    words = [(" ", -1.0), ("a", -2.0), ("b", -3.0), (" a", -4.0), ("ab", -5.0), (" ab", -6.0),
             ("  ", -1e9), ("\u00e9", -7.0), ("he", -8.0), ("ll", -8.0), (" hello", -9.0)]
    write("fuzz_tokenizer_bin", "small", tokenizer_bin(base + words))
    # One edit from valid: a piece longer than max_token_length, bytes after the last token.
    write("fuzz_tokenizer_bin", "max_length_too_small", tokenizer_bin(base + words, max_length=6))
    write("fuzz_tokenizer_bin", "trailing_bytes", tokenizer_bin(base + words) + b"\0\0\0")
    # The story model's export (tests/tokenizer/sp), a real vocabulary of 1024 pieces.
    write("fuzz_tokenizer_bin", "story_model",
          (ROOT / "tests/tokenizer/sp/tokenizer.bin").read_bytes())


def gguf_seeds():
    """GGUF files from the project's writer (tests/formats/gguf_writer.py): the three fixtures
    core.gguf reads, a tiny Q4_K_M-like model (F32, Q4_K and Q6_K tensors, alignment 32), and one
    edit from valid: a type kvscope refuses by name (IQ2_XXS)."""
    import sys
    sys.path.insert(0, str(ROOT / "tests/formats"))
    from gguf_writer import GGML, Array, GgufWriter, T, tensor_nbytes
    for name in ("all_types_v3.gguf", "default_alignment_v2.gguf", "vocab_only_v3.gguf"):
        write("fuzz_gguf", name.replace(".gguf", ""),
              (ROOT / "tests/formats/gguf" / name).read_bytes())
    rng = np.random.default_rng(4)

    def blocks(ggml_type, dims):
        return rng.integers(0, 256, tensor_nbytes(ggml_type, dims), dtype=np.uint8).tobytes()

    def model(second_type):
        w = GgufWriter(version=3)
        w.add("general.architecture", T.STRING, "llama")
        w.add("llama.block_count", T.UINT32, 1)
        w.add("tokenizer.ggml.tokens", T.ARRAY, Array(T.STRING, ["<unk>", "a", "b"]))
        w.add("tokenizer.ggml.scores", T.ARRAY, Array(T.FLOAT32, [0.0, -1.0, -2.0]))
        w.add("test.flags", T.ARRAY, Array(T.ARRAY, [Array(T.BOOL, [True]), Array(T.INT8, [-1])]))
        w.add_tensor("token_embd.weight", GGML.F32, [4, 3], blocks(GGML.F32, [4, 3]))
        w.add_tensor("blk.0.attn_q.weight", GGML.Q4_K, [256, 1], blocks(GGML.Q4_K, [256, 1]))
        w.add_tensor("blk.0.ffn_down.weight", second_type, [256, 1], blocks(second_type, [256, 1]))
        return w.tobytes()

    write("fuzz_gguf", "q4_k_m_like", model(GGML.Q6_K))
    write("fuzz_gguf", "unsupported_type", model(GGML.IQ2_XXS))
LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                  r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_PATTERN = LLAMA3_PATTERN.replace(r"\p{N}{1,3}", r"\p{N}")


def hf_tokenizer_seeds():
    """Small tokenizer.json files of each kind hf_tokenizer_json accepts, and one it refuses."""
    alphabet = byte_alphabet()
    vocab = {alphabet[b]: b for b in range(256)}
    merges = [("h", "e"), ("l", "l"), ("he", "ll"), (alphabet[32], "w"), ("1", "2")]
    for left, right in merges:
        vocab[left + right] = len(vocab)
    added = [{"id": len(vocab), "content": "<|begin|>", "special": True},
             {"id": len(vocab) + 1, "content": "<think>", "special": False}]

    def doc(pre, normalizer=None, pairs=False, post=None, ignore_merges=False):
        merge_list = [[a, b] for a, b in merges] if pairs else [f"{a} {b}" for a, b in merges]
        return json.dumps({"version": "1.0", "added_tokens": added, "normalizer": normalizer,
                           "pre_tokenizer": pre, "post_processor": post, "decoder": None,
                           "model": {"type": "BPE", "dropout": None, "byte_fallback": False,
                                     "ignore_merges": ignore_merges, "vocab": vocab,
                                     "merges": merge_list}}, ensure_ascii=False)

    def byte_level(use_regex):
        return {"type": "ByteLevel", "add_prefix_space": False, "use_regex": use_regex}

    def split(pattern):
        return {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated",
             "invert": False}, byte_level(False)]}

    template = {"type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": "<|begin|>", "type_id": 0}},
                           {"Sequence": {"id": "A", "type_id": 0}}],
                "special_tokens": {"<|begin|>": {"id": "<|begin|>", "ids": [added[0]["id"]]}}}
    write("fuzz_hf_tokenizer", "gpt2", doc(byte_level(True)))
    write("fuzz_hf_tokenizer", "llama3", doc(split(LLAMA3_PATTERN), post=template,
                                             ignore_merges=True))
    write("fuzz_hf_tokenizer", "qwen2_nfc_pairs", doc(split(QWEN2_PATTERN), {"type": "NFC"},
                                                      pairs=True))
    write("fuzz_hf_tokenizer", "smollm", doc({"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": True}, byte_level(True)]}))

    # SentencePiece style: byte pieces, a few words, every split of a word a merge.
    mark = "\u2581"
    pieces = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    words = [mark, "a", "b", mark + "a", "ab", mark + "ab", "h", "e", "he", mark + "he"]
    pieces += words
    sp_vocab = {p: i for i, p in enumerate(pieces)}
    sp_merges = [f"{w[:k]} {w[k:]}" for w in words for k in range(1, len(w))
                 if w[:k] in sp_vocab and w[k:] in sp_vocab]
    sp_added = [{"id": i, "content": pieces[i], "special": True} for i in range(3)]
    sp_post = {"type": "TemplateProcessing",
               "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                          {"Sequence": {"id": "A", "type_id": 0}}],
               "special_tokens": {"<s>": {"id": "<s>", "ids": [1]}}}
    normalizer = {"type": "Sequence", "normalizers": [
        {"type": "Prepend", "prepend": mark},
        {"type": "Replace", "pattern": {"String": " "}, "content": mark}]}
    sp_model = {"type": "BPE", "byte_fallback": True, "unk_token": "<unk>", "vocab": sp_vocab,
                "merges": sp_merges}
    write("fuzz_hf_tokenizer", "sentencepiece_normalizer", json.dumps(
        {"added_tokens": sp_added, "normalizer": normalizer, "pre_tokenizer": None,
         "post_processor": sp_post, "model": sp_model}, ensure_ascii=False))
    write("fuzz_hf_tokenizer", "sentencepiece_metaspace", json.dumps(
        {"added_tokens": sp_added, "normalizer": None,
         "pre_tokenizer": {"type": "Metaspace", "replacement": mark, "prepend_scheme": "first",
                           "split": False},
         "post_processor": sp_post, "model": sp_model}, ensure_ascii=False))
    write("fuzz_hf_tokenizer", "wordpiece_refused", json.dumps(
        {"model": {"type": "WordPiece", "vocab": {"a": 0}}}))


if __name__ == "__main__":
    gguf_seeds()
    safetensors_seeds()
    model_seeds()
    config_seeds()
    tokenizer_seeds()
    bpe_seeds()
    llama2c_seeds()
    tokenizer_bin_seeds()
    hf_tokenizer_seeds()
