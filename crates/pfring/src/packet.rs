//! Received packets: the header PF_RING hands out (`struct pfring_pkthdr`) and the zero-copy
//! packet handle.

use std::fmt;

use crate::sys::tpacket::{RawFrame, RxRing};

/// A capture timestamp with nanosecond resolution.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    /// Seconds since the Unix epoch.
    pub sec: u64,
    /// Nanoseconds within the second (0..1_000_000_000).
    pub nsec: u32,
}

impl Timestamp {
    /// Nanoseconds since the Unix epoch.
    pub fn as_nanos(self) -> u64 {
        self.sec.saturating_mul(1_000_000_000) + u64::from(self.nsec)
    }

    /// Microseconds within the second (what a `struct timeval` holds).
    pub fn usec(self) -> u32 {
        self.nsec / 1000
    }

    /// From nanoseconds since the epoch.
    pub fn from_nanos(ns: u64) -> Self {
        Timestamp {
            sec: ns / 1_000_000_000,
            nsec: (ns % 1_000_000_000) as u32,
        }
    }
}

impl fmt::Display for Timestamp {
    /// `sec.nnnnnnnnn`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:09}", self.sec, self.nsec)
    }
}

/// Where a packet's timestamp came from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TimestampSource {
    /// The kernel's software clock (`CLOCK_REALTIME` when the frame was received), or the
    /// time recorded in a capture file.
    #[default]
    Software,
    /// The device's hardware clock (the ring asked for hardware stamps with
    /// [`crate::Ring::enable_hw_timestamp`] and the device stamped this frame).
    Hardware,
}

/// Direction of a captured frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PacketDirectionSeen {
    /// Received by the interface.
    Rx,
    /// Transmitted by this host.
    Tx,
}

/// The extended part of the header (`struct pfring_extended_pkthdr`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[doc(alias = "pfring_extended_pkthdr")]
pub struct ExtendedHeader {
    /// The timestamp in nanoseconds since the epoch.
    pub timestamp_ns: u64,
    /// `PKT_FLAGS_*` bits (`PKT_FLAGS_VLAN_HWACCEL` when the tag was stripped by the NIC and
    /// put back into the bytes).
    pub flags: u32,
    /// `true` for received frames, `false` for frames this host transmitted (PF_RING's
    /// `rx_direction` 1 / 0).
    pub rx_direction: bool,
    /// Interface index the frame was seen on.
    pub if_index: i32,
    /// PF_RING's packet hash (symmetric over source and destination): filled on rings opened
    /// with the long header ([`crate::RingBuilder::long_header`]) and by
    /// [`crate::Ring::recv_parsed`]; 0 otherwise, so rings without it pay no parsing cost.
    pub pkt_hash: u32,
    /// The VLAN TCI the kernel stripped, if any (it is also reinserted in the bytes).
    pub vlan_tci: Option<u16>,
    /// Whether `timestamp_ns` (and the header's `ts`) is a software or a hardware stamp.
    pub ts_source: TimestampSource,
}

/// `PKT_FLAGS_VLAN_HWACCEL`.
pub const PKT_FLAGS_VLAN_HWACCEL: u32 = 1 << 4;

/// What PF_RING's `struct pfring_pkthdr` carries for each packet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[doc(alias = "pfring_pkthdr")]
pub struct PacketHeader {
    /// Capture time.
    pub ts: Timestamp,
    /// Bytes captured (≤ the ring's caplen).
    pub caplen: u32,
    /// Bytes on the wire.
    pub len: u32,
    /// The extended header.
    pub extended_hdr: ExtendedHeader,
}

/// A received packet borrowed from the ring: its bytes are the ring's memory (zero copy), and
/// its slot goes back to the kernel when it is dropped.
#[doc(alias = "pfring_recv")]
pub struct Packet<'ring> {
    pub(crate) header: PacketHeader,
    pub(crate) source: Source<'ring>,
}

/// Where a packet's bytes live.
pub(crate) enum Source<'a> {
    /// A frame in a TPACKET_V3 block; the block is handed back on drop.
    Tpacket {
        ring: &'a mut RxRing,
        frame: RawFrame,
        caplen: u32,
    },
    /// Bytes in a backend's own buffer (a capture file's current record).
    Buffer(&'a [u8]),
    /// A `zc:` cluster buffer; it goes back to the cluster's pool on drop.
    Zc(&'a mut crate::backend::zc::ZcBackend),
    /// A frame in an AF_XDP UMEM; the frame goes back to the fill ring on drop.
    Xdp {
        rx: &'a mut crate::backend::xdp::XdpRx,
        frame: RawFrame,
        caplen: u32,
    },
}

impl Packet<'_> {
    /// The header.
    pub fn header(&self) -> &PacketHeader {
        &self.header
    }

    /// The captured bytes (`header().caplen` of them).
    pub fn data(&self) -> &[u8] {
        match &self.source {
            Source::Tpacket {
                ring,
                frame,
                caplen,
            } => ring.frame_bytes(frame, *caplen),
            Source::Buffer(b) => b,
            Source::Zc(z) => z.data(),
            Source::Xdp { rx, frame, caplen } => rx.frame_bytes(frame, *caplen),
        }
    }

    /// Parses the packet's headers up to `level` (2..=5, see [`crate::parse::parse_packet`]),
    /// with PF_RING's hash filled in.
    #[doc(alias = "pfring_parse_pkt")]
    pub fn parse(&self, level: u8) -> crate::parse::ParsedPacket {
        let (mut p, _) = crate::parse::ParsedPacket::parse(self.data(), level);
        p.add_hash();
        p
    }

    /// Copies the packet out of the ring.
    pub fn to_owned_packet(&self) -> OwnedPacket {
        OwnedPacket {
            header: self.header,
            data: self.data().to_vec(),
        }
    }
}

impl fmt::Debug for Packet<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Packet")
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

impl Drop for Packet<'_> {
    fn drop(&mut self) {
        match &mut self.source {
            Source::Tpacket { ring, .. } => ring.release(),
            Source::Buffer(_) => {}
            Source::Zc(z) => z.release_current(),
            Source::Xdp { rx, frame, .. } => rx.recycle(frame),
        }
    }
}

/// A packet copied out of the ring, for callers that keep packets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnedPacket {
    /// The header.
    pub header: PacketHeader,
    /// The captured bytes.
    pub data: Vec<u8>,
}
