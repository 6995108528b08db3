#include "util/compute_threads.h"

#include <QThread>

#include <algorithm>
#include <atomic>

namespace kvscope {
namespace {

std::atomic<int> gThreads{0};  // 0 = not set yet: hardwareThreads()

}  // namespace

int hardwareThreads() {
    return std::max(1, QThread::idealThreadCount());
}

void setComputeThreads(int n) {
    const int t = std::clamp(n <= 0 ? hardwareThreads() : n, 1, hardwareThreads());
    gThreads.store(t, std::memory_order_relaxed);
}

int computeThreads() {
    const int t = gThreads.load(std::memory_order_relaxed);
    return t > 0 ? t : hardwareThreads();
}

}  // namespace kvscope
