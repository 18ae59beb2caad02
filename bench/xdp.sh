#!/usr/bin/env bash
# AF_XDP capture benchmark: pfcount on `xdp:RX@0` vs pfcount on the AF_PACKET ring (`RX`) vs
# tcpdump, one at a time on the same trafgen traffic into a veth pair in a private namespace.
#
# What is compared is the TOTAL CPU per packet of capturing: the sending side's CPU time
# (trafgen + the veth transmit + the receive softirq, where the XDP program / the AF_PACKET
# tap run: veth delivers on the sending CPU; measured per task, see run_gen) plus the
# capture process's own CPU time. The
# generator alone (no capture process) is measured in the same run, so the capture cost is
# also given as "total - generator alone".
#
#   sudo bench/xdp.sh                          # RUNS=3 COUNT=2000000 SIZES="60 1514"
#   sudo RUNS=1 COUNT=500000 SIZES=60 bench/xdp.sh
#
# Environment: RUNS, COUNT, SIZES, SNAPLEN=1536, RING_MB=64 (AF_PACKET ring and tcpdump
# buffer), XDP_SLOTS=32768 (UMEM RX frames of the xdp: ring: 64 MiB of 2 KiB frames), GEN_CPU=0 CAP_CPU=1,
# PFCOUNT=target/release/pfcount, OUT_DIR=bench/out.
set -euo pipefail

RUNS=${RUNS:-3}
COUNT=${COUNT:-2000000}
SIZES=${SIZES:-"60 1514"}
SNAPLEN=${SNAPLEN:-1536}
RING_MB=${RING_MB:-64}
XDP_SLOTS=${XDP_SLOTS:-32768}
GEN_CPU=${GEN_CPU:-0}
CAP_CPU=${CAP_CPU:-1}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PFCOUNT=${PFCOUNT:-$ROOT/target/release/pfcount}
OUT_DIR=${OUT_DIR:-$ROOT/bench/out}

START_TIMEOUT=10
GEN_TIMEOUT=300
STOP_TIMEOUT=15

die() { echo "xdp.sh: $*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || die "needs root (network namespace, XDP, packet sockets)"
for c in ip trafgen tcpdump taskset timeout python3; do
    command -v "$c" >/dev/null || die "missing $c"
done
[[ -x $PFCOUNT ]] || die "no $PFCOUNT: run 'cargo build --release -p pfring-tools' first"
[[ $RUNS =~ ^[1-9][0-9]*$ && $COUNT =~ ^[1-9][0-9]*$ ]] || die "RUNS and COUNT must be positive integers"
for s in $SIZES; do [[ $s =~ ^[0-9]+$ ]] && ((s >= 60 && s <= 1514)) || die "frame size $s not in 60..1514"; done

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_host_setup pfrxdp pfrx
GEN_PID=""


write_cfg() { # size file: unicast to a MAC the receiver does not own, EtherType 0x88B5
    printf '{ 0x02,0x00,0x00,0x00,0x00,0x02, 0x02,0x00,0x00,0x00,0x00,0x01, 0x88,0xb5, fill(0x00, %d) }\n' \
        $(($1 - 14)) >"$2"
}

# CPU time (ns) of this shell's waited-for children (user + system), from `times`.
children_ns() {
    times | awk 'NR == 2 {
        split($1, u, /[ms]/); split($2, s, /[ms]/)
        printf "%d\n", ((u[1] * 60 + u[2]) + (s[1] * 60 + s[2])) * 1e9 }'
}

# irq + softirq jiffies of core $1 (softirqs run outside any task's accounting when the
# kernel has IRQ time accounting).
core_irq_jiffies() {
    awk -v c="cpu$1" '$1 == c {print $7 + $8}' /proc/stat
}

KSOFTIRQD=$(pgrep -x "ksoftirqd/$GEN_CPU" | head -1 || true)

# Runs trafgen on GEN_CPU and sets GEN_BUSY_NS, the sending side's CPU time: trafgen's own
# time (user + system, including the softirqs it runs on its way out) + irq/softirq time of
# the generator core + ksoftirqd/GEN_CPU. Per-task accounting, so the other processes of
# a shared machine do not count. GEN_SECS is trafgen's own timer.
run_gen() { # cfg log
    local ch0 ch1 i0 i1 k0=0 k1=0 hz rc=0
    hz=$(getconf CLK_TCK)
    ch0=$(children_ns)
    i0=$(core_irq_jiffies "$GEN_CPU")
    if [[ -n $KSOFTIRQD ]]; then k0=$(cpu_ns "$KSOFTIRQD"); fi
    timeout "$GEN_TIMEOUT" ip netns exec "$NS" taskset -c "$GEN_CPU" \
        trafgen --no-sock-mem --notouch-irq --cpus 1 --dev "$TX" --conf "$1" --num "$COUNT" \
        >"$2" 2>&1 &
    GEN_PID=$!
    wait "$GEN_PID" || rc=$?
    GEN_PID=""
    # Let the receive softirq finish on the generator core.
    sleep 0.3
    ch1=$(children_ns)
    i1=$(core_irq_jiffies "$GEN_CPU")
    if [[ -n $KSOFTIRQD ]]; then k1=$(cpu_ns "$KSOFTIRQD"); fi
    ((rc == 0)) || echo "  warning: trafgen exited with $rc" >&2
    GEN_BUSY_NS=$(((ch1 - ch0) + (i1 - i0) * 1000000000 / hz + (k1 - k0)))
    GEN_SECS=$(awk '/usec on CPU/ {for (i = 1; i <= NF; i++) {if ($(i) == "sec,") s = $(i-1); if ($(i) == "usec") u = $(i-1)}}
         END {if (s == "" || u == "") print "?"; else printf "%.6f\n", s + u / 1e6}' "$2")
}

parse_pfcount() {
    awk '/Absolute Stats:/ {
            if (match($0, /\[[0-9]+ pkts rcvd\]/)) { r = substr($0, RSTART + 1, RLENGTH - 2); sub(/ .*/, "", r) }
            if (match($0, /\[[0-9]+ pkts dropped\]/)) { d = substr($0, RSTART + 1, RLENGTH - 2); sub(/ .*/, "", d) }
         }
         END {print (r == "" ? "?" : r), (d == "" ? "?" : d)}' "$1"
}
parse_tcpdump() {
    awk '/^[0-9]+ packets? captured/ {c = $1} /^[0-9]+ packets? dropped by kernel/ {d = $1}
         END {print (c == "" ? "?" : c), (d == "" ? "?" : d)}' "$1"
}

# Starts one capturer ($1 = xdp | packet | tcpdump), waits until it listens; sets CAP_PID.
start_capture() { # kind out err
    case $1 in
        xdp) PFRING_XDP_MODE=native ip netns exec "$NS" taskset -c "$CAP_CPU" "$PFCOUNT" -i "xdp:$RX@0" -q -l "$SNAPLEN" --slots "$XDP_SLOTS" >"$2" 2>"$3" & ;;
        xdpgeneric) PFRING_XDP_MODE=generic ip netns exec "$NS" taskset -c "$CAP_CPU" "$PFCOUNT" -i "xdp:$RX@0" -q -l "$SNAPLEN" --slots "$XDP_SLOTS" >"$2" 2>"$3" & ;;
        packet) ip netns exec "$NS" taskset -c "$CAP_CPU" "$PFCOUNT" -i "$RX" -q -l "$SNAPLEN" --ring-mb "$RING_MB" >"$2" 2>"$3" & ;;
        tcpdump) ip netns exec "$NS" taskset -c "$CAP_CPU" tcpdump -i "$RX" -n -w /dev/null -s "$SNAPLEN" -B $((RING_MB * 1024)) >"$2" 2>"$3" & ;;
    esac
    CAP_PID=$!
    PIDS+=("$CAP_PID")
    local pat="Capturing from" f=$2
    if [[ $1 == tcpdump ]]; then pat="listening on" f=$3; fi
    wait_for_line "$f" "$pat" "$CAP_PID" || die "$1 did not start: $(cat "$3")"
    sleep 0.5
}

mkdir -p "$OUT_DIR"
STAMP=$(date +%Y%m%d-%H%M%S)
CSV=$OUT_DIR/xdp-$STAMP.csv
LOGS=$OUT_DIR/xdp-$STAMP-logs
echo "date,size,run,kind,count,gen_secs,gen_busy_ns,alone_busy_ns,cap_cpu_ns,pkts,drops,vmrss_kb,rssanon_kb" >"$CSV"
echo "xdp.sh: RUNS=$RUNS COUNT=$COUNT SIZES='$SIZES' SNAPLEN=$SNAPLEN RING_MB=$RING_MB XDP_SLOTS=$XDP_SLOTS"
echo "  trafgen on core $GEN_CPU, captures on core $CAP_CPU; $(uname -r), $(nproc) cores; pfcount $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"

for size in $SIZES; do
    cfg=$WORK/gen-$size.cfg
    write_cfg "$size" "$cfg"
    for ((run = 1; run <= RUNS; run++)); do
        run_gen "$cfg" "$WORK/alone-$size-$run.log"
        alone=$GEN_BUSY_NS
        line="  $size B run $run/$RUNS: generator alone $((alone / COUNT)) ns/pkt"
        for kind in xdp xdpgeneric packet tcpdump; do
            out=$WORK/$kind-$size-$run.out err=$WORK/$kind-$size-$run.err
            start_capture "$kind" "$out" "$err"
            c0=$(cpu_ns "$CAP_PID")
            run_gen "$cfg" "$WORK/gen-$kind-$size-$run.log"
            sleep 1
            c1=$(cpu_ns "$CAP_PID")
            read -r vm anon < <(rss_kb "$CAP_PID")
            stop_proc "$CAP_PID"
            PIDS=()
            if [[ $kind == tcpdump ]]; then read -r pk dr < <(parse_tcpdump "$err"); else read -r pk dr < <(parse_pfcount "$err"); fi
            echo "$(date -Iseconds),$size,$run,$kind,$COUNT,$GEN_SECS,$GEN_BUSY_NS,$alone,$((c1 - c0)),$pk,$dr,$vm,$anon" >>"$CSV"
            line+=", $kind $pk/$dr"
        done
        echo "$line (rcvd/dropped)"
    done
done
echo
python3 - "$CSV" "$RING_MB" "$XDP_SLOTS" <<'PY'
import csv, statistics, sys
path, ring_mb, slots = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rows = list(csv.DictReader(open(path)))
def num(v):
    try: return float(v)
    except (TypeError, ValueError): return None
# UMEM of the xdp: ring: RX frames (slots rounded up to a power of two) + TX frames, 2 KiB each.
rx = 1
while rx < max(64, min(slots, 32768)): rx *= 2
umem_mb = (rx + max(64, min(rx // 4, 2048))) * 2048 / 2**20
mem = {"xdp": umem_mb, "xdpgeneric": umem_mb, "packet": ring_mb, "tcpdump": ring_mb}
names = {"xdp": "pfcount xdp: (native XDP)", "xdpgeneric": "pfcount xdp: (generic XDP)",
         "packet": "pfcount AF_PACKET", "tcpdump": "tcpdump"}
for size in dict.fromkeys(r["size"] for r in rows):
    print(f"### {size} B frames, {rows[0]['count']} per run\n")
    print("| capturer | total ns/pkt (gen core + capture) | capture cost ns/pkt (total - gen alone) | capture process ns/pkt | captured / drops | VmRSS - ring MiB |")
    print("|---|---|---|---|---|---|")
    med = {}
    for kind in ["xdp", "xdpgeneric", "packet", "tcpdump"]:
        rs = [r for r in rows if r["size"] == size and r["kind"] == kind]
        tot, cost, proc = [], [], []
        for r in rs:
            n = int(r["count"])
            g, a, c = num(r["gen_busy_ns"]), num(r["alone_busy_ns"]), num(r["cap_cpu_ns"])
            tot.append((g + c) / n); cost.append((g - a + c) / n); proc.append(c / n)
        m = lambda xs: statistics.median(xs)
        med[kind] = (m(tot), m(cost))
        caps = "/".join(f"{r['pkts']}/{r['drops']}" for r in rs)
        rss = "/".join(f"{(num(r['vmrss_kb']) or 0) / 1024 - mem[kind]:.1f}" for r in rs)
        print(f"| {names[kind]} | {m(tot):.0f} ({min(tot):.0f}..{max(tot):.0f}) | {m(cost):.0f} ({min(cost):.0f}..{max(cost):.0f}) | {m(proc):.0f} | {caps} | {rss} |")
    p, t = med["packet"], med["tcpdump"]
    print()
    for kind, label in [("xdp", "native"), ("xdpgeneric", "generic")]:
        x = med[kind]
        print(f"ratios (medians), xdp: {label}: total xdp/AF_PACKET {x[0] / p[0]:.2f}, xdp/tcpdump {x[0] / t[0]:.2f}; "
              f"capture cost xdp/AF_PACKET {x[1] / p[1]:.2f}, xdp/tcpdump {x[1] / t[1]:.2f}")
    print()
print(f"raw numbers: {path}")
PY
