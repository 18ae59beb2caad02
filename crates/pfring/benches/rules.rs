//! PF_RING rule engine speed in the library: ns per packet with 1,000 wildcard rules and with
//! 1,000,000 exact (hash) rules, each including the level-4 parse the ring does first, next
//! to the parse alone.
//!
//! `cargo bench -p pfring --bench rules`

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pfring::filter::rules::{FilteringRule, HashFilteringRule, RuleAction, RuleSet};
use pfring::parse::ParsedPacket;
use pfring_testkit::FrameBuilder;

/// 256 UDP frames of distinct flows 10.1.x.y:1000+i -> 10.2.0.1:53.
fn frames() -> Vec<Vec<u8>> {
    (0..256u32)
        .map(|i| {
            FrameBuilder::udp()
                .ips(Ipv4Addr::from(0x0a01_0000 + i), Ipv4Addr::new(10, 2, 0, 1))
                .ports(1000 + i as u16, 53)
                .build(u64::from(i), 64)
        })
        .collect()
}

fn run(c: &mut Criterion, name: &str, set: &mut RuleSet, frames: &[Vec<u8>]) {
    let mut g = c.benchmark_group("rules");
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.bench_function(name, |b| {
        b.iter(|| {
            let now = Instant::now();
            let mut n = 0u32;
            for f in frames {
                let (p, _) = ParsedPacket::parse(black_box(f), 4);
                n += u32::from(set.evaluate(&p, f, now).deliver);
            }
            n
        })
    });
    g.finish();
}

fn bench(c: &mut Criterion) {
    let frames = frames();
    let now = Instant::now();
    {
        let mut g = c.benchmark_group("rules");
        g.throughput(Throughput::Elements(frames.len() as u64));
        g.bench_function("parse only", |b| {
            b.iter(|| {
                frames
                    .iter()
                    .map(|f| ParsedPacket::parse(black_box(f), 4).0.l4_dst_port as u32)
                    .sum::<u32>()
            })
        });
        g.finish();
    }

    // 1,000 wildcard rules (hosts, ports, protocols) that none of the frames match: every
    // packet walks all of them, the worst case.
    let mut wild = RuleSet::new();
    for i in 0..1000u16 {
        let r = match i % 4 {
            0 => FilteringRule::new(i, RuleAction::DontForwardAndStop).src_ip(
                IpAddr::V4(Ipv4Addr::new(192, 168, (i >> 8) as u8, i as u8)),
                32,
            ),
            1 => FilteringRule::new(i, RuleAction::DontForwardAndStop)
                .proto(6)
                .dst_ports(i, i + 10),
            2 => FilteringRule::new(i, RuleAction::DontForwardAndStop)
                .dst_ip(IpAddr::V4(Ipv4Addr::new(172, 16, 0, 0)), 16)
                .bidirectional(true),
            _ => FilteringRule::new(i, RuleAction::DontForwardAndStop)
                .proto(17)
                .src_ports(60000, 60000 + i % 100),
        };
        wild.add_rule(r, None, now).unwrap();
    }
    run(c, "1000 wildcard rules, no match", &mut wild, &frames);

    // 1,000,000 exact rules; half the frames hit one (drop), half miss.
    let mut exact = RuleSet::new();
    for i in 0..1_000_000u32 {
        let a = IpAddr::V4(Ipv4Addr::from(0x0a01_0000 + i));
        let r = HashFilteringRule::new(
            17,
            a,
            1000 + i as u16,
            IpAddr::V4(Ipv4Addr::new(10, 2, 0, 1)),
            if i % 2 == 0 { 53 } else { 54 },
            RuleAction::DontForwardAndStop,
        );
        exact.add_hash_rule(r, None, now).unwrap();
    }
    run(c, "1000000 exact rules, half hit", &mut exact, &frames);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
