#!/usr/bin/env bash
# The shipped unit, as CMake configured it in BUILD_DIR: its offline security
# score must be 1.8 or lower, and `systemd-analyze verify` must accept it next
# to the binary it starts (installed into a scratch root with DESTDIR).
# 1.8, not 1.5: the filter allows adjtimex, read only for the clock's state
# (setting the clock needs CAP_SYS_TIME, which the unit never has); the
# offline score cannot see that and counts @clock as open.
# Usage: tests/systemd/check-unit.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
unit="$build/systemd/classroom-agent.service"
max=1.8

# What a real systemd showed (tests/package/check-nspawn.sh proves it booted):
# a failing ExecStartPre restarts every RestartSec whatever
# RestartPreventExitStatus says, so the config is checked by the main process;
# and nothing in the unit may give the agent the capability to set the clock.
if grep -n '^ExecStartPre=' "$unit"; then
  echo "ExecStartPre: a config error there restarts in a loop; \`run\` checks the config"; exit 1
fi
if grep -n '^[^#]*CAP_SYS_TIME' "$unit"; then
  echo "the unit allows adjtimex on the promise that CAP_SYS_TIME is never granted"; exit 1
fi

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
# ExecReload runs /bin/sh (its kill builtin), which verify wants to find in the root too.
cp -L /bin/sh "$root/bin/sh"
# The targets the unit is ordered against, from this machine's systemd.
cp /lib/systemd/system/*.target "$root/usr/lib/systemd/system/"
find "$root" -name classroom-agent.service -path '*systemd/system*' -exec cp {} "$root/etc/systemd/system/" \; -quit
systemd-analyze verify --root="$root" classroom-agent.service
echo "systemd-analyze verify: OK"
