//! # pfring: PF_RING's capture and transmit API, on the facilities Linux already has
//!
//! A Rust re-implementation of the PF_RING 5.4 library: same concepts, same names (each Rust
//! item carries `#[doc(alias = "pfring_...")]`), no kernel module and no licence key.
//!
//! ## Layers
//!
//! | layer | module | what it does |
//! |---|---|---|
//! | device names | [`device`] | the one parser of `eth0@1-3`, `xdp:eth0@2`, `zc:10@0`, ... |
//! | filters | [`filter`] | pcap-filter → classic BPF compiler, optimizer, interpreter |
//! | public handle | `ring` | `RingBuilder` → `Ring`: open, enable, recv, stats, ... |
//! | backends | `backend` | AF_PACKET TPACKET_V3 (the default module), later AF_XDP, files, ZC |
//! | system calls | `sys` | the only place with `unsafe`: sockets, mmap, ring views |
//!
//! ## Minimum kernel
//!
//! The default module needs TPACKET_V3 (Linux 3.2) and `PACKET_FANOUT` (3.1); this crate is
//! tested on Linux 6.x.
#![deny(unsafe_code)]
#![deny(missing_docs)]

pub mod device;
pub mod error;
pub mod filter;

pub use device::DeviceSpec;
pub use error::{Error, Result, SyscallError};
pub use filter::{FilterError, Program as BpfProgram, Target as BpfTarget};
