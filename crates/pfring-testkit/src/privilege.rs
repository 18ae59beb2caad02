//! Privilege checks for live tests, and dropping privileges for permission tests.

use std::process::Command;
use std::sync::OnceLock;

use crate::netns::NetNs;
use crate::sys;

/// The environment variable that turns a skip into a failure (CI sets it to `1`).
pub const REQUIRE_PRIVILEGED_ENV: &str = "PFRING_REQUIRE_PRIVILEGED";

/// uid and gid of `nobody` / `nogroup`.
pub const NOBODY: u32 = 65534;

/// Why live tests cannot run here, or `None` when they can.
///
/// Tries the real thing once per process (on a short-lived helper thread): create a network
/// namespace, bring `lo` up, open an `AF_PACKET` socket inside it, and run `ip -V`.
pub fn privilege_problem() -> Option<String> {
    static PROBLEM: OnceLock<Option<String>> = OnceLock::new();
    PROBLEM
        .get_or_init(|| {
            let probe = std::thread::Builder::new()
                .name("privilege-probe".into())
                .spawn(|| -> Option<String> {
                    let ns = match NetNs::new() {
                        Ok(ns) => ns,
                        Err(e) => return Some(format!("cannot create a network namespace: {e}")),
                    };
                    if let Err(e) = sys::packet_socket() {
                        return Some(format!(
                            "cannot open an AF_PACKET socket (needs CAP_NET_RAW): {e}"
                        ));
                    }
                    if let Err(e) = ns.output(Command::new("ip").arg("-V")) {
                        return Some(format!("iproute2 `ip` is not usable: {e}"));
                    }
                    None
                });
            match probe.map(|t| t.join()) {
                Ok(Ok(p)) => p,
                Ok(Err(_)) => Some("privilege probe panicked".into()),
                Err(e) => Some(format!("cannot spawn the privilege probe thread: {e}")),
            }
        })
        .clone()
}

/// Whether live test `test` can run. When it cannot, prints `skipping <test>: <reason>` on
/// stderr and returns `false` — or panics with the reason when `PFRING_REQUIRE_PRIVILEGED=1`.
///
/// # Panics
///
/// When privileges are missing and [`REQUIRE_PRIVILEGED_ENV`] is `1`.
pub fn privileged_or_skip(test: &str) -> bool {
    match privilege_problem() {
        None => true,
        Some(reason) => {
            if std::env::var(REQUIRE_PRIVILEGED_ENV).is_ok_and(|v| v == "1") {
                panic!(
                    "{test}: {reason} ({REQUIRE_PRIVILEGED_ENV}=1, so this is a failure, not a skip)"
                );
            }
            eprintln!("skipping {test}: {reason}");
            false
        }
    }
}

/// Returns from the enclosing test (after printing a skip reason) when live tests cannot run;
/// fails instead when `PFRING_REQUIRE_PRIVILEGED=1`. See [`privileged_or_skip`].
///
/// ```no_run
/// #[test]
/// fn live() {
///     pfring_testkit::require_privileged!();
///     // ... NetNs::new(), VethPair::new(...)
/// }
/// ```
#[macro_export]
macro_rules! require_privileged {
    () => {{
        fn __here() {}
        let name = ::std::any::type_name_of_val(&__here);
        let name = name.strip_suffix("::__here").unwrap_or(name);
        if !$crate::privileged_or_skip(name) {
            return;
        }
    }};
}

/// Makes `cmd` run as `nobody`/`nogroup` (uid/gid 65534) with no supplementary groups, no
/// capabilities and `no_new_privs`, for permission-denied tests. Returns `cmd` for chaining.
///
/// The switch is a `pre_exec` hook, so it composes with [`NetNs::command`] (whose namespace
/// hook, registered first, runs while the child is still root).
pub fn run_as_nobody(cmd: &mut Command) -> &mut Command {
    sys::command_drop_privileges(cmd, NOBODY, NOBODY);
    cmd
}
