//! The Bouncer (libzero's DNA Bouncer): forwards packets between two interfaces, one way
//! or both ways, asking a decision function about each packet.
//!
//! The interfaces are anything that is both a [`PacketSource`] and a [`PacketSink`] (the
//! tools plug `pfring` rings in), so this crate stays free of a `pfring` dependency.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::cluster::{PacketSink, PacketSource, WaitMode};
use crate::error::Result;

/// Which way a packet travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Received on the ingress, to the egress.
    IngressToEgress,
    /// Received on the egress, to the ingress (two-way mode only).
    EgressToIngress,
}

/// One way or both ways (`pfring_dna_bouncer_set_mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BouncerMode {
    /// Ingress to egress only.
    #[default]
    OneWay,
    /// Both ways.
    TwoWay,
}

/// What the decision function answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Send the packet on.
    Forward,
    /// Drop it.
    Drop,
}

/// Counters of a bouncer, per direction (`[ingress->egress, egress->ingress]`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BouncerStats {
    /// Packets received.
    pub rx: [u64; 2],
    /// Packets forwarded.
    pub forwarded: [u64; 2],
    /// Packets the decision function dropped.
    pub dropped: [u64; 2],
    /// Packets the other side failed to send.
    pub tx_errors: [u64; 2],
}

/// A handle that stops [`Bouncer::run`] from another thread or a signal handler thread
/// (`pfring_dna_bouncer_breakloop`).
#[derive(Clone, Debug, Default)]
pub struct BreakLoop(Arc<AtomicBool>);

impl BreakLoop {
    /// Asks the loop to return.
    #[doc(alias = "pfring_dna_bouncer_breakloop")]
    pub fn breakloop(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// True once asked.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// The decision function type.
pub type DecisionFn = Box<dyn FnMut(&[u8], Direction) -> Decision + Send>;

/// A bouncer between two interfaces (`pfring_dna_bouncer_create`).
pub struct Bouncer<I, E> {
    ingress: I,
    egress: E,
    mode: BouncerMode,
    wait: WaitMode,
    stop: BreakLoop,
    stats: BouncerStats,
}

impl<I, E> std::fmt::Debug for Bouncer<I, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bouncer")
            .field("mode", &self.mode)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

const BURST: usize = 256;

fn bounce_burst(
    from: &mut dyn PacketSource,
    to: &mut dyn PacketSink,
    dir: Direction,
    decide: &mut dyn FnMut(&[u8], Direction) -> Decision,
    stats: &mut BouncerStats,
) -> Result<usize> {
    let d = dir as usize;
    let n = from.recv_burst(BURST, &mut |data, _ts| {
        stats.rx[d] += 1;
        match decide(data, dir) {
            Decision::Drop => stats.dropped[d] += 1,
            Decision::Forward => match to.send(data) {
                Ok(()) => stats.forwarded[d] += 1,
                Err(_) => stats.tx_errors[d] += 1,
            },
        }
    })?;
    if n > 0 {
        to.flush()?;
    }
    Ok(n)
}

impl<I, E> Bouncer<I, E>
where
    I: PacketSource + PacketSink,
    E: PacketSource + PacketSink,
{
    /// A one-way bouncer from `ingress` to `egress` (`pfring_dna_bouncer_create`).
    #[doc(alias = "pfring_dna_bouncer_create")]
    pub fn new(ingress: I, egress: E) -> Self {
        Bouncer {
            ingress,
            egress,
            mode: BouncerMode::OneWay,
            wait: WaitMode::Passive,
            stop: BreakLoop::default(),
            stats: BouncerStats::default(),
        }
    }

    /// One way or both ways (`pfring_dna_bouncer_set_mode`).
    #[doc(alias = "pfring_dna_bouncer_set_mode")]
    pub fn set_mode(&mut self, mode: BouncerMode) {
        self.mode = mode;
    }

    /// Spin (active) or sleep in the sources' wait (passive) when idle.
    pub fn set_wait_mode(&mut self, wait: WaitMode) {
        self.wait = wait;
    }

    /// The handle that stops [`Bouncer::run`].
    pub fn break_handle(&self) -> BreakLoop {
        self.stop.clone()
    }

    /// The counters.
    pub fn stats(&self) -> BouncerStats {
        self.stats
    }

    /// One round: one burst each way the mode allows. Returns packets received.
    pub fn poll(&mut self, decide: &mut dyn FnMut(&[u8], Direction) -> Decision) -> Result<usize> {
        let mut n = bounce_burst(
            &mut self.ingress,
            &mut self.egress,
            Direction::IngressToEgress,
            decide,
            &mut self.stats,
        )?;
        if self.mode == BouncerMode::TwoWay {
            n += bounce_burst(
                &mut self.egress,
                &mut self.ingress,
                Direction::EgressToIngress,
                decide,
                &mut self.stats,
            )?;
        }
        Ok(n)
    }

    /// Forwards until [`BreakLoop::breakloop`] (`pfring_dna_bouncer_loop`); the break flag
    /// is cleared on return, so the loop can be run again.
    #[doc(alias = "pfring_dna_bouncer_loop")]
    pub fn run<F>(&mut self, mut decide: F) -> Result<()>
    where
        F: FnMut(&[u8], Direction) -> Decision,
    {
        while !self.stop.is_set() {
            if self.poll(&mut decide)? == 0 {
                match self.wait {
                    WaitMode::Active => std::hint::spin_loop(),
                    WaitMode::Passive => self.ingress.wait(Duration::from_millis(1))?,
                }
            }
        }
        self.stop.0.store(false, Ordering::Release);
        Ok(())
    }

    /// Takes the two interfaces back (`pfring_dna_bouncer_destroy`).
    #[doc(alias = "pfring_dna_bouncer_destroy")]
    pub fn into_inner(self) -> (I, E) {
        (self.ingress, self.egress)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// An in-memory interface: frames to receive, frames sent.
    #[derive(Default)]
    struct Mem {
        rx: VecDeque<Vec<u8>>,
        tx: Vec<Vec<u8>>,
        fail_tx: bool,
    }

    impl PacketSource for Mem {
        fn recv_burst(&mut self, max: usize, f: &mut dyn FnMut(&[u8], u64)) -> Result<usize> {
            let n = max.min(self.rx.len());
            for _ in 0..n {
                let fr = self.rx.pop_front().unwrap_or_default();
                f(&fr, 0);
            }
            Ok(n)
        }
    }

    impl PacketSink for Mem {
        fn send(&mut self, frame: &[u8]) -> Result<()> {
            if self.fail_tx {
                return Err(crate::Error::QueueFull);
            }
            self.tx.push(frame.to_vec());
            Ok(())
        }
    }

    fn mem(frames: &[u8]) -> Mem {
        Mem {
            rx: frames.iter().map(|&b| vec![b; 60]).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn one_way_forwards_what_the_decision_passes() {
        let mut b = Bouncer::new(mem(&[1, 2, 3, 4]), mem(&[9]));
        let mut decide = |d: &[u8], dir| {
            assert_eq!(dir, Direction::IngressToEgress);
            if d[0].is_multiple_of(2) {
                Decision::Forward
            } else {
                Decision::Drop
            }
        };
        assert_eq!(b.poll(&mut decide).unwrap(), 4);
        let st = b.stats();
        assert_eq!((st.rx[0], st.forwarded[0], st.dropped[0]), (4, 2, 2));
        let (i, e) = b.into_inner();
        assert_eq!(e.tx, vec![vec![2; 60], vec![4; 60]]);
        assert!(i.tx.is_empty());
        assert_eq!(e.rx.len(), 1, "one way: the egress is not read");
    }

    #[test]
    fn two_way_and_tx_errors() {
        let mut egress = mem(&[7, 8]);
        egress.fail_tx = true;
        let mut b = Bouncer::new(mem(&[1]), egress);
        b.set_mode(BouncerMode::TwoWay);
        b.poll(&mut |_, _| Decision::Forward).unwrap();
        let st = b.stats();
        assert_eq!(st.tx_errors[0], 1);
        assert_eq!(st.forwarded[1], 2);
        let (i, _) = b.into_inner();
        assert_eq!(i.tx, vec![vec![7; 60], vec![8; 60]]);
    }

    #[test]
    fn breakloop_ends_run() {
        let mut b = Bouncer::new(mem(&[1, 2]), mem(&[]));
        let h = b.break_handle();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            h.breakloop();
        });
        b.run(|_, _| Decision::Forward).unwrap();
        t.join().unwrap();
        assert_eq!(b.stats().forwarded[0], 2);
        assert!(!b.break_handle().is_set(), "cleared on return");
    }
}
