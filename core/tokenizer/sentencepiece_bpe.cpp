#include "tokenizer/sentencepiece_bpe.h"

#include "tokenizer/utf8.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <functional>
#include <queue>

namespace kvscope {

int SentencePieceBpe::byteOfPiece(std::string_view text) {
    if (text.size() != 6 || !text.starts_with("<0x") || text[5] != '>') return -1;
    const auto hex = [](char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    const int hi = hex(text[3]), lo = hex(text[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

std::string SentencePieceBpe::spacesForMarkers(std::string_view text) {
    static constexpr std::string_view kMarker = "\xE2\x96\x81";  // U+2581
    std::string out;
    out.reserve(text.size());
    for (std::size_t at; (at = text.find(kMarker)) != std::string_view::npos;) {
        out.append(text.substr(0, at));
        out.push_back(' ');
        text.remove_prefix(at + kMarker.size());
    }
    out.append(text);
    return out;
}

namespace {

QString hexByte(int b) {
    return QString::number(b, 16).toUpper().rightJustified(2, QLatin1Char('0'));
}

QString quoted(std::string_view text) {
    return QLatin1Char('"') + displayBytes(text) + QLatin1Char('"');
}

QString typeName(SentencePieceBpe::Type type) {
    switch (type) {
        case SentencePieceBpe::Type::Normal:
            return QStringLiteral("normal");
        case SentencePieceBpe::Type::Unknown:
            return QStringLiteral("unknown");
        case SentencePieceBpe::Type::Control:
            return QStringLiteral("control");
        case SentencePieceBpe::Type::UserDefined:
            return QStringLiteral("user-defined");
        case SentencePieceBpe::Type::Byte:
            return QStringLiteral("byte");
        case SentencePieceBpe::Type::Unused:
            return QStringLiteral("unused");
    }
    return QStringLiteral("?");
}

bool isMergeable(SentencePieceBpe::Type type) {
    return type == SentencePieceBpe::Type::Normal || type == SentencePieceBpe::Type::UserDefined;
}

// A candidate merge of two adjacent symbols, queued best first.
struct Pair {
    float score;
    int left, right;     // symbol indices; the left one's index is its position in the text
    std::size_t length;  // of the merged piece, to recognise a pair gone stale
};

struct WorseFirst {
    // sentencepiece's order: the higher score, then the leftmost.
    bool operator()(const Pair& a, const Pair& b) const {
        return a.score < b.score || (a.score == b.score && a.left > b.left);
    }
};

}  // namespace

// One symbol of the text being encoded: a byte range of it, in a linked list.
struct SentencePieceBpe::Symbol {
    enum class Kind { Char, UserDefined, InvalidByte };
    std::size_t begin;
    std::size_t length;  // 0 once merged into the symbol on its left
    int prev, next;      // -1 at the ends
    Kind kind;
};

int SentencePieceBpe::mergeableId(std::string_view text) const {
    if (mergeable_.empty() || text.size() > maxPieceLength_) return -1;
    const std::size_t mask = mergeable_.size() - 1;
    for (std::size_t slot = std::hash<std::string_view>{}(text)&mask;; slot = (slot + 1) & mask) {
        const int id = mergeable_[slot];
        if (id < 0) return -1;
        if (pieces_[static_cast<std::size_t>(id)].text == text) return id;
    }
}

std::size_t SentencePieceBpe::userDefinedAt(std::string_view text, std::size_t pos) const {
    const std::string_view rest = text.substr(pos);
    for (int id : userDefined_) {
        const std::string& piece = pieces_[static_cast<std::size_t>(id)].text;
        if (rest.starts_with(piece)) return piece.size();
    }
    return 0;
}

std::vector<SentencePieceBpe::Symbol> SentencePieceBpe::split(std::string_view text) const {
    std::vector<Symbol> symbols;  // (number of characters)
    symbols.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        const int index = static_cast<int>(symbols.size());
        Symbol s{i, 0, index - 1, index + 1, Symbol::Kind::Char};
        if (const std::size_t n = userDefinedAt(text, i); n > 0) {
            s.length = n;
            s.kind = Symbol::Kind::UserDefined;
        } else {
            const Decoded d = decodeUtf8(text, i);
            s.length = static_cast<std::size_t>(d.length);
            if (!d.valid) s.kind = Symbol::Kind::InvalidByte;
        }
        i += s.length;
        if (i == text.size()) s.next = -1;
        symbols.push_back(s);
    }
    return symbols;
}

void SentencePieceBpe::merge(std::string_view text, std::vector<Symbol>& symbols) const {
    // A heap of candidate pairs over the linked list, as sentencepiece's bpe_model.cc does:
    // O(n log n) where rescanning all pairs after every merge (run.c) is O(n^2).
    std::priority_queue<Pair, std::vector<Pair>, WorseFirst> agenda;
    const auto consider = [&](int left, int right) {
        if (left < 0 || right < 0) return;
        const Symbol& a = symbols[static_cast<std::size_t>(left)];
        const Symbol& b = symbols[static_cast<std::size_t>(right)];
        // User-defined pieces and stray bytes stay whole, as sentencepiece freezes them.
        if (a.kind != Symbol::Kind::Char || b.kind != Symbol::Kind::Char) return;
        const std::size_t length = a.length + b.length;
        const int id = mergeableId(text.substr(a.begin, length));
        if (id >= 0) {
            agenda.push({pieces_[static_cast<std::size_t>(id)].score, left, right, length});
        }
    };
    for (std::size_t i = 1; i < symbols.size(); ++i) {
        consider(static_cast<int>(i) - 1, static_cast<int>(i));
    }
    while (!agenda.empty()) {
        const Pair top = agenda.top();
        agenda.pop();
        Symbol& a = symbols[static_cast<std::size_t>(top.left)];
        Symbol& b = symbols[static_cast<std::size_t>(top.right)];
        // Symbols only grow until merged away, so live neighbours with the recorded total are
        // still the pair that was queued.
        if (a.length == 0 || b.length == 0 || a.next != top.right ||
            a.length + b.length != top.length) {
            continue;
        }
        a.length = top.length;
        a.next = b.next;
        if (b.next >= 0) symbols[static_cast<std::size_t>(b.next)].prev = top.left;
        b.length = 0;
        consider(a.prev, top.left);
        consider(top.left, a.next);
    }
}

std::vector<int> SentencePieceBpe::encode(std::string_view utf8, bool dummyPrefix) const {
    std::vector<int> out;
    if (utf8.empty()) return out;
    // sentencepiece writes spaces as U+2581 and prefixes one; the pieces here already hold
    // spaces, so the text keeps its own and only gains the dummy prefix.
    std::string text;
    text.reserve(utf8.size() + 1);
    if (dummyPrefix) text.push_back(' ');
    text.append(utf8);
    std::vector<Symbol> symbols = split(text);
    merge(text, symbols);
    for (int i = 0; i >= 0; i = symbols[static_cast<std::size_t>(i)].next) {
        const Symbol& s = symbols[static_cast<std::size_t>(i)];
        const std::string_view piece = std::string_view(text).substr(s.begin, s.length);
        const int id = s.kind == Symbol::Kind::InvalidByte ? -1 : mergeableId(piece);
        if (id >= 0) {
            out.push_back(id);
        } else {
            for (char c : piece) out.push_back(byteIds_[static_cast<unsigned char>(c)]);
        }
    }
    return out;
}

std::string SentencePieceBpe::tokenBytes(int id) const {
    if (id < 0 || id >= vocabSize()) return {};
    const Piece& p = piece(id);
    switch (p.type) {
        case Type::Normal:
        case Type::UserDefined:
            return p.text;
        case Type::Byte:
            return std::string(1, static_cast<char>(byteOfPiece(p.text)));
        case Type::Unknown:
        case Type::Control:
        case Type::Unused:
            break;
    }
    return {};
}

std::string SentencePieceBpe::decode(std::span<const int> ids) const {
    std::string out;
    bool atStart = true;
    for (int id : ids) {
        std::string bytes = tokenBytes(id);
        if (atStart && !bytes.empty()) {
            atStart = false;
            if (bytes.front() == ' ') bytes.erase(0, 1);
        }
        out += bytes;
    }
    return out;
}

QString SentencePieceBpe::tokenDisplay(int id) const {
    if (id >= 0 && id < vocabSize()) {
        const Piece& p = piece(id);
        if (p.type == Type::Control || p.type == Type::Unknown || p.type == Type::Unused) {
            return QString::fromUtf8(p.text);
        }
    }
    return Tokenizer::tokenDisplay(id);
}

QString SentencePieceBpe::indexPieces(const QString& sourceName) {
    const auto pieceName = [&](std::size_t id) {
        return QStringLiteral("%1: piece %2 (%3)")
            .arg(sourceName)
            .arg(id)
            .arg(quoted(pieces_[id].text));
    };
    byteIds_.fill(-1);
    std::size_t mergeableCount = 0;
    for (std::size_t id = 0; id < pieces_.size(); ++id) {
        const Piece& p = pieces_[id];
        if (std::isnan(p.score)) {
            return QStringLiteral("%1: expected a score that is a number, found NaN")
                .arg(pieceName(id));
        }
        if (p.type == Type::Byte) {
            const int b = byteOfPiece(p.text);
            if (b < 0) {
                return QStringLiteral(
                           "%1: expected a byte piece of the form <0xNN> (upper-case "
                           "hex), found %2")
                    .arg(pieceName(id), quoted(p.text));
            }
            if (byteIds_[b] >= 0) {
                return QStringLiteral(
                           "%1: expected one piece per byte, found byte 0x%2 also at "
                           "piece %3")
                    .arg(pieceName(id), hexByte(b))
                    .arg(byteIds_[b]);
            }
            byteIds_[b] = static_cast<int>(id);
        }
        // An empty piece can never come out of a merge, so it needs no slot.
        if (isMergeable(p.type) && !p.text.empty()) {
            ++mergeableCount;
            maxPieceLength_ = std::max(maxPieceLength_, p.text.size());
            if (p.type == Type::UserDefined) userDefined_.push_back(static_cast<int>(id));
        }
    }
    if (const auto it = std::find(byteIds_.begin(), byteIds_.end(), -1); it != byteIds_.end()) {
        return QStringLiteral(
                   "%1: expected a byte piece <0x%2> (byte fallback spells any text "
                   "with the 256 byte pieces), found none")
            .arg(sourceName, hexByte(static_cast<int>(it - byteIds_.begin())));
    }

    mergeable_.assign(std::bit_ceil(std::max<std::size_t>(2 * mergeableCount, 2)), -1);
    const std::size_t mask = mergeable_.size() - 1;
    for (std::size_t id = 0; id < pieces_.size(); ++id) {
        const Piece& p = pieces_[id];
        if (!isMergeable(p.type) || p.text.empty()) continue;
        if (const int other = mergeableId(p.text); other >= 0) {
            return QStringLiteral(
                       "%1: expected each normal or user-defined piece once, found "
                       "the same text at piece %2")
                .arg(pieceName(id))
                .arg(other);
        }
        std::size_t slot = std::hash<std::string_view>{}(p.text) & mask;
        while (mergeable_[slot] >= 0) slot = (slot + 1) & mask;
        mergeable_[slot] = static_cast<int>(id);
    }
    // Longest first, so that the longest user-defined piece wins, as sentencepiece's trie does.
    std::stable_sort(userDefined_.begin(), userDefined_.end(), [&](int a, int b) {
        return pieces_[static_cast<std::size_t>(a)].text.size() >
               pieces_[static_cast<std::size_t>(b)].text.size();
    });
    return {};
}

QString SentencePieceBpe::checkSpecial(const char* which, int id, const QString& sourceName) const {
    if (id == -1) return {};
    QString found;
    if (id < 0 || id >= vocabSize()) {
        found = QStringLiteral("no such piece among %1").arg(vocabSize());
    } else if (piece(id).type != Type::Control) {
        found = typeName(piece(id).type) + QStringLiteral(" piece ") + quoted(piece(id).text);
    } else {
        return {};
    }
    return QStringLiteral("%1: expected the %2 id %3 to be a control piece, found %4")
        .arg(sourceName, QLatin1String(which))
        .arg(id)
        .arg(found);
}

Result<SentencePieceBpe> SentencePieceBpe::fromPieces(std::vector<Piece> pieces, int bos, int eos,
                                                      const QString& sourceName,
                                                      std::optional<bool> addBos) {
    if (pieces.empty()) {
        return Error{QStringLiteral("%1: expected at least one piece, found none").arg(sourceName)};
    }
    SentencePieceBpe tok;
    tok.pieces_ = std::move(pieces);
    for (QString error : {tok.indexPieces(sourceName), tok.checkSpecial("BOS", bos, sourceName),
                          tok.checkSpecial("EOS", eos, sourceName)}) {
        if (!error.isEmpty()) return Error{error};
    }
    tok.bos_ = bos;
    tok.eos_ = eos;
    tok.addBos_ = addBos.value_or(bos >= 0);
    return tok;
}

}  // namespace kvscope
