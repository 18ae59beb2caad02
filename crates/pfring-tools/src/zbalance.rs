//! zbalance_ipc's distribution for `pfdnacluster_master` (reference §4.7): several
//! applications (`-n 2,1`: every application gets every packet, balanced over its own
//! queues) and the hash modes `-m 0..=6`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{Result, bail};
use pfring_zc::{Distribution, HashMode, MAX_QUEUES, Verdict, bidirectional_hash};

/// Parses `-n`: one number, or a comma list (one entry per application, its queue count).
pub fn parse_apps(s: &str) -> Result<Vec<u32>> {
    let apps: Vec<u32> = s
        .split(',')
        .map(|p| p.trim().parse::<u32>())
        .collect::<Result<_, _>>()
        .map_err(|_| anyhow::anyhow!("-n {s}: expected <num> or a comma list like 2,1"))?;
    if apps.contains(&0) {
        bail!("-n {s}: every application needs at least one queue");
    }
    let total: u64 = apps.iter().map(|&n| u64::from(n)).sum();
    if total > u64::from(MAX_QUEUES) {
        bail!("-n {s}: {total} queues in all, at most {MAX_QUEUES}");
    }
    Ok(apps)
}

/// The hash modes of zbalance_ipc's `-m`.
pub const MODES: &str = "0 round robin (default), 1 IP hash, 2 fan-out, 3 fan-out to queue 0 + \
round robin on the others, 4 GTP hash, 5 GRE hash, 6 interface X -> queue X";

/// The distribution for `apps` (queues per application, queue ids consecutive: app 0 has
/// 0..apps[0], app 1 the next ones, ...) and hash mode `mode`. Modes 0, 1, 4 and 5 balance
/// within each application and give every application every packet; 2 gives every queue
/// every packet; 3 (one application, at least 2 queues) gives queue 0 everything and
/// round-robins the rest; 6 sends what the ingress device number `iface` reports (the
/// position of the `-i` device) to that queue. Mode 7 (VLAN in EtherType 0x8585, a
/// metadata format of ntop's) is refused.
pub fn distribution(
    apps: &[u32],
    mode: u32,
    iface: Option<Arc<AtomicU32>>,
) -> Result<Distribution> {
    let total: u32 = apps.iter().sum();
    let bases: Vec<u32> = apps
        .iter()
        .scan(0u32, |b, &n| {
            let base = *b;
            *b += n;
            Some(base)
        })
        .collect();
    let per_app = |pick: fn(&[u8]) -> u32| -> Distribution {
        let (apps, bases) = (apps.to_vec(), bases.clone());
        Distribution::Custom(Box::new(move |f, _| {
            let h = pick(f);
            let mask = apps
                .iter()
                .zip(&bases)
                .fold(0u64, |m, (&n, &b)| m | 1u64 << (b + h % n));
            Verdict::pass(mask, h)
        }))
    };
    Ok(match mode {
        0 if apps.len() == 1 => Distribution::RoundRobin,
        0 => {
            let (apps, bases) = (apps.to_vec(), bases);
            let mut rr = vec![0u32; apps.len()];
            Distribution::Custom(Box::new(move |_, _| {
                let mut mask = 0u64;
                for ((r, &n), &b) in rr.iter_mut().zip(&apps).zip(&bases) {
                    mask |= 1u64 << (b + *r);
                    *r = if *r + 1 >= n { 0 } else { *r + 1 };
                }
                Verdict::pass(mask, 0)
            }))
        }
        1 if apps.len() == 1 => Distribution::Hash(HashMode::Ip),
        1 => per_app(|f| bidirectional_hash(f, HashMode::Ip)),
        2 => Distribution::FanOut,
        3 => {
            if apps.len() != 1 || total < 2 {
                bail!("-m 3 needs one application with at least 2 queues (-n 2 or more)");
            }
            let mut rr = 0u32;
            Distribution::Custom(Box::new(move |_, _| {
                let q = 1 + rr;
                rr = if q + 1 >= total { 0 } else { rr + 1 };
                Verdict::pass(1 | 1u64 << q, 0)
            }))
        }
        4 => per_app(gtp_hash),
        5 => per_app(gre_hash),
        6 => {
            let Some(cur) = iface else {
                bail!("-m 6 needs the ingress device number");
            };
            Distribution::Custom(Box::new(move |_, _| {
                let q = cur.load(Ordering::Relaxed);
                if q < total {
                    Verdict::pass(1u64 << q, q)
                } else {
                    Verdict::drop()
                }
            }))
        }
        7 => bail!("-m 7 (VLAN in EtherType 0x8585, ntop's metadata format) is not supported"),
        m => bail!("hash mode {m} is not supported ({MODES})"),
    })
}

/// The IPv4/IPv6 header offset and version after Ethernet and any 802.1Q tags.
fn l3(f: &[u8]) -> Option<(usize, u8)> {
    let mut off = 12;
    loop {
        let et = u16::from_be_bytes(f.get(off..off + 2)?.try_into().ok()?);
        off += 2;
        match et {
            0x8100 | 0x88a8 => off += 2,
            0x0800 => return Some((off, 4)),
            0x86dd => return Some((off, 6)),
            _ => return None,
        }
    }
}

/// libzero's symmetric IP hash on the IP header at `off`: IPv4 `saddr + daddr`, IPv6 the
/// sum of the 8 native-order words of both addresses.
fn ip_hash_at(f: &[u8], off: usize) -> Option<u32> {
    let v = f.get(off)? >> 4;
    let w = |o: usize| -> Option<[u8; 4]> { f.get(off + o..off + o + 4)?.try_into().ok() };
    match v {
        4 => Some(u32::from_be_bytes(w(12)?).wrapping_add(u32::from_be_bytes(w(16)?))),
        6 => (0..8).try_fold(0u32, |h, i| {
            Some(h.wrapping_add(u32::from_ne_bytes(w(8 + 4 * i)?)))
        }),
        _ => None,
    }
}

/// The L4 protocol and L4 offset of the IP header at `off` (IPv6: no extension headers).
fn l4(f: &[u8], off: usize, v: u8) -> Option<(u8, usize)> {
    match v {
        4 => {
            let ihl = usize::from(f.get(off)? & 0x0f) * 4;
            (ihl >= 20).then_some((*f.get(off + 9)?, off + ihl))
        }
        _ => Some((*f.get(off + 6)?, off + 40)),
    }
}

/// zbalance_ipc's GTP hash: the inner IP addresses of a GTP-U (UDP port 2152) T-PDU, so all
/// tunnels of one subscriber go to one queue; any other packet the outer IP hash.
pub fn gtp_hash(f: &[u8]) -> u32 {
    let inner = || -> Option<u32> {
        let (off, v) = l3(f)?;
        let (proto, u) = l4(f, off, v)?;
        let ports = f.get(u..u + 4)?;
        let (sp, dp) = (
            u16::from_be_bytes([ports[0], ports[1]]),
            u16::from_be_bytes([ports[2], ports[3]]),
        );
        if proto != 17 || (sp != 2152 && dp != 2152) {
            return None;
        }
        let g = u + 8;
        let (flags, ty) = (*f.get(g)?, *f.get(g + 1)?);
        if flags >> 5 != 1 || ty != 0xff {
            return None;
        }
        let mut p = g + 8;
        if flags & 0x07 != 0 {
            let mut next = *f.get(p + 3)?;
            p += 4;
            // Extension headers: length in 4-byte units, next type in the last byte.
            for _ in 0..16 {
                if next == 0 {
                    break;
                }
                let len = usize::from(*f.get(p)?) * 4;
                if len == 0 {
                    return None;
                }
                next = *f.get(p + len - 1)?;
                p += len;
            }
        }
        ip_hash_at(f, p)
    };
    inner().unwrap_or_else(|| bidirectional_hash(f, HashMode::Ip))
}

/// zbalance_ipc's GRE hash: the inner IP addresses of GRE-encapsulated IPv4/IPv6; any other
/// packet the outer IP hash.
pub fn gre_hash(f: &[u8]) -> u32 {
    let inner = || -> Option<u32> {
        let (off, v) = l3(f)?;
        let (proto, g) = l4(f, off, v)?;
        if proto != 47 {
            return None;
        }
        let flags = u16::from_be_bytes(f.get(g..g + 2)?.try_into().ok()?);
        let pt = u16::from_be_bytes(f.get(g + 2..g + 4)?.try_into().ok()?);
        if pt != 0x0800 && pt != 0x86dd {
            return None;
        }
        let opt = [0x8000u16, 0x2000, 0x1000]
            .iter()
            .filter(|&&b| flags & b != 0)
            .count();
        ip_hash_at(f, g + 4 + 4 * opt)
    };
    inner().unwrap_or_else(|| bidirectional_hash(f, HashMode::Ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4(proto: u8, src: [u8; 4], dst: [u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00, 0x45, 0, 0, 0, 0, 0, 0, 0, 64, proto, 0, 0]);
        f.extend_from_slice(&src);
        f.extend_from_slice(&dst);
        f.extend_from_slice(payload);
        f.resize(f.len().max(60), 0);
        f
    }

    fn inner_ip(src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
        ipv4(17, src, dst, &[0; 8])[14..34].to_vec()
    }

    fn gtp(outer_src: [u8; 4], inner: &[u8], ext: bool) -> Vec<u8> {
        let mut p = vec![0x08, 0x68, 0x08, 0x68, 0, 0, 0, 0];
        let flags = if ext { 0x34 } else { 0x30 };
        p.extend_from_slice(&[flags, 0xff, 0, 0, 0, 0, 0, 1]);
        if ext {
            // seq, N-PDU, next = 0x85 (PDU session container, 1 unit), then none.
            p.extend_from_slice(&[0, 0, 0, 0x85, 1, 0, 0, 0]);
        }
        p.extend_from_slice(inner);
        ipv4(17, outer_src, [10, 0, 0, 1], &p)
    }

    fn verdict(d: &mut Distribution, f: &[u8]) -> u64 {
        match d {
            Distribution::Custom(c) => c(f, 0).queues,
            other => panic!("not a closure: {other:?}"),
        }
    }

    #[test]
    fn apps_parse_and_limits() {
        assert_eq!(parse_apps("3").unwrap(), vec![3]);
        assert_eq!(parse_apps("2,1").unwrap(), vec![2, 1]);
        assert!(parse_apps("2,0").is_err());
        assert!(parse_apps("x").is_err());
        assert!(parse_apps("40,30").is_err());
    }

    #[test]
    fn two_apps_each_get_every_packet_balanced_within() {
        // -n 2,1 -m 1: app 0 = queues 0,1 by IP hash; app 1 = queue 2 gets everything.
        let mut d = distribution(&[2, 1], 1, None).unwrap();
        let mut per_q = [0u32; 3];
        for i in 0..100u8 {
            let f = ipv4(17, [1, 1, 1, i], [2, 2, 2, 2], &[0; 8]);
            let m = verdict(&mut d, &f);
            assert_eq!(m.count_ones(), 2, "one queue of each app");
            assert_ne!(m & 0b011, 0);
            assert_ne!(m & 0b100, 0);
            // Same flow, both directions, same app-0 queue.
            let r = ipv4(17, [2, 2, 2, 2], [1, 1, 1, i], &[0; 8]);
            assert_eq!(verdict(&mut d, &r), m);
            for (q, n) in per_q.iter_mut().enumerate() {
                *n += (m >> q & 1) as u32;
            }
        }
        assert_eq!(per_q[0] + per_q[1], 100);
        assert_eq!((per_q[0], per_q[2]), (50, 100));
        // Round robin per app: 0,1,0,1 in app 0 and always 2 in app 1.
        let mut d = distribution(&[2, 1], 0, None).unwrap();
        let f = ipv4(17, [1; 4], [2; 4], &[]);
        let ms: Vec<u64> = (0..4).map(|_| verdict(&mut d, &f)).collect();
        assert_eq!(ms, vec![0b101, 0b110, 0b101, 0b110]);
    }

    #[test]
    fn fan_out_first_and_round_robin_rest() {
        let mut d = distribution(&[3], 3, None).unwrap();
        let f = ipv4(17, [1; 4], [2; 4], &[]);
        let ms: Vec<u64> = (0..4).map(|_| verdict(&mut d, &f)).collect();
        assert_eq!(ms, vec![0b011, 0b101, 0b011, 0b101]);
        assert!(distribution(&[1], 3, None).is_err());
        assert!(distribution(&[2, 1], 3, None).is_err());
    }

    #[test]
    fn gtp_and_gre_hash_the_inner_addresses() {
        let inner = inner_ip([192, 168, 0, 7], [8, 8, 8, 8]);
        let want = ip_hash_at(&inner, 0).unwrap();
        // Two tunnels from different outer addresses carrying one subscriber: one hash.
        assert_eq!(gtp_hash(&gtp([10, 0, 0, 2], &inner, false)), want);
        assert_eq!(gtp_hash(&gtp([10, 0, 0, 9], &inner, true)), want);
        let mut gre = vec![0x20, 0, 0x08, 0, 0, 0, 0, 42];
        gre.extend_from_slice(&inner);
        assert_eq!(
            gre_hash(&ipv4(47, [10, 0, 0, 3], [10, 0, 0, 4], &gre)),
            want
        );
        // Anything else (and truncated tunnels): the outer IP hash, never a panic.
        let plain = ipv4(17, [1, 2, 3, 4], [5, 6, 7, 8], &[0; 8]);
        assert_eq!(gtp_hash(&plain), bidirectional_hash(&plain, HashMode::Ip));
        assert_eq!(gre_hash(&plain), bidirectional_hash(&plain, HashMode::Ip));
        let t = gtp([10, 0, 0, 2], &inner, true);
        for n in 0..t.len() {
            gtp_hash(&t[..n]);
            gre_hash(&t[..n]);
        }
    }

    #[test]
    fn interface_mode_and_refused_modes() {
        let cur = Arc::new(AtomicU32::new(1));
        let mut d = distribution(&[3], 6, Some(cur.clone())).unwrap();
        let f = ipv4(17, [1; 4], [2; 4], &[]);
        assert_eq!(verdict(&mut d, &f), 0b010);
        cur.store(5, Ordering::Relaxed);
        assert_eq!(verdict(&mut d, &f), 0);
        assert!(distribution(&[3], 6, None).is_err());
        assert!(distribution(&[3], 7, None).is_err());
        assert!(distribution(&[3], 8, None).is_err());
    }
}
