//! Breaking a blocked receive loop from another thread or from a signal handler.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, Ordering};

use super::socket::{EventFd, notify_raw};

/// A break flag plus an eventfd that wakes a `poll(2)` waiting on it.
#[derive(Debug)]
pub struct Breaker {
    flag: AtomicBool,
    efd: EventFd,
}

impl Breaker {
    /// A new, unbroken breaker.
    pub fn new() -> io::Result<Self> {
        Ok(Breaker {
            flag: AtomicBool::new(false),
            efd: EventFd::new()?,
        })
    }

    /// Sets the flag and wakes the waiter (async-signal-safe).
    pub fn trigger(&self) {
        self.flag.store(true, Ordering::SeqCst);
        notify_raw(self.efd.raw());
    }

    /// Whether [`Breaker::trigger`] was called since the last [`Breaker::reset`].
    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Clears the flag and drains the eventfd.
    pub fn reset(&self) {
        self.flag.store(false, Ordering::SeqCst);
        self.efd.drain();
    }

    /// The eventfd to poll alongside the socket.
    pub fn eventfd(&self) -> &EventFd {
        &self.efd
    }
}

const MAX_REGISTERED: usize = 64;

#[expect(
    clippy::declare_interior_mutable_const,
    reason = "array initialiser only"
)]
const NULL_BREAKER: AtomicPtr<Breaker> = AtomicPtr::new(std::ptr::null_mut());
static REGISTERED: [AtomicPtr<Breaker>; MAX_REGISTERED] = [NULL_BREAKER; MAX_REGISTERED];
static LAST_SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    LAST_SIGNAL.store(sig, Ordering::SeqCst);
    for slot in &REGISTERED {
        let p = slot.load(Ordering::SeqCst);
        if !p.is_null() {
            // SAFETY: registered pointers come from `Arc::into_raw` and are never freed
            // (registration leaks one strong reference on purpose), so they stay valid.
            unsafe { (*p).trigger() };
        }
    }
}

/// Makes `signals` trigger `breaker` (and every breaker registered before), e.g. SIGINT and
/// SIGTERM for a capture tool's clean shutdown. The breaker is kept alive for the rest of the
/// process.
///
/// # Errors
/// `sigaction(2)` failures, or more than 64 registrations.
pub fn break_on_signals(breaker: &Arc<Breaker>, signals: &[i32]) -> io::Result<()> {
    let raw = Arc::into_raw(Arc::clone(breaker)).cast_mut();
    let mut stored = false;
    for slot in &REGISTERED {
        if slot
            .compare_exchange(
                std::ptr::null_mut(),
                raw,
                Ordering::SeqCst,
                Ordering::SeqCst,
            )
            .is_ok()
        {
            stored = true;
            break;
        }
    }
    if !stored {
        // SAFETY: `raw` came from `Arc::into_raw` above and was not stored anywhere.
        drop(unsafe { Arc::from_raw(raw) });
        return Err(io::Error::other(
            "more than 64 breakers registered for signals",
        ));
    }
    for &sig in signals {
        // SAFETY: all-zero is a valid sigaction; we fill handler and mask below.
        let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
        sa.sa_sigaction = on_signal as *const () as usize;
        sa.sa_flags = libc::SA_RESTART;
        // SAFETY: `sa.sa_mask` is a valid sigset_t to initialise.
        unsafe { libc::sigemptyset(&mut sa.sa_mask) };
        // SAFETY: installs an async-signal-safe handler (atomics and write(2) only).
        super::cvt(unsafe { libc::sigaction(sig, &sa, std::ptr::null_mut()) })?;
    }
    Ok(())
}

/// The last signal delivered to a handler installed by [`break_on_signals`] (0 = none).
pub fn last_signal() -> i32 {
    LAST_SIGNAL.load(Ordering::SeqCst)
}
