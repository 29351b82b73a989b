#!/usr/bin/env bash
# The shipped unit, as CMake configured it in BUILD_DIR: its offline security
# score must be 1.5 or lower, and `systemd-analyze verify` must accept it next
# to the binary it starts (installed into a scratch root with DESTDIR).
# Usage: tests/systemd/check-unit.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
unit="$build/systemd/classroom-agent.service"
max=1.5

report=$(systemd-analyze security --offline=true "$unit" 2>&1) || true
score=$(sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p' <<<"$report")
if [ -z "$score" ]; then
  echo "no score from systemd-analyze security:"; echo "$report"; exit 1
fi
echo "offline security score: $score (at most $max)"
if ! awk -v s="$score" -v m="$max" 'BEGIN { exit !(s <= m) }'; then
  grep '✗' <<<"$report"; exit 1
fi

root=$(mktemp -d /tmp/classroom-unit-XXXXXX)
trap 'rm -rf "$root"' EXIT
DESTDIR="$root" cmake --install "$build" --component Unspecified >/dev/null
mkdir -p "$root/etc/systemd/system" "$root/usr/lib/systemd/system" "$root/bin"
# ExecReload runs /bin/kill, which verify wants to find in the root too.
cp /bin/kill "$root/bin/"
# The targets the unit is ordered against, from this machine's systemd.
cp /lib/systemd/system/*.target "$root/usr/lib/systemd/system/"
find "$root" -name classroom-agent.service -path '*systemd/system*' -exec cp {} "$root/etc/systemd/system/" \; -quit
systemd-analyze verify --root="$root" classroom-agent.service
echo "systemd-analyze verify: OK"
