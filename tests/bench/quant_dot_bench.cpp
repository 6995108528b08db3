// quant_dot_bench: single-thread matrix-vector products over quantized weights with the fast
// row dots (core/tensor/quant_dot_avx.h) and the scalar reference, in GB/s of weights read. Not
// a test (ctest does not run it): it prints indicative figures.
//
//   quant_dot_bench [--rows 4096] [--cols 4096] [--copies 1] [--seconds 1]
//
// --copies N cycles through N distinct matrices, so N * size beyond the L3 cache measures memory
// rather than cache bandwidth. F32 through Eigen is printed alongside as the float baseline.

#include "tensor/dot_reference.h"
#include "tensor/ggml_type.h"
#include "tensor/quant_dot_avx.h"
#include "tensor/quantize_activation.h"

#include <Eigen/Core>

#include <QElapsedTimer>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace kvscope;

namespace {

struct Options {
    int rows = 4096, cols = 4096, copies = 1;
    double seconds = 1.0;
};

std::vector<std::uint8_t> randomMatrix(GgmlType type, const Options& o, std::mt19937& rng) {
    const GgmlTypeTraits t = ggmlTypeTraits(type);
    const std::size_t rowBytes = std::size_t(o.cols / t.blockSize * t.blockBytes);
    std::vector<std::uint8_t> m(rowBytes * std::size_t(o.rows));
    std::uniform_int_distribution<int> byte(0, 255);
    for (auto& c : m) c = std::uint8_t(byte(rng));
    // Keep every f16 scale finite and small: 0x2000-0x23FF is about 0.008-0.016.
    const int scaleAt = type == GgmlType::Q6_K ? 208 : 0;
    const int scales = type == GgmlType::Q4_K ? 2 : 1;
    for (std::size_t o2 = 0; o2 < m.size(); o2 += std::size_t(t.blockBytes))
        for (int k = 0; k < scales; ++k) m[o2 + std::size_t(scaleAt + 2 * k) + 1] = 0x20;
    return m;
}

// Runs `matvec` (one full product) repeatedly for about o.seconds; best GB/s of `bytes`.
template <typename F>
double bestGBs(const Options& o, double bytes, F matvec) {
    double best = 0, elapsed = 0;
    while (elapsed < o.seconds) {
        QElapsedTimer t;
        t.start();
        matvec();
        const double s = double(t.nsecsElapsed()) / 1e9;
        elapsed += s;
        best = std::max(best, bytes / s / 1e9);
    }
    return best;
}

void benchType(GgmlType type, const Options& o, std::mt19937& rng) {
    const GgmlTypeTraits t = ggmlTypeTraits(type);
    std::vector<std::vector<std::uint8_t>> mats;
    for (int c = 0; c < o.copies; ++c) mats.push_back(randomMatrix(type, o, rng));
    const std::size_t rowBytes = mats[0].size() / std::size_t(o.rows);
    std::vector<float> x(static_cast<std::size_t>(o.cols)), y(static_cast<std::size_t>(o.rows));
    std::normal_distribution<float> normal;
    for (float& v : x) v = normal(rng);
    std::vector<BlockQ8_0> x0(static_cast<std::size_t>(o.cols / 32));
    std::vector<BlockQ8_K> xk(static_cast<std::size_t>(o.cols / 256));
    quantizeRowQ8_0(x.data(), o.cols, x0.data());
    quantizeRowQ8_K(x.data(), o.cols, xk.data());

    int which = 0;
    auto fast = [&] {
        const std::uint8_t* m = mats[std::size_t(which++ % o.copies)].data();
        for (int r = 0; r < o.rows; ++r) {
            const std::uint8_t* row = m + std::size_t(r) * rowBytes;
            if (type == GgmlType::Q8_0) y[std::size_t(r)] = dotQ8_0Q8_0(row, x0.data(), o.cols);
            if (type == GgmlType::Q4_K) y[std::size_t(r)] = dotQ4_KQ8_K(row, xk.data(), o.cols);
            if (type == GgmlType::Q6_K) y[std::size_t(r)] = dotQ6_KQ8_K(row, xk.data(), o.cols);
        }
    };
    auto reference = [&] {
        const std::uint8_t* m = mats[std::size_t(which++ % o.copies)].data();
        for (int r = 0; r < o.rows; ++r) {
            const std::uint8_t* row = m + std::size_t(r) * rowBytes;
            y[std::size_t(r)] =
                float(type == GgmlType::Q8_0 ? *dotQ8_0Reference(type, row, x0.data(), o.cols)
                                             : *dotQ8_KReference(type, row, xk.data(), o.cols));
        }
    };
    const double bytes = double(mats[0].size());
    const double f = bestGBs(o, bytes, fast);
    const double r = bestGBs(o, bytes, reference);
    std::printf("%-5s %6.1f MB x %d  fast %6.2f GB/s (%6.1f us)   scalar reference %5.2f GB/s\n",
                std::string(t.name).c_str(), bytes / 1e6, o.copies, f, bytes / f / 1e3, r);
}

void benchF32(const Options& o) {
    std::vector<Eigen::MatrixXf> mats;
    for (int c = 0; c < o.copies; ++c) mats.push_back(Eigen::MatrixXf::Random(o.cols, o.rows));
    const Eigen::VectorXf x = Eigen::VectorXf::Random(o.cols);
    Eigen::VectorXf y(o.rows);
    int which = 0;
    // Column-major (cols, rows) transposed: each output reads one contiguous row of weights.
    const double bytes = 4.0 * o.rows * o.cols;
    const double g = bestGBs(
        o, bytes, [&] { y.noalias() = mats[std::size_t(which++ % o.copies)].transpose() * x; });
    std::printf("F32   %6.1f MB x %d  Eigen %6.2f GB/s (%6.1f us)\n", bytes / 1e6, o.copies, g,
                bytes / g / 1e3);
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string key = argv[i];
        if (key == "--rows")
            o.rows = std::atoi(argv[i + 1]);
        else if (key == "--cols")
            o.cols = std::atoi(argv[i + 1]);
        else if (key == "--copies")
            o.copies = std::max(1, std::atoi(argv[i + 1]));
        else if (key == "--seconds")
            o.seconds = std::atof(argv[i + 1]);
        else {
            std::fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (o.cols % 256 != 0 || o.rows <= 0) {
        std::fprintf(stderr, "--cols must be a multiple of 256, --rows positive\n");
        return 2;
    }
    Eigen::setNbThreads(1);
    std::printf("quant_dot_bench: %d x %d, one thread, %s kernels\n", o.rows, o.cols,
                quantDotUsesAvx2() ? "AVX2" : "scalar");
    std::mt19937 rng(1);
    for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::Q6_K}) benchType(t, o, rng);
    benchF32(o);
    return 0;
}
