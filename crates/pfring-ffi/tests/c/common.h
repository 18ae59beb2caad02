/* Helpers shared by the pfring-ffi C test programs. */
#ifndef PFRING_FFI_TEST_COMMON_H
#define PFRING_FFI_TEST_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Milliseconds on the monotonic clock. */
static inline uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static inline void sleep_ms(unsigned ms) {
  struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
  nanosleep(&ts, NULL);
}

/* FNV-1a (64 bit) over the packets in order: the Rust test computes the same digest over the
 * frames it sent, so equal digests mean every byte of every packet arrived, in order. */
static inline uint64_t fnv1a(uint64_t h, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}
#define FNV_OFFSET 0xcbf29ce484222325ULL

#endif
