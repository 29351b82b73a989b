#!/usr/bin/env bash
# The agent beside its peers on the same work: collectd 5.12 (snmp,
# ping, curl, exec, mqtt, and the system sources of the shipped config) and,
# where installed, Prometheus' snmp_exporter + blackbox_exporter (scraped by
# this script at the interval). The work: two SNMP switches (two snmpd on
# loopback), three ICMP targets (a host in a network namespace this script
# creates, 127.0.0.1, ::1), one DNS probe (dnsmasq) and one HTTP probe (the
# tests' probe_server.py), published to a Mosquitto on loopback. Nothing
# leaves loopback and the namespace.
#
# Each peer runs alone against the same servers, 10 s of warm-up (start-up,
# births) then SECONDS, over which its CPU is counted; one after the other,
# in the order given (--peers-first swaps it), so none shares its libraries'
# pages (PSS) or the CPU with another. Each must have collected
# the work (both devices, every probe) or the script fails: no silent empty
# run. Then one table: private dirty, PSS, RSS (/proc/PID/smaps_rollup at the
# end), CPU over the run, threads, bytes per value (MQTT topic + payload of
# the data messages, or the exporters' scraped text, over the values they
# carry) and the ratios to collectd. Other processes on the machine (builds)
# make the CPU figures noisy: run it more than once.
#
# With --system-only, the system sources alone (no devices, no probes, no
# exporters): what every gateway pays. With COMPARE_THREADS=1 in the
# environment, each thread's CPU and wakeups over the run are listed too.
#
# Needs collectd-core and its plugins' libraries (tests/tools/install-deps.sh
# --peers); the exporters are optional. Run as root (namespace, ICMP).
# Usage: tests/perf/compare-peers.sh [--interval SECONDS] [--peers-first] [--system-only] [SECONDS] [AGENT_BINARY]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
interval=5
order=(agent collectd exporters)
work_on=1
while [ $# -gt 0 ]; do
  case $1 in
    --interval) interval=$2; shift 2 ;;
    --peers-first) order=(collectd exporters agent); shift ;;
    --system-only) work_on=0; shift ;;
    *) break ;;
  esac
done
seconds=${1:-60}
agent=${2:-$root/build/agent/classroom-agent}
[ -x "$agent" ] || { echo "no agent binary at $agent: build first"; exit 2; }
[ -x /usr/sbin/collectd ] || { echo "collectd is not installed: tests/tools/install-deps.sh --peers"; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "run as root (a network namespace, ICMP)"; exit 2; }
exporters=0
command -v prometheus-snmp-exporter >/dev/null && command -v prometheus-blackbox-exporter >/dev/null &&
  exporters=1
((work_on)) || exporters=0

. "$root/tests/tools/local-broker.sh"
make_work_dir peers
work=$WORK
chmod 755 "$work"  # collectd's exec plugin runs its program as nobody
free_port() {
  python3 -c 'import socket, sys; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM if sys.argv[1] == "udp" else socket.SOCK_STREAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' "$1"
}
wait_for() {  # wait_for WHAT SECONDS COMMAND...: until COMMAND succeeds
  local what=$1 limit=$2
  shift 2
  for _ in $(seq $((limit * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "$what did not come up" >&2
  return 1
}

# The namespace host, removed on exit whatever happens.
ns=cmp$$n0
host_if=cmp$$h
net=10.251.$((RANDOM % 250)).
cleanup_ns() { ip link del "$host_if" 2>/dev/null || true; ip netns del "$ns" 2>/dev/null || true; }
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; cleanup_ns; rm -rf "$work"' EXIT
ip netns add "$ns"
ip link add "$host_if" type veth peer name eth0 netns "$ns"
ip addr add "${net}1/30" dev "$host_if"
ip link set "$host_if" up
ip -n "$ns" addr add "${net}2/30" dev eth0
ip -n "$ns" link set eth0 up
ip -n "$ns" link set lo up
ping_targets=("${net}2" 127.0.0.1 ::1)
wait_for "the namespace host" 5 sh -c "ip -n $ns -br link show eth0 | grep -qw UP"

# The servers, shared by every peer.
start_local_broker "$work"
community=classroom
snmp_ports=()
for name in switch1 switch2; do
  p=$(free_port udp)
  mkdir -p "$work/$name"
  printf 'rocommunity %s 127.0.0.1\nsysName %s\n' "$community" "$name" >"$work/$name/snmpd.conf"
  SNMP_PERSISTENT_DIR="$work/$name" MIBS='' /usr/sbin/snmpd -f -Lo -C -c "$work/$name/snmpd.conf" \
    "udp:127.0.0.1:$p" >"$work/$name/snmpd.log" 2>&1 &
  PIDS+=($!)
  snmp_ports+=("$p")
done
for p in "${snmp_ports[@]}"; do
  wait_for "snmpd on $p" 10 snmpget -v2c -c "$community" -t 0.5 -r 0 "127.0.0.1:$p" 1.3.6.1.2.1.1.3.0
done
dns_port=$(free_port udp)
dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --bind-interfaces \
  --listen-address=127.0.0.1 --port="$dns_port" --pid-file= --user=root \
  --address=/known.test/10.1.2.3 >"$work/dnsmasq.log" 2>&1 &
PIDS+=($!)
/usr/bin/python3 "$root/tests/integration/probe_server.py" http "$work/http.port" >"$work/http.log" 2>&1 &
PIDS+=($!)
wait_for "the HTTP server" 10 test -s "$work/http.port"
http_url="http://127.0.0.1:$(cat "$work/http.port")/ok"

# What each peer sent to the broker: topic and payload (hex), one message a line.
record() { mosquitto_sub -p "$BROKER_PORT" -t '#' -F '%t %x' >"$1" & PIDS+=($!); SUB=$!; }

# ---- classroom-agent: the shipped config plus the devices and probes.
run_agent() {
  local d=$work/agent
  mkdir -p "$d"
  printf '%s\n' "$community" >"$d/community"
  chmod 600 "$d/community"
  {
    sed_agent_config "$d" "${interval}s"
    printf '[status]\nsocket = "%s/status.sock"\n' "$d"
    if ((work_on)); then
    for i in 1 2; do
      printf '[[devices.snmp]]\nname = "switch%s"\naddress = "127.0.0.1:%s"\ncommunity_file = "%s"\ninterval = "%ss"\ntimeout = "1s"\nprofiles = ["system", "interfaces"]\n' \
        "$i" "${snmp_ports[$((i - 1))]}" "$d/community" "$interval"
    done
    for t in "${ping_targets[@]}"; do
      printf '[[probes.icmp]]\nname = "Ping %s"\ntarget = "%s"\ncount = 1\ninterval = "%ss"\n' "$t" "$t" "$interval"
    done
    printf '[[probes.dns]]\nname = "DNS"\nquery = "known.test"\nserver = "127.0.0.1:%s"\ninterval = "%ss"\n' "$dns_port" "$interval"
    printf '[[probes.http]]\nname = "HTTP"\nurl = "%s"\ntimeout = "2s"\ninterval = "%ss"\n' "$http_url" "$interval"
    fi
  } >"$d/agent.toml"
  record "$d/mqtt"
  sync -- "$agent"  # a freshly linked binary's dirty page cache would count as private dirty
  "$agent" run -c "$d/agent.toml" >"$d/agent.log" 2>&1 &
  PIDS+=($!)
  measure agent "$!"
  kill "$SUB"
}

# ---- collectd: the same system sources as the shipped config, the same work.
run_collectd() {
  local d=$work/collectd
  mkdir -p "$d"
  cat >"$d/dns.py" <<'PY'
# collectd exec: one DNS query (A known.test) to 127.0.0.1:PORT every interval.
import os, socket, struct, sys, time
port, interval = int(sys.argv[1]), float(os.environ.get("COLLECTD_INTERVAL", sys.argv[2]))
host = os.environ.get("COLLECTD_HOSTNAME", "localhost")
query = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + b"\x05known\x04test\x00" + struct.pack(">HH", 1, 1)
while True:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    t = time.monotonic()
    try:
        s.sendto(query, ("127.0.0.1", port))
        answer = s.recv(512)
        ok = len(answer) > 12 and struct.unpack(">H", answer[6:8])[0] > 0
        value = time.monotonic() - t if ok else "U"
    except OSError:
        value = "U"
    s.close()
    print('PUTVAL "%s/exec-dns/response_time-known.test" interval=%d N:%s' % (host, interval, value), flush=True)
    time.sleep(interval)
PY
  chmod 644 "$d/dns.py"
  {
    cat <<CONF
Interval $interval
BaseDir "$d"
PIDFile "$d/collectd.pid"
PluginDir "/usr/lib/collectd"
TypesDB "/usr/share/collectd/types.db"
LoadPlugin cpu
LoadPlugin load
LoadPlugin memory
LoadPlugin swap
LoadPlugin uptime
LoadPlugin thermal
LoadPlugin df
LoadPlugin interface
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
    if ((work_on)); then cat <<CONF
LoadPlugin snmp
LoadPlugin ping
LoadPlugin curl
LoadPlugin exec
<Plugin snmp>
  <Data "uptime">
    Type "uptime"
    Table false
    Instance "sys"
    Values ".1.3.6.1.2.1.1.3.0"
  </Data>
  <Data "if_octets">
    Type "if_octets"
    Table true
    Instance ".1.3.6.1.2.1.2.2.1.2"
    Values ".1.3.6.1.2.1.31.1.1.1.6" ".1.3.6.1.2.1.31.1.1.1.10"
  </Data>
  <Data "if_packets">
    Type "if_packets"
    Table true
    Instance ".1.3.6.1.2.1.2.2.1.2"
    Values ".1.3.6.1.2.1.31.1.1.1.7" ".1.3.6.1.2.1.31.1.1.1.11"
  </Data>
  <Data "if_errors">
    Type "if_errors"
    Table true
    Instance ".1.3.6.1.2.1.2.2.1.2"
    Values ".1.3.6.1.2.1.2.2.1.14" ".1.3.6.1.2.1.2.2.1.20"
  </Data>
  <Data "if_status">
    Type "gauge"
    Table true
    InstancePrefix "oper-"
    Instance ".1.3.6.1.2.1.2.2.1.2"
    Values ".1.3.6.1.2.1.2.2.1.8"
  </Data>
CONF
    for i in 1 2; do
      cat <<CONF
  <Host "switch$i">
    Address "udp:127.0.0.1:${snmp_ports[$((i - 1))]}"
    Version 2
    Community "$community"
    Collect "uptime" "if_octets" "if_packets" "if_errors" "if_status"
    Interval $interval
  </Host>
CONF
    done
    echo "</Plugin>"
    echo "<Plugin ping>"
    for t in "${ping_targets[@]}"; do echo "  Host \"$t\""; done
    echo "  Interval $interval"
    echo "</Plugin>"
    cat <<CONF
<Plugin curl>
  <Page "http">
    URL "$http_url"
    MeasureResponseTime true
    MeasureResponseCode true
  </Page>
</Plugin>
<Plugin exec>
  Exec "nobody" "/usr/bin/python3" "$d/dns.py" "$dns_port" "$interval"
</Plugin>
CONF
    fi
  } >"$d/collectd.conf"
  record "$d/mqtt"
  /usr/sbin/collectd -f -C "$d/collectd.conf" >"$d/collectd.log" 2>&1 &
  PIDS+=($!)
  # The exec plugin's python is a process of its own: counted apart as well.
  measure collectd "$!"
  kill "$SUB"
}

# ---- snmp_exporter + blackbox_exporter, scraped every interval by this script.
run_exporters() {
  local d=$work/exporters
  mkdir -p "$d"
  local oids=(1.3.6.1.2.1.1.3 1.3.6.1.2.1.31.1.1.1.6 1.3.6.1.2.1.31.1.1.1.10 1.3.6.1.2.1.31.1.1.1.7
    1.3.6.1.2.1.31.1.1.1.11 1.3.6.1.2.1.2.2.1.14 1.3.6.1.2.1.2.2.1.20 1.3.6.1.2.1.2.2.1.8)
  local names=(sysUpTime ifHCInOctets ifHCOutOctets ifHCInUcastPkts ifHCOutUcastPkts ifInErrors ifOutErrors ifOperStatus)
  {
    echo "classroom:"
    echo "  walk:"
    for o in "${oids[@]}"; do echo "  - $o"; done
    echo "  metrics:"
    for i in "${!oids[@]}"; do
      echo "  - name: ${names[$i]}"
      echo "    oid: ${oids[$i]}"
      if [ "$i" -eq 0 ]; then echo "    type: gauge"; continue; fi
      echo "    type: $([ "$i" -eq 7 ] && echo gauge || echo counter)"
      echo "    indexes:"
      echo "    - labelname: ifIndex"
      echo "      type: gauge"
    done
    echo "  version: 2"
    echo "  auth:"
    echo "    community: $community"
  } >"$d/snmp.yml"
  cat >"$d/blackbox.yml" <<'YML'
modules:
  icmp:
    prober: icmp
    timeout: 2s
    icmp:
      preferred_ip_protocol: ip4
  icmp6:
    prober: icmp
    timeout: 2s
    icmp:
      preferred_ip_protocol: ip6
      ip_protocol_fallback: false
  dns:
    prober: dns
    timeout: 2s
    dns:
      query_name: known.test
      query_type: A
      transport_protocol: udp
      preferred_ip_protocol: ip4
  http:
    prober: http
    timeout: 2s
    http:
      preferred_ip_protocol: ip4
YML
  local sport bport
  sport=$(free_port tcp)
  bport=$(free_port tcp)
  prometheus-snmp-exporter --config.file="$d/snmp.yml" --web.listen-address="127.0.0.1:$sport" \
    >"$d/snmp_exporter.log" 2>&1 &
  PIDS+=($!)
  local spid=$!
  prometheus-blackbox-exporter --config.file="$d/blackbox.yml" --web.listen-address="127.0.0.1:$bport" \
    >"$d/blackbox_exporter.log" 2>&1 &
  PIDS+=($!)
  local bpid=$!
  local urls=()
  for p in "${snmp_ports[@]}"; do urls+=("http://127.0.0.1:$sport/snmp?module=classroom&target=127.0.0.1:$p"); done
  urls+=("http://127.0.0.1:$bport/probe?module=icmp&target=${ping_targets[0]}"
    "http://127.0.0.1:$bport/probe?module=icmp&target=${ping_targets[1]}"
    "http://127.0.0.1:$bport/probe?module=icmp6&target=${ping_targets[2]}"
    "http://127.0.0.1:$bport/probe?module=dns&target=127.0.0.1:$dns_port"
    "http://127.0.0.1:$bport/probe?module=http&target=$http_url")
  wait_for "snmp_exporter" 10 curl -sf "http://127.0.0.1:$sport/metrics"
  wait_for "blackbox_exporter" 10 curl -sf "http://127.0.0.1:$bport/metrics"
  # The scraper (what Prometheus would do): one round per interval, each
  # answer kept whole, one file per round and target.
  (
    round=0
    while :; do
      for i in "${!urls[@]}"; do curl -s -m 4 "${urls[$i]}" >"$d/scrape-$round-$i" || true; done
      round=$((round + 1))
      sleep "$interval"
    done
  ) &
  PIDS+=($!)
  local scraper=$!
  measure exporters "$spid" "$bpid"
  kill "$scraper"
}

# CPU time of the processes, together, in nanoseconds: the sum over their
# threads of the scheduler's own count (/proc/PID/task/TID/schedstat), not
# /proc/PID/stat's 10 ms ticks, which cannot tell 40 ms from 60 ms in a run.
# Every peer's threads live through the run.
cpu_ns_of() {
  local p
  for p in "$@"; do cat /proc/"$p"/task/*/schedstat 2>/dev/null; done | awk '{t += $1} END {printf "%d\n", t}'
}

# With COMPARE_THREADS=1: each thread's CPU (ms) and wakeups (context
# switches) over the run, from a snapshot at its start (threads.WHO.0).
thread_snapshot() {
  local p t
  for p in "$@"; do
    for t in /proc/"$p"/task/*; do
      printf '%s %s %s %s\n' "${t##*/}" "$(tr ' ' _ <"$t/comm")" "$(awk '{print $1}' "$t/schedstat")" \
        "$(awk '/ctxt_switches/ {n += $2} END {print n}' "$t/status")"
    done
  done 2>/dev/null
}
thread_table() {  # thread_table WHO PIDS...: the rows, after the run
  local who=$1
  shift
  thread_snapshot "$@" | LC_ALL=C sort | LC_ALL=C join <(LC_ALL=C sort "$work/threads.$who.0") - |
    awk -v who="$who" '{printf "  %-10s %-16s %8.2f ms CPU %6d wakeups\n", who, $2, ($6 - $3) / 1e6, $7 - $4}' \
      >>"$work/threads"
}

# What the processes hold together, as WHO (CPU: since T0[WHO]).
sum_up() {
  local who=$1 pd=0 pss=0 rss=0 threads=0 p a b c ns
  shift
  ns=$(cpu_ns_of "$@")
  for p in "$@"; do
    read -r a b c < <(awk '$1 == "Private_Dirty:" {d = $2} $1 == "Pss:" {p = $2} $1 == "Rss:" {r = $2} END {print d, p, r}' "/proc/$p/smaps_rollup")
    pd=$((pd + a)); pss=$((pss + b)); rss=$((rss + c))
    threads=$((threads + $(awk '/^Threads:/ {print $2}' "/proc/$p/status")))
  done
  PD[$who]=$pd PSS[$who]=$pss RSS[$who]=$rss THREADS[$who]=$threads
  CPU[$who]=$(awk -v t="$((ns - T0[$who]))" -v s="$seconds" 'BEGIN {printf "%.3f", 100 * t / 1e9 / s}')
}

# After WARMUP seconds (start-up, births), runs for SECONDS, then reads what
# the processes hold (summed) and stops them. CPU is over the SECONDS only.
declare -A PD PSS RSS CPU THREADS T0
warmup=10
measure() {
  local who=$1
  shift
  sleep "$warmup"
  local pid children=()
  for pid in "$@"; do mapfile -t -O "${#children[@]}" children < <(pgrep -P "$pid" || true); done
  T0[$who]=$(cpu_ns_of "$@")
  T0[$who+]=$(cpu_ns_of "$@" "${children[@]}")
  [ "${COMPARE_THREADS:-0}" = 1 ] && thread_snapshot "$@" >"$work/threads.$who.0"
  sleep "$seconds"
  children=()
  for pid in "$@"; do
    kill -0 "$pid" || { echo "$who: process $pid is gone" >&2; exit 1; }
    # collectd's exec plugin forks the DNS script: a row of its own, "WHO+".
    mapfile -t -O "${#children[@]}" children < <(pgrep -P "$pid" || true)
  done
  sum_up "$who" "$@"
  ((${#children[@]})) && sum_up "$who+" "$@" "${children[@]}"
  [ "${COMPARE_THREADS:-0}" = 1 ] && thread_table "$who" "$@"
  for pid in "$@"; do kill -TERM "$pid"; done
  for pid in "$@"; do while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done; done
}

for who in "${order[@]}"; do
  case $who in
    agent) run_agent ;;
    collectd) run_collectd ;;
    exporters) ((exporters)) && run_exporters ;;
  esac
done

# What each collected, checked, and its bytes per value.
protoc -I "$root/agent" --python_out "$work" "$root/agent/sparkplug_b.proto"
/usr/bin/python3 - "$work" "$exporters" "$work_on" "${ping_targets[@]}" >"$work/checks" <<'PY'
import glob, os, sys
work, exporters, work_on, pings = sys.argv[1], sys.argv[2] == "1", sys.argv[3] == "1", sys.argv[4:]
sys.path.insert(0, work)
import sparkplug_b_pb2
failed = []
def lines(path):
    with open(path) as f:
        for line in f:
            topic, _, hexed = line.rstrip("\n").partition(" ")
            yield topic, bytes.fromhex(hexed)

# The agent: both devices born and sending, every probe in the node's birth.
names, devices, values, data_bytes = set(), set(), 0, 0
for topic, payload in lines(work + "/agent/mqtt"):
    parts = topic.split("/")
    if len(parts) < 4 or parts[0] != "spBv1.0":
        continue
    p = sparkplug_b_pb2.Payload()
    p.ParseFromString(payload)
    if parts[2] == "NBIRTH":
        names.update(m.name for m in p.metrics)
    if parts[2] == "DDATA":
        devices.add(parts[4])
    if parts[2] in ("NDATA", "DDATA"):
        values += len(p.metrics)
        data_bytes += len(topic) + len(payload)
if not values:
    failed.append("agent: no NDATA or DDATA values")
for probe in (["Ping " + t for t in pings] + ["DNS", "HTTP"]) if work_on else []:
    if not any(n.startswith("Connectivity/" + probe + "/") for n in names):
        failed.append("agent: no metrics of the probe " + probe)
if work_on and devices != {"switch1", "switch2"}:
    failed.append("agent: DDATA from %s, not both switches" % sorted(devices))
print("agent", data_bytes / values if values else 0, values)

# collectd (topics collectd/HOST/PLUGIN/TYPE): values from both switches,
# each ping target, curl and the DNS script.
seen, values, data_bytes = set(), 0, 0
for topic, payload in lines(work + "/collectd/mqtt"):
    parts = topic.split("/")
    if len(parts) != 4:
        continue
    fields = payload.decode(errors="replace").split(":")[1:]
    if all(f in ("nan", "U", "-nan") for f in fields):
        continue
    seen.add("/".join(parts[1:]))
    values += len(fields)
    data_bytes += len(topic) + len(payload)
def has(prefix):
    return any(s.startswith(prefix) or ("/" + prefix) in s for s in seen)
if not any("/memory/" in s for s in seen):
    failed.append("collectd: no memory values")
for i in (1, 2) if work_on else ():
    if not any(s.startswith("switch%d/snmp/if_octets" % i) for s in seen):
        failed.append("collectd: no interface values from switch%d" % i)
for t in pings if work_on else ():
    if not has("ping/ping-" + t):
        failed.append("collectd: no ping of " + t)
if work_on and not has("curl-http/response_time"):
    failed.append("collectd: no curl value")
if work_on and not has("exec-dns/response_time"):
    failed.append("collectd: no DNS value")
print("collectd", data_bytes / values if values else 0, values)

# The exporters: every scrape answered, with the walked values and success.
if exporters:
    values, data_bytes, targets = 0, 0, {}
    for path in glob.glob(work + "/exporters/scrape-*"):
        target = path.rsplit("-", 1)[1]
        with open(path, "rb") as f:
            body = f.read()
        data_bytes += len(body)
        samples = [l for l in body.decode(errors="replace").splitlines() if l and not l.startswith("#")]
        values += len(samples)
        ok = any(l.startswith("ifHCInOctets") for l in samples) or "probe_success 1" in samples
        targets[target] = targets.get(target, False) or ok
    if len(targets) < 7 or not all(targets.values()):
        failed.append("exporters: targets without a good scrape: %s" % sorted(t for t, ok in targets.items() if not ok))
    print("exporters", data_bytes / values if values else 0, values)
for f in failed:
    print("FAILED", f)
PY
if grep -q '^FAILED' "$work/checks"; then
  grep '^FAILED' "$work/checks" | sed 's/^FAILED /not collected: /'
  exit 1
fi

echo "Same work for ${seconds} s each, at a ${interval} s interval, one after the other (${order[*]}):"
if ((work_on)); then
  echo "2 SNMP devices (snmpd), 3 ICMP targets, 1 DNS, 1 HTTP, system sources, to Mosquitto on loopback."
else
  echo "The system sources only (no devices, no probes), to Mosquitto on loopback."
fi
echo "Memory in MiB at the end of each run; CPU in % of one core over the run, summed over the threads (noisy when the machine is shared)."
printf '| %-34s | %13s | %6s | %6s | %6s | %7s | %15s |\n' "agent / peer" "private dirty" PSS RSS CPU threads "bytes per value"
printf '| %-34s | %13s | %6s | %6s | %6s | %7s | %15s |\n' --- --- --- --- --- --- ---
row() {
  local who=$1 label=$2 bpv
  bpv=$(awk -v w="${who%+}" '$1 == w {printf "%.1f (%d)", $2, $3}' "$work/checks")
  printf '| %-34s | %13.2f | %6.2f | %6.2f | %6s | %7s | %15s |\n' "$label" \
    "$(echo "${PD[$who]} / 1024" | bc -l)" "$(echo "${PSS[$who]} / 1024" | bc -l)" \
    "$(echo "${RSS[$who]} / 1024" | bc -l)" "${CPU[$who]}" "${THREADS[$who]}" "$bpv"
}
row agent classroom-agent
row collectd "collectd $(dpkg-query -W -f '${Version}' collectd-core 2>/dev/null)"
[ -n "${PD[collectd+]:-}" ] && row collectd+ "collectd + its exec DNS script"
((exporters)) && row exporters "snmp_exporter + blackbox_exporter"
ratio() {
  local who=$1 label=$2 bpv_a bpv_c
  bpv_a=$(awk -v w="$who" '$1 == w {print $2}' "$work/checks")
  bpv_c=$(awk '$1 == "collectd" {print $2}' "$work/checks")
  printf '| %-34s | %13.2f | %6.2f | %6.2f | %6s | %7.2f | %15.2f |\n' "$label" \
    "$(echo "${PD[$who]} / ${PD[collectd]}" | bc -l)" "$(echo "${PSS[$who]} / ${PSS[collectd]}" | bc -l)" \
    "$(echo "${RSS[$who]} / ${RSS[collectd]}" | bc -l)" \
    "$(awk -v a="${CPU[$who]}" -v c="${CPU[collectd]}" 'BEGIN {if (c > 0) printf "%.2f", a / c; else print "-"}')" \
    "$(echo "${THREADS[$who]} / ${THREADS[collectd]}" | bc -l)" "$(echo "$bpv_a / $bpv_c" | bc -l)"
}
# Against collectd's daemon alone: the stricter comparison.
ratio agent "agent / collectd"
((exporters)) && ratio exporters "exporters / collectd"
echo "(bytes per value: MQTT topic + payload of the data messages, or the scraped text, per value; in brackets the values.)"
if [ "${COMPARE_THREADS:-0}" = 1 ]; then
  echo "Each thread over the run:"
  cat "$work/threads"
fi
