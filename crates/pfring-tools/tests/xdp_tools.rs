//! pfcount, pfsend and pfbridge on `xdp:` devices: the real binaries on a veth pair in a
//! namespace the test made, with exact counts.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pfring_testkit::{NetNs, RawReceiver, RawSender, VethPair, require_privileged, udp_frame};

#[path = "common/bridge.rs"]
mod bridge;

use bridge::Bridge;

/// On veth, frames the peer sends in the first milliseconds after a native XDP program is
/// attached can be dropped by the peer's transmit path (see live_xdp.rs): wait that long.
fn settle() {
    std::thread::sleep(Duration::from_millis(50));
}

/// Reads `child`'s stdout until a line starts with `marker` (≤ 10 s); returns the reader.
fn wait_for_line(
    child: &mut std::process::Child,
    marker: &str,
) -> BufReader<std::process::ChildStdout> {
    let mut r = BufReader::new(child.stdout.take().expect("piped stdout"));
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut line = String::new();
    while Instant::now() < deadline {
        line.clear();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        if line.starts_with(marker) {
            return r;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("no line starting with {marker:?}");
}

/// Waits (≤ 10 s) for `child` to exit, killing it after that.
fn finish(child: &mut std::process::Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn pfcount_counts_exactly_on_xdp() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::builder("xta", "xtb")
        .quiet(true)
        .create(&ns)
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pfcount"))
        .args(["-i", "xdp:xtb@0", "-N", "300", "-f", "udp"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = wait_for_line(&mut child, "# Polling threads");
    settle();
    let tx = RawSender::new(veth.a()).unwrap();
    tx.send_all((0..300).map(|i| udp_frame(i, 100))).unwrap();
    let st = finish(&mut child);
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    assert!(st.success(), "{st:?} {err}");
    // pfcount counts 24 bytes of wire overhead per frame (preamble, CRC, gap): 124 each.
    let at = err.rfind("Absolute Stats").expect("stats block");
    assert!(
        err[at..].starts_with(
            "Absolute Stats: [300 pkts rcvd][0 pkts dropped]\n\
             Total Pkts=300/Dropped=0.0 %\n\
             300 pkts - 37'200 bytes"
        ),
        "{}",
        &err[at..]
    );
}

#[test]
fn pfsend_sends_exactly_on_xdp() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::builder("xsa", "xsb")
        .quiet(true)
        .create(&ns)
        .unwrap();
    let rx = RawReceiver::new(veth.b()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_pfsend"))
        .args(["-i", "xdp:xsa@0", "-n", "5000", "-l", "128"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Sent 5000 packets"), "{text}");
    let got = rx
        .collect(6000, Duration::from_millis(500), Duration::from_secs(20))
        .unwrap();
    assert_eq!(got.len(), 5000);
    assert!(got.iter().all(|r| r.data.len() == 128));
}

#[test]
fn pfbridge_forwards_between_xdp_devices() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let ab = VethPair::builder("xba", "xbb")
        .quiet(true)
        .create(&ns)
        .unwrap();
    let cd = VethPair::builder("xbc", "xbd")
        .quiet(true)
        .create(&ns)
        .unwrap();
    // Two xdp: devices: the shared-UMEM bridge.
    let bridge = Bridge::start(
        &["-a", "xdp:xbb@0", "-b", "xdp:xbc@0"],
        "Bridging xdp:xbb@0 -> xdp:xbc@0 (shared UMEM",
    );
    let forth: Vec<_> = (0..1000)
        .map(|i| udp_frame(i, 60 + (i as usize % 900)))
        .collect();
    let (got_d, got_a) = bridge.exchange(&ab, &cd, &forth, &[]);
    let rest = bridge.stop();
    assert_eq!(got_d, forth);
    assert!(got_a.is_empty(), "one direction only");
    assert!(rest.contains("Forwarded 1000 packets"), "{rest}");
}

/// `pfbridge -a xdp:yb@0 -b xdp:yc@0 -B <extra>`: 500 frames forth, 300 back, exactly.
fn bridge_both_ways(extra: &[&str], banner: &str) {
    let ns = NetNs::new().unwrap();
    let ab = VethPair::builder("ya", "yb")
        .quiet(true)
        .create(&ns)
        .unwrap();
    let cd = VethPair::builder("yc", "yd")
        .quiet(true)
        .create(&ns)
        .unwrap();
    let args = [&["-a", "xdp:yb@0", "-b", "xdp:yc@0", "-B"][..], extra].concat();
    let bridge = Bridge::start(&args, banner);
    let forth: Vec<_> = (0..500)
        .map(|i| udp_frame(i, 60 + (i as usize % 900)))
        .collect();
    let back: Vec<_> = (5000..5300).map(|i| udp_frame(i, 80)).collect();
    let (got_d, got_a) = bridge.exchange(&ab, &cd, &forth, &back);
    let rest = bridge.stop();
    assert_eq!(got_d, forth);
    assert_eq!(got_a, back);
    assert!(rest.contains("Forwarded 800 packets"), "{rest}");
}

#[test]
fn pfbridge_bidirectional_xdp_shared_umem() {
    require_privileged!();
    bridge_both_ways(&[], "Bridging xdp:yb@0 -> xdp:yc@0 (and back) (shared UMEM");
}

#[test]
fn pfbridge_bidirectional_xdp_one_ring_per_device() {
    require_privileged!();
    // -p (a send per packet) goes through rings: one per device, RX and TX.
    bridge_both_ways(&["-p"], "Bridging xdp:yb@0 -> xdp:yc@0 (and back)");
}
