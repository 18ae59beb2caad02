//! Timestamps beyond the software default: hardware timestamping and the device's PTP clock
//! (PF_RING's `pfring_enable_hw_timestamp`, `pfring_{get,set,adjust}_device_clock`).
//!
//! Which devices can do this: the ones whose `ethtool -T <dev>` lists `hardware-receive` /
//! `hardware-transmit` / `hardware-raw-clock` capabilities, the `all` receive filter, and a
//! `PTP Hardware Clock` (most server NICs: Intel igb/ixgbe/i40e/ice, Mellanox mlx5, ...).
//! veth, virtio-net and loopback have none: every call here then returns
//! [`Error::HardwareNotSupported`] naming the device and what `ethtool -T` lacks; nothing
//! falls back to software silently.

use std::time::Duration;

use super::{Backend, Ring};
use crate::error::{Error, Result, SyscallError};
use crate::packet::Timestamp;
use crate::sys::clock::{self, PtpClock, SOF_RAW_HARDWARE, SOF_SOFTWARE, TsInfo};
use crate::sys::iface;

/// `ETHTOOL_GET_TS_INFO` for `device`, with errors named after the device.
fn ts_info(device: &str) -> Result<TsInfo> {
    clock::ts_info(device).map_err(|e| {
        Error::from_os(
            "ioctl(SIOCETHTOOL, ETHTOOL_GET_TS_INFO)",
            e,
            "reading timestamping capabilities",
            "CAP_NET_ADMIN",
            device,
        )
    })
}

/// "`ethtool -T veth0` (driver veth) lists ..." for error messages.
fn ethtool_hint(device: &str, lacks: &str) -> String {
    let driver = iface::driver_name(device).unwrap_or_default();
    if driver.is_empty() {
        format!("`ethtool -T {device}` lists {lacks}")
    } else {
        format!("`ethtool -T {device}` (driver {driver}) lists {lacks}")
    }
}

impl Ring {
    /// Refuses hardware stamps on backends whose frames cannot carry them.
    fn hw_timestamp_backend(&self) -> Result<()> {
        match self.backend {
            // AF_XDP descriptors carry no timestamp: frames are stamped when received.
            Backend::Xdp(_) => Err(Error::NotSupported {
                op: "hardware timestamps (AF_XDP frames carry no timestamp)",
                backend: "xdp",
            }),
            Backend::Packet(_) | Backend::Multi(_) => Ok(()),
            ref other => Err(other.unsupported("hardware timestamps")),
        }
    }

    /// The one device this ring is bound to, for the device-clock calls.
    fn clock_device(&self, op: &'static str) -> Result<String> {
        match &self.backend {
            Backend::Packet(b) => b.ifname.clone().ok_or(Error::NotSupported {
                op,
                backend: "packet (bound to `any` or `none`)",
            }),
            Backend::Xdp(x) => Ok(x.ifname.clone()),
            other => Err(other.unsupported(op)),
        }
    }

    /// The PTP hardware clock of the ring's device.
    fn device_clock(&self, op: &'static str) -> Result<PtpClock> {
        let dev = self.clock_device(op)?;
        let info = ts_info(&dev)?;
        let Some(index) = info.phc_index else {
            return Err(Error::HardwareNotSupported {
                missing: ethtool_hint(&dev, "no PTP Hardware Clock"),
                device: dev,
                feature: "PTP hardware clock",
            });
        };
        PtpClock::open(index).map_err(|e| {
            Error::from_os(
                "open(/dev/ptpN)",
                e,
                "opening the device's PTP clock",
                "read/write access to /dev/ptpN (root)",
                &dev,
            )
        })
    }

    /// Turns on hardware timestamping in `device` (`SIOCSHWTSTAMP`) for received frames
    /// (`rx`, every frame) and transmitted ones (`tx`), and makes this ring's frame headers
    /// carry the device's stamps (`PACKET_TIMESTAMP` with `SOF_TIMESTAMPING_RAW_HARDWARE`).
    /// Each packet's [`crate::ExtendedHeader::ts_source`] then says which stamp it has (a
    /// frame the device did not stamp keeps the kernel's software stamp).
    /// [`Ring::send_get_time`] returns the hardware transmit stamp once `tx` is on.
    ///
    /// `rx` and `tx` both false turns hardware stamping off again.
    ///
    /// # Errors
    /// [`Error::HardwareNotSupported`] when the device cannot stamp in hardware (veth,
    /// virtio-net, loopback: check with `ethtool -T <device>`), [`Error::PermissionDenied`]
    /// without `CAP_NET_ADMIN`, [`Error::NoSuchDevice`], [`Error::NotSupported`] on a
    /// capture file.
    #[doc(alias = "pfring_enable_hw_timestamp")]
    pub fn enable_hw_timestamp(&mut self, device: &str, rx: bool, tx: bool) -> Result<()> {
        self.hw_timestamp_backend()?;
        let info = ts_info(device)?;
        if rx && !info.hw_rx() {
            return Err(Error::HardwareNotSupported {
                device: device.to_owned(),
                feature: "hardware RX timestamping",
                missing: ethtool_hint(
                    device,
                    "no hardware-receive + hardware-raw-clock capability with the `all` filter",
                ),
            });
        }
        if tx && !info.hw_tx() {
            return Err(Error::HardwareNotSupported {
                device: device.to_owned(),
                feature: "hardware TX timestamping",
                missing: ethtool_hint(
                    device,
                    "no hardware-transmit + hardware-raw-clock capability with TX type `on`",
                ),
            });
        }
        clock::set_hw_timestamping(device, rx, tx).map_err(|e| match e.raw_os_error() {
            Some(libc::EOPNOTSUPP) | Some(libc::ERANGE) | Some(libc::EINVAL) => {
                Error::HardwareNotSupported {
                    device: device.to_owned(),
                    feature: "hardware timestamping",
                    missing: format!("the driver refused SIOCSHWTSTAMP ({e})"),
                }
            }
            _ => Error::from_os(
                "ioctl(SIOCSHWTSTAMP)",
                e,
                "enabling hardware timestamps",
                "CAP_NET_ADMIN",
                device,
            ),
        })?;
        let flags = if rx { SOF_RAW_HARDWARE } else { SOF_SOFTWARE };
        for b in self.backend.sockets_mut() {
            if b.ifname.as_deref() == Some(device) {
                b.sock
                    .set_packet_timestamp(flags)
                    .map_err(|source| SyscallError {
                        call: "setsockopt(PACKET_TIMESTAMP)",
                        source,
                    })?;
            }
        }
        Ok(())
    }

    /// Hardware RX stamps on every device of the ring ([`super::RingBuilder::hw_timestamp`]).
    pub(super) fn enable_hw_timestamp_all(&mut self) -> Result<()> {
        self.hw_timestamp_backend()?;
        let mut devices = Vec::new();
        for b in self.backend.sockets() {
            match &b.ifname {
                Some(n) => devices.push(n.clone()),
                None => {
                    return Err(Error::NotSupported {
                        op: "hardware timestamps",
                        backend: "packet (bound to `any` or `none`)",
                    });
                }
            }
        }
        for d in devices {
            self.enable_hw_timestamp(&d, true, false)?;
        }
        Ok(())
    }

    /// The time of the device's PTP hardware clock.
    ///
    /// # Errors
    /// [`Error::HardwareNotSupported`] when the device has no PTP clock (veth, virtio-net:
    /// `ethtool -T` shows `PTP Hardware Clock: none`), [`Error::NotSupported`] on rings not
    /// bound to exactly one device.
    #[doc(alias = "pfring_get_device_clock")]
    pub fn get_device_clock(&self) -> Result<Timestamp> {
        let clk = self.device_clock("reading the device clock")?;
        let (sec, nsec) = clk.get().map_err(|source| SyscallError {
            call: "clock_gettime(PTP clock)",
            source,
        })?;
        Ok(Timestamp {
            sec: u64::try_from(sec).unwrap_or(0),
            nsec: nsec as u32,
        })
    }

    /// Sets the device's PTP hardware clock to `ts`.
    ///
    /// # Errors
    /// As [`Ring::get_device_clock`]; [`Error::PermissionDenied`] without write access.
    #[doc(alias = "pfring_set_device_clock")]
    pub fn set_device_clock(&mut self, ts: Timestamp) -> Result<()> {
        if ts.nsec >= 1_000_000_000 {
            return Err(Error::InvalidArgument(format!(
                "clock time {}.{} has nsec >= 1e9",
                ts.sec, ts.nsec
            )));
        }
        let sec = i64::try_from(ts.sec)
            .map_err(|_| Error::InvalidArgument(format!("clock time {} s too large", ts.sec)))?;
        let clk = self.device_clock("setting the device clock")?;
        clk.set(sec, i64::from(ts.nsec)).map_err(|e| {
            Error::from_os(
                "clock_settime(PTP clock)",
                e,
                "setting the device clock",
                "CAP_SYS_TIME",
                self.device(),
            )
        })
    }

    /// Steps the device's PTP hardware clock by `offset`: forward when `sign` ≥ 0, back when
    /// `sign` < 0 (PF_RING's `sign` argument).
    ///
    /// # Errors
    /// As [`Ring::set_device_clock`].
    #[doc(alias = "pfring_adjust_device_clock")]
    pub fn adjust_device_clock(&mut self, offset: Duration, sign: i8) -> Result<()> {
        let ns = i64::try_from(offset.as_nanos())
            .map_err(|_| Error::InvalidArgument(format!("clock offset {offset:?} too large")))?;
        let ns = if sign < 0 { -ns } else { ns };
        let clk = self.device_clock("adjusting the device clock")?;
        clk.step(ns).map_err(|e| {
            Error::from_os(
                "clock_adjtime(PTP clock, ADJ_SETOFFSET)",
                e,
                "adjusting the device clock",
                "CAP_SYS_TIME",
                self.device(),
            )
        })
    }

    /// The timestamp of the next packet in nanoseconds since the epoch, without consuming it
    /// (the raw form of [`Ring::next_packet_time`]); `None` when nothing is queued.
    #[doc(alias = "pfring_next_pkt_raw_timestamp")]
    pub fn next_packet_raw_timestamp(&mut self) -> Option<u64> {
        self.next_packet_time().map(Timestamp::as_nanos)
    }
}
