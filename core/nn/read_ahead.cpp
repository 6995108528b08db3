#include "nn/read_ahead.h"

#include "tensor/quant_matvec.h"
#include "util/work_pool.h"

namespace kvscope {

void ReadAheadOrder::set(const std::vector<const Linear*>& order) {
    next_.clear();
    for (std::size_t i = 0; i < order.size(); ++i) next_[order[i]] = order[(i + 1) % order.size()];
}

ReadAheadOrder::~ReadAheadOrder() {
    if (!next_.empty()) dropPrefetch();
}

void ReadAheadOrder::after(const Linear& done, int rows) const {
    if (rows != 1) return;
    const auto it = next_.find(&done);
    if (it == next_.end()) return;
    const Linear& l = *it->second;
    // A stacked product's parts may lie apart in memory; the first one is read first.
    if (l.weight)
        prefetchForNext(l.weight, l.weightBytes());
    else if (!l.stored.empty())
        prefetchForNext(l.stored.front().data,
                        l.stored.front().rows * storedRowBytes(l.stored.front().type, l.in));
}

}  // namespace kvscope
