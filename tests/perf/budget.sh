#!/usr/bin/env bash
# The memory budget as a test (ctest "perf: ..."): private dirty memory must
# stay within 2 MiB with the shipped config, and with ten probes on top of it
#, and with two SNMP devices, measured by tests/perf/footprint.sh
# after SECONDS (default 20) of a 1 s interval. The probe run must really have
# loaded libcurl and c-ares (its HTTP and DNS probes ran), the device run
# net-snmp, and the shipped one none of them: libraries loaded with dlopen cost
# nothing where their feature is not configured.
# Usage: tests/perf/budget.sh [SECONDS] [AGENT_BINARY]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
seconds=${1:-20}
agent=()
[ -n "${2:-}" ] && agent=("$2")  # else footprint.sh's default, build/agent/classroom-agent
budget_kib=${BUDGET_KIB:-2048}  # lower it to see the failure path
failed=0

check() {
  local what=$1 expected=$2
  shift 2
  local out kib
  out=$(FOOTPRINT_MAPPINGS=200 "$here/footprint.sh" "$@" "$seconds" "${agent[@]}")
  kib=$(awk '$1 == "private" && $2 == "dirty" {print $3; exit}' <<<"$out")
  if [ -z "$kib" ]; then
    echo "$what: footprint.sh printed no private dirty figure:"; echo "$out"
    failed=1
    return
  fi
  local loaded="" lib
  for lib in libcurl libcares libnetsnmp; do
    grep -q "/$lib\.so" <<<"$out" && loaded+="${loaded:+ }$lib"
  done
  echo "$what: $kib KiB private dirty (budget $budget_kib KiB), loaded with dlopen: ${loaded:-none}"
  if ((kib > budget_kib)); then
    echo "  over budget; the largest mappings:"; grep 'KiB private dirty' <<<"$out" | head -15
    failed=1
  fi
  if [ "${loaded:-none}" != "$expected" ]; then
    echo "  loaded with dlopen should be: $expected"
    failed=1
  fi
}

check "shipped config" none
check "shipped config + ten probes (3 ICMP, 2 DNS, 2 TCP, 3 HTTP)" "libcurl libcares" --probes
check "shipped config + two SNMP devices" libnetsnmp --snmp
exit "$failed"
