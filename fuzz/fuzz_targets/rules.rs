//! PF_RING rules on arbitrary frames: the engine and the plugins' parsers never panic, and
//! the offloaded classic BPF program decides every frame it does not leave to the library
//! exactly as the engine does.
#![no_main]

use std::cell::RefCell;
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use pfring::filter::Target;
use pfring::filter::rules::{
    FilteringPolicy, FilteringRule, HashFilteringRule, RuleAction, RuleSet, offload, rtp, sip,
};
use pfring::parse::ParsedPacket;

fn rule_set() -> RuleSet {
    let now = Instant::now();
    let ip = |s: &str| s.parse().unwrap();
    let mut s = RuleSet::new();
    s.set_policy(FilteringPolicy::Drop);
    let rules = [
        FilteringRule::new(1, RuleAction::DontForwardAndStop).vlan(5),
        FilteringRule::new(2, RuleAction::ForwardAndStop).proto(6).dst_ports(0, 1023),
        FilteringRule::new(3, RuleAction::ForwardAndStop)
            .src_ip(ip("10.0.0.0"), 8)
            .src_ports(1000, 2000)
            .bidirectional(true),
        FilteringRule::new(4, RuleAction::ForwardAndStop).dst_ip(ip("2001:db8::"), 32),
        FilteringRule::new(5, RuleAction::ExecuteAndContinue).proto(17),
        FilteringRule::new(6, RuleAction::ForwardAndStop).dst_mac([0xff; 6]),
        FilteringRule::new(7, RuleAction::ForwardAndStop).proto(17).src_ports(0, 0),
    ];
    for r in rules {
        s.add_rule(r, None, now).unwrap();
    }
    s.add_hash_rule(
        HashFilteringRule::new(17, ip("10.0.0.1"), 53, ip("10.0.0.2"), 53, RuleAction::ForwardAndStop),
        None,
        now,
    )
    .unwrap();
    s
}

thread_local! {
    static SET: RefCell<(RuleSet, pfring::BpfProgram)> = RefCell::new({
        let s = rule_set();
        let p = offload::compile(&s, Target::Bytes).expect("offloadable");
        (s, p)
    });
}

fuzz_target!(|frame: &[u8]| {
    let _ = sip::parse_sip(frame);
    let _ = rtp::parse_rtp(frame);
    let (p, _) = ParsedPacket::parse(frame, 4);
    SET.with(|cell| {
        let (set, prog) = &mut *cell.borrow_mut();
        let engine = set.evaluate(&p, frame, Instant::now()).deliver;
        let kernel = prog.matches(frame, frame.len() as u32);
        if offload::needs_library(frame, frame.len() as u32) {
            assert!(kernel, "frames left to the library pass the program");
        } else {
            assert_eq!(kernel, engine, "offloaded verdict differs");
        }
    });
});
