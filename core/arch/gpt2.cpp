#include "arch/gpt2.h"

#include "nn/linear.h"
#include "util/parallel.h"

#include <Eigen/Core>

#include <cmath>
#include <new>
#include <numbers>
#include <vector>

namespace kvscope {
namespace {

// A head's slice of a (positions, width) row-major buffer.
using HeadMap = Eigen::Map<const RowMatrix, 0, Eigen::OuterStride<>>;
using ConstRowVector = Eigen::Map<const Eigen::RowVectorXf>;

constexpr int kQueryBlock = 64;

struct Norm {
    const float* gain = nullptr;  // (d)
    const float* bias = nullptr;  // (d)
};

struct Layer {
    Norm ln1, ln2;
    Linear attn;   // (3d, d)
    Linear proj;   // (d, d)
    Linear fc;     // (inner, d)
    Linear mProj;  // (d, inner)
};

struct Gpt2State final : InferenceState {
    RowMatrix x, xn, qkv, att, fc;         // (ctx, d), (ctx, d), (ctx, 3d), (ctx, d), (ctx, inner)
    std::vector<RowMatrix> k, v;           // n_layer x (ctx, d)
    std::vector<RowMatrix> scores;         // per head (kQueryBlock, ctx): a block of query rows
    std::vector<FlopBreakdown> headFlops;  // per head, so heads on different threads never share
    int d = 0, layers = 0;

    std::int64_t kvCacheBytes(std::int64_t n) const override {
        return 2 * std::int64_t(layers) * n * d * std::int64_t(sizeof(float));
    }
};

// Every weight, copied out of the file at load. Conv1D matrices arrive (in, out) and are
// transposed once to (out, in), the layout the decode step's matrix-vector products want.
struct Gpt2Weights {
    std::vector<AlignedFloats> buffers;
    const float* wte = nullptr;  // (vocab, d): already (out, in) for the tied lm_head
    const float* wpe = nullptr;  // (n_positions, d)
    std::vector<Layer> layers;
    Norm lnF;
    Linear lmHead;
    std::int64_t parameters = 0;
};

class WeightBinder {
public:
    WeightBinder(const ModelConfig& c, WeightStore& store, Gpt2Weights& w) : store_(store), w_(w) {
        origin_ = QStringLiteral(
                      "config.json (n_embd=%1, n_inner=%2, vocab_size=%3, "
                      "n_positions=%4)")
                      .arg(c.nEmbd)
                      .arg(c.nInner)
                      .arg(c.vocabSize)
                      .arg(c.nPositions);
    }

    // A tensor copied as it is stored, `shape` elements.
    const float* copy(const QString& name, std::initializer_list<std::int64_t> shape) {
        const TensorInfo& t = store_.find(name, shape, origin_);
        float* dst = allocate(t.elementCount(), name);
        store_.read(t, dst);
        return dst;
    }

    // A Conv1D weight stored (in, out), returned as a Linear with its bias.
    Linear conv1d(const QString& prefix, int in, int out) {
        const QString name = prefix + QStringLiteral(".weight");
        const TensorInfo& t = store_.find(name, {in, out}, origin_);
        scratch_.resize(std::size_t(t.elementCount()));
        store_.read(t, scratch_.data());
        float* dst = allocate(t.elementCount(), name);
        Eigen::Map<RowMatrix>(dst, out, in) =
            Eigen::Map<const RowMatrix>(scratch_.data(), in, out).transpose();
        return Linear{dst, copy(prefix + QStringLiteral(".bias"), {out}), out, in};
    }

    Norm norm(const QString& prefix, int d) {
        return Norm{copy(prefix + QStringLiteral(".weight"), {d}),
                    copy(prefix + QStringLiteral(".bias"), {d})};
    }

private:
    float* allocate(std::int64_t count, const QString& name) {
        try {
            w_.buffers.push_back(allocateAligned(count));
        } catch (const std::bad_alloc&) {
            throw LoadError(QStringLiteral("%1: out of memory for tensor \"%2\" (%3 bytes)")
                                .arg(store_.fileName(), name)
                                .arg(count * 4));
        }
        w_.parameters += count;
        return w_.buffers.back().get();
    }

    WeightStore& store_;
    Gpt2Weights& w_;
    QString origin_;
    std::vector<float> scratch_;
};

// Looks up every tensor by its Hugging Face GPT-2 name and checks its shape against the config.
void bindWeights(const ModelConfig& c, WeightStore& store, const std::function<void(int)>& done,
                 Gpt2Weights& w) {
    const int d = c.nEmbd, inner = c.nInner;
    WeightBinder bind(c, store, w);
    w.wte = bind.copy(QStringLiteral("wte.weight"), {c.vocabSize, d});
    w.wpe = bind.copy(QStringLiteral("wpe.weight"), {c.nPositions, d});
    for (int i = 0; i < c.nLayer; ++i) {
        const QString p = QStringLiteral("h.%1.").arg(i);
        Layer layer;
        layer.ln1 = bind.norm(p + QStringLiteral("ln_1"), d);
        layer.attn = bind.conv1d(p + QStringLiteral("attn.c_attn"), d, 3 * d);
        layer.proj = bind.conv1d(p + QStringLiteral("attn.c_proj"), d, d);
        layer.ln2 = bind.norm(p + QStringLiteral("ln_2"), d);
        layer.fc = bind.conv1d(p + QStringLiteral("mlp.c_fc"), d, inner);
        layer.mProj = bind.conv1d(p + QStringLiteral("mlp.c_proj"), inner, d);
        w.layers.push_back(layer);
        if (done) done(i);
    }
    w.lnF = bind.norm(QStringLiteral("ln_f"), d);
    w.lmHead = Linear{w.wte, nullptr, c.vocabSize, d};
}

class Gpt2 final : public Transformer {
public:
    Gpt2(const ModelConfig& c, WeightStore& store, const std::function<void(int)>& layerDone)
        : c_(c) {
        bindWeights(c_, store, layerDone, w_);
    }

    const ModelConfig& config() const override { return c_; }
    std::int64_t parameterCount() const override { return w_.parameters; }
    std::unique_ptr<InferenceState> newState() const override;
    bool forward(InferenceState& state, std::span<const int> tokens, int start,
                 const ForwardHooks& hooks, FlopBreakdown& counted,
                 std::span<float> logits) const override;

private:
    void layerNorm(const Norm& n, Eigen::Ref<RowMatrix> out, const Eigen::Ref<const RowMatrix>& in,
                   FlopBreakdown& f) const;
    bool attention(Gpt2State& s, int layer, int start, int n, const ForwardHooks& hooks,
                   FlopBreakdown& f) const;
    bool attentionHead(Gpt2State& s, int layer, int head, int start, int n, AttentionSink* sink,
                       const std::atomic<bool>& cancelled) const;
    void mlp(Gpt2State& s, const Layer& w, int start, int rows, FlopBreakdown& f) const;

    ModelConfig c_;
    Gpt2Weights w_;
};

std::unique_ptr<InferenceState> Gpt2::newState() const {
    auto s = std::make_unique<Gpt2State>();
    const int ctx = c_.nPositions, d = c_.nEmbd;
    s->d = d;
    s->layers = c_.nLayer;
    s->x.resize(ctx, d);
    s->xn.resize(ctx, d);
    s->qkv.resize(ctx, 3 * d);
    s->att.resize(ctx, d);
    s->fc.resize(ctx, c_.nInner);
    s->k.assign(c_.nLayer, RowMatrix(ctx, d));
    s->v.assign(c_.nLayer, RowMatrix(ctx, d));
    s->scores.assign(c_.nHead, RowMatrix(kQueryBlock, ctx));
    s->headFlops.resize(c_.nHead);
    return s;
}

void Gpt2::layerNorm(const Norm& n, Eigen::Ref<RowMatrix> out,
                     const Eigen::Ref<const RowMatrix>& in, FlopBreakdown& f) const {
    const float invD = 1.0f / float(in.cols());
    const ConstRowVector gain(n.gain, in.cols()), bias(n.bias, in.cols());
    const std::int64_t work = kLayerNormFlopsPerElement * in.rows() * in.cols();
    parallelChunks(int(in.rows()), work, 8, [&](int begin, int end) {
        for (int r = begin; r < end; ++r) {
            const float mean = in.row(r).sum() * invD;
            const float var = (in.row(r).array() - mean).square().sum() * invD;
            const float rstd = 1.0f / std::sqrt(var + c_.normEps);
            out.row(r) = ((in.row(r).array() - mean) * rstd * gain.array() + bias.array()).matrix();
        }
    });
    f.other += work;
}

// Query rows [start, n) of one head, in blocks of kQueryBlock rows. For a block [i0, i1) the
// keys before i0 are visible to every row, so scores and mixing over them are two matrix-matrix
// products; the keys i0..row inside the block's diagonal are done row by row. That keeps the work
// exactly the causal triangle (no masked cell is computed) while most of it runs as GEMM, which
// is what makes a long naive step fast. Polls `cancelled` once per block.
bool Gpt2::attentionHead(Gpt2State& s, int layer, int h, int start, int n, AttentionSink* sink,
                         const std::atomic<bool>& cancelled) const {
    const int d = c_.nEmbd, hd = c_.headDim();
    const float scale = 1.0f / std::sqrt(float(hd));
    const HeadMap K(s.k[layer].data() + h * hd, n, hd, Eigen::OuterStride<>(d));
    const HeadMap V(s.v[layer].data() + h * hd, n, hd, Eigen::OuterStride<>(d));
    RowMatrix& scores = s.scores[h];
    FlopBreakdown& f = s.headFlops[h];
    for (int i0 = start; i0 < n; i0 += kQueryBlock) {
        if (i0 > start && cancelled.load(std::memory_order_relaxed)) return false;
        const int m = std::min(kQueryBlock, n - i0);
        const HeadMap Q(s.qkv.data() + std::int64_t(i0) * 3 * d + h * hd, m, hd,
                        Eigen::OuterStride<>(3 * d));
        Eigen::Map<RowMatrix, 0, Eigen::OuterStride<>> out(
            s.att.data() + std::int64_t(i0) * d + h * hd, m, hd, Eigen::OuterStride<>(d));
        auto S = scores.topRows(m);
        if (i0 > 0) S.leftCols(i0).noalias() = Q * K.topRows(i0).transpose();
        countMatmul(f.scores, m, hd, i0);
        for (int r = 0; r < m; ++r) {
            const int keys = i0 + r + 1;
            S.row(r).segment(i0, r + 1).noalias() =
                (K.middleRows(i0, r + 1) * Q.row(r).transpose()).transpose();
            countMatmul(f.scores, 1, hd, r + 1);
            auto p = S.row(r).head(keys);
            p *= scale;
            p.array() = (p.array() - p.maxCoeff()).exp();
            p /= p.sum();
            f.other += kSoftmaxFlopsPerScore * keys;
            if (sink) sink->attentionRow(layer, h, i0 + r, p.data());
        }
        if (i0 > 0)
            out.noalias() = S.leftCols(i0) * V.topRows(i0);
        else
            out.setZero();
        countMatmul(f.attnV, m, i0, hd);
        for (int r = 0; r < m; ++r) {
            out.row(r).noalias() += S.row(r).segment(i0, r + 1) * V.middleRows(i0, r + 1);
            countMatmul(f.attnV, 1, r + 1, hd);
        }
    }
    return true;
}

// Heads are independent, so they run on the compute threads; the sink receives rows from
// several threads at once (AttentionCapture allows it).
bool Gpt2::attention(Gpt2State& s, int layer, int start, int n, const ForwardHooks& hooks,
                     FlopBreakdown& f) const {
    const std::int64_t rows = n - start;
    const std::int64_t work = rows * (start + n + 1) * c_.nEmbd;  // both products, all heads
    static const std::atomic<bool> never{false};
    const std::atomic<bool>& cancel = hooks.cancel ? *hooks.cancel : never;
    std::atomic<bool> stopped{false};
    for (FlopBreakdown& hf : s.headFlops) hf = {};
    parallelItems(c_.nHead, work, [&](int h) {
        if (stopped.load(std::memory_order_relaxed) || cancel.load(std::memory_order_relaxed) ||
            !attentionHead(s, layer, h, start, n, hooks.attention, cancel))
            stopped.store(true, std::memory_order_relaxed);
    });
    for (const FlopBreakdown& hf : s.headFlops) f += hf;
    return !stopped.load();
}

void Gpt2::mlp(Gpt2State& s, const Layer& w, int start, int rows, FlopBreakdown& f) const {
    const int inner = c_.nInner;
    auto xn = s.xn.middleRows(start, rows);
    auto fc = s.fc.middleRows(start, rows);
    layerNorm(w.ln2, xn, s.x.middleRows(start, rows), f);
    applyLinear(w.fc, xn, fc);
    countMatmul(f.mlp, rows, c_.nEmbd, inner);
    f.other += kAddFlopsPerElement * rows * inner;
    // GPT-2's tanh approximation of GELU.
    const float c = std::sqrt(2.0f / std::numbers::pi_v<float>);
    parallelChunks(rows, kGeluFlopsPerElement * rows * inner, 4, [&](int begin, int end) {
        auto a = fc.middleRows(begin, end - begin).array();
        a = 0.5f * a * (1.0f + (c * (a + 0.044715f * a.cube())).tanh());
    });
    f.other += kGeluFlopsPerElement * rows * inner;
    applyLinear(w.mProj, fc, xn);
    countMatmul(f.mlp, rows, inner, c_.nEmbd);
    s.x.middleRows(start, rows) += xn;
    f.other += 2 * kAddFlopsPerElement * rows * c_.nEmbd;
}

bool Gpt2::forward(InferenceState& state, std::span<const int> tokens, int start,
                   const ForwardHooks& hooks, FlopBreakdown& f, std::span<float> logits) const {
    auto& s = static_cast<Gpt2State&>(state);
    const int n = int(tokens.size()), rows = n - start, d = c_.nEmbd;
    for (int i = start; i < n; ++i)
        s.x.row(i) = ConstRowVector(w_.wte + std::int64_t(tokens[i]) * d, d) +
                     ConstRowVector(w_.wpe + std::int64_t(i) * d, d);
    f.other += kAddFlopsPerElement * rows * d;

    for (int l = 0; l < c_.nLayer; ++l) {
        const Layer& w = w_.layers[l];
        auto xn = s.xn.middleRows(start, rows);
        auto qkv = s.qkv.middleRows(start, rows);
        layerNorm(w.ln1, xn, s.x.middleRows(start, rows), f);
        applyLinear(w.attn, xn, qkv);
        countMatmul(f.qkv, rows, d, 3 * d);
        f.other += kAddFlopsPerElement * rows * 3 * d;
        s.k[l].middleRows(start, rows) = qkv.middleCols(d, d);
        s.v[l].middleRows(start, rows) = qkv.middleCols(2 * d, d);

        if (!attention(s, l, start, n, hooks, f)) return false;

        applyLinear(w.proj, s.att.middleRows(start, rows), xn);
        countMatmul(f.outProj, rows, d, d);
        s.x.middleRows(start, rows) += xn;
        f.other += 2 * kAddFlopsPerElement * rows * d;

        mlp(s, w, start, rows, f);
    }

    // Only the last position's logits are needed to sample the next token.
    auto last = s.xn.row(n - 1);
    layerNorm(w_.lnF, last, s.x.row(n - 1), f);
    Eigen::Map<RowMatrix> out(logits.data(), 1, c_.vocabSize);
    applyLinear(w_.lmHead, last, out);
    countMatmul(f.lmHead, c_.vocabSize, d, 1);
    return true;
}

}  // namespace

std::unique_ptr<Transformer> makeGpt2(const ModelConfig& config, WeightStore& weights,
                                      const std::function<void(int)>& layerDone) {
    return std::make_unique<Gpt2>(config, weights, layerDone);
}

}  // namespace kvscope
