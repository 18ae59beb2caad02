//! The crate's error type.

use std::io;
use std::path::PathBuf;

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// What can go wrong in a cluster, a slave or a bouncer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A system call failed.
    #[error("{call}: {source}")]
    Syscall {
        /// The call (or file operation) that failed.
        call: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// No cluster with this id is running (no descriptor file, or its master is gone).
    #[error("no ZC cluster {id} (looked for {path})")]
    NoSuchCluster {
        /// The cluster id.
        id: u32,
        /// The descriptor file looked for.
        path: PathBuf,
    },
    /// A live master already runs this cluster id.
    #[error("ZC cluster {id} already exists (master pid {pid})")]
    ClusterExists {
        /// The cluster id.
        id: u32,
        /// The pid of the running master.
        pid: u32,
    },
    /// The cluster belongs to another user.
    #[error("ZC cluster {id} belongs to uid {owner}; uid {uid} may not attach ({path})")]
    PermissionDenied {
        /// The cluster id.
        id: u32,
        /// The uid that owns the cluster.
        owner: u32,
        /// This process's effective uid.
        uid: u32,
        /// The descriptor file.
        path: PathBuf,
    },
    /// The queue number is out of range for this cluster.
    #[error("ZC cluster {id} has {num_queues} queues, no queue {queue}")]
    NoSuchQueue {
        /// The cluster id.
        id: u32,
        /// The queue asked for.
        queue: u32,
        /// How many queues the cluster has.
        num_queues: u32,
    },
    /// Another live slave holds the queue.
    #[error("queue {queue} of ZC cluster {id} is held by pid {pid}")]
    QueueBusy {
        /// The cluster id.
        id: u32,
        /// The queue.
        queue: u32,
        /// The pid of the slave holding it.
        pid: u32,
    },
    /// The master of the cluster died or stopped.
    #[error("the master of ZC cluster {id} (pid {pid}) is gone")]
    MasterGone {
        /// The cluster id.
        id: u32,
        /// The master's pid.
        pid: u32,
    },
    /// The shared memory does not hold a valid cluster (bad magic, version or sizes).
    #[error("ZC cluster shared memory is invalid: {reason}")]
    Corrupt {
        /// What did not check out.
        reason: String,
    },
    /// A configuration value is out of range.
    #[error("invalid ZC configuration: {reason}")]
    InvalidConfig {
        /// Which value and why.
        reason: String,
    },
    /// No free packet buffer.
    #[error("no free packet buffer")]
    NoBuffers,
    /// A packet does not fit in a buffer.
    #[error("packet of {len} bytes does not fit a {max}-byte buffer")]
    TooLong {
        /// The length asked for.
        len: usize,
        /// The buffer size.
        max: usize,
    },
    /// A queue toward the master is full; try again.
    #[error("the queue toward the master is full")]
    QueueFull,
    /// The master does not forward this way (no egress configured).
    #[error("no egress: {0}")]
    NoEgress(&'static str),
    /// The cluster's mode ([`crate::ClusterMode`]) does not allow this operation.
    #[error("{op} refused: ZC cluster {id} is in {mode} mode")]
    WrongMode {
        /// The operation.
        op: &'static str,
        /// The cluster id.
        id: u32,
        /// The mode.
        mode: &'static str,
    },
    /// No egress interface with this ifindex was added to the cluster.
    #[error("ZC cluster {id} has no egress interface with ifindex {ifindex}")]
    NoSuchEgress {
        /// The cluster id.
        id: u32,
        /// The ifindex asked for.
        ifindex: u32,
    },
    /// A packet source or sink plugged into the master failed.
    #[error("packet I/O: {0}")]
    PacketIo(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl Error {
    pub(crate) fn sys(call: &'static str, source: io::Error) -> Self {
        Error::Syscall { call, source }
    }

    pub(crate) fn corrupt(reason: impl Into<String>) -> Self {
        Error::Corrupt {
            reason: reason.into(),
        }
    }
}
