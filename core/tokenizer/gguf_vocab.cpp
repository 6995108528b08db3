#include "tokenizer/gguf_vocab.h"

#include "tokenizer/byte_level_bpe.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/sentencepiece_bpe.h"

#include <memory>
#include <string_view>
#include <utility>

namespace kvscope {

namespace {

QString quotedName(std::string_view s) {
    return QLatin1Char('"') + QString::fromUtf8(s.data(), static_cast<qsizetype>(s.size())) +
           QLatin1Char('"');
}

// A special id from the file (checkSpecialIds has bounded it), or its default.
int specialId(const std::optional<std::int64_t>& id, int fallback) {
    return id ? static_cast<int>(*id) : fallback;
}

QString checkSpecialIds(const GgufVocabulary& v, const QString& file) {
    const std::pair<const char*, std::optional<std::int64_t>> ids[] = {
        {"bos", v.bos}, {"eos", v.eos}, {"eot", v.eot}};
    for (const auto& [name, id] : ids) {
        if (id && (*id < 0 || *id >= static_cast<std::int64_t>(v.tokens.size()))) {
            return QStringLiteral(
                       "%1: tokenizer.ggml.%2_token_id: expected an id below %3, "
                       "found %4")
                .arg(file, QLatin1String(name))
                .arg(v.tokens.size())
                .arg(*id);
        }
    }
    return {};
}

QString checkLengths(const GgufVocabulary& v, const QString& file) {
    const auto mismatch = [&](const char* key, std::size_t found) {
        return QStringLiteral("%1: tokenizer.ggml.%2: expected one entry per token (%3), found %4")
            .arg(file, QLatin1String(key))
            .arg(v.tokens.size())
            .arg(found);
    };
    if (!v.scores.empty() && v.scores.size() != v.tokens.size()) {
        return mismatch("scores", v.scores.size());
    }
    if (!v.types.empty() && v.types.size() != v.tokens.size()) {
        return mismatch("token_type", v.types.size());
    }
    return {};
}

SentencePieceBpe::Type pieceType(std::int32_t type) {
    using Type = SentencePieceBpe::Type;
    switch (type) {
        case 2:
            return Type::Unknown;
        case 3:
            return Type::Control;
        case 4:
            return Type::UserDefined;
        case 5:
            return Type::Unused;
        case 6:
            return Type::Byte;
        default:
            return Type::Normal;
    }
}

Result<TokenizerPtr> sentencePieceFromGguf(const GgufVocabulary& v, const QString& file) {
    std::vector<SentencePieceBpe::Piece> pieces(v.tokens.size());  // (n_vocab)
    for (std::size_t id = 0; id < v.tokens.size(); ++id) {
        const std::int32_t type = v.types.empty() ? 1 : v.types[id];
        if (type < 0 || type > 6) {
            return Error{
                QStringLiteral("%1: tokenizer.ggml.token_type[%2]: expected a token type from "
                               "0 to 6, found %3")
                    .arg(file)
                    .arg(id)
                    .arg(type)};
        }
        SentencePieceBpe::Piece& p = pieces[id];
        // The pieces hold spaces where sentencepiece writes U+2581 (as tokenizer.bin does).
        p.text = SentencePieceBpe::spacesForMarkers(v.tokens[id]);
        p.score = v.scores.empty() ? 0.0f : v.scores[id];
        p.type = pieceType(type);
    }
    const int bos = specialId(v.bos, 1), eos = specialId(v.eos, 2);
    const int n = static_cast<int>(pieces.size());
    // llama.cpp's defaults name ids 1 and 2 whether or not the vocabulary is that long.
    const int checkedBos = !v.bos && bos >= n ? -1 : bos;
    const int checkedEos = !v.eos && eos >= n ? -1 : eos;
    auto made = SentencePieceBpe::fromPieces(std::move(pieces), checkedBos, checkedEos,
                                             file + QStringLiteral(": tokenizer.ggml.tokens"),
                                             v.addBos.value_or(true));
    if (!made) return Error{made.errorMessage()};
    return TokenizerPtr(std::make_shared<SentencePieceBpe>(made.take()));
}

Result<TokenizerPtr> byteLevelFromGguf(const GgufVocabulary& v, const QString& file) {
    const std::string pre = v.pre.value_or(std::string());
    const std::optional<PreTokenizer> kind = preTokenizerFromName(pre);
    if (!kind) {
        return Error{QStringLiteral("%1: tokenizer.ggml.pre: expected one of \"default\", "
                                    "\"gpt-2\", \"llama-bpe\" (or \"llama3\", \"llama-v3\"), "
                                    "\"qwen2\", \"smollm\", found the unsupported pre-tokenizer "
                                    "%2")
                         .arg(file, quotedName(pre))};
    }
    ByteLevelBpe::Vocabulary vocab;
    vocab.tokens = v.tokens;
    vocab.types = v.types;
    vocab.merges = v.merges;
    vocab.pre = *kind;
    vocab.ignoreMerges = ignoresMerges(*kind);
    vocab.special.bos = specialId(v.bos, -1);
    vocab.special.eos = specialId(v.eos, -1);
    vocab.special.eot = specialId(v.eot, -1);
    vocab.special.addBos = v.addBos.value_or(*kind == PreTokenizer::Llama3);
    auto made = ByteLevelBpe::fromVocabulary(vocab, file);
    if (!made) return Error{made.errorMessage()};
    return TokenizerPtr(std::make_shared<ByteLevelBpe>(made.take()));
}

}  // namespace

Result<TokenizerPtr> tokenizerFromGguf(const GgufVocabulary& v, const QString& fileName,
                                       int vocabSize) {
    if (QString error = checkLengths(v, fileName); !error.isEmpty()) return Error{error};
    if (QString error = checkSpecialIds(v, fileName); !error.isEmpty()) return Error{error};
    if (vocabSize > 0 && v.tokens.size() > static_cast<std::size_t>(vocabSize)) {
        return Error{QStringLiteral("%1: tokenizer.ggml.tokens: expected at most the model's "
                                    "vocabulary of %2 tokens, found %3")
                         .arg(fileName)
                         .arg(vocabSize)
                         .arg(v.tokens.size())};
    }
    if (v.model == "llama") return sentencePieceFromGguf(v, fileName);
    if (v.model == "gpt2") return byteLevelFromGguf(v, fileName);
    return Error{QStringLiteral("%1: tokenizer.ggml.model: expected \"llama\" (SentencePiece) or "
                                "\"gpt2\" (byte-level BPE), found the unsupported model %2")
                     .arg(fileName, quotedName(v.model))};
}

}  // namespace kvscope
