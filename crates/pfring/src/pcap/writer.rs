//! The buffered writer (see the module docs of [`crate::pcap`]).

use std::io::{BufWriter, Write};

use super::{Format, LINKTYPE_ETHERNET, PcapError, Record, TsResolution};

/// Size of the writer's buffer.
const BUF_SIZE: usize = 64 * 1024;
const NS_PER_SEC: u64 = 1_000_000_000;
const PAD: [u8; 4] = [0; 4];

/// How a [`Writer`] lays out its file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriterOptions {
    /// Classic pcap (µs or ns) or pcapng (one interface, `if_tsresol` = 9: ns).
    pub format: Format,
    /// Link type written in the header (default [`LINKTYPE_ETHERNET`]).
    pub linktype: u16,
    /// Snap length written in the header (default 65535); longer packets are cut to it.
    /// 0 means no limit.
    pub snaplen: u32,
}

impl Default for WriterOptions {
    /// Classic pcap with µs timestamps, Ethernet, snaplen 65535.
    fn default() -> Self {
        WriterOptions {
            format: Format::Pcap(TsResolution::Micro),
            linktype: LINKTYPE_ETHERNET,
            snaplen: 65535,
        }
    }
}

/// Buffered writer of classic pcap or pcapng files, in little-endian byte order.
///
/// The file header is written (into the buffer) by the constructor. Call [`Writer::flush`]
/// or [`Writer::into_inner`] to see write errors: dropping the writer flushes too, but
/// ignores errors.
#[doc(alias = "pcap_dump")]
#[derive(Debug)]
pub struct Writer<W: Write> {
    out: BufWriter<W>,
    opts: WriterOptions,
    packets: u64,
}

impl<W: Write> Writer<W> {
    /// A writer with the default link type (Ethernet) and snaplen (65535).
    ///
    /// # Errors
    /// [`PcapError::Io`] if writing the header fails.
    pub fn new(inner: W, format: Format) -> Result<Self, PcapError> {
        Writer::with_options(
            inner,
            WriterOptions {
                format,
                ..WriterOptions::default()
            },
        )
    }

    /// A writer with the given options; writes the file header.
    ///
    /// # Errors
    /// [`PcapError::Io`] if writing the header fails.
    pub fn with_options(inner: W, opts: WriterOptions) -> Result<Self, PcapError> {
        let mut out = BufWriter::with_capacity(BUF_SIZE, inner);
        match opts.format {
            Format::Pcap(res) => {
                let magic: u32 = match res {
                    TsResolution::Micro => 0xa1b2_c3d4,
                    TsResolution::Nano => 0xa1b2_3c4d,
                };
                let mut h = [0u8; 24];
                h[0..4].copy_from_slice(&magic.to_le_bytes());
                h[4..6].copy_from_slice(&2u16.to_le_bytes());
                h[6..8].copy_from_slice(&4u16.to_le_bytes());
                // thiszone = 0, sigfigs = 0
                h[16..20].copy_from_slice(&opts.snaplen.to_le_bytes());
                h[20..24].copy_from_slice(&u32::from(opts.linktype).to_le_bytes());
                out.write_all(&h)?;
            }
            Format::PcapNg => {
                // SHB: byte-order magic, version 1.0, section length unknown (-1), option
                // shb_userappl, end of options.
                let app = concat!("pfring-rs ", env!("CARGO_PKG_VERSION")).as_bytes();
                let app_padded = (app.len() + 3) & !3;
                let shb_len = (28 + 4 + app_padded + 4) as u32;
                let mut shb = Vec::with_capacity(shb_len as usize);
                shb.extend_from_slice(&0x0A0D_0D0Au32.to_le_bytes());
                shb.extend_from_slice(&shb_len.to_le_bytes());
                shb.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
                shb.extend_from_slice(&1u16.to_le_bytes());
                shb.extend_from_slice(&0u16.to_le_bytes());
                shb.extend_from_slice(&u64::MAX.to_le_bytes());
                shb.extend_from_slice(&4u16.to_le_bytes()); // shb_userappl
                shb.extend_from_slice(&(app.len() as u16).to_le_bytes());
                shb.extend_from_slice(app);
                shb.resize(shb.len() + app_padded - app.len(), 0);
                shb.extend_from_slice(&0u32.to_le_bytes()); // opt_endofopt
                shb.extend_from_slice(&shb_len.to_le_bytes());
                out.write_all(&shb)?;

                // IDB: link type, snaplen, if_tsresol = 9 (ns), end of options.
                let mut idb = [0u8; 32];
                idb[0..4].copy_from_slice(&1u32.to_le_bytes());
                idb[4..8].copy_from_slice(&32u32.to_le_bytes());
                idb[8..10].copy_from_slice(&opts.linktype.to_le_bytes());
                idb[12..16].copy_from_slice(&opts.snaplen.to_le_bytes());
                idb[16..18].copy_from_slice(&9u16.to_le_bytes());
                idb[18..20].copy_from_slice(&1u16.to_le_bytes());
                idb[20] = 9;
                // idb[24..28]: opt_endofopt
                idb[28..32].copy_from_slice(&32u32.to_le_bytes());
                out.write_all(&idb)?;
            }
        }
        Ok(Writer {
            out,
            opts,
            packets: 0,
        })
    }

    /// Appends one packet: `data` (cut to the snaplen) captured at `ts_ns` nanoseconds since
    /// the epoch, `orig_len` bytes long on the wire.
    ///
    /// `orig_len` is written as given, even when below the captured length (as some
    /// corrupt files have it), so that records read from a file round-trip exactly. µs files
    /// drop the sub-µs digits (truncating, as libpcap does).
    ///
    /// # Errors
    /// [`PcapError::TimestampOutOfRange`] for a classic pcap file and a time past
    /// 2106-02-07 (seconds above `u32::MAX`; nothing is written), or [`PcapError::Io`].
    #[doc(alias = "pcap_dump")]
    pub fn write(&mut self, ts_ns: u64, data: &[u8], orig_len: u32) -> Result<(), PcapError> {
        let limit = match self.opts.snaplen {
            0 => u32::MAX as usize,
            s => s as usize,
        };
        let data = &data[..data.len().min(limit)];
        let caplen = data.len() as u32;
        match self.opts.format {
            Format::Pcap(res) => {
                let Ok(sec) = u32::try_from(ts_ns / NS_PER_SEC) else {
                    return Err(PcapError::TimestampOutOfRange { ts_ns });
                };
                let sub = (ts_ns % NS_PER_SEC) as u32;
                let frac = match res {
                    TsResolution::Micro => sub / 1000,
                    TsResolution::Nano => sub,
                };
                let mut h = [0u8; 16];
                h[0..4].copy_from_slice(&sec.to_le_bytes());
                h[4..8].copy_from_slice(&frac.to_le_bytes());
                h[8..12].copy_from_slice(&caplen.to_le_bytes());
                h[12..16].copy_from_slice(&orig_len.to_le_bytes());
                self.out.write_all(&h)?;
                self.out.write_all(data)?;
            }
            Format::PcapNg => {
                let pad = (4 - data.len() % 4) % 4;
                let blen = 32 + data.len() + pad;
                let Ok(blen) = u32::try_from(blen) else {
                    // Only reachable with snaplen 0 and a packet over 4 GiB.
                    return Err(PcapError::Io(std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        "packet too large for a pcapng block",
                    )));
                };
                let mut h = [0u8; 28];
                h[0..4].copy_from_slice(&6u32.to_le_bytes());
                h[4..8].copy_from_slice(&blen.to_le_bytes());
                // interface 0
                h[12..16].copy_from_slice(&((ts_ns >> 32) as u32).to_le_bytes());
                h[16..20].copy_from_slice(&(ts_ns as u32).to_le_bytes());
                h[20..24].copy_from_slice(&caplen.to_le_bytes());
                h[24..28].copy_from_slice(&orig_len.to_le_bytes());
                self.out.write_all(&h)?;
                self.out.write_all(data)?;
                self.out.write_all(&PAD[..pad])?;
                self.out.write_all(&blen.to_le_bytes())?;
            }
        }
        self.packets += 1;
        Ok(())
    }

    /// Appends a record read by a [`super::Reader`] (its timestamp, data and original
    /// length; its interface and link type are not looked at).
    ///
    /// # Errors
    /// As [`Writer::write`].
    pub fn write_record(&mut self, rec: &Record<'_>) -> Result<(), PcapError> {
        self.write(rec.ts_ns, rec.data, rec.len)
    }

    /// Writes out everything buffered and flushes the underlying writer.
    ///
    /// # Errors
    /// [`PcapError::Io`].
    #[doc(alias = "pcap_dump_flush")]
    pub fn flush(&mut self) -> Result<(), PcapError> {
        self.out.flush()?;
        Ok(())
    }

    /// Flushes and gives the underlying writer back.
    ///
    /// # Errors
    /// [`PcapError::Io`] if the final flush fails.
    pub fn into_inner(self) -> Result<W, PcapError> {
        self.out
            .into_inner()
            .map_err(|e| PcapError::Io(e.into_error()))
    }

    /// Packets written so far.
    pub fn packets_written(&self) -> u64 {
        self.packets
    }

    /// The options the file was started with.
    pub fn options(&self) -> WriterOptions {
        self.opts
    }

    /// The underlying writer (bytes may still sit in the buffer).
    pub fn get_ref(&self) -> &W {
        self.out.get_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_header_and_record_bytes() {
        let mut w = Writer::new(Vec::new(), Format::Pcap(TsResolution::Micro)).unwrap();
        w.write(1_000_000_001_999, &[0xAB, 0xCD], 60).unwrap();
        let b = w.into_inner().unwrap();
        assert_eq!(&b[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
        assert_eq!(&b[4..8], &[2, 0, 4, 0]);
        assert_eq!(&b[16..24], &[0xff, 0xff, 0, 0, 1, 0, 0, 0]);
        // sec 1000, usec 1 (sub-µs digits dropped), caplen 2, len 60, data.
        assert_eq!(
            &b[24..],
            &[
                0xe8, 3, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 60, 0, 0, 0, 0xAB, 0xCD
            ]
        );
    }

    #[test]
    fn pcapng_blocks_are_aligned_and_closed() {
        let mut w = Writer::new(Vec::new(), Format::PcapNg).unwrap();
        w.write((5u64 << 32) | 7, &[1, 2, 3, 4, 5], 5).unwrap();
        let b = w.into_inner().unwrap();
        assert_eq!(b.len() % 4, 0);
        // Walk the blocks: each length is repeated at its end.
        let mut at = 0;
        let mut types = Vec::new();
        while at < b.len() {
            let t = u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
            let len = u32::from_le_bytes(b[at + 4..at + 8].try_into().unwrap()) as usize;
            assert_eq!(&b[at + 4..at + 8], &b[at + len - 4..at + len]);
            types.push(t);
            at += len;
        }
        assert_eq!(types, vec![0x0A0D_0D0A, 1, 6]);
        let epb = &b[b.len() - 40..];
        assert_eq!(&epb[12..20], &[5, 0, 0, 0, 7, 0, 0, 0]); // ts high, ts low
        assert_eq!(&epb[28..36], &[1, 2, 3, 4, 5, 0, 0, 0]); // data + padding
    }
}
