use super::*;
use crate::Slave;
use std::collections::HashMap;

/// A source that hands out a fixed list of frames, `burst` at a time.
struct ListSource {
    frames: Vec<Vec<u8>>,
    next: usize,
}

impl ListSource {
    fn new(frames: Vec<Vec<u8>>) -> Self {
        ListSource { frames, next: 0 }
    }
}

impl PacketSource for ListSource {
    fn recv_burst(&mut self, max: usize, f: &mut dyn FnMut(&[u8], u64)) -> Result<usize> {
        let n = max.min(self.frames.len() - self.next);
        for i in 0..n {
            f(&self.frames[self.next + i], (self.next + i) as u64);
        }
        self.next += n;
        Ok(n)
    }
}

#[derive(Default)]
struct VecSink(Vec<Vec<u8>>);

impl PacketSink for VecSink {
    fn send(&mut self, frame: &[u8]) -> Result<()> {
        self.0.push(frame.to_vec());
        Ok(())
    }
}

/// An Ethernet + IPv4 + UDP frame; `id` goes into the payload.
pub(crate) fn frame(src: u32, dst: u32, id: u32) -> Vec<u8> {
    let mut f = vec![0u8; 12];
    f.extend_from_slice(&[0x08, 0x00, 0x45, 0, 0, 32, 0, 0, 0, 0, 64, 17, 0, 0]);
    f.extend_from_slice(&src.to_be_bytes());
    f.extend_from_slice(&dst.to_be_bytes());
    f.extend_from_slice(&[0, 1, 0, 2, 0, 12, 0, 0]);
    f.extend_from_slice(&id.to_be_bytes());
    f.resize(60, 0);
    f
}

pub(crate) fn frame_id(f: &[u8]) -> u32 {
    u32::from_be_bytes([f[42], f[43], f[44], f[45]])
}

fn small() -> ClusterConfig {
    ClusterConfig {
        queue_len: 64,
        num_buffers: Some(512),
        buffer_size: 256,
        ..Default::default()
    }
}

fn drain(s: &mut Slave) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(p) = s.recv(false).unwrap() {
        out.push(p.data().to_vec());
    }
    out
}

fn run_all(c: &mut Cluster, src: &mut ListSource) {
    for _ in 0..1000 {
        if src.next == src.frames.len() {
            break;
        }
        c.poll(src, None).unwrap();
    }
}

#[test]
fn hash_distribution_is_per_flow_and_bidirectional() {
    let mut c = Cluster::in_process(1, 4, small()).unwrap();
    c.enable();
    let mut slaves: Vec<_> = (0..4).map(|q| c.slave(q).unwrap()).collect();
    let mut frames = Vec::new();
    for i in 0..100u32 {
        let (a, b) = (0x0A00_0000 + i, 0x0B00_0000 + i * 2);
        frames.push(frame(a, b, 2 * i));
        frames.push(frame(b, a, 2 * i + 1));
    }
    let mut src = ListSource::new(frames.clone());
    run_all(&mut c, &mut src);
    let mut seen: HashMap<u32, usize> = HashMap::new();
    let mut total = 0;
    for (q, s) in slaves.iter_mut().enumerate() {
        for f in drain(s) {
            let id = frame_id(&f);
            let flow = id / 2;
            let expect = bidirectional_hash(&frames[id as usize], HashMode::Ip) % 4;
            assert_eq!(expect as usize, q, "frame {id} on the hash's queue");
            if let Some(prev) = seen.insert(flow, q) {
                assert_eq!(prev, q, "both directions of flow {flow} on one queue");
            }
            total += 1;
        }
    }
    assert_eq!(total, 200, "no loss, no duplicates");
    let st = c.stats();
    assert_eq!((st.rx, st.processed, st.rx_drops), (200, 200, 0));
    assert_eq!(st.queues.iter().map(|q| q.enqueued).sum::<u64>(), 200);
}

#[test]
fn fan_out_gives_every_slave_every_packet_with_one_buffer() {
    let mut c = Cluster::in_process(2, 3, small()).unwrap();
    c.set_distribution(Distribution::FanOut);
    c.enable();
    let mut slaves: Vec<_> = (0..3).map(|q| c.slave(q).unwrap()).collect();
    let frames: Vec<_> = (0..20).map(|i| frame(1, 2, i)).collect();
    // Attached slaves get their alloc stash first.
    c.poll(&mut ListSource::new(vec![]), None).unwrap();
    let free0 = c.free_buffers();
    let mut src = ListSource::new(frames.clone());
    run_all(&mut c, &mut src);
    assert_eq!(
        free0 - c.free_buffers(),
        20,
        "one buffer per packet, shared"
    );
    for s in &mut slaves {
        let got: Vec<u32> = drain(s).iter().map(|f| frame_id(f)).collect();
        assert_eq!(got, (0..20).collect::<Vec<_>>());
    }
    // All three released: the master gets every buffer back.
    c.poll(&mut ListSource::new(vec![]), None).unwrap();
    assert_eq!(c.free_buffers(), free0);
}

#[test]
fn round_robin_cycles_queues() {
    let mut c = Cluster::in_process(3, 3, small()).unwrap();
    c.set_distribution(Distribution::RoundRobin);
    c.enable();
    let mut slaves: Vec<_> = (0..3).map(|q| c.slave(q).unwrap()).collect();
    let mut src = ListSource::new((0..9).map(|i| frame(1, 2, i)).collect());
    run_all(&mut c, &mut src);
    for (q, s) in slaves.iter_mut().enumerate() {
        let got: Vec<u32> = drain(s).iter().map(|f| frame_id(f)).collect();
        let q = q as u32;
        assert_eq!(got, vec![q, q + 3, q + 6]);
    }
}

#[test]
fn full_queue_drops_for_that_slave_only() {
    let mut c = Cluster::in_process(4, 2, small()).unwrap();
    c.set_distribution(Distribution::FanOut);
    c.enable();
    let mut fast = c.slave(0).unwrap();
    let mut slow = c.slave(1).unwrap();
    // 200 packets through 64-slot queues: the fast slave drains after every burst of 50,
    // the slow one never reads until the end.
    let mut got_fast = 0;
    for b in 0..4 {
        let mut src = ListSource::new((0..50).map(|i| frame(1, 2, b * 50 + i)).collect());
        c.poll(&mut src, None).unwrap();
        got_fast += drain(&mut fast).len();
    }
    let got_slow = drain(&mut slow).len();
    assert_eq!(got_fast, 200);
    assert_eq!(got_slow, 64);
    let st = c.stats();
    assert_eq!(st.queues[0].drops, 0);
    assert_eq!(st.queues[1].drops, 136);
    assert_eq!(slow.stats().drops, 136, "the slave sees its drops");
}

#[test]
fn custom_function_pass_drop_forward() {
    let mut c = Cluster::in_process(5, 2, small()).unwrap();
    // The seed's shapes: drop, forward to the egress, pass to a mask with a custom hash.
    c.set_distribution_function(|data, n| match frame_id(data) % 3 {
        0 => Verdict::drop(),
        1 => Verdict::forward(0),
        _ => {
            let h = frame_id(data);
            Verdict::pass(1 << (h % n), h)
        }
    });
    c.enable();
    let mut s0 = c.slave(0).unwrap();
    let mut s1 = c.slave(1).unwrap();
    let mut sink = VecSink::default();
    let mut src = ListSource::new((0..30).map(|i| frame(1, 2, i)).collect());
    c.poll(&mut src, Some(&mut sink)).unwrap();
    let fwd: Vec<u32> = sink.0.iter().map(|f| frame_id(f)).collect();
    assert_eq!(fwd, (0..30).filter(|i| i % 3 == 1).collect::<Vec<_>>());
    let mut passed = Vec::new();
    for s in [&mut s0, &mut s1] {
        let q = s.queue();
        while let Some(p) = s.recv(false).unwrap() {
            assert_eq!(p.hash(), frame_id(p.data()), "hash travels with the buffer");
            assert_eq!(p.hash() % 2, q);
            passed.push(frame_id(p.data()));
        }
    }
    passed.sort();
    assert_eq!(passed, (0..30).filter(|i| i % 3 == 2).collect::<Vec<_>>());
    let st = c.stats();
    assert_eq!((st.processed, st.tx), (30, 10));
}

#[test]
fn slave_alloc_send_and_resend_received() {
    let mut c = Cluster::in_process(6, 1, small()).unwrap();
    c.enable();
    let mut s = c.slave(0).unwrap();
    let mut sink = VecSink::default();
    // Attach is noticed at the next liveness check; then the alloc ring is filled.
    c.last_liveness -= LIVENESS_PERIOD;
    c.poll(&mut ListSource::new(vec![]), Some(&mut sink))
        .unwrap();
    let mut b = s.alloc().unwrap();
    s.data_mut(&mut b)[..4].copy_from_slice(b"abcd");
    s.set_len(&mut b, 4).unwrap();
    assert!(s.set_len(&mut b, 100_000).is_err());
    s.send(b).unwrap();
    s.send_copy(b"xyz").unwrap();
    assert!(matches!(
        s.send_copy(&[0u8; 1000]),
        Err(Error::TooLong { .. })
    ));
    let mut src = ListSource::new(vec![frame(1, 2, 77)]);
    c.poll(&mut src, Some(&mut sink)).unwrap();
    // Bounce the received buffer back out, zero copy.
    let p = s.recv(false).unwrap().unwrap();
    let b = p.into_buffer().unwrap();
    s.send(b).unwrap();
    c.poll(&mut ListSource::new(vec![]), Some(&mut sink))
        .unwrap();
    assert_eq!(sink.0[0], b"abcd");
    assert_eq!(sink.0[1], b"xyz");
    assert_eq!(frame_id(&sink.0[2]), 77);
    assert_eq!(c.stats().tx, 3);
    assert_eq!(s.stats().sent, 3);
}

#[test]
fn sends_without_egress_are_counted_as_tx_drops() {
    let mut c = Cluster::in_process(7, 1, small()).unwrap();
    c.enable();
    let mut s = c.slave(0).unwrap();
    c.last_liveness -= LIVENESS_PERIOD;
    c.poll(&mut ListSource::new(vec![]), None).unwrap();
    s.send_copy(b"x").unwrap();
    let free = c.free_buffers();
    c.poll(&mut ListSource::new(vec![]), None).unwrap();
    assert_eq!(c.stats().tx_drops, 1);
    assert!(c.free_buffers() >= free, "the buffer came back");
}

#[test]
fn forged_returns_are_ignored() {
    let mut c = Cluster::in_process(8, 2, small()).unwrap();
    c.enable();
    let region = c.region.view();
    // Play a hostile slave on queue 1: return buffers it never got, and garbage.
    let mut ret = Producer::new(ring(&region, 1, RING_RET).unwrap());
    let mut tx = Producer::new(ring(&region, 1, RING_TX).unwrap());
    let free = c.free_buffers();
    for e in [entry(0, 0), entry(5, 0), entry(u32::MAX, 9), u64::MAX] {
        assert!(ret.push(e));
        assert!(tx.push(e));
    }
    c.poll(&mut ListSource::new(vec![]), None).unwrap();
    assert_eq!(c.free_buffers(), free, "no double free");
    assert_eq!(c.bad_returns()[1], 8);
    // Hostile positions on the RX ring: never a panic, queue counted as full once the
    // master has to look at the consumer position.
    let rx = ring(&region, 0, RING_RX).unwrap();
    rx.tail().store(u64::MAX / 2, Ordering::SeqCst);
    let mut src = ListSource::new((0..70).map(|i| frame(i, i, i)).collect());
    c.set_distribution(Distribution::FanOut);
    run_all(&mut c, &mut src);
    let st = c.stats();
    assert_eq!((st.queues[0].enqueued, st.queues[0].drops), (64, 6));
    assert!(c.queues[0].rx.corrupt > 0);
    assert_eq!(c.queues[1].rx.corrupt, 0);
}

#[test]
fn detached_slave_queue_and_buffers_are_recycled() {
    let mut c = Cluster::in_process(9, 2, small()).unwrap();
    c.set_distribution(Distribution::FanOut);
    c.enable();
    let free0 = c.free_buffers();
    let s0 = c.slave(0).unwrap();
    let mut s1 = c.slave(1).unwrap();
    let mut src = ListSource::new((0..30).map(|i| frame(1, 2, i)).collect());
    run_all(&mut c, &mut src);
    // Slave 0 keeps a buffer handle, then goes away without reading the rest.
    let mut s0 = s0;
    let kept = s0.recv_buffer(None).unwrap().unwrap();
    assert_eq!(frame_id(s0.data(&kept)), 0);
    drop(s0);
    assert_eq!(drain(&mut s1).len(), 30);
    c.last_liveness -= LIVENESS_PERIOD;
    c.poll(&mut ListSource::new(vec![]), None).unwrap();
    c.last_liveness -= LIVENESS_PERIOD;
    c.poll(&mut ListSource::new(vec![]), None).unwrap();
    // Everything is back except slave 1's alloc stash.
    assert_eq!(c.free_buffers() + ALLOC_TARGET as usize, free0);
    // The queue is free again and empty.
    let mut s0 = c.slave(0).unwrap();
    assert!(s0.recv(false).unwrap().is_none());
    assert!(matches!(c.slave(0), Err(Error::QueueBusy { .. })));
    assert!(matches!(c.slave(2), Err(Error::NoSuchQueue { .. })));
}

#[test]
fn slaves_see_master_gone() {
    let c = Cluster::in_process(10, 1, small()).unwrap();
    let mut s = c.slave(0).unwrap();
    let t = std::thread::spawn(move || {
        let start = Instant::now();
        let r = s.recv_buffer(Some(Duration::from_secs(10)));
        (r.map(|b| b.is_some()), start.elapsed())
    });
    std::thread::sleep(Duration::from_millis(100));
    drop(c);
    let (r, took) = t.join().unwrap();
    assert!(matches!(r, Err(Error::MasterGone { .. })), "{r:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[test]
fn disabled_cluster_reads_nothing() {
    let mut c = Cluster::in_process(11, 1, small()).unwrap();
    let mut src = ListSource::new(vec![frame(1, 2, 3)]);
    assert_eq!(c.poll(&mut src, None).unwrap(), 0);
    c.enable();
    assert_eq!(c.poll(&mut src, None).unwrap(), 1);
    c.disable();
    assert!(!c.is_enabled());
}

#[test]
fn oversize_and_pool_exhaustion_are_rx_drops() {
    let cfg = ClusterConfig {
        queue_len: 64,
        num_buffers: Some(8),
        buffer_size: 64,
        ..Default::default()
    };
    let mut c = Cluster::in_process(12, 1, cfg).unwrap();
    c.enable();
    // No slave yet: packets wait in the queue.
    let mut frames: Vec<_> = (0..10).map(|i| frame(1, 2, i)).collect();
    frames.push(vec![0u8; 100]);
    let mut src = ListSource::new(frames);
    run_all(&mut c, &mut src);
    let st = c.stats();
    assert_eq!(st.rx, 11);
    assert_eq!(st.rx_drops, 3, "2 without a buffer, 1 too long");
    assert_eq!(st.queues[0].enqueued, 8);
}

#[test]
fn threaded_master_and_slaves_lose_nothing() {
    const N: u32 = 200_000;
    let cfg = ClusterConfig {
        queue_len: 1024,
        ..Default::default()
    };
    let mut c = Cluster::in_process(13, 2, cfg).unwrap();
    c.set_distribution(Distribution::RoundRobin);
    c.enable();
    let slaves: Vec<_> = (0..2).map(|q| c.slave(q).unwrap()).collect();
    let handles: Vec<_> = slaves
        .into_iter()
        .map(|mut s| {
            std::thread::spawn(move || {
                let mut ids = Vec::new();
                let deadline = Instant::now() + Duration::from_secs(60);
                while ids.len() < (N / 2) as usize && Instant::now() < deadline {
                    if let Some(p) = s.recv_buffer(Some(Duration::from_millis(10))).unwrap() {
                        ids.push(frame_id(s.data(&p)));
                        s.release(p);
                    }
                }
                ids
            })
        })
        .collect();
    struct Gen(u32);
    impl PacketSource for Gen {
        fn recv_burst(&mut self, max: usize, f: &mut dyn FnMut(&[u8], u64)) -> Result<usize> {
            let mut fr = frame(1, 2, 0);
            let n = (max as u32).min(N - self.0);
            for _ in 0..n {
                fr[42..46].copy_from_slice(&self.0.to_be_bytes());
                f(&fr, 0);
                self.0 += 1;
            }
            Ok(n as usize)
        }
    }
    let mut g = Gen(0);
    let deadline = Instant::now() + Duration::from_secs(60);
    // Lossless: only offer packets when every queue has room.
    while g.0 < N && Instant::now() < deadline {
        let room = c
            .queues
            .iter_mut()
            .map(|q| q.rx.free_exact())
            .min()
            .unwrap_or(0);
        if room >= BURST as u64 {
            c.poll(&mut g, None).unwrap();
        } else {
            c.poll(&mut ListSource::new(vec![]), None).unwrap();
            std::thread::yield_now();
        }
    }
    for (q, h) in handles.into_iter().enumerate() {
        let ids = h.join().unwrap();
        assert_eq!(ids.len(), (N / 2) as usize);
        assert!(
            ids.iter()
                .enumerate()
                .all(|(i, &id)| id == (2 * i + q) as u32)
        );
    }
    assert_eq!(c.stats().queues.iter().map(|q| q.drops).sum::<u64>(), 0);
}

#[test]
fn slave_burst_receive_returns_buffers_in_one_batch() {
    let mut c = Cluster::in_process(14, 1, small()).unwrap();
    c.enable();
    let mut s = c.slave(0).unwrap();
    c.poll(&mut ListSource::new(vec![]), None).unwrap();
    let free0 = c.free_buffers();
    let mut src = ListSource::new((0..40).map(|i| frame(1, 2, i)).collect());
    run_all(&mut c, &mut src);
    let mut ids = Vec::new();
    let mut stamps = Vec::new();
    assert_eq!(
        s.recv_burst(32, |d, ts| {
            ids.push(frame_id(d));
            stamps.push(ts);
        })
        .unwrap(),
        32
    );
    assert_eq!(s.recv_burst(32, |d, _| ids.push(frame_id(d))).unwrap(), 8);
    assert_eq!(ids, (0..40).collect::<Vec<_>>());
    assert_eq!(
        stamps,
        (0..32).collect::<Vec<u64>>(),
        "source timestamps kept"
    );
    assert_eq!(s.stats().recv, 40);
    c.poll(&mut ListSource::new(vec![]), None).unwrap();
    assert_eq!(c.free_buffers(), free0, "all 40 back");
}

#[test]
fn several_registered_sources_feed_one_cluster() {
    let mut c = Cluster::in_process(15, 1, small()).unwrap();
    c.enable();
    let mut s = c.slave(0).unwrap();
    let mut srcs = Sources::default();
    srcs.register(Box::new(ListSource::new(
        (0..5).map(|i| frame(1, 2, i)).collect(),
    )));
    srcs.register(Box::new(ListSource::new(
        (5..8).map(|i| frame(1, 2, i)).collect(),
    )));
    assert_eq!(c.poll(&mut srcs, None).unwrap(), 8);
    let got: Vec<u32> = drain(&mut s).iter().map(|f| frame_id(f)).collect();
    assert_eq!(got, (0..8).collect::<Vec<_>>());
    // The burst limit spans the sources.
    let mut srcs = Sources::default();
    srcs.register(Box::new(ListSource::new(
        (0..300).map(|i| frame(1, 2, i)).collect(),
    )));
    srcs.register(Box::new(ListSource::new(
        (0..300).map(|i| frame(1, 2, i)).collect(),
    )));
    assert_eq!(c.poll(&mut srcs, None).unwrap(), BURST);
}

/// A sink whose frames the test can still read after handing it to the cluster.
#[derive(Clone, Default)]
struct SharedSink(std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>);
impl PacketSink for SharedSink {
    fn send(&mut self, frame: &[u8]) -> Result<()> {
        self.0.lock().unwrap().push(frame.to_vec());
        Ok(())
    }
}
impl SharedSink {
    fn frames(&self) -> Vec<Vec<u8>> {
        self.0.lock().unwrap().clone()
    }
}

#[test]
fn recv_only_mode_refuses_sends_and_forwarding() {
    let mut c = Cluster::in_process(20, 1, small()).unwrap();
    c.set_mode(ClusterMode::RecvOnly);
    assert_eq!(c.mode(), ClusterMode::RecvOnly);
    c.set_distribution_function(|f, _| {
        if frame_id(f) == 2 {
            Verdict::forward(0)
        } else {
            Verdict::pass(1, 0)
        }
    });
    c.enable();
    let mut s = c.slave(0).unwrap();
    assert_eq!(s.mode(), ClusterMode::RecvOnly);
    let mut sink = VecSink::default();
    c.last_liveness -= LIVENESS_PERIOD;
    let mut src = ListSource::new(vec![frame(1, 1, 1), frame(1, 2, 2)]);
    c.poll(&mut src, Some(&mut sink)).unwrap();
    // The slave got the passed packet, the forwarded one is a TX drop, nothing went out.
    let p = s.recv(false).unwrap().unwrap();
    assert_eq!(frame_id(p.data()), 1);
    let b = p.into_buffer().unwrap();
    let free = c.free_buffers();
    assert!(matches!(
        s.send(b),
        Err(Error::WrongMode { op: "send", .. })
    ));
    assert!(matches!(s.send_copy(b"x"), Err(Error::WrongMode { .. })));
    // No alloc stash in receive-only mode.
    assert!(matches!(s.alloc(), Err(Error::NoBuffers)));
    c.poll(&mut ListSource::new(vec![]), Some(&mut sink))
        .unwrap();
    assert!(sink.0.is_empty());
    let st = c.stats();
    assert_eq!((st.rx, st.tx, st.tx_drops), (2, 0, 1));
    assert_eq!(
        c.free_buffers(),
        free + 1,
        "the refused buffer was released"
    );
}

#[test]
fn send_only_mode_reads_no_source_and_sends() {
    let mut c = Cluster::in_process(21, 1, small()).unwrap();
    c.set_mode(ClusterMode::SendOnly);
    c.enable();
    let mut s = c.slave(0).unwrap();
    let mut sink = VecSink::default();
    c.last_liveness -= LIVENESS_PERIOD;
    let mut src = ListSource::new(vec![frame(1, 1, 1)]);
    assert_eq!(c.poll(&mut src, Some(&mut sink)).unwrap(), 0);
    assert_eq!(src.next, 0, "the source was not read");
    s.send_copy(b"out").unwrap();
    c.poll(&mut src, Some(&mut sink)).unwrap();
    assert_eq!(src.next, 0);
    assert_eq!(sink.0, vec![b"out".to_vec()]);
    let st = c.stats();
    assert_eq!((st.rx, st.tx), (0, 1));
    // Back to both: the source is read again.
    c.set_mode(ClusterMode::SendAndRecv);
    assert_eq!(c.poll(&mut src, Some(&mut sink)).unwrap(), 1);
    assert_eq!(s.recv(false).unwrap().map(|p| frame_id(p.data())), Some(1));
}

#[test]
fn cpu_affinity_binds_the_polling_thread_per_mode() {
    let allowed = crate::sys::thread_affinity().unwrap();
    let first = allowed[0];
    let last = *allowed.last().unwrap();
    let mut c = Cluster::in_process(22, 1, small()).unwrap();
    assert!(matches!(
        c.set_cpu_affinity(Some(100_000), None),
        Err(Error::InvalidConfig { .. })
    ));
    c.set_cpu_affinity(Some(first), Some(last)).unwrap();
    let poll_in_thread = |mut c: Cluster| {
        std::thread::spawn(move || {
            c.poll(&mut ListSource::new(vec![]), None).unwrap();
            (c, crate::sys::thread_affinity().unwrap())
        })
        .join()
        .unwrap()
    };
    // Both RX and TX in one thread: bound to the two cores.
    let (mut c, cores) = poll_in_thread(c);
    let mut both = vec![first, last];
    both.dedup();
    assert_eq!(cores, both);
    // Receive only: the RX core alone; send only: the TX core alone.
    c.set_mode(ClusterMode::RecvOnly);
    let (mut c, cores) = poll_in_thread(c);
    assert_eq!(cores, vec![first]);
    c.set_mode(ClusterMode::SendOnly);
    let (_c, cores) = poll_in_thread(c);
    assert_eq!(cores, vec![last]);
    // This thread was not touched.
    assert_eq!(crate::sys::thread_affinity().unwrap(), allowed);
}

#[test]
fn slave_sends_by_ifindex_to_one_or_several_egresses() {
    let mut c = Cluster::in_process(23, 1, small()).unwrap();
    let (a, b) = (SharedSink::default(), SharedSink::default());
    assert_eq!(c.add_egress(7, Box::new(a.clone())).unwrap(), 0);
    assert_eq!(c.add_egress(9, Box::new(b.clone())).unwrap(), 1);
    assert!(c.add_egress(0, Box::new(SharedSink::default())).is_err());
    assert_eq!(c.egress_ifindexes(), vec![7, 9]);
    c.enable();
    let mut s = c.slave(0).unwrap();
    let mut default = VecSink::default();
    c.last_liveness -= LIVENESS_PERIOD;
    c.poll(&mut ListSource::new(vec![]), Some(&mut default))
        .unwrap();
    let one = |s: &mut Slave, bytes: &[u8], ifs: &[u32]| {
        let mut buf = s.alloc().unwrap();
        s.data_mut(&mut buf)[..bytes.len()].copy_from_slice(bytes);
        s.set_len(&mut buf, bytes.len()).unwrap();
        if let Some((&first, rest)) = ifs.split_first() {
            s.set_ifindex(&mut buf, first).unwrap();
            for &i in rest {
                s.add_ifindex(&mut buf, i).unwrap();
            }
        }
        s.send(buf).unwrap();
    };
    one(&mut s, b"to7", &[7]);
    one(&mut s, b"to9", &[9]);
    one(&mut s, b"both", &[7, 9]);
    one(&mut s, b"default", &[]);
    // An unknown ifindex is refused before sending.
    let mut buf = s.alloc().unwrap();
    assert!(matches!(
        s.set_ifindex(&mut buf, 8),
        Err(Error::NoSuchEgress { ifindex: 8, .. })
    ));
    s.release(buf);
    // A received buffer goes out of two egresses, zero copy.
    let mut src = ListSource::new(vec![frame(1, 2, 55)]);
    c.poll(&mut src, Some(&mut default)).unwrap();
    let mut rb = s.recv(false).unwrap().unwrap().into_buffer().unwrap();
    assert!(!rb.has_egress());
    s.set_ifindex(&mut rb, 9).unwrap();
    s.add_ifindex(&mut rb, 7).unwrap();
    s.send(rb).unwrap();
    let before = c.free_buffers();
    c.poll(&mut ListSource::new(vec![]), Some(&mut default))
        .unwrap();
    let fa = a.frames();
    let fb = b.frames();
    assert_eq!(&fa[..2], &[b"to7".to_vec(), b"both".to_vec()]);
    assert_eq!(&fb[..2], &[b"to9".to_vec(), b"both".to_vec()]);
    assert_eq!((fa.len(), fb.len()), (3, 3));
    assert_eq!(frame_id(&fa[2]), 55);
    assert_eq!(frame_id(&fb[2]), 55);
    assert_eq!(default.0, vec![b"default".to_vec()]);
    assert_eq!(c.stats().tx, 7);
    assert_eq!(c.stats().tx_drops, 0);
    assert!(c.free_buffers() > before, "sent buffers came back");
}

#[test]
fn forged_egress_masks_are_tx_drops() {
    let mut c = Cluster::in_process(24, 1, small()).unwrap();
    let a = SharedSink::default();
    c.add_egress(3, Box::new(a.clone())).unwrap();
    c.enable();
    let mut s = c.slave(0).unwrap();
    c.last_liveness -= LIVENESS_PERIOD;
    c.poll(&mut ListSource::new(vec![]), None).unwrap();
    let mut buf = s.alloc().unwrap();
    s.set_len(&mut buf, 10).unwrap();
    // Slots 0 (ifindex 3) and 5 (none): a forged mask.
    buf.egress = 0b10_0001;
    s.send(buf).unwrap();
    c.poll(&mut ListSource::new(vec![]), None).unwrap();
    assert_eq!(a.frames().len(), 1);
    let st = c.stats();
    assert_eq!((st.tx, st.tx_drops), (1, 1));
}
