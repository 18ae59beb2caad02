//! The ring's side of PF_RING's software rules ([`crate::filter::rules`]): the API
//! (`pfring_add_filtering_rule`, ...), the per-packet check in the receive path, reflection,
//! and the kernel offload.

use std::time::{Duration, Instant};

use super::Ring;
use crate::backend::packet::PACKET_OUTGOING;
use crate::error::{Error, Result};
use crate::filter::rules::{
    FilteringPolicy, FilteringRule, HashFilteringRule, HashRuleStats, RuleSet, RuleSetStats,
    Transmit, WildcardRuleStats, offload,
};
use crate::parse::ParsedPacket;
use crate::sys::iface;
use crate::sys::socket::PacketSocket;

/// Smallest caplen with which rules are offloaded: the library must see the headers of the
/// frames the kernel program leaves to it.
const OFFLOAD_MIN_CAPLEN: u32 = 128;

/// Rule state of a ring (allocated on the first rule call).
#[derive(Debug)]
pub(crate) struct RingRules {
    pub(crate) set: RuleSet,
    /// `set_reflector_device`: name and interface index.
    reflector: Option<(String, i32)>,
    /// The application allows the kernel offload (default yes).
    allow_offload: bool,
    /// The rules are compiled into the attached kernel filter.
    offloaded: bool,
    /// Whether there is anything to do (rules, drop policy, sampling or a payload search).
    active: bool,
    /// Whether the rule engine itself has anything to do.
    rules_active: bool,
    /// `search_payload`: only frames whose payload contains it are delivered.
    payload_search: Option<String>,
    /// Frames reflected / bounced, and sends that failed.
    pub(crate) transmitted: u64,
    pub(crate) transmit_errors: u64,
    /// Hardware rules and the filtering mode.
    pub(crate) hw: super::hw_rules::HwState,
    /// A socket for reflect / bounce on rings that have no packet socket of their own
    /// (`xdp:` and `pcap:` rings), opened on the first such send.
    own_tx: Option<PacketSocket>,
}

impl Default for RingRules {
    fn default() -> Self {
        RingRules {
            set: RuleSet::with_builtin_plugins(),
            reflector: None,
            allow_offload: true,
            offloaded: false,
            active: false,
            rules_active: false,
            payload_search: None,
            transmitted: 0,
            transmit_errors: 0,
            hw: super::hw_rules::HwState::default(),
            own_tx: None,
        }
    }
}

/// What the rule check needs to know about a received frame.
pub(crate) struct FrameInfo {
    pub(crate) wire_len: u32,
    pub(crate) vlan_tci: Option<u16>,
    pub(crate) ifindex: i32,
    pub(crate) outgoing: bool,
    /// Timestamp, ns since the Unix epoch.
    pub(crate) ts_ns: u64,
}

impl RingRules {
    /// Whether the frame is delivered to the application. Runs the engine (unless the
    /// kernel already decided), sends reflected / bounced copies through `tx`.
    #[inline]
    pub(crate) fn admit(&mut self, data: &[u8], f: &FrameInfo, tx: Option<&PacketSocket>) -> bool {
        if !self.active {
            return true;
        }
        // Parsed for the payload search; the rules below reuse it.
        let mut parsed = None;
        if let Some(pattern) = &self.payload_search {
            let (p, _) = ParsedPacket::parse(data, 4);
            if !crate::filter::rules::payload_matches(&p, data, pattern) {
                return false;
            }
            if !self.rules_active {
                return true;
            }
            parsed = Some(p);
        }
        // The ring puts a tag the kernel stripped back into the bytes (when there is room).
        let reinserted = f.vlan_tci.is_some_and(|tci| {
            matches!(data.get(12..16), Some(&[a, b, c, d])
                if matches!(u16::from_be_bytes([a, b]), 0x8100 | 0x88a8 | 0x9100)
                    && u16::from_be_bytes([c, d]) == tci)
        });
        if self.offloaded {
            // What the kernel program saw: the frame without the stripped tag.
            let decided = if reinserted {
                // `reinserted` means at least 16 bytes; the check reads at most 24.
                let mut head = [0u8; 28];
                let n = data.len().min(32);
                head[..12].copy_from_slice(&data[..12]);
                head[12..n - 4].copy_from_slice(&data[16..n]);
                !offload::needs_library(&head[..n - 4], f.wire_len.saturating_sub(4))
            } else {
                !offload::needs_library(data, f.wire_len)
            };
            if decided {
                return true;
            }
        }
        let mut p = parsed.unwrap_or_else(|| ParsedPacket::parse(data, 4).0);
        if let Some(tci) = f.vlan_tci
            && !reinserted
        {
            // The kernel took the outer tag out of the bytes: it is the first tag.
            p.qinq_vlan_id = p.vlan_id;
            p.vlan_id = tci & 0x0fff;
        }
        let v = self.set.evaluate_at(&p, data, Instant::now(), f.ts_ns);
        // Transmitted frames are not reflected again (no loops through a bounce).
        if !v.transmit.is_empty() && !f.outgoing {
            if tx.is_none() && self.own_tx.is_none() {
                // Failing here (no CAP_NET_RAW) counts as a transmit error below.
                self.own_tx = PacketSocket::new(0).ok();
            }
            let tx = tx.or(self.own_tx.as_ref());
            for t in &v.transmit {
                let to = match *t {
                    Transmit::Reflect(Some(i)) => Some(i),
                    Transmit::Reflect(None) => self.reflector.as_ref().map(|r| r.1),
                    Transmit::Bounce => (f.ifindex > 0).then_some(f.ifindex),
                };
                match (to, tx) {
                    (Some(i), Some(s)) if s.send_to(data, i).is_ok() => self.transmitted += 1,
                    _ => self.transmit_errors += 1,
                }
            }
        }
        v.deliver
    }
}

impl FrameInfo {
    pub(crate) fn of(f: &crate::sys::tpacket::RawFrame) -> FrameInfo {
        FrameInfo {
            wire_len: f.len,
            vlan_tci: f.vlan_tci,
            ifindex: f.ifindex,
            outgoing: f.pkttype == PACKET_OUTGOING,
            ts_ns: u64::from(f.sec) * 1_000_000_000 + u64::from(f.nsec),
        }
    }
}

fn resolve(dev: Option<&str>) -> Result<Option<i32>> {
    dev.map(|d| iface::ifindex(d).map_err(|_| Error::NoSuchDevice { name: d.to_owned() }))
        .transpose()
}

impl Ring {
    pub(crate) fn rules_mut(&mut self) -> &mut RingRules {
        self.rules.get_or_insert_with(Box::default)
    }

    /// Recompiles the kernel offload after a change, and re-attaches the socket filters.
    pub(crate) fn sync_rules(&mut self) -> Result<()> {
        let caplen = self.cfg.caplen;
        let Some(r) = self.rules.as_deref_mut() else {
            return Ok(());
        };
        r.rules_active = r.set.is_active();
        r.active = r.rules_active || r.payload_search.is_some();
        let has_sockets = !self.backend.sockets().is_empty();
        let prog =
            if r.allow_offload && r.rules_active && has_sockets && caplen >= OFFLOAD_MIN_CAPLEN {
                offload::compile(&r.set, crate::filter::Target::Kernel)
            } else {
                None
            };
        // Every socket's filter must combine with it.
        let prog = prog.filter(|p| {
            self.backend
                .sockets()
                .iter()
                .all(|b| offload::combine(b.user_filter.as_ref(), p).is_some())
        });
        let was = r.offloaded;
        r.offloaded = prog.is_some();
        if !was && prog.is_none() {
            return Ok(());
        }
        // The same program is attached already (e.g. after a new BPF filter, which the caller
        // attached combined with these rules): nothing to redo.
        if self
            .backend
            .sockets()
            .iter()
            .all(|b| b.rules_filter == prog)
        {
            return Ok(());
        }
        for b in self.backend.sockets_mut() {
            b.rules_filter = prog.clone();
            if self.enabled {
                b.apply_filter(&self.cfg)?;
            }
        }
        Ok(())
    }

    /// Delivers only frames whose payload (the bytes after the Ethernet, VLAN, IP and TCP/UDP
    /// headers) contains `pattern`, ignoring ASCII case; `|` separates alternatives, as in a
    /// rule's payload pattern. `None` delivers every frame again. The search runs in the
    /// library, before the software rules (frames must pass both), on every module.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an empty pattern (or one of only `|`).
    #[doc(alias = "pfring_search_payload")]
    pub fn search_payload(&mut self, pattern: Option<&str>) -> Result<()> {
        if let Some(p) = pattern
            && p.split('|').all(str::is_empty)
        {
            return Err(Error::InvalidArgument(
                "search_payload: empty pattern".into(),
            ));
        }
        self.rules_mut().payload_search = pattern.map(str::to_owned);
        self.sync_rules()
    }

    /// Adds a wildcard rule (evaluated in ascending `rule_id`, see
    /// [`crate::filter::rules`]). A rule naming a reflector device gets it resolved now.
    ///
    /// # Errors
    /// [`Error::Rule`] (duplicate id, invalid field, unknown plugin),
    /// [`Error::NoSuchDevice`] for the rule's reflector device, attaching failures.
    #[doc(alias = "pfring_add_filtering_rule")]
    pub fn add_filtering_rule(&mut self, rule: FilteringRule) -> Result<()> {
        let refl = resolve(rule.reflector_device.as_deref())?;
        self.rules_mut().set.add_rule(rule, refl, Instant::now())?;
        self.sync_rules()
    }

    /// Removes wildcard rule `rule_id`.
    ///
    /// # Errors
    /// [`Error::Rule`] when there is no such rule; attaching failures.
    #[doc(alias = "pfring_remove_filtering_rule")]
    pub fn remove_filtering_rule(&mut self, rule_id: u16) -> Result<()> {
        self.rules_mut().set.remove_rule(rule_id)?;
        self.sync_rules()
    }

    /// Adds an exact (hash) rule (`pfring_handle_hash_filtering_rule(ring, rule, 1)`).
    ///
    /// # Errors
    /// [`Error::Rule`] when the flow has a rule already; [`Error::NoSuchDevice`] for the
    /// rule's reflector device; attaching failures.
    #[doc(alias = "pfring_handle_hash_filtering_rule")]
    pub fn add_hash_filtering_rule(&mut self, rule: HashFilteringRule) -> Result<()> {
        let refl = resolve(rule.reflector_device.as_deref())?;
        self.rules_mut()
            .set
            .add_hash_rule(rule, refl, Instant::now())?;
        self.sync_rules()
    }

    /// Removes the exact rule of `rule`'s flow
    /// (`pfring_handle_hash_filtering_rule(ring, rule, 0)`).
    ///
    /// # Errors
    /// [`Error::Rule`] when there is none; attaching failures.
    #[doc(alias = "pfring_handle_hash_filtering_rule")]
    pub fn remove_hash_filtering_rule(&mut self, rule: &HashFilteringRule) -> Result<()> {
        self.rules_mut().set.remove_hash_rule(rule)?;
        self.sync_rules()
    }

    /// Default policy for packets no rule decides: `true` = accept (the default), `false` =
    /// drop.
    ///
    /// # Errors
    /// Attaching failures.
    #[doc(alias = "pfring_toggle_filtering_policy")]
    pub fn toggle_filtering_policy(&mut self, accept: bool) -> Result<()> {
        self.rules_mut().set.set_policy(if accept {
            FilteringPolicy::Accept
        } else {
            FilteringPolicy::Drop
        });
        self.sync_rules()
    }

    /// Delivers exactly one of every `rate` packets that passed the BPF filter and the
    /// rules (1 = all, the default; 0 is taken as 1). Sampling runs in the library.
    ///
    /// # Errors
    /// Attaching failures (the rules leave the kernel while sampling is on).
    #[doc(alias = "pfring_set_sampling_rate")]
    pub fn set_sampling_rate(&mut self, rate: u32) -> Result<()> {
        self.rules_mut().set.set_sampling_rate(rate);
        self.sync_rules()
    }

    /// Sends frames matched by a `reflect` action out of `device`
    /// (`pfring_set_reflector_device`); `None` removes it. Rules may name their own device.
    ///
    /// # Errors
    /// [`Error::NoSuchDevice`].
    #[doc(alias = "pfring_set_reflector_device")]
    pub fn set_reflector_device(&mut self, device: Option<&str>) -> Result<()> {
        let r = match device {
            Some(d) => Some((d.to_owned(), resolve(Some(d))?.unwrap_or(0))),
            None => None,
        };
        self.rules_mut().reflector = r;
        Ok(())
    }

    /// The reflector device, if set.
    pub fn reflector_device(&self) -> Option<&str> {
        self.rules
            .as_deref()
            .and_then(|r| r.reflector.as_ref().map(|x| x.0.as_str()))
    }

    /// Allows (the default) or forbids compiling the rules into the kernel filter when they
    /// only forward or drop. While offloaded, dropped packets never reach the ring, and the
    /// per-rule statistics and idle purges are not available (they need the library to see
    /// every packet): forbid the offload to use them.
    ///
    /// # Errors
    /// Attaching failures.
    pub fn set_rules_offload(&mut self, allow: bool) -> Result<()> {
        self.rules_mut().allow_offload = allow;
        self.sync_rules()
    }

    /// Whether the rules currently run in the kernel.
    pub fn rules_offloaded(&self) -> bool {
        self.rules.as_deref().is_some_and(|r| r.offloaded)
    }

    /// Counters of the library's rule engine (packets filtered, sampled out, exact-rule
    /// hits). While the rules run in the kernel (see [`Ring::rules_offloaded`]) they only
    /// count the frames the kernel program leaves to the library (QinQ, IPv6 extension
    /// headers, ...); what the kernel drops is not counted anywhere.
    pub fn rules_stats(&self) -> RuleSetStats {
        self.rules
            .as_deref()
            .map(|r| r.set.stats())
            .unwrap_or_default()
    }

    /// Frames sent by reflect / bounce actions, and sends that failed (no reflector
    /// device, device down, ...).
    pub fn reflected_frames(&self) -> (u64, u64) {
        self.rules
            .as_deref()
            .map_or((0, 0), |r| (r.transmitted, r.transmit_errors))
    }

    fn check_library_rules(&self, op: &'static str) -> Result<&RingRules> {
        match self.rules.as_deref() {
            Some(r) if r.offloaded => Err(Error::NotSupported {
                op,
                backend: "kernel-offloaded rules (call set_rules_offload(false))",
            }),
            Some(r) => Ok(r),
            None => Err(Error::Rule(crate::filter::rules::RuleError::NoSuchHashRule)),
        }
    }

    /// Statistics of wildcard rule `rule_id`: matches and the last match time (PF_RING
    /// never finished these; here they exist).
    ///
    /// # Errors
    /// [`Error::Rule`] for an unknown id; [`Error::NotSupported`] while offloaded.
    #[doc(alias = "pfring_get_filtering_rule_stats")]
    pub fn filtering_rule_stats(&self, rule_id: u16) -> Result<WildcardRuleStats> {
        let r = self
            .check_library_rules("wildcard rule statistics")
            .map_err(|e| match e {
                Error::Rule(_) => Error::Rule(crate::filter::rules::RuleError::NoSuchRule(rule_id)),
                e => e,
            })?;
        Ok(r.set.rule_stats(rule_id, Instant::now())?)
    }

    /// Statistics of the exact rule of `rule`'s flow (match, filtered, match_forward,
    /// inactivity).
    ///
    /// # Errors
    /// [`Error::Rule`] when there is none; [`Error::NotSupported`] while offloaded.
    #[doc(alias = "pfring_get_hash_filtering_rule_stats")]
    pub fn hash_filtering_rule_stats(&self, rule: &HashFilteringRule) -> Result<HashRuleStats> {
        let r = self.check_library_rules("exact rule statistics")?;
        Ok(r.set.hash_rule_stats(rule, Instant::now())?)
    }

    /// Removes exact rules idle for `inactivity_sec` seconds; returns how many.
    ///
    /// # Errors
    /// [`Error::NotSupported`] while offloaded (the kernel filter has no match times).
    #[doc(alias = "pfring_purge_idle_hash_rules")]
    pub fn purge_idle_hash_rules(&mut self, inactivity_sec: u16) -> Result<usize> {
        self.purge_idle(inactivity_sec, RuleSet::purge_idle_hash_rules)
    }

    /// Removes wildcard rules idle for `inactivity_sec` seconds, except locked ones; returns
    /// how many.
    ///
    /// # Errors
    /// [`Error::NotSupported`] while offloaded.
    #[doc(alias = "pfring_purge_idle_rules")]
    pub fn purge_idle_rules(&mut self, inactivity_sec: u16) -> Result<usize> {
        self.purge_idle(inactivity_sec, RuleSet::purge_idle_rules)
    }

    /// Runs one of the rule set's idle purges (rules in the library only) and re-syncs the
    /// offload.
    fn purge_idle(
        &mut self,
        inactivity_sec: u16,
        purge: fn(&mut RuleSet, Duration, Instant) -> usize,
    ) -> Result<usize> {
        if self.rules.is_none() {
            return Ok(0);
        }
        self.check_library_rules("purging idle rules")?;
        let n = purge(
            &mut self.rules_mut().set,
            Duration::from_secs(inactivity_sec.into()),
            Instant::now(),
        );
        self.sync_rules()?;
        Ok(n)
    }

    /// Registers a rule plugin (the SIP and RTP plugins are there from the start); rules
    /// then name it by id.
    ///
    /// # Errors
    /// [`Error::Rule`] for id 0 or an id in use.
    pub fn register_rule_plugin(
        &mut self,
        plugin: Box<dyn crate::filter::rules::plugin::RulePlugin>,
    ) -> Result<()> {
        Ok(self.rules_mut().set.plugins_mut().register(plugin)?)
    }

    /// The registered rule plugins (PF_RING's `plugins_info`).
    #[doc(alias = "plugins_info")]
    pub fn rule_plugins(&mut self) -> Vec<crate::filter::rules::plugin::PluginInfo> {
        self.rules_mut().set.plugins().info()
    }

    /// The statistics the plugin of wildcard rule `rule_id` keeps for it (format: the
    /// plugin's; the SIP and RTP plugins write text).
    ///
    /// # Errors
    /// [`Error::Rule`] for an unknown rule or a rule without plugin.
    #[doc(alias = "pfring_get_filtering_rule_stats")]
    pub fn plugin_stats(&self, rule_id: u16) -> Result<Vec<u8>> {
        let r = self.rules.as_deref().ok_or(Error::Rule(
            crate::filter::rules::RuleError::NoSuchRule(rule_id),
        ))?;
        Ok(r.set.plugin_stats(rule_id)?)
    }

    /// The rule set (read only).
    pub fn rule_set(&self) -> Option<&RuleSet> {
        self.rules.as_deref().map(|r| &r.set)
    }
}
