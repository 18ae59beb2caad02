//! Compile-time stress probe: times the compiler on long generated expressions.
//!
//! `cargo run --release --example bpf_stress`
use std::time::Instant;

use pfring::filter::{MAX_EXPR_LEN, Program};

fn fill(unit: impl Fn(usize) -> String, sep: &str) -> String {
    let mut s = String::new();
    let mut i = 0;
    loop {
        let u = unit(i);
        if s.len() + sep.len() + u.len() > MAX_EXPR_LEN {
            return s;
        }
        if i > 0 {
            s.push_str(sep);
        }
        s.push_str(&u);
        i += 1;
    }
}

fn main() {
    let cases: Vec<(&str, String)> = vec![
        ("distinct ports", fill(|i| format!("port {i}"), " or ")),
        (
            "distinct hosts",
            fill(|i| format!("host 10.0.{}.{}", i / 256, i % 256), " or "),
        ),
        (
            "anded not hosts",
            fill(
                |i| format!("not host 10.0.{}.{}", i / 256, i % 256),
                " and ",
            ),
        ),
        ("vlans", fill(|i| format!("vlan {}", i % 4096), " and ")),
        (
            "mixed",
            fill(
                |i| {
                    [
                        "tcp",
                        "udp port 53",
                        "ip6 net ::/3",
                        "vlan",
                        "icmp",
                        "len > 5",
                    ][i % 6]
                        .to_string()
                },
                " or ",
            ),
        ),
        ("nested", {
            let mut e = "tcp".to_string();
            for i in 0..120 {
                e = format!("({e} or port {i}) and not host 10.0.0.{}", i % 256);
            }
            e
        }),
        (
            "bytes",
            fill(|i| format!("ip[{}] = {}", i % 60, i % 256), " or "),
        ),
        (
            "tcp flags",
            fill(
                |i| format!("tcp[{}] & {} != 0", i % 20, 1 << (i % 8)),
                " and ",
            ),
        ),
    ];
    for (name, e) in cases {
        let t = Instant::now();
        let r = Program::compile(&e);
        println!(
            "{name:<16} {:>6} bytes {:>10.2?} {}",
            e.len(),
            t.elapsed(),
            match r {
                Ok(p) => format!("{} instructions", p.instructions().len()),
                Err(err) => format!("error: {err}"),
            }
        );
    }
}
