#include "tokenizer/sentencepiece_bpe.h"
#include "tokenizer/tokenizer_bin.h"

#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

#include <cstring>
#include <map>
#include <optional>
#include <random>

using kvscope::displayBytes;
using kvscope::SentencePieceBpe;
using Piece = SentencePieceBpe::Piece;
using Type = SentencePieceBpe::Type;

namespace {

const QString kFixtures = QStringLiteral(KVSCOPE_FIXTURES "/tokenizer");
const QString kStoryBin = kFixtures + QStringLiteral("/sp/tokenizer.bin");
const QString kLlamaBin = kFixtures + QStringLiteral("/llama2/tokenizer.bin");
constexpr int kStoryVocab = 1024;
constexpr int kLlamaVocab = 32000;

QString idList(const std::vector<int>& ids) {
    QStringList parts;
    for (int id : ids) parts << QString::number(id);
    return QLatin1Char('[') + parts.join(QLatin1Char(',')) + QLatin1Char(']');
}

QByteArray readAll(const QString& path) {
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) qFatal("cannot read %s", qPrintable(path));
    return file.readAll();
}

const SentencePieceBpe& load(const QString& path, int vocab) {
    static std::map<QString, SentencePieceBpe> cache;
    if (auto it = cache.find(path); it != cache.end()) return it->second;
    auto loaded = kvscope::loadTokenizerBin(path, vocab);
    if (!loaded) qFatal("%s", qPrintable(loaded.errorMessage()));
    return cache.emplace(path, loaded.take()).first->second;
}
const SentencePieceBpe& story() {
    return load(kStoryBin, kStoryVocab);
}
const SentencePieceBpe& llama() {
    return load(kLlamaBin, kLlamaVocab);
}

// The id of the piece whose text is `text` (a linear scan, independent of the tokenizer's table).
int pieceId(const SentencePieceBpe& tok, std::string_view text) {
    for (int id = 0; id < tok.vocabSize(); ++id) {
        if (tok.piece(id).text == text) return id;
    }
    return -1;
}

std::string bytePieceText(int b) {
    return "<0x" +
           QString::number(b, 16).toUpper().rightJustified(2, QLatin1Char('0')).toStdString() + ">";
}

// The 256 byte pieces, then `extra`: a vocabulary built by hand.
std::vector<Piece> withBytes(std::vector<Piece> extra) {
    std::vector<Piece> pieces;
    for (int b = 0; b < 256; ++b) {
        pieces.push_back({bytePieceText(b), 0.0f, Type::Byte});
    }
    pieces.insert(pieces.end(), extra.begin(), extra.end());
    return pieces;
}

SentencePieceBpe build(std::vector<Piece> extra) {
    auto made = SentencePieceBpe::fromPieces(withBytes(std::move(extra)), -1, -1,
                                             QStringLiteral("hand-made"));
    if (!made) qFatal("%s", qPrintable(made.errorMessage()));
    return made.take();
}

// The pieces of ids, as text, to make failures readable and expectations hand-checkable.
QStringList texts(const SentencePieceBpe& tok, const std::vector<int>& ids) {
    QStringList out;
    for (int id : ids) out << QString::fromStdString(tok.piece(id).text);
    return out;
}

void putInt32(QByteArray& data, qsizetype at, std::int32_t v) {
    for (int k = 0; k < 4; ++k) data[at + k] = static_cast<char>((v >> (8 * k)) & 0xFF);
}

// Byte offset of token `index`'s record (score field) in a tokenizer.bin.
qsizetype recordOffset(const QByteArray& data, int index) {
    qsizetype pos = 4;
    for (int i = 0; i < index; ++i) {
        std::int32_t length;
        std::memcpy(&length, data.constData() + pos + 4, 4);
        pos += 8 + length;
    }
    return pos;
}

void expectRefused(const QByteArray& data, int vocab, const QStringList& needles) {
    const QString name = QStringLiteral("damaged.bin");
    const auto parsed = kvscope::parseTokenizerBin(data, vocab, name);
    QVERIFY2(!parsed.ok(), "a damaged file was accepted");
    const QString message = parsed.errorMessage();
    QVERIFY2(message.startsWith(name), qPrintable(message));
    for (const QString& needle : needles) {
        QVERIFY2(message.contains(needle),
                 qPrintable(needle + QStringLiteral(" not in: ") + message));
    }
}

}  // namespace

class TestSentencePiece : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void matchesPeers_data() {
        QTest::addColumn<QString>("fixture");
        QTest::addColumn<QString>("bin");
        QTest::addColumn<int>("vocab");
        QTest::newRow("sentencepiece, story model")
            << "sp_peer_ids.json" << kStoryBin << kStoryVocab;
        QTest::newRow("sentencepiece, Llama 2") << "llama2_sp_ids.json" << kLlamaBin << kLlamaVocab;
        QTest::newRow("llama-tokenizer-js, Llama 2")
            << "llama2_js_ids.json" << kLlamaBin << kLlamaVocab;
    }

    void matchesPeers() {
        QFETCH(QString, fixture);
        QFETCH(QString, bin);
        QFETCH(int, vocab);
        const SentencePieceBpe& tok = load(bin, vocab);
        const QJsonObject doc =
            QJsonDocument::fromJson(readAll(kFixtures + '/' + fixture)).object();
        QCOMPARE(doc.value(QLatin1String("vocab_size")).toInt(), vocab);
        const QJsonArray entries = doc.value(QLatin1String("entries")).toArray();
        QVERIFY(entries.size() >= 300);
        int mismatches = 0;
        for (const QJsonValue& entry : entries) {
            const QByteArray text = entry[QLatin1String("text")].toString().toUtf8();
            std::vector<int> expected;
            for (const QJsonValue& id : entry[QLatin1String("ids")].toArray()) {
                expected.push_back(id.toInt());
            }
            const std::string s(text.constData(), static_cast<std::size_t>(text.size()));
            const std::vector<int> ids = tok.encode(s);
            if (ids != expected && ++mismatches <= 5) {
                qWarning("%s: ours %s, peer %s", qPrintable(displayBytes(s)),
                         qPrintable(idList(ids)), qPrintable(idList(expected)));
            }
            QCOMPARE(tok.decode(ids), s);
        }
        qInfo("%s: %lld strings, %d differ", qPrintable(fixture),
              static_cast<long long>(entries.size()), mismatches);
        QCOMPARE(mismatches, 0);
    }

    void randomBytesRoundTrip() {
        // Whole characters, stray continuation bytes, cut-off sequences, spaces and piece-like
        // text, so that merges, byte fallback and invalid UTF-8 all meet.
        const std::vector<std::string> parts = {
            " ",    "  ",       "a",    "the", "\xC3\xA9", "\xE4\xB8\xAD", "\xF0\x9F\x98\x80",
            "\x80", "\xE4\xB8", "\xFF", "\n",  "<0x41>",   "<s>",          "\xE2\x96\x81",
            "\0"};
        std::mt19937 rng(11u);
        for (const SentencePieceBpe* tok : {&story(), &llama()}) {
            for (int n = 0; n < 3000; ++n) {
                std::string s;
                const int count = static_cast<int>(rng() % 24);
                for (int k = 0; k < count; ++k) {
                    if (rng() % 3 == 0) {
                        s.push_back(static_cast<char>(rng() & 0xFF));
                    } else {
                        s += parts[rng() % parts.size()];
                    }
                }
                const std::vector<int> ids = tok->encode(s);
                for (int id : ids) {
                    QVERIFY(id >= 0 && id < tok->vocabSize());
                    QVERIFY(tok->piece(id).type != Type::Control);
                }
                if (tok->decode(ids) != s) {
                    QFAIL(qPrintable(QStringLiteral("no round trip: ") + displayBytes(s)));
                }
            }
        }
    }

    void byteFallback() {
        const SentencePieceBpe& tok = llama();
        const auto bytePiece = [&](int b) { return pieceId(tok, bytePieceText(b)); };
        const int space = pieceId(tok, " ");
        // An emoji the vocabulary lacks is spelt with its four bytes.
        QCOMPARE(tok.encode("\xF0\x9F\x98\x80"),
                 (std::vector<int>{space, bytePiece(0xF0), bytePiece(0x9F), bytePiece(0x98),
                                   bytePiece(0x80)}));
        // Not UTF-8: sentencepiece would read U+FFFD; here the byte itself, so it round-trips.
        const std::vector<int> stray = tok.encode("a\xFF");
        QCOMPARE(stray, (std::vector<int>{pieceId(tok, " a"), bytePiece(0xFF)}));
        QCOMPARE(tok.decode(stray), std::string("a\xFF"));
        const std::vector<int> cut = tok.encode("\xE4\xB8");
        QCOMPARE(cut, (std::vector<int>{space, bytePiece(0xE4), bytePiece(0xB8)}));
        // U+2581 is sentencepiece's own spelling of a space; kvscope's pieces hold real spaces,
        // so a U+2581 in the text is an ordinary character, here one the vocabulary lacks.
        const std::vector<int> lower = tok.encode("\xE2\x96\x81");
        QCOMPARE(lower,
                 (std::vector<int>{space, bytePiece(0xE2), bytePiece(0x96), bytePiece(0x81)}));
        QCOMPARE(tok.decode(lower), std::string("\xE2\x96\x81"));
        QCOMPARE(tok.tokenBytes(bytePiece(0x0A)), std::string("\n"));
        QCOMPARE(tok.tokenDisplay(bytePiece(0x0A)), QStringLiteral("\\n"));
    }

    void specialTokens() {
        const SentencePieceBpe& tok = llama();
        const kvscope::SpecialTokens s = tok.special();
        QCOMPARE(s.bos, 1);
        QCOMPARE(s.eos, 2);
        QCOMPARE(s.eot, -1);
        QVERIFY(s.addBos);
        QCOMPARE(tok.endId(), 2);
        QCOMPARE(tok.piece(0).type, Type::Unknown);
        QCOMPARE(tok.tokenDisplay(0), QStringLiteral("<unk>"));
        QCOMPARE(tok.tokenDisplay(1), QStringLiteral("<s>"));
        QCOMPARE(tok.tokenDisplay(2), QStringLiteral("</s>"));
        for (int id : {0, 1, 2}) QCOMPARE(tok.tokenBytes(id), std::string());
        // The text "<s>" is ordinary characters, never the control piece.
        const std::vector<int> literal = tok.encode("<s>");
        QVERIFY(std::find(literal.begin(), literal.end(), 1) == literal.end());
        QCOMPARE(tok.decode(literal), std::string("<s>"));

        const std::vector<int> prompt = tok.promptIds("Hello world", true);
        QCOMPARE(prompt.front(), 1);
        QCOMPARE(std::vector<int>(prompt.begin() + 1, prompt.end()), tok.encode("Hello world"));
        // The strip shows the piece with its space; a whole text loses the dummy prefix, after
        // BOS or not, and control pieces between add nothing.
        const int hello = pieceId(tok, " Hello");
        QCOMPARE(tok.encode("Hello"), std::vector<int>{hello});
        QCOMPARE(tok.tokenBytes(hello), std::string(" Hello"));
        QCOMPARE(tok.tokenDisplay(hello), QStringLiteral(" Hello"));
        QCOMPARE(tok.decode(prompt), std::string("Hello world"));
        QCOMPARE(tok.decode(std::vector<int>{1, hello, 2, hello}), std::string("Hello Hello"));
        QCOMPARE(tok.decode(std::vector<int>{-5, 99999, hello}), std::string("Hello"));
        QCOMPARE(tok.promptIds("", true), std::vector<int>{1});
        QCOMPARE(tok.promptIds("", false), std::vector<int>{1});
    }

    void emptyString() {
        for (const SentencePieceBpe* tok : {&story(), &llama()}) {
            QVERIFY(tok->encode("").empty());
            QCOMPARE(tok->decode(std::vector<int>{}), std::string());
        }
        // A lone space is text: the dummy prefix and the space, so decode gives one space back.
        QCOMPARE(llama().decode(llama().encode(" ")), std::string(" "));
    }

    void mergeOrder() {
        // " abc" (dummy prefix included) starts as [" ", a, b, c]. Candidates: " a" -3, "ab" -2,
        // "bc" -1. "bc" is best: [" ", a, bc]; the new pair "abc" scores -4, so " a" (-3) comes
        // next: [" a", bc]; " abc" is no piece. A leftmost-longest match would give [" ", abc].
        const SentencePieceBpe tok = build({{" ", -10, Type::Normal},
                                            {"a", -10, Type::Normal},
                                            {"b", -10, Type::Normal},
                                            {"c", -10, Type::Normal},
                                            {" a", -3, Type::Normal},
                                            {"ab", -2, Type::Normal},
                                            {"bc", -1, Type::Normal},
                                            {"abc", -4, Type::Normal}});
        QCOMPARE(texts(tok, tok.encode("abc")), (QStringList{" a", "bc"}));
        // Equal scores: the leftmost pair. [" ", a, b, a, b] -> " a" and "ab" tie at -1 (the
        // first "ab" is left of the second, " a" left of both): " a" first, then the second
        // "ab" (the first lost its "a").
        const SentencePieceBpe tie = build({{" ", -10, Type::Normal},
                                            {"a", -10, Type::Normal},
                                            {"b", -10, Type::Normal},
                                            {" a", -1, Type::Normal},
                                            {"ab", -1, Type::Normal}});
        QCOMPARE(texts(tie, tie.encode("abab")), (QStringList{" a", "b", "ab"}));
        // sentencepiece merges characters even when one is not a piece itself ("x" here); run.c
        // would have spelt "x" with bytes first and never found "xy".
        const SentencePieceBpe partial =
            build({{" ", -10, Type::Normal}, {"y", -10, Type::Normal}, {"xy", -1, Type::Normal}});
        QCOMPARE(texts(partial, partial.encode("xy")), (QStringList{" ", "xy"}));
        // Without a space piece the dummy prefix is a byte, and decode still drops it.
        const SentencePieceBpe noSpace = build({{"y", -10, Type::Normal}});
        const std::vector<int> ids = noSpace.encode("y");
        QCOMPARE(texts(noSpace, ids), (QStringList{"<0x20>", "y"}));
        QCOMPARE(noSpace.decode(ids), std::string("y"));
    }

    void userDefinedPiecesStayWhole() {
        // "<tag>" is matched whole wherever it stands and never merges, though " <" and
        // "<tag>b" are pieces.
        const SentencePieceBpe tok = build({{" ", -10, Type::Normal},
                                            {"a", -10, Type::Normal},
                                            {"b", -10, Type::Normal},
                                            {"<", -10, Type::Normal},
                                            {" <", -1, Type::Normal},
                                            {"<tag>b", 0, Type::Normal},
                                            {"<tag>", 0, Type::UserDefined},
                                            {"<ta", 0, Type::UserDefined}});
        QCOMPARE(texts(tok, tok.encode("<tag>b<ta<")),
                 (QStringList{" ", "<tag>", "b", "<ta", "<"}));
        QCOMPARE(tok.decode(tok.encode("<tag>b<ta<")), std::string("<tag>b<ta<"));
    }

    void refusedVocabularies() {
        const auto refused = [](std::vector<Piece> pieces, int bos, const char* needle) {
            const auto made =
                SentencePieceBpe::fromPieces(std::move(pieces), bos, -1, QStringLiteral("v.bin"));
            QVERIFY(!made.ok());
            QVERIFY2(made.errorMessage().startsWith(QLatin1String("v.bin")) &&
                         made.errorMessage().contains(QLatin1String(needle)),
                     qPrintable(made.errorMessage()));
        };
        refused({}, -1, "at least one piece");
        std::vector<Piece> missing = withBytes({});
        missing.erase(missing.begin() + 0x41);
        refused(missing, -1, "<0x41>");
        refused(withBytes({{"<0x41>", 0, Type::Byte}}), -1, "byte 0x41 also at piece 65");
        refused(withBytes({{"<0x4g>", 0, Type::Byte}}), -1, "<0xNN>");
        refused(withBytes({{"ab", 0, Type::Normal}, {"ab", -1, Type::Normal}}), -1,
                "same text at piece 256");
        refused(withBytes({{"ab", std::nanf(""), Type::Normal}}), -1, "NaN");
        refused(withBytes({{"ab", 0, Type::Normal}}), 256, "BOS id 256 to be a control piece");
    }

    void damagedFiles() {
        const QByteArray good = readAll(kStoryBin);
        QVERIFY(kvscope::parseTokenizerBin(good, kStoryVocab, QStringLiteral("good.bin")).ok());

        expectRefused(good.left(2), kStoryVocab, {"max_token_length", "4 bytes", "2 bytes"});
        QByteArray header = good;
        putInt32(header, 0, -1);
        expectRefused(header, kStoryVocab, {"max_token_length", ">= 0", "-1"});

        // Cut inside token 500's text, and inside its length field.
        const qsizetype at500 = recordOffset(good, 500);
        expectRefused(good.left(at500 + 9), kStoryVocab, {"token 500", "text", "found 1"});
        expectRefused(good.left(at500 + 6), kStoryVocab, {"token 500", "length", "found 2"});

        QByteArray negative = good;
        putInt32(negative, recordOffset(good, 7) + 4, -3);
        expectRefused(negative, kStoryVocab, {"token 7", "length", "found -3"});

        std::int32_t maxLength;
        std::memcpy(&maxLength, good.constData(), 4);
        QByteArray tooLong = good;
        putInt32(tooLong, recordOffset(good, 9) + 4, maxLength + 1);
        expectRefused(tooLong, kStoryVocab,
                      {"token 9", "length", QStringLiteral("max_token_length = %1").arg(maxLength),
                       QStringLiteral("found %1").arg(maxLength + 1)});
        // A length past the end of the file, though within max_token_length.
        QByteArray lastLong = good;
        putInt32(lastLong, 0, 1 << 20);
        putInt32(lastLong, recordOffset(good, kStoryVocab - 1) + 4, 1000);
        expectRefused(lastLong, kStoryVocab, {"token 1023", "text", "expected 1000 bytes"});

        // The model expects more tokens than the file holds, or fewer.
        expectRefused(good, kStoryVocab + 1, {"expected 1025 tokens", "found 1024"});
        expectRefused(good, kStoryVocab - 1,
                      {"after 1023 tokens", "more bytes", "hold 1 more whole tokens"});
        expectRefused(good + QByteArray(3, 'x'), kStoryVocab, {"3 more bytes", "0 more whole"});
        expectRefused(good, 0, {"at least 1", "found 0"});

        QByteArray nan = good;
        const quint32 nanBits = 0x7FC00000u;
        putInt32(nan, recordOffset(good, 300), static_cast<std::int32_t>(nanBits));
        expectRefused(nan, kStoryVocab, {"token 300", "score", "NaN"});

        // "<0x41>" turned into "<0x4G>": byte 0x41 has no piece left.
        QByteArray noByte = good;
        noByte[recordOffset(good, 3 + 0x41) + 8 + 4] = 'G';
        expectRefused(noByte, kStoryVocab, {"<0x41>", "found none"});
    }

    void longPromptIsFast() {
        // 100 KB of mixed text: the merge queue keeps this near-linear, where run.c's rescanning
        // loop is quadratic in the prompt length.
        std::string prompt;
        const QJsonArray strings =
            QJsonDocument::fromJson(readAll(kFixtures + QStringLiteral("/sp_strings.json")))
                .array();
        for (int i = 0; prompt.size() < 100'000; ++i) {
            prompt += strings[i % strings.size()].toString().toStdString() + ' ';
        }
        for (const std::string& text :
             {prompt, std::string(100'000, 'a'), std::string(100'000, ' ')}) {
            QElapsedTimer timer;
            timer.start();
            const std::vector<int> ids = llama().encode(text);
            const qint64 ms = timer.elapsed();
            qInfo("%zu bytes -> %zu tokens in %lld ms", text.size(), ids.size(),
                  static_cast<long long>(ms));
            QVERIFY2(ms < 10'000, qPrintable(QString::number(ms)));
            QCOMPARE(llama().decode(ids), text);
        }
    }
};

QTEST_GUILESS_MAIN(TestSentencePiece)
#include "test_sentencepiece.moc"
