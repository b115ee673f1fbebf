#!/usr/bin/env bash
# Builds (if needed) and starts sluice with its embedded defaults.
# Until the broker lands this runs the storage benchmark on ./data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
meson compile -C build >/dev/null
exec ./build/bench/storage_bench --dir ./data "$@"
