#include "nn/linear.h"

#include "util/parallel.h"

#include <cstdlib>
#include <new>

namespace kvscope {

void applyLinear(const Linear& l, const Eigen::Ref<const RowMatrix>& x, Eigen::Ref<RowMatrix> y) {
    const Eigen::Map<const RowMatrix> w(l.weight, l.out, l.in);
    if (x.rows() == 1) {
        const Eigen::Map<const Eigen::VectorXf> in(x.data(), l.in);
        float* out = y.data();
        // Chunk sizes are multiples of 16 rows, so no thread gets a sliver of a few rows.
        parallelChunks(l.out, std::int64_t(l.out) * l.in, 16, [&](int begin, int end) {
            Eigen::Map<Eigen::VectorXf> part(out + begin, end - begin);
            part.noalias() = w.middleRows(begin, end - begin) * in;
            if (l.bias) part += Eigen::Map<const Eigen::VectorXf>(l.bias + begin, end - begin);
        });
        return;
    }
    y.noalias() = x * w.transpose();
    if (l.bias) y.rowwise() += Eigen::Map<const Eigen::RowVectorXf>(l.bias, l.out);
}

void FreeDeleter::operator()(float* p) const {
    std::free(p);
}

AlignedFloats allocateAligned(std::int64_t count) {
    constexpr std::size_t kAlign = 64;
    const std::size_t bytes = (std::size_t(count) * sizeof(float) + kAlign - 1) / kAlign * kAlign;
    void* p = std::aligned_alloc(kAlign, bytes ? bytes : kAlign);
    if (!p) throw std::bad_alloc();
    return AlignedFloats(static_cast<float*>(p));
}

}  // namespace kvscope
