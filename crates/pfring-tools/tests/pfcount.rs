//! pfcount end to end: the real binary captures real frames on a veth in a namespace the test
//! made, and its output and exit code are asserted.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::Duration;

use pfring_testkit::{
    FrameBuilder, NetNs, RawSender, VethPair, require_privileged, run_as_nobody, udp_frame,
};

#[path = "common/bridge.rs"]
mod bridge;
mod common;

use bridge::Bridge;
use common::{PFCOUNT, Pfcount};

fn send(veth: &VethPair<'_>, n: u64, len: usize) {
    RawSender::new(veth.a())
        .unwrap()
        .send_all((0..n).map(|i| udp_frame(i, len)))
        .unwrap();
}

fn last_block(stderr: &str) -> &str {
    let at = stderr.rfind("Absolute Stats").expect("a stats block");
    &stderr[at..]
}

#[test]
fn counts_exactly_n_packets_and_prints_the_5x_block() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "pca", "pcb").unwrap();
    let mut p = Pfcount::start(&["-i", "pcb", "-N", "100", "-g", "0", "-w", "8", "-p", "50"]);
    send(&veth, 100, 60);
    let (st, out, err) = p.finish(Duration::from_secs(10));
    assert!(st.success(), "{st:?} {err}");
    assert!(out.contains("Using PF_RING v.5.4.0"), "{out}");
    assert!(out.contains("Capturing from pcb ["), "{out}");
    assert!(out.contains("# Device RX channels: 1"), "{out}");
    let block = last_block(&err);
    assert!(
        block.starts_with(
            "Absolute Stats: [100 pkts rcvd][0 pkts dropped]\n\
             Total Pkts=100/Dropped=0.0 %\n\
             100 pkts - 8'400 bytes"
        ),
        "{block}"
    );
    assert!(err.ends_with("=========================\n\n"), "{err}");
}

#[test]
fn verbose_prints_one_line_per_packet() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "pca", "pcb").unwrap();
    // -a: busy polling instead of poll(2).
    let mut p = Pfcount::start(&["-i", "pcb", "-N", "5", "-v", "1", "-a"]);
    send(&veth, 5, 70);
    let (st, out, err) = p.finish(Duration::from_secs(10));
    assert!(st.success(), "{err}");
    let lines: Vec<&str> = out.lines().filter(|l| l.contains("[eth_type=")).collect();
    assert_eq!(lines.len(), 5, "{out}");
    for l in lines {
        // HH:MM:SS.uuuuuunnn [smac -> dmac][eth_type=0x0800][caplen=70][len=70]
        assert_eq!(l.as_bytes()[2], b':');
        assert_eq!(l.find(' '), Some(18), "{l}");
        assert!(l.ends_with("][eth_type=0x0800][caplen=70][len=70]"), "{l}");
        assert!(l.contains(" -> "), "{l}");
    }
}

#[test]
fn sigterm_prints_the_final_block_and_exits_zero() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "pca", "pcb").unwrap();
    let mut p = Pfcount::start(&["-i", "pcb"]);
    send(&veth, 10, 60);
    std::thread::sleep(Duration::from_millis(300));
    p.signal(libc::SIGTERM);
    let (st, _, err) = p.finish(Duration::from_secs(5));
    assert!(st.success(), "{st:?} {err}");
    assert!(
        last_block(&err).starts_with("Absolute Stats: [10 pkts rcvd][0 pkts dropped]"),
        "{err}"
    );
}

#[test]
fn prints_stats_every_second_and_json() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "pca", "pcb").unwrap();
    let mut p = Pfcount::start(&["-i", "pcb", "--json"]);
    send(&veth, 50, 60);
    std::thread::sleep(Duration::from_millis(2300));
    p.signal(libc::SIGINT);
    let (st, _, err) = p.finish(Duration::from_secs(5));
    assert!(st.success(), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert!(lines.len() >= 3, "two periodic + final: {err}");
    for l in &lines {
        assert!(
            l.starts_with("{\"duration_ms\":") && l.ends_with('}'),
            "{l}"
        );
    }
    assert!(
        lines
            .last()
            .unwrap()
            .contains("\"recv\":50,\"drop\":0,\"pkts\":50"),
        "{err}"
    );
}

#[test]
fn tx_only_direction_counts_what_the_host_sends() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "pca", "pcb").unwrap();
    let mut p = Pfcount::start(&["-i", "pca", "-e", "2", "-N", "7"]);
    // 3 frames arrive on pca (not counted), 7 leave it.
    RawSender::new("pcb")
        .unwrap()
        .send_all((0..3).map(|i| udp_frame(i, 60)))
        .unwrap();
    send(&veth, 7, 60);
    let (st, _, err) = p.finish(Duration::from_secs(10));
    assert!(st.success(), "{err}");
    assert!(
        last_block(&err).starts_with("Absolute Stats: [7 pkts rcvd]"),
        "{err}"
    );
}

#[test]
fn list_interfaces() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let _veth = VethPair::new(&ns, "pca", "pcb").unwrap();
    let out = Command::new(PFCOUNT)
        .args(["-L", "-v", "1"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.lines().any(|l| l.contains(". lo [")), "{text}");
    assert!(text.lines().any(|l| l.contains(". pca [mac: ")), "{text}");
    assert!(text.lines().any(|l| l.contains(". pcb [mac: ")), "{text}");
}

#[test]
fn no_such_device_is_a_one_line_error() {
    require_privileged!();
    let _ns = NetNs::new().unwrap();
    let out = Command::new(PFCOUNT)
        .args(["-i", "nosuch0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "pfcount: no such device \"nosuch0\"\n"
    );
}

#[test]
fn bad_arguments_are_a_one_line_error() {
    for args in [
        &["-l", "abc"][..],
        &["-e", "7"],
        &["-x"],
        &["-i", "foo:eth0"],
    ] {
        let out = Command::new(PFCOUNT).args(args).output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("pfcount: "), "{err}");
    }
}

#[test]
fn without_cap_net_raw_the_error_names_it() {
    require_privileged!();
    // A copy nobody can execute wherever the build directory lives.
    let dir = std::env::temp_dir().join(format!("pfcount-nobody-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bin = dir.join("pfcount");
    std::fs::copy(PFCOUNT, &bin).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut cmd = Command::new(&bin);
    cmd.args(["-i", "lo"]);
    run_as_nobody(&mut cmd);
    let out = cmd.output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("permission denied") && err.contains("CAP_NET_RAW"),
        "{err}"
    );
}

#[test]
fn pfsend_sends_exactly_n_synthetic_frames() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "psa", "psb").unwrap();
    let spec = pfring_tools::synth::SynthSpec {
        len: 100,
        num_src: 3,
        num_dst: 5,
        ..Default::default()
    };
    let pool = spec.pool();
    assert_eq!(pool.len(), 15);
    for mode in ["auto", "ring", "batch"] {
        let rx = pfring_testkit::RawReceiver::new(veth.b()).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_pfsend"))
            .args(["-i", "psa", "-n", "1500", "-l", "100", "-b", "3", "-c", "5"])
            .args(["--tx-mode", mode])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{mode}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("Sent 1500 packets"), "{mode}: {text}");
        let last_rate = text
            .lines()
            .rev()
            .find(|l| l.starts_with("TX rate: [current "))
            .unwrap();
        assert!(
            last_rate.ends_with("[total 1'500 pkts]"),
            "{mode}: {last_rate}"
        );
        let got = rx
            .collect(2000, Duration::from_millis(300), Duration::from_secs(10))
            .unwrap();
        assert_eq!(got.len(), 1500, "{mode}");
        for (i, r) in got.iter().enumerate() {
            assert_eq!(r.data, pool[i % 15], "{mode}: frame {i}");
        }
    }
}

#[test]
fn pfsend_argument_errors() {
    for args in [
        &["-n", "5"][..],
        &["-i", "lo", "-V", "5"],
        &["-i", "lo", "-m", "zz"],
        &["-i", "lo", "-p", "0"],
        &["-i", "lo", "--tx-mode", "zz"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_pfsend"))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

#[test]
fn pfbridge_forwards_both_directions_exactly() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    // Batched (send_burst) and one send per packet (-p).
    for extra in [&[][..], &["-p"][..]] {
        let ab = VethPair::new(&ns, "bra", "brb").unwrap();
        // A smaller MTU on the way out: larger frames are skipped and counted.
        let cd = VethPair::builder("brc", "brd")
            .mtu(1000)
            .create(&ns)
            .unwrap();
        let args = [&["-a", "brb", "-b", "brc", "-B"][..], extra].concat();
        let bridge = Bridge::start(&args, "Bridging brb -> brc (and back)");
        // Every 100th frame is 1200 bytes: too large for brc.
        let forth: Vec<_> = (0..1000)
            .map(|i| {
                udp_frame(
                    i,
                    if i % 100 == 7 {
                        1200
                    } else {
                        60 + (i as usize % 900)
                    },
                )
            })
            .collect();
        let back: Vec<_> = (5000..5300).map(|i| udp_frame(i, 80)).collect();
        let (got_d, got_a) = bridge.exchange(&ab, &cd, &forth, &back);
        let rest = bridge.stop();
        let fits: Vec<_> = forth.iter().filter(|f| f.len() <= 1014).cloned().collect();
        assert_eq!(fits.len(), 990);
        assert_eq!(got_d, fits, "{extra:?}");
        assert_eq!(got_a, back, "{extra:?}");
        assert!(
            rest.contains("Forwarded 1290 packets (10 too large"),
            "{extra:?}: {rest}"
        );
    }
}

fn testdata(file: &str) -> Option<std::path::PathBuf> {
    let p = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/testdata/pcap")
        .join(file);
    if p.is_file() {
        Some(p)
    } else {
        eprintln!("skipping: no test data {}", p.display());
        None
    }
}

fn read_records(path: &std::path::Path) -> Vec<(u64, Vec<u8>, u32)> {
    let mut r = pfring::pcap::Reader::open(path).unwrap();
    let mut out = Vec::new();
    while let Some(rec) = r.next().unwrap() {
        out.push((rec.ts_ns, rec.data.to_vec(), rec.len));
    }
    out
}

#[test]
fn pfcount_reads_a_capture_file_to_its_end() {
    let Some(file) = testdata("vrrp.pcap") else {
        return;
    };
    let out = Command::new(PFCOUNT)
        .args(["-i", &format!("pcap:{}", file.display())])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        last_block(&err).starts_with("Absolute Stats: [165 pkts rcvd][0 pkts dropped]"),
        "{err}"
    );
}

#[test]
fn pwrite_converts_a_file_exactly() {
    let Some(file) = testdata("vrrp.pcap") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("pwrite-conv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let original = read_records(&file);
    for (fmt, name) in [
        ("pcap", "a.pcap"),
        ("pcap-ns", "b.pcap"),
        ("pcapng", "c.pcapng"),
    ] {
        let dst = dir.join(name);
        let out = Command::new(env!("CARGO_BIN_EXE_pwrite"))
            .args([
                "-i",
                &format!("pcap:{}", file.display()),
                "-w",
                dst.to_str().unwrap(),
                "-F",
                fmt,
            ])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert!(err.contains("Saved 165 packets on disk"), "{err}");
        assert_eq!(read_records(&dst), original, "{fmt}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn pwrite_saves_live_traffic_and_flushes_on_sigint() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "pwa", "pwb").unwrap();
    let dir = std::env::temp_dir().join(format!("pwrite-live-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dst = dir.join("live.pcapng");
    let mut child = Command::new(env!("CARGO_BIN_EXE_pwrite"))
        .args(["-i", "pwb", "-w", dst.to_str().unwrap(), "-F", "pcapng"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    // "Capture device" then "Dump file path": the ring is enabled by then.
    err.read_line(&mut line).unwrap();
    err.read_line(&mut line).unwrap();
    assert!(line.contains("Dump file path"), "{line}");
    let frames: Vec<_> = (0..300)
        .map(|i| udp_frame(i, 60 + (i as usize % 1000)))
        .collect();
    RawSender::new(veth.a()).unwrap().send_all(&frames).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    // We started this child: signal it by its pid.
    let st = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    assert!(child.wait().unwrap().success());
    let mut rest = String::new();
    err.read_to_string(&mut rest).unwrap();
    assert!(rest.contains("Saved 300 packets on disk"), "{rest}");
    let got = read_records(&dst);
    assert_eq!(got.len(), 300);
    for ((_, data, len), f) in got.iter().zip(&frames) {
        assert_eq!(data, f);
        assert_eq!(*len as usize, f.len());
    }
    // Other readers agree (when installed).
    for (tool, args) in [("tcpdump", vec!["-r"]), ("tshark", vec!["-r"])] {
        let mut cmd = Command::new(tool);
        cmd.args(&args).arg(&dst);
        match cmd.output() {
            Ok(out) if out.status.success() => {
                let lines = String::from_utf8_lossy(&out.stdout).lines().count();
                assert_eq!(lines, 300, "{tool} reads 300 packets");
            }
            Ok(out) => panic!("{tool} failed: {}", String::from_utf8_lossy(&out.stderr)),
            Err(_) => eprintln!("skipping the {tool} check: not installed"),
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn pfsend_replays_a_file_exactly() {
    require_privileged!();
    let Some(file) = testdata("vrrp.pcap") else {
        return;
    };
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "pfa", "pfb").unwrap();
    let rx = pfring_testkit::RawReceiver::new(veth.b()).unwrap();
    let frames: Vec<Vec<u8>> = read_records(&file).into_iter().map(|(_, d, _)| d).collect();
    for (args, copies) in [(vec![], 1), (vec!["-n", "330"], 2)] {
        let out = Command::new(env!("CARGO_BIN_EXE_pfsend"))
            .args(["-i", "pfa", "-f", file.to_str().unwrap()])
            .args(&args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{text} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains(&format!("Sent {} packets", 165 * copies)),
            "{text}"
        );
        let got = rx
            .collect(1000, Duration::from_millis(300), Duration::from_secs(10))
            .unwrap();
        assert_eq!(got.len(), 165 * copies);
        for (i, r) in got.iter().enumerate() {
            assert_eq!(r.data, frames[i % 165], "frame {i}");
        }
    }
}

#[test]
fn tools_take_a_bpf_filter() {
    let Some(file) = testdata("vrrp.pcap") else {
        return;
    };
    let dev = format!("pcap:{}", file.display());
    let out = Command::new(PFCOUNT)
        .args(["-i", &dev, "-f", "vrrp"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        last_block(&err).starts_with("Absolute Stats: [101 pkts rcvd]"),
        "{err}"
    );
    let dir = std::env::temp_dir().join(format!("pwrite-bpf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dst = dir.join("ip.pcap");
    let out = Command::new(env!("CARGO_BIN_EXE_pwrite"))
        .args(["-i", &dev, "-w", dst.to_str().unwrap(), "-f", "not ip"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(read_records(&dst).len(), 64);
    let _ = std::fs::remove_dir_all(dir);
    // A bad expression: exit 1 with one line naming the position.
    let out = Command::new(PFCOUNT)
        .args(["-i", &dev, "-f", "tcp port"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("pfcount: BPF filter: ") && err.contains("at 8"),
        "{err}"
    );
}

#[test]
fn pfcount_m_prints_the_parsed_packet_line() {
    let Some(file) = testdata("dns-uri.pcap") else {
        return;
    };
    let dev = format!("pcap:{}", file.display());
    let out = Command::new(PFCOUNT)
        .args(["-i", &dev, "-v", "1", "-m", "-q"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("[RX]")).collect();
    assert_eq!(lines.len(), 4, "{text}");
    // 127.0.0.1 twice (2 x 2130706433) + UDP (17) + ports 59347 + 53 = 4261472283, the same
    // in both directions.
    assert!(
        lines[0].ends_with(
            " [RX][if_index=0][hash=4261472283][00:00:00:00:00:00 -> 00:00:00:00:00:00] \
         [IPv4][127.0.0.1:59347 -> 127.0.0.1:53] [l3_proto=UDP][hash=4261472283] \
         [caplen=97][len=97][eth_offset=0][l3_offset=14][l4_offset=34][payload_offset=42]"
        ),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains("[hash=4261472283]")
            && lines[1].contains("127.0.0.1:53 -> 127.0.0.1:59347")
    );
    // -v 2: a hex dump line after each packet line.
    let out = Command::new(PFCOUNT)
        .args(["-i", &dev, "-v", "2", "-q"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let dump = text
        .lines()
        .find(|l| l.starts_with("00 00 00 00 00 00 00 00 00 00 00 00 08 00 45 00"))
        .expect("hex dump");
    assert_eq!(dump.split_whitespace().count(), 97);
}

#[test]
fn two_pfcount_processes_in_one_cluster_split_the_traffic() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "cla", "clb").unwrap();
    let mut a = Pfcount::start(&["-i", "clb", "-c", "99", "-H", "4", "-q"]);
    let mut b = Pfcount::start(&["-i", "clb", "-c", "99", "-H", "4", "-q"]);
    let tx = RawSender::new(veth.a()).unwrap();
    // 50 flows x 20 frames.
    for i in 0..1000u64 {
        let flow = FrameBuilder::udp().ports(10_000 + (i % 50) as u16, 53);
        tx.send(&flow.build_len(i, 80)).unwrap();
    }
    std::thread::sleep(Duration::from_millis(500));
    let mut counts = Vec::new();
    for p in [&mut a, &mut b] {
        p.signal(libc::SIGINT);
        let (st, _, err) = p.finish(Duration::from_secs(5));
        assert!(st.success(), "{err}");
        let block = last_block(&err);
        let n: u64 = block["Absolute Stats: [".len()..]
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        counts.push(n);
    }
    assert_eq!(counts.iter().sum::<u64>(), 1000, "{counts:?}");
    assert!(
        counts.iter().all(|&n| n > 0),
        "both members get flows: {counts:?}"
    );
}

#[test]
fn pfcount_multichannel_counts_each_rx_channel() {
    require_privileged!();
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        eprintln!(
            "skipping pfcount_multichannel_counts_each_rx_channel: needs 2 CPUs to steer queues"
        );
        return;
    }
    let ns = NetNs::new().unwrap();
    let veth = VethPair::builder("mca", "mcb")
        .queues(2)
        .create(&ns)
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pfcount_multichannel"))
        .args(["-i", "mcb"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    for _ in 0..3 {
        out.read_line(&mut line).unwrap();
    }
    assert!(line.contains("# Polling threads:    2"), "{line}");
    let tx = RawSender::new(veth.a()).unwrap();
    pfring_testkit::queues::send_on_queue(&tx, 0, 2, (0..40).map(|i| udp_frame(i, 60))).unwrap();
    pfring_testkit::queues::send_on_queue(&tx, 1, 2, (0..60).map(|i| udp_frame(i, 60))).unwrap();
    std::thread::sleep(Duration::from_millis(600));
    // We started this child: signal it by its pid.
    let st = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "{err}");
    let last = &err[err
        .rfind("Absolute Stats: [channel=0]")
        .expect("final block")..];
    assert!(
        last.contains("Absolute Stats: [channel=0][40 pkts rcvd][0 pkts dropped]"),
        "{last}"
    );
    assert!(
        last.contains("Absolute Stats: [channel=1][60 pkts rcvd][0 pkts dropped]"),
        "{last}"
    );
    assert!(
        last.contains("[100 pkts rcvd][0 pkts dropped][100 pkts total]"),
        "{last}"
    );
}

#[test]
fn two_pwrite_processes_in_one_cluster_save_every_packet_once() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "pca", "pcb").unwrap();
    let dir = std::env::temp_dir().join(format!("pwrite-cluster-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let files = [dir.join("a.pcap"), dir.join("b.pcap")];
    let mut children = Vec::new();
    for f in &files {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pwrite"))
            .args(["-i", "pcb", "-c", "7", "-w", f.to_str().unwrap()])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        err.read_line(&mut line).unwrap();
        err.read_line(&mut line).unwrap();
        assert!(line.contains("Dump file path"), "{line}");
        children.push((child, err));
    }
    let tx = RawSender::new(veth.a()).unwrap();
    let frames: Vec<_> = (0..600u64)
        .map(|i| {
            FrameBuilder::udp()
                .ports(20_000 + (i % 40) as u16, 53)
                .build_len(i, 90)
        })
        .collect();
    tx.send_all(&frames).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    for (child, _) in &children {
        // We started these children: signal them by pid.
        let st = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
    }
    for (mut child, _) in children {
        assert!(child.wait().unwrap().success());
    }
    let mut saved: Vec<Vec<u8>> = files
        .iter()
        .flat_map(|f| read_records(f))
        .map(|(_, d, _)| d)
        .collect();
    let counts: Vec<usize> = files.iter().map(|f| read_records(f).len()).collect();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(counts.iter().all(|&n| n > 0), "{counts:?}");
    saved.sort();
    let mut want = frames.clone();
    want.sort();
    assert_eq!(
        saved, want,
        "every frame saved exactly once across the cluster"
    );
}

/// `-u 1|2`: the first packet of each flow adds a drop rule, so the flow's later packets
/// are never received.
#[test]
fn pfcount_u_adds_a_drop_rule_per_flow() {
    require_privileged!();
    for kind in ["1", "2"] {
        let ns = NetNs::new().unwrap();
        let veth = VethPair::new(&ns, "pua", "pub").unwrap();
        let tx = RawSender::new(veth.a()).unwrap();
        let flow = |seq: u64, port: u16| FrameBuilder::udp().ports(1000, port).build(seq, 20);
        let mut p = Pfcount::start(&["-i", "pub", "-u", kind, "-q", "-p", "20"]);
        // One packet per flow, then time for pfcount to add the rules.
        tx.send_all((0..5u64).map(|i| flow(i, 1 + i as u16)))
            .unwrap();
        std::thread::sleep(Duration::from_millis(500));
        // 10 more of each flow: all dropped; one packet of a new flow: received.
        tx.send_all((0..50u64).map(|i| flow(100 + i, 1 + (i % 5) as u16)))
            .unwrap();
        tx.send(&flow(200, 6)).unwrap();
        std::thread::sleep(Duration::from_millis(500));
        p.signal(libc::SIGTERM);
        let (st, _, err) = p.finish(Duration::from_secs(10));
        assert!(st.success(), "-u {kind}: {st:?} {err}");
        assert!(
            last_block(&err).starts_with("Absolute Stats: [6 pkts rcvd][0 pkts dropped]"),
            "-u {kind}: {err}"
        );
    }
}

#[test]
fn pfcount_d_sets_the_reflector_device() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let _veth = VethPair::new(&ns, "pda", "pdb").unwrap();
    let mut p = Pfcount::start(&["-i", "pdb", "-d", "pda", "-q"]);
    p.signal(libc::SIGTERM);
    let (st, _, err) = p.finish(Duration::from_secs(10));
    assert!(st.success(), "{err}");
    let out = Command::new(PFCOUNT)
        .args(["-i", "pdb", "-d", "nosuch0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "pfcount: no such device \"nosuch0\"\n"
    );
}

#[test]
fn check_timestamps_reports_each_step_back() {
    let dir = std::env::temp_dir().join(format!("pfcount-ts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("back.pcap");
    let mut w = pfring::pcap::Writer::new(
        std::fs::File::create(&path).unwrap(),
        pfring::pcap::Format::Pcap(pfring::pcap::TsResolution::Nano),
    )
    .unwrap();
    // The fourth record is stamped 2 µs before the third.
    let stamps = [1_000u64, 2_000, 5_000, 3_000, 6_000];
    for (i, t) in stamps.iter().enumerate() {
        let f = udp_frame(i as u64, 60);
        w.write(1_700_000_000_000_000_000 + t, &f, f.len() as u32)
            .unwrap();
    }
    w.flush().unwrap();
    drop(w);
    let out = Command::new(PFCOUNT)
        .args(["-i", &format!("pcap:{}", path.display()), "-T", "-q"])
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{err}");
    let back: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("Timestamp went backwards"))
        .collect();
    assert_eq!(
        back,
        ["Timestamp went backwards at packet 4: 1700000000.000005000 -> 1700000000.000003000"],
        "{err}"
    );
    assert!(
        err.contains("Timestamp check: 5 packets, 1 went backwards"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn hardware_timestamps_on_veth_are_a_one_line_error() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "pfsa", "pfsb").unwrap();
    let out = Command::new(PFCOUNT)
        .args(["-i", veth.b(), "-s"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("pfcount: device \"pfsb\" has no hardware RX timestamping: `ethtool -T pfsb` (driver veth)"),
        "{err}"
    );
}

/// The `[thread=i][N pkts rcvd]` counts of the final per-thread blocks.
fn thread_counts(stderr: &str, threads: usize) -> Vec<u64> {
    let at = stderr
        .rfind("Absolute Stats: [thread=0]")
        .expect("per-thread blocks");
    (0..threads)
        .map(|i| {
            let tag = format!("Absolute Stats: [thread={i}][");
            let from = at + stderr[at..].find(&tag).expect("thread block") + tag.len();
            stderr[from..].split(' ').next().unwrap().parse().unwrap()
        })
        .collect()
}

#[test]
fn pfcount_threads_share_one_cluster() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "nta", "ntb").unwrap();
    let mut p = Pfcount::start(&["-i", "ntb", "-c", "42", "-n", "3", "-H", "2", "-q"]);
    let tx = RawSender::new(veth.a()).unwrap();
    // 60 address pairs x 15 frames.
    for i in 0..900u64 {
        let k = (i % 60) as u8;
        let flow = FrameBuilder::udp()
            .ips([10, 0, k / 7, k].into(), [192, 168, k % 5, 1 + k].into())
            .ports(10_000 + k as u16, 53);
        tx.send(&flow.build_len(i, 80)).unwrap();
    }
    std::thread::sleep(Duration::from_millis(500));
    p.signal(libc::SIGINT);
    let (st, out, err) = p.finish(Duration::from_secs(5));
    assert!(st.success(), "{err}");
    assert!(out.contains("# Polling threads:    3"), "{out}");
    let counts = thread_counts(&err, 3);
    assert_eq!(counts.iter().sum::<u64>(), 900, "{counts:?}");
    assert!(
        counts.iter().all(|&n| n > 0),
        "every thread gets flows: {counts:?}"
    );
    let total = last_block(&err);
    assert!(
        total.starts_with("Absolute Stats: [900 pkts rcvd][0 pkts dropped]"),
        "{total}"
    );
}

#[test]
fn pfcount_threads_stop_after_n_packets_in_total() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "nna", "nnb").unwrap();
    let mut p = Pfcount::start(&["-i", "nnb", "-c", "43", "-n", "2", "-H", "1", "-N", "300"]);
    send(&veth, 400, 60);
    let (st, _, err) = p.finish(Duration::from_secs(10));
    assert!(st.success(), "{err}");
    let block = last_block(&err);
    assert!(block.contains("300 pkts - "), "{block}");
    let at = err.rfind("Absolute Stats: [thread=0]").unwrap();
    let counted: u64 = err[at..]
        .lines()
        .filter(|l| l.ends_with(" bytes") && l.contains(" pkts - "))
        .take(2)
        .map(|l| l.split(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(counted, 300, "{err}");
}

#[test]
fn pfcount_threads_need_a_cluster() {
    let out = Command::new(PFCOUNT)
        .args(["-i", "lo", "-n", "2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("-n <threads>"), "{err}");
}

#[test]
fn pfcount_threads_in_an_ip_with_dup_cluster_count_duplicates() {
    use pfring::{ClusterHash, ClusterType, ParsedPacket};
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "nda", "ndb").unwrap();
    let mut p = Pfcount::start(&["-i", "ndb", "-c", "44", "-n", "2", "-H", "13", "-q"]);
    let tx = RawSender::new(veth.a()).unwrap();
    let mut want = [0u64; 2];
    for i in 0..400u64 {
        let k = i as u8;
        let f = FrameBuilder::udp()
            .ips([10, 0, k / 3, k].into(), [192, 168, k % 7, k / 5].into())
            .ports(10_000, 53)
            .build_len(i, 80);
        let (parsed, _) = ParsedPacket::parse(&f, 4);
        let ClusterHash::Dup { src, dst } = parsed.cluster_hash(ClusterType::PerFlowIpWithDupTuple)
        else {
            panic!("dup hash")
        };
        want[(src % 2) as usize] += 1;
        if src % 2 != dst % 2 {
            want[(dst % 2) as usize] += 1;
        }
        tx.send(&f).unwrap();
    }
    std::thread::sleep(Duration::from_millis(500));
    p.signal(libc::SIGINT);
    let (st, _, err) = p.finish(Duration::from_secs(5));
    assert!(st.success(), "{err}");
    let counts = thread_counts(&err, 2);
    assert_eq!(counts, want.to_vec(), "thread i is member i");
    assert!(
        counts.iter().sum::<u64>() > 400,
        "some frames went to both: {counts:?}"
    );
}

/// Frames with varied addresses, and how many of them member 0 and 1 of a 2-member
/// ip-with-dup cluster get.
fn dup_frames(base: u64, n: u64) -> (Vec<Vec<u8>>, [u64; 2]) {
    use pfring::{ClusterHash, ClusterType, ParsedPacket};
    let mut want = [0u64; 2];
    let frames = (0..n)
        .map(|i| {
            let k = i as u8;
            let f = FrameBuilder::udp()
                .ips([10, 1, k / 3, k].into(), [192, 168, k % 7, k / 5].into())
                .ports(10_000, 53)
                .build_len(base + i, 80);
            let (parsed, _) = ParsedPacket::parse(&f, 4);
            let ClusterHash::Dup { src, dst } =
                parsed.cluster_hash(ClusterType::PerFlowIpWithDupTuple)
            else {
                panic!("dup hash")
            };
            want[(src % 2) as usize] += 1;
            if src % 2 != dst % 2 {
                want[(dst % 2) as usize] += 1;
            }
            f
        })
        .collect();
    (frames, want)
}

fn final_rcvd(err: &str) -> u64 {
    last_block(err)["Absolute Stats: [".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn two_pfcount_processes_in_an_ip_with_dup_cluster() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "dxa", "dxb").unwrap();
    // Started one after the other: a is member 0, b member 1.
    let mut a = Pfcount::start(&["-i", "dxb", "-c", "45", "-H", "13", "-q"]);
    let mut b = Pfcount::start(&["-i", "dxb", "-c", "45", "-H", "13", "-q"]);
    let tx = RawSender::new(veth.a()).unwrap();
    let (frames, want) = dup_frames(0, 300);
    for f in &frames {
        tx.send(f).unwrap();
    }
    std::thread::sleep(Duration::from_millis(500));
    a.signal(libc::SIGINT);
    let (st, _, err) = a.finish(Duration::from_secs(5));
    assert!(st.success(), "{err}");
    assert_eq!(final_rcvd(&err), want[0], "member 0 (first process)");
    // a left: b is the only member and gets everything.
    std::thread::sleep(Duration::from_millis(100));
    for f in &frames {
        tx.send(f).unwrap();
    }
    std::thread::sleep(Duration::from_millis(500));
    b.signal(libc::SIGINT);
    let (st, _, err) = b.finish(Duration::from_secs(5));
    assert!(st.success(), "{err}");
    assert_eq!(
        final_rcvd(&err),
        want[1] + 300,
        "member 1, then the only member"
    );
    assert!(
        want[0] + want[1] > 300,
        "some frames went to both: {want:?}"
    );
}
