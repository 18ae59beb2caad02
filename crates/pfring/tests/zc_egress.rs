//! Live: a `pfring-zc` slave sends buffers by ifindex to two egress veths that the master
//! added (`add_egress`), one ifindex, the other, or both at once (`add_ifindex`); each
//! peer end receives exactly what was addressed to it.

use std::time::{Duration, Instant};

use pfring::{Error, Ring, RingBuilder, SocketMode};
use pfring_testkit::{NetNs, RawReceiver, VethPair, require_privileged, udp_frame, udp_frame_seq};
use pfring_zc::{Cluster, ClusterConfig, PacketSink, PacketSource};

/// A send-only ring as an egress sink (bounded wait when its TX ring is full).
struct RingSink(Ring);
impl PacketSink for RingSink {
    fn send(&mut self, frame: &[u8]) -> pfring_zc::Result<()> {
        for _ in 0..100 {
            match self.0.send(frame, true) {
                Ok(()) => return Ok(()),
                Err(Error::NoTxSlotAvailable) => std::thread::sleep(Duration::from_millis(1)),
                Err(e) => return Err(pfring_zc::Error::PacketIo(Box::new(e))),
            }
        }
        Err(pfring_zc::Error::PacketIo(Box::new(
            Error::NoTxSlotAvailable,
        )))
    }
}

struct Nothing;
impl PacketSource for Nothing {
    fn recv_burst(&mut self, _: usize, _: &mut dyn FnMut(&[u8], u64)) -> pfring_zc::Result<usize> {
        Ok(0)
    }
}

fn egress_ring(dev: &str) -> Ring {
    let mut r = RingBuilder::new(dev)
        .caplen(128)
        .socket_mode(SocketMode::SendOnly)
        .open()
        .unwrap();
    r.enable().unwrap();
    r
}

/// The sequence numbers received, in order (duplicates kept).
fn seqs(r: &RawReceiver, max: usize) -> Vec<u64> {
    r.collect(
        max + 10,
        Duration::from_millis(500),
        Duration::from_secs(10),
    )
    .unwrap()
    .iter()
    .filter_map(|p| udp_frame_seq(&p.data))
    .collect()
}

#[test]
fn slave_sends_to_two_egress_veths_by_ifindex() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let v1 = VethPair::new(&ns, "zea", "zeb").unwrap();
    let v2 = VethPair::new(&ns, "zfa", "zfb").unwrap();
    let (if1, if2) = (v1.ifindex_a().unwrap(), v2.ifindex_a().unwrap());
    let rx1 = RawReceiver::new(v1.b()).unwrap();
    let rx2 = RawReceiver::new(v2.b()).unwrap();
    let cfg = ClusterConfig {
        queue_len: 256,
        num_buffers: Some(1024),
        huge_pages: false,
        ..Default::default()
    };
    let mut c = Cluster::in_process(4_000_000 + std::process::id() % 100_000, 1, cfg).unwrap();
    c.add_egress(if1, Box::new(RingSink(egress_ring(v1.a()))))
        .unwrap();
    c.add_egress(if2, Box::new(RingSink(egress_ring(v2.a()))))
        .unwrap();
    c.enable();
    let mut s = c.slave(0).unwrap();
    c.poll(&mut Nothing, None).unwrap();
    // 300 frames: 0..100 to egress 1, 100..200 to egress 2, 200..300 to both.
    let deadline = Instant::now() + Duration::from_secs(20);
    for seq in 0..300u64 {
        let mut b = loop {
            match s.alloc() {
                Ok(b) => break b,
                Err(pfring_zc::Error::NoBuffers) if Instant::now() < deadline => {
                    c.poll(&mut Nothing, None).unwrap();
                }
                Err(e) => panic!("alloc: {e}"),
            }
        };
        let f = udp_frame(seq, 60);
        s.data_mut(&mut b)[..f.len()].copy_from_slice(&f);
        s.set_len(&mut b, f.len()).unwrap();
        match seq / 100 {
            0 => s.set_ifindex(&mut b, if1).unwrap(),
            1 => s.set_ifindex(&mut b, if2).unwrap(),
            _ => {
                s.set_ifindex(&mut b, if1).unwrap();
                s.add_ifindex(&mut b, if2).unwrap();
            }
        }
        s.send(b).unwrap();
        if seq % 32 == 31 {
            c.poll(&mut Nothing, None).unwrap();
        }
    }
    c.poll(&mut Nothing, None).unwrap();
    let st = c.stats();
    assert_eq!((st.tx, st.tx_drops), (400, 0));
    // Exactly 200 frames on each, in send order, no duplicates.
    let want1: Vec<u64> = (0..100).chain(200..300).collect();
    let want2: Vec<u64> = (100..300).collect();
    assert_eq!(seqs(&rx1, 200), want1);
    assert_eq!(seqs(&rx2, 200), want2);
    // Exact counts: nothing more arrives.
    assert!(rx1.recv(Duration::from_millis(200)).unwrap().is_none());
    assert!(rx2.recv(Duration::from_millis(200)).unwrap().is_none());
}
