#pragma once
// Test support shared by the tests that hold the engine against a PyTorch reference's
// expected.json (tests/reference, tests/reference/llama).

#include "run/generation_session.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtGlobal>

#include <algorithm>
#include <cmath>
#include <span>
#include <vector>

namespace kvscope::test {

inline QJsonObject readJson(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) qFatal("cannot open %s", qPrintable(path));
    return QJsonDocument::fromJson(f.readAll()).object();
}

inline std::vector<int> ids(const QJsonValue& v) {
    std::vector<int> out;
    for (const QJsonValue& x : v.toArray()) out.push_back(x.toInt());
    return out;
}

// Largest |a[i] - b[i]|; infinity when the lengths differ.
inline float maxDiff(std::span<const float> a, const QJsonArray& b) {
    if (qsizetype(a.size()) != b.size()) return INFINITY;
    float m = 0;
    for (qsizetype i = 0; i < b.size(); ++i)
        m = std::max(m, std::abs(a[std::size_t(i)] - float(b[i].toDouble())));
    return m;
}

inline GenerationSettings greedy(Mode mode, int tokens) {
    GenerationSettings s;
    s.mode = mode;
    s.maxNewTokens = tokens;
    s.sampler.temperature = 0;
    return s;
}

}  // namespace kvscope::test
