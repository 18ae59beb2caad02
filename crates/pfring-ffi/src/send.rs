//! Transmitting: `pfring_send`, `pfring_send_get_time`, `pfring_send_last_rx_packet`,
//! `pfring_set_tx_watermark`, `pfring_flush_tx_packets`, `pfring_set_reflector_device`.
//!
//! # Safety (every function)
//! `ring` is NULL or a live handle; `pkt` is NULL or points to `pkt_len` readable bytes;
//! other pointers are NULL or valid for their C type.

use std::ffi::{c_char, c_int, c_uint};

use crate::types::*;
use crate::{Code, call, cstr, handle, invalid, not_supported, out, pfring};

/// The frame argument as a slice (`INVALID_ARGUMENT` for NULL or an empty frame).
///
/// # Safety
/// `pkt` is NULL or points to `len` readable bytes.
unsafe fn frame<'a>(pkt: *const c_char, len: c_uint) -> Result<&'a [u8], Code> {
    if pkt.is_null() || len == 0 {
        return Err(invalid());
    }
    // SAFETY: per this function's contract.
    Ok(unsafe { std::slice::from_raw_parts(pkt.cast::<u8>(), len as usize) })
}

/// Transmits a whole Ethernet frame; returns the bytes queued. Without `flush_packet` frames
/// are batched and go out at the TX watermark or `pfring_flush_tx_packets`.
/// `PF_RING_ERROR_NO_TX_SLOT_AVAILABLE` when the TX ring is full (retry);
/// `PF_RING_ERROR_INVALID_ARGUMENT` with `errno = EMSGSIZE` above MTU + 18 bytes.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_send(
    ring: *mut pfring,
    pkt: *mut c_char,
    pkt_len: c_uint,
    flush_packet: u8,
) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        // SAFETY: per the module contract.
        let f = unsafe { frame(pkt, pkt_len) }?;
        h.lock().ring.send(f, flush_packet != 0)?;
        Ok(pkt_len as c_int)
    })
}

/// Transmits a frame at once and stores in `*ts` when it left (hardware stamp where the
/// device has one, else the kernel's software transmit stamp); returns the bytes sent.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_send_get_time(
    ring: *mut pfring,
    pkt: *mut c_char,
    pkt_len: c_uint,
    ts: *mut libc::timespec,
) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        // SAFETY: per the module contract.
        let f = unsafe { frame(pkt, pkt_len) }?;
        // SAFETY: per the module contract.
        let ts = unsafe { out(ts) }?;
        let t = h.lock().ring.send_get_time(f)?;
        ts.tv_sec = t.sec as libc::time_t;
        ts.tv_nsec = libc::c_long::from(t.nsec as i32);
        Ok(pkt_len as c_int)
    })
}

/// Re-sends the last received packet on interface `tx_interface_id` (an ifindex), straight
/// from the ring (how a bridge forwards). 0 on success.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_send_last_rx_packet(
    ring: *mut pfring,
    tx_interface_id: c_int,
) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        if tx_interface_id <= 0 {
            return Err(invalid());
        }
        h.lock().ring.send_last_rx_packet(tx_interface_id)?;
        Ok(0)
    })
}

/// Frames `pfring_send` batches before sending them unasked (default 64).
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_set_tx_watermark(ring: *mut pfring, watermark: u16) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        h.lock().ring.set_tx_watermark(watermark)?;
        Ok(0)
    })
}

/// Sends every frame batched by `pfring_send` (current PF_RING).
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_flush_tx_packets(ring: *mut pfring) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        h.lock().ring.flush_tx_packets()?;
        Ok(0)
    })
}

/// Sets the device packets matching a reflect rule leave by (rules may name their own);
/// `PF_RING_ERROR_BAD_IFNAME` (`ENODEV`) for an unknown device.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_set_reflector_device(
    ring: *mut pfring,
    device_name: *mut c_char,
) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        // SAFETY: per the module contract.
        let dev = unsafe { cstr(device_name) }?;
        h.lock()
            .ring
            .set_reflector_device(Some(dev))
            .map_err(crate::rules::rule_code)?;
        Ok(0)
    })
}

/// 5.x: sends a packet with a header for a kernel plugin. Kernel plugins do not exist here.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_send_parsed(
    ring: *mut pfring,
    pkt: *mut c_char,
    hdr: *mut pfring_pkthdr,
    flush_packet: u8,
) -> c_int {
    let _ = flush_packet;
    call(|| {
        // SAFETY: per the module contract.
        unsafe { handle(ring) }?;
        if pkt.is_null() || hdr.is_null() {
            return Err(invalid());
        }
        Err(not_supported())
    })
}
