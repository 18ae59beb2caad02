//! The ring registry: what PF_RING showed under `/proc/net/pf_ring/`, kept in files.
//!
//! Every open [`crate::Ring`] (any module) writes a small text file
//! `<runtime dir>/rings/<pid>-<device>.<n>` (the name PF_RING gave its `/proc` entries; `/`
//! in a device name becomes `_`) holding its pid, application name, device, direction,
//! socket mode, cluster, BPF filter, slots and its counters. The file is written when the
//! ring opens, when a setting changes, from the receive path at most about once a second
//! (a counter check per receive call, a clock read every 64 calls, and at every wait), on
//! [`crate::Ring::stats`] (at most every 500 ms) — so a busy or idle ring's counters are
//! never more than about a second old — and it is removed when the ring is dropped. Each
//! write goes to a temporary file renamed over the entry, so readers never see half a file.
//!
//! A process killed without dropping its rings leaves entries behind: readers ([`rings`])
//! check that the pid still runs the same process (its start time in `/proc/<pid>/stat`) and
//! delete the entries of dead processes.
//!
//! The runtime directory is [`runtime_dir`]. When it cannot be created (not root and no
//! `$XDG_RUNTIME_DIR`), rings work unregistered; `PFRING_NO_REGISTRY=1` in the environment
//! turns registration off on purpose (to measure its cost).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::error::{Error, Result};

/// The directory holding pfring's runtime files: `$PFRING_RUNTIME_DIR` when set (tests,
/// sandboxes), else `/run/pfring` for root and `$XDG_RUNTIME_DIR/pfring` for other users.
///
/// # Errors
/// [`Error::NoRuntimeDir`] when none applies.
pub fn runtime_dir() -> Result<PathBuf> {
    if let Some(d) = std::env::var_os("PFRING_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d));
    }
    if crate::sys::shm::euid() == 0 {
        return Ok(PathBuf::from("/run/pfring"));
    }
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(d) => Ok(PathBuf::from(d).join("pfring")),
        None => Err(Error::NoRuntimeDir {
            what: "pfring rings",
        }),
    }
}

/// The directory of the ring entries (`<runtime dir>/rings`).
///
/// # Errors
/// As [`runtime_dir`].
pub fn rings_dir() -> Result<PathBuf> {
    Ok(runtime_dir()?.join("rings"))
}

/// One ring as its registry entry describes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RingInfo {
    /// The entry's name, `<pid>-<device>.<n>` (what `pfinfo ring <id>` takes).
    pub id: String,
    /// The owning process.
    pub pid: u32,
    /// Start time of the owning process (clock ticks since boot, `/proc/<pid>/stat` field
    /// 22), to tell a reused pid apart.
    pub start_time: u64,
    /// [`crate::Ring::set_application_name`], empty when unset.
    pub app_name: String,
    /// The device name as opened.
    pub device: String,
    /// The module (`packet`, `pcap`, `multi`, `userspace`, ...).
    pub module: String,
    /// Whether the ring is enabled.
    pub active: bool,
    /// `RX+TX`, `RX only` or `TX only` (PF_RING's words).
    pub direction: String,
    /// `send_and_recv`, `send_only` or `recv_only`.
    pub socket_mode: String,
    /// Cluster id, when the ring is in a cluster.
    pub cluster_id: Option<u16>,
    /// Cluster type (`Debug` name of [`crate::ClusterType`]), empty when not in a cluster.
    pub cluster_type: String,
    /// The BPF filter expression, when one is set.
    pub bpf_filter: Option<String>,
    /// Sampling rate (1 = every packet; this library does not sample).
    pub sampling_rate: u32,
    /// Slots requested ([`crate::RingBuilder::slots`], PF_RING's `min_num_slots`).
    pub slots: u32,
    /// Bytes captured per packet.
    pub caplen: u32,
    /// Poll watermark.
    pub poll_watermark: u16,
    /// Quick (exclusive) mode.
    pub quick_mode: bool,
    /// IP defragmentation.
    pub ip_defrag: bool,
    /// Bytes of ring memory.
    pub ring_memory: u64,
    /// Packets handed to the application ([`crate::Stats::recv`]).
    pub recv: u64,
    /// Packets lost because the ring was full ([`crate::Stats::drop`]).
    pub drop: u64,
    /// Packets the ring's BPF filter rejected, where the filter runs in user space and counts
    /// them (userspace rings); `None` where it does not (kernel filters drop before the ring).
    pub filtered: Option<u64>,
    /// Frames accepted by [`crate::Ring::send`].
    pub sent: u64,
    /// When the entry was written, ms since the Unix epoch.
    pub updated_ms: u64,
}

fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

impl RingInfo {
    /// The entry's file contents (`key: value` lines).
    pub fn to_text(&self) -> String {
        let mut s = String::with_capacity(512);
        let mut kv = |k: &str, v: &dyn std::fmt::Display| {
            let _ = writeln!(s, "{k}: {v}");
        };
        kv("pid", &self.pid);
        kv("start_time", &self.start_time);
        kv("app_name", &one_line(&self.app_name));
        kv("device", &one_line(&self.device));
        kv("module", &self.module);
        kv("active", &u8::from(self.active));
        kv("direction", &self.direction);
        kv("socket_mode", &self.socket_mode);
        kv(
            "cluster_id",
            &self.cluster_id.map_or(String::new(), |c| c.to_string()),
        );
        kv("cluster_type", &self.cluster_type);
        kv(
            "bpf_filter",
            &self.bpf_filter.as_deref().map(one_line).unwrap_or_default(),
        );
        kv("sampling_rate", &self.sampling_rate);
        kv("slots", &self.slots);
        kv("caplen", &self.caplen);
        kv("poll_watermark", &self.poll_watermark);
        kv("quick_mode", &u8::from(self.quick_mode));
        kv("ip_defrag", &u8::from(self.ip_defrag));
        kv("ring_memory", &self.ring_memory);
        kv("recv", &self.recv);
        kv("drop", &self.drop);
        kv(
            "filtered",
            &self.filtered.map_or(String::new(), |f| f.to_string()),
        );
        kv("sent", &self.sent);
        kv("updated_ms", &self.updated_ms);
        s
    }

    /// Parses an entry written by [`RingInfo::to_text`]; `None` when `pid` is missing or a
    /// number does not parse (unknown keys are ignored).
    pub fn parse(id: &str, text: &str) -> Option<RingInfo> {
        let mut r = RingInfo {
            id: id.to_owned(),
            ..RingInfo::default()
        };
        let mut has_pid = false;
        for line in text.lines() {
            let Some((k, v)) = line
                .split_once(": ")
                .or_else(|| line.strip_suffix(':').map(|k| (k, "")))
            else {
                continue;
            };
            let num = |v: &str| v.parse::<u64>().ok();
            match k {
                "pid" => {
                    r.pid = u32::try_from(num(v)?).ok()?;
                    has_pid = true;
                }
                "start_time" => r.start_time = num(v)?,
                "app_name" => r.app_name = v.to_owned(),
                "device" => r.device = v.to_owned(),
                "module" => r.module = v.to_owned(),
                "active" => r.active = v == "1",
                "direction" => r.direction = v.to_owned(),
                "socket_mode" => r.socket_mode = v.to_owned(),
                "cluster_id" => {
                    r.cluster_id = if v.is_empty() {
                        None
                    } else {
                        Some(u16::try_from(num(v)?).ok()?)
                    }
                }
                "cluster_type" => r.cluster_type = v.to_owned(),
                "bpf_filter" => r.bpf_filter = (!v.is_empty()).then(|| v.to_owned()),
                "sampling_rate" => r.sampling_rate = u32::try_from(num(v)?).ok()?,
                "slots" => r.slots = u32::try_from(num(v)?).ok()?,
                "caplen" => r.caplen = u32::try_from(num(v)?).ok()?,
                "poll_watermark" => r.poll_watermark = u16::try_from(num(v)?).ok()?,
                "quick_mode" => r.quick_mode = v == "1",
                "ip_defrag" => r.ip_defrag = v == "1",
                "ring_memory" => r.ring_memory = num(v)?,
                "recv" => r.recv = num(v)?,
                "drop" => r.drop = num(v)?,
                "sent" => r.sent = num(v)?,
                "filtered" => r.filtered = if v.is_empty() { None } else { Some(num(v)?) },
                "updated_ms" => r.updated_ms = num(v)?,
                _ => {}
            }
        }
        has_pid.then_some(r)
    }
}

/// Start time (field 22 of `/proc/<pid>/stat`) of process `pid`, `None` if it does not
/// exist.
pub fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces: count after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether the process that wrote `info` still runs.
pub fn is_live(info: &RingInfo) -> bool {
    process_start_time(info.pid).is_some_and(|t| t == info.start_time)
}

/// The live rings of this machine (all processes of the runtime directory), sorted by id.
/// Entries of processes that are gone are deleted; unreadable entries are skipped.
///
/// # Errors
/// As [`runtime_dir`]; reading the directory failed (a missing directory is no rings).
pub fn rings() -> Result<Vec<RingInfo>> {
    let dir = rings_dir()?;
    let rd = match std::fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(Error::Syscall(crate::error::SyscallError {
                call: "opendir(ring registry)",
                source,
            }));
        }
    };
    let mut out = Vec::new();
    for entry in rd.flatten() {
        let name = entry.file_name();
        let Some(id) = name.to_str() else { continue };
        if let Some(tmp) = id.strip_prefix('.') {
            // A temporary file: remove it if its writer is gone (`.<pid>-...`).
            let pid = tmp.split('-').next().and_then(|p| p.parse().ok());
            if pid.is_some_and(|p| process_start_time(p).is_none()) {
                let _ = std::fs::remove_file(entry.path());
            }
            continue;
        }
        let Ok(text) = std::fs::read_to_string(entry.path()) else {
            continue;
        };
        match RingInfo::parse(id, &text) {
            Some(info) if is_live(&info) => out.push(info),
            Some(_) => {
                let _ = std::fs::remove_file(entry.path());
            }
            None => {}
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// The live ring with entry id `id`.
///
/// # Errors
/// As [`rings`].
pub fn ring(id: &str) -> Result<Option<RingInfo>> {
    Ok(rings()?.into_iter().find(|r| r.id == id))
}

/// A ring's own entry: written and removed by the ring (see the module docs).
#[derive(Debug)]
pub(crate) struct Registration {
    /// The entry's path; `None` when unregistered (no runtime directory).
    path: Option<PathBuf>,
    /// Receive calls since the last clock check.
    pub(crate) calls: u32,
    /// The BPF filter expression in force (kept for the entry).
    pub(crate) bpf: Option<String>,
    last_write: Option<std::time::Instant>,
}

/// How often counters are written from the receive path.
pub(crate) const UPDATE_EVERY: Duration = Duration::from_secs(1);

impl Registration {
    /// An entry for `device` of this process (not written yet).
    pub(crate) fn new(device: &str) -> Registration {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let off = std::env::var_os("PFRING_NO_REGISTRY").is_some_and(|v| v == "1");
        let path = rings_dir().ok().filter(|_| !off).and_then(|dir| {
            std::fs::DirBuilder::new()
                .recursive(true)
                .create(&dir)
                .ok()?;
            let dev: String = device
                .chars()
                .take(64)
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "._@:,;+=-".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Some(dir.join(format!("{}-{dev}.{n}", std::process::id())))
        });
        Registration {
            path,
            calls: 0,
            bpf: None,
            last_write: None,
        }
    }

    /// The entry id, if registered.
    pub(crate) fn id(&self) -> Option<&str> {
        self.path.as_ref()?.file_name()?.to_str()
    }

    /// Whether the receive path should write now (the last write is ≥ `every` old).
    pub(crate) fn due(&self, every: Duration) -> bool {
        self.path.is_some() && self.last_write.is_none_or(|t| t.elapsed() >= every)
    }

    /// Writes `info` as the entry (best effort: a failed write leaves the previous one).
    pub(crate) fn write(&mut self, info: &mut RingInfo) {
        let Some(path) = &self.path else { return };
        self.last_write = Some(std::time::Instant::now());
        info.id = self.id().unwrap_or_default().to_owned();
        info.pid = std::process::id();
        info.start_time = own_start_time();
        info.updated_ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let Some(dir) = path.parent() else { return };
        let tmp = dir.join(format!(".{}", info.id));
        if std::fs::write(&tmp, info.to_text()).is_ok() && std::fs::rename(&tmp, path).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

fn own_start_time() -> u64 {
    static T: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *T.get_or_init(|| process_start_time(std::process::id()).unwrap_or(0))
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Some(p) = &self.path {
            let _ = std::fs::remove_file(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trip() {
        let r = RingInfo {
            id: "12-eth0.3".into(),
            pid: 12,
            start_time: 99,
            app_name: "pfcount".into(),
            device: "eth0@1".into(),
            module: "packet".into(),
            active: true,
            direction: "RX+TX".into(),
            socket_mode: "recv_only".into(),
            cluster_id: Some(7),
            cluster_type: "RoundRobin".into(),
            bpf_filter: Some("udp and\nport 53".into()),
            sampling_rate: 1,
            slots: 4096,
            caplen: 1536,
            poll_watermark: 8,
            quick_mode: false,
            ip_defrag: true,
            ring_memory: 1 << 20,
            recv: 100,
            drop: 3,
            filtered: Some(9),
            sent: 0,
            updated_ms: 5,
        };
        let back = RingInfo::parse("12-eth0.3", &r.to_text()).unwrap();
        assert_eq!(back.bpf_filter.as_deref(), Some("udp and port 53"));
        assert_eq!(
            back,
            RingInfo {
                bpf_filter: Some("udp and port 53".into()),
                ..r
            }
        );
    }

    #[test]
    fn garbage_entries_do_not_parse() {
        assert!(RingInfo::parse("x", "").is_none());
        assert!(RingInfo::parse("x", "pid: abc\n").is_none());
        assert!(RingInfo::parse("x", "pid: 1\nrecv: -4\n").is_none());
        assert!(RingInfo::parse("x", "pid: 1\ncluster_id: 70000\n").is_none());
        let r = RingInfo::parse("x", "pid: 1\nwhatever\nfuture_key: 3\ncluster_id:\n").unwrap();
        assert_eq!((r.pid, r.cluster_id), (1, None));
    }

    #[test]
    fn own_process_is_live_and_a_wrong_start_time_is_not() {
        let pid = std::process::id();
        let t = process_start_time(pid).unwrap();
        let mut r = RingInfo {
            pid,
            start_time: t,
            ..RingInfo::default()
        };
        assert!(is_live(&r));
        r.start_time = t + 1;
        assert!(!is_live(&r));
        r.pid = u32::MAX;
        assert!(!is_live(&r));
    }
}

/// One network interface as `pfinfo dev` shows it (PF_RING's `/proc/net/pf_ring/dev/<name>`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Interface name.
    pub name: String,
    /// Interface index.
    pub index: u32,
    /// Hardware address (all zero when it has none).
    pub mac: [u8; 6],
    /// MTU.
    pub mtu: u32,
    /// Link type (`Ethernet`, `Loopback`, or `ARPHRD <n>`), from `/sys/class/net/<name>/type`;
    /// `None` when unreadable (an interface of another namespace than `/sys` shows).
    pub kind: Option<String>,
    /// RX channels (ethtool; 1 when the driver reports none).
    pub rx_queues: u32,
    /// TX queues, counted in `/sys/class/net/<name>/queues` (`None` when unreadable).
    pub tx_queues: Option<u32>,
}

/// The interfaces of the calling thread's network namespace, by index.
///
/// # Errors
/// Listing the interfaces failed.
pub fn devices() -> Result<Vec<DeviceInfo>> {
    let list = crate::sys::iface::list().map_err(|source| {
        Error::Syscall(crate::error::SyscallError {
            call: "if_nameindex",
            source,
        })
    })?;
    Ok(list
        .into_iter()
        .map(|(index, name)| {
            let sys = PathBuf::from("/sys/class/net").join(&name);
            let kind = std::fs::read_to_string(sys.join("type"))
                .ok()
                .and_then(|t| t.trim().parse::<u32>().ok())
                .map(|t| match t {
                    1 => "Ethernet".to_owned(),
                    772 => "Loopback".to_owned(),
                    n => format!("ARPHRD {n}"),
                });
            let tx_queues = std::fs::read_dir(sys.join("queues")).ok().map(|rd| {
                rd.flatten()
                    .filter(|e| e.file_name().to_string_lossy().starts_with("tx-"))
                    .count() as u32
            });
            DeviceInfo {
                mac: crate::sys::iface::mac_address(&name).unwrap_or([0; 6]),
                mtu: crate::sys::iface::mtu(&name).unwrap_or(0),
                rx_queues: crate::sys::iface::rx_channels(&name).unwrap_or(1),
                kind,
                tx_queues,
                index,
                name,
            }
        })
        .collect())
}
