# Helpers shared by the bench/*.sh scripts (sourced, not run). They use the caller's
# globals: NS (network namespace), RX (capture-side interface), START_TIMEOUT, STOP_TIMEOUT,
# PIDS.

# CPU time (ns) of a process: sum of the first field of /proc/<pid>/task/*/schedstat.
cpu_ns() {
    cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f\n", s}'
}

# Voluntary context switches (= sleeps/wake-ups) of all threads of a process.
wakeups() {
    cat /proc/"$1"/task/*/status 2>/dev/null | awk '/^voluntary_ctxt_switches:/ {s += $2} END {printf "%d\n", s}'
}

# VmRSS and RssAnon (kB) of a process, "vmrss rssanon" ("?" when unreadable).
rss_kb() {
    awk '/^VmRSS:/ {v = $2} /^RssAnon:/ {a = $2} END {print (v == "" ? "?" : v), (a == "" ? "?" : a)}' \
        /proc/"$1"/status 2>/dev/null || echo "? ?"
}

# rx_packets of the capture side, read inside the namespace (its own /sys).
rx_packets_ns() { ip netns exec "$NS" cat "/sys/class/net/$RX/statistics/rx_packets" 2>/dev/null || echo "?"; }

# "busy total" jiffies of core $1 from /proc/stat.
core_jiffies() {
    awk -v c="cpu$1" '$1 == c {b = $2 + $3 + $4 + $7 + $8 + $9; t = b + $5 + $6; print b, t}' /proc/stat
}

# Waits (bounded) until a file contains a pattern.
wait_for_line() { # file pattern pid
    local i
    for ((i = 0; i < START_TIMEOUT * 10; i++)); do
        grep -q -- "$2" "$1" 2>/dev/null && return 0
        kill -0 "$3" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# Stops a capture process with SIGINT and waits (bounded) for it to exit.
stop_proc() {
    local p=$1 i
    kill -INT "$p" 2>/dev/null || return 0
    for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
        kill -0 "$p" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$p" 2>/dev/null; then
        echo "  warning: pid $p did not exit on SIGINT, killing it" >&2
        kill -KILL "$p" 2>/dev/null || true
    fi
    wait "$p" 2>/dev/null || true
}

# The setup of the single-flow scripts (filter.sh, rules.sh): root and tools checked, then
# the test host of bench_host_setup (namespace `pfr<name>-<pid>`, veth TX -> RX, WORK, and
# the cleanup). $1 names the script in errors.
single_flow_setup() { # name
    SCRIPT=$1
    die() { echo "$SCRIPT.sh: $*" >&2; exit 1; }
    [[ $(id -u) == 0 ]] || die "needs root (network namespace, AF_PACKET)"
    [[ -x $PFCOUNT ]] || die "no $PFCOUNT: run 'cargo build --release -p pfring-tools' first"
    command -v trafgen >/dev/null || die "missing trafgen (Debian package netsniff-ng)"
    bench_host_setup "pfr$1" "pfr${1:0:1}"
}

# The test host of the capture and send benchmarks: a private network namespace NS
# (`<ns-prefix>-<pid>`) with the veth pair TX (generator side) -> RX, IPv6 off so the only
# frames on the link are the generator's, and a work directory WORK. On exit, bench_cleanup
# ends the processes this script started (PIDS, and GEN_PID when set: SIGTERM, then SIGKILL
# after STOP_GRACE tenths of a second, default 20), copies WORK's small files (logs, configs,
# results: under 1 MiB each) to LOGS when set, and deletes the namespace and WORK.
bench_host_setup() { # ns-prefix if-prefix
    NS=$1-$$
    TX=$2-tx
    RX=$2-rx
    WORK=$(mktemp -d "/tmp/$1.XXXXXX")
    PIDS=()
    trap bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    ip netns add "$NS"
    ip -n "$NS" link add "$TX" type veth peer name "$RX"
    ip netns exec "$NS" sh -c 'echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6' 2>/dev/null || true
    ip -n "$NS" link set "$TX" up
    ip -n "$NS" link set "$RX" up
}

bench_cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    local p i
    # timeout(1) passes the signal on to trafgen's whole process group.
    if [[ -n ${GEN_PID:-} ]]; then PIDS+=("$GEN_PID"); fi
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do
        for ((i = 0; i < ${STOP_GRACE:-20}; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null || true
    done
    ip netns del "$NS" 2>/dev/null || true
    if [[ -n ${LOGS:-} ]]; then
        mkdir -p "$LOGS"
        find "$WORK" -maxdepth 1 -type f -size -1024k -exec cp {} "$LOGS"/ \; 2>/dev/null || true
    fi
    rm -rf "$WORK"
    exit "$rc"
}

# Waits until the CPU time of every given process stops increasing (by less than 1 ms in
# 300 ms, plus 30 % of the process's own idle rate IDLE[pid] in ns/s when the caller measured
# it), at least DRAIN_MIN s (default 1.5) and at most DRAIN_MAX s (default 30).
wait_drained() { # pid...
    sleep "${DRAIN_MIN:-1.5}"
    local deadline=$((SECONDS + ${DRAIN_MAX:-30})) p before after settled
    declare -A last=()
    for p in "$@"; do last[$p]=$(cpu_ns "$p"); done
    while ((SECONDS < deadline)); do
        sleep 0.3
        settled=1
        for p in "$@"; do
            after=$(cpu_ns "$p")
            before=${last[$p]}
            ((after - before < 1000000 + ${IDLE[$p]:-0} * 3 / 10)) || settled=0
            last[$p]=$after
        done
        ((settled)) && return 0
    done
    echo "  warning: capture CPU time still increasing after ${DRAIN_MAX:-30}s" >&2
}

# trafgen packet config: fixed unicast destination not owned by the receiver, local
# experimental EtherType 0x88B5 (no protocol handler runs), zero payload.
write_cfg() { # size file
    printf '{ 0x02,0x00,0x00,0x00,0x00,0x02, 0x02,0x00,0x00,0x00,0x00,0x01, 0x88,0xb5, fill(0x00, %d) }\n' \
        $(($1 - 14)) >"$2"
}

# Runs trafgen (COUNT frames of config $1) on GEN_CPU into TX, logging to $2, and sets
# GEN_SECS from trafgen's own timer ("?" if absent). In the background + wait, so that a
# signal to the script is handled at once (bench_cleanup ends GEN_PID).
run_gen() { # cfg log
    timeout "$GEN_TIMEOUT" ip netns exec "$NS" taskset -c "$GEN_CPU" \
        trafgen --no-sock-mem --notouch-irq --cpus 1 --dev "$TX" --conf "$1" --num "$COUNT" \
        >"$2" 2>&1 &
    GEN_PID=$!
    local rc=0
    wait "$GEN_PID" || rc=$?
    GEN_PID=""
    ((rc == 0)) || echo "  warning: trafgen exited with $rc" >&2
    # "           3 sec, 767439 usec on CPU0 (2000000 packets)"
    GEN_SECS=$(awk '/usec on CPU/ {for (i = 1; i <= NF; i++) {if ($(i) == "sec,") s = $(i-1); if ($(i) == "usec") u = $(i-1)}}
         END {if (s == "" || u == "") print "?"; else printf "%.6f\n", s + u / 1e6}' "$2")
}
