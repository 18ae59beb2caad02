//! The C API called in-process (as a C program would) on a veth pair in a namespace of the
//! test's own: pcap_next_ex / dispatch / loop semantics, timeouts, non-blocking mode,
//! pcap_breakloop from another thread, pcap_setfilter on a running capture, stats, inject,
//! direction, link-type lists and nanosecond timestamps.

use std::ffi::{CStr, CString, c_int};
use std::ptr;
use std::time::{Duration, Instant};

use pfring_pcap::*;
use pfring_testkit::{FrameBuilder, NetNs, RawReceiver, RawSender, VethPair, require_privileged};

const PCAP_ERROR_BREAK: c_int = -2;

fn frame(seq: u64, dport: u16) -> Vec<u8> {
    FrameBuilder::udp().ports(3000, dport).build_len(seq, 80)
}

/// `pcap_create` + options + `pcap_activate` on `dev`.
fn open(dev: &str, timeout_ms: c_int, nano: bool) -> *mut Pcap {
    let name = CString::new(dev).unwrap();
    let mut err = [0 as std::ffi::c_char; 256];
    let p = pcap_create(name.as_ptr(), err.as_mut_ptr());
    assert!(!p.is_null());
    assert_eq!(pcap_set_snaplen(p, 65535), 0);
    assert_eq!(pcap_set_timeout(p, timeout_ms), 0);
    assert_eq!(pcap_set_tstamp_precision(p, c_int::from(nano)), 0);
    let st = pcap_activate(p);
    assert_eq!(st, 0, "activate: {}", geterr(p));
    // Options are refused once active.
    assert_eq!(pcap_set_snaplen(p, 100), -4);
    p
}

fn geterr(p: *mut Pcap) -> String {
    // SAFETY: pcap_geterr returns the handle's NUL-terminated buffer.
    unsafe { CStr::from_ptr(pcap_geterr(p)) }
        .to_string_lossy()
        .into_owned()
}

/// pcap_next_ex once: `Some(bytes)` or `None` (with the return code).
fn next(p: *mut Pcap) -> Result<(Vec<u8>, PktHdr), c_int> {
    let mut h: *mut PktHdr = ptr::null_mut();
    let mut d: *const u8 = ptr::null();
    let r = pcap_next_ex(p, &mut h, &mut d);
    if r != 1 {
        return Err(r);
    }
    // SAFETY: on 1, h and d point at the handle's copy of the packet (caplen bytes).
    unsafe {
        Ok((
            std::slice::from_raw_parts(d, (*h).caplen as usize).to_vec(),
            *h,
        ))
    }
}

fn compile(p: *mut Pcap, expr: &str) -> BpfProgram {
    let mut fp = BpfProgram {
        bf_len: 0,
        bf_insns: ptr::null_mut(),
    };
    let e = CString::new(expr).unwrap();
    assert_eq!(
        pcap_compile(p, &mut fp, e.as_ptr(), 1, u32::MAX),
        0,
        "{}",
        geterr(p)
    );
    fp
}

unsafe extern "C" fn count_cb(user: *mut u8, h: *const PktHdr, _d: *const u8) {
    // SAFETY: user is the test's Vec<u32>, h the library's header for this call.
    unsafe { (*user.cast::<Vec<u32>>()).push((*h).len) };
}

#[test]
fn next_ex_timeout_nonblock_dispatch_and_stats() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "apa", "apb").unwrap();
    let p = open(veth.b(), 200, true);
    assert_eq!(pcap_datalink(p), 1);
    assert_eq!(pcap_snapshot(p), 65535);
    assert!(pcap_get_selectable_fd(p) >= 0);
    // Nothing sent: a timeout (0) after about 200 ms.
    let t = Instant::now();
    assert_eq!(next(p).unwrap_err(), 0);
    assert!(
        t.elapsed() >= Duration::from_millis(150),
        "{:?}",
        t.elapsed()
    );
    assert!(t.elapsed() < Duration::from_secs(3));
    // Non-blocking: 0 at once.
    let mut err = [0 as std::ffi::c_char; 256];
    assert_eq!(pcap_setnonblock(p, 1, err.as_mut_ptr()), 0);
    assert_eq!(pcap_getnonblock(p, err.as_mut_ptr()), 1);
    let t = Instant::now();
    let mut lens: Vec<u32> = Vec::new();
    assert_eq!(
        pcap_dispatch(p, -1, Some(count_cb), (&raw mut lens).cast()),
        0
    );
    assert!(t.elapsed() < Duration::from_millis(100));
    assert_eq!(pcap_setnonblock(p, 0, err.as_mut_ptr()), 0);

    let tx = RawSender::new(veth.a()).unwrap();
    let frames: Vec<_> = (0..50).map(|i| frame(i, 7)).collect();
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    tx.send_all(&frames).unwrap();
    // The first via next_ex (ns timestamp: tv_usec holds nanoseconds).
    let (data, h) = next(p).unwrap();
    assert_eq!(data, frames[0]);
    assert_eq!(h.len as usize, frames[0].len());
    assert!(h.ts.tv_usec < 1_000_000_000);
    let ts = Duration::new(h.ts.tv_sec as u64, h.ts.tv_usec as u32);
    assert!(
        ts + Duration::from_millis(1) >= before,
        "{ts:?} < {before:?}"
    );
    // The rest with dispatch (bounded: 49 frames, each call returns what is queued).
    let deadline = Instant::now() + Duration::from_secs(5);
    while lens.len() < 49 && Instant::now() < deadline {
        let r = pcap_dispatch(p, 10, Some(count_cb), (&raw mut lens).cast());
        assert!((0..=10).contains(&r), "dispatch returned {r}");
    }
    assert_eq!(lens.len(), 49);
    let mut ps = PcapStat::default();
    assert_eq!(pcap_stats(p, &mut ps), 0);
    assert_eq!((ps.ps_recv, ps.ps_drop), (50, 0));
    pcap_close(p);
}

#[test]
fn breakloop_from_another_thread_ends_pcap_loop() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "bra", "brb").unwrap();
    // Timeout 0: the loop would wait forever without the break.
    let p = open(veth.b(), 0, false);
    let addr = p as usize;
    let breaker = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        pcap_breakloop(addr as *mut Pcap);
    });
    let t = Instant::now();
    let mut lens: Vec<u32> = Vec::new();
    let r = pcap_loop(p, -1, Some(count_cb), (&raw mut lens).cast());
    breaker.join().unwrap();
    assert_eq!(r, PCAP_ERROR_BREAK);
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    // The flag is consumed: the next loop runs (and ends on its count).
    let tx = RawSender::new(veth.a()).unwrap();
    tx.send_all((0..3).map(|i| frame(i, 7))).unwrap();
    assert_eq!(pcap_loop(p, 3, Some(count_cb), (&raw mut lens).cast()), 0);
    assert_eq!(lens.len(), 3);
    pcap_close(p);
}

#[test]
fn setfilter_on_a_running_capture_hides_earlier_non_matching_frames() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "sfa", "sfb").unwrap();
    let p = open(veth.b(), 100, false);
    let tx = RawSender::new(veth.a()).unwrap();
    // Start reading (enables the ring with no filter), then queue 20 frames, 10 to port 7.
    assert_eq!(next(p).unwrap_err(), 0);
    let frames: Vec<_> = (0..20)
        .map(|i| frame(i, if i % 2 == 0 { 7 } else { 9 }))
        .collect();
    tx.send_all(&frames).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let mut fp = compile(p, "udp port 7");
    assert_eq!(pcap_setfilter(p, &mut fp), 0, "{}", geterr(p));
    pcap_freecode(&mut fp);
    // Then 20 more, 10 to port 7.
    let later: Vec<_> = (20..40)
        .map(|i| frame(i, if i % 2 == 0 { 7 } else { 9 }))
        .collect();
    tx.send_all(&later).unwrap();
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while got.len() < 20 && Instant::now() < deadline {
        if let Ok((d, _)) = next(p) {
            got.push(d);
        }
    }
    let want: Vec<_> = frames.iter().chain(&later).step_by(2).cloned().collect();
    assert_eq!(got, want);
    // Nothing else arrives.
    assert_eq!(next(p).unwrap_err(), 0);
    pcap_close(p);
}

#[test]
fn inject_direction_and_link_type_lists() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "ija", "ijb").unwrap();
    let p = open(veth.a(), 100, false);
    let rx = RawReceiver::new(veth.b()).unwrap();
    let f = frame(1, 7);
    assert_eq!(
        pcap_inject(p, f.as_ptr().cast(), f.len()),
        f.len() as c_int,
        "{}",
        geterr(p)
    );
    assert_eq!(pcap_sendpacket(p, f.as_ptr(), f.len() as c_int), 0);
    for _ in 0..2 {
        let got = rx
            .recv(Duration::from_secs(2))
            .unwrap()
            .expect("injected frame");
        assert_eq!(got.data, f);
    }
    // Our own transmissions are captured (PCAP_D_INOUT) unless the direction says IN only.
    let (d, _) = next(p).unwrap();
    assert_eq!(d, f);
    assert_eq!(pcap_setdirection(p, 1), 0);
    while next(p).is_ok() {}
    assert_eq!(pcap_inject(p, f.as_ptr().cast(), f.len()), f.len() as c_int);
    assert_eq!(
        next(p).unwrap_err(),
        0,
        "outgoing frame seen with PCAP_D_IN"
    );
    assert_eq!(pcap_setdirection(p, 7), -1);

    let mut list: *mut c_int = ptr::null_mut();
    assert_eq!(pcap_list_datalinks(p, &mut list), 1);
    // SAFETY: one element, from pcap_list_datalinks.
    assert_eq!(unsafe { *list }, 1);
    pcap_free_datalinks(list);
    assert_eq!(pcap_set_datalink(p, 1), 0);
    assert_eq!(pcap_set_datalink(p, 113), -1);
    assert!(geterr(p).contains("DLT_LINUX_SLL"), "{}", geterr(p));
    pcap_close(p);
}

#[test]
fn open_live_errors_and_device_lists() {
    require_privileged!();
    let ns = NetNs::new().unwrap();
    let veth = VethPair::new(&ns, "dva", "dvb").unwrap();
    let mut err = [0 as std::ffi::c_char; 256];
    let p = pcap_open_live(c"nosuch0".as_ptr(), 100, 0, 10, err.as_mut_ptr());
    assert!(p.is_null());
    // SAFETY: errbuf was NUL-terminated by the library.
    let msg = unsafe { CStr::from_ptr(err.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    assert!(msg.contains("nosuch0"), "{msg}");
    let c = pcap_create(c"nosuch0".as_ptr(), err.as_mut_ptr());
    assert_eq!(pcap_activate(c), -5, "PCAP_ERROR_NO_SUCH_DEVICE");
    pcap_close(c);

    let mut devs: *mut PcapIf = ptr::null_mut();
    assert_eq!(pcap_findalldevs(&mut devs, err.as_mut_ptr()), 0);
    let mut names = Vec::new();
    let mut cur = devs;
    while !cur.is_null() {
        // SAFETY: a node of the list from pcap_findalldevs.
        let d = unsafe { &*cur };
        // SAFETY: names are NUL-terminated.
        names.push(
            unsafe { CStr::from_ptr(d.name) }
                .to_string_lossy()
                .into_owned(),
        );
        cur = d.next;
    }
    pcap_freealldevs(devs);
    for n in [veth.a(), veth.b(), "lo", "any"] {
        assert!(names.iter().any(|x| x == n), "{n} not in {names:?}");
    }
    // A veth without IPv4 address: lookupnet fails with a message, `any` gives 0/0.
    let (mut net, mut mask) = (1u32, 1u32);
    let dev = CString::new(veth.a()).unwrap();
    assert_eq!(
        pcap_lookupnet(dev.as_ptr(), &mut net, &mut mask, err.as_mut_ptr()),
        -1
    );
    assert_eq!(
        pcap_lookupnet(c"any".as_ptr(), &mut net, &mut mask, err.as_mut_ptr()),
        0
    );
    assert_eq!((net, mask), (0, 0));

    // Queue-bound names go to the ring as they are: veth has one RX queue, 0.
    let q = CString::new(format!("{}@0", veth.b())).unwrap();
    let p = pcap_open_live(q.as_ptr(), 200, 0, 100, err.as_mut_ptr());
    assert!(!p.is_null());
    let tx = RawSender::new(veth.a()).unwrap();
    let f = frame(9, 7);
    tx.send(&f).unwrap();
    assert_eq!(next(p).unwrap().0, f);
    pcap_close(p);
}

#[test]
fn a_pcap_prefixed_device_reads_its_file_through_the_ring_and_ends() {
    let dir = std::env::temp_dir().join(format!("pfring-pcap-api-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("in.pcap");
    {
        let f = std::fs::File::create(&path).unwrap();
        let mut w = pfring::pcap::Writer::new(
            f,
            pfring::pcap::Format::Pcap(pfring::pcap::TsResolution::Nano),
        )
        .unwrap();
        for i in 0..25u64 {
            let f = frame(i, 7);
            w.write(5_000_000_000 + i, &f, f.len() as u32).unwrap();
        }
        w.flush().unwrap();
    }
    let dev = CString::new(format!("pcap:{}", path.display())).unwrap();
    let mut err = [0 as std::ffi::c_char; 256];
    let p = pcap_open_live(dev.as_ptr(), 65535, 0, 100, err.as_mut_ptr());
    assert!(!p.is_null());
    let mut lens: Vec<u32> = Vec::new();
    // Bounded by the file: pcap_loop returns 0 at its end instead of waiting.
    let t = Instant::now();
    assert_eq!(pcap_loop(p, -1, Some(count_cb), (&raw mut lens).cast()), 0);
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_eq!(lens.len(), 25);
    assert_eq!(next(p).unwrap_err(), PCAP_ERROR_BREAK);
    pcap_close(p);
    // The same file as a savefile, with nanosecond precision and a filter.
    let path_c = CString::new(path.to_str().unwrap()).unwrap();
    let p = pcap_open_offline_with_tstamp_precision(path_c.as_ptr(), 1, err.as_mut_ptr());
    assert!(!p.is_null());
    assert_eq!(pcap_is_swapped(p), 0);
    assert_eq!((pcap_major_version(p), pcap_minor_version(p)), (2, 4));
    let mut fp = compile(p, "udp port 7 and len > 70");
    assert_eq!(pcap_setfilter(p, &mut fp), 0);
    pcap_freecode(&mut fp);
    let (d, h) = next(p).unwrap();
    assert_eq!(d, frame(0, 7));
    assert_eq!((h.ts.tv_sec, h.ts.tv_usec), (5, 0));
    assert_eq!(next(p).unwrap().1.ts.tv_usec, 1, "nanoseconds");
    let mut ps = PcapStat::default();
    assert_eq!(pcap_stats(p, &mut ps), -1, "no statistics on savefiles");
    pcap_close(p);
    std::fs::remove_dir_all(&dir).unwrap();
}
