//! The PF_RING packet hashes: the symmetric flow hash (`hash_pkt`), its masked
//! per-cluster-type variants (`hash_pkt_cluster`) and the libzero bidirectional hash.
//!
//! All of them are sums of fields in `u32` with wrap-around, so swapping source and
//! destination (MACs, addresses, ports, also the tunneled ones) never changes a hash: both
//! directions of a flow land on the same cluster queue.
//!
//! IPv4 addresses and ports enter in host order; IPv6 addresses enter as the four raw
//! 32-bit words of the network-order address read in native byte order (like PF_RING's
//! `s6_addr32[i]`), so IPv6 hash values differ between little- and big-endian machines,
//! as they do in PF_RING.

use core::ops::{BitOr, BitOrAssign};

use super::{ETH_P_8021Q, ETH_P_IP, ETH_P_IPV6, IPPROTO_TCP, IpAddress, ParsedPacket, chunk};

/// The way a cluster spreads packets over its members (PF_RING's `cluster_type`, same
/// numeric values).
///
/// Every type except [`ClusterType::RoundRobin`] hashes the packet, see
/// [`ParsedPacket::cluster_hash`]; round robin has no hash: the cluster keeps a counter.
#[doc(alias = "cluster_type")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ClusterType {
    /// Per flow: addresses, ports, protocol and VLAN id (0).
    #[doc(alias = "cluster_per_flow")]
    PerFlow = 0,
    /// Round robin (1).
    #[doc(alias = "cluster_round_robin")]
    RoundRobin = 1,
    /// Source and destination address (2).
    #[doc(alias = "cluster_per_flow_2_tuple")]
    PerFlow2Tuple = 2,
    /// Addresses and ports (3).
    #[doc(alias = "cluster_per_flow_4_tuple")]
    PerFlow4Tuple = 3,
    /// Addresses, ports and protocol (4; pfcount's default).
    #[default]
    #[doc(alias = "cluster_per_flow_5_tuple")]
    PerFlow5Tuple = 4,
    /// 5-tuple for TCP, 2-tuple otherwise (5).
    #[doc(alias = "cluster_per_flow_tcp_5_tuple")]
    PerFlowTcp5Tuple = 5,
    /// As [`ClusterType::PerFlow`] on the tunneled tuple when there is one (6).
    #[doc(alias = "cluster_per_inner_flow")]
    PerInnerFlow = 6,
    /// As [`ClusterType::PerFlow2Tuple`] on the tunneled tuple (7).
    #[doc(alias = "cluster_per_inner_flow_2_tuple")]
    PerInnerFlow2Tuple = 7,
    /// As [`ClusterType::PerFlow4Tuple`] on the tunneled tuple (8).
    #[doc(alias = "cluster_per_inner_flow_4_tuple")]
    PerInnerFlow4Tuple = 8,
    /// As [`ClusterType::PerFlow5Tuple`] on the tunneled tuple (9).
    #[doc(alias = "cluster_per_inner_flow_5_tuple")]
    PerInnerFlow5Tuple = 9,
    /// As [`ClusterType::PerFlowTcp5Tuple`] on the tunneled tuple (10).
    #[doc(alias = "cluster_per_inner_flow_tcp_5_tuple")]
    PerInnerFlowTcp5Tuple = 10,
    /// 5-tuple for IP packets, source and destination MAC for the others (11).
    #[doc(alias = "cluster_per_flow_ip_5_tuple")]
    PerFlowIp5Tuple = 11,
    /// As [`ClusterType::PerFlowIp5Tuple`] on the tunneled tuple (12).
    #[doc(alias = "cluster_per_inner_flow_ip_5_tuple")]
    PerInnerFlowIp5Tuple = 12,
    /// Source address and destination address hashed separately: a packet may go to two
    /// members (13).
    #[doc(alias = "cluster_per_flow_ip_with_dup_tuple")]
    PerFlowIpWithDupTuple = 13,
}

impl ClusterType {
    /// All types, in numeric order.
    pub const ALL: [ClusterType; 14] = [
        Self::PerFlow,
        Self::RoundRobin,
        Self::PerFlow2Tuple,
        Self::PerFlow4Tuple,
        Self::PerFlow5Tuple,
        Self::PerFlowTcp5Tuple,
        Self::PerInnerFlow,
        Self::PerInnerFlow2Tuple,
        Self::PerInnerFlow4Tuple,
        Self::PerInnerFlow5Tuple,
        Self::PerInnerFlowTcp5Tuple,
        Self::PerFlowIp5Tuple,
        Self::PerInnerFlowIp5Tuple,
        Self::PerFlowIpWithDupTuple,
    ];

    /// The highest value (PF_RING's `MAX_CLUSTER_TYPE_ID`).
    #[doc(alias = "MAX_CLUSTER_TYPE_ID")]
    pub const MAX_ID: u8 = 13;

    /// True for the `cluster_per_inner_*` types, which hash the tunneled tuple.
    pub fn is_inner(self) -> bool {
        matches!(
            self,
            Self::PerInnerFlow
                | Self::PerInnerFlow2Tuple
                | Self::PerInnerFlow4Tuple
                | Self::PerInnerFlow5Tuple
                | Self::PerInnerFlowTcp5Tuple
                | Self::PerInnerFlowIp5Tuple
        )
    }
}

/// A cluster type number that PF_RING does not define.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown cluster type {0} (valid: 0..=13)")]
pub struct UnknownClusterType(pub u32);

impl TryFrom<u32> for ClusterType {
    type Error = UnknownClusterType;

    fn try_from(v: u32) -> Result<Self, Self::Error> {
        usize::try_from(v)
            .ok()
            .and_then(|i| Self::ALL.get(i).copied())
            .ok_or(UnknownClusterType(v))
    }
}

impl From<ClusterType> for u32 {
    fn from(t: ClusterType) -> u32 {
        t as u32
    }
}

/// The mask flags of PF_RING's `hash_pkt_header()` (`HASH_PKT_HDR_*`): which fields are
/// left out of [`ParsedPacket::hash_with`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct HashFlags(pub u8);

impl HashFlags {
    /// Nothing masked.
    pub const NONE: Self = Self(0);
    /// Recompute a cached hash (no effect here: nothing is cached).
    pub const RECOMPUTE: Self = Self(1 << 0);
    /// Leave out the source address, port and MAC.
    pub const MASK_SRC: Self = Self(1 << 1);
    /// Leave out the destination address, port and MAC.
    pub const MASK_DST: Self = Self(1 << 2);
    /// Leave out both ports.
    pub const MASK_PORT: Self = Self(1 << 3);
    /// Leave out the IP protocol.
    pub const MASK_PROTO: Self = Self(1 << 4);
    /// Leave out the VLAN id.
    pub const MASK_VLAN: Self = Self(1 << 5);
    /// Use the outer headers even when a tunnel was parsed.
    pub const MASK_TUNNEL: Self = Self(1 << 6);
    /// Leave out the MACs (used only for non-IP packets).
    pub const MASK_MAC: Self = Self(1 << 7);

    /// True if every flag of `other` is set in `self`.
    #[inline]
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for HashFlags {
    type Output = Self;
    #[inline]
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

impl BitOrAssign for HashFlags {
    #[inline]
    fn bitor_assign(&mut self, rhs: Self) {
        self.0 |= rhs.0;
    }
}

/// The result of [`ParsedPacket::cluster_hash`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClusterHash {
    /// Round robin: no hash, the cluster uses its own counter.
    RoundRobin,
    /// One hash: the member is `hash % members`.
    Single(u32),
    /// [`ClusterType::PerFlowIpWithDupTuple`]: the packet goes to `src % members` and, if
    /// different, also to `dst % members`.
    Dup {
        /// Hash of the source address.
        src: u32,
        /// Hash of the destination address.
        dst: u32,
    },
}

/// The tuple a hash is computed on (outer or tunneled).
struct Tuple<'a> {
    ip_version: u8,
    proto: u8,
    src: &'a IpAddress,
    dst: &'a IpAddress,
    sport: u16,
    dport: u16,
    smac: &'a [u8; 6],
    dmac: &'a [u8; 6],
}

#[inline(always)]
fn sum_words(a: &IpAddress) -> u32 {
    let w = a.words();
    w[0].wrapping_add(w[1])
        .wrapping_add(w[2])
        .wrapping_add(w[3])
}

#[inline(always)]
fn sum_mac(m: &[u8; 6]) -> u32 {
    m.iter().map(|&b| u32::from(b)).sum()
}

#[inline(always)]
fn addr_sum(version: u8, a: &IpAddress) -> u32 {
    if version == 4 { a.v4() } else { sum_words(a) }
}

impl ParsedPacket {
    #[inline(always)]
    fn tuple(&self, tunneled: bool) -> Tuple<'_> {
        if tunneled {
            let t = &self.tunnel;
            Tuple {
                ip_version: t.tunneled_ip_version,
                proto: t.tunneled_proto,
                src: &t.tunneled_ip_src,
                dst: &t.tunneled_ip_dst,
                sport: t.tunneled_l4_src_port,
                dport: t.tunneled_l4_dst_port,
                smac: &t.tunneled_smac,
                dmac: &t.tunneled_dmac,
            }
        } else {
            Tuple {
                ip_version: self.ip_version,
                proto: self.l3_proto,
                src: &self.ip_src,
                dst: &self.ip_dst,
                sport: self.l4_src_port,
                dport: self.l4_dst_port,
                smac: &self.smac,
                dmac: &self.dmac,
            }
        }
    }

    /// The hash of userland `pfring_parse_pkt(.., add_hash = 1)` (PF_RING's
    /// `pfring_hash_pkt`): `vlan_id + src + dst + l3_proto + sport + dport`, on the
    /// tunneled tuple when a tunnel id was found. IPv4 addresses enter as their host-order
    /// value; anything else as the sum of the address words (0 for non-IP: no MAC branch).
    /// Symmetric in source and destination.
    ///
    /// ```
    /// # use pfring::parse::{IpAddress, ParsedPacket};
    /// let mut p = ParsedPacket::default();
    /// p.ip_version = 4;
    /// p.ip_src = IpAddress::from_v4(0x0A00_0001);
    /// p.ip_dst = IpAddress::from_v4(0x0A00_0002);
    /// p.l3_proto = 6;
    /// p.l4_src_port = 1000;
    /// p.l4_dst_port = 80;
    /// assert_eq!(p.pfring_hash(), 0x0A00_0001 + 0x0A00_0002 + 6 + 1000 + 80);
    /// ```
    #[doc(alias = "pfring_hash_pkt")]
    #[inline]
    pub fn pfring_hash(&self) -> u32 {
        let t = self.tuple(self.has_tunnel());
        u32::from(self.vlan_id)
            .wrapping_add(addr_sum(t.ip_version, t.src))
            .wrapping_add(addr_sum(t.ip_version, t.dst))
            .wrapping_add(u32::from(t.proto))
            .wrapping_add(u32::from(t.sport))
            .wrapping_add(u32::from(t.dport))
    }

    /// The kernel module's hash (`hash_pkt_header(hdr, 0)`): like
    /// [`ParsedPacket::pfring_hash`], plus the MAC branch: a non-IP packet (IP version not
    /// 4 or 6 and `l3_proto == 0`) adds the bytes of both MACs.
    #[doc(alias = "hash_pkt")]
    #[inline]
    pub fn kernel_hash(&self) -> u32 {
        self.hash_with(HashFlags::NONE)
    }

    /// The kernel module's `hash_pkt_header()` with mask flags:
    ///
    /// ```text
    /// h = vlan_id                                  (unless MASK_VLAN)
    /// IPv4: h += src + dst                         (host order)
    /// IPv6: h += the 4 words of src + of dst
    /// else if proto == 0: h += Σ smac + Σ dmac     (unless MASK_MAC)
    /// h += proto                                   (unless MASK_PROTO)
    /// h += sport + dport                           (unless MASK_PORT)
    /// ```
    ///
    /// `MASK_SRC` / `MASK_DST` leave out the source / destination address, port and MAC.
    /// The tunneled tuple (and tunneled MACs) replace the outer ones when a tunnel id was
    /// found, unless `MASK_TUNNEL`; the VLAN id is always the outer one.
    #[doc(alias = "hash_pkt_header")]
    pub fn hash_with(&self, flags: HashFlags) -> u32 {
        let t = self.tuple(self.has_tunnel() && !flags.contains(HashFlags::MASK_TUNNEL));
        let src = !flags.contains(HashFlags::MASK_SRC);
        let dst = !flags.contains(HashFlags::MASK_DST);
        let mut h = 0u32;
        if !flags.contains(HashFlags::MASK_VLAN) {
            h = u32::from(self.vlan_id);
        }
        if t.ip_version == 4 || t.ip_version == 6 {
            if src {
                h = h.wrapping_add(addr_sum(t.ip_version, t.src));
            }
            if dst {
                h = h.wrapping_add(addr_sum(t.ip_version, t.dst));
            }
        } else if t.proto == 0 && !flags.contains(HashFlags::MASK_MAC) {
            if src {
                h = h.wrapping_add(sum_mac(t.smac));
            }
            if dst {
                h = h.wrapping_add(sum_mac(t.dmac));
            }
        }
        if !flags.contains(HashFlags::MASK_PROTO) {
            h = h.wrapping_add(u32::from(t.proto));
        }
        if !flags.contains(HashFlags::MASK_PORT) {
            if src {
                h = h.wrapping_add(u32::from(t.sport));
            }
            if dst {
                h = h.wrapping_add(u32::from(t.dport));
            }
        }
        h
    }

    /// The hash a cluster of type `ty` uses for this packet (PF_RING's
    /// `hash_pkt_cluster()`).
    ///
    /// Every hashed type masks the VLAN id except [`ClusterType::PerFlow`] and
    /// [`ClusterType::PerInnerFlow`], and the non-inner types (and
    /// [`ClusterType::PerFlowIp5Tuple`]) use the outer headers. For IP packets the MACs
    /// are masked and:
    ///
    /// | type | hash |
    /// |---|---|
    /// | 2-tuple | src + dst |
    /// | 4-tuple | src + dst + sport + dport |
    /// | 5-tuple, ip 5-tuple | src + dst + proto + sport + dport |
    /// | per flow | vlan + src + dst + proto + sport + dport |
    /// | tcp 5-tuple | 5-tuple if the outer `l3_proto` is TCP, else 2-tuple |
    /// | ip with dup | `Dup { src, dst }`: the two addresses separately |
    ///
    /// Non-IP packets hash the bytes of both MACs (every type except ip-with-dup, which
    /// masks them and gives `Dup { src: 0, dst: 0 }`).
    ///
    /// Differences from the current PF_RING kernel, deliberate: per flow keeps the VLAN id
    /// as PF_RING 5.x and its documentation say (the current kernel masks it, making per
    /// flow equal to 5-tuple). Kept quirk: the inner TCP 5-tuple type tests the *outer*
    /// protocol, so tunneled TCP gets the inner 2-tuple.
    #[doc(alias = "hash_pkt_cluster")]
    pub fn cluster_hash(&self, ty: ClusterType) -> ClusterHash {
        use ClusterType as C;
        use HashFlags as F;
        let mut flags = F::RECOMPUTE;
        if !matches!(ty, C::PerFlow | C::PerInnerFlow) {
            flags |= F::MASK_VLAN;
        }
        if !ty.is_inner() {
            flags |= F::MASK_TUNNEL;
        }
        let tunneled = self.has_tunnel() && !flags.contains(F::MASK_TUNNEL);
        let v = self.tuple(tunneled).ip_version;
        let is_ip = v == 4 || v == 6;
        if is_ip {
            flags |= F::MASK_MAC;
        }
        let two = F::MASK_PROTO | F::MASK_PORT;
        match ty {
            C::RoundRobin => return ClusterHash::RoundRobin,
            C::PerFlowIpWithDupTuple => {
                let f = flags | two | F::MASK_MAC;
                return ClusterHash::Dup {
                    src: self.hash_with(f | F::MASK_DST),
                    dst: self.hash_with(f | F::MASK_SRC),
                };
            }
            _ if !is_ip => {}
            C::PerFlow2Tuple | C::PerInnerFlow2Tuple => flags |= two,
            C::PerFlow4Tuple | C::PerInnerFlow4Tuple => flags |= F::MASK_PROTO,
            C::PerFlowTcp5Tuple | C::PerInnerFlowTcp5Tuple => {
                if self.l3_proto != IPPROTO_TCP {
                    flags |= two;
                }
            }
            C::PerFlow
            | C::PerFlow5Tuple
            | C::PerInnerFlow
            | C::PerInnerFlow5Tuple
            | C::PerFlowIp5Tuple
            | C::PerInnerFlowIp5Tuple => {}
        }
        ClusterHash::Single(self.hash_with(flags))
    }
}

/// What [`libzero_hash`] hashes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum LibzeroHashMode {
    /// Source plus destination IP address (the default).
    #[default]
    Ip,
    /// The last three bytes of both MACs.
    Mac,
    /// The IP protocol number.
    Protocol,
}

/// The libzero "bidirectional software hash" of the DNA cluster master example, on raw
/// frame bytes (no parsing state needed).
///
/// Skips any number of 802.1Q (0x8100) tags, then:
/// - IP mode ([`LibzeroHashMode::Ip`]): IPv4 `ntohl(saddr) + ntohl(daddr)`; IPv6 the sum of the 8
///   raw 32-bit words of both addresses (native byte order);
/// - MAC mode ([`LibzeroHashMode::Mac`]): `buf[3]+buf[4]+buf[5]+buf[9]+buf[10]+buf[11]`;
/// - protocol mode ([`LibzeroHashMode::Protocol`]): the IPv4 protocol / IPv6 next-header byte.
///
/// An unknown EtherType or a truncated header gives 0. The member is `hash % members`.
/// The IPv4 value equals the 2-tuple cluster hash.
#[doc(alias = "pfring_zc_builtin_ip_hash")]
pub fn libzero_hash(frame: &[u8], mode: LibzeroHashMode) -> u32 {
    if mode == LibzeroHashMode::Mac {
        return match chunk::<12>(frame, 0) {
            Some(b) => [b[3], b[4], b[5], b[9], b[10], b[11]]
                .iter()
                .map(|&x| u32::from(x))
                .sum(),
            None => 0,
        };
    }
    let Some(e) = chunk::<2>(frame, 12) else {
        return 0;
    };
    let mut et = u16::from_be_bytes(*e);
    let mut off = 14usize;
    while et == ETH_P_8021Q {
        let Some(t) = chunk::<4>(frame, off) else {
            return 0;
        };
        et = u16::from_be_bytes([t[2], t[3]]);
        off += 4;
    }
    match (et, mode) {
        (ETH_P_IP, LibzeroHashMode::Ip) => chunk::<20>(frame, off).map_or(0, |h| {
            u32::from_be_bytes([h[12], h[13], h[14], h[15]])
                .wrapping_add(u32::from_be_bytes([h[16], h[17], h[18], h[19]]))
        }),
        (ETH_P_IPV6, LibzeroHashMode::Ip) => chunk::<40>(frame, off).map_or(0, |h| {
            h[8..40]
                .chunks_exact(4)
                .map(|w| u32::from_ne_bytes([w[0], w[1], w[2], w[3]]))
                .fold(0u32, u32::wrapping_add)
        }),
        (ETH_P_IP, LibzeroHashMode::Protocol) => {
            chunk::<20>(frame, off).map_or(0, |h| u32::from(h[9]))
        }
        (ETH_P_IPV6, LibzeroHashMode::Protocol) => {
            chunk::<40>(frame, off).map_or(0, |h| u32::from(h[6]))
        }
        _ => 0,
    }
}
