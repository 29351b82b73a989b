#!/usr/bin/env bash
# The native Debian package under a real systemd, as a technician deploys it:
#   tests/package/check-nspawn.sh [DIST]     (as root; DIST defaults to dist/)
# A fresh Debian root (mmdebstrap minbase of this machine's suite and mirror,
# with systemd, Mosquitto and the package's dependencies; cached as a tarball)
# is booted with `systemd-nspawn -b --private-network`: systemd is PID 1, the
# network is the container's own loopback, where its Mosquitto listens on
# 127.0.0.1:1883 as the shipped config expects. A service in the container runs
# this script with --inside once the system is up, then powers it off; the host
# shows its output and exits with its status. Checked inside:
#   install (nothing enabled or started), enable --now, `status` as root and as
#   a member of [status] group, the clock's state, reload (valid: same process;
#   with mistakes: refused, the agent carries on, the mistake at priority err),
#   a config with mistakes (start fails once, no restart loop), a root-owned
#   secret (refused by `sudo check-config` too, naming chown), the watchdog
#   (a stalled loop is killed and restarted), reinstall (a running agent is
#   restarted), purge (no file named classroom-agent*, none owned by its user).
# Takes a few minutes (the first run builds the root: a minute or two more),
# so it is an opt-in check of tests/run.sh (CLASSROOM_CROSS), not of CI.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root_dir=$(cd "$here/../.." && pwd)

if [ "${1:-}" = --inside ]; then
  # ---- inside the booted container: /pkg holds the .deb ----------------------
  deb=$(ls /pkg/classroom-agent_*.deb)
  conf=/etc/classroom-agent/agent.toml
  fail() {
    echo "FAIL: $*"
    echo "--- journalctl -u classroom-agent (last 40 lines)"
    journalctl -u classroom-agent --no-pager -n 40 -o short-monotonic || true
    exit 1
  }
  export DEBIAN_FRONTEND=noninteractive
  apt_q() { apt-get -o Dpkg::Use-Pty=0 -qq "$@" >/tmp/apt.log 2>&1 || { cat /tmp/apt.log; fail "apt-get $*"; }; }
  # wait_until SECONDS COMMAND...: true once COMMAND succeeds, false at the deadline.
  wait_until() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
      [ "$SECONDS" -lt "$deadline" ] || return 1
      sleep 0.2
    done
  }
  prop() { systemctl show -p "$1" --value classroom-agent.service; }
  active() { [ "$(systemctl is-active classroom-agent.service)" = active ]; }
  pid_changed_from() { active && [ "$(prop MainPID)" != "$1" ] && [ "$(prop MainPID)" != 0 ]; }
  # The status as root, and as the member: 0 well or 1 degraded both answer.
  answers() { "$@" classroom-agent status >/tmp/status.txt 2>&1; [ $? -le 1 ]; }

  echo "== systemd $(systemctl --version | head -n 1 | cut -d' ' -f2) is PID 1: $(cat /proc/1/comm)"
  wait_until 60 systemctl is-active mosquitto.service || fail "the container's Mosquitto did not start"

  echo "== apt-get install $(basename "$deb")"
  apt_q install -y "$deb"
  [ "$(systemctl is-enabled classroom-agent.service 2>/dev/null)" = disabled ] || fail "the package enabled its unit"
  [ "$(systemctl is-active classroom-agent.service)" = inactive ] || fail "the package started the agent"
  echo "   installed, neither enabled nor started: OK"

  echo "== enable --now, status as root and as a member of [status] group"
  sed -i 's/^\[state\]/[status]\ngroup = "classroom-agent"\n\n[state]/' "$conf"
  systemctl enable --now classroom-agent.service >/tmp/enable.log 2>&1 || { cat /tmp/enable.log; fail "enable --now"; }
  wait_until 30 answers env || { cat /tmp/status.txt; fail "status as root does not answer"; }
  useradd --no-create-home --groups classroom-agent technician
  wait_until 10 answers setpriv --reuid=technician --regid=technician --init-groups ||
    { cat /tmp/status.txt; ls -l /run/classroom-agent; fail "status as a member of [status] group (group classroom-agent)"; }
  echo "   active; status answers root and a member of group classroom-agent: OK"

  echo "== systemctl status: where it delivers, and nothing waiting (its STATUS= line)"
  delivering() { [ "$(prop StatusText)" = "online to tcp://127.0.0.1:1883, 0 batches waiting" ]; }
  wait_until 30 delivering || fail "StatusText is '$(prop StatusText)'"
  # Sampled over 12 s (a sample at the shipped 10 s interval is among them):
  # a batch published and awaiting its receipt is on its way, not waiting.
  for _ in $(seq 24); do delivering || fail "StatusText became '$(prop StatusText)'"; sleep 0.5; done
  echo "   Status: \"$(prop StatusText)\", through a sample: OK"

  echo "== the clock's state (adjtimex, read only, under the unit's system call filter)"
  clock_known() { classroom-agent status --json | grep -Eq '"clock_synchronized": ?(true|false)'; }
  wait_until 30 clock_known || { classroom-agent status --json; fail "clock_synchronized is not true or false"; }
  echo "   $(classroom-agent status | grep -m1 'Clock'): OK"

  echo "== reload: a valid change applies in place; one with mistakes is refused"
  pid=$(prop MainPID)
  sed -i 's/^node  = "room-1"/node  = "room-2"/' "$conf"
  systemctl reload classroom-agent.service || fail "reload of a valid config"
  wait_until 10 sh -c 'journalctl -u classroom-agent -o cat | grep -q "reloaded.*node room-2"' || fail "the reload did not apply (no 'reloaded ... node room-2' in the journal)"
  [ "$(prop MainPID)" = "$pid" ] || fail "a valid reload restarted the agent"
  cp "$conf" /tmp/good.toml
  sed -i 's/^node  = "room-2"/node  = "room\/2"/' "$conf"
  systemctl reload classroom-agent.service 2>/dev/null && fail "reload accepted a config with mistakes"
  active && [ "$(prop MainPID)" = "$pid" ] || fail "a refused reload stopped or restarted the agent"
  journalctl -u classroom-agent -p warning -o cat | grep -q "agent.toml:.*identity.node:" ||
    fail "journalctl -p warning does not say why the reload was refused"
  echo "   valid: applied in the same process; with mistakes: refused, agent carries on, reason at priority err: OK"

  echo "== a config with mistakes: start fails once, no restart loop"
  systemctl stop classroom-agent.service
  systemctl reset-failed classroom-agent.service 2>/dev/null || true
  since=$(date '+%Y-%m-%d %H:%M:%S')
  systemctl start classroom-agent.service 2>/dev/null && fail "start with a config with mistakes succeeded"
  # Three restart periods (RestartSec=5s) without a restart: no loop.
  window=$((3 * 5 + 1))
  if wait_until "$window" sh -c '[ "$(systemctl show -p NRestarts --value classroom-agent)" != 0 ] ||
       [ "$(systemctl is-active classroom-agent)" != failed ]'; then
    fail "restarted after a config error (NRestarts $(prop NRestarts), $(systemctl is-active classroom-agent))"
  fi
  [ "$(prop ExecMainStatus)" = 2 ] || fail "exit status $(prop ExecMainStatus), expected 2 (config error)"
  journalctl -u classroom-agent --since "$since" -p warning -o cat | grep -q "identity.node:" ||
    fail "journalctl -p warning does not say why the start failed"
  echo "   failed with status 2, no restart in $window s, reason at priority err: OK"
  cp /tmp/good.toml "$conf"
  systemctl reset-failed classroom-agent.service 2>/dev/null || true
  systemctl start classroom-agent.service || fail "start with the config repaired"

  echo "== a secret owned by root: refused by sudo check-config too, with the chown that fixes it"
  secret=/etc/classroom-agent/broker-password
  echo "s3cret" >"$secret"
  chmod 600 "$secret"
  sed "/^servers/a password_file = \"$secret\"" /tmp/good.toml >/tmp/secret.toml
  chmod 644 /tmp/secret.toml
  as_agent() { setpriv --reuid=classroom-agent --regid=classroom-agent --clear-groups "$@"; }
  classroom-agent check-config -c /tmp/secret.toml >/tmp/check.log 2>&1 && fail "sudo check-config accepted a root-owned secret"
  grep -q "chown classroom-agent: $secret" /tmp/check.log || { cat /tmp/check.log; fail "sudo check-config: no chown advice"; }
  as_agent classroom-agent check-config -c /tmp/secret.toml >/tmp/check.log 2>&1 && fail "the agent's user read a root-owned secret"
  grep -q "chown classroom-agent: $secret && chmod 600 $secret" /tmp/check.log ||
    { cat /tmp/check.log; fail "check-config as the agent's user: no chown advice"; }
  chown classroom-agent: "$secret"
  classroom-agent check-config -c /tmp/secret.toml >/tmp/check.log 2>&1 || { cat /tmp/check.log; fail "sudo check-config after chown"; }
  as_agent classroom-agent check-config -c /tmp/secret.toml >/tmp/check.log 2>&1 ||
    { cat /tmp/check.log; fail "check-config as the agent's user after chown"; }
  rm "$secret"
  echo "   refused as root and as the agent's user, naming chown; accepted once chowned: OK"

  echo "== the watchdog: a stalled loop is killed and restarted"
  mkdir -p /run/systemd/system/classroom-agent.service.d
  # `run --diagnostic-stall-loop-ms` (hidden from --help) blocks the loop's first turn.
  exec_start=$(systemctl show -p ExecStart --value classroom-agent | sed -n 's/.*argv\[\]=\([^;]*\) ;.*/\1/p')
  [ -n "$exec_start" ] || fail "cannot read the unit's ExecStart"
  printf '[Service]\nWatchdogSec=2s\nExecStart=\nExecStart=%s --diagnostic-stall-loop-ms 20000\n' "$exec_start" \
    >/run/systemd/system/classroom-agent.service.d/stall.conf
  systemctl daemon-reload
  systemctl restart classroom-agent.service
  pid=$(prop MainPID)
  wait_until 30 sh -c '[ "$(systemctl show -p NRestarts --value classroom-agent)" -ge 1 ]' ||
    fail "the stalled agent was not restarted (NRestarts $(prop NRestarts))"
  journalctl -u classroom-agent -o cat | grep -q "Watchdog timeout" || fail "no watchdog timeout in the journal"
  rm -r /run/systemd/system/classroom-agent.service.d
  systemctl daemon-reload
  systemctl restart classroom-agent.service
  echo "   killed by the watchdog and restarted: OK"

  echo "== reinstall: a running agent is restarted with the new binary"
  wait_until 30 answers env || fail "the agent does not answer before the reinstall"
  pid=$(prop MainPID)
  apt_q install -y --reinstall "$deb"
  wait_until 30 pid_changed_from "$pid" || fail "the reinstall left the old agent (pid $pid) running"
  wait_until 30 answers env || fail "the restarted agent does not answer"
  echo "   restarted (pid $pid -> $(prop MainPID)) and answering: OK"

  echo "== purge: nothing left"
  uid=$(id -u classroom-agent) gid=$(getent group classroom-agent | cut -d: -f3)
  userdel technician
  [ -d /var/log/classroom-agent ] || fail "no /var/log/classroom-agent to test the purge with"
  apt_q purge -y classroom-agent
  active && fail "the agent runs after the purge"
  left=$(find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /pkg -o -path /run/systemd \
    -o -path /var/log/journal \) -prune -o \( -name '*classroom-agent*' -o -uid "$uid" -o -gid "$gid" \) -print)
  [ -z "$left" ] || fail "purge left: $left"
  [ ! -e /run/classroom-agent ] || fail "purge left /run/classroom-agent"
  echo "   no file named classroom-agent*, none owned by its user or group: OK"
  exit 0
fi

# ---- on the host --------------------------------------------------------------
[ "$(id -u)" -eq 0 ] || { echo "needs root (systemd-nspawn)" >&2; exit 2; }
for tool in systemd-nspawn mmdebstrap; do
  command -v "$tool" >/dev/null || { echo "no $tool: tests/tools/install-deps.sh --cross" >&2; exit 2; }
done
dist=$(cd "${1:-$root_dir/dist}" && pwd)
native_deb=$(ls "$dist"/classroom-agent_*_"$(dpkg --print-architecture)".deb 2>/dev/null | head -n 1)
[ -n "$native_deb" ] || { echo "no native package in $dist: run cross/build.sh $(dpkg --print-architecture)" >&2; exit 2; }

# The root: systemd as init, a broker, and the package's dependencies, so that
# `apt-get install ./classroom-agent_*.deb` needs no network in the container.
deps=$(dpkg-deb -f "$native_deb" Depends Recommends | sed 's/^[A-Za-z]*: //' | tr ',|' '\n\n' |
  sed 's/(.*//; s/ //g' | grep -v '^$' | sort -u | paste -sd, -)
include=systemd,systemd-sysv,dbus,mosquitto,$deps
. "$root_dir/cross/apt-source.sh"
cache=${CLASSROOM_CROSS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/classroom-agent}
tarball=$cache/nspawn-$suite-$(echo "$mirror $include" | md5sum | cut -c1-12).tar
mkdir -p "$cache"
if [ ! -s "$tarball" ]; then
  echo "== building a $suite root with systemd (cached in $tarball)"
  mmdebstrap --variant=minbase --include="$include" --format=tar "$suite" "$tarball.part" "$mirror" \
    >"$cache/mmdebstrap.log" 2>&1 && mv "$tarball.part" "$tarball" ||
    { rm -f "$tarball.part"; tail -n 20 "$cache/mmdebstrap.log" >&2; echo "mmdebstrap failed" >&2; exit 2; }
fi

work=$(mktemp -d /tmp/classroom-nspawn-XXXXXX)
fresh=$work/root
machine=classroom-pkgtest-$$
cleanup() {
  [ -z "${nspawn_pid:-}" ] || kill "$nspawn_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$fresh"
tar -xf "$tarball" -C "$fresh"
mkdir -p "$fresh/pkg"
cp "$native_deb" "$fresh/pkg/"
cp "$0" "$fresh/pkg/check-nspawn.sh"
# The test runs as a service once the system is up, then powers the container off.
cat >"$fresh/etc/systemd/system/classroom-pkgtest.service" <<'EOF'
[Unit]
Description=classroom-agent package test
After=multi-user.target mosquitto.service
[Service]
Type=oneshot
ExecStart=/bin/sh -c 'bash /pkg/check-nspawn.sh --inside >/pkg/result.log 2>&1; echo $? >/pkg/rc'
ExecStopPost=/bin/systemctl --no-block poweroff
[Install]
WantedBy=multi-user.target
EOF
ln -s ../classroom-pkgtest.service "$fresh/etc/systemd/system/multi-user.target.wants/"
echo "== $(basename "$native_deb") under systemd in a booted $suite container (systemd-nspawn -b)"
# nspawn's own filter refuses @clock to a container without CAP_SYS_TIME; allow
# the read-only call the agent makes, so that the unit's filter is what is tested.
timeout 900 systemd-nspawn --quiet --boot --private-network --register=no --keep-unit --machine="$machine" \
  --system-call-filter='adjtimex clock_adjtime' --directory="$fresh" >"$work/console.log" 2>&1 </dev/null &
nspawn_pid=$!
wait "$nspawn_pid" || true
nspawn_pid=
if [ ! -s "$fresh/pkg/rc" ]; then
  echo "FAIL: the test in the container did not finish; the container's console:"
  tail -n 40 "$work/console.log"
  [ ! -f "$fresh/pkg/result.log" ] || cat "$fresh/pkg/result.log"
  exit 1
fi
cat "$fresh/pkg/result.log"
rc=$(cat "$fresh/pkg/rc")
[ "$rc" = 0 ] || { echo "FAIL: the test in the container exited $rc"; exit 1; }
echo "systemd package checks passed"
