#pragma once
// The MLP non-linearities, in place over a block of rows. Each adds the FLOPs it executes.

#include "cost/flops.h"
#include "nn/linear.h"

namespace kvscope {

// GPT-2's tanh approximation of GELU over every element of x (rows, inner).
void geluTanh(Eigen::Ref<RowMatrix> x, FlopBreakdown& f);

// SwiGLU: gateUp is (rows, 2 * inner), the gate x W1 in its left half and x W3 in its right;
// the left half becomes silu(gate) * up, the input of W2.
void swiGlu(Eigen::Ref<RowMatrix> gateUp, FlopBreakdown& f);

}  // namespace kvscope
