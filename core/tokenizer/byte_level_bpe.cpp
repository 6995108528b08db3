#include "tokenizer/byte_level_bpe.h"

#include "tokenizer/utf8.h"

#include <QChar>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QJsonParseError>
#include <QJsonValue>
#include <QStringList>

#include <algorithm>
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

// Raw bytes of a token written in the byte alphabet, from its UTF-8 text; false when some
// character is outside the alphabet (or the text is not UTF-8: offending is then U+FFFD).
bool alphabetToBytes(std::string_view symbol, std::string& bytes, char32_t& offending) {
    const ByteAlphabet& alphabet = byteAlphabet();
    bytes.clear();
    for (std::size_t i = 0; i < symbol.size();) {
        const Decoded d = decodeUtf8(symbol, i);
        const int b = d.valid && d.cp < alphabet.toByte.size() ? alphabet.toByte[d.cp] : -1;
        if (b < 0) {
            offending = d.valid ? d.cp : U'\uFFFD';
            return false;
        }
        bytes.push_back(static_cast<char>(b));
        i += static_cast<std::size_t>(d.length);
    }
    return true;
}

// NFC of each run of valid UTF-8 in text; bytes that are not UTF-8 pass unchanged, so the
// tokenizer still takes any byte string. ASCII runs are already NFC.
std::string nfcValidRuns(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    std::size_t runStart = 0;
    bool ascii = true;
    const auto flush = [&](std::size_t end) {
        const std::string_view run = text.substr(runStart, end - runStart);
        if (ascii) {
            out.append(run);
            return;
        }
        const QByteArray nfc = QString::fromUtf8(run.data(), static_cast<qsizetype>(run.size()))
                                   .normalized(QString::NormalizationForm_C)
                                   .toUtf8();
        out.append(nfc.constData(), static_cast<std::size_t>(nfc.size()));
    };
    for (std::size_t i = 0; i < text.size();) {
        const Decoded d = decodeUtf8(text, i);
        if (!d.valid) {
            flush(i);
            out.push_back(text[i]);
            runStart = ++i;
            ascii = true;
            continue;
        }
        ascii = ascii && d.cp < 0x80;
        i += static_cast<std::size_t>(d.length);
    }
    flush(text.size());
    return out;
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

}  // namespace

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
    std::string normalized;
    if (nfc_) {
        normalized = nfcValidRuns(text);
        text = normalized;
    }
    for (std::string_view piece : kvscope::preTokenize(pre_, text)) {
        if (ignoreMerges_) {
            if (const int id = pieceIds_.find(idToBytes_, piece); id >= 0) {
                out.push_back(id);
                continue;
            }
        }
        appendPieceIds(piece, out);
    }
}

int ByteLevelBpe::wholeTokenAt(std::string_view text, std::size_t pos) const {
    for (int id : wholeTokens_[static_cast<unsigned char>(text[pos])]) {
        if (text.substr(pos).starts_with(idToBytes_[static_cast<std::size_t>(id)])) return id;
    }
    return -1;
}

void ByteLevelBpe::indexWholeTokens() {
    for (std::vector<int>& ids : wholeTokens_) {
        std::stable_sort(ids.begin(), ids.end(), [&](int a, int b) {
            return idToBytes_[static_cast<std::size_t>(a)].size() >
                   idToBytes_[static_cast<std::size_t>(b)].size();
        });
        hasWholeTokens_ = hasWholeTokens_ || !ids.empty();
    }
}

std::vector<int> ByteLevelBpe::encode(std::string_view utf8) const {
    std::vector<int> out;
    if (!hasWholeTokens_) {
        encodeOrdinary(utf8, out);
        return out;
    }
    std::size_t from = 0;  // start of the text not yet encoded
    for (std::size_t pos = 0; pos < utf8.size();) {
        const int id = wholeTokenAt(utf8, pos);
        if (id < 0) {
            ++pos;
            continue;
        }
        encodeOrdinary(utf8.substr(from, pos - from), out);
        out.push_back(id);
        pos += idToBytes_[static_cast<std::size_t>(id)].size();
        from = pos;
    }
    encodeOrdinary(utf8.substr(from), out);
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
            tok.special_.eot = it->second;
            tok.wholeTokens_[static_cast<unsigned char>(kEndOfText[0])].push_back(it->second);
            tok.indexWholeTokens();
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

namespace kvscope {

namespace {

QString quotedUtf8(std::string_view text) {
    return QLatin1Char('"') + displayBytes(text) + QLatin1Char('"');
}

}  // namespace

Result<ByteLevelBpe> ByteLevelBpe::fromVocabulary(const Vocabulary& v, const QString& source) {
    const std::size_t n = v.tokens.size();
    const auto fail = [&](const QString& message) {
        return Error{source + QStringLiteral(": ") + message};
    };
    if (n == 0) return fail(v.tokensField + QStringLiteral(": expected tokens, found none"));
    if (n > std::size_t(kMaxId) + 1) {
        return fail(QStringLiteral("%1: expected at most %2 tokens, found %3")
                        .arg(v.tokensField)
                        .arg(kMaxId + 1)
                        .arg(n));
    }
    if (!v.types.empty() && v.types.size() != n) {
        return fail(QStringLiteral("%1: expected one type per token (%2), found %3")
                        .arg(v.typesField)
                        .arg(n)
                        .arg(v.types.size()));
    }

    ByteLevelBpe tok;
    tok.byteIds_.fill(-1);
    tok.idToBytes_.resize(n);
    // Tokens as the merges spell them (the byte alphabet) to ids; a repeated text keeps its
    // last id, as llama.cpp's token_to_id does.
    TextIndex byText(n);
    std::vector<int> normalIds;  // for pieceIds_, once idToBytes_ is complete
    std::string bytes;
    for (std::size_t id = 0; id < n; ++id) {
        const std::int32_t type = v.types.empty() ? Normal : v.types[id];
        if (type < 0 || type > Byte) {
            return fail(QStringLiteral("%1[%2]: expected a token type from 0 to 6, found %3")
                            .arg(v.typesField)
                            .arg(id)
                            .arg(type));
        }
        const std::string& text = v.tokens[id];
        if (text.empty()) continue;
        byText.insert(v.tokens, static_cast<int>(id));
        if (type == Control || type == UserDefined) {
            tok.idToBytes_[id] = text;
            tok.wholeTokens_[static_cast<unsigned char>(text[0])].push_back(static_cast<int>(id));
            continue;
        }
        char32_t offending = 0;
        if (!alphabetToBytes(text, bytes, offending)) {
            return fail(
                QStringLiteral("%1[%2] (%3): expected characters of GPT-2's byte-to-unicode "
                               "alphabet, found %4")
                    .arg(v.tokensField)
                    .arg(id)
                    .arg(quotedUtf8(text), codePointName(offending)));
        }
        if (bytes.size() == 1 && tok.byteIds_[static_cast<unsigned char>(bytes[0])] < 0) {
            tok.byteIds_[static_cast<unsigned char>(bytes[0])] = static_cast<int>(id);
        }
        if (v.ignoreMerges) normalIds.push_back(static_cast<int>(id));
        tok.idToBytes_[id] = std::move(bytes);
        bytes = std::string();
    }
    for (int b = 0; b < 256; ++b) {
        if (tok.byteIds_[b] < 0) {
            const char32_t written = byteAlphabet().toUnicode[b];
            return fail(QStringLiteral("%1: expected a token for each of the 256 bytes, found none "
                                       "for byte 0x%2 (written %3)")
                            .arg(v.tokensField)
                            .arg(b, 2, 16, QLatin1Char('0'))
                            .arg(quoted(QString::fromUcs4(&written, 1))));
        }
    }
    const std::pair<const char*, int> specials[] = {
        {"BOS", v.special.bos}, {"EOS", v.special.eos}, {"end-of-text", v.special.eot}};
    for (const auto& [name, id] : specials) {
        if (id < -1 || id >= static_cast<int>(n)) {
            return fail(QStringLiteral("the %1 id: expected -1 (none) or an id below %2, found %3")
                            .arg(QLatin1String(name))
                            .arg(n)
                            .arg(id));
        }
    }

    tok.merges_.reserve(v.merges.size());
    std::string joined;
    for (std::size_t rank = 0; rank < v.merges.size(); ++rank) {
        const std::string_view line = v.merges[rank];
        // Formatted only for a message: there are hundreds of thousands of merges.
        const auto field = [&] {
            return QStringLiteral("%1[%2] (%3)").arg(v.mergesField).arg(rank).arg(quotedUtf8(line));
        };
        // A side may not be empty, so the separator is the first space after the first byte.
        const std::size_t space = line.size() > 1 ? line.find(' ', 1) : std::string_view::npos;
        if (space == std::string_view::npos || space + 1 == line.size() ||
            line.find(' ', space + 1) != std::string_view::npos) {
            return fail(QStringLiteral("%1: expected two tokens separated by one space, found %2")
                            .arg(field(), quotedUtf8(line)));
        }
        const std::string_view left = line.substr(0, space), right = line.substr(space + 1);
        joined.assign(left);
        joined.append(right);
        int ids[3];
        const std::string_view parts[3] = {left, right, joined};
        for (int k = 0; k < 3; ++k) {
            ids[k] = byText.find(v.tokens, parts[k]);
            if (ids[k] < 0) {
                return fail(QStringLiteral("%1: expected %2 %3 among the tokens, found no such "
                                           "token")
                                .arg(field(),
                                     k < 2 ? QStringLiteral("the token")
                                           : QStringLiteral("the merged token"),
                                     quotedUtf8(parts[k])));
            }
        }
        // A repeated pair takes its later rank, as in encoder.py and Hugging Face.
        tok.merges_.insert_or_assign(pairKey(ids[0], ids[1]),
                                     Merge{static_cast<int>(rank), ids[2]});
    }

    if (v.ignoreMerges) {
        tok.pieceIds_ = TextIndex(normalIds.size());
        for (int id : normalIds) tok.pieceIds_.insert(tok.idToBytes_, id);
    }
    tok.special_ = v.special;
    tok.pre_ = v.pre;
    tok.ignoreMerges_ = v.ignoreMerges;
    tok.nfc_ = v.nfc;
    tok.indexWholeTokens();
    return tok;
}

}  // namespace kvscope
