//! PF_RING 5.4's C types: structs with the 5.x field names and (unpacked, natural-alignment)
//! layout, enums as `typedef`'d integers with one constant per enumerator (PF_RING's enums are
//! anonymous `typedef enum { ... } name;`, so C code only ever names the typedef and the
//! enumerators, and both exist in `pfring.h`), flags, limits and `PF_RING_ERROR_*` codes.
//!
//! Where 5.3.1 and 5.6.1 differ (the tunnel part of `pkt_parsing_info`, `filtering_rule`'s
//! extended fields) the 5.6.1 layout is used: it is the one whose sizes the reference gives
//! (`pfring_pkthdr` 200 bytes, `filtering_rule` 496) and the one the parser fills (tunnels).
//! The sizes and offsets are checked at compile time at the end of this file.
#![allow(non_camel_case_types)]
// C mirror structs holding unions: a Debug impl would have to pick a union member.
#![allow(missing_debug_implementations)]

use std::ffi::{c_char, c_int, c_uint, c_ulong, c_void};

// ---------------------------------------------------------------------------------------
// Versions, limits
// ---------------------------------------------------------------------------------------

/// PF_RING API level implemented, `0x00MMmmpp` (5.4.0).
pub const RING_VERSION_NUM: u32 = 0x050400;
/// Largest caplen `pfring_open` accepts.
pub const MAX_CAPLEN: u32 = 65535;
/// Most RX channels `pfring_open_multichannel` opens (5.x: a 32-bit channel mask).
pub const MAX_NUM_RX_CHANNELS: usize = 32;
/// `pfring_add_filtering_rule`: let the library choose the rule id.
pub const FILTERING_RULE_AUTO_RULE_ID: u16 = 0xFFFF;
/// Default poll duration of a blocking receive, in milliseconds.
pub const DEFAULT_POLL_DURATION: u32 = 500;
/// Length of a reflector device name in the rule structs.
pub const REFLECTOR_NAME_LEN: usize = 8;
/// Length of `filtering_rule.extended_fields.filter_plugin_data`.
pub const FILTER_PLUGIN_DATA_LEN: usize = 256;
/// `tunnel_id` meaning "no tunnel".
pub const NO_TUNNEL_ID: u32 = 0xFFFF_FFFF;
/// `filtering_rule.extended_fields.optional_fields`: the tunnel id is to be matched.
pub const FILTER_TUNNEL_ID_FLAG: u16 = 1 << 0;
/// `pfring_set_channel_id`: any channel.
pub const RING_ANY_CHANNEL: u32 = 0xFFFF_FFFF;
/// Any VLAN.
pub const RING_ANY_VLAN: u16 = 0xFFFF;
/// No VLAN.
pub const RING_NO_VLAN: u16 = 0;

// ---------------------------------------------------------------------------------------
// pfring_open flags
// ---------------------------------------------------------------------------------------

/// Symmetric RSS on DNA devices (5.6.1; accepted and ignored: no DNA here).
pub const PF_RING_DNA_SYMMETRIC_RSS: u32 = 1 << 0;
/// The handle is used from several threads: zero-copy `pfring_recv` is refused.
pub const PF_RING_REENTRANT: u32 = 1 << 1;
/// Fill the long header (`parsed_pkt`) of every packet.
pub const PF_RING_LONG_HEADER: u32 = 1 << 2;
/// Put the device in promiscuous mode.
pub const PF_RING_PROMISC: u32 = 1 << 3;
/// Timestamp packets (always done here).
pub const PF_RING_TIMESTAMP: u32 = 1 << 4;
/// Hardware timestamps (a later addition, 5.5.0).
pub const PF_RING_HW_TIMESTAMP: u32 = 1 << 5;

// ---------------------------------------------------------------------------------------
// Error codes
// ---------------------------------------------------------------------------------------

/// Generic failure.
pub const PF_RING_ERROR_GENERIC: c_int = -1;
/// NULL or out-of-range argument.
pub const PF_RING_ERROR_INVALID_ARGUMENT: c_int = -2;
/// No packet (non-blocking receive).
pub const PF_RING_ERROR_NO_PKT_AVAILABLE: c_int = -3;
/// The TX ring is full.
pub const PF_RING_ERROR_NO_TX_SLOT_AVAILABLE: c_int = -4;
/// Inconsistent configuration.
pub const PF_RING_ERROR_WRONG_CONFIGURATION: c_int = -5;
/// Demo mode ended (never returned here: no licences).
pub const PF_RING_ERROR_END_OF_DEMO_MODE: c_int = -6;
/// Not supported (by this device, this module, or this library yet).
pub const PF_RING_ERROR_NOT_SUPPORTED: c_int = -7;
/// Library / kernel version mismatch.
pub const PF_RING_ERROR_INVALID_LIB_VERSION: c_int = -8;
/// Unknown adapter.
pub const PF_RING_ERROR_UNKNOWN_ADAPTER: c_int = -9;
/// Out of memory.
pub const PF_RING_ERROR_NOT_ENOUGH_MEMORY: c_int = -10;
/// Call not allowed in the ring's current state (e.g. once enabled).
pub const PF_RING_ERROR_INVALID_STATUS: c_int = -11;
/// The ring is not enabled (`pfring_enable_ring`).
pub const PF_RING_ERROR_RING_NOT_ENABLED: c_int = -12;
/// No such interface (current PF_RING).
pub const PF_RING_ERROR_BAD_IFNAME: c_int = -13;
/// Module not loaded (current PF_RING).
pub const PF_RING_ERROR_MOD_NOT_LOADED: c_int = -14;
/// mmap of the ring failed (current PF_RING).
pub const PF_RING_ERROR_UNABLE_TO_MAP: c_int = -15;
/// Device information unavailable (current PF_RING).
pub const PF_RING_ERROR_UNABLE_TO_GET_INFO: c_int = -16;
/// mmap failure (current PF_RING).
pub const PF_RING_ERROR_MMAP_FAILURE: c_int = -17;
/// Initialisation failure (current PF_RING).
pub const PF_RING_ERROR_INIT_FAILURE: c_int = -18;

// ---------------------------------------------------------------------------------------
// Enums (typedef'd integers + enumerators)
// ---------------------------------------------------------------------------------------

/// How a cluster spreads packets over its members.
pub type cluster_type = c_uint;
/// src ip, src port, dst ip, dst port, proto, vlan.
pub const cluster_per_flow: cluster_type = 0;
/// Round robin.
pub const cluster_round_robin: cluster_type = 1;
/// src ip, dst ip.
pub const cluster_per_flow_2_tuple: cluster_type = 2;
/// src/dst ip, src/dst port.
pub const cluster_per_flow_4_tuple: cluster_type = 3;
/// 4-tuple + proto.
pub const cluster_per_flow_5_tuple: cluster_type = 4;
/// 5-tuple for TCP, 2-tuple otherwise.
pub const cluster_per_flow_tcp_5_tuple: cluster_type = 5;
/// As `cluster_per_flow`, on the tunnel's content (later PF_RING).
pub const cluster_per_inner_flow: cluster_type = 6;
/// As `cluster_per_flow_2_tuple`, on the tunnel's content (later PF_RING).
pub const cluster_per_inner_flow_2_tuple: cluster_type = 7;
/// As `cluster_per_flow_4_tuple`, on the tunnel's content (later PF_RING).
pub const cluster_per_inner_flow_4_tuple: cluster_type = 8;
/// As `cluster_per_flow_5_tuple`, on the tunnel's content (later PF_RING).
pub const cluster_per_inner_flow_5_tuple: cluster_type = 9;
/// As `cluster_per_flow_tcp_5_tuple`, on the tunnel's content (later PF_RING).
pub const cluster_per_inner_flow_tcp_5_tuple: cluster_type = 10;
/// 5-tuple for IP, source/destination MAC otherwise (later PF_RING).
pub const cluster_per_flow_ip_5_tuple: cluster_type = 11;
/// As `cluster_per_flow_ip_5_tuple`, on the tunnel's content (later PF_RING).
pub const cluster_per_inner_flow_ip_5_tuple: cluster_type = 12;
/// Source and destination IP separately: a packet may go to two members (later PF_RING).
pub const cluster_per_flow_ip_with_dup_tuple: cluster_type = 13;

/// Which frames a ring captures.
pub type packet_direction = c_uint;
/// Received and transmitted (default).
pub const rx_and_tx_direction: packet_direction = 0;
/// Received only.
pub const rx_only_direction: packet_direction = 1;
/// Transmitted only.
pub const tx_only_direction: packet_direction = 2;

/// What a ring is used for.
pub type socket_mode = c_uint;
/// Send and receive (default).
pub const send_and_recv_mode: socket_mode = 0;
/// Send only.
pub const send_only_mode: socket_mode = 1;
/// Receive only.
pub const recv_only_mode: socket_mode = 2;

/// What a matching rule does (5.x numbering).
pub type rule_action_behaviour = c_uint;
/// Deliver the packet, stop evaluating rules.
pub const forward_packet_and_stop_rule_evaluation: rule_action_behaviour = 0;
/// Drop the packet, stop evaluating rules.
pub const dont_forward_packet_and_stop_rule_evaluation: rule_action_behaviour = 1;
/// Run the plugin action, continue.
pub const execute_action_and_continue_rule_evaluation: rule_action_behaviour = 2;
/// Run the plugin action, stop.
pub const execute_action_and_stop_rule_evaluation: rule_action_behaviour = 3;
/// Deliver, add a hash rule for the flow, stop.
pub const forward_packet_add_rule_and_stop_rule_evaluation: rule_action_behaviour = 4;
/// Deliver, delete the flow's hash rule, stop (plugin only).
pub const forward_packet_del_rule_and_stop_rule_evaluation: rule_action_behaviour = 5;
/// Send the packet out of the reflector device, stop.
pub const reflect_packet_and_stop_rule_evaluation: rule_action_behaviour = 6;
/// Send the packet out of the reflector device, continue.
pub const reflect_packet_and_continue_rule_evaluation: rule_action_behaviour = 7;
/// Send the packet back out of its own device, stop.
pub const bounce_packet_and_stop_rule_evaluation: rule_action_behaviour = 8;
/// Send the packet back out of its own device, continue.
pub const bounce_packet_and_continue_rule_evaluation: rule_action_behaviour = 9;

/// Where filtering rules are applied.
pub type filtering_mode = c_uint;
/// Both in the NIC and in software.
pub const hardware_and_software: filtering_mode = 0;
/// In the NIC only.
pub const hardware_only: filtering_mode = 1;
/// In software only (the default).
pub const software_only: filtering_mode = 2;

/// Family of a hardware rule.
pub type hw_filtering_rule_type = c_uint;
/// Intel 82599 five-tuple filter.
pub const intel_82599_five_tuple_rule: hw_filtering_rule_type = 0;
/// Intel 82599 perfect filter.
pub const intel_82599_perfect_filter_rule: hw_filtering_rule_type = 1;
/// Silicom redirector rule.
pub const silicom_redirector_rule: hw_filtering_rule_type = 2;

/// Silicom redirector action.
pub type silicom_redirector_rule_type = c_uint;
/// Drop.
pub const drop_rule: silicom_redirector_rule_type = 0;
/// Redirect to another port.
pub const redirect_rule: silicom_redirector_rule_type = 1;
/// Mirror to another port.
pub const mirror_rule: silicom_redirector_rule_type = 2;

/// Slot header flavour.
pub type pkt_header_len = c_uint;
/// Full header.
pub const long_pkt_header: pkt_header_len = 0;
/// Header cut before `extended_hdr.tx`.
pub const short_pkt_header: pkt_header_len = 1;

/// Socket bundle read policy (5.x).
pub type bundle_read_policy = c_uint;
/// Round robin.
pub const pick_round_robin: bundle_read_policy = 0;
/// Oldest packet first.
pub const pick_fifo: bundle_read_policy = 1;

/// DNA bouncer direction mode (libzero).
pub type dna_bouncer_mode = c_uint;
/// Ingress to egress only.
pub const one_way_mode: dna_bouncer_mode = 0;
/// Both ways.
pub const two_way_mode: dna_bouncer_mode = 1;

// ---------------------------------------------------------------------------------------
// PKT_FLAGS_*
// ---------------------------------------------------------------------------------------

/// The NIC computed the checksum.
pub const PKT_FLAGS_CHECKSUM_OFFLOAD: u32 = 1 << 0;
/// The checksum is correct.
pub const PKT_FLAGS_CHECKSUM_OK: u32 = 1 << 1;
/// IP more-fragments bit set.
pub const PKT_FLAGS_IP_MORE_FRAG: u32 = 1 << 2;
/// IP fragment offset non-zero.
pub const PKT_FLAGS_IP_FRAG_OFFSET: u32 = 1 << 3;
/// The VLAN tag was stripped by the NIC and put back.
pub const PKT_FLAGS_VLAN_HWACCEL: u32 = 1 << 4;

// ---------------------------------------------------------------------------------------
// Structs
// ---------------------------------------------------------------------------------------

/// An IP address: IPv4 as a host-order `u_int32_t`, IPv6 as `struct in6_addr`.
#[repr(C)]
#[derive(Clone, Copy)]
pub union ip_addr {
    /// IPv6 (network order bytes).
    pub v6: libc::in6_addr,
    /// IPv4 (host order).
    pub v4: u32,
}

/// Signed offsets of the headers in the packet.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct pkt_offset {
    /// Ethernet header (0).
    pub eth_offset: i16,
    /// VLAN tag (0 = none).
    pub vlan_offset: i16,
    /// Network header.
    pub l3_offset: i16,
    /// Transport header.
    pub l4_offset: i16,
    /// Payload.
    pub payload_offset: i16,
}

/// `pkt_parsing_info.tcp`.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct pkt_parsing_info_tcp {
    /// TCP flags (FIN, SYN, RST, PSH, ACK, URG).
    pub flags: u8,
    /// Sequence number (host order).
    pub seq_num: u32,
    /// Acknowledgement number (host order).
    pub ack_num: u32,
}

/// Tunnel fields of `pkt_parsing_info` (5.6.1).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct tunnel_info {
    /// GTP TEID or GRE key (`NO_TUNNEL_ID` = none).
    pub tunnel_id: u32,
    /// Inner L4 protocol.
    pub tunneled_proto: u8,
    /// Inner source address.
    pub tunneled_ip_src: ip_addr,
    /// Inner destination address.
    pub tunneled_ip_dst: ip_addr,
    /// Inner source port.
    pub tunneled_l4_src_port: u16,
    /// Inner destination port.
    pub tunneled_l4_dst_port: u16,
}

/// The parsed headers of a packet (`struct pkt_parsing_info`, 5.6.1 layout, 128 bytes).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct pkt_parsing_info {
    /// Destination MAC.
    pub dmac: [u8; 6],
    /// Source MAC.
    pub smac: [u8; 6],
    /// EtherType (after VLAN tags).
    pub eth_type: u16,
    /// VLAN id (0 = none).
    pub vlan_id: u16,
    /// 4 or 6.
    pub ip_version: u8,
    /// L4 protocol.
    pub l3_proto: u8,
    /// TOS / traffic class.
    pub ip_tos: u8,
    /// Source address.
    pub ip_src: ip_addr,
    /// Destination address.
    pub ip_dst: ip_addr,
    /// Source port (host order).
    pub l4_src_port: u16,
    /// Destination port (host order).
    pub l4_dst_port: u16,
    /// TCP fields.
    pub tcp: pkt_parsing_info_tcp,
    /// Tunnel fields.
    pub tunnel: tunnel_info,
    /// Plugin of the last matching rule.
    pub last_matched_plugin_id: u16,
    /// Last matching rule.
    pub last_matched_rule_id: u16,
    /// Header offsets.
    pub offset: pkt_offset,
}

/// `pfring_extended_pkthdr.tx`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct pfring_extended_pkthdr_tx {
    /// Interface a bounced packet leaves by (-1 = none).
    pub bounce_interface: c_int,
    /// Kernel-internal (always NULL here).
    pub reserved: *mut c_void,
}

/// The extended part of the packet header (5.x layout).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct pfring_extended_pkthdr {
    /// Timestamp in nanoseconds since the epoch.
    pub timestamp_ns: u64,
    /// 1 = received, 0 = transmitted.
    pub rx_direction: u8,
    /// Interface index the packet was seen on.
    pub if_index: i32,
    /// PF_RING's packet hash.
    pub pkt_hash: u32,
    /// Transmit fields.
    pub tx: pfring_extended_pkthdr_tx,
    /// Bytes of plugin parsing data before the packet (0 here).
    pub parsed_header_len: u16,
    /// Parsed headers (long header, `pfring_recv_parsed`, `pfring_parse_pkt`).
    pub parsed_pkt: pkt_parsing_info,
}

/// The header of every received packet (`struct pfring_pkthdr`, 5.x layout, 200 bytes).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct pfring_pkthdr {
    /// Capture time.
    pub ts: libc::timeval,
    /// Bytes captured.
    pub caplen: u32,
    /// Bytes on the wire.
    pub len: u32,
    /// Extended header.
    pub extended_hdr: pfring_extended_pkthdr,
}

/// Ring statistics (5.x: two counters).
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct pfring_stat {
    /// Packets received by the application.
    pub recv: u64,
    /// Packets dropped because the ring was full.
    pub drop: u64,
}

/// One packet of `pfring_recv_burst` (current PF_RING).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct pfring_packet_info {
    /// The packet's bytes (valid until the next receive on the ring).
    pub data: *mut u8,
    /// Capture time.
    pub ts: libc::timeval,
    /// Bytes captured.
    pub caplen: u16,
    /// Bytes on the wire.
    pub len: u16,
    /// `PKT_FLAGS_*`.
    pub flags: u32,
    /// PF_RING's packet hash (filled on long-header rings).
    pub hash: u32,
}

/// PCI location of a device (`pfring_if_t.bus_id`).
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct pfring_if_bus_id {
    /// Slot.
    pub slot: c_int,
    /// Bus.
    pub bus: c_int,
    /// Device.
    pub device: c_int,
    /// Function.
    pub function: c_int,
}

/// One device of `pfring_findalldevs` (current PF_RING).
#[repr(C)]
#[derive(Debug)]
pub struct pfring_if_t {
    /// Name to open.
    pub name: *mut c_char,
    /// System (kernel) name.
    pub system_name: *mut c_char,
    /// Module ("pf_ring": the default module).
    pub module: *mut c_char,
    /// Module version.
    pub module_version: *mut c_char,
    /// Serial number (NULL: none).
    pub sn: *mut c_char,
    /// MAC address.
    pub mac: [u8; 6],
    /// PCI location (zeros: unknown).
    pub bus_id: pfring_if_bus_id,
    /// 1 up, 0 down, -1 unknown.
    pub status: c_int,
    /// Licence present (always 0: none needed).
    pub license: c_int,
    /// Licence expiry (0).
    pub license_expiration: libc::time_t,
    /// Next device, NULL at the end.
    pub next: *mut pfring_if_t,
}

// ---- rules ----------------------------------------------------------------------------

/// Core match fields of a wildcard rule (5.x: no if_index, eth_type, tcp flags).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct filtering_rule_core_fields {
    /// Source MAC (all zero = any).
    pub smac: [u8; 6],
    /// Destination MAC (all zero = any).
    pub dmac: [u8; 6],
    /// VLAN id (0 = any).
    pub vlan_id: u16,
    /// L4 protocol (0 = any).
    pub proto: u8,
    /// Source host.
    pub shost: ip_addr,
    /// Destination host.
    pub dhost: ip_addr,
    /// Source mask.
    pub shost_mask: ip_addr,
    /// Destination mask.
    pub dhost_mask: ip_addr,
    /// Lowest source port.
    pub sport_low: u16,
    /// Highest source port (0 = any).
    pub sport_high: u16,
    /// Lowest destination port.
    pub dport_low: u16,
    /// Highest destination port (0 = any).
    pub dport_high: u16,
}

/// Tunnel match of a wildcard rule.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct filtering_rule_tunnel {
    /// Tunnel id (with `FILTER_TUNNEL_ID_FLAG`).
    pub tunnel_id: u32,
    /// Inner source host.
    pub shost: ip_addr,
    /// Inner destination host.
    pub dhost: ip_addr,
    /// Inner source mask.
    pub shost_mask: ip_addr,
    /// Inner destination mask.
    pub dhost_mask: ip_addr,
}

/// Extended match fields of a wildcard rule (5.6.1).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct filtering_rule_extended_fields {
    /// `FILTER_TUNNEL_ID_FLAG`.
    pub optional_fields: u16,
    /// Tunnel match.
    pub tunnel: filtering_rule_tunnel,
    /// Payload substring(s), '|' separating alternatives.
    pub payload_pattern: [c_char; 32],
    /// Filter plugin (0 = none).
    pub filter_plugin_id: u16,
    /// Filter plugin data.
    pub filter_plugin_data: [c_char; FILTER_PLUGIN_DATA_LEN],
}

/// Plugin action of a rule.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct filtering_rule_plugin_action {
    /// Plugin (0 = none).
    pub plugin_id: u16,
}

/// Kernel-internal rule fields.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct filtering_internals {
    /// Time of the last match.
    pub jiffies_last_match: c_ulong,
    /// Reflector device (kernel pointer).
    pub reflector_dev: *mut c_void,
}

/// A wildcard filtering rule (5.x layout, 496 bytes).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct filtering_rule {
    /// Rule id (lowest evaluated first; `FILTERING_RULE_AUTO_RULE_ID`).
    pub rule_id: u16,
    /// Action.
    pub rule_action: rule_action_behaviour,
    /// Balancing id.
    pub balance_id: u8,
    /// Balancing pool (0 = no balancing).
    pub balance_pool: u8,
    /// Not purged by `pfring_purge_idle_rules`.
    pub locked: u8,
    /// Also match with source and destination swapped.
    pub bidirectional: u8,
    /// Core fields.
    pub core_fields: filtering_rule_core_fields,
    /// Extended fields.
    pub extended_fields: filtering_rule_extended_fields,
    /// Plugin action.
    pub plugin_action: filtering_rule_plugin_action,
    /// Reflector device name.
    pub reflector_device_name: [c_char; REFLECTOR_NAME_LEN],
    /// Internals.
    pub internals: filtering_internals,
}

/// An exact 5-tuple rule, bidirectional (5.x layout, 80 bytes).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct hash_filtering_rule {
    /// Rule id.
    pub rule_id: u16,
    /// VLAN id.
    pub vlan_id: u16,
    /// L4 protocol.
    pub proto: u8,
    /// One peer.
    pub host_peer_a: ip_addr,
    /// The other peer.
    pub host_peer_b: ip_addr,
    /// Port of peer a.
    pub port_peer_a: u16,
    /// Port of peer b.
    pub port_peer_b: u16,
    /// Action.
    pub rule_action: rule_action_behaviour,
    /// Plugin action.
    pub plugin_action: filtering_rule_plugin_action,
    /// Reflector device name.
    pub reflector_device_name: [c_char; REFLECTOR_NAME_LEN],
    /// Internals.
    pub internals: filtering_internals,
}

/// Intel 82599 five-tuple hardware filter.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct intel_82599_five_tuple_filter_hw_rule {
    /// L4 protocol.
    pub proto: u8,
    /// Source address.
    pub s_addr: u32,
    /// Destination address.
    pub d_addr: u32,
    /// Source port.
    pub s_port: u16,
    /// Destination port.
    pub d_port: u16,
    /// Target queue.
    pub queue_id: u16,
}

/// Intel 82599 perfect hardware filter.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct intel_82599_perfect_filter_hw_rule {
    /// VLAN id.
    pub vlan_id: u16,
    /// L4 protocol.
    pub proto: u8,
    /// Source address.
    pub s_addr: u32,
    /// Destination address.
    pub d_addr: u32,
    /// Source port.
    pub s_port: u16,
    /// Destination port.
    pub d_port: u16,
    /// Target queue.
    pub queue_id: u16,
}

/// Silicom redirector rule.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct silicom_redirector_hw_rule {
    /// Drop, redirect or mirror.
    pub rule_type: silicom_redirector_rule_type,
    /// Ingress port.
    pub rule_port: u8,
    /// Target port.
    pub rule_target_port: u8,
    /// Lowest VLAN id.
    pub vlan_id_low: u16,
    /// Highest VLAN id.
    pub vlan_id_high: u16,
    /// L3 protocol.
    pub l3_proto: u8,
    /// Source address.
    pub src_addr: ip_addr,
    /// Destination address.
    pub dst_addr: ip_addr,
    /// Source mask.
    pub src_mask: u32,
    /// Destination mask.
    pub dst_mask: u32,
    /// Lowest source port.
    pub src_port_low: u16,
    /// Highest source port.
    pub src_port_high: u16,
    /// Lowest destination port.
    pub dst_port_low: u16,
    /// Highest destination port.
    pub dst_port_high: u16,
}

/// The family-specific part of a hardware rule.
#[repr(C)]
#[derive(Clone, Copy)]
pub union hw_filtering_rule_family {
    /// `intel_82599_five_tuple_rule`.
    pub five_tuple_rule: intel_82599_five_tuple_filter_hw_rule,
    /// `intel_82599_perfect_filter_rule`.
    pub perfect_rule: intel_82599_perfect_filter_hw_rule,
    /// `silicom_redirector_rule`.
    pub redirector_rule: silicom_redirector_hw_rule,
}

/// A hardware (NIC) filtering rule (5.x layout, 68 bytes).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct hw_filtering_rule {
    /// Which member of `rule_family` is used.
    pub rule_family_type: hw_filtering_rule_type,
    /// Rule id.
    pub rule_id: u16,
    /// The rule.
    pub rule_family: hw_filtering_rule_family,
}

/// What `pfring_get_hash_filtering_rule_stats` writes (PF_RING's `hash_filtering_rule_stats`,
/// 32 bytes).
///
/// cbindgen:field-names=[match, filtered, match_forward, inactivity]
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct hash_filtering_rule_stats {
    /// Packets that matched the rule.
    pub match_: u64,
    /// Matched packets not delivered.
    pub filtered: u64,
    /// Matched packets delivered.
    pub match_forward: u64,
    /// Seconds since the last match (or since the rule was added).
    pub inactivity: u32,
}

/// What `pfring_get_filtering_rule_stats` writes for a wildcard rule without a plugin
/// (a pfring-rs addition, 16 bytes: PF_RING 5.x only returned the bytes of the rule's kernel
/// plugin, which is still what a rule with a plugin returns).
///
/// cbindgen:field-names=[match, inactivity]
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct filtering_rule_stats {
    /// Packets that matched the rule.
    pub match_: u64,
    /// Seconds since the last match (or since the rule was added).
    pub inactivity: u32,
}

/// A rule plugin written in C (`pfring_register_plugin`; pfring-rs's form of 5.x's kernel
/// plugin registration). Rules name it by `plugin_id` (`filter_plugin_id` or
/// `plugin_action.plugin_id`), and their `filter_plugin_data` (up to its last non-zero byte)
/// goes to `add_rule`. Every hook but `filter` may be NULL; each gets `ctx` first.
/// The hooks run on the thread receiving from the ring; `free` runs once when the ring is
/// closed.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct pfring_plugin_ops {
    /// Plugin id (1..=65535; 2 and 3 are the built-in SIP and RTP plugins).
    pub plugin_id: u16,
    /// NUL-terminated name, valid as long as the plugin is registered.
    pub name: *const c_char,
    /// Passed to every hook.
    pub ctx: *mut c_void,
    /// A rule naming the plugin was added with `data`: 0 accepts it.
    pub add_rule: Option<
        unsafe extern "C" fn(ctx: *mut c_void, rule_id: u16, data: *const u8, len: u32) -> c_int,
    >,
    /// The rule was removed.
    pub del_rule: Option<unsafe extern "C" fn(ctx: *mut c_void, rule_id: u16)>,
    /// Whether the rule matches the packet (its header fields already did): 1 = match.
    pub filter: Option<
        unsafe extern "C" fn(
            ctx: *mut c_void,
            rule_id: u16,
            frame: *const u8,
            len: u32,
            payload: *const u8,
            payload_len: u32,
            ts_ns: u64,
        ) -> c_int,
    >,
    /// The rule matched the packet.
    pub handle: Option<
        unsafe extern "C" fn(
            ctx: *mut c_void,
            rule_id: u16,
            frame: *const u8,
            len: u32,
            ts_ns: u64,
        ),
    >,
    /// Writes the rule's statistics into `buf` (at most `buf_len` bytes); returns the bytes
    /// written (`pfring_get_filtering_rule_stats` returns them).
    pub get_stats: Option<
        unsafe extern "C" fn(ctx: *mut c_void, rule_id: u16, buf: *mut u8, buf_len: u32) -> c_int,
    >,
    /// Forgets state idle for `idle_sec` seconds; returns how many entries went.
    pub purge_idle: Option<unsafe extern "C" fn(ctx: *mut c_void, idle_sec: u32) -> u32>,
    /// Releases `ctx`.
    pub free: Option<unsafe extern "C" fn(ctx: *mut c_void)>,
}

// ---- libzero --------------------------------------------------------------------------

/// A libzero DNA cluster handle (opaque).
pub type pfring_dna_cluster = c_void;
/// A libzero DNA bouncer handle (opaque).
pub type pfring_dna_bouncer = c_void;

/// Distribution function result: queue the packet to the slaves in `id_mask`.
pub const DNA_CLUSTER_PASS: c_int = 0;
/// Distribution function result: drop the packet.
pub const DNA_CLUSTER_DROP: c_int = -1;
/// Distribution function result: send the packet out of the cluster's egress (the
/// registered rings, in `send_only_mode` / `send_and_recv_mode`).
pub const DNA_CLUSTER_FRWD: c_int = 1;
/// Bouncer decision: forward the packet.
pub const DNA_BOUNCER_PASS: c_int = 0;
/// Bouncer decision: drop the packet.
pub const DNA_BOUNCER_DROP: c_int = -1;

/// Most slaves of a DNA cluster.
pub const DNA_CLUSTER_MAX_NUM_SLAVES: usize = 32;

/// DNA cluster statistics.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct pfring_dna_cluster_stat {
    /// Packets received.
    pub tot_rx_packets: u64,
    /// Packets sent.
    pub tot_tx_packets: u64,
    /// Packets processed by the distribution function.
    pub tot_rx_processed: u64,
}

/// A slave's queue depth.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct pfring_dna_cluster_slave_stat {
    /// Packets queued for the slave.
    pub rx_queued: u32,
}

/// What a distribution function sees of the slaves.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct pfring_dna_cluster_slaves_info {
    /// Number of slaves.
    pub num_slaves: u32,
    /// Queue depths.
    pub approximate_stats: [pfring_dna_cluster_slave_stat; DNA_CLUSTER_MAX_NUM_SLAVES],
}

/// A DNA cluster's distribution function.
pub type pfring_dna_cluster_distribution_func = Option<
    unsafe extern "C" fn(
        buffer: *const u8,
        buffer_len: u16,
        slaves_info: *const pfring_dna_cluster_slaves_info,
        id_mask: *mut u32,
        hash: *mut u32,
    ) -> c_int,
>;

/// A DNA bouncer's per-packet decision function.
pub type pfring_dna_bouncer_decision_func = Option<
    unsafe extern "C" fn(
        pkt_len: *mut u32,
        pkt: *mut u8,
        user_bytes: *const u8,
        direction: u8,
    ) -> c_int,
>;

// ---------------------------------------------------------------------------------------
// Layout checks (5.x unpacked sizes from the reference; x86_64 / LP64)
// ---------------------------------------------------------------------------------------

#[cfg(target_pointer_width = "64")]
const _: () = {
    use std::mem::{offset_of, size_of};
    assert!(size_of::<ip_addr>() == 16);
    assert!(size_of::<pkt_offset>() == 10);
    assert!(size_of::<pkt_parsing_info>() == 128);
    assert!(offset_of!(pkt_parsing_info, ip_src) == 20);
    assert!(offset_of!(pkt_parsing_info, tcp) == 56);
    assert!(offset_of!(pkt_parsing_info, tunnel) == 68);
    assert!(offset_of!(pkt_parsing_info, offset) == 116);
    assert!(offset_of!(pfring_extended_pkthdr, if_index) == 12);
    assert!(offset_of!(pfring_extended_pkthdr, pkt_hash) == 16);
    assert!(offset_of!(pfring_extended_pkthdr, tx) == 24);
    assert!(offset_of!(pfring_extended_pkthdr, parsed_pkt) == 44);
    assert!(offset_of!(pfring_pkthdr, caplen) == 16);
    assert!(offset_of!(pfring_pkthdr, len) == 20);
    assert!(offset_of!(pfring_pkthdr, extended_hdr) == 24);
    assert!(size_of::<pfring_pkthdr>() == 200);
    assert!(size_of::<filtering_rule>() == 496);
    assert!(size_of::<hash_filtering_rule>() == 80);
    assert!(size_of::<hw_filtering_rule>() == 68);
    assert!(size_of::<pfring_stat>() == 16);
    assert!(size_of::<pfring_dna_cluster_stat>() == 24);
    assert!(size_of::<hash_filtering_rule_stats>() == 32);
    assert!(size_of::<filtering_rule_stats>() == 16);
    assert!(size_of::<pfring_plugin_ops>() == 80);
};

/// Bytes of the short slot header: everything before `extended_hdr.tx`.
pub(crate) const SHORT_HEADER_LEN: usize = std::mem::offset_of!(pfring_pkthdr, extended_hdr)
    + std::mem::offset_of!(pfring_extended_pkthdr, tx);

/// Family of a (virtual) filtering device.
pub type pfring_device_type = c_uint;
/// No hardware filtering.
pub const standard_nic_family: pfring_device_type = 0;
/// Intel 82599.
pub const intel_82599_family: pfring_device_type = 1;

/// A virtual filtering device (`pfring_set_virtual_device`, 5.x).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct virtual_filtering_device_info {
    /// Device name.
    pub device_name: [c_char; 16],
    /// Device family.
    pub device_type: pfring_device_type,
    /// Kernel /proc entry (kernel pointer).
    pub proc_entry: *mut c_void,
}
