#include "cost/what_if.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace kvscope::whatif {
namespace {

using Wide = __int128;  // exact counts: cumulative naive FLOPs reach ~1e24 at a million tokens

// The work of one or many passes in the units every FLOP component is affine in.
struct Work {
    Wide rows = 0;    // query rows computed, summed over the passes
    Wide keys = 0;    // keys those rows saw, summed
    Wide passes = 0;  // forward passes
};

Wide sumTo(Wide n) {  // 1 + 2 + ... + n
    return n * (n + 1) / 2;
}
Wide sumSquaresTo(Wide n) {  // 1 + 4 + ... + n^2
    return n * (n + 1) * (2 * n + 1) / 6;
}

Work stepWork(std::int64_t n, Mode mode) {
    if (mode == Mode::Cached) return {1, n, 1};
    return {n, sumTo(n), 1};
}

// Steps prompt..length of one run, the first being the prefill (a naive pass over the prompt).
Work runWork(std::int64_t prompt, std::int64_t length, Mode mode) {
    if (length < prompt || prompt < 1) return {};
    const Wide p = prompt, n = length;
    if (mode == Mode::Naive) {
        // sum over lengths m = p..N of (m rows, m (m + 1) / 2 keys)
        const Wide rows = sumTo(n) - sumTo(p - 1);
        const Wide keys = (sumSquaresTo(n) + sumTo(n) - sumSquaresTo(p - 1) - sumTo(p - 1)) / 2;
        return {rows, keys, n - p + 1};
    }
    // the prefill, then one row per step seeing m = p+1..N keys
    return {p + (n - p), sumTo(p) + sumTo(n) - sumTo(p), n - p + 1};
}

// alpha (per row), beta (per key) and gamma (per pass) of every component, read off the closed
// form of one pass at three small points: (r, K) = (1, 1), (1, 2) and (2, 3).
struct Coefficients {
    FlopBreakdown perRow, perKey, perPass;
};

Coefficients coefficients(const ModelConfig& c) {
    const FlopBreakdown f01 = forwardFlops(c, 0, 1), f12 = forwardFlops(c, 1, 2),
                        f02 = forwardFlops(c, 0, 2);
    Coefficients k;
    for (const FlopComponent& comp : kFlopComponents) {
        const auto m = comp.field;
        const std::int64_t beta = f12.*m - f01.*m;
        const std::int64_t alpha = f02.*m - f12.*m - beta;
        k.perKey.*m = beta;
        k.perRow.*m = alpha;
        k.perPass.*m = f01.*m - alpha - beta;
    }
    return k;
}

struct WideBreakdown {
    Wide attention = 0, weights = 0, other = 0;
    Wide parts[kFlopComponentCount] = {};
};

WideBreakdown apply(const Coefficients& k, const Work& w) {
    WideBreakdown b;
    for (int i = 0; i < kFlopComponentCount; ++i) {
        const auto m = kFlopComponents[i].field;
        b.parts[i] =
            Wide(k.perRow.*m) * w.rows + Wide(k.perKey.*m) * w.keys + Wide(k.perPass.*m) * w.passes;
    }
    // Sorted into the three groups by the same member accessors FlopBreakdown uses.
    FlopBreakdown probe;
    for (int i = 0; i < kFlopComponentCount; ++i) {
        probe = {};
        probe.*kFlopComponents[i].field = 1;
        if (probe.attention())
            b.attention += b.parts[i];
        else if (probe.weightProducts())
            b.weights += b.parts[i];
        else
            b.other += b.parts[i];
    }
    return b;
}

FlopSplit toSplit(const WideBreakdown& b) {
    return {double(b.attention), double(b.weights), double(b.other)};
}

// Smallest n in [1, limit] where `holds` (false below it, true from it on), else nullopt.
template <class Pred>
std::optional<std::int64_t> firstWhere(std::int64_t limit, const Pred& holds) {
    if (limit < 1 || !holds(limit)) return std::nullopt;
    std::int64_t lo = 1, hi = limit;
    while (lo < hi) {
        const std::int64_t mid = lo + (hi - lo) / 2;
        if (holds(mid))
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

// Cumulative crossover sums grow as n^3 times a coefficient up to ~2^28: 2^30 keeps them within
// 128 bits.
constexpr std::int64_t kSearchCap = std::int64_t(1) << 30;

double slope(double y0, double y1, double x0, double x1) {
    return std::log(y1 / y0) / std::log(x1 / x0);
}

}  // namespace

FlopSplit stepSplit(const ModelConfig& c, std::int64_t n, Mode mode) {
    return toSplit(apply(coefficients(c), stepWork(n, mode)));
}

FlopSplit cumulativeSplit(const ModelConfig& c, std::int64_t prompt, std::int64_t length,
                          Mode mode) {
    return toSplit(apply(coefficients(c), runWork(prompt, length, mode)));
}

std::optional<FlopBreakdown> cumulativeFlopsClosedForm(const ModelConfig& c, std::int64_t prompt,
                                                       std::int64_t newTokens, Mode mode) {
    if (newTokens <= 0) return FlopBreakdown{};
    const WideBreakdown b = apply(coefficients(c), runWork(prompt, prompt + newTokens - 1, mode));
    FlopBreakdown out;
    for (int i = 0; i < kFlopComponentCount; ++i) {
        if (b.parts[i] > std::numeric_limits<std::int64_t>::max()) return std::nullopt;
        out.*kFlopComponents[i].field = std::int64_t(b.parts[i]);
    }
    return out;
}

std::optional<std::int64_t> stepCrossover(const ModelConfig& c, Mode mode, std::int64_t limit) {
    const Coefficients k = coefficients(c);
    return firstWhere(std::min(limit, kSearchCap), [&](std::int64_t n) {
        const WideBreakdown b = apply(k, stepWork(n, mode));
        return b.attention >= b.weights;
    });
}

std::optional<std::int64_t> cumulativeCrossover(const ModelConfig& c, Mode mode,
                                                std::int64_t limit) {
    const Coefficients k = coefficients(c);
    return firstWhere(std::min(limit, kSearchCap), [&](std::int64_t n) {
        const WideBreakdown b = apply(k, runWork(1, n, mode));
        return b.attention >= b.weights;
    });
}

std::vector<DecadeSlope> decadeSlopes(const ModelConfig& c, std::int64_t length) {
    std::vector<DecadeSlope> out;
    for (std::int64_t a = 1; a < length; a *= 10) {
        const std::int64_t b = std::min(a * 10, length);
        const double x0 = double(a), x1 = double(b);
        DecadeSlope s{a, b};
        s.naiveStep = slope(stepSplit(c, a, Mode::Naive).total(),
                            stepSplit(c, b, Mode::Naive).total(), x0, x1);
        s.cachedStep = slope(stepSplit(c, a, Mode::Cached).total(),
                             stepSplit(c, b, Mode::Cached).total(), x0, x1);
        const FlopSplit na = cumulativeSplit(c, 1, a, Mode::Naive),
                        nb = cumulativeSplit(c, 1, b, Mode::Naive),
                        ca = cumulativeSplit(c, 1, a, Mode::Cached),
                        cb = cumulativeSplit(c, 1, b, Mode::Cached);
        s.naiveCumulative = slope(na.total(), nb.total(), x0, x1);
        s.cachedCumulative = slope(ca.total(), cb.total(), x0, x1);
        s.naiveAttentionCumulative = slope(na.attention, nb.attention, x0, x1);
        s.cachedAttentionCumulative = slope(ca.attention, cb.attention, x0, x1);
        out.push_back(s);
    }
    return out;
}

TensorShapes tensorShapes(const ModelConfig& c) {
    const std::int64_t L = c.nLayer, d = c.nEmbd, inner = c.nInner, kv = c.kvDim();
    const std::int64_t q = std::int64_t(c.nHead) * c.headDim();
    const bool gelu = c.activation == Activation::GeluTanh;
    TensorShapes t;
    // The token embedding is read one row per step unless it is also the classifier.
    t.matrices.push_back({c.vocabSize, d, 1, !c.tiedLmHead});
    if (c.positions == PositionKind::Learned) t.matrices.push_back({c.nPositions, d, 1, true});
    t.matrices.push_back({q, d, L});                     // Q    (q, d)
    t.matrices.push_back({kv, d, 2 * L});                // K, V (kv, d)
    t.matrices.push_back({d, q, L});                     // output projection (d, q)
    t.matrices.push_back({inner, d, gelu ? L : 2 * L});  // up (and SwiGLU's gate) (inner, d)
    t.matrices.push_back({d, inner, L});                 // down (d, inner)
    if (!c.tiedLmHead) t.matrices.push_back({c.vocabSize, d, 1});
    const std::int64_t normValues = c.norm == NormKind::LayerNorm ? 2 * d : d;  // gain (+ bias)
    std::int64_t perLayer = 2 * normValues;
    if (c.attnBias) perLayer += q + 2 * kv;
    if (c.projBias) perLayer += d + (gelu ? inner : 2 * inner) + d;
    t.vectorValues = L * perLayer + normValues;  // and the final norm
    return t;
}

std::int64_t parameterCount(const ModelConfig& c) {
    const TensorShapes t = tensorShapes(c);
    std::int64_t n = t.vectorValues;
    for (const auto& m : t.matrices) n += m.rows * m.cols * m.count;
    return n;
}

std::int64_t rowBytes(std::int64_t values, GgmlType type) {
    const GgmlTypeTraits t = ggmlTypeTraits(type);
    return (values + t.blockSize - 1) / t.blockSize * t.blockBytes;
}

std::int64_t weightBytes(const ModelConfig& c, GgmlType type) {
    const TensorShapes t = tensorShapes(c);
    std::int64_t bytes = t.vectorValues * 4;
    for (const auto& m : t.matrices) bytes += m.count * m.rows * rowBytes(m.cols, type);
    return bytes;
}

std::int64_t weightBytesPerStep(const ModelConfig& c, GgmlType type) {
    std::int64_t unread = 0;
    for (const auto& m : tensorShapes(c).matrices)
        if (m.lookupTable) unread += m.count * (m.rows - 1) * rowBytes(m.cols, type);
    return weightBytes(c, type) - unread;
}

std::int64_t kvBytes(const ModelConfig& c, std::int64_t n, int kvHeads, GgmlType type) {
    return 2 * std::int64_t(c.nLayer) * n * rowBytes(std::int64_t(kvHeads) * c.headDim(), type);
}

StepTime stepTime(const ModelConfig& c, std::int64_t n, Mode mode, GgmlType weightType,
                  GgmlType kvType, const Roofs& roofs) {
    StepTime t;
    t.flops = stepSplit(c, n, mode).total();
    t.bytes = double(weightBytesPerStep(c, weightType));
    if (mode == Mode::Cached) t.bytes += double(kvBytes(c, n, c.nKvHead, kvType));
    if (roofs.valid()) {
        t.memorySeconds = t.bytes / (roofs.bandwidthGBs * 1e9);
        t.computeSeconds = t.flops / (roofs.gemmGflops * 1e9);
    }
    return t;
}

}  // namespace kvscope::whatif
