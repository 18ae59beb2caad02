#!/usr/bin/env bash
# ZC cluster end to end: trafgen in a private network namespace -> veth -> pfdnacluster_master
# (-n 2 -m 1, IP hash) -> 2 slaves (pfcount -i zc:ID@0 and zc:ID@1), against one plain pfcount
# socket on the same traffic. Reports: lossless or not, the wire rate, CPU per packet of the
# capture side (master + slaves), and RSS of master and slaves beyond the shared memory.
#
#   sudo bench/zc.sh
#   sudo RUNS=3 COUNT=1000000 bench/zc.sh
#
# Environment:
#   RUNS=3             runs of each configuration (interleaved; medians reported)
#   COUNT=1000000      frames per run (60 B UDP, random addresses: the hash spreads them)
#   SIZE=60            frame size (bytes without FCS)
#   QLEN=8192          slots per slave queue (pfdnacluster_master -q)
#   ACTIVE=0           1: the master spins (-a) instead of sleeping when idle
#   GEN_CPU=0 CAP_CPU=1  core of the generator, and of the master and the slaves
#   BIN=target/release OUT_DIR=bench/out
set -euo pipefail

RUNS=${RUNS:-3}
COUNT=${COUNT:-1000000}
SIZE=${SIZE:-60}
QLEN=${QLEN:-8192}
ACTIVE=${ACTIVE:-0}
GEN_CPU=${GEN_CPU:-0}
CAP_CPU=${CAP_CPU:-1}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BIN:-$ROOT/target/release}
PFCOUNT=$BIN/pfcount
MASTER=$BIN/pfdnacluster_master
OUT_DIR=${OUT_DIR:-$ROOT/bench/out}

START_TIMEOUT=10
GEN_TIMEOUT=120
STOP_TIMEOUT=15

die() { echo "zc.sh: $*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || die "needs root (network namespace, packet sockets)"
for c in ip trafgen taskset timeout python3; do
    command -v "$c" >/dev/null || die "missing $c"
done
[[ -x $PFCOUNT && -x $MASTER ]] || die "no $PFCOUNT / $MASTER: run 'cargo build --release -p pfring-tools' first"
[[ $COUNT =~ ^[1-9][0-9]*$ && $RUNS =~ ^[1-9][0-9]*$ ]] || die "COUNT and RUNS must be positive integers"
[[ $SIZE =~ ^[0-9]+$ ]] && ((SIZE >= 60 && SIZE <= 1514)) || die "SIZE $SIZE not in 60..1514"
taskset -c "$GEN_CPU" true && taskset -c "$CAP_CPU" true || die "cores $GEN_CPU/$CAP_CPU not usable"

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_host_setup pfrzc pfrz
CID=$((7000 + $$ % 1000))


CFG=$WORK/gen.cfg
printf '{ 0x02,0x00,0x00,0x00,0x00,0x02, 0x02,0x00,0x00,0x00,0x00,0x01, 0x08,0x00,
  0x45,0x00, const16(%d), 0x00,0x01, 0x00,0x00, 0x40, 0x11, 0x00,0x00,
  10,0, drnd(2), 192,168, drnd(2),
  drnd(2), 0x00,0x35, const16(%d), 0x00,0x00,
  fill(0x00, %d) }\n' $((SIZE - 14)) $((SIZE - 34)) $((SIZE - 42)) >"$CFG"

run_gen() { # count log
    (
        TIMEFORMAT='GENCPU %3U %3S'
        time timeout "$GEN_TIMEOUT" ip netns exec "$NS" taskset -c "$GEN_CPU" \
            trafgen --no-sock-mem --notouch-irq --cpus 1 --dev "$TX" --conf "$CFG" --num "$1" \
            >"$2" 2>&1
    ) 2>"$2.time" &
    GEN_PID=$!
    local rc=0
    wait "$GEN_PID" || rc=$?
    GEN_PID=""
    ((rc == 0)) || echo "  warning: trafgen exited with $rc" >&2
    GEN_SECS=$(awk '/usec on CPU/ {for (i = 1; i <= NF; i++) {if ($(i) == "sec,") s = $(i-1); if ($(i) == "usec") u = $(i-1)}}
         END {if (s == "" || u == "") print "?"; else printf "%.6f\n", s + u / 1e6}' "$2")
}

parse_pfcount() { # stderr file -> "rcvd dropped"
    awk '/Absolute Stats:/ {
            if (match($0, /\[[0-9]+ pkts rcvd\]/)) { r = substr($0, RSTART + 1, RLENGTH - 2); sub(/ .*/, "", r) }
            if (match($0, /\[[0-9]+ pkts dropped\]/)) { d = substr($0, RSTART + 1, RLENGTH - 2); sub(/ .*/, "", d) }
         }
         END {print (r == "" ? "?" : r), (d == "" ? "?" : d)}' "$1"
}

parse_master() { # stdout file -> "recv recv_drops queue_drops" of the exit block
    tr -d "'" <"$1" | awk '
        /^Balancer/ { if (match($0, /\(([0-9]+) drops\)/)) { s = substr($0, RSTART + 1); sub(/ .*/, "", s); q += s } }
        /^Total Abs. Stats:/ { r = $5; d = $7; sub(/\(/, "", d); qd = q }
        /^=+$/ && !inblock { q = 0 }
        END { print (r == "" ? "?" : r), (d == "" ? "?" : d), (qd == "" ? "?" : qd) }'
}

# RSS fields (kB) of a process: "vmrss rssanon rssfile rssshmem".
rss4() {
    awk '/^VmRSS:/ {v = $2} /^RssAnon:/ {a = $2} /^RssFile:/ {f = $2} /^RssShmem:/ {s = $2}
         END {print (v == "" ? "?" : v), (a == "" ? "?" : a), (f == "" ? "?" : f), (s == "" ? "?" : s)}' \
        /proc/"$1"/status 2>/dev/null || echo "? ? ? ?"
}

spawn() { # out err args...
    local out=$1 err=$2
    shift 2
    ip netns exec "$NS" taskset -c "$CAP_CPU" "$@" >"$out" 2>"$err" &
    SPAWNED=$!
    PIDS+=("$SPAWNED")
}

mkdir -p "$OUT_DIR"
STAMP=$(date +%Y%m%d-%H%M%S)
CSV=$OUT_DIR/zc-$STAMP.csv
LOGS=$OUT_DIR/zc-$STAMP-logs
echo "date,config,run,count,gen_secs,gen_pps,master_recv,master_drops,queue_drops,rcvd,drops,cpu_ns,master_cpu_ns,master_rss_kb,master_shmem_kb,slave_rss_kb,slave_shmem_kb" >"$CSV"
echo "zc.sh: RUNS=$RUNS COUNT=$COUNT SIZE=$SIZE QLEN=$QLEN ACTIVE=$ACTIVE; trafgen on core $GEN_CPU, master + slaves on core $CAP_CPU"
echo "  $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'), $(uname -r), $(nproc) cores; load at start:$(uptime | sed 's/.*load average://')"

active=()
((ACTIVE)) && active=(-a)
for ((run = 1; run <= RUNS; run++)); do
    for config in single zc2; do
        tag=$config-$run
        CAPS=() ERRS=()
        MPID=""
        if [[ $config == single ]]; then
            spawn "$WORK/$tag-0.out" "$WORK/$tag-0.err" "$PFCOUNT" -i "$RX" -q
            CAPS+=("$SPAWNED"); ERRS+=("$WORK/$tag-0.err")
            wait_for_line "$WORK/$tag-0.out" "# Polling threads" "$SPAWNED" || die "pfcount did not start: $(cat "$WORK/$tag-0.err")"
        else
            spawn "$WORK/$tag-m.out" "$WORK/$tag-m.err" "$MASTER" -i "$RX" -c "$CID" -n 2 -m 1 -q "$QLEN" "${active[@]}"
            MPID=$SPAWNED
            wait_for_line "$WORK/$tag-m.out" "ready" "$MPID" || die "master did not start: $(cat "$WORK/$tag-m.err")"
            for q in 0 1; do
                spawn "$WORK/$tag-$q.out" "$WORK/$tag-$q.err" "$PFCOUNT" -i "zc:$CID@$q" -q
                CAPS+=("$SPAWNED"); ERRS+=("$WORK/$tag-$q.err")
                wait_for_line "$WORK/$tag-$q.out" "# Polling threads" "$SPAWNED" || die "slave $q did not start: $(cat "$WORK/$tag-$q.err")"
            done
        fi
        sleep 0.5
        ALL=("${CAPS[@]}")
        [[ -n $MPID ]] && ALL+=("$MPID")
        declare -A CPU0=()
        for p in "${ALL[@]}"; do CPU0[$p]=$(cpu_ns "$p"); done
        run_gen "$COUNT" "$WORK/gen-$tag.log"
        sleep 1.5
        cpu=0 mcpu=""
        for p in "${ALL[@]}"; do cpu=$((cpu + $(cpu_ns "$p") - ${CPU0[$p]})); done
        [[ -n $MPID ]] && mcpu=$(($(cpu_ns "$MPID") - ${CPU0[$MPID]}))
        unset CPU0
        mrss="" mshm="" srss=0 sshm=0
        if [[ -n $MPID ]]; then read -r v _ _ s < <(rss4 "$MPID"); mrss=$((v - s)); mshm=$s; fi
        for p in "${CAPS[@]}"; do
            read -r v _ _ s < <(rss4 "$p")
            ((v - s > srss)) && srss=$((v - s))
            ((s > sshm)) && sshm=$s
        done
        for p in "${CAPS[@]}"; do stop_proc "$p"; done
        mr="" md="" qd=""
        if [[ -n $MPID ]]; then stop_proc "$MPID"; read -r mr md qd < <(parse_master "$WORK/$tag-m.out"); fi
        PIDS=()
        rcvd=0 drops=0
        for e in "${ERRS[@]}"; do
            read -r r d < <(parse_pfcount "$e")
            [[ $r == "?" ]] && { rcvd="?"; drops="?"; break; }
            rcvd=$((rcvd + r)); drops=$((drops + d))
        done
        pps=$(awk -v c="$COUNT" -v s="$GEN_SECS" 'BEGIN {print (s == "?" ? "?" : int(c / s))}')
        echo "$(date -Iseconds),$config,$run,$COUNT,$GEN_SECS,$pps,$mr,$md,$qd,$rcvd,$drops,$cpu,$mcpu,$mrss,$mshm,$srss,$sshm" >>"$CSV"
        echo "  run $run/$RUNS $config: $pps pps sent, $rcvd rcvd, $drops dropped${MPID:+ (master: recv $mr, drops $md, queue drops $qd)}"
    done
done
echo "  load at end:$(uptime | sed 's/.*load average://')"
echo
python3 - "$CSV" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
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
print("| configuration | wire pps (median) | received / sent (all runs) | lossless runs | capture CPU ns/pkt (of it the master) | master RSS beyond shm (kB) | slave RSS beyond shm, max (kB) | shared memory resident (kB) |")
print("|---|---|---|---|---|---|---|---|")
res = {}
for cfg, name in [("single", "one pfcount socket"), ("zc2", "master + 2 zc: slaves")]:
    rs = [r for r in rows if r["config"] == cfg]
    if not rs:
        continue
    pps = med([num(r["gen_pps"]) for r in rs])
    ns = med([num(r["cpu_ns"]) / num(r["rcvd"]) if num(r["rcvd"]) else None for r in rs])
    mns = med([num(r["master_cpu_ns"]) / num(r["rcvd"]) if num(r["rcvd"]) and num(r["master_cpu_ns"]) is not None else None for r in rs])
    rcvd = sum(int(r["rcvd"]) for r in rs if r["rcvd"].isdigit())
    sent = sum(int(r["count"]) for r in rs)
    ok = sum(1 for r in rs if r["rcvd"] == r["count"] and r["drops"] == "0"
             and r["master_drops"] in ("", "0") and r["queue_drops"] in ("", "0"))
    mrss = med([num(r["master_rss_kb"]) for r in rs])
    srss = med([num(r["slave_rss_kb"]) for r in rs])
    shm = med([num(r["master_shmem_kb"]) for r in rs])
    res[cfg] = (pps, ns)
    mpart = " (" + fmt(mns) + ")" if cfg == "zc2" else ""
    print(f"| {name} | {fmt(pps, '.0f')} | {rcvd} / {sent} | {ok} of {len(rs)} | {fmt(ns)}{mpart} | {fmt(mrss, '.0f') if cfg == 'zc2' else '-'} | {fmt(srss, '.0f')} | {fmt(shm, '.0f') if cfg == 'zc2' else '-'} |")
s, z = res.get("single"), res.get("zc2")
if s and z and s[1] and z[1] and s[0] and z[0]:
    print(f"\nzc2 / single: CPU per packet {z[1] / s[1]:.2f}x, wire rate {z[0] / s[0]:.2f}x")
print(f"raw numbers: {sys.argv[1]}")
PY
