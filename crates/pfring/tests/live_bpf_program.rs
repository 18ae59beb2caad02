//! `Ring::set_bpf_program`: an already compiled classic BPF program (what libpcap's
//! `pcap_setfilter` hands over) as the ring's filter, in the kernel on devices and in user
//! space on `pcap:` files.

use std::time::Duration;

use pfring::filter::{Insn, Program, Target};
use pfring_testkit::{FrameBuilder, NetNs, RawSender, VethPair, require_privileged};

#[path = "common/ring.rs"]
mod ring_helpers;
use ring_helpers::{assert_no_more, open_enabled, recv_n};

fn frame(seq: u64, dport: u16) -> Vec<u8> {
    FrameBuilder::udp().ports(4000, dport).build_len(seq, 90)
}

#[test]
fn a_compiled_program_filters_in_the_kernel_and_can_be_replaced() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "bpa", "bpb").unwrap();
    let mut ring = open_enabled(veth.b());
    ring.set_bpf_program(Program::compile_for("udp port 7", Target::Kernel).unwrap())
        .unwrap();
    let tx = RawSender::new(veth.a()).unwrap();
    let frames: Vec<_> = (0..60)
        .map(|i| frame(i, [7, 8, 9][i as usize % 3]))
        .collect();
    tx.send_all(&frames).unwrap();
    let got = recv_n(&mut ring, 20, Duration::from_secs(5));
    let want: Vec<_> = frames.iter().step_by(3).cloned().collect();
    assert_eq!(got.iter().map(|p| p.data.clone()).collect::<Vec<_>>(), want);
    assert_no_more(&mut ring);
    // Replace it with a hand-written program: `ret #0` rejects everything.
    let reject = Program::from_instructions(vec![Insn::stmt(0x06, 0)]).unwrap();
    ring.set_bpf_program(reject).unwrap();
    tx.send_all(&frames).unwrap();
    assert_no_more(&mut ring);
    // And remove it: everything passes again.
    ring.remove_bpf_filter().unwrap();
    tx.send_all(&frames[..5]).unwrap();
    assert_eq!(recv_n(&mut ring, 5, Duration::from_secs(5)).len(), 5);
}

#[test]
fn on_a_file_the_program_runs_in_user_space() {
    let dir = std::env::temp_dir().join(format!("pfring-bpfprog-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("f.pcap");
    {
        let f = std::fs::File::create(&path).unwrap();
        let mut w = pfring::pcap::Writer::new(
            f,
            pfring::pcap::Format::Pcap(pfring::pcap::TsResolution::Micro),
        )
        .unwrap();
        for i in 0..30u64 {
            let f = frame(i, if i % 2 == 0 { 7 } else { 8 });
            w.write(1_000_000_000 * (i + 1), &f, f.len() as u32)
                .unwrap();
        }
        w.flush().unwrap();
    }
    let mut ring = pfring::RingBuilder::new(&format!("pcap:{}", path.display()))
        .open()
        .unwrap();
    ring.set_bpf_program(Program::compile("udp port 8").unwrap())
        .unwrap();
    ring.enable().unwrap();
    let mut n = 0;
    while let Some(p) = ring.recv(false).unwrap() {
        assert_eq!(u16::from_be_bytes([p.data()[36], p.data()[37]]), 8);
        n += 1;
        assert!(n <= 30);
    }
    assert_eq!(n, 15);
    std::fs::remove_dir_all(&dir).unwrap();
}
