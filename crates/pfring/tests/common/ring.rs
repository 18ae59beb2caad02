//! Receive helpers shared by the live ring tests (included with `#[path]` by live.rs and
//! live_multi.rs).

use std::thread;
use std::time::{Duration, Instant};

use pfring::{OwnedPacket, Ring, RingBuilder};
use pfring_testkit::udp_frame_seq;

/// Opens and enables a ring on `dev` with default settings.
pub fn open_enabled(dev: &str) -> Ring {
    let mut r = RingBuilder::new(dev).open().expect("open");
    r.enable().expect("enable");
    r
}

/// Receives (one at a time) until `n` packets arrived or `timeout` passed.
pub fn recv_n(ring: &mut Ring, n: usize, timeout: Duration) -> Vec<OwnedPacket> {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    while out.len() < n && Instant::now() < deadline {
        let got = ring.recv(false).expect("recv").map(|p| p.to_owned_packet());
        match got {
            Some(p) => out.push(p),
            None => {
                ring.poll(Duration::from_millis(20)).expect("poll");
            }
        }
    }
    out
}

/// Asserts nothing more arrives within 150 ms.
pub fn assert_no_more(ring: &mut Ring) {
    thread::sleep(Duration::from_millis(150));
    let extra = recv_n(ring, 1, Duration::from_millis(50));
    assert!(
        extra.is_empty(),
        "unexpected extra packet: {:?} seq {:?}",
        extra[0].header,
        udp_frame_seq(&extra[0].data)
    );
}
