//! The receive hot path of a userspace ring, in one thread (no cross-core effects): send 256
//! frames, then receive them with `Ring::recv` one per call (or one `recv_burst`). Run it with
//! the ring registry on and off; the difference is the registry's cost per receive call:
//!
//! ```sh
//! cargo bench -p pfring --bench userspace                          # registry_on
//! PFRING_NO_REGISTRY=1 cargo bench -p pfring --bench userspace     # registry_off
//! ```
//!
//! (needs a runtime directory: root, or `$XDG_RUNTIME_DIR`). Criterion reports the time per
//! 256 frames sent and received.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pfring::{Ring, RingBuilder};

const N: usize = 256;

fn pair(tag: u32, registry: bool) -> Option<(Ring, Ring)> {
    let name = format!("usr{}{tag}", std::process::id());
    let mut rx = match RingBuilder::new(&name).slots(1024).caplen(128).open() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("skipped: {e}");
            return None;
        }
    };
    rx.enable().ok()?;
    let mut tx = Ring::open(&format!("userspace:{name}"), 128, Default::default()).ok()?;
    tx.enable().ok()?;
    assert_eq!(rx.registry_id().is_some(), registry);
    Some((tx, rx))
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("userspace_ring");
    g.throughput(Throughput::Elements(N as u64));
    let frame = [0x5au8; 60];
    let registry = std::env::var_os("PFRING_NO_REGISTRY").is_none_or(|v| v != "1");
    {
        let tag = 1;
        let Some((mut tx, mut rx)) = pair(tag, registry) else {
            return;
        };
        let label = if registry {
            "registry_on"
        } else {
            "registry_off"
        };
        g.bench_function(format!("recv_one_by_one/{label}"), |b| {
            b.iter(|| {
                for _ in 0..N {
                    tx.send(&frame, false).unwrap();
                }
                tx.flush_tx_packets().unwrap();
                let mut bytes = 0;
                for _ in 0..N {
                    bytes += rx.recv(false).unwrap().unwrap().data().len();
                }
                black_box(bytes)
            })
        });
        g.bench_function(format!("recv_burst/{label}"), |b| {
            b.iter(|| {
                for _ in 0..N {
                    tx.send(&frame, false).unwrap();
                }
                tx.flush_tx_packets().unwrap();
                let burst = rx.recv_burst(N, false).unwrap();
                assert_eq!(burst.len(), N);
                black_box(burst.iter().map(|(_, d)| d.len()).sum::<usize>())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
