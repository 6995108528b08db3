// The pool of the forward pass (util/work_pool.h): every block runs exactly once whatever the
// thread count, the caller never waits for a worker that is not there, two callers at once each
// get all their blocks done, and a read-ahead can be started, interrupted by jobs and dropped
// before its memory goes. .ci/run also runs it under ThreadSanitizer.

#include "util/compute_threads.h"
#include "util/parallel.h"
#include "util/work_pool.h"

#include <QtTest>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

using namespace kvscope;

namespace {

// Runs `blocks` blocks and returns how often each ran.
std::vector<int> countRuns(int blocks) {
    std::vector<std::atomic<int>> runs(std::size_t(std::max(blocks, 1)));
    runBodyBlocks(blocks, [&](int b) { runs[std::size_t(b)].fetch_add(1); });
    std::vector<int> out;
    for (int b = 0; b < blocks; ++b) out.push_back(runs[std::size_t(b)].load());
    return out;
}

}  // namespace

class TestWorkPool : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void cleanup() { setComputeThreads(0); }

    void everyBlockRunsOnce_data() {
        QTest::addColumn<int>("threads");
        QTest::addColumn<int>("blocks");
        for (int threads : {1, 2, 3})
            for (int blocks : {0, 1, 2, 3, 16, 1000})
                QTest::addRow("%d@%d", blocks, threads) << threads << blocks;
    }

    void everyBlockRunsOnce() {
        QFETCH(int, threads);
        QFETCH(int, blocks);
        setComputeThreads(threads);
        for (int round = 0; round < 50; ++round) {  // many jobs: the slot is reused
            const std::vector<int> runs = countRuns(blocks);
            for (int b = 0; b < blocks; ++b) QCOMPARE(runs[std::size_t(b)], 1);
        }
    }

    // parallelBlocks' shrinking blocks cover [0, n) exactly once, each a multiple of the grain
    // but the last, never larger than the one before it but the last, and the last few short.
    void blocksCoverTheLoopAndShrink_data() {
        QTest::addColumn<int>("threads");
        QTest::addColumn<int>("n");
        QTest::addColumn<int>("grain");
        for (int threads : {1, 2, 3})
            for (int n : {1, 17, 768, 2304, 50257, 1 << 20})
                for (int grain : {1, 16, 128})
                    QTest::addRow("n %d grain %d @%d", n, grain, threads) << threads << n << grain;
    }

    void blocksCoverTheLoopAndShrink() {
        QFETCH(int, threads);
        QFETCH(int, n);
        QFETCH(int, grain);
        setComputeThreads(threads);
        std::mutex m;
        std::vector<std::pair<int, int>> ranges;
        std::vector<std::atomic<int>> seen(static_cast<std::size_t>(n));
        parallelBlocks(n, kParallelMinWork, grain, [&](int begin, int end) {
            for (int i = begin; i < end; ++i) seen[std::size_t(i)].fetch_add(1);
            std::lock_guard lock(m);
            ranges.emplace_back(begin, end);
        });
        for (int i = 0; i < n; ++i) QCOMPARE(seen[std::size_t(i)].load(), 1);
        std::sort(ranges.begin(), ranges.end());
        QVERIFY(int(ranges.size()) <= kMaxBlocks);
        for (std::size_t b = 0; b + 1 < ranges.size(); ++b) {
            const int size = ranges[b].second - ranges[b].first;
            QCOMPARE(size % grain, 0);
            if (b + 2 < ranges.size()) QVERIFY(size >= ranges[b + 1].second - ranges[b + 1].first);
        }
        const int used = computeThreads();  // the machine may have fewer than asked
        if (ranges.size() > 1 && n >= used * kTailBlocksPerThread * grain) {
            const auto& last = ranges[ranges.size() - 2];  // the last full-grain block
            QVERIFY(last.second - last.first <= n / (used * kTailBlocksPerThread) + grain);
        }
    }

    // With 2 threads a block's body may run on a worker; it must see what the caller wrote before
    // the job and the caller must see what it wrote.
    void writesAreVisibleBothWays() {
        setComputeThreads(2);
        std::vector<int> in(4096), out(4096);
        for (int round = 0; round < 200; ++round) {
            for (std::size_t i = 0; i < in.size(); ++i) in[i] = int(i) * round;
            runBodyBlocks(64, [&](int b) {
                for (int i = b * 64; i < (b + 1) * 64; ++i)
                    out[std::size_t(i)] = in[std::size_t(i)] + 1;
            });
            for (std::size_t i = 0; i < in.size(); ++i) QCOMPARE(out[i], int(i) * round + 1);
        }
    }

    // A worker the scheduler does not run (here: one that is busy in a long block) does not hold
    // up the blocks it has not claimed: the caller does them all.
    void theCallerTakesTheBlocksOfABusyWorker() {
        setComputeThreads(2);
        std::atomic<bool> release{false};
        std::atomic<int> done{0};
        std::thread other([&] {
            // A second caller's job occupies the pool's worker (its blocks may run anywhere);
            // the first block waits until released.
            runBodyBlocks(2, [&](int b) {
                if (b == 0)
                    while (!release.load()) std::this_thread::yield();
                done.fetch_add(1);
            });
        });
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        // The pool is busy with the other caller's job: this call runs its blocks itself.
        const std::vector<int> runs = countRuns(100);
        for (int r : runs) QCOMPARE(r, 1);
        release.store(true);
        other.join();
        QCOMPARE(done.load(), 2);
    }

    void twoCallersAtOnce() {
        setComputeThreads(2);
        std::atomic<bool> failed{false};
        auto caller = [&] {
            for (int round = 0; round < 300; ++round) {
                const std::vector<int> runs = countRuns(37);
                for (int r : runs)
                    if (r != 1) failed.store(true);
            }
        };
        std::thread a(caller), b(caller);
        a.join();
        b.join();
        QVERIFY(!failed.load());
    }

    // A read-ahead over a buffer, interrupted by jobs, then dropped; the buffer is freed right
    // after the drop (AddressSanitizer would report a read after it).
    void readAheadIsDroppedBeforeItsMemoryGoes() {
        setComputeThreads(2);
        countRuns(4);  // the workers exist
        for (int round = 0; round < 20; ++round) {
            auto buffer = std::make_unique<char[]>(std::size_t(4) << 20);
            prefetchForNext(buffer.get(), std::int64_t(4) << 20);
            for (int j = 0; j < 5; ++j) {
                const std::vector<int> runs = countRuns(8);
                for (int r : runs) QCOMPARE(r, 1);
            }
            dropPrefetch();
            buffer.reset();
        }
    }

    // Changing the thread count between jobs (a run with other settings) resizes the pool.
    void threadCountChangesBetweenJobs() {
        for (int threads : {2, 1, 2, 2, 1}) {
            setComputeThreads(threads);
            const std::vector<int> runs = countRuns(64);
            for (int r : runs) QCOMPARE(r, 1);
        }
    }
};

QTEST_MAIN(TestWorkPool)
#include "test_work_pool.moc"
