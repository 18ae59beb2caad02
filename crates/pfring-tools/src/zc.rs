//! Glue between `pfring` rings and `pfring-zc`: a ring as the cluster master's packet source
//! and egress, and as a bouncer interface; the zbalance-style stats block.

use std::time::Duration;

use pfring::{Error, Ring};
use pfring_zc::{ClusterStats, PacketSink, PacketSource};

use crate::format_numbers;

/// A ring used as a [`PacketSource`] and [`PacketSink`].
#[derive(Debug)]
pub struct RingIo(pub Ring);

fn zc_err(e: Error) -> pfring_zc::Error {
    pfring_zc::Error::PacketIo(Box::new(e))
}

impl PacketSource for RingIo {
    fn recv_burst(
        &mut self,
        max: usize,
        f: &mut dyn FnMut(&[u8], u64),
    ) -> pfring_zc::Result<usize> {
        let burst = self.0.recv_burst(max, false).map_err(zc_err)?;
        let mut n = 0;
        for (h, data) in burst.iter() {
            f(data, h.ts.as_nanos());
            n += 1;
        }
        Ok(n)
    }

    fn wait(&mut self, timeout: Duration) -> pfring_zc::Result<()> {
        self.0.poll(timeout).map_err(zc_err)?;
        Ok(())
    }
}

impl PacketSink for RingIo {
    fn send(&mut self, frame: &[u8]) -> pfring_zc::Result<()> {
        // Bounded: a full TX ring is waited on for at most ~100 ms per frame.
        for _ in 0..10 {
            match self.0.send(frame, false) {
                Ok(()) => return Ok(()),
                Err(Error::NoTxSlotAvailable) => {
                    self.0
                        .wait_tx_slot(Duration::from_millis(10))
                        .map_err(zc_err)?;
                }
                Err(e) => return Err(zc_err(e)),
            }
        }
        Err(zc_err(Error::NoTxSlotAvailable))
    }

    fn flush(&mut self) -> pfring_zc::Result<()> {
        self.0.flush_tx_packets().map_err(zc_err)
    }
}

/// zbalance_ipc's stats block: per-queue lines, absolute and (since `prev`) actual rates.
/// `ring_drops` are the capture rings' own drops.
pub fn cluster_stats_block(
    s: &ClusterStats,
    ring_drops: u64,
    prev: Option<(&ClusterStats, u64)>,
    secs: f64,
) -> String {
    let mut out = String::from("=========================\n");
    out.push_str("Queue TX Stats (Packets sent to applications):\n");
    for (q, qs) in s.queues.iter().enumerate() {
        out.push_str(&format!(
            "Balancer {:2} Queue {:2}: {} pkts ({} drops)\n",
            0,
            q,
            format_numbers(qs.enqueued as f64, false),
            format_numbers(qs.drops as f64, false)
        ));
    }
    let fwd: u64 = s.queues.iter().map(|q| q.enqueued).sum::<u64>() + s.tx;
    let fwd_drops: u64 = s.queues.iter().map(|q| q.drops).sum();
    let rx_drops = s.rx_drops + ring_drops;
    out.push_str(&format!(
        "Total Abs. Stats:  Recv {} pkts ({} drops) - Forwarded {} pkts ({} drops)\n",
        format_numbers(s.rx as f64, false),
        format_numbers(rx_drops as f64, false),
        format_numbers(fwd as f64, false),
        format_numbers(fwd_drops as f64, false)
    ));
    if let Some((p, p_ring_drops)) = prev
        && secs > 0.0
    {
        let pfwd: u64 = p.queues.iter().map(|q| q.enqueued).sum::<u64>() + p.tx;
        let pfwd_drops: u64 = p.queues.iter().map(|q| q.drops).sum();
        let rate = |a: u64, b: u64| a.saturating_sub(b) as f64 / secs;
        out.push_str(&format!(
            "Actual Stats:      Recv {} pps ({} drops) - Forwarded {} pps ({} drops)\n",
            format_numbers(rate(s.rx, p.rx), true),
            format_numbers(rate(rx_drops, p.rx_drops + p_ring_drops), true),
            format_numbers(rate(fwd, pfwd), true),
            format_numbers(rate(fwd_drops, pfwd_drops), true)
        ));
    }
    out.push_str("=========================\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use pfring_zc::QueueStats;

    #[test]
    fn stats_block_matches_zbalance_lines() {
        let q = |e, d| QueueStats {
            enqueued: e,
            drops: d,
            ..Default::default()
        };
        let s = ClusterStats {
            rx: 3000,
            rx_drops: 1,
            processed: 3000,
            queues: vec![q(1000, 0), q(1999, 2)],
            ..Default::default()
        };
        let p = ClusterStats {
            rx: 1000,
            queues: vec![q(500, 0), q(500, 0)],
            ..Default::default()
        };
        let b = cluster_stats_block(&s, 4, Some((&p, 0)), 2.0);
        assert!(
            b.contains("Balancer  0 Queue  1: 1'999 pkts (2 drops)\n"),
            "{b}"
        );
        assert!(
            b.contains(
                "Total Abs. Stats:  Recv 3'000 pkts (5 drops) - Forwarded 2'999 pkts (2 drops)\n"
            ),
            "{b}"
        );
        assert!(
            b.contains("Actual Stats:      Recv 1'000.00 pps (2.50 drops) - Forwarded 999.50 pps (1.00 drops)\n"),
            "{b}"
        );
    }
}
