//! Thin system-call wrappers: namespaces, interface ioctls, `AF_PACKET` sockets, `pre_exec` hooks.
//!
//! # Safety
//!
//! This is the only module of the crate with `unsafe` code. Every wrapper here keeps to these rules:
//!
//! - file descriptors come in as [`BorrowedFd`] (alive for the call) and go out as [`OwnedFd`]
//!   (closed exactly once, on drop); a raw fd returned by the kernel is wrapped at once;
//! - every pointer handed to the kernel points to a live, correctly sized and initialised local or
//!   borrowed buffer, with its true length next to it;
//! - structures the kernel reads or fills (`ifreq`, `sockaddr_ll`, `sock_fprog`, ...) are
//!   zero-initialised before use, which is a valid bit pattern for all of these C structs;
//! - `pre_exec` closures only make async-signal-safe system calls (`setns`, `setgroups`,
//!   `setresgid`, `setresuid`, `prctl`) and do not allocate.
//!
//! Kernel references: `Documentation/networking/packet_mmap.rst`, `man 7 packet`, `man 2 setns`,
//! `man 2 unshare`, `man 7 netdevice`, `Documentation/networking/filter.rst`.
#![allow(unsafe_code)]

use std::ffi::CStr;
use std::io;
use std::mem;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

/// `ETH_P_ALL` in network byte order, as `AF_PACKET` wants it in `sll_protocol`.
pub(crate) const ETH_P_ALL_BE: u16 = (libc::ETH_P_ALL as u16).to_be();

/// `PACKET_QDISC_BYPASS` from `<linux/if_packet.h>`.
const PACKET_QDISC_BYPASS: libc::c_int = 20;
/// `PACKET_STATISTICS` from `<linux/if_packet.h>`.
const PACKET_STATISTICS: libc::c_int = 6;

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn cvt_ssize(ret: libc::ssize_t) -> io::Result<usize> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as usize)
    }
}

// ---------------------------------------------------------------------------------------------
// Namespaces
// ---------------------------------------------------------------------------------------------

/// Opens a file read-only with `O_CLOEXEC` (used for `/proc/thread-self/ns/net`).
pub(crate) fn open_cloexec(path: &CStr) -> io::Result<OwnedFd> {
    // SAFETY: `path` is a valid NUL-terminated string for the duration of the call.
    let fd = cvt(unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) })?;
    // SAFETY: `open` succeeded, so `fd` is a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `unshare(CLONE_NEWNET)`: moves the calling thread into a fresh network namespace.
pub(crate) fn unshare_net() -> io::Result<()> {
    // SAFETY: plain system call without pointer arguments; it only affects the calling thread.
    cvt(unsafe { libc::unshare(libc::CLONE_NEWNET) }).map(drop)
}

/// `setns(fd, CLONE_NEWNET)`: moves the calling thread into the network namespace `fd` names.
pub(crate) fn setns_net(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: `fd` is a live descriptor for the call; setns affects only the calling thread.
    cvt(unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) }).map(drop)
}

/// Pins the calling thread to one CPU (`sched_setaffinity(0, ...)`).
pub(crate) fn pin_current_thread(cpu: usize) -> io::Result<()> {
    // SAFETY: an all-zero cpu_set_t is the empty set, a valid value.
    let mut set: libc::cpu_set_t = unsafe { mem::zeroed() };
    if cpu >= 8 * mem::size_of::<libc::cpu_set_t>() {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: `cpu` is below CPU_SETSIZE (checked above), `set` is a live cpu_set_t.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: `set` is a valid cpu_set_t and its size is passed; pid 0 means the calling thread.
    cvt(unsafe { libc::sched_setaffinity(0, mem::size_of::<libc::cpu_set_t>(), &set) }).map(drop)
}

/// Returns the calling thread's CPU affinity as a list of CPU numbers.
pub(crate) fn current_affinity() -> io::Result<Vec<usize>> {
    // SAFETY: an all-zero cpu_set_t is the empty set, a valid value.
    let mut set: libc::cpu_set_t = unsafe { mem::zeroed() };
    // SAFETY: `set` is a writable cpu_set_t and its size is passed; pid 0 is the calling thread.
    cvt(unsafe { libc::sched_getaffinity(0, mem::size_of::<libc::cpu_set_t>(), &mut set) })?;
    let max = 8 * mem::size_of::<libc::cpu_set_t>();
    // SAFETY: every index is below CPU_SETSIZE and `set` is initialised.
    Ok((0..max)
        .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
        .collect())
}

/// Restores the calling thread's CPU affinity to `cpus`.
pub(crate) fn set_affinity(cpus: &[usize]) -> io::Result<()> {
    // SAFETY: an all-zero cpu_set_t is the empty set, a valid value.
    let mut set: libc::cpu_set_t = unsafe { mem::zeroed() };
    let max = 8 * mem::size_of::<libc::cpu_set_t>();
    for &cpu in cpus.iter().filter(|&&c| c < max) {
        // SAFETY: `cpu` is below CPU_SETSIZE (filtered), `set` is a live cpu_set_t.
        unsafe { libc::CPU_SET(cpu, &mut set) };
    }
    // SAFETY: `set` is a valid cpu_set_t and its size is passed; pid 0 means the calling thread.
    cvt(unsafe { libc::sched_setaffinity(0, mem::size_of::<libc::cpu_set_t>(), &set) }).map(drop)
}

// ---------------------------------------------------------------------------------------------
// pre_exec hooks for std::process::Command
// ---------------------------------------------------------------------------------------------

/// Makes `cmd`'s child enter the network namespace `ns` before `exec`.
///
/// The closure owns a reference to the descriptor, so it stays open as long as the `Command`.
pub(crate) fn command_setns(cmd: &mut Command, ns: Arc<OwnedFd>) {
    let hook = move || -> io::Result<()> { setns_net(ns.as_fd()) };
    // SAFETY: the hook runs in the forked child before exec; it only calls setns(2), which is
    // async-signal-safe, and neither allocates nor takes locks (the error path builds an
    // io::Error from errno, which does not allocate).
    unsafe { cmd.pre_exec(hook) };
}

/// Makes `cmd`'s child drop to `uid`/`gid` with no supplementary groups and no capabilities.
///
/// Runs as a `pre_exec` hook (in registration order with other hooks), so it composes with
/// [`command_setns`] registered before it.
pub(crate) fn command_drop_privileges(cmd: &mut Command, uid: libc::uid_t, gid: libc::gid_t) {
    let hook = move || -> io::Result<()> {
        // SAFETY: setgroups with size 0 does not read the (null) list pointer.
        cvt(unsafe { libc::setgroups(0, std::ptr::null()) })?;
        // SAFETY: plain system calls on integers, async-signal-safe.
        cvt(unsafe { libc::setresgid(gid, gid, gid) })?;
        // SAFETY: as above. Changing all uids from 0 to non-zero clears the permitted,
        // effective and ambient capability sets (capabilities(7), "Effect of user ID changes").
        cvt(unsafe { libc::setresuid(uid, uid, uid) })?;
        // SAFETY: prctl with integer arguments only; forbids regaining privileges via setuid
        // binaries or file capabilities in the exec'd program.
        cvt(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) })?;
        Ok(())
    };
    // SAFETY: the hook runs in the forked child before exec and only makes async-signal-safe
    // system calls without allocating.
    unsafe { cmd.pre_exec(hook) };
}

// ---------------------------------------------------------------------------------------------
// Interface ioctls (man 7 netdevice), in the calling thread's network namespace
// ---------------------------------------------------------------------------------------------

fn ifreq_for(name: &str) -> io::Result<libc::ifreq> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= libc::IFNAMSIZ || bytes.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid interface name {name:?}"),
        ));
    }
    // SAFETY: ifreq is a plain C struct/union; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { mem::zeroed() };
    for (dst, &src) in req.ifr_name.iter_mut().zip(bytes) {
        *dst = src as libc::c_char;
    }
    Ok(req)
}

/// A datagram socket used only as a handle for interface ioctls; it lives in the calling
/// thread's network namespace.
fn ioctl_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain system call; the result is checked and wrapped at once.
    let fd = cvt(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: `socket` succeeded; the descriptor is fresh and owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn ifreq_ioctl(req: &mut libc::ifreq, op: libc::Ioctl) -> io::Result<()> {
    let sock = ioctl_socket()?;
    // SAFETY: `sock` is a live socket and `req` points to a valid, writable ifreq for the call.
    cvt(unsafe { libc::ioctl(sock.as_raw_fd(), op, req as *mut libc::ifreq) }).map(drop)
}

/// Interface index (`SIOCGIFINDEX`).
pub(crate) fn if_index(name: &str) -> io::Result<u32> {
    let mut req = ifreq_for(name)?;
    ifreq_ioctl(&mut req, libc::SIOCGIFINDEX)?;
    // SAFETY: SIOCGIFINDEX filled the ifindex member of the union.
    Ok(unsafe { req.ifr_ifru.ifru_ifindex } as u32)
}

/// Hardware address (`SIOCGIFHWADDR`).
pub(crate) fn if_hwaddr(name: &str) -> io::Result<[u8; 6]> {
    let mut req = ifreq_for(name)?;
    ifreq_ioctl(&mut req, libc::SIOCGIFHWADDR)?;
    // SAFETY: SIOCGIFHWADDR filled the hwaddr member of the union.
    let data = unsafe { req.ifr_ifru.ifru_hwaddr }.sa_data;
    let mut mac = [0u8; 6];
    for (dst, &src) in mac.iter_mut().zip(data.iter()) {
        *dst = src as u8;
    }
    Ok(mac)
}

/// Interface flags (`SIOCGIFFLAGS`).
pub(crate) fn if_flags(name: &str) -> io::Result<libc::c_int> {
    let mut req = ifreq_for(name)?;
    ifreq_ioctl(&mut req, libc::SIOCGIFFLAGS)?;
    // SAFETY: SIOCGIFFLAGS filled the flags member of the union.
    Ok(libc::c_int::from(unsafe { req.ifr_ifru.ifru_flags }) & 0xffff)
}

/// Sets or clears interface flags (`SIOCGIFFLAGS` + `SIOCSIFFLAGS`).
pub(crate) fn if_change_flags(name: &str, set: libc::c_int, clear: libc::c_int) -> io::Result<()> {
    let flags = (if_flags(name)? | set) & !clear;
    let mut req = ifreq_for(name)?;
    req.ifr_ifru.ifru_flags = flags as libc::c_short;
    ifreq_ioctl(&mut req, libc::SIOCSIFFLAGS)
}

// ---------------------------------------------------------------------------------------------
// AF_PACKET sockets (man 7 packet)
// ---------------------------------------------------------------------------------------------

/// Opens an `AF_PACKET`/`SOCK_RAW` socket with protocol 0 (receives nothing until bound).
pub(crate) fn packet_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain system call; the result is checked and wrapped at once. Protocol 0 means the
    // socket is not hooked into the receive path before `bind` names a protocol and interface.
    let fd = cvt(unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: `socket` succeeded; the descriptor is fresh and owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Binds a packet socket to `ifindex` with `protocol` (network byte order; 0 = send only).
pub(crate) fn packet_bind(fd: BorrowedFd<'_>, ifindex: u32, protocol_be: u16) -> io::Result<()> {
    // SAFETY: sockaddr_ll is a plain C struct; all-zero is valid.
    let mut sll: libc::sockaddr_ll = unsafe { mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as libc::c_ushort;
    sll.sll_protocol = protocol_be;
    sll.sll_ifindex = ifindex as libc::c_int;
    // SAFETY: `sll` is a valid sockaddr_ll and its exact size is passed.
    cvt(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sll as *const libc::sockaddr_ll).cast(),
            mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    })
    .map(drop)
}

fn setsockopt_int(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: `value` is a live c_int and its size is passed.
    cvt(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// `PACKET_QDISC_BYPASS`: transmit straight to the driver, skipping the qdisc layer.
pub(crate) fn set_qdisc_bypass(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    setsockopt_int(
        fd,
        libc::SOL_PACKET,
        PACKET_QDISC_BYPASS,
        libc::c_int::from(on),
    )
}

/// `SO_RCVBUFFORCE` (needs `CAP_NET_ADMIN`), falling back to `SO_RCVBUF`.
pub(crate) fn set_rcvbuf(fd: BorrowedFd<'_>, bytes: usize) -> io::Result<()> {
    let bytes = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, bytes)
        .or_else(|_| setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, bytes))
}

/// `SO_MARK` (needs `CAP_NET_ADMIN`).
pub(crate) fn set_mark(fd: BorrowedFd<'_>, mark: u32) -> io::Result<()> {
    setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_MARK, mark as libc::c_int)
}

/// A classic BPF instruction (`struct sock_filter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BpfInsn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

/// `SO_ATTACH_FILTER` with a classic BPF program.
pub(crate) fn attach_filter(fd: BorrowedFd<'_>, prog: &[BpfInsn]) -> io::Result<()> {
    let mut insns: Vec<libc::sock_filter> = prog
        .iter()
        .map(|i| libc::sock_filter {
            code: i.code,
            jt: i.jt,
            jf: i.jf,
            k: i.k,
        })
        .collect();
    let len = u16::try_from(insns.len()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let fprog = libc::sock_fprog {
        len,
        filter: insns.as_mut_ptr(),
    };
    // SAFETY: `fprog` points to `insns`, which outlives the call; the kernel copies the program.
    cvt(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            (&fprog as *const libc::sock_fprog).cast(),
            mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// `send(2)` of one frame on a bound packet socket.
pub(crate) fn send(fd: BorrowedFd<'_>, frame: &[u8]) -> io::Result<usize> {
    // SAFETY: `frame` is a live readable buffer of `frame.len()` bytes.
    cvt_ssize(unsafe { libc::send(fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) })
}

/// Waits until `fd` is readable, for at most `timeout`. Returns whether it is readable.
pub(crate) fn poll_readable(fd: BorrowedFd<'_>, timeout: Duration) -> io::Result<bool> {
    let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: `pfd` is one valid pollfd and the count passed is 1.
        match cvt(unsafe { libc::poll(&mut pfd, 1, ms) }) {
            Ok(n) => return Ok(n > 0),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// What `recvmsg` on a packet socket tells about a frame besides its bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecvFrom {
    /// Bytes copied into the buffer.
    pub len: usize,
    /// Length of the frame as the kernel had it (after VLAN offload removed the outer tag).
    pub orig_len: usize,
    pub pkttype: u8,
    pub ifindex: u32,
    /// The outer VLAN tag as (TPID, TCI) when the kernel took it out of the frame
    /// (`TP_STATUS_VLAN_VALID` in `PACKET_AUXDATA`).
    pub vlan: Option<(u16, u16)>,
}

/// `PACKET_AUXDATA` and the `tp_status` bits of `<linux/if_packet.h>`.
const PACKET_AUXDATA: libc::c_int = 8;
const TP_STATUS_VLAN_VALID: u32 = 1 << 4;
const TP_STATUS_VLAN_TPID_VALID: u32 = 1 << 6;

/// Asks for `PACKET_AUXDATA` control messages (VLAN tag taken out by offload, original length).
pub(crate) fn enable_auxdata(fd: BorrowedFd<'_>) -> io::Result<()> {
    setsockopt_int(fd, libc::SOL_PACKET, PACKET_AUXDATA, 1)
}

/// Non-blocking `recvmsg(2)` with `MSG_TRUNC`; `Ok(None)` when nothing is queued.
pub(crate) fn recv_from(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<Option<RecvFrom>> {
    // SAFETY: sockaddr_ll is a plain C struct; all-zero is valid.
    let mut sll: libc::sockaddr_ll = unsafe { mem::zeroed() };
    // u64 elements keep the control buffer aligned for cmsghdr.
    let mut control = [0u64; 16];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is a plain C struct; all-zero is valid (fields set below).
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_name = (&mut sll as *mut libc::sockaddr_ll).cast();
    msg.msg_namelen = mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = mem::size_of_val(&control) as _;
    // SAFETY: `msg` points to live buffers (`buf` via `iov`, `sll`, `control`) with their
    // true sizes, all of which outlive the call.
    let ret = unsafe {
        libc::recvmsg(
            fd.as_raw_fd(),
            &mut msg,
            libc::MSG_DONTWAIT | libc::MSG_TRUNC,
        )
    };
    let orig_len = match cvt_ssize(ret) {
        Ok(n) => n,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut vlan = None;
    // SAFETY: `msg` was filled by a successful recvmsg; CMSG_FIRSTHDR/NXTHDR stay within
    // `msg_controllen` bytes of `control`.
    let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
    while !cmsg.is_null() {
        // SAFETY: `cmsg` is non-null and points to a complete cmsghdr inside `control`.
        let hdr = unsafe { &*cmsg };
        let aux_len = mem::size_of::<libc::tpacket_auxdata>();
        if hdr.cmsg_level == libc::SOL_PACKET
            && hdr.cmsg_type == PACKET_AUXDATA
            // SAFETY: CMSG_LEN only computes a length.
            && hdr.cmsg_len as usize >= unsafe { libc::CMSG_LEN(aux_len as u32) } as usize
        {
            // SAFETY: the message holds at least a tpacket_auxdata (length checked above);
            // read_unaligned copes with any alignment of the data.
            let aux: libc::tpacket_auxdata = unsafe {
                std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::tpacket_auxdata>())
            };
            if aux.tp_status & TP_STATUS_VLAN_VALID != 0 {
                let tpid = if aux.tp_status & TP_STATUS_VLAN_TPID_VALID != 0 {
                    aux.tp_vlan_tpid
                } else {
                    0x8100
                };
                vlan = Some((tpid, aux.tp_vlan_tci));
            }
        }
        // SAFETY: `cmsg` is a valid header inside the control buffer described by `msg`.
        cmsg = unsafe { libc::CMSG_NXTHDR(&msg, cmsg) };
    }
    Ok(Some(RecvFrom {
        len: orig_len.min(buf.len()),
        orig_len,
        pkttype: sll.sll_pkttype,
        ifindex: sll.sll_ifindex as u32,
        vlan,
    }))
}

/// `PACKET_STATISTICS`: (packets, drops) since the last call (reading resets the counters).
pub(crate) fn packet_stats(fd: BorrowedFd<'_>) -> io::Result<(u32, u32)> {
    // SAFETY: tpacket_stats is two u32 counters; all-zero is valid.
    let mut st: libc::tpacket_stats = unsafe { mem::zeroed() };
    let mut len = mem::size_of::<libc::tpacket_stats>() as libc::socklen_t;
    // SAFETY: `st` is writable and `len` holds its size.
    cvt(unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            PACKET_STATISTICS,
            (&mut st as *mut libc::tpacket_stats).cast(),
            &mut len,
        )
    })?;
    Ok((st.tp_packets, st.tp_drops))
}
