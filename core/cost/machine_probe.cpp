#include "cost/machine_probe.h"

#include "cost/bandwidth_probe.h"
#include "util/compute_threads.h"

#include <Eigen/Core>

#include <QElapsedTimer>
#include <QSettings>
#include <QStringList>

#include <algorithm>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace kvscope {
namespace {

constexpr std::int64_t kReadBytes = std::int64_t(256) << 20;  // 8x a 32 MB last-level cache
constexpr int kReadPasses = 4;

int threadIndex() {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

}  // namespace

double measureGemmRate(int threads, int n, int passes) {
#ifndef _OPENMP
    threads = 1;
#endif
    threads = std::clamp(threads, 1, n);
    const Eigen::MatrixXf a = Eigen::MatrixXf::Random(n, n), b = Eigen::MatrixXf::Random(n, n);
    Eigen::MatrixXf c(n, n);  // (n, n), column-major: each thread owns a block of columns
    double best = 0;
    for (int pass = 0; pass < passes; ++pass) {
        QElapsedTimer t;
        t.start();
        // Inside a parallel region Eigen runs each product on its calling thread alone.
#pragma omp parallel num_threads(threads)
        {
            const int i = threadIndex(), width = n / threads;
            const int from = i * width, cols = i == threads - 1 ? n - from : width;
            c.middleCols(from, cols).noalias() = a * b.middleCols(from, cols);
        }
        const double seconds = double(t.nsecsElapsed()) / 1e9;
        if (seconds > 0) best = std::max(best, 2.0 * n * n * double(n) / seconds / 1e9);
    }
    return c(0, 0) == 12345.f ? 0 : best;  // keeps the products from being optimised away
}

MachineRoofs measureMachineRoofs(int threads) {
    MachineRoofs r;
    r.threads = threads <= 0 ? hardwareThreads() : std::min(threads, hardwareThreads());
    r.bandwidthGBs = bench::quickReadBandwidth(r.threads, kReadBytes, kReadPasses);
    r.gemmGflops = measureGemmRate(r.threads);
    r.measured = QDateTime::currentDateTimeUtc();
    return r;
}

std::optional<MachineRoofs> rememberedRoofs(const QSettings& s) {
    MachineRoofs r;
    r.bandwidthGBs = s.value(QStringLiteral("roofs/bandwidthGBs")).toDouble();
    r.gemmGflops = s.value(QStringLiteral("roofs/gemmGflops")).toDouble();
    r.threads = s.value(QStringLiteral("roofs/threads")).toInt();
    r.measured = s.value(QStringLiteral("roofs/measured")).toDateTime();
    if (!(r.bandwidthGBs > 0) || !(r.gemmGflops > 0)) return std::nullopt;
    return r;
}

void rememberRoofs(QSettings& s, const MachineRoofs& r) {
    s.setValue(QStringLiteral("roofs/bandwidthGBs"), r.bandwidthGBs);
    s.setValue(QStringLiteral("roofs/gemmGflops"), r.gemmGflops);
    s.setValue(QStringLiteral("roofs/threads"), r.threads);
    s.setValue(QStringLiteral("roofs/measured"), r.measured);
}

QString describeRoofs(const MachineRoofs& r) {
    QString text = QStringLiteral("%1 GB/s read, %2 GFLOP/s GEMM")
                       .arg(r.bandwidthGBs, 0, 'f', 1)
                       .arg(r.gemmGflops, 0, 'f', 1);
    if (r.threads > 0 || r.measured.isValid()) {
        QStringList when;
        if (r.threads > 0) when << QStringLiteral("%1 threads").arg(r.threads);
        if (r.measured.isValid())
            when << QStringLiteral("measured %1 UTC")
                        .arg(r.measured.toUTC().toString(QStringLiteral("yyyy-MM-dd hh:mm")));
        text += QStringLiteral(" (%1)").arg(when.join(QStringLiteral(", ")));
    }
    return text;
}

}  // namespace kvscope
