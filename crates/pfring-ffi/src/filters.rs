//! BPF filters and filtering modes: `pfring_set_bpf_filter`, `pfring_remove_bpf_filter`,
//! `pfring_set_filtering_mode`, `pfring_set_virtual_device`, `pfring_search_payload`.
//!
//! # Safety (every function)
//! `ring` is NULL or a live handle; every other pointer is NULL or valid for its C type.

use std::ffi::{c_char, c_int};

use crate::types::*;
use crate::{call, cstr, handle, invalid, not_supported, pfring};

/// Sets a BPF filter in tcpdump's language (`"tcp port 80"`): compiled to classic BPF and run
/// in the kernel (user space for `pcap:` rings). `PF_RING_ERROR_INVALID_ARGUMENT` for an
/// expression that does not compile. Replaces any previous filter.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_set_bpf_filter(
    ring: *mut pfring,
    filter_buffer: *mut c_char,
) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        // SAFETY: per the module contract.
        let expr = unsafe { cstr(filter_buffer) }?;
        let mut st = h.lock();
        st.ring.set_bpf_filter(expr)?;
        st.bpf = Some(expr.to_owned());
        Ok(0)
    })
}

/// Removes the BPF filter.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_remove_bpf_filter(ring: *mut pfring) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        let mut st = h.lock();
        st.ring.remove_bpf_filter()?;
        st.bpf = None;
        Ok(0)
    })
}

/// Where `pfring_add_hw_rule` puts rules: `software_only` (the default: hardware rules are
/// refused), `hardware_only` (the NIC), `hardware_and_software` (the NIC, or an equivalent
/// software rule where it cannot). Other values are invalid.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_set_filtering_mode(
    ring: *mut pfring,
    mode: filtering_mode,
) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        let m = match mode {
            software_only => pfring_rs::ring::FilteringMode::SoftwareOnly,
            hardware_only => pfring_rs::ring::FilteringMode::HardwareOnly,
            hardware_and_software => pfring_rs::ring::FilteringMode::HardwareAndSoftware,
            _ => return Err(invalid()),
        };
        h.lock().ring.set_filtering_mode(m);
        Ok(0)
    })
}

/// 5.x: attaches a virtual filtering device. Not supported: it only existed for in-kernel
/// hardware-rule plumbing.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_set_virtual_device(
    ring: *mut pfring,
    info: *mut virtual_filtering_device_info,
) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        unsafe { handle(ring) }?;
        if info.is_null() {
            return Err(invalid());
        }
        Err(not_supported())
    })
}

/// Delivers only packets whose payload (after the L2-L4 headers) contains the string,
/// ignoring ASCII case (`|` separates alternatives, as in a rule's payload pattern). Searched
/// in the library, before the filtering rules; an empty string is
/// `PF_RING_ERROR_INVALID_ARGUMENT`.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_search_payload(
    ring: *mut pfring,
    string_to_search: *mut c_char,
) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        // SAFETY: per the module contract.
        let pattern = unsafe { cstr(string_to_search) }?;
        h.lock().ring.search_payload(Some(pattern))?;
        Ok(0)
    })
}
