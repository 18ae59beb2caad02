//! Shared by the tools' integration tests: a pfcount child process.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const PFCOUNT: &str = env!("CARGO_BIN_EXE_pfcount");

/// A pfcount child started inside the current thread's namespace, killed on drop if still
/// running.
pub struct Pfcount {
    pub child: Child,
    /// `None` once the banner was seen, then `Some(stdout)` when the pipe closes.
    stdout_rx: Option<std::sync::mpsc::Receiver<Option<String>>>,
}

impl Pfcount {
    /// Starts pfcount and waits (≤ 10 s) until it prints its banner, i.e. captures.
    pub fn start(args: &[&str]) -> Pfcount {
        let mut child = Command::new(PFCOUNT)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn pfcount");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            let mut all = String::new();
            let mut line = String::new();
            let mut announced = false;
            while r.read_line(&mut line).unwrap_or(0) > 0 {
                all.push_str(&line);
                if !announced && line.starts_with("# Polling threads") {
                    let _ = tx.send(None);
                    announced = true;
                }
                line.clear();
            }
            let _ = tx.send(Some(all));
        });
        let mut p = Pfcount {
            child,
            stdout_rx: None,
        };
        let started = rx.recv_timeout(Duration::from_secs(10));
        p.stdout_rx = Some(rx);
        if !matches!(started, Ok(None)) {
            let err = p.finish(Duration::from_secs(1)).2;
            panic!("pfcount did not start: {started:?} {err}");
        }
        p
    }

    /// Waits (≤ `timeout`) for exit, killing it after that; returns (status, stdout, stderr).
    pub fn finish(&mut self, timeout: Duration) -> (ExitStatus, String, String) {
        let deadline = Instant::now() + timeout;
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
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        let out = self
            .stdout_rx
            .take()
            .and_then(|rx| {
                // The reader thread sends the whole stdout once the pipe closes.
                loop {
                    match rx.recv_timeout(Duration::from_secs(5)) {
                        Ok(Some(all)) => return Some(all),
                        Ok(None) => continue,
                        Err(_) => return None,
                    }
                }
            })
            .unwrap_or_default();
        (status, out, err)
    }

    pub fn signal(&self, sig: i32) {
        // The child's pid is ours to signal: we started it.
        let st = Command::new("kill")
            .args([format!("-{sig}"), self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
    }
}

impl Drop for Pfcount {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
