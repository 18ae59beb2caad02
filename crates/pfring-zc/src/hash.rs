//! The libzero "bidirectional software hash" (the same function as
//! `pfring::parse::libzero_hash`, kept here so this crate does not depend on `pfring`; a
//! test in `pfring` checks both agree on every frame it generates).

/// What [`bidirectional_hash`] hashes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum HashMode {
    /// Source plus destination IP address (the default).
    #[default]
    Ip,
    /// The last three bytes of both MACs.
    Mac,
    /// The IP protocol number.
    Protocol,
}

const ETH_P_IP: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86DD;
const ETH_P_8021Q: u16 = 0x8100;

#[inline(always)]
fn get<const N: usize>(b: &[u8], off: usize) -> Option<&[u8; N]> {
    b.get(off..off.checked_add(N)?)?.try_into().ok()
}

/// libzero's bidirectional hash on raw frame bytes: skip any number of 802.1Q tags, then
/// IPv4 `ntohl(saddr) + ntohl(daddr)`, IPv6 the sum of the 8 native-order 32-bit words of
/// both addresses; MAC mode `b[3]+b[4]+b[5]+b[9]+b[10]+b[11]`; protocol mode the IPv4
/// protocol / IPv6 next header. Unknown EtherType or truncated frame: 0. Symmetric in
/// source and destination, so both directions of a flow go to the same queue.
#[doc(alias = "pfring_zc_builtin_ip_hash")]
#[inline]
pub fn bidirectional_hash(frame: &[u8], mode: HashMode) -> u32 {
    if mode == HashMode::Mac {
        return get::<12>(frame, 0).map_or(0, |b| {
            [b[3], b[4], b[5], b[9], b[10], b[11]]
                .iter()
                .map(|&x| u32::from(x))
                .sum()
        });
    }
    let Some(e) = get::<2>(frame, 12) else {
        return 0;
    };
    let mut et = u16::from_be_bytes(*e);
    let mut off = 14usize;
    while et == ETH_P_8021Q {
        let Some(t) = get::<4>(frame, off) else {
            return 0;
        };
        et = u16::from_be_bytes([t[2], t[3]]);
        off += 4;
    }
    match (et, mode) {
        (ETH_P_IP, HashMode::Ip) => get::<20>(frame, off).map_or(0, |h| {
            u32::from_be_bytes([h[12], h[13], h[14], h[15]])
                .wrapping_add(u32::from_be_bytes([h[16], h[17], h[18], h[19]]))
        }),
        (ETH_P_IPV6, HashMode::Ip) => get::<40>(frame, off).map_or(0, |h| {
            h[8..40]
                .chunks_exact(4)
                .map(|w| u32::from_ne_bytes([w[0], w[1], w[2], w[3]]))
                .fold(0u32, u32::wrapping_add)
        }),
        (ETH_P_IP, HashMode::Protocol) => get::<20>(frame, off).map_or(0, |h| u32::from(h[9])),
        (ETH_P_IPV6, HashMode::Protocol) => get::<40>(frame, off).map_or(0, |h| u32::from(h[6])),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ipv4(src: [u8; 4], dst: [u8; 4], vlans: usize) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        for _ in 0..vlans {
            f.extend_from_slice(&[0x81, 0x00, 0x00, 0x05]);
        }
        f.extend_from_slice(&[0x08, 0x00]);
        let mut ip = [0u8; 20];
        ip[0] = 0x45;
        ip[9] = 17;
        ip[12..16].copy_from_slice(&src);
        ip[16..20].copy_from_slice(&dst);
        f.extend_from_slice(&ip);
        f
    }

    #[test]
    fn known_values() {
        // 10.0.0.1 + 10.0.0.2 in host order.
        let f = ipv4([10, 0, 0, 1], [10, 0, 0, 2], 0);
        assert_eq!(
            bidirectional_hash(&f, HashMode::Ip),
            0x0A00_0001 + 0x0A00_0002
        );
        // 192.168.1.20 + 192.168.1.21 (the 2-tuple part of the reference's doc example).
        let f = ipv4([192, 168, 1, 20], [192, 168, 1, 21], 2);
        assert_eq!(
            bidirectional_hash(&f, HashMode::Ip),
            0xC0A8_0114u32.wrapping_add(0xC0A8_0115)
        );
        assert_eq!(bidirectional_hash(&f, HashMode::Protocol), 17);
        let mut m = f.clone();
        m[..12].copy_from_slice(&[0, 0, 0, 1, 2, 3, 0, 0, 0, 4, 5, 6]);
        assert_eq!(bidirectional_hash(&m, HashMode::Mac), 21);
        // Wrap-around.
        let f = ipv4([255; 4], [255; 4], 0);
        assert_eq!(bidirectional_hash(&f, HashMode::Ip), 0xFFFF_FFFE);
    }

    #[test]
    fn non_ip_and_truncated_give_zero() {
        assert_eq!(bidirectional_hash(&[], HashMode::Ip), 0);
        let f = ipv4([1, 2, 3, 4], [5, 6, 7, 8], 1);
        assert_eq!(bidirectional_hash(&f[..30], HashMode::Ip), 0);
        let mut arp = f.clone();
        arp[16] = 0x08;
        arp[17] = 0x06;
        assert_eq!(bidirectional_hash(&arp, HashMode::Ip), 0);
    }

    proptest! {
        #[test]
        fn symmetric_and_never_panics(src: [u8; 4], dst: [u8; 4], vlans in 0usize..3,
                                       junk in proptest::collection::vec(any::<u8>(), 0..80)) {
            let a = ipv4(src, dst, vlans);
            let b = ipv4(dst, src, vlans);
            prop_assert_eq!(bidirectional_hash(&a, HashMode::Ip), bidirectional_hash(&b, HashMode::Ip));
            for m in [HashMode::Ip, HashMode::Mac, HashMode::Protocol] {
                let _ = bidirectional_hash(&junk, m);
            }
        }
    }
}
