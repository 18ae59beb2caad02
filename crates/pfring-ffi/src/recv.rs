//! Receiving: `pfring_recv` (zero copy or copying), `pfring_recv_parsed`, `pfring_recv_burst`,
//! `pfring_loop` / `pfring_breakloop`, polling, watermarks, direction, socket mode, stats.
//!
//! A blocking receive tries the ring without waiting, then waits in slices of at most
//! [`WAIT_SLICE`] with the handle's lock released between slices, so other threads can call
//! `pfring_stats` or `pfring_breakloop` meanwhile.
//!
//! # Safety (every function)
//! `ring` is NULL or a live handle; every other pointer is NULL or valid for its C type.

use std::ffi::{c_int, c_uint};
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use pfring_rs::parse::ParsedPacket;
use pfring_rs::{Direction, Error, PacketHeader, SocketMode};

use crate::types::*;
use crate::util::fill_hdr;
use crate::{Code, call, call_or, handle, invalid, out, pfring, set_errno};

/// Longest wait with the handle's lock held.
pub const WAIT_SLICE: Duration = Duration::from_millis(50);

/// The C callback of `pfring_loop`.
pub type pfringProcesssPacket =
    Option<unsafe extern "C" fn(h: *const pfring_pkthdr, p: *const u8, user_bytes: *const u8)>;

/// One received packet, as handed to C.
struct Got {
    hdr: PacketHeader,
    data: *const u8,
    parsed: Option<ParsedPacket>,
}

/// What to do with a packet while the lock is held.
struct RecvOpts<'a> {
    wait: bool,
    /// Copy into this buffer (copy mode); `None` = zero copy.
    copy_to: Option<&'a mut [u8]>,
    /// Parse to this level (long header, `pfring_recv_parsed`).
    parse_level: Option<u8>,
    add_hash: bool,
}

/// Receives one packet; `Ok(None)` when none (non-blocking), after a break or a shutdown.
fn recv_one(h: &pfring, mut o: RecvOpts<'_>) -> Result<Option<Got>, Code> {
    // Bounded: every pass either returns or waits up to WAIT_SLICE; a blocking receive
    // without packets is meant to wait until one comes or the loop is broken.
    loop {
        if h.shutdown.load(Ordering::SeqCst) {
            return Ok(None);
        }
        if o.wait && h.broken.swap(false, Ordering::SeqCst) {
            return Ok(None);
        }
        let mut st = h.lock();
        if let Some(p) = st.ring.recv(false)? {
            let mut hdr = *p.header();
            let data = p.data();
            let parsed = o.parse_level.map(|level| {
                let (mut parsed, _) = ParsedPacket::parse(data, level);
                if o.add_hash || hdr.extended_hdr.pkt_hash == 0 {
                    parsed.add_hash();
                }
                if o.add_hash {
                    hdr.extended_hdr.pkt_hash = parsed.pkt_hash;
                }
                parsed
            });
            let ptr = match o.copy_to.as_deref_mut() {
                Some(buf) => {
                    let n = data.len().min(buf.len());
                    buf[..n].copy_from_slice(&data[..n]);
                    hdr.caplen = n as u32;
                    buf.as_ptr()
                }
                None => data.as_ptr(),
            };
            return Ok(Some(Got {
                hdr,
                data: ptr,
                parsed,
            }));
        }
        // A `pcap:` ring at the end of its file has nothing more to wait for.
        if !o.wait || st.ring.end_of_file() {
            return Ok(None);
        }
        st.ring.poll(WAIT_SLICE)?;
    }
}

/// Receives a packet. `buffer_len == 0`: `*buffer` is set to the packet in the ring (zero
/// copy, valid until the next receive on this ring; refused with `PF_RING_REENTRANT`).
/// `buffer_len > 0`: up to `buffer_len` bytes are copied to `*buffer` and `hdr->caplen` is
/// the number copied. Returns 1 (packet), 0 (none without `wait_for_incoming_packet`, or
/// `pfring_breakloop`), or a negative `PF_RING_ERROR_*` (`RING_NOT_ENABLED` before
/// `pfring_enable_ring`).
///
/// # Safety
/// See the module documentation; with `buffer_len > 0`, `*buffer` points to `buffer_len`
/// writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_recv(
    ring: *mut pfring,
    buffer: *mut *mut u8,
    buffer_len: c_uint,
    hdr: *mut pfring_pkthdr,
    wait_for_incoming_packet: u8,
) -> c_int {
    // SAFETY: forwarded contract.
    unsafe {
        recv_common(
            ring,
            buffer,
            buffer_len,
            hdr,
            wait_for_incoming_packet,
            None,
            false,
        )
    }
}

/// # Safety
/// As [`pfring_recv`].
unsafe fn recv_common(
    ring: *mut pfring,
    buffer: *mut *mut u8,
    buffer_len: c_uint,
    hdr: *mut pfring_pkthdr,
    wait: u8,
    level: Option<u8>,
    add_hash: bool,
) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        // SAFETY: per the module contract.
        let buf = unsafe { out(buffer) }?;
        // SAFETY: per the module contract.
        let hdr = unsafe { out(hdr) }?;
        let copy_to = if buffer_len == 0 {
            if h.reentrant {
                return Err(invalid());
            }
            None
        } else {
            if buf.is_null() {
                return Err(invalid());
            }
            // SAFETY: the caller gives `buffer_len` writable bytes at `*buffer`.
            Some(unsafe { std::slice::from_raw_parts_mut(*buf, buffer_len as usize) })
        };
        let level = level.or(h.long_header.then_some(4));
        let got = recv_one(
            h,
            RecvOpts {
                wait: wait != 0,
                copy_to,
                parse_level: level,
                add_hash,
            },
        )?;
        match got {
            Some(g) => {
                fill_hdr(hdr, &g.hdr, g.parsed.as_ref());
                if buffer_len == 0 {
                    *buf = g.data.cast_mut();
                }
                Ok(1)
            }
            None => Ok(0),
        }
    })
}

/// [`pfring_recv`], then the packet's headers parsed up to `level` (2 = Ethernet .. 4 =
/// transport, 5 = tunnels) into `hdr->extended_hdr.parsed_pkt`; `add_hash` fills
/// `pkt_hash`. `add_timestamp` is accepted: every packet is timestamped anyway.
///
/// # Safety
/// As [`pfring_recv`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_recv_parsed(
    ring: *mut pfring,
    buffer: *mut *mut u8,
    buffer_len: c_uint,
    hdr: *mut pfring_pkthdr,
    wait_for_incoming_packet: u8,
    level: u8,
    add_timestamp: u8,
    add_hash: u8,
) -> c_int {
    let _ = add_timestamp;
    if !(2..=5).contains(&level) {
        return crate::invalid().0;
    }
    // SAFETY: forwarded contract.
    unsafe {
        recv_common(
            ring,
            buffer,
            buffer_len,
            hdr,
            wait_for_incoming_packet,
            Some(level),
            add_hash != 0,
        )
    }
}

/// Receives up to `num_packets` packets into `packets[]` and returns how many (0 when none
/// without `wait_for_packets`). The packets are copied into a buffer of the handle: each
/// `data` pointer stays valid until the next receive on this ring.
///
/// # Safety
/// See the module documentation; `packets` has room for `num_packets` entries.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_recv_burst(
    ring: *mut pfring,
    packets: *mut pfring_packet_info,
    num_packets: u8,
    wait_for_packets: u8,
) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        if packets.is_null() || num_packets == 0 {
            return Err(invalid());
        }
        // SAFETY: `packets` has room for `num_packets` entries.
        let out = unsafe { std::slice::from_raw_parts_mut(packets, usize::from(num_packets)) };
        // Bounded like recv_one: returns, or waits one slice per pass.
        loop {
            if h.shutdown.load(Ordering::SeqCst) {
                return Ok(0);
            }
            if wait_for_packets != 0 && h.broken.swap(false, Ordering::SeqCst) {
                return Ok(0);
            }
            let mut guard = h.lock();
            let st = &mut *guard;
            let burst = st.ring.recv_burst(out.len(), false)?;
            if !burst.is_empty() {
                let total: usize = burst.iter().map(|(_, d)| d.len()).sum();
                st.burst_buf.clear();
                st.burst_buf.reserve(total);
                let mut offs = Vec::with_capacity(burst.len());
                for (_, d) in burst.iter() {
                    offs.push(st.burst_buf.len());
                    st.burst_buf.extend_from_slice(d);
                }
                let base = st.burst_buf.as_mut_ptr();
                for (i, (hdr, d)) in burst.iter().enumerate() {
                    out[i] = pfring_packet_info {
                        // SAFETY: offs[i] + d.len() <= burst_buf.len() (filled above).
                        data: unsafe { base.add(offs[i]) },
                        ts: libc::timeval {
                            tv_sec: hdr.ts.sec as libc::time_t,
                            tv_usec: libc::suseconds_t::from(hdr.ts.usec() as i32),
                        },
                        caplen: d.len().min(usize::from(u16::MAX)) as u16,
                        len: hdr.len.min(u32::from(u16::MAX)) as u16,
                        flags: hdr.extended_hdr.flags,
                        hash: hdr.extended_hdr.pkt_hash,
                    };
                }
                return Ok(burst.len() as c_int);
            }
            drop(burst);
            if wait_for_packets == 0 || st.ring.end_of_file() {
                return Ok(0);
            }
            st.ring.poll(WAIT_SLICE)?;
        }
    })
}

/// Calls `looper(hdr, packet, user_bytes)` for every packet until `pfring_breakloop` (from the
/// callback, another thread or a signal handler) or an error. Without `wait_for_packet` it
/// spins instead of sleeping when the ring is empty, as PF_RING does. Returns 0 after a
/// break or at the end of a `pcap:` file, a negative `PF_RING_ERROR_*` on error.
///
/// # Safety
/// See the module documentation; `looper` is called with pointers valid for the call only.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_loop(
    ring: *mut pfring,
    looper: pfringProcesssPacket,
    user_bytes: *const u8,
    wait_for_packet: u8,
) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        let Some(looper) = looper else {
            return Err(invalid());
        };
        h.broken.store(false, Ordering::SeqCst);
        // SAFETY: a zeroed pfring_pkthdr is valid (integers, a NULL pointer, unions of bytes).
        let mut hdr: pfring_pkthdr = unsafe { std::mem::zeroed() };
        // Bounded by pfring_breakloop / pfring_shutdown, which the caller uses to stop it.
        loop {
            if h.shutdown.load(Ordering::SeqCst) || h.broken.swap(false, Ordering::SeqCst) {
                return Ok(0);
            }
            let got = recv_one(
                h,
                RecvOpts {
                    wait: wait_for_packet != 0,
                    copy_to: None,
                    parse_level: h.long_header.then_some(4),
                    add_hash: false,
                },
            )?;
            match got {
                Some(g) => {
                    fill_hdr(&mut hdr, &g.hdr, g.parsed.as_ref());
                    // SAFETY: `hdr` and the packet bytes are valid for the call; the C
                    // callback's contract is PF_RING's.
                    unsafe { looper(&hdr, g.data, user_bytes) };
                }
                // The end of a `pcap:` file ends the loop.
                None if h.lock().ring.end_of_file() => return Ok(0),
                None if wait_for_packet == 0 => std::thread::yield_now(),
                None => {}
            }
        }
    })
}

/// Stops `pfring_loop` or a blocking `pfring_recv` / `pfring_poll` (async-signal-safe: an
/// atomic store and an eventfd write).
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_breakloop(ring: *mut pfring) {
    call_or((), || {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        h.broken.store(true, Ordering::SeqCst);
        h.brk.breakloop();
        Ok(())
    })
}

/// Waits up to `wait_duration` ms until the poll watermark of packets is queued: 1 when it
/// is, 0 on timeout or break, negative on error. 0 ms only checks.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_poll(ring: *mut pfring, wait_duration: c_uint) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        let deadline = Instant::now() + Duration::from_millis(u64::from(wait_duration));
        // Bounded by the deadline.
        loop {
            if h.shutdown.load(Ordering::SeqCst) || h.broken.swap(false, Ordering::SeqCst) {
                return Ok(0);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if h.lock().ring.poll(left.min(WAIT_SLICE))? {
                return Ok(1);
            }
            if left <= WAIT_SLICE {
                return Ok(0);
            }
        }
    })
}

/// 1 if a packet can be received without waiting, else 0 (negative for NULL).
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_is_pkt_available(ring: *mut pfring) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        Ok(c_int::from(h.lock().ring.is_packet_available()))
    })
}

/// The descriptor to put in your own poll/epoll set.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_get_selectable_fd(ring: *mut pfring) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        Ok(h.lock().ring.selectable_fd().as_raw_fd())
    })
}

/// Packets to be queued before a blocking receive wakes up (1..=slots/2).
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_set_poll_watermark(ring: *mut pfring, watermark: u16) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        h.lock().ring.set_poll_watermark(watermark)?;
        Ok(0)
    })
}

/// How long (ms) one wait of a blocking receive lasts before re-checking.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_set_poll_duration(ring: *mut pfring, duration: c_uint) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        h.lock()
            .ring
            .set_poll_duration(Duration::from_millis(u64::from(duration)));
        Ok(0)
    })
}

/// Packets queued and readable now (0 for NULL).
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_get_num_queued_pkts(ring: *mut pfring) -> u32 {
    call_or(0, || {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        Ok(h.lock().ring.num_queued_packets())
    })
}

/// Which frames are captured (`rx_and_tx_direction`, `rx_only_direction`,
/// `tx_only_direction`); allowed while enabled.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_set_direction(
    ring: *mut pfring,
    direction: packet_direction,
) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        let d = Direction::try_from(direction)?;
        h.lock().ring.set_direction(d)?;
        Ok(0)
    })
}

/// Send / receive mode; refused (`PF_RING_ERROR_GENERIC`, as PF_RING) once enabled.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_set_socket_mode(ring: *mut pfring, mode: socket_mode) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        let m = match mode {
            send_and_recv_mode => SocketMode::SendAndRecv,
            send_only_mode => SocketMode::SendOnly,
            recv_only_mode => SocketMode::RecvOnly,
            _ => return Err(invalid()),
        };
        match h.lock().ring.set_socket_mode(m) {
            Ok(()) => Ok(0),
            Err(Error::AlreadyEnabled { .. }) => {
                set_errno(libc::EPERM);
                Err(Code(PF_RING_ERROR_GENERIC))
            }
            Err(e) => Err(e.into()),
        }
    })
}

/// Packets received by the application and dropped because the ring was full.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_stats(ring: *mut pfring, stats: *mut pfring_stat) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        // SAFETY: per the module contract.
        let s = unsafe { out(stats) }?;
        let st = h.lock().ring.stats()?;
        *s = pfring_stat {
            recv: st.recv,
            drop: st.drop,
        };
        Ok(0)
    })
}
