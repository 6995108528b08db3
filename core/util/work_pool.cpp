#include "util/work_pool.h"

#include "util/compute_threads.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace kvscope {
namespace {

void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#else
    std::this_thread::yield();
#endif
}

// A worker spins this long after its last job before it sleeps: longer than the gaps between the
// products of a decode step, short enough that an idle process does not keep a core busy.
constexpr auto kSpinTime = std::chrono::microseconds(200);
// Read-ahead granularity: a worker looks for a new job between chunks, ~1 us apart.
constexpr std::int64_t kPrefetchChunk = std::int64_t(16) << 10;
constexpr std::int64_t kCacheLine = 64;

// Reads one value per cache line, so the lines (and the hardware prefetcher's run ahead of them)
// land in the cache; the sum only keeps the loads from being optimised away.
std::uint32_t touch(const char* p, std::int64_t bytes) {
    std::uint32_t sum = 0;
    for (std::int64_t i = 0; i < bytes; i += kCacheLine)
        sum += *reinterpret_cast<const volatile std::uint32_t*>(p + i);
    return sum;
}

// One job slot, shared by the caller and the workers. The slot's fields are written by the
// caller only while the slot is closed (epoch even) and no worker is inside it (users == 0); a
// worker reads them only after entering (users + 1) and seeing the epoch still odd and unchanged.
class Pool {
public:
    static Pool& instance() {
        static Pool pool;
        return pool;
    }

    ~Pool() { resize(0); }

    void run(int blocks, BlockFn fn, const void* context, ReadAhead readAhead) {
        std::unique_lock lock(caller_, std::try_to_lock);
        const int workers = computeThreads() - 1;
        if (!lock.owns_lock() || workers < 1 || blocks < 2) {
            if (lock.owns_lock() && readAhead == ReadAhead::End) closeSlot();
            for (int b = 0; b < blocks; ++b) fn(context, b);
            return;
        }
        resize(workers);
        const bool resume = closeSlot() == Kind::Prefetch && readAhead == ReadAhead::Resume;
        kind_ = Kind::Blocks;
        fn_ = fn;
        context_ = context;
        blocks_ = blocks;
        next_.store(0, std::memory_order_relaxed);
        openSlot();
        claimBlocks();
        closeSlot();  // returns once no worker is inside: every claimed block is done
        // The read-ahead a job interrupted goes on where it stopped.
        if (resume && cursor_.load(std::memory_order_relaxed) < prefetchEnd_) {
            kind_ = Kind::Prefetch;
            openSlot();
        }
    }

    void prefetch(const void* p, std::int64_t bytes) {
        std::unique_lock lock(caller_, std::try_to_lock);
        if (!lock.owns_lock() || threads_.empty() || !p || bytes <= 0) return;
        closeSlot();
        kind_ = Kind::Prefetch;
        prefetchBase_ = static_cast<const char*>(p);
        prefetchEnd_ = std::min(bytes, kPrefetchCapBytes);
        cursor_.store(0, std::memory_order_relaxed);
        openSlot();
    }

    void drop() {
        std::lock_guard lock(caller_);
        if (closeSlot() == Kind::Prefetch) prefetchEnd_ = 0;
    }

private:
    enum class Kind { None, Blocks, Prefetch };

    // Closes the open job, if any, and waits until no worker is inside the slot. Returns the
    // kind of job it closed.
    Kind closeSlot() {
        Kind closed = Kind::None;
        if (epoch_.load(std::memory_order_relaxed) & 1) {
            epoch_.fetch_add(1, std::memory_order_seq_cst);
            closed = kind_;
        }
        while (users_.load(std::memory_order_seq_cst) > 0) cpuRelax();
        return closed;
    }

    void openSlot() {
        epoch_.fetch_add(1, std::memory_order_seq_cst);
        if (sleepers_.load(std::memory_order_seq_cst) > 0) epoch_.notify_all();
    }

    void claimBlocks() {
        for (int b; (b = next_.fetch_add(1, std::memory_order_relaxed)) < blocks_;)
            fn_(context_, b);
    }

    void prefetchChunks(std::uint32_t epoch) {
        std::uint32_t sum = 0;
        while (epoch_.load(std::memory_order_relaxed) == epoch) {
            const std::int64_t c = cursor_.fetch_add(kPrefetchChunk, std::memory_order_relaxed);
            if (c >= prefetchEnd_) break;
            sum += touch(prefetchBase_ + c, std::min(kPrefetchChunk, prefetchEnd_ - c));
        }
        sink_.fetch_add(sum, std::memory_order_relaxed);
    }

    void work() {
        std::uint32_t finished = 0;  // the last job this worker found exhausted
        auto idleSince = std::chrono::steady_clock::now();
        while (!stop_.load(std::memory_order_relaxed)) {
            const std::uint32_t e = epoch_.load(std::memory_order_acquire);
            if ((e & 1) && e != finished) {
                users_.fetch_add(1, std::memory_order_seq_cst);
                if (epoch_.load(std::memory_order_seq_cst) == e) {
                    if (kind_ == Kind::Blocks)
                        claimBlocks();
                    else
                        prefetchChunks(e);
                }
                users_.fetch_sub(1, std::memory_order_release);
                finished = e;
                idleSince = std::chrono::steady_clock::now();
                continue;
            }
            if (std::chrono::steady_clock::now() - idleSince < kSpinTime) {
                for (int i = 0; i < 32; ++i) cpuRelax();
                continue;
            }
            sleepers_.fetch_add(1, std::memory_order_seq_cst);
            if (epoch_.load(std::memory_order_seq_cst) == e && !stop_.load()) epoch_.wait(e);
            sleepers_.fetch_sub(1, std::memory_order_relaxed);
            idleSince = std::chrono::steady_clock::now();
        }
    }

    // Holds the caller lock (or runs from the destructor).
    void resize(int workers) {
        if (int(threads_.size()) == workers) return;
        closeSlot();
        stop_.store(true);
        epoch_.fetch_add(2, std::memory_order_seq_cst);  // wakes the sleepers; parity unchanged
        epoch_.notify_all();
        for (std::thread& t : threads_) t.join();
        threads_.clear();
        stop_.store(false);
        for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { work(); });
    }

    std::mutex caller_;
    std::vector<std::thread> threads_;
    std::atomic<bool> stop_{false};
    std::atomic<std::uint32_t> epoch_{0};  // odd while a job is open
    std::atomic<int> users_{0};            // workers inside the slot
    std::atomic<int> sleepers_{0};
    std::atomic<std::uint32_t> sink_{0};

    Kind kind_ = Kind::None;
    BlockFn fn_ = nullptr;
    const void* context_ = nullptr;
    int blocks_ = 0;
    std::atomic<int> next_{0};
    const char* prefetchBase_ = nullptr;
    std::int64_t prefetchEnd_ = 0;
    std::atomic<std::int64_t> cursor_{0};
};

}  // namespace

void runBlocks(int blocks, BlockFn fn, const void* context, ReadAhead readAhead) {
    Pool::instance().run(blocks, fn, context, readAhead);
}

void prefetchForNext(const void* p, std::int64_t bytes) {
    Pool::instance().prefetch(p, bytes);
}

void dropPrefetch() {
    Pool::instance().drop();
}

}  // namespace kvscope
