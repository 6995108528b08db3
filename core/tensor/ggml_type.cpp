#include "tensor/ggml_type.h"

#include <array>

namespace kvscope {
namespace {

// Block sizes and bytes per block from the type definitions (ggml's block_* structs): e.g. Q8_0
// is an f16 scale and 32 int8 values (34 bytes per 32 values), Q4_K a super-block of 256 values
// with two f16 scales, 12 bytes of 6-bit sub-block scales and 128 bytes of nibbles (144 bytes).
constexpr std::array kTypes = {
    GgmlTypeTraits{GgmlType::F32, "F32", 1, 4, true},
    GgmlTypeTraits{GgmlType::F16, "F16", 1, 2, true},
    GgmlTypeTraits{GgmlType::Q4_0, "Q4_0", 32, 18, true},
    GgmlTypeTraits{GgmlType::Q4_1, "Q4_1", 32, 20, true},
    GgmlTypeTraits{GgmlType::Q5_0, "Q5_0", 32, 22, true},
    GgmlTypeTraits{GgmlType::Q5_1, "Q5_1", 32, 24, true},
    GgmlTypeTraits{GgmlType::Q8_0, "Q8_0", 32, 34, true},
    GgmlTypeTraits{GgmlType::Q8_1, "Q8_1", 32, 36, false},
    GgmlTypeTraits{GgmlType::Q2_K, "Q2_K", kQK_K, 84, true},
    GgmlTypeTraits{GgmlType::Q3_K, "Q3_K", kQK_K, 110, true},
    GgmlTypeTraits{GgmlType::Q4_K, "Q4_K", kQK_K, 144, true},
    GgmlTypeTraits{GgmlType::Q5_K, "Q5_K", kQK_K, 176, true},
    GgmlTypeTraits{GgmlType::Q6_K, "Q6_K", kQK_K, 210, true},
    GgmlTypeTraits{GgmlType::Q8_K, "Q8_K", kQK_K, 292, false},
    GgmlTypeTraits{GgmlType::IQ2_XXS, "IQ2_XXS", kQK_K, 66, false},
    GgmlTypeTraits{GgmlType::IQ2_XS, "IQ2_XS", kQK_K, 74, false},
    GgmlTypeTraits{GgmlType::IQ3_XXS, "IQ3_XXS", kQK_K, 98, false},
    GgmlTypeTraits{GgmlType::IQ1_S, "IQ1_S", kQK_K, 50, false},
    GgmlTypeTraits{GgmlType::IQ4_NL, "IQ4_NL", 32, 18, false},
    GgmlTypeTraits{GgmlType::IQ3_S, "IQ3_S", kQK_K, 110, false},
    GgmlTypeTraits{GgmlType::IQ2_S, "IQ2_S", kQK_K, 82, false},
    GgmlTypeTraits{GgmlType::IQ4_XS, "IQ4_XS", kQK_K, 136, false},
    GgmlTypeTraits{GgmlType::I8, "I8", 1, 1, false},
    GgmlTypeTraits{GgmlType::I16, "I16", 1, 2, false},
    GgmlTypeTraits{GgmlType::I32, "I32", 1, 4, false},
    GgmlTypeTraits{GgmlType::I64, "I64", 1, 8, false},
    GgmlTypeTraits{GgmlType::F64, "F64", 1, 8, false},
    GgmlTypeTraits{GgmlType::IQ1_M, "IQ1_M", kQK_K, 56, false},
    GgmlTypeTraits{GgmlType::BF16, "BF16", 1, 2, true},
    GgmlTypeTraits{GgmlType::TQ1_0, "TQ1_0", kQK_K, 54, false},
    GgmlTypeTraits{GgmlType::TQ2_0, "TQ2_0", kQK_K, 66, false},
    GgmlTypeTraits{GgmlType::MXFP4, "MXFP4", 32, 17, false},
};

}  // namespace

std::optional<GgmlTypeTraits> ggmlTypeTraits(std::uint32_t id) {
    for (const auto& t : kTypes)
        if (static_cast<std::uint32_t>(t.type) == id) return t;
    return std::nullopt;
}

GgmlTypeTraits ggmlTypeTraits(GgmlType type) {
    return *ggmlTypeTraits(static_cast<std::uint32_t>(type));
}

double ggmlBitsPerWeight(GgmlType type) {
    const auto t = ggmlTypeTraits(type);
    return 8.0 * t.blockBytes / t.blockSize;
}

}  // namespace kvscope
