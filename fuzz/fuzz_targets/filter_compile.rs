//! Filter compiler: any string compiles or fails cleanly; a compiled program validates and
//! runs on fixed packets without panicking, for both targets.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pfring::filter::{CompileOptions, PacketMeta, Program, Target, validate};

/// An Ethernet + IPv4 + TCP SYN frame, and a VLAN-tagged copy.
const FRAME: [u8; 54] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x08, 0x00, 0x45,
    0x00, 0x00, 0x28, 0x00, 0x01, 0x00, 0x00, 0x40, 0x06, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x01,
    0x0a, 0x00, 0x00, 0x02, 0x00, 0x50, 0x1f, 0x90, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
    0x00, 0x50, 0x02, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
];

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    for target in [Target::Bytes, Target::Kernel] {
        let opts = CompileOptions {
            target,
            // No DNS from the fuzzer.
            resolve_hosts: false,
            ..CompileOptions::default()
        };
        if let Ok(p) = Program::compile_with(s, &opts) {
            assert!(validate(p.instructions()).is_ok());
            let meta = PacketMeta {
                vlan_tci: Some(100),
                vlan_tpid: 0x8100,
                ..PacketMeta::default()
            };
            let _ = p.matches(&FRAME, 54);
            let _ = p.matches_with_meta(&FRAME[..30], 54, &meta);
            let _ = p.matches(&[], 0);
        }
    }
});
