#include "model/gguf_config.h"

#include <QStringList>

namespace kvscope {
namespace {

// What an architecture fixes; the sizes come from the file.
struct ArchitectureRow {
    const char* name;
    NormKind norm;
    Activation activation;
    PositionKind positions;
    bool attnBias, projBias;
    RopePairing pairing;  // GGUF's llama keeps Meta's adjacent pairs; qwen2 rotates halves
};

constexpr ArchitectureRow kRows[] = {
    {"llama", NormKind::RmsNorm, Activation::SwiGlu, PositionKind::Rotary, false, false,
     RopePairing::Adjacent},
    {"qwen2", NormKind::RmsNorm, Activation::SwiGlu, PositionKind::Rotary, true, false,
     RopePairing::Halves},
    {"gpt2", NormKind::LayerNorm, Activation::GeluTanh, PositionKind::Learned, true, true,
     RopePairing::Adjacent},
};

const ArchitectureRow* findRow(const QString& name) {
    for (const ArchitectureRow& r : kRows)
        if (name == QLatin1String(r.name)) return &r;
    return nullptr;
}

QStringList rowNames() {
    QStringList names;
    for (const ArchitectureRow& r : kRows) names << QLatin1String(r.name);
    return names;
}

// Reads `arch.suffix` as a positive int no larger than `cap`.
int positive(const GgufFile& f, const QString& key, int cap) {
    auto v = f.u32(key);
    if (!v) throw LoadError(v.errorMessage());
    if (v.value() == 0 || v.value() > std::uint32_t(cap))
        throw LoadError(QStringLiteral("%1: key %2: expected 1 to %3, found %4")
                            .arg(f.fileName(), key)
                            .arg(cap)
                            .arg(v.value()));
    return int(v.value());
}

template <typename T>
T take(Result<T> r) {
    if (!r) throw LoadError(r.errorMessage());
    return r.take();
}

// Rows of the token embedding: the vocabulary the model was trained with.
int vocabularyOf(const GgufFile& f) {
    const GgufTensor* t = f.find(QStringLiteral("token_embd.weight"));
    if (!t || t->dims.size() != 2)
        throw LoadError(
            QStringLiteral("%1: tensor token_embd.weight: expected a (vocabulary, "
                           "embedding) matrix, found %2")
                .arg(f.fileName(), t ? QStringLiteral("%1 dimensions").arg(t->dims.size())
                                     : QStringLiteral("no such tensor")));
    if (t->dims[1] > kMaxVocab)
        throw LoadError(QStringLiteral("%1: tensor token_embd.weight: %2 rows, expected at most %3")
                            .arg(f.fileName())
                            .arg(t->dims[1])
                            .arg(kMaxVocab));
    return int(t->dims[1]);
}

void checkRope(const GgufFile& f, const QString& arch, const ModelConfig& c) {
    const auto dims = take(f.optionalU32(arch + QStringLiteral(".rope.dimension_count")));
    if (dims && int(*dims) != c.headDim())
        throw LoadError(QStringLiteral("%1: key %2.rope.dimension_count: expected the head "
                                       "dimension %3 (kvscope rotates whole heads), found %4")
                            .arg(f.fileName(), arch)
                            .arg(c.headDim())
                            .arg(*dims));
    const auto scaling = take(f.optionalStr(arch + QStringLiteral(".rope.scaling.type")));
    if (scaling && *scaling != QLatin1String("none"))
        throw LoadError(QStringLiteral("%1: key %2.rope.scaling.type: expected none, found "
                                       "\"%3\" (scaled rotary embeddings are not supported)")
                            .arg(f.fileName(), arch, *scaling));
    if (const auto window = take(f.optionalU32(arch + QStringLiteral(".attention.sliding_window"))))
        throw LoadError(QStringLiteral("%1: key %2.attention.sliding_window = %3: sliding-window "
                                       "attention is not supported")
                            .arg(f.fileName(), arch)
                            .arg(*window));
}

ModelConfig readConfig(const GgufFile& f) {
    const QString arch = take(f.str(QStringLiteral("general.architecture")));
    const ArchitectureRow* row = findRow(arch);
    if (!row)
        throw LoadError(QStringLiteral("%1: key general.architecture: expected one of %2, found "
                                       "\"%3\"")
                            .arg(f.fileName(), rowNames().join(QStringLiteral(", ")), arch));
    const QString p = arch + QLatin1Char('.');
    ModelConfig c;
    c.modelType = arch;
    c.nLayer = positive(f, p + QStringLiteral("block_count"), kMaxLayers);
    c.nEmbd = positive(f, p + QStringLiteral("embedding_length"), kMaxEmbd);
    c.nInner = positive(f, p + QStringLiteral("feed_forward_length"), 16 * kMaxEmbd);
    c.nHead = positive(f, p + QStringLiteral("attention.head_count"), kMaxEmbd);
    c.nKvHead = f.has(p + QStringLiteral("attention.head_count_kv"))
                    ? positive(f, p + QStringLiteral("attention.head_count_kv"), c.nHead)
                    : c.nHead;
    c.nPositions = positive(f, p + QStringLiteral("context_length"), kMaxPositions);
    c.vocabSize = vocabularyOf(f);
    if (c.nEmbd % c.nHead != 0 || c.nHead % c.nKvHead != 0)
        throw LoadError(QStringLiteral("%1: keys %2embedding_length=%3, %2attention.head_count=%4, "
                                       "%2attention.head_count_kv=%5: expected heads dividing the "
                                       "embedding and KV heads dividing the heads")
                            .arg(f.fileName(), p)
                            .arg(c.nEmbd)
                            .arg(c.nHead)
                            .arg(c.nKvHead));
    c.norm = row->norm;
    c.activation = row->activation;
    c.positions = row->positions;
    c.attnBias = row->attnBias;
    c.projBias = row->projBias;
    c.ropePairing = row->pairing;
    c.tiedLmHead = f.find(QStringLiteral("output.weight")) == nullptr;
    const QString epsKey = c.norm == NormKind::RmsNorm
                               ? p + QStringLiteral("attention.layer_norm_rms_epsilon")
                               : p + QStringLiteral("attention.layer_norm_epsilon");
    c.normEps = take(f.f32(epsKey));
    if (!(c.normEps > 0.0f && c.normEps < 1.0f))
        throw LoadError(QStringLiteral("%1: key %2: expected a small positive epsilon, found %3")
                            .arg(f.fileName(), epsKey)
                            .arg(double(c.normEps)));
    if (c.positions == PositionKind::Rotary) {
        c.ropeTheta = take(f.optionalF32(p + QStringLiteral("rope.freq_base"))).value_or(10000.0f);
        if (!(c.ropeTheta > 1.0f))
            throw LoadError(QStringLiteral("%1: key %2rope.freq_base: expected a base above 1, "
                                           "found %3")
                                .arg(f.fileName(), p)
                                .arg(double(c.ropeTheta)));
        checkRope(f, arch, c);
    }
    return c;
}

}  // namespace

Result<ModelConfig> ggufModelConfig(const GgufFile& file) {
    try {
        return readConfig(file);
    } catch (const LoadError& e) {
        return Error{e.message()};
    }
}

}  // namespace kvscope
