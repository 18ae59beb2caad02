//! The default module: an AF_PACKET socket with a TPACKET_V3 mmap'ed RX ring.
//!
//! PF_RING's `pf_ring.ko` socket maps onto this as follows:
//! - the ring: `PACKET_RX_RING` (TPACKET_V3), blocks retired when full or after the block
//!   timeout (`RingBuilder::block_timeout`, 16 ms by default), so at high rates there is no
//!   system call per packet;
//! - `enable_ring` / `disable_ring`: the socket is created with protocol 0 (hooked to nothing)
//!   and bound to `ETH_P_ALL` on the first enable; disabling attaches a reject-all filter
//!   (binding to protocol 0 would not unhook it: `packet_bind` treats 0 as "keep the current
//!   protocol"), so a disabled ring receives nothing and counts no drops;
//! - direction, `ethX@Y` queue binding, `ethX.V` VLAN binding and the caplen: one classic BPF
//!   program attached with `SO_ATTACH_FILTER` (it reads `SKF_AD_PKTTYPE`, `SKF_AD_QUEUE` and
//!   `SKF_AD_VLAN_TAG`, and returns the caplen so the kernel copies no more than that);
//! - promiscuous mode: `PACKET_ADD_MEMBERSHIP` with `PACKET_MR_PROMISC` (reference counted by
//!   the kernel and dropped when the socket closes);
//! - stats: `PACKET_STATISTICS` (reset on each read, so accumulated here);
//! - quick mode: an exclusive `flock` per (namespace, interface, queue) under the runtime dir.

use std::os::fd::{AsFd, BorrowedFd};
use std::path::PathBuf;

use crate::backend::tx_batch::TxBatch;
use crate::device::{ChannelMask, Interfaces, PacketDevice};
use crate::error::{Error, Result, SyscallError};
use crate::ring::{Direction, RingConfig, SocketMode, TxMode};
use crate::sys::iface::{self, ExclusiveLock};
use crate::sys::socket::poll_out;
use crate::sys::socket::{PacketSocket, SockFilter, TpacketReq3, opt};
use crate::sys::tpacket::{RxRing, TxRing, frame_size_for};

/// `ETH_P_ALL`.
const ETH_P_ALL: u16 = 0x0003;

/// `PACKET_OUTGOING` (sll_pkttype of frames this host sends).
pub const PACKET_OUTGOING: u8 = 4;

/// The AF_PACKET backend state.
#[derive(Debug)]
pub(crate) struct PacketBackend {
    pub(crate) sock: PacketSocket,
    pub(crate) rx: RxRing,
    /// A send-only ring (`SocketMode::SendOnly`): its socket has no RX ring and is never bound,
    /// so it costs no ring memory and no per-frame work; only the TX socket sends.
    send_only: bool,
    pub(crate) ifindex: i32,
    pub(crate) ifname: Option<String>,
    pub(crate) vlan: Option<u16>,
    pub(crate) channels: ChannelMask,
    pub(crate) queue_encoding: QueueEncoding,
    pub(crate) kernel_drops: u64,
    pub(crate) kernel_seen: u64,
    bound: bool,
    /// Reassemble IPv4 fragments (`RingBuilder::ip_defrag`).
    defrag: bool,
    /// Whether the socket joined its private defragmenting fanout group.
    defrag_joined: bool,
    /// The application's BPF filter (compiled for the kernel), run after the binding checks.
    pub(crate) user_filter: Option<crate::filter::Program>,
    /// The ring's software rules compiled for the kernel (run after `user_filter`).
    pub(crate) rules_filter: Option<crate::filter::Program>,
    tx: Option<TxState>,
    /// A socket with transmit timestamps on, for `send_get_time` (created on first use).
    ts_sock: Option<PacketSocket>,
    _locks: Vec<ExclusiveLock>,
    /// The cluster (fanout group) this ring is in or will join when bound.
    pub(crate) cluster: Option<crate::cluster::Membership>,
    /// The ring's place in an ip-with-dup cluster (filters instead of a fanout group).
    dup: Option<crate::cluster::DupMembership>,
    /// The filter last attached (`None`: rejecting), for joining an ip-with-dup cluster.
    last_filter: std::sync::Mutex<Option<Vec<SockFilter>>>,
    /// RSS rehash: the device's RX queue count (see [`crate::cluster::rss_rehash_prefix`]).
    rehash_queues: Option<u32>,
}

/// The transmit side: its own socket (bound to the device with protocol 0 so it receives
/// nothing), created on the first send, with a TX ring or a user-memory batch ([`TxMode`]).
#[derive(Debug)]
pub(crate) struct TxState {
    sock: PacketSocket,
    path: TxPath,
    /// Frames queued since the last flush.
    queued: usize,
    /// Largest frame the device takes (MTU + 14 + a VLAN tag).
    max_frame: usize,
    pub(crate) sent: u64,
}

/// Where queued frames wait.
#[derive(Debug)]
enum TxPath {
    /// A TPACKET_V2 `PACKET_TX_RING`, kicked with an empty `send`.
    Ring(TxRing),
    /// User memory, handed over with `sendmmsg`.
    Batch(TxBatch),
}

/// `PACKET_FANOUT_HASH`.
const PACKET_FANOUT_HASH: u16 = 0;
/// `PACKET_FANOUT_FLAG_DEFRAG`: reassemble IPv4 fragments before fanout.
const FANOUT_FLAG_DEFRAG: u16 = 0x8000;
/// `PACKET_FANOUT_FLAG_UNIQUEID`: the kernel picks an unused group id.
const FANOUT_FLAG_UNIQUEID: u16 = 0x2000;

/// TX ring slots of a device without a TX descriptor ring of its own (veth, loopback, most
/// virtual devices): 256 slots of 2 KiB, 512 KiB, which stays in a core's L2 cache while
/// user space fills slots and the kernel copies them out. Such devices hand a frame on at
/// once (veth frees it when the peer has received it), so a deeper ring only adds cache
/// misses: measured with 1514 B frames on veth, pfsend spent 15 % less time on its core with
/// 256 slots than with 1024 (perf: the user-space copy into the ring took 96 instead of 212
/// samples, the kernel's reads of the slots and the receive queue lock fewer too).
const TX_SLOTS_VIRTUAL: usize = 256;
/// Upper bound of TX ring slots on a device with a descriptor ring (8 MiB of 2 KiB slots).
const TX_SLOTS_MAX: usize = 4096;

/// TX ring slots for frames of up to `max_frame` bytes on a device whose own TX ring has
/// `tx_descriptors` entries (`ETHTOOL_GRINGPARAM`). A NIC keeps a frame's slot until it
/// reports the transmit complete, so the ring covers twice the NIC's ring (the NIC's frames in
/// flight, and as many being filled), within 256..4096; devices without one get
/// [`TX_SLOTS_VIRTUAL`]. Big-MTU devices (loopback: 65536) get proportionally fewer, larger
/// slots, at least 16.
fn tx_slots(max_frame: usize, tx_descriptors: Option<u32>) -> usize {
    let base = tx_descriptors.map_or(TX_SLOTS_VIRTUAL, |d| {
        (2 * d as usize).clamp(TX_SLOTS_VIRTUAL, TX_SLOTS_MAX)
    });
    (base * 2048 / max_frame.max(2048)).max(16)
}

/// The receiving socket of a ring: TPACKET_V3 with its RX ring, or for a send-only ring a
/// bare socket with an [`RxRing::empty`] ring (setting up and tearing down a kernel ring each
/// wait for an RCU grace period, 10-20 ms, that a ring which never receives need not pay).
fn rx_socket(cfg: &RingConfig, send_only: bool, device: &str) -> Result<(PacketSocket, RxRing)> {
    let sock = PacketSocket::new(0).map_err(|e| {
        Error::from_os(
            "socket(AF_PACKET)",
            e,
            "opening an AF_PACKET socket",
            "CAP_NET_RAW",
            device,
        )
    })?;
    if send_only {
        return Ok((sock, RxRing::empty()));
    }
    sock.set_version(opt::TPACKET_V3)
        .map_err(Error::syscall("setsockopt(PACKET_VERSION)"))?;
    let req = ring_geometry(cfg.caplen, cfg.slots, cfg.ring_bytes, cfg.block_timeout_ms);
    let rx = RxRing::new(&sock, &req).map_err(|e| {
        if e.raw_os_error() == Some(libc::ENOMEM) {
            Error::InvalidArgument(format!(
                "cannot allocate a {} MiB ring: {e}",
                (req.tp_block_size as usize * req.tp_block_nr as usize) >> 20
            ))
        } else {
            Error::Syscall(SyscallError {
                call: "setsockopt(PACKET_RX_RING)/mmap",
                source: e,
            })
        }
    })?;
    Ok((sock, rx))
}

/// What a failed `sendmmsg` means for the frame it stopped at: `None` when the device queue is
/// full (the frame waits for the next flush), [`Error::TxRefused`] when the kernel refuses the
/// frame itself, else the system call's error.
fn sendmmsg_failure(e: std::io::Error) -> Option<Error> {
    match e.raw_os_error() {
        Some(libc::EAGAIN | libc::ENOBUFS | libc::EINTR) => None,
        Some(libc::EINVAL | libc::EMSGSIZE) => Some(Error::TxRefused { count: 1 }),
        _ => Some(Error::Syscall(SyscallError {
            call: "sendmmsg(AF_PACKET)",
            source: e,
        })),
    }
}

/// Geometry of the RX ring for `slots` frames of `caplen` bytes (or `ring_bytes` in total).
pub(crate) fn ring_geometry(
    caplen: u32,
    slots: u32,
    ring_bytes: Option<usize>,
    retire_ms: u32,
) -> TpacketReq3 {
    const PAGE: usize = 4096;
    let frame = frame_size_for(caplen as usize, 0).max(PAGE / 8);
    let total = ring_bytes
        .unwrap_or(frame * slots.max(2) as usize)
        .max(2 * PAGE);
    // A 16th of the ring per block (at most 1 MiB, at least a page). The kernel closes a block
    // when it is full or when the retire timer fires, so sparse traffic uses a block per timer
    // period whatever the block's size: a ring of few blocks fills with a frame or two per
    // block when the application stalls. Each block also costs the reader a wake-up under
    // load, so blocks stay large: measured at 60 B line rate on veth, the reader's CPU per
    // packet was 35 ns with 1 MiB blocks, 40 with 512 KiB, 51 with 256 KiB, 61-75 with
    // 128 KiB. The default ring (6.4 MiB) is 13 blocks of 512 KiB: ~200 ms of sparse traffic.
    let mut block = (1usize << 20).min((total / 16).next_power_of_two().max(PAGE));
    while block < frame + 64 {
        block *= 2;
    }
    let block_nr = total.div_ceil(block).max(2);
    let frame_size = frame.next_power_of_two().min(block);
    TpacketReq3 {
        tp_block_size: block as u32,
        tp_block_nr: block_nr as u32,
        tp_frame_size: frame_size as u32,
        tp_frame_nr: ((block / frame_size) * block_nr) as u32,
        tp_retire_blk_tov: retire_ms,
        tp_sizeof_priv: 0,
        tp_feature_req_word: 0,
    }
}

/// The runtime directory for locks (quick mode, ip-with-dup member lists): the registry's
/// ([`crate::registry::runtime_dir`]: `$PFRING_RUNTIME_DIR`, `/run/pfring` for root,
/// `$XDG_RUNTIME_DIR/pfring`) when it can be written, else the temp dir.
pub(crate) fn runtime_dir() -> PathBuf {
    let candidates = [
        crate::registry::runtime_dir().ok(),
        Some(std::env::temp_dir().join("pfring")),
    ];
    for dir in candidates.into_iter().flatten() {
        if std::fs::create_dir_all(&dir).is_ok() {
            let probe = dir.join(".probe");
            if std::fs::write(&probe, b"").is_ok() {
                return dir;
            }
        }
    }
    std::env::temp_dir()
}

impl PacketBackend {
    pub(crate) fn open(spec: &str, dev: &PacketDevice, cfg: &RingConfig) -> Result<Self> {
        let (ifindex, ifname, vlan) = match &dev.interfaces {
            Interfaces::Any => (0, None, None),
            Interfaces::None => (0, None, None),
            Interfaces::List(list) if list.len() == 1 => {
                let itf = &list[0];
                let name = itf.name.as_str();
                let idx = iface::ifindex(name).map_err(|e| {
                    Error::from_os("if_nametoindex", e, "open", "CAP_NET_RAW", name)
                })?;
                (idx, Some(name.to_owned()), itf.vlan)
            }
            Interfaces::List(_) => {
                return Err(Error::NotSupported {
                    op: "binding one ring to several devices (eth0,eth1)",
                    backend: "packet",
                });
            }
        };
        let send_only = cfg.mode == SocketMode::SendOnly;
        let (sock, rx) = rx_socket(cfg, send_only, spec)?;
        let mut locks = Vec::new();
        if cfg.quick_mode {
            let ns = iface::netns_inode();
            let dir = runtime_dir();
            let nch = ifname
                .as_deref()
                .map_or(1, |n| iface::rx_channels(n).unwrap_or(1));
            for q in 0..nch.min(64) {
                if !dev.channels.contains(q) {
                    continue;
                }
                let path = dir.join(format!("quick-{ns}-{ifindex}-{q}.lock"));
                match ExclusiveLock::try_acquire(&path) {
                    Ok(Some(l)) => locks.push(l),
                    Ok(None) => {
                        return Err(Error::DeviceBusy {
                            device: format!("{spec} (queue {q})"),
                        });
                    }
                    Err(e) => {
                        return Err(Error::Syscall(SyscallError {
                            call: "flock(quick mode lock)",
                            source: e,
                        }));
                    }
                }
            }
        }
        let queue_encoding = QueueEncoding::for_driver(
            &ifname
                .as_deref()
                .map(|n| iface::driver_name(n).unwrap_or_default())
                .unwrap_or_default(),
        );
        let backend = PacketBackend {
            queue_encoding,
            sock,
            rx,
            send_only,
            ifindex,
            ifname,
            vlan,
            channels: dev.channels,
            kernel_drops: 0,
            kernel_seen: 0,
            bound: false,
            defrag: cfg.ip_defrag,
            defrag_joined: false,
            user_filter: None,
            rules_filter: None,
            tx: None,
            ts_sock: None,
            _locks: locks,
            cluster: None,
            dup: None,
            last_filter: std::sync::Mutex::new(None),
            rehash_queues: None,
        };
        if cfg.promisc && ifindex != 0 {
            backend.sock.set_promisc(ifindex, true).map_err(|e| {
                Error::from_os(
                    "setsockopt(PACKET_ADD_MEMBERSHIP)",
                    e,
                    "promiscuous mode",
                    "CAP_NET_RAW",
                    spec,
                )
            })?;
        }
        Ok(backend)
    }

    /// (Re)attaches the binding program for the current direction, VLAN, queues and caplen.
    pub(crate) fn apply_filter(&self, cfg: &RingConfig) -> Result<()> {
        self.sock
            .set_ignore_outgoing(cfg.direction == Direction::RxOnly)
            .or_else(|e| {
                // Kernels before 4.20 lack the option; the filter below still decides.
                if e.raw_os_error() == Some(libc::ENOPROTOOPT) {
                    Ok(())
                } else {
                    Err(e)
                }
            })
            .map_err(Error::syscall("setsockopt(PACKET_IGNORE_OUTGOING)"))?;
        // With RSS rehash the channel is chosen by the rehash prefix, not the NIC's queue.
        let rehash = self.rehash_queues.filter(|_| !self.channels.is_all());
        let combined = self
            .rules_filter
            .as_ref()
            .and_then(|r| crate::filter::rules::offload::combine(self.user_filter.as_ref(), r));
        let mut prog = binding_program(
            cfg.direction,
            self.vlan,
            if rehash.is_some() {
                ChannelMask::ALL
            } else {
                self.channels
            },
            self.queue_encoding,
            cfg.caplen,
            combined.as_ref().or(self.user_filter.as_ref()),
        );
        if let Some(q) = rehash {
            let mut p = crate::cluster::rss_rehash_prefix(q, self.channels);
            p.append(&mut prog);
            prog = p;
        }
        crate::filter::bpf::insn::validate(&prog)?;
        self.attach(Some(prog))
    }

    /// Attaches the ring's own filter (`None`: reject everything), behind the member
    /// filter of an ip-with-dup cluster when the ring is in one.
    fn attach(&self, prog: Option<Vec<SockFilter>>) -> Result<()> {
        *self.last_filter.lock().unwrap_or_else(|e| e.into_inner()) = prog.clone();
        if let Some(d) = &self.dup {
            return d.set_base(prog);
        }
        let reject = [SockFilter {
            code: RET_K,
            jt: 0,
            jf: 0,
            k: 0,
        }];
        self.sock
            .attach_filter(prog.as_deref().unwrap_or(&reject))
            .map_err(Error::syscall("setsockopt(SO_ATTACH_FILTER)"))
    }

    /// Turns RSS rehash on (`pfring_enable_rss_rehash`): reads the device's RX queue count;
    /// the caller re-applies the filter.
    pub(crate) fn enable_rss_rehash(&mut self) -> Result<()> {
        let Some(name) = self.ifname.as_deref() else {
            return Err(Error::NotSupported {
                op: "enable_rss_rehash on a ring capturing every device",
                backend: "packet",
            });
        };
        let q = iface::rx_channels(name).map_err(Error::syscall("ioctl(ETHTOOL_GCHANNELS)"))?;
        self.rehash_queues = Some(q);
        Ok(())
    }

    /// Starts delivery: binds the socket on first use, then attaches the binding program.
    pub(crate) fn enable(&mut self, cfg: &RingConfig) -> Result<()> {
        if cfg.mode == SocketMode::SendOnly {
            // Nothing to receive: the socket stays unbound (no protocol hook, no filter run
            // per frame) and the TX socket, bound with protocol 0, sends. This also holds for
            // a ring opened receiving and made send-only before its first enable (the C API's
            // `pfring_open` + `pfring_set_socket_mode`), which keeps its unused RX ring.
            return Ok(());
        }
        if self.send_only {
            // Opened send-only, switched to receiving before the first enable
            // (`set_socket_mode`): the ring gets its RX ring now.
            self.send_only = false;
            (self.sock, self.rx) = self.new_rx_socket(cfg)?;
        }
        self.apply_filter(cfg)?;
        if self.bound {
            return Ok(());
        }
        self.sock
            .bind(self.ifindex, ETH_P_ALL)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ENETDOWN) => Error::InvalidArgument(format!(
                    "device {} is down",
                    self.ifname.as_deref().unwrap_or("?")
                )),
                _ => Error::Syscall(SyscallError {
                    call: "bind(AF_PACKET)",
                    source: e,
                }),
            })?;
        self.bound = true;
        self.join_cluster()?;
        self.join_private_defrag()
    }

    /// With `ip_defrag` and no fanout cluster (none, or ip-with-dup): joins a private one-member fanout group, so every
    /// frame comes back to this socket after `ip_check_defrag()` reassembled IPv4 fragments.
    fn join_private_defrag(&mut self) -> Result<()> {
        if self.defrag && (self.cluster.is_none() || self.dup.is_some()) && !self.defrag_joined {
            self.sock
                .join_fanout(
                    0,
                    PACKET_FANOUT_HASH | FANOUT_FLAG_DEFRAG | FANOUT_FLAG_UNIQUEID,
                )
                .map_err(Error::syscall("setsockopt(PACKET_FANOUT, defrag)"))?;
            self.defrag_joined = true;
        }
        Ok(())
    }

    /// Joins the wanted cluster (see [`crate::cluster`]) if the socket is bound and has not
    /// joined yet.
    pub(crate) fn join_cluster(&mut self) -> Result<()> {
        let Some(m) = self.cluster else {
            return Ok(());
        };
        if m.joined {
            return Ok(());
        }
        let mode = crate::cluster::fanout_mode(m.ty)?;
        if mode == crate::cluster::FanoutMode::DupFilter {
            // No fanout group: joins at once (bound or not), see crate::cluster.
            let base = self
                .last_filter
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            self.dup = Some(crate::cluster::DupMembership::join(
                m.id,
                self.ifindex,
                &self.sock,
                base,
            )?);
            self.cluster = Some(crate::cluster::Membership { joined: true, ..m });
            return Ok(());
        }
        if !self.bound {
            return Ok(());
        }
        if self.defrag_joined {
            return Err(Error::InvalidArgument(
                "an enabled ring with ip_defrag is already in its own fanout group: \
                 call set_cluster before enable"
                    .into(),
            ));
        }
        let Some(fanout_type) = mode.fanout_type() else {
            return Ok(());
        };
        let defrag = if self.defrag { FANOUT_FLAG_DEFRAG } else { 0 };
        self.sock
            .join_fanout(m.id, fanout_type | defrag)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::EINVAL) => Error::InvalidArgument(format!(
                    "cannot join cluster {}: it exists with another cluster type or on another device",
                    m.id
                )),
                Some(libc::ENOSPC) => {
                    Error::InvalidArgument(format!("cluster {} is full", m.id))
                }
                _ => Error::Syscall(SyscallError {
                    call: "setsockopt(PACKET_FANOUT)",
                    source: e,
                }),
            })?;
        if let crate::cluster::FanoutMode::Hash(prog) = &mode {
            self.sock
                .set_fanout_cbpf(prog)
                .map_err(Error::syscall("setsockopt(PACKET_FANOUT_DATA)"))?;
        }
        self.cluster = Some(crate::cluster::Membership { joined: true, ..m });
        Ok(())
    }

    /// A new receiving socket and ring for this ring's device, in promiscuous mode if `cfg`
    /// asks (unbound, no filter: the caller binds and filters it).
    fn new_rx_socket(&self, cfg: &RingConfig) -> Result<(PacketSocket, RxRing)> {
        let name = self.ifname.as_deref().unwrap_or("any");
        let (sock, rx) = rx_socket(cfg, self.send_only, name)?;
        if cfg.promisc && self.ifindex != 0 {
            sock.set_promisc(self.ifindex, true)
                .map_err(Error::syscall("setsockopt(PACKET_ADD_MEMBERSHIP)"))?;
        }
        Ok((sock, rx))
    }

    /// Leaves the cluster. Linux has no way to leave a fanout group but closing the
    /// socket, so a joined ring gets a new socket and RX ring (same settings, filter,
    /// promiscuous mode and binding); frames still queued in the old ring are lost.
    /// `enabled`: whether the ring delivers (else the new socket gets the reject filter).
    pub(crate) fn leave_cluster(&mut self, cfg: &RingConfig, enabled: bool) -> Result<()> {
        let Some(m) = self.cluster.take() else {
            return Ok(());
        };
        if !m.joined {
            return Ok(());
        }
        if self.dup.take().is_some() {
            // Not in a fanout group: the same socket goes on with its own filter.
            return if enabled {
                self.apply_filter(cfg)
            } else {
                self.disable()
            };
        }
        self.update_stats()?;
        (self.sock, self.rx) = self.new_rx_socket(cfg)?;
        self.defrag_joined = false;
        if enabled {
            self.apply_filter(cfg)?;
        } else {
            self.disable()?;
        }
        if self.bound {
            self.sock
                .bind(self.ifindex, ETH_P_ALL)
                .map_err(Error::syscall("bind(AF_PACKET)"))?;
            self.join_private_defrag()?;
        }
        Ok(())
    }

    /// Stops delivery with a reject-all filter; frames already queued stay in the ring.
    pub(crate) fn disable(&mut self) -> Result<()> {
        self.attach(None)
    }

    /// Folds the kernel's (resetting) counters into the accumulated ones.
    pub(crate) fn update_stats(&mut self) -> Result<()> {
        let st = self
            .sock
            .statistics()
            .map_err(Error::syscall("getsockopt(PACKET_STATISTICS)"))?;
        self.kernel_drops += u64::from(st.tp_drops);
        self.kernel_seen += u64::from(st.tp_packets);
        Ok(())
    }

    /// The TX side, created on first use.
    fn tx(&mut self, cfg: &RingConfig) -> Result<&mut TxState> {
        if self.tx.is_none() {
            let Some(name) = self.ifname.clone() else {
                return Err(Error::NotSupported {
                    op: "sending on a ring bound to `any` or `none` (use send_ifindex)",
                    backend: "packet",
                });
            };
            let mtu = iface::mtu(&name)
                .map_err(|e| Error::from_os("SIOCGIFMTU", e, "send", "CAP_NET_RAW", &name))?
                as usize;
            let max_frame = mtu + 18;
            let sock = PacketSocket::new(0).map_err(|e| {
                Error::from_os("socket(AF_PACKET)", e, "sending", "CAP_NET_RAW", &name)
            })?;
            if cfg.qdisc_bypass {
                sock.set_qdisc_bypass(true)
                    .map_err(Error::syscall("setsockopt(PACKET_QDISC_BYPASS)"))?;
            }
            let descriptors = iface::tx_descriptors(&name).ok().flatten();
            let slots = tx_slots(max_frame, descriptors);
            let ring = match cfg.tx_mode {
                TxMode::Ring => true,
                TxMode::Batch => false,
                TxMode::Auto => descriptors.is_some(),
            };
            let path = if ring {
                sock.set_version(opt::TPACKET_V2)
                    .map_err(Error::syscall("setsockopt(PACKET_VERSION)"))?;
                TxPath::Ring(
                    TxRing::new(&sock, max_frame, slots)
                        .map_err(Error::syscall("setsockopt(PACKET_TX_RING)/mmap"))?,
                )
            } else {
                TxPath::Batch(TxBatch::new(max_frame, slots))
            };
            sock.bind(self.ifindex, 0)
                .map_err(Error::syscall("bind(AF_PACKET, tx)"))?;
            self.tx = Some(TxState {
                sock,
                path,
                queued: 0,
                max_frame,
                sent: 0,
            });
        }
        Ok(self.tx.as_mut().expect("created above"))
    }

    /// Queues `frame` in the TX ring; flushes when `flush` or when `watermark` frames wait.
    pub(crate) fn send(
        &mut self,
        frame: &[u8],
        flush: bool,
        watermark: usize,
        cfg: &RingConfig,
    ) -> Result<()> {
        let tx = self.tx(cfg)?;
        tx.check(frame)?;
        let mut pushed = tx.push(frame);
        if pushed == Ok(false) {
            // Full: let the kernel catch up on what is queued, then try once more.
            tx.flush()?;
            pushed = tx.push(frame);
        }
        match pushed {
            Ok(true) => {}
            Ok(false) => return Err(Error::NoTxSlotAvailable),
            Err(count) => {
                tx.queued += 1;
                tx.sent += 1;
                tx.flush()?;
                return Err(Error::TxRefused { count });
            }
        }
        tx.queued += 1;
        tx.sent += 1;
        if flush || tx.queued >= watermark {
            tx.flush()?;
        }
        Ok(())
    }

    /// [`crate::Ring::send_burst`] on a batching ring ([`TxMode::Batch`]): the frames go to
    /// the kernel straight from the caller's memory, after any frames still queued. `None`
    /// for a TX ring (the caller sends frame by frame, which copies into the slots anyway).
    pub(crate) fn send_burst<F: AsRef<[u8]>>(
        &mut self,
        frames: &[F],
        cfg: &RingConfig,
    ) -> Option<Result<usize>> {
        let tx = match self.tx(cfg) {
            Ok(tx) => tx,
            Err(e) => return Some(Err(e)),
        };
        if !matches!(tx.path, TxPath::Batch(_)) {
            return None;
        }
        Some(tx.send_burst(frames))
    }

    /// Sends every queued frame.
    pub(crate) fn flush_tx(&mut self) -> Result<()> {
        match &mut self.tx {
            Some(tx) => tx.flush(),
            None => Ok(()),
        }
    }

    /// Waits up to `timeout` for a free TX slot.
    pub(crate) fn wait_tx_slot(
        &mut self,
        timeout: std::time::Duration,
        cfg: &RingConfig,
    ) -> Result<bool> {
        let tx = self.tx(cfg)?;
        if tx.has_free_slot() {
            return Ok(true);
        }
        tx.flush()?;
        if tx.has_free_slot() {
            return Ok(true);
        }
        poll_out(tx.sock.as_fd(), timeout).map_err(Error::syscall("poll(POLLOUT)"))?;
        if let TxPath::Batch(_) = tx.path {
            // The socket has room again: hand over what waits.
            tx.flush()?;
        }
        Ok(tx.has_free_slot())
    }

    /// Frames sent through the TX ring so far, and frames not yet transmitted.
    pub(crate) fn tx_counts(&self) -> (u64, usize) {
        match &self.tx {
            Some(tx) => (tx.sent, tx.in_flight()),
            None => (0, 0),
        }
    }

    /// Sends `frame` on the bound device and returns its transmit timestamp (hardware where
    /// the device stamps transmitted frames, else the kernel's software stamp taken when the
    /// driver hands the frame over, `skb_tx_timestamp`).
    pub(crate) fn send_get_time(&mut self, frame: &[u8]) -> Result<(i64, i64)> {
        if frame.len() < 14 {
            return Err(Error::FrameTooShort { len: frame.len() });
        }
        if self.ifname.is_none() {
            return Err(Error::NotSupported {
                op: "send_get_time on a ring bound to `any` or `none`",
                backend: "packet",
            });
        }
        if self.ts_sock.is_none() {
            let sock = PacketSocket::new(0).map_err(Error::syscall("socket(AF_PACKET)"))?;
            sock.enable_tx_timestamps()
                .map_err(Error::syscall("setsockopt(SO_TIMESTAMPING)"))?;
            sock.bind(self.ifindex, 0)
                .map_err(Error::syscall("bind(AF_PACKET, timestamps)"))?;
            self.ts_sock = Some(sock);
        }
        let sock = self.ts_sock.as_ref().expect("created above");
        sock.send_to(frame, self.ifindex)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::EMSGSIZE) => Error::FrameTooLarge {
                    len: frame.len(),
                    max: 0,
                },
                _ => Error::Syscall(SyscallError {
                    call: "sendto(AF_PACKET)",
                    source: e,
                }),
            })?;
        sock.recv_tx_timestamp(std::time::Duration::from_secs(1))
            .map_err(Error::syscall("recvmsg(MSG_ERRQUEUE)"))?
            .ok_or(Error::NotSupported {
                op: "send_get_time: the device reported no transmit timestamp",
                backend: "packet",
            })
    }

    /// Sends `frame` on interface `ifindex` (blocking, no ring).
    pub(crate) fn send_ifindex(&mut self, frame: &[u8], ifindex: i32) -> Result<()> {
        if frame.len() < 14 {
            return Err(Error::FrameTooShort { len: frame.len() });
        }
        self.sock
            .send_to(frame, ifindex)
            .map(|_| ())
            .map_err(|e| match e.raw_os_error() {
                Some(libc::EMSGSIZE) => Error::FrameTooLarge {
                    len: frame.len(),
                    max: 0,
                },
                Some(libc::ENXIO) | Some(libc::ENODEV) => Error::NoSuchDevice {
                    name: format!("ifindex {ifindex}"),
                },
                _ => Error::Syscall(SyscallError {
                    call: "sendto(AF_PACKET)",
                    source: e,
                }),
            })
    }

    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

impl TxState {
    /// The longest `frame` may be: MTU + 14, plus 4 when it carries a VLAN tag (the kernel
    /// refuses the extra bytes on untagged frames, `packet_extra_vlan_len_allowed`).
    fn max_frame_for(&self, frame: &[u8]) -> usize {
        let tagged = matches!(frame.get(12..14), Some([0x81, 0x00]) | Some([0x88, 0xa8]));
        if tagged {
            self.max_frame
        } else {
            self.max_frame - 4
        }
    }

    /// The frame's length against the device's limits.
    fn check(&self, frame: &[u8]) -> Result<()> {
        super::check_frame_len(frame, self.max_frame_for(frame))
    }

    /// Batch path: queued frames first, then `frames` with `sendmmsg` from the caller's
    /// memory, up to the first one that breaks the device's limits (reported when it is
    /// the first).
    fn send_burst<F: AsRef<[u8]>>(&mut self, frames: &[F]) -> Result<usize> {
        let mut valid = 0;
        for f in frames {
            if let Err(e) = self.check(f.as_ref()) {
                if valid == 0 {
                    return Err(e);
                }
                break;
            }
            valid += 1;
        }
        if valid == 0 {
            return Ok(0);
        }
        self.flush()?;
        if self.queued > 0 {
            return Err(Error::NoTxSlotAvailable);
        }
        match self.sock.send_many(valid, |i| frames[i].as_ref()) {
            Ok(n) => {
                self.sent += n as u64;
                Ok(n)
            }
            Err(e) => Err(sendmmsg_failure(e).unwrap_or(Error::NoTxSlotAvailable)),
        }
    }

    /// Whether another frame can be queued.
    fn has_free_slot(&self) -> bool {
        match &self.path {
            TxPath::Ring(r) => r.has_free_slot(),
            TxPath::Batch(b) => b.has_room(),
        }
    }

    /// Frames not handed to the driver yet.
    fn in_flight(&self) -> usize {
        match &self.path {
            TxPath::Ring(r) => r.in_flight(),
            TxPath::Batch(b) => b.len(),
        }
    }

    /// Queues a copy of `frame`: `Ok(false)` when full, `Err(count)` when the kernel refused
    /// an earlier frame of the ring (see [`TxRing::push`]).
    fn push(&mut self, frame: &[u8]) -> std::result::Result<bool, u32> {
        match &mut self.path {
            TxPath::Ring(r) => r.push(frame),
            TxPath::Batch(b) => Ok(b.push(frame)),
        }
    }

    fn flush(&mut self) -> Result<()> {
        if self.queued == 0 {
            return Ok(());
        }
        match &mut self.path {
            TxPath::Ring(_) => match self.sock.flush_tx_ring() {
                Ok(_) => self.queued = 0,
                // The device queue is full: the frames stay marked and go with the next kick.
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::EAGAIN | libc::ENOBUFS | libc::EINTR)
                    ) =>
                {
                    self.queued = 0
                }
                Err(e) => {
                    return Err(Error::Syscall(SyscallError {
                        call: "send(TX ring)",
                        source: e,
                    }));
                }
            },
            TxPath::Batch(b) => {
                let sock = &self.sock;
                let r = b.send_with(|b| sock.send_many(b.len(), |i| b.frame(i)));
                if let Err(e) = r
                    && let Some(err) = sendmmsg_failure(e)
                {
                    if let Error::TxRefused { .. } = err {
                        // Refused for what it is (the ring's WRONG_FORMAT): dropped and
                        // reported, the others go on.
                        b.drop_front(1);
                    }
                    self.queued = b.len();
                    return Err(err);
                }
                self.queued = b.len();
            }
        }
        Ok(())
    }
}

// Classic BPF opcodes used by the binding program.
const LD_W_ABS: u16 = 0x20;
const JEQ_K: u16 = 0x15;
const JA: u16 = 0x05;
const AND_K: u16 = 0x54;
const RET_K: u16 = 0x06;
const SKF_AD_OFF: u32 = (-0x1000i32) as u32;
const SKF_AD_PKTTYPE: u32 = 4;
const SKF_AD_QUEUE: u32 = 24;
const SKF_AD_VLAN_TAG: u32 = 44;
const SKF_AD_VLAN_TAG_PRESENT: u32 = 48;

/// How `skb->queue_mapping` (what `SKF_AD_QUEUE` reads) encodes the RX queue of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum QueueEncoding {
    /// NIC drivers call `skb_record_rx_queue(skb, q)`, which stores `q + 1` (0 = unknown).
    Recorded,
    /// veth keeps the sender's TX queue number, which is the RX queue it lands on (`veth_xmit`
    /// picks `rq[skb_get_queue_mapping(skb)]`), unchanged: queue `q` reads as `q`.
    Raw,
}

impl QueueEncoding {
    /// The encoding used by `driver` (from `ETHTOOL_GDRVINFO`).
    pub(crate) fn for_driver(driver: &str) -> Self {
        if driver == "veth" {
            QueueEncoding::Raw
        } else {
            QueueEncoding::Recorded
        }
    }

    /// The `SKF_AD_QUEUE` value of a frame received on RX queue `ch`.
    pub(crate) const fn value(self, ch: u32) -> u32 {
        match self {
            QueueEncoding::Recorded => ch + 1,
            QueueEncoding::Raw => ch,
        }
    }
}

/// Builds the classic BPF program that implements direction, VLAN and queue binding, then
/// runs the application's filter (if any), and truncates accepted frames to `caplen`.
///
/// The user program's accepting `ret #k` become `ret #min(k, caplen)`; its jumps are relative,
/// so prefixing the binding checks does not move them.
pub(crate) fn binding_program(
    direction: Direction,
    vlan: Option<u16>,
    channels: ChannelMask,
    queues: QueueEncoding,
    caplen: u32,
    user: Option<&crate::filter::Program>,
) -> Vec<SockFilter> {
    // Each check: a load (and optional mask), then a set of accepted values.
    let mut checks: Vec<(u32, Option<u32>, Vec<u32>, bool)> = Vec::new();
    match direction {
        Direction::RxAndTx => {}
        // For rx only: accept anything but PACKET_OUTGOING (negated check).
        Direction::RxOnly => {
            checks.push((SKF_AD_PKTTYPE, None, vec![u32::from(PACKET_OUTGOING)], true))
        }
        Direction::TxOnly => checks.push((
            SKF_AD_PKTTYPE,
            None,
            vec![u32::from(PACKET_OUTGOING)],
            false,
        )),
    }
    if let Some(v) = vlan {
        checks.push((SKF_AD_VLAN_TAG_PRESENT, None, vec![1], false));
        checks.push((SKF_AD_VLAN_TAG, Some(0x0fff), vec![u32::from(v)], false));
    }
    if !channels.is_all() {
        checks.push((
            SKF_AD_QUEUE,
            None,
            channels.iter().map(|c| queues.value(c)).collect(),
            false,
        ));
    }
    let mut prog: Vec<SockFilter> = Vec::new();
    // Jumps to "reject" are patched at the end (JA with a 32-bit offset).
    let mut to_reject: Vec<usize> = Vec::new();
    let ins = |code, jt, jf, k| SockFilter { code, jt, jf, k };
    for (field, mask, values, negate) in checks {
        prog.push(ins(LD_W_ABS, 0, 0, SKF_AD_OFF + field));
        if let Some(m) = mask {
            prog.push(ins(AND_K, 0, 0, m));
        }
        if negate {
            // value matches -> reject; otherwise fall through to the next check.
            for v in values {
                prog.push(ins(JEQ_K, 0, 1, v));
                to_reject.push(prog.len());
                prog.push(ins(JA, 0, 0, 0));
            }
        } else {
            let n = values.len();
            for (i, v) in values.into_iter().enumerate() {
                // Match: skip the remaining compares and the reject jump.
                let skip = (n - 1 - i + 1) as u8;
                prog.push(ins(JEQ_K, skip, 0, v));
            }
            to_reject.push(prog.len());
            prog.push(ins(JA, 0, 0, 0));
        }
    }
    match user {
        None => prog.push(ins(RET_K, 0, 0, caplen.max(1))),
        Some(u) => prog.extend(u.instructions().iter().map(|&i| {
            let mut s = i;
            if i.code == RET_K && i.k != 0 {
                s.k = i.k.min(caplen.max(1));
            }
            s
        })),
    }
    let reject = prog.len();
    prog.push(ins(RET_K, 0, 0, 0));
    for at in to_reject {
        prog[at].k = (reject - at - 1) as u32;
    }
    prog
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tx_ring_slots_follow_the_device() {
        // veth, loopback-sized MTUs and NICs with small, medium and huge descriptor rings.
        assert_eq!(tx_slots(1518, None), 256);
        assert_eq!(tx_slots(9018, None), 256 * 2048 / 9018);
        assert_eq!(tx_slots(65554, None), 16);
        assert_eq!(tx_slots(1518, Some(64)), 256);
        assert_eq!(tx_slots(1518, Some(512)), 1024);
        assert_eq!(tx_slots(1518, Some(1024)), 2048);
        assert_eq!(tx_slots(1518, Some(16384)), 4096);
        assert_eq!(tx_slots(65554, Some(16384)), 127);
    }

    #[test]
    fn an_empty_rx_ring_never_holds_a_frame() {
        let mut rx = RxRing::empty();
        assert_eq!(rx.next_frame(), None);
        assert!(!rx.has_frame());
        assert_eq!(rx.ready_frames(16), 0);
        assert_eq!(rx.peek_timestamp(), None);
        assert_eq!(rx.discard_all(), 0);
        rx.release();
        assert_eq!(rx.next_frame(), None);
    }

    /// Runs a binding program in the library's classic BPF VM (which also validates it as the
    /// kernel would) on a 64-byte frame with the given metadata.
    fn run(prog: &[SockFilter], pkttype: u32, vlan: Option<u32>, queue: u32) -> u32 {
        let p = crate::filter::Program::from_instructions(prog.to_vec()).expect("valid program");
        let meta = crate::filter::PacketMeta {
            vlan_tci: vlan.map(|v| v as u16),
            pkt_type: pkttype as u8,
            queue: queue as u16,
            ..Default::default()
        };
        p.run(&[0u8; 64], 64, &meta)
    }

    #[test]
    fn no_binding_only_truncates() {
        let p = binding_program(
            Direction::RxAndTx,
            None,
            ChannelMask::ALL,
            QueueEncoding::Recorded,
            128,
            None,
        );
        assert_eq!(p.len(), 2);
        assert_eq!(run(&p, 0, None, 0), 128);
        assert_eq!(run(&p, 4, None, 0), 128);
    }

    #[test]
    fn direction() {
        let rx = binding_program(
            Direction::RxOnly,
            None,
            ChannelMask::ALL,
            QueueEncoding::Recorded,
            100,
            None,
        );
        assert_eq!(run(&rx, 0, None, 0), 100);
        assert_eq!(run(&rx, 3, None, 0), 100);
        assert_eq!(run(&rx, 4, None, 0), 0);
        let tx = binding_program(
            Direction::TxOnly,
            None,
            ChannelMask::ALL,
            QueueEncoding::Recorded,
            100,
            None,
        );
        assert_eq!(run(&tx, 0, None, 0), 0);
        assert_eq!(run(&tx, 4, None, 0), 100);
    }

    #[test]
    fn vlan_and_queues() {
        let enc = QueueEncoding::Recorded;
        let p = binding_program(
            Direction::RxAndTx,
            Some(100),
            ChannelMask(0b1010),
            enc,
            64,
            None,
        );
        assert_eq!(run(&p, 0, Some(100), 2), 64);
        assert_eq!(run(&p, 0, Some(0x2000 | 100), 4), 64);
        assert_eq!(run(&p, 0, Some(100), 3), 0);
        assert_eq!(run(&p, 0, Some(101), 2), 0);
        assert_eq!(run(&p, 0, None, 2), 0);
        let all = binding_program(
            Direction::RxOnly,
            Some(7),
            ChannelMask(u64::MAX >> 1),
            enc,
            64,
            None,
        );
        assert_eq!(run(&all, 0, Some(7), 63), 64);
        assert_eq!(run(&all, 4, Some(7), 63), 0);
        let veth = binding_program(
            Direction::RxAndTx,
            None,
            ChannelMask(0b10),
            QueueEncoding::Raw,
            64,
            None,
        );
        assert_eq!(run(&veth, 0, None, 1), 64);
        assert_eq!(run(&veth, 0, None, 2), 0);
    }

    #[test]
    fn user_filter_runs_after_the_binding_checks() {
        // `outbound` compiles to a SKF_AD_PKTTYPE test the small interpreter above can run.
        let user = crate::filter::Program::compile_for("outbound", crate::filter::Target::Kernel)
            .expect("compiles");
        let p = binding_program(
            Direction::RxAndTx,
            Some(5),
            ChannelMask::ALL,
            QueueEncoding::Recorded,
            96,
            Some(&user),
        );
        assert_eq!(
            run(&p, 4, Some(5), 0),
            96,
            "outgoing VLAN 5: accepted, caplen applied"
        );
        assert_eq!(
            run(&p, 0, Some(5), 0),
            0,
            "incoming: the user filter rejects"
        );
        assert_eq!(
            run(&p, 4, Some(6), 0),
            0,
            "wrong VLAN: the binding rejects first"
        );
    }

    #[test]
    fn geometry_is_valid() {
        for (caplen, slots, bytes) in [
            (1536u32, 4096u32, None),
            (128, 4096, None),
            (65535, 16, None),
            (1536, 4096, Some(64 << 20)),
            (60, 32, None),
        ] {
            let r = ring_geometry(caplen, slots, bytes, 4);
            assert_eq!(r.tp_block_size % 4096, 0, "{r:?}");
            assert!(r.tp_block_size as usize >= frame_size_for(caplen as usize, 0));
            assert_eq!(
                r.tp_frame_nr,
                r.tp_block_size / r.tp_frame_size * r.tp_block_nr,
                "{r:?}"
            );
            if let Some(b) = bytes {
                assert!(r.tp_block_size as usize * r.tp_block_nr as usize >= b);
            }
        }
        // The default ring (4096 slots of caplen 1536, 6.4 MiB) is 13 blocks of 512 KiB.
        let r = ring_geometry(1536, 4096, None, 16);
        assert_eq!((r.tp_block_nr, r.tp_block_size), (13, 512 << 10), "{r:?}");
    }
}
