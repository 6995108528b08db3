#include "formats/llama2c.h"

#include <QStringList>

#include <cstdlib>
#include <limits>

namespace kvscope {

namespace {

// "ak42" as export.py writes it: one little-endian uint32 0x616b3432, i.e. the bytes "24ka".
constexpr std::uint32_t kMagic = 0x616b3432;
constexpr std::uint64_t kLegacyHeaderBytes = 7 * 4;
constexpr std::uint64_t kVersion1HeaderBytes = 256;
constexpr std::uint64_t kVersion1FieldsOffset = 8;  // after magic and version
constexpr std::uint64_t kSharedClassifierOffset = kVersion1FieldsOffset + 7 * 4;
constexpr std::uint64_t kFloatBytes = 4;
static_assert(kLlama2cHeaderBytes == kVersion1HeaderBytes);

// With every field within the caps, the largest file a header can describe (two vocab x dim
// matrices, four dim x dim and three hidden x dim ones per layer, the RoPE tables) is far below
// 2^63 bytes, so the size arithmetic below is plain uint64 and cannot wrap.
constexpr std::uint64_t kMaxHidden = 4ull * kMaxEmbd;
constexpr std::uint64_t kLargestFloats =
    2ull * kMaxVocab * kMaxEmbd +
    std::uint64_t(kMaxLayers) *
        (4ull * kMaxEmbd * kMaxEmbd + 3ull * kMaxHidden * kMaxEmbd + 2ull * kMaxEmbd) +
    kMaxEmbd + std::uint64_t(kMaxPositions) * kMaxEmbd;
static_assert(kLargestFloats < (std::uint64_t(1) << 60) / kFloatBytes);

std::uint32_t readU32(const std::uint8_t* p) {
    return std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 | std::uint32_t(p[2]) << 16 |
           std::uint32_t(p[3]) << 24;
}

std::int32_t readI32(const std::uint8_t* p) {
    return static_cast<std::int32_t>(readU32(p));
}

// The seven fields both layouts share, in file order, under run.c's names.
struct Fields {
    std::int64_t dim = 0, hiddenDim = 0, nLayers = 0, nHeads = 0, nKvHeads = 0, vocabSize = 0,
                 seqLen = 0;
};

Fields readFields(const std::uint8_t* p) {
    Fields f;
    f.dim = readI32(p);
    f.hiddenDim = readI32(p + 4);
    f.nLayers = readI32(p + 8);
    f.nHeads = readI32(p + 12);
    f.nKvHeads = readI32(p + 16);
    f.vocabSize = readI32(p + 20);
    f.seqLen = readI32(p + 24);
    return f;
}

// The header once every field has passed its check; vocab is the absolute count.
struct Header {
    int version = 0;
    std::uint64_t headerBytes = 0;
    std::uint64_t dim = 0, hidden = 0, layers = 0, heads = 0, kvHeads = 0, vocab = 0, seqLen = 0;
    bool tied = true;
    std::int64_t rawVocab = 0;  // as stored, for messages

    std::uint64_t headDim() const { return dim / heads; }
    std::uint64_t kvDim() const { return kvHeads * headDim(); }
    // run.c skips seq_len x head_dim/2 values twice (cos and sin); version 1 dropped them.
    std::uint64_t ropeTableFloats() const { return version == 0 ? seqLen * headDim() : 0; }
    std::uint64_t weightFloats() const {
        const std::uint64_t perLayer =
            2 * dim + 2 * dim * dim + 2 * kvDim() * dim + 3 * hidden * dim;
        return vocab * dim * (tied ? 1 : 2) + layers * perLayer + dim;
    }
    std::uint64_t fileBytes() const {
        return headerBytes + (weightFloats() + ropeTableFloats()) * kFloatBytes;
    }
};

class Parser {
public:
    Parser(const QString& fileName, std::uint64_t fileSize)
        : fileName_(fileName), fileSize_(fileSize) {}

    [[noreturn]] void fail(const QString& message) const {
        throw LoadError(fileName_ + QStringLiteral(": ") + message);
    }
    [[noreturn]] void failField(const QString& field, const QString& expected,
                                std::int64_t found) const {
        fail(QStringLiteral("llama2.c %1 header field %2: expected %3, found %4")
                 .arg(layout_, field, expected)
                 .arg(found));
    }

    Header parseHeader(const std::uint8_t* bytes, std::uint64_t available) {
        if (fileSize_ < 4)
            fail(QStringLiteral("file is %1 bytes; expected at least the %2-byte header of a "
                                "legacy llama2.c checkpoint")
                     .arg(fileSize_)
                     .arg(kLegacyHeaderBytes));
        requireAvailable(available, 4);
        Header h;
        Fields f;
        if (readU32(bytes) == kMagic) {
            layout_ = QStringLiteral("version 1");
            if (fileSize_ < kVersion1HeaderBytes)
                fail(QStringLiteral("file is %1 bytes; expected at least the %2-byte header "
                                    "that its \"ak42\" magic announces")
                         .arg(fileSize_)
                         .arg(kVersion1HeaderBytes));
            requireAvailable(available, kVersion1HeaderBytes);
            h.version = readVersion(bytes);
            h.headerBytes = kVersion1HeaderBytes;
            f = readFields(bytes + kVersion1FieldsOffset);
            h.tied = readSharedClassifier(bytes[kSharedClassifierOffset]);
        } else {
            layout_ = QStringLiteral("legacy");
            if (fileSize_ < kLegacyHeaderBytes)
                fail(QStringLiteral("file is %1 bytes; expected at least the %2-byte header of "
                                    "a legacy llama2.c checkpoint (no \"ak42\" magic found)")
                         .arg(fileSize_)
                         .arg(kLegacyHeaderBytes));
            requireAvailable(available, kLegacyHeaderBytes);
            h.headerBytes = kLegacyHeaderBytes;
            f = readFields(bytes);
            h.tied = f.vocabSize > 0;
        }
        checkFields(f, h);
        return h;
    }

    void checkFileSize(const Header& h) const {
        const std::uint64_t expected = h.fileBytes();
        if (expected == fileSize_) return;
        QString detail = QStringLiteral("%1-byte header + %2 float32 weights")
                             .arg(h.headerBytes)
                             .arg(h.weightFloats());
        if (h.ropeTableFloats() > 0)
            detail += QStringLiteral(" + %1 float32 values of the unused freq_cis tables")
                          .arg(h.ropeTableFloats());
        QString message = QStringLiteral(
                              "llama2.c %1 file size: expected %2 bytes for the header's dim %3, "
                              "hidden_dim %4, n_layers %5, n_heads %6, n_kv_heads %7, vocab_size "
                              "%8, seq_len %9 (%10), found %11 bytes")
                              .arg(layout_)
                              .arg(expected)
                              .arg(h.dim)
                              .arg(h.hidden)
                              .arg(h.layers)
                              .arg(h.heads)
                              .arg(h.kvHeads)
                              .arg(h.rawVocab)
                              .arg(h.seqLen)
                              .arg(detail)
                              .arg(fileSize_);
        message += classifierHint(h);
        fail(message);
    }

private:
    // A caller that read too little is a bug on our side, but still must not read past it.
    void requireAvailable(std::uint64_t available, std::uint64_t needed) const {
        if (available < needed)
            fail(QStringLiteral("the reader was given %1 bytes; expected the file's first %2")
                     .arg(available)
                     .arg(needed));
    }

    int readVersion(const std::uint8_t* bytes) const {
        const std::int32_t version = readI32(bytes + 4);
        if (version == 2)
            fail(
                QStringLiteral("quantized llama2.c version 2 is not supported yet; export the "
                               "checkpoint as float32 with llama2.c's export.py --version 1 "
                               "(or --version 0 for the legacy layout)"));
        if (version != 1) failField(QStringLiteral("version"), QStringLiteral("1"), version);
        return version;
    }

    bool readSharedClassifier(std::uint8_t flag) const {
        if (flag > 1)
            failField(QStringLiteral("shared_classifier"), QStringLiteral("0 or 1"), flag);
        return flag == 1;
    }

    // Checks run in the order the fields are stored, so a test can break one at a time.
    void checkFields(const Fields& f, Header& h) const {
        h.dim = checkCount(QStringLiteral("dim"), f.dim, kMaxEmbd);
        h.hidden = checkCount(QStringLiteral("hidden_dim"), f.hiddenDim, std::int64_t(kMaxHidden));
        h.layers = checkCount(QStringLiteral("n_layers"), f.nLayers, kMaxLayers);
        h.heads = checkCount(QStringLiteral("n_heads"), f.nHeads, f.dim, "dim");
        if (f.dim % f.nHeads != 0)
            failField(QStringLiteral("n_heads"),
                      QStringLiteral("a divisor of dim = %1 (head_dim = dim / n_heads)").arg(f.dim),
                      f.nHeads);
        if ((f.dim / f.nHeads) % 2 != 0)
            failField(QStringLiteral("n_heads"),
                      QStringLiteral("an even head_dim = dim / n_heads for rotary embeddings, "
                                     "which rotate pairs (dim = %1, head_dim = %2)")
                          .arg(f.dim)
                          .arg(f.dim / f.nHeads),
                      f.nHeads);
        h.kvHeads = checkCount(QStringLiteral("n_kv_heads"), f.nKvHeads, f.nHeads, "n_heads");
        if (f.nHeads % f.nKvHeads != 0)
            failField(QStringLiteral("n_kv_heads"),
                      QStringLiteral("a divisor of n_heads = %1").arg(f.nHeads), f.nKvHeads);
        h.rawVocab = f.vocabSize;
        h.vocab = checkVocab(f.vocabSize);
        h.seqLen = checkCount(QStringLiteral("seq_len"), f.seqLen, kMaxPositions);
    }

    // `bound` names the field that sets `max` when it is not a cap from model_config.h.
    std::uint64_t checkCount(const QString& field, std::int64_t value, std::int64_t max,
                             const char* bound = nullptr) const {
        const QString limit = bound ? QStringLiteral("%1 = %2").arg(QLatin1String(bound)).arg(max)
                                    : QString::number(max);
        if (value < 1 || value > max)
            failField(field, QStringLiteral("a count from 1 to %1").arg(limit), value);
        return std::uint64_t(value);
    }

    std::uint64_t checkVocab(std::int64_t value) const {
        const QString field = QStringLiteral("vocab_size");
        if (layout_ == QStringLiteral("legacy")) {
            // The fields are int32, so |value| cannot overflow in int64.
            if (value == 0 || std::abs(value) > kMaxVocab)
                failField(field,
                          QStringLiteral("a count from 1 to %1, negative when the classifier is "
                                         "stored apart from the embedding")
                              .arg(kMaxVocab),
                          value);
            return std::uint64_t(std::abs(value));
        }
        if (value < 1 || value > kMaxVocab)
            failField(field,
                      QStringLiteral("a count from 1 to %1 (version 1 marks a separate "
                                     "classifier with shared_classifier, not a sign)")
                          .arg(kMaxVocab),
                      value);
        return std::uint64_t(value);
    }

    // A classifier announced but absent (or the reverse) is the likeliest writer mistake; say so
    // when the size is off by exactly one vocab_size x dim matrix.
    QString classifierHint(const Header& h) const {
        const std::uint64_t matrix = h.vocab * h.dim * kFloatBytes;
        const QString marker = h.version == 0 ? QStringLiteral("a negative vocab_size")
                                              : QStringLiteral("shared_classifier 0");
        if (h.tied && fileSize_ == h.fileBytes() + matrix)
            return QStringLiteral(
                       "; that is one vocab_size x dim classifier more than the "
                       "header announces (a separate classifier is marked by %1)")
                .arg(marker);
        if (!h.tied && fileSize_ + matrix == h.fileBytes())
            return QStringLiteral(
                       "; that is one vocab_size x dim classifier less than %1 "
                       "announces")
                .arg(marker);
        return {};
    }

    QString fileName_;
    std::uint64_t fileSize_;
    QString layout_;
};

// Appends tensors back to back from `offset`, the way both layouts store them.
class TableBuilder {
public:
    TableBuilder(std::vector<TensorInfo>& out, std::uint64_t offset) : out_(out), at_(offset) {}

    void add(const QString& name, std::vector<std::int64_t> shape) {
        TensorInfo t;
        t.name = name;
        t.dtype = DType::F32;
        std::uint64_t count = 1;
        for (std::int64_t d : shape) count *= std::uint64_t(d);
        t.shape = std::move(shape);
        t.begin = at_;
        t.end = at_ + count * kFloatBytes;
        at_ = t.end;
        out_.push_back(std::move(t));
    }
    // One tensor per layer, `blk.N.<kind>.weight`, consecutive in the file.
    void addPerLayer(std::uint64_t layers, const char* kind,
                     const std::vector<std::int64_t>& shape) {
        for (std::uint64_t l = 0; l < layers; ++l)
            add(QStringLiteral("blk.%1.%2.weight").arg(l).arg(QLatin1String(kind)), shape);
    }
    void skipFloats(std::uint64_t count) { at_ += count * kFloatBytes; }
    std::uint64_t offset() const { return at_; }

private:
    std::vector<TensorInfo>& out_;
    std::uint64_t at_;
};

std::vector<TensorInfo> tensorTable(const Header& h) {
    const auto dim = std::int64_t(h.dim), hidden = std::int64_t(h.hidden),
               kv = std::int64_t(h.kvDim()), vocab = std::int64_t(h.vocab);
    std::vector<TensorInfo> out;
    out.reserve(std::size_t(9 * h.layers + 3));
    TableBuilder b(out, h.headerBytes);
    const auto matrices = [&] {
        b.addPerLayer(h.layers, "attn_q", {dim, dim});
        b.addPerLayer(h.layers, "attn_k", {kv, dim});
        b.addPerLayer(h.layers, "attn_v", {kv, dim});
        b.addPerLayer(h.layers, "attn_output", {dim, dim});
    };
    const auto ffn = [&] {
        b.addPerLayer(h.layers, "ffn_gate", {hidden, dim});  // w1
        b.addPerLayer(h.layers, "ffn_down", {dim, hidden});  // w2
        b.addPerLayer(h.layers, "ffn_up", {hidden, dim});    // w3
    };
    if (h.version == 0) {
        b.add(QStringLiteral("token_embd.weight"), {vocab, dim});
        b.addPerLayer(h.layers, "attn_norm", {dim});
        matrices();
        b.addPerLayer(h.layers, "ffn_norm", {dim});
        ffn();
        b.add(QStringLiteral("output_norm.weight"), {dim});
        b.skipFloats(h.ropeTableFloats());
    } else {
        b.addPerLayer(h.layers, "attn_norm", {dim});
        b.addPerLayer(h.layers, "ffn_norm", {dim});
        b.add(QStringLiteral("output_norm.weight"), {dim});
        b.add(QStringLiteral("token_embd.weight"), {vocab, dim});
        matrices();
        ffn();
    }
    if (!h.tied) b.add(QStringLiteral("output.weight"), {vocab, dim});
    if (b.offset() != h.fileBytes())
        throw LoadError(QStringLiteral("internal error: llama2.c tensor table ends at %1, the "
                                       "size computation says %2")
                            .arg(b.offset())
                            .arg(h.fileBytes()));
    return out;
}

ModelConfig configFor(const Header& h) {
    ModelConfig c;
    c.modelType = QStringLiteral("llama");
    c.nLayer = int(h.layers);
    c.nHead = int(h.heads);
    c.nKvHead = int(h.kvHeads);
    c.nEmbd = int(h.dim);
    c.nInner = int(h.hidden);
    c.nPositions = int(h.seqLen);
    c.vocabSize = int(h.vocab);
    c.normEps = 1e-5f;  // run.c's rmsnorm constant; the file does not store it
    c.norm = NormKind::RmsNorm;
    c.activation = Activation::SwiGlu;
    c.positions = PositionKind::Rotary;
    c.tiedLmHead = h.tied;
    c.attnBias = c.projBias = false;  // Llama has no biases
    c.ropeTheta = 10000.0f;           // run.c's constant
    c.ropePairing = RopePairing::Adjacent;
    return c;
}

}  // namespace

Result<Llama2cCheckpoint> parseLlama2c(const std::uint8_t* bytes, std::uint64_t available,
                                       std::uint64_t fileSize, const QString& fileName) {
    try {
        Parser parser(fileName, fileSize);
        const Header h = parser.parseHeader(bytes, available);
        parser.checkFileSize(h);
        Llama2cCheckpoint out;
        out.version = h.version;
        out.config = configFor(h);
        out.tensors = tensorTable(h);
        return out;
    } catch (const LoadError& e) {
        return Error{e.message()};
    }
}

bool looksLikeLlama2c(const std::uint8_t* bytes, std::uint64_t available, std::uint64_t fileSize) {
    if (available >= 4 && fileSize >= 4 && readU32(bytes) == kMagic) return true;
    return parseLlama2c(bytes, available, fileSize, QString()).ok();
}

}  // namespace kvscope
