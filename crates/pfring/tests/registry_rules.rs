//! The ring registry reports the software rules' sampling rate and "filtered" count
//! (pfinfo's `Sampling Rate` and `Tot Filtered`). Runs on a capture file: no privileges.

use std::path::PathBuf;

use pfring::RingBuilder;
use pfring::filter::rules::{FilteringRule, RuleAction};
use pfring::pcap::{Format, TsResolution, Writer};
use pfring_testkit::FrameBuilder;

#[test]
fn registry_entry_has_sampling_rate_and_filtered() {
    if let Err(e) = pfring::registry::runtime_dir() {
        eprintln!("skipped: {e}");
        return;
    }
    let dir = std::env::temp_dir().join(format!("pfring-reg-rules-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path: PathBuf = dir.join("f.pcap");
    let mut w = Writer::new(
        std::fs::File::create(&path).unwrap(),
        Format::Pcap(TsResolution::Nano),
    )
    .unwrap();
    // 40 frames: 20 to port 9 (dropped by a rule), 20 to port 10; sampling 1 in 4 of those.
    for i in 0..40u64 {
        let f = FrameBuilder::udp()
            .ports(1, 9 + (i % 2) as u16)
            .build(i, 16);
        w.write(1_700_000_000_000_000_000 + i, &f, f.len() as u32)
            .unwrap();
    }
    w.flush().unwrap();
    drop(w);
    let mut ring = RingBuilder::new(&format!("pcap:{}", path.display()))
        .open()
        .unwrap();
    ring.add_filtering_rule(FilteringRule::new(1, RuleAction::DontForwardAndStop).dst_ports(9, 9))
        .unwrap();
    ring.set_sampling_rate(4).unwrap();
    ring.enable().unwrap();
    let mut n = 0;
    while ring.recv(false).unwrap().is_some() {
        n += 1;
    }
    assert_eq!(n, 5, "20 frames passed the rule, one in 4 sampled");
    ring.stats().unwrap();
    let id = ring.registry_id().expect("registered").to_owned();
    // Written on stats() at most every 500 ms: wait out the window, then read again.
    std::thread::sleep(std::time::Duration::from_millis(550));
    ring.stats().unwrap();
    let info = pfring::registry::ring(&id).unwrap().expect("entry");
    assert_eq!(info.sampling_rate, 4);
    assert_eq!(info.filtered, Some(20));
    assert_eq!(info.recv, 5);
    drop(ring);
    assert!(
        pfring::registry::ring(&id).unwrap().is_none(),
        "removed on close"
    );
    let _ = std::fs::remove_dir_all(dir);
}
