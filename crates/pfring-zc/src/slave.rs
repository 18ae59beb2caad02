//! The slave side: one queue of a cluster, in a thread or another process
//! (`pfring_dna_cluster_open` / `zc:<cluster>@<queue>`).
//!
//! Received buffers are handed out without copying: a [`Packet`] borrows the slave and
//! gives its buffer back when dropped; a [`Buffer`] is an owned handle to give back with
//! [`Slave::release`] or to send with [`Slave::send`]. Everything the master wrote is
//! checked (indices, lengths, and that a buffer is not handed out twice), so a broken
//! master can make this slave see wrong bytes but never misbehave.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::cluster::{ClusterMode, ClusterStats, WaitMode};
use crate::error::{Error, Result};
use crate::layout::*;
use crate::proc;
use crate::queue::{Consumer, Producer};
use crate::shm::{Region, runtime_dir};
use crate::sys::RawRing;

/// How often a waiting slave checks that its master is alive.
const MASTER_CHECK: Duration = Duration::from_millis(100);

/// An owned packet buffer of a slave: received, or allocated with [`Slave::alloc`].
/// Give it back with [`Slave::release`] or [`Slave::send`]; a dropped handle's buffer is
/// recovered by the master when the slave detaches.
#[derive(Debug, PartialEq, Eq)]
pub struct Buffer {
    idx: u32,
    len: u32,
    /// Egress slots to send to (bit `i` = slot `i` of the cluster's egress table); 0 = the
    /// master's default egress.
    pub(crate) egress: u32,
}

impl Buffer {
    /// The packet length.
    pub fn len(&self) -> usize {
        self.len as usize
    }
    /// True for a zero-length packet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// The buffer index in the pool.
    pub fn index(&self) -> u32 {
        self.idx
    }
    /// True when [`Slave::set_ifindex`] / [`Slave::add_ifindex`] chose egress interfaces.
    pub fn has_egress(&self) -> bool {
        self.egress != 0
    }
}

/// Slave counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SlaveStats {
    /// Packets received.
    pub recv: u64,
    /// Packets sent.
    pub sent: u64,
    /// Packets the master dropped for this queue because it was full.
    pub drops: u64,
    /// Invalid entries from the master, ignored.
    pub bad_entries: u64,
}

/// A slave attached to one queue of a cluster.
#[derive(Debug)]
pub struct Slave {
    id: u32,
    queue: u32,
    region: Region,
    rx: Consumer,
    alloc: Consumer,
    ret: Producer,
    tx: Producer,
    pending_ret: Vec<u64>,
    pending_tx: Vec<u64>,
    held: Vec<u64>,
    master_pid: u32,
    master_start: u64,
    last_check: Instant,
    stats: SlaveStats,
}

fn ring(region: &Region, q: u32, r: usize) -> Result<RawRing> {
    let l = region.layout;
    RawRing::new(&region.map, l.ring(q, r), l.queue_len as usize)
        .ok_or_else(|| Error::corrupt("ring outside the mapping"))
}

impl Slave {
    /// Attaches to queue `queue` of cluster `id` in the default runtime directory
    /// (`pfring_dna_cluster_open`).
    #[doc(alias = "pfring_dna_cluster_open")]
    pub fn attach(id: u32, queue: u32) -> Result<Self> {
        Self::attach_in(&runtime_dir(), id, queue)
    }

    /// Attaches to queue `queue` of cluster `id` whose descriptor is in `dir`.
    pub fn attach_in(dir: &Path, id: u32, queue: u32) -> Result<Self> {
        let (region, _) = Region::attach(id, dir)?;
        Self::from_region(id, region, queue)
    }

    pub(crate) fn from_region(id: u32, region: Region, queue: u32) -> Result<Self> {
        let l = region.layout;
        if queue >= l.num_queues {
            return Err(Error::NoSuchQueue {
                id,
                queue,
                num_queues: l.num_queues,
            });
        }
        let m = &region.map;
        let master_pid = m
            .u32_at(H_MASTER_PID)
            .map_or(0, |a| a.load(Ordering::Acquire));
        let master_start = m
            .u64_at(H_MASTER_START)
            .map_or(0, |a| a.load(Ordering::Acquire));
        let state = m.u32_at(H_STATE).map_or(0, |a| a.load(Ordering::Acquire));
        if state != STATE_RUNNING || !proc::alive(master_pid, master_start) {
            return Err(Error::MasterGone {
                id,
                pid: master_pid,
            });
        }
        let me = std::process::id();
        let owner = m
            .u64_at(l.qctl(queue) + Q_OWNER)
            .ok_or_else(|| Error::corrupt("queue control outside the mapping"))?;
        // A queue whose previous slave is gone is recycled by the master within its
        // liveness period: wait for that, bounded.
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            match owner.compare_exchange(0, u64::from(me), Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => break,
                Err(cur) => {
                    let pid = cur as u32;
                    let held = cur & OWNER_DETACHED == 0 && proc::alive(pid, 0);
                    if held || Instant::now() >= deadline {
                        return Err(Error::QueueBusy { id, queue, pid });
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
        if let Some(a) = m.u64_at(l.qctl(queue) + Q_START) {
            a.store(proc::start_time(me).unwrap_or(0), Ordering::Release);
        }
        Ok(Slave {
            id,
            queue,
            rx: Consumer::new(ring(&region, queue, RING_RX)?),
            alloc: Consumer::new(ring(&region, queue, RING_ALLOC)?),
            ret: Producer::new(ring(&region, queue, RING_RET)?),
            tx: Producer::new(ring(&region, queue, RING_TX)?),
            pending_ret: Vec::new(),
            pending_tx: Vec::new(),
            held: vec![0; (l.num_buffers as usize).div_ceil(64)],
            master_pid,
            master_start,
            last_check: Instant::now(),
            stats: SlaveStats::default(),
            region,
        })
    }

    /// The cluster id.
    pub fn cluster_id(&self) -> u32 {
        self.id
    }

    /// The queue this slave holds.
    pub fn queue(&self) -> u32 {
        self.queue
    }

    /// The master's pid.
    pub fn master_pid(&self) -> u32 {
        self.master_pid
    }

    /// Bytes of data a buffer holds at most.
    pub fn buffer_size(&self) -> usize {
        self.region.layout.buf_size as usize
    }

    /// Errors with [`Error::MasterGone`] if the master stopped or died.
    pub fn check_master(&mut self) -> Result<()> {
        self.last_check = Instant::now();
        let state = self
            .region
            .map
            .u32_at(H_STATE)
            .map_or(0, |a| a.load(Ordering::Acquire));
        if state != STATE_RUNNING || !proc::alive(self.master_pid, self.master_start) {
            return Err(Error::MasterGone {
                id: self.id,
                pid: self.master_pid,
            });
        }
        Ok(())
    }

    fn take(&mut self, e: u64) -> Option<Buffer> {
        let (idx, len) = split(e);
        let l = self.region.layout;
        if idx >= l.num_buffers || len > l.buf_size {
            self.stats.bad_entries += 1;
            return None;
        }
        let w = &mut self.held[(idx / 64) as usize];
        let bit = 1u64 << (idx % 64);
        if *w & bit != 0 {
            // Handed out twice: refuse, so two handles never alias one buffer.
            self.stats.bad_entries += 1;
            return None;
        }
        *w |= bit;
        Some(Buffer {
            idx,
            len,
            egress: 0,
        })
    }

    fn untrack(&mut self, b: &Buffer) {
        if let Some(w) = self.held.get_mut((b.idx / 64) as usize) {
            *w &= !(1u64 << (b.idx % 64));
        }
    }

    fn flush(&mut self) {
        for (pending, prod) in [
            (&mut self.pending_ret, &mut self.ret),
            (&mut self.pending_tx, &mut self.tx),
        ] {
            if pending.is_empty() {
                continue;
            }
            let mut n = 0;
            for &e in pending.iter() {
                if !prod.push_local(e) {
                    break;
                }
                n += 1;
            }
            prod.publish();
            pending.drain(..n);
        }
    }

    /// Receives the next packet as an owned [`Buffer`]: `Ok(None)` when none is queued
    /// and `timeout` is `None` or ran out; waits (per the cluster's wait mode) otherwise.
    /// Errors with [`Error::MasterGone`] within 100 ms of the master's death.
    pub fn recv_buffer(&mut self, timeout: Option<Duration>) -> Result<Option<Buffer>> {
        self.flush();
        let start = Instant::now();
        loop {
            while let Some(e) = self.rx.pop() {
                if let Some(b) = self.take(e) {
                    self.stats.recv += 1;
                    return Ok(Some(b));
                }
            }
            if self.last_check.elapsed() >= MASTER_CHECK {
                self.check_master()?;
                self.publish_stats();
            }
            let Some(t) = timeout else { return Ok(None) };
            let left = t.saturating_sub(start.elapsed());
            if left.is_zero() {
                return Ok(None);
            }
            if self.wait_mode() == WaitMode::Active {
                std::hint::spin_loop();
            } else {
                self.rx.wait(left.min(MASTER_CHECK));
            }
        }
    }

    /// Waits up to `timeout` until a packet is queued, without taking it; errors like
    /// [`Slave::recv_buffer`] when the master is gone.
    pub fn poll(&mut self, timeout: Duration) -> Result<bool> {
        self.flush();
        let start = Instant::now();
        loop {
            if self.rx.available() != 0 {
                return Ok(true);
            }
            if self.last_check.elapsed() >= MASTER_CHECK {
                self.check_master()?;
                self.publish_stats();
            }
            let left = timeout.saturating_sub(start.elapsed());
            if left.is_zero() {
                return Ok(false);
            }
            if self.wait_mode() == WaitMode::Active {
                std::hint::spin_loop();
            } else {
                self.rx.wait(left.min(MASTER_CHECK));
            }
        }
    }

    /// Packets queued now (as far as the master published; capped at the queue length).
    pub fn queued(&self) -> u64 {
        self.rx.available_now()
    }

    /// The timestamp of the next queued packet, without taking it.
    pub fn peek_timestamp_ns(&mut self) -> Option<u64> {
        let (idx, _) = split(self.rx.peek()?);
        let o = self.region.layout.buf(idx)?;
        let h = self.region.map.slice(o, 8)?;
        Some(u64::from_ne_bytes(h.try_into().ok()?))
    }

    /// Bytes of shared memory mapped.
    pub fn memory(&self) -> usize {
        self.region.map.len()
    }

    /// Receives up to `max` queued packets at once, zero copy: `f(data, timestamp_ns)` is
    /// called for each, then every buffer goes back to the pool in one batch. Does not
    /// wait; returns how many were delivered.
    pub fn recv_burst<F: FnMut(&[u8], u64)>(&mut self, max: usize, mut f: F) -> Result<usize> {
        self.flush();
        let l = self.region.layout;
        let mut n = 0;
        while n < max {
            let Some(e) = self.rx.pop_local() else { break };
            let (idx, len) = split(e);
            let Some(off) = l.buf(idx).filter(|_| len <= l.buf_size) else {
                self.stats.bad_entries += 1;
                continue;
            };
            if let Some(b) = self.region.map.slice(off, BUF_HDR + len as usize) {
                let ts = u64::from_ne_bytes(b[..8].try_into().unwrap_or([0; 8]));
                f(&b[BUF_HDR..], ts);
            }
            n += 1;
            let r = entry(idx, 0);
            if !self.pending_ret.is_empty() || !self.ret.push_local(r) {
                self.pending_ret.push(r);
            }
        }
        self.rx.release();
        self.ret.publish();
        self.stats.recv += n as u64;
        if n == 0 && self.last_check.elapsed() >= MASTER_CHECK {
            self.check_master()?;
            self.publish_stats();
        }
        Ok(n)
    }

    /// Receives the next packet, zero copy: it borrows the slave and goes back to the pool
    /// when dropped (`pfring_recv` on a cluster queue). `wait`: block until one comes (or
    /// the master is gone).
    pub fn recv(&mut self, wait: bool) -> Result<Option<Packet<'_>>> {
        let t = wait.then_some(Duration::MAX);
        Ok(self.recv_buffer(t)?.map(|buf| Packet {
            slave: self,
            buf: Some(buf),
        }))
    }

    /// The packet bytes of `b` (`pfring_get_pkt_buff_data`).
    #[doc(alias = "pfring_get_pkt_buff_data")]
    pub fn data(&self, b: &Buffer) -> &[u8] {
        let l = self.region.layout;
        l.buf(b.idx)
            .and_then(|o| self.region.map.slice(o + BUF_HDR, b.len as usize))
            .unwrap_or(&[])
    }

    /// The whole writable data area of `b` ([`Slave::buffer_size`] bytes); set the packet
    /// length with [`Slave::set_len`]. A buffer received from a fan-out cluster is shared
    /// with the other slaves: they see what is written here.
    pub fn data_mut(&mut self, b: &mut Buffer) -> &mut [u8] {
        let l = self.region.layout;
        match l.buf(b.idx) {
            // The handle is unique (see `take`), so nothing else of this process aliases it.
            Some(o) => self
                .region
                .map
                .slice_mut(o + BUF_HDR, l.buf_size as usize)
                .unwrap_or(&mut []),
            None => &mut [],
        }
    }

    /// Sets the packet length of `b` (`pfring_set_pkt_buff_len`).
    #[doc(alias = "pfring_set_pkt_buff_len")]
    pub fn set_len(&self, b: &mut Buffer, len: usize) -> Result<()> {
        let max = self.buffer_size();
        if len > max {
            return Err(Error::TooLong { len, max });
        }
        b.len = len as u32;
        Ok(())
    }

    /// The receive timestamp (ns since the epoch) the master stored with `b`.
    pub fn timestamp_ns(&self, b: &Buffer) -> u64 {
        self.header(b, 0).map_or(0, |h| {
            u64::from_ne_bytes(h[..8].try_into().unwrap_or([0; 8]))
        })
    }

    /// The hash the distribution function gave `b`.
    pub fn hash(&self, b: &Buffer) -> u32 {
        self.header(b, 8).map_or(0, |h| {
            u32::from_ne_bytes(h[..4].try_into().unwrap_or([0; 4]))
        })
    }

    fn header(&self, b: &Buffer, at: usize) -> Option<&[u8]> {
        let o = self.region.layout.buf(b.idx)?;
        self.region.map.slice(o + at, 8)
    }

    /// Takes an empty buffer from the pool (`pfring_alloc_pkt_buff`).
    #[doc(alias = "pfring_alloc_pkt_buff")]
    pub fn alloc(&mut self) -> Result<Buffer> {
        self.flush();
        while let Some(e) = self.alloc.pop() {
            if let Some(mut b) = self.take(e) {
                b.len = 0;
                return Ok(b);
            }
        }
        Err(Error::NoBuffers)
    }

    /// Gives a buffer back to the pool (`pfring_release_pkt_buff`).
    #[doc(alias = "pfring_release_pkt_buff")]
    pub fn release(&mut self, b: Buffer) {
        self.untrack(&b);
        let e = entry(b.idx, 0);
        if !self.pending_ret.is_empty() || !self.ret.push(e) {
            self.pending_ret.push(e);
            self.flush();
        }
    }

    /// The cluster's mode, as the master published it.
    pub fn mode(&self) -> ClusterMode {
        ClusterMode::from_code(
            self.region
                .map
                .u32_at(H_MODE)
                .map_or(0, |a| a.load(Ordering::Acquire)),
        )
    }

    /// The egress slot of `ifindex` in the table the master publishes.
    fn egress_slot(&self, ifindex: u32) -> Result<usize> {
        (0..MAX_EGRESS)
            .find(|&i| {
                ifindex != 0
                    && self
                        .region
                        .map
                        .u32_at(H_EGRESS + 4 * i)
                        .is_some_and(|a| a.load(Ordering::Acquire) == ifindex)
            })
            .ok_or(Error::NoSuchEgress {
                id: self.id,
                ifindex,
            })
    }

    /// Sends `b` (at the next [`Slave::send`]) out of the egress interface `ifindex` only,
    /// instead of the master's default egress (`pfring_set_pkt_buff_ifindex`). The master
    /// must have added it ([`crate::Cluster::add_egress`]); otherwise
    /// [`Error::NoSuchEgress`].
    #[doc(alias = "pfring_set_pkt_buff_ifindex")]
    pub fn set_ifindex(&self, b: &mut Buffer, ifindex: u32) -> Result<()> {
        b.egress = 1 << self.egress_slot(ifindex)?;
        Ok(())
    }

    /// Adds `ifindex` to the egress interfaces `b` goes out of: one [`Slave::send`] sends
    /// the one buffer to each, without copies (`pfring_add_pkt_buff_ifindex`).
    #[doc(alias = "pfring_add_pkt_buff_ifindex")]
    pub fn add_ifindex(&self, b: &mut Buffer, ifindex: u32) -> Result<()> {
        b.egress |= 1 << self.egress_slot(ifindex)?;
        Ok(())
    }

    /// Sends a buffer out of the master's default egress, or of the interfaces chosen with
    /// [`Slave::set_ifindex`] / [`Slave::add_ifindex`] (`pfring_send_pkt_buff`); the buffer
    /// goes back to the pool once sent. The egress choice is written into the buffer's
    /// header: a fan-out buffer held by several slaves must not be sent by two of them to
    /// different interfaces at once. A receive-only cluster refuses with
    /// [`Error::WrongMode`] (the buffer is released).
    #[doc(alias = "pfring_send_pkt_buff")]
    pub fn send(&mut self, b: Buffer) -> Result<()> {
        let mode = self.mode();
        if mode == ClusterMode::RecvOnly {
            self.release(b);
            return Err(Error::WrongMode {
                op: "send",
                id: self.id,
                mode: mode.name(),
            });
        }
        if let Some(a) = self
            .region
            .layout
            .buf(b.idx)
            .and_then(|o| self.region.map.u32_at(o + BUF_EGRESS))
        {
            a.store(b.egress, Ordering::Release);
        }
        self.untrack(&b);
        let e = entry(b.idx, b.len);
        if !self.pending_tx.is_empty() || !self.tx.push(e) {
            self.pending_tx.push(e);
            self.flush();
        }
        self.stats.sent += 1;
        Ok(())
    }

    /// Copies `frame` into a new buffer and sends it.
    pub fn send_copy(&mut self, frame: &[u8]) -> Result<()> {
        let mode = self.mode();
        if mode == ClusterMode::RecvOnly {
            return Err(Error::WrongMode {
                op: "send",
                id: self.id,
                mode: mode.name(),
            });
        }
        let mut b = self.alloc()?;
        let d = self.data_mut(&mut b);
        let Some(dst) = d.get_mut(..frame.len()) else {
            let max = d.len();
            self.release(b);
            return Err(Error::TooLong {
                len: frame.len(),
                max,
            });
        };
        dst.copy_from_slice(frame);
        self.set_len(&mut b, frame.len())?;
        self.send(b)
    }

    /// This slave's counters.
    pub fn stats(&self) -> SlaveStats {
        let drops = self
            .region
            .map
            .u64_at(self.region.layout.qctl(self.queue) + Q_DROPS)
            .map_or(0, |a| a.load(Ordering::Relaxed));
        SlaveStats {
            drops,
            ..self.stats
        }
    }

    /// The counters the master publishes.
    pub fn cluster_stats(&self) -> ClusterStats {
        ClusterStats::read(&self.region)
    }

    /// The cluster's wait mode.
    pub fn wait_mode(&self) -> WaitMode {
        let active = self
            .region
            .map
            .u32_at(H_WAIT_MODE)
            .is_some_and(|a| a.load(Ordering::Relaxed) == 1);
        if active {
            WaitMode::Active
        } else {
            WaitMode::Passive
        }
    }

    fn publish_stats(&self) {
        let b = self.region.layout.qctl(self.queue);
        if let Some(a) = self.region.map.u64_at(b + Q_SLAVE_RECV) {
            a.store(self.stats.recv, Ordering::Relaxed);
        }
        if let Some(a) = self.region.map.u64_at(b + Q_SLAVE_SENT) {
            a.store(self.stats.sent, Ordering::Relaxed);
        }
    }
}

impl Drop for Slave {
    fn drop(&mut self) {
        self.flush();
        self.publish_stats();
        let me = std::process::id();
        if let Some(a) = self
            .region
            .map
            .u64_at(self.region.layout.qctl(self.queue) + Q_OWNER)
        {
            a.store(u64::from(me) | OWNER_DETACHED, Ordering::Release);
        }
    }
}

/// A received packet borrowed from a [`Slave`]; its buffer goes back to the pool on drop.
#[derive(Debug)]
pub struct Packet<'a> {
    slave: &'a mut Slave,
    buf: Option<Buffer>,
}

impl Packet<'_> {
    /// The packet bytes.
    pub fn data(&self) -> &[u8] {
        match &self.buf {
            Some(b) => self.slave.data(b),
            None => &[],
        }
    }
    /// Receive timestamp, ns since the epoch.
    pub fn timestamp_ns(&self) -> u64 {
        self.buf.as_ref().map_or(0, |b| self.slave.timestamp_ns(b))
    }
    /// The distribution hash.
    pub fn hash(&self) -> u32 {
        self.buf.as_ref().map_or(0, |b| self.slave.hash(b))
    }
    /// Keeps the buffer: the caller must release or send it.
    pub fn into_buffer(mut self) -> Option<Buffer> {
        self.buf.take()
    }
}

impl Drop for Packet<'_> {
    fn drop(&mut self) {
        if let Some(b) = self.buf.take() {
            self.slave.release(b);
        }
    }
}
