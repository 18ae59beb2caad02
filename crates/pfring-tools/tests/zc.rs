//! The ZC cluster end to end: a veth in a namespace the test made -> `pfdnacluster_master`
//! -> `pfcount -i zc:<cluster>@<queue>` slave processes. Children are started by the test
//! and signalled / killed by their PIDs only; every wait is bounded.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::net::Ipv4Addr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use pfring_testkit::{FrameBuilder, NetNs, RawSender, VethPair, require_privileged};

/// A child process whose stdout lines arrive on a channel.
struct Proc {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Proc {
    fn spawn(bin: &str, args: &[&str]) -> Proc {
        let mut child = Command::new(bin)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let out = child.stdout.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Proc {
            child,
            lines: rx,
            seen: Vec::new(),
        }
    }

    /// Waits (bounded) for a stdout line containing `what`.
    fn expect(&mut self, what: &str, within: Duration) {
        let end = Instant::now() + within;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    let hit = l.contains(what);
                    self.seen.push(l);
                    if hit {
                        return;
                    }
                }
                Err(e) => {
                    let mut err = String::new();
                    if let Ok(None) = self.child.try_wait() {
                        let _ = self.child.kill();
                    }
                    let _ = self.child.wait();
                    if let Some(mut s) = self.child.stderr.take() {
                        let _ = s.read_to_string(&mut err);
                    }
                    panic!("no `{what}` line ({e}): {:?} {err}", self.seen);
                }
            }
        }
    }

    fn signal(&self, sig: &str) {
        // We started this child: signal it by its pid.
        let st = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
    }

    /// Waits (bounded, then SIGKILL) for the exit; returns (success, all stdout, stderr).
    fn finish(&mut self, within: Duration) -> (Option<i32>, Vec<String>, String) {
        let end = Instant::now() + within;
        let status = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break st;
            }
            if Instant::now() > end {
                let _ = self.child.kill();
                break self.child.wait().unwrap();
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let mut err = String::new();
        if let Some(mut s) = self.child.stderr.take() {
            let _ = s.read_to_string(&mut err);
        }
        while let Ok(l) = self.lines.recv_timeout(Duration::from_millis(500)) {
            self.seen.push(l);
        }
        (status.code(), std::mem::take(&mut self.seen), err)
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

const MASTER: &str = env!("CARGO_BIN_EXE_pfdnacluster_master");
const PFCOUNT: &str = env!("CARGO_BIN_EXE_pfcount");

fn cluster_id(tag: u32) -> String {
    (5_000_000 + (std::process::id() % 100_000) * 10 + tag).to_string()
}

/// Flow `f`: its own address pair and its own frame length (so pfcount's `-v 1` lines,
/// which show the length, tell the flow). Direction 1 swaps the addresses.
fn flow_frame(f: u8, dir: u8, seq: u64) -> Vec<u8> {
    let (a, b) = (
        Ipv4Addr::new(10, 0, 1, f),
        Ipv4Addr::new(10, 1, 2, 2 * f + 1),
    );
    let (s, d) = if dir == 0 { (a, b) } else { (b, a) };
    FrameBuilder::udp()
        .ips(s, d)
        .build_len(seq, 64 + usize::from(f))
}

/// The lengths of the packets a pfcount `-v 1` printed.
fn lengths(lines: &[String]) -> Vec<usize> {
    lines
        .iter()
        .filter_map(|l| l.split("[len=").nth(1))
        .filter_map(|r| r.trim_end_matches(']').parse().ok())
        .collect()
}

fn start_slaves(id: &str, queues: u32) -> Vec<Proc> {
    (0..queues)
        .map(|q| {
            let dev = format!("zc:{id}@{q}");
            let mut p = Proc::spawn(PFCOUNT, &["-i", &dev, "-v", "1", "-q"]);
            p.expect("# Polling threads", Duration::from_secs(10));
            p
        })
        .collect()
}

#[test]
fn four_pfcount_slaves_get_flows_whole_and_every_packet_once() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "zca", "zcb").unwrap();
    let id = cluster_id(1);
    let mut master = Proc::spawn(MASTER, &["-i", "zcb", "-c", &id, "-n", "4", "-m", "1"]);
    master.expect("ready", Duration::from_secs(10));
    let mut slaves = start_slaves(&id, 4);
    // 40 flows x 2 directions x 25 frames.
    let tx = RawSender::new(veth.a()).unwrap();
    let mut sent: HashMap<usize, usize> = HashMap::new();
    for seq in 0..25u64 {
        for f in 0..40u8 {
            for dir in 0..2 {
                tx.send(&flow_frame(f, dir, seq)).unwrap();
                *sent.entry(64 + usize::from(f)).or_default() += 1;
            }
        }
    }
    std::thread::sleep(Duration::from_millis(1000));
    let mut owner: HashMap<usize, usize> = HashMap::new();
    let mut per_len: HashMap<usize, usize> = HashMap::new();
    let mut busy = 0;
    for (q, s) in slaves.iter_mut().enumerate() {
        s.signal("-INT");
        let (code, out, err) = s.finish(Duration::from_secs(5));
        assert_eq!(code, Some(0), "{err}");
        let lens = lengths(&out);
        busy += usize::from(!lens.is_empty());
        for l in lens {
            if let Some(prev) = owner.insert(l, q) {
                assert_eq!(prev, q, "flow of length {l} split over slaves");
            }
            *per_len.entry(l).or_default() += 1;
        }
    }
    assert_eq!(
        per_len, sent,
        "every packet exactly once (sum = sent, no dups)"
    );
    assert!(busy >= 3, "flows spread over the slaves: {busy}");
    master.signal("-INT");
    let (code, out, err) = master.finish(Duration::from_secs(5));
    assert_eq!(code, Some(0), "{err}");
    let out = out.join("\n");
    assert!(
        out.contains("Queue TX Stats (Packets sent to applications):"),
        "{out}"
    );
    assert!(
        out.contains("Total Abs. Stats:  Recv 2'000 pkts (0 drops)"),
        "{out}"
    );
}

#[test]
fn fan_out_kill_a_slave_then_kill_the_master() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "zfa", "zfb").unwrap();
    let id = cluster_id(2);
    let mut master = Proc::spawn(MASTER, &["-i", "zfb", "-c", &id, "-n", "3", "-m", "2"]);
    master.expect("ready", Duration::from_secs(10));
    let mut slaves = start_slaves(&id, 3);
    let tx = RawSender::new(veth.a()).unwrap();
    let burst = |n: u64| {
        for seq in 0..n {
            tx.send(&flow_frame((seq % 7) as u8, 0, seq)).unwrap();
        }
    };
    burst(300);
    std::thread::sleep(Duration::from_millis(500));
    // kill -9 one slave: the others keep receiving.
    let mut victim = slaves.remove(0);
    victim.child.kill().unwrap();
    let _ = victim.child.wait();
    burst(200);
    std::thread::sleep(Duration::from_millis(500));
    // kill -9 the master: the slaves exit with an error within a second.
    master.child.kill().unwrap();
    let killed = Instant::now();
    let _ = master.child.wait();
    for s in &mut slaves {
        let (code, out, err) = s.finish(Duration::from_secs(3));
        let took = killed.elapsed();
        assert_ne!(code, Some(0), "exit with an error: {err}");
        assert!(err.contains("master of ZC cluster"), "{err}");
        assert!(took < Duration::from_secs(1), "noticed in {took:?}");
        assert_eq!(
            lengths(&out).len(),
            500,
            "fan-out: every packet, before and after the kill"
        );
    }
}

#[test]
fn zcount_counts_a_queue() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "zza", "zzb").unwrap();
    let id = cluster_id(3);
    let mut master = Proc::spawn(MASTER, &["-i", "zzb", "-c", &id, "-n", "1"]);
    master.expect("ready", Duration::from_secs(10));
    let mut z = Proc::spawn(
        env!("CARGO_BIN_EXE_zcount"),
        &["-c", &id, "-i", "0", "-s", "2"],
    );
    z.expect("Counting packets of zc:", Duration::from_secs(10));
    let tx = RawSender::new(veth.a()).unwrap();
    for seq in 0..100 {
        tx.send(&flow_frame(6, 0, seq)).unwrap();
    }
    let (code, out, err) = z.finish(Duration::from_secs(10));
    assert_eq!(code, Some(0), "{err}");
    let last = out
        .iter()
        .rev()
        .find(|l| l.starts_with("Absolute Stats:"))
        .expect("a stats block");
    assert_eq!(last, "Absolute Stats: 100 pkts (0 drops) - 7'000 bytes");
}

#[test]
fn pfbounce_bounces_both_ways_through_its_decision() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let ab = VethPair::new(&ns, "bna", "bnb").unwrap();
    let cd = VethPair::new(&ns, "bnc", "bnd").unwrap();
    let mut b = Proc::spawn(
        env!("CARGO_BIN_EXE_pfbounce"),
        &["-i", "bnb", "-o", "bnc", "-b", "-f", "udp dst port 53"],
    );
    b.expect("Bouncing bnb -> bnc (and back)", Duration::from_secs(10));
    let at_d = pfring_testkit::RawReceiver::new(cd.b()).unwrap();
    let at_a = pfring_testkit::RawReceiver::new(ab.a()).unwrap();
    let dns = FrameBuilder::udp().ports(1000, 53);
    let other = FrameBuilder::udp().ports(1000, 54);
    let forth: Vec<_> = (0..300)
        .map(|i| {
            if i % 3 == 0 {
                other.build_len(i, 90)
            } else {
                dns.build_len(i, 90)
            }
        })
        .collect();
    let back: Vec<_> = (0..50).map(|i| dns.build_len(1000 + i, 70)).collect();
    RawSender::new(ab.a()).unwrap().send_all(&forth).unwrap();
    RawSender::new(cd.b()).unwrap().send_all(&back).unwrap();
    let got_d = at_d
        .collect(1000, Duration::from_millis(500), Duration::from_secs(10))
        .unwrap();
    let got_a = at_a
        .collect(1000, Duration::from_millis(500), Duration::from_secs(10))
        .unwrap();
    b.signal("-TERM");
    let (code, out, err) = b.finish(Duration::from_secs(5));
    assert_eq!(code, Some(0), "{err}");
    let want: Vec<_> = forth
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 != 0)
        .map(|(_, f)| f.clone())
        .collect();
    // Compared as booleans: a mismatch would print thousands of bytes.
    assert_eq!(got_d.len(), want.len());
    assert!(
        got_d.iter().zip(&want).all(|(r, w)| &r.data == w),
        "forth frames differ"
    );
    assert_eq!(got_a.len(), back.len());
    assert!(
        got_a.iter().zip(&back).all(|(r, w)| &r.data == w),
        "back frames differ"
    );
    let out = out.join("\n");
    assert!(
        out.contains("Bounced bnb -> bnc: 200 pkts (100 dropped, 0 TX errors)"),
        "{out}"
    );
    assert!(
        out.contains("Bounced bnc -> bnb: 50 pkts (0 dropped, 0 TX errors)"),
        "{out}"
    );
}

#[test]
fn master_takes_several_ingress_devices() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let one = VethPair::new(&ns, "zma", "zmb").unwrap();
    let two = VethPair::new(&ns, "zmc", "zmd").unwrap();
    let id = cluster_id(4);
    let mut master = Proc::spawn(MASTER, &["-i", "zmb", "-i", "zmd", "-c", &id, "-n", "1"]);
    master.expect("ready", Duration::from_secs(10));
    let mut slaves = start_slaves(&id, 1);
    for seq in 0..30 {
        RawSender::new(one.a())
            .unwrap()
            .send(&flow_frame(1, 0, seq))
            .unwrap();
        RawSender::new(two.a())
            .unwrap()
            .send(&flow_frame(2, 0, seq))
            .unwrap();
    }
    std::thread::sleep(Duration::from_millis(500));
    slaves[0].signal("-INT");
    let (code, out, err) = slaves[0].finish(Duration::from_secs(5));
    assert_eq!(code, Some(0), "{err}");
    let lens = lengths(&out);
    assert_eq!(lens.iter().filter(|&&l| l == 65).count(), 30);
    assert_eq!(lens.iter().filter(|&&l| l == 66).count(), 30);
    assert_eq!(lens.len(), 60);
}

#[test]
fn two_applications_comma_list_each_get_every_packet() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "zna", "znb").unwrap();
    let id = cluster_id(4);
    // -n 2,1 -m 1: app 0 = queues 0 and 1 (IP hash), app 1 = queue 2 (every packet).
    let mut master = Proc::spawn(MASTER, &["-i", "znb", "-c", &id, "-n", "2,1", "-m", "1"]);
    master.expect("ready", Duration::from_secs(10));
    let mut slaves = start_slaves(&id, 3);
    let tx = RawSender::new(veth.a()).unwrap();
    let mut sent: HashMap<usize, usize> = HashMap::new();
    for seq in 0..20u64 {
        for f in 0..20u8 {
            for dir in 0..2 {
                tx.send(&flow_frame(f, dir, seq)).unwrap();
                *sent.entry(64 + usize::from(f)).or_default() += 1;
            }
        }
    }
    std::thread::sleep(Duration::from_millis(1000));
    let mut per_q: Vec<HashMap<usize, usize>> = Vec::new();
    for s in slaves.iter_mut() {
        s.signal("-INT");
        let (code, out, err) = s.finish(Duration::from_secs(5));
        assert_eq!(code, Some(0), "{err}");
        let mut m: HashMap<usize, usize> = HashMap::new();
        for l in lengths(&out) {
            *m.entry(l).or_default() += 1;
        }
        per_q.push(m);
    }
    // App 1's single queue: every packet exactly once.
    assert_eq!(per_q[2], sent);
    // App 0: every packet once over its two queues, each flow (both ways) on one queue.
    let mut app0 = per_q[0].clone();
    for (l, n) in &per_q[1] {
        assert!(!per_q[0].contains_key(l), "flow of length {l} split");
        *app0.entry(*l).or_default() += n;
    }
    assert_eq!(app0, sent);
    assert!(
        !per_q[0].is_empty() && !per_q[1].is_empty(),
        "both queues used"
    );
    master.signal("-INT");
    let (code, out, err) = master.finish(Duration::from_secs(5));
    assert_eq!(code, Some(0), "{err}");
    let out = out.join("\n");
    assert!(out.contains("Application 1: queues 2..2"), "{out}");
    assert!(
        out.contains("Balancer  0 Queue  2: 800 pkts (0 drops)"),
        "{out}"
    );
}
