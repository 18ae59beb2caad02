//! Kernel offload: a rule set that only forwards or drops, compiled to classic BPF.
//!
//! [`compile`] turns the exact rules, the wildcard rules (ascending id) and the default
//! policy into one classic BPF program; [`combine`] puts it after the application's BPF
//! filter (both must accept). The ring attaches the result with `SO_ATTACH_FILTER`, so
//! dropped packets never reach the ring and cost no capture CPU.
//!
//! The program first extracts the fields the engine matches on into scratch memory, the
//! way [`crate::parse`] does at level 4 (protocol, ports only for TCP / UDP / SCTP first
//! fragments whose header is complete, VLAN id from the socket-buffer metadata on
//! [`Target::Kernel`]), then tests the rules one block each: a block returns its verdict on
//! a match and falls through to the next block otherwise.
//!
//! Frames whose headers classic BPF cannot walk like the parser (shorter than an Ethernet
//! header; 802.1Q / 802.1ad tags left in the bytes; IPv4 with a header length below 20 or
//! an authentication header; IPv6 with extension headers or "no next header") are accepted
//! by the program and decided by the library's engine: [`needs_library`] recognises them
//! from the same bytes. So both paths give the same verdict for every packet (tested on the
//! shared pcap files and live).

use crate::filter::bpf::insn::op::*;
use crate::filter::{ACCEPT, Insn, Program, Target};
use crate::parse::IpAddress;

use super::{FilteringPolicy, FilteringRule, HashFilteringRule, RuleAction, RuleSet};

/// Scratch words: protocol, source port, destination port, IP version, VLAN id, VLAN id.
const M_PROTO: u32 = 0;
const M_SPORT: u32 = 1;
const M_DPORT: u32 = 2;
const M_IPV: u32 = 3;
const M_VLAN: u32 = 4;

/// Where a conditional branch goes.
#[derive(Clone, Copy)]
enum T {
    /// The next instruction.
    Next,
    /// A label.
    L(usize),
}

#[derive(Default)]
struct Asm {
    insns: Vec<Insn>,
    /// (pc, true target, false target) of conditional jumps, (pc, target) of `ja`.
    cond: Vec<(usize, T, T)>,
    ja: Vec<(usize, usize)>,
    labels: Vec<Option<usize>>,
}

impl Asm {
    fn label(&mut self) -> usize {
        self.labels.push(None);
        self.labels.len() - 1
    }
    fn place(&mut self, l: usize) {
        self.labels[l] = Some(self.insns.len());
    }
    fn s(&mut self, code: u16, k: u32) {
        self.insns.push(Insn::stmt(code, k));
    }
    fn j(&mut self, op: u16, k: u32, jt: T, jf: T) {
        self.cond.push((self.insns.len(), jt, jf));
        self.insns.push(Insn::jump(JMP | op | K, k, 0, 0));
    }
    fn jx(&mut self, op: u16, jt: T, jf: T) {
        self.cond.push((self.insns.len(), jt, jf));
        self.insns.push(Insn::jump(JMP | op | X, 0, 0, 0));
    }
    fn ja(&mut self, l: usize) {
        self.ja.push((self.insns.len(), l));
        self.insns.push(Insn::stmt(JMP | JA, 0));
    }
    fn ret(&mut self, k: u32) {
        self.s(RET | K, k);
    }
    /// `A == k`, else go to `fail`.
    fn eq(&mut self, k: u32, fail: usize) {
        self.j(JEQ, k, T::Next, T::L(fail));
    }
    fn finish(mut self) -> Option<Vec<Insn>> {
        let at = |labels: &[Option<usize>], t: T, pc: usize| -> Option<u8> {
            match t {
                T::Next => Some(0),
                T::L(l) => u8::try_from(labels[l]?.checked_sub(pc + 1)?).ok(),
            }
        };
        for &(pc, jt, jf) in &self.cond {
            self.insns[pc].jt = at(&self.labels, jt, pc)?;
            self.insns[pc].jf = at(&self.labels, jf, pc)?;
        }
        for &(pc, l) in &self.ja {
            self.insns[pc].k = u32::try_from(self.labels[l]?.checked_sub(pc + 1)?).ok()?;
        }
        Some(self.insns)
    }
}

/// Whether the offloaded program leaves `frame` (wire length `wire_len`) to the library:
/// the frames listed in the module docs. Reads at most the first 24 bytes.
#[inline]
pub fn needs_library(frame: &[u8], wire_len: u32) -> bool {
    let Some(&[a, b]) = frame.get(12..14) else {
        return true;
    };
    match u16::from_be_bytes([a, b]) {
        0x8100 | 0x88a8 | 0x9100 => true,
        0x0800 => {
            wire_len < 34
                || frame.get(14).is_none_or(|v| v & 0x0f < 5)
                || frame.get(23).is_none_or(|&p| p == 51)
        }
        0x86dd => {
            wire_len < 54
                || frame
                    .get(20)
                    .is_none_or(|nh| matches!(nh, 0 | 43 | 44 | 51 | 59 | 60))
        }
        _ => wire_len < 14,
    }
}

/// The prologue: fields into scratch memory, punted frames accepted.
fn prologue(a: &mut Asm, target: Target, rules: usize) {
    let punt = a.label();
    let v4 = a.label();
    let v6 = a.label();
    // Stores first: the kernel's checker scans linearly and lets a `ret` "fall through",
    // so every jump target must come after them.
    a.s(LD | IMM, 0);
    for m in [M_PROTO, M_SPORT, M_DPORT, M_IPV, M_VLAN] {
        a.s(ST, m);
    }
    a.s(LD | W | LEN, 0);
    a.j(JGE, 14, T::Next, T::L(punt));
    if target == Target::Kernel {
        let no_tag = a.label();
        a.s(LD | W | ABS, SKF_AD_OFF + SKF_AD_VLAN_TAG_PRESENT);
        a.j(JEQ, 0, T::L(no_tag), T::Next);
        a.s(LD | W | ABS, SKF_AD_OFF + SKF_AD_VLAN_TAG);
        a.s(ALU | AND | K, 0x0fff);
        a.s(ST, M_VLAN);
        a.place(no_tag);
    }
    a.s(LD | H | ABS, 12);
    for tpid in [0x8100, 0x88a8, 0x9100] {
        a.j(JEQ, tpid, T::L(punt), T::Next);
    }
    a.j(JEQ, 0x0800, T::L(v4), T::Next);
    a.j(JEQ, 0x86dd, T::L(v6), T::L(rules));

    // IPv4.
    a.place(v4);
    a.s(LD | W | LEN, 0);
    a.j(JGE, 34, T::Next, T::L(punt));
    a.s(LD | B | ABS, 14);
    a.s(ALU | AND | K, 0x0f);
    a.j(JGE, 5, T::Next, T::L(punt));
    a.s(LD | B | ABS, 23);
    a.s(ST, M_PROTO);
    a.j(JEQ, 51, T::L(punt), T::Next);
    a.s(LD | IMM, 4);
    a.s(ST, M_IPV);
    a.s(LD | H | ABS, 20);
    a.j(JSET, 0x1fff, T::L(rules), T::Next);
    let (t4, u4, s4, chk4) = (a.label(), a.label(), a.label(), a.label());
    a.s(LD | MEM, M_PROTO);
    a.j(JEQ, 6, T::L(t4), T::Next);
    a.j(JEQ, 17, T::L(u4), T::Next);
    a.j(JEQ, 132, T::L(s4), T::L(rules));
    // Bytes needed: Ethernet + IP header (X) + the transport header.
    a.place(t4);
    a.s(LD | IMM, 14 + 20);
    a.ja(chk4);
    a.place(u4);
    a.s(LD | IMM, 14 + 8);
    a.ja(chk4);
    a.place(s4);
    a.s(LD | IMM, 14 + 12);
    a.place(chk4);
    a.s(LDX | B | MSH, 14);
    a.s(ALU | ADD | X, 0);
    a.s(MISC | TAX, 0);
    a.s(LD | W | LEN, 0);
    a.jx(JGE, T::Next, T::L(rules));
    a.s(LDX | B | MSH, 14);
    a.s(LD | H | IND, 14);
    a.s(ST, M_SPORT);
    a.s(LD | H | IND, 16);
    a.s(ST, M_DPORT);
    a.ja(rules);

    // IPv6.
    a.place(v6);
    a.s(LD | W | LEN, 0);
    a.j(JGE, 54, T::Next, T::L(punt));
    a.s(LD | B | ABS, 20);
    for nh in [0, 43, 44, 51, 59, 60] {
        a.j(JEQ, nh, T::L(punt), T::Next);
    }
    a.s(ST, M_PROTO);
    a.s(LD | IMM, 6);
    a.s(ST, M_IPV);
    let (t6, u6, s6, p6) = (a.label(), a.label(), a.label(), a.label());
    a.s(LD | MEM, M_PROTO);
    a.j(JEQ, 6, T::L(t6), T::Next);
    a.j(JEQ, 17, T::L(u6), T::Next);
    a.j(JEQ, 132, T::L(s6), T::L(rules));
    for (l, need) in [(t6, 20), (u6, 8), (s6, 12)] {
        a.place(l);
        a.s(LD | W | LEN, 0);
        a.j(JGE, 54 + need, T::L(p6), T::L(rules));
    }
    a.place(p6);
    a.s(LD | H | ABS, 54);
    a.s(ST, M_SPORT);
    a.s(LD | H | ABS, 56);
    a.s(ST, M_DPORT);
    a.ja(rules);

    a.place(punt);
    a.ret(ACCEPT);
}

/// 6 bytes at `off` equal `mac`, else `fail`.
fn mac_eq(a: &mut Asm, off: u32, mac: &[u8; 6], fail: usize) {
    a.s(LD | W | ABS, off);
    a.eq(u32::from_be_bytes([mac[0], mac[1], mac[2], mac[3]]), fail);
    a.s(LD | H | ABS, off + 4);
    a.eq(u32::from(u16::from_be_bytes([mac[4], mac[5]])), fail);
}

/// The address at `off4` (IPv4) / `off6` (IPv6) under `mask` equals `want`, else `fail`.
fn ip_eq(
    a: &mut Asm,
    ipv: u8,
    (off4, off6): (u32, u32),
    want: &IpAddress,
    mask: &IpAddress,
    fail: usize,
) {
    if mask.is_zero() {
        return;
    }
    a.s(LD | MEM, M_IPV);
    if ipv == 4 {
        a.eq(4, fail);
        a.s(LD | W | ABS, off4);
        if mask.v4() != u32::MAX {
            a.s(ALU | AND | K, mask.v4());
        }
        a.eq(want.v4() & mask.v4(), fail);
    } else {
        a.eq(6, fail);
        let (w, m) = (want.as_bytes(), mask.as_bytes());
        for i in 0..4 {
            let mw = u32::from_be_bytes([m[4 * i], m[4 * i + 1], m[4 * i + 2], m[4 * i + 3]]);
            if mw == 0 {
                continue;
            }
            let ww = u32::from_be_bytes([w[4 * i], w[4 * i + 1], w[4 * i + 2], w[4 * i + 3]]);
            a.s(LD | W | ABS, off6 + 4 * i as u32);
            if mw != u32::MAX {
                a.s(ALU | AND | K, mw);
            }
            a.eq(ww & mw, fail);
        }
    }
}

/// Scratch port `m` in `low..=high` (`high == 0`: any), else `fail`.
fn port_in(a: &mut Asm, m: u32, low: u16, high: u16, fail: usize) {
    if high == 0 {
        return;
    }
    a.s(LD | MEM, m);
    if low == high {
        a.eq(u32::from(low), fail);
        return;
    }
    if low > 0 {
        a.j(JGE, u32::from(low), T::Next, T::L(fail));
    }
    a.j(JGT, u32::from(high), T::L(fail), T::Next);
}

fn verdict(action: RuleAction) -> Option<u32> {
    match action {
        RuleAction::ForwardAndStop => Some(ACCEPT),
        RuleAction::DontForwardAndStop | RuleAction::ExecuteAndStop => Some(0),
        _ => None,
    }
}

fn wildcard_block(a: &mut Asm, r: &FilteringRule) {
    let Some(ret) = verdict(r.action) else {
        // execute_action_and_continue without a plugin: no effect.
        return;
    };
    let end = a.label();
    let c = &r.core;
    if c.vlan_id != 0 {
        a.s(LD | MEM, M_VLAN);
        a.eq(u32::from(c.vlan_id), end);
    }
    if c.proto != 0 {
        a.s(LD | MEM, M_PROTO);
        a.eq(u32::from(c.proto), end);
    }
    let dirs: &[bool] = if r.bidirectional {
        &[false, true]
    } else {
        &[false]
    };
    for (i, &swap) in dirs.iter().enumerate() {
        let fail = if i + 1 < dirs.len() { a.label() } else { end };
        let (smac_off, dmac_off, s4, d4, s6, d6, sp, dp) = if swap {
            (0, 6, 30, 26, 38, 22, M_DPORT, M_SPORT)
        } else {
            (6, 0, 26, 30, 22, 38, M_SPORT, M_DPORT)
        };
        if c.smac != [0; 6] {
            mac_eq(a, smac_off, &c.smac, fail);
        }
        if c.dmac != [0; 6] {
            mac_eq(a, dmac_off, &c.dmac, fail);
        }
        let ipv = c.family();
        ip_eq(a, ipv, (s4, s6), &c.shost, &c.shost_mask, fail);
        ip_eq(a, ipv, (d4, d6), &c.dhost, &c.dhost_mask, fail);
        port_in(a, sp, c.sport_low, c.sport_high, fail);
        port_in(a, dp, c.dport_low, c.dport_high, fail);
        a.ret(ret);
        if fail != end {
            a.place(fail);
        }
    }
    a.place(end);
}

fn hash_block(a: &mut Asm, r: &HashFilteringRule) -> Option<()> {
    let ret = verdict(r.action)?;
    r.key().ok()?;
    let (ipv, pa) = match r.host_peer_a {
        std::net::IpAddr::V4(v) => (4, IpAddress::from(v)),
        std::net::IpAddr::V6(v) => (6, IpAddress::from(v)),
    };
    let pb = match r.host_peer_b {
        std::net::IpAddr::V4(v) => IpAddress::from(v),
        std::net::IpAddr::V6(v) => IpAddress::from(v),
    };
    let full = if ipv == 4 {
        IpAddress::from_v4(u32::MAX)
    } else {
        IpAddress::from_v6([0xff; 16])
    };
    let end = a.label();
    a.s(LD | MEM, M_VLAN);
    a.eq(u32::from(r.vlan_id), end);
    a.s(LD | MEM, M_IPV);
    a.eq(ipv, end);
    a.s(LD | MEM, M_PROTO);
    a.eq(u32::from(r.proto), end);
    let swap = a.label();
    for (src, sp, dst, dp, fail) in [
        (&pa, r.port_peer_a, &pb, r.port_peer_b, swap),
        (&pb, r.port_peer_b, &pa, r.port_peer_a, end),
    ] {
        ip_eq(a, ipv as u8, (26, 22), src, &full, fail);
        ip_eq(a, ipv as u8, (30, 38), dst, &full, fail);
        a.s(LD | MEM, M_SPORT);
        a.eq(u32::from(sp), fail);
        a.s(LD | MEM, M_DPORT);
        a.eq(u32::from(dp), fail);
        a.ret(ret);
        if fail == swap {
            a.place(swap);
        }
    }
    a.place(end);
    Some(())
}

/// Compiles `set` for `target`; `None` when it is not [`RuleSet::offloadable`] or the
/// program would exceed the kernel's 4096 instructions (the library then runs the rules).
pub fn compile(set: &RuleSet, target: Target) -> Option<Program> {
    // A program holds at most a few hundred exact rules (16+ instructions each) and 2048
    // wildcard rules (2+): do not even look beyond (this runs after every rule change).
    if set.hash.len() > MAXINSNS / 16 || set.wildcard.len() > MAXINSNS / 2 {
        return None;
    }
    if !set.offloadable() {
        return None;
    }
    let mut a = Asm::default();
    let rules = a.label();
    prologue(&mut a, target, rules);
    a.place(rules);
    for r in set.hash.rules() {
        hash_block(&mut a, r)?;
    }
    for r in set.rules() {
        wildcard_block(&mut a, r);
    }
    a.ret(match set.policy() {
        FilteringPolicy::Accept => ACCEPT,
        FilteringPolicy::Drop => 0,
    });
    let insns = a.finish()?;
    if insns.len() > MAXINSNS {
        return None;
    }
    Program::from_instructions(insns).ok()
}

/// `user` and then `rules`: the packet must pass both (the user filter's accepting returns
/// jump to the rules). `None` if the user program returns A (not produced by the compiler)
/// or the result is too long.
pub fn combine(user: Option<&Program>, rules: &Program) -> Option<Program> {
    let Some(user) = user else {
        return Some(rules.clone());
    };
    let u = user.instructions();
    let mut out = Vec::with_capacity(u.len() + rules.instructions().len());
    for (pc, i) in u.iter().enumerate() {
        if i.code == RET | A {
            return None;
        }
        if i.code == RET | K && i.k != 0 {
            out.push(Insn::stmt(JMP | JA, (u.len() - pc - 1) as u32));
        } else {
            out.push(*i);
        }
    }
    out.extend_from_slice(rules.instructions());
    if out.len() > MAXINSNS {
        return None;
    }
    Program::from_instructions(out).ok()
}
