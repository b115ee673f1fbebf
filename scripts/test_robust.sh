#!/usr/bin/env bash
# The robustness passes scripts/test.sh runs after the release and ASan
# builds (issue 12); each leaves a meson test log that count_tests.py counts:
#   fuzz      build-fuzz (clang, libFuzzer + ASan + UBSan): every target of
#             tests/fuzz for SLUICE_FUZZ_SECONDS of wall time (CI: 8 s; by
#             hand: 60 s or more), two at a time; a crash fails it and keeps
#             the input in tests/fuzz/regress
#   tsan      build-tsan (ThreadSanitizer), only what it runs: the unit tests
#             that run threads (rings, shards, the control thread, groups,
#             stats), and integration tests (the Python clients, bad input,
#             the limits, librdkafka's C client with the release build's
#             program, since TSan and the programs that load librdkafka do
#             not mix, and the soak) - the shard threads, the control thread
#             and their rings under real client traffic
#   valgrind  the storage unit tests of the release build under memcheck
#             (not test_crash: its SIGKILLed children cost a minute there
#             and the recovery they check is test_recover's too)
# CI's budget for all three is a few minutes (issue 12); each pass prints
# its wall time ("test_robust: PASS took N s").
# Usage: scripts/test_robust.sh [fuzz] [tsan] [valgrind]   (default: all)
# Prints the test log paths to count, one per line, on fd 3.
set -uo pipefail
cd "$(dirname "$0")/.."
passes=${*:-fuzz tsan valgrind}
status=0

setup() { # dir, meson options...
  local dir=$1; shift
  [ -f "$dir/build.ninja" ] || meson setup "$dir" "$@" >/dev/null || return 1
  # An existing dir is regenerated if a meson.build changed, so that the
  # introspection below lists targets added since (a new fuzz target).
  ninja -C "$dir" build.ninja >/dev/null || return 1
}

export SLUICE_FUZZ_SECONDS=${SLUICE_FUZZ_SECONDS:-8}
tsan_units="ring shard control groups stats duty_cycle"
tsan_integration="integration-python-clients integration-bad-input integration-limits
  integration-librdkafka integration-soak"

for pass in $passes; do
  started=$SECONDS
  case $pass in
  fuzz)
    CC=clang setup build-fuzz -Dfuzz=true -Dbuildtype=debugoptimized || { status=1; continue; }
    # Only the fuzz binaries: the rest of the tree is built and tested elsewhere.
    targets=$(meson introspect build-fuzz --targets |
      python3 -c 'import json,sys; print(" ".join(f for t in json.load(sys.stdin)
        if t["name"].startswith("fuzz_") and t["type"] == "executable"
        for f in t["filename"]))' | sed "s|$PWD/build-fuzz/||g")
    ninja -C build-fuzz $targets >/dev/null || { ninja -C build-fuzz $targets; status=1; continue; }
    meson test -C build-fuzz --no-rebuild --suite fuzz --num-processes 2 --print-errorlogs ||
      status=1
    echo build-fuzz/meson-logs/testlog.json >&3
    ;;
  tsan)
    setup build-tsan -Db_sanitize=thread -Dbuildtype=debugoptimized || { status=1; continue; }
    targets="sluiced $(for t in $tsan_units; do printf 'tests/unit/test_%s ' "$t"; done)"
    ninja -C build-tsan $targets >/dev/null || { ninja -C build-tsan $targets; status=1; continue; }
    export TSAN_OPTIONS="suppressions=$PWD/tests/tsan.supp halt_on_error=0 exitcode=66"
    meson test -C build-tsan --no-rebuild --num-processes 2 --print-errorlogs $tsan_units ||
      status=1
    # The client programs from the release build (see tests/integration/run_client.py).
    SLUICE_CLIENT_DIR=$PWD/build/tests/integration \
      meson test -C build-tsan --no-rebuild --logbase testlog-integration --num-processes 1 \
      --print-errorlogs $tsan_integration || status=1
    unset TSAN_OPTIONS
    echo build-tsan/meson-logs/testlog.json >&3
    echo build-tsan/meson-logs/testlog-integration.json >&3
    ;;
  valgrind)
    # meson names the log after the wrapper too: testlog-memcheck-valgrind.json
    rm -f build/meson-logs/testlog-memcheck-valgrind.json
    meson test -C build --no-rebuild --logbase testlog-memcheck --num-processes 2 \
      --print-errorlogs \
      --wrapper "valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite --quiet" \
      batch log recover faults crashsim cleaner \
      fuzz-replay-segment fuzz-replay-index fuzz-replay-batch fuzz-replay-checkpoint ||
      status=1
    echo build/meson-logs/testlog-memcheck-valgrind.json >&3
    ;;
  *) echo "test_robust: unknown pass $pass" >&2; status=1; continue ;;
  esac
  echo "test_robust: $pass took $((SECONDS - started)) s" >&2
done
exit $status
