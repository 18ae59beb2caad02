//! Classic BPF → eBPF: a compiled filter as an XDP program, for the AF_XDP backend.
//!
//! [`translate_xdp`] turns a [`Program`] into eBPF instructions for a `BPF_PROG_TYPE_XDP`
//! program: the context (`struct xdp_md *`) arrives in `r1`, the frame is `[data, data_end)`
//! (the first two `u32` fields of `struct xdp_md`), and the program returns one verdict when
//! the classic program accepts the frame (returns non-zero) and another when it rejects it.
//! [`XdpProgram`] loads the result into the kernel and runs it on test packets
//! (`BPF_PROG_TEST_RUN`).
//!
//! ```no_run
//! use pfring::filter::{Program, Target, ebpf};
//! let p = Program::compile_for("tcp port 80", Target::Bytes).unwrap();
//! let insns = ebpf::translate_xdp(&p, ebpf::XDP_PASS, ebpf::XDP_DROP).unwrap();
//! let prog = ebpf::XdpProgram::load(&insns).unwrap(); // needs CAP_BPF + CAP_PERFMON
//! assert_eq!(prog.test_run(&[0u8; 60], 1).unwrap(), ebpf::XDP_DROP as u32);
//! ```
//!
//! # How the classic machine is mapped
//!
//! | classic | eBPF |
//! |---|---|
//! | `A` | `r8` (kept zero-extended: every operation on it is a 32-bit one) |
//! | `X` | `r9` (likewise) |
//! | `M[k]` | the stack word at `r10 - 4 * (k + 1)`, zeroed in the prologue |
//! | `data`, `data_end` | `r6`, `r7` (loaded from `struct xdp_md` in the prologue) |
//! | temporaries | `r2`, `r3`; `r1` keeps the context for the whole program |
//!
//! * Packet loads `ld/ldh/ldb [k]`, `[x + k]` and `ldxb 4*([k]&0xf)` become direct packet
//!   accesses, each after its own bounds check of the form `if data + off + size > data_end
//!   goto reject` — the shape the verifier needs to prove the access safe
//!   (Documentation/bpf/verifier.rst, "Direct packet access"). A load past the end rejects
//!   the frame, as in classic BPF. Loads are converted from network order with
//!   `BPF_END | BPF_TO_BE`. Offsets beyond 0xffff (the verifier's `MAX_PACKET_OFF`; no XDP
//!   frame is that long in its linear part) always reject.
//! * `len` is `data_end - data`: the bytes the XDP program sees (the linear part of the frame;
//!   on a multi-buffer frame the fragments are not included). Subtracting two packet
//!   pointers needs `CAP_PERFMON` (the verifier's `allow_ptr_leaks`).
//! * ALU operations are 32-bit. Division and modulo by a zero `X` reject (the eBPF result
//!   would be defined, classic BPF rejects); shifts by `X >= 32` give 0 (eBPF would mask the
//!   count); comparisons use `BPF_JMP32` so that constants with the top bit set compare
//!   unsigned, as in classic BPF.
//! * Jumps are recomputed (one classic instruction becomes 1 to 8 eBPF instructions);
//!   unreachable classic instructions are not emitted (the verifier refuses unreachable
//!   code).
//! * `ret #k` jumps to the accept tail when `k != 0`, to the reject tail otherwise; `ret a`
//!   tests `A` at run time.
//!
//! # Limits
//!
//! Ancillary loads (`SKF_AD_*`: VLAN tag, protocol, ifindex, ...) read socket-buffer
//! metadata that has no XDP equivalent: programs that contain them give
//! [`FilterError::Unsupported`]. Compile for [`Target::Bytes`](super::Target::Bytes)
//! (the VLAN tags are in the frame bytes in XDP) to get programs without them. A translated
//! program whose jumps do not fit eBPF's 16-bit offsets (about 32 000 instructions; classic
//! programs are at most 4096) gives [`FilterError::TooLarge`].

use std::fmt;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use super::bpf::insn::{Insn, class, op};
use super::{FilterError, Program};

/// `XDP_ABORTED`: drop, with a trace event.
pub const XDP_ABORTED: i32 = 0;
/// `XDP_DROP`: drop the frame.
pub const XDP_DROP: i32 = 1;
/// `XDP_PASS`: hand the frame to the network stack.
pub const XDP_PASS: i32 = 2;
/// `XDP_TX`: send the frame back out of the interface it came in on.
pub const XDP_TX: i32 = 3;
/// `XDP_REDIRECT`: the verdict of `bpf_redirect_map` (e.g. into an XSKMAP).
pub const XDP_REDIRECT: i32 = 4;

/// eBPF opcode fields (`include/uapi/linux/bpf.h`, `linux/bpf_common.h`).
#[allow(missing_docs)]
pub mod code {
    // Classes.
    pub const LD: u8 = 0x00;
    pub const LDX: u8 = 0x01;
    pub const ST: u8 = 0x02;
    pub const STX: u8 = 0x03;
    pub const ALU: u8 = 0x04;
    pub const JMP: u8 = 0x05;
    pub const JMP32: u8 = 0x06;
    pub const ALU64: u8 = 0x07;
    // Sizes.
    pub const W: u8 = 0x00;
    pub const H: u8 = 0x08;
    pub const B: u8 = 0x10;
    pub const DW: u8 = 0x18;
    // Modes.
    pub const IMM: u8 = 0x00;
    pub const MEM: u8 = 0x60;
    // Operand source.
    pub const K: u8 = 0x00;
    pub const X: u8 = 0x08;
    // ALU operations.
    pub const ADD: u8 = 0x00;
    pub const SUB: u8 = 0x10;
    pub const MUL: u8 = 0x20;
    pub const DIV: u8 = 0x30;
    pub const OR: u8 = 0x40;
    pub const AND: u8 = 0x50;
    pub const LSH: u8 = 0x60;
    pub const RSH: u8 = 0x70;
    pub const NEG: u8 = 0x80;
    pub const MOD: u8 = 0x90;
    pub const XOR: u8 = 0xa0;
    pub const MOV: u8 = 0xb0;
    pub const ARSH: u8 = 0xc0;
    pub const END: u8 = 0xd0;
    /// With `END`: convert to big endian (network order).
    pub const TO_BE: u8 = 0x08;
    /// With `END`: convert to little endian.
    pub const TO_LE: u8 = 0x00;
    // Jump operations.
    pub const JA: u8 = 0x00;
    pub const JEQ: u8 = 0x10;
    pub const JGT: u8 = 0x20;
    pub const JGE: u8 = 0x30;
    pub const JSET: u8 = 0x40;
    pub const JNE: u8 = 0x50;
    pub const JSGT: u8 = 0x60;
    pub const JSGE: u8 = 0x70;
    pub const CALL: u8 = 0x80;
    pub const EXIT: u8 = 0x90;
    pub const JLT: u8 = 0xa0;
    pub const JLE: u8 = 0xb0;
    pub const JSLT: u8 = 0xc0;
    pub const JSLE: u8 = 0xd0;
}

/// eBPF registers.
#[allow(missing_docs)]
pub mod reg {
    pub const R0: u8 = 0;
    pub const R1: u8 = 1;
    pub const R2: u8 = 2;
    pub const R3: u8 = 3;
    pub const R4: u8 = 4;
    pub const R5: u8 = 5;
    pub const R6: u8 = 6;
    pub const R7: u8 = 7;
    pub const R8: u8 = 8;
    pub const R9: u8 = 9;
    /// The read-only frame pointer.
    pub const R10: u8 = 10;
}

use code::*;
use reg::*;

/// One eBPF instruction, laid out exactly like the kernel's `struct bpf_insn`
/// (`include/uapi/linux/bpf.h`): `{ __u8 code; __u8 dst_reg:4, src_reg:4; __s16 off;
/// __s32 imm; }` (on little-endian machines the destination is the low nibble).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(C)]
pub struct EbpfInsn {
    /// Opcode: class | size | mode (loads, stores), class | operation | source (ALU, jumps).
    pub code: u8,
    /// Registers: destination in the low nibble, source in the high nibble.
    pub regs: u8,
    /// Signed offset: memory displacement, or jump distance in instructions (relative to
    /// the next instruction).
    pub off: i16,
    /// Signed immediate.
    pub imm: i32,
}

const _: () = assert!(std::mem::size_of::<EbpfInsn>() == 8);

impl EbpfInsn {
    /// An instruction from its fields.
    pub const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> EbpfInsn {
        EbpfInsn {
            code,
            regs: (dst & 0x0f) | (src << 4),
            off,
            imm,
        }
    }
    /// The destination register.
    pub const fn dst(&self) -> u8 {
        self.regs & 0x0f
    }
    /// The source register.
    pub const fn src(&self) -> u8 {
        self.regs >> 4
    }
    /// 32-bit ALU operation with an immediate: `w<dst> op= imm`.
    pub const fn alu32_imm(op: u8, dst: u8, imm: i32) -> EbpfInsn {
        EbpfInsn::new(ALU | op | K, dst, 0, 0, imm)
    }
    /// 32-bit ALU operation with a register: `w<dst> op= w<src>`.
    pub const fn alu32_reg(op: u8, dst: u8, src: u8) -> EbpfInsn {
        EbpfInsn::new(ALU | op | X, dst, src, 0, 0)
    }
    /// 64-bit ALU operation with an immediate (sign-extended to 64 bits).
    pub const fn alu64_imm(op: u8, dst: u8, imm: i32) -> EbpfInsn {
        EbpfInsn::new(ALU64 | op | K, dst, 0, 0, imm)
    }
    /// 64-bit ALU operation with a register.
    pub const fn alu64_reg(op: u8, dst: u8, src: u8) -> EbpfInsn {
        EbpfInsn::new(ALU64 | op | X, dst, src, 0, 0)
    }
    /// `w<dst> = imm` (the upper 32 bits become zero).
    pub const fn mov32_imm(dst: u8, imm: i32) -> EbpfInsn {
        EbpfInsn::alu32_imm(MOV, dst, imm)
    }
    /// `w<dst> = w<src>` (the upper 32 bits become zero).
    pub const fn mov32_reg(dst: u8, src: u8) -> EbpfInsn {
        EbpfInsn::alu32_reg(MOV, dst, src)
    }
    /// `r<dst> = imm` (sign-extended).
    pub const fn mov64_imm(dst: u8, imm: i32) -> EbpfInsn {
        EbpfInsn::alu64_imm(MOV, dst, imm)
    }
    /// `r<dst> = r<src>`.
    pub const fn mov64_reg(dst: u8, src: u8) -> EbpfInsn {
        EbpfInsn::alu64_reg(MOV, dst, src)
    }
    /// Byte swap from big endian (`BPF_END | BPF_TO_BE`) of the low `bits` (16, 32 or 64)
    /// bits of `dst`, zero-extending the result.
    pub const fn to_be(dst: u8, bits: i32) -> EbpfInsn {
        EbpfInsn::new(ALU | END | TO_BE, dst, 0, 0, bits)
    }
    /// `dst = *(size *)(src + off)` (`size` is [`code::W`], [`code::H`], [`code::B`] or
    /// [`code::DW`]); zero-extends.
    pub const fn ldx_mem(size: u8, dst: u8, src: u8, off: i16) -> EbpfInsn {
        EbpfInsn::new(LDX | MEM | size, dst, src, off, 0)
    }
    /// `*(size *)(dst + off) = src`.
    pub const fn stx_mem(size: u8, dst: u8, src: u8, off: i16) -> EbpfInsn {
        EbpfInsn::new(STX | MEM | size, dst, src, off, 0)
    }
    /// `*(size *)(dst + off) = imm`.
    pub const fn st_mem(size: u8, dst: u8, off: i16, imm: i32) -> EbpfInsn {
        EbpfInsn::new(ST | MEM | size, dst, 0, off, imm)
    }
    /// 64-bit conditional jump against an immediate (sign-extended):
    /// `if r<dst> op imm goto +off`.
    pub const fn jmp_imm(op: u8, dst: u8, imm: i32, off: i16) -> EbpfInsn {
        EbpfInsn::new(JMP | op | K, dst, 0, off, imm)
    }
    /// 64-bit conditional jump against a register: `if r<dst> op r<src> goto +off`.
    pub const fn jmp_reg(op: u8, dst: u8, src: u8, off: i16) -> EbpfInsn {
        EbpfInsn::new(JMP | op | X, dst, src, off, 0)
    }
    /// 32-bit conditional jump against an immediate: `if w<dst> op imm goto +off`.
    pub const fn jmp32_imm(op: u8, dst: u8, imm: i32, off: i16) -> EbpfInsn {
        EbpfInsn::new(JMP32 | op | K, dst, 0, off, imm)
    }
    /// 32-bit conditional jump against a register: `if w<dst> op w<src> goto +off`.
    pub const fn jmp32_reg(op: u8, dst: u8, src: u8, off: i16) -> EbpfInsn {
        EbpfInsn::new(JMP32 | op | X, dst, src, off, 0)
    }
    /// `goto +off`.
    pub const fn ja(off: i16) -> EbpfInsn {
        EbpfInsn::new(JMP | JA, 0, 0, off, 0)
    }
    /// `exit` (returns `r0`).
    pub const fn exit() -> EbpfInsn {
        EbpfInsn::new(JMP | EXIT, 0, 0, 0, 0)
    }
}

impl fmt::Display for EbpfInsn {
    /// The raw fields: `code dst src off imm`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:#04x} dst=r{} src=r{} off={} imm={}",
            self.code,
            self.dst(),
            self.src(),
            self.off,
            self.imm
        )
    }
}

/// Register holding classic `A`.
const RA: u8 = R8;
/// Register holding classic `X`.
const RX: u8 = R9;
/// `data` (start of the frame).
const RDATA: u8 = R6;
/// `data_end`.
const REND: u8 = R7;
/// The verifier's `MAX_PACKET_OFF`: the largest offset of a packet pointer that can be
/// proven in bounds.
const MAX_PACKET_OFF: u64 = 0xffff;
/// Offset of `data` in `struct xdp_md`.
const XDP_MD_DATA: i16 = 0;
/// Offset of `data_end` in `struct xdp_md`.
const XDP_MD_DATA_END: i16 = 4;

/// Translates `prog` into an XDP program that returns `on_accept` when `prog` accepts the
/// frame and `on_reject` when it rejects it (e.g. [`XDP_PASS`] and [`XDP_DROP`]).
///
/// See the [module docs](self) for the mapping and the limits.
///
/// # Errors
/// [`FilterError::Unsupported`] for programs with ancillary loads (`SKF_AD_*`),
/// [`FilterError::TooLarge`] when a jump does not fit eBPF's 16-bit offsets.
pub fn translate_xdp(
    prog: &Program,
    on_accept: i32,
    on_reject: i32,
) -> Result<Vec<EbpfInsn>, FilterError> {
    translate_xdp_with(
        prog,
        &[EbpfInsn::mov64_imm(R0, on_accept), EbpfInsn::exit()],
        &[EbpfInsn::mov64_imm(R0, on_reject), EbpfInsn::exit()],
    )
}

/// Like [`translate_xdp`], with arbitrary instruction sequences run on accept and on
/// reject (for example a `bpf_redirect_map` call into an XSKMAP on accept). Each tail is
/// placed once at the end of the program and entered with a jump; it must end every path
/// with `exit` and only use relative jumps within itself.
///
/// When a tail starts, `r1` still holds the context (`struct xdp_md *`), `r6` and `r7`
/// hold `data` and `data_end`, and `r8` holds classic `A` (the return value of `ret a`);
/// the other registers are scratch. A tail that is never reached is left out (the
/// verifier refuses unreachable code).
///
/// # Errors
/// As [`translate_xdp`].
pub fn translate_xdp_with(
    prog: &Program,
    accept: &[EbpfInsn],
    reject: &[EbpfInsn],
) -> Result<Vec<EbpfInsn>, FilterError> {
    translate_insns(prog.instructions(), accept, reject)
}

/// `BPF_FUNC_redirect_map`, the helper number of `bpf_redirect_map(map, key, flags)`.
pub const BPF_FUNC_REDIRECT_MAP: i32 = 51;
/// `BPF_PSEUDO_MAP_FD`: the source register of a 64-bit immediate load whose immediate is a
/// map file descriptor (the kernel replaces it with the map's address at load time).
pub const BPF_PSEUDO_MAP_FD: u8 = 1;
/// Offset of `rx_queue_index` in `struct xdp_md`.
pub const XDP_MD_RX_QUEUE_INDEX: i16 = 16;

/// `r<dst> = map` for the map behind descriptor `map_fd`: the two-instruction 64-bit
/// immediate load with `src = BPF_PSEUDO_MAP_FD`.
pub fn ld_map_fd(dst: u8, map_fd: i32) -> [EbpfInsn; 2] {
    [
        EbpfInsn::new(LD | DW | IMM, dst, BPF_PSEUDO_MAP_FD, 0, map_fd),
        EbpfInsn::new(0, 0, 0, 0, 0),
    ]
}

/// `call helper` (arguments in `r1`..`r5`, result in `r0`).
pub const fn call(helper: i32) -> EbpfInsn {
    EbpfInsn::new(JMP | CALL, 0, 0, 0, helper)
}

/// The tail that sends a frame to the AF_XDP socket of its RX queue:
/// `return bpf_redirect_map(xskmap, ctx->rx_queue_index, XDP_PASS)`. The low bits of the
/// flags are the verdict when the map has no socket for the queue (Linux 5.3+), so frames of
/// queues nobody listens on go to the stack. Expects the context in `r1`.
pub fn xsk_redirect_tail(xskmap_fd: i32) -> Vec<EbpfInsn> {
    let mut v = vec![EbpfInsn::ldx_mem(W, R2, R1, XDP_MD_RX_QUEUE_INDEX)];
    v.extend(ld_map_fd(R1, xskmap_fd));
    v.push(EbpfInsn::mov64_imm(R3, XDP_PASS));
    v.push(call(BPF_FUNC_REDIRECT_MAP));
    v.push(EbpfInsn::exit());
    v
}

/// The XDP program of the `xdp:` backend: frames `filter` accepts (all frames without a
/// filter) are redirected into the AF_XDP socket of their RX queue through `xskmap_fd`; the
/// frames it rejects get `XDP_PASS` and continue to the network stack.
///
/// # Errors
/// As [`translate_xdp`] (filters must be compiled for
/// [`Target::Bytes`](super::Target::Bytes)).
pub fn xsk_program(filter: Option<&Program>, xskmap_fd: i32) -> Result<Vec<EbpfInsn>, FilterError> {
    let tail = xsk_redirect_tail(xskmap_fd);
    match filter {
        None => Ok(tail),
        Some(p) => translate_xdp_with(
            p,
            &tail,
            &[EbpfInsn::mov64_imm(R0, XDP_PASS), EbpfInsn::exit()],
        ),
    }
}

/// Where a jump goes.
#[derive(Debug, Clone, Copy)]
enum Label {
    /// The first eBPF instruction of a classic instruction.
    Classic(usize),
    Accept,
    Reject,
}

/// The eBPF program under construction, with unresolved jumps.
struct Emitter {
    out: Vec<EbpfInsn>,
    fixups: Vec<(usize, Label)>,
}

impl Emitter {
    fn push(&mut self, i: EbpfInsn) {
        self.out.push(i);
    }
    /// Emits a jump instruction whose offset is filled in later.
    fn jump(&mut self, i: EbpfInsn, to: Label) {
        self.fixups.push((self.out.len(), to));
        self.out.push(i);
    }
    /// `if data + off + size > data_end goto reject`, leaving in `base` + returned
    /// displacement a packet pointer to `off`; `off + size <= MAX_PACKET_OFF`.
    fn check_abs(&mut self, off: u64, size: u64) -> (u8, i16) {
        let end = off + size;
        self.push(EbpfInsn::mov64_reg(R2, RDATA));
        self.push(EbpfInsn::alu64_imm(ADD, R2, end as i32));
        self.jump(EbpfInsn::jmp_reg(JGT, R2, REND, 0), Label::Reject);
        match i16::try_from(off) {
            Ok(d) => (RDATA, d),
            Err(_) => {
                self.push(EbpfInsn::mov64_reg(R3, RDATA));
                self.push(EbpfInsn::alu64_imm(ADD, R3, off as i32));
                (R3, 0)
            }
        }
    }
    /// `dst = ntoh(*(size *)(data + k))` with a bounds check.
    fn load_abs(&mut self, dst: u8, k: u64, size: u8) {
        let n = size_bytes(size);
        let (base, d) = self.check_abs(k, n);
        self.push(EbpfInsn::ldx_mem(size, dst, base, d));
        self.swap(dst, size);
    }
    /// `dst = ntoh(*(size *)(data + X + k))` with a bounds check; `k + size <=
    /// MAX_PACKET_OFF`.
    fn load_ind(&mut self, dst: u8, k: u64, size: u8) {
        let n = size_bytes(size);
        // r2 = X + k, at most MAX_PACKET_OFF - n, so that the verifier can bound it.
        self.push(EbpfInsn::mov64_reg(R2, RX));
        if k != 0 {
            self.push(EbpfInsn::alu64_imm(ADD, R2, k as i32));
        }
        self.jump(
            EbpfInsn::jmp_imm(JGT, R2, (MAX_PACKET_OFF - n) as i32, 0),
            Label::Reject,
        );
        self.push(EbpfInsn::mov64_reg(R3, RDATA));
        self.push(EbpfInsn::alu64_reg(ADD, R3, R2));
        self.push(EbpfInsn::mov64_reg(R2, R3));
        self.push(EbpfInsn::alu64_imm(ADD, R2, n as i32));
        self.jump(EbpfInsn::jmp_reg(JGT, R2, REND, 0), Label::Reject);
        self.push(EbpfInsn::ldx_mem(size, dst, R3, 0));
        self.swap(dst, size);
    }
    /// Network to host order after a load of `size`.
    fn swap(&mut self, dst: u8, size: u8) {
        match size {
            W => self.push(EbpfInsn::to_be(dst, 32)),
            H => self.push(EbpfInsn::to_be(dst, 16)),
            _ => {}
        }
    }
}

fn size_bytes(size: u8) -> u64 {
    match size {
        W => 4,
        H => 2,
        _ => 1,
    }
}

/// The eBPF size field of a classic load.
fn size_of_classic(code: u16) -> u8 {
    match code & 0x18 {
        op::W => W,
        op::H => H,
        _ => B,
    }
}

/// Whether the classic instruction always rejects in XDP (a load that can never be in
/// bounds, a division by constant zero).
fn always_rejects(i: &Insn) -> bool {
    let k = u64::from(i.k);
    let c = i.code;
    match class(c) {
        op::LD if c & 0xe0 == op::ABS || c & 0xe0 == op::IND => {
            k + size_bytes(size_of_classic(c)) > MAX_PACKET_OFF
        }
        op::LDX if c & 0xe0 == op::MSH => k + 1 > MAX_PACKET_OFF,
        op::ALU if c & op::X == 0 && matches!(c & 0xf0, op::DIV | op::MOD) => i.k == 0,
        _ => false,
    }
}

/// The classic instructions reachable from the first one.
fn reachable(insns: &[Insn]) -> Vec<bool> {
    let n = insns.len();
    let mut seen = vec![false; n];
    if n > 0 {
        seen[0] = true;
    }
    // Jumps only go forward, so one pass in order visits every predecessor first.
    for pc in 0..n {
        if !seen[pc] {
            continue;
        }
        let i = &insns[pc];
        let mut mark = |t: usize| {
            if t < n {
                seen[t] = true;
            }
        };
        match class(i.code) {
            op::RET => {}
            op::JMP if i.code == op::JMP | op::JA => mark(pc + 1 + i.k as usize),
            op::JMP => {
                mark(pc + 1 + usize::from(i.jt));
                mark(pc + 1 + usize::from(i.jf));
            }
            _ if always_rejects(i) => {}
            _ => mark(pc + 1),
        }
    }
    seen
}

/// Stack displacement of scratch word `k`.
fn slot(k: u32) -> i16 {
    -4 * (k as i16 + 1)
}

fn unsupported(pc: usize, what: String) -> FilterError {
    FilterError::Unsupported { pos: pc, what }
}

/// The inverse of a jump condition, if eBPF has one.
fn inverse(cond: u8) -> Option<u8> {
    match cond {
        JEQ => Some(JNE),
        JGT => Some(JLE),
        JGE => Some(JLT),
        _ => None,
    }
}

fn translate_insns(
    insns: &[Insn],
    accept: &[EbpfInsn],
    reject: &[EbpfInsn],
) -> Result<Vec<EbpfInsn>, FilterError> {
    let n = insns.len();
    // Ancillary loads first: they make the whole program untranslatable.
    for (pc, i) in insns.iter().enumerate() {
        if class(i.code) == op::LD && i.code & 0xe0 == op::ABS && i.k >= op::SKF_AD_OFF {
            let what = format!(
                "the ancillary load `{}` (instruction {pc}; socket-buffer metadata has no XDP \
                 equivalent, compile for Target::Bytes)",
                super::format_insn(i, pc)
                    .split_whitespace()
                    .skip(1)
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            return Err(unsupported(0, what));
        }
    }
    let live = reachable(insns);
    let mut e = Emitter {
        out: Vec::with_capacity(n * 4 + 16),
        fixups: Vec::new(),
    };
    // Prologue: data, data_end, A = X = 0, the scratch words the program uses zeroed.
    e.push(EbpfInsn::ldx_mem(W, RDATA, R1, XDP_MD_DATA));
    e.push(EbpfInsn::ldx_mem(W, REND, R1, XDP_MD_DATA_END));
    e.push(EbpfInsn::mov32_imm(RA, 0));
    e.push(EbpfInsn::mov32_imm(RX, 0));
    let mut used = [false; op::MEMWORDS as usize];
    for (pc, i) in insns.iter().enumerate() {
        let mem = match class(i.code) {
            op::ST | op::STX => true,
            op::LD | op::LDX => i.code & 0xe0 == op::MEM,
            _ => false,
        };
        if live[pc] && mem {
            match used.get_mut(i.k as usize) {
                Some(u) => *u = true,
                None => {
                    return Err(FilterError::InvalidProgram {
                        pc,
                        reason: "scratch memory index out of range".into(),
                    });
                }
            }
        }
    }
    for (k, _) in used.iter().enumerate().filter(|(_, u)| **u) {
        e.push(EbpfInsn::st_mem(W, R10, slot(k as u32), 0));
    }

    let mut start = vec![usize::MAX; n];
    for (pc, i) in insns.iter().enumerate() {
        if !live[pc] {
            continue;
        }
        start[pc] = e.out.len();
        let k = i.k;
        let c = i.code;
        let bad = || FilterError::InvalidProgram {
            pc,
            reason: format!("unknown opcode 0x{c:04x}"),
        };
        if always_rejects(i) {
            e.jump(EbpfInsn::ja(0), Label::Reject);
            continue;
        }
        match class(c) {
            op::LD => match c & 0xe0 {
                op::IMM => e.push(EbpfInsn::mov32_imm(RA, k as i32)),
                op::ABS => e.load_abs(RA, u64::from(k), size_of_classic(c)),
                op::IND => e.load_ind(RA, u64::from(k), size_of_classic(c)),
                op::LEN => {
                    e.push(EbpfInsn::mov64_reg(RA, REND));
                    e.push(EbpfInsn::alu64_reg(SUB, RA, RDATA));
                    e.push(EbpfInsn::mov32_reg(RA, RA));
                }
                op::MEM => e.push(EbpfInsn::ldx_mem(W, RA, R10, slot(k))),
                _ => return Err(bad()),
            },
            op::LDX => match c & 0xe0 {
                op::IMM => e.push(EbpfInsn::mov32_imm(RX, k as i32)),
                op::MEM => e.push(EbpfInsn::ldx_mem(W, RX, R10, slot(k))),
                op::LEN => {
                    e.push(EbpfInsn::mov64_reg(RX, REND));
                    e.push(EbpfInsn::alu64_reg(SUB, RX, RDATA));
                    e.push(EbpfInsn::mov32_reg(RX, RX));
                }
                op::MSH => {
                    e.load_abs(RX, u64::from(k), B);
                    e.push(EbpfInsn::alu32_imm(AND, RX, 0xf));
                    e.push(EbpfInsn::alu32_imm(LSH, RX, 2));
                }
                _ => return Err(bad()),
            },
            op::ST => e.push(EbpfInsn::stx_mem(W, R10, RA, slot(k))),
            op::STX => e.push(EbpfInsn::stx_mem(W, R10, RX, slot(k))),
            op::ALU => {
                let o = (c & 0xf0) as u8;
                let by_x = c & op::X != 0;
                match o {
                    NEG => e.push(EbpfInsn::alu32_imm(NEG, RA, 0)),
                    ADD | SUB | MUL | OR | AND | XOR if by_x => {
                        e.push(EbpfInsn::alu32_reg(o, RA, RX))
                    }
                    DIV | MOD if by_x => {
                        e.jump(EbpfInsn::jmp_imm(JEQ, RX, 0, 0), Label::Reject);
                        e.push(EbpfInsn::alu32_reg(o, RA, RX));
                    }
                    ADD | SUB | MUL | OR | AND | XOR | DIV | MOD => {
                        // Constant division by zero is handled by `always_rejects`.
                        e.push(EbpfInsn::alu32_imm(o, RA, k as i32))
                    }
                    LSH | RSH if by_x => {
                        // eBPF masks the count; classic BPF (our VM) shifts everything out.
                        e.push(EbpfInsn::jmp_imm(JGT, RX, 31, 2));
                        e.push(EbpfInsn::alu32_reg(o, RA, RX));
                        e.push(EbpfInsn::ja(1));
                        e.push(EbpfInsn::mov32_imm(RA, 0));
                    }
                    LSH | RSH if k >= 32 => e.push(EbpfInsn::mov32_imm(RA, 0)),
                    LSH | RSH => e.push(EbpfInsn::alu32_imm(o, RA, k as i32)),
                    _ => return Err(bad()),
                }
            }
            op::JMP => {
                if c == op::JMP | op::JA {
                    e.jump(EbpfInsn::ja(0), Label::Classic(pc + 1 + k as usize));
                    continue;
                }
                let cond = (c & 0xf0) as u8;
                if !matches!(cond, JEQ | JGT | JGE | JSET) {
                    return Err(bad());
                }
                let t = pc + 1 + usize::from(i.jt);
                let f = pc + 1 + usize::from(i.jf);
                let mk = |cond: u8| {
                    if c & op::X != 0 {
                        EbpfInsn::jmp32_reg(cond, RA, RX, 0)
                    } else {
                        EbpfInsn::jmp32_imm(cond, RA, k as i32, 0)
                    }
                };
                if t == f {
                    e.jump(EbpfInsn::ja(0), Label::Classic(t));
                } else if i.jf == 0 {
                    e.jump(mk(cond), Label::Classic(t));
                } else if let (0, Some(inv)) = (i.jt, inverse(cond)) {
                    e.jump(mk(inv), Label::Classic(f));
                } else {
                    e.jump(mk(cond), Label::Classic(t));
                    e.jump(EbpfInsn::ja(0), Label::Classic(f));
                }
                continue;
            }
            op::RET => {
                match c & 0x18 {
                    op::K => e.jump(
                        EbpfInsn::ja(0),
                        if k != 0 { Label::Accept } else { Label::Reject },
                    ),
                    op::A => {
                        e.jump(EbpfInsn::jmp32_imm(JNE, RA, 0, 0), Label::Accept);
                        e.jump(EbpfInsn::ja(0), Label::Reject);
                    }
                    _ => return Err(bad()),
                }
                continue;
            }
            _ => match c {
                x if x == op::MISC | op::TAX => e.push(EbpfInsn::mov32_reg(RX, RA)),
                x if x == op::MISC | op::TXA => e.push(EbpfInsn::mov32_reg(RA, RX)),
                _ => return Err(bad()),
            },
        }
        // Falling off the end of the program rejects (as in our VM).
        if pc + 1 == n {
            e.jump(EbpfInsn::ja(0), Label::Reject);
        }
    }

    // Tails, only if something jumps to them.
    let wants = |l: fn(&Label) -> bool| e.fixups.iter().any(|(_, t)| l(t));
    let want_accept = wants(|l| matches!(l, Label::Accept));
    let want_reject = wants(|l| matches!(l, Label::Reject));
    let mut accept_at = usize::MAX;
    let mut reject_at = usize::MAX;
    if want_accept {
        accept_at = e.out.len();
        e.out.extend_from_slice(accept);
    }
    if want_reject {
        reject_at = e.out.len();
        e.out.extend_from_slice(reject);
    }

    for &(at, to) in &e.fixups {
        let target = match to {
            Label::Classic(pc) => match start.get(pc) {
                Some(&s) if s != usize::MAX => s,
                _ => {
                    return Err(FilterError::InvalidProgram {
                        pc,
                        reason: "jump to an instruction outside the program".into(),
                    });
                }
            },
            Label::Accept => accept_at,
            Label::Reject => reject_at,
        };
        let rel = target as i64 - at as i64 - 1;
        let off = i16::try_from(rel).map_err(|_| FilterError::TooLarge {
            what: format!(
                "an eBPF jump of {rel} instructions (the limit is {}; the program has {})",
                i16::MAX,
                e.out.len()
            ),
        })?;
        e.out[at].off = off;
    }
    Ok(e.out)
}

/// A loaded XDP program (`BPF_PROG_TYPE_XDP`), owned through its file descriptor.
#[derive(Debug)]
pub struct XdpProgram {
    fd: OwnedFd,
}

impl XdpProgram {
    /// Loads `insns` into the kernel (`BPF_PROG_LOAD`, licence `Dual MIT/GPL`).
    ///
    /// Needs `CAP_BPF` and `CAP_PERFMON` (or root); `CAP_NET_ADMIN` to attach it later.
    ///
    /// # Errors
    /// The kernel's error; when the verifier refuses the program, the message ends with
    /// the end of the verifier log.
    pub fn load(insns: &[EbpfInsn]) -> io::Result<XdpProgram> {
        crate::sys::bpf::prog_load_xdp(insns).map(|fd| XdpProgram { fd })
    }

    /// Runs the program on `packet` with `BPF_PROG_TEST_RUN` (`repeat` times, 0 counts as
    /// 1) and returns its verdict (`r0`).
    ///
    /// The kernel needs at least 14 bytes (`ETH_HLEN`); of a longer frame the program sees
    /// only the linear part (about 3.5 KiB with 4 KiB pages), the rest being fragments.
    ///
    /// # Errors
    /// The kernel's error (`EINVAL` for a packet shorter than 14 bytes).
    pub fn test_run(&self, packet: &[u8], repeat: u32) -> io::Result<u32> {
        crate::sys::bpf::test_run(self.fd.as_fd(), packet, repeat)
    }
}

impl AsFd for XdpProgram {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl From<XdpProgram> for OwnedFd {
    fn from(p: XdpProgram) -> OwnedFd {
        p.fd
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::Target;

    #[test]
    fn xsk_program_shape() {
        let plain = xsk_program(None, 7).unwrap();
        assert_eq!(plain.len(), 6);
        assert_eq!(
            plain[0],
            EbpfInsn::ldx_mem(W, R2, R1, XDP_MD_RX_QUEUE_INDEX)
        );
        assert_eq!((plain[1].code, plain[1].src(), plain[1].imm), (0x18, 1, 7));
        assert_eq!(plain[4], call(BPF_FUNC_REDIRECT_MAP));
        assert_eq!(plain[5], EbpfInsn::exit());
        let p = Program::compile_for("udp", Target::Bytes).unwrap();
        let f = xsk_program(Some(&p), 7).unwrap();
        // The redirect tail and the pass tail both end the program.
        assert!(f.windows(6).any(|w| w == &plain[..]));
        assert!(f.ends_with(&[EbpfInsn::mov64_imm(R0, XDP_PASS), EbpfInsn::exit()]));
    }

    #[test]
    fn layout_matches_struct_bpf_insn() {
        let i = EbpfInsn::new(0xbf, 2, 6, -3, 0x1234_5678);
        assert_eq!(std::mem::size_of::<EbpfInsn>(), 8);
        assert_eq!(i.regs, 0x62);
        assert_eq!((i.dst(), i.src()), (2, 6));
    }

    #[test]
    fn ancillary_loads_are_unsupported() {
        let p = Program::compile_for("vlan 10", Target::Kernel).unwrap();
        let err = translate_xdp(&p, XDP_PASS, XDP_DROP).unwrap_err();
        assert!(matches!(err, FilterError::Unsupported { .. }), "{err}");
        assert!(err.to_string().contains("vlan"), "{err}");
    }

    #[test]
    fn bytes_target_translates() {
        for e in [
            "",
            "tcp port 80",
            "vlan 10 and udp",
            "len > 100",
            "ip[2:2] / 3 = 4",
        ] {
            let p = Program::compile_for(e, Target::Bytes).unwrap();
            let insns = translate_xdp(&p, XDP_PASS, XDP_DROP).unwrap();
            assert_eq!(insns.last(), Some(&EbpfInsn::exit()), "{e}");
        }
    }

    #[test]
    fn unreachable_code_and_unused_tails_are_left_out() {
        let p = Program::from_instructions(vec![
            Insn::stmt(op::RET | op::K, 1),
            Insn::stmt(op::RET | op::K, 0),
        ])
        .unwrap();
        let insns = translate_xdp(&p, XDP_PASS, XDP_DROP).unwrap();
        // prologue (4), ja accept, accept tail (2).
        assert_eq!(insns.len(), 7);
        assert!(!insns.contains(&EbpfInsn::mov64_imm(R0, XDP_DROP)));
    }
}
