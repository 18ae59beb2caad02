#!/usr/bin/env bash
# Cluster benchmark: one pfcount socket vs a 2-member cluster (two pfcount processes, and one
# pfcount with two threads) on the same traffic, on a veth pair inside a private network
# namespace. See bench/README.md ("cluster.sh") for what is measured and the caveats.
#
#   sudo bench/cluster.sh
#   sudo COUNT=500000 RATES="300000 600000" bench/cluster.sh
#
# Environment:
#   RUNS=3               full-speed runs of each configuration (interleaved; medians reported)
#   COUNT=2000000        frames of each full-speed run
#   SWEEP_COUNT=300000   frames of each run of the lossless-rate sweep
#   RATES="250000 500000 750000 1000000 1250000 1500000"  sweep rates (pps, ascending)
#   SIZE=60              frame size (bytes without FCS)
#   FLOWS: the frames are UDP with random source address / port and destination address
#          bytes (trafgen drnd), so a cluster spreads them
#   TYPE=4               cluster type (-H) of the cluster configurations
#   RING_MB=64           ring size of every pfcount socket
#   GEN_CPU=0 CAP_CPU=1  cores of the generator and of the capture processes
#   PFCOUNT=target/release/pfcount
#   OUT_DIR=bench/out
set -euo pipefail

RUNS=${RUNS:-3}
COUNT=${COUNT:-2000000}
SWEEP_COUNT=${SWEEP_COUNT:-300000}
RATES=${RATES:-"250000 500000 750000 1000000 1250000 1500000"}
SIZE=${SIZE:-60}
TYPE=${TYPE:-4}
RING_MB=${RING_MB:-64}
GEN_CPU=${GEN_CPU:-0}
CAP_CPU=${CAP_CPU:-1}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PFCOUNT=${PFCOUNT:-$ROOT/target/release/pfcount}
OUT_DIR=${OUT_DIR:-$ROOT/bench/out}

START_TIMEOUT=10
GEN_TIMEOUT=300
STOP_TIMEOUT=15

die() { echo "cluster.sh: $*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || die "needs root (network namespace, packet sockets)"
for c in ip trafgen taskset timeout python3; do
    command -v "$c" >/dev/null || die "missing $c"
done
[[ -x $PFCOUNT ]] || die "no $PFCOUNT: run 'cargo build --release -p pfring-tools' first"
[[ $COUNT =~ ^[1-9][0-9]*$ && $SWEEP_COUNT =~ ^[1-9][0-9]*$ ]] || die "COUNT and SWEEP_COUNT must be positive integers"
for r in $RATES; do [[ $r =~ ^[1-9][0-9]*$ ]] || die "rate $r is not a positive integer"; done
[[ $SIZE =~ ^[0-9]+$ ]] && ((SIZE >= 60 && SIZE <= 1514)) || die "SIZE $SIZE not in 60..1514"
taskset -c "$GEN_CPU" true && taskset -c "$CAP_CPU" true || die "cores $GEN_CPU/$CAP_CPU not usable"

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_host_setup pfrclus pfrc


# IPv4/UDP to a MAC nobody owns; random source address (2 bytes), destination address
# (2 bytes) and source port per frame.
CFG=$WORK/gen.cfg
printf '{ 0x02,0x00,0x00,0x00,0x00,0x02, 0x02,0x00,0x00,0x00,0x00,0x01, 0x08,0x00,
  0x45,0x00, const16(%d), 0x00,0x01, 0x00,0x00, 0x40, 0x11, 0x00,0x00,
  10,0, drnd(2), 192,168, drnd(2),
  drnd(2), 0x00,0x35, const16(%d), 0x00,0x00,
  fill(0x00, %d) }\n' $((SIZE - 14)) $((SIZE - 34)) $((SIZE - 42)) >"$CFG"

# CPU time (ns) of the softirq threads of both cores: under load the receive path moves
# from the sender's context to ksoftirqd.
KSOFTIRQD=$(pgrep -x "ksoftirqd/$GEN_CPU"; pgrep -x "ksoftirqd/$CAP_CPU")
ksoftirqd_ns() {
    local p s=0
    for p in $KSOFTIRQD; do s=$((s + $(cpu_ns "$p"))); done
    echo "$s"
}

GEN_PID=""
run_gen() { # count rate(0 = full speed) log
    local rate=()
    [[ $2 == 0 ]] || rate=(--rate "${2}pps")
    # bash's `time` reports the CPU time of trafgen (waited for by timeout): with veth the
    # receive path (fanout program, copies into the rings) runs in softirq on the sending
    # CPU, mostly accounted to the sender.
    (
        TIMEFORMAT='GENCPU %3U %3S'
        time timeout "$GEN_TIMEOUT" ip netns exec "$NS" taskset -c "$GEN_CPU" \
            trafgen --no-sock-mem --notouch-irq --cpus 1 --dev "$TX" --conf "$CFG" --num "$1" "${rate[@]}" \
            >"$3" 2>&1
    ) 2>"$3.time" &
    GEN_PID=$!
    local rc=0 k0
    k0=$(ksoftirqd_ns)
    wait "$GEN_PID" || rc=$?
    SOFTIRQ_NS=$(($(ksoftirqd_ns) - k0))
    GEN_PID=""
    ((rc == 0)) || echo "  warning: trafgen exited with $rc" >&2
    GEN_CPU_NS=$(awk '/^GENCPU/ {printf "%.0f\n", ($2 + $3) * 1e9}' "$3.time")
    [[ -n $GEN_CPU_NS ]] || GEN_CPU_NS="?"
    GEN_SECS=$(awk '/usec on CPU/ {for (i = 1; i <= NF; i++) {if ($(i) == "sec,") s = $(i-1); if ($(i) == "usec") u = $(i-1)}}
         END {if (s == "" || u == "") print "?"; else printf "%.6f\n", s + u / 1e6}' "$3")
}

parse_pfcount() { # stderr file -> "rcvd dropped" of the last stats block (the total with -n)
    awk '/Absolute Stats:/ {
            if (match($0, /\[[0-9]+ pkts rcvd\]/)) { r = substr($0, RSTART + 1, RLENGTH - 2); sub(/ .*/, "", r) }
            if (match($0, /\[[0-9]+ pkts dropped\]/)) { d = substr($0, RSTART + 1, RLENGTH - 2); sub(/ .*/, "", d) }
         }
         END {print (r == "" ? "?" : r), (d == "" ? "?" : d)}' "$1"
}

# Starts the capture processes of configuration $1; sets CAPS (pids) and ERRS (stderr files).
start_config() { # config tag
    CAPS=() ERRS=()
    local args=() n=1 k
    case $1 in
    single) args=(-i "$RX") ;;
    cluster2) args=(-i "$RX" -c 7 -H "$TYPE"); n=2 ;;
    threads2) args=(-i "$RX" -c 8 -H "$TYPE" -n 2) ;;
    esac
    for ((k = 0; k < n; k++)); do
        local out=$WORK/$2-$k.out err=$WORK/$2-$k.err
        ip netns exec "$NS" taskset -c "$CAP_CPU" "$PFCOUNT" "${args[@]}" -q --ring-mb "$RING_MB" \
            >"$out" 2>"$err" &
        local p=$!
        PIDS+=("$p"); CAPS+=("$p"); ERRS+=("$err")
        wait_for_line "$out" "# Polling threads" "$p" || die "pfcount did not start: $(cat "$err")"
    done
    sleep 0.5
}

# Stops them and sets RCVD / DROPS (sums) and CPU_NS (CPU time since CPU0 was sampled).
stop_config() {
    local p i=0 r d
    CPU_NS=0
    for p in "${CAPS[@]}"; do CPU_NS=$((CPU_NS + $(cpu_ns "$p") - ${CPU0[$p]})); done
    for p in "${CAPS[@]}"; do stop_proc "$p"; done
    PIDS=()
    RCVD=0 DROPS=0
    for i in "${!ERRS[@]}"; do
        read -r r d < <(parse_pfcount "${ERRS[$i]}")
        [[ $r == "?" || $d == "?" ]] && { RCVD="?"; DROPS="?"; return; }
        RCVD=$((RCVD + r)); DROPS=$((DROPS + d))
    done
}

mkdir -p "$OUT_DIR"
STAMP=$(date +%Y%m%d-%H%M%S)
CSV=$OUT_DIR/cluster-$STAMP.csv
LOGS=$OUT_DIR/cluster-$STAMP-logs
echo "date,config,kind,run,rate,count,gen_secs,gen_pps,gen_cpu_ns,ksoftirqd_ns,rcvd,drops,cap_cpu_ns" >"$CSV"

echo "cluster.sh: COUNT=$COUNT SWEEP_COUNT=$SWEEP_COUNT SIZE=$SIZE TYPE=$TYPE RATES='$RATES' RING_MB=$RING_MB"
echo "  generator: trafgen on core $GEN_CPU; captures: taskset -c $CAP_CPU; netns $NS ($TX -> $RX)"
echo "  pfcount: $PFCOUNT ($(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo "  $(uname -r), $(nproc) cores; load at start:$(uptime | sed 's/.*load average://')"

# The generator alone (no capture socket): the wire rate and the system's CPU without capture.
for ((run = 1; run <= RUNS; run++)); do
    run_gen "$COUNT" 0 "$WORK/gen-alone-$run.log"
    alone_pps=$(awk -v c="$COUNT" -v s="$GEN_SECS" 'BEGIN {print (s == "?" ? "?" : int(c / s))}')
    echo "$(date -Iseconds),none,full,$run,0,$COUNT,$GEN_SECS,$alone_pps,$GEN_CPU_NS,$SOFTIRQ_NS,,," >>"$CSV"
    echo "  run $run/$RUNS: generator alone: $alone_pps pps"
    for config in single cluster2 threads2; do
        start_config "$config" "$config-full-$run"
        declare -A CPU0=()
        for p in "${CAPS[@]}"; do CPU0[$p]=$(cpu_ns "$p"); done
        run_gen "$COUNT" 0 "$WORK/gen-$config-full-$run.log"
        wait_drained "${CAPS[@]}"
        stop_config
        gen_pps=$(awk -v c="$COUNT" -v s="$GEN_SECS" 'BEGIN {print (s == "?" ? "?" : int(c / s))}')
        echo "$(date -Iseconds),$config,full,$run,0,$COUNT,$GEN_SECS,$gen_pps,$GEN_CPU_NS,$SOFTIRQ_NS,$RCVD,$DROPS,$CPU_NS" >>"$CSV"
        echo "  run $run/$RUNS: $config full speed: $gen_pps pps, $RCVD rcvd, $DROPS dropped"
        unset CPU0
    done
done

for config in single cluster2 threads2; do    # Lossless-rate sweep: ascending rates until the first loss.
    for rate in $RATES; do
        start_config "$config" "$config-$rate"
        declare -A CPU0=()
        for p in "${CAPS[@]}"; do CPU0[$p]=$(cpu_ns "$p"); done
        run_gen "$SWEEP_COUNT" "$rate" "$WORK/gen-$config-$rate.log"
        wait_drained "${CAPS[@]}"
        stop_config
        gen_pps=$(awk -v c="$SWEEP_COUNT" -v s="$GEN_SECS" 'BEGIN {print (s == "?" ? "?" : int(c / s))}')
        echo "$(date -Iseconds),$config,sweep,1,$rate,$SWEEP_COUNT,$GEN_SECS,$gen_pps,$GEN_CPU_NS,$SOFTIRQ_NS,$RCVD,$DROPS,$CPU_NS" >>"$CSV"
        echo "  $config at $rate pps: sent at $gen_pps pps, $RCVD rcvd, $DROPS dropped"
        unset CPU0
        [[ $RCVD == "$SWEEP_COUNT" && $DROPS == 0 ]] || break
        # The generator cannot go faster on this machine: higher rates measure nothing new.
        if [[ $gen_pps == "?" ]] || ((gen_pps * 10 < rate * 9)); then
            echo "  (the generator reached only $gen_pps of $rate pps: sweep stopped)"
            break
        fi
    done
done

echo "  load at end:$(uptime | sed 's/.*load average://')"
echo
python3 - "$CSV" <<'PY'
import csv, statistics, sys

path = sys.argv[1]
rows = list(csv.DictReader(open(path)))

def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None

def fmt(v, f=".1f"):
    return "?" if v is None else format(v, f)

def kernel_ns(r):
    g, k = num(r["gen_cpu_ns"]), num(r["ksoftirqd_ns"])
    return (g + k) / int(r["count"]) if g is not None and k is not None else None

alone = [r for r in rows if r["config"] == "none"]
alone_ns = med([kernel_ns(r) for r in alone])
alone_pps = med([num(r["gen_pps"]) for r in alone])
names = {"single": "one socket", "cluster2": "cluster of 2 (2 processes)", "threads2": "cluster of 2 (pfcount -n 2)"}
print("| configuration | full-speed wire pps | captured / drops (all runs) | capture processes ns/pkt | sender + softirq ns/pkt over generator alone | total capture cost ns/pkt | highest lossless rate reached (pps) |")
print("|---|---|---|---|---|---|---|")
res = {}
for cfg in ["single", "cluster2", "threads2"]:
    full = [r for r in rows if r["config"] == cfg and r["kind"] == "full"]
    if not full:
        continue
    pps = med([num(r["gen_pps"]) for r in full])
    cap = med([num(r["cap_cpu_ns"]) / num(r["rcvd"]) if num(r["rcvd"]) and num(r["cap_cpu_ns"]) is not None else None for r in full])
    kern = med([kernel_ns(r) for r in full])
    kern = kern - alone_ns if kern is not None and alone_ns is not None else None
    tot = cap + kern if cap is not None and kern is not None else None
    rcvd = sum(int(r["rcvd"]) for r in full if r["rcvd"].isdigit())
    drops = sum(int(r["drops"]) for r in full if r["drops"].isdigit())
    sent = sum(int(r["count"]) for r in full)
    ok = [num(r["gen_pps"]) for r in rows if r["config"] == cfg
          and r["rcvd"] == r["count"] and r["drops"] == "0"]
    best = max([x for x in ok if x is not None], default=None)
    res[cfg] = (cap, kern, tot, best, pps)
    print(f"| {names[cfg]} | {fmt(pps, '.0f')} | {rcvd} of {sent} / {drops} | {fmt(cap)} | {fmt(kern)} | {fmt(tot)} | {fmt(best, '.0f')} |")
print()
s = res.get("single")
for cfg in ["cluster2", "threads2"]:
    c = res.get(cfg)
    if s and c and s[2] and c[2] and s[3] and c[3]:
        print(f"{names[cfg]} / one socket: total capture cost per packet {c[2] / s[2]:.2f}x, "
              f"full-speed wire rate {c[4] / s[4]:.2f}x, highest lossless rate {c[3] / s[3]:.2f}x")
print(f"(generator alone: {fmt(alone_pps, '.0f')} pps, {fmt(alone_ns)} ns/pkt of sender + softirq CPU)")
print(f"raw numbers: {path}")
PY
