//! Test helpers: a small reader for pcap and pcapng capture files.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// One captured packet.
#[derive(Debug, Clone)]
pub struct Packet {
    pub data: Vec<u8>,
    pub wire_len: u32,
    pub linktype: u32,
}

/// The shared test captures (`../shared/testdata/pcap/` from the workspace root, or
/// `$PFRING_TESTDATA`), or `None` with the reason to print when they are absent.
pub fn testdata_dir() -> Result<PathBuf, String> {
    let dir = match std::env::var_os("PFRING_TESTDATA") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/pcap"),
    };
    if dir.is_dir() {
        Ok(dir)
    } else {
        Err(format!(
            "skipped: test captures not found at {}",
            dir.display()
        ))
    }
}

fn u16_at(b: &[u8], off: usize, be: bool) -> Option<u16> {
    let s: [u8; 2] = b.get(off..off + 2)?.try_into().ok()?;
    Some(if be {
        u16::from_be_bytes(s)
    } else {
        u16::from_le_bytes(s)
    })
}

fn u32_at(b: &[u8], off: usize, be: bool) -> Option<u32> {
    let s: [u8; 4] = b.get(off..off + 4)?.try_into().ok()?;
    Some(if be {
        u32::from_be_bytes(s)
    } else {
        u32::from_le_bytes(s)
    })
}

/// Reads every packet of a pcap or pcapng file (truncated files: what is complete).
pub fn read_capture(bytes: &[u8]) -> Vec<Packet> {
    let mut out = Vec::new();
    let Some(magic) = u32_at(bytes, 0, false) else {
        return out;
    };
    match magic {
        0xa1b2_c3d4 | 0xa1b2_3c4d | 0xd4c3_b2a1 | 0x4d3c_b2a1 => {
            let be = matches!(magic, 0xd4c3_b2a1 | 0x4d3c_b2a1);
            let Some(lt) = u32_at(bytes, 20, be) else {
                return out;
            };
            let linktype = lt & 0xffff;
            let mut off = 24;
            while let (Some(incl), Some(orig)) =
                (u32_at(bytes, off + 8, be), u32_at(bytes, off + 12, be))
            {
                let start = off + 16;
                let Some(data) = bytes.get(start..start + incl as usize) else {
                    break;
                };
                out.push(Packet {
                    data: data.to_vec(),
                    wire_len: orig,
                    linktype,
                });
                off = start + incl as usize;
            }
        }
        0x0a0d_0d0a => {
            let mut be = false;
            let mut links: Vec<u32> = Vec::new();
            let mut off = 0;
            while let Some(t) = u32_at(bytes, off, be) {
                if t == 0x0a0d_0d0a {
                    be = u32_at(bytes, off + 8, false) != Some(0x1a2b_3c4d);
                    links.clear();
                }
                let Some(len) = u32_at(bytes, off + 4, be) else {
                    break;
                };
                let len = len as usize;
                if len < 12 || off + len > bytes.len() {
                    break;
                }
                let body = &bytes[off + 8..off + len - 4];
                match t {
                    1 => links.push(u32::from(u16_at(body, 0, be).unwrap_or(0))),
                    6 => {
                        if let (Some(ifc), Some(cap), Some(orig)) = (
                            u32_at(body, 0, be),
                            u32_at(body, 12, be),
                            u32_at(body, 16, be),
                        ) && let Some(data) = body.get(20..20 + cap as usize)
                        {
                            out.push(Packet {
                                data: data.to_vec(),
                                wire_len: orig,
                                linktype: links.get(ifc as usize).copied().unwrap_or(u32::MAX),
                            });
                        }
                    }
                    3 => {
                        if let Some(orig) = u32_at(body, 0, be) {
                            let cap = (orig as usize).min(body.len() - 4);
                            out.push(Packet {
                                data: body[4..4 + cap].to_vec(),
                                wire_len: orig,
                                linktype: links.first().copied().unwrap_or(u32::MAX),
                            });
                        }
                    }
                    _ => {}
                }
                off += len;
            }
        }
        _ => {}
    }
    out
}

/// All Ethernet packets of all test captures, grouped by file (sorted by name).
pub fn ethernet_captures() -> Result<Vec<(String, Vec<Packet>)>, String> {
    let dir = testdata_dir()?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("skipped: {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let Ok(bytes) = std::fs::read(&f) else {
            continue;
        };
        let pkts: Vec<Packet> = read_capture(&bytes)
            .into_iter()
            .filter(|p| p.linktype == 1)
            .collect();
        if !pkts.is_empty() {
            let name = f
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            out.push((name, pkts));
        }
    }
    Ok(out)
}

/// Encapsulated copies of an Ethernet packet, because the test captures carry no VLAN,
/// MPLS or PPPoE frames: 802.1Q (VID 100), QinQ (802.1ad VID 1 over 802.1Q VID 5), and for
/// IPv4/IPv6 packets MPLS (label 5; labels 16 and 3) and a PPPoE session (id 5).
pub fn variants(p: &Packet) -> Vec<Packet> {
    let d = &p.data;
    if d.len() < 14 {
        return Vec::new();
    }
    let mk = |hdr: &[u8], ethertype: Option<[u8; 2]>, keep_type: bool| {
        let mut v = d[..12].to_vec();
        if let Some(t) = ethertype {
            v.extend_from_slice(&t);
        }
        v.extend_from_slice(hdr);
        if keep_type {
            v.extend_from_slice(&d[12..]);
        } else {
            v.extend_from_slice(&d[14..]);
        }
        let added = v.len() - d.len();
        Packet {
            data: v,
            wire_len: p.wire_len + added as u32,
            linktype: p.linktype,
        }
    };
    let mut out = vec![
        mk(&[0x00, 100], Some([0x81, 0x00]), true),
        mk(
            &[0x00, 0x01, 0x81, 0x00, 0x00, 0x05],
            Some([0x88, 0xa8]),
            true,
        ),
    ];
    let et = u16::from_be_bytes([d[12], d[13]]);
    if et == 0x0800 || et == 0x86dd {
        let label =
            |l: u32, bottom: bool| ((l << 12) | (u32::from(bottom) << 8) | 64).to_be_bytes();
        out.push(mk(&label(5, true), Some([0x88, 0x47]), false));
        let mut two = label(16, false).to_vec();
        two.extend_from_slice(&label(3, true));
        out.push(mk(&two, Some([0x88, 0x47]), false));
        let len = (d.len() - 14 + 2) as u16;
        let ppp: u8 = if et == 0x0800 { 0x21 } else { 0x57 };
        let hdr = [
            0x11,
            0x00,
            0x00,
            0x05,
            (len >> 8) as u8,
            len as u8,
            0x00,
            ppp,
        ];
        out.push(mk(&hdr, Some([0x88, 0x64]), false));
    }
    out
}

/// Writes packets as a classic pcap file (microseconds, Ethernet).
pub fn write_pcap(path: &Path, pkts: &[Packet]) -> std::io::Result<()> {
    let mut v = Vec::new();
    for x in [0xa1b2_c3d4u32.to_le_bytes(), [2, 0, 4, 0], [0; 4], [0; 4]] {
        v.extend_from_slice(&x);
    }
    v.extend_from_slice(&262_144u32.to_le_bytes());
    v.extend_from_slice(&1u32.to_le_bytes());
    for (i, p) in pkts.iter().enumerate() {
        v.extend_from_slice(&(i as u32).to_le_bytes());
        v.extend_from_slice(&0u32.to_le_bytes());
        v.extend_from_slice(&(p.data.len() as u32).to_le_bytes());
        v.extend_from_slice(&p.wire_len.to_le_bytes());
        v.extend_from_slice(&p.data);
    }
    std::fs::write(path, v)
}
