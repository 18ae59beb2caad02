//! Software and hardware filtering rules, sampling and the filtering policy.
//!
//! The rule engine (wildcard / hash rules, default policy, sampling, reflection, hardware
//! rules) is being built in the Rust library by another branch (issue 5). Until it is merged
//! these functions check their arguments (NULL handle or rule, unknown action:
//! `PF_RING_ERROR_INVALID_ARGUMENT`) and return `PF_RING_ERROR_NOT_SUPPORTED` with
//! `errno = EOPNOTSUPP`; the settings that describe what the ring already does (sampling rate
//! 1, default-accept policy) succeed. Each function is the one place to wire the engine in.
//!
//! # Safety (every function)
//! `ring` is NULL or a live handle; every other pointer is NULL or valid for its C type.

use std::ffi::{c_char, c_int, c_uint};

use crate::types::*;
use crate::{Code, call, call_or, handle, invalid, not_supported, pfring};

/// `INVALID_ARGUMENT` for an action outside the 5.x numbering (0..=9).
fn check_action(a: rule_action_behaviour) -> Result<(), Code> {
    if a > bounce_packet_and_continue_rule_evaluation {
        return Err(invalid());
    }
    Ok(())
}

/// Adds a wildcard rule. Not supported yet (issue 5).
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
        unsafe { handle(ring) }?;
        // SAFETY: per the module contract.
        let rule = unsafe { rule_to_add.as_ref() }.ok_or_else(invalid)?;
        check_action(rule.rule_action)?;
        Err(not_supported())
    })
}

/// Removes a wildcard rule. Not supported yet (issue 5).
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_remove_filtering_rule(ring: *mut pfring, rule_id: u16) -> c_int {
    let _ = rule_id;
    call(|| {
        // SAFETY: per the module contract.
        unsafe { handle(ring) }?;
        Err(not_supported())
    })
}

/// Adds (`add_rule != 0`) or removes an exact 5-tuple rule. Not supported yet (issue 5).
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_handle_hash_filtering_rule(
    ring: *mut pfring,
    rule_to_add: *mut hash_filtering_rule,
    add_rule: u8,
) -> c_int {
    let _ = add_rule;
    call(|| {
        // SAFETY: per the module contract.
        unsafe { handle(ring) }?;
        // SAFETY: per the module contract.
        let rule = unsafe { rule_to_add.as_ref() }.ok_or_else(invalid)?;
        check_action(rule.rule_action)?;
        Err(not_supported())
    })
}

/// Statistics of a wildcard rule. Not supported yet (issue 5).
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_get_filtering_rule_stats(
    ring: *mut pfring,
    rule_id: u16,
    stats: *mut c_char,
    stats_len: *mut c_uint,
) -> c_int {
    let _ = rule_id;
    call(|| {
        // SAFETY: per the module contract.
        unsafe { handle(ring) }?;
        if stats.is_null() || stats_len.is_null() {
            return Err(invalid());
        }
        Err(not_supported())
    })
}

/// Statistics of a hash rule. Not supported yet (issue 5).
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_get_hash_filtering_rule_stats(
    ring: *mut pfring,
    rule: *mut hash_filtering_rule,
    stats: *mut c_char,
    stats_len: *mut c_uint,
) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        unsafe { handle(ring) }?;
        if rule.is_null() || stats.is_null() || stats_len.is_null() {
            return Err(invalid());
        }
        Err(not_supported())
    })
}

/// Removes wildcard rules idle for `inactivity_sec`. Not supported yet (issue 5).
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_purge_idle_rules(ring: *mut pfring, inactivity_sec: u16) -> c_int {
    let _ = inactivity_sec;
    call(|| {
        // SAFETY: per the module contract.
        unsafe { handle(ring) }?;
        Err(not_supported())
    })
}

/// Removes hash rules idle for `inactivity_sec`. Not supported yet (issue 5).
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_purge_idle_hash_rules(
    ring: *mut pfring,
    inactivity_sec: u16,
) -> c_int {
    let _ = inactivity_sec;
    call(|| {
        // SAFETY: per the module contract.
        unsafe { handle(ring) }?;
        Err(not_supported())
    })
}

/// Default policy for packets no rule matches: 1 = accept (what a ring without rules does:
/// returns 0), 0 = drop (not supported yet, issue 5).
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
        unsafe { handle(ring) }?;
        if rules_default_accept_policy != 0 {
            Ok(0)
        } else {
            Err(not_supported())
        }
    })
}

/// Delivers one packet out of `rate` (1 = every packet: returns 0; 0 is invalid; other rates
/// are not supported yet, issue 5).
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_set_sampling_rate(ring: *mut pfring, rate: u32) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        unsafe { handle(ring) }?;
        match rate {
            0 => Err(invalid()),
            1 => Ok(0),
            _ => Err(not_supported()),
        }
    })
}

/// Adds a NIC filtering rule. Not supported yet (issue 5: ethtool ntuple rules; veth has
/// none).
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
        unsafe { handle(ring) }?;
        // SAFETY: per the module contract.
        let r = unsafe { rule.as_ref() }.ok_or_else(invalid)?;
        if r.rule_family_type > silicom_redirector_rule {
            return Err(invalid());
        }
        Err(not_supported())
    })
}

/// Removes a NIC filtering rule. Not supported yet (issue 5).
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_remove_hw_rule(ring: *mut pfring, rule_id: u16) -> c_int {
    let _ = rule_id;
    call(|| {
        // SAFETY: per the module contract.
        unsafe { handle(ring) }?;
        Err(not_supported())
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
