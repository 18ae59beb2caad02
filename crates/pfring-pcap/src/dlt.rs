//! Link-layer header types: libpcap's `DLT_*` names and descriptions, and the mapping between
//! `DLT_*` values (what applications see) and the `LINKTYPE_*` values written in files.

/// `DLT_EN10MB`: Ethernet.
pub const DLT_EN10MB: i32 = 1;
/// `DLT_RAW` on Linux (raw IP); files store it as `LINKTYPE_RAW` (101).
pub const DLT_RAW: i32 = 12;

/// `(value, name without "DLT_", description)`, as libpcap's `dlt_choices`.
const TABLE: &[(i32, &str, &str)] = &[
    (0, "NULL", "BSD loopback"),
    (1, "EN10MB", "Ethernet"),
    (6, "IEEE802", "Token ring"),
    (7, "ARCNET", "BSD ARCNET"),
    (8, "SLIP", "SLIP"),
    (9, "PPP", "PPP"),
    (10, "FDDI", "FDDI"),
    (11, "ATM_RFC1483", "RFC 1483 LLC-encapsulated ATM"),
    (12, "RAW", "Raw IP"),
    (50, "PPP_SERIAL", "PPP over serial"),
    (51, "PPP_ETHER", "PPPoE"),
    (104, "C_HDLC", "Cisco HDLC"),
    (105, "IEEE802_11", "802.11"),
    (107, "FRELAY", "Frame Relay"),
    (108, "LOOP", "OpenBSD loopback"),
    (113, "LINUX_SLL", "Linux cooked v1"),
    (119, "PRISM_HEADER", "802.11 plus Prism header"),
    (127, "IEEE802_11_RADIO", "802.11 plus radiotap header"),
    (143, "DOCSIS", "DOCSIS"),
    (147, "USER0", "DLT_USER0"),
    (148, "USER1", "DLT_USER1"),
    (149, "USER2", "DLT_USER2"),
    (150, "USER3", "DLT_USER3"),
    (
        163,
        "IEEE802_11_RADIO_AVS",
        "802.11 plus AVS radio information header",
    ),
    (189, "USB_LINUX", "USB with Linux header"),
    (192, "PPI", "Per-Packet Information"),
    (195, "IEEE802_15_4_WITHFCS", "IEEE 802.15.4 with FCS"),
    (
        201,
        "BLUETOOTH_HCI_H4_WITH_PHDR",
        "Bluetooth HCI UART transport layer plus pseudo-header",
    ),
    (220, "USB_LINUX_MMAPPED", "USB with padded Linux header"),
    (227, "CAN_SOCKETCAN", "CAN-bus with SocketCAN headers"),
    (228, "IPV4", "Raw IPv4"),
    (229, "IPV6", "Raw IPv6"),
    (239, "NFLOG", "Linux netfilter log messages"),
    (249, "USBPCAP", "USB with USBPcap header"),
    (276, "LINUX_SLL2", "Linux cooked v2"),
];

/// The name of a `DLT_*` value (without the `DLT_` prefix).
pub fn name(dlt: i32) -> Option<&'static str> {
    TABLE.iter().find(|e| e.0 == dlt).map(|e| e.1)
}

/// The description of a `DLT_*` value.
pub fn description(dlt: i32) -> Option<&'static str> {
    TABLE.iter().find(|e| e.0 == dlt).map(|e| e.2)
}

/// The value of a name, with or without `DLT_`, case-insensitive.
pub fn value(name: &str) -> Option<i32> {
    let n = name
        .strip_prefix("DLT_")
        .or_else(|| name.strip_prefix("dlt_"))
        .unwrap_or(name);
    TABLE
        .iter()
        .find(|e| e.1.eq_ignore_ascii_case(n))
        .map(|e| e.0)
}

/// The `DLT_*` value of a file's `LINKTYPE_*`.
pub fn from_linktype(lt: u16) -> i32 {
    match lt {
        101 => DLT_RAW,
        100 => 11,
        other => i32::from(other),
    }
}

/// The `LINKTYPE_*` written in a file for a `DLT_*` value.
pub fn to_linktype(dlt: i32) -> u16 {
    match dlt {
        DLT_RAW => 101,
        11 => 100,
        other => u16::try_from(other).unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(name(1), Some("EN10MB"));
        assert_eq!(description(1), Some("Ethernet"));
        assert_eq!(value("en10mb"), Some(1));
        assert_eq!(value("DLT_LINUX_SLL"), Some(113));
        assert_eq!(value("nope"), None);
        for (v, n, _) in TABLE {
            assert_eq!(value(n), Some(*v));
        }
    }

    #[test]
    fn raw_ip_maps_to_linktype_101() {
        assert_eq!(from_linktype(101), DLT_RAW);
        assert_eq!(to_linktype(DLT_RAW), 101);
        assert_eq!(from_linktype(1), 1);
        assert_eq!(to_linktype(113), 113);
    }
}
