//! # pfring-pcap: a PF_RING-aware libpcap on pfring-rs
//!
//! A shared library with libpcap's C ABI (SONAME `libpcap.so.0.8`, as Debian's), so an
//! unmodified, already-built pcap application captures through pfring rings when started
//! with `LD_LIBRARY_PATH` pointing at a directory holding `libpcap.so.0.8 ->
//! libpfring_pcap.so`:
//!
//! ```text
//! cargo build --release -p pfring-pcap
//! mkdir -p /opt/pfring-pcap && ln -sf "$PWD/target/release/libpfring_pcap.so" /opt/pfring-pcap/libpcap.so.0.8
//! LD_LIBRARY_PATH=/opt/pfring-pcap tcpdump -i eth0
//! ```
//!
//! | libpcap | here |
//! |---|---|
//! | live capture (`pcap_create`/`activate`, `pcap_open_live`) | a [`pfring::Ring`] (AF_PACKET TPACKET_V3); device names are pfring's ([`pfring::device`]): `eth0`, `any`, `eth0@1`, prefixes such as `xdp:eth0` go to [`pfring::RingBuilder`] as they are |
//! | `pcap_compile` | pfring's compiler ([`pfring::filter`]): classic BPF, `struct bpf_insn` = [`pfring::filter::Insn`] |
//! | `pcap_setfilter` | attached in the kernel ([`pfring::Ring::set_bpf_program`]); savefiles filter in user space |
//! | savefiles (`pcap_open_offline`) | [`pfring::pcap::Reader`] (pcap µs/ns, pcapng) |
//! | `pcap_dump*` | [`pfring::pcap::Writer`] |
//! | clusters | `PCAP_PF_RING_CLUSTER_ID` (+ `PCAP_PF_RING_USE_CLUSTER_*`, default 5-tuple): [`pfring::Ring::set_cluster`] |
//! | `pcap_lib_version` | `pfring-rs libpcap shim <version> ...` |
//!
//! Timestamps are µs, or ns with `PCAP_TSTAMP_PRECISION_NANO`. `pcap_set_timeout` sets the
//! ring's block timeout and the read timeout; immediate mode a 1 ms block timeout. The live
//! link type is `DLT_EN10MB`; `any` gives cooked `DLT_LINUX_SLL` (or `SLL2`) frames, as
//! libpcap does ([`cooked`]).
//!
//! Every export runs behind `catch_unwind` and accepts NULL pointers (returning an error,
//! or doing nothing for functions without one); errors are in `pcap_geterr`.
//!
//! `unsafe` is confined to the C boundary: dereferencing the caller's pointers, `malloc`ed
//! arrays that callers may `free`, and `getifaddrs`.
//!
//! # Safety
//!
//! The exports are safe `extern "C"` functions because their callers are C programs, to which
//! Rust's `unsafe` means nothing; the contract is libpcap's: every pointer argument is NULL
//! (checked: an error or nothing happens) or valid as libpcap's manual pages say (`pcap_t *`
//! from `pcap_create`/`pcap_open_*` and not closed, `errbuf` of `PCAP_ERRBUF_SIZE` bytes,
//! packet buffers of the stated length, and so on).
#![allow(clippy::not_unsafe_ptr_arg_deref)]

pub mod cooked;
pub mod devs;
pub mod dlt;
pub mod dump;
pub mod handle;

use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char, c_int, c_uint, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;

use pfring::filter::{Insn, PacketMeta};

pub use devs::{PcapAddr, PcapIf};
pub use dump::Dumper;
use handle::{ERRBUF_SIZE, PCAP_ERROR, PCAP_ERROR_NOT_ACTIVATED};
pub use handle::{Mode, Pcap, PktHdr};

/// libpcap's `struct bpf_program`.
#[repr(C)]
#[derive(Debug)]
pub struct BpfProgram {
    /// Number of instructions.
    pub bf_len: c_uint,
    /// The instructions (`malloc`ed by `pcap_compile`, freed by `pcap_freecode`).
    pub bf_insns: *mut Insn,
}

/// libpcap's `struct pcap_stat`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct PcapStat {
    /// Packets received (accepted by the filter).
    pub ps_recv: c_uint,
    /// Packets dropped because the ring was full.
    pub ps_drop: c_uint,
    /// Packets dropped by the interface (not reported: 0).
    pub ps_ifdrop: c_uint,
}

/// `pcap_handler`.
pub type Handler = Option<unsafe extern "C" fn(*mut u8, *const PktHdr, *const u8)>;

/// The string `pcap_lib_version` returns.
pub const LIB_VERSION: &str = concat!(
    "pfring-rs libpcap shim ",
    env!("CARGO_PKG_VERSION"),
    " (libpcap 1.10 API, PF_RING rings on AF_PACKET TPACKET_V3)"
);
static LIB_VERSION_C: &str = concat!(
    "pfring-rs libpcap shim ",
    env!("CARGO_PKG_VERSION"),
    " (libpcap 1.10 API, PF_RING rings on AF_PACKET TPACKET_V3)\0"
);

/// Runs `f` behind a panic boundary: a panic returns `default` instead of unwinding into C.
fn guard<T>(default: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(default)
}

/// The handle behind a `pcap_t *` (NULL: `None`).
///
/// # Safety
/// `p` is NULL or a pointer returned by `pcap_create` / `pcap_open_*` and not yet closed.
unsafe fn handle<'a>(p: *mut Pcap) -> Option<&'a Pcap> {
    // SAFETY: the caller's contract; all mutation goes through interior mutability, so a
    // shared reference is sound even while a loop on the same handle runs.
    unsafe { p.as_ref() }
}

/// A C string argument as `&str` (NULL or not UTF-8: `None`).
///
/// # Safety
/// `s` is NULL or a NUL-terminated string valid for the call.
unsafe fn cstr<'a>(s: *const c_char) -> Option<&'a str> {
    if s.is_null() {
        return None;
    }
    // SAFETY: non-null, NUL-terminated by the caller's contract.
    unsafe { CStr::from_ptr(s) }.to_str().ok()
}

/// Writes `msg` into a caller's `errbuf` of `PCAP_ERRBUF_SIZE` bytes (NULL: nothing).
fn write_errbuf(errbuf: *mut c_char, msg: &str) {
    if errbuf.is_null() {
        return;
    }
    let n = msg.len().min(ERRBUF_SIZE - 1);
    // SAFETY: libpcap's contract: errbuf holds PCAP_ERRBUF_SIZE bytes; we write n + 1 of them.
    unsafe {
        ptr::copy_nonoverlapping(msg.as_ptr(), errbuf.cast::<u8>(), n);
        *errbuf.add(n) = 0;
    }
}

/// A `malloc`ed copy of `v` (so callers may release it with `free`, as old libpcap docs say).
fn malloc_copy<T: Copy>(v: &[T]) -> *mut T {
    let bytes = std::mem::size_of_val(v).max(1);
    // SAFETY: plain allocation; checked for NULL below.
    let p = unsafe { libc::malloc(bytes) }.cast::<T>();
    if !p.is_null() {
        // SAFETY: `p` has room for v.len() elements and does not overlap `v`.
        unsafe { ptr::copy_nonoverlapping(v.as_ptr(), p, v.len()) };
    }
    p
}

thread_local! {
    /// Storage for strings returned as `const char *` that are not static.
    static SCRATCH: RefCell<CString> = RefCell::new(CString::default());
}

/// Keeps `s` in thread-local storage and returns a pointer valid until the next such call.
fn scratch_str(s: String) -> *const c_char {
    let c = CString::new(s.replace('\0', " ")).unwrap_or_default();
    SCRATCH.with(|cell| {
        let mut b = cell.borrow_mut();
        *b = c;
        b.as_ptr()
    })
}

// ---------------------------------------------------------------------------------------
// Creating, activating, closing
// ---------------------------------------------------------------------------------------

/// `pcap_create(device, errbuf)`: NULL or `"any"` captures on every interface.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_create(device: *const c_char, errbuf: *mut c_char) -> *mut Pcap {
    guard(ptr::null_mut(), || {
        // SAFETY: C string argument per libpcap's contract.
        let dev = if device.is_null() {
            "any"
        } else {
            // SAFETY: as above.
            match unsafe { cstr(device) } {
                Some(d) => d,
                None => {
                    write_errbuf(errbuf, "device name is not valid UTF-8");
                    return ptr::null_mut();
                }
            }
        };
        Box::into_raw(Box::new(Pcap::create(dev)))
    })
}

/// `pcap_activate`.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_activate(p: *mut Pcap) -> c_int {
    guard(PCAP_ERROR, || {
        // SAFETY: p from pcap_create.
        match unsafe { handle(p) } {
            Some(h) => h.activate(),
            None => PCAP_ERROR,
        }
    })
}

/// `pcap_open_live(device, snaplen, promisc, to_ms, errbuf)`.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_open_live(
    device: *const c_char,
    snaplen: c_int,
    promisc: c_int,
    to_ms: c_int,
    errbuf: *mut c_char,
) -> *mut Pcap {
    guard(ptr::null_mut(), || {
        let p = pcap_create(device, errbuf);
        // SAFETY: p is NULL or fresh from pcap_create.
        let Some(h) = (unsafe { handle(p) }) else {
            return ptr::null_mut();
        };
        h.set_opt(|o| {
            o.snaplen = snaplen;
            o.promisc = promisc != 0;
            o.timeout_ms = to_ms;
            0
        });
        let status = h.activate();
        if status < 0 {
            let msg = h.err_string();
            write_errbuf(errbuf, &msg);
            pcap_close(p);
            return ptr::null_mut();
        }
        p
    })
}

/// `pcap_open_offline(fname, errbuf)`: `"-"` reads standard input.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_open_offline(fname: *const c_char, errbuf: *mut c_char) -> *mut Pcap {
    pcap_open_offline_with_tstamp_precision(fname, 0, errbuf)
}

/// `pcap_open_offline_with_tstamp_precision(fname, precision, errbuf)`.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_open_offline_with_tstamp_precision(
    fname: *const c_char,
    precision: c_uint,
    errbuf: *mut c_char,
) -> *mut Pcap {
    guard(ptr::null_mut(), || {
        if precision > 1 {
            write_errbuf(
                errbuf,
                &format!("unknown time stamp resolution {precision}"),
            );
            return ptr::null_mut();
        }
        // SAFETY: C string argument per libpcap's contract.
        let Some(path) = (unsafe { cstr(fname) }) else {
            write_errbuf(errbuf, "A null pointer was supplied as the file name");
            return ptr::null_mut();
        };
        match Pcap::offline(path, precision == 1) {
            Ok(h) => Box::into_raw(Box::new(h)),
            Err(msg) => {
                write_errbuf(errbuf, &msg);
                ptr::null_mut()
            }
        }
    })
}

/// `pcap_open_dead(linktype, snaplen)`.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_open_dead(linktype: c_int, snaplen: c_int) -> *mut Pcap {
    pcap_open_dead_with_tstamp_precision(linktype, snaplen, 0)
}

/// `pcap_open_dead_with_tstamp_precision(linktype, snaplen, precision)`.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_open_dead_with_tstamp_precision(
    linktype: c_int,
    snaplen: c_int,
    precision: c_uint,
) -> *mut Pcap {
    guard(ptr::null_mut(), || {
        if precision > 1 {
            return ptr::null_mut();
        }
        Box::into_raw(Box::new(Pcap::dead(linktype, snaplen, precision == 1)))
    })
}

/// `pcap_close`.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_close(p: *mut Pcap) {
    guard((), || {
        if !p.is_null() {
            // SAFETY: p was created by Box::into_raw in pcap_create / pcap_open_*; libpcap's
            // contract is that it is not used after pcap_close.
            drop(unsafe { Box::from_raw(p) });
        }
    })
}

/// `pcap_init(opts, errbuf)`: both character encodings are accepted (names are UTF-8).
#[unsafe(no_mangle)]
pub extern "C" fn pcap_init(opts: c_uint, errbuf: *mut c_char) -> c_int {
    guard(PCAP_ERROR, || {
        if opts > 1 {
            write_errbuf(errbuf, &format!("Unknown options specified: {opts:#x}"));
            return PCAP_ERROR;
        }
        0
    })
}

// ---------------------------------------------------------------------------------------
// Options (before activation)
// ---------------------------------------------------------------------------------------

fn set_opt(p: *mut Pcap, f: impl FnOnce(&mut handle::Opts) -> c_int) -> c_int {
    guard(PCAP_ERROR, || {
        // SAFETY: p from pcap_create.
        match unsafe { handle(p) } {
            Some(h) => h.set_opt(f),
            None => PCAP_ERROR,
        }
    })
}

/// `pcap_set_snaplen`.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_set_snaplen(p: *mut Pcap, snaplen: c_int) -> c_int {
    set_opt(p, |o| {
        o.snaplen = snaplen;
        0
    })
}

/// `pcap_set_promisc`.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_set_promisc(p: *mut Pcap, promisc: c_int) -> c_int {
    set_opt(p, |o| {
        o.promisc = promisc != 0;
        0
    })
}

/// `pcap_set_timeout` (ms; the ring's block timeout and the read timeout).
#[unsafe(no_mangle)]
pub extern "C" fn pcap_set_timeout(p: *mut Pcap, to_ms: c_int) -> c_int {
    set_opt(p, |o| {
        o.timeout_ms = to_ms;
        0
    })
}

/// `pcap_set_buffer_size` (bytes of ring).
#[unsafe(no_mangle)]
pub extern "C" fn pcap_set_buffer_size(p: *mut Pcap, size: c_int) -> c_int {
    set_opt(p, |o| {
        if size > 0 {
            o.buffer_size = Some(size as usize);
        }
        0
    })
}

/// `pcap_set_immediate_mode`.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_set_immediate_mode(p: *mut Pcap, immediate: c_int) -> c_int {
    set_opt(p, |o| {
        o.immediate = immediate != 0;
        0
    })
}

/// `pcap_set_rfmon`: monitor mode is refused by `pcap_activate` (`PCAP_ERROR_RFMON_NOTSUP`).
#[unsafe(no_mangle)]
pub extern "C" fn pcap_set_rfmon(p: *mut Pcap, rfmon: c_int) -> c_int {
    set_opt(p, |o| {
        o.rfmon = rfmon != 0;
        0
    })
}

/// `pcap_can_set_rfmon`: 0 (no monitor mode).
#[unsafe(no_mangle)]
pub extern "C" fn pcap_can_set_rfmon(p: *mut Pcap) -> c_int {
    guard(PCAP_ERROR, || {
        // SAFETY: p from pcap_create.
        match unsafe { handle(p) } {
            Some(_) => 0,
            None => PCAP_ERROR,
        }
    })
}

/// `pcap_set_tstamp_precision`: 0 µs, 1 ns.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_set_tstamp_precision(p: *mut Pcap, precision: c_int) -> c_int {
    set_opt(p, |o| match precision {
        0 | 1 => {
            o.nano = precision == 1;
            0
        }
        _ => handle::PCAP_ERROR_TSTAMP_PRECISION_NOTSUP,
    })
}

/// `pcap_get_tstamp_precision`.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_get_tstamp_precision(p: *mut Pcap) -> c_int {
    guard(PCAP_ERROR, || {
        // SAFETY: p from pcap_create / pcap_open_*.
        match unsafe { handle(p) } {
            Some(h) => c_int::from(h.nano.get()),
            None => PCAP_ERROR,
        }
    })
}

/// `PCAP_TSTAMP_*` names and descriptions (libpcap's table).
const TSTAMP_TYPES: &[(c_int, &CStr, &CStr)] = &[
    (0, c"host", c"Host"),
    (1, c"host_lowprec", c"Host, low precision"),
    (2, c"host_hiprec", c"Host, high precision"),
    (3, c"adapter", c"Adapter"),
    (
        4,
        c"adapter_unsynced",
        c"Adapter, not synced with system time",
    ),
    (
        5,
        c"host_hiprec_unsynced",
        c"Host, high precision, not synced with system time",
    ),
];

/// `pcap_set_tstamp_type`: host types, or adapter types (hardware stamps, refused by
/// `pcap_activate` on devices without them).
#[unsafe(no_mangle)]
pub extern "C" fn pcap_set_tstamp_type(p: *mut Pcap, ty: c_int) -> c_int {
    set_opt(p, |o| match ty {
        0..=2 | 5 => {
            o.hw_tstamp = false;
            0
        }
        3 | 4 => {
            o.hw_tstamp = true;
            0
        }
        _ => handle::PCAP_WARNING_TSTAMP_TYPE_NOTSUP,
    })
}

/// `pcap_list_tstamp_types`: `PCAP_TSTAMP_HOST` (software stamps from the ring).
#[unsafe(no_mangle)]
pub extern "C" fn pcap_list_tstamp_types(p: *mut Pcap, out: *mut *mut c_int) -> c_int {
    guard(PCAP_ERROR, || {
        // SAFETY: p from pcap_create / pcap_open_*.
        if unsafe { handle(p) }.is_none() || out.is_null() {
            return PCAP_ERROR;
        }
        let list = malloc_copy(&[0 as c_int]);
        if list.is_null() {
            return PCAP_ERROR;
        }
        // SAFETY: `out` is non-null and points at the caller's pointer.
        unsafe { *out = list };
        1
    })
}

/// `pcap_free_tstamp_types`.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_free_tstamp_types(list: *mut c_int) {
    // SAFETY: `list` came from malloc in pcap_list_tstamp_types (free(NULL) is a no-op).
    guard((), || unsafe { libc::free(list.cast()) })
}

/// `pcap_tstamp_type_name_to_val` (case-insensitive; `PCAP_ERROR` when unknown).
#[unsafe(no_mangle)]
pub extern "C" fn pcap_tstamp_type_name_to_val(name: *const c_char) -> c_int {
    guard(PCAP_ERROR, || {
        // SAFETY: C string argument.
        let Some(n) = (unsafe { cstr(name) }) else {
            return PCAP_ERROR;
        };
        TSTAMP_TYPES
            .iter()
            .find(|t| t.1.to_str().is_ok_and(|s| s.eq_ignore_ascii_case(n)))
            .map_or(PCAP_ERROR, |t| t.0)
    })
}

/// `pcap_tstamp_type_val_to_name` (NULL when unknown).
#[unsafe(no_mangle)]
pub extern "C" fn pcap_tstamp_type_val_to_name(ty: c_int) -> *const c_char {
    guard(ptr::null(), || {
        TSTAMP_TYPES
            .iter()
            .find(|t| t.0 == ty)
            .map_or(ptr::null(), |t| t.1.as_ptr())
    })
}

/// `pcap_tstamp_type_val_to_description` (NULL when unknown).
#[unsafe(no_mangle)]
pub extern "C" fn pcap_tstamp_type_val_to_description(ty: c_int) -> *const c_char {
    guard(ptr::null(), || {
        TSTAMP_TYPES
            .iter()
            .find(|t| t.0 == ty)
            .map_or(ptr::null(), |t| t.2.as_ptr())
    })
}

// ---------------------------------------------------------------------------------------
// Filters
// ---------------------------------------------------------------------------------------

/// `pcap_compile(p, fp, expr, optimize, netmask)` with pfring's compiler.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_compile(
    p: *mut Pcap,
    fp: *mut BpfProgram,
    expr: *const c_char,
    optimize: c_int,
    netmask: u32,
) -> c_int {
    guard(PCAP_ERROR, || {
        // SAFETY: p from pcap_create / pcap_open_*.
        let Some(h) = (unsafe { handle(p) }) else {
            return PCAP_ERROR;
        };
        if fp.is_null() {
            h.set_err("pcap_compile: NULL bpf_program");
            return PCAP_ERROR;
        }
        let text = if expr.is_null() {
            ""
        } else {
            // SAFETY: C string argument.
            match unsafe { cstr(expr) } {
                Some(t) => t,
                None => {
                    h.set_err("filter expression is not valid UTF-8");
                    return PCAP_ERROR;
                }
            }
        };
        let prog = match h.compile(text, optimize != 0, netmask) {
            Ok(p) => p,
            Err(c) => return c,
        };
        let insns = prog.instructions();
        let mem = malloc_copy(insns);
        if mem.is_null() {
            h.set_err("out of memory");
            return PCAP_ERROR;
        }
        // SAFETY: fp is non-null and points at the caller's struct bpf_program.
        unsafe {
            (*fp).bf_len = insns.len() as c_uint;
            (*fp).bf_insns = mem;
        }
        0
    })
}

/// `pcap_compile_nopcap(snaplen, linktype, fp, expr, optimize, netmask)`.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_compile_nopcap(
    snaplen: c_int,
    linktype: c_int,
    fp: *mut BpfProgram,
    expr: *const c_char,
    optimize: c_int,
    netmask: u32,
) -> c_int {
    guard(PCAP_ERROR, || {
        let p = pcap_open_dead(linktype, snaplen);
        let r = pcap_compile(p, fp, expr, optimize, netmask);
        pcap_close(p);
        r
    })
}

/// `pcap_freecode`.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_freecode(fp: *mut BpfProgram) {
    guard((), || {
        if fp.is_null() {
            return;
        }
        // SAFETY: fp points at a bpf_program whose bf_insns came from malloc (or is NULL).
        unsafe {
            libc::free((*fp).bf_insns.cast());
            (*fp).bf_insns = ptr::null_mut();
            (*fp).bf_len = 0;
        }
    })
}

/// The instructions of a `bpf_program` (NULL or empty: `None`).
///
/// # Safety
/// `fp` is NULL or points at a valid `bpf_program`.
unsafe fn insns_of<'a>(fp: *const BpfProgram) -> Option<&'a [Insn]> {
    // SAFETY: caller's contract.
    let f = unsafe { fp.as_ref() }?;
    if f.bf_insns.is_null() || f.bf_len == 0 {
        return None;
    }
    // SAFETY: bf_insns holds bf_len instructions (libpcap's contract).
    Some(unsafe { std::slice::from_raw_parts(f.bf_insns, f.bf_len as usize) })
}

/// `pcap_setfilter`: attaches the program to the ring (kernel) or the savefile reader.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_setfilter(p: *mut Pcap, fp: *mut BpfProgram) -> c_int {
    guard(PCAP_ERROR, || {
        // SAFETY: p from pcap_create / pcap_open_*.
        let Some(h) = (unsafe { handle(p) }) else {
            return PCAP_ERROR;
        };
        // SAFETY: fp is NULL or the caller's bpf_program.
        let Some(insns) = (unsafe { insns_of(fp) }) else {
            h.set_err("pcap_setfilter: empty or NULL program");
            return PCAP_ERROR;
        };
        h.setfilter(insns.to_vec())
    })
}

/// `pcap_offline_filter(fp, h, pkt)`: runs the program in user space.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_offline_filter(
    fp: *const BpfProgram,
    h: *const PktHdr,
    pkt: *const u8,
) -> c_int {
    guard(0, || {
        // SAFETY: fp is NULL or the caller's bpf_program.
        let Some(insns) = (unsafe { insns_of(fp) }) else {
            return 0;
        };
        // SAFETY: h is NULL or the caller's header.
        let Some(hdr) = (unsafe { h.as_ref() }) else {
            return 0;
        };
        if pkt.is_null() || pfring::filter::validate(insns).is_err() {
            return 0;
        }
        // SAFETY: pkt holds hdr.caplen bytes (libpcap's contract).
        let data = unsafe { std::slice::from_raw_parts(pkt, hdr.caplen as usize) };
        let r = pfring::filter::bpf::vm::run(insns, data, hdr.len, &PacketMeta::default());
        r.min(c_int::MAX as u32) as c_int
    })
}

/// `bpf_image(insn, n)`: one instruction as `tcpdump -d` prints it.
#[unsafe(no_mangle)]
pub extern "C" fn bpf_image(insn: *const Insn, n: c_int) -> *const c_char {
    guard(ptr::null(), || {
        // SAFETY: insn is NULL or points at one instruction.
        match unsafe { insn.as_ref() } {
            Some(i) => scratch_str(pfring::filter::format_insn(i, n.max(0) as usize)),
            None => ptr::null(),
        }
    })
}

/// `bpf_dump(fp, option)`: `tcpdump -d` (1), `-dd` (2), `-ddd` (3+) output on stdout.
#[unsafe(no_mangle)]
pub extern "C" fn bpf_dump(fp: *const BpfProgram, option: c_int) {
    guard((), || {
        use std::io::Write;
        // SAFETY: fp is NULL or the caller's bpf_program.
        let insns = unsafe { insns_of(fp) }.unwrap_or(&[]);
        let mut out = String::new();
        if option > 2 {
            out.push_str(&format!("{}\n", insns.len()));
            for i in insns {
                out.push_str(&format!("{} {} {} {}\n", i.code, i.jt, i.jf, i.k));
            }
        } else if option > 1 {
            for i in insns {
                out.push_str(&format!(
                    "{{ 0x{:x}, {}, {}, 0x{:08x} }},\n",
                    i.code, i.jt, i.jf, i.k
                ));
            }
        } else {
            for (pc, i) in insns.iter().enumerate() {
                out.push_str(&pfring::filter::format_insn(i, pc));
                out.push('\n');
            }
        }
        let mut so = std::io::stdout().lock();
        let _ = so.write_all(out.as_bytes());
        let _ = so.flush();
    })
}

// ---------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------

fn read_with_callback(p: *mut Pcap, cnt: c_int, mode: Mode, cb: Handler, user: *mut u8) -> c_int {
    guard(PCAP_ERROR, || {
        // SAFETY: p from pcap_create / pcap_open_*.
        let Some(h) = (unsafe { handle(p) }) else {
            return PCAP_ERROR;
        };
        let Some(cb) = cb else {
            h.set_err("NULL callback");
            return PCAP_ERROR;
        };
        h.read(cnt, mode, &mut |hdr, data| {
            // SAFETY: the application's pcap_handler, called with its user pointer, a
            // header and the packet bytes (valid for the call), as libpcap does.
            unsafe { cb(user, hdr, data.as_ptr()) }
        })
    })
}

/// `pcap_loop(p, cnt, callback, user)`: until `cnt` packets (`cnt` <= 0: forever), a
/// `pcap_breakloop` (-2), an error (-1) or the end of a savefile (0).
#[unsafe(no_mangle)]
pub extern "C" fn pcap_loop(p: *mut Pcap, cnt: c_int, cb: Handler, user: *mut u8) -> c_int {
    read_with_callback(p, cnt, Mode::Loop, cb, user)
}

/// `pcap_dispatch(p, cnt, callback, user)`: the packets queued now (up to `cnt`), waiting
/// at most one timeout for the first; returns how many were processed.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_dispatch(p: *mut Pcap, cnt: c_int, cb: Handler, user: *mut u8) -> c_int {
    read_with_callback(p, cnt, Mode::Dispatch, cb, user)
}

/// `pcap_next_ex(p, &hdr, &data)`: 1 with a packet (valid until the next call), 0 on a
/// timeout, -1 on errors, -2 at the end of a savefile.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_next_ex(p: *mut Pcap, hdr: *mut *mut PktHdr, data: *mut *const u8) -> c_int {
    guard(PCAP_ERROR, || {
        // SAFETY: p from pcap_create / pcap_open_*.
        let Some(h) = (unsafe { handle(p) }) else {
            return PCAP_ERROR;
        };
        if hdr.is_null() || data.is_null() {
            h.set_err("pcap_next_ex: NULL argument");
            return PCAP_ERROR;
        }
        let Ok(mut slot) = h.next.try_borrow_mut() else {
            h.set_err("pcap_next_ex called from a packet callback");
            return PCAP_ERROR;
        };
        let slot = &mut *slot;
        let r = h.read(1, Mode::One, &mut |ph, bytes| {
            slot.0 = *ph;
            slot.1.clear();
            slot.1.extend_from_slice(bytes);
        });
        if r == 1 {
            // SAFETY: both out-pointers are non-null; the data lives in the handle until the
            // next call, as libpcap promises.
            unsafe {
                *hdr = &raw mut slot.0;
                *data = slot.1.as_ptr();
            }
        }
        r
    })
}

/// `pcap_next(p, &hdr)`: the next packet or NULL.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_next(p: *mut Pcap, hdr: *mut PktHdr) -> *const u8 {
    guard(ptr::null(), || {
        let mut hp: *mut PktHdr = ptr::null_mut();
        let mut dp: *const u8 = ptr::null();
        if hdr.is_null() || pcap_next_ex(p, &mut hp, &mut dp) != 1 {
            return ptr::null();
        }
        // SAFETY: hdr is non-null (the caller's header); hp was just set by pcap_next_ex.
        unsafe { *hdr = *hp };
        dp
    })
}

/// `pcap_breakloop`: async-signal-safe; the loop returns -2.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_breakloop(p: *mut Pcap) {
    guard((), || {
        if !p.is_null() {
            // SAFETY: p from pcap_create / pcap_open_* and not closed (libpcap's contract).
            unsafe { Pcap::breakloop_raw(p) };
        }
    })
}

/// `pcap_setnonblock(p, nonblock, errbuf)`.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_setnonblock(p: *mut Pcap, nonblock: c_int, errbuf: *mut c_char) -> c_int {
    guard(PCAP_ERROR, || {
        // SAFETY: p from pcap_create / pcap_open_*.
        let Some(h) = (unsafe { handle(p) }) else {
            write_errbuf(errbuf, "NULL pcap_t");
            return PCAP_ERROR;
        };
        let r = h.set_nonblock(nonblock != 0);
        if r < 0 {
            write_errbuf(errbuf, &h.err_string());
        }
        r
    })
}

/// `pcap_getnonblock(p, errbuf)`.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_getnonblock(p: *mut Pcap, errbuf: *mut c_char) -> c_int {
    guard(PCAP_ERROR, || {
        // SAFETY: p from pcap_create / pcap_open_*.
        let Some(h) = (unsafe { handle(p) }) else {
            write_errbuf(errbuf, "NULL pcap_t");
            return PCAP_ERROR;
        };
        let r = h.nonblock();
        if r < 0 {
            write_errbuf(errbuf, &h.err_string());
        }
        r
    })
}

/// `pcap_get_selectable_fd`.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_get_selectable_fd(p: *mut Pcap) -> c_int {
    guard(PCAP_ERROR, || {
        // SAFETY: p from pcap_create / pcap_open_*.
        unsafe { handle(p) }.map_or(PCAP_ERROR, Pcap::fd)
    })
}

/// `pcap_fileno`.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_fileno(p: *mut Pcap) -> c_int {
    pcap_get_selectable_fd(p)
}

/// `pcap_stats(p, ps)`.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_stats(p: *mut Pcap, ps: *mut PcapStat) -> c_int {
    guard(PCAP_ERROR, || {
        // SAFETY: p from pcap_create / pcap_open_*.
        let Some(h) = (unsafe { handle(p) }) else {
            return PCAP_ERROR;
        };
        if ps.is_null() {
            h.set_err("pcap_stats: NULL pcap_stat");
            return PCAP_ERROR;
        }
        match h.stats() {
            Ok((recv, drop, ifdrop)) => {
                // SAFETY: ps is non-null and points at the caller's struct pcap_stat.
                unsafe {
                    *ps = PcapStat {
                        ps_recv: recv,
                        ps_drop: drop,
                        ps_ifdrop: ifdrop,
                    }
                };
                0
            }
            Err(c) => c,
        }
    })
}

// ---------------------------------------------------------------------------------------
// Sending, direction
// ---------------------------------------------------------------------------------------

/// The bytes of a frame argument (NULL with size 0: empty).
///
/// # Safety
/// `buf` is NULL or holds `size` bytes.
unsafe fn frame<'a>(buf: *const c_void, size: usize) -> Option<&'a [u8]> {
    if buf.is_null() {
        return None;
    }
    // SAFETY: caller's contract.
    Some(unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), size) })
}

/// `pcap_inject(p, buf, size)`: bytes sent, or -1.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_inject(p: *mut Pcap, buf: *const c_void, size: usize) -> c_int {
    guard(PCAP_ERROR, || {
        // SAFETY: p from pcap_create / pcap_open_*.
        let Some(h) = (unsafe { handle(p) }) else {
            return PCAP_ERROR;
        };
        // SAFETY: buf holds size bytes (libpcap's contract).
        match unsafe { frame(buf, size) } {
            Some(f) => h.inject(f),
            None => {
                h.set_err("pcap_inject: NULL buffer");
                PCAP_ERROR
            }
        }
    })
}

/// `pcap_sendpacket(p, buf, size)`: 0 or -1.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_sendpacket(p: *mut Pcap, buf: *const u8, size: c_int) -> c_int {
    guard(PCAP_ERROR, || {
        if size < 0 {
            return PCAP_ERROR;
        }
        if pcap_inject(p, buf.cast(), size as usize) == size {
            0
        } else {
            PCAP_ERROR
        }
    })
}

/// `pcap_setdirection(p, d)`: `PCAP_D_INOUT` 0, `PCAP_D_IN` 1, `PCAP_D_OUT` 2.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_setdirection(p: *mut Pcap, d: c_int) -> c_int {
    guard(PCAP_ERROR, || {
        // SAFETY: p from pcap_create / pcap_open_*.
        unsafe { handle(p) }.map_or(PCAP_ERROR, |h| h.setdirection(d))
    })
}

// ---------------------------------------------------------------------------------------
// Attributes, link types
// ---------------------------------------------------------------------------------------

/// Applies `f` to an activated handle; `PCAP_ERROR_NOT_ACTIVATED` otherwise.
fn activated(p: *mut Pcap, f: impl FnOnce(&Pcap) -> c_int) -> c_int {
    guard(PCAP_ERROR, || {
        // SAFETY: p from pcap_create / pcap_open_*.
        match unsafe { handle(p) } {
            Some(h) if h.activated.get() => f(h),
            Some(h) => {
                h.set_err("The pcap_t has not been activated");
                PCAP_ERROR_NOT_ACTIVATED
            }
            None => PCAP_ERROR,
        }
    })
}

/// `pcap_datalink`.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_datalink(p: *mut Pcap) -> c_int {
    activated(p, |h| h.linktype.get())
}

/// `pcap_datalink_ext`.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_datalink_ext(p: *mut Pcap) -> c_int {
    pcap_datalink(p)
}

/// `pcap_snapshot`.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_snapshot(p: *mut Pcap) -> c_int {
    activated(p, |h| h.snapshot.get())
}

/// `pcap_is_swapped`: savefiles in the other byte order.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_is_swapped(p: *mut Pcap) -> c_int {
    activated(p, |h| c_int::from(h.swapped.get()))
}

/// `pcap_major_version`: 2 (pcap format 2.4).
#[unsafe(no_mangle)]
pub extern "C" fn pcap_major_version(p: *mut Pcap) -> c_int {
    activated(p, |_| 2)
}

/// `pcap_minor_version`: 4.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_minor_version(p: *mut Pcap) -> c_int {
    activated(p, |_| 4)
}

/// `pcap_list_datalinks(p, &list)`: Ethernet on devices, cooked SLL / SLL2 on `any`, the
/// file's link type on savefiles.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_list_datalinks(p: *mut Pcap, out: *mut *mut c_int) -> c_int {
    activated(p, |h| {
        if out.is_null() {
            h.set_err("pcap_list_datalinks: NULL argument");
            return PCAP_ERROR;
        }
        let dlts = h.datalinks();
        let list = malloc_copy(&dlts);
        if list.is_null() {
            h.set_err("out of memory");
            return PCAP_ERROR;
        }
        // SAFETY: out is non-null and points at the caller's pointer.
        unsafe { *out = list };
        dlts.len() as c_int
    })
}

/// `pcap_free_datalinks`.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_free_datalinks(list: *mut c_int) {
    // SAFETY: list came from malloc in pcap_list_datalinks (free(NULL) is a no-op).
    guard((), || unsafe { libc::free(list.cast()) })
}

/// `pcap_set_datalink`: one of `pcap_list_datalinks`.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_set_datalink(p: *mut Pcap, dlt: c_int) -> c_int {
    activated(p, |h| {
        if h.datalinks().contains(&dlt) {
            h.linktype.set(dlt);
            0
        } else {
            h.set_err(&format!(
                "{} is not one of the DLTs supported by this device",
                dlt::name(dlt).map_or_else(|| format!("DLT {dlt}"), |n| format!("DLT_{n}"))
            ));
            PCAP_ERROR
        }
    })
}

/// `pcap_datalink_name_to_val` (-1 when unknown).
#[unsafe(no_mangle)]
pub extern "C" fn pcap_datalink_name_to_val(name: *const c_char) -> c_int {
    guard(-1, || {
        // SAFETY: C string argument.
        unsafe { cstr(name) }.and_then(dlt::value).unwrap_or(-1)
    })
}

thread_local! {
    static DLT_NAMES: RefCell<Vec<CString>> = const { RefCell::new(Vec::new()) };
}

/// A static C string for a table entry (kept alive for the thread's life).
fn static_cstr(s: &str) -> *const c_char {
    DLT_NAMES.with(|v| {
        let mut v = v.borrow_mut();
        if let Some(c) = v.iter().find(|c| c.to_bytes() == s.as_bytes()) {
            return c.as_ptr();
        }
        let c = CString::new(s).unwrap_or_default();
        let p = c.as_ptr();
        v.push(c);
        p
    })
}

/// `pcap_datalink_val_to_name` (NULL when unknown).
#[unsafe(no_mangle)]
pub extern "C" fn pcap_datalink_val_to_name(dlt: c_int) -> *const c_char {
    guard(ptr::null(), || {
        dlt::name(dlt).map_or(ptr::null(), static_cstr)
    })
}

/// `pcap_datalink_val_to_description` (NULL when unknown).
#[unsafe(no_mangle)]
pub extern "C" fn pcap_datalink_val_to_description(dlt: c_int) -> *const c_char {
    guard(ptr::null(), || {
        dlt::description(dlt).map_or(ptr::null(), static_cstr)
    })
}

/// `pcap_datalink_val_to_description_or_dlt`.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_datalink_val_to_description_or_dlt(dlt: c_int) -> *const c_char {
    guard(ptr::null(), || match dlt::description(dlt) {
        Some(d) => static_cstr(d),
        None => scratch_str(format!("DLT {dlt}")),
    })
}

// ---------------------------------------------------------------------------------------
// Errors, version
// ---------------------------------------------------------------------------------------

/// `pcap_geterr`: the handle's last error text.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_geterr(p: *mut Pcap) -> *mut c_char {
    guard(ptr::null_mut(), || {
        // SAFETY: p from pcap_create / pcap_open_*.
        unsafe { handle(p) }.map_or(ptr::null_mut(), Pcap::err_ptr)
    })
}

/// `pcap_perror(p, prefix)`: `prefix: error` on stderr.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_perror(p: *mut Pcap, prefix: *const c_char) {
    guard((), || {
        // SAFETY: p from pcap_create / pcap_open_*.
        let Some(h) = (unsafe { handle(p) }) else {
            return;
        };
        // SAFETY: C string argument.
        let pre = unsafe { cstr(prefix) }.unwrap_or("");
        eprintln!("{pre}: {}", h.err_string());
    })
}

/// `pcap_statustostr`.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_statustostr(code: c_int) -> *const c_char {
    guard(ptr::null(), || {
        let s: &CStr = match code {
            0 => c"No error",
            1 => c"Generic warning",
            2 => c"That device doesn't support promiscuous mode",
            3 => c"That type of time stamp is not supported by that device",
            -1 => c"Generic error",
            -2 => c"Loop terminated by pcap_breakloop",
            -3 => c"The pcap_t has not been activated",
            -4 => c"The setting can't be changed after the pcap_t is activated",
            -5 => c"No such device exists",
            -6 => c"That device doesn't support monitor mode",
            -7 => c"That operation is supported only in monitor mode",
            -8 => c"You don't have permission to perform this capture on that device",
            -9 => c"That device is not up",
            -10 => c"That device doesn't support setting the time stamp type",
            -11 => c"You don't have permission to capture in promiscuous mode",
            -12 => c"That device doesn't support that time stamp precision",
            other => return scratch_str(format!("Unknown error: {other}")),
        };
        s.as_ptr()
    })
}

/// `pcap_strerror(errnum)`.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_strerror(errnum: c_int) -> *const c_char {
    guard(ptr::null(), || {
        scratch_str(std::io::Error::from_raw_os_error(errnum).to_string())
    })
}

/// `pcap_lib_version`: says it is pfring-rs.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_lib_version() -> *const c_char {
    LIB_VERSION_C.as_ptr().cast()
}

// ---------------------------------------------------------------------------------------
// Devices
// ---------------------------------------------------------------------------------------

/// `pcap_findalldevs(&list, errbuf)`: the interfaces (`getifaddrs`) and `any`.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_findalldevs(out: *mut *mut PcapIf, errbuf: *mut c_char) -> c_int {
    guard(PCAP_ERROR, || {
        if out.is_null() {
            write_errbuf(errbuf, "pcap_findalldevs: NULL argument");
            return PCAP_ERROR;
        }
        match devs::build_list() {
            Ok(list) => {
                // SAFETY: out is non-null and points at the caller's pointer.
                unsafe { *out = list };
                0
            }
            Err(e) => {
                write_errbuf(errbuf, &format!("getifaddrs: {e}"));
                PCAP_ERROR
            }
        }
    })
}

/// `pcap_freealldevs`.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_freealldevs(list: *mut PcapIf) {
    // SAFETY: list came from pcap_findalldevs (or is NULL).
    guard((), || unsafe { devs::free_list(list) })
}

/// `pcap_lookupdev(errbuf)` (deprecated): the first device of `pcap_findalldevs`.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_lookupdev(errbuf: *mut c_char) -> *mut c_char {
    guard(ptr::null_mut(), || match devs::names() {
        Ok(names) => match names.into_iter().next() {
            Some(n) => scratch_str(n).cast_mut(),
            None => {
                write_errbuf(errbuf, "no suitable device found");
                ptr::null_mut()
            }
        },
        Err(e) => {
            write_errbuf(errbuf, &format!("getifaddrs: {e}"));
            ptr::null_mut()
        }
    })
}

/// `pcap_lookupnet(device, &net, &mask, errbuf)`.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_lookupnet(
    device: *const c_char,
    netp: *mut u32,
    maskp: *mut u32,
    errbuf: *mut c_char,
) -> c_int {
    guard(PCAP_ERROR, || {
        // SAFETY: C string argument.
        let Some(dev) = (unsafe { cstr(device) }) else {
            write_errbuf(errbuf, "pcap_lookupnet: NULL device");
            return PCAP_ERROR;
        };
        if netp.is_null() || maskp.is_null() {
            write_errbuf(errbuf, "pcap_lookupnet: NULL argument");
            return PCAP_ERROR;
        }
        match devs::lookupnet(dev) {
            Ok((net, mask)) => {
                // SAFETY: both pointers are non-null (the caller's words).
                unsafe {
                    *netp = net;
                    *maskp = mask;
                }
                0
            }
            Err(msg) => {
                write_errbuf(errbuf, &msg);
                PCAP_ERROR
            }
        }
    })
}

// ---------------------------------------------------------------------------------------
// Savefiles
// ---------------------------------------------------------------------------------------

/// `pcap_dump_open(p, fname)`: `"-"` writes standard output.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_dump_open(p: *mut Pcap, fname: *const c_char) -> *mut Dumper {
    guard(ptr::null_mut(), || {
        // SAFETY: p from pcap_create / pcap_open_*.
        let Some(h) = (unsafe { handle(p) }) else {
            return ptr::null_mut();
        };
        if !h.activated.get() {
            h.set_err("The pcap_t has not been activated");
            return ptr::null_mut();
        }
        // SAFETY: C string argument.
        let Some(path) = (unsafe { cstr(fname) }) else {
            h.set_err("A null pointer was supplied as the file name");
            return ptr::null_mut();
        };
        let out: Box<dyn std::io::Write> = if path == "-" {
            use std::os::fd::AsFd;
            match std::io::stdout().as_fd().try_clone_to_owned() {
                Ok(fd) => Box::new(std::fs::File::from(fd)),
                Err(e) => {
                    h.set_err(&format!("stdout: {e}"));
                    return ptr::null_mut();
                }
            }
        } else {
            match std::fs::File::create(path) {
                Ok(f) => Box::new(f),
                Err(e) => {
                    h.set_err(&format!("{path}: {e}"));
                    return ptr::null_mut();
                }
            }
        };
        let snap = u32::try_from(h.snapshot.get()).unwrap_or(0);
        match Dumper::new(out, dlt::to_linktype(h.linktype.get()), snap, h.nano.get()) {
            Ok(d) => {
                let d = Box::into_raw(Box::new(d));
                register_dumper(d);
                d
            }
            Err(e) => {
                h.set_err(&format!("{path}: {e}"));
                ptr::null_mut()
            }
        }
    })
}

/// Open dumpers, flushed at `exit()`: libpcap writes savefiles through stdio, which
/// `exit()` flushes, and applications (tcpdump among them) rely on that instead of calling
/// `pcap_dump_close`.
static OPEN_DUMPERS: std::sync::Mutex<Vec<usize>> = std::sync::Mutex::new(Vec::new());

extern "C" fn flush_dumpers_at_exit() {
    let _ = catch_unwind(|| {
        let list = match OPEN_DUMPERS.lock() {
            Ok(l) => l.clone(),
            Err(p) => p.into_inner().clone(),
        };
        for d in list {
            // SAFETY: registered by pcap_dump_open and removed by pcap_dump_close before the
            // dumper is freed, so the pointer is live; at exit no packet callback runs.
            if let Some(d) = unsafe { (d as *mut Dumper).as_mut() } {
                let _ = d.flush();
            }
        }
    });
}

fn register_dumper(d: *mut Dumper) {
    static AT_EXIT: std::sync::Once = std::sync::Once::new();
    AT_EXIT.call_once(|| {
        // SAFETY: registers a function with C linkage that never unwinds (catch_unwind).
        unsafe { libc::atexit(flush_dumpers_at_exit) };
    });
    if let Ok(mut l) = OPEN_DUMPERS.lock() {
        l.push(d as usize);
    }
}

fn unregister_dumper(d: *mut Dumper) {
    if let Ok(mut l) = OPEN_DUMPERS.lock() {
        l.retain(|&x| x != d as usize);
    }
}

/// `pcap_dump(user, h, sp)`: `user` is the `pcap_dumper_t *` (the pcap_handler shape).
#[unsafe(no_mangle)]
pub extern "C" fn pcap_dump(user: *mut u8, h: *const PktHdr, sp: *const u8) {
    guard((), || {
        // SAFETY: user is the Dumper from pcap_dump_open, not used concurrently.
        let Some(d) = (unsafe { user.cast::<Dumper>().as_mut() }) else {
            return;
        };
        // SAFETY: h is NULL or the caller's header.
        let Some(hdr) = (unsafe { h.as_ref() }) else {
            return;
        };
        if sp.is_null() {
            return;
        }
        // SAFETY: sp holds hdr.caplen bytes (libpcap's contract).
        let data = unsafe { std::slice::from_raw_parts(sp, hdr.caplen as usize) };
        // Like libpcap's fwrite-based pcap_dump, errors surface at flush/close time.
        let _ = d.write(hdr.ts.tv_sec, hdr.ts.tv_usec, data, hdr.len);
    })
}

/// `pcap_dump_flush`.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_dump_flush(d: *mut Dumper) -> c_int {
    guard(PCAP_ERROR, || {
        // SAFETY: d from pcap_dump_open.
        match unsafe { d.as_mut() } {
            Some(d) => match d.flush() {
                Ok(()) => 0,
                Err(_) => PCAP_ERROR,
            },
            None => PCAP_ERROR,
        }
    })
}

/// `pcap_dump_ftell64`: the file position.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_dump_ftell64(d: *mut Dumper) -> i64 {
    guard(-1, || {
        // SAFETY: d from pcap_dump_open.
        unsafe { d.as_ref() }.map_or(-1, |d| d.position() as i64)
    })
}

/// `pcap_dump_ftell`.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_dump_ftell(d: *mut Dumper) -> libc::c_long {
    pcap_dump_ftell64(d) as libc::c_long
}

/// `pcap_dump_close`: flushes and closes.
#[unsafe(no_mangle)]
pub extern "C" fn pcap_dump_close(d: *mut Dumper) {
    guard((), || {
        if !d.is_null() {
            unregister_dumper(d);
            // SAFETY: d from pcap_dump_open (Box::into_raw), not used after this call.
            let d = unsafe { Box::from_raw(d) };
            if let Err(e) = d.close() {
                eprintln!("pcap_dump_close: {e}");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_names_pfring() {
        // SAFETY: pcap_lib_version returns a static NUL-terminated string.
        let v = unsafe { CStr::from_ptr(pcap_lib_version()) };
        assert_eq!(v.to_str().unwrap(), LIB_VERSION);
        assert!(LIB_VERSION.starts_with("pfring-rs"));
    }

    #[test]
    fn null_arguments_are_errors_not_crashes() {
        assert_eq!(pcap_activate(ptr::null_mut()), PCAP_ERROR);
        assert_eq!(pcap_datalink(ptr::null_mut()), PCAP_ERROR);
        assert_eq!(pcap_stats(ptr::null_mut(), ptr::null_mut()), PCAP_ERROR);
        assert!(pcap_geterr(ptr::null_mut()).is_null());
        assert!(pcap_open_offline(ptr::null(), ptr::null_mut()).is_null());
        assert_eq!(
            pcap_loop(ptr::null_mut(), 1, None, ptr::null_mut()),
            PCAP_ERROR
        );
        pcap_close(ptr::null_mut());
        pcap_freecode(ptr::null_mut());
        pcap_freealldevs(ptr::null_mut());
        pcap_dump_close(ptr::null_mut());
        pcap_breakloop(ptr::null_mut());
        assert_eq!(
            pcap_findalldevs(ptr::null_mut(), ptr::null_mut()),
            PCAP_ERROR
        );
        assert_eq!(pcap_datalink_name_to_val(ptr::null()), -1);
    }

    #[test]
    fn compile_on_a_dead_handle_and_filter_offline() {
        let p = pcap_open_dead(1, 65535);
        let mut fp = BpfProgram {
            bf_len: 0,
            bf_insns: ptr::null_mut(),
        };
        assert_eq!(
            pcap_compile(p, &mut fp, c"udp port 7".as_ptr(), 1, u32::MAX),
            0
        );
        assert!(fp.bf_len > 4);
        // An IPv4/UDP frame to port 7, and the same to port 8.
        let mut f = [0u8; 42];
        f[12] = 8;
        f[14] = 0x45;
        f[23] = 17;
        f[36] = 0;
        f[37] = 7;
        let h = PktHdr {
            ts: libc::timeval {
                tv_sec: 0,
                tv_usec: 0,
            },
            caplen: 42,
            len: 42,
        };
        assert_ne!(pcap_offline_filter(&fp, &h, f.as_ptr()), 0);
        f[37] = 8;
        assert_eq!(pcap_offline_filter(&fp, &h, f.as_ptr()), 0);
        assert_eq!(pcap_setfilter(p, &mut fp), PCAP_ERROR);
        // SAFETY: geterr returns the handle's NUL-terminated buffer.
        let e = unsafe { CStr::from_ptr(pcap_geterr(p)) };
        assert!(e.to_str().unwrap().contains("pcap_open_dead"), "{e:?}");
        assert_eq!(
            pcap_compile(p, &mut fp, c"udp port".as_ptr(), 1, 0),
            PCAP_ERROR
        );
        pcap_freecode(&mut fp);
        assert!(fp.bf_insns.is_null());
        pcap_close(p);
    }

    #[test]
    fn status_and_tstamp_tables() {
        // SAFETY: static strings.
        let s = |p: *const c_char| unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_owned();
        assert_eq!(s(pcap_statustostr(-5)), "No such device exists");
        assert_eq!(s(pcap_statustostr(99)), "Unknown error: 99");
        assert_eq!(pcap_tstamp_type_name_to_val(c"ADAPTER".as_ptr()), 3);
        assert_eq!(s(pcap_tstamp_type_val_to_name(0)), "host");
        assert!(pcap_tstamp_type_val_to_name(42).is_null());
        assert_eq!(s(pcap_datalink_val_to_name(1)), "EN10MB");
        assert_eq!(s(pcap_datalink_val_to_description(113)), "Linux cooked v1");
        assert_eq!(pcap_datalink_name_to_val(c"EN10MB".as_ptr()), 1);
        assert!(s(pcap_strerror(libc::ENOENT)).contains("No such file"));
    }
}
