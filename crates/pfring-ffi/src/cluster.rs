//! Clusters, channels and masters.
//!
//! `pfring_set_cluster` / `pfring_remove_from_cluster` are PACKET_FANOUT groups (see the
//! library's `cluster` module). The libzero calls (`dna_cluster_*`, `pfring_dna_bouncer_*`)
//! are in [`crate::libzero`].
//!
//! # Safety (every function)
//! Handles are NULL or live; every other pointer is NULL or valid for its C type.

use std::ffi::{c_int, c_uint};

use pfring_rs::ClusterType;

use crate::types::*;
use crate::{call, call_or, handle, invalid, not_supported, pfring};

/// Puts the ring in cluster `clusterId` (0..=65535) of type `the_type`: each packet of the
/// device goes to one member, chosen per flow or round robin. A ring not enabled yet joins
/// when enabled.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_set_cluster(
    ring: *mut pfring,
    clusterId: c_uint,
    the_type: cluster_type,
) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        let id = u16::try_from(clusterId).map_err(|_| invalid())?;
        let ty = ClusterType::try_from(the_type).map_err(|_| invalid())?;
        h.lock().ring.set_cluster(id, ty)?;
        Ok(0)
    })
}

/// Takes the ring out of its cluster (nothing if it is in none).
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_remove_from_cluster(ring: *mut pfring) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        h.lock().ring.remove_from_cluster()?;
        Ok(0)
    })
}

/// RX channels (queues) of the bound device (1 when the driver reports none, 0 for NULL).
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_get_num_rx_channels(ring: *mut pfring) -> u8 {
    call_or(0, || {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        Ok(h.lock().ring.num_rx_channels()?)
    })
}

/// Binds the (not yet enabled) ring to RX channel `channel_id` of its device: the ring is
/// reopened on `dev@channel_id` with its settings carried over, as [`crate::lifecycle::rebind`]
/// does for `pfring_bind`. `PF_RING_ERROR_INVALID_STATUS` once enabled; `NOT_SUPPORTED` for
/// rings that are not on one network device (`any`, several devices, module prefixes).
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_set_channel_id(ring: *mut pfring, channel_id: u32) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        let dev = format!("{}@{channel_id}", channel_base(h)?);
        crate::lifecycle::rebind(h, &dev)
    })
}

/// 5.6.1: binds the (not yet enabled) ring to the RX channels whose bits are set in
/// `channel_mask` (bit N = channel N): the ring is reopened on `dev@a,b,...` like
/// [`pfring_set_channel_id`]. A zero mask is `INVALID_ARGUMENT`.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_set_channel_mask(ring: *mut pfring, channel_mask: u32) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        if channel_mask == 0 {
            return Err(invalid());
        }
        let list: Vec<String> = (0..32)
            .filter(|b| channel_mask & (1 << b) != 0)
            .map(|b: u32| b.to_string())
            .collect();
        let dev = format!("{}@{}", channel_base(h)?, list.join(","));
        crate::lifecycle::rebind(h, &dev)
    })
}

/// The ring's device without its channel part (`eth0@1` -> `eth0`), for rings on one
/// network device; `NOT_SUPPORTED` otherwise.
fn channel_base(h: &pfring) -> Result<String, crate::Code> {
    let st = h.lock();
    let dev = st.ring.device();
    let base = dev.split('@').next().unwrap_or(dev);
    if base.is_empty() || base == "any" || base.contains([',', ';', ':']) {
        return Err(not_supported());
    }
    Ok(base.to_owned())
}

/// RSS rehash: a ring bound to some RX channels (`eth0@1`) gets the packets whose symmetric
/// PF_RING hash modulo the device's queue count is one of its channels, so both directions of
/// a flow reach the same channel whatever the NIC's RSS does (done in the ring's socket
/// filter, not in the NIC). No effect on a ring that captures every channel.
/// `PF_RING_ERROR_NOT_SUPPORTED` on `pcap:` and `any` rings.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_enable_rss_rehash(ring: *mut pfring) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        h.lock().ring.enable_rss_rehash()?;
        Ok(0)
    })
}

/// Makes the ring a slave of master ring `master_id` (in-kernel master/slave forwarding).
/// Not supported yet.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_set_master_id(ring: *mut pfring, master_id: u32) -> c_int {
    let _ = master_id;
    call(|| {
        // SAFETY: per the module contract.
        unsafe { handle(ring) }?;
        Err(not_supported())
    })
}

/// Makes the ring a slave of `master`. Not supported yet.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_set_master(ring: *mut pfring, master: *mut pfring) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        unsafe { handle(ring) }?;
        // SAFETY: per the module contract.
        unsafe { handle(master) }?;
        Err(not_supported())
    })
}
