#!/usr/bin/env bash
# Footprint of the agent as a gateway pays for it: runs the built agent for
# SECONDS (default 30) at a 1 s interval against a Mosquitto on loopback, then
# prints its private dirty memory and PSS (/proc/PID/smaps_rollup), its CPU
# time, and the bytes it published as the broker delivered them.
# With --outage, the broker is stopped after 5 s and the agent's private dirty
# memory is printed every 5 s while its backlog grows on disk: it must stay flat.
# With --snmp, an snmpd is started on a free loopback UDP port and the agent
# polls it as two devices (v2c, every profile, at a 1 s interval): what SNMP
# devices cost, against the same run without them.
# With --snmp-worst, the agent polls the worst devices of issue 18 as the
# scripted responder (tests/integration/snmp_responder.py) serves them, every
# 2 s with the default max_interfaces (64): one with 15,000 interfaces, one
# whose 200 unnamed interfaces take new ifIndexes at every poll.
# With --probes, ten connectivity probes run every 5 s against servers on
# loopback that the script starts (3 ICMP, 2 DNS with dnsmasq, 2 TCP, 3 HTTP).
# FOOTPRINT_MAPPINGS=N also prints the N mappings with the most private dirty
# memory (/proc/PID/smaps): where it goes. Their RSS is what a library costs a
# gateway where the agent is its only user (PSS shares its pages with every
# other process that maps it, on this machine too).
# The status socket is in the work dir (as /run/classroom-agent is on a
# gateway); with --ask-status, `classroom-agent status` asks it every second
# during the run (what a technician or a monitoring script costs); with
# --no-status, it is off ([status] enabled = false).
# Usage: tests/perf/footprint.sh [--ask-status|--no-status] [--outage] [--snmp|--snmp-worst] [--probes] [SECONDS] [AGENT_BINARY]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
outage=0
ask_status=0
status_on=1
if [ "${1:-}" = "--ask-status" ]; then ask_status=1; shift; fi
if [ "${1:-}" = "--no-status" ]; then status_on=0; shift; fi
snmp=0
probes=0
if [ "${1:-}" = "--outage" ]; then outage=1; shift; fi
if [ "${1:-}" = "--snmp" ]; then snmp=1; shift; fi
snmp_worst=0
if [ "${1:-}" = "--snmp-worst" ]; then snmp_worst=1; shift; fi
if [ "${1:-}" = "--probes" ]; then probes=1; shift; fi
seconds=${1:-30}
agent=${2:-$root/build/agent/classroom-agent}
[ -x "$agent" ] || { echo "no agent binary at $agent: build first (cmake --build build)"; exit 2; }

. "$root/tests/tools/local-broker.sh"
make_work_dir footprint
work=$WORK
start_local_broker "$work"
broker=$BROKER_PID
port=$BROKER_PORT

# Payload sizes as the broker hands them out: Sparkplug messages and receipts.
mosquitto_sub -p "$port" -t 'spBv1.0/#' -t 'classroom-agent/#' -F '%t %l' >"$work/sizes" &
PIDS+=($!)
sed_agent_config "$work" 1s >"$work/agent.toml"
if ((status_on)); then
  printf '[status]\nsocket = "%s/status.sock"\n' "$work" >>"$work/agent.toml"
else
  printf '[status]\nenabled = false\n' >>"$work/agent.toml"
fi
if ((snmp)); then
  snmp_port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  printf 'rocommunity footprint 127.0.0.1\nsysName footprint\n' >"$work/snmpd.conf"
  mkdir -p "$work/snmp"
  SNMP_PERSISTENT_DIR="$work/snmp" MIBS= /usr/sbin/snmpd -f -Lo -C -c "$work/snmpd.conf" \
    "udp:127.0.0.1:$snmp_port" >"$work/snmpd.log" 2>&1 &
  PIDS+=($!)
  printf 'footprint\n' >"$work/community"
  chmod 600 "$work/community"
  for name in switch ap; do
    printf '[[devices.snmp]]\nname = "%s"\naddress = "127.0.0.1:%s"\ncommunity_file = "%s"\ninterval = "1s"\ntimeout = "500ms"\nprofiles = ["system", "interfaces", "host", "ups"]\n' \
      "$name" "$snmp_port" "$work/community" >>"$work/agent.toml"
  done
fi
if ((snmp_worst)); then
  printf 'public\n' >"$work/public"
  chmod 600 "$work/public"
  # SNMP_WORST_BIG=64 SNMP_WORST_RENUMBER=0: the same devices at their
  # published size and without renumbering, what the configured interfaces need.
  printf '{"interfaces": %d}' "${SNMP_WORST_BIG:-15000}" >"$work/big.json"
  printf '{"interfaces": 200, "renumber": %d, "named": false}' "${SNMP_WORST_RENUMBER:-1000}" \
    >"$work/renumber.json"
  for name in big renumber; do
    /usr/bin/python3 "$root/tests/integration/snmp_responder.py" "$work/$name.port" "$work/$name.json" \
      >"$work/$name.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 100); do [ -s "$work/$name.port" ] && break; sleep 0.1; done
    printf '[[devices.snmp]]\nname = "%s"\naddress = "127.0.0.1:%s"\ncommunity_file = "%s"\ninterval = "2s"\ntimeout = "500ms"\nretries = 1\n' \
      "$name" "$(cat "$work/$name.port")" "$work/public" >>"$work/agent.toml"
  done
fi
if ((probes)); then
  /usr/bin/python3 "$root/tests/integration/probe_server.py" http "$work/http.port" &
  PIDS+=($!)
  dns_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --bind-interfaces \
    --listen-address=127.0.0.1 --port="$dns_port" --pid-file= --user=root \
    --address=/known.test/10.1.2.3 --local=/test/ >"$work/dnsmasq.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do [ -s "$work/http.port" ] && break; sleep 0.1; done
  http_port=$(cat "$work/http.port")
  {
    for t in 127.0.0.1 ::1 127.0.0.2; do
      printf '[[probes.icmp]]\nname = "Ping %s"\ntarget = "%s"\ninterval = "5s"\n' "$t" "$t"
    done
    for q in known.test missing.test; do
      printf '[[probes.dns]]\nname = "DNS %s"\nquery = "%s"\nserver = "127.0.0.1:%s"\ninterval = "5s"\n' "$q" "$q" "$dns_port"
    done
    for i in 1 2; do
      printf '[[probes.tcp]]\nname = "TCP %s"\ntarget = "127.0.0.1:%s"\ninterval = "5s"\n' "$i" "$port"
    done
    for path in ok delay?ms=100 status?code=404; do
      printf '[[probes.http]]\nname = "HTTP %s"\nurl = "http://127.0.0.1:%s/%s"\ntimeout = "2s"\ninterval = "5s"\n' "${path%%\?*}" "$http_port" "$path"
    done
  } >>"$work/agent.toml"
fi
sleep 0.5
# A binary linked moments ago is still dirty in the page cache, and smaps
# counts those pages as the agent's private dirty memory: write it out first.
sync -- "$agent"
"$agent" run -c "$work/agent.toml" >"$work/agent.log" 2>&1 &
pid=$!
PIDS+=($pid)
if ((outage)); then
  sleep 5
  kill "$broker"
  echo "broker stopped; private dirty memory while the backlog grows:"
  for ((t = 5; t < seconds; t += 5)); do
    sleep 5
    printf '  %4d s  %s KiB private dirty, spool %s\n' "$((t + 5))" \
      "$(awk '$1 == "Private_Dirty:" {print $2}' "/proc/$pid/smaps_rollup")" \
      "$(du -sh "$work/state/spool" | cut -f1)"
  done
  kill -TERM "$pid"
  wait "$pid" || true
  exit 0
fi
if ((ask_status)); then
  for ((t = 0; t < seconds; t++)); do
    sleep 1
    "$agent" status -c "$work/agent.toml" >"$work/status.out" 2>&1 || true
  done
  echo "last status answer:"; sed 's/^/  /' "$work/status.out"
else
  sleep "$seconds"
fi

rollup=$(cat "/proc/$pid/smaps_rollup")
# Where the private dirty memory is, per mapping (FOOTPRINT_MAPPINGS=N: the N largest).
by_mapping=
((${FOOTPRINT_MAPPINGS:-0} > 0)) && by_mapping=$(awk '
  /^[0-9a-f]+-[0-9a-f]+ / { anon = ($6 == ""); name = anon ? "[anonymous at " $1 "]" : $6
    for (i = 7; i <= NF; ++i) name = name " " $i }
  $1 == "Size:" && anon { name = name " (" $2 " KiB mapped)" }
  $1 == "Private_Dirty:" { pd[name] += $2 }
  $1 == "Pss:" { pss[name] += $2 }
  $1 == "Rss:" { rss[name] += $2 }
  END { for (n in pd) if (pd[n] > 0)
          printf "%8d KiB private dirty %8d KiB PSS %8d KiB RSS  %s\n", pd[n], pss[n], rss[n], n }' \
  "/proc/$pid/smaps" | sort -rn | head -n "$FOOTPRINT_MAPPINGS" || true)
kib() { awk -v k="$1" '$1 == k":" {print $2}' <<<"$rollup"; }
read -r utime stime < <(awk '{print $14, $15}' "/proc/$pid/stat")
tck=$(getconf CLK_TCK)
threads=$(awk '/^Threads:/ {print $2}' "/proc/$pid/status")
kill -TERM "$pid"; wait "$pid" || true
sleep 0.5
msgs=$(grep -c '^spBv1.0/' "$work/sizes" || true)
bytes=$(awk '$1 ~ /^spBv1.0\// {s += $2} END {print s + 0}' "$work/sizes")
topic_bytes=$(awk '$1 ~ /^spBv1.0\// {s += length($1)} END {print s + 0}' "$work/sizes")
receipts=$(grep -c '^classroom-agent/' "$work/sizes" || true)
receipt_bytes=$(awk '$1 ~ /^classroom-agent\// {s += $2 + length($1)} END {print s + 0}' "$work/sizes")

echo "classroom-agent footprint: ${seconds} s at a 1 s interval, default config otherwise$( ((snmp)) && echo ", 2 SNMP devices" || true)$( ((snmp_worst)) && echo ", 2 SNMP devices: 15,000 interfaces, 200 renumbered at every poll" || true)$( ((probes)) && echo ', ten probes every 5 s' || true)"
echo "  private dirty   $(kib Private_Dirty) KiB"
echo "  PSS             $(kib Pss) KiB"
echo "  RSS             $(kib Rss) KiB"
echo "  threads         $threads"
echo "  CPU             $(awk -v u="$utime" -v s="$stime" -v t="$tck" 'BEGIN {printf "%.2f s (%.2f %% of one core)", (u+s)/t, 100*(u+s)/t/'"$seconds"'}')"
echo "  published       $msgs Sparkplug messages, $bytes payload bytes (+ $topic_bytes topic bytes), $receipts receipts"
# One NDATA and one receipt per cycle: the default 10 s interval makes 8640 a day.
if [ -n "$by_mapping" ]; then echo "  largest private dirty mappings:"; sed 's/^/  /' <<<"$by_mapping"; fi
echo "  per day at 10 s $(awk -v b="$bytes" -v t="$topic_bytes" -v n="$msgs" -v r="$receipt_bytes" -v m="$receipts" \
  'BEGIN {printf "~%.1f MB of payload and topic (%.0f B per NDATA + %.0f B per receipt, 8640 cycles)", ((b+t)/n + r/m)*8640/1e6, (b+t)/n, r/m}')"
