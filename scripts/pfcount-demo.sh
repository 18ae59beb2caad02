#!/usr/bin/env bash
# Builds pfcount and runs it on the loopback device of a private network namespace while 1000
# UDP datagrams are sent there (each is seen leaving and arriving: 2000 packets), then exits.
# Nothing touches the host's interfaces. Needs root (re-runs itself with sudo when available).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p pfring-tools
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "run as root (capturing needs CAP_NET_RAW)" >&2; exit 1; }
    exec sudo "$0" "$@"
fi
exec unshare --net bash -c '
    ip link set lo up
    ( sleep 1; for i in $(seq 1000); do echo "pfring-rs $i" > /dev/udp/127.0.0.1/9; done ) &
    exec timeout 30 ./target/release/pfcount -i lo -N 2000 "$@"
' pfcount-demo "$@"
