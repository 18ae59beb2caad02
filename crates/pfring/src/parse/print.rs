//! Text forms of a parsed packet, as PF_RING's `pfring_print_parsed_pkt()` and pfcount
//! print them.

use core::fmt::{self, Write};
use std::net::Ipv4Addr;

use super::{
    ETH_P_ARP, ETH_P_IP, ETH_P_IPV6, IPPROTO_GRE, IPPROTO_ICMP, IPPROTO_SCTP, IPPROTO_TCP,
    IPPROTO_UDP, IpAddress, ParsedPacket, chunk,
};

/// A MAC as PF_RING prints it: `00:1B:21:AA:BB:CC` (upper case).
struct Mac<'a>(&'a [u8]);

impl fmt::Display for Mac<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_char(':')?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

/// An IP protocol as PF_RING's `proto2str()`: a name for TCP, UDP, ICMP, GRE, SCTP, else
/// the number.
struct Proto(u8);

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IPPROTO_TCP => f.write_str("TCP"),
            IPPROTO_UDP => f.write_str("UDP"),
            IPPROTO_ICMP => f.write_str("ICMP"),
            IPPROTO_GRE => f.write_str("GRE"),
            IPPROTO_SCTP => f.write_str("SCTP"),
            n => write!(f, "{n}"),
        }
    }
}

/// An IPv6 address as glibc's `inet_ntop(AF_INET6)` writes it: lower-case hex, the first
/// longest run of two or more zero groups shortened to `::`, and `::a.b.c.d` /
/// `::ffff:a.b.c.d` for IPv4-compatible and IPv4-mapped addresses.
struct In6(pub [u8; 16]);

impl fmt::Display for In6 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut w = [0u16; 8];
        for (i, g) in w.iter_mut().enumerate() {
            *g = u16::from_be_bytes([self.0[2 * i], self.0[2 * i + 1]]);
        }
        // Longest run of zero groups (first one wins ties); runs of 1 are not shortened.
        let (mut best, mut best_len) = (usize::MAX, 0usize);
        let mut i = 0;
        while i < 8 {
            if w[i] == 0 {
                let start = i;
                while i < 8 && w[i] == 0 {
                    i += 1;
                }
                if i - start > best_len {
                    best = start;
                    best_len = i - start;
                }
            } else {
                i += 1;
            }
        }
        if best_len < 2 {
            best = usize::MAX;
        }
        let mut i = 0;
        while i < 8 {
            if i == best {
                f.write_char(':')?;
                if best + best_len == 8 {
                    f.write_char(':')?;
                }
                i += best_len;
                continue;
            }
            if i != 0 {
                f.write_char(':')?;
            }
            if i == 6 && best == 0 && (best_len == 6 || (best_len == 5 && w[5] == 0xFFFF)) {
                let b = &self.0;
                return write!(f, "{}", Ipv4Addr::new(b[12], b[13], b[14], b[15]));
            }
            write!(f, "{:x}", w[i])?;
            i += 1;
        }
        Ok(())
    }
}

/// An address of the given IP version: dotted IPv4 for 4, `inet_ntop` IPv6 otherwise.
fn write_addr<W: Write + ?Sized>(w: &mut W, v4: bool, a: &IpAddress) -> fmt::Result {
    if v4 {
        write!(w, "{}", Ipv4Addr::from(a.v4()))
    } else {
        write!(w, "{}", In6(a.v6()))
    }
}

/// Writes the line of PF_RING's `pfring_print_parsed_pkt()` for a packet parsed by
/// [`super::parse_packet`] (pfcount `-v 1 -m` prints it after the timestamp and
/// `[RX][if_index=N][hash=H]`):
///
/// ```text
/// [smac -> dmac] [vlan V] [QinQ-vlan Q] [IPv4][src:sport -> dst:dport] [l3_proto=TCP]
/// [TEID=0x%08X][tunneled_proto=P][IPv4][src:sport -> dst:dport] [hash=H][tos=T][tcp_seq_num=S]
///  [caplen=C][len=L][eth_offset=E][l3_offset=3][l4_offset=4][payload_offset=P]
/// ```
///
/// (one line, no newline). The VLAN part appears when there is a VLAN tag, QinQ when the
/// second tag is not 0, the tunnel part when a tunnel id was found, `tos` and
/// `tcp_seq_num` for TCP only. ARP frames print `[ARP][Sender=MAC/IP][Target=MAC/IP]`
/// (the addresses when `frame` holds them), STP (`eth_type` 0x0027) `[STP]`, other
/// non-IP frames `[eth_type=0x%04X]`. `hash` is [`ParsedPacket::pkt_hash`] (call
/// [`ParsedPacket::add_hash`] first).
///
/// Difference from PF_RING: the tunneled addresses are printed according to the tunneled
/// IP version (PF_RING uses the outer one), and the ARP addresses are printed when the
/// captured frame holds them (PF_RING tests its output buffer size instead).
#[doc(alias = "pfring_print_parsed_pkt")]
pub fn format_parsed<W: Write + ?Sized>(
    w: &mut W,
    p: &ParsedPacket,
    frame: &[u8],
    caplen: u32,
    len: u32,
) -> fmt::Result {
    write!(w, "[{} -> {}] ", Mac(&p.smac), Mac(&p.dmac))?;
    if p.offset.vlan_offset != 0 {
        write!(w, "[vlan {}] ", p.vlan_id)?;
        if p.qinq_vlan_id != 0 {
            write!(w, "[QinQ-vlan {}] ", p.qinq_vlan_id)?;
        }
    }
    if p.eth_type == ETH_P_IP || p.eth_type == ETH_P_IPV6 {
        let v4 = p.eth_type == ETH_P_IP;
        w.write_str(if v4 { "[IPv4][" } else { "[IPv6][" })?;
        write_addr(w, v4, &p.ip_src)?;
        write!(w, ":{} -> ", p.l4_src_port)?;
        write_addr(w, v4, &p.ip_dst)?;
        write!(w, ":{}] ", p.l4_dst_port)?;
        write!(w, "[l3_proto={}]", Proto(p.l3_proto))?;
        if p.has_tunnel() {
            let t = &p.tunnel;
            write!(
                w,
                "[TEID=0x{:08X}][tunneled_proto={}]",
                t.tunnel_id,
                Proto(t.tunneled_proto)
            )?;
            let tv4 = t.tunneled_ip_version == 4;
            w.write_str(if tv4 { "[IPv4][" } else { "[IPv6][" })?;
            write_addr(w, tv4, &t.tunneled_ip_src)?;
            write!(w, ":{} -> ", t.tunneled_l4_src_port)?;
            write_addr(w, tv4, &t.tunneled_ip_dst)?;
            write!(w, ":{}] ", t.tunneled_l4_dst_port)?;
        }
        write!(w, "[hash={}]", p.pkt_hash)?;
        if p.l3_proto == IPPROTO_TCP {
            write!(w, "[tos={}][tcp_seq_num={}]", p.ip_tos, p.tcp.seq_num)?;
        }
    } else if p.eth_type == ETH_P_ARP {
        w.write_str("[ARP]")?;
        let l3 = usize::try_from(p.offset.l3_offset).unwrap_or(0);
        if let Some(a) = chunk::<28>(frame, l3) {
            write!(
                w,
                "[Sender={}/{}][Target={}/{}]",
                Mac(&a[8..14]),
                Ipv4Addr::new(a[14], a[15], a[16], a[17]),
                Mac(&a[18..24]),
                Ipv4Addr::new(a[24], a[25], a[26], a[27]),
            )?;
        }
    } else if p.eth_type == 0x0027 {
        w.write_str("[STP]")?;
    } else {
        write!(w, "[eth_type=0x{:04X}]", p.eth_type)?;
    }
    let o = &p.offset;
    write!(
        w,
        " [caplen={caplen}][len={len}][eth_offset={}][l3_offset={}][l4_offset={}][payload_offset={}]",
        o.eth_offset, o.l3_offset, o.l4_offset, o.payload_offset
    )
}

/// Writes the line pfcount `-v 1` prints without `-m`:
/// `[smac -> dmac][eth_type=0x%04X][caplen=C][len=L]`, read straight from the first 14
/// bytes of the frame (the EtherType is the outer one, VLAN tags are not skipped). A
/// frame shorter than 14 bytes prints its missing bytes as zeros.
pub fn format_short<W: Write + ?Sized>(
    w: &mut W,
    frame: &[u8],
    caplen: u32,
    len: u32,
) -> fmt::Result {
    let mut e = [0u8; 14];
    let n = frame.len().min(14);
    e[..n].copy_from_slice(&frame[..n]);
    write!(
        w,
        "[{} -> {}][eth_type=0x{:04X}][caplen={caplen}][len={len}]",
        Mac(&e[6..12]),
        Mac(&e[0..6]),
        u16::from_be_bytes([e[12], e[13]])
    )
}

/// Writes the hex dump pfcount `-v 2` prints after the packet line: every byte as `%02X`
/// followed by a space (no newline).
pub fn format_hex_dump<W: Write + ?Sized>(w: &mut W, bytes: &[u8]) -> fmt::Result {
    for b in bytes {
        write!(w, "{b:02X} ")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in6(s: &str) -> String {
        let a: std::net::Ipv6Addr = s.parse().unwrap();
        In6(a.octets()).to_string()
    }

    #[test]
    fn inet_ntop_forms() {
        assert_eq!(in6("::"), "::");
        assert_eq!(in6("::1"), "::1");
        assert_eq!(in6("fe80::1"), "fe80::1");
        assert_eq!(in6("2001:db8:0:0:1:0:0:1"), "2001:db8::1:0:0:1");
        assert_eq!(in6("2001:db8:0:1:1:1:1:1"), "2001:db8:0:1:1:1:1:1");
        assert_eq!(in6("1:0:0:0:0:0:0:0"), "1::");
        assert_eq!(in6("::ffff:1.2.3.4"), "::ffff:1.2.3.4");
        assert_eq!(in6("::1.2.3.4"), "::1.2.3.4");
        assert_eq!(in6("ff02::1:ff00:1"), "ff02::1:ff00:1");
    }

    #[test]
    fn inet_ntop_matches_std_except_v4_compatible() {
        // Rust's Display follows RFC 5952 like glibc for everything but ::a.b.c.d.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..2000 {
            let mut o = [0u8; 16];
            for (i, b) in o.iter_mut().enumerate() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // plenty of zero groups
                *b = if (x >> (i % 8)) & 3 == 0 { x as u8 } else { 0 };
            }
            let a = std::net::Ipv6Addr::from(o);
            let compat = o[..12] == [0; 12] && o[12..14] != [0, 0];
            if !compat {
                assert_eq!(In6(o).to_string(), a.to_string(), "{o:?}");
            }
        }
    }

    #[test]
    fn hex_dump() {
        let mut s = String::new();
        format_hex_dump(&mut s, &[0x00, 0xAB, 0x1F]).unwrap();
        assert_eq!(s, "00 AB 1F ");
    }

    #[test]
    fn short_line() {
        let mut f = vec![0x00, 0x11, 0x22, 0x33, 0x44, 0x55];
        f.extend([0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 0x81, 0x00, 0xAA]);
        let mut s = String::new();
        format_short(&mut s, &f, 15, 60).unwrap();
        assert_eq!(
            s,
            "[0A:0B:0C:0D:0E:0F -> 00:11:22:33:44:55][eth_type=0x8100][caplen=15][len=60]"
        );
        s.clear();
        format_short(&mut s, &[1, 2, 3], 3, 3).unwrap();
        assert_eq!(
            s,
            "[00:00:00:00:00:00 -> 01:02:03:00:00:00][eth_type=0x0000][caplen=3][len=3]"
        );
    }
}
