//! Network interface facts: index, MAC address, RX channel count, the interface list, and
//! exclusive ("quick mode") locks.
//!
//! Everything here asks the kernel through a socket of the calling thread's network
//! namespace (never `/sys`, whose view is fixed when it is mounted).

use std::ffi::{CStr, CString};
use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::cvt;

pub(super) fn ctl_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain syscall; the fd is owned below.
    let fd = cvt(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: `fd` is fresh and unowned.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub(super) fn ifreq(name: &str) -> io::Result<libc::ifreq> {
    // SAFETY: all-zero is a valid ifreq.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= req.ifr_name.len() || bytes.contains(&0) {
        return Err(io::Error::from_raw_os_error(libc::ENODEV));
    }
    for (d, s) in req.ifr_name.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    Ok(req)
}

/// `if_nametoindex(3)`; `ENODEV` when there is no such interface.
pub fn ifindex(name: &str) -> io::Result<i32> {
    let c = CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::ENODEV))?;
    // SAFETY: `c` is a valid NUL-terminated string.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if idx == 0 {
        let e = io::Error::last_os_error();
        // glibc reports ENXIO or ENODEV for an unknown name.
        return Err(match e.raw_os_error() {
            Some(libc::ENXIO) | Some(libc::ENODEV) | Some(0) | None => {
                io::Error::from_raw_os_error(libc::ENODEV)
            }
            _ => e,
        });
    }
    Ok(idx as i32)
}

/// `SIOCGIFHWADDR`: the interface's hardware address (all zero for loopback / no address).
pub fn mac_address(name: &str) -> io::Result<[u8; 6]> {
    let sock = ctl_socket()?;
    let mut req = ifreq(name)?;
    // SAFETY: `req` is a valid ifreq for SIOCGIFHWADDR.
    cvt(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFHWADDR, &mut req) })?;
    // SAFETY: the kernel filled `ifru_hwaddr`.
    let sa = unsafe { req.ifr_ifru.ifru_hwaddr };
    let mut mac = [0u8; 6];
    for (d, s) in mac.iter_mut().zip(sa.sa_data.iter()) {
        *d = *s as u8;
    }
    Ok(mac)
}

/// `SIOCGIFMTU`.
pub fn mtu(name: &str) -> io::Result<u32> {
    let sock = ctl_socket()?;
    let mut req = ifreq(name)?;
    // SAFETY: `req` is a valid ifreq for SIOCGIFMTU.
    cvt(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFMTU, &mut req) })?;
    // SAFETY: the kernel filled `ifru_mtu`.
    Ok(unsafe { req.ifr_ifru.ifru_mtu } as u32)
}

#[repr(C)]
#[derive(Default)]
struct EthtoolChannels {
    cmd: u32,
    max_rx: u32,
    max_tx: u32,
    max_other: u32,
    max_combined: u32,
    rx_count: u32,
    tx_count: u32,
    other_count: u32,
    combined_count: u32,
}

const ETHTOOL_GCHANNELS: u32 = 0x3c;

/// `ETHTOOL_GCHANNELS`: the number of RX queues (RX-only plus combined channels); 1 when the
/// driver does not report channels (loopback, many virtual devices).
pub fn rx_channels(name: &str) -> io::Result<u32> {
    let sock = ctl_socket()?;
    let mut req = ifreq(name)?;
    let mut ch = EthtoolChannels {
        cmd: ETHTOOL_GCHANNELS,
        ..Default::default()
    };
    req.ifr_ifru.ifru_data = (&raw mut ch).cast();
    // SAFETY: `req` points at a live ethtool_channels for the duration of the call.
    let r = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCETHTOOL, &mut req) };
    if r < 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::EOPNOTSUPP) => Ok(1),
            _ => Err(e),
        };
    }
    Ok((ch.rx_count + ch.combined_count).max(1))
}

const _: () = assert!(size_of::<EthtoolChannels>() == 36);

/// `struct ethtool_ringparam`.
#[repr(C)]
#[derive(Default)]
struct EthtoolRingparam {
    cmd: u32,
    rx_max_pending: u32,
    rx_mini_max_pending: u32,
    rx_jumbo_max_pending: u32,
    tx_max_pending: u32,
    rx_pending: u32,
    rx_mini_pending: u32,
    rx_jumbo_pending: u32,
    tx_pending: u32,
}

const _: () = assert!(size_of::<EthtoolRingparam>() == 36);

const ETHTOOL_GRINGPARAM: u32 = 0x10;

/// `ETHTOOL_GRINGPARAM`: the number of descriptors in the device's TX ring (`ethtool -g`,
/// "TX" under "Current hardware settings"); `None` when the driver has no descriptor ring to
/// report (veth, loopback and most virtual devices).
pub fn tx_descriptors(name: &str) -> io::Result<Option<u32>> {
    let sock = ctl_socket()?;
    let mut req = ifreq(name)?;
    let mut rp = EthtoolRingparam {
        cmd: ETHTOOL_GRINGPARAM,
        ..Default::default()
    };
    req.ifr_ifru.ifru_data = (&raw mut rp).cast();
    // SAFETY: `req` points at a live ethtool_ringparam for the duration of the call.
    let r = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCETHTOOL, &mut req) };
    if r < 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::EOPNOTSUPP) => Ok(None),
            _ => Err(e),
        };
    }
    Ok((rp.tx_pending > 0).then_some(rp.tx_pending))
}

#[repr(C)]
struct EthtoolDrvinfo {
    cmd: u32,
    driver: [u8; 32],
    version: [u8; 32],
    fw_version: [u8; 32],
    bus_info: [u8; 32],
    erom_version: [u8; 32],
    reserved2: [u8; 12],
    n_priv_flags: u32,
    n_stats: u32,
    testinfo_len: u32,
    eedump_len: u32,
    regdump_len: u32,
}

const _: () = assert!(size_of::<EthtoolDrvinfo>() == 196);

const ETHTOOL_GDRVINFO: u32 = 0x3;

/// `ETHTOOL_GDRVINFO`: the driver name (`"veth"`, `"e1000e"`, ...); empty when the device has
/// no ethtool driver info (loopback).
pub fn driver_name(name: &str) -> io::Result<String> {
    let sock = ctl_socket()?;
    let mut req = ifreq(name)?;
    // SAFETY: all-zero is a valid ethtool_drvinfo.
    let mut info: EthtoolDrvinfo = unsafe { std::mem::zeroed() };
    info.cmd = ETHTOOL_GDRVINFO;
    req.ifr_ifru.ifru_data = (&raw mut info).cast();
    // SAFETY: `req` points at a live ethtool_drvinfo for the duration of the call.
    let r = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCETHTOOL, &mut req) };
    if r < 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::EOPNOTSUPP) => Ok(String::new()),
            _ => Err(e),
        };
    }
    let end = info.driver.iter().position(|b| *b == 0).unwrap_or(32);
    Ok(String::from_utf8_lossy(&info.driver[..end]).into_owned())
}

/// `if_nameindex(3)`: the interfaces of the calling thread's network namespace, as
/// `(ifindex, name)` in index order.
pub fn list() -> io::Result<Vec<(u32, String)>> {
    // SAFETY: returns a malloc'ed array terminated by a zero entry, or NULL on error.
    let head = unsafe { libc::if_nameindex() };
    if head.is_null() {
        return Err(io::Error::last_os_error());
    }
    let mut out = Vec::new();
    let mut p = head;
    loop {
        // SAFETY: `p` stays within the array, which ends with a zero entry.
        let e = unsafe { &*p };
        if e.if_index == 0 || e.if_name.is_null() {
            break;
        }
        // SAFETY: `if_name` is a NUL-terminated string owned by the array.
        let name = unsafe { CStr::from_ptr(e.if_name) }
            .to_string_lossy()
            .into_owned();
        out.push((e.if_index, name));
        // SAFETY: not past the terminator (checked above).
        p = unsafe { p.add(1) };
    }
    // SAFETY: `head` came from if_nameindex and is freed once.
    unsafe { libc::if_freenameindex(head) };
    out.sort();
    Ok(out)
}

/// The inode of the calling thread's network namespace (to key per-namespace locks).
pub fn netns_inode() -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/thread-self/ns/net").map_or(0, |m| m.ino())
}

/// An exclusive advisory lock (`flock(LOCK_EX | LOCK_NB)`) on a file; released on drop or
/// when the process dies.
#[derive(Debug)]
pub struct ExclusiveLock {
    _file: std::fs::File,
}

impl ExclusiveLock {
    /// Takes the lock on `path`, creating it; `Ok(None)` if somebody else holds it.
    pub fn try_acquire(path: &std::path::Path) -> io::Result<Option<Self>> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)?;
        // SAFETY: plain syscall on an fd we own.
        let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
                return Ok(None);
            }
            return Err(e);
        }
        Ok(Some(ExclusiveLock { _file: file }))
    }
}
