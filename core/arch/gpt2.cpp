#include "arch/gpt2.h"

#include "model/weight_binder.h"
#include "nn/activations.h"
#include "nn/causal_attention.h"
#include "nn/norms.h"
#include "nn/read_ahead.h"

#include <Eigen/Core>

namespace kvscope {
namespace {

using ConstRowVector = Eigen::Map<const Eigen::RowVectorXf>;

struct Layer {
    NormWeights ln1, ln2;
    Linear attn;   // (3d, d): Q, K, V stacked
    Linear proj;   // (d, d)
    Linear fc;     // (inner, d)
    Linear mProj;  // (d, inner)
};

struct Gpt2State final : InferenceState {
    RowMatrix x, xn, qkv, att, fc;  // (ctx, d), (ctx, d), (ctx, 3d), (ctx, d), (ctx, inner)
    std::vector<RowMatrix> k, v;    // n_layer x (ctx, d)
    CausalAttention attention;
    ModelConfig config;

    std::int64_t kvCacheBytes(std::int64_t n) const override {
        return kvscope::kvCacheBytes(config, n);
    }
};

// Every weight, copied out of the file at load. Conv1D matrices arrive (in, out) and are
// transposed once to (out, in), the layout the decode step's matrix-vector products want.
struct Gpt2Weights {
    OwnedWeights owned;
    Linear wte;  // (vocab, d): already (out, in) for the tied lm_head; float32 or as stored
    const float* wpe = nullptr;  // (n_positions, d)
    std::vector<Layer> layers;
    NormWeights lnF;
    Linear lmHead;
};

NormWeights layerNormWeights(WeightBinder& bind, const QString& prefix, int d) {
    return NormWeights{bind.copy(prefix + QStringLiteral(".weight"), {d}),
                       bind.copy(prefix + QStringLiteral(".bias"), {d})};
}

// The tensor names of the two layouts GPT-2 arrives in. Hugging Face's Conv1D matrices are
// (in, out) and are transposed once at load; GGUF's converter already wrote them (out, in), and
// GGUF may keep them quantized.
struct Gpt2Names {
    const char *wte, *wpe, *lnF, *layer, *ln1, *attn, *proj, *ln2, *fc, *mProj, *lmHead;
    bool conv1d;
};

constexpr Gpt2Names kHuggingFace{"wte.weight", "wpe.weight",  "ln_f",        "h.%1.",
                                 "ln_1",       "attn.c_attn", "attn.c_proj", "ln_2",
                                 "mlp.c_fc",   "mlp.c_proj",  nullptr,       true};
constexpr Gpt2Names kGguf{"token_embd.weight",
                          "position_embd.weight",
                          "output_norm",
                          "blk.%1.",
                          "attn_norm",
                          "attn_qkv",
                          "attn_output",
                          "ffn_norm",
                          "ffn_up",
                          "ffn_down",
                          "output.weight",
                          false};

QString name(const char* s) {
    return QLatin1String(s);
}

Linear product(WeightBinder& bind, const Gpt2Names& n, const QString& prefix, int in, int out) {
    const QString weight = prefix + QStringLiteral(".weight");
    Linear l = n.conv1d ? Linear{bind.transposed(weight, in, out), nullptr, out, in}
                        : bind.linear(weight, out, in);
    l.bias = bind.copy(prefix + QStringLiteral(".bias"), {out});
    return l;
}

// Looks up every tensor by its name in the file's layout and checks its shape against the config.
void bindWeights(const ModelConfig& c, WeightStore& store, const std::function<void(int)>& done,
                 Gpt2Weights& w) {
    const int d = c.nEmbd, inner = c.nInner;
    const Gpt2Names& n = store.has(name(kGguf.wte)) ? kGguf : kHuggingFace;
    WeightBinder bind(store, w.owned,
                      QStringLiteral("the configuration (n_embd=%1, n_inner=%2, vocab_size=%3, "
                                     "n_positions=%4)")
                          .arg(c.nEmbd)
                          .arg(c.nInner)
                          .arg(c.vocabSize)
                          .arg(c.nPositions));
    w.wte = bind.linear(name(n.wte), c.vocabSize, d);
    w.wpe = bind.copy(name(n.wpe), {c.nPositions, d});
    for (int i = 0; i < c.nLayer; ++i) {
        const QString p = QString(QLatin1String(n.layer)).arg(i);
        Layer layer;
        layer.ln1 = layerNormWeights(bind, p + name(n.ln1), d);
        layer.attn = product(bind, n, p + name(n.attn), d, 3 * d);
        layer.proj = product(bind, n, p + name(n.proj), d, d);
        layer.ln2 = layerNormWeights(bind, p + name(n.ln2), d);
        layer.fc = product(bind, n, p + name(n.fc), d, inner);
        layer.mProj = product(bind, n, p + name(n.mProj), inner, d);
        w.layers.push_back(layer);
        if (done) done(i);
    }
    w.lnF = layerNormWeights(bind, name(n.lnF), d);
    w.lmHead =
        n.lmHead && bind.has(name(n.lmHead)) ? bind.linear(name(n.lmHead), c.vocabSize, d) : w.wte;
}

class Gpt2 final : public Transformer {
public:
    Gpt2(const ModelConfig& c, WeightStore& store, const std::function<void(int)>& layerDone)
        : c_(c) {
        bindWeights(c_, store, layerDone, w_);
        passBytes_ = passWeightBytes();
        std::vector<const Linear*> order;
        for (const Layer& l : w_.layers)
            order.insert(order.end(), {&l.attn, &l.proj, &l.fc, &l.mProj});
        order.push_back(&w_.lmHead);
        readAhead_.set(order);
    }

    const ModelConfig& config() const override { return c_; }
    std::int64_t parameterCount() const override { return w_.owned.parameters; }
    std::unique_ptr<InferenceState> newState() const override;
    bool forward(InferenceState& state, std::span<const int> tokens, int start,
                 const ForwardHooks& hooks, FlopBreakdown& counted,
                 std::span<float> logits) const override;
    BytesMoved bytesMoved(int start, int n) const override {
        const std::int64_t rows = n - start;  // each reads a token and a position row
        return {passBytes_ + rows * (w_.wte.weightBytes() / c_.vocabSize +
                                     c_.nEmbd * std::int64_t(sizeof(float))),
                kvCacheBytes(c_, n), kvCacheBytes(c_, rows)};
    }

private:
    // Weights every pass reads whatever its rows: products with their biases, the norms.
    std::int64_t passWeightBytes() const {
        const std::int64_t f = sizeof(float), d = c_.nEmbd;
        std::int64_t bytes = w_.lmHead.weightBytes() + 2 * d * f;
        for (const Layer& l : w_.layers)
            for (const Linear* p : {&l.attn, &l.proj, &l.fc, &l.mProj})
                bytes += p->weightBytes() + std::int64_t(p->out) * f;
        return bytes + std::int64_t(w_.layers.size()) * 4 * d * f;  // ln_1, ln_2: gain, bias
    }

    void mlp(Gpt2State& s, const Layer& w, int start, int rows, FlopBreakdown& f) const;

    ModelConfig c_;
    Gpt2Weights w_;
    std::int64_t passBytes_ = 0;
    ReadAheadOrder readAhead_;  // after w_, so it ends a read-ahead before the weights go
};

std::unique_ptr<InferenceState> Gpt2::newState() const {
    auto s = std::make_unique<Gpt2State>();
    const int ctx = c_.nPositions, d = c_.nEmbd;
    s->config = c_;
    s->x.resize(ctx, d);
    s->xn.resize(ctx, d);
    s->qkv.resize(ctx, 3 * d);
    s->att.resize(ctx, d);
    s->fc.resize(ctx, c_.nInner);
    s->k.assign(c_.nLayer, RowMatrix(ctx, d));
    s->v.assign(c_.nLayer, RowMatrix(ctx, d));
    s->attention = CausalAttention(AttentionLayout{c_.nHead, c_.nHead, c_.headDim()}, ctx);
    return s;
}

void Gpt2::mlp(Gpt2State& s, const Layer& w, int start, int rows, FlopBreakdown& f) const {
    const int inner = c_.nInner;
    auto xn = s.xn.middleRows(start, rows);
    auto fc = s.fc.middleRows(start, rows);
    layerNorm(w.ln2, c_.normEps, xn, s.x.middleRows(start, rows), f);
    applyLinear(w.fc, xn, fc);
    readAhead_.after(w.fc, rows);
    countMatmul(f.mlp, rows, c_.nEmbd, inner);
    f.other += kAddFlopsPerElement * rows * inner;
    geluTanh(fc, f);
    applyLinear(w.mProj, fc, xn);
    readAhead_.after(w.mProj, rows);
    countMatmul(f.mlp, rows, inner, c_.nEmbd);
    s.x.middleRows(start, rows) += xn;
    f.other += 2 * kAddFlopsPerElement * rows * c_.nEmbd;
}

bool Gpt2::forward(InferenceState& state, std::span<const int> tokens, int start,
                   const ForwardHooks& hooks, FlopBreakdown& f, std::span<float> logits) const {
    auto& s = static_cast<Gpt2State&>(state);
    const int n = int(tokens.size()), rows = n - start, d = c_.nEmbd;
    for (int i = start; i < n; ++i) {
        linearRow(w_.wte, tokens[i], s.x.row(i).data());
        s.x.row(i) += ConstRowVector(w_.wpe + std::int64_t(i) * d, d);
    }
    f.other += kAddFlopsPerElement * rows * d;

    for (int l = 0; l < c_.nLayer; ++l) {
        const Layer& w = w_.layers[l];
        auto xn = s.xn.middleRows(start, rows);
        auto qkv = s.qkv.middleRows(start, rows);
        layerNorm(w.ln1, c_.normEps, xn, s.x.middleRows(start, rows), f);
        applyLinear(w.attn, xn, qkv);
        readAhead_.after(w.attn, rows);
        countMatmul(f.qkv, rows, d, 3 * d);
        f.other += kAddFlopsPerElement * rows * 3 * d;
        s.k[l].middleRows(start, rows) = qkv.middleCols(d, d);
        s.v[l].middleRows(start, rows) = qkv.middleCols(2 * d, d);

        const AttentionBuffers b{s.qkv.data(), 3 * d, s.k[l].data(), s.v[l].data(), d,
                                 s.att.data(), d};
        if (!s.attention.run(b, l, start, n, hooks, f)) return false;

        applyLinear(w.proj, s.att.middleRows(start, rows), xn);
        readAhead_.after(w.proj, rows);
        countMatmul(f.outProj, rows, d, d);
        s.x.middleRows(start, rows) += xn;
        f.other += 2 * kAddFlopsPerElement * rows * d;

        mlp(s, w, start, rows, f);
    }

    lastRowLogits(NormKind::LayerNorm, w_.lnF, c_.normEps, w_.lmHead, s.xn.row(n - 1),
                  s.x.row(n - 1), logits, f);
    readAhead_.after(w_.lmHead, rows);
    return true;
}

}  // namespace

std::unique_ptr<Transformer> makeGpt2(const ModelConfig& config, WeightStore& weights,
                                      const std::function<void(int)>& layerDone) {
    return std::make_unique<Gpt2>(config, weights, layerDone);
}

}  // namespace kvscope
