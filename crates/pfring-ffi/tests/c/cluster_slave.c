/* cluster_slave: one member of a PF_RING cluster. Joins cluster ID with type TYPE (ID 0: no
 * pfring_set_cluster, for zc:ID@Q devices, a queue of a DNA cluster), prints
 * "ready", counts the packets it gets until IDLE_MS pass without one (after the first) or
 * DURATION_MS in all, and prints "received=N".
 * Usage: cluster_slave -i DEV -c ID -t TYPE [-d DURATION_MS] [-I IDLE_MS] [-f BPF] */
#include <errno.h>
#include <unistd.h>

#include <pfring.h>

#include "common.h"

int main(int argc, char **argv) {
  const char *dev = NULL, *filter = NULL;
  unsigned id = 0, type = cluster_round_robin, duration = 15000, idle = 1000;
  int c;
  while ((c = getopt(argc, argv, "i:c:t:d:I:f:")) != -1) {
    switch (c) {
      case 'i': dev = optarg; break;
      case 'c': id = (unsigned)atoi(optarg); break;
      case 't': type = (unsigned)atoi(optarg); break;
      case 'd': duration = (unsigned)atoi(optarg); break;
      case 'I': idle = (unsigned)atoi(optarg); break;
      case 'f': filter = optarg; break;
      default: return 2;
    }
  }
  if (!dev) {
    fprintf(stderr, "usage: cluster_slave -i DEV -c ID -t TYPE [-d MS] [-I MS] [-f BPF]\n");
    return 2;
  }
  pfring *ring = pfring_open(dev, 1536, 0);
  if (!ring) {
    fprintf(stderr, "pfring_open(%s): %s\n", dev, strerror(errno));
    return 1;
  }
  int rc = id ? pfring_set_cluster(ring, id, (cluster_type)type) : 0;
  if (rc != 0) {
    fprintf(stderr, "pfring_set_cluster: %d (%s)\n", rc, strerror(errno));
    return 1;
  }
  if (id) pfring_set_direction(ring, rx_only_direction);
  if (filter && pfring_set_bpf_filter(ring, (char *)filter) != 0) return 1;
  if (pfring_enable_ring(ring) != 0) return 1;
  printf("ready\n");
  fflush(stdout);
  uint64_t n = 0, start = now_ms(), last = 0;
  struct pfring_pkthdr hdr;
  while (now_ms() - start < duration && !(n > 0 && now_ms() - last > idle)) {
    u_char *buf;
    rc = pfring_recv(ring, &buf, 0, &hdr, 0);
    if (rc > 0) {
      n++;
      last = now_ms();
    } else if (rc == 0) {
      pfring_poll(ring, 20);
    } else {
      fprintf(stderr, "pfring_recv: %d\n", rc);
      break;
    }
  }
  printf("received=%llu\n", (unsigned long long)n);
  if (id) pfring_remove_from_cluster(ring);
  pfring_close(ring);
  return rc < 0 ? 1 : 0;
}
