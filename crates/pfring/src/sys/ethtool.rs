//! ethtool n-tuple flow rules (`ETHTOOL_SRXCLSRLINS` / `ETHTOOL_SRXCLSRLDEL`): NIC
//! hardware filters, for `add_hw_rule`. Layouts from `linux/ethtool.h`
//! (`struct ethtool_rxnfc`, `struct ethtool_rx_flow_spec`).

use std::io;
use std::os::fd::AsRawFd;

use super::iface::{ctl_socket, ifreq};

const ETHTOOL_SRXCLSRLDEL: u32 = 0x31;
const ETHTOOL_SRXCLSRLINS: u32 = 0x32;

/// `FLOW_EXT`: the `h_ext` / `m_ext` fields (VLAN) are used.
pub(crate) const FLOW_EXT: u32 = 0x8000_0000;

/// `struct ethtool_flow_ext`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct FlowExt {
    padding: [u8; 2],
    h_dest: [u8; 6],
    vlan_etype: u16,
    /// VLAN TCI, network byte order.
    pub(crate) vlan_tci: u16,
    data: [u32; 2],
}

/// `struct ethtool_rx_flow_spec`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct FlowSpec {
    /// `TCP_V4_FLOW`, ... (| [`FLOW_EXT`]).
    pub(crate) flow_type: u32,
    /// The header fields (`union ethtool_flow_union`), network byte order.
    pub(crate) h_u: [u8; 52],
    pub(crate) h_ext: FlowExt,
    /// Which bits of `h_u` are compared (1 = compare).
    pub(crate) m_u: [u8; 52],
    pub(crate) m_ext: FlowExt,
    /// RX queue, or `RX_CLS_FLOW_DISC` (all ones) to drop.
    pub(crate) ring_cookie: u64,
    /// Rule slot.
    pub(crate) location: u32,
}

impl Default for FlowSpec {
    fn default() -> Self {
        FlowSpec {
            flow_type: 0,
            h_u: [0; 52],
            h_ext: FlowExt::default(),
            m_u: [0; 52],
            m_ext: FlowExt::default(),
            ring_cookie: 0,
            location: 0,
        }
    }
}

/// `struct ethtool_rxnfc` (without the flexible `rule_locs`).
#[repr(C)]
struct Rxnfc {
    cmd: u32,
    flow_type: u32,
    data: u64,
    fs: FlowSpec,
    rule_cnt: u32,
}

const _: () = assert!(size_of::<FlowExt>() == 20);
const _: () = assert!(size_of::<FlowSpec>() == 168);
const _: () = assert!(size_of::<Rxnfc>() == 192);

fn call(dev: &str, nfc: &mut Rxnfc) -> io::Result<()> {
    let sock = ctl_socket()?;
    let mut req = ifreq(dev)?;
    req.ifr_ifru.ifru_data = (nfc as *mut Rxnfc).cast();
    // SAFETY: `req` points at a live, fully initialised ethtool_rxnfc for the duration of
    // the call; the kernel reads (and may write) only within its size.
    let r = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCETHTOOL, &mut req) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Inserts flow rule `fs` on `dev` (`ETHTOOL_SRXCLSRLINS`).
pub(crate) fn insert_rule(dev: &str, fs: &FlowSpec) -> io::Result<()> {
    let mut nfc = Rxnfc {
        cmd: ETHTOOL_SRXCLSRLINS,
        flow_type: fs.flow_type,
        data: 0,
        fs: *fs,
        rule_cnt: 0,
    };
    call(dev, &mut nfc)
}

/// Deletes the flow rule at `location` on `dev` (`ETHTOOL_SRXCLSRLDEL`).
pub(crate) fn delete_rule(dev: &str, location: u32) -> io::Result<()> {
    let mut nfc = Rxnfc {
        cmd: ETHTOOL_SRXCLSRLDEL,
        flow_type: 0,
        data: 0,
        fs: FlowSpec {
            location,
            ..FlowSpec::default()
        },
        rule_cnt: 0,
    };
    call(dev, &mut nfc)
}
