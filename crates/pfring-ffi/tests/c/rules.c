/* rules: PF_RING filtering rules on live traffic, through the C API.
 * Phase 1 (after "ready"): wildcard rule 5 drops UDP to port 9; exact rule drops the flow
 * 10.0.0.1:1234 <-> 10.0.0.2:5000; wildcard rule 10 hands UDP to port 7000 to a C plugin
 * (registered with pfring_register_plugin) that matches frames longer than 150 bytes and
 * drops them. Packets received are counted ("received=N"), then the rule
 * statistics are checked ("rule5_match=", "plugin_handled=", "hash_match=", ...).
 * Phase 2 (after "phase2"): default policy drop, rule 1 forwards UDP to port 9000, sampling
 * rate 2: packets received are counted ("received2=N").
 * Every other call's return code and errno is checked; "failures=0" at the end.
 * Each phase counts until its expected count (-e, -E) arrived plus 300 ms, at most WINDOW_MS.
 * Usage: rules -i DEV [-w WINDOW_MS] [-e EXPECT1] [-E EXPECT2] */
#include <errno.h>
#include <unistd.h>

#include <pfring.h>

#include "common.h"

static int failures;

static void expect(const char *what, long long got, long long want) {
  if (got != want) {
    fprintf(stderr, "%s: %lld, expected %lld (errno %s)\n", what, got, want, strerror(errno));
    failures++;
  }
}

static void expect_err(const char *what, int rc, int want_rc, int want_errno) {
  int e = errno;
  if (rc != want_rc || e != want_errno) {
    fprintf(stderr, "%s: %d errno %d, expected %d errno %d\n", what, rc, e, want_rc, want_errno);
    failures++;
  }
}

/* ---- a tiny C rule plugin: matches frames longer than the length in its rule data ---- */
struct big_plugin {
  unsigned min_len;
  uint64_t filtered, handled, rules_added, rules_deleted;
};
static int freed;

static int big_add_rule(void *ctx, uint16_t rule_id, const uint8_t *data, uint32_t len) {
  struct big_plugin *p = ctx;
  (void)rule_id;
  char text[16] = {0};
  if (len == 0 || len >= sizeof(text)) return -1;
  memcpy(text, data, len);
  p->min_len = (unsigned)atoi(text);
  p->rules_added++;
  return 0;
}
static void big_del_rule(void *ctx, uint16_t rule_id) {
  (void)rule_id;
  ((struct big_plugin *)ctx)->rules_deleted++;
}
static int big_filter(void *ctx, uint16_t rule_id, const uint8_t *frame, uint32_t len,
                      const uint8_t *payload, uint32_t payload_len, uint64_t ts_ns) {
  struct big_plugin *p = ctx;
  (void)rule_id; (void)frame; (void)payload; (void)payload_len; (void)ts_ns;
  p->filtered++;
  return len > p->min_len ? 1 : 0;
}
static void big_handle(void *ctx, uint16_t rule_id, const uint8_t *frame, uint32_t len,
                       uint64_t ts_ns) {
  (void)rule_id; (void)frame; (void)len; (void)ts_ns;
  ((struct big_plugin *)ctx)->handled++;
}
static int big_get_stats(void *ctx, uint16_t rule_id, uint8_t *buf, uint32_t buf_len) {
  struct big_plugin *p = ctx;
  (void)rule_id;
  if (buf_len < sizeof(uint64_t)) return 0;
  memcpy(buf, &p->handled, sizeof(uint64_t));
  return (int)sizeof(uint64_t);
}
static void big_free(void *ctx) {
  (void)ctx;
  freed++;
}

static uint16_t udp_dport(const u_char *buf, uint32_t caplen) {
  return caplen >= 38 ? (uint16_t)((buf[36] << 8) | buf[37]) : 0;
}

/* Counts packets until EXPECT arrived and then 300 ms more (extra packets would be counted),
 * or WINDOW ms in all; a packet a rule should have dropped is a failure. */
static uint64_t count(pfring *ring, unsigned window, int phase, uint64_t expect) {
  uint64_t n = 0, end = now_ms() + window;
  int settling = 0;
  struct pfring_pkthdr hdr;
  while (now_ms() < end) {
    u_char *buf;
    if (pfring_recv(ring, &buf, 0, &hdr, 0) > 0) {
      uint16_t d = udp_dport(buf, hdr.caplen);
      if (phase == 1 && (d == 9 || d == 5000 || (d == 7000 && hdr.len > 150))) {
        fprintf(stderr, "phase 1: a dropped packet arrived (dport %u, len %u)\n", d, hdr.len);
        failures++;
      }
      if (phase == 2 && d != 9000) {
        fprintf(stderr, "phase 2: dport %u arrived\n", d);
        failures++;
      }
      n++;
      if (n >= expect && !settling) {
        settling = 1;
        if (now_ms() + 300 < end) end = now_ms() + 300;
      }
    } else {
      sleep_ms(2);
    }
  }
  return n;
}

int main(int argc, char **argv) {
  const char *dev = NULL;
  unsigned window = 2000, expect1 = 30, expect2 = 10;
  int c;
  while ((c = getopt(argc, argv, "i:w:e:E:")) != -1) {
    switch (c) {
      case 'i': dev = optarg; break;
      case 'w': window = (unsigned)atoi(optarg); break;
      case 'e': expect1 = (unsigned)atoi(optarg); break;
      case 'E': expect2 = (unsigned)atoi(optarg); break;
      default: return 2;
    }
  }
  if (!dev) return 2;
  pfring *ring = pfring_open(dev, 1536, 0);
  if (!ring) {
    fprintf(stderr, "pfring_open(%s): %s\n", dev, strerror(errno));
    return 1;
  }
  /* Argument checks. */
  expect("NULL rule", pfring_add_filtering_rule(ring, NULL), PF_RING_ERROR_INVALID_ARGUMENT);
  expect("NULL ring", pfring_add_filtering_rule(NULL, NULL), PF_RING_ERROR_INVALID_ARGUMENT);
  filtering_rule rule;
  memset(&rule, 0, sizeof(rule));
  rule.rule_id = 5;
  rule.rule_action = 99;
  expect("unknown action", pfring_add_filtering_rule(ring, &rule), PF_RING_ERROR_INVALID_ARGUMENT);
  expect("sampling 0", pfring_set_sampling_rate(ring, 0), PF_RING_ERROR_INVALID_ARGUMENT);
  expect("bad mode", pfring_set_filtering_mode(ring, 7), PF_RING_ERROR_INVALID_ARGUMENT);
  expect("sampling 1", pfring_set_sampling_rate(ring, 1), 0);
  expect("accept policy", pfring_toggle_filtering_policy(ring, 1), 0);

  /* Rule 5: drop UDP to port 9. A second rule with the same id is refused (EEXIST). */
  rule.rule_action = dont_forward_packet_and_stop_rule_evaluation;
  rule.core_fields.proto = 17;
  rule.core_fields.dport_low = 9;
  rule.core_fields.dport_high = 9;
  expect("add rule 5", pfring_add_filtering_rule(ring, &rule), 0);
  expect_err("duplicate rule 5", pfring_add_filtering_rule(ring, &rule),
             PF_RING_ERROR_INVALID_ARGUMENT, EEXIST);
  /* A tunnel match is not something the engine does. */
  filtering_rule tun = rule;
  tun.rule_id = 6;
  tun.extended_fields.optional_fields = FILTER_TUNNEL_ID_FLAG;
  expect_err("tunnel rule", pfring_add_filtering_rule(ring, &tun), PF_RING_ERROR_NOT_SUPPORTED,
             EOPNOTSUPP);
  /* Automatic id: the highest + 1, written back. */
  filtering_rule autor;
  memset(&autor, 0, sizeof(autor));
  autor.rule_id = FILTERING_RULE_AUTO_RULE_ID;
  autor.rule_action = forward_packet_and_stop_rule_evaluation;
  autor.core_fields.proto = 132; /* SCTP: not in the test traffic */
  expect("auto id rule", pfring_add_filtering_rule(ring, &autor), 0);
  expect("auto id", autor.rule_id, 6);
  expect("remove auto", pfring_remove_filtering_rule(ring, 6), 0);
  expect_err("remove again", pfring_remove_filtering_rule(ring, 6), PF_RING_ERROR_INVALID_ARGUMENT,
             ENOENT);

  /* Exact rule: drop 10.0.0.1:1234 <-> 10.0.0.2:5000 (host-order IPv4). */
  hash_filtering_rule hrule;
  memset(&hrule, 0, sizeof(hrule));
  hrule.proto = 17;
  hrule.host_peer_a.v4 = 0x0a000002;
  hrule.host_peer_b.v4 = 0x0a000001;
  hrule.port_peer_a = 5000;
  hrule.port_peer_b = 1234;
  hrule.rule_action = dont_forward_packet_and_stop_rule_evaluation;
  expect("add hash rule", pfring_handle_hash_filtering_rule(ring, &hrule, 1), 0);

  /* The plugin, and rule 10 naming it. */
  struct big_plugin bp = {0};
  pfring_plugin_ops ops;
  memset(&ops, 0, sizeof(ops));
  ops.plugin_id = 100;
  ops.name = "big";
  ops.ctx = &bp;
  expect("plugin without filter", pfring_register_plugin(ring, &ops), PF_RING_ERROR_INVALID_ARGUMENT);
  ops.add_rule = big_add_rule;
  ops.del_rule = big_del_rule;
  ops.filter = big_filter;
  ops.handle = big_handle;
  ops.get_stats = big_get_stats;
  ops.free = big_free;
  expect("register plugin", pfring_register_plugin(ring, &ops), 0);
  expect_err("register twice", pfring_register_plugin(ring, &ops), PF_RING_ERROR_INVALID_ARGUMENT,
             EEXIST);
  uint16_t ids[8];
  int nplug = pfring_get_plugin_ids(ring, ids, 8);
  int seen = 0;
  for (int i = 0; i < nplug && i < 8; i++) seen |= ids[i] == 100;
  expect("plugin listed", seen, 1);
  filtering_rule prule;
  memset(&prule, 0, sizeof(prule));
  prule.rule_id = 10;
  prule.rule_action = dont_forward_packet_and_stop_rule_evaluation;
  prule.core_fields.proto = 17;
  prule.core_fields.dport_low = 7000;
  prule.core_fields.dport_high = 7000;
  prule.extended_fields.filter_plugin_id = 100;
  strcpy(prule.extended_fields.filter_plugin_data, "150");
  expect("add plugin rule", pfring_add_filtering_rule(ring, &prule), 0);
  expect("plugin got the rule", (long long)bp.rules_added, 1);
  expect("plugin min_len", bp.min_len, 150);

  /* Hardware rules: veth has no n-tuple rules; hardware_and_software keeps a software one. */
  hw_filtering_rule hw;
  memset(&hw, 0, sizeof(hw));
  hw.rule_id = 50;
  hw.rule_family_type = intel_82599_five_tuple_rule;
  hw.rule_family.five_tuple_rule.proto = 6;
  hw.rule_family.five_tuple_rule.d_port = 4444;
  hw.rule_family.five_tuple_rule.queue_id = 0xFFFF;
  expect_err("hw rule, software_only", pfring_add_hw_rule(ring, &hw), PF_RING_ERROR_NOT_SUPPORTED,
             EOPNOTSUPP);
  expect("hardware_only", pfring_set_filtering_mode(ring, hardware_only), 0);
  expect_err("hw rule on veth", pfring_add_hw_rule(ring, &hw), PF_RING_ERROR_NOT_SUPPORTED,
             EOPNOTSUPP);
  expect("hardware_and_software", pfring_set_filtering_mode(ring, hardware_and_software), 0);
  expect("hw rule in software", pfring_add_hw_rule(ring, &hw), 0);
  expect("remove hw rule", pfring_remove_hw_rule(ring, 50), 0);
  expect_err("remove hw rule again", pfring_remove_hw_rule(ring, 50),
             PF_RING_ERROR_INVALID_ARGUMENT, ENOENT);
  hw.rule_family_type = silicom_redirector_rule;
  expect_err("silicom rule", pfring_add_hw_rule(ring, &hw), PF_RING_ERROR_NOT_SUPPORTED,
             EOPNOTSUPP);
  expect("software_only", pfring_set_filtering_mode(ring, software_only), 0);

  /* Reflector device. */
  expect("reflector", pfring_set_reflector_device(ring, (char *)dev), 0);
  expect_err("reflector unknown", pfring_set_reflector_device(ring, "nosuchdev0"),
             PF_RING_ERROR_BAD_IFNAME, ENODEV);

  pfring_set_direction(ring, rx_only_direction);
  expect("bpf udp", pfring_set_bpf_filter(ring, "udp"), 0); /* no IPv6 ND noise */
  if (pfring_enable_ring(ring) != 0) return 1;
  printf("ready\n");
  fflush(stdout);
  printf("received=%llu\n", (unsigned long long)count(ring, window, 1, expect1));

  /* Statistics. */
  filtering_rule_stats ws;
  u_int len = sizeof(ws);
  expect("rule 5 stats", pfring_get_filtering_rule_stats(ring, 5, (char *)&ws, &len), 0);
  expect("rule 5 stats len", len, 16);
  printf("rule5_match=%llu\n", (unsigned long long)ws.match);
  uint64_t handled = 0;
  len = sizeof(handled);
  expect("plugin rule stats", pfring_get_filtering_rule_stats(ring, 10, (char *)&handled, &len), 0);
  expect("plugin rule stats len", len, 8);
  printf("plugin_handled=%llu plugin_filtered=%llu\n", (unsigned long long)handled,
         (unsigned long long)bp.filtered);
  hash_filtering_rule_stats hs;
  len = 4;
  expect_err("hash stats, small buffer",
             pfring_get_hash_filtering_rule_stats(ring, &hrule, (char *)&hs, &len),
             PF_RING_ERROR_INVALID_ARGUMENT, ENOBUFS);
  expect("needed length", len, 32);
  len = sizeof(hs);
  expect("hash stats", pfring_get_hash_filtering_rule_stats(ring, &hrule, (char *)&hs, &len), 0);
  printf("hash_match=%llu hash_filtered=%llu hash_forward=%llu\n", (unsigned long long)hs.match,
         (unsigned long long)hs.filtered, (unsigned long long)hs.match_forward);
  expect_err("stats of no rule", pfring_get_filtering_rule_stats(ring, 77, (char *)&ws, &len),
             PF_RING_ERROR_INVALID_ARGUMENT, ENOENT);

  /* Removal and idle purges. */
  expect("remove rule 5", pfring_remove_filtering_rule(ring, 5), 0);
  expect("remove hash rule", pfring_handle_hash_filtering_rule(ring, &hrule, 0), 0);
  expect_err("remove hash rule again", pfring_handle_hash_filtering_rule(ring, &hrule, 0),
             PF_RING_ERROR_INVALID_ARGUMENT, ENOENT);
  expect("purge idle", pfring_purge_idle_rules(ring, 0), 0);
  expect("purge idle hash", pfring_purge_idle_hash_rules(ring, 0), 0);
  len = sizeof(ws);
  expect_err("rule 10 purged", pfring_get_filtering_rule_stats(ring, 10, (char *)&ws, &len),
             PF_RING_ERROR_INVALID_ARGUMENT, ENOENT);
  expect("plugin told of the removal", (long long)bp.rules_deleted, 1);

  /* Phase 2: drop policy, forward UDP 9000, one in two sampled. */
  filtering_rule fwd;
  memset(&fwd, 0, sizeof(fwd));
  fwd.rule_id = 1;
  fwd.rule_action = forward_packet_and_stop_rule_evaluation;
  fwd.core_fields.proto = 17;
  fwd.core_fields.dport_low = 9000;
  fwd.core_fields.dport_high = 9000;
  expect("add forward rule", pfring_add_filtering_rule(ring, &fwd), 0);
  expect("drop policy", pfring_toggle_filtering_policy(ring, 0), 0);
  expect("sampling 2", pfring_set_sampling_rate(ring, 2), 0);
  printf("phase2\n");
  fflush(stdout);
  printf("received2=%llu\n", (unsigned long long)count(ring, window, 2, expect2));

  pfring_close(ring);
  expect("plugin freed on close", freed, 1);
  printf("failures=%d\n", failures);
  return failures ? 1 : 0;
}
