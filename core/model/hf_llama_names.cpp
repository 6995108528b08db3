#include "model/hf_llama_names.h"

#include <QRegularExpression>

namespace kvscope {
namespace {

struct Row {
    const char* hf;         // the part after "model.layers.N."
    const char* canonical;  // the part after "blk.N."
};

constexpr Row kLayerRows[] = {
    {"self_attn.q_proj", "attn_q"},
    {"self_attn.k_proj", "attn_k"},
    {"self_attn.v_proj", "attn_v"},
    {"self_attn.o_proj", "attn_output"},
    {"mlp.gate_proj", "ffn_gate"},
    {"mlp.up_proj", "ffn_up"},
    {"mlp.down_proj", "ffn_down"},
    {"input_layernorm", "attn_norm"},
    {"post_attention_layernorm", "ffn_norm"},
};

constexpr Row kModelRows[] = {
    {"model.embed_tokens.weight", "token_embd.weight"},
    {"model.norm.weight", "output_norm.weight"},
    {"lm_head.weight", "output.weight"},
};

}  // namespace

QString canonicalLlamaName(const QString& name) {
    for (const Row& r : kModelRows)
        if (name == QLatin1String(r.hf)) return QLatin1String(r.canonical);
    static const QRegularExpression layer(
        QStringLiteral("^model\\.layers\\.(\\d+)\\.(.+)\\.(weight|bias)$"));
    const QRegularExpressionMatch m = layer.match(name);
    if (!m.hasMatch()) return name;
    for (const Row& r : kLayerRows)
        if (m.captured(2) == QLatin1String(r.hf))
            return QStringLiteral("blk.%1.%2.%3")
                .arg(m.captured(1), QLatin1String(r.canonical), m.captured(3));
    return name;
}

}  // namespace kvscope
