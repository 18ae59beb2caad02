//! The classic BPF interpreter.
//!
//! Semantics follow the kernel (`net/core/filter.c`) and libpcap's `bpf_filter`: a packet
//! load past the end of the captured bytes, or a division by a zero `X`, ends the program
//! with 0 (reject). The interpreter never panics, even on a program that was not validated:
//! a jump out of the program or a fall-through past the end also returns 0.

use super::insn::{Insn, class, op::*};

/// Per-packet metadata that the kernel keeps outside the frame bytes (in the socket
/// buffer) and that classic BPF reads with ancillary loads (`SKF_AD_*`).
///
/// The kernel strips the outer 802.1Q/802.1ad tag from frames before AF_PACKET sees them and
/// keeps it here (`tp_vlan_tci`, `tp_vlan_tpid` in the ring headers).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PacketMeta {
    /// The stripped outer VLAN tag control information, if the frame had one
    /// (`SKF_AD_VLAN_TAG`, `SKF_AD_VLAN_TAG_PRESENT`).
    pub vlan_tci: Option<u16>,
    /// The stripped tag's protocol identifier, e.g. 0x8100 (`SKF_AD_VLAN_TPID`).
    pub vlan_tpid: u16,
    /// The frame's EtherType in host order (`SKF_AD_PROTOCOL`).
    pub protocol: u16,
    /// The packet type (`PACKET_HOST`, `PACKET_OUTGOING`, ...; `SKF_AD_PKTTYPE`).
    pub pkt_type: u8,
    /// The receiving interface index (`SKF_AD_IFINDEX`).
    pub ifindex: u32,
    /// The socket-buffer mark (`SKF_AD_MARK`).
    pub mark: u32,
    /// The receive queue (`SKF_AD_QUEUE`).
    pub queue: u16,
    /// The device's hardware type, e.g. 1 for Ethernet (`SKF_AD_HATYPE`).
    pub hatype: u16,
    /// The flow hash (`SKF_AD_RXHASH`).
    pub rxhash: u32,
    /// The CPU that runs the filter (`SKF_AD_CPU`).
    pub cpu: u32,
}

#[inline(always)]
fn load(pkt: &[u8], off: u32, size: u16) -> Option<u32> {
    let off = off as usize;
    match size {
        W => {
            let b: &[u8; 4] = pkt.get(off..off.checked_add(4)?)?.try_into().ok()?;
            Some(u32::from_be_bytes(*b))
        }
        H => {
            let b: &[u8; 2] = pkt.get(off..off.checked_add(2)?)?.try_into().ok()?;
            Some(u32::from(u16::from_be_bytes(*b)))
        }
        _ => pkt.get(off).map(|&b| u32::from(b)),
    }
}

fn ancillary(k: u32, a: u32, x: u32, wire_len: u32, meta: &PacketMeta) -> Option<u32> {
    Some(match k - SKF_AD_OFF {
        SKF_AD_PROTOCOL => u32::from(meta.protocol),
        SKF_AD_PKTTYPE => u32::from(meta.pkt_type),
        SKF_AD_IFINDEX => meta.ifindex,
        SKF_AD_MARK => meta.mark,
        SKF_AD_QUEUE => u32::from(meta.queue),
        SKF_AD_HATYPE => u32::from(meta.hatype),
        SKF_AD_RXHASH => meta.rxhash,
        SKF_AD_CPU => meta.cpu,
        SKF_AD_ALU_XOR_X => a ^ x,
        SKF_AD_VLAN_TAG => u32::from(meta.vlan_tci.unwrap_or(0)),
        SKF_AD_VLAN_TAG_PRESENT => u32::from(meta.vlan_tci.is_some()),
        SKF_AD_VLAN_TPID => u32::from(meta.vlan_tpid),
        // A deterministic stand-in: tests must be reproducible.
        SKF_AD_RANDOM => wire_len.wrapping_mul(0x9e37_79b9),
        // Netlink attributes and the flow dissector's payload offset are not modelled.
        _ => return None,
    })
}

/// Runs `prog` on `pkt` (the captured bytes) whose length on the wire was `wire_len`.
/// Returns the program's return value: 0 rejects, anything else accepts (the kernel keeps
/// that many bytes of the packet).
pub fn run(prog: &[Insn], pkt: &[u8], wire_len: u32, meta: &PacketMeta) -> u32 {
    let mut a: u32 = 0;
    let mut x: u32 = 0;
    let mut mem = [0u32; MEMWORDS as usize];
    let mut pc: usize = 0;
    // Every instruction moves `pc` forward, so this loop runs at most `prog.len()` times.
    loop {
        let Some(&i) = prog.get(pc) else { return 0 };
        pc += 1;
        let k = i.k;
        match class(i.code) {
            LD => {
                let size = i.code & 0x18;
                a = match i.code & 0xe0 {
                    ABS if k >= SKF_AD_OFF => match ancillary(k, a, x, wire_len, meta) {
                        Some(v) => v,
                        None => return 0,
                    },
                    ABS => match load(pkt, k, size) {
                        Some(v) => v,
                        None => return 0,
                    },
                    IND => match x.checked_add(k).and_then(|o| load(pkt, o, size)) {
                        Some(v) => v,
                        None => return 0,
                    },
                    LEN => wire_len,
                    IMM => k,
                    MEM => match mem.get(k as usize) {
                        Some(&v) => v,
                        None => return 0,
                    },
                    _ => return 0,
                };
            }
            LDX => {
                x = match i.code & 0xe0 {
                    IMM => k,
                    MEM => match mem.get(k as usize) {
                        Some(&v) => v,
                        None => return 0,
                    },
                    LEN => wire_len,
                    MSH => match load(pkt, k, B) {
                        Some(v) => (v & 0xf) << 2,
                        None => return 0,
                    },
                    _ => return 0,
                };
            }
            ST => match mem.get_mut(k as usize) {
                Some(m) => *m = a,
                None => return 0,
            },
            STX => match mem.get_mut(k as usize) {
                Some(m) => *m = x,
                None => return 0,
            },
            ALU => {
                let v = if i.code & X != 0 { x } else { k };
                a = match i.code & 0xf0 {
                    ADD => a.wrapping_add(v),
                    SUB => a.wrapping_sub(v),
                    MUL => a.wrapping_mul(v),
                    DIV => match a.checked_div(v) {
                        Some(r) => r,
                        None => return 0,
                    },
                    MOD => match a.checked_rem(v) {
                        Some(r) => r,
                        None => return 0,
                    },
                    AND => a & v,
                    OR => a | v,
                    XOR => a ^ v,
                    LSH => a.checked_shl(v).unwrap_or(0),
                    RSH => a.checked_shr(v).unwrap_or(0),
                    NEG => a.wrapping_neg(),
                    _ => return 0,
                };
            }
            JMP => {
                let v = if i.code & X != 0 { x } else { k };
                let taken = match i.code & 0xf0 {
                    JA => {
                        pc = match usize::try_from(k).ok().and_then(|k| pc.checked_add(k)) {
                            Some(p) => p,
                            None => return 0,
                        };
                        continue;
                    }
                    JEQ => a == v,
                    JGT => a > v,
                    JGE => a >= v,
                    JSET => a & v != 0,
                    _ => return 0,
                };
                pc += usize::from(if taken { i.jt } else { i.jf });
            }
            RET => {
                return match i.code & 0x18 {
                    K => k,
                    A => a,
                    X => x,
                    _ => 0,
                };
            }
            _ => match i.code {
                c if c == MISC | TXA => a = x,
                c if c == MISC | TAX => x = a,
                _ => return 0,
            },
        }
    }
}

/// An instruction decoded once, with absolute jump targets: what [`Decoded`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    LdW(u32),
    LdH(u32),
    LdB(u32),
    LdIndW(u32),
    LdIndH(u32),
    LdIndB(u32),
    LdAnc(u32),
    LdLen,
    LdImm(u32),
    LdMem(usize),
    LdxImm(u32),
    LdxMem(usize),
    LdxLen,
    LdxMsh(u32),
    St(usize),
    Stx(usize),
    Add(u32),
    Sub(u32),
    Mul(u32),
    Div(u32),
    Mod(u32),
    And(u32),
    Or(u32),
    Xor(u32),
    Lsh(u32),
    Rsh(u32),
    AluX(u16),
    Neg,
    Ja(usize),
    Jeq(u32, usize, usize),
    Jgt(u32, usize, usize),
    Jge(u32, usize, usize),
    Jset(u32, usize, usize),
    JmpX(u16, usize, usize),
    RetK(u32),
    RetA,
    Tax,
    Txa,
    /// Anything else (never present in a validated program): rejects.
    Bad,
}

/// A program decoded for faster interpretation; same results as [`run`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    ops: Vec<Op>,
}

impl Decoded {
    /// Decodes `prog`. Jumps out of the program decode to a rejecting instruction.
    pub fn new(prog: &[Insn]) -> Decoded {
        let n = prog.len();
        let tgt = |pc: usize, off: u64| -> usize {
            let t = pc as u64 + 1 + off;
            if t < n as u64 { t as usize } else { n }
        };
        let ops = prog
            .iter()
            .enumerate()
            .map(|(pc, i)| {
                let k = i.k;
                let (t, f) = (tgt(pc, u64::from(i.jt)), tgt(pc, u64::from(i.jf)));
                let mem = k as usize;
                match i.code {
                    c if c == LD | W | ABS && k >= SKF_AD_OFF => Op::LdAnc(k),
                    c if c == LD | H | ABS && k >= SKF_AD_OFF => Op::LdAnc(k),
                    c if c == LD | B | ABS && k >= SKF_AD_OFF => Op::LdAnc(k),
                    c if c == LD | W | ABS => Op::LdW(k),
                    c if c == LD | H | ABS => Op::LdH(k),
                    c if c == LD | B | ABS => Op::LdB(k),
                    c if c == LD | W | IND => Op::LdIndW(k),
                    c if c == LD | H | IND => Op::LdIndH(k),
                    c if c == LD | B | IND => Op::LdIndB(k),
                    c if c == LD | W | LEN => Op::LdLen,
                    c if c == LD | IMM => Op::LdImm(k),
                    c if c == LD | MEM && mem < 16 => Op::LdMem(mem),
                    c if c == LDX | IMM => Op::LdxImm(k),
                    c if c == LDX | MEM && mem < 16 => Op::LdxMem(mem),
                    c if c == LDX | W | LEN => Op::LdxLen,
                    c if c == LDX | B | MSH => Op::LdxMsh(k),
                    c if c == ST && mem < 16 => Op::St(mem),
                    c if c == STX && mem < 16 => Op::Stx(mem),
                    c if c == ALU | NEG => Op::Neg,
                    c if class(c) == ALU && c & X != 0 => Op::AluX(c & 0xf0),
                    c if class(c) == ALU => match c & 0xf0 {
                        ADD => Op::Add(k),
                        SUB => Op::Sub(k),
                        MUL => Op::Mul(k),
                        DIV if k != 0 => Op::Div(k),
                        MOD if k != 0 => Op::Mod(k),
                        AND => Op::And(k),
                        OR => Op::Or(k),
                        XOR => Op::Xor(k),
                        LSH => Op::Lsh(k),
                        RSH => Op::Rsh(k),
                        _ => Op::Bad,
                    },
                    c if c == JMP | JA => Op::Ja(tgt(pc, u64::from(k))),
                    c if c == JMP | JEQ | K => Op::Jeq(k, t, f),
                    c if c == JMP | JGT | K => Op::Jgt(k, t, f),
                    c if c == JMP | JGE | K => Op::Jge(k, t, f),
                    c if c == JMP | JSET | K => Op::Jset(k, t, f),
                    c if class(c) == JMP && c & X != 0 => Op::JmpX(c & 0xf0, t, f),
                    c if c == RET | K => Op::RetK(k),
                    c if c == RET | A => Op::RetA,
                    c if c == MISC | TAX => Op::Tax,
                    c if c == MISC | TXA => Op::Txa,
                    _ => Op::Bad,
                }
            })
            .collect();
        Decoded { ops }
    }

    /// Runs the program; see [`run`].
    pub fn run(&self, pkt: &[u8], wire_len: u32, meta: &PacketMeta) -> u32 {
        let ops = &self.ops[..];
        let mut a: u32 = 0;
        let mut x: u32 = 0;
        let mut mem = [0u32; MEMWORDS as usize];
        let mut pc = 0usize;
        macro_rules! ld {
            ($e:expr) => {
                match $e {
                    Some(v) => v,
                    None => return 0,
                }
            };
        }
        // Jumps only go forward, so this loop ends.
        loop {
            let Some(&op) = ops.get(pc) else { return 0 };
            pc += 1;
            match op {
                Op::LdW(k) => a = ld!(load(pkt, k, W)),
                Op::LdH(k) => a = ld!(load(pkt, k, H)),
                Op::LdB(k) => a = ld!(load(pkt, k, B)),
                Op::LdIndW(k) => a = ld!(x.checked_add(k).and_then(|o| load(pkt, o, W))),
                Op::LdIndH(k) => a = ld!(x.checked_add(k).and_then(|o| load(pkt, o, H))),
                Op::LdIndB(k) => a = ld!(x.checked_add(k).and_then(|o| load(pkt, o, B))),
                Op::LdAnc(k) => a = ld!(ancillary(k, a, x, wire_len, meta)),
                Op::LdLen => a = wire_len,
                Op::LdImm(k) => a = k,
                Op::LdMem(i) => a = mem[i & 15],
                Op::LdxImm(k) => x = k,
                Op::LdxMem(i) => x = mem[i & 15],
                Op::LdxLen => x = wire_len,
                Op::LdxMsh(k) => x = (ld!(load(pkt, k, B)) & 0xf) << 2,
                Op::St(i) => mem[i & 15] = a,
                Op::Stx(i) => mem[i & 15] = x,
                Op::Add(k) => a = a.wrapping_add(k),
                Op::Sub(k) => a = a.wrapping_sub(k),
                Op::Mul(k) => a = a.wrapping_mul(k),
                Op::Div(k) => a = ld!(a.checked_div(k)),
                Op::Mod(k) => a = ld!(a.checked_rem(k)),
                Op::And(k) => a &= k,
                Op::Or(k) => a |= k,
                Op::Xor(k) => a ^= k,
                Op::Lsh(k) => a = a.checked_shl(k).unwrap_or(0),
                Op::Rsh(k) => a = a.checked_shr(k).unwrap_or(0),
                Op::AluX(o) => {
                    a = match o {
                        ADD => a.wrapping_add(x),
                        SUB => a.wrapping_sub(x),
                        MUL => a.wrapping_mul(x),
                        DIV => ld!(a.checked_div(x)),
                        MOD => ld!(a.checked_rem(x)),
                        AND => a & x,
                        OR => a | x,
                        XOR => a ^ x,
                        LSH => a.checked_shl(x).unwrap_or(0),
                        RSH => a.checked_shr(x).unwrap_or(0),
                        _ => return 0,
                    }
                }
                Op::Neg => a = a.wrapping_neg(),
                Op::Ja(t) => pc = t,
                Op::Jeq(k, t, f) => pc = if a == k { t } else { f },
                Op::Jgt(k, t, f) => pc = if a > k { t } else { f },
                Op::Jge(k, t, f) => pc = if a >= k { t } else { f },
                Op::Jset(k, t, f) => pc = if a & k != 0 { t } else { f },
                Op::JmpX(o, t, f) => {
                    let taken = match o {
                        JEQ => a == x,
                        JGT => a > x,
                        JGE => a >= x,
                        _ => a & x != 0,
                    };
                    pc = if taken { t } else { f };
                }
                Op::RetK(k) => return k,
                Op::RetA => return a,
                Op::Tax => x = a,
                Op::Txa => a = x,
                Op::Bad => return 0,
            }
        }
    }
}
