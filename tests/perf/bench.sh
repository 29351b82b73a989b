#!/usr/bin/env bash
# Runs the spool/drain benchmark against a Mosquitto on a free loopback port.
# Usage: tests/perf/bench.sh   (after cmake --build build)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bench="$root/build/tests/spool_bench"
[ -x "$bench" ] || { echo "build first: cmake --build build --target spool_bench"; exit 2; }
. "$root/tests/tools/local-broker.sh"
make_work_dir bench
start_local_broker "$WORK"
"$bench" "tcp://127.0.0.1:$BROKER_PORT"
