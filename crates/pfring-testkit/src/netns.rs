//! Anonymous network namespaces bound to the current thread.

use std::ffi::CStr;
use std::fmt;
use std::marker::PhantomData;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::process::{Child, Command, Output};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::sys;

const THREAD_NS_NET: &CStr = c"/proc/thread-self/ns/net";

/// The inode number of the network namespace the calling thread is in.
///
/// Two threads are in the same network namespace exactly when these numbers match.
pub fn current_netns_inode() -> Result<u64> {
    std::fs::metadata("/proc/thread-self/ns/net")
        .map(|m| m.ino())
        .map_err(|e| Error::sys("stat(/proc/thread-self/ns/net)", e))
}

fn fd_inode(fd: BorrowedFd<'_>) -> Result<u64> {
    let file = std::fs::File::from(fd.try_clone_to_owned().map_err(|e| Error::sys("dup", e))?);
    file.metadata()
        .map(|m| m.ino())
        .map_err(|e| Error::sys("fstat(netns fd)", e))
}

/// A fresh, anonymous network namespace that the **current thread** has entered.
///
/// [`NetNs::new`] remembers the thread's namespace, calls `unshare(CLONE_NEWNET)` (which moves
/// only the calling thread, see `man 2 unshare`), brings `lo` up and keeps a descriptor of the new
/// namespace. Dropping the guard moves the thread back (also while unwinding from a panic).
///
/// The namespace has no name in `/run/netns`: it lives only as long as something refers to it
/// (this guard's descriptor, a thread inside, a [`NetNsHandle`], a process started in it, an open
/// socket). When the test process dies, the kernel tears it down with every veth in it, so a
/// killed test leaves nothing behind.
///
/// The guard is `!Send` and `!Sync`: it changes the state of the thread that made it. To do
/// something in the namespace from another thread use [`NetNs::run_in`], [`NetNs::command`] or a
/// [`NetNsHandle`]. Nest guards only in LIFO order (drop the inner one first).
///
/// ```compile_fail
/// fn needs_send<T: Send>(_: T) {}
/// needs_send(pfring_testkit::NetNs::new().unwrap());
/// ```
pub struct NetNs {
    old: OwnedFd,
    new: Arc<OwnedFd>,
    inode: u64,
    _not_send: PhantomData<*const ()>,
}

impl fmt::Debug for NetNs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NetNs")
            .field("inode", &self.inode)
            .finish_non_exhaustive()
    }
}

impl NetNs {
    /// Creates a new network namespace, moves the current thread into it and brings `lo` up.
    ///
    /// # Errors
    ///
    /// [`Error::PermissionDenied`] (`needs: "CAP_SYS_ADMIN"`) when the process may not create
    /// network namespaces; [`Error::Syscall`] for other failures. On error the thread is in
    /// its original namespace.
    pub fn new() -> Result<NetNs> {
        let old = sys::open_cloexec(THREAD_NS_NET)
            .map_err(|e| Error::sys("open(/proc/thread-self/ns/net)", e))?;
        sys::unshare_net()
            .map_err(|e| Error::sys_perm("unshare(CLONE_NEWNET)", "CAP_SYS_ADMIN", e))?;
        // From here on the thread is in the new namespace: restore it on every error path.
        let restore = |err: Error| -> Error {
            if let Err(e) = sys::setns_net(old.as_fd()) {
                eprintln!("pfring-testkit: cannot return to the original network namespace: {e}");
            }
            err
        };
        let new = sys::open_cloexec(THREAD_NS_NET).map_err(|e| {
            restore(Error::sys(
                "open(/proc/thread-self/ns/net) after unshare",
                e,
            ))
        })?;
        let inode = fd_inode(new.as_fd()).map_err(restore)?;
        sys::if_change_flags("lo", libc::IFF_UP, 0)
            .map_err(|e| restore(Error::sys_perm("bring lo up", "CAP_NET_ADMIN", e)))?;
        Ok(NetNs {
            old,
            new: Arc::new(new),
            inode,
            _not_send: PhantomData,
        })
    }

    /// The inode number of the namespace (see [`current_netns_inode`]).
    pub fn inode(&self) -> u64 {
        self.inode
    }

    /// A descriptor of the namespace (for `setns(2)`).
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.new.as_fd()
    }

    /// Whether the calling thread is inside this namespace right now.
    pub fn is_current(&self) -> bool {
        current_netns_inode().is_ok_and(|ino| ino == self.inode)
    }

    /// Fails with [`Error::WrongNamespace`] unless the calling thread is inside this namespace.
    pub fn ensure_current(&self, op: &'static str) -> Result<()> {
        if self.is_current() {
            Ok(())
        } else {
            Err(Error::WrongNamespace { op })
        }
    }

    /// A `Send + Sync` handle that can enter the namespace from any thread (keeps it alive).
    pub fn handle(&self) -> NetNsHandle {
        NetNsHandle {
            fd: Arc::clone(&self.new),
            inode: self.inode,
        }
    }

    /// Runs `f` on a new scoped thread that is inside the namespace, and returns its result.
    ///
    /// # Errors
    ///
    /// When the thread cannot enter the namespace. A panic in `f` is propagated.
    pub fn run_in<F, R>(&self, f: F) -> Result<R>
    where
        F: FnOnce() -> R + Send,
        R: Send,
    {
        self.handle().run_in(f)
    }

    /// A [`Command`] for `program` whose child enters this namespace before `exec`.
    ///
    /// The namespace switch is a `pre_exec` hook. Hooks run after `Command::uid`/`gid` take
    /// effect, so to run the child as another user use [`crate::run_as_nobody`] (also a hook,
    /// registered after this one) rather than `Command::uid`.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        self.handle().command(program)
    }

    /// Spawns `cmd` so that its child runs inside this namespace (from a helper thread inside it),
    /// whatever hooks or credentials `cmd` has.
    ///
    /// # Errors
    ///
    /// When the helper thread cannot enter the namespace or the spawn fails.
    pub fn spawn(&self, cmd: &mut Command) -> Result<Child> {
        self.handle().spawn(cmd)
    }

    /// Runs `cmd` to completion inside this namespace and collects its output.
    ///
    /// # Errors
    ///
    /// As [`NetNs::spawn`]; the exit status is not checked.
    pub fn output(&self, cmd: &mut Command) -> Result<Output> {
        self.handle().output(cmd)
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        if let Err(e) = sys::setns_net(self.old.as_fd()) {
            // Cannot do better than report: the thread stays in the test namespace, which is
            // harmless for the host (the namespace is private) but wrong for the caller.
            eprintln!("pfring-testkit: cannot restore the thread's network namespace: {e}");
        }
    }
}

/// A shareable reference to a [`NetNs`]'s namespace: enter it from other threads or processes.
///
/// Holding a handle keeps the namespace (and its interfaces) alive.
#[derive(Clone)]
pub struct NetNsHandle {
    fd: Arc<OwnedFd>,
    inode: u64,
}

impl fmt::Debug for NetNsHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NetNsHandle")
            .field("inode", &self.inode)
            .finish_non_exhaustive()
    }
}

impl NetNsHandle {
    /// The inode number of the namespace.
    pub fn inode(&self) -> u64 {
        self.inode
    }

    /// Moves the calling thread into the namespace until the returned guard drops.
    ///
    /// # Errors
    ///
    /// [`Error::PermissionDenied`] without `CAP_SYS_ADMIN`, or another [`Error::Syscall`].
    pub fn enter(&self) -> Result<Entered> {
        let old = sys::open_cloexec(THREAD_NS_NET)
            .map_err(|e| Error::sys("open(/proc/thread-self/ns/net)", e))?;
        sys::setns_net(self.fd.as_fd())
            .map_err(|e| Error::sys_perm("setns(CLONE_NEWNET)", "CAP_SYS_ADMIN", e))?;
        Ok(Entered {
            old,
            _not_send: PhantomData,
        })
    }

    /// Runs `f` on a new scoped thread inside the namespace; see [`NetNs::run_in`].
    ///
    /// # Errors
    ///
    /// When the thread cannot enter the namespace. A panic in `f` is propagated.
    pub fn run_in<F, R>(&self, f: F) -> Result<R>
    where
        F: FnOnce() -> R + Send,
        R: Send,
    {
        std::thread::scope(|s| {
            let thread = std::thread::Builder::new()
                .name("netns-run-in".into())
                .spawn_scoped(s, || -> Result<R> {
                    // The thread ends right after `f`, so there is nothing to restore.
                    sys::setns_net(self.fd.as_fd())
                        .map_err(|e| Error::sys_perm("setns(CLONE_NEWNET)", "CAP_SYS_ADMIN", e))?;
                    Ok(f())
                })
                .map_err(|e| Error::sys("spawn thread", e))?;
            match thread.join() {
                Ok(r) => r,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    }

    /// A [`Command`] whose child enters the namespace before `exec`; see [`NetNs::command`].
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        sys::command_setns(&mut cmd, Arc::clone(&self.fd));
        cmd
    }

    /// Spawns `cmd` from a helper thread inside the namespace; see [`NetNs::spawn`].
    ///
    /// # Errors
    ///
    /// When the helper thread cannot enter the namespace or the spawn fails.
    pub fn spawn(&self, cmd: &mut Command) -> Result<Child> {
        let prog = format!("{:?}", cmd.get_program());
        self.run_in(|| cmd.spawn())?.map_err(|e| Error::Command {
            cmd: prog,
            reason: e.to_string(),
        })
    }

    /// Runs `cmd` to completion inside the namespace; see [`NetNs::output`].
    ///
    /// # Errors
    ///
    /// When the helper thread cannot enter the namespace or the spawn fails.
    pub fn output(&self, cmd: &mut Command) -> Result<Output> {
        let prog = format!("{:?}", cmd.get_program());
        self.run_in(|| cmd.output())?.map_err(|e| Error::Command {
            cmd: prog,
            reason: e.to_string(),
        })
    }
}

/// Guard returned by [`NetNsHandle::enter`]: the thread returns to its previous namespace on drop.
pub struct Entered {
    old: OwnedFd,
    _not_send: PhantomData<*const ()>,
}

impl fmt::Debug for Entered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entered").finish_non_exhaustive()
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        if let Err(e) = sys::setns_net(self.old.as_fd()) {
            eprintln!("pfring-testkit: cannot restore the thread's network namespace: {e}");
        }
    }
}
