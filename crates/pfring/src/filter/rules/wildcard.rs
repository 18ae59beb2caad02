//! Wildcard rules (`filtering_rule`).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::{MAX_PAYLOAD_PATTERN, RuleAction, RuleError};
use crate::parse::{IpAddress, ParsedPacket};

/// The header fields a wildcard rule tests (`filtering_rule_core_fields`, 5.x layout).
/// Zero means "any" for every field; a port range with `high == 0` is "any".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CoreFields {
    /// Source MAC (all zero = any).
    pub smac: [u8; 6],
    /// Destination MAC (all zero = any).
    pub dmac: [u8; 6],
    /// VLAN id (0 = any).
    pub vlan_id: u16,
    /// IP protocol (0 = any).
    pub proto: u8,
    /// Source address (PF_RING's `ip_addr`: IPv4 as a host-order value, IPv6 as bytes).
    pub shost: IpAddress,
    /// Destination address.
    pub dhost: IpAddress,
    /// Source address mask (zero = any).
    pub shost_mask: IpAddress,
    /// Destination address mask (zero = any).
    pub dhost_mask: IpAddress,
    /// Lowest source port.
    pub sport_low: u16,
    /// Highest source port (0 = any port).
    pub sport_high: u16,
    /// Lowest destination port.
    pub dport_low: u16,
    /// Highest destination port (0 = any port).
    pub dport_high: u16,
    /// IP version the address fields are for (4 or 6; 0 = an IPv4 mask if its bytes 4..16
    /// are zero, else IPv6). An address test only matches packets of this version.
    pub ip_version: u8,
}

impl CoreFields {
    /// The IP version the address tests are for (see [`CoreFields::ip_version`]).
    pub fn family(&self) -> u8 {
        match self.ip_version {
            4 | 6 => self.ip_version,
            _ if is_v4_mask(&self.shost_mask) && is_v4_mask(&self.dhost_mask) => 4,
            _ => 6,
        }
    }
}

/// Statistics of one wildcard rule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WildcardRuleStats {
    /// Packets the rule matched.
    pub matches: u64,
    /// When it last matched.
    pub last_match: Option<Instant>,
    /// Time since the last match (or since the rule was added).
    pub inactivity: Duration,
}

/// A wildcard rule (`filtering_rule`): fields to match, evaluated in ascending `rule_id`.
///
/// ```
/// use pfring::filter::rules::{FilteringRule, RuleAction};
/// let r = FilteringRule::new(10, RuleAction::DontForwardAndStop)
///     .proto(17)
///     .dst_ip("10.0.0.0".parse().unwrap(), 8)
///     .dst_ports(5000, 5999)
///     .bidirectional(true);
/// assert_eq!(r.core.dport_high, 5999);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[doc(alias = "filtering_rule")]
pub struct FilteringRule {
    /// Evaluation order (lowest first); unique per ring.
    pub rule_id: u16,
    /// What a match does.
    pub action: RuleAction,
    /// With `balance_pool > 0`: the rule matches only packets whose hash modulo the pool
    /// is this id.
    pub balance_id: u8,
    /// Number of rings sharing the traffic (0 = no balancing).
    pub balance_pool: u8,
    /// Not removed by idle purges.
    pub locked: bool,
    /// Also match with source and destination swapped (MACs, addresses, ports).
    pub bidirectional: bool,
    /// Header fields.
    pub core: CoreFields,
    /// Payload patterns, `|`-separated, matched case-insensitively anywhere in the payload
    /// (empty = any). At most [`MAX_PAYLOAD_PATTERN`] bytes.
    pub payload_pattern: String,
    /// Plugin id (0 = none): the plugin filters and handles the rule's packets (see
    /// [`super::plugin`]).
    pub plugin_id: u16,
    /// Data for the plugin (its format is the plugin's).
    pub plugin_data: Vec<u8>,
    /// Reflector device of this rule (reflect actions; `None` = the ring's).
    pub reflector_device: Option<String>,
}

/// A mask with the top `prefix` bits set, for an address of `addr`'s family.
fn prefix_mask(addr: IpAddr, prefix: u8) -> (IpAddress, IpAddress) {
    match addr {
        IpAddr::V4(a) => {
            let p = u32::from(prefix.min(32));
            let m = if p == 0 { 0 } else { u32::MAX << (32 - p) };
            (IpAddress::from_v4(u32::from(a) & m), IpAddress::from_v4(m))
        }
        IpAddr::V6(a) => {
            let p = u32::from(prefix.min(128));
            let m = if p == 0 { 0 } else { u128::MAX << (128 - p) };
            (
                IpAddress::from_v6((u128::from(a) & m).to_be_bytes()),
                IpAddress::from_v6(m.to_be_bytes()),
            )
        }
    }
}

/// Whether `mask` is an IPv4 mask (bytes 4..16 zero).
pub(crate) fn is_v4_mask(mask: &IpAddress) -> bool {
    mask.as_bytes()[4..] == [0; 12]
}

/// `addr` under `mask` equals `want` under `mask`, for a packet of IP version `ipv`.
#[inline]
fn ip_ok(fam: u8, ipv: u8, addr: &IpAddress, want: &IpAddress, mask: &IpAddress) -> bool {
    if mask.is_zero() {
        return true;
    }
    if fam == 4 {
        ipv == 4 && addr.v4() & mask.v4() == want.v4() & mask.v4()
    } else {
        let (a, w, m) = (addr.as_bytes(), want.as_bytes(), mask.as_bytes());
        ipv == 6 && (0..16).all(|i| a[i] & m[i] == w[i] & m[i])
    }
}

#[inline]
fn port_ok(p: u16, low: u16, high: u16) -> bool {
    high == 0 || (low <= p && p <= high)
}

impl FilteringRule {
    /// A rule with id `rule_id` and `action` that matches every packet.
    pub fn new(rule_id: u16, action: RuleAction) -> FilteringRule {
        FilteringRule {
            rule_id,
            action,
            ..FilteringRule::default()
        }
    }

    /// Matches IP protocol `p`.
    pub fn proto(mut self, p: u8) -> Self {
        self.core.proto = p;
        self
    }

    /// Matches VLAN id `v`.
    pub fn vlan(mut self, v: u16) -> Self {
        self.core.vlan_id = v;
        self
    }

    /// Matches source MAC `m`.
    pub fn src_mac(mut self, m: [u8; 6]) -> Self {
        self.core.smac = m;
        self
    }

    /// Matches destination MAC `m`.
    pub fn dst_mac(mut self, m: [u8; 6]) -> Self {
        self.core.dmac = m;
        self
    }

    /// Matches source addresses in `addr/prefix`.
    pub fn src_ip(mut self, addr: IpAddr, prefix: u8) -> Self {
        (self.core.shost, self.core.shost_mask) = prefix_mask(addr, prefix);
        self.core.ip_version = if addr.is_ipv4() { 4 } else { 6 };
        self
    }

    /// Matches destination addresses in `addr/prefix`.
    pub fn dst_ip(mut self, addr: IpAddr, prefix: u8) -> Self {
        (self.core.dhost, self.core.dhost_mask) = prefix_mask(addr, prefix);
        self.core.ip_version = if addr.is_ipv4() { 4 } else { 6 };
        self
    }

    /// Matches source ports `low..=high`.
    pub fn src_ports(mut self, low: u16, high: u16) -> Self {
        (self.core.sport_low, self.core.sport_high) = (low, high);
        self
    }

    /// Matches destination ports `low..=high`.
    pub fn dst_ports(mut self, low: u16, high: u16) -> Self {
        (self.core.dport_low, self.core.dport_high) = (low, high);
        self
    }

    /// Matches payloads containing one of the `|`-separated patterns.
    pub fn payload(mut self, pattern: &str) -> Self {
        self.payload_pattern = pattern.to_owned();
        self
    }

    /// Sets [`FilteringRule::bidirectional`].
    pub fn bidirectional(mut self, on: bool) -> Self {
        self.bidirectional = on;
        self
    }

    /// Sets [`FilteringRule::locked`].
    pub fn locked(mut self, on: bool) -> Self {
        self.locked = on;
        self
    }

    /// Matches only packets with `hash % pool == id` (see [`FilteringRule::balance_pool`]).
    pub fn balance(mut self, id: u8, pool: u8) -> Self {
        (self.balance_id, self.balance_pool) = (id, pool);
        self
    }

    /// Hands the rule to plugin `id` with `data`.
    pub fn plugin(mut self, id: u16, data: &[u8]) -> Self {
        self.plugin_id = id;
        self.plugin_data = data.to_vec();
        self
    }

    /// Sets the rule's own reflector device.
    pub fn reflector(mut self, device: &str) -> Self {
        self.reflector_device = Some(device.to_owned());
        self
    }

    pub(super) fn validate(&self) -> Result<(), RuleError> {
        if self.rule_id == super::AUTO_RULE_ID {
            return Err(RuleError::Invalid(
                "rule id 65535 (FILTERING_RULE_AUTO_RULE_ID) is not supported: give an id".into(),
            ));
        }
        if self.payload_pattern.len() > MAX_PAYLOAD_PATTERN {
            return Err(RuleError::Invalid(format!(
                "payload pattern of {} bytes (at most {MAX_PAYLOAD_PATTERN})",
                self.payload_pattern.len()
            )));
        }
        if self.balance_pool > 0 && self.balance_id >= self.balance_pool {
            return Err(RuleError::Invalid(format!(
                "balance id {} not below the pool size {}",
                self.balance_id, self.balance_pool
            )));
        }
        let c = &self.core;
        if (c.sport_high != 0 && c.sport_low > c.sport_high)
            || (c.dport_high != 0 && c.dport_low > c.dport_high)
        {
            return Err(RuleError::Invalid("port range with low > high".into()));
        }
        Ok(())
    }

    /// The MAC / address / port part, in one direction.
    #[inline]
    fn tuple_ok(&self, p: &ParsedPacket, swap: bool) -> bool {
        let c = &self.core;
        let (smac, dmac, src, dst, sport, dport) = if swap {
            (
                &p.dmac,
                &p.smac,
                &p.ip_dst,
                &p.ip_src,
                p.l4_dst_port,
                p.l4_src_port,
            )
        } else {
            (
                &p.smac,
                &p.dmac,
                &p.ip_src,
                &p.ip_dst,
                p.l4_src_port,
                p.l4_dst_port,
            )
        };
        (c.smac == [0; 6] || c.smac == *smac)
            && (c.dmac == [0; 6] || c.dmac == *dmac)
            && ip_ok(c.family(), p.ip_version, src, &c.shost, &c.shost_mask)
            && ip_ok(c.family(), p.ip_version, dst, &c.dhost, &c.dhost_mask)
            && port_ok(sport, c.sport_low, c.sport_high)
            && port_ok(dport, c.dport_low, c.dport_high)
    }

    /// Whether the rule matches packet `p` (with bytes `frame`), in the kernel module's
    /// order: VLAN, protocol, MACs / addresses / ports (both ways if bidirectional),
    /// balance pool, payload.
    pub fn matches(&self, p: &ParsedPacket, frame: &[u8]) -> bool {
        let c = &self.core;
        if c.vlan_id != 0 && p.vlan_id != c.vlan_id {
            return false;
        }
        if c.proto != 0 && p.l3_proto != c.proto {
            return false;
        }
        if !(self.tuple_ok(p, false) || (self.bidirectional && self.tuple_ok(p, true))) {
            return false;
        }
        if self.balance_pool > 0
            && p.kernel_hash() % u32::from(self.balance_pool) != u32::from(self.balance_id)
        {
            return false;
        }
        if !self.payload_pattern.is_empty() && !payload_matches(p, frame, &self.payload_pattern) {
            return false;
        }
        true
    }

    /// Whether the kernel offload can express this rule.
    pub(super) fn offloadable(&self) -> bool {
        self.action.is_forward_or_drop()
            && self.payload_pattern.is_empty()
            && self.balance_pool == 0
            && self.plugin_id == 0
    }
}

/// Whether the payload of `frame` (the bytes after the headers `p` parsed) contains one of
/// the `|`-separated patterns of `pattern`, ignoring ASCII case: a rule's `payload_pattern`,
/// and `Ring::search_payload`.
pub(crate) fn payload_matches(p: &ParsedPacket, frame: &[u8], pattern: &str) -> bool {
    let start = usize::try_from(p.offset.payload_offset).unwrap_or(0);
    let payload = frame.get(start..).unwrap_or(&[]);
    pattern
        .split('|')
        .filter(|s| !s.is_empty())
        .any(|pat| contains_ci(payload, pat.as_bytes()))
}

/// Whether `hay` contains `needle`, ignoring ASCII case.
fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    if needle.is_empty() {
        return true;
    }
    if needle.len() > hay.len() {
        return false;
    }
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// The fields of a packet the wildcard rules test, in compare-friendly form.
#[derive(Clone, Copy, Debug)]
pub(super) struct PacketView {
    vlan: u16,
    proto: u8,
    ipv: u8,
    src: u128,
    dst: u128,
    smac: u64,
    dmac: u64,
    sport: u16,
    dport: u16,
}

fn mac64(m: &[u8; 6]) -> u64 {
    u64::from_be_bytes([0, 0, m[0], m[1], m[2], m[3], m[4], m[5]])
}

fn addr128(a: &IpAddress) -> u128 {
    u128::from_ne_bytes(*a.as_bytes())
}

impl PacketView {
    #[inline]
    pub(super) fn of(p: &ParsedPacket) -> PacketView {
        PacketView {
            vlan: p.vlan_id,
            proto: p.l3_proto,
            ipv: p.ip_version,
            src: addr128(&p.ip_src),
            dst: addr128(&p.ip_dst),
            smac: mac64(&p.smac),
            dmac: mac64(&p.dmac),
            sport: p.l4_src_port,
            dport: p.l4_dst_port,
        }
    }
}

/// A wildcard rule flattened for the per-packet loop (same verdicts as
/// [`FilteringRule::matches`]; rules with a payload pattern or a balance pool defer to it).
#[derive(Clone, Copy, Debug)]
pub(super) struct Compact {
    src: u128,
    smask: u128,
    dst: u128,
    dmask: u128,
    smac: u64,
    dmac: u64,
    sport: (u16, u16),
    dport: (u16, u16),
    vlan: u16,
    proto: u8,
    fam: u8,
    bidir: bool,
    /// Needs [`FilteringRule::matches`] (payload or balance pool).
    pub(super) slow: bool,
}

impl Compact {
    pub(super) fn of(r: &FilteringRule) -> Compact {
        let c = &r.core;
        let range = |lo: u16, hi: u16| if hi == 0 { (0, u16::MAX) } else { (lo, hi) };
        let sm = addr128(&c.shost_mask);
        let dm = addr128(&c.dhost_mask);
        Compact {
            src: addr128(&c.shost) & sm,
            smask: sm,
            dst: addr128(&c.dhost) & dm,
            dmask: dm,
            smac: mac64(&c.smac),
            dmac: mac64(&c.dmac),
            sport: range(c.sport_low, c.sport_high),
            dport: range(c.dport_low, c.dport_high),
            vlan: c.vlan_id,
            proto: c.proto,
            fam: c.family(),
            bidir: r.bidirectional,
            slow: !r.payload_pattern.is_empty() || r.balance_pool > 0,
        }
    }

    #[inline(always)]
    fn tuple(&self, p: &PacketView, swap: bool) -> bool {
        let (smac, dmac, src, dst, sp, dp) = if swap {
            (p.dmac, p.smac, p.dst, p.src, p.dport, p.sport)
        } else {
            (p.smac, p.dmac, p.src, p.dst, p.sport, p.dport)
        };
        (self.smac == 0 || self.smac == smac)
            && (self.dmac == 0 || self.dmac == dmac)
            && (self.smask == 0 || (p.ipv == self.fam && src & self.smask == self.src))
            && (self.dmask == 0 || (p.ipv == self.fam && dst & self.dmask == self.dst))
            && self.sport.0 <= sp
            && sp <= self.sport.1
            && self.dport.0 <= dp
            && dp <= self.dport.1
    }

    /// The header part of the match (everything but payload and balance pool).
    #[inline]
    pub(super) fn matches(&self, p: &PacketView) -> bool {
        (self.vlan == 0 || self.vlan == p.vlan)
            && (self.proto == 0 || self.proto == p.proto)
            && (self.tuple(p, false) || (self.bidir && self.tuple(p, true)))
    }
}
