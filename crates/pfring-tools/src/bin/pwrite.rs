//! pwrite (PF_RING's pfwrite): capture packets and write them to a pcap or pcapng file.

use std::fs::File;
use std::io::BufWriter;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use pfring::pcap::{Format, TsResolution, Writer, WriterOptions};
use pfring::{BreakHandle, Error, RingBuilder};

const USAGE: &str = "pwrite - (C) pfring-rs: capture packets to a file (PF_RING pfwrite)

pwrite -i <device> -w <dump file> [-f <bpf>] [-c <cluster id>] [-F <pcap|pcap-ns|pcapng>] [-l <caplen>] [-N <num>]
       [--ring-mb <MiB>]

-h              Print this help
-i <device>     Device to capture from (any pfring-rs device name, also pcap:file)
-w <file>       File to write ('-' = standard output)
-f <bpf>        Save only packets matching this BPF filter (tcpdump syntax)
-c <cluster id> Join this cluster (5-tuple hash): several pwrite processes split the traffic
-F <format>     pcap (microseconds, default), pcap-ns (nanoseconds) or pcapng
-l <caplen>     Bytes saved per packet (default 1520, as PF_RING's pfwrite)
-N <num>        Stop after <num> packets
--ring-mb <n>   Ring size in MiB (default 64: room for bursts while the disk catches up)
";

#[derive(Debug)]
struct Opts {
    device: String,
    filter: Option<String>,
    cluster: Option<u16>,
    path: String,
    format: Format,
    caplen: u32,
    max: u64,
    ring_mb: usize,
}

fn parse_args() -> Result<Option<Opts>> {
    use lexopt::prelude::*;
    let (mut device, mut path, mut filter, mut cluster) = (None, None, None, None);
    let mut format = Format::Pcap(TsResolution::Micro);
    let (mut caplen, mut max, mut ring_mb) = (1520u32, 0u64, 64usize);
    let mut p = lexopt::Parser::from_env();
    while let Some(arg) = p.next()? {
        match arg {
            Short('h') | Long("help") => {
                print!("{USAGE}");
                return Ok(None);
            }
            Short('i') => device = Some(p.value()?.string()?),
            Short('w') => path = Some(p.value()?.string()?),
            Short('f') => filter = Some(p.value()?.string()?),
            Short('c') => cluster = Some(p.value()?.parse().context("-c <cluster id>")?),
            Short('F') => {
                format = match p.value()?.string()?.as_str() {
                    "pcap" => Format::Pcap(TsResolution::Micro),
                    "pcap-ns" => Format::Pcap(TsResolution::Nano),
                    "pcapng" => Format::PcapNg,
                    other => bail!("-F {other:?}: use pcap, pcap-ns or pcapng"),
                }
            }
            Short('l') => caplen = p.value()?.parse().context("-l <caplen>")?,
            Short('N') => max = p.value()?.parse().context("-N <num>")?,
            Long("ring-mb") => ring_mb = p.value()?.parse().context("--ring-mb <MiB>")?,
            _ => return Err(arg.unexpected().into()),
        }
    }
    let (Some(device), Some(path)) = (device, path) else {
        bail!("-i <device> and -w <dump file> are required");
    };
    Ok(Some(Opts {
        device,
        filter,
        cluster,
        path,
        format,
        caplen,
        max,
        ring_mb,
    }))
}

fn run(o: Opts) -> Result<()> {
    let mut ring = RingBuilder::new(&o.device)
        .caplen(o.caplen)
        .promisc(true)
        .ring_bytes(o.ring_mb.clamp(1, 4096) << 20)
        .open()?;
    ring.set_application_name("pwrite")?;
    if let Some(f) = &o.filter {
        ring.set_bpf_filter(f)?;
    }
    if let Some(id) = o.cluster {
        ring.set_cluster(id, pfring::ClusterType::PerFlow5Tuple)?;
    }
    let out: Box<dyn std::io::Write> = if o.path == "-" {
        Box::new(std::io::stdout().lock())
    } else {
        Box::new(File::create(&o.path).with_context(|| format!("creating {}", o.path))?)
    };
    let mut writer = Writer::with_options(
        BufWriter::with_capacity(1 << 20, out),
        WriterOptions {
            format: o.format,
            snaplen: o.caplen,
            ..WriterOptions::default()
        },
    )?;
    let breaker = ring.break_handle();
    breaker.break_on_signals(&[libc::SIGINT, libc::SIGTERM, libc::SIGHUP])?;
    ring.enable()?;
    eprintln!("Capture device: {}", o.device);
    eprintln!("Dump file path: {}", o.path);
    let mut saved = 0u64;
    let mut failure: Option<anyhow::Error> = None;
    'capture: while BreakHandle::last_signal() == 0 {
        let want = if o.max > 0 {
            (o.max - saved).min(pfring::ring::MAX_BURST as u64) as usize
        } else {
            pfring::ring::MAX_BURST
        };
        let burst = match ring.recv_burst(want, false) {
            Ok(b) => b,
            Err(e @ Error::Pcap(_)) => {
                failure = Some(e.into());
                break;
            }
            Err(e) => return Err(e.into()),
        };
        for (h, data) in burst.iter() {
            if let Err(e) = writer.write(h.ts.as_nanos(), data, h.len) {
                failure = Some(e.into());
                break 'capture;
            }
            saved += 1;
        }
        let empty = burst.is_empty();
        drop(burst);
        if o.max > 0 && saved >= o.max {
            break;
        }
        if empty {
            if ring.end_of_file() {
                break;
            }
            ring.poll(Duration::from_millis(100))?;
        }
    }
    // Everything handed to the writer reaches the file, also after Ctrl-C.
    writer.flush().context("flushing the dump file")?;
    eprintln!("Saved {saved} packets on disk");
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn main() -> ExitCode {
    pfring_tools::tool_main("pwrite", parse_args, run)
}
