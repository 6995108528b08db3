#include "tokenizer/byte_level_bpe.h"

#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

#include <optional>
#include <random>

using kvscope::ByteLevelBpe;
using kvscope::Tokenizer;

namespace {

const QString kFixtures = QStringLiteral(KVSCOPE_FIXTURES "/tokenizer");

std::string toStd(const QByteArray& b) {
    return std::string(b.constData(), b.size());
}

QString idList(const std::vector<int>& ids) {
    QStringList parts;
    for (int id : ids) parts << QString::number(id);
    return QLatin1Char('[') + parts.join(QLatin1Char(',')) + QLatin1Char(']');
}

// Written independently of the implementation so a wrong table there cannot agree with itself.
QString byteSymbol(int b) {
    static const std::vector<char32_t> table = [] {
        std::vector<char32_t> t(256);
        char32_t shifted = 0x100;
        for (int i = 0; i < 256; ++i) {
            const bool kept = (i > 0x20 && i < 0x7F) || (i > 0xA0 && i != 0xAD);
            t[i] = kept ? char32_t(i) : shifted++;
        }
        return t;
    }();
    return QString::fromUcs4(&table[b], 1);
}

// Hand-made vocabulary: byte b has id b + 10 (ids 0-9 and 266-299 are unused, to exercise
// gaps), merges produce ids 300 upwards in rank order.
const char* const kTinyMerges[] = {"l l",         "e l",           "h e", "he ll", "\xC4\xA0 h",
                                   "\xC4\xA0h e", "\xC4\xA0he ll", "o o", "a a"};
const char* const kTinyMerged[] = {"ll",         "el",           "he", "hell", "\xC4\xA0h",
                                   "\xC4\xA0he", "\xC4\xA0hell", "oo", "aa"};

QJsonObject tinyVocab() {
    QJsonObject vocab;
    for (int b = 0; b < 256; ++b) vocab.insert(byteSymbol(b), b + 10);
    for (int i = 0; i < 9; ++i) vocab.insert(QString::fromUtf8(kTinyMerged[i]), 300 + i);
    return vocab;
}

QByteArray tinyMerges() {
    QByteArray text = "#version: 0.2\n";
    for (const char* m : kTinyMerges) text += QByteArray(m) + '\n';
    return text;
}

QByteArray json(const QJsonObject& o) {
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

}  // namespace

class TestTokenizer : public QObject {
    Q_OBJECT

private:
    std::optional<ByteLevelBpe> gpt2_;

    const Tokenizer& gpt2() const { return *gpt2_; }

    // Loads deliberately broken data and checks that the message names the file and the field.
    static void expectError(const QByteArray& vocab, const QByteArray& merges,
                            const QStringList& mustMention) {
        const auto result = ByteLevelBpe::fromData(vocab, merges, QStringLiteral("bad-vocab.json"),
                                                   QStringLiteral("bad-merges.txt"));
        QVERIFY2(!result.ok(), "loading should have failed");
        const QString message = result.errorMessage();
        for (const QString& needle : mustMention) {
            QVERIFY2(
                message.contains(needle),
                qPrintable(
                    QStringLiteral("message \"%1\" does not mention \"%2\"").arg(message, needle)));
        }
    }

private Q_SLOTS:
    void initTestCase() {
        auto loaded = ByteLevelBpe::fromFiles(kFixtures + QStringLiteral("/gpt2/vocab.json"),
                                              kFixtures + QStringLiteral("/gpt2/merges.txt"));
        QVERIFY2(loaded.ok(), qPrintable(loaded.errorMessage()));
        gpt2_.emplace(loaded.take());
    }

    void gpt2Shape() {
        QCOMPARE(gpt2().vocabSize(), 50257);
        QCOMPARE(gpt2().special().eot, 50256);
        QCOMPARE(gpt2().tokenBytes(50256), std::string("<|endoftext|>"));
        QCOMPARE(gpt2().tokenBytes(464), std::string("The"));
        QCOMPARE(gpt2().tokenBytes(262), std::string(" the"));
    }

    void matchesPeer_data() {
        QTest::addColumn<QByteArray>("text");
        QTest::addColumn<QList<int>>("peerIds");
        QFile file(kFixtures + QStringLiteral("/gpt2_peer_ids.json"));
        QVERIFY2(file.open(QIODevice::ReadOnly), qPrintable(file.errorString()));
        const QJsonArray entries = QJsonDocument::fromJson(file.readAll()).array();
        QVERIFY(entries.size() >= 220);
        for (qsizetype i = 0; i < entries.size(); ++i) {
            const QJsonObject entry = entries[i].toObject();
            QList<int> ids;
            for (const QJsonValue& v : entry.value(QStringLiteral("ids")).toArray()) {
                ids << v.toInt(-1);
            }
            QTest::addRow("%03d", int(i))
                << entry.value(QStringLiteral("text")).toString().toUtf8() << ids;
        }
    }

    void matchesPeer() {
        QFETCH(QByteArray, text);
        QFETCH(QList<int>, peerIds);
        const std::string s = toStd(text);
        const std::vector<int> ours = gpt2().encode(s);
        const std::vector<int> theirs(peerIds.begin(), peerIds.end());
        if (ours != theirs) {
            std::size_t at = 0;
            while (at < ours.size() && at < theirs.size() && ours[at] == theirs[at]) ++at;
            QFAIL(qPrintable(
                QStringLiteral("text %1: first mismatch at position %2\n  ours: %3\n"
                               "  peer: %4")
                    .arg(QString::fromUtf8(QJsonDocument(QJsonArray{QString::fromUtf8(text)})
                                               .toJson(QJsonDocument::Compact)))
                    .arg(at)
                    .arg(idList(ours), idList(theirs))));
        }
        QCOMPARE(gpt2().decode(ours), s);
    }

    void endOfText() {
        const std::vector<int> ids = gpt2().encode("a<|endoftext|>b");
        QCOMPARE(ids, (std::vector<int>{64, 50256, 65}));
        QCOMPARE(gpt2().decode(ids), std::string("a<|endoftext|>b"));
        QCOMPARE(gpt2().encode("<|endoftext|><|endoftext|>"), (std::vector<int>{50256, 50256}));
        // The split happens before pre-tokenization, so the following space joins " Hi".
        QCOMPARE(gpt2().encode("<|endoftext|> Hi"), (std::vector<int>{50256, 15902}));
        // Anything short of the exact literal is ordinary text.
        const std::vector<int> near = gpt2().encode("<|endoftext|");
        QVERIFY(std::find(near.begin(), near.end(), 50256) == near.end());
        QCOMPARE(gpt2().decode(near), std::string("<|endoftext|"));
        const int special[] = {50256};
        QCOMPARE(gpt2().decode(special), std::string("<|endoftext|>"));
        QCOMPARE(gpt2().tokenDisplay(50256), QStringLiteral("<|endoftext|>"));
    }

    void decodeSkipsUnknownIds() {
        const int ids[] = {-1, 464, 50257, 1 << 30, 262};
        QCOMPARE(gpt2().decode(ids), std::string("The the"));
        QCOMPARE(gpt2().tokenBytes(-5), std::string());
        QCOMPARE(gpt2().tokenBytes(50257), std::string());
        QCOMPARE(gpt2().tokenDisplay(50257), QString());
    }

    void randomBytesRoundTrip() {
        std::mt19937 rng(20240601u);
        // Mix raw random bytes with UTF-8 lead/continuation bytes and ASCII so that valid,
        // truncated and over-long sequences all occur next to spaces and letters.
        const std::string alphabet =
            "ab '\n\t 1.\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\x80\xBF\xC0\xC1\xED\xA0\xF4\x90\xFF";
        for (int n = 0; n < 3000; ++n) {
            std::string s;
            const int length = int(rng() % 48);
            for (int k = 0; k < length; ++k) {
                s.push_back(rng() % 2 ? char(rng() % 256) : alphabet[rng() % alphabet.size()]);
            }
            const std::vector<int> ids = gpt2().encode(s);
            for (int id : ids) QVERIFY(id >= 0 && id < gpt2().vocabSize());
            QCOMPARE(gpt2().decode(ids), s);
        }
    }

    void invalidUtf8() {
        // A lone continuation byte is a piece of its own kind, not glued to the letters around it.
        QCOMPARE(ByteLevelBpe::preTokenize("ab\x80"
                                           "cd"),
                 (std::vector<std::string_view>{"ab", "\x80", "cd"}));
        // Truncated euro sign: each byte is "other", so they form one punctuation-like run.
        QCOMPARE(ByteLevelBpe::preTokenize(" \xE2\x82x"),
                 (std::vector<std::string_view>{" \xE2\x82", "x"}));
        // Over-long encodings and UTF-16 surrogates are not characters either.
        QCOMPARE(ByteLevelBpe::preTokenize("\xC0\xAF\xED\xA0\x80"),
                 (std::vector<std::string_view>{"\xC0\xAF\xED\xA0\x80"}));
        const std::string bad = "caf\xE9 \xFF\xFE";
        QCOMPARE(gpt2().decode(gpt2().encode(bad)), bad);
    }

    // Valid text full of control characters round-trips through byte-level BPE, and no token of
    // it shows a raw control character: every C0 control (NUL included), DEL and the C1 controls
    // U+0080-U+009F, between letters and in runs. (A NUL cannot come from the command line, but
    // can from a file or the clipboard.)
    void controlCharactersRoundTrip() {
        std::string s = "a";
        for (int c = 0; c < 0x20; ++c) s += char(c);
        s += "b\x7f\x7f c";
        for (int c = 0x80; c < 0xA0; ++c) s += {char(0xC2), char(c)};
        s += "\r\n\r\n\t\t\x1b[31mred\x1b[0m";
        s += std::string(2, '\0');
        const std::vector<int> ids = gpt2().encode(s);
        for (int id : ids) QVERIFY(id >= 0 && id < gpt2().vocabSize());
        QCOMPARE(gpt2().decode(ids), s);
        for (int id : ids) {
            const QString shown = gpt2().tokenDisplay(id);
            for (QChar c : shown) QVERIFY2(c.category() != QChar::Other_Control, qPrintable(shown));
        }
        // Each control byte is a single-byte token unless GPT-2 learned a merge for the run.
        QCOMPARE(gpt2().encode("\x01"), std::vector<int>{189});
        QCOMPARE(gpt2().encode("\r\n"), (std::vector<int>{201, 198}));
    }

    void preTokenizeRules() {
        using V = std::vector<std::string_view>;
        QCOMPARE(ByteLevelBpe::preTokenize("Hello  world"), (V{"Hello", " ", " world"}));
        QCOMPARE(ByteLevelBpe::preTokenize("a \n b"), (V{"a", " \n", " b"}));
        QCOMPARE(ByteLevelBpe::preTokenize("x   "), (V{"x", "   "}));
        QCOMPARE(ByteLevelBpe::preTokenize("a\tb"), (V{"a", "\t", "b"}));
        QCOMPARE(ByteLevelBpe::preTokenize("it's IT'S we'll"),
                 (V{"it", "'s", " IT", "'", "S", " we", "'ll"}));
        QCOMPARE(ByteLevelBpe::preTokenize("abc123!? x"), (V{"abc", "123", "!?", " x"}));
        QCOMPARE(ByteLevelBpe::preTokenize(""), V{});
        // GPT-2's \s is Unicode White_Space: U+0085 is whitespace, U+FEFF is not. JavaScript
        // disagrees on both, which is why the peer fixture avoids them.
        QCOMPARE(ByteLevelBpe::preTokenize("a\xC2\x85!"), (V{"a", "\xC2\x85", "!"}));
        QCOMPARE(ByteLevelBpe::preTokenize("!\xEF\xBB\xBF"), (V{"!\xEF\xBB\xBF"}));
    }

    void tokenDisplay() {
        // GPT-2 splits the 4-byte emoji into a 3-byte token and a continuation byte.
        const std::vector<int> ids = gpt2().encode("\xF0\x9F\x98\x80");
        QCOMPARE(ids, (std::vector<int>{47249, 222}));
        QCOMPARE(gpt2().tokenDisplay(47249), QStringLiteral("\\xF0\\x9F\\x98"));
        QCOMPARE(gpt2().tokenDisplay(222), QStringLiteral("\\x80"));
        QCOMPARE(gpt2().tokenDisplay(262), QStringLiteral(" the"));
        QCOMPARE(gpt2().tokenDisplay(2634), QString::fromUtf8("\xC3\xA9"));
        QCOMPARE(gpt2().tokenDisplay(198), QStringLiteral("\\n"));
        QCOMPARE(gpt2().tokenDisplay(59), QStringLiteral("\\\\"));
        const std::vector<int> nul = gpt2().encode(std::string_view("\0", 1));
        QCOMPARE(nul.size(), std::size_t(1));
        QCOMPARE(gpt2().tokenDisplay(nul[0]), QStringLiteral("\\x00"));
    }

    void tinyVocabularyMergesByRank() {
        auto loaded =
            ByteLevelBpe::fromData(json(tinyVocab()), tinyMerges(), QStringLiteral("tiny.json"),
                                   QStringLiteral("tiny.txt"));
        QVERIFY2(loaded.ok(), qPrintable(loaded.errorMessage()));
        const Tokenizer& tok = loaded.value();
        QCOMPARE(tok.vocabSize(), 309);
        QCOMPARE(tok.special().eot, -1);
        // h e l l o: "l l" (rank 0) first, then "h e" (2), then "he ll" (3) -> hell o.
        QCOMPARE(tok.encode("hello"), (std::vector<int>{303, 121}));
        // h e l o: "e l" (rank 1) beats "h e" (rank 2) and leaves h stranded.
        QCOMPARE(tok.encode("helo"), (std::vector<int>{114, 301, 121}));
        // Ġ h e l l o: "h e" is taken before "Ġ h" (rank 4), so Ġhell (a longer vocabulary
        // entry) never forms: BPE is not longest-match.
        QCOMPARE(tok.encode(" hello"), (std::vector<int>{42, 303, 121}));
        QCOMPARE(tok.encode(" ho"), (std::vector<int>{304, 121}));
        // Equal pairs merge left to right without overlap.
        QCOMPARE(tok.encode("aaaaa"), (std::vector<int>{308, 308, 107}));
        QCOMPARE(tok.encode("oooo"), (std::vector<int>{307, 307}));
        QCOMPARE(tok.encode("hello hello"), (std::vector<int>{303, 121, 42, 303, 121}));
        // Without the special token in the vocabulary the literal is ordinary text.
        const std::vector<int> literal = tok.encode("<|endoftext|>");
        QCOMPARE(literal.size(), std::size_t(13));  // no merge applies to any of its bytes
        QCOMPARE(tok.decode(literal), std::string("<|endoftext|>"));
        const int withGaps[] = {0, 9, 303, 266, 299, 121, 309};
        QCOMPARE(tok.decode(withGaps), std::string("hello"));
    }

    void mergeRankedBelowItsParts() {
        // encoder.py merges every occurrence of the best pair before looking at the pairs that
        // creates, so "ab a" (rank 0) must not fire between the two "a b" merges (rank 1).
        QJsonObject vocab;
        for (int b = 0; b < 256; ++b) vocab.insert(byteSymbol(b), b);
        vocab.insert(QStringLiteral("ab"), 256);
        vocab.insert(QStringLiteral("aba"), 257);
        auto loaded = ByteLevelBpe::fromData(json(vocab), "ab a\na b\n", QStringLiteral("v.json"),
                                             QStringLiteral("m.txt"));
        QVERIFY2(loaded.ok(), qPrintable(loaded.errorMessage()));
        QCOMPARE(loaded.value().encode("abab"), (std::vector<int>{256, 256}));
        // Once "ab" exists, the rank-0 merge applies: a b a -> ab a -> aba.
        QCOMPARE(loaded.value().encode("aba"), (std::vector<int>{257}));
    }

    // The model's vocab_size bounds the ids while they are read: the last id allowed loads, the
    // first beyond is refused by name, id and limit.
    void idsBoundedByTheModelsVocabSize() {
        QJsonObject vocab;
        for (int b = 0; b < 256; ++b) vocab.insert(byteSymbol(b), b);
        vocab.insert(QStringLiteral("ab"), 299);
        const auto fits = ByteLevelBpe::fromData(json(vocab), "a b\n", QStringLiteral("v.json"),
                                                 QStringLiteral("m.txt"), 300);
        QVERIFY2(fits.ok(), qPrintable(fits.errorMessage()));
        QCOMPARE(fits.value().vocabSize(), 300);
        const auto over = ByteLevelBpe::fromData(json(vocab), "a b\n", QStringLiteral("v.json"),
                                                 QStringLiteral("m.txt"), 299);
        QVERIFY(!over.ok());
        for (const char* part : {"v.json", "\"ab\"", "299", "vocab_size=299"})
            QVERIFY2(over.errorMessage().contains(QLatin1String(part)),
                     qPrintable(over.errorMessage()));
    }

    void longPieceIsNotQuadratic() {
        // A pasted blob without spaces is a single piece; encoder.py's rescanning loop would take
        // many minutes on this, the heap-based merge well under a second.
        std::mt19937 rng(7u);
        std::string blob;
        for (int i = 0; i < 1'000'000; ++i) blob.push_back(char('a' + rng() % 26));
        QElapsedTimer timer;
        timer.start();
        const std::vector<int> ids = gpt2().encode(blob);
        QVERIFY2(timer.elapsed() < 30'000, qPrintable(QString::number(timer.elapsed())));
        QCOMPARE(gpt2().decode(ids), blob);
    }

    void errorInvalidJson() {
        expectError("{\"a\": 1,", tinyMerges(), {"bad-vocab.json", "invalid JSON", "offset"});
        expectError("[1, 2]", tinyMerges(), {"bad-vocab.json", "JSON object", "array"});
    }

    void errorIdNotInteger() {
        QJsonObject v = tinyVocab();
        v.insert(QStringLiteral("zz"), QStringLiteral("12"));
        expectError(json(v), tinyMerges(), {"bad-vocab.json", "\"zz\"", "integer", "\"12\""});
        v.insert(QStringLiteral("zz"), 1.5);
        expectError(json(v), tinyMerges(), {"bad-vocab.json", "\"zz\"", "integer", "1.5"});
    }

    void errorIdNegative() {
        QJsonObject v = tinyVocab();
        v.insert(QStringLiteral("zz"), -3);
        expectError(json(v), tinyMerges(), {"bad-vocab.json", "\"zz\"", "non-negative", "-3"});
    }

    void errorIdDuplicate() {
        QJsonObject v = tinyVocab();
        v.insert(QStringLiteral("zz"), 300);
        expectError(json(v), tinyMerges(), {"bad-vocab.json", "\"zz\"", "unique", "300", "\"ll\""});
    }

    void errorIdTooLarge() {
        QJsonObject v = tinyVocab();
        v.insert(QStringLiteral("zz"), 1e12);
        expectError(json(v), tinyMerges(), {"bad-vocab.json", "\"zz\"", "at most"});
    }

    void errorTokenOutsideAlphabet() {
        QJsonObject v = tinyVocab();
        v.insert(QStringLiteral("a b"), 400);  // a raw space is written as U+0120 in GPT-2's files
        expectError(json(v), tinyMerges(), {"bad-vocab.json", "\"a b\"", "alphabet", "U+0020"});
    }

    void errorMergeLineNotTwoSymbols() {
        expectError(json(tinyVocab()), "#version: 0.2\nl l\nh e l\n",
                    {"bad-merges.txt", "line 3", "two symbols", "found 3"});
        expectError(json(tinyVocab()), "l l\nhe\n",
                    {"bad-merges.txt", "line 2", "two symbols", "found 1"});
    }

    void errorMergeSymbolNotInVocabulary() {
        expectError(json(tinyVocab()), "#version: 0.2\nl l\nxy z\n",
                    {"bad-merges.txt", "line 3", "\"xy\"", "bad-vocab.json"});
    }

    void errorMergeResultNotInVocabulary() {
        expectError(json(tinyVocab()), "#version: 0.2\nl l\nh o\n",
                    {"bad-merges.txt", "line 3", "merged symbol", "\"ho\"", "bad-vocab.json"});
    }

    void errorVocabularyEmpty() {
        expectError("{}", tinyMerges(), {"bad-vocab.json", "non-empty", "empty"});
    }

    void errorByteMissing() {
        QJsonObject v = tinyVocab();
        v.remove(byteSymbol('\n'));  // written U+010A in the alphabet
        expectError(json(v), QByteArray(), {"bad-vocab.json", "256 bytes", "0x0a"});
    }

    void errorFileMissing() {
        const auto result =
            ByteLevelBpe::fromFiles(kFixtures + QStringLiteral("/no-such-vocab.json"),
                                    kFixtures + QStringLiteral("/gpt2/merges.txt"));
        QVERIFY(!result.ok());
        QVERIFY(result.errorMessage().contains(QStringLiteral("no-such-vocab.json")));
    }
};

QTEST_GUILESS_MAIN(TestTokenizer)
#include "test_tokenizer.moc"
