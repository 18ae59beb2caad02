//! Debian's stock tcpdump (installed from packages, not rebuilt) on our libpcap: started with
//! `LD_LIBRARY_PATH` pointing at a directory with `libpcap.so.0.8 -> libpfring_pcap.so`.
//!
//! Live tests build their own network namespace and veth pair, send real frames, and compare
//! what tcpdump wrote with what was sent. Without tcpdump or privileges they print a skip
//! reason (and fail when `PFRING_REQUIRE_PRIVILEGED=1`, as in CI). Every wait is bounded;
//! only the tcpdump processes a test started are signalled, by PID.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pfring::pcap::Reader;
use pfring_testkit::{FrameBuilder, NetNs, RawSender, VethPair, require_privileged};

/// Where Debian's tcpdump is, or a skip (a failure under `PFRING_REQUIRE_PRIVILEGED=1`).
fn tcpdump() -> Option<PathBuf> {
    for p in ["/usr/bin/tcpdump", "/usr/sbin/tcpdump"] {
        if Path::new(p).exists() {
            return Some(PathBuf::from(p));
        }
    }
    if std::env::var("PFRING_REQUIRE_PRIVILEGED").is_ok_and(|v| v == "1") {
        panic!("tcpdump is not installed (apt-get install tcpdump)");
    }
    eprintln!("skipping: tcpdump is not installed");
    None
}

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let p = std::env::temp_dir().join(format!("pfring-pcap-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A directory holding `libpcap.so.0.8 -> <our cdylib>` (what a user's install step makes).
fn shim_dir() -> TempDir {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    let so = [
        deps.join("libpfring_pcap.so"),
        deps.parent().unwrap().join("libpfring_pcap.so"),
    ]
    .into_iter()
    .find(|p| p.exists())
    .expect("libpfring_pcap.so next to the test binary (built with the crate)");
    let dir = TempDir::new("lib");
    std::os::unix::fs::symlink(&so, dir.0.join("libpcap.so.0.8")).unwrap();
    dir
}

/// A tcpdump we started: killed (by PID) and reaped if still running when dropped.
struct Tcpdump {
    child: Child,
    stderr: Arc<Mutex<String>>,
}

impl Tcpdump {
    fn spawn(ns: &NetNs, mut cmd: Command) -> Tcpdump {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = ns.spawn(&mut cmd).expect("spawn tcpdump");
        let stderr = Arc::new(Mutex::new(String::new()));
        let err = child.stderr.take().unwrap();
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        Tcpdump { child, stderr }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits (at most 10 s) for "listening on": the filter is attached and the ring bound.
    fn wait_listening(&mut self) {
        self.wait_for("listening on");
    }

    /// Waits (at most 10 s) for `line` on stderr.
    fn wait_for(&mut self, line: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.stderr().contains(line) {
                return;
            }
            if let Some(st) = self.child.try_wait().unwrap() {
                panic!("tcpdump exited early ({st}): {}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("tcpdump did not start listening: {}", self.stderr());
    }

    /// Waits (at most `limit`) for the process to exit; its status code.
    fn wait_exit(&mut self, limit: Duration) -> i32 {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                // Give the stderr reader a moment to collect the last lines.
                std::thread::sleep(Duration::from_millis(50));
                return st.code().unwrap_or(-1);
            }
            if Instant::now() >= deadline {
                panic!("tcpdump still running after {limit:?}: {}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGINT (tcpdump's handler calls pcap_breakloop), then waits for the exit.
    fn interrupt(&mut self) -> i32 {
        // SAFETY: kill(2) on the PID of a child we spawned and have not reaped.
        let r = unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGINT) };
        assert_eq!(r, 0, "kill -INT {}", self.child.id());
        self.wait_exit(Duration::from_secs(10))
    }
}

impl Drop for Tcpdump {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `tcpdump` with our library (`-Z root`: Debian's tcpdump would otherwise switch to the
/// `tcpdump` user before creating the output file).
fn tcpdump_cmd(bin: &Path, lib: &TempDir, args: &[&str]) -> Command {
    let mut c = Command::new(bin);
    c.env("LD_LIBRARY_PATH", &lib.0)
        .env_remove("PCAP_PF_RING_CLUSTER_ID")
        .arg("-Z")
        .arg("root")
        .args(args);
    c
}

/// The records of a pcap file: (data, wire length, timestamp ns).
fn records(path: &Path) -> Vec<(Vec<u8>, u32, u64)> {
    let mut r = Reader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    while let Some(rec) = r.next().unwrap() {
        out.push((rec.data.to_vec(), rec.len, rec.ts_ns));
    }
    out
}

/// UDP frames of 60..=300 bytes from `sport` to `dport`, payload tagged with the sequence.
fn frame(seq: u64, sport: u16, dport: u16) -> Vec<u8> {
    FrameBuilder::udp()
        .ports(sport, dport)
        .build_len(seq, 60 + (seq as usize * 37) % 241)
}

#[test]
fn tcpdump_loads_our_library_and_reports_its_version() {
    let Some(bin) = tcpdump() else { return };
    let lib = shim_dir();
    let ldd = Command::new("ldd")
        .arg(&bin)
        .env("LD_LIBRARY_PATH", &lib.0)
        .output()
        .expect("ldd");
    let text = String::from_utf8_lossy(&ldd.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("libpcap.so.0.8"))
        .unwrap_or_else(|| panic!("tcpdump does not link libpcap.so.0.8: {text}"));
    assert!(
        line.contains(lib.0.to_str().unwrap()),
        "ldd resolves libpcap elsewhere: {line}"
    );
    let out = tcpdump_cmd(&bin, &lib, &["--version"]).output().unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{all}");
    assert!(
        all.contains(pfring_pcap::LIB_VERSION),
        "pcap_lib_version not ours: {all}"
    );
    // Every libpcap symbol tcpdump imports is defined by our library.
    let nm = Command::new("nm")
        .args(["-D", "--undefined-only"])
        .arg(&bin)
        .output();
    let ours = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(lib.0.join("libpcap.so.0.8"))
        .output();
    if let (Ok(nm), Ok(ours)) = (nm, ours) {
        let defined: HashSet<String> = String::from_utf8_lossy(&ours.stdout)
            .lines()
            .filter_map(|l| l.split_whitespace().nth(2).map(str::to_owned))
            .collect();
        let wanted: Vec<String> = String::from_utf8_lossy(&nm.stdout)
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .map(|s| s.split('@').next().unwrap_or(s).to_owned())
            .filter(|s| s.starts_with("pcap_") || s.starts_with("bpf_"))
            .collect();
        assert!(wanted.len() >= 40, "{wanted:?}");
        let missing: Vec<_> = wanted.iter().filter(|s| !defined.contains(*s)).collect();
        assert!(missing.is_empty(), "not exported: {missing:?}");
    }
}

#[test]
fn captures_exactly_n_frames_to_a_file() {
    require_privileged!();
    let Some(bin) = tcpdump() else { return };
    let lib = shim_dir();
    let tmp = TempDir::new("cap");
    let file = tmp.0.join("n.pcap");
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "pca", "pcb").unwrap();
    const N: u64 = 500;
    let mut td = Tcpdump::spawn(
        &ns,
        tcpdump_cmd(
            &bin,
            &lib,
            &[
                "-i",
                veth.b(),
                "-c",
                &N.to_string(),
                "-w",
                file.to_str().unwrap(),
            ],
        ),
    );
    td.wait_listening();
    let tx = RawSender::new(veth.a()).unwrap();
    let frames: Vec<Vec<u8>> = (0..N).map(|i| frame(i, 1000, 2000)).collect();
    let t0 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    tx.send_all(&frames).unwrap();
    let code = td.wait_exit(Duration::from_secs(15));
    let err = td.stderr();
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(&format!("{N} packets captured")), "{err}");
    assert!(err.contains("0 packets dropped by kernel"), "{err}");
    let got = records(&file);
    assert_eq!(got.len() as u64, N);
    for (i, (data, len, ts)) in got.iter().enumerate() {
        assert_eq!(data, &frames[i], "bytes of frame {i}");
        assert_eq!(*len as usize, frames[i].len());
        // µs timestamps from the ring, taken after we started sending.
        assert!(
            *ts + 1_000 >= t0 && *ts < t0 + 60_000_000_000,
            "ts {ts} vs {t0}"
        );
        assert_eq!(ts % 1_000, 0, "a µs savefile");
    }
}

#[test]
fn filter_udp_port_7_passes_only_matching_frames() {
    require_privileged!();
    let Some(bin) = tcpdump() else { return };
    let lib = shim_dir();
    let tmp = TempDir::new("flt");
    let file = tmp.0.join("f.pcap");
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "pfa", "pfb").unwrap();
    // 600 frames: every third to port 7 (200), the others to ports 9 and 70.
    let frames: Vec<Vec<u8>> = (0..600u64)
        .map(|i| {
            let dport = [7, 9, 70][i as usize % 3];
            frame(i, 40_000 + i as u16, dport)
        })
        .collect();
    let wanted: Vec<&Vec<u8>> = frames.iter().step_by(3).collect();
    // One more than will match: tcpdump must be stopped, and must not have seen others.
    let mut td = Tcpdump::spawn(
        &ns,
        tcpdump_cmd(
            &bin,
            &lib,
            &[
                "-i",
                veth.b(),
                "-U",
                "--time-stamp-precision=nano",
                "-w",
                file.to_str().unwrap(),
                "udp",
                "port",
                "7",
            ],
        ),
    );
    td.wait_listening();
    let tx = RawSender::new(veth.a()).unwrap();
    tx.send_all(&frames).unwrap();
    // Packet-buffered output (-U): wait until the 200 matching frames are in the file.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut n = 0;
    while Instant::now() < deadline {
        n = std::fs::metadata(&file).map_or(0, |m| m.len());
        let expect: u64 = 24 + wanted.iter().map(|f| 16 + f.len() as u64).sum::<u64>();
        if n >= expect {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // A little longer, so that any non-matching frame would have arrived too.
    std::thread::sleep(Duration::from_millis(300));
    let code = td.interrupt();
    assert_eq!(code, 0, "{}", td.stderr());
    let got = records(&file);
    assert_eq!(
        got.len(),
        wanted.len(),
        "file of {n} bytes: {}",
        td.stderr()
    );
    for (i, (data, _, ts)) in got.iter().enumerate() {
        assert_eq!(data, wanted[i], "frame {i}");
        assert!(*ts > 0);
    }
    // Nanosecond precision: a nanosecond savefile (magic a1b23c4d).
    let magic = &std::fs::read(&file).unwrap()[..4];
    assert_eq!(magic, 0xa1b2_3c4du32.to_le_bytes());
    assert!(
        td.stderr().contains("200 packets captured"),
        "{}",
        td.stderr()
    );
}

#[test]
fn reads_files_with_r_like_system_libpcap() {
    let Some(bin) = tcpdump() else { return };
    let lib = shim_dir();
    let tmp = TempDir::new("rd");
    let file = tmp.0.join("in.pcap");
    {
        let f = std::fs::File::create(&file).unwrap();
        let mut w = pfring::pcap::Writer::new(
            f,
            pfring::pcap::Format::Pcap(pfring::pcap::TsResolution::Nano),
        )
        .unwrap();
        for i in 0..300u64 {
            let dport = if i % 2 == 0 { 7 } else { 53 };
            let f = frame(i, 5000 + i as u16, dport);
            w.write(
                1_700_000_000_000_000_000 + i * 1_234_567,
                &f,
                f.len() as u32,
            )
            .unwrap();
        }
        w.flush().unwrap();
    }
    let run = |shim: bool, extra: &[&str]| -> String {
        let mut c = Command::new(&bin);
        if shim {
            c.env("LD_LIBRARY_PATH", &lib.0);
        } else {
            c.env_remove("LD_LIBRARY_PATH");
        }
        c.args(["-n", "-tt", "-r"]).arg(&file).args(extra);
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    for extra in [
        &[][..],
        &["udp", "port", "7"][..],
        &["--time-stamp-precision=nano", "udp", "port", "53"][..],
        &["-c", "5", "-e"][..],
    ] {
        let ours = run(true, extra);
        let theirs = run(false, extra);
        assert!(!ours.is_empty());
        assert_eq!(ours, theirs, "tcpdump -r {extra:?}");
    }
    assert_eq!(run(true, &["udp", "port", "7"]).lines().count(), 150);
    // -w from -r: our dumper writes what system libpcap reads back identically.
    let copy = tmp.0.join("copy.pcap");
    let out = tcpdump_cmd(&bin, &lib, &["-r", file.to_str().unwrap(), "-w"])
        .arg(&copy)
        .arg("udp port 53")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = records(&copy);
    assert_eq!(a.len(), 150);
    // A bad file: an error naming it, not a crash.
    let bad = tmp.0.join("bad.pcap");
    std::fs::write(&bad, b"not a capture file at all").unwrap();
    let out = tcpdump_cmd(&bin, &lib, &["-r", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("bad.pcap"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn two_tcpdumps_in_a_cluster_split_1000_flows() {
    require_privileged!();
    let Some(bin) = tcpdump() else { return };
    let lib = shim_dir();
    let tmp = TempDir::new("cl");
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "cla", "clb").unwrap();
    let cluster = (std::process::id() % 60_000 + 1000).to_string();
    let files: Vec<PathBuf> = (0..2).map(|i| tmp.0.join(format!("c{i}.pcap"))).collect();
    let mut tds: Vec<Tcpdump> = files
        .iter()
        .map(|f| {
            let mut c = tcpdump_cmd(
                &bin,
                &lib,
                &["-i", veth.b(), "-U", "-w", f.to_str().unwrap()],
            );
            c.env("PCAP_PF_RING_CLUSTER_ID", &cluster)
                .env("PCAP_PF_RING_USE_CLUSTER_PER_FLOW_5_TUPLE", "1");
            Tcpdump::spawn(&ns, c)
        })
        .collect();
    for t in &mut tds {
        t.wait_listening();
    }
    // 1,000 flows (source ports), 3 frames each, interleaved.
    const FLOWS: u64 = 1000;
    let frames: Vec<Vec<u8>> = (0..3 * FLOWS)
        .map(|i| frame(i, 10_000 + (i % FLOWS) as u16, 53))
        .collect();
    let tx = RawSender::new(veth.a()).unwrap();
    tx.send_all(&frames).unwrap();
    let total_bytes: u64 = frames.iter().map(|f| 16 + f.len() as u64).sum::<u64>() + 2 * 24;
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let have: u64 = files
            .iter()
            .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()))
            .sum();
        if have >= total_bytes {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    for t in &mut tds {
        assert_eq!(t.interrupt(), 0, "{}", t.stderr());
    }
    let flows_of = |f: &Path| -> (usize, HashSet<u16>) {
        let recs = records(f);
        let ports = recs
            .iter()
            .map(|(d, _, _)| u16::from_be_bytes([d[34], d[35]]))
            .collect();
        (recs.len(), ports)
    };
    let (n0, f0) = flows_of(&files[0]);
    let (n1, f1) = flows_of(&files[1]);
    assert_eq!(
        (n0 + n1) as u64,
        3 * FLOWS,
        "{} + {}: {} / {}",
        n0,
        n1,
        tds[0].stderr(),
        tds[1].stderr()
    );
    assert!(f0.is_disjoint(&f1), "a flow reached both members");
    assert_eq!((f0.len() + f1.len()) as u64, FLOWS);
    assert!(n0 > 0 && n1 > 0, "both members got traffic: {n0} / {n1}");
    assert_eq!(n0 % 3, 0);
}

#[test]
fn bad_device_and_bad_filter_are_tcpdump_errors() {
    require_privileged!();
    let Some(bin) = tcpdump() else { return };
    let lib = shim_dir();
    let ns = NetNs::new().unwrap();
    let out = ns
        .output(&mut tcpdump_cmd(
            &bin,
            &lib,
            &["-i", "nosuchdev0", "-c", "1"],
        ))
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("nosuchdev0"), "{err}");
    let out = ns
        .output(&mut tcpdump_cmd(
            &bin,
            &lib,
            &["-i", "lo", "-c", "1", "udp port"],
        ))
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("filter"), "{err}");
    // Without CAP_NET_RAW: libpcap's permission status and our reason.
    let mut c = ns.command(&bin);
    c.env("LD_LIBRARY_PATH", &lib.0)
        .args(["-i", "lo", "-c", "1"]);
    pfring_testkit::run_as_nobody(&mut c);
    let out = c.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("You don't have permission") && err.contains("CAP_NET_RAW"),
        "{err}"
    );
    // -d prints our compiler's program.
    let out = ns
        .output(&mut tcpdump_cmd(
            &bin,
            &lib,
            &["-i", "lo", "-d", "udp port 7"],
        ))
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    let expect = pfring::filter::Program::compile_for("udp port 7", pfring::BpfTarget::Kernel)
        .unwrap()
        .to_string();
    assert_eq!(text, expect);
}

#[test]
fn any_gives_cooked_v2_frames_like_libpcap() {
    require_privileged!();
    let Some(bin) = tcpdump() else { return };
    let lib = shim_dir();
    let tmp = TempDir::new("any");
    let file = tmp.0.join("any.pcap");
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "ana", "anb").unwrap();
    const N: u64 = 50;
    // -Q in: each frame once (received on anb), not also as it leaves ana.
    let mut td = Tcpdump::spawn(
        &ns,
        tcpdump_cmd(
            &bin,
            &lib,
            &[
                "-i",
                "any",
                "-Q",
                "in",
                "-c",
                &N.to_string(),
                "-w",
                file.to_str().unwrap(),
                "udp",
            ],
        ),
    );
    td.wait_listening();
    assert!(td.stderr().contains("LINUX_SLL2"), "{}", td.stderr());
    let tx = RawSender::new(veth.a()).unwrap();
    let frames: Vec<Vec<u8>> = (0..N).map(|i| frame(i, 1000, 2000)).collect();
    tx.send_all(&frames).unwrap();
    assert_eq!(td.wait_exit(Duration::from_secs(15)), 0, "{}", td.stderr());
    let r = Reader::open(&file).unwrap();
    assert_eq!(r.linktype(), Some(276));
    let got = records(&file);
    assert_eq!(got.len() as u64, N);
    let ifindex = veth.ifindex_b().unwrap();
    for (i, (data, len, _)) in got.iter().enumerate() {
        let f = &frames[i];
        assert_eq!(*len as usize, f.len() - 14 + 20);
        assert_eq!(&data[..2], &f[12..14], "protocol");
        assert_eq!(&data[4..8], &ifindex.to_be_bytes(), "ifindex");
        assert_eq!(&data[8..10], &[0, 1], "ARPHRD_ETHER");
        // FrameBuilder's destination MAC is not anb's: PACKET_OTHERHOST, as libpcap says.
        assert_eq!(data[10], 3, "packet type");
        assert_eq!(data[11], 6);
        assert_eq!(&data[12..18], &f[6..12], "source MAC");
        assert_eq!(&data[20..], &f[14..], "payload of frame {i}");
    }
}

#[test]
fn wiresharks_dumpcap_captures_through_the_shim_too() {
    require_privileged!();
    let bin = Path::new("/usr/bin/dumpcap");
    if !bin.exists() {
        eprintln!("skipping: dumpcap (wireshark-common) is not installed");
        return;
    }
    let lib = shim_dir();
    let tmp = TempDir::new("dc");
    let file = tmp.0.join("d.pcapng");
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "dca", "dcb").unwrap();
    const N: usize = 100;
    let mut c = Command::new(bin);
    c.env("LD_LIBRARY_PATH", &lib.0)
        .args([
            "-i",
            veth.b(),
            "-c",
            &N.to_string(),
            "-f",
            "udp port 2000",
            "-w",
        ])
        .arg(&file);
    let mut dc = Tcpdump::spawn(&ns, c);
    // dumpcap says "Capturing on" a little before its capture runs (with the system's
    // libpcap too), so send waves of frames until it has its N and exits (at most 60 waves).
    dc.wait_for("Capturing on");
    let tx = RawSender::new(veth.a()).unwrap();
    let mut sent: Vec<Vec<u8>> = Vec::new();
    for _ in 0..60 {
        if dc.child.try_wait().unwrap().is_some() {
            break;
        }
        // 40 frames, every other one matching the capture filter.
        let wave: Vec<Vec<u8>> = (0..40)
            .map(|k| {
                let i = sent.len() as u64 + k;
                frame(i, 1000, if i.is_multiple_of(2) { 2000 } else { 2001 })
            })
            .collect();
        tx.send_all(&wave).unwrap();
        sent.extend(wave);
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(dc.wait_exit(Duration::from_secs(15)), 0, "{}", dc.stderr());
    let got = records(&file);
    assert_eq!(got.len(), N, "{}", dc.stderr());
    // Only matching frames, and once the capture runs none is missed: N consecutive ones.
    let first = sent
        .iter()
        .position(|f| f == &got[0].0)
        .expect("first record is a frame we sent");
    let want: Vec<&Vec<u8>> = sent[first..].iter().step_by(2).take(N).collect();
    for (i, (data, _, _)) in got.iter().enumerate() {
        assert_eq!(data, want[i], "record {i}");
    }
}
