//! pfcount `-n <threads>`: several capture threads in one cluster, each with its own ring,
//! with per-thread and total stats.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pfring::{BreakHandle, Ring};

use crate::{Sample, StatsPrinter, WIRE_OVERHEAD, format_numbers};

/// The counters of one capture thread.
#[derive(Debug, Default)]
pub struct ThreadCounters {
    /// Packets the thread counted.
    pub pkts: AtomicU64,
    /// Bytes the thread counted (wire length + [`WIRE_OVERHEAD`] each).
    pub bytes: AtomicU64,
    /// Its ring's `pfring_stat.recv`.
    pub recv: AtomicU64,
    /// Its ring's `pfring_stat.drop`.
    pub drop: AtomicU64,
}

impl ThreadCounters {
    /// Keeps its ring's statistics (read by the printer).
    pub fn store_stats(&self, st: pfring::Stats) {
        self.recv.store(st.recv, Ordering::Relaxed);
        self.drop.store(st.drop, Ordering::Relaxed);
    }

    fn sample(&self, elapsed: Duration) -> Sample {
        Sample {
            elapsed,
            pkts: self.pkts.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            recv: self.recv.load(Ordering::Relaxed),
            drop: self.drop.load(Ordering::Relaxed),
        }
    }
}

/// The per-thread part of pfcount's stats with `-n` (one block per thread, then the usual
/// block for the sum, see [`StatsPrinter::block`]):
///
/// ```text
/// =========================
/// Absolute Stats: [thread=%d][%u pkts rcvd][%u pkts dropped]
/// Total Pkts=%u/Dropped=%.1f %
/// %s pkts - %s bytes
/// ```
pub fn thread_block(thread: usize, s: Sample) -> String {
    let total = s.recv + s.drop;
    let pct = if s.recv == 0 {
        0.0
    } else {
        s.drop as f64 * 100.0 / total as f64
    };
    format!(
        "=========================\n\
         Absolute Stats: [thread={thread}][{} pkts rcvd][{} pkts dropped]\n\
         Total Pkts={}/Dropped={pct:.1} %\n\
         {} pkts - {} bytes\n",
        s.recv as u32,
        s.drop as u32,
        total as u32,
        format_numbers(s.pkts as f64, false),
        format_numbers(s.bytes as f64, false),
    )
}

/// Per-thread blocks then the total block.
fn print_all(c: &[ThreadCounters], printer: &mut StatsPrinter, elapsed: Duration) {
    let mut out = String::new();
    let mut total = Sample {
        elapsed,
        ..Sample::default()
    };
    for (i, t) in c.iter().enumerate() {
        let s = t.sample(elapsed);
        out.push_str(&thread_block(i, s));
        total.pkts += s.pkts;
        total.bytes += s.bytes;
        total.recv += s.recv;
        total.drop += s.drop;
    }
    out.push_str(&printer.block(total));
    let _ = std::io::stderr().lock().write_all(out.as_bytes());
}

/// One capture thread: counts until `stop`, or until the threads together counted
/// `max_pkts` (0 = no limit; `taken` is the shared count).
fn capture(
    mut ring: Ring,
    c: &ThreadCounters,
    stop: &AtomicBool,
    taken: &AtomicU64,
    max_pkts: u64,
    poll: Duration,
) -> pfring::Result<()> {
    let mut last_stats = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let burst = ring.recv_burst(pfring::ring::MAX_BURST, false)?;
        let n = burst.len();
        for (h, _) in burst.iter() {
            if max_pkts > 0 && taken.fetch_add(1, Ordering::Relaxed) >= max_pkts {
                stop.store(true, Ordering::Relaxed);
                break;
            }
            c.pkts.fetch_add(1, Ordering::Relaxed);
            c.bytes
                .fetch_add(u64::from(h.len) + WIRE_OVERHEAD, Ordering::Relaxed);
        }
        drop(burst);
        if n == 0 && !stop.load(Ordering::Relaxed) {
            ring.poll(poll)?;
        }
        if last_stats.elapsed() >= Duration::from_millis(100) || stop.load(Ordering::Relaxed) {
            c.store_stats(ring.stats()?);
            last_stats = Instant::now();
        }
    }
    c.store_stats(ring.stats()?);
    Ok(())
}

/// Runs one capture thread per ring (enabled, in one cluster) until a signal (SIGINT,
/// SIGTERM, SIGHUP; the caller installed the handlers) or until `max_pkts` packets were
/// counted in total (0 = no limit). Prints the per-thread and total stats every second
/// (unless `quiet`) and at the end, to stderr.
///
/// # Errors
/// A ring failed, or a capture thread panicked.
pub fn capture_threads(
    rings: Vec<Ring>,
    max_pkts: u64,
    quiet: bool,
    poll: Duration,
) -> anyhow::Result<()> {
    let counters: Vec<ThreadCounters> = rings.iter().map(|_| ThreadCounters::default()).collect();
    let breakers: Vec<BreakHandle> = rings.iter().map(Ring::break_handle).collect();
    let stop = AtomicBool::new(false);
    let taken = AtomicU64::new(0);
    let start = Instant::now();
    let mut printer = StatsPrinter::new();
    let poll = poll.clamp(Duration::from_millis(1), Duration::from_millis(100));
    std::thread::scope(|s| -> anyhow::Result<()> {
        let workers: Vec<_> = rings
            .into_iter()
            .zip(&counters)
            .map(|(ring, c)| {
                let (stop, taken) = (&stop, &taken);
                s.spawn(move || capture(ring, c, stop, taken, max_pkts, poll))
            })
            .collect();
        let mut next_print = start + Duration::from_secs(1);
        while BreakHandle::last_signal() == 0
            && !stop.load(Ordering::Relaxed)
            && workers.iter().all(|w| !w.is_finished())
        {
            std::thread::sleep(Duration::from_millis(20));
            if !quiet && Instant::now() >= next_print {
                print_all(&counters, &mut printer, start.elapsed());
                next_print += Duration::from_secs(1);
            }
        }
        stop.store(true, Ordering::Relaxed);
        for b in &breakers {
            b.breakloop();
        }
        for w in workers {
            w.join()
                .map_err(|_| anyhow::anyhow!("a capture thread panicked"))??;
        }
        print_all(&counters, &mut printer, start.elapsed());
        Ok(())
    })
}
