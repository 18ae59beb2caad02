//! A rule plugin through the C table of function pointers (`CPluginOps`): the hooks are
//! `extern "C"` functions here, exactly as a C plugin would provide them.

use std::ffi::c_void;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use pfring::filter::rules::plugin::{CPlugin, CPluginOps};
use pfring::filter::rules::{FilteringPolicy, FilteringRule, RuleAction, RuleError, RuleSet};
use pfring::parse::ParsedPacket;
use pfring_testkit::FrameBuilder;

/// The plugin's state: rules added / removed, packets handled, freed.
#[derive(Default)]
struct Ctx {
    added: AtomicU32,
    deleted: AtomicU32,
    handled: AtomicU32,
    freed: AtomicU32,
}

unsafe extern "C" fn add_rule(ctx: *mut c_void, _rule: u16, data: *const u8, len: u32) -> i32 {
    // SAFETY: the library passes a live buffer of `len` bytes and our own ctx.
    let data = unsafe { std::slice::from_raw_parts(data, len as usize) };
    // SAFETY: our own ctx, alive for ever.
    let ctx = unsafe { &*(ctx as *const Ctx) };
    if data == b"refuse" {
        return -1;
    }
    ctx.added.fetch_add(1, Ordering::Relaxed);
    0
}

unsafe extern "C" fn del_rule(ctx: *mut c_void, _rule: u16) {
    // SAFETY: our own ctx.
    unsafe { &*(ctx as *const Ctx) }
        .deleted
        .fetch_add(1, Ordering::Relaxed);
}

/// Matches payloads whose first byte is even.
unsafe extern "C" fn filter(
    _ctx: *mut c_void,
    _rule: u16,
    _frame: *const u8,
    _len: u32,
    payload: *const u8,
    payload_len: u32,
    _ts: u64,
) -> i32 {
    // SAFETY: the library passes a live buffer of `payload_len` bytes.
    let p = unsafe { std::slice::from_raw_parts(payload, payload_len as usize) };
    i32::from(p.first().is_some_and(|b| b % 2 == 0))
}

unsafe extern "C" fn handle(ctx: *mut c_void, _rule: u16, _frame: *const u8, _len: u32, _ts: u64) {
    // SAFETY: our own ctx.
    unsafe { &*(ctx as *const Ctx) }
        .handled
        .fetch_add(1, Ordering::Relaxed);
}

unsafe extern "C" fn get_stats(ctx: *mut c_void, _rule: u16, buf: *mut u8, len: u32) -> i32 {
    // SAFETY: our own ctx; `buf` is writable for `len` bytes.
    let ctx = unsafe { &*(ctx as *const Ctx) };
    let text = format!("handled={}", ctx.handled.load(Ordering::Relaxed));
    let n = text.len().min(len as usize);
    // SAFETY: `buf` has room for `len` >= `n` bytes; `text` is a separate allocation.
    unsafe { std::ptr::copy_nonoverlapping(text.as_ptr(), buf, n) };
    n as i32
}

unsafe extern "C" fn free(ctx: *mut c_void) {
    // SAFETY: our own ctx.
    unsafe { &*(ctx as *const Ctx) }
        .freed
        .fetch_add(1, Ordering::Relaxed);
}

fn frame(first_payload_byte: u8) -> Vec<u8> {
    let mut f = FrameBuilder::udp().build(0, 16);
    f[42] = first_payload_byte;
    f
}

#[test]
fn a_c_plugin_filters_handles_and_reports() {
    let ctx: &'static Ctx = Box::leak(Box::default());
    let ops = CPluginOps {
        plugin_id: 40,
        name: c"even".as_ptr(),
        ctx: ctx as *const Ctx as *mut c_void,
        add_rule: Some(add_rule),
        del_rule: Some(del_rule),
        filter: Some(filter),
        handle: Some(handle),
        get_stats: Some(get_stats),
        purge_idle: None,
        free: Some(free),
    };
    // SAFETY: the hooks above have the documented signatures and `ctx` lives for ever.
    let plugin = unsafe { CPlugin::new(ops) }.expect("filter hook present");
    let mut set = RuleSet::new();
    set.plugins_mut().register(Box::new(plugin)).unwrap();
    assert_eq!(set.plugins().info()[0].name, "even");
    set.set_policy(FilteringPolicy::Drop);
    let refused = FilteringRule::new(1, RuleAction::ForwardAndStop).plugin(40, b"refuse");
    assert!(matches!(
        set.add_rule(refused, None, Instant::now()),
        Err(RuleError::Invalid(_))
    ));
    set.add_rule(
        FilteringRule::new(1, RuleAction::ForwardAndStop).plugin(40, b"ok"),
        None,
        Instant::now(),
    )
    .unwrap();
    let mut delivered = 0;
    for b in 0..10u8 {
        let f = frame(b);
        let (p, _) = ParsedPacket::parse(&f, 4);
        delivered += u32::from(set.evaluate(&p, &f, Instant::now()).deliver);
    }
    assert_eq!(delivered, 5);
    assert_eq!(ctx.handled.load(Ordering::Relaxed), 5);
    assert_eq!(set.plugin_stats(1).unwrap(), b"handled=5");
    set.remove_rule(1).unwrap();
    assert_eq!(
        (
            ctx.added.load(Ordering::Relaxed),
            ctx.deleted.load(Ordering::Relaxed)
        ),
        (1, 1)
    );
    drop(set);
    assert_eq!(
        ctx.freed.load(Ordering::Relaxed),
        1,
        "free called once on drop"
    );
    // A table without a filter hook is refused.
    let mut no_filter = ops;
    no_filter.filter = None;
    no_filter.free = None;
    // SAFETY: as above.
    assert!(unsafe { CPlugin::new(no_filter) }.is_none());
}
