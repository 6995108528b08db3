#include "tokenizer/pre_tokenizer.h"

#include "tokenizer/utf8.h"

#include <QChar>

#include <algorithm>
#include <array>
#include <cstddef>
#include <functional>

namespace kvscope {

// The patterns, as llama.cpp's llama-vocab.cpp lists them (and the models' tokenizer.json files
// hold the first two and Qwen2's); several in a list apply one after another, each to the pieces
// of the one before, text between matches staying a piece of its own.
//
// gpt-2:     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// llama-bpe: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
//            ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// qwen2:     the same with \p{N} for \p{N}{1,3}
// smollm:    \p{N}, then gpt-2's
// default:   [\p{P}\$\+<=>\^~\|]+, then gpt-2's, then \p{N}+, then [0-9][0-9][0-9]
//
// (?i:'s...) is taken as llama.cpp spells it, '[sS]...: ASCII case only (a JavaScript or Rust
// regex would also let U+017F LONG S stand for s). \s is Unicode White_Space, which is
// QChar::isSpace.

namespace {

enum class CharClass { Letter, Number, Space, Other };

struct Scanned {
    char32_t cp;  // 0xFFFFFFFF for an invalid byte so it never equals an ASCII literal
    std::size_t offset;
    CharClass cls;
};

constexpr char32_t kInvalid = 0xFFFFFFFF;

CharClass classify(char32_t cp) {
    if (QChar::isLetter(cp)) return CharClass::Letter;
    if (QChar::isNumber(cp)) return CharClass::Number;
    if (QChar::isSpace(cp)) return CharClass::Space;
    return CharClass::Other;
}

std::vector<Scanned> scan(std::string_view s) {
    std::vector<Scanned> out;  // (characters of s)
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        const Decoded d = decodeUtf8(s, i);
        out.push_back(d.valid ? Scanned{d.cp, i, classify(d.cp)}
                              : Scanned{kInvalid, i, CharClass::Other});
        i += static_cast<std::size_t>(d.length);
    }
    return out;
}

// A run of characters [b, e) of the scanned text; each stage appends the ends of its pieces.
using Chars = std::vector<Scanned>;
using Stage =
    std::function<void(const Chars&, std::size_t, std::size_t, std::vector<std::size_t>&)>;

std::size_t runEnd(const Chars& c, std::size_t k, std::size_t e, CharClass cls) {
    while (k < e && c[k].cls == cls) ++k;
    return k;
}

bool isLineBreak(char32_t cp) {
    return cp == U'\r' || cp == U'\n';
}

char32_t lowerAscii(char32_t cp) {
    return cp >= U'A' && cp <= U'Z' ? cp + 32 : cp;
}

// Length of the contraction ('s 't 're 've 'm 'll 'd) at i, or 0; GPT-2's is case-sensitive.
std::size_t contractionAt(const Chars& c, std::size_t i, std::size_t e, bool anyCase) {
    if (c[i].cp != U'\'' || i + 1 >= e) return 0;
    const auto at = [&](std::size_t k) { return anyCase ? lowerAscii(c[k].cp) : c[k].cp; };
    const char32_t a = at(i + 1);
    if (a == U's' || a == U't' || a == U'm' || a == U'd') return 2;
    if (i + 2 >= e) return 0;
    const char32_t b = at(i + 2);
    if ((a == U'r' && b == U'e') || (a == U'v' && b == U'e') || (a == U'l' && b == U'l')) return 3;
    return 0;
}

// \s+(?!\S) then \s+ at a space i: the run, less its last space when something follows and
// the run is longer than one (the backtracking leaves that space to the next piece).
std::size_t trailingSpaceEnd(const Chars& c, std::size_t i, std::size_t e) {
    const std::size_t spaces = runEnd(c, i, e, CharClass::Space);
    return (spaces == e || spaces - i == 1) ? spaces : spaces - 1;
}

void gpt2Stage(const Chars& c, std::size_t b, std::size_t e, std::vector<std::size_t>& ends) {
    // The first alternative that matches at i; together they match every character, so the
    // pieces tile the text.
    for (std::size_t i = b; i < e;) {
        std::size_t end;
        if (const std::size_t k = contractionAt(c, i, e, false); k > 0) {
            end = i + k;
        } else if (c[i].cls != CharClass::Space) {
            end = runEnd(c, i, e, c[i].cls);
        } else if (c[i].cp == U' ' && i + 1 < e && c[i + 1].cls != CharClass::Space) {
            // Only U+0020 may lead a word, number or punctuation run.
            end = runEnd(c, i + 1, e, c[i + 1].cls);
        } else {
            end = trailingSpaceEnd(c, i, e);
        }
        ends.push_back(end);
        i = end;
    }
}

void llama3Stage(const Chars& c, std::size_t b, std::size_t e, std::size_t maxDigits,
                 std::vector<std::size_t>& ends) {
    for (std::size_t i = b; i < e;) {
        const Scanned& x = c[i];
        const bool nextIsLetter = i + 1 < e && c[i + 1].cls == CharClass::Letter;
        std::size_t end;
        if (const std::size_t k = contractionAt(c, i, e, true); k > 0) {
            end = i + k;
        } else if (x.cls == CharClass::Letter) {
            end = runEnd(c, i, e, CharClass::Letter);
        } else if (x.cls != CharClass::Number && !isLineBreak(x.cp) && nextIsLetter) {
            // [^\r\n\p{L}\p{N}]?\p{L}+: one space (any kind) or punctuation leads a word.
            end = runEnd(c, i + 1, e, CharClass::Letter);
        } else if (x.cls == CharClass::Number) {
            end = std::min(runEnd(c, i, e, CharClass::Number), i + maxDigits);
        } else if (x.cls == CharClass::Other ||
                   (x.cp == U' ' && i + 1 < e && c[i + 1].cls == CharClass::Other)) {
            // ` ?[^\s\p{L}\p{N}]+[\r\n]*`: punctuation, with line breaks after it.
            end = runEnd(c, x.cls == CharClass::Other ? i : i + 1, e, CharClass::Other);
            while (end < e && isLineBreak(c[end].cp)) ++end;
        } else {
            // A space. \s*[\r\n]+ takes the run up to its last line break, if it has one.
            const std::size_t spaces = runEnd(c, i, e, CharClass::Space);
            std::size_t lastBreak = spaces;
            for (std::size_t k = i; k < spaces; ++k) {
                if (isLineBreak(c[k].cp)) lastBreak = k;
            }
            end = lastBreak < spaces ? lastBreak + 1 : trailingSpaceEnd(c, i, e);
        }
        ends.push_back(end);
        i = end;
    }
}

// Pieces of [b, e): the maximal runs of characters where `inside` holds, each cut into matches
// of at most `maxMatch` characters (0: no limit), and the runs between them.
template <typename Pred>
void isolate(const Chars& c, std::size_t b, std::size_t e, Pred inside, std::size_t maxMatch,
             std::vector<std::size_t>& ends) {
    for (std::size_t i = b; i < e;) {
        std::size_t end = i;
        if (inside(c[i])) {
            while (end < e && inside(c[end]) && (maxMatch == 0 || end - i < maxMatch)) ++end;
        } else {
            while (end < e && !inside(c[end])) ++end;
        }
        ends.push_back(end);
        i = end;
    }
}

bool isDefaultPunctuation(const Scanned& s) {
    static constexpr std::u32string_view kSymbols = U"$+<=>^~|";
    return s.cp != kInvalid &&
           (QChar::isPunct(s.cp) || kSymbols.find(s.cp) != std::u32string_view::npos);
}

bool isAsciiDigit(const Scanned& s) {
    return s.cp >= U'0' && s.cp <= U'9';
}

// [0-9][0-9][0-9]: groups of three ASCII digits from the left, the rest between them.
void asciiDigitTriples(const Chars& c, std::size_t b, std::size_t e,
                       std::vector<std::size_t>& ends) {
    std::size_t gapStart = b;
    for (std::size_t i = b; i < e;) {
        if (i + 3 <= e && isAsciiDigit(c[i]) && isAsciiDigit(c[i + 1]) && isAsciiDigit(c[i + 2])) {
            if (i > gapStart) ends.push_back(i);
            ends.push_back(i + 3);
            i += 3;
            gapStart = i;
        } else {
            ++i;
        }
    }
    if (e > gapStart) ends.push_back(e);
}

std::vector<Stage> stagesOf(PreTokenizer kind) {
    const auto isNumber = [](const Scanned& s) { return s.cls == CharClass::Number; };
    switch (kind) {
        case PreTokenizer::Gpt2:
            return {gpt2Stage};
        case PreTokenizer::Llama3:
        case PreTokenizer::Qwen2: {
            const std::size_t maxDigits = kind == PreTokenizer::Llama3 ? 3 : 1;
            return {[maxDigits](const Chars& c, std::size_t b, std::size_t e, auto& ends) {
                llama3Stage(c, b, e, maxDigits, ends);
            }};
        }
        case PreTokenizer::SmolLm:
            return {[isNumber](const Chars& c, std::size_t b, std::size_t e, auto& ends) {
                        isolate(c, b, e, isNumber, 1, ends);
                    },
                    gpt2Stage};
        case PreTokenizer::Default:
            return {[](const Chars& c, std::size_t b, std::size_t e, auto& ends) {
                        isolate(c, b, e, isDefaultPunctuation, 0, ends);
                    },
                    gpt2Stage,
                    [isNumber](const Chars& c, std::size_t b, std::size_t e, auto& ends) {
                        isolate(c, b, e, isNumber, 0, ends);
                    },
                    asciiDigitTriples};
    }
    return {gpt2Stage};
}

struct NamedPreTokenizer {
    std::string_view name;
    PreTokenizer kind;
};

constexpr std::array<NamedPreTokenizer, 7> kNames{{
    {"gpt-2", PreTokenizer::Gpt2},
    {"llama-bpe", PreTokenizer::Llama3},
    {"llama3", PreTokenizer::Llama3},
    {"llama-v3", PreTokenizer::Llama3},
    {"qwen2", PreTokenizer::Qwen2},
    {"smollm", PreTokenizer::SmolLm},
    {"default", PreTokenizer::Default},
}};

}  // namespace

std::optional<PreTokenizer> preTokenizerFromName(std::string_view name) {
    if (name.empty()) return PreTokenizer::Default;  // llama.cpp's choice for a missing key
    for (const NamedPreTokenizer& n : kNames) {
        if (n.name == name) return n.kind;
    }
    return std::nullopt;
}

QString preTokenizerName(PreTokenizer kind) {
    for (const NamedPreTokenizer& n : kNames) {
        if (n.kind == kind) return QString::fromLatin1(n.name.data(), qsizetype(n.name.size()));
    }
    return {};
}

bool ignoresMerges(PreTokenizer kind) {
    return kind == PreTokenizer::Llama3;
}

std::vector<std::string_view> preTokenize(PreTokenizer kind, std::string_view utf8) {
    const Chars c = scan(utf8);
    // Piece ends as character indices, refined stage by stage.
    std::vector<std::size_t> ends{c.size()};
    if (c.empty()) ends.clear();
    for (const Stage& stage : stagesOf(kind)) {
        std::vector<std::size_t> refined;
        refined.reserve(ends.size() * 2);
        std::size_t begin = 0;
        for (std::size_t end : ends) {
            stage(c, begin, end, refined);
            begin = end;
        }
        ends.swap(refined);
    }
    std::vector<std::string_view> pieces;
    pieces.reserve(ends.size());
    const auto offsetOf = [&](std::size_t k) { return k < c.size() ? c[k].offset : utf8.size(); };
    std::size_t begin = 0;
    for (std::size_t end : ends) {
        pieces.push_back(utf8.substr(offsetOf(begin), offsetOf(end) - offsetOf(begin)));
        begin = end;
    }
    return pieces;
}

}  // namespace kvscope
