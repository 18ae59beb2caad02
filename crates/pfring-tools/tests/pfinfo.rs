//! pfinfo end to end: a real pfcount capturing on a veth in a namespace the test made shows
//! in `pfinfo rings --json` with the counters pfcount itself reports, and disappears when it
//! exits or is killed with SIGKILL.

use std::process::Command;
use std::time::{Duration, Instant};

use pfring_testkit::{NetNs, RawSender, VethPair, require_privileged, udp_frame};
use serde_json::Value;

mod common;

use common::Pfcount;

const PFINFO: &str = env!("CARGO_BIN_EXE_pfinfo");

/// Starts pfcount on `dev` (quiet, 100 ms poll waits) and waits for its banner.
fn capture(dev: &str) -> Pfcount {
    Pfcount::start(&["-i", dev, "-q", "-p", "100"])
}

/// SIGINT, then pfcount's stderr (the final stats block) once it exited (≤ 10 s).
fn stop(mut p: Pfcount) -> String {
    p.signal(libc::SIGINT);
    let (st, _, err) = p.finish(Duration::from_secs(10));
    assert!(st.success(), "{st:?} {err}");
    err
}

fn pfinfo(args: &[&str]) -> String {
    let out = Command::new(PFINFO).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "pfinfo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `pfinfo rings --json`'s entries of process `pid`.
fn rings_of(pid: u32) -> Vec<Value> {
    let all: Value = serde_json::from_str(&pfinfo(&["rings", "--json"])).unwrap();
    all.as_array()
        .unwrap()
        .iter()
        .filter(|r| r["pid"] == pid)
        .cloned()
        .collect()
}

/// Polls (every 50 ms, ≤ `timeout`) until `ok` holds for pid's entries; returns them.
fn wait_rings(pid: u32, timeout: Duration, ok: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + timeout;
    loop {
        let r = rings_of(pid);
        if ok(&r) {
            return r;
        }
        assert!(Instant::now() < deadline, "pfinfo shows {r:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `Absolute Stats: [R pkts rcvd][D pkts dropped]` of pfcount's last block.
fn final_counts(stderr: &str) -> (u64, u64) {
    let at = stderr.rfind("Absolute Stats: [").expect("a stats block");
    let rest = &stderr[at + "Absolute Stats: [".len()..];
    let recv = rest.split(' ').next().unwrap().parse().unwrap();
    let rest = &rest[rest.find("][").unwrap() + 2..];
    let drop = rest.split(' ').next().unwrap().parse().unwrap();
    (recv, drop)
}

#[test]
fn pfinfo_shows_a_running_pfcount_with_its_own_counters() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "pia", "pib").unwrap();
    let cap = capture("pib");
    let pid = cap.child.id();
    let r = wait_rings(pid, Duration::from_secs(5), |r| r.len() == 1);
    assert_eq!(r[0]["appl_name"], "pfcount");
    assert_eq!(r[0]["device"], "pib");
    assert_eq!(r[0]["module"], "packet");
    assert_eq!(r[0]["active"], true);
    let id = r[0]["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with(&format!("{pid}-pib.")), "{id}");

    const N: u64 = 700;
    RawSender::new(veth.a())
        .unwrap()
        .send_all((0..N).map(|i| udp_frame(i, 60 + (i as usize % 200))))
        .unwrap();
    // The entry's counters follow within about a second.
    let r = wait_rings(pid, Duration::from_secs(5), |r| {
        r.len() == 1 && r[0]["recv"].as_u64().unwrap() + r[0]["drop"].as_u64().unwrap() >= N
    });
    let shown = (
        r[0]["recv"].as_u64().unwrap(),
        r[0]["drop"].as_u64().unwrap(),
    );
    // The per-ring view and the device view say the same.
    let view = pfinfo(&["ring", &id]);
    for l in [
        "Bound Device       : pib".to_owned(),
        "Active             : 1".to_owned(),
        "Appl. Name         : pfcount".to_owned(),
        format!("Tot Packets        : {}", shown.0 + shown.1),
        format!("Tot Pkt Lost       : {}", shown.1),
    ] {
        assert!(view.lines().any(|x| x == l), "{l:?} not in\n{view}");
    }
    let dev = pfinfo(&["dev", "pib"]);
    assert!(dev.contains("# Bound Sockets:  1\n"), "{dev}");
    assert!(
        pfinfo(&[])
            .lines()
            .any(|l| l.starts_with("Total rings         : ")),
        "info view"
    );

    // pfcount's own final stats are what pfinfo showed.
    let err = stop(cap);
    assert_eq!(final_counts(&err), shown, "{err}");
    assert_eq!(shown, (N, 0));
    // Closed cleanly: its entry is gone.
    assert!(rings_of(pid).is_empty());
}

#[test]
fn a_killed_pfcount_is_pruned_from_pfinfo() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let _veth = VethPair::new(&ns, "pka", "pkb").unwrap();
    let mut cap = capture("pkb");
    let pid = cap.child.id();
    let r = wait_rings(pid, Duration::from_secs(5), |r| r.len() == 1);
    let id = r[0]["id"].as_str().unwrap().to_owned();
    let entry = pfring::registry::rings_dir().unwrap().join(&id);
    assert!(entry.exists());
    // SIGKILL: no destructor runs, the entry file stays behind...
    cap.child.kill().unwrap();
    cap.child.wait().unwrap();
    assert!(entry.exists());
    // ...until a reader sees that its process is gone.
    assert!(rings_of(pid).is_empty());
    assert!(!entry.exists(), "the stale entry was not pruned");
    let out = Command::new(PFINFO).args(["ring", &id]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn pfsend_to_pfcount_through_a_userspace_ring() {
    require_privileged!();
    let name = format!("usr{}9", std::process::id());
    let cap = capture(&name);
    let pid = cap.child.id();
    let r = wait_rings(pid, Duration::from_secs(5), |r| r.len() == 1);
    assert_eq!(r[0]["module"], "userspace");
    let out = Command::new(env!("CARGO_BIN_EXE_pfsend"))
        .args(["-i", &format!("userspace:{name}"), "-n", "5000", "-l", "60"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = wait_rings(pid, Duration::from_secs(5), |r| {
        r.len() == 1 && r[0]["recv"] == 5000
    });
    assert_eq!(r[0]["drop"], 0);
    assert_eq!(final_counts(&stop(cap)), (5000, 0));
}
