#!/usr/bin/env bash
# Footprint of the agent as a gateway pays for it: runs the built agent for
# SECONDS (default 30) at a 1 s interval against a Mosquitto on loopback, then
# prints its private dirty memory and PSS (/proc/PID/smaps_rollup, the median
# of reads over 2 s after the run, 6 s with --snmp-auto: what it holds
# between polls), the most it held resident after its first 6 s (VmHWM:
# short transients included, which a sample would catch only by chance), its
# CPU time, and the bytes it published as the broker delivered them.
# With --outage, the broker is stopped after 5 s and the agent's private dirty
# memory is printed every 5 s while its backlog grows on disk: it must stay flat.
# With --snmp, an snmpd is started on a free loopback UDP port and the agent
# polls it as two devices (v2c, every profile, at a 1 s interval): what SNMP
# devices cost, against the same run without them.
# With --snmp-worst, the agent polls the worst devices (unbounded tables) as the
# scripted responder (tests/integration/snmp_responder.py) serves them, every
# 2 s (SNMP_WORST_INTERVAL) with the default max_interfaces (64): one with
# 15,000 interfaces, one whose 200 unnamed interfaces take new ifIndexes at
# every poll. tests/perf/snmp_worst.sh compares it with what the configured
# interfaces need.
# With --snmp-auto, 20 devices with profiles = ["system", "interfaces", "auto"]
# are polled every 30 s (SNMP_AUTO_INTERVAL), as four scripted responders
# serve them, five devices each: a PoE switch (48 ports, LLDP neighbours,
# 400 learnt addresses, 12 sensors), a UniFi access point (4 VAPs), a MikroTik
# access point (2 APs, health, 8 gauges), an APC UPS (budget: 3 MiB
# private dirty, 1 % of one core). SNMP_AUTO_PROFILES='["system", "interfaces"]':
# the same devices without auto, what the profiles cost.
# With --probes, ten connectivity probes run every 5 s against servers on
# loopback that the script starts (3 ICMP, 2 DNS with dnsmasq, 2 TCP, 3 HTTP).
# FOOTPRINT_MAPPINGS=N also prints the N mappings with the most private dirty
# memory (/proc/PID/smaps), then those with none but resident pages: where it
# goes, file by file. Their RSS is what a library costs a gateway where the
# agent is its only user (PSS shares its pages with every other process that
# maps it, on this machine too).
# The status socket is in the work dir (as /run/classroom-agent is on a
# gateway); with --ask-status, `classroom-agent status` asks it every second
# during the run (what a technician or a monitoring script costs); with
# --no-status, it is off ([status] enabled = false).
# Usage: tests/perf/footprint.sh [--ask-status|--no-status] [--outage] [--snmp|--snmp-worst|--snmp-auto] [--probes] [SECONDS] [AGENT_BINARY]
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
snmp_auto=0
if [ "${1:-}" = "--snmp-auto" ]; then snmp_auto=1; shift; fi
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
  SNMP_PERSISTENT_DIR="$work/snmp" MIBS="" /usr/sbin/snmpd -f -Lo -C -c "$work/snmpd.conf" \
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
    printf '[[devices.snmp]]\nname = "%s"\naddress = "127.0.0.1:%s"\ncommunity_file = "%s"\ninterval = "%s"\ntimeout = "500ms"\nretries = 1\n' \
      "$name" "$(cat "$work/$name.port")" "$work/public" "${SNMP_WORST_INTERVAL:-2s}" >>"$work/agent.toml"
  done
fi
if ((snmp_auto)); then
  printf 'public\n' >"$work/public"
  chmod 600 "$work/public"
  # The objects of each kind of device, at the OIDs of drivers/snmp/profiles.toml.
  python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
def put(o, oid, kind, value): o[oid] = [kind, value]
switch, ap, mt, ups = {}, {}, {}, {}
put(switch, "1.3.6.1.2.1.1.2.0", "OID", "1.3.6.1.4.1.9.1.2000")
put(switch, "1.3.6.1.2.1.105.1.3.1.1.2.1", "Gauge32", 370)
put(switch, "1.3.6.1.2.1.105.1.3.1.1.3.1", "INTEGER", 1)
put(switch, "1.3.6.1.2.1.105.1.3.1.1.4.1", "Gauge32", 120)
for p in range(1, 49):
    put(switch, "1.3.6.1.2.1.105.1.1.1.3.1.%d" % p, "INTEGER", 1)
    put(switch, "1.3.6.1.2.1.105.1.1.1.6.1.%d" % p, "INTEGER", 3 if p % 3 else 2)
    put(switch, "1.0.8802.1.1.2.1.4.1.1.8.100.%d.1" % p, "STRING", "eth0")
    put(switch, "1.0.8802.1.1.2.1.4.1.1.9.100.%d.1" % p, "STRING", "ap-%d" % p)
for m in range(400):
    put(switch, "1.3.6.1.2.1.17.4.3.1.2.0.17.34.%d.%d.%d" % (m // 250, m % 250, m % 7), "INTEGER", m % 48 + 1)
for k in range(1, 13):
    put(switch, "1.3.6.1.2.1.47.1.1.1.1.7.%d" % (1000 + k), "STRING", "Sensor %d" % k)
    for col, v in ((1, 8), (2, 9), (3, 1), (4, 400 + k), (5, 1)):
        put(switch, "1.3.6.1.2.1.99.1.1.1.%d.%d" % (col, 1000 + k), "INTEGER", v)
put(ap, "1.3.6.1.2.1.1.2.0", "OID", "1.3.6.1.4.1.41112.1.6")
for v in range(1, 5):
    b = "1.3.6.1.4.1.41112.1.6.1.2.1."
    for col, kind, value in ((4, "INTEGER", 36), (6, "STRING", "School"), (7, "STRING", "ath%d" % v),
                             (8, "INTEGER", [v * 3, v * 3 + 1]), (9, "STRING", "na"),
                             (21, "INTEGER", 20), (22, "INTEGER", 1)):
        put(ap, b + "%d.%d" % (col, v), kind, value)
put(mt, "1.3.6.1.2.1.1.2.0", "OID", "1.3.6.1.4.1.14988.1")
for v in range(1, 3):
    b = "1.3.6.1.4.1.14988.1.1.1.3.1."
    for col, kind, value in ((4, "STRING", "School"), (6, "Counter32", [v * 5, v * 5 + 2]),
                             (7, "INTEGER", 2412), (8, "STRING", "2ghz-b/g/n")):
        put(mt, b + "%d.%d" % (col, v), kind, value)
for oid, v in (("8.0", 240), ("10.0", 385), ("11.0", 412)):
    put(mt, "1.3.6.1.4.1.14988.1.1.3." + oid, "INTEGER", v)
for g in range(1, 9):
    put(mt, "1.3.6.1.4.1.14988.1.1.3.100.1.2.%d" % g, "STRING", "gauge%d" % g)
    put(mt, "1.3.6.1.4.1.14988.1.1.3.100.1.3.%d" % g, "INTEGER", 300 + g)
    put(mt, "1.3.6.1.4.1.14988.1.1.3.100.1.4.%d" % g, "INTEGER", 1 + g % 5)
put(ups, "1.3.6.1.2.1.1.2.0", "OID", "1.3.6.1.4.1.318.1.3.27")
for oid, kind, v in (("4.1.1.0", "INTEGER", 2), ("2.2.1.0", "Gauge32", 100), ("2.2.2.0", "Gauge32", 29),
                     ("2.2.3.0", "TimeTicks", 540000), ("2.2.4.0", "INTEGER", 1),
                     ("3.2.1.0", "Gauge32", 230), ("4.2.3.0", "Gauge32", [18, 19])):
    put(ups, "1.3.6.1.4.1.318.1.1.1." + oid, kind, v)
for name, objects, interfaces in (("switch", switch, 52), ("ap", ap, 3), ("mt", mt, 4), ("ups", ups, 1)):
    with open("%s/%s.json" % (work, name), "w") as f:
        json.dump({"interfaces": interfaces, "objects": objects}, f)
PY
  for kind in switch ap mt ups; do
    /usr/bin/python3 "$root/tests/integration/snmp_responder.py" "$work/$kind.port" "$work/$kind.json" \
      >"$work/$kind.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 100); do [ -s "$work/$kind.port" ] && break; sleep 0.1; done
    for i in 1 2 3 4 5; do
      printf '[[devices.snmp]]\nname = "%s-%d"\naddress = "127.0.0.1:%s"\ncommunity_file = "%s"\ninterval = "%s"\ntimeout = "2s"\nprofiles = %s\n' \
        "$kind" "$i" "$(cat "$work/$kind.port")" "$work/public" "${SNMP_AUTO_INTERVAL:-30s}" \
        "${SNMP_AUTO_PROFILES:-[\"system\", \"interfaces\", \"auto\"]}" >>"$work/agent.toml"
    done
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
PIDS+=("$pid")
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
elif ((seconds > 10)); then
  # The peak of its steady running: the kernel's high-water mark starts
  # again after 6 s (clear_refs 5), past the start (configuration, dlopen,
  # first walks and births on a heap not yet trimmed), which would
  # otherwise be the peak of every run alike.
  sleep 6
  echo 5 >"/proc/$pid/clear_refs"
  hwm_after=" after 6 s"
  sleep "$((seconds - 6))"
else
  sleep "$seconds"
fi

read -r utime stime < <(awk '{print $14, $15}' "/proc/$pid/stat")
# What it holds between its polls and probes: the median of reads 100 ms
# apart over a window after the run (2 s; 6 s with --snmp-auto, whose round
# of 20 polls lasts longer). A single read fell inside a poll's answers
# (400-650 KiB held for 10-20 ms) now and then, and a budget failed by
# chance; memory held most of the time is in the median, the transients in
# the peak (VmHWM) below.
window=$( ((snmp_auto)) && echo 60 || echo 20)
reads=()
for ((i = 0; i < window; i++)); do
  reads+=("$(cat "/proc/$pid/smaps_rollup")")
  sleep 0.1
done
median=$(for i in "${!reads[@]}"; do
  echo "$(awk '$1 == "Private_Dirty:" {print $2}' <<<"${reads[$i]}") $i"
done | sort -n | awk -v n="$window" 'NR == int(n / 2) + 1 {print $2}')
rollup=${reads[$median]}
# Where the private dirty memory is, per mapping (FOOTPRINT_MAPPINGS=N: the N largest).
by_mapping=
((${FOOTPRINT_MAPPINGS:-0} > 0)) && by_mapping=$(awk '
  /^[0-9a-f]+-[0-9a-f]+ / { anon = ($6 == ""); name = anon ? "[anonymous at " $1 "]" : $6
    for (i = 7; i <= NF; ++i) name = name " " $i }
  $1 == "Size:" && anon { name = name " (" $2 " KiB mapped)" }
  $1 == "Private_Dirty:" { pd[name] += $2 }
  $1 == "Pss:" { pss[name] += $2 }
  $1 == "Rss:" { rss[name] += $2 }
  END { for (n in rss) if (pd[n] > 0 || rss[n] > 0)
          printf "%8d KiB private dirty %8d KiB PSS %8d KiB RSS  %s\n", pd[n], pss[n], rss[n], n }' \
  "/proc/$pid/smaps" | sort -k1,1rn -k8,8rn | head -n "$FOOTPRINT_MAPPINGS" || true)
kib() { awk -v k="$1" '$1 == k":" {print $2}' <<<"$rollup"; }
# The most it held resident (from 6 s in on runs over 10 s, above).
hwm=$(awk '$1 == "VmHWM:" {print $2}' "/proc/$pid/status")
tck=$(getconf CLK_TCK)
threads=$(awk '/^Threads:/ {print $2}' "/proc/$pid/status")
kill -TERM "$pid"; wait "$pid" || true
sleep 0.5
# FOOTPRINT_LOG=FILE keeps the agent's log (the work dir goes at the exit).
[ -n "${FOOTPRINT_LOG:-}" ] && cp "$work/agent.log" "$FOOTPRINT_LOG"
msgs=$(grep -c '^spBv1.0/' "$work/sizes" || true)
bytes=$(awk '$1 ~ /^spBv1.0\// {s += $2} END {print s + 0}' "$work/sizes")
topic_bytes=$(awk '$1 ~ /^spBv1.0\// {s += length($1)} END {print s + 0}' "$work/sizes")
receipts=$(grep -c '^classroom-agent/' "$work/sizes" || true)
dbirths=$(grep -c '^spBv1.0/[^ ]*/DBIRTH/' "$work/sizes" || true)
ddata=$(grep -c '^spBv1.0/[^ ]*/DDATA/' "$work/sizes" || true)
receipt_bytes=$(awk '$1 ~ /^classroom-agent\// {s += $2 + length($1)} END {print s + 0}' "$work/sizes")

echo "classroom-agent footprint: ${seconds} s at a 1 s interval, default config otherwise$( ((snmp)) && echo ", 2 SNMP devices" || true)$( ((snmp_worst)) && echo ", 2 SNMP devices: 15,000 interfaces, 200 renumbered at every poll" || true)$( ((snmp_auto)) && echo ", 20 SNMP devices with auto every ${SNMP_AUTO_INTERVAL:-30s}" || true)$( ((probes)) && echo ', ten probes every 5 s' || true)"
echo "  private dirty   $(kib Private_Dirty) KiB"
echo "  peak resident   $hwm KiB (VmHWM: RSS at its most${hwm_after:-}, every transient counted)"
echo "  PSS             $(kib Pss) KiB"
echo "  RSS             $(kib Rss) KiB"
echo "  threads         $threads"
echo "  CPU             $(awk -v u="$utime" -v s="$stime" -v t="$tck" 'BEGIN {printf "%.2f s (%.2f %% of one core)", (u+s)/t, 100*(u+s)/t/'"$seconds"'}')"
echo "  published       $msgs Sparkplug messages, $bytes payload bytes (+ $topic_bytes topic bytes), $receipts receipts"
((snmp || snmp_worst || snmp_auto)) && echo "  devices         $dbirths DBIRTH, $ddata DDATA"
# One NDATA and one receipt per cycle: the default 10 s interval makes 8640 a day.
if [ -n "$by_mapping" ]; then echo "  mappings, most private dirty first (then most RSS):"; sed 's/^/  /' <<<"$by_mapping"; fi
echo "  per day at 10 s $(awk -v b="$bytes" -v t="$topic_bytes" -v n="$msgs" -v r="$receipt_bytes" -v m="$receipts" \
  'BEGIN {printf "~%.1f MB of payload and topic (%.0f B per NDATA + %.0f B per receipt, 8640 cycles)", ((b+t)/n + r/m)*8640/1e6, (b+t)/n, r/m}')"
