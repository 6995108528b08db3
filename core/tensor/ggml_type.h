#pragma once
// The tensor types of the ggml family of formats (GGUF), by the ids the files store. Quantized
// types pack `blockSize` consecutive values of a row into `blockBytes` bytes; a row's length must
// be a multiple of the block size. kvscope computes with the types marked supported and refuses
// the others by name, so a file never gets silently misread.

#include <cstdint>
#include <optional>
#include <string_view>

namespace kvscope {

// Values are the ids written in GGUF tensor infos (ggml's enum ggml_type); gaps are ids that
// ggml retired.
enum class GgmlType : std::uint32_t {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    IQ2_XXS = 16,
    IQ2_XS = 17,
    IQ3_XXS = 18,
    IQ1_S = 19,
    IQ4_NL = 20,
    IQ3_S = 21,
    IQ2_S = 22,
    IQ4_XS = 23,
    I8 = 24,
    I16 = 25,
    I32 = 26,
    I64 = 27,
    F64 = 28,
    IQ1_M = 29,
    BF16 = 30,
    TQ1_0 = 34,
    TQ2_0 = 35,
    MXFP4 = 39,
};

// Values per super-block of the K-quants.
inline constexpr int kQK_K = 256;

struct GgmlTypeTraits {
    GgmlType type;
    std::string_view name;  // as ggml prints it, e.g. "Q4_K"
    int blockSize;          // values per block (1 for plain floats)
    int blockBytes;         // bytes per block
    bool supported;         // kvscope can compute with it
};

// Traits of a type id read from a file; nullopt for an id ggml never assigned.
std::optional<GgmlTypeTraits> ggmlTypeTraits(std::uint32_t id);
GgmlTypeTraits ggmlTypeTraits(GgmlType type);
// Bits per weight as stored, e.g. 4.5 for Q4_K.
double ggmlBitsPerWeight(GgmlType type);

}  // namespace kvscope
