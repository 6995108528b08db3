#!/usr/bin/python3
"""Medians and ranges over the runs written by tests/bench/run.sh, as Markdown tables.

    /usr/bin/python3 tests/bench/summarize.py OUT_DIR RUNS
"""

import json
import os
import statistics
import sys


def fmt(values, digits):
    med = statistics.median(values)
    return "%.*f (%.*f-%.*f)" % (digits, med, digits, min(values), digits, max(values))


def main():
    out, runs = sys.argv[1], int(sys.argv[2])
    ours = [json.load(open(os.path.join(out, "kvscope_%d.json" % i))) for i in range(1, runs + 1)]
    torch_files = [os.path.join(out, "torch_%d.json" % i) for i in range(1, runs + 1)]
    peer = [json.load(open(f)) for f in torch_files] if all(map(os.path.exists, torch_files)) \
        else []

    kernels = list(ours[0]["limits"][0]["kernels"].keys())
    print("| threads | " + " | ".join(k + " GB/s" for k in kernels) +
          " | probe GB/s (fastest kernel per run) | Eigen GEMM GFLOP/s |")
    print("|---" * (len(kernels) + 3) + "|")
    for j, lim in enumerate(ours[0]["limits"]):
        rows = [r["limits"][j] for r in ours]
        print("| %d%s | %s | %s (%s) | %s |" % (
            lim["threads"], " (before %s)" % lim["before"] if "before" in lim else "", " | ".join(fmt([r["kernels"][k] for r in rows], 1) for k in kernels),
            fmt([r["probe_gbs"] for r in rows], 1), ", ".join(r["probe_kernel"] for r in rows),
            fmt([r["gemm_gflops"] for r in rows], 1)))
    print()
    print("| model | mode | tokens | threads | tokens/s | MB/token | matmul GFLOP/s | weights GB/s "
          "| all GB/s | fraction of limit | vs PyTorch |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for j, case in enumerate(ours[0]["cases"]):
        rows = [r["cases"][j] for r in ours]
        ratio = "-"
        if case["model"] == "gpt2-small" and peer:
            match = [[p for p in run if p["mode"] == case["mode"] and p["tokens"] == case["tokens"]
                      and p["threads"] == case["threads"]][0] for run in peer]
            ratio = fmt([m["ratio"] for m in match], 2) + "x"
        big = case["model"] != "default"
        cached = case["mode"].startswith("cached")
        limit = ("probe" if cached else "GEMM") if big or not cached else "(weights in cache)"
        fraction = fmt([100 * r["fraction_of_limit"] for r in rows], 0) + "% " + limit
        print("| %s | %s | %d | %d | %s%s | %s | %s | %s | %s | %s | %s |" % (
            case["model"], case["mode"], case["tokens"], case["threads"],
            fmt([r["tokens_per_s"] for r in rows], 1), "*" if case["tokens_per_s_estimated"] else "",
            "%.1f" % (case["bytes_per_token"] / 1e6) if cached else "-",
            fmt([r["matmul_gflops"] for r in rows], 1),
            fmt([r["weight_gbs"] for r in rows], 2) if cached else "-",
            fmt([r["moved_gbs"] for r in rows], 2) if cached else "-",
            fraction, ratio))
    if not peer:
        return
    print()
    print("PyTorch figures (median of runs):")
    for j, p in enumerate(peer[0]):
        vals = [run[j]["pytorch"] for run in peer]
        print("- %s %d tokens, %d threads: %s %s" % (p["mode"], p["tokens"], p["threads"],
                                                     fmt(vals, 2), p["unit"]))


if __name__ == "__main__":
    main()
