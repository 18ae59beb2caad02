//! Classic BPF instructions: encoding constants, `tcpdump -d` style printing, and the
//! validator that mirrors the kernel's `bpf_check_classic` (net/core/filter.c).

use std::fmt;

use super::super::FilterError;

/// One classic BPF instruction, laid out exactly like Linux `struct sock_filter`
/// (`linux/filter.h`): `{ __u16 code; __u8 jt; __u8 jf; __u32 k; }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(C)]
pub struct Insn {
    /// Opcode: class | size | mode (loads), class | op | source (ALU, jumps).
    pub code: u16,
    /// Jump offset when the condition holds (relative to the next instruction).
    pub jt: u8,
    /// Jump offset when the condition does not hold.
    pub jf: u8,
    /// The generic operand: constant, packet offset, scratch index, jump offset or return value.
    pub k: u32,
}

impl Insn {
    /// A non-jump instruction (`BPF_STMT`).
    pub const fn stmt(code: u16, k: u32) -> Insn {
        Insn {
            code,
            jt: 0,
            jf: 0,
            k,
        }
    }
    /// A jump instruction (`BPF_JUMP`).
    pub const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> Insn {
        Insn { code, jt, jf, k }
    }
}

/// Opcode constants from `linux/bpf_common.h` and `linux/filter.h`.
#[allow(missing_docs)]
pub mod op {
    pub const LD: u16 = 0x00;
    pub const LDX: u16 = 0x01;
    pub const ST: u16 = 0x02;
    pub const STX: u16 = 0x03;
    pub const ALU: u16 = 0x04;
    pub const JMP: u16 = 0x05;
    pub const RET: u16 = 0x06;
    pub const MISC: u16 = 0x07;

    pub const W: u16 = 0x00;
    pub const H: u16 = 0x08;
    pub const B: u16 = 0x10;

    pub const IMM: u16 = 0x00;
    pub const ABS: u16 = 0x20;
    pub const IND: u16 = 0x40;
    pub const MEM: u16 = 0x60;
    pub const LEN: u16 = 0x80;
    pub const MSH: u16 = 0xa0;

    pub const ADD: u16 = 0x00;
    pub const SUB: u16 = 0x10;
    pub const MUL: u16 = 0x20;
    pub const DIV: u16 = 0x30;
    pub const OR: u16 = 0x40;
    pub const AND: u16 = 0x50;
    pub const LSH: u16 = 0x60;
    pub const RSH: u16 = 0x70;
    pub const NEG: u16 = 0x80;
    pub const MOD: u16 = 0x90;
    pub const XOR: u16 = 0xa0;

    pub const JA: u16 = 0x00;
    pub const JEQ: u16 = 0x10;
    pub const JGT: u16 = 0x20;
    pub const JGE: u16 = 0x30;
    pub const JSET: u16 = 0x40;

    pub const K: u16 = 0x00;
    pub const X: u16 = 0x08;
    /// `BPF_RET | BPF_A`.
    pub const A: u16 = 0x10;

    pub const TAX: u16 = 0x00;
    pub const TXA: u16 = 0x80;

    /// Scratch memory words (`BPF_MEMWORDS`).
    pub const MEMWORDS: u32 = 16;
    /// Longest program the kernel accepts (`BPF_MAXINSNS`).
    pub const MAXINSNS: usize = 4096;

    /// `SKF_AD_OFF`: loads at `k >= SKF_AD_OFF` read socket-buffer metadata (ancillary data).
    pub const SKF_AD_OFF: u32 = (-0x1000i32) as u32;
    pub const SKF_AD_PROTOCOL: u32 = 0;
    pub const SKF_AD_PKTTYPE: u32 = 4;
    pub const SKF_AD_IFINDEX: u32 = 8;
    pub const SKF_AD_NLATTR: u32 = 12;
    pub const SKF_AD_NLATTR_NEST: u32 = 16;
    pub const SKF_AD_MARK: u32 = 20;
    pub const SKF_AD_QUEUE: u32 = 24;
    pub const SKF_AD_HATYPE: u32 = 28;
    pub const SKF_AD_RXHASH: u32 = 32;
    pub const SKF_AD_CPU: u32 = 36;
    pub const SKF_AD_ALU_XOR_X: u32 = 40;
    pub const SKF_AD_VLAN_TAG: u32 = 44;
    pub const SKF_AD_VLAN_TAG_PRESENT: u32 = 48;
    pub const SKF_AD_PAY_OFFSET: u32 = 52;
    pub const SKF_AD_RANDOM: u32 = 56;
    pub const SKF_AD_VLAN_TPID: u32 = 60;
    /// One past the last ancillary offset this crate knows.
    pub const SKF_AD_MAX: u32 = 64;
}

use op::*;

/// The class bits of an opcode.
pub(crate) const fn class(code: u16) -> u16 {
    code & 0x07
}

fn anc_name(k: u32) -> Option<&'static str> {
    if k < SKF_AD_OFF {
        return None;
    }
    Some(match k - SKF_AD_OFF {
        SKF_AD_PROTOCOL => "proto",
        SKF_AD_PKTTYPE => "type",
        SKF_AD_IFINDEX => "ifidx",
        SKF_AD_NLATTR => "nla",
        SKF_AD_NLATTR_NEST => "nlan",
        SKF_AD_MARK => "mark",
        SKF_AD_QUEUE => "queue",
        SKF_AD_HATYPE => "hatype",
        SKF_AD_RXHASH => "rxhash",
        SKF_AD_CPU => "cpu",
        SKF_AD_ALU_XOR_X => "xor_x",
        SKF_AD_VLAN_TAG => "vlan_tci",
        SKF_AD_VLAN_TAG_PRESENT => "vlanp",
        SKF_AD_PAY_OFFSET => "poff",
        SKF_AD_RANDOM => "random",
        SKF_AD_VLAN_TPID => "vlan_tpid",
        _ => return None,
    })
}

/// Mnemonic and operand of one instruction, as libpcap's `bpf_image` prints them.
fn image(insn: &Insn, pc: usize) -> (String, String) {
    let k = insn.k;
    let s = |x: &str| x.to_string();
    let abs = |k: u32| match anc_name(k) {
        Some(n) => format!("[{n}]"),
        None => format!("[{k}]"),
    };
    let (m, o) = match insn.code {
        c if c == RET | K => (s("ret"), format!("#{k}")),
        c if c == RET | A => (s("ret"), s("a")),
        c if c == LD | W | ABS => (s("ld"), abs(k)),
        c if c == LD | H | ABS => (s("ldh"), abs(k)),
        c if c == LD | B | ABS => (s("ldb"), abs(k)),
        c if c == LD | W | LEN => (s("ld"), s("#pktlen")),
        c if c == LD | W | IND => (s("ld"), format!("[x + {k}]")),
        c if c == LD | H | IND => (s("ldh"), format!("[x + {k}]")),
        c if c == LD | B | IND => (s("ldb"), format!("[x + {k}]")),
        c if c == LD | IMM => (s("ld"), format!("#0x{k:x}")),
        c if c == LDX | IMM => (s("ldx"), format!("#0x{k:x}")),
        c if c == LDX | B | MSH => (s("ldxb"), format!("4*([{k}]&0xf)")),
        c if c == LD | MEM => (s("ld"), format!("M[{k}]")),
        c if c == LDX | MEM => (s("ldx"), format!("M[{k}]")),
        c if c == LDX | W | LEN => (s("ldx"), s("#pktlen")),
        c if c == ST => (s("st"), format!("M[{k}]")),
        c if c == STX => (s("stx"), format!("M[{k}]")),
        c if c == JMP | JA => (
            s("ja"),
            format!("{}", (pc as u64 + 1).wrapping_add(u64::from(k))),
        ),
        c if c == MISC | TAX => (s("tax"), String::new()),
        c if c == MISC | TXA => (s("txa"), String::new()),
        c if class(c) == JMP => {
            let m = match c & 0xf0 {
                JEQ => "jeq",
                JGT => "jgt",
                JGE => "jge",
                JSET => "jset",
                _ => "unimp",
            };
            let o = if c & X != 0 {
                s("x")
            } else {
                format!("#0x{k:x}")
            };
            (s(m), o)
        }
        c if class(c) == ALU => {
            let m = match c & 0xf0 {
                ADD => "add",
                SUB => "sub",
                MUL => "mul",
                DIV => "div",
                MOD => "mod",
                AND => "and",
                OR => "or",
                XOR => "xor",
                LSH => "lsh",
                RSH => "rsh",
                NEG => "neg",
                _ => "unimp",
            };
            let o = if c & 0xf0 == NEG {
                String::new()
            } else if c & X != 0 {
                s("x")
            } else if matches!(c & 0xf0, AND | OR | XOR) {
                format!("#0x{k:x}")
            } else {
                format!("#{k}")
            };
            (s(m), o)
        }
        c => (s("unimp"), format!("0x{c:x}")),
    };
    (m, o)
}

/// Formats one instruction at index `pc` like `tcpdump -d` (libpcap's `bpf_image`).
pub fn format_insn(insn: &Insn, pc: usize) -> String {
    let (m, o) = image(insn, pc);
    if class(insn.code) == JMP && insn.code != JMP | JA {
        format!(
            "({pc:03}) {m:<8} {o:<16} jt {}\tjf {}",
            pc + 1 + insn.jt as usize,
            pc + 1 + insn.jf as usize
        )
    } else {
        format!("({pc:03}) {m:<8} {o}")
    }
}

impl fmt::Display for Insn {
    /// Prints the instruction as if it were at index 0 (see [`format_insn`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_insn(self, 0))
    }
}

fn invalid(pc: usize, reason: impl Into<String>) -> FilterError {
    FilterError::InvalidProgram {
        pc,
        reason: reason.into(),
    }
}

/// Checks a program the way the kernel's `bpf_check_classic` does: known opcodes only,
/// 1..=4096 instructions, jumps forward and in range, no division or modulo by constant
/// zero, no constant shift of 32 or more, scratch indexes below 16, no read of a scratch
/// word that is not written on every path to it, and a `ret` as last instruction.
pub fn validate(insns: &[Insn]) -> Result<(), FilterError> {
    let len = insns.len();
    if len == 0 {
        return Err(invalid(0, "empty program"));
    }
    if len > MAXINSNS {
        return Err(invalid(len, format!("longer than {MAXINSNS} instructions")));
    }
    for (pc, i) in insns.iter().enumerate() {
        let c = i.code;
        let ok = match class(c) {
            LD => matches!(
                c,
                _ if c == LD | W | ABS
                    || c == LD | H | ABS
                    || c == LD | B | ABS
                    || c == LD | W | IND
                    || c == LD | H | IND
                    || c == LD | B | IND
                    || c == LD | W | LEN
                    || c == LD | IMM
                    || c == LD | MEM
            ),
            LDX => c == LDX | IMM || c == LDX | MEM || c == LDX | W | LEN || c == LDX | B | MSH,
            ST => c == ST,
            STX => c == STX,
            ALU => {
                let o = c & 0xf0;
                let known = matches!(
                    o,
                    ADD | SUB | MUL | DIV | MOD | AND | OR | XOR | LSH | RSH | NEG
                );
                known && c & !0xf8 == ALU && (o != NEG || c & X == 0)
            }
            JMP => {
                let o = c & 0xf0;
                matches!(o, JA | JEQ | JGT | JGE | JSET)
                    && c & !0xf8 == JMP
                    && (o != JA || c & X == 0)
            }
            RET => c == RET | K || c == RET | A,
            _ => c == MISC | TAX || c == MISC | TXA,
        };
        if !ok {
            return Err(invalid(pc, format!("unknown opcode 0x{c:04x}")));
        }
        match class(c) {
            ALU if c & X == 0 => {
                let o = c & 0xf0;
                if matches!(o, DIV | MOD) && i.k == 0 {
                    return Err(invalid(pc, "division by constant zero"));
                }
                if matches!(o, LSH | RSH) && i.k >= 32 {
                    return Err(invalid(pc, "shift by 32 bits or more"));
                }
            }
            LD | LDX if c & 0xe0 == MEM && i.k >= MEMWORDS => {
                return Err(invalid(pc, "scratch memory index out of range"));
            }
            ST | STX if i.k >= MEMWORDS => {
                return Err(invalid(pc, "scratch memory index out of range"));
            }
            JMP => {
                if c == JMP | JA {
                    if u64::from(i.k) >= (len - pc - 1) as u64 {
                        return Err(invalid(pc, "jump out of range"));
                    }
                } else if pc + 1 + i.jt as usize >= len || pc + 1 + i.jf as usize >= len {
                    return Err(invalid(pc, "jump out of range"));
                }
            }
            _ => {}
        }
    }
    if class(insns[len - 1].code) != RET {
        return Err(invalid(len - 1, "the last instruction is not a ret"));
    }
    check_scratch(insns)
}

/// The kernel's `check_load_and_stores`: every scratch read must follow a write of that
/// word on all paths. Like the kernel, the state also flows linearly past a `ret` (so
/// unreachable code after a `ret` is checked too), and is reset after a jump.
fn check_scratch(insns: &[Insn]) -> Result<(), FilterError> {
    let len = insns.len();
    let mut masks = vec![u16::MAX; len];
    let mut valid: u16 = 0;
    for (pc, i) in insns.iter().enumerate() {
        valid &= masks[pc];
        match class(i.code) {
            ST | STX => valid |= 1 << i.k,
            LD | LDX if i.code & 0xe0 == MEM && valid & (1 << i.k) == 0 => {
                return Err(invalid(pc, "read of an uninitialised scratch word"));
            }
            JMP if i.code == JMP | JA => {
                masks[pc + 1 + i.k as usize] &= valid;
                valid = u16::MAX;
            }
            JMP => {
                masks[pc + 1 + i.jt as usize] &= valid;
                masks[pc + 1 + i.jf as usize] &= valid;
                valid = u16::MAX;
            }
            _ => {}
        }
    }
    Ok(())
}
