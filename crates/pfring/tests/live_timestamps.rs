//! Live timestamp tests: software stamps against the sender's clock, `next_packet_time`, and
//! the hardware-timestamp / device-clock calls on a device that has neither (veth). Each test
//! makes its own namespace and veth pair.

use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pfring::{Error, Flags, Ring, RingBuilder, TimestampSource};
use pfring_testkit::{NetNs, RawSender, VethPair, require_privileged, udp_frame};

fn open_enabled(dev: &str) -> Ring {
    let mut r = RingBuilder::new(dev).open().expect("open");
    r.enable().expect("enable");
    r
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos() as u64
}

#[test]
fn software_stamps_are_monotonic_and_within_1ms_of_the_senders_clock() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "tsa", "tsb").unwrap();
    let mut ring = open_enabled(veth.b());
    let tx = RawSender::new(veth.a()).unwrap();
    const N: u64 = 20;
    // Each frame is sent 10 ms after the previous one; the sender reads its clock just
    // before and just after the send, which delivers through the veth synchronously. The
    // frame is received before the next is sent: with 16 ms block timeouts a reader that
    // leaves sparse traffic unread for long fills the ring's blocks with a frame or two each.
    let mut sent = Vec::new();
    let mut got = Vec::new();
    for i in 0..N {
        thread::sleep(Duration::from_millis(10));
        let before = now_ns();
        tx.send(&udp_frame(i, 60)).unwrap();
        sent.push((before, now_ns()));
        assert!(
            ring.poll(Duration::from_secs(2)).unwrap(),
            "frame {i} not seen"
        );
        let peek = ring.next_packet_time();
        let raw = ring.next_packet_raw_timestamp();
        let h = *ring
            .recv(false)
            .unwrap()
            .expect("a frame after poll")
            .header();
        // What the peek said is what the receive returns.
        assert_eq!(peek, Some(h.ts));
        assert_eq!(raw, Some(h.ts.as_nanos()));
        assert_eq!(h.extended_hdr.timestamp_ns, h.ts.as_nanos());
        assert_eq!(h.extended_hdr.ts_source, TimestampSource::Software);
        got.push(h.ts.as_nanos());
    }
    assert_eq!(got.len() as u64, N);
    for (i, (ts, (before, after))) in got.iter().zip(&sent).enumerate() {
        assert!(
            *ts + 1_000_000 >= *before && *ts <= *after + 1_000_000,
            "frame {i}: stamped {ts}, sent between {before} and {after}"
        );
        if i > 0 {
            assert!(*ts > got[i - 1], "frame {i} went backwards");
            // The 10 ms pace shows in the stamps (sleep only ever oversleeps).
            assert!(
                *ts - got[i - 1] >= 9_000_000,
                "frame {i}: gap {}",
                ts - got[i - 1]
            );
        }
    }
}

fn assert_no_hardware(r: Result<(), Error>, dev: &str, feature: &str) {
    match r {
        Err(e @ Error::HardwareNotSupported { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains(dev), "{msg}");
            assert!(msg.contains(feature), "{msg}");
            assert!(msg.contains(&format!("ethtool -T {dev}")), "{msg}");
            assert_eq!(e.pfring_code(), -7);
        }
        other => panic!("expected HardwareNotSupported for {feature}, got {other:?}"),
    }
}

#[test]
fn hardware_calls_on_veth_name_the_device_and_what_it_lacks() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "hwa", "hwb").unwrap();
    let dev = veth.b();
    let mut ring = RingBuilder::new(dev).open().unwrap();
    assert_no_hardware(
        ring.enable_hw_timestamp(dev, true, false),
        dev,
        "hardware RX timestamping",
    );
    assert_no_hardware(
        ring.enable_hw_timestamp(dev, false, true),
        dev,
        "hardware TX timestamping",
    );
    assert_no_hardware(
        ring.get_device_clock().map(|_| ()),
        dev,
        "PTP hardware clock",
    );
    assert_no_hardware(
        ring.set_device_clock(pfring::Timestamp { sec: 1, nsec: 0 }),
        dev,
        "PTP hardware clock",
    );
    assert_no_hardware(
        ring.adjust_device_clock(Duration::from_micros(5), -1),
        dev,
        "PTP hardware clock",
    );
    // Asking for hardware stamps at open fails rather than silently using software ones,
    // through the builder and through PF_RING's flag alike.
    assert_no_hardware(
        RingBuilder::new(dev).hw_timestamp(true).open().map(|_| ()),
        dev,
        "hardware RX timestamping",
    );
    assert_no_hardware(
        Ring::open(dev, 128, Flags::HW_TIMESTAMP).map(|_| ()),
        dev,
        "hardware RX timestamping",
    );
    // The ring that refused still captures, with software stamps.
    ring.enable().unwrap();
    RawSender::new(veth.a())
        .unwrap()
        .send(&udp_frame(1, 60))
        .unwrap();
    assert!(ring.poll(Duration::from_secs(2)).unwrap());
    let p = ring.recv(false).unwrap().unwrap();
    assert_eq!(p.header().extended_hdr.ts_source, TimestampSource::Software);
    drop(p);
    // Unknown devices are named as such.
    assert!(matches!(
        ring.enable_hw_timestamp("nosuchdev0", true, false),
        Err(Error::NoSuchDevice { .. })
    ));
}

#[test]
fn device_clocks_need_a_single_device() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "mca", "mcb").unwrap();
    let multi = RingBuilder::new(&format!("{},{}", veth.a(), veth.b()))
        .open()
        .unwrap();
    assert!(matches!(
        multi.get_device_clock(),
        Err(Error::NotSupported {
            backend: "multi",
            ..
        })
    ));
    let any = RingBuilder::new("any").open().unwrap();
    assert!(matches!(
        any.get_device_clock(),
        Err(Error::NotSupported { .. })
    ));
}
