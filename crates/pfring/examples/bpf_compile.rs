//! Prints the classic BPF program for a filter, like `tcpdump -d`.
//!
//! `cargo run --example bpf_compile -- [--kernel] [--count] 'tcp port 80'`
use pfring::filter::{Program, Target};

fn main() {
    let mut target = Target::Bytes;
    let mut count = false;
    let mut expr = Vec::new();
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "--kernel" => target = Target::Kernel,
            "--count" => count = true,
            _ => expr.push(a),
        }
    }
    match Program::compile_for(&expr.join(" "), target) {
        Ok(p) if count => println!("{}", p.instructions().len()),
        Ok(p) => print!("{p}"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
