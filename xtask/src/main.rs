//! Project tasks.
//!
//! ```text
//! cargo run -p xtask -- header                      regenerate crates/pfring-ffi/include/pfring.h
//! cargo run -p xtask -- install [--prefix /usr/local] [--destdir DIR] [--debug]
//!                                                   build libpfring and install it with its
//!                                                   headers and pkg-config file
//! ```

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace root")
        .to_path_buf()
}

fn header() -> Result<(), String> {
    let dir = workspace_root().join("crates/pfring-ffi");
    let cfg = cbindgen::Config::from_file(dir.join("cbindgen.toml"))?;
    let out = dir.join("include/pfring.h");
    cbindgen::Builder::new()
        .with_crate(&dir)
        .with_config(cfg)
        .generate()
        .map_err(|e| format!("cbindgen: {e}"))?
        .write_to_file(&out);
    println!("wrote {}", out.display());
    Ok(())
}

fn install(args: &[String]) -> Result<(), String> {
    let mut prefix = "/usr/local".to_owned();
    let mut destdir: Option<String> = None;
    let mut release = true;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--prefix" => prefix = it.next().ok_or("--prefix needs a directory")?.clone(),
            "--destdir" => destdir = Some(it.next().ok_or("--destdir needs a directory")?.clone()),
            "--debug" => release = false,
            other => return Err(format!("unknown install argument {other:?}")),
        }
    }
    let root = workspace_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(&cargo);
    build.current_dir(&root).args(["build", "-p", "pfring-ffi"]);
    if release {
        build.arg("--release");
    }
    if !build.status().map_err(|e| e.to_string())?.success() {
        return Err("cargo build -p pfring-ffi failed".into());
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let from = target.join(if release { "release" } else { "debug" });
    let mut sh = Command::new("sh");
    sh.arg(root.join("crates/pfring-ffi/install.sh"))
        .arg("--prefix")
        .arg(&prefix)
        .arg("--from")
        .arg(&from);
    if let Some(d) = destdir {
        sh.arg("--destdir").arg(d);
    }
    if !sh.status().map_err(|e| e.to_string())?.success() {
        return Err("install.sh failed".into());
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let r = match args.first().map(String::as_str) {
        Some("header") => header(),
        Some("install") => install(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo run -p xtask -- header\n       cargo run -p xtask -- install \
                 [--prefix /usr/local] [--destdir DIR] [--debug]"
            );
            return ExitCode::from(2);
        }
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}
