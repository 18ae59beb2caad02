//! Timestamps and the device clock: `pfring_next_pkt_time`, `pfring_next_pkt_raw_timestamp`,
//! `pfring_enable_hw_timestamp`, `pfring_get_device_clock`, `pfring_set_device_clock`,
//! `pfring_adjust_device_clock`.
//!
//! Devices without a PTP clock or hardware stamping (veth, virtio) give
//! `PF_RING_ERROR_NOT_SUPPORTED` with `errno = EOPNOTSUPP`.
//!
//! # Safety (every function)
//! `ring` is NULL or a live handle; every other pointer is NULL or valid for its C type.

use std::ffi::{c_char, c_int};
use std::time::Duration;

use pfring_rs::Timestamp;

use crate::types::*;
use crate::{Code, call, cstr, handle, invalid, out, pfring, set_errno};

fn to_timespec(t: Timestamp, ts: &mut libc::timespec) {
    ts.tv_sec = t.sec as libc::time_t;
    ts.tv_nsec = libc::c_long::from(t.nsec as i32);
}

fn from_timespec(ts: &libc::timespec) -> Result<(u64, u32), Code> {
    if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
        return Err(invalid());
    }
    Ok((ts.tv_sec as u64, ts.tv_nsec as u32))
}

/// `PF_RING_ERROR_NO_PKT_AVAILABLE` (errno `EAGAIN`).
fn no_packet() -> Code {
    set_errno(libc::EAGAIN);
    Code(PF_RING_ERROR_NO_PKT_AVAILABLE)
}

/// The timestamp of the next packet without receiving it; `PF_RING_ERROR_NO_PKT_AVAILABLE`
/// when none is queued.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_next_pkt_time(ring: *mut pfring, ts: *mut libc::timespec) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        // SAFETY: per the module contract.
        let ts = unsafe { out(ts) }?;
        let t = h.lock().ring.next_packet_time().ok_or_else(no_packet)?;
        to_timespec(t, ts);
        Ok(0)
    })
}

/// The next packet's timestamp in nanoseconds (the device's raw stamp for hardware-stamped
/// packets); `PF_RING_ERROR_NO_PKT_AVAILABLE` when none is queued.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_next_pkt_raw_timestamp(
    ring: *mut pfring,
    timestamp_ns: *mut u64,
) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        // SAFETY: per the module contract.
        let out = unsafe { out(timestamp_ns) }?;
        *out = h
            .lock()
            .ring
            .next_packet_raw_timestamp()
            .ok_or_else(no_packet)?;
        Ok(0)
    })
}

/// Turns hardware RX / TX timestamping on `device_name` on or off (SIOCSHWTSTAMP).
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_enable_hw_timestamp(
    ring: *mut pfring,
    device_name: *mut c_char,
    enable_rx: u8,
    enable_tx: u8,
) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        // SAFETY: per the module contract.
        let dev = unsafe { cstr(device_name) }?;
        h.lock()
            .ring
            .enable_hw_timestamp(dev, enable_rx != 0, enable_tx != 0)?;
        Ok(0)
    })
}

/// Reads the bound device's PTP clock.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_get_device_clock(
    ring: *mut pfring,
    ts: *mut libc::timespec,
) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        // SAFETY: per the module contract.
        let ts = unsafe { out(ts) }?;
        let t = h.lock().ring.get_device_clock()?;
        to_timespec(t, ts);
        Ok(0)
    })
}

/// Sets the bound device's PTP clock.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_set_device_clock(
    ring: *mut pfring,
    ts: *mut libc::timespec,
) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        // SAFETY: per the module contract.
        let ts = unsafe { out(ts) }?;
        let (sec, nsec) = from_timespec(ts)?;
        h.lock().ring.set_device_clock(Timestamp { sec, nsec })?;
        Ok(0)
    })
}

/// Moves the bound device's PTP clock by `offset`, forwards (`sign` >= 0) or back (< 0).
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_adjust_device_clock(
    ring: *mut pfring,
    offset: *mut libc::timespec,
    sign: i8,
) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        // SAFETY: per the module contract.
        let off = unsafe { out(offset) }?;
        let (sec, nsec) = from_timespec(off)?;
        let d = Duration::new(sec, nsec);
        h.lock()
            .ring
            .adjust_device_clock(d, if sign < 0 { -1 } else { 1 })?;
        Ok(0)
    })
}
