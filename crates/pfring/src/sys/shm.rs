//! The shared-memory ring of the `userspace:` module: a file mapped by two processes, a
//! producer and a consumer, and the two system calls their waits need (`futex(2)` on a word of
//! the mapping, `kill(pid, 0)` to see whether the peer still lives).
//!
//! # Layout (all little-endian native words, [`HEADER_LEN`] bytes of header, then the slots)
//!
//! | offset | field |
//! |---|---|
//! | 0 | magic `u64` ([`MAGIC`]) |
//! | 8 | version `u32` ([`VERSION`]) |
//! | 12 | slot count `u32` (a power of two) |
//! | 16 | data bytes per slot `u32` (the creator's caplen) |
//! | 20 | slot stride `u32` (slot header + data, rounded up to 64) |
//! | 64 | producer index `AtomicU32` (slots written, wrapping) — its own cache line |
//! | 68 | producer pid `AtomicU32` (0 = none attached) |
//! | 72 | producer waiting `AtomicU32` (1 while it sleeps on the consumer index) |
//! | 128 | consumer index `AtomicU32` (slots released, wrapping) — its own cache line |
//! | 132 | consumer pid `AtomicU32` |
//! | 136 | consumer waiting `AtomicU32` (1 while it sleeps on the producer index) |
//!
//! A slot is a 16-byte header (timestamp in ns `u64`, wire length `u32`, captured length
//! `u32`) followed by the data.
//!
//! # Safety
//!
//! The peer is another process and is not trusted: the geometry is read and validated once
//! ([`ShmRing::attach`]) and kept in this process; afterwards only the atomics and the slot
//! contents are read from the mapping, and every index is masked into the slot range and
//! every length clamped to the slot before it is used. Slot bytes are handed out as `&[u8]`
//! over shared memory; the ring protocol gives a slot to one side at a time (the producer
//! writes only slots in `[consumer index, consumer index + count)` it owns, and publishes them
//! with a `Release` store the consumer reads with `Acquire`). A peer that breaks the protocol
//! can only make this process read garbage bytes, never out of bounds.

use std::io;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::mmap::Mmap;

/// The magic number at offset 0 (`"PFRUSRNG"`).
pub const MAGIC: u64 = u64::from_le_bytes(*b"PFRUSRNG");
/// Layout version.
pub const VERSION: u32 = 1;
/// Bytes before the first slot.
pub const HEADER_LEN: usize = 4096;
/// Bytes of a slot's header.
pub const SLOT_HEADER_LEN: usize = 16;
/// Largest slot count accepted.
pub const MAX_SLOTS: u32 = 1 << 20;
/// Largest data bytes per slot accepted.
pub const MAX_SLOT_DATA: u32 = 65535;

const OFF_MAGIC: usize = 0;
const OFF_VERSION: usize = 8;
const OFF_SLOTS: usize = 12;
const OFF_DATA: usize = 16;
const OFF_STRIDE: usize = 20;
const OFF_PROD: usize = 64;
const OFF_PROD_PID: usize = 68;
const OFF_PROD_WAIT: usize = 72;
const OFF_CONS: usize = 128;
const OFF_CONS_PID: usize = 132;
const OFF_CONS_WAIT: usize = 136;

/// The slot stride for `data` bytes per slot.
pub fn stride_for(data: u32) -> usize {
    (SLOT_HEADER_LEN + data as usize).next_multiple_of(64)
}

/// Total file size for `slots` slots of `data` bytes.
pub fn file_len(slots: u32, data: u32) -> usize {
    HEADER_LEN + slots as usize * stride_for(data)
}

/// Which atomic word of the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Word {
    /// Producer index.
    Prod,
    /// Producer pid.
    ProdPid,
    /// Producer is sleeping.
    ProdWaiting,
    /// Consumer index.
    Cons,
    /// Consumer pid.
    ConsPid,
    /// Consumer is sleeping.
    ConsWaiting,
}

impl Word {
    fn offset(self) -> usize {
        match self {
            Word::Prod => OFF_PROD,
            Word::ProdPid => OFF_PROD_PID,
            Word::ProdWaiting => OFF_PROD_WAIT,
            Word::Cons => OFF_CONS,
            Word::ConsPid => OFF_CONS_PID,
            Word::ConsWaiting => OFF_CONS_WAIT,
        }
    }
}

/// A mapped ring with validated geometry.
#[derive(Debug)]
pub struct ShmRing {
    map: Mmap,
    slots: u32,
    data: u32,
    stride: usize,
}

impl ShmRing {
    /// Sizes the file behind `fd` for `slots` (a power of two, ≤ [`MAX_SLOTS`]) slots of
    /// `data` (1..=[`MAX_SLOT_DATA`]) bytes, maps it and writes a fresh header (indices 0,
    /// no pids). The caller holds the file's lock.
    ///
    /// # Errors
    /// `EINVAL` for a bad geometry; `ftruncate(2)` / `mmap(2)` failures.
    pub fn init(file: &std::fs::File, slots: u32, data: u32) -> io::Result<ShmRing> {
        if !slots.is_power_of_two() || slots > MAX_SLOTS || data == 0 || data > MAX_SLOT_DATA {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let len = file_len(slots, data);
        file.set_len(0)?;
        file.set_len(len as u64)?;
        let map = Mmap::shared(file.as_fd(), len, false)?;
        let ring = ShmRing {
            map,
            slots,
            data,
            stride: stride_for(data),
        };
        ring.put_u32(OFF_VERSION, VERSION);
        ring.put_u32(OFF_SLOTS, slots);
        ring.put_u32(OFF_DATA, data);
        ring.put_u32(OFF_STRIDE, ring.stride as u32);
        for w in [
            Word::Prod,
            Word::ProdPid,
            Word::ProdWaiting,
            Word::Cons,
            Word::ConsPid,
            Word::ConsWaiting,
        ] {
            ring.word(w).store(0, Ordering::Relaxed);
        }
        // The magic last: a header with the magic is complete.
        ring.put_u64_release(OFF_MAGIC, MAGIC);
        Ok(ring)
    }

    /// Maps an existing ring file of `len` bytes and validates its header.
    ///
    /// # Errors
    /// `Ok(Err(reason))` when the contents are not a valid ring (too short, wrong magic or
    /// version, geometry out of range or not matching the size); `mmap(2)` failures.
    pub fn attach(
        file: &std::fs::File,
        len: u64,
    ) -> io::Result<std::result::Result<ShmRing, &'static str>> {
        if len < HEADER_LEN as u64 {
            return Ok(Err("shorter than the ring header"));
        }
        let Ok(len) = usize::try_from(len) else {
            return Ok(Err("larger than the address space"));
        };
        let map = Mmap::shared(file.as_fd(), len, false)?;
        let probe = ShmRing {
            map,
            slots: 0,
            data: 0,
            stride: 0,
        };
        if probe.get_u64_acquire(OFF_MAGIC) != MAGIC {
            return Ok(Err("bad magic (not a pfring userspace ring)"));
        }
        if probe.get_u32(OFF_VERSION) != VERSION {
            return Ok(Err("unsupported layout version"));
        }
        let slots = probe.get_u32(OFF_SLOTS);
        let data = probe.get_u32(OFF_DATA);
        let stride = probe.get_u32(OFF_STRIDE) as usize;
        if !slots.is_power_of_two() || slots > MAX_SLOTS {
            return Ok(Err("slot count is not a power of two up to 2^20"));
        }
        if data == 0 || data > MAX_SLOT_DATA || stride != stride_for(data) {
            return Ok(Err("slot size out of range"));
        }
        if file_len(slots, data) != len {
            return Ok(Err("file size does not match the slot geometry"));
        }
        Ok(Ok(ShmRing {
            map: probe.map,
            slots,
            data,
            stride,
        }))
    }

    /// Number of slots (a power of two).
    pub fn slots(&self) -> u32 {
        self.slots
    }

    /// Data bytes per slot.
    pub fn slot_data(&self) -> u32 {
        self.data
    }

    /// Bytes mapped.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// One of the header's atomic words.
    pub fn word(&self, w: Word) -> &AtomicU32 {
        let off = w.offset();
        debug_assert!(off.is_multiple_of(4) && off + 4 <= HEADER_LEN);
        // SAFETY: `off` is a constant 4-aligned offset inside the header page of a live
        // page-aligned mapping of at least HEADER_LEN bytes; the word is only ever accessed
        // atomically (by both processes), and the reference lives no longer than `self`.
        unsafe { &*self.map.as_ptr().add(off).cast::<AtomicU32>() }
    }

    fn slot_ptr(&self, index: u32) -> *mut u8 {
        let i = (index & (self.slots - 1)) as usize;
        // SAFETY: `i < slots`, and the mapping holds HEADER_LEN + slots * stride bytes
        // (checked against the file size at init/attach).
        unsafe { self.map.as_ptr().add(HEADER_LEN + i * self.stride) }
    }

    /// Writes a frame into slot `index` (masked): wire length and the first
    /// `min(data.len(), slot size)` bytes (the timestamp is [`ShmRing::set_timestamp`]'s).
    /// Returns the bytes stored.
    pub fn write_slot(&self, index: u32, wire_len: u32, data: &[u8]) -> u32 {
        let n = data.len().min(self.data as usize);
        let p = self.slot_ptr(index);
        // SAFETY: `p` points at a slot of `stride` ≥ SLOT_HEADER_LEN + self.data bytes inside
        // the mapping; the header words are 8/4-aligned (stride and HEADER_LEN are multiples
        // of 64); `n` ≤ self.data bytes are copied from a separate local buffer. The slot
        // belongs to the producer (caller's protocol), so nothing reads it concurrently.
        unsafe {
            p.add(8).cast::<u32>().write_volatile(wire_len);
            p.add(12).cast::<u32>().write_volatile(n as u32);
            std::ptr::copy_nonoverlapping(data.as_ptr(), p.add(SLOT_HEADER_LEN), n);
        }
        n as u32
    }

    /// Stamps slot `index` (masked) with `ts_ns`.
    pub fn set_timestamp(&self, index: u32, ts_ns: u64) {
        // SAFETY: as in `write_slot`: an aligned word at the start of a slot of the mapping,
        // owned by the producer until it publishes the slot.
        unsafe { self.slot_ptr(index).cast::<u64>().write_volatile(ts_ns) }
    }

    /// Reads slot `index`'s header: (timestamp ns, wire length, captured length clamped to the
    /// slot size).
    pub fn read_slot_header(&self, index: u32) -> (u64, u32, u32) {
        let p = self.slot_ptr(index);
        // SAFETY: as in `write_slot`: aligned reads inside the slot; volatile because the
        // peer process may write the memory.
        let (ts, len, cap) = unsafe {
            (
                p.cast::<u64>().read_volatile(),
                p.add(8).cast::<u32>().read_volatile(),
                p.add(12).cast::<u32>().read_volatile(),
            )
        };
        (ts, len, cap.min(self.data))
    }

    /// The first `len` (clamped to the slot size) data bytes of slot `index`.
    pub fn slot_bytes(&self, index: u32, len: u32) -> &[u8] {
        let n = len.min(self.data) as usize;
        // SAFETY: `n` ≤ slot data size, so the slice stays inside this slot of the live
        // mapping; it borrows `self`, so the mapping outlives it. See the module's Safety note
        // on sharing with the peer process.
        unsafe { std::slice::from_raw_parts(self.slot_ptr(index).add(SLOT_HEADER_LEN), n) }
    }

    fn put_u32(&self, off: usize, v: u32) {
        // SAFETY: constant aligned offset inside the header page; written before the magic is
        // published, while the creator holds the file lock.
        unsafe { self.map.as_ptr().add(off).cast::<u32>().write_volatile(v) }
    }

    fn get_u32(&self, off: usize) -> u32 {
        // SAFETY: constant aligned offset inside the header page.
        unsafe { self.map.as_ptr().add(off).cast::<u32>().read_volatile() }
    }

    /// The header word at `off`, shared with the peer and only accessed atomically.
    fn header_u64(&self, off: usize) -> &std::sync::atomic::AtomicU64 {
        // SAFETY: callers pass constant 8-aligned offsets inside the header page of the live
        // mapping (borrowed with `self`); the word is only accessed through atomics.
        unsafe {
            &*self
                .map
                .as_ptr()
                .add(off)
                .cast::<std::sync::atomic::AtomicU64>()
        }
    }

    fn put_u64_release(&self, off: usize, v: u64) {
        self.header_u64(off).store(v, Ordering::Release);
    }

    fn get_u64_acquire(&self, off: usize) -> u64 {
        self.header_u64(off).load(Ordering::Acquire)
    }
}

/// `futex(FUTEX_WAIT)` on a shared (not process-private) word: sleeps while `*word ==
/// expected`, at most `timeout`. Returns when woken, on timeout, on a signal, or at once if
/// the word changed.
///
/// # Errors
/// Failures other than `EAGAIN` (value changed), `ETIMEDOUT` and `EINTR`.
pub fn futex_wait(word: &AtomicU32, expected: u32, timeout: Duration) -> io::Result<()> {
    let ts = libc::timespec {
        tv_sec: timeout.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: `word` is a valid aligned u32 in memory that stays mapped for the call; `ts` is
    // a valid timespec; FUTEX_WAIT reads the word and sleeps, writing nothing.
    let r = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            &ts as *const libc::timespec,
            std::ptr::null::<u32>(),
            0u32,
        )
    };
    if r < 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::EAGAIN) | Some(libc::ETIMEDOUT) | Some(libc::EINTR) => Ok(()),
            _ => Err(e),
        };
    }
    Ok(())
}

/// `futex(FUTEX_WAKE)`: wakes every process sleeping on `word`.
pub fn futex_wake(word: &AtomicU32) {
    // SAFETY: `word` is a valid aligned u32; FUTEX_WAKE only reads the address as a key.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE,
            i32::MAX,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            0u32,
        );
    }
}

/// Whether process `pid` exists (`kill(pid, 0)` succeeds or fails with `EPERM`).
pub fn pid_alive(pid: u32) -> bool {
    let Ok(p) = i32::try_from(pid) else {
        return false;
    };
    if p <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists; nothing is delivered.
    let r = unsafe { libc::kill(p, 0) };
    r == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// The calling process's effective user id.
pub fn euid() -> u32 {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn memfd() -> std::fs::File {
        // An unlinked temporary file: the same mapping code as a ring file, no privileges.
        tempfile_in(std::env::temp_dir())
    }

    fn tempfile_in(dir: std::path::PathBuf) -> std::fs::File {
        let path = dir.join(format!(
            "pfring-shm-test-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .unwrap();
        std::fs::remove_file(&path).unwrap();
        f
    }

    static COUNTER: AtomicU32 = AtomicU32::new(0);

    #[test]
    fn init_then_attach_sees_the_same_geometry() {
        let f = memfd();
        let r = ShmRing::init(&f, 8, 100).unwrap();
        assert_eq!(r.len(), HEADER_LEN + 8 * 128);
        r.word(Word::Prod).store(5, Ordering::Release);
        let a = ShmRing::attach(&f, r.len() as u64).unwrap().unwrap();
        assert_eq!((a.slots(), a.slot_data()), (8, 100));
        assert_eq!(a.word(Word::Prod).load(Ordering::Acquire), 5);
    }

    #[test]
    fn bad_geometry_is_refused_at_init() {
        let f = memfd();
        assert!(ShmRing::init(&f, 6, 100).is_err());
        assert!(ShmRing::init(&f, 8, 0).is_err());
        assert!(ShmRing::init(&f, MAX_SLOTS * 2, 64).is_err());
    }

    #[test]
    fn attach_rejects_garbage_headers() {
        let mut f = memfd();
        assert_eq!(
            ShmRing::attach(&f, 10).unwrap().unwrap_err(),
            "shorter than the ring header"
        );
        f.write_all(&[0xAB; HEADER_LEN]).unwrap();
        assert!(ShmRing::attach(&f, HEADER_LEN as u64).unwrap().is_err());
        // A valid header whose slot count lies about the file size.
        let r = ShmRing::init(&f, 8, 100).unwrap();
        r.put_u32(OFF_SLOTS, 16);
        assert_eq!(
            ShmRing::attach(&f, r.len() as u64).unwrap().unwrap_err(),
            "file size does not match the slot geometry"
        );
        r.put_u32(OFF_SLOTS, 7);
        assert!(ShmRing::attach(&f, r.len() as u64).unwrap().is_err());
        r.put_u32(OFF_SLOTS, 8);
        r.put_u32(OFF_STRIDE, 1);
        assert_eq!(
            ShmRing::attach(&f, r.len() as u64).unwrap().unwrap_err(),
            "slot size out of range"
        );
    }

    #[test]
    fn slots_round_trip_and_lengths_are_clamped() {
        let f = memfd();
        let r = ShmRing::init(&f, 4, 64).unwrap();
        let frame: Vec<u8> = (0..100u8).collect();
        assert_eq!(r.write_slot(6, 100, &frame), 64); // slot 6 & 3 = 2, truncated
        r.set_timestamp(2, 42);
        let (ts, len, cap) = r.read_slot_header(2);
        assert_eq!((ts, len, cap), (42, 100, 64));
        assert_eq!(r.slot_bytes(2, cap), &frame[..64]);
        // A peer writing a huge caplen is clamped to the slot.
        // SAFETY: test-only write to the caplen word of slot 2 of our own mapping.
        unsafe {
            r.slot_ptr(2).add(12).cast::<u32>().write_volatile(u32::MAX);
        }
        assert_eq!(r.read_slot_header(2).2, 64);
        assert_eq!(r.slot_bytes(2, u32::MAX).len(), 64);
    }

    #[test]
    fn futex_wait_returns_on_timeout_and_on_changed_value() {
        let w = AtomicU32::new(1);
        let t = std::time::Instant::now();
        futex_wait(&w, 1, Duration::from_millis(20)).unwrap();
        assert!(t.elapsed() >= Duration::from_millis(15));
        let t = std::time::Instant::now();
        futex_wait(&w, 2, Duration::from_secs(5)).unwrap();
        assert!(t.elapsed() < Duration::from_secs(1));
        futex_wake(&w);
    }

    #[test]
    fn pid_liveness() {
        assert!(pid_alive(std::process::id()));
        assert!(!pid_alive(0));
        assert!(!pid_alive(u32::MAX));
    }
}
