//! # pfring: PF_RING's capture and transmit API, on the facilities Linux already has
//!
//! A Rust re-implementation of the PF_RING 5.4 library: same concepts, same names (each Rust
//! item carries `#[doc(alias = "pfring_...")]`), no kernel module and no licence key.
//!
//! ## Layers
//!
//! | layer | module | what it does |
//! |---|---|---|
//! | device names | [`device`] | the one parser of `eth0@1-3`, `xdp:eth0@2`, `zc:10@0`, ... |
//! | packet parsing | [`parse`] | L2..L4 and tunnel headers (`pfring_parse_pkt`), the PF_RING hashes, the pfcount packet line |
//! | filters | [`filter`] | pcap-filter → classic BPF compiler, optimizer, interpreter, cBPF → eBPF (XDP); PF_RING's wildcard / exact rules, policy, sampling and plugins ([`filter::rules`]) |
//! | clusters | [`cluster`] | fanout groups with PF_RING's hash per cluster type as a classic-BPF program; ip-with-dup; RSS rehash |
//! | public handle | `ring` | `RingBuilder` → `Ring`: open, enable, recv, send, stats, ... |
//! | backends | `backend` | AF_PACKET TPACKET_V3 (the default module; it sends through a TX ring or `sendmmsg` batches, [`TxMode`]), AF_XDP (`xdp:`), files, userspace rings (`userspace:`), ZC cluster slaves (`zc:`) |
//! | ring registry | [`registry`] | every open ring's entry under the runtime directory (what `/proc/net/pf_ring` showed), read by `pfinfo` |
//! | system calls | `sys` | the only place with `unsafe`: sockets, mmap, ring views |
//!
//! ## Minimum kernel
//!
//! The default module needs TPACKET_V3 (Linux 3.2) and `PACKET_FANOUT` (3.1); `xdp:` needs
//! AF_XDP and BPF links (Linux 5.9). This crate is tested on Linux 6.18.
#![deny(unsafe_code)]
#![deny(missing_docs)]

mod backend;
pub mod cluster;
pub mod device;
pub mod error;
pub mod filter;
mod fmt;
pub mod packet;
pub mod parse;
pub mod pcap;
pub mod registry;
pub mod ring;
mod sys;

pub use backend::xdp::{XdpInfo, XdpMode};
pub use backend::xdp_bridge::{XdpBridge, XdpBridgeStats};
pub use device::DeviceSpec;
pub use error::{Error, Result, SyscallError};
pub use filter::{FilterError, Program as BpfProgram, Target as BpfTarget};
pub use fmt::format_numbers;
pub use packet::{ExtendedHeader, OwnedPacket, Packet, PacketHeader, Timestamp, TimestampSource};
pub use parse::{ClusterHash, ClusterType, IpAddress, ParsedPacket, parse_packet};
pub use ring::{
    BreakHandle, Burst, Direction, Flags, Ring, RingBuilder, SharedRing, SocketMode, Stats, TxMode,
    VERSION_NUM, version,
};

/// Interfaces of the calling thread's network namespace, as `(ifindex, name)`.
///
/// # Errors
/// `if_nameindex(3)` failure.
#[doc(alias = "pfring_findalldevs")]
pub fn find_all_devices() -> Result<Vec<(u32, String)>> {
    sys::iface::list().map_err(|source| {
        Error::Syscall(SyscallError {
            call: "if_nameindex",
            source,
        })
    })
}

/// Pins the calling thread to CPU `core` (pfcount's `-g`).
///
/// # Errors
/// `sched_setaffinity(2)` failure (e.g. no such CPU).
pub fn bind_to_core(core: usize) -> Result<()> {
    sys::cpu::bind_to_core(core).map_err(|source| {
        Error::Syscall(SyscallError {
            call: "sched_setaffinity",
            source,
        })
    })
}

/// MAC address and MTU of interface `name` in the calling thread's network namespace.
///
/// # Errors
/// [`Error::NoSuchDevice`] or an ioctl failure.
pub fn device_info(name: &str) -> Result<([u8; 6], u32)> {
    let mac = sys::iface::mac_address(name)
        .map_err(|e| Error::from_os("SIOCGIFHWADDR", e, "read MAC", "none", name))?;
    let mtu =
        sys::iface::mtu(name).map_err(|e| Error::from_os("SIOCGIFMTU", e, "mtu", "none", name))?;
    Ok((mac, mtu))
}

/// The README's Rust examples, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
