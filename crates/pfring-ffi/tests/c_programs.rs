//! The C test programs of `tests/c`, built with `cc` against `include/pfring.h` and the
//! libpfring this crate builds, run in network namespaces this test creates (veth pairs from
//! pfring-testkit), with exact counts asserted, and under valgrind (no invalid access, no
//! definite or indirect leak) when valgrind is installed.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use pfring_testkit::{FrameBuilder, NetNs, RawReceiver, RawSender, VethPair, require_privileged};

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Where libpfring.so / libpfring.a are: the profile directory this test binary runs from
/// (it lives in its `deps/`). `cargo test` does not build a cdylib/staticlib-only library for
/// integration tests, so the first call builds it with `cargo build -p pfring-ffi` (cargo does
/// not hold its build lock while tests run; up to date, this takes a fraction of a second).
fn lib_dir() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().expect("test binary path");
            let dir = exe
                .parent()
                .and_then(Path::parent)
                .expect("target/<profile>");
            let target = dir.parent().expect("target directory");
            let profile = dir
                .file_name()
                .and_then(|n| n.to_str())
                .expect("profile name");
            let profile = if profile == "debug" { "dev" } else { profile };
            let o = Command::new(env!("CARGO"))
                .current_dir(crate_dir())
                .args([
                    "build",
                    "-p",
                    "pfring-ffi",
                    "--profile",
                    profile,
                    "--target-dir",
                ])
                .arg(target)
                .output()
                .expect("run cargo build -p pfring-ffi");
            assert!(
                o.status.success(),
                "cargo build -p pfring-ffi: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            assert!(
                dir.join("libpfring.so").exists() && dir.join("libpfring.a").exists(),
                "libpfring.so/.a not found in {}",
                dir.display()
            );
            dir.to_path_buf()
        })
        .clone()
}

enum Link {
    Shared,
    Static,
}

/// Compiles `tests/c/<name>.c` (warnings are errors) once per test process and returns the
/// program's path (tests run in parallel: a second compile would replace a running binary).
fn build(name: &str, link: Link) -> PathBuf {
    static BUILT: Mutex<BTreeMap<String, PathBuf>> = Mutex::new(BTreeMap::new());
    let key = format!("{name}-{}", matches!(link, Link::Static));
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(p) = built.get(&key) {
        return p.clone();
    }
    let p = compile(name, link);
    built.insert(key, p.clone());
    p
}

fn compile(name: &str, link: Link) -> PathBuf {
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("c");
    std::fs::create_dir_all(&out_dir).unwrap();
    let lib = lib_dir();
    let suffix = match link {
        Link::Shared => "",
        Link::Static => "-static",
    };
    let out = out_dir.join(format!("{name}{suffix}"));
    let src = crate_dir().join("tests/c").join(format!("{name}.c"));
    let mut cmd = Command::new("cc");
    cmd.args(["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-g", "-O1"])
        .arg("-I")
        .arg(crate_dir().join("include"))
        .arg("-o")
        .arg(&out)
        .arg(&src);
    match link {
        Link::Shared => {
            cmd.arg("-L")
                .arg(&lib)
                .arg("-lpfring")
                .arg(format!("-Wl,-rpath,{}", lib.display()));
        }
        Link::Static => {
            cmd.arg(lib.join("libpfring.a"))
                .args(["-lpthread", "-ldl", "-lm", "-lrt", "-lgcc_s"]);
        }
    }
    cmd.arg("-lpthread");
    let o = cmd.output().expect("run cc (install a C compiler)");
    assert!(
        o.status.success(),
        "cc {name}.c failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// Compiles the C++ program `tests/c/<name>.cpp` against `pfring.hpp`.
fn build_cpp(name: &str) -> PathBuf {
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("c");
    std::fs::create_dir_all(&out_dir).unwrap();
    let lib = lib_dir();
    let out = out_dir.join(name);
    let o = Command::new("c++")
        .args(["-std=c++17", "-Wall", "-Wextra", "-Werror", "-g"])
        .arg("-I")
        .arg(crate_dir().join("include"))
        .arg("-o")
        .arg(&out)
        .arg(crate_dir().join("tests/c").join(format!("{name}.cpp")))
        .arg("-L")
        .arg(&lib)
        .arg("-lpfring")
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .output()
        .expect("run c++ (install g++)");
    assert!(
        o.status.success(),
        "c++ {name}.cpp failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

fn valgrind() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("valgrind"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        eprintln!(
            "valgrind not installed: the valgrind runs are skipped (apt-get install valgrind)"
        );
    }
    found
}

/// `program args` or, with `vg`, the same under valgrind (exit 99 on any error or leak).
fn command(vg: Option<&Path>, program: &Path, args: &[&str]) -> Command {
    match vg {
        None => {
            let mut c = Command::new(program);
            c.args(args);
            c
        }
        Some(v) => {
            let mut c = Command::new(v);
            c.args([
                "-q",
                "--error-exitcode=99",
                "--leak-check=full",
                "--errors-for-leak-kinds=definite,indirect",
            ])
            .arg(program)
            .args(args);
            c
        }
    }
}

/// A started program whose stdout lines arrive on a channel; killed (by its pid) if dropped
/// while running.
struct Proc {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Proc {
    fn spawn(ns: &NetNs, mut cmd: Command) -> Proc {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = ns
            .spawn(&mut cmd)
            .expect("spawn C program in the namespace");
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Proc {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits (bounded) for a line starting with `prefix`.
    fn wait_line(&mut self, prefix: &str, timeout: Duration) -> String {
        let end = Instant::now() + timeout;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if l.starts_with(prefix) {
                        return l;
                    }
                }
                Err(_) => panic!("no {prefix:?} line within {timeout:?}; saw {:?}", self.seen),
            }
        }
    }

    /// Waits (bounded) for the exit; returns the status, every stdout line and stderr.
    fn finish(mut self, timeout: Duration) -> (ExitStatus, Vec<String>, String) {
        let end = Instant::now() + timeout;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > end {
                let _ = self.child.kill();
                panic!(
                    "program did not exit within {timeout:?}; saw {:?}",
                    self.seen
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        while let Ok(l) = self.lines.recv_timeout(Duration::from_millis(500)) {
            self.seen.push(l);
        }
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        (status, std::mem::take(&mut self.seen), err)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The `key=value` fields of a line.
fn field(line: &str, key: &str) -> String {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no {key}= in {line:?}"))
        .to_owned()
}

fn num(line: &str, key: &str) -> u64 {
    field(line, key).parse().unwrap()
}

/// The digest pfcount computes (FNV-1a 64 over the packets in order).
fn fnv1a(frames: &[Vec<u8>]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for f in frames {
        for &b in f {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// Every function `include/pfring.h` declares.
fn declared_functions() -> BTreeSet<String> {
    let h = std::fs::read_to_string(crate_dir().join("include/pfring.h")).unwrap();
    h.lines()
        .filter(|l| {
            // Declarations start in column 0 (struct members such as the plugin table's
            // function pointers are indented).
            !l.starts_with("//")
                && !l.starts_with("typedef")
                && !l.starts_with(' ')
                && l.ends_with(");")
        })
        .filter_map(|l| {
            let name = l.split('(').next()?.rsplit([' ', '*']).next()?;
            Some(name.to_owned())
        })
        .collect()
}

/// The PF_RING 5.4 functions (the reference's §1.2 "Y" and "?" rows): the API coverage
/// numerator and denominator.
const API_5_4: &[&str] = &[
    "pfring_open",
    "pfring_open_multichannel",
    "pfring_close",
    "pfring_shutdown",
    "pfring_enable_ring",
    "pfring_disable_ring",
    "pfring_bind",
    "pfring_config",
    "pfring_version",
    "pfring_set_application_name",
    "pfring_recv",
    "pfring_recv_parsed",
    "pfring_loop",
    "pfring_breakloop",
    "pfring_poll",
    "pfring_is_pkt_available",
    "pfring_get_selectable_fd",
    "pfring_set_poll_watermark",
    "pfring_set_poll_duration",
    "pfring_get_num_queued_pkts",
    "pfring_sync_indexes_with_kernel",
    "pfring_set_direction",
    "pfring_set_socket_mode",
    "pfring_set_sampling_rate",
    "pfring_get_slot_header_len",
    "pfring_send",
    "pfring_send_get_time",
    "pfring_send_last_rx_packet",
    "pfring_set_tx_watermark",
    "pfring_set_reflector_device",
    "pfring_set_bpf_filter",
    "pfring_remove_bpf_filter",
    "pfring_add_filtering_rule",
    "pfring_remove_filtering_rule",
    "pfring_handle_hash_filtering_rule",
    "pfring_get_filtering_rule_stats",
    "pfring_get_hash_filtering_rule_stats",
    "pfring_purge_idle_rules",
    "pfring_purge_idle_hash_rules",
    "pfring_toggle_filtering_policy",
    "pfring_set_filtering_mode",
    "pfring_add_hw_rule",
    "pfring_remove_hw_rule",
    "pfring_set_virtual_device",
    "pfring_search_payload",
    "pfring_set_cluster",
    "pfring_remove_from_cluster",
    "pfring_set_channel_id",
    "pfring_set_channel_mask",
    "pfring_get_num_rx_channels",
    "pfring_enable_rss_rehash",
    "pfring_set_master_id",
    "pfring_set_master",
    "pfring_get_ring_id",
    "pfring_stats",
    "pfring_next_pkt_time",
    "pfring_next_pkt_raw_timestamp",
    "pfring_get_device_clock",
    "pfring_set_device_clock",
    "pfring_adjust_device_clock",
    "pfring_enable_hw_timestamp",
    "pfring_get_bound_device_address",
    "pfring_get_bound_device_ifindex",
    "pfring_get_device_ifindex",
    "pfring_get_mtu_size",
    "pfring_set_if_promisc",
    "pfring_loopback_test",
    "pfring_parse_pkt",
    "pfring_format_numbers",
];

/// Current-API additions the issue asks for, and 5.x-only / libzero calls.
const API_EXTRA: &[&str] = &[
    "pfring_version_noring",
    "pfring_findalldevs",
    "pfring_freealldevs",
    "pfring_recv_burst",
    "pfring_flush_tx_packets",
    "pfring_print_parsed_pkt",
    "pfring_print_pkt",
    "pfring_open_consumer",
    "pfring_send_parsed",
    "pfring_get_packet_consumer_mode",
    "pfring_set_packet_consumer_mode",
    "pfring_get_bound_device_id",
    "pfring_register_plugin",
    "pfring_get_plugin_ids",
    "dna_cluster_create",
    "dna_cluster_low_level_settings",
    "dna_cluster_set_hugepages_mountpoint",
    "dna_cluster_register_ring",
    "dna_cluster_set_cpu_affinity",
    "dna_cluster_set_thread_name",
    "dna_cluster_set_mode",
    "dna_cluster_set_distribution_function",
    "dna_cluster_set_wait_mode",
    "dna_cluster_enable",
    "dna_cluster_disable",
    "dna_cluster_stats",
    "dna_cluster_destroy",
    "pfring_dna_cluster_open",
    "pfring_dna_bouncer_create",
    "pfring_dna_bouncer_set_mode",
    "pfring_dna_bouncer_loop",
    "pfring_dna_bouncer_breakloop",
    "pfring_dna_bouncer_destroy",
];

/// The dynamic symbols libpfring.so defines.
fn exported_symbols() -> BTreeSet<String> {
    let o = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(lib_dir().join("libpfring.so"))
        .output()
        .expect("nm (binutils)");
    assert!(o.status.success());
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2).map(str::to_owned))
        .collect()
}

#[test]
fn every_5_4_function_is_declared_exported_and_called_by_api_coverage() {
    let declared = declared_functions();
    let exported = exported_symbols();
    let coverage_src = std::fs::read_to_string(crate_dir().join("tests/c/api_coverage.c")).unwrap();
    let missing_5_4: Vec<_> = API_5_4
        .iter()
        .filter(|f| !declared.contains(**f) || !exported.contains(**f))
        .collect();
    let n54 = API_5_4.len() - missing_5_4.len();
    eprintln!(
        "API coverage: {n54} of {} PF_RING 5.4 functions declared in pfring.h and exported by \
         libpfring.so; {} functions exported in all",
        API_5_4.len(),
        declared.len()
    );
    assert!(
        missing_5_4.is_empty(),
        "5.4 functions missing: {missing_5_4:?}"
    );
    for f in API_EXTRA {
        assert!(
            declared.contains(*f) && exported.contains(*f),
            "{f} missing"
        );
    }
    assert_eq!(
        declared.len(),
        API_5_4.len() + API_EXTRA.len(),
        "{declared:?}"
    );
    for f in &declared {
        assert!(exported.contains(f), "{f} declared but not exported");
        assert!(
            coverage_src.contains(&format!("{f}(")),
            "api_coverage.c never calls {f}"
        );
    }
}

#[test]
fn api_coverage_null_and_invalid_arguments() {
    let prog = build("api_coverage", Link::Shared);
    let o = Command::new(&prog).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(num(out.trim(), "checked") > 100, "{out}");
    assert_eq!(num(out.trim(), "failed"), 0);
    if let Some(vg) = valgrind() {
        let o = command(Some(&vg), &prog, &[]).output().unwrap();
        assert!(
            o.status.success(),
            "valgrind: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

#[test]
fn static_library_links_and_runs() {
    let prog = build("api_coverage", Link::Static);
    let ldd = Command::new("ldd").arg(&prog).output().unwrap();
    assert!(
        !String::from_utf8_lossy(&ldd.stdout).contains("libpfring"),
        "the static build must not need libpfring.so"
    );
    let o = Command::new(&prog).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn api_coverage_on_a_live_veth_ring() {
    require_privileged!();
    let prog = build("api_coverage", Link::Shared);
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "cfa", "cfb").unwrap();
    let vg = valgrind();
    let runs: Vec<Option<&Path>> = std::iter::once(None)
        .chain(vg.as_deref().map(Some))
        .collect();
    for v in runs {
        let (status, lines, err) =
            Proc::spawn(&ns, command(v, &prog, &["-i", veth.b()])).finish(Duration::from_secs(120));
        assert!(
            status.success(),
            "valgrind={:?}: {lines:?}\n{err}",
            v.is_some()
        );
        let last = lines.last().expect("output");
        assert!(num(last, "checked") > 200, "{last}");
        assert_eq!(num(last, "failed"), 0, "{err}");
    }
}

/// Runs the C pfcount in `mode` on `veth.b()`, sends `frames` from `veth.a()`, and checks
/// that exactly those frames arrived, byte for byte and in order.
fn pfcount_run_file(prog: &Path, path: &Path, mode: &str, frames: &[Vec<u8>]) {
    let dev = format!("pcap:{}", path.display());
    let n = frames.len().to_string();
    let o = Command::new(prog)
        .args(["-i", &dev, "-n", &n, "-m", mode, "-t", "10000", "-f", "udp"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "mode {mode}: {out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let line = out.lines().last().unwrap();
    assert_eq!(
        num(line, "received"),
        frames.len() as u64,
        "mode {mode}: {line}"
    );
    assert_eq!(
        field(line, "digest"),
        format!("{:016x}", fnv1a(frames)),
        "mode {mode}"
    );
    assert_eq!(num(line, "bad"), 0, "mode {mode}: {line}");
    assert_eq!(num(line, "extra"), 0, "mode {mode}: {line}");
    assert_eq!(
        num(line, "stats_recv"),
        frames.len() as u64,
        "mode {mode}: {line}"
    );
}

#[test]
fn c_pfcount_reads_a_capture_file_in_every_mode() {
    use pfring_rs::pcap::{Format, TsResolution, Writer};
    let dir = tempdir("pcap");
    let path = dir.join("frames.pcap");
    let frames = test_frames(200);
    let mut w = Writer::new(
        std::fs::File::create(&path).unwrap(),
        Format::Pcap(TsResolution::Nano),
    )
    .unwrap();
    for (i, f) in frames.iter().enumerate() {
        w.write(
            1_700_000_000_000_000_000 + i as u64 * 1000,
            f,
            f.len() as u32,
        )
        .unwrap();
    }
    w.flush().unwrap();
    drop(w);
    let prog = build("pfcount", Link::Shared);
    for mode in ["zc", "copy", "parsed", "burst", "loop"] {
        pfcount_run_file(&prog, &path, mode, &frames);
    }
    if let Some(vg) = valgrind() {
        let dev = format!("pcap:{}", path.display());
        let o = command(Some(&vg), &prog, &["-i", &dev, "-n", "200", "-m", "loop"])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "valgrind: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn pfcount_run(
    ns: &NetNs,
    veth: &VethPair<'_>,
    prog: &Path,
    vg: Option<&Path>,
    mode: &str,
    frames: &[Vec<u8>],
) {
    let n = frames.len().to_string();
    let timeout = if vg.is_some() { "60000" } else { "10000" };
    // "zc-long": zero copy on a PF_RING_LONG_HEADER ring (parsed_pkt checked per packet).
    let (mode, long) = match mode.strip_suffix("-long") {
        Some(m) => (m, true),
        None => (mode, false),
    };
    let mut args = vec![
        "-i",
        veth.b(),
        "-n",
        &n,
        "-m",
        mode,
        "-t",
        timeout,
        "-f",
        "udp",
    ];
    if long {
        args.push("-L");
    }
    let mut p = Proc::spawn(ns, command(vg, prog, &args));
    p.wait_line("ready", Duration::from_secs(60));
    let tx = RawSender::new(veth.a()).unwrap();
    assert_eq!(tx.send_all(frames).unwrap(), frames.len());
    let (status, lines, err) = p.finish(Duration::from_secs(90));
    assert!(
        status.success(),
        "mode {mode} valgrind={}: {lines:?}\n{err}",
        vg.is_some()
    );
    let line = lines
        .iter()
        .find(|l| l.starts_with("received="))
        .unwrap_or_else(|| panic!("no result line: {lines:?} {err}"));
    let bytes: usize = frames.iter().map(Vec::len).sum();
    assert_eq!(
        num(line, "received"),
        frames.len() as u64,
        "mode {mode}: {line}"
    );
    assert_eq!(num(line, "bytes"), bytes as u64, "mode {mode}: {line}");
    assert_eq!(
        field(line, "digest"),
        format!("{:016x}", fnv1a(frames)),
        "mode {mode}: bytes or order differ"
    );
    assert_eq!(num(line, "bad"), 0, "mode {mode}: {line}");
    assert_eq!(num(line, "extra"), 0, "mode {mode}: {line}");
    assert_eq!(
        num(line, "stats_recv"),
        frames.len() as u64,
        "mode {mode}: {line}"
    );
    assert_eq!(num(line, "stats_drop"), 0, "mode {mode}: {line}");
}

fn test_frames(n: u64) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| pfring_testkit::udp_frame(i, 60 + (i as usize * 97) % 1455))
        .collect()
}

#[test]
fn c_pfcount_receives_exactly_the_frames_sent_in_every_mode() {
    require_privileged!();
    let prog = build("pfcount", Link::Shared);
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "cpa", "cpb").unwrap();
    let frames = test_frames(1000);
    for mode in [
        "zc",
        "copy",
        "parsed",
        "burst",
        "loop",
        "zc-long",
        "loop-long",
    ] {
        pfcount_run(&ns, &veth, &prog, None, mode, &frames);
    }
}

#[test]
fn c_pfcount_is_valgrind_clean() {
    require_privileged!();
    let Some(vg) = valgrind() else { return };
    let prog = build("pfcount", Link::Shared);
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "cva", "cvb").unwrap();
    let frames = test_frames(300);
    for mode in ["zc", "burst", "loop"] {
        pfcount_run(&ns, &veth, &prog, Some(&vg), mode, &frames);
    }
}

#[test]
fn c_pfsend_sends_exactly_count_frames() {
    require_privileged!();
    let prog = build("pfsend", Link::Shared);
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "csa", "csb").unwrap();
    let vg = valgrind();
    let runs: Vec<(Option<&Path>, usize)> = match &vg {
        Some(v) => vec![(None, 2000), (Some(v.as_path()), 200)],
        None => vec![(None, 2000)],
    };
    for (v, count) in runs {
        let rx = RawReceiver::new(veth.b()).unwrap();
        let n = count.to_string();
        let (status, lines, err) = Proc::spawn(
            &ns,
            command(v, &prog, &["-i", veth.a(), "-n", &n, "-l", "128"]),
        )
        .finish(Duration::from_secs(120));
        assert!(
            status.success(),
            "valgrind={}: {lines:?}\n{err}",
            v.is_some()
        );
        assert_eq!(
            lines.last().unwrap(),
            &format!("sent={count} oversized_refused=1")
        );
        let got: Vec<_> = rx
            .collect(
                count + 10,
                Duration::from_millis(500),
                Duration::from_secs(20),
            )
            .unwrap()
            .into_iter()
            .filter(|r| r.data.get(6..12) == Some(&[2, 0, 0, 0, 0, 1][..]))
            .collect();
        assert_eq!(got.len(), count, "valgrind={}", v.is_some());
        for (i, r) in got.iter().enumerate() {
            assert_eq!(r.orig_len, 128);
            let seq = u32::from_ne_bytes(r.data[42..46].try_into().unwrap());
            assert_eq!(seq as usize, i, "frames out of order or lost");
        }
    }
}

#[test]
fn c_cluster_slaves_share_the_traffic_round_robin() {
    require_privileged!();
    let prog = build("cluster_slave", Link::Shared);
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "cca", "ccb").unwrap();
    let args = [
        "-i",
        veth.b(),
        "-c",
        "77",
        "-t",
        "1",
        "-I",
        "1000",
        "-f",
        "udp",
    ];
    let mut slaves: Vec<Proc> = (0..2)
        .map(|_| Proc::spawn(&ns, command(None, &prog, &args)))
        .collect();
    for s in &mut slaves {
        s.wait_line("ready", Duration::from_secs(20));
    }
    let frames = test_frames(1000);
    RawSender::new(veth.a()).unwrap().send_all(&frames).unwrap();
    let counts: Vec<u64> = slaves
        .into_iter()
        .map(|s| {
            let (status, lines, err) = s.finish(Duration::from_secs(30));
            assert!(status.success(), "{lines:?} {err}");
            num(lines.last().unwrap(), "received")
        })
        .collect();
    assert_eq!(counts, vec![500, 500], "round robin splits exactly");
}

fn run_dna_cluster(vg: Option<&Path>, prefix: &str) {
    let master = build("dna_master", Link::Shared);
    let slave = build("cluster_slave", Link::Shared);
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, &format!("{prefix}a"), &format!("{prefix}b")).unwrap();
    // A private descriptor directory: no clash with other clusters on the machine.
    let dir = tempdir(&format!("zc-{prefix}"));
    let id = "41";
    let with_dir = |mut c: Command| {
        c.env("PFRING_ZC_DIR", &dir);
        c
    };
    let mut m = Proc::spawn(
        &ns,
        with_dir(command(
            vg,
            &master,
            &[
                "-i",
                veth.b(),
                "-c",
                id,
                "-n",
                "2",
                "-e",
                "1000",
                "-l",
                "3000",
            ],
        )),
    );
    m.wait_line("ready", Duration::from_secs(60));
    let mut slaves: Vec<Proc> = (0..2)
        .map(|q| {
            let dev = format!("zc:{id}@{q}");
            Proc::spawn(
                &ns,
                with_dir(command(vg, &slave, &["-i", &dev, "-c", "0", "-I", "1500"])),
            )
        })
        .collect();
    for s in &mut slaves {
        s.wait_line("ready", Duration::from_secs(60));
    }
    let frames = test_frames(1000);
    RawSender::new(veth.a()).unwrap().send_all(&frames).unwrap();
    let counts: Vec<u64> = slaves
        .into_iter()
        .map(|s| {
            let (status, lines, err) = s.finish(Duration::from_secs(60));
            assert!(status.success(), "{lines:?} {err}");
            num(lines.last().unwrap(), "received")
        })
        .collect();
    let (status, lines, err) = m.finish(Duration::from_secs(60));
    assert!(status.success(), "{lines:?} {err}");
    let l = lines.last().unwrap();
    assert_eq!(num(l, "rx"), 1000, "{l}");
    assert_eq!(num(l, "processed"), 1000, "{l}");
    assert_eq!(num(l, "distributed"), 1000, "{l}");
    assert_eq!(counts, vec![500, 500], "the C round robin splits exactly");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn c_dna_cluster_master_feeds_c_zc_slaves() {
    require_privileged!();
    run_dna_cluster(None, "cz");
}

#[test]
fn c_dna_cluster_is_valgrind_clean() {
    require_privileged!();
    let Some(vg) = valgrind() else {
        return;
    };
    run_dna_cluster(Some(&vg), "cy");
}

fn run_bouncer(vg: Option<&Path>, prefix: &str) {
    let prog = build("bouncer", Link::Shared);
    let ns = NetNs::new().unwrap();
    let v1 = VethPair::new(&ns, &format!("{prefix}a"), &format!("{prefix}b")).unwrap();
    let v2 = VethPair::new(&ns, &format!("{prefix}c"), &format!("{prefix}d")).unwrap();
    let rx = RawReceiver::new(v2.b()).unwrap();
    // The loop ends 300 ms after 200 packets were decided (an extra one would be seen), or
    // after 20 s.
    let args = [
        "-i",
        v1.b(),
        "-o",
        v2.a(),
        "-p",
        "9",
        "-n",
        "200",
        "-d",
        "20000",
    ];
    let mut p = Proc::spawn(&ns, command(vg, &prog, &args));
    p.wait_line("ready", Duration::from_secs(60));
    let tx = RawSender::new(v1.a()).unwrap();
    for i in 0..100u64 {
        tx.send(&FrameBuilder::udp().ports(1234, 9000).build_len(i, 100))
            .unwrap();
        tx.send(&FrameBuilder::udp().ports(1234, 9).build_len(i, 100))
            .unwrap();
    }
    let got: Vec<_> = rx
        .collect(300, Duration::from_millis(1000), Duration::from_secs(20))
        .unwrap()
        .into_iter()
        .filter(|r| r.data.get(23) == Some(&17))
        .collect();
    let (status, lines, err) = p.finish(Duration::from_secs(60));
    assert!(status.success(), "{lines:?} {err}");
    let l = lines.last().unwrap();
    assert_eq!(num(l, "rc"), 0, "{l}");
    assert_eq!(num(l, "passed"), 100, "{l}");
    assert_eq!(num(l, "dropped"), 100, "{l}");
    assert_eq!(
        got.len(),
        100,
        "exactly the passed frames came out of the egress"
    );
    assert!(
        got.iter()
            .all(|r| r.data.get(36..38) == Some(&9000u16.to_be_bytes()[..]))
    );
}

#[test]
fn c_dna_bouncer_forwards_exactly_what_its_decision_passes() {
    require_privileged!();
    run_bouncer(None, "cb");
}

#[test]
fn c_dna_bouncer_is_valgrind_clean() {
    require_privileged!();
    let Some(vg) = valgrind() else {
        return;
    };
    run_bouncer(Some(&vg), "ck");
}

/// Sends `n` UDP frames `1234 -> dport` of `len` bytes.
fn send_udp(tx: &RawSender, dport: u16, len: usize, n: u64) {
    for i in 0..n {
        tx.send(&FrameBuilder::udp().ports(1234, dport).build_len(i, len))
            .unwrap();
    }
}

fn run_rules(vg: Option<&Path>, prefix: &str) {
    let prog = build("rules", Link::Shared);
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, &format!("{prefix}a"), &format!("{prefix}b")).unwrap();
    // Each phase ends 300 ms after its expected count (so an extra packet would be seen),
    // or after 20 s.
    let args = ["-i", veth.b(), "-w", "20000", "-e", "30", "-E", "10"];
    let mut p = Proc::spawn(&ns, command(vg, &prog, &args));
    p.wait_line("ready", Duration::from_secs(60));
    let tx = RawSender::new(veth.a()).unwrap();
    // Phase 1: rule 5 drops dport 9, the exact rule drops 1234 <-> 5000, the C plugin's
    // rule 10 drops dport 7000 frames longer than 150 bytes; the rest is delivered.
    send_udp(&tx, 9, 100, 20);
    send_udp(&tx, 9000, 100, 20);
    send_udp(&tx, 7000, 100, 10);
    send_udp(&tx, 7000, 200, 10);
    send_udp(&tx, 5000, 100, 20);
    // Phase 2: default drop, rule 1 forwards dport 9000, sampling 1 in 2.
    p.wait_line("phase2", Duration::from_secs(60));
    send_udp(&tx, 9000, 100, 20);
    send_udp(&tx, 9, 100, 20);
    send_udp(&tx, 7000, 200, 20);
    let (status, lines, err) = p.finish(Duration::from_secs(60));
    assert!(status.success(), "{lines:?} {err}");
    let line = |k: &str| {
        lines
            .iter()
            .find(|l| l.split(' ').any(|w| w.starts_with(&format!("{k}="))))
            .unwrap_or_else(|| panic!("{k} missing: {lines:?}"))
            .clone()
    };
    assert_eq!(num(&line("received"), "received"), 20 + 10, "{lines:?}");
    assert_eq!(num(&line("rule5_match"), "rule5_match"), 20);
    assert_eq!(num(&line("plugin_handled"), "plugin_handled"), 10);
    assert_eq!(num(&line("plugin_handled"), "plugin_filtered"), 20);
    let h = line("hash_match");
    assert_eq!(num(&h, "hash_match"), 20, "{h}");
    assert_eq!(num(&h, "hash_filtered"), 20, "{h}");
    assert_eq!(num(&h, "hash_forward"), 0, "{h}");
    assert_eq!(num(&line("received2"), "received2"), 10, "{lines:?}");
    assert_eq!(line("failures"), "failures=0");
}

#[test]
fn c_rules_drop_exactly_the_matching_live_traffic() {
    require_privileged!();
    run_rules(None, "cr");
}

#[test]
fn c_rules_and_c_plugin_are_valgrind_clean() {
    require_privileged!();
    let Some(vg) = valgrind() else {
        return;
    };
    run_rules(Some(&vg), "cv");
}

#[test]
fn cpp_wrapper_counts_exactly_the_frames_sent() {
    require_privileged!();
    let prog = build_cpp("hpp_count");
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "cxa", "cxb").unwrap();
    let mut p = Proc::spawn(&ns, command(None, &prog, &["-i", veth.b(), "-n", "500"]));
    p.wait_line("ready", Duration::from_secs(20));
    let frames = test_frames(500);
    RawSender::new(veth.a()).unwrap().send_all(&frames).unwrap();
    let (status, lines, err) = p.finish(Duration::from_secs(30));
    assert!(status.success(), "{lines:?} {err}");
    let line = lines.last().unwrap();
    let bytes: usize = frames.iter().map(Vec::len).sum();
    assert_eq!(num(line, "received"), 500, "{line}");
    assert_eq!(num(line, "bytes"), bytes as u64, "{line}");
    assert_eq!(num(line, "stats_recv"), 500, "{line}");
}

#[test]
fn install_script_installs_a_usable_pkg_config_package() {
    let prefix = tempdir("install-prefix");
    let o = Command::new("sh")
        .arg(crate_dir().join("install.sh"))
        .arg("--prefix")
        .arg(&prefix)
        .arg("--from")
        .arg(lib_dir())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in [
        "lib/libpfring.so",
        "lib/libpfring.a",
        "include/pfring.h",
        "include/pfring.hpp",
        "lib/pkgconfig/pfring.pc",
    ] {
        assert!(prefix.join(f).is_file(), "{f} not installed");
    }
    let pc = Command::new("pkg-config")
        .args(["--cflags", "--libs", "pfring"])
        .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig"))
        .output()
        .expect("pkg-config");
    assert!(
        pc.status.success(),
        "{}",
        String::from_utf8_lossy(&pc.stderr)
    );
    let flags = String::from_utf8(pc.stdout).unwrap();
    assert!(
        flags.contains(&format!("-I{}/include", prefix.display())),
        "{flags}"
    );
    assert!(flags.contains("-lpfring"), "{flags}");
    // A C program built only from what pkg-config says, run from the installed library.
    let exe = prefix.join("api_coverage");
    let mut cc = Command::new("cc");
    cc.args(["-std=gnu11", "-Wall", "-Werror", "-o"])
        .arg(&exe)
        .arg(crate_dir().join("tests/c/api_coverage.c"))
        .args(flags.split_whitespace())
        .arg(format!("-Wl,-rpath,{}/lib", prefix.display()));
    let o = cc.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // cargo test sets LD_LIBRARY_PATH to its target directory, which would win over RUNPATH.
    let ldd = Command::new("ldd")
        .arg(&exe)
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&ldd.stdout)
            .contains(&format!("{}/lib/libpfring.so", prefix.display())),
        "not linked against the installed library"
    );
    let run = Command::new(&exe)
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let _ = std::fs::remove_dir_all(&prefix);
}

/// A fresh directory under cargo's per-test temporary directory.
fn tempdir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}
