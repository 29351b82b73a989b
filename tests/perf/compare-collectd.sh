#!/usr/bin/env bash
# The design's CPU budget: the agent may spend no more than collectd does for
# the same sources at the same interval. Runs both for SECONDS (default 60) at
# a 1 s interval, each publishing to its own Mosquitto on loopback, and prints
# CPU time and memory of each. collectd: cpu, load, memory, swap, uptime,
# thermal, df (/) and its MQTT writer. Installs collectd-core if missing.
# Usage: tests/perf/compare-collectd.sh [SECONDS]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${1:-60}
agent=$root/build/agent/classroom-agent
[ -x "$agent" ] || { echo "build first: cmake --build build"; exit 2; }
if [ ! -x /usr/sbin/collectd ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends collectd-core libmosquitto1 >/dev/null
fi

. "$root/tests/tools/local-broker.sh"
make_work_dir compare
work=$WORK

mkdir -p "$work/a" "$work/c"
start_local_broker "$work/a"
mosquitto_sub -p "$BROKER_PORT" -t '#' -F '%l' >"$work/a/sizes" &
PIDS+=($!)
sed_agent_config "$work/a" 1s >"$work/a/agent.toml"
"$agent" run -c "$work/a/agent.toml" >"$work/a/agent.log" 2>&1 &
apid=$!
PIDS+=("$apid")

start_local_broker "$work/c"
mosquitto_sub -p "$BROKER_PORT" -t '#' -F '%l' >"$work/c/sizes" &
PIDS+=($!)
cat >"$work/c/collectd.conf" <<CONF
Interval 1
BaseDir "$work/c"
PIDFile "$work/c/collectd.pid"
PluginDir "/usr/lib/collectd"
TypesDB "/usr/share/collectd/types.db"
LoadPlugin cpu
LoadPlugin load
LoadPlugin memory
LoadPlugin swap
LoadPlugin uptime
LoadPlugin thermal
LoadPlugin df
LoadPlugin mqtt
<Plugin cpu>
  ReportByCpu false
  ValuesPercentage true
</Plugin>
<Plugin df>
  MountPoint "/"
  IgnoreSelected false
  ValuesPercentage true
</Plugin>
<Plugin mqtt>
  <Publish "broker">
    Host "127.0.0.1"
    Port $BROKER_PORT
    ClientId "collectd-compare"
  </Publish>
</Plugin>
CONF
/usr/sbin/collectd -f -C "$work/c/collectd.conf" >"$work/c/collectd.log" 2>&1 &
cpid=$!
PIDS+=("$cpid")

sleep "$seconds"
report() {
  local name=$1 pid=$2 sizes=$3 ticks
  ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  printf '  %-16s CPU %5.2f s (%.2f %% of one core)   private dirty %5s KiB   PSS %5s KiB   threads %s\n' \
    "$name" "$(echo "$ticks / $(getconf CLK_TCK)" | bc -l)" \
    "$(echo "100 * $ticks / $(getconf CLK_TCK) / $seconds" | bc -l)" \
    "$(awk '$1 == "Private_Dirty:" {print $2}' "/proc/$pid/smaps_rollup")" \
    "$(awk '$1 == "Pss:" {print $2}' "/proc/$pid/smaps_rollup")" \
    "$(awk '/^Threads:/ {print $2}' "/proc/$pid/status")"
  printf '  %-16s published %s messages, %s payload bytes\n' "" "$(wc -l <"$sizes")" \
    "$(awk '{s += $1} END {print s + 0}' "$sizes")"
}
echo "same sources, 1 s interval, ${seconds} s, each to its own local Mosquitto:"
report classroom-agent "$apid" "$work/a/sizes"
report collectd "$cpid" "$work/c/sizes"
