#!/usr/bin/env bash
# What offloaded PF_RING rules save: trafgen sends COUNT frames of one UDP flow into a veth
# pair in a private network namespace (1) with nothing capturing, (2) with `pfcount -u 1`
# capturing (the flow's first packet adds an exact drop rule; the rule set only drops, so it
# is compiled into the kernel filter and the rest of the flow never reaches the ring), (3) with
# plain `pfcount` capturing. Reports the generator's rate in each case and pfcount's CPU time
# per *wire* packet: (2) should cost ~0 and leave the generator as fast as (1).
#
#   sudo bench/rules.sh                   # RUNS=3 COUNT=2000000 SIZES="60 1514"
#
# Environment: RUNS, COUNT, SIZES, PFCOUNT (default target/release/pfcount), GEN_CPU=0,
# CAP_CPU=1.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-3}
COUNT=${COUNT:-2000000}
SIZES=${SIZES:-"60 1514"}
PFCOUNT=${PFCOUNT:-$ROOT/target/release/pfcount}
GEN_CPU=${GEN_CPU:-0}
CAP_CPU=${CAP_CPU:-1}
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
single_flow_setup rules

# One run of the generator; prints elapsed seconds.
generate() { # size
    local cfg=$WORK/gen-$1.cfg
    # One UDP flow 10.0.0.1:1000 -> 10.0.0.2:2000 to a foreign MAC (the IP stack drops it
    # early as PACKET_OTHERHOST).
    local ipl=$(($1 - 14)) udpl=$(($1 - 34))
    printf '{ 0x02,0,0,0,0,2, 0x02,0,0,0,0,1, 0x08,0x00, 0x45,0, c16(%d), 0,0, 0x40,0, 64,17, csumip(14, 33), 10,0,0,1, 10,0,0,2, c16(1000), c16(2000), c16(%d), 0,0, fill(0x00, %d) }\n' \
        "$ipl" "$udpl" $(($1 - 42)) >"$cfg"
    local t0 t1
    t0=$(date +%s.%N)
    ip netns exec "$NS" taskset -c "$GEN_CPU" timeout 300 trafgen --dev "$TX" --conf "$cfg" \
        --num "$COUNT" --no-sock-mem --notouch-irq --cpus 1 >"$WORK/gen.log" 2>&1 ||
        die "trafgen failed: $(tail -2 "$WORK/gen.log")"
    t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc -l
}

echo "rules.sh: RUNS=$RUNS COUNT=$COUNT SIZES='$SIZES'"
echo "  $(uname -r), $(nproc) cores; load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '| size | run | gen alone pps | gen pps with pfcount -u 1 | gen pps with plain pfcount | pfcount -u 1 ns/wire pkt | plain pfcount ns/wire pkt | -u 1 rcvd | plain rcvd |\n'
printf '|---|---|---|---|---|---|---|---|---|\n'
for size in $SIZES; do
    for ((run = 1; run <= RUNS; run++)); do
        alone=$(generate "$size")
        row=()
        for mode in filtered plain; do
            args=(-i "$RX" -q --ring-mb 64)
            [[ $mode == filtered ]] && args+=(-u 1)
            ip netns exec "$NS" taskset -c "$CAP_CPU" "$PFCOUNT" "${args[@]}" \
                >"$WORK/$mode.out" 2>"$WORK/$mode.err" &
            pf=$!
            PIDS+=("$pf")
            for _ in $(seq 100); do grep -q "Polling threads" "$WORK/$mode.out" 2>/dev/null && break; sleep 0.05; done
            c0=$(cpu_ns "$pf")
            secs=$(generate "$size")
            sleep 0.5
            c1=$(cpu_ns "$pf")
            kill -INT "$pf"
            wait "$pf" 2>/dev/null || true
            rcvd=$(grep -o 'Absolute Stats: \[[0-9]* pkts rcvd' "$WORK/$mode.err" | tail -1 | grep -o '[0-9]*' || echo '?')
            row+=("$(echo "$COUNT / $secs" | bc)" "$(echo "($c1 - $c0) / $COUNT" | bc -l | xargs printf '%.1f')" "$rcvd")
        done
        printf '| %s B | %d | %.0f | %s | %s | %s | %s | %s | %s |\n' "$size" "$run" \
            "$(echo "$COUNT / $alone" | bc -l)" "${row[0]}" "${row[3]}" "${row[1]}" "${row[4]}" "${row[2]}" "${row[5]}"
    done
done
echo "  load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
