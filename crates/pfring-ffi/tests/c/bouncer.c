/* bouncer: a libzero DNA bouncer from IN to OUT whose decision function (C) drops UDP to
 * port DROP_PORT and passes the rest. Enables both rings, prints "ready", runs
 * pfring_dna_bouncer_loop until EXPECT packets were decided and 300 ms more passed, or
 * DURATION_MS in all (a 100 ms SIGALRM timer calls pfring_dna_bouncer_breakloop), then prints
 * "rc=N passed=N dropped=N" (as counted by the decision function).
 * Usage: bouncer -i IN -o OUT [-p DROP_PORT] [-n EXPECT] [-d DURATION_MS] */
#include <errno.h>
#include <signal.h>
#include <sys/time.h>
#include <unistd.h>

#include <pfring.h>

#include "common.h"

static pfring_dna_bouncer *bouncer;
static unsigned drop_port = 9;
static volatile unsigned long long passed, dropped;
static unsigned long long expect = 0;
static volatile unsigned ticks_left, settle_ticks = 3;

static int decide(u_int32_t *len, u_char *pkt, const u_char *user, u_int8_t direction) {
  (void)user;
  if (direction != 0) return DNA_BOUNCER_DROP;
  if (*len >= 38 && pkt[23] == 17 && ((pkt[36] << 8) | pkt[37]) == (int)drop_port) {
    dropped++;
    return DNA_BOUNCER_DROP;
  }
  passed++;
  return DNA_BOUNCER_PASS;
}

static void on_alarm(int sig) {
  (void)sig;
  if (expect && passed + dropped >= expect && --settle_ticks == 0) {
    pfring_dna_bouncer_breakloop(bouncer);
  }
  if (ticks_left == 0 || --ticks_left == 0) pfring_dna_bouncer_breakloop(bouncer);
}

int main(int argc, char **argv) {
  const char *in = NULL, *out = NULL;
  unsigned duration = 3000;
  int c;
  while ((c = getopt(argc, argv, "i:o:p:n:d:")) != -1) {
    switch (c) {
      case 'i': in = optarg; break;
      case 'o': out = optarg; break;
      case 'p': drop_port = (unsigned)atoi(optarg); break;
      case 'n': expect = (unsigned long long)atoll(optarg); break;
      case 'd': duration = (unsigned)atoi(optarg); break;
      default: return 2;
    }
  }
  if (!in || !out) return 2;
  pfring *rin = pfring_open(in, 1536, PF_RING_PROMISC);
  pfring *rout = pfring_open(out, 1536, 0);
  if (!rin || !rout) {
    fprintf(stderr, "pfring_open: %s\n", strerror(errno));
    return 1;
  }
  pfring_set_direction(rin, rx_only_direction);
  pfring_set_bpf_filter(rin, "udp");
  pfring_set_socket_mode(rout, send_only_mode);
  if (pfring_enable_ring(rin) != 0 || pfring_enable_ring(rout) != 0) return 1;
  bouncer = pfring_dna_bouncer_create(rin, rout);
  if (!bouncer) {
    fprintf(stderr, "pfring_dna_bouncer_create: %s\n", strerror(errno));
    return 1;
  }
  if (pfring_dna_bouncer_set_mode(bouncer, one_way_mode) != 0) return 1;
  signal(SIGALRM, on_alarm);
  ticks_left = duration / 100 + 1;
  struct itimerval it = {{0, 100000}, {0, 100000}};
  setitimer(ITIMER_REAL, &it, NULL);
  printf("ready\n");
  fflush(stdout);
  int rc = pfring_dna_bouncer_loop(bouncer, decide, NULL, 1);
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, NULL);
  printf("rc=%d passed=%llu dropped=%llu\n", rc, (unsigned long long)passed,
         (unsigned long long)dropped);
  pfring_dna_bouncer_destroy(bouncer);
  pfring_close(rin);
  pfring_close(rout);
  return rc == 0 ? 0 : 1;
}
