//! Steering frames onto a chosen RX queue of a multi-queue veth (work in progress).

use crate::error::{Error, Result};
use crate::sys;

/// Runs `f` with the calling thread pinned to `cpu`, restoring its CPU affinity afterwards
/// (also when `f` panics).
///
/// # Errors
///
/// [`Error::Syscall`] when the affinity cannot be read or set (e.g. `cpu` is offline).
pub fn with_cpu<R>(cpu: usize, f: impl FnOnce() -> R) -> Result<R> {
    struct Restore(Vec<usize>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let _ = sys::set_affinity(&self.0);
        }
    }
    let old = sys::current_affinity().map_err(|e| Error::sys("sched_getaffinity", e))?;
    sys::pin_current_thread(cpu)
        .map_err(|e| Error::sys(format!("sched_setaffinity(cpu {cpu})"), e))?;
    let _restore = Restore(old);
    Ok(f())
}
