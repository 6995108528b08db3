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
