#!/usr/bin/env bash
# End-to-end capture-to-file benchmark: pwrite vs tcpdump, both writing pcap to /dev/null, on a
# veth pair inside a private network namespace. See bench/README.md for what is measured and the
# caveats.
#
#   sudo bench/pwrite.sh                         # RUNS=5 COUNT=2000000, 60 B and 1514 B
#   sudo RUNS=3 COUNT=500000 SIZES="60" bench/pwrite.sh
#
# Environment:
#   RUNS=5            runs per frame size (plus one generator-alone run first)
#   COUNT=2000000     frames sent per run
#   SIZES="60 1514"   frame sizes (bytes on the wire without FCS; 60..1514)
#   SNAPLEN=1520      snap length of both (pwrite's default -l)
#   TD_BUF_KB=65536   tcpdump -B (KiB); pwrite has no ring-size flag (library default ring)
#   GEN_CPU=0 CAP_CPU=1   cores of the generator and of the capture processes
#   PWRITE=target/release/pwrite
#   PWRITE_ARGS=""    extra pwrite flags (e.g. "-F pcapng")
#   OUT_DIR=bench/out
set -euo pipefail

RUNS=${RUNS:-5}
COUNT=${COUNT:-2000000}
SIZES=${SIZES:-"60 1514"}
SNAPLEN=${SNAPLEN:-1520}
TD_BUF_KB=${TD_BUF_KB:-65536}
GEN_CPU=${GEN_CPU:-0}
CAP_CPU=${CAP_CPU:-1}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PWRITE=${PWRITE:-$ROOT/target/release/pwrite}
PWRITE_ARGS=${PWRITE_ARGS:-}
OUT_DIR=${OUT_DIR:-$ROOT/bench/out}

# Bounds of every wait (seconds).
START_TIMEOUT=10   # a capture process must be listening within this
GEN_TIMEOUT=300    # one trafgen run
DRAIN_MIN=1.5      # after the generator: covers tcpdump's 1 s block-retire timeout
DRAIN_MAX=30       # ... and at most this long for the CPU time to settle
STOP_TIMEOUT=15    # a capture process must exit within this after SIGINT

die() { echo "pwrite.sh: $*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || die "needs root (network namespace, packet sockets)"
for c in ip trafgen tcpdump taskset timeout python3; do
    command -v "$c" >/dev/null || die "missing $c"
done
[[ -x $PWRITE ]] || die "no $PWRITE: run 'cargo build --release -p pfring-tools' first"
[[ $RUNS =~ ^[1-9][0-9]*$ && $COUNT =~ ^[1-9][0-9]*$ ]] || die "RUNS and COUNT must be positive integers"
for s in $SIZES; do [[ $s =~ ^[0-9]+$ ]] && ((s >= 60 && s <= 1514)) || die "frame size $s not in 60..1514"; done
taskset -c "$GEN_CPU" true && taskset -c "$CAP_CPU" true || die "cores $GEN_CPU/$CAP_CPU not usable"

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_host_setup pfrbench pfrb

# ---------------------------------------------------------------- helpers

# Each capture process's own idle CPU rate (ns/s), which wait_drained (lib.sh) allows for:
# pwrite is never quite idle (the library's wait ends every 100 ms poll(2) with ~1 ms of
# poll(..., 0) calls, about 8 ms CPU/s on this machine, see bench/README.md).
declare -A IDLE=()

# ---- parsers of the capture processes' exit output; "?" when not found
parse_pwrite() { # stderr file -> saved packets
    awk '/^Saved [0-9]+ packets on disk/ {n = $2} END {print (n == "" ? "?" : n)}' "$1"
}
parse_tcpdump() { # stderr file -> "captured dropped-by-kernel"
    awk '/^[0-9]+ packets? captured/ {c = $1} /^[0-9]+ packets? dropped by kernel/ {d = $1}
         END {print (c == "" ? "?" : c), (d == "" ? "?" : d)}' "$1"
}

# ---------------------------------------------------------------- main

mkdir -p "$OUT_DIR"
STAMP=$(date +%Y%m%d-%H%M%S)
CSV=$OUT_DIR/pwrite-$STAMP.csv
LOGS=$OUT_DIR/pwrite-$STAMP-logs # the raw output of every process, copied there on exit
echo "date,size,run,count,gen_alone_pps,gen_secs,gen_pps,delivered,loadavg1,core${GEN_CPU}_busy_pct,core${CAP_CPU}_busy_pct,\
tail_ms,pw_cpu_ns,pw_idle_ns_per_s,pw_pkts,pw_drops,pw_vmrss_kb,pw_rssanon_kb,pw_wakeups,\
td_cpu_ns,td_idle_ns_per_s,td_pkts,td_drops,td_vmrss_kb,td_rssanon_kb,td_wakeups" >"$CSV"

echo "pwrite.sh: RUNS=$RUNS COUNT=$COUNT SIZES='$SIZES' SNAPLEN=$SNAPLEN TD_BUF_KB=$TD_BUF_KB"
echo "  generator: trafgen on core $GEN_CPU; captures: taskset -c $CAP_CPU; netns $NS ($TX -> $RX)"
echo "  pwrite: $PWRITE ($(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'))${PWRITE_ARGS:+ $PWRITE_ARGS}; $(tcpdump --version 2>&1 | head -1)"
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
        pw_err=$WORK/pw-$size-$run.err td_err=$WORK/td-$size-$run.err
        ip netns exec "$NS" taskset -c "$CAP_CPU" "$PWRITE" -i "$RX" -w /dev/null -l "$SNAPLEN" $PWRITE_ARGS \
            >"$WORK/pw-$size-$run.out" 2>"$pw_err" &
        pw=$!; PIDS+=("$pw")
        ip netns exec "$NS" taskset -c "$CAP_CPU" tcpdump -i "$RX" -n -w /dev/null -s "$SNAPLEN" -B "$TD_BUF_KB" \
            >/dev/null 2>"$td_err" &
        td=$!; PIDS+=("$td")
        caps=("$pw" "$td")
        wait_for_line "$pw_err" "Dump file path" "$pw" || die "pwrite did not start: $(cat "$pw_err")"
        wait_for_line "$td_err" "listening on" "$td" || die "tcpdump did not start: $(cat "$td_err")"
        sleep 0.5 # let every process reach its poll loop
        # Idle CPU rate of each process (ns/s), over 1 s before the generator starts.
        declare -A i0=()
        for p in "${caps[@]}"; do i0[$p]=$(cpu_ns "$p"); done
        t_i0=$(date +%s%N)
        sleep 1
        t_i1=$(date +%s%N)
        for p in "${caps[@]}"; do IDLE[$p]=$((($(cpu_ns "$p") - i0[$p]) * 1000000000 / (t_i1 - t_i0))); done

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
        t_gen_end=$(date +%s%N)
        wait_drained "${caps[@]}"
        rx1=$(rx_packets_ns)

        declare -A c1=() rss=()
        for p in "${caps[@]}"; do rss[$p]=$(rss_kb "$p"); w1[$p]=$(wakeups "$p"); c1[$p]=$(cpu_ns "$p"); done
        tail_ms=$((($(date +%s%N) - t_gen_end) / 1000000))
        for p in "${caps[@]}"; do stop_proc "$p"; done
        PIDS=()

        pw_pkts=$(parse_pwrite "$pw_err")
        # pwrite prints no ring drops: what it did not save of the COUNT frames sent.
        if [[ $pw_pkts == "?" ]]; then pw_drops="?"; else pw_drops=$((COUNT - pw_pkts)); fi
        read -r td_pkts td_drops < <(parse_tcpdump "$td_err")
        read -r pw_vm pw_anon <<<"${rss[$pw]}"
        read -r td_vm td_anon <<<"${rss[$td]}"
        if [[ $gen_secs == "?" ]]; then gen_pps="?"; else gen_pps=$(awk -v c="$COUNT" -v s="$gen_secs" 'BEGIN {printf "%.0f", c / s}'); fi
        if [[ $rx0 == "?" || $rx1 == "?" ]]; then delivered="?"; else delivered=$((rx1 - rx0)); fi
        g_busy=$(awk -v b=$((g_b1 - g_b0)) -v t=$((g_t1 - g_t0)) 'BEGIN {printf "%.0f", (t > 0 ? 100 * b / t : 0)}')
        c_busy=$(awk -v b=$((c_b1 - c_b0)) -v t=$((c_t1 - c_t0)) 'BEGIN {printf "%.0f", (t > 0 ? 100 * b / t : 0)}')
        load1=$(cut -d' ' -f1 /proc/loadavg)
        echo "$(date -Iseconds),$size,$run,$COUNT,$alone_pps,$gen_secs,$gen_pps,$delivered,$load1,$g_busy,$c_busy,\
$tail_ms,$((c1[$pw] - c0[$pw])),${IDLE[$pw]},$pw_pkts,$pw_drops,$pw_vm,$pw_anon,$((w1[$pw] - w0[$pw])),\
$((c1[$td] - c0[$td])),${IDLE[$td]},$td_pkts,$td_drops,$td_vm,$td_anon,$((w1[$td] - w0[$td]))" >>"$CSV"
        echo "  $size B run $run/$RUNS: ${gen_pps} pps, pwrite saved $pw_pkts, tcpdump $td_pkts/$td_drops (captured/dropped)"
        unset c0 c1 w0 w1 rss i0
        IDLE=()
    done
done

echo "  load at end:$(uptime | sed 's/.*load average://')"
echo
python3 - "$CSV" <<'PY'
import csv, statistics, sys

path = sys.argv[1]
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

def nspp_x(r, p):
    """ns/pkt without the idle rate over the drain tail after the generator stopped"""
    c, n, i, t = num(r[p + "_cpu_ns"]), num(r[p + "_pkts"]), num(r[p + "_idle_ns_per_s"]), num(r["tail_ms"])
    return (c - i * t / 1000) / n if None not in (c, i, t) and n else None

def rx(a, b):
    return a / b if a and b else None

def f(v, fmt):
    return "?" if v is None else format(v, fmt)

def med(xs):
    xs = [x for x in xs if x is not None]
    return (statistics.median(xs), min(xs), max(xs)) if xs else None

def mmm(m, fmt):
    return "?" if m is None else f"{m[0]:{fmt}} ({m[1]:{fmt}}..{m[2]:{fmt}})"

procs = [("pw", "pwrite"), ("td", "tcpdump")]
unparsed = False
for size in dict.fromkeys(r["size"] for r in rows):
    rs = [r for r in rows if r["size"] == size]
    count = int(rs[0]["count"])
    print(f"### {size} B frames, {count:,} per run (generator alone: {rs[0]['gen_alone_pps']} pps)\n")
    head = ["run", "wire pps", "core busy gen/cap %", "load", "drain tail s"]
    for p, name in procs:
        head += [f"{name} ns/pkt", f"{name} idle CPU ms/s", f"{name} captured % / " + ("not saved" if p == "pw" else "drops"),
                 f"{name} wake-ups/1k pkts", f"{name} VmRSS/RssAnon MiB"]
    head += ["pwrite/tcpdump ns/pkt", "same, idle tail excluded"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rs:
        cells = [r["run"], r["gen_pps"], "/".join(r[k] for k in busy_cols), r["loadavg1"],
                 f(num(r["tail_ms"]) and num(r["tail_ms"]) / 1000, ".1f")]
        for p, _ in procs:
            n = num(r[p + "_pkts"])
            pct = None if n is None else 100 * n / count
            unparsed |= n is None or num(r[p + "_drops"]) is None
            vm, an = num(r[p + "_vmrss_kb"]), num(r[p + "_rssanon_kb"])
            wk = num(r[p + "_wakeups"])
            cells += [f(nspp(r, p), ".1f"), f(num(r[p + "_idle_ns_per_s"]) and num(r[p + "_idle_ns_per_s"]) / 1e6, ".2f"),
                      f"{f(pct, '.2f')} / {r[p + '_drops'] or '?'}",
                      f(wk * 1000 / n if wk is not None and n else None, ".2f"),
                      f"{f(vm and vm / 1024, '.1f')}/{f(an and an / 1024, '.1f')}"]
        pw, td = nspp(r, "pw"), nspp(r, "td")
        cells.append(f(pw / td if pw and td else None, ".2f"))
        cells.append(f(rx(nspp_x(r, "pw"), nspp_x(r, "td")), ".2f"))
        print("| " + " | ".join(cells) + " |")
    ratio = med([nspp(r, "pw") / nspp(r, "td") if nspp(r, "pw") and nspp(r, "td") else None for r in rs])
    goal = "" if ratio is None else f" (goal <= 0.80: {'met' if ratio[0] <= 0.8 else 'missed'} by the median)"
    parts = [f"{size} B: pwrite/tcpdump CPU ns/pkt ratio median {mmm(ratio, '.2f')}{goal}",
             f"idle tail excluded {mmm(med([rx(nspp_x(r, 'pw'), nspp_x(r, 'td')) for r in rs]), '.2f')}"]
    for p, name in procs:
        pcts = [num(r[p + "_pkts"]) for r in rs]
        pcts = [None if x is None else 100 * x / count for x in pcts]
        drops = [num(r[p + "_drops"]) for r in rs]
        mp = med(pcts)
        captured = "?" if mp is None else (f"{mp[1]:.2f}%" if mp[1] == mp[2] else f"{mp[1]:.2f}..{mp[2]:.2f}%")
        dsum = "?" if any(d is None for d in drops) else f"{int(sum(drops)):,}"
        what = "not saved" if p == "pw" else "dropped"
        parts.append(f"{name} {captured} captured ({dsum} {what} in all runs), {mmm(med([nspp(r, p) for r in rs]), '.1f')} ns/pkt")
    for p, name in procs:
        vm = [num(r[p + "_vmrss_kb"]) for r in rs]
        an = [num(r[p + "_rssanon_kb"]) for r in rs]
        if all(v is not None for v in vm + an):
            parts.append(f"{name} VmRSS {min(vm) / 1024:.1f}..{max(vm) / 1024:.1f} MiB (RssAnon {min(an) / 1024:.2f}..{max(an) / 1024:.2f})")
    gp = med([num(r["gen_pps"]) for r in rs])
    parts.append(f"wire rate {'?' if gp is None else f'{gp[0]:,.0f}'} pps with captures vs {rs[0]['gen_alone_pps']} pps alone")
    print()
    print(", ".join(parts))
    print()
if unparsed:
    print("note: '?' = a number could not be parsed from that process's exit output (see the -logs directory)")
print(f"raw numbers: {path}")
PY
