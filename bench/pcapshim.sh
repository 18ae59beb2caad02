#!/usr/bin/env bash
# tcpdump on our libpcap (pfring-pcap) vs tcpdump on the system's libpcap: the same Debian
# tcpdump binary, both capturing the same trafgen traffic at the same time (`-w /dev/null`)
# on a veth pair inside a private network namespace. Reports capture CPU time per packet,
# packets captured / dropped and RSS for each, and the shim/system CPU ratio per run.
#
#   sudo bench/pcapshim.sh                          # RUNS=5 COUNT=2000000, 60 B and 1514 B
#   sudo RUNS=3 COUNT=500000 SIZES="60" bench/pcapshim.sh
#
# Environment:
#   RUNS=5            runs per frame size (plus one generator-alone run first)
#   COUNT=2000000     frames sent per run
#   SIZES="60 1514"   frame sizes (60..1514)
#   RING_MB=64        -B of both tcpdumps (pcap_set_buffer_size)
#   SNAPLEN=1536      -s of both tcpdumps
#   GEN_CPU=0 CAP_CPU=1   cores of the generator and of both capture processes
#   SHIM=target/release/libpfring_pcap.so   (built by 'cargo build --release -p pfring-pcap')
#   OUT_DIR=bench/out
set -euo pipefail

RUNS=${RUNS:-5}
COUNT=${COUNT:-2000000}
SIZES=${SIZES:-"60 1514"}
RING_MB=${RING_MB:-64}
SNAPLEN=${SNAPLEN:-1536}
GEN_CPU=${GEN_CPU:-0}
CAP_CPU=${CAP_CPU:-1}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHIM=${SHIM:-$ROOT/target/release/libpfring_pcap.so}
OUT_DIR=${OUT_DIR:-$ROOT/bench/out}

START_TIMEOUT=10   # a tcpdump must be listening within this (seconds)
GEN_TIMEOUT=300    # one trafgen run
DRAIN_MIN=1.5      # after the generator: covers tcpdump's 1 s block timeout
DRAIN_MAX=30
STOP_TIMEOUT=15    # a tcpdump must exit within this after SIGINT

die() { echo "pcapshim.sh: $*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || die "needs root (network namespace, packet sockets)"
for c in ip trafgen tcpdump taskset timeout python3 readelf; do
    command -v "$c" >/dev/null || die "missing $c"
done
[[ -f $SHIM ]] || die "no $SHIM: run 'cargo build --release -p pfring-pcap' first"
[[ $(readelf -d "$SHIM") == *"Library soname: [libpcap.so.0.8]"* ]] || die "$SHIM has no SONAME libpcap.so.0.8"
[[ $RUNS =~ ^[1-9][0-9]*$ && $COUNT =~ ^[1-9][0-9]*$ ]] || die "RUNS and COUNT must be positive integers"
for s in $SIZES; do [[ $s =~ ^[0-9]+$ ]] && ((s >= 60 && s <= 1514)) || die "frame size $s not in 60..1514"; done
TCPDUMP=$(command -v tcpdump)

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_host_setup pfrshim pfrs
LIBDIR=$WORK/lib
mkdir -p "$LIBDIR"
ln -s "$SHIM" "$LIBDIR/libpcap.so.0.8"
# The shim must be what the dynamic linker picks, and tcpdump must say so.
LDD=$(LD_LIBRARY_PATH=$LIBDIR ldd "$TCPDUMP")
[[ $LDD == *"libpcap.so.0.8 => $LIBDIR/"* ]] || die "ldd does not resolve libpcap.so.0.8 to the shim: $LDD"
SHIM_VERSION=$(LD_LIBRARY_PATH=$LIBDIR "$TCPDUMP" --version 2>&1 | sed -n '/pfring-rs/p')
[[ -n $SHIM_VERSION ]] || die "tcpdump --version does not name pfring-rs"
SYS_VERSION=$("$TCPDUMP" --version 2>&1 | sed -n '/^libpcap/p')


parse_tcpdump() { # stderr file -> "captured dropped-by-kernel"
    awk '/^[0-9]+ packets? captured/ {c = $1} /^[0-9]+ packets? dropped by kernel/ {d = $1}
         END {print (c == "" ? "?" : c), (d == "" ? "?" : d)}' "$1"
}

start_tcpdump() { # err-file use-shim -> pid in STARTED
    local env=()
    if [[ $2 == 1 ]]; then env=(env "LD_LIBRARY_PATH=$LIBDIR"); else env=(env -u LD_LIBRARY_PATH); fi
    ip netns exec "$NS" taskset -c "$CAP_CPU" "${env[@]}" "$TCPDUMP" -Z root -i "$RX" -n -w /dev/null \
        -s "$SNAPLEN" -B $((RING_MB * 1024)) >/dev/null 2>"$1" &
    STARTED=$!
    PIDS+=("$STARTED")
}

mkdir -p "$OUT_DIR"
STAMP=$(date +%Y%m%d-%H%M%S)
CSV=$OUT_DIR/pcapshim-$STAMP.csv
LOGS=$OUT_DIR/pcapshim-$STAMP-logs
echo "date,size,run,count,gen_alone_pps,gen_pps,delivered,\
sh_cpu_ns,sh_pkts,sh_drops,sh_vmrss_kb,sh_rssanon_kb,sh_wakeups,\
sy_cpu_ns,sy_pkts,sy_drops,sy_vmrss_kb,sy_rssanon_kb,sy_wakeups" >"$CSV"

echo "pcapshim.sh: RUNS=$RUNS COUNT=$COUNT SIZES='$SIZES' RING_MB=$RING_MB SNAPLEN=$SNAPLEN"
echo "  $TCPDUMP on: shim = $SHIM_VERSION; system = $SYS_VERSION"
echo "  generator: trafgen on core $GEN_CPU; both tcpdumps: taskset -c $CAP_CPU; netns $NS ($TX -> $RX)"
echo "  $(uname -r), $(nproc) cores, commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'); load:$(uptime | sed 's/.*load average://')"

for size in $SIZES; do
    cfg=$WORK/gen-$size.cfg
    write_cfg "$size" "$cfg"
    run_gen "$cfg" "$WORK/gen-alone-$size.log"
    if [[ $GEN_SECS == "?" ]]; then alone_pps="?"; else alone_pps=$(awk -v c="$COUNT" -v s="$GEN_SECS" 'BEGIN {printf "%.0f", c / s}'); fi
    echo "  $size B: generator alone ${GEN_SECS}s = $alone_pps pps"
    for ((run = 1; run <= RUNS; run++)); do
        sh_err=$WORK/shim-$size-$run.err sy_err=$WORK/sys-$size-$run.err
        # Alternate the start order, so neither is always first on the core.
        if ((run % 2)); then
            start_tcpdump "$sh_err" 1; sh=$STARTED
            start_tcpdump "$sy_err" 0; sy=$STARTED
        else
            start_tcpdump "$sy_err" 0; sy=$STARTED
            start_tcpdump "$sh_err" 1; sh=$STARTED
        fi
        wait_for_line "$sh_err" "listening on" "$sh" || die "shim tcpdump did not start: $(cat "$sh_err")"
        wait_for_line "$sy_err" "listening on" "$sy" || die "system tcpdump did not start: $(cat "$sy_err")"
        sleep 0.5
        declare -A c0=() c1=() w0=() w1=() rss=()
        for p in "$sh" "$sy"; do c0[$p]=$(cpu_ns "$p"); w0[$p]=$(wakeups "$p"); done
        rx0=$(rx_packets_ns)
        run_gen "$cfg" "$WORK/gen-$size-$run.log"
        gen_secs=$GEN_SECS
        wait_drained "$sh" "$sy"
        rx1=$(rx_packets_ns)
        for p in "$sh" "$sy"; do rss[$p]=$(rss_kb "$p"); w1[$p]=$(wakeups "$p"); c1[$p]=$(cpu_ns "$p"); done
        stop_proc "$sh"; stop_proc "$sy"
        PIDS=()
        read -r sh_pkts sh_drops < <(parse_tcpdump "$sh_err")
        read -r sy_pkts sy_drops < <(parse_tcpdump "$sy_err")
        read -r sh_vm sh_anon <<<"${rss[$sh]}"
        read -r sy_vm sy_anon <<<"${rss[$sy]}"
        if [[ $gen_secs == "?" ]]; then gen_pps="?"; else gen_pps=$(awk -v c="$COUNT" -v s="$gen_secs" 'BEGIN {printf "%.0f", c / s}'); fi
        if [[ $rx0 == "?" || $rx1 == "?" ]]; then delivered="?"; else delivered=$((rx1 - rx0)); fi
        echo "$(date -Iseconds),$size,$run,$COUNT,$alone_pps,$gen_pps,$delivered,\
$((c1[$sh] - c0[$sh])),$sh_pkts,$sh_drops,$sh_vm,$sh_anon,$((w1[$sh] - w0[$sh])),\
$((c1[$sy] - c0[$sy])),$sy_pkts,$sy_drops,$sy_vm,$sy_anon,$((w1[$sy] - w0[$sy]))" >>"$CSV"
        echo "  $size B run $run/$RUNS: ${gen_pps} pps, shim $sh_pkts/$sh_drops, system $sy_pkts/$sy_drops (captured/dropped)"
        unset c0 c1 w0 w1 rss
    done
done

echo
python3 - "$CSV" "$RING_MB" <<'PY'
import csv, statistics, sys

path, ring_mb = sys.argv[1], int(sys.argv[2])
rows = list(csv.DictReader(open(path)))

def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None

def nspp(r, p):
    c, n = num(r[p + "_cpu_ns"]), num(r[p + "_pkts"])
    return c / n if c is not None and n else None

def f(v, fmt):
    return "?" if v is None else format(v, fmt)

for size in dict.fromkeys(r["size"] for r in rows):
    rs = [r for r in rows if r["size"] == size]
    count = int(rs[0]["count"])
    print(f"### {size} B frames, {count:,} per run (generator alone: {rs[0]['gen_alone_pps']} pps)\n")
    head = ["run", "wire pps"]
    for _, name in [("sh", "shim"), ("sy", "system")]:
        head += [f"{name} ns/pkt", f"{name} captured % / drops", f"{name} wake-ups/1k pkts", f"{name} VmRSS/RssAnon MiB"]
    head += ["shim/system ns/pkt"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    ratios = []
    for r in rs:
        cells = [r["run"], r["gen_pps"]]
        for p in ("sh", "sy"):
            n = num(r[p + "_pkts"])
            wk = num(r[p + "_wakeups"])
            vm, an = num(r[p + "_vmrss_kb"]), num(r[p + "_rssanon_kb"])
            cells += [f(nspp(r, p), ".1f"), f"{f(None if n is None else 100 * n / count, '.2f')} / {r[p + '_drops'] or '?'}",
                      f(wk * 1000 / n if wk is not None and n else None, ".2f"),
                      f"{f(vm and vm / 1024, '.1f')}/{f(an and an / 1024, '.1f')}"]
        a, b = nspp(r, "sh"), nspp(r, "sy")
        ratio = a / b if a and b else None
        if ratio is not None:
            ratios.append(ratio)
        cells.append(f(ratio, ".2f"))
        print("| " + " | ".join(cells) + " |")
    if ratios:
        print(f"\n{size} B: shim/system CPU ns/pkt ratio median {statistics.median(ratios):.2f} "
              f"({min(ratios):.2f}..{max(ratios):.2f}) over {len(ratios)} runs\n")
print(f"raw numbers: {path}")
PY
