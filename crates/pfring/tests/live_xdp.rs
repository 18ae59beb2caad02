//! Live tests of the `xdp:` backend (AF_XDP): each builds its own network namespace and veth
//! pair, sends real frames across, and asserts exact counts. They need root; without it they
//! print a skip reason (and fail with `PFRING_REQUIRE_PRIVILEGED=1`).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pfring::{Error, Ring, RingBuilder};
use pfring_testkit::{
    NetNs, RawReceiver, RawSender, VethPair, frame::checksum, queues, require_privileged,
    udp_frame, udp_frame_seq,
};

#[path = "common/ring.rs"]
#[allow(dead_code)] // open_enabled opens default-module rings
mod ring_helpers;
use ring_helpers::{assert_no_more, recv_n};

fn setup(ns: &NetNs) -> VethPair<'_> {
    VethPair::builder("xa", "xb")
        .quiet(true)
        .create(ns)
        .expect("veth pair")
}

fn open_xdp(dev: &str) -> Ring {
    let mut r = RingBuilder::new(&format!("xdp:{dev}@0"))
        .slots(1024)
        .open()
        .expect("open xdp");
    r.enable().expect("enable");
    settle();
    r
}

/// On veth (seen on Linux 6.18), a frame the peer transmits within a few milliseconds after a
/// native XDP program is attached can be dropped by the peer's transmit path (counted in
/// the peer's `tx_dropped`, never reaching XDP or the stack): wait that long after attaching
/// before sending.
fn settle() {
    std::thread::sleep(Duration::from_millis(50));
}

/// Whether `ip link show dev` reports an XDP program on `dev`.
fn has_xdp_program(ns: &NetNs, dev: &str) -> bool {
    let out = ns
        .output(Command::new("ip").args(["link", "show", "dev", dev]))
        .expect("ip link show");
    let text = String::from_utf8_lossy(&out.stdout);
    text.contains("xdp") || text.contains("prog/xdp")
}

#[test]
fn rx_exact_counts_and_bytes() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = setup(&ns);
    let mut ring = open_xdp(veth.b());
    let info = ring.xdp_info().expect("xdp info");
    eprintln!("xdp: {info:?}");
    assert_eq!(info.queue, 0);
    assert!(!info.zero_copy, "veth has no zero-copy AF_XDP");
    assert!(has_xdp_program(&ns, veth.b()));
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
fn rx_burst_recycles_frames_through_many_ring_turns() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = setup(&ns);
    // 64 RX frames: 3000 packets only arrive if every frame goes back to the fill ring.
    let mut ring = RingBuilder::new(&format!("xdp:{}", veth.b()))
        .slots(64)
        .open()
        .unwrap();
    ring.enable().unwrap();
    settle();
    let tx = RawSender::new(veth.a()).unwrap();
    let mut seqs = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    for chunk in 0..100u64 {
        let frames: Vec<_> = (0..30).map(|i| udp_frame(chunk * 30 + i, 100)).collect();
        tx.send_all(&frames).unwrap();
        while (seqs.len() as u64) < (chunk + 1) * 30 && Instant::now() < deadline {
            let b = ring.recv_burst(64, false).unwrap();
            for (h, data) in b.iter() {
                assert_eq!(h.caplen as usize, data.len());
                seqs.push(udp_frame_seq(data).expect("seq"));
            }
            if b.is_empty() {
                drop(b);
                ring.poll(Duration::from_millis(20)).unwrap();
            }
        }
    }
    assert_eq!(seqs, (0..3000).collect::<Vec<_>>());
    assert_no_more(&mut ring);
    assert_eq!(ring.stats().unwrap().recv, 3000);
    assert_eq!(ring.stats().unwrap().drop, 0);
}

#[test]
fn a_full_rx_ring_counts_drops() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = setup(&ns);
    let mut ring = RingBuilder::new(&format!("xdp:{}@0", veth.b()))
        .slots(64)
        .open()
        .unwrap();
    ring.enable().unwrap();
    settle();
    let tx = RawSender::new(veth.a()).unwrap();
    // Nobody reads: 64 frames fit, the other 136 are dropped by the kernel and counted.
    let frames: Vec<_> = (0..200).map(|i| udp_frame(i, 100)).collect();
    tx.send_all(&frames).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let got = recv_n(&mut ring, 200, Duration::from_secs(2));
    let st = ring.stats().unwrap();
    assert_eq!(got.len(), 64);
    assert_eq!((st.recv, st.drop), (64, 136));
}

#[test]
fn disabled_ring_leaves_frames_to_the_stack_and_counts_nothing() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = setup(&ns);
    let mut ring = open_xdp(veth.b());
    let rx_stack = RawReceiver::new(veth.b()).unwrap();
    ring.disable().unwrap();
    let tx = RawSender::new(veth.a()).unwrap();
    let frames: Vec<_> = (0..50).map(|i| udp_frame(i, 100)).collect();
    tx.send_all(&frames).unwrap();
    // Not redirected: an AF_PACKET tap (the stack's view) sees all 50.
    let seen = rx_stack
        .collect(50, Duration::from_millis(500), Duration::from_secs(5))
        .unwrap();
    assert_eq!(seen.len(), 50);
    assert!(matches!(ring.recv(false), Err(Error::RingNotEnabled)));
    // Enabled again: redirected, and the tap sees none of them.
    ring.enable().unwrap();
    tx.send_all(&frames).unwrap();
    assert_eq!(recv_n(&mut ring, 50, Duration::from_secs(5)).len(), 50);
    let seen = rx_stack
        .collect(50, Duration::from_millis(300), Duration::from_secs(2))
        .unwrap();
    assert_eq!(seen.len(), 0, "redirected frames must not reach the stack");
}

#[test]
fn tx_exact_counts_arrive_at_the_peer() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = setup(&ns);
    let mut ring = open_xdp(veth.b());
    let peer = RawReceiver::new(veth.a()).unwrap();
    let frames: Vec<Vec<u8>> = (0..2000u64)
        .map(|i| udp_frame(i, 60 + (i as usize * 31) % 1455))
        .collect();
    for (i, f) in frames.iter().enumerate() {
        // Batched: flushed every 100 frames (and by the watermark in between).
        loop {
            match ring.send(f, i % 100 == 99) {
                Ok(()) => break,
                Err(Error::NoTxSlotAvailable) => {
                    assert!(ring.wait_tx_slot(Duration::from_secs(2)).unwrap());
                }
                Err(e) => panic!("send {i}: {e}"),
            }
        }
    }
    ring.flush_tx_packets().unwrap();
    let got = peer
        .collect(2000, Duration::from_millis(500), Duration::from_secs(20))
        .unwrap();
    assert_eq!(got.len(), 2000);
    for (i, r) in got.iter().enumerate() {
        assert_eq!(r.data, frames[i], "frame {i}");
    }
    assert_eq!(ring.tx_stats().0, 2000);
    // Nothing sent on xb is captured by the xdp: ring (AF_XDP sees received frames only).
    assert_no_more(&mut ring);
}

#[test]
fn send_errors_are_specific() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = setup(&ns);
    let mut ring = RingBuilder::new(&format!("xdp:{}@0", veth.b()))
        .open()
        .unwrap();
    assert!(matches!(
        ring.send(&udp_frame(0, 60), true),
        Err(Error::RingNotEnabled)
    ));
    ring.enable().unwrap();
    assert!(matches!(
        ring.send(&[0u8; 10], true),
        Err(Error::FrameTooShort { len: 10 })
    ));
    assert!(matches!(
        ring.send(&vec![0u8; 1600], true),
        Err(Error::FrameTooLarge {
            len: 1600,
            max: 1518
        })
    ));
    assert!(matches!(
        ring.send_ifindex(&udp_frame(0, 60), veth.ifindex_a().unwrap() as i32),
        Err(Error::NotSupported { backend: "xdp", .. })
    ));
}

/// An ICMP echo request from `src` (10.9.0.1) to `dst` (10.9.0.2), Ethernet-framed.
fn icmp_echo(src: [u8; 6], dst: [u8; 6], seq: u16) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&[0x08, 0x00]);
    let mut ip = vec![
        0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, 1, 0, 0, 10, 9, 0, 1, 10, 9, 0, 2,
    ];
    let mut icmp = vec![8, 0, 0, 0, 0x77, 0x77];
    icmp.extend_from_slice(&seq.to_be_bytes());
    icmp.extend_from_slice(b"pfring xdp ping payload.");
    let c = checksum(&icmp, 0);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    let total = (ip.len() + icmp.len()) as u16;
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    let c = checksum(&ip, 0);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&icmp);
    f
}

#[test]
fn filter_in_xdp_captures_udp_while_ping_reaches_the_stack() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = setup(&ns);
    // xb is the host 10.9.0.2; the peer 10.9.0.1 is xa's MAC (a static neighbour, no ARP).
    let mac_a = veth.mac_a().unwrap();
    let mac_b = veth.mac_b().unwrap();
    let a_str = pfring_testkit::veth::format_mac(&mac_a);
    veth.ip(&["addr", "add", "10.9.0.2/24", "dev", "xb"])
        .unwrap();
    veth.ip(&["neigh", "add", "10.9.0.1", "lladdr", &a_str, "dev", "xb"])
        .unwrap();
    let mut ring = open_xdp(veth.b());
    ring.set_bpf_filter("udp").unwrap();
    let tx = RawSender::new(veth.a()).unwrap();
    let peer = RawReceiver::new(veth.a()).unwrap();
    // Interleave 100 UDP frames and 5 pings.
    for round in 0..5u16 {
        let udp: Vec<_> = (0..20)
            .map(|i| udp_frame(u64::from(round) * 20 + i, 100))
            .collect();
        tx.send_all(&udp).unwrap();
        tx.send(&icmp_echo(mac_a, mac_b, round)).unwrap();
    }
    // The stack answered every ping (echo replies arrive back on xa).
    let replies: Vec<_> = peer
        .collect(50, Duration::from_millis(500), Duration::from_secs(5))
        .unwrap()
        .into_iter()
        .filter(|r| r.data.len() > 34 && r.data[23] == 1 && r.data[34] == 0)
        .collect();
    assert_eq!(replies.len(), 5, "ICMP echo replies");
    // Exactly the UDP frames were captured, none of the ICMP.
    let got = recv_n(&mut ring, 100, Duration::from_secs(5));
    let seqs: Vec<_> = got
        .iter()
        .map(|p| udp_frame_seq(&p.data).expect("UDP"))
        .collect();
    assert_eq!(seqs, (0..100).collect::<Vec<_>>());
    assert_no_more(&mut ring);
    // Filter removed: ICMP is captured too, and no longer answered.
    ring.remove_bpf_filter().unwrap();
    tx.send(&icmp_echo(mac_a, mac_b, 99)).unwrap();
    let got = recv_n(&mut ring, 1, Duration::from_secs(5));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].data[23], 1, "the ICMP frame");
    let replies = peer
        .collect(1, Duration::from_millis(300), Duration::from_secs(1))
        .unwrap();
    assert!(
        replies.is_empty(),
        "a redirected ping does not reach the stack"
    );
}

#[test]
fn open_errors_are_specific() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = setup(&ns);
    // veth made with one queue: queue 3 does not exist.
    match RingBuilder::new(&format!("xdp:{}@3", veth.b())).open() {
        Err(Error::InvalidDevice { reason, .. }) => {
            assert!(reason.contains("no queue 3"), "{reason}")
        }
        other => panic!("queue 3: {other:?}"),
    }
    match RingBuilder::new(&format!("xdp:{}@0-1", veth.b())).open() {
        Err(Error::InvalidDevice { reason, .. }) => {
            assert!(reason.contains("one queue"), "{reason}")
        }
        other => panic!("two queues: {other:?}"),
    }
    assert!(matches!(
        RingBuilder::new("xdp:nosuchdev0").open(),
        Err(Error::NoSuchDevice { .. })
    ));
    // Clusters are AF_PACKET fanout groups: not on xdp: rings.
    let mut r = open_xdp(veth.b());
    assert!(matches!(
        r.set_cluster(1, pfring::ClusterType::RoundRobin),
        Err(Error::NotSupported { backend: "xdp", .. })
    ));
}

#[test]
fn reopen_right_after_close_binds() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = setup(&ns);
    let tx = RawSender::new(veth.a()).unwrap();
    for round in 0..5u64 {
        let mut ring = open_xdp(veth.b());
        tx.send_all(&[udp_frame(round, 80)]).unwrap();
        let got = recv_n(&mut ring, 1, Duration::from_secs(5));
        assert_eq!(got.len(), 1, "round {round}");
        assert_eq!(udp_frame_seq(&got[0].data), Some(round));
    }
    // The last ring is gone: no program left.
    assert!(!has_xdp_program(&ns, veth.b()));
}

#[test]
fn multichannel_one_ring_per_queue() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::builder("xa", "xb")
        .queues(2)
        .quiet(true)
        .create(&ns)
        .unwrap();
    let mut rings = RingBuilder::new(&format!("xdp:{}", veth.b()))
        .slots(256)
        .open_multichannel()
        .unwrap();
    assert_eq!(rings.len(), 2);
    for (q, r) in rings.iter_mut().enumerate() {
        assert_eq!(r.xdp_info().unwrap().queue, q as u32);
        r.enable().unwrap();
    }
    settle();
    let tx = RawSender::new(veth.a()).unwrap();
    let q0: Vec<_> = (0..30).map(|i| udp_frame(i, 100)).collect();
    let q1: Vec<_> = (100..140).map(|i| udp_frame(i, 100)).collect();
    queues::send_on_queue(&tx, 0, 2, &q0).unwrap();
    queues::send_on_queue(&tx, 1, 2, &q1).unwrap();
    let got0 = recv_n(&mut rings[0], 30, Duration::from_secs(5));
    let got1 = recv_n(&mut rings[1], 40, Duration::from_secs(5));
    let s0: Vec<_> = got0.iter().filter_map(|p| udp_frame_seq(&p.data)).collect();
    let s1: Vec<_> = got1.iter().filter_map(|p| udp_frame_seq(&p.data)).collect();
    assert_eq!(s0, (0..30).collect::<Vec<_>>());
    assert_eq!(s1, (100..140).collect::<Vec<_>>());
    for r in &mut rings {
        assert_no_more(r);
    }
}

/// The child side of `kill_9_leaves_no_program`: opens the ring, says READY, waits.
fn hold_ring_child(dev: &str) {
    let mut ring = open_xdp(dev);
    ring.set_bpf_filter("udp").unwrap();
    println!("READY");
    // Bounded: the parent kills us long before.
    std::thread::sleep(Duration::from_secs(30));
    drop(ring);
}

#[test]
fn kill_9_leaves_no_program() {
    if let Ok(dev) = std::env::var("PFRING_XDP_HOLD_CHILD") {
        hold_ring_child(&dev);
        return;
    }
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = setup(&ns);
    assert!(!has_xdp_program(&ns, veth.b()));
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", "kill_9_leaves_no_program", "--nocapture"])
        .env("PFRING_XDP_HOLD_CHILD", veth.b())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = ns.spawn(&mut cmd).unwrap();
    let pid = child.id();
    let out = child.stdout.take().unwrap();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let ready = BufReader::new(out)
            .lines()
            .map_while(Result::ok)
            .any(|l| l.trim() == "READY");
        let _ = done_tx.send(ready);
    });
    let ready = done_rx
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or(false);
    if !ready {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the child (pid {pid}) never opened its ring");
    }
    assert!(
        has_xdp_program(&ns, veth.b()),
        "attached while the child runs"
    );
    // SIGKILL by the child's own PID (Child::kill sends SIGKILL).
    child.kill().unwrap();
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    while has_xdp_program(&ns, veth.b()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !has_xdp_program(&ns, veth.b()),
        "the XDP program outlived its process"
    );
    // And the queue is free again.
    let mut ring = open_xdp(veth.b());
    let tx = RawSender::new(veth.a()).unwrap();
    tx.send_all(&[udp_frame(7, 60)]).unwrap();
    assert_eq!(recv_n(&mut ring, 1, Duration::from_secs(5)).len(), 1);
}

#[test]
fn generic_xdp_where_the_driver_has_no_native_xdp() {
    require_privileged!();
    // The namespace's loopback device has no native XDP: the program is attached in
    // generic (SKB) mode and the socket works in copy mode.
    let _ns = NetNs::new().unwrap();
    let mut ring = open_xdp("lo");
    let info = ring.xdp_info().unwrap();
    assert!(!info.native, "{info:?}");
    assert!(!info.zero_copy, "{info:?}");
    let tx = RawSender::new("lo").unwrap();
    let frames: Vec<_> = (0..200).map(|i| udp_frame(i, 200)).collect();
    tx.send_all(&frames).unwrap();
    let got = recv_n(&mut ring, 200, Duration::from_secs(5));
    let seqs: Vec<_> = got.iter().filter_map(|p| udp_frame_seq(&p.data)).collect();
    assert_eq!(seqs, (0..200).collect::<Vec<_>>());
    assert_no_more(&mut ring);
}

#[test]
fn forced_modes() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = setup(&ns);
    // Generic mode asked for on veth (which has native XDP).
    let mut ring = RingBuilder::new(&format!("xdp:{}@0", veth.b()))
        .xdp_mode(pfring::XdpMode::Generic)
        .open()
        .unwrap();
    ring.enable().unwrap();
    assert!(!ring.xdp_info().unwrap().native);
    settle();
    RawSender::new(veth.a())
        .unwrap()
        .send_all((0..100).map(|i| udp_frame(i, 300)))
        .unwrap();
    assert_eq!(recv_n(&mut ring, 100, Duration::from_secs(5)).len(), 100);
    assert_no_more(&mut ring);
    // Native mode on loopback, which has none: a specific error, no fallback.
    match RingBuilder::new("xdp:lo@0")
        .xdp_mode(pfring::XdpMode::Native)
        .open()
    {
        Err(Error::XdpUnavailable { device, reason }) => {
            assert_eq!(device, "lo");
            assert!(reason.contains("native"), "{reason}");
        }
        other => panic!("native XDP on lo: {other:?}"),
    }
}

#[test]
fn shared_umem_bridge_forwards_both_ways_in_place() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let ab = VethPair::builder("ba", "bb")
        .quiet(true)
        .create(&ns)
        .unwrap();
    let cd = VethPair::builder("bc", "bd")
        .quiet(true)
        .create(&ns)
        .unwrap();
    let mut bridge = pfring::XdpBridge::open("xdp:bb@0", "xdp:bc@0", 256, true).unwrap();
    assert_eq!(bridge.zero_copy(), (false, false), "veth: copy mode");
    assert!(has_xdp_program(&ns, "bb") && has_xdp_program(&ns, "bc"));
    settle();
    let at_d = RawReceiver::new(cd.b()).unwrap();
    let at_a = RawReceiver::new(ab.a()).unwrap();
    // More frames than the UMEM has (2 x 256): they only all pass if frames come back.
    let forth: Vec<_> = (0..2000)
        .map(|i| udp_frame(i, 60 + (i as usize * 7) % 1400))
        .collect();
    let back: Vec<_> = (9000..9600).map(|i| udp_frame(i, 90)).collect();
    let tx_a = RawSender::new(ab.a()).unwrap();
    let tx_d = RawSender::new(cd.b()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    for (i, chunk) in forth.chunks(100).enumerate() {
        tx_a.send_all(chunk).unwrap();
        if let Some(c) = back.chunks(30).nth(i) {
            tx_d.send_all(c).unwrap();
        }
        // Forward until this chunk has gone through (bounded).
        let want = (i as u64 + 1) * 100
            + back
                .chunks(30)
                .take(i + 1)
                .map(|c| c.len() as u64)
                .sum::<u64>();
        while Instant::now() < deadline {
            bridge.forward(256).unwrap();
            let s = bridge.stats().unwrap();
            if s.a_to_b + s.b_to_a >= want {
                break;
            }
            assert!(bridge.wait(Duration::from_millis(5)).unwrap());
        }
    }
    let got_d = at_d
        .collect(3000, Duration::from_millis(500), Duration::from_secs(10))
        .unwrap();
    let got_a = at_a
        .collect(1000, Duration::from_millis(500), Duration::from_secs(10))
        .unwrap();
    assert_eq!(
        got_d.iter().map(|r| r.data.clone()).collect::<Vec<_>>(),
        forth
    );
    assert_eq!(
        got_a.iter().map(|r| r.data.clone()).collect::<Vec<_>>(),
        back
    );
    let s = bridge.stats().unwrap();
    assert_eq!((s.a_to_b, s.b_to_a, s.dropped), (2000, 600, 0));
    // A break ends a wait at once.
    bridge.break_handle().breakloop();
    let t = Instant::now();
    assert!(!bridge.wait(Duration::from_secs(5)).unwrap());
    assert!(t.elapsed() < Duration::from_secs(1));
    drop(bridge);
    assert!(!has_xdp_program(&ns, "bb") && !has_xdp_program(&ns, "bc"));
}

#[test]
fn bridge_errors_are_specific() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let _v = setup(&ns);
    assert!(matches!(
        pfring::XdpBridge::open("xdp:xb@0", "xdp:xb@0", 64, true),
        Err(Error::InvalidDevice { .. })
    ));
    assert!(matches!(
        pfring::XdpBridge::open("xb", "xdp:xa@0", 64, true),
        Err(Error::InvalidDevice { .. })
    ));
    assert!(matches!(
        pfring::XdpBridge::open("xdp:xb@0", "xdp:xa@4", 64, true),
        Err(Error::InvalidDevice { .. })
    ));
}

#[test]
fn next_packet_time_is_the_stamp_the_next_receive_returns() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = setup(&ns);
    let mut ring = open_xdp(veth.b());
    assert_eq!(ring.next_packet_time(), None);
    let tx = RawSender::new(veth.a()).unwrap();
    let mut last = None;
    for i in 0..10u64 {
        let before = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        tx.send(&udp_frame(i, 60)).unwrap();
        assert!(ring.poll(Duration::from_secs(2)).unwrap(), "frame {i}");
        let peek = ring.next_packet_time().expect("a frame is queued");
        // Peeking again does not restamp.
        assert_eq!(ring.next_packet_time(), Some(peek));
        let h = *ring.recv(false).unwrap().expect("frame").header();
        assert_eq!(h.ts, peek, "frame {i}");
        assert_eq!(h.extended_hdr.timestamp_ns, peek.as_nanos());
        // Stamped when seen here: after it was sent, within a second.
        assert!(peek.as_nanos() >= before && peek.as_nanos() < before + 1_000_000_000);
        if let Some(prev) = last {
            assert!(peek >= prev, "frame {i} went backwards");
        }
        last = Some(peek);
    }
    assert!(matches!(
        ring.enable_hw_timestamp(veth.b(), true, false),
        Err(Error::NotSupported { backend: "xdp", .. })
    ));
}

#[test]
fn rules_run_on_xdp_rings_with_reflection() {
    use pfring::filter::rules::{FilteringRule, RuleAction};
    use pfring_testkit::FrameBuilder;
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = setup(&ns);
    let out = VethPair::builder("xra", "xrb")
        .quiet(true)
        .create(&ns)
        .unwrap();
    let reflected = RawReceiver::new(out.a()).unwrap();
    let mut ring = open_xdp(veth.b());
    ring.set_reflector_device(Some(out.b())).unwrap();
    ring.add_filtering_rule(
        FilteringRule::new(1, RuleAction::ReflectAndStop).dst_ports(7000, 7000),
    )
    .unwrap();
    ring.add_filtering_rule(
        FilteringRule::new(2, RuleAction::DontForwardAndStop).dst_ports(7001, 7001),
    )
    .unwrap();
    let frames: Vec<Vec<u8>> = (0..300u64)
        .map(|i| {
            FrameBuilder::udp()
                .ports(1, 7000 + (i % 3) as u16)
                .build(i, 32)
        })
        .collect();
    let tx = RawSender::new(veth.a()).unwrap();
    tx.send_all(&frames).unwrap();
    // Half through recv_burst, the rest through recv: both paths run the rules.
    let mut seqs = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while seqs.len() < 50 && Instant::now() < deadline {
        let burst = ring.recv_burst(16, false).unwrap();
        for (_, data) in burst.iter() {
            seqs.push(FrameBuilder::udp().seq_of(data).unwrap());
        }
        if burst.is_empty() {
            drop(burst);
            ring.poll(Duration::from_millis(20)).unwrap();
        }
    }
    let rest = recv_n(&mut ring, 100 - seqs.len(), Duration::from_secs(5));
    seqs.extend(
        rest.iter()
            .map(|p| FrameBuilder::udp().seq_of(&p.data).unwrap()),
    );
    assert_no_more(&mut ring);
    assert_eq!(seqs, (0..300u64).filter(|i| i % 3 == 2).collect::<Vec<_>>());
    assert_eq!(ring.reflected_frames(), (100, 0));
    let refl = reflected
        .collect(200, Duration::from_millis(300), Duration::from_secs(3))
        .unwrap();
    let got: Vec<u64> = refl
        .iter()
        .map(|r| FrameBuilder::udp().seq_of(&r.data).unwrap())
        .collect();
    assert_eq!(got, (0..300u64).filter(|i| i % 3 == 0).collect::<Vec<_>>());
}
