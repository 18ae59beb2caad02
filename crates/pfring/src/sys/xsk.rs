//! AF_XDP sockets (`XSK`): the UMEM, the four rings, bind, statistics and wake-ups.
//!
//! # References
//! - Documentation/networking/af_xdp.rst (UMEM, fill / completion / RX / TX rings,
//!   `XDP_USE_NEED_WAKEUP`, `XDP_COPY` / `XDP_ZEROCOPY`, `XDP_STATISTICS`)
//! - `include/uapi/linux/if_xdp.h` (`struct sockaddr_xdp`, `struct xdp_umem_reg`,
//!   `struct xdp_mmap_offsets`, `struct xdp_desc`, `struct xdp_statistics`)
//!
//! # The rings
//!
//! Each ring is a single-producer single-consumer queue shared with the kernel: a `u32`
//! producer index, a `u32` consumer index, a `u32` flags word and an array of `size` entries
//! (`size` a power of two; indices run freely and are masked). Entries are `u64` UMEM
//! addresses (fill, completion) or [`XdpDesc`]s (RX, TX). The side that produces writes the
//! entries, then publishes them with a `Release` store of the producer index; the side that
//! consumes reads the producer index with `Acquire`, reads the entries, then hands the slots
//! back with a `Release` store of the consumer index (the same protocol as the kernel's
//! `xsk_queue.h` and libxdp's `xsk.h`).
//!
//! # Safety
//!
//! A [`RingView`] owns its mapping. At construction every offset the kernel gave
//! (`XDP_MMAP_OFFSETS`) is checked: the three index words are 4-byte aligned and inside the
//! mapping, the entry array is 8-byte aligned and `size * size_of::<entry>()` bytes of it
//! fit in the mapping, and `size` is a power of two; after that every access masks the index
//! with `size - 1`, so no access can leave the mapping. The index words are only accessed
//! as `AtomicU32` (the kernel updates them concurrently); the entries are plain-old-data
//! (`u64`, `XdpDesc`: any bit pattern is valid) read and written with volatile accesses.
//! The UMEM ([`Umem`]) only hands out byte slices after checking `addr + len` against its
//! length; the backend only asks for frames it owns (received and not yet returned to the
//! fill ring, or free TX frames), so the kernel does not write the bytes a slice covers.

use std::io;
use std::marker::PhantomData;
use std::mem::size_of;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};

use super::cvt;
use super::mmap::Mmap;

/// `AF_XDP`.
pub const AF_XDP: i32 = 44;
/// `SOL_XDP`.
pub const SOL_XDP: i32 = 283;
/// `XDP_MMAP_OFFSETS`.
const XDP_MMAP_OFFSETS: i32 = 1;
/// `XDP_RX_RING`.
const XDP_RX_RING: i32 = 2;
/// `XDP_TX_RING`.
const XDP_TX_RING: i32 = 3;
/// `XDP_UMEM_REG`.
const XDP_UMEM_REG: i32 = 4;
/// `XDP_UMEM_FILL_RING`.
const XDP_UMEM_FILL_RING: i32 = 5;
/// `XDP_UMEM_COMPLETION_RING`.
const XDP_UMEM_COMPLETION_RING: i32 = 6;
/// `XDP_STATISTICS`.
const XDP_STATISTICS: i32 = 7;
/// `XDP_PGOFF_RX_RING`.
const XDP_PGOFF_RX_RING: u64 = 0;
/// `XDP_PGOFF_TX_RING`.
const XDP_PGOFF_TX_RING: u64 = 0x8000_0000;
/// `XDP_UMEM_PGOFF_FILL_RING`.
const XDP_UMEM_PGOFF_FILL_RING: u64 = 0x1_0000_0000;
/// `XDP_UMEM_PGOFF_COMPLETION_RING`.
const XDP_UMEM_PGOFF_COMPLETION_RING: u64 = 0x1_8000_0000;

/// `sxdp_flags` of `bind(2)`: use the UMEM of the socket in `sxdp_shared_umem_fd`.
pub const XDP_SHARED_UMEM: u16 = 1;
/// `sxdp_flags` of `bind(2)`: copy mode.
pub const XDP_COPY: u16 = 1 << 1;
/// `sxdp_flags` of `bind(2)`: zero-copy mode (fails where the driver lacks it).
pub const XDP_ZEROCOPY: u16 = 1 << 2;
/// `sxdp_flags` of `bind(2)`: the kernel sets `XDP_RING_NEED_WAKEUP` instead of polling.
pub const XDP_USE_NEED_WAKEUP: u16 = 1 << 3;
/// The ring flags bit: the kernel wants a system call to make progress.
const XDP_RING_NEED_WAKEUP: u32 = 1;

/// `struct xdp_desc`: one RX or TX descriptor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct XdpDesc {
    /// Address of the frame in the UMEM (offset from its start).
    pub addr: u64,
    /// Length of the frame.
    pub len: u32,
    /// Options (0; multi-buffer frames set `XDP_PKT_CONTD`).
    pub options: u32,
}

const _: () = assert!(size_of::<XdpDesc>() == 16);

/// `struct xdp_ring_offset`.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
struct RingOffset {
    producer: u64,
    consumer: u64,
    desc: u64,
    flags: u64,
}

/// `struct xdp_mmap_offsets`.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
struct MmapOffsets {
    rx: RingOffset,
    tx: RingOffset,
    fr: RingOffset,
    cr: RingOffset,
}

const _: () = assert!(size_of::<MmapOffsets>() == 128);

/// `struct xdp_umem_reg` (with `flags` and `tx_metadata_len`, zero).
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
struct UmemReg {
    addr: u64,
    len: u64,
    chunk_size: u32,
    headroom: u32,
    flags: u32,
    tx_metadata_len: u32,
}

const _: () = assert!(size_of::<UmemReg>() == 32);

/// `struct sockaddr_xdp`.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
struct SockaddrXdp {
    family: u16,
    flags: u16,
    ifindex: u32,
    queue_id: u32,
    shared_umem_fd: u32,
}

const _: () = assert!(size_of::<SockaddrXdp>() == 16);

/// `struct xdp_statistics`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct XdpStatistics {
    /// Frames dropped for other reasons than the two below (e.g. no UMEM frame to copy into).
    pub rx_dropped: u64,
    /// Fill-ring entries the kernel refused (bad address).
    pub rx_invalid_descs: u64,
    /// TX descriptors the kernel refused (bad address or length).
    pub tx_invalid_descs: u64,
    /// Frames dropped because the RX ring was full.
    pub rx_ring_full: u64,
    /// Times the fill ring was empty when a frame arrived.
    pub rx_fill_ring_empty_descs: u64,
    /// Times the TX ring was empty when the kernel looked for frames to send.
    pub tx_ring_empty_descs: u64,
}

const _: () = assert!(size_of::<XdpStatistics>() == 48);

/// What a ring entry can be: plain old data, any bit pattern valid.
pub trait Entry: Copy + Default + private::Sealed {}
impl Entry for u64 {}
impl Entry for XdpDesc {}
mod private {
    pub trait Sealed {}
    impl Sealed for u64 {}
    impl Sealed for super::XdpDesc {}
}

/// The memory behind a ring view.
#[derive(Debug)]
enum Backing {
    Map(#[allow(dead_code)] Mmap),
    /// A Vec laid out like a kernel ring, for unit tests.
    #[cfg(test)]
    Fake(#[allow(dead_code)] Box<[u64]>),
}

/// A bounds-checked view of one AF_XDP ring (see the module docs for the protocol).
#[derive(Debug)]
pub struct RingView<T: Entry> {
    _mem: Backing,
    base: std::ptr::NonNull<u8>,
    producer: usize,
    consumer: usize,
    flags: usize,
    desc: usize,
    size: u32,
    cached_prod: u32,
    cached_cons: u32,
    _t: PhantomData<T>,
}

// SAFETY: the view owns its mapping; the kernel-shared words are atomics and the entries are
// plain data, so moving the view to another thread is fine.
unsafe impl<T: Entry> Send for RingView<T> {}

impl<T: Entry> RingView<T> {
    /// Checks the offsets against a mapping of `len` bytes at `base` (see the module docs).
    fn new(
        mem: Backing,
        base: *mut u8,
        len: usize,
        off: RingOffset,
        size: u32,
    ) -> io::Result<Self> {
        let bad = |what: &str| io::Error::other(format!("AF_XDP ring layout: {what}"));
        if size == 0 || !size.is_power_of_two() {
            return Err(bad("size is not a power of two"));
        }
        let word = |o: u64, what: &str| -> io::Result<usize> {
            let o = usize::try_from(o).map_err(|_| bad(what))?;
            if o % 4 != 0 || o.checked_add(4).is_none_or(|e| e > len) {
                return Err(bad(what));
            }
            Ok(o)
        };
        let producer = word(off.producer, "producer index outside the mapping")?;
        let consumer = word(off.consumer, "consumer index outside the mapping")?;
        let flags = word(off.flags, "flags outside the mapping")?;
        let desc = usize::try_from(off.desc).map_err(|_| bad("descriptors"))?;
        let bytes = (size as usize)
            .checked_mul(size_of::<T>())
            .and_then(|b| b.checked_add(desc));
        if desc % 8 != 0 || bytes.is_none_or(|e| e > len) {
            return Err(bad("descriptors outside the mapping"));
        }
        let base = std::ptr::NonNull::new(base).ok_or_else(|| bad("null mapping"))?;
        let mut v = RingView {
            _mem: mem,
            base,
            producer,
            consumer,
            flags,
            desc,
            size,
            cached_prod: 0,
            cached_cons: 0,
            _t: PhantomData,
        };
        v.cached_prod = v.word(v.producer).load(Ordering::Acquire);
        v.cached_cons = v.word(v.consumer).load(Ordering::Acquire);
        Ok(v)
    }

    /// Maps ring `pgoff` of `fd` (`size` entries at the offsets `off`).
    fn map(fd: BorrowedFd<'_>, pgoff: u64, off: RingOffset, size: u32) -> io::Result<Self> {
        let len = usize::try_from(off.desc)
            .ok()
            .and_then(|d| d.checked_add(size as usize * size_of::<T>()))
            .ok_or_else(|| io::Error::other("AF_XDP ring too large"))?;
        let map = Mmap::shared_at(fd, len, pgoff, true)?;
        let base = map.as_ptr();
        RingView::new(Backing::Map(map), base, len, off, size)
    }

    /// The index word at byte offset `off` (checked at construction).
    fn word(&self, off: usize) -> &AtomicU32 {
        // SAFETY: `off` is one of the three offsets checked in `new`: 4-byte aligned and
        // inside the mapping, which lives as long as `self`. The kernel only accesses the word
        // atomically (READ_ONCE / smp_store_release), so an AtomicU32 view is sound.
        unsafe { &*self.base.as_ptr().add(off).cast::<AtomicU32>() }
    }

    fn slot(&self, idx: u32) -> *mut T {
        let i = (idx & (self.size - 1)) as usize;
        // SAFETY: `i < size` and `desc + size * size_of::<T>()` is inside the mapping
        // (checked in `new`), so the pointer stays inside the mapping.
        unsafe { self.base.as_ptr().add(self.desc).cast::<T>().add(i) }
    }

    fn read(&self, idx: u32) -> T {
        // SAFETY: `slot` is in bounds and 8-byte aligned (desc is, and entries are 8 or 16
        // bytes); `T` is plain old data so any bytes the kernel wrote are a valid `T`.
        unsafe { self.slot(idx).read_volatile() }
    }

    fn write(&mut self, idx: u32, v: T) {
        // SAFETY: as in `read`; the slot belongs to the producer (us) until published.
        unsafe { self.slot(idx).write_volatile(v) }
    }

    /// Whether the kernel asked for a wake-up (`XDP_RING_NEED_WAKEUP`).
    pub fn needs_wakeup(&self) -> bool {
        self.word(self.flags).load(Ordering::Relaxed) & XDP_RING_NEED_WAKEUP != 0
    }

    // ---- producer side (fill, TX) ----

    /// Free slots (at least `want` if that many are free; re-reads the consumer index only
    /// when the cached view has fewer).
    pub fn free(&mut self, want: u32) -> u32 {
        let used = self.cached_prod.wrapping_sub(self.cached_cons);
        let free = self.size.saturating_sub(used);
        if free >= want {
            return free;
        }
        self.cached_cons = self.word(self.consumer).load(Ordering::Acquire);
        self.size
            .saturating_sub(self.cached_prod.wrapping_sub(self.cached_cons))
    }

    /// Writes one entry (not visible to the kernel before [`RingView::publish`]); `false`
    /// when the ring is full.
    pub fn push(&mut self, v: T) -> bool {
        if self.free(1) == 0 {
            return false;
        }
        self.write(self.cached_prod, v);
        self.cached_prod = self.cached_prod.wrapping_add(1);
        true
    }

    /// Entries written by [`RingView::push`] and not yet published.
    #[cfg(test)]
    pub fn unpublished(&self) -> u32 {
        self.cached_prod
            .wrapping_sub(self.word(self.producer).load(Ordering::Relaxed))
    }

    /// Makes the pushed entries visible to the kernel (`Release` store of the producer).
    pub fn publish(&mut self) {
        self.word(self.producer)
            .store(self.cached_prod, Ordering::Release);
    }

    /// Entries published but not consumed by the kernel yet (re-reads the consumer).
    pub fn in_flight(&mut self) -> u32 {
        self.cached_cons = self.word(self.consumer).load(Ordering::Acquire);
        self.word(self.producer)
            .load(Ordering::Relaxed)
            .wrapping_sub(self.cached_cons)
    }

    // ---- consumer side (RX, completion) ----

    /// Entries ready to read (re-reads the producer only when fewer than `want` are cached).
    pub fn available(&mut self, want: u32) -> u32 {
        let avail = self.cached_prod.wrapping_sub(self.cached_cons);
        if avail >= want {
            return avail;
        }
        self.cached_prod = self.word(self.producer).load(Ordering::Acquire);
        self.cached_prod.wrapping_sub(self.cached_cons)
    }

    /// Entries ready to read, without updating the cached view (`&self`).
    pub fn peek_available(&self) -> u32 {
        self.word(self.producer)
            .load(Ordering::Acquire)
            .wrapping_sub(self.cached_cons)
    }

    /// Takes the next entry (its slot is handed back by [`RingView::release`]).
    pub fn pop(&mut self) -> Option<T> {
        if self.available(1) == 0 {
            return None;
        }
        let v = self.read(self.cached_cons);
        self.cached_cons = self.cached_cons.wrapping_add(1);
        Some(v)
    }

    /// Hands the slots of the popped entries back to the kernel (`Release` store of the
    /// consumer).
    pub fn release(&mut self) {
        self.word(self.consumer)
            .store(self.cached_cons, Ordering::Release);
    }
}

#[cfg(test)]
impl<T: Entry> RingView<T> {
    /// A ring in a Vec, laid out like the kernel's: producer at 0, consumer at 64, flags at
    /// 128, entries from 192 (the kernel puts the words on separate cache lines).
    pub(crate) fn fake(size: u32) -> io::Result<Self> {
        let bytes = 192 + size as usize * size_of::<T>();
        let mut mem = vec![0u64; bytes.div_ceil(8)].into_boxed_slice();
        let base = mem.as_mut_ptr().cast::<u8>();
        let off = RingOffset {
            producer: 0,
            consumer: 64,
            flags: 128,
            desc: 192,
        };
        RingView::new(Backing::Fake(mem), base, bytes, off, size)
    }
    /// The kernel's side: the producer index.
    pub(crate) fn kernel_producer(&self) -> &AtomicU32 {
        self.word(self.producer)
    }
    /// The kernel's side: the consumer index.
    pub(crate) fn kernel_consumer(&self) -> &AtomicU32 {
        self.word(self.consumer)
    }
    /// The kernel's side: the flags word.
    pub(crate) fn kernel_flags(&self) -> &AtomicU32 {
        self.word(self.flags)
    }
    /// The kernel's side: read / write entry `idx`.
    pub(crate) fn kernel_read(&self, idx: u32) -> T {
        self.read(idx)
    }
    pub(crate) fn kernel_write(&mut self, idx: u32, v: T) {
        self.write(idx, v)
    }
}

/// The packet memory shared with the kernel: `frames` chunks of `frame_size` bytes.
#[derive(Debug)]
pub struct Umem {
    map: Mmap,
    frame_size: u32,
}

impl Umem {
    /// Allocates `frames * frame_size` bytes (page-aligned, populated).
    pub fn new(frames: u32, frame_size: u32) -> io::Result<Umem> {
        let len = (frames as usize)
            .checked_mul(frame_size as usize)
            .filter(|&l| l > 0)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "UMEM size"))?;
        Ok(Umem {
            map: Mmap::anonymous(len)?,
            frame_size,
        })
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// `len` bytes at `addr`, or `None` when they are not all inside the UMEM.
    pub fn bytes(&self, addr: u64, len: u32) -> Option<&[u8]> {
        let start = usize::try_from(addr).ok()?;
        let end = start.checked_add(len as usize)?;
        if end > self.map.len() {
            return None;
        }
        // SAFETY: `[start, end)` is inside the mapping (checked above), which lives as long as
        // `self`; the caller only asks for frames it owns (see the module docs).
        Some(unsafe { std::slice::from_raw_parts(self.map.as_ptr().add(start), len as usize) })
    }

    /// Mutable `len` bytes at `addr`, or `None` when they are not all inside the UMEM.
    pub fn bytes_mut(&mut self, addr: u64, len: u32) -> Option<&mut [u8]> {
        let start = usize::try_from(addr).ok()?;
        let end = start.checked_add(len as usize)?;
        if end > self.map.len() {
            return None;
        }
        // SAFETY: in bounds (checked above); `&mut self` makes the slice unique on our side,
        // and the frame is a free TX frame the kernel does not touch.
        Some(unsafe { std::slice::from_raw_parts_mut(self.map.as_ptr().add(start), len as usize) })
    }
}

/// The four rings of a socket that owns its UMEM.
#[derive(Debug)]
pub struct Rings {
    /// Fill ring: UMEM addresses given to the kernel for received frames.
    pub fill: RingView<u64>,
    /// Completion ring: UMEM addresses of transmitted frames.
    pub comp: RingView<u64>,
    /// RX ring: received frames.
    pub rx: RingView<XdpDesc>,
    /// TX ring: frames to transmit.
    pub tx: RingView<XdpDesc>,
}

/// An `AF_XDP` socket.
#[derive(Debug)]
pub struct XskSocket {
    fd: OwnedFd,
}

fn setsockopt<T>(fd: BorrowedFd<'_>, opt: i32, v: &T) -> io::Result<()> {
    // SAFETY: `v` is a live value of exactly the size passed.
    cvt(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            SOL_XDP,
            opt,
            (v as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    })
    .map(|_| ())
}

fn getsockopt<T: Default>(fd: BorrowedFd<'_>, opt: i32) -> io::Result<T> {
    let mut v = T::default();
    let mut len = size_of::<T>() as libc::socklen_t;
    // SAFETY: `v` is a live, writable value of `len` bytes; the kernel writes at most `len`.
    cvt(unsafe { libc::getsockopt(fd.as_raw_fd(), SOL_XDP, opt, (&raw mut v).cast(), &mut len) })?;
    if (len as usize) < size_of::<T>() {
        return Err(io::Error::other(format!(
            "getsockopt(SOL_XDP, {opt}) returned {len} bytes, expected {}",
            size_of::<T>()
        )));
    }
    Ok(v)
}

impl XskSocket {
    /// `socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0)`.
    pub fn new() -> io::Result<XskSocket> {
        // SAFETY: plain system call, no pointers.
        let fd = cvt(unsafe { libc::socket(AF_XDP, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) })?;
        // SAFETY: `fd` is a new descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(XskSocket { fd })
    }

    /// Registers `umem` (`XDP_UMEM_REG`, aligned chunks of its frame size, no headroom).
    /// The kernel pins the pages; `umem` must outlive the socket (the caller keeps both in
    /// one struct, socket dropped first).
    pub fn register_umem(&self, umem: &Umem) -> io::Result<()> {
        let reg = UmemReg {
            addr: umem.map.as_ptr() as u64,
            len: umem.len() as u64,
            chunk_size: umem.frame_size,
            ..UmemReg::default()
        };
        setsockopt(self.fd.as_fd(), XDP_UMEM_REG, &reg)
    }

    /// Sizes the four rings (`XDP_*_RING` options; powers of two) and maps them.
    pub fn create_rings(&self, fill: u32, comp: u32, rx: u32, tx: u32) -> io::Result<Rings> {
        let fd = self.fd.as_fd();
        setsockopt(fd, XDP_UMEM_FILL_RING, &fill)?;
        setsockopt(fd, XDP_UMEM_COMPLETION_RING, &comp)?;
        setsockopt(fd, XDP_RX_RING, &rx)?;
        setsockopt(fd, XDP_TX_RING, &tx)?;
        let off: MmapOffsets = getsockopt(fd, XDP_MMAP_OFFSETS)?;
        Ok(Rings {
            fill: RingView::map(fd, XDP_UMEM_PGOFF_FILL_RING, off.fr, fill)?,
            comp: RingView::map(fd, XDP_UMEM_PGOFF_COMPLETION_RING, off.cr, comp)?,
            rx: RingView::map(fd, XDP_PGOFF_RX_RING, off.rx, rx)?,
            tx: RingView::map(fd, XDP_PGOFF_TX_RING, off.tx, tx)?,
        })
    }

    /// Binds to queue `queue` of interface `ifindex` with `flags` (`XDP_COPY`,
    /// `XDP_ZEROCOPY`, `XDP_USE_NEED_WAKEUP`); with `shared`, the socket uses the UMEM
    /// registered on `shared` (`XDP_SHARED_UMEM`). On another device or queue than `shared`'s, this
    /// socket needs fill and completion rings of its own ([`XskSocket::create_rings`]).
    pub fn bind_shared(
        &self,
        ifindex: u32,
        queue: u32,
        flags: u16,
        shared: Option<BorrowedFd<'_>>,
    ) -> io::Result<()> {
        let sa = SockaddrXdp {
            family: AF_XDP as u16,
            flags: flags | if shared.is_some() { XDP_SHARED_UMEM } else { 0 },
            ifindex,
            queue_id: queue,
            shared_umem_fd: shared.map_or(0, |f| f.as_raw_fd() as u32),
        };
        // SAFETY: `sa` is a live sockaddr_xdp of the size passed.
        cvt(unsafe {
            libc::bind(
                self.fd.as_raw_fd(),
                (&raw const sa).cast(),
                size_of::<SockaddrXdp>() as libc::socklen_t,
            )
        })
        .map(|_| ())
    }

    /// `XDP_STATISTICS`.
    pub fn statistics(&self) -> io::Result<XdpStatistics> {
        getsockopt(self.fd.as_fd(), XDP_STATISTICS)
    }

    /// Asks the kernel to transmit what the TX ring holds: `sendto(fd, NULL, 0, MSG_DONTWAIT)`.
    /// `EAGAIN`, `EBUSY` and `ENOBUFS` (transient: the kernel is busy) are not errors.
    pub fn kick_tx(&self) -> io::Result<()> {
        // SAFETY: no buffer and no address are passed.
        let r = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                std::ptr::null(),
                0,
                libc::MSG_DONTWAIT,
                std::ptr::null(),
                0,
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::EAGAIN | libc::EBUSY | libc::ENOBUFS | libc::EINTR) => Ok(()),
                _ => Err(e),
            };
        }
        Ok(())
    }

    /// Wakes the RX side after the fill ring was refilled while the kernel waited for it:
    /// `recvfrom(fd, NULL, 0, MSG_DONTWAIT)`.
    pub fn wakeup_rx(&self) -> io::Result<()> {
        // SAFETY: no buffer and no address are passed.
        let r = unsafe {
            libc::recvfrom(
                self.fd.as_raw_fd(),
                std::ptr::null_mut(),
                0,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::EAGAIN | libc::EBUSY | libc::EINTR) => Ok(()),
                _ => Err(e),
            };
        }
        Ok(())
    }
}

impl AsFd for XskSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn producer_fills_then_waits_for_the_consumer() {
        let mut r = RingView::<u64>::fake(4).unwrap();
        assert_eq!(r.free(1), 4);
        for a in 0..4u64 {
            assert!(r.push(a * 4096));
        }
        assert!(!r.push(99), "a full ring refuses");
        // Nothing is visible before publish.
        assert_eq!(r.kernel_producer().load(Ordering::Acquire), 0);
        assert_eq!(r.unpublished(), 4);
        r.publish();
        assert_eq!(r.kernel_producer().load(Ordering::Acquire), 4);
        assert_eq!(r.kernel_read(2), 8192);
        assert_eq!(r.in_flight(), 4);
        // The kernel consumes two: two slots are free again, at indices 4 and 5 (masked 0, 1).
        r.kernel_consumer().store(2, Ordering::Release);
        assert_eq!(r.free(1), 2);
        assert!(r.push(7));
        assert!(r.push(8));
        assert!(!r.push(9));
        r.publish();
        assert_eq!(r.kernel_read(4), 7);
        assert_eq!(r.kernel_read(1), 8);
        assert_eq!(r.in_flight(), 4);
    }

    #[test]
    fn consumer_reads_what_the_kernel_published_across_the_wrap() {
        let mut r = RingView::<XdpDesc>::fake(8).unwrap();
        // Start both indices near u32::MAX so they wrap.
        let start = u32::MAX - 2;
        r.kernel_producer().store(start, Ordering::Release);
        r.kernel_consumer().store(start, Ordering::Release);
        let mut r = {
            // Re-read the indices as a new view would.
            r.cached_prod = start;
            r.cached_cons = start;
            r
        };
        assert_eq!(r.available(1), 0);
        assert!(r.pop().is_none());
        for i in 0..5u32 {
            let d = XdpDesc {
                addr: u64::from(i) * 2048,
                len: 60 + i,
                options: 0,
            };
            r.kernel_write(start.wrapping_add(i), d);
        }
        // Written but not published: invisible.
        assert_eq!(r.available(1), 0);
        r.kernel_producer()
            .store(start.wrapping_add(5), Ordering::Release);
        assert_eq!(r.available(1), 5);
        let got: Vec<u32> = std::iter::from_fn(|| r.pop()).map(|d| d.len).collect();
        assert_eq!(got, vec![60, 61, 62, 63, 64]);
        // Consumer not handed back until release.
        assert_eq!(r.kernel_consumer().load(Ordering::Acquire), start);
        r.release();
        assert_eq!(
            r.kernel_consumer().load(Ordering::Acquire),
            start.wrapping_add(5)
        );
    }

    #[test]
    fn need_wakeup_flag() {
        let r = RingView::<u64>::fake(2).unwrap();
        assert!(!r.needs_wakeup());
        r.kernel_flags()
            .store(XDP_RING_NEED_WAKEUP, Ordering::Release);
        assert!(r.needs_wakeup());
    }

    #[test]
    fn bad_layouts_are_refused() {
        let mut mem = vec![0u64; 64].into_boxed_slice();
        let base = mem.as_mut_ptr().cast::<u8>();
        let len = 512;
        let ok = RingOffset {
            producer: 0,
            consumer: 64,
            flags: 128,
            desc: 192,
        };
        let try_off = |off: RingOffset, size: u32| {
            RingView::<u64>::new(
                Backing::Fake(vec![0].into_boxed_slice()),
                base,
                len,
                off,
                size,
            )
            .map(|_| ())
        };
        assert!(try_off(ok, 16).is_ok());
        assert!(try_off(ok, 3).is_err(), "not a power of two");
        assert!(try_off(ok, 64).is_err(), "entries past the end");
        assert!(
            try_off(
                RingOffset {
                    producer: 510,
                    ..ok
                },
                16
            )
            .is_err(),
            "index word past the end"
        );
        assert!(
            try_off(RingOffset { consumer: 66, ..ok }, 16).is_err(),
            "misaligned"
        );
        assert!(
            try_off(RingOffset { desc: 196, ..ok }, 8).is_err(),
            "misaligned entries"
        );
        drop(mem);
    }
}
