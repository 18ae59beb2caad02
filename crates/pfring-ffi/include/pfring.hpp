/*
 * pfring.hpp: a small C++ wrapper around a libpfring handle, after the PFring class of the
 * PF_RING 5.4 user guide (section 7.15). Header only; link with -lpfring.
 *
 *   PFring ring("eth0", 128, PF_RING_PROMISC);
 *   if (!ring.get_ring()) ... // open failed, errno says why
 *   ring.enable_ring();
 *   struct pfring_pkthdr hdr;
 *   u_char buf[128];
 *   while (ring.get_next_packet(&hdr, buf, sizeof(buf)) > 0) ...
 */
#ifndef PFRING_HPP
#define PFRING_HPP

#include <string>

#include "pfring.h"

class PFring {
 private:
  pfring *ring;
  u_int snaplen;
  std::string device_name;

 public:
  PFring(const char *device, u_int snaplen, u_int flags = 0)
      : ring(pfring_open(device, snaplen, flags)), snaplen(snaplen), device_name(device ? device : "") {}
  virtual ~PFring() {
    if (ring) pfring_close(ring);
  }
  PFring(const PFring &) = delete;
  PFring &operator=(const PFring &) = delete;

  /* Cluster */
  inline int set_cluster(u_int clusterId, cluster_type the_type) { return pfring_set_cluster(ring, clusterId, the_type); }
  inline int remove_from_cluster() { return pfring_remove_from_cluster(ring); }

  /* Channel */
  inline int set_channel_id(u_int32_t channel_id) { return pfring_set_channel_id(ring, channel_id); }

  /* Read packets */
  /* 1 when packets are waiting, 0 on timeout (msec < 0: wait up to the poll duration). */
  bool wait_for_packets(int msec = -1) {
    return pfring_poll(ring, msec < 0 ? DEFAULT_POLL_DURATION : (u_int)msec) > 0;
  }
  /* Copies the next packet into pkt (at most pkt_len bytes); 1 = packet, 0 = none / broken. */
  int get_next_packet(struct pfring_pkthdr *hdr, u_char *pkt, u_int pkt_len, bool wait = true) {
    return pfring_recv(ring, &pkt, pkt_len, hdr, wait ? 1 : 0);
  }
  inline void breakloop() { pfring_breakloop(ring); }

  /* Filtering */
  inline int add_bpf_filter(const char *the_filter) { return pfring_set_bpf_filter(ring, const_cast<char *>(the_filter)); }
  inline int remove_bpf_filter() { return pfring_remove_bpf_filter(ring); }
  inline int set_sampling_rate(u_int32_t rate) { return pfring_set_sampling_rate(ring, rate); }
  inline int set_filtering_mode(filtering_mode the_mode) { return pfring_set_filtering_mode(ring, the_mode); }
  inline int add_filtering_rule(filtering_rule *the_rule) { return pfring_add_filtering_rule(ring, the_rule); }
  inline int remove_filtering_rule(u_int16_t rule_id) { return pfring_remove_filtering_rule(ring, rule_id); }
  inline int toggle_filtering_policy(bool rules_default_accept_policy) {
    return pfring_toggle_filtering_policy(ring, rules_default_accept_policy ? 1 : 0);
  }
  inline int add_hash_filtering_rule(hash_filtering_rule *rule) { return pfring_handle_hash_filtering_rule(ring, rule, 1); }
  inline int remove_hash_filtering_rule(hash_filtering_rule *rule) { return pfring_handle_hash_filtering_rule(ring, rule, 0); }
  inline int add_hw_rule(hw_filtering_rule *rule) { return pfring_add_hw_rule(ring, rule); }
  inline int remove_hw_rule(u_int16_t rule_id) { return pfring_remove_hw_rule(ring, rule_id); }

  /* Stats */
  inline int get_stats(pfring_stat *stats) { return pfring_stats(ring, stats); }
  inline int get_filtering_rule_stats(u_int16_t rule_id, char *stats, u_int *stats_len) {
    return pfring_get_filtering_rule_stats(ring, rule_id, stats, stats_len);
  }
  inline int get_hash_filtering_rule_stats(hash_filtering_rule *rule, char *stats, u_int *stats_len) {
    return pfring_get_hash_filtering_rule_stats(ring, rule, stats, stats_len);
  }

  /* Ring */
  inline int enable_ring() { return pfring_enable_ring(ring); }
  inline int disable_ring() { return pfring_disable_ring(ring); }
  inline int set_direction(packet_direction direction) { return pfring_set_direction(ring, direction); }
  inline int set_socket_mode(socket_mode mode) { return pfring_set_socket_mode(ring, mode); }
  inline int set_poll_watermark(u_int16_t watermark) { return pfring_set_poll_watermark(ring, watermark); }
  inline int set_application_name(const char *name) { return pfring_set_application_name(ring, const_cast<char *>(name)); }
  inline int bind(const char *dev) { return pfring_bind(ring, const_cast<char *>(dev)); }
  inline int get_version(u_int32_t *version) { return pfring_version(ring, version); }
  inline int get_mtu_size() { return pfring_get_mtu_size(ring); }
  inline int get_selectable_fd() { return pfring_get_selectable_fd(ring); }

  /* Send */
  inline int send_packet(const char *pkt, u_int pkt_len, bool flush = true) {
    return pfring_send(ring, const_cast<char *>(pkt), pkt_len, flush ? 1 : 0);
  }
  inline int flush_tx_packets() { return pfring_flush_tx_packets(ring); }

  /* Accessors */
  inline const char *get_device_name() const { return device_name.c_str(); }
  inline u_int get_snaplen() const { return snaplen; }
  inline pfring *get_ring() const { return ring; }
};

#endif /* PFRING_HPP */
