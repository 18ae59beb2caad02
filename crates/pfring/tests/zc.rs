//! The `zc:<cluster>@<queue>` backend: rings that are slaves of a `pfring-zc` cluster whose
//! master runs in a thread of this test (descriptor in the default runtime directory).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pfring::{Error, Flags, Ring, RingBuilder};
use pfring_zc::{Cluster, ClusterConfig, Distribution, PacketSink, PacketSource};
use proptest::prelude::*;

fn frame(src: u32, dst: u32, dport: u16, id: u32) -> Vec<u8> {
    let mut f = vec![0u8; 12];
    f.extend_from_slice(&[0x08, 0x00, 0x45, 0, 0, 32, 0, 0, 0, 0, 64, 17, 0, 0]);
    f.extend_from_slice(&src.to_be_bytes());
    f.extend_from_slice(&dst.to_be_bytes());
    f.extend_from_slice(&[0, 1]);
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&[0, 12, 0, 0]);
    f.extend_from_slice(&id.to_be_bytes());
    f.resize(60, 0);
    f
}

fn frame_id(f: &[u8]) -> u32 {
    u32::from_be_bytes([f[42], f[43], f[44], f[45]])
}

struct Frames(Vec<Vec<u8>>, usize);
impl PacketSource for Frames {
    fn recv_burst(
        &mut self,
        max: usize,
        f: &mut dyn FnMut(&[u8], u64),
    ) -> pfring_zc::Result<usize> {
        let n = max.min(self.0.len() - self.1);
        for i in 0..n {
            f(&self.0[self.1 + i], 1_700_000_000_000_000_000 + i as u64);
        }
        self.1 += n;
        Ok(n)
    }
}

struct Collect(Arc<std::sync::Mutex<Vec<Vec<u8>>>>);
impl PacketSink for Collect {
    fn send(&mut self, frame: &[u8]) -> pfring_zc::Result<()> {
        self.0.lock().unwrap().push(frame.to_vec());
        Ok(())
    }
}

struct Master {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Cluster>>,
    sent: Arc<std::sync::Mutex<Vec<Vec<u8>>>>,
}

impl Master {
    /// Runs `c` in a thread over `frames` (held back until `go` is set).
    fn start(mut c: Cluster, frames: Vec<Vec<u8>>, go: Arc<AtomicBool>) -> Master {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (s, out) = (stop.clone(), sent.clone());
        let thread = std::thread::spawn(move || {
            let mut src = Frames(frames, 0);
            let mut empty = Frames(vec![], 0);
            let mut sink = Collect(out);
            let deadline = Instant::now() + Duration::from_secs(30);
            c.enable();
            while !s.load(Ordering::Relaxed) && Instant::now() < deadline {
                let src: &mut dyn PacketSource = if go.load(Ordering::Relaxed) {
                    &mut src
                } else {
                    &mut empty
                };
                if c.poll(src, Some(&mut sink)).unwrap() == 0 {
                    std::thread::sleep(Duration::from_micros(100));
                }
            }
            c
        });
        Master {
            stop,
            thread: Some(thread),
            sent,
        }
    }

    fn stop(&mut self) -> Option<Cluster> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().map(|t| t.join().unwrap())
    }
}

impl Drop for Master {
    fn drop(&mut self) {
        self.stop();
    }
}

fn cluster_id(tag: u32) -> u32 {
    3_000_000 + (std::process::id() % 100_000) * 10 + tag
}

fn small() -> ClusterConfig {
    ClusterConfig {
        queue_len: 1024,
        num_buffers: Some(4096),
        huge_pages: false,
        ..Default::default()
    }
}

#[test]
fn pfcount_style_rings_read_a_fan_out_cluster() {
    let id = cluster_id(1);
    let mut c = Cluster::create(id, 2, small()).unwrap();
    c.set_distribution(Distribution::FanOut);
    let frames: Vec<_> = (0..500)
        .map(|i| frame(1, 2, 80 + (i % 2) as u16, i))
        .collect();
    let go = Arc::new(AtomicBool::new(false));
    let mut m = Master::start(c, frames, go.clone());
    let mut rings: Vec<Ring> = (0..2)
        .map(|q| {
            let mut r = Ring::open(&format!("zc:{id}@{q}"), 1536, Flags::default()).unwrap();
            r.enable().unwrap();
            r
        })
        .collect();
    // Ring 1 only wants UDP port 81 (a user-space BPF filter).
    rings[1].set_bpf_filter("udp dst port 81").unwrap();
    go.store(true, Ordering::Relaxed);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut got: [Vec<u32>; 2] = [vec![], vec![]];
    for (q, r) in rings.iter_mut().enumerate() {
        let want = if q == 0 { 500 } else { 250 };
        while got[q].len() < want && Instant::now() < deadline {
            if let Some(p) = r.recv(false).unwrap() {
                assert_eq!(p.header().len, 60);
                assert_eq!(p.header().caplen, 60);
                assert!(p.header().ts.sec >= 1_700_000_000);
                got[q].push(frame_id(p.data()));
            } else {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
    assert_eq!(got[0], (0..500).collect::<Vec<_>>());
    assert_eq!(got[1], (0..500).filter(|i| i % 2 == 1).collect::<Vec<_>>());
    assert_eq!(rings[0].stats().unwrap().recv, 500);
    assert!(rings[0].recv(false).unwrap().is_none());
    // Burst API and send through the master's egress.
    rings[0].send(&frame(9, 9, 9, 4242), true).unwrap();
    let t = Instant::now();
    while m.sent.lock().unwrap().is_empty() && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(frame_id(&m.sent.lock().unwrap()[0]), 4242);
    assert!(matches!(
        rings[0].set_cluster(1, pfring::ClusterType::RoundRobin),
        Err(Error::NotSupported { backend: "zc", .. })
    ));
    // Two rings on one queue: refused.
    assert!(matches!(
        Ring::open(&format!("zc:{id}@0"), 1536, Flags::default()),
        Err(Error::Zc(pfring_zc::Error::QueueBusy { .. }))
    ));
    let c = m.stop().unwrap();
    assert_eq!(c.stats().rx, 500);
}

#[test]
fn blocking_receive_fails_soon_after_the_master_goes() {
    let id = cluster_id(2);
    let c = Cluster::create(id, 1, small()).unwrap();
    let go = Arc::new(AtomicBool::new(true));
    let mut m = Master::start(c, vec![frame(1, 2, 3, 7)], go);
    let mut r = RingBuilder::new(&format!("zc:{id}@0")).open().unwrap();
    r.enable().unwrap();
    let p = r.recv(true).unwrap().expect("a packet");
    assert_eq!(frame_id(p.data()), 7);
    drop(p);
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        let c = m.stop();
        let t = Instant::now();
        drop(c);
        t
    });
    let r = r.recv(true);
    let gone_at = Instant::now();
    let dropped_at = stopper.join().unwrap();
    assert!(
        matches!(r, Err(Error::Zc(pfring_zc::Error::MasterGone { .. }))),
        "{r:?}"
    );
    assert!(gone_at.duration_since(dropped_at) < Duration::from_secs(1));
}

#[test]
fn breakloop_stops_a_blocking_zc_receive() {
    let id = cluster_id(3);
    let c = Cluster::create(id, 1, small()).unwrap();
    let _m = Master::start(c, vec![], Arc::new(AtomicBool::new(true)));
    let mut r = Ring::open(&format!("zc:{id}@0"), 128, Flags::default()).unwrap();
    r.enable().unwrap();
    let h = r.break_handle();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        h.breakloop();
    });
    assert!(r.recv(true).unwrap().is_none());
    t.join().unwrap();
}

#[test]
fn missing_cluster_and_interface_targets_are_specific_errors() {
    match Ring::open("zc:3999999999@0", 128, Flags::default()) {
        Err(Error::Zc(pfring_zc::Error::NoSuchCluster { id, .. })) => assert_eq!(id, 3_999_999_999),
        other => panic!("expected NoSuchCluster, got {other:?}"),
    }
    assert!(matches!(
        Ring::open("zc:eth0@1", 128, Flags::default()),
        Err(Error::NotSupported { backend: "zc", .. })
    ));
}

proptest! {
    /// The cluster's default hash is the same function as the parse module's libzero hash.
    #[test]
    fn cluster_hash_equals_parse_libzero_hash(
        bytes in proptest::collection::vec(any::<u8>(), 0..96),
        tagged in any::<bool>(), v6 in any::<bool>(),
    ) {
        let mut f = bytes;
        if f.len() >= 14 {
            let et: [u8; 2] = if v6 { [0x86, 0xdd] } else { [0x08, 0x00] };
            f[12..14].copy_from_slice(if tagged { &[0x81, 0x00] } else { &et });
            if tagged && f.len() >= 18 {
                f[16..18].copy_from_slice(&et);
            }
        }
        use pfring::parse::{LibzeroHashMode as P, libzero_hash};
        use pfring_zc::{HashMode as Z, bidirectional_hash};
        for (p, z) in [(P::Ip, Z::Ip), (P::Mac, Z::Mac), (P::Protocol, Z::Protocol)] {
            prop_assert_eq!(libzero_hash(&f, p), bidirectional_hash(&f, z));
        }
    }
}

/// Software rules run on `zc:` rings as on files: a drop rule for UDP port 81 leaves
/// exactly the other packets.
#[test]
fn software_rules_run_on_zc_rings() {
    use pfring::filter::rules::{FilteringRule, RuleAction};
    let id = cluster_id(4);
    let c = Cluster::create(id, 1, small()).unwrap();
    let frames: Vec<_> = (0..100)
        .map(|i| frame(1, 2, 80 + (i % 2) as u16, i))
        .collect();
    let go = Arc::new(AtomicBool::new(false));
    let _m = Master::start(c, frames, go.clone());
    let mut r = Ring::open(&format!("zc:{id}@0"), 1536, Flags::default()).unwrap();
    r.add_filtering_rule(
        FilteringRule::new(1, RuleAction::DontForwardAndStop)
            .proto(17)
            .dst_ports(81, 81),
    )
    .unwrap();
    r.enable().unwrap();
    go.store(true, Ordering::Relaxed);
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while got.len() < 50 && Instant::now() < deadline {
        if let Some(p) = r.recv(false).unwrap() {
            got.push(frame_id(p.data()));
        } else {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    std::thread::sleep(Duration::from_millis(50));
    assert!(r.recv(false).unwrap().is_none());
    assert_eq!(got, (0..100).filter(|i| i % 2 == 0).collect::<Vec<_>>());
    let st = r.rules_stats();
    assert_eq!((st.delivered, st.filtered), (50, 50));
}

#[test]
fn a_dropped_packet_gives_its_buffer_back_at_once() {
    let id = cluster_id(9);
    let mut c = Cluster::create(id, 1, small()).unwrap();
    c.set_distribution(Distribution::RoundRobin);
    c.enable();
    let mut ring = Ring::open(&format!("zc:{id}@0"), 1536, Flags::default()).unwrap();
    ring.enable().unwrap();
    let frames: Vec<_> = (0..3).map(|i| frame(1, 2, 80, i)).collect();
    let mut src = Frames(frames, 0);
    c.poll(&mut src, None).unwrap();
    let mut empty = Frames(vec![], 0);
    c.poll(&mut empty, None).unwrap();
    let base = c.free_buffers();
    {
        let p = ring.recv(false).unwrap().expect("a packet");
        assert_eq!(frame_id(p.data()), 0);
        c.poll(&mut empty, None).unwrap();
        assert_eq!(c.free_buffers(), base, "held while the packet lives");
    }
    // Dropped: back in the pool without another receive.
    c.poll(&mut empty, None).unwrap();
    assert_eq!(c.free_buffers(), base + 1);
    // A burst gives its buffer back when it is dropped, too.
    {
        let b = ring.recv_burst(8, false).unwrap();
        assert_eq!(b.len(), 1);
        assert_eq!(frame_id(b.get(0).unwrap().1), 1);
    }
    c.poll(&mut empty, None).unwrap();
    assert_eq!(c.free_buffers(), base + 2);
    let p = ring.recv(false).unwrap().expect("the third");
    assert_eq!(frame_id(p.data()), 2);
    drop(p);
    assert!(ring.recv(false).unwrap().is_none());
    c.poll(&mut empty, None).unwrap();
    assert_eq!(c.free_buffers(), base + 3);
}
