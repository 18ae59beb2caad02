//! veth pairs inside a test namespace, and small interface helpers.

use std::process::Command;

use crate::error::{Error, Result};
use crate::netns::{NetNs, NetNsHandle};
use crate::sys;

/// Runs `ip ARGS...` inside the namespace of `ns` and checks its exit status.
///
/// # Errors
///
/// [`Error::Command`] with the exit status and standard error when `ip` fails or is missing.
pub fn ip(ns: &NetNsHandle, args: &[&str]) -> Result<()> {
    let mut cmd = ns.command("ip");
    cmd.args(args);
    run_checked(cmd, &format!("ip {}", args.join(" ")))
}

fn run_checked(mut cmd: Command, line: &str) -> Result<()> {
    let out = cmd.output().map_err(|e| Error::Command {
        cmd: line.to_string(),
        reason: e.to_string(),
    })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Error::Command {
            cmd: line.to_string(),
            reason: format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        })
    }
}

/// Interface index of `name` in the calling thread's network namespace.
///
/// # Errors
///
/// [`Error::Syscall`] (`ENODEV`) when there is no such interface.
pub fn ifindex(name: &str) -> Result<u32> {
    sys::if_index(name).map_err(|e| Error::sys(format!("SIOCGIFINDEX({name})"), e))
}

/// MAC address of `name` in the calling thread's network namespace.
///
/// # Errors
///
/// [`Error::Syscall`] when there is no such interface.
pub fn mac(name: &str) -> Result<[u8; 6]> {
    sys::if_hwaddr(name).map_err(|e| Error::sys(format!("SIOCGIFHWADDR({name})"), e))
}

/// Whether `name` exists in the calling thread's network namespace.
pub fn link_exists(name: &str) -> bool {
    sys::if_index(name).is_ok()
}

/// Whether `name` is administratively up (`IFF_UP`) in the calling thread's namespace.
///
/// # Errors
///
/// [`Error::Syscall`] when there is no such interface.
pub fn is_up(name: &str) -> Result<bool> {
    sys::if_flags(name)
        .map(|f| f & libc::IFF_UP != 0)
        .map_err(|e| Error::sys(format!("SIOCGIFFLAGS({name})"), e))
}

/// Whether `name` is in promiscuous mode (`IFF_PROMISC`) in the calling thread's namespace.
///
/// # Errors
///
/// [`Error::Syscall`] when there is no such interface.
pub fn is_promisc(name: &str) -> Result<bool> {
    sys::if_flags(name)
        .map(|f| f & libc::IFF_PROMISC != 0)
        .map_err(|e| Error::sys(format!("SIOCGIFFLAGS({name})"), e))
}

/// Sets or clears `IFF_PROMISC` on `name` in the calling thread's namespace.
///
/// # Errors
///
/// [`Error::PermissionDenied`] without `CAP_NET_ADMIN`, [`Error::Syscall`] otherwise.
pub fn set_promisc(name: &str, on: bool) -> Result<()> {
    let (set, clear) = if on {
        (libc::IFF_PROMISC, 0)
    } else {
        (0, libc::IFF_PROMISC)
    };
    sys::if_change_flags(name, set, clear)
        .map_err(|e| Error::sys_perm("SIOCSIFFLAGS(IFF_PROMISC)", "CAP_NET_ADMIN", e))
}

/// Brings `name` up or down in the calling thread's namespace.
///
/// # Errors
///
/// [`Error::PermissionDenied`] without `CAP_NET_ADMIN`, [`Error::Syscall`] otherwise.
pub fn set_up(name: &str, up: bool) -> Result<()> {
    let (set, clear) = if up {
        (libc::IFF_UP, 0)
    } else {
        (0, libc::IFF_UP)
    };
    sys::if_change_flags(name, set, clear)
        .map_err(|e| Error::sys_perm("SIOCSIFFLAGS(IFF_UP)", "CAP_NET_ADMIN", e))
}

/// Options for a [`VethPair`]: start from [`VethPair::builder`], finish with [`VethBuilder::create`].
#[derive(Debug, Clone)]
pub struct VethBuilder {
    a: String,
    b: String,
    queues: Option<u32>,
    mtu: Option<u32>,
    macs: Option<([u8; 6], [u8; 6])>,
    quiet: bool,
}

impl VethBuilder {
    /// Number of RX and TX queues on both ends (`numrxqueues N numtxqueues N`); default 1.
    pub fn queues(mut self, n: u32) -> Self {
        self.queues = Some(n);
        self
    }

    /// MTU of both ends; default the kernel's (1500).
    pub fn mtu(mut self, mtu: u32) -> Self {
        self.mtu = Some(mtu);
        self
    }

    /// Fixed MAC addresses for end A and end B; default random ones from the kernel.
    pub fn macs(mut self, a: [u8; 6], b: [u8; 6]) -> Self {
        self.macs = Some((a, b));
        self
    }

    /// Whether to suppress the kernel's own traffic (IPv6 link-local setup, DAD, router
    /// solicitations, MLD); default `true`. With it, an idle pair carries no frames at all.
    pub fn quiet(mut self, quiet: bool) -> Self {
        self.quiet = quiet;
        self
    }

    /// Creates the pair inside `ns`; the calling thread must be inside `ns`.
    ///
    /// # Errors
    ///
    /// [`Error::WrongNamespace`] when the thread is not inside `ns` (a guard against touching the
    /// host's interfaces); [`Error::Command`] when `ip` fails (e.g. a name is taken or too long).
    pub fn create(self, ns: &NetNs) -> Result<VethPair<'_>> {
        ns.ensure_current("create veth pair")?;
        for name in [&self.a, &self.b] {
            if name.is_empty() || name.len() >= libc::IFNAMSIZ || name.contains(['/', ' ']) {
                return Err(Error::InvalidArgument(format!("interface name {name:?}")));
            }
        }
        let handle = ns.handle();
        let q = self.queues.map(|n| n.to_string());
        let mut args: Vec<&str> = vec!["link", "add", "name", &self.a];
        if let Some(q) = &q {
            args.extend(["numrxqueues", q, "numtxqueues", q]);
        }
        args.extend(["type", "veth", "peer", "name", &self.b]);
        if let Some(q) = &q {
            args.extend(["numrxqueues", q, "numtxqueues", q]);
        }
        ip(&handle, &args)?;
        // From here on, dropping `pair` deletes the link again if a later step fails.
        let pair = VethPair {
            a: self.a,
            b: self.b,
            queues: self.queues.unwrap_or(1),
            ns,
        };
        for (name, mac) in [
            (&pair.a, self.macs.map(|m| m.0)),
            (&pair.b, self.macs.map(|m| m.1)),
        ] {
            if self.quiet {
                quiet_link(&handle, name);
            }
            if let Some(mtu) = self.mtu {
                ip(
                    &handle,
                    &["link", "set", "dev", name, "mtu", &mtu.to_string()],
                )?;
            }
            if let Some(mac) = mac {
                ip(
                    &handle,
                    &["link", "set", "dev", name, "address", &format_mac(&mac)],
                )?;
            }
        }
        for name in [&pair.a, &pair.b] {
            set_up(name, true)?;
        }
        for name in [&pair.a, &pair.b] {
            wait_operational(&handle, name)?;
        }
        Ok(pair)
    }
}

/// Waits (at most 5 s) until the kernel has processed `name`'s carrier coming up: its
/// operational state is UP and its qdisc is no longer `noop`. Both happen later than `IFF_UP`,
/// in the kernel's link-watch work (`linkwatch_do_dev`: operstate, then `dev_activate`); until
/// then the device drops what is sent on it (counted as TX dropped), so a frame sent right
/// after creation could be lost.
fn wait_operational(ns: &NetNsHandle, name: &str) -> Result<()> {
    let line = format!("ip -o link show dev {name}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let out = ns
            .command("ip")
            .args(["-o", "link", "show", "dev", name])
            .output()
            .map_err(|e| Error::Command {
                cmd: line.clone(),
                reason: e.to_string(),
            })?;
        let text = String::from_utf8_lossy(&out.stdout);
        if out.status.success() && text.contains(" state UP ") && !text.contains(" qdisc noop ") {
            return Ok(());
        }
        if std::time::Instant::now() >= deadline {
            return Err(Error::Command {
                cmd: line,
                reason: format!("{name} not operational after 5 s: {}", text.trim()),
            });
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// Stops the kernel from sending frames of its own on `name` (best effort; each step is
/// optional when the kernel has no IPv6).
fn quiet_link(ns: &NetNsHandle, name: &str) {
    // No IPv6 link-local address: no DAD, no router solicitation, no MLD report.
    let _ = ip(ns, &["link", "set", "dev", name, "addrgenmode", "none"]);
    // And IPv6 off altogether. /proc/sys/net shows the namespace of the *reading thread*
    // (net sysctls are looked up via current->nsproxy), so write it from the namespace.
    let path = format!("/proc/sys/net/ipv6/conf/{name}/disable_ipv6");
    let _ = ns.run_in(|| std::fs::write(&path, "1"));
}

/// Formats a MAC address as `aa:bb:cc:dd:ee:ff`.
pub fn format_mac(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A veth pair (two linked virtual Ethernet interfaces) inside a test [`NetNs`].
///
/// A frame sent on one end arrives on the other. Created up, without addresses and (by default)
/// quiet: no frame crosses it that the test did not send. Dropping the guard deletes the pair
/// (best effort); the namespace's end deletes it anyway.
#[derive(Debug)]
pub struct VethPair<'ns> {
    a: String,
    b: String,
    queues: u32,
    ns: &'ns NetNs,
}

impl<'ns> VethPair<'ns> {
    /// Starts building a pair named `a` and `b` (at most 15 bytes each).
    pub fn builder(a: impl Into<String>, b: impl Into<String>) -> VethBuilder {
        VethBuilder {
            a: a.into(),
            b: b.into(),
            queues: None,
            mtu: None,
            macs: None,
            quiet: true,
        }
    }

    /// Creates a quiet pair `a`/`b` with default options inside `ns` (the current thread's).
    ///
    /// # Errors
    ///
    /// As [`VethBuilder::create`].
    pub fn new(ns: &'ns NetNs, a: &str, b: &str) -> Result<VethPair<'ns>> {
        Self::builder(a, b).create(ns)
    }

    /// Name of end A.
    pub fn a(&self) -> &str {
        &self.a
    }

    /// Name of end B.
    pub fn b(&self) -> &str {
        &self.b
    }

    /// Number of RX and TX queues of each end (1 unless [`VethBuilder::queues`] said otherwise).
    pub fn num_queues(&self) -> u32 {
        self.queues
    }

    /// The namespace the pair lives in.
    pub fn netns(&self) -> &'ns NetNs {
        self.ns
    }

    /// Interface index of end A.
    ///
    /// # Errors
    ///
    /// When the calling thread is not in the pair's namespace.
    pub fn ifindex_a(&self) -> Result<u32> {
        ifindex(&self.a)
    }

    /// Interface index of end B.
    ///
    /// # Errors
    ///
    /// When the calling thread is not in the pair's namespace.
    pub fn ifindex_b(&self) -> Result<u32> {
        ifindex(&self.b)
    }

    /// MAC address of end A.
    ///
    /// # Errors
    ///
    /// When the calling thread is not in the pair's namespace.
    pub fn mac_a(&self) -> Result<[u8; 6]> {
        mac(&self.a)
    }

    /// MAC address of end B.
    ///
    /// # Errors
    ///
    /// When the calling thread is not in the pair's namespace.
    pub fn mac_b(&self) -> Result<[u8; 6]> {
        mac(&self.b)
    }

    /// Runs `ethtool ARGS...` inside the pair's namespace (e.g. `["-K", "vb", "gro", "on"]`).
    ///
    /// # Errors
    ///
    /// [`Error::Command`] when `ethtool` fails or is missing.
    pub fn ethtool(&self, args: &[&str]) -> Result<()> {
        let mut cmd = self.ns.command("ethtool");
        cmd.args(args);
        run_checked(cmd, &format!("ethtool {}", args.join(" ")))
    }

    /// Runs `ip ARGS...` inside the pair's namespace.
    ///
    /// # Errors
    ///
    /// [`Error::Command`] when `ip` fails.
    pub fn ip(&self, args: &[&str]) -> Result<()> {
        ip(&self.ns.handle(), args)
    }

    /// Takes end `a` down (`up == false`) or brings it up again; up returns once both ends
    /// are operational again (as [`VethBuilder::create`] does). The calling thread must be
    /// inside the pair's namespace.
    ///
    /// # Errors
    ///
    /// As [`set_up`], and [`Error::Command`] when the link does not come back within 5 s.
    pub fn set_a_up(&self, up: bool) -> Result<()> {
        self.ns.ensure_current("set a veth end up or down")?;
        set_up(&self.a, up)?;
        if up {
            let handle = self.ns.handle();
            for name in [&self.a, &self.b] {
                wait_operational(&handle, name)?;
            }
        }
        Ok(())
    }
}

impl Drop for VethPair<'_> {
    fn drop(&mut self) {
        // Deleting one end deletes both. Runs in the namespace whatever thread drops us.
        let _ = ip(&self.ns.handle(), &["link", "del", "dev", &self.a]);
    }
}
