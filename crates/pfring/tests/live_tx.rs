//! Live transmit tests: frames sent through a ring arrive, exactly and byte for byte, at the
//! far end of a veth pair in a namespace the test made.

use std::time::{Duration, Instant};

use pfring::{Error, Ring, RingBuilder, SocketMode};
use pfring_testkit::{NetNs, RawReceiver, RawSender, VethPair, require_privileged, udp_frame};

fn collect(rx: &RawReceiver, n: usize) -> Vec<Vec<u8>> {
    rx.collect(n, Duration::from_millis(300), Duration::from_secs(10))
        .expect("receive")
        .into_iter()
        .map(|r| r.data)
        .collect()
}

fn enabled(dev: &str, bypass: bool) -> Ring {
    let mut r = RingBuilder::new(dev).qdisc_bypass(bypass).open().unwrap();
    r.enable().unwrap();
    r
}

#[test]
fn batched_and_flushed_sends_arrive_exactly() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "txa", "txb").unwrap();
    for bypass in [false, true] {
        let rx = RawReceiver::new(veth.b()).unwrap();
        let mut ring = enabled(veth.a(), bypass);
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
        assert_eq!(got.len(), 3000, "bypass={bypass}");
        assert_eq!(got, frames, "bypass={bypass}: bytes and order");
        assert!(collect(&rx, 1).is_empty(), "nothing extra");
        assert_eq!(ring.tx_stats().0, 3000);
    }
}

#[test]
fn a_full_tx_ring_is_drained_not_dropped() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "txa", "txb").unwrap();
    let rx = RawReceiver::new(veth.b()).unwrap();
    let mut ring = enabled(veth.a(), false);
    ring.set_tx_watermark(u16::MAX).unwrap();
    // More frames than TX slots, never flushed explicitly: send() kicks the ring when full.
    let mut sent = 0u64;
    let deadline = Instant::now() + Duration::from_secs(20);
    while sent < 5000 && Instant::now() < deadline {
        match ring.send(&udp_frame(sent, 60), false) {
            Ok(()) => sent += 1,
            Err(Error::NoTxSlotAvailable) => {
                ring.wait_tx_slot(Duration::from_millis(50)).unwrap();
            }
            Err(e) => panic!("send: {e}"),
        }
    }
    ring.flush_tx_packets().unwrap();
    assert_eq!(sent, 5000);
    let got = collect(&rx, 5000);
    assert_eq!(got.len(), 5000);
    assert!(
        got.iter()
            .enumerate()
            .all(|(i, f)| *f == udp_frame(i as u64, 60))
    );
}

#[test]
fn send_errors_are_specific() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "txa", "txb").unwrap();
    let mut ring = RingBuilder::new(veth.a()).open().unwrap();
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
    let mut bridge = enabled(ab.b(), false);
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
