//! Hardware timestamping and PTP hardware clocks.
//!
//! - `ETHTOOL_GET_TS_INFO` tells what a device can stamp and which PTP clock (`/dev/ptpN`)
//!   belongs to it (what `ethtool -T <dev>` prints).
//! - `SIOCSHWTSTAMP` turns the device's RX / TX stamping on
//!   (Documentation/networking/timestamping.rst, "Hardware Timestamping Configuration").
//! - A PTP clock is a character device whose file descriptor doubles as a dynamic POSIX clock
//!   id: `clock_gettime` / `clock_settime` / `clock_adjtime` on `FD_TO_CLOCKID(fd)`
//!   (Documentation/driver-api/ptp.rst).
//!
//! # Safety
//! Every `unsafe` block is a plain system call on structures owned by the calling frame; the
//! clock id is derived from an fd this module keeps open for as long as it is used.

use std::fs::{File, OpenOptions};
use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, OwnedFd};

use super::cvt;
use super::iface::{ctl_socket, ifreq};

/// `SOF_TIMESTAMPING_TX_HARDWARE`.
pub const SOF_TX_HARDWARE: u32 = 1 << 0;
/// `SOF_TIMESTAMPING_TX_SOFTWARE`.
pub const SOF_TX_SOFTWARE: u32 = 1 << 1;
/// `SOF_TIMESTAMPING_RX_HARDWARE`.
pub const SOF_RX_HARDWARE: u32 = 1 << 2;
/// `SOF_TIMESTAMPING_RX_SOFTWARE`.
#[cfg(test)]
pub const SOF_RX_SOFTWARE: u32 = 1 << 3;
/// `SOF_TIMESTAMPING_SOFTWARE`.
pub const SOF_SOFTWARE: u32 = 1 << 4;
/// `SOF_TIMESTAMPING_RAW_HARDWARE`.
pub const SOF_RAW_HARDWARE: u32 = 1 << 6;

/// `HWTSTAMP_TX_ON` (a bit position in `ethtool_ts_info.tx_types`, a value in the config).
const HWTSTAMP_TX_OFF: i32 = 0;
const HWTSTAMP_TX_ON: i32 = 1;
/// `HWTSTAMP_FILTER_NONE` / `HWTSTAMP_FILTER_ALL`.
const HWTSTAMP_FILTER_NONE: i32 = 0;
const HWTSTAMP_FILTER_ALL: i32 = 1;

const ETHTOOL_GET_TS_INFO: u32 = 0x41;

#[repr(C)]
#[derive(Default)]
struct EthtoolTsInfo {
    cmd: u32,
    so_timestamping: u32,
    phc_index: i32,
    tx_types: u32,
    tx_reserved: [u32; 3],
    rx_filters: u32,
    rx_reserved: [u32; 3],
}

const _: () = assert!(size_of::<EthtoolTsInfo>() == 44);

/// What a device can timestamp (`ethtool -T`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TsInfo {
    /// `SOF_TIMESTAMPING_*` capabilities.
    pub so_timestamping: u32,
    /// The PTP hardware clock's index (`/dev/ptpN`), `None` when the device has none.
    pub phc_index: Option<u32>,
    /// Bit `HWTSTAMP_TX_*` set for each supported transmit mode.
    pub tx_types: u32,
    /// Bit `HWTSTAMP_FILTER_*` set for each supported receive filter.
    pub rx_filters: u32,
}

impl TsInfo {
    /// The device stamps received frames in hardware, all of them.
    pub fn hw_rx(&self) -> bool {
        self.so_timestamping & (SOF_RX_HARDWARE | SOF_RAW_HARDWARE)
            == (SOF_RX_HARDWARE | SOF_RAW_HARDWARE)
            && self.rx_filters & (1 << HWTSTAMP_FILTER_ALL) != 0
    }

    /// The device stamps transmitted frames in hardware.
    pub fn hw_tx(&self) -> bool {
        self.so_timestamping & (SOF_TX_HARDWARE | SOF_RAW_HARDWARE)
            == (SOF_TX_HARDWARE | SOF_RAW_HARDWARE)
            && self.tx_types & (1 << HWTSTAMP_TX_ON) != 0
    }
}

/// `ETHTOOL_GET_TS_INFO` for `dev`. Devices whose driver does not answer get the kernel's
/// default (software stamps, no clock), as `ethtool -T` shows for them.
pub fn ts_info(dev: &str) -> io::Result<TsInfo> {
    let sock = ctl_socket()?;
    let mut req = ifreq(dev)?;
    let mut info = EthtoolTsInfo {
        cmd: ETHTOOL_GET_TS_INFO,
        ..Default::default()
    };
    req.ifr_ifru.ifru_data = (&raw mut info).cast();
    // SAFETY: `req` points at a live ethtool_ts_info for the duration of the call.
    cvt(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCETHTOOL, &mut req) })?;
    Ok(TsInfo {
        so_timestamping: info.so_timestamping,
        phc_index: u32::try_from(info.phc_index).ok(),
        tx_types: info.tx_types,
        rx_filters: info.rx_filters,
    })
}

/// `SIOCSHWTSTAMP`: stamps every received frame (`rx`) and transmitted frames (`tx`) in the
/// device, or turns stamping off.
pub fn set_hw_timestamping(dev: &str, rx: bool, tx: bool) -> io::Result<()> {
    let sock = ctl_socket()?;
    let mut req = ifreq(dev)?;
    let mut cfg = libc::hwtstamp_config {
        flags: 0,
        tx_type: if tx { HWTSTAMP_TX_ON } else { HWTSTAMP_TX_OFF },
        rx_filter: if rx {
            HWTSTAMP_FILTER_ALL
        } else {
            HWTSTAMP_FILTER_NONE
        },
    };
    req.ifr_ifru.ifru_data = (&raw mut cfg).cast();
    // SAFETY: `req` points at a live hwtstamp_config for the duration of the call.
    cvt(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSHWTSTAMP, &mut req) })?;
    Ok(())
}

/// A PTP hardware clock (`/dev/ptpN`), read and set through its dynamic clock id.
#[derive(Debug)]
pub struct PtpClock {
    fd: OwnedFd,
}

/// `FD_TO_CLOCKID` from Documentation/driver-api/ptp.rst: `((~fd) << 3) | CLOCKFD`.
fn fd_to_clockid(fd: i32) -> libc::clockid_t {
    ((!fd) << 3) | 3
}

impl PtpClock {
    /// Opens `/dev/ptp<index>` for reading and setting.
    pub fn open(index: u32) -> io::Result<Self> {
        let f: File = OpenOptions::new()
            .read(true)
            .write(true)
            .open(format!("/dev/ptp{index}"))?;
        Ok(PtpClock { fd: f.into() })
    }

    fn id(&self) -> libc::clockid_t {
        fd_to_clockid(self.fd.as_raw_fd())
    }

    /// `clock_gettime`: `(sec, nsec)`.
    pub fn get(&self) -> io::Result<(i64, i64)> {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a live timespec; the clock id names our open fd.
        cvt(unsafe { libc::clock_gettime(self.id(), &mut ts) })?;
        Ok((ts.tv_sec, ts.tv_nsec))
    }

    /// `clock_settime`.
    pub fn set(&self, sec: i64, nsec: i64) -> io::Result<()> {
        let ts = libc::timespec {
            tv_sec: sec,
            tv_nsec: nsec,
        };
        // SAFETY: `ts` is a live timespec; the clock id names our open fd.
        cvt(unsafe { libc::clock_settime(self.id(), &ts) })?;
        Ok(())
    }

    /// `clock_adjtime(ADJ_SETOFFSET | ADJ_NANO)`: steps the clock by `offset_ns` (negative
    /// steps back).
    pub fn step(&self, offset_ns: i64) -> io::Result<()> {
        // SAFETY: all-zero is a valid timex.
        let mut tx: libc::timex = unsafe { std::mem::zeroed() };
        tx.modes = libc::ADJ_SETOFFSET | libc::ADJ_NANO;
        let (sec, nsec) = split_offset(offset_ns);
        tx.time.tv_sec = sec;
        // With ADJ_NANO the "usec" field holds nanoseconds.
        tx.time.tv_usec = nsec;
        // SAFETY: `tx` is a live timex; the clock id names our open fd.
        cvt(unsafe { libc::clock_adjtime(self.id(), &mut tx) })?;
        Ok(())
    }
}

/// Splits a signed nanosecond offset into the `(sec, nsec)` the kernel expects for
/// `ADJ_SETOFFSET`: `nsec` in `0..1e9`, `sec` carrying the sign (−1.5 s is `(-2, 500_000_000)`).
pub fn split_offset(offset_ns: i64) -> (i64, i64) {
    (
        offset_ns.div_euclid(1_000_000_000),
        offset_ns.rem_euclid(1_000_000_000),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_split_like_the_kernel_wants() {
        assert_eq!(split_offset(0), (0, 0));
        assert_eq!(split_offset(1_500_000_000), (1, 500_000_000));
        assert_eq!(split_offset(-1_500_000_000), (-2, 500_000_000));
        assert_eq!(split_offset(-1), (-1, 999_999_999));
        assert_eq!(split_offset(-1_000_000_000), (-1, 0));
    }

    #[test]
    fn clock_ids_follow_fd_to_clockid() {
        // From the kernel's ptp.rst example: fd 3 -> ((~3) << 3) | 3 = -29.
        assert_eq!(fd_to_clockid(3), -29);
    }

    #[test]
    fn capabilities_need_both_the_flag_and_the_mode() {
        let sw = TsInfo {
            so_timestamping: SOF_RX_SOFTWARE | SOF_SOFTWARE | SOF_TX_SOFTWARE,
            phc_index: None,
            tx_types: 0,
            rx_filters: 0,
        };
        assert!(!sw.hw_rx() && !sw.hw_tx());
        let hw = TsInfo {
            so_timestamping: SOF_RX_HARDWARE | SOF_TX_HARDWARE | SOF_RAW_HARDWARE,
            phc_index: Some(0),
            tx_types: 1 << HWTSTAMP_TX_ON,
            rx_filters: 1 << HWTSTAMP_FILTER_ALL,
        };
        assert!(hw.hw_rx() && hw.hw_tx());
        let rx_ptp_only = TsInfo {
            rx_filters: 1 << 12,
            ..hw
        };
        assert!(!rx_ptp_only.hw_rx());
    }

    #[test]
    fn loopback_has_no_hardware_clock() {
        // `lo` exists in every namespace; its driver gives the kernel defaults.
        match ts_info("lo") {
            Ok(i) => {
                assert_eq!(i.phc_index, None);
                assert!(!i.hw_rx());
            }
            Err(e) => assert_eq!(e.raw_os_error(), Some(libc::EOPNOTSUPP)),
        }
    }
}
