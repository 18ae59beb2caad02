//! pfinfo: what PF_RING's `/proc/net/pf_ring/` showed, read from the ring registry
//! ([`pfring::registry`]).
//!
//! - `pfinfo`: the global view (`/proc/net/pf_ring/info`);
//! - `pfinfo rings`: one line per open ring (`ls /proc/net/pf_ring/`);
//! - `pfinfo ring <id>`: one ring (`/proc/net/pf_ring/<pid>-<dev>.<id>`);
//! - `pfinfo plugins`: registered plugins (`/proc/net/pf_ring/plugins_info`);
//! - `pfinfo dev [<name>]`: the devices (`/proc/net/pf_ring/dev/<name>`).
//!
//! `--json` prints the same facts as JSON. Rings of processes that died without closing
//! them are not shown (and their entries are deleted).

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use pfring::registry::{self, DeviceInfo, RingInfo};
use pfring_tools::format_mac;
use serde_json::{Value, json};

const USAGE: &str = "\
pfinfo - PF_RING information (what /proc/net/pf_ring/ showed)

pfinfo [--json]                 global information (info)
pfinfo rings [--json]           one line per open ring
pfinfo ring <id> [--json]       one ring (id as listed by `pfinfo rings`)
pfinfo plugins [--json]         registered plugins (plugins_info)
pfinfo dev [<name>] [--json]    network devices (dev/<name>)
-h                              this help
";

#[derive(Debug)]
enum Cmd {
    Info,
    Rings,
    Ring(String),
    Plugins,
    Dev(Option<String>),
}

#[derive(Debug)]
struct Opts {
    cmd: Cmd,
    json: bool,
}

fn parse_args() -> Result<Option<Opts>> {
    use lexopt::prelude::*;
    let mut json = false;
    let mut words = Vec::new();
    let mut p = lexopt::Parser::from_env();
    while let Some(arg) = p.next()? {
        match arg {
            Short('h') | Long("help") => {
                print!("{USAGE}");
                return Ok(None);
            }
            Long("json") => json = true,
            Value(v) => words.push(v.string()?),
            _ => return Err(arg.unexpected().into()),
        }
    }
    let mut w = words.into_iter();
    let cmd = match w.next().as_deref() {
        None | Some("info") => Cmd::Info,
        Some("rings") => Cmd::Rings,
        Some("ring") => Cmd::Ring(w.next().context("`ring` needs a ring id")?),
        Some("plugins") | Some("plugins_info") => Cmd::Plugins,
        Some("dev") => Cmd::Dev(w.next()),
        Some(other) => bail!("unknown command {other:?}"),
    };
    if let Some(extra) = w.next() {
        bail!("unexpected argument {extra:?}");
    }
    Ok(Some(Opts { cmd, json }))
}

use pfring::filter::rules::plugin::PluginInfo;

/// The plugins every ring has (`plugins_info`): the ones that ship with the library (SIP,
/// RTP). Plugins an application registers itself live in its rings only.
fn plugins() -> Vec<PluginInfo> {
    pfring::filter::rules::plugin::PluginRegistry::with_builtin().info()
}

/// `/proc/net/pf_ring/info`'s lines (PF_RING 5.4's labels, padded to 20 columns).
fn info_text(rings: usize, plugins: usize) -> String {
    let (v, crate_v) = pfring::version();
    let line = |k: &str, v: &dyn std::fmt::Display| format!("{k:<20}: {v}\n");
    let mut s = String::new();
    s += &line(
        "PF_RING Version",
        &format!("{} (pfring-rs {crate_v})", pfring::ring::format_version(v)),
    );
    s += &line("Ring slots", &pfring::ring::DEFAULT_SLOTS);
    // The defaults a ring gets when the builder does not say otherwise (PF_RING's module
    // parameters): TX capture on, defragmentation off, standard (not quick) mode.
    s += &line("Capture TX", &"Yes [RX+TX]");
    s += &line("IP Defragment", &"No");
    s += &line("Socket Mode", &"Standard");
    s += &line("Total rings", &rings);
    s += &line("Total plugins", &plugins);
    s
}

fn info_json(rings: usize, plugins: usize) -> Value {
    let (v, crate_v) = pfring::version();
    json!({
        "version": pfring::ring::format_version(v),
        "library_version": crate_v,
        "ring_slots": pfring::ring::DEFAULT_SLOTS,
        "capture_tx": true,
        "ip_defrag": false,
        "socket_mode": "standard",
        "total_rings": rings,
        "total_plugins": plugins,
    })
}

fn ring_json(r: &RingInfo) -> Value {
    json!({
        "id": r.id,
        "pid": r.pid,
        "appl_name": r.app_name,
        "device": r.device,
        "module": r.module,
        "active": r.active,
        "direction": r.direction,
        "socket_mode": r.socket_mode,
        "cluster_id": r.cluster_id,
        "cluster_type": (!r.cluster_type.is_empty()).then_some(&r.cluster_type),
        "bpf_filter": r.bpf_filter,
        "sampling_rate": r.sampling_rate,
        "slots": r.slots,
        "caplen": r.caplen,
        "poll_watermark": r.poll_watermark,
        "quick_mode": r.quick_mode,
        "ip_defrag": r.ip_defrag,
        "ring_memory": r.ring_memory,
        "recv": r.recv,
        "drop": r.drop,
        "filtered": r.filtered,
        "sent": r.sent,
        "updated_ms": r.updated_ms,
    })
}

fn appl(r: &RingInfo) -> &str {
    if r.app_name.is_empty() {
        "<unknown>"
    } else {
        &r.app_name
    }
}

fn rings_text(rings: &[RingInfo]) -> String {
    let mut s = format!(
        "{:<32} {:>7} {:<16} {:<16} {:>6} {:>14} {:>14}\n",
        "Ring", "PID", "Appl. Name", "Bound Device", "Active", "Tot Packets", "Tot Pkt Lost"
    );
    for r in rings {
        s += &format!(
            "{:<32} {:>7} {:<16} {:<16} {:>6} {:>14} {:>14}\n",
            r.id,
            r.pid,
            appl(r),
            r.device,
            u8::from(r.active),
            r.recv + r.drop,
            r.drop
        );
    }
    s
}

/// The per-ring view of the 5.4 user guide (`/proc/net/pf_ring/<pid>-<dev>.<id>`).
fn ring_text(r: &RingInfo) -> String {
    let line = |k: &str, v: &dyn std::fmt::Display| format!("{k:<19}: {v}\n");
    let yes_no = |b: bool| if b { "Yes" } else { "No" };
    let mut s = String::new();
    s += &line("Bound Device", &r.device);
    s += &line("Module", &r.module);
    s += &line("Active", &u8::from(r.active));
    s += &line("Sampling Rate", &r.sampling_rate);
    s += &line("Capture Direction", &r.direction);
    s += &line("Socket Mode", &r.socket_mode);
    s += &line("Appl. Name", &appl(r));
    s += &line("PID", &r.pid);
    s += &line("IP Defragment", &yes_no(r.ip_defrag));
    s += &line("Quick Mode", &yes_no(r.quick_mode));
    s += &line(
        "BPF Filtering",
        &if r.bpf_filter.is_some() {
            "Enabled"
        } else {
            "Disabled"
        },
    );
    if let Some(f) = &r.bpf_filter {
        s += &line("BPF Filter", f);
    }
    s += &line("Poll Pkt Watermark", &r.poll_watermark);
    s += &line("Cluster Id", &r.cluster_id.unwrap_or(0));
    if !r.cluster_type.is_empty() {
        s += &line("Cluster Type", &r.cluster_type);
    }
    s += &line("Min Num Slots", &r.slots);
    s += &line("Bucket Len", &r.caplen);
    s += &line("Tot Memory", &r.ring_memory);
    if r.socket_mode != "send_only" {
        s += &line("Tot Packets", &(r.recv + r.drop));
        s += &line("Tot Pkt Lost", &r.drop);
        s += &line("Tot Read", &r.recv);
        if let Some(f) = r.filtered {
            s += &line("Tot Filtered", &f);
        }
    }
    if r.socket_mode != "recv_only" {
        s += &line("TX: Send Ok", &r.sent);
    }
    s
}

fn plugins_text(plugins: &[PluginInfo]) -> String {
    let mut s = String::from("ID\tPlugin\n");
    for p in plugins {
        s += &format!("{}\t{} [{}]\n", p.id, p.name, p.description);
    }
    s
}

fn bound(rings: &[RingInfo], dev: &str) -> usize {
    rings
        .iter()
        .filter(|r| {
            r.device
                .split([',', ';', ':'])
                .any(|d| d.split(['@', '.']).next() == Some(dev))
        })
        .count()
}

fn dev_text(d: &DeviceInfo, bound_rings: usize) -> String {
    let line = |k: &str, v: &dyn std::fmt::Display| format!("{:<18}{v}\n", format!("{k}:"));
    let mut s = String::new();
    s += &line("Name", &d.name);
    s += &line("Index", &d.index);
    s += &line("Address", &format_mac(&d.mac));
    s += &line("Type", &d.kind.as_deref().unwrap_or("?"));
    s += &line("MTU", &d.mtu);
    s += &line("# Bound Sockets", &bound_rings);
    s += &line(
        "TX Queues",
        &d.tx_queues.map_or("?".to_owned(), |n| n.to_string()),
    );
    s += &line("RX Queues", &d.rx_queues);
    s
}

fn dev_json(d: &DeviceInfo, bound_rings: usize) -> Value {
    json!({
        "name": d.name,
        "index": d.index,
        "address": format_mac(&d.mac),
        "type": d.kind,
        "mtu": d.mtu,
        "bound_sockets": bound_rings,
        "tx_queues": d.tx_queues,
        "rx_queues": d.rx_queues,
    })
}

fn run(o: Opts) -> Result<()> {
    let rings = registry::rings()?;
    let plugins = plugins();
    let out = match o.cmd {
        Cmd::Info if o.json => info_json(rings.len(), plugins.len()).to_string() + "\n",
        Cmd::Info => info_text(rings.len(), plugins.len()),
        Cmd::Rings if o.json => {
            Value::Array(rings.iter().map(ring_json).collect()).to_string() + "\n"
        }
        Cmd::Rings => rings_text(&rings),
        Cmd::Ring(id) => {
            let Some(r) = rings.iter().find(|r| r.id == id) else {
                bail!("no ring {id:?} (see pfinfo rings)");
            };
            if o.json {
                ring_json(r).to_string() + "\n"
            } else {
                ring_text(r)
            }
        }
        Cmd::Plugins if o.json => {
            let list: Vec<Value> = plugins
                .iter()
                .map(|p| json!({"id": p.id, "name": p.name, "description": p.description}))
                .collect();
            json!({ "total_plugins": list.len(), "plugins": list }).to_string() + "\n"
        }
        Cmd::Plugins => plugins_text(&plugins),
        Cmd::Dev(name) => {
            let mut devs = registry::devices()?;
            if let Some(n) = &name {
                devs.retain(|d| &d.name == n);
                if devs.is_empty() {
                    return Err(pfring::Error::NoSuchDevice { name: n.clone() }.into());
                }
            }
            if o.json {
                Value::Array(
                    devs.iter()
                        .map(|d| dev_json(d, bound(&rings, &d.name)))
                        .collect(),
                )
                .to_string()
                    + "\n"
            } else {
                devs.iter()
                    .map(|d| dev_text(d, bound(&rings, &d.name)))
                    .collect::<Vec<_>>()
                    .join("\n")
            }
        }
    };
    print!("{out}");
    Ok(())
}

fn main() -> ExitCode {
    pfring_tools::tool_main("pfinfo", parse_args, run)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RingInfo {
        RingInfo {
            id: "42-eth0.0".into(),
            pid: 42,
            app_name: "pfcount".into(),
            device: "eth0".into(),
            module: "packet".into(),
            active: true,
            direction: "RX+TX".into(),
            socket_mode: "send_and_recv".into(),
            sampling_rate: 1,
            slots: 4096,
            caplen: 1536,
            poll_watermark: 1,
            ring_memory: 1 << 22,
            recv: 100,
            drop: 5,
            ..RingInfo::default()
        }
    }

    #[test]
    fn info_has_the_5_4_lines() {
        let t = info_text(3, 0);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[0].split(" (").next(),
            Some("PF_RING Version     : 5.4.0")
        );
        assert_eq!(
            &lines[1..],
            [
                "Ring slots          : 4096",
                "Capture TX          : Yes [RX+TX]",
                "IP Defragment       : No",
                "Socket Mode         : Standard",
                "Total rings         : 3",
                "Total plugins       : 0",
            ]
        );
    }

    #[test]
    fn ring_view_has_the_user_guide_fields() {
        let t = ring_text(&sample());
        for l in [
            "Bound Device       : eth0",
            "Active             : 1",
            "Sampling Rate      : 1",
            "Appl. Name         : pfcount",
            "BPF Filtering      : Disabled",
            "Cluster Id         : 0",
            "Min Num Slots      : 4096",
            "Tot Packets        : 105",
            "Tot Pkt Lost       : 5",
            "Tot Read           : 100",
        ] {
            assert!(t.lines().any(|x| x == l), "{l:?} missing in\n{t}");
        }
    }

    #[test]
    fn rings_list_and_json_agree() {
        let r = sample();
        let t = rings_text(std::slice::from_ref(&r));
        assert_eq!(t.lines().count(), 2);
        assert!(t.lines().nth(1).unwrap().starts_with("42-eth0.0"));
        let j = ring_json(&r);
        assert_eq!(j["recv"], 100);
        assert_eq!(j["drop"], 5);
        assert_eq!(j["appl_name"], "pfcount");
        assert_eq!(j["cluster_id"], Value::Null);
    }

    #[test]
    fn bound_sockets_count_by_device_name() {
        let mut a = sample();
        let rings = vec![
            a.clone(),
            {
                a.device = "multi:eth1;eth0@2".into();
                a.clone()
            },
            {
                a.device = "eth0.100".into();
                a.clone()
            },
            {
                a.device = "eth10".into();
                a
            },
        ];
        assert_eq!(bound(&rings, "eth0"), 3);
        assert_eq!(bound(&rings, "eth1"), 1);
    }

    #[test]
    fn the_builtin_plugins_are_listed_by_id() {
        let text = plugins_text(&plugins());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "ID\tPlugin");
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[1].starts_with("2\tsip ["), "{text}");
        assert!(lines[2].starts_with("3\trtp ["), "{text}");
    }
}
