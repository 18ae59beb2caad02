//! Ethernet / 802.1Q / IPv4 / UDP and TCP frame builders with checkable payloads.
//!
//! The payload starts with the frame's sequence number (8 bytes, big endian) followed by a
//! pattern derived from it (`byte i = (seq + i) as u8`), so a test can recognise every frame and
//! check its exact bytes with [`FrameBuilder::build`] again. Checksums (IPv4 header, UDP, TCP)
//! are correct.

use std::net::Ipv4Addr;

/// Ethernet header length (no tags).
pub const ETH_HLEN: usize = 14;
/// Length of one 802.1Q tag.
pub const VLAN_HLEN: usize = 4;
/// IPv4 header length without options.
pub const IPV4_HLEN: usize = 20;
/// UDP header length.
pub const UDP_HLEN: usize = 8;
/// TCP header length without options.
pub const TCP_HLEN: usize = 20;
/// Smallest Ethernet frame without FCS.
pub const MIN_FRAME: usize = 60;
/// Largest untagged Ethernet frame without FCS at MTU 1500.
pub const MAX_FRAME: usize = 1514;
/// Length of the sequence number at the start of the payload.
pub const SEQ_LEN: usize = 8;

/// The transport protocol of a [`FrameBuilder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L4 {
    /// UDP.
    Udp,
    /// TCP with the given flags byte (e.g. `0x18` = PSH|ACK), sequence number = frame sequence.
    Tcp {
        /// TCP flags (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, ...).
        flags: u8,
    },
}

/// Builds Ethernet/IPv4/UDP or TCP frames, optionally with 802.1Q tags.
///
/// ```
/// use pfring_testkit::FrameBuilder;
/// let f = FrameBuilder::udp().vlan(10).ports(1000, 2000).build_len(7, 100);
/// assert_eq!(f.len(), 100);
/// assert_eq!(FrameBuilder::udp().vlan(10).seq_of(&f), Some(7));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameBuilder {
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    vlans: Vec<(u16, u16)>,
    src_ip: Ipv4Addr,
    dst_ip: Ipv4Addr,
    src_port: u16,
    dst_port: u16,
    ttl: u8,
    l4: L4,
}

impl Default for FrameBuilder {
    fn default() -> Self {
        Self::udp()
    }
}

impl FrameBuilder {
    /// A UDP builder: 02:00:00:00:00:01 -> 02:00:00:00:00:02, 10.0.0.1:1234 -> 10.0.0.2:5678.
    pub fn udp() -> Self {
        FrameBuilder {
            src_mac: [0x02, 0, 0, 0, 0, 0x01],
            dst_mac: [0x02, 0, 0, 0, 0, 0x02],
            vlans: Vec::new(),
            src_ip: Ipv4Addr::new(10, 0, 0, 1),
            dst_ip: Ipv4Addr::new(10, 0, 0, 2),
            src_port: 1234,
            dst_port: 5678,
            ttl: 64,
            l4: L4::Udp,
        }
    }

    /// A TCP builder with the same defaults as [`FrameBuilder::udp`] and flags PSH|ACK.
    pub fn tcp() -> Self {
        FrameBuilder {
            l4: L4::Tcp { flags: 0x18 },
            ..Self::udp()
        }
    }

    /// Sets the transport protocol.
    pub fn l4(mut self, l4: L4) -> Self {
        self.l4 = l4;
        self
    }

    /// Sets source and destination MAC addresses.
    pub fn macs(mut self, src: [u8; 6], dst: [u8; 6]) -> Self {
        self.src_mac = src;
        self.dst_mac = dst;
        self
    }

    /// Sets source and destination IPv4 addresses.
    pub fn ips(mut self, src: Ipv4Addr, dst: Ipv4Addr) -> Self {
        self.src_ip = src;
        self.dst_ip = dst;
        self
    }

    /// Sets source and destination ports.
    pub fn ports(mut self, src: u16, dst: u16) -> Self {
        self.src_port = src;
        self.dst_port = dst;
        self
    }

    /// Sets the IPv4 TTL (default 64).
    pub fn ttl(mut self, ttl: u8) -> Self {
        self.ttl = ttl;
        self
    }

    /// Appends an 802.1Q tag (TPID 0x8100, priority 0) with VLAN id `vid` (low 12 bits).
    /// The first call gives the outer tag.
    pub fn vlan(self, vid: u16) -> Self {
        self.vlan_tpid(0x8100, vid)
    }

    /// Appends a tag with an explicit TPID (e.g. 0x88a8 for an 802.1ad outer tag) and a TCI.
    pub fn vlan_tpid(mut self, tpid: u16, tci: u16) -> Self {
        self.vlans.push((tpid, tci));
        self
    }

    /// Length of all headers (Ethernet, tags, IPv4, UDP/TCP) before the payload.
    pub fn header_len(&self) -> usize {
        ETH_HLEN
            + VLAN_HLEN * self.vlans.len()
            + IPV4_HLEN
            + match self.l4 {
                L4::Udp => UDP_HLEN,
                L4::Tcp { .. } => TCP_HLEN,
            }
    }

    /// The payload bytes for `seq` and `len`: the big-endian sequence number, then the pattern.
    pub fn payload(seq: u64, len: usize) -> Vec<u8> {
        let seq_bytes = seq.to_be_bytes();
        (0..len)
            .map(|i| {
                if i < SEQ_LEN {
                    seq_bytes[i]
                } else {
                    seq.wrapping_add(i as u64) as u8
                }
            })
            .collect()
    }

    /// Builds a frame with sequence number `seq` and a payload of `payload_len` bytes.
    ///
    /// # Panics
    ///
    /// When the IPv4 total length would exceed 65535 bytes.
    pub fn build(&self, seq: u64, payload_len: usize) -> Vec<u8> {
        let l4_len =
            self.header_len() - ETH_HLEN - VLAN_HLEN * self.vlans.len() - IPV4_HLEN + payload_len;
        let ip_total = u16::try_from(IPV4_HLEN + l4_len).expect("IPv4 total length above 65535");
        let mut f = Vec::with_capacity(self.header_len() + payload_len);
        f.extend_from_slice(&self.dst_mac);
        f.extend_from_slice(&self.src_mac);
        for &(tpid, tci) in &self.vlans {
            f.extend_from_slice(&tpid.to_be_bytes());
            f.extend_from_slice(&tci.to_be_bytes());
        }
        f.extend_from_slice(&0x0800u16.to_be_bytes());

        let ip_start = f.len();
        let proto = match self.l4 {
            L4::Udp => 17u8,
            L4::Tcp { .. } => 6u8,
        };
        f.extend_from_slice(&[0x45, 0]);
        f.extend_from_slice(&ip_total.to_be_bytes());
        f.extend_from_slice(&(seq as u16).to_be_bytes()); // identification
        f.extend_from_slice(&0x4000u16.to_be_bytes()); // DF, no fragment offset
        f.extend_from_slice(&[self.ttl, proto, 0, 0]);
        f.extend_from_slice(&self.src_ip.octets());
        f.extend_from_slice(&self.dst_ip.octets());
        let csum = checksum(&f[ip_start..], 0);
        f[ip_start + 10..ip_start + 12].copy_from_slice(&csum.to_be_bytes());

        let l4_start = f.len();
        f.extend_from_slice(&self.src_port.to_be_bytes());
        f.extend_from_slice(&self.dst_port.to_be_bytes());
        let csum_at = match self.l4 {
            L4::Udp => {
                f.extend_from_slice(&(l4_len as u16).to_be_bytes());
                f.extend_from_slice(&[0, 0]);
                l4_start + 6
            }
            L4::Tcp { flags } => {
                f.extend_from_slice(&(seq as u32).to_be_bytes()); // sequence number
                f.extend_from_slice(&0u32.to_be_bytes()); // acknowledgment number
                f.extend_from_slice(&[0x50, flags]); // data offset 5, flags
                f.extend_from_slice(&65535u16.to_be_bytes()); // window
                f.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
                l4_start + 16
            }
        };
        f.extend_from_slice(&Self::payload(seq, payload_len));

        // Pseudo-header: source, destination, zero + protocol, L4 length.
        let mut pseudo = 0u32;
        for w in self
            .src_ip
            .octets()
            .chunks(2)
            .chain(self.dst_ip.octets().chunks(2))
        {
            pseudo += u32::from(u16::from_be_bytes([w[0], w[1]]));
        }
        pseudo += u32::from(proto) + l4_len as u32;
        let mut csum = checksum(&f[l4_start..], pseudo);
        if proto == 17 && csum == 0 {
            csum = 0xffff; // UDP: 0 means "no checksum"
        }
        f[csum_at..csum_at + 2].copy_from_slice(&csum.to_be_bytes());
        f
    }

    /// Builds a frame of exactly `total_len` bytes (headers + payload) with sequence `seq`.
    ///
    /// # Panics
    ///
    /// When `total_len` is shorter than [`FrameBuilder::header_len`] or too long for IPv4.
    pub fn build_len(&self, seq: u64, total_len: usize) -> Vec<u8> {
        let hl = self.header_len();
        assert!(
            total_len >= hl,
            "frame length {total_len} below the {hl} header bytes"
        );
        self.build(seq, total_len - hl)
    }

    /// Reads the sequence number back from a frame built by this builder (same tags and L4), or
    /// `None` when the frame is too short to hold one.
    pub fn seq_of(&self, frame: &[u8]) -> Option<u64> {
        let start = self.header_len();
        let bytes = frame.get(start..start + SEQ_LEN)?;
        Some(u64::from_be_bytes(bytes.try_into().ok()?))
    }
}

/// A UDP frame of exactly `len` bytes with sequence number `seq`, from the default
/// [`FrameBuilder::udp`].
///
/// # Panics
///
/// When `len` is outside 60 ..= 1514 ([`MIN_FRAME`] ..= [`MAX_FRAME`]).
pub fn udp_frame(seq: u64, len: usize) -> Vec<u8> {
    assert!(
        (MIN_FRAME..=MAX_FRAME).contains(&len),
        "udp_frame: length {len} outside 60..=1514"
    );
    FrameBuilder::udp().build_len(seq, len)
}

/// The sequence number of a frame made by [`udp_frame`], if it has one.
pub fn udp_frame_seq(frame: &[u8]) -> Option<u64> {
    FrameBuilder::udp().seq_of(frame)
}

/// The Internet checksum (RFC 1071) of `data`, starting from the partial sum `initial`.
pub fn checksum(data: &[u8], initial: u32) -> u16 {
    let mut sum = u64::from(initial);
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u64::from(*last) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_lengths_and_seq() {
        for len in [60, 61, 100, 1000, 1514] {
            let f = udp_frame(len as u64 * 3, len);
            assert_eq!(f.len(), len);
            assert_eq!(udp_frame_seq(&f), Some(len as u64 * 3));
            // IPv4 header checksum verifies to 0.
            assert_eq!(checksum(&f[14..34], 0), 0);
            assert_eq!(u16::from_be_bytes([f[16], f[17]]) as usize, len - 14);
            assert_eq!(u16::from_be_bytes([f[38], f[39]]) as usize, len - 34);
        }
    }

    #[test]
    fn udp_checksum_verifies() {
        let b = FrameBuilder::udp();
        let f = b.build(42, 33);
        let l4 = &f[34..];
        let mut pseudo = 0u32;
        for w in f[26..34].chunks(2) {
            pseudo += u32::from(u16::from_be_bytes([w[0], w[1]]));
        }
        pseudo += 17 + l4.len() as u32;
        assert_eq!(checksum(l4, pseudo), 0);
    }

    #[test]
    fn tcp_and_vlans() {
        let b = FrameBuilder::tcp().vlan(5).vlan(6);
        let f = b.build_len(9, 200);
        assert_eq!(f.len(), 200);
        assert_eq!(&f[12..14], &[0x81, 0x00]);
        assert_eq!(u16::from_be_bytes([f[14], f[15]]), 5);
        assert_eq!(&f[16..18], &[0x81, 0x00]);
        assert_eq!(u16::from_be_bytes([f[18], f[19]]), 6);
        assert_eq!(&f[20..22], &[0x08, 0x00]);
        assert_eq!(f[22 + 9], 6);
        assert_eq!(checksum(&f[22..42], 0), 0);
        let mut pseudo = 0u32;
        for w in f[34..42].chunks(2) {
            pseudo += u32::from(u16::from_be_bytes([w[0], w[1]]));
        }
        pseudo += 6 + (200 - 42) as u32;
        assert_eq!(checksum(&f[42..], pseudo), 0);
        assert_eq!(b.seq_of(&f), Some(9));
    }

    #[test]
    #[should_panic(expected = "outside 60..=1514")]
    fn udp_frame_rejects_short() {
        let _ = udp_frame(0, 59);
    }

    #[test]
    fn checksum_rfc1071_example() {
        // RFC 1071 section 3 example: sum of 0001 f203 f4f5 f6f7 = 0xddf2 (before complement).
        assert_eq!(
            checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7], 0),
            !0xddf2
        );
    }
}
