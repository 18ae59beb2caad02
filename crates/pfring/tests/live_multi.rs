//! Live tests of rings on several devices (`b1,b2`, `b1;b2`, `multi:b1;b2`): two veth pairs
//! in a fresh network namespace, frames sent into each, exact counts per device. They need
//! root; without it they print a skip reason.

use std::collections::HashMap;
use std::thread;
use std::time::{Duration, Instant};

use pfring::{ClusterType, Error, OwnedPacket, Ring, RingBuilder, Stats};
use pfring_testkit::{FrameBuilder, NetNs, RawSender, VethPair, require_privileged, udp_frame};

#[path = "common/ring.rs"]
mod ring_helpers;
use ring_helpers::{assert_no_more, open_enabled, recv_n};

/// The three spellings of "both receiving ends on one ring".
fn specs(b1: &str, b2: &str) -> [String; 3] {
    [
        format!("{b1},{b2}"),
        format!("{b1};{b2}"),
        format!("multi:{b1};{b2}"),
    ]
}

fn setup(ns: &NetNs) -> (VethPair<'_>, VethPair<'_>) {
    (
        VethPair::new(ns, "ma1", "mb1").expect("veth pair 1"),
        VethPair::new(ns, "ma2", "mb2").expect("veth pair 2"),
    )
}

/// Receives in bursts until `n` packets arrived or `timeout` passed; every burst must come
/// from one device.
fn recv_bursts(ring: &mut Ring, n: usize, timeout: Duration) -> Vec<OwnedPacket> {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    while out.len() < n && Instant::now() < deadline {
        let burst = ring.recv_burst(64, false).expect("recv_burst");
        if burst.is_empty() {
            drop(burst);
            ring.poll(Duration::from_millis(20)).expect("poll");
            continue;
        }
        let mut ifs: Vec<i32> = burst.iter().map(|(h, _)| h.extended_hdr.if_index).collect();
        ifs.dedup();
        assert_eq!(ifs.len(), 1, "a burst mixes devices: {ifs:?}");
        out.extend(burst.iter().map(|(h, d)| OwnedPacket {
            header: h,
            data: d.to_vec(),
        }));
    }
    out
}

/// Sends 300 frames into the first pair and 200 into the second (sequence numbers
/// `base..base+300` and `base+1000..base+1200`), interleaved; returns the frames by seq.
fn send_300_200(tx1: &RawSender, tx2: &RawSender, base: u64) -> HashMap<u64, Vec<u8>> {
    let mut sent = HashMap::new();
    for i in 0..300u64 {
        let f = udp_frame(base + i, 60 + (i as usize * 37) % 1400);
        tx1.send(&f).unwrap();
        sent.insert(base + i, f);
        if i < 200 {
            let f = udp_frame(base + 1000 + i, 60 + (i as usize * 53) % 1400);
            tx2.send(&f).unwrap();
            sent.insert(base + 1000 + i, f);
        }
    }
    sent
}

/// Checks that `got` is exactly `sent` (each frame once, right bytes and lengths), that
/// each frame carries the if_index of the device it was sent to, and counts per device.
fn check(got: &[OwnedPacket], sent: &HashMap<u64, Vec<u8>>, base: u64, if1: i32, if2: i32) {
    assert_eq!(got.len(), 500);
    let mut seen = HashMap::new();
    let (mut n1, mut n2) = (0, 0);
    for p in got {
        let seq = pfring_testkit::udp_frame_seq(&p.data).expect("a test frame");
        assert!(seen.insert(seq, ()).is_none(), "seq {seq} twice");
        assert_eq!(&p.data, &sent[&seq], "bytes of seq {seq}");
        assert_eq!(p.header.len as usize, sent[&seq].len());
        let want = if seq >= base + 1000 { if2 } else { if1 };
        assert_eq!(
            p.header.extended_hdr.if_index, want,
            "if_index of seq {seq}"
        );
        if want == if1 { n1 += 1 } else { n2 += 1 }
    }
    assert_eq!((n1, n2), (300, 200));
}

#[test]
fn exact_counts_bytes_and_stats_per_device() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let (p1, p2) = setup(&ns);
    let if1 = p1.ifindex_b().unwrap() as i32;
    let if2 = p2.ifindex_b().unwrap() as i32;
    let tx1 = RawSender::new(p1.a()).unwrap();
    let tx2 = RawSender::new(p2.a()).unwrap();
    for spec in specs(p1.b(), p2.b()) {
        let mut ring = open_enabled(&spec);
        assert_eq!(ring.bound_device_ifindex(), 0, "{spec}");
        assert_eq!(ring.bound_device_address().unwrap(), [0; 6]);
        assert_eq!(ring.num_rx_channels().unwrap(), 1);

        // One at a time.
        let sent = send_300_200(&tx1, &tx2, 0);
        let got = recv_n(&mut ring, 500, Duration::from_secs(10));
        check(&got, &sent, 0, if1, if2);
        assert_no_more(&mut ring);
        assert_eq!(ring.stats().unwrap(), Stats { recv: 500, drop: 0 });
        assert_eq!(
            ring.device_stats().unwrap(),
            vec![
                ("mb1".to_string(), Stats { recv: 300, drop: 0 }),
                ("mb2".to_string(), Stats { recv: 200, drop: 0 }),
            ],
            "{spec}"
        );

        // In bursts (one device per burst).
        let sent = send_300_200(&tx1, &tx2, 5000);
        let got = recv_bursts(&mut ring, 500, Duration::from_secs(10));
        check(&got, &sent, 5000, if1, if2);
        assert_no_more(&mut ring);
        assert_eq!(
            ring.stats().unwrap(),
            Stats {
                recv: 1000,
                drop: 0
            }
        );
        let per = ring.device_stats().unwrap();
        assert_eq!(per[0].1.recv, 600);
        assert_eq!(per[1].1.recv, 400);

        // Transmit and clusters are refused.
        assert!(matches!(
            ring.send(&udp_frame(0, 60), true),
            Err(Error::NotSupported {
                backend: "multi",
                ..
            })
        ));
        assert!(matches!(
            ring.set_cluster(7, ClusterType::RoundRobin),
            Err(Error::NotSupported {
                backend: "multi",
                ..
            })
        ));
    }
}

#[test]
fn run_loop_sees_both_devices() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let (p1, p2) = setup(&ns);
    let (if1, if2) = (
        p1.ifindex_b().unwrap() as i32,
        p2.ifindex_b().unwrap() as i32,
    );
    let mut ring = open_enabled(&format!("{},{}", p1.b(), p2.b()));
    let tx1 = RawSender::new(p1.a()).unwrap();
    let tx2 = RawSender::new(p2.a()).unwrap();
    send_300_200(&tx1, &tx2, 0);
    let mut per_if: HashMap<i32, u64> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while per_if.values().sum::<u64>() < 500 && Instant::now() < deadline {
        ring.run_loop(false, |h, _| {
            *per_if.entry(h.extended_hdr.if_index).or_default() += 1;
            true
        })
        .unwrap();
        ring.poll(Duration::from_millis(20)).unwrap();
    }
    assert_eq!(per_if.get(&if1), Some(&300));
    assert_eq!(per_if.get(&if2), Some(&200));
}

#[test]
fn no_device_starves() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let (p1, p2) = setup(&ns);
    let if2 = p2.ifindex_b().unwrap() as i32;
    let mut ring = RingBuilder::new(&format!("{},{}", p1.b(), p2.b()))
        .block_timeout(Duration::from_millis(2))
        .open()
        .unwrap();
    ring.enable().unwrap();
    let tx1 = RawSender::new(p1.a()).unwrap();
    let tx2 = RawSender::new(p2.a()).unwrap();
    tx1.send_all((0..2000).map(|i| udp_frame(i, 100))).unwrap();
    tx2.send_all((0..10).map(|i| udp_frame(10_000 + i, 100)))
        .unwrap();
    thread::sleep(Duration::from_millis(100));
    // Both devices have frames queued: the second one's come within the first 20.
    let first = recv_n(&mut ring, 20, Duration::from_secs(5));
    let from2 = first
        .iter()
        .filter(|p| p.header.extended_hdr.if_index == if2)
        .count();
    assert_eq!(from2, 10, "device 2's frames wait behind device 1's");
}

#[test]
fn blocking_recv_wakes_for_either_device() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let (p1, p2) = setup(&ns);
    for spec in specs(p1.b(), p2.b()) {
        let mut ring = open_enabled(&spec);
        ring.set_poll_duration(Duration::from_secs(5));
        for (pair, seq) in [(&p2, 1u64), (&p1, 2), (&p2, 3)] {
            let a = pair.a().to_owned();
            let t = thread::spawn(move || {
                thread::sleep(Duration::from_millis(200));
                RawSender::new(&a)
                    .unwrap()
                    .send(&udp_frame(seq, 60))
                    .unwrap();
            });
            let start = Instant::now();
            let pkt = ring
                .recv(true)
                .unwrap()
                .expect("a packet")
                .to_owned_packet();
            let took = start.elapsed();
            t.join().unwrap();
            assert!(took < Duration::from_secs(2), "{spec}: woke after {took:?}");
            assert_eq!(pfring_testkit::udp_frame_seq(&pkt.data), Some(seq));
            assert_eq!(
                pkt.header.extended_hdr.if_index,
                pair.ifindex_b().unwrap() as i32
            );
        }
    }
}

#[test]
fn breakloop_stops_a_blocked_multi_ring() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let (p1, p2) = setup(&ns);
    let mut ring = open_enabled(&format!("multi:{};{}", p1.b(), p2.b()));
    ring.set_poll_duration(Duration::from_secs(5));
    let handle = ring.break_handle();
    let breaker = thread::spawn(move || {
        thread::sleep(Duration::from_millis(300));
        let t = Instant::now();
        handle.breakloop();
        t
    });
    let n = ring.run_loop(true, |_, _| true).unwrap();
    let lag = Instant::now().duration_since(breaker.join().unwrap());
    assert_eq!(n, 0);
    assert!(lag < Duration::from_millis(100), "returned {lag:?} late");
    let handle = ring.break_handle();
    let t = thread::spawn(move || {
        thread::sleep(Duration::from_millis(100));
        handle.breakloop();
    });
    assert!(ring.recv(true).unwrap().is_none());
    t.join().unwrap();
    // Still working afterwards.
    RawSender::new(p2.a())
        .unwrap()
        .send(&udp_frame(9, 60))
        .unwrap();
    assert_eq!(recv_n(&mut ring, 1, Duration::from_secs(5)).len(), 1);
}

#[test]
fn bpf_filter_applies_to_every_device() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let (p1, p2) = setup(&ns);
    let mut ring = RingBuilder::new(&format!("{};{}", p1.b(), p2.b()))
        .open()
        .unwrap();
    ring.set_bpf_filter("udp dst port 53").unwrap();
    ring.enable().unwrap();
    let dns = FrameBuilder::udp().ports(4000, 53);
    let other = FrameBuilder::udp().ports(4000, 80);
    for pair in [&p1, &p2] {
        let tx = RawSender::new(pair.a()).unwrap();
        for i in 0..50u64 {
            let b = if i % 5 < 3 { &dns } else { &other };
            tx.send(&b.build_len(i, 70)).unwrap();
        }
    }
    let got = recv_n(&mut ring, 60, Duration::from_secs(5));
    assert_no_more(&mut ring);
    assert_eq!(got.len(), 60);
    assert!(got.iter().all(|p| p.data[36..38] == 53u16.to_be_bytes()));
    let per = ring.device_stats().unwrap();
    assert_eq!((per[0].1.recv, per[1].1.recv), (30, 30));

    // Removed from both.
    ring.remove_bpf_filter().unwrap();
    for pair in [&p1, &p2] {
        RawSender::new(pair.a())
            .unwrap()
            .send(&other.build_len(99, 70))
            .unwrap();
    }
    assert_eq!(recv_n(&mut ring, 2, Duration::from_secs(5)).len(), 2);
    assert_no_more(&mut ring);

    // Disabled: nothing from either device.
    ring.disable().unwrap();
    for pair in [&p1, &p2] {
        RawSender::new(pair.a())
            .unwrap()
            .send(&other.build_len(100, 70))
            .unwrap();
    }
    thread::sleep(Duration::from_millis(100));
    ring.enable().unwrap();
    assert_no_more(&mut ring);
}

#[test]
fn single_device_rings_report_one_device() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let (p1, _p2) = setup(&ns);
    let mut ring = open_enabled(p1.b());
    RawSender::new(p1.a())
        .unwrap()
        .send_all((0..5).map(|i| udp_frame(i, 60)))
        .unwrap();
    assert_eq!(recv_n(&mut ring, 5, Duration::from_secs(5)).len(), 5);
    assert_eq!(
        ring.device_stats().unwrap(),
        vec![("mb1".to_string(), Stats { recv: 5, drop: 0 })]
    );
}

#[test]
fn unknown_member_is_no_such_device() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let (p1, _p2) = setup(&ns);
    for spec in [
        format!("{},nosuch0", p1.b()),
        format!("nosuch0;{}", p1.b()),
        format!("multi:{};nosuch0", p1.b()),
    ] {
        match RingBuilder::new(&spec).open() {
            Err(Error::NoSuchDevice { name }) => assert_eq!(name, "nosuch0", "{spec}"),
            other => panic!("{spec}: expected NoSuchDevice, got {other:?}"),
        }
    }
    assert!(matches!(
        RingBuilder::new(&format!("multi:{};any", p1.b())).open(),
        Err(Error::NotSupported { .. }) | Err(Error::InvalidDevice { .. })
    ));
}

#[test]
fn blocked_wait_does_not_spin_after_traffic() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let (p1, p2) = setup(&ns);
    let mut ring = open_enabled(&format!("{},{}", p1.b(), p2.b()));
    ring.set_poll_duration(Duration::from_secs(5));
    let tx1 = RawSender::new(p1.a()).unwrap();
    let tx2 = RawSender::new(p2.a()).unwrap();
    send_300_200(&tx1, &tx2, 0);
    assert_eq!(recv_n(&mut ring, 500, Duration::from_secs(10)).len(), 500);
    // Every block of both devices has been read: a blocking receive must sleep in poll(2),
    // not spin on a finished block still held by one member.
    let handle = ring.break_handle();
    let t = thread::spawn(move || {
        thread::sleep(Duration::from_millis(500));
        handle.breakloop();
    });
    let cpu = cpu_time::ThreadTime::now();
    assert!(ring.recv(true).unwrap().is_none());
    let used = cpu.elapsed();
    t.join().unwrap();
    assert!(
        used < Duration::from_millis(100),
        "blocked wait used {used:?} CPU"
    );
}
