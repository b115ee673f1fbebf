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
  libraft-dev libuv1-dev iproute2 nftables
  valgrind
  redis-server libhiredis-dev nats-server libnats-dev python3-matplotlib
  libmicrohttpd-dev prometheus chromium chromium-driver logrotate
  openjdk-17-jdk-headless maven python3-venv
  libssl-dev openssl
  libfuse3-dev fuse3
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

# Node.js for the kafkajs integration test. These machines come with node 20
# installed outside Debian's archive; Debian's older nodejs/npm would replace
# it, so they are installed only when node (or npm) is absent.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "setup: installing nodejs npm"
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi

# kafkajs for tests/integration (pinned in tests/integration/package.json),
# installed from npm only when missing. A failure here does not stop the other
# tests; the kafkajs integration test then fails and says why.
IT_DIR="$(cd "$(dirname "$0")/.." && pwd)/tests/integration"
if ! grep -qs '"version": "2.2.4"' "$IT_DIR/node_modules/kafkajs/package.json" ||
   ! grep -qs '"version": "1.65.1"' "$IT_DIR/node_modules/playwright-core/package.json"; then
  echo "setup: installing kafkajs and playwright-core into tests/integration/node_modules"
  (cd "$IT_DIR" && npm ci --no-audit --no-fund >/dev/null) ||
    echo "setup: WARNING: npm ci in tests/integration failed; the kafkajs and console tests will fail" >&2
fi

# uPlot for the web console, vendored at build time (ops/embed.py embeds it
# into sluiced); pinned by ops/console/package-lock.json.
CONSOLE_DIR="$(cd "$(dirname "$0")/.." && pwd)/ops/console"
if ! grep -qs '"version": "1.6.32"' "$CONSOLE_DIR/node_modules/uplot/package.json"; then
  echo "setup: vendoring uPlot 1.6.32 into ops/console/node_modules"
  (cd "$CONSOLE_DIR" && npm ci --no-audit --no-fund >/dev/null) ||
    echo "setup: WARNING: npm ci in ops/console failed; the console will have no charts" >&2
fi

# librdkafka's own test suite, for tests/integration/rdkafka_tests.py (which
# builds a runner of chosen tests from it: 0077-compaction, the
# transaction tests 0103 and 0129): Debian's
# source package of the installed librdkafka, unpacked into build-deps/ and
# configured once (its config.h). deb-src is enabled for Debian's main
# archive to fetch it. A failure here does not stop the other tests; the
# rdkafka tests then fail and say why.
RDK_DIR="$(cd "$(dirname "$0")/.." && pwd)/build-deps/librdkafka"
if [ ! -f "$RDK_DIR/config.h" ] || [ ! -f "$RDK_DIR/tests/0077-compaction.c" ]; then
  echo "setup: fetching librdkafka's source package into build-deps/librdkafka"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  SRC_LIST=/etc/apt/sources.list.d/sluice-deb-src.sources
  if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && [ ! -f "$SRC_LIST" ]; then
    printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' |
      $SUDO tee "$SRC_LIST" >/dev/null
    $SUDO apt-get update -qq
  fi
  ver=$(dpkg-query -W -f='${Version}' librdkafka-dev)
  tmp=$(mktemp -d)
  if (cd "$tmp" && apt-get source -qq --download-only "librdkafka=$ver" >/dev/null 2>&1) &&
     mkdir -p "$RDK_DIR" && tar xzf "$tmp"/librdkafka_*.orig.tar.gz -C "$RDK_DIR" --strip-components 1 &&
     (cd "$RDK_DIR" && ./configure --disable-ssl --disable-sasl --disable-gssapi --disable-curl \
        >"$RDK_DIR/sluice-setup-configure.log" 2>&1); then
    echo "setup: librdkafka $ver source ready"
  else
    echo "setup: WARNING: could not fetch or configure librdkafka's source; the rdkafka tests will fail" >&2
  fi
  rm -rf "$tmp"
fi

# The compatibility suite's and the benchmark's pinned Maven, Go and PyPI
# dependencies (Apache Kafka's jars, franz-go/sarama/kafka-go, the newest
# confluent-kafka and kafka-python) into .deps/; see the script. A failure
# here does not stop the other tests; the tests that need them fail and
# say why.
bash "$(dirname "$0")/setup_compat.sh" ||
  echo "setup: WARNING: scripts/setup_compat.sh failed; the compat tests and Kafka in bench/run will fail" >&2
