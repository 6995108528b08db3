// The byte-level pre-tokenizers by name, each pinned on hand-worked cases of its pattern (the
// patterns are listed in core/tokenizer/pre_tokenizer.cpp); Llama 3's and Qwen2's are also held
// against their peers through whole tokenizers in core.hf_tokenizer and core.gguf_vocab.

#include "tokenizer/pre_tokenizer.h"

#include <QtTest>

#include <random>

using kvscope::preTokenize;
using kvscope::PreTokenizer;
using V = std::vector<std::string_view>;

class TestPreTokenizer : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void names() {
        QVERIFY(kvscope::preTokenizerFromName("gpt-2") == PreTokenizer::Gpt2);
        QVERIFY(kvscope::preTokenizerFromName("llama-bpe") == PreTokenizer::Llama3);
        QVERIFY(kvscope::preTokenizerFromName("llama3") == PreTokenizer::Llama3);
        QVERIFY(kvscope::preTokenizerFromName("qwen2") == PreTokenizer::Qwen2);
        QVERIFY(kvscope::preTokenizerFromName("smollm") == PreTokenizer::SmolLm);
        QVERIFY(kvscope::preTokenizerFromName("default") == PreTokenizer::Default);
        QVERIFY(kvscope::preTokenizerFromName("") == PreTokenizer::Default);
        QVERIFY(!kvscope::preTokenizerFromName("falcon"));
        QVERIFY(!kvscope::preTokenizerFromName("GPT-2"));
        for (PreTokenizer k : {PreTokenizer::Gpt2, PreTokenizer::Llama3, PreTokenizer::Qwen2,
                               PreTokenizer::SmolLm, PreTokenizer::Default}) {
            QVERIFY(kvscope::preTokenizerFromName(kvscope::preTokenizerName(k).toStdString()) == k);
        }
        QVERIFY(kvscope::ignoresMerges(PreTokenizer::Llama3));
        QVERIFY(!kvscope::ignoresMerges(PreTokenizer::Qwen2));
    }

    void llama3() {
        const auto cut = [](std::string_view s) { return preTokenize(PreTokenizer::Llama3, s); };
        QCOMPARE(cut("Hello world"), (V{"Hello", " world"}));
        QCOMPARE(cut("1234567"), (V{"123", "456", "7"}));
        QCOMPARE(cut("x12345y"), (V{"x", "123", "45", "y"}));
        // Contractions in any ASCII case; GPT-2 only takes lower case.
        QCOMPARE(cut("don't DON'T"), (V{"don", "'t", " DON", "'T"}));
        QCOMPARE(cut("'sup"), (V{"'s", "up"}));
        // Any one non-letter, non-digit, non-newline character leads a word: a tab, punctuation.
        QCOMPARE(cut("\tword"), (V{"\tword"}));
        QCOMPARE(cut("(foo)"), (V{"(foo", ")"}));
        QCOMPARE(cut("((foo"), (V{"((", "foo"}));
        QCOMPARE(cut("\nword"), (V{"\n", "word"}));
        // Punctuation keeps the line breaks after it.
        QCOMPARE(cut(".\n\nNext"), (V{".\n\n", "Next"}));
        QCOMPARE(cut("!?\r\nok"), (V{"!?\r\n", "ok"}));
        QCOMPARE(cut(" {}"), (V{" {}"}));
        // Whitespace: up to the last line break, else all but the space before a word.
        QCOMPARE(cut("a\n\n  b"), (V{"a", "\n\n", " ", " b"}));
        QCOMPARE(cut("x  \n"), (V{"x", "  \n"}));
        QCOMPARE(cut("a   b"), (V{"a", "  ", " b"}));
        QCOMPARE(cut(" 42"), (V{" ", "42"}));
        QCOMPARE(cut("end   "), (V{"end", "   "}));
        QCOMPARE(cut(""), V{});
        // A byte that is not UTF-8 counts as punctuation, so it may lead a word.
        QCOMPARE(cut("ab\x80"
                     "cd"),
                 (V{"ab",
                    "\x80"
                    "cd"}));
    }

    void qwen2() {
        const auto cut = [](std::string_view s) { return preTokenize(PreTokenizer::Qwen2, s); };
        QCOMPARE(cut("1234"), (V{"1", "2", "3", "4"}));
        QCOMPARE(cut("x1y22 z"), (V{"x", "1", "y", "2", "2", " z"}));
        QCOMPARE(cut("I'M here"), (V{"I", "'M", " here"}));
    }

    void smolLm() {
        const auto cut = [](std::string_view s) { return preTokenize(PreTokenizer::SmolLm, s); };
        QCOMPARE(cut("abc123 x"), (V{"abc", "1", "2", "3", " x"}));
        // The digit is cut off first, so the space before it stands alone.
        QCOMPARE(cut("a 1"), (V{"a", " ", "1"}));
        QCOMPARE(cut("it's IT'S"), (V{"it", "'s", " IT", "'", "S"}));
    }

    void defaultPattern() {
        const auto cut = [](std::string_view s) { return preTokenize(PreTokenizer::Default, s); };
        QCOMPARE(cut("Hello, world! 12345"), (V{"Hello", ",", " world", "!", " ", "123", "45"}));
        QCOMPARE(cut("a+b"), (V{"a", "+", "b"}));
        // A backtick is neither punctuation (it is a symbol) nor in the added set.
        QCOMPARE(cut("x`y"), (V{"x", "`", "y"}));
        QCOMPARE(cut("\xE2\x80\x94x"), (V{"\xE2\x80\x94", "x"}));  // an em dash is punctuation
        QCOMPARE(cut("1234567"), (V{"123", "456", "7"}));
    }

    void piecesTileTheInput() {
        std::mt19937 rng(7u);
        const std::string alphabet = "aZ 9'\n\r\t.,$+`\xC3\xA9\xE2\x80\x94\xF0\x9F\x98\x80\x80\xFF";
        for (PreTokenizer k : {PreTokenizer::Gpt2, PreTokenizer::Llama3, PreTokenizer::Qwen2,
                               PreTokenizer::SmolLm, PreTokenizer::Default}) {
            for (int n = 0; n < 2000; ++n) {
                std::string s;
                const int length = int(rng() % 30);
                for (int i = 0; i < length; ++i) s.push_back(alphabet[rng() % alphabet.size()]);
                std::string joined;
                for (std::string_view piece : preTokenize(k, s)) {
                    QVERIFY(!piece.empty());
                    joined += piece;
                }
                QCOMPARE(joined, s);
            }
        }
    }
};

QTEST_GUILESS_MAIN(TestPreTokenizer)
#include "test_pre_tokenizer.moc"
