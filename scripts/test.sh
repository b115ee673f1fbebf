#!/usr/bin/env bash
# Runs every test: installs what is missing, builds (release and an
# ASan+UBSan build), runs the meson test suites of both, then the fuzzing,
# ThreadSanitizer and valgrind passes (scripts/test_robust.sh), and ends with
# one line "N passed, N failed" counting every test case that ran.
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh || exit 1

build() { # dir, extra meson options...
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$@" >/dev/null || return 1
  fi
  meson compile -C "$dir" >/dev/null || { meson compile -C "$dir"; return 1; }
}

build build || exit 1
build build-asan -Dsanitize=true -Dbuildtype=debug || exit 1

status=0
meson test -C build --print-errorlogs --num-processes 1 "$@" || status=1
# The sanitizer build runs everything too: the broker under ASan+UBSan with
# real clients is what catches memory errors on the connection paths. The
# benchmarks and the JVM/Go compatibility suite run once, on release.
ASAN_OPTIONS=detect_leaks=1 meson test -C build-asan --no-suite bench --no-suite compat --print-errorlogs \
  --num-processes 1 "$@" || status=1

# Fuzzing, ThreadSanitizer and valgrind passes (scripts/test_robust.sh);
# it names the test logs it wrote on fd 3.
robust_logs=$(bash scripts/test_robust.sh 3>&1 1>&2) || status=1

python3 scripts/count_tests.py build/meson-logs/testlog.json \
  build-asan/meson-logs/testlog.json $robust_logs || status=1
exit $status
