/* rules: sets PF_RING filtering rules and reports, for each kind, "supported" or
 * "not_supported" (PF_RING_ERROR_NOT_SUPPORTED with errno EOPNOTSUPP); anything else is an
 * error. When wildcard rules are supported it also checks one: a rule dropping UDP to DPORT
 * is added, and the packets received in WINDOW_MS after "ready" are counted.
 * Usage: rules -i DEV [-p DPORT] [-w WINDOW_MS] */
#include <errno.h>
#include <unistd.h>

#include <pfring.h>

#include "common.h"

static int failures;

static const char *verdict(const char *what, int rc) {
  if (rc == 0) return "supported";
  if (rc == PF_RING_ERROR_NOT_SUPPORTED && errno == EOPNOTSUPP) return "not_supported";
  fprintf(stderr, "%s: unexpected %d (%s)\n", what, rc, strerror(errno));
  failures++;
  return "error";
}

static void expect(const char *what, int rc, int want) {
  if (rc != want) {
    fprintf(stderr, "%s: %d, expected %d\n", what, rc, want);
    failures++;
  }
}

int main(int argc, char **argv) {
  const char *dev = NULL;
  unsigned dport = 9, window = 2000;
  int c;
  while ((c = getopt(argc, argv, "i:p:w:")) != -1) {
    switch (c) {
      case 'i': dev = optarg; break;
      case 'p': dport = (unsigned)atoi(optarg); break;
      case 'w': window = (unsigned)atoi(optarg); break;
      default: return 2;
    }
  }
  if (!dev) return 2;
  pfring *ring = pfring_open(dev, 1536, 0);
  if (!ring) {
    fprintf(stderr, "pfring_open(%s): %s\n", dev, strerror(errno));
    return 1;
  }
  /* Argument checks come first, whatever is supported. */
  expect("NULL rule", pfring_add_filtering_rule(ring, NULL), PF_RING_ERROR_INVALID_ARGUMENT);
  expect("NULL ring", pfring_add_filtering_rule(NULL, NULL), PF_RING_ERROR_INVALID_ARGUMENT);
  filtering_rule rule;
  memset(&rule, 0, sizeof(rule));
  rule.rule_id = 5;
  rule.rule_action = 99;
  expect("unknown action", pfring_add_filtering_rule(ring, &rule), PF_RING_ERROR_INVALID_ARGUMENT);
  expect("sampling 0", pfring_set_sampling_rate(ring, 0), PF_RING_ERROR_INVALID_ARGUMENT);
  /* What a ring without rules already does is accepted. */
  expect("sampling 1", pfring_set_sampling_rate(ring, 1), 0);
  expect("accept policy", pfring_toggle_filtering_policy(ring, 1), 0);
  expect("software_only", pfring_set_filtering_mode(ring, software_only), 0);

  rule.rule_action = dont_forward_packet_and_stop_rule_evaluation;
  rule.core_fields.proto = 17;
  rule.core_fields.dport_low = (uint16_t)dport;
  rule.core_fields.dport_high = (uint16_t)dport;
  const char *wild = verdict("wildcard rule", pfring_add_filtering_rule(ring, &rule));
  printf("filtering_rule=%s\n", wild);

  hash_filtering_rule hrule;
  memset(&hrule, 0, sizeof(hrule));
  hrule.proto = 17;
  hrule.host_peer_a.v4 = 0x0a000001;
  hrule.host_peer_b.v4 = 0x0a000002;
  hrule.port_peer_a = 1000;
  hrule.port_peer_b = 2000;
  hrule.rule_action = dont_forward_packet_and_stop_rule_evaluation;
  printf("hash_rule=%s\n", verdict("hash rule", pfring_handle_hash_filtering_rule(ring, &hrule, 1)));
  printf("sampling=%s\n", verdict("sampling 2", pfring_set_sampling_rate(ring, 2)));
  printf("drop_policy=%s\n", verdict("drop policy", pfring_toggle_filtering_policy(ring, 0)));
  pfring_toggle_filtering_policy(ring, 1);
  printf("purge=%s\n", verdict("purge", pfring_purge_idle_rules(ring, 10)));

  hw_filtering_rule hw;
  memset(&hw, 0, sizeof(hw));
  hw.rule_family_type = intel_82599_five_tuple_rule;
  hw.rule_family.five_tuple_rule.proto = 17;
  printf("hw_rule=%s\n", verdict("hw rule", pfring_add_hw_rule(ring, &hw)));
  printf("hw_mode=%s\n", verdict("hardware_only", pfring_set_filtering_mode(ring, hardware_only)));

  if (strcmp(wild, "supported") == 0) {
    /* Check the rule for real: UDP to dport is dropped, the rest delivered. */
    pfring_set_direction(ring, rx_only_direction);
    pfring_set_bpf_filter(ring, "udp");
    if (pfring_enable_ring(ring) != 0) return 1;
    printf("ready\n");
    fflush(stdout);
    uint64_t n = 0, end = now_ms() + window;
    struct pfring_pkthdr hdr;
    while (now_ms() < end) {
      u_char *buf;
      if (pfring_recv(ring, &buf, 0, &hdr, 0) > 0) {
        if (hdr.caplen >= 38 && ((buf[36] << 8) | buf[37]) == (int)dport) failures++;
        n++;
      } else {
        sleep_ms(5);
      }
    }
    printf("received=%llu\n", (unsigned long long)n);
    expect("remove rule", pfring_remove_filtering_rule(ring, 5), 0);
  }
  printf("failures=%d\n", failures);
  pfring_close(ring);
  return failures ? 1 : 0;
}
