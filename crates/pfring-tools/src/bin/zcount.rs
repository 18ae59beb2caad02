//! zcount: count the packets of one pfring-zc cluster queue with the packet-buffer API
//! (zero copy through the `zc:<cluster>@<queue>` ring; PF_RING ZC's zcount).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use pfring::{BreakHandle, RingBuilder};
use pfring_tools::{WIRE_OVERHEAD, format_numbers};

const USAGE: &str = "zcount - (C) pfring-rs: count packets of a ZC cluster queue

zcount -c <cluster id> -i <queue id> [-g <core>] [-s <sec>] [-v <1|2>]

-h               Print this help
-c <cluster id>  Cluster id (mandatory)
-i <queue id>    Queue id (default 0); `-i zc:<cluster>@<queue>` is accepted too
-g <core>        Bind to a core
-s <sec>         Stop after this many seconds (default: until SIGINT/SIGTERM)
-v <1|2>         Verbose: 1 prints each packet's length and hash, 2 also a hex dump
";

#[derive(Debug)]
struct Opts {
    cluster: u32,
    queue: u32,
    core: Option<usize>,
    seconds: Option<u64>,
    verbose: u8,
}

fn parse_args() -> Result<Option<Opts>> {
    use lexopt::prelude::*;
    let mut cluster = None;
    let mut o = Opts {
        cluster: 0,
        queue: 0,
        core: None,
        seconds: None,
        verbose: 0,
    };
    let mut p = lexopt::Parser::from_env();
    while let Some(arg) = p.next()? {
        match arg {
            Short('h') | Long("help") => {
                print!("{USAGE}");
                return Ok(None);
            }
            Short('c') => cluster = Some(p.value()?.parse().context("-c <cluster id>")?),
            Short('i') => {
                let v = p.value()?.string()?;
                match v.strip_prefix("zc:").and_then(|r| r.split_once('@')) {
                    Some((c, q)) => {
                        cluster = Some(c.parse().context("-i zc:<cluster>@<queue>")?);
                        o.queue = q.parse().context("-i zc:<cluster>@<queue>")?;
                    }
                    None => o.queue = v.parse().context("-i <queue id>")?,
                }
            }
            Short('g') => o.core = Some(p.value()?.parse().context("-g <core>")?),
            Short('s') => o.seconds = Some(p.value()?.parse().context("-s <sec>")?),
            Short('v') => o.verbose = p.value()?.parse().context("-v <1|2>")?,
            _ => return Err(arg.unexpected().into()),
        }
    }
    let Some(c) = cluster else {
        bail!("-c <cluster id> is required");
    };
    o.cluster = c;
    Ok(Some(o))
}

fn block(pkts: u64, drops: u64, bytes: u64, rate: Option<(u64, u64, u64, f64)>) -> String {
    let mut s = format!(
        "=========================\nAbsolute Stats: {} pkts ({} drops) - {} bytes\n",
        format_numbers(pkts as f64, false),
        format_numbers(drops as f64, false),
        format_numbers(bytes as f64, false)
    );
    if let Some((dp, dd, db, secs)) = rate
        && secs > 0.0
    {
        let gbps = (db + dp * WIRE_OVERHEAD) as f64 * 8.0 / secs / 1e9;
        s.push_str(&format!(
            "Actual Stats: {} pps ({} drops) - {:.2} Gbps\n",
            format_numbers(dp as f64 / secs, true),
            format_numbers(dd as f64 / secs, true),
            gbps
        ));
    }
    s.push_str("=========================\n");
    s
}

fn run(o: Opts) -> Result<()> {
    if let Some(core) = o.core {
        pfring::bind_to_core(core)?;
    }
    // The `zc:` ring hands out the cluster's buffers without copying.
    let dev = format!("zc:{}@{}", o.cluster, o.queue);
    let mut ring = RingBuilder::new(&dev).caplen(65535).open()?;
    ring.enable()?;
    ring.break_handle()
        .break_on_signals(&[libc::SIGINT, libc::SIGTERM])?;
    ring.set_poll_duration(Duration::from_millis(100));
    println!("Counting packets of {dev}");
    let (mut pkts, mut bytes) = (0u64, 0u64);
    let start = Instant::now();
    let mut last = (0u64, 0u64, 0u64, Instant::now());
    let stop_at = o.seconds.map(|x| start + Duration::from_secs(x));
    while BreakHandle::last_signal() == 0 && stop_at.is_none_or(|t| Instant::now() < t) {
        if ring.poll(Duration::from_millis(100))? {
            let burst = ring.recv_burst(256, false)?;
            for (h, data) in burst.iter() {
                pkts += 1;
                bytes += u64::from(h.len);
                if o.verbose > 0 {
                    println!("[len={}][hash={}]", h.len, h.extended_hdr.pkt_hash);
                    if o.verbose > 1 {
                        let mut hex = String::new();
                        pfring::parse::format_hex_dump(&mut hex, data)?;
                        print!("{hex}");
                    }
                }
            }
        }
        if last.3.elapsed() >= Duration::from_secs(1) {
            let drops = ring.stats()?.drop;
            let secs = last.3.elapsed().as_secs_f64();
            print!(
                "{}",
                block(
                    pkts,
                    drops,
                    bytes,
                    Some((pkts - last.0, drops - last.1, bytes - last.2, secs))
                )
            );
            last = (pkts, drops, bytes, Instant::now());
        }
    }
    let drops = ring.stats()?.drop;
    print!("{}", block(pkts, drops, bytes, None));
    Ok(())
}

fn main() -> ExitCode {
    pfring_tools::tool_main("zcount", parse_args, run)
}
