//! Name lookups: services (`/etc/services`), protocols (`/etc/protocols`) and hosts (the
//! system resolver), with built-in fallbacks for the common names.

use std::net::{IpAddr, ToSocketAddrs};

/// Well-known services, used when `/etc/services` is missing or lacks the name.
const SERVICES: &[(&str, u16)] = &[
    ("ftp-data", 20),
    ("ftp", 21),
    ("ssh", 22),
    ("telnet", 23),
    ("smtp", 25),
    ("domain", 53),
    ("bootps", 67),
    ("bootpc", 68),
    ("tftp", 69),
    ("http", 80),
    ("www", 80),
    ("kerberos", 88),
    ("pop3", 110),
    ("sunrpc", 111),
    ("ntp", 123),
    ("netbios-ns", 137),
    ("netbios-dgm", 138),
    ("netbios-ssn", 139),
    ("imap", 143),
    ("snmp", 161),
    ("snmp-trap", 162),
    ("bgp", 179),
    ("ldap", 389),
    ("https", 443),
    ("isakmp", 500),
    ("syslog", 514),
    ("submission", 587),
    ("ldaps", 636),
    ("imaps", 993),
    ("pop3s", 995),
    ("radius", 1812),
    ("nfs", 2049),
    ("mysql", 3306),
    ("postgresql", 5432),
];

/// Well-known IP protocols, used when `/etc/protocols` is missing or lacks the name.
const PROTOCOLS: &[(&str, u8)] = &[
    ("ip", 0),
    ("icmp", 1),
    ("igmp", 2),
    ("tcp", 6),
    ("egp", 8),
    ("udp", 17),
    ("ipv6", 41),
    ("rsvp", 46),
    ("gre", 47),
    ("esp", 50),
    ("ah", 51),
    ("icmp6", 58),
    ("ipv6-icmp", 58),
    ("ospf", 89),
    ("pim", 103),
    ("vrrp", 112),
    ("sctp", 132),
];

/// Looks `name` up in `/etc/services` for `proto` ("tcp", "udp", "sctp"). Without a
/// readable `/etc/services`, the built-in table answers for tcp and udp.
pub(crate) fn service(name: &str, proto: &str) -> Option<u16> {
    let Ok(text) = std::fs::read_to_string("/etc/services") else {
        return SERVICES
            .iter()
            .find(|(n, _)| *n == name && proto != "sctp")
            .map(|&(_, p)| p);
    };
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut f = line.split_whitespace();
        let (Some(n), Some(pp)) = (f.next(), f.next()) else {
            continue;
        };
        let Some((port, pr)) = pp.split_once('/') else {
            continue;
        };
        if pr != proto || (n != name && !f.any(|a| a == name)) {
            continue;
        }
        if let Ok(port) = port.parse::<u16>() {
            return Some(port);
        }
    }
    None
}

/// Looks `name` up in `/etc/protocols`.
pub(crate) fn protocol(name: &str) -> Option<u8> {
    if let Ok(text) = std::fs::read_to_string("/etc/protocols") {
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut f = line.split_whitespace();
            let (Some(n), Some(num)) = (f.next(), f.next()) else {
                continue;
            };
            if (n == name || f.any(|a| a == name))
                && let Ok(v) = num.parse()
            {
                return Some(v);
            }
        }
    }
    PROTOCOLS.iter().find(|(n, _)| *n == name).map(|&(_, p)| p)
}

/// Resolves a host name with the system resolver (`/etc/hosts`, DNS, ...). Addresses come
/// back deduplicated, in resolver order.
pub(crate) fn host(name: &str) -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = Vec::new();
    if let Ok(it) = (name, 0u16).to_socket_addrs() {
        for a in it {
            let ip = a.ip();
            if !out.contains(&ip) {
                out.push(ip);
            }
        }
    }
    out
}

/// EtherType names accepted after `ether proto`.
pub(crate) fn ethertype(name: &str) -> Option<u32> {
    Some(match name {
        "ip" => 0x0800,
        "ip6" => 0x86dd,
        "arp" => 0x0806,
        "rarp" => 0x8035,
        "atalk" => 0x809b,
        "aarp" => 0x80f3,
        "decnet" => 0x6003,
        "sca" => 0x6007,
        "lat" => 0x6004,
        "mopdl" => 0x6001,
        "moprc" => 0x6002,
        "iso" => 0xfe,
        "stp" => 0x42,
        "netbeui" => 0xf0,
        "ipx" => 0xe0,
        _ => return None,
    })
}

/// Named constants usable in arithmetic (`tcp[tcpflags] & tcp-syn`, `icmp[icmptype]`).
pub(crate) fn constant(name: &str) -> Option<u32> {
    Some(match name {
        "icmptype" | "icmp6type" => 0,
        "icmpcode" | "icmp6code" => 1,
        "icmp-echoreply" => 0,
        "icmp-unreach" => 3,
        "icmp-sourcequench" => 4,
        "icmp-redirect" => 5,
        "icmp-echo" => 8,
        "icmp-routeradvert" => 9,
        "icmp-routersolicit" => 10,
        "icmp-timxceed" => 11,
        "icmp-paramprob" => 12,
        "icmp-tstamp" => 13,
        "icmp-tstampreply" => 14,
        "icmp-ireq" => 15,
        "icmp-ireqreply" => 16,
        "icmp-maskreq" => 17,
        "icmp-maskreply" => 18,
        "tcpflags" => 13,
        "tcp-fin" => 0x01,
        "tcp-syn" => 0x02,
        "tcp-rst" => 0x04,
        "tcp-push" => 0x08,
        "tcp-ack" => 0x10,
        "tcp-urg" => 0x20,
        "tcp-ece" => 0x40,
        "tcp-cwr" => 0x80,
        "icmp6-destinationunreach" => 1,
        "icmp6-packettoobig" => 2,
        "icmp6-timeexceeded" => 3,
        "icmp6-parameterproblem" => 4,
        "icmp6-echo" => 128,
        "icmp6-echoreply" => 129,
        "icmp6-multicastlistenerquery" => 130,
        "icmp6-multicastlistenerreportv1" => 131,
        "icmp6-multicastlistenerdone" => 132,
        "icmp6-routersolicit" => 133,
        "icmp6-routeradvert" => 134,
        "icmp6-neighborsolicit" => 135,
        "icmp6-neighboradvert" => 136,
        "icmp6-redirect" => 137,
        "icmp6-routerrenum" => 138,
        "icmp6-nodeinformationquery" => 139,
        "icmp6-nodeinformationresponse" => 140,
        "icmp6-ineighbordiscoverysolicit" => 141,
        "icmp6-ineighbordiscoveryadvert" => 142,
        "icmp6-multicastlistenerreportv2" => 143,
        "icmp6-homeagentdiscoveryrequest" => 144,
        "icmp6-homeagentdiscoveryreply" => 145,
        "icmp6-mobileprefixsolicit" => 146,
        "icmp6-mobileprefixadvert" => 147,
        "icmp6-certpathsolicit" => 148,
        "icmp6-certpathadvert" => 149,
        "icmp6-multicastrouteradvert" => 151,
        "icmp6-multicastroutersolicit" => 152,
        "icmp6-multicastrouterterm" => 153,
        _ => return None,
    })
}
