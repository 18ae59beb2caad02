//! Where everything lives in a cluster's shared memory.
//!
//! ```text
//! 0      header (4 KiB): magic, version, geometry, master pid / start time / state, stats
//! 4096   queue control blocks, 256 bytes each: slave owner word, slave start time, stats
//! ...    per queue, 4 rings (control block + queue_len slots): RX, ALLOC (master -> slave),
//!        RET, TX (slave -> master)
//! ...    packet buffers: num_buffers x stride (16-byte header: timestamp ns, hash; data)
//! ```
//!
//! The geometry is read once from the header by [`Layout::read`] and checked against the
//! mapping's length with checked arithmetic; every offset used afterwards comes from the
//! validated copy, never again from shared memory.

use crate::error::{Error, Result};
use crate::sys::{Mapping, RING_CTL};

/// `"PFRZC"` + format version, little endian.
pub(crate) const MAGIC: u64 = u64::from_le_bytes(*b"PFRZC\0\x01\0");
/// Layout version.
pub(crate) const VERSION: u32 = 2;

pub(crate) const HDR_SIZE: usize = 4096;
pub(crate) const H_MAGIC: usize = 0;
pub(crate) const H_VERSION: usize = 8;
pub(crate) const H_NUM_QUEUES: usize = 12;
pub(crate) const H_QUEUE_LEN: usize = 16;
pub(crate) const H_NUM_BUFFERS: usize = 20;
pub(crate) const H_BUF_SIZE: usize = 24;
pub(crate) const H_MASTER_PID: usize = 32;
pub(crate) const H_STATE: usize = 36;
pub(crate) const H_MASTER_START: usize = 40;
pub(crate) const H_TOTAL: usize = 48;
pub(crate) const H_RX: usize = 64;
pub(crate) const H_TX: usize = 72;
pub(crate) const H_PROCESSED: usize = 80;
pub(crate) const H_RX_DROPS: usize = 88;
pub(crate) const H_TX_DROPS: usize = 96;
/// 0 passive, 1 active.
pub(crate) const H_WAIT_MODE: usize = 104;
/// The cluster mode: 0 send and receive, 1 send only, 2 receive only (PF_RING's socket_mode).
pub(crate) const H_MODE: usize = 108;
/// The egress table: [`MAX_EGRESS`] ifindexes (u32, 0 = free slot), written by the master.
pub(crate) const H_EGRESS: usize = 512;
/// Most egress interfaces a cluster can have (a buffer's egress set is a 32-bit mask).
pub const MAX_EGRESS: usize = 32;

/// Header state: the master runs.
pub(crate) const STATE_RUNNING: u32 = 1;
/// Header state: the master stopped (destroyed the cluster).
pub(crate) const STATE_STOPPED: u32 = 2;

pub(crate) const QCTL_SIZE: usize = 256;
/// Owner word: slave pid in the low 32 bits (0 = free), flags above.
pub(crate) const Q_OWNER: usize = 0;
pub(crate) const Q_START: usize = 8;
/// Packets the master queued for this slave.
pub(crate) const Q_ENQUEUED: usize = 16;
/// Packets dropped because this slave's queue was full.
pub(crate) const Q_DROPS: usize = 24;
/// Packets the slave received (written by the slave).
pub(crate) const Q_SLAVE_RECV: usize = 32;
/// Packets the slave sent (written by the slave).
pub(crate) const Q_SLAVE_SENT: usize = 40;
/// Flag in the owner word: the slave detached cleanly; the master recycles the queue.
pub(crate) const OWNER_DETACHED: u64 = 1 << 32;

/// The four rings of a queue.
pub(crate) const RING_RX: usize = 0;
pub(crate) const RING_ALLOC: usize = 1;
pub(crate) const RING_RET: usize = 2;
pub(crate) const RING_TX: usize = 3;

/// Buffer header: timestamp (ns), hash, egress mask (u32 at [`BUF_EGRESS`]).
pub(crate) const BUF_HDR: usize = 16;
/// Offset in the buffer header of the egress mask a slave writes before sending: bit `i`
/// = egress slot `i` of the table at [`H_EGRESS`]; 0 = the master's default egress.
pub(crate) const BUF_EGRESS: usize = 12;

/// Most queues a cluster can have (owner bitmasks are 64 bits).
pub const MAX_QUEUES: u32 = 64;

/// A validated cluster geometry and the offsets derived from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    pub num_queues: u32,
    pub queue_len: u32,
    pub num_buffers: u32,
    pub buf_size: u32,
    pub ring_bytes: usize,
    pub rings_off: usize,
    pub bufs_off: usize,
    pub stride: usize,
    pub total: usize,
}

impl Layout {
    /// Computes the layout, or explains which value is out of range.
    pub(crate) fn new(
        num_queues: u32,
        queue_len: u32,
        num_buffers: u32,
        buf_size: u32,
    ) -> Result<Self> {
        let bad = |r: String| Err(Error::InvalidConfig { reason: r });
        if num_queues == 0 || num_queues > MAX_QUEUES {
            return bad(format!("{num_queues} queues (1..={MAX_QUEUES})"));
        }
        if !queue_len.is_power_of_two() || !(2..=1 << 20).contains(&queue_len) {
            return bad(format!(
                "queue length {queue_len} (a power of two, 2..=1048576)"
            ));
        }
        if num_buffers == 0 || num_buffers > 1 << 24 {
            return bad(format!("{num_buffers} buffers (1..=16777216)"));
        }
        if !(64..=65536).contains(&buf_size) {
            return bad(format!("buffer size {buf_size} (64..=65536)"));
        }
        let overflow = || Error::InvalidConfig {
            reason: "cluster memory size overflows".into(),
        };
        let ring_bytes = (queue_len as usize)
            .checked_mul(8)
            .and_then(|s| s.checked_add(RING_CTL))
            .ok_or_else(overflow)?;
        let rings_off = HDR_SIZE + QCTL_SIZE * num_queues as usize;
        let rings_total = ring_bytes
            .checked_mul(4 * num_queues as usize)
            .ok_or_else(overflow)?;
        let bufs_off = rings_off
            .checked_add(rings_total)
            .map(|v| v.next_multiple_of(4096))
            .ok_or_else(overflow)?;
        let stride = (BUF_HDR + buf_size as usize).next_multiple_of(64);
        let total = stride
            .checked_mul(num_buffers as usize)
            .and_then(|b| b.checked_add(bufs_off))
            .map(|v| v.next_multiple_of(4096))
            .ok_or_else(overflow)?;
        Ok(Layout {
            num_queues,
            queue_len,
            num_buffers,
            buf_size,
            ring_bytes,
            rings_off,
            bufs_off,
            stride,
            total,
        })
    }

    /// Reads and validates the geometry a master wrote into `map`.
    pub(crate) fn read(map: &Mapping) -> Result<Self> {
        let u32_at = |o| {
            map.u32_at(o)
                .map(|a| a.load(std::sync::atomic::Ordering::Acquire))
                .ok_or_else(|| Error::corrupt("mapping smaller than the header"))
        };
        let magic = map
            .u64_at(H_MAGIC)
            .map(|a| a.load(std::sync::atomic::Ordering::Acquire))
            .ok_or_else(|| Error::corrupt("mapping smaller than the header"))?;
        if magic != MAGIC {
            return Err(Error::corrupt(format!("bad magic {magic:#x}")));
        }
        let v = u32_at(H_VERSION)?;
        if v != VERSION {
            return Err(Error::corrupt(format!(
                "layout version {v}, this library reads {VERSION}"
            )));
        }
        let l = Layout::new(
            u32_at(H_NUM_QUEUES)?,
            u32_at(H_QUEUE_LEN)?,
            u32_at(H_NUM_BUFFERS)?,
            u32_at(H_BUF_SIZE)?,
        )
        .map_err(|e| Error::corrupt(format!("geometry: {e}")))?;
        if l.total > map.len() {
            return Err(Error::corrupt(format!(
                "geometry needs {} bytes, the mapping has {}",
                l.total,
                map.len()
            )));
        }
        Ok(l)
    }

    /// Offset of the control block of queue `q`.
    pub(crate) fn qctl(&self, q: u32) -> usize {
        HDR_SIZE + QCTL_SIZE * q as usize
    }

    /// Offset of ring `r` (one of `RING_*`) of queue `q`.
    pub(crate) fn ring(&self, q: u32, r: usize) -> usize {
        self.rings_off + self.ring_bytes * (q as usize * 4 + r)
    }

    /// Offset of buffer `i`'s header; `None` when `i` is not a buffer index.
    #[inline]
    pub(crate) fn buf(&self, i: u32) -> Option<usize> {
        (i < self.num_buffers).then(|| self.bufs_off + self.stride * i as usize)
    }
}

/// A queue entry: buffer index in the low 32 bits, packet length above.
#[inline]
pub(crate) fn entry(idx: u32, len: u32) -> u64 {
    u64::from(idx) | (u64::from(len) << 32)
}

/// Splits an entry; the caller validates both halves.
#[inline]
pub(crate) fn split(e: u64) -> (u32, u32) {
    (e as u32, (e >> 32) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry_limits() {
        assert!(Layout::new(0, 8, 8, 64).is_err());
        assert!(Layout::new(65, 8, 8, 64).is_err());
        assert!(Layout::new(1, 6, 8, 64).is_err());
        assert!(Layout::new(1, 8, 0, 64).is_err());
        assert!(Layout::new(1, 8, 8, 63).is_err());
        let l = Layout::new(4, 1024, 5000, 1536).unwrap();
        assert_eq!(l.stride, 1600);
        assert_eq!(l.total % 4096, 0);
        assert_eq!(l.buf(4999), Some(l.bufs_off + 4999 * 1600));
        assert_eq!(l.buf(5000), None);
        assert!(l.buf(4999).unwrap() + l.stride <= l.total);
        assert!(l.ring(3, RING_TX) + l.ring_bytes <= l.bufs_off);
    }

    #[test]
    fn read_rejects_bad_headers() {
        let l = Layout::new(2, 8, 16, 64).unwrap();
        let map = Mapping::anonymous(l.total).unwrap();
        assert!(matches!(Layout::read(&map), Err(Error::Corrupt { .. })));
        let set32 = |o, v| {
            map.u32_at(o)
                .unwrap()
                .store(v, std::sync::atomic::Ordering::SeqCst)
        };
        map.u64_at(H_MAGIC)
            .unwrap()
            .store(MAGIC, std::sync::atomic::Ordering::SeqCst);
        set32(H_VERSION, VERSION);
        set32(H_NUM_QUEUES, 2);
        set32(H_QUEUE_LEN, 8);
        set32(H_NUM_BUFFERS, 16);
        set32(H_BUF_SIZE, 64);
        assert_eq!(Layout::read(&map).unwrap(), l);
        set32(H_NUM_BUFFERS, 1 << 20);
        assert!(
            matches!(Layout::read(&map), Err(Error::Corrupt { reason }) if reason.contains("needs"))
        );
        set32(H_NUM_BUFFERS, 16);
        set32(H_QUEUE_LEN, 7);
        assert!(Layout::read(&map).is_err());
    }

    #[test]
    fn entries_round_trip() {
        assert_eq!(split(entry(7, 1514)), (7, 1514));
        assert_eq!(split(entry(u32::MAX, u32::MAX)), (u32::MAX, u32::MAX));
    }
}
