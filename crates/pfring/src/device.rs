//! Device names: the one parser of PF_RING's device-name grammar.
//!
//! Every backend receives a typed [`DeviceSpec`]; nothing else in the crate looks at the raw
//! string. The grammar follows PF_RING's `pfring_device.c` (reference §3.3) with two
//! deliberate differences: an unknown `prefix:` is an error (PF_RING silently hands it to the
//! default module), and a dotted name that is not `<name>.<vlan>` is an error unless it is
//! wrapped in parentheses.
//!
//! | name | meaning |
//! |---|---|
//! | `eth0` | all RX channels of eth0 |
//! | `eth0@1`, `eth0@1-3,5` | only RX channels 1, or 1, 2, 3 and 5 (a 64-bit channel mask) |
//! | `eth0,eth1`, `eth0;eth1`, `eth0,eth1@1` | several devices on one ring; a trailing `@mask` applies to all |
//! | `eth0.100` | eth0, only frames of VLAN 100 |
//! | `(eth0.100)` | the interface really named `eth0.100` |
//! | `any` / `none` | every interface / a ring bound to nothing |
//! | `xdp:eth0@2` | AF_XDP socket on queue 2 of eth0 |
//! | `zc:10@0` / `zc:eth0@1` | queue 0 of ZC cluster 10 / a ZC-opened interface queue |
//! | `pcap:file.pcap` | a capture file |
//! | `multi:eth0@1;eth1` | one handle over several default-module devices |
//! | `userspace:name` | the sending side of a shared-memory ring to another process (the receiving side with `SocketMode::RecvOnly`) |
//! | `usr0` (`usr` + digits, when no interface has that name) | the receiving side of `userspace:usr0` |
//! | `stack:eth0` | stack injection: send into the stack, capture what the stack transmits |

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::error::{Error, Result};

/// Longest interface name Linux accepts (`IFNAMSIZ` - 1).
pub const MAX_IFNAME_LEN: usize = 15;

/// Highest RX channel a mask can name (`MAX_NUM_RX_CHANNELS` - 1).
pub const MAX_CHANNEL: u32 = 63;

/// Longest device string accepted at all (bounds the parser's work).
pub const MAX_SPEC_LEN: usize = 4096;

/// A parsed device name.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeviceSpec {
    /// The default module: AF_PACKET on one or more interfaces.
    Packet(PacketDevice),
    /// `xdp:`: an AF_XDP socket.
    Xdp(QueueDevice),
    /// `zc:`: a zero-copy cluster queue or a ZC-opened interface.
    Zc(ZcTarget),
    /// `pcap:`: a capture file (pcap or pcapng).
    Pcap(PathBuf),
    /// `multi:`: several default-module devices behind one handle.
    Multi(Vec<PacketDevice>),
    /// `userspace:`: a shared-memory ring created by another process.
    Userspace(String),
    /// `stack:`: stack injection on one interface.
    Stack(IfName),
}

impl DeviceSpec {
    /// Parses a device name; same as `s.parse()`.
    pub fn parse(s: &str) -> Result<Self> {
        s.parse()
    }

    /// The module (prefix) name: `"packet"` for the default module, otherwise the prefix
    /// without its colon (`"xdp"`, `"zc"`, ...).
    pub fn module(&self) -> &'static str {
        match self {
            DeviceSpec::Packet(_) => "packet",
            DeviceSpec::Xdp(_) => "xdp",
            DeviceSpec::Zc(_) => "zc",
            DeviceSpec::Pcap(_) => "pcap",
            DeviceSpec::Multi(_) => "multi",
            DeviceSpec::Userspace(_) => "userspace",
            DeviceSpec::Stack(_) => "stack",
        }
    }
}

/// A validated Linux interface name (1 to 15 bytes, no `/`, `:` or whitespace).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IfName(String);

impl IfName {
    /// Validates `name`.
    pub fn new(name: &str) -> Result<Self> {
        let bad = |reason: &str| Error::InvalidDevice {
            spec: name.to_owned(),
            reason: reason.to_owned(),
        };
        if name.is_empty() {
            return Err(bad("empty interface name"));
        }
        if name.len() > MAX_IFNAME_LEN {
            return Err(bad(&format!(
                "interface name is {} bytes, longer than {MAX_IFNAME_LEN} (IFNAMSIZ)",
                name.len()
            )));
        }
        if name == "." || name == ".." {
            return Err(bad("`.` and `..` are not interface names"));
        }
        // `/`, `:` and whitespace Linux refuses; `,;@()` are this grammar's separators.
        if let Some(c) = name.chars().find(|c| {
            matches!(c, '/' | ':' | ',' | ';' | '@' | '(' | ')')
                || c.is_whitespace()
                || c.is_control()
        }) {
            return Err(bad(&format!("interface names cannot contain {c:?}")));
        }
        Ok(IfName(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IfName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A set of RX channels (queues), bit *i* = channel *i*.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[doc(alias = "RING_ANY_CHANNEL")]
pub struct ChannelMask(pub u64);

impl ChannelMask {
    /// Every channel (no `@` in the name).
    pub const ALL: ChannelMask = ChannelMask(u64::MAX);

    /// Whether this is [`ChannelMask::ALL`].
    pub fn is_all(self) -> bool {
        self == Self::ALL
    }

    /// Whether channel `ch` is in the set.
    pub fn contains(self, ch: u32) -> bool {
        ch <= MAX_CHANNEL && self.0 & (1 << ch) != 0
    }

    /// The channels in ascending order.
    pub fn iter(self) -> impl Iterator<Item = u32> {
        (0..=MAX_CHANNEL).filter(move |c| self.contains(*c))
    }

    /// The single channel, if exactly one is set.
    pub fn single(self) -> Option<u32> {
        (self.0.count_ones() == 1).then(|| self.0.trailing_zeros())
    }

    fn parse(spec: &str, s: &str) -> Result<Self> {
        let bad = |reason: String| Error::InvalidDevice {
            spec: spec.to_owned(),
            reason,
        };
        if s.is_empty() {
            return Err(bad("empty channel mask after `@`".into()));
        }
        let num = |t: &str| -> Result<u32> {
            if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad(format!("channel {t:?} is not a number")));
            }
            match t.parse::<u32>() {
                Ok(n) if n <= MAX_CHANNEL => Ok(n),
                _ => Err(bad(format!("channel {t} is above {MAX_CHANNEL}"))),
            }
        };
        let mut mask = 0u64;
        for item in s.split(',') {
            let (lo, hi) = match item.split_once('-') {
                Some((a, b)) => (num(a)?, num(b)?),
                None => {
                    let n = num(item)?;
                    (n, n)
                }
            };
            if lo > hi {
                return Err(bad(format!("channel range {lo}-{hi} is reversed")));
            }
            for ch in lo..=hi {
                mask |= 1 << ch;
            }
        }
        Ok(ChannelMask(mask))
    }
}

impl fmt::Display for ChannelMask {
    /// Renders the mask as ranges, e.g. `1-3,5`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let mut ch = 0;
        while ch <= MAX_CHANNEL {
            if self.contains(ch) {
                let start = ch;
                while ch < MAX_CHANNEL && self.contains(ch + 1) {
                    ch += 1;
                }
                if !first {
                    f.write_str(",")?;
                }
                first = false;
                if start == ch {
                    write!(f, "{start}")?;
                } else {
                    write!(f, "{start}-{ch}")?;
                }
            }
            ch += 1;
        }
        Ok(())
    }
}

/// One interface of a default-module device, with an optional VLAN filter (`eth0.100`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    /// The interface.
    pub name: IfName,
    /// Only frames of this VLAN id (1..=4094), from the `name.vlan` form.
    pub vlan: Option<u16>,
}

/// What a default-module device binds to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Interfaces {
    /// `any`: every interface.
    Any,
    /// `none`: not bound to an interface.
    None,
    /// One or more named interfaces.
    List(Vec<Interface>),
}

/// A default-module device: interfaces plus an RX channel mask.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketDevice {
    /// The interfaces.
    pub interfaces: Interfaces,
    /// The RX channels ([`ChannelMask::ALL`] without `@`).
    pub channels: ChannelMask,
}

impl PacketDevice {
    fn parse(spec: &str, s: &str) -> Result<Self> {
        let bad = |reason: &str| Error::InvalidDevice {
            spec: spec.to_owned(),
            reason: reason.to_owned(),
        };
        if s.is_empty() {
            return Err(bad("empty device name"));
        }
        // The channel mask follows the last '@' that is not inside parentheses.
        let (devs, channels) = match last_unparenthesised(s, b'@') {
            Some(at) => (&s[..at], ChannelMask::parse(spec, &s[at + 1..])?),
            None => (s, ChannelMask::ALL),
        };
        if devs.is_empty() {
            return Err(bad("empty device name before `@`"));
        }
        if devs == "any" || devs == "none" {
            let interfaces = if devs == "any" {
                Interfaces::Any
            } else {
                Interfaces::None
            };
            return Ok(PacketDevice {
                interfaces,
                channels,
            });
        }
        let mut list = Vec::new();
        for part in split_unparenthesised(devs, |b| b == b',' || b == b';') {
            if part.is_empty() {
                return Err(bad("empty name in a device list"));
            }
            if part == "any" || part == "none" {
                return Err(bad(
                    "`any` and `none` cannot be combined with other devices",
                ));
            }
            list.push(Interface::parse(spec, part)?);
        }
        Ok(PacketDevice {
            interfaces: Interfaces::List(list),
            channels,
        })
    }
}

impl Interface {
    fn parse(spec: &str, part: &str) -> Result<Self> {
        let bad = |reason: String| Error::InvalidDevice {
            spec: spec.to_owned(),
            reason,
        };
        if let Some(inner) = part.strip_prefix('(') {
            let Some(name) = inner.strip_suffix(')').filter(|n| !n.contains(['(', ')'])) else {
                return Err(bad(format!("unbalanced parenthesis in {part:?}")));
            };
            return Ok(Interface {
                name: IfName::new(name)?,
                vlan: None,
            });
        }
        if part.contains(['(', ')']) {
            return Err(bad(format!("unbalanced parenthesis in {part:?}")));
        }
        match part.rsplit_once('.') {
            None => Ok(Interface {
                name: IfName::new(part)?,
                vlan: None,
            }),
            Some((name, vlan)) => {
                let id = vlan
                    .parse::<u16>()
                    .ok()
                    .filter(|v| (1..=4094).contains(v) && vlan.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| {
                        bad(format!(
                            "{vlan:?} after the dot is not a VLAN id in 1..=4094 \
                             (write ({part}) for an interface whose name has a dot)"
                        ))
                    })?;
                Ok(Interface {
                    name: IfName::new(name)?,
                    vlan: Some(id),
                })
            }
        }
    }
}

impl fmt::Display for Interface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.vlan {
            Some(v) => write!(f, "{}.{v}", self.name),
            None if self.name.as_str().contains('.') => write!(f, "({})", self.name),
            None => write!(f, "{}", self.name),
        }
    }
}

impl fmt::Display for PacketDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.interfaces {
            Interfaces::Any => f.write_str("any")?,
            Interfaces::None => f.write_str("none")?,
            Interfaces::List(list) => {
                for (i, itf) in list.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{itf}")?;
                }
            }
        }
        if !self.channels.is_all() {
            write!(f, "@{}", self.channels)?;
        }
        Ok(())
    }
}

/// An interface plus a queue mask, as `xdp:` takes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueDevice {
    /// The interface.
    pub name: IfName,
    /// The queues; without `@` this is queue 0 only (kernel bypass opens one queue).
    pub queues: ChannelMask,
}

/// The target of a `zc:` name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZcTarget {
    /// `zc:<cluster>@<queue>`: a queue of a software ZC cluster.
    Cluster {
        /// The cluster id.
        id: u32,
        /// The queue id.
        queue: u32,
    },
    /// `zc:eth0[@Q]`: an interface opened in zero-copy mode.
    Interface(QueueDevice),
}

fn queue_device(spec: &str, s: &str) -> Result<QueueDevice> {
    let (name, queues) = match s.rsplit_once('@') {
        Some((n, q)) => (n, ChannelMask::parse(spec, q)?),
        None => (s, ChannelMask(1)),
    };
    Ok(QueueDevice {
        name: IfName::new(name)?,
        queues,
    })
}

impl fmt::Display for QueueDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name, self.queues)
    }
}

/// Byte index of the last `needle` outside parentheses.
fn last_unparenthesised(s: &str, needle: u8) -> Option<usize> {
    let mut depth = 0i32;
    let mut found = None;
    for (i, b) in s.bytes().enumerate() {
        match b {
            b'(' => depth += 1,
            b')' => depth -= 1,
            _ if b == needle && depth == 0 => found = Some(i),
            _ => {}
        }
    }
    found
}

/// Splits on separators that are outside parentheses.
fn split_unparenthesised(s: &str, is_sep: impl Fn(u8) -> bool) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        match b {
            b'(' => depth += 1,
            b')' => depth -= 1,
            _ if depth == 0 && is_sep(b) => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

impl FromStr for DeviceSpec {
    type Err = Error;

    fn from_str(spec: &str) -> Result<Self> {
        let bad = |reason: String| Error::InvalidDevice {
            spec: spec.to_owned(),
            reason,
        };
        if spec.len() > MAX_SPEC_LEN {
            return Err(bad(format!("longer than {MAX_SPEC_LEN} bytes")));
        }
        let Some((prefix, rest)) = spec.split_once(':') else {
            return Ok(DeviceSpec::Packet(PacketDevice::parse(spec, spec)?));
        };
        match prefix {
            "xdp" => Ok(DeviceSpec::Xdp(queue_device(spec, rest)?)),
            "zc" => {
                let (head, queue) = match rest.rsplit_once('@') {
                    Some((h, q)) => (h, Some(q)),
                    None => (rest, None),
                };
                if !head.is_empty() && head.bytes().all(|b| b.is_ascii_digit()) {
                    let id = head
                        .parse::<u32>()
                        .map_err(|_| bad(format!("cluster id {head} is too large")))?;
                    let queue = queue.ok_or_else(|| {
                        bad("a ZC cluster needs a queue: zc:<cluster>@<queue>".into())
                    })?;
                    let queue = queue
                        .parse::<u32>()
                        .ok()
                        .filter(|_| queue.bytes().all(|b| b.is_ascii_digit()))
                        .ok_or_else(|| bad(format!("queue {queue:?} is not a number")))?;
                    Ok(DeviceSpec::Zc(ZcTarget::Cluster { id, queue }))
                } else {
                    Ok(DeviceSpec::Zc(ZcTarget::Interface(queue_device(
                        spec, rest,
                    )?)))
                }
            }
            "pcap" => {
                if rest.is_empty() {
                    return Err(bad("empty file name after `pcap:`".into()));
                }
                Ok(DeviceSpec::Pcap(PathBuf::from(rest)))
            }
            "multi" => {
                let parts = rest
                    .split(';')
                    .map(|p| PacketDevice::parse(spec, p))
                    .collect::<Result<Vec<_>>>()?;
                Ok(DeviceSpec::Multi(parts))
            }
            "userspace" => {
                if rest.is_empty() || rest.contains('/') || rest.len() > 64 {
                    return Err(bad(
                        "a userspace ring name is 1 to 64 bytes without `/`".into()
                    ));
                }
                Ok(DeviceSpec::Userspace(rest.to_owned()))
            }
            "stack" => Ok(DeviceSpec::Stack(IfName::new(rest)?)),
            "" => Err(bad("empty module prefix before `:`".into())),
            other => Err(bad(format!(
                "unknown module prefix `{other}:` (known: xdp, zc, pcap, multi, userspace, stack)"
            ))),
        }
    }
}

impl fmt::Display for DeviceSpec {
    /// The canonical spelling; parsing it gives back an equal value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceSpec::Packet(d) => write!(f, "{d}"),
            DeviceSpec::Xdp(q) => write!(f, "xdp:{q}"),
            DeviceSpec::Zc(ZcTarget::Cluster { id, queue }) => write!(f, "zc:{id}@{queue}"),
            DeviceSpec::Zc(ZcTarget::Interface(q)) => write!(f, "zc:{q}"),
            DeviceSpec::Pcap(p) => write!(f, "pcap:{}", p.display()),
            DeviceSpec::Multi(parts) => {
                f.write_str("multi:")?;
                for (i, p) in parts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(";")?;
                    }
                    write!(f, "{p}")?;
                }
                Ok(())
            }
            DeviceSpec::Userspace(n) => write!(f, "userspace:{n}"),
            DeviceSpec::Stack(n) => write!(f, "stack:{n}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn itf(name: &str, vlan: Option<u16>) -> Interface {
        Interface {
            name: IfName::new(name).unwrap(),
            vlan,
        }
    }

    fn packet(list: Vec<Interface>, channels: u64) -> DeviceSpec {
        DeviceSpec::Packet(PacketDevice {
            interfaces: Interfaces::List(list),
            channels: ChannelMask(channels),
        })
    }

    #[test]
    fn accepted_names() {
        let all = u64::MAX;
        let table: Vec<(&str, DeviceSpec)> = vec![
            ("eth0", packet(vec![itf("eth0", None)], all)),
            (
                "any",
                DeviceSpec::Packet(PacketDevice {
                    interfaces: Interfaces::Any,
                    channels: ChannelMask::ALL,
                }),
            ),
            (
                "none",
                DeviceSpec::Packet(PacketDevice {
                    interfaces: Interfaces::None,
                    channels: ChannelMask::ALL,
                }),
            ),
            ("eth0@1", packet(vec![itf("eth0", None)], 0b10)),
            ("eth0@1-3,5", packet(vec![itf("eth0", None)], 0b101110)),
            ("eth0@0,63", packet(vec![itf("eth0", None)], 1 | 1 << 63)),
            (
                "eth0,eth1",
                packet(vec![itf("eth0", None), itf("eth1", None)], all),
            ),
            (
                "eth0;eth1",
                packet(vec![itf("eth0", None), itf("eth1", None)], all),
            ),
            (
                "eth0,eth1@1",
                packet(vec![itf("eth0", None), itf("eth1", None)], 0b10),
            ),
            ("eth0.100", packet(vec![itf("eth0", Some(100))], all)),
            ("(eth0.100)", packet(vec![itf("eth0.100", None)], all)),
            ("(eth0.100)@2", packet(vec![itf("eth0.100", None)], 0b100)),
            (
                "abcdefghijklmno",
                packet(vec![itf("abcdefghijklmno", None)], all),
            ),
            (
                "xdp:eth0@2",
                DeviceSpec::Xdp(QueueDevice {
                    name: IfName::new("eth0").unwrap(),
                    queues: ChannelMask(0b100),
                }),
            ),
            (
                "xdp:eth0",
                DeviceSpec::Xdp(QueueDevice {
                    name: IfName::new("eth0").unwrap(),
                    queues: ChannelMask(1),
                }),
            ),
            (
                "zc:10@0",
                DeviceSpec::Zc(ZcTarget::Cluster { id: 10, queue: 0 }),
            ),
            (
                "zc:eth1@3",
                DeviceSpec::Zc(ZcTarget::Interface(QueueDevice {
                    name: IfName::new("eth1").unwrap(),
                    queues: ChannelMask(0b1000),
                })),
            ),
            (
                "pcap:/tmp/a b.pcap",
                DeviceSpec::Pcap("/tmp/a b.pcap".into()),
            ),
            (
                "multi:eth0@1;eth1",
                DeviceSpec::Multi(vec![
                    PacketDevice {
                        interfaces: Interfaces::List(vec![itf("eth0", None)]),
                        channels: ChannelMask(0b10),
                    },
                    PacketDevice {
                        interfaces: Interfaces::List(vec![itf("eth1", None)]),
                        channels: ChannelMask::ALL,
                    },
                ]),
            ),
            ("userspace:usr0", DeviceSpec::Userspace("usr0".into())),
            (
                "stack:eth0",
                DeviceSpec::Stack(IfName::new("eth0").unwrap()),
            ),
        ];
        for (input, want) in table {
            let got: DeviceSpec = input
                .parse()
                .unwrap_or_else(|e| panic!("{input:?} rejected: {e}"));
            assert_eq!(got, want, "{input:?}");
            let again: DeviceSpec = got.to_string().parse().unwrap();
            assert_eq!(again, got, "round trip of {input:?} via {got}");
        }
    }

    #[test]
    fn rejected_names() {
        let table: &[(&str, &str)] = &[
            ("", "empty device name"),
            ("abcdefghijklmnop", "longer than 15"),
            ("eth0@", "empty channel mask"),
            ("eth0@x", "not a number"),
            ("eth0@64", "above 63"),
            ("eth0@3-1", "reversed"),
            ("eth0@1,,2", "not a number"),
            ("eth0@1-", "not a number"),
            ("@1", "empty device name before"),
            ("eth0,,eth1", "empty name in a device list"),
            ("eth0,", "empty name in a device list"),
            ("any,eth0", "cannot be combined"),
            ("eth0.0", "VLAN id"),
            ("eth0.4095", "VLAN id"),
            ("eth0.abc", "VLAN id"),
            ("eth0.+5", "VLAN id"),
            ("(eth0.100", "unbalanced"),
            ("eth0)", "unbalanced"),
            ("()", "empty interface name"),
            ("eth 0", "cannot contain"),
            ("(=%,])", "cannot contain ','"),
            ("(a@b)", "cannot contain '@'"),
            ("foo:eth0", "unknown module prefix `foo:`"),
            (":eth0", "empty module prefix"),
            ("dna:eth0", "unknown module prefix"),
            ("zc:10", "needs a queue"),
            ("zc:10@x", "not a number"),
            ("zc:99999999999@0", "too large"),
            ("pcap:", "empty file name"),
            ("multi:eth0;", "empty device name"),
            ("userspace:", "userspace ring name"),
            ("stack:", "empty interface name"),
            ("xdp:", "empty interface name"),
            ("xdp:eth0@", "empty channel mask"),
        ];
        for (input, want) in table {
            match input.parse::<DeviceSpec>() {
                Ok(v) => panic!("{input:?} accepted as {v:?}"),
                Err(e @ Error::InvalidDevice { .. }) => {
                    let msg = e.to_string();
                    assert!(msg.contains(want), "{input:?}: {msg:?} lacks {want:?}");
                }
                Err(e) => panic!("{input:?}: wrong error kind {e:?}"),
            }
        }
    }

    #[test]
    fn long_input_is_bounded() {
        let s = "e,".repeat(5000);
        assert!(s.parse::<DeviceSpec>().is_err());
    }

    #[test]
    fn mask_display() {
        assert_eq!(ChannelMask(0b101110).to_string(), "1-3,5");
        assert_eq!(ChannelMask(1 << 63).to_string(), "63");
        assert_eq!(ChannelMask::ALL.to_string(), "0-63");
        assert_eq!(ChannelMask(0b100).single(), Some(2));
        assert_eq!(ChannelMask(0b110).single(), None);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,40}") {
            let _ = s.parse::<DeviceSpec>();
        }

        #[test]
        fn grammar_like_input_round_trips(s in "(xdp:|zc:|multi:|stack:)?[a-z(]{0,4}[0-9.]{0,4}[)]?(@[0-9,-]{1,6})?([,;][a-z]{1,3})?") {
            if let Ok(spec) = s.parse::<DeviceSpec>() {
                let again: DeviceSpec = spec.to_string().parse().unwrap();
                proptest::prop_assert_eq!(again, spec);
            }
        }
    }
}
