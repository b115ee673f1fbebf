#!/usr/bin/env bash
# Installs every Debian package the build, the tests and the benchmarks need.
# Idempotent: when everything is present it checks with dpkg and returns at once.
set -euo pipefail

PACKAGES=(
  build-essential meson ninja-build pkg-config clang
  liburing-dev libhwloc-dev liblz4-dev libisal-dev libcmocka-dev
  dpdk-dev libdpdk-dev
  librdkafka-dev kcat python3-kafka python3-confluent-kafka
  zlib1g-dev libsnappy-dev libzstd-dev
  valgrind
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
