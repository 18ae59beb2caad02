//! Device-name parser: never panics, and whatever it accepts round-trips through Display.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pfring::DeviceSpec;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(spec) = s.parse::<DeviceSpec>() {
        let again: DeviceSpec = spec
            .to_string()
            .parse()
            .expect("canonical form must parse");
        assert_eq!(again, spec);
    }
});
