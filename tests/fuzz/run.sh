#!/bin/sh
# Runs one fuzz target from build-fuzz/ for SECONDS (default 600) with the settings the README's
# figures were measured with. New inputs go to build-fuzz/corpus/<target> (not committed); the
# committed seeds in tests/fuzz/corpus/<target> are only read. Findings land in
# build-fuzz/artifacts/, the log in build-fuzz/fuzz-<target>.log.
set -eu
target=${1:?usage: tests/fuzz/run.sh fuzz_<what> [seconds]}
seconds=${2:-600}
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$root/build-fuzz
mkdir -p "$build/corpus/$target" "$build/artifacts"
# A binary format brings its own dictionary (tests/fuzz/gguf.dict for fuzz_gguf); the rest read JSON.
dict=$root/tests/fuzz/${target#fuzz_}.dict
[ -f "$dict" ] || dict=$root/tests/fuzz/json.dict
exec nice -n 10 "$build/tests/fuzz/$target" -max_total_time="$seconds" -rss_limit_mb=2048 \
    -timeout=10 -print_final_stats=1 -dict="$dict" \
    -artifact_prefix="$build/artifacts/" "$build/corpus/$target" "$root/tests/fuzz/corpus/$target" \
    >"$build/fuzz-$target.log" 2>&1
