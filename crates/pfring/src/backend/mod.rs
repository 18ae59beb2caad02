//! Backends: one per device-name module.
//!
//! # The contract each backend meets
//! - `open(spec, device, config)` either returns a ready (not enabled) backend or a specific
//!   [`crate::Error`]; it never falls back to another backend.
//! - `enable` / `disable` start and stop delivery; nothing is delivered before `enable`.
//! - receive hands out frames without copying; the slot is returned when the
//!   [`crate::Packet`] (or [`crate::ring::Burst`]) that borrows it is dropped.
//! - stats: `recv` counts packets handed to the application, `drop` counts packets the
//!   backend lost because the application did not keep up (accumulated, never reset).
//! - the selectable fd becomes readable when packets are queued.
//!
//! Several devices (`eth0,eth1`, `eth0;eth1`, `multi:eth0;eth1`) are served by `multi`, one
//! default-module socket per device.
//!
//! `xdp:eth0@Q` is served by `xdp` (an AF_XDP socket on queue Q, see its module docs).
//!
//! `zc:<cluster>@<queue>` is a slave of a `pfring-zc` cluster (`zc.rs`).
//!
//! Two processes share a ring through `shm` (`userspace:usr0` sends, `usr0` receives).
//!
//! Modules without a backend yet (`zc:<interface>`, `stack:`)
//! parse, then fail to open with [`crate::Error::NotSupported`] naming the module.

pub(crate) mod multi;
pub(crate) mod packet;
pub(crate) mod pcap_file;
pub(crate) mod shm;
pub(crate) mod tx_batch;
pub(crate) mod xdp;
pub(crate) mod xdp_bridge;
pub(crate) mod zc;

/// A frame to send against a device's limits: [`crate::Error::FrameTooLarge`] over `max`
/// bytes, [`crate::Error::FrameTooShort`] under an Ethernet header (14 bytes).
pub(crate) fn check_frame_len(frame: &[u8], max: usize) -> crate::Result<()> {
    if frame.len() > max {
        return Err(crate::Error::FrameTooLarge {
            len: frame.len(),
            max,
        });
    }
    if frame.len() < 14 {
        return Err(crate::Error::FrameTooShort { len: frame.len() });
    }
    Ok(())
}
