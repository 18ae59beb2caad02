//! `include/pfring.h` is generated from the sources by cbindgen and checked in: this test
//! regenerates it and fails on any difference (run `cargo run -p xtask -- header`, or this
//! test with `PFRING_BLESS=1`, to update it).

use std::path::Path;

#[test]
fn checked_in_header_matches_the_sources() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cfg = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(dir)
        .with_config(cfg)
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut generated);
    let path = dir.join("include/pfring.h");
    if std::env::var_os("PFRING_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write include/pfring.h");
        return;
    }
    let checked_in = std::fs::read(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "include/pfring.h differs from what the sources generate: run `cargo run -p xtask -- header`"
    );
}
