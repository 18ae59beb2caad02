//! # pfring-zc: a zero-copy packet cluster and bouncer
//!
//! A free rebuild of PF_RING's libzero **DNA Cluster** and **DNA Bouncer** on plain Linux
//! facilities:
//!
//! - **Shared memory** ([`Cluster::create`]): one memfd (huge pages when the system has
//!   them, 4 KiB pages otherwise with a note on stderr), mode 0600, announced by a
//!   descriptor file in the runtime directory (`/run/pfring/zc` for root,
//!   `$XDG_RUNTIME_DIR/pfring/zc` otherwise, `$PFRING_ZC_DIR` to override). Slaves of another
//!   user are refused with [`Error::PermissionDenied`].
//! - **Buffer pool**: fixed-size packet buffers; the master keeps the free list and who holds
//!   each buffer in private memory; slaves give buffers back through per-slave return
//!   queues, so no lock is shared across processes.
//! - **SPSC queues** of buffer indices: head and tail on separate cache lines; all
//!   positions and indices read from shared memory are validated (the peer is untrusted).
//! - **Master** ([`Cluster`]): pulls bursts from a [`PacketSource`], runs a distribution
//!   function ([`Distribution`]: bidirectional IP hash by default, fan-out, round robin, or
//!   a closure returning [`Verdict`]s), queues buffer indices; a full slave queue drops
//!   for that slave only. Dead slaves are noticed by pid and their queue recycled.
//! - **Slave** ([`Slave`]): attach to `cluster@queue`, receive buffers without copying,
//!   allocate, release and send buffers; a dead master is reported as
//!   [`Error::MasterGone`] within 100 ms while waiting.
//!
//! ```
//! use pfring_zc::{Cluster, ClusterConfig, Distribution, PacketSource};
//! # fn main() -> pfring_zc::Result<()> {
//! struct Two;
//! impl PacketSource for Two {
//!     fn recv_burst(&mut self, _max: usize, f: &mut dyn FnMut(&[u8], u64)) -> pfring_zc::Result<usize> {
//!         f(&[0u8; 60], 1);
//!         f(&[1u8; 60], 2);
//!         Ok(2)
//!     }
//! }
//! let cfg = ClusterConfig { queue_len: 64, ..Default::default() };
//! let mut master = Cluster::in_process(1, 2, cfg)?;
//! master.set_distribution(Distribution::FanOut);
//! master.enable();
//! let mut slave = master.slave(1)?;
//! master.poll(&mut Two, None)?;
//! let p = slave.recv(false)?.expect("a packet");
//! assert_eq!(p.data(), &[0u8; 60]);
//! # Ok(()) }
//! ```
#![deny(unsafe_code)]
#![deny(missing_docs)]

pub mod bouncer;
mod cluster;
mod error;
mod hash;
mod layout;
pub mod proc;
mod queue;
mod shm;
mod slave;
#[allow(unsafe_code)]
mod sys;

pub use bouncer::{Bouncer, BouncerMode, BouncerStats, BreakLoop, Decision};
pub use cluster::{
    Action, Cluster, ClusterConfig, ClusterMode, ClusterStats, Distribution, DistributionFn,
    PacketSink, PacketSource, QueueStats, Sources, Verdict, WaitMode,
};
pub use error::{Error, Result};
pub use hash::{HashMode, bidirectional_hash};
pub use layout::{MAX_EGRESS, MAX_QUEUES};
pub use shm::{DIR_ENV, descriptor_path, runtime_dir};
pub use slave::{Buffer, Packet, Slave, SlaveStats};
