#!/usr/bin/env bash
# run_fuzz.sh - one bounded libFuzzer run as a meson test (suite "fuzz").
#   run_fuzz.sh NAME BINARY SECONDS SOURCE_DIR
# Fuzzes a copy of the target's seeds (tests/fuzz/corpus/NAME, its kept
# crashes tests/fuzz/regress/NAME, and for fuzz_request the client frames of
# ../shared/corpus/kafka without their length prefix) for SECONDS of wall
# time on one core. A crash, leak, timeout or sanitizer report fails it; the
# input is copied to tests/fuzz/regress/NAME/ so the unit tests replay it
# from then on (commit it with the fix). Prints cmocka-style lines, counted
# by scripts/count_tests.py. SLUICE_FUZZ_SECONDS overrides SECONDS.
set -uo pipefail
name=$1 bin=$2 secs=${SLUICE_FUZZ_SECONDS:-$3} src=$4
work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-fuzz-$name-XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$work/artifacts"
for d in "$src/tests/fuzz/corpus/$name" "$src/tests/fuzz/regress/$name"; do
  [ -d "$d" ] && cp -r "$d/." "$work/corpus/" 2>/dev/null
done
if [ "$name" = fuzz_request ] && [ -d "$src/../shared/corpus/kafka" ]; then
  find "$src/../shared/corpus/kafka" -name '*.req' | while read -r f; do
    tail -c +5 "$f" > "$work/corpus/$(basename "$(dirname "$f")")-$(basename "$f")"
  done
fi
echo "[ RUN      ] $name"
/usr/bin/time -f 'cpu %U %S' -o "$work/cpu" \
  "$bin" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$work/artifacts/" "$work/corpus" > "$work/log" 2>&1
rc=$?
cpu=$(awk '/^cpu/ {printf "%.1f", $2 + $3}' "$work/cpu" 2>/dev/null)
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
cov=$(grep -o 'cov: [0-9]*' "$work/log" | tail -1)
ninputs=$(ls "$work/corpus" | wc -l)
if [ $rc -eq 0 ] && ! ls "$work/artifacts" | grep -q .; then
  echo "fuzz: $name: ${runs:-?} inputs run in ${secs} s (${cpu:-?} s CPU), ${cov:-cov: ?}, corpus $ninputs"
  echo "[       OK ] $name"
  exit 0
fi
tail -60 "$work/log"
mkdir -p "$src/tests/fuzz/regress/$name"
for a in "$work"/artifacts/*; do
  [ -f "$a" ] || continue
  cp "$a" "$src/tests/fuzz/regress/$name/$(basename "$a")"
  echo "fuzz: $name: kept $(basename "$a") in tests/fuzz/regress/$name/"
done
echo "[  FAILED  ] $name"
exit 1
