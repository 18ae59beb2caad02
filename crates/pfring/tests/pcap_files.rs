//! The pcap reader and writer against real files, tcpdump, tshark and malformed input.
//!
//! - Every file of `../shared/testdata/pcap/` is read to its end without panic, and gives the
//!   packet count and link type that tcpdump (libpcap 1.10) reports, as recorded in
//!   `tests/data/pcap_counts.txt` by `tests/data/regen-pcap-counts.sh`.
//! - Round trips: every Ethernet file written as pcap µs, pcap ns and pcapng reads back
//!   identical (µs drops the sub-µs digits).
//! - Interop: files we write are read by tcpdump (and tshark when installed) with the same
//!   counts, timestamps, lengths and bytes.
//! - Hand-built malformed inputs and random bytes give errors, never panics.
//!
//! Tests that need the shared test data or an external tool print why they skip.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use pfring::pcap::{
    Format, LINKTYPE_ETHERNET, PcapError, Reader, TsResolution, Writer, WriterOptions,
};
use proptest::prelude::*;

// ---- helpers ------------------------------------------------------------------------------

/// A record we keep.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Rec {
    ts_ns: u64,
    caplen: u32,
    len: u32,
    interface: u32,
    linktype: u16,
    data: Vec<u8>,
}

/// What reading a whole input gave.
#[derive(Debug)]
struct Outcome {
    linktype: Option<u16>,
    snaplen: u32,
    records: Vec<Rec>,
    error: Option<PcapError>,
}

fn read_all<R: Read>(input: R) -> Result<Outcome, PcapError> {
    let mut r = Reader::new(input)?;
    let linktype = r.linktype();
    let snaplen = r.interfaces().first().map_or(0, |i| i.effective_snaplen);
    let mut records = Vec::new();
    let error = loop {
        match r.next() {
            Ok(Some(rec)) => {
                assert_eq!(rec.caplen as usize, rec.data.len());
                records.push(Rec {
                    ts_ns: rec.ts_ns,
                    caplen: rec.caplen,
                    len: rec.len,
                    interface: rec.interface,
                    linktype: rec.linktype,
                    data: rec.data.to_vec(),
                });
            }
            Ok(None) => break None,
            Err(e) => break Some(e),
        }
    };
    // Finished: stays finished.
    assert!(matches!(r.next(), Ok(None)));
    assert!(matches!(r.next(), Ok(None)));
    Ok(Outcome {
        linktype,
        snaplen,
        records,
        error,
    })
}

fn read_bytes(bytes: &[u8]) -> Result<Outcome, PcapError> {
    read_all(bytes)
}

/// `../shared/testdata/pcap` next to the workspace root, or `None` (with a printed reason).
fn testdata_dir() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = root.join("../shared/testdata/pcap");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("SKIP: test data folder {} is absent", dir.display());
        None
    }
}

fn testdata_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read test data dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != "README.md"))
        .collect();
    files.sort();
    files
}

/// One line of `pcap_counts.txt`.
#[derive(Debug)]
struct Expected {
    packets: usize,
    linktype: String,
    status: String,
}

fn expected_table() -> BTreeMap<String, Expected> {
    let text = include_str!("data/pcap_counts.txt");
    let mut map = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 4, "bad line in pcap_counts.txt: {line:?}");
        map.insert(
            f[0].to_string(),
            Expected {
                packets: f[1].parse().expect("packet count"),
                linktype: f[2].to_string(),
                status: f[3].to_string(),
            },
        );
    }
    map
}

/// libpcap's name (`pcap_datalink_val_to_name`) for the LINKTYPE_ values in the test data,
/// from the tcpdump.org list of link-layer header types. tcpdump prints the number for types
/// it has no name for.
fn libpcap_name(linktype: u16) -> String {
    let name = match linktype {
        0 => "NULL",
        1 => "EN10MB",
        8 => "SLIP",
        9 => "PPP",
        50 => "PPP_SERIAL",
        101 => "RAW",
        104 => "C_HDLC",
        105 => "IEEE802_11",
        107 => "FRELAY",
        113 => "LINUX_SLL",
        123 => "SUNATM",
        127 => "IEEE802_11_RADIO",
        129 => "ARCNET_LINUX",
        132 => "JUNIPER_ES",
        137 => "JUNIPER_ATM1",
        182 => "MFR",
        195 => "IEEE802_15_4",
        228 => "IPV4",
        229 => "IPV6",
        231 => "DBUS",
        239 => "NFLOG",
        271 => "VSOCK",
        276 => "LINUX_SLL2",
        281 => "DSA_TAG_BRCM",
        284 => "DSA_TAG_DSA",
        _ => return linktype.to_string(),
    };
    name.to_string()
}

fn have_tool(name: &str) -> bool {
    Command::new(name)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

// ---- the shared test data against tcpdump's table -----------------------------------------

#[test]
fn every_test_file_matches_tcpdump() {
    let Some(dir) = testdata_dir() else { return };
    let table = expected_table();
    let files = testdata_files(&dir);
    assert_eq!(
        files.len(),
        table.len(),
        "test data and pcap_counts.txt disagree on the file list"
    );
    let mut total = 0usize;
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let exp = table.get(&name).unwrap_or_else(|| {
            panic!("{name} missing from pcap_counts.txt (run the regen script)")
        });
        let out = read_all(std::fs::File::open(path).unwrap())
            .unwrap_or_else(|e| panic!("{name}: header rejected: {e}"));
        assert_eq!(out.records.len(), exp.packets, "{name}: packet count");
        let lt = out.linktype.expect("linktype");
        assert_eq!(libpcap_name(lt), exp.linktype, "{name}: link type");
        if exp.status == "ok" {
            assert!(
                out.error.is_none(),
                "{name}: tcpdump reads it cleanly, we got {:?}",
                out.error
            );
        } else {
            assert!(
                out.error.is_some(),
                "{name}: tcpdump stops with {:?}, we did not",
                exp.status
            );
        }
        total += out.records.len();
    }
    eprintln!("read {} files, {total} records", files.len());
}

#[test]
fn reading_through_a_trickling_reader_gives_the_same_records() {
    /// Returns at most 7 bytes per read call.
    struct Trickle<'a>(&'a [u8]);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(7).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    let Some(dir) = testdata_dir() else { return };
    for path in testdata_files(&dir) {
        let bytes = std::fs::read(&path).unwrap();
        let a = read_bytes(&bytes).unwrap();
        let b = read_all(Trickle(&bytes)).unwrap();
        assert_eq!(a.records, b.records, "{}", path.display());
        assert_eq!(a.error.is_some(), b.error.is_some());
    }
}

/// Specific files whose handling is documented in the module docs.
#[test]
fn documented_special_files() {
    let Some(dir) = testdata_dir() else { return };
    let one = |name: &str| read_all(std::fs::File::open(dir.join(name)).unwrap()).unwrap();

    // Timestamp exactly 2^32 s (2106-02-07): read correctly (tcpdump prints 0.000000000).
    let o = one("time_2106_overflow.pcapng");
    assert_eq!(o.records.len(), 1);
    assert_eq!(o.records[0].ts_ns, (1u64 << 32) * 1_000_000_000);

    // ns fractions of 999999999, 1000000000 and 2147483648: taken literally, carried.
    let o = one("timestamp_invalid_nano.pcap");
    let ts: Vec<u64> = o.records.iter().map(|r| r.ts_ns).collect();
    assert_eq!(
        ts,
        vec![
            1_418_145_369_999_999_999,
            1_418_145_370_000_000_000 + 1_000_000_000,
            1_418_145_370_000_000_000 + 2_147_483_648,
        ]
    );

    // snaplen 1: every record is cut to 1 byte, as libpcap does.
    let o = one("heap-overflow-1.pcap");
    assert!(o.records.iter().all(|r| r.caplen == 1 && r.data.len() == 1));
    assert!(o.records.iter().all(|r| r.len >= 1));

    // D-Bus: a link type libpcap allows large snaplens for.
    let o = one("unsupported-link-type-dbus.pcap");
    assert_eq!(o.linktype, Some(231));
}

/// libpcap's reading of every test file, through `tcpdump -r FILE -w COPY` (ns pcap): our
/// reading of the copy equals our reading of the original, record by record (timestamps,
/// lengths, bytes, link type). The one known difference is a timestamp past 2106, which
/// libpcap's 32-bit pcap seconds field cannot hold.
#[test]
fn libpcap_reads_every_test_file_like_we_do() {
    if !have_tool("tcpdump") {
        eprintln!("SKIP: tcpdump not installed");
        return;
    }
    let Some(dir) = testdata_dir() else { return };
    let copy = tmp_path("libpcap-copy.pcap");
    let mut compared = 0;
    for path in testdata_files(&dir) {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let ours = read_all(std::fs::File::open(&path).unwrap()).unwrap();
        let st = Command::new("tcpdump")
            .args(["--time-stamp-precision=nano", "-r"])
            .arg(&path)
            .arg("-w")
            .arg(&copy)
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&st.stderr)
        );
        let theirs = read_all(std::fs::File::open(&copy).unwrap()).unwrap();
        assert!(theirs.error.is_none(), "{name}: {:?}", theirs.error);
        assert_eq!(ours.records.len(), theirs.records.len(), "{name}");
        for (i, (a, b)) in ours.records.iter().zip(&theirs.records).enumerate() {
            let mut a = a.clone();
            a.interface = 0;
            if name == "time_2106_overflow.pcapng" {
                // libpcap keeps the low 32 bits of the seconds.
                a.ts_ns %= (1u64 << 32) * 1_000_000_000;
            }
            assert_eq!(&a, b, "{name} record {i}");
        }
        compared += 1;
    }
    let _ = std::fs::remove_file(&copy);
    eprintln!("{compared} files read alike by libpcap and by us");
}

// ---- round trips --------------------------------------------------------------------------

const FORMATS: [Format; 3] = [
    Format::Pcap(TsResolution::Micro),
    Format::Pcap(TsResolution::Nano),
    Format::PcapNg,
];

fn write_records(recs: &[Rec], format: Format, snaplen: u32) -> Result<Vec<u8>, PcapError> {
    let mut w = Writer::with_options(
        Vec::new(),
        WriterOptions {
            format,
            linktype: LINKTYPE_ETHERNET,
            snaplen,
        },
    )?;
    for r in recs {
        w.write(r.ts_ns, &r.data, r.len)?;
    }
    assert_eq!(w.packets_written(), recs.len() as u64);
    w.into_inner()
}

fn expect_after(format: Format, r: &Rec) -> Rec {
    let mut e = r.clone();
    e.interface = 0;
    if format == Format::Pcap(TsResolution::Micro) {
        e.ts_ns -= e.ts_ns % 1000;
    }
    e
}

/// Ethernet files of the test data, with their records.
fn ethernet_files() -> Vec<(String, u32, Vec<Rec>)> {
    let Some(dir) = testdata_dir() else {
        return Vec::new();
    };
    let mut v = Vec::new();
    for path in testdata_files(&dir) {
        let out = read_all(std::fs::File::open(&path).unwrap()).unwrap();
        if out.error.is_none()
            && out.records.iter().all(|r| r.linktype == LINKTYPE_ETHERNET)
            && !out.records.is_empty()
        {
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            v.push((name, out.snaplen, out.records));
        }
    }
    v
}

#[test]
fn round_trip_every_ethernet_file() {
    let files = ethernet_files();
    if files.is_empty() {
        return;
    }
    let mut n = 0;
    for (name, snaplen, recs) in &files {
        for format in FORMATS {
            let too_late = recs
                .iter()
                .any(|r| r.ts_ns / 1_000_000_000 > u64::from(u32::MAX));
            let bytes = match write_records(recs, format, *snaplen) {
                Err(PcapError::TimestampOutOfRange { .. })
                    if too_late && matches!(format, Format::Pcap(_)) =>
                {
                    continue;
                }
                other => other.unwrap_or_else(|e| panic!("{name} as {format:?}: {e}")),
            };
            assert!(
                !too_late || format == Format::PcapNg,
                "{name}: expected an error"
            );
            let back = read_bytes(&bytes).unwrap();
            assert!(
                back.error.is_none(),
                "{name} as {format:?}: {:?}",
                back.error
            );
            assert_eq!(back.records.len(), recs.len(), "{name} as {format:?}");
            for (a, b) in recs.iter().zip(&back.records) {
                assert_eq!(&expect_after(format, a), b, "{name} as {format:?}");
            }
            n += 1;
        }
    }
    eprintln!("{} Ethernet files, {n} round trips", files.len());
    assert!(files.len() >= 100);
}

#[test]
fn writer_cuts_to_snaplen_and_defaults() {
    let mut w = Writer::new(Vec::new(), Format::PcapNg).unwrap();
    assert_eq!(w.options().snaplen, 65535);
    assert_eq!(w.options().linktype, LINKTYPE_ETHERNET);
    w.write(5, &vec![7u8; 70_000], 70_000).unwrap();
    let bytes = w.into_inner().unwrap();
    let out = read_bytes(&bytes).unwrap();
    assert_eq!(out.records[0].caplen, 65535);
    assert_eq!(out.records[0].len, 70_000);
    assert_eq!(out.linktype, Some(1));

    let mut w = Writer::with_options(
        Vec::new(),
        WriterOptions {
            format: Format::Pcap(TsResolution::Nano),
            linktype: 113,
            snaplen: 10,
        },
    )
    .unwrap();
    w.write(1, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], 12)
        .unwrap();
    w.flush().unwrap();
    assert_eq!(w.get_ref().len(), 24 + 16 + 10);
    let out = read_bytes(w.get_ref()).unwrap();
    assert_eq!(out.linktype, Some(113));
    assert_eq!(out.records[0].data, (1..=10).collect::<Vec<u8>>());
}

// ---- interop with tcpdump and tshark ------------------------------------------------------

/// All Ethernet records of the test data that every format can hold.
fn interop_records() -> Vec<Rec> {
    ethernet_files()
        .into_iter()
        .flat_map(|(_, _, recs)| recs)
        .filter(|r| r.ts_ns / 1_000_000_000 <= u64::from(u32::MAX))
        .collect()
}

fn tmp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("pfring-pcap-{}-{name}", std::process::id()))
}

/// Seconds.fraction as printed by tcpdump/tshark, in ns.
fn parse_ts(s: &str) -> u64 {
    let (sec, frac) = s.split_once('.').unwrap_or((s, ""));
    let mut frac = frac.to_string();
    frac.truncate(9);
    while frac.len() < 9 {
        frac.push('0');
    }
    sec.parse::<u64>().unwrap() * 1_000_000_000 + frac.parse::<u64>().unwrap()
}

#[test]
fn tcpdump_reads_what_we_write() {
    if !have_tool("tcpdump") {
        eprintln!("SKIP: tcpdump not installed");
        return;
    }
    let recs = interop_records();
    if recs.is_empty() {
        return;
    }
    for format in FORMATS {
        let path = tmp_path(&format!("{format:?}.out"));
        std::fs::write(&path, write_records(&recs, format, 262_144).unwrap()).unwrap();
        let expected: Vec<Rec> = recs.iter().map(|r| expect_after(format, r)).collect();

        // Count and timestamps as tcpdump prints them: -# numbers each packet's first line.
        // tcpdump prints no time for a record with caplen or len 0 ("[Invalid header: ...]")
        // nor for one at or after 2038 ("[Error converting time]"); those are checked below
        // through libpcap's copy.
        let out = Command::new("tcpdump")
            .args(["-#", "-tt", "--nano", "-n", "-q", "-r"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{format:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let mut seen = 0usize;
        let mut compared = 0usize;
        for line in stdout.lines() {
            let mut f = line.split_whitespace();
            let (Some(num), Some(t)) = (f.next(), f.next()) else {
                continue;
            };
            if num.parse::<usize>().ok() != Some(seen + 1) {
                continue; // a continuation line
            }
            let rec = &expected[seen];
            seen += 1;
            if t.starts_with("[Invalid") {
                assert!(
                    rec.caplen == 0 || rec.len == 0,
                    "{format:?} #{seen}: {line}"
                );
            } else if t.starts_with("[Error") {
                assert!(
                    rec.ts_ns >= (1u64 << 31) * 1_000_000_000,
                    "{format:?} #{seen}: {line}"
                );
            } else {
                assert_eq!(
                    parse_ts(t),
                    rec.ts_ns,
                    "{format:?} #{seen}: tcpdump timestamp"
                );
                compared += 1;
            }
        }
        assert_eq!(seen, expected.len(), "{format:?}: tcpdump packet count");
        assert!(
            compared * 10 >= seen * 9,
            "{format:?}: most timestamps compared"
        );

        // Bytes and lengths: libpcap re-writes our file (as ns pcap); we read its copy.
        let copy = tmp_path(&format!("{format:?}.copy"));
        let st = Command::new("tcpdump")
            .args(["--time-stamp-precision=nano", "-r"])
            .arg(&path)
            .arg("-w")
            .arg(&copy)
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
        let back = read_all(std::fs::File::open(&copy).unwrap()).unwrap();
        assert!(back.error.is_none());
        assert_eq!(back.records, expected, "{format:?}: libpcap's copy differs");
        eprintln!("{format:?}: tcpdump agrees on {seen} packets ({compared} printed timestamps)");
        let _ = std::fs::remove_file(&path);
        let _ = std::fs::remove_file(&copy);
    }
}

#[test]
fn tshark_reads_what_we_write() {
    if !have_tool("tshark") {
        eprintln!("SKIP: tshark not installed");
        return;
    }
    let recs = interop_records();
    if recs.is_empty() {
        return;
    }
    for format in FORMATS {
        let path = tmp_path(&format!("{format:?}.tshark"));
        std::fs::write(&path, write_records(&recs, format, 262_144).unwrap()).unwrap();
        let expected: Vec<Rec> = recs.iter().map(|r| expect_after(format, r)).collect();
        let out = Command::new("tshark")
            .args([
                "-n",
                "-T",
                "fields",
                "-e",
                "frame.time_epoch",
                "-e",
                "frame.len",
                "-e",
                "frame.cap_len",
                "-r",
            ])
            .arg(&path)
            .env("HOME", std::env::temp_dir())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{format:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got: Vec<(u64, u32, u32)> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                (parse_ts(f[0]), f[1].parse().unwrap(), f[2].parse().unwrap())
            })
            .collect();
        let want: Vec<(u64, u32, u32)> = expected
            .iter()
            .map(|r| (r.ts_ns, r.len, r.caplen))
            .collect();
        assert_eq!(got.len(), want.len(), "{format:?}: tshark packet count");
        assert_eq!(got, want, "{format:?}: tshark timestamps and lengths");
        eprintln!("{format:?}: tshark agrees on {} packets", want.len());
        let _ = std::fs::remove_file(&path);
    }
}

// ---- hand-built files ---------------------------------------------------------------------

/// A pcapng block in the given byte order.
fn block(be: bool, btype: u32, body: &[u8]) -> Vec<u8> {
    let u32b = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
    let pad = (4 - body.len() % 4) % 4;
    let len = (12 + body.len() + pad) as u32;
    let mut b = Vec::new();
    b.extend_from_slice(&u32b(btype));
    b.extend_from_slice(&u32b(len));
    b.extend_from_slice(body);
    b.resize(b.len() + pad, 0);
    b.extend_from_slice(&u32b(len));
    b
}

struct Ng {
    be: bool,
}

impl Ng {
    fn u16(&self, v: u16) -> [u8; 2] {
        if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
    fn u32(&self, v: u32) -> [u8; 4] {
        if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
    fn shb(&self) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&self.u32(0x1A2B_3C4D));
        body.extend_from_slice(&self.u16(1));
        body.extend_from_slice(&self.u16(0));
        body.extend_from_slice(&[0xFF; 8]);
        block(self.be, 0x0A0D_0D0A, &body)
    }
    /// IDB with raw options (code, value).
    fn idb(&self, linktype: u16, snaplen: u32, opts: &[(u16, &[u8])]) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&self.u16(linktype));
        body.extend_from_slice(&[0, 0]);
        body.extend_from_slice(&self.u32(snaplen));
        for (code, val) in opts {
            body.extend_from_slice(&self.u16(*code));
            body.extend_from_slice(&self.u16(val.len() as u16));
            body.extend_from_slice(val);
            body.resize(body.len().next_multiple_of(4), 0);
        }
        if !opts.is_empty() {
            body.extend_from_slice(&[0; 4]);
        }
        block(self.be, 1, &body)
    }
    fn epb(&self, iface: u32, ts: u64, data: &[u8], len: u32) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&self.u32(iface));
        body.extend_from_slice(&self.u32((ts >> 32) as u32));
        body.extend_from_slice(&self.u32(ts as u32));
        body.extend_from_slice(&self.u32(data.len() as u32));
        body.extend_from_slice(&self.u32(len));
        body.extend_from_slice(data);
        block(self.be, 6, &body)
    }
    fn pb(&self, iface: u16, ts: u64, data: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&self.u16(iface));
        body.extend_from_slice(&self.u16(0));
        body.extend_from_slice(&self.u32((ts >> 32) as u32));
        body.extend_from_slice(&self.u32(ts as u32));
        body.extend_from_slice(&self.u32(data.len() as u32));
        body.extend_from_slice(&self.u32(data.len() as u32));
        body.extend_from_slice(data);
        block(self.be, 2, &body)
    }
    fn spb(&self, len: u32, data: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&self.u32(len));
        body.extend_from_slice(data);
        block(self.be, 3, &body)
    }
}

/// A small valid pcapng: two sections of different byte orders, several interfaces and
/// block types.
fn sample_pcapng() -> Vec<u8> {
    let le = Ng { be: false };
    let be = Ng { be: true };
    let mut f = le.shb();
    f.extend(block(false, 4, &[1, 0, 4, 0, 10, 0, 0, 1, 0, 0, 0, 0])); // NRB
    f.extend(le.idb(1, 0, &[]));
    f.extend(le.idb(113, 100, &[(9, &[9]), (14, &10i64.to_le_bytes())]));
    f.extend(le.epb(0, 1_500_000, &[0xAA; 14], 60));
    f.extend(le.epb(1, 2_000_000_001, &[0xBB; 5], 5));
    f.extend(block(false, 0x0BAD, &[0; 20])); // custom block
    f.extend(le.spb(64, &[0xCC; 64]));
    f.extend(le.pb(0, 7, &[0xDD; 3]));
    f.extend(block(false, 5, &[0; 20])); // ISB
    f.extend(be.shb());
    f.extend(be.idb(101, 65535, &[(9, &[0x80 | 10])]));
    f.extend(be.epb(0, 3 * 1024 + 512, &[0xEE; 9], 9));
    f
}

#[test]
fn pcapng_sections_interfaces_and_block_types() {
    let out = read_bytes(&sample_pcapng()).unwrap();
    assert!(out.error.is_none(), "{:?}", out.error);
    let got: Vec<(u64, u32, u32, u32, u16)> = out
        .records
        .iter()
        .map(|r| (r.ts_ns, r.caplen, r.len, r.interface, r.linktype))
        .collect();
    assert_eq!(
        got,
        vec![
            (1_500_000_000, 14, 60, 0, 1),                  // µs default
            (2_000_000_001 + 10_000_000_000, 5, 5, 1, 113), // ns + 10 s offset
            (0, 64, 64, 0, 1),                              // SPB: no timestamp
            (7_000, 3, 3, 0, 1),                            // obsolete PB
            (3_500_000_000, 9, 9, 0, 101),                  // 2^-10 s units, big-endian
        ]
    );
    assert_eq!(out.records[2].data, vec![0xCC; 64]);
}

#[test]
fn spb_caplen_is_min_of_len_and_snaplen() {
    let le = Ng { be: false };
    let mut f = le.shb();
    f.extend(le.idb(1, 16, &[]));
    f.extend(le.spb(100, &[1; 16]));
    let out = read_bytes(&f).unwrap();
    assert!(out.error.is_none());
    assert_eq!((out.records[0].caplen, out.records[0].len), (16, 100));
    // A block too short for min(len, snaplen) bytes is an error (as in libpcap).
    let mut f = le.shb();
    f.extend(le.idb(1, 0, &[]));
    f.extend(le.spb(100, &[1; 16]));
    assert!(matches!(
        read_bytes(&f).unwrap().error,
        Some(PcapError::BadBlock { .. })
    ));
}

#[test]
fn every_truncation_point_is_an_error_or_a_clean_prefix() {
    let mut pcap = Writer::new(Vec::new(), Format::Pcap(TsResolution::Nano)).unwrap();
    for i in 0..4u8 {
        pcap.write(u64::from(i) * 1000, &vec![i; 10 + usize::from(i)], 60)
            .unwrap();
    }
    let pcap = pcap.into_inner().unwrap();
    for full in [pcap, sample_pcapng()] {
        let complete = read_bytes(&full).unwrap().records;
        let mut boundaries = 0;
        for cut in 0..full.len() {
            let part = &full[..cut];
            match read_bytes(part) {
                Err(PcapError::Truncated {
                    offset,
                    got,
                    needed,
                }) => {
                    assert!(offset + got <= cut as u64 && got < needed, "cut {cut}");
                }
                Err(e) => panic!("cut {cut}: unexpected header error {e}"),
                Ok(out) => {
                    assert!(complete.starts_with(&out.records), "cut {cut}");
                    match out.error {
                        Some(PcapError::Truncated {
                            offset,
                            got,
                            needed,
                        }) => {
                            assert!(offset <= cut as u64 && got < needed, "cut {cut}");
                            assert_eq!(offset + got, cut as u64, "cut {cut}");
                        }
                        Some(e) => panic!("cut {cut}: {e}"),
                        None => boundaries += 1,
                    }
                }
            }
        }
        assert!(boundaries >= 4, "some cuts fall on record boundaries");
    }
}

fn pcap_header(be: bool, magic: u32, major: u16, minor: u16, snaplen: u32, lt: u32) -> Vec<u8> {
    let mut h = Vec::new();
    let u32b = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
    let u16b = |v: u16| if be { v.to_be_bytes() } else { v.to_le_bytes() };
    h.extend_from_slice(&u32b(magic));
    h.extend_from_slice(&u16b(major));
    h.extend_from_slice(&u16b(minor));
    h.extend_from_slice(&[0; 8]);
    h.extend_from_slice(&u32b(snaplen));
    h.extend_from_slice(&u32b(lt));
    h
}

fn pcap_record(be: bool, sec: u32, frac: u32, caplen: u32, len: u32, data: &[u8]) -> Vec<u8> {
    let u32b = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
    let mut r = Vec::new();
    for v in [sec, frac, caplen, len] {
        r.extend_from_slice(&u32b(v));
    }
    r.extend_from_slice(data);
    r
}

#[test]
fn classic_pcap_variants() {
    // Big-endian µs, FCS bits in the link-type field.
    let mut f = pcap_header(
        true,
        0xa1b2_c3d4,
        2,
        4,
        65535,
        0x0400_0000 | 0x2000_0000 | 1,
    );
    f.extend(pcap_record(true, 10, 20, 4, 8, &[1, 2, 3, 4]));
    let r = Reader::new(&f[..]).unwrap();
    assert!(r.big_endian());
    assert_eq!(r.format(), Format::Pcap(TsResolution::Micro));
    assert_eq!(r.interfaces()[0].fcs_len, Some(4));
    assert_eq!(r.linktype(), Some(1));
    let out = read_bytes(&f).unwrap();
    assert_eq!(out.records[0].ts_ns, 10_000_020_000);

    // Version 2.2: caplen and len swapped; 2.3: swapped only when caplen > len.
    for (minor, caplen_field, len_field, want) in
        [(2, 8, 4, (4, 8)), (3, 8, 4, (4, 8)), (3, 4, 8, (4, 8))]
    {
        let mut f = pcap_header(false, 0xa1b2_c3d4, 2, minor, 65535, 1);
        f.extend(pcap_record(false, 0, 0, caplen_field, len_field, &[9; 4]));
        let out = read_bytes(&f).unwrap();
        assert!(out.error.is_none(), "2.{minor}");
        assert_eq!(
            (out.records[0].caplen, out.records[0].len),
            want,
            "2.{minor}"
        );
    }

    // caplen > len passes through; caplen > snaplen is cut to the snaplen.
    let mut f = pcap_header(false, 0xa1b2_3c4d, 2, 4, 3, 1);
    f.extend(pcap_record(false, 0, 5, 4, 2, &[1, 2, 3, 4]));
    let out = read_bytes(&f).unwrap();
    assert_eq!((out.records[0].caplen, out.records[0].len), (3, 2));
    assert_eq!(out.records[0].data, vec![1, 2, 3]);
    assert_eq!(out.records[0].ts_ns, 5);

    // Kuznetzov's 24-byte record headers.
    let mut f = pcap_header(false, 0xa1b2_cd34, 2, 4, 65535, 1);
    let mut rec = pcap_record(false, 1, 2, 2, 2, &[]);
    rec.extend_from_slice(&[0; 8]);
    rec.extend_from_slice(&[7, 8]);
    f.extend(rec);
    let out = read_bytes(&f).unwrap();
    assert_eq!(out.records[0].data, vec![7, 8]);
}

#[test]
fn malformed_headers() {
    assert!(matches!(
        read_bytes(b""),
        Err(PcapError::Truncated {
            offset: 0,
            got: 0,
            ..
        })
    ));
    assert!(matches!(
        read_bytes(b"GIF89a......"),
        Err(PcapError::BadMagic { .. })
    ));
    let f = pcap_header(false, 0xa1b2_c3d4, 3, 0, 65535, 1);
    assert!(matches!(
        read_bytes(&f),
        Err(PcapError::UnsupportedVersion { major: 3, .. })
    ));
    let f = pcap_header(false, 0xa1b2_c3d4, 1, 4, 65535, 1);
    assert!(matches!(
        read_bytes(&f),
        Err(PcapError::UnsupportedVersion { major: 1, .. })
    ));
    // pcapng: wrong major version, bad byte-order magic, short SHB.
    let le = Ng { be: false };
    let mut shb = le.shb();
    shb[12] = 2;
    assert!(matches!(
        read_bytes(&shb),
        Err(PcapError::UnsupportedVersion { major: 2, .. })
    ));
    let mut shb = le.shb();
    shb[8] = 0;
    assert!(matches!(read_bytes(&shb), Err(PcapError::BadMagic { .. })));
    let shb = block(false, 0x0A0D_0D0A, &0x1A2B_3C4Du32.to_le_bytes());
    assert!(matches!(read_bytes(&shb), Err(PcapError::BadBlock { .. })));
}

#[test]
fn malformed_records_and_blocks() {
    // Huge caplen in a classic record: rejected before any allocation.
    let mut f = pcap_header(false, 0xa1b2_c3d4, 2, 4, 65535, 1);
    f.extend(pcap_record(false, 0, 0, u32::MAX, u32::MAX, &[]));
    assert!(matches!(
        read_bytes(&f).unwrap().error,
        Some(PcapError::RecordTooLarge {
            offset: 24,
            caplen: u32::MAX,
            ..
        })
    ));

    let le = Ng { be: false };
    let head = || {
        let mut f = le.shb();
        f.extend(le.idb(1, 0, &[]));
        f
    };
    let err_of = |tail: &[u8]| {
        let mut f = head();
        f.extend_from_slice(tail);
        read_bytes(&f).unwrap().error
    };
    // Zero-length block, length not a multiple of 4, gigantic length.
    assert!(matches!(
        err_of(&[6, 0, 0, 0, 0, 0, 0, 0]),
        Some(PcapError::BadBlock { .. })
    ));
    assert!(matches!(
        err_of(&[6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        Some(PcapError::BadBlock { .. })
    ));
    assert!(matches!(
        err_of(&[77, 0, 0, 0, 13, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        Some(PcapError::BadBlock { .. })
    ));
    assert!(matches!(
        err_of(&[6, 0, 0, 0, 0xF0, 0xFF, 0xFF, 0xFF]),
        Some(PcapError::BlockTooLarge { .. })
    ));
    assert!(matches!(
        err_of(&[77, 0, 0, 0, 0xF0, 0xFF, 0xFF, 0xFF]),
        Some(PcapError::BlockTooLarge { .. })
    ));
    // Unknown interface id.
    assert!(matches!(
        err_of(&le.epb(5, 0, &[1, 2], 2)),
        Some(PcapError::UnknownInterface {
            id: 5,
            known: 1,
            ..
        })
    ));
    // caplen larger than the block, or huge.
    let mut epb = le.epb(0, 0, &[1, 2, 3, 4], 4);
    epb[20] = 200;
    assert!(matches!(err_of(&epb), Some(PcapError::BadBlock { .. })));
    epb[20..24].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        err_of(&epb),
        Some(PcapError::RecordTooLarge { .. })
    ));
    // Trailer differs from the header.
    let mut epb = le.epb(0, 0, &[1, 2, 3, 4], 4);
    let n = epb.len();
    epb[n - 4] ^= 4;
    assert!(matches!(err_of(&epb), Some(PcapError::BadBlock { .. })));
    let mut skipped = block(false, 0x0BAD, &[0; 8]);
    let n = skipped.len();
    skipped[n - 4] ^= 4;
    assert!(matches!(err_of(&skipped), Some(PcapError::BadBlock { .. })));
    // A packet block before any IDB.
    let mut f = le.shb();
    f.extend(le.epb(0, 0, &[1], 1));
    assert!(matches!(
        read_bytes(&f).unwrap().error,
        Some(PcapError::UnknownInterface {
            id: 0,
            known: 0,
            ..
        })
    ));
    // Bad IDB options: wrong if_tsresol length, resolution too fine, option past the end.
    for opts in [
        &[(9u16, &[9u8, 9][..])][..],
        &[(9, &[20])],
        &[(9, &[0x80 | 64])],
        &[(14, &[0; 4])],
    ] {
        let mut f = le.shb();
        f.extend(le.idb(1, 0, opts));
        assert!(
            matches!(
                read_bytes(&f),
                Err(PcapError::BadBlock { block_type: 1, .. })
            ),
            "{opts:?}"
        );
    }
    let mut idb = le.idb(1, 0, &[(2, b"eth0")]);
    idb[18] = 200; // option length past the block
    let mut f = le.shb();
    f.extend(idb);
    assert!(matches!(read_bytes(&f), Err(PcapError::BadBlock { .. })));
}

#[test]
fn timestamps_saturate() {
    let le = Ng { be: false };
    let mut f = le.shb();
    f.extend(le.idb(1, 0, &[(9, &[0]), (14, &(-5i64).to_le_bytes())])); // seconds, -5 s
    f.extend(le.epb(0, 3, &[1], 1)); // 3 s - 5 s: before the epoch -> 0
    f.extend(le.epb(0, u64::MAX, &[1], 1)); // 2^64 s: saturates
    f.extend(le.shb());
    f.extend(le.idb(1, 0, &[(9, &[19])])); // 10^-19 s units
    f.extend(le.epb(0, u64::MAX, &[1], 1));
    let out = read_bytes(&f).unwrap();
    assert!(out.error.is_none());
    let ts: Vec<u64> = out.records.iter().map(|r| r.ts_ns).collect();
    assert_eq!(ts, vec![0, u64::MAX, u64::MAX / 10_000_000_000]);
}

#[test]
fn writer_refuses_classic_timestamps_past_2106() {
    let mut w = Writer::new(Vec::new(), Format::Pcap(TsResolution::Micro)).unwrap();
    let late = (u64::from(u32::MAX) + 1) * 1_000_000_000;
    assert!(matches!(
        w.write(late, &[1], 1),
        Err(PcapError::TimestampOutOfRange { .. })
    ));
    assert_eq!(w.packets_written(), 0);
    w.write(late - 1, &[1], 1).unwrap();
    let out = read_bytes(&w.into_inner().unwrap()).unwrap();
    assert_eq!(out.records[0].ts_ns, late - 1000);
}

#[test]
fn max_record_len_is_settable() {
    let mut w = Writer::new(Vec::new(), Format::PcapNg).unwrap();
    w.write(0, &[0; 1000], 1000).unwrap();
    let bytes = w.into_inner().unwrap();
    let mut r = Reader::new(&bytes[..]).unwrap();
    r.set_max_record_len(999);
    assert_eq!(r.max_record_len(), 999);
    assert!(matches!(
        r.next(),
        Err(PcapError::RecordTooLarge {
            caplen: 1000,
            max: 999,
            ..
        })
    ));
    assert!(matches!(r.next(), Ok(None)));
}

// ---- random input -------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
        let _ = read_bytes(&bytes);
    }

    #[test]
    fn random_tails_after_valid_headers_never_panic(
        ng in any::<bool>(),
        tail in proptest::collection::vec(any::<u8>(), 0..1024),
    ) {
        let mut f = if ng {
            let le = Ng { be: false };
            let mut f = le.shb();
            f.extend(le.idb(1, 0, &[(9, &[9])]));
            f
        } else {
            pcap_header(false, 0xa1b2_c3d4, 2, 4, 65535, 1)
        };
        f.extend(tail);
        let _ = read_bytes(&f);
    }

    #[test]
    fn mutated_valid_files_never_panic(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut f = sample_pcapng();
        for (i, b) in flips {
            let at = i.index(f.len());
            f[at] = b;
        }
        let _ = read_bytes(&f);
    }
}

// ---- throughput (not a test: run on demand) -----------------------------------------------

/// Reading and writing speed, side by side with `tcpdump -r FILE -w /dev/null` on the same
/// files. Run with
/// `cargo test --release -p pfring --test pcap_files -- --ignored --nocapture throughput`.
#[test]
#[ignore = "benchmark; run on demand with --release"]
fn throughput() {
    use std::time::{Duration, Instant};
    fn best<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
        let mut best = Duration::MAX;
        let mut out = None;
        for _ in 0..runs {
            let t = Instant::now();
            let v = f();
            best = best.min(t.elapsed());
            out = Some(v);
        }
        (best, out.unwrap())
    }
    let per = |d: Duration, n: u64| d.as_nanos() as f64 / n as f64;

    // The shared test data, from memory, looped.
    if let Some(dir) = testdata_dir() {
        let files: Vec<Vec<u8>> = testdata_files(&dir)
            .iter()
            .map(|p| std::fs::read(p).unwrap())
            .collect();
        let (d, n) = best(3, || {
            let mut n = 0u64;
            for _ in 0..100 {
                for f in &files {
                    let Ok(mut r) = Reader::new(&f[..]) else {
                        continue;
                    };
                    while let Ok(Some(rec)) = r.next() {
                        n += u64::from(rec.caplen > 0);
                    }
                }
            }
            n
        });
        println!(
            "test data x100 from memory: {n} records, {:.1} ns/record (incl. opening 26400 readers)",
            per(d, n)
        );
    }

    let tcpdump = have_tool("tcpdump");
    for (size, count) in [(64usize, 2_000_000u64), (1514, 500_000)] {
        for format in FORMATS {
            let path = tmp_path(&format!("bench-{size}-{format:?}"));
            let frame = vec![0x5Au8; size];
            let (dw, ()) = best(3, || {
                let mut w = Writer::new(std::fs::File::create(&path).unwrap(), format).unwrap();
                for i in 0..count {
                    w.write(1_700_000_000_000_000_000 + i * 1000, &frame, size as u32)
                        .unwrap();
                }
                w.into_inner().unwrap();
            });
            let (dr, n) = best(3, || {
                let mut r = Reader::open(&path).unwrap();
                let mut n = 0u64;
                while let Some(rec) = r.next().unwrap() {
                    n += u64::from(rec.data.len() == size);
                }
                n
            });
            assert_eq!(n, count);
            let bytes = std::fs::read(&path).unwrap();
            let (dm, n) = best(3, || {
                let mut r = Reader::new(&bytes[..]).unwrap();
                let mut n = 0u64;
                while let Some(rec) = r.next().unwrap() {
                    n += u64::from(rec.data.len() == size);
                }
                n
            });
            assert_eq!(n, count);
            drop(bytes);
            let (drw, ()) = best(3, || {
                let mut r = Reader::open(&path).unwrap();
                let mut w =
                    Writer::new(std::fs::File::create("/dev/null").unwrap(), format).unwrap();
                while let Some(rec) = r.next().unwrap() {
                    w.write_record(&rec).unwrap();
                }
                w.into_inner().unwrap();
            });
            let mut line = format!(
                "{size:>4} B {format:<18?} write {:6.1} ns/pkt  read {:5.1} ns/pkt (from memory {:5.1})  read+write /dev/null {:5.1} ns/pkt",
                per(dw, count),
                per(dr, count),
                per(dm, count),
                per(drw, count)
            );
            if tcpdump {
                let (dt, ok) = best(3, || {
                    Command::new("tcpdump")
                        .args(["-r"])
                        .arg(&path)
                        .args(["-w", "/dev/null"])
                        .output()
                        .unwrap()
                        .status
                        .success()
                });
                assert!(ok);
                line += &format!(
                    "  | tcpdump -r -w /dev/null {:5.1} ns/pkt (ratio {:.2})",
                    per(dt, count),
                    drw.as_secs_f64() / dt.as_secs_f64()
                );
            }
            println!("{line}");
            let _ = std::fs::remove_file(&path);
        }
    }
}
