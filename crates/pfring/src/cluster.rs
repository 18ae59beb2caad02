//! PF_RING clusters on Linux `PACKET_FANOUT`.
//!
//! A PF_RING cluster is a set of rings (threads or processes) that share the packets of one
//! device: each packet goes to exactly one member, chosen by a hash of the packet
//! ([`ClusterType`]) modulo the number of members. Here a cluster is a `PACKET_FANOUT` group
//! whose id is the cluster id (per network namespace), joined by every member socket:
//!
//! - hash types use `PACKET_FANOUT_CBPF`: the group runs a classic BPF program (attached
//!   with `PACKET_FANOUT_DATA`) that computes PF_RING's hash for the type, the same value
//!   as [`ParsedPacket::cluster_hash`](crate::ParsedPacket::cluster_hash) on the frame, and
//!   the kernel delivers to member `hash % members` (`fanout_demux_bpf`). The hash is a
//!   sum of fields, so both directions of a flow reach the same member whatever RSS does;
//!   members may join and leave while traffic flows, from any process;
//! - [`ClusterType::RoundRobin`] uses `PACKET_FANOUT_LB`.
//!
//! Not supported ([`Error::NotSupported`]):
//! - [`ClusterType::PerFlowIpWithDupTuple`]: it delivers one packet to two members, which
//!   a fanout group cannot do (it picks exactly one socket per packet);
//! - the `cluster_per_inner_*` types (tunnel parsing — GTP, GRE — is not implemented in
//!   the fanout program yet).
//!
//! Known differences from [`ParsedPacket::cluster_hash`](crate::ParsedPacket::cluster_hash)
//! (the program reads the headers at fixed places): IPv6 extension headers are not skipped
//! (the extension header number is the protocol, ports 0), an IPv4 AH header is not
//! skipped, and a QinQ frame (two tags) is hashed by its MACs. Truncated headers make the
//! kernel end the program with 0 (member 0). Non-first IPv4 fragments have no ports, as in
//! the parser (PF_RING's fragment cache that sends them after the first is not
//! reproduced).
//!
//! Differences from PF_RING's kernel clusters: the type is per group and the last member
//! that joined sets the program (members of one cluster id must use the same type; a
//! round robin and a hash cluster cannot share an id, [`Error::InvalidArgument`]); the
//! member is `hash % members`, not `hash % (highest queue id + 1)`; a disabled member
//! still receives its share of the packets (and drops them) instead of leaving the
//! distribution.

use crate::error::{Error, Result};
use crate::filter::Insn;
use crate::filter::bpf::insn::op::*;
use crate::parse::ClusterType;

/// `PACKET_FANOUT_LB` (round robin).
pub const PACKET_FANOUT_LB: u16 = 1;
/// `PACKET_FANOUT_CBPF` (classic BPF program chooses the member).
pub const PACKET_FANOUT_CBPF: u16 = 6;

/// `SKF_NET_OFF`: loads at `SKF_NET_OFF + k` read the network header at `k`.
const SKF_NET_OFF: u32 = (-0x10_0000i32) as u32;
/// `SKF_LL_OFF`: loads at `SKF_LL_OFF + k` read the link-layer (Ethernet) header at `k`.
const SKF_LL_OFF: u32 = (-0x20_0000i32) as u32;

/// How a cluster of a given type is implemented.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FanoutMode {
    /// `PACKET_FANOUT_LB`.
    RoundRobin,
    /// `PACKET_FANOUT_CBPF` with this hash program.
    Hash(Vec<Insn>),
}

impl FanoutMode {
    /// The `PACKET_FANOUT_*` type number.
    pub fn fanout_type(&self) -> u16 {
        match self {
            FanoutMode::RoundRobin => PACKET_FANOUT_LB,
            FanoutMode::Hash(_) => PACKET_FANOUT_CBPF,
        }
    }
}

/// The fanout implementation of cluster type `ty`.
///
/// # Errors
/// [`Error::NotSupported`] for [`ClusterType::PerFlowIpWithDupTuple`] and the
/// `cluster_per_inner_*` types (see the module documentation).
pub fn fanout_mode(ty: ClusterType) -> Result<FanoutMode> {
    if ty == ClusterType::RoundRobin {
        return Ok(FanoutMode::RoundRobin);
    }
    hash_program(ty, Offsets::KERNEL).map(FanoutMode::Hash)
}

/// Where the program reads the network and link-layer headers.
#[derive(Clone, Copy, Debug)]
struct Offsets {
    net: u32,
    ll: u32,
}

impl Offsets {
    /// In the kernel: relative to the socket buffer's network and MAC headers.
    const KERNEL: Offsets = Offsets {
        net: SKF_NET_OFF,
        ll: SKF_LL_OFF,
    };
    /// On an untagged (VLAN tag stripped) Ethernet frame, for the library's VM in tests.
    #[cfg(test)]
    const FRAME: Offsets = Offsets { net: 14, ll: 0 };
}

/// A jump target.
#[derive(Clone, Copy)]
enum To {
    Next,
    L(usize),
}

/// A tiny assembler with forward labels.
struct Asm {
    code: Vec<Insn>,
    labels: Vec<Option<usize>>,
    fixups: Vec<(usize, To, To)>,
}

impl Asm {
    fn new() -> Self {
        Asm {
            code: Vec::new(),
            labels: Vec::new(),
            fixups: Vec::new(),
        }
    }
    fn label(&mut self) -> usize {
        self.labels.push(None);
        self.labels.len() - 1
    }
    fn here(&mut self, l: usize) {
        self.labels[l] = Some(self.code.len());
    }
    fn s(&mut self, code: u16, k: u32) {
        self.code.push(Insn::stmt(code, k));
    }
    fn j(&mut self, code: u16, k: u32, t: To, f: To) {
        self.fixups.push((self.code.len(), t, f));
        self.code.push(Insn::jump(code, k, 0, 0));
    }
    fn ja(&mut self, l: usize) {
        self.fixups.push((self.code.len(), To::L(l), To::Next));
        self.code.push(Insn::stmt(JMP | JA, 0));
    }
    fn finish(mut self) -> Vec<Insn> {
        for (at, t, f) in self.fixups {
            let off = |to: To| match to {
                To::Next => 0,
                To::L(l) => self.labels[l].expect("label placed") - at - 1,
            };
            let i = &mut self.code[at];
            if i.code == JMP | JA {
                i.k = off(t) as u32;
            } else {
                i.jt = u8::try_from(off(t)).expect("short jump");
                i.jf = u8::try_from(off(f)).expect("short jump");
            }
        }
        self.code
    }
}

const ETH_P_IP: u32 = 0x0800;
const ETH_P_IPV6: u32 = 0x86dd;
const TCP: u32 = 6;
const UDP: u32 = 17;
const SCTP: u32 = 132;
const IPV6_NONE: u32 = 59;
// Scratch words.
const M_HASH: u32 = 0;
const M_PROTO: u32 = 1;
const M_TMP: u32 = 2;

/// Builds the program returning PF_RING's hash of type `ty` (see the module docs).
fn hash_program(ty: ClusterType, o: Offsets) -> Result<Vec<Insn>> {
    use ClusterType as C;
    // (vlan, proto, ports, tcp only)
    let (vlan, proto, ports, tcp_only) = match ty {
        C::PerFlow => (true, true, true, false),
        C::PerFlow2Tuple => (false, false, false, false),
        C::PerFlow4Tuple => (false, false, true, false),
        C::PerFlow5Tuple | C::PerFlowIp5Tuple => (false, true, true, false),
        C::PerFlowTcp5Tuple => (false, true, true, true),
        C::PerFlowIpWithDupTuple => {
            return Err(Error::NotSupported {
                op: "cluster type per_flow_ip_with_dup_tuple (a PACKET_FANOUT group delivers a packet to one member only)",
                backend: "packet",
            });
        }
        C::RoundRobin => unreachable!("round robin has no hash program"),
        _ => {
            return Err(Error::NotSupported {
                op: "cluster_per_inner_* types (tunnel parsing in the fanout program)",
                backend: "packet",
            });
        }
    };
    let mut a = Asm::new();
    let (v4, v6, l4, add_proto, done) = (a.label(), a.label(), a.label(), a.label(), a.label());
    if vlan {
        a.s(LD | W | ABS, SKF_AD_OFF + SKF_AD_VLAN_TAG);
        a.s(ALU | AND | K, 0x0fff);
    } else {
        a.s(LD | IMM, 0);
    }
    a.s(ST, M_HASH);
    a.s(LD | W | ABS, SKF_AD_OFF + SKF_AD_PROTOCOL);
    a.j(JMP | JEQ | K, ETH_P_IP, To::L(v4), To::Next);
    a.j(JMP | JEQ | K, ETH_P_IPV6, To::L(v6), To::Next);
    // Not IP: the bytes of both MACs.
    a.s(LDX | MEM, M_HASH);
    for k in 0..12 {
        a.s(LD | B | ABS, o.ll + k);
        a.s(ALU | ADD | X, 0);
        a.s(MISC | TAX, 0);
    }
    a.s(MISC | TXA, 0);
    a.s(RET | A, 0);

    // IPv4: addresses in host order.
    a.here(v4);
    a.s(LD | W | ABS, o.net + 12);
    a.s(LDX | MEM, M_HASH);
    a.s(ALU | ADD | X, 0);
    a.s(MISC | TAX, 0);
    a.s(LD | W | ABS, o.net + 16);
    a.s(ALU | ADD | X, 0);
    a.s(ST, M_HASH);
    a.s(LD | B | ABS, o.net + 9);
    a.s(ST, M_PROTO);
    if tcp_only {
        a.j(JMP | JEQ | K, TCP, To::Next, To::L(done));
    }
    if ports {
        let v4p = a.label();
        a.j(JMP | JEQ | K, TCP, To::L(v4p), To::Next);
        a.j(JMP | JEQ | K, UDP, To::L(v4p), To::Next);
        a.j(JMP | JEQ | K, SCTP, To::L(v4p), To::L(add_proto));
        a.here(v4p);
        // Non-first fragments have no ports.
        a.s(LD | H | ABS, o.net + 6);
        a.j(JMP | JSET | K, 0x1fff, To::L(add_proto), To::Next);
        a.s(LDX | B | MSH, o.net);
        a.s(MISC | TXA, 0);
        // A bogus header length: the parser stops before the ports.
        a.j(JMP | JGE | K, 20, To::Next, To::L(add_proto));
    }
    a.ja(if ports { l4 } else { add_proto });

    // IPv6: the four 32-bit words of each address as PF_RING reads them (native order).
    a.here(v6);
    a.s(LDX | MEM, M_HASH);
    if cfg!(target_endian = "little") {
        // Σ of little-endian words = Σ over bytes of byte << 8·(index mod 4).
        for b in 0..32u32 {
            a.s(LD | B | ABS, o.net + 8 + b);
            if b % 4 != 0 {
                a.s(ALU | LSH | K, 8 * (b % 4));
            }
            a.s(ALU | ADD | X, 0);
            a.s(MISC | TAX, 0);
        }
    } else {
        for w in 0..8u32 {
            a.s(LD | W | ABS, o.net + 8 + 4 * w);
            a.s(ALU | ADD | X, 0);
            a.s(MISC | TAX, 0);
        }
    }
    a.s(STX, M_HASH);
    a.s(LD | B | ABS, o.net + 6);
    // "No next header" is protocol 0 for the parser.
    let store = a.label();
    a.j(JMP | JEQ | K, IPV6_NONE, To::Next, To::L(store));
    a.s(LD | IMM, 0);
    a.here(store);
    a.s(ST, M_PROTO);
    if tcp_only {
        a.j(JMP | JEQ | K, TCP, To::Next, To::L(done));
    }
    if ports {
        let v6p = a.label();
        a.j(JMP | JEQ | K, TCP, To::L(v6p), To::Next);
        a.j(JMP | JEQ | K, UDP, To::L(v6p), To::Next);
        a.j(JMP | JEQ | K, SCTP, To::L(v6p), To::L(add_proto));
        a.here(v6p);
        a.s(LDX | IMM, 40);
        // Falls through to the ports.
        a.here(l4);
        // X = L4 offset from the network header.
        a.s(LD | H | IND, o.net);
        a.s(ST, M_TMP);
        a.s(LD | H | IND, o.net + 2);
        a.s(LDX | MEM, M_TMP);
        a.s(ALU | ADD | X, 0);
        a.s(LDX | MEM, M_HASH);
        a.s(ALU | ADD | X, 0);
        a.s(ST, M_HASH);
    } else {
        a.here(l4);
    }
    a.here(add_proto);
    if proto {
        a.s(LD | MEM, M_PROTO);
        a.s(LDX | MEM, M_HASH);
        a.s(ALU | ADD | X, 0);
        a.s(ST, M_HASH);
    }
    a.here(done);
    a.s(LD | MEM, M_HASH);
    a.s(RET | A, 0);
    Ok(a.finish())
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
mod tests {
    use super::*;
    use crate::filter::{PacketMeta, Program};
    use crate::parse::{ClusterHash, ParsedPacket, parse_packet};

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

    fn ipv4(src: u32, dst: u32, proto: u8, sport: u16, dport: u16, frag: u16) -> Vec<u8> {
        let mut f = eth([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2], 0x0800);
        let mut h = vec![0x45, 0, 0, 0, 0, 1];
        h.extend_from_slice(&frag.to_be_bytes());
        h.extend_from_slice(&[64, proto, 0, 0]);
        h.extend_from_slice(&src.to_be_bytes());
        h.extend_from_slice(&dst.to_be_bytes());
        f.extend_from_slice(&h);
        f.extend_from_slice(&l4(proto, sport, dport));
        f
    }

    fn ipv6(src: [u8; 16], dst: [u8; 16], nh: u8, sport: u16, dport: u16) -> Vec<u8> {
        let mut f = eth([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2], 0x86dd);
        f.extend_from_slice(&[0x60, 0, 0, 0, 0, 28, nh, 64]);
        f.extend_from_slice(&src);
        f.extend_from_slice(&dst);
        f.extend_from_slice(&l4(nh, sport, dport));
        f
    }

    /// The same frame with source and destination (MACs, addresses, ports) swapped.
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

    /// Inserts an 802.1Q tag (the reference parses it; the fanout program gets it in the
    /// metadata with the bytes removed, as the kernel strips it).
    fn tagged(f: &[u8], tci: u16) -> Vec<u8> {
        let mut g = f[..12].to_vec();
        g.extend_from_slice(&[0x81, 0x00]);
        g.extend_from_slice(&tci.to_be_bytes());
        g.extend_from_slice(&f[12..]);
        g
    }

    /// Runs the program as the kernel would on `frame` (tag stripped into the metadata).
    fn run(prog: &Program, frame: &[u8]) -> u32 {
        let mut bytes = frame.to_vec();
        let mut meta = PacketMeta::default();
        if bytes[12..14] == [0x81, 0x00] {
            meta.vlan_tci = Some(u16::from_be_bytes([bytes[14], bytes[15]]));
            meta.vlan_tpid = 0x8100;
            bytes.drain(12..16);
        }
        meta.protocol = u16::from_be_bytes([bytes[12], bytes[13]]);
        prog.run(&bytes, bytes.len() as u32, &meta)
    }

    fn reference(frame: &[u8], ty: ClusterType) -> u32 {
        let mut p = ParsedPacket::default();
        parse_packet(frame, 4, &mut p);
        match p.cluster_hash(ty) {
            ClusterHash::Single(h) => h,
            other => panic!("{other:?}"),
        }
    }

    fn frames() -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        let mut seed = 0x1234_5678u32;
        let mut rnd = || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        for i in 0..200u32 {
            let (s, d) = (rnd(), rnd());
            let (sp, dp) = (rnd() as u16, rnd() as u16);
            for proto in [6u8, 17, 1, 132, 47] {
                v.push(ipv4(s, d, proto, sp, dp, 0));
            }
            // A first fragment (MF set, ports) and a later one (no ports).
            v.push(ipv4(s, d, 17, sp, dp, 0x2000));
            v.push(ipv4(s, d, 17, sp, dp, 0x2000 | (i as u16 % 100 + 1)));
            let mut a6 = [0u8; 16];
            let mut b6 = [0u8; 16];
            for k in 0..4 {
                a6[4 * k..4 * k + 4].copy_from_slice(&rnd().to_be_bytes());
                b6[4 * k..4 * k + 4].copy_from_slice(&rnd().to_be_bytes());
            }
            for nh in [6u8, 17, 58, 132, 59] {
                v.push(ipv6(a6, b6, nh, sp, dp));
            }
            // Non-IP: ARP and an unknown EtherType.
            let m1 = rnd().to_be_bytes();
            let m2 = rnd().to_be_bytes();
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
        let tagged_frames: Vec<_> = v
            .iter()
            .step_by(3)
            .enumerate()
            .map(|(i, f)| tagged(f, ((i as u16 * 37) % 4096) | 0x2000))
            .collect();
        v.extend(tagged_frames);
        v
    }

    #[test]
    fn programs_compute_the_reference_hash_and_are_symmetric() {
        let frames = frames();
        let mut checked = 0;
        for ty in ClusterType::ALL {
            let Ok(insns) = hash_program_checked(ty) else {
                continue;
            };
            checked += 1;
            let prog = Program::from_instructions(insns).expect("valid program");
            for f in &frames {
                let want = reference(f, ty);
                assert_eq!(run(&prog, f), want, "{ty:?} on {f:02x?}");
                assert_eq!(run(&prog, &swapped(f)), want, "{ty:?} swapped {f:02x?}");
            }
        }
        assert_eq!(checked, 6);
    }

    fn hash_program_checked(ty: ClusterType) -> Result<Vec<Insn>> {
        if ty == ClusterType::RoundRobin {
            return Err(Error::InvalidArgument(String::new()));
        }
        hash_program(ty, Offsets::FRAME)
    }

    #[test]
    fn supported_types() {
        use ClusterType as C;
        for ty in ClusterType::ALL {
            let m = fanout_mode(ty);
            match ty {
                C::RoundRobin => assert_eq!(m.unwrap(), FanoutMode::RoundRobin),
                C::PerFlowIpWithDupTuple => {
                    assert!(matches!(m, Err(Error::NotSupported { .. })))
                }
                t if t.is_inner() => assert!(matches!(m, Err(Error::NotSupported { .. }))),
                _ => {
                    let FanoutMode::Hash(p) = m.unwrap() else {
                        panic!()
                    };
                    crate::filter::validate(&p).expect("the kernel's checks pass");
                }
            }
        }
    }
}
