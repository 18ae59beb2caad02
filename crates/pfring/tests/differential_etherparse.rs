//! Differential test: on every Ethernet packet of the shared test data, every field that
//! both our parser and etherparse report must agree.
//!
//! etherparse is run twice per packet: strict (`SlicedPacket`, which rejects truncated or
//! inconsistent packets) and lax (`LaxSlicedPacket`, which keeps what it could parse).
//!
//! Deliberate differences, where a field is not compared:
//! - L4 of fragmented IP payloads: PF_RING (and we) parse the L4 header of a *first*
//!   fragment, etherparse parses no L4 on any fragment. Compared only when unfragmented.
//! - TCP flags: PF_RING keeps FIN..URG only (ECE/CWR dropped): compared on those 6 bits.
//! - MACsec (0x88E5) is a link extension for etherparse; PF_RING does not parse it, so
//!   layers after a MACsec header are not compared.
//! - An IP version nibble that contradicts the EtherType: we (like PF_RING) follow the
//!   EtherType, etherparse's lax mode the nibble; not compared.
//! - IPv6 extension headers PF_RING does not walk (mobility, HIP, shim6, experimental):
//!   etherparse skips them, we stop; the protocol and L4 are compared only when the
//!   protocol we report is not such a header.

#[path = "common/pcap.rs"]
mod pcap;

use etherparse::{
    LaxLinkExtSlice, LaxNetSlice, LaxSlicedPacket, LinkExtSlice, LinkSlice, NetSlice, SlicedPacket,
    TransportSlice,
};
use pfring::parse::{ParsedPacket, tcp_flags};

/// What etherparse reports, in our terms.
#[derive(Debug, Default)]
struct View {
    macs: Option<([u8; 6], [u8; 6], u16)>,
    vlans: Vec<u16>,
    macsec: bool,
    /// version, src, dst, payload protocol, tos, frag offset, more fragments, fragmented,
    /// l3 offset, l4 offset
    ip: Option<Ip>,
    /// sport, dport, seq, ack, flags, payload offset
    tcp: Option<(u16, u16, u32, u32, u8, usize)>,
    /// sport, dport, payload offset
    udp: Option<(u16, u16, usize)>,
    icmp: Option<(u8, u8)>,
}

#[derive(Debug)]
struct Ip {
    version: u8,
    src: Vec<u8>,
    dst: Vec<u8>,
    proto: u8,
    tos: u8,
    frag_offset: u16,
    more_fragments: bool,
    fragmented: bool,
    l3: usize,
    l4: usize,
}

fn offset_of(frame: &[u8], part: &[u8]) -> usize {
    part.as_ptr() as usize - frame.as_ptr() as usize
}

fn transport(frame: &[u8], v: &mut View, t: &Option<TransportSlice<'_>>) {
    match t {
        Some(TransportSlice::Tcp(t)) => {
            let flags = u8::from(t.fin())
                | u8::from(t.syn()) << 1
                | u8::from(t.rst()) << 2
                | u8::from(t.psh()) << 3
                | u8::from(t.ack()) << 4
                | u8::from(t.urg()) << 5;
            v.tcp = Some((
                t.source_port(),
                t.destination_port(),
                t.sequence_number(),
                t.acknowledgment_number(),
                flags,
                offset_of(frame, t.payload()),
            ));
        }
        Some(TransportSlice::Udp(u)) => {
            v.udp = Some((
                u.source_port(),
                u.destination_port(),
                offset_of(frame, u.payload()),
            ));
        }
        Some(TransportSlice::Icmpv4(i)) => v.icmp = Some((i.type_u8(), i.code_u8())),
        Some(TransportSlice::Icmpv6(i)) => v.icmp = Some((i.type_u8(), i.code_u8())),
        _ => {}
    }
}

fn ipv4_view(
    frame: &[u8],
    h: etherparse::Ipv4HeaderSlice<'_>,
    proto: u8,
    fragmented: bool,
    payload: &[u8],
) -> Ip {
    Ip {
        version: 4,
        src: h.source().to_vec(),
        dst: h.destination().to_vec(),
        proto,
        tos: h.dcp().value() << 2 | h.ecn().value(),
        frag_offset: h.fragments_offset().value(),
        more_fragments: h.more_fragments(),
        fragmented,
        l3: offset_of(frame, h.slice()),
        l4: offset_of(frame, payload),
    }
}

fn ipv6_view(
    frame: &[u8],
    h: etherparse::Ipv6HeaderSlice<'_>,
    proto: u8,
    fragmented: bool,
    payload: &[u8],
) -> Ip {
    Ip {
        version: 6,
        src: h.source().to_vec(),
        dst: h.destination().to_vec(),
        proto,
        tos: h.traffic_class(),
        frag_offset: 0,
        more_fragments: false,
        fragmented,
        l3: offset_of(frame, h.slice()),
        l4: offset_of(frame, payload),
    }
}

fn strict_view(frame: &[u8]) -> Option<View> {
    let s = SlicedPacket::from_ethernet(frame).ok()?;
    let mut v = View::default();
    if let Some(LinkSlice::Ethernet2(e)) = &s.link {
        v.macs = Some((e.destination(), e.source(), e.ether_type().0));
    }
    for x in &s.link_exts {
        match x {
            LinkExtSlice::Vlan(t) => v.vlans.push(t.vlan_identifier().value()),
            LinkExtSlice::Macsec(_) => v.macsec = true,
        }
    }
    match &s.net {
        Some(NetSlice::Ipv4(i)) => {
            let p = i.payload();
            v.ip = Some(ipv4_view(
                frame,
                i.header(),
                p.ip_number.0,
                p.fragmented,
                p.payload,
            ));
        }
        Some(NetSlice::Ipv6(i)) => {
            let p = i.payload();
            v.ip = Some(ipv6_view(
                frame,
                i.header(),
                p.ip_number.0,
                p.fragmented,
                p.payload,
            ));
        }
        _ => {}
    }
    transport(frame, &mut v, &s.transport);
    Some(v)
}

fn lax_view(frame: &[u8]) -> Option<View> {
    let s = LaxSlicedPacket::from_ethernet(frame).ok()?;
    let mut v = View::default();
    if let Some(LinkSlice::Ethernet2(e)) = &s.link {
        v.macs = Some((e.destination(), e.source(), e.ether_type().0));
    }
    for x in &s.link_exts {
        match x {
            LaxLinkExtSlice::Vlan(t) => v.vlans.push(t.vlan_identifier().value()),
            LaxLinkExtSlice::Macsec(_) => v.macsec = true,
        }
    }
    match &s.net {
        Some(LaxNetSlice::Ipv4(i)) => {
            let p = i.payload();
            v.ip = Some(ipv4_view(
                frame,
                i.header(),
                p.ip_number.0,
                p.fragmented,
                p.payload,
            ));
        }
        Some(LaxNetSlice::Ipv6(i)) => {
            let p = i.payload();
            v.ip = Some(ipv6_view(
                frame,
                i.header(),
                p.ip_number.0,
                p.fragmented,
                p.payload,
            ));
        }
        _ => {}
    }
    transport(frame, &mut v, &s.transport);
    Some(v)
}

/// IPv6 extension headers etherparse skips and PF_RING does not.
fn pfring_unwalked_ext(proto: u8) -> bool {
    matches!(proto, 135 | 139 | 140 | 253 | 254)
}

#[derive(Default, Debug)]
struct Counts {
    packets: usize,
    ip: usize,
    tcp: usize,
    udp: usize,
    icmp: usize,
    vlan: usize,
}

/// Compares `p` with `v`; returns the list of disagreements.
fn compare(p: &ParsedPacket, v: &View, c: &mut Counts) -> Vec<String> {
    let mut bad = Vec::new();
    let mut check = |what: &str, ours: String, theirs: String| {
        if ours != theirs {
            bad.push(format!("{what}: ours {ours}, etherparse {theirs}"));
        }
    };
    c.packets += 1;
    if let Some((d, s, et)) = v.macs {
        check("dmac", format!("{:?}", p.dmac), format!("{d:?}"));
        check("smac", format!("{:?}", p.smac), format!("{s:?}"));
        if v.vlans.is_empty() && !v.macsec {
            check(
                "eth_type",
                format!("{:#06x}", p.eth_type),
                format!("{et:#06x}"),
            );
        }
    }
    if let Some(&vid) = v.vlans.first() {
        c.vlan += 1;
        check("vlan_id", p.vlan_id.to_string(), vid.to_string());
    }
    if let Some(&vid) = v.vlans.get(1) {
        check("qinq_vlan_id", p.qinq_vlan_id.to_string(), vid.to_string());
    }
    if v.macsec {
        return bad;
    }
    let Some(ip) = &v.ip else {
        return bad;
    };
    // etherparse's lax mode picks the IP version from the version nibble, PF_RING from
    // the EtherType: a mismatch is a malformed packet the two read differently.
    let by_ethertype = match p.eth_type {
        0x0800 => 4,
        0x86DD => 6,
        _ => 0,
    };
    if ip.version != by_ethertype {
        return bad;
    }
    c.ip += 1;
    let l3 = 14 + 4 * v.vlans.len();
    check(
        "l3_offset",
        p.offset.l3_offset.to_string(),
        ip.l3.to_string(),
    );
    check("l3 (vlans)", l3.to_string(), ip.l3.to_string());
    check(
        "ip_version",
        p.ip_version.to_string(),
        ip.version.to_string(),
    );
    let (src, dst) = if ip.version == 4 {
        (
            p.ip_src.v4().to_be_bytes().to_vec(),
            p.ip_dst.v4().to_be_bytes().to_vec(),
        )
    } else {
        (p.ip_src.v6().to_vec(), p.ip_dst.v6().to_vec())
    };
    check("ip_src", format!("{src:?}"), format!("{:?}", ip.src));
    check("ip_dst", format!("{dst:?}"), format!("{:?}", ip.dst));
    check("ip_tos", p.ip_tos.to_string(), ip.tos.to_string());
    if ip.version == 4 {
        check(
            "frag_offset",
            p.ip_fragment_offset.to_string(),
            ip.frag_offset.to_string(),
        );
        check(
            "more_fragments",
            p.ip_more_fragments.to_string(),
            ip.more_fragments.to_string(),
        );
    }
    if pfring_unwalked_ext(p.l3_proto) {
        return bad;
    }
    // etherparse reports "no next header" as 59, PF_RING as 0.
    let their_proto = if ip.proto == 59 && ip.version == 6 {
        0
    } else {
        ip.proto
    };
    check("l3_proto", p.l3_proto.to_string(), their_proto.to_string());
    check(
        "l4_offset",
        p.offset.l4_offset.to_string(),
        ip.l4.to_string(),
    );
    if ip.version == 6 {
        check(
            "fragmented",
            (p.ip_fragment_offset != 0 || p.ip_more_fragments).to_string(),
            ip.fragmented.to_string(),
        );
    }
    if ip.fragmented {
        return bad;
    }
    if let Some((sp, dp, seq, ack, flags, pay)) = v.tcp {
        c.tcp += 1;
        check(
            "tcp ports",
            format!("{}/{}", p.l4_src_port, p.l4_dst_port),
            format!("{sp}/{dp}"),
        );
        check(
            "tcp seq/ack",
            format!("{}/{}", p.tcp.seq_num, p.tcp.ack_num),
            format!("{seq}/{ack}"),
        );
        let six = tcp_flags::FIN
            | tcp_flags::SYN
            | tcp_flags::RST
            | tcp_flags::PSH
            | tcp_flags::ACK
            | tcp_flags::URG;
        check(
            "tcp flags",
            (p.tcp.flags & six).to_string(),
            flags.to_string(),
        );
        check(
            "payload_offset",
            p.offset.payload_offset.to_string(),
            pay.to_string(),
        );
    }
    if let Some((sp, dp, pay)) = v.udp {
        c.udp += 1;
        check(
            "udp ports",
            format!("{}/{}", p.l4_src_port, p.l4_dst_port),
            format!("{sp}/{dp}"),
        );
        check(
            "payload_offset",
            p.offset.payload_offset.to_string(),
            pay.to_string(),
        );
    }
    if let Some((t, code)) = v.icmp {
        c.icmp += 1;
        check(
            "icmp",
            format!("{}/{}", p.icmp_type, p.icmp_code),
            format!("{t}/{code}"),
        );
    }
    bad
}

#[test]
fn agrees_with_etherparse() {
    let Some(dir) = pcap::testdata_dir() else {
        eprintln!("skipped: ../shared/testdata/pcap not found next to the workspace");
        return;
    };
    let frames = pcap::ethernet_frames(&dir);
    let (mut strict, mut lax) = (Counts::default(), Counts::default());
    let mut failures = Vec::new();
    for (name, r) in &frames {
        let (p, _) = ParsedPacket::parse(&r.data, 4);
        for (kind, view, counts) in [
            ("strict", strict_view(&r.data), &mut strict),
            ("lax", lax_view(&r.data), &mut lax),
        ] {
            let Some(view) = view else { continue };
            for b in compare(&p, &view, counts) {
                failures.push(format!("{name} ({kind}, {} bytes): {b}", r.data.len()));
            }
        }
    }
    eprintln!(
        "{} Ethernet packets; strict: {strict:?}; lax: {lax:?}",
        frames.len()
    );
    for f in failures.iter().take(60) {
        eprintln!("{f}");
    }
    assert!(failures.is_empty(), "{} disagreements", failures.len());
    // A meaningful share of the data was compared at every layer.
    // (1810 packets: strict etherparse accepts 1716, lax 1769; 1314 IP, 284 TCP, 360 UDP,
    // 12 ICMP, 2 VLAN-tagged.)
    assert!(
        strict.packets >= 1700 && lax.packets >= 1750,
        "{strict:?} {lax:?}"
    );
    assert!(
        strict.ip >= 1250 && strict.tcp >= 270 && strict.udp >= 330,
        "{strict:?}"
    );
    assert!(
        lax.ip >= 1300 && lax.tcp >= 280 && lax.udp >= 350 && lax.icmp >= 10,
        "{lax:?}"
    );
}
