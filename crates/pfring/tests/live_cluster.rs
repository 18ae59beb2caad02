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
    collect_by(rings, n, timeout, seq_of)
}

/// As [`collect`], with `seq` reading each frame's sequence number.
fn collect_by(
    rings: &mut [Ring],
    n: usize,
    timeout: Duration,
    seq: fn(&[u8]) -> u64,
) -> Vec<Vec<u64>> {
    let mut got = vec![Vec::new(); rings.len()];
    let deadline = Instant::now() + timeout;
    let mut settle: Option<Instant> = None;
    loop {
        let mut any = false;
        for (k, r) in rings.iter_mut().enumerate() {
            while let Some(p) = r.recv(false).expect("recv") {
                got[k].push(seq(p.data()));
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

/// A frame whose last 8 bytes are its sequence number.
fn tail_seq(frame: &[u8]) -> u64 {
    u64::from_be_bytes(frame[frame.len() - 8..].try_into().expect("8 bytes"))
}

fn ip4(src: u32, dst: u32, proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut h = vec![0x45, 0];
    h.extend_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    h.extend_from_slice(&[0, 1, 0, 0, 64, proto, 0, 0]);
    h.extend_from_slice(&src.to_be_bytes());
    h.extend_from_slice(&dst.to_be_bytes());
    h.extend_from_slice(payload);
    h
}

fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    u
}

fn tcp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x10, 0xff, 0xff, 0, 0, 0, 0]);
    t.extend_from_slice(payload);
    t
}

fn ether(dst: [u8; 6], src: [u8; 6], et: u16, l3: &[u8]) -> Vec<u8> {
    let mut f = dst.to_vec();
    f.extend_from_slice(&src);
    f.extend_from_slice(&et.to_be_bytes());
    f.extend_from_slice(l3);
    f
}

/// Frame `seq` of inner flow `i` in direction `dir`, tunneled in GTP-U (even flows; the
/// outer addresses swap with the direction, port 2152 on both sides) or in GRE with a
/// key (odd flows). Every frame of the test has the same two outer addresses.
fn tunnel_frame(i: u32, dir: u32, seq: u64) -> Vec<u8> {
    let (a, b) = (0x0A0A_0001u32, 0x0A0A_0002u32);
    let (s, d) = (
        0xAC10_0000 | (i.wrapping_mul(2_654_435_761) & 0xffff),
        0xC0A8_0000 | ((i.wrapping_mul(40_503) >> 5) & 0xffff),
    );
    let (sp, dp) = (
        10_000 + (i % 5000) as u16,
        [80u16, 443, 53][(i % 3) as usize],
    );
    let (s, d, sp, dp, os, od) = if dir == 0 {
        (s, d, sp, dp, a, b)
    } else {
        (d, s, dp, sp, b, a)
    };
    let inner = if i % 4 < 2 {
        ip4(s, d, 17, &udp(sp, dp, &seq.to_be_bytes()))
    } else {
        ip4(s, d, 6, &tcp(sp, dp, &seq.to_be_bytes()))
    };
    let outer = if i.is_multiple_of(2) {
        let mut g = vec![0x30, 0xff];
        g.extend_from_slice(&(inner.len() as u16).to_be_bytes());
        g.extend_from_slice(&(1000 + i).to_be_bytes());
        g.extend_from_slice(&inner);
        ip4(os, od, 17, &udp(2152, 2152, &g))
    } else {
        let mut g = vec![0x20, 0, 0x08, 0];
        g.extend_from_slice(&(7 + i).to_be_bytes());
        g.extend_from_slice(&inner);
        ip4(os, od, 47, &g)
    };
    ether([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2], 0x0800, &outer)
}

fn reference_hash(frame: &[u8], ty: ClusterType) -> ClusterHash {
    let mut p = ParsedPacket::default();
    parse_packet(frame, 5, &mut p);
    p.cluster_hash(ty)
}

/// [`collect`] by the frames' tail sequence numbers.
fn collect_tail(rings: &mut [Ring], n: usize, timeout: Duration) -> Vec<Vec<u64>> {
    collect_by(rings, n, timeout, tail_seq)
}

#[test]
fn inner_flow_cluster_spreads_tunnels_by_their_inner_flow() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "ina", "inb").expect("veth pair");
    let tx = RawSender::new(veth.a()).unwrap();
    for ty in [
        ClusterType::PerInnerFlow5Tuple,
        ClusterType::PerInnerFlow,
        ClusterType::PerInnerFlow2Tuple,
        ClusterType::PerInnerFlow4Tuple,
        ClusterType::PerInnerFlowTcp5Tuple,
        ClusterType::PerInnerFlowIp5Tuple,
    ] {
        let id = 600 + ty as u16;
        let mut rings = cluster_rings(veth.b(), 4, id, ty);
        const FLOWS: u32 = 200;
        let mut frames = Vec::new();
        for dir in 0..2 {
            for i in 0..FLOWS {
                let seq = frames.len() as u64;
                frames.push((i, tunnel_frame(i, dir, seq)));
            }
        }
        for (_, f) in &frames {
            tx.send(f).unwrap();
        }
        let got = collect_tail(&mut rings, frames.len(), Duration::from_secs(10));
        let counts: Vec<usize> = got.iter().map(Vec::len).collect();
        assert_eq!(
            counts.iter().sum::<usize>(),
            frames.len(),
            "{ty:?}: {counts:?}"
        );
        let mut member_of_flow: HashMap<u32, usize> = HashMap::new();
        let mut seen = HashSet::new();
        for (k, seqs) in got.iter().enumerate() {
            for &s in seqs {
                assert!(seen.insert(s), "{ty:?}: frame {s} twice");
                let (flow, f) = &frames[s as usize];
                let ClusterHash::Single(h) = reference_hash(f, ty) else {
                    panic!("a hash type")
                };
                assert_eq!(h as usize % 4, k, "{ty:?}: frame {s}");
                let prev = member_of_flow.insert(*flow, k);
                assert!(prev.is_none_or(|p| p == k), "{ty:?}: flow {flow} split");
            }
        }
        // The outer headers are the same for every frame: only the inner flows spread.
        assert!(counts.iter().all(|&c| c > 0), "{ty:?}: {counts:?}");
    }
}

/// A plain UDP frame from `src` to `dst` carrying `seq` at its end.
fn addr_frame(src: u32, dst: u32, seq: u64) -> Vec<u8> {
    let mut payload = vec![0u8; 24];
    payload.extend_from_slice(&seq.to_be_bytes());
    let l3 = ip4(src, dst, 17, &udp(4000, 5000, &payload));
    ether([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2], 0x0800, &l3)
}

/// Sends `n` frames with varied addresses (and one ARP frame, sequence `n`) and checks
/// that member `k` of `rings` got exactly the frames with `src % m == k || dst % m == k`.
fn check_dup(tx: &RawSender, rings: &mut [Ring], n: u64, base: u64) {
    let m = rings.len() as u64;
    let frames: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let src = 0x0A00_0000 | ((i.wrapping_mul(2_654_435_761) >> 12) & 0xfff) as u32;
            let dst = 0xC0A8_0000 | ((i.wrapping_mul(40_503) >> 4) & 0xfff) as u32;
            addr_frame(src, dst, base + i)
        })
        .collect();
    let mut arp = ether([0xff; 6], [2, 0, 0, 0, 0, 2], 0x0806, &[0u8; 40]);
    arp.extend_from_slice(&(base + n).to_be_bytes());
    let mut want: Vec<HashSet<u64>> = vec![HashSet::new(); rings.len()];
    let mut total = 0;
    for (i, f) in frames.iter().enumerate() {
        let ClusterHash::Dup { src, dst } = reference_hash(f, ClusterType::PerFlowIpWithDupTuple)
        else {
            panic!("dup hash")
        };
        for k in [u64::from(src) % m, u64::from(dst) % m] {
            if want[k as usize].insert(base + i as u64) {
                total += 1;
            }
        }
        tx.send(f).unwrap();
    }
    want[0].insert(base + n);
    total += 1;
    tx.send(&arp).unwrap();
    let got = collect_tail(rings, total, Duration::from_secs(10));
    let dups = total - n as usize - 1;
    assert!(
        m == 1 || dups > 0,
        "some packets go to two members: {want:?}"
    );
    for (k, seqs) in got.iter().enumerate() {
        let set: HashSet<u64> = seqs.iter().copied().collect();
        assert_eq!(set.len(), seqs.len(), "member {k} got a frame twice");
        assert_eq!(set, want[k], "member {k} of {m}");
    }
}

#[test]
fn ip_with_dup_cluster_duplicates_exactly_by_src_and_dst() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "dpa", "dpb").expect("veth pair");
    let tx = RawSender::new(veth.a()).unwrap();
    let mut rings = cluster_rings(veth.b(), 3, 77, ClusterType::PerFlowIpWithDupTuple);
    check_dup(&tx, &mut rings, 300, 0);
    // A member leaves: the others move down (member 2 becomes 1) and n = 2.
    let mut left = rings.remove(1);
    left.remove_from_cluster().unwrap();
    assert_eq!(left.cluster(), None);
    check_dup(&tx, &mut rings, 300, 1000);
    // The ring that left captures everything again.
    let got = collect_tail(std::slice::from_mut(&mut left), 301, Duration::from_secs(5));
    assert_eq!(got[0].len(), 301, "the ring that left sees every frame");
    // Join again (last), and a disabled member keeps its share without delivering it.
    left.set_cluster(77, ClusterType::PerFlowIpWithDupTuple)
        .unwrap();
    rings.push(left);
    check_dup(&tx, &mut rings, 300, 2000);
    rings[0].disable().unwrap();
    let frames: Vec<_> = (0..50)
        .map(|i| addr_frame(3 * i, 3 * i + 3, 3000 + u64::from(i)))
        .collect();
    for f in &frames {
        tx.send(f).unwrap();
    }
    // Every address is a multiple of 3: all frames are member 0's, which is disabled.
    let got = collect_tail(&mut rings[1..], 1, Duration::from_millis(500));
    assert_eq!(got.iter().map(Vec::len).sum::<usize>(), 0, "{got:?}");
    // Dropping a member leaves the cluster too.
    rings.truncate(2);
    rings[0].enable().unwrap();
    check_dup(&tx, &mut rings, 200, 4000);
}

/// Inserts a VLAN tag with this TPID after the MACs.
fn with_tag(f: &[u8], tpid: u16, tci: u16) -> Vec<u8> {
    let mut g = f[..12].to_vec();
    g.extend_from_slice(&tpid.to_be_bytes());
    g.extend_from_slice(&tci.to_be_bytes());
    g.extend_from_slice(&f[12..]);
    g
}

/// Frame `i` of the tags / extension headers test, sequence `seq` at its end.
fn header_frame(i: u32, seq: u64) -> Vec<u8> {
    let src = 0x0A00_0000 | ((i.wrapping_mul(2_654_435_761) >> 8) & 0xffff);
    let dst = 0xC0A8_0000 | ((i.wrapping_mul(40_503) >> 3) & 0xffff);
    let (sp, dp) = (1000 + (i % 777) as u16, 80);
    let plain = ether(
        [2, 0, 0, 0, 0, 1],
        [2, 0, 0, 0, 0, 2],
        0x0800,
        &ip4(src, dst, 17, &udp(sp, dp, &seq.to_be_bytes())),
    );
    let vid = (i * 13 % 4000) as u16 + 1;
    match i % 4 {
        // QinQ: 802.1ad outer tag (stripped by the kernel), 802.1Q inner tag (kept).
        0 => with_tag(&with_tag(&plain, 0x8100, vid + 7), 0x88a8, vid),
        // A 0x9100 tag, which the kernel does not strip.
        1 => with_tag(&plain, 0x9100, vid),
        // IPv6 with hop-by-hop and destination options headers.
        2 => {
            let mut a6 = [0u8; 16];
            a6[..4].copy_from_slice(&src.to_be_bytes());
            a6[12..].copy_from_slice(&dst.to_le_bytes());
            let mut b6 = [0u8; 16];
            b6[4..8].copy_from_slice(&dst.to_be_bytes());
            let mut ext = vec![60, 0, 1, 4, 0, 0, 0, 0, 17, 0, 1, 4, 0, 0, 0, 0];
            ext.extend_from_slice(&udp(sp, dp, &seq.to_be_bytes()));
            let mut l3 = vec![0x60, 0, 0, 0];
            l3.extend_from_slice(&(ext.len() as u16).to_be_bytes());
            l3.extend_from_slice(&[0, 64]);
            l3.extend_from_slice(&a6);
            l3.extend_from_slice(&b6);
            l3.extend_from_slice(&ext);
            ether([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2], 0x86dd, &l3)
        }
        // IPv4 with an AH header.
        _ => {
            let mut ah = vec![17, 4, 0, 0];
            ah.resize(24, 0x5a);
            ah.extend_from_slice(&udp(sp, dp, &seq.to_be_bytes()));
            ether(
                [2, 0, 0, 0, 0, 1],
                [2, 0, 0, 0, 0, 2],
                0x0800,
                &ip4(src, dst, 51, &ah),
            )
        }
    }
}

#[test]
fn hash_programs_follow_tags_and_extension_headers_in_the_kernel() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "hda", "hdb").expect("veth pair");
    let tx = RawSender::new(veth.a()).unwrap();
    for ty in [ClusterType::PerFlow, ClusterType::PerFlow5Tuple] {
        let mut rings = cluster_rings(veth.b(), 3, 700 + ty as u16, ty);
        let frames: Vec<Vec<u8>> = (0..400).map(|i| header_frame(i, u64::from(i))).collect();
        for f in &frames {
            tx.send(f).unwrap();
        }
        let got = collect_tail(&mut rings, frames.len(), Duration::from_secs(10));
        let counts: Vec<usize> = got.iter().map(Vec::len).collect();
        assert_eq!(
            counts.iter().sum::<usize>(),
            frames.len(),
            "{ty:?}: {counts:?}"
        );
        for (k, seqs) in got.iter().enumerate() {
            for &s in seqs {
                let ClusterHash::Single(h) = reference_hash(&frames[s as usize], ty) else {
                    panic!("a hash type")
                };
                assert_eq!(h as usize % 3, k, "{ty:?}: frame {s} ({})", s % 4);
            }
        }
    }
}

#[test]
fn rss_rehash_spreads_channels_by_the_symmetric_hash() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::builder("rha", "rhb")
        .queues(4)
        .create(&ns)
        .unwrap();
    let mut rings: Vec<Ring> = (0..4)
        .map(|q| {
            let mut r = RingBuilder::new(&format!("{}@{q}", veth.b()))
                .open()
                .expect("open");
            // Before and after enable both work.
            if q % 2 == 0 {
                r.enable_rss_rehash().unwrap();
                r.enable().unwrap();
            } else {
                r.enable().unwrap();
                r.enable_rss_rehash().unwrap();
            }
            r
        })
        .collect();
    let tx = RawSender::new(veth.a()).unwrap();
    const FLOWS: u32 = 300;
    for dir in 0..2 {
        for i in 0..FLOWS {
            tx.send(&flow_frame(i, dir)).unwrap();
        }
    }
    let sent = 2 * FLOWS as usize;
    let got = collect(&mut rings, sent, Duration::from_secs(10));
    let counts: Vec<usize> = got.iter().map(Vec::len).collect();
    assert_eq!(counts.iter().sum::<usize>(), sent, "{counts:?}");
    let mut seen = HashSet::new();
    for (q, seqs) in got.iter().enumerate() {
        for &s in seqs {
            assert!(seen.insert(s), "frame {s} twice");
            let f = flow_frame((s / 2) as u32, (s % 2) as u32);
            let mut p = ParsedPacket::default();
            parse_packet(&f, 5, &mut p);
            assert_eq!(p.kernel_hash() as usize % 4, q, "frame {s}");
        }
    }
    // Every channel gets a share, though the sender used one queue.
    assert!(counts.iter().all(|&c| c > sent / 8), "{counts:?}");
    // A ring on every channel is not affected.
    let mut all = RingBuilder::new(veth.b()).open().unwrap();
    all.enable_rss_rehash().unwrap();
    all.enable().unwrap();
    for i in 0..20 {
        tx.send(&flow_frame(i, 0)).unwrap();
    }
    let got = collect(std::slice::from_mut(&mut all), 20, Duration::from_secs(5));
    assert_eq!(got[0].len(), 20);
}
