//! AF_PACKET sockets and their options, plus `poll(2)` and `eventfd(2)`.
//!
//! # References
//! - packet(7), <https://man7.org/linux/man-pages/man7/packet.7.html>
//! - Documentation/networking/packet_mmap.rst (TPACKET_V3)
//! - Documentation/networking/filter.rst (classic BPF, `SKF_AD_*`)

use std::io;
use std::mem::size_of;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::Duration;

use super::cvt;

/// `SOL_PACKET` option numbers not (all) in the libc crate.
pub mod opt {
    /// `PACKET_ADD_MEMBERSHIP`.
    pub const PACKET_ADD_MEMBERSHIP: i32 = 1;
    /// `PACKET_DROP_MEMBERSHIP`.
    pub const PACKET_DROP_MEMBERSHIP: i32 = 2;
    /// `PACKET_RX_RING`.
    pub const PACKET_RX_RING: i32 = 5;
    /// `PACKET_STATISTICS`.
    pub const PACKET_STATISTICS: i32 = 6;
    /// `PACKET_VERSION`.
    pub const PACKET_VERSION: i32 = 10;
    /// `PACKET_TX_RING`.
    pub const PACKET_TX_RING: i32 = 13;
    /// `PACKET_QDISC_BYPASS`.
    pub const PACKET_QDISC_BYPASS: i32 = 20;
    /// `PACKET_IGNORE_OUTGOING`.
    pub const PACKET_IGNORE_OUTGOING: i32 = 23;
    /// `PACKET_FANOUT`: join a fanout group (`id | type_flags << 16`).
    pub const PACKET_FANOUT: i32 = 18;
    /// `PACKET_FANOUT_DATA`: the group's program (`struct sock_fprog` for CBPF).
    pub const PACKET_FANOUT_DATA: i32 = 22;
    /// `TPACKET_V2`.
    pub const TPACKET_V2: i32 = 1;
    /// `TPACKET_V3`.
    pub const TPACKET_V3: i32 = 2;
    /// `PACKET_MR_PROMISC`.
    pub const PACKET_MR_PROMISC: u16 = 1;
}

/// One classic BPF instruction, laid out as Linux `struct sock_filter`: the filter module's
/// [`crate::filter::Insn`], passed to the kernel as is.
pub use crate::filter::Insn as SockFilter;

const _: () = assert!(size_of::<SockFilter>() == 8);

#[repr(C)]
struct SockFprog {
    len: u16,
    filter: *const SockFilter,
}

/// `struct tpacket_req3`.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub struct TpacketReq3 {
    /// Bytes per block (multiple of the page size).
    pub tp_block_size: u32,
    /// Number of blocks.
    pub tp_block_nr: u32,
    /// Bytes per frame (V3: a sanity value, frames are variable).
    pub tp_frame_size: u32,
    /// Total frames = blocks * (block size / frame size).
    pub tp_frame_nr: u32,
    /// Block retire timeout in milliseconds.
    pub tp_retire_blk_tov: u32,
    /// Size of the private area per block.
    pub tp_sizeof_priv: u32,
    /// `TP_FT_REQ_FILL_RXHASH` etc.
    pub tp_feature_req_word: u32,
}

const _: () = assert!(size_of::<TpacketReq3>() == 28);

/// `struct tpacket_req` (TPACKET_V1/V2 rings).
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub struct TpacketReq {
    /// Bytes per block (multiple of the page size).
    pub tp_block_size: u32,
    /// Number of blocks.
    pub tp_block_nr: u32,
    /// Bytes per frame.
    pub tp_frame_size: u32,
    /// Total frames.
    pub tp_frame_nr: u32,
}

/// `struct tpacket_stats_v3`.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub struct TpacketStatsV3 {
    /// Packets seen by the socket since the last read, drops included.
    pub tp_packets: u32,
    /// Packets dropped (ring full) since the last read.
    pub tp_drops: u32,
    /// Times the queue was frozen.
    pub tp_freeze_q_cnt: u32,
}

/// An `AF_PACKET` / `SOCK_RAW` socket.
#[derive(Debug)]
pub struct PacketSocket {
    fd: OwnedFd,
}

impl AsFd for PacketSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl PacketSocket {
    /// `socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, protocol)`; `protocol` 0 receives nothing
    /// until [`PacketSocket::bind`] names one.
    pub fn new(protocol: u16) -> io::Result<Self> {
        // SAFETY: plain syscall; the returned fd is owned below.
        let fd = cvt(unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                i32::from(protocol.to_be()),
            )
        })?;
        // SAFETY: `fd` is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(PacketSocket { fd })
    }

    /// Wraps a descriptor that refers to an `AF_PACKET` socket (e.g. from
    /// [`crate::sys::pidfd::fd_of_process`]).
    pub fn from_owned(fd: OwnedFd) -> Self {
        PacketSocket { fd }
    }

    /// The socket's inode number (`fstat`), which tells sockets apart across processes.
    pub fn inode(&self) -> io::Result<u64> {
        use std::os::unix::fs::MetadataExt;
        let f = std::fs::File::from(self.fd.try_clone()?);
        Ok(f.metadata()?.ino())
    }

    /// The descriptor number (valid while `self` lives).
    pub fn raw_fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }

    /// A second descriptor for the same socket (`dup(2)`, close-on-exec): options set
    /// through either apply to the one socket.
    pub fn try_clone(&self) -> io::Result<Self> {
        Ok(PacketSocket {
            fd: self.fd.try_clone()?,
        })
    }

    /// `bind(2)` to `ifindex` (0 = every interface) for `protocol` (network order is done
    /// here; 0 = unhook, the socket stops receiving).
    pub fn bind(&self, ifindex: i32, protocol: u16) -> io::Result<()> {
        // SAFETY: all-zero is a valid sockaddr_ll.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = protocol.to_be();
        sll.sll_ifindex = ifindex;
        // SAFETY: `sll` is a valid sockaddr_ll of the given size.
        cvt(unsafe {
            libc::bind(
                self.fd.as_raw_fd(),
                (&raw const sll).cast(),
                size_of::<libc::sockaddr_ll>() as u32,
            )
        })?;
        Ok(())
    }

    fn setsockopt<T>(&self, level: i32, name: i32, val: &T) -> io::Result<()> {
        // SAFETY: `val` points to a live `T` of `size_of::<T>()` bytes.
        cvt(unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                level,
                name,
                (val as *const T).cast(),
                size_of::<T>() as u32,
            )
        })?;
        Ok(())
    }

    /// `PACKET_VERSION`.
    pub fn set_version(&self, v: i32) -> io::Result<()> {
        self.setsockopt(libc::SOL_PACKET, opt::PACKET_VERSION, &v)
    }

    /// `PACKET_RX_RING` with a `tpacket_req3`.
    pub fn set_rx_ring(&self, req: &TpacketReq3) -> io::Result<()> {
        self.setsockopt(libc::SOL_PACKET, opt::PACKET_RX_RING, req)
    }

    /// `PACKET_TX_RING` with a `tpacket_req` (the socket must use TPACKET_V2).
    pub fn set_tx_ring(&self, req: &TpacketReq) -> io::Result<()> {
        self.setsockopt(libc::SOL_PACKET, opt::PACKET_TX_RING, req)
    }

    /// `PACKET_QDISC_BYPASS`: transmit straight to the driver, skipping the qdisc layer.
    pub fn set_qdisc_bypass(&self, on: bool) -> io::Result<()> {
        self.setsockopt(libc::SOL_PACKET, opt::PACKET_QDISC_BYPASS, &i32::from(on))
    }

    /// Asks the kernel to transmit every frame marked `TP_STATUS_SEND_REQUEST` in the TX ring
    /// (`send(fd, NULL, 0, MSG_DONTWAIT)`); returns the bytes sent.
    pub fn flush_tx_ring(&self) -> io::Result<usize> {
        // SAFETY: a zero-length send with a NULL buffer is how the TX ring is kicked.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), std::ptr::null(), 0, libc::MSG_DONTWAIT) };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }

    /// `sendmmsg(2)` on the bound device, without waiting (`MSG_DONTWAIT`), of the frames
    /// `frame(0)` .. `frame(n - 1)`, in order, in system calls of up to 64 frames. Returns how
    /// many went out: fewer than `n` when the kernel stopped (the error that stopped it is
    /// returned only when not even the first frame went).
    pub fn send_many<'a>(&self, n: usize, frame: impl Fn(usize) -> &'a [u8]) -> io::Result<usize> {
        const CHUNK: usize = 64;
        let mut done = 0;
        while done < n {
            let k = (n - done).min(CHUNK);
            // SAFETY: all-zero is a valid iovec and mmsghdr (null pointers, zero lengths).
            let mut iov: [libc::iovec; CHUNK] = unsafe { std::mem::zeroed() };
            // SAFETY: as above.
            let mut hdr: [libc::mmsghdr; CHUNK] = unsafe { std::mem::zeroed() };
            for j in 0..k {
                let f = frame(done + j);
                iov[j].iov_base = f.as_ptr().cast_mut().cast();
                iov[j].iov_len = f.len();
                hdr[j].msg_hdr.msg_iov = &raw mut iov[j];
                hdr[j].msg_hdr.msg_iovlen = 1;
            }
            // SAFETY: the first `k` headers each point at one iovec covering a frame slice that
            // lives for 'a (beyond the call) and that the kernel only reads; `iov` and `hdr`
            // outlive the call.
            let r = unsafe {
                libc::sendmmsg(
                    self.fd.as_raw_fd(),
                    hdr.as_mut_ptr(),
                    k as u32,
                    libc::MSG_DONTWAIT,
                )
            };
            if r < 0 {
                let e = io::Error::last_os_error();
                return if done == 0 { Err(e) } else { Ok(done) };
            }
            done += r as usize;
            if (r as usize) < k {
                break;
            }
        }
        Ok(done)
    }

    /// `sendto(2)` of one frame to interface `ifindex` (blocking).
    pub fn send_to(&self, frame: &[u8], ifindex: i32) -> io::Result<usize> {
        // SAFETY: all-zero is a valid sockaddr_ll.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_ifindex = ifindex;
        sll.sll_halen = 6;
        if let Some(dst) = frame.get(..6) {
            sll.sll_addr[..6].copy_from_slice(dst);
        }
        // SAFETY: `frame` is readable for its length; `sll` is a valid address of its size.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&raw const sll).cast(),
                size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }

    /// `SO_TIMESTAMPING` with software (and, where the device has them, hardware) transmit
    /// timestamps reported on the error queue, without the packet (`OPT_TSONLY`).
    pub fn enable_tx_timestamps(&self) -> io::Result<()> {
        use super::clock::{SOF_RAW_HARDWARE, SOF_SOFTWARE, SOF_TX_HARDWARE, SOF_TX_SOFTWARE};
        const OPT_TSONLY: u32 = 1 << 11;
        let flags =
            SOF_TX_HARDWARE | SOF_TX_SOFTWARE | SOF_SOFTWARE | SOF_RAW_HARDWARE | OPT_TSONLY;
        self.setsockopt(libc::SOL_SOCKET, libc::SO_TIMESTAMPING, &flags)
    }

    /// `PACKET_TIMESTAMP`: which stamp the kernel writes into the ring's frame headers
    /// (`SOF_TIMESTAMPING_RAW_HARDWARE` asks for the device's; frames the device did not stamp
    /// keep the software stamp, and `tp_status` says which one each frame carries).
    pub fn set_packet_timestamp(&self, sof_flags: u32) -> io::Result<()> {
        const PACKET_TIMESTAMP: i32 = 17;
        self.setsockopt(libc::SOL_PACKET, PACKET_TIMESTAMP, &(sof_flags as i32))
    }

    /// Waits up to `timeout` for a transmit timestamp on the error queue (`MSG_ERRQUEUE`,
    /// `SCM_TIMESTAMPING`); returns `(sec, nsec)`, the hardware stamp when the device gave
    /// one, else the software stamp, or `None` when none came.
    pub fn recv_tx_timestamp(&self, timeout: Duration) -> io::Result<Option<(i64, i64)>> {
        let deadline = std::time::Instant::now() + timeout;
        // Bounded: at most 64 error-queue messages are looked at.
        for _ in 0..64 {
            let mut pfd = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: 0, // POLLERR is always reported
                revents: 0,
            };
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            // SAFETY: one valid pollfd.
            let r = unsafe { libc::poll(&mut pfd, 1, poll_millis(left)) };
            if r < 0 {
                let e = io::Error::last_os_error();
                if e.raw_os_error() != Some(libc::EINTR) {
                    return Err(e);
                }
            }
            let mut data = [0u8; 64];
            let mut control = [0u64; 64];
            let mut iov = libc::iovec {
                iov_base: data.as_mut_ptr().cast(),
                iov_len: data.len(),
            };
            // SAFETY: all-zero is a valid msghdr; the buffers set below outlive the call.
            let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = std::mem::size_of_val(&control);
            // SAFETY: `msg` points at live buffers of the given sizes.
            let n = unsafe {
                libc::recvmsg(
                    self.fd.as_raw_fd(),
                    &mut msg,
                    libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT,
                )
            };
            if n >= 0 {
                // SAFETY: the kernel filled `msg_controllen` bytes of `control`; the CMSG
                // macros only walk headers inside that range.
                let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
                while !cmsg.is_null() {
                    // SAFETY: `cmsg` is a header inside the control buffer (checked non-null).
                    let c = unsafe { &*cmsg };
                    if c.cmsg_level == libc::SOL_SOCKET && c.cmsg_type == libc::SCM_TIMESTAMPING {
                        let mut ts = [libc::timespec {
                            tv_sec: 0,
                            tv_nsec: 0,
                        }; 3];
                        // SAFETY: an SCM_TIMESTAMPING payload is three timespecs
                        // (struct scm_timestamping); read unaligned into a local copy.
                        unsafe {
                            std::ptr::copy_nonoverlapping(
                                libc::CMSG_DATA(cmsg),
                                ts.as_mut_ptr().cast::<u8>(),
                                std::mem::size_of_val(&ts),
                            );
                        }
                        let pick = if ts[2].tv_sec != 0 || ts[2].tv_nsec != 0 {
                            ts[2]
                        } else {
                            ts[0]
                        };
                        if pick.tv_sec != 0 || pick.tv_nsec != 0 {
                            return Ok(Some((pick.tv_sec, pick.tv_nsec)));
                        }
                    }
                    // SAFETY: walks to the next header inside the same control buffer.
                    cmsg = unsafe { libc::CMSG_NXTHDR(&msg, cmsg) };
                }
                continue;
            }
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EAGAIN) {
                return Err(e);
            }
            if std::time::Instant::now() >= deadline {
                return Ok(None);
            }
        }
        Ok(None)
    }

    /// `PACKET_IGNORE_OUTGOING`: do not capture frames this host transmits.
    pub fn set_ignore_outgoing(&self, on: bool) -> io::Result<()> {
        self.setsockopt(
            libc::SOL_PACKET,
            opt::PACKET_IGNORE_OUTGOING,
            &i32::from(on),
        )
    }

    /// `PACKET_ADD_MEMBERSHIP` / `PACKET_DROP_MEMBERSHIP` with `PACKET_MR_PROMISC`.
    ///
    /// The kernel counts promiscuous references per device and drops this socket's reference
    /// when it closes, so a crashed capture never leaves an interface promiscuous.
    pub fn set_promisc(&self, ifindex: i32, on: bool) -> io::Result<()> {
        // SAFETY: all-zero is a valid packet_mreq.
        let mut mr: libc::packet_mreq = unsafe { std::mem::zeroed() };
        mr.mr_ifindex = ifindex;
        mr.mr_type = opt::PACKET_MR_PROMISC;
        let name = if on {
            opt::PACKET_ADD_MEMBERSHIP
        } else {
            opt::PACKET_DROP_MEMBERSHIP
        };
        self.setsockopt(libc::SOL_PACKET, name, &mr)
    }

    /// `SO_ATTACH_FILTER` with a classic BPF program (replaces any previous one atomically).
    pub fn attach_filter(&self, prog: &[SockFilter]) -> io::Result<()> {
        let len = u16::try_from(prog.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "BPF program too long"))?;
        let fprog = SockFprog {
            len,
            filter: prog.as_ptr(),
        };
        self.setsockopt(libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &fprog)
    }

    /// `PACKET_FANOUT`: joins (creating it if needed) the fanout group `id` of type
    /// `type_flags` (`PACKET_FANOUT_*` type or'ed with `PACKET_FANOUT_FLAG_*`). The socket
    /// must be bound with a protocol; there is no way to leave but closing the socket.
    pub fn join_fanout(&self, id: u16, type_flags: u16) -> io::Result<()> {
        let arg = (u32::from(id) | (u32::from(type_flags) << 16)) as i32;
        self.setsockopt(libc::SOL_PACKET, opt::PACKET_FANOUT, &arg)
    }

    /// `PACKET_FANOUT_DATA` with a classic BPF program: sets the program of the
    /// `PACKET_FANOUT_CBPF` group this socket belongs to (replaces it for every member).
    pub fn set_fanout_cbpf(&self, prog: &[SockFilter]) -> io::Result<()> {
        let len = u16::try_from(prog.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "BPF program too long"))?;
        let fprog = SockFprog {
            len,
            filter: prog.as_ptr(),
        };
        self.setsockopt(libc::SOL_PACKET, opt::PACKET_FANOUT_DATA, &fprog)
    }

    /// `PACKET_STATISTICS` (V3 layout). The kernel resets the counters on every read.
    pub fn statistics(&self) -> io::Result<TpacketStatsV3> {
        let mut st = TpacketStatsV3::default();
        let mut len = size_of::<TpacketStatsV3>() as libc::socklen_t;
        // SAFETY: `st` is a writable buffer of `len` bytes.
        cvt(unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                opt::PACKET_STATISTICS,
                (&raw mut st).cast(),
                &mut len,
            )
        })?;
        Ok(st)
    }
}

/// Which of the polled descriptors are readable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PollResult {
    /// The first descriptor.
    pub first: bool,
    /// The second descriptor.
    pub second: bool,
}

/// A `poll(2)` timeout in milliseconds, rounded *up*: truncating would turn the last
/// sub-millisecond of a wait into a string of `poll(…, 0)` calls that spin.
fn poll_millis(d: Duration) -> i32 {
    let ms = d.as_nanos().div_ceil(1_000_000);
    i32::try_from(ms).unwrap_or(i32::MAX)
}

/// `poll(2)` for writability of `fd` (a TX ring with a free slot), up to `timeout`.
pub fn poll_out(fd: BorrowedFd<'_>, timeout: Duration) -> io::Result<bool> {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLOUT,
        revents: 0,
    };
    let ms = poll_millis(timeout);
    // SAFETY: `p` is one valid pollfd.
    let r = unsafe { libc::poll(&mut p, 1, ms) };
    if r < 0 {
        let e = io::Error::last_os_error();
        return if e.raw_os_error() == Some(libc::EINTR) {
            Ok(false)
        } else {
            Err(e)
        };
    }
    Ok(p.revents & libc::POLLOUT != 0)
}

/// `poll(2)` for readability on one or two descriptors. `None` waits forever. `EINTR` is
/// reported as "nothing ready" so callers re-check their break flags.
pub fn poll_in(
    first: BorrowedFd<'_>,
    second: Option<BorrowedFd<'_>>,
    timeout: Option<Duration>,
) -> io::Result<PollResult> {
    let mut fds = [
        libc::pollfd {
            fd: first.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: second.map_or(-1, |f| f.as_raw_fd()),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    let ms = timeout.map_or(-1, poll_millis);
    let n = if second.is_some() { 2 } else { 1 };
    // SAFETY: `fds` is a valid array of `n` pollfds.
    let r = unsafe { libc::poll(fds.as_mut_ptr(), n, ms) };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EINTR) {
            return Ok(PollResult::default());
        }
        return Err(e);
    }
    let ready = |p: &libc::pollfd| p.revents & (libc::POLLIN | libc::POLLERR | libc::POLLHUP) != 0;
    Ok(PollResult {
        first: ready(&fds[0]),
        second: n == 2 && ready(&fds[1]),
    })
}

/// An `epoll(7)` set watching several descriptors for input. The set itself is readable
/// (to `poll(2)`, or inside another epoll set) while any member is: a multi-device ring hands
/// it out as its one selectable descriptor.
#[derive(Debug)]
pub struct EpollSet {
    fd: OwnedFd,
}

impl AsFd for EpollSet {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl EpollSet {
    /// A close-on-exec epoll set watching every fd of `fds` for `EPOLLIN` (level-triggered).
    /// A member that is closed leaves the set by itself.
    pub fn new(fds: &[BorrowedFd<'_>]) -> io::Result<Self> {
        // SAFETY: plain syscall; the fd is owned below.
        let fd = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        // SAFETY: `fd` is fresh and unowned.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        for (i, member) in fds.iter().enumerate() {
            let mut ev = libc::epoll_event {
                events: libc::EPOLLIN as u32,
                u64: i as u64,
            };
            // SAFETY: both descriptors are open; `ev` is a valid epoll_event.
            cvt(unsafe {
                libc::epoll_ctl(
                    fd.as_raw_fd(),
                    libc::EPOLL_CTL_ADD,
                    member.as_raw_fd(),
                    &raw mut ev,
                )
            })?;
        }
        Ok(EpollSet { fd })
    }
}

/// A non-blocking `eventfd(2)`, used to wake a blocked poll from another thread or a signal
/// handler.
#[derive(Debug)]
pub struct EventFd {
    fd: OwnedFd,
}

impl AsFd for EventFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl EventFd {
    /// Creates a non-blocking, close-on-exec eventfd.
    pub fn new() -> io::Result<Self> {
        // SAFETY: plain syscall; the fd is owned below.
        let fd = cvt(unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) })?;
        // SAFETY: `fd` is fresh and unowned.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(EventFd { fd })
    }

    /// Resets the counter to 0.
    pub fn drain(&self) {
        let mut v = 0u64;
        // SAFETY: reading 8 bytes into a u64; EAGAIN (already 0) is fine.
        unsafe {
            libc::read(self.fd.as_raw_fd(), (&raw mut v).cast(), 8);
        }
    }

    /// The raw descriptor, for [`notify_raw`] from a signal handler.
    pub fn raw(&self) -> i32 {
        self.fd.as_raw_fd()
    }
}

/// Writes 1 to the eventfd `fd` (async-signal-safe). A closed or invalid fd is ignored.
pub fn notify_raw(fd: i32) {
    if fd < 0 {
        return;
    }
    let one = 1u64;
    // SAFETY: writing 8 bytes from a u64; errors (EAGAIN at the maximum, EBADF) are harmless.
    unsafe {
        libc::write(fd, (&raw const one).cast(), 8);
    }
}
