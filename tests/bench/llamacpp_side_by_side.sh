#!/usr/bin/env bash
# kvscope against llama.cpp on the same GGUF files, interleaved: for each file, RUNS rounds of
# (llama-bench, then kvscope), each reporting its own decode rate, and the median of each.
#
#   bash tests/bench/llamacpp_side_by_side.sh LLAMA_BENCH KVSCOPE RUNS THREADS FILE.gguf...
#
# LLAMA_BENCH: a llama-bench built from llama.cpp's public source beside the project (never part
# of it). Decode: `llama-bench -p 0 -n 128 -t THREADS` against kvscope's cached run of 127 new
# tokens after BOS (the context holds 128 with the files llama.cpp's llama2.c converter writes;
# --ctx-size 1024 lifts it) with attention capture off, its own "tokens/s" (time of the steps).
# Prefill: `llama-bench -p 512 -n 0` against kvscope's cached run of one token after a 512-token
# prompt (BOS and " the" 510 times, 512 ids with the Llama vocabulary: the script checks it with
# --tokenize), whose one step is the prefill; prompt tokens per second. PREFILL=0 skips it.
set -euo pipefail
bench="$1" kvscope="$2" runs="$3" threads="$4"
shift 4
median() { sort -g | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
printf '%-28s %-8s %12s %12s %8s\n' file test llama.cpp kvscope ratio
prompt=$(printf ' the%.0s' $(seq 1 510))
for model in "$@"; do
  ids=$("$kvscope" --headless --model "$model" --tokenize "$prompt" --add-bos | grep -o '"ids":\[[^]]*\]' |
    tr ',' '\n' | wc -l)
  [ "$ids" = 512 ] || echo "note: $(basename "$model"): the prefill prompt is $ids tokens, not 512"
  lc_tg=() kv_tg=() lc_pp=() kv_pp=()
  for _ in $(seq 1 "$runs"); do
    lc_tg+=("$("$bench" -m "$model" -p 0 -n 128 -t "$threads" -r 1 -o csv 2>/dev/null |
      awk -F, 'NR>1 {gsub(/"/,""); print $(NF-1)}' | tail -1)")
    kv_tg+=("$("$kvscope" --headless --model "$model" --ctx-size 1024 --prompt "" \
      --max-tokens 127 --mode cached --temperature 0 --threads "$threads" --no-attention 2>&1 |
      sed -n 's/.*cached: [0-9]* tokens in [0-9.]* s (\([0-9.]*\) tokens\/s).*/\1/p')")
    if [ "${PREFILL:-1}" != 0 ]; then
      lc_pp+=("$("$bench" -m "$model" -p 512 -n 0 -t "$threads" -r 1 -o csv 2>/dev/null |
        awk -F, 'NR>1 {gsub(/"/,""); print $(NF-1)}' | tail -1)")
      secs=$("$kvscope" --headless --model "$model" --ctx-size 1024 --prompt "$prompt" \
        --max-tokens 1 --mode cached --temperature 0 --threads "$threads" --no-attention 2>&1 |
        sed -n 's/.*cached: 1 tokens in \([0-9.]*\) s.*/\1/p')
      kv_pp+=("$(echo "512 / $secs" | bc -l)")
    fi
  done
  a=$(printf '%s\n' "${lc_tg[@]}" | median) b=$(printf '%s\n' "${kv_tg[@]}" | median)
  printf '%-28s %-8s %12.1f %12.1f %8.2f   (llama.cpp %s; kvscope %s)\n' "$(basename "$model")" \
    tg128 "$a" "$b" "$(echo "$b / $a" | bc -l)" "${lc_tg[*]}" "${kv_tg[*]}"
  if [ ${#lc_pp[@]} -gt 0 ]; then
    a=$(printf '%s\n' "${lc_pp[@]}" | median) b=$(printf '%s\n' "${kv_pp[@]}" | median)
    printf '%-28s %-8s %12.1f %12.1f %8.2f   (llama.cpp %s; kvscope %s)\n' "$(basename "$model")" \
      pp512 "$a" "$b" "$(echo "$b / $a" | bc -l)" "${lc_pp[*]}" "${kv_pp[*]}"
  fi
done
