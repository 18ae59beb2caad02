//! Synthetic traffic for pfsend: Ethernet / IPv4 or IPv6 / UDP frames with varying addresses
//! and correct checksums.

use std::net::{Ipv4Addr, Ipv6Addr};

/// What to synthesize.
#[derive(Clone, Debug)]
pub struct SynthSpec {
    /// Source MAC.
    pub src_mac: [u8; 6],
    /// Destination MAC.
    pub dst_mac: [u8; 6],
    /// First source IPv4 address (IPv6 frames use `fd00::<this>`).
    pub src_ip: Ipv4Addr,
    /// First destination IPv4 address.
    pub dst_ip: Ipv4Addr,
    /// Number of distinct source addresses (1 = fixed).
    pub num_src: u32,
    /// Number of distinct destination addresses (1 = fixed).
    pub num_dst: u32,
    /// Frame length in bytes (without FCS), at least 60 (IPv4) / 62 (IPv6).
    pub len: usize,
    /// 4 = IPv4, 6 = IPv6, 0 = alternate.
    pub ip_version: u8,
    /// Pseudo-random addresses instead of sequential ones.
    pub randomize: bool,
}

impl Default for SynthSpec {
    fn default() -> Self {
        SynthSpec {
            src_mac: [0x00, 0x01, 0x02, 0x03, 0x04, 0x05],
            dst_mac: [0x00, 0x11, 0x22, 0x33, 0x44, 0x55],
            src_ip: Ipv4Addr::new(10, 0, 0, 1),
            dst_ip: Ipv4Addr::new(192, 168, 0, 1),
            num_src: 1,
            num_dst: 1,
            len: 60,
            ip_version: 4,
            randomize: false,
        }
    }
}

/// Most distinct frames precomputed (then they repeat).
pub const MAX_POOL: usize = 4096;

fn csum(data: &[u8], mut sum: u32) -> u16 {
    for c in data.chunks(2) {
        let w = if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from(c[0]) << 8
        };
        sum += u32::from(w);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// A small xorshift generator (deterministic, for `-z`).
fn xorshift(state: &mut u64) -> u64 {
    let mut x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    x
}

impl SynthSpec {
    /// The smallest frame length this spec can build.
    pub fn min_len(&self) -> usize {
        match self.ip_version {
            6 | 0 => 14 + 40 + 8,
            _ => 60,
        }
    }

    /// Frame number `i` of the pool.
    pub fn frame(&self, i: u64) -> Vec<u8> {
        let len = self.len.max(self.min_len());
        let v6 = match self.ip_version {
            6 => true,
            0 => i % 2 == 1,
            _ => false,
        };
        let (s_off, d_off) = if self.randomize {
            // Random within the given counts, or within a /16 when they are 1.
            let span = |n: u32| n.max(1 << 16);
            let mut st = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
            (
                (xorshift(&mut st) as u32) % span(self.num_src),
                (xorshift(&mut st) as u32) % span(self.num_dst),
            )
        } else {
            (
                (i % u64::from(self.num_src.max(1))) as u32,
                (i % u64::from(self.num_dst.max(1))) as u32,
            )
        };
        let src = u32::from(self.src_ip).wrapping_add(s_off);
        let dst = u32::from(self.dst_ip).wrapping_add(d_off);
        let mut f = vec![0u8; len];
        f[0..6].copy_from_slice(&self.dst_mac);
        f[6..12].copy_from_slice(&self.src_mac);
        let sport = 10_000u16.wrapping_add((i % 1000) as u16);
        let dport = 9u16;
        if v6 {
            f[12..14].copy_from_slice(&0x86ddu16.to_be_bytes());
            let payload = (len - 14 - 40) as u16;
            let ip = &mut f[14..54];
            ip[0] = 0x60;
            ip[4..6].copy_from_slice(&payload.to_be_bytes());
            ip[6] = 17;
            ip[7] = 64;
            let s6 = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, (src >> 16) as u16, src as u16);
            let d6 = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, (dst >> 16) as u16, dst as u16);
            ip[8..24].copy_from_slice(&s6.octets());
            ip[24..40].copy_from_slice(&d6.octets());
            fill_udp(&mut f, 54, sport, dport, i, |udp_len| {
                let mut sum = 0u32;
                for c in s6.octets().chunks(2).chain(d6.octets().chunks(2)) {
                    sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
                }
                sum + 17 + u32::from(udp_len)
            });
        } else {
            f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
            // IP total length covers what follows the Ethernet header up to the frame end.
            let total = (len - 14) as u16;
            let ip = &mut f[14..34];
            ip[0] = 0x45;
            ip[2..4].copy_from_slice(&total.to_be_bytes());
            ip[4..6].copy_from_slice(&(i as u16).to_be_bytes());
            ip[8] = 64;
            ip[9] = 17;
            ip[12..16].copy_from_slice(&src.to_be_bytes());
            ip[16..20].copy_from_slice(&dst.to_be_bytes());
            let c = csum(ip, 0);
            ip[10..12].copy_from_slice(&c.to_be_bytes());
            fill_udp(&mut f, 34, sport, dport, i, |udp_len| {
                let mut sum = 0u32;
                for w in [src >> 16, src & 0xffff, dst >> 16, dst & 0xffff] {
                    sum += w;
                }
                sum + 17 + u32::from(udp_len)
            });
        }
        f
    }

    /// The distinct frames to cycle through (at most [`MAX_POOL`]).
    pub fn pool(&self) -> Vec<Vec<u8>> {
        let distinct = if self.randomize {
            MAX_POOL as u64
        } else {
            let combos = u64::from(self.num_src.max(1)) * u64::from(self.num_dst.max(1));
            let per_version = if self.ip_version == 0 { 2 } else { 1 };
            (combos * per_version).clamp(1, MAX_POOL as u64)
        };
        (0..distinct).map(|i| self.frame(i)).collect()
    }
}

fn fill_udp(
    f: &mut [u8],
    at: usize,
    sport: u16,
    dport: u16,
    seq: u64,
    pseudo: impl Fn(u16) -> u32,
) {
    let udp_len = (f.len() - at) as u16;
    f[at..at + 2].copy_from_slice(&sport.to_be_bytes());
    f[at + 2..at + 4].copy_from_slice(&dport.to_be_bytes());
    f[at + 4..at + 6].copy_from_slice(&udp_len.to_be_bytes());
    let payload = &mut f[at + 8..];
    let seq_bytes = seq.to_be_bytes();
    for (j, b) in payload.iter_mut().enumerate() {
        *b = seq_bytes.get(j).copied().unwrap_or(j as u8);
    }
    let c = csum(&f[at..], pseudo(udp_len));
    let c = if c == 0 { 0xffff } else { c };
    f[at + 6..at + 8].copy_from_slice(&c.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verify_ipv4(f: &[u8]) {
        assert_eq!(csum(&f[14..34], 0), 0, "IPv4 header checksum");
        let src = u32::from_be_bytes(f[26..30].try_into().unwrap());
        let dst = u32::from_be_bytes(f[30..34].try_into().unwrap());
        let udp_len = u16::from_be_bytes([f[38], f[39]]);
        let pseudo =
            (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + 17 + u32::from(udp_len);
        assert_eq!(csum(&f[34..], pseudo), 0, "UDP checksum");
    }

    #[test]
    fn ipv4_frames_are_well_formed_and_vary() {
        let spec = SynthSpec {
            num_src: 3,
            num_dst: 2,
            len: 128,
            ..Default::default()
        };
        let pool = spec.pool();
        assert_eq!(pool.len(), 6);
        for f in &pool {
            assert_eq!(f.len(), 128);
            verify_ipv4(f);
        }
        assert_eq!(&pool[1][26..30], &[10, 0, 0, 2]);
        assert_eq!(&pool[1][30..34], &[192, 168, 0, 2]);
        assert_eq!(&pool[2][26..30], &[10, 0, 0, 3]);
        assert_eq!(&pool[2][30..34], &[192, 168, 0, 1]);
    }

    #[test]
    fn ipv6_and_mixed() {
        let spec = SynthSpec {
            ip_version: 0,
            len: 60,
            ..Default::default()
        };
        let pool = spec.pool();
        assert_eq!(pool.len(), 2);
        assert_eq!(&pool[0][12..14], &[0x08, 0x00]);
        assert_eq!(&pool[1][12..14], &[0x86, 0xdd]);
        assert_eq!(pool[1].len(), 62, "IPv6 + UDP needs 62 bytes");
        verify_ipv4(&pool[0]);
    }

    #[test]
    fn randomized_pool_is_deterministic() {
        let spec = SynthSpec {
            randomize: true,
            ..Default::default()
        };
        assert_eq!(spec.frame(5), spec.frame(5));
        assert_ne!(spec.frame(5)[26..34], spec.frame(6)[26..34]);
        verify_ipv4(&spec.frame(77));
    }
}
