//! Exact rules (`hash_filtering_rule`): one hash-map lookup per packet.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::{RuleAction, RuleError};
use crate::parse::{IpAddress, ParsedPacket};

/// An exact rule: a bidirectional 5-tuple plus VLAN (`hash_filtering_rule`). A packet
/// matches when its VLAN id, IP version and protocol are equal and its (source, source
/// port, destination, destination port) is `(a, port_a, b, port_b)` in either order.
#[derive(Clone, Debug, PartialEq, Eq)]
#[doc(alias = "hash_filtering_rule")]
pub struct HashFilteringRule {
    /// Free for the application ("future use" in PF_RING).
    pub rule_id: u16,
    /// VLAN id (0 = untagged).
    pub vlan_id: u16,
    /// IP protocol.
    pub proto: u8,
    /// One peer's address.
    pub host_peer_a: IpAddr,
    /// The other peer's address (same IP version).
    pub host_peer_b: IpAddr,
    /// Peer a's port.
    pub port_peer_a: u16,
    /// Peer b's port.
    pub port_peer_b: u16,
    /// What a match does.
    pub action: RuleAction,
    /// Reflector device of this rule (`None` = the ring's).
    pub reflector_device: Option<String>,
}

/// Statistics of one exact rule (`hash_filtering_rule_stats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[doc(alias = "hash_filtering_rule_stats")]
pub struct HashRuleStats {
    /// Packets matched.
    pub matched: u64,
    /// Matched packets not delivered.
    pub filtered: u64,
    /// Matched packets delivered.
    pub match_forward: u64,
    /// Seconds since the last match (or since the rule was added).
    pub inactivity: u32,
}

/// The canonical (direction-independent) key of a flow: the lower (address, port) end
/// first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    vlan_id: u16,
    ip_version: u8,
    proto: u8,
    lo: (IpAddress, u16),
    hi: (IpAddress, u16),
}

impl FlowKey {
    /// The key of `(a, pa) <-> (b, pb)`.
    pub fn new(
        vlan_id: u16,
        ip_version: u8,
        proto: u8,
        a: (IpAddress, u16),
        b: (IpAddress, u16),
    ) -> FlowKey {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        FlowKey {
            vlan_id,
            ip_version,
            proto,
            lo,
            hi,
        }
    }

    /// The key of packet `p` (VLAN, IP version, protocol, both ends).
    #[inline]
    pub fn of_packet(p: &ParsedPacket) -> FlowKey {
        FlowKey::new(
            p.vlan_id,
            p.ip_version,
            p.l3_proto,
            (p.ip_src, p.l4_src_port),
            (p.ip_dst, p.l4_dst_port),
        )
    }
}

fn ip_address(a: IpAddr) -> (u8, IpAddress) {
    match a {
        IpAddr::V4(v) => (4, v.into()),
        IpAddr::V6(v) => (6, v.into()),
    }
}

impl HashFilteringRule {
    /// A rule for the flow `a:pa <-> b:pb` of protocol `proto` (no VLAN).
    pub fn new(
        proto: u8,
        a: IpAddr,
        pa: u16,
        b: IpAddr,
        pb: u16,
        action: RuleAction,
    ) -> HashFilteringRule {
        HashFilteringRule {
            rule_id: 0,
            vlan_id: 0,
            proto,
            host_peer_a: a,
            host_peer_b: b,
            port_peer_a: pa,
            port_peer_b: pb,
            action,
            reflector_device: None,
        }
    }

    /// The rule for packet `p`'s flow (pfcount `-u 1`, `forward_packet_add_rule`); `None`
    /// for non-IP packets.
    pub fn from_packet(p: &ParsedPacket, action: RuleAction) -> Option<HashFilteringRule> {
        let (a, b) = (
            p.ip_src.to_std(p.ip_version)?,
            p.ip_dst.to_std(p.ip_version)?,
        );
        let mut r = HashFilteringRule::new(p.l3_proto, a, p.l4_src_port, b, p.l4_dst_port, action);
        r.vlan_id = p.vlan_id;
        Some(r)
    }

    /// The flow key.
    ///
    /// # Errors
    /// [`RuleError::Invalid`] when the peers are of different IP versions.
    pub fn key(&self) -> Result<FlowKey, RuleError> {
        let (va, a) = ip_address(self.host_peer_a);
        let (vb, b) = ip_address(self.host_peer_b);
        if va != vb {
            return Err(RuleError::Invalid(
                "exact rule peers of different IP versions".into(),
            ));
        }
        Ok(FlowKey::new(
            self.vlan_id,
            va,
            self.proto,
            (a, self.port_peer_a),
            (b, self.port_peer_b),
        ))
    }
}

#[derive(Clone, Debug)]
struct Entry {
    /// Boxed: the map's buckets stay small (one lookup touches one or two cache lines).
    rule: Box<HashFilteringRule>,
    action: RuleAction,
    reflector: Option<i32>,
    stats: HashRuleStats,
    last: Instant,
}

/// The exact rules of a ring.
#[derive(Clone, Debug, Default)]
pub(super) struct HashTable {
    map: HashMap<FlowKey, Entry>,
}

impl HashTable {
    pub(super) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub(super) fn len(&self) -> usize {
        self.map.len()
    }

    pub(super) fn rules(&self) -> impl Iterator<Item = &HashFilteringRule> {
        self.map.values().map(|e| &*e.rule)
    }

    pub(super) fn insert(
        &mut self,
        rule: HashFilteringRule,
        reflector: Option<i32>,
        now: Instant,
    ) -> Result<(), RuleError> {
        let key = rule.key()?;
        match self.map.entry(key) {
            std::collections::hash_map::Entry::Occupied(_) => Err(RuleError::DuplicateHash),
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(Entry {
                    action: rule.action,
                    rule: Box::new(rule),
                    reflector,
                    stats: HashRuleStats::default(),
                    last: now,
                });
                Ok(())
            }
        }
    }

    pub(super) fn remove(&mut self, key: &FlowKey) -> Option<HashFilteringRule> {
        self.map.remove(key).map(|e| *e.rule)
    }

    /// The matching rule's action, reflector and counters (match counted and the time
    /// updated here).
    #[inline]
    pub(super) fn lookup(
        &mut self,
        p: &ParsedPacket,
        now: Instant,
    ) -> Option<(RuleAction, Option<i32>, &mut HashRuleStats)> {
        if p.ip_version != 4 && p.ip_version != 6 {
            return None;
        }
        let e = self.map.get_mut(&FlowKey::of_packet(p))?;
        e.stats.matched += 1;
        e.last = now;
        Some((e.action, e.reflector, &mut e.stats))
    }

    pub(super) fn stats(&self, key: &FlowKey, now: Instant) -> Option<HashRuleStats> {
        let e = self.map.get(key)?;
        let mut s = e.stats;
        s.inactivity =
            u32::try_from(now.saturating_duration_since(e.last).as_secs()).unwrap_or(u32::MAX);
        Some(s)
    }

    pub(super) fn purge_idle(&mut self, inactivity: Duration, now: Instant) -> usize {
        let before = self.map.len();
        self.map
            .retain(|_, e| now.saturating_duration_since(e.last) < inactivity);
        before - self.map.len()
    }
}
