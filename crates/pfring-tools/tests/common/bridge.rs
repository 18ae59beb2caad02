//! Shared by the pfbridge tests (`pfcount.rs`, `xdp_tools.rs`): a pfbridge child between two
//! veth pairs, frames sent in at both ends and collected at the other.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use pfring_testkit::{RawReceiver, RawSender, VethPair};

/// A running pfbridge, past its banner; killed on drop if still running.
pub struct Bridge {
    child: Child,
    out: BufReader<ChildStdout>,
}

impl Bridge {
    /// Starts pfbridge with `args` and waits (at most 10 s) for a line starting with `banner`,
    /// i.e. for its rings to be enabled.
    pub fn start(args: &[&str], banner: &str) -> Bridge {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pfbridge"))
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn pfbridge");
        let mut out = BufReader::new(child.stdout.take().expect("piped stdout"));
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut line = String::new();
        while Instant::now() < deadline {
            line.clear();
            if out.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            if line.starts_with(banner) {
                // Let the forwarding threads reach their first receive.
                std::thread::sleep(Duration::from_millis(50));
                return Bridge { child, out };
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("pfbridge printed no line starting with {banner:?} (last: {line:?})");
    }

    /// Sends `forth` into `ab.a()` and `back` into `cd.b()` and returns what arrived at
    /// `cd.b()` and at `ab.a()`, in order (each collected until 500 ms pass without a frame).
    pub fn exchange(
        &self,
        ab: &VethPair<'_>,
        cd: &VethPair<'_>,
        forth: &[Vec<u8>],
        back: &[Vec<u8>],
    ) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
        let at_d = RawReceiver::new(cd.b()).unwrap();
        let at_a = RawReceiver::new(ab.a()).unwrap();
        RawSender::new(ab.a()).unwrap().send_all(forth).unwrap();
        RawSender::new(cd.b()).unwrap().send_all(back).unwrap();
        let collect = |r: &RawReceiver, n: usize| -> Vec<Vec<u8>> {
            r.collect(
                2 * n + 10,
                Duration::from_millis(500),
                Duration::from_secs(10),
            )
            .unwrap()
            .into_iter()
            .map(|p| p.data)
            .collect()
        };
        (collect(&at_d, forth.len()), collect(&at_a, back.len()))
    }

    /// Stops pfbridge with SIGTERM (killed after 10 s), asserts it exited cleanly, and returns
    /// the rest of its output.
    pub fn stop(mut self) -> String {
        // SIGTERM: we started this child, so we may signal it by its pid.
        let st = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break st;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                break self.child.wait().unwrap();
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let mut rest = String::new();
        self.out.read_to_string(&mut rest).unwrap();
        assert!(status.success(), "{rest}");
        rest
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
