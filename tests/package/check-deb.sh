#!/usr/bin/env bash
# The Debian packages, checked as IT staff would meet them.
#   tests/package/check-deb.sh [DIST]        (as root; DIST defaults to dist/)
# The native package (dist/classroom-agent_*_<this arch>.deb) is installed with
# `apt-get install ./classroom-agent_*.deb` into a fresh minimal Debian root
# (mmdebstrap minbase of this machine's suite and mirror, cached as a tarball;
# never this machine), where the script checks: files, modes and owners; the
# system user and its state directory; that nothing is enabled or started;
# `classroom-agent check-config` on the shipped config (as the agent's user);
# `systemd-analyze verify` on the installed unit; that an edited conffile
# survives two upgrades (same shipped conffile, then a changed one); that
# remove keeps config and state; that purge leaves nothing behind.
# Every other package in DIST (arm64, armhf) is checked with dpkg-deb: its
# contents and modes are the native package's, its binary is for its
# architecture, and its Depends name the same packages as the native one's.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root_dir=$(cd "$here/../.." && pwd)

if [ "${1:-}" = --inside ]; then
  # ---- inside the fresh root: /pkg holds the .deb --------------------------
  deb=$(ls /pkg/classroom-agent_*.deb)
  fail() { echo "FAIL: $*" >&2; exit 1; }
  export DEBIAN_FRONTEND=noninteractive
  apt_q() { apt-get -o Dpkg::Use-Pty=0 -qq "$@" >/tmp/apt.log 2>&1 || { cat /tmp/apt.log; fail "apt-get $*"; }; }
  apt_q update
  [ ! -e /usr/bin/systemd-sysusers ] || fail "the fresh root already has systemd"
  echo "== apt-get install $deb (no systemd on the machine: useradd path)"
  apt_q install -y "$deb"
  version=$(dpkg-query -W -f='${Version}' classroom-agent)
  echo "   installed classroom-agent $version"

  mode_of() { stat -c '%a %U:%G' "$1"; }
  expect_mode() {  # PATH "MODE USER:GROUP"
    [ -e "$1" ] || fail "$1 missing"
    [ "$(mode_of "$1")" = "$2" ] || fail "$1 is $(mode_of "$1"), expected $2"
  }
  expect_mode /usr/bin/classroom-agent "755 root:root"
  expect_mode /etc/classroom-agent "755 root:root"
  expect_mode /etc/classroom-agent/agent.toml "644 root:root"
  expect_mode /usr/lib/systemd/system/classroom-agent.service "644 root:root"
  expect_mode /usr/lib/sysusers.d/classroom-agent.conf "644 root:root"
  expect_mode /usr/lib/tmpfiles.d/classroom-agent.conf "644 root:root"
  for d in README.md configuration.md metrics.md systemd.md copyright; do
    expect_mode "/usr/share/doc/classroom-agent/$d" "644 root:root"
  done
  expect_mode /var/lib/classroom-agent "750 classroom-agent:classroom-agent"
  dpkg-query -W -f='${Conffiles}\n' classroom-agent | grep -q '^ /etc/classroom-agent/agent.toml ' ||
    fail "agent.toml is not a conffile"
  IFS=: read -r _ _ uid gid _ home shell < <(getent passwd classroom-agent) || fail "no classroom-agent user"
  [ "$uid" -lt 1000 ] && [ "$home" = /var/lib/classroom-agent ] && [ "$shell" = /usr/sbin/nologin ] ||
    fail "classroom-agent user: uid $uid, home $home, shell $shell"
  echo "   files, modes, owners, conffile and the system user (uid $uid): OK"
  # Nothing enabled or started by the package.
  [ -z "$(find /etc/systemd -name 'classroom-agent*' 2>/dev/null)" ] || fail "the package enabled its unit"
  classroom-agent version | grep -qF "${version%%+*}" || fail "classroom-agent version does not say $version"
  setpriv --reuid=classroom-agent --regid=classroom-agent --clear-groups \
    classroom-agent check-config -c /etc/classroom-agent/agent.toml >/tmp/check.log 2>&1 ||
    { cat /tmp/check.log; fail "check-config rejects the shipped config (as the agent's user)"; }
  echo "   nothing enabled (no process either: checked from outside at the end); check-config accepts the shipped config as classroom-agent: OK"

  echo "== systemd-analyze verify (systemd installed now)"
  apt_q install -y --no-install-recommends systemd
  systemd-analyze verify /usr/lib/systemd/system/classroom-agent.service || fail "systemd-analyze verify"
  echo "   OK"

  echo "== an edited conffile survives upgrades"
  sed -i 's/^node  = "room-1"/node  = "room-42"/' /etc/classroom-agent/agent.toml
  grep -q '"room-42"' /etc/classroom-agent/agent.toml || fail "could not edit agent.toml"
  echo "spool data" >/var/lib/classroom-agent/state-kept
  # Newer packages made from this one: the same shipped conffile, then a changed one.
  repack() {  # repack NEW_VERSION CHANGE_CONFFILE -> path of the new .deb
    local t=/tmp/repack-$1
    rm -rf "$t"; dpkg-deb -R "$deb" "$t"
    sed -i "s/^Version: .*/Version: $1/" "$t/DEBIAN/control"
    if [ "$2" = yes ]; then
      echo "# a comment added by version $1" >>"$t/etc/classroom-agent/agent.toml"
      (cd "$t" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | xargs -0 md5sum >DEBIAN/md5sums)
    fi
    dpkg-deb --root-owner-group -b "$t" "/tmp/classroom-agent_$1.deb" >/dev/null
    echo "/tmp/classroom-agent_$1.deb"
  }
  v2=$(repack "$version+up1" no)
  apt_q install -y "$v2"
  [ "$(dpkg-query -W -f='${Version}' classroom-agent)" = "$version+up1" ] || fail "upgrade to $version+up1"
  grep -q '"room-42"' /etc/classroom-agent/agent.toml || fail "the upgrade lost the edit"
  v3=$(repack "$version+up2" yes)
  apt_q install -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$v3"
  [ "$(dpkg-query -W -f='${Version}' classroom-agent)" = "$version+up2" ] || fail "upgrade to $version+up2"
  grep -q '"room-42"' /etc/classroom-agent/agent.toml || fail "the upgrade with a new conffile lost the edit"
  grep -q "added by version $version+up2" /etc/classroom-agent/agent.toml.dpkg-dist ||
    fail "the new shipped conffile is not beside the edited one as agent.toml.dpkg-dist"
  classroom-agent check-config -c /etc/classroom-agent/agent.toml >/dev/null || fail "edited config after upgrade"
  echo "   edit kept across $version -> $version+up1 -> $version+up2 (new default in agent.toml.dpkg-dist): OK"

  echo "== remove keeps config and state; purge leaves nothing"
  echo "secret" >/etc/classroom-agent/site.secret
  systemctl enable classroom-agent.service >/dev/null 2>&1 || fail "systemctl enable"
  [ -n "$(find /etc/systemd/system -name classroom-agent.service)" ] || fail "systemctl enable made no link"
  apt_q remove -y classroom-agent
  [ ! -e /usr/bin/classroom-agent ] || fail "remove left the binary"
  grep -q '"room-42"' /etc/classroom-agent/agent.toml || fail "remove lost the config"
  [ -f /etc/classroom-agent/site.secret ] && [ -f /var/lib/classroom-agent/state-kept ] || fail "remove lost config or state"
  echo "   remove: binary gone, /etc/classroom-agent and /var/lib/classroom-agent kept: OK"
  apt_q purge -y classroom-agent
  dpkg-query -W classroom-agent >/dev/null 2>&1 && fail "dpkg still knows classroom-agent after purge"
  rm -rf /tmp/repack-* /tmp/classroom-agent_*.deb
  left=$(find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /pkg \) -prune -o \
    \( -name '*classroom-agent*' -o -uid "$uid" -o -gid "$gid" \) -print)
  [ -z "$left" ] || fail "purge left: $left"
  echo "   purge: no file named classroom-agent*, none owned by its user or group: OK"
  echo "   (the system user stays, as for every Debian system user)"

  echo "== a first install where systemd-sysusers and systemd-tmpfiles exist"
  userdel classroom-agent
  getent group classroom-agent >/dev/null && groupdel classroom-agent
  apt_q install -y "$deb"
  IFS=: read -r _ _ uid2 _ _ home2 shell2 < <(getent passwd classroom-agent) || fail "systemd-sysusers made no user"
  [ "$uid2" -lt 1000 ] && [ "$home2" = /var/lib/classroom-agent ] && [ "$shell2" = /usr/sbin/nologin ] ||
    fail "classroom-agent user from sysusers: uid $uid2, home $home2, shell $shell2"
  expect_mode /var/lib/classroom-agent "750 classroom-agent:classroom-agent"
  apt_q purge -y classroom-agent
  [ ! -e /var/lib/classroom-agent ] && [ ! -e /etc/classroom-agent ] || fail "second purge left a directory"
  echo "   user (uid $uid2) and state directory from the package's sysusers.d and tmpfiles.d snippets: OK"
  exit 0
fi

# ---- on the host --------------------------------------------------------------
[ "$(id -u)" -eq 0 ] || { echo "needs root (chroot)" >&2; exit 2; }
dist=$(cd "${1:-$root_dir/dist}" && pwd)
native=$(dpkg --print-architecture)
native_deb=$(ls "$dist"/classroom-agent_*_"$native".deb 2>/dev/null | head -n 1)
[ -n "$native_deb" ] || { echo "no $native package in $dist: run cross/build.sh $native" >&2; exit 2; }

# The files a package holds: "MODE OWNER PATH" lines (dpkg-deb -c).
contents() { dpkg-deb -c "$1" | awk '{print $1, $2, $6}' | sort; }
for deb in "$dist"/classroom-agent_*.deb; do
  [ "$deb" = "$native_deb" ] && continue
  arch=$(dpkg-deb -f "$deb" Architecture)
  echo "== $(basename "$deb") (dpkg-deb)"
  diff <(contents "$native_deb") <(contents "$deb") || { echo "FAIL: contents differ from $(basename "$native_deb")"; exit 1; }
  tmp=$(mktemp -d /tmp/classroom-deb-XXXXXX)
  dpkg-deb -x "$deb" "$tmp"
  elf=$(file -b "$tmp/usr/bin/classroom-agent"); rm -rf "$tmp"
  case "$arch" in
    arm64) want='ARM aarch64' ;;
    armhf) want='ARM, EABI5' ;;
    *) want=$arch ;;
  esac
  grep -q "$want" <<<"$elf" && grep -q 'stripped' <<<"$elf" && ! grep -q 'not stripped' <<<"$elf" ||
    { echo "FAIL: the binary is not a stripped $arch one: $elf"; exit 1; }
  names() { dpkg-deb -f "$1" Depends | tr ',' '\n' | sed 's/(.*//; s/ //g' | sort; }
  diff <(names "$native_deb") <(names "$deb") || { echo "FAIL: Depends differ from the $native package's"; exit 1; }
  echo "   contents and modes as the $native package; $elf"
  echo "   Depends: $(dpkg-deb -f "$deb" Depends)"
  echo "   Recommends: $(dpkg-deb -f "$deb" Recommends)"
done

# The fresh root: minbase of this machine's suite and mirror, cached.
. "$root_dir/cross/apt-source.sh"
cache=${CLASSROOM_CROSS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/classroom-agent}
tarball=$cache/package-test-$suite.tar
mkdir -p "$cache"
if [ ! -s "$tarball" ]; then
  echo "== building a fresh $suite root (cached in $tarball)"
  mmdebstrap --variant=minbase --format=tar "$suite" "$tarball.part" "$mirror" >/dev/null 2>&1 && mv "$tarball.part" "$tarball" ||
    { rm -f "$tarball.part"; echo "mmdebstrap failed" >&2; exit 2; }
fi
work=$(mktemp -d /tmp/classroom-pkgtest-XXXXXX)
fresh=$work/root
cleanup() {
  for p in /proc/[0-9]*; do [ "$(readlink "$p/root" 2>/dev/null)" = "$fresh" ] && kill -9 "${p#/proc/}" 2>/dev/null; done
  umount "$fresh/dev/pts" "$fresh/dev" "$fresh/proc" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$fresh"
tar -xf "$tarball" -C "$fresh"
mount -t proc proc "$fresh/proc"
mount --bind /dev "$fresh/dev"
mount --bind /dev/pts "$fresh/dev/pts"
cp /etc/resolv.conf "$fresh/etc/"
mkdir -p "$fresh/pkg"
cp "$native_deb" "$fresh/pkg/"
cp "$0" "$fresh/pkg/check-deb.sh"
echo "== $(basename "$native_deb") in a fresh $suite root"
chroot "$fresh" bash /pkg/check-deb.sh --inside
# Nothing the package did started the agent: a daemon started by a maintainer
# script would still run in the fresh root (the binary deleted by the purge).
for p in /proc/[0-9]*; do
  if [ "$(readlink "$p/root" 2>/dev/null)" = "$fresh" ] && [ "$(cat "$p/comm" 2>/dev/null)" = classroom-agent ]; then
    echo "FAIL: an agent process (pid ${p#/proc/}) runs in the fresh root: a maintainer script started it"; exit 1
  fi
done
echo "   no agent process was left running in the fresh root: OK"
echo "package checks passed"
