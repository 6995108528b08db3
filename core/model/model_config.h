#pragma once
// The immutable shape of a model, read from a Hugging Face config.json.

#include "util/result.h"

#include <QByteArray>
#include <QString>

namespace kvscope {

// The architecture seam: everything that differs between GPT-2 and a Llama-family model is named
// here, so the generation loop and the FLOP formulas never test for a model type by name.
enum class NormKind { LayerNorm, RmsNorm };
enum class Activation { GeluTanh, SwiGlu };
enum class PositionKind { Learned, Rotary };
// Which dimensions of a head rotary embeddings rotate together: (2i, 2i+1) in llama2.c and GGUF's
// `llama` (Meta's original layout); (i, i + head_dim/2) in Hugging Face Llama folders, whose
// conversion permuted the Q and K rows.
enum class RopePairing { Adjacent, Halves };

struct ModelConfig {
    QString modelType = QStringLiteral("gpt2");
    int nLayer = 0;
    int nHead = 0;
    int nKvHead = 0;  // == nHead for GPT-2; fewer for grouped-query attention
    int nEmbd = 0;
    int nPositions = 0;
    int vocabSize = 0;
    int nInner = 0;  // MLP width, 4 * nEmbd for GPT-2
    float normEps = 1e-5f;
    NormKind norm = NormKind::LayerNorm;
    Activation activation = Activation::GeluTanh;
    PositionKind positions = PositionKind::Learned;
    bool tiedLmHead = true;
    bool attnBias = true;        // Q, K, V projections have biases (GPT-2, Qwen2)
    bool projBias = true;        // output projection and MLP have biases (GPT-2)
    float ropeTheta = 10000.0f;  // base of the rotary frequencies: theta^(-2i/head_dim)
    RopePairing ropePairing = RopePairing::Adjacent;

    int headDim() const { return nEmbd / nHead; }
    int kvDim() const { return nKvHead * headDim(); }
};

// Dimension caps keep a hostile config.json from asking for terabytes before any tensor is read.
constexpr int kMaxLayers = 1024;
constexpr int kMaxEmbd = 65536;
constexpr int kMaxPositions = 1 << 20;
constexpr int kMaxVocab = 1 << 22;

Result<ModelConfig> parseModelConfig(const QByteArray& json, const QString& fileName);

}  // namespace kvscope
