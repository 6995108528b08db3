#include "tokenizer/hf_tokenizer_json.h"

#include "tokenizer/byte_level_bpe.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/sentencepiece_bpe.h"
#include "tokenizer/utf8.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QJsonParseError>
#include <QJsonValue>

#include <algorithm>
#include <array>
#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace kvscope {

namespace {

constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";  // U+2581, SentencePiece's space
constexpr int kMaxId = (1 << 24) - 1;

// The Split patterns the byte-level pre-tokenizers of pre_tokenizer.h implement, as the models'
// tokenizer.json files spell them.
constexpr std::string_view kLlama3Pattern =
    R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
constexpr std::string_view kQwen2Pattern =
    R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
constexpr std::string_view kGpt2Pattern =
    R"re('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)re";

std::string utf8Of(const QString& s) {
    const QByteArray b = s.toUtf8();
    return std::string(b.constData(), static_cast<std::size_t>(b.size()));
}

// A JSON value as an error message shows it: its type, and a short form of its content.
QString describe(const QJsonValue& v) {
    switch (v.type()) {
        case QJsonValue::Null:
            return QStringLiteral("null");
        case QJsonValue::Bool:
            return v.toBool() ? QStringLiteral("true") : QStringLiteral("false");
        case QJsonValue::Double:
            return QString::number(v.toDouble(), 'g', 17);
        case QJsonValue::String: {
            QString s = v.toString();
            if (s.size() > 80) s = s.left(80) + QStringLiteral("...");
            return QStringLiteral("the string \"%1\"").arg(s);
        }
        case QJsonValue::Array:
            return QStringLiteral("an array of %1").arg(v.toArray().size());
        case QJsonValue::Object: {
            const QString type = v.toObject().value(QLatin1String("type")).toString();
            return type.isEmpty() ? QStringLiteral("an object")
                                  : QStringLiteral("an object of type \"%1\"").arg(type);
        }
        case QJsonValue::Undefined:
            break;
    }
    return QStringLiteral("nothing");
}

// Reads fields with their path for messages; a mismatch throws LoadError.
class Reader {
public:
    explicit Reader(QString file) : file_(std::move(file)) {}

    [[noreturn]] void fail(const QString& field, const QString& expected,
                           const QString& found) const {
        throw LoadError(
            QStringLiteral("%1: %2: expected %3, found %4").arg(file_, field, expected, found));
    }
    [[noreturn]] void fail(const QString& field, const QString& expected,
                           const QJsonValue& found) const {
        fail(field, expected, describe(found));
    }

    QJsonObject object(const QJsonValue& v, const QString& field) const {
        if (!v.isObject()) fail(field, QStringLiteral("an object"), v);
        return v.toObject();
    }
    QJsonArray array(const QJsonValue& v, const QString& field) const {
        if (!v.isArray()) fail(field, QStringLiteral("an array"), v);
        return v.toArray();
    }
    QString string(const QJsonValue& v, const QString& field) const {
        if (!v.isString()) fail(field, QStringLiteral("a string"), v);
        return v.toString();
    }
    bool boolean(const QJsonValue& v, const QString& field, bool absent) const {
        if (v.isUndefined() || v.isNull()) return absent;
        if (!v.isBool()) fail(field, QStringLiteral("true or false"), v);
        return v.toBool();
    }
    int id(const QJsonValue& v, const QString& field, int vocabSize) const {
        const double d = v.toDouble(-1);
        if (!v.isDouble() || std::floor(d) != d || d < 0 || d > kMaxId) {
            fail(field, QStringLiteral("an integer id from 0 to %1").arg(kMaxId), v);
        }
        if (vocabSize > 0 && d >= vocabSize) {
            fail(field, QStringLiteral("an id below the model's vocab_size=%1").arg(vocabSize), v);
        }
        return static_cast<int>(d);
    }
    // A field that must be absent, null or one given value.
    void absentOr(const QJsonObject& o, const char* key, const QString& field,
                  const QJsonValue& allowed, const QString& why) const {
        const QJsonValue v = o.value(QLatin1String(key));
        if (v.isUndefined() || v.isNull() || v == allowed) return;
        fail(field, why, v);
    }
    const QString& file() const { return file_; }

private:
    QString file_;
};

struct AddedToken {
    int id;
    std::string content;
    bool special;
};

// What the file asks of the text before BPE.
struct Shape {
    bool byteLevel = false;
    PreTokenizer pre = PreTokenizer::Gpt2;
    bool nfc = false;
    // SentencePiece style: the dummy prefix on every part between added tokens, or the first.
    bool prefixEveryPart = true;
};

bool isType(const QJsonObject& o, const char* type) {
    return o.value(QLatin1String("type")).toString() == QLatin1String(type);
}

QString compact(const QJsonValue& v) {
    QString s =
        QString::fromUtf8((v.isObject() ? QJsonDocument(v.toObject()) : QJsonDocument(v.toArray()))
                              .toJson(QJsonDocument::Compact));
    return s.size() > 200 ? s.left(200) + QStringLiteral("...") : s;
}

// The byte-level pre-tokenizers; nullopt when `pre` is not one of them.
std::optional<PreTokenizer> byteLevelPre(const QJsonObject& pre) {
    const auto byteLevel = [](const QJsonObject& o, bool useRegex) {
        return isType(o, "ByteLevel") && !o.value(QLatin1String("add_prefix_space")).toBool() &&
               o.value(QLatin1String("use_regex")).toBool(true) == useRegex;
    };
    if (byteLevel(pre, true)) return PreTokenizer::Gpt2;
    if (!isType(pre, "Sequence")) return std::nullopt;
    const QJsonArray seq = pre.value(QLatin1String("pretokenizers")).toArray();
    if (seq.size() != 2 || !seq[0].isObject() || !seq[1].isObject()) return std::nullopt;
    const QJsonObject first = seq[0].toObject(), second = seq[1].toObject();
    if (isType(first, "Digits") && first.value(QLatin1String("individual_digits")).toBool() &&
        byteLevel(second, true)) {
        return PreTokenizer::SmolLm;
    }
    if (!isType(first, "Split") || !byteLevel(second, false) ||
        first.value(QLatin1String("behavior")).toString() != QLatin1String("Isolated") ||
        first.value(QLatin1String("invert")).toBool()) {
        return std::nullopt;
    }
    const std::string pattern = utf8Of(
        first.value(QLatin1String("pattern")).toObject().value(QLatin1String("Regex")).toString());
    if (pattern == kLlama3Pattern) return PreTokenizer::Llama3;
    if (pattern == kQwen2Pattern) return PreTokenizer::Qwen2;
    if (pattern == kGpt2Pattern) return PreTokenizer::Gpt2;
    return std::nullopt;
}

// Prepend U+2581 and Replace " " -> U+2581, in either order: sentencepiece's dummy prefix and
// space marker.
bool isSentencePieceNormalizer(const QJsonObject& n) {
    if (!isType(n, "Sequence")) return false;
    const QJsonArray seq = n.value(QLatin1String("normalizers")).toArray();
    if (seq.size() != 2) return false;
    const QString marker = QString::fromUtf8(kSpaceMarker.data(), kSpaceMarker.size());
    bool prepend = false, replace = false;
    for (const QJsonValue& v : seq) {
        const QJsonObject o = v.toObject();
        if (isType(o, "Prepend") && o.value(QLatin1String("prepend")).toString() == marker) {
            prepend = true;
        } else if (isType(o, "Replace") &&
                   o.value(QLatin1String("pattern")).toObject().value(QLatin1String("String")) ==
                       QJsonValue(QStringLiteral(" ")) &&
                   o.value(QLatin1String("content")).toString() == marker) {
            replace = true;
        }
    }
    return prepend && replace;
}

Shape readShape(const Reader& r, const QJsonObject& root, bool byteFallback) {
    const QJsonValue normalizer = root.value(QLatin1String("normalizer"));
    const QJsonValue pre = root.value(QLatin1String("pre_tokenizer"));
    Shape shape;
    const bool noNormalizer = normalizer.isNull() || normalizer.isUndefined();
    if (!noNormalizer) r.object(normalizer, QStringLiteral("normalizer"));
    if (!pre.isNull() && !pre.isUndefined()) {
        const QJsonObject p = r.object(pre, QStringLiteral("pre_tokenizer"));
        if (const auto kind = byteLevelPre(p)) {
            shape.byteLevel = true;
            shape.pre = *kind;
        } else if (isType(p, "Metaspace")) {
            const QString marker = QString::fromUtf8(kSpaceMarker.data(), kSpaceMarker.size());
            if (p.value(QLatin1String("replacement")).toString() != marker ||
                p.value(QLatin1String("split")).toBool(false)) {
                r.fail(QStringLiteral("pre_tokenizer"),
                       QStringLiteral("Metaspace with replacement U+2581 and split false"),
                       compact(p));
            }
            const QString scheme = p.value(QLatin1String("prepend_scheme")).toString();
            const bool legacyPrefix = p.value(QLatin1String("add_prefix_space")).toBool(false);
            if (scheme != QLatin1String("first") && scheme != QLatin1String("always") &&
                !(scheme.isEmpty() && legacyPrefix)) {
                r.fail(QStringLiteral("pre_tokenizer.prepend_scheme"),
                       QStringLiteral("\"first\" or \"always\""),
                       p.value(QLatin1String("prepend_scheme")));
            }
            if (!noNormalizer) {
                r.fail(QStringLiteral("normalizer"),
                       QStringLiteral("null beside a Metaspace pre-tokenizer"), normalizer);
            }
            shape.prefixEveryPart = scheme != QLatin1String("first");
            if (!byteFallback) {
                r.fail(QStringLiteral("model.byte_fallback"),
                       QStringLiteral("true for a SentencePiece-style vocabulary"),
                       QStringLiteral("false"));
            }
            return shape;
        } else {
            r.fail(QStringLiteral("pre_tokenizer"),
                   QStringLiteral("ByteLevel (GPT-2), Split with Llama 3's, Qwen2's or GPT-2's "
                                  "pattern then ByteLevel, Digits then ByteLevel (SmolLM), or "
                                  "Metaspace"),
                   compact(p));
        }
    }
    if (shape.byteLevel) {
        if (!noNormalizer && !isType(normalizer.toObject(), "NFC")) {
            r.fail(QStringLiteral("normalizer"),
                   QStringLiteral("null or NFC beside a ByteLevel pre-tokenizer"),
                   compact(normalizer));
        }
        if (byteFallback) {
            r.fail(QStringLiteral("model.byte_fallback"),
                   QStringLiteral("false for a byte-level vocabulary"), QStringLiteral("true"));
        }
        shape.nfc = !noNormalizer;
        return shape;
    }
    // No pre-tokenizer: SentencePiece's normalizer does the work.
    if (noNormalizer || !isSentencePieceNormalizer(normalizer.toObject())) {
        r.fail(QStringLiteral("normalizer"),
               QStringLiteral("Prepend U+2581 and Replace \" \" with U+2581 (SentencePiece "
                              "style) when there is no pre-tokenizer"),
               noNormalizer ? QStringLiteral("null") : compact(normalizer));
    }
    if (!byteFallback) {
        r.fail(QStringLiteral("model.byte_fallback"),
               QStringLiteral("true for a SentencePiece-style vocabulary"),
               QStringLiteral("false"));
    }
    return shape;
}

std::vector<AddedToken> readAddedTokens(const Reader& r, const QJsonObject& root, int vocabSize) {
    std::vector<AddedToken> added;
    const QJsonValue list = root.value(QLatin1String("added_tokens"));
    if (list.isUndefined() || list.isNull()) return added;
    const QJsonArray tokens = r.array(list, QStringLiteral("added_tokens"));
    added.reserve(static_cast<std::size_t>(tokens.size()));
    for (qsizetype i = 0; i < tokens.size(); ++i) {
        const QString field = QStringLiteral("added_tokens[%1]").arg(i);
        const QJsonObject t = r.object(tokens[i], field);
        AddedToken a;
        a.id = r.id(t.value(QLatin1String("id")), field + QStringLiteral(".id"), vocabSize);
        a.content =
            utf8Of(r.string(t.value(QLatin1String("content")), field + QStringLiteral(".content")));
        if (a.content.empty()) {
            r.fail(field + QStringLiteral(".content"), QStringLiteral("a non-empty string"),
                   QStringLiteral("\"\""));
        }
        a.special =
            r.boolean(t.value(QLatin1String("special")), field + QStringLiteral(".special"), false);
        // Matching with stripped spaces or on word boundaries is not implemented: refused
        // rather than matched differently. `normalized` only matters for contents that the
        // normalizer changes, which the supported vocabularies' added tokens are not.
        for (const char* flag : {"lstrip", "rstrip", "single_word"}) {
            if (r.boolean(t.value(QLatin1String(flag)),
                          field + QLatin1Char('.') + QLatin1String(flag), false)) {
                r.fail(field + QLatin1Char('.') + QLatin1String(flag), QStringLiteral("false"),
                       QStringLiteral("true"));
            }
        }
        (void)r.boolean(t.value(QLatin1String("normalized")), field + QStringLiteral(".normalized"),
                        false);
        added.push_back(std::move(a));
    }
    return added;
}

// Merges as "left right" strings, from either spelling: "a b" or ["a", "b"].
std::vector<std::string> readMerges(const Reader& r, const QJsonObject& model) {
    const QJsonArray list =
        r.array(model.value(QLatin1String("merges")), QStringLiteral("model.merges"));
    std::vector<std::string> merges;
    merges.reserve(static_cast<std::size_t>(list.size()));
    for (qsizetype i = 0; i < list.size(); ++i) {
        const QJsonValue v = list[i];
        if (v.isString()) {
            merges.push_back(utf8Of(v.toString()));
            continue;
        }
        const QString field = QStringLiteral("model.merges[%1]").arg(i);
        const QJsonArray pair = v.toArray();
        if (!v.isArray() || pair.size() != 2 || !pair[0].isString() || !pair[1].isString()) {
            r.fail(field, QStringLiteral("\"a b\" or a pair [\"a\", \"b\"] of strings"), v);
        }
        const QString a = pair[0].toString(), b = pair[1].toString();
        if (a.isEmpty() || b.isEmpty() || a.contains(QLatin1Char(' ')) ||
            b.contains(QLatin1Char(' '))) {
            r.fail(field, QStringLiteral("two non-empty tokens without spaces"), v);
        }
        merges.push_back(utf8Of(a + QLatin1Char(' ') + b));
    }
    return merges;
}

// model.vocab and the added tokens as one table of texts by id: (n_vocab), "" where unused.
// The added token's text wins where both name an id. Ids may leave gaps, but not so many that a
// stray large id sizes the table: at most twice the entries, plus slack.
std::vector<std::string> readTokens(const Reader& r, const QJsonObject& model,
                                    const std::vector<AddedToken>& added, int vocabSize) {
    const QJsonObject vocab =
        r.object(model.value(QLatin1String("vocab")), QStringLiteral("model.vocab"));
    if (vocab.isEmpty()) {
        r.fail(QStringLiteral("model.vocab"), QStringLiteral("tokens"), QStringLiteral("none"));
    }
    std::vector<std::pair<int, std::string>> entries;
    entries.reserve(static_cast<std::size_t>(vocab.size()));
    int maxId = -1;
    for (auto it = vocab.begin(); it != vocab.end(); ++it) {
        // The message is formatted only for a bad id: there are over a hundred thousand.
        const QJsonValue value = it.value();
        const double d = value.toDouble(-1);
        const bool good = value.isDouble() && std::floor(d) == d && d >= 0 && d <= kMaxId &&
                          (vocabSize <= 0 || d < vocabSize);
        const int id =
            good ? static_cast<int>(d)
                 : r.id(value, QStringLiteral("model.vocab \"%1\"").arg(it.key()), vocabSize);
        entries.emplace_back(id, utf8Of(it.key()));
        maxId = std::max(maxId, id);
    }
    for (const AddedToken& a : added) maxId = std::max(maxId, a.id);
    const std::size_t count = entries.size() + added.size();
    if (static_cast<std::size_t>(maxId) >= 2 * count + 1024) {
        r.fail(QStringLiteral("model.vocab"),
               QStringLiteral("ids below %1 for %2 entries").arg(2 * count + 1024).arg(count),
               QStringLiteral("the id %1").arg(maxId));
    }
    std::vector<std::string> tokens(static_cast<std::size_t>(maxId) + 1);
    for (auto& [id, text] : entries) {
        std::string& slot = tokens[static_cast<std::size_t>(id)];
        if (!slot.empty()) {
            r.fail(QStringLiteral("model.vocab \"%1\"").arg(QString::fromStdString(text)),
                   QStringLiteral("a unique id"),
                   QStringLiteral("%1, which \"%2\" also has")
                       .arg(id)
                       .arg(QString::fromStdString(slot)));
        }
        slot = std::move(text);
    }
    for (const AddedToken& a : added) tokens[static_cast<std::size_t>(a.id)] = a.content;
    return tokens;
}

// The BOS the post-processor's template puts first, or -1 when it adds none.
int templateBos(const Reader& r, const QJsonObject& root) {
    const QJsonValue post = root.value(QLatin1String("post_processor"));
    if (post.isNull() || post.isUndefined()) return -1;
    const QJsonObject p = r.object(post, QStringLiteral("post_processor"));
    std::vector<QJsonObject> steps{p};
    if (isType(p, "Sequence")) {
        steps.clear();
        const QJsonArray list = r.array(p.value(QLatin1String("processors")),
                                        QStringLiteral("post_processor.processors"));
        for (const QJsonValue& v : list) {
            steps.push_back(r.object(v, QStringLiteral("post_processor.processors[]")));
        }
    }
    for (const QJsonObject& step : steps) {
        if (isType(step, "ByteLevel")) continue;
        if (!isType(step, "TemplateProcessing")) {
            r.fail(QStringLiteral("post_processor"),
                   QStringLiteral("ByteLevel, TemplateProcessing or a Sequence of them"),
                   compact(step));
        }
        const QJsonArray single =
            r.array(step.value(QLatin1String("single")), QStringLiteral("post_processor.single"));
        if (single.isEmpty()) continue;
        const QJsonObject first = r.object(single[0], QStringLiteral("post_processor.single[0]"));
        if (!first.contains(QLatin1String("SpecialToken"))) continue;
        const QString name = r.string(
            first.value(QLatin1String("SpecialToken")).toObject().value(QLatin1String("id")),
            QStringLiteral("post_processor.single[0].SpecialToken.id"));
        const QJsonObject special = step.value(QLatin1String("special_tokens")).toObject();
        const QJsonArray ids = special.value(name).toObject().value(QLatin1String("ids")).toArray();
        if (ids.size() != 1) {
            r.fail(QStringLiteral("post_processor.special_tokens \"%1\".ids").arg(name),
                   QStringLiteral("one id"), QStringLiteral("%1").arg(ids.size()));
        }
        return r.id(ids[0], QStringLiteral("post_processor.special_tokens \"%1\".ids[0]").arg(name),
                    0);
    }
    return -1;
}

int idOfFirst(const std::vector<std::string>& tokens,
              std::initializer_list<std::string_view> names) {
    for (std::string_view name : names) {
        const auto it = std::find(tokens.begin(), tokens.end(), name);
        if (it != tokens.end()) return static_cast<int>(it - tokens.begin());
    }
    return -1;
}

// SentencePieceBpe over an HF vocabulary, with the added tokens matched whole first.
class HfSentencePiece final : public Tokenizer {
public:
    HfSentencePiece(SentencePieceBpe inner, std::vector<AddedToken> added, bool prefixEveryPart,
                    SpecialTokens special)
        : special_(special), inner_(std::move(inner)), prefixEveryPart_(prefixEveryPart) {
        std::sort(added.begin(), added.end(), [](const AddedToken& a, const AddedToken& b) {
            return a.content.size() > b.content.size();
        });
        for (AddedToken& a : added) {
            addedText_.emplace(a.id, a.content);
            byFirstByte_[static_cast<unsigned char>(a.content[0])].push_back(std::move(a));
        }
    }

    std::vector<int> encode(std::string_view utf8) const override {
        std::vector<int> out;
        std::size_t from = 0;
        const auto flush = [&](std::size_t end) {
            if (end == from) return;
            const bool prefix = prefixEveryPart_ || from == 0;
            const std::vector<int> ids = inner_.encode(utf8.substr(from, end - from), prefix);
            out.insert(out.end(), ids.begin(), ids.end());
        };
        for (std::size_t pos = 0; pos < utf8.size();) {
            const AddedToken* hit = nullptr;
            for (const AddedToken& a : byFirstByte_[static_cast<unsigned char>(utf8[pos])]) {
                if (utf8.substr(pos).starts_with(a.content)) {
                    hit = &a;
                    break;
                }
            }
            if (hit == nullptr) {
                ++pos;
                continue;
            }
            flush(pos);
            out.push_back(hit->id);
            pos += hit->content.size();
            from = pos;
        }
        flush(utf8.size());
        return out;
    }

    std::string tokenBytes(int id) const override {
        if (const auto it = addedText_.find(id); it != addedText_.end()) return it->second;
        return inner_.tokenBytes(id);
    }
    int vocabSize() const override { return inner_.vocabSize(); }
    SpecialTokens special() const override { return special_; }

    // As SentencePieceBpe: the dummy prefix of the first token with bytes is dropped.
    std::string decode(std::span<const int> ids) const override {
        std::string out;
        bool atStart = true;
        for (int id : ids) {
            std::string bytes = tokenBytes(id);
            if (atStart && !bytes.empty()) {
                atStart = false;
                if (!addedText_.contains(id) && bytes.front() == ' ') bytes.erase(0, 1);
            }
            out += bytes;
        }
        return out;
    }
    QString tokenDisplay(int id) const override {
        if (addedText_.contains(id)) return displayBytes(addedText_.at(id));
        return inner_.tokenDisplay(id);
    }

private:
    SpecialTokens special_;
    SentencePieceBpe inner_;
    bool prefixEveryPart_;
    std::array<std::vector<AddedToken>, 256> byFirstByte_;  // longest first
    std::unordered_map<int, std::string> addedText_;
};

// Piece scores from merge ranks: a merge's piece scores minus its first rank, so the best-scored
// concatenation is the first-ranked merge. The same as Hugging Face's BPE when every split of a
// piece into two pieces is a merge, which is how its converter writes a sentencepiece model;
// a file that leaves one out is refused rather than tokenized differently.
std::vector<float> scoresFromMerges(const Reader& r, const std::vector<std::string>& texts,
                                    const std::vector<SentencePieceBpe::Type>& types,
                                    const std::vector<std::string>& merges) {
    std::unordered_map<std::string_view, int> byText;
    for (std::size_t id = 0; id < texts.size(); ++id) {
        const auto t = types[id];
        if (!texts[id].empty() &&
            (t == SentencePieceBpe::Type::Normal || t == SentencePieceBpe::Type::UserDefined)) {
            byText.emplace(texts[id], static_cast<int>(id));
        }
    }
    std::vector<float> scores(texts.size(), 0.0f);
    std::vector<bool> scored(texts.size(), false);
    std::unordered_set<std::string_view> mergeSet(merges.begin(), merges.end());
    std::string joined;
    for (std::size_t rank = 0; rank < merges.size(); ++rank) {
        const std::string_view m = merges[rank];
        const std::size_t space = m.find(' ', 1);
        if (space == std::string_view::npos || m.find(' ', space + 1) != std::string_view::npos) {
            r.fail(QStringLiteral("model.merges[%1]").arg(rank),
                   QStringLiteral("two tokens separated by one space"),
                   QStringLiteral("\"%1\"").arg(QString::fromUtf8(m.data(), qsizetype(m.size()))));
        }
        joined.assign(m.substr(0, space));
        joined.append(m.substr(space + 1));
        const auto it = byText.find(joined);
        if (it == byText.end()) {
            r.fail(QStringLiteral("model.merges[%1]").arg(rank),
                   QStringLiteral("a merge whose concatenation is a token"),
                   QStringLiteral("\"%1\"").arg(QString::fromStdString(joined)));
        }
        if (!scored[it->second]) {
            scored[it->second] = true;
            scores[it->second] = -static_cast<float>(rank);
        }
    }
    for (const auto& [text, id] : byText) {
        for (std::size_t cut = 0; cut < text.size();) {
            cut += static_cast<std::size_t>(decodeUtf8(text, cut).length);
            if (cut >= text.size()) break;
            const std::string_view left = text.substr(0, cut), right = text.substr(cut);
            if (!byText.contains(left) || !byText.contains(right)) continue;
            std::string merge(left);
            merge += ' ';
            merge += right;
            if (!mergeSet.contains(merge)) {
                r.fail(QStringLiteral("model.merges"),
                       QStringLiteral("every split of a token into two tokens to be a merge (as "
                                      "converted from sentencepiece)"),
                       QStringLiteral("none for \"%1\" + \"%2\"")
                           .arg(QString::fromUtf8(left.data(), qsizetype(left.size())),
                                QString::fromUtf8(right.data(), qsizetype(right.size()))));
            }
        }
    }
    return scores;
}

TokenizerPtr buildSentencePiece(const Reader& r, const QJsonObject& model,
                                std::vector<std::string> tokens, std::vector<AddedToken> added,
                                const Shape& shape, int bos) {
    using Type = SentencePieceBpe::Type;
    const QJsonValue unk = model.value(QLatin1String("unk_token"));
    const std::string unkText = unk.isString() ? utf8Of(unk.toString()) : std::string();
    std::unordered_map<int, bool> addedSpecial;
    for (const AddedToken& a : added) addedSpecial[a.id] = a.special;

    std::vector<Type> types(tokens.size(), Type::Normal);  // (n_vocab)
    std::vector<std::string> texts(tokens.size());         // (n_vocab) with spaces for U+2581
    for (std::size_t id = 0; id < tokens.size(); ++id) {
        const std::string& t = tokens[id];
        if (const auto it = addedSpecial.find(static_cast<int>(id)); it != addedSpecial.end()) {
            types[id] = it->second ? Type::Control : Type::UserDefined;
        } else if (t.empty()) {
            types[id] = Type::Unused;
        } else if (SentencePieceBpe::byteOfPiece(t) >= 0) {
            types[id] = Type::Byte;
        } else if (t == unkText) {
            types[id] = Type::Unknown;
        }
        const bool added = types[id] == Type::Control || types[id] == Type::UserDefined;
        texts[id] = added ? t : SentencePieceBpe::spacesForMarkers(t);
    }
    // Merges are written with U+2581; the pieces compared with them too.
    std::vector<std::string> merges = readMerges(r, model);
    const std::vector<float> scores = scoresFromMerges(r, tokens, types, merges);

    std::vector<SentencePieceBpe::Piece> pieces(tokens.size());
    for (std::size_t id = 0; id < tokens.size(); ++id) {
        pieces[id] = {std::move(texts[id]), scores[id], types[id]};
        // The added tokens are matched by the adapter; inside, they must not be matched again.
        if (types[id] == Type::UserDefined) pieces[id].type = Type::Control;
    }
    const int eos = idOfFirst(tokens, {"</s>", "<|end_of_text|>"});
    auto made = SentencePieceBpe::fromPieces(std::move(pieces), bos, eos, r.file(), bos >= 0);
    if (!made) throw LoadError(made.errorMessage());
    return std::make_shared<HfSentencePiece>(made.take(), std::move(added), shape.prefixEveryPart,
                                             SpecialTokens{bos, eos, -1, bos >= 0});
}

TokenizerPtr buildByteLevel(const Reader& r, const QJsonObject& model,
                            std::vector<std::string> tokens, const std::vector<AddedToken>& added,
                            const Shape& shape, int bos) {
    ByteLevelBpe::Vocabulary v;
    v.types.assign(tokens.size(), ByteLevelBpe::Normal);
    for (const AddedToken& a : added) {
        v.types[static_cast<std::size_t>(a.id)] =
            a.special ? ByteLevelBpe::Control : ByteLevelBpe::UserDefined;
    }
    v.special.bos = bos;
    v.special.addBos = bos >= 0;
    v.special.eos = idOfFirst(tokens, {"</s>", "<|end_of_text|>"});
    v.special.eot = idOfFirst(tokens, {"<|endoftext|>", "<|eot_id|>", "<|im_end|>"});
    v.tokens = std::move(tokens);
    v.merges = readMerges(r, model);
    v.pre = shape.pre;
    v.ignoreMerges = r.boolean(model.value(QLatin1String("ignore_merges")),
                               QStringLiteral("model.ignore_merges"), false);
    v.nfc = shape.nfc;
    v.tokensField = QStringLiteral("model.vocab");
    v.typesField = QStringLiteral("added_tokens");
    v.mergesField = QStringLiteral("model.merges");
    auto made = ByteLevelBpe::fromVocabulary(v, r.file());
    if (!made) throw LoadError(made.errorMessage());
    return std::make_shared<ByteLevelBpe>(made.take());
}

// Qt 6.4's JSON parser drops a U+FEFF that opens a string, key or value, and vocabularies hold
// such tokens (Llama 2's piece 30143 is U+FEFF alone). As the escape \ufeff it is kept. After
// a raw quote the three bytes can only open a string (or follow an escaped quote inside one,
// where the escape means the same character), so the replacement changes nothing else.
QByteArray escapeOpeningBoms(const QByteArray& json) {
    static const QByteArray raw("\"\xEF\xBB\xBF");
    if (!json.contains(raw)) return json;
    QByteArray escaped = json;
    escaped.replace(raw, QByteArray("\"\\ufeff"));
    return escaped;
}

TokenizerPtr parse(const QByteArray& json, const QString& file, int vocabSize) {
    const Reader r(file);
    if (json.size() > kMaxTokenizerJsonBytes) {
        r.fail(QStringLiteral("size"),
               QStringLiteral("at most %1 bytes").arg(kMaxTokenizerJsonBytes),
               QStringLiteral("%1 bytes").arg(json.size()));
    }
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(escapeOpeningBoms(json), &error);
    if (error.error != QJsonParseError::NoError) {
        throw LoadError(QStringLiteral("%1: invalid JSON at byte offset %2: %3")
                            .arg(file)
                            .arg(error.offset)
                            .arg(error.errorString()));
    }
    if (!doc.isObject()) {
        r.fail(QStringLiteral("the top level"), QStringLiteral("an object"),
               doc.isArray() ? QStringLiteral("an array") : QStringLiteral("a scalar"));
    }
    const QJsonObject root = doc.object();
    const QJsonObject model = r.object(root.value(QLatin1String("model")), QStringLiteral("model"));
    const QJsonValue type = model.value(QLatin1String("type"));
    // Older files leave the type out of a BPE model.
    if (!(type.isUndefined() && model.contains(QLatin1String("merges"))) &&
        type != QJsonValue(QStringLiteral("BPE"))) {
        r.fail(QStringLiteral("model.type"),
               QStringLiteral("\"BPE\" (WordPiece, Unigram and WordLevel models are not "
                              "supported)"),
               type);
    }
    r.absentOr(model, "dropout", QStringLiteral("model.dropout"), QJsonValue(),
               QStringLiteral("null (BPE dropout samples tokenizations)"));
    r.absentOr(model, "continuing_subword_prefix",
               QStringLiteral("model.continuing_subword_prefix"), QJsonValue(QString()),
               QStringLiteral("null or \"\""));
    r.absentOr(model, "end_of_word_suffix", QStringLiteral("model.end_of_word_suffix"),
               QJsonValue(QString()), QStringLiteral("null or \"\""));
    const bool byteFallback = r.boolean(model.value(QLatin1String("byte_fallback")),
                                        QStringLiteral("model.byte_fallback"), false);
    const Shape shape = readShape(r, root, byteFallback);
    std::vector<AddedToken> added = readAddedTokens(r, root, vocabSize);
    std::vector<std::string> tokens = readTokens(r, model, added, vocabSize);
    const int bos = templateBos(r, root);
    if (bos >= static_cast<int>(tokens.size())) {
        r.fail(QStringLiteral("post_processor"),
               QStringLiteral("a BOS id below %1").arg(tokens.size()),
               QStringLiteral("%1").arg(bos));
    }
    if (shape.byteLevel) return buildByteLevel(r, model, std::move(tokens), added, shape, bos);
    return buildSentencePiece(r, model, std::move(tokens), std::move(added), shape, bos);
}

}  // namespace

Result<TokenizerPtr> parseHfTokenizerJson(const QByteArray& json, const QString& fileName,
                                          int vocabSize) {
    try {
        return parse(json, fileName, vocabSize);
    } catch (const LoadError& e) {
        return Error{e.message()};
    }
}

Result<TokenizerPtr> loadHfTokenizerJson(const QString& path, int vocabSize) {
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        return Error{
            QStringLiteral("%1: cannot read the tokenizer: %2").arg(path, file.errorString())};
    }
    if (file.size() > kMaxTokenizerJsonBytes) {
        return Error{QStringLiteral("%1: size: expected at most %2 bytes, found %3 bytes")
                         .arg(path)
                         .arg(kMaxTokenizerJsonBytes)
                         .arg(file.size())};
    }
    return parseHfTokenizerJson(file.read(kMaxTokenizerJsonBytes + 1), path, vocabSize);
}

}  // namespace kvscope
