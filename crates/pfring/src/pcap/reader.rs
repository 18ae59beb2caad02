//! The streaming reader (see the module docs of [`crate::pcap`]).

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use super::{
    DEFAULT_MAX_RECORD_LEN, Format, Interface, MAX_BLOCK_LEN, PcapError, Record, TsResolution,
    effective_snaplen,
};

/// First size of the read buffer (small inputs stay cheap).
const START_BUF: usize = 4 * 1024;
/// The buffer doubles up to this size as the input keeps filling it (fewer `read` calls), and
/// beyond only when one record or block needs more.
const INITIAL_BUF: usize = 64 * 1024;
/// The largest value [`Reader::set_max_record_len`] accepts (libpcap's largest per-link-type
/// maximum, for D-Bus).
const MAX_RECORD_CAP: u32 = 128 * 1024 * 1024;

const MAGIC_USEC: u32 = 0xa1b2_c3d4;
const MAGIC_NSEC: u32 = 0xa1b2_3c4d;
/// Alexey Kuznetzov's patched libpcap: 24-byte record headers (ifindex, protocol, pkt_type).
const MAGIC_KUZNETZOV: u32 = 0xa1b2_cd34;

const BT_SHB: u32 = 0x0A0D_0D0A;
const BT_IDB: u32 = 1;
const BT_PB: u32 = 2;
const BT_SPB: u32 = 3;
const BT_EPB: u32 = 6;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;

const OPT_ENDOFOPT: u16 = 0;
const OPT_IF_TSRESOL: u16 = 9;
const OPT_IF_FCSLEN: u16 = 13;
const OPT_IF_TSOFFSET: u16 = 14;

const NS_PER_SEC: u64 = 1_000_000_000;

/// libpcap's handling of caplen/len in files older than version 2.4.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lengths {
    /// 2.4 and later: as written.
    AsWritten,
    /// 2.3: swapped when caplen > len.
    MaybeSwapped,
    /// Before 2.3 (and 543.0): always swapped.
    Swapped,
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Pcap {
        hdr_len: usize,
        nanos: bool,
        lengths: Lengths,
    },
    PcapNg,
}

/// Where a record's bytes are in the buffer, and its header fields.
#[derive(Clone, Copy, Debug)]
struct Meta {
    start: usize,
    caplen: u32,
    len: u32,
    ts_ns: u64,
    interface: u32,
    linktype: u16,
}

/// Streaming reader of classic pcap and pcapng files.
///
/// Reads from any [`Read`] through its own buffer (so wrapping a `File` in a `BufReader`
/// is unnecessary) and hands out records borrowed from that buffer.
///
/// ```no_run
/// let mut r = pfring::pcap::Reader::open("capture.pcapng")?;
/// let mut bytes = 0u64;
/// while let Some(rec) = r.next()? {
///     bytes += u64::from(rec.caplen);
/// }
/// # Ok::<(), pfring::pcap::PcapError>(())
/// ```
#[derive(Debug)]
pub struct Reader<R> {
    inner: R,
    /// Backing storage; `buf[pos..end]` holds unread input.
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    /// Input offset of `buf[pos]`.
    offset: u64,
    /// `inner` returned end of file.
    eof: bool,
    /// End of file or an error was reported: `next` returns `Ok(None)` from now on.
    done: bool,
    big_endian: bool,
    kind: Kind,
    format: Format,
    /// The interfaces of the current section (one for classic pcap).
    ifaces: Vec<Interface>,
    max_record: u32,
}

/// Reads a `u16` at `at` (0 if out of bounds: callers check lengths first).
#[inline]
fn u16_at(b: &[u8], at: usize, be: bool) -> u16 {
    match b.get(at..at.wrapping_add(2)) {
        Some(&[x, y]) if be => u16::from_be_bytes([x, y]),
        Some(&[x, y]) => u16::from_le_bytes([x, y]),
        _ => 0,
    }
}

/// Reads a `u32` at `at` (0 if out of bounds: callers check lengths first).
#[inline]
fn u32_at(b: &[u8], at: usize, be: bool) -> u32 {
    match b.get(at..at.wrapping_add(4)) {
        Some(&[w, x, y, z]) if be => u32::from_be_bytes([w, x, y, z]),
        Some(&[w, x, y, z]) => u32::from_le_bytes([w, x, y, z]),
        _ => 0,
    }
}

/// Reads a `u64` at `at` (0 if out of bounds: callers check lengths first).
#[inline]
fn u64_at(b: &[u8], at: usize, be: bool) -> u64 {
    let mut a = [0u8; 8];
    if let Some(s) = b.get(at..at.wrapping_add(8)) {
        a.copy_from_slice(s);
    }
    if be {
        u64::from_be_bytes(a)
    } else {
        u64::from_le_bytes(a)
    }
}

/// A pcapng timestamp in the interface's units, as nanoseconds since the epoch (saturating).
#[inline]
fn ng_ts_ns(t: u64, ifc: &Interface) -> u64 {
    if ifc.ts_offset_sec == 0 {
        match ifc.ts_units_per_sec {
            1_000_000 => return t.saturating_mul(1000),
            NS_PER_SEC => return t,
            _ => {}
        }
    }
    let units = u128::from(ifc.ts_units_per_sec.max(1));
    let t = u128::from(t);
    let ns = (t / units) * u128::from(NS_PER_SEC) + (t % units) * u128::from(NS_PER_SEC) / units;
    // ns < 2^64 * 10^9 < 2^94: fits in i128.
    let total = ns as i128 + i128::from(ifc.ts_offset_sec) * i128::from(NS_PER_SEC);
    total.clamp(0, i128::from(u64::MAX)) as u64
}

fn bad(offset: u64, block_type: u32, reason: &'static str) -> PcapError {
    PcapError::BadBlock {
        offset,
        block_type,
        reason,
    }
}

impl Reader<File> {
    /// Opens a capture file and reads its header.
    ///
    /// # Errors
    /// [`PcapError::Io`] when the file cannot be opened; otherwise as [`Reader::new`].
    pub fn open(path: impl AsRef<Path>) -> Result<Self, PcapError> {
        Reader::new(File::open(path)?)
    }
}

impl<R: Read> Reader<R> {
    /// Reads the file header from `inner` and detects the format.
    ///
    /// For pcapng this also reads up to the first Interface Description Block, so that
    /// [`Reader::linktype`] is known before the first record.
    ///
    /// # Errors
    /// [`PcapError::BadMagic`], [`PcapError::UnsupportedVersion`], [`PcapError::Truncated`]
    /// (input shorter than the header), a bad first pcapng block, or [`PcapError::Io`].
    pub fn new(inner: R) -> Result<Self, PcapError> {
        let mut r = Reader {
            inner,
            buf: Vec::new(),
            pos: 0,
            end: 0,
            offset: 0,
            eof: false,
            done: false,
            big_endian: false,
            kind: Kind::PcapNg,
            format: Format::PcapNg,
            ifaces: Vec::new(),
            max_record: DEFAULT_MAX_RECORD_LEN,
        };
        r.start()?;
        Ok(r)
    }

    /// The next record, `Ok(None)` at the end of the input.
    ///
    /// The record borrows the reader's buffer; it is valid until the next call.
    ///
    /// # Errors
    /// [`PcapError::Truncated`] when the input ends inside a record, and the other
    /// [`PcapError`] variants for malformed input. An error is returned once: the reader is
    /// finished afterwards and returns `Ok(None)`.
    #[allow(clippy::should_implement_trait)] // a lending iterator: records borrow the buffer
    pub fn next(&mut self) -> Result<Option<Record<'_>>, PcapError> {
        if self.done {
            return Ok(None);
        }
        let step = match self.kind {
            Kind::Pcap {
                hdr_len,
                nanos,
                lengths,
            } => self.next_pcap(hdr_len, nanos, lengths),
            Kind::PcapNg => self.next_ng(),
        };
        let m = match step {
            Ok(Some(m)) => m,
            Ok(None) => {
                self.done = true;
                return Ok(None);
            }
            Err(e) => {
                self.done = true;
                return Err(e);
            }
        };
        let data = self
            .buf
            .get(m.start..m.start + m.caplen as usize)
            .unwrap_or(&[]);
        Ok(Some(Record {
            ts_ns: m.ts_ns,
            caplen: data.len() as u32,
            len: m.len,
            interface: m.interface,
            linktype: m.linktype,
            data,
        }))
    }

    /// The detected format (for pcapng, whatever the sections' byte orders).
    pub fn format(&self) -> Format {
        self.format
    }

    /// Whether the file (for pcapng: the current section) is big-endian.
    pub fn big_endian(&self) -> bool {
        self.big_endian
    }

    /// The interfaces of the current section (for classic pcap: exactly one).
    pub fn interfaces(&self) -> &[Interface] {
        &self.ifaces
    }

    /// Link type of the first interface of the current section (`None` for a pcapng section
    /// that has not described any interface yet).
    pub fn linktype(&self) -> Option<u16> {
        self.ifaces.first().map(|i| i.linktype)
    }

    /// Snap length, as written, of the first interface of the current section.
    pub fn snaplen(&self) -> Option<u32> {
        self.ifaces.first().map(|i| i.snaplen)
    }

    /// The cap on a record's captured length (default [`DEFAULT_MAX_RECORD_LEN`]).
    pub fn max_record_len(&self) -> u32 {
        self.max_record
    }

    /// Changes the cap on a record's captured length (clamped to 1..=128 MiB, the largest
    /// libpcap allows for any link type). Records above it give [`PcapError::RecordTooLarge`].
    pub fn set_max_record_len(&mut self, max: u32) {
        self.max_record = max.clamp(1, MAX_RECORD_CAP);
    }

    /// Bytes of input consumed so far (the offset of the next record or block).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The underlying reader.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// Gives the underlying reader back; input that was buffered but not consumed is lost.
    pub fn into_inner(self) -> R {
        self.inner
    }

    // ---- buffer -------------------------------------------------------------------------

    /// Makes at least `n` unread bytes available, unless the input ends first. Returns how
    /// many are available.
    #[inline]
    fn fill(&mut self, n: usize) -> io::Result<usize> {
        let avail = self.end - self.pos;
        if avail >= n {
            return Ok(avail);
        }
        self.fill_slow(n)
    }

    #[cold]
    fn fill_slow(&mut self, n: usize) -> io::Result<usize> {
        loop {
            let avail = self.end - self.pos;
            if avail >= n || self.eof {
                return Ok(avail);
            }
            if self.end == self.buf.len() && self.buf.len() < INITIAL_BUF {
                // The input filled the buffer: a larger one saves read calls.
                let new_len = (self.buf.len() * 2).clamp(START_BUF, INITIAL_BUF);
                self.buf.resize(new_len, 0);
                continue;
            }
            if self.pos > 0 && self.buf.len() - self.pos < n {
                // Not enough room after `pos`: move the unread bytes to the front.
                self.buf.copy_within(self.pos..self.end, 0);
                self.end = avail;
                self.pos = 0;
                continue;
            }
            if self.end == self.buf.len() {
                // Full of unread data: grow, at most doubling, so the buffer never gets more
                // than about twice as large as the input that actually arrived.
                let new_len = (self.buf.len() * 2)
                    .max(INITIAL_BUF)
                    .min(n.max(INITIAL_BUF))
                    .max(self.buf.len() + 1);
                self.buf.resize(new_len, 0);
                continue;
            }
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(k) => self.end += k.min(self.buf.len() - self.end),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    #[inline]
    fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.pos);
        self.pos += n;
        self.offset += n as u64;
    }

    /// Consumes `n` bytes without keeping them; returns how many there were.
    fn skip(&mut self, n: u64) -> io::Result<u64> {
        let mut left = n;
        loop {
            let k = left.min((self.end - self.pos) as u64);
            self.consume(k as usize);
            left -= k;
            if left == 0 {
                return Ok(n);
            }
            if self.fill(1)? == 0 {
                return Ok(n - left);
            }
        }
    }

    fn truncated(&self, offset: u64, needed: usize, got: usize) -> PcapError {
        PcapError::Truncated {
            offset,
            needed: needed as u64,
            got: got as u64,
        }
    }

    /// `fill(n)`, or [`PcapError::Truncated`] for the piece starting at the current offset.
    fn require(&mut self, n: usize) -> Result<(), PcapError> {
        let got = self.fill(n)?;
        if got < n {
            return Err(self.truncated(self.offset, n, got));
        }
        Ok(())
    }

    #[inline]
    fn unread(&self) -> &[u8] {
        self.buf.get(self.pos..self.end).unwrap_or(&[])
    }

    // ---- headers ------------------------------------------------------------------------

    fn start(&mut self) -> Result<(), PcapError> {
        self.require(4)?;
        let magic_be = u32_at(self.unread(), 0, true);
        let magic_le = u32_at(self.unread(), 0, false);
        if magic_be == BT_SHB {
            self.format = Format::PcapNg;
            self.kind = Kind::PcapNg;
            self.read_shb(true)?;
            return self.read_to_first_idb();
        }
        let (magic, be) = match (magic_le, magic_be) {
            (m @ (MAGIC_USEC | MAGIC_NSEC | MAGIC_KUZNETZOV), _) => (m, false),
            (_, m @ (MAGIC_USEC | MAGIC_NSEC | MAGIC_KUZNETZOV)) => (m, true),
            _ => return Err(PcapError::BadMagic { magic: magic_be }),
        };
        self.big_endian = be;
        self.require(24)?;
        let h = self.unread();
        let major = u16_at(h, 4, be);
        let minor = u16_at(h, 6, be);
        let snaplen = u32_at(h, 16, be);
        let lt_field = u32_at(h, 20, be);
        // libpcap: 2.0 .. 2.4, and 543.0 (DG/UX tcpdump).
        let lengths = match (major, minor) {
            (2, 0..=2) | (543, 0) => Lengths::Swapped,
            (2, 3) => Lengths::MaybeSwapped,
            (2, 4) => Lengths::AsWritten,
            _ => {
                return Err(PcapError::UnsupportedVersion {
                    format: "pcap",
                    major,
                    minor,
                });
            }
        };
        let nanos = magic == MAGIC_NSEC;
        // Link-type field: low 16 bits the link type; bit 26 "FCS length present", bits
        // 28..31 the FCS length in 16-bit words (libpcap's LT_* macros).
        let linktype = (lt_field & 0xFFFF) as u16;
        let fcs_len = (lt_field & 0x0400_0000 != 0).then(|| ((lt_field >> 28) as u8) * 2);
        self.ifaces.push(Interface {
            linktype,
            snaplen,
            effective_snaplen: effective_snaplen(linktype, snaplen),
            fcs_len,
            ts_units_per_sec: if nanos { NS_PER_SEC } else { 1_000_000 },
            ts_offset_sec: 0,
        });
        self.format = Format::Pcap(if nanos {
            TsResolution::Nano
        } else {
            TsResolution::Micro
        });
        self.kind = Kind::Pcap {
            hdr_len: if magic == MAGIC_KUZNETZOV { 24 } else { 16 },
            nanos,
            lengths,
        };
        self.consume(24);
        Ok(())
    }

    // ---- classic pcap -------------------------------------------------------------------

    #[inline]
    fn next_pcap(
        &mut self,
        hdr_len: usize,
        nanos: bool,
        lengths: Lengths,
    ) -> Result<Option<Meta>, PcapError> {
        let off = self.offset;
        let got = self.fill(hdr_len)?;
        if got == 0 {
            return Ok(None);
        }
        if got < hdr_len {
            return Err(self.truncated(off, hdr_len, got));
        }
        let be = self.big_endian;
        let h = self.unread();
        let sec = u32_at(h, 0, be);
        let frac = u32_at(h, 4, be);
        let mut caplen = u32_at(h, 8, be);
        let mut len = u32_at(h, 12, be);
        let swap = match lengths {
            Lengths::AsWritten => false,
            Lengths::MaybeSwapped => caplen > len,
            Lengths::Swapped => true,
        };
        if swap {
            std::mem::swap(&mut caplen, &mut len);
        }
        if caplen > self.max_record {
            return Err(PcapError::RecordTooLarge {
                offset: off,
                caplen,
                max: self.max_record,
            });
        }
        let need = hdr_len + caplen as usize;
        let got = self.fill(need)?;
        if got < need {
            return Err(self.truncated(off, need, got));
        }
        let (linktype, snap) = self
            .ifaces
            .first()
            .map_or((0, u32::MAX), |i| (i.linktype, i.effective_snaplen));
        let frac_ns = if nanos {
            u64::from(frac)
        } else {
            u64::from(frac) * 1000
        };
        let m = Meta {
            start: self.pos + hdr_len,
            caplen: caplen.min(snap),
            len,
            ts_ns: u64::from(sec) * NS_PER_SEC + frac_ns,
            interface: 0,
            linktype,
        };
        self.consume(need);
        Ok(Some(m))
    }

    // ---- pcapng -------------------------------------------------------------------------

    /// Checks a block's total length against the minimum for its type and the maximum.
    fn check_block_len(&self, btype: u32, blen: u32, min: u32) -> Result<(), PcapError> {
        let off = self.offset;
        if blen < min {
            return Err(bad(
                off,
                btype,
                "block length below the minimum for its type",
            ));
        }
        if !blen.is_multiple_of(4) {
            return Err(bad(off, btype, "block length not a multiple of 4"));
        }
        if blen > MAX_BLOCK_LEN {
            return Err(PcapError::BlockTooLarge {
                offset: off,
                len: blen,
                max: MAX_BLOCK_LEN,
            });
        }
        Ok(())
    }

    /// Checks the trailing copy of the block length of the (buffered) block at `pos`.
    fn check_trailer(&self, btype: u32, blen: u32) -> Result<(), PcapError> {
        let trailer = u32_at(self.unread(), blen as usize - 4, self.big_endian);
        if trailer != blen {
            return Err(bad(
                self.offset,
                btype,
                "trailing block length differs from the leading one",
            ));
        }
        Ok(())
    }

    /// Reads a Section Header Block at the current offset: byte order, version; resets the
    /// interfaces.
    fn read_shb(&mut self, first: bool) -> Result<(), PcapError> {
        let off = self.offset;
        self.require(12)?;
        let h = self.unread();
        let be = match (u32_at(h, 8, false), u32_at(h, 8, true)) {
            (BYTE_ORDER_MAGIC, _) => false,
            (_, BYTE_ORDER_MAGIC) => true,
            (_, m) if first => return Err(PcapError::BadMagic { magic: m }),
            _ => return Err(bad(off, BT_SHB, "bad byte-order magic")),
        };
        let blen = u32_at(h, 4, be);
        self.big_endian = be;
        self.check_block_len(BT_SHB, blen, 28)?;
        self.require(blen as usize)?;
        self.check_trailer(BT_SHB, blen)?;
        let h = self.unread();
        let major = u16_at(h, 12, be);
        let minor = u16_at(h, 14, be);
        if major != 1 {
            return Err(PcapError::UnsupportedVersion {
                format: "pcapng",
                major,
                minor,
            });
        }
        self.ifaces.clear();
        self.consume(blen as usize);
        Ok(())
    }

    /// Skips blocks up to and including the first IDB (stopping before packet blocks, a new
    /// section or the end).
    fn read_to_first_idb(&mut self) -> Result<(), PcapError> {
        loop {
            if self.fill(8)? < 8 {
                return Ok(());
            }
            let h = self.unread();
            let btype = u32_at(h, 0, self.big_endian);
            let blen = u32_at(h, 4, self.big_endian);
            match btype {
                BT_IDB => return self.read_idb(blen),
                BT_SHB | BT_EPB | BT_SPB | BT_PB => return Ok(()),
                _ => self.skip_block(btype, blen)?,
            }
        }
    }

    fn next_ng(&mut self) -> Result<Option<Meta>, PcapError> {
        loop {
            let off = self.offset;
            let got = self.fill(8)?;
            if got == 0 {
                return Ok(None);
            }
            if got < 8 {
                return Err(self.truncated(off, 8, got));
            }
            let h = self.unread();
            let btype = u32_at(h, 0, self.big_endian);
            let blen = u32_at(h, 4, self.big_endian);
            match btype {
                BT_EPB | BT_PB | BT_SPB => return self.packet_block(btype, blen).map(Some),
                BT_IDB => self.read_idb(blen)?,
                BT_SHB => self.read_shb(false)?,
                _ => self.skip_block(btype, blen)?,
            }
        }
    }

    /// Skips a block we do not interpret, streaming (never buffering more than the read
    /// buffer holds), and checks its trailer.
    fn skip_block(&mut self, btype: u32, blen: u32) -> Result<(), PcapError> {
        let off = self.offset;
        self.check_block_len(btype, blen, 12)?;
        let body = u64::from(blen) - 4;
        let skipped = self.skip(body)?;
        let got = self.fill(4)?;
        if skipped < body || got < 4 {
            return Err(PcapError::Truncated {
                offset: off,
                needed: u64::from(blen),
                got: skipped + got.min(4) as u64,
            });
        }
        if u32_at(self.unread(), 0, self.big_endian) != blen {
            return Err(bad(
                off,
                btype,
                "trailing block length differs from the leading one",
            ));
        }
        self.consume(4);
        Ok(())
    }

    /// Reads an Interface Description Block and adds its interface to the section.
    fn read_idb(&mut self, blen: u32) -> Result<(), PcapError> {
        let off = self.offset;
        let be = self.big_endian;
        self.check_block_len(BT_IDB, blen, 20)?;
        self.require(blen as usize)?;
        self.check_trailer(BT_IDB, blen)?;
        let b = self.unread();
        let linktype = u16_at(b, 8, be);
        let snaplen = u32_at(b, 12, be);
        let mut units = 1_000_000u64;
        let mut ts_offset = 0i64;
        let mut fcs_len = None;
        let (mut seen_resol, mut seen_offset) = (false, false);
        let end = blen as usize - 4;
        let mut i = 16;
        while i < end {
            if end - i < 4 {
                return Err(bad(off, BT_IDB, "option header runs past the block"));
            }
            let code = u16_at(b, i, be);
            let olen = usize::from(u16_at(b, i + 2, be));
            i += 4;
            if code == OPT_ENDOFOPT {
                break;
            }
            let padded = (olen + 3) & !3;
            if padded > end - i {
                return Err(bad(off, BT_IDB, "option value runs past the block"));
            }
            let v = b.get(i).copied().unwrap_or(0);
            match code {
                OPT_IF_TSRESOL => {
                    if olen != 1 {
                        return Err(bad(off, BT_IDB, "if_tsresol option length is not 1"));
                    }
                    if seen_resol {
                        return Err(bad(off, BT_IDB, "more than one if_tsresol option"));
                    }
                    seen_resol = true;
                    units = if v & 0x80 != 0 {
                        let exp = u32::from(v & 0x7F);
                        if exp > 63 {
                            return Err(bad(off, BT_IDB, "if_tsresol finer than 2^-63 s"));
                        }
                        1u64 << exp
                    } else {
                        if v > 19 {
                            return Err(bad(off, BT_IDB, "if_tsresol finer than 10^-19 s"));
                        }
                        10u64.pow(u32::from(v))
                    };
                }
                OPT_IF_TSOFFSET => {
                    if olen != 8 {
                        return Err(bad(off, BT_IDB, "if_tsoffset option length is not 8"));
                    }
                    if seen_offset {
                        return Err(bad(off, BT_IDB, "more than one if_tsoffset option"));
                    }
                    seen_offset = true;
                    ts_offset = u64_at(b, i, be) as i64;
                }
                OPT_IF_FCSLEN if olen == 1 => fcs_len = Some(v),
                _ => {}
            }
            i += padded;
        }
        self.ifaces.push(Interface {
            linktype,
            snaplen,
            effective_snaplen: effective_snaplen(linktype, snaplen),
            fcs_len,
            ts_units_per_sec: units,
            ts_offset_sec: ts_offset,
        });
        self.consume(blen as usize);
        Ok(())
    }

    /// Reads an Enhanced, Simple or obsolete Packet Block.
    #[inline]
    fn packet_block(&mut self, btype: u32, blen: u32) -> Result<Meta, PcapError> {
        let off = self.offset;
        let be = self.big_endian;
        // Bytes before the packet data, and the minimum block length.
        let fixed: u32 = if btype == BT_SPB { 12 } else { 28 };
        self.check_block_len(btype, blen, fixed + 4)?;
        self.require(fixed as usize)?;
        let h = self.unread();
        let (id, ts, caplen_field, len) = match btype {
            BT_SPB => (0, 0, 0, u32_at(h, 8, be)),
            BT_PB => (
                u32::from(u16_at(h, 8, be)),
                (u64::from(u32_at(h, 12, be)) << 32) | u64::from(u32_at(h, 16, be)),
                u32_at(h, 20, be),
                u32_at(h, 24, be),
            ),
            _ => (
                u32_at(h, 8, be),
                (u64::from(u32_at(h, 12, be)) << 32) | u64::from(u32_at(h, 16, be)),
                u32_at(h, 20, be),
                u32_at(h, 24, be),
            ),
        };
        let Some(ifc) = self.ifaces.get(id as usize).copied() else {
            return Err(PcapError::UnknownInterface {
                offset: off,
                id,
                known: self.ifaces.len(),
            });
        };
        // SPB: no caplen field; libpcap takes min(len, snaplen of interface 0).
        let caplen = if btype == BT_SPB {
            len.min(ifc.effective_snaplen)
        } else {
            caplen_field
        };
        if caplen > self.max_record {
            return Err(PcapError::RecordTooLarge {
                offset: off,
                caplen,
                max: self.max_record,
            });
        }
        if caplen > blen - fixed - 4 {
            return Err(bad(off, btype, "captured length exceeds the block"));
        }
        self.require(blen as usize)?;
        self.check_trailer(btype, blen)?;
        let m = Meta {
            start: self.pos + fixed as usize,
            caplen: caplen.min(ifc.effective_snaplen),
            len,
            ts_ns: if btype == BT_SPB {
                0
            } else {
                ng_ts_ns(ts, &ifc)
            },
            interface: id,
            linktype: ifc.linktype,
        };
        self.consume(blen as usize);
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iface(units: u64, offset: i64) -> Interface {
        Interface {
            linktype: 1,
            snaplen: 0,
            effective_snaplen: DEFAULT_MAX_RECORD_LEN,
            fcs_len: None,
            ts_units_per_sec: units,
            ts_offset_sec: offset,
        }
    }

    #[test]
    fn timestamp_conversion() {
        assert_eq!(ng_ts_ns(1_500_000, &iface(1_000_000, 0)), 1_500_000_000);
        assert_eq!(ng_ts_ns(7, &iface(NS_PER_SEC, 0)), 7);
        assert_eq!(ng_ts_ns(u64::MAX, &iface(1_000_000, 0)), u64::MAX);
        assert_eq!(ng_ts_ns(3, &iface(1, 0)), 3 * NS_PER_SEC);
        assert_eq!(ng_ts_ns(1, &iface(1 << 10, 0)), 976_562); // 2^-10 s, truncated
        assert_eq!(ng_ts_ns(10, &iface(1000, -1)), 0); // before the epoch: 0
        assert_eq!(ng_ts_ns(2000, &iface(1000, -1)), NS_PER_SEC);
        assert_eq!(ng_ts_ns(5, &iface(1_000_000, 1)), NS_PER_SEC + 5000);
        assert_eq!(ng_ts_ns(0, &iface(1, i64::MAX)), u64::MAX);
        assert_eq!(ng_ts_ns(u64::MAX, &iface(1 << 63, 0)), 1_999_999_999);
    }

    #[test]
    fn field_reads_out_of_bounds_are_zero() {
        let b = [1u8, 2, 3];
        assert_eq!(u16_at(&b, 1, false), 0x0302);
        assert_eq!(u16_at(&b, 2, false), 0);
        assert_eq!(u32_at(&b, 0, true), 0);
        assert_eq!(u32_at(&b, usize::MAX, true), 0);
        assert_eq!(u64_at(&b, 0, true), 0);
    }

    /// A block claiming 16 MiB with a few bytes behind it: the buffer stays small.
    #[test]
    fn buffer_grows_only_with_the_data() {
        let mut f = Vec::new();
        for v in [
            BT_SHB,
            28,
            BYTE_ORDER_MAGIC,
            1,
            0xFFFF_FFFF,
            0xFFFF_FFFF,
            28,
        ] {
            f.extend_from_slice(&v.to_le_bytes());
        }
        f[12..16].copy_from_slice(&[1, 0, 0, 0]); // version 1.0
        for v in [BT_IDB, MAX_BLOCK_LEN, 1, 0] {
            f.extend_from_slice(&v.to_le_bytes());
        }
        f.resize(f.len() + 100_000, 0);
        let err = Reader::new(&f[..]).unwrap_err();
        assert!(
            matches!(err, PcapError::Truncated { offset: 28, .. }),
            "{err}"
        );

        let mut r = Reader::new(&f[..28]).unwrap();
        r.inner = &f[28..];
        r.eof = false;
        assert!(r.next().is_err());
        assert!(r.buf.len() <= 2 * f.len() + INITIAL_BUF, "{}", r.buf.len());
    }
}
