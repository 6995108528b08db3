#pragma once
// The bytes one forward pass moves between memory and the cores, beside the FLOPs it executes:
// what makes a cached decode step memory-bound (every weight once for one row) and a naive step
// compute-bound (the same weights for every row). Weights are counted at their stored size
// (a Q4_K matrix at 4.5 bits per weight), read once per pass; the K/V cache at float32.

#include <cstdint>

namespace kvscope {

struct BytesMoved {
    std::int64_t weights = 0;    // every matrix, vector and embedding row the pass reads, once
    std::int64_t kvRead = 0;     // the keys and values attention reads: every position, once
    std::int64_t kvWritten = 0;  // the keys and values of the rows the pass computes

    std::int64_t total() const { return weights + kvRead + kvWritten; }
};

}  // namespace kvscope
