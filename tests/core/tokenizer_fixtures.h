#pragma once
// Shared by the tokenizer tests: the committed fixtures of tests/tokenizer (peer ids, compressed
// tokenizer.json files) and a readable report of the first id where two tokenizations differ.

#include <QByteArray>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QString>
#include <QStringList>

#include <string>
#include <vector>

namespace kvscope::test {

inline const QString kTokenizerFixtures = QStringLiteral(KVSCOPE_FIXTURES "/tokenizer");

inline QByteArray readFixture(const QString& relative) {
    QFile file(kTokenizerFixtures + QLatin1Char('/') + relative);
    if (!file.open(QIODevice::ReadOnly)) qFatal("cannot read %s", qPrintable(file.fileName()));
    return file.readAll();
}

// A .zlib fixture: qCompress's layout (4-byte big-endian length, then a zlib stream), written by
// make_hf_fixture.mjs and make_llama2_hf_json.py.
inline QByteArray readZlibFixture(const QString& relative) {
    const QByteArray data = qUncompress(readFixture(relative));
    if (data.isEmpty()) qFatal("cannot uncompress %s", qPrintable(relative));
    return data;
}

struct PeerEntry {
    std::string text;  // UTF-8
    std::vector<int> ids;
};

// {"entries": [{"text", "ids"}]} as the fixture scripts write it, or the bare list of
// gpt2_peer_ids.json.
inline std::vector<PeerEntry> readPeerIds(const QString& relative) {
    const QJsonDocument doc = QJsonDocument::fromJson(readFixture(relative));
    const QJsonArray list =
        doc.isArray() ? doc.array() : doc.object().value(QStringLiteral("entries")).toArray();
    std::vector<PeerEntry> entries;
    for (const QJsonValue& v : list) {
        const QJsonObject e = v.toObject();
        PeerEntry entry;
        entry.text = e.value(QStringLiteral("text")).toString().toStdString();
        for (const QJsonValue& id : e.value(QStringLiteral("ids")).toArray()) {
            entry.ids.push_back(id.toInt(-1));
        }
        entries.push_back(std::move(entry));
    }
    return entries;
}

inline QString idList(const std::vector<int>& ids) {
    QStringList parts;
    for (int id : ids) parts << QString::number(id);
    return QLatin1Char('[') + parts.join(QLatin1Char(',')) + QLatin1Char(']');
}

// "" when equal, else which text, where they part and both lists.
inline QString mismatch(const std::string& text, const std::vector<int>& ours,
                        const std::vector<int>& theirs) {
    if (ours == theirs) return {};
    std::size_t at = 0;
    while (at < ours.size() && at < theirs.size() && ours[at] == theirs[at]) ++at;
    return QStringLiteral("text %1: first mismatch at position %2\n  ours: %3\n  peer: %4")
        .arg(QString::fromUtf8(
            QJsonDocument(QJsonArray{QString::fromStdString(text)}).toJson(QJsonDocument::Compact)))
        .arg(at)
        .arg(idList(ours), idList(theirs));
}

}  // namespace kvscope::test
