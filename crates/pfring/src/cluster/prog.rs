//! The classic BPF programs that compute PF_RING's cluster hashes in the kernel.
//!
//! One generator builds every program: it walks the headers the way
//! [`parse_packet`](crate::parse::parse_packet) does at level 5 and stores the fields of the
//! tuple in scratch memory, then an ending combines them for the cluster type:
//!
//! - a hash ending returns the hash (the `PACKET_FANOUT_CBPF` program of a cluster);
//! - a duplicate ending ([`ClusterType::PerFlowIpWithDupTuple`]) accepts the packet when
//!   `src_ip % n == me` or `dst_ip % n == me`, else drops it (a socket filter prefix).
//!
//! What is walked (classic BPF has no loops: every loop is unrolled to a fixed count):
//! - up to [`MAX_TAGS`] VLAN tags left in the frame after the kernel stripped the first one
//!   (QinQ; TPIDs 0x8100, 0x88a8, 0x9100); the first tag, stripped or not, is the VLAN id;
//! - IPv4 with an AH header skipped; IPv6 with up to [`MAX_EXT`] extension headers
//!   (hop-by-hop, routing, fragment, destination options, AH) skipped; non-first fragments
//!   have no ports;
//! - for the `cluster_per_inner_*` types the tunnels the parser knows: GTP-U v1 on UDP port
//!   2152 (options and up to [`MAX_EXT`] extension headers, inner IPv4 / IPv6 of a G-PDU),
//!   GTP-C on UDP port 2123 (a tunnel without an inner tuple), GRE version 0 with a key
//!   (inner IPv4, IPv6, or Ethernet with up to [`MAX_EXT`] VLAN tags). The hash then uses
//!   the inner tuple exactly like [`ParsedPacket::cluster_hash`](crate::ParsedPacket::cluster_hash).
//!
//! Offsets are kept in the X register and the program loads with `BPF_IND` relative to the
//! network header (`SKF_NET_OFF`), so it works at fanout time and as a socket filter.
//! A header cut short (a truncated frame) makes the kernel stop the program: a fanout
//! program then returns 0 (member 0), a filter drops the packet, where the parser would
//! stop early instead.

use crate::filter::Insn;
use crate::filter::bpf::insn::op::*;
use crate::parse::ClusterType;

/// `SKF_NET_OFF`: loads at `SKF_NET_OFF + k` read the network header at `k`.
const SKF_NET_OFF: u32 = (-0x10_0000i32) as u32;
/// `SKF_LL_OFF`: loads at `SKF_LL_OFF + k` read the link-layer (Ethernet) header at `k`.
const SKF_LL_OFF: u32 = (-0x20_0000i32) as u32;

/// VLAN tags walked in the frame (besides the one the kernel strips into the metadata).
pub const MAX_TAGS: usize = 6;
/// IPv6 extension headers, GTP extension headers and inner VLAN tags walked (the parser's
/// limit).
pub const MAX_EXT: usize = 8;

/// Where the program reads the network and link-layer headers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Offsets {
    pub(crate) net: u32,
    pub(crate) ll: u32,
}

impl Offsets {
    /// In the kernel: relative to the socket buffer's network and MAC headers.
    pub(crate) const KERNEL: Offsets = Offsets {
        net: SKF_NET_OFF,
        ll: SKF_LL_OFF,
    };
    /// On a frame whose first VLAN tag (if any) was removed, for the library's VM in tests.
    #[cfg(test)]
    pub(crate) const FRAME: Offsets = Offsets { net: 14, ll: 0 };
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
    /// A conditional jump to near targets (at most 255 instructions ahead).
    fn j(&mut self, code: u16, k: u32, t: To, f: To) {
        self.fixups.push((self.code.len(), t, f));
        self.code.push(Insn::jump(code, k, 0, 0));
    }
    /// `if A <code> k goto l`, to a target at any distance.
    fn jif(&mut self, code: u16, k: u32, l: usize) {
        self.code.push(Insn::jump(code, k, 0, 1));
        self.ja(l);
    }
    /// `if !(A <code> k) goto l`, to a target at any distance.
    fn jifnot(&mut self, code: u16, k: u32, l: usize) {
        self.code.push(Insn::jump(code, k, 1, 0));
        self.ja(l);
    }
    fn ja(&mut self, l: usize) {
        self.fixups.push((self.code.len(), To::L(l), To::Next));
        self.code.push(Insn::stmt(JMP | JA, 0));
    }
    /// Resolves the labels. Every label must be placed and every conditional jump near:
    /// both hold for the fixed programs this module builds (checked by its tests).
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
                i.jt =
                    u8::try_from(off(t)).unwrap_or_else(|_| panic!("far jt at {at}: {}", off(t)));
                i.jf =
                    u8::try_from(off(f)).unwrap_or_else(|_| panic!("far jf at {at}: {}", off(f)));
            }
        }
        self.code
    }
}

const ETH_P_IP: u32 = 0x0800;
const ETH_P_IPV6: u32 = 0x86dd;
const ETH_P_TEB: u32 = 0x6558;
const TPIDS: [u32; 3] = [0x8100, 0x88a8, 0x9100];
const TCP: u32 = 6;
const UDP: u32 = 17;
const SCTP: u32 = 132;
const GRE: u32 = 47;
const AH: u32 = 51;
const IPV6_NONE: u32 = 59;
const GTP_U: u32 = 2152;
const GTP_C: u32 = 2123;
const NO_TUNNEL_ID: u32 = 0xffff_ffff;

// Scratch words.
const M_VLAN: u32 = 0;
const M_VPRES: u32 = 1;
const M_SRC: u32 = 2;
const M_DST: u32 = 3;
const M_PROTO: u32 = 4;
const M_PORTS: u32 = 5;
const M_MAC: u32 = 6;
const M_OPROTO: u32 = 7;
const M_BASE: u32 = 8;
const M_T: u32 = 9;
const M_NH: u32 = 10;
const M_FRAG: u32 = 11;
const M_ET: u32 = 12;
const M_SP: u32 = 13;
const M_L4: u32 = 14;

/// Which fields a hash ending adds.
#[derive(Clone, Copy, Debug)]
struct Spec {
    vlan: bool,
    proto: bool,
    ports: bool,
    /// Proto and ports only when the outer protocol is TCP.
    tcp_only: bool,
    /// Follow tunnels.
    inner: bool,
}

/// What the program does with the tuple.
#[derive(Clone, Copy, Debug)]
enum Ending {
    Hash(Spec),
    /// Accept (fall through past the program's end) if `src % n == me || dst % n == me`,
    /// else return 0.
    Dup {
        me: u32,
        n: u32,
    },
    /// Accept (fall through) if `hash % n` is in `channels` (bit i = channel i), else
    /// return 0.
    Select {
        hash: Spec,
        n: u32,
        channels: u64,
    },
}

fn spec(ty: ClusterType) -> Option<Spec> {
    use ClusterType as C;
    let (vlan, proto, ports, tcp_only) = match ty {
        C::PerFlow | C::PerInnerFlow => (true, true, true, false),
        C::PerFlow2Tuple | C::PerInnerFlow2Tuple => (false, false, false, false),
        C::PerFlow4Tuple | C::PerInnerFlow4Tuple => (false, false, true, false),
        C::PerFlow5Tuple | C::PerFlowIp5Tuple | C::PerInnerFlow5Tuple | C::PerInnerFlowIp5Tuple => {
            (false, true, true, false)
        }
        C::PerFlowTcp5Tuple | C::PerInnerFlowTcp5Tuple => (false, true, true, true),
        C::RoundRobin | C::PerFlowIpWithDupTuple => return None,
    };
    Some(Spec {
        vlan,
        proto,
        ports,
        tcp_only,
        inner: ty.is_inner(),
    })
}

/// The fanout program returning PF_RING's hash of type `ty`; `None` for round robin and
/// ip-with-dup, which have no single hash.
pub(crate) fn hash_program(ty: ClusterType, o: Offsets) -> Option<Vec<Insn>> {
    spec(ty).map(|s| generate(Ending::Hash(s), o))
}

/// The filter prefix of a ring bound to RX channels `channels` (bit i = channel i) of a
/// device with `queues` RX queues, with RSS rehash: packets whose kernel hash (PF_RING's
/// `hash_pkt_header(hdr, 0)`, [`ParsedPacket::kernel_hash`](crate::ParsedPacket::kernel_hash))
/// modulo `queues` is one of the channels fall through past its last instruction, the
/// others are dropped (return 0).
pub(crate) fn rehash_prefix(queues: u32, channels: u64, o: Offsets) -> Vec<Insn> {
    // The kernel hash is the per-inner-flow hash: nothing masked, the tunneled tuple when
    // there is one (the MACs only count for non-IP packets either way).
    let hash = spec(ClusterType::PerInnerFlow).expect("a hashed type");
    generate(
        Ending::Select {
            hash,
            n: queues.max(1),
            channels,
        },
        o,
    )
}

/// The filter prefix of member `me` of an ip-with-dup cluster of `n` members: packets whose
/// source or destination address hash is `me` modulo `n` fall through past its last
/// instruction (to the rest of the socket's filter), the others are dropped (return 0).
/// Non-IP packets hash to 0 (member 0 only).
pub(crate) fn dup_prefix(me: u32, n: u32, o: Offsets) -> Vec<Insn> {
    generate(Ending::Dup { me, n: n.max(1) }, o)
}

struct Gen {
    a: Asm,
    o: Offsets,
    end: Ending,
    combine_ip: usize,
    combine_nonip: usize,
}

impl Gen {
    fn s(&mut self, code: u16, k: u32) {
        self.a.s(code, k);
    }
    /// A = net-relative byte/half/word at X + k.
    fn ind(&mut self, size: u16, k: u32) {
        let net = self.o.net;
        self.a.s(LD | size | IND, net.wrapping_add(k));
    }
    /// X += A (A is clobbered).
    fn add_to_x(&mut self) {
        self.s(ALU | ADD | X, 0);
        self.s(MISC | TAX, 0);
    }
    /// X += k.
    fn x_plus(&mut self, k: u32) {
        self.s(MISC | TXA, 0);
        self.s(ALU | ADD | K, k);
        self.s(MISC | TAX, 0);
    }
    /// M[m] += A, keeping X (saved in M_BASE first by the caller).
    fn acc(&mut self, m: u32) {
        self.s(LDX | MEM, m);
        self.s(ALU | ADD | X, 0);
        self.s(ST, m);
        self.s(LDX | MEM, M_BASE);
    }
    /// Zeroes the tuple (entering a tunnel: the inner tuple starts empty).
    fn reset_tuple(&mut self) {
        self.s(LD | IMM, 0);
        for m in [M_SRC, M_DST, M_PROTO, M_PORTS, M_MAC, M_FRAG] {
            self.s(ST, m);
        }
    }
    /// M_SRC / M_DST = the addresses of the IPv4 header at X.
    fn v4(&mut self, l4: usize, done: usize) {
        self.ind(W, 12);
        self.s(ST, M_SRC);
        self.ind(W, 16);
        self.s(ST, M_DST);
        self.ind(B, 9);
        self.s(ST, M_PROTO);
        // Non-first fragments, and bogus header lengths, have no ports.
        self.ind(H, 6);
        self.a.jif(JMP | JSET | K, 0x1fff, done);
        self.ind(B, 0);
        self.s(ALU | AND | K, 0x0f);
        self.s(ALU | LSH | K, 2);
        self.a.jifnot(JMP | JGE | K, 20, done);
        self.add_to_x();
        let ah = self.a.label();
        self.s(LD | MEM, M_PROTO);
        self.a.j(JMP | JEQ | K, AH, To::L(ah), To::Next);
        self.a.ja(l4);
        self.a.here(ah);
        self.ind(B, 0);
        self.s(ST, M_PROTO);
        self.ind(B, 1);
        self.s(ALU | ADD | K, 2);
        self.s(ALU | LSH | K, 2);
        self.add_to_x();
        self.a.ja(l4);
    }
    /// The IPv6 header at X: addresses, extension headers, protocol.
    fn v6(&mut self, l4: usize, done: usize) {
        self.s(STX, M_BASE);
        for (m, at) in [(M_SRC, 8u32), (M_DST, 24)] {
            if cfg!(target_endian = "little") {
                // Σ of little-endian words = Σ over bytes of byte << 8·(index mod 4).
                for b in 0..16u32 {
                    self.ind(B, at + b);
                    if b % 4 != 0 {
                        self.s(ALU | LSH | K, 8 * (b % 4));
                    }
                    if b == 0 {
                        self.s(ST, m);
                    } else {
                        self.acc(m);
                    }
                }
            } else {
                for w in 0..4u32 {
                    self.ind(W, at + 4 * w);
                    if w == 0 {
                        self.s(ST, m);
                    } else {
                        self.acc(m);
                    }
                }
            }
        }
        self.ind(B, 6);
        self.s(ST, M_NH);
        self.x_plus(40);
        let ext_done = self.a.label();
        for _ in 0..MAX_EXT {
            let (e8, ef, eah, adv) = (
                self.a.label(),
                self.a.label(),
                self.a.label(),
                self.a.label(),
            );
            self.s(LD | MEM, M_NH);
            self.a.j(JMP | JEQ | K, 0, To::L(e8), To::Next);
            self.a.j(JMP | JEQ | K, 43, To::L(e8), To::Next);
            self.a.j(JMP | JEQ | K, 60, To::L(e8), To::Next);
            self.a.j(JMP | JEQ | K, 44, To::L(ef), To::Next);
            self.a.j(JMP | JEQ | K, AH, To::L(eah), To::Next);
            self.a.ja(ext_done);
            self.a.here(e8);
            self.ind(B, 1);
            self.s(ALU | ADD | K, 1);
            self.s(ALU | LSH | K, 3);
            self.a.ja(adv);
            self.a.here(ef);
            self.ind(H, 2);
            self.s(ALU | AND | K, 0xfff8);
            self.s(ST, M_FRAG);
            self.s(LD | IMM, 8);
            self.a.ja(adv);
            self.a.here(eah);
            self.ind(B, 1);
            self.s(ALU | ADD | K, 2);
            self.s(ALU | LSH | K, 2);
            self.a.here(adv);
            self.s(ST, M_T);
            self.ind(B, 0);
            self.s(ST, M_NH);
            self.s(LD | MEM, M_T);
            self.add_to_x();
        }
        self.a.here(ext_done);
        let store = self.a.label();
        self.s(LD | MEM, M_NH);
        // "No next header" is protocol 0 for the parser.
        self.a.j(JMP | JEQ | K, IPV6_NONE, To::Next, To::L(store));
        self.s(LD | IMM, 0);
        self.a.here(store);
        self.s(ST, M_PROTO);
        self.s(LD | MEM, M_FRAG);
        self.a.jifnot(JMP | JEQ | K, 0, done);
        self.a.ja(l4);
    }
    /// M_PORTS = the two ports at X.
    fn ports(&mut self) {
        self.ind(H, 0);
        self.s(ST, M_SP);
        self.ind(H, 2);
        self.s(ST, M_T);
        self.s(LDX | MEM, M_SP);
        self.s(ALU | ADD | X, 0);
        self.s(ST, M_PORTS);
    }
    /// Jumps to `ports` if M_PROTO has ports, to `other` otherwise (A = proto after).
    fn has_ports(&mut self, ports: usize, udp: usize, other: usize) {
        self.s(LD | MEM, M_PROTO);
        self.a.jif(JMP | JEQ | K, TCP, ports);
        self.a.jif(JMP | JEQ | K, UDP, udp);
        self.a.jif(JMP | JEQ | K, SCTP, ports);
        if let Ending::Hash(Spec { inner: true, .. })
        | Ending::Select {
            hash: Spec { inner: true, .. },
            ..
        } = self.end
        {
            let gre = self.a.label();
            self.a.j(JMP | JEQ | K, GRE, To::L(gre), To::Next);
            self.a.ja(other);
            self.a.here(gre);
            self.gre();
        } else {
            self.a.ja(other);
        }
    }

    /// The inner packet of a tunnel, after `reset_tuple`: IPv4 or IPv6 at X, then ports.
    fn inner_ip(&mut self, v4: usize, v6: usize) {
        let (l4, ports) = (self.a.label(), self.a.label());
        let ci = self.combine_ip;
        self.a.here(v4);
        self.v4(l4, ci);
        self.a.here(v6);
        self.v6(l4, ci);
        self.a.here(l4);
        self.s(LD | MEM, M_PROTO);
        self.a.j(JMP | JEQ | K, TCP, To::L(ports), To::Next);
        self.a.j(JMP | JEQ | K, UDP, To::L(ports), To::Next);
        self.a.j(JMP | JEQ | K, SCTP, To::L(ports), To::Next);
        self.a.ja(ci);
        self.a.here(ports);
        self.ports();
        self.a.ja(ci);
    }

    /// GRE at X (outer L4). Without a key (or with the "no tunnel" key) the outer tuple
    /// is hashed, as in the parser.
    fn gre(&mut self) {
        let ci = self.combine_ip;
        let (k8, klen, noseq, teb) = (
            self.a.label(),
            self.a.label(),
            self.a.label(),
            self.a.label(),
        );
        let (v4, v6) = (self.a.label(), self.a.label());
        self.ind(H, 0);
        self.s(ST, M_T);
        self.a.jif(JMP | JSET | K, 7, ci);
        self.a.jifnot(JMP | JSET | K, 0x2000, ci);
        self.a.j(JMP | JSET | K, 0xc000, To::L(k8), To::Next);
        self.ind(W, 4);
        self.a.jif(JMP | JEQ | K, NO_TUNNEL_ID, ci);
        self.s(LD | IMM, 8);
        self.a.ja(klen);
        self.a.here(k8);
        self.ind(W, 8);
        self.a.jif(JMP | JEQ | K, NO_TUNNEL_ID, ci);
        self.s(LD | IMM, 12);
        self.a.here(klen);
        self.s(ST, M_L4);
        self.s(LD | MEM, M_T);
        self.a.j(JMP | JSET | K, 0x1000, To::Next, To::L(noseq));
        self.s(LD | MEM, M_L4);
        self.s(ALU | ADD | K, 4);
        self.s(ST, M_L4);
        self.a.here(noseq);
        self.ind(H, 2);
        self.s(ST, M_ET);
        self.s(LD | MEM, M_L4);
        self.add_to_x();
        self.reset_tuple();
        self.s(LD | MEM, M_ET);
        self.a.j(JMP | JEQ | K, ETH_P_TEB, To::L(teb), To::Next);
        self.a.jif(JMP | JEQ | K, ETH_P_IP, v4);
        self.a.jif(JMP | JEQ | K, ETH_P_IPV6, v6);
        self.a.ja(self.combine_nonip);
        // Transparent Ethernet bridging: inner MACs, tags, EtherType.
        self.a.here(teb);
        self.s(STX, M_BASE);
        for k in 0..12 {
            self.ind(B, k);
            if k == 0 {
                self.s(ST, M_MAC);
            } else {
                self.acc(M_MAC);
            }
        }
        self.ind(H, 12);
        self.s(ST, M_ET);
        self.x_plus(14);
        let et = self.a.label();
        for _ in 0..MAX_EXT {
            let tag = self.a.label();
            self.s(LD | MEM, M_ET);
            self.a.j(JMP | JEQ | K, TPIDS[0], To::L(tag), To::Next);
            self.a.j(JMP | JEQ | K, TPIDS[1], To::L(tag), To::Next);
            self.a.j(JMP | JEQ | K, TPIDS[2], To::L(tag), To::Next);
            self.a.ja(et);
            self.a.here(tag);
            self.ind(H, 2);
            self.s(ST, M_ET);
            self.x_plus(4);
        }
        self.a.here(et);
        self.s(LD | MEM, M_ET);
        self.a.jif(JMP | JEQ | K, ETH_P_IP, v4);
        self.a.jif(JMP | JEQ | K, ETH_P_IPV6, v6);
        self.a.ja(self.combine_nonip);
        self.inner_ip(v4, v6);
    }

    /// GTP at X (the UDP payload); `user_plane`: GTP-U, else GTP-C.
    fn gtp(&mut self, user_plane: bool) {
        let ci = self.combine_ip;
        let cn = self.combine_nonip;
        self.ind(B, 0);
        self.s(ST, M_T);
        self.s(ALU | RSH | K, 5);
        if !user_plane {
            let (ok, v2) = (self.a.label(), self.a.label());
            self.a.j(JMP | JEQ | K, 1, To::L(ok), To::Next);
            self.a.j(JMP | JEQ | K, 2, To::L(v2), To::Next);
            self.a.ja(ci);
            self.a.here(v2);
            self.s(LD | MEM, M_T);
            self.a.jifnot(JMP | JSET | K, 0x08, ci);
            self.a.here(ok);
            self.ind(W, 4);
            self.a.jif(JMP | JEQ | K, NO_TUNNEL_ID, ci);
            self.reset_tuple();
            self.a.ja(cn);
            return;
        }
        self.a.jifnot(JMP | JEQ | K, 1, ci);
        self.ind(W, 4);
        self.a.jif(JMP | JEQ | K, NO_TUNNEL_ID, ci);
        self.reset_tuple();
        // Only a G-PDU carries an inner packet.
        self.ind(B, 1);
        self.a.jifnot(JMP | JEQ | K, 0xff, cn);
        let (dispatch, opts) = (self.a.label(), self.a.label());
        let (v4, v6) = (self.a.label(), self.a.label());
        self.s(LD | MEM, M_T);
        self.a.j(JMP | JSET | K, 0x07, To::L(opts), To::Next);
        self.x_plus(8);
        self.a.ja(dispatch);
        self.a.here(opts);
        self.ind(B, 11);
        self.s(ST, M_NH);
        self.x_plus(12);
        self.s(LD | MEM, M_T);
        self.a.j(JMP | JSET | K, 0x04, To::Next, To::L(dispatch));
        for _ in 0..MAX_EXT {
            self.s(LD | MEM, M_NH);
            self.a.jif(JMP | JEQ | K, 0, dispatch);
            self.ind(B, 0);
            self.a.jif(JMP | JEQ | K, 0, cn);
            self.s(ALU | LSH | K, 2);
            self.add_to_x();
            self.ind(B, 0u32.wrapping_sub(1));
            self.s(ST, M_NH);
        }
        self.s(LD | MEM, M_NH);
        self.a.jifnot(JMP | JEQ | K, 0, cn);
        self.a.here(dispatch);
        self.ind(B, 0);
        self.s(ALU | RSH | K, 4);
        self.a.jif(JMP | JEQ | K, 4, v4);
        self.a.jif(JMP | JEQ | K, 6, v6);
        self.a.ja(cn);
        self.inner_ip(v4, v6);
    }

    fn endings(&mut self) {
        let (ci, cn) = (self.combine_ip, self.combine_nonip);
        let (sp, select) = match self.end {
            Ending::Hash(sp) => (sp, None),
            Ending::Select { hash, n, channels } => (hash, Some((n, channels))),
            Ending::Dup { me, n } => {
                let (accept, reject) = (self.a.label(), self.a.label());
                self.a.here(ci);
                self.s(LD | MEM, M_SRC);
                self.s(ALU | MOD | K, n);
                self.a.j(JMP | JEQ | K, me, To::L(accept), To::Next);
                self.s(LD | MEM, M_DST);
                self.s(ALU | MOD | K, n);
                self.a.j(JMP | JEQ | K, me, To::L(accept), To::L(reject));
                self.a.here(cn);
                if me == 0 {
                    self.a.ja(accept);
                }
                self.a.here(reject);
                self.s(RET | K, 0);
                self.a.here(accept);
                return;
            }
        };
        // A = the hash: return it, or go select the channel.
        let sel = self.a.label();
        let ret_a = |g: &mut Gen| match select {
            None => g.s(RET | A, 0),
            Some(_) => g.a.ja(sel),
        };
        self.a.here(ci);
        self.s(LD | MEM, M_SRC);
        self.s(LDX | MEM, M_DST);
        self.add_to_x();
        if sp.vlan {
            self.s(LD | MEM, M_VLAN);
            self.add_to_x();
        }
        let fin = self.a.label();
        if sp.tcp_only {
            self.s(LD | MEM, M_OPROTO);
            self.a.j(JMP | JEQ | K, TCP, To::Next, To::L(fin));
        }
        if sp.proto {
            self.s(LD | MEM, M_PROTO);
            self.add_to_x();
        }
        if sp.ports {
            self.s(LD | MEM, M_PORTS);
            self.add_to_x();
        }
        self.a.here(fin);
        self.s(MISC | TXA, 0);
        ret_a(self);
        // Not IP: the MACs (+ VLAN); protocol and ports are 0.
        self.a.here(cn);
        self.s(LD | MEM, M_MAC);
        if sp.vlan {
            self.s(LDX | MEM, M_VLAN);
            self.s(ALU | ADD | X, 0);
        }
        ret_a(self);
        if let Some((n, channels)) = select {
            let accept = self.a.label();
            self.a.here(sel);
            self.s(ALU | MOD | K, n);
            for c in 0..64u32.min(n) {
                if channels & (1 << c) != 0 {
                    self.a.jif(JMP | JEQ | K, c, accept);
                }
            }
            self.s(RET | K, 0);
            self.a.here(accept);
        }
    }
}

fn generate(end: Ending, o: Offsets) -> Vec<Insn> {
    let mut a = Asm::new();
    let (combine_ip, combine_nonip) = (a.label(), a.label());
    let mut g = Gen {
        a,
        o,
        end,
        combine_ip,
        combine_nonip,
    };
    let inner = matches!(
        end,
        Ending::Hash(Spec { inner: true, .. })
            | Ending::Select {
                hash: Spec { inner: true, .. },
                ..
            }
    );
    g.s(LD | IMM, 0);
    for m in [M_SRC, M_DST, M_PROTO, M_PORTS, M_MAC, M_OPROTO, M_FRAG] {
        g.s(ST, m);
    }
    g.s(LD | W | ABS, SKF_AD_OFF + SKF_AD_VLAN_TAG);
    g.s(ALU | AND | K, 0x0fff);
    g.s(ST, M_VLAN);
    g.s(LD | W | ABS, SKF_AD_OFF + SKF_AD_VLAN_TAG_PRESENT);
    g.s(ST, M_VPRES);
    g.s(LDX | IMM, 0);
    // Tags left in the frame (QinQ, or a TPID the kernel does not strip).
    g.s(LD | W | ABS, SKF_AD_OFF + SKF_AD_PROTOCOL);
    let l3 = g.a.label();
    for _ in 0..MAX_TAGS {
        let (tag, skip) = (g.a.label(), g.a.label());
        g.a.j(JMP | JEQ | K, TPIDS[0], To::L(tag), To::Next);
        g.a.j(JMP | JEQ | K, TPIDS[1], To::L(tag), To::Next);
        g.a.j(JMP | JEQ | K, TPIDS[2], To::L(tag), To::Next);
        g.a.ja(l3);
        g.a.here(tag);
        g.s(LD | MEM, M_VPRES);
        g.a.j(JMP | JEQ | K, 0, To::Next, To::L(skip));
        g.ind(H, 0);
        g.s(ALU | AND | K, 0x0fff);
        g.s(ST, M_VLAN);
        g.s(LD | IMM, 1);
        g.s(ST, M_VPRES);
        g.a.here(skip);
        g.ind(H, 2);
        g.s(ST, M_ET);
        g.x_plus(4);
        g.s(LD | MEM, M_ET);
    }
    g.a.here(l3);
    let (v4, v6, l4, done) = (g.a.label(), g.a.label(), g.a.label(), g.a.label());
    g.a.jif(JMP | JEQ | K, ETH_P_IP, v4);
    g.a.jif(JMP | JEQ | K, ETH_P_IPV6, v6);
    // Not IP: the bytes of both MACs.
    g.s(LDX | IMM, 0);
    let ll = g.o.ll;
    for k in 0..12 {
        g.s(LD | B | ABS, ll + k);
        g.add_to_x();
    }
    g.s(STX, M_MAC);
    g.a.ja(combine_nonip);

    g.a.here(v4);
    g.s(STX, M_BASE);
    g.v4(l4, done);
    g.a.here(v6);
    g.v6(l4, done);
    // Outer L4 at X.
    g.a.here(l4);
    g.s(LD | MEM, M_PROTO);
    g.s(ST, M_OPROTO);
    let (ports, udp) = (g.a.label(), g.a.label());
    g.has_ports(ports, udp, combine_ip);
    g.a.here(udp);
    if inner {
        let (u, c) = (g.a.label(), g.a.label());
        g.s(STX, M_L4);
        g.ports();
        g.s(LD | MEM, M_SP);
        g.a.j(JMP | JEQ | K, GTP_U, To::L(u), To::Next);
        g.s(LD | MEM, M_T);
        g.a.j(JMP | JEQ | K, GTP_U, To::L(u), To::Next);
        g.s(LD | MEM, M_SP);
        g.a.jif(JMP | JEQ | K, GTP_C, c);
        g.s(LD | MEM, M_T);
        g.a.jif(JMP | JEQ | K, GTP_C, c);
        g.a.ja(combine_ip);
        g.a.here(u);
        g.s(LDX | MEM, M_L4);
        g.x_plus(8);
        g.gtp(true);
        g.a.here(c);
        g.s(LDX | MEM, M_L4);
        g.x_plus(8);
        g.gtp(false);
    }
    g.a.here(ports);
    g.ports();
    g.a.ja(combine_ip);
    // Outer IP without L4 (fragments, bogus IPv4 header length).
    g.a.here(done);
    g.s(LD | MEM, M_PROTO);
    g.s(ST, M_OPROTO);
    g.a.ja(combine_ip);
    g.endings();
    g.a.finish()
}
