//! pcap / pcapng reader over arbitrary bytes: never panics, records are consistent, and an
//! error finishes the reader.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pfring::pcap::{DEFAULT_MAX_RECORD_LEN, Reader};

fuzz_target!(|data: &[u8]| {
    let Ok(mut r) = Reader::new(data) else {
        return;
    };
    let mut n = 0u32;
    loop {
        match r.next() {
            Ok(Some(rec)) => {
                assert_eq!(rec.caplen as usize, rec.data.len());
                assert!(rec.caplen <= DEFAULT_MAX_RECORD_LEN);
                n += 1;
            }
            Ok(None) => break,
            Err(_) => {
                assert!(matches!(r.next(), Ok(None)));
                break;
            }
        }
    }
    // Every record takes at least 12 bytes of input.
    assert!(n as usize <= data.len() / 12);
});

