// hpp_count: counts N packets through the C++ wrapper (pfring.hpp) and prints
// "received=N bytes=B"; also checks the wrapper on a device that does not exist.
// Usage: hpp_count -i DEV -n EXPECTED
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

#include <pfring.hpp>

int main(int argc, char **argv) {
  const char *dev = nullptr;
  unsigned long expected = 0;
  int c;
  while ((c = getopt(argc, argv, "i:n:")) != -1) {
    if (c == 'i') dev = optarg;
    else if (c == 'n') expected = strtoul(optarg, nullptr, 10);
    else return 2;
  }
  if (!dev || !expected) return 2;
  {
    PFring none("no-such-dev0", 128);
    if (none.get_ring() != nullptr || errno != ENODEV) return 3;
    pfring_stat st;
    if (none.get_stats(&st) != PF_RING_ERROR_INVALID_ARGUMENT) return 3;
  }
  PFring ring(dev, 1536, PF_RING_PROMISC);
  if (!ring.get_ring() || ring.set_direction(rx_only_direction) != 0 || ring.add_bpf_filter("udp") != 0 ||
      ring.enable_ring() != 0) {
    std::fprintf(stderr, "open %s: %s\n", dev, std::strerror(errno));
    return 1;
  }
  std::printf("ready\n");
  std::fflush(stdout);
  unsigned long n = 0, bytes = 0;
  u_char buf[2048];
  struct pfring_pkthdr hdr;
  for (int idle = 0; n < expected && idle < 100;) {  // at most 100 empty polls of 100 ms
    if (!ring.wait_for_packets(100)) {
      idle++;
      continue;
    }
    while (n < expected && ring.get_next_packet(&hdr, buf, sizeof(buf), false) > 0) {
      n++;
      bytes += hdr.len;
    }
  }
  pfring_stat st = {0, 0};
  ring.get_stats(&st);
  std::printf("received=%lu bytes=%lu stats_recv=%llu\n", n, bytes, (unsigned long long)st.recv);
  return 0;
}
