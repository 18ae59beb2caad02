//! Live tests of the test kit itself: they need root (or `unshare -rn`) and skip otherwise.

use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use pfring_testkit::veth::link_exists;
use pfring_testkit::{
    FrameBuilder, NetNs, PacketType, RawReceiver, RawSender, VethPair, current_netns_inode,
    require_privileged, udp_frame, udp_frame_seq,
};

/// Every network namespace inode referenced by a thread or an open descriptor of this process.
fn netns_inodes_held_by_this_process() -> Vec<u64> {
    let mut inodes = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        if let Ok(m) = std::fs::metadata(task.path().join("ns/net")) {
            inodes.push(m.ino());
        }
    }
    for fd in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        if let Ok(target) = std::fs::read_link(fd.path()) {
            let t = target.to_string_lossy().into_owned();
            if let Some(n) = t.strip_prefix("net:[").and_then(|r| r.strip_suffix(']')) {
                inodes.push(n.parse().unwrap());
            }
        }
    }
    inodes
}

/// Compares frames without printing kilobytes of bytes on failure.
#[track_caller]
fn assert_same_bytes(got: &[u8], want: &[u8], frame: usize) {
    if got != want {
        let first = got
            .iter()
            .zip(want)
            .position(|(a, b)| a != b)
            .unwrap_or(got.len().min(want.len()));
        let lo = first.saturating_sub(4);
        panic!(
            "frame {frame}: {} bytes received, {} expected, first difference at byte {first}: got {:02x?} want {:02x?}",
            got.len(),
            want.len(),
            &got[lo..(first + 8).min(got.len())],
            &want[lo..(first + 8).min(want.len())],
        );
    }
}

fn send_and_receive_1000(a: &str, b: &str) {
    let ns = NetNs::new().expect("netns");
    let veth = VethPair::new(&ns, a, b).expect("veth");
    let rx = RawReceiver::new(veth.b()).unwrap();
    let tx = RawSender::new(veth.a()).unwrap();
    let frames: Vec<Vec<u8>> = (0..1000u64)
        .map(|i| udp_frame(i, 60 + (i as usize * 7) % 1455))
        .collect();
    assert_eq!(tx.send_all(&frames).unwrap(), 1000);
    let got = rx
        .collect(1000, Duration::from_secs(2), Duration::from_secs(20))
        .unwrap();
    assert_eq!(got.len(), 1000, "frames received on {b}");
    let extra = rx
        .collect(1, Duration::from_millis(200), Duration::from_millis(200))
        .unwrap();
    assert!(extra.is_empty(), "more than 1000 frames arrived on {b}");
    for (i, r) in got.iter().enumerate() {
        assert_eq!(udp_frame_seq(&r.data), Some(i as u64));
        assert_same_bytes(&r.data, &frames[i], i);
        assert_eq!(r.orig_len, frames[i].len());
        assert_eq!(r.pkttype, PacketType::OtherHost, "dst MAC is not {b}'s");
    }
    let (_, drops) = rx.stats().unwrap();
    assert_eq!(drops, 0);
}

#[test]
fn thousand_udp_frames_cross_a_veth_exactly() {
    require_privileged!();
    send_and_receive_1000("tka0", "tkb0");
}

#[test]
fn same_names_in_parallel_threads_do_not_collide() {
    require_privileged!();
    let threads: Vec<_> = (0..4)
        .map(|_| std::thread::spawn(|| send_and_receive_1000("same0", "same1")))
        .collect();
    for t in threads {
        t.join().expect("a parallel namespace test failed");
    }
}

#[test]
fn drop_restores_thread_namespace_and_frees_the_namespace() {
    require_privileged!();
    let before = current_netns_inode().unwrap();
    let inner;
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let older = std::thread::spawn(move || {
        go_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        current_netns_inode().unwrap()
    });
    {
        let ns = NetNs::new().unwrap();
        inner = ns.inode();
        assert_ne!(inner, before);
        assert_eq!(current_netns_inode().unwrap(), inner);
        let _veth = VethPair::new(&ns, "gone0", "gone1").unwrap();
        assert!(link_exists("gone0"));
        assert!(std::path::Path::new("/proc/sys/net/ipv4/conf/gone0").exists());
        // A thread that existed before is not affected by this thread's unshare...
        go_tx.send(()).unwrap();
        assert_eq!(older.join().unwrap(), before);
        // ...but a thread spawned from inside inherits the spawning thread's namespace.
        let spawned = std::thread::spawn(|| current_netns_inode().unwrap())
            .join()
            .unwrap();
        assert_eq!(spawned, inner);
        // run_in and command() reach the namespace from other threads / processes.
        assert!(ns.run_in(|| link_exists("gone1")).unwrap());
        let out = ns
            .command("ip")
            .args(["-o", "link", "show", "gone1"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(current_netns_inode().unwrap(), before);
    assert!(!link_exists("gone0") && !link_exists("gone1"));
    // /proc/sys/net follows the reading thread's namespace, so gone0's sysctls vanished too.
    assert!(!std::path::Path::new("/proc/sys/net/ipv4/conf/gone0").exists());
    assert!(
        !netns_inodes_held_by_this_process().contains(&inner),
        "no thread or descriptor of this process refers to the dropped namespace"
    );
}

#[test]
fn panic_inside_still_restores_the_namespace() {
    require_privileged!();
    let before = current_netns_inode().unwrap();
    let result = std::panic::catch_unwind(|| {
        let ns = NetNs::new().unwrap();
        let _veth = VethPair::new(&ns, "pan0", "pan1").unwrap();
        assert_ne!(current_netns_inode().unwrap(), before);
        panic!("boom");
    });
    assert!(result.is_err());
    assert_eq!(current_netns_inode().unwrap(), before);
    assert!(!link_exists("pan0"));
}

#[test]
fn quiet_veth_carries_no_frames() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "qa", "qb").unwrap();
    if std::path::Path::new("/proc/sys/net/ipv6").exists() {
        // /proc/sys/net shows the namespace of the reading *thread*: qa exists here only.
        let sysctl = "/proc/sys/net/ipv6/conf/qa/disable_ipv6";
        assert_eq!(std::fs::read_to_string(sysctl).unwrap().trim(), "1");
    }
    let rx_a = RawReceiver::new(veth.a()).unwrap();
    let rx_b = RawReceiver::new(veth.b()).unwrap();
    // Both ends, both directions, for one second (right after bring-up, when DAD/RS would fire).
    let (na, nb) = std::thread::scope(|s| {
        let h = s.spawn(|| rx_a.count_for(Duration::from_secs(1)).unwrap());
        let nb = rx_b.count_for(Duration::from_secs(1)).unwrap();
        (h.join().unwrap(), nb)
    });
    assert_eq!((na, nb), (0, 0), "frames seen on an idle veth");
}

#[test]
fn veth_refuses_to_be_made_outside_its_namespace() {
    require_privileged!();
    let before = current_netns_inode().unwrap();
    let outer = NetNs::new().unwrap();
    {
        // A nested guard moves the thread on; `outer` is no longer the current namespace.
        let inner = NetNs::new().unwrap();
        let err = VethPair::new(&outer, "x0", "x1").unwrap_err();
        assert!(
            matches!(err, pfring_testkit::Error::WrongNamespace { .. }),
            "{err}"
        );
        assert!(!link_exists("x0"));
        assert!(inner.is_current());
    }
    assert!(outer.is_current());
    drop(outer);
    assert_eq!(current_netns_inode().unwrap(), before);
}

#[test]
fn tcp_vlan_frames_and_helpers() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::builder("ha", "hb")
        .mtu(9000)
        .macs([2, 0, 0, 0, 0, 0xa], [2, 0, 0, 0, 0, 0xb])
        .queues(2)
        .create(&ns)
        .unwrap();
    assert_eq!(veth.mac_a().unwrap(), [2, 0, 0, 0, 0, 0xa]);
    assert_eq!(veth.mac_b().unwrap(), [2, 0, 0, 0, 0, 0xb]);
    assert!(veth.ifindex_a().unwrap() > 1 && veth.ifindex_b().unwrap() > 1);
    pfring_testkit::veth::set_promisc("hb", true).unwrap();
    assert!(pfring_testkit::veth::is_promisc("hb").unwrap());
    let b = FrameBuilder::tcp()
        .macs(veth.mac_a().unwrap(), veth.mac_b().unwrap())
        .vlan(100)
        .vlan(200);
    let rx = RawReceiver::new("hb").unwrap();
    let tx = RawSender::new("ha").unwrap();
    tx.set_qdisc_bypass(true).unwrap();
    let jumbo = b.build_len(1, 9000 + 14);
    let small = b.build_len(2, 64);
    assert_eq!(tx.send_n(&[&jumbo, &small], 4).unwrap(), 4);
    let got = rx
        .collect(10, Duration::from_millis(300), Duration::from_secs(5))
        .unwrap();
    assert_eq!(got.len(), 4);
    assert_same_bytes(&got[0].data, &jumbo, 0);
    assert_same_bytes(&got[1].data, &small, 1);
    assert_eq!(got[0].pkttype, PacketType::Host);
    // The kernel took the outer tag out on receive; the receiver put it back.
    assert_eq!(got[0].vlan_stripped, Some((0x8100, 100)));
    // Too big for the MTU: an error, not a panic.
    assert!(tx.send(&b.build_len(3, 9100)).is_err());
}

/// Set in the environment of a child copy of this test binary run as `nobody`.
const CHILD_ENV: &str = "PFRING_TESTKIT_NOBODY_CHILD";

/// Does nothing in a normal run; in the child run (as `nobody`) it checks what an unprivileged
/// process sees and prints it for `unprivileged_child_skips_and_is_denied`.
#[test]
fn nobody_child_probe() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    for line in status
        .lines()
        .filter(|l| l.starts_with(|c| "UGC".contains(c)))
    {
        println!("status {line}");
    }
    match RawSender::new("lo") {
        Err(pfring_testkit::Error::PermissionDenied { needs, .. }) => {
            println!("sender denied, needs {needs}")
        }
        other => println!("sender unexpected: {other:?}"),
    }
    match NetNs::new() {
        Err(pfring_testkit::Error::PermissionDenied { needs, .. }) => {
            println!("netns denied, needs {needs}")
        }
        other => println!("netns unexpected: {other:?}"),
    }
    require_privileged!();
    panic!("require_privileged!() should have returned early for nobody");
}

#[test]
fn unprivileged_child_skips_and_is_denied() {
    require_privileged!();
    let exe = std::env::current_exe().unwrap();
    // The child must be able to reach the binary: every directory on the way needs o+x.
    let mut dir = exe.parent();
    while let Some(d) = dir {
        let mode = std::fs::metadata(d).unwrap().permissions();
        if std::os::unix::fs::PermissionsExt::mode(&mode) & 0o001 == 0 {
            eprintln!(
                "skipping unprivileged_child_skips_and_is_denied: {} is not searchable by others",
                d.display()
            );
            return;
        }
        dir = d.parent();
    }
    let run = |require: bool| {
        let mut cmd = std::process::Command::new(&exe);
        cmd.args([
            "--exact",
            "nobody_child_probe",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .env_remove("PFRING_REQUIRE_PRIVILEGED")
        .current_dir("/");
        if require {
            cmd.env("PFRING_REQUIRE_PRIVILEGED", "1");
        }
        pfring_testkit::run_as_nobody(&mut cmd).output().unwrap()
    };
    let out = run(false);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("status Uid:\t65534\t65534\t65534\t65534"),
        "{stdout}"
    );
    assert!(
        stdout.contains("status Gid:\t65534\t65534\t65534\t65534"),
        "{stdout}"
    );
    assert!(
        stdout.lines().any(|l| l.trim_end() == "status Groups:"),
        "no supplementary groups: {stdout}"
    );
    assert!(
        stdout.contains("status CapEff:\t0000000000000000"),
        "{stdout}"
    );
    assert!(
        stdout.contains("status CapPrm:\t0000000000000000"),
        "{stdout}"
    );
    assert!(
        stdout.contains("sender denied, needs CAP_NET_RAW"),
        "{stdout}"
    );
    assert!(
        stdout.contains("netns denied, needs CAP_SYS_ADMIN"),
        "{stdout}"
    );
    assert!(
        stderr.contains("skipping live::nobody_child_probe: cannot create a network namespace"),
        "{stderr}"
    );
    // With PFRING_REQUIRE_PRIVILEGED=1 the same check fails the test instead.
    let out = run(true);
    let all = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "child should fail with PFRING_REQUIRE_PRIVILEGED=1:\n{all}"
    );
    assert!(
        all.contains("PFRING_REQUIRE_PRIVILEGED=1, so this is a failure, not a skip"),
        "{all}"
    );
}

#[test]
fn frames_land_on_the_chosen_rx_queue() {
    require_privileged!();
    if pfring_testkit::queues::cpu_for_queue(1, 2).is_err() {
        eprintln!("skipping frames_land_on_the_chosen_rx_queue: fewer than 2 usable CPUs");
        return;
    }
    let ns = NetNs::new().unwrap();
    let veth = VethPair::builder("mqa", "mqb")
        .queues(2)
        .create(&ns)
        .unwrap();
    let rx = [
        RawReceiver::on_queue("mqb", 0).unwrap(),
        RawReceiver::on_queue("mqb", 1).unwrap(),
    ];
    let tx = RawSender::new("mqa").unwrap();
    for gro in ["off", "on"] {
        // GRO on makes veth deliver through NAPI on the peer's RX queue; the queue stays visible.
        veth.ethtool(&["-K", "mqb", "gro", gro]).unwrap();
        for queue in 0..2u32 {
            let frames: Vec<_> = (0..50u64)
                .map(|i| {
                    FrameBuilder::udp()
                        .ports(1000 + i as u16, 2000)
                        .build_len(i, 100)
                })
                .collect();
            let sent =
                pfring_testkit::queues::send_on_queue(&tx, queue, veth.num_queues(), &frames)
                    .unwrap();
            assert_eq!(sent, 50);
            // Wait long (for a loaded machine) for the 50 on the expected queue, then check
            // briefly that none went to the other one.
            let counts: Vec<usize> = (0..2u32)
                .map(|q| {
                    let idle = Duration::from_millis(if q == queue { 2000 } else { 200 });
                    let got = rx[q as usize]
                        .collect(50, idle, Duration::from_secs(10))
                        .unwrap();
                    got.len()
                })
                .collect();
            let mut want = vec![0, 0];
            want[queue as usize] = 50;
            assert_eq!(counts, want, "gro {gro}, queue {queue}");
        }
    }
}

/// Control for `quiet_veth_carries_no_frames`: without the suppression the kernel does talk.
#[test]
fn noisy_veth_control_sees_ipv6_chatter() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    if !std::path::Path::new("/proc/sys/net/ipv6").exists() {
        eprintln!("skipping noisy_veth_control_sees_ipv6_chatter: kernel without IPv6");
        return;
    }
    let veth = VethPair::builder("na", "nb")
        .quiet(false)
        .create(&ns)
        .unwrap();
    let rx = RawReceiver::new(veth.b()).unwrap();
    // DAD / router solicitation / MLD frames (EtherType 0x86dd) within a few seconds.
    let mut ipv6 = 0;
    let end = std::time::Instant::now() + Duration::from_secs(5);
    while ipv6 == 0 && std::time::Instant::now() < end {
        if let Some(r) = rx.recv(Duration::from_millis(100)).unwrap() {
            ipv6 += usize::from(r.data.get(12..14) == Some(&[0x86, 0xdd][..]));
        }
    }
    assert!(ipv6 > 0, "an unsuppressed veth should carry IPv6 chatter");
}
