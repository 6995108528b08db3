// kvscope_bench: how fast cached and naive generation run, next to what this machine allows,
// all measured in one run. Not a test (ctest does not run it): it prints figures.
//
//   kvscope_bench [--gpt2 DIR] [--llama FILE] [--gguf FILE,FILE...] [--threads 1,2]
//                 [--tokens 256,1024] [--repeats 3] [--naive 0|1] [--json FILE]
//   kvscope_bench --memory-run DIR [--threads N]
//   kvscope_bench --probe-only 1 [--threads 1,2]
//
// Limits: the bandwidth probe (bandwidth_probe.h: the fastest of a read-sum, a STREAM triad and
// two matrix-vector products, each over buffers far beyond the caches) bounds a cached decode
// step, which streams every weight once; Eigen's float GEMM rate (2048^3, best of 3) bounds a
// naive step, which is matrix-matrix products over the whole sequence. Both at the same thread
// count. --llama takes a llama2.c checkpoint with its tokenizer.bin beside it; --gguf GGUF files
// (each named by its file), whose weights stay quantized: their decode reads the stored bytes.
// Big models also get a prefill case: one forward pass over a 512-token prompt, as llama-bench
// -p 512 measures it, reported in prompt tokens per second.

#include "cost/bandwidth_probe.h"
#include "cost/flops.h"
#include "cost/machine_probe.h"
#include "model/embedded_model.h"
#include "model/model.h"
#include "nn/linear.h"
#include "run/generation_session.h"
#include "util/compute_threads.h"

#include <Eigen/Core>

#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QStringList>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <vector>

using namespace kvscope;

namespace {

double seconds(const QElapsedTimer& t) {
    return double(t.nsecsElapsed()) / 1e9;
}

// The naive steps' limit: the faster of two ways to run a 2048^3 float product on `threads`,
// best of three each: split by columns over OpenMP's threads (as the app's roofline measures
// it), and the engine's own applyLinear (Eigen's product on blocks of weight rows over the
// pool); GFLOP/s.
double measureGemm(int threads) {
    setComputeThreads(threads);
    const int n = 2048;
    const RowMatrix x = RowMatrix::Random(n, n), w = RowMatrix::Random(n, n);
    RowMatrix y(n, n);
    const Linear l{w.data(), nullptr, n, n};
    double best = 0;
    for (int pass = 0; pass < 3; ++pass) {
        QElapsedTimer t;
        t.start();
        applyLinear(l, x, y);
        best = std::max(best, 2.0 * n * n * n / seconds(t) / 1e9);
    }
    return std::max(y(0, 0) == 12345.f ? 0 : best, measureGemmRate(threads, n, 3));
}

struct Case {
    QString model, mode;
    int tokens = 0, threads = 0;
    double tokensPerSecond = 0, gflops = 0, weightGBs = 0, movedGBs = 0, fraction = 0;
    double bytesPerToken = 0;  // cached: weights streamed per step + the mean K/V read per step
    double limit = 0;          // the probe (GB/s) or GEMM rate (GFLOP/s) the fraction is of
    bool estimated = false;    // naive tokens/s extrapolated from steps at n = tokens
    double stepMs = 0;         // naive: median step at n = tokens
};

// Weight bytes a decode step must read, at their stored size (a quantized model's fewer): every
// matrix once, one row of the tables looked up (transformer.h's bytesMoved).
std::int64_t weightBytesPerStep(const Model& m) {
    const int n = m.config.nPositions / 2;
    return m.transformer->bytesMoved(n - 1, n).weights;
}

// What one generation through GenerationSession, as the app runs it, did and took.
struct SessionRun {
    int steps = 0;
    std::int64_t products = 0;  // weight and attention product FLOPs
    std::int64_t kvRead = 0;    // K/V cache bytes the steps read
    double seconds = 0;
};

SessionRun runSession(const ModelPtr& m, Mode mode, int tokens, int threads, bool capture) {
    GenerationSettings s;
    s.mode = mode;
    s.captureAttention = capture;
    s.sampler.temperature = 0;
    s.maxNewTokens = std::min(tokens, m->config.nPositions - 1);
    s.threads = threads;
    GenerationSession session(m);
    SessionRun run;
    if (!session.start({}, s).ok()) return run;
    QElapsedTimer t;
    t.start();
    while (const StepResultPtr r = session.step()) {
        run.products += r->flops.weightProducts() + r->flops.attention();
        run.kvRead += r->kvCacheBytes;
        ++run.steps;
    }
    run.seconds = seconds(t);
    return run;
}

Case cached(const ModelPtr& m, const QString& name, int tokens, int threads, double bandwidth,
            bool capture = true) {
    const SessionRun run = runSession(m, Mode::Cached, tokens, threads, capture);
    const double sec = run.seconds;
    Case c{name, capture ? QStringLiteral("cached") : QStringLiteral("cached, no capture"),
           run.steps, threads};
    c.tokensPerSecond = run.steps / sec;
    c.gflops = double(run.products) / sec / 1e9;
    c.weightGBs = double(weightBytesPerStep(*m)) * run.steps / sec / 1e9;
    c.movedGBs = c.weightGBs + double(run.kvRead) / sec / 1e9;
    c.bytesPerToken = double(weightBytesPerStep(*m)) + double(run.kvRead) / run.steps;
    c.fraction = c.movedGBs / bandwidth;
    c.limit = bandwidth;
    return c;
}

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const std::size_t h = v.size() / 2;
    return v.size() % 2 ? v[h] : (v[h - 1] + v[h]) / 2;
}

// A cached run held to its limit step by step: before every decode step a StepProbe pass over as
// many bytes as the step reads, then the step; the fraction is the median over the steps of (the
// step's bytes / its time) / (that pass's GB/s). The prefill step is left out. tokens/s is the
// steps over the time of the steps alone.
Case pairedCached(const ModelPtr& m, const QString& name, int tokens, int threads, bool capture) {
    GenerationSettings s;
    s.mode = Mode::Cached;
    s.captureAttention = capture;
    s.sampler.temperature = 0;
    s.maxNewTokens = std::min(tokens, m->config.nPositions - 1);
    s.threads = threads;
    const double weights = double(weightBytesPerStep(*m));
    bench::StepProbe probe(std::int64_t(weights), threads);
    GenerationSession session(m);
    Case c{
        name,
        capture ? QStringLiteral("cached, paired") : QStringLiteral("cached, paired, no capture"),
        0, threads};
    if (!session.start({}, s).ok()) return c;
    std::vector<double> fractions, probes;
    double stepSeconds = 0, bytes = 0;
    for (;;) {
        const double limit = probe.pass();
        QElapsedTimer t;
        t.start();
        const StepResultPtr r = session.step();
        const double sec = seconds(t);
        if (!r) break;
        if (r->prefill) continue;
        const double stepBytes = weights + double(r->kvCacheBytes);
        fractions.push_back(stepBytes / sec / 1e9 / limit);
        probes.push_back(limit);
        stepSeconds += sec;
        bytes += stepBytes;
        ++c.tokens;
    }
    c.tokensPerSecond = c.tokens / stepSeconds;
    c.weightGBs = weights * c.tokens / stepSeconds / 1e9;
    c.movedGBs = bytes / stepSeconds / 1e9;
    c.bytesPerToken = bytes / std::max(1, c.tokens);
    c.fraction = median(fractions);
    c.limit = median(probes);
    return c;
}

// A naive run of `tokens` steps, each recomputing the whole sequence.
Case naiveFull(const ModelPtr& m, const QString& name, int tokens, int threads, double gemm) {
    const SessionRun run = runSession(m, Mode::Naive, tokens, threads, true);
    Case c{name, QStringLiteral("naive"), run.steps, threads};
    c.tokensPerSecond = run.steps / run.seconds;
    c.gflops = double(run.products) / run.seconds / 1e9;
    c.fraction = c.gflops / gemm;
    c.limit = gemm;
    return c;
}

// Too slow to run whole on a big model (GPT-2 small, 1024 naive steps: ~130 TFLOP), so: the
// median of `repeats` naive steps at n = tokens, and the run's tokens/s extrapolated from that
// FLOP rate over the closed-form FLOPs of every step.
Case naiveSampled(const ModelPtr& m, const QString& name, int tokens, int threads, double gemm,
                  int repeats) {
    setComputeThreads(threads);
    const ModelConfig& cfg = m->config;
    const int n = std::min(tokens, cfg.nPositions);
    std::vector<int> ids(n);
    for (int i = 0; i < n; ++i) ids[i] = (i * 7919) % cfg.vocabSize;
    auto state = m->transformer->newState();
    std::vector<float> logits(cfg.vocabSize);
    std::vector<double> times;
    FlopBreakdown f;
    for (int r = 0; r < repeats; ++r) {
        f = {};
        QElapsedTimer t;
        t.start();
        m->transformer->forward(*state, ids, 0, {}, f, logits);
        times.push_back(seconds(t));
    }
    std::sort(times.begin(), times.end());
    const double step = times[times.size() / 2];
    Case c{name, QStringLiteral("naive"), n, threads};
    c.stepMs = step * 1e3;
    c.gflops = double(f.weightProducts() + f.attention()) / step / 1e9;
    c.fraction = c.gflops / gemm;
    c.limit = gemm;
    const double flopsPerSecond = double(f.total()) / step;
    double total = 0;
    for (int k = 1; k <= n; ++k) total += double(stepFlops(cfg, k, Mode::Naive).total());
    c.tokensPerSecond = n / (total / flopsPerSecond);
    c.estimated = true;
    return c;
}

// A 512-token prefill: the median of `repeats` forward passes over 512 positions from nothing
// (a cached run's first step), in prompt tokens per second, beside its product GFLOP/s.
Case prefill(const ModelPtr& m, const QString& name, int threads, double gemm, int repeats) {
    Case c = naiveSampled(m, name, 512, threads, gemm, repeats);
    c.mode = QStringLiteral("prefill");
    c.tokensPerSecond = c.tokens / (c.stepMs / 1e3);
    c.estimated = false;
    return c;
}

void printCase(const Case& c) {
    std::printf("%-18s %-18s %5d %3d  %9.1f%s  %8.1f  %8.2f  %8.2f  %6.1f%% %s\n",
                qPrintable(c.model), qPrintable(c.mode), c.tokens, c.threads, c.tokensPerSecond,
                c.estimated ? "*" : " ", c.gflops, c.weightGBs, c.movedGBs, 100 * c.fraction,
                c.mode.startsWith(QLatin1String("cached")) ? "of the probe" : "of GEMM rate");
    std::fflush(stdout);
}

QJsonObject toJson(const Case& c) {
    return {{"model", c.model},
            {"mode", c.mode},
            {"tokens", c.tokens},
            {"threads", c.threads},
            {"tokens_per_s", c.tokensPerSecond},
            {"tokens_per_s_estimated", c.estimated},
            {"naive_step_ms", c.stepMs},
            {"matmul_gflops", c.gflops},
            {"weight_gbs", c.weightGBs},
            {"moved_gbs", c.movedGBs},
            {"bytes_per_token", c.bytesPerToken},
            {"limit", c.limit},
            {"fraction_of_limit", c.fraction}};
}

// A "Name:   123 kB" field of a /proc/self file, in bytes; -1 if absent.
std::int64_t procKilobytes(const QString& file, const QByteArray& field) {
    QFile f(file);
    if (!f.open(QIODevice::ReadOnly)) return -1;
    for (const QByteArray& line : f.readAll().split('\n')) {
        if (line.startsWith(field))
            return line.mid(field.size()).trimmed().split(' ').first().toLongLong() * 1024;
    }
    return -1;
}

std::int64_t peakRssBytes() {
    return procKilobytes(QStringLiteral("/proc/self/status"), "VmHWM:");
}

// Memory in transparent huge pages (allocateAligned advises them for weight buffers).
std::int64_t hugePageBytes() {
    return procKilobytes(QStringLiteral("/proc/self/smaps_rollup"), "AnonHugePages:");
}

// Load time and peak memory of one 1024-token cached run with attention capture.
int memoryRun(const QString& dir, int threads) {
    QElapsedTimer t;
    t.start();
    auto m = loadModel(dir);
    if (!m) {
        std::fprintf(stderr, "%s\n", qPrintable(m.errorMessage()));
        return 3;
    }
    const double loadSec = seconds(t);
    const ModelPtr model = m.value();
    const ModelConfig& c = model->config;
    GenerationSettings s;
    s.sampler.temperature = 0;
    s.maxNewTokens = c.nPositions - 1;
    s.threads = threads;
    GenerationSession session(model);
    if (!session.start({}, s).ok()) return 4;
    std::vector<StepResultPtr> kept;  // as the window keeps every step
    while (StepResultPtr r = session.step()) kept.push_back(std::move(r));
    const std::int64_t n = c.nPositions;
    const std::int64_t attention =
        std::int64_t(c.nLayer) * c.nHead * n * (n + 1) / 2 * (attentionStoredAsHalf(c) ? 2 : 4);
    const std::int64_t kv = model->transformer->newState()->kvCacheBytes(n);
    const std::int64_t bound = model->weightBytes + kv + attention + (150ll << 20);
    const std::int64_t peak = peakRssBytes();
    std::printf(
        "load %.2f s (%lld weight bytes); %zu cached tokens with attention capture\n"
        "peak RSS %.1f MB; bound = weights %.1f + KV %.1f + attention %.1f + 150 MB = "
        "%.1f MB: %s\n",
        loadSec, qlonglong(model->weightBytes), kept.size(), peak / 1048576.0,
        model->weightBytes / 1048576.0, kv / 1048576.0, attention / 1048576.0, bound / 1048576.0,
        peak <= bound ? "within" : "EXCEEDED");
    return peak <= bound ? 0 : 1;
}

std::vector<int> intList(const QString& text) {
    std::vector<int> out;
    for (const QString& part : text.split(QLatin1Char(','), Qt::SkipEmptyParts))
        out.push_back(part.toInt());
    return out;
}

}  // namespace

// Loads `path` into `models` under `name`, recording the load time; false (said) on failure.
bool loadNamed(const QString& path, const QString& name,
               std::vector<std::pair<QString, ModelPtr>>& models, QJsonObject& loads,
               const LoadOptions& options = {}) {
    QElapsedTimer t;
    t.start();
    auto m = loadModel(path, {}, options);
    if (!m) {
        std::fprintf(stderr, "%s\n", qPrintable(m.errorMessage()));
        return false;
    }
    loads[name + QStringLiteral("_load_s")] = seconds(t);
    std::printf("%s loaded in %.2f s; %.0f MB of the process in huge pages\n", qPrintable(name),
                seconds(t), hugePageBytes() / 1e6);
    models.emplace_back(name, m.value());
    return true;
}

QJsonObject probeLimits(const bench::BandwidthProbe& p, double gemm) {
    QJsonObject kernels;
    std::printf("limits @%d threads:", p.threads);
    for (const bench::ProbeFigure& f : p.figures) {
        std::printf(" %s %.1f GB/s,", f.kernel, f.gbs);
        kernels[QLatin1String(f.kernel)] = f.gbs;
    }
    std::printf(" probe = %s %.1f GB/s; Eigen GEMM %.1f GFLOP/s\n", p.bestKernel, p.best, gemm);
    std::fflush(stdout);
    return {{"threads", p.threads},
            {"probe_gbs", p.best},
            {"probe_kernel", QLatin1String(p.bestKernel)},
            {"kernels", kernels},
            {"gemm_gflops", gemm}};
}

int main(int argc, char** argv) {
    QString gpt2Dir, llamaFile, jsonPath, memoryDir;
    QStringList ggufFiles;
    std::vector<int> threadCounts = {1, 2}, tokenCounts = {256, 1024};
    int repeats = 3;
    bool probeOnly = false, naive = true;
    for (int i = 1; i + 1 < argc; i += 2) {
        const QString key = QString::fromLocal8Bit(argv[i]),
                      value = QString::fromLocal8Bit(argv[i + 1]);
        if (key == QLatin1String("--gpt2"))
            gpt2Dir = value;
        else if (key == QLatin1String("--llama"))
            llamaFile = value;
        else if (key == QLatin1String("--gguf"))
            ggufFiles = value.split(QLatin1Char(','), Qt::SkipEmptyParts);
        else if (key == QLatin1String("--probe-only"))
            probeOnly = value.toInt() != 0;
        else if (key == QLatin1String("--naive"))
            naive = value.toInt() != 0;
        else if (key == QLatin1String("--threads"))
            threadCounts = intList(value);
        else if (key == QLatin1String("--tokens"))
            tokenCounts = intList(value);
        else if (key == QLatin1String("--repeats"))
            repeats = std::max(1, value.toInt());
        else if (key == QLatin1String("--json"))
            jsonPath = value;
        else if (key == QLatin1String("--memory-run"))
            memoryDir = value;
        else {
            std::fprintf(stderr, "unknown option %s (see the comment atop kvscope_bench.cpp)\n",
                         argv[i]);
            return 2;
        }
    }
    if (!memoryDir.isEmpty()) return memoryRun(memoryDir, threadCounts.back());

    std::vector<std::pair<QString, ModelPtr>> models;
    QJsonObject loads;
    if (!probeOnly) {
        auto embedded = loadEmbeddedModel();
        if (!embedded) return 3;
        models.emplace_back(QStringLiteral("default"), embedded.value());
        if (!gpt2Dir.isEmpty() && !loadNamed(gpt2Dir, QStringLiteral("gpt2-small"), models, loads))
            return 3;
        if (!llamaFile.isEmpty() &&
            !loadNamed(llamaFile, QStringLiteral("llama-110m"), models, loads))
            return 3;
        // Named by the file (llama110m-Q4_K_M.gguf). A context of 1024 whatever the file says
        // (llama.cpp's llama2.c converter writes 128), as llama-bench sets its own.
        for (const QString& f : ggufFiles)
            if (!loadNamed(f, QFileInfo(f).completeBaseName(), models, loads,
                           LoadOptions{.contextLength = 1024}))
                return 3;
    }

    QJsonArray cases, limits;
    std::printf("%-18s %-18s %5s %3s  %10s  %8s  %8s  %8s  %s\n", "model", "mode", "tok", "thr",
                "tokens/s", "GFLOP/s", "wGB/s", "allGB/s", "fraction of the limit");
    for (int threads : threadCounts) {
        const bench::BandwidthProbe probe = bench::measureBandwidth(threads);
        const double bandwidth = probe.best, gemm = measureGemm(threads);
        limits.append(probeLimits(probe, gemm));
        for (const auto& [name, model] : models) {
            const bool big = model->transformer->parameterCount() > 50'000'000;
            // On a shared machine the bandwidth left to us changes within a minute, so a big
            // model's decode is held to a probe measured just before it, not the run's first.
            double limit = bandwidth;
            if (big) {
                const bench::BandwidthProbe near = bench::measureBandwidth(threads);
                limit = near.best;
                QJsonObject l = probeLimits(near, gemm);
                l[QStringLiteral("before")] = name;
                limits.append(l);
            }
            for (int tokens : tokenCounts) {
                const Case c = cached(model, name, tokens, threads, limit);
                printCase(c);
                cases.append(toJson(c));
            }
            if (big) {
                for (bool capture : {true, false}) {
                    const Case c = pairedCached(model, name, tokenCounts.front(), threads, capture);
                    printCase(c);
                    cases.append(toJson(c));
                }
            }
            if (!big) {  // what attention capture costs where it is relatively largest
                const Case c = cached(model, name, tokenCounts.back(), threads, bandwidth, false);
                printCase(c);
                cases.append(toJson(c));
            }
            if (big) {
                const Case c = prefill(model, name, threads, gemm, repeats);
                printCase(c);
                cases.append(toJson(c));
            }
            for (int tokens : naive ? tokenCounts : std::vector<int>{}) {
                const Case c = big ? naiveSampled(model, name, tokens, threads, gemm, repeats)
                                   : naiveFull(model, name, tokens, threads, gemm);
                printCase(c);
                cases.append(toJson(c));
            }
        }
    }
    std::printf("* naive tokens/s extrapolated from the median of %d steps at n = tokens\n",
                repeats);
    if (!jsonPath.isEmpty()) {
        QFile f(jsonPath);
        if (!f.open(QIODevice::WriteOnly)) return 4;
        QJsonObject root{{"limits", limits}, {"cases", cases}, {"loads", loads}};
        f.write(QJsonDocument(root).toJson());
    }
    return 0;
}
