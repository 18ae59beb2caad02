//! A minimal pcap / pcapng reader for tests and benchmarks: enough to pull the frames and
//! their link type out of the shared test captures. Truncated or malformed files give the
//! records read before the damage, never a panic.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// One captured frame.
#[derive(Debug, Clone)]
pub struct Record {
    /// Link type (DLT / LINKTYPE number) of the interface it was captured on.
    pub linktype: u32,
    /// The captured bytes (caplen of them).
    pub data: Vec<u8>,
    /// The original length on the wire.
    pub orig_len: u32,
}

/// Link type of Ethernet captures.
pub const LINKTYPE_ETHERNET: u32 = 1;

/// The shared test-capture folder: `<workspace>/../shared/testdata/pcap`, found by walking
/// up from this crate to the workspace root. `None` if it is not there.
pub fn testdata_dir() -> Option<PathBuf> {
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    loop {
        let manifest = dir.join("Cargo.toml");
        if std::fs::read_to_string(&manifest).is_ok_and(|s| s.contains("[workspace]")) {
            let d = dir.join("../shared/testdata/pcap");
            return d.is_dir().then_some(d);
        }
        if !dir.pop() {
            return None;
        }
    }
}

/// All capture files of the folder, sorted by name.
pub fn capture_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.retain(|p| p.is_file());
    v.sort();
    v
}

/// Reads a pcap or pcapng file. Unknown formats give no records.
pub fn read_file(path: &Path) -> Vec<Record> {
    match std::fs::read(path) {
        Ok(b) => parse_bytes(&b),
        Err(_) => Vec::new(),
    }
}

/// Parses the bytes of a pcap or pcapng file.
pub fn parse_bytes(b: &[u8]) -> Vec<Record> {
    match b.get(..4) {
        Some([0x0A, 0x0D, 0x0D, 0x0A]) => read_pcapng(b),
        Some(_) => read_pcap(b),
        None => Vec::new(),
    }
}

fn u16_at(b: &[u8], off: usize, le: bool) -> Option<u16> {
    let s: [u8; 2] = b.get(off..off + 2)?.try_into().ok()?;
    Some(if le {
        u16::from_le_bytes(s)
    } else {
        u16::from_be_bytes(s)
    })
}

fn u32_at(b: &[u8], off: usize, le: bool) -> Option<u32> {
    let s: [u8; 4] = b.get(off..off + 4)?.try_into().ok()?;
    Some(if le {
        u32::from_le_bytes(s)
    } else {
        u32::from_be_bytes(s)
    })
}

fn read_pcap(b: &[u8]) -> Vec<Record> {
    let mut out = Vec::new();
    let Some(magic) = u32_at(b, 0, true) else {
        return out;
    };
    let le = match magic {
        0xA1B2_C3D4 | 0xA1B2_3C4D => true,
        0xD4C3_B2A1 | 0x4D3C_B2A1 => false,
        _ => return out,
    };
    let Some(network) = u32_at(b, 20, le) else {
        return out;
    };
    // The link type is the low 16 bits (the upper ones carry FCS info).
    let linktype = network & 0xFFFF;
    let mut off = 24usize;
    while let (Some(incl), Some(orig)) = (u32_at(b, off + 8, le), u32_at(b, off + 12, le)) {
        let start = off + 16;
        let Some(end) = start.checked_add(incl as usize) else {
            break;
        };
        let Some(data) = b.get(start..end) else {
            break; // truncated record
        };
        out.push(Record {
            linktype,
            data: data.to_vec(),
            orig_len: orig,
        });
        off = end;
    }
    out
}

fn read_pcapng(b: &[u8]) -> Vec<Record> {
    let mut out = Vec::new();
    let mut le = true;
    let mut links: Vec<u32> = Vec::new();
    let mut off = 0usize;
    while let Some(raw_type) = u32_at(b, off, true) {
        if raw_type == 0x0A0D_0D0A {
            // Section header: the byte-order magic decides the endianness.
            match u32_at(b, off + 8, true) {
                Some(0x1A2B_3C4D) => le = true,
                Some(0x4D3C_2B1A) => le = false,
                _ => break,
            }
            links.clear();
        }
        let (Some(btype), Some(blen)) = (u32_at(b, off, le), u32_at(b, off + 4, le)) else {
            break;
        };
        let blen = blen as usize;
        if blen < 12 || off.checked_add(blen).is_none_or(|e| e > b.len()) {
            break;
        }
        let body = &b[off + 8..off + blen - 4];
        match btype {
            1 => {
                if let Some(lt) = u16_at(body, 0, le) {
                    links.push(u32::from(lt));
                }
            }
            6 | 2 => {
                // Enhanced packet block / obsolete packet block (16-bit interface id).
                let iface = if btype == 6 {
                    u32_at(body, 0, le).map(|v| v as usize)
                } else {
                    u16_at(body, 0, le).map(usize::from)
                };
                let (Some(iface), Some(cap), Some(orig)) =
                    (iface, u32_at(body, 12, le), u32_at(body, 16, le))
                else {
                    break;
                };
                let Some(data) = body.get(20..20 + cap as usize) else {
                    break;
                };
                let linktype = links.get(iface).copied().unwrap_or(u32::MAX);
                out.push(Record {
                    linktype,
                    data: data.to_vec(),
                    orig_len: orig,
                });
            }
            3 => {
                // Simple packet block: interface 0, data up to the block end.
                let Some(orig) = u32_at(body, 0, le) else {
                    break;
                };
                let cap = (orig as usize).min(body.len().saturating_sub(4));
                let linktype = links.first().copied().unwrap_or(u32::MAX);
                out.push(Record {
                    linktype,
                    data: body[4..4 + cap].to_vec(),
                    orig_len: orig,
                });
            }
            _ => {}
        }
        off += blen;
    }
    out
}

/// Every frame of every Ethernet capture in the test-data folder, with its file name.
pub fn ethernet_frames(dir: &Path) -> Vec<(String, Record)> {
    let mut v = Vec::new();
    for f in capture_files(dir) {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for r in read_file(&f) {
            if r.linktype == LINKTYPE_ETHERNET {
                v.push((name.clone(), r));
            }
        }
    }
    v
}
