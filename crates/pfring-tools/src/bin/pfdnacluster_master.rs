//! pfdnacluster_master: a pfring-zc cluster master fed by a device (libzero's
//! pfdnacluster_master / zbalance_ipc). Slaves read `zc:<cluster>@<queue>` with any tool
//! (e.g. `pfcount -i zc:10@0`) or with `zcount`.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use pfring::{BreakHandle, RingBuilder};
use pfring_tools::zc::{RingIo, cluster_stats_block};
use pfring_zc::{Cluster, ClusterConfig, Distribution, HashMode, WaitMode};

const USAGE: &str =
    "pfdnacluster_master - (C) pfring-rs: zero-copy cluster master (libzero / zbalance_ipc)

pfdnacluster_master -i <device> -c <cluster id> [-n <num slaves>] [-m <hash mode>]
                    [-q <queue len>] [-g <core>] [-o <egress device>] [-a] [-p] [-s <sec>]

-h               Print this help
-i <device>      Ingress device (any pfring device name: eth0, eth0@1, pcap:f.pcap, ...);
                 repeat -i (or give eth0,eth1) for several ingress devices
-c <cluster id>  Cluster id (slaves open zc:<cluster id>@<queue>)
-n <num>         Number of slave queues (default 1, at most 64)
-m <hash mode>   0 round robin (default), 1 bidirectional IP hash, 2 fan-out,
                 3 bidirectional MAC hash, 4 IP protocol
-q <len>         Slots per slave queue (power of two, default 8192)
-g <core>        Bind the master thread to a core
-o <device>      Egress device: where packets the slaves send go out
-a               Active wait (spin) instead of passive (sleep when idle)
-p               Print stats every second (otherwise only at exit)
-s <sec>         Stop after this many seconds (default: until SIGINT/SIGTERM)
";

#[derive(Debug)]
struct Opts {
    device: String,
    cluster: u32,
    queues: u32,
    mode: u32,
    queue_len: u32,
    core: Option<usize>,
    egress: Option<String>,
    active: bool,
    periodic: bool,
    seconds: Option<u64>,
}

fn parse_args() -> Result<Option<Opts>> {
    use lexopt::prelude::*;
    let (mut devices, mut cluster) = (Vec::<String>::new(), None);
    let mut o = Opts {
        device: String::new(),
        cluster: 0,
        queues: 1,
        mode: 0,
        queue_len: 8192,
        core: None,
        egress: None,
        active: false,
        periodic: false,
        seconds: None,
    };
    let mut p = lexopt::Parser::from_env();
    while let Some(arg) = p.next()? {
        match arg {
            Short('h') | Long("help") => {
                print!("{USAGE}");
                return Ok(None);
            }
            Short('i') => devices.push(p.value()?.string()?),
            Short('c') => cluster = Some(p.value()?.parse().context("-c <cluster id>")?),
            Short('n') => o.queues = p.value()?.parse().context("-n <num slaves>")?,
            Short('m') => o.mode = p.value()?.parse().context("-m <hash mode>")?,
            Short('q') => o.queue_len = p.value()?.parse().context("-q <queue len>")?,
            Short('g') => o.core = Some(p.value()?.parse().context("-g <core>")?),
            Short('o') => o.egress = Some(p.value()?.string()?),
            Short('a') => o.active = true,
            Short('p') => o.periodic = true,
            Short('s') => o.seconds = Some(p.value()?.parse().context("-s <sec>")?),
            _ => return Err(arg.unexpected().into()),
        }
    }
    let (false, Some(c)) = (devices.is_empty(), cluster) else {
        bail!("-i <device> and -c <cluster id> are required");
    };
    // Several ingress devices: one multi-device ring (one socket per device, read in turn).
    let d = devices.join(",");
    if o.mode > 4 {
        bail!("hash mode {} is not supported (0..=4)", o.mode);
    }
    if o.queues == 0 || o.queues > pfring_zc::MAX_QUEUES {
        bail!(
            "-n {} out of range (1..={})",
            o.queues,
            pfring_zc::MAX_QUEUES
        );
    }
    o.device = d;
    o.cluster = c;
    Ok(Some(o))
}

fn run(o: Opts) -> Result<()> {
    if let Some(core) = o.core {
        pfring::bind_to_core(core)?;
    }
    let mut ring = RingBuilder::new(&o.device)
        .caplen(1536)
        .promisc(true)
        .open()?;
    ring.set_application_name("pfdnacluster_master")?;
    ring.enable()?;
    let breaker = ring.break_handle();
    breaker.break_on_signals(&[libc::SIGINT, libc::SIGTERM, libc::SIGHUP])?;
    let mut egress = match &o.egress {
        Some(e) => {
            let mut r = RingBuilder::new(e).caplen(64).open()?;
            r.enable()?;
            Some(RingIo(r))
        }
        None => None,
    };
    let cfg = ClusterConfig {
        queue_len: o.queue_len,
        ..Default::default()
    };
    let mut cluster = Cluster::create(o.cluster, o.queues, cfg)
        .with_context(|| format!("creating cluster {}", o.cluster))?;
    cluster.set_distribution(match o.mode {
        0 => Distribution::RoundRobin,
        1 => Distribution::Hash(HashMode::Ip),
        2 => Distribution::FanOut,
        3 => Distribution::Hash(HashMode::Mac),
        _ => Distribution::Hash(HashMode::Protocol),
    });
    cluster.set_wait_mode(if o.active {
        WaitMode::Active
    } else {
        WaitMode::Passive
    });
    cluster.enable();
    println!(
        "Cluster {} ready: {} queue(s) on {} (slaves: zc:{}@0..{})",
        o.cluster,
        o.queues,
        o.device,
        o.cluster,
        o.queues - 1
    );
    let start = Instant::now();
    let stop_at = o.seconds.map(|s| start + Duration::from_secs(s));
    let mut src = RingIo(ring);
    let mut last = (cluster.stats(), 0u64, Instant::now());
    while BreakHandle::last_signal() == 0 && stop_at.is_none_or(|t| Instant::now() < t) {
        let n = cluster.poll(
            &mut src,
            egress.as_mut().map(|e| e as &mut dyn pfring_zc::PacketSink),
        )?;
        if n == 0 {
            if o.active {
                std::hint::spin_loop();
            } else {
                src.0.poll(Duration::from_millis(1))?;
            }
        }
        if o.periodic && last.2.elapsed() >= Duration::from_secs(1) {
            let st = cluster.stats();
            let rd = src.0.stats()?.drop;
            let secs = last.2.elapsed().as_secs_f64();
            print!(
                "{}",
                cluster_stats_block(&st, rd, Some((&last.0, last.1)), secs)
            );
            last = (st, rd, Instant::now());
        }
    }
    let st = cluster.stats();
    let rd = src.0.stats()?.drop;
    let secs = start.elapsed().as_secs_f64();
    print!(
        "{}",
        cluster_stats_block(&st, rd, Some((&ClusterStats0::zero(o.queues), 0)), secs)
    );
    cluster.destroy();
    Ok(())
}

/// All-zero stats for the whole-run average.
struct ClusterStats0;
impl ClusterStats0 {
    fn zero(n: u32) -> pfring_zc::ClusterStats {
        pfring_zc::ClusterStats {
            queues: vec![pfring_zc::QueueStats::default(); n as usize],
            ..Default::default()
        }
    }
}

fn main() -> ExitCode {
    pfring_tools::tool_main("pfdnacluster_master", parse_args, run)
}
