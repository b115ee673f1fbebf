#!/bin/bash
# broker_bench.sh - the broker's produce/consume benchmark: librdkafka
# producers and consumers (kafka_bench), the native pipelined Produce
# generator (native_produce), and the loopback TCP bandwidth (loopback_bw)
# measured in the same run, against sluiced started fresh for each flush
# policy on a temporary data dir, listening on 127.0.0.1 port 0.
#
#   bench/broker_bench.sh            full run (~1 min here)
#   bench/broker_bench.sh --quick    small counts, ~10 s here (CI smoke run)
#   options: --partitions N (4)  --shards N (broker default)  --keep
#            --no-prewarm  --build DIR (default $BUILD_DIR or build/)
#
# It builds nothing: build/ must hold sluiced and bench/{kafka_bench,
# native_produce,native_fetch,loopback_bw} (meson compile -C build).
#
# Phases, each on its own topic of N partitions (kafka_bench and
# native_produce create it with --partitions N; num.partitions=N as well):
#   broker flush.policy=os:
#     produce_{100b,1k}_acks1        kafka_bench, acks=1
#     produce_{100b,1k}_acksall_os   kafka_bench, acks=all, no fsync
#     native_{100b,1k}_acks1         native_produce, acks=1
#     native_{100b,1k}_acksall_os    native_produce, acks=all
#     consume_{100b,1k}              kafka_bench consume of the backlog the
#                                    produce_*_acks1 phases left (assign(),
#                                    from the beginning: fetches from the
#                                    page cache, sendfile/splice path)
#     fetch_{100b,1k}                native_fetch of the backlog the
#                                    native_*_acks1 phases left: the fetch
#                                    path without the client's per-record
#                                    work (one Fetch per partition in flight)
#     loopback                       loopback_bw, the machine's limit
#     (loopback, consume and fetch run interleaved, 5 times; 1 in --quick)
#   broker flush.policy=always:
#     produce_{100b,1k}_acksall_always, native_{100b,1k}_acksall_always
#   no broker:
#     mock_{100b,1k}_acks1           kafka_bench against librdkafka's mock
#                                    cluster: the client's own ceiling
#
# Around each phase the broker's CPU time is read from /proc/<pid>/stat
# (utime+stime of all its threads, clock ticks) and reported as CPU-seconds
# per GB of message values moved (GB = 10^9 bytes; MB/s likewise 10^6).
# Ratios to the loopback MB/s (target >= 0.8): consume_ratio_loopback is
# native_fetch with 1 KiB records (the broker's zero-copy fetch path, what
# the target is about); rdkafka_consume_ratio_loopback the same through
# librdkafka's consumer, which on a 2-core machine is the limit itself.
# Also librdkafka produce / its mock-cluster ceiling, and / native_produce.
#
# Page cache warm-up: on these VMs (virtio-balloon free page reporting)
# memory freed more than a few seconds ago goes back to the host, and the
# page cache growing into it costs the writer 3-5x the CPU (a plain dd:
# ~0.35-0.75 GB/s into such memory, ~1.5 GB/s into memory just freed). To
# measure the broker rather than the hypervisor, each produce phase is
# preceded by writing and deleting a scratch file of the phase's size, so
# the broker's appends land in memory just freed (--no-prewarm: do not).
#
# Every wait is bounded (broker start and stop, each tool's own --seconds);
# all traffic goes to 127.0.0.1. Exit status 0 only if every phase ran
# without error and the broker stopped cleanly. The last line printed is
# machine-readable:
#   RESULT produce_100b_acks1_msgs_s=... ... consume_ratio_loopback=... pass=0|1
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
quick=0 keep=0 prewarm=1 parts=4 shards=""
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) quick=1 ;;
    --keep) keep=1 ;;
    --no-prewarm) prewarm=0 ;;
    --partitions) parts=$2; shift ;;
    --shards) shards=$2; shift ;;
    --build) build=$2; shift ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "broker_bench: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

sluiced=$build/sluiced
kb=$build/bench/kafka_bench
np=$build/bench/native_produce
nf=$build/bench/native_fetch
lb=$build/bench/loopback_bw
for f in "$sluiced" "$kb" "$np" "$nf" "$lb"; do
    if [ ! -x "$f" ]; then
        echo "broker_bench: $f missing: build first (meson compile -C $build)" >&2
        exit 2
    fi
done

if [ $quick = 1 ]; then
    n100=200000 n1k=50000 tool_s=30
    nat100=2000000 nat1k=300000 nat_s=3
    lb_args=(--quick)
    crc_arg=--check-crc reps=1
else
    n100=2000000 n1k=1000000 tool_s=120
    nat100=10000000 nat1k=2000000 nat_s=10
    lb_args=(--seconds 1 --reps 1)
    crc_arg="" reps=5
fi
START_TIMEOUT_S=30
STOP_TIMEOUT_S=30
clk_tck=$(getconf CLK_TCK)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sluice-broker-bench.XXXXXX")
broker_pid=""
failed=0
declare -A R          # R[phase.key] = value
phases=()

cleanup() {
    if [ -n "$broker_pid" ] && kill -0 "$broker_pid" 2>/dev/null; then
        kill -TERM "$broker_pid" 2>/dev/null
        for _ in $(seq 1 $((STOP_TIMEOUT_S * 10))); do
            kill -0 "$broker_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$broker_pid" 2>/dev/null
    fi
    if [ $keep = 1 ]; then
        echo "broker_bench: kept $tmp"
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
    echo "broker_bench: FAILED: $*" >&2
    failed=1
}

# The broker's utime+stime in clock ticks (fields 14 and 15 of stat; the
# comm field is skipped by its closing parenthesis).
broker_ticks() {
    sed 's/^.*) //' "/proc/$broker_pid/stat" 2>/dev/null | awk '{print $12 + $13}'
}

# start_broker NAME POLICY: sets broker_pid and bootstrap, or fails.
start_broker() {
    local name=$1 policy=$2
    local log=$tmp/broker-$name.log
    mkdir -p "$tmp/data-$name"
    local args=(--data-dir "$tmp/data-$name" --listen 127.0.0.1:0
                --set "num.partitions=$parts" --set "sluice.flush.policy=$policy")
    [ -n "$shards" ] && args+=(--shards "$shards")
    echo "== broker $name: sluiced ${args[*]}"
    "$sluiced" "${args[@]}" 2>"$log" &
    broker_pid=$!
    bootstrap=""
    # Synchronise on the ready line (polled; bounded).
    local i line
    for i in $(seq 1 $((START_TIMEOUT_S * 50))); do
        line=$(grep -m1 '^sluiced: ready bootstrap=' "$log" 2>/dev/null || true)
        if [ -n "$line" ]; then
            bootstrap=$(sed 's/.*bootstrap=\([^ ]*\).*/\1/' <<<"$line")
            echo "   $line"
            return 0
        fi
        if ! kill -0 "$broker_pid" 2>/dev/null; then
            wait "$broker_pid"
            fail "sluiced exited with status $? before ready; its stderr:"
            tail -20 "$log" >&2
            broker_pid=""
            return 1
        fi
        sleep 0.02
    done
    fail "sluiced not ready after ${START_TIMEOUT_S}s; its stderr:"
    tail -20 "$log" >&2
    return 1
}

stop_broker() {
    local name=$1
    [ -n "$broker_pid" ] || return 0
    kill -TERM "$broker_pid" 2>/dev/null
    local i
    for i in $(seq 1 $((STOP_TIMEOUT_S * 50))); do
        kill -0 "$broker_pid" 2>/dev/null || break
        sleep 0.02
    done
    if kill -0 "$broker_pid" 2>/dev/null; then
        fail "sluiced did not stop ${STOP_TIMEOUT_S}s after SIGTERM; killed"
        kill -KILL "$broker_pid" 2>/dev/null
    fi
    wait "$broker_pid"
    local st=$?
    [ $st = 0 ] || fail "sluiced ($name) exited with status $st after SIGTERM"
    if [ $st != 0 ] || grep -qiE 'error|fail|abort|assert' "$tmp/broker-$name.log"; then
        echo "   broker stderr (tail):"
        tail -10 "$tmp/broker-$name.log" | sed 's/^/     /'
    fi
    broker_pid=""
    rm -rf "$tmp/data-$name"
}

# A key of the last RESULT line of a tool's output; numbers the tools
# print with an exponent (loadgen's %g: msgs_s=2.23457e+06) come out plain.
result_of() {
    awk -v k="$2" '/^RESULT /{line=$0} END{n=split(line,f," ");
        for(i=2;i<=n;i++){split(f[i],kv,"="); if(kv[1]==k){v=kv[2];
            if (v ~ /^[0-9.]+[eE][-+]?[0-9]+$/) v=sprintf("%.10g", v+0);
            print v; exit}}}' "$1"
}

# prewarm BYTES: writes and deletes a scratch file of BYTES (+10%) next to
# the data, so that the next phase's page cache reuses memory just freed.
prewarm() {
    [ $prewarm = 1 ] || return 0
    local mib=$(( $1 / 1048576 * 11 / 10 + 64 ))
    dd if=/dev/zero of="$tmp/prewarm" bs=1M count=$mib status=none 2>/dev/null ||
        echo "broker_bench: prewarm of $mib MiB failed (ignored)" >&2
    rm -f "$tmp/prewarm"
}

# phase NAME CMD...: runs CMD, records its RESULT and the broker CPU used.
phase() {
    local name=$1; shift
    local out=$tmp/$name.out
    local t0="" t1=""
    [ -n "$broker_pid" ] && t0=$(broker_ticks)
    echo "-- $name: ${*##*/}" | cut -c1-160
    "$@" >"$out" 2>&1
    local st=$?
    [ -n "$broker_pid" ] && t1=$(broker_ticks)
    grep -v '^RESULT' "$out" | grep -v 'rdkafka 7 ' | tail -4 | sed 's/^/   /'
    phases+=("$name")
    local k
    for k in msgs bytes secs msgs_s mb_s errors gaps dups offset_errors time_limited; do
        R[$name.$k]=$(result_of "$out" $k)
    done
    [ -n "${R[$name.mb_s]}" ] || R[$name.mb_s]=$(result_of "$out" loopback_mb_s)
    if [ -n "$t0" ] && [ -n "$t1" ]; then
        R[$name.cpu_s]=$(awk -v a="$t0" -v b="$t1" -v h="$clk_tck" 'BEGIN{printf "%.2f", (b-a)/h}')
        R[$name.cpu_gb]=$(awk -v c="${R[$name.cpu_s]}" -v b="${R[$name.bytes]:-0}" \
            'BEGIN{if (b > 0) printf "%.2f", c/(b/1e9); else print "-"}')
    else
        R[$name.cpu_s]="-"
        R[$name.cpu_gb]="-"
    fi
    if [ $st != 0 ] || ! grep -q '^RESULT ' "$out"; then
        fail "$name (exit status $st; output in $out)"
        grep -v '^RESULT' "$out" | tail -5 | sed 's/^/   ! /' >&2
    fi
    return 0
}

median() {   # median of the numeric arguments ("-" if none)
    printf '%s\n' "$@" | grep -E '^[0-9.]+$' | sort -g |
        awk '{a[NR]=$1} END{if (NR == 0) print "-"; else if (NR % 2) print a[(NR+1)/2];
             else printf "%.3f\n", (a[NR/2] + a[NR/2+1]) / 2}'
}

# aggregate NAME: NAME_r1..NAME_r$reps into NAME: median rates, CPU per GB
# over all repetitions, errors summed.
aggregate() {
    local name=$1 i k v
    local rates_m=() rates_b=() cpu=0 bytes=0 errs=0 tl=0 have_cpu=1
    for i in $(seq 1 $reps); do
        local p=${name}_r$i
        [ -n "${R[$p.mb_s]:-}" ] || continue
        rates_m+=("${R[$p.msgs_s]:-}")
        rates_b+=("${R[$p.mb_s]}")
        if [ "${R[$p.cpu_s]:--}" = - ]; then
            have_cpu=0
        else
            cpu=$(awk -v a="$cpu" -v b="${R[$p.cpu_s]}" 'BEGIN{print a+b}')
        fi
        bytes=$(awk -v a="$bytes" -v b="${R[$p.bytes]:-0}" 'BEGIN{printf "%.0f", a+b}')
        for k in errors gaps dups offset_errors; do
            v=${R[$p.$k]:-0}
            errs=$((errs + ${v:-0}))
        done
        [ "${R[$p.time_limited]:-0}" = 1 ] && tl=1
    done
    R[$name.msgs]=${R[${name}_r1.msgs]:-}
    R[$name.msgs_s]=$(median "${rates_m[@]}")
    R[$name.mb_s]=$(median "${rates_b[@]}")
    R[$name.bytes]=$bytes
    R[$name.errors]=$errs
    R[$name.time_limited]=$tl
    if [ $have_cpu = 1 ] && [ "$bytes" != 0 ]; then
        R[$name.cpu_s]=$(printf '%.2f' "$cpu")
        R[$name.cpu_gb]=$(awk -v c="$cpu" -v b="$bytes" 'BEGIN{printf "%.2f", c/(b/1e9)}')
    else
        R[$name.cpu_s]="-"
        R[$name.cpu_gb]="-"
    fi
    phases+=("$name")
}

# ratio_median A B: median over repetitions of A_r$i.mb_s / B_r$i.mb_s.
ratio_median() {
    local i rs=()
    for i in $(seq 1 $reps); do
        rs+=("$(ratio "${R[${1}_r$i.mb_s]:-}" "${R[${2}_r$i.mb_s]:-}")")
    done
    median "${rs[@]}"
}

ratio() {   # ratio A B: A/B with 3 decimals, "-" when either is missing
    awk -v a="${1:-}" -v b="${2:-}" 'BEGIN{if (a == "" || b == "" || a == "-" || b+0 == 0) print "-"; else printf "%.3f", a/b}'
}

echo "broker_bench: $(uname -r), $(nproc) cores, partitions=$parts${shards:+, shards=$shards}$([ $quick = 1 ] && echo ', quick'), prewarm=$prewarm"
echo "   data and logs in $tmp"

# ---- broker with flush.policy=os ----------------------------------------
if start_broker os os; then
    prewarm $(($n100 * 100))
    phase produce_100b_acks1 "$kb" --mode produce --target "$bootstrap" \
        --partitions "$parts" --topic p100-acks1 \
        --count $n100 --size 100 --acks 1 --seconds $tool_s
    prewarm $(($n1k * 1024))
    phase produce_1k_acks1 "$kb" --mode produce --target "$bootstrap" \
        --partitions "$parts" --topic p1k-acks1 \
        --count $n1k --size 1024 --acks 1 --seconds $tool_s
    prewarm $(($n100 * 100))
    phase produce_100b_acksall_os "$kb" --mode produce --target "$bootstrap" \
        --partitions "$parts" --topic p100-acksall \
        --count $n100 --size 100 --acks all --seconds $tool_s
    prewarm $(($n1k * 1024))
    phase produce_1k_acksall_os "$kb" --mode produce --target "$bootstrap" \
        --partitions "$parts" --topic p1k-acksall \
        --count $n1k --size 1024 --acks all --seconds $tool_s
    prewarm $(($nat100 * 100))
    phase native_100b_acks1 "$np" --target "$bootstrap" \
        --partitions "$parts" --topic n100-acks1 \
        --count $nat100 --size 100 --acks 1 --seconds $nat_s
    prewarm $(($nat1k * 1024))
    phase native_1k_acks1 "$np" --target "$bootstrap" \
        --partitions "$parts" --topic n1k-acks1 \
        --count $nat1k --size 1024 --acks 1 --seconds $nat_s
    prewarm $(($nat100 * 100))
    phase native_100b_acksall_os "$np" --target "$bootstrap" \
        --partitions "$parts" --topic n100-acksall \
        --count $nat100 --size 100 --acks all --seconds $nat_s
    prewarm $(($nat1k * 1024))
    phase native_1k_acksall_os "$np" --target "$bootstrap" \
        --partitions "$parts" --topic n1k-acksall \
        --count $nat1k --size 1024 --acks all --seconds $nat_s
    # Consumers and the machine's limit, interleaved (loopback, consumers,
    # loopback, ...) so that a noisy minute hurts both sides of a ratio
    # alike; each ratio is the median of the per-repetition ratios.
    # Backlogs: what the produce_*_acks1 (librdkafka) and native_*_acks1
    # (native fetch) phases delivered.
    c100=${R[produce_100b_acks1.msgs]:-0} c1k=${R[produce_1k_acks1.msgs]:-0}
    f100=${R[native_100b_acks1.msgs]:-0} f1k=${R[native_1k_acks1.msgs]:-0}
    for r in $(seq 1 $reps); do
        phase loopback_r$r "$lb" "${lb_args[@]}"
        [ "${c100:-0}" -gt 0 ] && phase consume_100b_r$r "$kb" --mode consume --target "$bootstrap" \
            --topic p100-acks1 --count "$c100" --size 100 --seconds $tool_s
        [ "${c1k:-0}" -gt 0 ] && phase consume_1k_r$r "$kb" --mode consume --target "$bootstrap" \
            --topic p1k-acks1 --count "$c1k" --size 1024 --seconds $tool_s
        [ "${f100:-0}" -gt 0 ] && phase fetch_100b_r$r "$nf" --mode consume --target "$bootstrap" \
            --topic n100-acks1 --count "$f100" --size 100 --seconds $tool_s $crc_arg
        [ "${f1k:-0}" -gt 0 ] && phase fetch_1k_r$r "$nf" --mode consume --target "$bootstrap" \
            --topic n1k-acks1 --count "$f1k" --size 1024 --seconds $tool_s $crc_arg
    done
    for p in consume_100b consume_1k fetch_100b fetch_1k; do
        if [ -n "${R[${p}_r1.msgs]:-}" ]; then
            aggregate $p
        else
            fail "$p: no backlog"
        fi
    done
    stop_broker os
else
    for r in $(seq 1 $reps); do
        phase loopback_r$r "$lb" "${lb_args[@]}"
    done
fi
aggregate loopback

# ---- broker with flush.policy=always ------------------------------------
if start_broker always always; then
    prewarm $(($n100 * 100))
    phase produce_100b_acksall_always "$kb" --mode produce --target "$bootstrap" \
        --partitions "$parts" --topic p100-acksall \
        --count $n100 --size 100 --acks all --seconds $tool_s
    prewarm $(($n1k * 1024))
    phase produce_1k_acksall_always "$kb" --mode produce --target "$bootstrap" \
        --partitions "$parts" --topic p1k-acksall \
        --count $n1k --size 1024 --acks all --seconds $tool_s
    prewarm $(($nat100 * 100))
    phase native_100b_acksall_always "$np" --target "$bootstrap" \
        --partitions "$parts" --topic n100-acksall \
        --count $nat100 --size 100 --acks all --seconds $nat_s
    prewarm $(($nat1k * 1024))
    phase native_1k_acksall_always "$np" --target "$bootstrap" \
        --partitions "$parts" --topic n1k-acksall \
        --count $nat1k --size 1024 --acks all --seconds $nat_s
    stop_broker always
fi

# ---- the client's ceiling: librdkafka against its own mock cluster --------
phase mock_100b_acks1 "$kb" --mode produce --mock --partitions "$parts" --topic m100 \
    --count $n100 --size 100 --acks 1 --seconds $tool_s
phase mock_1k_acks1 "$kb" --mode produce --mock --partitions "$parts" --topic m1k \
    --count $n1k --size 1024 --acks 1 --seconds $tool_s

# ---- report ---------------------------------------------------------------
echo
printf '%-28s %10s %11s %9s %8s %9s %7s\n' phase msgs msgs/s MB/s "CPU s" "CPU s/GB" errors
for p in "${phases[@]}"; do
    case "$p" in *_r[0-9]*|loopback) continue ;; esac
    err=$(awk -v a="${R[$p.errors]:-0}" -v b="${R[$p.gaps]:-0}" -v c="${R[$p.dups]:-0}" \
          -v d="${R[$p.offset_errors]:-0}" 'BEGIN{print a+b+c+d}')
    printf '%-28s %10s %11s %9s %8s %9s %7s%s\n' "$p" "${R[$p.msgs]:--}" "${R[$p.msgs_s]:--}" \
        "${R[$p.mb_s]:--}" "${R[$p.cpu_s]}" "${R[$p.cpu_gb]}" "$err" \
        "$([ "${R[$p.time_limited]:-0}" = 1 ] && echo ' [time limit]')"
done
printf '%-28s %34s\n' "loopback TCP" "${R[loopback.mb_s]:--} MB/s"
echo "(MB = 10^6 bytes of message values; CPU = the broker's utime+stime over the phase;"
echo " produce phases are timed first send to last ack, consume assign() to last message;"
echo " consume, fetch and loopback: medians of $reps interleaved repetition(s))"

c100_ratio=$(ratio_median consume_100b loopback)
c1k_ratio=$(ratio_median consume_1k loopback)
f100_ratio=$(ratio_median fetch_100b loopback)
f1k_ratio=$(ratio_median fetch_1k loopback)
m100_ratio=$(ratio "${R[produce_100b_acks1.mb_s]:-}" "${R[mock_100b_acks1.mb_s]:-}")
m1k_ratio=$(ratio "${R[produce_1k_acks1.mb_s]:-}" "${R[mock_1k_acks1.mb_s]:-}")
n100_ratio=$(ratio "${R[produce_100b_acks1.mb_s]:-}" "${R[native_100b_acks1.mb_s]:-}")
n1k_ratio=$(ratio "${R[produce_1k_acks1.mb_s]:-}" "${R[native_1k_acks1.mb_s]:-}")
echo
echo "fetch / loopback:          1 KiB $f1k_ratio, 100 B $f100_ratio (native fetch: the broker's path; target >= 0.8)"
echo "librdkafka consume / loopback: 1 KiB $c1k_ratio, 100 B $c100_ratio (the client's consumer included)"
echo "librdkafka produce / mock: 100 B $m100_ratio, 1 KiB $m1k_ratio (acks=1; the client's ceiling)"
echo "librdkafka / native:       100 B $n100_ratio, 1 KiB $n1k_ratio (acks=1; broker ceiling)"

line="RESULT"
for p in "${phases[@]}"; do
    case "$p" in *_r[0-9]*|loopback) continue ;; esac
    line+=" ${p}_msgs_s=${R[$p.msgs_s]:--} ${p}_mb_s=${R[$p.mb_s]:--} ${p}_cpu_s_per_gb=${R[$p.cpu_gb]}"
done
line+=" loopback_mb_s=${R[loopback.mb_s]:--}"
line+=" rdkafka_consume_100b_ratio_loopback=$c100_ratio rdkafka_consume_1k_ratio_loopback=$c1k_ratio"
line+=" fetch_100b_ratio_loopback=$f100_ratio fetch_1k_ratio_loopback=$f1k_ratio"
line+=" produce_vs_mock_100b=$m100_ratio produce_vs_mock_1k=$m1k_ratio"
line+=" produce_vs_native_100b=$n100_ratio produce_vs_native_1k=$n1k_ratio"
line+=" quick=$quick rdkafka_consume_ratio_loopback=$c1k_ratio consume_ratio_loopback=$f1k_ratio"
line+=" pass=$((1 - failed))"
echo "$line"
exit $failed
