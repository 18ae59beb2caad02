//! ip-with-dup clusters ([`ClusterType::PerFlowIpWithDupTuple`](crate::ClusterType::PerFlowIpWithDupTuple)) without a fanout group.
//!
//! A fanout group hands each packet to exactly one socket, but this type may deliver a
//! packet to two members. So the members are plain sockets on the device, each with a
//! socket filter whose prefix ([`super::dup_filter_prefix`]) keeps the packets with
//! `src_ip % n == me` or `dst_ip % n == me` (a member gets a packet once even when both
//! hold; non-IP packets go to member 0), followed by the ring's own filter (direction,
//! VLAN, queues, BPF filter, caplen).
//!
//! # Coordination (threads and processes)
//!
//! The members of a cluster id in a network namespace are listed, in joining order, in a
//! small file, `<runtime dir>/dup/dup-<netns inode>-<id>` (`/run/pfring/dup/` for root): one line per member with its process
//! id, its socket's descriptor number and inode, its device and its own filter. Every
//! change takes an exclusive `flock` on the file:
//!
//! - joining appends the ring; leaving (`remove_from_cluster`) or dropping the ring removes
//!   it, and the later members move down;
//! - after every change the process making it re-attaches **every** member's filter for the
//!   new index and count; it reaches the sockets of other processes with
//!   `pidfd_getfd(2)` (Linux ≥ 5.6, needs ptrace permission over them: root, or
//!   `CAP_SYS_PTRACE`; without it the join fails with the error);
//! - members whose process has exited (or whose descriptor no longer is the same socket) are
//!   dropped from the list at the next change; until then their share is not delivered (as a
//!   PF_RING queue index whose ring is gone);
//! - each `SO_ATTACH_FILTER` swaps atomically, but the members are updated one after the
//!   other: a packet arriving during an update may be given out under the old or the new
//!   membership;
//! - a disabled ring keeps its index and rejects its share (as PF_RING, where a queue index
//!   whose ring does not read is not given to another member).

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use crate::error::{Error, Result, SyscallError};
use crate::filter::Insn;
use crate::filter::bpf::insn::op::{K, RET};
use crate::sys::socket::PacketSocket;

/// Where the member lists live: `dup/` in the runtime directory (`/run/pfring` for root).
fn dir() -> PathBuf {
    crate::backend::packet::runtime_dir().join("dup")
}

/// One member of the list.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    pid: i32,
    fd: i32,
    ino: u64,
    ifindex: i32,
    /// The ring's own filter; `None` while the ring is disabled (reject everything).
    base: Option<Vec<Insn>>,
}

impl Entry {
    fn line(&self) -> String {
        let base = match &self.base {
            None => "-".to_string(),
            Some(b) => b
                .iter()
                .map(|i| format!("{:04x}{:02x}{:02x}{:08x}", i.code, i.jt, i.jf, i.k))
                .collect(),
        };
        format!(
            "{} {} {} {} {}\n",
            self.pid, self.fd, self.ino, self.ifindex, base
        )
    }

    fn parse(line: &str) -> Option<Entry> {
        let mut w = line.split_ascii_whitespace();
        let pid = w.next()?.parse().ok()?;
        let fd = w.next()?.parse().ok()?;
        let ino = w.next()?.parse().ok()?;
        let ifindex = w.next()?.parse().ok()?;
        let b = w.next()?;
        let base = if b == "-" {
            None
        } else {
            if !b.len().is_multiple_of(16) || !b.is_ascii() {
                return None;
            }
            let hex = |s: &str| u32::from_str_radix(s, 16).ok();
            let mut v = Vec::with_capacity(b.len() / 16);
            for c in b.as_bytes().chunks(16) {
                let c = std::str::from_utf8(c).ok()?;
                v.push(Insn {
                    code: hex(&c[0..4])? as u16,
                    jt: hex(&c[4..6])? as u8,
                    jf: hex(&c[6..8])? as u8,
                    k: hex(&c[8..16])?,
                });
            }
            Some(v)
        };
        Some(Entry {
            pid,
            fd,
            ino,
            ifindex,
            base,
        })
    }
}

/// A ring's place in an ip-with-dup cluster; dropping it leaves the cluster.
#[derive(Debug)]
pub(crate) struct DupMembership {
    path: PathBuf,
    /// A descriptor of the ring's socket owned by the membership, so its number stays valid
    /// for the other members while the membership lives.
    sock: PacketSocket,
    ino: u64,
}

/// The network namespace of the calling thread (its inode), 0 if unknown.
fn netns() -> u64 {
    std::fs::metadata("/proc/thread-self/ns/net")
        .map(|m| m.ino())
        .unwrap_or(0)
}

/// Runs `f` on the member list of `path` under an exclusive lock, then writes it back
/// (removing the file when the list is empty).
fn with_list<R>(path: &PathBuf, f: impl FnOnce(&mut Vec<Entry>) -> Result<R>) -> Result<R> {
    std::fs::create_dir_all(dir()).map_err(Error::syscall("mkdir(<runtime dir>/dup)"))?;
    let mut file = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(Error::syscall("open(ip-with-dup cluster list)"))?;
    file.lock()
        .map_err(Error::syscall("flock(ip-with-dup cluster list)"))?;
    let mut text = String::new();
    file.read_to_string(&mut text)
        .map_err(Error::syscall("read(ip-with-dup cluster list)"))?;
    let mut list: Vec<Entry> = text.lines().filter_map(Entry::parse).collect();
    let before = list.clone();
    let r = f(&mut list);
    if list != before {
        let text: String = list.iter().map(Entry::line).collect();
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(text.as_bytes()))
            .map_err(Error::syscall("write(ip-with-dup cluster list)"))?;
        if list.is_empty() {
            let _ = std::fs::remove_file(path);
        }
    }
    r
}

/// The socket of member `e`, if it still exists: `None` when its process is gone or the
/// descriptor no longer is the same socket.
fn socket_of(e: &Entry) -> Result<Option<PacketSocket>> {
    match crate::sys::pidfd::fd_of_process(e.pid, e.fd) {
        Ok(fd) => {
            let s = PacketSocket::from_owned(fd);
            match s.inode() {
                Ok(ino) if ino == e.ino => Ok(Some(s)),
                _ => Ok(None),
            }
        }
        Err(err) => match err.raw_os_error() {
            Some(libc::ESRCH) | Some(libc::EBADF) => Ok(None),
            _ => Err(Error::Syscall(SyscallError {
                call: "pidfd_getfd (re-filtering an ip-with-dup cluster member)",
                source: err,
            })),
        },
    }
}

/// Drops vanished members, then re-attaches every member's filter for its index.
fn refresh(list: &mut Vec<Entry>) -> Result<()> {
    let mut socks = Vec::with_capacity(list.len());
    let mut kept = Vec::with_capacity(list.len());
    for e in list.drain(..) {
        if let Some(s) = socket_of(&e)? {
            socks.push(s);
            kept.push(e);
        }
    }
    *list = kept;
    let n = u32::try_from(list.len()).unwrap_or(u32::MAX);
    for (i, (e, s)) in list.iter().zip(&socks).enumerate() {
        let mut prog = super::dup_filter_prefix(i as u32, n);
        match &e.base {
            Some(b) => prog.extend_from_slice(b),
            None => prog.push(Insn::stmt(RET | K, 0)),
        }
        crate::filter::bpf::insn::validate(&prog)?;
        s.attach_filter(&prog).map_err(Error::syscall(
            "setsockopt(SO_ATTACH_FILTER, ip-with-dup cluster)",
        ))?;
    }
    Ok(())
}

impl DupMembership {
    /// Adds `sock` (on `ifindex`) as the last member of cluster `id` with its own filter
    /// `base` (`None`: rejecting) and re-attaches every member's filter.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the cluster's members are on another device;
    /// [`Error::Syscall`] if the list cannot be used, another member's socket cannot be
    /// reached (`pidfd_getfd`) or a filter cannot be attached.
    pub(crate) fn join(
        id: u16,
        ifindex: i32,
        sock: &PacketSocket,
        base: Option<Vec<Insn>>,
    ) -> Result<DupMembership> {
        let path = dir().join(format!("dup-{}-{id}", netns()));
        let sock = sock
            .try_clone()
            .map_err(Error::syscall("dup(AF_PACKET socket)"))?;
        let ino = sock
            .inode()
            .map_err(Error::syscall("fstat(AF_PACKET socket)"))?;
        let me = Entry {
            pid: std::process::id() as i32,
            fd: sock.raw_fd(),
            ino,
            ifindex,
            base,
        };
        with_list(&path, |list| {
            // Vanished members first, so the device check sees live ones only.
            refresh(list)?;
            if let Some(e) = list.first()
                && e.ifindex != ifindex
            {
                return Err(Error::InvalidArgument(format!(
                    "cannot join cluster {id}: its members are on another device"
                )));
            }
            list.push(me.clone());
            if let Err(e) = refresh(list) {
                list.retain(|x| *x != me);
                let _ = refresh(list);
                return Err(e);
            }
            Ok(())
        })?;
        Ok(DupMembership { path, sock, ino })
    }

    fn is_me(&self, e: &Entry) -> bool {
        e.pid == std::process::id() as i32 && e.fd == self.sock.raw_fd() && e.ino == self.ino
    }

    /// Sets this member's own filter (`None`: reject everything, the ring is disabled).
    pub(crate) fn set_base(&self, base: Option<Vec<Insn>>) -> Result<()> {
        with_list(&self.path, |list| {
            if let Some(e) = list.iter_mut().find(|e| self.is_me(e)) {
                e.base = base;
            }
            refresh(list)
        })
    }
}

impl Drop for DupMembership {
    fn drop(&mut self) {
        // A failure cannot be reported from drop; the next change re-attaches the filters.
        let _ = with_list(&self.path, |list| {
            list.retain(|e| !self.is_me(e));
            refresh(list)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip() {
        let e = Entry {
            pid: 42,
            fd: 7,
            ino: 123_456,
            ifindex: 3,
            base: Some(vec![
                Insn::stmt(RET | K, 0xffff),
                Insn::jump(0x15, 0x800, 1, 2),
            ]),
        };
        assert_eq!(Entry::parse(&e.line()), Some(e.clone()));
        let none = Entry { base: None, ..e };
        assert_eq!(Entry::parse(&none.line()), Some(none));
        for bad in [
            "",
            "1 2 3",
            "x 2 3 4 -",
            "1 2 3 4 0006000000",
            "1 2 3 4 zz06000000000000",
        ] {
            assert_eq!(Entry::parse(bad), None, "{bad:?}");
        }
    }
}
