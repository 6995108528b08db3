#!/usr/bin/env bash
# Runs the performance report's measurements: RUNS x (kvscope_bench, then the PyTorch peer on the
# same weights and threads), the load/peak-memory run, and a summary with medians and ranges.
#   bash tests/bench/run.sh [BUILD_DIR] [OUT_DIR] [RUNS] [THREADS]
# THREADS: the bench's thread counts, "1,2" by default.
# Needs a normal build (kvscope_bench is part of it), python3-torch and libopenblas0-openmp
# (Debian's torch is 20x slower on the reference BLAS). Takes ~15 minutes with RUNS=3.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build}"
out="${2:-$root/build/bench}"
runs="${3:-3}"
threads="${4:-1,2}"
py=/usr/bin/python3  # Debian's, which has torch; a pyenv or venv python usually has not
model="$out/gpt2-small-random"
llama="$out/llama-110m/llama110m.bin"  # with llama2.c's tokenizer.bin beside it
mkdir -p "$out"

missing=()
for p in python3-torch python3-numpy libopenblas0-openmp; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
[ -f "$model/model.safetensors" ] || "$py" "$root/tests/bench/make_gpt2_small.py" "$model"
if [ ! -f "$llama" ]; then
  mkdir -p "$(dirname "$llama")"
  "$py" "$root/tests/bench/make_llama_110m.py" "$llama"
  cp "$root/tests/tokenizer/llama2/tokenizer.bin" "$(dirname "$llama")/"
fi
cat "$model/model.safetensors" "$llama" > /dev/null  # in the page cache, as the load target assumes

{ grep -m1 "model name" /proc/cpuinfo; nproc; free -g | sed -n 2p; } > "$out/machine.txt"
for i in $(seq 1 "$runs"); do
  echo "== run $i of $runs"
  "$build/tests/bench/kvscope_bench" --gpt2 "$model" --llama "$llama" --threads "$threads" \
    --json "$out/kvscope_$i.json" \
    | tee "$out/kvscope_$i.txt"
  if [ -z "${NO_TORCH:-}" ]; then  # NO_TORCH=1: kvscope alone, e.g. to interleave more runs
    "$py" "$root/tests/bench/torch_peer.py" --model "$model" --kvscope "$out/kvscope_$i.json" \
      --json "$out/torch_$i.json" | tee "$out/torch_$i.txt"
  fi
done
echo "== load and peak memory (GPT-2 small, 1023 cached tokens with attention capture)"
"$build/tests/bench/kvscope_bench" --memory-run "$model" | tee "$out/memory.txt"
"$py" "$root/tests/bench/summarize.py" "$out" "$runs" | tee "$out/summary.md"
