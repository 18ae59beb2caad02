//! pfsend: send synthetic UDP traffic at a chosen rate (PF_RING's pfsend).

use std::io::{IsTerminal, Write};
use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use pfring::{BreakHandle, Error, RingBuilder, SocketMode, TxMode};
use pfring_tools::synth::SynthSpec;
use pfring_tools::{WIRE_OVERHEAD, format_numbers};

const USAGE: &str = "pfsend - (C) pfring-rs: send packets (PF_RING pfsend)

pfsend -i <device> [-f <file>] [-n <num>] [-r <Gbps>] [-p <pps>] [-l <len>] [-b <num src IPs>]
       [-c <num dst IPs>] [-S <src IP>] [-D <dst IP>] [-M <src MAC>] [-m <dst MAC>]
       [-V <4|6|0>] [-w <watermark>] [-F] [-z] [-a] [-g <core>] [-v] [--qdisc]
       [--tx-mode <auto|ring|batch>]

-h              Print this help
-i <device>     Device to send on
-f <file>       Replay the Ethernet frames of a pcap or pcapng file (loaded in memory)
-n <num>        Packets to send (0 = forever; default: forever, or the file once)
-r <Gbps>       Rate in Gbit/s, counting 24 bytes of per-frame overhead like PF_RING;
                -1 with -f: the pace recorded in the file
-p <pps>        Rate in packets/s
-l <len>        Frame length in bytes (default 60)
-b <num>        Number of source IPs (default 1)
-c <num>        Number of destination IPs (default 1)
-S <ip>         First source IP (default 10.0.0.1)
-D <ip>         First destination IP (default 192.168.0.1)
-M <mac>        Source MAC (default 00:01:02:03:04:05)
-m <mac>        Destination MAC (default 00:11:22:33:44:55)
-V <4|6|0>      IP version: 4, 6, or 0 for both alternately (default 4)
-w <watermark>  TX watermark: frames queued before they are sent (default 256)
-F              Flush after every packet
-z              Randomize source and destination IPs
-a              Active wait: spin instead of poll(2) when the TX ring is full
-g <core>       Bind to a core
-v              Verbose: print each packet's length
--qdisc         Go through the qdisc layer (default: bypass it, PACKET_QDISC_BYPASS)
--tx-mode <m>   How frames reach the kernel: ring (PACKET_TX_RING), batch (sendmmsg), or
                auto (default: ring on NICs, batch on veth, loopback and other virtual devices)
";

#[derive(Debug)]
struct Opts {
    device: Option<String>,
    file: Option<String>,
    num: Option<u64>,
    gbps: Option<f64>,
    pps: Option<f64>,
    spec: SynthSpec,
    watermark: u16,
    flush_each: bool,
    active: bool,
    core: Option<usize>,
    verbose: bool,
    qdisc: bool,
    tx_mode: TxMode,
}

fn parse_mac(s: &str) -> Result<[u8; 6]> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        bail!("MAC address {s:?} must be six hex bytes separated by ':'");
    }
    let mut mac = [0u8; 6];
    for (d, p) in mac.iter_mut().zip(parts) {
        *d = u8::from_str_radix(p, 16).with_context(|| format!("MAC address {s:?}"))?;
    }
    Ok(mac)
}

fn parse_args() -> Result<Option<Opts>> {
    use lexopt::prelude::*;
    let mut o = Opts {
        device: None,
        file: None,
        num: None,
        gbps: None,
        pps: None,
        spec: SynthSpec::default(),
        // Batches as large as trafgen's: one kick of the TX ring per 256 frames.
        watermark: 256,
        flush_each: false,
        active: false,
        core: None,
        verbose: false,
        qdisc: false,
        tx_mode: TxMode::Auto,
    };
    let mut p = lexopt::Parser::from_env();
    while let Some(arg) = p.next()? {
        match arg {
            Short('h') | Long("help") => {
                print!("{USAGE}");
                return Ok(None);
            }
            Short('i') => o.device = Some(p.value()?.string()?),
            Short('f') => o.file = Some(p.value()?.string()?),
            Short('n') => o.num = Some(p.value()?.parse().context("-n <num>")?),
            Short('r') => o.gbps = Some(p.value()?.parse().context("-r <Gbps>")?),
            Short('p') => o.pps = Some(p.value()?.parse().context("-p <pps>")?),
            Short('l') => o.spec.len = p.value()?.parse().context("-l <len>")?,
            Short('b') => o.spec.num_src = p.value()?.parse().context("-b <num>")?,
            Short('c') => o.spec.num_dst = p.value()?.parse().context("-c <num>")?,
            Short('S') => o.spec.src_ip = p.value()?.parse::<Ipv4Addr>().context("-S <ip>")?,
            Short('D') => o.spec.dst_ip = p.value()?.parse::<Ipv4Addr>().context("-D <ip>")?,
            Short('M') => o.spec.src_mac = parse_mac(&p.value()?.string()?)?,
            Short('m') => o.spec.dst_mac = parse_mac(&p.value()?.string()?)?,
            Short('V') => {
                o.spec.ip_version = p.value()?.parse().context("-V <4|6|0>")?;
                if !matches!(o.spec.ip_version, 0 | 4 | 6) {
                    bail!("-V takes 4, 6 or 0");
                }
            }
            Short('w') => o.watermark = p.value()?.parse().context("-w <watermark>")?,
            Short('F') => o.flush_each = true,
            Short('z') => o.spec.randomize = true,
            Short('a') => o.active = true,
            Short('g') => o.core = Some(p.value()?.parse().context("-g <core>")?),
            Short('v') => o.verbose = true,
            Long("qdisc") => o.qdisc = true,
            Long("tx-mode") => {
                o.tx_mode = match p.value()?.string()?.as_str() {
                    "auto" => TxMode::Auto,
                    "ring" => TxMode::Ring,
                    "batch" => TxMode::Batch,
                    m => bail!("--tx-mode takes auto, ring or batch, not {m:?}"),
                }
            }
            _ => return Err(arg.unexpected().into()),
        }
    }
    if o.device.is_none() {
        bail!("-i <device> is required");
    }
    let pcap_pace = o.gbps == Some(-1.0);
    if pcap_pace && o.file.is_none() {
        bail!("-r -1 (the recorded pace) needs -f <file>");
    }
    if (!pcap_pace && o.gbps.is_some_and(|g| g <= 0.0)) || o.pps.is_some_and(|p| p <= 0.0) {
        bail!("-r and -p take a positive rate (or -r -1 with -f)");
    }
    if o.spec.len > 65535 {
        bail!("-l {} is larger than any frame", o.spec.len);
    }
    Ok(Some(o))
}

/// Rate line printer: `TX rate: [current ...][average ...][total ...]`.
struct Meter {
    start: Instant,
    last: Instant,
    last_pkts: u64,
    last_bytes: u64,
    next_print: Instant,
    /// Frames of a replay whose progress bar is drawn on stderr (a person is watching).
    progress_of: Option<u64>,
}

impl Meter {
    /// Once a second: the rate line on `out`, and the progress bar.
    fn tick(&mut self, out: &mut impl Write, pkts: u64, bytes: u64) {
        let now = Instant::now();
        if now < self.next_print {
            return;
        }
        if let Some(total) = self.progress_of {
            eprint!("\r{}", progress_bar(pkts, total));
        }
        let _ = writeln!(out, "{}", self.line(pkts, bytes));
        let _ = out.flush();
        self.next_print = now + Duration::from_secs(1);
    }

    fn line(&mut self, pkts: u64, bytes: u64) -> String {
        let now = Instant::now();
        let dt = now.duration_since(self.last).as_secs_f64().max(1e-9);
        let total_dt = now.duration_since(self.start).as_secs_f64().max(1e-9);
        let cur_pps = (pkts - self.last_pkts) as f64 / dt;
        let cur_gbps = (bytes - self.last_bytes) as f64 * 8.0 / dt / 1e9;
        let avg_pps = pkts as f64 / total_dt;
        let avg_gbps = bytes as f64 * 8.0 / total_dt / 1e9;
        self.last = now;
        self.last_pkts = pkts;
        self.last_bytes = bytes;
        format!(
            "TX rate: [current {} pps/{} Gbps][average {} pps/{} Gbps][total {} pkts]",
            format_numbers(cur_pps, true),
            format_numbers(cur_gbps, true),
            format_numbers(avg_pps, true),
            format_numbers(avg_gbps, true),
            format_numbers(pkts as f64, false)
        )
    }
}

fn run(o: Opts) -> Result<()> {
    if let Some(core) = o.core {
        pfring::bind_to_core(core)?;
    }
    let device = o.device.as_deref().unwrap_or_default();
    if o.spec.len < o.spec.min_len() {
        bail!(
            "-l {} is shorter than the smallest frame ({} bytes)",
            o.spec.len,
            o.spec.min_len()
        );
    }
    let mut ring = RingBuilder::new(device)
        .caplen(64)
        .slots(16)
        .socket_mode(SocketMode::SendOnly)
        .qdisc_bypass(!o.qdisc)
        .tx_mode(o.tx_mode)
        .open()?;
    ring.set_application_name("pfsend")?;
    ring.set_tx_watermark(o.watermark.max(1))?;
    let breaker = ring.break_handle();
    breaker.break_on_signals(&[libc::SIGINT, libc::SIGTERM, libc::SIGHUP])?;
    ring.enable()?;

    let (pool, stamps) = match &o.file {
        Some(f) => load_file(f)?,
        None => (o.spec.pool(), Vec::new()),
    };
    let num = o.num.unwrap_or(if o.file.is_some() {
        pool.len() as u64
    } else {
        0
    });
    let avg_len = pool.iter().map(Vec::len).sum::<usize>() as f64 / pool.len() as f64;
    let pps = match (o.pps, o.gbps) {
        (Some(p), _) => Some(p),
        (None, Some(-1.0)) => None,
        (None, Some(g)) => Some(g * 1e9 / ((avg_len + WIRE_OVERHEAD as f64) * 8.0)),
        (None, None) => None,
    };
    let interval = pps.map(|p| Duration::from_secs_f64(1.0 / p));
    let what = match &o.file {
        Some(f) => format!("from {f} ({} frames)", pool.len()),
        None => format!("of {} bytes", o.spec.len),
    };
    println!(
        "Sending {} frame(s) {what} on {device}{}",
        if num == 0 {
            "unlimited".to_string()
        } else {
            num.to_string()
        },
        match (pps, o.gbps) {
            (Some(p), _) => format!(" at {} pps", format_numbers(p, true)),
            (None, Some(_)) => " at the recorded pace".to_string(),
            (None, None) => String::new(),
        }
    );
    // A progress bar for a finite replay when a person is watching.
    let progress = o.file.is_some() && num > 0 && std::io::stderr().is_terminal();
    // The recorded pace: offset of frame k from the start, looping the file.
    let recorded = (o.gbps == Some(-1.0) && stamps.len() == pool.len()).then(|| {
        let first = stamps[0];
        let span = stamps[stamps.len() - 1] - first;
        let gap = if stamps.len() > 1 {
            span / (stamps.len() as u64 - 1)
        } else {
            0
        };
        move |k: u64| {
            let n = stamps.len() as u64;
            let loops = k / n;
            Duration::from_nanos(loops * (span + gap) + (stamps[(k % n) as usize] - first))
        }
    });
    let start = Instant::now();
    let mut meter = Meter {
        start,
        last: start,
        last_pkts: 0,
        last_bytes: 0,
        next_print: start + Duration::from_secs(1),
        progress_of: progress.then_some(num),
    };
    let (mut sent, mut bytes, mut skipped) = (0u64, 0u64, 0u64);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    // Without pacing, frames go in bursts of the watermark straight from the pool
    // (`send_burst`: no copy into a queue on batching rings).
    let bursts = recorded.is_none() && interval.is_none() && !o.verbose && !o.flush_each;
    let burst_len = usize::from(o.watermark.max(1));
    let mut burst: Vec<&[u8]> = Vec::with_capacity(burst_len);
    'outer: while num == 0 || sent < num {
        if bursts {
            let want = if num == 0 {
                burst_len
            } else {
                (num - sent).min(burst_len as u64) as usize
            };
            burst.clear();
            burst.extend(
                (0..want as u64)
                    .map(|j| pool[((sent + j) % pool.len() as u64) as usize].as_slice()),
            );
            let n = match ring.send_burst(&burst) {
                Ok(n) => n,
                Err(Error::NoTxSlotAvailable) => {
                    if !o.active {
                        ring.wait_tx_slot(Duration::from_millis(10))?;
                    }
                    0
                }
                // A recorded frame this device cannot carry: skip it, say so at the end.
                Err(Error::FrameTooLarge { .. } | Error::FrameTooShort { .. }) => {
                    skipped += 1;
                    1
                }
                Err(e) => return Err(e.into()),
            };
            sent += n as u64;
            bytes += burst[..n]
                .iter()
                .map(|f| f.len() as u64 + WIRE_OVERHEAD)
                .sum::<u64>();
            if BreakHandle::last_signal() != 0 {
                break;
            }
            meter.tick(&mut out, sent, bytes);
            continue;
        }
        let frame = &pool[(sent % pool.len() as u64) as usize];
        let due = match (&recorded, interval) {
            (Some(offset), _) => Some(start + offset(sent)),
            // Frame `sent` is due at start + sent * interval.
            (None, Some(iv)) => Some(start + iv.mul_f64(sent as f64)),
            (None, None) => None,
        };
        if let Some(due) = due {
            let mut flushed = false;
            loop {
                let now = Instant::now();
                if now >= due {
                    break;
                }
                if !flushed {
                    ring.flush_tx_packets()?;
                    flushed = true;
                }
                let wait = due - now;
                if wait > Duration::from_micros(200) && !o.active {
                    std::thread::sleep(wait - Duration::from_micros(100));
                } else {
                    std::hint::spin_loop();
                }
                if BreakHandle::last_signal() != 0 {
                    break 'outer;
                }
            }
        }
        loop {
            match ring.send(frame, o.flush_each) {
                Ok(()) => break,
                Err(Error::NoTxSlotAvailable) => {
                    if !o.active {
                        ring.wait_tx_slot(Duration::from_millis(10))?;
                    }
                    if BreakHandle::last_signal() != 0 {
                        break 'outer;
                    }
                }
                // A recorded frame this device cannot carry: skip it, say so at the end.
                Err(Error::FrameTooLarge { .. } | Error::FrameTooShort { .. }) => {
                    skipped += 1;
                    break;
                }
                Err(e) => return Err(e.into()),
            }
        }
        sent += 1;
        bytes += frame.len() as u64 + WIRE_OVERHEAD;
        if o.verbose {
            let _ = writeln!(out, "[{sent}] {} bytes", frame.len());
        }
        if sent % 256 == 0 || due.is_some() {
            if BreakHandle::last_signal() != 0 {
                break;
            }
            meter.tick(&mut out, sent, bytes);
        }
    }
    ring.flush_tx_packets()?;
    // Let the kernel finish what is in the ring (bounded) before reporting.
    let deadline = Instant::now() + Duration::from_secs(2);
    while ring.tx_stats().1 > 0 && Instant::now() < deadline {
        ring.flush_tx_packets()?;
        std::thread::sleep(Duration::from_millis(1));
    }
    if progress {
        eprintln!("\r{}", progress_bar(sent, num));
    }
    let _ = writeln!(out, "{}", meter.line(sent, bytes));
    let _ = writeln!(out, "Sent {} packets", sent - skipped);
    if skipped > 0 {
        let _ = writeln!(
            out,
            "Skipped {skipped} frames the device cannot send (size)"
        );
    }
    Ok(())
}

/// Most bytes of frames loaded from a file.
const MAX_FILE_BYTES: usize = 1 << 30;

/// The Ethernet frames of a capture file and their timestamps (ns).
fn load_file(path: &str) -> Result<(Vec<Vec<u8>>, Vec<u64>)> {
    let mut r = pfring::pcap::Reader::open(path).with_context(|| format!("-f {path}"))?;
    let (mut frames, mut stamps, mut bytes) = (Vec::new(), Vec::new(), 0usize);
    while let Some(rec) = r.next().with_context(|| format!("reading {path}"))? {
        if rec.linktype != pfring::pcap::LINKTYPE_ETHERNET {
            continue;
        }
        bytes += rec.data.len();
        if bytes > MAX_FILE_BYTES {
            bail!(
                "{path}: more than {} MiB of frames to hold in memory",
                MAX_FILE_BYTES >> 20
            );
        }
        frames.push(rec.data.to_vec());
        stamps.push(rec.ts_ns);
    }
    if frames.is_empty() {
        bail!("{path}: no Ethernet frames to send");
    }
    // Recorded time never runs backwards for pacing purposes.
    for i in 1..stamps.len() {
        stamps[i] = stamps[i].max(stamps[i - 1]);
    }
    Ok((frames, stamps))
}

/// `[=========>          ]  45% 1'234/2'742`
fn progress_bar(done: u64, total: u64) -> String {
    const W: u64 = 30;
    let filled = (done.min(total) * W).checked_div(total).unwrap_or(W);
    let pct = (done.min(total) * 100).checked_div(total).unwrap_or(100);
    format!(
        "[{}{}] {pct:3}% {}/{}",
        "=".repeat(filled as usize),
        " ".repeat((W - filled) as usize),
        format_numbers(done as f64, false),
        format_numbers(total as f64, false)
    )
}

fn main() -> ExitCode {
    pfring_tools::tool_main("pfsend", parse_args, run)
}
