#!/bin/sh
# storage_bench.sh - builds and runs the storage benchmark (storage_bench.c).
#
#   bench/storage_bench.sh                 full run: 2 GiB or 20 s per run, ~5 min
#   bench/storage_bench.sh --quick         CI smoke run: 256 MiB or 5 s per run
#   bench/storage_bench.sh --flush always --dir /mnt/disk/bench-data
#
# BUILD_DIR (default: build/ at the top of the tree) is configured with meson
# if it does not exist yet. The last line printed is the machine-readable
#   RESULT append_mb_s=... raw_mb_s=... ratio=... ...
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" "$root" >/dev/null
fi
meson compile -C "$build" storage_bench >/dev/null
exec "$build/bench/storage_bench" "$@"
