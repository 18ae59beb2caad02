//! The cluster's shared-memory region: a memfd (huge pages when the system has them) and a
//! descriptor file in the runtime directory that tells slaves where to find it.
//!
//! The descriptor file `<dir>/cluster-<id>` (mode 0600, directory 0700) holds one line:
//! `pfring-zc 1 <master pid> <memfd number> <size> <master start time>`. A slave checks the
//! file's owner (it must be the slave's own effective uid, else
//! [`Error::PermissionDenied`]), that the master is alive, then opens the memfd through
//! `/proc/<pid>/fd/<n>` and maps it. The memfd itself is mode 0600 too.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::proc;
use crate::sys::{self, Mapping};

/// Environment variable that overrides the runtime directory.
pub const DIR_ENV: &str = "PFRING_ZC_DIR";

/// The directory of cluster descriptor files: `$PFRING_ZC_DIR` if set, else
/// `/run/pfring/zc` for root, else `$XDG_RUNTIME_DIR/pfring/zc`, else
/// `/tmp/pfring-zc-<uid>`.
pub fn runtime_dir() -> PathBuf {
    if let Some(d) = std::env::var_os(DIR_ENV) {
        return PathBuf::from(d);
    }
    let uid = sys::euid();
    if uid == 0 {
        return PathBuf::from("/run/pfring/zc");
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) => PathBuf::from(d).join("pfring/zc"),
        None => PathBuf::from(format!("/tmp/pfring-zc-{uid}")),
    }
}

/// The descriptor file of cluster `id` in `dir`.
pub fn descriptor_path(dir: &Path, id: u32) -> PathBuf {
    dir.join(format!("cluster-{id}"))
}

/// What a descriptor file says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Descriptor {
    pub pid: u32,
    pub fd: i32,
    pub size: u64,
    pub start: u64,
}

impl Descriptor {
    fn parse(s: &str) -> Option<Self> {
        let mut f = s.split_ascii_whitespace();
        if f.next()? != "pfring-zc" || f.next()? != "1" {
            return None;
        }
        let d = Descriptor {
            pid: f.next()?.parse().ok()?,
            fd: f.next()?.parse().ok()?,
            size: f.next()?.parse().ok()?,
            start: f.next()?.parse().ok()?,
        };
        (d.fd >= 0 && d.pid != 0).then_some(d)
    }

    fn line(&self) -> String {
        format!(
            "pfring-zc 1 {} {} {} {}\n",
            self.pid, self.fd, self.size, self.start
        )
    }
}

/// A mapped cluster region.
#[derive(Debug)]
pub(crate) struct Region {
    pub map: Arc<Mapping>,
    pub layout: Layout,
    /// The memfd (master only: keeps it open so slaves can reach it through /proc).
    _fd: Option<OwnedFd>,
    /// The descriptor file, removed on drop (master only).
    pub path: Option<PathBuf>,
    /// True when the memory is backed by huge pages.
    pub huge: bool,
}

impl Drop for Region {
    fn drop(&mut self) {
        if let Some(p) = &self.path {
            let _ = fs::remove_file(p);
        }
    }
}

const HUGE_PAGE: usize = 2 << 20;

fn sized_memfd(name: &str, len: usize, huge: bool) -> std::io::Result<(OwnedFd, Mapping)> {
    let fd = sys::memfd(name, huge)?;
    let f = File::from(fd);
    f.set_len(len as u64)?;
    f.set_permissions(fs::Permissions::from_mode(0o600))?;
    let fd = OwnedFd::from(f);
    let map = Mapping::map_fd(fd.as_fd(), len)?;
    Ok((fd, map))
}

impl Region {
    /// An in-process region (anonymous shared memory, no descriptor file).
    pub(crate) fn anonymous(layout: Layout) -> Result<Self> {
        let map = Mapping::anonymous(layout.total).map_err(|e| Error::sys("mmap", e))?;
        Ok(Region {
            map: Arc::new(map),
            layout,
            _fd: None,
            path: None,
            huge: false,
        })
    }

    /// Another view of the same memory, owning neither the memfd nor the descriptor file.
    pub(crate) fn view(&self) -> Self {
        Region {
            map: self.map.clone(),
            layout: self.layout,
            _fd: None,
            path: None,
            huge: self.huge,
        }
    }

    /// Creates the memfd region and the descriptor file of cluster `id` in `dir`.
    pub(crate) fn create(id: u32, layout: Layout, dir: &Path, huge_pages: bool) -> Result<Self> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| Error::sys("mkdir runtime dir", e))?;
        let path = descriptor_path(dir, id);
        match fs::read_to_string(&path) {
            Ok(s) => {
                if let Some(d) = Descriptor::parse(&s)
                    && proc::alive(d.pid, d.start)
                {
                    return Err(Error::ClusterExists { id, pid: d.pid });
                }
                // Stale: its master is gone.
                let _ = fs::remove_file(&path);
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(Error::sys("read cluster descriptor", e)),
        }
        let name = format!("pfring-zc-{id}");
        let mut huge = false;
        let mut mapped = None;
        if huge_pages {
            match sized_memfd(&name, layout.total.next_multiple_of(HUGE_PAGE), true) {
                Ok(m) => {
                    huge = true;
                    mapped = Some(m);
                }
                Err(e) => eprintln!(
                    "pfring-zc: note: no huge pages for cluster {id} ({e}); using 4 KiB pages"
                ),
            }
        }
        let (fd, map) = match mapped {
            Some(m) => m,
            None => sized_memfd(&name, layout.total, false).map_err(|e| Error::sys("memfd", e))?,
        };
        let me = std::process::id();
        let desc = Descriptor {
            pid: me,
            fd: fd.as_raw_fd(),
            size: map.len() as u64,
            start: proc::start_time(me).unwrap_or(0),
        };
        let tmp = dir.join(format!(".cluster-{id}.{me}.tmp"));
        let write = || -> std::io::Result<()> {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(desc.line().as_bytes())?;
            fs::rename(&tmp, &path)
        };
        if let Err(e) = write() {
            let _ = fs::remove_file(&tmp);
            return Err(Error::sys("write cluster descriptor", e));
        }
        Ok(Region {
            map: Arc::new(map),
            layout,
            _fd: Some(fd),
            path: Some(path),
            huge,
        })
    }

    /// Maps the region of cluster `id` described in `dir`. Returns the region and the
    /// descriptor (master pid and start time).
    pub(crate) fn attach(id: u32, dir: &Path) -> Result<(Self, Descriptor)> {
        let path = descriptor_path(dir, id);
        let meta = match fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(Error::NoSuchCluster { id, path });
            }
            Err(e) => return Err(Error::sys("stat cluster descriptor", e)),
        };
        let uid = sys::euid();
        check_owner(id, &path, meta.uid(), uid)?;
        let s = fs::read_to_string(&path).map_err(|e| Error::sys("read cluster descriptor", e))?;
        let d = Descriptor::parse(&s)
            .ok_or_else(|| Error::corrupt(format!("unreadable descriptor {}", path.display())))?;
        if !proc::alive(d.pid, d.start) {
            return Err(Error::MasterGone { id, pid: d.pid });
        }
        let f = match OpenOptions::new()
            .read(true)
            .write(true)
            .open(format!("/proc/{}/fd/{}", d.pid, d.fd))
        {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(Error::MasterGone { id, pid: d.pid });
            }
            Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                return Err(Error::PermissionDenied {
                    id,
                    owner: meta.uid(),
                    uid,
                    path,
                });
            }
            Err(e) => return Err(Error::sys("open cluster memory", e)),
        };
        let fmeta = f
            .metadata()
            .map_err(|e| Error::sys("stat cluster memory", e))?;
        if fmeta.uid() != uid {
            return Err(Error::PermissionDenied {
                id,
                owner: fmeta.uid(),
                uid,
                path,
            });
        }
        let len = usize::try_from(fmeta.len())
            .ok()
            .filter(|&l| l > 0 && l as u64 == d.size)
            .ok_or_else(|| {
                Error::corrupt(format!(
                    "memory is {} bytes, descriptor says {}",
                    fmeta.len(),
                    d.size
                ))
            })?;
        let map = Mapping::map_fd(f.as_fd(), len).map_err(|e| Error::sys("mmap", e))?;
        let layout = Layout::read(&map)?;
        Ok((
            Region {
                map: Arc::new(map),
                layout,
                _fd: None,
                path: None,
                huge: false,
            },
            d,
        ))
    }
}

/// Refuses a cluster owned by another user (root included: the cluster's memory is private
/// to the user who created it).
pub(crate) fn check_owner(id: u32, path: &Path, owner: u32, uid: u32) -> Result<()> {
    if owner != uid {
        return Err(Error::PermissionDenied {
            id,
            owner,
            uid,
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptor_round_trip_and_rejects() {
        let d = Descriptor {
            pid: 12,
            fd: 3,
            size: 4096,
            start: 99,
        };
        assert_eq!(Descriptor::parse(&d.line()), Some(d));
        assert_eq!(Descriptor::parse("pfring-zc 2 1 3 4096 9"), None);
        assert_eq!(Descriptor::parse("pfring-zc 1 0 3 4096 9"), None);
        assert_eq!(Descriptor::parse("pfring-zc 1 5 -1 4096 9"), None);
        assert_eq!(Descriptor::parse("pfring-zc 1 5 3"), None);
        assert_eq!(Descriptor::parse(""), None);
    }

    #[test]
    fn owner_check() {
        let p = Path::new("/x");
        assert!(check_owner(1, p, 1000, 1000).is_ok());
        let e = check_owner(1, p, 1000, 0).unwrap_err();
        assert!(e.to_string().contains("belongs to uid 1000"), "{e}");
    }
}
