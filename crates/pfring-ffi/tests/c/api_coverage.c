/* api_coverage: calls every function pfring.h declares (the Rust test checks that each
 * declared name appears here), so compiling and linking it proves the library exports the
 * whole API with these prototypes. Running it checks the return conventions:
 *   api_coverage            NULL handles and invalid arguments only (no privileges needed)
 *   api_coverage -i DEV     also a real ring on DEV (root; DEV a veth without PTP clock)
 * Prints "checked=N failed=F" and exits non-zero on any failure. */
#include <errno.h>
#include <unistd.h>

#include <pfring.h>

#include "common.h"

static int checked, failed;

static void check_(const char *what, long got, long want, int line) {
  checked++;
  if (got != want) {
    failed++;
    fprintf(stderr, "line %d: %s = %ld, expected %ld (errno %s)\n", line, what, got, want,
            strerror(errno));
  }
}
#define CHECK(expr, want) check_(#expr, (long)(expr), (long)(want), __LINE__)
#define CHECK_TRUE(expr) check_(#expr, (long)!!(expr), 1L, __LINE__)

enum { INVAL = PF_RING_ERROR_INVALID_ARGUMENT, NOTSUP = PF_RING_ERROR_NOT_SUPPORTED };

static int distribute(const u_char *b, const u_int16_t l, const pfring_dna_cluster_slaves_info *s,
                      u_int32_t *m, u_int32_t *h) {
  (void)b; (void)l; (void)s; (void)m; (void)h;
  return 0;
}
static int decide(u_int32_t *l, u_char *p, const u_char *u, u_int8_t d) {
  (void)l; (void)p; (void)u; (void)d;
  return 0;
}
static void looper(const struct pfring_pkthdr *h, const u_char *p, const u_char *u) {
  (void)h; (void)p; (void)u;
}

/* A minimal UDP/IPv4 frame for the parser. */
static void frame(uint8_t *f) {
  memset(f, 0, 60);
  memset(f, 0xff, 6);
  f[6] = 2; f[11] = 1;
  f[12] = 8; f[14] = 0x45; f[16] = 0; f[17] = 46; f[22] = 64; f[23] = 17;
  f[26] = 10; f[29] = 1; f[30] = 10; f[33] = 2;
  f[34] = 0x30; f[35] = 0x39; f[36] = 0x00; f[37] = 0x35; f[39] = 26;
}

static void null_handles(void) {
  struct pfring_pkthdr hdr;
  u_char *buf = NULL;
  pfring_stat st;
  struct timespec ts = {0, 0};
  u_int32_t v = 0;
  uint64_t ns = 0;
  int idx = 0;
  u_char mac[6];
  char s[64];
  u_int slen = sizeof(s);
  filtering_rule rule;
  hash_filtering_rule hrule;
  hw_filtering_rule hw;
  virtual_filtering_device_info vdi;
  pfring_packet_info pk[4];
  pfring *many[MAX_NUM_RX_CHANNELS];
  memset(&rule, 0, sizeof(rule));
  memset(&hrule, 0, sizeof(hrule));
  memset(&hw, 0, sizeof(hw));
  memset(&vdi, 0, sizeof(vdi));
  memset(s, 0, sizeof(s));
  memset(&hdr, 0, sizeof(hdr));

  CHECK(pfring_open(NULL, 128, 0) == NULL && errno == EINVAL, 1);
  CHECK(pfring_open("no-such-dev0", 128, 0) == NULL && errno == ENODEV, 1);
  CHECK(pfring_open("bogus:module", 128, 0) == NULL, 1);
  CHECK(pfring_open_multichannel(NULL, 128, 0, many), 0);
  CHECK(pfring_open_consumer(NULL, 128, 0, 1, NULL, 0) == NULL, 1);
  pfring_close(NULL);
  pfring_shutdown(NULL);
  pfring_breakloop(NULL);
  pfring_sync_indexes_with_kernel(NULL);
  pfring_config(0);
  pfring_version_noring(NULL);
  pfring_version_noring(&v);
  CHECK(v, RING_VERSION_NUM);
  CHECK(pfring_enable_ring(NULL), INVAL);
  CHECK(pfring_disable_ring(NULL), INVAL);
  CHECK(pfring_bind(NULL, "lo"), INVAL);
  CHECK(pfring_version(NULL, &v), INVAL);
  CHECK(pfring_set_application_name(NULL, "x"), INVAL);
  CHECK(pfring_get_ring_id(NULL), 0);
  CHECK(pfring_get_slot_header_len(NULL), 0);
  CHECK(pfring_recv(NULL, &buf, 0, &hdr, 0), INVAL);
  CHECK(pfring_recv_parsed(NULL, &buf, 0, &hdr, 0, 4, 0, 0), INVAL);
  CHECK(pfring_recv_burst(NULL, pk, 4, 0), INVAL);
  CHECK(pfring_loop(NULL, looper, NULL, 0), INVAL);
  CHECK(pfring_poll(NULL, 0), INVAL);
  CHECK(pfring_is_pkt_available(NULL), INVAL);
  CHECK(pfring_get_selectable_fd(NULL), INVAL);
  CHECK(pfring_set_poll_watermark(NULL, 1), INVAL);
  CHECK(pfring_set_poll_duration(NULL, 1), INVAL);
  CHECK(pfring_get_num_queued_pkts(NULL), 0);
  CHECK(pfring_set_direction(NULL, rx_only_direction), INVAL);
  CHECK(pfring_set_socket_mode(NULL, recv_only_mode), INVAL);
  CHECK(pfring_stats(NULL, &st), INVAL);
  CHECK(pfring_send(NULL, s, 60, 1), INVAL);
  CHECK(pfring_send_get_time(NULL, s, 60, &ts), INVAL);
  CHECK(pfring_send_last_rx_packet(NULL, 1), INVAL);
  CHECK(pfring_send_parsed(NULL, s, &hdr, 1), INVAL);
  CHECK(pfring_set_tx_watermark(NULL, 1), INVAL);
  CHECK(pfring_flush_tx_packets(NULL), INVAL);
  CHECK(pfring_set_reflector_device(NULL, "lo"), INVAL);
  CHECK(pfring_set_bpf_filter(NULL, "udp"), INVAL);
  CHECK(pfring_remove_bpf_filter(NULL), INVAL);
  CHECK(pfring_set_filtering_mode(NULL, software_only), INVAL);
  CHECK(pfring_set_virtual_device(NULL, &vdi), INVAL);
  CHECK(pfring_search_payload(NULL, "x"), INVAL);
  CHECK(pfring_add_filtering_rule(NULL, &rule), INVAL);
  CHECK(pfring_remove_filtering_rule(NULL, 1), INVAL);
  CHECK(pfring_handle_hash_filtering_rule(NULL, &hrule, 1), INVAL);
  CHECK(pfring_get_filtering_rule_stats(NULL, 1, s, &slen), INVAL);
  CHECK(pfring_get_hash_filtering_rule_stats(NULL, &hrule, s, &slen), INVAL);
  CHECK(pfring_purge_idle_rules(NULL, 1), INVAL);
  CHECK(pfring_purge_idle_hash_rules(NULL, 1), INVAL);
  CHECK(pfring_toggle_filtering_policy(NULL, 1), INVAL);
  CHECK(pfring_set_sampling_rate(NULL, 1), INVAL);
  CHECK(pfring_add_hw_rule(NULL, &hw), INVAL);
  CHECK(pfring_remove_hw_rule(NULL, 1), INVAL);
  CHECK(pfring_register_plugin(NULL, NULL), INVAL);
  CHECK(pfring_get_plugin_ids(NULL, NULL, 0), INVAL);
  CHECK(pfring_set_packet_consumer_mode(NULL, 1, NULL, 0), INVAL);
  CHECK(pfring_get_packet_consumer_mode(NULL), 0);
  CHECK(pfring_set_cluster(NULL, 1, cluster_round_robin), INVAL);
  CHECK(pfring_remove_from_cluster(NULL), INVAL);
  CHECK(pfring_get_num_rx_channels(NULL), 0);
  CHECK(pfring_set_channel_id(NULL, 0), INVAL);
  CHECK(pfring_set_channel_mask(NULL, 1), INVAL);
  CHECK(pfring_enable_rss_rehash(NULL), INVAL);
  CHECK(pfring_set_master_id(NULL, 1), INVAL);
  CHECK(pfring_set_master(NULL, NULL), INVAL);
  CHECK(pfring_next_pkt_time(NULL, &ts), INVAL);
  CHECK(pfring_next_pkt_raw_timestamp(NULL, &ns), INVAL);
  CHECK(pfring_enable_hw_timestamp(NULL, "lo", 1, 0), INVAL);
  CHECK(pfring_get_device_clock(NULL, &ts), INVAL);
  CHECK(pfring_set_device_clock(NULL, &ts), INVAL);
  CHECK(pfring_adjust_device_clock(NULL, &ts, 1), INVAL);
  CHECK(pfring_get_bound_device_address(NULL, mac), INVAL);
  CHECK(pfring_get_bound_device_ifindex(NULL, &idx), INVAL);
  CHECK(pfring_get_bound_device_id(NULL, &idx), INVAL);
  CHECK(pfring_get_device_ifindex(NULL, "lo", &idx), INVAL);
  CHECK(pfring_get_mtu_size(NULL), INVAL);
  CHECK(pfring_loopback_test(NULL, s, sizeof(s), 8), INVAL);
  CHECK(pfring_set_if_promisc(NULL, 1), INVAL);
  CHECK(pfring_set_if_promisc("no-such-dev0", 1), PF_RING_ERROR_GENERIC);
  CHECK(pfring_parse_pkt(NULL, &hdr, 4, 0, 0), INVAL);
  CHECK(pfring_parse_pkt((u_char *)s, NULL, 4, 0, 0), INVAL);
  CHECK(pfring_print_parsed_pkt(s, sizeof(s), NULL, &hdr), INVAL);
  CHECK(pfring_print_pkt(NULL, 10, (const u_char *)s, 60, 60), INVAL);
  CHECK(pfring_format_numbers(1.0, NULL, 10, 0) == NULL, 1);
  CHECK(pfring_dna_cluster_open(NULL), INVAL);

  /* libzero: nothing can be created yet; NULL handles are refused. */
  CHECK(dna_cluster_create(1, 0, 0) == NULL && errno == EINVAL, 1);
  CHECK(dna_cluster_create(1, 33, 0) == NULL && errno == EINVAL, 1);
  {
    pfring_dna_cluster *cl = dna_cluster_create(1, 2, 0);
    pfring_dna_cluster_stat cst = {1, 1, 1};
    CHECK(cl != NULL, 1);
    CHECK(dna_cluster_low_level_settings(cl, 1000, 1, 1), INVAL); /* not a power of two */
    CHECK(dna_cluster_low_level_settings(cl, 1024, 1024, 16), 0);
    CHECK(dna_cluster_set_hugepages_mountpoint(cl, "/no/such/dir"), INVAL);
    CHECK(dna_cluster_set_hugepages_mountpoint(cl, "/"), 0);
    CHECK(dna_cluster_set_mode(cl, 9), INVAL);
    CHECK(dna_cluster_set_mode(cl, send_and_recv_mode), 0);
    CHECK(dna_cluster_register_ring(cl, NULL), INVAL);
    CHECK(dna_cluster_enable(cl), INVAL); /* no ring registered */
    CHECK(dna_cluster_stats(cl, NULL), INVAL);
    CHECK(dna_cluster_stats(cl, &cst), 0);
    CHECK(cst.tot_rx_packets + cst.tot_tx_packets + cst.tot_rx_processed, 0);
    CHECK(dna_cluster_disable(cl), 0);
    dna_cluster_destroy(cl);
  }
  CHECK(dna_cluster_low_level_settings(NULL, 1, 1, 1), INVAL);
  CHECK(dna_cluster_set_hugepages_mountpoint(NULL, "/mnt"), INVAL);
  CHECK(dna_cluster_register_ring(NULL, NULL), INVAL);
  dna_cluster_set_cpu_affinity(NULL, 0, 1);
  dna_cluster_set_thread_name(NULL, "rx", "tx");
  CHECK(dna_cluster_set_mode(NULL, recv_only_mode), INVAL);
  dna_cluster_set_distribution_function(NULL, distribute);
  dna_cluster_set_wait_mode(NULL, 0);
  CHECK(dna_cluster_enable(NULL), INVAL);
  CHECK(dna_cluster_disable(NULL), INVAL);
  CHECK(dna_cluster_stats(NULL, NULL), INVAL);
  dna_cluster_destroy(NULL);
  CHECK(pfring_dna_bouncer_create(NULL, NULL) == NULL, 1);
  CHECK(pfring_dna_bouncer_set_mode(NULL, two_way_mode), INVAL);
  CHECK(pfring_dna_bouncer_loop(NULL, decide, NULL, 1), INVAL);
  pfring_dna_bouncer_breakloop(NULL);
  pfring_dna_bouncer_destroy(NULL);

  /* Pure functions. */
  char num[32];
  CHECK(pfring_format_numbers(1234567.0, num, sizeof(num), 0) == num, 1);
  CHECK(strcmp(num, "1'234'567"), 0);
  pfring_format_numbers(1234.5, num, sizeof(num), 1);
  CHECK(strcmp(num, "1'234.50"), 0);
  uint8_t f[60];
  frame(f);
  memset(&hdr, 0, sizeof(hdr));
  hdr.caplen = hdr.len = 60;
  CHECK(pfring_parse_pkt(f, &hdr, 9, 0, 0), INVAL);
  CHECK(pfring_parse_pkt(f, &hdr, 4, 1, 1), 4);
  CHECK(hdr.extended_hdr.parsed_pkt.ip_version, 4);
  CHECK(hdr.extended_hdr.parsed_pkt.l3_proto, 17);
  CHECK(hdr.extended_hdr.parsed_pkt.ip_src.v4, 0x0a000001);
  CHECK(hdr.extended_hdr.parsed_pkt.ip_dst.v4, 0x0a000002);
  CHECK(hdr.extended_hdr.parsed_pkt.l4_src_port, 12345);
  CHECK(hdr.extended_hdr.parsed_pkt.l4_dst_port, 53);
  CHECK(hdr.extended_hdr.parsed_pkt.offset.l3_offset, 14);
  CHECK(hdr.extended_hdr.parsed_pkt.offset.l4_offset, 34);
  CHECK_TRUE(hdr.extended_hdr.pkt_hash != 0);
  CHECK_TRUE(hdr.ts.tv_sec != 0);
  char line[512];
  CHECK_TRUE(pfring_print_parsed_pkt(line, sizeof(line), f, &hdr) > 0);
  CHECK_TRUE(strstr(line, "[IPv4][10.0.0.1:12345 -> 10.0.0.2:53]") != NULL);
  CHECK_TRUE(pfring_print_pkt(line, 16, f, 60, 60) == 15);
  CHECK(strlen(line), 15);
  uint8_t shortf[10] = {0};
  hdr.caplen = 10;
  CHECK(pfring_parse_pkt(shortf, &hdr, 4, 0, 0), 0);
  CHECK(sizeof(struct pfring_pkthdr), 200);
  CHECK(sizeof(filtering_rule), 496);
  CHECK(sizeof(hash_filtering_rule), 80);
  CHECK(sizeof(hw_filtering_rule), 68);
  CHECK(sizeof(pfring_stat), 16);
}

static void real_ring(const char *dev) {
  pfring *ring = pfring_open(dev, 128, PF_RING_PROMISC);
  CHECK_TRUE(ring != NULL);
  if (!ring) return;
  struct pfring_pkthdr hdr;
  u_char *buf = NULL;
  u_int32_t v = 0;
  int idx = 0;
  u_char mac[6] = {0};
  struct timespec ts = {1, 0};
  uint64_t ns = 0;
  char s[64];
  u_int slen = sizeof(s);
  pfring_stat st = {1, 1};
  filtering_rule rule;
  hash_filtering_rule hrule;
  hw_filtering_rule hw;
  virtual_filtering_device_info vdi;
  pfring_packet_info pk[4];
  memset(&rule, 0, sizeof(rule));
  memset(&hrule, 0, sizeof(hrule));
  memset(&hw, 0, sizeof(hw));
  memset(&vdi, 0, sizeof(vdi));
  memset(s, 0, sizeof(s));
  memset(&hdr, 0, sizeof(hdr));

  CHECK(pfring_version(ring, &v), 0);
  CHECK(v, RING_VERSION_NUM);
  CHECK(pfring_set_application_name(ring, "api_coverage"), 0);
  CHECK_TRUE(pfring_get_ring_id(ring) > 0);
  CHECK(pfring_get_slot_header_len(ring), 48);
  CHECK(pfring_get_bound_device_address(ring, mac), 0);
  CHECK_TRUE(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]);
  CHECK(pfring_get_bound_device_ifindex(ring, &idx), 0);
  int idx2 = -1;
  CHECK(pfring_get_device_ifindex(ring, (char *)dev, &idx2), 0);
  CHECK(idx, idx2);
  CHECK(pfring_get_bound_device_id(ring, &idx2), 0);
  CHECK(idx, idx2);
  CHECK(pfring_get_device_ifindex(ring, "no-such-dev0", &idx2), PF_RING_ERROR_GENERIC);
  CHECK(pfring_get_mtu_size(ring), 1500);
  CHECK_TRUE(pfring_get_num_rx_channels(ring) >= 1);
  CHECK(pfring_set_direction(ring, rx_only_direction), 0);
  CHECK(pfring_set_direction(ring, 7), INVAL);
  CHECK(pfring_set_socket_mode(ring, recv_only_mode), 0);
  CHECK(pfring_set_socket_mode(ring, send_and_recv_mode), 0);
  CHECK(pfring_set_socket_mode(ring, 9), INVAL);
  CHECK(pfring_set_poll_watermark(ring, 0), INVAL);
  CHECK(pfring_set_poll_watermark(ring, 1), 0);
  CHECK(pfring_set_poll_duration(ring, 100), 0);
  CHECK(pfring_set_tx_watermark(ring, 0), INVAL);
  CHECK(pfring_set_tx_watermark(ring, 8), 0);
  CHECK(pfring_set_bpf_filter(ring, "udp and ((("), INVAL);
  CHECK(pfring_set_bpf_filter(ring, "udp"), 0);
  CHECK(pfring_remove_bpf_filter(ring), 0);
  CHECK(pfring_set_cluster(ring, 70000, cluster_round_robin), INVAL);
  CHECK(pfring_set_cluster(ring, 7, 99), INVAL);
  CHECK(pfring_set_cluster(ring, 7, cluster_per_flow), 0);
  CHECK(pfring_enable_rss_rehash(ring), 0); /* every channel: no effect, accepted */
  CHECK(pfring_remove_from_cluster(ring), 0);
  CHECK(pfring_bind(ring, (char *)dev), 0);
  CHECK(pfring_bind(ring, "no-such-dev0"), PF_RING_ERROR_BAD_IFNAME);
  /* Channels rebind the (not enabled) ring to dev@N: veth has RX channel 0 only. */
  CHECK(pfring_set_channel_id(ring, 0), 0);
  CHECK(pfring_set_channel_mask(ring, 0), INVAL);
  CHECK(pfring_set_channel_mask(ring, 1), 0);
  CHECK(pfring_recv(ring, &buf, 0, &hdr, 0), PF_RING_ERROR_RING_NOT_ENABLED);
  CHECK(pfring_recv(ring, NULL, 0, &hdr, 0), INVAL);
  CHECK(pfring_recv(ring, &buf, 0, NULL, 0), INVAL);
  CHECK(pfring_recv_parsed(ring, &buf, 0, &hdr, 0, 1, 0, 0), INVAL);
  CHECK(pfring_send(ring, s, 60, 1), PF_RING_ERROR_RING_NOT_ENABLED);

  /* Rules (the library's engine; live checks in rules.c). */
  memset(&hw, 0, sizeof(hw));
  rule.rule_id = 1;
  rule.core_fields.proto = 17;
  CHECK(pfring_add_filtering_rule(ring, &rule), 0);
  CHECK(pfring_add_filtering_rule(ring, &rule), INVAL);
  CHECK(errno, EEXIST);
  slen = sizeof(s);
  CHECK(pfring_get_filtering_rule_stats(ring, 1, s, &slen), 0);
  CHECK(slen, 16);
  CHECK(pfring_remove_filtering_rule(ring, 1), 0);
  CHECK(pfring_remove_filtering_rule(ring, 1), INVAL);
  CHECK(errno, ENOENT);
  hrule.proto = 6;
  hrule.host_peer_a.v4 = 0x7f000001;
  hrule.host_peer_b.v4 = 0x7f000002;
  CHECK(pfring_handle_hash_filtering_rule(ring, &hrule, 1), 0);
  slen = sizeof(s);
  CHECK(pfring_get_hash_filtering_rule_stats(ring, &hrule, s, &slen), 0);
  CHECK(slen, 32);
  CHECK(pfring_handle_hash_filtering_rule(ring, &hrule, 0), 0);
  CHECK(pfring_purge_idle_rules(ring, 1), 0);
  CHECK(pfring_purge_idle_hash_rules(ring, 1), 0);
  CHECK(pfring_toggle_filtering_policy(ring, 0), 0);
  CHECK(pfring_toggle_filtering_policy(ring, 1), 0);
  CHECK(pfring_set_sampling_rate(ring, 4), 0);
  CHECK(pfring_set_sampling_rate(ring, 1), 0);
  CHECK(pfring_set_filtering_mode(ring, 5), INVAL);
  CHECK(pfring_add_hw_rule(ring, &hw), NOTSUP); /* software_only: hardware rules are off */
  CHECK(errno, EOPNOTSUPP);
  CHECK(pfring_set_filtering_mode(ring, hardware_only), 0);
  CHECK(pfring_remove_hw_rule(ring, 1), INVAL);
  CHECK(pfring_set_filtering_mode(ring, software_only), 0);
  CHECK(pfring_set_reflector_device(ring, (char *)dev), 0);
  CHECK(pfring_register_plugin(ring, NULL), INVAL);
  CHECK(pfring_get_plugin_ids(ring, NULL, 0), 2); /* the built-in SIP and RTP plugins */
  CHECK(pfring_search_payload(ring, ""), INVAL);
  CHECK(pfring_search_payload(ring, "GET"), 0);

  /* Not supported (kernel-module features, or no counterpart here): -7 / EOPNOTSUPP. */
  CHECK(pfring_set_virtual_device(ring, &vdi), NOTSUP);
  CHECK(pfring_set_master_id(ring, 1), NOTSUP);
  CHECK(pfring_set_master(ring, ring), NOTSUP);
  CHECK(pfring_loopback_test(ring, s, sizeof(s), 8), NOTSUP);
  CHECK(pfring_set_packet_consumer_mode(ring, 1, NULL, 0), NOTSUP);
  CHECK(pfring_get_packet_consumer_mode(ring), 0);
  CHECK(pfring_send_parsed(ring, s, &hdr, 1), NOTSUP);
  CHECK(pfring_dna_cluster_open(ring), NOTSUP);
  {
    pfring_dna_bouncer *bo = pfring_dna_bouncer_create(ring, ring);
    CHECK(bo != NULL, 1);
    CHECK(pfring_dna_bouncer_set_mode(bo, 5), INVAL);
    CHECK(pfring_dna_bouncer_set_mode(bo, two_way_mode), 0);
    CHECK(pfring_dna_bouncer_loop(bo, NULL, NULL, 1), INVAL);
    pfring_dna_bouncer_breakloop(bo);
    pfring_dna_bouncer_destroy(bo);
  }
  /* veth has no PTP clock and no hardware stamping. */
  CHECK(pfring_get_device_clock(ring, &ts), NOTSUP);
  CHECK(pfring_set_device_clock(ring, &ts), NOTSUP);
  CHECK(pfring_adjust_device_clock(ring, &ts, -1), NOTSUP);
  CHECK(pfring_enable_hw_timestamp(ring, (char *)dev, 1, 0), NOTSUP);
  ts.tv_nsec = 2000000000L;
  CHECK(pfring_set_device_clock(ring, &ts), INVAL);

  CHECK(pfring_enable_ring(ring), 0);
  CHECK(pfring_set_socket_mode(ring, send_only_mode), PF_RING_ERROR_GENERIC);
  CHECK(pfring_bind(ring, (char *)dev), PF_RING_ERROR_INVALID_STATUS);
  CHECK(pfring_set_direction(ring, rx_and_tx_direction), 0);
  CHECK_TRUE(pfring_get_selectable_fd(ring) >= 0);
  pfring_sync_indexes_with_kernel(ring);
  CHECK(pfring_stats(ring, &st), 0);
  CHECK(st.recv, 0);
  /* Nothing is sent into DEV's namespace by this program: nothing can be queued. */
  CHECK(pfring_set_bpf_filter(ring, "udp port 1"), 0);
  CHECK(pfring_is_pkt_available(ring), 0);
  CHECK(pfring_get_num_queued_pkts(ring), 0);
  CHECK(pfring_poll(ring, 0), 0);
  CHECK(pfring_poll(ring, 20), 0);
  CHECK(pfring_recv(ring, &buf, 0, &hdr, 0), 0);
  CHECK(pfring_recv_parsed(ring, &buf, 0, &hdr, 0, 4, 0, 1), 0);
  CHECK(pfring_recv_burst(ring, pk, 4, 0), 0);
  CHECK(pfring_recv_burst(ring, pk, 0, 0), INVAL);
  CHECK(pfring_next_pkt_time(ring, &ts), PF_RING_ERROR_NO_PKT_AVAILABLE);
  CHECK(pfring_next_pkt_raw_timestamp(ring, &ns), PF_RING_ERROR_NO_PKT_AVAILABLE);
  CHECK(pfring_send_last_rx_packet(ring, idx), INVAL);
  CHECK(pfring_send_last_rx_packet(ring, 0), INVAL);
  CHECK(pfring_loop(ring, NULL, NULL, 0), INVAL);
  /* A break before a blocking receive makes it return 0 at once. */
  pfring_breakloop(ring);
  CHECK(pfring_recv(ring, &buf, 0, &hdr, 1), 0);
  CHECK(pfring_flush_tx_packets(ring), 0);
  int sent = pfring_send_get_time(ring, s, 0, &ts);
  CHECK(sent, INVAL);
  CHECK(pfring_send(ring, s, 10, 1), INVAL);
  CHECK(pfring_disable_ring(ring), 0);
  CHECK(pfring_recv(ring, &buf, 0, &hdr, 0), PF_RING_ERROR_RING_NOT_ENABLED);

  /* A shut-down ring returns from blocking calls at once. */
  pfring_shutdown(ring);
  CHECK(pfring_enable_ring(ring), 0);
  CHECK(pfring_recv(ring, &buf, 0, &hdr, 1), 0);
  CHECK(pfring_loop(ring, looper, NULL, 1), 0);
  pfring_close(ring);

  /* Reentrant rings refuse zero copy. */
  ring = pfring_open(dev, 128, PF_RING_REENTRANT);
  CHECK_TRUE(ring != NULL);
  if (ring) {
    CHECK(pfring_enable_ring(ring), 0);
    CHECK(pfring_recv(ring, &buf, 0, &hdr, 0), INVAL);
    u_char copy[128];
    buf = copy;
    CHECK(pfring_recv(ring, &buf, sizeof(copy), &hdr, 0), 0);
    pfring_close(ring);
  }
  /* Long header: full slot header. */
  ring = pfring_open(dev, 128, PF_RING_LONG_HEADER);
  CHECK_TRUE(ring != NULL);
  if (ring) {
    CHECK(pfring_get_slot_header_len(ring), sizeof(struct pfring_pkthdr));
    pfring_close(ring);
  }

  pfring *many[MAX_NUM_RX_CHANNELS];
  u_int8_t n = pfring_open_multichannel(dev, 128, 0, many);
  CHECK_TRUE(n >= 1);
  for (u_int8_t i = 0; i < n; i++) pfring_close(many[i]);

  pfring_if_t *devs = pfring_findalldevs();
  CHECK_TRUE(devs != NULL);
  int found = 0;
  for (pfring_if_t *d = devs; d; d = d->next)
    if (strcmp(d->name, dev) == 0 && d->status == 1) found = 1;
  CHECK(found, 1);
  pfring_freealldevs(devs);
  pfring_freealldevs(NULL);

  CHECK(pfring_set_if_promisc(dev, 1), 0);
  CHECK(pfring_set_if_promisc(dev, 0), 0);
}

int main(int argc, char **argv) {
  const char *dev = NULL;
  int c;
  while ((c = getopt(argc, argv, "i:")) != -1) {
    if (c == 'i') dev = optarg;
    else return 2;
  }
  null_handles();
  if (dev) real_ring(dev);
  printf("checked=%d failed=%d\n", checked, failed);
  return failed ? 1 : 0;
}
