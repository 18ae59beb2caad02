//! Unit tests of the parser, the hashes and the printer on hand-built frames.

use super::*;
use proptest::prelude::*;

const DMAC: [u8; 6] = [0x00, 0x1B, 0x21, 0x0A, 0x0B, 0x0C];
const SMAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];

fn eth(et: u16, tags: &[(u16, u16)], payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend(DMAC);
    f.extend(SMAC);
    let mut next = et;
    if let Some(&(tpid, _)) = tags.first() {
        next = tpid;
    }
    f.extend(next.to_be_bytes());
    for (i, &(_, tci)) in tags.iter().enumerate() {
        f.extend(tci.to_be_bytes());
        let after = tags.get(i + 1).map_or(et, |t| t.0);
        f.extend(after.to_be_bytes());
    }
    f.extend(payload);
    f
}

fn ipv4_opts(
    src: [u8; 4],
    dst: [u8; 4],
    proto: u8,
    frag: u16,
    opts: &[u8],
    payload: &[u8],
) -> Vec<u8> {
    assert!(opts.len().is_multiple_of(4));
    let ihl = 5 + opts.len() / 4;
    let total = (ihl * 4 + payload.len()) as u16;
    let mut h = vec![0x40 | ihl as u8, 0xB8];
    h.extend(total.to_be_bytes());
    h.extend([0x12, 0x34]);
    h.extend(frag.to_be_bytes());
    h.extend([64, proto, 0, 0]);
    h.extend(src);
    h.extend(dst);
    h.extend(opts);
    h.extend(payload);
    h
}

fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, payload: &[u8]) -> Vec<u8> {
    ipv4_opts(src, dst, proto, 0, &[], payload)
}

fn ipv6(src: [u8; 16], dst: [u8; 16], nh: u8, payload: &[u8]) -> Vec<u8> {
    let mut h = vec![0x6A, 0xB1, 0x23, 0x45];
    h.extend((payload.len() as u16).to_be_bytes());
    h.extend([nh, 64]);
    h.extend(src);
    h.extend(dst);
    h.extend(payload);
    h
}

fn tcp(sport: u16, dport: u16, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend(sport.to_be_bytes());
    h.extend(dport.to_be_bytes());
    h.extend(seq.to_be_bytes());
    h.extend(ack.to_be_bytes());
    h.extend([0x60, flags, 0xFF, 0xFF, 0, 0, 0, 0]); // data offset 6: 4 option bytes
    h.extend([1, 1, 1, 0]);
    h.extend(payload);
    h
}

fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend(sport.to_be_bytes());
    h.extend(dport.to_be_bytes());
    h.extend(((8 + payload.len()) as u16).to_be_bytes());
    h.extend([0, 0]);
    h.extend(payload);
    h
}

const A4: [u8; 4] = [192, 168, 1, 20];
const B4: [u8; 4] = [192, 168, 1, 21];
const A6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const B6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

fn v4(a: [u8; 4]) -> IpAddress {
    IpAddress::from_v4(u32::from_be_bytes(a))
}

/// Parses every prefix of `f` at every level: never panics, the level never goes down as
/// the prefix grows, and the full frame gives `full`.
fn check_prefixes(f: &[u8]) {
    for level in 0..=7u8 {
        let mut last = 0;
        for n in 0..=f.len() {
            let (p, l) = ParsedPacket::parse(&f[..n], level);
            assert!(
                l >= last,
                "level went down at len {n} (level {level}): {l} < {last}"
            );
            assert!(l <= 5);
            // hashes and printing never panic on partial results
            let _ = p.pfring_hash();
            for t in ClusterType::ALL {
                let _ = p.cluster_hash(t);
            }
            let mut s = String::new();
            format_parsed(&mut s, &p, &f[..n], n as u32, f.len() as u32).unwrap();
            last = l;
        }
    }
}

#[test]
fn empty_is_default() {
    assert_eq!(ParsedPacket::EMPTY, ParsedPacket::default());
    assert_eq!(TunnelInfo::NONE, TunnelInfo::default());
    assert_eq!(ParsedPacket::default().tunnel.tunnel_id, NO_TUNNEL_ID);
    eprintln!(
        "size_of::<ParsedPacket>() = {}",
        core::mem::size_of::<ParsedPacket>()
    );
}

#[test]
fn short_frames_are_level_0() {
    for n in 0..14 {
        let (p, l) = ParsedPacket::parse(&[0xFFu8; 13][..n.min(13)], 5);
        assert_eq!(l, 0);
        assert_eq!(p, ParsedPacket::default());
        assert_eq!(p.tunnel.tunnel_id, NO_TUNNEL_ID);
    }
}

#[test]
fn arp_is_level_2() {
    let f = eth(0x0806, &[], &[0u8; 28]);
    let (p, l) = ParsedPacket::parse(&f, 5);
    assert_eq!(l, 2);
    assert_eq!(p.dmac, DMAC);
    assert_eq!(p.smac, SMAC);
    assert_eq!(p.eth_type, 0x0806);
    assert_eq!(p.offset.l3_offset, 14);
    assert_eq!(p.offset.l4_offset, 0);
    assert_eq!(p.ip_version, 0);
    check_prefixes(&f);
}

#[test]
fn vlan_qinq_and_more_tags() {
    let ip = ipv4(A4, B4, 17, &udp(1, 2, &[]));
    let f = eth(0x0800, &[(0x8100, 0x2064)], &ip);
    let (p, l) = ParsedPacket::parse(&f, 4);
    assert_eq!(
        (l, p.vlan_id, p.qinq_vlan_id, p.eth_type),
        (4, 100, 0, 0x0800)
    );
    assert_eq!((p.offset.vlan_offset, p.offset.l3_offset), (14, 18));

    let f = eth(0x0800, &[(0x88A8, 0x0005), (0x8100, 0xE00A)], &ip);
    let (p, l) = ParsedPacket::parse(&f, 4);
    assert_eq!((l, p.vlan_id, p.qinq_vlan_id), (4, 5, 10));
    assert_eq!(
        (p.offset.vlan_offset, p.offset.l3_offset, p.offset.l4_offset),
        (18, 22, 42)
    );
    assert_eq!(p.l4_dst_port, 2);

    let f = eth(
        0x86DD,
        &[(0x9100, 1), (0x8100, 2), (0x8100, 3), (0x88A8, 4)],
        &[],
    );
    let (p, l) = ParsedPacket::parse(&f, 2);
    assert_eq!(
        (l, p.vlan_id, p.qinq_vlan_id, p.eth_type),
        (2, 1, 2, 0x86DD)
    );
    assert_eq!((p.offset.vlan_offset, p.offset.l3_offset), (26, 30));
    check_prefixes(&f);

    // A truncated tag stops the walk: the EtherType stays the tag protocol id.
    let (p, l) = ParsedPacket::parse(&f[..20], 5);
    assert_eq!(
        (l, p.vlan_id, p.eth_type, p.offset.l3_offset),
        (2, 1, 0x8100, 18)
    );
}

#[test]
fn ipv4_tcp_all_fields() {
    let t = tcp(22, 34762, 0x01020304, 0xA0B0C0D0, 0xFF, b"hello");
    let f = eth(0x0800, &[], &ipv4(A4, B4, 6, &t));
    let (p, l) = ParsedPacket::parse(&f, 4);
    assert_eq!(l, 4);
    assert_eq!(p.ip_version, 4);
    assert_eq!(p.ip_src, v4(A4));
    assert_eq!(p.ip_dst, v4(B4));
    assert_eq!(p.ip_src.v4(), 0xC0A8_0114);
    assert_eq!(p.ip_src.to_std(4), Some("192.168.1.20".parse().unwrap()));
    assert_eq!(p.l3_proto, 6);
    assert_eq!(p.ip_tos, 0xB8);
    assert_eq!((p.l4_src_port, p.l4_dst_port), (22, 34762));
    assert_eq!(
        p.tcp,
        TcpInfo {
            flags: 0x3F,
            seq_num: 0x01020304,
            ack_num: 0xA0B0C0D0
        }
    );
    assert_eq!(
        p.offset,
        PacketOffsets {
            eth_offset: 0,
            vlan_offset: 0,
            l3_offset: 14,
            l4_offset: 34,
            payload_offset: 58
        }
    );
    assert_eq!(p.tunnel, TunnelInfo::default());
    assert_eq!(p.pkt_hash, 0);
    assert!(!p.ip_more_fragments);
    assert_eq!(p.pkt_flags(), 0);

    // Lower levels stop early and leave the rest zero.
    let (p3, l3) = ParsedPacket::parse(&f, 3);
    assert_eq!(l3, 3);
    assert_eq!(
        (
            p3.l4_src_port,
            p3.offset.l4_offset,
            p3.offset.payload_offset
        ),
        (0, 34, 0)
    );
    let (p2, l2) = ParsedPacket::parse(&f, 2);
    assert_eq!(l2, 2);
    assert_eq!((p2.ip_version, p2.offset.l3_offset), (0, 14));
    // Level 5 adds nothing without a tunnel.
    assert_eq!(ParsedPacket::parse(&f, 5), (p, 4));
    check_prefixes(&f);
}

#[test]
fn ipv4_options_udp_sctp_icmp_other() {
    let f = eth(
        0x0800,
        &[],
        &ipv4_opts(
            A4,
            B4,
            17,
            0,
            &[1, 1, 1, 1, 1, 1, 1, 0],
            &udp(53, 5353, b"x"),
        ),
    );
    let (p, l) = ParsedPacket::parse(&f, 4);
    assert_eq!((l, p.l4_src_port, p.l4_dst_port), (4, 53, 5353));
    assert_eq!((p.offset.l4_offset, p.offset.payload_offset), (42, 50));
    check_prefixes(&f);

    let mut sctp = vec![0x0B, 0xB8, 0x0B, 0xB9, 0, 0, 0, 1, 0, 0, 0, 0];
    sctp.extend([0u8; 4]);
    let f = eth(0x0800, &[], &ipv4(A4, B4, 132, &sctp));
    let (p, l) = ParsedPacket::parse(&f, 4);
    assert_eq!(
        (l, p.l3_proto, p.l4_src_port, p.l4_dst_port),
        (4, 132, 3000, 3001)
    );
    assert_eq!(p.offset.payload_offset, 34);
    check_prefixes(&f);

    let f = eth(
        0x0800,
        &[],
        &ipv4(A4, B4, 1, &[8, 0, 0xF7, 0xFF, 0, 0, 0, 0]),
    );
    let (p, l) = ParsedPacket::parse(&f, 4);
    assert_eq!((l, p.icmp_type, p.icmp_code, p.l4_src_port), (4, 8, 0, 0));
    assert_eq!(p.offset.payload_offset, 34);
    check_prefixes(&f);

    let f = eth(0x0800, &[], &ipv4(A4, B4, 89, &[0u8; 20])); // OSPF
    let (p, l) = ParsedPacket::parse(&f, 5);
    assert_eq!(
        (l, p.l3_proto, p.offset.l4_offset, p.offset.payload_offset),
        (3, 89, 34, 34)
    );
}

#[test]
fn ipv4_fragments() {
    let t = tcp(1, 2, 3, 4, 0x02, &[]);
    // First fragment with MF: L4 is parsed.
    let f = eth(0x0800, &[], &ipv4_opts(A4, B4, 6, 0x2000, &[], &t));
    let (p, l) = ParsedPacket::parse(&f, 4);
    assert_eq!(
        (l, p.l4_dst_port, p.ip_more_fragments, p.ip_fragment_offset),
        (4, 2, true, 0)
    );
    assert_eq!(p.pkt_flags(), PKT_FLAGS_IP_MORE_FRAG);
    // Later fragment: no L4.
    let f = eth(0x0800, &[], &ipv4_opts(A4, B4, 6, 0x0003, &[], &t));
    let (p, l) = ParsedPacket::parse(&f, 5);
    assert_eq!(
        (l, p.l4_dst_port, p.ip_more_fragments, p.ip_fragment_offset),
        (3, 0, false, 3)
    );
    assert_eq!(
        (p.offset.l4_offset, p.offset.payload_offset, p.l3_proto),
        (34, 0, 6)
    );
    assert_eq!(p.pkt_flags(), PKT_FLAGS_IP_FRAG_OFFSET);
    check_prefixes(&f);
}

#[test]
fn ipv4_bogus_ihl_and_ah() {
    let mut ip = ipv4(A4, B4, 6, &tcp(1, 2, 3, 4, 0, &[]));
    ip[0] = 0x44;
    let f = eth(0x0800, &[], &ip);
    let (p, l) = ParsedPacket::parse(&f, 4);
    assert_eq!(
        (l, p.ip_version, p.ip_src, p.offset.l4_offset),
        (2, 4, v4(A4), 0)
    );

    // AH (payload length 4 → 24 bytes) then UDP.
    let mut ah = vec![17, 4, 0, 0];
    ah.extend([0u8; 20]);
    ah.extend(udp(500, 4500, &[]));
    let f = eth(0x0800, &[], &ipv4(A4, B4, 51, &ah));
    let (p, l) = ParsedPacket::parse(&f, 4);
    assert_eq!(
        (l, p.l3_proto, p.l4_src_port, p.offset.l4_offset),
        (4, 17, 500, 58)
    );
    check_prefixes(&f);
}

#[test]
fn ipv6_tcp() {
    let f = eth(
        0x86DD,
        &[],
        &ipv6(A6, B6, 6, &tcp(443, 50000, 7, 8, 0x12, &[])),
    );
    let (p, l) = ParsedPacket::parse(&f, 4);
    assert_eq!(l, 4);
    assert_eq!(p.ip_version, 6);
    assert_eq!(p.ip_src.v6(), A6);
    assert_eq!(p.ip_dst.v6(), B6);
    assert_eq!(p.ip_tos, 0xAB);
    assert_eq!(
        (p.l3_proto, p.l4_src_port, p.l4_dst_port, p.tcp.flags),
        (6, 443, 50000, 0x12)
    );
    assert_eq!(
        (
            p.offset.l3_offset,
            p.offset.l4_offset,
            p.offset.payload_offset
        ),
        (14, 54, 78)
    );
    check_prefixes(&f);
}

#[test]
fn ipv6_extension_headers() {
    // hop-by-hop (8) → routing (24) → fragment (8, first, M) → dest opts (16) → AH (16) → UDP
    let mut x = vec![43, 0, 0, 0, 0, 0, 0, 0];
    x.extend([44, 2, 0, 0, 0, 0, 0, 0]);
    x.extend([0u8; 16]);
    x.extend([60, 0, 0x00, 0x01, 0, 0, 0, 1]);
    x.extend([51, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    x.extend([17, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    x.extend(udp(546, 547, b"dhcp"));
    let f = eth(0x86DD, &[], &ipv6(A6, B6, 0, &x));
    let (p, l) = ParsedPacket::parse(&f, 4);
    assert_eq!(
        (l, p.l3_proto, p.l4_src_port, p.l4_dst_port),
        (4, 17, 546, 547)
    );
    assert_eq!((p.ip_more_fragments, p.ip_fragment_offset), (true, 0));
    assert_eq!(p.offset.l4_offset, 14 + 40 + 72);
    check_prefixes(&f);

    // Non-first fragment: no L4.
    let mut x = vec![6, 0, 0x05, 0x00, 0, 0, 0, 9];
    x.extend(tcp(1, 2, 3, 4, 0, &[]));
    let f = eth(0x86DD, &[], &ipv6(A6, B6, 44, &x));
    let (p, l) = ParsedPacket::parse(&f, 4);
    assert_eq!(
        (l, p.l3_proto, p.ip_fragment_offset, p.l4_src_port),
        (3, 6, 0xA0, 0)
    );
    assert_eq!(p.offset.l4_offset, 62);

    // No next header → l3_proto 0.
    let f = eth(0x86DD, &[], &ipv6(A6, B6, 59, &[]));
    let (p, l) = ParsedPacket::parse(&f, 4);
    assert_eq!((l, p.l3_proto, p.offset.l4_offset), (3, 0, 54));

    // Truncated extension header: it is the protocol, at level 3.
    let f = eth(0x86DD, &[], &ipv6(A6, B6, 43, &[6]));
    let (p, l) = ParsedPacket::parse(&f, 4);
    assert_eq!((l, p.l3_proto, p.offset.l4_offset), (3, 43, 54));
    // An extension header longer than the frame is not skipped: it is the protocol.
    let f = eth(0x86DD, &[], &ipv6(A6, B6, 60, &[6, 4, 0, 0]));
    let (p, l) = ParsedPacket::parse(&f, 4);
    assert_eq!((l, p.l3_proto, p.offset.l4_offset), (3, 60, 54));

    // An endless chain of destination options is bounded.
    let mut x = Vec::new();
    for _ in 0..40 {
        x.extend([60, 0, 0, 0, 0, 0, 0, 0]);
    }
    let f = eth(0x86DD, &[], &ipv6(A6, B6, 60, &x));
    let (p, l) = ParsedPacket::parse(&f, 4);
    assert_eq!((l, p.l3_proto), (3, 60));
    assert_eq!(p.offset.l4_offset as usize, 54 + 8 * MAX_EXT_HEADERS);
    check_prefixes(&f);
}

#[test]
fn icmpv6() {
    let f = eth(0x86DD, &[], &ipv6(A6, B6, 58, &[135, 0, 0, 0, 0, 0, 0, 0]));
    let (p, l) = ParsedPacket::parse(&f, 4);
    assert_eq!((l, p.l3_proto, p.icmp_type, p.icmp_code), (4, 58, 135, 0));
}

fn gtp_u(flags: u8, msg: u8, teid: u32, opt: &[u8], inner: &[u8]) -> Vec<u8> {
    let mut g = vec![flags, msg];
    g.extend(((opt.len() + inner.len()) as u16).to_be_bytes());
    g.extend(teid.to_be_bytes());
    g.extend(opt);
    g.extend(inner);
    g
}

const IA: [u8; 4] = [10, 0, 0, 1];
const IB: [u8; 4] = [10, 0, 0, 2];

#[test]
fn gtp_u_plain_and_levels() {
    let inner = ipv4(IA, IB, 6, &tcp(40000, 80, 1, 0, 0x02, &[]));
    let f = eth(
        0x0800,
        &[],
        &ipv4(
            A4,
            B4,
            17,
            &udp(2152, 2152, &gtp_u(0x30, 0xFF, 0xDEADBEEF, &[], &inner)),
        ),
    );
    let (p, l) = ParsedPacket::parse(&f, 5);
    assert_eq!(l, 5);
    let t = &p.tunnel;
    assert_eq!((t.tunnel_id, t.tunnel_type), (0xDEADBEEF, TunnelType::GtpU));
    assert_eq!((t.tunneled_ip_version, t.tunneled_proto), (4, 6));
    assert_eq!((t.tunneled_ip_src, t.tunneled_ip_dst), (v4(IA), v4(IB)));
    assert_eq!(
        (t.tunneled_l4_src_port, t.tunneled_l4_dst_port),
        (40000, 80)
    );
    // Outer fields are the outer ones.
    assert_eq!(
        (p.l3_proto, p.l4_src_port, p.offset.payload_offset),
        (17, 2152, 42)
    );
    // Level 4: no tunnel.
    let (p4, l4) = ParsedPacket::parse(&f, 4);
    assert_eq!((l4, p4.tunnel), (4, TunnelInfo::default()));
    check_prefixes(&f);
}

#[test]
fn gtp_u_options_and_extension_headers() {
    let inner = ipv6(A6, B6, 17, &udp(1111, 2222, &[]));
    // S flag: 4 option bytes, next-ext 0.
    let f = eth(
        0x0800,
        &[],
        &ipv4(
            A4,
            B4,
            17,
            &udp(3000, 2152, &gtp_u(0x32, 0xFF, 7, &[0, 1, 0, 0], &inner)),
        ),
    );
    let (p, l) = ParsedPacket::parse(&f, 5);
    assert_eq!(
        (l, p.tunnel.tunnel_id, p.tunnel.tunneled_ip_version),
        (5, 7, 6)
    );
    assert_eq!(p.tunnel.tunneled_ip_src.v6(), A6);
    assert_eq!(
        (p.tunnel.tunneled_l4_src_port, p.tunnel.tunneled_l4_dst_port),
        (1111, 2222)
    );
    check_prefixes(&f);

    // E flag: PDU session container (len 1 = 4 bytes) then another (len 2 = 8 bytes), end.
    let opt = [0, 0, 0, 0x85, 1, 0x10, 0x09, 0x85, 2, 0, 0, 0, 0, 0, 0, 0];
    let inner = ipv4(IA, IB, 17, &udp(5, 6, &[]));
    let f = eth(
        0x0800,
        &[],
        &ipv4(
            A4,
            B4,
            17,
            &udp(2152, 2152, &gtp_u(0x34, 0xFF, 9, &opt, &inner)),
        ),
    );
    let (p, l) = ParsedPacket::parse(&f, 5);
    assert_eq!(
        (l, p.tunnel.tunnel_id, p.tunnel.tunneled_ip_src),
        (5, 9, v4(IA))
    );
    assert_eq!(p.tunnel.tunneled_l4_dst_port, 6);
    check_prefixes(&f);

    // A zero-length extension header stops the parse (tunnel id kept).
    let opt = [0, 0, 0, 0x85, 0, 0, 0, 0];
    let f = eth(
        0x0800,
        &[],
        &ipv4(
            A4,
            B4,
            17,
            &udp(2152, 2152, &gtp_u(0x34, 0xFF, 9, &opt, &inner)),
        ),
    );
    let (p, l) = ParsedPacket::parse(&f, 5);
    assert_eq!(
        (l, p.tunnel.tunnel_id, p.tunnel.tunneled_ip_version),
        (4, 9, 0)
    );

    // Echo request on the user-plane port: TEID, no inner packet.
    let f = eth(
        0x0800,
        &[],
        &ipv4(
            A4,
            B4,
            17,
            &udp(2152, 2152, &gtp_u(0x32, 1, 0, &[0, 5, 0, 0], &inner)),
        ),
    );
    let (p, l) = ParsedPacket::parse(&f, 5);
    assert_eq!(
        (l, p.tunnel.tunnel_id, p.tunnel.tunneled_ip_version),
        (4, 0, 0)
    );

    // Version 2 on the user-plane port is not GTP-U.
    let f = eth(
        0x0800,
        &[],
        &ipv4(
            A4,
            B4,
            17,
            &udp(2152, 2152, &gtp_u(0x48, 0xFF, 9, &[], &inner)),
        ),
    );
    assert_eq!(ParsedPacket::parse(&f, 5).0.tunnel, TunnelInfo::default());
}

#[test]
fn gtp_c_v1_v2() {
    let f = eth(
        0x0800,
        &[],
        &ipv4(
            A4,
            B4,
            17,
            &udp(
                2123,
                40000,
                &gtp_u(0x32, 0x10, 0x11223344, &[0, 1, 0, 0], &[]),
            ),
        ),
    );
    let (p, l) = ParsedPacket::parse(&f, 5);
    assert_eq!(
        (l, p.tunnel.tunnel_id, p.tunnel.tunnel_type),
        (4, 0x11223344, TunnelType::GtpC)
    );
    check_prefixes(&f);
    // v2 with the T flag.
    let f = eth(
        0x0800,
        &[],
        &ipv4(
            A4,
            B4,
            17,
            &udp(
                40000,
                2123,
                &gtp_u(0x48, 0x20, 0x55667788, &[0, 0, 1, 0], &[]),
            ),
        ),
    );
    assert_eq!(ParsedPacket::parse(&f, 5).0.tunnel.tunnel_id, 0x55667788);
    // v2 without TEID.
    let f = eth(
        0x0800,
        &[],
        &ipv4(
            A4,
            B4,
            17,
            &udp(40000, 2123, &gtp_u(0x40, 0x01, 0x00000100, &[], &[])),
        ),
    );
    assert_eq!(ParsedPacket::parse(&f, 5).0.tunnel.tunnel_id, NO_TUNNEL_ID);
}

fn gre(flags: u16, proto: u16, extra: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut g = Vec::new();
    g.extend(flags.to_be_bytes());
    g.extend(proto.to_be_bytes());
    g.extend(extra);
    g.extend(payload);
    g
}

#[test]
fn gre_ip_with_key_and_without() {
    let inner = ipv4(IA, IB, 17, &udp(7, 8, &[]));
    // C + K + S: checksum, key 0x0000ABCD, sequence.
    let g = gre(
        0xB000,
        0x0800,
        &[0, 0, 0, 0, 0, 0, 0xAB, 0xCD, 0, 0, 0, 1],
        &inner,
    );
    let f = eth(0x0800, &[], &ipv4(A4, B4, 47, &g));
    let (p, l) = ParsedPacket::parse(&f, 5);
    assert_eq!(l, 5);
    assert_eq!(
        (p.l3_proto, p.offset.l4_offset, p.offset.payload_offset),
        (47, 34, 50)
    );
    assert_eq!(
        (p.tunnel.tunnel_id, p.tunnel.tunnel_type),
        (0xABCD, TunnelType::Gre)
    );
    assert_eq!(
        (p.tunnel.tunneled_ip_src, p.tunnel.tunneled_l4_dst_port),
        (v4(IA), 8)
    );
    let (p4, l4) = ParsedPacket::parse(&f, 4);
    assert_eq!(
        (l4, p4.offset.payload_offset, p4.tunnel.tunnel_id),
        (4, 50, 0xABCD)
    );
    assert_eq!(p4.tunnel.tunneled_ip_version, 0);
    check_prefixes(&f);

    // No key: the tunneled tuple is filled, the tunnel id stays NO_TUNNEL_ID (as PF_RING).
    let g = gre(
        0x0000,
        0x86DD,
        &[],
        &ipv6(A6, B6, 6, &tcp(9, 10, 0, 0, 0, &[])),
    );
    let f = eth(0x0800, &[], &ipv4(A4, B4, 47, &g));
    let (p, l) = ParsedPacket::parse(&f, 5);
    assert_eq!(
        (l, p.tunnel.tunnel_id, p.has_tunnel()),
        (5, NO_TUNNEL_ID, false)
    );
    assert_eq!(
        (
            p.tunnel.tunneled_ip_version,
            p.tunnel.tunneled_proto,
            p.tunnel.tunneled_l4_src_port
        ),
        (6, 6, 9)
    );

    // GRE version 1 (PPTP) is not parsed further.
    let f = eth(
        0x0800,
        &[],
        &ipv4(
            A4,
            B4,
            47,
            &gre(0x3001, 0x880B, &[0, 0, 0, 1, 0, 0, 0, 1], &[]),
        ),
    );
    let (p, l) = ParsedPacket::parse(&f, 5);
    assert_eq!((l, p.offset.payload_offset), (3, 34));
}

#[test]
fn gre_transparent_ethernet_bridging() {
    let inner_ip = ipv4(IA, IB, 6, &tcp(1234, 443, 0, 0, 0x10, &[]));
    let mut inner = Vec::new();
    inner.extend([
        0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xBB, 0xBB, 0xBB, 0xBB, 0xBB, 0xBB,
    ]);
    inner.extend([0x81, 0x00, 0x00, 0x07, 0x08, 0x00]);
    inner.extend(inner_ip);
    let f = eth(
        0x0800,
        &[],
        &ipv4(A4, B4, 47, &gre(0x2000, 0x6558, &[0, 0, 0, 42], &inner)),
    );
    let (p, l) = ParsedPacket::parse(&f, 5);
    assert_eq!(l, 5);
    let t = &p.tunnel;
    assert_eq!(
        (
            t.tunnel_id,
            t.tunneled_dmac,
            t.tunneled_smac,
            t.tunneled_eth_type
        ),
        (42, [0xAA; 6], [0xBB; 6], 0x0800)
    );
    assert_eq!(
        (
            t.tunneled_ip_dst,
            t.tunneled_proto,
            t.tunneled_l4_src_port,
            t.tunneled_l4_dst_port
        ),
        (v4(IB), 6, 1234, 443)
    );
    check_prefixes(&f);
}

// ------------------------------------------------------------------------------------
// Hashes
// ------------------------------------------------------------------------------------

fn tcp4_packet(vlan: u16) -> ParsedPacket {
    let t = tcp(22, 34762, 1, 2, 0x18, &[]);
    let tags: &[(u16, u16)] = if vlan != 0 { &[(0x8100, 0)] } else { &[] };
    let mut f = eth(0x0800, tags, &ipv4(A4, B4, 6, &t));
    if vlan != 0 {
        f[14..16].copy_from_slice(&vlan.to_be_bytes());
    }
    ParsedPacket::parse(&f, 5).0
}

#[test]
fn pfring_hash_vector() {
    // 192.168.1.20:22 -> 192.168.1.21:34762 TCP: 0xC0A80114 + 0xC0A80115 + 6 + 22 + 34762
    // = 6464471593 + 34790 mod 2^32 = 2169539087 (reference §5.5).
    let mut p = tcp4_packet(0);
    assert_eq!(p.pfring_hash(), 2_169_539_087);
    assert_eq!(p.kernel_hash(), 2_169_539_087);
    assert_eq!(p.add_hash(), 2_169_539_087);
    assert_eq!(p.pkt_hash, 2_169_539_087);
    // add_hash keeps a hash that is already there.
    p.pkt_hash = 5;
    assert_eq!(p.add_hash(), 5);
    // With VLAN 10, the VLAN id is added.
    assert_eq!(tcp4_packet(10).pfring_hash(), 2_169_539_097);
}

#[test]
fn cluster_hash_vectors() {
    use ClusterHash::*;
    let p = tcp4_packet(10);
    let two = 2_169_504_297u32; // 0xC0A80114 + 0xC0A80115 mod 2^32
    assert_eq!(p.cluster_hash(ClusterType::PerFlow2Tuple), Single(two));
    assert_eq!(
        p.cluster_hash(ClusterType::PerFlow4Tuple),
        Single(two + 22 + 34762)
    );
    assert_eq!(
        p.cluster_hash(ClusterType::PerFlow5Tuple),
        Single(two + 6 + 22 + 34762)
    );
    assert_eq!(
        p.cluster_hash(ClusterType::PerFlowTcp5Tuple),
        Single(two + 6 + 22 + 34762)
    );
    assert_eq!(
        p.cluster_hash(ClusterType::PerFlowIp5Tuple),
        Single(two + 6 + 22 + 34762)
    );
    assert_eq!(
        p.cluster_hash(ClusterType::PerFlow),
        Single(two + 10 + 6 + 22 + 34762)
    );
    assert_eq!(
        p.cluster_hash(ClusterType::PerInnerFlow5Tuple),
        Single(two + 6 + 22 + 34762)
    );
    assert_eq!(p.cluster_hash(ClusterType::RoundRobin), RoundRobin);
    assert_eq!(
        p.cluster_hash(ClusterType::PerFlowIpWithDupTuple),
        Dup {
            src: 0xC0A8_0114,
            dst: 0xC0A8_0115
        }
    );

    // UDP: tcp-5-tuple falls back to the 2-tuple.
    let f = eth(0x0800, &[], &ipv4(A4, B4, 17, &udp(53, 1024, &[])));
    let u = ParsedPacket::parse(&f, 4).0;
    assert_eq!(u.cluster_hash(ClusterType::PerFlowTcp5Tuple), Single(two));
    assert_eq!(
        u.cluster_hash(ClusterType::PerFlow5Tuple),
        Single(two + 17 + 53 + 1024)
    );

    // Non-IP: the bytes of both MACs (kernel MAC branch); userland hash has no MAC branch.
    let f = eth(0x0806, &[(0x8100, 3)], &[0u8; 28]);
    let a = ParsedPacket::parse(&f, 4).0;
    let macs: u32 = DMAC.iter().chain(SMAC.iter()).map(|&b| u32::from(b)).sum();
    assert_eq!(macs, 0x1B + 0x21 + 0x0A + 0x0B + 0x0C + 2 + 1);
    assert_eq!(a.pfring_hash(), 3);
    assert_eq!(a.kernel_hash(), 3 + macs);
    assert_eq!(a.cluster_hash(ClusterType::PerFlowIp5Tuple), Single(macs));
    assert_eq!(a.cluster_hash(ClusterType::PerFlow2Tuple), Single(macs));
    assert_eq!(
        a.cluster_hash(ClusterType::PerFlowIpWithDupTuple),
        Dup { src: 0, dst: 0 }
    );
    assert_eq!(a.hash_with(HashFlags::MASK_MAC), 3);
    assert_eq!(
        a.hash_with(HashFlags::MASK_SRC | HashFlags::MASK_VLAN),
        DMAC.iter().map(|&b| u32::from(b)).sum::<u32>()
    );
}

#[test]
fn ipv6_hash_uses_native_words() {
    let f = eth(0x86DD, &[], &ipv6(A6, B6, 17, &udp(53, 5353, &[])));
    let p = ParsedPacket::parse(&f, 4).0;
    let words = |a: [u8; 16]| -> u32 {
        a.chunks(4)
            .map(|w| u32::from_ne_bytes([w[0], w[1], w[2], w[3]]))
            .fold(0, u32::wrapping_add)
    };
    let exp = words(A6).wrapping_add(words(B6)) + 17 + 53 + 5353;
    assert_eq!(p.pfring_hash(), exp);
    #[cfg(target_endian = "little")]
    {
        // 2001:0db8::1 words (LE): 0xB80D0120, 0, 0, 0x01000000; ::2 → 0x02000000.
        let e = 0xB80D_0120u32
            .wrapping_mul(2)
            .wrapping_add(0x0100_0000 + 0x0200_0000);
        assert_eq!(p.pfring_hash(), e + 17 + 53 + 5353);
    }
}

#[test]
fn tunnel_hashes_use_inner_tuple() {
    use ClusterHash::*;
    let inner = ipv4(IA, IB, 6, &tcp(40000, 80, 1, 0, 0x02, &[]));
    let f = eth(
        0x0800,
        &[],
        &ipv4(
            A4,
            B4,
            17,
            &udp(2152, 2152, &gtp_u(0x30, 0xFF, 1, &[], &inner)),
        ),
    );
    let p = ParsedPacket::parse(&f, 5).0;
    let inner2 = 0x0A00_0001u32 + 0x0A00_0002;
    let outer2 = 2_169_504_297u32;
    assert_eq!(p.pfring_hash(), inner2 + 6 + 40000 + 80);
    assert_eq!(
        p.hash_with(HashFlags::MASK_TUNNEL),
        outer2 + 17 + 2152 + 2152
    );
    assert_eq!(
        p.cluster_hash(ClusterType::PerInnerFlow5Tuple),
        Single(inner2 + 6 + 40000 + 80)
    );
    assert_eq!(
        p.cluster_hash(ClusterType::PerInnerFlow2Tuple),
        Single(inner2)
    );
    assert_eq!(
        p.cluster_hash(ClusterType::PerInnerFlow4Tuple),
        Single(inner2 + 40000 + 80)
    );
    assert_eq!(
        p.cluster_hash(ClusterType::PerInnerFlowIp5Tuple),
        Single(inner2 + 6 + 40000 + 80)
    );
    // Quirk kept: the inner TCP 5-tuple tests the outer protocol (UDP here) → 2-tuple.
    assert_eq!(
        p.cluster_hash(ClusterType::PerInnerFlowTcp5Tuple),
        Single(inner2)
    );
    assert_eq!(
        p.cluster_hash(ClusterType::PerFlow5Tuple),
        Single(outer2 + 17 + 2152 + 2152)
    );
    assert_eq!(
        p.cluster_hash(ClusterType::PerFlowIp5Tuple),
        Single(outer2 + 17 + 2152 + 2152)
    );
}

#[test]
fn libzero_vectors() {
    let f = eth(0x0800, &[(0x8100, 5), (0x8100, 6)], &ipv4(A4, B4, 6, &[]));
    assert_eq!(libzero_hash(&f, LibzeroHashMode::Ip), 2_169_504_297);
    assert_eq!(libzero_hash(&f, LibzeroHashMode::Protocol), 6);
    assert_eq!(
        libzero_hash(&f, LibzeroHashMode::Mac),
        0x0A + 0x0B + 0x0C + 1
    );
    // 0x88A8 is not skipped by libzero: unknown EtherType → 0.
    let f = eth(0x0800, &[(0x88A8, 5)], &ipv4(A4, B4, 6, &[]));
    assert_eq!(libzero_hash(&f, LibzeroHashMode::Ip), 0);
    let f = eth(0x86DD, &[], &ipv6(A6, B6, 58, &[]));
    let p = ParsedPacket::parse(&f, 3).0;
    assert_eq!(
        libzero_hash(&f, LibzeroHashMode::Ip),
        p.cluster_hash_single(ClusterType::PerFlow2Tuple)
    );
    assert_eq!(libzero_hash(&f, LibzeroHashMode::Protocol), 58);
    assert_eq!(libzero_hash(&f[..50], LibzeroHashMode::Ip), 0);
    assert_eq!(libzero_hash(&[], LibzeroHashMode::Mac), 0);
}

#[test]
fn cluster_type_numbers() {
    for (i, t) in ClusterType::ALL.iter().enumerate() {
        assert_eq!(*t as usize, i);
        assert_eq!(ClusterType::try_from(i as u32), Ok(*t));
        assert_eq!(u32::from(*t), i as u32);
    }
    assert_eq!(ClusterType::try_from(14), Err(hash::UnknownClusterType(14)));
    assert_eq!(
        ClusterType::try_from(u32::MAX),
        Err(hash::UnknownClusterType(u32::MAX))
    );
    assert_eq!(ClusterType::default(), ClusterType::PerFlow5Tuple);
    assert_eq!(ClusterType::MAX_ID as usize, ClusterType::ALL.len() - 1);
}

impl ParsedPacket {
    fn cluster_hash_single(&self, t: ClusterType) -> u32 {
        match self.cluster_hash(t) {
            ClusterHash::Single(h) => h,
            other => panic!("{other:?}"),
        }
    }
}

// ------------------------------------------------------------------------------------
// Printer
// ------------------------------------------------------------------------------------

fn line(f: &[u8], len: u32) -> String {
    let (mut p, _) = ParsedPacket::parse(f, 5);
    p.add_hash();
    let mut s = String::new();
    format_parsed(&mut s, &p, f, f.len() as u32, len).unwrap();
    s
}

#[test]
fn print_tcp_with_vlan() {
    let t = tcp(22, 34762, 123456, 2, 0x18, &[]);
    let f = eth(0x0800, &[(0x8100, 10)], &ipv4(A4, B4, 6, &t));
    assert_eq!(
        line(&f, 1514),
        "[02:00:00:00:00:01 -> 00:1B:21:0A:0B:0C] [vlan 10] [IPv4][192.168.1.20:22 -> 192.168.1.21:34762] \
         [l3_proto=TCP][hash=2169539097][tos=184][tcp_seq_num=123456] \
         [caplen=62][len=1514][eth_offset=0][l3_offset=18][l4_offset=38][payload_offset=62]"
    );
}

#[test]
fn print_qinq_udp_ipv6_icmp() {
    let f = eth(
        0x0800,
        &[(0x88A8, 5), (0x8100, 6)],
        &ipv4(A4, B4, 17, &udp(53, 1024, &[])),
    );
    assert_eq!(
        line(&f, 60),
        "[02:00:00:00:00:01 -> 00:1B:21:0A:0B:0C] [vlan 5] [QinQ-vlan 6] [IPv4][192.168.1.20:53 -> 192.168.1.21:1024] \
         [l3_proto=UDP][hash=2169505396] [caplen=50][len=60][eth_offset=0][l3_offset=22][l4_offset=42][payload_offset=50]"
    );
    let f = eth(0x86DD, &[], &ipv6(A6, B6, 58, &[128, 0, 0, 0]));
    let p = ParsedPacket::parse(&f, 5).0;
    assert_eq!(
        line(&f, 60),
        format!(
            "[02:00:00:00:00:01 -> 00:1B:21:0A:0B:0C] [IPv6][2001:db8::1:0 -> 2001:db8::2:0] \
             [l3_proto=58][hash={}] [caplen=58][len=60][eth_offset=0][l3_offset=14][l4_offset=54][payload_offset=54]",
            p.pfring_hash()
        )
    );
}

#[test]
fn print_tunnel_arp_stp_other() {
    let inner = ipv4(IA, IB, 6, &tcp(40000, 80, 1, 0, 0x02, &[]));
    let f = eth(
        0x0800,
        &[],
        &ipv4(
            A4,
            B4,
            17,
            &udp(2152, 2152, &gtp_u(0x30, 0xFF, 0xBEEF, &[], &inner)),
        ),
    );
    assert_eq!(
        line(&f, 200),
        "[02:00:00:00:00:01 -> 00:1B:21:0A:0B:0C] [IPv4][192.168.1.20:2152 -> 192.168.1.21:2152] [l3_proto=UDP]\
         [TEID=0x0000BEEF][tunneled_proto=TCP][IPv4][10.0.0.1:40000 -> 10.0.0.2:80] [hash=335584409] \
         [caplen=94][len=200][eth_offset=0][l3_offset=14][l4_offset=34][payload_offset=42]"
    );

    let mut arp = vec![0, 1, 8, 0, 6, 4, 0, 1];
    arp.extend(SMAC);
    arp.extend(A4);
    arp.extend([0u8; 6]);
    arp.extend(B4);
    let f = eth(0x0806, &[], &arp);
    assert_eq!(
        line(&f, 60),
        "[02:00:00:00:00:01 -> 00:1B:21:0A:0B:0C] [ARP][Sender=02:00:00:00:00:01/192.168.1.20]\
         [Target=00:00:00:00:00:00/192.168.1.21] [caplen=42][len=60][eth_offset=0][l3_offset=14][l4_offset=0][payload_offset=0]"
    );
    assert_eq!(
        line(&f[..40], 60),
        "[02:00:00:00:00:01 -> 00:1B:21:0A:0B:0C] [ARP] [caplen=40][len=60][eth_offset=0][l3_offset=14][l4_offset=0][payload_offset=0]"
    );
    let f = eth(0x0027, &[], &[0x42, 0x42, 3]);
    assert_eq!(
        line(&f, 60),
        "[02:00:00:00:00:01 -> 00:1B:21:0A:0B:0C] [STP] [caplen=17][len=60][eth_offset=0][l3_offset=14][l4_offset=0][payload_offset=0]"
    );
    let f = eth(0x88CC, &[], &[]);
    assert_eq!(
        line(&f, 60),
        "[02:00:00:00:00:01 -> 00:1B:21:0A:0B:0C] [eth_type=0x88CC] [caplen=14][len=60][eth_offset=0][l3_offset=14][l4_offset=0][payload_offset=0]"
    );
}

#[test]
fn timestamp_helper() {
    let t = Duration::new(1_700_000_000, 5);
    assert_eq!(add_timestamp(Some(t)), t);
    let now = add_timestamp(None);
    assert!(now.as_secs() > 1_600_000_000);
    assert!(add_timestamp(Some(Duration::from_nanos(10))).as_secs() > 1_600_000_000);
}

// ------------------------------------------------------------------------------------
// Property tests
// ------------------------------------------------------------------------------------

/// Every hash of `p`, as one comparable value (the dup pair as a sorted pair).
fn all_hashes(p: &ParsedPacket) -> Vec<u32> {
    let mut v = vec![p.pfring_hash(), p.kernel_hash()];
    for f in 0..=255u8 {
        // every mask that leaves src and dst symmetric
        let fl = HashFlags(f);
        if fl.contains(HashFlags::MASK_SRC) == fl.contains(HashFlags::MASK_DST) {
            v.push(p.hash_with(fl));
        }
    }
    for t in ClusterType::ALL {
        match p.cluster_hash(t) {
            ClusterHash::RoundRobin => {}
            ClusterHash::Single(h) => v.push(h),
            ClusterHash::Dup { src, dst } => {
                v.push(src.min(dst));
                v.push(src.max(dst));
            }
        }
    }
    v
}

fn swapped(p: &ParsedPacket) -> ParsedPacket {
    let mut q = *p;
    core::mem::swap(&mut q.smac, &mut q.dmac);
    core::mem::swap(&mut q.ip_src, &mut q.ip_dst);
    core::mem::swap(&mut q.l4_src_port, &mut q.l4_dst_port);
    let t = &mut q.tunnel;
    core::mem::swap(&mut t.tunneled_smac, &mut t.tunneled_dmac);
    core::mem::swap(&mut t.tunneled_ip_src, &mut t.tunneled_ip_dst);
    core::mem::swap(&mut t.tunneled_l4_src_port, &mut t.tunneled_l4_dst_port);
    q
}

fn arb_packet() -> impl Strategy<Value = ParsedPacket> {
    (
        (
            any::<[u8; 6]>(),
            any::<[u8; 6]>(),
            any::<u16>(),
            prop_oneof![Just(0u8), Just(4), Just(6), any::<u8>()],
        ),
        (
            prop_oneof![Just(0u8), Just(6), Just(17), any::<u8>()],
            any::<[u8; 16]>(),
            any::<[u8; 16]>(),
        ),
        (any::<u16>(), any::<u16>()),
        (
            prop_oneof![Just(NO_TUNNEL_ID), any::<u32>()],
            any::<[u8; 6]>(),
            any::<[u8; 6]>(),
            prop_oneof![Just(0u8), Just(4), Just(6)],
        ),
        (
            any::<u8>(),
            any::<[u8; 16]>(),
            any::<[u8; 16]>(),
            any::<u16>(),
            any::<u16>(),
        ),
    )
        .prop_map(|(l2, l3, l4, t1, t2)| {
            let mut p = ParsedPacket::default();
            (p.dmac, p.smac, p.vlan_id, p.ip_version) = l2;
            p.l3_proto = l3.0;
            p.ip_src = IpAddress::from_bytes(l3.1);
            p.ip_dst = IpAddress::from_bytes(l3.2);
            (p.l4_src_port, p.l4_dst_port) = l4;
            let t = &mut p.tunnel;
            (
                t.tunnel_id,
                t.tunneled_dmac,
                t.tunneled_smac,
                t.tunneled_ip_version,
            ) = t1;
            t.tunneled_proto = t2.0;
            t.tunneled_ip_src = IpAddress::from_bytes(t2.1);
            t.tunneled_ip_dst = IpAddress::from_bytes(t2.2);
            (t.tunneled_l4_src_port, t.tunneled_l4_dst_port) = (t2.3, t2.4);
            p
        })
}

/// Swaps source and destination inside an Ethernet frame with an IPv4/IPv6 + TCP/UDP
/// header (outer, and the inner one of a GTP-U test frame).
fn swap_frame(f: &mut [u8], p: &ParsedPacket) {
    let (a, b) = f.split_at_mut(6);
    a.swap_with_slice(&mut b[..6]);
    let l3 = p.offset.l3_offset as usize;
    let (sa, n) = if p.ip_version == 4 {
        (l3 + 12, 4)
    } else {
        (l3 + 8, 16)
    };
    let (x, y) = f[sa..].split_at_mut(n);
    x.swap_with_slice(&mut y[..n]);
    if p.offset.l4_offset != 0 && p.l4_src_port != p.l4_dst_port {
        let l4 = p.offset.l4_offset as usize;
        let (x, y) = f[l4..].split_at_mut(2);
        x.swap_with_slice(&mut y[..2]);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn hashes_are_symmetric(p in arb_packet()) {
        prop_assert_eq!(all_hashes(&p), all_hashes(&swapped(&p)));
    }

    #[test]
    fn frame_swap_keeps_hashes(
        v6 in any::<bool>(), udp_ in any::<bool>(), vlan in 0u16..4096,
        src in any::<[u8; 16]>(), dst in any::<[u8; 16]>(), sp in any::<u16>(), dp in any::<u16>(),
        teid in any::<u32>(), inner_sp in any::<u16>(), inner_dp in any::<u16>(),
    ) {
        let l4 = if udp_ { udp(sp, dp, &[0u8; 4]) } else { tcp(sp, dp, 1, 2, 0x10, &[]) };
        let proto = if udp_ { 17 } else { 6 };
        let ip = if v6 { ipv6(src, dst, proto, &l4) } else {
            ipv4(src[..4].try_into().unwrap(), dst[..4].try_into().unwrap(), proto, &l4)
        };
        let mut f = eth(if v6 { 0x86DD } else { 0x0800 }, &[(0x8100, vlan)], &ip);
        let p = ParsedPacket::parse(&f, 5).0;
        swap_frame(&mut f, &p);
        let q = ParsedPacket::parse(&f, 5).0;
        prop_assert_eq!(q, swapped(&p));
        prop_assert_eq!(all_hashes(&p), all_hashes(&q));
        prop_assert_eq!(libzero_hash(&f, LibzeroHashMode::Ip), {
            let mut g = f.clone(); swap_frame(&mut g, &q); libzero_hash(&g, LibzeroHashMode::Ip)
        });

        // GTP-U around an inner TCP packet: swap the inner tuple too.
        let inner = tcp(inner_sp, inner_dp, 0, 0, 0, &[]);
        let inner_ip = ipv4(src[4..8].try_into().unwrap(), dst[4..8].try_into().unwrap(), 6, &inner);
        let mut g = eth(0x0800, &[], &ipv4(src[..4].try_into().unwrap(), dst[..4].try_into().unwrap(), 17,
            &udp(2152, 2152, &gtp_u(0x30, 0xFF, teid, &[], &inner_ip))));
        let p = ParsedPacket::parse(&g, 5).0;
        swap_frame(&mut g, &p);
        let at = 14 + 20 + 8 + 8;
        let (x, y) = g[at + 12..].split_at_mut(4);
        x.swap_with_slice(&mut y[..4]);
        let (x, y) = g[at + 20..].split_at_mut(2);
        x.swap_with_slice(&mut y[..2]);
        let q = ParsedPacket::parse(&g, 5).0;
        prop_assert_eq!(q, swapped(&p));
        prop_assert_eq!(all_hashes(&p), all_hashes(&q));
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200), level in 0u8..8) {
        let (p, l) = ParsedPacket::parse(&bytes, level);
        prop_assert!(l <= 5);
        let _ = all_hashes(&p);
        let mut s = String::new();
        format_parsed(&mut s, &p, &bytes, 0, 0).unwrap();
        for m in [LibzeroHashMode::Ip, LibzeroHashMode::Mac, LibzeroHashMode::Protocol] {
            let _ = libzero_hash(&bytes, m);
        }
    }

    /// Random bytes behind valid headers, so the deep paths (extension headers, tunnels)
    /// see garbage too.
    #[test]
    fn random_tails_never_panic(
        prefix in 0usize..8, tail in proptest::collection::vec(any::<u8>(), 0..160), level in 2u8..6,
    ) {
        let base: Vec<u8> = match prefix {
            0 => eth(0x0800, &[], &[]),
            1 => eth(0x86DD, &[(0x8100, 1)], &[]),
            2 => eth(0x0800, &[], &ipv4(A4, B4, 17, &udp(2152, 2152, &[]))),
            3 => eth(0x0800, &[], &ipv4(A4, B4, 17, &udp(2123, 2123, &[]))),
            4 => eth(0x0800, &[], &ipv4(A4, B4, 47, &[])),
            5 => eth(0x86DD, &[], &ipv6(A6, B6, 0, &[])),
            6 => eth(0x0800, &[], &ipv4(A4, B4, 47, &gre(0x2000, 0x6558, &[0, 0, 0, 1], &[]))),
            _ => eth(0x0800, &[], &ipv4(A4, B4, 17, &udp(2152, 2152, &[0x36, 0xFF, 0, 0, 0, 0, 0, 0]))),
        };
        let mut f = base;
        f.extend(&tail);
        let (p, l) = ParsedPacket::parse(&f, level);
        prop_assert!(l <= level.max(2));
        let _ = all_hashes(&p);
    }
}
