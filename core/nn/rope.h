#pragma once
// Rotary position embeddings: each pair of a head's dimensions is rotated by the angle
// position * theta^(-2i / head_dim), i the pair's index. Which dimensions form pair i is the
// format's choice (RopePairing): (2i, 2i + 1) or (i, i + head_dim / 2).

#include "cost/flops.h"
#include "model/model_config.h"

#include <vector>

namespace kvscope {

class RopeTable {
public:
    RopeTable() = default;
    // cos and sin of every (position, pair) below `positions`, computed in double.
    RopeTable(int positions, int headDim, double theta);

    // Rotates each of the `heads` heads of `row` (heads * head_dim floats) for `position`.
    void rotate(float* row, int heads, int position, RopePairing pairing, FlopBreakdown& f) const;
    int headDim() const { return headDim_; }

private:
    int headDim_ = 0;
    std::vector<float> cos_, sin_;  // (positions, head_dim / 2)
};

}  // namespace kvscope
