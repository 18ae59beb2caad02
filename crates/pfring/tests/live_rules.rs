//! Live tests of PF_RING's software rules: a network namespace and veth pairs per test, real
//! frames, exact counts. Each rule test runs twice: rules in the library and (where the rule
//! set only forwards or drops) compiled into the kernel filter; both must deliver the same
//! frames.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use pfring::Ring;
use pfring::filter::rules::{FilteringRule, HashFilteringRule, RuleAction};
use pfring_testkit::{FrameBuilder, NetNs, RawReceiver, RawSender, VethPair, require_privileged};

#[path = "common/ring.rs"]
mod ring_helpers;
use ring_helpers::{assert_no_more, open_enabled as open, recv_n};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// UDP frame `seq` 10.0.0.1:sp -> 10.0.0.2:dp (or reversed addresses with `back`).
fn frame(seq: u64, sp: u16, dp: u16, back: bool) -> Vec<u8> {
    let (a, b) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
    let (s, d) = if back { (b, a) } else { (a, b) };
    FrameBuilder::udp().ips(s, d).ports(sp, dp).build(seq, 32)
}

/// The sequence number of a test frame with any number of VLAN tags.
fn seq_any(data: &[u8]) -> u64 {
    let mut off = 12;
    while matches!(&data[off..off + 2], [0x81, 0x00] | [0x88, 0xa8]) {
        off += 4;
    }
    let at = off + 2 + 20 + 8;
    u64::from_be_bytes(data[at..at + 8].try_into().unwrap())
}

fn seq_of(data: &[u8]) -> u64 {
    FrameBuilder::udp().seq_of(data).expect("test frame")
}

/// Sends `frames` on `tx` and returns the sequence numbers `ring` delivers.
fn deliver(ring: &mut Ring, tx: &RawSender, frames: &[Vec<u8>], expect: usize) -> Vec<u64> {
    tx.send_all(frames).unwrap();
    let got = recv_n(ring, expect, Duration::from_secs(5));
    let seqs: Vec<u64> = got.iter().map(|p| seq_of(&p.data)).collect();
    assert_no_more(ring);
    seqs
}

/// The traffic of the action / order test: 10 frames per destination port 1..=6, and 10
/// replies (reversed direction) to port 1.
fn traffic() -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    for i in 0..70u64 {
        let port = (i % 7) as u16;
        v.push(if port == 0 {
            frame(i, 1, 5000, true)
        } else {
            frame(i, 5000, port, false)
        });
    }
    v
}

fn action_rules(ring: &mut Ring) {
    // Drop by default; rules decide per destination port, in id order.
    ring.toggle_filtering_policy(false).unwrap();
    ring.add_filtering_rule(
        FilteringRule::new(20, RuleAction::ForwardAndStop)
            .dst_ports(1, 1)
            .bidirectional(true),
    )
    .unwrap();
    // Rule 10 runs before 20 and 30: port 2 dropped although 30 forwards it.
    ring.add_filtering_rule(FilteringRule::new(10, RuleAction::DontForwardAndStop).dst_ports(2, 2))
        .unwrap();
    ring.add_filtering_rule(FilteringRule::new(30, RuleAction::ForwardAndStop).dst_ports(2, 4))
        .unwrap();
    ring.add_filtering_rule(FilteringRule::new(5, RuleAction::ExecuteAndStop).dst_ports(4, 4))
        .unwrap();
    ring.add_filtering_rule(FilteringRule::new(6, RuleAction::ExecuteAndContinue).dst_ports(5, 5))
        .unwrap();
    // Exact rule: the flow to port 6 is forwarded (before any wildcard rule).
    ring.add_hash_filtering_rule(HashFilteringRule::new(
        17,
        ip("10.0.0.2"),
        6,
        ip("10.0.0.1"),
        5000,
        RuleAction::ForwardAndStop,
    ))
    .unwrap();
}

/// Ports 1 (both ways, via bidirectional), 3 and 6 pass; 2, 4, 5 do not.
fn expected() -> Vec<u64> {
    (0..70u64)
        .filter(|i| matches!(i % 7, 0 | 1 | 3 | 6))
        .collect()
}

#[test]
fn actions_order_and_policy_in_the_library_and_offloaded() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "rla", "rlb").unwrap();
    let tx = RawSender::new(veth.a()).unwrap();
    let frames = traffic();
    let want = expected();

    let mut lib = open(veth.b());
    lib.set_rules_offload(false).unwrap();
    action_rules(&mut lib);
    assert!(!lib.rules_offloaded());
    assert_eq!(deliver(&mut lib, &tx, &frames, want.len()), want);
    let st = lib.rules_stats();
    assert_eq!((st.evaluated, st.delivered, st.filtered), (70, 40, 30));
    assert_eq!((st.hash_match, st.hash_miss), (10, 60));
    assert_eq!(lib.stats().unwrap().recv, 40);
    // Wildcard rule stats: rule 10 matched the 10 port-2 frames, rule 30 only port 3.
    assert_eq!(lib.filtering_rule_stats(10).unwrap().matches, 10);
    assert_eq!(lib.filtering_rule_stats(30).unwrap().matches, 10);
    assert_eq!(lib.filtering_rule_stats(20).unwrap().matches, 20);
    let probe = HashFilteringRule::new(
        17,
        ip("10.0.0.1"),
        5000,
        ip("10.0.0.2"),
        6,
        RuleAction::ForwardAndStop,
    );
    let hs = lib.hash_filtering_rule_stats(&probe).unwrap();
    assert_eq!((hs.matched, hs.match_forward, hs.filtered), (10, 10, 0));
    drop(lib);

    let mut kern = open(veth.b());
    action_rules(&mut kern);
    assert!(kern.rules_offloaded());
    assert_eq!(deliver(&mut kern, &tx, &frames, want.len()), want);
    // The kernel dropped the rest: the library's engine saw nothing.
    assert_eq!(kern.rules_stats().evaluated, 0);
    assert!(matches!(
        kern.filtering_rule_stats(10),
        Err(pfring::Error::NotSupported { .. })
    ));
}

#[test]
fn offloaded_rules_combine_with_a_bpf_filter() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "rca", "rcb").unwrap();
    let tx = RawSender::new(veth.a()).unwrap();
    let mut ring = open(veth.b());
    // BPF: ports 1..=3 only; rules: drop port 2.
    ring.set_bpf_filter("udp dst portrange 1-3").unwrap();
    ring.add_filtering_rule(FilteringRule::new(1, RuleAction::DontForwardAndStop).dst_ports(2, 2))
        .unwrap();
    assert!(ring.rules_offloaded());
    let frames: Vec<_> = (0..40u64)
        .map(|i| frame(i, 9, (i % 4) as u16 + 1, false))
        .collect();
    let want: Vec<u64> = (0..40u64).filter(|i| matches!(i % 4, 0 | 2)).collect();
    assert_eq!(deliver(&mut ring, &tx, &frames, want.len()), want);
    // Removing the BPF filter keeps the rules.
    ring.remove_bpf_filter().unwrap();
    let want: Vec<u64> = (0..40u64).filter(|i| i % 4 != 1).collect();
    assert_eq!(deliver(&mut ring, &tx, &frames, want.len()), want);
    // A new BPF filter while the rules are offloaded: both apply.
    ring.set_bpf_filter("udp dst portrange 2-4").unwrap();
    assert!(ring.rules_offloaded());
    let want: Vec<u64> = (0..40u64).filter(|i| matches!(i % 4, 2 | 3)).collect();
    assert_eq!(deliver(&mut ring, &tx, &frames, want.len()), want);
}

#[test]
fn sampling_delivers_exactly_k_of_n_times_k() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "rsa", "rsb").unwrap();
    let tx = RawSender::new(veth.a()).unwrap();
    let mut ring = open(veth.b());
    ring.set_sampling_rate(8).unwrap();
    assert!(!ring.rules_offloaded(), "sampling runs in the library");
    let frames: Vec<_> = (0..800u64).map(|i| frame(i, 1, 2, false)).collect();
    let got = deliver(&mut ring, &tx, &frames, 100);
    assert_eq!(got, (0..100u64).map(|k| k * 8).collect::<Vec<_>>());
    let st = ring.rules_stats();
    assert_eq!((st.delivered, st.sampled_out), (100, 700));
}

#[test]
fn reflected_frames_arrive_on_the_other_veth_and_bounced_ones_come_back() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "rra", "rrb").unwrap();
    let out = VethPair::new(&ns, "rxa", "rxb").unwrap();
    let tx = RawSender::new(veth.a()).unwrap();
    let reflected = RawReceiver::new(out.a()).unwrap();
    let bounced = RawReceiver::new(veth.a()).unwrap();
    let mut ring = open(veth.b());
    ring.set_reflector_device(Some(out.b())).unwrap();
    assert_eq!(ring.reflector_device(), Some(out.b()));
    ring.add_filtering_rule(
        FilteringRule::new(1, RuleAction::ReflectAndStop).dst_ports(7000, 7000),
    )
    .unwrap();
    ring.add_filtering_rule(FilteringRule::new(2, RuleAction::BounceAndStop).dst_ports(7001, 7001))
        .unwrap();
    assert!(!ring.rules_offloaded());
    let frames: Vec<_> = (0..60u64)
        .map(|i| frame(i, 1, 7000 + (i % 3) as u16, false))
        .collect();
    // Only port 7002 reaches the application.
    let want: Vec<u64> = (0..60u64).filter(|i| i % 3 == 2).collect();
    assert_eq!(deliver(&mut ring, &tx, &frames, want.len()), want);
    assert_eq!(ring.reflected_frames(), (40, 0));

    let refl = reflected
        .collect(100, Duration::from_millis(300), Duration::from_secs(3))
        .unwrap();
    let seqs: Vec<u64> = refl.iter().map(|r| seq_of(&r.data)).collect();
    assert_eq!(seqs, (0..60u64).filter(|i| i % 3 == 0).collect::<Vec<_>>());
    for r in &refl {
        assert_eq!(
            r.data,
            frames[seq_of(&r.data) as usize],
            "reflected byte for byte"
        );
    }
    // Bounced frames come back into rra (incoming there); rra's own sends are outgoing.
    let back = bounced
        .collect(100, Duration::from_millis(300), Duration::from_secs(3))
        .unwrap();
    let seqs: Vec<u64> = back.iter().map(|r| seq_of(&r.data)).collect();
    assert_eq!(seqs, (0..60u64).filter(|i| i % 3 == 1).collect::<Vec<_>>());
}

#[test]
fn exact_rules_live_with_stats_and_idle_purge() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "rha", "rhb").unwrap();
    let tx = RawSender::new(veth.a()).unwrap();
    let mut ring = open(veth.b());
    ring.set_rules_offload(false).unwrap();
    let rule = HashFilteringRule::new(
        17,
        ip("10.0.0.1"),
        5,
        ip("10.0.0.2"),
        6,
        RuleAction::DontForwardAndStop,
    );
    ring.add_hash_filtering_rule(rule.clone()).unwrap();
    assert!(matches!(
        ring.add_hash_filtering_rule(rule.clone()),
        Err(pfring::Error::Rule(_))
    ));
    // Both directions of the flow are dropped; another flow passes.
    let frames: Vec<_> = (0..30u64)
        .map(|i| match i % 3 {
            0 => frame(i, 5, 6, false),
            1 => frame(i, 6, 5, true),
            _ => frame(i, 5, 7, false),
        })
        .collect();
    let want: Vec<u64> = (0..30u64).filter(|i| i % 3 == 2).collect();
    assert_eq!(deliver(&mut ring, &tx, &frames, want.len()), want);
    let st = ring.hash_filtering_rule_stats(&rule).unwrap();
    assert_eq!(
        (st.matched, st.filtered, st.match_forward, st.inactivity),
        (20, 20, 0, 0)
    );
    // Not idle for 1 s yet; after 1.1 s it is.
    assert_eq!(ring.purge_idle_hash_rules(1).unwrap(), 0);
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(ring.purge_idle_hash_rules(1).unwrap(), 1);
    let want: Vec<u64> = (0..30u64).collect();
    assert_eq!(deliver(&mut ring, &tx, &frames, 30), want);
}

#[test]
fn forward_add_rule_creates_exact_rules_from_traffic() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "rfa", "rfb").unwrap();
    let tx = RawSender::new(veth.a()).unwrap();
    let mut ring = open(veth.b());
    ring.toggle_filtering_policy(false).unwrap();
    ring.add_filtering_rule(
        FilteringRule::new(1, RuleAction::ForwardAddRuleAndStop).dst_ports(80, 80),
    )
    .unwrap();
    // Requests to port 80 pass and open the flow; the replies then pass through the exact rule.
    let frames: Vec<_> = (0..20u64)
        .map(|i| {
            if i % 2 == 0 {
                frame(i, 4000, 80, false)
            } else {
                frame(i, 80, 4000, true)
            }
        })
        .collect();
    assert_eq!(
        deliver(&mut ring, &tx, &frames, 20),
        (0..20).collect::<Vec<_>>()
    );
    assert_eq!(ring.rule_set().unwrap().len(), (1, 1));
    assert_eq!(ring.rules_stats().hash_match, 19);
}

#[test]
fn hardware_rules_on_veth_fail_clearly_or_fall_back_to_software() {
    use pfring::ring::{FilteringMode, HwFilteringRule, HwRuleAction, HwRulePlacement};
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "rwa", "rwb").unwrap();
    let tx = RawSender::new(veth.a()).unwrap();
    let mut ring = open(veth.b());
    let rule = HwFilteringRule {
        rule_id: 3,
        proto: 17,
        src: None,
        dst: Some(ip("10.0.0.2")),
        sport: None,
        dport: Some(9),
        vlan_id: None,
        action: HwRuleAction::Drop,
    };
    assert_eq!(ring.filtering_mode(), FilteringMode::SoftwareOnly);
    assert!(matches!(
        ring.add_hw_rule(&rule),
        Err(pfring::Error::NotSupported { .. })
    ));
    ring.set_filtering_mode(FilteringMode::HardwareOnly);
    match ring.add_hw_rule(&rule) {
        Err(e @ pfring::Error::HardwareNotSupported { .. }) => {
            assert!(e.to_string().contains("\"rwb\""), "{e}");
        }
        other => panic!("veth has no n-tuple rules: {other:?}"),
    }
    ring.set_filtering_mode(FilteringMode::HardwareAndSoftware);
    assert_eq!(ring.add_hw_rule(&rule).unwrap(), HwRulePlacement::Software);
    assert!(matches!(
        ring.add_hw_rule(&rule),
        Err(pfring::Error::Rule(_))
    ));
    // The software stand-in drops port 9 (in the kernel filter: it only drops).
    assert!(ring.rules_offloaded());
    let frames: Vec<_> = (0..20u64)
        .map(|i| frame(i, 1, 8 + (i % 2) as u16, false))
        .collect();
    let want: Vec<u64> = (0..20u64).filter(|i| i % 2 == 0).collect();
    assert_eq!(deliver(&mut ring, &tx, &frames, want.len()), want);
    ring.remove_hw_rule(3).unwrap();
    assert!(matches!(
        ring.remove_hw_rule(3),
        Err(pfring::Error::Rule(_))
    ));
    assert_eq!(
        deliver(&mut ring, &tx, &frames, 20),
        (0..20).collect::<Vec<_>>()
    );
}

#[test]
fn vlan_rules_see_the_stripped_tag_in_the_library_and_offloaded() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "rva", "rvb").unwrap();
    let tx = RawSender::new(veth.a()).unwrap();
    let base = || {
        FrameBuilder::udp()
            .ips(Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2))
            .ports(1, 2)
    };
    // Untagged, VLAN 10, VLAN 11, QinQ 10 over 20, QinQ 11 over 10: VLAN 10 (the outer tag)
    // is dropped.
    let frames: Vec<Vec<u8>> = (0..50u64)
        .map(|i| match i % 5 {
            0 => base().build(i, 32),
            1 => base().vlan(10).build(i, 32),
            2 => base().vlan(11).build(i, 32),
            3 => base().vlan(10).vlan(20).build(i, 32),
            _ => base().vlan(11).vlan(10).build(i, 32),
        })
        .collect();
    let want: Vec<u64> = (0..50u64).filter(|i| matches!(i % 5, 0 | 2 | 4)).collect();
    for offload in [false, true] {
        let mut ring = open(veth.b());
        ring.set_rules_offload(offload).unwrap();
        ring.add_filtering_rule(FilteringRule::new(1, RuleAction::DontForwardAndStop).vlan(10))
            .unwrap();
        assert_eq!(ring.rules_offloaded(), offload);
        tx.send_all(&frames).unwrap();
        let got = recv_n(&mut ring, want.len(), Duration::from_secs(5));
        let seqs: Vec<u64> = got.iter().map(|p| seq_any(&p.data)).collect();
        assert_eq!(seqs, want, "offload {offload}");
        assert_no_more(&mut ring);
        // Offloaded: the kernel decided the single-tagged frames itself; only the QinQ ones
        // (inner tag in the bytes) reached the library.
        let evaluated = ring.rules_stats().evaluated;
        assert_eq!(
            evaluated,
            if offload { 20 } else { 50 },
            "offload {offload}"
        );
    }
}

/// SIP over UDP: a crafted call; a rule with the SIP plugin passes only the INVITEs.
#[test]
fn sip_plugin_passes_only_invites_live() {
    use pfring::filter::rules::sip::SIP_PLUGIN_ID;
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "rpa", "rpb").unwrap();
    let tx = RawSender::new(veth.a()).unwrap();
    let mut ring = open(veth.b());
    let names: Vec<String> = ring.rule_plugins().into_iter().map(|p| p.name).collect();
    assert_eq!(names, ["sip", "rtp"]);
    ring.toggle_filtering_policy(false).unwrap();
    ring.add_filtering_rule(
        FilteringRule::new(1, RuleAction::ForwardAndStop)
            .proto(17)
            .dst_ports(5060, 5060)
            .plugin(SIP_PLUGIN_ID, b"invite"),
    )
    .unwrap();
    assert!(!ring.rules_offloaded());
    let msg = |i: u64, first: &str, call: &str| {
        let body = format!(
            "{first}\r\nFrom: <sip:alice@a>;tag={i}\r\nTo: <sip:bob@b>\r\nCall-ID: {call}\r\n\r\n"
        );
        let mut f = FrameBuilder::udp().ports(5060, 5060).build(i, body.len());
        let at = f.len() - body.len();
        f[at..].copy_from_slice(body.as_bytes());
        f
    };
    let call = [
        "INVITE sip:bob@b SIP/2.0",
        "SIP/2.0 100 Trying",
        "SIP/2.0 180 Ringing",
        "SIP/2.0 200 OK",
        "ACK sip:bob@b SIP/2.0",
        "BYE sip:bob@b SIP/2.0",
        "SIP/2.0 200 OK",
    ];
    let mut frames: Vec<Vec<u8>> = Vec::new();
    for c in 0..3u64 {
        for (k, first) in call.iter().enumerate() {
            frames.push(msg(c * 10 + k as u64, first, &format!("call-{c}")));
        }
    }
    tx.send_all(&frames).unwrap();
    let got = recv_n(&mut ring, 3, Duration::from_secs(5));
    let firsts: Vec<String> = got
        .iter()
        .map(|p| {
            let text = String::from_utf8_lossy(&p.data[42..]).into_owned();
            text.lines().next().unwrap_or_default().to_owned()
        })
        .collect();
    assert_eq!(firsts, vec!["INVITE sip:bob@b SIP/2.0"; 3]);
    assert_no_more(&mut ring);
    assert_eq!(
        String::from_utf8(ring.plugin_stats(1).unwrap()).unwrap(),
        "messages=3 invites=3"
    );
}

/// RTP: a crafted stream with known gaps; the RTP plugin reports the loss (and a jitter).
#[test]
fn rtp_plugin_reports_loss_live() {
    use pfring::filter::rules::rtp::RTP_PLUGIN_ID;
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "rta", "rtb").unwrap();
    let tx = RawSender::new(veth.a()).unwrap();
    let mut ring = open(veth.b());
    ring.add_filtering_rule(
        FilteringRule::new(1, RuleAction::ExecuteAndContinue).plugin(RTP_PLUGIN_ID, b"clock=8000"),
    )
    .unwrap();
    // 100 packets of SSRC 0x1234 with 7 sequence numbers missing, 20 of SSRC 0x99 complete.
    let missing = [3u16, 4, 5, 40, 41, 77, 88];
    let rtp = |seq: u16, ssrc: u32| {
        let mut p = vec![0x80, 0];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
        p.extend_from_slice(&ssrc.to_be_bytes());
        p.extend_from_slice(&[0xd5; 160]);
        let mut f = FrameBuilder::udp().ports(40000, 40002).build(0, p.len());
        let at = f.len() - p.len();
        f[at..].copy_from_slice(&p);
        f
    };
    let mut frames: Vec<Vec<u8>> = (0..100u16)
        .filter(|s| !missing.contains(s))
        .map(|s| rtp(s, 0x1234))
        .collect();
    frames.extend((500..520u16).map(|s| rtp(s, 0x99)));
    for chunk in frames.chunks(10) {
        tx.send_all(chunk).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    // Every packet is delivered (execute-and-continue, accept policy).
    let got = recv_n(&mut ring, frames.len(), Duration::from_secs(5));
    assert_eq!(got.len(), 113);
    assert_no_more(&mut ring);
    let text = String::from_utf8(ring.plugin_stats(1).unwrap()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].starts_with("ssrc=0x00000099 packets=20 expected=20 lost=0 jitter="),
        "{text}"
    );
    assert!(
        lines[1].starts_with("ssrc=0x00001234 packets=93 expected=100 lost=7 jitter="),
        "{text}"
    );
    // Sent in bursts much faster than the 20 ms the timestamps say: a jitter well above 0.
    let jitter: f64 = lines[1].rsplit('=').next().unwrap().parse().unwrap();
    assert!(jitter > 1.0, "{text}");
}
