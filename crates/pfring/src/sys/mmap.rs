//! An owned shared memory mapping of a file descriptor.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr::NonNull;

/// A `MAP_SHARED` mapping that is unmapped on drop.
#[derive(Debug)]
pub struct Mmap {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is plain memory owned by this value; moving it between threads is fine.
// Concurrent access rules (kernel vs user) are enforced by the ring views built on top.
unsafe impl Send for Mmap {}
// SAFETY: `Mmap` exposes no interior mutation through `&self` except via the ring views, which
// use atomics for the kernel-shared status words.
unsafe impl Sync for Mmap {}

impl Mmap {
    /// `mmap(NULL, len, PROT_READ|PROT_WRITE, MAP_SHARED [| MAP_POPULATE], fd, 0)`.
    ///
    /// # Errors
    /// The OS error of `mmap(2)`.
    pub fn shared(fd: BorrowedFd<'_>, len: usize, populate: bool) -> io::Result<Self> {
        Self::shared_at(fd, len, 0, populate)
    }

    /// `mmap(NULL, len, PROT_READ|PROT_WRITE, MAP_SHARED [| MAP_POPULATE], fd, offset)`: a
    /// mapping at a page offset that selects what to map (the AF_XDP rings).
    ///
    /// # Errors
    /// The OS error of `mmap(2)`.
    pub fn shared_at(
        fd: BorrowedFd<'_>,
        len: usize,
        offset: u64,
        populate: bool,
    ) -> io::Result<Self> {
        let flags = libc::MAP_SHARED | if populate { libc::MAP_POPULATE } else { 0 };
        let off = libc::off_t::try_from(offset)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "mmap offset"))?;
        // SAFETY: a fresh mapping at a kernel-chosen address; no existing memory is affected.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                flags,
                fd.as_raw_fd(),
                off,
            )
        };
        Self::checked(ptr, len)
    }

    /// `mmap(NULL, len, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_POPULATE, -1, 0)`:
    /// zeroed private memory (an AF_XDP UMEM).
    ///
    /// # Errors
    /// The OS error of `mmap(2)`.
    pub fn anonymous(len: usize) -> io::Result<Self> {
        // SAFETY: a fresh anonymous mapping at a kernel-chosen address.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
                0,
            )
        };
        Self::checked(ptr, len)
    }

    fn checked(ptr: *mut libc::c_void, len: usize) -> io::Result<Self> {
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr =
            NonNull::new(ptr.cast::<u8>()).ok_or_else(|| io::Error::other("mmap returned NULL"))?;
        Ok(Mmap { ptr, len })
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Base pointer, for the ring views in this module tree only.
    pub(super) fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` describe a mapping this value created and nobody else unmaps.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}
