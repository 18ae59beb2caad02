//! Gives the shared library libpcap's SONAME, so `libpcap.so.0.8 -> libpfring_pcap.so` loads
//! in place of Debian's libpcap.
fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libpcap.so.0.8");
    println!("cargo:rerun-if-changed=build.rs");
}
