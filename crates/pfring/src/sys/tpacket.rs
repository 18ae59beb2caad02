//! A bounds-checked view of a TPACKET_V3 receive ring.
//!
//! The ring is `block_nr` blocks of `block_size` bytes. The kernel fills a block with
//! variable-size frames, then "retires" it (when full, or after the retire timeout) by setting
//! `TP_STATUS_USER` in its `block_status`. User space reads the frames and hands the block back
//! by storing `TP_STATUS_KERNEL`. See Documentation/networking/packet_mmap.rst and
//! net/packet/af_packet.c (`prb_retire_current_block`, `prb_open_block`).
//!
//! Ordering: the kernel publishes a block with `smp_wmb()` before writing `block_status`
//! (`prb_close_block` → `prb_flush_block`), so our `Acquire` load of the status orders the
//! frame reads after it; we return the block with a `Release` store after our last read, which
//! pairs with the kernel's `smp_rmb()` in `prb_queue_frozen`/`prb_open_block`.

use std::io;
use std::sync::atomic::{AtomicU32, Ordering};

use super::mmap::Mmap;
use super::socket::{PacketSocket, TpacketReq3};

/// `TP_STATUS_KERNEL`.
pub const TP_STATUS_KERNEL: u32 = 0;
/// `TP_STATUS_USER`.
pub const TP_STATUS_USER: u32 = 1;
/// `TP_STATUS_VLAN_VALID`: `tp_vlan_tci` holds the stripped tag.
pub const TP_STATUS_VLAN_VALID: u32 = 1 << 4;
/// `TP_STATUS_TS_RAW_HARDWARE`: the frame's stamp is the device's raw hardware stamp.
pub const TP_STATUS_TS_RAW_HARDWARE: u32 = 1 << 31;
/// `TP_STATUS_VLAN_TPID_VALID`: `tp_vlan_tpid` holds the stripped tag's TPID.
pub const TP_STATUS_VLAN_TPID_VALID: u32 = 1 << 6;

/// `sizeof(struct tpacket_block_desc)` as the kernel aligns it (`BLK_HDR_LEN`).
pub const BLOCK_HEADER_LEN: usize = 48;
/// `sizeof(struct tpacket3_hdr)`.
pub const TPACKET3_HDR_LEN: usize = 48;
/// `sizeof(struct sockaddr_ll)`.
pub const SOCKADDR_LL_LEN: usize = 20;
/// `TPACKET3_HDRLEN` = aligned header + sockaddr_ll.
pub const TPACKET3_HDRLEN: usize = TPACKET3_HDR_LEN + SOCKADDR_LL_LEN;
/// Bytes of a reinserted 802.1Q tag.
pub const VLAN_TAG_LEN: usize = 4;

/// `TPACKET_ALIGN`.
pub const fn tpacket_align(x: usize) -> usize {
    (x + 15) & !15
}

/// The frame size a TPACKET_V3 ring needs so that `caplen` bytes fit after the headers
/// (mirrors the `macoff` computation of `tpacket_rcv` for Ethernet).
pub const fn frame_size_for(caplen: usize, reserve: usize) -> usize {
    let netoff = tpacket_align(TPACKET3_HDRLEN + 16) + reserve;
    tpacket_align(netoff - 14 + caplen)
}

impl RawFrame {
    /// The stamp is the device's raw hardware stamp (`TP_STATUS_TS_RAW_HARDWARE`), not the
    /// kernel's software one.
    #[inline]
    pub fn hw_timestamp(&self) -> bool {
        self.status & TP_STATUS_TS_RAW_HARDWARE != 0
    }
}

/// One received frame as the kernel described it; offsets are absolute within the mapping.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RawFrame {
    /// Seconds of the timestamp.
    pub sec: u32,
    /// Nanoseconds of the timestamp.
    pub nsec: u32,
    /// Bytes available at `data_off` (after VLAN reinsertion).
    pub caplen: u32,
    /// Wire length (after VLAN reinsertion).
    pub len: u32,
    /// `tp_status` bits.
    pub status: u32,
    /// The stripped VLAN TCI, when `TP_STATUS_VLAN_VALID`.
    pub vlan_tci: Option<u16>,
    /// `tp_rxhash`.
    pub rxhash: u32,
    /// `sll_ifindex`.
    pub ifindex: i32,
    /// `sll_pkttype` (`PACKET_HOST`, `PACKET_OUTGOING`, ...).
    pub pkttype: u8,
    /// `sll_protocol` (network order, as the kernel stores it).
    pub protocol: u16,
    /// Block holding the frame.
    pub block: u32,
    /// Offset of the first byte within the block.
    pub data_off: u32,
}

enum Backing {
    Mapped(Mmap),
    /// Ordinary memory the kernel never sees: an empty ring, or the fake kernel's in tests.
    Heap(Box<[u64]>),
}

/// A TPACKET_V3 receive ring and the reader's position in it.
pub struct RxRing {
    backing: Backing,
    base: *mut u8,
    block_size: usize,
    block_nr: usize,
    /// Block being read (or next to check).
    cur_block: usize,
    /// Whether `cur_block` is user-owned and being read.
    held: bool,
    cur_pkt: u32,
    cur_num: u32,
    cur_off: usize,
    /// Fully read blocks before `cur_block` not yet handed back.
    pending: usize,
    reinsert_vlan: bool,
    corrupt_blocks: u64,
}

impl std::fmt::Debug for RxRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RxRing")
            .field("block_size", &self.block_size)
            .field("block_nr", &self.block_nr)
            .field("cur_block", &self.cur_block)
            .finish_non_exhaustive()
    }
}

// SAFETY: the ring owns its mapping; the raw `base` pointer is only dereferenced through
// `&self`/`&mut self` methods, so moving the ring to another thread is sound.
unsafe impl Send for RxRing {}

impl RxRing {
    /// Sets up `PACKET_RX_RING` on `sock` (already switched to TPACKET_V3) and maps it.
    pub fn new(sock: &PacketSocket, req: &TpacketReq3) -> io::Result<Self> {
        use std::os::fd::AsFd;
        sock.set_rx_ring(req)?;
        let len = req.tp_block_size as usize * req.tp_block_nr as usize;
        let map = Mmap::shared(sock.as_fd(), len, true)?;
        let base = map.as_ptr();
        Ok(Self::from_parts(
            Backing::Mapped(map),
            base,
            req.tp_block_size as usize,
            req.tp_block_nr as usize,
        ))
    }

    fn from_parts(backing: Backing, base: *mut u8, block_size: usize, block_nr: usize) -> Self {
        RxRing {
            backing,
            base,
            block_size,
            block_nr,
            cur_block: 0,
            held: false,
            cur_pkt: 0,
            cur_num: 0,
            cur_off: 0,
            pending: 0,
            reinsert_vlan: true,
            corrupt_blocks: 0,
        }
    }

    /// A ring with no kernel side, for a socket that never receives (a send-only ring): one
    /// zeroed block, owned by the "kernel" (status 0), so it never holds a frame.
    pub fn empty() -> Self {
        Self::heap(4096, 1)
    }

    /// A ring in ordinary heap memory (the fake kernel fills it in tests).
    pub(crate) fn heap(block_size: usize, block_nr: usize) -> Self {
        assert!(block_size.is_multiple_of(8));
        let mut mem = vec![0u64; block_size / 8 * block_nr].into_boxed_slice();
        let base = mem.as_mut_ptr().cast::<u8>();
        Self::from_parts(Backing::Heap(mem), base, block_size, block_nr)
    }

    /// Total bytes of ring memory.
    pub fn memory(&self) -> usize {
        match &self.backing {
            Backing::Mapped(m) => m.len(),
            Backing::Heap(h) => h.len() * 8,
        }
    }

    /// Blocks skipped because their descriptors were inconsistent.
    #[cfg(test)]
    pub fn corrupt_blocks(&self) -> u64 {
        self.corrupt_blocks
    }

    fn status(&self, block: usize) -> &AtomicU32 {
        debug_assert!(block < self.block_nr);
        // SAFETY: `block < block_nr`, so offset `block * block_size + 8` is inside the mapping
        // and 4-byte aligned (blocks are page aligned, or u64 aligned on the heap). The word is
        // shared with the kernel, hence accessed only atomically.
        unsafe {
            &*self
                .base
                .add(block * self.block_size + 8)
                .cast::<AtomicU32>()
        }
    }

    /// The bytes of `block` from offset 12 on: everything after the status word (at 8), which
    /// is only accessed atomically.
    ///
    /// Only called for blocks user space owns.
    #[inline]
    fn body(&self, block: usize) -> &[u8] {
        assert!(block < self.block_nr, "block index out of range");
        // SAFETY: the range `[block * bs + 12, (block + 1) * bs)` is inside the mapping; the
        // block is user-owned (checked by callers), so the kernel does not write it, and the
        // status word at +8 is outside the slice.
        unsafe {
            std::slice::from_raw_parts(
                self.base.add(block * self.block_size + 12),
                self.block_size - 12,
            )
        }
    }

    fn body_mut(&mut self, block: usize) -> &mut [u8] {
        assert!(block < self.block_nr, "block index out of range");
        // SAFETY: as in `body`; `&mut self` guarantees no other slice into the ring is alive.
        unsafe {
            std::slice::from_raw_parts_mut(
                self.base.add(block * self.block_size + 12),
                self.block_size - 12,
            )
        }
    }

    fn rd32(body: &[u8], off: usize) -> Option<u32> {
        // `off` is relative to the block start; `body` starts at +12.
        let s = body.get(off.checked_sub(12)?..off.checked_sub(12)? + 4)?;
        Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }

    fn user_owned(&self, block: usize) -> bool {
        self.status(block).load(Ordering::Acquire) & TP_STATUS_USER != 0
    }

    /// Opens `cur_block` for reading if the kernel has retired it.
    fn open_block(&mut self) -> bool {
        for _ in 0..self.block_nr {
            if !self.user_owned(self.cur_block) {
                return false;
            }
            let body = self.body(self.cur_block);
            let num = Self::rd32(body, 12).unwrap_or(0);
            let first = Self::rd32(body, 16).unwrap_or(0) as usize;
            if num == 0 || first < BLOCK_HEADER_LEN || first >= self.block_size {
                if num != 0 {
                    self.corrupt_blocks += 1;
                }
                self.pending += 1;
                self.cur_block = (self.cur_block + 1) % self.block_nr;
                continue;
            }
            self.held = true;
            self.cur_num = num;
            self.cur_pkt = 0;
            self.cur_off = first;
            return true;
        }
        false
    }

    /// Moves past the current block once all its frames were returned, but only when the next
    /// block is ready: until then the finished block stays held, so the last frame handed out
    /// stays readable (for `send_last_rx_packet`). Returns whether a block is (now) held with
    /// frames left.
    #[inline]
    fn advance(&mut self) -> bool {
        if self.held && self.cur_pkt >= self.cur_num {
            let next = (self.cur_block + 1) % self.block_nr;
            if self.pending + 1 >= self.block_nr || !self.user_owned(next) {
                return false;
            }
            self.held = false;
            self.pending += 1;
            self.cur_block = next;
        }
        self.held || (self.pending < self.block_nr && self.open_block())
    }

    /// The next frame, or `None` when the kernel has not retired another block yet.
    ///
    /// Blocks are not handed back here: call [`RxRing::release`] once no slice into the
    /// returned frames is alive.
    #[inline]
    pub fn next_frame(&mut self) -> Option<RawFrame> {
        // Bounded: each failed read skips the rest of a block.
        for _ in 0..=self.block_nr {
            if !self.advance() {
                return None;
            }
            match self.read_frame() {
                Some(f) => return Some(f),
                None => {
                    // Inconsistent descriptor: skip the rest of the block.
                    self.corrupt_blocks += 1;
                    self.cur_pkt = self.cur_num;
                }
            }
        }
        None
    }

    #[inline]
    fn read_frame(&mut self) -> Option<RawFrame> {
        let bs = self.block_size;
        let off = self.cur_off;
        if off < BLOCK_HEADER_LEN || off + TPACKET3_HDRLEN > bs {
            return None;
        }
        let block = self.cur_block;
        // One bounds check for the whole header (tpacket3_hdr + sockaddr_ll); the fixed-size
        // array then makes every field read below check-free.
        let h: &[u8; TPACKET3_HDRLEN] = self
            .body(block)
            .get(off - 12..off - 12 + TPACKET3_HDRLEN)?
            .try_into()
            .ok()?;
        let u32_at = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        let u16_at = |i: usize| u16::from_le_bytes([h[i], h[i + 1]]);
        let next = u32_at(0) as usize;
        let sec = u32_at(4);
        let nsec = u32_at(8);
        let snaplen = u32_at(12);
        let len = u32_at(16);
        let status = u32_at(20);
        let mac = usize::from(u16_at(24));
        let rxhash = u32_at(28);
        let tci = u32_at(32);
        let tpid = u16_at(36);
        let sll = TPACKET3_HDR_LEN;
        let protocol = u16_at(sll + 2);
        let ifindex = u32_at(sll + 4) as i32;
        let pkttype = h[sll + 10];
        let data = off.checked_add(mac)?;
        if mac < TPACKET3_HDRLEN || data.checked_add(snaplen as usize)? > bs {
            return None;
        }
        self.cur_pkt += 1;
        self.cur_off = off + next;
        if next == 0 && self.cur_pkt < self.cur_num {
            // A zero link before the last frame: the rest of the block is unreachable.
            return None;
        }
        let mut frame = RawFrame {
            sec,
            nsec,
            caplen: snaplen,
            len,
            status,
            vlan_tci: (status & TP_STATUS_VLAN_VALID != 0).then_some(tci as u16),
            rxhash,
            ifindex,
            pkttype,
            protocol,
            block: block as u32,
            data_off: data as u32,
        };
        if let Some(tci) = frame.vlan_tci
            && self.reinsert_vlan
            && mac >= TPACKET3_HDRLEN + VLAN_TAG_LEN
            && snaplen >= 12
        {
            let tpid = if status & TP_STATUS_VLAN_TPID_VALID != 0 && tpid != 0 {
                tpid
            } else {
                0x8100
            };
            let body = self.body_mut(block);
            let d = data - 12;
            body.copy_within(d..d + 12, d - VLAN_TAG_LEN);
            body[d + 8..d + 10].copy_from_slice(&tpid.to_be_bytes());
            body[d + 10..d + 12].copy_from_slice(&tci.to_be_bytes());
            frame.data_off -= VLAN_TAG_LEN as u32;
            frame.caplen += VLAN_TAG_LEN as u32;
            frame.len += VLAN_TAG_LEN as u32;
        }
        Some(frame)
    }

    /// The bytes of a frame returned by [`RxRing::next_frame`] (whose block has not been
    /// released since).
    #[inline]
    pub fn frame_bytes(&self, f: &RawFrame, caplen: u32) -> &[u8] {
        let start = f.data_off as usize - 12;
        let n = f.caplen.min(caplen) as usize;
        self.body(f.block as usize)
            .get(start..start + n)
            .unwrap_or_default()
    }

    /// Whether `block` is still owned by the reader (the current block, or a read block not
    /// handed back yet), so frames in it can be read.
    pub fn holds(&self, block: usize) -> bool {
        if block >= self.block_nr {
            return false;
        }
        let back = (self.cur_block + self.block_nr - block) % self.block_nr;
        let in_window = (self.held && back == 0) || (back >= 1 && back <= self.pending);
        in_window && self.user_owned(block)
    }

    /// Hands back everything read, the current block included when all its frames were
    /// returned. Call before sleeping in `poll(2)`: the kernel reports a V3 ring readable while
    /// the block it closed last is still user-owned (`packet_poll` →
    /// `packet_previous_rx_frame`), so a held finished block would make `poll` spin.
    pub fn release_all_read(&mut self) {
        if self.held && self.cur_pkt >= self.cur_num {
            self.held = false;
            self.pending += 1;
            self.cur_block = (self.cur_block + 1) % self.block_nr;
        }
        self.release();
    }

    /// Hands every fully read block before the current one back to the kernel (the current
    /// block goes back once the reader moves past it).
    pub fn release(&mut self) {
        let mut b = (self.cur_block + self.block_nr - self.pending % self.block_nr) % self.block_nr;
        for _ in 0..self.pending.min(self.block_nr) {
            self.status(b).store(TP_STATUS_KERNEL, Ordering::Release);
            b = (b + 1) % self.block_nr;
        }
        self.pending = 0;
    }

    /// Whether a frame can be read now without waiting.
    pub fn has_frame(&self) -> bool {
        if self.held && self.cur_pkt < self.cur_num {
            return true;
        }
        let b = if self.held {
            (self.cur_block + 1) % self.block_nr
        } else {
            self.cur_block
        };
        self.user_owned(b)
    }

    /// Frames readable now without waiting, counted up to `cap`.
    pub fn ready_frames(&self, cap: usize) -> usize {
        let mut n = 0usize;
        let mut b = self.cur_block;
        if self.held {
            n += (self.cur_num - self.cur_pkt.min(self.cur_num)) as usize;
            b = (b + 1) % self.block_nr;
        }
        for _ in 0..self.block_nr {
            if n >= cap || !self.user_owned(b) || (self.held && b == self.cur_block) {
                break;
            }
            n += Self::rd32(self.body(b), 12).unwrap_or(0) as usize;
            b = (b + 1) % self.block_nr;
        }
        n
    }

    /// The timestamp `(sec, nsec)` of the next frame without consuming it.
    pub fn peek_timestamp(&mut self) -> Option<(u32, u32)> {
        if !self.advance() {
            return None;
        }
        let body = self.body(self.cur_block);
        Some((
            Self::rd32(body, self.cur_off + 4)?,
            Self::rd32(body, self.cur_off + 8)?,
        ))
    }

    /// Drops every frame currently queued, handing all retired blocks back to the kernel.
    #[cfg(test)]
    pub fn discard_all(&mut self) -> u64 {
        let mut n = 0u64;
        for _ in 0..self.block_nr * 2 {
            if self.next_frame().is_none() {
                break;
            }
            n += 1;
            let rest = self.cur_num.saturating_sub(self.cur_pkt);
            n += u64::from(rest);
            self.cur_pkt = self.cur_num;
            self.release();
        }
        self.release();
        n
    }
}

/// `TP_STATUS_AVAILABLE` (TX: the slot is free).
pub const TP_STATUS_AVAILABLE: u32 = 0;
/// `TP_STATUS_SEND_REQUEST` (TX: user space filled the slot).
pub const TP_STATUS_SEND_REQUEST: u32 = 1;
/// `TP_STATUS_WRONG_FORMAT` (TX: the kernel refused the frame).
pub const TP_STATUS_WRONG_FORMAT: u32 = 4;
/// Where a TX frame's bytes start in its TPACKET_V2 slot: `TPACKET2_HDRLEN -
/// sizeof(sockaddr_ll)` (`tpacket_snd` without `PACKET_TX_HAS_OFF`).
pub const TX_DATA_OFFSET: usize = 32;

/// A TPACKET_V2 transmit ring: fixed-size slots that user space fills and marks
/// `TP_STATUS_SEND_REQUEST`; the kernel sends them when the socket is kicked and marks them
/// `TP_STATUS_AVAILABLE` again.
pub struct TxRing {
    map: Mmap,
    frame_size: usize,
    /// Byte offset of every slot in the mapping (no division on the send path).
    offsets: Box<[usize]>,
    next: usize,
}

impl std::fmt::Debug for TxRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxRing")
            .field("frame_size", &self.frame_size)
            .field("frame_nr", &self.offsets.len())
            .finish_non_exhaustive()
    }
}

impl TxRing {
    /// Sets up `PACKET_TX_RING` on `sock` (already TPACKET_V2) for frames up to `max_frame`
    /// bytes and maps it.
    pub fn new(sock: &PacketSocket, max_frame: usize, frames: usize) -> io::Result<Self> {
        use std::os::fd::AsFd;
        let frame_size = tpacket_align(TX_DATA_OFFSET + max_frame).next_power_of_two();
        let block_size = frame_size.max(4096);
        let frames_per_block = block_size / frame_size;
        let block_nr = frames.div_ceil(frames_per_block).max(1);
        let req = super::socket::TpacketReq {
            tp_block_size: block_size as u32,
            tp_block_nr: block_nr as u32,
            tp_frame_size: frame_size as u32,
            tp_frame_nr: (block_nr * frames_per_block) as u32,
        };
        sock.set_tx_ring(&req)?;
        let map = Mmap::shared(sock.as_fd(), block_size * block_nr, true)?;
        let offsets = (0..block_nr * frames_per_block)
            .map(|i| (i / frames_per_block) * block_size + (i % frames_per_block) * frame_size)
            .collect();
        Ok(TxRing {
            map,
            frame_size,
            offsets,
            next: 0,
        })
    }

    /// Largest frame a slot holds.
    pub fn max_frame(&self) -> usize {
        self.frame_size - TX_DATA_OFFSET
    }

    fn status(&self, i: usize) -> &AtomicU32 {
        let off = self.offsets[i];
        debug_assert!(off + self.frame_size <= self.map.len());
        // SAFETY: `off` is the start of a slot inside the mapping (a bounds-checked entry of
        // `offsets`), 4-byte aligned (slots are 16-byte aligned); `tp_status` is the first word
        // and is shared with the kernel, hence accessed only atomically.
        unsafe { &*self.map.as_ptr().add(off).cast::<AtomicU32>() }
    }

    /// Whether the next slot is free.
    pub fn has_free_slot(&self) -> bool {
        let st = self.status(self.next).load(Ordering::Acquire);
        st == TP_STATUS_AVAILABLE || st == TP_STATUS_WRONG_FORMAT
    }

    /// Copies `frame` into the next slot and marks it for sending. Returns `Ok(false)` when the
    /// slot is still owned by the kernel (ring full), `Err` for a refused previous frame.
    ///
    /// The caller checked `frame.len() <= max_frame()`.
    pub fn push(&mut self, frame: &[u8]) -> Result<bool, u32> {
        let i = self.next;
        let st = self.status(i).load(Ordering::Acquire);
        if st != TP_STATUS_AVAILABLE && st != TP_STATUS_WRONG_FORMAT {
            return Ok(false);
        }
        assert!(
            frame.len() <= self.max_frame(),
            "frame larger than a TX slot"
        );
        let off = self.offsets[i];
        // SAFETY: the slot `[off, off + frame_size)` is inside the mapping; its status says
        // user space owns it, so the kernel does not read or write it until we store
        // SEND_REQUEST below; the bytes written stay inside the slot (length checked above).
        unsafe {
            let base = self.map.as_ptr().add(off);
            std::ptr::copy_nonoverlapping(frame.as_ptr(), base.add(TX_DATA_OFFSET), frame.len());
            // tp_len (offset 4) and tp_snaplen (offset 8).
            base.add(4).cast::<u32>().write(frame.len() as u32);
            base.add(8).cast::<u32>().write(frame.len() as u32);
        }
        // Publish the frame: pairs with the kernel's smp_rmb() after reading tp_status in
        // tpacket_snd (net/packet/af_packet.c, packet_current_frame/__packet_get_status).
        self.status(i)
            .store(TP_STATUS_SEND_REQUEST, Ordering::Release);
        self.next = if i + 1 == self.offsets.len() {
            0
        } else {
            i + 1
        };
        if st == TP_STATUS_WRONG_FORMAT {
            return Err(1);
        }
        Ok(true)
    }

    /// Slots the kernel has not sent yet (`SEND_REQUEST` or `SENDING`).
    pub fn in_flight(&self) -> usize {
        (0..self.offsets.len())
            .filter(|&i| {
                let st = self.status(i).load(Ordering::Acquire);
                st != TP_STATUS_AVAILABLE && st != TP_STATUS_WRONG_FORMAT
            })
            .count()
    }
}

/// A fake kernel that fills a heap [`RxRing`] exactly as `tpacket_rcv` lays out blocks, so
/// the reader is tested without privileges.
#[cfg(test)]
pub(crate) mod fake {
    use super::*;

    /// Kernel-side writer state.
    pub(crate) struct FakeKernel {
        pub block: usize,
        pub off: usize,
        pub num: u32,
        pub last_off: usize,
        pub dropped: u64,
        /// Mark frames as stamped by the device (`TP_STATUS_TS_RAW_HARDWARE`), as the kernel
        /// does for a socket with `PACKET_TIMESTAMP` = raw hardware on a stamping NIC.
        pub hw_stamps: bool,
    }

    impl FakeKernel {
        pub fn new() -> Self {
            FakeKernel {
                block: 0,
                off: BLOCK_HEADER_LEN,
                num: 0,
                last_off: 0,
                dropped: 0,
                hw_stamps: false,
            }
        }

        fn raw(ring: &RxRing, at: usize) -> *mut u8 {
            assert!(at < ring.memory());
            // SAFETY: test-only; `at` is inside the heap ring.
            unsafe { ring.base.add(at) }
        }

        fn wr32(ring: &RxRing, at: usize, v: u32) {
            // SAFETY: test-only raw write inside the heap ring (bounds asserted in `raw`).
            unsafe { Self::raw(ring, at).cast::<u32>().write_unaligned(v) }
        }

        fn wr16(ring: &RxRing, at: usize, v: u16) {
            // SAFETY: as in `wr32`.
            unsafe { Self::raw(ring, at).cast::<u16>().write_unaligned(v) }
        }

        /// Writes one frame; returns false (a drop) when the ring is full.
        pub fn push(&mut self, ring: &RxRing, data: &[u8], vlan: Option<u16>, pkttype: u8) -> bool {
            let bs = ring.block_size;
            let mac = tpacket_align(TPACKET3_HDRLEN + 16) - 14;
            let need = tpacket_align(mac + data.len());
            if self.num > 0 && self.off + need > bs {
                self.retire(ring);
            }
            if self.num == 0 {
                if ring.status(self.block).load(Ordering::Acquire) != TP_STATUS_KERNEL {
                    self.dropped += 1;
                    return false;
                }
                self.off = BLOCK_HEADER_LEN;
            }
            let base = self.block * bs;
            let at = base + self.off;
            if self.num > 0 {
                Self::wr32(
                    ring,
                    base + self.last_off,
                    (self.off - self.last_off) as u32,
                );
            }
            Self::wr32(ring, at, 0);
            Self::wr32(ring, at + 4, 1000 + self.num);
            Self::wr32(ring, at + 8, 500);
            Self::wr32(ring, at + 12, data.len() as u32);
            Self::wr32(ring, at + 16, data.len() as u32);
            let mut status = TP_STATUS_USER;
            if self.hw_stamps {
                status |= TP_STATUS_TS_RAW_HARDWARE;
            }
            if let Some(t) = vlan {
                status |= TP_STATUS_VLAN_VALID;
                Self::wr32(ring, at + 32, u32::from(t));
            }
            Self::wr32(ring, at + 20, status);
            Self::wr16(ring, at + 24, mac as u16);
            Self::wr32(ring, at + 48 + 4, 7);
            // SAFETY: test-only write of one byte inside the ring.
            unsafe { Self::raw(ring, at + 48 + 10).write(pkttype) };
            for (i, b) in data.iter().enumerate() {
                // SAFETY: `mac + len <= block size` was ensured by the retire check.
                unsafe { Self::raw(ring, at + mac + i).write(*b) };
            }
            self.last_off = self.off;
            self.off += need;
            self.num += 1;
            true
        }

        /// Closes the current block (as the retire timer does).
        pub fn retire(&mut self, ring: &RxRing) {
            if self.num == 0 {
                return;
            }
            let base = self.block * ring.block_size;
            Self::wr32(ring, base + 12, self.num);
            Self::wr32(ring, base + 16, BLOCK_HEADER_LEN as u32);
            ring.status(self.block)
                .store(TP_STATUS_USER, Ordering::Release);
            self.block = (self.block + 1) % ring.block_nr;
            self.num = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::FakeKernel;
    use super::*;

    fn frame(seq: u32, len: usize) -> Vec<u8> {
        let mut f = vec![0u8; len];
        f[..6].copy_from_slice(&[0xff; 6]);
        f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        f[14..18].copy_from_slice(&seq.to_be_bytes());
        f
    }

    fn drain(ring: &mut RxRing) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(f) = ring.next_frame() {
            out.push(ring.frame_bytes(&f, u32::MAX).to_vec());
            ring.release();
        }
        out
    }

    #[test]
    fn reads_every_frame_across_blocks_and_wraps() {
        let mut ring = RxRing::heap(4096, 4);
        let mut k = FakeKernel::new();
        let mut want = Vec::new();
        for round in 0..10u32 {
            for i in 0..30u32 {
                let f = frame(round * 100 + i, 60 + (i as usize * 37) % 1400);
                if k.push(&ring, &f, None, 0) {
                    want.push(f);
                }
            }
            k.retire(&ring);
            let got = drain(&mut ring);
            assert_eq!(got.len(), want.len(), "round {round}");
            assert_eq!(got, want);
            want.clear();
        }
        assert!(
            k.dropped > 0,
            "a 4-block ring must overflow with 30 frames per round"
        );
    }

    #[test]
    fn ready_count_and_has_frame() {
        let mut ring = RxRing::heap(4096, 4);
        let mut k = FakeKernel::new();
        assert!(!ring.has_frame());
        assert_eq!(ring.ready_frames(100), 0);
        for i in 0..5 {
            k.push(&ring, &frame(i, 100), None, 0);
        }
        assert_eq!(ring.ready_frames(100), 0, "not retired yet");
        k.retire(&ring);
        assert!(ring.has_frame());
        assert_eq!(ring.ready_frames(100), 5);
        let f = ring.next_frame().unwrap();
        assert_eq!(f.sec, 1000);
        assert_eq!(ring.ready_frames(100), 4);
        assert_eq!(ring.discard_all(), 4);
        assert!(!ring.has_frame());
    }

    #[test]
    fn hardware_stamped_frames_say_so() {
        let mut ring = RxRing::heap(4096, 2);
        let mut k = FakeKernel::new();
        k.push(&ring, &frame(1, 60), None, 0);
        k.hw_stamps = true;
        k.push(&ring, &frame(2, 60), None, 0);
        k.retire(&ring);
        assert!(!ring.next_frame().unwrap().hw_timestamp());
        assert!(ring.next_frame().unwrap().hw_timestamp());
    }

    #[test]
    fn vlan_tag_is_reinserted() {
        let mut ring = RxRing::heap(4096, 2);
        let mut k = FakeKernel::new();
        let f = frame(9, 64);
        k.push(&ring, &f, Some(0x2064), 0);
        k.retire(&ring);
        let raw = ring.next_frame().unwrap();
        assert_eq!(raw.vlan_tci, Some(0x2064));
        assert_eq!(raw.len, 68);
        let bytes = ring.frame_bytes(&raw, u32::MAX);
        assert_eq!(&bytes[..12], &f[..12]);
        assert_eq!(&bytes[12..16], &[0x81, 0x00, 0x20, 0x64]);
        assert_eq!(&bytes[16..], &f[12..]);
    }

    #[test]
    fn corrupt_descriptors_are_skipped_not_trusted() {
        let mut ring = RxRing::heap(4096, 2);
        let mut k = FakeKernel::new();
        k.push(&ring, &frame(1, 100), None, 0);
        k.push(&ring, &frame(2, 100), None, 0);
        k.retire(&ring);
        // Corrupt the first frame's snaplen so it runs past the block.
        let at = BLOCK_HEADER_LEN + 12;
        // SAFETY: test-only write inside the heap ring.
        unsafe { ring.base.add(at).cast::<u32>().write_unaligned(1 << 20) };
        assert!(ring.next_frame().is_none());
        assert_eq!(ring.corrupt_blocks(), 1);
        ring.release();
        // The block went back to the kernel; the ring keeps working.
        k.push(&ring, &frame(3, 100), None, 0);
        k.retire(&ring);
        let f = ring.next_frame().unwrap();
        assert_eq!(&ring.frame_bytes(&f, 100)[14..18], &3u32.to_be_bytes());
    }

    #[test]
    fn frame_size_matches_kernel_macoff() {
        // tpacket_rcv: netoff = TPACKET_ALIGN(68 + 16) = 96, macoff = 82.
        assert_eq!(frame_size_for(0, 0), tpacket_align(82));
        assert_eq!(frame_size_for(1514, 0), tpacket_align(82 + 1514));
    }
}
