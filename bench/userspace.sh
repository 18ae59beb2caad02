#!/usr/bin/env bash
# Userspace ring throughput (userspace:usrN -> usrN): one sender process, one receiver process,
# each pinned to its own core, COUNT frames per run. Prints the median packet rate of the
# receiver (first packet to last), and the CPU time per packet of each side (user + system,
# which includes the bounded spin while it waits for the other side) and their peak RSS.
# Then the cost of the ring registry on the receive hot path: one process sends 256 frames and
# receives them one `Ring::recv` at a time, with registration on and off (PFRING_NO_REGISTRY=1);
# the fastest round of LOOP_ROUNDS is kept (robust against other load), as a ratio.
#
#   cargo build --release -p pfring --example userspace_bench
#   sudo bench/userspace.sh                        # RUNS=5 COUNT=10000000, 60 B and 1514 B
#   RUNS=3 COUNT=2000000 SIZES=60 bench/userspace.sh    # quicker (non-root: needs XDG_RUNTIME_DIR)
#
# Environment:
#   RUNS=5  COUNT=10000000  SIZES="60 1514"  MODES="burst single"
#   REGISTRY=1 (0: skip that part)  LOOP_ROUNDS=20000
#   TX_CPU=0 RX_CPU=1  BIN=target/release/examples/userspace_bench
set -euo pipefail

RUNS=${RUNS:-5}
COUNT=${COUNT:-10000000}
SIZES=${SIZES:-"60 1514"}
MODES=${MODES:-"burst single"}
REGISTRY=${REGISTRY:-1}
LOOP_ROUNDS=${LOOP_ROUNDS:-20000}
TX_CPU=${TX_CPU:-0}
RX_CPU=${RX_CPU:-1}
BIN=${BIN:-target/release/examples/userspace_bench}

[[ -x $BIN ]] || { echo "build it first: cargo build --release -p pfring --example userspace_bench" >&2; exit 1; }
TMP=$(mktemp -d)
RX_PID=""
cleanup() {
    [[ -n $RX_PID ]] && kill "$RX_PID" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

# One run: prints "mpps rx_ns_per_pkt tx_ns_per_pkt rx_rss_kb tx_rss_kb".
one_run() { # size mode run-tag [env...]
    local size=$1 mode=$2 tag=$3; shift 3
    local name="usr$$${tag}"
    env "$@" /usr/bin/time -f "%U %S %M" -o "$TMP/rx.time" \
        taskset -c "$RX_CPU" "$BIN" recv "$name" "$COUNT" "$mode" >"$TMP/rx.out" 2>"$TMP/rx.err" &
    RX_PID=$!
    local i
    for ((i = 0; i < 100; i++)); do
        grep -q ready "$TMP/rx.out" 2>/dev/null && break
        sleep 0.05
    done
    /usr/bin/time -f "%U %S %M" -o "$TMP/tx.time" \
        taskset -c "$TX_CPU" "$BIN" send "$name" "$COUNT" "$size" >"$TMP/tx.out"
    wait "$RX_PID"
    RX_PID=""
    local mpps
    mpps=$(awk '/^recv/ {print $8}' "$TMP/rx.out")
    read -r ru rs rm <"$TMP/rx.time"
    read -r tu ts tm <"$TMP/tx.time"
    awk -v m="$mpps" -v ru="$ru" -v rs="$rs" -v tu="$tu" -v ts="$ts" -v c="$COUNT" -v rm="$rm" -v tm="$tm" \
        'BEGIN {printf "%s %.1f %.1f %s %s\n", m, (ru + rs) * 1e9 / c, (tu + ts) * 1e9 / c, rm, tm}'
}

median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

echo "# machine: $(nproc) cores, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg); RUNS=$RUNS COUNT=$COUNT"
printf "%-6s %-7s %10s %14s %14s %10s %10s\n" size mode "Mpps(med)" "rx ns/pkt" "tx ns/pkt" "rx RSS kB" "tx RSS kB"
for size in $SIZES; do
    for mode in $MODES; do
        : >"$TMP/runs"
        for ((r = 0; r < RUNS; r++)); do
            one_run "$size" "$mode" "0$r" >>"$TMP/runs"
        done
        printf "%-6s %-7s %10s %14s %14s %10s %10s\n" "$size" "$mode" \
            "$(cut -d' ' -f1 "$TMP/runs" | median)" "$(cut -d' ' -f2 "$TMP/runs" | median)" \
            "$(cut -d' ' -f3 "$TMP/runs" | median)" "$(cut -d' ' -f4 "$TMP/runs" | median)" \
            "$(cut -d' ' -f5 "$TMP/runs" | median)"
    done
done

if [[ $REGISTRY == 1 ]]; then
    # One process, one core: 256 sends then 256 single receives per round, the fastest of
    # LOOP_ROUNDS rounds (the least disturbed by other load), registry on and off alternately.
    : >"$TMP/on"
    : >"$TMP/off"
    for ((r = 0; r < RUNS; r++)); do
        PFRING_NO_REGISTRY=0 taskset -c "$RX_CPU" "$BIN" loop "usr$$3$r" "$LOOP_ROUNDS" | awk '{print $3}' >>"$TMP/on"
        PFRING_NO_REGISTRY=1 taskset -c "$RX_CPU" "$BIN" loop "usr$$4$r" "$LOOP_ROUNDS" | awk '{print $3}' >>"$TMP/off"
    done
    on=$(median <"$TMP/on")
    off=$(median <"$TMP/off")
    echo "# registry cost, 60 B, send + Ring::recv one packet per call, best round of $LOOP_ROUNDS (median of $RUNS):"
    echo "registry on : $on ns/pkt   ($(tr '\n' ' ' <"$TMP/on"))"
    echo "registry off: $off ns/pkt   ($(tr '\n' ' ' <"$TMP/off"))"
    awk -v a="$on" -v b="$off" 'BEGIN {printf "on/off: %.3f\n", a / b}'
fi
