#!/usr/bin/env bash
# Memory with the worst SNMP devices stays what the configured
# interfaces need. Runs tests/perf/footprint.sh --snmp-worst twice at once,
# for SECONDS (default 25) with the devices polled every second:
#   worst      one device with 15,000 interfaces and one whose 200 unnamed
#              interfaces take new ifIndexes at every poll;
#   reference  the same two devices serving what max_interfaces = 64 reads
#              (its walk takes 2 x 64 rows): 128 interfaces, and the 200
#              unnamed ones without renumbering.
# The worst run may hold at most TOLERANCE_KIB (default 256) more private
# dirty memory than the reference at the end, and twice that resident at its
# most (the kernel's high-water mark, VmHWM: the worst run rebirths its
# renumbering device every few polls, the reference only at the start; a
# poll's answers are held for some 10-20 ms, which a sample a second
# caught only now and then); the shipped config's own budget
# (2 MiB) is tests/perf/budget.sh's. The catalog keeps retired names only up
# to a bound, so the worst run holds more at the end: +20 to +84 KiB in
# runs of 25 s on 2026-12-04; resident at its most, -224 to +80 KiB (the
# library pages each run touched vary) (docs/performance.md, "Figures").
# Run it after a change to the SNMP model, the poller, the device runner or
# the catalog (ctest -L perf runs it with tests/perf/budget.sh).
# Usage: tests/perf/snmp_worst.sh [SECONDS] [AGENT_BINARY]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
seconds=${1:-25}
agent=()
[ -n "${2:-}" ] && agent=("$2")
tolerance=${TOLERANCE_KIB:-256}
out=$(mktemp -d /tmp/classroom-snmp-worst-XXXXXX)
trap 'rm -rf "$out"' EXIT

export SNMP_WORST_INTERVAL=1s
"$here/footprint.sh" --snmp-worst "$seconds" "${agent[@]}" >"$out/worst" 2>&1 &
worst=$!
SNMP_WORST_BIG=128 SNMP_WORST_RENUMBER=0 "$here/footprint.sh" --snmp-worst "$seconds" "${agent[@]}" \
  >"$out/reference" 2>&1 &
reference=$!
wait "$worst" || { echo "the worst run failed:"; cat "$out/worst"; exit 1; }
wait "$reference" || { echo "the reference run failed:"; cat "$out/reference"; exit 1; }

end_kib() { awk '$1 == "private" && $2 == "dirty" {print $3; exit}' "$out/$1"; }
most_kib() { awk '$1 == "peak" && $2 == "resident" {print $3; exit}' "$out/$1"; }
births() { awk '$1 == "devices" {print $2; exit}' "$out/$1"; }
data() { awk '$1 == "devices" {print $4; exit}' "$out/$1"; }
failed=0
for what in end most; do
  w=$("${what}_kib" worst)
  r=$("${what}_kib" reference)
  if [ -z "$w" ] || [ -z "$r" ]; then
    echo "no figure ($what) from footprint.sh:"; cat "$out/worst" "$out/reference"
    exit 1
  fi
  label=$([ "$what" = end ] && echo "private dirty at the end" || echo "resident at its most")
  allowed=$([ "$what" = end ] && echo "$tolerance" || echo "$((2 * tolerance))")
  printf '%-26s worst %5d KiB, reference %5d KiB: %+d KiB (tolerance %d)\n' \
    "$label" "$w" "$r" "$((w - r))" "$allowed"
  ((w - r > allowed)) && failed=1
done
# Both really polled, and the worst device really renumbered: a DBIRTH
# each, data, and in the worst run a rebirth for every interface set retired.
for run in worst reference; do
  b=$(births "$run")
  d=$(data "$run")
  least=$([ "$run" = worst ] && echo 4 || echo 2)
  echo "$run run: ${b:-no} DBIRTH, ${d:-no} DDATA"
  if [ -z "$b" ] || ((b < least || d < seconds)); then
    echo "  expected at least $least DBIRTH and $seconds DDATA"
    failed=1
  fi
done
if ((failed)); then
  echo "worst run:"; sed 's/^/  /' "$out/worst"
  echo "reference run:"; sed 's/^/  /' "$out/reference"
fi
exit "$failed"
