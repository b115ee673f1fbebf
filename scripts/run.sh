#!/usr/bin/env bash
# Builds (if needed) and starts sluice with its embedded defaults: data
# under ./data, listening on 0.0.0.0:9092 (shard i on 9092+i). Extra
# arguments go to sluiced (e.g. --shards 4 --set num.partitions=8).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
meson compile -C build >/dev/null
exec ./build/sluiced "$@"
