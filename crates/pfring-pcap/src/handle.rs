//! The `pcap_t` behind the C ABI: a live capture on a pfring [`Ring`], a savefile read with
//! pfring's [`Reader`], or a "dead" handle (`pcap_open_dead`) that only compiles filters.
//!
//! Every field that a packet callback (or a signal handler) may reach while a loop runs sits
//! outside the `RefCell` that the loop borrows: the break flag (an atomic plus the ring's
//! eventfd-based break handle, both async-signal-safe), the error buffer, and the attributes
//! that `pcap_datalink`, `pcap_snapshot` and `pcap_dump_open` read. A callback that calls a
//! function needing the ring itself (e.g. `pcap_stats`) gets an error, never aliasing.

use std::cell::{Cell, RefCell, UnsafeCell};
use std::ffi::c_char;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pfring::filter::{CompileOptions, Insn, PacketMeta, Program, Target};
use pfring::pcap::Reader;
use pfring::{BreakHandle, ClusterType, Direction, Error, PacketHeader, Ring, RingBuilder};

use crate::cooked::{Cooker, DLT_LINUX_SLL, DLT_LINUX_SLL2};
use crate::dlt;

/// `PCAP_ERRBUF_SIZE`.
pub const ERRBUF_SIZE: usize = 256;
/// libpcap's largest (and default) snapshot length.
pub const MAX_SNAPLEN: i32 = 262_144;
/// libpcap's default kernel buffer (`pcap_set_buffer_size` not called): 2 MiB.
pub const DEFAULT_BUFFER: usize = 2 * 1024 * 1024;

/// `PCAP_ERROR`.
pub const PCAP_ERROR: i32 = -1;
/// `PCAP_ERROR_BREAK`.
pub const PCAP_ERROR_BREAK: i32 = -2;
/// `PCAP_ERROR_NOT_ACTIVATED`.
pub const PCAP_ERROR_NOT_ACTIVATED: i32 = -3;
/// `PCAP_ERROR_ACTIVATED`.
pub const PCAP_ERROR_ACTIVATED: i32 = -4;
/// `PCAP_ERROR_NO_SUCH_DEVICE`.
pub const PCAP_ERROR_NO_SUCH_DEVICE: i32 = -5;
/// `PCAP_ERROR_RFMON_NOTSUP`.
pub const PCAP_ERROR_RFMON_NOTSUP: i32 = -6;
/// `PCAP_ERROR_NOT_RFMON`.
pub const PCAP_ERROR_NOT_RFMON: i32 = -7;
/// `PCAP_ERROR_PERM_DENIED`.
pub const PCAP_ERROR_PERM_DENIED: i32 = -8;
/// `PCAP_ERROR_IFACE_NOT_UP`.
pub const PCAP_ERROR_IFACE_NOT_UP: i32 = -9;
/// `PCAP_ERROR_CANTSET_TSTAMP_TYPE`.
pub const PCAP_ERROR_CANTSET_TSTAMP_TYPE: i32 = -10;
/// `PCAP_ERROR_PROMISC_PERM_DENIED`.
pub const PCAP_ERROR_PROMISC_PERM_DENIED: i32 = -11;
/// `PCAP_ERROR_TSTAMP_PRECISION_NOTSUP`.
pub const PCAP_ERROR_TSTAMP_PRECISION_NOTSUP: i32 = -12;
/// `PCAP_WARNING`.
pub const PCAP_WARNING: i32 = 1;
/// `PCAP_WARNING_PROMISC_NOTSUP`.
pub const PCAP_WARNING_PROMISC_NOTSUP: i32 = 2;
/// `PCAP_WARNING_TSTAMP_TYPE_NOTSUP`.
pub const PCAP_WARNING_TSTAMP_TYPE_NOTSUP: i32 = 3;

/// How long after `pcap_setfilter` on a running capture packets are re-checked in user
/// space (they may have passed the previous filter before the new one was attached).
const REFILTER_WINDOW: Duration = Duration::from_secs(1);

/// libpcap's `struct pcap_pkthdr`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PktHdr {
    /// Capture time; `tv_usec` holds ns on nanosecond-precision handles.
    pub ts: libc::timeval,
    /// Bytes present.
    pub caplen: u32,
    /// Bytes on the wire.
    pub len: u32,
}

impl PktHdr {
    fn new(sec: u64, nsec: u32, nano: bool, caplen: u32, len: u32) -> PktHdr {
        PktHdr {
            ts: libc::timeval {
                tv_sec: sec as libc::time_t,
                tv_usec: if nano { nsec } else { nsec / 1000 } as libc::suseconds_t,
            },
            caplen,
            len,
        }
    }
}

/// The `pcap_set_*` options, applied by `pcap_activate`.
#[derive(Clone, Debug)]
pub struct Opts {
    /// `pcap_set_snaplen`.
    pub snaplen: i32,
    /// `pcap_set_promisc`.
    pub promisc: bool,
    /// `pcap_set_timeout` (ms; 0 or less: wait forever).
    pub timeout_ms: i32,
    /// `pcap_set_buffer_size`.
    pub buffer_size: Option<usize>,
    /// `pcap_set_immediate_mode`.
    pub immediate: bool,
    /// `pcap_set_tstamp_precision` (nanoseconds).
    pub nano: bool,
    /// `pcap_set_tstamp_type` asked for adapter (hardware) stamps.
    pub hw_tstamp: bool,
    /// `pcap_set_rfmon`.
    pub rfmon: bool,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            snaplen: MAX_SNAPLEN,
            promisc: false,
            timeout_ms: 0,
            buffer_size: None,
            immediate: false,
            nano: false,
            hw_tstamp: false,
            rfmon: false,
        }
    }
}

/// What the handle reads from.
#[derive(Debug)]
enum Src {
    /// `pcap_create` called, not activated yet.
    Created(String),
    /// A live capture.
    Live(Box<Live>),
    /// A savefile.
    Offline(Box<Offline>),
    /// `pcap_open_dead`.
    Dead,
}

#[derive(Debug)]
struct Live {
    ring: Ring,
    /// Captures on `any`: cooked headers (`DLT_LINUX_SLL` / `SLL2`) are on offer.
    any: bool,
    cooker: Cooker,
    /// After `pcap_setfilter` on an enabled ring: packets stamped before this time (ns) are
    /// checked in user space too.
    refilter: Option<(u64, Program)>,
    scratch: Vec<u8>,
}

struct Offline {
    reader: Reader<Box<dyn Read>>,
    fd: RawFd,
    filter: Option<Program>,
}

impl std::fmt::Debug for Offline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Offline")
            .field("fd", &self.fd)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct State {
    opts: Opts,
    src: Src,
    nonblock: bool,
}

/// How a read call ends (libpcap's loop, dispatch and next_ex semantics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `pcap_loop`: until `cnt` packets, a break or an error (timeouts do not end it).
    Loop,
    /// `pcap_dispatch`: what is queued (up to `cnt`), waiting at most one timeout for it.
    Dispatch,
    /// `pcap_next_ex`: one packet, or 0 after a timeout.
    One,
}

/// A `pcap_t`.
#[derive(Debug)]
pub struct Pcap {
    brk: AtomicBool,
    wake: OnceLock<BreakHandle>,
    err: UnsafeCell<[c_char; ERRBUF_SIZE]>,
    /// `pcap_datalink` (a `DLT_*` value).
    pub linktype: Cell<i32>,
    /// `pcap_snapshot`.
    pub snapshot: Cell<i32>,
    /// Timestamps in ns (`PCAP_TSTAMP_PRECISION_NANO`).
    pub nano: Cell<bool>,
    /// Activated (or offline / dead).
    pub activated: Cell<bool>,
    /// A savefile in the other byte order.
    pub swapped: Cell<bool>,
    /// The last packet of `pcap_next` / `pcap_next_ex` (valid until the next call).
    pub next: RefCell<(PktHdr, Vec<u8>)>,
    state: RefCell<State>,
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// The `PCAP_ERROR_*` status for a pfring error.
fn status_of(e: &Error) -> i32 {
    match e {
        Error::NoSuchDevice { .. } | Error::InvalidDevice { .. } => PCAP_ERROR_NO_SUCH_DEVICE,
        Error::PermissionDenied { .. } => PCAP_ERROR_PERM_DENIED,
        Error::HardwareNotSupported { .. } => PCAP_ERROR_CANTSET_TSTAMP_TYPE,
        _ => PCAP_ERROR,
    }
}

/// The cluster type that the PF_RING libpcap environment variables select (reference
/// §5.3): the first `PCAP_PF_RING_USE_CLUSTER_*` variable set, else 5-tuple per flow.
pub fn cluster_type_from_env(get: impl Fn(&str) -> bool) -> ClusterType {
    const VARS: &[(&str, ClusterType)] = &[
        ("PCAP_PF_RING_USE_CLUSTER_PER_FLOW", ClusterType::PerFlow),
        (
            "PCAP_PF_RING_USE_CLUSTER_PER_FLOW_2_TUPLE",
            ClusterType::PerFlow2Tuple,
        ),
        (
            "PCAP_PF_RING_USE_CLUSTER_PER_FLOW_4_TUPLE",
            ClusterType::PerFlow4Tuple,
        ),
        (
            "PCAP_PF_RING_USE_CLUSTER_PER_FLOW_TCP_5_TUPLE",
            ClusterType::PerFlowTcp5Tuple,
        ),
        (
            "PCAP_PF_RING_USE_CLUSTER_PER_FLOW_5_TUPLE",
            ClusterType::PerFlow5Tuple,
        ),
        (
            "PCAP_PF_RING_USE_CLUSTER_ROUNDROBIN",
            ClusterType::RoundRobin,
        ),
        (
            "PCAP_PF_RING_USE_CLUSTER_PER_INNER_FLOW",
            ClusterType::PerInnerFlow,
        ),
        (
            "PCAP_PF_RING_USE_CLUSTER_PER_INNER_FLOW_2_TUPLE",
            ClusterType::PerInnerFlow2Tuple,
        ),
        (
            "PCAP_PF_RING_USE_CLUSTER_PER_INNER_FLOW_4_TUPLE",
            ClusterType::PerInnerFlow4Tuple,
        ),
        (
            "PCAP_PF_RING_USE_CLUSTER_PER_INNER_FLOW_5_TUPLE",
            ClusterType::PerInnerFlow5Tuple,
        ),
        (
            "PCAP_PF_RING_USE_CLUSTER_PER_INNER_FLOW_TCP_5_TUPLE",
            ClusterType::PerInnerFlowTcp5Tuple,
        ),
        (
            "PCAP_PF_RING_USE_CLUSTER_PER_FLOW_IP_5_TUPLE",
            ClusterType::PerFlowIp5Tuple,
        ),
        (
            "PCAP_PF_RING_USE_CLUSTER_PER_INNER_FLOW_IP_5_TUPLE",
            ClusterType::PerInnerFlowIp5Tuple,
        ),
        (
            "PCAP_PF_RING_USE_CLUSTER_PER_FLOW_IP_WITH_DUP_TUPLE",
            ClusterType::PerFlowIpWithDupTuple,
        ),
    ];
    VARS.iter()
        .find(|(v, _)| get(v))
        .map_or(ClusterType::PerFlow5Tuple, |(_, t)| *t)
}

/// `PCAP_PF_RING_CLUSTER_ID`: `None` when unset or empty.
///
/// # Errors
/// A value that is not a cluster id (1..=65535).
pub fn cluster_id_from_env(v: Option<&str>) -> Result<Option<u16>, String> {
    match v.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => match s.parse::<u16>() {
            Ok(id) if id > 0 => Ok(Some(id)),
            _ => Err(format!(
                "PCAP_PF_RING_CLUSTER_ID={s:?} is not a cluster id (1..65535)"
            )),
        },
    }
}

/// Whether a packet of a running capture passes `prog` (compiled for the kernel): the
/// outer VLAN tag, which the ring reinserted into the bytes, goes back into the metadata.
fn passes(prog: &Program, h: &PacketHeader, data: &[u8], scratch: &mut Vec<u8>) -> bool {
    let mut meta = PacketMeta {
        pkt_type: if h.extended_hdr.rx_direction { 0 } else { 4 },
        ifindex: h.extended_hdr.if_index as u32,
        ..PacketMeta::default()
    };
    let (bytes, len) = match h.extended_hdr.vlan_tci {
        Some(tci) if data.len() >= 16 => {
            scratch.clear();
            scratch.extend_from_slice(&data[..12]);
            scratch.extend_from_slice(&data[16..]);
            meta.vlan_tci = Some(tci);
            meta.vlan_tpid = u16::from_be_bytes([data[12], data[13]]);
            (&scratch[..], h.len.saturating_sub(4))
        }
        _ => (data, h.len),
    };
    if bytes.len() >= 14 {
        meta.protocol = u16::from_be_bytes([bytes[12], bytes[13]]);
    }
    prog.matches_with_meta(bytes, len, &meta)
}

impl Pcap {
    fn with_src(src: Src, opts: Opts) -> Pcap {
        Pcap {
            brk: AtomicBool::new(false),
            wake: OnceLock::new(),
            err: UnsafeCell::new([0; ERRBUF_SIZE]),
            linktype: Cell::new(dlt::DLT_EN10MB),
            snapshot: Cell::new(MAX_SNAPLEN),
            nano: Cell::new(false),
            activated: Cell::new(false),
            swapped: Cell::new(false),
            next: RefCell::new((PktHdr::new(0, 0, false, 0, 0), Vec::new())),
            state: RefCell::new(State {
                opts,
                src,
                nonblock: false,
            }),
        }
    }

    /// `pcap_create`: a handle for `device`, to configure and activate.
    pub fn create(device: &str) -> Pcap {
        Pcap::with_src(Src::Created(device.to_owned()), Opts::default())
    }

    /// `pcap_open_dead`.
    pub fn dead(linktype: i32, snaplen: i32, nano: bool) -> Pcap {
        let p = Pcap::with_src(Src::Dead, Opts::default());
        p.linktype.set(linktype);
        p.snapshot.set(snaplen);
        p.nano.set(nano);
        p.activated.set(true);
        p
    }

    /// `pcap_open_offline`: `path` or `-` for standard input.
    ///
    /// # Errors
    /// The message for `errbuf`.
    pub fn offline(path: &str, nano: bool) -> Result<Pcap, String> {
        let (inner, fd): (Box<dyn Read>, RawFd) = if path == "-" {
            (Box::new(std::io::stdin()), 0)
        } else {
            let f = File::open(path).map_err(|e| format!("{path}: {e}"))?;
            let fd = f.as_raw_fd();
            (Box::new(f), fd)
        };
        let reader = Reader::new(inner).map_err(|e| format!("{path}: {e}"))?;
        let linktype = dlt::from_linktype(reader.linktype().unwrap_or(1));
        let snap = reader
            .snaplen()
            .filter(|&s| s > 0)
            .map_or(MAX_SNAPLEN, |s| s.min(i32::MAX as u32) as i32);
        let swapped = reader.big_endian() != cfg!(target_endian = "big");
        let p = Pcap::with_src(
            Src::Offline(Box::new(Offline {
                reader,
                fd,
                filter: None,
            })),
            Opts::default(),
        );
        p.linktype.set(linktype);
        p.snapshot.set(snap);
        p.nano.set(nano);
        p.swapped.set(swapped);
        p.activated.set(true);
        Ok(p)
    }

    /// Writes `msg` into the error buffer (`pcap_geterr`), cut to fit.
    pub fn set_err(&self, msg: &str) {
        let bytes = msg.as_bytes();
        let n = bytes.len().min(ERRBUF_SIZE - 1);
        let buf = self.err.get().cast::<u8>();
        // SAFETY: `buf` points at ERRBUF_SIZE bytes owned by this handle; n + 1 <= that.
        // pcap_t is single-threaded (as in libpcap): nothing else writes it meanwhile.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf, n);
            *buf.add(n) = 0;
        }
    }

    /// The error buffer (`pcap_geterr`), NUL-terminated.
    pub fn err_ptr(&self) -> *mut c_char {
        self.err.get().cast()
    }

    /// The error text, for `pcap_perror`.
    pub fn err_string(&self) -> String {
        // SAFETY: the buffer is always NUL-terminated (zeroed at creation, set_err ends
        // every message with a NUL).
        unsafe { std::ffi::CStr::from_ptr(self.err_ptr()) }
            .to_string_lossy()
            .into_owned()
    }

    /// `pcap_breakloop`: async-signal-safe (an atomic store and an eventfd write).
    pub fn breakloop(&self) {
        self.brk.store(true, Ordering::SeqCst);
        if let Some(w) = self.wake.get() {
            w.breakloop();
        }
    }

    /// `pcap_breakloop` through a raw pointer, from a signal handler or another thread
    /// while the owning thread runs a loop: only the thread-safe fields are reached, by field
    /// projection, without a reference to the whole (`!Sync`) handle.
    ///
    /// # Safety
    /// `p` points at a live `Pcap` (not closed).
    pub unsafe fn breakloop_raw(p: *const Pcap) {
        // SAFETY: `p` is live (caller's contract); `brk` (an atomic) and `wake` (a OnceLock
        // of a thread-safe handle) may be shared across threads and signal handlers.
        let (brk, wake) = unsafe { (&(*p).brk, &(*p).wake) };
        brk.store(true, Ordering::SeqCst);
        if let Some(w) = wake.get() {
            w.breakloop();
        }
    }

    fn state(&self) -> Result<std::cell::RefMut<'_, State>, i32> {
        self.state.try_borrow_mut().map_err(|_| {
            self.set_err("this pcap_t is in use by a packet callback (pcap_loop/dispatch)");
            PCAP_ERROR
        })
    }

    /// Changes an option before activation (`PCAP_ERROR_ACTIVATED` after).
    pub fn set_opt(&self, f: impl FnOnce(&mut Opts) -> i32) -> i32 {
        let mut st = match self.state() {
            Ok(s) => s,
            Err(c) => return c,
        };
        if !matches!(st.src, Src::Created(_)) {
            self.set_err("The setting can't be changed after the pcap_t is activated");
            return PCAP_ERROR_ACTIVATED;
        }
        f(&mut st.opts)
    }

    /// `pcap_activate`: opens the ring (joining the environment's cluster) and enables it.
    pub fn activate(&self) -> i32 {
        let mut st = match self.state() {
            Ok(s) => s,
            Err(c) => return c,
        };
        let Src::Created(device) = &st.src else {
            self.set_err("The pcap_t has already been activated");
            return PCAP_ERROR_ACTIVATED;
        };
        let device = device.clone();
        let o = st.opts.clone();
        if o.rfmon {
            self.set_err(&format!("{device}: monitor mode is not supported"));
            return PCAP_ERROR_RFMON_NOTSUP;
        }
        let snap = if o.snaplen <= 0 || o.snaplen > MAX_SNAPLEN {
            MAX_SNAPLEN
        } else {
            o.snaplen
        };
        let caplen = (snap as u32).min(pfring::ring::MAX_CAPLEN);
        let mut b = RingBuilder::new(&device)
            .caplen(caplen)
            .promisc(o.promisc)
            .hw_timestamp(o.hw_tstamp)
            .ring_bytes(o.buffer_size.unwrap_or(DEFAULT_BUFFER));
        if o.immediate {
            b = b.block_timeout(Duration::from_millis(1));
        } else if o.timeout_ms > 0 {
            b = b.block_timeout(Duration::from_millis(o.timeout_ms as u64));
        }
        let mut ring = match b.open() {
            Ok(r) => r,
            Err(e) => {
                self.set_err(&format!("{device}: {e}"));
                return status_of(&e);
            }
        };
        match cluster_id_from_env(std::env::var("PCAP_PF_RING_CLUSTER_ID").ok().as_deref()) {
            Ok(None) => {}
            Ok(Some(id)) => {
                let ty = cluster_type_from_env(|v| std::env::var_os(v).is_some());
                if let Err(e) = ring.set_cluster(id, ty) {
                    self.set_err(&format!("{device}: cluster {id}: {e}"));
                    return PCAP_ERROR;
                }
            }
            Err(msg) => {
                self.set_err(&msg);
                return PCAP_ERROR;
            }
        }
        if let Some(name) = std::env::var("PCAP_PF_RING_APPNAME")
            .ok()
            .filter(|s| !s.is_empty())
            && let Err(e) = ring.set_application_name(&name)
        {
            self.set_err(&format!("{device}: application name: {e}"));
            return PCAP_ERROR;
        }
        // Capture starts here, as with libpcap: frames that arrive before pcap_setfilter are
        // checked against the filter in user space (see `setfilter`).
        if let Err(e) = ring.enable() {
            self.set_err(&format!("{device}: {e}"));
            return status_of(&e);
        }
        let _ = self.wake.set(ring.break_handle());
        let any = device == "any";
        st.src = Src::Live(Box::new(Live {
            ring,
            any,
            cooker: Cooker::default(),
            refilter: None,
            scratch: Vec::new(),
        }));
        // As libpcap: `any` is cooked (Linux SLL) by default.
        self.linktype
            .set(if any { DLT_LINUX_SLL } else { dlt::DLT_EN10MB });
        self.snapshot.set(snap);
        self.nano.set(o.nano);
        self.activated.set(true);
        0
    }

    fn not_activated(&self) -> i32 {
        self.set_err("The pcap_t has not been activated");
        PCAP_ERROR_NOT_ACTIVATED
    }

    fn enable(&self, live: &mut Live) -> Result<(), i32> {
        if live.ring.is_enabled() {
            return Ok(());
        }
        live.ring.enable().map_err(|e| {
            self.set_err(&format!("{}: {e}", live.ring.device()));
            status_of(&e)
        })
    }

    /// The link types `pcap_set_datalink` accepts: the cooked pair on `any`, Ethernet on
    /// other devices, the file's (or `pcap_open_dead`'s) own otherwise.
    pub fn datalinks(&self) -> Vec<i32> {
        match self.state.try_borrow().as_deref().map(|s| &s.src) {
            Ok(Src::Live(l)) if l.any => vec![DLT_LINUX_SLL, DLT_LINUX_SLL2],
            Ok(Src::Live(_)) => vec![dlt::DLT_EN10MB],
            _ => vec![self.linktype.get()],
        }
    }

    /// `pcap_compile`: our compiler; for the kernel on live handles (which filters the raw
    /// frames, also on `any` whatever link type it delivers), for bytes otherwise. The
    /// compiler knows Ethernet only: other savefile link types are an error.
    pub fn compile(&self, expr: &str, optimize: bool, netmask: u32) -> Result<Program, i32> {
        let target = {
            let st = self.state.try_borrow();
            match st.as_deref().map(|s| &s.src) {
                Ok(Src::Offline(_) | Src::Dead) => Target::Bytes,
                _ => Target::Kernel,
            }
        };
        let lt = self.linktype.get();
        if target == Target::Bytes && lt != dlt::DLT_EN10MB && !expr.trim().is_empty() {
            self.set_err(&format!(
                "filters on link type {} are not supported (pfring's compiler knows Ethernet only)",
                dlt::name(lt).map_or_else(|| lt.to_string(), |n| format!("DLT_{n}"))
            ));
            return Err(PCAP_ERROR);
        }
        let opts = CompileOptions {
            target,
            netmask: if netmask == u32::MAX { 0 } else { netmask },
            resolve_hosts: true,
            optimize,
        };
        Program::compile_with(expr, &opts).map_err(|e| {
            self.set_err(&format!("can't compile filter expression {expr:?}: {e}"));
            PCAP_ERROR
        })
    }

    /// `pcap_setfilter`.
    pub fn setfilter(&self, insns: Vec<Insn>) -> i32 {
        let prog = match Program::from_instructions(insns) {
            Ok(p) => p,
            Err(e) => {
                self.set_err(&format!("invalid BPF program: {e}"));
                return PCAP_ERROR;
            }
        };
        let mut st = match self.state() {
            Ok(s) => s,
            Err(c) => return c,
        };
        match &mut st.src {
            Src::Created(_) => self.not_activated(),
            Src::Dead => {
                self.set_err("filters can't be set on a pcap_open_dead pcap_t");
                PCAP_ERROR
            }
            Src::Offline(o) => {
                o.filter = Some(prog);
                0
            }
            Src::Live(live) => {
                let running = live.ring.is_enabled();
                if let Err(e) = live.ring.set_bpf_program(prog.clone()) {
                    self.set_err(&format!("can't attach the filter: {e}"));
                    return PCAP_ERROR;
                }
                if running {
                    live.refilter = Some((now_ns() + REFILTER_WINDOW.as_nanos() as u64, prog));
                    0
                } else {
                    match self.enable(live) {
                        Ok(()) => 0,
                        Err(c) => c,
                    }
                }
            }
        }
    }

    /// Reads packets and hands each to `f`; returns what pcap_loop / pcap_dispatch /
    /// pcap_next_ex return.
    pub fn read(&self, cnt: i32, mode: Mode, f: &mut dyn FnMut(&PktHdr, &[u8])) -> i32 {
        let mut st = match self.state() {
            Ok(s) => s,
            Err(c) => return c,
        };
        let st = &mut *st;
        let nano = self.nano.get();
        let limit = if cnt > 0 { cnt as u64 } else { u64::MAX };
        let mut n: u64 = 0;
        let done = |n: u64| -> i32 {
            match mode {
                Mode::Loop => 0,
                Mode::Dispatch | Mode::One => n.min(i32::MAX as u64) as i32,
            }
        };
        match &mut st.src {
            Src::Created(_) => self.not_activated(),
            Src::Dead => {
                self.set_err("reading is not supported on a pcap_open_dead pcap_t");
                PCAP_ERROR
            }
            Src::Offline(o) => {
                let Offline { reader, filter, .. } = &mut **o;
                loop {
                    if self.brk.swap(false, Ordering::SeqCst) {
                        return PCAP_ERROR_BREAK;
                    }
                    match reader.next() {
                        Ok(Some(rec)) => {
                            if let Some(p) = filter
                                && !p.matches(rec.data, rec.len)
                            {
                                continue;
                            }
                            let h = PktHdr::new(
                                rec.ts_ns / 1_000_000_000,
                                (rec.ts_ns % 1_000_000_000) as u32,
                                nano,
                                rec.caplen,
                                rec.len,
                            );
                            f(&h, rec.data);
                            n += 1;
                            if n >= limit || mode == Mode::One {
                                return done(n);
                            }
                        }
                        Ok(None) => {
                            return if mode == Mode::One && n == 0 {
                                PCAP_ERROR_BREAK
                            } else {
                                done(n)
                            };
                        }
                        Err(e) => {
                            self.set_err(&format!("bad savefile: {e}"));
                            return PCAP_ERROR;
                        }
                    }
                }
            }
            Src::Live(live) => {
                if let Err(c) = self.enable(live) {
                    return c;
                }
                let timeout = st.opts.timeout_ms;
                let nonblock = st.nonblock;
                let dlt = self.linktype.get();
                let cook = dlt == DLT_LINUX_SLL || dlt == DLT_LINUX_SLL2;
                let Live {
                    ring,
                    refilter,
                    scratch,
                    cooker,
                    ..
                } = &mut **live;
                loop {
                    if self.brk.load(Ordering::Relaxed) {
                        self.brk.store(false, Ordering::SeqCst);
                        return PCAP_ERROR_BREAK;
                    }
                    let failed = match ring.recv(false) {
                        Ok(Some(pkt)) => {
                            let h = pkt.header();
                            if let Some((until, prog)) = refilter {
                                if h.ts.as_nanos() >= *until {
                                    *refilter = None;
                                } else if !passes(prog, h, pkt.data(), scratch) {
                                    continue;
                                }
                            }
                            if cook {
                                let (bytes, len) = cooker.cook(dlt, h, pkt.data());
                                let hdr =
                                    PktHdr::new(h.ts.sec, h.ts.nsec, nano, bytes.len() as u32, len);
                                f(&hdr, bytes);
                            } else {
                                let hdr = PktHdr::new(h.ts.sec, h.ts.nsec, nano, h.caplen, h.len);
                                f(&hdr, pkt.data());
                            }
                            n += 1;
                            if n >= limit || mode == Mode::One {
                                return done(n);
                            }
                            continue;
                        }
                        Ok(None) => None,
                        Err(e) => Some(e),
                    };
                    if let Some(e) = failed {
                        self.set_err(&format!("{}: {e}", ring.device()));
                        return PCAP_ERROR;
                    }
                    if ring.end_of_file() {
                        // A `pcap:` device: its file is done, as a savefile's would be.
                        return if mode == Mode::One && n == 0 {
                            PCAP_ERROR_BREAK
                        } else {
                            done(n)
                        };
                    }
                    if (mode == Mode::Dispatch && n > 0) || nonblock {
                        return done(n);
                    }
                    // Without a timeout, wake up every second anyway (the break flag is also
                    // signalled through the ring's eventfd, so this is only a safety net).
                    let wait = if timeout > 0 {
                        Duration::from_millis(timeout as u64)
                    } else {
                        Duration::from_secs(1)
                    };
                    match ring.poll(wait) {
                        Ok(ready) => {
                            if !ready
                                && timeout > 0
                                && mode != Mode::Loop
                                && !self.brk.load(Ordering::Relaxed)
                            {
                                return done(n);
                            }
                        }
                        Err(e) => {
                            self.set_err(&format!("poll: {e}"));
                            return PCAP_ERROR;
                        }
                    }
                }
            }
        }
    }

    /// `pcap_stats`: `(ps_recv, ps_drop, ps_ifdrop)`; `ps_recv` counts what the filter
    /// accepted, including what the kernel then dropped, as on libpcap's Linux backend.
    pub fn stats(&self) -> Result<(u32, u32, u32), i32> {
        let mut st = self.state()?;
        match &mut st.src {
            Src::Created(_) => Err(self.not_activated()),
            Src::Live(l) => match l.ring.stats() {
                Ok(s) => Ok(((s.recv + s.drop) as u32, s.drop as u32, 0)),
                Err(e) => {
                    self.set_err(&format!("pcap_stats: {e}"));
                    Err(PCAP_ERROR)
                }
            },
            Src::Offline(_) | Src::Dead => {
                self.set_err("Statistics aren't available from savefiles");
                Err(PCAP_ERROR)
            }
        }
    }

    /// `pcap_setnonblock`.
    pub fn set_nonblock(&self, on: bool) -> i32 {
        match self.state() {
            Ok(mut st) => {
                st.nonblock = on;
                0
            }
            Err(c) => c,
        }
    }

    /// `pcap_getnonblock`.
    pub fn nonblock(&self) -> i32 {
        match self.state.try_borrow() {
            Ok(st) => i32::from(st.nonblock),
            Err(_) => {
                self.set_err("this pcap_t is in use by a packet callback");
                PCAP_ERROR
            }
        }
    }

    /// `pcap_get_selectable_fd` / `pcap_fileno`: the ring's socket (enabled first, so it
    /// becomes readable) or the savefile's descriptor.
    pub fn fd(&self) -> i32 {
        let mut st = match self.state() {
            Ok(s) => s,
            Err(c) => return c,
        };
        match &mut st.src {
            Src::Created(_) => self.not_activated(),
            Src::Dead => -1,
            Src::Offline(o) => o.fd,
            Src::Live(l) => {
                if let Err(c) = self.enable(l) {
                    return c;
                }
                use std::os::fd::AsFd;
                l.ring.as_fd().as_raw_fd()
            }
        }
    }

    /// `pcap_inject`: sends one frame, returns the bytes sent.
    pub fn inject(&self, frame: &[u8]) -> i32 {
        let mut st = match self.state() {
            Ok(s) => s,
            Err(c) => return c,
        };
        match &mut st.src {
            Src::Created(_) => self.not_activated(),
            Src::Dead | Src::Offline(_) => {
                self.set_err("Packets can't be sent on a savefile or a pcap_open_dead pcap_t");
                PCAP_ERROR
            }
            Src::Live(l) => {
                if let Err(c) = self.enable(l) {
                    return c;
                }
                match l.ring.send(frame, true) {
                    Ok(()) => frame.len().min(i32::MAX as usize) as i32,
                    Err(e) => {
                        self.set_err(&format!("send: {e}"));
                        PCAP_ERROR
                    }
                }
            }
        }
    }

    /// `pcap_setdirection`: 0 in and out, 1 in, 2 out.
    pub fn setdirection(&self, d: i32) -> i32 {
        let dir = match d {
            0 => Direction::RxAndTx,
            1 => Direction::RxOnly,
            2 => Direction::TxOnly,
            _ => {
                self.set_err(&format!("Invalid direction {d}"));
                return PCAP_ERROR;
            }
        };
        let mut st = match self.state() {
            Ok(s) => s,
            Err(c) => return c,
        };
        match &mut st.src {
            Src::Created(_) => self.not_activated(),
            Src::Dead | Src::Offline(_) => {
                self.set_err("Setting direction is not supported on savefiles");
                PCAP_ERROR
            }
            Src::Live(l) => match l.ring.set_direction(dir) {
                Ok(()) => 0,
                Err(e) => {
                    self.set_err(&format!("setdirection: {e}"));
                    PCAP_ERROR
                }
            },
        }
    }

    /// Whether the handle is a savefile.
    pub fn is_offline(&self) -> bool {
        matches!(
            self.state.try_borrow().as_deref().map(|s| &s.src),
            Ok(Src::Offline(_))
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_env_defaults_to_5_tuple_and_honours_the_first_variable_set() {
        assert_eq!(cluster_type_from_env(|_| false), ClusterType::PerFlow5Tuple);
        assert_eq!(
            cluster_type_from_env(|v| v == "PCAP_PF_RING_USE_CLUSTER_ROUNDROBIN"),
            ClusterType::RoundRobin
        );
        assert_eq!(
            cluster_type_from_env(|v| v == "PCAP_PF_RING_USE_CLUSTER_PER_FLOW_2_TUPLE"),
            ClusterType::PerFlow2Tuple
        );
        assert_eq!(
            cluster_type_from_env(|v| v.starts_with("PCAP_PF_RING_USE_CLUSTER_PER_FLOW")),
            ClusterType::PerFlow
        );
        assert_eq!(cluster_id_from_env(None), Ok(None));
        assert_eq!(cluster_id_from_env(Some(" 7 ")), Ok(Some(7)));
        assert!(cluster_id_from_env(Some("0")).is_err());
        assert!(cluster_id_from_env(Some("x")).is_err());
        assert!(cluster_id_from_env(Some("70000")).is_err());
    }

    #[test]
    fn options_are_refused_after_activation_and_reads_before_it() {
        let p = Pcap::dead(1, 100, false);
        assert_eq!(p.set_opt(|_| 0), PCAP_ERROR_ACTIVATED);
        let c = Pcap::create("lo");
        assert_eq!(
            c.set_opt(|o| {
                o.snaplen = 96;
                0
            }),
            0
        );
        assert_eq!(
            c.read(1, Mode::One, &mut |_, _| {}),
            PCAP_ERROR_NOT_ACTIVATED
        );
        assert!(c.err_string().contains("not been activated"));
        assert_eq!(p.read(1, Mode::One, &mut |_, _| {}), PCAP_ERROR);
    }

    #[test]
    fn refilter_strips_the_reinserted_vlan_tag() {
        let prog = Program::compile_for("vlan 5 and udp", Target::Kernel).unwrap();
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x81, 0x00, 0x00, 0x05, 0x08, 0x00]);
        let mut ip = [0u8; 28];
        ip[0] = 0x45;
        ip[9] = 17;
        f.extend_from_slice(&ip);
        let mut h = PacketHeader {
            caplen: f.len() as u32,
            len: f.len() as u32,
            ..PacketHeader::default()
        };
        h.extended_hdr.rx_direction = true;
        h.extended_hdr.vlan_tci = Some(5);
        let mut s = Vec::new();
        assert!(passes(&prog, &h, &f, &mut s));
        h.extended_hdr.vlan_tci = Some(6);
        f[15] = 6;
        assert!(!passes(&prog, &h, &f, &mut s));
    }
}
