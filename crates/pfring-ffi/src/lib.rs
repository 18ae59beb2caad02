//! # libpfring: PF_RING 5.4's C API on pfring-rs
//!
//! This crate builds `libpfring.so` and `libpfring.a` with PF_RING's function names, argument
//! types and return conventions (1 / 0 / negative `PF_RING_ERROR_*`), and `include/pfring.h`
//! (generated from these sources by cbindgen, checked in; `cargo test` fails when it drifts)
//! plus `include/pfring.hpp`, a small C++ wrapper class.
//!
//! | module | functions |
//! |---|---|
//! | [`lifecycle`] | open, open_multichannel, close, shutdown, enable/disable, bind, config, version, names, ids |
//! | [`recv`] | recv, recv_parsed, recv_burst, loop/breakloop, poll, watermarks, direction, socket mode, stats |
//! | [`send`] | send, send_get_time, send_last_rx_packet, tx watermark, flush, reflector |
//! | [`filters`] | BPF filters, filtering mode, virtual device |
//! | [`rules`] | wildcard / hash / hardware rules, sampling, filtering policy |
//! | [`cluster`] | clusters, channels, masters |
//! | [`libzero`] | libzero's DNA cluster and bouncer, on the `pfring-zc` crate |
//! | [`clock`] | next packet time, hardware timestamps, device clock |
//! | [`util`] | parse / print packets, format numbers, devices, promiscuous mode |
//!
//! ## Conventions every function follows
//! - **Panic boundary**: the body runs under `catch_unwind`; a panic returns
//!   `PF_RING_ERROR_GENERIC` (or NULL / 0), it never unwinds into C.
//! - **Arguments**: a NULL handle or pointer, or a value outside its range, returns
//!   `PF_RING_ERROR_INVALID_ARGUMENT` with `errno = EINVAL`, never a crash.
//! - **errno**: set on every failure (the OS error of a failed system call, `ENODEV` for an
//!   unknown device, `EPERM` for missing privileges, `EMSGSIZE` for an oversized frame,
//!   `EOPNOTSUPP` for `PF_RING_ERROR_NOT_SUPPORTED`, ...); `pfring_open` returns NULL with errno.
//! - **Threads**: every handle has a lock, so concurrent calls on one handle are safe; a
//!   blocking receive waits in slices of at most 50 ms without the lock, so `pfring_stats` or
//!   `pfring_breakloop` from another thread are served while it waits. Zero-copy receives
//!   (`buffer_len == 0`) return a pointer valid until the next receive on that ring, and are
//!   refused with `PF_RING_REENTRANT` (as in PF_RING).
//!
//! ## Not supported yet
//! The table of functions that return `PF_RING_ERROR_NOT_SUPPORTED` (and why) is in
//! `crates/pfring-ffi/README.md`.
#![deny(missing_docs)]
#![allow(non_camel_case_types, non_upper_case_globals, non_snake_case)]

use std::ffi::c_int;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::AtomicBool;
use std::sync::{Mutex, MutexGuard};

use pfring_rs::{BreakHandle, Error, Ring};

pub mod clock;
pub mod cluster;
pub mod filters;
pub mod libzero;
pub mod lifecycle;
pub mod recv;
pub mod rules;
pub mod send;
pub mod types;
pub mod util;

pub use types::*;

/// A PF_RING handle (opaque to C).
pub struct pfring {
    pub(crate) state: Mutex<State>,
    pub(crate) brk: BreakHandle,
    /// Set by `pfring_breakloop`, consumed by the receive that returns because of it.
    pub(crate) broken: AtomicBool,
    /// Set by `pfring_shutdown`: receives return at once from then on.
    pub(crate) shutdown: AtomicBool,
    pub(crate) reentrant: bool,
    pub(crate) long_header: bool,
    pub(crate) ring_id: u16,
    pub(crate) caplen: u32,
    pub(crate) flags: u32,
}

impl std::fmt::Debug for pfring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("pfring")
            .field("ring_id", &self.ring_id)
            .field("caplen", &self.caplen)
            .field("flags", &self.flags)
            .finish_non_exhaustive()
    }
}

/// What the lock of a handle protects.
pub(crate) struct State {
    pub(crate) ring: Ring,
    /// The BPF expression in force (re-applied by `pfring_bind`).
    pub(crate) bpf: Option<String>,
    /// Where `pfring_recv_burst` copies packets (valid until the next receive).
    pub(crate) burst_buf: Vec<u8>,
}

impl pfring {
    pub(crate) fn new(ring: Ring, caplen: u32, flags: u32) -> pfring {
        static NEXT_ID: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(1);
        pfring {
            brk: ring.break_handle(),
            state: Mutex::new(State {
                ring,
                bpf: None,
                burst_buf: Vec::new(),
            }),
            broken: AtomicBool::new(false),
            shutdown: AtomicBool::new(false),
            reentrant: flags & PF_RING_REENTRANT != 0,
            long_header: flags & PF_RING_LONG_HEADER != 0,
            ring_id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            caplen,
            flags,
        }
    }

    /// The handle's state. A panic while the lock was held (caught at the boundary) leaves
    /// the ring usable: every library call completes or hands its slots back on unwind.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A PF_RING error code on its way to C (`errno` already set).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Code(pub(crate) c_int);

impl From<Error> for Code {
    fn from(e: Error) -> Code {
        set_errno(errno_of(&e));
        Code(e.pfring_code())
    }
}

/// The `errno` PF_RING leaves for an error.
fn errno_of(e: &Error) -> c_int {
    match e {
        Error::Syscall(s) => s.source.raw_os_error().unwrap_or(libc::EIO),
        Error::NoSuchDevice { .. } => libc::ENODEV,
        Error::PermissionDenied { .. } => libc::EPERM,
        Error::NotSupported { .. } | Error::HardwareNotSupported { .. } => libc::EOPNOTSUPP,
        Error::FrameTooLarge { .. } => libc::EMSGSIZE,
        Error::NoTxSlotAvailable => libc::EAGAIN,
        Error::DeviceBusy { .. } => libc::EBUSY,
        Error::RingNotEnabled | Error::AlreadyEnabled { .. } | Error::WrongSocketMode { .. } => {
            libc::EPERM
        }
        _ => libc::EINVAL,
    }
}

/// Sets the calling thread's `errno`.
pub(crate) fn set_errno(e: c_int) {
    // SAFETY: __errno_location returns the calling thread's errno, always valid to write.
    unsafe { *libc::__errno_location() = e };
}

/// `PF_RING_ERROR_INVALID_ARGUMENT` with `errno = EINVAL`.
pub(crate) fn invalid() -> Code {
    set_errno(libc::EINVAL);
    Code(PF_RING_ERROR_INVALID_ARGUMENT)
}

/// `PF_RING_ERROR_NOT_SUPPORTED` with `errno = EOPNOTSUPP`.
pub(crate) fn not_supported() -> Code {
    set_errno(libc::EOPNOTSUPP);
    Code(PF_RING_ERROR_NOT_SUPPORTED)
}

/// Runs `f` behind the panic boundary: its result or error code, `PF_RING_ERROR_GENERIC`
/// if it panicked.
pub(crate) fn call(f: impl FnOnce() -> Result<c_int, Code>) -> c_int {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => v,
        Ok(Err(Code(c))) => c,
        Err(_) => {
            set_errno(libc::EFAULT);
            PF_RING_ERROR_GENERIC
        }
    }
}

/// Runs `f` behind the panic boundary, `on_error` for an error or a panic (functions that
/// return a pointer, a count or nothing).
pub(crate) fn call_or<T>(on_error: T, f: impl FnOnce() -> Result<T, Code>) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => v,
        Ok(Err(_)) => on_error,
        Err(_) => {
            set_errno(libc::EFAULT);
            on_error
        }
    }
}

/// The handle behind `ring`, or `INVALID_ARGUMENT` for NULL.
///
/// # Safety
/// `ring` is NULL or a handle from `pfring_open` that was not closed.
pub(crate) unsafe fn handle<'a>(ring: *mut pfring) -> Result<&'a pfring, Code> {
    // SAFETY: the caller passes NULL or a live handle (`pfring_open` returned it).
    unsafe { ring.as_ref() }.ok_or_else(invalid)
}

/// `*p` as a mutable reference, or `INVALID_ARGUMENT` for NULL.
///
/// # Safety
/// `p` is NULL or valid for writes of a `T` and not aliased for the call.
pub(crate) unsafe fn out<'a, T>(p: *mut T) -> Result<&'a mut T, Code> {
    // SAFETY: the caller passes NULL or a pointer valid for a `T`.
    unsafe { p.as_mut() }.ok_or_else(invalid)
}

/// A C string argument as UTF-8, or `INVALID_ARGUMENT` for NULL / invalid UTF-8.
///
/// # Safety
/// `s` is NULL or a NUL-terminated string.
pub(crate) unsafe fn cstr<'a>(s: *const std::ffi::c_char) -> Result<&'a str, Code> {
    if s.is_null() {
        return Err(invalid());
    }
    // SAFETY: non-NULL and NUL-terminated per the caller's contract.
    unsafe { std::ffi::CStr::from_ptr(s) }
        .to_str()
        .map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_generic_error_and_efault() {
        let rc = call(|| panic!("boom"));
        assert_eq!(rc, PF_RING_ERROR_GENERIC);
        assert_eq!(
            std::io::Error::last_os_error().raw_os_error(),
            Some(libc::EFAULT)
        );
        let p: *mut pfring = call_or(std::ptr::null_mut(), || panic!("boom"));
        assert!(p.is_null());
    }

    #[test]
    fn library_errors_map_to_codes_and_errno() {
        let c = Code::from(Error::NoSuchDevice { name: "x".into() });
        assert_eq!(c.0, -13);
        assert_eq!(
            std::io::Error::last_os_error().raw_os_error(),
            Some(libc::ENODEV)
        );
        let c = Code::from(Error::FrameTooLarge {
            len: 9000,
            max: 1518,
        });
        assert_eq!(c.0, PF_RING_ERROR_INVALID_ARGUMENT);
        assert_eq!(
            std::io::Error::last_os_error().raw_os_error(),
            Some(libc::EMSGSIZE)
        );
        assert_eq!(
            Code::from(Error::RingNotEnabled).0,
            PF_RING_ERROR_RING_NOT_ENABLED
        );
        assert_eq!(not_supported().0, -7);
        assert_eq!(invalid().0, -2);
    }

    #[test]
    fn null_pointers_are_invalid_arguments() {
        // SAFETY: NULL is allowed by every helper.
        unsafe {
            assert_eq!(handle(std::ptr::null_mut()).err(), Some(Code(-2)));
            assert_eq!(out::<u32>(std::ptr::null_mut()).err(), Some(Code(-2)));
            assert_eq!(cstr(std::ptr::null()).err(), Some(Code(-2)));
        }
    }
}
