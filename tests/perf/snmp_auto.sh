#!/usr/bin/env bash
# The SNMP budget as a test: 20 SNMP devices with profiles = ["system",
# "interfaces", "auto"], polled every 30 s as the scripted responders serve a
# PoE switch, a UniFi and a MikroTik access point and an APC UPS (five of
# each, tests/perf/footprint.sh --snmp-auto), must keep the agent within
# BUDGET_KIB (default 3072) of private dirty memory at the end of SECONDS
# (default 95: four rounds of polls) and within CPU_PERCENT (default 1.0) of
# one core over the run. Every device must have answered: 20 DBIRTH, and DDATA
# from the polls after the first. CPU is what the run took on this machine,
# whatever else it runs at the time: noisy on a shared builder.
# Usage: tests/perf/snmp_auto.sh [SECONDS] [AGENT_BINARY]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
seconds=${1:-95}
agent=()
[ -n "${2:-}" ] && agent=("$2")
budget_kib=${BUDGET_KIB:-3072}
cpu_percent=${CPU_PERCENT:-1.0}

out=$(FOOTPRINT_MAPPINGS=10 "$here/footprint.sh" --snmp-auto "$seconds" "${agent[@]}")
kib=$(awk '$1 == "private" && $2 == "dirty" {print $3; exit}' <<<"$out")
cpu=$(awk '$1 == "CPU" {gsub(/\(/, "", $4); print $4; exit}' <<<"$out")
births=$(awk '$1 == "devices" {print $2; exit}' <<<"$out")
data=$(awk '$1 == "devices" {print $4; exit}' <<<"$out")
if [ -z "$kib" ] || [ -z "$cpu" ] || [ -z "$births" ]; then
  echo "footprint.sh gave no figures:"; echo "$out"
  exit 1
fi
failed=0
echo "20 devices with auto every 30 s, ${seconds} s: $kib KiB private dirty (budget $budget_kib KiB)," \
  "$cpu % of one core (budget $cpu_percent %), $births DBIRTH, $data DDATA"
((kib > budget_kib)) && { echo "  over the memory budget"; failed=1; }
awk -v c="$cpu" -v b="$cpu_percent" 'BEGIN {exit !(c > b)}' && { echo "  over the CPU budget"; failed=1; }
# Every device answered and was polled again: at least a DBIRTH each and
# two rounds of DDATA.
if ((births < 20 || data < 40)); then
  echo "  expected 20 DBIRTH and at least 40 DDATA"
  failed=1
fi
((failed)) && sed 's/^/  /' <<<"$out"
exit "$failed"
