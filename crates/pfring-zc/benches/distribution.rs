//! In-memory distribution benchmark: a synthetic source of 64-byte frames (1024 flows), a
//! master thread distributing to 2 and 4 queues, slaves in one other thread draining them.
//! Lossless: the master offers a burst only when every queue has room, and sleeps while
//! waiting for room. Reports the master's rate per CPU second of its thread (Mpps on one
//! master core), the wall-clock
//! rate (bounded by the slaves' thread on a 2-core machine), what the slaves received and
//! what the queues dropped (0 when lossless).
//!
//! Run: `cargo bench -p pfring-zc --bench distribution` (`-- <packets>` to change the count,
//! default 20 million per case).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cpu_time::ThreadTime;
use pfring_zc::{Cluster, ClusterConfig, Distribution, HashMode, PacketSource};

/// Pre-built 64-byte frames cycled forever.
struct Synthetic {
    frames: Vec<[u8; 64]>,
    next: usize,
    left: u64,
}

impl Synthetic {
    fn new(count: u64) -> Self {
        let frames = (0..1024u32)
            .map(|i| {
                let mut f = [0u8; 64];
                f[12] = 0x08;
                f[14] = 0x45;
                f[23] = 17;
                f[26..30].copy_from_slice(&(0x0A00_0000 + i).to_be_bytes());
                f[30..34].copy_from_slice(&(0xC0A8_0000 + 2 * i).to_be_bytes());
                f
            })
            .collect();
        Synthetic {
            frames,
            next: 0,
            left: count,
        }
    }
}

impl PacketSource for Synthetic {
    fn recv_burst(
        &mut self,
        max: usize,
        f: &mut dyn FnMut(&[u8], u64),
    ) -> pfring_zc::Result<usize> {
        let n = (max as u64).min(self.left) as usize;
        for _ in 0..n {
            f(&self.frames[self.next], 0);
            self.next = (self.next + 1) & 1023;
        }
        self.left -= n as u64;
        Ok(n)
    }
}

fn case(name: &str, queues: u32, d: Distribution, count: u64) {
    let cfg = ClusterConfig {
        queue_len: 4096,
        ..Default::default()
    };
    let mut c = Cluster::in_process(1, queues, cfg).expect("cluster");
    c.set_distribution(d);
    c.enable();
    let mut slaves: Vec<_> = (0..queues).map(|q| c.slave(q).expect("slave")).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let received = Arc::new(AtomicU64::new(0));
    let (st, rc) = (stop.clone(), received.clone());
    let consumer = std::thread::spawn(move || {
        let mut n = 0u64;
        let mut bytes = 0u64;
        while !st.load(Ordering::Relaxed) {
            let mut got = 0;
            for s in &mut slaves {
                got += s
                    .recv_burst(256, |d, _| bytes += d.len() as u64)
                    .expect("recv");
            }
            n += got as u64;
            if got == 0 {
                std::hint::spin_loop();
            }
        }
        for s in &mut slaves {
            n += s.recv_burst(usize::MAX, |_, _| {}).expect("recv") as u64;
        }
        rc.store(n, Ordering::Relaxed);
        bytes
    });
    let mut src = Synthetic::new(count);
    let mut idle = Synthetic::new(0);
    let wall = Instant::now();
    let t = ThreadTime::now();
    // Lossless: a burst is offered only when every queue has room for it; waiting for room
    // sleeps, so the master thread's CPU time is its poll calls (distribution and taking
    // buffers back) only.
    while src.left > 0 {
        if c.queue_room() >= 256 {
            c.poll(&mut src, None).expect("poll");
        } else {
            c.poll(&mut idle, None).expect("poll");
            std::thread::sleep(Duration::from_micros(20));
        }
    }
    let cpu = t.elapsed();
    let wall = wall.elapsed();
    std::thread::sleep(Duration::from_millis(50));
    c.poll(&mut Synthetic::new(0), None).expect("poll");
    stop.store(true, Ordering::Relaxed);
    let _ = consumer.join();
    let s = c.stats();
    let drops: u64 = s.queues.iter().map(|q| q.drops).sum();
    let delivered = received.load(Ordering::Relaxed);
    println!(
        "{name:<12} queues={queues} packets={count} master: {:6.2} Mpps per master core ({:5.2} Mpps wall) \
         slaves received {delivered} (queue drops {drops}, no-buffer drops {})",
        s.processed as f64 / cpu.as_secs_f64() / 1e6,
        s.processed as f64 / wall.as_secs_f64() / 1e6,
        s.rx_drops
    );
}

fn main() {
    let count: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20_000_000);
    println!(
        "pfring-zc in-memory distribution, 64-byte frames, {} CPUs",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for q in [2, 4] {
        case("ip hash", q, Distribution::Hash(HashMode::Ip), count);
        case("round robin", q, Distribution::RoundRobin, count);
        case("fan-out", q, Distribution::FanOut, count);
    }
}
