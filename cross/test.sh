#!/usr/bin/env bash
# Tests one architecture's build on this machine:
#   cross/test.sh amd64|arm64|armhf
# 1. builds the agent, its package and the unit tests (cross/build.sh);
# 2. runs the unit tests, for ARM under qemu-user with the sysroot as library
#    prefix (qemu-aarch64 / qemu-arm -L SYSROOT);
# 3. checks that every shared library the binary names resolves (the loader's
#    own list, under qemu for ARM), and that the shipped config passes check-config;
# 4. runs the agent (emulated for ARM) against a native Mosquitto on a free
#    loopback port and checks that its NBIRTH decodes, with the project's
#    .proto and protobuf's Python runtime (tests/tools/sparkplug_watch.py),
#    and that SIGTERM brings its NDEATH.
# Exits non-zero on the first failure. JOBS as for cross/build.sh.
set -euo pipefail
arch=${1:?usage: cross/test.sh amd64|arm64|armhf}
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build-$arch

runner=()
case "$arch" in
  amd64) ;;
  arm64) runner=(qemu-aarch64 -L "$("$root/cross/sysroot.sh" arm64)") ;;
  armhf) runner=(qemu-arm -L "$("$root/cross/sysroot.sh" armhf)") ;;
  *) echo "unknown architecture: $arch (amd64, arm64 or armhf)" >&2; exit 2 ;;
esac

echo "== [$arch] build: agent, package, unit tests"
start=$(date +%s)
deb=$("$root/cross/build.sh" "$arch" unit_tests hot_path_tests | tail -n 1)
echo "   $deb ($(( $(date +%s) - start )) s)"
agent=$build/agent/classroom-agent
file "$agent" | sed 's/^/   /'

echo "== [$arch] unit tests${runner:+ under ${runner[0]}}"
# Every unit test runs, none excluded under qemu-user: the mount-namespace
# tests (tests/unit/read_only.hpp) pass there too.
start=$(date +%s)
(cd "$build/tests" && "${runner[@]}" ./unit_tests)
(cd "$build/tests" && "${runner[@]}" ./hot_path_tests)
echo "   unit tests passed ($(( $(date +%s) - start )) s)"

echo "== [$arch] shared libraries"
readelf -d "$agent" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/   NEEDED \1/p'
# The loader's list of what it maps (ldd's way); qemu's -E sets it for the guest only.
if ((${#runner[@]})); then
  loaded=$("${runner[@]}" -E LD_TRACE_LOADED_OBJECTS=1 "$agent" 2>&1)
else
  loaded=$(LD_TRACE_LOADED_OBJECTS=1 "$agent" 2>&1)
fi
if grep -q 'not found' <<<"$loaded"; then
  echo "a library the agent needs is missing:"; echo "$loaded"; exit 1
fi
echo "   all resolve ($(grep -c '=>' <<<"$loaded") with their dependencies)"

echo "== [$arch] the agent against a native Mosquitto"
. "$root/tests/tools/local-broker.sh"
make_work_dir "cross-$arch"
work=$WORK
"${runner[@]}" "$agent" check-config -c "$root/config/agent.toml" >"$work/check.log" 2>&1 ||
  { echo "check-config rejects the shipped config:"; cat "$work/check.log"; exit 1; }
echo "   check-config accepts config/agent.toml"
start_local_broker "$work"
sed_agent_config "$work" 2s >"$work/agent.toml"
/usr/bin/python3 -u "$root/tests/tools/sparkplug_watch.py" --port "$BROKER_PORT" >"$work/watch.log" 2>&1 &
PIDS+=($!)
wait_for() {  # wait_for SECONDS PATTERN FILE: true once the pattern is in the file
  local deadline=$(( $(date +%s) + $1 ))
  until grep -q -- "$2" "$3"; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}
wait_for 30 '^watching' "$work/watch.log" || { echo "the decoder did not subscribe:"; cat "$work/watch.log"; exit 1; }
"${runner[@]}" "$agent" run -c "$work/agent.toml" >"$work/agent.log" 2>&1 &
agent_pid=$!
PIDS+=("$agent_pid")
# A birth with metrics, then a data message: both decoded.
if ! wait_for 120 ' NDATA my-school/room-1' "$work/watch.log"; then
  echo "no NBIRTH and NDATA decoded from the $arch agent within 120 s:"
  cat "$work/watch.log" "$work/agent.log"; exit 1
fi
birth=$(awk '/ NBIRTH my-school\/room-1/ {b=1; print; next} b && /^    / {print; next} b {exit}' "$work/watch.log")
metrics=$(sed -n '1s/.* \([0-9]*\) metrics.*/\1/p' <<<"$birth")
for m in 'bdSeq = ' 'System/CPU/Usage = ' 'System/Memory/Total = '; do
  grep -q "^    $m" <<<"$birth" || { echo "the NBIRTH has no $m:"; echo "$birth"; exit 1; }
done
[ "${metrics:-0}" -gt 10 ] || { echo "the NBIRTH holds only ${metrics:-0} metrics"; exit 1; }
echo "   NBIRTH decoded: $metrics metrics, e.g. $(grep -m1 'System/Memory/Total' <<<"$birth" | sed 's/^ *//')"
kill -TERM "$agent_pid"
wait "$agent_pid" || { echo "the agent did not exit cleanly on SIGTERM:"; cat "$work/agent.log"; exit 1; }
wait_for 20 ' NDEATH my-school/room-1' "$work/watch.log" || { echo "no NDEATH after SIGTERM"; exit 1; }
echo "   NDEATH on SIGTERM, exit 0"
echo "== [$arch] passed: $deb"
