#include "arch/llama.h"

#include "model/weight_binder.h"
#include "nn/activations.h"
#include "nn/causal_attention.h"
#include "nn/norms.h"
#include "nn/read_ahead.h"
#include "nn/rope.h"

namespace kvscope {
namespace {

struct Layer {
    NormWeights attnNorm, ffnNorm;  // (d)
    Linear qkv;                     // (d + 2 kv_dim, d): Q, K, V stacked
    Linear out;                     // (d, d)
    Linear gateUp;                  // (2 inner, d): W1 (gate) then W3 (up)
    Linear down;                    // (d, inner): W2
};

struct LlamaWeights {
    OwnedWeights owned;
    Linear embedding;  // (vocab, d), float32 or as stored; rows looked up one by one
    std::vector<Layer> layers;
    NormWeights outputNorm;
    Linear classifier;  // (vocab, d): the embedding when tied
};

struct LlamaState final : InferenceState {
    RowMatrix x, xn, qkv, att,
        gateUp;                   // (ctx, d), (ctx, d), (ctx, d + 2 kv), (ctx, d), (ctx, 2 inner)
    std::vector<RowMatrix> k, v;  // n_layer x (ctx, kv_dim)
    RopeTable rope;               // (ctx, head_dim / 2) cos and sin
    CausalAttention attention;
    ModelConfig config;

    std::int64_t kvCacheBytes(std::int64_t n) const override {
        return kvscope::kvCacheBytes(config, n);
    }
};

QString blk(int layer, const char* what) {
    return QStringLiteral("blk.%1.%2.weight").arg(layer).arg(QLatin1String(what));
}

QString bias(int layer, const char* what) {
    return QStringLiteral("blk.%1.%2.bias").arg(layer).arg(QLatin1String(what));
}

void bindWeights(const ModelConfig& c, WeightStore& store, const std::function<void(int)>& done,
                 LlamaWeights& w) {
    const int d = c.nEmbd, kv = c.kvDim(), inner = c.nInner;
    WeightBinder bind(store, w.owned,
                      QStringLiteral("the configuration (dim=%1, n_kv_heads=%2, hidden_dim=%3, "
                                     "vocab_size=%4)")
                          .arg(d)
                          .arg(c.nKvHead)
                          .arg(inner)
                          .arg(c.vocabSize));
    w.embedding = bind.linear(QStringLiteral("token_embd.weight"), c.vocabSize, d);
    for (int i = 0; i < c.nLayer; ++i) {
        Layer l;
        l.attnNorm.gain = bind.copy(blk(i, "attn_norm"), {d});
        l.qkv = bind.stackedLinear(
            {{blk(i, "attn_q"), d}, {blk(i, "attn_k"), kv}, {blk(i, "attn_v"), kv}}, d);
        if (c.attnBias)  // Qwen2: Q, K and V have biases, stacked as their rows are
            l.qkv.bias = bind.concatenated(
                {{bias(i, "attn_q"), d}, {bias(i, "attn_k"), kv}, {bias(i, "attn_v"), kv}});
        l.out = bind.linear(blk(i, "attn_output"), d, d);
        l.ffnNorm.gain = bind.copy(blk(i, "ffn_norm"), {d});
        l.gateUp = bind.stackedLinear({{blk(i, "ffn_gate"), inner}, {blk(i, "ffn_up"), inner}}, d);
        l.down = bind.linear(blk(i, "ffn_down"), d, inner);
        w.layers.push_back(l);
        if (done) done(i);
    }
    w.outputNorm.gain = bind.copy(QStringLiteral("output_norm.weight"), {d});
    w.classifier =
        c.tiedLmHead ? w.embedding : bind.linear(QStringLiteral("output.weight"), c.vocabSize, d);
}

class Llama final : public Transformer {
public:
    Llama(const ModelConfig& c, WeightStore& store, const std::function<void(int)>& layerDone)
        : c_(c) {
        bindWeights(c_, store, layerDone, w_);
        passBytes_ = passWeightBytes();
        std::vector<const Linear*> order;
        for (const Layer& l : w_.layers)
            order.insert(order.end(), {&l.qkv, &l.out, &l.gateUp, &l.down});
        order.push_back(&w_.classifier);
        readAhead_.set(order);
    }

    const ModelConfig& config() const override { return c_; }
    std::int64_t parameterCount() const override { return w_.owned.parameters; }
    std::unique_ptr<InferenceState> newState() const override;
    bool forward(InferenceState& state, std::span<const int> tokens, int start,
                 const ForwardHooks& hooks, FlopBreakdown& counted,
                 std::span<float> logits) const override;
    BytesMoved bytesMoved(int start, int n) const override {
        const std::int64_t rows = n - start;
        return {passBytes_ + rows * w_.embedding.weightBytes() / c_.vocabSize, kvCacheBytes(c_, n),
                kvCacheBytes(c_, rows)};
    }

private:
    // Weights every pass reads whatever its rows: the products, the norms, the biases.
    std::int64_t passWeightBytes() const {
        const std::int64_t f = sizeof(float), d = c_.nEmbd;
        std::int64_t bytes = w_.classifier.weightBytes() + d * f;
        for (const Layer& l : w_.layers) {
            bytes += l.qkv.weightBytes() + l.out.weightBytes() + l.gateUp.weightBytes() +
                     l.down.weightBytes() + 2 * d * f;
            if (l.qkv.bias) bytes += std::int64_t(l.qkv.out) * f;
        }
        return bytes;
    }

    bool attention(LlamaState& s, const Layer& w, int l, int start, int n,
                   const ForwardHooks& hooks, FlopBreakdown& f) const;
    void mlp(LlamaState& s, const Layer& w, int start, int rows, FlopBreakdown& f) const;

    ModelConfig c_;
    LlamaWeights w_;
    std::int64_t passBytes_ = 0;
    ReadAheadOrder readAhead_;  // after w_, so it ends a read-ahead before the weights go
};

std::unique_ptr<InferenceState> Llama::newState() const {
    auto s = std::make_unique<LlamaState>();
    const int ctx = c_.nPositions, d = c_.nEmbd, kv = c_.kvDim();
    s->config = c_;
    s->x.resize(ctx, d);
    s->xn.resize(ctx, d);
    s->qkv.resize(ctx, d + 2 * kv);
    s->att.resize(ctx, d);
    s->gateUp.resize(ctx, 2 * c_.nInner);
    s->k.assign(c_.nLayer, RowMatrix(ctx, kv));
    s->v.assign(c_.nLayer, RowMatrix(ctx, kv));
    s->rope = RopeTable(ctx, c_.headDim(), c_.ropeTheta);
    s->attention = CausalAttention(AttentionLayout{c_.nHead, c_.nKvHead, c_.headDim()}, ctx);
    return s;
}

// Q, K, V of the new rows in one product, rotated, K and V appended to the cache, then causal
// attention over everything cached and the output projection.
bool Llama::attention(LlamaState& s, const Layer& w, int l, int start, int n,
                      const ForwardHooks& hooks, FlopBreakdown& f) const {
    const int rows = n - start, d = c_.nEmbd, kv = c_.kvDim();
    auto xn = s.xn.middleRows(start, rows);
    auto qkv = s.qkv.middleRows(start, rows);
    rmsNorm(w.attnNorm, c_.normEps, xn, s.x.middleRows(start, rows), f);
    applyLinear(w.qkv, xn, qkv);
    readAhead_.after(w.qkv, rows);
    countMatmul(f.qkv, rows, d, d + 2 * kv);
    if (w.qkv.bias) f.other += kAddFlopsPerElement * rows * (d + 2 * kv);
    for (int i = start; i < n; ++i) {
        float* row = s.qkv.row(i).data();
        s.rope.rotate(row, c_.nHead, i, c_.ropePairing, f);
        s.rope.rotate(row + d, c_.nKvHead, i, c_.ropePairing, f);
    }
    s.k[l].middleRows(start, rows) = qkv.middleCols(d, kv);
    s.v[l].middleRows(start, rows) = qkv.middleCols(d + kv, kv);

    const AttentionBuffers b{s.qkv.data(), d + 2 * kv, s.k[l].data(), s.v[l].data(), kv,
                             s.att.data(), d};
    if (!s.attention.run(b, l, start, n, hooks, f)) return false;

    applyLinear(w.out, s.att.middleRows(start, rows), xn);
    readAhead_.after(w.out, rows);
    countMatmul(f.outProj, rows, d, d);
    s.x.middleRows(start, rows) += xn;
    f.other += kAddFlopsPerElement * rows * d;
    return true;
}

// w2(silu(w1 x) * (w3 x)), with w1 and w3 as one product.
void Llama::mlp(LlamaState& s, const Layer& w, int start, int rows, FlopBreakdown& f) const {
    const int d = c_.nEmbd, inner = c_.nInner;
    auto xn = s.xn.middleRows(start, rows);
    auto gateUp = s.gateUp.middleRows(start, rows);
    rmsNorm(w.ffnNorm, c_.normEps, xn, s.x.middleRows(start, rows), f);
    applyLinear(w.gateUp, xn, gateUp);
    readAhead_.after(w.gateUp, rows);
    countMatmul(f.mlp, rows, d, 2 * inner);
    swiGlu(gateUp, f);
    applyLinear(w.down, gateUp.leftCols(inner), xn);
    readAhead_.after(w.down, rows);
    countMatmul(f.mlp, rows, inner, d);
    s.x.middleRows(start, rows) += xn;
    f.other += kAddFlopsPerElement * rows * d;
}

bool Llama::forward(InferenceState& state, std::span<const int> tokens, int start,
                    const ForwardHooks& hooks, FlopBreakdown& f, std::span<float> logits) const {
    auto& s = static_cast<LlamaState&>(state);
    const int n = int(tokens.size()), rows = n - start;
    for (int i = start; i < n; ++i)
        linearRow(w_.embedding, tokens[std::size_t(i)], s.x.row(i).data());

    for (int l = 0; l < c_.nLayer; ++l) {
        const Layer& w = w_.layers[std::size_t(l)];
        if (!attention(s, w, l, start, n, hooks, f)) return false;
        mlp(s, w, start, rows, f);
    }

    lastRowLogits(NormKind::RmsNorm, w_.outputNorm, c_.normEps, w_.classifier, s.xn.row(n - 1),
                  s.x.row(n - 1), logits, f);
    readAhead_.after(w_.classifier, rows);
    return true;
}

}  // namespace

std::unique_ptr<Transformer> makeLlama(const ModelConfig& config, WeightStore& weights,
                                       const std::function<void(int)>& layerDone) {
    return std::make_unique<Llama>(config, weights, layerDone);
}

}  // namespace kvscope
