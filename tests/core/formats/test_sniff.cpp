// Files are identified by their bytes (formats/sniff.h), against each format's specification:
// safetensors' length prefix and JSON, llama2.c's "ak42" magic or a legacy header that accounts
// for the whole file, GGUF's magic, zip's local-file signature, pickle's PROTO opcode.

#include "formats/sniff.h"

#include <QFile>
#include <QtTest>

#include <cstring>

using namespace kvscope;

namespace {

FileKind sniff(const QByteArray& b) {
    return sniffFile(reinterpret_cast<const std::uint8_t*>(b.constData()), std::uint64_t(b.size()),
                     std::uint64_t(b.size()));
}

QByteArray fixture(const char* path) {
    QFile f(QStringLiteral(KVSCOPE_FIXTURES "/") + QLatin1String(path));
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

QByteArray int32s(std::initializer_list<std::int32_t> v) {
    QByteArray out;
    for (std::int32_t x : v) out.append(reinterpret_cast<const char*>(&x), 4);
    return out;
}

}  // namespace

class TestSniff : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void realFiles() {
        QCOMPARE(sniff(fixture("reference/model/model.safetensors")), FileKind::Safetensors);
        QCOMPARE(sniff(fixture("reference/llama/gqa.bin")), FileKind::Llama2c);
        QCOMPARE(sniff(fixture("reference/llama/mqa_v1.bin")), FileKind::Llama2c);
        // A tokenizer.bin is not a checkpoint.
        QCOMPARE(sniff(fixture("reference/llama/tokenizer.bin")), FileKind::Unknown);
    }

    void magics() {
        QCOMPARE(sniff(QByteArray("GGUF\x03\x00\x00\x00", 8)), FileKind::Gguf);
        QCOMPARE(sniff(QByteArray("PK\x03\x04rest of a zip", 18)), FileKind::Zip);
        for (char protocol : {'\x02', '\x03', '\x04', '\x05'})
            QCOMPARE(sniff(QByteArray("\x80") + protocol + QByteArray("}q\x00.", 4)),
                     FileKind::Pickle);
        QCOMPARE(sniff(QByteArray("\x80\x01}.", 4)), FileKind::Unknown);  // no such protocol
        QCOMPARE(sniff(QByteArray()), FileKind::Unknown);
        QCOMPARE(sniff(QByteArray("hello, world")), FileKind::Unknown);
        // safetensors: the announced header must fit and open a JSON object.
        QByteArray st(8, '\0');
        st[0] = 2;
        QCOMPARE(sniff(st + "{}"), FileKind::Safetensors);
        QCOMPARE(sniff(st + "[]"), FileKind::Unknown);
        st[0] = 100;
        QCOMPARE(sniff(st + "{}"), FileKind::Unknown);
    }

    // dim = 640 is stored as the bytes 80 02 00 00, which is also how a protocol-2 pickle
    // opens; a legacy header whose sizes account for the file exactly is a checkpoint.
    void legacyHeaderThatLooksLikeAPickle() {
        const std::int64_t dim = 640, hidden = 4, layers = 1, kv = 1, vocab = 1, seq = 1;
        const std::int64_t headDim = dim;  // one head
        const std::int64_t floats = vocab * dim + layers * dim + layers * dim * dim +
                                    2 * layers * dim * (kv * headDim) + layers * dim * dim +
                                    layers * dim + 3 * layers * hidden * dim + dim +
                                    2 * seq * headDim / 2;
        QByteArray file = int32s({640, 4, 1, 1, 1, 1, 1});
        QCOMPARE(quint8(file[0]), quint8(0x80));
        QCOMPARE(quint8(file[1]), quint8(0x02));
        file.append(QByteArray(qsizetype(floats * 4), '\0'));
        QCOMPARE(sniff(file), FileKind::Llama2c);
        file.chop(4);  // one float short: no longer accounts for the file, so it reads as pickle
        QCOMPARE(sniff(file), FileKind::Pickle);
    }

    void namesAndDescriptions() {
        QVERIFY(fileKindName(FileKind::Pickle).contains(QStringLiteral("pickle")));
        const QByteArray b("\x01\x02xyz", 5);
        const QString d =
            describeLeadingBytes(reinterpret_cast<const std::uint8_t*>(b.constData()), 5);
        QVERIFY2(
            d.contains(QStringLiteral("01 02 78 79 7a")) && d.contains(QStringLiteral("..xyz")),
            qPrintable(d));
    }
};

QTEST_GUILESS_MAIN(TestSniff)
#include "test_sniff.moc"
