//! Shared pieces of the PF_RING example tools: number formatting and the pfcount stats block
//! (instead of PF_RING's `#include "pfutils.c"`).
#![deny(unsafe_code)]
#![deny(missing_docs)]

pub mod synth;
pub mod threads;
pub mod zbalance;
pub mod zc;

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Duration;

/// Bytes PF_RING's tools add per packet when they compute Gbps: 8 preamble + 4 CRC + 12 IFG.
pub const WIRE_OVERHEAD: u64 = 24;

pub use pfring::format_numbers;

/// The `main` of every tool: parse the arguments (`Ok(None)` = help was printed), run, and
/// turn errors into PF_RING-style one-line messages and exit codes: 2 for bad arguments,
/// 1 for a failure (the library's own message first, e.g. `pfcount: no such device "eth9"`).
pub fn tool_main<O>(
    tool: &str,
    parse_args: impl FnOnce() -> anyhow::Result<Option<O>>,
    run: impl FnOnce(O) -> anyhow::Result<()>,
) -> ExitCode {
    let opts = match parse_args() {
        Ok(Some(o)) => o,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{tool}: {e:#} (see {tool} -h)");
            return ExitCode::from(2);
        }
    };
    match run(opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            match e.downcast_ref::<pfring::Error>() {
                Some(pe) => eprintln!("{tool}: {pe}"),
                None => eprintln!("{tool}: {e:#}"),
            }
            ExitCode::FAILURE
        }
    }
}

/// Counters a capture tool keeps for one stats print.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Sample {
    /// Time since the capture started.
    pub elapsed: Duration,
    /// Packets the application counted.
    pub pkts: u64,
    /// Bytes the application counted (wire length + [`WIRE_OVERHEAD`] each).
    pub bytes: u64,
    /// `pfring_stat.recv`.
    pub recv: u64,
    /// `pfring_stat.drop`.
    pub drop: u64,
}

/// The state between two prints of pfcount's stats block.
#[derive(Debug, Default)]
pub struct StatsPrinter {
    prints: u64,
    last: Option<Sample>,
}

impl StatsPrinter {
    /// A printer that has printed nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The 5.x stats block for `s` (what pfcount writes to stderr every second):
    ///
    /// ```text
    /// =========================
    /// Absolute Stats: [%u pkts rcvd][%u pkts dropped]
    /// Total Pkts=%u/Dropped=%.1f %
    /// %s pkts - %s bytes [%s pkt/sec - %s Mbit/sec]
    /// =========================
    /// Actual Stats: %llu pkts [%s ms][%s pps/%s Gbps]
    /// =========================
    /// ```
    ///
    /// The rate part of the third line appears from the second print on, the "Actual Stats"
    /// part from the third (it needs a previous print to diff against).
    pub fn block(&mut self, s: Sample) -> String {
        let print_all = self.prints > 0;
        self.prints += 1;
        let mut out = String::new();
        let total = s.recv + s.drop;
        let dropped_pct = if s.recv == 0 {
            0.0
        } else {
            s.drop as f64 * 100.0 / total as f64
        };
        let _ = write!(
            out,
            "=========================\n\
             Absolute Stats: [{} pkts rcvd][{} pkts dropped]\n\
             Total Pkts={}/Dropped={:.1} %\n",
            s.recv as u32, s.drop as u32, total as u32, dropped_pct
        );
        let _ = write!(
            out,
            "{} pkts - {} bytes",
            format_numbers(s.pkts as f64, false),
            format_numbers(s.bytes as f64, false)
        );
        let ms = s.elapsed.as_secs_f64() * 1000.0;
        if print_all && ms > 0.0 {
            let thpt = 8.0 * s.bytes as f64 / (ms * 1000.0);
            let _ = writeln!(
                out,
                " [{} pkt/sec - {} Mbit/sec]",
                format_numbers(s.pkts as f64 * 1000.0 / ms, true),
                format_numbers(thpt, true)
            );
        } else {
            out.push('\n');
        }
        if print_all && let Some(last) = self.last {
            let dms = (s.elapsed.saturating_sub(last.elapsed)).as_secs_f64() * 1000.0;
            if dms > 0.0 && self.prints > 2 {
                let diff = s.pkts.saturating_sub(last.pkts);
                let gbits = s.bytes.saturating_sub(last.bytes) as f64 * 8.0 / 1e9;
                let _ = write!(
                    out,
                    "=========================\n\
                     Actual Stats: {} pkts [{} ms][{} pps/{} Gbps]\n",
                    diff,
                    format_numbers(dms, true),
                    format_numbers(diff as f64 / (dms / 1000.0), true),
                    format_numbers(gbits / (dms / 1000.0), true)
                );
            }
        }
        out.push_str("=========================\n\n");
        self.last = Some(s);
        out
    }

    /// One JSON object for `s` (pfcount `--json`), on one line.
    pub fn json(&mut self, s: Sample) -> String {
        let secs = s.elapsed.as_secs_f64();
        let (dpkts, dbytes, dsecs) = match self.last {
            Some(l) => (
                s.pkts.saturating_sub(l.pkts),
                s.bytes.saturating_sub(l.bytes),
                (s.elapsed.saturating_sub(l.elapsed)).as_secs_f64(),
            ),
            None => (s.pkts, s.bytes, secs),
        };
        self.prints += 1;
        self.last = Some(s);
        let rate = |n: u64, d: f64| if d > 0.0 { n as f64 / d } else { 0.0 };
        format!(
            "{{\"duration_ms\":{},\"recv\":{},\"drop\":{},\"pkts\":{},\"bytes\":{},\
             \"pps\":{:.1},\"mbps\":{:.3},\"actual_pkts\":{},\"actual_pps\":{:.1},\"actual_gbps\":{:.6}}}",
            s.elapsed.as_millis(),
            s.recv,
            s.drop,
            s.pkts,
            s.bytes,
            rate(s.pkts, secs),
            rate(s.bytes * 8, secs) / 1e6,
            dpkts,
            rate(dpkts, dsecs),
            rate(dbytes * 8, dsecs) / 1e9,
        )
    }
}

/// `XX:XX:XX:XX:XX:XX` in upper case, as PF_RING prints MAC addresses.
pub fn format_mac(mac: &[u8]) -> String {
    let mut s = String::with_capacity(17);
    for (i, b) in mac.iter().take(6).enumerate() {
        if i > 0 {
            s.push(':');
        }
        let _ = write!(s, "{b:02X}");
    }
    s
}

/// `HH:MM:SS.uuuuuunnn ` (UTC) for a per-packet line.
pub fn format_time_of_day(ts: pfring::Timestamp) -> String {
    let s = ts.sec % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{:06}{:03} ",
        s / 3600,
        (s % 3600) / 60,
        s % 60,
        ts.nsec / 1000,
        ts.nsec % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_block_layout() {
        let mut p = StatsPrinter::new();
        let first = p.block(Sample {
            elapsed: Duration::from_secs(1),
            pkts: 1500,
            bytes: 1500 * 84,
            recv: 1500,
            drop: 500,
        });
        assert_eq!(
            first,
            "=========================\n\
             Absolute Stats: [1500 pkts rcvd][500 pkts dropped]\n\
             Total Pkts=2000/Dropped=25.0 %\n\
             1'500 pkts - 126'000 bytes\n\
             =========================\n\n"
        );
        let second = p.block(Sample {
            elapsed: Duration::from_secs(2),
            pkts: 3000,
            bytes: 3000 * 84,
            recv: 3000,
            drop: 500,
        });
        assert!(
            second.contains("3'000 pkts - 252'000 bytes [1'500.00 pkt/sec - 1.01 Mbit/sec]\n"),
            "{second}"
        );
        assert!(!second.contains("Actual Stats"));
        let third = p.block(Sample {
            elapsed: Duration::from_secs(3),
            pkts: 4000,
            bytes: 4000 * 84,
            recv: 4000,
            drop: 500,
        });
        assert!(
            third.contains("Actual Stats: 1000 pkts [1'000.00 ms][1'000.00 pps/0.00 Gbps]\n"),
            "{third}"
        );
        assert!(third.ends_with("=========================\n\n"));
    }

    #[test]
    fn json_is_one_line_object() {
        let mut p = StatsPrinter::new();
        let j = p.json(Sample {
            elapsed: Duration::from_secs(2),
            pkts: 10,
            bytes: 840,
            recv: 10,
            drop: 1,
        });
        assert!(j.starts_with('{') && j.ends_with('}') && !j.contains('\n'));
        assert!(j.contains("\"recv\":10,\"drop\":1,\"pkts\":10"), "{j}");
        assert!(j.contains("\"pps\":5.0"), "{j}");
    }

    #[test]
    fn mac_and_time() {
        assert_eq!(
            format_mac(&[0, 0x1b, 0x21, 0xaa, 0xbb, 0xcc]),
            "00:1B:21:AA:BB:CC"
        );
        let ts = pfring::Timestamp {
            sec: 86_400 * 3 + 3600 + 62,
            nsec: 123_456_789,
        };
        assert_eq!(format_time_of_day(ts), "01:01:02.123456789 ");
    }
}
