//! Software and hardware filtering rules, sampling, the filtering policy and rule plugins,
//! on the library's rule engine (`pfring::filter::rules`).
//!
//! - Rules run in the library for rings opened through this API (the kernel offload the Rust
//!   API may use is turned off on the first rule), so every rule has statistics and idle
//!   purges work, as in PF_RING where the kernel module saw every packet.
//! - `filtering_rule` (5.x layout) maps field by field; the address family comes from the
//!   masks (a mask with bytes 4..16 zero is IPv4, as the 5.x struct has no `ip_version`).
//!   The tunnel part (`extended_fields.tunnel`, `FILTER_TUNNEL_ID_FLAG`) is not matched by
//!   the engine: a rule using it is `PF_RING_ERROR_NOT_SUPPORTED`. `rule_id ==
//!   FILTERING_RULE_AUTO_RULE_ID` gets the highest id in use + 1, written back into the rule.
//! - `hash_filtering_rule`: both peers with bytes 4..16 zero are IPv4 (host order), else IPv6.
//! - Errors: NULL / out of range: `PF_RING_ERROR_INVALID_ARGUMENT` (`EINVAL`); a rule id or
//!   flow that has a rule already: `INVALID_ARGUMENT` with `errno = EEXIST`; no such rule:
//!   `INVALID_ARGUMENT` with `errno = ENOENT` (PF_RING's setsockopt failed with those).
//!
//! # Safety (every function)
//! `ring` is NULL or a live handle; every other pointer is NULL or valid for its C type.

use std::ffi::{c_char, c_int, c_uint};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use pfring_rs::filter::rules::plugin::{CPlugin, CPluginOps};
use pfring_rs::filter::rules::{FilteringRule, HashFilteringRule, RuleAction, RuleError};
use pfring_rs::ring::{FilteringMode, HwFilteringRule, HwRuleAction};
use pfring_rs::{Error, IpAddress, Ring};

use crate::types::*;
use crate::{Code, call, call_or, handle, invalid, not_supported, pfring, set_errno};

/// A library error as a code, with `errno` EEXIST / ENOENT for rule conflicts / unknown rules.
pub(crate) fn rule_code(e: Error) -> Code {
    let errno = match &e {
        Error::Rule(RuleError::Duplicate(_) | RuleError::DuplicateHash) => Some(libc::EEXIST),
        Error::Rule(RuleError::NoSuchRule(_) | RuleError::NoSuchHashRule) => Some(libc::ENOENT),
        _ => None,
    };
    let c = Code::from(e);
    if let Some(n) = errno {
        set_errno(n);
    }
    c
}

fn action(a: rule_action_behaviour) -> Result<RuleAction, Code> {
    RuleAction::from_raw(a).ok_or_else(invalid)
}

/// The 16 bytes of an `ip_addr`.
fn ip_bytes(a: &ip_addr) -> [u8; 16] {
    // SAFETY: both union members are plain bytes; `v6` covers all 16.
    unsafe { a.v6 }.s6_addr
}

fn is_v4(b: &[u8; 16]) -> bool {
    b[4..] == [0; 12]
}

/// An `ip_addr` as a standard address of the given version.
fn std_ip(a: &ip_addr, v4: bool) -> IpAddr {
    let b = ip_bytes(a);
    if v4 {
        IpAddr::V4(Ipv4Addr::from(u32::from_ne_bytes([b[0], b[1], b[2], b[3]])))
    } else {
        IpAddr::V6(Ipv6Addr::from(b))
    }
}

/// A fixed-size C string field (NUL-terminated or full) as UTF-8.
fn field_str(f: &[c_char]) -> Result<String, Code> {
    let bytes: Vec<u8> = f
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8(bytes).map_err(|_| invalid())
}

/// `filtering_rule` (5.x) as the library's rule (id taken as is).
pub(crate) fn wildcard_rule(r: &filtering_rule) -> Result<FilteringRule, Code> {
    let mut out = FilteringRule::new(r.rule_id, action(r.rule_action)?);
    out.balance_id = r.balance_id;
    out.balance_pool = r.balance_pool;
    out.locked = r.locked != 0;
    out.bidirectional = r.bidirectional != 0;
    let c = &r.core_fields;
    let core = &mut out.core;
    core.smac = c.smac;
    core.dmac = c.dmac;
    core.vlan_id = c.vlan_id;
    core.proto = c.proto;
    core.shost = IpAddress::from_bytes(ip_bytes(&c.shost));
    core.dhost = IpAddress::from_bytes(ip_bytes(&c.dhost));
    core.shost_mask = IpAddress::from_bytes(ip_bytes(&c.shost_mask));
    core.dhost_mask = IpAddress::from_bytes(ip_bytes(&c.dhost_mask));
    core.sport_low = c.sport_low;
    core.sport_high = c.sport_high;
    core.dport_low = c.dport_low;
    core.dport_high = c.dport_high;
    let x = &r.extended_fields;
    let t = &x.tunnel;
    if x.optional_fields & FILTER_TUNNEL_ID_FLAG != 0
        || [&t.shost_mask, &t.dhost_mask]
            .iter()
            .any(|m| ip_bytes(m) != [0; 16])
    {
        return Err(not_supported());
    }
    out.payload_pattern = field_str(&x.payload_pattern)?;
    if x.filter_plugin_id != 0 {
        out.plugin_id = x.filter_plugin_id;
        let data: Vec<u8> = x.filter_plugin_data.iter().map(|&c| c as u8).collect();
        let end = data.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        out.plugin_data = data[..end].to_vec();
    } else {
        out.plugin_id = r.plugin_action.plugin_id;
    }
    let refl = field_str(&r.reflector_device_name)?;
    out.reflector_device = (!refl.is_empty()).then_some(refl);
    Ok(out)
}

/// `hash_filtering_rule` (5.x) as the library's exact rule.
pub(crate) fn hash_rule(r: &hash_filtering_rule) -> Result<HashFilteringRule, Code> {
    let v4 = is_v4(&ip_bytes(&r.host_peer_a)) && is_v4(&ip_bytes(&r.host_peer_b));
    let mut out = HashFilteringRule::new(
        r.proto,
        std_ip(&r.host_peer_a, v4),
        r.port_peer_a,
        std_ip(&r.host_peer_b, v4),
        r.port_peer_b,
        action(r.rule_action)?,
    );
    out.rule_id = r.rule_id;
    out.vlan_id = r.vlan_id;
    let refl = field_str(&r.reflector_device_name)?;
    out.reflector_device = (!refl.is_empty()).then_some(refl);
    Ok(out)
}

/// `hw_filtering_rule` as the library's NIC rule. `queue_id == 0xFFFF` (PF_RING's `-1`)
/// drops; zero addresses / ports are wildcards.
pub(crate) fn hw_rule(r: &hw_filtering_rule) -> Result<HwFilteringRule, Code> {
    let v4 = |a: u32| (a != 0).then(|| IpAddr::V4(Ipv4Addr::from(a)));
    let port = |p: u16| (p != 0).then_some(p);
    let act = |q: u16| {
        if q == u16::MAX {
            HwRuleAction::Drop
        } else {
            HwRuleAction::ToQueue(q.into())
        }
    };
    match r.rule_family_type {
        intel_82599_five_tuple_rule => {
            // SAFETY: the family type says which member is set; all are plain data.
            let f = unsafe { r.rule_family.five_tuple_rule };
            Ok(HwFilteringRule {
                rule_id: r.rule_id,
                proto: f.proto,
                src: v4(f.s_addr),
                dst: v4(f.d_addr),
                sport: port(f.s_port),
                dport: port(f.d_port),
                vlan_id: None,
                action: act(f.queue_id),
            })
        }
        intel_82599_perfect_filter_rule => {
            // SAFETY: as above.
            let f = unsafe { r.rule_family.perfect_rule };
            Ok(HwFilteringRule {
                rule_id: r.rule_id,
                proto: f.proto,
                src: v4(f.s_addr),
                dst: v4(f.d_addr),
                sport: port(f.s_port),
                dport: port(f.d_port),
                vlan_id: (f.vlan_id != 0).then_some(f.vlan_id),
                action: act(f.queue_id),
            })
        }
        // Silicom's redirector is a separate switch chip: nothing here programs it.
        silicom_redirector_rule => Err(not_supported()),
        _ => Err(invalid()),
    }
}

/// Rules added through C run in the library (statistics and purges need every packet).
/// (Cheap when already so: nothing is recompiled without an offload.)
fn in_library(ring: &mut Ring) -> Result<(), Code> {
    ring.set_rules_offload(false).map_err(rule_code)
}

/// Adds a wildcard rule (evaluated in ascending `rule_id`). Returns 0.
/// `FILTERING_RULE_AUTO_RULE_ID` picks the id (written back into `rule_to_add`).
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_add_filtering_rule(
    ring: *mut pfring,
    rule_to_add: *mut filtering_rule,
) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        // SAFETY: per the module contract.
        let rule = unsafe { rule_to_add.as_mut() }.ok_or_else(invalid)?;
        let mut r = wildcard_rule(rule)?;
        let mut st = h.lock();
        if rule.rule_id == FILTERING_RULE_AUTO_RULE_ID {
            let next = st
                .ring
                .rule_set()
                .and_then(|s| s.rules().map(|r| r.rule_id).max())
                .map_or(Some(0), |m| m.checked_add(1))
                .filter(|&id| id != FILTERING_RULE_AUTO_RULE_ID)
                .ok_or_else(invalid)?;
            r.rule_id = next;
        }
        in_library(&mut st.ring)?;
        st.ring.add_filtering_rule(r.clone()).map_err(rule_code)?;
        rule.rule_id = r.rule_id;
        Ok(0)
    })
}

/// Removes wildcard rule `rule_id` (`INVALID_ARGUMENT` / `ENOENT` if there is none).
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_remove_filtering_rule(ring: *mut pfring, rule_id: u16) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        h.lock()
            .ring
            .remove_filtering_rule(rule_id)
            .map_err(rule_code)?;
        Ok(0)
    })
}

/// Adds (`add_rule != 0`) or removes the exact rule of a flow (both directions).
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_handle_hash_filtering_rule(
    ring: *mut pfring,
    rule_to_add: *mut hash_filtering_rule,
    add_rule: u8,
) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        // SAFETY: per the module contract.
        let rule = unsafe { rule_to_add.as_ref() }.ok_or_else(invalid)?;
        let r = hash_rule(rule)?;
        let mut st = h.lock();
        if add_rule != 0 {
            in_library(&mut st.ring)?;
            st.ring.add_hash_filtering_rule(r).map_err(rule_code)?;
        } else {
            st.ring.remove_hash_filtering_rule(&r).map_err(rule_code)?;
        }
        Ok(0)
    })
}

/// Copies `bytes` to `stats` if `*stats_len` is large enough, and sets `*stats_len` to their
/// length (also when it is not: `INVALID_ARGUMENT` with `errno = ENOBUFS`).
///
/// # Safety
/// `stats` is valid for `*stats_len` bytes of writes, `stats_len` for a read and a write.
unsafe fn put_stats(bytes: &[u8], stats: *mut c_char, stats_len: *mut c_uint) -> Result<(), Code> {
    // SAFETY: per this function's contract.
    let room = unsafe { *stats_len } as usize;
    let n = c_uint::try_from(bytes.len()).map_err(|_| invalid())?;
    // SAFETY: per this function's contract.
    unsafe { *stats_len = n };
    if room < bytes.len() {
        let c = invalid();
        set_errno(libc::ENOBUFS);
        return Err(c);
    }
    // SAFETY: `stats` has room for `bytes.len()` bytes (checked above); no overlap with a
    // Rust-owned buffer.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), stats.cast::<u8>(), bytes.len()) };
    Ok(())
}

/// Statistics of wildcard rule `rule_id` into `stats` (`*stats_len` bytes of room; set to
/// the length written). A rule with a plugin gets the plugin's bytes (`get_stats`, as in
/// 5.x); a rule without one gets a `filtering_rule_stats` (16 bytes: `u_int64_t match`,
/// `u_int32_t inactivity` seconds, 4 zero bytes). Too little room: `INVALID_ARGUMENT`,
/// `errno = ENOBUFS`, `*stats_len` = the length needed.
///
/// # Safety
/// See the module documentation; `stats` has `*stats_len` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_get_filtering_rule_stats(
    ring: *mut pfring,
    rule_id: u16,
    stats: *mut c_char,
    stats_len: *mut c_uint,
) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        if stats.is_null() || stats_len.is_null() {
            return Err(invalid());
        }
        let st = h.lock();
        let plugin = st
            .ring
            .rule_set()
            .and_then(|s| s.rules().find(|r| r.rule_id == rule_id))
            .map(|r| r.plugin_id);
        let bytes = match plugin {
            None => return Err(rule_code(Error::Rule(RuleError::NoSuchRule(rule_id)))),
            Some(0) => {
                let s = st.ring.filtering_rule_stats(rule_id).map_err(rule_code)?;
                let mut b = Vec::with_capacity(16);
                b.extend_from_slice(&s.matches.to_ne_bytes());
                let secs = u32::try_from(s.inactivity.as_secs()).unwrap_or(u32::MAX);
                b.extend_from_slice(&secs.to_ne_bytes());
                b.extend_from_slice(&[0; 4]);
                b
            }
            Some(_) => st.ring.plugin_stats(rule_id).map_err(rule_code)?,
        };
        // SAFETY: checked non-NULL; room per the caller's contract.
        unsafe { put_stats(&bytes, stats, stats_len) }?;
        Ok(0)
    })
}

/// Statistics of the exact rule of `rule`'s flow as a `hash_filtering_rule_stats` (32 bytes:
/// `match`, `filtered`, `match_forward` as `u_int64_t`, `inactivity` seconds as `u_int32_t`,
/// 4 zero bytes). Too little room: `INVALID_ARGUMENT`, `errno = ENOBUFS`.
///
/// # Safety
/// See the module documentation; `stats` has `*stats_len` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_get_hash_filtering_rule_stats(
    ring: *mut pfring,
    rule: *mut hash_filtering_rule,
    stats: *mut c_char,
    stats_len: *mut c_uint,
) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        // SAFETY: per the module contract.
        let rule = unsafe { rule.as_ref() }.ok_or_else(invalid)?;
        if stats.is_null() || stats_len.is_null() {
            return Err(invalid());
        }
        let r = hash_rule(rule)?;
        let s = h
            .lock()
            .ring
            .hash_filtering_rule_stats(&r)
            .map_err(rule_code)?;
        let mut b = Vec::with_capacity(32);
        for v in [s.matched, s.filtered, s.match_forward] {
            b.extend_from_slice(&v.to_ne_bytes());
        }
        b.extend_from_slice(&s.inactivity.to_ne_bytes());
        b.extend_from_slice(&[0; 4]);
        // SAFETY: checked non-NULL; room per the caller's contract.
        unsafe { put_stats(&b, stats, stats_len) }?;
        Ok(0)
    })
}

/// Removes wildcard rules (except `locked` ones) not matched for `inactivity_sec` seconds.
/// Returns 0.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_purge_idle_rules(ring: *mut pfring, inactivity_sec: u16) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        h.lock()
            .ring
            .purge_idle_rules(inactivity_sec)
            .map_err(rule_code)?;
        Ok(0)
    })
}

/// Removes exact rules not matched for `inactivity_sec` seconds. Returns 0.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_purge_idle_hash_rules(
    ring: *mut pfring,
    inactivity_sec: u16,
) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        h.lock()
            .ring
            .purge_idle_hash_rules(inactivity_sec)
            .map_err(rule_code)?;
        Ok(0)
    })
}

/// Default policy for packets no rule decides: non-zero = accept (the default), 0 = drop.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_toggle_filtering_policy(
    ring: *mut pfring,
    rules_default_accept_policy: u8,
) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        let mut st = h.lock();
        in_library(&mut st.ring)?;
        st.ring
            .toggle_filtering_policy(rules_default_accept_policy != 0)
            .map_err(rule_code)?;
        Ok(0)
    })
}

/// Delivers exactly one of every `rate` packets that passed the BPF filter and the rules
/// (1 = every packet; 0 is `INVALID_ARGUMENT`).
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_set_sampling_rate(ring: *mut pfring, rate: u32) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        if rate == 0 {
            return Err(invalid());
        }
        h.lock().ring.set_sampling_rate(rate).map_err(rule_code)?;
        Ok(0)
    })
}

/// Adds a NIC rule (ethtool n-tuple), per the filtering mode: `software_only` (the default):
/// `NOT_SUPPORTED`; `hardware_only`: in the NIC or `NOT_SUPPORTED` when its driver has no
/// n-tuple rules (veth); `hardware_and_software`: in the NIC or, where it cannot, as an
/// equivalent software rule with the same id. Families: `intel_82599_five_tuple_rule` and
/// `intel_82599_perfect_filter_rule` (TCP / UDP / SCTP; `queue_id` 0xFFFF drops, else
/// steers to that RX queue / in software forwards); `silicom_redirector_rule`:
/// `NOT_SUPPORTED`.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_add_hw_rule(
    ring: *mut pfring,
    rule: *mut hw_filtering_rule,
) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        // SAFETY: per the module contract.
        let r = unsafe { rule.as_ref() }.ok_or_else(invalid)?;
        let r = hw_rule(r)?;
        let mut st = h.lock();
        if st.ring.filtering_mode() == FilteringMode::HardwareAndSoftware {
            in_library(&mut st.ring)?;
        }
        st.ring.add_hw_rule(&r).map_err(rule_code)?;
        Ok(0)
    })
}

/// Removes NIC rule `rule_id` (or its software stand-in).
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_remove_hw_rule(ring: *mut pfring, rule_id: u16) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        h.lock().ring.remove_hw_rule(rule_id).map_err(rule_code)?;
        Ok(0)
    })
}

/// Registers a rule plugin written in C on this ring (pfring-rs's form of 5.x's plugin
/// registration, see `pfring_plugin_ops`); rules name it by `plugin_id`. The table is copied;
/// `name` and `ctx` must stay valid until the ring is closed, when `free(ctx)` is called.
/// `INVALID_ARGUMENT` for NULL, a NULL `filter`, id 0 or an id in use (then nothing of the
/// table is called).
///
/// # Safety
/// See the module documentation; the hooks are functions with the documented signatures.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_register_plugin(
    ring: *mut pfring,
    ops: *const pfring_plugin_ops,
) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        // SAFETY: per the module contract.
        let o = unsafe { ops.as_ref() }.ok_or_else(invalid)?;
        if o.plugin_id == 0 || o.filter.is_none() {
            return Err(invalid());
        }
        let mut st = h.lock();
        if st.ring.rule_plugins().iter().any(|p| p.id == o.plugin_id) {
            set_errno(libc::EEXIST);
            return Err(Code(PF_RING_ERROR_INVALID_ARGUMENT));
        }
        let table = CPluginOps {
            plugin_id: o.plugin_id,
            name: o.name,
            ctx: o.ctx,
            add_rule: o.add_rule,
            del_rule: o.del_rule,
            filter: o.filter,
            handle: o.handle,
            get_stats: o.get_stats,
            purge_idle: o.purge_idle,
            free: o.free,
        };
        // SAFETY: the caller's contract (valid name and hooks for the ring's life) is
        // CPlugin::new's.
        let plugin = unsafe { CPlugin::new(table) }.ok_or_else(invalid)?;
        st.ring
            .register_rule_plugin(Box::new(plugin))
            .map_err(rule_code)?;
        Ok(0)
    })
}

/// Number of rule plugins registered on the ring (the built-in SIP and RTP ones included);
/// their ids go to `ids` (up to `max_ids`). Negative on error.
///
/// # Safety
/// See the module documentation; `ids` has room for `max_ids` entries (NULL if 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_get_plugin_ids(
    ring: *mut pfring,
    ids: *mut u16,
    max_ids: c_uint,
) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        if ids.is_null() && max_ids > 0 {
            return Err(invalid());
        }
        let info = h.lock().ring.rule_plugins();
        for (i, p) in info.iter().take(max_ids as usize).enumerate() {
            // SAFETY: i < max_ids, the room the caller promised.
            unsafe { *ids.add(i) = p.id };
        }
        c_int::try_from(info.len()).map_err(|_| invalid())
    })
}

/// 5.x: hands the ring's packets to a kernel consumer plugin. Kernel plugins do not exist
/// here (removed from PF_RING itself in 2016).
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_set_packet_consumer_mode(
    ring: *mut pfring,
    plugin_id: u8,
    plugin_data: *mut c_char,
    plugin_data_len: c_uint,
) -> c_int {
    let _ = (plugin_id, plugin_data, plugin_data_len);
    call(|| {
        // SAFETY: per the module contract.
        unsafe { handle(ring) }?;
        Err(not_supported())
    })
}

/// 5.x: the consumer plugin in use: always 0 (none; there are no kernel plugins here).
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_get_packet_consumer_mode(ring: *mut pfring) -> u8 {
    call_or(0, || {
        // SAFETY: per the module contract.
        unsafe { handle(ring) }?;
        Ok(0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zeroed<T>() -> T {
        // SAFETY: only used for the plain-data rule structs (integers, arrays, unions of
        // integers and NULL-able pointers), for which all-zero bytes are valid.
        unsafe { std::mem::zeroed() }
    }

    #[test]
    fn wildcard_rule_maps_the_5x_fields() {
        let mut r: filtering_rule = zeroed();
        r.rule_id = 7;
        r.rule_action = dont_forward_packet_and_stop_rule_evaluation;
        r.bidirectional = 1;
        r.core_fields.proto = 17;
        r.core_fields.dport_low = 53;
        r.core_fields.dport_high = 53;
        r.core_fields.shost.v4 = 0x0a00_0001;
        r.core_fields.shost_mask.v4 = 0xffff_ff00;
        r.extended_fields.filter_plugin_id = 9;
        for (i, b) in b"abc".iter().enumerate() {
            r.extended_fields.filter_plugin_data[i] = *b as c_char;
        }
        for (i, b) in b"eth9".iter().enumerate() {
            r.reflector_device_name[i] = *b as c_char;
        }
        let w = wildcard_rule(&r).unwrap();
        assert_eq!(w.rule_id, 7);
        assert_eq!(w.action, RuleAction::DontForwardAndStop);
        assert!(w.bidirectional);
        assert_eq!(
            (w.core.proto, w.core.dport_low, w.core.dport_high),
            (17, 53, 53)
        );
        assert_eq!(w.core.shost.v4(), 0x0a00_0001);
        assert_eq!(w.core.family(), 4);
        assert_eq!((w.plugin_id, w.plugin_data.as_slice()), (9, &b"abc"[..]));
        assert_eq!(w.reflector_device.as_deref(), Some("eth9"));
    }

    #[test]
    fn wildcard_rule_refuses_unknown_actions_and_tunnel_matches() {
        let mut r: filtering_rule = zeroed();
        r.rule_action = 10;
        assert_eq!(
            wildcard_rule(&r).err(),
            Some(Code(PF_RING_ERROR_INVALID_ARGUMENT))
        );
        r.rule_action = 0;
        r.extended_fields.optional_fields = FILTER_TUNNEL_ID_FLAG;
        assert_eq!(
            wildcard_rule(&r).err(),
            Some(Code(PF_RING_ERROR_NOT_SUPPORTED))
        );
    }

    #[test]
    fn hash_rule_tells_ipv4_from_ipv6() {
        let mut r: hash_filtering_rule = zeroed();
        r.proto = 6;
        r.host_peer_a.v4 = 0x0a00_0001;
        r.host_peer_b.v4 = 0x0a00_0002;
        r.port_peer_a = 80;
        let h = hash_rule(&r).unwrap();
        assert_eq!(h.host_peer_a, "10.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(h.host_peer_b, "10.0.0.2".parse::<IpAddr>().unwrap());
        r.host_peer_b.v6 = libc::in6_addr {
            s6_addr: "2001:db8::2".parse::<Ipv6Addr>().unwrap().octets(),
        };
        let h = hash_rule(&r).unwrap();
        assert!(h.host_peer_b.is_ipv6() && h.host_peer_a.is_ipv6());
    }

    #[test]
    fn hw_rule_families() {
        let mut r: hw_filtering_rule = zeroed();
        r.rule_id = 3;
        r.rule_family_type = intel_82599_perfect_filter_rule;
        // Writing a union field is safe (reading is not).
        r.rule_family.perfect_rule.proto = 6;
        r.rule_family.perfect_rule.vlan_id = 10;
        r.rule_family.perfect_rule.d_port = 443;
        r.rule_family.perfect_rule.queue_id = 0xffff;
        let h = hw_rule(&r).unwrap();
        assert_eq!(h.vlan_id, Some(10));
        assert_eq!(h.dport, Some(443));
        assert_eq!(h.src, None);
        assert_eq!(h.action, HwRuleAction::Drop);
        r.rule_family_type = silicom_redirector_rule;
        assert_eq!(hw_rule(&r).err(), Some(Code(PF_RING_ERROR_NOT_SUPPORTED)));
        r.rule_family_type = 3;
        assert_eq!(
            hw_rule(&r).err(),
            Some(Code(PF_RING_ERROR_INVALID_ARGUMENT))
        );
    }
}
