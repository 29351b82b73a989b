#!/usr/bin/env bash
# Every check a change must pass, in the order a reviewer would ask:
#   1. the code is formatted (clang-format, .clang-format at the root)
#   2. it builds without a warning (-Wall -Wextra -Werror)
#   3. the unit tests pass under AddressSanitizer and UndefinedBehaviorSanitizer
#   4. parsers of outside input survive arbitrary bytes (libFuzzer, 15 s each)
#   5. the whole suite passes: unit tests and integration tests against a real
#      Mosquitto (ctest, build/)
# Installs what is missing first (tests/tools/install-deps.sh, sudo if needed).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=$(nproc)
tests/tools/install-deps.sh

echo "== 1/5 clang-format"
mapfile -t sources < <(git ls-files '*.cpp' '*.hpp')
clang-format --dry-run --Werror "${sources[@]}"
echo "formatted: ${#sources[@]} files"
# ctest splits a test name at ';' and the pieces select no test: refuse them,
# also in a name clang-format wrapped over several string literals. Catch 2
# indents a failed test's wrapped name past its first ": "; past column 60
# that leaves no room on a line and its reporter writes dashes for ever
# (gigabytes a second): refuse those too.
mapfile -t test_sources < <(git ls-files 'tests/*.cpp')
if perl -0ne 'while (/TEST_CASE\(\s*((?:"[^"]*"\s*)+)/g) {
                my $n = $1; $n =~ s/"\s*"//g; $n =~ s/^"|"\s*$//g;
                my $colon = index($n, ": ");
                next unless $n =~ /;/ or $colon >= 60;
                print "$ARGV: $n\n"; $bad = 1 }
              END { exit !$bad }' "${test_sources[@]}"; then
  echo "a TEST_CASE name above holds ';' (ctest would run nothing for it)" \
    "or a ': ' past column 60 (Catch would print it for ever on a failure)" >&2
  exit 1
fi

echo "== 2/5 build, warnings are errors (build/)"
cmake -S . -B build -DCLASSROOM_WERROR=ON >/dev/null
cmake --build build -j"$jobs"

echo "== 3/5 unit tests under ASan/UBSan (build-asan/)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCLASSROOM_SANITIZE=ON -DCLASSROOM_WERROR=ON >/dev/null
cmake --build build-asan -j"$jobs" --target unit_tests
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 build-asan/tests/unit_tests

echo "== 4/5 fuzzing (build-fuzz/)"
tests/fuzz/run.sh 15

echo "== 5/5 all tests (ctest)"
ctest --test-dir build --output-on-failure -j"$jobs"

# Opt-in, not in CI by default (about 8 minutes per ARM target on 2 cores;
# cross/README.md): CLASSROOM_CROSS="arm64 armhf" also builds those targets,
# runs their unit tests and the agent under qemu-user, and checks the packages:
# in a fresh root, and the native one under a booted systemd (systemd-nspawn).
# CLASSROOM_CROSS=" " (a blank) runs only the package checks.
if [ -n "${CLASSROOM_CROSS:-}" ]; then
  tests/tools/install-deps.sh --cross
  for arch in $CLASSROOM_CROSS; do
    echo "== cross: $arch"
    cross/test.sh "$arch"
  done
  cross/build.sh "$(dpkg --print-architecture)" >/dev/null
  tests/package/check-deb.sh
  tests/package/check-nspawn.sh
fi
