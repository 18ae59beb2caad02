//! Receiving on userspace rings (`usrN`, see [`crate::backend::shm`]): packets are read in
//! place from the shared slots; a slot goes back to the sender at the next receive call.

use super::rules_api::FrameInfo;
use super::{Backend, Burst, Ring, long_header_hash};
use crate::error::Result;
use crate::packet::{Packet, Source};

impl Ring {
    /// [`Ring::recv`] on a userspace ring.
    pub(super) fn recv_shm(&mut self, wait: bool) -> Result<Option<Packet<'_>>> {
        let caplen = self.cfg.caplen;
        let f = loop {
            let Backend::Shm(s) = &mut self.backend else {
                unreachable!("userspace rings only");
            };
            s.begin()?;
            if let Some(f) = s.next_frame(caplen)? {
                // PF_RING's software rules, after the BPF filter.
                if let Some(r) = self.rules.as_deref_mut()
                    && !r.admit(s.frame_bytes(&f, caplen), &FrameInfo::of(&f), None)
                {
                    continue;
                }
                break f;
            }
            if !wait {
                s.release_all();
            }
            if !self.wait_for_more(wait)? {
                return Ok(None);
            }
        };
        let mut header = self.header_of(&f);
        let Backend::Shm(s) = &self.backend else {
            unreachable!("userspace rings only");
        };
        let data = s.frame_bytes(&f, header.caplen);
        if self.cfg.long_header {
            header.extended_hdr.pkt_hash = long_header_hash(data);
        }
        self.recv_count += 1;
        self.last_rx = None;
        Ok(Some(Packet {
            header,
            source: Source::Buffer(data),
        }))
    }

    /// [`Ring::recv_burst`] on a userspace ring.
    pub(super) fn recv_burst_shm(&mut self, max: usize, wait: bool) -> Result<Burst<'_>> {
        let caplen = self.cfg.caplen;
        let mut n = 0;
        loop {
            let Backend::Shm(s) = &mut self.backend else {
                unreachable!("userspace rings only");
            };
            s.begin()?;
            while n < max {
                match s.next_frame(caplen)? {
                    Some(f) => {
                        if let Some(r) = self.rules.as_deref_mut()
                            && !r.admit(s.frame_bytes(&f, caplen), &FrameInfo::of(&f), None)
                        {
                            continue;
                        }
                        self.burst[n] = f;
                        n += 1;
                    }
                    None => break,
                }
            }
            if n > 0 || !wait || self.breaker.is_set() {
                break;
            }
            let d = self.cfg.poll_duration;
            self.wait_readable(d)?;
        }
        if n == 0 {
            // Nothing is held by the caller: hand every read slot back now rather than at
            // the next batch, so the sender sees all the room there is.
            if let Backend::Shm(s) = &mut self.backend {
                s.release_all();
            }
            if wait {
                self.consume_break();
            }
        }
        self.last_rx = None;
        self.recv_count += n as u64;
        Ok(Burst { ring: self, len: n })
    }
}
