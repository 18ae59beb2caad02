//! Recursive-descent parser of the pcap-filter language. Primitives are lowered as they are
//! parsed (through [`Ctx`]), because `vlan` and `mpls` shift the offsets of everything
//! parsed after them, exactly as in libpcap's grammar actions.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::super::FilterError;
use super::codegen::{
    BExpr, Ctx, Dir, ETHERTYPE_ARP, ETHERTYPE_IP, ETHERTYPE_IPV6, ETHERTYPE_REVARP, IPPROTO_ICMPV6,
    IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP, cmp, ld,
};
use super::insn::{Insn, op::*};
use super::lexer::{Tok, Token, lex};
use super::names;

/// Deepest nesting of parentheses, `not`s and brackets.
pub(crate) const MAX_DEPTH: usize = 256;

/// Most arithmetic operators in one comparison.
pub(crate) const MAX_ARITH_OPS: usize = 256;

/// Protocol qualifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    Ether,
    Ip,
    Ip6,
    Arp,
    Rarp,
    Tcp,
    Udp,
    Icmp,
    Icmp6,
    Igmp,
    Pim,
    Vrrp,
    Sctp,
    Ah,
    Esp,
}

impl Proto {
    fn from_word(w: &str) -> Option<Proto> {
        Some(match w {
            "ether" | "link" => Proto::Ether,
            "ip" => Proto::Ip,
            "ip6" => Proto::Ip6,
            "arp" => Proto::Arp,
            "rarp" => Proto::Rarp,
            "tcp" => Proto::Tcp,
            "udp" => Proto::Udp,
            "icmp" => Proto::Icmp,
            "icmp6" => Proto::Icmp6,
            "igmp" => Proto::Igmp,
            "pim" => Proto::Pim,
            "vrrp" => Proto::Vrrp,
            "sctp" => Proto::Sctp,
            "ah" => Proto::Ah,
            "esp" => Proto::Esp,
            _ => return None,
        })
    }
    fn ipproto(self) -> Option<u32> {
        Some(match self {
            Proto::Tcp => IPPROTO_TCP,
            Proto::Udp => IPPROTO_UDP,
            Proto::Sctp => IPPROTO_SCTP,
            Proto::Icmp => 1,
            Proto::Igmp => 2,
            Proto::Pim => 103,
            Proto::Vrrp => 112,
            Proto::Ah => 51,
            Proto::Esp => 50,
            Proto::Icmp6 => IPPROTO_ICMPV6,
            _ => return None,
        })
    }
    fn name(self) -> &'static str {
        match self {
            Proto::Ether => "ether",
            Proto::Ip => "ip",
            Proto::Ip6 => "ip6",
            Proto::Arp => "arp",
            Proto::Rarp => "rarp",
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Icmp => "icmp",
            Proto::Icmp6 => "icmp6",
            Proto::Igmp => "igmp",
            Proto::Pim => "pim",
            Proto::Vrrp => "vrrp",
            Proto::Sctp => "sctp",
            Proto::Ah => "ah",
            Proto::Esp => "esp",
        }
    }
}

/// Type qualifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Host,
    Net,
    Port,
    Portrange,
    Proto,
    Protochain,
}

/// The qualifiers of a primitive, inherited by a following bare value (`host a or b`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Quals {
    proto: Option<Proto>,
    dir: Option<Dir>,
    kind: Option<Kind>,
}

/// Qualifiers a bare value may inherit; `None` after a primitive that has none to give.
type Inherit = Option<Quals>;

/// Words with a meaning in the language: never host or service names.
fn is_keyword(w: &str) -> bool {
    Proto::from_word(w).is_some()
        || matches!(
            w,
            "and"
                | "or"
                | "not"
                | "src"
                | "dst"
                | "host"
                | "net"
                | "port"
                | "portrange"
                | "proto"
                | "protochain"
                | "gateway"
                | "mask"
                | "broadcast"
                | "multicast"
                | "less"
                | "greater"
                | "len"
                | "vlan"
                | "mpls"
                | "inbound"
                | "outbound"
                | "ifindex"
        )
        || ether_family(w).is_some()
        || matches!(w, "llc" | "pppoes")
        || unsupported_keyword(w)
}

/// Protocol names that are EtherTypes or LLC SAPs (`decnet`, `stp`, ...), and ISO NLPIDs.
fn ether_family(w: &str) -> Option<(u32, Option<u32>)> {
    Some(match w {
        "decnet" => (0x6003, None),
        "lat" => (0x6004, None),
        "sca" => (0x6007, None),
        "mopdl" => (0x6001, None),
        "moprc" => (0x6002, None),
        "atalk" => (0x809b, None),
        "aarp" => (0x80f3, None),
        "stp" => (0x42, None),
        "netbeui" => (0xf0, None),
        "iso" => (0xfe, None),
        "ipx" => (0xe0, None),
        "pppoed" => (0x8863, None),
        "clnp" => (0xfe, Some(0x81)),
        "esis" | "es-is" => (0xfe, Some(0x82)),
        "isis" | "is-is" => (0xfe, Some(0x83)),
        _ => return None,
    })
}

/// libpcap keywords this compiler does not implement (other link types, pflog, ...).
fn unsupported_keyword(w: &str) -> bool {
    matches!(
        w,
        "fddi"
            | "tr"
            | "wlan"
            | "es-is"
            | "is-is"
            | "geneve"
            | "vxlan"
            | "carp"
            | "igrp"
            | "radio"
            | "type"
            | "subtype"
            | "dir"
            | "addr1"
            | "addr2"
            | "addr3"
            | "addr4"
            | "ra"
            | "ta"
            | "ifname"
            | "on"
            | "rnr"
            | "rulenum"
            | "reason"
            | "rset"
            | "ruleset"
            | "srnr"
            | "subrulenum"
            | "action"
            | "metac"
            | "bpf"
            | "l1"
            | "l2"
            | "hsls"
            | "lsp"
            | "iih"
            | "snp"
            | "csnp"
            | "psnp"
            | "atmfield"
            | "vpi"
            | "vci"
            | "lane"
            | "oamf4"
            | "oamf4s"
            | "oamf4e"
            | "oam"
            | "metaconnect"
            | "connectmsg"
            | "sio"
            | "opc"
            | "dpc"
            | "sls"
            | "hsio"
            | "hopc"
            | "hdpc"
    )
}

/// Arithmetic expressions (`proto[expr:size]`, `len`, constants, operators).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Arith {
    Const(u32),
    Len,
    /// A packet load: base offset (`ind`: relative to the IPv4 header length), index, size.
    Load {
        base: u32,
        transport: bool,
        idx: Box<Arith>,
        size: u16,
    },
    Bin(u16, Box<Arith>, Box<Arith>),
    Neg(Box<Arith>),
}

pub(crate) struct Parser {
    toks: Vec<Token>,
    i: usize,
    pub ctx: Ctx,
    depth: usize,
    /// Arithmetic operators in the relation being parsed.
    arith_ops: usize,
    resolve: bool,
    netmask: u32,
}

fn syntax(pos: usize, msg: impl Into<String>) -> FilterError {
    FilterError::Syntax {
        pos,
        msg: msg.into(),
    }
}

fn invalid(pos: usize, msg: impl Into<String>) -> FilterError {
    FilterError::Invalid {
        pos,
        msg: msg.into(),
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Num(n) => format!("`{n}`"),
        Tok::Word(w) => format!("`{w}`"),
        Tok::Escaped(w) => format!("`\\{w}`"),
        Tok::V6(a) => format!("`{a}`"),
        Tok::Mac(m) => format!(
            "`{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}`",
            m[0], m[1], m[2], m[3], m[4], m[5]
        ),
        Tok::Punct(p) => format!("`{p}`"),
        Tok::End => "the end of the expression".into(),
    }
}

/// Parses a dotted IPv4 address, possibly short (`10`, `10.1`): value and bit count.
fn parse_dotted(w: &str) -> Option<(u32, u32)> {
    let parts: Vec<&str> = w.split('.').collect();
    if parts.len() > 4 || parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    let mut v: u32 = 0;
    for p in &parts {
        if !p.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let n: u32 = p.parse().ok()?;
        if n > 255 {
            return None;
        }
        v = (v << 8) | n;
    }
    Some((v, 8 * parts.len() as u32))
}

fn v6_words(a: &Ipv6Addr) -> [u32; 4] {
    let o = a.octets();
    std::array::from_fn(|i| {
        u32::from_be_bytes([o[4 * i], o[4 * i + 1], o[4 * i + 2], o[4 * i + 3]])
    })
}

fn v6_mask(len: u32) -> [u32; 4] {
    std::array::from_fn(|i| {
        let bits = len.saturating_sub(32 * i as u32).min(32);
        if bits == 0 {
            0
        } else {
            u32::MAX << (32 - bits)
        }
    })
}

impl Parser {
    pub fn new(src: &str, ctx: Ctx, resolve: bool, netmask: u32) -> Result<Parser, FilterError> {
        Ok(Parser {
            toks: lex(src)?,
            i: 0,
            ctx,
            depth: 0,
            arith_ops: 0,
            resolve,
            netmask,
        })
    }

    fn peek(&self) -> &Tok {
        &self.toks[self.i.min(self.toks.len() - 1)].tok
    }
    fn peek_at(&self, n: usize) -> &Tok {
        &self.toks[(self.i + n).min(self.toks.len() - 1)].tok
    }
    fn pos(&self) -> usize {
        self.toks[self.i.min(self.toks.len() - 1)].pos
    }
    fn bump(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.i < self.toks.len() - 1 {
            self.i += 1;
        }
        t
    }
    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Tok::Word(x) if x == w)
    }
    fn is_punct(&self, p: &str) -> bool {
        matches!(self.peek(), Tok::Punct(x) if *x == p)
    }
    fn enter(&mut self) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(FilterError::TooDeep {
                pos: self.pos(),
                limit: MAX_DEPTH,
            });
        }
        Ok(())
    }
    fn leave(&mut self) {
        self.depth -= 1;
    }
    fn expect_punct(&mut self, p: &str, ctx: &str) -> Result<(), FilterError> {
        if self.is_punct(p) {
            self.bump();
            Ok(())
        } else {
            Err(syntax(
                self.pos(),
                format!("expected `{p}` {ctx}, found {}", describe(self.peek())),
            ))
        }
    }

    /// The whole expression.
    pub fn parse(&mut self) -> Result<BExpr, FilterError> {
        if matches!(self.peek(), Tok::End) {
            // An empty filter accepts everything, as in libpcap.
            return Ok(BExpr::True);
        }
        let (b, _) = self.expr(None)?;
        if !matches!(self.peek(), Tok::End) {
            return Err(syntax(
                self.pos(),
                format!("unexpected {}", describe(self.peek())),
            ));
        }
        Ok(b)
    }

    fn and_or(&self) -> Option<bool> {
        match self.peek() {
            Tok::Word(w) if w == "and" => Some(true),
            Tok::Punct("&&") => Some(true),
            Tok::Word(w) if w == "or" => Some(false),
            Tok::Punct("||") => Some(false),
            _ => None,
        }
    }

    fn expr(&mut self, inherit: Inherit) -> Result<(BExpr, Inherit), FilterError> {
        let (mut b, mut q) = self.term(inherit)?;
        while let Some(is_and) = self.and_or() {
            self.bump();
            let (r, q2) = self.term(q)?;
            b = if is_and {
                BExpr::and(b, r)
            } else {
                BExpr::or(b, r)
            };
            q = q2;
        }
        Ok((b, q))
    }

    /// Whether the tokens from here up to the next boolean operator at this nesting level
    /// contain a comparison: then this term is an arithmetic relation.
    fn relation_ahead(&self) -> bool {
        let mut depth = 0usize;
        for t in &self.toks[self.i..] {
            match &t.tok {
                Tok::Punct("(" | "[") => depth += 1,
                Tok::Punct(")" | "]") => {
                    if depth == 0 {
                        return false;
                    }
                    depth -= 1;
                }
                Tok::Punct("=" | "==" | "!=" | "<" | "<=" | ">" | ">=") if depth == 0 => {
                    return true;
                }
                Tok::Punct("&&" | "||" | "!") if depth == 0 => return false,
                Tok::Word(w) if depth == 0 && matches!(w.as_str(), "and" | "or" | "not") => {
                    return false;
                }
                Tok::End => return false,
                _ => {}
            }
        }
        false
    }

    fn is_value(t: &Tok) -> bool {
        match t {
            Tok::Num(_) | Tok::Escaped(_) | Tok::V6(_) | Tok::Mac(_) => true,
            Tok::Word(w) => !is_keyword(w),
            _ => false,
        }
    }

    fn term(&mut self, inherit: Inherit) -> Result<(BExpr, Inherit), FilterError> {
        let pos = self.pos();
        if self.is_word("not") || self.is_punct("!") {
            self.enter()?;
            self.bump();
            let (b, q) = self.term(inherit)?;
            self.leave();
            return Ok((BExpr::not(b), q));
        }
        if self.relation_ahead() {
            return Ok((self.relation()?, None));
        }
        let t = self.peek().clone();
        match t {
            Tok::Punct("(") => {
                self.enter()?;
                self.bump();
                let r = self.expr(inherit)?;
                self.expect_punct(")", "to close `(`")?;
                self.leave();
                Ok(r)
            }
            Tok::Word(ref w) if is_keyword(w) => self.primitive(),
            t if Self::is_value(&t) => {
                let Some(q) = inherit else {
                    return Err(syntax(
                        pos,
                        format!(
                            "{} needs a qualifier such as `host` or `port` before it",
                            describe(&t)
                        ),
                    ));
                };
                let b = self.value(q)?;
                Ok((b, Some(q)))
            }
            Tok::End => Err(syntax(pos, "expected an expression, found the end")),
            t => Err(syntax(pos, format!("unexpected {}", describe(&t)))),
        }
    }

    fn number(&mut self, after: &str) -> Result<u32, FilterError> {
        match self.peek() {
            Tok::Num(n) => {
                let n = *n;
                self.bump();
                Ok(n)
            }
            t => Err(syntax(
                self.pos(),
                format!("expected a number after `{after}`, found {}", describe(t)),
            )),
        }
    }

    fn dir(&mut self) -> Option<Dir> {
        let first = match self.peek() {
            Tok::Word(w) if w == "src" => Dir::Src,
            Tok::Word(w) if w == "dst" => Dir::Dst,
            _ => return None,
        };
        self.bump();
        let other = if first == Dir::Src { "dst" } else { "src" };
        let conj = match self.peek() {
            Tok::Word(w) if w == "or" => Some(Dir::SrcOrDst),
            Tok::Word(w) if w == "and" => Some(Dir::SrcAndDst),
            _ => None,
        };
        if let Some(d) = conj
            && matches!(self.peek_at(1), Tok::Word(w) if w == other)
        {
            self.bump();
            self.bump();
            return Some(d);
        }
        Some(first)
    }

    fn primitive(&mut self) -> Result<(BExpr, Inherit), FilterError> {
        let pos = self.pos();
        let Tok::Word(w) = self.peek().clone() else {
            unreachable!("primitive() is called on a keyword")
        };
        if unsupported_keyword(&w) {
            return Err(FilterError::Unsupported {
                pos,
                what: format!("`{w}`"),
            });
        }
        match w.as_str() {
            "broadcast" | "multicast" => {
                self.bump();
                return Ok((self.cast(Proto::Ether, &w, pos)?, None));
            }
            "inbound" | "outbound" | "ifindex" => {
                if self.ctx.target != super::super::Target::Kernel {
                    return Err(FilterError::Unsupported {
                        pos,
                        what: format!(
                            "`{w}` on frames without socket metadata (compile for Target::Kernel)"
                        ),
                    });
                }
                self.bump();
                if w == "ifindex" {
                    let n = self.number("ifindex")?;
                    return Ok((cmp(W, SKF_AD_OFF + SKF_AD_IFINDEX, n), None));
                }
                // PACKET_OUTGOING (linux/if_packet.h) is 4.
                let out = cmp(H, SKF_AD_OFF + SKF_AD_PKTTYPE, 4);
                return Ok((if w == "inbound" { BExpr::not(out) } else { out }, None));
            }
            "llc" => {
                self.bump();
                return Ok((self.ctx.llc(), None));
            }
            "pppoes" => {
                self.bump();
                let id = match self.peek() {
                    Tok::Num(n) => {
                        let n = *n;
                        self.bump();
                        Some(n)
                    }
                    _ => None,
                };
                return Ok((self.ctx.pppoes(id, pos)?, None));
            }
            w2 if ether_family(w2).is_some() => {
                let (p, nlpid) = ether_family(w2).unwrap_or((0, None));
                self.bump();
                if self.ctx.mpls_depth > 0 || (self.ctx.ppp && nlpid.is_some()) {
                    return Err(FilterError::Unsupported {
                        pos,
                        what: format!("`{w}` inside mpls or pppoes"),
                    });
                }
                let b = match nlpid {
                    Some(n) => self.ctx.iso_nlpid(n),
                    None if self.ctx.ppp => self.ctx.linktype(p, pos)?,
                    None => self.ctx.ether_linktype(p),
                };
                return Ok((b, None));
            }
            "less" | "greater" => {
                self.bump();
                let n = self.number(&w)?;
                let t = BExpr::test(
                    vec![Insn::stmt(LD | W | LEN, 0)],
                    if w == "less" { JGT } else { JGE },
                    n,
                );
                let t = if w == "less" { BExpr::not(t) } else { t };
                return Ok((t, None));
            }
            "vlan" | "mpls" => {
                self.bump();
                let id = match self.peek() {
                    Tok::Num(n) => {
                        let n = *n;
                        self.bump();
                        Some(n)
                    }
                    _ => None,
                };
                let b = if w == "vlan" {
                    self.ctx.vlan(id, pos)?
                } else {
                    self.ctx.mpls(id, pos)?
                };
                return Ok((b, None));
            }
            "len" => {
                return Err(syntax(
                    self.toks.get(self.i + 1).map_or(pos, |t| t.pos),
                    "expected a comparison after `len`",
                ));
            }
            "gateway" => {
                return Err(FilterError::Unsupported {
                    pos,
                    what: format!("`{w}`"),
                });
            }
            "and" | "or" | "mask" => {
                return Err(syntax(pos, format!("unexpected `{w}`")));
            }
            _ => {}
        }
        let proto = match Proto::from_word(&w) {
            Some(p) => {
                self.bump();
                Some(p)
            }
            None => None,
        };
        if let Some(p) = proto {
            if self.is_word("broadcast") || self.is_word("multicast") {
                let Tok::Word(c) = self.bump() else {
                    unreachable!()
                };
                return Ok((self.cast(p, &c, pos)?, None));
            }
            if self.is_punct("[") {
                return Err(syntax(
                    self.pos(),
                    format!("`{}[...]` must be compared with something", p.name()),
                ));
            }
        }
        let dir = self.dir();
        let kind_pos = self.pos();
        let kind = match self.peek() {
            Tok::Word(k) => match k.as_str() {
                "host" => Some(Kind::Host),
                "net" => Some(Kind::Net),
                "port" => Some(Kind::Port),
                "portrange" => Some(Kind::Portrange),
                "proto" => Some(Kind::Proto),
                "protochain" => Some(Kind::Protochain),
                "gateway" => {
                    return Err(FilterError::Unsupported {
                        pos: kind_pos,
                        what: format!("`{k}`"),
                    });
                }
                _ => None,
            },
            _ => None,
        };
        if kind.is_some() {
            self.bump();
        }
        if let Some(p) = proto
            && dir.is_none()
            && kind.is_none()
        {
            return Ok((self.pname(p, pos)?, None));
        }
        let q = Quals { proto, dir, kind };
        // What follows must be a value (or `not` / `(` around values).
        let next = self.peek().clone();
        let ok = Self::is_value(&next)
            || matches!(next, Tok::Punct("(" | "!"))
            || matches!(&next, Tok::Word(x) if x == "not")
            || (matches!(kind, Some(Kind::Proto | Kind::Protochain))
                && matches!(&next, Tok::Word(x) if Proto::from_word(x).is_some()));
        if !ok {
            let what = match kind {
                Some(Kind::Port) => "a port number",
                Some(Kind::Portrange) => "a port range",
                Some(Kind::Host) => "a host",
                Some(Kind::Net) => "a network",
                Some(Kind::Proto | Kind::Protochain) => "a protocol",
                None => "an address",
            };
            let after = match &self.toks[self.i.saturating_sub(1)].tok {
                Tok::Word(x) => x.clone(),
                _ => w.clone(),
            };
            return Err(syntax(
                self.pos(),
                format!("expected {what} after `{after}`"),
            ));
        }
        if matches!(kind, Some(Kind::Proto | Kind::Protochain))
            && let Tok::Word(x) = &next
            && Proto::from_word(x).is_some()
        {
            let x = x.clone();
            self.bump();
            return Ok((self.proto_named(q, &x, self.toks[self.i - 1].pos)?, Some(q)));
        }
        self.term(Some(q))
    }

    /// `[proto] broadcast` / `[proto] multicast`.
    fn cast(&mut self, p: Proto, what: &str, pos: usize) -> Result<BExpr, FilterError> {
        let l3 = self.ctx.l3();
        match (p, what) {
            (Proto::Ether, "broadcast") => Ok(self.ctx.ehost(&[0xff; 6], Dir::Dst)),
            (Proto::Ether, _) => Ok(BExpr::test(vec![ld(B, 0)], JSET, 1)),
            (Proto::Ip, "broadcast") => {
                let host = !self.netmask;
                Ok(BExpr::and(
                    self.ctx.linktype(ETHERTYPE_IP, pos)?,
                    BExpr::or(
                        super::codegen::mcmp(W, l3 + 16, host, 0),
                        super::codegen::mcmp(W, l3 + 16, host, host),
                    ),
                ))
            }
            (Proto::Ip, _) => Ok(BExpr::and(
                self.ctx.linktype(ETHERTYPE_IP, pos)?,
                BExpr::test(vec![ld(B, l3 + 16)], JGE, 224),
            )),
            (Proto::Ip6, "multicast") => Ok(BExpr::and(
                self.ctx.linktype(ETHERTYPE_IPV6, pos)?,
                cmp(B, l3 + 24, 255),
            )),
            _ => Err(invalid(
                pos,
                format!(
                    "`{} {what}` is not supported (only link-layer and IP)",
                    p.name()
                ),
            )),
        }
    }

    /// A protocol name on its own (`tcp`, `ip6`, ...).
    fn pname(&mut self, p: Proto, pos: usize) -> Result<BExpr, FilterError> {
        let c = &self.ctx;
        match p {
            Proto::Ether => Err(invalid(pos, "`ether` needs a qualifier (host, proto, ...)")),
            Proto::Ip => c.linktype(ETHERTYPE_IP, pos),
            Proto::Ip6 => c.linktype(ETHERTYPE_IPV6, pos),
            Proto::Arp => c.linktype(ETHERTYPE_ARP, pos),
            Proto::Rarp => c.linktype(ETHERTYPE_REVARP, pos),
            Proto::Icmp | Proto::Igmp | Proto::Vrrp => c.ip_proto(p.ipproto().unwrap_or(0), pos),
            Proto::Icmp6 => c.ip6_proto(IPPROTO_ICMPV6, pos),
            _ => c.any_proto(p.ipproto().unwrap_or(0), pos),
        }
    }

    /// `[ip|ip6|ether] proto NAME` with a protocol keyword as name.
    fn proto_named(&mut self, q: Quals, name: &str, pos: usize) -> Result<BExpr, FilterError> {
        let n = if q.proto == Some(Proto::Ether) {
            names::ethertype(name)
        } else {
            Proto::from_word(name)
                .and_then(Proto::ipproto)
                .or_else(|| names::protocol(name).map(u32::from))
        };
        match n {
            Some(n) => self.proto_num(q, n, pos),
            None => Err(FilterError::UnknownProtocol {
                name: name.into(),
                pos,
            }),
        }
    }

    fn proto_num(&mut self, q: Quals, n: u32, pos: usize) -> Result<BExpr, FilterError> {
        if q.dir.is_some() {
            return Err(invalid(pos, "`src`/`dst` cannot qualify `proto`"));
        }
        if q.kind == Some(Kind::Protochain) {
            if n > 255 {
                return Err(invalid(
                    pos,
                    format!("protocol number {n} greater than 255"),
                ));
            }
            return match q.proto {
                Some(Proto::Ip) => self.ctx.protochain(n, false, pos),
                Some(Proto::Ip6) => self.ctx.protochain(n, true, pos),
                None => Ok(BExpr::or(
                    self.ctx.protochain(n, false, pos)?,
                    self.ctx.protochain(n, true, pos)?,
                )),
                Some(o) => Err(invalid(
                    pos,
                    format!("`{} protochain` is not supported", o.name()),
                )),
            };
        }
        match q.proto {
            Some(Proto::Ether) => {
                if n > 0xffff {
                    return Err(invalid(pos, format!("EtherType {n} greater than 65535")));
                }
                self.ctx.linktype(n, pos)
            }
            p => {
                if n > 255 {
                    return Err(invalid(
                        pos,
                        format!("protocol number {n} greater than 255"),
                    ));
                }
                match p {
                    Some(Proto::Ip) => self.ctx.ip_proto(n, pos),
                    Some(Proto::Ip6) => self.ctx.ip6_proto(n, pos),
                    None => self.ctx.any_proto(n, pos),
                    Some(o) => Err(invalid(
                        pos,
                        format!("`{} proto` is not supported", o.name()),
                    )),
                }
            }
        }
    }

    /// A value token (and its `/len` or `mask m` suffix) under qualifiers `q`.
    fn value(&mut self, q: Quals) -> Result<BExpr, FilterError> {
        let pos = self.pos();
        let t = self.bump();
        let dir = q.dir.unwrap_or(Dir::SrcOrDst);
        match (t, q.kind) {
            (Tok::Num(n), Some(Kind::Port)) => self.port(q, n, n, pos),
            (Tok::Num(n), Some(Kind::Portrange)) => self.port(q, n, n, pos),
            (Tok::Num(n), Some(Kind::Proto | Kind::Protochain)) => self.proto_num(q, n, pos),
            (Tok::Num(n), Some(Kind::Net)) => {
                // A short network number: `net 10` is 10.0.0.0/8.
                let (mut v, mut mask) = (n, u32::MAX);
                while v != 0 && v & 0xff00_0000 == 0 {
                    v <<= 8;
                    mask <<= 8;
                }
                self.mask_suffix(q, v, mask, pos)
            }
            (Tok::Num(n), _) => self.host4(q, n, u32::MAX, pos),
            (Tok::Word(w) | Tok::Escaped(w), kind) => {
                if let Some((v, bits)) = parse_dotted(&w) {
                    if matches!(
                        kind,
                        Some(Kind::Port | Kind::Portrange | Kind::Proto | Kind::Protochain)
                    ) {
                        return Err(invalid(pos, format!("`{w}` is not a port or protocol")));
                    }
                    let v = if bits == 32 { v } else { v << (32 - bits) };
                    let mask = if bits == 32 {
                        u32::MAX
                    } else {
                        u32::MAX << (32 - bits)
                    };
                    return self.mask_suffix(q, v, mask, pos);
                }
                match kind {
                    Some(Kind::Port) => {
                        let (p, proto) = self.service(q, &w, pos)?;
                        let q = Quals { proto, ..q };
                        self.port(q, p, p, pos)
                    }
                    Some(Kind::Portrange) => {
                        let (a, b) = match w.split_once('-') {
                            Some((a, b)) if !a.is_empty() && !b.is_empty() => (a, b),
                            _ => (w.as_str(), w.as_str()),
                        };
                        let mut proto = q.proto;
                        let mut num = |s: &str| -> Result<u32, FilterError> {
                            match s.parse::<u32>() {
                                Ok(n) => Ok(n),
                                Err(_) => {
                                    let (n, p) = self.service(q, s, pos)?;
                                    proto = proto.or(p);
                                    Ok(n)
                                }
                            }
                        };
                        let (a, b) = (num(a)?, num(b)?);
                        self.port(Quals { proto, ..q }, a, b, pos)
                    }
                    Some(Kind::Proto | Kind::Protochain) => self.proto_named(q, &w, pos),
                    Some(Kind::Net) => Err(FilterError::Unsupported {
                        pos,
                        what: format!("network names (`{w}`)"),
                    }),
                    _ => self.host_name(q, &w, pos),
                }
            }
            (Tok::V6(a), Some(Kind::Host | Kind::Net) | None) => {
                let mut len = 128;
                if self.is_punct("/") {
                    self.bump();
                    len = self.number("/")?;
                    if len > 128 {
                        return Err(invalid(
                            pos,
                            format!("IPv6 prefix length {len} greater than 128"),
                        ));
                    }
                }
                let mask = v6_mask(len);
                let words = v6_words(&a);
                if (0..4).any(|i| words[i] & !mask[i] != 0) {
                    return Err(invalid(pos, format!("non-network bits set in `{a}/{len}`")));
                }
                if len < 128 && q.kind == Some(Kind::Host) {
                    return Err(invalid(pos, "mask syntax is for networks only"));
                }
                self.host6(q, words, mask, dir, pos)
            }
            (Tok::Mac(m), Some(Kind::Host) | None) if q.proto == Some(Proto::Ether) => {
                Ok(self.ctx.ehost(&m, dir))
            }
            (Tok::Mac(_), _) => Err(invalid(
                pos,
                "ethernet address used in non-ether expression",
            )),
            (t, _) => Err(syntax(pos, format!("unexpected {}", describe(&t)))),
        }
    }

    /// An IPv4 network with an optional `/len` or `mask m` suffix.
    fn mask_suffix(
        &mut self,
        q: Quals,
        v: u32,
        mut mask: u32,
        pos: usize,
    ) -> Result<BExpr, FilterError> {
        let mut explicit = false;
        if self.is_punct("/") {
            self.bump();
            let len = self.number("/")?;
            if len > 32 {
                return Err(invalid(
                    pos,
                    format!("IPv4 prefix length {len} greater than 32"),
                ));
            }
            mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            explicit = true;
        } else if self.is_word("mask") {
            self.bump();
            let mpos = self.pos();
            mask = match self.bump() {
                Tok::Word(w) => match parse_dotted(&w) {
                    Some((m, 32)) => m,
                    _ => return Err(syntax(mpos, "expected a dotted netmask after `mask`")),
                },
                _ => return Err(syntax(mpos, "expected a dotted netmask after `mask`")),
            };
            explicit = true;
        }
        if explicit {
            if q.kind != Some(Kind::Net) {
                return Err(invalid(pos, "mask syntax is for networks only"));
            }
            if v & !mask != 0 {
                return Err(invalid(
                    pos,
                    format!("non-network bits set in `{}`", Ipv4Addr::from(v)),
                ));
            }
        }
        self.host4(q, v, mask, pos)
    }

    /// A service name, like libpcap's `pcap_nametoport`: without a protocol qualifier, a
    /// name known for tcp only (say `ssh`) restricts the test to tcp.
    fn service(
        &self,
        q: Quals,
        name: &str,
        pos: usize,
    ) -> Result<(u32, Option<Proto>), FilterError> {
        let look = |p: &str| names::service(name, p).map(u32::from);
        let unknown = || FilterError::UnknownPort {
            name: name.into(),
            pos,
        };
        match q.proto {
            Some(p @ (Proto::Tcp | Proto::Udp | Proto::Sctp)) => {
                if let Some(n) = look(p.name()) {
                    return Ok((n, Some(p)));
                }
                for other in ["tcp", "udp", "sctp"] {
                    if look(other).is_some() {
                        return Err(invalid(pos, format!("port `{name}` is {other}")));
                    }
                }
                Err(unknown())
            }
            _ => match (look("tcp"), look("udp")) {
                (Some(t), Some(u)) if t == u => Ok((t, q.proto)),
                (Some(t), _) => Ok((t, Some(Proto::Tcp))),
                (None, Some(u)) => Ok((u, Some(Proto::Udp))),
                (None, None) => match look("sctp") {
                    Some(s) => Ok((s, Some(Proto::Sctp))),
                    None => Err(unknown()),
                },
            },
        }
    }

    fn port(&mut self, q: Quals, a: u32, b: u32, pos: usize) -> Result<BExpr, FilterError> {
        for p in [a, b] {
            if p > 65535 {
                return Err(invalid(pos, format!("port number {p} greater than 65535")));
            }
        }
        let dir = q.dir.unwrap_or(Dir::SrcOrDst);
        let (proto, v4, v6) = match q.proto {
            None => (None, true, true),
            Some(p @ (Proto::Tcp | Proto::Udp | Proto::Sctp)) => (p.ipproto(), true, true),
            Some(p) => {
                return Err(invalid(
                    pos,
                    format!(
                        "illegal qualifier of `{}`: `{}`",
                        if q.kind == Some(Kind::Port) {
                            "port"
                        } else {
                            "portrange"
                        },
                        p.name()
                    ),
                ));
            }
        };
        if q.kind == Some(Kind::Port) {
            self.ctx.port(proto, dir, a as u16, pos, v4, v6)
        } else {
            self.ctx
                .portrange(proto, dir, a as u16, b as u16, pos, v4, v6)
        }
    }

    /// An IPv4 host or network under `q`.
    fn host4(&mut self, q: Quals, v: u32, mask: u32, pos: usize) -> Result<BExpr, FilterError> {
        if matches!(
            q.kind,
            Some(Kind::Port | Kind::Portrange | Kind::Proto | Kind::Protochain)
        ) {
            return Err(invalid(pos, "an address is not a port or protocol"));
        }
        let dir = q.dir.unwrap_or(Dir::SrcOrDst);
        let c = &self.ctx;
        let ip = |c: &Ctx| -> Result<BExpr, FilterError> {
            Ok(BExpr::and(
                c.linktype(ETHERTYPE_IP, pos)?,
                c.hostop(v, mask, dir, 12, 16),
            ))
        };
        let arp = |c: &Ctx, et| -> Result<BExpr, FilterError> {
            Ok(BExpr::and(
                c.linktype(et, pos)?,
                c.hostop(v, mask, dir, 14, 24),
            ))
        };
        match q.proto {
            None => {
                if c.mpls_depth > 0 {
                    return ip(c);
                }
                Ok(BExpr::any([
                    ip(c)?,
                    arp(c, ETHERTYPE_ARP)?,
                    arp(c, ETHERTYPE_REVARP)?,
                ]))
            }
            Some(Proto::Ip) => ip(c),
            Some(Proto::Arp) => arp(c, ETHERTYPE_ARP),
            Some(Proto::Rarp) => arp(c, ETHERTYPE_REVARP),
            Some(Proto::Ether) => Err(invalid(pos, "illegal link layer address")),
            Some(p) => Err(invalid(
                pos,
                format!("`{}` modifier applied to host", p.name()),
            )),
        }
    }

    fn host6(
        &mut self,
        q: Quals,
        a: [u32; 4],
        m: [u32; 4],
        dir: Dir,
        pos: usize,
    ) -> Result<BExpr, FilterError> {
        match q.proto {
            None | Some(Proto::Ip6) => Ok(BExpr::and(
                self.ctx.linktype(ETHERTYPE_IPV6, pos)?,
                self.ctx.hostop6(a, m, dir),
            )),
            Some(p) => Err(invalid(
                pos,
                format!("`{}` modifier applied to ip6 host", p.name()),
            )),
        }
    }

    fn host_name(&mut self, q: Quals, name: &str, pos: usize) -> Result<BExpr, FilterError> {
        if q.proto == Some(Proto::Ether) {
            return Err(FilterError::Unsupported {
                pos,
                what: format!("ethernet host names (`{name}`, /etc/ethers)"),
            });
        }
        let addrs = if self.resolve {
            names::host(name)
        } else {
            Vec::new()
        };
        if addrs.is_empty() {
            return Err(FilterError::UnknownHost {
                name: name.into(),
                pos,
            });
        }
        let dir = q.dir.unwrap_or(Dir::SrcOrDst);
        let mut out = BExpr::False;
        let want6 = matches!(q.proto, None | Some(Proto::Ip6));
        let want4 = !matches!(q.proto, Some(Proto::Ip6));
        let mut any = false;
        for a in addrs {
            match a {
                IpAddr::V4(v) if want4 => {
                    out = BExpr::or(out, self.host4(q, u32::from(v), u32::MAX, pos)?);
                    any = true;
                }
                IpAddr::V6(v) if want6 => {
                    out = BExpr::or(out, self.host6(q, v6_words(&v), v6_mask(128), dir, pos)?);
                    any = true;
                }
                _ => {}
            }
        }
        if !any {
            return Err(FilterError::UnknownHost {
                name: name.into(),
                pos,
            });
        }
        Ok(out)
    }

    // ----- arithmetic -----

    fn relation(&mut self) -> Result<BExpr, FilterError> {
        self.arith_ops = 0;
        let mut checks = Vec::new();
        let l = self.arith(0, &mut checks)?;
        let pos = self.pos();
        let op = match self.bump() {
            Tok::Punct(p @ ("=" | "==" | "!=" | "<" | "<=" | ">" | ">=")) => p,
            t => {
                return Err(syntax(
                    pos,
                    format!("expected a comparison, found {}", describe(&t)),
                ));
            }
        };
        let r = self.arith(0, &mut checks)?;
        let l = fold(l, pos)?;
        let r = fold(r, pos)?;
        let test = relation_code(op, l, r, pos)?;
        Ok(BExpr::and(BExpr::all(checks), test))
    }

    /// Precedence climbing; level 0 `|`, 1 `&`, 2 shifts, 3 `+ -`, 4 `* / %`. `^` has no
    /// declared precedence in libpcap's grammar, so it takes everything to its right.
    fn arith(&mut self, level: u8, checks: &mut Vec<BExpr>) -> Result<Arith, FilterError> {
        if level > 4 {
            return self.unary(checks);
        }
        let mut l = self.arith(level + 1, checks)?;
        loop {
            let o = match (level, self.peek()) {
                (0, Tok::Punct("|")) => OR,
                (1, Tok::Punct("&")) => AND,
                (2, Tok::Punct("<<")) => LSH,
                (2, Tok::Punct(">>")) => RSH,
                (3, Tok::Punct("+")) => ADD,
                (3, Tok::Punct("-")) => SUB,
                (4, Tok::Punct("*")) => MUL,
                (4, Tok::Punct("/")) => DIV,
                (4, Tok::Punct("%")) => MOD,
                _ => return Ok(l),
            };
            self.count_op()?;
            self.bump();
            // libpcap's `gen_arth` keeps the protocol checks of the left operand only.
            let r = self.arith(level + 1, &mut Vec::new())?;
            l = Arith::Bin(o, Box::new(l), Box::new(r));
        }
    }

    /// Bounds the size of one relation's arithmetic (the code generator recurses on it).
    fn count_op(&mut self) -> Result<(), FilterError> {
        self.arith_ops += 1;
        if self.arith_ops > MAX_ARITH_OPS {
            return Err(FilterError::TooLarge {
                what: format!(
                    "more than {MAX_ARITH_OPS} arithmetic operators in one comparison (at {})",
                    self.pos()
                ),
            });
        }
        Ok(())
    }

    fn unary(&mut self, checks: &mut Vec<BExpr>) -> Result<Arith, FilterError> {
        self.enter()?;
        let a = if self.is_punct("-") {
            self.bump();
            Arith::Neg(Box::new(self.unary(checks)?))
        } else {
            let a = self.atom(checks)?;
            if self.is_punct("^") {
                self.count_op()?;
                self.bump();
                let r = self.arith(0, &mut Vec::new())?;
                Arith::Bin(XOR, Box::new(a), Box::new(r))
            } else {
                a
            }
        };
        self.leave();
        Ok(a)
    }

    fn atom(&mut self, checks: &mut Vec<BExpr>) -> Result<Arith, FilterError> {
        let pos = self.pos();
        match self.bump() {
            Tok::Num(n) => Ok(Arith::Const(n)),
            Tok::Punct("(") => {
                let a = self.arith(0, checks)?;
                self.expect_punct(")", "to close `(`")?;
                Ok(a)
            }
            Tok::Word(w) if w == "len" => Ok(Arith::Len),
            Tok::Word(w) if Proto::from_word(&w).is_some() && self.is_punct("[") => {
                let p = Proto::from_word(&w).unwrap_or(Proto::Ether);
                self.bump();
                let mut inner = Vec::new();
                let idx = self.arith(0, &mut inner)?;
                let mut size = 1;
                if self.is_punct(":") {
                    self.bump();
                    let spos = self.pos();
                    size = self.number(":")?;
                    if !matches!(size, 1 | 2 | 4) {
                        return Err(invalid(spos, "data size must be 1, 2, or 4"));
                    }
                }
                self.expect_punct("]", "to close `[`")?;
                let size = match size {
                    1 => B,
                    2 => H,
                    _ => W,
                };
                checks.extend(inner);
                let c = &self.ctx;
                let l3 = c.l3();
                let (check, base, transport) = match p {
                    Proto::Ether => (BExpr::True, 0, false),
                    Proto::Ip => (c.linktype(ETHERTYPE_IP, pos)?, l3, false),
                    Proto::Ip6 => (c.linktype(ETHERTYPE_IPV6, pos)?, l3, false),
                    Proto::Arp => (c.linktype(ETHERTYPE_ARP, pos)?, l3, false),
                    Proto::Rarp => (c.linktype(ETHERTYPE_REVARP, pos)?, l3, false),
                    Proto::Icmp6 => (
                        BExpr::and(
                            c.linktype(ETHERTYPE_IPV6, pos)?,
                            cmp(B, l3 + 6, IPPROTO_ICMPV6),
                        ),
                        l3 + 40,
                        false,
                    ),
                    Proto::Ah | Proto::Esp => {
                        return Err(FilterError::Unsupported {
                            pos,
                            what: format!("`{w}[...]`"),
                        });
                    }
                    _ => (
                        BExpr::and(c.ip_proto(p.ipproto().unwrap_or(0), pos)?, c.ipfrag_first()),
                        l3,
                        true,
                    ),
                };
                checks.push(check);
                Ok(Arith::Load {
                    base,
                    transport,
                    idx: Box::new(idx),
                    size,
                })
            }
            Tok::Word(w) | Tok::Escaped(w) => match names::constant(&w) {
                Some(v) => Ok(Arith::Const(v)),
                None => Err(syntax(pos, format!("unknown name `{w}` in arithmetic"))),
            },
            t => Err(syntax(
                pos,
                format!("expected a value, found {}", describe(&t)),
            )),
        }
    }
}

/// Folds constant subexpressions; rejects division by zero and oversized shifts.
fn fold(a: Arith, pos: usize) -> Result<Arith, FilterError> {
    Ok(match a {
        Arith::Bin(o, l, r) => {
            let l = fold(*l, pos)?;
            let r = fold(*r, pos)?;
            if let Arith::Const(k) = r {
                if matches!(o, DIV | MOD) && k == 0 {
                    return Err(invalid(pos, "division by zero"));
                }
                if matches!(o, LSH | RSH) && k > 31 {
                    return Err(invalid(pos, "shift by more than 31 bits"));
                }
            }
            match (&l, &r) {
                (Arith::Const(x), Arith::Const(y)) => Arith::Const(match o {
                    ADD => x.wrapping_add(*y),
                    SUB => x.wrapping_sub(*y),
                    MUL => x.wrapping_mul(*y),
                    DIV => x / y,
                    MOD => x % y,
                    AND => x & y,
                    OR => x | y,
                    XOR => x ^ y,
                    LSH => x << y,
                    _ => x >> y,
                }),
                _ => Arith::Bin(o, Box::new(l), Box::new(r)),
            }
        }
        Arith::Neg(x) => match fold(*x, pos)? {
            Arith::Const(k) => Arith::Const(k.wrapping_neg()),
            x => Arith::Neg(Box::new(x)),
        },
        Arith::Load {
            base,
            transport,
            idx,
            size,
        } => Arith::Load {
            base,
            transport,
            idx: Box::new(fold(*idx, pos)?),
            size,
        },
        a => a,
    })
}

/// Emits code leaving `a` in A, using scratch words from `t` up.
fn gen_arith(a: &Arith, out: &mut Vec<Insn>, t: u32, pos: usize) -> Result<(), FilterError> {
    // M[13..16] are reserved for `protochain`.
    if t >= MEMWORDS - 3 {
        return Err(FilterError::TooLarge {
            what: format!("arithmetic nested too deeply for 16 scratch registers (at {pos})"),
        });
    }
    match a {
        Arith::Const(k) => out.push(Insn::stmt(LD | IMM, *k)),
        Arith::Len => out.push(Insn::stmt(LD | W | LEN, 0)),
        Arith::Load {
            base,
            transport,
            idx,
            size,
        } => match (&**idx, transport) {
            (Arith::Const(i), false) => {
                out.push(Insn::stmt(LD | size | ABS, base.wrapping_add(*i)))
            }
            (Arith::Const(i), true) => {
                out.push(Insn::stmt(LDX | B | MSH, *base));
                out.push(Insn::stmt(LD | size | IND, base.wrapping_add(*i)));
            }
            (e, false) => {
                gen_arith(e, out, t, pos)?;
                out.push(Insn::stmt(MISC | TAX, 0));
                out.push(Insn::stmt(LD | size | IND, *base));
            }
            (e, true) => {
                gen_arith(e, out, t, pos)?;
                out.push(Insn::stmt(ST, t));
                out.push(Insn::stmt(LDX | B | MSH, *base));
                out.push(Insn::stmt(LD | MEM, t));
                out.push(Insn::stmt(ALU | ADD | X, 0));
                out.push(Insn::stmt(MISC | TAX, 0));
                out.push(Insn::stmt(LD | size | IND, *base));
            }
        },
        Arith::Bin(o, l, r) => {
            gen_arith(l, out, t, pos)?;
            if let Arith::Const(k) = **r {
                // Identities (`& 0xffffffff`, `+ 0`, `* 1`, ...) need no instruction.
                let identity = match *o {
                    AND => k == u32::MAX,
                    ADD | SUB | OR | XOR | LSH | RSH => k == 0,
                    MUL | DIV => k == 1,
                    _ => false,
                };
                if !identity {
                    out.push(Insn::stmt(ALU | o | K, k));
                }
            } else {
                out.push(Insn::stmt(ST, t));
                gen_arith(r, out, t + 1, pos)?;
                out.push(Insn::stmt(MISC | TAX, 0));
                out.push(Insn::stmt(LD | MEM, t));
                out.push(Insn::stmt(ALU | o | X, 0));
            }
        }
        Arith::Neg(x) => {
            gen_arith(x, out, t, pos)?;
            out.push(Insn::stmt(ALU | NEG, 0));
        }
    }
    Ok(())
}

/// The test for `l op r`.
fn relation_code(op: &str, l: Arith, r: Arith, pos: usize) -> Result<BExpr, FilterError> {
    // Constant on the left: mirror the comparison.
    let (op, l, r) = match (&l, &r) {
        (Arith::Const(_), r2) if !matches!(r2, Arith::Const(_)) => {
            let m = match op {
                "<" => ">",
                "<=" => ">=",
                ">" => "<",
                ">=" => "<=",
                o => o,
            };
            (m, r, l)
        }
        _ => (op, l, r),
    };
    let (jop, negate) = match op {
        "=" | "==" => (JEQ, false),
        "!=" => (JEQ, true),
        ">" => (JGT, false),
        ">=" => (JGE, false),
        "<" => (JGE, true),
        _ => (JGT, true),
    };
    let wrap = |b: BExpr| if negate { BExpr::not(b) } else { b };
    if let (Arith::Const(a), Arith::Const(b)) = (&l, &r) {
        let v = match jop {
            JEQ => a == b,
            JGT => a > b,
            _ => a >= b,
        };
        return Ok(wrap(if v { BExpr::True } else { BExpr::False }));
    }
    let mut stmts = Vec::new();
    if let Arith::Const(k) = r {
        // `(e & m) == 0` / `!= 0` is a `jset`.
        if jop == JEQ
            && k == 0
            && let Arith::Bin(AND, e, m) = &l
            && let Arith::Const(m) = **m
        {
            gen_arith(e, &mut stmts, 0, pos)?;
            let b = BExpr::test(stmts, JSET, m);
            return Ok(if negate { b } else { BExpr::not(b) });
        }
        gen_arith(&l, &mut stmts, 0, pos)?;
        return Ok(wrap(BExpr::test(stmts, jop, k)));
    }
    gen_arith(&l, &mut stmts, 0, pos)?;
    stmts.push(Insn::stmt(ST, 0));
    gen_arith(&r, &mut stmts, 1, pos)?;
    stmts.push(Insn::stmt(MISC | TAX, 0));
    stmts.push(Insn::stmt(LD | MEM, 0));
    Ok(wrap(BExpr::Leaf(super::codegen::Leaf {
        stmts,
        code: JMP | jop | X,
        k: 0,
        pure: true,
    })))
}
