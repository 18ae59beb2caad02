//! One test per element of the pcap-filter grammar, on hand-built packets; error messages
//! and positions; the kernel target's VLAN handling.

use pfring::filter::{
    CompileOptions, FilterError, Insn, PacketMeta, Program, Target, compile, format_insn,
};

// ----- packet builders -----

const SRC_MAC: [u8; 6] = [0x00, 0x11, 0x22, 0x33, 0x44, 0x55];
const DST_MAC: [u8; 6] = [0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb];

fn eth(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&dst);
    v.extend_from_slice(&src);
    v.extend_from_slice(&ethertype.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// Inserts an 802.1Q tag after the MAC addresses.
fn tag(frame: &[u8], tpid: u16, vid: u16) -> Vec<u8> {
    let mut v = frame[..12].to_vec();
    v.extend_from_slice(&tpid.to_be_bytes());
    v.extend_from_slice(&vid.to_be_bytes());
    v.extend_from_slice(&frame[12..]);
    v
}

fn ipv4(proto: u8, src: [u8; 4], dst: [u8; 4], frag: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x45, 0];
    v.extend_from_slice(&(20 + payload.len() as u16).to_be_bytes());
    v.extend_from_slice(&[0, 1]);
    v.extend_from_slice(&frag.to_be_bytes());
    v.extend_from_slice(&[64, proto, 0, 0]);
    v.extend_from_slice(&src);
    v.extend_from_slice(&dst);
    v.extend_from_slice(payload);
    v
}

fn ipv6(nh: u8, src: [u8; 16], dst: [u8; 16], payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x60, 0, 0, 0];
    v.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    v.extend_from_slice(&[nh, 64]);
    v.extend_from_slice(&src);
    v.extend_from_slice(&dst);
    v.extend_from_slice(payload);
    v
}

fn tcp(sport: u16, dport: u16, flags: u8) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&sport.to_be_bytes());
    v.extend_from_slice(&dport.to_be_bytes());
    v.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    v
}

fn udp(sport: u16, dport: u16) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&sport.to_be_bytes());
    v.extend_from_slice(&dport.to_be_bytes());
    v.extend_from_slice(&[0, 12, 0, 0, 1, 2, 3, 4]);
    v
}

const A: [u8; 4] = [10, 0, 0, 1];
const B: [u8; 4] = [192, 168, 1, 2];

fn v6(last: u8) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[0] = 0x20;
    a[1] = 0x01;
    a[2] = 0x0d;
    a[3] = 0xb8;
    a[15] = last;
    a
}

fn tcp4(sport: u16, dport: u16, flags: u8) -> Vec<u8> {
    eth(
        DST_MAC,
        SRC_MAC,
        0x0800,
        &ipv4(6, A, B, 0, &tcp(sport, dport, flags)),
    )
}
fn udp4(sport: u16, dport: u16) -> Vec<u8> {
    eth(
        DST_MAC,
        SRC_MAC,
        0x0800,
        &ipv4(17, A, B, 0, &udp(sport, dport)),
    )
}
fn tcp6(sport: u16, dport: u16) -> Vec<u8> {
    eth(
        DST_MAC,
        SRC_MAC,
        0x86dd,
        &ipv6(6, v6(1), v6(2), &tcp(sport, dport, 2)),
    )
}
fn udp6(sport: u16, dport: u16) -> Vec<u8> {
    eth(
        DST_MAC,
        SRC_MAC,
        0x86dd,
        &ipv6(17, v6(1), v6(2), &udp(sport, dport)),
    )
}
fn icmp4(ty: u8) -> Vec<u8> {
    eth(
        DST_MAC,
        SRC_MAC,
        0x0800,
        &ipv4(1, A, B, 0, &[ty, 0, 0, 0, 0, 0, 0, 0]),
    )
}
fn arp(spa: [u8; 4], tpa: [u8; 4]) -> Vec<u8> {
    let mut p = vec![0, 1, 8, 0, 6, 4, 0, 1];
    p.extend_from_slice(&SRC_MAC);
    p.extend_from_slice(&spa);
    p.extend_from_slice(&[0; 6]);
    p.extend_from_slice(&tpa);
    eth([0xff; 6], SRC_MAC, 0x0806, &p)
}

#[track_caller]
fn m(expr: &str, pkt: &[u8]) -> bool {
    let p = compile(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
    p.matches(pkt, pkt.len() as u32)
}

#[track_caller]
fn yes(expr: &str, pkt: &[u8]) {
    assert!(m(expr, pkt), "{expr} should accept");
}

#[track_caller]
fn no(expr: &str, pkt: &[u8]) {
    assert!(!m(expr, pkt), "{expr} should reject");
}

#[track_caller]
fn err(expr: &str) -> FilterError {
    match compile(expr) {
        Ok(p) => panic!("{expr} should not compile:\n{p}"),
        Err(e) => e,
    }
}

// ----- protocols -----

#[test]
fn protocol_names() {
    yes("ip", &tcp4(1, 2, 0));
    no("ip", &tcp6(1, 2));
    yes("ip6", &tcp6(1, 2));
    yes("arp", &arp(A, B));
    no("rarp", &arp(A, B));
    yes("tcp", &tcp4(1, 2, 0));
    yes("tcp", &tcp6(1, 2));
    no("tcp", &udp4(1, 2));
    yes("udp", &udp6(1, 2));
    yes("icmp", &icmp4(8));
    no("icmp6", &icmp4(8));
    let icmp6 = eth(
        DST_MAC,
        SRC_MAC,
        0x86dd,
        &ipv6(58, v6(1), v6(2), &[128, 0, 0, 0]),
    );
    yes("icmp6", &icmp6);
    for (name, p) in [
        ("sctp", 132),
        ("igmp", 2),
        ("vrrp", 112),
        ("ah", 51),
        ("esp", 50),
        ("pim", 103),
    ] {
        let pkt = eth(DST_MAC, SRC_MAC, 0x0800, &ipv4(p, A, B, 0, &[0; 8]));
        yes(name, &pkt);
        no(name, &tcp4(1, 2, 0));
    }
}

#[test]
fn ipv6_fragment_header_is_looked_through() {
    let mut frag = vec![6, 0, 0, 0, 0, 0, 0, 1];
    frag.extend_from_slice(&tcp(1, 2, 0));
    let pkt = eth(DST_MAC, SRC_MAC, 0x86dd, &ipv6(44, v6(1), v6(2), &frag));
    yes("tcp", &pkt);
    yes("ip6 proto 6", &pkt);
    no("udp", &pkt);
}

#[test]
fn proto_numbers_and_names() {
    yes("ip proto 6", &tcp4(1, 2, 0));
    yes("ip proto \\tcp", &tcp4(1, 2, 0));
    yes("ip proto tcp", &tcp4(1, 2, 0));
    no("ip proto 17", &tcp4(1, 2, 0));
    yes("ip6 proto 17", &udp6(1, 2));
    yes("proto 17", &udp6(1, 2));
    yes("proto \\udp", &udp4(1, 2));
    yes("ether proto 0x0800", &tcp4(1, 2, 0));
    yes("ether proto \\ip6", &tcp6(1, 2));
    yes("ether proto \\arp", &arp(A, B));
    // 802.3 length field and LLC DSAP.
    let llc = eth(DST_MAC, SRC_MAC, 38, &[0x42, 0x42, 0x03, 0, 0, 0]);
    yes("ether proto \\stp", &llc);
    yes("ether proto 0x42", &llc);
    no("ether proto 0x42", &tcp4(1, 2, 0));
}

// ----- hosts and networks -----

#[test]
fn ipv4_hosts() {
    let p = tcp4(1, 2, 0);
    yes("host 10.0.0.1", &p);
    yes("host 192.168.1.2", &p);
    no("host 10.0.0.2", &p);
    yes("src host 10.0.0.1", &p);
    no("dst host 10.0.0.1", &p);
    yes("dst 192.168.1.2", &p);
    yes("src or dst host 192.168.1.2", &p);
    no("src and dst host 10.0.0.1", &p);
    yes("ip host 10.0.0.1", &p);
    no("arp host 10.0.0.1", &p);
    yes("arp host 10.0.0.1", &arp(A, B));
    yes("host 10.0.0.1", &arp(A, B));
    yes("host 10.0.0.9 or 10.0.0.1", &p);
    no("host 10.0.0.9 or 10.0.0.8", &p);
    yes("host 10.0.0.9 or (10.0.0.1 and 192.168.1.2)", &p);
    yes("ip src 10.0.0.1", &p);
    // Short forms are promoted like libpcap: `host 10` is 10.0.0.0/8... as a host with mask.
    yes("host 10.0", &p);
    yes("host localhost or host 10.0.0.1", &p);
}

#[test]
fn ipv4_networks() {
    let p = tcp4(1, 2, 0);
    yes("net 10.0.0.0/8", &p);
    yes("net 10", &p);
    yes("net 192.168.1", &p);
    yes("src net 10.0.0.0 mask 255.0.0.0", &p);
    no("dst net 10.0.0.0/8", &p);
    yes("net 0.0.0.0/0", &p);
    no("net 172.16.0.0/12", &p);
    yes("not net 172.16.0.0/12", &p);
}

#[test]
fn ipv6_hosts_and_prefixes() {
    let p = tcp6(1, 2);
    yes("host 2001:db8::1", &p);
    yes("ip6 host 2001:db8::2", &p);
    no("host 2001:db8::3", &p);
    yes("src host 2001:db8::1", &p);
    no("src host 2001:db8::2", &p);
    yes("net 2001:db8::/32", &p);
    yes("ip6 net 2001:db8::/64", &p);
    no("net 2001:db9::/32", &p);
    yes("net ::/0", &p);
    no("host 2001:db8::1", &tcp4(1, 2, 0));
}

#[test]
fn ethernet_addresses() {
    let p = tcp4(1, 2, 0);
    yes("ether src 00:11:22:33:44:55", &p);
    yes("ether host 66:77:88:99:aa:bb", &p);
    yes("ether dst 6677.8899.aabb", &p);
    yes("ether src 00-11-22-33-44-55", &p);
    no("ether dst 00:11:22:33:44:55", &p);
    no("ether src and dst 00:11:22:33:44:55", &p);
    no("broadcast", &p);
    yes("broadcast", &arp(A, B));
    yes("ether broadcast", &arp(A, B));
    yes("multicast", &arp(A, B));
    let mcast = eth(
        [0x01, 0, 0x5e, 0, 0, 1],
        SRC_MAC,
        0x0800,
        &ipv4(17, A, [224, 0, 0, 1], 0, &udp(1, 2)),
    );
    yes("ether multicast", &mcast);
    yes("ip multicast", &mcast);
    no("ip multicast", &p);
    let bcast = eth(
        [0xff; 6],
        SRC_MAC,
        0x0800,
        &ipv4(17, A, [255; 4], 0, &udp(1, 2)),
    );
    yes("ip broadcast", &bcast);
    no("ip broadcast", &p);
    let m6 = eth(
        DST_MAC,
        SRC_MAC,
        0x86dd,
        &ipv6(17, v6(1), [0xff; 16], &udp(1, 2)),
    );
    yes("ip6 multicast", &m6);
    no("ip6 multicast", &tcp6(1, 2));
}

// ----- ports -----

#[test]
fn ports() {
    yes("port 80", &tcp4(80, 1234, 0));
    yes("port 80", &udp6(1234, 80));
    yes("tcp port 80", &tcp6(80, 1));
    no("udp port 80", &tcp4(80, 1, 0));
    yes("src port 80", &tcp4(80, 1, 0));
    no("dst port 80", &tcp4(80, 1, 0));
    no("tcp src and dst port 80", &tcp4(80, 1, 0));
    yes("tcp src and dst port 80", &tcp4(80, 80, 0));
    yes("port 22 or 80", &tcp4(80, 1, 0));
    yes("tcp port 22 or 443 or 80", &tcp4(80, 1, 0));
    no("tcp port 80 and not 1", &tcp4(80, 1, 0));
    yes("tcp port 80 and not 2", &tcp4(80, 1, 0));
    yes("port http", &tcp4(80, 1, 0));
    yes("udp port domain", &udp4(53, 1));
    yes("port ssh", &tcp4(22, 1, 0));
    // `ssh` is a tcp service only: `port ssh` means tcp port 22.
    no("port ssh", &udp4(22, 1));
}

#[test]
fn ports_only_in_first_fragments() {
    let later = eth(
        DST_MAC,
        SRC_MAC,
        0x0800,
        &ipv4(6, A, B, 0x0010, &tcp(80, 1, 0)),
    );
    no("port 80", &later);
    yes("tcp", &later);
    let first = eth(
        DST_MAC,
        SRC_MAC,
        0x0800,
        &ipv4(6, A, B, 0x2000, &tcp(80, 1, 0)),
    );
    yes("port 80", &first);
}

#[test]
fn portranges() {
    yes("portrange 1-1023", &tcp4(80, 5000, 0));
    no("portrange 100-200", &tcp4(80, 5000, 0));
    yes("tcp portrange 4000-6000", &tcp4(80, 5000, 0));
    yes("dst portrange 5000-5000", &tcp4(80, 5000, 0));
    yes("portrange 200-100", &udp6(150, 1));
    yes("portrange ftp-ssh", &tcp4(21, 9999, 0));
}

// ----- lengths -----

#[test]
fn lengths() {
    let p = tcp4(1, 2, 0); // 54 bytes
    assert_eq!(p.len(), 54);
    yes("less 54", &p);
    no("less 53", &p);
    yes("greater 54", &p);
    no("greater 55", &p);
    yes("len = 54", &p);
    yes("len >= 54 and len <= 54", &p);
    yes("len - 14 = 40", &p);
    // `len` is the wire length, not the captured length.
    let prog = compile("len > 1000").unwrap();
    assert!(prog.matches(&p, 1500));
    assert!(!prog.matches(&p, 54));
}

// ----- VLAN and MPLS -----

#[test]
fn vlan_in_the_bytes() {
    let inner = tcp4(80, 1, 0);
    let tagged = tag(&inner, 0x8100, 100);
    yes("vlan", &tagged);
    yes("vlan 100", &tagged);
    no("vlan 101", &tagged);
    no("vlan", &inner);
    yes("vlan and ip", &tagged);
    yes("vlan 100 and tcp port 80", &tagged);
    no("ip", &tagged);
    no("ip and vlan", &tagged);
    let qinq = tag(&tagged, 0x88a8, 7);
    yes("vlan 7 and vlan 100 and ip", &qinq);
    no("vlan 100 and vlan 7", &qinq);
    yes("vlan and vlan and tcp port 80", &qinq);
}

#[test]
fn vlan_for_the_kernel() {
    // The kernel removed the tag: the frame is untagged, the tag is metadata.
    let frame = tcp4(80, 1, 0);
    let meta = PacketMeta {
        vlan_tci: Some(100),
        vlan_tpid: 0x8100,
        ..PacketMeta::default()
    };
    let p = Program::compile_for("vlan 100 and tcp port 80", Target::Kernel).unwrap();
    assert!(p.matches_with_meta(&frame, 54, &meta));
    assert!(!p.matches(&frame, 54));
    let p = Program::compile_for("vlan 101", Target::Kernel).unwrap();
    assert!(!p.matches_with_meta(&frame, 54, &meta));
    let text = Program::compile_for("vlan 100", Target::Kernel)
        .unwrap()
        .to_string();
    assert!(
        text.contains("[vlanp]") && text.contains("[vlan_tci]"),
        "{text}"
    );
    // The inner tag of a QinQ frame is still in the bytes.
    let inner_tagged = tag(&frame, 0x8100, 5);
    let p = Program::compile_for("vlan 100 and vlan 5 and ip", Target::Kernel).unwrap();
    assert!(p.matches_with_meta(&inner_tagged, 58, &meta));
    // Without the vlan keyword the offsets are those of an untagged frame.
    let p = Program::compile_for("tcp port 80", Target::Kernel).unwrap();
    assert!(p.matches_with_meta(&frame, 54, &meta));
}

#[test]
fn mpls() {
    let ip = ipv4(17, A, B, 0, &udp(1, 2));
    let label = |l: u32, bottom: bool| -> [u8; 4] {
        ((l << 12) | (u32::from(bottom) << 8) | 64).to_be_bytes()
    };
    let mut one = label(42, true).to_vec();
    one.extend_from_slice(&ip);
    let p1 = eth(DST_MAC, SRC_MAC, 0x8847, &one);
    yes("mpls", &p1);
    yes("mpls 42", &p1);
    no("mpls 43", &p1);
    yes("mpls and ip", &p1);
    yes("mpls 42 and udp port 2", &p1);
    no("mpls and ip6", &p1);
    let mut two = label(1, false).to_vec();
    two.extend_from_slice(&label(42, true));
    two.extend_from_slice(&ip);
    let p2 = eth(DST_MAC, SRC_MAC, 0x8847, &two);
    yes("mpls 1 and mpls 42 and ip", &p2);
    no("mpls 42 and ip", &p2);
    no("mpls and mpls and mpls", &p2);
    no("mpls", &tcp4(1, 2, 0));
}

// ----- accessors and arithmetic -----

#[test]
fn accessors_and_named_constants() {
    let syn = tcp4(1, 2, 0x02);
    let ack = tcp4(1, 2, 0x10);
    yes("tcp[tcpflags] & tcp-syn != 0", &syn);
    no("tcp[tcpflags] & tcp-syn != 0", &ack);
    yes("tcp[13] = 2", &syn);
    yes("tcp[tcpflags] & (tcp-syn|tcp-ack) = tcp-syn", &syn);
    yes("tcp[0:2] = 1 and tcp[2:2] = 2", &syn);
    yes("tcp[12] >> 4 = 5", &syn);
    yes("udp[2:2] = 2", &udp4(1, 2));
    yes("icmp[icmptype] = icmp-echo", &icmp4(8));
    no("icmp[icmptype] = icmp-echoreply", &icmp4(8));
    yes("ip[0] & 0xf = 5", &syn);
    yes("ip[9] = 6", &syn);
    yes("ip[12:4] = 0x0a000001", &syn);
    yes("ip[ip[0] & 0xf] = 1", &syn); // ip[5]: the low byte of the IP ID
    yes("ether[12:2] = 0x0800", &syn);
    yes("ether[0] & 1 = 0", &syn);
    yes("ip6[6] = 6", &tcp6(1, 2));
    yes("arp[7] = 1", &arp(A, B));
    yes("ip[2:2] - ((ip[0]&0xf)<<2) - ((tcp[12]&0xf0)>>2) = 0", &syn);
    let icmp6 = eth(
        DST_MAC,
        SRC_MAC,
        0x86dd,
        &ipv6(58, v6(1), v6(2), &[135, 0, 0, 0]),
    );
    yes("icmp6[icmp6type] = icmp6-neighborsolicit", &icmp6);
    // Accessors on the wrong protocol reject.
    no("tcp[13] = 2", &tcp6(1, 2));
}

#[test]
fn arithmetic_operators() {
    let p = tcp4(1, 2, 0); // ip[2:2] = 40
    for (e, want) in [
        ("ip[2:2] + 2 = 42", true),
        ("ip[2:2] - 2 = 38", true),
        ("ip[2:2] * 2 = 80", true),
        ("ip[2:2] / 3 = 13", true),
        ("ip[2:2] % 3 = 1", true),
        ("ip[2:2] & 8 = 8", true),
        ("ip[2:2] | 1 = 41", true),
        ("ip[2:2] ^ 1 = 41", true),
        ("ip[2:2] << 1 = 80", true),
        ("ip[2:2] >> 1 = 20", true),
        ("-ip[2:2] = 0xffffffd8", true),
        ("2 + 3 * 4 = 14", true),
        ("(2 + 3) * 4 = 20", true),
        ("ip[2:2] != 40", false),
        ("ip[2:2] < 41", true),
        ("ip[2:2] <= 40", true),
        ("ip[2:2] > 40", false),
        ("ip[2:2] >= 40", true),
        ("ip[2:2] == ip[2:2]", true),
        ("41 > ip[2:2]", true),
        ("len = ip[2:2] + 14", true),
        ("1 = 2", false),
    ] {
        assert_eq!(m(e, &p), want, "{e}");
    }
}

#[test]
fn boolean_operators() {
    let p = tcp4(80, 1, 0);
    yes("tcp and port 80", &p);
    yes("tcp && port 80", &p);
    yes("udp or port 80", &p);
    yes("udp || port 80", &p);
    no("not tcp", &p);
    no("!tcp", &p);
    yes("not not tcp", &p);
    yes("!(udp or icmp)", &p);
    yes("(tcp or udp) and (port 80 or port 53)", &p);
    no("tcp and (port 81 or port 53)", &p);
    yes("", &p);
}

// ----- errors -----

#[test]
fn syntax_errors_have_positions() {
    let e = err("tcp port ");
    assert_eq!(e.to_string(), "expected a port number after `port` at 9");
    assert_eq!(e.position(), Some(9));
    let e = err("host");
    assert_eq!(e.to_string(), "expected a host after `host` at 4");
    let e = err("tcp and");
    assert_eq!(e.position(), Some(7));
    let e = err("(tcp");
    assert_eq!(
        e.to_string(),
        "expected `)` to close `(`, found the end of the expression at 4"
    );
    let e = err("tcp )");
    assert_eq!(e.to_string(), "unexpected `)` at 4");
    let e = err("ip[1:3] = 0");
    assert_eq!(e.to_string(), "data size must be 1, 2, or 4 at 5");
    let e = err("tcp port 80 @");
    assert_eq!(e.position(), Some(12));
    let e = err("10.0.0.1");
    assert!(e.to_string().contains("needs a qualifier"), "{e}");
    let e = err("len");
    assert!(e.to_string().contains("comparison"), "{e}");
    let e = err("ip[0] = ");
    assert!(matches!(e, FilterError::Syntax { pos: 8, .. }), "{e:?}");
}

#[test]
fn semantic_errors() {
    assert!(matches!(
        err("port 70000"),
        FilterError::Invalid { pos: 5, .. }
    ));
    assert!(matches!(
        err("port nosuchservice"),
        FilterError::UnknownPort { pos: 5, .. }
    ));
    assert!(matches!(
        err("ip proto nosuchproto"),
        FilterError::UnknownProtocol { pos: 9, .. }
    ));
    assert!(matches!(
        err("host no-such-host.invalid"),
        FilterError::UnknownHost { pos: 5, .. }
    ));
    assert_eq!(err("udp port ssh").to_string(), "port `ssh` is tcp at 9");
    assert_eq!(err("ip[0] / 0 = 1").to_string(), "division by zero at 10");
    assert!(err("ip[0] << 32 = 1").to_string().contains("shift"));
    assert!(
        err("net 10.0.0.1/8")
            .to_string()
            .contains("non-network bits")
    );
    assert!(
        err("net 2001:db8::1/32")
            .to_string()
            .contains("non-network bits")
    );
    assert!(err("vlan 5000").to_string().contains("4095"));
    assert!(err("mpls 2000000").to_string().contains("1048575"));
    assert!(err("tcp host 10.0.0.1").to_string().contains("modifier"));
    assert!(err("ip port 80").to_string().contains("illegal qualifier"));
    assert!(
        err("host 00:11:22:33:44:55")
            .to_string()
            .contains("non-ether")
    );
    assert!(err("ip6 broadcast").to_string().contains("not supported"));
    assert!(err("ether").to_string().contains("qualifier"));
    assert!(err("mpls and arp").to_string().contains("mpls"));
    assert!(matches!(
        err("inbound"),
        FilterError::Unsupported { pos: 0, .. }
    ));
    assert!(matches!(
        err("gateway foo"),
        FilterError::Unsupported { .. }
    ));
    assert!(matches!(
        err("tcp and wlan host 1:2:3:4:5:6"),
        FilterError::Unsupported { pos: 8, .. }
    ));
}

#[test]
fn limits() {
    let deep = format!("{}tcp{}", "(".repeat(300), ")".repeat(300));
    assert!(matches!(err(&deep), FilterError::TooDeep { .. }));
    let nots = format!("{}tcp", "not ".repeat(300));
    assert!(matches!(err(&nots), FilterError::TooDeep { .. }));
    let minus = format!("{}1 = 1", "-".repeat(300));
    assert!(matches!(err(&minus), FilterError::TooDeep { .. }));
    let long = "tcp or ".repeat(2000) + "tcp";
    assert!(matches!(err(&long), FilterError::TooLarge { .. }));
    // Many distinct tests: more than 4096 instructions.
    let many: Vec<String> = (0..700).map(|i| format!("ip[{i}] = {i}")).collect();
    assert!(matches!(
        err(&many.join(" or ")),
        FilterError::TooLarge { .. }
    ));
    // Long but fine: repeated tests collapse.
    let ok = vec!["tcp"; 500].join(" or ");
    assert_eq!(compile(&ok).unwrap().instructions().len(), 12);
}

// ----- programs -----

#[test]
fn display_is_tcpdump_d() {
    let p = compile("ip").unwrap();
    assert_eq!(
        p.to_string(),
        "(000) ldh      [12]\n(001) jeq      #0x800           jt 2\tjf 3\n(002) ret      #262144\n(003) ret      #0\n"
    );
    assert_eq!(
        format_insn(
            &Insn {
                code: 0x07,
                jt: 0,
                jf: 0,
                k: 0
            },
            4
        ),
        "(004) tax      "
    );
}

#[test]
fn programs_are_valid_and_long_jumps_work() {
    // Far jumps need `ja` trampolines (jt/jf are 8 bits).
    let e: Vec<String> = (0..150).map(|i| format!("ip[{}:2] = {i}", 2 * i)).collect();
    let e = format!("({}) and tcp", e.join(" or "));
    let p = compile(&e).unwrap();
    assert!(p.instructions().len() > 300);
    assert!(
        p.instructions().iter().any(|i| i.code == 0x05),
        "expected a ja"
    );
    // No term matches before ip[40:2] runs past the 54 bytes: rejected.
    let pkt = tcp4(1, 2, 0);
    assert!(!p.matches(&pkt, 54));
    let mut pkt2 = pkt.clone();
    pkt2[14 + 20] = 0; // ip[20:2] = 10
    pkt2[14 + 21] = 10;
    assert!(p.matches(&pkt2, 54));
}

#[test]
fn unoptimized_programs_agree() {
    let opts = CompileOptions {
        optimize: false,
        ..CompileOptions::default()
    };
    for e in [
        "tcp port 80",
        "host 10.0.0.1 or 192.168.1.2",
        "vlan 100 and ip",
        "tcp[13] & 2 != 0",
    ] {
        let a = compile(e).unwrap();
        let b = Program::compile_with(e, &opts).unwrap();
        assert!(b.instructions().len() >= a.instructions().len());
        for pkt in [
            tcp4(80, 1, 2),
            tcp6(80, 1),
            udp4(1, 80),
            tag(&tcp4(80, 1, 0), 0x8100, 100),
        ] {
            assert_eq!(a.matches(&pkt, 60), b.matches(&pkt, 60), "{e}");
        }
    }
}

#[test]
fn direction_and_interface_for_the_kernel() {
    let frame = tcp4(80, 1, 0);
    let out = PacketMeta {
        pkt_type: 4, // PACKET_OUTGOING
        ifindex: 3,
        ..PacketMeta::default()
    };
    let inn = PacketMeta {
        pkt_type: 0, // PACKET_HOST
        ifindex: 2,
        ..PacketMeta::default()
    };
    let k = |e: &str| Program::compile_for(e, Target::Kernel).unwrap();
    assert!(k("inbound").matches_with_meta(&frame, 54, &inn));
    assert!(!k("inbound").matches_with_meta(&frame, 54, &out));
    assert!(k("outbound and ifindex 3").matches_with_meta(&frame, 54, &out));
    assert!(!k("ifindex 3").matches_with_meta(&frame, 54, &inn));
    assert_eq!(
        k("outbound").to_string().lines().next(),
        Some("(000) ldh      [type]")
    );
    // Pcap files carry no direction.
    assert!(matches!(
        err("inbound"),
        FilterError::Unsupported { pos: 0, .. }
    ));
    assert!(matches!(
        err("tcp and ifindex 2"),
        FilterError::Unsupported { pos: 8, .. }
    ));
}

#[test]
fn arithmetic_identities_cost_nothing() {
    let a = compile("ip[0:4] & 0xffffffff = 5").unwrap();
    let b = compile("ip[0:4] = 5").unwrap();
    assert_eq!(a, b);
    assert_eq!(compile("len + 0 > 5").unwrap(), compile("len > 5").unwrap());
}

#[test]
fn ethernet_family_protocols() {
    let llc = |dsap: u8, ssap: u8, rest: &[u8]| {
        let mut p = vec![dsap, ssap, 0x03];
        p.extend_from_slice(rest);
        eth(DST_MAC, SRC_MAC, p.len() as u16, &p)
    };
    yes("stp", &llc(0x42, 0x42, &[0; 8]));
    yes("llc", &llc(0x42, 0x42, &[0; 8]));
    no("llc", &tcp4(1, 2, 0));
    yes("iso", &llc(0xfe, 0xfe, &[0x83, 0, 0]));
    yes("isis", &llc(0xfe, 0xfe, &[0x83, 0, 0]));
    no("esis", &llc(0xfe, 0xfe, &[0x83, 0, 0]));
    yes("netbeui", &llc(0xf0, 0xf0, &[0; 4]));
    yes("ipx", &llc(0xe0, 0xe0, &[0; 8]));
    yes("ipx", &eth(DST_MAC, SRC_MAC, 0x8137, &[0; 30]));
    yes(
        "atalk",
        &llc(0xaa, 0xaa, &[0x08, 0x00, 0x07, 0x80, 0x9b, 0]),
    );
    yes("decnet", &eth(DST_MAC, SRC_MAC, 0x6003, &[0; 30]));
    no("decnet", &tcp4(1, 2, 0));
    yes(
        "pppoed",
        &eth(DST_MAC, SRC_MAC, 0x8863, &[0x11, 0x09, 0, 0, 0, 0]),
    );
}

#[test]
fn pppoe_sessions() {
    // PPPoE header: ver/type 0x11, code 0, session 0x1234, length; then PPP protocol 0x0021.
    let mut p = vec![0x11, 0x00, 0x12, 0x34, 0x00, 0x30, 0x00, 0x21];
    p.extend_from_slice(&ipv4(6, A, B, 0, &tcp(80, 1, 0)));
    let f = eth(DST_MAC, SRC_MAC, 0x8864, &p);
    yes("pppoes", &f);
    yes("pppoes 0x1234", &f);
    no("pppoes 1", &f);
    yes("pppoes and ip", &f);
    yes("pppoes 0x1234 and tcp port 80 and host 10.0.0.1", &f);
    no("pppoes and ip6", &f);
    no("ip", &f);
    assert!(err("pppoes and vlan").to_string().contains("vlan"));
}

#[test]
fn long_expressions_stay_within_a_small_stack() {
    // Left-deep chains as long as MAX_EXPR_LEN allows, on a 1 MiB thread stack.
    let max = pfring::filter::MAX_EXPR_LEN;
    let cases: Vec<String> = vec![
        format!("len = {}1", "len + ".repeat((max - 10) / 6)),
        format!("{}ip", "ip and ".repeat((max - 2) / 7)),
        format!("{}udp", "tcp or ".repeat((max - 3) / 7)),
        format!("port 1{}", " or 1".repeat((max - 7) / 5)),
        format!("ip[0] = 1{}", " * 1".repeat((max - 9) / 4)),
        format!("{}1", "-".repeat(200)) + " = 1",
    ];
    for (i, c) in cases.into_iter().enumerate() {
        assert!(c.len() <= max, "{}", c.len());
        eprintln!("case {i}");
        let h = std::thread::Builder::new()
            .stack_size(1 << 20)
            .spawn(move || {
                let t = std::time::Instant::now();
                let r = compile(&c);
                eprintln!(
                    "  {:?} {:?}",
                    t.elapsed(),
                    r.map(|p| p.instructions().len())
                );
            })
            .unwrap();
        h.join().unwrap();
    }
}

#[test]
fn protochain_follows_extension_headers() {
    // IPv6: hop-by-hop (8 bytes), destination options (16 bytes), then TCP.
    let mut chain = vec![60, 0, 0, 0, 0, 0, 0, 0];
    chain.extend_from_slice(&[6, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    chain.extend_from_slice(&tcp(80, 1, 0));
    let pkt = eth(DST_MAC, SRC_MAC, 0x86dd, &ipv6(0, v6(1), v6(2), &chain));
    yes("ip6 protochain 6", &pkt);
    yes("protochain tcp", &pkt);
    yes("ip6 protochain 60", &pkt);
    no("ip6 protochain 17", &pkt);
    no("ip6 proto 6", &pkt);
    // IPv4 with AH (24 bytes) then UDP: the AH's next-header byte says UDP.
    let mut ah = vec![
        17, 4, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    ah.extend_from_slice(&udp(53, 53));
    let pkt4 = eth(DST_MAC, SRC_MAC, 0x0800, &ipv4(51, A, B, 0, &ah));
    yes("ip protochain 51", &pkt4);
    yes("ip protochain 17", &pkt4);
    no("ip protochain 6", &pkt4);
    // Runs in the kernel: no backward jumps.
    let p = compile("protochain 6").unwrap();
    assert!(
        p.instructions()
            .iter()
            .all(|i| i.code != 0x05 || i.k < 4096)
    );
    // A chain longer than the unrolled depth does not match.
    let mut long = Vec::new();
    for _ in 0..7 {
        long.extend_from_slice(&[60, 0, 0, 0, 0, 0, 0, 0]);
    }
    long[7 * 8 - 8] = 6;
    long.extend_from_slice(&tcp(80, 1, 0));
    let deep = eth(DST_MAC, SRC_MAC, 0x86dd, &ipv6(60, v6(1), v6(2), &long));
    no("ip6 protochain 6", &deep);
}
