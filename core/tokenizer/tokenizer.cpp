#include "tokenizer/tokenizer.h"

#include "tokenizer/utf8.h"

#include <QChar>

namespace kvscope {

std::string Tokenizer::decode(std::span<const int> ids) const {
    std::string out;
    for (int id : ids) out += tokenBytes(id);
    return out;
}

QString Tokenizer::tokenDisplay(int id) const {
    return displayBytes(tokenBytes(id));
}

std::vector<int> Tokenizer::promptIds(std::string_view utf8, bool addBos) const {
    const SpecialTokens s = special();
    std::vector<int> ids;
    if (addBos && s.bos >= 0) ids.push_back(s.bos);
    const std::vector<int> text = encode(utf8);
    ids.insert(ids.end(), text.begin(), text.end());
    if (ids.empty()) {
        if (s.bos >= 0)
            ids.push_back(s.bos);
        else if (s.eot >= 0)
            ids.push_back(s.eot);
    }
    return ids;
}

int Tokenizer::endId() const {
    const SpecialTokens s = special();
    return s.eos >= 0 ? s.eos : s.eot;
}

QString displayBytes(std::string_view bytes) {
    QString out;
    const auto hexByte = [&](unsigned char b) {
        out += QLatin1String("\\x") +
               QString::number(b, 16).rightJustified(2, QLatin1Char('0')).toUpper();
    };
    for (std::size_t i = 0; i < bytes.size();) {
        const Decoded d = decodeUtf8(bytes, i);
        const auto length = static_cast<std::size_t>(d.length);
        if (!d.valid) {
            hexByte(static_cast<unsigned char>(bytes[i]));
        } else if (d.cp == U'\n') {
            out += QLatin1String("\\n");
        } else if (d.cp == U'\r') {
            out += QLatin1String("\\r");
        } else if (d.cp == U'\t') {
            out += QLatin1String("\\t");
        } else if (d.cp == U'\\') {
            out += QLatin1String("\\\\");
        } else if (QChar::category(d.cp) == QChar::Other_Control) {
            for (std::size_t k = 0; k < length; ++k) {
                hexByte(static_cast<unsigned char>(bytes[i + k]));
            }
        } else {
            out += QString::fromUtf8(bytes.data() + i, static_cast<qsizetype>(length));
        }
        i += length;
    }
    return out;
}

}  // namespace kvscope
