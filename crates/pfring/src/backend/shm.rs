//! The `userspace:` module: a shared-memory ring between two processes (PF_RING's userspace
//! rings, user guide 6.4).
//!
//! - **Names.** The sending side opens `userspace:usr0`; the receiving side opens the plain
//!   name `usr0`. A plain name is taken as the receiving side of a userspace ring when it is
//!   `usr` followed by decimal digits (`usr0`, `usr12`), has no `@channels` and no `.vlan`,
//!   and no network interface of that name exists in the caller's namespace (an interface
//!   wins, so a real `usr0` device can still be captured). `userspace:NAME` opened with
//!   [`crate::SocketMode::RecvOnly`] is the receiving side too (for names that are not
//!   `usrN`). Both sides may open first: the
//!   first creates the ring with its caplen and slot count (rounded up to a power of two),
//!   the second attaches to it and uses its geometry.
//! - **Where.** The ring is the file `<runtime dir>/usr/<name>` (see
//!   [`crate::registry::runtime_dir`]: `/run/pfring` for root, `$XDG_RUNTIME_DIR/pfring`
//!   otherwise), mode 0600 in a 0700 directory: only its owner (and root) can attach. The
//!   last side to close removes it.
//! - **One producer, one consumer.** Each side records its pid in the header; a second live
//!   producer (or consumer) is refused with [`Error::DeviceBusy`]. A side whose pid is dead
//!   is taken over.
//! - **Steady state without system calls.** The producer copies each frame into the next
//!   slot and publishes the producer index (at the TX watermark, or at once with `flush`);
//!   the consumer reads slots in place (zero copy) and publishes the consumer index every 32
//!   packets (a quarter of the ring if that is less) and before it waits. A side only calls
//!   `futex(2)` when it goes to sleep (after a bounded spin) or when the other side is
//!   asleep.
//! - **Timestamps** are taken when frames are published (one clock read per batch): the
//!   moment they reach the receiver's ring, as a capture timestamp is.
//! - **Ring full.** [`crate::Ring::send`] fails with [`Error::NoTxSlotAvailable`] (nothing
//!   is lost silently); [`crate::Ring::wait_tx_slot`] blocks until the consumer frees a slot.
//! - **Crashed peer.** A side that waits checks the other side's pid each time a wait slice
//!   (50 ms) passes without a wake-up: if that process is gone without closing the ring the
//!   wait fails with [`Error::PeerGone`]; a full ring whose consumer died fails the same way
//!   instead of `NoTxSlotAvailable`. A peer that closed cleanly is not an error: the
//!   consumer simply sees no more packets until a producer attaches again. Both sides must
//!   share a pid namespace (the pids in the header are checked with `kill(pid, 0)`).
//! - **Untrusted peer.** The geometry is validated once at attach and kept locally; every
//!   index read from the mapping is checked (`producer - consumer ≤ slots`, else
//!   [`Error::CorruptRing`]) and every length clamped to the slot.
//! - **BPF filters** ([`crate::Ring::set_bpf_filter`]) run in user space on the receiving
//!   side; rejected frames are skipped and counted (the registry's `filtered`).
//! - Not supported: clusters, `send_ifindex`, MTU, and the selectable fd
//!   (the ring file's descriptor is returned, which `poll(2)` always reports readable:
//!   use [`crate::Ring::poll`] to wait).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{Ordering, fence};
use std::time::{Duration, Instant, SystemTime};

use crate::device::{ChannelMask, DeviceSpec, Interfaces};
use crate::error::{Error, Result, SyscallError};
use crate::ring::SocketMode;
use crate::sys::shm::{self, ShmRing, Word};
use crate::sys::signal::Breaker;
use crate::sys::tpacket::RawFrame;

/// Packets the consumer reads before it publishes its index (at most a quarter of the
/// ring).
const RELEASE_BATCH: u32 = 32;
/// Iterations of the bounded spin before a side sleeps.
const SPIN: u32 = 2000;
/// Longest single futex sleep: the peer's liveness is checked after each.
const WAIT_SLICE: Duration = Duration::from_millis(50);

/// Which side of the ring this process is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// `userspace:usrN`: sends.
    Producer,
    /// `usrN`: receives.
    Consumer,
}

impl Role {
    /// The side `userspace:NAME` opens: the receiving side in [`SocketMode::RecvOnly`], the
    /// sending side otherwise.
    pub(crate) fn of(mode: SocketMode) -> Role {
        if mode == SocketMode::RecvOnly {
            Role::Consumer
        } else {
            Role::Producer
        }
    }
}

/// The name of the userspace ring a plain device name opens the consumer side of (see the
/// module docs for the rule), or `None`.
pub(crate) fn consumer_name(spec: &DeviceSpec) -> Option<String> {
    let DeviceSpec::Packet(dev) = spec else {
        return None;
    };
    let Interfaces::List(list) = &dev.interfaces else {
        return None;
    };
    if list.len() != 1 || list[0].vlan.is_some() || dev.channels != ChannelMask::ALL {
        return None;
    }
    let name = list[0].name.as_str();
    let digits = name.strip_prefix("usr")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if crate::sys::iface::ifindex(name).is_ok() {
        return None;
    }
    Some(name.to_owned())
}

/// The path of userspace ring `name`.
///
/// # Errors
/// As [`crate::registry::runtime_dir`]; [`Error::InvalidDevice`] for `.`/`..` or control
/// characters in the name.
pub fn ring_path(name: &str) -> Result<PathBuf> {
    if name == "." || name == ".." || name.contains('/') || name.chars().any(char::is_control) {
        return Err(Error::InvalidDevice {
            spec: format!("userspace:{name}"),
            reason: "a userspace ring name is a file name: no `/`, `.`, `..` or control characters"
                .into(),
        });
    }
    Ok(crate::registry::runtime_dir()?.join("usr").join(name))
}

fn io_err(call: &'static str) -> impl FnOnce(std::io::Error) -> Error {
    move |source| match source.raw_os_error() {
        Some(libc::EACCES) | Some(libc::EPERM) => Error::PermissionDenied {
            op: "open a userspace ring",
            needs: "to be the owner of the ring file (mode 0600) or root",
        },
        _ => Error::Syscall(SyscallError { call, source }),
    }
}

/// The userspace ring backend state.
#[derive(Debug)]
pub(crate) struct ShmBackend {
    ring: ShmRing,
    file: File,
    path: PathBuf,
    name: String,
    pub(crate) role: Role,
    /// Producer: next slot to write. Consumer: next slot to read.
    pos: u32,
    /// Producer: index last published. Consumer: index last released.
    published: u32,
    /// The peer's index as last read.
    peer: u32,
    /// Frames sent (producer).
    pub(crate) sent: u64,
    /// The application's BPF filter, run in user space on each frame (consumer).
    pub(crate) filter: Option<crate::filter::Program>,
    /// Frames the filter rejected (consumer).
    pub(crate) filtered: u64,
}

impl ShmBackend {
    /// Opens (creating if needed) ring `name` as `role`. A new ring gets `slots` (rounded up
    /// to a power of two, 2..=2^20) slots of `caplen` bytes.
    pub(crate) fn open(name: &str, role: Role, slots: u32, caplen: u32) -> Result<Self> {
        Self::open_at(ring_path(name)?, name, role, slots, caplen)
    }

    /// [`ShmBackend::open`] with the ring file at `path`.
    fn open_at(path: PathBuf, name: &str, role: Role, slots: u32, caplen: u32) -> Result<Self> {
        let dir = path.parent().unwrap_or(Path::new("/"));
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io_err("mkdir(userspace ring directory)"))?;
        let pid = std::process::id();
        // A closing peer may unlink the file between our open and our lock: retry then.
        for _ in 0..8 {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .custom_flags(libc::O_CLOEXEC)
                .open(&path)
                .map_err(io_err("open(userspace ring)"))?;
            file.lock().map_err(io_err("flock(userspace ring)"))?;
            let meta = file.metadata().map_err(io_err("fstat(userspace ring)"))?;
            match std::fs::metadata(&path) {
                Ok(m) if m.ino() == meta.ino() && m.dev() == meta.dev() => {}
                _ => continue, // unlinked or replaced meanwhile
            }
            if meta.uid() == shm::euid() && meta.mode() & 0o777 != 0o600 {
                file.set_permissions(std::fs::Permissions::from_mode(0o600))
                    .map_err(io_err("fchmod(userspace ring)"))?;
            }
            let ring = Self::map(&file, meta.len(), slots, caplen, name)?;
            let own = match role {
                Role::Producer => Word::ProdPid,
                Role::Consumer => Word::ConsPid,
            };
            let holder = ring.word(own).load(Ordering::Acquire);
            if holder != 0 && shm::pid_alive(holder) {
                return Err(Error::DeviceBusy {
                    device: format!(
                        "userspace:{name} ({} side held by pid {holder})",
                        match role {
                            Role::Producer => "sending",
                            Role::Consumer => "receiving",
                        }
                    ),
                });
            }
            ring.word(own).store(pid, Ordering::Release);
            let (pos, peer) = match role {
                Role::Producer => (
                    ring.word(Word::Prod).load(Ordering::Acquire),
                    ring.word(Word::Cons).load(Ordering::Acquire),
                ),
                Role::Consumer => (
                    ring.word(Word::Cons).load(Ordering::Acquire),
                    ring.word(Word::Prod).load(Ordering::Acquire),
                ),
            };
            let _ = file.unlock();
            return Ok(ShmBackend {
                ring,
                file,
                path,
                name: name.to_owned(),
                role,
                pos,
                published: pos,
                peer,
                sent: 0,
                filter: None,
                filtered: 0,
            });
        }
        Err(Error::DeviceBusy {
            device: format!("userspace:{name} (its file kept being replaced)"),
        })
    }

    /// Maps the locked ring file: a fresh one (empty, or stale: nobody alive attached and
    /// contents invalid or abandoned) is initialized; a live one is validated.
    fn map(file: &File, len: u64, slots: u32, caplen: u32, name: &str) -> Result<ShmRing> {
        let init = |file: &File| {
            let n = slots.clamp(2, shm::MAX_SLOTS).next_power_of_two();
            ShmRing::init(file, n, caplen.clamp(1, shm::MAX_SLOT_DATA))
                .map_err(io_err("ftruncate/mmap(userspace ring)"))
        };
        if len == 0 {
            return init(file);
        }
        match ShmRing::attach(file, len).map_err(io_err("mmap(userspace ring)"))? {
            Ok(ring) => {
                let alive = |w| {
                    let p = ring.word(w).load(Ordering::Acquire);
                    p != 0 && shm::pid_alive(p)
                };
                if !alive(Word::ProdPid) && !alive(Word::ConsPid) {
                    // Left over by processes that are all gone: start afresh.
                    drop(ring);
                    return init(file);
                }
                Ok(ring)
            }
            Err(reason) => {
                // Invalid contents: only ours to reset if nobody can be using them, which we
                // cannot tell without a valid header; refuse rather than clobber.
                Err(Error::CorruptRing {
                    name: name.to_owned(),
                    reason: reason.into(),
                })
            }
        }
    }

    /// The ring's file descriptor (see the module docs about polling it).
    pub(crate) fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(&self.file)
    }

    /// Slots in the ring.
    pub(crate) fn slots(&self) -> u32 {
        self.ring.slots()
    }

    /// Data bytes per slot (the creator's caplen).
    #[cfg(test)]
    pub(crate) fn slot_data(&self) -> u32 {
        self.ring.slot_data()
    }

    /// Bytes mapped.
    pub(crate) fn memory(&self) -> usize {
        self.ring.len()
    }

    fn corrupt(&self, what: &str) -> Error {
        Error::CorruptRing {
            name: self.name.clone(),
            reason: format!("the peer published an impossible {what} index"),
        }
    }

    /// The peer's pid when that process is gone without closing the ring.
    fn dead_peer(&self) -> Option<u32> {
        let w = match self.role {
            Role::Producer => Word::ConsPid,
            Role::Consumer => Word::ProdPid,
        };
        let p = self.ring.word(w).load(Ordering::Acquire);
        (p != 0 && !shm::pid_alive(p)).then_some(p)
    }

    fn peer_gone(&self, pid: u32) -> Error {
        Error::PeerGone {
            name: self.name.clone(),
            peer: match self.role {
                Role::Producer => "receiver",
                Role::Consumer => "sender",
            },
            pid,
        }
    }

    // ---- producer -------------------------------------------------------------------------

    /// Free slots as far as the producer knows (re-reading the consumer index when the ring
    /// looks full).
    fn free_slots(&mut self) -> Result<u32> {
        let n = self.ring.slots();
        let mut used = self.pos.wrapping_sub(self.peer);
        if used >= n {
            self.peer = self.ring.word(Word::Cons).load(Ordering::Acquire);
            used = self.pos.wrapping_sub(self.peer);
            if used > n {
                return Err(self.corrupt("consumer"));
            }
        }
        Ok(n - used)
    }

    /// Copies `frame` into the next slot; publishes at `watermark` unpublished frames or with
    /// `flush`.
    pub(crate) fn send(&mut self, frame: &[u8], flush: bool, watermark: usize) -> Result<()> {
        if self.role != Role::Producer {
            return Err(Error::NotSupported {
                op: "sending on the receiving side of a userspace ring (open `userspace:NAME`)",
                backend: "userspace",
            });
        }
        super::check_frame_len(frame, self.ring.slot_data() as usize)?;
        if self.free_slots()? == 0 {
            self.publish();
            if let Some(pid) = self.dead_peer() {
                return Err(self.peer_gone(pid));
            }
            return Err(Error::NoTxSlotAvailable);
        }
        self.ring.write_slot(self.pos, frame.len() as u32, frame);
        self.pos = self.pos.wrapping_add(1);
        self.sent += 1;
        if flush || self.pos.wrapping_sub(self.published) as usize >= watermark {
            self.publish();
        }
        Ok(())
    }

    /// Makes every written frame visible to the consumer, waking it if it sleeps.
    pub(crate) fn publish(&mut self) {
        if self.role != Role::Producer || self.published == self.pos {
            return;
        }
        // One clock read per batch: frames are stamped when they become visible to the
        // receiver (as a capture stamps a frame when it reaches the ring).
        let ts = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let mut i = self.published;
        while i != self.pos {
            self.ring.set_timestamp(i, ts);
            i = i.wrapping_add(1);
        }
        self.ring
            .word(Word::Prod)
            .store(self.pos, Ordering::Release);
        self.published = self.pos;
        // Pairs with the consumer's fence between setting its waiting flag and re-reading
        // the producer index: one of the two sides sees the other's store.
        fence(Ordering::SeqCst);
        if self.ring.word(Word::ConsWaiting).load(Ordering::Relaxed) != 0 {
            shm::futex_wake(self.ring.word(Word::Prod));
        }
    }

    /// Frames written but not yet read by the consumer.
    pub(crate) fn pending(&self) -> usize {
        let cons = self.ring.word(Word::Cons).load(Ordering::Acquire);
        self.pos.wrapping_sub(cons).min(self.ring.slots()) as usize
    }

    /// Waits up to `timeout` for a free slot.
    pub(crate) fn wait_tx_slot(&mut self, timeout: Duration) -> Result<bool> {
        if self.role != Role::Producer {
            return Err(Error::NotSupported {
                op: "sending on the receiving side of a userspace ring (open `userspace:NAME`)",
                backend: "userspace",
            });
        }
        self.publish();
        let deadline = Instant::now() + timeout;
        for _ in 0..SPIN {
            if self.free_slots()? > 0 {
                return Ok(true);
            }
            std::hint::spin_loop();
        }
        loop {
            self.set_waiting(Word::ProdWaiting, 1);
            let cons = self.ring.word(Word::Cons).load(Ordering::Acquire);
            if self.free_slots()? > 0 {
                self.set_waiting(Word::ProdWaiting, 0);
                return Ok(true);
            }
            let now = Instant::now();
            if now >= deadline {
                self.set_waiting(Word::ProdWaiting, 0);
                return Ok(false);
            }
            shm::futex_wait(
                self.ring.word(Word::Cons),
                cons,
                (deadline - now).min(WAIT_SLICE),
            )
            .map_err(|source| SyscallError {
                call: "futex(FUTEX_WAIT)",
                source,
            })?;
            self.set_waiting(Word::ProdWaiting, 0);
            if self.free_slots()? > 0 {
                return Ok(true);
            }
            if let Some(pid) = self.dead_peer() {
                return Err(self.peer_gone(pid));
            }
        }
    }

    fn set_waiting(&self, w: Word, v: u32) {
        self.ring.word(w).store(v, Ordering::Relaxed);
        if v == 1 {
            // Pairs with the fence after the peer's index store (see `publish`).
            fence(Ordering::SeqCst);
        }
    }

    // ---- consumer -------------------------------------------------------------------------

    /// Frames readable now (re-reading the producer index).
    fn available(&mut self) -> Result<u32> {
        let mut avail = self.peer.wrapping_sub(self.pos);
        if avail == 0 {
            self.peer = self.ring.word(Word::Prod).load(Ordering::Acquire);
            avail = self.peer.wrapping_sub(self.pos);
            if avail > self.ring.slots() {
                return Err(self.corrupt("producer"));
            }
        }
        Ok(avail)
    }

    /// Frames readable now, without updating any cached index.
    pub(crate) fn readable(&self) -> usize {
        if self.role != Role::Consumer {
            return 0;
        }
        let prod = self.ring.word(Word::Prod).load(Ordering::Acquire);
        prod.wrapping_sub(self.pos).min(self.ring.slots()) as usize
    }

    /// Frames readable now, counted up to `max`.
    pub(crate) fn ready_frames(&mut self, max: usize) -> Result<usize> {
        if self.role != Role::Consumer {
            return Ok(0);
        }
        Ok((self.available()? as usize).min(max))
    }

    /// Starts a receive call: every packet handed out before is gone (the previous
    /// `Packet`/`Burst` borrow ended), so their slots can be released, in batches.
    pub(crate) fn begin(&mut self) -> Result<()> {
        if self.role != Role::Consumer {
            return Err(Error::NotSupported {
                op: "receiving on the sending side of a userspace ring (open the plain name)",
                backend: "userspace",
            });
        }
        let batch = RELEASE_BATCH.min(self.ring.slots() / 4).max(1);
        if self.pos.wrapping_sub(self.published) >= batch {
            self.release_all();
        }
        Ok(())
    }

    /// The next frame that passes the filter (its bytes stay in the slot until the next
    /// receive call), or `None`. Rejected frames are counted and skipped (at most a ring's
    /// worth per call).
    pub(crate) fn next_frame(&mut self, caplen: u32) -> Result<Option<RawFrame>> {
        let (slot, ts, len, cap) = loop {
            if self.available()? == 0 {
                return Ok(None);
            }
            let slot = self.pos;
            self.pos = self.pos.wrapping_add(1);
            let (ts, len, cap) = self.ring.read_slot_header(slot);
            match &self.filter {
                Some(f) if !f.matches(self.ring.slot_bytes(slot, cap), len) => {
                    self.filtered += 1;
                }
                _ => break (slot, ts, len, cap),
            }
        };
        Ok(Some(RawFrame {
            sec: (ts / 1_000_000_000).min(u64::from(u32::MAX)) as u32,
            nsec: (ts % 1_000_000_000) as u32,
            caplen: cap.min(caplen),
            len,
            block: slot,
            ..RawFrame::default()
        }))
    }

    /// The bytes of a frame returned by [`ShmBackend::next_frame`].
    pub(crate) fn frame_bytes(&self, f: &RawFrame, caplen: u32) -> &[u8] {
        self.ring.slot_bytes(f.block, f.caplen.min(caplen))
    }

    /// Hands every read slot back to the producer, waking it if it sleeps.
    pub(crate) fn release_all(&mut self) {
        if self.role != Role::Consumer || self.published == self.pos {
            return;
        }
        self.ring
            .word(Word::Cons)
            .store(self.pos, Ordering::Release);
        self.published = self.pos;
        fence(Ordering::SeqCst);
        if self.ring.word(Word::ProdWaiting).load(Ordering::Relaxed) != 0 {
            shm::futex_wake(self.ring.word(Word::Cons));
        }
    }

    /// Waits up to `timeout` until `watermark` frames are readable or the breaker is set;
    /// returns the frames readable (up to the watermark). The caller holds no packet.
    pub(crate) fn wait_readable(
        &mut self,
        watermark: usize,
        timeout: Duration,
        breaker: &Breaker,
    ) -> Result<usize> {
        self.release_all();
        let deadline = Instant::now() + timeout;
        let watermark = watermark.max(1);
        for _ in 0..SPIN {
            let n = self.ready_frames(watermark)?;
            if n >= watermark || breaker.is_set() {
                return Ok(n);
            }
            std::hint::spin_loop();
        }
        loop {
            self.set_waiting(Word::ConsWaiting, 1);
            let prod = self.ring.word(Word::Prod).load(Ordering::Acquire);
            let n = self.ready_frames(watermark)?;
            let now = Instant::now();
            if n >= watermark || breaker.is_set() || now >= deadline {
                self.set_waiting(Word::ConsWaiting, 0);
                return Ok(n);
            }
            shm::futex_wait(
                self.ring.word(Word::Prod),
                prod,
                (deadline - now).min(WAIT_SLICE),
            )
            .map_err(|source| SyscallError {
                call: "futex(FUTEX_WAIT)",
                source,
            })?;
            self.set_waiting(Word::ConsWaiting, 0);
            if self.ring.word(Word::Prod).load(Ordering::Acquire) == prod
                && self.ready_frames(1)? == 0
                && let Some(pid) = self.dead_peer()
            {
                return Err(self.peer_gone(pid));
            }
        }
    }

    /// The timestamp of the next readable frame.
    pub(crate) fn peek_timestamp(&mut self) -> Option<(u64, u32)> {
        if self.role != Role::Consumer || self.available().ok()? == 0 {
            return None;
        }
        let (ts, _, _) = self.ring.read_slot_header(self.pos);
        Some((ts / 1_000_000_000, (ts % 1_000_000_000) as u32))
    }
}

impl Drop for ShmBackend {
    fn drop(&mut self) {
        // Under the file lock: detach, then remove the file if the peer is gone too, so a
        // peer opening at the same time either sees our detach or finds no file.
        let locked = self.file.lock().is_ok();
        match self.role {
            Role::Producer => {
                self.publish();
                self.ring.word(Word::ProdPid).store(0, Ordering::Release);
                shm::futex_wake(self.ring.word(Word::Prod));
            }
            Role::Consumer => {
                self.release_all();
                self.ring.word(Word::ConsPid).store(0, Ordering::Release);
                shm::futex_wake(self.ring.word(Word::Cons));
            }
        }
        let other = match self.role {
            Role::Producer => Word::ConsPid,
            Role::Consumer => Word::ProdPid,
        };
        let p = self.ring.word(other).load(Ordering::Acquire);
        if locked && (p == 0 || !shm::pid_alive(p)) {
            let _ = std::fs::remove_file(&self.path);
        }
        if locked {
            let _ = self.file.unlock();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unique(tag: &str) -> String {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        format!(
            "usr{}{}{tag}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// A ring file in the temporary directory: no runtime directory or privilege needed.
    fn test_path(name: &str) -> PathBuf {
        std::env::temp_dir()
            .join(format!("pfring-shm-unit-{}", shm::euid()))
            .join(name)
    }

    fn open_test(name: &str, role: Role, slots: u32, caplen: u32) -> Result<ShmBackend> {
        ShmBackend::open_at(test_path(name), name, role, slots, caplen)
    }

    fn pair(slots: u32, caplen: u32) -> (ShmBackend, ShmBackend) {
        let name = unique("");
        let c = open_test(&name, Role::Consumer, slots, caplen).unwrap();
        let p = open_test(&name, Role::Producer, 1024, 9000).unwrap();
        (p, c)
    }

    fn frame(seq: u32, len: usize) -> Vec<u8> {
        let mut f = vec![0u8; len];
        f[..4].copy_from_slice(&seq.to_le_bytes());
        f
    }

    #[test]
    fn consumer_name_rule() {
        let c = |s: &str| consumer_name(&s.parse().unwrap());
        assert_eq!(c("usr0").as_deref(), Some("usr0"));
        assert_eq!(c("usr123").as_deref(), Some("usr123"));
        assert_eq!(c("usr"), None);
        assert_eq!(c("usrx"), None);
        assert_eq!(c("usr0@1"), None);
        assert_eq!(c("usr0.10"), None);
        assert_eq!(c("eth0"), None);
        assert_eq!(c("usr0,usr1"), None);
        assert_eq!(c("userspace:usr0"), None);
    }

    #[test]
    fn ring_path_refuses_dot_names() {
        assert!(matches!(ring_path(".."), Err(Error::InvalidDevice { .. })));
        assert!(matches!(ring_path("."), Err(Error::InvalidDevice { .. })));
    }

    #[test]
    fn the_second_side_uses_the_creators_geometry() {
        let (p, c) = pair(5, 100);
        assert_eq!((p.slots(), p.slot_data()), (8, 100));
        assert_eq!((c.slots(), c.slot_data()), (8, 100));
    }

    #[test]
    fn fills_then_refuses_then_frees_exactly() {
        let (mut p, mut c) = pair(4, 64);
        for i in 0..4 {
            p.send(&frame(i, 60), false, 64).unwrap();
        }
        assert!(matches!(
            p.send(&frame(9, 60), true, 64),
            Err(Error::NoTxSlotAvailable)
        ));
        assert!(matches!(
            p.send(&frame(9, 65), true, 64),
            Err(Error::FrameTooLarge { len: 65, max: 64 })
        ));
        assert!(matches!(
            p.send(&frame(9, 13), true, 64),
            Err(Error::FrameTooShort { .. })
        ));
        c.begin().unwrap();
        let f = c.next_frame(1536).unwrap().unwrap();
        assert_eq!(c.frame_bytes(&f, 1536), &frame(0, 60)[..]);
        // Read, but not released yet: the producer still sees a full ring.
        assert!(matches!(
            p.send(&frame(4, 60), true, 64),
            Err(Error::NoTxSlotAvailable)
        ));
        c.release_all();
        p.send(&frame(4, 60), true, 64).unwrap();
        let mut seen = vec![];
        while let Some(f) = c.next_frame(1536).unwrap() {
            seen.push(u32::from_le_bytes(
                c.frame_bytes(&f, 1536)[..4].try_into().unwrap(),
            ));
        }
        assert_eq!(seen, [1, 2, 3, 4]);
    }

    #[test]
    fn indices_wrap_around_u32() {
        let (mut p, mut c) = pair(4, 64);
        // Both sides just below the wrap, as after 2^32 - 2 frames.
        let start = u32::MAX - 1;
        for w in [Word::Prod, Word::Cons] {
            p.ring.word(w).store(start, Ordering::Release);
        }
        (p.pos, p.published, p.peer) = (start, start, start);
        (c.pos, c.published, c.peer) = (start, start, start);
        for round in 0..3u32 {
            for i in 0..4 {
                p.send(&frame(round * 4 + i, 60), false, 2).unwrap();
            }
            p.publish();
            c.begin().unwrap();
            for i in 0..4 {
                let f = c.next_frame(1536).unwrap().unwrap();
                assert_eq!(c.frame_bytes(&f, 1536)[..4], (round * 4 + i).to_le_bytes());
            }
            assert!(c.next_frame(1536).unwrap().is_none());
            c.release_all();
        }
    }

    #[test]
    fn impossible_peer_indices_are_errors_not_panics() {
        let (mut p, mut c) = pair(4, 64);
        // A producer index more than a ring ahead of the consumer.
        p.ring.word(Word::Prod).store(100, Ordering::Release);
        assert!(matches!(c.next_frame(1536), Err(Error::CorruptRing { .. })));
        // A consumer index ahead of the producer.
        p.ring.word(Word::Prod).store(0, Ordering::Release);
        p.ring.word(Word::Cons).store(7, Ordering::Release);
        for i in 0..4 {
            p.send(&frame(i, 60), false, 64).unwrap();
        }
        assert!(matches!(
            p.send(&frame(4, 60), true, 64),
            Err(Error::CorruptRing { .. })
        ));
    }

    #[test]
    fn a_second_producer_is_refused_and_a_dead_ones_place_taken() {
        let (p, _c) = pair(4, 64);
        let e = open_test(&p.name, Role::Producer, 4, 64).unwrap_err();
        assert!(matches!(e, Error::DeviceBusy { .. }), "{e}");
        // A pid that cannot exist: its place is free.
        p.ring
            .word(Word::ProdPid)
            .store(u32::MAX - 5, Ordering::Release);
        let p2 = open_test(&p.name, Role::Producer, 4, 64).unwrap();
        assert_eq!(
            p2.ring.word(Word::ProdPid).load(Ordering::Acquire),
            std::process::id()
        );
    }

    #[test]
    fn the_last_side_to_close_removes_the_file() {
        let (p, c) = pair(4, 64);
        let path = p.path.clone();
        assert!(path.exists());
        drop(p);
        assert!(path.exists());
        drop(c);
        assert!(!path.exists());
    }

    #[test]
    fn a_wait_with_a_dead_producer_fails_with_peer_gone() {
        let (p, mut c) = pair(4, 64);
        p.ring
            .word(Word::ProdPid)
            .store(u32::MAX - 5, Ordering::Release);
        let b = Breaker::new().unwrap();
        let t = Instant::now();
        let e = c.wait_readable(1, Duration::from_secs(5), &b).unwrap_err();
        assert!(matches!(e, Error::PeerGone { peer: "sender", .. }), "{e}");
        assert!(t.elapsed() < Duration::from_secs(1));
        drop(p);
    }
}
