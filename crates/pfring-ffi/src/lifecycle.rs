//! Open, close, enable, bind, identity: `pfring_open` ... `pfring_version`.
//!
//! # Safety (every function)
//! `ring` is NULL or a handle returned by `pfring_open` / `pfring_open_multichannel` and not
//! yet closed; every other pointer is NULL or valid for its C type (strings NUL-terminated).

use std::ffi::{c_char, c_int, c_uint, c_ushort};
use std::sync::atomic::Ordering;

use pfring_rs::{Flags, Ring, RingBuilder};

use crate::types::*;
use crate::{Code, call, call_or, cstr, handle, invalid, out, pfring, set_errno};

/// Opens `device_name` (any pfring-rs device name: `eth0`, `eth0@1`, `eth0,eth1`,
/// `pcap:file.pcap`, ...) capturing `caplen` bytes per packet (clamped to `MAX_CAPLEN`).
/// The ring receives nothing until `pfring_enable_ring`. NULL with `errno` on failure.
///
/// # Safety
/// `device_name` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_open(
    device_name: *const c_char,
    caplen: u32,
    flags: u32,
) -> *mut pfring {
    call_or(std::ptr::null_mut(), || {
        // SAFETY: per this function's contract.
        let dev = unsafe { cstr(device_name) }?;
        let caplen = caplen.min(MAX_CAPLEN);
        let ring = Ring::open(dev, caplen, Flags(flags))?;
        Ok(Box::into_raw(Box::new(pfring::new(ring, caplen, flags))))
    })
}

/// Opens one ring per RX channel of `device_name` (`dev@0` .. `dev@N-1`, at most
/// `MAX_NUM_RX_CHANNELS`) into `ring[]`; returns how many were opened (0 on failure, with
/// `errno`).
///
/// # Safety
/// `device_name` is NULL or a NUL-terminated string; `ring` is NULL or has room for
/// `MAX_NUM_RX_CHANNELS` handles.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_open_multichannel(
    device_name: *const c_char,
    caplen: u32,
    flags: u32,
    ring: *mut *mut pfring,
) -> u8 {
    call_or(0, || {
        // SAFETY: per this function's contract.
        let dev = unsafe { cstr(device_name) }?;
        if ring.is_null() {
            return Err(invalid());
        }
        let caplen = caplen.min(MAX_CAPLEN);
        let rings = RingBuilder::new(dev)
            .caplen(caplen)
            .flags(Flags(flags))
            .open_multichannel()?;
        let mut n = 0u8;
        for r in rings.into_iter().take(MAX_NUM_RX_CHANNELS) {
            let h = Box::into_raw(Box::new(pfring::new(r, caplen, flags)));
            // SAFETY: `ring` has room for MAX_NUM_RX_CHANNELS handles; n < that.
            unsafe { *ring.add(usize::from(n)) = h };
            n += 1;
        }
        Ok(n)
    })
}

/// Closes the ring and frees the handle (NULL is ignored).
///
/// # Safety
/// `ring` is NULL or a live handle; it must not be used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_close(ring: *mut pfring) {
    call_or((), || {
        if !ring.is_null() {
            // SAFETY: a live handle from Box::into_raw, closed once (the caller's contract).
            drop(unsafe { Box::from_raw(ring) });
        }
        Ok(())
    })
}

/// Makes every blocking receive, loop and poll on the ring return at once, now and from then
/// on (before closing it from another thread).
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_shutdown(ring: *mut pfring) {
    call_or((), || {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        h.shutdown.store(true, Ordering::SeqCst);
        h.brk.breakloop();
        Ok(())
    })
}

/// Starts packet delivery.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_enable_ring(ring: *mut pfring) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        h.lock().ring.enable()?;
        Ok(0)
    })
}

/// Stops packet delivery (receives then return `PF_RING_ERROR_RING_NOT_ENABLED`).
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_disable_ring(ring: *mut pfring) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        h.lock().ring.disable()?;
        Ok(0)
    })
}

/// Binds the (not yet enabled) ring to another device: the ring is reopened there with the
/// same caplen and flags, and its direction, socket mode, poll watermark, application name,
/// BPF filter and cluster are carried over. `PF_RING_ERROR_INVALID_STATUS` once enabled.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_bind(ring: *mut pfring, device_name: *mut c_char) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        // SAFETY: per the module contract.
        let dev = unsafe { cstr(device_name) }?;
        rebind(h, dev)
    })
}

/// Reopens the (not yet enabled) ring of `h` on `dev`, carrying its settings over
/// ([`pfring_bind`], and the channel calls, which rebind to `dev@channels`).
pub(crate) fn rebind(h: &pfring, dev: &str) -> Result<c_int, Code> {
    let mut st = h.lock();
    if st.ring.is_enabled() {
        set_errno(libc::EBUSY);
        return Err(Code(PF_RING_ERROR_INVALID_STATUS));
    }
    let old = &st.ring;
    let mut new = Ring::open(dev, h.caplen, Flags(h.flags))?;
    new.set_direction(old.direction())?;
    new.set_socket_mode(old.socket_mode())?;
    new.set_poll_watermark(old.poll_watermark())?;
    if let Some(name) = old.application_name() {
        new.set_application_name(name)?;
    }
    if let Some(expr) = &st.bpf {
        new.set_bpf_filter(expr)?;
    }
    if let Some((id, ty)) = old.cluster() {
        new.set_cluster(id, ty)?;
    }
    st.ring = new;
    Ok(0)
}

/// Gives the calling process the real-time `SCHED_FIFO` policy with priority
/// `cpu_percentage` (1..=99); 0 leaves the scheduler alone. Unlike PF_RING 5.x, a failure
/// does not exit the process: it sets `errno` (`EINVAL` above 99, `EPERM` without
/// `CAP_SYS_NICE`).
#[unsafe(no_mangle)]
pub extern "C" fn pfring_config(cpu_percentage: c_ushort) {
    call_or((), || {
        if cpu_percentage == 0 {
            return Ok(());
        }
        if cpu_percentage > 99 {
            return Err(invalid());
        }
        let param = libc::sched_param {
            sched_priority: c_int::from(cpu_percentage),
        };
        // SAFETY: `param` is a valid sched_param for the duration of the call.
        if unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) } != 0 {
            return Err(Code(PF_RING_ERROR_GENERIC));
        }
        Ok(())
    })
}

/// The API level (`RING_VERSION_NUM`, `0x00MMmmpp`) into `*version`.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_version(ring: *mut pfring, version: *mut u32) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        // SAFETY: per the module contract.
        let v = unsafe { out(version) }?;
        *v = h.lock().ring.version();
        Ok(0)
    })
}

/// The library's API level without a ring (current PF_RING).
///
/// # Safety
/// `version` is NULL (ignored) or valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_version_noring(version: *mut u32) {
    call_or((), || {
        // SAFETY: per this function's contract.
        let v = unsafe { out(version) }?;
        *v = pfring_rs::version().0;
        Ok(())
    })
}

/// Names the application owning the ring (at most 64 bytes).
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_set_application_name(
    ring: *mut pfring,
    name: *mut c_char,
) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        // SAFETY: per the module contract.
        let name = unsafe { cstr(name) }?;
        h.lock().ring.set_application_name(name)?;
        Ok(0)
    })
}

/// A process-wide unique id of the ring (1, 2, ...; 0 for NULL).
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_get_ring_id(ring: *mut pfring) -> u16 {
    call_or(0, || {
        // SAFETY: per the module contract.
        Ok(unsafe { handle(ring) }?.ring_id)
    })
}

/// Bytes of the slot header: the whole `struct pfring_pkthdr` with `PF_RING_LONG_HEADER`,
/// else the short header (up to `extended_hdr.tx`). 0 for NULL.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_get_slot_header_len(ring: *mut pfring) -> u16 {
    call_or(0, || {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        Ok(if h.long_header {
            std::mem::size_of::<pfring_pkthdr>() as u16
        } else {
            SHORT_HEADER_LEN as u16
        })
    })
}

/// Hands consumed slots back to the kernel. Nothing to do here: a receive hands the slots
/// of the previous packet back itself (TPACKET_V3 block status words are shared memory, there
/// is no separate index to publish), so this is a no-op kept for source compatibility.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_sync_indexes_with_kernel(ring: *mut pfring) {
    call_or((), || {
        // SAFETY: per the module contract.
        unsafe { handle(ring) }?;
        Ok(())
    })
}

/// 5.x: open a ring whose packets a kernel consumer plugin handles. Kernel plugins do not
/// exist here: NULL with `errno = EOPNOTSUPP`.
///
/// # Safety
/// Pointers are NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_open_consumer(
    device_name: *mut c_char,
    caplen: u32,
    flags: u32,
    consumer_plugin_id: u8,
    consumer_data: *mut c_char,
    consumer_data_len: c_uint,
) -> *mut pfring {
    let _ = (
        caplen,
        flags,
        consumer_plugin_id,
        consumer_data,
        consumer_data_len,
    );
    call_or(std::ptr::null_mut(), || {
        // SAFETY: per this function's contract.
        unsafe { cstr(device_name) }?;
        Err(crate::not_supported())
    })
}
