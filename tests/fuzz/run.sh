#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (build-fuzz/) and runs each for
# SECONDS (default 30) from the committed seeds. A crash, a sanitizer report or
# a trap fails the run and leaves the input in build-fuzz/crashes/.
# Usage: tests/fuzz/run.sh [SECONDS]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${1:-30}
cd "$root"
CXX=clang++ cmake -S . -B build-fuzz -DCLASSROOM_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzz_config fuzz_procfs fuzz_ncmd fuzz_spool fuzz_probes >/dev/null
mkdir -p build-fuzz/crashes
for target in config procfs ncmd spool probes; do
  corpus=build-fuzz/corpus/$target
  mkdir -p "$corpus"
  echo "== fuzz_$target for ${seconds} s"
  status=0
  build-fuzz/tests/fuzz/fuzz_$target -max_total_time="$seconds" -rss_limit_mb=2048 \
    -artifact_prefix=build-fuzz/crashes/$target- \
    "$corpus" "tests/fuzz/seeds/$target" >build-fuzz/fuzz_$target.log 2>&1 || status=$?
  grep -E '^Done|ERROR|SUMMARY' build-fuzz/fuzz_$target.log || true
  if [ "$status" -ne 0 ]; then
    tail -40 build-fuzz/fuzz_$target.log
    echo "fuzz_$target found a problem (exit $status): the input is in build-fuzz/crashes/"
    exit 1
  fi
done
echo "fuzzing: no crashes"
