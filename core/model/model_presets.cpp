#include "model/model_presets.h"

#include <vector>

namespace kvscope {
namespace {

ModelConfig gpt2(int layers, int heads, int width) {
    ModelConfig c;
    c.modelType = QStringLiteral("gpt2");
    c.nLayer = layers;
    c.nHead = c.nKvHead = heads;
    c.nEmbd = width;
    c.nInner = 4 * width;
    c.nPositions = 1024;
    c.vocabSize = 50257;
    return c;  // LayerNorm, tanh GELU, learned positions, biases, tied classifier: the defaults
}

struct LlamaShape {
    const char* type;
    int layers, heads, kvHeads, width, inner, vocab, context;
    bool tied = false, qkvBias = false;
    float ropeTheta = 10000;
};

ModelConfig llama(const LlamaShape& s) {
    ModelConfig c;
    c.modelType = QString::fromLatin1(s.type);
    c.nLayer = s.layers;
    c.nHead = s.heads;
    c.nKvHead = s.kvHeads;
    c.nEmbd = s.width;
    c.nInner = s.inner;
    c.vocabSize = s.vocab;
    c.nPositions = s.context;
    c.norm = NormKind::RmsNorm;
    c.activation = Activation::SwiGlu;
    c.positions = PositionKind::Rotary;
    c.tiedLmHead = s.tied;
    c.attnBias = s.qkvBias;
    c.projBias = false;
    c.ropeTheta = s.ropeTheta;
    c.ropePairing = RopePairing::Halves;  // Hugging Face layout; no FLOP depends on it
    return c;
}

std::vector<ModelPreset> makePresets() {
    return {
        {"gpt2-small", "GPT-2 small",
         "huggingface.co/openai-community/gpt2, config.json: n_layer 12, n_head 12, n_embd 768, "
         "n_ctx 1024, vocab_size 50257",
         gpt2(12, 12, 768)},
        {"gpt2-medium", "GPT-2 medium",
         "huggingface.co/openai-community/gpt2-medium, config.json: n_layer 24, n_head 16, "
         "n_embd 1024, n_ctx 1024, vocab_size 50257",
         gpt2(24, 16, 1024)},
        {"gpt2-large", "GPT-2 large",
         "huggingface.co/openai-community/gpt2-large, config.json: n_layer 36, n_head 20, "
         "n_embd 1280, n_ctx 1024, vocab_size 50257",
         gpt2(36, 20, 1280)},
        {"gpt2-xl", "GPT-2 XL",
         "huggingface.co/openai-community/gpt2-xl, config.json: n_layer 48, n_head 25, "
         "n_embd 1600, n_ctx 1024, vocab_size 50257",
         gpt2(48, 25, 1600)},
        {"llama2-7b", "Llama 2 7B",
         "huggingface.co/meta-llama/Llama-2-7b-hf, config.json: 32 layers, 32 heads (no GQA), "
         "hidden 4096, intermediate 11008, vocab 32000, context 4096, untied lm_head",
         llama({"llama", 32, 32, 32, 4096, 11008, 32000, 4096})},
        {"llama2-13b", "Llama 2 13B",
         "huggingface.co/meta-llama/Llama-2-13b-hf, config.json: 40 layers, 40 heads (no GQA), "
         "hidden 5120, intermediate 13824, vocab 32000, context 4096, untied lm_head",
         llama({"llama", 40, 40, 40, 5120, 13824, 32000, 4096})},
        {"llama2-70b", "Llama 2 70B",
         "huggingface.co/meta-llama/Llama-2-70b-hf, config.json: 80 layers, 64 heads sharing 8 "
         "KV heads, hidden 8192, intermediate 28672, vocab 32000, context 4096, untied lm_head",
         llama({"llama", 80, 64, 8, 8192, 28672, 32000, 4096})},
        {"llama3-8b", "Llama 3 8B",
         "huggingface.co/meta-llama/Meta-Llama-3-8B, config.json: 32 layers, 32 heads sharing 8 "
         "KV heads, hidden 4096, intermediate 14336, vocab 128256, context 8192, rope_theta 5e5",
         llama({"llama", 32, 32, 8, 4096, 14336, 128256, 8192, false, false, 500000})},
        {"llama3-70b", "Llama 3 70B",
         "huggingface.co/meta-llama/Meta-Llama-3-70B, config.json: 80 layers, 64 heads sharing 8 "
         "KV heads, hidden 8192, intermediate 28672, vocab 128256, context 8192, rope_theta 5e5",
         llama({"llama", 80, 64, 8, 8192, 28672, 128256, 8192, false, false, 500000})},
        {"mistral-7b", "Mistral 7B (v0.1)",
         "huggingface.co/mistralai/Mistral-7B-v0.1, config.json: 32 layers, 32 heads sharing 8 "
         "KV heads, hidden 4096, intermediate 14336, vocab 32000, max_position_embeddings 32768. "
         "Its 4096-token sliding window is not modelled: attention is counted over every earlier "
         "token",
         llama({"mistral", 32, 32, 8, 4096, 14336, 32000, 32768})},
        {"qwen2.5-0.5b", "Qwen2.5 0.5B",
         "huggingface.co/Qwen/Qwen2.5-0.5B, config.json: 24 layers, 14 heads sharing 2 KV heads, "
         "hidden 896, intermediate 4864, vocab 151936, context 32768, QKV biases, tied embeddings",
         llama({"qwen2", 24, 14, 2, 896, 4864, 151936, 32768, true, true, 1e6f})},
        {"qwen2.5-7b", "Qwen2.5 7B",
         "huggingface.co/Qwen/Qwen2.5-7B, config.json: 28 layers, 28 heads sharing 4 KV heads, "
         "hidden 3584, intermediate 18944, vocab 152064, context 131072, QKV biases, untied",
         llama({"qwen2", 28, 28, 4, 3584, 18944, 152064, 131072, false, true, 1e6f})},
        {"smollm2-135m", "SmolLM2 135M",
         "huggingface.co/HuggingFaceTB/SmolLM2-135M, config.json: 30 layers, 9 heads sharing 3 "
         "KV heads, hidden 576, intermediate 1536, vocab 49152, context 8192, tied embeddings",
         llama({"llama", 30, 9, 3, 576, 1536, 49152, 8192, true, false, 100000})},
        {"smollm2-360m", "SmolLM2 360M",
         "huggingface.co/HuggingFaceTB/SmolLM2-360M, config.json: 32 layers, 15 heads sharing 5 "
         "KV heads, hidden 960, intermediate 2560, vocab 49152, context 8192, tied embeddings",
         llama({"llama", 32, 15, 5, 960, 2560, 49152, 8192, true, false, 100000})},
    };
}

}  // namespace

std::span<const ModelPreset> modelPresets() {
    static const std::vector<ModelPreset> presets = makePresets();
    return presets;
}

const ModelPreset* findPreset(const QString& key) {
    for (const ModelPreset& p : modelPresets())
        if (key == QLatin1String(p.key)) return &p;
    return nullptr;
}

}  // namespace kvscope
