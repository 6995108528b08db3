// The headless command line as a user runs it: exit codes, stdout/stderr, and the JSON and CSV
// files, checked against the closed-form FLOPs and the other mode.

#include "cost/flops.h"
#include "model/model.h"
#include "model/model_config.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <set>

using namespace kvscope;

namespace {

const QString kModel = QStringLiteral(KVSCOPE_FIXTURES "/reference/model");

struct Run {
    int exitCode = -1;
    QByteArray out, err;
};

// `configHome`: XDG_CONFIG_HOME for the run (where the remembered roofs live); empty keeps the
// user's.
Run runCli(const QStringList& args, const QString& configHome = QString()) {
    QProcess p;
    if (!configHome.isEmpty()) {
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("XDG_CONFIG_HOME"), configHome);
        p.setProcessEnvironment(env);
    }
    p.start(QStringLiteral(KVSCOPE_BIN), args);
    if (!p.waitForFinished(120000)) qFatal("kvscope did not finish");
    return Run{p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1,
               p.readAllStandardOutput(), p.readAllStandardError()};
}

QByteArray readAll(const QString& path) {
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

// Runs the reference model with `args` and --json; returns the parsed file (empty on failure).
QJsonObject runJson(const QStringList& args, Run* run = nullptr) {
    QTemporaryDir dir;
    const QString json = dir.filePath("out.json");
    const Run r = runCli(QStringList{"--headless", "--model", kModel, "--json", json} + args);
    if (run) *run = r;
    if (r.exitCode != 0) qWarning("kvscope exited with %d: %s", r.exitCode, r.err.constData());
    return QJsonDocument::fromJson(readAll(json)).object();
}

std::vector<int> ids(const QJsonValue& v) {
    std::vector<int> out;
    for (const QJsonValue& x : v.toArray()) out.push_back(x.toInt());
    return out;
}

std::vector<int> encode(const kvscope::Tokenizer& t, const QByteArray& utf8) {
    return t.encode(std::string_view(utf8.constData(), std::size_t(utf8.size())));
}

// RFC 4180 records: a quoted field may hold commas, doubled quotes and line breaks.
QList<QStringList> csvRecords(const QString& text) {
    QList<QStringList> records;
    QStringList record;
    QString field;
    bool quoted = false;
    for (qsizetype i = 0; i < text.size(); ++i) {
        const QChar c = text[i];
        if (quoted) {
            if (c != QLatin1Char('"'))
                field += c;
            else if (i + 1 < text.size() && text[i + 1] == QLatin1Char('"'))
                field += text[++i];
            else
                quoted = false;
        } else if (c == QLatin1Char('"')) {
            quoted = true;
        } else if (c == QLatin1Char(',')) {
            record << field;
            field.clear();
        } else if (c == QLatin1Char('\n')) {
            records << (record << field);
            record.clear();
            field.clear();
        } else {
            field += c;
        }
    }
    if (!field.isEmpty() || !record.isEmpty()) records << (record << field);
    return records;
}

}  // namespace

class TestCli : public QObject {
    Q_OBJECT
    kvscope::ModelPtr model_;  // the reference model, for its tokenizer and context (256)

private Q_SLOTS:
    void initTestCase() {
        auto m = kvscope::loadModel(kModel);
        QVERIFY2(m.ok(), qPrintable(m.errorMessage()));
        model_ = m.value();
        QCOMPARE(model_->config.nPositions, 256);
    }
    void helpListsEveryOption() {
        const Run r = runCli({"--help"});
        QCOMPARE(r.exitCode, 0);
        for (const char* o :
             {"--headless", "--model", "--prompt", "--max-tokens", "--mode", "--temperature",
              "--top-k", "--top-p", "--seed", "--json", "--csv", "Exit codes", "--min-p",
              "--repeat-penalty", "--presence-penalty", "--frequency-penalty", "--repeat-last-n"})
            QVERIFY2(r.out.contains(o), o);
    }

    // The window's --present: listed by --help, and known to the window's parser (an unknown
    // option is named in its error, which lists every unknown one).
    void presentIsAWindowOption() {
        QVERIFY(runCli({"--help"}).out.contains("--present"));
        QProcess p;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
        p.setProcessEnvironment(env);
        p.start(QStringLiteral(KVSCOPE_BIN), {"--present", "--frobnicate"});
        QVERIFY(p.waitForFinished(60000));
        const QByteArray err = p.readAllStandardError();
        QVERIFY2(p.exitCode() != 0 && err.contains("frobnicate") && !err.contains("present"),
                 err.constData());
    }

    void usageErrorsExitWith2_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("message");
        QTest::newRow("unknown option") << QStringList{"--frobnicate"} << "frobnicate";
        QTest::newRow("bad mode") << QStringList{"--model", kModel, "--mode", "fast"} << "--mode";
        QTest::newRow("bad top-p") << QStringList{"--model", kModel, "--top-p", "2"} << "--top-p";
        QTest::newRow("negative tokens")
            << QStringList{"--model", kModel, "--max-tokens", "-1"} << "--max-tokens";
        QTest::newRow("bad seed") << QStringList{"--model", kModel, "--seed", "x"} << "--seed";
        // The limits: a message that names the accepted range.
        QTest::newRow("max-tokens above 2^24")
            << QStringList{"--model", kModel, "--max-tokens", "16777217"}
            << "--max-tokens: expected an integer from 0 to 16777216";
        QTest::newRow("fractional max-tokens")
            << QStringList{"--model", kModel, "--max-tokens", "2.5"}
            << "--max-tokens: expected an integer from 0 to 16777216";
        QTest::newRow("temperature above 1e6")
            << QStringList{"--model", kModel, "--temperature", "1e7"}
            << "--temperature: expected a number from 0 to 1000000";
        QTest::newRow("negative temperature")
            << QStringList{"--model", kModel, "--temperature", "-0.5"} << "--temperature";
        QTest::newRow("negative top-k") << QStringList{"--model", kModel, "--top-k", "-1"}
                                        << "--top-k: expected an integer from 0 to 1073741824";
        QTest::newRow("negative top-p") << QStringList{"--model", kModel, "--top-p", "-0.1"}
                                        << "--top-p: expected a number in [0, 1]";
        QTest::newRow("min-p above 1") << QStringList{"--model", kModel, "--min-p", "1.5"}
                                       << "--min-p: expected a number in [0, 1]";
        QTest::newRow("repeat-penalty 0")
            << QStringList{"--model", kModel, "--repeat-penalty", "0"}
            << "--repeat-penalty: expected a number above 0, at most 100";
        QTest::newRow("presence-penalty NaN")
            << QStringList{"--model", kModel, "--presence-penalty", "nan"}
            << "--presence-penalty: expected a number from -100 to 100";
        QTest::newRow("frequency-penalty too big")
            << QStringList{"--model", kModel, "--frequency-penalty", "1e3"}
            << "--frequency-penalty: expected a number from -100 to 100";
        QTest::newRow("repeat-last-n -2") << QStringList{"--model", kModel, "--repeat-last-n", "-2"}
                                          << "--repeat-last-n: expected an integer from -1";
    }
    void usageErrorsExitWith2() {
        QFETCH(QStringList, args);
        QFETCH(QString, message);
        const Run r = runCli(QStringList{"--headless"} + args);
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains(message.toUtf8()), r.err.constData());
    }

    // A llama2.c checkpoint with its tokenizer.bin: both modes in lockstep, at temperature 0,
    // give the float64 PyTorch reference's greedy ids (tests/reference/llama), which are also
    // what llama2.c's run.c prints for the same file (make_llama_reference.py --check-runc).
    void llama2cCheckpointMatchesTheReference_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QString>("model");
        QTest::newRow("gqa legacy") << "gqa.bin"
                                    << "gqa";
        QTest::newRow("mqa version 1") << "mqa_v1.bin"
                                       << "mqa";
    }
    void llama2cCheckpointMatchesTheReference() {
        QFETCH(QString, file);
        QFETCH(QString, model);
        const QString dir = QStringLiteral(KVSCOPE_FIXTURES "/reference/llama");
        QFile ef(dir + "/expected.json");
        QVERIFY(ef.open(QIODevice::ReadOnly));
        const QJsonObject greedy = QJsonDocument::fromJson(ef.readAll())
                                       .object()["models"]
                                       .toObject()[model]
                                       .toObject()["greedy"]
                                       .toObject();
        QTemporaryDir tmp;
        const QString json = tmp.filePath("out.json");
        const Run r =
            runCli({"--headless", "--model", dir + "/" + file, "--tokenizer",
                    dir + "/tokenizer.bin", "--prompt", greedy["prompt"].toString(), "--max-tokens",
                    "200", "--mode", "both", "--temperature", "0", "--json", json});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const QJsonObject o = QJsonDocument::fromJson(readAll(json)).object();
        QCOMPARE(ids(o["settings"]["prompt_ids"]), ids(greedy["prompt_ids"]));
        for (const QJsonValue run : o["runs"].toArray())
            QCOMPARE(ids(run["tokens"]), ids(greedy["generated"]));
        QVERIFY(o["comparison"]["tokens_equal"].toBool());
        QVERIFY(o["comparison"]["max_logit_diff"].toDouble() < 1e-4);
        QCOMPARE(o["model"]["architecture"].toString(), QStringLiteral("llama"));
        QCOMPARE(o["model"]["n_kv_head"].toInt(), model == "gqa" ? 2 : 1);
    }

    // --tokenize prints the ids a run would see (without BOS unless --add-bos), and the pieces.
    void tokenizeWithoutGenerating() {
        const QString dir = QStringLiteral(KVSCOPE_FIXTURES "/reference/llama");
        QFile ef(dir + "/expected.json");
        QVERIFY(ef.open(QIODevice::ReadOnly));
        const QJsonObject greedy = QJsonDocument::fromJson(ef.readAll())
                                       .object()["models"]
                                       .toObject()["gqa"]
                                       .toObject()["greedy"]
                                       .toObject();
        const std::vector<int> withBos = ids(greedy["prompt_ids"]);
        for (const bool bos : {false, true}) {
            QStringList args{"--headless", "--model", dir + "/gqa.bin", "--tokenize",
                             greedy["prompt"].toString()};
            if (bos) args << "--add-bos";
            const Run r = runCli(args);
            QVERIFY2(r.exitCode == 0, r.err.constData());
            const QJsonObject o = QJsonDocument::fromJson(r.out).object();
            QCOMPARE(ids(o["ids"]),
                     bos ? withBos : std::vector<int>(withBos.begin() + 1, withBos.end()));
            QCOMPARE(o["pieces"].toArray().size(), o["ids"].toArray().size());
            if (bos) QCOMPARE(o["pieces"][0].toString(), QStringLiteral("<s>"));
        }
        // GPT-2's byte-level BPE: the exact bytes of a file, against the in-process tokenizer.
        QTemporaryDir tmp;
        const QByteArray bytes("line one\n\ttab \xF0\x9F\x99\x82 and \xFF invalid");
        QFile t(tmp.filePath("t.txt"));
        QVERIFY(t.open(QIODevice::WriteOnly) && t.write(bytes) == bytes.size());
        t.close();
        const Run r =
            runCli({"--headless", "--model", kModel, "--tokenize-file", tmp.filePath("t.txt")});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        QCOMPARE(ids(QJsonDocument::fromJson(r.out).object()["ids"]),
                 encode(*model_->tokenizer, bytes));
        const Run misuse = runCli({"--headless", "--add-bos", "--prompt", "x"});
        QCOMPARE(misuse.exitCode, 2);
        QVERIFY2(misuse.err.contains("--add-bos"), misuse.err.constData());
    }

    // A vocabulary-only GGUF (no tensors) tokenizes like the model it belongs to (the same
    // vocabulary written with weights), and refuses to generate with a message saying why.
    void vocabularyOnlyGgufTokenizes() {
        const QString dir = QStringLiteral(KVSCOPE_FIXTURES "/reference/gguf");
        const QString text = QStringLiteral("Once upon a time, \u00e9t\u00e9 \U0001F600 42");
        QByteArray outputs[2];
        int i = 0;
        for (const char* file : {"llama_vocab_only.gguf", "llama_f32.gguf"}) {
            const Run r = runCli(
                {"--headless", "--model", dir + "/" + file, "--tokenize", text, "--add-bos"});
            QVERIFY2(r.exitCode == 0, r.err.constData());
            outputs[i++] = r.out;
        }
        QCOMPARE(outputs[0], outputs[1]);
        QCOMPARE(ids(QJsonDocument::fromJson(outputs[0]).object()["ids"]).front(), 1);  // <s>
        const Run run = runCli({"--headless", "--model", dir + "/llama_vocab_only.gguf"});
        QCOMPARE(run.exitCode, 3);
        QVERIFY2(run.err.contains("no tensors") && run.err.contains("--tokenize"),
                 run.err.constData());
    }

    void badModelExitsWith3() {
        QTemporaryDir dir;
        const Run r = runCli({"--headless", "--model", dir.path(), "--prompt", "x"});
        QCOMPARE(r.exitCode, 3);
        QVERIFY2(r.err.contains("no model here"), r.err.constData());
    }

    void bothModesAgreeAndMatchTheClosedForm() {
        QTemporaryDir dir;
        const QString json = dir.filePath("out.json"), csv = dir.filePath("out.csv");
        const Run r =
            runCli({"--headless", "--model", kModel, "--prompt", "hello", "--max-tokens", "50",
                    "--mode", "both", "--temperature", "0", "--json", json, "--csv", csv});
        QCOMPARE(r.exitCode, 0);
        QVERIFY(!r.out.trimmed().isEmpty());
        QVERIFY2(r.err.contains("tokens equal"), r.err.constData());

        const QJsonObject o = QJsonDocument::fromJson(readAll(json)).object();
        QVERIFY(o["comparison"].toObject()["tokens_equal"].toBool());
        QVERIFY(o["comparison"].toObject()["max_logit_diff"].toDouble() <= 1e-4);
        const QJsonObject m = o["model"].toObject();
        ModelConfig c;
        c.nLayer = m["n_layer"].toInt(), c.nHead = m["n_head"].toInt(), c.nKvHead = c.nHead;
        c.nEmbd = m["n_embd"].toInt(), c.nInner = m["n_inner"].toInt();
        c.nPositions = m["n_positions"].toInt(), c.vocabSize = m["vocab_size"].toInt();
        const QJsonArray runs = o["runs"].toArray();
        QCOMPARE(runs.size(), 2);
        QCOMPARE(runs[0]["tokens"].toArray(), runs[1]["tokens"].toArray());
        const int prompt = int(o["settings"].toObject()["prompt_ids"].toArray().size());
        for (const QJsonValue& run : runs) {
            const Mode mode = run["mode"].toString() == "naive" ? Mode::Naive : Mode::Cached;
            const QJsonArray steps = run["steps"].toArray();
            QCOMPARE(steps.size(), 50);
            for (const QJsonValue& s : steps) {
                const int n = s["position"].toInt();
                const FlopBreakdown f =
                    s["prefill"].toBool() ? prefillFlops(c, n) : stepFlops(c, n, mode);
                QCOMPARE(qint64(s["flops"].toObject()["total"].toDouble()), qint64(f.total()));
                QCOMPARE(s["top_k"].toArray().size(), 20);
            }
            QCOMPARE(qint64(steps.last()["cumulative_flops"].toObject()["total"].toDouble()),
                     qint64(cumulativeFlops(c, prompt, 50, mode).total()));
        }
        const QList<QStringList> rows = csvRecords(QString::fromUtf8(readAll(csv)));
        QCOMPARE(rows.size(), 1 + 2 * 50);
        QVERIFY(rows[0].join(',').startsWith("mode,step,position"));
    }

    // Issue 13, 6: run.json records this machine's roofs, null until they are measured,
    // measured first with --measure-roofs, and remembered from then on (for the window too).
    void runJsonRecordsTheMachineRoofs() {
        QTemporaryDir config, dir;
        const QString json = dir.filePath("out.json");
        const QStringList run{"--headless", "--model",        kModel,   "--max-tokens",
                              "2",          "--no-attention", "--json", json};
        Run r = runCli(run, config.path());
        QCOMPARE(r.exitCode, 0);
        QJsonObject o = QJsonDocument::fromJson(readAll(json)).object();
        QVERIFY(o.contains("machine_roofs") && o["machine_roofs"].isNull());

        const QDateTime before = QDateTime::currentDateTimeUtc().addSecs(-1);
        r = runCli(run + QStringList{"--measure-roofs"}, config.path());
        QCOMPARE(r.exitCode, 0);
        QVERIFY2(r.err.contains("roofs: "), r.err.constData());
        o = QJsonDocument::fromJson(readAll(json)).object();
        const QJsonObject roofs = o["machine_roofs"].toObject();
        const double bw = roofs["bandwidth_gbs"].toDouble(), gemm = roofs["gemm_gflops"].toDouble();
        QVERIFY2(bw > 0 && gemm > 0, qPrintable(QJsonDocument(roofs).toJson()));
        QCOMPARE(roofs["ridge_flop_per_byte"].toDouble(), gemm / bw);
        QVERIFY(roofs["threads"].toInt() >= 1);
        const QDateTime when = QDateTime::fromString(roofs["measured_utc"].toString(), Qt::ISODate);
        QVERIFY2(when.isValid() && when.timeSpec() == Qt::UTC && when >= before,
                 qPrintable(roofs["measured_utc"].toString()));
        const QJsonObject first =
            o["runs"].toArray()[0].toObject()["steps"].toArray()[0].toObject();
        QVERIFY(first.contains("bytes_moved"));

        r = runCli(run, config.path());  // remembered
        QCOMPARE(r.exitCode, 0);
        QVERIFY(!r.err.contains("roofs: "));  // not measured again
        QCOMPARE(QJsonDocument::fromJson(readAll(json)).object()["machine_roofs"].toObject(),
                 roofs);
        QVERIFY(runCli({"--help"}).out.contains("--measure-roofs"));
    }

    // The files hold the tokens' own text (a newline is a newline), as the tokenizer's bytes read
    // as UTF-8, and the 1-based rank the window shows: 1 for the candidate of highest raw logit,
    // the first of top_k.
    void filesHoldRealTextAndOneBasedRank() {
        QTemporaryDir dir;
        const QString json = dir.filePath("out.json"), csv = dir.filePath("out.csv");
        const Run r = runCli({"--headless", "--model", kModel, "--prompt", "Once upon\na time",
                              "--max-tokens", "40", "--temperature", "1.5", "--seed", "3", "--json",
                              json, "--csv", csv});
        QCOMPARE(r.exitCode, 0);
        const QJsonObject o = QJsonDocument::fromJson(readAll(json)).object();
        const QJsonArray steps = o["runs"][0]["steps"].toArray();
        QCOMPARE(steps.size(), 40);
        const Tokenizer& tok = *model_->tokenizer;
        auto realText = [&](int id) { return QString::fromStdString(tok.tokenBytes(id)); };
        int escapedOnScreen = 0, rankedBelowFirst = 0;
        for (const QJsonValue& s : steps) {
            const int id = s["token"].toInt();
            QCOMPARE(s["text"].toString(), realText(id));
            const QJsonArray top = s["top_k"].toArray();
            for (const QJsonValue& c : top) {
                QCOMPARE(c["text"].toString(), realText(c["id"].toInt()));
                escapedOnScreen += c["text"].toString() != tok.tokenDisplay(c["id"].toInt());
            }
            const int rank = s["rank"].toInt();
            QVERIFY(rank >= 1);
            if (rank <= top.size()) QCOMPARE(top[rank - 1]["id"].toInt(), id);
            rankedBelowFirst += rank > 1;
        }
        QVERIFY(escapedOnScreen > 0);   // some candidate is whitespace the window escapes
        QVERIFY(rankedBelowFirst > 0);  // at T 1.5 not every draw is the top candidate

        const QList<QStringList> rows = csvRecords(QString::fromUtf8(readAll(csv)));
        QCOMPARE(rows.size(), 1 + 40);
        const int text = int(rows[0].indexOf("text")), rank = int(rows[0].indexOf("rank"));
        for (int i = 0; i < 40; ++i) {
            QCOMPARE(rows[i + 1][text], steps[i]["text"].toString());
            QCOMPARE(rows[i + 1][rank].toInt(), steps[i]["rank"].toInt());
        }
    }

    // Limits and odd input as a user meets them (core.session, core.sampler and core.tokenizer pin
    // the rules themselves).
    void emptyPromptStartsFromEndOfText() {
        const QJsonObject o = runJson({"--prompt", "", "--max-tokens", "3"});
        QCOMPARE(ids(o["settings"]["prompt_ids"]),
                 std::vector<int>{model_->tokenizer->special().eot});
        const QJsonArray steps = o["runs"][0]["steps"].toArray();
        QCOMPARE(steps.size(), 3);
        QCOMPARE(steps[0]["position"].toInt(), 1);
    }

    void promptLongerThanTheContextIsAClearError() {
        const QString prompt = QStringLiteral("x ").repeated(300);
        const std::size_t n = encode(*model_->tokenizer, prompt.toUtf8()).size();
        QVERIFY(n >= 256);
        const Run r = runCli({"--headless", "--model", kModel, "--prompt", prompt});
        QCOMPARE(r.exitCode, 4);
        const QByteArray expected = QStringLiteral(
                                        "kvscope: The prompt has %1 tokens but the model's context "
                                        "holds 256: shorten it to at most 255 tokens to leave room "
                                        "for one new token.\n")
                                        .arg(n)
                                        .toUtf8();
        QCOMPARE(r.err, expected);
        QVERIFY(r.out.isEmpty());
    }

    void maxTokensZeroGeneratesNothing() {
        Run r;
        const QJsonObject o = runJson({"--prompt", "hello", "--max-tokens", "0"}, &r);
        QCOMPARE(r.exitCode, 0);
        QVERIFY2(r.err.contains("cached: 0 tokens") && r.err.contains("stop: max-tokens"),
                 r.err.constData());
        QCOMPARE(r.out, QByteArray("\n"));
        QCOMPARE(o["runs"][0]["steps"].toArray().size(), 0);
    }

    // Far beyond the context: it stops when the context is full, at position 255.
    void maxTokensBeyondTheContextStopsAtIt() {
        Run r;
        const QJsonObject o = runJson(
            {"--prompt", "hello", "--max-tokens", "16777216", "--no-attention", "--seed", "3"}, &r);
        QCOMPARE(r.exitCode, 0);
        QVERIFY2(r.err.contains("stop: context-full"), r.err.constData());
        const int prompt = int(o["settings"]["prompt_ids"].toArray().size());
        const QJsonArray steps = o["runs"][0]["steps"].toArray();
        QCOMPARE(steps.size(), 256 - prompt);
        QCOMPARE(steps.last()["position"].toInt(), 255);
    }

    // Arguments reach the program as bytes and Qt decodes them as UTF-8 (the C.UTF-8 locale):
    // each byte of an invalid sequence becomes U+FFFD, which the tokenizer then encodes as the
    // three bytes EF BF BD. A shell passes the raw bytes, which QProcess cannot.
    void invalidUtf8PromptBecomesReplacementCharacters() {
        QTemporaryDir dir;
        const QString json = dir.filePath("out.json");
        QProcess p;
        p.start(QStringLiteral("/bin/sh"),
                {"-c",
                 "exec \"$0\" --headless --model \"$1\" --max-tokens 2 --json \"$2\" "
                 "--prompt \"$(printf 'a\\377b\\300\\257c')\"",
                 QStringLiteral(KVSCOPE_BIN), kModel, json});
        QVERIFY(p.waitForFinished(120000));
        QCOMPARE(p.exitCode(), 0);
        const QJsonObject o = QJsonDocument::fromJson(readAll(json)).object();
        const QString expected = QStringLiteral(u"a\uFFFDb\uFFFD\uFFFDc");
        QCOMPARE(o["settings"]["prompt"].toString(), expected);
        QCOMPARE(ids(o["settings"]["prompt_ids"]), encode(*model_->tokenizer, expected.toUtf8()));
    }

    // Control characters (all but NUL, which no argument can hold) pass through unchanged.
    void controlCharactersInThePrompt() {
        QByteArray bytes;
        for (char c = 1; c < 0x20; ++c) bytes += c;
        bytes += "\x7f\xc2\x85\xe2\x80\xa8 end";  // DEL, NEL (U+0085), LINE SEPARATOR
        const QJsonObject o = runJson({"--prompt", QString::fromUtf8(bytes), "--max-tokens", "2"});
        QCOMPARE(o["settings"]["prompt"].toString().toUtf8(), bytes);
        const std::vector<int> promptIds = ids(o["settings"]["prompt_ids"]);
        QCOMPARE(promptIds, encode(*model_->tokenizer, bytes));
        QCOMPARE(model_->tokenizer->decode(promptIds), bytes.toStdString());
    }

    // Sampler limits through the options: top-p 0 and top-k 1 are greedy at any temperature and
    // seed; top-k above the vocabulary (512) is the same as top-k 0; temperature 1e3 with no
    // filter is nearly uniform (every chosen token's probability within 10% of 1/512); top-p 1
    // with top-k 0 at temperature 1 keeps the raw probabilities.
    void samplerLimits() {
        auto text = [](const QStringList& args) {
            const Run r = runCli(QStringList{"--headless", "--model", kModel, "--prompt",
                                             "Once upon", "--max-tokens", "40"} +
                                 args);
            if (r.exitCode != 0) qWarning("%s", r.err.constData());
            return r.out;
        };
        const QByteArray greedy = text({"--temperature", "0"});
        QVERIFY(!greedy.trimmed().isEmpty());
        QCOMPARE(text({"--temperature", "1.3", "--top-p", "0", "--seed", "5"}), greedy);
        QCOMPARE(text({"--temperature", "1.3", "--top-k", "1", "--top-p", "1", "--seed", "6"}),
                 greedy);
        const QStringList open{"--temperature", "1", "--top-p", "1", "--seed", "7"};
        const QByteArray sampled = text(open + QStringList{"--top-k", "0"});
        QVERIFY(sampled != greedy);
        QCOMPARE(text(open + QStringList{"--top-k", "1000000"}), sampled);

        const QJsonObject hot = runJson(
            {"--temperature", "1000", "--top-k", "0", "--top-p", "1", "--max-tokens", "30"});
        const QJsonArray hotSteps = hot["runs"][0]["steps"].toArray();
        QCOMPARE(hotSteps.size(), 30);
        for (const QJsonValue& s : hotSteps)
            QVERIFY2(std::abs(s["prob"].toDouble() * 512 - 1) < 0.1,
                     qPrintable(QString::number(s["prob"].toDouble())));

        const QJsonObject raw = runJson(open + QStringList{"--top-k", "0", "--max-tokens", "10"});
        for (const QJsonValue& s : raw["runs"][0]["steps"].toArray())
            for (const QJsonValue& c : s["top_k"].toArray())
                QVERIFY(std::abs(c["prob"].toDouble() - c["raw_prob"].toDouble()) < 1e-6);
    }

    // The chain's new options under llama.cpp's names: run.json records them; the defaults give
    // the same tokens as leaving them out; penalties change the text and both modes still agree;
    // each step says what every stage left and where the draw fell.
    void penaltiesAndMinP() {
        const QStringList base{"--prompt", "Once upon", "--max-tokens", "40", "--seed", "11"};
        Run plain, neutral;
        const QJsonObject a = runJson(base, &plain);
        const QJsonObject b = runJson(
            base + QStringList{"--min-p", "0", "--repeat-penalty", "1", "--presence-penalty", "0",
                               "--frequency-penalty", "0", "--repeat-last-n", "64"},
            &neutral);
        QCOMPARE(ids(a["runs"][0]["tokens"]), ids(b["runs"][0]["tokens"]));
        const QStringList chain{"--min-p",
                                "0.05",
                                "--repeat-penalty",
                                "1.5",
                                "--presence-penalty",
                                "0.5",
                                "--frequency-penalty",
                                "0.25",
                                "--repeat-last-n",
                                "-1",
                                "--mode",
                                "both"};
        Run run;
        const QJsonObject c = runJson(base + chain, &run);
        QCOMPARE(run.exitCode, 0);
        const QJsonObject settings = c["settings"].toObject();
        QCOMPARE(settings["min_p"].toDouble(), double(0.05f));
        QCOMPARE(settings["repeat_penalty"].toDouble(), 1.5);
        QCOMPARE(settings["presence_penalty"].toDouble(), 0.5);
        QCOMPARE(settings["frequency_penalty"].toDouble(), 0.25);
        QCOMPARE(settings["repeat_last_n"].toInt(), -1);
        QCOMPARE(settings["sampler_order"].toArray().first().toString(),
                 QStringLiteral("penalties"));
        QVERIFY(c["comparison"]["tokens_equal"].toBool());
        QVERIFY(ids(c["runs"][0]["tokens"]) != ids(a["runs"][0]["tokens"]));
        // A repeat penalty of 1.5 over the whole sequence: a token repeats far less often.
        auto repeats = [](const std::vector<int>& t) {
            return int(t.size()) - int(std::set<int>(t.begin(), t.end()).size());
        };
        QVERIFY2(repeats(ids(c["runs"][1]["tokens"])) < repeats(ids(a["runs"][0]["tokens"])),
                 qPrintable(QStringLiteral("%1 vs %2")
                                .arg(repeats(ids(c["runs"][1]["tokens"])))
                                .arg(repeats(ids(a["runs"][0]["tokens"])))));
        for (const QJsonValue& step : c["runs"][1]["steps"].toArray()) {
            const QJsonObject sm = step["sampler"].toObject();
            const double u = sm["u"].toDouble();
            QVERIFY(sm["cumulative_before"].toDouble() <= u &&
                    u < sm["cumulative_after"].toDouble());
            const QJsonObject left = sm["survivors"].toObject();
            QCOMPARE(left["raw"].toInt(), 512);
            QVERIFY(left["top-k"].toInt() <= 40);
            QVERIFY(left["min-p"].toInt() <= left["top-p"].toInt());
            QVERIFY(left["top-p"].toInt() <= left["top-k"].toInt());
        }
    }
};

QTEST_GUILESS_MAIN(TestCli)
#include "test_cli.moc"
