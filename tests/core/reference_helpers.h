#pragma once
// Test support shared by the tests that hold the engine against a PyTorch reference's
// expected.json (tests/reference, tests/reference/llama).

#include "run/lockstep.h"

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

// Naive and cached in lockstep on one seed (top-k 50, top-p 0.95): what the two modes did.
struct NaiveVsCached {
    int steps = 0;            // tokens each mode generated
    float maxLogitDiff = -1;  // largest logit difference of any step
    bool tokensEqual = false;
    bool bothReachedMaxTokens = false;
    std::vector<int> generated;  // the naive run's new tokens
};

inline NaiveVsCached runNaiveAndCached(const ModelPtr& model, const std::vector<int>& prompt,
                                       float temperature, int tokens) {
    GenerationSettings s = greedy(Mode::Naive, tokens);
    s.sampler = SamplerSettings{temperature, 50, 0.95f, 1234567890123ull, 20};
    auto run = LockstepRun::start(model, prompt, s, {Mode::Naive, Mode::Cached});
    if (!run) qFatal("%s", qPrintable(run.errorMessage()));
    NaiveVsCached out;
    const LockstepOutcome o = run.value()->run({}, [&](std::size_t mode, const StepResultPtr& r) {
        if (mode == 0) {
            ++out.steps;
            out.generated.push_back(r->token);
        }
    });
    out.maxLogitDiff = o.maxLogitDiff.value_or(-1);
    out.tokensEqual = o.tokensEqual;
    out.bothReachedMaxTokens = o.stops.size() == 2 && o.stops[0] == StopReason::MaxTokens &&
                               o.stops[1] == StopReason::MaxTokens;
    return out;
}

}  // namespace kvscope::test
