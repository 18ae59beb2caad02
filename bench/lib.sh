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

# The setup of the single-flow scripts (filter.sh, rules.sh): root and tools checked, a
# private namespace NS with the veth pair ftx -> frx (no IPv6 link-local traffic), a work
# directory WORK, and a cleanup on exit that ends the PIDS this script started and deletes
# both. $1 names the script in errors and the namespace.
single_flow_setup() { # name
    NS=pfr$1-$$
    WORK=$(mktemp -d)
    PIDS=()
    SCRIPT=$1
    die() { echo "$SCRIPT.sh: $*" >&2; exit 1; }
    cleanup() {
        for p in "${PIDS[@]:-}"; do [[ -n $p ]] && kill "$p" 2>/dev/null || true; done
        ip netns del "$NS" 2>/dev/null || true
        rm -rf "$WORK"
    }
    trap cleanup EXIT
    trap 'exit 130' INT TERM

    [[ $(id -u) == 0 ]] || die "needs root (network namespace, AF_PACKET)"
    [[ -x $PFCOUNT ]] || die "no $PFCOUNT: run 'cargo build --release -p pfring-tools' first"
    command -v trafgen >/dev/null || die "missing trafgen (Debian package netsniff-ng)"

    ip netns add "$NS"
    ip -n "$NS" link add ftx type veth peer name frx
    local d
    for d in ftx frx; do
        ip -n "$NS" link set dev "$d" addrgenmode none
        ip -n "$NS" link set "$d" up
    done
}
