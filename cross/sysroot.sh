#!/usr/bin/env bash
# Builds (once, then reuses) a target sysroot holding the agent's build
# dependencies for ARCH from Debian's own packages, and prints its path.
#   cross/sysroot.sh arm64|armhf
# The suite and the mirror are this machine's (its apt sources), so the target
# libraries are the same versions as the host's: protoc from the host matches
# the target's libprotobuf. mmdebstrap's "extract" variant unpacks the packages
# without running any of their scripts, so no emulation is needed to build it.
#
# dpkg-shlibdeps finds the Debian package of each library through dpkg's
# database. An extracted root has none, so this script writes a small one in
# SYSROOT/.dpkg (status, file lists with the sysroot's absolute paths, symbols
# and shlibs files) for cross/build.sh to pass as --admindir.
#
# Cache: ${CLASSROOM_CROSS_CACHE:-~/.cache/classroom-agent}/sysroot-ARCH, rebuilt
# when the suite, mirror or package list changes.
set -euo pipefail
arch=${1:?usage: cross/sysroot.sh arm64|armhf}
case "$arch" in
  arm64) triplet=aarch64-linux-gnu ;;
  armhf) triplet=arm-linux-gnueabihf ;;
  *) echo "unknown architecture: $arch (arm64 or armhf)" >&2; exit 2 ;;
esac

# The suite and mirror this machine's apt sources name (deb822 or one-line form).
. "$(cd "$(dirname "$0")" && pwd)/apt-source.sh"
[ -n "$mirror" ] && [ -n "$suite" ] || { echo "no Debian mirror in this machine's apt sources" >&2; exit 2; }

# The C++ runtime's headers matching the cross compiler (libstdc++-12-dev on bookworm).
gcc_major=$("$triplet-g++" -dumpversion | cut -d. -f1)
# The target side of tests/tools/install-deps.sh's build packages: the -dev
# packages the agent links or includes, and the C/C++ runtime. libcurl's headers
# only: the agent loads libcurl.so.4 with dlopen, and its package gives the
# Recommends of the .deb (cross/build.sh).
packages=(
  libc6-dev "libstdc++-$gcc_major-dev"
  libpaho-mqttpp-dev libpaho-mqtt-dev libssl-dev
  libprotobuf-dev
  libcurl4-openssl-dev
  libc-ares-dev
  libtomlplusplus-dev libcli11-dev
  libsnmp-dev
  catch2
)
cache=${CLASSROOM_CROSS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/classroom-agent}
root="$cache/sysroot-$arch"
key="$suite $mirror ${packages[*]}"
if [ -f "$root/.classroom-sysroot" ] && [ "$(cat "$root/.classroom-sysroot")" = "$key" ]; then
  echo "$root"; exit 0
fi

mkdir -p "$cache"
rm -rf "$root" "$root.part"
echo "building the $arch sysroot ($suite) in $root" >&2
# The hook (after extraction) saves each package's control files and file list before mmdebstrap
# cleans its cache (they become the .dpkg database below).
mmdebstrap --variant=extract --skip=essential/unlink --architectures="$arch" --include="$(IFS=,; echo "${packages[*]}")" \
  --extract-hook='mkdir -p "$1/.debs"; for f in "$1"/var/cache/apt/archives/*.deb; do
      n=$(basename "$f" .deb); mkdir -p "$1/.debs/$n"; dpkg-deb -e "$f" "$1/.debs/$n/DEBIAN";
      dpkg-deb -f "$f" > "$1/.debs/$n/control"; dpkg-deb --fsys-tarfile "$f" | tar -t > "$1/.debs/$n/files"; done' \
  "$suite" "$root.part" "$mirror" >&2
mv "$root.part" "$root"

# A dpkg database for dpkg-shlibdeps --admindir: the file lists name the
# sysroot's absolute paths, which is what dpkg-shlibdeps searches for.
db="$root/.dpkg"
mkdir -p "$db/info" "$db/updates"
: >"$db/status"
printf '%s\n' "$arch" >"$db/arch"
echo 1 >"$db/info/format"   # multiarch names: info/PKG:ARCH.list for Multi-Arch: same
for d in "$root"/.debs/*/; do
  pkg=$(awk -F': ' '$1 == "Package" {print $2}' "$d/control")
  ma=$(awk -F': ' '$1 == "Multi-Arch" {print $2}' "$d/control")
  name=$pkg
  [ "$ma" = same ] && name="$pkg:$arch"
  { grep -v '^Status:' "$d/control"; echo "Status: install ok installed"; echo; } >>"$db/status"
  sed -e 's|^\./|/|' -e 's|/$||' "$d/files" | grep -v '^$' | sed "s|^|$root|" >"$db/info/$name.list"
  for c in shlibs symbols; do
    [ -f "$d/DEBIAN/$c" ] && cp "$d/DEBIAN/$c" "$db/info/$name.$c"
  done
done
rm -rf "$root/.debs"
printf '%s' "$key" >"$root/.classroom-sysroot"
echo "$root"
