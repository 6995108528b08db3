#pragma once
// The order of a decode step's products, so that after each one the idle compute threads can
// read ahead the weights of the next (util/work_pool.h): between two products the caller does
// serial work (norms, rotary embeddings, attention over the cache, the sampler) while memory,
// the decode's limit, would otherwise stand still.

#include "nn/linear.h"

#include <unordered_map>
#include <vector>

namespace kvscope {

class ReadAheadOrder {
public:
    ReadAheadOrder() = default;
    // Ends any read-ahead, which may be reading the weights this order names.
    ~ReadAheadOrder();
    ReadAheadOrder(const ReadAheadOrder&) = delete;
    ReadAheadOrder& operator=(const ReadAheadOrder&) = delete;

    // The products of one pass in the order it runs them; after the last comes the first (of
    // the next step). Their addresses must stay put.
    void set(const std::vector<const Linear*>& order);

    // Call after `done` ran on `rows` rows: names the next product's weights to read ahead, when
    // the pass is a decode step (one row). Multi-row passes are matrix-matrix products limited
    // by arithmetic, not memory, which a worker busy reading ahead would only slow.
    void after(const Linear& done, int rows) const;

private:
    std::unordered_map<const Linear*, const Linear*> next_;
};

}  // namespace kvscope
