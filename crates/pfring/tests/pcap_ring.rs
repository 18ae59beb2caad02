//! The `pcap:` module: capture files opened like devices (no privileges needed).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use pfring::pcap::{Format, TsResolution, Writer};
use pfring::{Error, RingBuilder};

fn testdata() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/pcap");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipping: no test data at {}", dir.display());
        None
    }
}

/// (file, packets) of every Ethernet file in the tcpdump-made table.
fn ethernet_files() -> Vec<(String, u64)> {
    let table = include_str!("data/pcap_counts.txt");
    table
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() >= 3 && f[2] == "EN10MB").then(|| (f[0].to_string(), f[1].parse().unwrap()))
        })
        .collect()
}

fn open(path: &std::path::Path) -> pfring::Ring {
    let mut r = RingBuilder::new(&format!("pcap:{}", path.display()))
        .caplen(65535)
        .open()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    r.enable().unwrap();
    r
}

#[test]
fn every_ethernet_test_file_delivers_tcpdumps_count() {
    let Some(dir) = testdata() else { return };
    let files = ethernet_files();
    assert!(files.len() > 100, "{} Ethernet files", files.len());
    for (name, want) in files {
        let mut ring = open(&dir.join(&name));
        let mut n = 0u64;
        for _ in 0..100_000 {
            match ring.recv(true) {
                Ok(Some(p)) => {
                    let h = *p.header();
                    assert_eq!(h.caplen as usize, p.data().len(), "{name}");
                    n += 1;
                }
                Ok(None) => break,
                Err(e) => panic!("{name}: {e}"),
            }
        }
        assert_eq!(n, want, "{name}");
        assert!(ring.end_of_file(), "{name}");
        assert!(ring.recv(true).unwrap().is_none(), "{name}: stays ended");
        assert_eq!(ring.stats().unwrap().recv, want);
    }
}

#[test]
fn caplen_truncates_file_records() {
    let Some(dir) = testdata() else { return };
    let mut ring = RingBuilder::new(&format!("pcap:{}", dir.join("vrrp.pcap").display()))
        .caplen(64)
        .open()
        .unwrap();
    ring.enable().unwrap();
    let n = ring
        .run_loop(true, |h, data| {
            assert!(h.caplen <= 64 && data.len() == h.caplen as usize);
            assert!(h.len >= h.caplen);
            true
        })
        .unwrap();
    assert_eq!(n, 165, "run_loop ends at the end of the file");
}

#[test]
fn non_ethernet_and_missing_files_are_refused() {
    let Some(dir) = testdata() else { return };
    for f in ["unsupported-link-type-dbus.pcap", "mptcp-v1.pcap"] {
        match RingBuilder::new(&format!("pcap:{}", dir.join(f).display())).open() {
            Err(Error::NotSupported {
                backend: "pcap", ..
            }) => {}
            other => panic!("{f}: expected NotSupported, got {other:?}"),
        }
    }
    match RingBuilder::new("pcap:/nonexistent/x.pcap").open() {
        Err(Error::NoSuchDevice { name }) => assert!(name.contains("x.pcap")),
        other => panic!("expected NoSuchDevice, got {other:?}"),
    }
    let dir = tempdir("bad");
    let junk = dir.join("junk.pcap");
    std::fs::write(&junk, b"this is not a capture file").unwrap();
    assert!(matches!(
        RingBuilder::new(&format!("pcap:{}", junk.display())).open(),
        Err(Error::Pcap(_))
    ));
    let _ = std::fs::remove_dir_all(dir);
}

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pfring-pcap-ring-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn frame(i: u8, len: usize) -> Vec<u8> {
    let mut f = vec![i; len];
    f[12] = 0x08;
    f[13] = 0x00;
    f
}

/// Writes frames stamped `t0 + i * gap_ns` and returns the file.
fn write_file(dir: &std::path::Path, name: &str, n: u8, gap_ns: u64, format: Format) -> PathBuf {
    let path = dir.join(name);
    let mut w = Writer::new(std::fs::File::create(&path).unwrap(), format).unwrap();
    for i in 0..n {
        let f = frame(i, 60 + usize::from(i));
        w.write(
            1_700_000_000_000_000_000 + u64::from(i) * gap_ns,
            &f,
            f.len() as u32 + 4,
        )
        .unwrap();
    }
    w.flush().unwrap();
    path
}

#[test]
fn bytes_lengths_and_nanosecond_timestamps_round_trip() {
    let dir = tempdir("rt");
    for format in [Format::Pcap(TsResolution::Nano), Format::PcapNg] {
        let path = write_file(&dir, "rt", 20, 1_234, format);
        let mut ring = open(&path);
        for i in 0..20u8 {
            let p = ring.recv(false).unwrap().unwrap();
            assert_eq!(p.data(), frame(i, 60 + usize::from(i)).as_slice());
            assert_eq!(p.header().len, 64 + u32::from(i));
            assert_eq!(
                p.header().ts.as_nanos(),
                1_700_000_000_000_000_000 + u64::from(i) * 1_234
            );
            assert!(p.header().extended_hdr.rx_direction);
        }
        assert!(ring.recv(false).unwrap().is_none());
        assert!(ring.end_of_file());
        assert!(!ring.is_packet_available());
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_truncated_file_reports_once_then_ends() {
    let dir = tempdir("trunc");
    let path = write_file(&dir, "t.pcap", 10, 1000, Format::Pcap(TsResolution::Micro));
    let len = std::fs::metadata(&path).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(len - 5).unwrap();
    let mut ring = open(&path);
    let mut n = 0;
    let err = loop {
        match ring.recv(false) {
            Ok(Some(_)) => n += 1,
            Ok(None) => panic!("ended without reporting the truncation"),
            Err(e) => break e,
        }
    };
    assert_eq!(n, 9);
    assert!(matches!(err, Error::Pcap(_)), "{err}");
    assert!(err.to_string().contains("truncated"), "{err}");
    assert!(ring.recv(false).unwrap().is_none());
    assert!(ring.end_of_file());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn replay_follows_the_recorded_pace() {
    let dir = tempdir("pace");
    // 5 records 50 ms apart: 200 ms from first to last.
    let path = write_file(
        &dir,
        "p.pcap",
        5,
        50_000_000,
        Format::Pcap(TsResolution::Nano),
    );
    let spec = format!("pcap:{}", path.display());
    let mut paced = RingBuilder::new(&spec).replay_pace(true).open().unwrap();
    paced.enable().unwrap();
    let t = Instant::now();
    assert_eq!(paced.run_loop(true, |_, _| true).unwrap(), 5);
    let took = t.elapsed();
    assert!(took >= Duration::from_millis(190), "{took:?}");
    let mut fast = RingBuilder::new(&spec).open().unwrap();
    fast.enable().unwrap();
    let t = Instant::now();
    assert_eq!(fast.run_loop(true, |_, _| true).unwrap(), 5);
    assert!(t.elapsed() < Duration::from_millis(150));
    // A paced wait is broken by breakloop without losing the record.
    let mut ring = RingBuilder::new(&spec).replay_pace(true).open().unwrap();
    ring.enable().unwrap();
    assert!(ring.recv(true).unwrap().is_some());
    let h = ring.break_handle();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(10));
        h.breakloop();
    });
    assert!(
        ring.recv(true).unwrap().is_none(),
        "broken during the 50 ms wait"
    );
    t.join().unwrap();
    assert_eq!(
        ring.run_loop(true, |_, _| true).unwrap(),
        4,
        "the broken record is kept"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn file_rings_refuse_sending() {
    let dir = tempdir("send");
    let path = write_file(&dir, "s.pcap", 1, 1, Format::PcapNg);
    let mut ring = open(&path);
    assert!(matches!(
        ring.send(&frame(0, 60), true),
        Err(Error::NotSupported {
            backend: "pcap",
            ..
        })
    ));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bpf_filters_run_on_files_like_tcpdump() {
    let Some(dir) = testdata() else { return };
    let spec = format!("pcap:{}", dir.join("vrrp.pcap").display());
    // Counts from `tcpdump -r vrrp.pcap -n '<expr>' | wc -l` (tcpdump 4.99.3, libpcap 1.10.3).
    for (expr, want) in [("vrrp", 101u64), ("not ip", 64), ("ip host 192.168.1.1", 0)] {
        let mut ring = RingBuilder::new(&spec).open().unwrap();
        ring.set_bpf_filter(expr).unwrap();
        ring.enable().unwrap();
        assert_eq!(ring.run_loop(true, |_, _| true).unwrap(), want, "{expr}");
        assert_eq!(ring.stats().unwrap().drop, 0);
    }
    let mut ring = RingBuilder::new(&spec).open().unwrap();
    assert!(matches!(ring.set_bpf_filter("host"), Err(Error::Filter(_))));
}

#[test]
fn next_packet_time_reads_files_ahead_without_consuming() {
    let dir = tempdir("peek");
    let path = write_file(&dir, "k.pcap", 20, 777, Format::Pcap(TsResolution::Nano));
    let mut ring = open(&path);
    for i in 0..20u8 {
        let peek = ring.next_packet_time().expect("a record is left");
        // Peeking twice reads nothing more.
        assert_eq!(ring.next_packet_time(), Some(peek));
        assert_eq!(ring.next_packet_raw_timestamp(), Some(peek.as_nanos()));
        assert!(!ring.end_of_file());
        let p = ring.recv(false).unwrap().unwrap();
        assert_eq!(p.header().ts, peek);
        assert_eq!(p.data(), frame(i, 60 + usize::from(i)).as_slice());
    }
    assert_eq!(ring.next_packet_time(), None);
    assert!(ring.end_of_file());
    assert!(ring.recv(false).unwrap().is_none());

    // A read error met while peeking is reported by the next receive, once.
    let path = write_file(&dir, "t.pcap", 3, 1000, Format::Pcap(TsResolution::Micro));
    let len = std::fs::metadata(&path).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len - 5)
        .unwrap();
    let mut ring = open(&path);
    for _ in 0..2 {
        assert!(ring.next_packet_time().is_some());
        assert!(ring.recv(false).unwrap().is_some());
    }
    assert_eq!(ring.next_packet_time(), None);
    assert!(!ring.end_of_file(), "the error is still to be reported");
    assert!(matches!(ring.recv(false), Err(Error::Pcap(_))));
    assert!(ring.recv(false).unwrap().is_none());
    assert!(ring.end_of_file());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn files_refuse_hardware_timestamps_and_device_clocks() {
    let dir = tempdir("hwts");
    let path = write_file(&dir, "h.pcap", 1, 1, Format::Pcap(TsResolution::Nano));
    let mut ring = open(&path);
    assert!(matches!(
        ring.enable_hw_timestamp("eth0", true, false),
        Err(Error::NotSupported {
            backend: "pcap",
            ..
        })
    ));
    assert!(matches!(
        ring.get_device_clock(),
        Err(Error::NotSupported {
            backend: "pcap",
            ..
        })
    ));
    assert!(matches!(
        RingBuilder::new(&format!("pcap:{}", path.display()))
            .hw_timestamp(true)
            .open(),
        Err(Error::NotSupported {
            backend: "pcap",
            ..
        })
    ));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn search_payload_delivers_only_frames_whose_payload_contains_the_pattern() {
    use pfring::filter::rules::{FilteringRule, RuleAction};
    use pfring_testkit::FrameBuilder;
    let dir = tempdir("search");
    let path = dir.join("payloads.pcap");
    let texts = [
        "GET /index HTTP/1.1",
        "hello world",
        "nothing here",
        "Hello again",
        "xxhELLoxx",
    ];
    let mut w = Writer::new(
        std::fs::File::create(&path).unwrap(),
        Format::Pcap(TsResolution::Nano),
    )
    .unwrap();
    for (i, t) in texts.iter().enumerate() {
        // UDP to port 100 + i; the payload is the text.
        let b = FrameBuilder::udp().ports(7, 100 + i as u16);
        let mut f = b.build(i as u64, t.len());
        let at = b.header_len();
        f[at..at + t.len()].copy_from_slice(t.as_bytes());
        w.write(1_700_000_000_000_000_000 + i as u64, &f, f.len() as u32)
            .unwrap();
    }
    w.flush().unwrap();
    drop(w);
    // The destination ports of the frames delivered with `pattern` (and a rule dropping
    // port 103 when `drop_103`).
    let delivered = |pattern: Option<&str>, drop_103: bool| -> Vec<u16> {
        let mut ring = RingBuilder::new(&format!("pcap:{}", path.display()))
            .open()
            .unwrap();
        ring.search_payload(pattern).unwrap();
        if drop_103 {
            ring.add_filtering_rule(
                FilteringRule::new(1, RuleAction::DontForwardAndStop).dst_ports(103, 103),
            )
            .unwrap();
        }
        ring.enable().unwrap();
        let mut ports = Vec::new();
        while let Some(p) = ring.recv(false).unwrap() {
            let d = p.data();
            ports.push(u16::from_be_bytes([d[36], d[37]]));
        }
        ports
    };
    assert_eq!(delivered(None, false), [100, 101, 102, 103, 104]);
    assert_eq!(
        delivered(Some("HELLO"), false),
        [101, 103, 104],
        "ignores case"
    );
    assert_eq!(
        delivered(Some("get /|again"), false),
        [100, 103],
        "alternatives"
    );
    assert_eq!(
        delivered(Some("hello"), true),
        [101, 104],
        "and the rules too"
    );
    assert!(delivered(Some("ethernet"), false).is_empty());
    // Only the payload is searched: the UDP header's bytes (port 100 = "\0d") are not.
    assert!(delivered(Some("\0d"), false).is_empty());
    // Cleared again, and an empty pattern is refused.
    let mut ring = RingBuilder::new(&format!("pcap:{}", path.display()))
        .open()
        .unwrap();
    ring.search_payload(Some("hello")).unwrap();
    ring.search_payload(None).unwrap();
    ring.enable().unwrap();
    let mut n = 0;
    while ring.recv(false).unwrap().is_some() {
        n += 1;
    }
    assert_eq!(n, 5);
    for bad in ["", "|", "||"] {
        assert!(matches!(
            ring.search_payload(Some(bad)),
            Err(Error::InvalidArgument(_))
        ));
    }
    let _ = std::fs::remove_dir_all(dir);
}
