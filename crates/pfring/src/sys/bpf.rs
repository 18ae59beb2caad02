//! `bpf(2)`: loading XDP programs (`BPF_PROG_LOAD`) and running them on a test packet
//! (`BPF_PROG_TEST_RUN`).
//!
//! # References
//! - bpf(2), <https://man7.org/linux/man-pages/man2/bpf.2.html>
//! - `include/uapi/linux/bpf.h`: `union bpf_attr` (the `BPF_PROG_LOAD` and `test` members)
//! - `net/bpf/test_run.c`: `bpf_prog_test_run_xdp` (at least `ETH_HLEN` bytes of data; the
//!   linear part is at most a page minus the XDP headroom and the shared-info tailroom, the
//!   rest goes into fragments)
//!
//! # Safety
//!
//! The attribute structs below are `#[repr(C)]` copies of the two members of `union bpf_attr`
//! used here; the size passed to the kernel is the size of the struct, and every byte the
//! kernel reads past the fields we set is zero (the structs are built from `Default`). The
//! pointers put in them (instructions, licence string, log buffer, packet) borrow live Rust
//! values for the duration of the system call only; the kernel copies what it needs. The file
//! descriptor `BPF_PROG_LOAD` returns is new and owned by nothing else, so it becomes an
//! [`OwnedFd`].

use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use crate::filter::ebpf::EbpfInsn;

/// `BPF_PROG_LOAD` command number.
const BPF_PROG_LOAD: libc::c_long = 5;
/// `BPF_PROG_TEST_RUN` command number.
const BPF_PROG_TEST_RUN: libc::c_long = 10;
/// `BPF_PROG_TYPE_XDP`.
const BPF_PROG_TYPE_XDP: u32 = 6;
/// Verifier log buffer used when a load fails and is retried to get the log.
const LOG_SIZE: usize = 4 << 20;
/// How much of the end of the verifier log goes into the error message.
const LOG_TAIL: usize = 16 << 10;

/// The `BPF_PROG_LOAD` member of `union bpf_attr`, up to `expected_attach_type`.
#[repr(C, align(8))]
#[derive(Debug, Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// The `test` member of `union bpf_attr` (`BPF_PROG_TEST_RUN`).
#[repr(C, align(8))]
#[derive(Debug, Default)]
struct TestRunAttr {
    prog_fd: u32,
    retval: u32,
    data_size_in: u32,
    data_size_out: u32,
    data_in: u64,
    data_out: u64,
    repeat: u32,
    duration: u32,
    ctx_size_in: u32,
    ctx_size_out: u32,
    ctx_in: u64,
    ctx_out: u64,
    flags: u32,
    cpu: u32,
    batch_size: u32,
    _pad: u32,
}

const _: () = assert!(size_of::<ProgLoadAttr>() == 72);
const _: () = assert!(size_of::<TestRunAttr>() == 80);
const _: () = assert!(size_of::<EbpfInsn>() == 8);

/// Calls `bpf(cmd, attr, size_of::<T>())`, retrying on `EINTR` and `EAGAIN` (the verifier
/// and the test runner give up on a pending signal).
///
/// `attr` must be one of the attribute structs above, with valid pointers in it.
fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> io::Result<libc::c_long> {
    let mut tries = 0;
    loop {
        // SAFETY: `attr` is a live, exclusively borrowed `#[repr(C)]` attribute struct of
        // exactly the size passed; the pointers inside it are valid for the call (see the
        // callers), and the kernel writes only within the struct and the buffers it names.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                cmd,
                attr as *mut T as *mut libc::c_void,
                size_of::<T>() as libc::c_uint,
            )
        };
        if ret >= 0 {
            return Ok(ret);
        }
        let err = io::Error::last_os_error();
        tries += 1;
        match err.raw_os_error() {
            Some(libc::EINTR | libc::EAGAIN) if tries < 5 => continue,
            _ => return Err(err),
        }
    }
}

/// One `BPF_PROG_LOAD` attempt; `log` is the verifier log buffer (empty for none).
fn prog_load(insns: &[EbpfInsn], log: &mut [u8]) -> io::Result<OwnedFd> {
    const LICENSE: &[u8] = b"Dual MIT/GPL\0";
    let mut name = [0u8; 16];
    name[..11].copy_from_slice(b"pfring_cbpf");
    let mut attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_XDP,
        insn_cnt: u32::try_from(insns.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "too many instructions"))?,
        insns: insns.as_ptr() as u64,
        license: LICENSE.as_ptr() as u64,
        prog_name: name,
        ..ProgLoadAttr::default()
    };
    if !log.is_empty() {
        attr.log_level = 1;
        attr.log_size = log.len() as u32;
        attr.log_buf = log.as_mut_ptr() as u64;
    }
    // The instructions, the licence and the log buffer outlive the call.
    let fd = bpf(BPF_PROG_LOAD, &mut attr)?;
    let fd = libc::c_int::try_from(fd)
        .map_err(|_| io::Error::other("BPF_PROG_LOAD returned an invalid descriptor"))?;
    // SAFETY: `fd` is a new descriptor the kernel just returned; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Loads `insns` as a `BPF_PROG_TYPE_XDP` program (licence `Dual MIT/GPL`).
///
/// The first attempt runs without a verifier log; if the kernel refuses the program, the
/// load is repeated with a log (level 1), and the error carries the kernel's error number
/// (same [`io::ErrorKind`]) and the end of the log.
pub(crate) fn prog_load_xdp(insns: &[EbpfInsn]) -> io::Result<OwnedFd> {
    match prog_load(insns, &mut []) {
        Ok(fd) => Ok(fd),
        Err(first) => {
            let mut log = vec![0u8; LOG_SIZE];
            // A second attempt that succeeds (the first failure was transient) is fine.
            match prog_load(insns, &mut log) {
                Ok(fd) => Ok(fd),
                Err(_) => {
                    let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
                    let text = String::from_utf8_lossy(&log[..end]);
                    let tail = match text.char_indices().rev().nth(LOG_TAIL) {
                        Some((i, _)) => &text[i..],
                        None => &text[..],
                    };
                    Err(io::Error::new(
                        first.kind(),
                        format!(
                            "BPF_PROG_LOAD ({} instructions): {first}; verifier log:\n{tail}",
                            insns.len()
                        ),
                    ))
                }
            }
        }
    }
}

/// Runs the program `fd` once on `packet` (`repeat` times; 0 counts as 1) with
/// `BPF_PROG_TEST_RUN` and returns the program's return value.
///
/// The kernel wants at least 14 bytes (`ETH_HLEN`) for XDP, and puts only the first
/// page minus headroom and tailroom (about 3.5 KiB on 4 KiB pages) in the linear part the
/// program sees between `data` and `data_end`.
pub(crate) fn test_run(fd: BorrowedFd<'_>, packet: &[u8], repeat: u32) -> io::Result<u32> {
    let mut attr = TestRunAttr {
        prog_fd: fd.as_raw_fd() as u32,
        data_size_in: u32::try_from(packet.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "packet too large"))?,
        data_in: packet.as_ptr() as u64,
        repeat,
        ..TestRunAttr::default()
    };
    // `packet` outlives the call; no output buffers are given (data_out and ctx_out are 0).
    bpf(BPF_PROG_TEST_RUN, &mut attr)?;
    Ok(attr.retval)
}

/// `BPF_MAP_CREATE` command number.
const BPF_MAP_CREATE: libc::c_long = 0;
/// `BPF_MAP_UPDATE_ELEM` command number.
const BPF_MAP_UPDATE_ELEM: libc::c_long = 2;
/// `BPF_MAP_DELETE_ELEM` command number.
const BPF_MAP_DELETE_ELEM: libc::c_long = 3;
/// `BPF_LINK_CREATE` command number.
const BPF_LINK_CREATE: libc::c_long = 28;
/// `BPF_LINK_UPDATE` command number.
const BPF_LINK_UPDATE: libc::c_long = 29;
/// `BPF_MAP_TYPE_XSKMAP`.
const BPF_MAP_TYPE_XSKMAP: u32 = 17;
/// `BPF_XDP` (`enum bpf_attach_type`).
const BPF_XDP: u32 = 37;

/// `XDP_FLAGS_SKB_MODE`: generic XDP (after the socket buffer is built; any driver).
pub(crate) const XDP_FLAGS_SKB_MODE: u32 = 1 << 1;
/// `XDP_FLAGS_DRV_MODE`: native XDP (in the driver; needs driver support).
pub(crate) const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;

/// The `BPF_MAP_CREATE` member of `union bpf_attr`, up to `map_extra`.
#[repr(C, align(8))]
#[derive(Debug, Default)]
struct MapCreateAttr {
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    map_flags: u32,
    inner_map_fd: u32,
    numa_node: u32,
    map_name: [u8; 16],
    map_ifindex: u32,
    btf_fd: u32,
    btf_key_type_id: u32,
    btf_value_type_id: u32,
    btf_vmlinux_value_type_id: u32,
    map_extra: u64,
}

/// The `BPF_MAP_*_ELEM` member of `union bpf_attr`.
#[repr(C, align(8))]
#[derive(Debug, Default)]
struct MapElemAttr {
    map_fd: u32,
    _pad: u32,
    key: u64,
    value: u64,
    flags: u64,
}

/// The `link_create` member of `union bpf_attr` (with room for the per-type union).
#[repr(C, align(8))]
#[derive(Debug, Default)]
struct LinkCreateAttr {
    prog_fd: u32,
    target_ifindex: u32,
    attach_type: u32,
    flags: u32,
    _rest: [u64; 4],
}

/// The `link_update` member of `union bpf_attr`.
#[repr(C, align(8))]
#[derive(Debug, Default)]
struct LinkUpdateAttr {
    link_fd: u32,
    new_prog_fd: u32,
    flags: u32,
    old_prog_fd: u32,
}

const _: () = assert!(size_of::<MapCreateAttr>() == 72);
const _: () = assert!(size_of::<MapElemAttr>() == 32);
const _: () = assert!(size_of::<LinkCreateAttr>() == 48);

fn owned(fd: libc::c_long, call: &str) -> io::Result<OwnedFd> {
    let fd = libc::c_int::try_from(fd)
        .map_err(|_| io::Error::other(format!("{call} returned an invalid descriptor")))?;
    // SAFETY: `fd` is a new descriptor the kernel just returned; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Creates an `XSKMAP` of `max_entries` (key: RX queue index, value: AF_XDP socket fd).
pub(crate) fn xskmap_create(max_entries: u32) -> io::Result<OwnedFd> {
    let mut name = [0u8; 16];
    name[..10].copy_from_slice(b"pfring_xsk");
    let mut attr = MapCreateAttr {
        map_type: BPF_MAP_TYPE_XSKMAP,
        key_size: 4,
        value_size: 4,
        max_entries,
        map_name: name,
        ..MapCreateAttr::default()
    };
    owned(bpf(BPF_MAP_CREATE, &mut attr)?, "BPF_MAP_CREATE")
}

/// `map[key] = value_fd` (`BPF_MAP_UPDATE_ELEM`, `BPF_ANY`).
pub(crate) fn map_update_fd(
    map: BorrowedFd<'_>,
    key: u32,
    value: BorrowedFd<'_>,
) -> io::Result<()> {
    let v: u32 = value.as_raw_fd() as u32;
    let mut attr = MapElemAttr {
        map_fd: map.as_raw_fd() as u32,
        key: &raw const key as u64,
        value: &raw const v as u64,
        ..MapElemAttr::default()
    };
    // `key` and `v` outlive the call.
    bpf(BPF_MAP_UPDATE_ELEM, &mut attr).map(|_| ())
}

/// Removes `key` from the map (`BPF_MAP_DELETE_ELEM`).
pub(crate) fn map_delete(map: BorrowedFd<'_>, key: u32) -> io::Result<()> {
    let mut attr = MapElemAttr {
        map_fd: map.as_raw_fd() as u32,
        key: &raw const key as u64,
        ..MapElemAttr::default()
    };
    // `key` outlives the call.
    bpf(BPF_MAP_DELETE_ELEM, &mut attr).map(|_| ())
}

/// Attaches XDP program `prog` to interface `ifindex` with a BPF link (`BPF_LINK_CREATE`,
/// `BPF_XDP`) in mode `flags` ([`XDP_FLAGS_DRV_MODE`] or [`XDP_FLAGS_SKB_MODE`]). The
/// program stays attached as long as the link descriptor is open: closing it (also when the
/// process exits or is killed) detaches it.
pub(crate) fn link_create_xdp(
    prog: BorrowedFd<'_>,
    ifindex: u32,
    flags: u32,
) -> io::Result<OwnedFd> {
    let mut attr = LinkCreateAttr {
        prog_fd: prog.as_raw_fd() as u32,
        target_ifindex: ifindex,
        attach_type: BPF_XDP,
        flags,
        ..LinkCreateAttr::default()
    };
    owned(bpf(BPF_LINK_CREATE, &mut attr)?, "BPF_LINK_CREATE")
}

/// Replaces the program of `link` with `prog` atomically (`BPF_LINK_UPDATE`).
pub(crate) fn link_update(link: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> io::Result<()> {
    let mut attr = LinkUpdateAttr {
        link_fd: link.as_raw_fd() as u32,
        new_prog_fd: prog.as_raw_fd() as u32,
        ..LinkUpdateAttr::default()
    };
    bpf(BPF_LINK_UPDATE, &mut attr).map(|_| ())
}
