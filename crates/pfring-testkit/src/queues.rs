//! Steering frames onto a chosen RX queue of a multi-queue veth, and telling queues apart.
//!
//! What was measured (kernel 6.18, veth created with `numrxqueues 2 numtxqueues 2`):
//!
//! - veth has no RSS: `veth_xmit` delivers a frame to the peer's RX queue with the same number
//!   as the TX queue it was sent on (`skb->queue_mapping`), and that number is still in
//!   `skb->queue_mapping` when `AF_PACKET` taps the frame on the peer, with or without veth NAPI
//!   (`ethtool -K peer gro on`). So the receiving side tells queues apart with a classic BPF
//!   filter reading `SKF_AD_OFF + SKF_AD_QUEUE` (= `0xfffff018`): [`RawReceiver::on_queue`].
//! - Through the qdisc layer the TX queue is picked by the flow hash (different UDP ports land
//!   on different queues, but which one depends on a per-boot random hash seed).
//! - With `PACKET_QDISC_BYPASS` the kernel (`packet_pick_tx_queue`) records
//!   `cpu % real_num_tx_queues` and `netdev_pick_tx` uses it (no XPS map is set on a veth):
//!   **the TX queue is the sending CPU modulo the queue count**. Pinning the sending thread to a
//!   CPU therefore picks the queue deterministically — what [`send_on_queue`] does.
//! - `SO_MARK` alone does not change the queue. `tc ... action skbedit queue_mapping` would, but
//!   this kernel has neither `act_skbedit` nor `cls_flower`/`cls_fw`/`cls_matchall`.
//!
//! [`RawReceiver::on_queue`]: crate::RawReceiver::on_queue

use crate::error::{Error, Result};
use crate::packet::RawSender;
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

/// A CPU the calling thread may run on with `cpu % num_tx_queues == queue`.
///
/// # Errors
///
/// [`Error::InvalidArgument`] when `queue >= num_tx_queues` or no allowed CPU maps to `queue`
/// (fewer usable CPUs than queues).
pub fn cpu_for_queue(queue: u32, num_tx_queues: u32) -> Result<usize> {
    if queue >= num_tx_queues {
        return Err(Error::InvalidArgument(format!(
            "queue {queue} of {num_tx_queues}"
        )));
    }
    let allowed = sys::current_affinity().map_err(|e| Error::sys("sched_getaffinity", e))?;
    allowed
        .iter()
        .copied()
        .find(|&c| c % num_tx_queues as usize == queue as usize)
        .ok_or_else(|| {
            Error::InvalidArgument(format!(
                "no allowed CPU (allowed: {allowed:?}) maps to TX queue {queue} of {num_tx_queues}"
            ))
        })
}

/// Sends `frames` on TX queue `queue` of the sender's interface (so, on a veth, they arrive on
/// RX queue `queue` of the peer). `num_tx_queues` is the interface's real TX queue count.
///
/// Turns `PACKET_QDISC_BYPASS` on for `sender` (it stays on) and sends from this thread pinned
/// to [`cpu_for_queue`], then restores the thread's affinity. Returns the number sent.
///
/// # Errors
///
/// As [`cpu_for_queue`], [`RawSender::set_qdisc_bypass`] and [`RawSender::send`].
pub fn send_on_queue<I>(
    sender: &RawSender,
    queue: u32,
    num_tx_queues: u32,
    frames: I,
) -> Result<usize>
where
    I: IntoIterator,
    I::Item: AsRef<[u8]>,
{
    let cpu = cpu_for_queue(queue, num_tx_queues)?;
    sender.set_qdisc_bypass(true)?;
    with_cpu(cpu, || sender.send_all(frames))?
}
