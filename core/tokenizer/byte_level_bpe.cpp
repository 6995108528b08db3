#include "tokenizer/byte_level_bpe.h"

#include "tokenizer/utf8.h"

#include <QChar>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QJsonParseError>
#include <QJsonValue>
#include <QStringList>

#include <climits>
#include <cmath>
#include <functional>
#include <queue>
#include <utility>

namespace kvscope {

namespace {

constexpr std::string_view kEndOfText = "<|endoftext|>";
// Far above any real vocabulary; stops a corrupt id from sizing a multi-gigabyte table.
constexpr int kMaxId = (1 << 24) - 1;

// GPT-2 writes every byte as a printable code point so that BPE symbols never contain
// whitespace or control characters: printable Latin-1 bytes stand for themselves, the other 68
// bytes are shifted, in byte order, to U+0100 onwards.
struct ByteAlphabet {
    std::array<char32_t, 256> toUnicode{};
    std::array<int, 512> toByte{};  // indexed by code point; -1 when not in the alphabet

    ByteAlphabet() {
        toByte.fill(-1);
        char32_t next = 256;
        for (int b = 0; b < 256; ++b) {
            const bool printable =
                (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            toUnicode[b] = printable ? static_cast<char32_t>(b) : next++;
            toByte[toUnicode[b]] = b;
        }
    }
};

const ByteAlphabet& byteAlphabet() {
    static const ByteAlphabet alphabet;
    return alphabet;
}

// Raw bytes of a symbol written in the byte alphabet; false when some character is outside it.
bool alphabetToBytes(const QString& symbol, std::string& bytes, char32_t& offending) {
    const ByteAlphabet& alphabet = byteAlphabet();
    bytes.clear();
    for (char32_t cp : symbol.toUcs4()) {
        const int b = cp < alphabet.toByte.size() ? alphabet.toByte[cp] : -1;
        if (b < 0) {
            offending = cp;
            return false;
        }
        bytes.push_back(static_cast<char>(b));
    }
    return true;
}

QString quoted(const QString& s) {
    return QLatin1Char('"') + s + QLatin1Char('"');
}

QString codePointName(char32_t cp) {
    return QStringLiteral("U+%1").arg(static_cast<uint>(cp), 4, 16, QLatin1Char('0')).toUpper();
}

QString jsonTypeName(const QJsonValue& v) {
    switch (v.type()) {
        case QJsonValue::Null:
            return QStringLiteral("null");
        case QJsonValue::Bool:
            return v.toBool() ? QStringLiteral("true") : QStringLiteral("false");
        case QJsonValue::Double:
            return QString::number(v.toDouble(), 'g', 17);
        case QJsonValue::String:
            return QStringLiteral("the string %1").arg(quoted(v.toString()));
        case QJsonValue::Array:
            return QStringLiteral("an array");
        case QJsonValue::Object:
            return QStringLiteral("an object");
        case QJsonValue::Undefined:
            break;
    }
    return QStringLiteral("nothing");
}

enum class CharClass { Letter, Number, Space, Other };

struct Scanned {
    char32_t cp;  // 0xFFFFFFFF for an invalid byte so it never equals an ASCII literal
    std::size_t offset;
    CharClass cls;
};

// \s, \p{L} and \p{N} as GPT-2's Python `regex` module defines them: \s is Unicode White_Space,
// which is exactly QChar::isSpace (JavaScript's \s differs on U+0085 and U+FEFF).
CharClass classify(char32_t cp) {
    if (QChar::isLetter(cp)) return CharClass::Letter;
    if (QChar::isNumber(cp)) return CharClass::Number;
    if (QChar::isSpace(cp)) return CharClass::Space;
    return CharClass::Other;
}

std::vector<Scanned> scan(std::string_view s) {
    std::vector<Scanned> out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        const Decoded d = decodeUtf8(s, i);
        if (d.valid) {
            out.push_back({d.cp, i, classify(d.cp)});
        } else {
            out.push_back({0xFFFFFFFF, i, CharClass::Other});
        }
        i += static_cast<std::size_t>(d.length);
    }
    return out;
}

// Length in code points of a contraction ('s 't 're 've 'm 'll 'd) starting at i, or 0. The
// pattern is case-sensitive, so "'S" is not a contraction.
std::size_t contractionAt(const std::vector<Scanned>& c, std::size_t i) {
    if (c[i].cp != U'\'' || i + 1 >= c.size()) return 0;
    const char32_t a = c[i + 1].cp;
    if (a == U's' || a == U't' || a == U'm' || a == U'd') return 2;
    if (i + 2 >= c.size()) return 0;
    const char32_t b = c[i + 2].cp;
    if ((a == U'r' && b == U'e') || (a == U'v' && b == U'e') || (a == U'l' && b == U'l')) return 3;
    return 0;
}

}  // namespace

std::vector<std::string_view> ByteLevelBpe::preTokenize(std::string_view utf8) {
    const std::vector<Scanned> c = scan(utf8);
    const std::size_t n = c.size();
    const auto offsetOf = [&](std::size_t k) { return k < n ? c[k].offset : utf8.size(); };
    const auto runEnd = [&](std::size_t k, CharClass cls) {
        while (k < n && c[k].cls == cls) ++k;
        return k;
    };

    std::vector<std::string_view> pieces;
    std::size_t i = 0;
    while (i < n) {
        // Alternatives in the pattern's order:
        // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
        // Together they match every character, so the regex never skips input and the pieces
        // tile the text; each branch below is the first alternative that matches at i.
        std::size_t end;
        if (const std::size_t k = contractionAt(c, i); k > 0) {
            end = i + k;
        } else if (c[i].cls != CharClass::Space) {
            end = runEnd(i, c[i].cls);
        } else if (c[i].cp == U' ' && i + 1 < n && c[i + 1].cls != CharClass::Space) {
            // Only U+0020 may lead a word, number or punctuation run.
            end = runEnd(i + 1, c[i + 1].cls);
        } else {
            const std::size_t spaces = runEnd(i, CharClass::Space);
            // \s+(?!\S) backtracks to leave the last space for the " ?word" that follows; a
            // single space before non-space cannot, so plain \s+ takes that one character.
            end = (spaces == n || spaces - i == 1) ? spaces : spaces - 1;
        }
        pieces.push_back(utf8.substr(offsetOf(i), offsetOf(end) - offsetOf(i)));
        i = end;
    }
    return pieces;
}

void ByteLevelBpe::appendPieceIds(std::string_view piece, std::vector<int>& out) const {
    // encoder.py merges the lowest-ranked adjacent pair, every non-overlapping occurrence left to
    // right, and rescans the whole word; that is quadratic, and a pasted blob without spaces is a
    // single piece of any length. Here the symbols form a linked list and candidate pairs sit in
    // a heap, and all occurrences of the lowest rank are merged as one left-to-right batch, which
    // gives the same result in O(n log n) even when a merges file ranks a pair below the pairs
    // that produce its symbols.
    const int n = static_cast<int>(piece.size());
    std::vector<int> symbol(piece.size()), next(piece.size()), prev(piece.size());
    for (int i = 0; i < n; ++i) {
        symbol[i] = byteIds_[static_cast<unsigned char>(piece[i])];
        next[i] = i + 1 < n ? i + 1 : -1;
        prev[i] = i - 1;
    }

    struct Candidate {
        int rank;
        int pos;  // left symbol's original byte index, so ordering by it is left to right
        int left, right;
        bool operator>(const Candidate& o) const {
            return rank != o.rank ? rank > o.rank : pos > o.pos;
        }
    };
    std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> heap;
    const auto consider = [&](int pos) {
        if (pos < 0 || next[pos] < 0) return;
        const auto it = merges_.find(pairKey(symbol[pos], symbol[next[pos]]));
        if (it != merges_.end()) {
            heap.push({it->second.rank, pos, symbol[pos], symbol[next[pos]]});
        }
    };
    // Entries go stale when a neighbour merges; the symbols they recorded tell.
    const auto stillValid = [&](const Candidate& c) {
        return symbol[c.pos] == c.left && next[c.pos] >= 0 && symbol[next[c.pos]] == c.right;
    };
    for (int i = 0; i + 1 < n; ++i) consider(i);

    std::vector<Candidate> batch;
    while (!heap.empty()) {
        // Ranks are unique per pair, so one rank is one pair. A merged symbol differs from both
        // its parts, so merging cannot create another occurrence of the pair being merged.
        batch.clear();
        const int rank = heap.top().rank;
        while (!heap.empty() && heap.top().rank == rank) {
            batch.push_back(heap.top());
            heap.pop();
        }
        const auto merged = merges_.find(pairKey(batch.front().left, batch.front().right));
        for (const Candidate& c : batch) {
            // An occurrence overlapping one merged just before it (as in "a a a") is now stale.
            if (!stillValid(c)) continue;
            const int gone = next[c.pos];
            symbol[c.pos] = merged->second.merged;
            symbol[gone] = -1;
            next[c.pos] = next[gone];
            if (next[gone] >= 0) prev[next[gone]] = c.pos;
            consider(prev[c.pos]);
            consider(c.pos);
        }
    }
    for (int i = 0; i >= 0 && i < n; i = next[i]) out.push_back(symbol[i]);
}

void ByteLevelBpe::encodeOrdinary(std::string_view text, std::vector<int>& out) const {
    for (std::string_view piece : preTokenize(text)) appendPieceIds(piece, out);
}

std::vector<int> ByteLevelBpe::encode(std::string_view utf8) const {
    std::vector<int> out;
    if (endOfTextId_ < 0) {
        encodeOrdinary(utf8, out);
        return out;
    }
    std::size_t pos = 0;
    for (std::size_t hit; (hit = utf8.find(kEndOfText, pos)) != std::string_view::npos;) {
        encodeOrdinary(utf8.substr(pos, hit - pos), out);
        out.push_back(endOfTextId_);
        pos = hit + kEndOfText.size();
    }
    encodeOrdinary(utf8.substr(pos), out);
    return out;
}

std::string ByteLevelBpe::tokenBytes(int id) const {
    if (id < 0 || id >= vocabSize()) return {};
    return idToBytes_[static_cast<std::size_t>(id)];
}

Result<ByteLevelBpe> ByteLevelBpe::fromData(const QByteArray& vocabJson, const QByteArray& merges,
                                            const QString& vocabName, const QString& mergesName,
                                            int vocabSize) {
    try {
        ByteLevelBpe tok;
        const ByteAlphabet& alphabet = byteAlphabet();

        QJsonParseError parseError;
        const QJsonDocument doc = QJsonDocument::fromJson(vocabJson, &parseError);
        if (parseError.error != QJsonParseError::NoError) {
            throw LoadError(QStringLiteral("%1: invalid JSON at byte offset %2: %3")
                                .arg(vocabName)
                                .arg(parseError.offset)
                                .arg(parseError.errorString()));
        }
        if (!doc.isObject()) {
            throw LoadError(
                QStringLiteral("%1: expected a JSON object mapping token strings to ids, found %2")
                    .arg(vocabName,
                         doc.isArray() ? QStringLiteral("an array") : QStringLiteral("a scalar")));
        }
        const QJsonObject vocab = doc.object();
        if (vocab.isEmpty()) {
            throw LoadError(QStringLiteral("%1: expected a non-empty vocabulary, found an empty "
                                           "JSON object")
                                .arg(vocabName));
        }

        std::unordered_map<std::string, int> tokenToId;
        tokenToId.reserve(static_cast<std::size_t>(vocab.size()));
        std::unordered_map<int, QString> idOwner;
        idOwner.reserve(static_cast<std::size_t>(vocab.size()));
        int maxId = -1;
        std::string bytes;
        for (auto it = vocab.begin(); it != vocab.end(); ++it) {
            const QString key = it.key();
            const QJsonValue value = it.value();
            const QString field = QStringLiteral("%1: token %2").arg(vocabName, quoted(key));
            const double d = value.toDouble();
            if (!value.isDouble() || std::floor(d) != d) {
                throw LoadError(QStringLiteral("%1: expected an integer id, found %2")
                                    .arg(field, jsonTypeName(value)));
            }
            if (d < 0) {
                throw LoadError(QStringLiteral("%1: expected a non-negative id, found %2")
                                    .arg(field, jsonTypeName(value)));
            }
            if (d > kMaxId) {
                throw LoadError(QStringLiteral("%1: expected an id of at most %2, found %3")
                                    .arg(field)
                                    .arg(kMaxId)
                                    .arg(jsonTypeName(value)));
            }
            if (vocabSize > 0 && d >= vocabSize) {
                throw LoadError(
                    QStringLiteral("%1: expected an id below the model's vocab_size=%2, "
                                   "found %3")
                        .arg(field)
                        .arg(vocabSize)
                        .arg(qint64(d)));
            }
            const int id = static_cast<int>(d);
            if (const auto [owner, fresh] = idOwner.emplace(id, key); !fresh) {
                throw LoadError(
                    QStringLiteral("%1: expected a unique id, found %2 which token %3 also has")
                        .arg(field)
                        .arg(id)
                        .arg(quoted(owner->second)));
            }
            char32_t offending = 0;
            if (!alphabetToBytes(key, bytes, offending)) {
                throw LoadError(
                    QStringLiteral(
                        "%1: expected characters of GPT-2's byte-to-unicode alphabet, found %2")
                        .arg(field, codePointName(offending)));
            }
            tokenToId.emplace(bytes, id);
            maxId = std::max(maxId, id);
        }

        tok.idToBytes_.assign(static_cast<std::size_t>(maxId) + 1, std::string());
        for (const auto& [tokenBytes, id] : tokenToId) {
            tok.idToBytes_[static_cast<std::size_t>(id)] = tokenBytes;
        }

        for (int b = 0; b < 256; ++b) {
            const auto it = tokenToId.find(std::string(1, static_cast<char>(b)));
            if (it == tokenToId.end()) {
                throw LoadError(
                    QStringLiteral("%1: expected a token for each of the 256 bytes, found none "
                                   "for byte 0x%2 (written %3)")
                        .arg(vocabName)
                        .arg(b, 2, 16, QLatin1Char('0'))
                        .arg(quoted(QString::fromUcs4(&alphabet.toUnicode[b], 1))));
            }
            tok.byteIds_[b] = it->second;
        }
        if (const auto it = tokenToId.find(std::string(kEndOfText)); it != tokenToId.end()) {
            tok.endOfTextId_ = it->second;
        }

        const auto lookup = [&](const QString& symbol, int lineNo, const QString& line,
                                const char* role) {
            char32_t offending = 0;
            std::string symbolBytes;
            if (alphabetToBytes(symbol, symbolBytes, offending)) {
                if (const auto it = tokenToId.find(symbolBytes); it != tokenToId.end()) {
                    return it->second;
                }
            }
            throw LoadError(
                QStringLiteral("%1: line %2 (%3): expected the %4 %5 to be in the "
                               "vocabulary %6, found no such token")
                    .arg(mergesName)
                    .arg(lineNo)
                    .arg(quoted(line), QString::fromLatin1(role), quoted(symbol), vocabName));
        };

        const QList<QByteArray> lines = merges.split('\n');
        int rank = 0;
        for (qsizetype i = 0; i < lines.size(); ++i) {
            QByteArray raw = lines[i];
            if (raw.endsWith('\r')) raw.chop(1);
            const int lineNo = static_cast<int>(i) + 1;
            if (i == 0 && raw.startsWith("#version")) continue;
            // encoder.py drops the empty line after the final newline; blank lines elsewhere
            // hold no merge either.
            if (raw.isEmpty()) continue;
            const QString line = QString::fromUtf8(raw);
            const QStringList parts = line.split(QLatin1Char(' '), Qt::SkipEmptyParts);
            if (parts.size() != 2) {
                throw LoadError(
                    QStringLiteral("%1: line %2: expected two symbols separated by a space, "
                                   "found %3 in %4")
                        .arg(mergesName)
                        .arg(lineNo)
                        .arg(parts.size())
                        .arg(quoted(line)));
            }
            const int left = lookup(parts[0], lineNo, line, "symbol");
            const int right = lookup(parts[1], lineNo, line, "symbol");
            const int merged = lookup(parts[0] + parts[1], lineNo, line, "merged symbol");
            // A repeated pair takes its later rank, as in encoder.py's dict(zip(merges, ranks)).
            tok.merges_.insert_or_assign(pairKey(left, right), Merge{rank++, merged});
        }
        return tok;
    } catch (const LoadError& e) {
        return Error{e.message()};
    }
}

Result<ByteLevelBpe> ByteLevelBpe::fromFiles(const QString& vocabPath, const QString& mergesPath,
                                             int vocabSize) {
    const auto read = [](const QString& path, const char* what, QByteArray& data) -> QString {
        QFile file(path);
        if (!file.open(QIODevice::ReadOnly)) {
            return QStringLiteral("%1: cannot read the %2 file: %3")
                .arg(path, QString::fromLatin1(what), file.errorString());
        }
        data = file.readAll();
        return {};
    };
    QByteArray vocab, merges;
    if (QString error = read(vocabPath, "vocabulary", vocab); !error.isEmpty()) {
        return Error{error};
    }
    if (QString error = read(mergesPath, "merges", merges); !error.isEmpty()) {
        return Error{error};
    }
    return fromData(vocab, merges, vocabPath, mergesPath, vocabSize);
}

}  // namespace kvscope
