//! Throughput of a userspace ring between two processes (see `bench/userspace.sh`).
//!
//! ```text
//! userspace_bench recv <usrN> <count> [burst|single]   # start first: creates the ring
//! userspace_bench send <usrN> <count> <frame len>
//! userspace_bench loop <usrN> <rounds>     # one process: send 256, recv 256 one by one
//! ```
//! `loop` prints the fastest round's ns per packet (send + recv), the measure least disturbed
//! by other load; run it with `PFRING_NO_REGISTRY=1` and without to see the registry's cost.
//! The receiver prints `recv <count> pkts <bytes> bytes <secs> s <Mpps> Mpps <Gbit/s> Gbps`,
//! timed from its first packet to its last; the sender prints the same for its side.

use std::time::{Duration, Instant};

use pfring::{Error, RingBuilder};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let usage =
        "usage: userspace_bench recv <usrN> <count> [burst|single] | send <usrN> <count> <len>";
    if args.len() < 4 {
        return Err(usage.into());
    }
    let (role, name, count) = (&args[1], &args[2], args[3].parse::<u64>()?);
    match role.as_str() {
        "recv" => {
            let single = args.get(4).is_some_and(|m| m == "single");
            let mut ring = RingBuilder::new(name).slots(4096).caplen(1536).open()?;
            ring.enable()?;
            println!("ready");
            let (mut n, mut bytes) = (0u64, 0u64);
            let mut start = None;
            while n < count {
                if single {
                    if let Some(p) = ring.recv(true)? {
                        start.get_or_insert_with(Instant::now);
                        bytes += p.data().len() as u64;
                        n += 1;
                    }
                } else {
                    let b = ring.recv_burst(256, true)?;
                    if !b.is_empty() {
                        start.get_or_insert_with(Instant::now);
                    }
                    for (_, d) in b.iter() {
                        bytes += d.len() as u64;
                    }
                    n += b.len() as u64;
                }
            }
            report(
                "recv",
                n,
                bytes,
                start.map_or(Duration::ZERO, |s| s.elapsed()),
            );
        }
        "send" => {
            let len: usize = args.get(4).ok_or(usage)?.parse()?;
            let mut ring = RingBuilder::new(&format!("userspace:{name}")).open()?;
            ring.enable()?;
            let mut frame = vec![0u8; len];
            frame[12] = 0x88;
            frame[13] = 0xB5;
            let start = Instant::now();
            for i in 0..count {
                frame[14..22].copy_from_slice(&i.to_le_bytes());
                loop {
                    match ring.send(&frame, false) {
                        Ok(()) => break,
                        Err(Error::NoTxSlotAvailable) => {
                            if !ring.wait_tx_slot(Duration::from_secs(10))? {
                                return Err("no receiver freed a slot in 10 s".into());
                            }
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            ring.flush_tx_packets()?;
            report("send", count, count * len as u64, start.elapsed());
        }
        "loop" => {
            let mut rx = RingBuilder::new(name).slots(1024).caplen(128).open()?;
            rx.enable()?;
            let mut tx = RingBuilder::new(&format!("userspace:{name}")).open()?;
            tx.enable()?;
            let frame = [0x5au8; 60];
            let mut best = Duration::MAX;
            let mut bytes = 0usize;
            for _ in 0..count {
                let t = Instant::now();
                for _ in 0..256 {
                    tx.send(&frame, false)?;
                }
                tx.flush_tx_packets()?;
                for _ in 0..256 {
                    bytes += rx.recv(false)?.ok_or("a frame is missing")?.data().len();
                }
                best = best.min(t.elapsed());
            }
            println!(
                "loop best {:.1} ns/pkt (send + recv), registry {}, {bytes} bytes",
                best.as_nanos() as f64 / 256.0,
                if rx.registry_id().is_some() {
                    "on"
                } else {
                    "off"
                }
            );
        }
        _ => return Err(usage.into()),
    }
    Ok(())
}

fn report(what: &str, n: u64, bytes: u64, d: Duration) {
    let s = d.as_secs_f64().max(1e-9);
    println!(
        "{what} {n} pkts {bytes} bytes {s:.3} s {:.2} Mpps {:.2} Gbps",
        n as f64 / s / 1e6,
        bytes as f64 * 8.0 / s / 1e9
    );
}
