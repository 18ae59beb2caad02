//! Several devices on one ring: `eth0,eth1`, `eth0;eth1` and `multi:eth0;eth1`.
//!
//! Each member device gets its own AF_PACKET TPACKET_V3 socket and RX ring, opened exactly as
//! a single-device ring would be ([`PacketBackend::open`]). For `eth0,eth1@1` the trailing
//! channel mask applies to every member; for `multi:eth0@1;eth1@2` each part has its own.
//!
//! - receive: members are read in turn (round robin over the members that have frames), one
//!   packet per [`crate::Ring::recv`] and one member per [`crate::ring::Burst`], so a busy
//!   device does not starve the others; the header's `if_index` tells the device apart;
//! - waiting: the members' sockets are in one `epoll(7)` set, which is also the ring's
//!   selectable descriptor (readable while any member is);
//! - enable/disable, direction, BPF filter and promiscuous mode apply to every member;
//! - stats: per member ([`crate::Ring::device_stats`]) and summed ([`crate::Ring::stats`]).
//!
//! Not supported (as in PF_RING, which has no transmit on multi-device rings): sending
//! through the ring's TX ring, and clusters.

use std::os::fd::{AsFd, BorrowedFd};

use crate::backend::packet::PacketBackend;
use crate::device::{Interfaces, PacketDevice};
use crate::error::{Error, Result, SyscallError};
use crate::ring::RingConfig;
use crate::sys::socket::EpollSet;
use crate::sys::tpacket::RawFrame;

/// The multi-device backend state.
#[derive(Debug)]
pub(crate) struct MultiBackend {
    /// One single-device backend per member, in the order given.
    pub(crate) members: Vec<PacketBackend>,
    /// Each member's device name (`eth0`, `eth0.100`).
    pub(crate) names: Vec<String>,
    /// Packets handed to the application, per member.
    pub(crate) delivered: Vec<u64>,
    /// The member read first next time.
    next: usize,
    epoll: EpollSet,
}

/// Splits a device list into one single-interface device per member: `parts` are the
/// `;`-separated parts of `multi:` (or the one part of `eth0,eth1`), each with its own mask.
pub(crate) fn members_of(parts: &[PacketDevice]) -> Result<Vec<PacketDevice>> {
    let mut out = Vec::new();
    for part in parts {
        match &part.interfaces {
            Interfaces::List(list) => out.extend(list.iter().map(|itf| PacketDevice {
                interfaces: Interfaces::List(vec![itf.clone()]),
                channels: part.channels,
            })),
            Interfaces::Any | Interfaces::None => {
                return Err(Error::NotSupported {
                    op: "`any` or `none` as a member of a multi-device ring",
                    backend: "multi",
                });
            }
        }
    }
    Ok(out)
}

fn member_name(dev: &PacketDevice) -> String {
    match &dev.interfaces {
        Interfaces::List(list) => list
            .iter()
            .map(|i| match i.vlan {
                Some(v) => format!("{}.{v}", i.name.as_str()),
                None => i.name.as_str().to_owned(),
            })
            .collect::<Vec<_>>()
            .join(","),
        Interfaces::Any => "any".into(),
        Interfaces::None => "none".into(),
    }
}

impl MultiBackend {
    /// Opens one socket per member (see [`members_of`]).
    pub(crate) fn open(members: &[PacketDevice], cfg: &RingConfig) -> Result<Self> {
        let mut backends = Vec::with_capacity(members.len());
        let mut names = Vec::with_capacity(members.len());
        for dev in members {
            let name = member_name(dev);
            backends.push(PacketBackend::open(&name, dev, cfg)?);
            names.push(name);
        }
        let fds: Vec<BorrowedFd<'_>> = backends.iter().map(|b| b.fd()).collect();
        let epoll = EpollSet::new(&fds).map_err(|source| {
            Error::Syscall(SyscallError {
                call: "epoll_ctl",
                source,
            })
        })?;
        Ok(MultiBackend {
            delivered: vec![0; backends.len()],
            members: backends,
            names,
            next: 0,
            epoll,
        })
    }

    /// The next frame, taking members in turn: `(member, frame)`. Members without a frame
    /// hand their read blocks back on the way.
    #[inline]
    pub(crate) fn next_frame(&mut self) -> Option<(usize, RawFrame)> {
        let n = self.members.len();
        for i in 0..n {
            let m = (self.next + i) % n;
            let rx = &mut self.members[m].rx;
            if let Some(f) = rx.next_frame() {
                self.next = (m + 1) % n;
                self.delivered[m] += 1;
                return Some((m, f));
            }
            rx.release();
        }
        None
    }

    /// Up to `out.len()` frames, all from one member (the next one in turn that has frames):
    /// `(member, count)`.
    pub(crate) fn next_burst(&mut self, out: &mut [RawFrame]) -> (usize, usize) {
        let n = self.members.len();
        for i in 0..n {
            let m = (self.next + i) % n;
            let rx = &mut self.members[m].rx;
            let mut got = 0;
            while got < out.len() {
                match rx.next_frame() {
                    Some(f) => {
                        out[got] = f;
                        got += 1;
                    }
                    None => break,
                }
            }
            if got > 0 {
                self.next = (m + 1) % n;
                self.delivered[m] += got as u64;
                return (m, got);
            }
            rx.release();
        }
        (0, 0)
    }

    /// The member the next [`MultiBackend::next_frame`] would read from, if any has a frame.
    pub(crate) fn next_ready(&self) -> Option<usize> {
        let n = self.members.len();
        (0..n)
            .map(|i| (self.next + i) % n)
            .find(|&m| self.members[m].rx.has_frame())
    }

    /// The epoll set of all members.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.epoll.as_fd()
    }
}
