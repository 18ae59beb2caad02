//! The library's error type.
//!
//! One enum for the whole crate, with specific variants callers can branch on. PF_RING's
//! numeric codes (`PF_RING_ERROR_*`, -1 .. -18) are only produced at the C boundary; see
//! [`Error::pfring_code`] for the mapping.

use std::io;

/// A `Result` with [`Error`] as its error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `pfring`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A device name that the grammar (see [`crate::device`]) rejects.
    #[error("invalid device name {spec:?}: {reason}")]
    InvalidDevice {
        /// The device string as given.
        spec: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The named network interface does not exist (in this network namespace).
    #[error("no such device {name:?}")]
    #[doc(alias = "PF_RING_ERROR_NO_SUCH_DEVICE")]
    NoSuchDevice {
        /// The interface name.
        name: String,
    },
    /// The caller lacks a privilege the operation needs.
    #[error("permission denied: {op} needs {needs}")]
    PermissionDenied {
        /// What was attempted.
        op: &'static str,
        /// The capability (or access) it needs, e.g. `CAP_NET_RAW`.
        needs: &'static str,
    },
    /// The operation exists in PF_RING but this backend cannot do it (yet, or ever).
    #[error("{op} is not supported by the {backend} backend")]
    #[doc(alias = "PF_RING_ERROR_NOT_SUPPORTED")]
    NotSupported {
        /// The operation.
        op: &'static str,
        /// The backend (device prefix) that refused it.
        backend: &'static str,
    },
    /// The device lacks a hardware feature the call needs (hardware timestamps, a PTP clock,
    /// flow rules): veth and virtio devices have none of them.
    #[error("device {device:?} has no {feature}: {missing}")]
    #[doc(alias = "PF_RING_ERROR_NOT_SUPPORTED")]
    HardwareNotSupported {
        /// The device asked.
        device: String,
        /// The feature, e.g. `"hardware RX timestamping"`.
        feature: &'static str,
        /// What is missing and how to check it (`ethtool -T <device>` ...).
        missing: String,
    },
    /// `recv` and friends on a ring that was not enabled with [`crate::Ring::enable`].
    #[error("the ring is not enabled (call enable() first)")]
    #[doc(alias = "PF_RING_ERROR_RING_NOT_ENABLED")]
    RingNotEnabled,
    /// A setting that PF_RING only accepts before the ring is enabled.
    #[error("{op} is refused once the ring is enabled")]
    #[doc(alias = "PF_RING_ERROR_INVALID_STATUS")]
    AlreadyEnabled {
        /// The setting.
        op: &'static str,
    },
    /// The ring's socket mode forbids this direction of traffic.
    #[error("{op} is not allowed in socket mode {mode}")]
    WrongSocketMode {
        /// The operation.
        op: &'static str,
        /// The ring's mode.
        mode: &'static str,
    },
    /// Quick mode: another ring already holds this device / queue exclusively.
    #[error("device {device:?} is already opened in quick (exclusive) mode by another ring")]
    DeviceBusy {
        /// The device (and queue) that is taken.
        device: String,
    },
    /// An argument outside its valid range.
    #[error("invalid argument: {0}")]
    #[doc(alias = "PF_RING_ERROR_INVALID_ARGUMENT")]
    InvalidArgument(String),
    /// A frame longer than the device takes (MTU + Ethernet header + one VLAN tag).
    #[error("frame of {len} bytes is larger than the device allows ({max} bytes: MTU + 18)")]
    FrameTooLarge {
        /// The frame's length.
        len: usize,
        /// The largest frame the device takes.
        max: usize,
    },
    /// A frame shorter than an Ethernet header.
    #[error("frame of {len} bytes is shorter than an Ethernet header (14 bytes)")]
    FrameTooShort {
        /// The frame's length.
        len: usize,
    },
    /// The TX ring is full: the frame was not queued; retry after [`crate::Ring::wait_tx_slot`].
    #[error("no TX slot available: the transmit ring is full (frame not queued, retry)")]
    #[doc(alias = "PF_RING_ERROR_NO_TX_SLOT_AVAILABLE")]
    NoTxSlotAvailable,
    /// The kernel refused a queued frame (`TP_STATUS_WRONG_FORMAT`).
    #[error("the kernel refused {count} queued frame(s) as malformed")]
    TxRefused {
        /// Frames refused.
        count: u32,
    },
    /// The buffer passed to a copying receive is empty.
    #[error("receive buffer is empty")]
    EmptyBuffer,
    /// A BPF filter expression that does not compile (with its position), or a program the
    /// kernel would refuse.
    #[error("BPF filter: {0}")]
    #[doc(alias = "pfring_set_bpf_filter")]
    Filter(#[from] crate::filter::FilterError),
    /// A filtering rule was refused (duplicate id, unknown rule, invalid field).
    #[error("filtering rule: {0}")]
    #[doc(alias = "pfring_add_filtering_rule")]
    Rule(#[from] crate::filter::rules::RuleError),
    /// A capture file (`pcap:`) is unreadable, truncated or corrupt.
    #[error("capture file: {0}")]
    Pcap(#[from] crate::pcap::PcapError),
    /// XDP cannot be used on the device: neither native (driver) nor generic XDP attach
    /// worked, or the kernel lacks what the `xdp:` backend needs (BPF maps, AF_XDP).
    #[error("XDP is not available on {device:?}: {reason}")]
    XdpUnavailable {
        /// The interface.
        device: String,
        /// What the kernel refused.
        reason: String,
    },
    /// A `zc:` cluster queue failed (no such cluster, another user's, the master is gone...).
    #[error("ZC cluster: {0}")]
    Zc(#[from] pfring_zc::Error),
    /// The other process of a userspace ring (`userspace:`) died without closing it.
    #[error("the {peer} of userspace ring {name} (pid {pid}) exited without closing the ring")]
    PeerGone {
        /// The ring's name (`usr0`).
        name: String,
        /// `"sender"` or `"receiver"`.
        peer: &'static str,
        /// The dead process.
        pid: u32,
    },
    /// A userspace ring's shared memory holds values no valid peer writes.
    #[error("userspace ring {name} is corrupt: {reason}")]
    CorruptRing {
        /// The ring's name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// No runtime directory for ring files: not root and `$XDG_RUNTIME_DIR` unset.
    #[error("no runtime directory for {what}: run as root (/run/pfring) or set XDG_RUNTIME_DIR")]
    NoRuntimeDir {
        /// What needed it.
        what: &'static str,
    },
    /// A system call failed for a reason not covered by a more specific variant.
    #[error(transparent)]
    Syscall(#[from] SyscallError),
}

/// A failed system call: which one, and the OS error.
#[derive(Debug, thiserror::Error)]
#[error("`{call}` failed: {source}")]
pub struct SyscallError {
    /// The call (and option) that failed, e.g. `setsockopt(PACKET_RX_RING)`.
    pub call: &'static str,
    /// The OS error.
    #[source]
    pub source: io::Error,
}

impl Error {
    /// The PF_RING error code (`PF_RING_ERROR_*`) the C API returns for this error.
    #[doc(alias = "PF_RING_ERROR_GENERIC")]
    pub fn pfring_code(&self) -> i32 {
        match self {
            Error::InvalidDevice { .. }
            | Error::InvalidArgument(_)
            | Error::EmptyBuffer
            | Error::FrameTooLarge { .. }
            | Error::FrameTooShort { .. }
            | Error::Filter(_)
            | Error::Rule(_) => -2,
            Error::NoTxSlotAvailable => -4,
            Error::TxRefused { .. } | Error::Pcap(_) | Error::Zc(_) => -1,
            Error::NoSuchDevice { .. } => -13,
            Error::NotSupported { .. }
            | Error::HardwareNotSupported { .. }
            | Error::XdpUnavailable { .. } => -7,
            Error::RingNotEnabled => -12,
            Error::AlreadyEnabled { .. } | Error::WrongSocketMode { .. } => -11,
            Error::DeviceBusy { .. } | Error::PermissionDenied { .. } | Error::Syscall(_) => -1,
            Error::PeerGone { .. } | Error::CorruptRing { .. } | Error::NoRuntimeDir { .. } => -1,
        }
    }

    /// For `map_err`: wraps a failed system call's error as [`Error::Syscall`] naming `call`.
    pub(crate) fn syscall(call: &'static str) -> impl FnOnce(io::Error) -> Error {
        move |source| Error::Syscall(SyscallError { call, source })
    }

    /// Turns an `EPERM`/`EACCES` from `call` into [`Error::PermissionDenied`] naming `needs`,
    /// `ENODEV`/`ENXIO` into [`Error::NoSuchDevice`], and anything else into a
    /// [`SyscallError`].
    #[allow(dead_code)] // used by the system-call layer
    pub(crate) fn from_os(
        call: &'static str,
        err: io::Error,
        op: &'static str,
        needs: &'static str,
        device: &str,
    ) -> Self {
        match err.raw_os_error() {
            Some(libc::EPERM) | Some(libc::EACCES) => Error::PermissionDenied { op, needs },
            Some(libc::ENODEV) | Some(libc::ENXIO) => Error::NoSuchDevice {
                name: device.to_owned(),
            },
            _ => Error::Syscall(SyscallError { call, source: err }),
        }
    }
}
