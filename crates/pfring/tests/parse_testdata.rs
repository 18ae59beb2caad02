//! Every packet of every Ethernet capture in the shared test data parses without panic, at
//! every level and every truncation, and hashes and prints.

#[path = "common/pcap.rs"]
mod pcap;

use pfring::parse::{ClusterType, LibzeroHashMode, ParsedPacket, format_parsed, libzero_hash};

#[test]
fn every_ethernet_packet_parses() {
    let Some(dir) = pcap::testdata_dir() else {
        eprintln!("skipped: ../shared/testdata/pcap not found next to the workspace");
        return;
    };
    let files = pcap::capture_files(&dir);
    let frames = pcap::ethernet_frames(&dir);
    let mut by_level = [0usize; 6];
    let mut tunnels = 0usize;
    let mut vlans = 0usize;
    let mut v6 = 0usize;
    let mut line = String::new();
    for (name, r) in &frames {
        let f = &r.data;
        let mut prev = 0u8;
        for level in 0..=6u8 {
            let (p, l) = ParsedPacket::parse(f, level);
            assert!(l <= 5, "{name}: level {l}");
            assert!(l >= prev || level < 2, "{name}: level went down");
            prev = l;
            if level == 5 {
                by_level[usize::from(l)] += 1;
                tunnels += usize::from(p.has_tunnel() || p.tunnel.tunneled_ip_version != 0);
                vlans += usize::from(p.vlan_id != 0);
                v6 += usize::from(p.ip_version == 6);
                // Offsets never point before the previous header.
                let o = p.offset;
                if l >= 2 {
                    assert!(o.l3_offset >= 14, "{name}: {o:?}");
                }
                if l >= 3 {
                    assert!(o.l4_offset > o.l3_offset, "{name}: {o:?}");
                }
            }
            let _ = p.pfring_hash();
            for t in ClusterType::ALL {
                let _ = p.cluster_hash(t);
            }
            line.clear();
            format_parsed(&mut line, &p, f, f.len() as u32, r.orig_len).unwrap();
        }
        for m in [
            LibzeroHashMode::Ip,
            LibzeroHashMode::Mac,
            LibzeroHashMode::Protocol,
        ] {
            let _ = libzero_hash(f, m);
        }
        // Every truncation of the frame.
        for n in 0..f.len() {
            let (p, _) = ParsedPacket::parse(&f[..n], 5);
            let _ = p.pfring_hash();
        }
    }
    eprintln!(
        "{} files, {} Ethernet packets; by level {:?}; {} with a tunnel, {} with VLAN, {} IPv6",
        files.len(),
        frames.len(),
        by_level,
        tunnels,
        vlans,
        v6
    );
    // The folder holds 1810 Ethernet packets (1795 in pcap files, 15 in pcapng files).
    assert!(
        frames.len() >= 1800,
        "only {} Ethernet packets",
        frames.len()
    );
    assert!(by_level[4] + by_level[5] >= 900, "{by_level:?}");
    assert!(by_level[5] >= 5, "{by_level:?}");
    assert!(tunnels >= 5 && vlans >= 2 && v6 >= 150);
}

#[test]
fn pcap_reader_handles_damage() {
    // Truncated header, truncated record, unknown magic: no panic, partial results.
    assert!(pcap::parse_bytes(&[]).is_empty());
    assert!(pcap::parse_bytes(&[0xD4, 0xC3, 0xB2, 0xA1, 2, 0]).is_empty());
    let mut f = vec![
        0xD4, 0xC3, 0xB2, 0xA1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0,
    ];
    f.extend([1, 0, 0, 0]);
    f.extend([0u8; 8]);
    f.extend([3, 0, 0, 0, 3, 0, 0, 0, 1, 2, 3]);
    f.extend([0u8; 8]);
    f.extend([9, 0, 0, 0, 9, 0, 0, 0, 1]);
    let r = pcap::parse_bytes(&f);
    assert_eq!(r.len(), 1);
    assert_eq!(
        (r[0].linktype, r[0].data.as_slice(), r[0].orig_len),
        (1, &[1u8, 2, 3][..], 3)
    );
    let Some(dir) = pcap::testdata_dir() else {
        return;
    };
    for file in pcap::capture_files(&dir).iter().take(40) {
        let b = std::fs::read(file).unwrap();
        for cut in [0, 1, 7, 24, 25, 40, b.len() / 2, b.len().saturating_sub(1)] {
            let _ = pcap::parse_bytes(&b[..cut.min(b.len())]);
        }
    }
}
