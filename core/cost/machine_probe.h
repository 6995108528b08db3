#pragma once
// This machine's two roofs, measured briefly enough to run at start-up: the memory-read
// bandwidth (bounds a step that streams its weights, such as a cached decode step) and the
// float GEMM rate (bounds a step of matrix-matrix products, such as a naive step). Each roof is
// well under a second of work; both run on the calling thread, so the app calls them from a
// background thread, never the GUI thread. Results are remembered in QSettings.

#include "cost/what_if.h"

#include <QDateTime>
#include <QString>

#include <optional>

class QSettings;

namespace kvscope {

struct MachineRoofs {
    double bandwidthGBs = 0;  // best of a few read-sums over 256 MB (bandwidth_probe.h's kernel)
    double gemmGflops = 0;    // best of a few 1024^3 float products through Eigen
    int threads = 0;
    QDateTime measured;  // UTC
    whatif::Roofs roofs() const { return {bandwidthGBs, gemmGflops}; }
};

// Both short probes at `threads` (<= 0: every hardware thread). Touches no process-wide
// setting: the GEMM's threads are its own OpenMP team, not the compute-thread setting a run uses.
MachineRoofs measureMachineRoofs(int threads = 0);
// GFLOP/s of an (n x n) * (n x n) float product, the columns of the result split over `threads`.
double measureGemmRate(int threads, int n = 1024, int passes = 3);

// Under "roofs/" in `settings`; nullopt before the first measurement.
std::optional<MachineRoofs> rememberedRoofs(const QSettings& settings);
void rememberRoofs(QSettings& settings, const MachineRoofs& roofs);
// "28.4 GB/s read, 96.1 GFLOP/s GEMM (2 threads, measured 2026-12-02 01:10 UTC)"
QString describeRoofs(const MachineRoofs& roofs);

}  // namespace kvscope
