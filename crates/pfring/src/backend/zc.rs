//! The `zc:<cluster>@<queue>` module: a ring that is a slave of a [`pfring_zc`] cluster, so
//! pfcount and every other tool can read a queue that a `pfdnacluster_master` (or any
//! [`pfring_zc::Cluster`]) fills.
//!
//! - Packets are the cluster's shared buffers, handed out without copying; a packet's buffer
//!   goes back to the pool when the `Packet` (or the `Burst`) is dropped.
//! - A BPF filter runs in user space on each packet; rejected packets go back at once.
//! - `send` copies the frame into a pool buffer and hands it to the master, which sends it
//!   out of its egress.
//! - The master's death ends receiving with [`Error::Zc`] holding
//!   [`pfring_zc::Error::MasterGone`] (noticed within 100 ms while waiting).
//! - `zc:eth0` (an interface opened in zero-copy mode) needs ZC drivers: not supported.

use std::time::Duration;

use pfring_zc::{Buffer, Slave};

use crate::error::{Error, Result};
use crate::packet::{ExtendedHeader, PacketHeader, Timestamp};
use crate::sys::signal::Breaker;

/// How long one wait lasts before the break flag is looked at again.
const WAIT_SLICE: Duration = Duration::from_millis(50);

/// A slave queue behind a ring.
#[derive(Debug)]
pub(crate) struct ZcBackend {
    pub(crate) slave: Slave,
    current: Option<Buffer>,
    pub(crate) hdr: PacketHeader,
    pub(crate) filter: Option<crate::filter::Program>,
}

impl ZcBackend {
    pub(crate) fn open(id: u32, queue: u32) -> Result<Self> {
        Ok(ZcBackend {
            slave: Slave::attach(id, queue)?,
            current: None,
            hdr: PacketHeader::default(),
            filter: None,
        })
    }

    /// Gives the current buffer back.
    pub(crate) fn release_current(&mut self) {
        if let Some(b) = self.current.take() {
            self.slave.release(b);
        }
    }

    /// Receives the next packet that passes the filter into `current`/`hdr`. Waits (in
    /// slices, watching `breaker`) only with `wait`.
    pub(crate) fn fetch(&mut self, caplen: u32, wait: bool, breaker: &Breaker) -> Result<bool> {
        self.release_current();
        loop {
            let t = if wait { Some(WAIT_SLICE) } else { None };
            let Some(b) = self.slave.recv_buffer(t)? else {
                if wait && !breaker.is_set() {
                    continue;
                }
                return Ok(false);
            };
            let data = self.slave.data(&b);
            if let Some(f) = &self.filter
                && !f.matches(data, data.len() as u32)
            {
                self.slave.release(b);
                continue;
            }
            let ts_ns = self.slave.timestamp_ns(&b);
            let len = b.len() as u32;
            self.hdr = PacketHeader {
                ts: Timestamp::from_nanos(ts_ns),
                caplen: len.min(caplen),
                len,
                extended_hdr: ExtendedHeader {
                    timestamp_ns: ts_ns,
                    rx_direction: true,
                    pkt_hash: self.slave.hash(&b),
                    ..ExtendedHeader::default()
                },
            };
            self.current = Some(b);
            return Ok(true);
        }
    }

    /// The current packet's captured bytes.
    pub(crate) fn data(&self) -> &[u8] {
        match &self.current {
            Some(b) => {
                let d = self.slave.data(b);
                &d[..(self.hdr.caplen as usize).min(d.len())]
            }
            None => &[],
        }
    }

    /// Waits up to `timeout` (in slices, watching `breaker`) until a packet is queued.
    pub(crate) fn wait(&mut self, timeout: Duration, breaker: &Breaker) -> Result<bool> {
        let end = std::time::Instant::now() + timeout;
        loop {
            let left = end.saturating_duration_since(std::time::Instant::now());
            if self.slave.poll(left.min(WAIT_SLICE))? {
                return Ok(true);
            }
            if left.is_zero() || breaker.is_set() {
                return Ok(false);
            }
        }
    }

    /// Copies `frame` into a pool buffer and hands it to the master's egress.
    pub(crate) fn send(&mut self, frame: &[u8]) -> Result<()> {
        self.slave.send_copy(frame).map_err(|e| match e {
            pfring_zc::Error::NoBuffers => Error::NoTxSlotAvailable,
            pfring_zc::Error::TooLong { len, max } => Error::FrameTooLarge { len, max },
            other => Error::Zc(other),
        })
    }

    /// Timestamp of the next queued packet.
    pub(crate) fn peek(&mut self) -> Option<Timestamp> {
        self.slave.peek_timestamp_ns().map(Timestamp::from_nanos)
    }
}

impl Drop for ZcBackend {
    fn drop(&mut self) {
        self.release_current();
    }
}
