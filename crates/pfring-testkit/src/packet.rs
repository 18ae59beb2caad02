//! Plain `AF_PACKET` sockets: a raw frame sender and a simple receiver.
//!
//! Both open their socket in the **calling thread's** network namespace, bound to one interface.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::sys::{self, BpfInsn};
use crate::veth::ifindex;

/// How often a send that hit `ENOBUFS`/`EAGAIN` is retried, 1 ms apart, before giving up.
const SEND_RETRIES: u32 = 1000;

/// Sends raw Ethernet frames on one interface through an `AF_PACKET`/`SOCK_RAW` socket.
///
/// The socket is bound with protocol 0, so it never queues received frames.
#[derive(Debug)]
pub struct RawSender {
    fd: OwnedFd,
    ifname: String,
}

impl RawSender {
    /// Opens a sender on `ifname` (in the calling thread's network namespace).
    ///
    /// # Errors
    ///
    /// [`Error::PermissionDenied`] without `CAP_NET_RAW`; [`Error::Syscall`] when the interface
    /// does not exist.
    pub fn new(ifname: &str) -> Result<RawSender> {
        let idx = ifindex(ifname)?;
        let fd = sys::packet_socket()
            .map_err(|e| Error::sys_perm("socket(AF_PACKET)", "CAP_NET_RAW", e))?;
        sys::packet_bind(fd.as_fd(), idx, 0)
            .map_err(|e| Error::sys(format!("bind(AF_PACKET, {ifname})"), e))?;
        Ok(RawSender {
            fd,
            ifname: ifname.to_string(),
        })
    }

    /// Turns `PACKET_QDISC_BYPASS` on or off: frames go straight to the driver's
    /// `ndo_start_xmit`, and the TX queue is picked from the sending CPU (see
    /// [`crate::queues`]).
    ///
    /// # Errors
    ///
    /// [`Error::Syscall`] when the kernel refuses the option.
    pub fn set_qdisc_bypass(&self, on: bool) -> Result<()> {
        sys::set_qdisc_bypass(self.fd.as_fd(), on)
            .map_err(|e| Error::sys("setsockopt(PACKET_QDISC_BYPASS)", e))
    }

    /// Sets `SO_MARK` on the frames sent (for `tc`/`fw` classification).
    ///
    /// # Errors
    ///
    /// [`Error::PermissionDenied`] without `CAP_NET_ADMIN`.
    pub fn set_mark(&self, mark: u32) -> Result<()> {
        sys::set_mark(self.fd.as_fd(), mark)
            .map_err(|e| Error::sys_perm("setsockopt(SO_MARK)", "CAP_NET_ADMIN", e))
    }

    /// The interface this sender is bound to.
    pub fn ifname(&self) -> &str {
        &self.ifname
    }

    /// Sends one frame (a complete Ethernet frame without FCS). Retries briefly (bounded) on
    /// `ENOBUFS`/`EAGAIN`.
    ///
    /// # Errors
    ///
    /// [`Error::Syscall`] when the kernel rejects the frame (e.g. `EMSGSIZE` above the MTU,
    /// `ENETDOWN`), or when the retries run out; [`Error::InvalidArgument`] on a short write.
    pub fn send(&self, frame: &[u8]) -> Result<()> {
        let mut tries = 0;
        loop {
            match sys::send(self.fd.as_fd(), frame) {
                Ok(n) if n == frame.len() => return Ok(()),
                Ok(n) => {
                    return Err(Error::InvalidArgument(format!(
                        "short send: {n} of {} bytes",
                        frame.len()
                    )));
                }
                Err(e)
                    if tries < SEND_RETRIES
                        && matches!(e.raw_os_error(), Some(libc::ENOBUFS) | Some(libc::EAGAIN)) =>
                {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(Error::sys(
                        format!("send({}, {} bytes)", self.ifname, frame.len()),
                        e,
                    ));
                }
            }
        }
    }

    /// Sends `count` frames, cycling through `frames` (frame `i` is `frames[i % frames.len()]`).
    /// Returns the number sent, which is `count` unless an error stops it.
    ///
    /// # Errors
    ///
    /// The first error from [`RawSender::send`], or [`Error::InvalidArgument`] when `frames`
    /// is empty and `count > 0`.
    pub fn send_n<F: AsRef<[u8]>>(&self, frames: &[F], count: usize) -> Result<usize> {
        if count > 0 && frames.is_empty() {
            return Err(Error::InvalidArgument("send_n: no frames to send".into()));
        }
        for i in 0..count {
            self.send(frames[i % frames.len()].as_ref())?;
            pace(i + 1);
        }
        Ok(count)
    }

    /// Sends every frame of `frames`, in order, and returns how many were sent.
    ///
    /// # Errors
    ///
    /// The first error from [`RawSender::send`].
    pub fn send_all<I>(&self, frames: I) -> Result<usize>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let mut n = 0;
        for f in frames {
            self.send(f.as_ref())?;
            n += 1;
            pace(n);
        }
        Ok(n)
    }
}

/// Frames sent between two pauses of [`RawSender::send_n`] / [`RawSender::send_all`].
const PACE_EVERY: usize = 256;

/// After every [`PACE_EVERY`] frames, gives the CPU away briefly. A frame sent into a veth
/// waits in the sending CPU's backlog (`net.core.netdev_max_backlog`, 1000 by default) until
/// the receive softirq runs. On a busy machine that softirq runs in `ksoftirqd`, a normal
/// thread, and a sender that never sleeps can fill the backlog, which drops frames before any
/// socket sees them. The pause lets `ksoftirqd` drain it, so the tests' exact counts hold
/// under load.
fn pace(sent: usize) {
    if sent.is_multiple_of(PACE_EVERY) {
        std::thread::sleep(Duration::from_micros(200));
    }
}

impl AsFd for RawSender {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// The packet type `AF_PACKET` reports for a frame (`sll_pkttype`, `<linux/if_packet.h>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketType {
    /// `PACKET_HOST`: addressed to this host.
    Host,
    /// `PACKET_BROADCAST`.
    Broadcast,
    /// `PACKET_MULTICAST`.
    Multicast,
    /// `PACKET_OTHERHOST`: addressed to another host (seen because taps see everything).
    OtherHost,
    /// `PACKET_OUTGOING`: sent by this host on the interface.
    Outgoing,
    /// Another value.
    Other(u8),
}

impl From<u8> for PacketType {
    fn from(v: u8) -> Self {
        match v {
            0 => PacketType::Host,
            1 => PacketType::Broadcast,
            2 => PacketType::Multicast,
            3 => PacketType::OtherHost,
            4 => PacketType::Outgoing,
            o => PacketType::Other(o),
        }
    }
}

/// One frame received by a [`RawReceiver`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The frame bytes (at most the receiver's snap length).
    pub data: Vec<u8>,
    /// The frame's length on the wire (may exceed `data.len()` when truncated).
    pub orig_len: usize,
    /// Direction / addressing of the frame.
    pub pkttype: PacketType,
    /// Interface index the frame was seen on.
    pub ifindex: u32,
    /// The outer VLAN tag (TPID, TCI) that the kernel had taken out of the frame (VLAN
    /// offload / `skb_vlan_untag` on receive) and that was put back into [`Received::data`].
    pub vlan_stripped: Option<(u16, u16)>,
}

/// Receives frames on one interface through a plain `AF_PACKET`/`SOCK_RAW` socket (`ETH_P_ALL`).
///
/// Frames come back byte for byte as they were on the wire: an outer VLAN tag that the kernel
/// moved into skb metadata on receive is reinserted from `PACKET_AUXDATA` (as libpcap does).
///
/// Bound at creation, so it sees exactly the frames of that interface from then on, in both
/// directions (see [`Received::pkttype`]). The receive buffer is raised to 16 MiB (with
/// `SO_RCVBUFFORCE` when allowed) so that bursts of thousands of frames are not dropped.
#[derive(Debug)]
pub struct RawReceiver {
    fd: OwnedFd,
    ifname: String,
    snaplen: usize,
}

/// Receive buffer size asked for by [`RawReceiver::new`].
const RCVBUF: usize = 16 << 20;

impl RawReceiver {
    /// Opens a receiver on `ifname` (in the calling thread's network namespace).
    ///
    /// # Errors
    ///
    /// [`Error::PermissionDenied`] without `CAP_NET_RAW`; [`Error::Syscall`] when the interface
    /// does not exist.
    pub fn new(ifname: &str) -> Result<RawReceiver> {
        Self::with_filter(ifname, None)
    }

    /// Opens a receiver on `ifname` that only gets frames which arrived with
    /// `skb->queue_mapping == queue` (the classic BPF ancillary load `SKF_AD_QUEUE`), i.e. on
    /// RX queue `queue` (see [`crate::queues`] for what that means on a veth).
    ///
    /// # Errors
    ///
    /// As [`RawReceiver::new`].
    pub fn on_queue(ifname: &str, queue: u32) -> Result<RawReceiver> {
        Self::with_filter(ifname, Some(&queue_filter(queue)))
    }

    fn with_filter(ifname: &str, filter: Option<&[BpfInsn]>) -> Result<RawReceiver> {
        let idx = ifindex(ifname)?;
        let fd = sys::packet_socket()
            .map_err(|e| Error::sys_perm("socket(AF_PACKET)", "CAP_NET_RAW", e))?;
        sys::set_rcvbuf(fd.as_fd(), RCVBUF).map_err(|e| Error::sys("setsockopt(SO_RCVBUF)", e))?;
        sys::enable_auxdata(fd.as_fd()).map_err(|e| Error::sys("setsockopt(PACKET_AUXDATA)", e))?;
        // The filter goes on before bind, so no frame ever bypasses it.
        if let Some(prog) = filter {
            sys::attach_filter(fd.as_fd(), prog)
                .map_err(|e| Error::sys("setsockopt(SO_ATTACH_FILTER)", e))?;
        }
        sys::packet_bind(fd.as_fd(), idx, sys::ETH_P_ALL_BE)
            .map_err(|e| Error::sys(format!("bind(AF_PACKET, {ifname})"), e))?;
        Ok(RawReceiver {
            fd,
            ifname: ifname.to_string(),
            snaplen: 65536,
        })
    }

    /// The interface this receiver is bound to.
    pub fn ifname(&self) -> &str {
        &self.ifname
    }

    /// Waits up to `timeout` for one frame. `Ok(None)` on timeout.
    ///
    /// # Errors
    ///
    /// [`Error::Syscall`] when `poll`/`recvfrom` fail.
    pub fn recv(&self, timeout: Duration) -> Result<Option<Received>> {
        let mut buf = vec![0u8; self.snaplen];
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(r) =
                sys::recv_from(self.fd.as_fd(), &mut buf).map_err(|e| Error::sys("recvfrom", e))?
            {
                buf.truncate(r.len);
                let mut orig_len = r.orig_len;
                if let Some((tpid, tci)) = r.vlan {
                    // Put the tag the kernel took out (VLAN offload) back where it was.
                    let at = 12.min(buf.len());
                    let tag = [tpid.to_be_bytes(), tci.to_be_bytes()].concat();
                    buf.splice(at..at, tag);
                    orig_len += 4;
                }
                return Ok(Some(Received {
                    data: buf,
                    orig_len,
                    pkttype: r.pkttype.into(),
                    ifindex: r.ifindex,
                    vlan_stripped: r.vlan,
                }));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero()
                || !sys::poll_readable(self.fd.as_fd(), left).map_err(|e| Error::sys("poll", e))?
            {
                return Ok(None);
            }
        }
    }

    /// Receives until `max` frames arrived, no frame came for `idle`, or `total` elapsed,
    /// whichever is first. Only incoming frames are kept (outgoing ones are skipped).
    ///
    /// # Errors
    ///
    /// As [`RawReceiver::recv`].
    pub fn collect(&self, max: usize, idle: Duration, total: Duration) -> Result<Vec<Received>> {
        let deadline = Instant::now() + total;
        let mut out = Vec::new();
        while out.len() < max {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match self.recv(idle.min(left))? {
                Some(r) if r.pkttype == PacketType::Outgoing => {}
                Some(r) => out.push(r),
                None => break,
            }
        }
        Ok(out)
    }

    /// Counts every frame (both directions) seen during `window`.
    ///
    /// # Errors
    ///
    /// As [`RawReceiver::recv`].
    pub fn count_for(&self, window: Duration) -> Result<usize> {
        let deadline = Instant::now() + window;
        let mut n = 0;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(n);
            }
            if self.recv(left)?.is_some() {
                n += 1;
            }
        }
    }

    /// `PACKET_STATISTICS`: frames seen and frames dropped (buffer full) since the last call.
    ///
    /// # Errors
    ///
    /// [`Error::Syscall`] when `getsockopt` fails.
    pub fn stats(&self) -> Result<(u32, u32)> {
        sys::packet_stats(self.fd.as_fd())
            .map_err(|e| Error::sys("getsockopt(PACKET_STATISTICS)", e))
    }
}

impl AsFd for RawReceiver {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// `BPF_LD|BPF_W|BPF_ABS` etc. from `<linux/filter.h>`.
const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JMP_JEQ_K: u16 = 0x15;
const BPF_RET_K: u16 = 0x06;
/// `SKF_AD_OFF + SKF_AD_QUEUE` = -4096 + 24: loads `skb->queue_mapping`.
pub(crate) const SKF_AD_QUEUE_ADDR: u32 = (libc::SKF_AD_OFF + libc::SKF_AD_QUEUE) as u32;

/// A classic BPF program accepting only frames with `skb->queue_mapping == queue`.
pub(crate) fn queue_filter(queue: u32) -> Vec<BpfInsn> {
    vec![
        BpfInsn {
            code: BPF_LD_W_ABS,
            jt: 0,
            jf: 0,
            k: SKF_AD_QUEUE_ADDR,
        },
        BpfInsn {
            code: BPF_JMP_JEQ_K,
            jt: 0,
            jf: 1,
            k: queue,
        },
        BpfInsn {
            code: BPF_RET_K,
            jt: 0,
            jf: 0,
            k: u32::MAX,
        },
        BpfInsn {
            code: BPF_RET_K,
            jt: 0,
            jf: 0,
            k: 0,
        },
    ]
}
