//! The master side: a cluster (libzero's DNA Cluster) that pulls packets from a
//! [`PacketSource`], copies each once into a shared packet buffer and hands the buffer index,
//! without further copies, to one or more slave queues chosen by a distribution function.
//!
//! Buffer ownership is tracked by the master in private memory (a bitmask of the queues
//! holding each buffer), never trusted from shared memory: a buffer index a slave returns
//! or sends is accepted only if that slave holds it. A slave that dies (or detaches) is
//! noticed from its pid; its rings are emptied and every buffer it held goes back to the
//! pool. A full slave queue drops the packet for that slave only, and counts it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::hash::{HashMode, bidirectional_hash};
use crate::layout::*;
use crate::proc;
use crate::queue::{Consumer, Producer};
use crate::shm::{Region, runtime_dir};
use crate::sys::RawRing;

/// What the distribution function decides for a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Queue it to the slaves in [`Verdict::queues`] (`DNA_CLUSTER_PASS`).
    #[doc(alias = "DNA_CLUSTER_PASS")]
    Pass,
    /// Drop it (`DNA_CLUSTER_DROP`).
    #[doc(alias = "DNA_CLUSTER_DROP")]
    Drop,
    /// Send it straight out of the master's egress (`DNA_CLUSTER_FRWD`).
    #[doc(alias = "DNA_CLUSTER_FRWD")]
    Forward,
}

/// The distribution function's answer: action, slave bitmask and hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// What to do.
    pub action: Action,
    /// Bit `i` set: queue `i` gets the packet (with [`Action::Pass`]).
    pub queues: u64,
    /// The hash stored with the packet (slaves see it).
    pub hash: u32,
}

impl Verdict {
    /// Pass to the queues in `mask`.
    pub fn pass(queues: u64, hash: u32) -> Self {
        Verdict {
            action: Action::Pass,
            queues,
            hash,
        }
    }
    /// Drop.
    pub fn drop() -> Self {
        Verdict {
            action: Action::Drop,
            queues: 0,
            hash: 0,
        }
    }
    /// Forward to the egress.
    pub fn forward(hash: u32) -> Self {
        Verdict {
            action: Action::Forward,
            queues: 0,
            hash,
        }
    }
}

/// A custom distribution function: gets the frame and the number of queues.
pub type DistributionFn = Box<dyn FnMut(&[u8], u32) -> Verdict + Send>;

/// How packets are spread over the queues.
pub enum Distribution {
    /// `hash % queues` on the libzero bidirectional hash (the default, per flow, both
    /// directions to one queue).
    Hash(HashMode),
    /// Every queue gets every packet (one buffer, shared read-only).
    FanOut,
    /// Queue after queue.
    RoundRobin,
    /// A closure.
    Custom(DistributionFn),
}

impl std::fmt::Debug for Distribution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Distribution::Hash(m) => write!(f, "Hash({m:?})"),
            Distribution::FanOut => f.write_str("FanOut"),
            Distribution::RoundRobin => f.write_str("RoundRobin"),
            Distribution::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

/// How the master (and the slaves' blocking receive) waits for packets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WaitMode {
    /// Sleep (slaves: shared futex on their queue; master: the source's wait).
    #[default]
    Passive,
    /// Spin.
    Active,
}

/// What a cluster does (`dna_cluster_set_mode`, PF_RING's `socket_mode`): libzero runs an
/// RX thread and a TX thread and the mode says which of the two exist.
#[doc(alias = "dna_cluster_set_mode")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ClusterMode {
    /// Receive and distribute, and send what slaves send (`send_and_recv_mode`, the default).
    #[default]
    SendAndRecv,
    /// Only send: the master reads nothing from its source; slaves allocate buffers and send
    /// them (`send_only_mode`).
    SendOnly,
    /// Only receive and distribute: nothing is sent, slaves' sends are refused with
    /// [`Error::WrongMode`], [`Action::Forward`] counts a TX drop, and slaves get no alloc
    /// stash, so the whole pool serves RX (`recv_only_mode`).
    RecvOnly,
}

impl ClusterMode {
    pub(crate) fn code(self) -> u32 {
        match self {
            ClusterMode::SendAndRecv => 0,
            ClusterMode::SendOnly => 1,
            ClusterMode::RecvOnly => 2,
        }
    }
    pub(crate) fn from_code(c: u32) -> Self {
        match c {
            1 => ClusterMode::SendOnly,
            2 => ClusterMode::RecvOnly,
            _ => ClusterMode::SendAndRecv,
        }
    }
    pub(crate) fn name(self) -> &'static str {
        match self {
            ClusterMode::SendAndRecv => "send-and-receive",
            ClusterMode::SendOnly => "send-only",
            ClusterMode::RecvOnly => "receive-only",
        }
    }
    fn receives(self) -> bool {
        self != ClusterMode::SendOnly
    }
    fn sends(self) -> bool {
        self != ClusterMode::RecvOnly
    }
}

/// A source of packets the master pulls bursts from (the tools plug a `pfring` ring in).
pub trait PacketSource {
    /// Calls `f(frame, timestamp_ns)` for up to `max` packets that are ready, returns how
    /// many. Must not block.
    fn recv_burst(&mut self, max: usize, f: &mut dyn FnMut(&[u8], u64)) -> Result<usize>;

    /// Waits up to `timeout` for packets (passive mode); the default sleeps a little.
    fn wait(&mut self, timeout: Duration) -> Result<()> {
        std::thread::sleep(timeout.min(Duration::from_micros(200)));
        Ok(())
    }
}

/// Several ingress sources read in turn, a burst from each (libzero's
/// `dna_cluster_register_ring` called more than once).
#[doc(alias = "dna_cluster_register_ring")]
#[derive(Default)]
pub struct Sources(pub Vec<Box<dyn PacketSource + Send>>);

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sources({})", self.0.len())
    }
}

impl Sources {
    /// Adds a source.
    pub fn register(&mut self, s: Box<dyn PacketSource + Send>) {
        self.0.push(s);
    }
}

impl PacketSource for Sources {
    fn recv_burst(&mut self, max: usize, f: &mut dyn FnMut(&[u8], u64)) -> Result<usize> {
        let mut n = 0;
        for s in &mut self.0 {
            if n >= max {
                break;
            }
            n += s.recv_burst(max - n, f)?;
        }
        Ok(n)
    }

    fn wait(&mut self, timeout: Duration) -> Result<()> {
        // Waiting on one would starve the others: a short nap instead.
        std::thread::sleep(timeout.min(Duration::from_micros(200)));
        Ok(())
    }
}

/// Where the master sends forwarded packets and what slaves send.
pub trait PacketSink {
    /// Sends one frame.
    fn send(&mut self, frame: &[u8]) -> Result<()>;
    /// Pushes out anything batched (default: nothing).
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Sizes of a cluster.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    /// Slots per slave queue (a power of two; zbalance_ipc's `-q`). Default 4096.
    pub queue_len: u32,
    /// Packet buffers in the pool; default `queues * (queue_len + ALLOC) + 1024`.
    pub num_buffers: Option<u32>,
    /// Bytes of packet data per buffer (default 1536; longer packets are dropped).
    pub buffer_size: u32,
    /// Descriptor directory (default [`runtime_dir`]).
    pub dir: Option<PathBuf>,
    /// Try huge pages (default true; falls back to 4 KiB pages with a note).
    pub huge_pages: bool,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            queue_len: 4096,
            num_buffers: None,
            buffer_size: 1536,
            dir: None,
            huge_pages: true,
        }
    }
}

/// Buffers kept in each attached slave's alloc ring.
pub(crate) const ALLOC_TARGET: u64 = 64;
const BURST: usize = 256;
const LIVENESS_PERIOD: Duration = Duration::from_millis(50);

/// Counters of one queue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Packets queued to the slave.
    pub enqueued: u64,
    /// Packets dropped because the queue was full.
    pub drops: u64,
    /// Pid of the attached slave (0: none).
    pub slave_pid: u32,
    /// Packets the slave says it received.
    pub slave_recv: u64,
    /// Packets the slave says it sent.
    pub slave_sent: u64,
}

/// Cluster counters (`dna_cluster_stats`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterStats {
    /// Packets read from the source.
    pub rx: u64,
    /// Packets read but not stored (no free buffer, or too long).
    pub rx_drops: u64,
    /// Packets that went through the distribution function.
    pub processed: u64,
    /// Packets sent to the egress (forwarded or sent by slaves).
    pub tx: u64,
    /// Packets that could not be sent (no egress, or the egress failed).
    pub tx_drops: u64,
    /// Per queue.
    pub queues: Vec<QueueStats>,
}

impl ClusterStats {
    /// Reads the counters a master publishes in the header.
    pub(crate) fn read(region: &Region) -> Self {
        let m = &region.map;
        let g = |o| m.u64_at(o).map_or(0, |a| a.load(Ordering::Relaxed));
        let l = region.layout;
        ClusterStats {
            rx: g(H_RX),
            rx_drops: g(H_RX_DROPS),
            processed: g(H_PROCESSED),
            tx: g(H_TX),
            tx_drops: g(H_TX_DROPS),
            queues: (0..l.num_queues)
                .map(|q| {
                    let b = l.qctl(q);
                    QueueStats {
                        enqueued: g(b + Q_ENQUEUED),
                        drops: g(b + Q_DROPS),
                        slave_pid: g(b + Q_OWNER) as u32,
                        slave_recv: g(b + Q_SLAVE_RECV),
                        slave_sent: g(b + Q_SLAVE_SENT),
                    }
                })
                .collect(),
        }
    }
}

struct MasterQueue {
    rx: Producer,
    alloc: Producer,
    ret: Consumer,
    tx: Consumer,
    enqueued: u64,
    drops: u64,
    bad_returns: u64,
    attached: bool,
    dirty: bool,
}

/// A cluster master (libzero `dna_cluster`).
pub struct Cluster {
    id: u32,
    region: Region,
    queues: Vec<MasterQueue>,
    free: Vec<u32>,
    owners: Vec<u64>,
    distribution: Distribution,
    rr: u32,
    wait_mode: WaitMode,
    enabled: bool,
    stats: ClusterStats,
    last_liveness: Instant,
    mode: ClusterMode,
    /// Cores for the RX and TX work (`set_cpu_affinity`), applied by the next `poll`.
    affinity: (Option<usize>, Option<usize>),
    affinity_pending: bool,
    /// Egress slot `i` (bit `i` of a buffer's egress mask): ifindex and sink.
    egress: Vec<(u32, Box<dyn PacketSink + Send>)>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("id", &self.id)
            .field("queues", &self.queues.len())
            .field("free", &self.free.len())
            .field("distribution", &self.distribution)
            .finish_non_exhaustive()
    }
}

fn ring(region: &Region, q: u32, r: usize) -> Result<RawRing> {
    let l = region.layout;
    RawRing::new(&region.map, l.ring(q, r), l.queue_len as usize)
        .ok_or_else(|| Error::corrupt("ring outside the mapping"))
}

impl Cluster {
    /// Creates cluster `id` with `num_queues` slave queues, visible to slave processes
    /// through the descriptor file in the runtime directory (`dna_cluster_create`).
    #[doc(alias = "dna_cluster_create")]
    pub fn create(id: u32, num_queues: u32, cfg: ClusterConfig) -> Result<Self> {
        let layout = layout_for(num_queues, &cfg)?;
        let dir = cfg.dir.clone().unwrap_or_else(runtime_dir);
        let region = Region::create(id, layout, &dir, cfg.huge_pages)?;
        Self::init(id, region)
    }

    /// Creates a cluster in anonymous memory, for slaves in threads of this process
    /// ([`Cluster::slave`]); no descriptor file.
    pub fn in_process(id: u32, num_queues: u32, cfg: ClusterConfig) -> Result<Self> {
        let layout = layout_for(num_queues, &cfg)?;
        Self::init(id, Region::anonymous(layout)?)
    }

    fn init(id: u32, region: Region) -> Result<Self> {
        let l = region.layout;
        let m = &region.map;
        let set32 = |o, v| {
            if let Some(a) = m.u32_at(o) {
                a.store(v, Ordering::Relaxed)
            }
        };
        set32(H_VERSION, VERSION);
        set32(H_NUM_QUEUES, l.num_queues);
        set32(H_QUEUE_LEN, l.queue_len);
        set32(H_NUM_BUFFERS, l.num_buffers);
        set32(H_BUF_SIZE, l.buf_size);
        let me = std::process::id();
        set32(H_MASTER_PID, me);
        if let Some(a) = m.u64_at(H_MASTER_START) {
            a.store(proc::start_time(me).unwrap_or(0), Ordering::Relaxed);
        }
        if let Some(a) = m.u64_at(H_TOTAL) {
            a.store(m.len() as u64, Ordering::Relaxed);
        }
        set32(H_STATE, STATE_RUNNING);
        if let Some(a) = m.u64_at(H_MAGIC) {
            a.store(MAGIC, Ordering::Release);
        }
        let mut queues = Vec::with_capacity(l.num_queues as usize);
        for q in 0..l.num_queues {
            queues.push(MasterQueue {
                rx: Producer::new(ring(&region, q, RING_RX)?),
                alloc: Producer::new(ring(&region, q, RING_ALLOC)?),
                ret: Consumer::new(ring(&region, q, RING_RET)?),
                tx: Consumer::new(ring(&region, q, RING_TX)?),
                enqueued: 0,
                drops: 0,
                bad_returns: 0,
                attached: false,
                dirty: false,
            });
        }
        Ok(Cluster {
            id,
            free: (0..l.num_buffers).rev().collect(),
            owners: vec![0; l.num_buffers as usize],
            queues,
            region,
            distribution: Distribution::Hash(HashMode::Ip),
            rr: 0,
            wait_mode: WaitMode::Passive,
            enabled: false,
            stats: ClusterStats::default(),
            last_liveness: Instant::now(),
            mode: ClusterMode::SendAndRecv,
            affinity: (None, None),
            affinity_pending: false,
            egress: Vec::new(),
        })
    }

    /// The cluster id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Number of slave queues.
    pub fn num_queues(&self) -> u32 {
        self.region.layout.num_queues
    }

    /// True when the shared memory is backed by huge pages.
    pub fn huge_pages(&self) -> bool {
        self.region.huge
    }

    /// Free buffers in the master's pool.
    pub fn free_buffers(&self) -> usize {
        self.free.len()
    }

    /// Sets the distribution function (`dna_cluster_set_distribution_function`).
    #[doc(alias = "dna_cluster_set_distribution_function")]
    pub fn set_distribution(&mut self, d: Distribution) {
        self.distribution = d;
    }

    /// Sets a custom distribution closure.
    pub fn set_distribution_function<F>(&mut self, f: F)
    where
        F: FnMut(&[u8], u32) -> Verdict + Send + 'static,
    {
        self.distribution = Distribution::Custom(Box::new(f));
    }

    /// Sets the wait mode (`dna_cluster_set_wait_mode`); slaves' blocking receive follows it.
    #[doc(alias = "dna_cluster_set_wait_mode")]
    pub fn set_wait_mode(&mut self, m: WaitMode) {
        self.wait_mode = m;
        if let Some(a) = self.region.map.u32_at(H_WAIT_MODE) {
            a.store(u32::from(m == WaitMode::Active), Ordering::Relaxed);
        }
    }

    /// The wait mode.
    pub fn wait_mode(&self) -> WaitMode {
        self.wait_mode
    }

    /// Sets what the cluster does (`dna_cluster_set_mode`): see [`ClusterMode`]. Slaves
    /// read the mode from the shared header, so it can change while they are attached.
    #[doc(alias = "dna_cluster_set_mode")]
    pub fn set_mode(&mut self, mode: ClusterMode) {
        self.mode = mode;
        if let Some(a) = self.region.map.u32_at(H_MODE) {
            a.store(mode.code(), Ordering::Release);
        }
        self.affinity_pending |= self.affinity != (None, None);
    }

    /// The mode.
    pub fn mode(&self) -> ClusterMode {
        self.mode
    }

    /// Binds the master's RX work (reading the source, distributing) to `rx_core` and its
    /// TX work (sending what slaves send, forwarding) to `tx_core`
    /// (`dna_cluster_set_cpu_affinity`).
    ///
    /// libzero runs RX and TX in two threads; this master does both in the one thread that
    /// calls [`Cluster::poll`] / [`Cluster::run`], so that thread is bound, at its next
    /// `poll`, to the cores of the work its mode does: `rx_core` in
    /// [`ClusterMode::RecvOnly`], `tx_core` in [`ClusterMode::SendOnly`], both (the thread
    /// may run on either) in [`ClusterMode::SendAndRecv`]. `None` leaves that side free;
    /// both `None` changes nothing. Cores outside the calling thread's allowed set are
    /// refused with [`Error::InvalidConfig`].
    #[doc(alias = "dna_cluster_set_cpu_affinity")]
    pub fn set_cpu_affinity(
        &mut self,
        rx_core: Option<usize>,
        tx_core: Option<usize>,
    ) -> Result<()> {
        let allowed =
            crate::sys::thread_affinity().map_err(|e| Error::sys("sched_getaffinity", e))?;
        for c in [rx_core, tx_core].into_iter().flatten() {
            if !allowed.contains(&c) {
                return Err(Error::InvalidConfig {
                    reason: format!("core {c} is not one of the allowed cores {allowed:?}"),
                });
            }
        }
        self.affinity = (rx_core, tx_core);
        self.affinity_pending = rx_core.is_some() || tx_core.is_some();
        Ok(())
    }

    /// The cores the polling thread is bound to under the current mode and affinity.
    fn affinity_cores(&self) -> Vec<usize> {
        let (rx, tx) = self.affinity;
        let mut v: Vec<usize> = match self.mode {
            ClusterMode::RecvOnly => rx.into_iter().collect(),
            ClusterMode::SendOnly => tx.into_iter().collect(),
            ClusterMode::SendAndRecv => rx.into_iter().chain(tx).collect(),
        };
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Starts distributing (`dna_cluster_enable`).
    #[doc(alias = "dna_cluster_enable")]
    pub fn enable(&mut self) {
        self.enabled = true;
    }

    /// Stops distributing; slaves stay attached (`dna_cluster_disable`).
    #[doc(alias = "dna_cluster_disable")]
    pub fn disable(&mut self) {
        self.enabled = false;
    }

    /// True while enabled.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// A snapshot of the counters (`dna_cluster_stats`).
    #[doc(alias = "dna_cluster_stats")]
    pub fn stats(&self) -> ClusterStats {
        let mut s = self.stats.clone();
        s.queues = ClusterStats::read(&self.region).queues;
        for (qs, q) in s.queues.iter_mut().zip(&self.queues) {
            qs.enqueued = q.enqueued;
            qs.drops = q.drops;
        }
        s
    }

    /// The free slots of the fullest queue (read fresh): a master that wants to be lossless
    /// offers a burst only when this is at least the burst size.
    pub fn queue_room(&mut self) -> u64 {
        self.queues
            .iter_mut()
            .map(|q| q.rx.free_exact())
            .min()
            .unwrap_or(0)
    }

    /// Buffer indices a slave returned or sent that it did not hold (ignored), per queue.
    pub fn bad_returns(&self) -> Vec<u64> {
        self.queues.iter().map(|q| q.bad_returns).collect()
    }

    /// Destroys the cluster: slaves see the master gone, the descriptor file is removed
    /// (`dna_cluster_destroy`; dropping does the same).
    #[doc(alias = "dna_cluster_destroy")]
    pub fn destroy(self) {}

    /// A slave of an in-process cluster, for a thread of this process.
    pub fn slave(&self, queue: u32) -> Result<crate::Slave> {
        crate::slave::Slave::from_region(self.id, self.region.view(), queue)
    }

    #[inline]
    fn release_owner(free: &mut Vec<u32>, owners: &mut [u64], idx: u32, bit: u64) -> bool {
        match owners.get_mut(idx as usize) {
            Some(o) if *o & bit != 0 => {
                *o &= !bit;
                if *o == 0 {
                    free.push(idx);
                }
                true
            }
            _ => false,
        }
    }

    /// Takes back what slaves released and sends what they sent: to the egress slots in
    /// the buffer's egress mask, or to `sink` (the default egress) when the mask is 0.
    fn service_slaves(&mut self, sink: &mut Option<&mut dyn PacketSink>) {
        let l = self.region.layout;
        let sends = self.mode.sends();
        let Cluster {
            region,
            queues,
            free,
            owners,
            stats,
            egress,
            ..
        } = self;
        for (q, mq) in queues.iter_mut().enumerate() {
            let bit = 1u64 << q;
            while let Some(e) = mq.ret.pop_local() {
                let (idx, _) = split(e);
                if !Self::release_owner(free, owners, idx, bit) {
                    mq.bad_returns += 1;
                }
            }
            mq.ret.release();
            while let Some(e) = mq.tx.pop_local() {
                let (idx, len) = split(e);
                let held = owners.get(idx as usize).is_some_and(|o| o & bit != 0);
                if !held {
                    mq.bad_returns += 1;
                    continue;
                }
                let hdr = l.buf(idx).and_then(|o| region.map.u32_at(o + BUF_EGRESS));
                let mask = hdr.map_or(0, |a| a.load(Ordering::Acquire));
                let data = l
                    .buf(idx)
                    .filter(|_| len <= l.buf_size)
                    .and_then(|o| region.map.slice(o + BUF_HDR, len as usize));
                match data {
                    Some(d) if sends => {
                        if mask == 0 {
                            match sink.as_mut().map(|s| s.send(d)) {
                                Some(Ok(())) => stats.tx += 1,
                                _ => stats.tx_drops += 1,
                            }
                        } else {
                            let mut m = mask;
                            while m != 0 {
                                let slot = m.trailing_zeros() as usize;
                                m &= m - 1;
                                match egress.get_mut(slot).map(|(_, s)| s.send(d)) {
                                    Some(Ok(())) => stats.tx += 1,
                                    _ => stats.tx_drops += 1,
                                }
                            }
                        }
                    }
                    _ => stats.tx_drops += u64::from(mask.count_ones().max(1)),
                }
                Self::release_owner(free, owners, idx, bit);
            }
            mq.tx.release();
            // Slaves' alloc stashes never take the last quarter of the pool (kept for RX);
            // a receive-only cluster gives none (its slaves cannot send).
            let reserve = l.num_buffers as usize / 4;
            if sends && mq.attached && free.len() > reserve && mq.alloc.pending() < ALLOC_TARGET / 2
            {
                while free.len() > reserve && mq.alloc.pending() < ALLOC_TARGET {
                    let Some(idx) = free.pop() else { break };
                    if !mq.alloc.push_local(entry(idx, 0)) {
                        free.push(idx);
                        break;
                    }
                    owners[idx as usize] |= bit;
                }
                mq.alloc.publish();
            }
        }
        for (_, s) in egress.iter_mut() {
            if s.flush().is_err() {
                stats.tx_drops += 1;
            }
        }
    }

    /// Adds an egress interface: slaves send to it by `ifindex`
    /// ([`crate::Slave::set_ifindex`] / [`crate::Slave::add_ifindex`]); returns its slot.
    /// At most [`MAX_EGRESS`]; adding an ifindex again replaces its sink.
    pub fn add_egress(&mut self, ifindex: u32, sink: Box<dyn PacketSink + Send>) -> Result<usize> {
        if ifindex == 0 {
            return Err(Error::InvalidConfig {
                reason: "egress ifindex 0".into(),
            });
        }
        if let Some(slot) = self.egress.iter().position(|(i, _)| *i == ifindex) {
            self.egress[slot].1 = sink;
            return Ok(slot);
        }
        if self.egress.len() >= MAX_EGRESS {
            return Err(Error::InvalidConfig {
                reason: format!("more than {MAX_EGRESS} egress interfaces"),
            });
        }
        let slot = self.egress.len();
        if let Some(a) = self.region.map.u32_at(H_EGRESS + 4 * slot) {
            a.store(ifindex, Ordering::Release);
        }
        self.egress.push((ifindex, sink));
        Ok(slot)
    }

    /// The ifindexes of the egress interfaces, by slot.
    pub fn egress_ifindexes(&self) -> Vec<u32> {
        self.egress.iter().map(|(i, _)| *i).collect()
    }

    /// Notices attached and detached slaves (every round: one atomic load per queue) and,
    /// with `liveness`, dead ones (from `/proc`); recycles the queues of the gone ones.
    fn check_slaves(&mut self, liveness: bool) {
        let l = self.region.layout;
        for q in 0..l.num_queues {
            let base = l.qctl(q);
            let owner = self
                .region
                .map
                .u64_at(base + Q_OWNER)
                .map_or(0, |a| a.load(Ordering::Acquire));
            let pid = owner as u32;
            let gone = pid != 0
                && (owner & OWNER_DETACHED != 0 || {
                    liveness && {
                        let start = self
                            .region
                            .map
                            .u64_at(base + Q_START)
                            .map_or(0, |a| a.load(Ordering::Acquire));
                        !proc::alive(pid, start)
                    }
                });
            if gone {
                self.recycle(q);
            } else {
                self.queues[q as usize].attached = pid != 0;
            }
        }
    }

    /// Empties queue `q` and takes back every buffer its slave held.
    fn recycle(&mut self, q: u32) {
        let bit = 1u64 << q;
        let mq = &mut self.queues[q as usize];
        mq.rx.reset();
        mq.alloc.reset();
        mq.ret.reset();
        mq.tx.reset();
        mq.attached = false;
        for (i, o) in self.owners.iter_mut().enumerate() {
            if *o & bit != 0 {
                *o &= !bit;
                if *o == 0 {
                    self.free.push(i as u32);
                }
            }
        }
        let base = self.region.layout.qctl(q);
        if let Some(a) = self.region.map.u64_at(base + Q_START) {
            a.store(0, Ordering::Relaxed);
        }
        if let Some(a) = self.region.map.u64_at(base + Q_OWNER) {
            a.store(0, Ordering::Release);
        }
    }

    /// One round: services the slaves, then (when enabled) reads one burst from `src` and
    /// distributes it. Returns the number of packets read.
    pub fn poll(
        &mut self,
        src: &mut dyn PacketSource,
        mut sink: Option<&mut dyn PacketSink>,
    ) -> Result<usize> {
        if self.affinity_pending {
            self.affinity_pending = false;
            let cores = self.affinity_cores();
            if !cores.is_empty() {
                crate::sys::set_thread_affinity(&cores)
                    .map_err(|e| Error::sys("sched_setaffinity", e))?;
            }
        }
        let now = Instant::now();
        let liveness = now.duration_since(self.last_liveness) >= LIVENESS_PERIOD;
        if liveness {
            self.last_liveness = now;
        }
        self.check_slaves(liveness);
        self.service_slaves(&mut sink);
        if !self.enabled || !self.mode.receives() {
            self.publish_stats();
            return Ok(0);
        }
        let n = self.distribute(src, &mut sink)?;
        if let Some(s) = sink {
            s.flush()?;
        }
        self.publish_stats();
        Ok(n)
    }

    fn distribute(
        &mut self,
        src: &mut dyn PacketSource,
        sink: &mut Option<&mut dyn PacketSink>,
    ) -> Result<usize> {
        let l = self.region.layout;
        let nq = l.num_queues;
        let all: u64 = if nq == 64 { u64::MAX } else { (1u64 << nq) - 1 };
        let sends = self.mode.sends();
        let Cluster {
            region,
            queues,
            free,
            owners,
            distribution,
            rr,
            stats,
            ..
        } = self;
        let map = &region.map;
        let max = BURST.min(free.len().max(1));
        let mut f = |data: &[u8], ts: u64| {
            stats.rx += 1;
            let len = data.len();
            if len > l.buf_size as usize {
                stats.rx_drops += 1;
                return;
            }
            let v = match distribution {
                Distribution::Hash(m) => {
                    let h = bidirectional_hash(data, *m);
                    Verdict::pass(1u64 << (h % nq), h)
                }
                Distribution::FanOut => Verdict::pass(all, 0),
                Distribution::RoundRobin => {
                    let q = *rr;
                    *rr = if q + 1 >= nq { 0 } else { q + 1 };
                    Verdict::pass(1u64 << q, 0)
                }
                Distribution::Custom(f) => f(data, nq),
            };
            stats.processed += 1;
            match v.action {
                Action::Drop => {}
                Action::Forward if !sends => stats.tx_drops += 1,
                Action::Forward => match sink.as_mut() {
                    Some(s) => match s.send(data) {
                        Ok(()) => stats.tx += 1,
                        Err(_) => stats.tx_drops += 1,
                    },
                    None => stats.tx_drops += 1,
                },
                Action::Pass => {
                    let mask = v.queues & all;
                    if mask == 0 {
                        return;
                    }
                    let Some(idx) = free.pop() else {
                        stats.rx_drops += 1;
                        return;
                    };
                    let Some(off) = l.buf(idx) else {
                        return;
                    };
                    if let Some(b) = map.slice_mut(off, BUF_HDR + len) {
                        b[..8].copy_from_slice(&ts.to_ne_bytes());
                        b[8..12].copy_from_slice(&v.hash.to_ne_bytes());
                        b[BUF_HDR..].copy_from_slice(data);
                    }
                    let e = entry(idx, len as u32);
                    let mut held = 0u64;
                    let mut m = mask;
                    while m != 0 {
                        let q = m.trailing_zeros() as usize;
                        m &= m - 1;
                        let mq = &mut queues[q];
                        if mq.rx.push_local(e) {
                            held |= 1 << q;
                            mq.enqueued += 1;
                            mq.dirty = true;
                        } else {
                            mq.drops += 1;
                        }
                    }
                    if held == 0 {
                        free.push(idx);
                    } else {
                        owners[idx as usize] = held;
                    }
                }
            }
        };
        let n = src.recv_burst(max, &mut f)?;
        for mq in queues.iter_mut() {
            if mq.dirty {
                mq.dirty = false;
                mq.rx.publish();
            }
        }
        Ok(n)
    }

    fn publish_stats(&self) {
        let m = &self.region.map;
        let put = |o, v| {
            if let Some(a) = m.u64_at(o) {
                a.store(v, Ordering::Relaxed)
            }
        };
        put(H_RX, self.stats.rx);
        put(H_RX_DROPS, self.stats.rx_drops);
        put(H_PROCESSED, self.stats.processed);
        put(H_TX, self.stats.tx);
        put(H_TX_DROPS, self.stats.tx_drops);
        let l = self.region.layout;
        for (q, mq) in self.queues.iter().enumerate() {
            put(l.qctl(q as u32) + Q_ENQUEUED, mq.enqueued);
            put(l.qctl(q as u32) + Q_DROPS, mq.drops);
        }
    }

    /// Runs [`Cluster::poll`] until `stop` is set, waiting per the wait mode when idle.
    pub fn run(
        &mut self,
        src: &mut dyn PacketSource,
        mut sink: Option<&mut dyn PacketSink>,
        stop: &AtomicBool,
    ) -> Result<()> {
        while !stop.load(Ordering::Relaxed) {
            let n = match sink {
                Some(ref mut s) => self.poll(src, Some(&mut **s))?,
                None => self.poll(src, None)?,
            };
            if n == 0 {
                match self.wait_mode {
                    WaitMode::Passive => src.wait(Duration::from_millis(1))?,
                    WaitMode::Active => std::hint::spin_loop(),
                }
            }
        }
        Ok(())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.publish_stats();
        if let Some(a) = self.region.map.u32_at(H_STATE) {
            a.store(STATE_STOPPED, Ordering::Release);
        }
        for mq in &mut self.queues {
            mq.rx.wake_consumer();
        }
    }
}

fn layout_for(num_queues: u32, cfg: &ClusterConfig) -> Result<Layout> {
    let nb = match cfg.num_buffers {
        Some(n) => n,
        None => num_queues
            .checked_mul(cfg.queue_len.saturating_add(ALLOC_TARGET as u32))
            .and_then(|n| n.checked_add(BURST as u32 * 4))
            .ok_or_else(|| Error::InvalidConfig {
                reason: "too many buffers".into(),
            })?,
    };
    Layout::new(num_queues, cfg.queue_len, nb, cfg.buffer_size)
}

#[cfg(test)]
mod tests;
