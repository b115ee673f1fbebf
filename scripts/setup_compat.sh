#!/usr/bin/env bash
# Fetches the compatibility suite's and the benchmark's pinned dependencies
# into .deps/ (ignored by git), so that nothing is downloaded at test time:
#
#   .deps/maven/           Maven's local repository: the jars of
#                          tests/compat/java/pom.xml (kafka-clients, kafka-tools,
#                          kafka-streams 4.4.0), tests/compat/java/connect/pom.xml
#                          (connect-runtime, connect-file 4.3.1) and
#                          bench/kafka/pom.xml (the broker, kafka_2.13 4.4.0)
#   .deps/java/*.classpath the classpath of each, as Maven resolved it
#   .deps/go/              GOMODCACHE and GOCACHE for tests/compat/go (go.sum)
#   .deps/venv/            a virtual environment with tests/compat/python's
#                          requirements.txt (pinned with hashes)
#
# Every resolved jar must match the lock file beside its pom.xml (deps.lock:
# sha256 and path in the local repository); a mismatch is an error, and
# `scripts/setup_compat.sh --update-locks` rewrites the locks after a
# deliberate version change. Each part is skipped when what it made is
# newer than its inputs, so a second run asks no registry. A part that
# fails is reported and the others still run; the tests that need it then
# fail saying why. Exits 1 if any part failed.
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
DEPS=${SLUICE_DEPS:-$REPO/.deps}
UPDATE_LOCKS=0
[ "${1:-}" = "--update-locks" ] && UPDATE_LOCKS=1
mkdir -p "$DEPS/java"
failed=0

say() { echo "setup_compat: $*"; }

newer_than() { # target inputs...: true if target exists and is newer than every input
  local t=$1; shift
  [ -e "$t" ] || return 1
  for f in "$@"; do [ "$f" -nt "$t" ] && return 1; done
  return 0
}

# --- Maven ------------------------------------------------------------------
maven_part() { # name pom-dir
  local name=$1 dir=$2 cp="$DEPS/java/$1.classpath" lock="$2/deps.lock"
  if [ "$UPDATE_LOCKS" = 0 ] && [ -f "$lock" ] && newer_than "$cp" "$dir/pom.xml" "$lock" &&
     tr ':' '\n' < "$cp" | while read -r j; do [ -f "$j" ] || exit 1; done; then
    return 0
  fi
  say "resolving $dir/pom.xml with Maven into $DEPS/maven"
  local t0=$SECONDS
  if ! (cd "$dir" && mvn -B -q -Dmaven.repo.local="$DEPS/maven" \
          dependency:build-classpath -Dmdep.outputFile="$cp.tmp" >"$DEPS/java/$name.mvn.log" 2>&1); then
    say "ERROR: Maven could not resolve $dir/pom.xml (log: $DEPS/java/$name.mvn.log)"
    tail -5 "$DEPS/java/$name.mvn.log" | sed 's/^/    /'
    return 1
  fi
  # the lock: every jar of the classpath, sha256 and path in the repository
  local got
  got=$(tr ':' '\n' < "$cp.tmp" | sed "s|^$DEPS/maven/||" | sort | (cd "$DEPS/maven" && xargs sha256sum))
  if [ "$UPDATE_LOCKS" = 1 ] || [ ! -f "$lock" ]; then
    { echo "# sha256 and path in the Maven repository of every jar $dir/pom.xml resolves to;"
      echo "# written by scripts/setup_compat.sh --update-locks, checked by every set-up."
      echo "$got"; } > "$lock"
    say "wrote $lock"
  elif ! diff <(grep -v '^#' "$lock") <(echo "$got") >/dev/null; then
    say "ERROR: the jars resolved for $dir/pom.xml differ from $lock:"
    diff <(grep -v '^#' "$lock") <(echo "$got") | head -20 | sed 's/^/    /'
    return 1
  fi
  mv "$cp.tmp" "$cp" && touch "$cp"
  say "$name: $(tr ':' '\n' < "$cp" | wc -l) jars in $((SECONDS - t0)) s"
}

if command -v mvn >/dev/null && command -v javac >/dev/null; then
  maven_part clients tests/compat/java || failed=1
  maven_part connect tests/compat/java/connect || failed=1
  maven_part kafka bench/kafka || failed=1
else
  say "ERROR: mvn or javac is missing (Debian: maven, openjdk-17-jdk-headless)"
  failed=1
fi

# --- Go ---------------------------------------------------------------------
GO_DIR=tests/compat/go
if command -v go >/dev/null; then
  stamp="$DEPS/go/.ready"
  if ! newer_than "$stamp" $GO_DIR/go.mod $GO_DIR/go.sum $GO_DIR/*.go; then
    say "fetching the Go modules of $GO_DIR/go.mod (go.sum) into $DEPS/go"
    t0=$SECONDS
    mkdir -p "$DEPS/go"
    if (cd $GO_DIR && GOMODCACHE="$DEPS/go/mod" GOCACHE="$DEPS/go/cache" GOFLAGS=-mod=readonly \
          go mod download && \
        GOMODCACHE="$DEPS/go/mod" GOCACHE="$DEPS/go/cache" GOFLAGS=-mod=readonly GOPROXY=off \
          go test -count=1 -run '^$' ./... >/dev/null); then
      touch "$stamp"
      say "go: modules fetched and the tests compiled in $((SECONDS - t0)) s"
    else
      say "ERROR: go mod download / go test -c failed in $GO_DIR"
      failed=1
    fi
  fi
else
  say "ERROR: go is missing (Go 1.26 is expected in /usr/local/go)"
  failed=1
fi

# --- Python -------------------------------------------------------------------
REQ=tests/compat/python/requirements.txt
if ! newer_than "$DEPS/venv/.ready" $REQ; then
  say "making $DEPS/venv with $REQ"
  t0=$SECONDS
  rm -rf "$DEPS/venv"
  if /usr/bin/python3 -m venv "$DEPS/venv" &&
     "$DEPS/venv/bin/pip" install -q --disable-pip-version-check --no-input \
       --require-hashes -r $REQ; then
    touch "$DEPS/venv/.ready"
    say "venv: $("$DEPS/venv/bin/pip" list 2>/dev/null | grep -iE 'kafka' | tr -s ' ' | paste -sd, -) in $((SECONDS - t0)) s"
  else
    say "ERROR: the virtual environment could not be made (python3-venv, pip, PyPI)"
    failed=1
  fi
fi

exit $failed
