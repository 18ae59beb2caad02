//! The only module of this crate with `unsafe`: memfd, mmap, futex and a few identity calls.
//!
//! # Safety
//! [`Mapping`] owns a `MAP_SHARED` mapping. Everything outside this module reaches the mapping
//! through bounds- and alignment-checked accessors that return atomics (for control words) or
//! byte slices (for packet buffers). Bytes have no invalid values, so whatever a peer process
//! writes can change the values seen, never break memory safety of this process; the control
//! words are only ever accessed through atomics.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::time::Duration;

/// A `MAP_SHARED` read-write mapping, unmapped on drop.
#[derive(Debug)]
pub(crate) struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is plain memory owned by this value; all shared access goes through
// atomics or byte slices handed out under the crate's buffer ownership protocol.
unsafe impl Send for Mapping {}
// SAFETY: see `Send`: `&Mapping` only exposes atomics and byte slices.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps `len` bytes of `fd` shared, read-write, from offset 0.
    pub(crate) fn map_fd(fd: BorrowedFd<'_>, len: usize) -> io::Result<Self> {
        Self::map_shared(len, libc::MAP_SHARED, fd.as_raw_fd())
    }

    /// An anonymous shared mapping (zero-filled), for in-process clusters and tests.
    pub(crate) fn anonymous(len: usize) -> io::Result<Self> {
        Self::map_shared(len, libc::MAP_SHARED | libc::MAP_ANONYMOUS, -1)
    }

    /// `mmap` of `len` bytes, read-write, with `flags`, of `fd` (-1: anonymous) from offset 0.
    fn map_shared(len: usize, flags: libc::c_int, fd: libc::c_int) -> io::Result<Self> {
        if len == 0 {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        // SAFETY: a fresh mapping at a kernel-chosen address; no existing memory is affected.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                flags,
                fd,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr =
            NonNull::new(ptr.cast::<u8>()).ok_or_else(|| io::Error::other("mmap returned NULL"))?;
        Ok(Mapping { ptr, len })
    }

    /// Length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    fn check(&self, off: usize, len: usize, align: usize) -> Option<*mut u8> {
        let end = off.checked_add(len)?;
        if end > self.len || !off.is_multiple_of(align) {
            return None;
        }
        // SAFETY: `off + len <= self.len`, so the result stays inside the mapping.
        Some(unsafe { self.ptr.as_ptr().add(off) })
    }

    /// The 64-bit atomic at `off` (8-byte aligned, inside the mapping), else `None`.
    #[inline]
    pub(crate) fn u64_at(&self, off: usize) -> Option<&AtomicU64> {
        let p = self.check(off, 8, 8)?;
        // SAFETY: in bounds and 8-byte aligned (the mapping base is page aligned); AtomicU64 has
        // the layout of u64; the memory lives as long as `&self`; every access to control
        // words, in every process, is atomic.
        Some(unsafe { &*p.cast::<AtomicU64>() })
    }

    /// The 32-bit atomic at `off` (4-byte aligned, inside the mapping), else `None`.
    #[inline]
    pub(crate) fn u32_at(&self, off: usize) -> Option<&AtomicU32> {
        let p = self.check(off, 4, 4)?;
        // SAFETY: as `u64_at`, for a 4-byte aligned u32.
        Some(unsafe { &*p.cast::<AtomicU32>() })
    }

    /// `len` bytes at `off`, else `None`.
    #[inline]
    pub(crate) fn slice(&self, off: usize, len: usize) -> Option<&[u8]> {
        let p = self.check(off, len, 1)?;
        // SAFETY: in bounds, lives as long as `&self`. The crate's ownership protocol (a
        // buffer index is held by one handle, published with release/acquire through the
        // queues) keeps this process's writers away while the slice lives; a misbehaving peer
        // process can only change byte values, and every byte value is valid.
        Some(unsafe { std::slice::from_raw_parts(p, len) })
    }

    /// `len` writable bytes at `off`, else `None`.
    ///
    /// Crate contract: called only for a packet buffer the caller owns under the pool's
    /// ownership protocol (one handle per buffer index, handles are not `Clone`), so no other
    /// reference of this process aliases it while the slice lives.
    #[inline]
    #[allow(clippy::mut_from_ref)]
    pub(crate) fn slice_mut(&self, off: usize, len: usize) -> Option<&mut [u8]> {
        let p = self.check(off, len, 1)?;
        // SAFETY: in bounds, lives as long as `&self`; exclusivity within this process is the
        // crate contract stated above (the buffer index is owned by exactly one handle).
        Some(unsafe { std::slice::from_raw_parts_mut(p, len) })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` describe a mapping this value created and nobody else unmaps.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}

/// `memfd_create(name, MFD_CLOEXEC [| MFD_HUGETLB])`.
pub(crate) fn memfd(name: &str, huge: bool) -> io::Result<OwnedFd> {
    let name = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let flags = libc::MFD_CLOEXEC | if huge { libc::MFD_HUGETLB } else { 0 };
    // SAFETY: `name` is a valid NUL-terminated string; the call only creates a new fd.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), flags) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The effective user id.
pub(crate) fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Binds the calling thread to `cores` (`sched_setaffinity(0, ..)`).
pub(crate) fn set_thread_affinity(cores: &[usize]) -> io::Result<()> {
    // SAFETY: an all-zero cpu_set_t is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &c in cores {
        if c >= libc::CPU_SETSIZE as usize {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        // SAFETY: `c` is below CPU_SETSIZE, so CPU_SET stays inside `set`.
        unsafe { libc::CPU_SET(c, &mut set) };
    }
    // SAFETY: `set` is a valid cpu_set_t of the size passed; pid 0 is the calling thread.
    let r = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The cores the calling thread may run on (`sched_getaffinity(0, ..)`).
pub(crate) fn thread_affinity() -> io::Result<Vec<usize>> {
    // SAFETY: an all-zero cpu_set_t is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid, writable cpu_set_t of the size passed; pid 0 is this thread.
    let r = unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((0..libc::CPU_SETSIZE as usize)
        // SAFETY: `c` is below CPU_SETSIZE; CPU_ISSET only reads `set`.
        .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
        .collect())
}

/// `FUTEX_WAIT` (shared, not private: the word may live in memory shared with other
/// processes) on `word` while it equals `expected`, for at most `timeout`.
/// Returns when woken, on timeout, on a signal, or at once if the value differs.
pub(crate) fn futex_wait(word: &AtomicU32, expected: u32, timeout: Duration) {
    let ts = libc::timespec {
        tv_sec: timeout.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: `word` is a valid, aligned u32 for the duration of the call; the timespec lives
    // on the stack across the call. Errors (EAGAIN, ETIMEDOUT, EINTR) all mean "return".
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            &ts as *const libc::timespec,
        );
    }
}

/// `FUTEX_WAKE` of every waiter on `word` (shared futex).
pub(crate) fn futex_wake(word: &AtomicU32) {
    // SAFETY: `word` is a valid, aligned u32; waking has no memory effects.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, i32::MAX);
    }
}

/// A view of one SPSC ring in a [`Mapping`]: the control block (head, wake sequence, tail,
/// sleeping flag, each on its own 64-byte line inside 128-byte halves) and `len` 64-bit slots.
/// Bounds are checked once, at construction; accessors cannot go out of bounds (slot
/// indices are masked).
#[derive(Debug)]
pub(crate) struct RawRing {
    _map: std::sync::Arc<Mapping>,
    ctl: NonNull<u8>,
    slots: NonNull<AtomicU64>,
    mask: u64,
}

// SAFETY: the pointers point into `_map`, which is kept alive by the Arc and is Send + Sync;
// everything reached through them is atomic.
unsafe impl Send for RawRing {}
// SAFETY: as for Send.
unsafe impl Sync for RawRing {}

/// Offsets inside a ring control block.
pub(crate) const RING_HEAD: usize = 0;
/// Wake sequence (futex word), written by the producer.
pub(crate) const RING_SEQ: usize = 64;
/// Consumer position.
pub(crate) const RING_TAIL: usize = 128;
/// Consumer sleeping flag.
pub(crate) const RING_SLEEPING: usize = 192;
/// Size of a ring control block.
pub(crate) const RING_CTL: usize = 256;

impl RawRing {
    /// The ring whose control block is at `ctl` (64-byte aligned) followed by `len` slots;
    /// `len` must be a power of two. `None` if any of it lies outside the mapping.
    pub(crate) fn new(map: &std::sync::Arc<Mapping>, ctl: usize, len: usize) -> Option<Self> {
        if !len.is_power_of_two() || !ctl.is_multiple_of(64) {
            return None;
        }
        let bytes = len.checked_mul(8)?.checked_add(RING_CTL)?;
        let base = map.check(ctl, bytes, 64)?;
        // SAFETY: `base + RING_CTL` is inside the checked range and 8-byte aligned.
        let slots = unsafe { base.add(RING_CTL) }.cast::<AtomicU64>();
        Some(RawRing {
            _map: map.clone(),
            ctl: NonNull::new(base)?,
            slots: NonNull::new(slots)?,
            mask: len as u64 - 1,
        })
    }

    fn ctl_u64(&self, off: usize) -> &AtomicU64 {
        // SAFETY: `off` is one of the RING_* constants (< RING_CTL, 8-aligned) inside the
        // control block checked at construction; the mapping lives as long as `self.map`.
        unsafe { &*self.ctl.as_ptr().add(off).cast::<AtomicU64>() }
    }

    fn ctl_u32(&self, off: usize) -> &AtomicU32 {
        // SAFETY: as `ctl_u64`, for a 4-aligned u32 inside the control block.
        unsafe { &*self.ctl.as_ptr().add(off).cast::<AtomicU32>() }
    }

    /// Producer position.
    #[inline]
    pub(crate) fn head(&self) -> &AtomicU64 {
        self.ctl_u64(RING_HEAD)
    }
    /// Consumer position.
    #[inline]
    pub(crate) fn tail(&self) -> &AtomicU64 {
        self.ctl_u64(RING_TAIL)
    }
    /// Wake sequence (futex word).
    #[inline]
    pub(crate) fn seq(&self) -> &AtomicU32 {
        self.ctl_u32(RING_SEQ)
    }
    /// Consumer sleeping flag.
    #[inline]
    pub(crate) fn sleeping(&self) -> &AtomicU32 {
        self.ctl_u32(RING_SLEEPING)
    }
    /// Slot `pos` (taken modulo the ring length).
    #[inline]
    pub(crate) fn slot(&self, pos: u64) -> &AtomicU64 {
        let i = (pos & self.mask) as usize;
        // SAFETY: `i <= mask < len`, and `len` slots were checked to lie inside the mapping.
        unsafe { &*self.slots.as_ptr().add(i) }
    }
    /// Number of slots.
    #[inline]
    pub(crate) fn capacity(&self) -> u64 {
        self.mask + 1
    }
}
