#include "run/attention_capture.h"

#include <algorithm>
#include <cmath>

namespace kvscope {

AttentionRow::AttentionRow(int layers, int heads, int pos, bool half)
    : layers_(layers), heads_(heads), pos_(pos) {
    const std::size_t n = std::size_t(layers) * heads * (pos + 1);
    if (half)
        half_.resize(n);
    else
        full_.resize(n);
}

std::size_t AttentionRow::offset(int layer, int head) const {
    return (std::size_t(layer) * heads_ + head) * std::size_t(pos_ + 1);
}

float AttentionRow::at(int layer, int head, int key) const {
    const std::size_t i = offset(layer, head) + key;
    return half_.empty() ? full_[i] : float(half_[i]);
}

void AttentionRow::set(int layer, int head, const float* probs) {
    const std::size_t o = offset(layer, head);
    if (half_.empty()) {
        std::copy(probs, probs + length(), full_.begin() + o);
    } else {
        for (int k = 0; k < length(); ++k) half_[o + k] = Eigen::half(probs[k]);
    }
}

std::int64_t AttentionRow::bytes() const {
    return std::int64_t(full_.size() * sizeof(float) + half_.size() * sizeof(Eigen::half));
}

bool attentionStoredAsHalf(const ModelConfig& c) {
    const std::int64_t n = c.nPositions;
    const std::int64_t cells = std::int64_t(c.nLayer) * c.nHead * n * (n + 1) / 2;
    return cells * std::int64_t(sizeof(float)) > kFloat32BudgetBytes;
}

AttentionCapture::AttentionCapture(const ModelConfig& c) : c_(c), half_(attentionStoredAsHalf(c)) {
    rows_.reserve(c.nPositions);
}

void AttentionCapture::reset() {
    rows_.clear();
    fresh_.clear();
    known_ = 0;
}

void AttentionCapture::beginStep(int firstComputedRow, int endRow) {
    known_ = int(rows_.size());
    maxDiff_.store(firstComputedRow < known_ ? 0.0f : -1.0f);
    fresh_.clear();
    for (int pos = std::max(known_, firstComputedRow); pos < endRow; ++pos)
        fresh_.push_back(std::make_shared<AttentionRow>(c_.nLayer, c_.nHead, pos, half_));
}

void AttentionCapture::attentionRow(int layer, int head, int pos, const float* probs) {
    if (pos < known_) {
        const AttentionRow& stored = *rows_[pos];
        float rowMax = 0.0f;
        for (int k = 0; k <= pos; ++k)
            rowMax = std::max(rowMax, std::abs(probs[k] - stored.at(layer, head, k)));
        float seen = maxDiff_.load(std::memory_order_relaxed);
        while (rowMax > seen && !maxDiff_.compare_exchange_weak(seen, rowMax)) {
        }
        return;
    }
    fresh_[std::size_t(pos - known_)]->set(layer, head, probs);
}

std::vector<AttentionRowPtr> AttentionCapture::finishStep(int firstComputedRow, int endRow) {
    for (auto& row : fresh_) rows_.push_back(std::move(row));
    fresh_.clear();
    const int end = std::min(endRow, int(rows_.size()));
    return std::vector<AttentionRowPtr>(rows_.begin() + std::min(firstComputedRow, end),
                                        rows_.begin() + end);
}

}  // namespace kvscope
