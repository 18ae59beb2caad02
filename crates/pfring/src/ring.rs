//! The public handle: [`RingBuilder`] → [`Ring`].
//!
//! A ring is opened on a device ([`crate::device`]), configured, then enabled; it delivers
//! nothing until [`Ring::enable`] (as in PF_RING, where `pfring_recv` on a disabled ring
//! returns `PF_RING_ERROR_RING_NOT_ENABLED`).
//!
//! ```no_run
//! use pfring::{Ring, RingBuilder};
//!
//! let mut ring = RingBuilder::new("eth0").caplen(128).promisc(true).open()?;
//! ring.enable()?;
//! while let Some(pkt) = ring.recv(true)? {
//!     println!("{} bytes at {}", pkt.header().len, pkt.header().ts);
//! }
//! # Ok::<(), pfring::Error>(())
//! ```

use std::os::fd::{AsFd, BorrowedFd};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod clock;

use crate::backend::multi::{self, MultiBackend};
use crate::backend::packet::{PACKET_OUTGOING, PacketBackend};
use crate::backend::pcap_file::PcapBackend;
use crate::backend::shm::{self, ShmBackend};
use crate::backend::xdp::{XdpBackend, XdpInfo, XdpMode};
use crate::backend::zc::ZcBackend;
use crate::device::DeviceSpec;
use crate::error::{Error, Result, SyscallError};
use crate::packet::{
    ExtendedHeader, PKT_FLAGS_VLAN_HWACCEL, Packet, PacketHeader, Source, Timestamp,
    TimestampSource,
};
use crate::parse::ParsedPacket;
use crate::sys::iface;
use crate::sys::signal::{self, Breaker};
use crate::sys::socket::poll_in;
use crate::sys::tpacket::RawFrame;

mod hw_rules;
mod rules_api;

pub use hw_rules::{FilteringMode, HwFilteringRule, HwRuleAction, HwRulePlacement};
/// Ring registry hooks (`crate::registry`): child module, so it reads the ring's fields.
mod hooks;
/// Receive paths of userspace rings (`userspace:` / `usrN`).
mod userspace;

/// PF_RING API level this library implements (`RING_VERSION_NUM` of 5.4.0, `0x00MMmmpp`).
#[doc(alias = "RING_VERSION_NUM")]
pub const VERSION_NUM: u32 = 0x050400;

/// Largest caplen accepted (`MAX_CAPLEN`).
pub const MAX_CAPLEN: u32 = 65535;

/// Default number of slots (`min_num_slots` module parameter).
pub const DEFAULT_SLOTS: u32 = 4096;

/// Default poll duration for blocking receives (`DEFAULT_POLL_DURATION`).
pub const DEFAULT_POLL_DURATION: Duration = Duration::from_millis(500);

/// Default for [`RingBuilder::block_timeout`].
pub const DEFAULT_BLOCK_TIMEOUT: Duration = Duration::from_millis(16);

/// Frames queued by [`Ring::send`] without `flush` before they are sent anyway.
pub const DEFAULT_TX_WATERMARK: u16 = 64;

/// The library version: PF_RING API level and this crate's version.
#[doc(alias = "pfring_version_noring")]
pub fn version() -> (u32, &'static str) {
    (VERSION_NUM, env!("CARGO_PKG_VERSION"))
}

/// `v.M.m.p` as PF_RING's tools print a version number.
pub fn format_version(v: u32) -> String {
    format!("{}.{}.{}", v >> 16, (v >> 8) & 0xff, v & 0xff)
}

/// `pfring_open` flags (`PF_RING_*`), with PF_RING's bit values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Flags(pub u32);

impl Flags {
    /// `PF_RING_REENTRANT`: the handle is used from several threads (see [`SharedRing`]).
    pub const REENTRANT: Flags = Flags(1 << 1);
    /// `PF_RING_LONG_HEADER`: fill the long header (parsed fields) for each packet.
    pub const LONG_HEADER: Flags = Flags(1 << 2);
    /// `PF_RING_PROMISC`: put the device in promiscuous mode.
    pub const PROMISC: Flags = Flags(1 << 3);
    /// `PF_RING_TIMESTAMP`: timestamps are always taken here; accepted for compatibility.
    pub const TIMESTAMP: Flags = Flags(1 << 4);
    /// `PF_RING_HW_TIMESTAMP`: stamp received frames in the device (see
    /// [`RingBuilder::hw_timestamp`]).
    pub const HW_TIMESTAMP: Flags = Flags(1 << 5);

    /// Whether every bit of `other` is set.
    pub fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        Flags(self.0 | rhs.0)
    }
}

/// Which frames a ring captures (`packet_direction`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[doc(alias = "packet_direction")]
pub enum Direction {
    /// Received and transmitted frames (`rx_and_tx_direction` = 0), the default.
    #[default]
    RxAndTx,
    /// Received frames only (`rx_only_direction` = 1).
    RxOnly,
    /// Transmitted frames only (`tx_only_direction` = 2).
    TxOnly,
}

impl TryFrom<u32> for Direction {
    type Error = Error;
    fn try_from(v: u32) -> Result<Self> {
        match v {
            0 => Ok(Direction::RxAndTx),
            1 => Ok(Direction::RxOnly),
            2 => Ok(Direction::TxOnly),
            _ => Err(Error::InvalidArgument(format!(
                "direction {v} (0 = rx+tx, 1 = rx, 2 = tx)"
            ))),
        }
    }
}

/// What a ring is used for (`socket_mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[doc(alias = "socket_mode")]
pub enum SocketMode {
    /// Send and receive (`send_and_recv_mode` = 0), the default.
    #[default]
    SendAndRecv,
    /// Send only (`send_only_mode` = 1): receiving is refused.
    SendOnly,
    /// Receive only (`recv_only_mode` = 2).
    RecvOnly,
}

/// How a ring of the default module (AF_PACKET) hands frames to the kernel
/// ([`RingBuilder::tx_mode`]). Both batch frames up to the TX watermark, never lose a queued
/// frame, and report a full queue as [`Error::NoTxSlotAvailable`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TxMode {
    /// [`TxMode::Ring`] on devices with a transmit descriptor ring of their own (NICs, as
    /// `ethtool -g` reports), [`TxMode::Batch`] on the others (veth, loopback, most virtual
    /// devices). The default.
    #[default]
    Auto,
    /// A `PACKET_TX_RING` (TPACKET_V2): frames are written into slots shared with the kernel,
    /// which hands the driver the slot's pages without copying them.
    Ring,
    /// Frames are queued in user memory and handed over with `sendmmsg(2)`, the kernel copying
    /// each once. On a device that delivers into this host's receive path (veth, loopback) the
    /// kernel copies a TX ring's frames anyway (`skb_copy_ubufs`, as they are marked zero
    /// copy), so this skips the slot bookkeeping: measured on veth, pfsend sent 9-12 % more
    /// frames per second than trafgen's TX ring at 64 and 1514 B, with 6-9 % less CPU each.
    Batch,
}

impl SocketMode {
    fn name(self) -> &'static str {
        match self {
            SocketMode::SendAndRecv => "send_and_recv",
            SocketMode::SendOnly => "send_only",
            SocketMode::RecvOnly => "recv_only",
        }
    }
}

/// Ring statistics (`pfring_stat`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[doc(alias = "pfring_stat")]
pub struct Stats {
    /// Packets handed to the application.
    pub recv: u64,
    /// Packets the kernel dropped because the ring was full.
    pub drop: u64,
}

/// Settings fixed at open time (PF_RING's module parameters and `pfring_open` arguments).
#[derive(Clone, Debug)]
pub(crate) struct RingConfig {
    pub(crate) caplen: u32,
    pub(crate) promisc: bool,
    pub(crate) long_header: bool,
    pub(crate) reentrant: bool,
    pub(crate) slots: u32,
    pub(crate) ring_bytes: Option<usize>,
    pub(crate) quick_mode: bool,
    pub(crate) direction: Direction,
    pub(crate) mode: SocketMode,
    pub(crate) watermark: u16,
    pub(crate) poll_duration: Duration,
    pub(crate) tx_watermark: u16,
    pub(crate) qdisc_bypass: bool,
    pub(crate) tx_mode: TxMode,
    pub(crate) block_timeout_ms: u32,
    pub(crate) replay: bool,
    pub(crate) ip_defrag: bool,
    pub(crate) hw_timestamp: bool,
    /// `xdp:` rings: how the XDP program is attached (`None`: `PFRING_XDP_MODE`, else auto).
    pub(crate) xdp_mode: Option<XdpMode>,
}

impl Default for RingConfig {
    fn default() -> Self {
        RingConfig {
            caplen: 1536,
            promisc: false,
            long_header: false,
            reentrant: false,
            slots: DEFAULT_SLOTS,
            ring_bytes: None,
            quick_mode: false,
            direction: Direction::RxAndTx,
            mode: SocketMode::SendAndRecv,
            watermark: 1,
            poll_duration: DEFAULT_POLL_DURATION,
            tx_watermark: DEFAULT_TX_WATERMARK,
            qdisc_bypass: false,
            tx_mode: TxMode::Auto,
            block_timeout_ms: DEFAULT_BLOCK_TIMEOUT.as_millis() as u32,
            replay: false,
            ip_defrag: false,
            hw_timestamp: false,
            xdp_mode: None,
        }
    }
}

/// Configures and opens a [`Ring`].
#[derive(Clone, Debug)]
pub struct RingBuilder {
    device: String,
    cfg: RingConfig,
}

impl RingBuilder {
    /// A builder for `device` (any name of the [`crate::device`] grammar).
    pub fn new(device: &str) -> Self {
        RingBuilder {
            device: device.to_owned(),
            cfg: RingConfig::default(),
        }
    }

    /// Bytes captured per packet (default 1536, at most [`MAX_CAPLEN`]); the wire length is
    /// kept in the header.
    pub fn caplen(mut self, caplen: u32) -> Self {
        self.cfg.caplen = caplen;
        self
    }

    /// Promiscuous mode (`PF_RING_PROMISC`).
    pub fn promisc(mut self, on: bool) -> Self {
        self.cfg.promisc = on;
        self
    }

    /// Fill the long header (`PF_RING_LONG_HEADER`).
    pub fn long_header(mut self, on: bool) -> Self {
        self.cfg.long_header = on;
        self
    }

    /// Mark the handle for use from several threads (`PF_RING_REENTRANT`); see
    /// [`Ring::into_shared`].
    pub fn reentrant(mut self, on: bool) -> Self {
        self.cfg.reentrant = on;
        self
    }

    /// Applies `pfring_open` flags.
    pub fn flags(self, flags: Flags) -> Self {
        self.promisc(flags.contains(Flags::PROMISC))
            .long_header(flags.contains(Flags::LONG_HEADER))
            .reentrant(flags.contains(Flags::REENTRANT))
            .hw_timestamp(flags.contains(Flags::HW_TIMESTAMP))
    }

    /// Hardware RX timestamps (`PF_RING_HW_TIMESTAMP`): the open turns them on in the device
    /// with [`Ring::enable_hw_timestamp`] and fails, rather than falling back to software
    /// stamps, when the device cannot (veth, virtio-net: [`Error::HardwareNotSupported`]).
    pub fn hw_timestamp(mut self, on: bool) -> Self {
        self.cfg.hw_timestamp = on;
        self
    }

    /// Ring size in slots of `caplen` bytes (the `min_num_slots` module parameter; default 4096).
    pub fn slots(mut self, slots: u32) -> Self {
        self.cfg.slots = slots;
        self
    }

    /// Ring size in bytes, overriding [`RingBuilder::slots`].
    pub fn ring_bytes(mut self, bytes: usize) -> Self {
        self.cfg.ring_bytes = Some(bytes);
        self
    }

    /// Capture transmitted frames too (the `enable_tx_capture` module parameter, default on).
    /// Off is the same as [`Direction::RxOnly`].
    pub fn tx_capture(mut self, on: bool) -> Self {
        self.cfg.direction = if on {
            Direction::RxAndTx
        } else {
            Direction::RxOnly
        };
        self
    }

    /// Quick mode (the `quick_mode` module parameter): this ring holds the device (and queues)
    /// exclusively; a second quick-mode open fails with [`Error::DeviceBusy`].
    pub fn quick_mode(mut self, on: bool) -> Self {
        self.cfg.quick_mode = on;
        self
    }

    /// Initial direction.
    pub fn direction(mut self, d: Direction) -> Self {
        self.cfg.direction = d;
        self
    }

    /// Initial socket mode.
    pub fn socket_mode(mut self, m: SocketMode) -> Self {
        self.cfg.mode = m;
        self
    }

    /// The longest a partly filled block of packets waits before the application sees it
    /// (TPACKET_V3 `tp_retire_blk_tov`; default 16 ms, at least 1 ms). Longer means fewer
    /// wake-ups at moderate rates, at the price of latency; full blocks are always handed over
    /// at once.
    pub fn block_timeout(mut self, d: Duration) -> Self {
        self.cfg.block_timeout_ms = d.as_millis().clamp(1, 60_000) as u32;
        self
    }

    /// Reassemble IPv4 fragments before delivery (the module's `enable_ip_defrag`): the
    /// ring sees one packet per datagram. Done by the kernel (`PACKET_FANOUT_FLAG_DEFRAG`):
    /// the ring joins a fanout group of its own (`PACKET_FANOUT_FLAG_UNIQUEID`), or its
    /// cluster's group with the flag set.
    #[doc(alias = "enable_ip_defrag")]
    pub fn ip_defrag(mut self, on: bool) -> Self {
        self.cfg.ip_defrag = on;
        self
    }

    /// `xdp:` rings only: attach the XDP program in native (driver) mode, generic (SKB)
    /// mode, or native with a generic fallback ([`XdpMode::Auto`], the default). Without
    /// this call the environment variable `PFRING_XDP_MODE` (`native`, `generic`, `auto`)
    /// decides. Rings of one process on one interface share the mode of the first.
    pub fn xdp_mode(mut self, mode: XdpMode) -> Self {
        self.cfg.xdp_mode = Some(mode);
        self
    }

    /// `pcap:` files only: deliver packets at the pace they were recorded (default: as fast
    /// as they are read).
    pub fn replay_pace(mut self, on: bool) -> Self {
        self.cfg.replay = on;
        self
    }

    /// Transmit straight to the driver, skipping the qdisc layer (`PACKET_QDISC_BYPASS`):
    /// faster, but no traffic shaping and no `tc` on this ring's frames.
    pub fn qdisc_bypass(mut self, on: bool) -> Self {
        self.cfg.qdisc_bypass = on;
        self
    }

    /// How frames are handed to the kernel on the default module (see [`TxMode`]; default
    /// [`TxMode::Auto`]). Other modules ignore it.
    pub fn tx_mode(mut self, mode: TxMode) -> Self {
        self.cfg.tx_mode = mode;
        self
    }

    /// Opens one ring per RX channel of the device (`pfring_open_multichannel`): any `@…`
    /// in the name is ignored, the device's channel count is read (ethtool), and `dev@0` ..
    /// `dev@N-1` are opened with this builder's settings (at most 64). Each ring receives only
    /// its channel's frames.
    ///
    /// # Errors
    /// As [`RingBuilder::open`]; [`Error::InvalidArgument`] for names that are not one plain
    /// default-module interface.
    #[doc(alias = "pfring_open_multichannel")]
    pub fn open_multichannel(self) -> Result<Vec<Ring>> {
        if let DeviceSpec::Xdp(q) = self.device.parse::<DeviceSpec>()? {
            let base = q.name.as_str().to_owned();
            let channels = iface::rx_channels(&base)
                .map_err(|e| Error::from_os("SIOCETHTOOL", e, "ethtool", "none", &base))?;
            return (0..channels.min(64))
                .map(|ch| {
                    RingBuilder {
                        device: format!("xdp:{base}@{ch}"),
                        cfg: self.cfg.clone(),
                    }
                    .open()
                })
                .collect();
        }
        let base = match self.device.parse::<DeviceSpec>()? {
            DeviceSpec::Packet(crate::device::PacketDevice {
                interfaces: crate::device::Interfaces::List(list),
                ..
            }) if list.len() == 1 && list[0].vlan.is_none() => list[0].name.as_str().to_owned(),
            _ => {
                return Err(Error::InvalidArgument(format!(
                    "open_multichannel needs one interface name, not {:?}",
                    self.device
                )));
            }
        };
        let channels = {
            let probe = RingBuilder {
                device: base.clone(),
                cfg: RingConfig {
                    slots: 16,
                    caplen: 64,
                    quick_mode: false,
                    ..self.cfg.clone()
                },
            }
            .open()?;
            probe.num_rx_channels()?
        };
        (0..channels.min(64))
            .map(|ch| {
                RingBuilder {
                    device: format!("{base}@{ch}"),
                    cfg: self.cfg.clone(),
                }
                .open()
            })
            .collect()
    }

    /// Opens the ring (not yet enabled).
    ///
    /// # Errors
    /// [`Error::InvalidDevice`] for a bad name, [`Error::NoSuchDevice`],
    /// [`Error::PermissionDenied`] (naming `CAP_NET_RAW`), [`Error::NotSupported`] for modules
    /// not built yet, [`Error::DeviceBusy`] in quick mode.
    #[doc(alias = "pfring_open")]
    pub fn open(self) -> Result<Ring> {
        let spec: DeviceSpec = self.device.parse()?;
        let mut cfg = self.cfg;
        if cfg.caplen == 0 || cfg.caplen > MAX_CAPLEN {
            return Err(Error::InvalidArgument(format!(
                "caplen {} (must be 1..={MAX_CAPLEN})",
                cfg.caplen
            )));
        }
        cfg.caplen = cfg.caplen.min(MAX_CAPLEN);
        let backend = match &spec {
            DeviceSpec::Packet(_) if shm::consumer_name(&spec).is_some() => {
                let name = shm::consumer_name(&spec).unwrap_or_default();
                Backend::Shm(ShmBackend::open(
                    &name,
                    shm::Role::Consumer,
                    cfg.slots,
                    cfg.caplen,
                )?)
            }
            DeviceSpec::Userspace(name) => Backend::Shm(ShmBackend::open(
                name,
                shm::Role::of(cfg.mode),
                cfg.slots,
                cfg.caplen,
            )?),
            DeviceSpec::Packet(dev) if matches!(&dev.interfaces, crate::device::Interfaces::List(l) if l.len() > 1) =>
            {
                let members = multi::members_of(std::slice::from_ref(dev))?;
                Backend::Multi(MultiBackend::open(&members, &cfg)?)
            }
            DeviceSpec::Packet(dev) => {
                Backend::Packet(PacketBackend::open(&self.device, dev, &cfg)?)
            }
            DeviceSpec::Multi(parts) => {
                let members = multi::members_of(parts)?;
                Backend::Multi(MultiBackend::open(&members, &cfg)?)
            }
            DeviceSpec::Pcap(path) => Backend::Pcap(PcapBackend::open(path, cfg.replay)?),
            DeviceSpec::Xdp(dev) => {
                Backend::Xdp(Box::new(XdpBackend::open(&self.device, dev, &cfg)?))
            }
            DeviceSpec::Zc(crate::device::ZcTarget::Cluster { id, queue }) => {
                Backend::Zc(Box::new(ZcBackend::open(*id, *queue)?))
            }
            other => {
                return Err(Error::NotSupported {
                    op: "open",
                    backend: other.module(),
                });
            }
        };
        let reg = crate::registry::Registration::new(&self.device);
        let mut ring = Ring {
            backend,
            device: self.device,
            spec,
            cfg,
            enabled: false,
            app_name: None,
            breaker: Arc::new(Breaker::new().map_err(|source| SyscallError {
                call: "eventfd",
                source,
            })?),
            recv_count: 0,
            burst: Box::new([RawFrame::default(); MAX_BURST]),
            burst_member: 0,
            last_rx: None,
            rules: None,
            reg,
        };
        if ring.cfg.hw_timestamp {
            ring.enable_hw_timestamp_all()?;
        }
        ring.registry_write();
        Ok(ring)
    }
}

/// The backends behind a ring (closed set, so enum dispatch).
#[derive(Debug)]
enum Backend {
    Packet(PacketBackend),
    /// Several devices, one socket each (`eth0,eth1`, `multi:eth0;eth1`).
    Multi(MultiBackend),
    Pcap(PcapBackend),
    /// An AF_XDP socket on one queue (`xdp:eth0@Q`).
    Xdp(Box<XdpBackend>),
    /// A `zc:<cluster>@<queue>` slave.
    Zc(Box<ZcBackend>),
    /// A shared-memory ring with another process (`userspace:usr0` sends, `usr0` receives).
    Shm(ShmBackend),
}

impl Backend {
    /// The backend's name in errors (the device module: `packet`, `multi`, `pcap`, `xdp`,
    /// `zc`, `userspace`).
    fn name(&self) -> &'static str {
        match self {
            Backend::Packet(_) => "packet",
            Backend::Multi(_) => "multi",
            Backend::Pcap(_) => "pcap",
            Backend::Xdp(_) => "xdp",
            Backend::Zc(_) => "zc",
            Backend::Shm(_) => "userspace",
        }
    }

    /// [`Error::NotSupported`] for `op` on this backend.
    fn unsupported(&self, op: &'static str) -> Error {
        Error::NotSupported {
            op,
            backend: self.name(),
        }
    }

    /// The AF_PACKET sockets behind the ring: one, one per member, or none (files).
    fn sockets(&self) -> &[PacketBackend] {
        match self {
            Backend::Packet(b) => std::slice::from_ref(b),
            Backend::Multi(m) => &m.members,
            Backend::Pcap(_) | Backend::Xdp(_) | Backend::Zc(_) | Backend::Shm(_) => &[],
        }
    }

    fn sockets_mut(&mut self) -> &mut [PacketBackend] {
        match self {
            Backend::Packet(b) => std::slice::from_mut(b),
            Backend::Multi(m) => &mut m.members,
            Backend::Pcap(_) | Backend::Xdp(_) | Backend::Zc(_) | Backend::Shm(_) => &mut [],
        }
    }
}

/// [`Error::NotSupported`] for transmitting on a multi-device ring.
fn multi_send() -> Error {
    Error::NotSupported {
        op: "sending on a multi-device ring",
        backend: "multi",
    }
}

/// A handle that breaks a ring's blocking receive or loop from another thread.
#[derive(Clone, Debug)]
pub struct BreakHandle(Arc<Breaker>);

impl BreakHandle {
    /// A handle on `breaker` (for other handles than rings, e.g. the XDP bridge).
    pub(crate) fn from_breaker(breaker: Arc<Breaker>) -> BreakHandle {
        BreakHandle(breaker)
    }

    /// Makes the ring's current (or next) blocking call return within a poll wake-up.
    #[doc(alias = "pfring_breakloop")]
    pub fn breakloop(&self) {
        self.0.trigger();
    }

    /// Breaks the loop when one of `signals` arrives (e.g. `libc::SIGINT`, `libc::SIGTERM`).
    /// The handler only sets a flag and writes an eventfd, so it is async-signal-safe.
    ///
    /// # Errors
    /// `sigaction(2)` failure.
    pub fn break_on_signals(&self, signals: &[i32]) -> Result<()> {
        signal::break_on_signals(&self.0, signals).map_err(|source| {
            Error::Syscall(SyscallError {
                call: "sigaction",
                source,
            })
        })
    }

    /// The last signal that broke a loop (0 = none).
    pub fn last_signal() -> i32 {
        signal::last_signal()
    }
}

/// A capture ring bound to a device.
#[derive(Debug)]
#[doc(alias = "pfring")]
pub struct Ring {
    backend: Backend,
    device: String,
    spec: DeviceSpec,
    cfg: RingConfig,
    enabled: bool,
    app_name: Option<String>,
    breaker: Arc<Breaker>,
    recv_count: u64,
    burst: Box<[RawFrame; MAX_BURST]>,
    /// The member of a multi-device ring whose frames `burst` holds.
    burst_member: usize,
    /// The last frame handed out; its block stays held until the reader moves past it.
    last_rx: Option<RawFrame>,
    /// PF_RING's software rules (`None` until a rule call: the receive path then pays one
    /// branch).
    rules: Option<Box<rules_api::RingRules>>,
    /// This ring's entry in the ring registry.
    reg: crate::registry::Registration,
}

impl Ring {
    /// Opens `device` with PF_RING's arguments; same as
    /// `RingBuilder::new(device).caplen(caplen).flags(flags).open()`.
    ///
    /// # Errors
    /// As [`RingBuilder::open`].
    #[doc(alias = "pfring_open")]
    pub fn open(device: &str, caplen: u32, flags: Flags) -> Result<Ring> {
        RingBuilder::new(device).caplen(caplen).flags(flags).open()
    }

    /// The device name as given.
    pub fn device(&self) -> &str {
        &self.device
    }

    /// The parsed device name.
    pub fn device_spec(&self) -> &DeviceSpec {
        &self.spec
    }

    /// Starts delivering packets.
    ///
    /// # Errors
    /// The device is down, or the socket cannot be bound.
    #[doc(alias = "pfring_enable_ring")]
    pub fn enable(&mut self) -> Result<()> {
        if self.enabled {
            return Ok(());
        }
        if let Backend::Xdp(x) = &mut self.backend {
            // A send-only ring takes no frames away from the stack.
            x.enable(self.cfg.mode != SocketMode::SendOnly)?;
        }
        for b in self.backend.sockets_mut() {
            b.enable(&self.cfg)?;
        }
        self.enabled = true;
        self.registry_write();
        Ok(())
    }

    /// Stops delivering packets; `recv` then fails with [`Error::RingNotEnabled`].
    ///
    /// # Errors
    /// The socket cannot be unbound.
    #[doc(alias = "pfring_disable_ring")]
    pub fn disable(&mut self) -> Result<()> {
        if !self.enabled {
            return Ok(());
        }
        if let Backend::Xdp(x) = &mut self.backend {
            x.disable()?;
        }
        for b in self.backend.sockets_mut() {
            b.disable()?;
            b.update_stats()?;
        }
        self.enabled = false;
        self.registry_write();
        Ok(())
    }

    /// Whether the ring is enabled.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    fn check_recv(&self) -> Result<()> {
        if !self.enabled {
            return Err(Error::RingNotEnabled);
        }
        if self.cfg.mode == SocketMode::SendOnly {
            return Err(Error::WrongSocketMode {
                op: "recv",
                mode: self.cfg.mode.name(),
            });
        }
        Ok(())
    }

    #[inline]
    fn header_of(&self, f: &RawFrame) -> PacketHeader {
        let caplen = f.caplen.min(self.cfg.caplen);
        let ts = Timestamp {
            sec: u64::from(f.sec),
            nsec: f.nsec,
        };
        PacketHeader {
            ts,
            caplen,
            len: f.len,
            extended_hdr: ExtendedHeader {
                timestamp_ns: ts.as_nanos(),
                flags: if f.vlan_tci.is_some() {
                    PKT_FLAGS_VLAN_HWACCEL
                } else {
                    0
                },
                rx_direction: f.pkttype != PACKET_OUTGOING,
                if_index: f.ifindex,
                // Filled (PF_RING's hash) on long-header rings and by `recv_parsed`.
                pkt_hash: 0,
                vlan_tci: f.vlan_tci,
                ts_source: if f.hw_timestamp() {
                    TimestampSource::Hardware
                } else {
                    TimestampSource::Software
                },
            },
        }
    }

    /// Waits until the poll watermark of frames is readable, `timeout` passes, or the loop is
    /// broken. Returns how many frames are readable (counted up to the watermark).
    fn wait_readable(&mut self, timeout: Duration) -> Result<usize> {
        let deadline = Instant::now() + timeout;
        let watermark = usize::from(self.cfg.watermark.max(1));
        self.registry_due();
        if let Backend::Shm(s) = &mut self.backend {
            return s.wait_readable(watermark, timeout, &self.breaker);
        }
        if let Backend::Zc(z) = &mut self.backend {
            return Ok(usize::from(z.wait(timeout, &self.breaker)?));
        }
        // Bounded: every pass sleeps until the deadline or a wake-up.
        loop {
            let ready = match &self.backend {
                Backend::Packet(b) => b.rx.ready_frames(watermark),
                Backend::Multi(m) => m.members.iter().map(|b| b.rx.ready_frames(watermark)).sum(),
                Backend::Xdp(x) => x.rx.ready(watermark),
                // A file is always readable until its end.
                Backend::Pcap(p) => return Ok(usize::from(!p.end_of_file())),
                Backend::Zc(_) | Backend::Shm(_) => 0,
            };
            if ready >= watermark || self.breaker.is_set() {
                return Ok(ready);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(ready);
            }
            let left = deadline - now;
            if ready == 0 {
                if let Backend::Xdp(x) = &mut self.backend {
                    // Naps while traffic flows, the socket's wake-up when idle (see
                    // XdpBackend::wait).
                    let max_nap = Duration::from_millis(u64::from(self.cfg.block_timeout_ms));
                    x.wait(left, max_nap, self.breaker.eventfd().as_fd())
                        .map_err(|source| SyscallError {
                            call: "poll",
                            source,
                        })?;
                    continue;
                }
                // Everything was read: hand it all back first, or poll(2) reports the ring
                // readable at once. The last received packet is gone from the ring then.
                self.release_for_wait();
                // The kernel wakes poll(2) when it retires a block.
                poll_in(
                    self.as_fd(),
                    Some(self.breaker.eventfd().as_fd()),
                    Some(left),
                )
                .map_err(|source| SyscallError {
                    call: "poll",
                    source,
                })?;
            } else {
                // Below the watermark: poll(2) would return at once (a block is ready), so
                // wait for more frames in short naps, still woken by breakloop.
                let nap = left.min(Duration::from_millis(1));
                poll_in(self.breaker.eventfd().as_fd(), None, Some(nap)).map_err(|source| {
                    SyscallError {
                        call: "poll",
                        source,
                    }
                })?;
            }
        }
    }

    /// Receives the next packet without copying: the returned [`Packet`] borrows the ring's
    /// memory and hands its slot back when dropped. With `wait`, blocks until a packet arrives
    /// or [`Ring::breakloop`] is called (then `Ok(None)`); without, returns `Ok(None)` at once
    /// when nothing is queued.
    ///
    /// # Errors
    /// [`Error::RingNotEnabled`], [`Error::WrongSocketMode`] on a send-only ring, poll failures.
    #[doc(alias = "pfring_recv")]
    pub fn recv(&mut self, wait: bool) -> Result<Option<Packet<'_>>> {
        self.check_recv()?;
        self.registry_tick();
        match self.backend {
            Backend::Pcap(_) => return self.recv_file(),
            Backend::Zc(_) => return self.recv_zc(wait),
            Backend::Multi(_) => return self.recv_multi(wait),
            Backend::Xdp(_) => return self.recv_xdp(wait),
            Backend::Shm(_) => return self.recv_shm(wait),
            Backend::Packet(_) => {}
        }
        loop {
            let Backend::Packet(b) = &mut self.backend else {
                unreachable!("file rings returned above");
            };
            if let Some(f) = b.rx.next_frame() {
                if let Some(r) = self.rules.as_deref_mut()
                    && !r.admit(
                        b.rx.frame_bytes(&f, self.cfg.caplen),
                        &rules_api::FrameInfo::of(&f),
                        Some(&b.sock),
                    )
                {
                    continue;
                }
                let mut header = self.header_of(&f);
                if self.cfg.long_header
                    && let Backend::Packet(b) = &self.backend
                {
                    header.extended_hdr.pkt_hash =
                        long_header_hash(b.rx.frame_bytes(&f, header.caplen));
                }
                self.recv_count += 1;
                self.last_rx = Some(f);
                let Backend::Packet(b) = &mut self.backend else {
                    unreachable!("file rings returned above");
                };
                return Ok(Some(Packet {
                    header,
                    source: Source::Tpacket {
                        ring: &mut b.rx,
                        frame: f,
                        caplen: header.caplen,
                    },
                }));
            }
            b.rx.release();
            if !self.wait_for_more(wait)? {
                return Ok(None);
            }
        }
    }

    /// [`Ring::recv`] on an `xdp:` ring.
    fn recv_xdp(&mut self, wait: bool) -> Result<Option<Packet<'_>>> {
        loop {
            let Backend::Xdp(x) = &mut self.backend else {
                unreachable!("xdp rings only");
            };
            if let Some(f) = x.rx.next_frame(crate::backend::xdp::now()) {
                if let Some(r) = self.rules.as_deref_mut()
                    && !r.admit(
                        x.rx.frame_bytes(&f, self.cfg.caplen),
                        &rules_api::FrameInfo::of(&f),
                        None,
                    )
                {
                    x.rx.recycle(&f);
                    continue;
                }
                let mut header = self.header_of(&f);
                let Backend::Xdp(x) = &mut self.backend else {
                    unreachable!("xdp rings only");
                };
                if self.cfg.long_header {
                    header.extended_hdr.pkt_hash =
                        long_header_hash(x.rx.frame_bytes(&f, header.caplen));
                }
                self.recv_count += 1;
                // The frame goes back to the kernel when the packet is dropped.
                self.last_rx = None;
                return Ok(Some(Packet {
                    header,
                    source: Source::Xdp {
                        rx: &mut x.rx,
                        frame: f,
                        caplen: header.caplen,
                    },
                }));
            }
            if !self.wait_for_more(wait)? {
                return Ok(None);
            }
        }
    }

    /// [`Ring::recv_burst`] on an `xdp:` ring.
    fn recv_burst_xdp(&mut self, max: usize, wait: bool) -> Result<Burst<'_>> {
        let n = loop {
            let Backend::Xdp(x) = &mut self.backend else {
                unreachable!("xdp rings only");
            };
            let mut n = x.rx.next_burst(&mut self.burst[..max]);
            if let Some(r) = self.rules.as_deref_mut() {
                let mut kept = 0;
                for i in 0..n {
                    let f = self.burst[i];
                    if r.admit(
                        x.rx.frame_bytes(&f, self.cfg.caplen),
                        &rules_api::FrameInfo::of(&f),
                        None,
                    ) {
                        self.burst[kept] = f;
                        kept += 1;
                    } else {
                        x.rx.recycle(&f);
                    }
                }
                n = kept;
            }
            if n > 0 || !wait || self.breaker.is_set() {
                break n;
            }
            let d = self.cfg.poll_duration;
            self.wait_readable(d)?;
        };
        if n == 0 && wait {
            self.consume_break();
        }
        self.last_rx = None;
        self.recv_count += n as u64;
        Ok(Burst { ring: self, len: n })
    }

    /// How an `xdp:` ring is attached and bound (queue, zero copy or copy mode, native or
    /// generic XDP); `None` for other rings.
    pub fn xdp_info(&self) -> Option<XdpInfo> {
        match &self.backend {
            Backend::Xdp(x) => Some(x.info()),
            _ => None,
        }
    }

    /// [`Ring::recv`] on a multi-device ring: the members in turn.
    fn recv_multi(&mut self, wait: bool) -> Result<Option<Packet<'_>>> {
        loop {
            let Backend::Multi(m) = &mut self.backend else {
                unreachable!("multi-device rings only");
            };
            if let Some((member, f)) = m.next_frame() {
                if let Some(r) = self.rules.as_deref_mut() {
                    let b = &m.members[member];
                    if !r.admit(
                        b.rx.frame_bytes(&f, self.cfg.caplen),
                        &rules_api::FrameInfo::of(&f),
                        Some(&b.sock),
                    ) {
                        m.delivered[member] -= 1;
                        continue;
                    }
                }
                let mut header = self.header_of(&f);
                let Backend::Multi(m) = &mut self.backend else {
                    unreachable!("multi-device rings only");
                };
                let rx = &mut m.members[member].rx;
                if self.cfg.long_header {
                    header.extended_hdr.pkt_hash =
                        long_header_hash(rx.frame_bytes(&f, header.caplen));
                }
                self.recv_count += 1;
                // Sending is not supported on multi-device rings: no last packet to re-send.
                self.last_rx = None;
                return Ok(Some(Packet {
                    header,
                    source: Source::Tpacket {
                        ring: rx,
                        frame: f,
                        caplen: header.caplen,
                    },
                }));
            }
            if !self.wait_for_more(wait)? {
                return Ok(None);
            }
        }
    }

    /// Receives the next packet and parses it (`pfring_recv_parsed`): the headers up to
    /// `level` (2 = Ethernet, 3 = IP, 4 = transport, 5 = transport and tunnels), and with
    /// `add_hash` PF_RING's packet hash, which also goes into the header's `pkt_hash`.
    /// Timestamps are always taken, so PF_RING's `add_timestamp` has no counterpart.
    ///
    /// # Errors
    /// As [`Ring::recv`].
    #[doc(alias = "pfring_recv_parsed")]
    pub fn recv_parsed(
        &mut self,
        level: u8,
        add_hash: bool,
        wait: bool,
    ) -> Result<Option<(Packet<'_>, ParsedPacket)>> {
        let Some(mut p) = self.recv(wait)? else {
            return Ok(None);
        };
        let (mut parsed, _) = ParsedPacket::parse(p.data(), level);
        if add_hash {
            parsed.add_hash();
            p.header.extended_hdr.pkt_hash = parsed.pkt_hash;
        }
        Ok(Some((p, parsed)))
    }

    /// The next record of a `pcap:` file (one at a time: the record buffer is reused).
    fn recv_file(&mut self) -> Result<Option<Packet<'_>>> {
        let Ring {
            backend,
            breaker,
            cfg,
            recv_count,
            rules,
            ..
        } = self;
        let Backend::Pcap(p) = backend else {
            return Ok(None);
        };
        // Bounded by the file: every pass consumes a record.
        loop {
            if !p.fetch(cfg.caplen, breaker)? {
                if breaker.is_set() {
                    breaker.reset();
                }
                return Ok(None);
            }
            let Some(r) = rules.as_deref_mut() else {
                break;
            };
            let info = rules_api::FrameInfo {
                wire_len: p.hdr.len,
                vlan_tci: None,
                ifindex: p.hdr.extended_hdr.if_index,
                outgoing: false,
                ts_ns: p.hdr.extended_hdr.timestamp_ns,
            };
            if r.admit(&p.buf, &info, None) {
                break;
            }
        }
        *recv_count += 1;
        let mut header = p.hdr;
        if cfg.long_header {
            header.extended_hdr.pkt_hash = long_header_hash(&p.buf);
        }
        Ok(Some(Packet {
            header,
            source: Source::Buffer(&p.buf),
        }))
    }

    /// The next packet of a `zc:` cluster queue: its buffer goes back to the cluster when
    /// the packet is dropped.
    fn recv_zc(&mut self, wait: bool) -> Result<Option<Packet<'_>>> {
        if !self.fetch_zc(wait)? {
            return Ok(None);
        }
        let long = self.cfg.long_header;
        let Backend::Zc(z) = &mut self.backend else {
            return Ok(None);
        };
        let mut header = z.hdr;
        if long {
            header.extended_hdr.pkt_hash = long_header_hash(z.data());
        }
        Ok(Some(Packet {
            header,
            source: Source::Zc(z),
        }))
    }

    /// Takes the next packet of a `zc:` queue that passes the rules into the backend's
    /// current buffer; false when none.
    fn fetch_zc(&mut self, wait: bool) -> Result<bool> {
        let Ring {
            backend,
            breaker,
            cfg,
            recv_count,
            rules,
            ..
        } = self;
        let Backend::Zc(z) = backend else {
            return Ok(false);
        };
        // Bounded by the queue: every pass consumes a packet (software rules as on files).
        loop {
            if !z.fetch(cfg.caplen, wait, breaker)? {
                if breaker.is_set() {
                    breaker.reset();
                }
                return Ok(false);
            }
            let Some(r) = rules.as_deref_mut() else {
                break;
            };
            let info = rules_api::FrameInfo {
                wire_len: z.hdr.len,
                vlan_tci: None,
                ifindex: 0,
                outgoing: false,
                ts_ns: z.hdr.extended_hdr.timestamp_ns,
            };
            if r.admit(z.data(), &info, None) {
                break;
            }
        }
        *recv_count += 1;
        Ok(true)
    }

    /// Whether a `pcap:` ring has delivered its file's last packet (always false for devices).
    pub fn end_of_file(&self) -> bool {
        match &self.backend {
            Backend::Packet(_)
            | Backend::Multi(_)
            | Backend::Xdp(_)
            | Backend::Zc(_)
            | Backend::Shm(_) => false,
            Backend::Pcap(p) => p.end_of_file(),
        }
    }

    /// Hands every read frame back to the kernel before sleeping (see
    /// `RxRing::release_all_read`); the last received packet is no longer kept.
    fn release_for_wait(&mut self) {
        for b in self.backend.sockets_mut() {
            b.rx.release_all_read();
        }
        if let Backend::Shm(s) = &mut self.backend {
            s.release_all();
        }
        self.last_rx = None;
    }

    /// Resets the break flag once a blocking call has returned because of it.
    /// No frame is ready: with `wait` (and no break pending) sleeps until one may be, up to
    /// the poll duration, and returns true (look again); else consumes a pending break and
    /// returns false (the receive call returns `None`).
    fn wait_for_more(&mut self, wait: bool) -> Result<bool> {
        if !wait {
            return Ok(false);
        }
        if self.breaker.is_set() {
            self.consume_break();
            return Ok(false);
        }
        let d = self.cfg.poll_duration;
        self.wait_readable(d)?;
        Ok(true)
    }

    fn consume_break(&self) {
        if self.breaker.is_set() {
            self.breaker.reset();
        }
    }

    /// Receives the next packet into `buf` (copying at most `buf.len()` bytes) and returns its
    /// header; the header's `caplen` is the number of bytes copied.
    ///
    /// # Errors
    /// As [`Ring::recv`]; [`Error::EmptyBuffer`] for an empty `buf`.
    #[doc(alias = "pfring_recv")]
    pub fn recv_into(&mut self, buf: &mut [u8], wait: bool) -> Result<Option<PacketHeader>> {
        if buf.is_empty() {
            return Err(Error::EmptyBuffer);
        }
        let Some(pkt) = self.recv(wait)? else {
            return Ok(None);
        };
        let data = pkt.data();
        let n = data.len().min(buf.len());
        buf[..n].copy_from_slice(&data[..n]);
        let mut h = *pkt.header();
        h.caplen = n as u32;
        Ok(Some(h))
    }

    /// Receives up to `max` packets at once: the returned [`Burst`] holds them (zero copy) and
    /// hands their slots back when dropped. Waits only if `wait` and nothing is queued.
    ///
    /// # Errors
    /// As [`Ring::recv`].
    #[doc(alias = "pfring_recv_burst")]
    pub fn recv_burst(&mut self, max: usize, wait: bool) -> Result<Burst<'_>> {
        self.check_recv()?;
        let max = max.clamp(1, MAX_BURST);
        self.registry_tick();
        if let Backend::Shm(_) = self.backend {
            return self.recv_burst_shm(max, wait);
        }
        if let Backend::Pcap(_) = self.backend {
            // Files deliver one record per burst (the record buffer is reused).
            let len = usize::from(self.recv_file()?.is_some());
            return Ok(Burst { ring: self, len });
        }
        if let Backend::Zc(_) = self.backend {
            // One cluster buffer per burst, like files.
            let len = usize::from(self.fetch_zc(wait)?);
            return Ok(Burst { ring: self, len });
        }
        if let Backend::Multi(_) = self.backend {
            return self.recv_burst_multi(max, wait);
        }
        if let Backend::Xdp(_) = self.backend {
            return self.recv_burst_xdp(max, wait);
        }
        let mut n = 0;
        loop {
            let Backend::Packet(b) = &mut self.backend else {
                unreachable!("file rings returned above");
            };
            while n < max {
                match b.rx.next_frame() {
                    Some(f) => {
                        if let Some(r) = self.rules.as_deref_mut()
                            && !r.admit(
                                b.rx.frame_bytes(&f, self.cfg.caplen),
                                &rules_api::FrameInfo::of(&f),
                                Some(&b.sock),
                            )
                        {
                            continue;
                        }
                        self.burst[n] = f;
                        n += 1;
                    }
                    None => break,
                }
            }
            if n > 0 || !wait || self.breaker.is_set() {
                break;
            }
            b.rx.release();
            let d = self.cfg.poll_duration;
            self.wait_readable(d)?;
        }
        if n == 0 {
            if wait {
                self.consume_break();
            }
        } else {
            self.last_rx = Some(self.burst[n - 1]);
        }
        self.recv_count += n as u64;
        Ok(Burst { ring: self, len: n })
    }

    /// [`Ring::recv_burst`] on a multi-device ring: one member per burst, in turn.
    fn recv_burst_multi(&mut self, max: usize, wait: bool) -> Result<Burst<'_>> {
        let (member, n) = loop {
            let Backend::Multi(m) = &mut self.backend else {
                unreachable!("multi-device rings only");
            };
            let (member, mut n) = m.next_burst(&mut self.burst[..max]);
            if let Some(r) = self.rules.as_deref_mut() {
                let b = &m.members[member];
                let mut kept = 0;
                for i in 0..n {
                    let f = self.burst[i];
                    if r.admit(
                        b.rx.frame_bytes(&f, self.cfg.caplen),
                        &rules_api::FrameInfo::of(&f),
                        Some(&b.sock),
                    ) {
                        self.burst[kept] = f;
                        kept += 1;
                    }
                }
                m.delivered[member] -= (n - kept) as u64;
                n = kept;
            }
            if n > 0 || !wait || self.breaker.is_set() {
                break (member, n);
            }
            let d = self.cfg.poll_duration;
            self.wait_readable(d)?;
        };
        if n == 0 && wait {
            self.consume_break();
        }
        self.burst_member = member;
        self.last_rx = None;
        self.recv_count += n as u64;
        Ok(Burst { ring: self, len: n })
    }

    /// Calls `f` for every packet until [`Ring::breakloop`] (or the break handle, or a
    /// registered signal) stops it, or `f` returns `false`. Without `wait` it returns as soon
    /// as the ring is empty. Returns the number of packets delivered.
    ///
    /// A break requested before the loop starts makes it return at once; the flag is cleared
    /// when the loop returns because of it.
    ///
    /// # Errors
    /// As [`Ring::recv`].
    #[doc(alias = "pfring_loop")]
    pub fn run_loop<F>(&mut self, wait: bool, mut f: F) -> Result<u64>
    where
        F: FnMut(&PacketHeader, &[u8]) -> bool,
    {
        let mut count = 0u64;
        loop {
            if self.breaker.is_set() {
                self.consume_break();
                return Ok(count);
            }
            let burst = self.recv_burst(MAX_BURST, wait)?;
            if burst.is_empty() {
                return Ok(count);
            }
            for (h, data) in burst.iter() {
                count += 1;
                if !f(&h, data) {
                    return Ok(count);
                }
            }
        }
    }

    /// Stops a blocking [`Ring::recv`] or [`Ring::run_loop`] in progress (from a callback);
    /// from other threads use [`Ring::break_handle`].
    #[doc(alias = "pfring_breakloop")]
    pub fn breakloop(&self) {
        self.breaker.trigger();
    }

    /// A cloneable, thread-safe handle whose `breakloop` stops this ring's blocking calls.
    pub fn break_handle(&self) -> BreakHandle {
        BreakHandle(Arc::clone(&self.breaker))
    }

    /// Waits up to `timeout` until at least the poll watermark of packets is queued (or the
    /// loop is broken). Returns whether the watermark was reached; `Duration::ZERO` only checks
    /// whether any packet is readable.
    ///
    /// # Errors
    /// [`Error::RingNotEnabled`], poll failures.
    #[doc(alias = "pfring_poll")]
    pub fn poll(&mut self, timeout: Duration) -> Result<bool> {
        self.check_recv()?;
        if timeout.is_zero() {
            return Ok(self.is_packet_available());
        }
        let ready = self.wait_readable(timeout)?;
        self.consume_break();
        Ok(ready >= usize::from(self.cfg.watermark.max(1)))
    }

    /// Whether a packet can be received without waiting.
    #[doc(alias = "pfring_is_pkt_available")]
    pub fn is_packet_available(&self) -> bool {
        match &self.backend {
            Backend::Packet(b) => b.rx.has_frame(),
            Backend::Multi(m) => m.members.iter().any(|b| b.rx.has_frame()),
            Backend::Xdp(x) => x.rx.ready(1) > 0,
            Backend::Pcap(p) => !p.end_of_file(),
            Backend::Zc(z) => z.slave.queued() != 0,
            Backend::Shm(s) => s.readable() > 0,
        }
    }

    /// Packets queued and readable now (counted up to 1,000,000).
    #[doc(alias = "pfring_get_num_queued_pkts")]
    pub fn num_queued_packets(&self) -> u32 {
        match &self.backend {
            Backend::Packet(b) => b.rx.ready_frames(1_000_000) as u32,
            Backend::Multi(m) => m
                .members
                .iter()
                .map(|b| b.rx.ready_frames(1_000_000))
                .sum::<usize>()
                .min(1_000_000) as u32,
            Backend::Xdp(x) => x.rx.ready(1_000_000) as u32,
            Backend::Pcap(p) => u32::from(!p.end_of_file()),
            Backend::Zc(z) => z.slave.queued().min(1_000_000) as u32,
            Backend::Shm(s) => s.readable() as u32,
        }
    }

    /// The descriptor to put in your own `poll`/`epoll` set (readable when a block of packets
    /// is ready).
    #[doc(alias = "pfring_get_selectable_fd")]
    pub fn selectable_fd(&self) -> BorrowedFd<'_> {
        self.as_fd()
    }

    /// Packets that must be queued before a blocking receive or [`Ring::poll`] wakes up
    /// (1..=`slots/2`; default 1, i.e. wake on the first packet).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for 0.
    #[doc(alias = "pfring_set_poll_watermark")]
    pub fn set_poll_watermark(&mut self, watermark: u16) -> Result<()> {
        if watermark == 0 {
            return Err(Error::InvalidArgument("poll watermark 0".into()));
        }
        let cap = (self.cfg.slots / 2).clamp(1, u32::from(u16::MAX)) as u16;
        self.cfg.watermark = watermark.min(cap);
        Ok(())
    }

    /// The poll watermark in force.
    pub fn poll_watermark(&self) -> u16 {
        self.cfg.watermark
    }

    /// How long one wait of a blocking receive lasts before it re-checks (default 500 ms).
    #[doc(alias = "pfring_set_poll_duration")]
    pub fn set_poll_duration(&mut self, d: Duration) {
        self.cfg.poll_duration = d.max(Duration::from_millis(1));
    }

    /// Packets received by the application and packets the kernel dropped (ring full), since
    /// the ring was opened. On a multi-device ring: the totals over all devices (see
    /// [`Ring::device_stats`]).
    ///
    /// # Errors
    /// `PACKET_STATISTICS` failure.
    #[doc(alias = "pfring_stats")]
    pub fn stats(&mut self) -> Result<Stats> {
        let st = self.stats_inner()?;
        self.registry_stats(st);
        Ok(st)
    }

    fn stats_inner(&mut self) -> Result<Stats> {
        match &mut self.backend {
            Backend::Packet(b) => {
                b.update_stats()?;
                Ok(Stats {
                    recv: self.recv_count,
                    drop: b.kernel_drops,
                })
            }
            Backend::Multi(m) => {
                let mut drop = 0;
                for b in &mut m.members {
                    b.update_stats()?;
                    drop += b.kernel_drops;
                }
                Ok(Stats {
                    recv: self.recv_count,
                    drop,
                })
            }
            Backend::Pcap(p) => Ok(Stats {
                recv: self.recv_count,
                drop: p.skipped,
            }),
            Backend::Xdp(x) => Ok(Stats {
                recv: self.recv_count,
                drop: x.drops()?,
            }),
            Backend::Zc(z) => Ok(Stats {
                recv: self.recv_count,
                drop: z.slave.stats().drops,
            }),
            // Nothing is lost: a full ring refuses the sender's frame.
            Backend::Shm(_) => Ok(Stats {
                recv: self.recv_count,
                drop: 0,
            }),
        }
    }

    /// Statistics per device: `(device, stats)` for each member of a multi-device ring
    /// (`eth0,eth1`, `multi:eth0;eth1`) in the order given; one entry (the ring's device name
    /// and [`Ring::stats`]) for any other ring. The entries add up to [`Ring::stats`].
    ///
    /// # Errors
    /// As [`Ring::stats`].
    pub fn device_stats(&mut self) -> Result<Vec<(String, Stats)>> {
        match &mut self.backend {
            Backend::Multi(m) => {
                let mut out = Vec::with_capacity(m.members.len());
                for (i, b) in m.members.iter_mut().enumerate() {
                    b.update_stats()?;
                    out.push((
                        m.names[i].clone(),
                        Stats {
                            recv: m.delivered[i],
                            drop: b.kernel_drops,
                        },
                    ));
                }
                Ok(out)
            }
            Backend::Packet(_)
            | Backend::Pcap(_)
            | Backend::Xdp(_)
            | Backend::Zc(_)
            | Backend::Shm(_) => {
                let st = self.stats()?;
                Ok(vec![(self.device.clone(), st)])
            }
        }
    }

    /// Sets a BPF filter in tcpdump's language (`pcap-filter(7)`, e.g. `"tcp port 80"`):
    /// only matching packets are delivered. On devices the filter is compiled to classic BPF
    /// and runs in the kernel (`SO_ATTACH_FILTER`), after the ring's own direction / VLAN /
    /// queue checks, so rejected packets never reach the ring and are not counted as drops.
    /// On `pcap:` files it runs in user space. Replaces any previous filter.
    ///
    /// # Errors
    /// [`Error::Filter`] with the position of a syntax error; attaching failures.
    #[doc(alias = "pfring_set_bpf_filter")]
    pub fn set_bpf_filter(&mut self, expr: &str) -> Result<()> {
        let target = match &mut self.backend {
            // Runs in the XDP program: rejected frames go on to the network stack.
            Backend::Xdp(x) => {
                x.set_filter(Some(expr))?;
                self.reg.bpf = Some(expr.to_owned());
                self.registry_write();
                return self.sync_rules();
            }
            Backend::Pcap(_) | Backend::Zc(_) | Backend::Shm(_) => crate::filter::Target::Bytes,
            Backend::Packet(_) | Backend::Multi(_) => crate::filter::Target::Kernel,
        };
        self.set_bpf_program(crate::filter::Program::compile_for(expr, target)?)?;
        self.reg.bpf = Some(expr.to_owned());
        self.registry_write();
        Ok(())
    }

    /// Sets an already compiled classic BPF program as the filter (libpcap's
    /// `pcap_setfilter`, which receives instructions rather than an expression). On devices
    /// the program runs in the kernel like [`Ring::set_bpf_filter`]'s, so compile it for
    /// [`crate::filter::Target::Kernel`]; on `pcap:` files it runs in user space (compile
    /// for [`crate::filter::Target::Bytes`]). Replaces any previous filter.
    ///
    /// # Errors
    /// Attaching failures (the previous filter stays in force).
    pub fn set_bpf_program(&mut self, prog: crate::filter::Program) -> Result<()> {
        match &mut self.backend {
            Backend::Pcap(p) => p.filter = Some(prog),
            Backend::Zc(z) => z.filter = Some(prog),
            Backend::Xdp(x) => x.set_program(Some(&prog), Some("(compiled program)".into()))?,
            Backend::Shm(s) if s.role == shm::Role::Consumer => s.filter = Some(prog),
            Backend::Shm(_) => {
                return Err(Error::NotSupported {
                    op: "BPF filters on the sending side",
                    backend: "userspace",
                });
            }
            Backend::Packet(_) | Backend::Multi(_) => {
                let enabled = self.enabled;
                let cfg = &self.cfg;
                let members = self.backend.sockets_mut();
                let old: Vec<_> = members
                    .iter_mut()
                    .map(|b| b.user_filter.replace(prog.clone()))
                    .collect();
                if enabled && let Err(e) = members.iter().try_for_each(|b| b.apply_filter(cfg)) {
                    for (b, o) in members.iter_mut().zip(old) {
                        b.user_filter = o;
                        let _ = b.apply_filter(cfg);
                    }
                    return Err(e);
                }
            }
        }
        self.reg.bpf = Some("(compiled program)".to_owned());
        self.registry_write();
        // The offloaded rules run after the new filter (or go back to the library).
        self.sync_rules()
    }

    /// Removes the BPF filter set by [`Ring::set_bpf_filter`].
    ///
    /// # Errors
    /// Re-attaching the ring's own checks failed.
    #[doc(alias = "pfring_remove_bpf_filter")]
    pub fn remove_bpf_filter(&mut self) -> Result<()> {
        match &mut self.backend {
            Backend::Packet(_) | Backend::Multi(_) => {
                for b in self.backend.sockets_mut() {
                    b.user_filter = None;
                    if self.enabled {
                        b.apply_filter(&self.cfg)?;
                    }
                }
            }
            Backend::Pcap(p) => p.filter = None,
            Backend::Xdp(x) => x.set_filter(None)?,
            Backend::Zc(z) => z.filter = None,
            Backend::Shm(s) => s.filter = None,
        }
        self.reg.bpf = None;
        self.registry_write();
        self.sync_rules()
    }

    /// Puts the ring in cluster `id` of type `ty`: the packets of the device are shared
    /// among the rings (threads or processes) of the cluster, each packet going to one
    /// member chosen by `ty` (see [`crate::cluster`]; a Linux `PACKET_FANOUT` group). A
    /// ring that is not enabled yet joins when [`Ring::enable`] binds it.
    ///
    /// # Errors
    /// [`Error::NotSupported`] for `pcap:` and multi-device rings; [`Error::InvalidArgument`]
    /// if the ring is already in another cluster, or if cluster `id` exists with another
    /// type or device or is full.
    #[doc(alias = "pfring_set_cluster")]
    pub fn set_cluster(&mut self, id: u16, ty: crate::ClusterType) -> Result<()> {
        let b = match &mut self.backend {
            Backend::Packet(b) => b,
            Backend::Multi(_) => {
                return Err(Error::NotSupported {
                    op: "clusters on a multi-device ring",
                    backend: "multi",
                });
            }
            Backend::Pcap(_) => {
                return Err(Error::NotSupported {
                    op: "clusters",
                    backend: "pcap",
                });
            }
            Backend::Xdp(_) => {
                return Err(Error::NotSupported {
                    op: "clusters (open one ring per queue: open_multichannel)",
                    backend: "xdp",
                });
            }
            Backend::Zc(_) => {
                return Err(Error::NotSupported {
                    op: "kernel clusters (the ZC cluster already distributes)",
                    backend: "zc",
                });
            }
            Backend::Shm(_) => {
                return Err(Error::NotSupported {
                    op: "clusters",
                    backend: "userspace",
                });
            }
        };
        crate::cluster::fanout_mode(ty)?;
        match b.cluster {
            Some(m) if m.id == id && m.ty == ty => return Ok(()),
            Some(m) => {
                return Err(Error::InvalidArgument(format!(
                    "the ring is already in cluster {} (call remove_from_cluster first)",
                    m.id
                )));
            }
            None => {}
        }
        b.cluster = Some(crate::cluster::Membership {
            id,
            ty,
            joined: false,
        });
        if let Err(e) = b.join_cluster() {
            b.cluster = None;
            return Err(e);
        }
        self.registry_write();
        Ok(())
    }

    /// Takes the ring out of its cluster (no effect if it is in none).
    ///
    /// Linux cannot take a socket out of a fanout group, so a ring that joined gets a new
    /// socket and RX ring with the same settings: packets received but not yet read are
    /// lost, and packets arriving during the switch may be missed.
    /// (An ip-with-dup cluster has no fanout group: the ring keeps its socket and only its
    /// filter changes.)
    ///
    /// # Errors
    /// Creating, configuring or binding the new socket failed.
    #[doc(alias = "pfring_remove_from_cluster")]
    pub fn remove_from_cluster(&mut self) -> Result<()> {
        self.release_for_wait();
        match &mut self.backend {
            Backend::Packet(b) => b.leave_cluster(&self.cfg, self.enabled)?,
            Backend::Multi(_)
            | Backend::Pcap(_)
            | Backend::Xdp(_)
            | Backend::Zc(_)
            | Backend::Shm(_) => {}
        }
        self.registry_write();
        Ok(())
    }

    /// RSS rehash (`pfring_enable_rss_rehash`): a ring bound to some RX channels
    /// (`dev@q`) gets the packets whose symmetric PF_RING hash
    /// ([`ParsedPacket::kernel_hash`](crate::ParsedPacket::kernel_hash)) modulo the
    /// device's RX queue count is one of its channels, instead of the packets the NIC put
    /// on those queues: both directions of a flow reach the same channel whatever the
    /// NIC's RSS does (see [`crate::cluster::rss_rehash_prefix`]). No effect on a ring
    /// that captures every channel.
    ///
    /// # Errors
    /// [`Error::NotSupported`] for `pcap:` rings and rings on every device (`any`);
    /// reading the queue count or re-attaching the filter failed.
    #[doc(alias = "pfring_enable_rss_rehash")]
    pub fn enable_rss_rehash(&mut self) -> Result<()> {
        match &mut self.backend {
            Backend::Packet(b) => b.enable_rss_rehash()?,
            Backend::Multi(m) => {
                for b in m.members.iter_mut() {
                    b.enable_rss_rehash()?;
                }
            }
            // Files and shared-memory rings have no RX queues; the XDP program sends each
            // frame to the socket of the queue it came on.
            other => return Err(other.unsupported("enable_rss_rehash")),
        }
        if self.enabled {
            for b in self.backend.sockets() {
                b.apply_filter(&self.cfg)?;
            }
        }
        Ok(())
    }

    /// The cluster the ring is in (or will join when enabled): id and type.
    pub fn cluster(&self) -> Option<(u16, crate::ClusterType)> {
        match &self.backend {
            Backend::Packet(b) => b.cluster.map(|m| (m.id, m.ty)),
            Backend::Multi(_)
            | Backend::Pcap(_)
            | Backend::Xdp(_)
            | Backend::Zc(_)
            | Backend::Shm(_) => None,
        }
    }

    /// Chooses which frames are captured; allowed while enabled.
    ///
    /// # Errors
    /// Re-attaching the kernel filter failed.
    #[doc(alias = "pfring_set_direction")]
    pub fn set_direction(&mut self, d: Direction) -> Result<()> {
        self.cfg.direction = d;
        if self.enabled {
            for b in self.backend.sockets() {
                b.apply_filter(&self.cfg)?;
            }
        }
        self.registry_write();
        Ok(())
    }

    /// The direction in force.
    pub fn direction(&self) -> Direction {
        self.cfg.direction
    }

    /// Sets send/receive mode; refused once the ring is enabled, as in PF_RING.
    ///
    /// # Errors
    /// [`Error::AlreadyEnabled`].
    #[doc(alias = "pfring_set_socket_mode")]
    pub fn set_socket_mode(&mut self, m: SocketMode) -> Result<()> {
        if self.enabled {
            return Err(Error::AlreadyEnabled {
                op: "set_socket_mode",
            });
        }
        self.cfg.mode = m;
        Ok(())
    }

    /// The socket mode in force.
    pub fn socket_mode(&self) -> SocketMode {
        self.cfg.mode
    }

    /// Names the application owning this ring (shown by registries and tools).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for names longer than 64 bytes.
    #[doc(alias = "pfring_set_application_name")]
    pub fn set_application_name(&mut self, name: &str) -> Result<()> {
        if name.len() > 64 {
            return Err(Error::InvalidArgument(
                "application name over 64 bytes".into(),
            ));
        }
        self.app_name = Some(name.to_owned());
        self.registry_write();
        Ok(())
    }

    /// The application name, if set.
    pub fn application_name(&self) -> Option<&str> {
        self.app_name.as_deref()
    }

    /// The bound device's MAC address (all zeros for `any`, `none`, loopback and
    /// multi-device rings).
    ///
    /// # Errors
    /// `SIOCGIFHWADDR` failure.
    #[doc(alias = "pfring_get_bound_device_address")]
    pub fn bound_device_address(&self) -> Result<[u8; 6]> {
        match &self.backend {
            Backend::Packet(b) => match &b.ifname {
                None => Ok([0; 6]),
                Some(n) => iface::mac_address(n)
                    .map_err(|e| Error::from_os("SIOCGIFHWADDR", e, "read MAC", "none", n)),
            },
            Backend::Xdp(x) => iface::mac_address(&x.ifname)
                .map_err(|e| Error::from_os("SIOCGIFHWADDR", e, "read MAC", "none", &x.ifname)),
            Backend::Multi(_) | Backend::Pcap(_) | Backend::Zc(_) | Backend::Shm(_) => Ok([0; 6]),
        }
    }

    /// The bound device's interface index (0 for `any` / `none` and multi-device rings; their
    /// packets carry their device's index in the header's `if_index`).
    #[doc(alias = "pfring_get_bound_device_ifindex")]
    pub fn bound_device_ifindex(&self) -> i32 {
        match &self.backend {
            Backend::Packet(b) => b.ifindex,
            Backend::Xdp(x) => x.ifindex,
            Backend::Multi(_) | Backend::Pcap(_) | Backend::Zc(_) | Backend::Shm(_) => 0,
        }
    }

    /// Number of RX channels (queues) of the bound device, from ethtool (1 when the driver
    /// reports none). On a multi-device ring: the smallest count among its devices.
    ///
    /// # Errors
    /// The ethtool request failed for another reason than "not supported".
    #[doc(alias = "pfring_get_num_rx_channels")]
    pub fn num_rx_channels(&self) -> Result<u8> {
        if let Backend::Xdp(x) = &self.backend {
            return iface::rx_channels(&x.ifname)
                .map(|c| c.min(64) as u8)
                .map_err(|e| Error::from_os("SIOCETHTOOL", e, "ethtool", "none", &x.ifname));
        }
        let mut min: Option<u8> = None;
        for b in self.backend.sockets() {
            let c = match &b.ifname {
                None => 1,
                Some(n) => iface::rx_channels(n)
                    .map(|c| c.min(64) as u8)
                    .map_err(|e| Error::from_os("SIOCETHTOOL", e, "ethtool", "none", n))?,
            };
            min = Some(min.map_or(c, |m| m.min(c)));
        }
        Ok(min.unwrap_or(1))
    }

    /// The bound device's MTU (on a multi-device ring: the smallest of its devices').
    ///
    /// # Errors
    /// `SIOCGIFMTU` failure; [`Error::NotSupported`] for unbound rings.
    #[doc(alias = "pfring_get_mtu_size")]
    pub fn mtu(&self) -> Result<u32> {
        match &self.backend {
            Backend::Packet(b) => match &b.ifname {
                None => Err(Error::NotSupported {
                    op: "mtu of an unbound ring",
                    backend: "packet",
                }),
                Some(n) => {
                    iface::mtu(n).map_err(|e| Error::from_os("SIOCGIFMTU", e, "mtu", "none", n))
                }
            },
            Backend::Multi(m) => {
                let mut min = u32::MAX;
                for b in &m.members {
                    let n = b.ifname.as_deref().unwrap_or_default();
                    let mtu = iface::mtu(n)
                        .map_err(|e| Error::from_os("SIOCGIFMTU", e, "mtu", "none", n))?;
                    min = min.min(mtu);
                }
                Ok(min)
            }
            Backend::Pcap(_) => Err(Error::NotSupported {
                op: "mtu",
                backend: "pcap",
            }),
            Backend::Xdp(x) => iface::mtu(&x.ifname)
                .map_err(|e| Error::from_os("SIOCGIFMTU", e, "mtu", "none", &x.ifname)),
            Backend::Zc(_) => Err(Error::NotSupported {
                op: "mtu",
                backend: "zc",
            }),
            Backend::Shm(_) => Err(Error::NotSupported {
                op: "mtu",
                backend: "userspace",
            }),
        }
    }

    /// PF_RING API level of this ring ([`VERSION_NUM`]).
    #[doc(alias = "pfring_version")]
    pub fn version(&self) -> u32 {
        VERSION_NUM
    }

    /// The timestamp of the next packet, without consuming it; `None` when nothing is queued.
    #[doc(alias = "pfring_next_pkt_time")]
    pub fn next_packet_time(&mut self) -> Option<Timestamp> {
        match &mut self.backend {
            Backend::Packet(b) => b.rx.peek_timestamp().map(|(sec, nsec)| Timestamp {
                sec: u64::from(sec),
                nsec,
            }),
            // The member the next receive reads from.
            Backend::Multi(m) => {
                let i = m.next_ready()?;
                m.members[i]
                    .rx
                    .peek_timestamp()
                    .map(|(sec, nsec)| Timestamp {
                        sec: u64::from(sec),
                        nsec,
                    })
            }
            // The record is read ahead and kept for the next receive.
            Backend::Pcap(p) => p.peek(self.cfg.caplen),
            // AF_XDP frames carry no timestamp: the next frame is stamped now, and the
            // receive that takes it hands out this stamp.
            Backend::Xdp(x) => x.rx.peek_timestamp().map(|(sec, nsec)| Timestamp {
                sec: u64::from(sec),
                nsec,
            }),
            Backend::Zc(z) => z.peek(),
            Backend::Shm(s) => s
                .peek_timestamp()
                .map(|(sec, nsec)| Timestamp { sec, nsec }),
        }
    }

    /// The caplen in force.
    #[doc(alias = "pfring_get_caplen")]
    pub fn caplen(&self) -> u32 {
        self.cfg.caplen
    }

    /// Whether the long header is filled.
    pub fn long_header(&self) -> bool {
        self.cfg.long_header
    }

    /// Bytes of ring memory.
    pub fn ring_memory(&self) -> usize {
        match &self.backend {
            Backend::Packet(b) => b.rx.memory(),
            Backend::Multi(m) => m.members.iter().map(|b| b.rx.memory()).sum(),
            Backend::Pcap(_) => 0,
            Backend::Xdp(x) => x.memory(),
            Backend::Zc(z) => z.slave.memory(),
            Backend::Shm(s) => s.memory(),
        }
    }

    fn check_send(&self) -> Result<()> {
        if !self.enabled {
            return Err(Error::RingNotEnabled);
        }
        if self.cfg.mode == SocketMode::RecvOnly {
            return Err(Error::WrongSocketMode {
                op: "send",
                mode: self.cfg.mode.name(),
            });
        }
        Ok(())
    }

    /// Transmits `frame` (a whole Ethernet frame) on the bound device. With `flush` it goes
    /// out at once; without, frames are queued (in the TX ring or the user-memory batch, see
    /// [`TxMode`]) and sent when the TX watermark is reached or on [`Ring::flush_tx_packets`].
    ///
    /// Nothing is dropped silently: when the queue is full the frame is not queued and
    /// [`Error::NoTxSlotAvailable`] says so (retry after [`Ring::wait_tx_slot`]).
    ///
    /// # Errors
    /// [`Error::RingNotEnabled`], [`Error::WrongSocketMode`] on a receive-only ring,
    /// [`Error::FrameTooLarge`] (over MTU + 18), [`Error::FrameTooShort`],
    /// [`Error::NoTxSlotAvailable`], [`Error::NotSupported`] for rings bound to `any`/`none`
    /// and for multi-device rings (`eth0,eth1`: PF_RING has no send on them either).
    #[doc(alias = "pfring_send")]
    pub fn send(&mut self, frame: &[u8], flush: bool) -> Result<()> {
        self.check_send()?;
        let wm = usize::from(self.cfg.tx_watermark.max(1));
        match &mut self.backend {
            Backend::Packet(b) => b.send(frame, flush, wm, &self.cfg),
            Backend::Xdp(x) => x.send(frame, flush, wm),
            Backend::Zc(z) => z.send(frame),
            Backend::Shm(s) => s.send(frame, flush, wm),
            Backend::Multi(_) => Err(multi_send()),
            Backend::Pcap(_) => Err(Error::NotSupported {
                op: "sending",
                backend: "pcap",
            }),
        }
    }

    /// Sends `frames` in order, after any frames queued by [`Ring::send`], as many as the
    /// device takes now, and returns how many went (all of them are handed to the kernel on
    /// return, as after [`Ring::flush_tx_packets`]). The way to send a burst without the copy
    /// [`Ring::send`] makes to queue a frame: with [`TxMode::Batch`] the kernel reads the
    /// frames from `frames` itself; other rings send them one by one.
    ///
    /// # Errors
    /// As [`Ring::send`], for the first frame only: [`Error::NoTxSlotAvailable`] when not
    /// even it could go, [`Error::FrameTooLarge`] / [`Error::FrameTooShort`] when it breaks
    /// the device's limits. A later frame that cannot go ends the burst before it, and the
    /// next call, starting there, reports it.
    pub fn send_burst<F: AsRef<[u8]>>(&mut self, frames: &[F]) -> Result<usize> {
        self.check_send()?;
        if let Backend::Packet(b) = &mut self.backend
            && let Some(r) = b.send_burst(frames, &self.cfg)
        {
            return r;
        }
        let mut n = 0;
        for f in frames {
            match self.send(f.as_ref(), false) {
                Ok(()) => n += 1,
                Err(e) if n == 0 => return Err(e),
                Err(_) => break,
            }
        }
        self.flush_tx_packets()?;
        Ok(n)
    }

    /// Sends every frame queued by [`Ring::send`] without `flush`.
    ///
    /// # Errors
    /// The kick system call failed.
    #[doc(alias = "pfring_flush_tx_packets")]
    pub fn flush_tx_packets(&mut self) -> Result<()> {
        match &mut self.backend {
            Backend::Packet(b) => b.flush_tx(),
            Backend::Xdp(x) => x.flush_tx(),
            Backend::Shm(s) => {
                s.publish();
                Ok(())
            }
            Backend::Multi(_) | Backend::Pcap(_) | Backend::Zc(_) => Ok(()),
        }
    }

    /// Frames [`Ring::send`] queues before sending them without being asked (default 64).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for 0.
    #[doc(alias = "pfring_set_tx_watermark")]
    pub fn set_tx_watermark(&mut self, watermark: u16) -> Result<()> {
        if watermark == 0 {
            return Err(Error::InvalidArgument("TX watermark 0".into()));
        }
        self.cfg.tx_watermark = watermark;
        Ok(())
    }

    /// Waits up to `timeout` until the TX queue (ring slot or batch) has room for a frame;
    /// returns whether it has.
    ///
    /// # Errors
    /// As [`Ring::send`].
    pub fn wait_tx_slot(&mut self, timeout: Duration) -> Result<bool> {
        self.check_send()?;
        match &mut self.backend {
            Backend::Packet(b) => b.wait_tx_slot(timeout, &self.cfg),
            Backend::Xdp(x) => x.wait_tx_slot(timeout),
            Backend::Shm(s) => s.wait_tx_slot(timeout),
            Backend::Multi(_) => Err(multi_send()),
            Backend::Zc(_) => Err(Error::NotSupported {
                op: "waiting for a TX slot",
                backend: "zc",
            }),
            Backend::Pcap(_) => Err(Error::NotSupported {
                op: "sending",
                backend: "pcap",
            }),
        }
    }

    /// Frames accepted by [`Ring::send`] so far, and how many of them the kernel has not
    /// transmitted yet.
    pub fn tx_stats(&self) -> (u64, usize) {
        match &self.backend {
            Backend::Packet(b) => b.tx_counts(),
            Backend::Xdp(x) => x.tx_counts(),
            Backend::Shm(s) => (s.sent, s.pending()),
            Backend::Multi(_) | Backend::Pcap(_) | Backend::Zc(_) => (0, 0),
        }
    }

    /// Transmits `frame` on interface `ifindex` (any interface of the ring's namespace),
    /// without the TX ring.
    ///
    /// # Errors
    /// As [`Ring::send`], and [`Error::NoSuchDevice`] for an unknown index.
    #[doc(alias = "pfring_send_ifindex")]
    pub fn send_ifindex(&mut self, frame: &[u8], ifindex: i32) -> Result<()> {
        if self.cfg.mode == SocketMode::RecvOnly {
            return Err(Error::WrongSocketMode {
                op: "send",
                mode: self.cfg.mode.name(),
            });
        }
        match &mut self.backend {
            Backend::Packet(b) => b.send_ifindex(frame, ifindex),
            Backend::Xdp(x) if x.ifindex == ifindex => x.send(frame, true, 1),
            Backend::Xdp(_) => Err(Error::NotSupported {
                op: "sending on another interface than the ring's",
                backend: "xdp",
            }),
            Backend::Shm(_) => Err(Error::NotSupported {
                op: "send_ifindex",
                backend: "userspace",
            }),
            Backend::Multi(_) => Err(multi_send()),
            Backend::Zc(_) => Err(Error::NotSupported {
                op: "sending to an interface index",
                backend: "zc",
            }),
            Backend::Pcap(_) => Err(Error::NotSupported {
                op: "sending",
                backend: "pcap",
            }),
        }
    }

    /// Re-sends the last packet this ring received (by [`Ring::recv`] or [`Ring::recv_burst`])
    /// on interface `tx_ifindex`, straight from the ring memory: how pfbridge forwards.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if nothing was received yet; otherwise as
    /// [`Ring::send_ifindex`].
    #[doc(alias = "pfring_send_last_rx_packet")]
    pub fn send_last_rx_packet(&mut self, tx_ifindex: i32) -> Result<()> {
        let Some(f) = self.last_rx else {
            return Err(Error::InvalidArgument("no packet received yet".into()));
        };
        let caplen = self.cfg.caplen;
        match &mut self.backend {
            Backend::Packet(b) => {
                if !b.rx.holds(f.block as usize) {
                    return Err(Error::InvalidArgument(
                        "the last packet is no longer in the ring".into(),
                    ));
                }
                let data = b.rx.frame_bytes(&f, caplen);
                b.sock
                    .send_to(data, tx_ifindex)
                    .map(|_| ())
                    .map_err(|source| {
                        Error::Syscall(SyscallError {
                            call: "sendto(AF_PACKET)",
                            source,
                        })
                    })
            }
            Backend::Zc(_) => Err(Error::NotSupported {
                op: "re-sending the last packet",
                backend: "zc",
            }),
            Backend::Multi(_) => Err(multi_send()),
            Backend::Shm(_) => Err(Error::NotSupported {
                op: "send_last_rx_packet",
                backend: "userspace",
            }),
            Backend::Pcap(_) => Err(Error::NotSupported {
                op: "sending",
                backend: "pcap",
            }),
            // The frame went back to the fill ring when its packet was dropped.
            Backend::Xdp(_) => Err(Error::NotSupported {
                op: "send_last_rx_packet (frames return to the kernel when dropped; send the \
                     bytes with send)",
                backend: "xdp",
            }),
        }
    }

    /// Transmits `frame` at once and returns when it left (`pfring_send_get_time`): the
    /// device's hardware transmit timestamp where it stamps transmitted frames, else the
    /// kernel's software timestamp taken as the driver takes the frame (`SO_TIMESTAMPING`
    /// transmit stamps read from the socket's error queue). Sent without the TX ring.
    ///
    /// # Errors
    /// As [`Ring::send`]; [`Error::NotSupported`] when the device reports no timestamp within
    /// a second (its driver does not call `skb_tx_timestamp`), on `any`/`none`, files and
    /// multi-device rings.
    #[doc(alias = "pfring_send_get_time")]
    pub fn send_get_time(&mut self, frame: &[u8]) -> Result<Timestamp> {
        self.check_send()?;
        match &mut self.backend {
            Backend::Packet(b) => {
                let (sec, nsec) = b.send_get_time(frame)?;
                Ok(Timestamp {
                    sec: sec.max(0) as u64,
                    nsec: nsec.clamp(0, 999_999_999) as u32,
                })
            }
            _ => Err(Error::NotSupported {
                op: "send_get_time",
                backend: self.spec.module(),
            }),
        }
    }

    /// Wraps the ring for use from several threads (`PF_RING_REENTRANT`).
    pub fn into_shared(self) -> SharedRing {
        SharedRing {
            fd: self.as_fd().try_clone_to_owned().ok(),
            breaker: Arc::clone(&self.breaker),
            ring: Mutex::new(self),
        }
    }
}

impl AsFd for Ring {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match &self.backend {
            Backend::Packet(b) => b.fd(),
            Backend::Multi(m) => m.fd(),
            Backend::Pcap(p) => p.fd(),
            Backend::Xdp(x) => x.fd(),
            // A cluster queue has no readiness descriptor: the break eventfd stands in.
            Backend::Zc(_) => self.breaker.eventfd().as_fd(),
            Backend::Shm(s) => s.fd(),
        }
    }
}

/// PF_RING's packet hash of `frame` (parsed up to the transport layer), for the long header.
#[inline]
fn long_header_hash(frame: &[u8]) -> u32 {
    ParsedPacket::parse(frame, 4).0.pfring_hash()
}

/// Most packets one [`Burst`] holds.
pub const MAX_BURST: usize = 256;

/// Packets received together by [`Ring::recv_burst`], held in the ring until dropped.
pub struct Burst<'ring> {
    ring: &'ring mut Ring,
    len: usize,
}

impl std::fmt::Debug for Burst<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Burst").field("len", &self.len).finish()
    }
}

impl Burst<'_> {
    /// Number of packets.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the burst is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Header and bytes of packet `i`.
    pub fn get(&self, i: usize) -> Option<(PacketHeader, &[u8])> {
        if i >= self.len {
            return None;
        }
        self.iter().nth(i)
    }

    /// The packets in order.
    pub fn iter(&self) -> impl Iterator<Item = (PacketHeader, &[u8])> {
        let ring = &*self.ring;
        // Device rings fill `burst`; a file ring holds at most its current record.
        let (rx, frames, file, shm) = match &ring.backend {
            Backend::Packet(b) => (Some(&b.rx), &ring.burst[..self.len], None, None),
            Backend::Multi(m) => (
                m.members.get(ring.burst_member).map(|b| &b.rx),
                &ring.burst[..self.len],
                None,
                None,
            ),
            Backend::Pcap(p) => (
                None,
                &ring.burst[..0],
                (self.len == 1).then_some((p.hdr, &p.buf[..])),
                None,
            ),
            Backend::Zc(z) => (
                None,
                &ring.burst[..0],
                (self.len == 1).then(|| (z.hdr, z.data())),
                None,
            ),
            Backend::Xdp(_) => (None, &ring.burst[..self.len], None, None),
            Backend::Shm(s) => (None, &ring.burst[..self.len], None, Some(s)),
        };
        let xdp = match &ring.backend {
            Backend::Xdp(x) => Some(&x.rx),
            _ => None,
        };
        let long = ring.cfg.long_header;
        frames
            .iter()
            .map(move |f| {
                let mut h = ring.header_of(f);
                let data = match (xdp, shm) {
                    (Some(x), _) => x.frame_bytes(f, h.caplen),
                    (None, Some(s)) => s.frame_bytes(f, h.caplen),
                    (None, None) => rx.map_or(&[][..], |rx| rx.frame_bytes(f, h.caplen)),
                };
                if long {
                    h.extended_hdr.pkt_hash = long_header_hash(data);
                }
                (h, data)
            })
            .chain(file.map(move |(mut h, data)| {
                if long {
                    h.extended_hdr.pkt_hash = long_header_hash(data);
                }
                (h, data)
            }))
    }
}

impl Drop for Burst<'_> {
    fn drop(&mut self) {
        match &mut self.ring.backend {
            Backend::Packet(b) => b.rx.release(),
            Backend::Multi(m) => {
                if let Some(b) = m.members.get_mut(self.ring.burst_member) {
                    b.rx.release();
                }
            }
            Backend::Xdp(x) => x.rx.recycle_all(&self.ring.burst[..self.len]),
            Backend::Zc(z) => z.release_current(),
            // Userspace slots are released by the next receive call.
            Backend::Pcap(_) | Backend::Shm(_) => {}
        }
    }
}

/// A ring shared by several threads (`PF_RING_REENTRANT`): receives copy into the caller's
/// buffer under a lock, and the lock is not held while waiting.
#[derive(Debug)]
pub struct SharedRing {
    ring: Mutex<Ring>,
    fd: Option<std::os::fd::OwnedFd>,
    breaker: Arc<Breaker>,
}

impl SharedRing {
    fn lock(&self) -> std::sync::MutexGuard<'_, Ring> {
        // A panic in another thread while holding the lock leaves the ring consistent (every
        // operation under it completes or releases its slots on unwind), so keep going.
        self.ring.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` with exclusive access to the ring (configuration, stats, ...).
    pub fn with<R>(&self, f: impl FnOnce(&mut Ring) -> R) -> R {
        f(&mut self.lock())
    }

    /// Receives one packet into `buf` (copying), from any thread.
    ///
    /// # Errors
    /// As [`Ring::recv_into`].
    #[doc(alias = "pfring_recv")]
    pub fn recv_into(&self, buf: &mut [u8], wait: bool) -> Result<Option<PacketHeader>> {
        loop {
            let got = self.lock().recv_into(buf, false)?;
            if got.is_some() || !wait {
                return Ok(got);
            }
            if self.breaker.is_set() {
                return Ok(None);
            }
            let (d, shm) = {
                let mut ring = self.lock();
                ring.release_for_wait();
                (
                    ring.cfg.poll_duration,
                    matches!(ring.backend, Backend::Shm(_)),
                )
            };
            if shm {
                // A userspace ring has no descriptor that becomes readable: nap (1 ms), still
                // woken at once by breakloop.
                poll_in(
                    self.breaker.eventfd().as_fd(),
                    None,
                    Some(d.min(Duration::from_millis(1))),
                )
                .map_err(|source| SyscallError {
                    call: "poll",
                    source,
                })?;
            } else if let Some(fd) = &self.fd {
                poll_in(fd.as_fd(), Some(self.breaker.eventfd().as_fd()), Some(d)).map_err(
                    |source| SyscallError {
                        call: "poll",
                        source,
                    },
                )?;
            }
        }
    }

    /// Breaks every thread's blocking receive: from now on they return `Ok(None)` at once
    /// (so all threads see it), until [`SharedRing::clear_break`].
    #[doc(alias = "pfring_breakloop")]
    pub fn breakloop(&self) {
        self.breaker.trigger();
    }

    /// Lets blocking receives wait again after [`SharedRing::breakloop`].
    pub fn clear_break(&self) {
        self.breaker.reset();
    }

    /// Statistics, as [`Ring::stats`].
    ///
    /// # Errors
    /// As [`Ring::stats`].
    #[doc(alias = "pfring_stats")]
    pub fn stats(&self) -> Result<Stats> {
        self.lock().stats()
    }
}
