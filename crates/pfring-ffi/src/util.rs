//! Packets and devices: `pfring_parse_pkt`, `pfring_print_parsed_pkt`, `pfring_print_pkt`,
//! `pfring_format_numbers`, `pfring_findalldevs` / `pfring_freealldevs`,
//! `pfring_set_if_promisc`, `pfring_get_device_ifindex`, the bound device's address, index
//! and MTU, `pfring_loopback_test`; and the header conversion the receive calls share.
//!
//! # Safety (every function)
//! `ring` is NULL or a live handle; every other pointer is NULL or valid for its C type
//! (`pkt` / `p` point to the header's `caplen` bytes, `buff` / `buf` to `buff_len` bytes).

use std::ffi::{CString, c_char, c_int, c_uint};

use pfring_rs::PacketHeader;
use pfring_rs::parse::{IpAddress, ParsedPacket, format_parsed};

use crate::types::*;
use crate::{Code, call, call_or, cstr, handle, invalid, not_supported, out, pfring, set_errno};

fn ip(a: &IpAddress) -> ip_addr {
    ip_addr {
        v6: libc::in6_addr {
            s6_addr: *a.as_bytes(),
        },
    }
}

/// A parsed packet in PF_RING 5.x's `struct pkt_parsing_info`.
pub(crate) fn parsed_to_c(p: &ParsedPacket) -> pkt_parsing_info {
    pkt_parsing_info {
        dmac: p.dmac,
        smac: p.smac,
        eth_type: p.eth_type,
        vlan_id: p.vlan_id,
        ip_version: p.ip_version,
        l3_proto: p.l3_proto,
        ip_tos: p.ip_tos,
        ip_src: ip(&p.ip_src),
        ip_dst: ip(&p.ip_dst),
        l4_src_port: p.l4_src_port,
        l4_dst_port: p.l4_dst_port,
        tcp: pkt_parsing_info_tcp {
            flags: p.tcp.flags,
            seq_num: p.tcp.seq_num,
            ack_num: p.tcp.ack_num,
        },
        tunnel: tunnel_info {
            tunnel_id: p.tunnel.tunnel_id,
            tunneled_proto: p.tunnel.tunneled_proto,
            tunneled_ip_src: ip(&p.tunnel.tunneled_ip_src),
            tunneled_ip_dst: ip(&p.tunnel.tunneled_ip_dst),
            tunneled_l4_src_port: p.tunnel.tunneled_l4_src_port,
            tunneled_l4_dst_port: p.tunnel.tunneled_l4_dst_port,
        },
        last_matched_plugin_id: 0,
        last_matched_rule_id: p.last_matched_rule_id as u16,
        offset: pkt_offset {
            eth_offset: p.offset.eth_offset,
            vlan_offset: p.offset.vlan_offset,
            l3_offset: p.offset.l3_offset,
            l4_offset: p.offset.l4_offset,
            payload_offset: p.offset.payload_offset,
        },
    }
}

/// Fills a C header from the library's (and the parsed headers, if any; else
/// `parsed_pkt` is zeroed).
pub(crate) fn fill_hdr(out: &mut pfring_pkthdr, h: &PacketHeader, parsed: Option<&ParsedPacket>) {
    out.ts = libc::timeval {
        tv_sec: h.ts.sec as libc::time_t,
        tv_usec: h.ts.usec() as libc::suseconds_t,
    };
    out.caplen = h.caplen;
    out.len = h.len;
    let e = &mut out.extended_hdr;
    e.timestamp_ns = h.extended_hdr.timestamp_ns;
    e.rx_direction = u8::from(h.extended_hdr.rx_direction);
    e.if_index = h.extended_hdr.if_index;
    e.pkt_hash = h.extended_hdr.pkt_hash;
    e.tx = pfring_extended_pkthdr_tx {
        bounce_interface: -1,
        reserved: std::ptr::null_mut(),
    };
    e.parsed_header_len = 0;
    e.parsed_pkt = match parsed {
        Some(p) => parsed_to_c(p),
        // SAFETY: all-zero is a valid pkt_parsing_info (integers and byte unions).
        None => unsafe { std::mem::zeroed() },
    };
}

/// Parses `hdr->caplen` bytes at `pkt` up to `level` (2 = Ethernet, 3 = IP, 4 = transport,
/// 5 = tunnels) into `hdr->extended_hdr.parsed_pkt`; `add_timestamp` fills `hdr->ts` with
/// the current time if its seconds are 0, `add_hash` fills `pkt_hash` if it is 0. Returns the
/// highest level parsed (0 for a frame shorter than an Ethernet header).
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_parse_pkt(
    pkt: *mut u8,
    hdr: *mut pfring_pkthdr,
    level: u8,
    add_timestamp: u8,
    add_hash: u8,
) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let hdr = unsafe { out(hdr) }?;
        if pkt.is_null() || !(2..=5).contains(&level) {
            return Err(invalid());
        }
        // SAFETY: `pkt` holds `hdr->caplen` bytes (the module contract).
        let frame = unsafe { std::slice::from_raw_parts(pkt, hdr.caplen as usize) };
        let (mut p, got) = ParsedPacket::parse(frame, level);
        if add_timestamp != 0 && hdr.ts.tv_sec == 0 {
            let now = pfring_rs::parse::add_timestamp(None);
            hdr.ts.tv_sec = now.as_secs() as libc::time_t;
            hdr.ts.tv_usec = now.subsec_micros() as libc::suseconds_t;
        }
        if add_hash != 0 && hdr.extended_hdr.pkt_hash == 0 {
            hdr.extended_hdr.pkt_hash = p.add_hash();
        }
        p.pkt_hash = hdr.extended_hdr.pkt_hash;
        hdr.extended_hdr.parsed_pkt = parsed_to_c(&p);
        Ok(c_int::from(got))
    })
}

/// Copies `text` into `buff` (truncated, NUL-terminated) and returns the bytes written
/// without the NUL.
///
/// # Safety
/// `buff` points to `buff_len` writable bytes.
unsafe fn put(buff: *mut c_char, buff_len: c_uint, text: &str) -> Result<c_int, Code> {
    if buff.is_null() || buff_len == 0 {
        return Err(invalid());
    }
    let n = text.len().min(buff_len as usize - 1);
    // SAFETY: n + 1 <= buff_len bytes are written into `buff`.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), buff.cast::<u8>(), n);
        *buff.add(n) = 0;
    }
    Ok(n as c_int)
}

/// The pfcount packet line of the packet `p` with header `h` into `buff`
/// (`[smac -> dmac] [IPv4][src:port -> dst:port] [l3_proto=UDP][hash=..] [caplen=..]...`).
/// The headers are parsed from `p` (level 5); the hash is `h`'s `pkt_hash`, or computed
/// when it is 0. Returns the characters written.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_print_parsed_pkt(
    buff: *mut c_char,
    buff_len: c_uint,
    p: *const u8,
    h: *const pfring_pkthdr,
) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { h.as_ref() }.ok_or_else(invalid)?;
        if p.is_null() {
            return Err(invalid());
        }
        // SAFETY: `p` holds `h->caplen` bytes.
        let frame = unsafe { std::slice::from_raw_parts(p, h.caplen as usize) };
        let (mut parsed, _) = ParsedPacket::parse(frame, 5);
        if h.extended_hdr.pkt_hash != 0 {
            parsed.pkt_hash = h.extended_hdr.pkt_hash;
        } else {
            parsed.add_hash();
        }
        let mut s = String::new();
        format_parsed(&mut s, &parsed, frame, h.caplen, h.len).map_err(|_| invalid())?;
        // SAFETY: per the module contract.
        unsafe { put(buff, buff_len, &s) }
    })
}

/// The pfcount packet line of `caplen` bytes at `p` (wire length `len`) into `buff`.
///
/// # Safety
/// See the module documentation; `p` holds `caplen` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_print_pkt(
    buff: *mut c_char,
    buff_len: c_uint,
    p: *const u8,
    len: c_uint,
    caplen: c_uint,
) -> c_int {
    call(|| {
        if p.is_null() {
            return Err(invalid());
        }
        // SAFETY: `p` holds `caplen` bytes.
        let frame = unsafe { std::slice::from_raw_parts(p, caplen as usize) };
        let (mut parsed, _) = ParsedPacket::parse(frame, 5);
        parsed.add_hash();
        let mut s = String::new();
        format_parsed(&mut s, &parsed, frame, caplen, len).map_err(|_| invalid())?;
        // SAFETY: per the module contract.
        unsafe { put(buff, buff_len, &s) }
    })
}

/// Formats `val` into `buf` ([`pfring_rs::format_numbers`]) and returns `buf` (NULL for a NULL or empty
/// buffer).
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_format_numbers(
    val: f64,
    buf: *mut c_char,
    buf_len: c_uint,
    add_decimals: u8,
) -> *mut c_char {
    call_or(std::ptr::null_mut(), || {
        let s = pfring_rs::format_numbers(val, add_decimals != 0);
        // SAFETY: per the module contract.
        unsafe { put(buf, buf_len, &s) }?;
        Ok(buf)
    })
}

/// The interface flags of `name` (`SIOCGIFFLAGS`), on socket `fd`.
fn if_flags(fd: c_int, name: &str) -> Result<libc::ifreq, Code> {
    let mut ifr: libc::ifreq = {
        // SAFETY: all-zero is a valid ifreq.
        unsafe { std::mem::zeroed() }
    };
    if name.is_empty() || name.len() >= ifr.ifr_name.len() || name.contains('\0') {
        return Err(invalid());
    }
    for (d, s) in ifr.ifr_name.iter_mut().zip(name.bytes()) {
        *d = s as c_char;
    }
    // SAFETY: `ifr` is a valid ifreq with a NUL-terminated name; the kernel writes ifru_flags.
    if unsafe { libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut ifr) } != 0 {
        return Err(Code(PF_RING_ERROR_GENERIC));
    }
    Ok(ifr)
}

/// A datagram socket for interface ioctls, closed on drop.
struct IoctlSock(c_int);

impl IoctlSock {
    fn new() -> Result<IoctlSock, Code> {
        // SAFETY: plain socket(2) call.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(Code(PF_RING_ERROR_GENERIC));
        }
        Ok(IoctlSock(fd))
    }
}

impl Drop for IoctlSock {
    fn drop(&mut self) {
        // SAFETY: the descriptor is owned by this guard and closed once.
        unsafe { libc::close(self.0) };
    }
}

/// Sets (`set_promisc != 0`) or clears the `IFF_PROMISC` flag of `device`.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_set_if_promisc(device: *const c_char, set_promisc: c_int) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let name = unsafe { cstr(device) }?;
        let sock = IoctlSock::new()?;
        let mut ifr = if_flags(sock.0, name).inspect_err(|_| {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::ENODEV) {
                set_errno(libc::ENODEV)
            }
        })?;
        // SAFETY: SIOCGIFFLAGS filled the flags member of the union.
        let flags = unsafe { ifr.ifr_ifru.ifru_flags };
        let promisc = libc::IFF_PROMISC as libc::c_short;
        let new = if set_promisc != 0 {
            flags | promisc
        } else {
            flags & !promisc
        };
        if new != flags {
            ifr.ifr_ifru.ifru_flags = new;
            // SAFETY: `ifr` is a valid ifreq with the name and new flags.
            if unsafe { libc::ioctl(sock.0, libc::SIOCSIFFLAGS, &ifr) } != 0 {
                return Err(Code(PF_RING_ERROR_GENERIC));
            }
        }
        Ok(0)
    })
}

/// The interface index of `device_name` into `*if_index`.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_get_device_ifindex(
    ring: *mut pfring,
    device_name: *mut c_char,
    if_index: *mut c_int,
) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        unsafe { handle(ring) }?;
        // SAFETY: per the module contract.
        let out = unsafe { out(if_index) }?;
        if device_name.is_null() {
            return Err(invalid());
        }
        // SAFETY: a NUL-terminated string (the module contract).
        let idx = unsafe { libc::if_nametoindex(device_name) };
        if idx == 0 {
            return Err(Code(PF_RING_ERROR_GENERIC));
        }
        *out = idx as c_int;
        Ok(0)
    })
}

/// The bound device's MAC address into `mac_address[6]` (zeros for `any` and multi-device
/// rings).
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_get_bound_device_address(
    ring: *mut pfring,
    mac_address: *mut u8,
) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        // SAFETY: `mac_address` has room for 6 bytes.
        let mac = unsafe { out(mac_address.cast::<[u8; 6]>()) }?;
        *mac = h.lock().ring.bound_device_address()?;
        Ok(0)
    })
}

/// The bound device's interface index into `*if_index` (0 for `any` and multi-device rings).
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_get_bound_device_ifindex(
    ring: *mut pfring,
    if_index: *mut c_int,
) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        // SAFETY: per the module contract.
        let out = unsafe { out(if_index) }?;
        *out = h.lock().ring.bound_device_ifindex();
        Ok(0)
    })
}

/// 5.3.1's name of [`pfring_get_bound_device_ifindex`].
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_get_bound_device_id(
    ring: *mut pfring,
    device_id: *mut c_int,
) -> c_int {
    // SAFETY: same contract.
    unsafe { pfring_get_bound_device_ifindex(ring, device_id) }
}

/// The bound device's MTU (negative on error).
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_get_mtu_size(ring: *mut pfring) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        let h = unsafe { handle(ring) }?;
        let mtu = h.lock().ring.mtu()?;
        Ok(c_int::try_from(mtu).unwrap_or(c_int::MAX))
    })
}

/// PF_RING's kernel self-test (the module copies `buffer` through the ring). There is no
/// kernel module here: not supported.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_loopback_test(
    ring: *mut pfring,
    buffer: *mut c_char,
    buffer_len: c_uint,
    test_len: c_uint,
) -> c_int {
    call(|| {
        // SAFETY: per the module contract.
        unsafe { handle(ring) }?;
        if buffer.is_null() || test_len > buffer_len {
            return Err(invalid());
        }
        Err(not_supported())
    })
}

/// The network interfaces of the calling thread's namespace as a list (free it with
/// `pfring_freealldevs`); NULL with `errno` on failure or when there are none.
#[unsafe(no_mangle)]
pub extern "C" fn pfring_findalldevs() -> *mut pfring_if_t {
    call_or(std::ptr::null_mut(), || {
        let devs = pfring_rs::find_all_devices()?;
        let sock = IoctlSock::new().ok();
        let mut head: *mut pfring_if_t = std::ptr::null_mut();
        for (_, name) in devs.into_iter().rev() {
            let (mac, _) = pfring_rs::device_info(&name).unwrap_or(([0; 6], 0));
            let status = match sock.as_ref().map(|s| if_flags(s.0, &name)) {
                // SAFETY: SIOCGIFFLAGS filled the flags member.
                Some(Ok(ifr)) => c_int::from(
                    unsafe { ifr.ifr_ifru.ifru_flags } & libc::IFF_UP as libc::c_short != 0,
                ),
                _ => -1,
            };
            let cs = |s: &str| {
                CString::new(s)
                    .map(CString::into_raw)
                    .unwrap_or(std::ptr::null_mut())
            };
            head = Box::into_raw(Box::new(pfring_if_t {
                name: cs(&name),
                system_name: cs(&name),
                module: cs("pf_ring"),
                module_version: cs(&pfring_rs::ring::format_version(RING_VERSION_NUM)),
                sn: std::ptr::null_mut(),
                mac,
                bus_id: pfring_if_bus_id::default(),
                status,
                license: 0,
                license_expiration: 0,
                next: head,
            }));
        }
        Ok(head)
    })
}

/// Frees a list from `pfring_findalldevs` (NULL is ignored).
///
/// # Safety
/// `list` is NULL or a list from `pfring_findalldevs` not freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pfring_freealldevs(list: *mut pfring_if_t) {
    call_or((), || {
        let mut p = list;
        // Bounded by the list's length (it ends with NULL).
        while !p.is_null() {
            // SAFETY: every node came from Box::into_raw in pfring_findalldevs.
            let node = unsafe { Box::from_raw(p) };
            for s in [
                node.name,
                node.system_name,
                node.module,
                node.module_version,
                node.sn,
            ] {
                if !s.is_null() {
                    // SAFETY: every string came from CString::into_raw.
                    drop(unsafe { CString::from_raw(s) });
                }
            }
            p = node.next;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_truncates_and_terminates() {
        let mut b = [0x55 as c_char; 4];
        // SAFETY: 4 writable bytes.
        let n = unsafe { put(b.as_mut_ptr(), 4, "hello") }.unwrap();
        assert_eq!(n, 3);
        assert_eq!(b.map(|c| c as u8), *b"hel\0");
        // SAFETY: NULL is rejected before any write.
        let r = unsafe { put(std::ptr::null_mut(), 4, "x") };
        assert_eq!(r.err(), Some(Code(-2)));
    }
}
