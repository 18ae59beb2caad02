//! The ring's side of the registry ([`crate::registry`]): what goes into its entry, and when
//! it is written. Kept out of the hot path: a receive call costs one counter increment and
//! a test; the clock is read every 64 calls and at every wait.

use super::{Backend, Direction, Ring};
use crate::registry::{RingInfo, UPDATE_EVERY};

impl Ring {
    /// The registry entry's id (`<pid>-<device>.<n>`, what `pfinfo ring <id>` takes), or
    /// `None` when the ring is not registered (no runtime directory).
    pub fn registry_id(&self) -> Option<&str> {
        self.reg.id()
    }

    /// The entry; `st`: the statistics when the caller has just read them (else read here).
    fn registry_info(&mut self, st: Option<crate::Stats>) -> RingInfo {
        let st = st.unwrap_or_else(|| {
            self.stats_inner().unwrap_or(crate::Stats {
                recv: self.recv_count,
                drop: 0,
            })
        });
        let cluster = self.cluster();
        RingInfo {
            app_name: self.app_name.clone().unwrap_or_default(),
            device: self.device.clone(),
            module: match self.backend {
                Backend::Shm(_) => "userspace",
                _ => self.spec.module(),
            }
            .to_owned(),
            active: self.enabled,
            direction: match self.cfg.direction {
                Direction::RxAndTx => "RX+TX",
                Direction::RxOnly => "RX only",
                Direction::TxOnly => "TX only",
            }
            .to_owned(),
            socket_mode: self.cfg.mode.name().to_owned(),
            cluster_id: cluster.map(|c| c.0),
            cluster_type: cluster.map(|c| format!("{:?}", c.1)).unwrap_or_default(),
            bpf_filter: self.reg.bpf.clone(),
            sampling_rate: self
                .rules
                .as_deref()
                .map_or(1, |r| r.set.sampling_rate().max(1)),
            slots: match &self.backend {
                Backend::Shm(s) => s.slots(),
                _ => self.cfg.slots,
            },
            caplen: self.cfg.caplen,
            poll_watermark: self.cfg.watermark,
            quick_mode: self.cfg.quick_mode,
            ip_defrag: self.cfg.ip_defrag,
            ring_memory: self.ring_memory() as u64,
            recv: st.recv,
            drop: st.drop,
            sent: self.tx_stats().0,
            // Frames the library itself kept from the application: a userspace ring's BPF
            // filter, and the software rules (PF_RING's "filtered"). Kernel filters drop
            // before the ring and are not counted.
            filtered: {
                let bpf = match &self.backend {
                    Backend::Shm(s) if s.role == crate::backend::shm::Role::Consumer => {
                        Some(s.filtered)
                    }
                    _ => None,
                };
                let rules = self.rules.as_deref().map(|r| r.set.stats().filtered);
                match (bpf, rules) {
                    (None, None) => None,
                    (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
                }
            },
            ..RingInfo::default()
        }
    }

    /// Writes the entry now (open, setting changes).
    pub(super) fn registry_write(&mut self) {
        self.registry_write_with(None);
    }

    fn registry_write_with(&mut self, st: Option<crate::Stats>) {
        if self.reg.id().is_none() {
            return;
        }
        let mut info = self.registry_info(st);
        self.reg.write(&mut info);
    }

    /// After [`Ring::stats`] read `st`: writes the entry if the last write is 500 ms old (tools
    /// that read their stats every 100 ms, like pfcount -n, then write two entries a second,
    /// not ten).
    pub(super) fn registry_stats(&mut self, st: crate::Stats) {
        if self.reg.due(std::time::Duration::from_millis(500)) {
            self.registry_write_with(Some(st));
        }
    }

    /// Receive path: every 64th call checks whether a write is due.
    #[inline]
    pub(super) fn registry_tick(&mut self) {
        self.reg.calls = self.reg.calls.wrapping_add(1);
        if self.reg.calls & 63 == 0 {
            self.registry_due();
        }
    }

    /// Writes the entry when the last write is [`UPDATE_EVERY`] old.
    #[cold]
    pub(super) fn registry_due(&mut self) {
        if self.reg.due(UPDATE_EVERY) {
            self.registry_write();
        }
    }
}
