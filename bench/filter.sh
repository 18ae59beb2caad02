#!/usr/bin/env bash
# What a kernel-side BPF filter saves: trafgen sends COUNT frames into a veth pair in a private
# network namespace (1) with nothing capturing, (2) with `pfcount -f <reject-all>` capturing,
# (3) with plain `pfcount` capturing. Reports the generator's rate in each case and pfcount's
# CPU time per *wire* packet. A filter that rejects in the kernel means no frame is copied into
# the ring, so (2) should cost ~0 CPU and leave the generator as fast as (1).
#
#   sudo bench/filter.sh                  # RUNS=3 COUNT=2000000 SIZES="60 1514"
#
# Environment: RUNS, COUNT, SIZES, FILTER (default "ip": the frames have EtherType 0x88B5, so
# it rejects all), PFCOUNT (default target/release/pfcount), GEN_CPU=0, CAP_CPU=1.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-3}
COUNT=${COUNT:-2000000}
SIZES=${SIZES:-"60 1514"}
FILTER=${FILTER:-ip}
PFCOUNT=${PFCOUNT:-$ROOT/target/release/pfcount}
GEN_CPU=${GEN_CPU:-0}
CAP_CPU=${CAP_CPU:-1}
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
single_flow_setup filter

# One run of the generator; prints elapsed seconds.
generate() { # size
    local cfg=$WORK/gen-$1.cfg
    # As in capture.sh: local experimental EtherType 0x88B5 (no protocol handler runs).
    printf '{ 0x02,0,0,0,0,2, 0x02,0,0,0,0,1, 0x88,0xb5, fill(0x00, %d) }\n' $(($1 - 14)) >"$cfg"
    local t0 t1
    t0=$(date +%s.%N)
    ip netns exec "$NS" taskset -c "$GEN_CPU" timeout 300 trafgen --dev "$TX" --conf "$cfg" \
        --num "$COUNT" --no-sock-mem --notouch-irq --cpus 1 >"$WORK/gen.log" 2>&1 ||
        die "trafgen failed: $(tail -2 "$WORK/gen.log")"
    t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc -l
}

echo "filter.sh: RUNS=$RUNS COUNT=$COUNT SIZES='$SIZES' FILTER='$FILTER'"
echo "  $(uname -r), $(nproc) cores; load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '| size | run | gen alone pps | gen pps with filtered pfcount | gen pps with plain pfcount | filtered pfcount ns/wire pkt | plain pfcount ns/wire pkt | filtered rcvd | plain rcvd |\n'
printf '|---|---|---|---|---|---|---|---|---|\n'
for size in $SIZES; do
    for ((run = 1; run <= RUNS; run++)); do
        alone=$(generate "$size")
        row=()
        for mode in filtered plain; do
            args=(-i "$RX" -q --ring-mb 64)
            [[ $mode == filtered ]] && args+=(-f "$FILTER")
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
