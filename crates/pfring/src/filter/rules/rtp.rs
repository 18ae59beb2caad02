//! The RTP plugin (PF_RING's VoIP example): matches RTP over UDP and keeps per-stream
//! statistics — packets, sequence loss and interarrival jitter (RFC 3550 §6.4.1, A.1, A.8) —
//! read through `get_stats`.
//!
//! Rule data (UTF-8, `;`-separated, optional): `ssrc=N` (decimal or `0x` hex) to match one
//! stream, `pt=N` for one payload type, `clock=HZ` for the RTP clock used by the jitter
//! (default 8000, the G.711 rate).
//!
//! Statistics (`get_stats`, text, one line per stream ordered by SSRC):
//! `ssrc=0x0000abcd packets=N expected=E lost=L jitter=J` with the jitter in RTP timestamp
//! units (J / clock seconds).

use std::collections::HashMap;
use std::time::Duration;

use super::plugin::{PluginPacket, RulePlugin};
use crate::parse::IpAddress;

/// The RTP plugin's id.
pub const RTP_PLUGIN_ID: u16 = 3;

/// The RTP header fields the plugin uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtpHeader {
    /// Payload type.
    pub payload_type: u8,
    /// Sequence number.
    pub seq: u16,
    /// RTP timestamp.
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
}

/// Parses an RTP version 2 header (not RTCP: payload types 72..=76 are refused).
pub fn parse_rtp(payload: &[u8]) -> Option<RtpHeader> {
    let h: &[u8; 12] = payload.first_chunk()?;
    if h[0] >> 6 != 2 {
        return None;
    }
    let pt = h[1] & 0x7f;
    if (72..=76).contains(&pt) {
        return None;
    }
    Some(RtpHeader {
        payload_type: pt,
        seq: u16::from_be_bytes([h[2], h[3]]),
        timestamp: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
        ssrc: u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
    })
}

/// Statistics of one RTP stream.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RtpStreamStats {
    /// SSRC.
    pub ssrc: u32,
    /// Packets received.
    pub packets: u64,
    /// Packets expected from the sequence numbers (highest extended − first + 1).
    pub expected: u64,
    /// `expected − packets` (0 when duplicates outnumber losses).
    pub lost: u64,
    /// Interarrival jitter in RTP timestamp units.
    pub jitter: f64,
}

#[derive(Clone, Debug, Default)]
struct Stream {
    stats: RtpStreamStats,
    base_seq: u32,
    max_seq: u16,
    cycles: u32,
    last_transit: Option<f64>,
    last_seen_ns: u64,
}

impl Stream {
    fn update(&mut self, h: &RtpHeader, arrival: f64, ts_ns: u64) {
        let s = &mut self.stats;
        if s.packets == 0 {
            self.base_seq = u32::from(h.seq);
            self.max_seq = h.seq;
        } else {
            let delta = h.seq.wrapping_sub(self.max_seq);
            if delta != 0 && delta < 0x8000 {
                if h.seq < self.max_seq {
                    self.cycles += 1;
                }
                self.max_seq = h.seq;
            }
        }
        s.packets += 1;
        let ext_max = u64::from(self.cycles) * 65536 + u64::from(self.max_seq);
        s.expected = ext_max + 1 - u64::from(self.base_seq);
        s.lost = s.expected.saturating_sub(s.packets);
        let transit = arrival - f64::from(h.timestamp);
        if let Some(last) = self.last_transit {
            let d = (transit - last).abs();
            s.jitter += (d - s.jitter) / 16.0;
        }
        self.last_transit = Some(transit);
        self.last_seen_ns = ts_ns;
    }
}

type StreamKey = (IpAddress, u16, IpAddress, u16, u32);

#[derive(Clone, Debug)]
struct RuleState {
    ssrc: Option<u32>,
    pt: Option<u8>,
    clock: u32,
    streams: HashMap<StreamKey, Stream>,
}

fn parse_data(data: &[u8]) -> Result<RuleState, String> {
    let text = std::str::from_utf8(data).map_err(|_| "RTP rule data is not UTF-8")?;
    let mut st = RuleState {
        ssrc: None,
        pt: None,
        clock: 8000,
        streams: HashMap::new(),
    };
    let num = |v: &str| -> Result<u64, String> {
        match v.strip_prefix("0x") {
            Some(h) => u64::from_str_radix(h, 16),
            None => v.parse(),
        }
        .map_err(|_| format!("RTP rule data: bad number {v:?}"))
    };
    for item in text.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        match item.split_once('=') {
            Some(("ssrc", v)) => st.ssrc = Some(num(v)? as u32),
            Some(("pt", v)) => st.pt = Some(num(v)?.min(127) as u8),
            Some(("clock", v)) => st.clock = num(v)?.clamp(1, 10_000_000) as u32,
            _ => return Err(format!("RTP rule data: unknown item {item:?}")),
        }
    }
    Ok(st)
}

/// The RTP plugin: see the module docs.
#[derive(Debug, Default)]
pub struct RtpPlugin {
    rules: HashMap<u16, RuleState>,
}

impl RtpPlugin {
    /// The streams rule `rule_id` saw, ordered by SSRC.
    pub fn streams(&self, rule_id: u16) -> Vec<RtpStreamStats> {
        let mut v: Vec<_> = self
            .rules
            .get(&rule_id)
            .map(|r| r.streams.values().map(|s| s.stats).collect())
            .unwrap_or_default();
        v.sort_by_key(|s| s.ssrc);
        v
    }

    fn header(&self, rule_id: u16, pkt: &PluginPacket<'_>) -> Option<RtpHeader> {
        if pkt.parsed.l3_proto != crate::parse::consts::IPPROTO_UDP {
            return None;
        }
        let r = self.rules.get(&rule_id)?;
        let h = parse_rtp(pkt.payload())?;
        (r.ssrc.is_none_or(|s| s == h.ssrc) && r.pt.is_none_or(|p| p == h.payload_type))
            .then_some(h)
    }
}

impl RulePlugin for RtpPlugin {
    fn id(&self) -> u16 {
        RTP_PLUGIN_ID
    }

    fn name(&self) -> &str {
        "rtp"
    }

    fn description(&self) -> &str {
        "RTP over UDP: per-stream packets, sequence loss and jitter"
    }

    fn add_rule(&mut self, rule_id: u16, data: &[u8]) -> Result<(), String> {
        self.rules.insert(rule_id, parse_data(data)?);
        Ok(())
    }

    fn del_rule(&mut self, rule_id: u16) {
        self.rules.remove(&rule_id);
    }

    fn filter(&mut self, rule_id: u16, pkt: &PluginPacket<'_>) -> bool {
        self.header(rule_id, pkt).is_some()
    }

    fn handle(&mut self, rule_id: u16, pkt: &PluginPacket<'_>) {
        let Some(h) = self.header(rule_id, pkt) else {
            return;
        };
        let Some(r) = self.rules.get_mut(&rule_id) else {
            return;
        };
        let p = pkt.parsed;
        let key = (p.ip_src, p.l4_src_port, p.ip_dst, p.l4_dst_port, h.ssrc);
        // Arrival time in RTP clock units.
        let arrival = pkt.ts_ns as f64 * f64::from(r.clock) / 1e9;
        let s = r.streams.entry(key).or_insert_with(|| Stream {
            stats: RtpStreamStats {
                ssrc: h.ssrc,
                ..RtpStreamStats::default()
            },
            ..Stream::default()
        });
        s.update(&h, arrival, pkt.ts_ns);
    }

    fn get_stats(&self, rule_id: u16) -> Vec<u8> {
        let mut out = String::new();
        for s in self.streams(rule_id) {
            out.push_str(&format!(
                "ssrc=0x{:08x} packets={} expected={} lost={} jitter={:.2}\n",
                s.ssrc, s.packets, s.expected, s.lost, s.jitter
            ));
        }
        out.into_bytes()
    }

    fn purge_idle(&mut self, idle: Duration) -> usize {
        // Idle relative to the newest packet seen (packet time, not the wall clock).
        let newest = self
            .rules
            .values()
            .flat_map(|r| r.streams.values().map(|s| s.last_seen_ns))
            .max()
            .unwrap_or(0);
        let limit = u64::try_from(idle.as_nanos()).unwrap_or(u64::MAX);
        let mut n = 0;
        for r in self.rules.values_mut() {
            let before = r.streams.len();
            r.streams
                .retain(|_, s| newest.saturating_sub(s.last_seen_ns) < limit);
            n += before - r.streams.len();
        }
        n
    }
}
