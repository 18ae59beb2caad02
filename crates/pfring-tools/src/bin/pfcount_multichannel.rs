//! pfcount_multichannel: one capture thread per RX channel of a device, with per-channel and
//! aggregate stats (PF_RING's pfcount_multichannel).

use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use pfring::{BreakHandle, Direction, RingBuilder};
use pfring_tools::threads::ThreadCounters;
use pfring_tools::{WIRE_OVERHEAD, format_numbers};

const USAGE: &str = "pfcount_multichannel - (C) pfring-rs: count packets on every RX channel

pfcount_multichannel -i <device> [-e <dir>] [-l <len>] [-w <watermark>] [-p <poll ms>] [-a]
                     [-m] [-g <core:core:...>] [-v]

-h              Print this help
-i <device>     Device name (no @channel: every channel is opened)
-e <direction>  0=RX+TX (default), 1=RX only, 2=TX only
-l <len>        Capture length (default 1536)
-w <watermark>  Poll watermark (default 1)
-p <poll wait>  Poll wait in msec (default 500)
-a              Active packet wait
-m              Long packet header (PF_RING's hash in each header)
-g <cores>      Bind channel thread i to the i-th core of a ':'-separated list
-v              Verbose: one line per packet (channel, length)
";

#[derive(Debug)]
struct Opts {
    device: String,
    direction: Direction,
    caplen: u32,
    watermark: u16,
    poll_ms: u64,
    active: bool,
    long_header: bool,
    cores: Vec<usize>,
    verbose: bool,
}

fn parse_args() -> Result<Option<Opts>> {
    use lexopt::prelude::*;
    let mut o = Opts {
        device: String::new(),
        direction: Direction::RxAndTx,
        caplen: 1536,
        watermark: 1,
        poll_ms: 500,
        active: false,
        long_header: false,
        cores: Vec::new(),
        verbose: false,
    };
    let mut p = lexopt::Parser::from_env();
    while let Some(arg) = p.next()? {
        match arg {
            Short('h') | Long("help") => {
                print!("{USAGE}");
                return Ok(None);
            }
            Short('i') => o.device = p.value()?.string()?,
            Short('e') => {
                let v: u32 = p.value()?.parse().context("-e <direction>")?;
                o.direction = Direction::try_from(v)?;
            }
            Short('l') => o.caplen = p.value()?.parse().context("-l <len>")?,
            Short('w') => o.watermark = p.value()?.parse().context("-w <watermark>")?,
            Short('p') => o.poll_ms = p.value()?.parse().context("-p <poll wait>")?,
            Short('a') => o.active = true,
            Short('m') => o.long_header = true,
            Short('g') => {
                o.cores = p
                    .value()?
                    .string()?
                    .split(':')
                    .map(|c| c.parse::<usize>().context("-g <core:core:...>"))
                    .collect::<Result<_>>()?;
            }
            Short('v') => o.verbose = true,
            _ => return Err(arg.unexpected().into()),
        }
    }
    if o.device.is_empty() {
        bail!("-i <device> is required");
    }
    if o.device.contains('@') {
        bail!("-i takes a device without @channel: every channel is opened");
    }
    Ok(Some(o))
}

fn capture(
    o: &Opts,
    ch: usize,
    mut ring: pfring::Ring,
    c: &ThreadCounters,
    stop: &AtomicBool,
) -> Result<()> {
    if let Some(&core) = o.cores.get(ch) {
        pfring::bind_to_core(core)?;
    }
    ring.set_poll_watermark(o.watermark.max(1))?;
    ring.set_poll_duration(Duration::from_millis(o.poll_ms.max(1)));
    let mut last_stats = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let burst = ring.recv_burst(pfring::ring::MAX_BURST, false)?;
        let n = burst.len() as u64;
        let mut bytes = 0;
        for (h, _) in burst.iter() {
            bytes += u64::from(h.len) + WIRE_OVERHEAD;
            if o.verbose {
                println!("[channel={ch}][caplen={}][len={}]", h.caplen, h.len);
            }
        }
        drop(burst);
        c.pkts.fetch_add(n, Ordering::Relaxed);
        c.bytes.fetch_add(bytes, Ordering::Relaxed);
        if n == 0 && !o.active {
            ring.poll(Duration::from_millis(o.poll_ms.clamp(1, 100)))?;
        }
        if last_stats.elapsed() >= Duration::from_millis(250) {
            c.store_stats(ring.stats()?);
            last_stats = Instant::now();
        }
    }
    c.store_stats(ring.stats()?);
    Ok(())
}

/// The per-channel block and the aggregate line, PF_RING's layout.
fn print_stats(
    chans: &[ThreadCounters],
    last: &mut [u64],
    elapsed: Duration,
    since_last: Duration,
) {
    let ms = elapsed.as_secs_f64() * 1000.0;
    let dms = since_last.as_secs_f64() * 1000.0;
    let mut out = String::new();
    let (mut tot_pkts, mut tot_bytes, mut tot_recv, mut tot_drop) = (0u64, 0u64, 0u64, 0u64);
    for (i, c) in chans.iter().enumerate() {
        let (pkts, bytes) = (
            c.pkts.load(Ordering::Relaxed),
            c.bytes.load(Ordering::Relaxed),
        );
        let (recv, drop) = (
            c.recv.load(Ordering::Relaxed),
            c.drop.load(Ordering::Relaxed),
        );
        let total = recv + drop;
        let pct = if recv == 0 {
            0.0
        } else {
            drop as f64 * 100.0 / total as f64
        };
        let pps = if ms > 0.0 {
            pkts as f64 * 1000.0 / ms
        } else {
            0.0
        };
        let mbps = if ms > 0.0 {
            bytes as f64 * 8.0 / (ms * 1000.0)
        } else {
            0.0
        };
        let diff = pkts.saturating_sub(last[i]);
        let dpps = if dms > 0.0 {
            diff as f64 * 1000.0 / dms
        } else {
            0.0
        };
        out.push_str(&format!(
            "=========================\n\
             Absolute Stats: [channel={i}][{} pkts rcvd][{} pkts dropped]\n\
             Total Pkts={}/Dropped={pct:.1} %\n\
             {pkts} pkts - {bytes} bytes [{} pps - {mbps:.2} Mbit/sec]\n\
             =========================\n\
             Actual Stats: [channel={i}][{diff} pkts][{dms:.1} ms][{} pps]\n",
            recv as u32,
            drop as u32,
            total as u32,
            format_numbers(pps, true),
            format_numbers(dpps, true),
        ));
        last[i] = pkts;
        tot_pkts += pkts;
        tot_bytes += bytes;
        tot_recv += recv;
        tot_drop += drop;
    }
    let pps = if ms > 0.0 {
        tot_pkts as f64 * 1000.0 / ms
    } else {
        0.0
    };
    let mbps = if ms > 0.0 {
        tot_bytes as f64 * 8.0 / (ms * 1000.0)
    } else {
        0.0
    };
    out.push_str(&format!(
        "=========================\n\
         Aggregate stats (all channels): [{} pps][{mbps:.2} Mbit/sec][{tot_recv} pkts rcvd][{tot_drop} pkts dropped][{} pkts total]\n\
         =========================\n\n",
        format_numbers(pps, true),
        tot_recv + tot_drop
    ));
    let _ = std::io::stderr().write_all(out.as_bytes());
}

fn run(o: Opts) -> Result<()> {
    let rings = RingBuilder::new(&o.device)
        .caplen(o.caplen)
        .promisc(true)
        .long_header(o.long_header)
        .direction(o.direction)
        .open_multichannel()?;
    let breakers: Vec<BreakHandle> = rings.iter().map(|r| r.break_handle()).collect();
    for b in &breakers {
        b.break_on_signals(&[libc::SIGINT, libc::SIGTERM, libc::SIGHUP])?;
    }
    let mut rings = rings;
    for r in &mut rings {
        r.set_application_name("pfcount_multichannel")?;
        r.enable()?;
    }
    println!("Capturing from {}", o.device);
    println!("# Device RX channels: {}", rings.len());
    println!("# Polling threads:    {}", rings.len());
    let _ = std::io::stdout().flush();
    let chans: Vec<ThreadCounters> = rings.iter().map(|_| ThreadCounters::default()).collect();
    let stop = AtomicBool::new(false);
    let start = Instant::now();
    std::thread::scope(|s| -> Result<()> {
        let workers: Vec<_> = rings
            .into_iter()
            .enumerate()
            .map(|(i, ring)| {
                let (o, c, stop) = (&o, &chans[i], &stop);
                s.spawn(move || capture(o, i, ring, c, stop))
            })
            .collect();
        let mut last = vec![0u64; chans.len()];
        let mut last_print = Instant::now();
        while BreakHandle::last_signal() == 0 && workers.iter().all(|w| !w.is_finished()) {
            std::thread::sleep(Duration::from_millis(50));
            if last_print.elapsed() >= Duration::from_secs(1) {
                print_stats(&chans, &mut last, start.elapsed(), last_print.elapsed());
                last_print = Instant::now();
            }
        }
        stop.store(true, Ordering::Relaxed);
        for b in &breakers {
            b.breakloop();
        }
        for w in workers {
            w.join()
                .map_err(|_| anyhow::anyhow!("a capture thread panicked"))??;
        }
        print_stats(&chans, &mut last, start.elapsed(), last_print.elapsed());
        Ok(())
    })
}

fn main() -> ExitCode {
    pfring_tools::tool_main("pfcount_multichannel", parse_args, run)
}
