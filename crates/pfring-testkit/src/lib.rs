//! Test hosts for pfring-rs live tests.
//!
//! Live tests build their own little network: a fresh **network namespace** entered by the test
//! thread ([`NetNs`]), a **veth pair** inside it ([`VethPair`]), and real frames sent across
//! ([`RawSender`], [`RawReceiver`], [`FrameBuilder`]). Nothing touches the host's interfaces:
//! the namespace is anonymous, so when the guard drops (or the test process dies) the kernel
//! removes it with everything in it.
//!
//! - [`require_privileged!`] / [`privileged_or_skip`]: skip with a reason without root /
//!   `CAP_NET_ADMIN` / netns support, or fail when `PFRING_REQUIRE_PRIVILEGED=1`.
//! - [`NetNs`]: `unshare(CLONE_NEWNET)` for the current thread, restored on drop (and unwind);
//!   [`NetNs::run_in`], [`NetNs::command`] and [`NetNsHandle`] reach it from other threads and
//!   child processes.
//! - [`VethPair`]: `ip link add A type veth peer name B`, up, quiet (no IPv6 chatter), optional
//!   MTU / MAC addresses / queue count; [`veth`] has small interface helpers.
//! - [`RawSender`] / [`RawReceiver`]: plain `AF_PACKET` sockets bound to one interface.
//! - [`FrameBuilder`] / [`udp_frame`]: Ethernet / 802.1Q / IPv4 / UDP or TCP frames with correct
//!   checksums and a sequence number in the payload.
//! - [`run_as_nobody`]: run a child as `nobody` without groups or capabilities.
//! - [`queues`]: steering frames onto one RX queue of a multi-queue veth, and receiving one queue.
//!
//! Linux facts worth knowing (they shape this API):
//!
//! - A network namespace belongs to a **thread**, not a process. `NetNs` is therefore `!Send`;
//!   threads spawned from inside a namespace start inside it, threads that already existed stay
//!   where they were, and child processes start in the namespace of the thread that spawned them.
//! - Sockets stay in the namespace they were created in, whatever thread uses them later.
//! - `/proc/sys/net` shows the namespace of the thread that reads it; `/sys/class/net` shows the
//!   namespace of whoever mounted `/sys` (the host's), so this crate never reads `/sys`.
//! - On receive the kernel moves an outer VLAN tag into skb metadata; a plain `AF_PACKET` read
//!   returns the frame without it. [`RawReceiver`] reinserts it from `PACKET_AUXDATA`.
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//! use pfring_testkit::{NetNs, RawReceiver, RawSender, VethPair, require_privileged, udp_frame};
//!
//! #[test]
//! fn frames_cross() {
//!     require_privileged!();
//!     let ns = NetNs::new().unwrap(); // this thread is now in a fresh namespace
//!     let veth = VethPair::new(&ns, "pa", "pb").unwrap();
//!     let rx = RawReceiver::new(veth.b()).unwrap();
//!     let tx = RawSender::new(veth.a()).unwrap();
//!     let frames: Vec<_> = (0..100).map(|i| udp_frame(i, 60)).collect();
//!     tx.send_all(&frames).unwrap();
//!     let got = rx.collect(1000, Duration::from_millis(200), Duration::from_secs(5)).unwrap();
//!     assert_eq!(got.len(), 100);
//!     assert_eq!(got[7].data, frames[7]);
//! } // veth deleted, thread back in its namespace, namespace gone
//! ```
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod error;
pub mod frame;
mod netns;
pub mod packet;
mod privilege;
pub mod queues;
mod sys;
pub mod veth;

pub use error::{Error, Result};
pub use frame::{FrameBuilder, L4, udp_frame, udp_frame_seq};
pub use netns::{Entered, NetNs, NetNsHandle, current_netns_inode};
pub use packet::{PacketType, RawReceiver, RawSender, Received};
pub use privilege::{
    NOBODY, REQUIRE_PRIVILEGED_ENV, privilege_problem, privileged_or_skip, run_as_nobody,
};
pub use veth::{VethBuilder, VethPair, ifindex, mac};
