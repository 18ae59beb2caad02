//! A bridge between two `xdp:` devices through one UMEM shared by their two AF_XDP sockets
//! (`XDP_SHARED_UMEM`): a frame received on one side is queued for transmission on the other
//! side as it is, in place. The application never copies it; with zero-copy drivers nobody
//! does (in copy mode, e.g. veth, the kernel copies into the UMEM on receive and out of it on
//! transmit).
//!
//! # Frame accounting
//! The UMEM has `2 * slots` frames, `slots` given to each side's fill ring at open. A frame
//! received on A goes to B's TX ring; when B's completion ring returns it, it goes back to
//! A's fill ring (and the other way round), so each side keeps its share. Every ring has
//! `2 * slots` entries, so no ring can overflow whatever the split. A frame that finds the
//! other side's TX ring full goes straight back to its fill ring and is counted as dropped.

use std::os::fd::AsFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::xdp::{Attachment, XdpMode, attachment, bind_with_retry, kick_tx, locked};
use crate::device::DeviceSpec;
use crate::error::{Error, Result};
use crate::ring::BreakHandle;
use crate::sys::iface;
use crate::sys::signal::Breaker;
use crate::sys::socket::EpollSet;
use crate::sys::socket::poll_in;
use crate::sys::xsk::{RingView, Umem, XdpDesc, XskSocket};

/// Bytes per UMEM frame.
const FRAME: u32 = 2048;

/// Counters of an [`XdpBridge`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XdpBridgeStats {
    /// Frames queued from A to B.
    pub a_to_b: u64,
    /// Frames queued from B to A.
    pub b_to_a: u64,
    /// Frames dropped: the other side's TX ring was full, or the kernel dropped them on
    /// receive (`XDP_STATISTICS`: RX ring full, no fill frame, refused fill entries).
    pub dropped: u64,
}

/// One side: a socket on one queue with its four rings.
#[derive(Debug)]
struct Side {
    sock: XskSocket,
    fill: RingView<u64>,
    comp: RingView<u64>,
    rx: RingView<XdpDesc>,
    tx: RingView<XdpDesc>,
    zero_copy: bool,
    queue: u32,
    attach: Option<Arc<Mutex<Attachment>>>,
}

impl Drop for Side {
    fn drop(&mut self) {
        if let Some(a) = &self.attach {
            locked(a).remove(self.queue);
        }
    }
}

/// Two `xdp:` devices bridged without copies through a shared UMEM (see the module docs):
/// what arrives on A is sent out of B, and with `bidirectional` the other way round.
#[derive(Debug)]
pub struct XdpBridge {
    // The sockets are declared (so dropped) before the UMEM.
    a: Side,
    b: Side,
    umem: Umem,
    stats: XdpBridgeStats,
    bidirectional: bool,
    /// Both sockets, for one wait.
    epoll: EpollSet,
    breaker: Arc<Breaker>,
}

/// The interface and queue of an `xdp:` device name.
fn parse(dev: &str) -> Result<(String, u32)> {
    match dev.parse::<DeviceSpec>()? {
        DeviceSpec::Xdp(q) => {
            let queue = q.queues.single().ok_or_else(|| Error::InvalidDevice {
                spec: dev.to_owned(),
                reason: "a bridge side is one queue (xdp:eth0@Q)".into(),
            })?;
            Ok((q.name.as_str().to_owned(), queue))
        }
        _ => Err(Error::InvalidDevice {
            spec: dev.to_owned(),
            reason: "an XdpBridge joins two xdp: devices".into(),
        }),
    }
}

impl XdpBridge {
    /// Opens the bridge between `a` and `b` (`xdp:eth0@Q` names), with `slots` UMEM frames
    /// per side (a power of two, 64..=16384). Frames start moving at once. Without
    /// `bidirectional` nothing is taken from B (its frames go to its stack).
    ///
    /// # Errors
    /// As [`crate::RingBuilder::open`] for `xdp:` devices; [`Error::InvalidDevice`] for other
    /// names, or twice the same queue.
    pub fn open(a: &str, b: &str, slots: u32, bidirectional: bool) -> Result<XdpBridge> {
        let (na, qa) = parse(a)?;
        let (nb, qb) = parse(b)?;
        if na == nb && qa == qb {
            return Err(Error::InvalidDevice {
                spec: b.to_owned(),
                reason: "both sides are the same queue".into(),
            });
        }
        let n = slots.clamp(64, 16384).next_power_of_two();
        let size = 2 * n;
        let umem = Umem::new(size, FRAME).map_err(Error::syscall("mmap(UMEM)"))?;
        let first = XskSocket::new().map_err(|e| {
            Error::from_os(
                "socket(AF_XDP)",
                e,
                "opening an AF_XDP socket",
                "CAP_NET_RAW",
                &na,
            )
        })?;
        first.register_umem(&umem).map_err(|e| {
            Error::from_os(
                "setsockopt(XDP_UMEM_REG)",
                e,
                "registering a UMEM",
                "CAP_NET_RAW (and RLIMIT_MEMLOCK)",
                &na,
            )
        })?;
        let side = |sock: XskSocket,
                    name: &str,
                    queue: u32,
                    base: u32,
                    receive: bool,
                    shared: Option<&XskSocket>|
         -> Result<Side> {
            let ifindex = iface::ifindex(name)
                .map_err(|e| Error::from_os("if_nametoindex", e, "open", "CAP_NET_RAW", name))?;
            let queues = iface::rx_channels(name)
                .map_err(|e| Error::from_os("SIOCETHTOOL", e, "ethtool", "none", name))?;
            if queue >= queues {
                return Err(Error::InvalidDevice {
                    spec: format!("xdp:{name}@{queue}"),
                    reason: format!("{name} has {queues} RX queue(s), no queue {queue}"),
                });
            }
            let rings = sock
                .create_rings(size, size, size, size)
                .map_err(Error::syscall("setsockopt(XDP_*_RING)/mmap"))?;
            let mut fill = rings.fill;
            for i in base..base + n {
                let _ = fill.push(u64::from(i) * u64::from(FRAME));
            }
            fill.publish();
            let attach = if receive {
                Some(attachment(name, ifindex, queues, XdpMode::Auto)?)
            } else {
                None
            };
            let zero_copy = bind_with_retry(
                &sock,
                name,
                ifindex as u32,
                queue,
                shared.map(|s| s.as_fd()),
            )?;
            if let Some(a) = &attach {
                locked(a).insert(queue, sock.as_fd())?;
            }
            Ok(Side {
                sock,
                fill,
                comp: rings.comp,
                rx: rings.rx,
                tx: rings.tx,
                zero_copy,
                queue,
                attach,
            })
        };
        let a_side = side(first, &na, qa, 0, true, None)?;
        let second = XskSocket::new().map_err(|e| {
            Error::from_os(
                "socket(AF_XDP)",
                e,
                "opening an AF_XDP socket",
                "CAP_NET_RAW",
                &nb,
            )
        })?;
        let mut b_side = side(second, &nb, qb, n, bidirectional, Some(&a_side.sock))?;
        // The sharing socket runs in the UMEM owner's mode.
        b_side.zero_copy = a_side.zero_copy;
        let epoll = EpollSet::new(&[a_side.sock.as_fd(), b_side.sock.as_fd()])
            .map_err(Error::syscall("epoll_create1/epoll_ctl"))?;
        Ok(XdpBridge {
            epoll,
            breaker: Arc::new(Breaker::new().map_err(Error::syscall("eventfd"))?),
            a: a_side,
            b: b_side,
            umem,
            stats: XdpBridgeStats::default(),
            bidirectional,
        })
    }

    /// Moves what was received (up to `max` frames per direction) to the other side and
    /// takes back the frames the other sides finished sending. Returns the frames moved.
    ///
    /// # Errors
    /// The transmit system call failed.
    pub fn forward(&mut self, max: usize) -> Result<usize> {
        let mask = !u64::from(FRAME - 1);
        let mut moved = pass(&mut self.a, &mut self.b, max, mask, &mut self.stats.dropped)?;
        self.stats.a_to_b += moved as u64;
        if self.bidirectional {
            let back = pass(&mut self.b, &mut self.a, max, mask, &mut self.stats.dropped)?;
            self.stats.b_to_a += back as u64;
            moved += back;
        }
        Ok(moved)
    }

    /// Waits up to `timeout` for frames on either side; returns `false` at once when the
    /// bridge was broken ([`XdpBridge::break_handle`]), `true` otherwise.
    ///
    /// # Errors
    /// `poll(2)` failure.
    pub fn wait(&self, timeout: Duration) -> Result<bool> {
        if !self.breaker.is_set() {
            poll_in(
                self.epoll.as_fd(),
                Some(self.breaker.eventfd().as_fd()),
                Some(timeout),
            )
            .map_err(Error::syscall("poll"))?;
        }
        Ok(!self.breaker.is_set())
    }

    /// A handle that makes [`XdpBridge::wait`] return `false` (from another thread, or on
    /// signals with [`BreakHandle::break_on_signals`]).
    pub fn break_handle(&self) -> BreakHandle {
        BreakHandle::from_breaker(Arc::clone(&self.breaker))
    }

    /// Counters so far (the kernel's receive drops of both sockets included).
    ///
    /// # Errors
    /// `getsockopt(XDP_STATISTICS)` failure.
    pub fn stats(&self) -> Result<XdpBridgeStats> {
        let mut s = self.stats;
        for side in [&self.a, &self.b] {
            let k = side
                .sock
                .statistics()
                .map_err(Error::syscall("getsockopt(XDP_STATISTICS)"))?;
            s.dropped += k.rx_dropped + k.rx_ring_full + k.rx_invalid_descs;
        }
        Ok(s)
    }

    /// Whether each side's socket is bound in zero-copy mode (A, B).
    pub fn zero_copy(&self) -> (bool, bool) {
        (self.a.zero_copy, self.b.zero_copy)
    }

    /// Bytes of the shared UMEM.
    pub fn memory(&self) -> usize {
        self.umem.len()
    }
}

/// One direction: `dst`'s finished transmissions go back to `src`'s fill ring, then `src`'s
/// received frames go to `dst`'s TX ring.
fn pass(src: &mut Side, dst: &mut Side, max: usize, mask: u64, dropped: &mut u64) -> Result<usize> {
    let mut refilled = false;
    while let Some(a) = dst.comp.pop() {
        let _ = src.fill.push(a & mask);
        refilled = true;
    }
    if refilled {
        dst.comp.release();
    }
    let mut n = 0;
    while n < max {
        let Some(d) = src.rx.pop() else { break };
        if dst.tx.push(d) {
            n += 1;
        } else {
            let _ = src.fill.push(d.addr & mask);
            refilled = true;
            *dropped += 1;
        }
    }
    if n > 0 || refilled {
        src.rx.release();
        src.fill.publish();
    }
    if n > 0 {
        dst.tx.publish();
        kick_tx(&dst.sock, &mut dst.tx, dst.zero_copy, 1024)?;
    }
    if src.fill.needs_wakeup() {
        src.sock
            .wakeup_rx()
            .map_err(Error::syscall("recvfrom(AF_XDP)"))?;
    }
    Ok(n)
}
