//! Packet parser: any bytes at every level never panic, every hash is symmetric in source
//! and destination, and the printer accepts whatever the parser produced.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pfring::parse::{
    ClusterHash, ClusterType, HashFlags, LibzeroHashMode, ParsedPacket, format_parsed, libzero_hash,
};

fn swapped(p: &ParsedPacket) -> ParsedPacket {
    let mut q = *p;
    core::mem::swap(&mut q.smac, &mut q.dmac);
    core::mem::swap(&mut q.ip_src, &mut q.ip_dst);
    core::mem::swap(&mut q.l4_src_port, &mut q.l4_dst_port);
    let t = &mut q.tunnel;
    core::mem::swap(&mut t.tunneled_smac, &mut t.tunneled_dmac);
    core::mem::swap(&mut t.tunneled_ip_src, &mut t.tunneled_ip_dst);
    core::mem::swap(&mut t.tunneled_l4_src_port, &mut t.tunneled_l4_dst_port);
    q
}

fn check_symmetric(p: &ParsedPacket) {
    let q = swapped(p);
    assert_eq!(p.pfring_hash(), q.pfring_hash());
    assert_eq!(p.kernel_hash(), q.kernel_hash());
    for f in [
        HashFlags::MASK_VLAN,
        HashFlags::MASK_TUNNEL,
        HashFlags::MASK_PORT | HashFlags::MASK_PROTO,
        HashFlags::MASK_MAC,
    ] {
        assert_eq!(p.hash_with(f), q.hash_with(f));
    }
    for t in ClusterType::ALL {
        match (p.cluster_hash(t), q.cluster_hash(t)) {
            (ClusterHash::Dup { src, dst }, ClusterHash::Dup { src: s2, dst: d2 }) => {
                assert_eq!((src, dst), (d2, s2));
            }
            (a, b) => assert_eq!(a, b),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut line = String::new();
    let mut prev = 0;
    for level in 0..=6u8 {
        let (p, l) = ParsedPacket::parse(data, level);
        assert!(l <= 5);
        assert!(level < 2 || l >= prev);
        prev = l;
        check_symmetric(&p);
        line.clear();
        format_parsed(&mut line, &p, data, data.len() as u32, data.len() as u32).unwrap();
    }
    if let Some(n) = data.len().checked_sub(1) {
        // One byte less never yields a higher level.
        let mut prefix = ParsedPacket::default();
        assert!(pfring::parse::parse_packet(&data[..n], 5, &mut prefix) <= prev);
    }
    for m in [
        LibzeroHashMode::Ip,
        LibzeroHashMode::Mac,
        LibzeroHashMode::Protocol,
    ] {
        let _ = libzero_hash(data, m);
    }
});
