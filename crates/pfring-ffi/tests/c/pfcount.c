/* pfcount: counts the packets of a device through libpfring, in one of five receive modes,
 * and prints what it saw on one line for the Rust test to check:
 *   received=N bytes=B digest=D bad=K extra=E stats_recv=R stats_drop=X
 * Usage: pfcount -i DEV -n EXPECTED [-m zc|copy|parsed|burst|loop] [-t TIMEOUT_MS] [-f BPF] [-L]
 * (-L: open with PF_RING_LONG_HEADER and check every header's parsed_pkt and pkt_hash)
 * Bounded: it stops at EXPECTED packets or TIMEOUT_MS (a watchdog thread calls
 * pfring_breakloop), then listens 300 ms more for packets that should not be there. */
#include <errno.h>
#include <pthread.h>
#include <unistd.h>

#include <pfring.h>

#include "common.h"

static pfring *ring;
static uint64_t received, bytes, bad, digest = FNV_OFFSET, expected;
static volatile int done;
static unsigned timeout_ms = 10000;
static int is_file; /* pcap: rings have no interface index */
static int long_header; /* -L: PF_RING_LONG_HEADER, every header carries parsed_pkt */

static void account(const struct pfring_pkthdr *h, const uint8_t *p) {
  received++;
  bytes += h->len;
  digest = fnv1a(digest, p, h->caplen);
  if (h->caplen != h->len || h->ts.tv_sec == 0 ||
      (!is_file && (h->extended_hdr.rx_direction != 1 || h->extended_hdr.if_index <= 0)))
    bad++;
  if (long_header &&
      (h->extended_hdr.parsed_pkt.ip_version != 4 || h->extended_hdr.parsed_pkt.l3_proto != 17 ||
       h->extended_hdr.parsed_pkt.offset.l4_offset != 34 || h->extended_hdr.pkt_hash == 0))
    bad++;
}

static void on_packet(const struct pfring_pkthdr *h, const u_char *p, const u_char *user) {
  (void)user;
  account(h, p);
  if (received >= expected) pfring_breakloop(ring);
}

static void *watchdog(void *arg) {
  (void)arg;
  uint64_t end = now_ms() + timeout_ms;
  while (!done && now_ms() < end) sleep_ms(10);
  if (!done) pfring_breakloop(ring);
  return NULL;
}

int main(int argc, char **argv) {
  const char *dev = NULL, *mode = "zc", *filter = NULL;
  int c;
  while ((c = getopt(argc, argv, "i:n:m:t:f:L")) != -1) {
    switch (c) {
      case 'i': dev = optarg; break;
      case 'n': expected = strtoull(optarg, NULL, 10); break;
      case 'm': mode = optarg; break;
      case 't': timeout_ms = (unsigned)atoi(optarg); break;
      case 'f': filter = optarg; break;
      case 'L': long_header = 1; break;
      default: return 2;
    }
  }
  if (!dev || !expected) {
    fprintf(stderr, "usage: pfcount -i DEV -n EXPECTED [-m zc|copy|parsed|burst|loop] [-t MS] [-f BPF]\n");
    return 2;
  }
  is_file = strncmp(dev, "pcap:", 5) == 0;
  ring = pfring_open(dev, 1536, PF_RING_PROMISC | (long_header ? PF_RING_LONG_HEADER : 0));
  if (!ring) {
    fprintf(stderr, "pfring_open(%s): %s\n", dev, strerror(errno));
    return 1;
  }
  pfring_set_application_name(ring, "pfcount-c");
  pfring_set_direction(ring, rx_only_direction);
  if (filter && pfring_set_bpf_filter(ring, (char *)filter) != 0) {
    fprintf(stderr, "bad filter %s\n", filter);
    return 1;
  }
  if (pfring_enable_ring(ring) != 0) {
    fprintf(stderr, "pfring_enable_ring: %s\n", strerror(errno));
    return 1;
  }
  printf("ready\n");
  fflush(stdout);

  pthread_t wd;
  pthread_create(&wd, NULL, watchdog, NULL);
  static u_char copybuf[2048];
  struct pfring_pkthdr hdr;
  int rc = 0;
  if (strcmp(mode, "loop") == 0) {
    rc = pfring_loop(ring, on_packet, NULL, 1);
  } else {
    while (received < expected) {
      if (strcmp(mode, "burst") == 0) {
        pfring_packet_info pk[32];
        rc = pfring_recv_burst(ring, pk, 32, 1);
        if (rc <= 0) break;
        for (int i = 0; i < rc; i++) {
          memset(&hdr, 0, sizeof(hdr));
          hdr.ts = pk[i].ts;
          hdr.caplen = pk[i].caplen;
          hdr.len = pk[i].len;
          hdr.extended_hdr.rx_direction = 1;
          hdr.extended_hdr.if_index = 1;
          account(&hdr, pk[i].data);
        }
        continue;
      }
      u_char *buf = copybuf;
      if (strcmp(mode, "zc") == 0)
        rc = pfring_recv(ring, &buf, 0, &hdr, 1);
      else if (strcmp(mode, "copy") == 0)
        rc = pfring_recv(ring, &buf, sizeof(copybuf), &hdr, 1);
      else
        rc = pfring_recv_parsed(ring, &buf, 0, &hdr, 1, 4, 1, 1);
      if (rc <= 0) break;
      if (strcmp(mode, "copy") == 0 && buf != copybuf) bad++;
      if (strcmp(mode, "parsed") == 0 &&
          (hdr.extended_hdr.parsed_pkt.ip_version != 4 || hdr.extended_hdr.parsed_pkt.l3_proto != 17 ||
           hdr.extended_hdr.parsed_pkt.offset.l4_offset != 34 || hdr.extended_hdr.pkt_hash == 0))
        bad++;
      account(&hdr, buf);
    }
  }
  done = 1;
  pthread_join(wd, NULL);
  if (rc < 0) fprintf(stderr, "receive error %d (errno %s)\n", rc, strerror(errno));

  /* Anything beyond the expected packets is a bug (or noise the filter should have removed). */
  uint64_t extra = 0, end = now_ms() + 300;
  while (now_ms() < end) {
    u_char *buf = NULL;
    if (pfring_recv(ring, &buf, 0, &hdr, 0) > 0)
      extra++;
    else
      sleep_ms(5);
  }
  pfring_stat st = {0, 0};
  pfring_stats(ring, &st);
  printf("received=%llu bytes=%llu digest=%016llx bad=%llu extra=%llu stats_recv=%llu stats_drop=%llu\n",
         (unsigned long long)received, (unsigned long long)bytes, (unsigned long long)digest,
         (unsigned long long)bad, (unsigned long long)extra, (unsigned long long)st.recv,
         (unsigned long long)st.drop);
  pfring_close(ring);
  return rc < 0 ? 1 : 0;
}
