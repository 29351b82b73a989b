#!/usr/bin/env bash
# Runs the spool/drain benchmark against a Mosquitto on a free loopback port.
# Usage: tests/perf/bench.sh   (after cmake --build build)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bench="$root/build/tests/spool_bench"
[ -x "$bench" ] || { echo "build first: cmake --build build --target spool_bench"; exit 2; }
# The network and nat drivers' sampling cycle (no broker needed): on the
# fixture gateway and this machine, and as root also in a network namespace
# with 20 live interfaces (10 veth pairs), as a busy gateway's kernel has.
if [ -x "$root/build/tests/network_bench" ]; then
  "$root/build/tests/network_bench" "$root/tests/fixtures"
  if [ "$(id -u)" -eq 0 ]; then
    ns="cabench$$"
    ip netns add "$ns"
    trap 'ip netns del "$ns" 2>/dev/null || true' EXIT
    for i in $(seq 0 9); do ip -n "$ns" link add "cbv$i" type veth peer name "cbp$i"; done
    for i in $(seq 0 9); do ip -n "$ns" link set "cbv$i" up; ip -n "$ns" link set "cbp$i" up; done
    echo "in a namespace with 20 veth interfaces:"
    ip netns exec "$ns" "$root/build/tests/network_bench" "$root/tests/fixtures" | grep "this machine"
    ip netns del "$ns"
    trap - EXIT
  fi
fi
. "$root/tests/tools/local-broker.sh"
make_work_dir bench
start_local_broker "$WORK"
"$bench" "tcp://127.0.0.1:$BROKER_PORT"
