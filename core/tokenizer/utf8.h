#pragma once
// Strict UTF-8 decoding, one character at a time, shared by the tokenizers and the display
// escaping.

#include <cstddef>
#include <string_view>

namespace kvscope {

struct Decoded {
    char32_t cp;
    int length;  // bytes consumed; 1 for an invalid byte
    bool valid;
};

// Strict UTF-8 (no overlongs, surrogates or code points above U+10FFFF): anything else is one
// invalid byte, which is what makes every byte string tokenizable and round-trippable.
inline Decoded decodeUtf8(std::string_view s, std::size_t i) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char b0 = byte(i);
    const Decoded invalid{b0, 1, false};
    if (b0 < 0x80) return {b0, 1, true};
    int length = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    char32_t cp = 0;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        length = 2;
        cp = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        length = 3;
        cp = b0 & 0x0F;
        if (b0 == 0xE0) lo = 0xA0;
        if (b0 == 0xED) hi = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        length = 4;
        cp = b0 & 0x07;
        if (b0 == 0xF0) lo = 0x90;
        if (b0 == 0xF4) hi = 0x8F;
    } else {
        return invalid;
    }
    if (i + length > s.size()) return invalid;
    for (int k = 1; k < length; ++k) {
        const unsigned char b = byte(i + k);
        const unsigned char min = k == 1 ? lo : 0x80;
        const unsigned char max = k == 1 ? hi : 0xBF;
        if (b < min || b > max) return invalid;
        cp = (cp << 6) | (b & 0x3F);
    }
    return {cp, length, true};
}

}  // namespace kvscope
