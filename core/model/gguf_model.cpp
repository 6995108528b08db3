#include "model/gguf_model.h"

namespace kvscope {
namespace {

template <typename T>
T take(Result<T> r) {
    if (!r) throw LoadError(r.errorMessage());
    return r.take();
}

std::vector<std::string> stringsOf(const GgufStringArray& a) {
    std::vector<std::string> out;
    out.reserve(a.size());
    for (std::size_t i = 0; i < a.size(); ++i) out.emplace_back(a.at(i));
    return out;
}

std::optional<std::int64_t> optionalId(const GgufFile& f, const char* key) {
    const auto v = take(f.optionalU32(QLatin1String(key)));
    return v ? std::optional<std::int64_t>(*v) : std::nullopt;
}

GgufVocabulary readVocabulary(const GgufFile& f) {
    GgufVocabulary v;
    v.model = take(f.str(QStringLiteral("tokenizer.ggml.model"))).toStdString();
    if (const auto pre = take(f.optionalStr(QStringLiteral("tokenizer.ggml.pre"))))
        v.pre = pre->toStdString();
    v.tokens = stringsOf(take(f.strings(QStringLiteral("tokenizer.ggml.tokens"))));
    if (f.has(QStringLiteral("tokenizer.ggml.scores")))
        v.scores = take(f.f32s(QStringLiteral("tokenizer.ggml.scores")));
    if (f.has(QStringLiteral("tokenizer.ggml.token_type")))
        v.types = take(f.i32s(QStringLiteral("tokenizer.ggml.token_type")));
    if (const auto merges = take(f.optionalStrings(QStringLiteral("tokenizer.ggml.merges"))))
        v.merges = stringsOf(*merges);
    v.bos = optionalId(f, "tokenizer.ggml.bos_token_id");
    v.eos = optionalId(f, "tokenizer.ggml.eos_token_id");
    v.eot = optionalId(f, "tokenizer.ggml.eot_token_id");
    v.addBos = take(f.optionalBool(QStringLiteral("tokenizer.ggml.add_bos_token")));
    return v;
}

}  // namespace

Result<GgufVocabulary> ggufVocabulary(const GgufFile& file) {
    try {
        return readVocabulary(file);
    } catch (const LoadError& e) {
        return Error{e.message()};
    }
}

std::vector<TensorInfo> ggufTensorInfos(const GgufFile& file) {
    std::vector<TensorInfo> out;
    out.reserve(file.tensors().size());
    for (const GgufTensor& t : file.tensors()) {
        TensorInfo info;
        info.name = t.name;
        info.shape = t.shape();
        info.begin = t.begin;
        info.end = t.end;
        info.ggml = t.type;
        out.push_back(std::move(info));
    }
    return out;
}

}  // namespace kvscope
