#!/usr/bin/env bash
# End-to-end transmit benchmark: pfsend vs trafgen vs tcpreplay --topspeed, each alone, sending
# into a veth pair inside a private network namespace, with a counting receiver (pfcount) on the
# peer; then a rate-accuracy check of pfsend -p / -r. See bench/README.md for what is measured
# and the caveats.
#
#   sudo bench/send.sh                           # RUNS=5 COUNT=2000000, 64 B and 1514 B
#   sudo RUNS=3 COUNT=500000 SIZES="64" TOOLS="pfsend trafgen" RATE_CHECK=0 bench/send.sh
#
# Environment:
#   RUNS=5              runs per frame size (each run: every tool once, alone, rotating order)
#   COUNT=2000000       frames sent per tool and run
#   SIZES="64 1514"     frame sizes (bytes without FCS; pfsend's IPv4/UDP frame is >= 60 B)
#   TOOLS="pfsend trafgen tcpreplay"   senders to compare (tcpreplay is skipped if not installed)
#   RATE_CHECK=1        also run the rate-accuracy check (pfsend -p / -r, 64 B frames)
#   RATE_PPS=100000 RATE_GBPS=0.1 RATE_SECS=5   requested rates and duration of that check
#   GEN_CPU=0 RCV_CPU=1 cores of the sender and of the receiver
#   PFSEND=target/release/pfsend PFCOUNT=target/release/pfcount PWRITE=target/release/pwrite
#   PFSEND_ARGS=""      extra pfsend flags (e.g. "-w 256")
#   OUT_DIR=bench/out
set -euo pipefail

RUNS=${RUNS:-5}
COUNT=${COUNT:-2000000}
SIZES=${SIZES:-"64 1514"}
TOOLS=${TOOLS:-"pfsend trafgen tcpreplay"}
RATE_CHECK=${RATE_CHECK:-1}
RATE_PPS=${RATE_PPS:-100000}
RATE_GBPS=${RATE_GBPS:-0.1}
RATE_SECS=${RATE_SECS:-5}
GEN_CPU=${GEN_CPU:-0}
RCV_CPU=${RCV_CPU:-1}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PFSEND=${PFSEND:-$ROOT/target/release/pfsend}
PFCOUNT=${PFCOUNT:-$ROOT/target/release/pfcount}
PWRITE=${PWRITE:-$ROOT/target/release/pwrite}
PFSEND_ARGS=${PFSEND_ARGS:-}
OUT_DIR=${OUT_DIR:-$ROOT/bench/out}

# Bounds of every wait (seconds).
START_TIMEOUT=10   # a receiver must be listening within this
GEN_TIMEOUT=300    # one sender run
DRAIN_MIN=1.5      # after the sender: the receiver's last ring block retires
DRAIN_MAX=30       # ... and at most this long for its CPU time to settle
STOP_TIMEOUT=15    # a receiver must exit within this after SIGINT

die() { echo "send.sh: $*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || die "needs root (network namespace, packet sockets)"
for c in ip taskset timeout python3 tcpdump; do
    command -v "$c" >/dev/null || die "missing $c"
done
for t in $TOOLS; do
    case $t in
        pfsend) ;;
        trafgen) command -v trafgen >/dev/null || die "missing trafgen (netsniff-ng package)" ;;
        tcpreplay)
            if ! command -v tcpreplay >/dev/null; then
                echo "send.sh: tcpreplay not installed, left out (apt-get install tcpreplay)" >&2
                TOOLS=$(echo " $TOOLS " | sed 's/ tcpreplay / /; s/^ //; s/ $//')
            fi ;;
        *) die "unknown tool $t (pfsend, trafgen, tcpreplay)" ;;
    esac
done
for b in "$PFSEND" "$PFCOUNT" "$PWRITE"; do
    [[ -x $b ]] || die "no $b: run 'cargo build --release -p pfring-tools' first"
done
[[ $RUNS =~ ^[1-9][0-9]*$ && $COUNT =~ ^[1-9][0-9]*$ ]] || die "RUNS and COUNT must be positive integers"
for s in $SIZES; do [[ $s =~ ^[0-9]+$ ]] && ((s >= 60 && s <= 1514)) || die "frame size $s not in 60..1514"; done
taskset -c "$GEN_CPU" true && taskset -c "$RCV_CPU" true || die "cores $GEN_CPU/$RCV_CPU not usable"

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
STOP_GRACE=40
bench_host_setup pfrbench pfrb
GEN_PID=""   # the launcher of the running sender (it passes SIGTERM on to the sender)

# ---------------------------------------------------------------- helpers

# Launcher of a sender: forks it, bounds it (SIGTERM after LIMIT s, SIGKILL 3 s later, also on
# SIGTERM/SIGINT to the launcher), and writes "wall_ns cpu_ns leader_schedstat_ns exit_code":
#  - wall_ns: from fork to exit;
#  - cpu_ns: user + system time of the sender and of every child it waited for (wait4(2)
#    rusage; Linux derives it from the same per-task runtime as /proc/<pid>/task/*/schedstat,
#    at 1 us resolution, and it includes threads that already exited and trafgen's forked
#    worker, which a schedstat sample of a process that has exited cannot);
#  - leader_schedstat_ns: /proc/<pid>/task/*/schedstat of the exited (not yet reaped) process,
#    a cross-check (equal to cpu_ns for a single-threaded sender, "?" if unreadable).
cat >"$WORK/launch.py" <<'PY'
import glob, os, signal, sys, time
limit, result, cmd = float(sys.argv[1]), sys.argv[2], sys.argv[4:]
t0 = time.monotonic_ns()
pid = os.fork()
if pid == 0:
    os.execvp(cmd[0], cmd)
def stop(_sig, _frame):
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    signal.signal(signal.SIGALRM, lambda s, f: os.kill(pid, signal.SIGKILL))
    signal.setitimer(signal.ITIMER_REAL, 3)
signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
signal.signal(signal.SIGALRM, stop)
signal.setitimer(signal.ITIMER_REAL, limit)
while True:
    try:
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
        break
    except InterruptedError:
        continue
t1 = time.monotonic_ns()
signal.setitimer(signal.ITIMER_REAL, 0)
ss, seen = 0, False
for f in glob.glob(f"/proc/{pid}/task/*/schedstat"):
    try:
        ss += int(open(f).read().split()[0])
        seen = True
    except (OSError, ValueError, IndexError):
        pass
_, status, ru = os.wait4(pid, 0)
with open(result, "w") as out:
    out.write(f"{t1 - t0} {round((ru.ru_utime + ru.ru_stime) * 1e9)} {ss if seen else '?'} "
              f"{os.waitstatus_to_exitcode(status)}\n")
PY


# A counter of a device inside the namespace ("?" if unreadable).
stat_ns() { ip netns exec "$NS" cat "/sys/class/net/$1/statistics/$2" 2>/dev/null || echo "?"; }

# Backlog drops of a core (/proc/net/softnet_stat row = core, 2nd column, hex): frames netif_rx
# could not queue because the core's backlog (net.core.netdev_max_backlog) was full.
softnet_drops() {
    local h
    h=$(awk -v r="$1" 'NR == r + 1 {print $2}' /proc/net/softnet_stat 2>/dev/null || true)
    if [[ $h =~ ^[0-9a-fA-F]+$ ]]; then echo $((16#$h)); else echo "?"; fi
}

# Difference of two counters ("?" if either is unknown).
d() { if [[ $1 =~ ^[0-9]+$ && $2 =~ ^[0-9]+$ ]]; then echo $(($2 - $1)); else echo "?"; fi; }

# PID of ksoftirqd/<core> (empty if none).
KSOFTIRQD=$(pgrep -x "ksoftirqd/$GEN_CPU" | head -1 || true)


# Runs a sender pinned to GEN_CPU inside the namespace, through the launcher, in the
# background + wait (so a signal to this script is handled at once). Sets GEN_RES.
run_sender() { # log result-file cmd...
    local log=$1 res=$2
    shift 2
    python3 "$WORK/launch.py" "$GEN_TIMEOUT" "$res" -- ip netns exec "$NS" taskset -c "$GEN_CPU" "$@" >"$log" 2>&1 &
    GEN_PID=$!
    local rc=0
    wait "$GEN_PID" || rc=$?
    GEN_PID=""
    ((rc == 0)) || echo "  warning: launcher exited with $rc" >&2
    GEN_RES=$(cat "$res" 2>/dev/null || echo "? ? ? ?")
}

# Starts a receiver pinned to RCV_CPU inside the namespace; sets RCV_PID.
start_rcv() { # out err ready-pattern ready-file cmd...
    local out=$1 err=$2 pat=$3 rfile=$4
    shift 4
    ip netns exec "$NS" taskset -c "$RCV_CPU" "$@" >"$out" 2>"$err" &
    RCV_PID=$!
    PIDS+=("$RCV_PID")
    wait_for_line "$rfile" "$pat" "$RCV_PID" || die "receiver $(basename "$1") did not start: $(cat "$err")"
    sleep 0.3 # let it reach its poll loop
}

# ---- parsers; "?" when not found
parse_pfcount() { # stderr file -> "rcvd dropped" (last stats block)
    awk '/Absolute Stats:/ {
            if (match($0, /\[[0-9]+ pkts rcvd\]/)) { r = substr($0, RSTART + 1, RLENGTH - 2); sub(/ .*/, "", r) }
            if (match($0, /\[[0-9]+ pkts dropped\]/)) { d = substr($0, RSTART + 1, RLENGTH - 2); sub(/ .*/, "", d) }
         }
         END {print (r == "" ? "?" : r), (d == "" ? "?" : d)}' "$1"
}
# What the sender says it sent: pfsend "Sent N packets", trafgen "N packets outgoing",
# tcpreplay "Actual: N packets" (minus "Failed packets: F").
parse_sent() { # tool log
    case $1 in
        pfsend) awk '/^Sent [0-9]+ packets/ {n = $2} END {print (n == "" ? "?" : n)}' "$2" ;;
        trafgen) tr '\r' '\n' <"$2" | awk '/packets outgoing/ {n = $1} END {print (n ~ /^[0-9]+$/ ? n : "?")}' ;;
        tcpreplay) awk '/Actual: [0-9]+ packets/ {n = $2} /Failed packets:/ {f = $3}
                        END {print (n == "" ? "?" : (f ~ /^[0-9]+$/ ? n - f : n))}' "$2" ;;
    esac
}

# The sender's own rate (pps, "?" if not found): pfsend's last "[average N pps/...]", trafgen's
# packets / its "S sec, U usec on CPU0" time, tcpreplay's "Rated: ..., N pps".
parse_self_pps() { # tool log
    case $1 in
        pfsend) awk '/^TX rate:/ {if (match($0, /average [0-9'"'"'.]+ pps/)) {v = substr($0, RSTART + 8, RLENGTH - 12); gsub(/'"'"'/, "", v)}}
                     END {print (v == "" ? "?" : v)}' "$2" ;;
        trafgen) tr '\r' '\n' <"$2" | awk '/usec on CPU/ {for (i = 1; i <= NF; i++) {if ($(i) == "sec,") s = $(i-1); if ($(i) == "usec") u = $(i-1);
                                                   if ($(i) ~ /^\([0-9]+$/) n = substr($(i), 2)}}
                     END {if (s == "" || u == "" || n == "" || s + u == 0) print "?"; else printf "%.0f\n", n / (s + u / 1e6)}' ;;
        tcpreplay) awk '/^Rated:/ {for (i = 1; i <= NF; i++) if ($(i) == "pps") v = $(i-1)} END {print (v == "" ? "?" : v)}' "$2" ;;
    esac
}

# ---------------------------------------------------------------- frames

# One frame of pfsend's of the given size, captured with pwrite, is the frame every tool sends:
# a trafgen config of its bytes and a pcap file of COUNT copies (1 us apart) for tcpreplay.
make_frames() { # size
    local size=$1 cap=$WORK/frame-$size.pcap
    start_rcv "$WORK/frame-$size-pwrite.out" "$WORK/frame-$size-pwrite.err" "Dump file path" \
        "$WORK/frame-$size-pwrite.err" "$PWRITE" -i "$RX" -w "$cap" -N 1
    local pw=$RCV_PID
    timeout 20 ip netns exec "$NS" "$PFSEND" -i "$TX" -n 1 -l "$size" >"$WORK/frame-$size-pfsend.log" 2>&1 ||
        die "pfsend -n 1 -l $size failed: $(cat "$WORK/frame-$size-pfsend.log")"
    local i
    for ((i = 0; i < 50; i++)); do kill -0 "$pw" 2>/dev/null || break; sleep 0.1; done
    stop_proc "$pw"
    PIDS=()
    local want_pcap=0
    [[ " $TOOLS " == *" tcpreplay "* ]] && want_pcap=1
    python3 - "$cap" "$size" "$COUNT" "$WORK/frame-$size.cfg" "$WORK/replay-$size.pcap" "$want_pcap" <<'PY' ||
import struct, sys
cap, size, count, cfg, out, want_pcap = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6] == "1"
raw = open(cap, "rb").read()
magic = struct.unpack("<I", raw[:4])[0]
if magic not in (0xA1B2C3D4, 0xA1B23C4D):
    sys.exit(f"{cap}: not a little-endian pcap file")
_, _, incl, orig = struct.unpack("<IIII", raw[24:40])
frame = raw[40:40 + incl]
if incl != size or orig != size:
    sys.exit(f"captured frame has {incl}/{orig} bytes, expected {size}")
open(cfg, "w").write("{ " + ", ".join(f"0x{b:02x}" for b in frame) + " }\n")
if want_pcap:
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        chunk = 10000
        for base in range(0, count, chunk):
            n = min(chunk, count - base)
            buf = bytearray()
            for k in range(base, base + n):
                buf += struct.pack("<IIII", 1700000000 + k // 1000000, k % 1000000, size, size)
                buf += frame
            f.write(buf)
PY
        die "could not make the $size B frame files"
}

# ---------------------------------------------------------------- main

mkdir -p "$OUT_DIR"
STAMP=$(date +%Y%m%d-%H%M%S)
CSV=$OUT_DIR/send-$STAMP.csv
RATE_CSV=$OUT_DIR/send-rate-$STAMP.csv
LOGS=$OUT_DIR/send-$STAMP-logs # the raw output of every process, copied there on exit
echo "date,size,run,tool,count,wall_ns,cpu_ns,leader_schedstat_ns,exit,sent,self_pps,rcvd,rcv_drops,rx_delta,\
tx_dropped,rx_dropped,backlog_drops,ksoftirqd_ns,loadavg1,core${GEN_CPU}_busy_pct,core${RCV_CPU}_busy_pct" >"$CSV"

echo "send.sh: RUNS=$RUNS COUNT=$COUNT SIZES='$SIZES' TOOLS='$TOOLS' RATE_CHECK=$RATE_CHECK"
echo "  senders on core $GEN_CPU, receiver pfcount on core $RCV_CPU; netns $NS ($TX -> $RX)"
echo "  pfsend: $PFSEND ($(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'))${PFSEND_ARGS:+ $PFSEND_ARGS}"
echo "  $(trafgen -v 2>/dev/null | head -1 || true); $(tcpreplay -V 2>&1 | head -1 || true)"
echo "  $(uname -r), $(nproc) cores; load at start:$(uptime | sed 's/.*load average://')"

read -ra tools <<<"$TOOLS"
for size in $SIZES; do
    make_frames "$size"
    echo "  $size B: frame made (pfsend's, $size B); $([[ -f $WORK/replay-$size.pcap ]] && echo "replay file $(du -h "$WORK/replay-$size.pcap" | cut -f1)")"
    for ((run = 1; run <= RUNS; run++)); do
        line="  $size B run $run/$RUNS:"
        for ((k = 0; k < ${#tools[@]}; k++)); do
            tool=${tools[$(((k + run - 1) % ${#tools[@]}))]} # rotate the order from run to run
            tag=$tool-$size-$run
            start_rcv "$WORK/rcv-$tag.out" "$WORK/rcv-$tag.err" "Capturing from" "$WORK/rcv-$tag.out" \
                "$PFCOUNT" -i "$RX" -q --ring-mb 64
            rcv=$RCV_PID
            case $tool in
                pfsend) cmd=("$PFSEND" -i "$TX" -n "$COUNT" -l "$size") ; [[ -n $PFSEND_ARGS ]] && read -ra extra <<<"$PFSEND_ARGS" && cmd+=("${extra[@]}") ;;
                trafgen) cmd=(trafgen --no-sock-mem --notouch-irq --cpus 1 --dev "$TX" --conf "$WORK/frame-$size.cfg" --num "$COUNT") ;;
                tcpreplay) cmd=(tcpreplay --topspeed -i "$TX" "$WORK/replay-$size.pcap") ;;
            esac
            rx0=$(stat_ns "$RX" rx_packets); txd0=$(stat_ns "$TX" tx_dropped); rxd0=$(stat_ns "$RX" rx_dropped)
            bl0=$(softnet_drops "$GEN_CPU")
            ks0=$([[ -n $KSOFTIRQD ]] && cpu_ns "$KSOFTIRQD" || echo "?")
            read -r g_b0 g_t0 < <(core_jiffies "$GEN_CPU")
            read -r c_b0 c_t0 < <(core_jiffies "$RCV_CPU")
            run_sender "$WORK/$tag.log" "$WORK/$tag.res" "${cmd[@]}"
            read -r g_b1 g_t1 < <(core_jiffies "$GEN_CPU")
            read -r c_b1 c_t1 < <(core_jiffies "$RCV_CPU")
            ks1=$([[ -n $KSOFTIRQD ]] && cpu_ns "$KSOFTIRQD" || echo "?")
            bl1=$(softnet_drops "$GEN_CPU")
            wait_drained "$rcv"
            rx1=$(stat_ns "$RX" rx_packets); txd1=$(stat_ns "$TX" tx_dropped); rxd1=$(stat_ns "$RX" rx_dropped)
            stop_proc "$rcv"
            PIDS=()
            read -r wall cpu lss code <<<"$GEN_RES"
            sent=$(parse_sent "$tool" "$WORK/$tag.log")
            read -r rcvd rdrops < <(parse_pfcount "$WORK/rcv-$tag.err")
            g_busy=$(awk -v b=$((g_b1 - g_b0)) -v t=$((g_t1 - g_t0)) 'BEGIN {printf "%.0f", (t > 0 ? 100 * b / t : 0)}')
            c_busy=$(awk -v b=$((c_b1 - c_b0)) -v t=$((c_t1 - c_t0)) 'BEGIN {printf "%.0f", (t > 0 ? 100 * b / t : 0)}')
            echo "$(date -Iseconds),$size,$run,$tool,$COUNT,$wall,$cpu,$lss,$code,$sent,$(parse_self_pps "$tool" "$WORK/$tag.log"),$rcvd,$rdrops,$(d "$rx0" "$rx1"),\
$(d "$txd0" "$txd1"),$(d "$rxd0" "$rxd1"),$(d "$bl0" "$bl1"),$(d "$ks0" "$ks1"),$(cut -d' ' -f1 /proc/loadavg),$g_busy,$c_busy" >>"$CSV"
            pps=$(awk -v c="$COUNT" -v w="$wall" 'BEGIN {if (w ~ /^[0-9]+$/ && w > 0) printf "%.0f", c / (w / 1e9); else print "?"}')
            line+=" $tool $pps pps rcvd $rcvd;"
        done
        echo "$line"
    done
    rm -f "$WORK/replay-$size.pcap"
done

# ---------------------------------------------------------------- rate accuracy
if [[ $RATE_CHECK == 1 ]]; then
    echo "mode,run,requested_pps,n,wall_ns,exit,pfsend_says_pps,captured,first_ts_ns,last_ts_ns,win_min,win_max,loadavg1" >"$RATE_CSV"
    # -r counts 24 B of per-frame overhead (like PF_RING): pps = Gbps * 1e9 / ((64 + 24) * 8).
    gbps_pps=$(awk -v g="$RATE_GBPS" 'BEGIN {printf "%.6f", g * 1e9 / ((64 + 24) * 8)}')
    for ((run = 1; run <= RUNS; run++)); do
        for mode in p r; do
            if [[ $mode == p ]]; then req=$RATE_PPS; flag=(-p "$RATE_PPS"); else req=$gbps_pps; flag=(-r "$RATE_GBPS"); fi
            n=$(awk -v p="$req" -v s="$RATE_SECS" 'BEGIN {printf "%.0f", p * s}')
            tag=rate-$mode-$run
            # The receiver records the kernel's receive timestamp of every frame (tcpdump, ns).
            start_rcv "$WORK/rcv-$tag.out" "$WORK/rcv-$tag.err" "listening on" "$WORK/rcv-$tag.err" \
                tcpdump -i "$RX" -n -s 64 -B 65536 --time-stamp-precision=nano -w "$WORK/$tag.pcap"
            rcv=$RCV_PID
            run_sender "$WORK/$tag.log" "$WORK/$tag.res" "$PFSEND" -i "$TX" -n "$n" -l 64 "${flag[@]}"
            wait_drained "$rcv"
            stop_proc "$rcv"
            PIDS=()
            read -r wall _ _ code <<<"$GEN_RES"
            says=$(awk '/^Sending .* at .* pps/ {for (i = 1; i <= NF; i++) if ($(i) == "pps") {v = $(i-1); gsub(/'"'"'/, "", v)}}
                        END {print (v == "" ? "?" : v)}' "$WORK/$tag.log")
            stats=$(python3 - "$WORK/$tag.pcap" <<'PY'
import struct, sys
try:
    raw = open(sys.argv[1], "rb").read()
    magic = struct.unpack("<I", raw[:4])[0]
    scale = 1 if magic == 0xA1B23C4D else 1000 if magic == 0xA1B2C3D4 else None
    ts, off = [], 24
    while scale and off + 16 <= len(raw):
        s, frac, incl, _ = struct.unpack_from("<IIII", raw, off)
        ts.append(s * 1_000_000_000 + frac * scale)
        off += 16 + incl
    # frames in every whole second after the first frame
    wins = [0] * int((ts[-1] - ts[0]) // 1_000_000_000) if ts else []
    for t in ts:
        w = (t - ts[0]) // 1_000_000_000
        if w < len(wins):
            wins[w] += 1
    print(len(ts), ts[0] if ts else "?", ts[-1] if ts else "?", min(wins) if wins else "?", max(wins) if wins else "?")
except Exception:
    print("? ? ? ? ?")
PY
)
            read -r capd t_first t_last wmin wmax <<<"$stats"
            rm -f "$WORK/$tag.pcap"
            echo "$mode,$run,$req,$n,$wall,$code,$says,$capd,$t_first,$t_last,$wmin,$wmax,$(cut -d' ' -f1 /proc/loadavg)" >>"$RATE_CSV"
            echo "  rate check -$mode run $run/$RUNS: requested $req pps, $n frames, captured $capd"
        done
    done
fi

echo "  load at end:$(uptime | sed 's/.*load average://')"
echo
python3 - "$CSV" "$([[ $RATE_CHECK == 1 ]] && echo "$RATE_CSV")" <<'PY'
import csv, statistics, sys

path, rate_path = sys.argv[1], sys.argv[2]
rows = list(csv.DictReader(open(path)))

def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None

def f(v, fmt):
    return "?" if v is None else format(v, fmt)

def med(xs):
    xs = [x for x in xs if x is not None]
    return (statistics.median(xs), min(xs), max(xs)) if xs else None

def mmm(m, fmt):
    return "?" if m is None else f"{m[0]:{fmt}} ({m[1]:{fmt}}..{m[2]:{fmt}})"

def pps(r):
    w = num(r["wall_ns"])
    return int(r["count"]) / (w / 1e9) if w else None

def nspp(r, col="cpu_ns"):
    c = num(r[col])
    return c / int(r["count"]) if c is not None else None

def ratio(a, b):
    return a / b if a is not None and b else None

def rcvd(r):
    n, c = num(r["rcvd"]), int(r["count"])
    if n is None:
        return "?"
    return "all" if n == c else f"{int(c - n):,} short" if n < c else f"{int(n - c):,} extra"

busy_cols = [k for k in rows[0] if k.endswith("_busy_pct")] if rows else []
tools = list(dict.fromkeys(r["tool"] for r in rows))
for size in dict.fromkeys(r["size"] for r in rows):
    rs = [r for r in rows if r["size"] == size]
    count = int(rs[0]["count"])
    runs = list(dict.fromkeys(r["run"] for r in rs))
    by = {(r["run"], r["tool"]): r for r in rs}
    print(f"### {size} B frames, {count:,} per tool and run\n")
    head = ["run", "tool", "pps", "own pps", "CPU ns/pkt", "ksoftirqd ns/pkt", "received (pfcount)", "sender says",
            "backlog/veth drops", "core busy snd/rcv %", "load"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rs:
        drops = "/".join(r[k] or "?" for k in ("backlog_drops", "tx_dropped", "rx_dropped"))
        print("| " + " | ".join([r["run"], r["tool"], f(pps(r), ",.0f"), f(num(r["self_pps"]), ",.0f"), f(nspp(r), ".1f"),
                                  f(nspp(r, "ksoftirqd_ns"), ".1f"), rcvd(r), r["sent"] or "?", drops,
                                  "/".join(r[k] for k in busy_cols), r["loadavg1"]]) + " |")
    print()
    print("| tool | pps median (min..max) | CPU ns/pkt median (min..max) | received |")
    print("|---|---|---|---|")
    for t in tools:
        tr = [by[(u, t)] for u in runs if (u, t) in by]
        got = sorted(set(rcvd(r) for r in tr))
        print(f"| {t} | {mmm(med([pps(r) for r in tr]), ',.0f')} | {mmm(med([nspp(r) for r in tr]), '.1f')} | "
              f"{', '.join(got)} |")
    print()
    if "pfsend" in tools:
        for other in [t for t in tools if t != "pfsend"]:
            pr = med([ratio(pps(by[(u, "pfsend")]), pps(by[(u, other)])) for u in runs
                      if (u, "pfsend") in by and (u, other) in by])
            cr = med([ratio(nspp(by[(u, "pfsend")]), nspp(by[(u, other)])) for u in runs
                      if (u, "pfsend") in by and (u, other) in by])
            goal = ""
            if other == "trafgen" and pr is not None:
                goal = f" (goal >= 1.00: {'met' if pr[0] >= 1.0 else 'missed'} by the median)"
            print(f"{size} B: pfsend/{other} pps {mmm(pr, '.2f')}{goal}, CPU ns/pkt {mmm(cr, '.2f')}")
        print()

if rate_path:
    rr = list(csv.DictReader(open(rate_path)))
    print("### rate accuracy, pfsend 64 B frames\n")
    print("| mode | run | requested pps | frames | pps by wall time (err %) | pps at the receiver (err %) | "
          "frames per whole second min..max | captured |")
    print("|---|---|---|---|---|---|---|---|")
    errs = {}
    for r in rr:
        req, n, w = num(r["requested_pps"]), num(r["n"]), num(r["wall_ns"])
        cap, t0, t1 = num(r["captured"]), num(r["first_ts_ns"]), num(r["last_ts_ns"])
        wall_pps = n / (w / 1e9) if n and w else None
        rcv_pps = (cap - 1) / ((t1 - t0) / 1e9) if cap and cap > 1 and t1 and t0 and t1 > t0 else None
        we = 100 * (wall_pps - req) / req if wall_pps else None
        re = 100 * (rcv_pps - req) / req if rcv_pps else None
        errs.setdefault(r["mode"], []).append((we, re))
        flag = "-p" if r["mode"] == "p" else "-r"
        print(f"| {flag} | {r['run']} | {f(req, ',.1f')} (pfsend: {r['pfsend_says_pps']}) | {f(n, ',.0f')} | "
              f"{f(wall_pps, ',.1f')} ({f(we, '+.2f')}) | {f(rcv_pps, ',.1f')} ({f(re, '+.2f')}) | "
              f"{r['win_min']}..{r['win_max']} | {r['captured']} |")
    print()
    for mode, es in errs.items():
        flag = "-p" if mode == "p" else "-r"
        print(f"rate {flag}: error by wall time {mmm(med([e[0] for e in es]), '+.2f')} %, "
              f"at the receiver {mmm(med([e[1] for e in es]), '+.2f')} % (goal: within 2 %)")
    print()
print(f"raw numbers: {path}{' ' + rate_path if rate_path else ''}")
PY
