//! pfsend: send synthetic UDP traffic at a chosen rate (PF_RING's pfsend).

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use pfring::{BreakHandle, Error, RingBuilder, SocketMode};
use pfring_tools::synth::SynthSpec;
use pfring_tools::{WIRE_OVERHEAD, format_numbers};

const USAGE: &str = "pfsend - (C) pfring-rs: send packets (PF_RING pfsend)

pfsend -i <device> [-n <num>] [-r <Gbps>] [-p <pps>] [-l <len>] [-b <num src IPs>]
       [-c <num dst IPs>] [-S <src IP>] [-D <dst IP>] [-M <src MAC>] [-m <dst MAC>]
       [-V <4|6|0>] [-w <watermark>] [-F] [-z] [-a] [-g <core>] [-v] [--qdisc]

-h              Print this help
-i <device>     Device to send on
-n <num>        Packets to send (0 = forever; default 0)
-r <Gbps>       Rate in Gbit/s, counting 24 bytes of per-frame overhead like PF_RING
-p <pps>        Rate in packets/s
-l <len>        Frame length in bytes (default 60)
-b <num>        Number of source IPs (default 1)
-c <num>        Number of destination IPs (default 1)
-S <ip>         First source IP (default 10.0.0.1)
-D <ip>         First destination IP (default 192.168.0.1)
-M <mac>        Source MAC (default 00:01:02:03:04:05)
-m <mac>        Destination MAC (default 00:11:22:33:44:55)
-V <4|6|0>      IP version: 4, 6, or 0 for both alternately (default 4)
-w <watermark>  TX watermark: frames queued before they are sent (default 64)
-F              Flush after every packet
-z              Randomize source and destination IPs
-a              Active wait: spin instead of poll(2) when the TX ring is full
-g <core>       Bind to a core
-v              Verbose: print each packet's length
--qdisc         Go through the qdisc layer (default: bypass it, PACKET_QDISC_BYPASS)
";

#[derive(Debug)]
struct Opts {
    device: Option<String>,
    num: u64,
    gbps: Option<f64>,
    pps: Option<f64>,
    spec: SynthSpec,
    watermark: u16,
    flush_each: bool,
    active: bool,
    core: Option<usize>,
    verbose: bool,
    qdisc: bool,
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
        num: 0,
        gbps: None,
        pps: None,
        spec: SynthSpec::default(),
        watermark: 64,
        flush_each: false,
        active: false,
        core: None,
        verbose: false,
        qdisc: false,
    };
    let mut p = lexopt::Parser::from_env();
    while let Some(arg) = p.next()? {
        match arg {
            Short('h') | Long("help") => {
                print!("{USAGE}");
                return Ok(None);
            }
            Short('i') => o.device = Some(p.value()?.string()?),
            Short('n') => o.num = p.value()?.parse().context("-n <num>")?,
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
            _ => return Err(arg.unexpected().into()),
        }
    }
    if o.device.is_none() {
        bail!("-i <device> is required");
    }
    if o.gbps.is_some_and(|g| g <= 0.0) || o.pps.is_some_and(|p| p <= 0.0) {
        bail!("-r and -p take a positive rate");
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
}

impl Meter {
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
        .open()?;
    ring.set_application_name("pfsend")?;
    ring.set_tx_watermark(o.watermark.max(1))?;
    let breaker = ring.break_handle();
    breaker.break_on_signals(&[libc::SIGINT, libc::SIGTERM, libc::SIGHUP])?;
    ring.enable()?;

    let pool = o.spec.pool();
    let avg_len = pool.iter().map(Vec::len).sum::<usize>() as f64 / pool.len() as f64;
    let pps = match (o.pps, o.gbps) {
        (Some(p), _) => Some(p),
        (None, Some(g)) => Some(g * 1e9 / ((avg_len + WIRE_OVERHEAD as f64) * 8.0)),
        (None, None) => None,
    };
    let interval = pps.map(|p| Duration::from_secs_f64(1.0 / p));
    println!(
        "Sending {} frame(s) of {} bytes on {device}{}",
        if o.num == 0 {
            "unlimited".to_string()
        } else {
            o.num.to_string()
        },
        o.spec.len,
        pps.map_or(String::new(), |p| format!(
            " at {} pps",
            format_numbers(p, true)
        ))
    );
    let start = Instant::now();
    let mut meter = Meter {
        start,
        last: start,
        last_pkts: 0,
        last_bytes: 0,
    };
    let mut next_print = start + Duration::from_secs(1);
    let (mut sent, mut bytes) = (0u64, 0u64);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    'outer: while o.num == 0 || sent < o.num {
        let frame = &pool[(sent % pool.len() as u64) as usize];
        if let Some(iv) = interval {
            // Frame `sent` is due at start + sent * interval.
            let due = start + iv.mul_f64(sent as f64);
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
                Err(e) => return Err(e.into()),
            }
        }
        sent += 1;
        bytes += frame.len() as u64 + WIRE_OVERHEAD;
        if o.verbose {
            let _ = writeln!(out, "[{sent}] {} bytes", frame.len());
        }
        if sent % 256 == 0 || interval.is_some() {
            if BreakHandle::last_signal() != 0 {
                break;
            }
            let now = Instant::now();
            if now >= next_print {
                let _ = writeln!(out, "{}", meter.line(sent, bytes));
                let _ = out.flush();
                next_print = now + Duration::from_secs(1);
            }
        }
    }
    ring.flush_tx_packets()?;
    // Let the kernel finish what is in the ring (bounded) before reporting.
    let deadline = Instant::now() + Duration::from_secs(2);
    while ring.tx_stats().1 > 0 && Instant::now() < deadline {
        ring.flush_tx_packets()?;
        std::thread::sleep(Duration::from_millis(1));
    }
    let _ = writeln!(out, "{}", meter.line(sent, bytes));
    let _ = writeln!(out, "Sent {sent} packets");
    Ok(())
}

fn main() -> ExitCode {
    let opts = match parse_args() {
        Ok(Some(o)) => o,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pfsend: {e:#} (see pfsend -h)");
            return ExitCode::from(2);
        }
    };
    match run(opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            match e.downcast_ref::<Error>() {
                Some(pe) => eprintln!("pfsend: {pe}"),
                None => eprintln!("pfsend: {e:#}"),
            }
            ExitCode::FAILURE
        }
    }
}
