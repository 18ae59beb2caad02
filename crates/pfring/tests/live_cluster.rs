//! Live cluster tests (`Ring::set_cluster` on `PACKET_FANOUT`): a veth pair in a fresh
//! network namespace, several rings in one cluster on the receiving end, real frames sent
//! across. They need root; without it they print a skip reason.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use std::thread;
use std::time::{Duration, Instant};

use pfring::{ClusterHash, ClusterType, Error, ParsedPacket, Ring, RingBuilder, parse_packet};
use pfring_testkit::{FrameBuilder, NetNs, RawSender, VethPair, require_privileged};

/// The sequence number of a frame built by [`flow_frame`] (UDP or TCP over IPv4).
fn seq_of(frame: &[u8]) -> u64 {
    let l4 = if frame[23] == 6 { 20 } else { 8 };
    let at = 14 + 20 + l4;
    u64::from_be_bytes(frame[at..at + 8].try_into().expect("8 bytes"))
}

/// Frame `dir` (0 = request, 1 = reply) of flow `i`: the reply swaps MACs, IPs and ports.
fn flow_frame(i: u32, dir: u32) -> Vec<u8> {
    let b = if i.is_multiple_of(3) {
        FrameBuilder::tcp()
    } else {
        FrameBuilder::udp()
    };
    let mut x = i.wrapping_mul(0x9E37_79B1).rotate_left(7) ^ 0x5bd1_e995;
    x ^= x >> 15;
    let src = Ipv4Addr::from(0x0A00_0000 | (x & 0x00ff_ffff));
    let dst = Ipv4Addr::from(0xC0A8_0000 | (i & 0xffff));
    let sport = 1024 + (x >> 8) as u16 % 60000;
    let dport = [80u16, 443, 53, 8080][(i % 4) as usize];
    let (m1, m2) = ([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
    let b = if dir == 0 {
        b.macs(m1, m2).ips(src, dst).ports(sport, dport)
    } else {
        b.macs(m2, m1).ips(dst, src).ports(dport, sport)
    };
    b.build_len(u64::from(2 * i + dir), 100)
}

/// Opens `n` rings on `dev` in cluster `id`; the first half joins before `enable`, the
/// others after.
fn cluster_rings(dev: &str, n: usize, id: u16, ty: ClusterType) -> Vec<Ring> {
    (0..n)
        .map(|k| {
            let mut r = RingBuilder::new(dev).open().expect("open");
            if k < n / 2 {
                r.set_cluster(id, ty).expect("set_cluster before enable");
                r.enable().expect("enable");
            } else {
                r.enable().expect("enable");
                r.set_cluster(id, ty).expect("set_cluster after enable");
            }
            assert_eq!(r.cluster(), Some((id, ty)));
            r
        })
        .collect()
}

/// Receives from every ring until `n` frames arrived in total or `timeout` passed, then
/// waits a little for extra (duplicate) frames. Returns the sequence numbers per ring.
fn collect(rings: &mut [Ring], n: usize, timeout: Duration) -> Vec<Vec<u64>> {
    let mut got = vec![Vec::new(); rings.len()];
    let deadline = Instant::now() + timeout;
    let mut settle: Option<Instant> = None;
    loop {
        let mut any = false;
        for (k, r) in rings.iter_mut().enumerate() {
            while let Some(p) = r.recv(false).expect("recv") {
                got[k].push(seq_of(p.data()));
                any = true;
            }
        }
        let total: usize = got.iter().map(Vec::len).sum();
        if total >= n && settle.is_none() {
            settle = Some(Instant::now() + Duration::from_millis(200));
        }
        if settle.is_some_and(|s| Instant::now() >= s) || Instant::now() >= deadline {
            return got;
        }
        if !any {
            thread::sleep(Duration::from_millis(5));
        }
    }
}

#[test]
fn five_tuple_cluster_keeps_flows_together_and_balances() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "cla", "clb").expect("veth pair");
    let mut rings = cluster_rings(veth.b(), 4, 1234, ClusterType::PerFlow5Tuple);
    let tx = RawSender::new(veth.a()).unwrap();
    const FLOWS: u32 = 1000;
    for i in 0..FLOWS {
        tx.send(&flow_frame(i, 0)).unwrap();
    }
    for i in 0..FLOWS {
        tx.send(&flow_frame(i, 1)).unwrap();
    }
    let sent = 2 * FLOWS as usize;
    let got = collect(&mut rings, sent, Duration::from_secs(10));
    let counts: Vec<usize> = got.iter().map(Vec::len).collect();
    let total: usize = counts.iter().sum();
    assert_eq!(total, sent, "per member {counts:?}");
    let mut seen = HashSet::new();
    let mut member_of_flow: HashMap<u64, usize> = HashMap::new();
    for (k, seqs) in got.iter().enumerate() {
        for &s in seqs {
            assert!(seen.insert(s), "frame {s} received twice");
            let prev = member_of_flow.insert(s / 2, k);
            assert!(
                prev.is_none_or(|p| p == k),
                "flow {} split over members {prev:?} and {k}",
                s / 2
            );
        }
    }
    assert_eq!(member_of_flow.len(), FLOWS as usize);
    // The members joined in ring order, so the kernel's choice is PF_RING's hash % 4.
    for (flow, &k) in &member_of_flow {
        let mut p = ParsedPacket::default();
        parse_packet(&flow_frame(*flow as u32, 0), 4, &mut p);
        let ClusterHash::Single(h) = p.cluster_hash(ClusterType::PerFlow5Tuple) else {
            panic!("a hash type");
        };
        assert_eq!(h as usize % 4, k, "flow {flow}");
    }
    let mean = sent as f64 / 4.0;
    let max = *counts.iter().max().unwrap() as f64;
    assert!(max <= 1.3 * mean, "unbalanced: {counts:?}");
}

#[test]
fn round_robin_cluster_is_exact() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "rra", "rrb").expect("veth pair");
    let mut rings = cluster_rings(veth.b(), 4, 99, ClusterType::RoundRobin);
    let tx = RawSender::new(veth.a()).unwrap();
    const N: usize = 250;
    for i in 0..4 * N as u32 {
        tx.send(&flow_frame(i % 7, i % 2)).unwrap();
    }
    let got = collect(&mut rings, 4 * N, Duration::from_secs(10));
    let counts: Vec<usize> = got.iter().map(Vec::len).collect();
    assert_eq!(counts, vec![N; 4]);
}

#[test]
fn removed_member_captures_everything_again() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "rma", "rmb").expect("veth pair");
    let mut rings = cluster_rings(veth.b(), 2, 5, ClusterType::PerFlow2Tuple);
    rings[1].remove_from_cluster().expect("remove_from_cluster");
    assert_eq!(rings[1].cluster(), None);
    rings[1]
        .remove_from_cluster()
        .expect("removing twice is a no-op");
    let tx = RawSender::new(veth.a()).unwrap();
    for i in 0..100 {
        tx.send(&flow_frame(i, 0)).unwrap();
    }
    let got = collect(&mut rings, 200, Duration::from_secs(10));
    let counts: Vec<usize> = got.iter().map(Vec::len).collect();
    assert_eq!(counts, vec![100, 100], "the cluster has one member left");
    // And it can join again.
    rings[1].set_cluster(5, ClusterType::PerFlow2Tuple).unwrap();
    for i in 0..100 {
        tx.send(&flow_frame(i, 0)).unwrap();
    }
    let got = collect(&mut rings, 100, Duration::from_secs(10));
    let total: usize = got.iter().map(Vec::len).sum();
    assert_eq!(
        total,
        100,
        "{:?}",
        got.iter().map(Vec::len).collect::<Vec<_>>()
    );
}

#[test]
fn cluster_errors() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "cea", "ceb").expect("veth pair");
    let mut a = RingBuilder::new(veth.b()).open().unwrap();
    a.enable().unwrap();
    assert!(matches!(
        a.set_cluster(1, ClusterType::PerFlowIpWithDupTuple),
        Err(Error::NotSupported { .. })
    ));
    assert!(matches!(
        a.set_cluster(1, ClusterType::PerInnerFlow5Tuple),
        Err(Error::NotSupported { .. })
    ));
    assert_eq!(a.cluster(), None);
    a.set_cluster(1, ClusterType::RoundRobin).unwrap();
    assert!(matches!(
        a.set_cluster(2, ClusterType::RoundRobin),
        Err(Error::InvalidArgument(_))
    ));
    let mut b = RingBuilder::new(veth.b()).open().unwrap();
    b.enable().unwrap();
    assert!(
        matches!(
            b.set_cluster(1, ClusterType::PerFlow5Tuple),
            Err(Error::InvalidArgument(_))
        ),
        "round robin and hash clusters cannot share an id"
    );
    assert_eq!(b.cluster(), None);
}

#[test]
fn an_idle_member_gets_empty_non_blocking_bursts() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "iba", "ibb").expect("veth pair");
    let mut rings = cluster_rings(veth.b(), 2, 3, ClusterType::PerFlow5Tuple);
    for r in &mut rings {
        let burst = r.recv_burst(64, false).expect("recv_burst");
        assert_eq!(burst.len(), 0);
    }
}
