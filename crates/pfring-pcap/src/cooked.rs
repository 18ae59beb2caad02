//! Linux "cooked" link-layer headers (`DLT_LINUX_SLL`, `DLT_LINUX_SLL2`) for captures on
//! `any`, as libpcap gives them: tcpdump asks for `LINUX_SLL2` on `any`.
//!
//! pfring's `any` ring is a raw packet socket, so frames of Ethernet-like devices (and
//! loopback) keep their 14-byte Ethernet header; that header is replaced by the cooked one.
//! Frames of devices without a MAC header (tun, IP tunnels) are kept whole, with the protocol
//! taken from the IP version nibble.

use std::collections::HashMap;
use std::ffi::c_char;

use pfring::PacketHeader;

/// `DLT_LINUX_SLL`.
pub const DLT_LINUX_SLL: i32 = 113;
/// `DLT_LINUX_SLL2`.
pub const DLT_LINUX_SLL2: i32 = 276;

const ARPHRD_ETHER: u16 = 1;
const ARPHRD_LOOPBACK: u16 = 772;

/// `PACKET_HOST` .. `PACKET_OUTGOING`.
const PACKET_HOST: u8 = 0;
const PACKET_BROADCAST: u8 = 1;
const PACKET_MULTICAST: u8 = 2;
const PACKET_OTHERHOST: u8 = 3;
const PACKET_OUTGOING: u8 = 4;

/// The ARPHRD type and hardware address of interface `ifindex` in the calling thread's
/// namespace (`None` when it is gone).
fn link_of(ifindex: i32) -> Option<(u16, [u8; 6])> {
    let mut name = [0 as c_char; libc::IF_NAMESIZE];
    // SAFETY: `name` has IF_NAMESIZE bytes, as if_indextoname requires.
    let p = unsafe { libc::if_indextoname(ifindex as u32, name.as_mut_ptr()) };
    if p.is_null() {
        return None;
    }
    // SAFETY: plain socket(2) call; the descriptor is closed below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: all-zero bytes are a valid ifreq.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(name.iter()) {
        *d = *s;
    }
    // SAFETY: `req` is a valid ifreq with a NUL-terminated name, for SIOCGIFHWADDR.
    let r = unsafe { libc::ioctl(fd, libc::SIOCGIFHWADDR, &mut req) };
    // SAFETY: `fd` is the socket opened above, closed once.
    unsafe { libc::close(fd) };
    if r < 0 {
        return None;
    }
    // SAFETY: SIOCGIFHWADDR filled the hardware-address member of the union.
    let sa = unsafe { req.ifr_ifru.ifru_hwaddr };
    let mut mac = [0u8; 6];
    for (d, s) in mac.iter_mut().zip(sa.sa_data.iter()) {
        *d = *s as u8;
    }
    Some((sa.sa_family, mac))
}

/// Builds cooked frames; caches the link type of each interface.
#[derive(Debug, Default)]
pub struct Cooker {
    links: HashMap<i32, (u16, [u8; 6])>,
    buf: Vec<u8>,
}

impl Cooker {
    /// The cooked frame for `data` (header `h`) as `dlt`, and its wire length.
    pub fn cook(&mut self, dlt: i32, h: &PacketHeader, data: &[u8]) -> (&[u8], u32) {
        let ifindex = h.extended_hdr.if_index;
        let (hatype, own) = *self
            .links
            .entry(ifindex)
            .or_insert_with(|| link_of(ifindex).unwrap_or((ARPHRD_ETHER, [0; 6])));
        let has_mac = matches!(hatype, ARPHRD_ETHER | ARPHRD_LOOPBACK) && data.len() >= 14;
        let (proto, addr, payload, strip): (u16, &[u8], &[u8], u32) = if has_mac {
            (
                u16::from_be_bytes([data[12], data[13]]),
                &data[6..12],
                &data[14..],
                14,
            )
        } else {
            let proto = match data.first().map(|b| b >> 4) {
                Some(4) => 0x0800,
                Some(6) => 0x86dd,
                _ => 0,
            };
            (proto, &[][..], data, 0)
        };
        let pkttype = if !h.extended_hdr.rx_direction {
            PACKET_OUTGOING
        } else if has_mac && data[..6] == [0xff; 6] {
            PACKET_BROADCAST
        } else if has_mac && data[0] & 1 == 1 {
            PACKET_MULTICAST
        } else if hatype == ARPHRD_ETHER && has_mac && data[..6] != own {
            PACKET_OTHERHOST
        } else {
            PACKET_HOST
        };
        let mut a8 = [0u8; 8];
        a8[..addr.len()].copy_from_slice(addr);
        self.buf.clear();
        if dlt == DLT_LINUX_SLL2 {
            self.buf.extend_from_slice(&proto.to_be_bytes());
            self.buf.extend_from_slice(&[0, 0]);
            self.buf.extend_from_slice(&(ifindex as u32).to_be_bytes());
            self.buf.extend_from_slice(&hatype.to_be_bytes());
            self.buf.push(pkttype);
            self.buf.push(addr.len() as u8);
            self.buf.extend_from_slice(&a8);
        } else {
            self.buf
                .extend_from_slice(&u16::from(pkttype).to_be_bytes());
            self.buf.extend_from_slice(&hatype.to_be_bytes());
            self.buf
                .extend_from_slice(&(addr.len() as u16).to_be_bytes());
            self.buf.extend_from_slice(&a8);
            self.buf.extend_from_slice(&proto.to_be_bytes());
        }
        let hdr = self.buf.len() as u32;
        self.buf.extend_from_slice(payload);
        (&self.buf, (h.len + hdr).saturating_sub(strip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ethernet_frames_get_sll_and_sll2_headers() {
        let mut c = Cooker::default();
        // ifindex 1 is loopback in every namespace.
        c.links.insert(5, (ARPHRD_ETHER, [2, 0, 0, 0, 0, 1]));
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&[2, 0, 0, 0, 0, 9, 0x08, 0x00]);
        f.extend_from_slice(&[0x45; 20]);
        let mut h = PacketHeader {
            caplen: f.len() as u32,
            len: 100,
            ..PacketHeader::default()
        };
        h.extended_hdr.if_index = 5;
        h.extended_hdr.rx_direction = true;
        let (b, len) = c.cook(DLT_LINUX_SLL2, &h, &f);
        assert_eq!(len, 100 - 14 + 20);
        assert_eq!(
            &b[..20],
            &[8, 0, 0, 0, 0, 0, 0, 5, 0, 1, 1, 6, 2, 0, 0, 0, 0, 9, 0, 0]
        );
        assert_eq!(&b[20..], &[0x45; 20]);
        // Unicast to another MAC: PACKET_OTHERHOST; to ours: PACKET_HOST.
        let mut u = f.clone();
        u[..6].copy_from_slice(&[2, 0, 0, 0, 0, 7]);
        assert_eq!(c.cook(DLT_LINUX_SLL2, &h, &u).0[10], 3);
        u[..6].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        assert_eq!(c.cook(DLT_LINUX_SLL2, &h, &u).0[10], 0);
        h.extended_hdr.rx_direction = false;
        let (b, len) = c.cook(DLT_LINUX_SLL, &h, &f);
        assert_eq!(len, 100 - 14 + 16);
        assert_eq!(&b[..16], &[0, 4, 0, 1, 0, 6, 2, 0, 0, 0, 0, 9, 0, 0, 8, 0]);
        // A device without a MAC header: whole frame, protocol from the IP version.
        c.links.insert(6, (65534, [0; 6]));
        h.extended_hdr.if_index = 6;
        let ip6 = [0x60u8; 40];
        h.len = 40;
        let (b, len) = c.cook(DLT_LINUX_SLL2, &h, &ip6);
        assert_eq!(len, 60);
        assert_eq!(&b[..2], &[0x86, 0xdd]);
        assert_eq!(b[11], 0, "no address");
        assert_eq!(&b[20..], &ip6);
    }
}
