#pragma once
// Token ids by their text, for vocabularies of a few hundred thousand tokens: open addressing
// over a flat table of ids, the texts staying in the caller's vector (so a copied tokenizer
// cannot hold keys that point into another's storage). Faster to build and to probe than a
// node-based map, which matters when a tokenizer.json with 280k merges is loaded.

#include <algorithm>
#include <bit>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace kvscope {

class TextIndex {
public:
    TextIndex() = default;
    // Room for `count` texts at a load factor of at most one half.
    explicit TextIndex(std::size_t count)
        : slots_(std::bit_ceil(std::max<std::size_t>(2 * count, 2)), -1) {}

    // texts[id] is the id's text; an id inserted later replaces one with the same text.
    void insert(const std::vector<std::string>& texts, int id) {
        slots_[slotOf(texts, texts[static_cast<std::size_t>(id)])] = id;
    }
    // The id whose text is `text`, or -1.
    int find(const std::vector<std::string>& texts, std::string_view text) const {
        return slots_.empty() ? -1 : slots_[slotOf(texts, text)];
    }
    bool empty() const { return slots_.empty(); }

private:
    // The slot holding text, or the empty slot where it would go.
    std::size_t slotOf(const std::vector<std::string>& texts, std::string_view text) const {
        const std::size_t mask = slots_.size() - 1;
        for (std::size_t slot = std::hash<std::string_view>{}(text)&mask;;
             slot = (slot + 1) & mask) {
            const int id = slots_[slot];
            if (id < 0 || texts[static_cast<std::size_t>(id)] == text) return slot;
        }
    }

    std::vector<int> slots_;  // (power of two) ids, -1 empty
};

}  // namespace kvscope
