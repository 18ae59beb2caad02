/* dna_master: a libzero DNA cluster master written against the libzero API. Opens DEV,
 * creates cluster ID with NUM slave queues and a round-robin distribution function (C),
 * registers the ring, enables the cluster and prints "ready". Slaves open zc:ID@Q. When
 * EXPECT packets were read (or after DURATION_MS) it waits LINGER_MS for the slaves to
 * drain their queues, prints "rx=N processed=N tx=N distributed=N", disables and destroys
 * the cluster and closes the ring.
 * Usage: dna_master -i DEV -c ID -n NUM -e EXPECT [-d DURATION_MS] [-l LINGER_MS] */
#include <errno.h>
#include <unistd.h>

#include <pfring.h>

#include "common.h"

static unsigned long long distributed;

static int round_robin(const u_char *buf, const u_int16_t len,
                       const pfring_dna_cluster_slaves_info *info, u_int32_t *id_mask,
                       u_int32_t *hash) {
  (void)buf;
  (void)len;
  *hash = (u_int32_t)distributed;
  *id_mask = 1u << (distributed % info->num_slaves);
  distributed++;
  return DNA_CLUSTER_PASS;
}

int main(int argc, char **argv) {
  const char *dev = NULL;
  unsigned id = 0, num = 2, expect = 0, duration = 20000, linger = 2500;
  int c;
  while ((c = getopt(argc, argv, "i:c:n:e:d:l:")) != -1) {
    switch (c) {
      case 'i': dev = optarg; break;
      case 'c': id = (unsigned)atoi(optarg); break;
      case 'n': num = (unsigned)atoi(optarg); break;
      case 'e': expect = (unsigned)atoi(optarg); break;
      case 'd': duration = (unsigned)atoi(optarg); break;
      case 'l': linger = (unsigned)atoi(optarg); break;
      default: return 2;
    }
  }
  if (!dev || !id || !expect) return 2;
  pfring *ring = pfring_open(dev, 1536, PF_RING_PROMISC);
  if (!ring) {
    fprintf(stderr, "pfring_open(%s): %s\n", dev, strerror(errno));
    return 1;
  }
  pfring_set_direction(ring, rx_only_direction);
  if (pfring_set_bpf_filter(ring, "udp") != 0) return 1;
  pfring_dna_cluster *cl = dna_cluster_create(id, num, 0);
  if (!cl) {
    fprintf(stderr, "dna_cluster_create: %s\n", strerror(errno));
    return 1;
  }
  int rc = 0;
  if ((rc = dna_cluster_low_level_settings(cl, 1024, 1024, 0)) != 0 ||
      (rc = dna_cluster_set_mode(cl, recv_only_mode)) != 0 ||
      (rc = dna_cluster_register_ring(cl, ring)) != 0) {
    fprintf(stderr, "cluster setup: %d (%s)\n", rc, strerror(errno));
    return 1;
  }
  dna_cluster_set_distribution_function(cl, round_robin);
  dna_cluster_set_wait_mode(cl, 0);
  dna_cluster_set_thread_name(cl, "dna-master", "dna-master-tx");
  dna_cluster_set_cpu_affinity(cl, 0, 0);
  if ((rc = dna_cluster_enable(cl)) != 0) {
    fprintf(stderr, "dna_cluster_enable: %d (%s)\n", rc, strerror(errno));
    return 1;
  }
  printf("ready\n");
  fflush(stdout);
  pfring_dna_cluster_stat st;
  memset(&st, 0, sizeof(st));
  uint64_t end = now_ms() + duration;
  while (now_ms() < end) {
    if (dna_cluster_stats(cl, &st) != 0) return 1;
    if (st.tot_rx_packets >= expect) break;
    sleep_ms(10);
  }
  sleep_ms(linger);
  if (dna_cluster_stats(cl, &st) != 0) return 1;
  if ((rc = dna_cluster_disable(cl)) != 0) {
    fprintf(stderr, "dna_cluster_disable: %d (%s)\n", rc, strerror(errno));
    return 1;
  }
  printf("rx=%llu processed=%llu tx=%llu distributed=%llu\n",
         (unsigned long long)st.tot_rx_packets, (unsigned long long)st.tot_rx_processed,
         (unsigned long long)st.tot_tx_packets, distributed);
  dna_cluster_destroy(cl);
  pfring_close(ring);
  return 0;
}
