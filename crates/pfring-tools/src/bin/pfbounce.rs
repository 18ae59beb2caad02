//! pfbounce: the Bouncer (libzero's DNA Bouncer): forward packets between two devices, one
//! way or both ways, with a per-packet decision (here: an optional BPF filter).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use pfring::{BpfProgram, BpfTarget, BreakHandle, Direction, RingBuilder};
use pfring_tools::zc::RingIo;
use pfring_zc::{Bouncer, BouncerMode, Decision, WaitMode};

const USAGE: &str = "pfbounce - (C) pfring-rs: bounce packets between two devices (DNA Bouncer)

pfbounce -i <ingress> -o <egress> [-b] [-f <bpf>] [-a] [-g <core>] [-s <sec>] [-v]

-h              Print this help
-i <device>     Ingress device
-o <device>     Egress device
-b              Two-way: also bounce egress -> ingress
-f <bpf>        Forward only packets matching this BPF filter (the decision function);
                the others are dropped
-a              Active wait (spin) instead of passive
-g <core>       Bind to a core
-s <sec>        Stop after this many seconds (default: until SIGINT/SIGTERM)
-v              Print the stats every second
";

#[derive(Debug)]
struct Opts {
    ingress: String,
    egress: String,
    two_way: bool,
    filter: Option<String>,
    active: bool,
    core: Option<usize>,
    seconds: Option<u64>,
    verbose: bool,
}

fn parse_args() -> Result<Option<Opts>> {
    use lexopt::prelude::*;
    let (mut i, mut e) = (None, None);
    let mut o = Opts {
        ingress: String::new(),
        egress: String::new(),
        two_way: false,
        filter: None,
        active: false,
        core: None,
        seconds: None,
        verbose: false,
    };
    let mut p = lexopt::Parser::from_env();
    while let Some(arg) = p.next()? {
        match arg {
            Short('h') | Long("help") => {
                print!("{USAGE}");
                return Ok(None);
            }
            Short('i') => i = Some(p.value()?.string()?),
            Short('o') => e = Some(p.value()?.string()?),
            Short('b') => o.two_way = true,
            Short('f') => o.filter = Some(p.value()?.string()?),
            Short('a') => o.active = true,
            Short('g') => o.core = Some(p.value()?.parse().context("-g <core>")?),
            Short('s') => o.seconds = Some(p.value()?.parse().context("-s <sec>")?),
            Short('v') => o.verbose = true,
            _ => return Err(arg.unexpected().into()),
        }
    }
    let (Some(i), Some(e)) = (i, e) else {
        bail!("-i <ingress> and -o <egress> are required");
    };
    if i == e {
        bail!("-i and -o must be different devices");
    }
    o.ingress = i;
    o.egress = e;
    Ok(Some(o))
}

fn open(dev: &str) -> Result<RingIo> {
    // RX only: what a ring sends must not come back to it as received (a loop, two-way).
    let mut r = RingBuilder::new(dev)
        .caplen(65535)
        .promisc(true)
        .direction(Direction::RxOnly)
        .open()?;
    r.set_application_name("pfbounce")?;
    r.enable()?;
    Ok(RingIo(r))
}

fn run(o: Opts) -> Result<()> {
    if let Some(core) = o.core {
        pfring::bind_to_core(core)?;
    }
    let filter = match &o.filter {
        Some(f) => Some(BpfProgram::compile_for(f, BpfTarget::Bytes)?),
        None => None,
    };
    let ingress = open(&o.ingress)?;
    let egress = open(&o.egress)?;
    ingress
        .0
        .break_handle()
        .break_on_signals(&[libc::SIGINT, libc::SIGTERM, libc::SIGHUP])?;
    let mut b = Bouncer::new(ingress, egress);
    b.set_mode(if o.two_way {
        BouncerMode::TwoWay
    } else {
        BouncerMode::OneWay
    });
    b.set_wait_mode(if o.active {
        WaitMode::Active
    } else {
        WaitMode::Passive
    });
    println!(
        "Bouncing {} -> {}{}",
        o.ingress,
        o.egress,
        if o.two_way { " (and back)" } else { "" }
    );
    let mut decide = |data: &[u8], _dir| match &filter {
        Some(f) if !f.matches(data, data.len() as u32) => Decision::Drop,
        _ => Decision::Forward,
    };
    let start = Instant::now();
    let mut last = Instant::now();
    // The loop of `Bouncer::run`, here with the signal and time checks of a tool.
    while BreakHandle::last_signal() == 0
        && o.seconds
            .is_none_or(|s| start.elapsed() < Duration::from_secs(s))
    {
        if b.poll(&mut decide)? == 0 && !o.active {
            std::thread::sleep(Duration::from_micros(200));
        }
        if o.verbose && last.elapsed() >= Duration::from_secs(1) {
            let s = b.stats();
            println!(
                "Forwarded {} pkts ({} dropped by the decision, {} TX errors)",
                s.forwarded[0] + s.forwarded[1],
                s.dropped[0] + s.dropped[1],
                s.tx_errors[0] + s.tx_errors[1]
            );
            last = Instant::now();
        }
    }
    let s = b.stats();
    println!(
        "Bounced {} -> {}: {} pkts ({} dropped, {} TX errors)",
        o.ingress, o.egress, s.forwarded[0], s.dropped[0], s.tx_errors[0]
    );
    if o.two_way {
        println!(
            "Bounced {} -> {}: {} pkts ({} dropped, {} TX errors)",
            o.egress, o.ingress, s.forwarded[1], s.dropped[1], s.tx_errors[1]
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    pfring_tools::tool_main("pfbounce", parse_args, run)
}
