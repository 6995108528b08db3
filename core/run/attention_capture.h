#pragma once
// The run's attention history: one immutable row per position, holding that query position's
// probabilities over keys 0..pos for every layer and head.
//
// Memory: the whole run is the causal triangle, n_layer * n_head * n(n+1)/2 values. Rows are kept
// in float32 while the full-context triangle fits in kFloat32BudgetBytes and in float16 beyond
// that: GPT-2 small (12 x 12 heads, 1024 positions) then needs 144 * 524800 * 2 bytes = 151 MB,
// inside the 200 MB bound; the default-size models stay exact in float32 (4 x 4 heads: 34 MB).
//
// A naive step recomputes every earlier row. Those rows are not stored again: the capture
// compares them with the stored ones and reports the largest difference, which is the proof that
// the recomputation was redundant, and the step refers to the stored rows.

#include "model/transformer.h"

#include <Eigen/Core>

#include <atomic>
#include <memory>
#include <vector>

namespace kvscope {

constexpr std::int64_t kFloat32BudgetBytes = 128ll << 20;

class AttentionRow {
public:
    AttentionRow(int layers, int heads, int pos, bool half);
    int position() const { return pos_; }
    int length() const { return pos_ + 1; }
    int layers() const { return layers_; }
    int heads() const { return heads_; }
    float at(int layer, int head, int key) const;
    void set(int layer, int head, const float* probs);
    bool isHalf() const { return !half_.empty(); }
    std::int64_t bytes() const;

private:
    std::size_t offset(int layer, int head) const;
    int layers_, heads_, pos_;
    std::vector<float> full_;        // (layers, heads, pos + 1) when stored in float32
    std::vector<Eigen::half> half_;  // the same in float16
};

using AttentionRowPtr = std::shared_ptr<const AttentionRow>;

// Whether a model's full-context attention history is kept in float16.
bool attentionStoredAsHalf(const ModelConfig& c);

// Collects rows during one forward pass. Rows below `known` were stored by earlier steps: they are
// compared, not stored. Rows at or above it are stored as new rows. attentionRow() may be called
// from several threads at once for different (layer, head) pairs: beginStep() creates every row
// the step will fill, so the calls only write disjoint slots.
class AttentionCapture final : public AttentionSink {
public:
    explicit AttentionCapture(const ModelConfig& c);
    void reset();  // a new run
    void beginStep(int firstComputedRow, int endRow);
    void attentionRow(int layer, int head, int pos, const float* probs) override;
    // Makes this step's new rows part of the history; returns the rows the step computed.
    std::vector<AttentionRowPtr> finishStep(int firstComputedRow, int endRow);
    // Largest |recomputed - stored| over this step's recomputed rows; -1 when none were recomputed.
    float recomputeMaxDiff() const { return maxDiff_.load(); }
    const std::vector<AttentionRowPtr>& history() const { return rows_; }

private:
    ModelConfig c_;
    bool half_;
    std::vector<AttentionRowPtr> rows_;                 // committed history, index = position
    std::vector<std::shared_ptr<AttentionRow>> fresh_;  // rows being filled this step
    int known_ = 0;
    std::atomic<float> maxDiff_{-1.0f};
};

}  // namespace kvscope
