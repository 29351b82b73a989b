#!/usr/bin/env bash
# Builds the agent for one architecture and its Debian package:
#   cross/build.sh amd64|arm64|armhf [extra cmake targets...]
# -> build-ARCH/ (the build tree) and dist/classroom-agent_VERSION_ARCH.deb.
# amd64 is the native build (the host's -dev packages: tests/tools/install-deps.sh);
# arm64 and armhf use Debian's cross compilers and a sysroot (cross/sysroot.sh).
# Extra targets (e.g. unit_tests) are built in the same tree; cross/test.sh uses it.
# Environment: JOBS (default 2), CLASSROOM_SIZE_FLAGS (see "Size flags" in
# cross/README.md: the default is what the measurements there chose).
set -euo pipefail
arch=${1:?usage: cross/build.sh amd64|arm64|armhf [targets...]}
shift
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=${JOBS:-2}

cmake_args=()
case "$arch" in
  amd64)
    [ "$(dpkg --print-architecture)" = amd64 ] || { echo "amd64 is built natively on an amd64 machine" >&2; exit 2; } ;;
  arm64 | armhf)
    toolchain=$root/cross/toolchain-$([ "$arch" = arm64 ] && echo aarch64 || echo armhf).cmake
    sysroot=$("$root/cross/sysroot.sh" "$arch")
    cmake_args+=(-DCMAKE_TOOLCHAIN_FILE="$toolchain" -DCLASSROOM_SYSROOT="$sysroot") ;;
  *) echo "unknown architecture: $arch (amd64, arm64 or armhf)" >&2; exit 2 ;;
esac

# Size flags, chosen by measurement (cross/README.md, "Size"): -Os (a third
# smaller than -O2, no slower where it was measured), each function and object
# in its own section so that the linker drops what nothing uses, and only the
# shared libraries the binary really calls.
size_flags=${CLASSROOM_SIZE_FLAGS:--Os -ffunction-sections -fdata-sections}
link_flags=${CLASSROOM_LINK_FLAGS:--Wl,--gc-sections -Wl,--as-needed}

build=$root/build-$arch
mkdir -p "$build"
cmake -S "$root" -B "$build" "${cmake_args[@]}" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="$size_flags -DNDEBUG" \
  -DCMAKE_EXE_LINKER_FLAGS="$link_flags" \
  -DCMAKE_INSTALL_PREFIX=/usr -DCLASSROOM_WERROR=ON \
  -DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON >"$build/configure.log" 2>&1 ||
  { cat "$build/configure.log" >&2; exit 1; }
cmake --build "$build" -j"$jobs" --target classroom-agent "$@"

# The package: cpack strips the binary and runs dpkg-shlibdeps (for ARM against
# the sysroot's dpkg database: packaging/deb.cmake).
(cd "$build" && cpack -G DEB >"$build/cpack.log" 2>&1) || { cat "$build/cpack.log" >&2; exit 1; }
version=$(sed -n 's/^project(classroom-agent VERSION \([0-9.]*\).*/\1/p' "$root/CMakeLists.txt")
deb=classroom-agent_${version}_$arch.deb
mkdir -p "$root/dist"
cp "$build/$deb" "$root/dist/$deb"
echo "$root/dist/$deb"
