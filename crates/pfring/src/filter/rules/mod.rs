//! PF_RING's software rules: wildcard rules, exact (hash) rules, the default policy and
//! sampling, evaluated on a parsed packet.
//!
//! This is the rule engine of PF_RING 5.4's kernel module (`add_skb_to_ring`, see the
//! reference §6), run in the library. Per packet, after the BPF filter:
//!
//! 1. the verdict starts as the default policy ([`FilteringPolicy`], accept unless toggled);
//! 2. **exact rules** ([`HashFilteringRule`]): one O(1) lookup of the bidirectional 5-tuple
//!    + VLAN; a match applies the rule's action; `*_and_continue` actions let step 3 run;
//! 3. **wildcard rules** ([`FilteringRule`]) in ascending `rule_id`, only if no exact rule
//!    decided: the first matching rule with a terminal (`*_and_stop`) action wins;
//!    `*_and_continue` rules apply their action and evaluation goes on;
//! 4. **sampling** (`set_sampling_rate(N)`): of the packets still forwarded, exactly one of
//!    every N is delivered (PF_RING 5.3's deterministic sampling: the 1st, the N+1-th, ...).
//!
//! Actions ([`RuleAction`]) use the 5.x `rule_action_behaviour` numbering. Reflection and
//! bounce are reported in the [`Verdict`] ([`Transmit`]); the ring sends the frame.
//!
//! Rule sets that only forward or drop are also compiled to classic BPF ([`offload`]) so
//! the kernel applies them before packets reach the ring.
//!
//! # Differences from PF_RING
//!
//! - Wildcard rules keep statistics (matches, last match time): PF_RING never finished
//!   `pfring_get_filtering_rule_stats` for them.
//! - Address tests are for one IP version ([`CoreFields::ip_version`], set by the
//!   `src_ip` / `dst_ip` builders) and only match packets of that version (PF_RING compares
//!   the raw `ip_addr` union, so an IPv4 rule could match the first word of an IPv6 address).
//! - Rules match the outer headers (the packet is parsed to level 4, no tunnels).
//! - A rule names one plugin ([`plugin`]) for both filtering and handling (PF_RING 5.x has
//!   `filter_plugin_id` and `plugin_action.plugin_id`); an unregistered id is refused
//!   ([`RuleError::NoSuchPlugin`]). Without a plugin `execute_action_and_stop` drops and
//!   `execute_action_and_continue` does nothing, as in the kernel module.
//! - `forward_packet_del_rule_and_stop` (5.x value 5, a plugin action in PF_RING) forwards
//!   the packet and removes the exact rule of its flow, if there is one.

mod hash;
pub mod offload;
pub mod plugin;
pub mod rtp;
pub mod sip;
#[cfg(test)]
mod tests;
mod wildcard;

pub(crate) use wildcard::payload_matches;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

pub use hash::{FlowKey, HashFilteringRule, HashRuleStats};
pub use wildcard::{CoreFields, FilteringRule, WildcardRuleStats};

use crate::parse::ParsedPacket;

/// `FILTERING_RULE_AUTO_RULE_ID`: not accepted here (give every rule an explicit id).
pub const AUTO_RULE_ID: u16 = 0xFFFF;

/// Most bytes of a payload pattern (`char payload_pattern[32]`, NUL included).
pub const MAX_PAYLOAD_PATTERN: usize = 31;

/// Why a rule operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RuleError {
    /// A wildcard rule with this id exists already (PF_RING: `-EEXIST`).
    #[error("a filtering rule with id {0} already exists")]
    Duplicate(u16),
    /// An exact rule for this flow exists already.
    #[error("an exact rule for this flow already exists")]
    DuplicateHash,
    /// No wildcard rule with this id.
    #[error("no filtering rule with id {0}")]
    NoSuchRule(u16),
    /// No exact rule for this flow.
    #[error("no exact rule for this flow")]
    NoSuchHashRule,
    /// The rule names a plugin that is not registered.
    #[error("no plugin with id {0} is registered")]
    NoSuchPlugin(u16),
    /// A field out of range (message says which).
    #[error("invalid rule: {0}")]
    Invalid(String),
}

/// What a matching rule does (`rule_action_behaviour`, PF_RING 5.3.1 / 5.6.1 numbering).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[doc(alias = "rule_action_behaviour")]
#[repr(u8)]
pub enum RuleAction {
    /// `forward_packet_and_stop_rule_evaluation` = 0.
    #[default]
    ForwardAndStop = 0,
    /// `dont_forward_packet_and_stop_rule_evaluation` = 1.
    DontForwardAndStop = 1,
    /// `execute_action_and_continue_rule_evaluation` = 2 (the plugin's action; none: no-op).
    ExecuteAndContinue = 2,
    /// `execute_action_and_stop_rule_evaluation` = 3 (the plugin's action, then drop).
    ExecuteAndStop = 3,
    /// `forward_packet_add_rule_and_stop_rule_evaluation` = 4: forward, and add an exact
    /// rule (action forward) for the packet's flow.
    ForwardAddRuleAndStop = 4,
    /// `forward_packet_del_rule_and_stop_rule_evaluation` = 5 (5.x): forward, and remove the
    /// exact rule of the packet's flow.
    ForwardDelRuleAndStop = 5,
    /// `reflect_packet_and_stop_rule_evaluation` = 6: send out of the reflector device, do
    /// not deliver.
    ReflectAndStop = 6,
    /// `reflect_packet_and_continue_rule_evaluation` = 7.
    ReflectAndContinue = 7,
    /// `bounce_packet_and_stop_rule_evaluation` = 8: send back out of the receiving device,
    /// do not deliver.
    BounceAndStop = 8,
    /// `bounce_packet_and_continue_rule_evaluation` = 9.
    BounceAndContinue = 9,
}

impl RuleAction {
    /// The action with 5.x numeric value `v`.
    pub fn from_raw(v: u32) -> Option<RuleAction> {
        use RuleAction::*;
        Some(match v {
            0 => ForwardAndStop,
            1 => DontForwardAndStop,
            2 => ExecuteAndContinue,
            3 => ExecuteAndStop,
            4 => ForwardAddRuleAndStop,
            5 => ForwardDelRuleAndStop,
            6 => ReflectAndStop,
            7 => ReflectAndContinue,
            8 => BounceAndStop,
            9 => BounceAndContinue,
            _ => return None,
        })
    }

    /// The 5.x numeric value.
    pub fn raw(self) -> u32 {
        self as u32
    }

    /// Whether evaluation stops at a rule with this action.
    pub fn stops(self) -> bool {
        !matches!(
            self,
            RuleAction::ExecuteAndContinue
                | RuleAction::ReflectAndContinue
                | RuleAction::BounceAndContinue
        )
    }

    /// Whether the action only forwards or drops (what the kernel offload can express).
    pub fn is_forward_or_drop(self) -> bool {
        matches!(
            self,
            RuleAction::ForwardAndStop
                | RuleAction::DontForwardAndStop
                | RuleAction::ExecuteAndContinue
                | RuleAction::ExecuteAndStop
        )
    }
}

/// What happens to packets no rule decides (`pfring_toggle_filtering_policy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum FilteringPolicy {
    /// Deliver them (PF_RING's default).
    #[default]
    Accept,
    /// Drop them.
    Drop,
}

/// A frame to send as a side effect of a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transmit {
    /// Out of a reflector device: the rule's own (its interface index, resolved when the
    /// rule was added) or, for `None`, the ring's reflector device.
    Reflect(Option<i32>),
    /// Back out of the device it was received on.
    Bounce,
}

/// The outcome of [`RuleSet::evaluate`] for one packet.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Deliver the packet to the application.
    pub deliver: bool,
    /// Frames to send (reflect / bounce), in rule order.
    pub transmit: Vec<Transmit>,
    /// The wildcard rule that decided, if any (`last_matched_rule_id`).
    pub rule_id: Option<u16>,
    /// Whether an exact rule matched.
    pub hash_matched: bool,
    /// Dropped by sampling (it had passed the rules).
    pub sampled_out: bool,
}

/// Counters of a [`RuleSet`] (PF_RING's per-socket `hash_match` / `hash_miss` /
/// `hash_filtered`, plus the packets the rules and sampling removed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RuleSetStats {
    /// Packets evaluated.
    pub evaluated: u64,
    /// Packets delivered.
    pub delivered: u64,
    /// Packets not delivered because of a rule or the default policy (PF_RING's
    /// "filtered").
    pub filtered: u64,
    /// Packets that passed the rules but were skipped by sampling.
    pub sampled_out: u64,
    /// Packets an exact rule matched.
    pub hash_match: u64,
    /// Packets no exact rule matched (only counted while exact rules exist).
    pub hash_miss: u64,
    /// Packets an exact rule dropped.
    pub hash_filtered: u64,
}

#[derive(Clone, Debug)]
struct WildcardEntry {
    rule: FilteringRule,
    reflector: Option<i32>,
    stats: WildcardRuleStats,
    added: Instant,
    last: Option<Instant>,
}

/// Wildcard and exact rules, the default policy, the sampling rate and the rule plugins of
/// one ring.
#[derive(Debug, Default)]
pub struct RuleSet {
    plugins: plugin::PluginRegistry,
    wildcard: BTreeMap<u16, WildcardEntry>,
    /// The wildcard rules flattened, in id order (rebuilt incrementally on changes).
    compact: Vec<(u16, wildcard::Compact)>,
    hash: hash::HashTable,
    policy: FilteringPolicy,
    sampling_rate: u32,
    sample_count: u64,
    stats: RuleSetStats,
}

impl RuleSet {
    /// An empty set: accept policy, no sampling.
    pub fn new() -> RuleSet {
        RuleSet {
            sampling_rate: 1,
            ..RuleSet::default()
        }
    }

    /// An empty set with the plugins that ship with the library registered
    /// ([`plugin::PluginRegistry::with_builtin`]).
    pub fn with_builtin_plugins() -> RuleSet {
        RuleSet {
            plugins: plugin::PluginRegistry::with_builtin(),
            ..RuleSet::new()
        }
    }

    /// The rule plugins.
    pub fn plugins(&self) -> &plugin::PluginRegistry {
        &self.plugins
    }

    /// The rule plugins, to register more.
    pub fn plugins_mut(&mut self) -> &mut plugin::PluginRegistry {
        &mut self.plugins
    }

    /// Statistics of the plugin of wildcard rule `rule_id`, for that rule
    /// (`pfring_get_filtering_rule_stats` in PF_RING 5.x, which asked the rule's plugin).
    ///
    /// # Errors
    /// [`RuleError::NoSuchRule`]; [`RuleError::NoSuchPlugin`] if the rule names none.
    pub fn plugin_stats(&self, rule_id: u16) -> Result<Vec<u8>, RuleError> {
        let e = self
            .wildcard
            .get(&rule_id)
            .ok_or(RuleError::NoSuchRule(rule_id))?;
        let id = e.rule.plugin_id;
        let p = self.plugins.get(id).ok_or(RuleError::NoSuchPlugin(id))?;
        Ok(p.get_stats(rule_id))
    }

    /// Whether the set changes anything (rules, a drop policy or sampling).
    pub fn is_active(&self) -> bool {
        !self.wildcard.is_empty()
            || !self.hash.is_empty()
            || self.policy == FilteringPolicy::Drop
            || self.sampling_rate > 1
    }

    /// Adds a wildcard rule (`pfring_add_filtering_rule`). `reflector` is the interface index
    /// of the rule's own reflector device, if it names one.
    ///
    /// # Errors
    /// [`RuleError::Duplicate`] for an id in use, [`RuleError::Invalid`] for
    /// [`AUTO_RULE_ID`], a pattern over [`MAX_PAYLOAD_PATTERN`] bytes, a balance id not below
    /// its pool, or inverted port ranges; [`RuleError::NoSuchPlugin`] for a plugin id.
    #[doc(alias = "pfring_add_filtering_rule")]
    pub fn add_rule(
        &mut self,
        rule: FilteringRule,
        reflector: Option<i32>,
        now: Instant,
    ) -> Result<(), RuleError> {
        rule.validate()?;
        if self.wildcard.contains_key(&rule.rule_id) {
            return Err(RuleError::Duplicate(rule.rule_id));
        }
        if rule.plugin_id != 0 {
            let p = self
                .plugins
                .get_mut(rule.plugin_id)
                .ok_or(RuleError::NoSuchPlugin(rule.plugin_id))?;
            p.add_rule(rule.rule_id, &rule.plugin_data)
                .map_err(RuleError::Invalid)?;
        }
        let at = self.compact.partition_point(|(id, _)| *id < rule.rule_id);
        self.compact
            .insert(at, (rule.rule_id, wildcard::Compact::of(&rule)));
        self.wildcard.insert(
            rule.rule_id,
            WildcardEntry {
                rule,
                reflector,
                stats: WildcardRuleStats::default(),
                added: now,
                last: None,
            },
        );
        Ok(())
    }

    /// Removes wildcard rule `rule_id` (`pfring_remove_filtering_rule`).
    ///
    /// # Errors
    /// [`RuleError::NoSuchRule`].
    #[doc(alias = "pfring_remove_filtering_rule")]
    pub fn remove_rule(&mut self, rule_id: u16) -> Result<FilteringRule, RuleError> {
        self.compact.retain(|(id, _)| *id != rule_id);
        let r = self
            .wildcard
            .remove(&rule_id)
            .map(|e| e.rule)
            .ok_or(RuleError::NoSuchRule(rule_id))?;
        if let Some(p) = self.plugins.get_mut(r.plugin_id) {
            p.del_rule(rule_id);
        }
        Ok(r)
    }

    /// The wildcard rules, in evaluation order.
    pub fn rules(&self) -> impl Iterator<Item = &FilteringRule> {
        self.wildcard.values().map(|e| &e.rule)
    }

    /// The exact rules (in no particular order).
    pub fn hash_rules(&self) -> impl Iterator<Item = &HashFilteringRule> {
        self.hash.rules()
    }

    /// Adds an exact rule (`pfring_handle_hash_filtering_rule(.., 1)`).
    ///
    /// # Errors
    /// [`RuleError::DuplicateHash`] if the flow has a rule already; [`RuleError::Invalid`]
    /// for peers of different IP versions.
    #[doc(alias = "pfring_handle_hash_filtering_rule")]
    pub fn add_hash_rule(
        &mut self,
        rule: HashFilteringRule,
        reflector: Option<i32>,
        now: Instant,
    ) -> Result<(), RuleError> {
        self.hash.insert(rule, reflector, now)
    }

    /// Removes the exact rule of `rule`'s flow (`pfring_handle_hash_filtering_rule(.., 0)`);
    /// only the flow fields of `rule` are used.
    ///
    /// # Errors
    /// [`RuleError::NoSuchHashRule`].
    pub fn remove_hash_rule(
        &mut self,
        rule: &HashFilteringRule,
    ) -> Result<HashFilteringRule, RuleError> {
        let key = rule.key()?;
        self.hash.remove(&key).ok_or(RuleError::NoSuchHashRule)
    }

    /// Number of wildcard and exact rules.
    pub fn len(&self) -> (usize, usize) {
        (self.wildcard.len(), self.hash.len())
    }

    /// Sets the default policy (`pfring_toggle_filtering_policy`).
    #[doc(alias = "pfring_toggle_filtering_policy")]
    pub fn set_policy(&mut self, policy: FilteringPolicy) {
        self.policy = policy;
    }

    /// The default policy.
    pub fn policy(&self) -> FilteringPolicy {
        self.policy
    }

    /// Delivers one of every `rate` packets that pass the rules (`pfring_set_sampling_rate`;
    /// 0 and 1 = no sampling). Restarts the count: the next passing packet is delivered.
    #[doc(alias = "pfring_set_sampling_rate")]
    pub fn set_sampling_rate(&mut self, rate: u32) {
        self.sampling_rate = rate.max(1);
        self.sample_count = 0;
    }

    /// The sampling rate (1 = off).
    pub fn sampling_rate(&self) -> u32 {
        self.sampling_rate
    }

    /// The set's counters.
    pub fn stats(&self) -> RuleSetStats {
        self.stats
    }

    /// Statistics of wildcard rule `rule_id` at time `now`.
    ///
    /// # Errors
    /// [`RuleError::NoSuchRule`].
    #[doc(alias = "pfring_get_filtering_rule_stats")]
    pub fn rule_stats(&self, rule_id: u16, now: Instant) -> Result<WildcardRuleStats, RuleError> {
        let e = self
            .wildcard
            .get(&rule_id)
            .ok_or(RuleError::NoSuchRule(rule_id))?;
        let mut s = e.stats;
        s.inactivity = now.saturating_duration_since(e.last.unwrap_or(e.added));
        Ok(s)
    }

    /// Statistics of the exact rule of `rule`'s flow at time `now`.
    ///
    /// # Errors
    /// [`RuleError::NoSuchHashRule`].
    #[doc(alias = "pfring_get_hash_filtering_rule_stats")]
    pub fn hash_rule_stats(
        &self,
        rule: &HashFilteringRule,
        now: Instant,
    ) -> Result<HashRuleStats, RuleError> {
        let key = rule.key()?;
        self.hash.stats(&key, now).ok_or(RuleError::NoSuchHashRule)
    }

    /// Removes exact rules not matched for `inactivity` (never-matched rules count from
    /// when they were added); returns how many (`pfring_purge_idle_hash_rules`).
    #[doc(alias = "pfring_purge_idle_hash_rules")]
    pub fn purge_idle_hash_rules(&mut self, inactivity: Duration, now: Instant) -> usize {
        self.hash.purge_idle(inactivity, now)
    }

    /// Removes wildcard rules not matched for `inactivity`, except `locked` ones; returns
    /// how many (`pfring_purge_idle_rules`).
    #[doc(alias = "pfring_purge_idle_rules")]
    pub fn purge_idle_rules(&mut self, inactivity: Duration, now: Instant) -> usize {
        let before = self.wildcard.len();
        let plugins = &mut self.plugins;
        self.wildcard.retain(|_, e| {
            let keep = e.rule.locked
                || now.saturating_duration_since(e.last.unwrap_or(e.added)) < inactivity;
            if !keep && let Some(p) = plugins.get_mut(e.rule.plugin_id) {
                p.del_rule(e.rule.rule_id);
            }
            keep
        });
        let kept = &self.wildcard;
        self.compact.retain(|(id, _)| kept.contains_key(id));
        before - self.wildcard.len()
    }

    /// Evaluates the rules on `pkt` (parsed to level 4; `frame` is its bytes, for payload
    /// patterns) at time `now`, updating the statistics and, for
    /// [`RuleAction::ForwardAddRuleAndStop`] / [`RuleAction::ForwardDelRuleAndStop`], the
    /// exact rules.
    pub fn evaluate(&mut self, pkt: &ParsedPacket, frame: &[u8], now: Instant) -> Verdict {
        self.evaluate_at(pkt, frame, now, 0)
    }

    /// [`RuleSet::evaluate`] with the packet's timestamp (ns since the Unix epoch), which
    /// plugins see (the RTP plugin's jitter uses it).
    pub fn evaluate_at(
        &mut self,
        pkt: &ParsedPacket,
        frame: &[u8],
        now: Instant,
        ts_ns: u64,
    ) -> Verdict {
        let mut v = Verdict {
            deliver: self.policy == FilteringPolicy::Accept,
            ..Verdict::default()
        };
        self.stats.evaluated += 1;
        let mut decided = false;
        if !self.hash.is_empty() {
            match self.hash.lookup(pkt, now) {
                Some((action, reflector, entry_stats)) => {
                    self.stats.hash_match += 1;
                    v.hash_matched = true;
                    decided = apply(action, reflector, &mut v);
                    if v.deliver {
                        entry_stats.match_forward += 1;
                    } else {
                        entry_stats.filtered += 1;
                        self.stats.hash_filtered += 1;
                    }
                }
                None => self.stats.hash_miss += 1,
            }
        }
        if !decided && !self.wildcard.is_empty() {
            let mut side: Option<(RuleAction, u16)> = None;
            let view = wildcard::PacketView::of(pkt);
            for (id, c) in &self.compact {
                if !c.matches(&view) {
                    continue;
                }
                let Some(e) = self.wildcard.get_mut(id) else {
                    continue;
                };
                if c.slow && !e.rule.matches(pkt, frame) {
                    continue;
                }
                if e.rule.plugin_id != 0 {
                    let pp = plugin::PluginPacket {
                        frame,
                        parsed: pkt,
                        ts_ns,
                    };
                    let Some(p) = self.plugins.get_mut(e.rule.plugin_id) else {
                        continue;
                    };
                    if !p.filter(e.rule.rule_id, &pp) {
                        continue;
                    }
                    p.handle(e.rule.rule_id, &pp);
                }
                e.stats.matches += 1;
                e.last = Some(now);
                e.stats.last_match = Some(now);
                v.rule_id = Some(e.rule.rule_id);
                let action = e.rule.action;
                if matches!(
                    action,
                    RuleAction::ForwardAddRuleAndStop | RuleAction::ForwardDelRuleAndStop
                ) {
                    side = Some((action, e.rule.rule_id));
                }
                if apply(action, e.reflector, &mut v) {
                    break;
                }
            }
            if let Some((action, rule_id)) = side
                && let Some(mut r) = HashFilteringRule::from_packet(pkt, RuleAction::ForwardAndStop)
            {
                r.rule_id = rule_id;
                if action == RuleAction::ForwardAddRuleAndStop {
                    // An existing rule for the flow stays as it is.
                    let _ = self.hash.insert(r, None, now);
                } else if let Ok(k) = r.key() {
                    self.hash.remove(&k);
                }
            }
        }
        if v.deliver && self.sampling_rate > 1 {
            let take = self
                .sample_count
                .is_multiple_of(u64::from(self.sampling_rate));
            self.sample_count += 1;
            if !take {
                v.deliver = false;
                v.sampled_out = true;
                self.stats.sampled_out += 1;
                return v;
            }
        }
        if v.deliver {
            self.stats.delivered += 1;
        } else {
            self.stats.filtered += 1;
        }
        v
    }

    /// Whether every rule only forwards or drops, with no reflection, payload pattern,
    /// balance pool or plugin, and no sampling: what [`offload`] can compile.
    pub fn offloadable(&self) -> bool {
        self.sampling_rate <= 1
            && self.wildcard.values().all(|e| e.rule.offloadable())
            && self.hash.rules().all(|r| r.action.is_forward_or_drop())
    }
}

/// Applies `action` to `v`; returns whether evaluation stops.
fn apply(action: RuleAction, reflector: Option<i32>, v: &mut Verdict) -> bool {
    use RuleAction::*;
    match action {
        ForwardAndStop | ForwardAddRuleAndStop | ForwardDelRuleAndStop => v.deliver = true,
        DontForwardAndStop | ExecuteAndStop => v.deliver = false,
        ExecuteAndContinue => {}
        ReflectAndStop | ReflectAndContinue => {
            v.deliver = false;
            v.transmit.push(Transmit::Reflect(reflector));
        }
        BounceAndStop | BounceAndContinue => {
            v.deliver = false;
            v.transmit.push(Transmit::Bounce);
        }
    }
    action.stops()
}
