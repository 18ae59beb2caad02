//! pfcount: capture packets from a device and count them, printing PF_RING's stats block
//! every second (flags and output as PF_RING's pfcount, see `pfcount -h`).

use std::fmt::Write as _;
use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use pfring::{BreakHandle, ClusterType, Direction, Error, RingBuilder};
use pfring_tools::{Sample, StatsPrinter, WIRE_OVERHEAD, format_mac, format_time_of_day};

const USAGE: &str = "pfcount - (C) pfring-rs: capture and count packets (PF_RING pfcount)

pfcount [-h] -i <device> [-f <bpf>] [-l <len>] [-e <dir>] [-w <watermark>] [-p <poll wait>] [-a]
        [-m] [-N <num>] [-g <core>] [-v <1|2>] [-L] [-c <cluster id>] [-H <cluster type>]
        [-n <threads>] [-r] [-u <1|2>] [-d <device>] [-s] [-T]
        [--json] [--slots <n>] [--ring-mb <MiB>]

-h              Print this help
-i <device>     Device name (e.g. eth0, eth0@1, eth0.100, any, pcap:file.pcap); default eth0
-f <bpf>        BPF filter (tcpdump syntax), run in the kernel
-l <len>        Capture length (default 1536)
-e <direction>  0=RX+TX (default), 1=RX only, 2=TX only
-w <watermark>  Poll watermark (packets queued before a wake-up; default 1)
-p <poll wait>  Poll wait in msec (default 500)
-a              Active packet wait (busy poll, no poll(2))
-m              Long packet header (per-packet details with -v)
-N <num>        Stop after <num> packets
-g <core>       Bind this thread to a core
-c <cluster id> Join cluster <cluster id> (0-65535): the rings (processes) of a cluster share
                the device's packets, each packet going to one of them
-H <type>       Cluster type (with -c): 0=per flow, 1=round robin, 2=2-tuple, 3=4-tuple,
                4=5-tuple (default), 5=TCP 5-tuple, 6-10=the same on the tunneled (inner)
                flow, 11=IP 5-tuple, 12=inner IP 5-tuple, 13=IP with duplication
-n <threads>    Capture threads (default 1); more than 1 needs -c: each thread has its own
                ring in the cluster; stats per thread and in total (-u and -T need 1 thread)
-r              RSS rehash: a ring on some channels (dev@q) gets its share of the symmetric
                hash instead of the NIC's queues
-u <1|2>        For each packet's flow add a drop rule: 1 = exact (hash) rule, 2 = wildcard
                rule (/32 hosts and exact ports); later packets of the flow are not received
-d <device>     Reflector device (frames matched by reflect rules are sent out of it)
-s              Hardware timestamps: the device stamps received packets (fails on devices
                without hardware timestamping, e.g. veth; check yours with `ethtool -T`)
-T              Check that timestamps never go backwards; report each one that does
-v <1|2>        Verbose: one line per packet (2: plus a hex dump)
-L              List interfaces and exit (-v 1: with MAC and MTU)
-q              Quiet: no periodic stats (final stats only)
--json          Print one JSON object per second instead of the stats block
--slots <n>     Ring slots (default 4096, as PF_RING's min_num_slots)
--ring-mb <n>   Ring size in MiB (overrides --slots)
--block-ms <n>  Longest wait before a partly filled block is seen (default 16)
";

#[derive(Debug)]
struct Opts {
    device: String,
    filter: Option<String>,
    caplen: u32,
    direction: Direction,
    watermark: u16,
    poll_ms: u64,
    active: bool,
    long_header: bool,
    max_pkts: u64,
    core: Option<usize>,
    verbose: u8,
    list: bool,
    quiet: bool,
    json: bool,
    slots: u32,
    ring_mb: Option<usize>,
    block_ms: u64,
    cluster: Option<u16>,
    cluster_type: ClusterType,
    threads: usize,
    rss_rehash: bool,
    add_drop_rule: u8,
    reflector: Option<String>,
    hw_timestamp: bool,
    check_ts: bool,
}

fn parse_args() -> Result<Option<Opts>> {
    use lexopt::prelude::*;
    let mut o = Opts {
        device: "eth0".into(),
        filter: None,
        caplen: 1536,
        direction: Direction::RxAndTx,
        watermark: 1,
        poll_ms: 500,
        active: false,
        long_header: false,
        max_pkts: 0,
        core: None,
        verbose: 0,
        list: false,
        quiet: false,
        json: false,
        slots: 4096,
        ring_mb: None,
        block_ms: 16,
        cluster: None,
        cluster_type: ClusterType::PerFlow5Tuple,
        threads: 1,
        rss_rehash: false,
        add_drop_rule: 0,
        reflector: None,
        hw_timestamp: false,
        check_ts: false,
    };
    let mut p = lexopt::Parser::from_env();
    while let Some(arg) = p.next()? {
        match arg {
            Short('h') | Long("help") => {
                print!("{USAGE}");
                return Ok(None);
            }
            Short('i') => o.device = p.value()?.string()?,
            Short('f') => o.filter = Some(p.value()?.string()?),
            Short('l') => o.caplen = p.value()?.parse().context("-l <len>")?,
            Short('e') => {
                let v: u32 = p.value()?.parse().context("-e <direction>")?;
                o.direction = Direction::try_from(v)?;
            }
            Short('w') => o.watermark = p.value()?.parse().context("-w <watermark>")?,
            Short('p') => o.poll_ms = p.value()?.parse().context("-p <poll wait>")?,
            Short('a') => o.active = true,
            Short('m') => o.long_header = true,
            Short('N') => o.max_pkts = p.value()?.parse().context("-N <num>")?,
            Short('g') => o.core = Some(p.value()?.parse().context("-g <core>")?),
            Short('v') => o.verbose = p.value()?.parse().context("-v <1|2>")?,
            Short('L') => o.list = true,
            Short('c') => o.cluster = Some(p.value()?.parse().context("-c <cluster id>")?),
            Short('H') => {
                let v: u32 = p.value()?.parse().context("-H <cluster type>")?;
                o.cluster_type = ClusterType::try_from(v)?;
            }
            Short('n') => o.threads = p.value()?.parse().context("-n <threads>")?,
            Short('r') => o.rss_rehash = true,
            Short('u') => {
                o.add_drop_rule = p.value()?.parse().context("-u <1|2>")?;
                if !(1..=2).contains(&o.add_drop_rule) {
                    anyhow::bail!("-u takes 1 (hash rule) or 2 (wildcard rule)");
                }
            }
            Short('d') => o.reflector = Some(p.value()?.string()?),
            Short('q') => o.quiet = true,
            Short('s') => o.hw_timestamp = true,
            Short('T') => o.check_ts = true,
            Long("json") => o.json = true,
            Long("slots") => o.slots = p.value()?.parse().context("--slots <n>")?,
            Long("block-ms") => o.block_ms = p.value()?.parse().context("--block-ms <n>")?,
            Long("ring-mb") => o.ring_mb = Some(p.value()?.parse().context("--ring-mb <MiB>")?),
            _ => return Err(arg.unexpected().into()),
        }
    }
    if o.threads == 0 || (o.threads > 1 && o.cluster.is_none()) {
        anyhow::bail!("-n <threads> must be 1, or more with -c <cluster id>");
    }
    if o.threads > 1 && (o.add_drop_rule > 0 || o.check_ts) {
        anyhow::bail!("-u and -T work with one capture thread (-n 1)");
    }
    Ok(Some(o))
}

fn list_devices(verbose: u8) -> Result<()> {
    for (idx, name) in pfring::find_all_devices()? {
        if verbose > 0 {
            match pfring::device_info(&name) {
                Ok((mac, mtu)) => println!("{idx}. {name} [mac: {}][mtu: {mtu}]", format_mac(&mac)),
                Err(e) => println!("{idx}. {name} [{e}]"),
            }
        } else {
            println!("{idx}. {name}");
        }
    }
    Ok(())
}

fn run(o: Opts) -> Result<()> {
    if o.list {
        return list_devices(o.verbose);
    }
    if let Some(core) = o.core {
        pfring::bind_to_core(core)?;
    }
    let mut b = RingBuilder::new(&o.device)
        .caplen(o.caplen)
        .promisc(true)
        .long_header(o.long_header)
        .direction(o.direction)
        .block_timeout(Duration::from_millis(o.block_ms))
        .hw_timestamp(o.hw_timestamp)
        .slots(o.slots);
    if let Some(mb) = o.ring_mb {
        b = b.ring_bytes(mb << 20);
    }
    let mut rings = Vec::new();
    for _ in 0..o.threads {
        let mut ring = b.clone().open()?;
        ring.set_application_name("pfcount")?;
        if let Some(f) = &o.filter {
            ring.set_bpf_filter(f)?;
        }
        if let Some(id) = o.cluster {
            ring.set_cluster(id, o.cluster_type)?;
        }
        if o.rss_rehash {
            ring.enable_rss_rehash()?;
        }
        if let Some(dev) = &o.reflector {
            ring.set_reflector_device(Some(dev))?;
        }
        ring.set_poll_watermark(o.watermark)?;
        ring.set_poll_duration(Duration::from_millis(o.poll_ms.max(1)));
        let breaker: BreakHandle = ring.break_handle();
        breaker.break_on_signals(&[libc::SIGINT, libc::SIGTERM, libc::SIGHUP])?;
        // Enabled before the banner, so "# Polling threads" means the capture is running.
        ring.enable()?;
        rings.push(ring);
    }
    let mut ring = rings.remove(0);
    let (v, _) = pfring::version();
    println!("Using PF_RING v.{}", pfring::ring::format_version(v));
    let mac = ring.bound_device_address().unwrap_or([0; 6]);
    println!(
        "Capturing from {} [{}][ifIndex: {}]",
        o.device,
        format_mac(&mac),
        ring.bound_device_ifindex()
    );
    println!(
        "# Device RX channels: {}",
        ring.num_rx_channels().unwrap_or(1)
    );
    println!("# Polling threads:    {}", o.threads);
    let _ = std::io::stdout().flush();
    if o.threads > 1 {
        rings.insert(0, ring);
        return pfring_tools::threads::capture_threads(
            rings,
            o.max_pkts,
            o.quiet,
            Duration::from_millis(o.poll_ms.max(1)),
        );
    }

    let start = Instant::now();
    let mut next_print = start + Duration::from_secs(1);
    let mut printer = StatsPrinter::new();
    let (mut pkts, mut bytes) = (0u64, 0u64);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let poll_wait = Duration::from_millis(o.poll_ms.max(1));
    let mut done = false;
    let mut file_error = None;
    // -u: flows seen in the current burst, given a drop rule once the burst is released.
    let mut new_flows: Vec<pfring::ParsedPacket> = Vec::new();
    let mut next_rule_id: u16 = 0;
    let mut ts_check = TsCheck::default();
    let print = |printer: &mut StatsPrinter, ring: &mut pfring::Ring, pkts, bytes| -> Result<()> {
        let st = ring.stats()?;
        let s = Sample {
            elapsed: start.elapsed(),
            pkts,
            bytes,
            recv: st.recv,
            drop: st.drop,
        };
        let text = if o.json {
            printer.json(s) + "\n"
        } else {
            printer.block(s)
        };
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(text.as_bytes());
        Ok(())
    };
    while !done {
        {
            // With -N, never take more packets off the ring than still wanted, so the ring's
            // recv counter and the application's count agree at the end.
            let want = if o.max_pkts > 0 {
                (o.max_pkts - pkts).min(pfring::ring::MAX_BURST as u64) as usize
            } else {
                pfring::ring::MAX_BURST
            };
            let burst = match ring.recv_burst(want, false) {
                Ok(b) => b,
                // A truncated or corrupt capture file: report it after the final stats.
                Err(e @ Error::Pcap(_)) => {
                    file_error = Some(e);
                    break;
                }
                Err(e) => return Err(e.into()),
            };
            for (h, data) in burst.iter() {
                pkts += 1;
                if o.add_drop_rule > 0 {
                    let (p, _) = pfring::ParsedPacket::parse(data, 4);
                    if p.ip_version != 0 {
                        new_flows.push(p);
                    }
                }
                bytes += u64::from(h.len) + WIRE_OVERHEAD;
                if o.check_ts
                    && let Some(prev) = ts_check.observe(h.ts)
                {
                    let mut err = std::io::stderr().lock();
                    let _ = writeln!(
                        err,
                        "Timestamp went backwards at packet {pkts}: {prev} -> {}",
                        h.ts
                    );
                }
                if o.verbose > 0 {
                    let _ = write!(out, "{}", packet_line(&h, data, o.long_header));
                    if o.verbose > 1 {
                        let mut dump = String::new();
                        let _ = pfring::parse::format_hex_dump(&mut dump, data);
                        let _ = writeln!(out, "{dump}");
                    }
                }
                if o.max_pkts > 0 && pkts >= o.max_pkts {
                    done = true;
                    break;
                }
            }
            if burst.is_empty() && !done {
                drop(burst);
                if BreakHandle::last_signal() != 0 || ring.end_of_file() {
                    break;
                }
                if !o.active {
                    let until_print = next_print.saturating_duration_since(Instant::now());
                    ring.poll(poll_wait.min(until_print).max(Duration::from_millis(1)))?;
                }
            }
        }
        if !new_flows.is_empty() {
            add_drop_rules(
                &mut ring,
                o.add_drop_rule,
                &mut new_flows,
                &mut next_rule_id,
            );
        }
        if o.verbose > 0 {
            let _ = out.flush();
        }
        if BreakHandle::last_signal() != 0 {
            break;
        }
        let now = Instant::now();
        if now >= next_print {
            if !o.quiet {
                print(&mut printer, &mut ring, pkts, bytes)?;
            }
            next_print = now + Duration::from_secs(1);
        }
    }
    let _ = out.flush();
    drop(out);
    print(&mut printer, &mut ring, pkts, bytes)?;
    if o.check_ts {
        eprintln!(
            "Timestamp check: {} packets, {} went backwards",
            ts_check.checked, ts_check.backwards
        );
    }
    match file_error {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

/// `-u`: a drop rule for each flow in `flows` (emptied): exact rules for `kind` 1, wildcard
/// rules with /32 hosts and exact ports for 2. A flow that already has one (several of its
/// packets were queued before the rule) is skipped.
fn add_drop_rules(
    ring: &mut pfring::Ring,
    kind: u8,
    flows: &mut Vec<pfring::ParsedPacket>,
    next_rule_id: &mut u16,
) {
    use pfring::filter::rules::{FilteringRule, HashFilteringRule, RuleAction, RuleError};
    let drop = RuleAction::DontForwardAndStop;
    for p in flows.drain(..) {
        let added = if kind == 1 {
            let Some(r) = HashFilteringRule::from_packet(&p, drop) else {
                continue;
            };
            ring.add_hash_filtering_rule(r)
        } else {
            let (Some(src), Some(dst)) =
                (p.ip_src.to_std(p.ip_version), p.ip_dst.to_std(p.ip_version))
            else {
                continue;
            };
            // The same flow twice in a burst: its rule exists already.
            let dup = ring.rule_set().is_some_and(|s| {
                let probe = FilteringRule::new(0, drop)
                    .proto(p.l3_proto)
                    .vlan(p.vlan_id)
                    .src_ip(src, 128)
                    .dst_ip(dst, 128)
                    .src_ports(p.l4_src_port, p.l4_src_port)
                    .dst_ports(p.l4_dst_port, p.l4_dst_port);
                s.rules().any(|r| r.core == probe.core)
            });
            if dup || *next_rule_id == pfring::filter::rules::AUTO_RULE_ID {
                continue;
            }
            let r = FilteringRule::new(*next_rule_id, drop)
                .proto(p.l3_proto)
                .vlan(p.vlan_id)
                .src_ip(src, 128)
                .dst_ip(dst, 128)
                .src_ports(p.l4_src_port, p.l4_src_port)
                .dst_ports(p.l4_dst_port, p.l4_dst_port);
            *next_rule_id += 1;
            ring.add_filtering_rule(r)
        };
        match added {
            Ok(()) | Err(Error::Rule(RuleError::DuplicateHash)) => {}
            Err(e) => eprintln!("pfring_add_filtering_rule({kind}) failed: {e}"),
        }
    }
}

/// `-T`: counts packets whose timestamp is earlier than the one before.
#[derive(Debug, Default)]
struct TsCheck {
    last: Option<pfring::Timestamp>,
    checked: u64,
    backwards: u64,
}

impl TsCheck {
    /// Records `ts`; returns the previous timestamp when `ts` went back from it.
    fn observe(&mut self, ts: pfring::Timestamp) -> Option<pfring::Timestamp> {
        self.checked += 1;
        let prev = self.last.replace(ts)?;
        if ts < prev {
            self.backwards += 1;
            Some(prev)
        } else {
            None
        }
    }
}

/// pfcount's `-v` line: `HH:MM:SS.uuuuuunnn ` then, with the long header (`-m`),
/// `[RX|TX][if_index=N][hash=H]` and the parsed packet (`pfring_print_parsed_pkt`); without,
/// `[smac -> dmac][eth_type=0x....][caplen=..][len=..]`.
fn packet_line(h: &pfring::PacketHeader, data: &[u8], long_header: bool) -> String {
    let mut line = format_time_of_day(h.ts);
    if long_header {
        let e = &h.extended_hdr;
        let dir = if e.rx_direction { "RX" } else { "TX" };
        let _ = write!(
            line,
            "[{dir}][if_index={}][hash={}]",
            e.if_index, e.pkt_hash
        );
        let (mut parsed, _) = pfring::ParsedPacket::parse(data, 5);
        parsed.pkt_hash = e.pkt_hash;
        let _ = pfring::parse::format_parsed(&mut line, &parsed, data, h.caplen, h.len);
    } else {
        let _ = pfring::parse::format_short(&mut line, data, h.caplen, h.len);
    }
    line.push('\n');
    line
}

fn main() -> ExitCode {
    pfring_tools::tool_main("pfcount", parse_args, run)
}

#[cfg(test)]
mod tests {
    use super::TsCheck;
    use pfring::Timestamp;

    #[test]
    fn ts_check_reports_each_step_back() {
        let mut c = TsCheck::default();
        let t = |sec, nsec| Timestamp { sec, nsec };
        assert_eq!(c.observe(t(5, 0)), None);
        assert_eq!(c.observe(t(5, 0)), None, "equal stamps are not backwards");
        assert_eq!(c.observe(t(5, 10)), None);
        assert_eq!(c.observe(t(4, 999_999_999)), Some(t(5, 10)));
        assert_eq!(c.observe(t(6, 0)), None);
        assert_eq!((c.checked, c.backwards), (5, 1));
    }
}
