#!/usr/bin/env bash
# One measured fleet run (tests/fleet/README.md, docs/fleet-sizing.md): starts
# the broker (tests/fleet/cluster.sh), runs the simulator, and samples every
# broker node's CPU time and memory (and the simulator's) every 2 s. Prints
# the simulator's JSON summary and one JSON line of broker figures: CPU share
# and RSS per node over the steady window (from 10 s after every gateway was
# online to the end of sampling, or the whole run with --window all).
#
#   measure.sh SIMULATE [--mosquitto] [--keep] [--window steady|all] -- SIMULATE-ARGS...
#
# SIMULATE-ARGS are the simulator's, without --servers and --json (added here).
# FLEET_CLUSTER_DIR as for cluster.sh; --keep leaves the broker running after.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
simulate=${1:?usage: measure.sh SIMULATE [--mosquitto] [--keep] -- SIMULATE-ARGS...}
shift
kind_arg="" keep=0 window=steady
while (($#)); do
  case $1 in
    --mosquitto) kind_arg=--mosquitto ;;
    --keep) keep=1 ;;
    --window) window=$2 && shift ;;
    --) shift && break ;;
    *) echo "measure.sh: unknown option $1" >&2 && exit 2 ;;
  esac
  shift
done
export FLEET_CLUSTER_DIR=${FLEET_CLUSTER_DIR:-$(mktemp -d)/broker}
work=$(mktemp -d)
cleanup() {
  ((keep)) || "$here/cluster.sh" stop || true
  rm -rf "$work"
}
trap cleanup EXIT

if [ -e "$FLEET_CLUSTER_DIR/env" ]; then
  servers=$("$here/cluster.sh" servers)
else
  servers=$("$here/cluster.sh" start $kind_arg)
fi
echo "broker: $servers" >&2
"$here/cluster.sh" pids >"$work/pids"
ticks=$(getconf CLK_TCK)

"$simulate" --servers "$servers" --json "$@" >"$work/result.json" &
sim=$!
start=$(date +%s.%N)
# t, node, cpu ticks, rss KiB (node 0: the simulator)
sample() {
  local t n pid
  t=$(python3 -c "print(round($(date +%s.%N) - $start, 2))")
  while read -r n pid; do
    [ -r "/proc/$pid/stat" ] || continue
    echo "$t $n $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)" \
      "$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)"
  done < <(
    cat "$work/pids"
    echo "0 $sim"
  )
}
while kill -0 "$sim" 2>/dev/null; do
  sample >>"$work/samples" || true
  # A node restarted by the run (--at ... restart) has a new pid.
  "$here/cluster.sh" pids >"$work/pids" 2>/dev/null || true
  sleep 2
done
wait "$sim"
cat "$work/result.json"
python3 - "$work/result.json" "$work/samples" "$ticks" "$window" <<'EOF'
import json, sys, collections
r = json.load(open(sys.argv[1]))
ticks = int(sys.argv[3])
rows = [l.split() for l in open(sys.argv[2]) if len(l.split()) == 4]
t0 = 0.0 if sys.argv[4] == "all" else max(0.0, r["start_all_online_s"]) + 10
t1 = r["duration_s"] if sys.argv[4] != "all" else 1e9
by = collections.defaultdict(list)
for t, n, cpu, rss in rows:
    by[int(n)].append((float(t), int(cpu), int(rss)))
out = {"window_s": None, "nodes": {}}
for n, pts in sorted(by.items()):
    w = [p for p in pts if t0 <= p[0] <= t1]
    if len(w) < 2:
        continue
    dt = w[-1][0] - w[0][0]
    out["window_s"] = round(dt, 1)
    name = "simulator" if n == 0 else f"node{n}"
    out["nodes"][name] = {
        "cpu_percent": round(100.0 * (w[-1][1] - w[0][1]) / ticks / dt, 1),
        "rss_mib_start": round(pts[0][2] / 1024, 1),  # before the gateways (idle broker)
        "rss_mib_end": round(w[-1][2] / 1024, 1),
        "rss_mib_peak": round(max(p[2] for p in pts) / 1024, 1),
    }
print(json.dumps(out))
EOF
