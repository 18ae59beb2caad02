//! Live tests: each builds its own network namespace and veth pair, sends real frames across,
//! and asserts exact counts. They need root (CAP_NET_ADMIN + CAP_NET_RAW + CAP_SYS_ADMIN for
//! the namespace); without it they print a skip reason, and with `PFRING_REQUIRE_PRIVILEGED=1`
//! they fail instead.

use std::net::Ipv4Addr;
use std::thread;
use std::time::{Duration, Instant};

use pfring::{Direction, Error, Ring, RingBuilder, SocketMode};
use pfring_testkit::{
    FrameBuilder, NetNs, RawSender, VethPair, queues, require_privileged, udp_frame, udp_frame_seq,
};

#[path = "common/ring.rs"]
mod ring_helpers;
use ring_helpers::{assert_no_more, open_enabled, recv_n};

/// The device's promiscuity count (`ip -d link show`): packet sockets add to it with
/// `PACKET_MR_PROMISC` without setting the user-visible `IFF_PROMISC` flag.
fn promiscuity(dev: &str) -> u32 {
    let out = std::process::Command::new("ip")
        .args(["-d", "link", "show", "dev", dev])
        .output()
        .expect("ip -d link show");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut words = text.split_whitespace();
    while let Some(w) = words.next() {
        if w == "promiscuity" {
            return words
                .next()
                .and_then(|n| n.parse().ok())
                .expect("promiscuity count");
        }
    }
    panic!("no promiscuity in {text}");
}

fn setup(ns: &NetNs) -> VethPair<'_> {
    VethPair::new(ns, "pfa", "pfb").expect("veth pair")
}

#[test]
fn n_sent_exactly_n_received_with_bytes_and_lengths() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = setup(&ns);
    let mut ring = open_enabled(veth.b());
    let tx = RawSender::new(veth.a()).unwrap();
    let frames: Vec<Vec<u8>> = (0..1000u64)
        .map(|i| udp_frame(i, 60 + (i as usize * 97) % 1455))
        .collect();
    tx.send_all(&frames).unwrap();
    let got = recv_n(&mut ring, 1000, Duration::from_secs(10));
    assert_eq!(got.len(), 1000);
    for (i, p) in got.iter().enumerate() {
        assert_eq!(p.data, frames[i], "bytes of frame {i}");
        assert_eq!(p.header.len as usize, frames[i].len());
        assert_eq!(p.header.caplen as usize, frames[i].len());
        assert!(p.header.extended_hdr.rx_direction);
        assert_eq!(
            p.header.extended_hdr.if_index,
            veth.ifindex_b().unwrap() as i32
        );
    }
    assert_no_more(&mut ring);
    let st = ring.stats().unwrap();
    assert_eq!((st.recv, st.drop), (1000, 0));
}

#[test]
fn caplen_truncates_and_keeps_wire_length() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = setup(&ns);
    let mut ring = RingBuilder::new(veth.b()).caplen(64).open().unwrap();
    assert_eq!(ring.caplen(), 64);
    ring.enable().unwrap();
    let tx = RawSender::new(veth.a()).unwrap();
    let frames: Vec<_> = (0..100).map(|i| udp_frame(i, 1000)).collect();
    tx.send_all(&frames).unwrap();
    let got = recv_n(&mut ring, 100, Duration::from_secs(5));
    assert_eq!(got.len(), 100);
    for (p, f) in got.iter().zip(&frames) {
        assert_eq!(p.header.caplen, 64);
        assert_eq!(p.header.len, 1000);
        assert_eq!(p.data, f[..64]);
    }
    assert_no_more(&mut ring);
}

#[test]
fn direction_rx_tx_both() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = setup(&ns);
    for (dir, want_rx, want_tx) in [
        (Direction::RxAndTx, 30, 50),
        (Direction::RxOnly, 30, 0),
        (Direction::TxOnly, 0, 50),
    ] {
        let mut ring = RingBuilder::new(veth.a()).direction(dir).open().unwrap();
        ring.enable().unwrap();
        let out = RawSender::new(veth.a()).unwrap();
        let inc = RawSender::new(veth.b()).unwrap();
        out.send_all((0..50).map(|i| udp_frame(i, 60))).unwrap();
        inc.send_all((100..130).map(|i| udp_frame(i, 60))).unwrap();
        let got = recv_n(&mut ring, want_rx + want_tx, Duration::from_secs(5));
        assert_no_more(&mut ring);
        let rx = got
            .iter()
            .filter(|p| p.header.extended_hdr.rx_direction)
            .count();
        let tx = got.len() - rx;
        assert_eq!((rx, tx), (want_rx, want_tx), "{dir:?}");
        for p in &got {
            let seq = udp_frame_seq(&p.data).unwrap();
            assert_eq!(
                p.header.extended_hdr.rx_direction,
                seq >= 100,
                "{dir:?} seq {seq}"
            );
        }
    }
}

#[test]
fn direction_can_change_while_enabled() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = setup(&ns);
    let mut ring = open_enabled(veth.a());
    ring.set_direction(Direction::TxOnly).unwrap();
    let inc = RawSender::new(veth.b()).unwrap();
    inc.send_all((0..20).map(|i| udp_frame(i, 60))).unwrap();
    assert_no_more(&mut ring);
    ring.set_direction(Direction::RxOnly).unwrap();
    inc.send_all((0..20).map(|i| udp_frame(i, 60))).unwrap();
    assert_eq!(recv_n(&mut ring, 20, Duration::from_secs(5)).len(), 20);
    assert_no_more(&mut ring);
}

#[test]
fn promisc_is_set_while_open_and_released_on_close() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = setup(&ns);
    assert_eq!(promiscuity(veth.b()), 0);
    {
        let mut ring = RingBuilder::new(veth.b()).promisc(true).open().unwrap();
        ring.enable().unwrap();
        assert_eq!(promiscuity(veth.b()), 1);
        // Frames to someone else's MAC are captured.
        let tx = RawSender::new(veth.a()).unwrap();
        let other = FrameBuilder::udp().macs([2, 0, 0, 0, 0, 1], [2, 0xee, 0, 0, 0, 9]);
        tx.send_all((0..10).map(|i| other.build_len(i, 60)))
            .unwrap();
        assert_eq!(recv_n(&mut ring, 10, Duration::from_secs(5)).len(), 10);
    }
    assert_eq!(
        promiscuity(veth.b()),
        0,
        "closing the ring drops promiscuity"
    );
    let ring = RingBuilder::new(veth.b()).promisc(false).open().unwrap();
    assert_eq!(promiscuity(veth.b()), 0);
    drop(ring);
}

#[test]
fn disabled_ring_sees_nothing() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = setup(&ns);
    let mut ring = RingBuilder::new(veth.b()).open().unwrap();
    let tx = RawSender::new(veth.a()).unwrap();
    tx.send_all((0..100).map(|i| udp_frame(i, 60))).unwrap();
    assert!(matches!(ring.recv(false), Err(Error::RingNotEnabled)));
    assert!(matches!(
        ring.poll(Duration::from_millis(10)),
        Err(Error::RingNotEnabled)
    ));
    ring.enable().unwrap();
    tx.send_all((1000..1010).map(|i| udp_frame(i, 60))).unwrap();
    let got = recv_n(&mut ring, 10, Duration::from_secs(5));
    assert_eq!(got.len(), 10);
    assert!(got.iter().all(|p| udp_frame_seq(&p.data).unwrap() >= 1000));
    assert_no_more(&mut ring);
    // Disabled again: recv refuses; frames sent meanwhile are not captured.
    ring.disable().unwrap();
    tx.send_all((2000..2010).map(|i| udp_frame(i, 60))).unwrap();
    assert!(matches!(ring.recv(false), Err(Error::RingNotEnabled)));
    // veth delivers through the receive backlog (softirq); let it drain before re-enabling.
    thread::sleep(Duration::from_millis(200));
    ring.enable().unwrap();
    assert_no_more(&mut ring);
}

#[test]
fn breakloop_returns_a_blocked_loop_within_100ms() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = setup(&ns);
    let mut ring = open_enabled(veth.b());
    ring.set_poll_duration(Duration::from_secs(5));
    let handle = ring.break_handle();
    let breaker = thread::spawn(move || {
        thread::sleep(Duration::from_millis(300));
        let t = Instant::now();
        handle.breakloop();
        t
    });
    let n = ring.run_loop(true, |_, _| true).unwrap();
    let returned = Instant::now();
    let broke_at = breaker.join().unwrap();
    assert_eq!(n, 0);
    let lag = returned.duration_since(broke_at);
    assert!(
        lag < Duration::from_millis(100),
        "loop returned {lag:?} after breakloop"
    );
    // A blocking recv is broken the same way, and the ring keeps working afterwards.
    let handle = ring.break_handle();
    let t = thread::spawn(move || {
        thread::sleep(Duration::from_millis(100));
        handle.breakloop();
    });
    assert!(ring.recv(true).unwrap().is_none());
    t.join().unwrap();
    RawSender::new(veth.a())
        .unwrap()
        .send(&udp_frame(1, 60))
        .unwrap();
    assert_eq!(recv_n(&mut ring, 1, Duration::from_secs(5)).len(), 1);
}

#[test]
fn loop_delivers_every_packet_until_callback_stops() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = setup(&ns);
    let mut ring = open_enabled(veth.b());
    RawSender::new(veth.a())
        .unwrap()
        .send_all((0..500).map(|i| udp_frame(i, 100)))
        .unwrap();
    let mut seqs = Vec::new();
    let n = ring
        .run_loop(true, |h, data| {
            assert_eq!(h.len, 100);
            seqs.push(udp_frame_seq(data).unwrap());
            seqs.len() < 500
        })
        .unwrap();
    assert_eq!(n, 500);
    assert_eq!(seqs, (0..500).collect::<Vec<_>>());
}

#[test]
fn poll_watermark_delays_wakeup_until_enough_packets() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = setup(&ns);
    let mut ring = open_enabled(veth.b());
    ring.set_poll_watermark(64).unwrap();
    assert_eq!(ring.poll_watermark(), 64);
    let tx = RawSender::new(veth.a()).unwrap();
    tx.send_all((0..10).map(|i| udp_frame(i, 60))).unwrap();
    let t = Instant::now();
    assert!(
        !ring.poll(Duration::from_millis(300)).unwrap(),
        "10 < watermark 64"
    );
    assert!(t.elapsed() >= Duration::from_millis(280));
    assert_eq!(ring.num_queued_packets(), 10);
    tx.send_all((10..80).map(|i| udp_frame(i, 60))).unwrap();
    let t = Instant::now();
    assert!(ring.poll(Duration::from_secs(5)).unwrap());
    assert!(t.elapsed() < Duration::from_millis(200));
    assert_eq!(recv_n(&mut ring, 80, Duration::from_secs(5)).len(), 80);
    // Watermark 1: wake on the first packet.
    ring.set_poll_watermark(1).unwrap();
    tx.send(&udp_frame(99, 60)).unwrap();
    let t = Instant::now();
    assert!(ring.poll(Duration::from_secs(5)).unwrap());
    assert!(t.elapsed() < Duration::from_millis(200));
}

#[test]
fn unread_small_ring_drops_and_recv_plus_drop_equals_sent() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = setup(&ns);
    let mut ring = RingBuilder::new(veth.b())
        .caplen(128)
        .slots(64)
        .open()
        .unwrap();
    ring.enable().unwrap();
    let sent = 5000u64;
    RawSender::new(veth.a())
        .unwrap()
        .send_all((0..sent).map(|i| udp_frame(i, 60)))
        .unwrap();
    thread::sleep(Duration::from_millis(100));
    let got = recv_n(&mut ring, sent as usize, Duration::from_secs(2));
    let st = ring.stats().unwrap();
    assert_eq!(st.recv, got.len() as u64);
    assert!(
        st.drop > 0,
        "a {} byte ring cannot hold {sent} frames",
        ring.ring_memory()
    );
    assert_eq!(st.recv + st.drop, sent, "{st:?}");
    // Stats keep accumulating across reads.
    assert_eq!(ring.stats().unwrap(), st);
}

#[test]
fn queue_binding_on_a_two_queue_veth() {
    require_privileged!();
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        eprintln!("skipping queue_binding_on_a_two_queue_veth: needs 2 CPUs to steer queues");
        return;
    }
    let ns = NetNs::new().unwrap();
    let veth = VethPair::builder("pfa", "pfb")
        .queues(2)
        .create(&ns)
        .unwrap();
    let mut q0 = open_enabled(&format!("{}@0", veth.b()));
    let mut q1 = open_enabled(&format!("{}@1", veth.b()));
    let mut all = open_enabled(veth.b());
    assert_eq!(all.num_rx_channels().unwrap(), 2);
    let tx = RawSender::new(veth.a()).unwrap();
    queues::send_on_queue(&tx, 0, 2, (0..40).map(|i| udp_frame(i, 60))).unwrap();
    queues::send_on_queue(&tx, 1, 2, (100..160).map(|i| udp_frame(i, 60))).unwrap();
    let g0 = recv_n(&mut q0, 40, Duration::from_secs(5));
    let g1 = recv_n(&mut q1, 60, Duration::from_secs(5));
    let ga = recv_n(&mut all, 100, Duration::from_secs(5));
    assert_no_more(&mut q0);
    assert_no_more(&mut q1);
    assert_eq!(g0.len(), 40);
    assert_eq!(g1.len(), 60);
    assert_eq!(ga.len(), 100);
    assert!(g0.iter().all(|p| udp_frame_seq(&p.data).unwrap() < 100));
    assert!(g1.iter().all(|p| udp_frame_seq(&p.data).unwrap() >= 100));
}

#[test]
fn any_device_sees_both_ends() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = setup(&ns);
    let mut ring = open_enabled("any");
    assert_eq!(ring.bound_device_ifindex(), 0);
    RawSender::new(veth.a())
        .unwrap()
        .send_all((0..20).map(|i| udp_frame(i, 60)))
        .unwrap();
    let got = recv_n(&mut ring, 40, Duration::from_secs(5));
    assert_no_more(&mut ring);
    assert_eq!(got.len(), 40, "20 leaving pfa + 20 arriving on pfb");
    let (ia, ib) = (
        veth.ifindex_a().unwrap() as i32,
        veth.ifindex_b().unwrap() as i32,
    );
    let on_a = got
        .iter()
        .filter(|p| p.header.extended_hdr.if_index == ia)
        .count();
    let on_b = got
        .iter()
        .filter(|p| p.header.extended_hdr.if_index == ib)
        .count();
    assert_eq!((on_a, on_b), (20, 20));
}

#[test]
fn vlan_tag_is_delivered_and_vlan_binding_filters() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = setup(&ns);
    let mut all = open_enabled(veth.b());
    let mut v100 = open_enabled(&format!("{}.100", veth.b()));
    let tx = RawSender::new(veth.a()).unwrap();
    let tagged = FrameBuilder::udp().vlan(100);
    let other = FrameBuilder::udp().vlan(200);
    let f100: Vec<_> = (0..10).map(|i| tagged.build_len(i, 80)).collect();
    tx.send_all(&f100).unwrap();
    tx.send_all((10..15).map(|i| other.build_len(i, 80)))
        .unwrap();
    tx.send_all((20..25).map(|i| udp_frame(i, 80))).unwrap();
    let got = recv_n(&mut v100, 10, Duration::from_secs(5));
    assert_no_more(&mut v100);
    assert_eq!(got.len(), 10);
    for (p, f) in got.iter().zip(&f100) {
        assert_eq!(p.data, *f, "the tag is back in the bytes");
        assert_eq!(p.header.len, 80);
        assert_eq!(p.header.extended_hdr.vlan_tci.map(|t| t & 0xfff), Some(100));
    }
    assert_eq!(recv_n(&mut all, 20, Duration::from_secs(5)).len(), 20);
}

#[test]
fn copy_burst_and_shared_receive() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = setup(&ns);
    let mut ring = open_enabled(veth.b());
    let tx = RawSender::new(veth.a()).unwrap();
    tx.send_all((0..3).map(|i| udp_frame(i, 200))).unwrap();
    let mut buf = [0u8; 50];
    let h = loop {
        if let Some(h) = ring.recv_into(&mut buf, true).unwrap() {
            break h;
        }
    };
    assert_eq!((h.caplen, h.len), (50, 200));
    assert_eq!(buf[..], udp_frame(0, 200)[..50]);
    assert!(matches!(
        ring.recv_into(&mut [], false),
        Err(Error::EmptyBuffer)
    ));
    thread::sleep(Duration::from_millis(20));
    {
        let burst = ring.recv_burst(16, true).unwrap();
        assert_eq!(burst.len(), 2);
        let seqs: Vec<_> = burst
            .iter()
            .map(|(_, d)| udp_frame_seq(d).unwrap())
            .collect();
        assert_eq!(seqs, [1, 2]);
    }
    // Two threads share one ring.
    let shared = ring.into_shared();
    tx.send_all((0..1000).map(|i| udp_frame(i, 60))).unwrap();
    let counts: Vec<usize> = thread::scope(|s| {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    let mut buf = [0u8; 128];
                    let mut n = 0;
                    let deadline = Instant::now() + Duration::from_secs(5);
                    while Instant::now() < deadline {
                        match shared.recv_into(&mut buf, false).unwrap() {
                            Some(_) => n += 1,
                            None if shared.stats().unwrap().recv >= 1003 => break,
                            None => thread::sleep(Duration::from_millis(1)),
                        }
                    }
                    n
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    assert_eq!(counts.iter().sum::<usize>(), 1000, "{counts:?}");
}

#[test]
fn timestamps_are_nanosecond_and_next_packet_time_peeks() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = setup(&ns);
    let mut ring = open_enabled(veth.b());
    assert!(ring.next_packet_time().is_none());
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    RawSender::new(veth.a())
        .unwrap()
        .send_all((0..2).map(|i| udp_frame(i, 60)))
        .unwrap();
    thread::sleep(Duration::from_millis(50));
    let peek = ring.next_packet_time().expect("a packet is queued");
    let p = ring.recv(false).unwrap().unwrap();
    let h = *p.header();
    drop(p);
    assert_eq!(peek, h.ts);
    assert_eq!(h.extended_hdr.timestamp_ns, h.ts.as_nanos());
    assert!(h.ts.as_nanos() >= before - 1_000_000 && h.ts.as_nanos() < before + 5_000_000_000);
    let p2 = ring.recv(false).unwrap().unwrap();
    assert!(p2.header().ts >= h.ts);
}

#[test]
fn device_facts_and_errors() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::builder("pfa", "pfb")
        .macs([2, 0, 0, 0, 0, 0xa], [2, 0, 0, 0, 0, 0xb])
        .create(&ns)
        .unwrap();
    let mut ring = RingBuilder::new(veth.b()).open().unwrap();
    assert_eq!(ring.bound_device_address().unwrap(), [2, 0, 0, 0, 0, 0xb]);
    assert_eq!(
        ring.bound_device_ifindex(),
        veth.ifindex_b().unwrap() as i32
    );
    assert_eq!(ring.num_rx_channels().unwrap(), 1);
    assert_eq!(ring.version(), 0x050400);
    ring.set_application_name("live-test").unwrap();
    assert_eq!(ring.application_name(), Some("live-test"));
    ring.set_socket_mode(SocketMode::SendOnly).unwrap();
    ring.enable().unwrap();
    assert!(matches!(
        ring.recv(false),
        Err(Error::WrongSocketMode { .. })
    ));
    assert!(matches!(
        ring.set_socket_mode(SocketMode::RecvOnly),
        Err(Error::AlreadyEnabled { .. })
    ));
    match RingBuilder::new("nosuch0").open() {
        Err(Error::NoSuchDevice { name }) => assert_eq!(name, "nosuch0"),
        other => panic!("expected NoSuchDevice, got {other:?}"),
    }
    // (xdp: rings are tested in live_xdp.rs; zc: cluster queues in zc.rs.)
    for (dev, module) in [("zc:pfb", "zc")] {
        match Ring::open(dev, 128, pfring::Flags::default()) {
            Err(Error::NotSupported { backend, .. }) => assert_eq!(backend, module),
            other => panic!("{dev}: expected NotSupported, got {other:?}"),
        }
    }
    assert!(matches!(
        RingBuilder::new("pfb").caplen(0).open(),
        Err(Error::InvalidArgument(_))
    ));
    let names: Vec<String> = pfring::find_all_devices()
        .unwrap()
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    assert!(names.contains(&"pfa".to_string()) && names.contains(&"pfb".to_string()));
    let _ = Ipv4Addr::LOCALHOST;
}

#[test]
fn quick_mode_is_exclusive() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = setup(&ns);
    let first = RingBuilder::new(veth.b()).quick_mode(true).open().unwrap();
    match RingBuilder::new(veth.b()).quick_mode(true).open() {
        Err(Error::DeviceBusy { device }) => assert!(device.contains("pfb"), "{device}"),
        other => panic!("expected DeviceBusy, got {other:?}"),
    }
    // Non-quick rings are not affected, and the lock goes with the ring.
    drop(RingBuilder::new(veth.b()).open().unwrap());
    drop(first);
    drop(RingBuilder::new(veth.b()).quick_mode(true).open().unwrap());
}

#[test]
fn bpf_filter_runs_in_the_kernel_after_the_binding_checks() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = setup(&ns);
    let mut ring = RingBuilder::new(veth.b()).open().unwrap();
    // Set before enable, applied at enable.
    ring.set_bpf_filter("udp dst port 53").unwrap();
    ring.enable().unwrap();
    let tx = RawSender::new(veth.a()).unwrap();
    let dns = FrameBuilder::udp().ports(4000, 53);
    let other = FrameBuilder::udp().ports(4000, 80);
    for i in 0..50u64 {
        let b = if i % 5 < 3 { &dns } else { &other };
        tx.send(&b.build_len(i, 70)).unwrap();
    }
    let got = recv_n(&mut ring, 30, Duration::from_secs(5));
    assert_no_more(&mut ring);
    assert_eq!(got.len(), 30);
    assert!(got.iter().all(|p| p.data[36..38] == 53u16.to_be_bytes()));
    assert_eq!(
        ring.stats().unwrap(),
        pfring::Stats { recv: 30, drop: 0 },
        "filtered is not dropped"
    );

    // VLAN expressions see the tag the kernel moved into metadata.
    ring.set_bpf_filter("vlan 100 and udp").unwrap();
    let tagged = FrameBuilder::udp().vlan(100);
    tx.send_all((0..7).map(|i| tagged.build_len(i, 80)))
        .unwrap();
    tx.send_all((0..4).map(|i| FrameBuilder::udp().vlan(200).build_len(i, 80)))
        .unwrap();
    tx.send_all((0..4).map(|i| udp_frame(i, 80))).unwrap();
    let got = recv_n(&mut ring, 7, Duration::from_secs(5));
    assert_no_more(&mut ring);
    assert_eq!(got.len(), 7);
    assert!(
        got.iter()
            .all(|p| p.header.extended_hdr.vlan_tci.map(|t| t & 0xfff) == Some(100))
    );

    // A bad expression is refused with its position, and the old filter stays.
    match ring.set_bpf_filter("udp port") {
        Err(Error::Filter(e)) => assert!(e.to_string().contains("at 8"), "{e}"),
        other => panic!("expected a filter error, got {other:?}"),
    }
    tx.send_all((0..3).map(|i| udp_frame(i, 80))).unwrap();
    assert_no_more(&mut ring);

    ring.remove_bpf_filter().unwrap();
    tx.send_all((0..3).map(|i| udp_frame(i, 80))).unwrap();
    assert_eq!(recv_n(&mut ring, 3, Duration::from_secs(5)).len(), 3);
}

#[test]
fn recv_parsed_and_the_long_header_hash() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = setup(&ns);
    let mut long = RingBuilder::new(veth.b()).long_header(true).open().unwrap();
    long.enable().unwrap();
    let mut short = open_enabled(veth.b());
    let fwd = FrameBuilder::udp()
        .ips(Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2))
        .ports(1111, 2222);
    let back = FrameBuilder::udp()
        .ips(Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 1))
        .ports(2222, 1111);
    let tx = RawSender::new(veth.a()).unwrap();
    tx.send(&fwd.build_len(1, 80)).unwrap();
    tx.send(&back.build_len(2, 80)).unwrap();
    // 10.0.0.1 + 10.0.0.2 + UDP + ports, as PF_RING sums them.
    let want = 0x0a00_0001u32 + 0x0a00_0002 + 17 + 1111 + 2222;
    let got = recv_n(&mut long, 2, Duration::from_secs(5));
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|p| p.header.extended_hdr.pkt_hash == want));
    let (p, parsed) = loop {
        if let Some((p, parsed)) = short.recv_parsed(4, true, true).unwrap() {
            break (p.to_owned_packet(), parsed);
        }
    };
    assert_eq!(p.header.extended_hdr.pkt_hash, want);
    assert_eq!(
        (parsed.l4_src_port, parsed.l4_dst_port, parsed.l3_proto),
        (1111, 2222, 17)
    );
    assert_eq!(parsed.ip_src.v4(), 0x0a00_0001);
    let plain = recv_n(&mut short, 1, Duration::from_secs(5));
    assert_eq!(
        plain[0].header.extended_hdr.pkt_hash, 0,
        "no parsing without the long header"
    );
}

#[test]
fn shared_ring_breakloop_reaches_every_thread() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = setup(&ns);
    let mut ring = open_enabled(veth.b());
    ring.set_poll_duration(Duration::from_secs(5));
    let shared = ring.into_shared();
    let returned: Vec<Duration> = thread::scope(|s| {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    let mut buf = [0u8; 64];
                    let t = Instant::now();
                    assert!(shared.recv_into(&mut buf, true).unwrap().is_none());
                    t.elapsed()
                })
            })
            .collect();
        thread::sleep(Duration::from_millis(200));
        shared.breakloop();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    assert!(
        returned.iter().all(|d| *d < Duration::from_secs(2)),
        "{returned:?}"
    );
    shared.clear_break();
    RawSender::new(veth.a())
        .unwrap()
        .send(&udp_frame(1, 60))
        .unwrap();
    let mut buf = [0u8; 64];
    assert!(shared.recv_into(&mut buf, true).unwrap().is_some());
}

#[test]
fn open_multichannel_opens_one_ring_per_rx_queue() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::builder("pfa", "pfb")
        .queues(2)
        .create(&ns)
        .unwrap();
    // Any @mask in the name is ignored, as in PF_RING.
    let rings = RingBuilder::new("pfb@1").open_multichannel().unwrap();
    let devices: Vec<&str> = rings.iter().map(|r| r.device()).collect();
    assert_eq!(devices, ["pfb@0", "pfb@1"]);
    for bad in ["pfa,pfb", "pfb.100", "any", "pcap:x.pcap"] {
        assert!(
            matches!(
                RingBuilder::new(bad).open_multichannel(),
                Err(Error::InvalidArgument(_))
            ),
            "{bad}"
        );
    }
    drop(veth);
}

/// The IPv4 fragments of one UDP datagram of `payload` bytes (8-byte UDP header included in
/// the first), each carrying at most `chunk` bytes of IP payload (a multiple of 8).
fn fragments(id: u16, payload: usize, chunk: usize) -> Vec<Vec<u8>> {
    let mut ip_payload = vec![0u8; 8 + payload];
    ip_payload[0..2].copy_from_slice(&4000u16.to_be_bytes());
    ip_payload[2..4].copy_from_slice(&9u16.to_be_bytes());
    ip_payload[4..6].copy_from_slice(&((8 + payload) as u16).to_be_bytes());
    for (i, b) in ip_payload[8..].iter_mut().enumerate() {
        *b = i as u8;
    }
    let mut out = Vec::new();
    let mut off = 0;
    while off < ip_payload.len() {
        let part = &ip_payload[off..(off + chunk).min(ip_payload.len())];
        let more = off + part.len() < ip_payload.len();
        let mut f = vec![0u8; 14 + 20];
        f[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
        f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        let ip = &mut f[14..34];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&((20 + part.len()) as u16).to_be_bytes());
        ip[4..6].copy_from_slice(&id.to_be_bytes());
        let frag = ((off / 8) as u16) | if more { 0x2000 } else { 0 };
        ip[6..8].copy_from_slice(&frag.to_be_bytes());
        ip[8] = 64;
        ip[9] = 17;
        ip[12..16].copy_from_slice(&[10, 0, 0, 1]);
        ip[16..20].copy_from_slice(&[10, 0, 0, 2]);
        let mut sum = 0u32;
        for w in ip.chunks(2) {
            sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
        f.extend_from_slice(part);
        out.push(f);
        off += part.len();
    }
    out
}

#[test]
fn ip_defrag_reassembles_fragments_before_delivery() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = setup(&ns);
    let mut plain = open_enabled(veth.b());
    let mut defrag = RingBuilder::new(veth.b()).ip_defrag(true).open().unwrap();
    defrag.enable().unwrap();
    let tx = RawSender::new(veth.a()).unwrap();
    // 5 datagrams of 3000 bytes in 3 fragments each, plus one unfragmented frame.
    for id in 0..5u16 {
        let frags = fragments(100 + id, 3000, 1480);
        assert_eq!(frags.len(), 3);
        tx.send_all(&frags).unwrap();
    }
    tx.send(&udp_frame(1, 100)).unwrap();
    let got = recv_n(&mut defrag, 6, Duration::from_secs(5));
    assert_no_more(&mut defrag);
    assert_eq!(got.len(), 6, "one packet per datagram");
    let whole: Vec<_> = got.iter().filter(|p| p.header.len > 1514).collect();
    assert_eq!(whole.len(), 5);
    for p in whole {
        // Ethernet + IPv4 (20) + UDP (8) + 3000 bytes, fragment bits cleared.
        assert_eq!(p.header.len, 14 + 20 + 8 + 3000);
        assert_eq!(&p.data[20..22], &[0, 0], "no MF flag, offset 0");
        assert!(p.data[42..].iter().enumerate().all(|(i, b)| *b == i as u8));
    }
    assert_eq!(
        recv_n(&mut plain, 16, Duration::from_secs(5)).len(),
        16,
        "15 fragments + 1"
    );
    assert_no_more(&mut plain);
}

#[test]
fn a_stalled_reader_keeps_sparse_traffic_for_150_ms() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = setup(&ns);
    let mut ring = open_enabled(veth.b());
    let tx = RawSender::new(veth.a()).unwrap();
    // 30 frames 5 ms apart while nothing is read: the kernel closes a block per 16 ms retire
    // period, so they take some 10 blocks of the default ring (13; it had 7 before, which
    // lost a third of them).
    for i in 0..30 {
        tx.send(&udp_frame(i, 60)).unwrap();
        thread::sleep(Duration::from_millis(5));
    }
    let got = recv_n(&mut ring, 30, Duration::from_secs(5));
    assert_eq!(got.len(), 30);
    let seqs: Vec<u64> = got.iter().filter_map(|p| udp_frame_seq(&p.data)).collect();
    assert_eq!(seqs, (0..30).collect::<Vec<_>>());
    assert_eq!(ring.stats().unwrap().drop, 0);
    assert_no_more(&mut ring);
}
