//! The SIP plugin (PF_RING's VoIP example): parses SIP over UDP and lets a rule match only
//! INVITE requests, or a given caller, called party or Call-ID.
//!
//! Rule data (UTF-8, `;`-separated, all given conditions must hold; empty = any SIP
//! message):
//!
//! | item | matches |
//! |---|---|
//! | `invite` | INVITE requests only |
//! | `method=NAME` | requests of that method |
//! | `caller=USER` | the user part of the `From` URI (`sip:USER@host`) |
//! | `called=USER` | the user part of the `To` URI |
//! | `call_id=ID` | the `Call-ID` header |
//!
//! Statistics (`get_stats`, text): `messages=N invites=M` for the rule.

use std::collections::HashMap;

use super::plugin::{PluginPacket, RulePlugin};

/// The SIP plugin's id.
pub const SIP_PLUGIN_ID: u16 = 2;

/// A parsed SIP message (the fields the plugin matches on).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SipMessage {
    /// The request method (`INVITE`, `BYE`, ...), `None` for responses.
    pub method: Option<String>,
    /// Response status code.
    pub status: Option<u16>,
    /// User part of the `From` URI.
    pub caller: Option<String>,
    /// User part of the `To` URI.
    pub called: Option<String>,
    /// `Call-ID`.
    pub call_id: Option<String>,
}

/// The user part of the first `sip:` / `sips:` URI in a header value.
fn uri_user(v: &str) -> Option<String> {
    let at = v
        .find("sip:")
        .map(|i| i + 4)
        .or_else(|| v.find("sips:").map(|i| i + 5))?;
    let rest = &v[at..];
    let end = rest.find(['@', '>', ';', ' ']).unwrap_or(rest.len());
    if rest[end..].starts_with('@') {
        Some(rest[..end].to_owned())
    } else {
        None
    }
}

/// Parses a SIP message (request or response) from a UDP payload; `None` if it is not one.
pub fn parse_sip(payload: &[u8]) -> Option<SipMessage> {
    // Headers only: up to the blank line (or the whole payload), as text.
    let head_end = payload
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(payload.len());
    let text = std::str::from_utf8(&payload[..head_end]).ok()?;
    let mut lines = text.split("\r\n").flat_map(|l| l.split('\n'));
    let first = lines.next()?;
    let mut m = SipMessage::default();
    if let Some(rest) = first.strip_prefix("SIP/2.0 ") {
        m.status = Some(rest.get(..3)?.parse().ok()?);
    } else {
        let mut parts = first.split(' ');
        let method = parts.next()?;
        let _uri = parts.next()?;
        if parts.next()? != "SIP/2.0"
            || method.is_empty()
            || !method.bytes().all(|b| b.is_ascii_uppercase())
        {
            return None;
        }
        m.method = Some(method.to_owned());
    }
    for l in lines {
        let Some((name, value)) = l.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "from" | "f" => m.caller = uri_user(value),
            "to" | "t" => m.called = uri_user(value),
            "call-id" | "i" => m.call_id = Some(value.to_owned()),
            _ => {}
        }
    }
    Some(m)
}

/// What a rule asks of a SIP message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct SipFilter {
    method: Option<String>,
    caller: Option<String>,
    called: Option<String>,
    call_id: Option<String>,
}

impl SipFilter {
    fn parse(data: &[u8]) -> Result<SipFilter, String> {
        let text = std::str::from_utf8(data).map_err(|_| "SIP rule data is not UTF-8")?;
        let mut f = SipFilter::default();
        for item in text.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            match item.split_once('=') {
                None if item.eq_ignore_ascii_case("invite") => f.method = Some("INVITE".into()),
                Some(("method", v)) => f.method = Some(v.to_ascii_uppercase()),
                Some(("caller", v)) => f.caller = Some(v.to_owned()),
                Some(("called", v)) => f.called = Some(v.to_owned()),
                Some(("call_id", v)) => f.call_id = Some(v.to_owned()),
                _ => return Err(format!("SIP rule data: unknown item {item:?}")),
            }
        }
        Ok(f)
    }

    fn matches(&self, m: &SipMessage) -> bool {
        let eq = |want: &Option<String>, got: &Option<String>| {
            want.as_ref().is_none_or(|w| got.as_ref() == Some(w))
        };
        eq(&self.method, &m.method)
            && eq(&self.caller, &m.caller)
            && eq(&self.called, &m.called)
            && eq(&self.call_id, &m.call_id)
    }
}

#[derive(Clone, Debug, Default)]
struct RuleState {
    filter: SipFilter,
    messages: u64,
    invites: u64,
}

/// The SIP plugin: see the module docs.
#[derive(Debug, Default)]
pub struct SipPlugin {
    rules: HashMap<u16, RuleState>,
}

impl RulePlugin for SipPlugin {
    fn id(&self) -> u16 {
        SIP_PLUGIN_ID
    }

    fn name(&self) -> &str {
        "sip"
    }

    fn description(&self) -> &str {
        "SIP over UDP: INVITE only, or a given caller, called party or Call-ID"
    }

    fn add_rule(&mut self, rule_id: u16, data: &[u8]) -> Result<(), String> {
        let filter = SipFilter::parse(data)?;
        self.rules.insert(
            rule_id,
            RuleState {
                filter,
                ..RuleState::default()
            },
        );
        Ok(())
    }

    fn del_rule(&mut self, rule_id: u16) {
        self.rules.remove(&rule_id);
    }

    fn filter(&mut self, rule_id: u16, pkt: &PluginPacket<'_>) -> bool {
        if pkt.parsed.l3_proto != crate::parse::consts::IPPROTO_UDP {
            return false;
        }
        let Some(st) = self.rules.get(&rule_id) else {
            return false;
        };
        parse_sip(pkt.payload()).is_some_and(|m| st.filter.matches(&m))
    }

    fn handle(&mut self, rule_id: u16, pkt: &PluginPacket<'_>) {
        let Some(st) = self.rules.get_mut(&rule_id) else {
            return;
        };
        if let Some(m) = parse_sip(pkt.payload()) {
            st.messages += 1;
            st.invites += u64::from(m.method.as_deref() == Some("INVITE"));
        }
    }

    fn get_stats(&self, rule_id: u16) -> Vec<u8> {
        self.rules
            .get(&rule_id)
            .map(|s| format!("messages={} invites={}", s.messages, s.invites).into_bytes())
            .unwrap_or_default()
    }
}
