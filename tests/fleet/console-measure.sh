#!/usr/bin/env bash
# The operator's console against the simulator's fleet (tests/fleet/README.md,
# "The operator's console at this size"): starts one Mosquitto
# (tests/fleet/cluster.sh --mosquitto), runs `fleet` (every node), `fleet
# --group GLOB` (a district) and `tail` with a filter that prints nothing
# under /usr/bin/time, runs the simulator, and prints each console's peak RSS
# and the first line of each fleet table.
#
#   console-measure.sh AGENT SIMULATE [--group GLOB] -- SIMULATE-ARGS...
#
# AGENT is a classroom-agent binary (another one to compare: run again).
# SIMULATE-ARGS are the simulator's, without --servers. The consoles listen
# until the simulator has ended.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
agent=${1:?usage: console-measure.sh AGENT SIMULATE [--group GLOB] -- SIMULATE-ARGS...}
simulate=${2:?usage: console-measure.sh AGENT SIMULATE [--group GLOB] -- SIMULATE-ARGS...}
shift 2
group='sim-00*'
while (($#)); do
  case $1 in
    --group) group=$2 && shift ;;
    --) shift && break ;;
    *) echo "console-measure.sh: unknown option $1" >&2 && exit 2 ;;
  esac
  shift
done
command -v /usr/bin/time >/dev/null || { echo "console-measure.sh: needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
export FLEET_CLUSTER_DIR=${FLEET_CLUSTER_DIR:-$(mktemp -d)/broker}
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM $(pgrep -P "$p") "$p" 2>/dev/null || true; done
  "$here/cluster.sh" stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
server=$("$here/cluster.sh" start --mosquitto)

# Each console under time(1); $! is time's pid, the console is its child.
run() {
  local name=$1 && shift
  sh -c 'exec /usr/bin/time -f "%M" -o "$0.rss" "$@"' "$work/$name" "$agent" "$@" \
    >"$work/$name.out" 2>"$work/$name.err" &
  pids+=($!)
}
run fleet fleet --server "$server" --wait 100000s --stale 30s --sort state
run district fleet --server "$server" --wait 100000s --stale 30s --group "$group"
run tail tail --server "$server" --group 'nothing-matches*'
for name in fleet district tail; do
  for _ in $(seq 100); do
    grep -q "subscribed to" "$work/$name.err" 2>/dev/null && break
    sleep 0.1
  done
  # (older builds of fleet said nothing on stderr before their end)
  grep -q "subscribed to" "$work/$name.err" ||
    echo "console-measure.sh: $name did not say it subscribed within 10 s; going on" >&2
done

"$simulate" --servers "$server" "$@" >"$work/simulate.out" 2>&1 || { cat "$work/simulate.out" >&2; exit 1; }
tail -n 4 "$work/simulate.out"

# SIGTERM to each console (not to time): fleet prints its table (stdout is a
# file) and exits; time writes the peak.
for p in "${pids[@]}"; do kill -TERM $(pgrep -P "$p") 2>/dev/null || true; done
for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
pids=()
for name in fleet district tail; do
  printf '%-9s peak RSS %s KiB  %s\n' "$name" "$(cat "$work/$name.rss" 2>/dev/null | tail -n 1)" \
    "$(head -n 1 "$work/$name.out" | cut -c1-110)"
done
