//! pfdnacluster_master: a pfring-zc cluster master fed by a device (libzero's
//! pfdnacluster_master / zbalance_ipc). Slaves read `zc:<cluster>@<queue>` with any tool
//! (e.g. `pfcount -i zc:10@0`) or with `zcount`.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use pfring::{BreakHandle, RingBuilder};
use pfring_tools::zbalance;
use pfring_tools::zc::{RingIo, cluster_stats_block};
use pfring_zc::{Cluster, ClusterConfig, ClusterMode, PacketSource, WaitMode};

const USAGE: &str =
    "pfdnacluster_master - (C) pfring-rs: zero-copy cluster master (libzero / zbalance_ipc)

pfdnacluster_master -i <device> -c <cluster id> [-n <num>[,<num>...]] [-m <hash mode>]
                    [-q <queue len>] [-g <core>] [-o <egress device>] [-a] [-p] [-s <sec>]

-h               Print this help
-i <device>      Ingress device (any pfring device name: eth0, eth0@1, pcap:f.pcap, ...);
                 repeat -i for several ingress devices (device X = the X-th -i, from 0)
-c <cluster id>  Cluster id (slaves open zc:<cluster id>@<queue>)
-n <num>[,...]   Slave queues (default 1, at most 64 in all); a comma list = several
                 applications, each getting every packet, balanced over its own queues
                 (-n 2,1: app 0 = queues 0-1, app 1 = queue 2)
-m <hash mode>   0 round robin (default), 1 bidirectional IP hash, 2 fan-out,
                 3 fan-out to queue 0 + round robin on the others, 4 GTP (inner IP) hash,
                 5 GRE (inner IP) hash, 6 device X -> queue X
-q <len>         Slots per slave queue (power of two, default 8192)
-g <core>        Bind the master thread to a core
-o <device>      Egress device: where packets the slaves send go out
-a               Active wait (spin) instead of passive (sleep when idle)
-p               Print stats every second (otherwise only at exit)
-s <sec>         Stop after this many seconds (default: until SIGINT/SIGTERM)
";

#[derive(Debug)]
struct Opts {
    devices: Vec<String>,
    cluster: u32,
    apps: Vec<u32>,
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
        devices: Vec::new(),
        cluster: 0,
        apps: vec![1],
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
            Short('n') => o.apps = zbalance::parse_apps(&p.value()?.string()?)?,
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
    // Checks -m against -n now (the distribution is built again in `run`).
    zbalance::distribution(&o.apps, o.mode, Some(Arc::new(AtomicU32::new(0))))?;
    o.devices = devices;
    o.cluster = c;
    Ok(Some(o))
}

/// The ingress rings, read in turn; `cur` says which one the packet being distributed came
/// from (for `-m 6`).
struct Ingress {
    rings: Vec<RingIo>,
    cur: Arc<AtomicU32>,
}

impl PacketSource for Ingress {
    fn recv_burst(
        &mut self,
        max: usize,
        f: &mut dyn FnMut(&[u8], u64),
    ) -> pfring_zc::Result<usize> {
        let mut n = 0;
        for (i, r) in self.rings.iter_mut().enumerate() {
            if n >= max {
                break;
            }
            self.cur.store(i as u32, Ordering::Relaxed);
            n += r.recv_burst(max - n, f)?;
        }
        Ok(n)
    }

    fn wait(&mut self, timeout: Duration) -> pfring_zc::Result<()> {
        match self.rings.as_mut_slice() {
            [one] => one.wait(timeout),
            _ => {
                std::thread::sleep(timeout.min(Duration::from_micros(200)));
                Ok(())
            }
        }
    }
}

impl Ingress {
    fn drops(&mut self) -> Result<u64> {
        let mut d = 0;
        for r in &mut self.rings {
            d += r.0.stats()?.drop;
        }
        Ok(d)
    }
}

fn run(o: Opts) -> Result<()> {
    let mut rings = Vec::new();
    for dev in &o.devices {
        let mut ring = RingBuilder::new(dev).caplen(1536).promisc(true).open()?;
        ring.set_application_name("pfdnacluster_master")?;
        ring.enable()?;
        rings.push(RingIo(ring));
    }
    let breaker = rings[0].0.break_handle();
    breaker.break_on_signals(&[libc::SIGINT, libc::SIGTERM, libc::SIGHUP])?;
    let cur = Arc::new(AtomicU32::new(0));
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
    let queues: u32 = o.apps.iter().sum();
    let mut cluster = Cluster::create(o.cluster, queues, cfg)
        .with_context(|| format!("creating cluster {}", o.cluster))?;
    cluster.set_distribution(zbalance::distribution(&o.apps, o.mode, Some(cur.clone()))?);
    // Without an egress nothing is sent: receive-only, as libzero's pfdnacluster_master.
    if egress.is_none() {
        cluster.set_mode(ClusterMode::RecvOnly);
    }
    if let Some(core) = o.core {
        cluster.set_cpu_affinity(Some(core), Some(core))?;
    }
    cluster.set_wait_mode(if o.active {
        WaitMode::Active
    } else {
        WaitMode::Passive
    });
    cluster.enable();
    println!(
        "Cluster {} ready: {} queue(s) on {} (slaves: zc:{}@0..{})",
        o.cluster,
        queues,
        o.devices.join(","),
        o.cluster,
        queues - 1
    );
    if o.apps.len() > 1 {
        let mut first = 0;
        for (a, n) in o.apps.iter().enumerate() {
            println!("Application {a}: queues {first}..{}", first + n - 1);
            first += n;
        }
    }
    let start = Instant::now();
    let stop_at = o.seconds.map(|s| start + Duration::from_secs(s));
    let mut src = Ingress { rings, cur };
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
                src.wait(Duration::from_millis(1))?;
            }
        }
        if o.periodic && last.2.elapsed() >= Duration::from_secs(1) {
            let st = cluster.stats();
            let rd = src.drops()?;
            let secs = last.2.elapsed().as_secs_f64();
            print!(
                "{}",
                cluster_stats_block(&st, rd, Some((&last.0, last.1)), secs)
            );
            last = (st, rd, Instant::now());
        }
    }
    let st = cluster.stats();
    let rd = src.drops()?;
    let secs = start.elapsed().as_secs_f64();
    print!(
        "{}",
        cluster_stats_block(&st, rd, Some((&ClusterStats0::zero(queues), 0)), secs)
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
