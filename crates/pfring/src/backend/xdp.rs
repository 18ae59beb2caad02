//! The `xdp:` backend: an AF_XDP socket on one RX queue, fed by an XDP program built here.
//!
//! # How it works
//! - The XDP program is assembled in Rust ([`crate::filter::ebpf::xsk_program`]): the ring's
//!   BPF filter (if any, compiled for frame bytes and translated to eBPF), then
//!   `bpf_redirect_map(xskmap, rx_queue_index, XDP_PASS)` for the accepted frames; rejected
//!   frames get `XDP_PASS` and continue to the network stack. It is attached with a BPF link
//!   (`BPF_LINK_CREATE`), native mode first (`XDP_FLAGS_DRV_MODE`), generic mode
//!   (`XDP_FLAGS_SKB_MODE`) when the driver has no native XDP. The link descriptor is the
//!   only thing keeping the program attached: when the last ring of the process on that
//!   interface is dropped, or the process exits or is killed, the kernel detaches it.
//! - Rings of one process on the same interface (several queues: `xdp:eth0@0`,
//!   `xdp:eth0@1`, or [`crate::RingBuilder::open_multichannel`]) share one program and one
//!   XSKMAP (a second program cannot be attached to the interface); a filter set on one
//!   of them applies to all of them.
//! - Socket: bound at open (zero-copy where the driver allows it, copy mode otherwise, with
//!   `XDP_USE_NEED_WAKEUP`); the socket enters the XSKMAP at `enable` and leaves it at
//!   `disable`, so nothing is redirected (frames go to the stack) while the ring is disabled.
//! - RX: the UMEM is split into RX frames (all given to the fill ring at open) and TX
//!   frames. A received frame is handed out in place; dropping the packet puts its frame back
//!   on the fill ring.
//! - TX: a free TX frame is filled and queued on the TX ring; frames come back through the
//!   completion ring.
//! - Stats: `recv` counts delivered packets; `drop` = `rx_dropped` + `rx_ring_full` +
//!   `rx_invalid_descs` of `XDP_STATISTICS` (frames the kernel had to drop: no room in
//!   the RX ring, no frame on the fill ring to copy into, or a fill entry it refused, which
//!   would be a bug here).

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime};

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use crate::device::QueueDevice;
use crate::error::{Error, Result, SyscallError};
use crate::filter::ebpf::{self, XdpProgram};
use crate::filter::{Program, Target};
use crate::ring::RingConfig;
use crate::sys::bpf::{self, XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE};
use crate::sys::iface;
use crate::sys::socket::poll_in;
use crate::sys::tpacket::RawFrame;
use crate::sys::xsk::{
    RingView, Umem, XDP_COPY, XDP_USE_NEED_WAKEUP, XDP_ZEROCOPY, XdpDesc, XskSocket,
};

/// Empty naps before a reader waits on the socket instead (see [`XdpBackend::wait`]).
const IDLE_NAPS: u32 = 4;
/// Shortest nap.
const MIN_NAP: Duration = Duration::from_micros(20);

/// How long `open` retries a bind that fails with `EBUSY` (the queue was just released by a
/// closed socket; the kernel frees it asynchronously).
pub(crate) const BIND_RETRY: Duration = Duration::from_millis(500);

/// How the XDP program of an `xdp:` ring is attached (see [`crate::RingBuilder::xdp_mode`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum XdpMode {
    /// Native mode, generic mode when the driver has no native XDP.
    #[default]
    Auto,
    /// Native (driver) mode only (`XDP_FLAGS_DRV_MODE`).
    Native,
    /// Generic (SKB) mode only (`XDP_FLAGS_SKB_MODE`).
    Generic,
}

impl XdpMode {
    /// The mode named by `PFRING_XDP_MODE` (`native`, `generic`, `auto`; anything else or
    /// unset: auto).
    fn from_env() -> XdpMode {
        match std::env::var("PFRING_XDP_MODE").as_deref() {
            Ok("native") => XdpMode::Native,
            Ok("generic") => XdpMode::Generic,
            _ => XdpMode::Auto,
        }
    }
}

/// How the `xdp:` ring is attached and bound (see [`crate::Ring::xdp_info`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XdpInfo {
    /// The RX queue the socket is bound to.
    pub queue: u32,
    /// The socket is bound in zero-copy mode (`XDP_ZEROCOPY`); `false` = copy mode
    /// (`XDP_COPY`: the kernel copies each frame into the UMEM, e.g. on veth).
    pub zero_copy: bool,
    /// The program runs in the driver (native XDP); `false` = generic XDP (after the socket
    /// buffer is built, any driver, slower).
    pub native: bool,
}

/// The program, map and link of one interface, shared by the process's rings on it.
#[derive(Debug)]
pub(crate) struct Attachment {
    map: OwnedFd,
    /// Holds the program attached; closing it detaches.
    link: OwnedFd,
    native: bool,
    filter: Option<String>,
}

/// Attachments of this process, by (network namespace, ifindex).
static ATTACHED: Mutex<Vec<AttachedEntry>> = Mutex::new(Vec::new());

/// (network namespace inode, ifindex, attachment).
type AttachedEntry = (u64, i32, Weak<Mutex<Attachment>>);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Loads the program for `filter` with `map`.
fn load_program(filter: Option<&Program>, map: BorrowedFd<'_>) -> Result<XdpProgram> {
    let insns = ebpf::xsk_program(filter, map.as_raw_fd())?;
    XdpProgram::load(&insns).map_err(|e| match e.raw_os_error() {
        Some(libc::EPERM | libc::EACCES) => Error::PermissionDenied {
            op: "loading an XDP program",
            needs: "CAP_BPF and CAP_NET_ADMIN",
        },
        _ => Error::Syscall(SyscallError {
            call: "bpf(BPF_PROG_LOAD)",
            source: e,
        }),
    })
}

/// The attachment of `ifname`, created (program loaded and attached) if this process has
/// none yet.
pub(crate) fn attachment(
    ifname: &str,
    ifindex: i32,
    queues: u32,
    mode: XdpMode,
) -> Result<Arc<Mutex<Attachment>>> {
    let ns = iface::netns_inode();
    let mut all = lock(&ATTACHED);
    all.retain(|(_, _, w)| w.strong_count() > 0);
    if let Some(a) = all
        .iter()
        .find(|(n, i, _)| *n == ns && *i == ifindex)
        .and_then(|(_, _, w)| w.upgrade())
    {
        return Ok(a);
    }
    let map = bpf::xskmap_create(queues.clamp(1, 256)).map_err(|e| match e.raw_os_error() {
        Some(libc::EPERM | libc::EACCES) => Error::PermissionDenied {
            op: "creating an XSKMAP",
            needs: "CAP_BPF and CAP_NET_ADMIN",
        },
        _ => Error::XdpUnavailable {
            device: ifname.to_owned(),
            reason: format!("cannot create an XSKMAP: {e}"),
        },
    })?;
    let prog = load_program(None, map.as_fd())?;
    let attach = |flags: u32| {
        bpf::link_create_xdp(prog.as_fd(), ifindex as u32, flags).map_err(|e| {
            match e.raw_os_error() {
                Some(libc::EBUSY | libc::EEXIST) => Err(busy(ifname)),
                Some(libc::EPERM | libc::EACCES) => Err(Error::PermissionDenied {
                    op: "attaching an XDP program",
                    needs: "CAP_NET_ADMIN",
                }),
                // Not available in this mode: the caller may try the other one.
                _ => Ok(e),
            }
        })
    };
    let unavailable = |reason: String| Error::XdpUnavailable {
        device: ifname.to_owned(),
        reason,
    };
    let (link, native) = match mode {
        XdpMode::Native | XdpMode::Auto => match attach(XDP_FLAGS_DRV_MODE) {
            Ok(l) => (l, true),
            Err(Err(e)) => return Err(e),
            Err(Ok(e)) if mode == XdpMode::Native => {
                return Err(unavailable(format!("native XDP attach failed ({e})")));
            }
            Err(Ok(native)) => match attach(XDP_FLAGS_SKB_MODE) {
                Ok(l) => (l, false),
                Err(Err(e)) => return Err(e),
                Err(Ok(generic)) => {
                    return Err(unavailable(format!(
                        "native XDP attach failed ({native}), generic XDP attach failed \
                         ({generic})"
                    )));
                }
            },
        },
        XdpMode::Generic => match attach(XDP_FLAGS_SKB_MODE) {
            Ok(l) => (l, false),
            Err(Err(e)) => return Err(e),
            Err(Ok(e)) => return Err(unavailable(format!("generic XDP attach failed ({e})"))),
        },
    };
    let a = Arc::new(Mutex::new(Attachment {
        map,
        link,
        native,
        filter: None,
    }));
    all.push((ns, ifindex, Arc::downgrade(&a)));
    Ok(a)
}

fn busy(ifname: &str) -> Error {
    Error::DeviceBusy {
        device: format!("{ifname} (another XDP program is attached to it)"),
    }
}

/// The RX half: the UMEM, the fill ring and the RX ring.
#[derive(Debug)]
pub(crate) struct XdpRx {
    umem: Umem,
    fill: RingView<u64>,
    rx: RingView<XdpDesc>,
    frame_size: u32,
    ifindex: i32,
    /// The stamp [`XdpRx::peek_timestamp`] gave the next frame, used when it is received.
    peeked: Option<(u32, u32)>,
}

impl XdpRx {
    /// The stamp of the next frame without consuming it: AF_XDP frames carry none, so the
    /// next frame is stamped now and keeps this stamp when it is received.
    pub(crate) fn peek_timestamp(&mut self) -> Option<(u32, u32)> {
        if self.ready(1) == 0 {
            return None;
        }
        Some(*self.peeked.get_or_insert_with(now))
    }

    /// The bytes of a received frame (at most `caplen`); empty if the kernel's descriptor
    /// pointed outside the UMEM.
    pub(crate) fn frame_bytes(&self, f: &RawFrame, caplen: u32) -> &[u8] {
        self.umem
            .bytes(u64::from(f.data_off), f.caplen.min(caplen))
            .unwrap_or(&[])
    }

    /// Gives the frame back to the kernel (fill ring).
    pub(crate) fn recycle(&mut self, f: &RawFrame) {
        let base = u64::from(f.data_off) & !u64::from(self.frame_size - 1);
        // The fill ring has a slot for every RX frame, so this cannot fail.
        let _ = self.fill.push(base);
        self.fill.publish();
    }

    /// Gives several frames back at once.
    pub(crate) fn recycle_all(&mut self, fs: &[RawFrame]) {
        for f in fs {
            let base = u64::from(f.data_off) & !u64::from(self.frame_size - 1);
            let _ = self.fill.push(base);
        }
        self.fill.publish();
    }

    /// The next received frame, described as a [`RawFrame`] (`data_off` = UMEM address;
    /// AF_XDP has no timestamps, so the time of reception here is used).
    pub(crate) fn next_frame(&mut self, now: (u32, u32)) -> Option<RawFrame> {
        let d = self.rx.pop()?;
        self.rx.release();
        let ts = self.peeked.take().unwrap_or(now);
        Some(self.describe(d, ts))
    }

    /// Up to `out.len()` frames; returns how many.
    pub(crate) fn next_burst(&mut self, out: &mut [RawFrame]) -> usize {
        let now = now();
        let first = self.peeked.take().unwrap_or(now);
        let mut n = 0;
        while n < out.len() {
            match self.rx.pop() {
                Some(d) => {
                    out[n] = self.describe(d, if n == 0 { first } else { now });
                    n += 1;
                }
                None => break,
            }
        }
        if n > 0 {
            self.rx.release();
        }
        n
    }

    fn describe(&mut self, d: XdpDesc, (sec, nsec): (u32, u32)) -> RawFrame {
        let addr = u32::try_from(d.addr).unwrap_or(u32::MAX);
        // A descriptor outside the UMEM (never from a sane kernel) gives an empty frame.
        let len = if self.umem.bytes(d.addr, d.len).is_some() {
            d.len
        } else {
            0
        };
        RawFrame {
            sec,
            nsec,
            caplen: len,
            len,
            ifindex: self.ifindex,
            data_off: addr,
            ..RawFrame::default()
        }
    }

    /// Frames readable now (counted up to `max`).
    pub(crate) fn ready(&self, max: usize) -> usize {
        (self.rx.peek_available() as usize).min(max)
    }
}

/// The time of reception.
pub(crate) fn now() -> (u32, u32) {
    let d = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs() as u32, d.subsec_nanos())
}

/// One `xdp:` ring.
pub(crate) struct XdpBackend {
    // Declared first so it is closed before the rings and the UMEM are unmapped.
    sock: XskSocket,
    pub(crate) rx: XdpRx,
    comp: RingView<u64>,
    tx: RingView<XdpDesc>,
    tx_free: Vec<u64>,
    tx_frames: usize,
    tx_unkicked: u32,
    sent: u64,
    attach: Arc<Mutex<Attachment>>,
    pub(crate) ifname: String,
    pub(crate) ifindex: i32,
    queue: u32,
    zero_copy: bool,
    in_map: bool,
    max_frame: usize,
    rx_frames: u32,
    /// Current nap of [`XdpBackend::wait`], and the empty naps in a row.
    nap: Duration,
    idle_naps: u32,
}

impl XdpBackend {
    /// Opens queue `@Q` of the device: UMEM, rings, program, bind (retrying `EBUSY` for up
    /// to [`BIND_RETRY`]).
    pub(crate) fn open(spec: &str, dev: &QueueDevice, cfg: &RingConfig) -> Result<Self> {
        let name = dev.name.as_str();
        let queue = dev.queues.single().ok_or_else(|| Error::InvalidDevice {
            spec: spec.to_owned(),
            reason: "an xdp: ring binds one queue (xdp:eth0@Q); open several rings, or use \
                     open_multichannel, for several queues"
                .into(),
        })?;
        let ifindex = iface::ifindex(name)
            .map_err(|e| Error::from_os("if_nametoindex", e, "open", "CAP_NET_RAW", name))?;
        let queues = iface::rx_channels(name)
            .map_err(|e| Error::from_os("SIOCETHTOOL", e, "ethtool", "none", name))?;
        if queue >= queues {
            return Err(Error::InvalidDevice {
                spec: spec.to_owned(),
                reason: format!(
                    "{name} has {queues} RX queue(s) (0..={}), no queue {queue}",
                    queues - 1
                ),
            });
        }
        let mtu =
            iface::mtu(name).map_err(|e| Error::from_os("SIOCGIFMTU", e, "mtu", "none", name))?;
        // Frames plus the kernel's XDP headroom (256 bytes) must fit in one chunk. Larger
        // MTUs (loopback) get 4 KiB chunks: longer frames are dropped by the kernel and
        // counted in `drop` (no multi-buffer frames here).
        let frame_size: u32 = if mtu as usize + 18 + 256 <= 2048 {
            2048
        } else {
            4096
        };
        let rx_frames = cfg.slots.clamp(64, 32768).next_power_of_two();
        let tx_frames = (rx_frames / 4).clamp(64, 2048);
        let umem =
            Umem::new(rx_frames + tx_frames, frame_size).map_err(Error::syscall("mmap(UMEM)"))?;
        let sock = XskSocket::new().map_err(|e| {
            Error::from_os(
                "socket(AF_XDP)",
                e,
                "opening an AF_XDP socket",
                "CAP_NET_RAW",
                name,
            )
        })?;
        sock.register_umem(&umem).map_err(|e| {
            Error::from_os(
                "setsockopt(XDP_UMEM_REG)",
                e,
                "registering a UMEM",
                "CAP_NET_RAW (and RLIMIT_MEMLOCK)",
                name,
            )
        })?;
        let rings = sock
            .create_rings(rx_frames, tx_frames, rx_frames, tx_frames)
            .map_err(Error::syscall("setsockopt(XDP_*_RING)/mmap"))?;
        let mut rx = XdpRx {
            umem,
            fill: rings.fill,
            rx: rings.rx,
            frame_size,
            ifindex,
            peeked: None,
        };
        for i in 0..rx_frames {
            let _ = rx.fill.push(u64::from(i) * u64::from(frame_size));
        }
        rx.fill.publish();
        let tx_free = (rx_frames..rx_frames + tx_frames)
            .map(|i| u64::from(i) * u64::from(frame_size))
            .collect();
        let mode = cfg.xdp_mode.unwrap_or_else(XdpMode::from_env);
        let attach = attachment(name, ifindex, queues, mode)?;
        let zero_copy = bind_with_retry(&sock, name, ifindex as u32, queue, None)?;
        Ok(XdpBackend {
            sock,
            rx,
            comp: rings.comp,
            tx: rings.tx,
            tx_free,
            tx_frames: tx_frames as usize,
            tx_unkicked: 0,
            sent: 0,
            attach,
            ifname: name.to_owned(),
            ifindex,
            queue,
            zero_copy,
            in_map: false,
            max_frame: (mtu as usize + 18).min(frame_size as usize - 256),
            rx_frames,
            nap: Duration::from_millis(1),
            // Idle at first: the first frame wakes the reader.
            idle_naps: IDLE_NAPS,
        })
    }

    /// The socket's descriptor (readable when frames are in the RX ring).
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }

    /// How the ring is attached and bound.
    pub(crate) fn info(&self) -> XdpInfo {
        XdpInfo {
            queue: self.queue,
            zero_copy: self.zero_copy,
            native: lock(&self.attach).native,
        }
    }

    /// Puts the socket in the XSKMAP (with `rx`; a send-only ring stays out of it): frames of
    /// its queue are redirected to it from now on.
    pub(crate) fn enable(&mut self, rx: bool) -> Result<()> {
        if rx && !self.in_map {
            let a = lock(&self.attach);
            bpf::map_update_fd(a.map.as_fd(), self.queue, self.sock.as_fd())
                .map_err(Error::syscall("bpf(BPF_MAP_UPDATE_ELEM, XSKMAP)"))?;
            self.in_map = true;
        }
        Ok(())
    }

    /// Takes the socket out of the XSKMAP: its queue's frames go to the stack again.
    pub(crate) fn disable(&mut self) -> Result<()> {
        if self.in_map {
            let a = lock(&self.attach);
            match bpf::map_delete(a.map.as_fd(), self.queue) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
                Err(e) => return Err(Error::syscall("bpf(BPF_MAP_DELETE_ELEM, XSKMAP)")(e)),
            }
            self.in_map = false;
        }
        Ok(())
    }

    /// The kernel's counters mapped to `drop` (see the module docs).
    pub(crate) fn drops(&self) -> Result<u64> {
        let s = self
            .sock
            .statistics()
            .map_err(Error::syscall("getsockopt(XDP_STATISTICS)"))?;
        Ok(s.rx_dropped + s.rx_ring_full + s.rx_invalid_descs)
    }

    /// Replaces the program of the interface with one running `expr` (`None`: no filter).
    pub(crate) fn set_filter(&mut self, expr: Option<&str>) -> Result<()> {
        let prog = expr
            .map(|e| Program::compile_for(e, Target::Bytes))
            .transpose()?;
        self.set_program(prog.as_ref(), expr.map(str::to_owned))
    }

    /// Swaps the XDP program for one running `prog` (already compiled classic BPF, translated
    /// to eBPF here); `label` is what the ring reports as its filter.
    pub(crate) fn set_program(
        &mut self,
        prog: Option<&Program>,
        label: Option<String>,
    ) -> Result<()> {
        let mut a = lock(&self.attach);
        let p = load_program(prog, a.map.as_fd())?;
        bpf::link_update(a.link.as_fd(), p.as_fd())
            .map_err(Error::syscall("bpf(BPF_LINK_UPDATE)"))?;
        a.filter = label;
        Ok(())
    }

    /// Waits (at most `timeout`) for received frames, when the RX ring is empty.
    ///
    /// AF_XDP wakes a sleeping reader for every frame, and on veth (and in generic mode) that
    /// wake-up is paid by the CPU that delivers the frame. So while traffic flows the reader
    /// naps instead (`nap`, adapted so that a nap's frames fill between 1/16 and 1/4 of the
    /// RX ring, at most `max_nap`, the ring's block timeout: the counterpart of TPACKET_V3's
    /// block retire timer) and does not wait on the socket; after [`IDLE_NAPS`] empty naps it
    /// sleeps on the socket (woken by the first frame). `breaker` ends either wait.
    pub(crate) fn wait(
        &mut self,
        timeout: Duration,
        max_nap: Duration,
        breaker: BorrowedFd<'_>,
    ) -> std::io::Result<()> {
        if self.rx.fill.needs_wakeup() {
            self.sock.wakeup_rx()?;
        }
        if self.idle_naps >= IDLE_NAPS {
            poll_in(self.sock.as_fd(), Some(breaker), Some(timeout))?;
            // Woken by traffic (or the timeout): nap from now on.
            self.idle_naps = 0;
            return Ok(());
        }
        let nap = self.nap.min(max_nap).min(timeout);
        poll_in(breaker, None, Some(nap))?;
        let n = self.rx.ready(usize::MAX) as u32;
        let size = self.rx_frames;
        if n == 0 {
            self.idle_naps += 1;
        } else {
            self.idle_naps = 0;
            if n > size / 4 {
                self.nap = (self.nap / 2).max(MIN_NAP);
            } else if n < size / 16 {
                self.nap = (self.nap * 2).min(max_nap.max(MIN_NAP));
            }
        }
        Ok(())
    }

    fn reap_completions(&mut self) {
        let mask = !u64::from(self.rx.frame_size - 1);
        let mut any = false;
        while let Some(a) = self.comp.pop() {
            self.tx_free.push(a & mask);
            any = true;
        }
        if any {
            self.comp.release();
        }
    }

    /// Kicks the kernel until it has taken every queued TX descriptor (copy mode sends a
    /// bounded batch per system call), at most a few hundred calls.
    fn kick(&mut self) -> Result<()> {
        self.tx_unkicked = 0;
        kick_tx(&self.sock, &mut self.tx, self.zero_copy, 512)?;
        self.reap_completions();
        Ok(())
    }

    /// Queues `frame` on the TX ring; sends it at once with `flush` or when `watermark`
    /// frames are queued.
    pub(crate) fn send(&mut self, frame: &[u8], flush: bool, watermark: usize) -> Result<()> {
        super::check_frame_len(frame, self.max_frame)?;
        if self.tx_free.is_empty() {
            self.reap_completions();
        }
        if self.tx_free.is_empty() {
            self.kick()?;
        }
        let Some(addr) = self.tx_free.pop() else {
            return Err(Error::NoTxSlotAvailable);
        };
        let len = frame.len() as u32;
        match self.rx.umem.bytes_mut(addr, len) {
            Some(buf) => buf.copy_from_slice(frame),
            None => {
                self.tx_free.push(addr);
                return Err(Error::InvalidArgument("TX frame outside the UMEM".into()));
            }
        }
        // The TX ring has a slot for every TX frame, so this cannot fail while we hold one.
        if !self.tx.push(XdpDesc {
            addr,
            len,
            options: 0,
        }) {
            self.tx_free.push(addr);
            return Err(Error::NoTxSlotAvailable);
        }
        self.tx.publish();
        self.sent += 1;
        self.tx_unkicked += 1;
        if flush || self.tx_unkicked as usize >= watermark {
            self.kick()?;
        }
        Ok(())
    }

    /// Sends everything queued.
    pub(crate) fn flush_tx(&mut self) -> Result<()> {
        self.kick()
    }

    /// Waits up to `timeout` for a free TX frame.
    pub(crate) fn wait_tx_slot(&mut self, timeout: Duration) -> Result<bool> {
        let deadline = Instant::now() + timeout;
        loop {
            self.reap_completions();
            if !self.tx_free.is_empty() {
                return Ok(true);
            }
            self.kick()?;
            if !self.tx_free.is_empty() {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            std::thread::sleep(Duration::from_micros(100));
        }
    }

    /// Bytes of UMEM (RX and TX frames).
    pub(crate) fn memory(&self) -> usize {
        self.rx.umem.len()
    }

    /// Frames accepted by `send`, and how many of them are not transmitted yet.
    pub(crate) fn tx_counts(&self) -> (u64, usize) {
        (self.sent, self.tx_frames - self.tx_free.len())
    }
}

impl Attachment {
    /// `map[queue] = sock`: frames of `queue` go to `sock`.
    pub(crate) fn insert(&self, queue: u32, sock: BorrowedFd<'_>) -> Result<()> {
        bpf::map_update_fd(self.map.as_fd(), queue, sock)
            .map_err(Error::syscall("bpf(BPF_MAP_UPDATE_ELEM, XSKMAP)"))
    }

    /// Takes `queue` out of the map (best effort: also done when the socket closes).
    pub(crate) fn remove(&self, queue: u32) {
        let _ = bpf::map_delete(self.map.as_fd(), queue);
    }
}

/// Locks an attachment.
pub(crate) fn locked(a: &Mutex<Attachment>) -> std::sync::MutexGuard<'_, Attachment> {
    lock(a)
}

impl std::fmt::Debug for XdpBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XdpBackend")
            .field("ifname", &self.ifname)
            .field("queue", &self.queue)
            .field("zero_copy", &self.zero_copy)
            .field("enabled", &self.in_map)
            .field("rx_frames", &self.rx_frames)
            .field("tx_frames", &self.tx_frames)
            .field("tx_free", &self.tx_free.len())
            .field("sent", &self.sent)
            .finish_non_exhaustive()
    }
}

impl Drop for XdpBackend {
    fn drop(&mut self) {
        // Closing the socket also removes it from the map; do it explicitly so a ring opened
        // right after on the same queue does not race with the socket's release.
        let _ = self.disable();
    }
}

/// Has the kernel take the descriptors published on `tx`. With zero copy the driver sends on
/// its own: a system call only when it asks for one. Copy mode sends in the system call, a
/// bounded batch (32 frames) per call: calls until none is in flight, at most `max_calls`.
pub(crate) fn kick_tx(
    sock: &XskSocket,
    tx: &mut RingView<XdpDesc>,
    zero_copy: bool,
    max_calls: usize,
) -> Result<()> {
    if zero_copy {
        if tx.needs_wakeup() {
            sock.kick_tx().map_err(Error::syscall("sendto(AF_XDP)"))?;
        }
        return Ok(());
    }
    for _ in 0..max_calls {
        sock.kick_tx().map_err(Error::syscall("sendto(AF_XDP)"))?;
        if tx.in_flight() == 0 {
            break;
        }
    }
    Ok(())
}

/// Binds zero-copy, else copy mode (with `shared`: in the mode of the socket owning the
/// UMEM, and `false` is returned: the caller knows the owner's mode); retries `EBUSY` (a
/// queue released by a socket closed a moment ago) for up to [`BIND_RETRY`]. Returns
/// whether zero copy is in use.
pub(crate) fn bind_with_retry(
    sock: &XskSocket,
    name: &str,
    ifindex: u32,
    queue: u32,
    shared: Option<BorrowedFd<'_>>,
) -> Result<bool> {
    let deadline = Instant::now() + BIND_RETRY;
    loop {
        // A socket sharing another's UMEM takes no mode flags: it gets the owner's mode.
        let err = if let Some(owner) = shared {
            match sock.bind_shared(ifindex, queue, 0, Some(owner)) {
                Ok(()) => return Ok(false),
                Err(e) => e,
            }
        } else {
            match sock.bind_shared(ifindex, queue, XDP_ZEROCOPY | XDP_USE_NEED_WAKEUP, None) {
                Ok(()) => return Ok(true),
                Err(e) if matches!(e.raw_os_error(), Some(libc::EBUSY)) => e,
                Err(_) => {
                    match sock.bind_shared(ifindex, queue, XDP_COPY | XDP_USE_NEED_WAKEUP, None) {
                        Ok(()) => return Ok(false),
                        Err(e) => e,
                    }
                }
            }
        };
        match err.raw_os_error() {
            Some(libc::EBUSY) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Some(libc::EBUSY) => {
                return Err(Error::DeviceBusy {
                    device: format!(
                        "{name} queue {queue} (bind kept failing with EBUSY for {} ms: another \
                         AF_XDP socket holds the queue)",
                        BIND_RETRY.as_millis()
                    ),
                });
            }
            _ => {
                return Err(Error::from_os(
                    "bind(AF_XDP)",
                    err,
                    "bind",
                    "CAP_NET_RAW",
                    name,
                ));
            }
        }
    }
}
