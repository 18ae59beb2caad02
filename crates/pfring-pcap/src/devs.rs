//! `pcap_findalldevs` / `pcap_lookupnet`: interfaces and their addresses from `getifaddrs(3)`.

use std::ffi::{CStr, CString, c_char};
use std::ptr;

/// `PCAP_IF_LOOPBACK`.
pub const PCAP_IF_LOOPBACK: u32 = 0x1;
/// `PCAP_IF_UP`.
pub const PCAP_IF_UP: u32 = 0x2;
/// `PCAP_IF_RUNNING`.
pub const PCAP_IF_RUNNING: u32 = 0x4;
/// `PCAP_IF_CONNECTION_STATUS_CONNECTED`.
pub const PCAP_IF_CONNECTION_STATUS_CONNECTED: u32 = 0x10;
/// `PCAP_IF_CONNECTION_STATUS_DISCONNECTED`.
pub const PCAP_IF_CONNECTION_STATUS_DISCONNECTED: u32 = 0x20;
/// `PCAP_IF_CONNECTION_STATUS_NOT_APPLICABLE`.
pub const PCAP_IF_CONNECTION_STATUS_NOT_APPLICABLE: u32 = 0x30;

/// libpcap's `struct pcap_addr`.
#[repr(C)]
#[derive(Debug)]
pub struct PcapAddr {
    /// Next address of the interface.
    pub next: *mut PcapAddr,
    /// The address.
    pub addr: *mut libc::sockaddr,
    /// Its netmask, or NULL.
    pub netmask: *mut libc::sockaddr,
    /// Broadcast address, or NULL.
    pub broadaddr: *mut libc::sockaddr,
    /// Point-to-point destination, or NULL.
    pub dstaddr: *mut libc::sockaddr,
}

/// libpcap's `pcap_if_t`.
#[repr(C)]
#[derive(Debug)]
pub struct PcapIf {
    /// Next interface.
    pub next: *mut PcapIf,
    /// Name for `pcap_create` / `pcap_open_live`.
    pub name: *mut c_char,
    /// Description, or NULL.
    pub description: *mut c_char,
    /// Addresses (IPv4 and IPv6).
    pub addresses: *mut PcapAddr,
    /// `PCAP_IF_*` flags.
    pub flags: u32,
}

/// One address of an interface, copied out of `getifaddrs`.
#[derive(Clone, Copy)]
struct Addr {
    addr: libc::sockaddr_storage,
    netmask: Option<libc::sockaddr_storage>,
    broad: Option<libc::sockaddr_storage>,
    dst: Option<libc::sockaddr_storage>,
}

/// One interface, as `getifaddrs` reports it.
struct Dev {
    name: String,
    flags: u32,
    addrs: Vec<Addr>,
}

/// Copies a `sockaddr` of family AF_INET / AF_INET6 (NULL and other families: `None`).
fn copy_sockaddr(sa: *const libc::sockaddr) -> Option<libc::sockaddr_storage> {
    if sa.is_null() {
        return None;
    }
    // SAFETY: non-null pointer from getifaddrs, pointing at a sockaddr whose family field is
    // valid to read.
    let family = i32::from(unsafe { (*sa).sa_family });
    let len = match family {
        libc::AF_INET => std::mem::size_of::<libc::sockaddr_in>(),
        libc::AF_INET6 => std::mem::size_of::<libc::sockaddr_in6>(),
        _ => return None,
    };
    // SAFETY: all-zero bytes are a valid sockaddr_storage.
    let mut out: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    // SAFETY: getifaddrs gives a full sockaddr_in / sockaddr_in6 for these families; the
    // destination is larger than either.
    unsafe {
        ptr::copy_nonoverlapping(sa.cast::<u8>(), (&raw mut out).cast::<u8>(), len);
    }
    Some(out)
}

/// The interfaces with their flags and IPv4/IPv6 addresses, in `getifaddrs` order.
fn scan() -> std::io::Result<Vec<Dev>> {
    let mut head: *mut libc::ifaddrs = ptr::null_mut();
    // SAFETY: getifaddrs writes a list head into `head`; freed with freeifaddrs below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut devs: Vec<Dev> = Vec::new();
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned, not yet freed.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        if ifa.ifa_name.is_null() {
            continue;
        }
        // SAFETY: ifa_name is a NUL-terminated string owned by the list.
        let name = unsafe { CStr::from_ptr(ifa.ifa_name) }
            .to_string_lossy()
            .into_owned();
        let f = ifa.ifa_flags;
        let mut flags = 0;
        if f & libc::IFF_LOOPBACK as u32 != 0 {
            flags |= PCAP_IF_LOOPBACK | PCAP_IF_CONNECTION_STATUS_NOT_APPLICABLE;
        } else if f & libc::IFF_RUNNING as u32 != 0 {
            flags |= PCAP_IF_CONNECTION_STATUS_CONNECTED;
        } else {
            flags |= PCAP_IF_CONNECTION_STATUS_DISCONNECTED;
        }
        if f & libc::IFF_UP as u32 != 0 {
            flags |= PCAP_IF_UP;
        }
        if f & libc::IFF_RUNNING as u32 != 0 {
            flags |= PCAP_IF_RUNNING;
        }
        let idx = match devs.iter().position(|d| d.name == name) {
            Some(i) => i,
            None => {
                devs.push(Dev {
                    name,
                    flags,
                    addrs: Vec::new(),
                });
                devs.len() - 1
            }
        };
        if let Some(addr) = copy_sockaddr(ifa.ifa_addr) {
            let p2p = f & libc::IFF_POINTOPOINT as u32 != 0;
            let other = copy_sockaddr(ifa.ifa_ifu);
            devs[idx].addrs.push(Addr {
                addr,
                netmask: copy_sockaddr(ifa.ifa_netmask),
                broad: if p2p { None } else { other },
                dst: if p2p { other } else { None },
            });
        }
    }
    // SAFETY: `head` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    Ok(devs)
}

/// IPv4 network and netmask of `device`, as libpcap's `pcap_lookupnet` returns them (the
/// `s_addr` words: network byte order in memory). `any` gives `(0, 0)`.
///
/// # Errors
/// A message for `errbuf` when the device has no IPv4 address.
pub fn lookupnet(device: &str) -> Result<(u32, u32), String> {
    if device == "any" {
        return Ok((0, 0));
    }
    let devs = scan().map_err(|e| format!("getifaddrs: {e}"))?;
    let dev = devs
        .iter()
        .find(|d| d.name == device)
        .ok_or_else(|| format!("{device}: no such device"))?;
    for a in &dev.addrs {
        if i32::from(a.addr.ss_family) != libc::AF_INET {
            continue;
        }
        // SAFETY: the family is AF_INET, so the storage holds a sockaddr_in.
        let addr = unsafe {
            (*(&raw const a.addr).cast::<libc::sockaddr_in>())
                .sin_addr
                .s_addr
        };
        let mask = match &a.netmask {
            // SAFETY: the netmask of an AF_INET address is a sockaddr_in.
            Some(m) => unsafe {
                (*std::ptr::from_ref(m).cast::<libc::sockaddr_in>())
                    .sin_addr
                    .s_addr
            },
            None => 0,
        };
        return Ok((addr & mask, mask));
    }
    Err(format!("{device}: no IPv4 address assigned"))
}

/// Names of the capture devices, in the order `pcap_findalldevs` lists them.
pub fn names() -> std::io::Result<Vec<String>> {
    Ok(sorted(scan()?).into_iter().map(|d| d.name).collect())
}

/// libpcap's order: up and running non-loopback devices first, loopback after them, `any`
/// last among the up ones, down devices at the end.
fn sorted(mut devs: Vec<Dev>) -> Vec<Dev> {
    devs.push(Dev {
        name: "any".into(),
        flags: PCAP_IF_UP | PCAP_IF_RUNNING | PCAP_IF_CONNECTION_STATUS_NOT_APPLICABLE,
        addrs: Vec::new(),
    });
    devs.sort_by_key(|d| {
        let up = d.flags & PCAP_IF_UP != 0 && d.flags & PCAP_IF_RUNNING != 0;
        let lo = d.flags & PCAP_IF_LOOPBACK != 0;
        let any = d.name == "any";
        (!up, any, lo)
    });
    devs
}

fn boxed_sockaddr(s: Option<libc::sockaddr_storage>) -> *mut libc::sockaddr {
    match s {
        Some(s) => Box::into_raw(Box::new(s)).cast(),
        None => ptr::null_mut(),
    }
}

/// Builds the `pcap_if_t` list for `pcap_findalldevs` (freed by [`free_list`]).
///
/// # Errors
/// `getifaddrs` failure.
pub fn build_list() -> std::io::Result<*mut PcapIf> {
    let devs = sorted(scan()?);
    let mut head: *mut PcapIf = ptr::null_mut();
    for d in devs.into_iter().rev() {
        let mut addrs: *mut PcapAddr = ptr::null_mut();
        for a in d.addrs.into_iter().rev() {
            addrs = Box::into_raw(Box::new(PcapAddr {
                next: addrs,
                addr: boxed_sockaddr(Some(a.addr)),
                netmask: boxed_sockaddr(a.netmask),
                broadaddr: boxed_sockaddr(a.broad),
                dstaddr: boxed_sockaddr(a.dst),
            }));
        }
        let description = if d.name == "any" {
            CString::new("Pseudo-device that captures on all interfaces")
                .map_or(ptr::null_mut(), CString::into_raw)
        } else {
            ptr::null_mut()
        };
        head = Box::into_raw(Box::new(PcapIf {
            next: head,
            name: CString::new(d.name).map_or(ptr::null_mut(), CString::into_raw),
            description,
            addresses: addrs,
            flags: d.flags,
        }));
    }
    Ok(head)
}

fn free_sockaddr(p: *mut libc::sockaddr) {
    if !p.is_null() {
        // SAFETY: allocated by `boxed_sockaddr` as a Box<sockaddr_storage>, freed once.
        drop(unsafe { Box::from_raw(p.cast::<libc::sockaddr_storage>()) });
    }
}

fn free_cstring(p: *mut c_char) {
    if !p.is_null() {
        // SAFETY: allocated by CString::into_raw in `build_list`, freed once.
        drop(unsafe { CString::from_raw(p) });
    }
}

/// Frees a list from [`build_list`].
///
/// # Safety
/// `list` is NULL or a list returned by [`build_list`] that was not freed yet.
pub unsafe fn free_list(mut list: *mut PcapIf) {
    while !list.is_null() {
        // SAFETY: every node was allocated by Box::into_raw in `build_list` (caller's contract).
        let node = unsafe { Box::from_raw(list) };
        list = node.next;
        free_cstring(node.name);
        free_cstring(node.description);
        let mut a = node.addresses;
        while !a.is_null() {
            // SAFETY: address nodes were allocated by Box::into_raw in `build_list`.
            let an = unsafe { Box::from_raw(a) };
            a = an.next;
            free_sockaddr(an.addr);
            free_sockaddr(an.netmask);
            free_sockaddr(an.broadaddr);
            free_sockaddr(an.dstaddr);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_listed_with_its_address_and_any_comes_after_it() {
        let list = build_list().unwrap();
        let mut names = Vec::new();
        let mut cur = list;
        let mut lo_has_v4 = false;
        while !cur.is_null() {
            // SAFETY: a node of the list just built.
            let n = unsafe { &*cur };
            // SAFETY: names are NUL-terminated strings from CString::into_raw.
            let name = unsafe { CStr::from_ptr(n.name) }
                .to_str()
                .unwrap()
                .to_owned();
            if name == "lo" {
                assert_ne!(n.flags & PCAP_IF_LOOPBACK, 0);
                let mut a = n.addresses;
                while !a.is_null() {
                    // SAFETY: address node of the same list.
                    let an = unsafe { &*a };
                    // SAFETY: addr is a boxed sockaddr_storage.
                    if i32::from(unsafe { (*an.addr).sa_family }) == libc::AF_INET {
                        lo_has_v4 = true;
                    }
                    a = an.next;
                }
            }
            names.push(name);
            cur = n.next;
        }
        // SAFETY: the list from build_list, freed once.
        unsafe { free_list(list) };
        assert!(names.contains(&"any".to_owned()), "{names:?}");
        if names.contains(&"lo".to_owned()) && lookupnet("lo").is_ok() {
            assert!(lo_has_v4);
            let (net, mask) = lookupnet("lo").unwrap();
            // 127.0.0.0/8 as s_addr words (network byte order in memory).
            assert_eq!(net.to_ne_bytes(), [127, 0, 0, 0]);
            assert_eq!(mask.to_ne_bytes(), [255, 0, 0, 0]);
        }
        assert_eq!(lookupnet("any"), Ok((0, 0)));
        assert!(lookupnet("no-such-dev0").is_err());
    }
}
