//! The cluster programs against the reference hash ([`ParsedPacket::cluster_hash`]).

use super::prog::{Offsets, dup_prefix, hash_program};
use super::*;
use crate::filter::bpf::insn::op::{K, RET};
use crate::filter::{PacketMeta, Program};
use crate::parse::{ClusterHash, ParsedPacket, parse_packet};

const A: [u8; 6] = [2, 0, 0, 0, 0, 1];
const B: [u8; 6] = [2, 0, 0, 0, 0, 2];

fn eth(dst: [u8; 6], src: [u8; 6], et: u16) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&et.to_be_bytes());
    f
}

fn l4(proto: u8, sport: u16, dport: u16) -> Vec<u8> {
    let mut l = Vec::new();
    l.extend_from_slice(&sport.to_be_bytes());
    l.extend_from_slice(&dport.to_be_bytes());
    l.resize(if proto == 6 { 20 } else { 8 }, 0);
    if proto == 6 {
        l[12] = 0x50;
    }
    l.extend_from_slice(&[0xAB; 10]);
    l
}

/// An IPv4 header (no options) with protocol `proto`, then `payload`.
fn ip4(src: u32, dst: u32, proto: u8, frag: u16, payload: &[u8]) -> Vec<u8> {
    let mut h = vec![0x45, 0, 0, 0, 0, 1];
    h.extend_from_slice(&frag.to_be_bytes());
    h.extend_from_slice(&[64, proto, 0, 0]);
    h.extend_from_slice(&src.to_be_bytes());
    h.extend_from_slice(&dst.to_be_bytes());
    h.extend_from_slice(payload);
    h
}

/// An IPv6 header with next header `nh`, then `payload`.
fn ip6(src: [u8; 16], dst: [u8; 16], nh: u8, payload: &[u8]) -> Vec<u8> {
    let mut h = vec![0x60, 0, 0, 0];
    h.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    h.extend_from_slice(&[nh, 64]);
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    h.extend_from_slice(payload);
    h
}

fn frame(et: u16, l3: &[u8]) -> Vec<u8> {
    let mut f = eth(A, B, et);
    f.extend_from_slice(l3);
    f
}

fn ipv4(src: u32, dst: u32, proto: u8, sport: u16, dport: u16, frag: u16) -> Vec<u8> {
    frame(
        0x0800,
        &ip4(src, dst, proto, frag, &l4(proto, sport, dport)),
    )
}

fn ipv6(src: [u8; 16], dst: [u8; 16], nh: u8, sport: u16, dport: u16) -> Vec<u8> {
    frame(0x86dd, &ip6(src, dst, nh, &l4(nh, sport, dport)))
}

/// The same frame with source and destination (MACs, addresses, ports) swapped (plain
/// IPv4 / IPv6 / non-IP frames only).
fn swapped(f: &[u8]) -> Vec<u8> {
    let mut g = f.to_vec();
    g[..6].copy_from_slice(&f[6..12]);
    g[6..12].copy_from_slice(&f[..6]);
    let et = u16::from_be_bytes([f[12], f[13]]);
    let (l3, alen, aoff, l4) = match et {
        0x0800 => (14, 4, 12, 14 + 4 * usize::from(f[14] & 0xf)),
        0x86dd => (14, 16, 8, 54),
        _ => return g,
    };
    let (s, d) = (l3 + aoff, l3 + aoff + alen);
    g[s..s + alen].copy_from_slice(&f[d..d + alen]);
    g[d..d + alen].copy_from_slice(&f[s..s + alen]);
    if g.len() >= l4 + 4 {
        g[l4..l4 + 2].copy_from_slice(&f[l4 + 2..l4 + 4]);
        g[l4 + 2..l4 + 4].copy_from_slice(&f[l4..l4 + 2]);
    }
    g
}

/// Inserts a VLAN tag with this TPID after the MACs.
fn tagged_with(f: &[u8], tpid: u16, tci: u16) -> Vec<u8> {
    let mut g = f[..12].to_vec();
    g.extend_from_slice(&tpid.to_be_bytes());
    g.extend_from_slice(&tci.to_be_bytes());
    g.extend_from_slice(&f[12..]);
    g
}

fn tagged(f: &[u8], tci: u16) -> Vec<u8> {
    tagged_with(f, 0x8100, tci)
}

/// Runs `prog` as the kernel would on `frame`: a first 802.1Q / 802.1ad tag is stripped
/// into the metadata (`skb_vlan_untag`), the protocol is the next EtherType.
fn run(prog: &Program, frame: &[u8]) -> u32 {
    let mut bytes = frame.to_vec();
    let mut meta = PacketMeta::default();
    let tpid = u16::from_be_bytes([bytes[12], bytes[13]]);
    if tpid == 0x8100 || tpid == 0x88a8 {
        meta.vlan_tci = Some(u16::from_be_bytes([bytes[14], bytes[15]]));
        meta.vlan_tpid = tpid;
        bytes.drain(12..16);
    }
    meta.protocol = u16::from_be_bytes([bytes[12], bytes[13]]);
    prog.run(&bytes, bytes.len() as u32, &meta)
}

fn parsed(frame: &[u8]) -> ParsedPacket {
    let mut p = ParsedPacket::default();
    parse_packet(frame, 5, &mut p);
    p
}

fn reference(frame: &[u8], ty: ClusterType) -> u32 {
    match parsed(frame).cluster_hash(ty) {
        ClusterHash::Single(h) => h,
        other => panic!("{other:?}"),
    }
}

struct Rng(u32);
impl Rng {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }
    fn v6(&mut self) -> [u8; 16] {
        let mut a = [0u8; 16];
        for k in 0..4 {
            a[4 * k..4 * k + 4].copy_from_slice(&self.next().to_be_bytes());
        }
        a
    }
}

/// Plain frames: swapping source and destination gives the same hash.
fn plain_frames() -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    let mut r = Rng(0x1234_5678);
    for i in 0..150u32 {
        let (s, d) = (r.next(), r.next());
        let (sp, dp) = (r.next() as u16, r.next() as u16);
        for proto in [6u8, 17, 1, 132, 47] {
            v.push(ipv4(s, d, proto, sp, dp, 0));
        }
        // A first fragment (MF set, ports) and a later one (no ports).
        v.push(ipv4(s, d, 17, sp, dp, 0x2000));
        v.push(ipv4(s, d, 17, sp, dp, 0x2000 | (i as u16 % 100 + 1)));
        let (a6, b6) = (r.v6(), r.v6());
        for nh in [6u8, 17, 58, 132, 59] {
            v.push(ipv6(a6, b6, nh, sp, dp));
        }
        // Non-IP: ARP and an unknown EtherType.
        let m1 = r.next().to_be_bytes();
        let m2 = r.next().to_be_bytes();
        for et in [0x0806u16, 0x88b5] {
            let mut f = eth(
                [m1[0], m1[1], m1[2], m1[3], 0xFF, 1],
                [m2[0], m2[1], m2[2], m2[3], 0xEE, 2],
                et,
            );
            f.resize(60, 0x11);
            v.push(f);
        }
    }
    v
}

/// IPv4 AH, IPv6 extension headers, QinQ and other tag stacks.
fn header_frames() -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    let mut r = Rng(0x9e37_79b9);
    for i in 0..40u16 {
        let (s, d) = (r.next(), r.next());
        let (sp, dp) = (r.next() as u16, r.next() as u16);
        // IPv4 + AH (24 bytes) + TCP / UDP.
        for proto in [6u8, 17] {
            let mut ah = vec![proto, 4, 0, 0];
            ah.resize(24, 0x5a);
            ah.extend_from_slice(&l4(proto, sp, dp));
            v.push(frame(0x0800, &ip4(s, d, 51, 0, &ah)));
        }
        // IPv6: hop-by-hop, routing, destination options, fragment, AH, then L4.
        let (a6, b6) = (r.v6(), r.v6());
        let chains: [&[u8]; 6] = [&[0], &[0, 43, 60], &[44], &[51], &[0, 60, 44, 51], &[60; 9]];
        for (c, chain) in chains.iter().enumerate() {
            for proto in [6u8, 17, 59] {
                let mut payload = Vec::new();
                for (k, &h) in chain.iter().enumerate() {
                    let next = chain.get(k + 1).copied().unwrap_or(proto);
                    match h {
                        44 => {
                            // Fragment header: first fragment, or offset 8·(i+1).
                            let fo: u16 = if (i + c as u16).is_multiple_of(2) {
                                1
                            } else {
                                (i + 1) << 3
                            };
                            payload.extend_from_slice(&[next, 0]);
                            payload.extend_from_slice(&fo.to_be_bytes());
                            payload.extend_from_slice(&[0, 0, 0, 7]);
                        }
                        51 => {
                            payload.extend_from_slice(&[next, 2, 0, 0]);
                            payload.extend_from_slice(&[0x33; 12]);
                        }
                        _ => {
                            payload.extend_from_slice(&[next, 1]);
                            payload.extend_from_slice(&[0x22; 14]);
                        }
                    }
                }
                payload.extend_from_slice(&l4(proto, sp, dp));
                v.push(frame(0x86dd, &ip6(a6, b6, chain[0], &payload)));
            }
        }
        // Tag stacks: QinQ (802.1ad outer), two 802.1Q, a 0x9100 tag the kernel keeps.
        let f = ipv4(s, d, 6, sp, dp, 0);
        let vid = (i * 97) % 4096;
        v.push(tagged_with(&tagged(&f, vid + 1), 0x88a8, vid));
        v.push(tagged(&tagged(&f, 5), vid));
        v.push(tagged_with(&f, 0x9100, vid));
        v.push(tagged_with(&tagged(&f, 7), 0x9100, vid));
        let mut arp = eth(A, B, 0x0806);
        arp.resize(60, 1);
        v.push(tagged_with(&tagged(&arp, 9), 0x88a8, vid));
    }
    v
}

fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    u
}

/// Tunneled frames: GTP-U, GTP-C and GRE, with inner IPv4 / IPv6 / Ethernet.
fn tunnel_frames() -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    let mut r = Rng(0x0bad_cafe);
    for i in 0..40u32 {
        let (os, od) = (r.next(), r.next());
        let (is, id) = (r.next(), r.next());
        let (sp, dp) = (r.next() as u16, r.next() as u16);
        let teid = r.next();
        let inner4 = |proto: u8| ip4(is, id, proto, 0, &l4(proto, sp, dp));
        let (a6, b6) = (r.v6(), r.v6());
        let inner6 = ip6(a6, b6, 17, &l4(17, sp, dp));
        let gtp = |flags: u8, ty: u8, teid: u32, opts: &[u8], inner: &[u8]| {
            let mut g = vec![flags, ty];
            g.extend_from_slice(&((opts.len() + inner.len()) as u16).to_be_bytes());
            g.extend_from_slice(&teid.to_be_bytes());
            g.extend_from_slice(opts);
            g.extend_from_slice(inner);
            g
        };
        let outer_sport = if i % 3 == 0 { 2152 } else { 30000 + i as u16 };
        let outer_dport = if i % 3 == 0 { 40000 } else { 2152 };
        let mut gtpu = |payload: Vec<u8>| {
            v.push(frame(
                0x0800,
                &ip4(os, od, 17, 0, &udp(outer_sport, outer_dport, &payload)),
            ));
            v.push(frame(
                0x86dd,
                &ip6(b6, a6, 17, &udp(outer_sport, outer_dport, &payload)),
            ));
        };
        for proto in [6u8, 17, 1] {
            gtpu(gtp(0x30, 0xff, teid, &[], &inner4(proto)));
        }
        gtpu(gtp(0x30, 0xff, teid, &[], &inner6));
        // Sequence number present (options word), then extension headers.
        gtpu(gtp(0x32, 0xff, teid, &[0, 1, 0, 0], &inner4(6)));
        gtpu(gtp(
            0x34,
            0xff,
            teid,
            &[0, 0, 0, 0x85, 1, 9, 0, 0],
            &inner4(17),
        ));
        gtpu(gtp(
            0x34,
            0xff,
            teid,
            &[0, 0, 0, 0x85, 2, 1, 2, 3, 4, 5, 6, 0xc0, 1, 7, 7, 0],
            &inner6,
        ));
        // A zero-length extension header, too many extension headers.
        gtpu(gtp(
            0x34,
            0xff,
            teid,
            &[0, 0, 0, 0x85, 0, 0, 0, 0],
            &inner4(6),
        ));
        let mut many = vec![0, 0, 0, 0x85];
        for _ in 0..9 {
            many.extend_from_slice(&[1, 0, 0, 0x85]);
        }
        gtpu(gtp(0x34, 0xff, teid, &many, &inner4(6)));
        // Echo request (no inner packet), version 2 (not parsed), the "no tunnel" TEID,
        // an inner packet that is neither IPv4 nor IPv6.
        gtpu(gtp(0x32, 1, teid, &[0, 1, 0, 0], &[]));
        gtpu(gtp(0x50, 0xff, teid, &[], &inner4(6)));
        gtpu(gtp(0x30, 0xff, 0xffff_ffff, &[], &inner4(6)));
        gtpu(gtp(0x30, 0xff, teid, &[], &[0x15; 30]));
        // GTP-C v1, v2 with and without a TEID.
        for flags in [0x32u8, 0x48, 0x40] {
            let g = gtp(flags, 16, teid, &[0, 0, 0, 0], &[]);
            v.push(frame(0x0800, &ip4(os, od, 17, 0, &udp(2123, dp, &g))));
            v.push(frame(0x0800, &ip4(os, od, 17, 0, &udp(sp | 1, 2123, &g))));
        }
        // GRE: with a key (and checksum / sequence), without, version 1, "no tunnel" key.
        let gre = |fv: u16, proto: u16, key: u32, inner: &[u8]| {
            let mut g = fv.to_be_bytes().to_vec();
            g.extend_from_slice(&proto.to_be_bytes());
            if fv & 0xc000 != 0 {
                g.extend_from_slice(&[0, 0, 0, 0]);
            }
            if fv & 0x2000 != 0 {
                g.extend_from_slice(&key.to_be_bytes());
            }
            if fv & 0x1000 != 0 {
                g.extend_from_slice(&[0, 0, 0, 9]);
            }
            g.extend_from_slice(inner);
            frame(0x0800, &ip4(os, od, 47, 0, &g))
        };
        for fv in [0x2000u16, 0xa000, 0x3000, 0xb000, 0x0000, 0x2001] {
            v.push(gre(fv, 0x0800, teid, &inner4(6)));
            v.push(gre(fv, 0x86dd, teid, &inner6));
        }
        v.push(gre(0x2000, 0x0800, 0xffff_ffff, &inner4(6)));
        v.push(gre(0x2000, 0x880b, teid, &[0; 20]));
        // Transparent Ethernet bridging: IPv4, tagged IPv4, ARP inside.
        let m = r.next().to_be_bytes();
        let mut e = eth([m[0], 1, 2, 3, 4, 5], [6, 7, 8, 9, m[1], m[2]], 0x0800);
        e.extend_from_slice(&inner4(17));
        v.push(gre(0x2000, 0x6558, teid, &e));
        v.push(gre(0x2000, 0x6558, teid, &tagged(&e, 12)));
        let mut arp = eth([m[3], 1, 2, 3, 4, 5], [6, 7, 8, 9, m[1], 0], 0x0806);
        arp.resize(60, 3);
        v.push(gre(0x2000, 0x6558, teid, &arp));
        // Tunnels inside a VLAN.
        let last: Vec<_> = v[v.len() - 8..]
            .iter()
            .map(|f| tagged(f, 100 + i as u16))
            .collect();
        v.extend(last);
    }
    v
}

fn all_frames() -> Vec<Vec<u8>> {
    let mut v = plain_frames();
    let tagged_frames: Vec<_> = v
        .iter()
        .step_by(3)
        .enumerate()
        .map(|(i, f)| tagged(f, ((i as u16 * 37) % 4096) | 0x2000))
        .collect();
    v.extend(tagged_frames);
    v.extend(header_frames());
    v.extend(tunnel_frames());
    v
}

#[test]
fn every_hashed_type_computes_the_reference_hash() {
    let frames = all_frames();
    let tunneled = frames.iter().filter(|f| parsed(f).has_tunnel()).count();
    assert!(tunneled > 1000, "{tunneled} tunneled frames");
    let mut checked = 0;
    for ty in ClusterType::ALL {
        let Some(insns) = hash_program(ty, Offsets::FRAME) else {
            continue;
        };
        checked += 1;
        let prog = Program::from_instructions(insns).expect("valid program");
        for f in &frames {
            assert_eq!(run(&prog, f), reference(f, ty), "{ty:?} on {f:02x?}");
        }
    }
    assert_eq!(checked, 12);
}

#[test]
fn inner_types_differ_from_outer_on_tunnels() {
    // The test above would pass if inner = outer everywhere; make sure tunnels matter.
    let frames = tunnel_frames();
    let prog = Program::from_instructions(
        hash_program(ClusterType::PerInnerFlow5Tuple, Offsets::FRAME).unwrap(),
    )
    .unwrap();
    let differ = frames
        .iter()
        .filter(|f| run(&prog, f) != reference(f, ClusterType::PerFlow5Tuple))
        .count();
    assert!(differ > frames.len() / 2, "{differ} of {}", frames.len());
}

#[test]
fn hashes_are_symmetric() {
    let frames = plain_frames();
    for ty in ClusterType::ALL {
        let Some(insns) = hash_program(ty, Offsets::FRAME) else {
            continue;
        };
        let prog = Program::from_instructions(insns).unwrap();
        for f in &frames {
            // Swapping the "ports" of a GRE packet rewrites its GRE header.
            if ty.is_inner() && parsed(f).l3_proto == 47 {
                continue;
            }
            assert_eq!(run(&prog, f), run(&prog, &swapped(f)), "{ty:?} on {f:02x?}");
        }
    }
}

/// Runs the dup prefix of member `me` of `n` followed by "accept": true if `me` gets it.
fn dup_accepts(me: u32, n: u32, f: &[u8]) -> bool {
    let mut insns = dup_prefix(me, n, Offsets::FRAME);
    insns.push(Insn::stmt(RET | K, 0xffff));
    let prog = Program::from_instructions(insns).expect("valid program");
    run(&prog, f) == 0xffff
}

#[test]
fn dup_prefix_selects_the_src_and_dst_members() {
    let mut frames = plain_frames();
    frames.extend(header_frames());
    let mut dups = 0;
    for n in [1u32, 2, 3, 4] {
        for f in &frames {
            let ClusterHash::Dup { src, dst } =
                parsed(f).cluster_hash(ClusterType::PerFlowIpWithDupTuple)
            else {
                panic!()
            };
            let want: Vec<u32> = (0..n).filter(|&m| m == src % n || m == dst % n).collect();
            let got: Vec<u32> = (0..n).filter(|&m| dup_accepts(m, n, f)).collect();
            assert_eq!(got, want, "n={n} on {f:02x?}");
            dups += usize::from(want.len() == 2);
        }
    }
    assert!(dups > 100, "{dups} duplicated");
}

#[test]
fn kernel_programs_pass_the_kernel_checks() {
    for ty in ClusterType::ALL {
        let m = fanout_mode(ty).unwrap();
        match ty {
            ClusterType::RoundRobin => assert_eq!(m, FanoutMode::RoundRobin),
            ClusterType::PerFlowIpWithDupTuple => {
                assert_eq!(m, FanoutMode::DupFilter);
                let mut p = dup_filter_prefix(1, 3);
                p.push(Insn::stmt(RET | K, 0xffff));
                crate::filter::validate(&p).expect("the kernel's checks pass");
            }
            _ => {
                let FanoutMode::Hash(p) = m else { panic!() };
                assert!(p.len() < 4096);
                crate::filter::validate(&p).expect("the kernel's checks pass");
            }
        }
    }
}

#[test]
fn rehash_prefix_selects_kernel_hash_modulo_queues() {
    let frames = all_frames();
    for n in [1u32, 2, 3, 4] {
        for mask in [0b1u64, 0b10, 0b100, 0b1000, 0b0101, 0b1110] {
            let mut insns = super::prog::rehash_prefix(n, mask, Offsets::FRAME);
            insns.push(Insn::stmt(RET | K, 0xffff));
            let prog = Program::from_instructions(insns).expect("valid program");
            for f in frames.iter().step_by(3) {
                let q = parsed(f).kernel_hash() % n;
                let want = mask & (1 << q) != 0;
                assert_eq!(
                    run(&prog, f) == 0xffff,
                    want,
                    "n={n} mask={mask:b} {f:02x?}"
                );
            }
        }
    }
}
