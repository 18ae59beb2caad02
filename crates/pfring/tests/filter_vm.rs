//! The validator and the interpreter, plus property tests: random expressions never panic
//! the compiler, compiled programs validate and agree with their unoptimized form, random
//! programs and bytes never panic the VM.

use pfring::filter::bpf::insn::op::*;
use pfring::filter::{
    CompileOptions, FilterError, Insn, PacketMeta, Program, bpf::vm, compile, validate,
};
use proptest::prelude::*;

fn s(code: u16, k: u32) -> Insn {
    Insn::stmt(code, k)
}
fn j(code: u16, k: u32, jt: u8, jf: u8) -> Insn {
    Insn::jump(code, k, jt, jf)
}

#[track_caller]
fn invalid(p: &[Insn]) -> String {
    match validate(p) {
        Err(FilterError::InvalidProgram { reason, .. }) => reason,
        other => panic!("expected invalid, got {other:?}"),
    }
}

#[test]
fn sock_filter_layout() {
    assert_eq!(std::mem::size_of::<Insn>(), 8);
    assert_eq!(std::mem::align_of::<Insn>(), 4);
}

#[test]
fn validator_rejects_what_the_kernel_rejects() {
    assert!(invalid(&[]).contains("empty"));
    assert!(invalid(&vec![s(RET | K, 0); 4097]).contains("4096"));
    assert!(invalid(&[s(0xffff, 0), s(RET | K, 0)]).contains("opcode"));
    assert!(invalid(&[s(RET | X, 0)]).contains("opcode"));
    assert!(invalid(&[s(LD | IMM, 0)]).contains("ret"));
    assert!(invalid(&[j(JMP | JEQ | K, 0, 1, 0), s(RET | K, 0)]).contains("range"));
    assert!(invalid(&[s(JMP | JA, 1), s(RET | K, 0)]).contains("range"));
    assert!(invalid(&[s(ALU | DIV | K, 0), s(RET | K, 0)]).contains("zero"));
    assert!(invalid(&[s(ALU | MOD | K, 0), s(RET | K, 0)]).contains("zero"));
    assert!(invalid(&[s(ALU | LSH | K, 32), s(RET | K, 0)]).contains("shift"));
    assert!(invalid(&[s(ST, 16), s(RET | K, 0)]).contains("scratch"));
    assert!(invalid(&[s(LD | MEM, 3), s(RET | K, 0)]).contains("uninitialised"));
    // A store on one path only does not initialise the word.
    assert!(
        invalid(&[
            j(JMP | JEQ | K, 0, 0, 1),
            s(ST, 3),
            s(LDX | MEM, 3),
            s(RET | A, 0)
        ])
        .contains("uninitialised")
    );
    assert!(
        validate(&[
            s(LD | W | LEN, 0),
            s(ST, 3),
            j(JMP | JGT | K, 100, 0, 1),
            s(LDX | MEM, 3),
            s(RET | A, 0),
            s(RET | K, 0)
        ])
        .is_ok()
    );
    assert!(Program::from_instructions(vec![s(RET | K, 1)]).is_ok());
}

#[test]
fn out_of_bounds_loads_reject() {
    let p = Program::from_instructions(vec![s(LD | W | ABS, 10), s(RET | K, 1)]).unwrap();
    assert!(p.matches(&[0; 14], 14));
    assert!(!p.matches(&[0; 13], 13));
    let p = Program::from_instructions(vec![
        s(LDX | IMM, u32::MAX),
        s(LD | B | IND, 2),
        s(RET | K, 1),
    ])
    .unwrap();
    assert!(!p.matches(&[0; 64], 64), "x + k overflow");
    let p = Program::from_instructions(vec![s(LDX | B | MSH, 64), s(RET | K, 1)]).unwrap();
    assert!(!p.matches(&[0; 64], 64));
}

#[test]
fn alu_and_jumps() {
    let run = |p: Vec<Insn>, pkt: &[u8]| {
        Program::from_instructions(p)
            .unwrap()
            .run(pkt, 99, &PacketMeta::default())
    };
    // Division by a zero X rejects.
    assert_eq!(
        run(
            vec![
                s(LD | IMM, 7),
                s(LDX | IMM, 0),
                s(ALU | DIV | X, 0),
                s(RET | A, 0)
            ],
            &[]
        ),
        0
    );
    assert_eq!(
        run(
            vec![
                s(LD | IMM, 7),
                s(LDX | IMM, 2),
                s(ALU | MOD | X, 0),
                s(RET | A, 0)
            ],
            &[]
        ),
        1
    );
    assert_eq!(
        run(
            vec![
                s(LD | IMM, 1),
                s(LDX | IMM, 40),
                s(ALU | LSH | X, 0),
                s(RET | A, 0)
            ],
            &[]
        ),
        0
    );
    assert_eq!(
        run(vec![s(LD | IMM, 5), s(ALU | NEG, 0), s(RET | A, 0)], &[]),
        5u32.wrapping_neg()
    );
    assert_eq!(run(vec![s(LD | W | LEN, 0), s(RET | A, 0)], &[]), 99);
    assert_eq!(
        run(
            vec![s(LDX | W | LEN, 0), s(MISC | TXA, 0), s(RET | A, 0)],
            &[]
        ),
        99
    );
    assert_eq!(
        run(
            vec![s(LDX | B | MSH, 0), s(MISC | TXA, 0), s(RET | A, 0)],
            &[0x45]
        ),
        20
    );
    assert_eq!(
        run(vec![s(JMP | JA, 1), s(RET | K, 1), s(RET | K, 2)], &[]),
        2
    );
    assert_eq!(
        run(
            vec![
                s(LD | IMM, 6),
                j(JMP | JSET | K, 4, 0, 1),
                s(RET | K, 1),
                s(RET | K, 2)
            ],
            &[]
        ),
        1
    );
    assert_eq!(
        run(
            vec![
                s(LD | IMM, 6),
                s(LDX | IMM, 6),
                j(JMP | JGE | X, 0, 0, 1),
                s(RET | K, 1),
                s(RET | K, 2)
            ],
            &[]
        ),
        1
    );
    assert_eq!(
        run(
            vec![
                s(LD | IMM, 3),
                s(ST, 15),
                s(LDX | MEM, 15),
                s(STX, 0),
                s(LD | MEM, 0),
                s(RET | A, 0)
            ],
            &[]
        ),
        3
    );
}

#[test]
fn ancillary_loads() {
    let meta = PacketMeta {
        vlan_tci: Some(0x0123),
        vlan_tpid: 0x88a8,
        protocol: 0x0800,
        ifindex: 7,
        mark: 9,
        ..PacketMeta::default()
    };
    let anc = |off: u32| {
        Program::from_instructions(vec![s(LD | W | ABS, SKF_AD_OFF + off), s(RET | A, 0)])
            .unwrap()
            .run(&[], 0, &meta)
    };
    assert_eq!(anc(SKF_AD_VLAN_TAG), 0x123);
    assert_eq!(anc(SKF_AD_VLAN_TAG_PRESENT), 1);
    assert_eq!(anc(SKF_AD_VLAN_TPID), 0x88a8);
    assert_eq!(anc(SKF_AD_PROTOCOL), 0x0800);
    assert_eq!(anc(SKF_AD_IFINDEX), 7);
    assert_eq!(anc(SKF_AD_MARK), 9);
    assert_eq!(anc(SKF_AD_NLATTR), 0, "not modelled: rejects");
    let p = Program::from_instructions(vec![
        s(LD | W | ABS, SKF_AD_OFF + SKF_AD_VLAN_TAG_PRESENT),
        s(RET | A, 0),
    ])
    .unwrap();
    assert_eq!(p.run(&[], 0, &PacketMeta::default()), 0);
}

#[test]
fn vm_survives_unvalidated_programs() {
    // Jumps past the end and falling off the end return 0 instead of panicking.
    for p in [
        vec![j(JMP | JEQ | K, 0, 200, 200)],
        vec![s(JMP | JA, u32::MAX)],
        vec![s(LD | IMM, 1)],
        vec![s(LD | MEM, 99), s(RET | A, 0)],
        vec![s(0xffff, 0), s(RET | K, 1)],
    ] {
        assert_eq!(vm::run(&p, &[1, 2, 3], 3, &PacketMeta::default()), 0);
    }
}

// ----- properties -----

fn primitive() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("tcp".to_string()),
        Just("udp".to_string()),
        Just("ip".to_string()),
        Just("ip6".to_string()),
        Just("arp".to_string()),
        Just("icmp".to_string()),
        Just("vlan".to_string()),
        Just("mpls".to_string()),
        Just("broadcast".to_string()),
        Just("ip multicast".to_string()),
        (0u32..4096).prop_map(|v| format!("vlan {v}")),
        (0u32..70000).prop_map(|p| format!("port {p}")),
        (0u32..2000, 0u32..2000).prop_map(|(a, b)| format!("portrange {a}-{b}")),
        (
            proptest::sample::select(vec!["", "src ", "dst ", "src or dst ", "src and dst "]),
            proptest::sample::select(vec!["", "ip ", "arp "]),
            any::<[u8; 4]>()
        )
            .prop_map(|(d, p, a)| format!("{p}{d}host {}.{}.{}.{}", a[0], a[1], a[2], a[3])),
        (any::<[u8; 2]>(), 0u32..=33).prop_map(|(a, l)| format!("net {}.{}.0.0/{l}", a[0], a[1])),
        (any::<u16>(), 0u32..=128).prop_map(|(a, l)| format!("ip6 net {a:x}::/{l}")),
        (0u32..300).prop_map(|n| format!("ip proto {n}")),
        (0u32..2000).prop_map(|n| format!("less {n}")),
        (
            proptest::sample::select(vec![
                "ip", "tcp", "udp", "ether", "icmp", "ip6", "icmp6", "arp"
            ]),
            0u32..80,
            proptest::sample::select(vec!["", ":1", ":2", ":4", ":3"]),
            proptest::sample::select(vec!["=", "!=", "<", ">", ">=", "<="]),
            proptest::sample::select(vec!["0", "1", "0x10", "len", "ip[0]", "tcp[13] & 2"]),
        )
            .prop_map(|(p, i, sz, op, rhs)| format!("{p}[{i}{sz}] {op} {rhs}")),
        (
            proptest::sample::select(vec!["+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>"]),
            0u32..40
        )
            .prop_map(|(o, k)| format!("len {o} {k} > 10")),
        Just("tcp[tcpflags] & tcp-syn != 0".to_string()),
        (proptest::sample::select(vec!["", "ip ", "ip6 "]), 0u32..140)
            .prop_map(|(p, n)| format!("{p}protochain {n}")),
        Just("ether host 00:11:22:33:44:55".to_string()),
        // Garbage tokens too.
        Just("(".to_string()),
        Just("port".to_string()),
        Just("and".to_string()),
    ]
}

fn expression() -> impl Strategy<Value = String> {
    primitive().prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} and {b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} or {b}")),
            inner.clone().prop_map(|a| format!("not {a}")),
            inner.clone().prop_map(|a| format!("({a})")),
            (inner.clone(), 0u32..1000).prop_map(|(a, p)| format!("{a} or {p}")),
        ]
    })
}

fn packet() -> impl Strategy<Value = Vec<u8>> {
    // Realistic headers with random mutations, and plain random bytes.
    let tcp4: Vec<u8> = {
        let mut v = vec![0xff; 6];
        v.extend_from_slice(&[0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x08, 0x00]);
        v.extend_from_slice(&[
            0x45, 0, 0, 40, 0, 1, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ]);
        v.extend_from_slice(&[
            0, 80, 0x1f, 0x90, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 2, 0xff, 0xff, 0, 0, 0, 0,
        ]);
        v
    };
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..120),
        (
            proptest::collection::vec((0usize..54, any::<u8>()), 0..6),
            0usize..=54
        )
            .prop_map(move |(muts, len)| {
                let mut v = tcp4.clone();
                for (i, b) in muts {
                    v[i] = b;
                }
                v.truncate(len);
                v
            }),
    ]
}

proptest! {
    // 512 cases by default; more with PROPTEST_CASES=N.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512),
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_expressions_compile_to_valid_programs(e in expression(), pkts in proptest::collection::vec(packet(), 4)) {
        let opts = CompileOptions { resolve_hosts: false, ..CompileOptions::default() };
        if let Ok(p) = Program::compile_with(&e, &opts) {
            prop_assert!(validate(p.instructions()).is_ok());
            let raw = Program::compile_with(&e, &CompileOptions { optimize: false, ..opts }).unwrap();
            for pkt in &pkts {
                // Short packets: no panic. (Folding a decided test away also drops its load,
                // so on truncated packets the optimized program may accept where the raw one
                // hit the end of the packet: libpcap's optimizer does the same.)
                let _ = p.matches(pkt, pkt.len() as u32);
                // Padded packets: no load runs past the end; both programs must agree.
                let mut padded = pkt.clone();
                padded.resize(600, 0);
                prop_assert_eq!(p.matches(&padded, 600), raw.matches(&padded, 600), "{} on {:?}", e, pkt);
            }
        }
    }

    #[test]
    fn random_strings_never_panic(e in "\\PC{0,60}") {
        let _ = Program::compile_with(&e, &CompileOptions { resolve_hosts: false, ..CompileOptions::default() });
    }

    #[test]
    fn token_soup_never_panics(toks in proptest::collection::vec(proptest::sample::select(vec![
        "tcp", "port", "host", "net", "src", "dst", "and", "or", "not", "(", ")", "[", "]", ":",
        "=", "!=", ">", "+", "-", "*", "/", "&", "|", "^", "<<", "80", "0", "10.0.0.1", "::1",
        "vlan", "mpls", "ip", "ip6", "len", "proto", "ether", "1:2:3:4:5:6", "mask", "255.0.0.0",
    ]), 0..16)) {
        let _ = Program::compile_with(&toks.join(" "), &CompileOptions { resolve_hosts: false, ..CompileOptions::default() });
    }

    #[test]
    fn random_programs_never_panic_the_vm(
        prog in proptest::collection::vec((any::<u16>(), any::<u8>(), any::<u8>(), any::<u32>()), 1..24),
        pkt in proptest::collection::vec(any::<u8>(), 0..80),
    ) {
        let insns: Vec<Insn> = prog.into_iter().map(|(c, jt, jf, k)| Insn { code: c & 0xff, jt, jf, k: k % 100 }).collect();
        let meta = PacketMeta::default();
        let raw = vm::run(&insns, &pkt, pkt.len() as u32, &meta);
        let decoded = vm::Decoded::new(&insns).run(&pkt, pkt.len() as u32, &meta);
        if validate(&insns).is_ok() {
            // On valid programs the decoded interpreter gives the same answers.
            prop_assert_eq!(decoded, raw);
            let _ = Program::from_instructions(insns).unwrap().matches(&pkt, 7);
        }
    }
}

proptest! {
    /// Straight-line programs from valid opcodes, ending in `ret a`: the two interpreters
    /// agree (the random-opcode test above rarely produces valid programs).
    #[test]
    fn interpreters_agree_on_valid_programs(
        body in proptest::collection::vec((0usize..23, any::<u8>(), any::<u8>(), 0u32..80), 0..20),
        pkt in proptest::collection::vec(any::<u8>(), 0..80),
    ) {
        const CODES: [u16; 23] = [
            LD | W | ABS, LD | H | ABS, LD | B | ABS, LD | W | IND, LD | H | IND, LD | B | IND,
            LD | W | LEN, LD | IMM, LDX | IMM, LDX | B | MSH, LDX | W | LEN, ALU | ADD | K,
            ALU | SUB | X, ALU | MUL | K, ALU | DIV | X, ALU | AND | K, ALU | OR | X,
            ALU | LSH | X, ALU | RSH | K, ALU | NEG, MISC | TAX, MISC | TXA, JMP | JGT | X,
        ];
        let n = body.len();
        let mut insns: Vec<Insn> = body
            .iter()
            .enumerate()
            .map(|(pc, &(c, jt, jf, k))| {
                let room = (n - pc) as u8; // targets stay inside (the final ret included)
                let k = if c == 14 || c == 18 { k % 31 + 1 } else { k };
                Insn { code: CODES[c], jt: jt % room, jf: jf % room, k }
            })
            .collect();
        insns.push(Insn::stmt(RET | A, 0));
        prop_assert!(validate(&insns).is_ok(), "{:?}", validate(&insns));
        let meta = PacketMeta::default();
        let len = pkt.len() as u32;
        prop_assert_eq!(vm::Decoded::new(&insns).run(&pkt, len, &meta), vm::run(&insns, &pkt, len, &meta));
    }
}

#[test]
fn compile_is_the_free_function_too() {
    assert_eq!(compile("tcp").unwrap(), Program::compile("tcp").unwrap());
}

/// Our validator and the running kernel's `bpf_check_classic` agree on random programs
/// (through `tests/data/kernel-accepts.py`). Skipped without python3.
#[test]
fn validator_agrees_with_the_kernel() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    // Opcodes: all valid ones and a few invalid ones.
    let codes: Vec<u16> = vec![
        0x00, 0x20, 0x28, 0x30, 0x40, 0x48, 0x50, 0x60, 0x80, 0x01, 0x61, 0x81, 0xb1, 0x02, 0x03,
        0x04, 0x14, 0x24, 0x34, 0x44, 0x54, 0x64, 0x74, 0x84, 0x94, 0xa4, 0x0c, 0x3c, 0x9c, 0x05,
        0x15, 0x25, 0x35, 0x45, 0x1d, 0x06, 0x16, 0x07, 0x87, 0x0e, 0x8c, 0xc4, 0x55, 0x68, 0x0d,
    ];
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut progs = Vec::new();
    for _ in 0..3000 {
        let n = 1 + (next() % 8) as usize;
        let mut p: Vec<Insn> = (0..n)
            .map(|_| {
                let r = next();
                Insn {
                    code: codes[(r % codes.len() as u64) as usize],
                    jt: ((r >> 8) % 4) as u8,
                    jf: ((r >> 16) % 4) as u8,
                    k: [0, 1, 3, 15, 16, 31, 32, 40, 0xffff_f000 + 48][((r >> 24) % 9) as usize],
                }
            })
            .collect();
        if next() % 4 != 0 {
            p.push(Insn::stmt(RET | K, 1));
        }
        progs.push(p);
    }
    let input: String = progs
        .iter()
        .map(|p| {
            let q: Vec<String> = p
                .iter()
                .map(|i| format!("{} {} {} {}", i.code, i.jt, i.jf, i.k))
                .collect();
            q.join(",") + "\n"
        })
        .collect();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/kernel-accepts.py");
    let Ok(mut child) = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
    else {
        println!("skipped: python3 is not available");
        return;
    };
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    if !out.status.success() {
        println!("skipped: kernel-accepts.py failed");
        return;
    }
    let verdicts: Vec<bool> = std::str::from_utf8(&out.stdout)
        .unwrap()
        .lines()
        .map(|l| l == "ok")
        .collect();
    assert_eq!(verdicts.len(), progs.len());
    let mut accepted = 0;
    for (p, kernel) in progs.iter().zip(verdicts) {
        let ours = validate(p).is_ok();
        assert_eq!(
            ours,
            kernel,
            "validator disagrees with the kernel on {p:?}: {:?}",
            validate(p)
        );
        accepted += usize::from(ours);
    }
    println!(
        "{} random programs, {accepted} accepted by both",
        progs.len()
    );
}
