use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use pfring_testkit::FrameBuilder;
use pfring_testkit::frame::L4;

use super::*;
use crate::filter::{PacketMeta, Target};
use crate::parse::ParsedPacket;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn v4(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

/// A UDP frame a:sp -> b:dp with `payload` bytes after the UDP header.
fn udp(a: &str, sp: u16, b: &str, dp: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = FrameBuilder::udp()
        .ips(v4(a), v4(b))
        .ports(sp, dp)
        .build(0, payload.len().max(8));
    let start = 14 + 20 + 8;
    f.truncate(start);
    f.extend_from_slice(payload);
    if payload.len() < 8 {
        f.resize(start + 8, 0);
    }
    f
}

fn tcp(a: &str, sp: u16, b: &str, dp: u16) -> Vec<u8> {
    FrameBuilder::tcp()
        .l4(L4::Tcp { flags: 0x10 })
        .ips(v4(a), v4(b))
        .ports(sp, dp)
        .build(1, 16)
}

fn eval(set: &mut RuleSet, frame: &[u8], now: Instant) -> Verdict {
    let (p, _) = ParsedPacket::parse(frame, 4);
    set.evaluate(&p, frame, now)
}

fn delivers(set: &mut RuleSet, frame: &[u8]) -> bool {
    eval(set, frame, Instant::now()).deliver
}

fn add(set: &mut RuleSet, r: FilteringRule) {
    set.add_rule(r, None, Instant::now()).unwrap();
}

#[test]
fn action_values_are_the_5x_numbering() {
    for v in 0..10 {
        assert_eq!(RuleAction::from_raw(v).unwrap().raw(), v);
    }
    assert_eq!(RuleAction::from_raw(10), None);
    assert_eq!(RuleAction::ReflectAndStop.raw(), 6);
    assert_eq!(RuleAction::BounceAndContinue.raw(), 9);
    assert!(!RuleAction::ReflectAndContinue.stops());
    assert!(RuleAction::ForwardDelRuleAndStop.stops());
}

#[test]
fn empty_set_accepts_and_is_inactive() {
    let mut s = RuleSet::new();
    assert!(!s.is_active());
    assert!(delivers(&mut s, &udp("10.0.0.1", 1, "10.0.0.2", 2, b"x")));
}

#[test]
fn policy_drop_and_forward_rule() {
    let mut s = RuleSet::new();
    s.set_policy(FilteringPolicy::Drop);
    assert!(s.is_active());
    add(
        &mut s,
        FilteringRule::new(1, RuleAction::ForwardAndStop).dst_ports(53, 53),
    );
    assert!(delivers(
        &mut s,
        &udp("10.0.0.1", 1000, "10.0.0.2", 53, b"q")
    ));
    assert!(!delivers(
        &mut s,
        &udp("10.0.0.1", 1000, "10.0.0.2", 54, b"q")
    ));
    let st = s.stats();
    assert_eq!((st.evaluated, st.delivered, st.filtered), (2, 1, 1));
}

#[test]
fn dont_forward_and_execute_actions() {
    let mut s = RuleSet::new();
    add(
        &mut s,
        FilteringRule::new(1, RuleAction::DontForwardAndStop).proto(6),
    );
    add(
        &mut s,
        FilteringRule::new(2, RuleAction::ExecuteAndStop).dst_ports(9, 9),
    );
    add(
        &mut s,
        FilteringRule::new(3, RuleAction::ExecuteAndContinue),
    );
    assert!(!delivers(&mut s, &tcp("1.1.1.1", 5, "2.2.2.2", 80)));
    assert!(!delivers(&mut s, &udp("1.1.1.1", 5, "2.2.2.2", 9, b"")));
    // execute-and-continue without a plugin changes nothing: the policy decides.
    let v = eval(
        &mut s,
        &udp("1.1.1.1", 5, "2.2.2.2", 10, b""),
        Instant::now(),
    );
    assert!(v.deliver);
    assert_eq!(v.rule_id, Some(3));
}

#[test]
fn rules_run_in_ascending_id_and_first_terminal_wins() {
    let mut s = RuleSet::new();
    // Added out of order: id 5 (drop) must run before id 9 (forward).
    add(
        &mut s,
        FilteringRule::new(9, RuleAction::ForwardAndStop).proto(17),
    );
    add(
        &mut s,
        FilteringRule::new(5, RuleAction::DontForwardAndStop).proto(17),
    );
    s.set_policy(FilteringPolicy::Accept);
    let v = eval(
        &mut s,
        &udp("1.1.1.1", 5, "2.2.2.2", 9, b""),
        Instant::now(),
    );
    assert!(!v.deliver);
    assert_eq!(v.rule_id, Some(5));
    assert_eq!(s.rules().map(|r| r.rule_id).collect::<Vec<_>>(), vec![5, 9]);
    let now = Instant::now();
    assert_eq!(s.rule_stats(5, now).unwrap().matches, 1);
    assert_eq!(s.rule_stats(9, now).unwrap().matches, 0);
}

#[test]
fn duplicate_and_missing_ids_are_errors() {
    let mut s = RuleSet::new();
    add(&mut s, FilteringRule::new(1, RuleAction::ForwardAndStop));
    assert_eq!(
        s.add_rule(
            FilteringRule::new(1, RuleAction::DontForwardAndStop),
            None,
            Instant::now()
        ),
        Err(RuleError::Duplicate(1))
    );
    assert_eq!(s.remove_rule(2), Err(RuleError::NoSuchRule(2)));
    assert!(s.remove_rule(1).is_ok());
    assert_eq!(s.len(), (0, 0));
    let bad = FilteringRule::new(3, RuleAction::ForwardAndStop).payload(&"x".repeat(32));
    assert!(matches!(
        s.add_rule(bad, None, Instant::now()),
        Err(RuleError::Invalid(_))
    ));
    let bad = FilteringRule::new(3, RuleAction::ForwardAndStop).dst_ports(10, 5);
    assert!(matches!(
        s.add_rule(bad, None, Instant::now()),
        Err(RuleError::Invalid(_))
    ));
    let bad = FilteringRule::new(3, RuleAction::ForwardAndStop).balance(2, 2);
    assert!(matches!(
        s.add_rule(bad, None, Instant::now()),
        Err(RuleError::Invalid(_))
    ));
    let mut bad = FilteringRule::new(3, RuleAction::ForwardAndStop);
    bad.plugin_id = 7;
    assert_eq!(
        s.add_rule(bad, None, Instant::now()),
        Err(RuleError::NoSuchPlugin(7))
    );
    assert!(matches!(
        s.add_rule(
            FilteringRule::new(AUTO_RULE_ID, RuleAction::ForwardAndStop),
            None,
            Instant::now()
        ),
        Err(RuleError::Invalid(_))
    ));
}

#[test]
fn masks_and_ranges() {
    let mut s = RuleSet::new();
    s.set_policy(FilteringPolicy::Drop);
    add(
        &mut s,
        FilteringRule::new(1, RuleAction::ForwardAndStop)
            .src_ip(ip("192.168.1.0"), 24)
            .src_ports(1000, 2000),
    );
    assert!(delivers(
        &mut s,
        &udp("192.168.1.77", 1000, "8.8.8.8", 1, b"")
    ));
    assert!(delivers(
        &mut s,
        &udp("192.168.1.1", 2000, "8.8.8.8", 1, b"")
    ));
    assert!(!delivers(
        &mut s,
        &udp("192.168.2.1", 1500, "8.8.8.8", 1, b"")
    ));
    assert!(!delivers(
        &mut s,
        &udp("192.168.1.1", 999, "8.8.8.8", 1, b"")
    ));
    assert!(!delivers(
        &mut s,
        &udp("192.168.1.1", 2001, "8.8.8.8", 1, b"")
    ));
    // An IPv4 mask never matches IPv6 packets (and needs an IP packet at all).
    let mut arp = vec![0xffu8; 12];
    arp.extend_from_slice(&[0x08, 0x06]);
    arp.resize(60, 0);
    assert!(!delivers(&mut s, &arp));
}

#[test]
fn mac_vlan_and_proto_fields() {
    let mut s = RuleSet::new();
    s.set_policy(FilteringPolicy::Drop);
    add(
        &mut s,
        FilteringRule::new(1, RuleAction::ForwardAndStop)
            .src_mac([2, 0, 0, 0, 0, 1])
            .vlan(10)
            .proto(17),
    );
    let tagged = FrameBuilder::udp().vlan(10).build(0, 20);
    let other_vlan = FrameBuilder::udp().vlan(11).build(0, 20);
    let untagged = FrameBuilder::udp().build(0, 20);
    let other_mac = FrameBuilder::udp()
        .vlan(10)
        .macs([2, 0, 0, 0, 0, 9], [2, 0, 0, 0, 0, 2])
        .build(0, 20);
    assert!(delivers(&mut s, &tagged));
    assert!(!delivers(&mut s, &other_vlan));
    assert!(!delivers(&mut s, &untagged));
    assert!(!delivers(&mut s, &other_mac));
}

#[test]
fn bidirectional_rules_match_both_ways() {
    let mut s = RuleSet::new();
    s.set_policy(FilteringPolicy::Drop);
    add(
        &mut s,
        FilteringRule::new(1, RuleAction::ForwardAndStop)
            .src_ip(ip("10.0.0.1"), 32)
            .dst_ip(ip("10.0.0.2"), 32)
            .src_ports(1111, 1111)
            .dst_ports(80, 80),
    );
    let fwd = udp("10.0.0.1", 1111, "10.0.0.2", 80, b"");
    let back = udp("10.0.0.2", 80, "10.0.0.1", 1111, b"");
    assert!(delivers(&mut s, &fwd));
    assert!(!delivers(&mut s, &back));
    s.remove_rule(1).unwrap();
    add(
        &mut s,
        FilteringRule::new(1, RuleAction::ForwardAndStop)
            .src_ip(ip("10.0.0.1"), 32)
            .dst_ip(ip("10.0.0.2"), 32)
            .src_ports(1111, 1111)
            .dst_ports(80, 80)
            .bidirectional(true),
    );
    assert!(delivers(&mut s, &fwd));
    assert!(delivers(&mut s, &back));
    // Half-swapped is not a match.
    assert!(!delivers(
        &mut s,
        &udp("10.0.0.2", 1111, "10.0.0.1", 80, b"")
    ));
}

#[test]
fn ipv6_prefixes() {
    let mut s = RuleSet::new();
    s.set_policy(FilteringPolicy::Drop);
    add(
        &mut s,
        FilteringRule::new(1, RuleAction::ForwardAndStop).dst_ip(ip("2001:db8::"), 32),
    );
    let mut p = ParsedPacket {
        ip_version: 6,
        ..ParsedPacket::default()
    };
    p.ip_dst = crate::parse::IpAddress::from_v6(
        "2001:db8:1::5"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    assert!(s.evaluate(&p, &[], Instant::now()).deliver);
    p.ip_dst = crate::parse::IpAddress::from_v6(
        "2001:db9::5"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    assert!(!s.evaluate(&p, &[], Instant::now()).deliver);
    // The same first word as an IPv4 packet does not match an IPv6 rule.
    p.ip_version = 4;
    p.ip_dst = crate::parse::IpAddress::from_v4(0x2001_0db8);
    assert!(!s.evaluate(&p, &[], Instant::now()).deliver);
}

#[test]
fn payload_alternatives_case_insensitive() {
    let mut s = RuleSet::new();
    s.set_policy(FilteringPolicy::Drop);
    add(
        &mut s,
        FilteringRule::new(1, RuleAction::ForwardAndStop).payload("invite|BYE"),
    );
    assert!(delivers(
        &mut s,
        &udp("1.1.1.1", 5060, "2.2.2.2", 5060, b"INVITE sip:a@b SIP/2.0")
    ));
    assert!(delivers(
        &mut s,
        &udp("1.1.1.1", 5060, "2.2.2.2", 5060, b"xx bye xx")
    ));
    assert!(!delivers(
        &mut s,
        &udp("1.1.1.1", 5060, "2.2.2.2", 5060, b"REGISTER sip:a")
    ));
    // The pattern is searched in the payload, not in the headers.
    assert!(!delivers(
        &mut s,
        &udp("1.1.1.1", 5060, "2.2.2.2", 5060, b"")
    ));
}

#[test]
fn balance_pools_split_by_hash() {
    let frames: Vec<Vec<u8>> = (0..40)
        .map(|i| udp("10.0.0.1", 1000 + i, "10.0.0.2", 80, b""))
        .collect();
    let mut hits = [0u32; 3];
    for id in 0..3u8 {
        let mut s = RuleSet::new();
        s.set_policy(FilteringPolicy::Drop);
        add(
            &mut s,
            FilteringRule::new(1, RuleAction::ForwardAndStop).balance(id, 3),
        );
        for f in &frames {
            let (p, _) = ParsedPacket::parse(f, 4);
            let want = p.kernel_hash() % 3 == u32::from(id);
            let got = s.evaluate(&p, f, Instant::now()).deliver;
            assert_eq!(got, want);
            hits[usize::from(id)] += u32::from(got);
        }
    }
    // Every packet goes to exactly one member of the pool.
    assert_eq!(hits.iter().sum::<u32>(), 40);
    assert!(hits.iter().all(|&h| h > 0), "{hits:?}");
}

#[test]
fn reflect_and_bounce_report_transmissions() {
    let mut s = RuleSet::new();
    add(
        &mut s,
        FilteringRule::new(1, RuleAction::ReflectAndContinue).dst_ports(1, 1),
    );
    s.add_rule(
        FilteringRule::new(2, RuleAction::ReflectAndStop).dst_ports(2, 2),
        Some(42),
        Instant::now(),
    )
    .unwrap();
    add(
        &mut s,
        FilteringRule::new(3, RuleAction::BounceAndStop).dst_ports(1, 3),
    );
    add(
        &mut s,
        FilteringRule::new(4, RuleAction::BounceAndContinue).dst_ports(4, 4),
    );
    add(
        &mut s,
        FilteringRule::new(5, RuleAction::ForwardAndStop).dst_ports(4, 4),
    );

    let v = eval(
        &mut s,
        &udp("1.1.1.1", 9, "2.2.2.2", 1, b""),
        Instant::now(),
    );
    assert_eq!(
        (v.deliver, v.transmit.clone()),
        (false, vec![Transmit::Reflect(None), Transmit::Bounce])
    );
    let v = eval(
        &mut s,
        &udp("1.1.1.1", 9, "2.2.2.2", 2, b""),
        Instant::now(),
    );
    assert_eq!(
        (v.deliver, v.transmit),
        (false, vec![Transmit::Reflect(Some(42))])
    );
    // Bounce and continue, then a forward rule: bounced *and* delivered.
    let v = eval(
        &mut s,
        &udp("1.1.1.1", 9, "2.2.2.2", 4, b""),
        Instant::now(),
    );
    assert_eq!((v.deliver, v.transmit), (true, vec![Transmit::Bounce]));
}

#[test]
fn exact_rules_are_bidirectional_and_run_before_wildcards() {
    let mut s = RuleSet::new();
    add(&mut s, FilteringRule::new(1, RuleAction::ForwardAndStop));
    s.add_hash_rule(
        HashFilteringRule::new(
            17,
            ip("10.0.0.1"),
            1000,
            ip("10.0.0.2"),
            53,
            RuleAction::DontForwardAndStop,
        ),
        None,
        Instant::now(),
    )
    .unwrap();
    assert!(!delivers(
        &mut s,
        &udp("10.0.0.1", 1000, "10.0.0.2", 53, b"")
    ));
    assert!(!delivers(
        &mut s,
        &udp("10.0.0.2", 53, "10.0.0.1", 1000, b"")
    ));
    // Other ports, protocol or VLAN: not the flow.
    assert!(delivers(
        &mut s,
        &udp("10.0.0.1", 1001, "10.0.0.2", 53, b"")
    ));
    assert!(delivers(&mut s, &tcp("10.0.0.1", 1000, "10.0.0.2", 53)));
    let tagged = FrameBuilder::udp()
        .vlan(5)
        .ips(v4("10.0.0.1"), v4("10.0.0.2"))
        .ports(1000, 53)
        .build(0, 8);
    assert!(delivers(&mut s, &tagged));
    let st = s.stats();
    assert_eq!((st.hash_match, st.hash_miss, st.hash_filtered), (2, 3, 2));
    // Wildcard rule 1 matched only the three misses.
    assert_eq!(s.rule_stats(1, Instant::now()).unwrap().matches, 3);
    let probe = HashFilteringRule::new(
        17,
        ip("10.0.0.2"),
        53,
        ip("10.0.0.1"),
        1000,
        RuleAction::ForwardAndStop,
    );
    let hs = s.hash_rule_stats(&probe, Instant::now()).unwrap();
    assert_eq!((hs.matched, hs.filtered, hs.match_forward), (2, 2, 0));
    // Duplicate (in either direction) and removal.
    assert_eq!(
        s.add_hash_rule(probe.clone(), None, Instant::now()),
        Err(RuleError::DuplicateHash)
    );
    s.remove_hash_rule(&probe).unwrap();
    assert_eq!(s.remove_hash_rule(&probe), Err(RuleError::NoSuchHashRule));
    assert!(delivers(
        &mut s,
        &udp("10.0.0.1", 1000, "10.0.0.2", 53, b"")
    ));
}

#[test]
fn exact_continue_action_lets_wildcards_run() {
    let mut s = RuleSet::new();
    s.add_hash_rule(
        HashFilteringRule::new(
            17,
            ip("10.0.0.1"),
            1,
            ip("10.0.0.2"),
            2,
            RuleAction::BounceAndContinue,
        ),
        None,
        Instant::now(),
    )
    .unwrap();
    add(
        &mut s,
        FilteringRule::new(7, RuleAction::ForwardAndStop).proto(17),
    );
    let v = eval(
        &mut s,
        &udp("10.0.0.1", 1, "10.0.0.2", 2, b""),
        Instant::now(),
    );
    assert_eq!(
        (v.deliver, v.hash_matched, v.rule_id),
        (true, true, Some(7))
    );
    assert_eq!(v.transmit, vec![Transmit::Bounce]);
}

#[test]
fn forward_add_rule_creates_an_exact_rule_and_del_removes_it() {
    let mut s = RuleSet::new();
    s.set_policy(FilteringPolicy::Drop);
    add(
        &mut s,
        FilteringRule::new(10, RuleAction::ForwardAddRuleAndStop).dst_ports(80, 80),
    );
    let f = udp("10.0.0.1", 4000, "10.0.0.2", 80, b"");
    let v = eval(&mut s, &f, Instant::now());
    assert!(v.deliver && !v.hash_matched);
    assert_eq!(s.len(), (1, 1));
    // The reply direction now hits the exact rule (forward), before any wildcard rule.
    let v = eval(
        &mut s,
        &udp("10.0.0.2", 80, "10.0.0.1", 4000, b""),
        Instant::now(),
    );
    assert!(v.deliver && v.hash_matched);
    // Del: an exact rule that lets evaluation continue, then a del rule for the flow.
    s.remove_rule(10).unwrap();
    let probe =
        HashFilteringRule::from_packet(&ParsedPacket::parse(&f, 4).0, RuleAction::ForwardAndStop)
            .unwrap();
    s.remove_hash_rule(&probe).unwrap();
    let mut cont = probe.clone();
    cont.action = RuleAction::ExecuteAndContinue;
    s.add_hash_rule(cont, None, Instant::now()).unwrap();
    add(
        &mut s,
        FilteringRule::new(11, RuleAction::ForwardDelRuleAndStop).dst_ports(80, 80),
    );
    assert!(delivers(
        &mut s,
        &udp("10.0.0.1", 4001, "10.0.0.2", 80, b"")
    ));
    assert_eq!(s.len(), (1, 1), "another flow: the rule stays");
    assert!(delivers(&mut s, &f));
    assert_eq!(s.len(), (1, 0), "its flow: removed");
}

#[test]
fn idle_purge_keeps_locked_and_recent_rules() {
    let t0 = Instant::now();
    let mut s = RuleSet::new();
    s.add_rule(
        FilteringRule::new(1, RuleAction::ForwardAndStop).dst_ports(1, 1),
        None,
        t0,
    )
    .unwrap();
    s.add_rule(
        FilteringRule::new(2, RuleAction::ForwardAndStop)
            .dst_ports(2, 2)
            .locked(true),
        None,
        t0,
    )
    .unwrap();
    s.add_rule(
        FilteringRule::new(3, RuleAction::ForwardAndStop).dst_ports(3, 3),
        None,
        t0,
    )
    .unwrap();
    for (a, b) in [(1u16, 2u16), (3, 4)] {
        let r = HashFilteringRule::new(
            17,
            ip("10.0.0.1"),
            a,
            ip("10.0.0.2"),
            b,
            RuleAction::ForwardAndStop,
        );
        s.add_hash_rule(r, None, t0).unwrap();
    }
    let t5 = t0 + Duration::from_secs(5);
    eval(&mut s, &udp("1.1.1.1", 9, "2.2.2.2", 3, b""), t5);
    eval(&mut s, &udp("10.0.0.2", 4, "10.0.0.1", 3, b""), t5);
    let t8 = t0 + Duration::from_secs(8);
    let ws = s.rule_stats(3, t8).unwrap();
    assert_eq!(
        (ws.matches, ws.last_match, ws.inactivity),
        (1, Some(t5), Duration::from_secs(3))
    );
    let probe = HashFilteringRule::new(
        17,
        ip("10.0.0.1"),
        3,
        ip("10.0.0.2"),
        4,
        RuleAction::ForwardAndStop,
    );
    assert_eq!(s.hash_rule_stats(&probe, t8).unwrap().inactivity, 3);
    // Idle for 6 s: rule 1 and the first exact rule go; locked rule 2 stays.
    let t6 = t0 + Duration::from_secs(6);
    assert_eq!(s.purge_idle_rules(Duration::from_secs(6), t6), 1);
    assert_eq!(s.purge_idle_hash_rules(Duration::from_secs(6), t6), 1);
    assert_eq!(s.rules().map(|r| r.rule_id).collect::<Vec<_>>(), vec![2, 3]);
    assert_eq!(s.len(), (2, 1));
    assert!(s.hash_rule_stats(&probe, t6).is_ok());
}

#[test]
fn sampling_delivers_exactly_one_in_n_of_the_passing_packets() {
    let mut s = RuleSet::new();
    s.set_sampling_rate(4);
    add(
        &mut s,
        FilteringRule::new(1, RuleAction::DontForwardAndStop).dst_ports(9, 9),
    );
    let pass = udp("1.1.1.1", 1, "2.2.2.2", 2, b"");
    let drop = udp("1.1.1.1", 1, "2.2.2.2", 9, b"");
    let mut got = Vec::new();
    for i in 0..40 {
        // Dropped packets in between do not advance the sampling count.
        assert!(!delivers(&mut s, &drop));
        got.push((i, delivers(&mut s, &pass)));
    }
    let delivered: Vec<_> = got.iter().filter(|x| x.1).map(|x| x.0).collect();
    assert_eq!(delivered, vec![0, 4, 8, 12, 16, 20, 24, 28, 32, 36]);
    let st = s.stats();
    assert_eq!((st.delivered, st.sampled_out, st.filtered), (10, 30, 40));
    s.set_sampling_rate(1);
    assert!(delivers(&mut s, &pass) && delivers(&mut s, &pass));
}

// ---- offload -------------------------------------------------------------------------

/// Frames covering the cases the compiled program must decide like the engine (and the
/// punted ones).
fn corpus() -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    for (a, sp, b, dp) in [
        ("10.0.0.1", 1000, "10.0.0.2", 53),
        ("10.0.0.2", 53, "10.0.0.1", 1000),
        ("192.168.1.5", 2000, "10.9.9.9", 80),
        ("192.168.2.5", 80, "10.0.0.2", 2000),
        ("10.0.0.1", 0, "10.0.0.2", 0),
    ] {
        v.push(udp(a, sp, b, dp, b"hello"));
        v.push(tcp(a, sp, b, dp));
    }
    v.push(FrameBuilder::udp().vlan(10).build(0, 10));
    v.push(FrameBuilder::udp().build(0, 10)[..40].to_vec());
    // A non-first fragment (ports must read as 0).
    let mut frag = udp("10.0.0.1", 1000, "10.0.0.2", 53, b"x");
    frag[20] = 0x00;
    frag[21] = 0x10;
    v.push(frag);
    // IPv4 with options (IHL 6): ports after 24 bytes.
    let mut opt = udp("10.0.0.1", 7, "10.0.0.2", 8, b"abcdefgh");
    opt[14] = 0x46;
    opt.insert(34, 0);
    opt.insert(34, 0);
    opt.insert(34, 0);
    opt.insert(34, 0);
    v.push(opt);
    // ICMP, ARP, runt.
    let mut icmp = udp("10.0.0.1", 0, "10.0.0.2", 0, b"");
    icmp[23] = 1;
    v.push(icmp);
    let mut arp = vec![0xff; 12];
    arp.extend_from_slice(&[0x08, 0x06]);
    arp.resize(42, 1);
    v.push(arp);
    v.push(vec![1, 2, 3]);
    // IPv6 UDP and IPv6 with a hop-by-hop header.
    let mut v6 = vec![0u8; 14 + 40 + 8];
    v6[12] = 0x86;
    v6[13] = 0xdd;
    v6[14] = 0x60;
    v6[20] = 17;
    v6[22] = 0x20;
    v6[23] = 0x01;
    v6[38] = 0x20;
    v6[39] = 0x01;
    v6[54..56].copy_from_slice(&443u16.to_be_bytes());
    v6[56..58].copy_from_slice(&9u16.to_be_bytes());
    v.push(v6.clone());
    let mut hbh = v6;
    hbh[20] = 0;
    v.push(hbh);
    v
}

fn sets() -> Vec<RuleSet> {
    let now = Instant::now();
    let mut out = Vec::new();
    let mut s = RuleSet::new();
    s.set_policy(FilteringPolicy::Drop);
    s.add_rule(
        FilteringRule::new(1, RuleAction::ForwardAndStop)
            .dst_ports(53, 53)
            .bidirectional(true),
        None,
        now,
    )
    .unwrap();
    s.add_rule(
        FilteringRule::new(2, RuleAction::ForwardAndStop).src_ip(ip("192.168.1.0"), 24),
        None,
        now,
    )
    .unwrap();
    s.add_rule(
        FilteringRule::new(3, RuleAction::ForwardAndStop).proto(1),
        None,
        now,
    )
    .unwrap();
    s.add_rule(
        FilteringRule::new(4, RuleAction::ForwardAndStop).dst_ip(ip("2001::"), 16),
        None,
        now,
    )
    .unwrap();
    out.push(s);
    let mut s = RuleSet::new();
    s.add_rule(
        FilteringRule::new(1, RuleAction::DontForwardAndStop)
            .proto(6)
            .src_ports(0, 1500),
        None,
        now,
    )
    .unwrap();
    s.add_rule(
        FilteringRule::new(2, RuleAction::ExecuteAndContinue).proto(17),
        None,
        now,
    )
    .unwrap();
    s.add_rule(
        FilteringRule::new(3, RuleAction::DontForwardAndStop).dst_mac([0xff; 6]),
        None,
        now,
    )
    .unwrap();
    s.add_rule(
        FilteringRule::new(4, RuleAction::ExecuteAndStop).vlan(10),
        None,
        now,
    )
    .unwrap();
    s.add_rule(
        FilteringRule::new(5, RuleAction::DontForwardAndStop)
            .src_mac([2, 0, 0, 0, 0, 1])
            .dst_ports(0, 0)
            .src_ports(0, 0),
        None,
        now,
    )
    .unwrap();
    s.add_hash_rule(
        HashFilteringRule::new(
            17,
            ip("10.0.0.1"),
            1000,
            ip("10.0.0.2"),
            53,
            RuleAction::ForwardAndStop,
        ),
        None,
        now,
    )
    .unwrap();
    out.push(s);
    out
}

#[test]
fn offload_refuses_what_it_cannot_express() {
    let now = Instant::now();
    for r in [
        FilteringRule::new(1, RuleAction::ReflectAndStop),
        FilteringRule::new(1, RuleAction::ForwardAddRuleAndStop),
        FilteringRule::new(1, RuleAction::ForwardAndStop).payload("x"),
        FilteringRule::new(1, RuleAction::ForwardAndStop).balance(0, 2),
    ] {
        let mut s = RuleSet::new();
        s.add_rule(r, None, now).unwrap();
        assert!(offload::compile(&s, Target::Bytes).is_none());
    }
    let mut s = RuleSet::new();
    s.set_sampling_rate(2);
    assert!(offload::compile(&s, Target::Bytes).is_none());
}

#[test]
fn offloaded_program_gives_the_engine_verdicts() {
    let frames = corpus();
    for (n, mut set) in sets().into_iter().enumerate() {
        for target in [Target::Bytes, Target::Kernel] {
            let prog = offload::compile(&set, target).expect("offloadable");
            let mut punted = 0;
            for (i, f) in frames.iter().enumerate() {
                let kernel = prog.matches_with_meta(f, f.len() as u32, &PacketMeta::default());
                let want = delivers(&mut set, f);
                if offload::needs_library(f, f.len() as u32) {
                    assert!(kernel, "set {n} frame {i}: punted frames must pass");
                    punted += 1;
                } else {
                    assert_eq!(kernel, want, "set {n} frame {i} {target:?}");
                }
            }
            assert_eq!(punted, 3, "vlan-tagged, runt, IPv6 hop-by-hop");
        }
    }
}

#[test]
fn offload_reads_the_vlan_from_metadata_on_the_kernel_target() {
    let mut set = RuleSet::new();
    set.add_rule(
        FilteringRule::new(1, RuleAction::DontForwardAndStop).vlan(10),
        None,
        Instant::now(),
    )
    .unwrap();
    let prog = offload::compile(&set, Target::Kernel).unwrap();
    let f = udp("1.1.1.1", 1, "2.2.2.2", 2, b"");
    let meta = |v: Option<u16>| PacketMeta {
        vlan_tci: v,
        ..PacketMeta::default()
    };
    assert!(!prog.matches_with_meta(&f, f.len() as u32, &meta(Some(0x2000 | 10))));
    assert!(prog.matches_with_meta(&f, f.len() as u32, &meta(Some(11))));
    assert!(prog.matches_with_meta(&f, f.len() as u32, &meta(None)));
}

#[test]
fn combined_with_a_bpf_filter_both_must_pass() {
    let mut set = RuleSet::new();
    set.add_rule(
        FilteringRule::new(1, RuleAction::DontForwardAndStop).dst_ports(53, 53),
        None,
        Instant::now(),
    )
    .unwrap();
    let rules = offload::compile(&set, Target::Bytes).unwrap();
    let user = crate::filter::Program::compile("udp").unwrap();
    let both = offload::combine(Some(&user), &rules).unwrap();
    let run = |f: &[u8]| both.matches(f, f.len() as u32);
    assert!(run(&udp("1.1.1.1", 1, "2.2.2.2", 54, b"")));
    assert!(!run(&udp("1.1.1.1", 1, "2.2.2.2", 53, b"")));
    assert!(!run(&tcp("1.1.1.1", 1, "2.2.2.2", 54)));
}

#[test]
fn offload_of_many_exact_rules_falls_back() {
    let mut set = RuleSet::new();
    for i in 0..2000u16 {
        set.add_hash_rule(
            HashFilteringRule::new(
                17,
                ip("10.0.0.1"),
                i,
                ip("10.0.0.2"),
                1,
                RuleAction::DontForwardAndStop,
            ),
            None,
            Instant::now(),
        )
        .unwrap();
    }
    assert!(set.offloadable());
    assert!(offload::compile(&set, Target::Kernel).is_none());
}

#[test]
fn flattened_wildcard_rules_match_like_the_rules() {
    let frames = corpus();
    let mut rules: Vec<FilteringRule> = sets()
        .iter()
        .flat_map(|s| s.rules().cloned().collect::<Vec<_>>())
        .collect();
    rules.push(
        FilteringRule::new(1, RuleAction::ForwardAndStop)
            .src_ip(ip("2001::"), 16)
            .bidirectional(true),
    );
    rules.push(
        FilteringRule::new(1, RuleAction::ForwardAndStop)
            .src_ip(ip("10.0.0.2"), 31)
            .dst_ports(1000, 1000)
            .bidirectional(true),
    );
    rules.push(
        FilteringRule::new(1, RuleAction::ForwardAndStop)
            .dst_mac([2, 0, 0, 0, 0, 2])
            .src_ports(7, 7),
    );
    rules.push(
        FilteringRule::new(1, RuleAction::ForwardAndStop)
            .vlan(10)
            .proto(17),
    );
    let mut checked = 0;
    for r in &rules {
        let c = wildcard::Compact::of(r);
        for f in &frames {
            let (p, _) = ParsedPacket::parse(f, 4);
            assert_eq!(
                c.matches(&wildcard::PacketView::of(&p)),
                r.matches(&p, f),
                "{r:?} on {p:?}"
            );
            checked += 1;
        }
    }
    assert!(checked > 200);
}

// ---- plugins -------------------------------------------------------------------------

fn sip(method_line: &str, from: &str, to: &str, call_id: &str) -> Vec<u8> {
    let msg = format!(
        "{method_line}\r\nVia: SIP/2.0/UDP 10.0.0.1:5060\r\nFrom: <sip:{from}@a.example>;tag=1\r\n\
         To: <sip:{to}@b.example>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\n\r\nv=0\r\n"
    );
    udp("10.0.0.1", 5060, "10.0.0.2", 5060, msg.as_bytes())
}

#[test]
fn sip_messages_parse() {
    let f = sip("INVITE sip:bob@b.example SIP/2.0", "alice", "bob", "c1@x");
    let (p, _) = ParsedPacket::parse(&f, 4);
    let m = sip::parse_sip(&f[p.offset.payload_offset as usize..]).unwrap();
    assert_eq!(m.method.as_deref(), Some("INVITE"));
    assert_eq!(m.caller.as_deref(), Some("alice"));
    assert_eq!(m.called.as_deref(), Some("bob"));
    assert_eq!(m.call_id.as_deref(), Some("c1@x"));
    let r = sip::parse_sip(b"SIP/2.0 180 Ringing\r\nf: <sip:alice@a>\r\ni: zz\r\n\r\n").unwrap();
    assert_eq!(
        (r.status, r.method, r.call_id.as_deref()),
        (Some(180), None, Some("zz"))
    );
    assert_eq!(sip::parse_sip(b"GET / HTTP/1.1\r\n\r\n"), None);
    assert_eq!(sip::parse_sip(&[0xff, 0xfe, 0, 1]), None);
    assert_eq!(sip::parse_sip(b""), None);
}

/// A SIP call: INVITE, 100, 180, 200, ACK, BYE, 200; and an INVITE of another call.
fn sip_call() -> Vec<Vec<u8>> {
    vec![
        sip("INVITE sip:bob@b.example SIP/2.0", "alice", "bob", "call-1"),
        sip("SIP/2.0 100 Trying", "alice", "bob", "call-1"),
        sip("SIP/2.0 180 Ringing", "alice", "bob", "call-1"),
        sip("SIP/2.0 200 OK", "alice", "bob", "call-1"),
        sip("ACK sip:bob@b.example SIP/2.0", "alice", "bob", "call-1"),
        sip("BYE sip:bob@b.example SIP/2.0", "alice", "bob", "call-1"),
        sip("SIP/2.0 200 OK", "alice", "bob", "call-1"),
        sip(
            "INVITE sip:carol@b.example SIP/2.0",
            "dave",
            "carol",
            "call-2",
        ),
    ]
}

#[test]
fn sip_plugin_rules_pass_invites_or_a_party_or_a_call() {
    for (data, want) in [
        ("invite", vec![0, 7]),
        ("caller=alice", vec![0, 1, 2, 3, 4, 5, 6]),
        ("called=carol", vec![7]),
        ("call_id=call-1;method=BYE", vec![5]),
        ("", vec![0, 1, 2, 3, 4, 5, 6, 7]),
    ] {
        let mut s = RuleSet::with_builtin_plugins();
        s.set_policy(FilteringPolicy::Drop);
        s.add_rule(
            FilteringRule::new(1, RuleAction::ForwardAndStop)
                .proto(17)
                .plugin(sip::SIP_PLUGIN_ID, data.as_bytes()),
            None,
            Instant::now(),
        )
        .unwrap();
        let got: Vec<usize> = sip_call()
            .iter()
            .enumerate()
            .filter(|(_, f)| delivers(&mut s, f))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(got, want, "{data}");
        // Non-SIP UDP on the same ports never matches.
        assert!(!delivers(
            &mut s,
            &udp("10.0.0.1", 5060, "10.0.0.2", 5060, b"hello")
        ));
        let invites = want.iter().filter(|&&i| i == 0 || i == 7).count();
        assert_eq!(
            String::from_utf8(s.plugin_stats(1).unwrap()).unwrap(),
            format!("messages={} invites={invites}", want.len())
        );
    }
    let mut s = RuleSet::with_builtin_plugins();
    let bad =
        FilteringRule::new(1, RuleAction::ForwardAndStop).plugin(sip::SIP_PLUGIN_ID, b"bogus=1");
    assert!(matches!(
        s.add_rule(bad, None, Instant::now()),
        Err(RuleError::Invalid(_))
    ));
    let none = FilteringRule::new(1, RuleAction::ForwardAndStop).plugin(99, b"");
    assert_eq!(
        s.add_rule(none, None, Instant::now()),
        Err(RuleError::NoSuchPlugin(99))
    );
    // A plugin rule is never offloaded.
    s.add_rule(
        FilteringRule::new(2, RuleAction::DontForwardAndStop).plugin(sip::SIP_PLUGIN_ID, b"invite"),
        None,
        Instant::now(),
    )
    .unwrap();
    assert!(!s.offloadable());
}

/// RTP packet `seq` / `ts` of SSRC `ssrc` (PCMU, 160 bytes of payload).
pub(super) fn rtp(seq: u16, ts: u32, ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x80, 0];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.resize(12 + 160, 0xff);
    udp("10.0.0.1", 40000, "10.0.0.2", 40002, &p)
}

#[test]
fn rtp_plugin_counts_loss_and_jitter_exactly() {
    use plugin::{PluginPacket, RulePlugin};
    let mut plug = rtp::RtpPlugin::default();
    plug.add_rule(1, b"clock=8000").unwrap();
    let feed = |plug: &mut rtp::RtpPlugin, f: &[u8], ts_ns: u64| {
        let (p, _) = ParsedPacket::parse(f, 4);
        let pp = PluginPacket {
            frame: f,
            parsed: &p,
            ts_ns,
        };
        assert!(plug.filter(1, &pp));
        plug.handle(1, &pp);
    };
    // Sequence 0..=19 every 20 ms (160 timestamp units), without 5, 6 and 12; packet 9
    // arrives 10 ms late.
    let t0 = 1_000_000_000_000u64;
    for seq in (0..20u16).filter(|s| ![5, 6, 12].contains(s)) {
        let late = if seq == 9 { 10_000_000 } else { 0 };
        feed(
            &mut plug,
            &rtp(seq, u32::from(seq) * 160, 7),
            t0 + u64::from(seq) * 20_000_000 + late,
        );
    }
    let s = plug.streams(1);
    assert_eq!(s.len(), 1);
    assert_eq!(
        (s[0].ssrc, s[0].packets, s[0].expected, s[0].lost),
        (7, 17, 20, 3)
    );
    // D = +80 at 9, -80 at 10, then 0: J = 5, 9.6875, then ×15/16 for 7 packets (11, 13..=18 ... 19).
    let mut j = 80.0 / 16.0;
    j += (80.0 - j) / 16.0;
    for _ in 0..8 {
        j -= j / 16.0;
    }
    assert!((s[0].jitter - j).abs() < 1e-9, "{} vs {j}", s[0].jitter);
    // Wrap-around of the sequence number: 65530..=65535, 0..=5 is 12 packets, none lost.
    for (i, seq) in (65530u16..=65535).chain(0..=5).enumerate() {
        feed(
            &mut plug,
            &rtp(seq, i as u32 * 160, 9),
            t0 + i as u64 * 20_000_000,
        );
    }
    let s = plug.streams(1);
    assert_eq!(
        (
            s[1].ssrc,
            s[1].packets,
            s[1].expected,
            s[1].lost,
            s[1].jitter
        ),
        (9, 12, 12, 0, 0.0)
    );
    let text = String::from_utf8(plug.get_stats(1)).unwrap();
    assert!(
        text.starts_with("ssrc=0x00000007 packets=17 expected=20 lost=3 jitter="),
        "{text}"
    );
    // RTCP and non-RTP are not RTP; an SSRC rule only matches its stream.
    let (p, _) = ParsedPacket::parse(
        &udp(
            "1.1.1.1",
            1,
            "2.2.2.2",
            2,
            &[0x80, 200, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7],
        ),
        4,
    );
    let f = udp(
        "1.1.1.1",
        1,
        "2.2.2.2",
        2,
        &[0x80, 200, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7],
    );
    assert!(!plug.filter(
        1,
        &PluginPacket {
            frame: &f,
            parsed: &p,
            ts_ns: 0
        }
    ));
    plug.add_rule(2, b"ssrc=0x9").unwrap();
    let f = rtp(1, 1, 7);
    let (p, _) = ParsedPacket::parse(&f, 4);
    assert!(!plug.filter(
        2,
        &PluginPacket {
            frame: &f,
            parsed: &p,
            ts_ns: 0
        }
    ));
    assert!(plug.add_rule(3, b"ssrc=zz").is_err());
    // Idle purge by packet time: stream 7 saw its last packet 380 ms before stream 9's last.
    assert_eq!(plug.purge_idle(Duration::from_millis(100)), 1);
    assert_eq!(plug.streams(1).len(), 1);
}

#[test]
fn registry_lists_the_builtin_plugins() {
    let r = plugin::PluginRegistry::with_builtin();
    let names: Vec<(u16, String)> = r.info().into_iter().map(|i| (i.id, i.name)).collect();
    assert_eq!(names, vec![(2, "sip".to_string()), (3, "rtp".to_string())]);
    let mut r = r;
    assert!(r.register(Box::new(sip::SipPlugin::default())).is_err());
    assert!(r.unregister(2).is_some());
    assert_eq!(r.info().len(), 1);
}
