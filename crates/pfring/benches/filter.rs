//! Classic BPF interpreter speed: ns per packet for a few filters over the Ethernet packets
//! of the test captures (`../shared/testdata/pcap/`), our compiled program side by side with
//! libpcap's program for the same expression (recorded in `tests/data/filters.txt`, run in
//! the same VM), plus the compile time.
//!
//! `cargo bench -p pfring --bench filter` (criterion reports time per iteration over all
//! packets and, with the element throughput, packets per second).

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pfring::filter::{Insn, Program};

const FILTERS: &[&str] = &[
    "tcp port 80",
    "udp port 53 or udp port 547",
    "host 10.0.0.1 or net 192.168.0.0/16",
    "tcp[tcpflags] & tcp-syn != 0",
    "vlan and tcp",
    "ip6 and not icmp6",
];

/// libpcap's program for `expr` from the recorded table, if present.
fn libpcap_program(expr: &str) -> Option<Program> {
    let line = include_str!("../tests/data/filters.txt")
        .lines()
        .find(|l| l.split('\t').next() == Some(expr))?;
    let body = line.split('\t').nth(2)?;
    let insns: Option<Vec<Insn>> = body
        .split(',')
        .map(|q| {
            let v: Vec<u32> = q.split(' ').filter_map(|x| x.parse().ok()).collect();
            Some(Insn {
                code: *v.first()? as u16,
                jt: *v.get(1)? as u8,
                jf: *v.get(2)? as u8,
                k: *v.get(3)?,
            })
        })
        .collect();
    Program::from_instructions(insns?).ok()
}

fn packets() -> Vec<(Vec<u8>, u32)> {
    match common::ethernet_captures() {
        Ok(caps) => caps
            .into_iter()
            .flat_map(|(_, p)| p)
            .map(|p| (p.data, p.wire_len))
            .collect(),
        Err(reason) => {
            eprintln!("{reason}; using one synthetic packet");
            vec![(vec![0u8; 64], 64)]
        }
    }
}

fn vm(c: &mut Criterion) {
    let pkts = packets();
    let mut g = c.benchmark_group("vm");
    g.throughput(Throughput::Elements(pkts.len() as u64));
    for &e in FILTERS {
        let ours = Program::compile(e).expect("compiles");
        g.bench_function(format!("ours/{e}"), |b| {
            b.iter(|| {
                pkts.iter()
                    .filter(|(d, l)| ours.matches(black_box(d), *l))
                    .count()
            })
        });
        if let Some(theirs) = libpcap_program(e) {
            g.bench_function(format!("libpcap/{e}"), |b| {
                b.iter(|| {
                    pkts.iter()
                        .filter(|(d, l)| theirs.matches(black_box(d), *l))
                        .count()
                })
            });
        }
    }
    g.finish();
}

fn compile(c: &mut Criterion) {
    let mut g = c.benchmark_group("compile");
    for &e in FILTERS {
        g.bench_function(e, |b| b.iter(|| Program::compile(black_box(e)).unwrap()));
    }
    g.finish();
}

criterion_group!(benches, vm, compile);
criterion_main!(benches);
