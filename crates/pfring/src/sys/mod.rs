//! The system-call layer: the only place in this crate with `unsafe`.
//!
//! # Safety
//!
//! Everything above this module sees safe owning types:
//! - file descriptors are [`std::os::fd::OwnedFd`]s, closed on drop;
//! - [`mmap::Mmap`] unmaps on drop and never hands out raw pointers;
//! - [`tpacket::RxRing`] owns the TPACKET_V3 mapping and only creates byte slices over a block
//!   while the block belongs to user space (its `block_status` has `TP_STATUS_USER`, read with
//!   `Acquire`), and hands the block back to the kernel with a `Release` store once every
//!   slice into it is gone (the borrow checker ties the slices to `&mut` borrows of the ring).
//! - every offset read from kernel-written headers is bounds-checked against the block before
//!   it is used, so a misbehaving kernel (or a bug) yields an error, never an out-of-bounds read.
#![allow(unsafe_code)]

pub(crate) mod bpf;
pub mod clock;
pub mod cpu;
pub(crate) mod ethtool;
pub mod iface;
pub mod mmap;
pub mod pidfd;
pub mod plugin;
pub mod shm;
pub mod signal;
pub mod socket;
pub mod tpacket;
pub mod xsk;

use std::io;

/// Converts a libc return value into an `io::Result`.
pub(crate) fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}
