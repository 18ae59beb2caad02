//! Live transmit tests: frames sent through a ring arrive, exactly and byte for byte, at the
//! far end of a veth pair in a namespace the test made.

use std::time::{Duration, Instant};

use pfring::{Error, Ring, RingBuilder, SocketMode, TxMode};
use pfring_testkit::{NetNs, RawReceiver, RawSender, VethPair, require_privileged, udp_frame};

fn collect(rx: &RawReceiver, n: usize) -> Vec<Vec<u8>> {
    rx.collect(n, Duration::from_millis(300), Duration::from_secs(10))
        .expect("receive")
        .into_iter()
        .map(|r| r.data)
        .collect()
}

/// Both ways frames reach the kernel (on veth, `Auto` is `Batch`).
const MODES: [TxMode; 2] = [TxMode::Ring, TxMode::Batch];

fn enabled(dev: &str, bypass: bool, mode: TxMode) -> Ring {
    let mut r = RingBuilder::new(dev)
        .qdisc_bypass(bypass)
        .tx_mode(mode)
        .open()
        .unwrap();
    r.enable().unwrap();
    r
}

#[test]
fn batched_and_flushed_sends_arrive_exactly() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "txa", "txb").unwrap();
    for (bypass, mode) in [false, true]
        .into_iter()
        .flat_map(|b| MODES.map(|m| (b, m)))
    {
        let rx = RawReceiver::new(veth.b()).unwrap();
        let mut ring = enabled(veth.a(), bypass, mode);
        let frames: Vec<Vec<u8>> = (0..3000u64)
            .map(|i| udp_frame(i, 60 + (i as usize * 31) % 1455))
            .collect();
        // Batched (watermark 64 by default), then an explicit flush for the tail.
        for f in &frames[..2000] {
            ring.send(f, false).unwrap();
        }
        ring.flush_tx_packets().unwrap();
        // One by one with flush.
        for f in &frames[2000..] {
            ring.send(f, true).unwrap();
        }
        let got = collect(&rx, 3000);
        assert_eq!(got.len(), 3000, "bypass={bypass} {mode:?}");
        assert_eq!(got, frames, "bypass={bypass} {mode:?}: bytes and order");
        assert!(collect(&rx, 1).is_empty(), "nothing extra");
        assert_eq!(ring.tx_stats().0, 3000);
    }
}

#[test]
fn a_full_tx_ring_is_drained_not_dropped() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "txa", "txb").unwrap();
    for mode in MODES {
        let rx = RawReceiver::new(veth.b()).unwrap();
        let mut ring = enabled(veth.a(), false, mode);
        ring.set_tx_watermark(u16::MAX).unwrap();
        // More frames than TX slots, never flushed explicitly: send() kicks when full.
        let mut sent = 0u64;
        let deadline = Instant::now() + Duration::from_secs(20);
        while sent < 5000 && Instant::now() < deadline {
            match ring.send(&udp_frame(sent, 60), false) {
                Ok(()) => sent += 1,
                Err(Error::NoTxSlotAvailable) => {
                    ring.wait_tx_slot(Duration::from_millis(50)).unwrap();
                }
                Err(e) => panic!("{mode:?} send: {e}"),
            }
        }
        ring.flush_tx_packets().unwrap();
        assert_eq!(sent, 5000);
        let got = collect(&rx, 5000);
        assert_eq!(got.len(), 5000, "{mode:?}");
        assert!(
            got.iter()
                .enumerate()
                .all(|(i, f)| *f == udp_frame(i as u64, 60)),
            "{mode:?}: order"
        );
        assert_eq!(ring.tx_stats(), (5000, 0), "{mode:?}");
    }
}

#[test]
fn send_burst_sends_in_order_after_queued_frames_and_stops_at_a_bad_frame() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "txa", "txb").unwrap();
    for mode in MODES {
        let rx = RawReceiver::new(veth.b()).unwrap();
        let mut ring = enabled(veth.a(), true, mode);
        let frames: Vec<Vec<u8>> = (0..1200u64)
            .map(|i| udp_frame(i, 60 + (i as usize * 13) % 1455))
            .collect();
        // Two frames queued by send() go first.
        ring.send(&frames[0], false).unwrap();
        ring.send(&frames[1], false).unwrap();
        let mut next = 2;
        let deadline = Instant::now() + Duration::from_secs(20);
        while next < frames.len() && Instant::now() < deadline {
            let end = (next + 256).min(frames.len());
            match ring.send_burst(&frames[next..end]) {
                Ok(n) => {
                    assert!(n > 0 && n <= end - next, "{mode:?}: {n}");
                    next += n;
                }
                Err(Error::NoTxSlotAvailable) => {
                    ring.wait_tx_slot(Duration::from_millis(50)).unwrap();
                }
                Err(e) => panic!("{mode:?} send_burst: {e}"),
            }
        }
        assert_eq!(collect(&rx, 1200), frames, "{mode:?}: bytes and order");
        assert_eq!(ring.tx_stats(), (1200, 0), "{mode:?}");
        // A frame over the MTU ends the burst before it; the next call reports it.
        let bad = [udp_frame(5000, 100), vec![0u8; 1515], udp_frame(5001, 100)];
        assert_eq!(ring.send_burst(&bad).unwrap(), 1, "{mode:?}");
        assert!(
            matches!(
                ring.send_burst(&bad[1..]),
                Err(Error::FrameTooLarge { len: 1515, .. })
            ),
            "{mode:?}"
        );
        assert_eq!(ring.send_burst(&bad[2..]).unwrap(), 1, "{mode:?}");
        assert_eq!(ring.send_burst::<Vec<u8>>(&[]).unwrap(), 0, "{mode:?}");
        assert_eq!(
            collect(&rx, 3),
            vec![bad[0].clone(), bad[2].clone()],
            "{mode:?}"
        );
    }
}

#[test]
fn send_errors_are_specific() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "txa", "txb").unwrap();
    for mode in MODES {
        send_errors_are_specific_in(&veth, mode);
    }
}

fn send_errors_are_specific_in(veth: &VethPair, mode: TxMode) {
    let mut ring = RingBuilder::new(veth.a()).tx_mode(mode).open().unwrap();
    assert!(matches!(
        ring.send(&udp_frame(0, 60), true),
        Err(Error::RingNotEnabled)
    ));
    ring.enable().unwrap();
    let rx = RawReceiver::new(veth.b()).unwrap();
    // MTU 1500: 1514 bytes untagged, 1518 with a VLAN tag, is the most a frame can be.
    let tagged = |len: usize| {
        let mut f = vec![0u8; len];
        f[12..14].copy_from_slice(&[0x81, 0x00]);
        f
    };
    ring.send(&vec![0u8; 1514], true).unwrap();
    ring.send(&tagged(1518), true).unwrap();
    match ring.send(&vec![0u8; 1515], true) {
        Err(Error::FrameTooLarge {
            len: 1515,
            max: 1514,
        }) => {}
        other => panic!("expected FrameTooLarge, got {other:?}"),
    }
    match ring.send(&tagged(1519), true) {
        Err(Error::FrameTooLarge {
            len: 1519,
            max: 1518,
        }) => {}
        other => panic!("expected FrameTooLarge, got {other:?}"),
    }
    assert!(matches!(
        ring.send(&[0u8; 10], true),
        Err(Error::FrameTooShort { len: 10 })
    ));
    assert_eq!(collect(&rx, 3).len(), 2, "only the valid frames went out");
    // A transmit timestamp: veth's driver stamps frames as it takes them (skb_tx_timestamp).
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
    };
    let before = now();
    let ts = ring.send_get_time(&udp_frame(77, 60)).unwrap();
    let after = now();
    assert!(
        ts.as_nanos() >= before && ts.as_nanos() <= after,
        "{before} <= {} <= {after}",
        ts.as_nanos()
    );
    assert_eq!(
        collect(&rx, 1),
        vec![udp_frame(77, 60)],
        "the stamped frame went out"
    );

    let mut ro = RingBuilder::new(veth.a())
        .socket_mode(SocketMode::RecvOnly)
        .open()
        .unwrap();
    ro.enable().unwrap();
    assert!(matches!(
        ro.send(&udp_frame(0, 60), true),
        Err(Error::WrongSocketMode { .. })
    ));
    let mut any = RingBuilder::new("any").open().unwrap();
    any.enable().unwrap();
    assert!(matches!(
        any.send(&udp_frame(0, 60), true),
        Err(Error::NotSupported { .. })
    ));
    assert!(matches!(
        any.send_get_time(&udp_frame(0, 60)),
        Err(Error::NotSupported { .. })
    ));
}

#[test]
fn send_ifindex_and_forward_the_last_received_packet() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let ab = VethPair::new(&ns, "txa", "txb").unwrap();
    let cd = VethPair::new(&ns, "txc", "txd").unwrap();
    let out = RawReceiver::new(cd.b()).unwrap();
    let mut bridge = enabled(ab.b(), false, TxMode::Auto);
    let c_index = cd.ifindex_a().unwrap() as i32;
    // send_ifindex: straight out of txc, so it arrives on txd.
    bridge.send_ifindex(&udp_frame(7, 90), c_index).unwrap();
    assert_eq!(collect(&out, 1), vec![udp_frame(7, 90)]);
    assert!(matches!(
        bridge.send_last_rx_packet(c_index),
        Err(Error::InvalidArgument(_))
    ));
    // A bridge: everything received on txb is forwarded out of txc.
    let frames: Vec<_> = (0..500)
        .map(|i| udp_frame(i, 64 + (i as usize % 700)))
        .collect();
    RawSender::new(ab.a()).unwrap().send_all(&frames).unwrap();
    let mut forwarded = 0;
    let deadline = Instant::now() + Duration::from_secs(10);
    while forwarded < 500 && Instant::now() < deadline {
        let got = bridge.recv(false).unwrap().is_some();
        if got {
            bridge.send_last_rx_packet(c_index).unwrap();
            forwarded += 1;
        } else {
            bridge.poll(Duration::from_millis(20)).unwrap();
        }
    }
    assert_eq!(forwarded, 500);
    assert_eq!(collect(&out, 500), frames);
}

#[test]
fn a_send_only_ring_has_no_rx_ring_and_sends_exactly() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "txa", "txb").unwrap();
    let far = RawReceiver::new(veth.b()).unwrap();
    let mut ring = RingBuilder::new(veth.a())
        .socket_mode(SocketMode::SendOnly)
        .open()
        .unwrap();
    ring.enable().unwrap();
    // No kernel RX ring behind it (a receiving ring has megabytes).
    assert!(ring.ring_memory() <= 4096, "{}", ring.ring_memory());
    let frames: Vec<_> = (0..1000u64)
        .map(|i| udp_frame(i, 60 + (i as usize * 7) % 1400))
        .collect();
    for f in &frames {
        ring.send(f, false).unwrap();
    }
    ring.flush_tx_packets().unwrap();
    assert_eq!(collect(&far, 1000), frames);
    assert!(collect(&far, 1).is_empty(), "nothing extra");
    assert_eq!(ring.tx_stats().0, 1000);
    // Frames arriving on its device are not taken in, and receiving is refused.
    RawSender::new(veth.b())
        .unwrap()
        .send_all((0..50u64).map(|i| udp_frame(i, 80)))
        .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(ring.stats().unwrap().recv, 0);
    assert!(matches!(
        ring.recv(false),
        Err(Error::WrongSocketMode { .. })
    ));
    // send_ifindex still sends exactly one frame (not the TX ring's).
    let idx = veth.ifindex_a().unwrap() as i32;
    ring.send_ifindex(&udp_frame(9, 70), idx).unwrap();
    assert_eq!(collect(&far, 1), vec![udp_frame(9, 70)]);
    // Made send-only after opening (the C API's way): it sends the same.
    let mut late = RingBuilder::new(veth.a()).open().unwrap();
    late.set_socket_mode(SocketMode::SendOnly).unwrap();
    late.enable().unwrap();
    let more: Vec<_> = (0..20u64).map(|i| udp_frame(100 + i, 90)).collect();
    assert_eq!(late.send_burst(&more).unwrap(), 20);
    assert_eq!(collect(&far, 20), more);
    assert!(matches!(
        late.recv(false),
        Err(Error::WrongSocketMode { .. })
    ));
}

#[test]
fn a_ring_opened_send_only_receives_when_switched_before_enable() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "txa", "txb").unwrap();
    let mut ring = RingBuilder::new(veth.a())
        .socket_mode(SocketMode::SendOnly)
        .open()
        .unwrap();
    ring.set_socket_mode(SocketMode::SendAndRecv).unwrap();
    ring.enable().unwrap();
    assert!(ring.ring_memory() > 1 << 20, "{}", ring.ring_memory());
    let frames: Vec<_> = (0..200u64).map(|i| udp_frame(i, 100)).collect();
    RawSender::new(veth.b()).unwrap().send_all(&frames).unwrap();
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while got.len() < 200 && Instant::now() < deadline {
        let frame = ring.recv(false).unwrap().map(|p| p.data().to_vec());
        match frame {
            Some(f) => got.push(f),
            None => {
                ring.poll(Duration::from_millis(20)).unwrap();
            }
        }
    }
    assert_eq!(got, frames);
}

#[test]
fn a_device_going_down_is_a_clear_error_and_queued_frames_wait_for_it() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "txa", "txb").unwrap();
    for mode in MODES {
        let rx = RawReceiver::new(veth.b()).unwrap();
        let mut ring = enabled(veth.a(), true, mode);
        ring.send(&udp_frame(1, 80), true).unwrap();
        assert_eq!(collect(&rx, 1), vec![udp_frame(1, 80)], "{mode:?}");
        veth.set_a_up(false).unwrap();
        // The system call's error, with its errno (ENETDOWN), names the call.
        match ring.send(&udp_frame(2, 80), true) {
            Err(Error::Syscall(e)) => {
                assert_eq!(
                    e.source.raw_os_error(),
                    Some(libc::ENETDOWN),
                    "{mode:?}: {e}"
                )
            }
            other => panic!("{mode:?}: expected ENETDOWN, got {other:?}"),
        }
        // The frame is kept, not dropped, and goes once the device is up again.
        assert_eq!(ring.tx_stats(), (2, 1), "{mode:?}");
        veth.set_a_up(true).unwrap();
        ring.flush_tx_packets().unwrap();
        assert_eq!(ring.tx_stats(), (2, 0), "{mode:?}");
        assert_eq!(collect(&rx, 2), vec![udp_frame(2, 80)], "{mode:?}");
    }
}
