//! Hardware rules and the filtering mode (`pfring_set_filtering_mode`, `pfring_add_hw_rule`,
//! `pfring_remove_hw_rule`): NIC flow rules programmed through ethtool's n-tuple interface
//! (`ETHTOOL_SRXCLSRLINS` / `ETHTOOL_SRXCLSRLDEL`, what `ethtool -N dev flow-type ...`
//! does), where the driver has it.
//!
//! | mode | `add_hw_rule` |
//! |---|---|
//! | [`FilteringMode::SoftwareOnly`] (default) | refused: hardware rules are off |
//! | [`FilteringMode::HardwareOnly`] | programmed in the NIC, or [`Error::HardwareNotSupported`] |
//! | [`FilteringMode::HardwareAndSoftware`] | programmed in the NIC; where the NIC cannot (veth, loopback, most virtual devices), kept as an equivalent software wildcard rule with the same id |

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::{Backend, Ring};
use crate::error::{Error, Result, SyscallError};
use crate::filter::rules::{FilteringRule, RuleAction};
use crate::sys::ethtool::{self, FLOW_EXT, FlowSpec};

/// Where hardware rules go (`filtering_mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[doc(alias = "filtering_mode")]
pub enum FilteringMode {
    /// `hardware_and_software` = 0: hardware rules in the NIC, or in software where it
    /// cannot.
    HardwareAndSoftware,
    /// `hardware_only` = 1.
    HardwareOnly,
    /// `software_only` = 2: no hardware rules (the default).
    #[default]
    SoftwareOnly,
}

/// What a hardware rule does with matching packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HwRuleAction {
    /// Drop them in the NIC (`RX_CLS_FLOW_DISC`).
    Drop,
    /// Steer them to RX queue `n` (in software: forward).
    ToQueue(u32),
}

/// A NIC flow rule on the 5-tuple and VLAN (the fields common to PF_RING's
/// `intel_82599_perfect_filter_hw_rule` and `generic_flow_tuple_hw_rule`). Unset fields are
/// wildcards; `proto` must be TCP (6), UDP (17) or SCTP (132), as ethtool's flow types are.
#[derive(Clone, Debug, PartialEq, Eq)]
#[doc(alias = "hw_filtering_rule")]
pub struct HwFilteringRule {
    /// Rule id: the NIC rule slot, and the id of the software rule in fallback.
    pub rule_id: u16,
    /// IP protocol (6, 17 or 132).
    pub proto: u8,
    /// Source address (`None` = any).
    pub src: Option<IpAddr>,
    /// Destination address (same IP version as `src`).
    pub dst: Option<IpAddr>,
    /// Source port (`None` = any).
    pub sport: Option<u16>,
    /// Destination port.
    pub dport: Option<u16>,
    /// VLAN id.
    pub vlan_id: Option<u16>,
    /// What to do.
    pub action: HwRuleAction,
}

/// Where [`Ring::add_hw_rule`] put a rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HwRulePlacement {
    /// In the NIC of this device.
    Hardware(String),
    /// In the ring's software rules (the NIC cannot; hardware-and-software mode).
    Software,
}

/// Hardware-rule state of a ring.
#[derive(Clone, Debug, Default)]
pub(crate) struct HwState {
    pub(crate) mode: FilteringMode,
    pub(crate) rules: BTreeMap<u16, HwRulePlacement>,
}

impl HwFilteringRule {
    fn ipv6(&self) -> Result<bool> {
        match (self.src, self.dst) {
            (Some(a), Some(b)) if a.is_ipv4() != b.is_ipv4() => Err(Error::InvalidArgument(
                "hardware rule addresses of different IP versions".into(),
            )),
            (Some(a), _) | (None, Some(a)) => Ok(a.is_ipv6()),
            (None, None) => Ok(false),
        }
    }

    /// The ethtool flow spec (`ethtool -N dev flow-type tcp4 src-ip .. action ..`).
    fn flow_spec(&self) -> Result<FlowSpec> {
        let v6 = self.ipv6()?;
        let base = match self.proto {
            6 => 0x01,
            17 => 0x02,
            132 => 0x03,
            p => {
                return Err(Error::InvalidArgument(format!(
                    "hardware rule protocol {p} (ethtool flow types: 6 tcp, 17 udp, 132 sctp)"
                )));
            }
        };
        let mut fs = FlowSpec {
            // TCP_V6_FLOW = TCP_V4_FLOW + 4, ...
            flow_type: if v6 { base + 4 } else { base },
            location: u32::from(self.rule_id),
            ring_cookie: match self.action {
                HwRuleAction::Drop => u64::MAX,
                HwRuleAction::ToQueue(q) => u64::from(q),
            },
            ..FlowSpec::default()
        };
        // ethtool_tcpip4_spec: ip4src, ip4dst, psrc, pdst; tcpip6: ip6src[16], ip6dst[16], ...
        let (alen, ports_at) = if v6 { (16, 32) } else { (4, 8) };
        let mut put = |at: usize, bytes: &[u8]| {
            fs.h_u[at..at + bytes.len()].copy_from_slice(bytes);
            fs.m_u[at..at + bytes.len()].fill(0xff);
        };
        let octets = |a: IpAddr| match a {
            IpAddr::V4(v) => v.octets().to_vec(),
            IpAddr::V6(v) => v.octets().to_vec(),
        };
        if let Some(a) = self.src {
            put(0, &octets(a));
        }
        if let Some(a) = self.dst {
            put(alen, &octets(a));
        }
        if let Some(p) = self.sport {
            put(ports_at, &p.to_be_bytes());
        }
        if let Some(p) = self.dport {
            put(ports_at + 2, &p.to_be_bytes());
        }
        if let Some(v) = self.vlan_id {
            fs.flow_type |= FLOW_EXT;
            fs.h_ext.vlan_tci = (v & 0x0fff).to_be();
            fs.m_ext.vlan_tci = 0x0fffu16.to_be();
        }
        Ok(fs)
    }

    /// The software rule kept in hardware-and-software mode when the NIC has no flow rules.
    pub fn to_software(&self) -> FilteringRule {
        let action = match self.action {
            HwRuleAction::Drop => RuleAction::DontForwardAndStop,
            HwRuleAction::ToQueue(_) => RuleAction::ForwardAndStop,
        };
        let mut r = FilteringRule::new(self.rule_id, action).proto(self.proto);
        if let Some(a) = self.src {
            r = r.src_ip(a, if a.is_ipv4() { 32 } else { 128 });
        }
        if let Some(a) = self.dst {
            r = r.dst_ip(a, if a.is_ipv4() { 32 } else { 128 });
        }
        if let Some(p) = self.sport {
            r = r.src_ports(p, p);
        }
        if let Some(p) = self.dport {
            r = r.dst_ports(p, p);
        }
        if let Some(v) = self.vlan_id {
            r = r.vlan(v);
        }
        r
    }
}

fn is_unsupported(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EOPNOTSUPP) | Some(libc::ENOTTY)
    )
}

impl Ring {
    /// Chooses where hardware rules go (`software_only` by default).
    #[doc(alias = "pfring_set_filtering_mode")]
    pub fn set_filtering_mode(&mut self, mode: FilteringMode) {
        self.rules_mut().hw.mode = mode;
    }

    /// The filtering mode in force.
    pub fn filtering_mode(&self) -> FilteringMode {
        self.rules.as_deref().map(|r| r.hw.mode).unwrap_or_default()
    }

    /// The bound device, for hardware rules.
    fn hw_device(&self) -> Result<String> {
        match &self.backend {
            Backend::Packet(b) => b.ifname.clone().ok_or(Error::NotSupported {
                op: "hardware rules on a ring bound to no single device",
                backend: "packet",
            }),
            _ => Err(Error::NotSupported {
                op: "hardware rules",
                backend: self.spec.module(),
            }),
        }
    }

    /// Adds a hardware rule (see the table in [`FilteringMode`]'s module docs) and says
    /// where it went.
    ///
    /// # Errors
    /// [`Error::NotSupported`] in software-only mode and on rings without one device;
    /// [`Error::HardwareNotSupported`] (naming the device) when the NIC has no n-tuple
    /// flow rules in hardware-only mode; [`Error::InvalidArgument`] for a protocol other
    /// than TCP/UDP/SCTP; [`Error::Rule`] for an id in use; the ioctl's other failures.
    #[doc(alias = "pfring_add_hw_rule")]
    pub fn add_hw_rule(&mut self, rule: &HwFilteringRule) -> Result<HwRulePlacement> {
        let mode = self.filtering_mode();
        if mode == FilteringMode::SoftwareOnly {
            return Err(Error::NotSupported {
                op: "hardware rules in software_only filtering mode (call set_filtering_mode)",
                backend: self.spec.module(),
            });
        }
        if self
            .rules
            .as_deref()
            .is_some_and(|r| r.hw.rules.contains_key(&rule.rule_id))
        {
            return Err(Error::Rule(crate::filter::rules::RuleError::Duplicate(
                rule.rule_id,
            )));
        }
        let fs = rule.flow_spec()?;
        let dev = self.hw_device()?;
        let placed = match ethtool::insert_rule(&dev, &fs) {
            Ok(()) => HwRulePlacement::Hardware(dev),
            Err(e) if is_unsupported(&e) => {
                if mode == FilteringMode::HardwareOnly {
                    return Err(Error::HardwareNotSupported {
                        missing: format!(
                            "its driver has no ethtool n-tuple rules (ETHTOOL_SRXCLSRLINS; \
                             check `ethtool -k {dev} | grep ntuple`)"
                        ),
                        device: dev,
                        feature: "hardware flow rules",
                    });
                }
                self.add_filtering_rule(rule.to_software())?;
                HwRulePlacement::Software
            }
            Err(e) => {
                return Err(Error::from_os(
                    "ioctl(SIOCETHTOOL, ETHTOOL_SRXCLSRLINS)",
                    e,
                    "add_hw_rule",
                    "CAP_NET_ADMIN",
                    &dev,
                ));
            }
        };
        self.rules_mut()
            .hw
            .rules
            .insert(rule.rule_id, placed.clone());
        Ok(placed)
    }

    /// Removes hardware rule `rule_id` (from the NIC, or its software stand-in).
    ///
    /// # Errors
    /// [`Error::Rule`] for an unknown id; the ioctl's failures.
    #[doc(alias = "pfring_remove_hw_rule")]
    pub fn remove_hw_rule(&mut self, rule_id: u16) -> Result<()> {
        let placed = self
            .rules
            .as_deref_mut()
            .and_then(|r| r.hw.rules.remove(&rule_id))
            .ok_or(Error::Rule(crate::filter::rules::RuleError::NoSuchRule(
                rule_id,
            )))?;
        match placed {
            HwRulePlacement::Hardware(dev) => ethtool::delete_rule(&dev, u32::from(rule_id))
                .map_err(|source| {
                    Error::Syscall(SyscallError {
                        call: "ioctl(SIOCETHTOOL, ETHTOOL_SRXCLSRLDEL)",
                        source,
                    })
                }),
            HwRulePlacement::Software => self.remove_filtering_rule(rule_id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_spec_layout() {
        let r = HwFilteringRule {
            rule_id: 7,
            proto: 17,
            src: Some("10.0.0.1".parse().unwrap()),
            dst: None,
            sport: None,
            dport: Some(53),
            vlan_id: Some(5),
            action: HwRuleAction::Drop,
        };
        let fs = r.flow_spec().unwrap();
        assert_eq!(fs.flow_type, 0x02 | FLOW_EXT);
        assert_eq!(&fs.h_u[..4], &[10, 0, 0, 1]);
        assert_eq!(&fs.m_u[..4], &[0xff; 4]);
        assert_eq!(&fs.m_u[4..10], &[0, 0, 0, 0, 0, 0]);
        assert_eq!(&fs.h_u[10..12], &53u16.to_be_bytes());
        assert_eq!((fs.ring_cookie, fs.location), (u64::MAX, 7));
        assert_eq!(u16::from_be(fs.h_ext.vlan_tci), 5);
        let mut v6 = r.clone();
        v6.src = Some("2001:db8::1".parse().unwrap());
        v6.action = HwRuleAction::ToQueue(3);
        let fs = v6.flow_spec().unwrap();
        assert_eq!((fs.flow_type & 0xff, fs.ring_cookie), (0x06, 3));
        assert_eq!(&fs.h_u[34..36], &53u16.to_be_bytes());
        let mut bad = r.clone();
        bad.proto = 1;
        assert!(matches!(bad.flow_spec(), Err(Error::InvalidArgument(_))));
        bad.proto = 6;
        bad.dst = Some("::1".parse().unwrap());
        assert!(matches!(bad.flow_spec(), Err(Error::InvalidArgument(_))));
        let sw = r.to_software();
        assert_eq!(
            (sw.rule_id, sw.action, sw.core.dport_low, sw.core.vlan_id),
            (7, RuleAction::DontForwardAndStop, 53, 5)
        );
    }
}
