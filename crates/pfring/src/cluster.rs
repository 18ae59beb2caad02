//! PF_RING clusters on Linux `PACKET_FANOUT`.
//!
//! A PF_RING cluster is a set of rings (threads or processes) that share the packets of one
//! device: each packet goes to exactly one member, chosen by a hash of the packet
//! ([`ClusterType`]) modulo the number of members. Here a cluster is a `PACKET_FANOUT` group
//! whose id is the cluster id (per network namespace), joined by every member socket:
//!
//! - hash types use `PACKET_FANOUT_CBPF`: the group runs a classic BPF program (attached
//!   with `PACKET_FANOUT_DATA`) that computes PF_RING's hash for the type, the same value
//!   as [`ParsedPacket::cluster_hash`](crate::ParsedPacket::cluster_hash) on the frame
//!   parsed at level 5, and the kernel delivers to member `hash % members`
//!   (`fanout_demux_bpf`). The hash is a sum of fields, so both directions of a flow reach
//!   the same member whatever RSS does; members may join and leave while traffic flows,
//!   from any process. The program walks QinQ tag stacks, IPv4 AH and IPv6 extension
//!   headers, and for the `cluster_per_inner_*` types the GTP-U, GTP-C and GRE tunnels the
//!   parser knows (details and limits in [`prog`]: the walks are unrolled to
//!   [`MAX_TAGS`] / [`MAX_EXT`] steps since classic BPF has no loops);
//! - [`ClusterType::RoundRobin`] uses `PACKET_FANOUT_LB`;
//! - [`ClusterType::PerFlowIpWithDupTuple`] delivers a packet to up to two members, which a
//!   fanout group cannot do (it picks exactly one socket per packet): its members are plain
//!   sockets whose socket filters keep the packets with `src_ip % n == me` or
//!   `dst_ip % n == me` ([`dup_filter_prefix`]); the members (threads or processes) are
//!   listed in a locked file and re-filtered on every join and leave (semantics in
//!   [`dup`]).
//!
//! Known differences from [`ParsedPacket::cluster_hash`](crate::ParsedPacket::cluster_hash):
//! a header cut short inside the frame makes the kernel end a fanout program with 0
//! (member 0) and an ip-with-dup filter drop the packet, where the parser stops early; more
//! than [`MAX_TAGS`] VLAN tags left in the frame make it non-IP (MAC hash). Non-first IPv4
//! fragments have no ports, as in the parser (PF_RING's fragment cache that sends them
//! after the first is not reproduced; `ip_defrag` reassembles before the fanout instead).
//!
//! Differences from PF_RING's kernel clusters: the type is per group and the last member
//! that joined sets the program (members of one cluster id must use the same type; a
//! round robin and a hash cluster cannot share an id, [`Error::InvalidArgument`](crate::Error::InvalidArgument)); the
//! member is `hash % members`, not `hash % (highest queue id + 1)`; a disabled member
//! still receives its share of the packets (and drops them) instead of leaving the
//! distribution; an ip-with-dup cluster of several processes needs ptrace permission over
//! the other members (root or `CAP_SYS_PTRACE`) to re-filter their sockets.

pub mod dup;
pub mod prog;

pub(crate) use dup::DupMembership;
pub use prog::{MAX_EXT, MAX_TAGS};

use crate::error::Result;
use crate::filter::Insn;
use crate::parse::ClusterType;

/// `PACKET_FANOUT_LB` (round robin).
pub const PACKET_FANOUT_LB: u16 = 1;
/// `PACKET_FANOUT_CBPF` (classic BPF program chooses the member).
pub const PACKET_FANOUT_CBPF: u16 = 6;

/// How a cluster of a given type is implemented.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FanoutMode {
    /// `PACKET_FANOUT_LB`.
    RoundRobin,
    /// `PACKET_FANOUT_CBPF` with this hash program.
    Hash(Vec<Insn>),
    /// No fanout group: every member's socket filter accepts the packets whose source or
    /// destination address hash selects it ([`ClusterType::PerFlowIpWithDupTuple`]).
    DupFilter,
}

impl FanoutMode {
    /// The `PACKET_FANOUT_*` type number (`None` for [`FanoutMode::DupFilter`], which uses
    /// no fanout group).
    pub fn fanout_type(&self) -> Option<u16> {
        match self {
            FanoutMode::RoundRobin => Some(PACKET_FANOUT_LB),
            FanoutMode::Hash(_) => Some(PACKET_FANOUT_CBPF),
            FanoutMode::DupFilter => None,
        }
    }
}

/// The implementation of cluster type `ty` (every type has one).
pub fn fanout_mode(ty: ClusterType) -> Result<FanoutMode> {
    Ok(match ty {
        ClusterType::RoundRobin => FanoutMode::RoundRobin,
        ClusterType::PerFlowIpWithDupTuple => FanoutMode::DupFilter,
        _ => FanoutMode::Hash(
            prog::hash_program(ty, prog::Offsets::KERNEL).expect("a hashed cluster type"),
        ),
    })
}

/// The socket filter prefix of member `me` of an ip-with-dup cluster of `members`
/// members (see [`ClusterType::PerFlowIpWithDupTuple`]): it drops the packets that are
/// not for `me` and falls through past its last instruction for the others.
pub fn dup_filter_prefix(me: u32, members: u32) -> Vec<Insn> {
    prog::dup_prefix(me, members, prog::Offsets::KERNEL)
}

/// The socket filter prefix of a ring bound to RX channels `channels` of a device with
/// `queues` RX queues, with RSS rehash (`pfring_enable_rss_rehash`): PF_RING's kernel hash
/// ([`ParsedPacket::kernel_hash`](crate::ParsedPacket::kernel_hash), symmetric) modulo
/// `queues` replaces the queue the NIC chose, so both directions of a flow are given to the
/// same channel. Packets of the ring's channels fall through past its last instruction,
/// the others are dropped.
pub fn rss_rehash_prefix(queues: u32, channels: crate::device::ChannelMask) -> Vec<Insn> {
    prog::rehash_prefix(queues, channels.0, prog::Offsets::KERNEL)
}

/// A ring's cluster membership: the wanted cluster, and whether the socket joined it
/// (joining needs a bound socket, so a ring that is not enabled yet joins in `enable`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Membership {
    pub(crate) id: u16,
    pub(crate) ty: ClusterType,
    pub(crate) joined: bool,
}

#[cfg(test)]
mod tests;
