#!/usr/bin/env python3
"""A GGUF writer written from the format's specification (ggml's docs/gguf.md), numpy only.

Independent of kvscope's C++ reader, so files written here can test it. Writes versions 2 and 3
(little-endian; they share one layout): "GGUF", u32 version, u64 tensor_count, u64
metadata_kv_count, the key-value pairs, the tensor infos, zero padding to the alignment, then each
tensor's bytes at its offset (a multiple of the alignment) in the data section.

Import it from other scripts (sys.path.insert(0, "<root>/tests/formats")):

    from gguf_writer import GgufWriter, T, GGML, Array

    w = GgufWriter(version=3, alignment=32)
    w.add("general.architecture", T.STRING, "llama")
    w.add("llama.block_count", T.UINT32, 12)
    w.add("tokenizer.ggml.tokens", T.ARRAY, Array(T.STRING, ["<unk>", "<s>", "</s>"]))
    w.add_tensor("token_embd.weight", GGML.F32, [dim, vocab], np.zeros((vocab, dim), "<f4"))
    w.write("model.gguf")

Tensor dims are ggml's order: ne0, the contiguous row length, first (a numpy array of shape
(rows, cols) has dims [cols, rows]). Tensor bytes are given as they are stored (quantized blocks
as raw bytes); their length is checked against dims and the type's block size. `manifest()`
describes what was written, exactly, as JSON (integers as decimal strings, floats as
float.hex() of the stored value), for tests that hold a reader against this writer.

Run as a script, it writes kvscope's test fixtures (make_gguf_fixtures.main()).
"""

import enum
import json
import struct

import numpy as np


class T(enum.IntEnum):
    """Metadata value types, by the ids the file stores."""
    UINT8 = 0
    INT8 = 1
    UINT16 = 2
    INT16 = 3
    UINT32 = 4
    INT32 = 5
    FLOAT32 = 6
    BOOL = 7
    STRING = 8
    ARRAY = 9
    UINT64 = 10
    INT64 = 11
    FLOAT64 = 12


# numpy dtype (little-endian) and integer range of each number type.
_SCALARS = {
    T.UINT8: ("<u1", 0, 2**8 - 1), T.INT8: ("<i1", -2**7, 2**7 - 1),
    T.UINT16: ("<u2", 0, 2**16 - 1), T.INT16: ("<i2", -2**15, 2**15 - 1),
    T.UINT32: ("<u4", 0, 2**32 - 1), T.INT32: ("<i4", -2**31, 2**31 - 1),
    T.UINT64: ("<u8", 0, 2**64 - 1), T.INT64: ("<i8", -2**63, 2**63 - 1),
    T.FLOAT32: ("<f4", None, None), T.FLOAT64: ("<f8", None, None),
}

class GGML(enum.IntEnum):
    """ggml tensor types by file id (ggml's enum ggml_type)."""
    F32 = 0
    F16 = 1
    Q4_0 = 2
    Q4_1 = 3
    Q5_0 = 6
    Q5_1 = 7
    Q8_0 = 8
    Q8_1 = 9
    Q2_K = 10
    Q3_K = 11
    Q4_K = 12
    Q5_K = 13
    Q6_K = 14
    Q8_K = 15
    IQ2_XXS = 16
    IQ2_XS = 17
    IQ3_XXS = 18
    IQ1_S = 19
    IQ4_NL = 20
    IQ3_S = 21
    IQ2_S = 22
    IQ4_XS = 23
    I8 = 24
    I16 = 25
    I32 = 26
    I64 = 27
    F64 = 28
    IQ1_M = 29
    BF16 = 30
    TQ1_0 = 34
    TQ2_0 = 35
    MXFP4 = 39


# (values per block, bytes per block), from the block structs of ggml-common.h: e.g. Q8_0 is an
# f16 scale and 32 int8 values, Q4_K two f16 scales, 12 bytes of 6-bit scales and 128 of nibbles.
BLOCK = {
    GGML.F32: (1, 4), GGML.F16: (1, 2), GGML.BF16: (1, 2), GGML.F64: (1, 8),
    GGML.I8: (1, 1), GGML.I16: (1, 2), GGML.I32: (1, 4), GGML.I64: (1, 8),
    GGML.Q4_0: (32, 18), GGML.Q4_1: (32, 20), GGML.Q5_0: (32, 22), GGML.Q5_1: (32, 24),
    GGML.Q8_0: (32, 34), GGML.Q8_1: (32, 36),
    GGML.Q2_K: (256, 84), GGML.Q3_K: (256, 110), GGML.Q4_K: (256, 144), GGML.Q5_K: (256, 176),
    GGML.Q6_K: (256, 210), GGML.Q8_K: (256, 292),
    GGML.IQ2_XXS: (256, 66), GGML.IQ2_XS: (256, 74), GGML.IQ3_XXS: (256, 98),
    GGML.IQ1_S: (256, 50), GGML.IQ4_NL: (32, 18), GGML.IQ3_S: (256, 110),
    GGML.IQ2_S: (256, 82), GGML.IQ4_XS: (256, 136), GGML.IQ1_M: (256, 56),
    GGML.TQ1_0: (256, 54), GGML.TQ2_0: (256, 66), GGML.MXFP4: (32, 17),
}


def tensor_nbytes(ggml_type, dims):
    """Bytes of a tensor: whole blocks along ne0, times the other dimensions."""
    block, nbytes = BLOCK[GGML(ggml_type)]
    if dims[0] % block:
        raise ValueError(f"ne0 = {dims[0]} is not a multiple of {GGML(ggml_type).name}'s block {block}")
    rows = 1
    for d in dims[1:]:
        rows *= d
    return rows * (dims[0] // block) * nbytes


class Array:
    """An ARRAY value: elements of one type (T.ARRAY elements are Array objects themselves)."""

    def __init__(self, element_type, items):
        self.element_type = T(element_type)
        self.items = list(items)


def _encode_string(s):
    raw = s.encode("utf-8") if isinstance(s, str) else bytes(s)
    return struct.pack("<Q", len(raw)) + raw


def _encode_scalar(vtype, value):
    if vtype == T.BOOL:
        if value not in (True, False, 0, 1):
            raise ValueError(f"BOOL value {value!r}")
        return bytes([int(value)])
    dtype, lo, hi = _SCALARS[vtype]
    if lo is not None:
        if not lo <= int(value) <= hi:
            raise ValueError(f"{vtype.name} value {value} outside [{lo}, {hi}]")
        return np.array(int(value), dtype).tobytes()
    return np.array(value, dtype).tobytes()


def encode_value(vtype, value):
    """The bytes of a value of type `vtype` (without its type id)."""
    vtype = T(vtype)
    if vtype == T.STRING:
        return _encode_string(value)
    if vtype != T.ARRAY:
        return _encode_scalar(vtype, value)
    et = value.element_type
    head = struct.pack("<IQ", et, len(value.items))
    if et in _SCALARS and value.items:
        # Number arrays (vocabulary-sized: scores, token types) in one numpy call.
        dtype, lo, hi = _SCALARS[et]
        if lo is not None:
            ints = [int(x) for x in value.items]
            if min(ints) < lo or max(ints) > hi:
                raise ValueError(f"{et.name} array element outside [{lo}, {hi}]")
            return head + np.array(ints, dtype).tobytes()
        return head + np.asarray(value.items, dtype).tobytes()
    return head + b"".join(encode_value(et, x) for x in value.items)


def _manifest_value(vtype, value):
    """JSON for a value as the file stores it: exact, whatever the reader's number types."""
    vtype = T(vtype)
    if vtype == T.STRING:
        return value if isinstance(value, str) else value.decode("utf-8")
    if vtype == T.BOOL:
        return bool(value)
    if vtype == T.FLOAT32:
        return float(np.float32(value)).hex()
    if vtype == T.FLOAT64:
        return float(value).hex()
    if vtype == T.ARRAY:
        return {"element_type": value.element_type.name,
                "items": [_manifest_value(value.element_type, x) for x in value.items]}
    return str(int(value))


class GgufWriter:
    def __init__(self, version=3, alignment=None):
        """alignment None: no general.alignment key, so readers assume 32. Otherwise the key is
        written first, as a UINT32; add("general.alignment", ...) replaces it (any integer type)
        and sets the alignment the layout uses."""
        if version not in (2, 3):
            raise ValueError("this writer writes versions 2 and 3 (1 used 32-bit counts)")
        self.version = version
        self.alignment = 32 if alignment is None else alignment
        self.kv = []        # (key, type, value)
        self.tensors = []   # dicts: name, type, dims, data, offset
        if alignment is not None:
            self.add("general.alignment", T.UINT32, alignment)

    def add(self, key, vtype, value):
        if key == "general.alignment":
            self.kv = [kv for kv in self.kv if kv[0] != key]
            self.alignment = int(value)
        self.kv.append((key, T(vtype), value))

    def add_tensor(self, name, ggml_type, dims, data, offset=None):
        """data: bytes, or a numpy array whose bytes are written as they are (give it the
        file's little-endian dtype). offset: relative to the data section; by default the next
        aligned position after the previous tensor."""
        raw = data.tobytes() if isinstance(data, np.ndarray) else bytes(data)
        expected = tensor_nbytes(ggml_type, dims)
        if len(raw) != expected:
            raise ValueError(f"{name}: {len(raw)} bytes, dims {dims} of {GGML(ggml_type).name} "
                             f"take {expected}")
        self.tensors.append({"name": name, "type": int(ggml_type), "dims": [int(d) for d in dims],
                             "data": raw, "offset": offset})

    def _layout(self):
        """Offsets of every tensor in the data section, and the data section's size."""
        end = 0
        offsets = []
        for t in self.tensors:
            off = t["offset"] if t["offset"] is not None else _align(end, self.alignment)
            offsets.append(off)
            end = max(end, off + len(t["data"]))
        return offsets, end

    def _header(self, offsets):
        out = [b"GGUF", struct.pack("<IQQ", self.version, len(self.tensors), len(self.kv))]
        for key, vtype, value in self.kv:
            out += [_encode_string(key), struct.pack("<I", vtype), encode_value(vtype, value)]
        for t, off in zip(self.tensors, offsets):
            out += [_encode_string(t["name"]), struct.pack("<I", len(t["dims"])),
                    struct.pack(f"<{len(t['dims'])}Q", *t["dims"]),
                    struct.pack("<IQ", t["type"], off)]
        header = b"".join(out)
        return header + b"\0" * (_align(len(header), self.alignment) - len(header))

    def tobytes(self):
        offsets, size = self._layout()
        data = bytearray(_align(size, self.alignment) if self.tensors else 0)
        for t, off in zip(self.tensors, offsets):
            data[off:off + len(t["data"])] = t["data"]
        return self._header(offsets) + bytes(data)

    def write(self, path):
        with open(path, "wb") as f:
            f.write(self.tobytes())

    def manifest(self):
        """What a reader must find in tobytes(), as JSON-ready data."""
        offsets, _ = self._layout()
        data_offset = len(self._header(offsets))
        return {
            "version": self.version,
            "alignment": self.alignment,
            "data_offset": data_offset,
            "size": len(self.tobytes()),
            "metadata": [{"key": k, "type": v.name, "value": _manifest_value(v, x)}
                         for k, v, x in self.kv],
            "tensors": [{"name": t["name"], "type": t["type"], "type_name": GGML(t["type"]).name,
                         "dims": t["dims"], "offset": off, "begin": data_offset + off,
                         "end": data_offset + off + len(t["data"]), "hex": t["data"].hex()}
                        for t, off in zip(self.tensors, offsets)],
        }

    def write_with_manifest(self, path):
        """Writes the file and, beside it, path + ".json" with manifest()."""
        self.write(path)
        with open(str(path) + ".json", "w") as f:
            json.dump(self.manifest(), f, indent=1, ensure_ascii=False)
            f.write("\n")


def _align(n, alignment):
    return n + (alignment - n % alignment) % alignment


if __name__ == "__main__":
    import make_gguf_fixtures
    make_gguf_fixtures.main()
