//! `pcap_dumper_t`: savefiles written with pfring's [`Writer`].

use std::io::Write;

use pfring::pcap::{Format, TsResolution, Writer, WriterOptions};

/// Bytes of a classic pcap file header and of a record header.
const FILE_HEADER: u64 = 24;
const RECORD_HEADER: u64 = 16;

/// An open savefile (what `pcap_dump_open` returns).
pub struct Dumper {
    w: Writer<Box<dyn Write>>,
    /// Header timestamps are in ns (the pcap_t's precision), else µs.
    nano: bool,
    snaplen: u32,
    /// Bytes written so far, buffered or not (what `ftell` on libpcap's FILE gives).
    pos: u64,
}

impl std::fmt::Debug for Dumper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dumper")
            .field("nano", &self.nano)
            .field("pos", &self.pos)
            .finish_non_exhaustive()
    }
}

impl Dumper {
    /// Writes the file header to `out`: link type `linktype`, `snaplen`, µs or ns stamps.
    ///
    /// # Errors
    /// The header could not be written.
    pub fn new(
        out: Box<dyn Write>,
        linktype: u16,
        snaplen: u32,
        nano: bool,
    ) -> Result<Dumper, pfring::pcap::PcapError> {
        let format = Format::Pcap(if nano {
            TsResolution::Nano
        } else {
            TsResolution::Micro
        });
        let w = Writer::with_options(
            out,
            WriterOptions {
                format,
                linktype,
                snaplen,
            },
        )?;
        Ok(Dumper {
            w,
            nano,
            snaplen,
            pos: FILE_HEADER,
        })
    }

    /// Appends one record; `frac` is µs or ns as the handle's precision says.
    ///
    /// # Errors
    /// Write errors.
    pub fn write(
        &mut self,
        sec: i64,
        frac: i64,
        data: &[u8],
        len: u32,
    ) -> Result<(), pfring::pcap::PcapError> {
        let sec = u64::try_from(sec).unwrap_or(0);
        let frac = u64::try_from(frac).unwrap_or(0);
        let ns = sec
            .saturating_mul(1_000_000_000)
            .saturating_add(if self.nano { frac } else { frac * 1000 });
        self.w.write(ns, data, len)?;
        let kept = data.len().min(self.snaplen as usize) as u64;
        self.pos += RECORD_HEADER + kept;
        Ok(())
    }

    /// Pushes buffered records to the file.
    ///
    /// # Errors
    /// Write errors.
    pub fn flush(&mut self) -> Result<(), pfring::pcap::PcapError> {
        self.w.flush()
    }

    /// The file position: header plus records written.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Flushes and closes.
    ///
    /// # Errors
    /// Write errors.
    pub fn close(self) -> Result<(), pfring::pcap::PcapError> {
        self.w.into_inner().map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pfring::pcap::Reader;

    /// A `Write` into a shared buffer, so the test can read what the dumper wrote.
    #[derive(Clone, Default)]
    struct Shared(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn records_round_trip_with_positions() {
        for nano in [false, true] {
            let out = Shared::default();
            let mut d = Dumper::new(Box::new(out.clone()), 1, 262_144, nano).unwrap();
            assert_eq!(d.position(), 24);
            d.write(7, if nano { 123_456_789 } else { 123_456 }, &[1, 2, 3], 60)
                .unwrap();
            d.write(8, 1, &[4; 10], 10).unwrap();
            assert_eq!(d.position(), 24 + 16 + 3 + 16 + 10);
            d.close().unwrap();
            let bytes = out.0.borrow().clone();
            assert_eq!(bytes.len(), 24 + 16 + 3 + 16 + 10);
            let mut r = Reader::new(&bytes[..]).unwrap();
            let a = r.next().unwrap().unwrap();
            assert_eq!(a.data, &[1, 2, 3]);
            assert_eq!(a.len, 60);
            assert_eq!(
                a.ts_ns,
                7_000_000_000 + if nano { 123_456_789 } else { 123_456_000 }
            );
            let b = r.next().unwrap().unwrap();
            assert_eq!(b.ts_ns, 8_000_000_000 + if nano { 1 } else { 1000 });
            assert!(r.next().unwrap().is_none());
        }
    }
}
