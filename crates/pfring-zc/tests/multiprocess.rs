//! Cluster across processes: this test binary re-executes itself as master and slave
//! processes (the ignored `child_process` helper does the work when `PFRING_ZC_TEST_ROLE`
//! is set).
//! Children are killed by their PIDs only; every wait is bounded.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use pfring_zc::{Cluster, ClusterConfig, Distribution, Error, PacketSource, Slave};

const ROLE: &str = "PFRING_ZC_TEST_ROLE";

fn frame(src: u32, dst: u32, id: u32) -> Vec<u8> {
    let mut f = vec![0u8; 12];
    f.extend_from_slice(&[0x08, 0x00, 0x45, 0, 0, 32, 0, 0, 0, 0, 64, 17, 0, 0]);
    f.extend_from_slice(&src.to_be_bytes());
    f.extend_from_slice(&dst.to_be_bytes());
    f.extend_from_slice(&[0, 1, 0, 2, 0, 12, 0, 0]);
    f.extend_from_slice(&id.to_be_bytes());
    f.resize(60, 0);
    f
}

fn frame_id(f: &[u8]) -> u32 {
    u32::from_be_bytes([f[42], f[43], f[44], f[45]])
}

/// Flow `id / 2`, direction `id % 2`.
fn flow_frame(id: u32) -> Vec<u8> {
    let flow = id / 2;
    let (a, b) = (0x0A00_0000 + flow * 13, 0xC0A8_0000 + flow * 8);
    if id.is_multiple_of(2) {
        frame(a, b, id)
    } else {
        frame(b, a, id)
    }
}

struct Gen {
    next: u32,
    end: u32,
}

impl PacketSource for Gen {
    fn recv_burst(
        &mut self,
        max: usize,
        f: &mut dyn FnMut(&[u8], u64),
    ) -> pfring_zc::Result<usize> {
        let n = (max as u32).min(self.end - self.next);
        for _ in 0..n {
            f(&flow_frame(self.next), 0);
            self.next += 1;
        }
        Ok(n as usize)
    }
}

struct Idle;
impl PacketSource for Idle {
    fn recv_burst(&mut self, _: usize, _: &mut dyn FnMut(&[u8], u64)) -> pfring_zc::Result<usize> {
        Ok(0)
    }
}

fn child_master(dir: &Path, id: u32, nq: u32, mode: &str, count: u32) {
    let cfg = ClusterConfig {
        queue_len: 1024,
        dir: Some(dir.to_path_buf()),
        ..Default::default()
    };
    let mut c = Cluster::create(id, nq, cfg).unwrap();
    c.set_distribution(match mode {
        "fanout" => Distribution::FanOut,
        _ => Distribution::Hash(pfring_zc::HashMode::Ip),
    });
    c.enable();
    println!("READY");
    let deadline = Instant::now() + Duration::from_secs(30);
    // Wait for every slave.
    while c.stats().queues.iter().any(|q| q.slave_pid == 0) {
        assert!(Instant::now() < deadline, "slaves never attached");
        c.poll(&mut Idle, None).unwrap();
        std::thread::sleep(Duration::from_millis(5));
    }
    println!("ATTACHED");
    let mut g = Gen {
        next: 0,
        end: count,
    };
    let mut attached: Vec<bool> = vec![true; nq as usize];
    while Instant::now() < deadline {
        // Lossless: offer a burst only when the slaves have made room.
        let st = c.stats();
        let room = st
            .queues
            .iter()
            .all(|q| q.slave_pid == 0 || q.enqueued - q.slave_recv.min(q.enqueued) < 512);
        if g.next < g.end && room {
            c.poll(&mut g, None).unwrap();
            if g.next == g.end {
                println!("SENT {}", g.end);
            }
        } else {
            c.poll(&mut Idle, None).unwrap();
            std::thread::sleep(Duration::from_micros(200));
        }
        for (q, s) in st.queues.iter().enumerate() {
            if attached[q] && s.slave_pid == 0 {
                attached[q] = false;
                println!("FREED {q} free_buffers={}", c.free_buffers());
            }
        }
    }
}

fn child_slave(dir: &Path, id: u32, q: u32, idle_ms: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut s = loop {
        match Slave::attach_in(dir, id, q) {
            Ok(s) => break s,
            Err(Error::NoSuchCluster { .. }) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10))
            }
            Err(e) => panic!("attach: {e}"),
        }
    };
    println!("ATTACHED pid={}", std::process::id());
    let mut ids = Vec::new();
    let mut last = Instant::now();
    loop {
        match s.recv_buffer(Some(Duration::from_millis(50))) {
            Ok(Some(b)) => {
                ids.push(frame_id(s.data(&b)));
                s.release(b);
                last = Instant::now();
            }
            Ok(None) => {
                if idle_ms > 0 && !ids.is_empty() && last.elapsed() > Duration::from_millis(idle_ms)
                {
                    break;
                }
                assert!(Instant::now() < deadline, "slave ran too long");
            }
            Err(Error::MasterGone { .. }) => {
                println!("MASTERGONE count={}", ids.len());
                std::process::exit(3);
            }
            Err(e) => panic!("recv: {e}"),
        }
    }
    let list: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
    println!("IDS {}", list.join(","));
}

/// Not a test of its own: the body of the master / slave child processes the tests start.
#[test]
#[ignore = "helper: run as a child process by the other tests"]
fn child_process() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let a: Vec<&str> = role.split(':').collect();
    let dir = PathBuf::from(a[1]);
    let id: u32 = a[2].parse().unwrap();
    match a[0] {
        "master" => child_master(&dir, id, a[3].parse().unwrap(), a[4], a[5].parse().unwrap()),
        "slave" => child_slave(&dir, id, a[3].parse().unwrap(), a[4].parse().unwrap()),
        r => panic!("unknown role {r}"),
    }
}

/// A child process and its stdout lines.
struct Proc {
    child: Child,
    lines: Receiver<String>,
}

impl Proc {
    fn spawn(role: String) -> Proc {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "child_process",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(ROLE, role)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Proc { child, lines: rx }
    }

    /// Waits (bounded) for a line starting with `prefix`.
    fn expect(&self, prefix: &str, within: Duration) -> String {
        let end = Instant::now() + within;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                // libtest prints "test child_process ... " without a newline first.
                Ok(l) => {
                    if let Some(i) = l.find(prefix) {
                        return l[i..].to_string();
                    }
                }
                Err(e) => panic!("no `{prefix}` line: {e}"),
            }
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.kill();
        }
    }
}

struct TempDir(PathBuf);
impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("pfring-zc-test-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        TempDir(p)
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn ids_of(line: &str) -> Vec<u32> {
    let l = line.trim_start_matches("IDS ").trim();
    if l.is_empty() {
        return vec![];
    }
    l.split(',').map(|x| x.parse().unwrap()).collect()
}

fn cluster_id(tag: u32) -> u32 {
    (std::process::id() % 100_000) * 10 + tag
}

#[test]
fn four_slave_processes_hash_per_flow_lossless() {
    const N: u32 = 40_000;
    let dir = TempDir::new("hash");
    let id = cluster_id(1);
    let d = dir.0.display();
    let master = Proc::spawn(format!("master:{d}:{id}:4:hash:{N}"));
    master.expect("READY", Duration::from_secs(10));
    let slaves: Vec<Proc> = (0..4)
        .map(|q| Proc::spawn(format!("slave:{d}:{id}:{q}:1000")))
        .collect();
    master.expect("SENT", Duration::from_secs(30));
    let mut all = HashSet::new();
    let mut flow_queue: HashMap<u32, usize> = HashMap::new();
    let mut total = 0;
    for (q, s) in slaves.iter().enumerate() {
        let ids = ids_of(&s.expect("IDS", Duration::from_secs(30)));
        assert!(!ids.is_empty(), "queue {q} got something");
        for id in ids {
            assert!(all.insert(id), "packet {id} delivered twice");
            if let Some(prev) = flow_queue.insert(id / 2, q) {
                assert_eq!(prev, q, "flow {} split over queues", id / 2);
            }
            total += 1;
        }
    }
    assert_eq!(total, N, "sum over slaves = sent");
}

#[test]
fn killed_slave_is_recycled_and_killed_master_fails_slaves_fast() {
    const N: u32 = 5_000;
    let dir = TempDir::new("kill");
    let id = cluster_id(2);
    let d = dir.0.display();
    let mut master = Proc::spawn(format!("master:{d}:{id}:3:fanout:{N}"));
    master.expect("READY", Duration::from_secs(10));
    let mut victim = Proc::spawn(format!("slave:{d}:{id}:0:0"));
    let s1 = Proc::spawn(format!("slave:{d}:{id}:1:0"));
    let s2 = Proc::spawn(format!("slave:{d}:{id}:2:0"));
    victim.expect("ATTACHED", Duration::from_secs(10));
    master.expect("ATTACHED", Duration::from_secs(10));
    victim.kill();
    // The master notices the dead slave by its pid and recycles its queue.
    let freed = master.expect("FREED 0", Duration::from_secs(5));
    assert!(freed.contains("free_buffers="), "{freed}");
    master.expect("SENT", Duration::from_secs(30));
    // The others keep going: give them a moment to drain, then kill the master.
    std::thread::sleep(Duration::from_millis(300));
    master.kill();
    let killed = Instant::now();
    for s in [&s1, &s2] {
        let l = s.expect("MASTERGONE", Duration::from_secs(3));
        assert_eq!(l, format!("MASTERGONE count={N}"), "fan-out: every packet");
    }
    let took = killed.elapsed();
    assert!(took < Duration::from_secs(1), "slaves noticed in {took:?}");
    for mut s in [s1, s2] {
        let st = s.child.wait().unwrap();
        assert_eq!(st.code(), Some(3), "slave exits with an error");
    }
}

#[test]
fn same_user_attaches_and_other_user_is_refused() {
    let dir = TempDir::new("perm");
    let id = cluster_id(3);
    let cfg = ClusterConfig {
        queue_len: 64,
        num_buffers: Some(256),
        dir: Some(dir.0.clone()),
        ..Default::default()
    };
    let c = Cluster::create(id, 2, cfg.clone()).unwrap();
    let path = pfring_zc::descriptor_path(&dir.0, id);
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&path).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    assert!(matches!(
        Cluster::create(id, 2, cfg),
        Err(Error::ClusterExists { .. })
    ));
    // Attach through the descriptor and /proc/<pid>/fd (this very process is the master).
    let s = Slave::attach_in(&dir.0, id, 1).unwrap();
    assert_eq!(s.master_pid(), std::process::id());
    drop(s);
    // Another owner: refused with a clear error, whoever we are (root too).
    let me = std::fs::metadata(&path).unwrap();
    let other = std::os::unix::fs::MetadataExt::uid(&me).wrapping_add(4242);
    if std::os::unix::fs::chown(&path, Some(other), None).is_ok() {
        let e = Slave::attach_in(&dir.0, id, 0).unwrap_err();
        assert!(matches!(e, Error::PermissionDenied { .. }), "{e}");
        assert!(
            e.to_string().contains(&format!("belongs to uid {other}")),
            "{e}"
        );
    } else {
        eprintln!("skip: cannot chown (not root); the owner check is unit-tested");
    }
    assert!(matches!(
        Slave::attach_in(&dir.0, id + 1, 0),
        Err(Error::NoSuchCluster { .. })
    ));
    drop(c);
    assert!(!path.exists(), "destroy removes the descriptor");
}
