#!/usr/bin/env bash
# Builds the PF_RING-aware libpcap (crates/pfring-pcap) and installs it as libpcap.so.0.8 in
# DIR (default /usr/local/lib/pfring-pcap), without touching the system's libpcap. Then:
#
#   LD_LIBRARY_PATH=/usr/local/lib/pfring-pcap tcpdump -i eth0
#
# Usage: scripts/install-pcap-shim.sh [DIR]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${1:-/usr/local/lib/pfring-pcap}
cargo build --release -p pfring-pcap --manifest-path "$ROOT/Cargo.toml"
mkdir -p "$DIR"
install -m 0755 "$ROOT/target/release/libpfring_pcap.so" "$DIR/libpfring_pcap.so"
ln -sf libpfring_pcap.so "$DIR/libpcap.so.0.8"
ln -sf libpfring_pcap.so "$DIR/libpcap.so.1"
echo "installed $DIR/libpcap.so.0.8 -> libpfring_pcap.so"
if command -v tcpdump >/dev/null; then
    LD_LIBRARY_PATH=$DIR tcpdump --version 2>&1 | sed -n '/pfring-rs/p'
fi
echo "run:  LD_LIBRARY_PATH=$DIR tcpdump -i <device>"
