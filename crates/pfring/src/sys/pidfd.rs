//! Another process's file descriptor (`pidfd_open(2)` + `pidfd_getfd(2)`, Linux ≥ 5.6).

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

/// A duplicate, in this process, of descriptor `fd` of process `pid` (close-on-exec).
///
/// # Errors
/// `ESRCH` if the process is gone, `EBADF` if it has no such descriptor, `EPERM` without
/// ptrace permission over it (`CAP_SYS_PTRACE`, or same user and Yama allowing it),
/// `ENOSYS` before Linux 5.6.
pub fn fd_of_process(pid: i32, fd: i32) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall with integer arguments; the returned descriptor is owned below.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if pidfd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `pidfd` is a fresh descriptor that nothing else owns.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd as i32) };
    use std::os::fd::AsRawFd;
    // SAFETY: plain syscall with integer arguments (`pidfd` is alive for the call); the
    // returned descriptor is owned below.
    let got = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) };
    if got < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `got` is a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(got as i32) })
}
