#include "tokenizer/tokenizer_bin.h"

#include <QFile>

#include <bit>
#include <cmath>
#include <cstdint>
#include <optional>

namespace kvscope {

namespace {

using Type = SentencePieceBpe::Type;

// A cursor over the file that reads little-endian 4-byte fields and never past the end.
class Cursor {
public:
    explicit Cursor(QByteArrayView data) : data_(data) {}

    qsizetype pos() const { return pos_; }
    qsizetype left() const { return data_.size() - pos_; }
    bool atEnd() const { return left() == 0; }

    std::optional<std::uint32_t> word() {
        if (left() < 4) return std::nullopt;
        std::uint32_t w = 0;
        for (int k = 3; k >= 0; --k) w = (w << 8) | static_cast<unsigned char>(data_[pos_ + k]);
        pos_ += 4;
        return w;
    }
    std::string bytes(qsizetype n) {
        std::string s(data_.data() + pos_, static_cast<std::size_t>(n));
        pos_ += n;
        return s;
    }

private:
    QByteArrayView data_;
    qsizetype pos_ = 0;
};

struct Token {
    float score;
    std::string text;
};

// One token at the cursor, or an error message naming the field (after `where`).
std::optional<Token> readToken(Cursor& in, std::int32_t maxLength, const QString& where,
                               QString& error) {
    const auto cutOff = [&](const char* field, qsizetype want) {
        error = QStringLiteral(
                    "%1: %2: expected %3 bytes at byte offset %4, found %5 before the "
                    "end of the file")
                    .arg(where, QLatin1String(field))
                    .arg(want)
                    .arg(in.pos())
                    .arg(in.left());
    };
    const qsizetype start = in.pos();
    const std::optional<std::uint32_t> score = in.word();
    if (!score) {
        cutOff("score (float32)", 4);
        return std::nullopt;
    }
    const std::optional<std::uint32_t> length = in.word();
    if (!length) {
        cutOff("length (int32)", 4);
        return std::nullopt;
    }
    const auto n = static_cast<std::int32_t>(*length);
    const auto value = std::bit_cast<float>(*score);
    if (std::isnan(value)) {
        error =
            QStringLiteral("%1: score (float32 at byte offset %2): expected a number, found NaN")
                .arg(where)
                .arg(start);
        return std::nullopt;
    }
    if (n < 0 || n > maxLength) {
        error = QStringLiteral(
                    "%1: length (int32 at byte offset %2): expected 0 to "
                    "max_token_length = %3, found %4")
                    .arg(where)
                    .arg(start + 4)
                    .arg(maxLength)
                    .arg(n);
        return std::nullopt;
    }
    if (in.left() < n) {
        cutOff("text", n);
        return std::nullopt;
    }
    return Token{value, in.bytes(n)};
}

// llama2.c's export wraps BOS and EOS in newlines; the name is what is shown for them.
std::string controlName(const std::string& text, const char* fallback) {
    const std::size_t first = text.find_first_not_of(" \n");
    if (first == std::string::npos) return fallback;
    return text.substr(first, text.find_last_not_of(" \n") - first + 1);
}

SentencePieceBpe::Piece toPiece(int id, Token token) {
    SentencePieceBpe::Piece p{std::move(token.text), token.score, Type::Normal};
    if (id == 0) {
        p.type = Type::Unknown;
    } else if (id == 1 || id == 2) {
        p.type = Type::Control;
        p.text = controlName(p.text, id == 1 ? "<s>" : "</s>");
    } else if (SentencePieceBpe::byteOfPiece(p.text) >= 0) {
        p.type = Type::Byte;
    }
    return p;
}

}  // namespace

Result<SentencePieceBpe> parseTokenizerBin(QByteArrayView data, int vocabSize,
                                           const QString& fileName) {
    if (vocabSize < 1) {
        return Error{QStringLiteral("%1: expected a vocabulary size of at least 1 from the "
                                    "model, found %2")
                         .arg(fileName)
                         .arg(vocabSize)};
    }
    Cursor in(data);
    const std::optional<std::uint32_t> header = in.word();
    if (!header) {
        return Error{QStringLiteral("%1: max_token_length (int32 at byte offset 0): expected 4 "
                                    "bytes, found a file of %2 bytes")
                         .arg(fileName)
                         .arg(data.size())};
    }
    const auto maxLength = static_cast<std::int32_t>(*header);
    if (maxLength < 0) {
        return Error{QStringLiteral("%1: max_token_length (int32 at byte offset 0): expected a "
                                    "length >= 0, found %2")
                         .arg(fileName)
                         .arg(maxLength)};
    }

    std::vector<SentencePieceBpe::Piece> pieces;
    QString error;
    for (int i = 0; i < vocabSize; ++i) {
        if (in.atEnd()) {
            return Error{QStringLiteral("%1: expected %2 tokens (the model's vocab_size), found "
                                        "%3: the file ends at byte offset %4")
                             .arg(fileName)
                             .arg(vocabSize)
                             .arg(i)
                             .arg(in.pos())};
        }
        const QString where = QStringLiteral("%1: token %2").arg(fileName).arg(i);
        std::optional<Token> token = readToken(in, maxLength, where, error);
        if (!token) return Error{error};
        pieces.push_back(toPiece(i, std::move(*token)));
    }
    if (!in.atEnd()) {
        const qsizetype end = in.pos(), extra = in.left();
        int more = 0;
        while (!in.atEnd() && readToken(in, maxLength, QString(), error)) ++more;
        return Error{QStringLiteral("%1: expected the file to end after %2 tokens (the model's "
                                    "vocab_size) at byte offset %3, found %4 more bytes, which "
                                    "hold %5 more whole tokens")
                         .arg(fileName)
                         .arg(vocabSize)
                         .arg(end)
                         .arg(extra)
                         .arg(more)};
    }
    const int bos = vocabSize > 1 ? 1 : -1;
    const int eos = vocabSize > 2 ? 2 : -1;
    return SentencePieceBpe::fromPieces(std::move(pieces), bos, eos, fileName);
}

Result<SentencePieceBpe> loadTokenizerBin(const QString& path, int vocabSize) {
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        return Error{
            QStringLiteral("%1: cannot read the tokenizer file: %2").arg(path, file.errorString())};
    }
    const QByteArray data = file.readAll();
    return parseTokenizerBin(data, vocabSize, path);
}

}  // namespace kvscope
