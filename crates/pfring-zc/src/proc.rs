//! Process liveness from `/proc/<pid>/stat`: a pid is alive if its stat file exists, its
//! state is not zombie / dead, and (when known) its start time matches, so a recycled pid is
//! not mistaken for the original process.

/// The start time (clock ticks after boot, field 22 of `/proc/<pid>/stat`) of a live,
/// non-zombie process; `None` if the process is gone.
pub fn start_time(pid: u32) -> Option<u64> {
    if pid == 0 {
        return None;
    }
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&s)
}

/// Parses a stat line: `None` for a zombie or dead process or a malformed line.
pub(crate) fn parse_stat(s: &str) -> Option<u64> {
    // The command name (field 2) is in parentheses and may contain anything: the fields
    // after it start after the last ')'.
    let rest = &s[s.rfind(')')? + 1..];
    let mut f = rest.split_ascii_whitespace();
    let state = f.next()?;
    if matches!(state, "Z" | "X" | "x") {
        return None;
    }
    // Fields 4..=21 then 22 = starttime: skip 18 fields.
    f.nth(18)?.parse().ok()
}

/// True if `pid` is alive and, if `start` is non-zero, started at `start`.
pub fn alive(pid: u32, start: u64) -> bool {
    match start_time(pid) {
        Some(t) => start == 0 || t == start,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_is_alive_and_start_time_is_stable() {
        let me = std::process::id();
        let t = start_time(me).expect("own stat");
        assert!(alive(me, t));
        assert!(alive(me, 0));
        assert!(!alive(me, t + 1), "another start time is another process");
        assert!(!alive(0, 0));
    }

    #[test]
    fn stat_parsing() {
        let line = "42 (a) b) c) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 12345 99";
        assert_eq!(parse_stat(line), Some(12345));
        let zombie = "42 (x) Z 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 12345 99";
        assert_eq!(parse_stat(zombie), None);
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(parse_stat("1 (x) S 1 2"), None);
    }

    #[test]
    fn reaped_child_is_dead() {
        let mut c = std::process::Command::new("true").spawn().unwrap();
        let pid = c.id();
        c.wait().unwrap();
        assert!(!alive(pid, 0));
    }
}
