#pragma once
// The pre-tokenizers of byte-level BPE vocabularies: the regular expressions that cut a text into
// the pieces BPE then merges within, one per model family, written by hand from the patterns
// (listed in pre_tokenizer.cpp) rather than run through a regex engine, so that any byte string,
// invalid UTF-8 included, is cut without first being turned into text. The names are GGUF's
// `tokenizer.ggml.pre` values, as llama.cpp's vocabulary loader reads them.

#include <QString>

#include <optional>
#include <string_view>
#include <vector>

namespace kvscope {

enum class PreTokenizer {
    Gpt2,     // GPT-2's pattern ("gpt-2")
    Llama3,   // Llama 3's: case-insensitive contractions, digits in groups of up to 3 ("llama-bpe")
    Qwen2,    // Llama 3's with single digits ("qwen2")
    SmolLm,   // every digit alone, then GPT-2's pattern ("smollm")
    Default,  // llama.cpp's fallback: punctuation runs, GPT-2's pattern, digit runs, then
              // ASCII digits in threes ("default", and a GGUF without the key)
};

// The pre-tokenizer named by tokenizer.ggml.pre: "gpt-2"; "llama-bpe", "llama3" or "llama-v3";
// "qwen2"; "smollm"; "default" or "". Anything else is unknown (no value).
std::optional<PreTokenizer> preTokenizerFromName(std::string_view name);
// The name GGUF would write for it.
QString preTokenizerName(PreTokenizer kind);
// Whether llama.cpp treats a whole piece that is a token as that token before any merge
// (Llama 3's vocabulary has tokens no merge sequence reaches).
bool ignoresMerges(PreTokenizer kind);

// The pieces of utf8: views into it that tile it exactly, in order. A byte that is not valid
// UTF-8 counts as punctuation (neither letter, digit nor space).
std::vector<std::string_view> preTokenize(PreTokenizer kind, std::string_view utf8);

}  // namespace kvscope
