//! pfbridge: forward every frame received on one device out of another (PF_RING's pfbridge).

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use pfring::{BreakHandle, Direction, Error, Ring, RingBuilder, SocketMode};

const USAGE: &str =
    "pfbridge - (C) pfring-rs: forward packets between two devices (PF_RING pfbridge)

pfbridge -a <device A> -b <device B> [-f <bpf>] [-p] [-B] [-g <core>] [-w <watermark>] [-v]

-h              Print this help
-a <device>     Receive on this device (RX direction only)
-b <device>     Send out of this device
-f <bpf>        Forward only packets matching this BPF filter (tcpdump syntax)
-p              Send each packet on its own (pfring_send with flush) instead of
                batching frames through B's TX ring
-B              Bidirectional: also forward B -> A (one thread per direction; with an
                xdp: device, one ring per device and one thread for both)
-g <core>       Bind the (first) forwarding thread to a core
-w <watermark>  TX watermark for batched forwarding (default 64)
-v              Verbose: print every forwarded packet's length
";

#[derive(Clone, Debug)]
struct Opts {
    a: String,
    b: String,
    filter: Option<String>,
    per_packet: bool,
    bidirectional: bool,
    core: Option<usize>,
    watermark: u16,
    verbose: bool,
}

fn parse_args() -> Result<Option<Opts>> {
    use lexopt::prelude::*;
    let (mut a, mut b) = (None, None);
    let mut o = Opts {
        a: String::new(),
        b: String::new(),
        filter: None,
        per_packet: false,
        bidirectional: false,
        core: None,
        watermark: 64,
        verbose: false,
    };
    let mut p = lexopt::Parser::from_env();
    while let Some(arg) = p.next()? {
        match arg {
            Short('h') | Long("help") => {
                print!("{USAGE}");
                return Ok(None);
            }
            Short('a') => a = Some(p.value()?.string()?),
            Short('b') => b = Some(p.value()?.string()?),
            Short('f') => o.filter = Some(p.value()?.string()?),
            Short('p') => o.per_packet = true,
            Short('B') => o.bidirectional = true,
            Short('g') => o.core = Some(p.value()?.parse().context("-g <core>")?),
            Short('w') => o.watermark = p.value()?.parse().context("-w <watermark>")?,
            Short('v') => o.verbose = true,
            _ => return Err(arg.unexpected().into()),
        }
    }
    let (Some(a), Some(b)) = (a, b) else {
        bail!("both -a <device> and -b <device> are required");
    };
    if a == b {
        bail!("-a and -b must be different devices");
    }
    o.a = a;
    o.b = b;
    Ok(Some(o))
}

/// Opens the receiving ring on `from` and the sending ring on `to`.
fn open_pair(o: &Opts, from: &str, to: &str) -> Result<(Ring, Ring)> {
    let mut rx = RingBuilder::new(from)
        .caplen(65535)
        .promisc(true)
        .direction(Direction::RxOnly)
        .socket_mode(SocketMode::RecvOnly)
        .open()?;
    rx.set_application_name("pfbridge")?;
    if let Some(f) = &o.filter {
        rx.set_bpf_filter(f)?;
    }
    let mut tx = RingBuilder::new(to)
        .caplen(64)
        .slots(16)
        .socket_mode(SocketMode::SendOnly)
        .qdisc_bypass(true)
        .open()?;
    tx.set_tx_watermark(o.watermark.max(1))?;
    rx.enable()?;
    tx.enable()?;
    Ok((rx, tx))
}

/// Packets forwarded, and packets too large for the outgoing device (skipped).
#[derive(Debug, Default)]
struct Counters {
    forwarded: AtomicU64,
    too_large: AtomicU64,
}

/// Forwards until `stop` is set.
fn forward(
    o: &Opts,
    mut rx: Ring,
    mut tx: Ring,
    count: &Counters,
    stop: &AtomicBool,
) -> Result<()> {
    rx.set_poll_duration(Duration::from_millis(100));
    while !stop.load(Ordering::Relaxed) {
        let burst = rx.recv_burst(pfring::ring::MAX_BURST, true)?;
        let frames = frames_of(o, &burst);
        send_all(o, &mut tx, &frames, count, Some(stop), None)?;
    }
    tx.flush_tx_packets()?;
    Ok(())
}

/// The frames of a burst (printing their sizes with `-v`).
fn frames_of<'a>(o: &Opts, burst: &'a pfring::Burst<'_>) -> Vec<&'a [u8]> {
    burst
        .iter()
        .map(|(h, data)| {
            if o.verbose {
                println!("{} bytes", h.caplen);
            }
            data
        })
        .collect()
}

/// Sends `frames` out of `tx` in order: one by one with `-p`, else with `send_burst`, which
/// on batching rings hands the kernel the frames where they lie in the receive ring. A frame
/// the outgoing device cannot carry (a larger MTU on the other side) is skipped and counted.
/// Waits for room until `stop` is set, and with `patience` at most that long without
/// progress.
fn send_all(
    o: &Opts,
    tx: &mut Ring,
    frames: &[&[u8]],
    count: &Counters,
    stop: Option<&AtomicBool>,
    patience: Option<Duration>,
) -> Result<()> {
    let mut i = 0;
    let mut progress = Instant::now();
    while i < frames.len() {
        let sent = if o.per_packet {
            tx.send(frames[i], true).map(|()| 1)
        } else {
            tx.send_burst(&frames[i..])
        };
        match sent {
            Ok(n) => {
                i += n;
                count.forwarded.fetch_add(n as u64, Ordering::Relaxed);
                progress = Instant::now();
            }
            Err(Error::NoTxSlotAvailable) => {
                if stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
                    return Ok(());
                }
                if let Some(p) = patience
                    && progress.elapsed() >= p
                {
                    bail!("no TX slot on the outgoing device for {} ms", p.as_millis());
                }
                tx.wait_tx_slot(Duration::from_millis(10))?;
            }
            Err(Error::FrameTooLarge { .. }) => {
                count.too_large.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

fn run(o: Opts) -> Result<()> {
    if let Some(core) = o.core {
        pfring::bind_to_core(core)?;
    }
    let xdp = |d: &str| d.starts_with("xdp:");
    if xdp(&o.a) && xdp(&o.b) && o.filter.is_none() && !o.per_packet && !o.verbose {
        return run_xdp_bridge(o);
    }
    if o.bidirectional && (xdp(&o.a) || xdp(&o.b)) {
        return run_shared(o);
    }
    let (rx_ab, tx_ab) = open_pair(&o, &o.a, &o.b)?;
    let reverse = if o.bidirectional {
        Some(open_pair(&o, &o.b, &o.a)?)
    } else {
        None
    };
    let breakers: Vec<BreakHandle> = std::iter::once(rx_ab.break_handle())
        .chain(reverse.as_ref().map(|(r, _)| r.break_handle()))
        .collect();
    for b in &breakers {
        b.break_on_signals(&[libc::SIGINT, libc::SIGTERM, libc::SIGHUP])?;
    }
    println!(
        "Bridging {} -> {}{}",
        o.a,
        o.b,
        if o.bidirectional { " (and back)" } else { "" }
    );
    let count = Arc::new(Counters::default());
    let stop = Arc::new(AtomicBool::new(false));
    std::thread::scope(|s| -> Result<()> {
        let mut workers = vec![s.spawn(|| forward(&o, rx_ab, tx_ab, &count, &stop))];
        if let Some((rx, tx)) = reverse {
            workers.push(s.spawn(|| forward(&o, rx, tx, &count, &stop)));
        }
        let mut last = 0u64;
        let mut last_t = Instant::now();
        while BreakHandle::last_signal() == 0 && workers.iter().all(|w| !w.is_finished()) {
            std::thread::sleep(Duration::from_millis(100));
            if last_t.elapsed() >= Duration::from_secs(1) {
                let now = count.forwarded.load(Ordering::Relaxed);
                let pps = (now - last) as f64 / last_t.elapsed().as_secs_f64();
                println!("{} pps", pps.round() as u64);
                last = now;
                last_t = Instant::now();
            }
        }
        stop.store(true, Ordering::Relaxed);
        for b in &breakers {
            b.breakloop();
        }
        for w in workers {
            w.join()
                .map_err(|_| anyhow::anyhow!("a forwarding thread panicked"))??;
        }
        Ok(())
    })?;
    println!(
        "Forwarded {} packets ({} too large for the outgoing device)",
        count.forwarded.load(Ordering::Relaxed),
        count.too_large.load(Ordering::Relaxed)
    );
    Ok(())
}

/// Opens `dev` for receiving and sending on one ring.
fn open_both_ways(o: &Opts, dev: &str) -> Result<Ring> {
    let mut r = RingBuilder::new(dev)
        .caplen(65535)
        .promisc(true)
        .direction(Direction::RxOnly)
        .open()?;
    r.set_application_name("pfbridge")?;
    r.set_tx_watermark(o.watermark.max(1))?;
    if let Some(f) = &o.filter {
        r.set_bpf_filter(f)?;
    }
    Ok(r)
}

/// Forwards the frames of one burst of `rx` out of `tx`; returns how many were received.
fn forward_burst(o: &Opts, rx: &mut Ring, tx: &mut Ring, count: &Counters) -> Result<usize> {
    let burst = rx.recv_burst(pfring::ring::MAX_BURST, false)?;
    let frames = frames_of(o, &burst);
    // Bounded: one thread serves both directions, so a stuck side must not hold the other.
    send_all(o, tx, &frames, count, None, Some(Duration::from_secs(1)))?;
    Ok(frames.len())
}

/// Two `xdp:` devices (no filter, batched, quiet): frames move between them in place through
/// one UMEM shared by both sockets (`pfring::XdpBridge`), never copied by us.
fn run_xdp_bridge(o: Opts) -> Result<()> {
    let mut bridge = pfring::XdpBridge::open(&o.a, &o.b, 4096, o.bidirectional)?;
    bridge
        .break_handle()
        .break_on_signals(&[libc::SIGINT, libc::SIGTERM, libc::SIGHUP])?;
    println!(
        "Bridging {} -> {}{} (shared UMEM, zero copy: {:?})",
        o.a,
        o.b,
        if o.bidirectional { " (and back)" } else { "" },
        bridge.zero_copy().0
    );
    let mut last = 0u64;
    let mut last_t = Instant::now();
    while BreakHandle::last_signal() == 0 {
        if bridge.forward(pfring::ring::MAX_BURST)? == 0
            && !bridge.wait(Duration::from_millis(100))?
        {
            break;
        }
        if last_t.elapsed() >= Duration::from_secs(1) {
            let s = bridge.stats()?;
            let now = s.a_to_b + s.b_to_a;
            let pps = (now - last) as f64 / last_t.elapsed().as_secs_f64();
            println!("{} pps", pps.round() as u64);
            last = now;
            last_t = Instant::now();
        }
    }
    // Hand over what arrived last.
    bridge.forward(pfring::ring::MAX_BURST)?;
    let s = bridge.stats()?;
    println!(
        "Forwarded {} packets (0 too large for the outgoing device, {} dropped)",
        s.a_to_b + s.b_to_a,
        s.dropped
    );
    Ok(())
}

/// `-B` with an `xdp:` device: an AF_XDP socket holds its queue alone, so each device gets
/// one ring that receives and sends, and one thread serves both directions in turn.
fn run_shared(o: Opts) -> Result<()> {
    let mut a = open_both_ways(&o, &o.a)?;
    let mut b = open_both_ways(&o, &o.b)?;
    a.enable()?;
    b.enable()?;
    a.break_handle()
        .break_on_signals(&[libc::SIGINT, libc::SIGTERM, libc::SIGHUP])?;
    println!("Bridging {} -> {} (and back)", o.a, o.b);
    let count = Counters::default();
    let mut last = 0u64;
    let mut last_t = Instant::now();
    while BreakHandle::last_signal() == 0 {
        let n =
            forward_burst(&o, &mut a, &mut b, &count)? + forward_burst(&o, &mut b, &mut a, &count)?;
        if n == 0 {
            // Short waits on each side in turn (a signal ends the wait on `a`).
            a.poll(Duration::from_millis(1))?;
            b.poll(Duration::from_millis(1))?;
        }
        if last_t.elapsed() >= Duration::from_secs(1) {
            let now = count.forwarded.load(Ordering::Relaxed);
            let pps = (now - last) as f64 / last_t.elapsed().as_secs_f64();
            println!("{} pps", pps.round() as u64);
            last = now;
            last_t = Instant::now();
        }
    }
    a.flush_tx_packets()?;
    b.flush_tx_packets()?;
    println!(
        "Forwarded {} packets ({} too large for the outgoing device)",
        count.forwarded.load(Ordering::Relaxed),
        count.too_large.load(Ordering::Relaxed)
    );
    Ok(())
}

fn main() -> ExitCode {
    pfring_tools::tool_main("pfbridge", parse_args, run)
}
