//! Userspace rings between two real processes: this test binary runs itself as the second
//! process (the ignored `helper` test, driven by environment variables), by PID.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use pfring::{Error, Ring, RingBuilder};
use pfring_testkit::require_privileged;

const ROLE: &str = "PFRING_USR_TEST_ROLE";
const NAME: &str = "PFRING_USR_TEST_NAME";
const COUNT: &str = "PFRING_USR_TEST_COUNT";
const FIRST: &str = "PFRING_USR_TEST_FIRST";

/// Userspace rings need a runtime directory: root, or `$XDG_RUNTIME_DIR`.
macro_rules! need_runtime_dir {
    () => {
        if pfring::registry::runtime_dir().is_err() {
            require_privileged!();
        }
    };
}

/// A ring name no other test (or test run) uses.
fn unique_name() -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    format!(
        "usr{}{:03}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

/// 2 KiB of fixed pseudo-random bytes, the payload source of every frame.
fn pattern() -> &'static [u8] {
    static P: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    P.get_or_init(|| {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        (0..2048)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    })
}

/// Frame `seq`: 60..=1514 bytes, its sequence number at offset 14, then a slice of the
/// pattern that depends on `seq`, so any lost, reordered or altered byte shows.
fn frame_into(seq: u64, out: &mut Vec<u8>) {
    let len = 60 + (seq as usize * 7919) % 1455;
    out.clear();
    out.extend_from_slice(&[0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x88, 0xB5]);
    out.extend_from_slice(&seq.to_le_bytes());
    let off = (seq % 251) as usize;
    out.extend_from_slice(&pattern()[off..off + (len - 22)]);
}

fn seq_of(frame: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(frame.get(14..22)?.try_into().ok()?))
}

/// Not a test on its own: the second process of the tests below, started by them with
/// [`ROLE`] set. Roles: `send` (send COUNT frames from FIRST, then exit), `send-hold` (the
/// same, then wait to be killed), `recv-hold` (attach as the receiver, read nothing, wait to
/// be killed).
#[test]
#[ignore = "the helper process of the userspace tests; they start it themselves"]
fn helper() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let name = std::env::var(NAME).unwrap();
    let count: u64 = std::env::var(COUNT).map_or(0, |c| c.parse().unwrap());
    let first: u64 = std::env::var(FIRST).map_or(0, |c| c.parse().unwrap());
    match role.as_str() {
        "send" | "send-hold" => {
            let mut ring = Ring::open(&format!("userspace:{name}"), 1536, Default::default())
                .expect("open the sending side");
            ring.enable().unwrap();
            let mut buf = Vec::with_capacity(1514);
            for seq in first..first + count {
                frame_into(seq, &mut buf);
                loop {
                    match ring.send(&buf, false) {
                        Ok(()) => break,
                        Err(Error::NoTxSlotAvailable) => {
                            ring.wait_tx_slot(Duration::from_secs(1)).unwrap();
                        }
                        Err(e) => panic!("send {seq}: {e}"),
                    }
                }
            }
            ring.flush_tx_packets().unwrap();
            println!("HELPER sent {count}");
            if role == "send-hold" {
                std::thread::sleep(Duration::from_secs(120));
            }
        }
        "recv-hold" => {
            let mut ring = RingBuilder::new(&name).slots(8).open().unwrap();
            ring.enable().unwrap();
            println!("HELPER ready");
            std::thread::sleep(Duration::from_secs(120));
        }
        other => panic!("unknown role {other}"),
    }
}

/// The helper as a child process, killed (by PID) on drop if still running.
struct Helper {
    child: Child,
    lines: Receiver<String>,
}

impl Helper {
    fn start(role: &str, name: &str, first: u64, count: u64) -> Helper {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["helper", "--exact", "--ignored", "--nocapture"])
            .env(ROLE, role)
            .env(NAME, name)
            .env(FIRST, first.to_string())
            .env(COUNT, count.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn the helper");
        let out = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Helper { child, lines }
    }

    /// Waits (≤ `timeout`) for a line starting with `prefix`.
    fn wait_line(&self, prefix: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(l) if l.starts_with(prefix) => return l,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        panic!("the helper did not print {prefix:?} within {timeout:?}");
    }

    /// SIGKILL, then reap it (a zombie would still count as alive).
    fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn wait_success(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                assert!(st.success(), "helper failed: {st:?}");
                return;
            }
            assert!(Instant::now() < deadline, "helper still running");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The sequence numbers of every frame queued now (receiving without waiting).
fn drain(rx: &mut Ring) -> Vec<u64> {
    let mut got = vec![];
    while let Some(p) = rx.recv(false).unwrap() {
        got.push(seq_of(p.data()).unwrap());
    }
    got
}

fn receiver(name: &str, slots: u32) -> Ring {
    let mut r = RingBuilder::new(name).slots(slots).open().unwrap();
    r.enable().unwrap();
    r
}

#[test]
fn a_million_frames_between_two_processes_none_lost_bytes_identical() {
    need_runtime_dir!();
    const N: u64 = 1_000_000;
    let name = unique_name();
    let mut rx = receiver(&name, 4096);
    let mut sender = Helper::start("send", &name, 0, N);
    let mut expected = Vec::with_capacity(1514);
    let (mut next, mut bytes) = (0u64, 0u64);
    let deadline = Instant::now() + Duration::from_secs(120);
    while next < N {
        assert!(
            Instant::now() < deadline,
            "only {next} of {N} frames arrived"
        );
        let burst = rx.recv_burst(256, true).unwrap();
        for (h, data) in burst.iter() {
            frame_into(next, &mut expected);
            assert_eq!(seq_of(data), Some(next), "frame out of order or lost");
            assert_eq!(h.len as usize, expected.len());
            assert!(data == &expected[..], "frame {next}: bytes differ");
            bytes += data.len() as u64;
            next += 1;
        }
    }
    sender.wait_success(Duration::from_secs(30));
    // Nothing more than the N frames.
    assert!(rx.recv(false).unwrap().is_none());
    let st = rx.stats().unwrap();
    assert_eq!((st.recv, st.drop), (N, 0));
    assert!(bytes > N * 60);
}

#[test]
fn a_full_ring_refuses_the_frame_and_takes_it_once_read() {
    need_runtime_dir!();
    let name = unique_name();
    let mut rx = receiver(&name, 8);
    let mut tx = Ring::open(&format!("userspace:{name}"), 1536, Default::default()).unwrap();
    tx.enable().unwrap();
    let mut buf = Vec::new();
    for seq in 0..8 {
        frame_into(seq, &mut buf);
        tx.send(&buf, true).unwrap();
    }
    frame_into(8, &mut buf);
    assert!(matches!(tx.send(&buf, true), Err(Error::NoTxSlotAvailable)));
    assert!(!tx.wait_tx_slot(Duration::from_millis(100)).unwrap());
    assert_eq!(tx.tx_stats(), (8, 8));
    // The receiver drains the ring; then exactly 8 more fit.
    assert_eq!(drain(&mut rx), (0..8).collect::<Vec<_>>());
    assert!(tx.wait_tx_slot(Duration::from_millis(100)).unwrap());
    for seq in 8..16 {
        frame_into(seq, &mut buf);
        tx.send(&buf, true).unwrap();
    }
    frame_into(16, &mut buf);
    assert!(matches!(tx.send(&buf, true), Err(Error::NoTxSlotAvailable)));
    assert_eq!(drain(&mut rx), (8..16).collect::<Vec<_>>());
    // The receiving side cannot send, the sending side cannot receive.
    assert!(matches!(
        rx.send(&buf, true),
        Err(Error::NotSupported { .. })
    ));
    assert!(matches!(tx.recv(false), Err(Error::NotSupported { .. })));
}

#[test]
fn a_killed_receiver_is_reported_to_the_sender() {
    need_runtime_dir!();
    let name = unique_name();
    let mut peer = Helper::start("recv-hold", &name, 0, 0);
    peer.wait_line("HELPER ready", Duration::from_secs(20));
    let mut tx = Ring::open(&format!("userspace:{name}"), 1536, Default::default()).unwrap();
    tx.enable().unwrap();
    let mut buf = Vec::new();
    let mut sent = 0;
    while sent < 100 {
        frame_into(sent, &mut buf);
        match tx.send(&buf, true) {
            Ok(()) => sent += 1,
            Err(Error::NoTxSlotAvailable) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(sent, 8, "the helper's ring has 8 slots");
    let pid = peer.child.id();
    peer.kill9();
    let t = Instant::now();
    match tx.send(&buf, true) {
        Err(Error::PeerGone {
            peer: "receiver",
            pid: p,
            ..
        }) => assert_eq!(p, pid),
        other => panic!("expected PeerGone, got {other:?}"),
    }
    assert!(matches!(
        tx.wait_tx_slot(Duration::from_secs(5)),
        Err(Error::PeerGone { .. })
    ));
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
}

#[test]
fn a_killed_sender_is_reported_to_the_receiver_and_a_new_one_can_attach() {
    need_runtime_dir!();
    let name = unique_name();
    let mut rx = receiver(&name, 64);
    let mut peer = Helper::start("send-hold", &name, 0, 10);
    peer.wait_line("HELPER sent 10", Duration::from_secs(20));
    assert_eq!(drain(&mut rx), (0..10).collect::<Vec<_>>());
    let pid = peer.child.id();
    peer.kill9();
    let t = Instant::now();
    match rx.recv(true) {
        Err(Error::PeerGone {
            peer: "sender",
            pid: p,
            ..
        }) => assert_eq!(p, pid),
        other => panic!("expected PeerGone, got {other:?}"),
    }
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    // A new sender takes the dead one's place.
    let mut again = Helper::start("send", &name, 10, 5);
    again.wait_success(Duration::from_secs(20));
    assert_eq!(drain(&mut rx), (10..15).collect::<Vec<_>>());
}

#[test]
fn the_ring_file_is_owner_only_and_removed_by_the_last_to_close() {
    need_runtime_dir!();
    let name = unique_name();
    let rx = receiver(&name, 16);
    let path = pfring::registry::runtime_dir()
        .unwrap()
        .join("usr")
        .join(&name);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    let tx = Ring::open(&format!("userspace:{name}"), 1536, Default::default()).unwrap();
    // One sender at a time.
    assert!(matches!(
        Ring::open(&format!("userspace:{name}"), 1536, Default::default()),
        Err(Error::DeviceBusy { .. })
    ));
    drop(rx);
    assert!(path.exists(), "the sender still uses it");
    drop(tx);
    assert!(!path.exists());
}

#[test]
fn userspace_prefix_in_recv_only_mode_is_the_receiving_side() {
    need_runtime_dir!();
    // Any file name works this way, not only usrN.
    let name = format!("ring-{}", unique_name());
    let mut rx = RingBuilder::new(&format!("userspace:{name}"))
        .socket_mode(pfring::SocketMode::RecvOnly)
        .slots(16)
        .open()
        .unwrap();
    rx.enable().unwrap();
    let mut tx = Ring::open(&format!("userspace:{name}"), 1536, Default::default()).unwrap();
    tx.enable().unwrap();
    let mut buf = Vec::new();
    let now_ns = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
    };
    let before = now_ns();
    for seq in 0..5 {
        frame_into(seq, &mut buf);
        tx.send(&buf, seq == 4).unwrap();
    }
    let after = now_ns();
    let mut got = vec![];
    while let Some(p) = rx.recv(false).unwrap() {
        got.push(seq_of(p.data()).unwrap());
        // Stamped when published, with the wire length and caplen of the frame.
        let h = p.header();
        assert!((before..=after).contains(&h.ts.as_nanos()), "{h:?}");
        assert_eq!(
            (h.len as usize, h.caplen as usize),
            (p.data().len(), p.data().len())
        );
    }
    assert_eq!(got, (0..5).collect::<Vec<_>>());
}

#[test]
fn blocking_receive_is_woken_by_the_sender_and_by_breakloop() {
    need_runtime_dir!();
    let name = unique_name();
    let mut rx = receiver(&name, 64);
    // breakloop from another thread ends a blocking receive with nothing.
    let h = rx.break_handle();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        h.breakloop();
    });
    let t0 = Instant::now();
    assert!(rx.recv(true).unwrap().is_none());
    assert!(t0.elapsed() < Duration::from_secs(2));
    t.join().unwrap();
    // A sender in another process wakes it.
    let mut peer = Helper::start("send", &name, 0, 3);
    let p = rx.recv(true).unwrap().expect("a frame");
    assert_eq!(seq_of(p.data()), Some(0));
    drop(p);
    peer.wait_success(Duration::from_secs(20));
    assert!(rx.poll(Duration::from_secs(1)).unwrap());
    assert_eq!(rx.num_queued_packets(), 2);
}

#[test]
fn a_reader_polling_with_bursts_never_leaves_a_small_ring_full() {
    need_runtime_dir!();
    let name = unique_name();
    let mut rx = receiver(&name, 8);
    let mut tx = Ring::open(&format!("userspace:{name}"), 1536, Default::default()).unwrap();
    tx.enable().unwrap();
    let mut buf = Vec::new();
    let mut next = 0u64;
    for round in 0..4u64 {
        for _ in 0..8 {
            frame_into(next, &mut buf);
            tx.send(&buf, true).unwrap();
            next += 1;
        }
        frame_into(next, &mut buf);
        assert!(matches!(tx.send(&buf, true), Err(Error::NoTxSlotAvailable)));
        let burst = rx.recv_burst(256, false).unwrap();
        let seqs: Vec<u64> = burst.iter().map(|(_, d)| seq_of(d).unwrap()).collect();
        assert_eq!(seqs, (round * 8..round * 8 + 8).collect::<Vec<_>>());
        drop(burst);
        // An empty non-waiting burst hands the slots back.
        assert!(rx.recv_burst(256, false).unwrap().is_empty());
    }
}

#[test]
fn a_shared_ring_receives_from_another_thread() {
    need_runtime_dir!();
    let name = unique_name();
    let shared = std::sync::Arc::new(receiver(&name, 64).into_shared());
    let reader = {
        let shared = std::sync::Arc::clone(&shared);
        std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            let mut seqs = vec![];
            while seqs.len() < 20 {
                match shared.recv_into(&mut buf, true).unwrap() {
                    Some(h) => seqs.push(seq_of(&buf[..h.caplen as usize]).unwrap()),
                    None => break,
                }
            }
            seqs
        })
    };
    let mut sender = Helper::start("send", &name, 0, 20);
    sender.wait_success(Duration::from_secs(20));
    let t = Instant::now();
    while !reader.is_finished() && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    shared.breakloop();
    assert_eq!(reader.join().unwrap(), (0..20).collect::<Vec<_>>());
}

#[test]
fn a_bpf_filter_on_the_receiving_side_skips_and_counts() {
    need_runtime_dir!();
    let name = unique_name();
    let mut rx = receiver(&name, 256);
    // Frames with an even sequence number (its low byte is at offset 14).
    rx.set_bpf_filter("ether proto 0x88b5 and ether[14] & 1 = 0")
        .unwrap();
    let mut tx = Ring::open(&format!("userspace:{name}"), 1536, Default::default()).unwrap();
    tx.enable().unwrap();
    assert!(matches!(
        tx.set_bpf_filter("udp"),
        Err(Error::NotSupported { .. })
    ));
    let mut buf = Vec::new();
    for seq in 0..100 {
        frame_into(seq, &mut buf);
        tx.send(&buf, false).unwrap();
    }
    tx.flush_tx_packets().unwrap();
    assert_eq!(drain(&mut rx), (0..100).step_by(2).collect::<Vec<_>>());
    assert_eq!(rx.stats().unwrap().recv, 50);
    // The registry entry counts the 50 rejected frames (written by stats() once the last
    // write is 500 ms old).
    if let Some(id) = rx.registry_id().map(str::to_owned) {
        std::thread::sleep(Duration::from_millis(550));
        rx.stats().unwrap();
        let info = pfring::registry::ring(&id).unwrap().expect("own entry");
        assert_eq!((info.recv, info.filtered), (50, Some(50)));
        assert_eq!(
            info.bpf_filter.as_deref(),
            Some("ether proto 0x88b5 and ether[14] & 1 = 0")
        );
        assert_eq!(info.module, "userspace");
    }
    rx.remove_bpf_filter().unwrap();
    frame_into(101, &mut buf);
    tx.send(&buf, true).unwrap();
    assert_eq!(seq_of(rx.recv(false).unwrap().unwrap().data()), Some(101));
}
