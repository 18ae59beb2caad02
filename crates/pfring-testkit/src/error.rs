//! The error type of the test kit.

use std::io;

/// Everything that can go wrong while building a test host or moving frames.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The operation needs a privilege (capability) the process does not have.
    #[error("{op}: permission denied (needs {needs})")]
    PermissionDenied {
        /// What was attempted.
        op: &'static str,
        /// The capability or condition that is missing, e.g. `CAP_SYS_ADMIN`.
        needs: &'static str,
    },
    /// A system call failed.
    #[error("{call}: {source}")]
    Syscall {
        /// The call, with its main argument, e.g. `unshare(CLONE_NEWNET)`.
        call: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// An external command (`ip`) could not be run or exited unsuccessfully.
    #[error("`{cmd}` failed: {reason}")]
    Command {
        /// The command line.
        cmd: String,
        /// Exit status and standard error, or the spawn error.
        reason: String,
    },
    /// An operation that must run inside a test namespace was called outside of it.
    #[error("{op}: the current thread is not inside the test network namespace")]
    WrongNamespace {
        /// What was attempted.
        op: &'static str,
    },
    /// An argument was out of range or malformed.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

/// Result alias of the test kit.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps an OS error from `call`.
    pub(crate) fn sys(call: impl Into<String>, source: io::Error) -> Self {
        Error::Syscall {
            call: call.into(),
            source,
        }
    }

    /// Like [`Error::sys`], but maps `EPERM`/`EACCES` to [`Error::PermissionDenied`].
    pub(crate) fn sys_perm(op: &'static str, needs: &'static str, source: io::Error) -> Self {
        match source.raw_os_error() {
            Some(libc::EPERM) | Some(libc::EACCES) => Error::PermissionDenied { op, needs },
            _ => Error::Syscall {
                call: op.to_string(),
                source,
            },
        }
    }
}
