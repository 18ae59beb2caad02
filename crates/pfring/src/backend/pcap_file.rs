//! The `pcap:` module: a capture file (pcap or pcapng) opened like a device.
//!
//! - Ethernet records are delivered with their timestamps (µs and ns files alike) and their
//!   wire length; the ring's caplen truncates them as on a live device.
//! - Records of other link types (possible in pcapng files with several interfaces) are skipped
//!   and counted ([`crate::Ring::stats`] reports them as `drop`); a classic pcap file of another
//!   link type is refused at open with [`crate::Error::NotSupported`].
//! - With [`crate::RingBuilder::replay_pace`] records are delivered at the pace they were
//!   recorded (breakloop still interrupts the wait).
//! - The end of the file ends receiving cleanly: `recv` returns `Ok(None)`,
//!   [`crate::Ring::end_of_file`] becomes true, and `run_loop` returns. A truncated or corrupt
//!   file gives its [`crate::pcap::PcapError`] once (through [`crate::Error::Pcap`]); after
//!   that the file counts as ended.

use std::fs::File;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::packet::{ExtendedHeader, PacketHeader, Timestamp};
use crate::pcap::{LINKTYPE_ETHERNET, Reader};
use crate::sys::signal::Breaker;

/// The file backend state.
#[derive(Debug)]
pub(crate) struct PcapBackend {
    reader: Reader<File>,
    /// The current packet's bytes (the reader's buffer is reused by the next read).
    pub(crate) buf: Vec<u8>,
    pub(crate) hdr: PacketHeader,
    eof: bool,
    pub(crate) skipped: u64,
    replay: bool,
    /// Wall clock and file time of the first record, for paced replay.
    origin: Option<(Instant, u64)>,
    /// A record read but not delivered (its paced wait was broken).
    pending: bool,
    /// A record read ahead by [`PcapBackend::peek`], not yet paced nor delivered.
    peeked: bool,
    /// A read error met while peeking, returned by the next fetch.
    deferred: Option<Error>,
    /// The application's BPF filter, run in user space on each record.
    pub(crate) filter: Option<crate::filter::Program>,
}

impl PcapBackend {
    pub(crate) fn open(path: &Path, replay: bool) -> Result<Self> {
        let reader = Reader::open(path).map_err(|e| match e {
            crate::pcap::PcapError::Io(io) if io.kind() == std::io::ErrorKind::NotFound => {
                Error::NoSuchDevice {
                    name: format!("pcap:{}", path.display()),
                }
            }
            other => Error::Pcap(other),
        })?;
        if let Some(lt) = reader.linktype()
            && reader.interfaces().len() == 1
            && lt != LINKTYPE_ETHERNET
        {
            return Err(Error::NotSupported {
                op: "capture files whose link type is not Ethernet (DLT_EN10MB)",
                backend: "pcap",
            });
        }
        Ok(PcapBackend {
            reader,
            buf: Vec::with_capacity(2048),
            hdr: PacketHeader::default(),
            eof: false,
            skipped: 0,
            replay,
            origin: None,
            pending: false,
            peeked: false,
            deferred: None,
            filter: None,
        })
    }

    pub(crate) fn end_of_file(&self) -> bool {
        self.eof && !self.peeked && !self.pending && self.deferred.is_none()
    }

    /// Reads the next Ethernet record into `buf`/`hdr`; `Ok(false)` at the end of the file
    /// or when a paced wait was broken.
    pub(crate) fn fetch(&mut self, caplen: u32, breaker: &Breaker) -> Result<bool> {
        if self.pending {
            self.pending = !self.pace(self.hdr.extended_hdr.timestamp_ns, breaker);
            return Ok(!self.pending);
        }
        if self.peeked {
            self.peeked = false;
        } else if !self.read_record(caplen)? {
            return Ok(false);
        }
        if self.replay && !self.pace(self.hdr.extended_hdr.timestamp_ns, breaker) {
            self.pending = true;
            return Ok(false);
        }
        Ok(true)
    }

    /// The timestamp of the record the next [`PcapBackend::fetch`] delivers, reading it ahead
    /// (it stays in `buf`/`hdr` until then). `None` at the end of the file; a read error is
    /// kept and returned by that fetch.
    pub(crate) fn peek(&mut self, caplen: u32) -> Option<Timestamp> {
        if !(self.pending || self.peeked) {
            match self.read_record(caplen) {
                Ok(true) => self.peeked = true,
                Ok(false) => return None,
                Err(e) => {
                    self.deferred = Some(e);
                    return None;
                }
            }
        }
        Some(self.hdr.ts)
    }

    /// Reads the next Ethernet record that passes the filter into `buf`/`hdr`.
    fn read_record(&mut self, caplen: u32) -> Result<bool> {
        if let Some(e) = self.deferred.take() {
            return Err(e);
        }
        if self.eof {
            return Ok(false);
        }
        // Bounded by the file: every pass consumes one record.
        loop {
            let rec = match self.reader.next() {
                Ok(Some(r)) => r,
                Ok(None) => {
                    self.eof = true;
                    return Ok(false);
                }
                Err(e) => {
                    self.eof = true;
                    return Err(Error::Pcap(e));
                }
            };
            if rec.linktype != LINKTYPE_ETHERNET {
                self.skipped += 1;
                continue;
            }
            if let Some(f) = &self.filter
                && !f.matches(rec.data, rec.len)
            {
                continue;
            }
            let n = rec.data.len().min(caplen as usize);
            self.buf.clear();
            self.buf.extend_from_slice(&rec.data[..n]);
            self.hdr = PacketHeader {
                ts: Timestamp::from_nanos(rec.ts_ns),
                caplen: n as u32,
                len: rec.len.max(n as u32),
                extended_hdr: ExtendedHeader {
                    timestamp_ns: rec.ts_ns,
                    rx_direction: true,
                    if_index: rec.interface as i32,
                    ..ExtendedHeader::default()
                },
            };
            return Ok(true);
        }
    }

    /// Sleeps until the record stamped `ts_ns` is due; false if broken meanwhile.
    fn pace(&mut self, ts_ns: u64, breaker: &Breaker) -> bool {
        let (start, first) = *self.origin.get_or_insert((Instant::now(), ts_ns));
        let due = start + Duration::from_nanos(ts_ns.saturating_sub(first));
        loop {
            if breaker.is_set() {
                return false;
            }
            let now = Instant::now();
            if now >= due {
                return true;
            }
            std::thread::sleep((due - now).min(Duration::from_millis(20)));
        }
    }

    pub(crate) fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.reader.get_ref().as_fd()
    }
}
