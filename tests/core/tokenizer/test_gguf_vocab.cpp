// Tokenizers from GGUF-style vocabulary arrays (tokenizerFromGguf). The arrays are built here
// from the same files the other tokenizer tests hold against their peers (Llama 3's and Qwen3's
// tokenizer.json, GPT-2's vocab.json + merges.txt, Llama 2's tokenizer.bin), the way llama.cpp's
// converter writes them into tokenizer.ggml.*, and must give the same peers' ids.

#include "tokenizer/gguf_vocab.h"
#include "tokenizer_fixtures.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

#include <cstring>

using kvscope::GgufVocabulary;
using kvscope::Tokenizer;
using kvscope::tokenizerFromGguf;
using kvscope::TokenizerPtr;
using namespace kvscope::test;

namespace {

constexpr std::int32_t kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kByte = 6;

// tokenizer.ggml.tokens / token_type / merges from a byte-level tokenizer.json: the vocabulary
// by id, added tokens as control (special) or user-defined, merges as "a b".
GgufVocabulary fromTokenizerJson(const QByteArray& json, const char* pre) {
    const QJsonObject root = QJsonDocument::fromJson(json).object();
    const QJsonObject model = root.value(QStringLiteral("model")).toObject();
    const QJsonObject vocab = model.value(QStringLiteral("vocab")).toObject();
    const QJsonArray added = root.value(QStringLiteral("added_tokens")).toArray();
    GgufVocabulary v;
    v.model = "gpt2";
    v.pre = pre;
    v.tokens.resize(static_cast<std::size_t>(vocab.size() + added.size()));
    v.types.assign(v.tokens.size(), kNormal);
    for (auto it = vocab.begin(); it != vocab.end(); ++it) {
        v.tokens.at(static_cast<std::size_t>(it.value().toInt())) = it.key().toStdString();
    }
    for (const QJsonValue& a : added) {
        const auto id = static_cast<std::size_t>(a[QStringLiteral("id")].toInt());
        v.tokens.at(id) = a[QStringLiteral("content")].toString().toStdString();
        v.types.at(id) = a[QStringLiteral("special")].toBool() ? kControl : kUserDefined;
    }
    for (const QJsonValue& m : model.value(QStringLiteral("merges")).toArray()) {
        v.merges.push_back(
            m.isString() ? m.toString().toStdString()
                         : (m[0].toString() + QLatin1Char(' ') + m[1].toString()).toStdString());
    }
    return v;
}

int idOf(const GgufVocabulary& v, std::string_view text) {
    for (std::size_t i = 0; i < v.tokens.size(); ++i) {
        if (v.tokens[i] == text) return static_cast<int>(i);
    }
    return -1;
}

TokenizerPtr build(const GgufVocabulary& v) {
    auto made = tokenizerFromGguf(v, QStringLiteral("test.gguf"));
    if (!made) qFatal("%s", qPrintable(made.errorMessage()));
    return made.take();
}

// Compares on every entry `keep` accepts; returns how many.
int compareWithPeer(const Tokenizer& tok, const QString& fixture,
                    bool (*keep)(const std::string&) = nullptr) {
    int compared = 0;
    for (const PeerEntry& e : readPeerIds(fixture)) {
        if (keep != nullptr && !keep(e.text)) continue;
        const std::vector<int> ids = tok.encode(e.text);
        if (const QString why = mismatch(e.text, ids, e.ids); !why.isEmpty()) {
            qWarning("%s", qPrintable(why));
            return -1;
        }
        if (tok.decode(ids) != e.text) {
            qWarning("no round trip: %s", e.text.c_str());
            return -1;
        }
        ++compared;
    }
    return compared;
}

// llama.cpp's converter writes sentencepiece's U+2581 where llama2.c's tokenizer.bin has a
// space; byte pieces are type 6, <unk> 2, <s> and </s> 3.
GgufVocabulary llama2Vocabulary() {
    const QByteArray bin = readFixture(QStringLiteral("llama2/tokenizer.bin"));
    GgufVocabulary v;
    v.model = "llama";
    for (qsizetype pos = 4; pos + 8 <= bin.size();) {
        float score;
        std::uint32_t length;
        std::memcpy(&score, bin.constData() + pos, 4);
        std::memcpy(&length, bin.constData() + pos + 4, 4);
        std::string text(bin.constData() + pos + 8, length);
        pos += 8 + static_cast<qsizetype>(length);
        const std::size_t id = v.tokens.size();
        std::int32_t type = kNormal;
        if (id == 0) {
            type = kUnknown;
        } else if (id == 1 || id == 2) {
            type = kControl;
            text = id == 1 ? "<s>" : "</s>";
        } else if (text.size() == 6 && text.starts_with("<0x")) {
            type = kByte;
        }
        for (std::size_t at; (at = text.find(' ')) != std::string::npos;) {
            text.replace(at, 1, "\xE2\x96\x81");
        }
        v.tokens.push_back(text);
        v.scores.push_back(score);
        v.types.push_back(type);
    }
    return v;
}

}  // namespace

class TestGgufVocab : public QObject {
    Q_OBJECT

    static void expectRefused(const GgufVocabulary& v, const QStringList& mustMention,
                              int vocabSize = 0) {
        const auto made = tokenizerFromGguf(v, QStringLiteral("bad.gguf"), vocabSize);
        QVERIFY2(!made.ok(), "loading should have failed");
        const QString message = made.errorMessage();
        QVERIFY2(message.startsWith(QStringLiteral("bad.gguf: ")), qPrintable(message));
        for (const QString& needle : mustMention) {
            QVERIFY2(
                message.contains(needle),
                qPrintable(QStringLiteral("\"%1\" does not mention \"%2\"").arg(message, needle)));
        }
    }

private Q_SLOTS:
    void llamaBpeMatchesLlama3Peer() {
        GgufVocabulary v = fromTokenizerJson(
            readZlibFixture(QStringLiteral("llama3/tokenizer.json.zlib")), "llama-bpe");
        v.bos = idOf(v, "<|begin_of_text|>");
        v.eos = idOf(v, "<|end_of_text|>");
        v.eot = idOf(v, "<|eot_id|>");
        const TokenizerPtr tok = build(v);
        QCOMPARE(tok->vocabSize(), 128256);
        // llama.cpp's default for llama-bpe: a prompt starts with BOS.
        QCOMPARE(tok->special().bos, 128000);
        QVERIFY(tok->special().addBos);
        QCOMPARE(tok->special().eot, 128009);
        QVERIFY(compareWithPeer(*tok, QStringLiteral("llama3_peer_ids.json")) >= 300);
        v.addBos = false;
        QVERIFY(!build(v)->special().addBos);
    }

    // llama.cpp does not normalise Qwen's text to NFC as its tokenizer.json asks, so the strings
    // that NFC changes are left out.
    void qwen2MatchesQwen3Peer() {
        const GgufVocabulary v = fromTokenizerJson(
            readZlibFixture(QStringLiteral("qwen3/tokenizer.json.zlib")), "qwen2");
        const TokenizerPtr tok = build(v);
        QVERIFY(!tok->special().addBos);
        const int compared =
            compareWithPeer(*tok, QStringLiteral("qwen3_peer_ids.json"), [](const std::string& s) {
                const QString q = QString::fromStdString(s);
                return q.normalized(QString::NormalizationForm_C) == q;
            });
        qInfo("qwen2: %d of the strings are unchanged by NFC and compared", compared);
        QVERIFY(compared >= 300);
    }

    void gpt2MatchesGpt2Peer() {
        const QJsonObject vocab =
            QJsonDocument::fromJson(readFixture(QStringLiteral("gpt2/vocab.json"))).object();
        GgufVocabulary v;
        v.model = "gpt2";
        v.pre = "gpt-2";
        v.tokens.resize(static_cast<std::size_t>(vocab.size()));
        v.types.assign(v.tokens.size(), kNormal);
        for (auto it = vocab.begin(); it != vocab.end(); ++it) {
            v.tokens.at(static_cast<std::size_t>(it.value().toInt())) = it.key().toStdString();
        }
        v.types.at(50256) = kControl;  // <|endoftext|>
        v.eot = 50256;
        for (const QByteArray& line : readFixture(QStringLiteral("gpt2/merges.txt")).split('\n')) {
            if (!line.isEmpty() && !line.startsWith("#version"))
                v.merges.push_back(line.toStdString());
        }
        const TokenizerPtr tok = build(v);
        QVERIFY(compareWithPeer(*tok, QStringLiteral("gpt2_peer_ids.json")) >= 300);
        QCOMPARE(tok->encode("a<|endoftext|>b"), (std::vector<int>{64, 50256, 65}));
    }

    // The SentencePiece model: Llama 2's vocabulary against sentencepiece, with llama.cpp's
    // default special ids (BOS 1, EOS 2) and BOS added.
    void llamaMatchesSentencePiece() {
        const GgufVocabulary v = llama2Vocabulary();
        const TokenizerPtr tok = build(v);
        QCOMPARE(tok->vocabSize(), 32000);
        QCOMPARE(tok->special().bos, 1);
        QCOMPARE(tok->special().eos, 2);
        QVERIFY(tok->special().addBos);
        QVERIFY(compareWithPeer(*tok, QStringLiteral("llama2_sp_ids.json")) >= 300);
        QCOMPARE(tok->promptIds("Hi", true), (std::vector<int>{1, 6324}));
        GgufVocabulary noBos = v;
        noBos.addBos = false;
        QVERIFY(!build(noBos)->special().addBos);
    }

    void refusals() {
        GgufVocabulary llama = llama2Vocabulary();
        GgufVocabulary v = llama;
        v.model = "bert";
        expectRefused(v, {"tokenizer.ggml.model", "\"bert\""});
        v = llama;
        v.scores.pop_back();
        expectRefused(v, {"tokenizer.ggml.scores", "32000", "31999"});
        v = llama;
        v.types[7] = 9;
        expectRefused(v, {"tokenizer.ggml.token_type[7]", "9"});
        v = llama;
        v.types[1] = kNormal;  // BOS must be a control piece
        expectRefused(v, {"BOS", "1"});
        v = llama;
        v.bos = 99999;
        expectRefused(v, {"tokenizer.ggml.bos_token_id", "99999"});
        expectRefused(llama, {"tokenizer.ggml.tokens", "31000", "32000"}, 31000);

        const GgufVocabulary llama3 = fromTokenizerJson(
            readZlibFixture(QStringLiteral("llama3/tokenizer.json.zlib")), "llama-bpe");
        v = llama3;
        v.pre = "falcon";
        expectRefused(v, {"tokenizer.ggml.pre", "\"falcon\""});
        v = llama3;
        v.merges[5] = "Ġ zzzzqq";
        expectRefused(v, {"tokenizer.ggml.merges[5]", "zzzzqq", "no such token"});
        v = llama3;
        v.merges[6] = "nospace";
        expectRefused(v, {"tokenizer.ggml.merges[6]", "one space"});
        v = llama3;
        v.tokens[300] = "a b";
        expectRefused(v, {"tokenizer.ggml.tokens[300]", "U+0020"});
        v = llama3;
        v.tokens[static_cast<std::size_t>(idOf(v, "!"))] = "";  // byte 0x21 left without a token
        expectRefused(v, {"256 bytes", "0x21"});
        v = llama3;
        v.eot = -7;
        expectRefused(v, {"tokenizer.ggml.eot_token_id", "-7"});
        v = llama3;
        v.types.resize(10);
        expectRefused(v, {"tokenizer.ggml.token_type", "10"});
    }
};

QTEST_GUILESS_MAIN(TestGgufVocab)
#include "test_gguf_vocab.moc"
