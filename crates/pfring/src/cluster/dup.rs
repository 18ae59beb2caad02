//! ip-with-dup clusters ([`ClusterType::PerFlowIpWithDupTuple`](crate::ClusterType::PerFlowIpWithDupTuple)) without a fanout group.
//!
//! A fanout group hands each packet to exactly one socket, but this type may deliver a
//! packet to two members. So the members are plain sockets on the device, each with a
//! socket filter whose prefix ([`super::dup_filter_prefix`]) keeps the packets with
//! `src_ip % n == me` or `dst_ip % n == me` (a member gets a packet once even when both
//! hold; non-IP packets go to member 0), followed by the ring's own filter (direction,
//! VLAN, queues, BPF filter, caplen).
//!
//! The members of a cluster id are coordinated in the process: a registry keyed by the
//! network namespace and the cluster id lists the member sockets in joining order; the
//! index of a member is its position, `n` the number of members. Joining appends, leaving
//! (remove_from_cluster, or dropping the ring) removes and shifts the later members down;
//! either way every member's filter is re-attached at once (each `SO_ATTACH_FILTER`
//! swaps atomically, but the members are updated one after the other: a packet arriving
//! during the update may be given out under the old or the new membership). A member that
//! is disabled keeps its index and rejects its packets (as PF_RING, where a queue index
//! whose ring does not read is not given to another member).
//!
//! Limitation: the registry is per process. Rings of another process that use the same
//! cluster id form a separate cluster of their own.

use std::os::unix::fs::MetadataExt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result, SyscallError};
use crate::filter::Insn;
use crate::filter::bpf::insn::op::{K, RET};
use crate::sys::socket::PacketSocket;

struct Member {
    token: u64,
    ifindex: i32,
    sock: PacketSocket,
    /// The ring's own filter; `None` while the ring is disabled (reject everything).
    base: Option<Vec<Insn>>,
}

struct Group {
    key: (u64, u16),
    members: Vec<Member>,
}

static GROUPS: Mutex<Vec<Group>> = Mutex::new(Vec::new());
static NEXT_TOKEN: AtomicU64 = AtomicU64::new(1);

/// A ring's place in an ip-with-dup cluster; dropping it leaves the cluster.
#[derive(Debug)]
pub(crate) struct DupMembership {
    key: (u64, u16),
    token: u64,
}

fn groups() -> std::sync::MutexGuard<'static, Vec<Group>> {
    // A panic while holding the lock leaves consistent data (every update is complete
    // before the next line): keep using it.
    GROUPS.lock().unwrap_or_else(|e| e.into_inner())
}

/// The network namespace of the calling thread (its inode), 0 if unknown.
fn netns() -> u64 {
    std::fs::metadata("/proc/thread-self/ns/net")
        .map(|m| m.ino())
        .unwrap_or(0)
}

/// Re-attaches every member's filter for the current membership.
fn refresh(members: &[Member]) -> Result<()> {
    let n = u32::try_from(members.len()).unwrap_or(u32::MAX);
    for (i, m) in members.iter().enumerate() {
        let mut prog = super::dup_filter_prefix(i as u32, n);
        match &m.base {
            Some(b) => prog.extend_from_slice(b),
            None => prog.push(Insn::stmt(RET | K, 0)),
        }
        crate::filter::bpf::insn::validate(&prog)?;
        m.sock.attach_filter(&prog).map_err(|e| {
            Error::Syscall(SyscallError {
                call: "setsockopt(SO_ATTACH_FILTER, ip-with-dup cluster)",
                source: e,
            })
        })?;
    }
    Ok(())
}

impl DupMembership {
    /// Adds `sock` (on `ifindex`) as the last member of cluster `id` with its own filter
    /// `base` (`None`: rejecting) and re-attaches every member's filter.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the cluster's members are on another device;
    /// [`Error::Syscall`] if a socket cannot be duplicated or a filter attached.
    pub(crate) fn join(
        id: u16,
        ifindex: i32,
        sock: &PacketSocket,
        base: Option<Vec<Insn>>,
    ) -> Result<DupMembership> {
        let key = (netns(), id);
        let sock = sock.try_clone().map_err(|e| {
            Error::Syscall(SyscallError {
                call: "dup(AF_PACKET socket)",
                source: e,
            })
        })?;
        let token = NEXT_TOKEN.fetch_add(1, Ordering::Relaxed);
        let mut gs = groups();
        let gi = match gs.iter().position(|g| g.key == key) {
            Some(i) => i,
            None => {
                gs.push(Group {
                    key,
                    members: Vec::new(),
                });
                gs.len() - 1
            }
        };
        let g = &mut gs[gi];
        if let Some(m) = g.members.first()
            && m.ifindex != ifindex
        {
            return Err(Error::InvalidArgument(format!(
                "cannot join cluster {id}: its members are on another device"
            )));
        }
        g.members.push(Member {
            token,
            ifindex,
            sock,
            base,
        });
        if let Err(e) = refresh(&g.members) {
            g.members.pop();
            let _ = refresh(&g.members);
            if g.members.is_empty() {
                gs.remove(gi);
            }
            return Err(e);
        }
        Ok(DupMembership { key, token })
    }

    /// Sets this member's own filter (`None`: reject everything, the ring is disabled).
    pub(crate) fn set_base(&self, base: Option<Vec<Insn>>) -> Result<()> {
        let mut gs = groups();
        let Some(g) = gs.iter_mut().find(|g| g.key == self.key) else {
            return Ok(());
        };
        let n = u32::try_from(g.members.len()).unwrap_or(u32::MAX);
        let Some(i) = g.members.iter().position(|m| m.token == self.token) else {
            return Ok(());
        };
        g.members[i].base = base;
        let m = &g.members[i];
        let mut prog = super::dup_filter_prefix(i as u32, n);
        match &m.base {
            Some(b) => prog.extend_from_slice(b),
            None => prog.push(Insn::stmt(RET | K, 0)),
        }
        crate::filter::bpf::insn::validate(&prog)?;
        m.sock.attach_filter(&prog).map_err(|e| {
            Error::Syscall(SyscallError {
                call: "setsockopt(SO_ATTACH_FILTER, ip-with-dup cluster)",
                source: e,
            })
        })
    }
}

impl Drop for DupMembership {
    fn drop(&mut self) {
        let mut gs = groups();
        let Some(gi) = gs.iter().position(|g| g.key == self.key) else {
            return;
        };
        let g = &mut gs[gi];
        g.members.retain(|m| m.token != self.token);
        if g.members.is_empty() {
            gs.remove(gi);
        } else {
            // The others move down: their filters change. A failure here cannot be
            // reported from drop; the next join or leave re-attaches them again.
            let _ = refresh(&g.members);
        }
    }
}
