//! The kernel offload of PF_RING rules decides every packet of the shared test captures
//! exactly like the library's engine: the compiled program runs in the classic BPF
//! interpreter, the engine on the parsed packet, for rule sets built from the captures' own
//! addresses, ports and MACs.

use std::time::Instant;

use pfring::filter::Target;
use pfring::filter::rules::{
    FilteringPolicy, FilteringRule, HashFilteringRule, RuleAction, RuleSet, offload,
};
use pfring::parse::ParsedPacket;

mod common;

/// Rule sets drawn from `pkts` (every 7th IP packet gives rules).
fn rule_sets(pkts: &[ParsedPacket]) -> Vec<RuleSet> {
    let now = Instant::now();
    let ips: Vec<&ParsedPacket> = pkts.iter().filter(|p| p.ip_version != 0).collect();
    let mut out = Vec::new();
    for (variant, policy) in [
        (0, FilteringPolicy::Accept),
        (1, FilteringPolicy::Drop),
        (2, FilteringPolicy::Drop),
    ] {
        let mut s = RuleSet::new();
        s.set_policy(policy);
        for (n, p) in ips.iter().step_by(7).take(60).enumerate() {
            let action = if n % 2 == 0 {
                RuleAction::DontForwardAndStop
            } else {
                RuleAction::ForwardAndStop
            };
            let src = p.ip_src.to_std(p.ip_version).unwrap();
            let dst = p.ip_dst.to_std(p.ip_version).unwrap();
            let prefix = if p.ip_version == 4 { 16 } else { 48 };
            let id = n as u16 + 1;
            let r = match (n + variant) % 5 {
                0 => FilteringRule::new(id, action)
                    .src_ip(src, prefix)
                    .proto(p.l3_proto),
                1 => FilteringRule::new(id, action)
                    .dst_ip(dst, prefix + 8)
                    .dst_ports(
                        p.l4_dst_port.saturating_sub(3),
                        p.l4_dst_port.saturating_add(3),
                    )
                    .bidirectional(true),
                2 => FilteringRule::new(id, action)
                    .src_mac(p.smac)
                    .src_ports(0, p.l4_src_port),
                3 => FilteringRule::new(id, RuleAction::ExecuteAndContinue).proto(p.l3_proto),
                _ => FilteringRule::new(id, action)
                    .dst_mac(p.dmac)
                    .dst_ports(p.l4_dst_port, p.l4_dst_port),
            };
            s.add_rule(r, None, now).unwrap();
            if n % 3 == variant % 3 {
                let h = HashFilteringRule::from_packet(p, action).unwrap();
                let _ = s.add_hash_rule(h, None, now);
            }
        }
        out.push(s);
    }
    out
}

#[test]
fn offloaded_rules_match_the_engine_on_every_capture() {
    let caps = match common::ethernet_captures() {
        Ok(c) => c,
        Err(why) => {
            eprintln!("{why}");
            return;
        }
    };
    let mut frames: Vec<Vec<u8>> = Vec::new();
    for (_, pkts) in &caps {
        for p in pkts {
            frames.push(p.data.clone());
            frames.extend(common::variants(p).into_iter().map(|v| v.data));
        }
    }
    let parsed: Vec<ParsedPacket> = frames.iter().map(|f| ParsedPacket::parse(f, 4).0).collect();
    let (mut compared, mut punted, mut dropped) = (0u64, 0u64, 0u64);
    for mut set in rule_sets(&parsed) {
        let prog = offload::compile(&set, Target::Bytes).expect("the sets only forward or drop");
        for (i, f) in frames.iter().enumerate() {
            let kernel = prog.matches(f, f.len() as u32);
            let engine = set.evaluate(&parsed[i], f, Instant::now()).deliver;
            if offload::needs_library(f, f.len() as u32) {
                assert!(
                    kernel,
                    "frame {i}: left to the library, so the program accepts it"
                );
                punted += 1;
                continue;
            }
            assert_eq!(kernel, engine, "frame {i}: {:?}", parsed[i]);
            compared += 1;
            dropped += u64::from(!engine);
        }
    }
    eprintln!(
        "{compared} verdicts compared ({dropped} drops), {punted} frames left to the library"
    );
    // Punted: mostly the VLAN / QinQ variants (tags in the bytes on a file).
    assert!(compared > 10_000 && dropped > 1000 && compared > punted);
}

mod random {
    use super::*;
    use proptest::prelude::*;

    fn set() -> RuleSet {
        let now = Instant::now();
        let ip = |s: &str| s.parse().unwrap();
        let mut s = RuleSet::new();
        s.set_policy(FilteringPolicy::Drop);
        for r in [
            FilteringRule::new(1, RuleAction::DontForwardAndStop).vlan(5),
            FilteringRule::new(2, RuleAction::ForwardAndStop)
                .proto(6)
                .dst_ports(0, 1023),
            FilteringRule::new(3, RuleAction::ForwardAndStop)
                .src_ip(ip("10.0.0.0"), 8)
                .src_ports(1000, 2000)
                .bidirectional(true),
            FilteringRule::new(4, RuleAction::ForwardAndStop).dst_ip(ip("2001:db8::"), 32),
            FilteringRule::new(5, RuleAction::ForwardAndStop).dst_mac([0xff; 6]),
            FilteringRule::new(6, RuleAction::ForwardAndStop)
                .proto(17)
                .src_ports(0, 0),
        ] {
            s.add_rule(r, None, now).unwrap();
        }
        let h = HashFilteringRule::new(
            17,
            ip("10.0.0.1"),
            53,
            ip("10.0.0.2"),
            53,
            RuleAction::DontForwardAndStop,
        );
        s.add_hash_rule(h, None, now).unwrap();
        s
    }

    /// An IPv4 or IPv6 TCP/UDP frame skeleton, then random bytes written over it.
    fn frame() -> impl Strategy<Value = Vec<u8>> {
        let base = prop_oneof![
            Just({
                let mut f = vec![0u8; 64];
                f[12..14].copy_from_slice(&[0x08, 0x00]);
                f[14] = 0x45;
                f[23] = 17;
                f[26..30].copy_from_slice(&[10, 0, 0, 1]);
                f[30..34].copy_from_slice(&[10, 0, 0, 2]);
                f[34..38].copy_from_slice(&[0, 53, 0, 53]);
                f
            }),
            Just({
                let mut f = vec![0u8; 80];
                f[12..14].copy_from_slice(&[0x86, 0xdd]);
                f[14] = 0x60;
                f[20] = 6;
                f[38..42].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
                f
            }),
        ];
        (
            base,
            proptest::collection::vec((0usize..80, any::<u8>()), 0..12),
            0usize..90,
        )
            .prop_map(|(mut f, writes, len)| {
                for (at, v) in writes {
                    if at < f.len() {
                        f[at] = v;
                    }
                }
                f.truncate(len.max(1));
                f
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        #[test]
        fn offload_matches_the_engine_on_mutated_frames(f in frame()) {
            let mut s = set();
            let prog = offload::compile(&s, Target::Bytes).unwrap();
            let (p, _) = ParsedPacket::parse(&f, 4);
            let engine = s.evaluate(&p, &f, Instant::now()).deliver;
            let kernel = prog.matches(&f, f.len() as u32);
            if offload::needs_library(&f, f.len() as u32) {
                prop_assert!(kernel);
            } else {
                prop_assert_eq!(kernel, engine, "{:?}", p);
            }
        }
    }
}

/// On a `pcap:` ring the rules run in the library (no kernel): the ring delivers exactly the
/// packets the engine forwards, through `recv` and through `recv_burst`.
#[test]
fn rules_on_a_capture_file_ring() {
    let Ok(dir) = common::testdata_dir() else {
        eprintln!("skipped: no test captures");
        return;
    };
    let path = dir.join("dns_udp_2.pcap");
    let bytes = std::fs::read(&path).unwrap();
    let pkts: Vec<common::Packet> = common::read_capture(&bytes);
    let rule = || {
        FilteringRule::new(1, RuleAction::DontForwardAndStop)
            .proto(17)
            .dst_ports(53, 53)
    };
    let mut engine = RuleSet::new();
    engine.add_rule(rule(), None, Instant::now()).unwrap();
    let want = pkts
        .iter()
        .filter(|p| {
            let (pp, _) = ParsedPacket::parse(&p.data, 4);
            engine.evaluate(&pp, &p.data, Instant::now()).deliver
        })
        .count();
    assert!(want > 0 && want < pkts.len(), "{want} of {}", pkts.len());
    for burst in [false, true] {
        let mut ring = pfring::RingBuilder::new(&format!("pcap:{}", path.display()))
            .open()
            .unwrap();
        ring.add_filtering_rule(rule()).unwrap();
        assert!(!ring.rules_offloaded());
        ring.enable().unwrap();
        let mut n = 0;
        // Bounded by the file.
        for _ in 0..=pkts.len() {
            let got = if burst {
                ring.recv_burst(8, false).unwrap().len()
            } else {
                usize::from(ring.recv(false).unwrap().is_some())
            };
            if got == 0 {
                break;
            }
            n += got;
        }
        assert_eq!(n, want, "burst {burst}");
        let st = ring.rules_stats();
        assert_eq!(
            (st.delivered, st.filtered),
            (want as u64, (pkts.len() - want) as u64)
        );
    }
}
