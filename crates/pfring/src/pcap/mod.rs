//! Capture files: a streaming reader and a buffered writer for classic pcap and pcapng.
//!
//! This module is the file layer under the `pcap:` device prefix and the `pwrite` tool. It has
//! no dependency on libpcap and never trusts the bytes it reads.
//!
//! - [`Reader`] detects the format from the first four bytes and streams records out of any
//!   [`std::io::Read`] through one reusable buffer: [`Reader::next`] hands out a borrowed
//!   [`Record`] and allocates nothing per packet.
//! - [`Writer`] writes classic pcap (µs or ns) or pcapng (one interface, ns timestamps)
//!   through a [`std::io::BufWriter`], again without a per-packet allocation.
//!
//! # Formats read
//!
//! | format | what is understood |
//! |---|---|
//! | classic pcap | magic `a1b2c3d4` (µs) and `a1b23c4d` (ns) in both byte orders, and the `a1b2cd34` variant with 24-byte record headers; versions 2.0–2.4 (and 543.0), with libpcap's swapped caplen/len fix-up for versions before 2.4; the link-type field's FCS bits ([`Interface::fcs_len`]) |
//! | pcapng | any number of sections (each with its own byte order), Interface Description Blocks with `if_tsresol` (power of 10 or of 2), `if_tsoffset` and `if_fcslen`, Enhanced, Simple and (obsolete) Packet Blocks; every other block type (NRB, ISB, DSB, custom, ...) is skipped without being buffered |
//!
//! # Limits and malformed input
//!
//! - A record whose captured length exceeds [`Reader::max_record_len`] (default
//!   [`DEFAULT_MAX_RECORD_LEN`] = 256 KiB, libpcap's own maximum for almost all link types) is
//!   rejected with [`PcapError::RecordTooLarge`] before anything is allocated for it. A pcapng
//!   block longer than [`MAX_BLOCK_LEN`] (16 MiB, libpcap's limit too) is
//!   [`PcapError::BlockTooLarge`]. The read buffer only grows as bytes actually arrive, so a
//!   lying length field cannot make the reader allocate more than about twice the size of the
//!   input.
//! - A file that ends inside a header, a record or a block gives [`PcapError::Truncated`] with
//!   the byte offset where the incomplete piece starts. After any error the reader is finished:
//!   later calls of [`Reader::next`] return `Ok(None)`, so a caller can count the error and
//!   stop.
//!
//! # How odd records are handled (as libpcap does)
//!
//! - **caplen > snaplen**: libpcap first replaces a snaplen of 0 or one above the link type's
//!   maximum by that maximum (262144 for most link types). A record whose caplen is still above
//!   that snaplen, but within the maximum, is *cut* to the snaplen: [`Record::caplen`] and the
//!   length of [`Record::data`] become the snaplen, and the rest of the record is skipped.
//!   A caplen above the maximum is an error ([`PcapError::RecordTooLarge`]).
//! - **caplen > len** (original length): passed through untouched, as libpcap does; the
//!   record says so and the caller decides.
//! - **pcapng Simple Packet Blocks** take interface 0 and have no timestamp (0); their
//!   caplen is `min(len, snaplen of interface 0)`, and a block too short to hold that many
//!   bytes is an error (libpcap's rule).
//! - **Timestamps** are nanoseconds since the epoch in a `u64` (good until the year 2554).
//!   Classic pcap stores seconds and a fraction; a fraction out of range (e.g. 1 000 000 000
//!   ns, `timestamp_invalid_nano.pcap`) is taken literally and carries into the seconds. A
//!   pcapng timestamp is converted with the interface's resolution and offset in 128-bit
//!   arithmetic and *saturates* at `0` and `u64::MAX` instead of wrapping. A pcapng timestamp
//!   past 2106 (`time_2106_overflow.pcapng`, 2³² s) is therefore read correctly; tcpdump
//!   (libpcap 1.10) prints it as `0.000000000`.
//!
//! # Where this reader is more lenient than libpcap 1.10
//!
//! - Interfaces of one pcapng file may have different link types and snap lengths (libpcap
//!   refuses such files); each [`Record`] carries its interface's link type.
//! - Sections may change byte order, and any pcapng 1.x minor version is accepted.
//!
//! # Example
//!
//! ```
//! use pfring::pcap::{Format, Reader, TsResolution, Writer};
//!
//! let mut w = Writer::new(Vec::new(), Format::Pcap(TsResolution::Nano))?;
//! w.write(1_700_000_000_123_456_789, &[0u8; 60], 60)?;
//! let bytes = w.into_inner()?;
//!
//! let mut r = Reader::new(&bytes[..])?;
//! while let Some(rec) = r.next()? {
//!     assert_eq!(rec.ts_ns, 1_700_000_000_123_456_789);
//!     assert_eq!(rec.data.len(), 60);
//! }
//! # Ok::<(), pfring::pcap::PcapError>(())
//! ```

mod reader;
mod writer;

pub use reader::Reader;
pub use writer::{Writer, WriterOptions};

use std::io;

use crate::packet::Timestamp;

/// Default cap on one record's captured length: 256 KiB, libpcap's `MAXIMUM_SNAPLEN`.
pub const DEFAULT_MAX_RECORD_LEN: u32 = 262_144;

/// Largest pcapng block the reader accepts (16 MiB, libpcap's limit).
pub const MAX_BLOCK_LEN: u32 = 16 * 1024 * 1024;

/// `LINKTYPE_ETHERNET`: IEEE 802.3 Ethernet (libpcap's `DLT_EN10MB`).
pub const LINKTYPE_ETHERNET: u16 = 1;

/// `LINKTYPE_RAW`: raw IPv4 or IPv6, no link-layer header.
pub const LINKTYPE_RAW: u16 = 101;

/// `LINKTYPE_LINUX_SLL`: Linux "cooked" capture, version 1.
pub const LINKTYPE_LINUX_SLL: u16 = 113;

/// Everything that can go wrong reading or writing a capture file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PcapError {
    /// The first four bytes are neither a classic pcap magic nor a pcapng Section Header Block.
    #[error("not a pcap or pcapng file (magic {magic:#010x})")]
    BadMagic {
        /// The first four bytes, read big-endian.
        magic: u32,
    },
    /// A file version this reader does not understand.
    #[error("unsupported {format} version {major}.{minor}")]
    UnsupportedVersion {
        /// `"pcap"` or `"pcapng"`.
        format: &'static str,
        /// Major version.
        major: u16,
        /// Minor version.
        minor: u16,
    },
    /// The input ended inside a header, record or block.
    #[error(
        "truncated file: the piece starting at byte {offset} needs {needed} bytes, only {got} left"
    )]
    Truncated {
        /// Byte offset (from the start of the input) of the incomplete header, record or block.
        offset: u64,
        /// Bytes that piece needs.
        needed: u64,
        /// Bytes that were left in the input.
        got: u64,
    },
    /// A record whose captured length is above the reader's cap.
    #[error(
        "record at byte {offset} has a captured length of {caplen} bytes, above the maximum of {max}"
    )]
    RecordTooLarge {
        /// Byte offset of the record (or of its block).
        offset: u64,
        /// The captured length in the file.
        caplen: u32,
        /// The cap ([`Reader::max_record_len`]).
        max: u32,
    },
    /// A pcapng block longer than [`MAX_BLOCK_LEN`].
    #[error("pcapng block at byte {offset} is {len} bytes long, above the maximum of {max}")]
    BlockTooLarge {
        /// Byte offset of the block.
        offset: u64,
        /// Its total length field.
        len: u32,
        /// [`MAX_BLOCK_LEN`].
        max: u32,
    },
    /// A malformed pcapng block (bad length, trailer mismatch, bad option, ...).
    #[error("bad pcapng block (type {block_type:#x}) at byte {offset}: {reason}")]
    BadBlock {
        /// Byte offset of the block.
        offset: u64,
        /// Its block type.
        block_type: u32,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A pcapng packet block names an interface that its section has not described.
    #[error(
        "packet block at byte {offset} refers to interface {id}, but the section has {known} interface(s)"
    )]
    UnknownInterface {
        /// Byte offset of the block.
        offset: u64,
        /// The interface id in the block.
        id: u32,
        /// How many Interface Description Blocks the section has so far.
        known: usize,
    },
    /// The writer was given a timestamp the chosen format cannot hold (classic pcap stores
    /// seconds in 32 bits: up to 2106-02-07).
    #[error("timestamp {ts_ns} ns does not fit in the file format")]
    TimestampOutOfRange {
        /// The timestamp, in nanoseconds since the epoch.
        ts_ns: u64,
    },
    /// The underlying reader or writer failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
}

/// Timestamp resolution of a classic pcap file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TsResolution {
    /// Microseconds (magic `a1b2c3d4`).
    Micro,
    /// Nanoseconds (magic `a1b23c4d`).
    Nano,
}

/// A capture file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// Classic pcap, with its timestamp resolution.
    Pcap(TsResolution),
    /// pcapng.
    PcapNg,
}

/// One capture interface: the whole file for classic pcap, one Interface Description Block
/// for pcapng.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interface {
    /// Link type (`LINKTYPE_*` value, e.g. [`LINKTYPE_ETHERNET`]).
    pub linktype: u16,
    /// Snap length as written in the file (0 means "no limit" in pcapng).
    pub snaplen: u32,
    /// The snap length records are cut to: `snaplen`, or libpcap's maximum for the link type
    /// when `snaplen` is 0 or above that maximum.
    pub effective_snaplen: u32,
    /// Bytes of frame check sequence at the end of each frame, when the file says
    /// (classic pcap link-type FCS bits, pcapng `if_fcslen`).
    pub fcs_len: Option<u8>,
    /// Timestamp units per second (`if_tsresol`: 10^n or 2^n; 10^6 or 10^9 for classic pcap).
    pub ts_units_per_sec: u64,
    /// Seconds added to every timestamp (`if_tsoffset`; 0 for classic pcap).
    pub ts_offset_sec: i64,
}

/// One packet record, borrowed from the [`Reader`]'s buffer until the next call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    /// Capture time in nanoseconds since the Unix epoch (see the module docs on overflow).
    pub ts_ns: u64,
    /// Captured length: always `data.len()`.
    pub caplen: u32,
    /// Original length of the packet on the wire (may be below `caplen` in a corrupt file).
    pub len: u32,
    /// Interface id within the current pcapng section (0 for classic pcap).
    pub interface: u32,
    /// Link type of that interface.
    pub linktype: u16,
    /// The captured bytes.
    pub data: &'a [u8],
}

impl Record<'_> {
    /// The capture time as a [`Timestamp`].
    pub fn timestamp(&self) -> Timestamp {
        Timestamp::from_nanos(self.ts_ns)
    }
}

/// libpcap's `max_snaplen_for_dlt`: the largest snaplen libpcap accepts for a link type.
pub(crate) fn max_snaplen_for_linktype(linktype: u16) -> u32 {
    match linktype {
        231 => 128 * 1024 * 1024, // D-Bus
        279 => 8 * 1024 * 1024,   // EBHSCR
        249 => 1024 * 1024,       // USBPcap
        _ => DEFAULT_MAX_RECORD_LEN,
    }
}

/// libpcap's `pcap_adjust_snapshot`: 0 or too large means the link type's maximum.
pub(crate) fn effective_snaplen(linktype: u16, snaplen: u32) -> u32 {
    let max = max_snaplen_for_linktype(linktype);
    if snaplen == 0 || snaplen > max {
        max
    } else {
        snaplen
    }
}
