//! libzero's DNA cluster and DNA bouncer (`dna_cluster_*`, `pfring_dna_bouncer_*`) on the
//! `pfring-zc` crate.
//!
//! - **Cluster** (`dna_cluster_create` ... `dna_cluster_destroy`): the handle collects the
//!   settings and the registered rings; `dna_cluster_enable` creates the `pfring-zc`
//!   cluster (shared memory announced in the runtime directory, see `pfring-zc`), enables
//!   the registered rings and starts one master thread that reads them (a burst from each
//!   in turn), runs the distribution function and queues packets to the slaves.
//!   Slaves are separate processes (or threads) opening `zc:<cluster_id>@<queue>` with
//!   `pfring_open`, queues 0..num_apps-1. `dna_cluster_disable` stops the thread and
//!   releases the cluster (slaves see the master gone); `dna_cluster_enable` may create it
//!   again. Registered rings stay the caller's: keep them open until
//!   `dna_cluster_destroy`, and do not receive from them meanwhile.
//! - The master copies each burst out of the ring before distributing it (the ring's lock is
//!   not held while packets are queued or forwarded).
//! - Egress (`DNA_CLUSTER_FRWD`, and what slaves send): the first registered ring, in
//!   `send_only_mode` / `send_and_recv_mode` (`dna_cluster_set_mode`); in
//!   `recv_only_mode` (the default here) there is none and such packets are counted as
//!   TX drops. In `send_only_mode` the rings are not read.
//! - The distribution function gets `num_slaves` in `slaves_info`; its
//!   `approximate_stats` are zero (the master does not sample queue depths per packet).
//! - `dna_cluster_low_level_settings(rx, tx, additional)`: `rx` is the slave queue length (a
//!   power of two), `additional` extra pool buffers; `tx` is ignored (slaves send through
//!   the same queues). `dna_cluster_set_hugepages_mountpoint` checks the directory exists:
//!   the pool is a `memfd` with `MFD_HUGETLB`, which needs no mount point.
//! - `dna_cluster_set_cpu_affinity(rx, tx)`: the one master thread does both, and is pinned
//!   to `rx_core_id`; `tx_core_id` is ignored. `dna_cluster_set_thread_name`: the thread is
//!   named `rx_thread_name` (15 bytes kept, a Linux limit).
//! - `dna_cluster_create`'s `flags` are accepted and ignored (libzero's tuning flags).
//! - **Bouncer**: `pfring_dna_bouncer_loop` forwards between the two rings in the calling
//!   thread until `pfring_dna_bouncer_breakloop` (from another thread or a signal handler:
//!   an atomic store). The decision function sees a copy of each packet: changes it makes
//!   to the bytes or to `*pkt_len` are not sent (the received bytes are forwarded).
//! - Errors: a NULL handle or an out-of-range value is `PF_RING_ERROR_INVALID_ARGUMENT`
//!   (`EINVAL`); settings changed while the cluster runs are `PF_RING_ERROR_INVALID_STATUS`;
//!   constructors return NULL with `errno`.
//!
//! # Safety (every function)
//! Handles are NULL or live (from the matching create call, not destroyed); rings are NULL or
//! live `pfring` handles that stay open while registered; other pointers are NULL or valid
//! for their C type.

use std::ffi::{c_char, c_int};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use pfring_rs::Error;
use pfring_zc::bouncer::Direction;
use pfring_zc::{
    Bouncer, BouncerMode, BreakLoop, Cluster, ClusterConfig, ClusterStats, Decision, PacketSink,
    PacketSource, Sources, Verdict, WaitMode,
};

use crate::types::*;
use crate::{Code, call, call_or, cstr, handle, invalid, not_supported, pfring, set_errno};

// ---- a C handle's ring as a pfring-zc source and sink ------------------------------------

/// A registered ring.
struct RingRef {
    ring: *const pfring,
    scratch: Vec<u8>,
    lens: Vec<(usize, u64)>,
}

// SAFETY: `pfring` is used only through its internal lock; the caller keeps the handle open
// while it is registered (module contract), whatever thread the master runs on.
unsafe impl Send for RingRef {}

impl RingRef {
    fn new(ring: *const pfring) -> RingRef {
        RingRef {
            ring,
            scratch: Vec::new(),
            lens: Vec::new(),
        }
    }

    /// The handle (its lifetime is the registration's, not tied to `self`).
    fn handle<'a>(&self) -> &'a pfring {
        // SAFETY: non-NULL (checked at registration) and open while registered.
        unsafe { &*self.ring }
    }

    /// Enables the ring if it is not.
    fn enable(&self) -> Result<(), Code> {
        let mut st = self.handle().lock();
        if !st.ring.is_enabled() {
            st.ring.enable()?;
        }
        Ok(())
    }
}

fn zc_err(e: Error) -> pfring_zc::Error {
    pfring_zc::Error::PacketIo(Box::new(e))
}

impl PacketSource for RingRef {
    fn recv_burst(
        &mut self,
        max: usize,
        f: &mut dyn FnMut(&[u8], u64),
    ) -> pfring_zc::Result<usize> {
        self.scratch.clear();
        self.lens.clear();
        {
            let h = self.handle();
            let mut st = h.lock();
            let burst = st.ring.recv_burst(max, false).map_err(zc_err)?;
            for (hdr, data) in burst.iter() {
                self.scratch.extend_from_slice(data);
                self.lens.push((data.len(), hdr.ts.as_nanos()));
            }
        }
        let mut off = 0;
        for &(len, ts) in &self.lens {
            f(&self.scratch[off..off + len], ts);
            off += len;
        }
        Ok(self.lens.len())
    }

    fn wait(&mut self, timeout: Duration) -> pfring_zc::Result<()> {
        let t = timeout.min(Duration::from_millis(10));
        self.handle().lock().ring.poll(t).map_err(zc_err)?;
        Ok(())
    }
}

impl PacketSink for RingRef {
    fn send(&mut self, frame: &[u8]) -> pfring_zc::Result<()> {
        let h = self.handle();
        // Bounded: a full TX ring is waited on for at most ~100 ms per frame.
        for _ in 0..10 {
            let mut st = h.lock();
            match st.ring.send(frame, false) {
                Ok(()) => return Ok(()),
                Err(Error::NoTxSlotAvailable) => {
                    st.ring
                        .wait_tx_slot(Duration::from_millis(10))
                        .map_err(zc_err)?;
                }
                Err(e) => return Err(zc_err(e)),
            }
        }
        Err(zc_err(Error::NoTxSlotAvailable))
    }

    fn flush(&mut self) -> pfring_zc::Result<()> {
        self.handle().lock().ring.flush_tx_packets().map_err(zc_err)
    }
}

fn zc_code(e: pfring_zc::Error) -> Code {
    Code::from(Error::Zc(e))
}

fn invalid_status() -> Code {
    set_errno(libc::EBUSY);
    Code(PF_RING_ERROR_INVALID_STATUS)
}

// ---- DNA cluster --------------------------------------------------------------------------

/// A running master.
struct Running {
    cluster: Arc<Mutex<Cluster>>,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<pfring_zc::Result<()>>,
}

/// What a `pfring_dna_cluster *` points to.
struct DnaCluster {
    id: u32,
    num_apps: u32,
    cfg: ClusterConfig,
    rings: Vec<*const pfring>,
    dist: pfring_dna_cluster_distribution_func,
    wait: WaitMode,
    mode: socket_mode,
    cpu: Option<usize>,
    name: Option<String>,
    running: Option<Running>,
    /// Counters of the last run (after `dna_cluster_disable`).
    last: ClusterStats,
}

/// The cluster behind a handle.
///
/// # Safety
/// `h` is NULL or a live handle from `dna_cluster_create`.
unsafe fn cluster<'a>(h: *mut pfring_dna_cluster) -> Result<MutexGuard<'a, DnaCluster>, Code> {
    // SAFETY: per this function's contract.
    let m = unsafe { h.cast::<Mutex<DnaCluster>>().as_ref() }.ok_or_else(invalid)?;
    Ok(m.lock().unwrap_or_else(|p| p.into_inner()))
}

/// Pins the calling thread to `cpu`.
fn pin(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET writes inside it;
    // sched_setaffinity(0, ...) reads it for the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

impl DnaCluster {
    fn check_stopped(&self) -> Result<(), Code> {
        if self.running.is_some() {
            return Err(invalid_status());
        }
        Ok(())
    }

    fn enable(&mut self) -> Result<(), Code> {
        if self.running.is_some() {
            return Ok(());
        }
        if self.rings.is_empty() {
            return Err(invalid());
        }
        let refs: Vec<RingRef> = self.rings.iter().map(|&r| RingRef::new(r)).collect();
        for r in &refs {
            r.enable()?;
        }
        let mut c = Cluster::create(self.id, self.num_apps, self.cfg.clone()).map_err(zc_code)?;
        if let Some(f) = self.dist {
            let info = Box::new(pfring_dna_cluster_slaves_info {
                num_slaves: self.num_apps,
                approximate_stats: [pfring_dna_cluster_slave_stat::default();
                    DNA_CLUSTER_MAX_NUM_SLAVES],
            });
            c.set_distribution_function(move |frame, _queues| {
                let (mut mask, mut hash) = (0u32, 0u32);
                let len = u16::try_from(frame.len()).unwrap_or(u16::MAX);
                // SAFETY: the function has the documented signature (the caller of
                // dna_cluster_set_distribution_function promised); every pointer is live
                // for the call and `len` is at most the frame's length.
                let rc = unsafe { f(frame.as_ptr(), len, &*info, &mut mask, &mut hash) };
                match rc {
                    DNA_CLUSTER_PASS => Verdict::pass(mask.into(), hash),
                    DNA_CLUSTER_FRWD => Verdict::forward(hash),
                    _ => Verdict::drop(),
                }
            });
        }
        c.set_wait_mode(self.wait);
        c.enable();
        let cluster = Arc::new(Mutex::new(c));
        let stop = Arc::new(AtomicBool::new(false));
        let mut src = Sources::default();
        let mut refs = refs.into_iter();
        let sink = if self.mode == recv_only_mode {
            None
        } else {
            Some(RingRef::new(self.rings[0]))
        };
        if self.mode != send_only_mode {
            for r in refs.by_ref() {
                src.register(Box::new(r));
            }
        }
        let (c2, s2, wait, cpu) = (cluster.clone(), stop.clone(), self.wait, self.cpu);
        let mut b = std::thread::Builder::new();
        if let Some(n) = &self.name {
            b = b.name(n.chars().take(15).collect());
        }
        let thread = b
            .spawn(move || master(c2, s2, src, sink, wait, cpu))
            .map_err(|e| {
                set_errno(e.raw_os_error().unwrap_or(libc::EAGAIN));
                Code(PF_RING_ERROR_GENERIC)
            })?;
        self.running = Some(Running {
            cluster,
            stop,
            thread,
        });
        Ok(())
    }

    fn disable(&mut self) -> Result<(), Code> {
        let Some(r) = self.running.take() else {
            return Ok(());
        };
        r.stop.store(true, Ordering::Relaxed);
        let res = r.thread.join();
        let mut c = r.cluster.lock().unwrap_or_else(|p| p.into_inner());
        c.disable();
        self.last = c.stats();
        drop(c);
        match res {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(zc_code(e)),
            Err(_) => {
                set_errno(libc::EFAULT);
                Err(Code(PF_RING_ERROR_GENERIC))
            }
        }
    }

    fn stats(&self) -> ClusterStats {
        match &self.running {
            Some(r) => r.cluster.lock().unwrap_or_else(|p| p.into_inner()).stats(),
            None => self.last.clone(),
        }
    }
}

/// The master thread: a round of the cluster under its lock, waits outside it.
fn master(
    cluster: Arc<Mutex<Cluster>>,
    stop: Arc<AtomicBool>,
    mut src: Sources,
    mut sink: Option<RingRef>,
    wait: WaitMode,
    cpu: Option<usize>,
) -> pfring_zc::Result<()> {
    if let Some(c) = cpu {
        pin(c);
    }
    while !stop.load(Ordering::Relaxed) {
        let n = {
            let mut c = cluster.lock().unwrap_or_else(|p| p.into_inner());
            match sink.as_mut() {
                Some(s) => c.poll(&mut src, Some(s))?,
                None => c.poll(&mut src, None)?,
            }
        };
        if n == 0 {
            match wait {
                WaitMode::Passive => src.wait(Duration::from_millis(1))?,
                WaitMode::Active => std::hint::spin_loop(),
            }
        }
    }
    Ok(())
}

/// Creates the handle of DNA cluster `cluster_id` for `num_apps` slaves (1..=32; queues
/// 0..num_apps-1, opened as `zc:<cluster_id>@<queue>`). The shared memory is created by
/// `dna_cluster_enable`. NULL with `errno = EINVAL` for a count out of range.
#[unsafe(no_mangle)]
pub extern "C" fn dna_cluster_create(
    cluster_id: u32,
    num_apps: u32,
    flags: u32,
) -> *mut pfring_dna_cluster {
    let _ = flags;
    call_or(std::ptr::null_mut(), || {
        if num_apps == 0 || num_apps as usize > DNA_CLUSTER_MAX_NUM_SLAVES {
            return Err(invalid());
        }
        let c = DnaCluster {
            id: cluster_id,
            num_apps,
            cfg: ClusterConfig::default(),
            rings: Vec::new(),
            dist: None,
            wait: WaitMode::Passive,
            mode: recv_only_mode,
            cpu: None,
            name: None,
            running: None,
            last: ClusterStats::default(),
        };
        Ok(Box::into_raw(Box::new(Mutex::new(c))).cast::<pfring_dna_cluster>())
    })
}

/// Slave queue length (`slave_rx_queue_len`, a power of two, 2..=2^20) and extra pool
/// buffers (`slave_additional_buffers`); `slave_tx_queue_len` is ignored.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dna_cluster_low_level_settings(
    handle: *mut pfring_dna_cluster,
    slave_rx_queue_len: u32,
    slave_tx_queue_len: u32,
    slave_additional_buffers: u32,
) -> c_int {
    let _ = slave_tx_queue_len;
    call(|| {
        // SAFETY: per the module contract.
        let mut c = unsafe { cluster(handle) }?;
        c.check_stopped()?;
        let q = slave_rx_queue_len;
        if !q.is_power_of_two() || !(2..=1 << 20).contains(&q) {
            return Err(invalid());
        }
        c.cfg.queue_len = q;
        c.cfg.num_buffers = if slave_additional_buffers == 0 {
            None
        } else {
            // pfring-zc's default pool (queues x (queue + 64) + 1024) plus the extra.
            c.num_apps
                .checked_mul(q + 64)
                .and_then(|n| n.checked_add(1024))
                .and_then(|n| n.checked_add(slave_additional_buffers))
                .map(Some)
                .ok_or_else(invalid)?
        };
        Ok(0)
    })
}

/// Checks `mountpoint` is a directory and asks for huge pages (the pool is a `memfd` with
/// `MFD_HUGETLB`, which needs no mount point; 4 KiB pages when none are free).
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dna_cluster_set_hugepages_mountpoint(
    handle: *mut pfring_dna_cluster,
    mountpoint: *const c_char,
) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let mut c = unsafe { cluster(handle) }?;
        // SAFETY: per the module contract.
        let path = unsafe { cstr(mountpoint) }?;
        c.check_stopped()?;
        if !std::path::Path::new(path).is_dir() {
            set_errno(libc::ENOENT);
            return Err(Code(PF_RING_ERROR_INVALID_ARGUMENT));
        }
        c.cfg.huge_pages = true;
        Ok(0)
    })
}

/// Adds a ring the master reads (and, per the mode, sends through). The ring stays the
/// caller's; keep it open until `dna_cluster_destroy`.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dna_cluster_register_ring(
    handle: *mut pfring_dna_cluster,
    ring: *mut pfring,
) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let mut c = unsafe { cluster(handle) }?;
        // SAFETY: per the module contract.
        unsafe { crate::handle(ring) }?;
        c.check_stopped()?;
        c.rings.push(ring.cast_const());
        Ok(0)
    })
}

/// Pins the master thread to `rx_core_id` (it also does the TX work: `tx_core_id` is
/// ignored). Takes effect at `dna_cluster_enable`.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dna_cluster_set_cpu_affinity(
    handle: *mut pfring_dna_cluster,
    rx_core_id: u32,
    tx_core_id: u32,
) {
    let _ = tx_core_id;
    call_or((), || {
        // SAFETY: per the module contract.
        let mut c = unsafe { cluster(handle) }?;
        let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get());
        if rx_core_id as usize >= ncpu.max(libc::CPU_SETSIZE as usize) {
            return Err(invalid());
        }
        c.cpu = Some(rx_core_id as usize);
        Ok(())
    })
}

/// Names the master thread `rx_thread_name` (`tx_thread_name` is ignored: one thread).
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dna_cluster_set_thread_name(
    handle: *mut pfring_dna_cluster,
    rx_thread_name: *const c_char,
    tx_thread_name: *const c_char,
) {
    let _ = tx_thread_name;
    call_or((), || {
        // SAFETY: per the module contract.
        let mut c = unsafe { cluster(handle) }?;
        // SAFETY: per the module contract.
        let n = unsafe { cstr(rx_thread_name) }?;
        c.name = Some(n.to_owned());
        Ok(())
    })
}

/// `recv_only_mode` (default: the rings are read, nothing is sent), `send_only_mode`
/// (slaves' packets leave by the first ring, nothing is read), `send_and_recv_mode`.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dna_cluster_set_mode(
    handle: *mut pfring_dna_cluster,
    mode: socket_mode,
) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let mut c = unsafe { cluster(handle) }?;
        if mode > recv_only_mode {
            return Err(invalid());
        }
        c.check_stopped()?;
        c.mode = mode;
        Ok(0)
    })
}

/// Sets the distribution function (`DNA_CLUSTER_PASS` with the slaves' bits in
/// `*id_mask`, `DNA_CLUSTER_DROP`, `DNA_CLUSTER_FRWD`); NULL restores the default (per-flow
/// bidirectional hash). Takes effect at `dna_cluster_enable`.
///
/// # Safety
/// See the module documentation; `func` has the documented signature.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dna_cluster_set_distribution_function(
    handle: *mut pfring_dna_cluster,
    func: pfring_dna_cluster_distribution_func,
) {
    call_or((), || {
        // SAFETY: per the module contract.
        let mut c = unsafe { cluster(handle) }?;
        c.dist = func;
        Ok(())
    })
}

/// Active (spinning, `active_wait != 0`) or passive waiting, for the master and the slaves'
/// blocking receives. Takes effect at `dna_cluster_enable`.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dna_cluster_set_wait_mode(
    handle: *mut pfring_dna_cluster,
    active_wait: u32,
) {
    call_or((), || {
        // SAFETY: per the module contract.
        let mut c = unsafe { cluster(handle) }?;
        c.wait = if active_wait != 0 {
            WaitMode::Active
        } else {
            WaitMode::Passive
        };
        Ok(())
    })
}

/// Creates the cluster's shared memory, enables the registered rings and starts the master
/// thread (0 if already running). `INVALID_ARGUMENT` without a registered ring; cluster
/// creation failures (e.g. the id in use by a live master): `PF_RING_ERROR_GENERIC`.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dna_cluster_enable(handle: *mut pfring_dna_cluster) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        unsafe { cluster(handle) }?.enable()?;
        Ok(0)
    })
}

/// Stops the master thread and releases the cluster (its counters stay readable).
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dna_cluster_disable(handle: *mut pfring_dna_cluster) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        unsafe { cluster(handle) }?.disable()?;
        Ok(0)
    })
}

/// Cluster counters: packets read from the rings, sent (forwarded and slaves' sends), and
/// processed by the distribution function.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dna_cluster_stats(
    handle: *mut pfring_dna_cluster,
    stats: *mut pfring_dna_cluster_stat,
) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let c = unsafe { cluster(handle) }?;
        // SAFETY: per the module contract.
        let out = unsafe { crate::out(stats) }?;
        let s = c.stats();
        *out = pfring_dna_cluster_stat {
            tot_rx_packets: s.rx,
            tot_tx_packets: s.tx,
            tot_rx_processed: s.processed,
        };
        Ok(0)
    })
}

/// Stops the cluster (as `dna_cluster_disable`) and frees the handle. The registered rings
/// are not closed.
///
/// # Safety
/// See the module documentation; the handle is not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dna_cluster_destroy(handle: *mut pfring_dna_cluster) {
    call_or((), || {
        if handle.is_null() {
            return Err(invalid());
        }
        // SAFETY: a live handle from dna_cluster_create (module contract), freed once here.
        let b = unsafe { Box::from_raw(handle.cast::<Mutex<DnaCluster>>()) };
        let mut c = b.into_inner().unwrap_or_else(|p| p.into_inner());
        c.disable()?;
        Ok(())
    })
}

/// libzero's open of a `dnacluster:` ring. Not supported: open `zc:<cluster_id>@<queue>`
/// with `pfring_open` (the slave side of the cluster).
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_dna_cluster_open(ring: *mut pfring) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        unsafe { handle(ring) }?;
        Err(not_supported())
    })
}

// ---- DNA bouncer --------------------------------------------------------------------------

/// What a `pfring_dna_bouncer *` points to.
struct DnaBouncer {
    bouncer: Mutex<Bouncer<RingRef, RingRef>>,
    brk: BreakLoop,
    /// Ingress and egress.
    rings: [*const pfring; 2],
}

/// # Safety
/// `h` is NULL or a live handle from `pfring_dna_bouncer_create`.
unsafe fn bouncer<'a>(h: *mut pfring_dna_bouncer) -> Result<&'a DnaBouncer, Code> {
    // SAFETY: per this function's contract.
    unsafe { h.cast::<DnaBouncer>().as_ref() }.ok_or_else(invalid)
}

/// Creates a bouncer forwarding `ingress_ring`'s packets to `egress_ring` (one way; see
/// `pfring_dna_bouncer_set_mode`). The rings stay the caller's; keep them open until
/// `pfring_dna_bouncer_destroy`. NULL with `errno = EINVAL` for a NULL ring.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_dna_bouncer_create(
    ingress_ring: *mut pfring,
    egress_ring: *mut pfring,
) -> *mut pfring_dna_bouncer {
    call_or(std::ptr::null_mut(), || {
        // SAFETY: per the module contract.
        unsafe { handle(ingress_ring) }?;
        // SAFETY: per the module contract.
        unsafe { handle(egress_ring) }?;
        let b = Bouncer::new(RingRef::new(ingress_ring), RingRef::new(egress_ring));
        let brk = b.break_handle();
        let h = Box::new(DnaBouncer {
            bouncer: Mutex::new(b),
            brk,
            rings: [ingress_ring.cast_const(), egress_ring.cast_const()],
        });
        Ok(Box::into_raw(h).cast::<pfring_dna_bouncer>())
    })
}

/// `one_way_mode` (ingress to egress, the default) or `two_way_mode` (also back).
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_dna_bouncer_set_mode(
    handle: *mut pfring_dna_bouncer,
    mode: dna_bouncer_mode,
) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let b = unsafe { bouncer(handle) }?;
        let m = match mode {
            one_way_mode => BouncerMode::OneWay,
            two_way_mode => BouncerMode::TwoWay,
            _ => return Err(invalid()),
        };
        let mut g = b.bouncer.try_lock().map_err(|_| invalid_status())?;
        g.set_mode(m);
        Ok(0)
    })
}

/// Forwards packets in the calling thread until `pfring_dna_bouncer_breakloop`, asking `func`
/// about each (`DNA_BOUNCER_PASS` forwards, anything else drops; `direction` 0 = ingress to
/// egress, 1 = back). `wait_for_packet != 0` waits passively when idle, else spins. Enables
/// the rings if needed. Returns 0 when broken; `INVALID_STATUS` if the loop already runs.
///
/// # Safety
/// See the module documentation; `func` has the documented signature, `user_bytes` is
/// passed to it as is.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_dna_bouncer_loop(
    handle: *mut pfring_dna_bouncer,
    func: pfring_dna_bouncer_decision_func,
    user_bytes: *const u8,
    wait_for_packet: u8,
) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let b = unsafe { bouncer(handle) }?;
        let f = func.ok_or_else(invalid)?;
        let mut g = b.bouncer.try_lock().map_err(|_| invalid_status())?;
        for &r in &b.rings {
            RingRef::new(r).enable()?;
        }
        g.set_wait_mode(if wait_for_packet != 0 {
            WaitMode::Passive
        } else {
            WaitMode::Active
        });
        let mut copy = Vec::new();
        g.run(|data, dir| {
            copy.clear();
            copy.extend_from_slice(data);
            let mut len = u32::try_from(copy.len()).unwrap_or(u32::MAX);
            let d = u8::from(dir == Direction::EgressToIngress);
            // SAFETY: documented signature (the caller's promise); `len` and the copy are
            // live and writable for the call.
            let rc = unsafe { f(&mut len, copy.as_mut_ptr(), user_bytes, d) };
            if rc == DNA_BOUNCER_PASS {
                Decision::Forward
            } else {
                Decision::Drop
            }
        })
        .map_err(zc_code)?;
        Ok(0)
    })
}

/// Makes `pfring_dna_bouncer_loop` return (safe from another thread or a signal handler).
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_dna_bouncer_breakloop(handle: *mut pfring_dna_bouncer) {
    call_or((), || {
        // SAFETY: per the module contract.
        unsafe { bouncer(handle) }?.brk.breakloop();
        Ok(())
    })
}

/// Frees the bouncer (its loop must have returned). The rings are not closed.
///
/// # Safety
/// See the module documentation; the handle is not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_dna_bouncer_destroy(handle: *mut pfring_dna_bouncer) {
    call_or((), || {
        if handle.is_null() {
            return Err(invalid());
        }
        // SAFETY: a live handle from pfring_dna_bouncer_create, freed once here.
        drop(unsafe { Box::from_raw(handle.cast::<DnaBouncer>()) });
        Ok(())
    })
}
