//! The classic → eBPF translator against the kernel: every translated program must pass the
//! verifier (`BPF_PROG_LOAD`), and its verdict under `BPF_PROG_TEST_RUN` must equal our VM's
//! on the same bytes.
//!
//! Needs root (CAP_BPF, CAP_PERFMON): without it the tests print a skip reason, and fail
//! when `PFRING_REQUIRE_PRIVILEGED=1`.
//!
//! What the XDP program sees is the frame bytes handed to the test run, so the VM runs with
//! `wire_len` = the number of those bytes (a snapped capture record's original length is
//! invisible to XDP). `BPF_PROG_TEST_RUN` needs at least 14 bytes (`ETH_HLEN`): shorter
//! frames are skipped and counted; longer than [`MAX_LINEAR`] bytes would not all be in the
//! linear part the program sees, so such frames are cut to [`MAX_LINEAR`] bytes (counted).

mod common;

use pfring::filter::bpf::insn::op::*;
use pfring::filter::ebpf::{self, EbpfInsn, XdpProgram, translate_xdp};
use pfring::filter::{FilterError, Insn, Program, Target};

const ETH_HLEN: usize = 14;
/// Frames are cut to this length so that they fit in the test run's linear part.
const MAX_LINEAR: usize = 3072;

/// The expressions of `tests/data/filters.txt` (first column).
fn table_expressions() -> Vec<String> {
    include_str!("data/filters.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split('\t').next().unwrap().to_string())
        .collect()
}

/// Translates and loads `p`, panicking with the verifier log when the kernel refuses it.
fn load(p: &Program, what: &str) -> XdpProgram {
    let insns = translate_xdp(p, ebpf::XDP_PASS, ebpf::XDP_DROP)
        .unwrap_or_else(|e| panic!("{what}: translation failed: {e}"));
    XdpProgram::load(&insns).unwrap_or_else(|e| panic!("{what}: the kernel refuses it: {e}"))
}

/// The kernel's verdict: true for accept.
fn kernel_accepts(x: &XdpProgram, frame: &[u8]) -> bool {
    match x.test_run(frame, 1) {
        Ok(v) if v == ebpf::XDP_PASS as u32 => true,
        Ok(v) if v == ebpf::XDP_DROP as u32 => false,
        Ok(v) => panic!("unexpected XDP verdict {v}"),
        Err(e) => panic!("BPF_PROG_TEST_RUN on {} bytes: {e}", frame.len()),
    }
}

fn vm_accepts(p: &Program, frame: &[u8]) -> bool {
    p.matches(frame, frame.len() as u32)
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn u32(&mut self) -> u32 {
        (self.next() >> 32) as u32
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Test frames: every Ethernet frame of the captures, its VLAN / QinQ / MPLS / PPPoE copies,
/// and truncated copies (14, 20, 30, 38 and 50 bytes) of the originals. Returns the frames
/// and the counts of skipped (< 14 bytes) and cut (> MAX_LINEAR) ones.
fn test_frames() -> Option<(Vec<Vec<u8>>, usize, usize)> {
    let caps = match common::ethernet_captures() {
        Ok(c) => c,
        Err(reason) => {
            println!("{reason}");
            return None;
        }
    };
    let (mut frames, mut short, mut cut) = (Vec::new(), 0, 0);
    for (_, pkts) in &caps {
        for p in pkts {
            let mut all = vec![p.data.clone()];
            all.extend(common::variants(p).into_iter().map(|v| v.data));
            for t in [14, 20, 30, 38, 50] {
                if p.data.len() > t {
                    all.push(p.data[..t].to_vec());
                }
            }
            for mut d in all {
                if d.len() < ETH_HLEN {
                    short += 1;
                    continue;
                }
                if d.len() > MAX_LINEAR {
                    d.truncate(MAX_LINEAR);
                    cut += 1;
                }
                frames.push(d);
            }
        }
    }
    Some((frames, short, cut))
}

/// Every table expression that compiles for `Target::Bytes` translates, passes the
/// verifier, and agrees with the VM on every test frame.
#[test]
fn table_expressions_agree_with_the_vm() {
    pfring_testkit::require_privileged!();
    let Some((frames, short, cut)) = test_frames() else {
        return;
    };
    let exprs = table_expressions();
    let (mut compiled, mut not_compiled, mut verdicts, mut accepted) = (0, 0, 0usize, 0usize);
    let (mut unsupported, mut refused, mut disagree) = (Vec::new(), Vec::new(), Vec::new());
    let (mut max_classic, mut max_ebpf) = (0, 0);
    for e in &exprs {
        let Ok(p) = Program::compile_for(e, Target::Bytes) else {
            not_compiled += 1;
            continue;
        };
        compiled += 1;
        let insns = match translate_xdp(&p, ebpf::XDP_PASS, ebpf::XDP_DROP) {
            Ok(i) => i,
            Err(err) => {
                unsupported.push(format!("{e}: {err}"));
                continue;
            }
        };
        max_classic = max_classic.max(p.instructions().len());
        max_ebpf = max_ebpf.max(insns.len());
        let x = match XdpProgram::load(&insns) {
            Ok(x) => x,
            Err(err) => {
                refused.push(format!("{e}: {err}"));
                continue;
            }
        };
        for (n, f) in frames.iter().enumerate() {
            let (k, v) = (kernel_accepts(&x, f), vm_accepts(&p, f));
            verdicts += 1;
            accepted += usize::from(v);
            if k != v && disagree.len() < 20 {
                disagree.push(format!(
                    "{e:?}: frame {n} ({} bytes) kernel={k} vm={v}",
                    f.len()
                ));
            }
        }
    }
    println!(
        "{} expressions: {compiled} compile for Target::Bytes ({not_compiled} do not), \
         {} translate, {} pass the verifier",
        exprs.len(),
        compiled - unsupported.len(),
        compiled - unsupported.len() - refused.len()
    );
    println!(
        "{} frames ({short} shorter than 14 bytes skipped, {cut} cut to {MAX_LINEAR} bytes); \
         {verdicts} verdicts compared, {accepted} accepts",
        frames.len()
    );
    println!("largest program: {max_classic} classic instructions, {max_ebpf} eBPF");
    assert!(unsupported.is_empty(), "not translated:\n{unsupported:#?}");
    assert!(
        refused.is_empty(),
        "refused by the verifier:\n{}",
        refused.join("\n")
    );
    assert!(
        disagree.is_empty(),
        "disagreements:\n{}",
        disagree.join("\n")
    );
    assert!(compiled >= 150);
}

/// Hand-written programs covering every classic opcode class.
fn hand_programs() -> Vec<(&'static str, Vec<Insn>)> {
    let s = Insn::stmt;
    let j = Insn::jump;
    vec![
        (
            "scratch memory, X, tax/txa",
            vec![
                s(LD | W | ABS, 14),
                s(ST, 0),
                s(LD | H | ABS, 16),
                s(ST, 15),
                s(LDX | MEM, 0),
                s(LD | MEM, 15),
                s(ALU | ADD | X, 0),
                s(STX, 3),
                s(MISC | TAX, 0),
                s(LDX | MEM, 3),
                s(MISC | TXA, 0),
                j(JMP | JGT | K, 0x8000_0000, 1, 0),
                s(RET | K, 0),
                s(RET | A, 0),
            ],
        ),
        (
            "ldx msh and indirect loads",
            vec![
                s(LDX | B | MSH, 14),
                s(LD | B | IND, 14),
                s(ST, 1),
                s(LD | H | IND, 16),
                s(ST, 2),
                s(LD | W | IND, 10),
                s(LDX | MEM, 1),
                s(ALU | XOR | X, 0),
                s(LDX | MEM, 2),
                s(ALU | ADD | X, 0),
                s(RET | A, 0),
            ],
        ),
        (
            "div by X (zero or not)",
            vec![
                s(LDX | B | MSH, 15),
                s(LD | W | ABS, 16),
                s(ALU | DIV | X, 0),
                s(ALU | ADD | K, 1),
                s(RET | A, 0),
            ],
        ),
        (
            "mod by X (zero or not)",
            vec![
                s(LD | B | ABS, 15),
                s(ALU | AND | K, 3),
                s(MISC | TAX, 0),
                s(LD | W | ABS, 16),
                s(ALU | MOD | X, 0),
                s(ALU | OR | K, 0x100),
                s(RET | A, 0),
            ],
        ),
        (
            "div by constant X = 0 always rejects",
            vec![
                s(LDX | IMM, 0),
                s(LD | IMM, 7),
                s(ALU | DIV | X, 0),
                s(RET | K, 1),
            ],
        ),
        (
            "shifts by X of 32 and more",
            vec![
                s(LD | B | ABS, 15),
                s(ALU | AND | K, 63),
                s(MISC | TAX, 0),
                s(LD | W | ABS, 16),
                s(ALU | LSH | X, 0),
                s(ST, 0),
                s(LD | W | ABS, 20),
                s(ALU | RSH | X, 0),
                s(LDX | MEM, 0),
                s(ALU | OR | X, 0),
                s(RET | A, 0),
            ],
        ),
        (
            "ALU with constants",
            vec![
                s(LD | W | ABS, 14),
                s(ALU | ADD | K, 0x8000_0001),
                s(ALU | SUB | K, 3),
                s(ALU | MUL | K, 0x9e37_79b9),
                s(ALU | DIV | K, 0x8000_0003),
                s(ALU | ADD | K, 0xfff1),
                s(ALU | MOD | K, 1000),
                s(ALU | AND | K, 0xff0f),
                s(ALU | OR | K, 0x8000_0000),
                s(ALU | XOR | K, 0x1234),
                s(ALU | LSH | K, 3),
                s(ALU | RSH | K, 1),
                s(ALU | NEG, 0),
                j(JMP | JSET | K, 0x10, 0, 1),
                s(RET | A, 0),
                s(ALU | AND | K, 0x7),
                s(RET | A, 0),
            ],
        ),
        (
            "ALU with X",
            vec![
                s(LD | W | ABS, 18),
                s(MISC | TAX, 0),
                s(LD | W | ABS, 14),
                s(ALU | ADD | X, 0),
                s(ALU | SUB | X, 0),
                s(ALU | MUL | X, 0),
                s(ALU | XOR | X, 0),
                s(ALU | AND | X, 0),
                s(ALU | OR | X, 0),
                s(ALU | DIV | X, 0),
                s(ALU | MOD | X, 0),
                s(RET | A, 0),
            ],
        ),
        (
            "jumps with high constants and with X",
            vec![
                s(LD | W | ABS, 18),
                s(MISC | TAX, 0),
                s(LD | W | ABS, 14),
                j(JMP | JGT | K, 0xffff_fff0, 8, 0),
                j(JMP | JGE | K, 0x8000_0000, 0, 1),
                j(JMP | JSET | K, 0x8000_0001, 6, 5),
                j(JMP | JEQ | X, 0, 5, 0),
                j(JMP | JGT | X, 0, 0, 1),
                j(JMP | JSET | X, 0, 2, 3),
                j(JMP | JGE | X, 0, 1, 0),
                j(JMP | JSET | X, 0, 1, 0),
                s(RET | K, 0),
                s(RET | K, 0x40000),
            ],
        ),
        (
            "ja and ret a of zero",
            vec![
                s(LD | B | ABS, 14),
                j(JMP | JEQ | K, 0x45, 0, 1),
                s(JMP | JA, 2),
                s(LD | IMM, 0),
                s(RET | A, 0),
                s(LD | LEN, 0),
                s(RET | A, 0),
            ],
        ),
        (
            "len and ldx len",
            vec![
                s(LD | W | LEN, 0),
                j(JMP | JGT | K, 60, 0, 3),
                s(LDX | W | LEN, 0),
                s(MISC | TXA, 0),
                s(ALU | SUB | K, 61),
                s(RET | A, 0),
            ],
        ),
        (
            "loads past the end",
            vec![
                s(LD | H | ABS, 12),
                j(JMP | JEQ | K, 0x0800, 0, 1),
                s(LD | W | ABS, 60),
                s(LDX | B | MSH, 14),
                s(LD | B | IND, 50),
                s(RET | K, 1),
            ],
        ),
        (
            "offsets beyond 32767 and 65535",
            vec![
                s(LD | B | ABS, 14),
                j(JMP | JGT | K, 0x40, 0, 2),
                s(LD | H | ABS, 40_000),
                s(RET | A, 0),
                j(JMP | JGT | K, 0x20, 0, 2),
                s(LD | W | ABS, 70_000),
                s(RET | K, 1),
                s(LDX | IMM, 0xffff_fff0),
                s(LD | B | IND, 0x20),
                s(RET | K, 1),
            ],
        ),
    ]
}

/// Frames for the hand-written and random programs: random bytes of every length from 14
/// to 96, a few longer ones, and the same with an IPv4 EtherType and header nibble.
fn synthetic_frames(rng: &mut Rng) -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    for len in (14..=96).chain([128, 600, 1514, 3000]) {
        for variant in 0..3 {
            let mut f = rng.bytes(len);
            if variant == 1 {
                f[12] = 0x08;
                f[13] = 0x00;
                if len > 14 {
                    f[14] = 0x45;
                }
            }
            if variant == 2 {
                // Small values so that X-relative loads land in the frame.
                for b in f.iter_mut().skip(14) {
                    *b &= 0x0f;
                }
            }
            v.push(f);
        }
    }
    v
}

#[test]
fn hand_written_programs_agree_with_the_vm() {
    pfring_testkit::require_privileged!();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let frames = synthetic_frames(&mut rng);
    let mut total = 0;
    for (name, insns) in hand_programs() {
        let p = Program::from_instructions(insns).unwrap_or_else(|e| panic!("{name}: {e}"));
        let x = load(&p, name);
        let (mut acc, mut n) = (0, 0);
        for f in &frames {
            let (k, v) = (kernel_accepts(&x, f), vm_accepts(&p, f));
            assert_eq!(
                k,
                v,
                "{name}: {} bytes {:02x?}",
                f.len(),
                &f[..f.len().min(24)]
            );
            acc += usize::from(k);
            n += 1;
        }
        println!("{name:<45} accepts {acc} of {n}");
        total += n;
        match name {
            "div by constant X = 0 always rejects" => assert_eq!(acc, 0),
            "mod by X (zero or not)" => assert!(acc > 0),
            _ => {}
        }
    }
    println!("{total} verdicts compared");
}

/// Specific verdicts: out-of-bounds loads reject, division by a zero X rejects, `ret a`
/// of zero rejects.
#[test]
fn exact_verdicts() {
    pfring_testkit::require_privileged!();
    let s = Insn::stmt;
    let prog = |v: Vec<Insn>| {
        let p = Program::from_instructions(v).unwrap();
        let x = load(&p, "exact");
        (p, x)
    };
    // ldh [20]: needs 22 bytes.
    let (p, x) = prog(vec![s(LD | H | ABS, 20), s(RET | K, 1)]);
    for len in 14..30 {
        let f = vec![0u8; len];
        assert_eq!(kernel_accepts(&x, &f), len >= 22, "ldh [20] on {len} bytes");
        assert_eq!(vm_accepts(&p, &f), len >= 22);
    }
    // ld [x + 14] with x from ldxb 4*([14]&0xf): header length 20 -> needs 38 bytes.
    let (_, x) = prog(vec![
        s(LDX | B | MSH, 14),
        s(LD | W | IND, 14),
        s(RET | K, 1),
    ]);
    for len in 15..50 {
        let mut f = vec![0u8; len];
        f[14] = 0x45;
        assert_eq!(
            kernel_accepts(&x, &f),
            len >= 38,
            "ld [x+14] on {len} bytes"
        );
    }
    // div / mod by X = [15].
    for op in [DIV, MOD] {
        let (_, x) = prog(vec![
            s(LDX | B | MSH, 15),
            s(LD | IMM, 100),
            s(ALU | op | X, 0),
            s(RET | K, 1),
        ]);
        let mut f = vec![0u8; 20];
        assert!(!kernel_accepts(&x, &f), "{op:#x} by zero");
        f[15] = 1;
        assert!(kernel_accepts(&x, &f), "{op:#x} by four");
    }
    // ret a.
    let (_, x) = prog(vec![s(LD | B | ABS, 14), s(RET | A, 0)]);
    assert!(!kernel_accepts(&x, &[0u8; 20]));
    assert!(kernel_accepts(&x, &[1u8; 20]));
    // len.
    let (_, x) = prog(vec![
        s(LD | W | LEN, 0),
        Insn::jump(JMP | JEQ | K, 77, 0, 1),
        s(RET | K, 1),
        s(RET | K, 0),
    ]);
    assert!(kernel_accepts(&x, &[0u8; 77]));
    assert!(!kernel_accepts(&x, &[0u8; 78]));
}

/// Other verdict values, and a reject tail that is never reached.
#[test]
fn verdicts_are_parameters() {
    pfring_testkit::require_privileged!();
    let p = Program::compile("ip").unwrap();
    let insns = translate_xdp(&p, ebpf::XDP_TX, ebpf::XDP_ABORTED).unwrap();
    let x = XdpProgram::load(&insns).unwrap();
    let mut f = vec![0u8; 60];
    assert_eq!(x.test_run(&f, 1).unwrap(), ebpf::XDP_ABORTED as u32);
    f[12] = 0x08;
    assert_eq!(x.test_run(&f, 3).unwrap(), ebpf::XDP_TX as u32);
    let all = Program::compile("").unwrap();
    let insns = translate_xdp(&all, ebpf::XDP_PASS, ebpf::XDP_DROP).unwrap();
    assert!(!insns.contains(&EbpfInsn::mov64_imm(0, ebpf::XDP_DROP)));
    let x = XdpProgram::load(&insns).unwrap();
    assert_eq!(x.test_run(&f, 1).unwrap(), ebpf::XDP_PASS as u32);
}

/// A random valid classic program: scratch words 0, 5, 10 and 15 written first, then a
/// body of every instruction class with forward jumps, then `ret a` and `ret #0`.
fn random_program(rng: &mut Rng) -> Vec<Insn> {
    let s = Insn::stmt;
    let mem = [0u32, 5, 10, 15];
    let mut v = Vec::new();
    for m in mem {
        v.push(s(LD | IMM, rng.u32() >> rng.below(32)));
        v.push(s(ST, m));
    }
    let body = 8 + rng.below(40) as usize;
    let end = v.len() + body; // index of `ret a`
    for _ in 0..body {
        let pc = v.len();
        let room = (end + 2 - (pc + 1)) as u64; // jumps may land on either ret
        let small = |rng: &mut Rng| rng.below(70) as u32;
        let size = [W, H, B][rng.below(3) as usize];
        let alu_ops = [ADD, SUB, MUL, DIV, OR, AND, LSH, RSH, NEG, MOD, XOR];
        let i = match rng.below(16) {
            0 | 1 => s(LD | size | ABS, small(rng)),
            2 => s(LD | size | IND, rng.below(40) as u32),
            3 => s(LDX | B | MSH, small(rng)),
            4 => s(LD | IMM, rng.u32() >> rng.below(32)),
            5 => s(LDX | IMM, rng.below(64) as u32),
            6 => s(LD | MEM, mem[rng.below(4) as usize]),
            7 => s(LDX | MEM, mem[rng.below(4) as usize]),
            8 => s([ST, STX][rng.below(2) as usize], mem[rng.below(4) as usize]),
            9 => s([LD | W | LEN, LDX | W | LEN][rng.below(2) as usize], 0),
            10 => {
                let o = alu_ops[rng.below(alu_ops.len() as u64) as usize];
                let k = match o {
                    LSH | RSH => rng.below(32) as u32,
                    DIV | MOD => 1 + rng.below(1000) as u32,
                    _ => rng.u32() >> rng.below(32),
                };
                s(ALU | o | K, if o == NEG { 0 } else { k })
            }
            11 => {
                let o = alu_ops[rng.below(alu_ops.len() as u64) as usize];
                s(ALU | o | if o == NEG { K } else { X }, 0)
            }
            12 => s(MISC | [TAX, TXA][rng.below(2) as usize], 0),
            13 => s(JMP | JA, rng.below(room) as u32),
            _ => {
                let o = [JEQ, JGT, JGE, JSET][rng.below(4) as usize];
                let src = [K, X][rng.below(2) as usize];
                let k = if rng.below(2) == 0 {
                    rng.u32()
                } else {
                    rng.below(256) as u32
                };
                let (t, f) = (rng.below(room.min(255)), rng.below(room.min(255)));
                Insn::jump(JMP | o | src, k, t as u8, f as u8)
            }
        };
        v.push(i);
    }
    v.push(s(RET | A, 0));
    v.push(s(RET | K, 0));
    v
}

#[test]
fn random_programs_agree_with_the_vm() {
    pfring_testkit::require_privileged!();
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    let frames = synthetic_frames(&mut rng);
    let (mut programs, mut verdicts, mut accepts) = (0, 0, 0);
    while programs < 400 {
        let insns = random_program(&mut rng);
        let Ok(p) = Program::from_instructions(insns) else {
            continue;
        };
        programs += 1;
        let x = load(&p, &format!("random program\n{p}"));
        for f in frames.iter().step_by(5) {
            let (k, v) = (kernel_accepts(&x, f), vm_accepts(&p, f));
            assert_eq!(k, v, "on {} bytes {:02x?}:\n{p}", f.len(), f);
            verdicts += 1;
            accepts += usize::from(k);
        }
    }
    println!("{programs} random programs, {verdicts} verdicts compared, {accepts} accepts");
}

/// Programs with ancillary loads (`Target::Kernel` VLAN code) are refused with a clear
/// error; the same expressions for `Target::Bytes` translate.
#[test]
fn ancillary_loads_are_unsupported() {
    for e in ["vlan", "vlan 100 and tcp", "inbound", "ifindex 3"] {
        let p = Program::compile_for(e, Target::Kernel).unwrap();
        let err = translate_xdp(&p, ebpf::XDP_PASS, ebpf::XDP_DROP).unwrap_err();
        assert!(matches!(err, FilterError::Unsupported { .. }), "{e}: {err}");
        println!("{e}: {err}");
        if let Ok(b) = Program::compile_for(e, Target::Bytes) {
            translate_xdp(&b, ebpf::XDP_PASS, ebpf::XDP_DROP).unwrap();
        }
    }
}

/// Long programs (close to the classic limit of 4096 instructions) still pass the verifier.
#[test]
fn large_programs_load() {
    pfring_testkit::require_privileged!();
    let mut rng = Rng(42);
    let frames = synthetic_frames(&mut rng);
    for (what, n) in [("port", 160usize), ("host", 200), ("ip[x]", 380)] {
        let expr = (0..n)
            .map(|i| match what {
                "port" => format!("port {}", 1000 + i),
                "host" => format!("host 10.{}.{}.1", i / 250, i % 250),
                _ => format!("ip[{}] & {} = {}", i % 60, i % 255 + 1, i % 7),
            })
            .collect::<Vec<_>>()
            .join(" or ");
        let p = Program::compile(&expr).unwrap_or_else(|e| panic!("{what} x {n}: {e}"));
        let insns = translate_xdp(&p, ebpf::XDP_PASS, ebpf::XDP_DROP).unwrap();
        let t = std::time::Instant::now();
        let x = load(&p, what);
        println!(
            "{what} x {n}: {} classic, {} eBPF instructions, loaded in {:?}",
            p.instructions().len(),
            insns.len(),
            t.elapsed()
        );
        for f in &frames {
            assert_eq!(kernel_accepts(&x, f), vm_accepts(&p, f), "{what}");
        }
    }
}

/// A program the verifier refuses: the error carries the verifier log.
#[test]
fn refused_program_reports_the_verifier_log() {
    pfring_testkit::require_privileged!();
    // Reads the packet without a bounds check.
    let bad = [
        EbpfInsn::ldx_mem(ebpf::code::W, 2, 1, 0),
        EbpfInsn::ldx_mem(ebpf::code::B, 0, 2, 0),
        EbpfInsn::exit(),
    ];
    let err = XdpProgram::load(&bad).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied, "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("verifier log") && msg.contains("invalid access to packet"),
        "{msg}"
    );
}
