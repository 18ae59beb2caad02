/* pfsend: transmits COUNT identical-but-numbered UDP frames of LEN bytes through libpfring
 * (batched: flushed by the TX watermark and at the end), retrying when the TX ring is full.
 * Prints "sent=N".  Usage: pfsend -i DEV -n COUNT -l LEN */
#include <errno.h>
#include <unistd.h>

#include <pfring.h>

#include "common.h"

static void build(uint8_t *f, unsigned len, uint32_t seq) {
  memset(f, 0, len);
  static const uint8_t dst[6] = {0x02, 0, 0, 0, 0, 0x02}, src[6] = {0x02, 0, 0, 0, 0, 0x01};
  memcpy(f, dst, 6);
  memcpy(f + 6, src, 6);
  f[12] = 0x08; f[13] = 0x00;                   /* IPv4 */
  uint8_t *ip = f + 14;
  ip[0] = 0x45;
  ip[2] = (uint8_t)((len - 14) >> 8); ip[3] = (uint8_t)(len - 14);
  ip[8] = 64; ip[9] = 17;                        /* TTL, UDP */
  ip[12] = 10; ip[13] = 99; ip[14] = 0; ip[15] = 1;
  ip[16] = 10; ip[17] = 99; ip[18] = 0; ip[19] = 2;
  uint32_t sum = 0;
  for (int i = 0; i < 20; i += 2) sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  ip[10] = (uint8_t)(~sum >> 8); ip[11] = (uint8_t)~sum;
  uint8_t *udp = ip + 20;
  udp[0] = 0x30; udp[1] = 0x39;                  /* 12345 */
  udp[2] = 0x23; udp[3] = 0x28;                  /* 9000 */
  udp[4] = (uint8_t)((len - 34) >> 8); udp[5] = (uint8_t)(len - 34);
  memcpy(udp + 8, &seq, sizeof(seq));
}

int main(int argc, char **argv) {
  const char *dev = NULL;
  unsigned count = 0, len = 60;
  int c;
  while ((c = getopt(argc, argv, "i:n:l:")) != -1) {
    switch (c) {
      case 'i': dev = optarg; break;
      case 'n': count = (unsigned)atoi(optarg); break;
      case 'l': len = (unsigned)atoi(optarg); break;
      default: return 2;
    }
  }
  if (!dev || !count || len < 60 || len > 1514) {
    fprintf(stderr, "usage: pfsend -i DEV -n COUNT -l LEN(60..1514)\n");
    return 2;
  }
  pfring *ring = pfring_open(dev, 1536, 0);
  if (!ring) {
    fprintf(stderr, "pfring_open(%s): %s\n", dev, strerror(errno));
    return 1;
  }
  if (pfring_set_socket_mode(ring, send_only_mode) != 0 || pfring_set_tx_watermark(ring, 16) != 0 ||
      pfring_enable_ring(ring) != 0) {
    fprintf(stderr, "setup: %s\n", strerror(errno));
    return 1;
  }
  uint8_t frame[1514];
  unsigned sent = 0;
  for (uint32_t i = 0; i < count; i++) {
    build(frame, len, i);
    int rc, tries = 0;
    /* Bounded retry while the TX ring is full. */
    while ((rc = pfring_send(ring, (char *)frame, len, 0)) == PF_RING_ERROR_NO_TX_SLOT_AVAILABLE &&
           tries++ < 10000) {
      pfring_flush_tx_packets(ring);
      sleep_ms(1);
    }
    if (rc != (int)len) {
      fprintf(stderr, "pfring_send: %d (%s)\n", rc, strerror(errno));
      break;
    }
    sent++;
  }
  pfring_flush_tx_packets(ring);
  /* An oversized frame is refused with INVALID_ARGUMENT / EMSGSIZE, not sent. */
  static char big[9100];
  int rc = pfring_send(ring, big, sizeof(big), 1);
  int big_ok = rc == PF_RING_ERROR_INVALID_ARGUMENT && errno == EMSGSIZE;
  printf("sent=%u oversized_refused=%d\n", sent, big_ok);
  pfring_close(ring);
  return sent == count && big_ok ? 0 : 1;
}
