//! Lowering of pcap-filter primitives to a tree of tests ([`BExpr`]), following the shapes
//! libpcap generates for DLT_EN10MB (`gencode.c`), so that both accept the same packets —
//! including the corner cases (IPv4 fragments, the IPv6 fragment header hop, the order of
//! loads that decides whether a truncated packet is rejected).

use super::super::{FilterError, Target};
use super::insn::{Insn, op::*};

/// One conditional test: straight-line statements, then a conditional jump on A.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Leaf {
    pub stmts: Vec<Insn>,
    /// `BPF_JMP | {JEQ,JGT,JGE,JSET} | {K,X}`.
    pub code: u16,
    pub k: u32,
    /// False for a test whose statements leave state (scratch words) that later tests
    /// read (`protochain`): the optimizer never skips such a test.
    pub pure: bool,
}

/// A boolean expression over [`Leaf`] tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BExpr {
    True,
    False,
    Leaf(Leaf),
    And(Box<BExpr>, Box<BExpr>),
    Or(Box<BExpr>, Box<BExpr>),
    Not(Box<BExpr>),
    /// A subexpression reachable from several places (compiled once per continuation).
    Shared(std::rc::Rc<BExpr>),
    /// If the first holds, the second decides, else the third: unlike `(c and x) or y`,
    /// `y` never runs after `x` did (needed when `x` leaves state behind).
    Ite(Box<BExpr>, Box<BExpr>, Box<BExpr>),
}

impl BExpr {
    /// Whether `b` already is a term of the `and` (or `or`) chain `a`. Such a term can be
    /// dropped: it would only run after the same test succeeded (failed), with the same
    /// loads, so it cannot change the verdict.
    fn in_chain(a: &BExpr, b: &BExpr, and: bool) -> bool {
        let mut cur = a;
        loop {
            if cur == b {
                return true;
            }
            match (cur, and) {
                (BExpr::And(l, r), true) | (BExpr::Or(l, r), false) => {
                    if **r == *b {
                        return true;
                    }
                    cur = l;
                }
                _ => return false,
            }
        }
    }
    pub fn and(a: BExpr, b: BExpr) -> BExpr {
        match (a, b) {
            (BExpr::True, x) | (x, BExpr::True) => x,
            (BExpr::False, _) => BExpr::False,
            (a, b) if BExpr::in_chain(&a, &b, true) => a,
            (a, b) => BExpr::And(Box::new(a), Box::new(b)),
        }
    }
    pub fn or(a: BExpr, b: BExpr) -> BExpr {
        match (a, b) {
            (BExpr::False, x) | (x, BExpr::False) => x,
            (BExpr::True, _) => BExpr::True,
            (a, b) if BExpr::in_chain(&a, &b, false) => a,
            (a, b) => BExpr::Or(Box::new(a), Box::new(b)),
        }
    }
    #[allow(clippy::should_implement_trait)]
    pub fn not(a: BExpr) -> BExpr {
        match a {
            BExpr::True => BExpr::False,
            BExpr::False => BExpr::True,
            BExpr::Not(x) => *x,
            a => BExpr::Not(Box::new(a)),
        }
    }
    pub fn any(items: impl IntoIterator<Item = BExpr>) -> BExpr {
        items.into_iter().fold(BExpr::False, BExpr::or)
    }
    pub fn all(items: impl IntoIterator<Item = BExpr>) -> BExpr {
        items.into_iter().fold(BExpr::True, BExpr::and)
    }
    pub fn test(stmts: Vec<Insn>, jop: u16, k: u32) -> BExpr {
        BExpr::Leaf(Leaf {
            stmts,
            code: JMP | jop | K,
            k,
            pure: true,
        })
    }
    /// A test whose statements also update state for later tests (see [`Leaf::pure`]).
    pub fn stateful(stmts: Vec<Insn>, jop: u16, k: u32) -> BExpr {
        BExpr::Leaf(Leaf {
            stmts,
            code: JMP | jop | K,
            k,
            pure: false,
        })
    }
}

/// `BPF_LD | size | BPF_ABS` at `off`.
pub(crate) fn ld(size: u16, off: u32) -> Insn {
    Insn::stmt(LD | size | ABS, off)
}

/// `[off]:size == k`.
pub(crate) fn cmp(size: u16, off: u32, k: u32) -> BExpr {
    BExpr::test(vec![ld(size, off)], JEQ, k)
}

/// `[off]:size & mask == k` (the `and` is left out for a full mask).
pub(crate) fn mcmp(size: u16, off: u32, mask: u32, k: u32) -> BExpr {
    let full = match size {
        W => u32::MAX,
        H => 0xffff,
        _ => 0xff,
    };
    if mask & full == full {
        return cmp(size, off, k);
    }
    if mask & full == 0 {
        // libpcap's optimizer folds the test away (and the load with it).
        return if k & mask == 0 {
            BExpr::True
        } else {
            BExpr::False
        };
    }
    BExpr::test(
        vec![ld(size, off), Insn::stmt(ALU | AND | K, mask)],
        JEQ,
        k & mask,
    )
}

/// Compares `bytes` at `off`, four bytes at a time from the end, like libpcap's `gen_bcmp`.
pub(crate) fn bcmp(off: u32, bytes: &[u8]) -> BExpr {
    let mut parts = Vec::new();
    let mut size = bytes.len();
    while size >= 4 {
        let p = &bytes[size - 4..size];
        let v = u32::from_be_bytes([p[0], p[1], p[2], p[3]]);
        parts.push(cmp(W, off + size as u32 - 4, v));
        size -= 4;
    }
    while size >= 2 {
        let p = &bytes[size - 2..size];
        parts.push(cmp(
            H,
            off + size as u32 - 2,
            u32::from(u16::from_be_bytes([p[0], p[1]])),
        ));
        size -= 2;
    }
    if size > 0 {
        parts.push(cmp(B, off, u32::from(bytes[0])));
    }
    BExpr::all(parts)
}

/// Direction qualifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dir {
    Src,
    Dst,
    SrcOrDst,
    SrcAndDst,
}

impl Dir {
    pub fn combine(self, src: BExpr, dst: impl FnOnce() -> BExpr) -> BExpr {
        match self {
            Dir::Src => src,
            Dir::Dst => dst(),
            Dir::SrcOrDst => BExpr::or(src, dst()),
            Dir::SrcAndDst => BExpr::and(src, dst()),
        }
    }
}

pub(crate) const ETHERTYPE_IP: u32 = 0x0800;
pub(crate) const ETHERTYPE_IPV6: u32 = 0x86dd;
pub(crate) const ETHERTYPE_ARP: u32 = 0x0806;
pub(crate) const ETHERTYPE_REVARP: u32 = 0x8035;
pub(crate) const ETHERTYPE_MPLS: u32 = 0x8847;
pub(crate) const ETHERTYPE_IPX: u32 = 0x8137;
pub(crate) const ETHERTYPE_PPPOES: u32 = 0x8864;
pub(crate) const ETHERMTU: u32 = 1500;
pub(crate) const IPPROTO_TCP: u32 = 6;
pub(crate) const IPPROTO_UDP: u32 = 17;
pub(crate) const IPPROTO_SCTP: u32 = 132;
pub(crate) const IPPROTO_FRAGMENT: u32 = 44;
pub(crate) const IPPROTO_ICMPV6: u32 = 58;
/// Headers `protochain` follows before giving up.
pub(crate) const PROTOCHAIN_HOPS: usize = 6;

/// Link-layer state that changes as `vlan` and `mpls` primitives are parsed: libpcap
/// shifts the offsets of everything parsed after them.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub target: Target,
    /// Offset of the EtherType field.
    pub off_linktype: u32,
    /// Offset of the link-layer payload.
    pub off_linkpl: u32,
    /// Bytes of MPLS labels between the link-layer payload and the network header.
    pub off_nl: u32,
    pub vlan_depth: u32,
    /// The outer VLAN tag was tested through ancillary data (kernel target).
    pub vlan_in_meta: bool,
    pub mpls_depth: u32,
    /// After `pppoes`: network protocols are PPP protocol numbers.
    pub ppp: bool,
}

impl Ctx {
    pub fn new(target: Target) -> Ctx {
        Ctx {
            target,
            off_linktype: 12,
            off_linkpl: 14,
            off_nl: 0,
            vlan_depth: 0,
            vlan_in_meta: false,
            mpls_depth: 0,
            ppp: false,
        }
    }

    /// Offset of the network-layer header.
    pub fn l3(&self) -> u32 {
        self.off_linkpl + self.off_nl
    }

    /// The frame carries network protocol `ethertype` (libpcap `gen_linktype`).
    pub fn linktype(&self, ethertype: u32, pos: usize) -> Result<BExpr, FilterError> {
        if self.ppp && self.mpls_depth == 0 {
            // Inside PPPoE: the PPP protocol field (libpcap's `ethertype_to_ppptype`; other
            // values are compared unchanged).
            let proto = match ethertype {
                ETHERTYPE_IP => 0x0021,
                ETHERTYPE_IPV6 => 0x0057,
                0x6003 => 0x0027, // DECnet
                0x809b => 0x0029, // AppleTalk
                0x0600 => 0x0025, // XNS
                ETHERTYPE_IPX => 0x002b,
                p => p,
            };
            return Ok(cmp(H, self.off_linktype, proto));
        }
        if self.mpls_depth > 0 {
            // Below an MPLS stack: the bottom-of-stack bit of the last label, and the IP
            // version nibble.
            let version = match ethertype {
                ETHERTYPE_IP => 0x40,
                ETHERTYPE_IPV6 => 0x60,
                _ => {
                    return Err(FilterError::Unsupported {
                        pos,
                        what: "a protocol other than ip or ip6 inside mpls".into(),
                    });
                }
            };
            let prev = self.l3() - 4;
            return Ok(BExpr::and(
                mcmp(B, prev + 2, 0x01, 0x01),
                mcmp(B, self.l3(), 0xf0, version),
            ));
        }
        Ok(self.ether_linktype(ethertype))
    }

    /// An EtherType (> 1500) or an 802.2 LLC SAP (<= 1500), like libpcap's
    /// `gen_ether_linktype`.
    pub fn ether_linktype(&self, p: u32) -> BExpr {
        let lt = self.off_linktype;
        let llc = self.off_linkpl;
        let not_ethertype = || BExpr::not(BExpr::test(vec![ld(H, lt)], JGT, ETHERMTU));
        let snap = |oui: u32, ptype: u32| {
            bcmp(
                llc,
                &[
                    0xaa,
                    0xaa,
                    0x03,
                    (oui >> 16) as u8,
                    (oui >> 8) as u8,
                    oui as u8,
                    (ptype >> 8) as u8,
                    ptype as u8,
                ],
            )
        };
        match p {
            // LLC SAPs that use DSAP and SSAP both.
            0x06 | 0xf0 | 0xfe => BExpr::and(not_ethertype(), cmp(H, llc, (p << 8) | p)),
            // IPX: Ethernet II, 802.2 SNAP, 802.2 with SAP 0xe0, or raw 802.3 (0xffff).
            0xe0 => BExpr::or(
                cmp(H, lt, ETHERTYPE_IPX),
                BExpr::and(
                    not_ethertype(),
                    BExpr::any([
                        snap(0, ETHERTYPE_IPX),
                        cmp(B, llc, 0xe0),
                        cmp(H, llc, 0xffff),
                    ]),
                ),
            ),
            // AppleTalk and AARP: Ethernet II or 802.2 SNAP.
            0x809b | 0x80f3 => {
                let oui: u32 = if p == 0x809b { 0x080007 } else { 0 };
                BExpr::or(cmp(H, lt, p), BExpr::and(not_ethertype(), snap(oui, p)))
            }
            p if p <= ETHERMTU => BExpr::and(not_ethertype(), cmp(B, llc, p)),
            p => cmp(H, lt, p),
        }
    }

    /// `llc`: an 802.3 frame with an LLC header (not raw 802.3 IPX).
    pub fn llc(&self) -> BExpr {
        BExpr::and(
            BExpr::not(BExpr::test(vec![ld(H, self.off_linktype)], JGT, ETHERMTU)),
            BExpr::not(cmp(H, self.off_linkpl, 0xffff)),
        )
    }

    /// `esis`, `isis`, `clnp`: ISO over LLC SAP 0xfe with this NLPID.
    pub fn iso_nlpid(&self, nlpid: u32) -> BExpr {
        BExpr::and(
            self.ether_linktype(0xfe),
            cmp(B, self.off_linkpl + 3, nlpid),
        )
    }

    /// `pppoes [id]`: PPPoE session frames; later offsets point into the PPP payload.
    pub fn pppoes(&mut self, id: Option<u32>, pos: usize) -> Result<BExpr, FilterError> {
        if self.mpls_depth > 0 || self.ppp {
            return Err(FilterError::Unsupported {
                pos,
                what: "pppoes inside mpls or pppoes".into(),
            });
        }
        if let Some(id) = id
            && id > 0xffff
        {
            return Err(FilterError::Invalid {
                pos,
                msg: format!("PPPoE session number {id} greater than 65535"),
            });
        }
        let mut b = cmp(H, self.off_linktype, ETHERTYPE_PPPOES);
        if let Some(id) = id {
            b = BExpr::and(b, mcmp(W, self.off_linkpl, 0xffff, id));
        }
        // PPPoE header (6 bytes), then the 2-byte PPP protocol, then the payload.
        self.off_linktype = self.off_linkpl + 6;
        self.off_linkpl += 8;
        self.ppp = true;
        Ok(b)
    }

    /// `ip proto p` (no fragment handling, like libpcap).
    pub fn ip_proto(&self, p: u32, pos: usize) -> Result<BExpr, FilterError> {
        Ok(BExpr::and(
            self.linktype(ETHERTYPE_IP, pos)?,
            cmp(B, self.l3() + 9, p),
        ))
    }

    /// `ip6 proto p`: the next header, or the one after a fragment header.
    pub fn ip6_proto(&self, p: u32, pos: usize) -> Result<BExpr, FilterError> {
        let l3 = self.l3();
        let nh = cmp(B, l3 + 6, p);
        let frag = BExpr::and(cmp(B, l3 + 6, IPPROTO_FRAGMENT), cmp(B, l3 + 40, p));
        Ok(BExpr::and(
            self.linktype(ETHERTYPE_IPV6, pos)?,
            BExpr::or(nh, frag),
        ))
    }

    /// `proto p` with no network qualifier: IPv4 or IPv6.
    pub fn any_proto(&self, p: u32, pos: usize) -> Result<BExpr, FilterError> {
        Ok(BExpr::or(self.ip_proto(p, pos)?, self.ip6_proto(p, pos)?))
    }

    /// Only the first (or only) fragment of an IPv4 datagram carries the transport header.
    pub fn ipfrag_first(&self) -> BExpr {
        BExpr::not(BExpr::test(vec![ld(H, self.l3() + 6)], JSET, 0x1fff))
    }

    /// `ldxb 4*([l3]&0xf)`: X = IPv4 header length.
    pub fn loadx_iphdrlen(&self) -> Insn {
        Insn::stmt(LDX | B | MSH, self.l3())
    }

    /// The transport protocol test of a port primitive: one protocol, or tcp/udp/sctp.
    fn port_protos(&self, proto: Option<u32>, off: u32) -> BExpr {
        match proto {
            Some(p) => cmp(B, off, p),
            None => BExpr::any([
                cmp(B, off, IPPROTO_SCTP),
                cmp(B, off, IPPROTO_TCP),
                cmp(B, off, IPPROTO_UDP),
            ]),
        }
    }

    /// A port test over IPv4 and IPv6; `atom(offset_in_l4, is_ipv4)` tests one port field.
    pub fn port_generic(
        &self,
        proto: Option<u32>,
        dir: Dir,
        pos: usize,
        atom: &dyn Fn(Option<Insn>, u32) -> BExpr,
        v4: bool,
        v6: bool,
    ) -> Result<BExpr, FilterError> {
        let l3 = self.l3();
        let mut out = BExpr::False;
        if v6 {
            let b = BExpr::all([
                self.linktype(ETHERTYPE_IPV6, pos)?,
                self.port_protos(proto, l3 + 6),
                dir.combine(atom(None, l3 + 40), || atom(None, l3 + 42)),
            ]);
            out = BExpr::or(out, b);
        }
        if v4 {
            let x = self.loadx_iphdrlen();
            let b = BExpr::all([
                self.linktype(ETHERTYPE_IP, pos)?,
                self.port_protos(proto, l3 + 9),
                self.ipfrag_first(),
                dir.combine(atom(Some(x), l3), || atom(Some(x), l3 + 2)),
            ]);
            out = BExpr::or(out, b);
        }
        Ok(out)
    }

    /// `[proto] [dir] port N`.
    pub fn port(
        &self,
        proto: Option<u32>,
        dir: Dir,
        port: u16,
        pos: usize,
        v4: bool,
        v6: bool,
    ) -> Result<BExpr, FilterError> {
        let atom = |x: Option<Insn>, off: u32| match x {
            Some(x) => BExpr::test(vec![x, Insn::stmt(LD | H | IND, off)], JEQ, u32::from(port)),
            None => cmp(H, off, u32::from(port)),
        };
        self.port_generic(proto, dir, pos, &atom, v4, v6)
    }

    /// `[proto] [dir] portrange A-B`.
    #[allow(clippy::too_many_arguments)]
    pub fn portrange(
        &self,
        proto: Option<u32>,
        dir: Dir,
        lo: u16,
        hi: u16,
        pos: usize,
        v4: bool,
        v6: bool,
    ) -> Result<BExpr, FilterError> {
        let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
        let atom = |x: Option<Insn>, off: u32| {
            let load = |x: Option<Insn>| match x {
                Some(x) => vec![x, Insn::stmt(LD | H | IND, off)],
                None => vec![ld(H, off)],
            };
            if lo == hi {
                return BExpr::test(load(x), JEQ, u32::from(lo));
            }
            BExpr::and(
                BExpr::test(load(x), JGE, u32::from(lo)),
                BExpr::not(BExpr::test(load(x), JGT, u32::from(hi))),
            )
        };
        self.port_generic(proto, dir, pos, &atom, v4, v6)
    }

    /// IPv4 address test at `src_off`/`dst_off` (relative to the network header).
    pub fn hostop(&self, addr: u32, mask: u32, dir: Dir, src_off: u32, dst_off: u32) -> BExpr {
        let l3 = self.l3();
        dir.combine(mcmp(W, l3 + src_off, mask, addr), || {
            mcmp(W, l3 + dst_off, mask, addr)
        })
    }

    /// IPv6 address test: the words the mask covers, in order.
    pub fn hostop6(&self, addr: [u32; 4], mask: [u32; 4], dir: Dir) -> BExpr {
        let l3 = self.l3();
        let one = |off: u32| {
            BExpr::all(
                (0..4)
                    .filter(|&i| mask[i] != 0)
                    .map(|i| mcmp(W, l3 + off + 4 * i as u32, mask[i], addr[i] & mask[i])),
            )
        };
        dir.combine(one(8), || one(24))
    }

    /// `ether [dir] host MAC`.
    pub fn ehost(&self, mac: &[u8; 6], dir: Dir) -> BExpr {
        dir.combine(bcmp(6, mac), || bcmp(0, mac))
    }

    /// A VLAN tag (optionally with ID `id`); shifts later offsets by 4 for in-band tags.
    pub fn vlan(&mut self, id: Option<u32>, pos: usize) -> Result<BExpr, FilterError> {
        if self.mpls_depth > 0 || self.ppp {
            return Err(FilterError::Unsupported {
                pos,
                what: "vlan inside mpls or pppoes".into(),
            });
        }
        if let Some(id) = id
            && id > 0x0fff
        {
            return Err(FilterError::Invalid {
                pos,
                msg: format!("VLAN tag {id} greater than maximum 4095"),
            });
        }
        if self.target == Target::Kernel && self.vlan_depth == 0 {
            // The kernel removed the outer tag from the frame and keeps it in metadata.
            let present = BExpr::test(vec![ld(W, SKF_AD_OFF + SKF_AD_VLAN_TAG_PRESENT)], JEQ, 1);
            let b = match id {
                Some(id) => BExpr::and(
                    present,
                    BExpr::test(
                        vec![
                            ld(W, SKF_AD_OFF + SKF_AD_VLAN_TAG),
                            Insn::stmt(ALU | AND | K, 0x0fff),
                        ],
                        JEQ,
                        id,
                    ),
                ),
                None => present,
            };
            self.vlan_depth += 1;
            self.vlan_in_meta = true;
            return Ok(b);
        }
        let lt = self.off_linktype;
        let tpid = BExpr::any([cmp(H, lt, 0x8100), cmp(H, lt, 0x88a8), cmp(H, lt, 0x9100)]);
        let b = match id {
            Some(id) => BExpr::and(tpid, mcmp(H, lt + 2, 0x0fff, id)),
            None => tpid,
        };
        self.off_linktype += 4;
        self.off_linkpl += 4;
        self.vlan_depth += 1;
        Ok(b)
    }

    /// An MPLS label (optionally with value `label`); shifts the network header by 4.
    pub fn mpls(&mut self, label: Option<u32>, pos: usize) -> Result<BExpr, FilterError> {
        if let Some(l) = label
            && l > 0xfffff
        {
            return Err(FilterError::Invalid {
                pos,
                msg: format!("MPLS label {l} greater than maximum 1048575"),
            });
        }
        let first = if self.mpls_depth > 0 {
            // The previous label must not be the bottom of the stack.
            BExpr::not(BExpr::test(vec![ld(B, self.l3() - 2)], JSET, 1))
        } else {
            cmp(H, self.off_linktype, ETHERTYPE_MPLS)
        };
        let b = match label {
            Some(l) => BExpr::and(first, mcmp(W, self.l3(), 0xffff_f000, l << 12)),
            None => first,
        };
        self.off_nl += 4;
        self.mpls_depth += 1;
        Ok(b)
    }

    /// `ip protochain p` / `ip6 protochain p`: follows the chain of IPv6 extension headers
    /// (hop-by-hop, destination options, routing, fragment) and AH, like libpcap's
    /// `gen_protochain`. libpcap loops with a backward jump, which the kernel refuses; this
    /// unrolls [`PROTOCHAIN_HOPS`] headers (a longer chain does not match). The current
    /// next-header value lives in M[14] and its offset from the network header in M[15].
    /// AH moves the offset to `(len + 2) * 4` from the network header, as libpcap does.
    pub fn protochain(&self, p: u32, v6: bool, pos: usize) -> Result<BExpr, FilterError> {
        const NH: u32 = 14;
        const OFF: u32 = 15;
        let l3 = self.l3();
        let nh_is = |k: u32| BExpr::test(vec![Insn::stmt(LD | MEM, NH)], JEQ, k);
        // Reads the header at the current offset: next header, and the new offset computed
        // by `len_to_off` from the length byte; then tests for `p`.
        let update = |len_to_off: &[Insn]| {
            let mut st = vec![
                Insn::stmt(LDX | MEM, OFF),
                Insn::stmt(LD | B | IND, l3),
                Insn::stmt(ST, NH),
                Insn::stmt(LD | B | IND, l3 + 1),
            ];
            st.extend_from_slice(len_to_off);
            st.extend([Insn::stmt(ST, OFF), Insn::stmt(LD | MEM, NH)]);
            BExpr::stateful(st, JEQ, p)
        };
        // Extension header: offset += (len + 1) * 8.
        let ext = update(&[
            Insn::stmt(ALU | ADD | K, 1),
            Insn::stmt(ALU | MUL | K, 8),
            Insn::stmt(ALU | ADD | X, 0),
        ]);
        // AH: offset = (len + 2) * 4.
        let ah = update(&[Insn::stmt(ALU | ADD | K, 2), Insn::stmt(ALU | MUL | K, 4)]);
        let mut rest = BExpr::False;
        for _ in 0..PROTOCHAIN_HOPS {
            let next = std::rc::Rc::new(rest);
            let via_ah = BExpr::and(
                nh_is(51),
                BExpr::or(ah.clone(), BExpr::Shared(next.clone())),
            );
            rest = if v6 {
                let is_ext = BExpr::any([nh_is(0), nh_is(60), nh_is(43), nh_is(44)]);
                let via_ext = BExpr::or(ext.clone(), BExpr::Shared(next));
                BExpr::and(
                    BExpr::not(nh_is(59)),
                    BExpr::Ite(Box::new(is_ext), Box::new(via_ext), Box::new(via_ah)),
                )
            } else {
                BExpr::and(BExpr::not(nh_is(59)), via_ah)
            };
        }
        let init = if v6 {
            vec![
                ld(B, l3 + 6),
                Insn::stmt(ST, NH),
                Insn::stmt(LDX | IMM, 40),
                Insn::stmt(STX, OFF),
            ]
        } else {
            vec![
                ld(B, l3 + 9),
                Insn::stmt(ST, NH),
                Insn::stmt(LDX | B | MSH, l3),
                Insn::stmt(STX, OFF),
            ]
        };
        let et = if v6 { ETHERTYPE_IPV6 } else { ETHERTYPE_IP };
        Ok(BExpr::and(
            self.linktype(et, pos)?,
            BExpr::or(BExpr::stateful(init, JEQ, p), rest),
        ))
    }
}
