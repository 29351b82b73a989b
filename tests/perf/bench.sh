#!/usr/bin/env bash
# Runs the spool/drain benchmark against a Mosquitto on a free loopback port.
# Usage: tests/perf/bench.sh   (after cmake --build build)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bench="$root/build/tests/spool_bench"
[ -x "$bench" ] || { echo "build first: cmake --build build --target spool_bench"; exit 2; }
work=$(mktemp -d /tmp/classroom-bench-XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\nuser %s\n' "$port" "$(id -un)" >"$work/m.conf"
mosquitto -c "$work/m.conf" >"$work/m.log" 2>&1 &
broker=$!
trap 'kill $broker 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
"$bench" "tcp://127.0.0.1:$port"
