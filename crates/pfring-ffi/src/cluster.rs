//! Clusters, channels, masters, and libzero's DNA cluster / bouncer.
//!
//! `pfring_set_cluster` / `pfring_remove_from_cluster` are PACKET_FANOUT groups (see the
//! library's `cluster` module). The libzero calls (`dna_cluster_*`, `pfring_dna_bouncer_*`)
//! wait for the ZC cluster (issue 9): the constructors return NULL with
//! `errno = EOPNOTSUPP`, the others `PF_RING_ERROR_NOT_SUPPORTED` (NULL handle:
//! `PF_RING_ERROR_INVALID_ARGUMENT`; the `void` ones do nothing).
//!
//! # Safety (every function)
//! Handles are NULL or live; every other pointer is NULL or valid for its C type.

use std::ffi::{c_char, c_int, c_uint};

use pfring_rs::ClusterType;

use crate::types::*;
use crate::{call, call_or, handle, invalid, not_supported, pfring, set_errno};

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

/// Binds the ring to one RX channel. Not supported: open `eth0@N` (or use
/// `pfring_open_multichannel`) instead; the channel is part of the device name here.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_set_channel_id(ring: *mut pfring, channel_id: u32) -> c_int {
    let _ = channel_id;
    call(|| {
        // SAFETY: per the module contract.
        unsafe { handle(ring) }?;
        Err(not_supported())
    })
}

/// 5.6.1: binds the ring to a set of RX channels. Not supported: use `eth0@1-3` names.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_set_channel_mask(ring: *mut pfring, channel_mask: u32) -> c_int {
    let _ = channel_mask;
    call(|| {
        // SAFETY: per the module contract.
        unsafe { handle(ring) }?;
        Err(not_supported())
    })
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

// ---- libzero: DNA cluster ---------------------------------------------------------------

/// Creates a DNA cluster. Not supported yet (ZC cluster, issue 9): NULL, `errno = EOPNOTSUPP`.
#[unsafe(no_mangle)]
pub extern "C" fn dna_cluster_create(
    cluster_id: u32,
    num_apps: u32,
    flags: u32,
) -> *mut pfring_dna_cluster {
    let _ = (cluster_id, num_apps, flags);
    set_errno(libc::EOPNOTSUPP);
    std::ptr::null_mut()
}

/// `INVALID_ARGUMENT` for a NULL cluster handle, else `NOT_SUPPORTED`.
fn dna_cluster_call(handle: *mut pfring_dna_cluster) -> c_int {
    call(|| {
        if handle.is_null() {
            return Err(invalid());
        }
        Err(not_supported())
    })
}

/// Queue sizes of the cluster's slaves. Not supported yet (issue 9).
#[unsafe(no_mangle)]
pub extern "C" fn dna_cluster_low_level_settings(
    handle: *mut pfring_dna_cluster,
    slave_rx_queue_len: u32,
    slave_tx_queue_len: u32,
    slave_additional_buffers: u32,
) -> c_int {
    let _ = (
        slave_rx_queue_len,
        slave_tx_queue_len,
        slave_additional_buffers,
    );
    dna_cluster_call(handle)
}

/// hugetlbfs mount point of the cluster. Not supported yet (issue 9).
#[unsafe(no_mangle)]
pub extern "C" fn dna_cluster_set_hugepages_mountpoint(
    handle: *mut pfring_dna_cluster,
    mountpoint: *const c_char,
) -> c_int {
    let _ = mountpoint;
    dna_cluster_call(handle)
}

/// Adds a ring to the cluster. Not supported yet (issue 9).
#[unsafe(no_mangle)]
pub extern "C" fn dna_cluster_register_ring(
    handle: *mut pfring_dna_cluster,
    ring: *mut pfring,
) -> c_int {
    let _ = ring;
    dna_cluster_call(handle)
}

/// CPU cores of the cluster's threads. Not supported yet (issue 9): does nothing.
#[unsafe(no_mangle)]
pub extern "C" fn dna_cluster_set_cpu_affinity(
    handle: *mut pfring_dna_cluster,
    rx_core_id: u32,
    tx_core_id: u32,
) {
    let _ = (rx_core_id, tx_core_id);
    dna_cluster_call(handle);
}

/// Names of the cluster's threads. Not supported yet (issue 9): does nothing.
#[unsafe(no_mangle)]
pub extern "C" fn dna_cluster_set_thread_name(
    handle: *mut pfring_dna_cluster,
    rx_thread_name: *const c_char,
    tx_thread_name: *const c_char,
) {
    let _ = (rx_thread_name, tx_thread_name);
    dna_cluster_call(handle);
}

/// Receive / send mode of the cluster. Not supported yet (issue 9).
#[unsafe(no_mangle)]
pub extern "C" fn dna_cluster_set_mode(
    handle: *mut pfring_dna_cluster,
    mode: socket_mode,
) -> c_int {
    let _ = mode;
    dna_cluster_call(handle)
}

/// The cluster's distribution function. Not supported yet (issue 9): does nothing.
#[unsafe(no_mangle)]
pub extern "C" fn dna_cluster_set_distribution_function(
    handle: *mut pfring_dna_cluster,
    func: pfring_dna_cluster_distribution_func,
) {
    let _ = func;
    dna_cluster_call(handle);
}

/// Active or passive wait of the cluster. Not supported yet (issue 9): does nothing.
#[unsafe(no_mangle)]
pub extern "C" fn dna_cluster_set_wait_mode(handle: *mut pfring_dna_cluster, active_wait: u32) {
    let _ = active_wait;
    dna_cluster_call(handle);
}

/// Starts the cluster. Not supported yet (issue 9).
#[unsafe(no_mangle)]
pub extern "C" fn dna_cluster_enable(handle: *mut pfring_dna_cluster) -> c_int {
    dna_cluster_call(handle)
}

/// Stops the cluster. Not supported yet (issue 9).
#[unsafe(no_mangle)]
pub extern "C" fn dna_cluster_disable(handle: *mut pfring_dna_cluster) -> c_int {
    dna_cluster_call(handle)
}

/// Cluster statistics. Not supported yet (issue 9).
#[unsafe(no_mangle)]
pub extern "C" fn dna_cluster_stats(
    handle: *mut pfring_dna_cluster,
    stats: *mut pfring_dna_cluster_stat,
) -> c_int {
    let _ = stats;
    dna_cluster_call(handle)
}

/// Destroys the cluster. Nothing to do until clusters can be created (issue 9).
#[unsafe(no_mangle)]
pub extern "C" fn dna_cluster_destroy(handle: *mut pfring_dna_cluster) {
    dna_cluster_call(handle);
}

/// Opens a DNA cluster slave (the `dnacluster:` module's open). Not supported yet (issue 9).
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_dna_cluster_open(ring: *mut pfring) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        unsafe { handle(ring) }?;
        Err(not_supported())
    })
}

// ---- libzero: DNA bouncer ---------------------------------------------------------------

/// Creates a DNA bouncer between two rings. Not supported yet (issue 9): NULL,
/// `errno = EOPNOTSUPP` (`EINVAL` for a NULL ring).
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_dna_bouncer_create(
    ingress_ring: *mut pfring,
    egress_ring: *mut pfring,
) -> *mut pfring_dna_bouncer {
    call_or(std::ptr::null_mut(), || {
        // SAFETY: per the module contract.
        unsafe { handle(ingress_ring) }?;
        // SAFETY: per the module contract.
        unsafe { handle(egress_ring) }?;
        Err(not_supported())
    })
}

/// One-way or two-way bouncing. Not supported yet (issue 9).
#[unsafe(no_mangle)]
pub extern "C" fn pfring_dna_bouncer_set_mode(
    handle: *mut pfring_dna_bouncer,
    mode: dna_bouncer_mode,
) -> c_int {
    let _ = mode;
    dna_cluster_call(handle)
}

/// Runs the bouncer. Not supported yet (issue 9).
#[unsafe(no_mangle)]
pub extern "C" fn pfring_dna_bouncer_loop(
    handle: *mut pfring_dna_bouncer,
    func: pfring_dna_bouncer_decision_func,
    user_bytes: *const u8,
    wait_for_packet: u8,
) -> c_int {
    let _ = (func, user_bytes, wait_for_packet);
    dna_cluster_call(handle)
}

/// Stops the bouncer. Nothing to do until bouncers can be created (issue 9).
#[unsafe(no_mangle)]
pub extern "C" fn pfring_dna_bouncer_breakloop(handle: *mut pfring_dna_bouncer) {
    dna_cluster_call(handle);
}

/// Destroys the bouncer. Nothing to do until bouncers can be created (issue 9).
#[unsafe(no_mangle)]
pub extern "C" fn pfring_dna_bouncer_destroy(handle: *mut pfring_dna_bouncer) {
    dna_cluster_call(handle);
}
