#!/usr/bin/env bash
# End-to-end capture benchmark: pfcount vs tcpdump (and netsniff-ng) on a veth pair inside a
# private network namespace. See bench/README.md for what is measured and the caveats.
#
#   sudo bench/capture.sh                        # RUNS=5 COUNT=2000000, 60 B and 1514 B
#   sudo RUNS=3 COUNT=500000 SIZES="60" bench/capture.sh
#
# Environment:
#   RUNS=5            runs per frame size (plus one generator-alone run first)
#   COUNT=2000000     frames sent per run
#   SIZES="60 1514"   frame sizes (bytes on the wire without FCS; 60..1514)
#   NETSNIFF=1        also capture with netsniff-ng, at the same time (0: pfcount+tcpdump only)
#   RING_MB=64        ring size of every capture process
#   SNAPLEN=1536      snap length of every capture process
#   GEN_CPU=0 CAP_CPU=1   cores of the generator and of the capture processes
#   PFCOUNT=target/release/pfcount
#   PFCOUNT_ARGS=""      extra pfcount flags (e.g. "--block-ms 64")
#   OUT_DIR=bench/out
set -euo pipefail

RUNS=${RUNS:-5}
COUNT=${COUNT:-2000000}
SIZES=${SIZES:-"60 1514"}
NETSNIFF=${NETSNIFF:-1}
RING_MB=${RING_MB:-64}
SNAPLEN=${SNAPLEN:-1536}
GEN_CPU=${GEN_CPU:-0}
CAP_CPU=${CAP_CPU:-1}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PFCOUNT=${PFCOUNT:-$ROOT/target/release/pfcount}
PFCOUNT_ARGS=${PFCOUNT_ARGS:-}
OUT_DIR=${OUT_DIR:-$ROOT/bench/out}

# Bounds of every wait (seconds).
START_TIMEOUT=10   # a capture process must be listening within this
GEN_TIMEOUT=300    # one trafgen run
DRAIN_MIN=1.5      # after the generator: covers tcpdump's 1 s block-retire timeout
DRAIN_MAX=30       # ... and at most this long for the CPU time to settle
STOP_TIMEOUT=15    # a capture process must exit within this after SIGINT

die() { echo "capture.sh: $*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || die "needs root (network namespace, packet sockets)"
for c in ip trafgen tcpdump taskset timeout python3; do
    command -v "$c" >/dev/null || die "missing $c"
done
if [[ $NETSNIFF == 1 ]]; then command -v netsniff-ng >/dev/null || die "missing netsniff-ng (or NETSNIFF=0)"; fi
[[ -x $PFCOUNT ]] || die "no $PFCOUNT: run 'cargo build --release -p pfring-tools' first"
[[ $RUNS =~ ^[1-9][0-9]*$ && $COUNT =~ ^[1-9][0-9]*$ ]] || die "RUNS and COUNT must be positive integers"
for s in $SIZES; do [[ $s =~ ^[0-9]+$ ]] && ((s >= 60 && s <= 1514)) || die "frame size $s not in 60..1514"; done
taskset -c "$GEN_CPU" true && taskset -c "$CAP_CPU" true || die "cores $GEN_CPU/$CAP_CPU not usable"

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_host_setup pfrbench pfrb

# ---------------------------------------------------------------- helpers



# ---- parsers of the capture processes' exit output; "?" when not found
parse_pfcount() { # stderr file -> "rcvd dropped" (last stats block)
    awk '/Absolute Stats:/ {
            if (match($0, /\[[0-9]+ pkts rcvd\]/)) { r = substr($0, RSTART + 1, RLENGTH - 2); sub(/ .*/, "", r) }
            if (match($0, /\[[0-9]+ pkts dropped\]/)) { d = substr($0, RSTART + 1, RLENGTH - 2); sub(/ .*/, "", d) }
         }
         END {print (r == "" ? "?" : r), (d == "" ? "?" : d)}' "$1"
}
parse_tcpdump() { # stderr file -> "captured dropped-by-kernel"
    awk '/^[0-9]+ packets? captured/ {c = $1} /^[0-9]+ packets? dropped by kernel/ {d = $1}
         END {print (c == "" ? "?" : c), (d == "" ? "?" : d)}' "$1"
}
parse_netsniff() { # stdout file -> "passed-filter failed-filter(out of space)"
    tr '\r' '\n' <"$1" | awk '/packets passed filter/ {p = $1} /packets failed filter/ {f = $1}
         END {print (p ~ /^[0-9]+$/ ? p : "?"), (f ~ /^[0-9]+$/ ? f : "?")}'
}

# ---------------------------------------------------------------- main

mkdir -p "$OUT_DIR"
STAMP=$(date +%Y%m%d-%H%M%S)
CSV=$OUT_DIR/capture-$STAMP.csv
LOGS=$OUT_DIR/capture-$STAMP-logs # the raw output of every process, copied there on exit
echo "date,size,run,count,gen_alone_pps,gen_secs,gen_pps,delivered,loadavg1,core${GEN_CPU}_busy_pct,core${CAP_CPU}_busy_pct,\
pf_cpu_ns,pf_pkts,pf_drops,pf_vmrss_kb,pf_rssanon_kb,pf_wakeups,\
td_cpu_ns,td_pkts,td_drops,td_vmrss_kb,td_rssanon_kb,td_wakeups,\
ns_cpu_ns,ns_pkts,ns_drops,ns_vmrss_kb,ns_rssanon_kb,ns_wakeups" >"$CSV"

echo "capture.sh: RUNS=$RUNS COUNT=$COUNT SIZES='$SIZES' NETSNIFF=$NETSNIFF RING_MB=$RING_MB SNAPLEN=$SNAPLEN"
echo "  generator: trafgen on core $GEN_CPU; captures: taskset -c $CAP_CPU; netns $NS ($TX -> $RX)"
echo "  pfcount: $PFCOUNT ($(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo "  $(uname -r), $(nproc) cores; load at start:$(uptime | sed 's/.*load average://')"

for size in $SIZES; do
    cfg=$WORK/gen-$size.cfg
    write_cfg "$size" "$cfg"

    # The generator alone, same count, no capture process.
    run_gen "$cfg" "$WORK/gen-alone-$size.log"
    alone_secs=$GEN_SECS
    if [[ $alone_secs == "?" ]]; then alone_pps="?"; else alone_pps=$(awk -v c="$COUNT" -v s="$alone_secs" 'BEGIN {printf "%.0f", c / s}'); fi
    echo "  $size B: generator alone ${alone_secs}s = $alone_pps pps"

    for ((run = 1; run <= RUNS; run++)); do
        pf_err=$WORK/pf-$size-$run.err td_err=$WORK/td-$size-$run.err ns_out=$WORK/ns-$size-$run.out
        ip netns exec "$NS" taskset -c "$CAP_CPU" "$PFCOUNT" -i "$RX" -q -l "$SNAPLEN" --ring-mb "$RING_MB" $PFCOUNT_ARGS \
            >"$WORK/pf-$size-$run.out" 2>"$pf_err" &
        pf=$!; PIDS+=("$pf")
        ip netns exec "$NS" taskset -c "$CAP_CPU" tcpdump -i "$RX" -n -w /dev/null -s "$SNAPLEN" -B $((RING_MB * 1024)) \
            >/dev/null 2>"$td_err" &
        td=$!; PIDS+=("$td")
        caps=("$pf" "$td")
        ns=""
        if [[ $NETSNIFF == 1 ]]; then
            ip netns exec "$NS" taskset -c "$CAP_CPU" netsniff-ng --in "$RX" --out /dev/null --silent \
                --ring-size "${RING_MB}MiB" --no-sock-mem --notouch-irq >"$ns_out" 2>"$WORK/ns-$size-$run.err" &
            ns=$!; PIDS+=("$ns"); caps+=("$ns")
        fi
        wait_for_line "$WORK/pf-$size-$run.out" "Capturing from" "$pf" || die "pfcount did not start: $(cat "$pf_err")"
        wait_for_line "$td_err" "listening on" "$td" || die "tcpdump did not start: $(cat "$td_err")"
        if [[ -n $ns ]]; then
            wait_for_line "$ns_out" "Running!" "$ns" || die "netsniff-ng did not start: $(cat "$WORK/ns-$size-$run.err")"
        fi
        sleep 0.5 # let every process reach its poll loop

        declare -A c0=()
        declare -A w0=() w1=()
        for p in "${caps[@]}"; do c0[$p]=$(cpu_ns "$p"); w0[$p]=$(wakeups "$p"); done
        rx0=$(rx_packets_ns)
        read -r g_b0 g_t0 < <(core_jiffies "$GEN_CPU")
        read -r c_b0 c_t0 < <(core_jiffies "$CAP_CPU")
        run_gen "$cfg" "$WORK/gen-$size-$run.log"
        gen_secs=$GEN_SECS
        read -r g_b1 g_t1 < <(core_jiffies "$GEN_CPU")
        read -r c_b1 c_t1 < <(core_jiffies "$CAP_CPU")
        wait_drained "${caps[@]}"
        rx1=$(rx_packets_ns)

        declare -A c1=() rss=()
        for p in "${caps[@]}"; do rss[$p]=$(rss_kb "$p"); w1[$p]=$(wakeups "$p"); c1[$p]=$(cpu_ns "$p"); done
        for p in "${caps[@]}"; do stop_proc "$p"; done
        PIDS=()

        read -r pf_pkts pf_drops < <(parse_pfcount "$pf_err")
        read -r td_pkts td_drops < <(parse_tcpdump "$td_err")
        if [[ -n $ns ]]; then read -r ns_pkts ns_drops < <(parse_netsniff "$ns_out"); fi
        read -r pf_vm pf_anon <<<"${rss[$pf]}"
        read -r td_vm td_anon <<<"${rss[$td]}"
        ns_cpu="" ns_vm="" ns_anon="" ns_wk=""
        if [[ -n $ns ]]; then
            ns_cpu=$((c1[$ns] - c0[$ns]))
            ns_wk=$((w1[$ns] - w0[$ns]))
            read -r ns_vm ns_anon <<<"${rss[$ns]}"
        else
            ns_pkts="" ns_drops=""
        fi
        if [[ $gen_secs == "?" ]]; then gen_pps="?"; else gen_pps=$(awk -v c="$COUNT" -v s="$gen_secs" 'BEGIN {printf "%.0f", c / s}'); fi
        if [[ $rx0 == "?" || $rx1 == "?" ]]; then delivered="?"; else delivered=$((rx1 - rx0)); fi
        g_busy=$(awk -v b=$((g_b1 - g_b0)) -v t=$((g_t1 - g_t0)) 'BEGIN {printf "%.0f", (t > 0 ? 100 * b / t : 0)}')
        c_busy=$(awk -v b=$((c_b1 - c_b0)) -v t=$((c_t1 - c_t0)) 'BEGIN {printf "%.0f", (t > 0 ? 100 * b / t : 0)}')
        load1=$(cut -d' ' -f1 /proc/loadavg)
        echo "$(date -Iseconds),$size,$run,$COUNT,$alone_pps,$gen_secs,$gen_pps,$delivered,$load1,$g_busy,$c_busy,\
$((c1[$pf] - c0[$pf])),$pf_pkts,$pf_drops,$pf_vm,$pf_anon,$((w1[$pf] - w0[$pf])),\
$((c1[$td] - c0[$td])),$td_pkts,$td_drops,$td_vm,$td_anon,$((w1[$td] - w0[$td])),\
$ns_cpu,$ns_pkts,$ns_drops,$ns_vm,$ns_anon,$ns_wk" >>"$CSV"
        echo "  $size B run $run/$RUNS: ${gen_pps} pps, pfcount $pf_pkts/$pf_drops, tcpdump $td_pkts/$td_drops${ns:+, netsniff-ng $ns_pkts/$ns_drops} (rcvd/dropped)"
        unset c0 c1 w0 w1 rss
    done
done

echo "  load at end:$(uptime | sed 's/.*load average://')"
echo
python3 - "$CSV" "$RING_MB" <<'PY'
import csv, statistics, sys

path, ring_mb = sys.argv[1], int(sys.argv[2])
rows = list(csv.DictReader(open(path)))
busy_cols = [k for k in rows[0] if k.endswith("_busy_pct")] if rows else []

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

def med(xs):
    xs = [x for x in xs if x is not None]
    return (statistics.median(xs), min(xs), max(xs)) if xs else None

def mmm(m, fmt):
    return "?" if m is None else f"{m[0]:{fmt}} ({m[1]:{fmt}}..{m[2]:{fmt}})"

procs = [("pf", "pfcount"), ("td", "tcpdump")]
if any(r["ns_cpu_ns"] for r in rows):
    procs.append(("ns", "netsniff-ng"))
unparsed = False
for size in dict.fromkeys(r["size"] for r in rows):
    rs = [r for r in rows if r["size"] == size]
    count = int(rs[0]["count"])
    print(f"### {size} B frames, {count:,} per run (generator alone: {rs[0]['gen_alone_pps']} pps)\n")
    head = ["run", "wire pps", "core busy gen/cap %"]
    for _, name in procs:
        head += [f"{name} ns/pkt", f"{name} captured % / drops", f"{name} wake-ups/1k pkts", f"{name} VmRSS/RssAnon MiB"]
    head += ["pfcount/tcpdump ns/pkt"]
    if len(procs) == 3:
        head += ["pfcount/netsniff-ng ns/pkt"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rs:
        cells = [r["run"], r["gen_pps"], "/".join(r[k] for k in busy_cols)]
        for p, _ in procs:
            n = num(r[p + "_pkts"])
            pct = None if n is None else 100 * n / count
            unparsed |= n is None or num(r[p + "_drops"]) is None
            vm, an = num(r[p + "_vmrss_kb"]), num(r[p + "_rssanon_kb"])
            wk = num(r[p + "_wakeups"])
            cells += [f(nspp(r, p), ".1f"), f"{f(pct, '.2f')} / {r[p + '_drops'] or '?'}",
                      f(wk * 1000 / n if wk is not None and n else None, ".2f"),
                      f"{f(vm and vm / 1024, '.1f')}/{f(an and an / 1024, '.1f')}"]
        pf, td = nspp(r, "pf"), nspp(r, "td")
        cells.append(f(pf / td if pf and td else None, ".2f"))
        if len(procs) == 3:
            ns = nspp(r, "ns")
            cells.append(f(pf / ns if pf and ns else None, ".2f"))
        print("| " + " | ".join(cells) + " |")
    ratio = med([nspp(r, "pf") / nspp(r, "td") if nspp(r, "pf") and nspp(r, "td") else None for r in rs])
    parts = [f"{size} B: pfcount/tcpdump CPU ns/pkt ratio median {mmm(ratio, '.2f')}"]
    if len(procs) == 3:
        parts.append("pfcount/netsniff-ng " + mmm(med([nspp(r, "pf") / nspp(r, "ns") if nspp(r, "pf") and nspp(r, "ns") else None for r in rs]), ".2f"))
    for p, name in procs:
        pcts = [num(r[p + "_pkts"]) for r in rs]
        pcts = [None if x is None else 100 * x / count for x in pcts]
        drops = [num(r[p + "_drops"]) for r in rs]
        mp = med(pcts)
        captured = "?" if mp is None else (f"{mp[1]:.1f}%" if mp[1] == mp[2] else f"{mp[1]:.1f}..{mp[2]:.1f}%")
        dsum = "?" if any(d is None for d in drops) else f"{int(sum(drops))}"
        parts.append(f"{name} {captured} captured {dsum} drops, {mmm(med([nspp(r, p) for r in rs]), '.1f')} ns/pkt")
    pfvm = [num(r["pf_vmrss_kb"]) for r in rs]
    pfan = [num(r["pf_rssanon_kb"]) for r in rs]
    if all(v is not None for v in pfvm + pfan):
        parts.append(f"pfcount VmRSS-ring {min(pfvm) / 1024 - ring_mb:.1f}..{max(pfvm) / 1024 - ring_mb:.1f} MiB "
                     f"(RssAnon {min(pfan) / 1024:.2f}..{max(pfan) / 1024:.2f} MiB, runs 1..{len(rs)}: "
                     + "/".join(f"{a / 1024:.2f}" for a in pfan) + ")")
    gp = med([num(r["gen_pps"]) for r in rs])
    parts.append(f"wire rate {'?' if gp is None else f'{gp[0]:,.0f}'} pps with captures vs {rs[0]['gen_alone_pps']} pps alone")
    print()
    print(", ".join(parts))
    print()
if unparsed:
    print("note: '?' = a number could not be parsed from that process's exit output (see the -logs directory)")
print(f"raw numbers: {path}")
PY
