#include "gpt2.h"

#include <Eigen/Core>

#include <cmath>
#include <numbers>
#include <vector>

namespace kvscope {
namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMatrixMap = Eigen::Map<const RowMatrix>;
using ConstVectorMap = Eigen::Map<const Eigen::RowVectorXf>;
// A head's slice of a (positions, width) row-major buffer.
using HeadMap = Eigen::Map<const RowMatrix, 0, Eigen::OuterStride<>>;

struct Norm {
    ConstVectorMap gain, bias;  // (d)
};

// Conv1D weights are stored (in, out): y = x W + b works on them as they are.
struct Layer {
    Norm ln1, ln2;
    ConstMatrixMap cAttn;   // (d, 3d)
    ConstVectorMap cAttnB;  // (3d)
    ConstMatrixMap cProj;   // (d, d)
    ConstVectorMap cProjB;  // (d)
    ConstMatrixMap cFc;     // (d, inner)
    ConstVectorMap cFcB;    // (inner)
    ConstMatrixMap mProj;   // (inner, d)
    ConstVectorMap mProjB;  // (d)
};

struct Gpt2State final : InferenceState {
    RowMatrix x, xn, qkv, att, fc;  // (ctx, d), (ctx, d), (ctx, 3d), (ctx, d), (ctx, inner)
    std::vector<RowMatrix> k, v;    // n_layer x (ctx, d)
    Eigen::VectorXf probs;          // (ctx) one query row's scores, then probabilities
    int d = 0, layers = 0;

    std::int64_t kvCacheBytes(std::int64_t n) const override {
        return 2 * std::int64_t(layers) * n * d * std::int64_t(sizeof(float));
    }
};

struct Gpt2Weights {
    ConstMatrixMap wte;  // (vocab, d): row-major (out, in), so the lm_head product is a GEMV
    ConstMatrixMap wpe;  // (n_positions, d)
    std::vector<Layer> layers;
    Norm lnF;
    std::int64_t parameters = 0;
};

// Looks up every tensor by its Hugging Face GPT-2 name and checks its shape against the config.
Gpt2Weights bindWeights(const ModelConfig& c, WeightStore& store,
                        const std::function<void(int)>& layerDone) {
    const std::int64_t d = c.nEmbd, inner = c.nInner;
    const QString dims = QStringLiteral(
                             "config.json (n_embd=%1, n_inner=%2, vocab_size=%3, "
                             "n_positions=%4)")
                             .arg(d)
                             .arg(inner)
                             .arg(c.vocabSize)
                             .arg(c.nPositions);
    std::int64_t params = 0;
    auto mat = [&](const QString& name, std::int64_t rows, std::int64_t cols) {
        params += rows * cols;
        return ConstMatrixMap(store.tensor(name, {rows, cols}, dims), rows, cols);
    };
    auto vec = [&](const QString& name, std::int64_t n) {
        params += n;
        return ConstVectorMap(store.tensor(name, {n}, dims), n);
    };
    auto norm = [&](const QString& prefix) {
        return Norm{vec(prefix + QStringLiteral(".weight"), d),
                    vec(prefix + QStringLiteral(".bias"), d)};
    };
    const ConstMatrixMap wte = mat(QStringLiteral("wte.weight"), c.vocabSize, d);
    const ConstMatrixMap wpe = mat(QStringLiteral("wpe.weight"), c.nPositions, d);
    std::vector<Layer> layers;
    for (int i = 0; i < c.nLayer; ++i) {
        const QString p = QStringLiteral("h.%1.").arg(i);
        layers.push_back(Layer{norm(p + QStringLiteral("ln_1")), norm(p + QStringLiteral("ln_2")),
                               mat(p + QStringLiteral("attn.c_attn.weight"), d, 3 * d),
                               vec(p + QStringLiteral("attn.c_attn.bias"), 3 * d),
                               mat(p + QStringLiteral("attn.c_proj.weight"), d, d),
                               vec(p + QStringLiteral("attn.c_proj.bias"), d),
                               mat(p + QStringLiteral("mlp.c_fc.weight"), d, inner),
                               vec(p + QStringLiteral("mlp.c_fc.bias"), inner),
                               mat(p + QStringLiteral("mlp.c_proj.weight"), inner, d),
                               vec(p + QStringLiteral("mlp.c_proj.bias"), d)});
        if (layerDone) layerDone(i);
    }
    const Norm lnF = norm(QStringLiteral("ln_f"));
    return Gpt2Weights{wte, wpe, std::move(layers), lnF, params};
}

class Gpt2 final : public Transformer {
public:
    Gpt2(const ModelConfig& c, std::shared_ptr<WeightStore> store,
         const std::function<void(int)>& layerDone)
        : c_(c), store_(std::move(store)), w_(bindWeights(c_, *store_, layerDone)) {}

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
    void mlp(Gpt2State& s, const Layer& w, int start, int rows, FlopBreakdown& f) const;

    ModelConfig c_;
    std::shared_ptr<WeightStore> store_;  // keeps the mapping the weights point into alive
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
    s->probs.resize(ctx);
    return s;
}

void Gpt2::layerNorm(const Norm& n, Eigen::Ref<RowMatrix> out,
                     const Eigen::Ref<const RowMatrix>& in, FlopBreakdown& f) const {
    const float invD = 1.0f / float(in.cols());
    for (Eigen::Index r = 0; r < in.rows(); ++r) {
        const float mean = in.row(r).sum() * invD;
        const float var = (in.row(r).array() - mean).square().sum() * invD;
        const float rstd = 1.0f / std::sqrt(var + c_.normEps);
        out.row(r) = ((in.row(r).array() - mean) * rstd * n.gain.array() + n.bias.array()).matrix();
    }
    f.other += kLayerNormFlopsPerElement * in.rows() * in.cols();
}

// Causal attention for query rows [start, n): each row only touches keys 0..row.
bool Gpt2::attention(Gpt2State& s, int layer, int start, int n, const ForwardHooks& hooks,
                     FlopBreakdown& f) const {
    const int d = c_.nEmbd, hd = c_.headDim();
    const float scale = 1.0f / std::sqrt(float(hd));
    const RowMatrix& K = s.k[layer];
    const RowMatrix& V = s.v[layer];
    for (int h = 0; h < c_.nHead; ++h) {
        if (hooks.cancel && hooks.cancel->load(std::memory_order_relaxed)) return false;
        for (int i = start; i < n; ++i) {
            const int keys = i + 1;
            const HeadMap Kh(K.data() + h * hd, keys, hd, Eigen::OuterStride<>(d));
            const HeadMap Vh(V.data() + h * hd, keys, hd, Eigen::OuterStride<>(d));
            auto q = s.qkv.row(i).segment(h * hd, hd).transpose();
            auto p = s.probs.head(keys);
            p.noalias() = Kh * q;
            countMatmul(f.scores, 1, hd, keys);
            p *= scale;
            p.array() = (p.array() - p.maxCoeff()).exp();
            p /= p.sum();
            f.other += kSoftmaxFlopsPerScore * keys;
            if (hooks.attention) hooks.attention->attentionRow(layer, h, i, p.data());
            s.att.row(i).segment(h * hd, hd).noalias() = p.transpose() * Vh;
            countMatmul(f.attnV, 1, keys, hd);
        }
    }
    return true;
}

void Gpt2::mlp(Gpt2State& s, const Layer& w, int start, int rows, FlopBreakdown& f) const {
    const int inner = c_.nInner;
    auto xn = s.xn.middleRows(start, rows);
    auto fc = s.fc.middleRows(start, rows);
    layerNorm(w.ln2, xn, s.x.middleRows(start, rows), f);
    fc.noalias() = xn * w.cFc;
    fc.rowwise() += w.cFcB;
    countMatmul(f.mlp, rows, c_.nEmbd, inner);
    f.other += kAddFlopsPerElement * rows * inner;
    // GPT-2's tanh approximation of GELU.
    const float c = std::sqrt(2.0f / std::numbers::pi_v<float>);
    fc.array() =
        0.5f * fc.array() * (1.0f + (c * (fc.array() + 0.044715f * fc.array().cube())).tanh());
    f.other += kGeluFlopsPerElement * rows * inner;
    xn.noalias() = fc * w.mProj;
    countMatmul(f.mlp, rows, inner, c_.nEmbd);
    s.x.middleRows(start, rows) += (xn.rowwise() + w.mProjB);
    f.other += 2 * kAddFlopsPerElement * rows * c_.nEmbd;
}

bool Gpt2::forward(InferenceState& state, std::span<const int> tokens, int start,
                   const ForwardHooks& hooks, FlopBreakdown& f, std::span<float> logits) const {
    auto& s = static_cast<Gpt2State&>(state);
    const int n = int(tokens.size()), rows = n - start, d = c_.nEmbd;
    for (int i = start; i < n; ++i) s.x.row(i) = w_.wte.row(tokens[i]) + w_.wpe.row(i);
    f.other += kAddFlopsPerElement * rows * d;

    for (int l = 0; l < c_.nLayer; ++l) {
        const Layer& w = w_.layers[l];
        auto xn = s.xn.middleRows(start, rows);
        auto qkv = s.qkv.middleRows(start, rows);
        layerNorm(w.ln1, xn, s.x.middleRows(start, rows), f);
        qkv.noalias() = xn * w.cAttn;
        qkv.rowwise() += w.cAttnB;
        countMatmul(f.qkv, rows, d, 3 * d);
        f.other += kAddFlopsPerElement * rows * 3 * d;
        s.k[l].middleRows(start, rows) = qkv.middleCols(d, d);
        s.v[l].middleRows(start, rows) = qkv.middleCols(2 * d, d);

        if (!attention(s, l, start, n, hooks, f)) return false;

        xn.noalias() = s.att.middleRows(start, rows) * w.cProj;
        countMatmul(f.outProj, rows, d, d);
        s.x.middleRows(start, rows) += (xn.rowwise() + w.cProjB);
        f.other += 2 * kAddFlopsPerElement * rows * d;

        mlp(s, w, start, rows, f);
    }

    // Only the last position's logits are needed to sample the next token.
    auto last = s.xn.row(n - 1);
    layerNorm(w_.lnF, last, s.x.row(n - 1), f);
    Eigen::Map<Eigen::VectorXf> out(logits.data(), c_.vocabSize);
    out.noalias() = w_.wte * last.transpose();
    countMatmul(f.lmHead, c_.vocabSize, d, 1);
    return true;
}

}  // namespace

std::unique_ptr<Transformer> makeGpt2(const ModelConfig& config,
                                      std::shared_ptr<WeightStore> weights,
                                      const std::function<void(int)>& layerDone) {
    return std::make_unique<Gpt2>(config, std::move(weights), layerDone);
}

}  // namespace kvscope
