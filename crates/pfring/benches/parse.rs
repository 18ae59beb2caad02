//! Parse to L4 + PF_RING hash on the test data's Ethernet packets, next to etherparse's
//! `SlicedPacket::from_ethernet` on the same packets in the same run.
//!
//! `cargo bench -p pfring --bench parse`. Each iteration walks every packet once (the
//! count is printed at start); criterion's `thrpt` line is packets per second, so
//! ns/packet = 1000 / (Melem/s). Two groups: `parse` measures wall-clock time,
//! `parse_cpu` the CPU time of the benchmarking thread (steadier on a shared machine,
//! as the design asks: "measure CPU time per packet").

#[path = "../tests/common/pcap.rs"]
mod pcap;

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pfring::parse::{ParsedPacket, parse_packet};

/// CPU time of the calling thread (`CLOCK_THREAD_CPUTIME_ID`).
struct ThreadCpuTime;

static WALL: WallTime = WallTime;

impl Measurement for ThreadCpuTime {
    type Intermediate = cpu_time::ThreadTime;
    type Value = Duration;
    fn start(&self) -> Self::Intermediate {
        cpu_time::ThreadTime::now()
    }
    fn end(&self, i: Self::Intermediate) -> Self::Value {
        i.elapsed()
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, v: &Duration) -> f64 {
        v.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        WALL.formatter()
    }
}

fn frames() -> Vec<Vec<u8>> {
    if let Some(dir) = pcap::testdata_dir() {
        let v: Vec<Vec<u8>> = pcap::ethernet_frames(&dir)
            .into_iter()
            .map(|(_, r)| r.data)
            .collect();
        if !v.is_empty() {
            return v;
        }
    }
    eprintln!("test data not found: benchmarking one synthetic IPv4/TCP frame");
    let mut f = vec![0u8; 12];
    f.extend([
        0x08, 0x00, 0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ]);
    f.extend([
        0x04, 0xD2, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x10, 0xFF, 0xFF, 0, 0, 0, 0,
    ]);
    vec![f]
}

/// The frames back to back in one buffer, as a TPACKET_V3 block or a ZC buffer pool holds
/// them (each frame starts on a 16-byte boundary, like TPACKET_ALIGN).
struct Block {
    buf: Vec<u8>,
    frames: Vec<(usize, usize)>,
}

impl Block {
    fn new(frames: Vec<Vec<u8>>) -> Self {
        let mut buf = Vec::new();
        let mut idx = Vec::new();
        for f in frames {
            buf.resize(buf.len().next_multiple_of(16), 0);
            idx.push((buf.len(), f.len()));
            buf.extend(f);
        }
        Self { buf, frames: idx }
    }

    fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.frames.iter().map(|&(o, l)| &self.buf[o..o + l])
    }
}

fn run<M: Measurement>(c: &mut Criterion<M>, group: &str) {
    let block = Block::new(frames());
    let frames: Vec<&[u8]> = block.iter().collect();
    let n = frames.len() as u64;
    eprintln!("{group}: {n} packets per iteration");
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(n));
    // The floor: the loop and one byte of each frame, no parsing.
    g.bench_function("baseline_touch", |b| {
        b.iter(|| {
            let mut acc = 0u32;
            for &f in &frames {
                acc = acc.wrapping_add(u32::from(*black_box(f).get(12).unwrap_or(&0)));
            }
            black_box(acc)
        })
    });
    g.bench_function("reset_only", |b| {
        let mut p = ParsedPacket::default();
        b.iter(|| {
            let mut acc = 0u32;
            for &f in &frames {
                p = black_box(ParsedPacket::default());
                acc = acc.wrapping_add(u32::from(*black_box(f).get(12).unwrap_or(&0)));
            }
            black_box(&p);
            black_box(acc)
        })
    });
    for level in [2u8, 3] {
        g.bench_function(format!("pfring_parse_l{level}"), |b| {
            let mut p = ParsedPacket::default();
            b.iter(|| {
                let mut acc = 0u32;
                for &f in &frames {
                    acc = acc.wrapping_add(u32::from(parse_packet(black_box(f), level, &mut p)));
                }
                black_box(acc)
            })
        });
    }
    g.bench_function("pfring_parse_l4", |b| {
        let mut p = ParsedPacket::default();
        b.iter(|| {
            let mut acc = 0u32;
            for &f in &frames {
                parse_packet(black_box(f), 4, &mut p);
                acc = acc.wrapping_add(u32::from(p.l4_src_port));
            }
            black_box(acc)
        })
    });
    g.bench_function("pfring_parse_l4_hash", |b| {
        let mut p = ParsedPacket::default();
        b.iter(|| {
            let mut acc = 0u32;
            for &f in &frames {
                parse_packet(black_box(f), 4, &mut p);
                acc = acc.wrapping_add(p.pfring_hash());
            }
            black_box(acc)
        })
    });
    g.bench_function("pfring_parse_l5_hash", |b| {
        let mut p = ParsedPacket::default();
        b.iter(|| {
            let mut acc = 0u32;
            for &f in &frames {
                parse_packet(black_box(f), 5, &mut p);
                acc = acc.wrapping_add(p.pfring_hash());
            }
            black_box(acc)
        })
    });
    g.bench_function("etherparse_sliced_packet", |b| {
        b.iter(|| {
            let mut ok = 0u32;
            for &f in &frames {
                let r = etherparse::SlicedPacket::from_ethernet(black_box(f));
                ok += u32::from(r.is_ok());
                black_box(&r);
            }
            black_box(ok)
        })
    });
    g.finish();
}

/// ns per packet of one timed walk over all frames.
fn walk_ns(frames: &[&[u8]], walk: &mut impl FnMut(&[&[u8]]) -> u32) -> f64 {
    let start = std::time::Instant::now();
    black_box(walk(black_box(frames)));
    start.elapsed().as_nanos() as f64 / frames.len() as f64
}

/// Best and median of a sample.
fn best_median(mut t: Vec<f64>) -> (f64, f64) {
    t.sort_by(f64::total_cmp);
    (t[0], t[t.len() / 2])
}

/// Prints best / median wall-clock ns per packet, the three contenders interleaved walk by
/// walk, before the criterion groups run.
fn summary() {
    let block = Block::new(frames());
    let frames: Vec<&[u8]> = block.iter().collect();
    let l4 = |fs: &[&[u8]]| {
        let mut p = ParsedPacket::default();
        let mut acc = 0u32;
        for &f in fs {
            parse_packet(black_box(f), 4, &mut p);
            acc = acc.wrapping_add(p.pfring_hash());
        }
        acc
    };
    let l5 = |fs: &[&[u8]]| {
        let mut p = ParsedPacket::default();
        let mut acc = 0u32;
        for &f in fs {
            parse_packet(black_box(f), 5, &mut p);
            acc = acc.wrapping_add(p.pfring_hash());
        }
        acc
    };
    let ep = |fs: &[&[u8]]| {
        let mut ok = 0u32;
        for &f in fs {
            let r = etherparse::SlicedPacket::from_ethernet(black_box(f));
            ok += u32::from(r.is_ok());
            black_box(&r);
        }
        ok
    };
    let (mut l4, mut l5, mut ep) = (l4, l5, ep);
    for _ in 0..3 {
        // The three walks interleave, so a burst of outside load hits all three alike.
        let (mut ta, mut tb, mut tc) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..2000 {
            ta.push(walk_ns(&frames, &mut l4));
            tb.push(walk_ns(&frames, &mut l5));
            tc.push(walk_ns(&frames, &mut ep));
        }
        let (a, b, c) = (best_median(ta), best_median(tb), best_median(tc));
        eprintln!(
            "best/median ns per packet over 2000 walks of {} packets: pfring L4+hash {:.1}/{:.1}, \
             L5+hash {:.1}/{:.1}, etherparse SlicedPacket {:.1}/{:.1}; ratio (median) {:.2}x",
            frames.len(),
            a.0,
            a.1,
            b.0,
            b.1,
            c.0,
            c.1,
            c.1 / a.1
        );
    }
}

fn wall(c: &mut Criterion) {
    summary();
    run(c, "parse");
}

fn cpu(c: &mut Criterion<ThreadCpuTime>) {
    run(c, "parse_cpu");
}

criterion_group!(wall_group, wall);
criterion_group! {
    name = cpu_group;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = cpu
}
criterion_main!(wall_group, cpu_group);
