//! Packet header parsing (L2 to L4 and tunnels) and the PF_RING hashes.
//!
//! This is the equivalent of PF_RING's `pfring_parse_pkt()` and of the `pkt_parsing_info`
//! part of its extended packet header: [`parse_packet`] fills a [`ParsedPacket`] from the
//! bytes of an Ethernet frame, up to a level:
//!
//! | level | what is parsed |
//! |---|---|
//! | 2 | MACs, EtherType, 802.1Q / 802.1ad / QinQ tags (first tag → `vlan_id`, second → `qinq_vlan_id`, further tags skipped) |
//! | 3 | + IPv4 (fragment flag and offset) or IPv6 with its extension headers: version, addresses, protocol, TOS / traffic class |
//! | 4 | + TCP (ports, flags, sequence and acknowledgement numbers), UDP, SCTP ports, ICMP / ICMPv6 type and code, the GRE header |
//! | 5 | + tunnels: GTP-U v1 (UDP 2152) and GTP-C (UDP 2123) with the TEID, GRE (key, IPv4 / IPv6 / transparent Ethernet bridging) with the inner tuple |
//!
//! The return value is the highest level actually parsed, which may be lower than the level
//! asked for (a non-IP frame stops at 2, an IPv4 fragment other than the first at 3, ...).
//!
//! ```
//! use pfring::parse::{ParsedPacket, format_parsed};
//!
//! // 02:00:00:00:00:01 -> 00:1b:21:0a:0b:0c, IPv4 10.0.0.1:1234 -> 10.0.0.2:80 TCP SYN
//! let frame = [
//!     0x00, 0x1b, 0x21, 0x0a, 0x0b, 0x0c, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00, //
//!     0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, //
//!     0x04, 0xd2, 0, 80, 0, 0, 0, 7, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0,
//! ];
//! let (mut p, level) = ParsedPacket::parse(&frame, 4);
//! assert_eq!((level, p.l3_proto, p.l4_src_port, p.l4_dst_port), (4, 6, 1234, 80));
//! p.add_hash();
//! let mut line = String::new();
//! format_parsed(&mut line, &p, &frame, 54, 60).unwrap();
//! assert_eq!(
//!     line,
//!     "[02:00:00:00:00:01 -> 00:1B:21:0A:0B:0C] [IPv4][10.0.0.1:1234 -> 10.0.0.2:80] \
//!      [l3_proto=TCP][hash=335545643][tos=0][tcp_seq_num=7] \
//!      [caplen=54][len=60][eth_offset=0][l3_offset=14][l4_offset=34][payload_offset=54]"
//! );
//! ```
//!
//! # Untrusted input
//!
//! The frame may be any bytes of any length (for example a capture truncated by the
//! caplen): the parser never panics and never reads past the slice. A header that does not
//! fit stops the parse at the previous level. Extension-header and tunnel-option loops are
//! bounded.
//!
//! # Hashes
//!
//! [`ParsedPacket::pfring_hash`] is the symmetric PF_RING packet hash (`add_hash`); the
//! [`hash`] module has the per-cluster-type variants ([`ClusterType`]) and the libzero
//! bidirectional hash.
//!
//! # Printing
//!
//! [`format_parsed`] writes the line of `pfring_print_parsed_pkt()` (pfcount `-v 1 -m`),
//! [`format_short`] the line pfcount prints without `-m`, and [`format_hex_dump`] the bytes
//! of `-v 2`.
//!
//! # Differences from PF_RING
//!
//! The parser follows PF_RING's userland `pfring_parse_pkt()` (offsets are absolute from
//! the start of the frame, `eth_offset` is 0), with these deliberate differences:
//!
//! - the output is always parsed from scratch (PF_RING resumes from a partially filled
//!   header); [`ParsedPacket::pkt_hash`] is 0 until [`ParsedPacket::add_hash`] is called;
//! - a frame shorter than an Ethernet header returns level 0 (PF_RING reads past it);
//! - all three tag protocol identifiers 0x8100, 0x88A8 and 0x9100 are VLAN tags, at any
//!   position (PF_RING recognises only 0x8100);
//! - IPv4 headers with IHL < 5 are bogus: addresses are filled but the parse stops at 2;
//! - the IPv6 `ip_tos` is the full 8-bit traffic class (PF_RING stores its top 4 bits);
//! - IPv6 authentication headers are skipped (PF_RING stops at them), and so are IPv4 ones;
//!   an extension header or AH is only skipped when it lies entirely inside the captured
//!   bytes, else it is reported as the protocol, at level 3 (PF_RING returns level 2 when
//!   its first two bytes are missing, and skips it blindly otherwise);
//! - non-first IPv6 fragments get no L4 (like IPv4; PF_RING reads their payload as L4);
//! - ICMP / ICMPv6 type and code are filled (the userland parser leaves them to the kernel)
//!   and count as level 4;
//! - a parsed tunnel returns level 5 (PF_RING returns 4 plus 1 or 2);
//! - GTP-U inner packets are only parsed for G-PDU messages (type 255), so echo
//!   requests on port 2152 get no bogus inner tuple; GTP-C version 2 with a TEID is also
//!   recognised;
//! - GRE with transparent Ethernet bridging (0x6558) is parsed: the inner MACs and
//!   EtherType go to the `tunneled_*` fields and the inner IP tuple follows.
//!
//! Like PF_RING, a GRE packet without a key keeps `tunnel_id == NO_TUNNEL_ID` (its tunneled
//! fields are still filled), and a GTP-C packet has a tunnel id but no inner tuple.

pub mod hash;
mod print;
#[cfg(test)]
mod tests;

use core::fmt;
use core::time::Duration;
use std::net::{Ipv4Addr, Ipv6Addr};

pub use hash::{
    ClusterHash, ClusterType, HashFlags, LibzeroHashMode, UnknownClusterType, libzero_hash,
};
pub use print::{format_hex_dump, format_parsed, format_short};

/// `tunnel_id` value meaning "no tunnel" (PF_RING's `NO_TUNNEL_ID`).
pub const NO_TUNNEL_ID: u32 = 0xFFFF_FFFF;

/// `pfring_extended_pkthdr.flags` bit: the IPv4 / IPv6 "more fragments" flag is set.
pub const PKT_FLAGS_IP_MORE_FRAG: u32 = 1 << 2;
/// `pfring_extended_pkthdr.flags` bit: the fragment offset is not zero.
pub const PKT_FLAGS_IP_FRAG_OFFSET: u32 = 1 << 3;

/// TCP flag bits as PF_RING stores them in [`TcpInfo::flags`] (only these six).
pub mod tcp_flags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;
    /// URG.
    pub const URG: u8 = 0x20;
}

/// Well-known numbers used by the parser.
pub mod consts {
    /// EtherType IPv4.
    pub const ETH_P_IP: u16 = 0x0800;
    /// EtherType ARP.
    pub const ETH_P_ARP: u16 = 0x0806;
    /// EtherType IPv6.
    pub const ETH_P_IPV6: u16 = 0x86DD;
    /// EtherType 802.1Q VLAN tag.
    pub const ETH_P_8021Q: u16 = 0x8100;
    /// EtherType 802.1ad service VLAN tag (QinQ).
    pub const ETH_P_8021AD: u16 = 0x88A8;
    /// Pre-standard QinQ tag protocol identifier.
    pub const ETH_P_QINQ1: u16 = 0x9100;
    /// EtherType transparent Ethernet bridging (GRE payload).
    pub const ETH_P_TEB: u16 = 0x6558;
    /// IP protocol ICMP.
    pub const IPPROTO_ICMP: u8 = 1;
    /// IP protocol TCP.
    pub const IPPROTO_TCP: u8 = 6;
    /// IP protocol UDP.
    pub const IPPROTO_UDP: u8 = 17;
    /// IP protocol GRE.
    pub const IPPROTO_GRE: u8 = 47;
    /// IP protocol ESP.
    pub const IPPROTO_ESP: u8 = 50;
    /// IP protocol AH (authentication header).
    pub const IPPROTO_AH: u8 = 51;
    /// IP protocol ICMPv6.
    pub const IPPROTO_ICMPV6: u8 = 58;
    /// IPv6 "no next header".
    pub const IPPROTO_NONE: u8 = 59;
    /// IP protocol SCTP.
    pub const IPPROTO_SCTP: u8 = 132;
    /// GTP-C (control plane) UDP port.
    pub const GTP_C_PORT: u16 = 2123;
    /// GTP-U (user plane) UDP port.
    pub const GTP_U_PORT: u16 = 2152;
}

use consts::*;

/// Most IPv6 extension headers (or GTP extension headers) walked before giving up.
const MAX_EXT_HEADERS: usize = 8;

/// An IP address stored like PF_RING's `ip_addr` union: 16 bytes, where an IPv4 address
/// is a host-order `u32` (PF_RING stores `ntohl(addr)`) in the first four bytes, and an
/// IPv6 address is the 16 bytes in network order.
///
/// Which of the two it holds is given by the `ip_version` next to it.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(C)]
pub struct IpAddress {
    raw: [u8; 16],
}

impl IpAddress {
    /// The all-zero address.
    pub const ZERO: Self = Self { raw: [0; 16] };

    /// An IPv4 address from its host-order value (`u32::from(Ipv4Addr)`).
    #[inline]
    pub const fn from_v4(host_order: u32) -> Self {
        let b = host_order.to_ne_bytes();
        Self {
            raw: [b[0], b[1], b[2], b[3], 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        }
    }

    /// An IPv6 address from its 16 network-order bytes.
    #[inline]
    pub const fn from_v6(octets: [u8; 16]) -> Self {
        Self { raw: octets }
    }

    /// The IPv4 view: the host-order value (`Ipv4Addr::from(addr.v4())`).
    #[inline]
    pub const fn v4(&self) -> u32 {
        u32::from_ne_bytes([self.raw[0], self.raw[1], self.raw[2], self.raw[3]])
    }

    /// The IPv6 view: the 16 network-order bytes.
    #[inline]
    pub const fn v6(&self) -> [u8; 16] {
        self.raw
    }

    /// The raw 16 bytes of the union, as they lie in memory.
    #[inline]
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.raw
    }

    /// The union from its raw 16 bytes in memory (the inverse of [`IpAddress::as_bytes`]).
    #[inline]
    pub const fn from_bytes(raw: [u8; 16]) -> Self {
        Self { raw }
    }

    /// The four 32-bit words of the union read in native byte order, as PF_RING's hash
    /// reads `s6_addr32[i]`.
    #[inline]
    pub fn words(&self) -> [u32; 4] {
        let r = &self.raw;
        [
            u32::from_ne_bytes([r[0], r[1], r[2], r[3]]),
            u32::from_ne_bytes([r[4], r[5], r[6], r[7]]),
            u32::from_ne_bytes([r[8], r[9], r[10], r[11]]),
            u32::from_ne_bytes([r[12], r[13], r[14], r[15]]),
        ]
    }

    /// The address as a standard one, given the IP version it was stored with (4 or 6;
    /// anything else gives `None`).
    pub fn to_std(&self, ip_version: u8) -> Option<std::net::IpAddr> {
        match ip_version {
            4 => Some(Ipv4Addr::from(self.v4()).into()),
            6 => Some(Ipv6Addr::from(self.raw).into()),
            _ => None,
        }
    }

    /// True for the all-zero address.
    #[inline]
    pub fn is_zero(&self) -> bool {
        self.raw == [0; 16]
    }
}

impl From<Ipv4Addr> for IpAddress {
    fn from(a: Ipv4Addr) -> Self {
        Self::from_v4(a.into())
    }
}

impl From<Ipv6Addr> for IpAddress {
    fn from(a: Ipv6Addr) -> Self {
        Self::from_v6(a.octets())
    }
}

impl fmt::Debug for IpAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return f.write_str("0");
        }
        if self.raw[4..] == [0; 12] {
            write!(f, "{} (v4) / ", Ipv4Addr::from(self.v4()))?;
        }
        write!(f, "{}", Ipv6Addr::from(self.raw))
    }
}

/// TCP fields (PF_RING's `parsed_pkt.tcp`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpInfo {
    /// FIN, SYN, RST, PSH, ACK, URG as the bits of [`tcp_flags`] (ECE and CWR are not kept,
    /// like PF_RING).
    pub flags: u8,
    /// Sequence number (host order).
    pub seq_num: u32,
    /// Acknowledgement number (host order).
    pub ack_num: u32,
}

/// The kind of tunnel found at level 5 (an addition: PF_RING only has the tunnel id).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TunnelType {
    /// No tunnel was parsed.
    #[default]
    None,
    /// GTP-U (UDP port 2152): inner IP packet.
    GtpU,
    /// GTP-C (UDP port 2123): TEID only, no inner packet.
    GtpC,
    /// GRE version 0 (IPv4, IPv6 or transparent Ethernet bridging payload).
    Gre,
}

/// Tunnel fields (PF_RING's `tunnel_info`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TunnelInfo {
    /// GTP TEID or GRE key; [`NO_TUNNEL_ID`] when none.
    pub tunnel_id: u32,
    /// What kind of tunnel was parsed (addition).
    pub tunnel_type: TunnelType,
    /// Inner destination MAC (GRE transparent Ethernet bridging only).
    pub tunneled_dmac: [u8; 6],
    /// Inner source MAC (GRE transparent Ethernet bridging only).
    pub tunneled_smac: [u8; 6],
    /// Inner EtherType (GRE transparent Ethernet bridging only).
    pub tunneled_eth_type: u16,
    /// Inner IP version (4, 6, or 0).
    pub tunneled_ip_version: u8,
    /// Inner IP protocol.
    pub tunneled_proto: u8,
    /// Inner source address.
    pub tunneled_ip_src: IpAddress,
    /// Inner destination address.
    pub tunneled_ip_dst: IpAddress,
    /// Inner L4 source port.
    pub tunneled_l4_src_port: u16,
    /// Inner L4 destination port.
    pub tunneled_l4_dst_port: u16,
}

impl TunnelInfo {
    /// No tunnel: `tunnel_id` is [`NO_TUNNEL_ID`], everything else zero (the default).
    pub const NONE: Self = Self {
        tunnel_id: NO_TUNNEL_ID,
        tunnel_type: TunnelType::None,
        tunneled_dmac: [0; 6],
        tunneled_smac: [0; 6],
        tunneled_eth_type: 0,
        tunneled_ip_version: 0,
        tunneled_proto: 0,
        tunneled_ip_src: IpAddress::ZERO,
        tunneled_ip_dst: IpAddress::ZERO,
        tunneled_l4_src_port: 0,
        tunneled_l4_dst_port: 0,
    };
}

impl Default for TunnelInfo {
    fn default() -> Self {
        Self::NONE
    }
}

/// Header offsets from the start of the frame (PF_RING's `struct pkt_offset`; signed like
/// PF_RING's, and 0 when the header was not reached).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PacketOffsets {
    /// Ethernet header: always 0 here (the kernel module uses negative values).
    pub eth_offset: i16,
    /// The last VLAN tag's TCI (0 without VLAN tags).
    pub vlan_offset: i16,
    /// The IP (or other L3) header.
    pub l3_offset: i16,
    /// The L4 header (after the IPv6 extension headers).
    pub l4_offset: i16,
    /// The payload after TCP / UDP / GRE (equal to `l4_offset` for other protocols, like
    /// PF_RING).
    pub payload_offset: i16,
}

/// The parsed headers of one packet: PF_RING's `pkt_parsing_info` plus `pkt_hash`.
///
/// Fields are in host byte order, except IPv6 addresses (network order, see
/// [`IpAddress`]). The default value is "nothing parsed" (and `tunnel_id` is
/// [`NO_TUNNEL_ID`]).
#[doc(alias = "pkt_parsing_info")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ParsedPacket {
    /// Destination MAC.
    pub dmac: [u8; 6],
    /// Source MAC.
    pub smac: [u8; 6],
    /// EtherType after the VLAN tags.
    pub eth_type: u16,
    /// VLAN id of the first tag (0 = none).
    pub vlan_id: u16,
    /// VLAN id of the second tag (QinQ; 0 = none).
    pub qinq_vlan_id: u16,
    /// 4, 6, or 0 for non-IP.
    pub ip_version: u8,
    /// IP protocol after the IPv6 extension headers / AH (0 for non-IP and for IPv6 "no
    /// next header").
    pub l3_proto: u8,
    /// IPv4 TOS or IPv6 traffic class.
    pub ip_tos: u8,
    /// Source address.
    pub ip_src: IpAddress,
    /// Destination address.
    pub ip_dst: IpAddress,
    /// L4 source port (TCP, UDP, SCTP).
    pub l4_src_port: u16,
    /// L4 destination port (TCP, UDP, SCTP).
    pub l4_dst_port: u16,
    /// ICMP / ICMPv6 type.
    pub icmp_type: u8,
    /// ICMP / ICMPv6 code.
    pub icmp_code: u8,
    /// IPv4 "more fragments" flag or IPv6 fragment-header M flag (addition: PF_RING has it
    /// as [`PKT_FLAGS_IP_MORE_FRAG`], see [`ParsedPacket::pkt_flags`]).
    pub ip_more_fragments: bool,
    /// Fragment offset in 8-byte units (0 for unfragmented packets and first fragments).
    pub ip_fragment_offset: u16,
    /// TCP flags, sequence and acknowledgement numbers.
    pub tcp: TcpInfo,
    /// Tunnel id and the tunneled (inner) tuple.
    pub tunnel: TunnelInfo,
    /// Id of the last filtering rule that matched (set by the rule engine, 0 here).
    pub last_matched_rule_id: i32,
    /// Header offsets.
    pub offset: PacketOffsets,
    /// The packet hash of `pfring_extended_pkthdr` (0 until [`ParsedPacket::add_hash`]).
    pub pkt_hash: u32,
}

impl ParsedPacket {
    /// Nothing parsed: the same value as `ParsedPacket::default()`, usable in `const`
    /// context.
    pub const EMPTY: Self = Self {
        dmac: [0; 6],
        smac: [0; 6],
        eth_type: 0,
        vlan_id: 0,
        qinq_vlan_id: 0,
        ip_version: 0,
        l3_proto: 0,
        ip_tos: 0,
        ip_src: IpAddress::ZERO,
        ip_dst: IpAddress::ZERO,
        l4_src_port: 0,
        l4_dst_port: 0,
        icmp_type: 0,
        icmp_code: 0,
        ip_more_fragments: false,
        ip_fragment_offset: 0,
        tcp: TcpInfo {
            flags: 0,
            seq_num: 0,
            ack_num: 0,
        },
        tunnel: TunnelInfo::NONE,
        last_matched_rule_id: 0,
        offset: PacketOffsets {
            eth_offset: 0,
            vlan_offset: 0,
            l3_offset: 0,
            l4_offset: 0,
            payload_offset: 0,
        },
        pkt_hash: 0,
    };

    /// Parses `frame` up to `level` (see [`parse_packet`]) and returns the result and the
    /// highest level parsed.
    #[doc(alias = "pfring_parse_pkt")]
    #[inline]
    pub fn parse(frame: &[u8], level: u8) -> (Self, u8) {
        let mut p = Self::default();
        let l = parse_packet(frame, level, &mut p);
        (p, l)
    }

    /// True when a tunnel id was found (`tunnel_id != NO_TUNNEL_ID`): the hashes then use
    /// the tunneled tuple.
    #[inline]
    pub fn has_tunnel(&self) -> bool {
        self.tunnel.tunnel_id != NO_TUNNEL_ID
    }

    /// The `pfring_extended_pkthdr.flags` fragment bits ([`PKT_FLAGS_IP_MORE_FRAG`],
    /// [`PKT_FLAGS_IP_FRAG_OFFSET`]) for this packet.
    #[inline]
    pub fn pkt_flags(&self) -> u32 {
        let mut f = 0;
        if self.ip_more_fragments {
            f |= PKT_FLAGS_IP_MORE_FRAG;
        }
        if self.ip_fragment_offset != 0 {
            f |= PKT_FLAGS_IP_FRAG_OFFSET;
        }
        f
    }

    /// The `add_hash` step of `pfring_parse_pkt()`: sets [`ParsedPacket::pkt_hash`] to
    /// [`ParsedPacket::pfring_hash`] if it is still 0, and returns it.
    #[inline]
    pub fn add_hash(&mut self) -> u32 {
        if self.pkt_hash == 0 {
            self.pkt_hash = self.pfring_hash();
        }
        self.pkt_hash
    }
}

/// The `add_timestamp` step of `pfring_parse_pkt()`: returns `ts` unless it is missing or
/// has zero seconds (PF_RING tests `tv_sec == 0`), in which case it returns the current
/// wall-clock time since the Unix epoch (PF_RING calls `gettimeofday()`).
pub fn add_timestamp(ts: Option<Duration>) -> Duration {
    match ts {
        Some(t) if t.as_secs() != 0 => t,
        _ => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default(),
    }
}

// ---------------------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------------------

/// [`ParsedPacket::EMPTY`] with a zero tunnel id: all bytes zero.
const ZEROED: ParsedPacket = {
    let mut p = ParsedPacket::EMPTY;
    p.tunnel.tunnel_id = 0;
    p
};

/// `N` bytes of `f` at `off`, if they are all there.
#[inline(always)]
fn chunk<const N: usize>(f: &[u8], off: usize) -> Option<&[u8; N]> {
    f.get(off..)?.first_chunk::<N>()
}

#[inline(always)]
fn be16(b: [u8; 2]) -> u16 {
    u16::from_be_bytes(b)
}

/// An offset as PF_RING's signed 16-bit field (frames are far below 32 KiB in practice;
/// larger values saturate).
#[inline(always)]
fn off16(x: usize) -> i16 {
    if x > i16::MAX as usize {
        i16::MAX
    } else {
        x as i16
    }
}

#[inline(always)]
fn is_vlan_tpid(t: u16) -> bool {
    t == ETH_P_8021Q || t == ETH_P_8021AD || t == ETH_P_QINQ1
}

/// Parses the Ethernet frame `frame` up to `level` (2, 3, 4 or 5; lower values act as 2,
/// higher as 5) into `out`, which is overwritten, and returns the highest level parsed
/// (0 when the frame is shorter than an Ethernet header).
///
/// Never panics and never reads outside `frame`, whatever its bytes and length. See the
/// [module documentation](self) for what each level fills and how this differs from
/// PF_RING.
///
/// ```
/// use pfring::parse::{parse_packet, ParsedPacket};
/// let mut p = ParsedPacket::default();
/// let level = parse_packet(&[0u8; 10], 4, &mut p);
/// assert_eq!(level, 0);
/// ```
#[doc(alias = "pfring_parse_pkt")]
pub fn parse_packet(frame: &[u8], level: u8, out: &mut ParsedPacket) -> u8 {
    // All-zero first (an inline memset), then the one non-zero default: a copy of EMPTY
    // (152 bytes) would be a memcpy library call, the largest cost of a short parse.
    *out = ZEROED;
    out.tunnel.tunnel_id = NO_TUNNEL_ID;
    let Some(eth) = chunk::<14>(frame, 0) else {
        return 0;
    };
    out.dmac = [eth[0], eth[1], eth[2], eth[3], eth[4], eth[5]];
    out.smac = [eth[6], eth[7], eth[8], eth[9], eth[10], eth[11]];
    let mut eth_type = be16([eth[12], eth[13]]);
    let mut displ = 14usize;

    if is_vlan_tpid(eth_type) {
        let mut n = 0usize;
        while is_vlan_tpid(eth_type) {
            let Some(tag) = chunk::<4>(frame, displ) else {
                break;
            };
            let vid = be16([tag[0], tag[1]]) & 0x0FFF;
            match n {
                0 => out.vlan_id = vid,
                1 => out.qinq_vlan_id = vid,
                _ => {}
            }
            out.offset.vlan_offset = off16(displ);
            eth_type = be16([tag[2], tag[3]]);
            displ += 4;
            n += 1;
        }
    }
    out.eth_type = eth_type;
    out.offset.l3_offset = off16(displ);

    if level < 3 {
        return 2;
    }
    parse_l3(frame, displ, level, out)
}

/// Result of walking an IP header: protocol, L4 offset, and whether L4 may be parsed.
struct IpResult {
    proto: u8,
    l4: usize,
    /// false for non-first fragments.
    l4_ok: bool,
}

/// Skips the IPv6 extension headers (and AH) starting with `nh` at `off`. Returns the
/// final protocol and its offset, and fills `frag` (offset, more) if a fragment header was
/// seen. A header that does not lie entirely inside the frame is not skipped: it becomes
/// the protocol.
#[inline]
fn skip_ipv6_ext(frame: &[u8], mut nh: u8, mut off: usize, frag: &mut (u16, bool)) -> (u8, usize) {
    for _ in 0..MAX_EXT_HEADERS {
        let len = match nh {
            0 | 43 | 60 => match frame.get(off + 1) {
                Some(&l) => (l as usize + 1) * 8,
                None => return (nh, off),
            },
            44 => 8,
            IPPROTO_AH => match frame.get(off + 1) {
                Some(&l) => (l as usize + 2) * 4,
                None => return (nh, off),
            },
            _ => return (nh, off),
        };
        let Some(h) = frame.get(off..off + len) else {
            return (nh, off);
        };
        if nh == 44 {
            let fo = be16([h[2], h[3]]);
            *frag = (fo >> 3, fo & 1 != 0);
        }
        nh = h[0];
        off += len;
    }
    // Too many extension headers: stop here, the remaining one counts as the protocol.
    (nh, off)
}

/// Parses the IP header at `l3` (IPv4 or IPv6 according to `out.eth_type`).
#[inline(always)]
fn parse_l3(frame: &[u8], l3: usize, level: u8, out: &mut ParsedPacket) -> u8 {
    let ip = if out.eth_type == ETH_P_IP {
        out.ip_version = 4;
        let Some(h) = chunk::<20>(frame, l3) else {
            return 2;
        };
        out.ip_src = IpAddress::from_v4(u32::from_be_bytes([h[12], h[13], h[14], h[15]]));
        out.ip_dst = IpAddress::from_v4(u32::from_be_bytes([h[16], h[17], h[18], h[19]]));
        out.ip_tos = h[1];
        let frag = be16([h[6], h[7]]);
        out.ip_more_fragments = frag & 0x2000 != 0;
        out.ip_fragment_offset = frag & 0x1FFF;
        let ihl = (h[0] & 0x0F) as usize * 4;
        let mut proto = h[9];
        out.l3_proto = proto;
        if ihl < 20 {
            return 2; // bogus header length
        }
        let mut l4 = l3 + ihl;
        let l4_ok = out.ip_fragment_offset == 0;
        if proto == IPPROTO_AH && l4_ok {
            // Skipped only when it lies entirely inside the captured bytes.
            if let Some(a) = chunk::<2>(frame, l4)
                && frame.len() >= l4 + (a[1] as usize + 2) * 4
            {
                proto = a[0];
                l4 += (a[1] as usize + 2) * 4;
                out.l3_proto = proto;
            }
        }
        IpResult { proto, l4, l4_ok }
    } else if out.eth_type == ETH_P_IPV6 {
        out.ip_version = 6;
        let Some(h) = chunk::<40>(frame, l3) else {
            return 2;
        };
        out.ip_tos = (h[0] << 4) | (h[1] >> 4);
        let mut s = [0u8; 16];
        s.copy_from_slice(&h[8..24]);
        out.ip_src = IpAddress::from_v6(s);
        s.copy_from_slice(&h[24..40]);
        out.ip_dst = IpAddress::from_v6(s);
        let mut frag = (0u16, false);
        let (proto, l4) = skip_ipv6_ext(frame, h[6], l3 + 40, &mut frag);
        out.ip_fragment_offset = frag.0;
        out.ip_more_fragments = frag.1;
        let proto = if proto == IPPROTO_NONE { 0 } else { proto };
        out.l3_proto = proto;
        IpResult {
            proto,
            l4,
            l4_ok: frag.0 == 0,
        }
    } else {
        return 2;
    };

    out.offset.l4_offset = off16(ip.l4);
    if level < 4 || !ip.l4_ok {
        return 3;
    }
    parse_l4(frame, ip, level, out)
}

#[inline(always)]
fn parse_l4(frame: &[u8], ip: IpResult, level: u8, out: &mut ParsedPacket) -> u8 {
    let l4 = ip.l4;
    match ip.proto {
        IPPROTO_TCP => {
            let Some(t) = chunk::<20>(frame, l4) else {
                return 3;
            };
            out.l4_src_port = be16([t[0], t[1]]);
            out.l4_dst_port = be16([t[2], t[3]]);
            out.tcp.seq_num = u32::from_be_bytes([t[4], t[5], t[6], t[7]]);
            out.tcp.ack_num = u32::from_be_bytes([t[8], t[9], t[10], t[11]]);
            out.tcp.flags = t[13] & 0x3F;
            out.offset.payload_offset = off16(l4 + (t[12] >> 4) as usize * 4);
            4
        }
        IPPROTO_UDP => {
            let Some(u) = chunk::<8>(frame, l4) else {
                return 3;
            };
            let sport = be16([u[0], u[1]]);
            let dport = be16([u[2], u[3]]);
            out.l4_src_port = sport;
            out.l4_dst_port = dport;
            let payload = l4 + 8;
            out.offset.payload_offset = off16(payload);
            if level >= 5
                && (sport == GTP_U_PORT
                    || dport == GTP_U_PORT
                    || sport == GTP_C_PORT
                    || dport == GTP_C_PORT)
            {
                return parse_gtp(
                    frame,
                    payload,
                    sport == GTP_U_PORT || dport == GTP_U_PORT,
                    out,
                );
            }
            4
        }
        IPPROTO_ICMP | IPPROTO_ICMPV6 => {
            out.offset.payload_offset = off16(l4);
            let Some(i) = chunk::<2>(frame, l4) else {
                return 3;
            };
            out.icmp_type = i[0];
            out.icmp_code = i[1];
            4
        }
        IPPROTO_SCTP => {
            out.offset.payload_offset = off16(l4);
            let Some(s) = chunk::<12>(frame, l4) else {
                return 3;
            };
            out.l4_src_port = be16([s[0], s[1]]);
            out.l4_dst_port = be16([s[2], s[3]]);
            4
        }
        IPPROTO_GRE => parse_gre(frame, l4, level, out),
        _ => {
            out.offset.payload_offset = off16(l4);
            3
        }
    }
}

/// GTP (v1 on either port; v2 with a TEID on the control port) at `at`.
#[cold]
fn parse_gtp(frame: &[u8], at: usize, user_plane: bool, out: &mut ParsedPacket) -> u8 {
    let Some(g) = chunk::<8>(frame, at) else {
        return 4;
    };
    let flags = g[0];
    let version = flags >> 5;
    let teid = u32::from_be_bytes([g[4], g[5], g[6], g[7]]);
    if !user_plane {
        // GTP-C: v1 always carries a TEID, v2 when the T flag is set.
        if version == 1 || (version == 2 && flags & 0x08 != 0) {
            out.tunnel.tunnel_id = teid;
            out.tunnel.tunnel_type = TunnelType::GtpC;
        }
        return 4;
    }
    if version != 1 {
        return 4;
    }
    out.tunnel.tunnel_id = teid;
    out.tunnel.tunnel_type = TunnelType::GtpU;
    if g[1] != 0xFF {
        return 4; // not a G-PDU: no inner packet
    }
    let mut len = 8usize;
    if flags & 0x07 != 0 {
        // sequence number, N-PDU number, next extension header type
        let Some(o) = chunk::<4>(frame, at + len) else {
            return 4;
        };
        len += 4;
        let mut next = o[3];
        if flags & 0x04 != 0 {
            let mut n = 0;
            while next != 0 {
                if n == MAX_EXT_HEADERS {
                    return 4;
                }
                n += 1;
                let Some(&units) = frame.get(at + len) else {
                    return 4;
                };
                if units == 0 {
                    return 4;
                }
                len += units as usize * 4;
                let Some(&nx) = frame.get(at + len - 1) else {
                    return 4;
                };
                next = nx;
            }
        }
    }
    let inner = at + len;
    match frame.get(inner).map(|b| b >> 4) {
        Some(4) => parse_inner_ip(frame, inner, 4, out),
        Some(6) => parse_inner_ip(frame, inner, 6, out),
        _ => 4,
    }
}

/// GRE header at `l4` (level ≥ 4), and its payload at level 5.
#[cold]
fn parse_gre(frame: &[u8], l4: usize, level: u8, out: &mut ParsedPacket) -> u8 {
    out.offset.payload_offset = off16(l4);
    let Some(g) = chunk::<4>(frame, l4) else {
        return 3;
    };
    let fv = be16([g[0], g[1]]);
    let proto = be16([g[2], g[3]]);
    if fv & 0x0007 != 0 {
        return 3; // only version 0 is parsed (PF_RING too)
    }
    let mut len = 4usize;
    if fv & 0xC000 != 0 {
        len += 4; // checksum (+ reserved) or routing present
    }
    if fv & 0x2000 != 0 {
        if let Some(k) = chunk::<4>(frame, l4 + len) {
            out.tunnel.tunnel_id = u32::from_be_bytes(*k);
        }
        len += 4;
    }
    if fv & 0x1000 != 0 {
        len += 4;
    }
    let payload = l4 + len;
    out.offset.payload_offset = off16(payload);
    if level < 5 {
        return 4;
    }
    out.tunnel.tunnel_type = TunnelType::Gre;
    match proto {
        ETH_P_IP => parse_inner_ip(frame, payload, 4, out),
        ETH_P_IPV6 => parse_inner_ip(frame, payload, 6, out),
        ETH_P_TEB => {
            let Some(e) = chunk::<14>(frame, payload) else {
                return 4;
            };
            let t = &mut out.tunnel;
            t.tunneled_dmac = [e[0], e[1], e[2], e[3], e[4], e[5]];
            t.tunneled_smac = [e[6], e[7], e[8], e[9], e[10], e[11]];
            let mut et = be16([e[12], e[13]]);
            let mut at = payload + 14;
            let mut n = 0;
            while is_vlan_tpid(et) && n < MAX_EXT_HEADERS {
                let Some(tag) = chunk::<4>(frame, at) else {
                    break;
                };
                et = be16([tag[2], tag[3]]);
                at += 4;
                n += 1;
            }
            t.tunneled_eth_type = et;
            match et {
                ETH_P_IP => parse_inner_ip(frame, at, 4, out),
                ETH_P_IPV6 => parse_inner_ip(frame, at, 6, out),
                _ => 4,
            }
        }
        _ => 4,
    }
}

/// The inner IP header of a tunnel and its ports. Returns 5 when the inner IP header was
/// parsed, 4 otherwise.
fn parse_inner_ip(frame: &[u8], at: usize, version: u8, out: &mut ParsedPacket) -> u8 {
    let t = &mut out.tunnel;
    let (proto, l4) = if version == 4 {
        let Some(h) = chunk::<20>(frame, at) else {
            return 4;
        };
        t.tunneled_ip_version = 4;
        t.tunneled_ip_src = IpAddress::from_v4(u32::from_be_bytes([h[12], h[13], h[14], h[15]]));
        t.tunneled_ip_dst = IpAddress::from_v4(u32::from_be_bytes([h[16], h[17], h[18], h[19]]));
        let mut proto = h[9];
        t.tunneled_proto = proto;
        let ihl = (h[0] & 0x0F) as usize * 4;
        if ihl < 20 || be16([h[6], h[7]]) & 0x1FFF != 0 {
            return 5;
        }
        let mut l4 = at + ihl;
        if proto == IPPROTO_AH
            && let Some(a) = chunk::<2>(frame, l4)
            && frame.len() >= l4 + (a[1] as usize + 2) * 4
        {
            proto = a[0];
            l4 += (a[1] as usize + 2) * 4;
            t.tunneled_proto = proto;
        }
        (proto, l4)
    } else {
        let Some(h) = chunk::<40>(frame, at) else {
            return 4;
        };
        t.tunneled_ip_version = 6;
        let mut s = [0u8; 16];
        s.copy_from_slice(&h[8..24]);
        t.tunneled_ip_src = IpAddress::from_v6(s);
        s.copy_from_slice(&h[24..40]);
        t.tunneled_ip_dst = IpAddress::from_v6(s);
        let mut frag = (0u16, false);
        let (proto, l4) = skip_ipv6_ext(frame, h[6], at + 40, &mut frag);
        let proto = if proto == IPPROTO_NONE { 0 } else { proto };
        t.tunneled_proto = proto;
        if frag.0 != 0 {
            return 5;
        }
        (proto, l4)
    };
    // Like the outer parse, a port pair is only taken from a complete L4 header.
    let ports = match proto {
        IPPROTO_TCP => chunk::<20>(frame, l4).map(|p| [p[0], p[1], p[2], p[3]]),
        IPPROTO_UDP => chunk::<8>(frame, l4).map(|p| [p[0], p[1], p[2], p[3]]),
        IPPROTO_SCTP => chunk::<12>(frame, l4).map(|p| [p[0], p[1], p[2], p[3]]),
        _ => None,
    };
    if let Some(p) = ports {
        t.tunneled_l4_src_port = be16([p[0], p[1]]);
        t.tunneled_l4_dst_port = be16([p[2], p[3]]);
    }
    5
}
