//! Test hosts for pfring-rs live tests.
#![deny(unsafe_code)]
