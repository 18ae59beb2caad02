//! Single-producer single-consumer queues of 64-bit entries in shared memory.
//!
//! The producer owns `head`, the consumer owns `tail` (each on its own cache line); both
//! keep private copies and a cached copy of the other side's position, so the shared
//! positions are read only when the cached view says "full" / "empty". Whatever the other
//! side wrote is validated: a position that went backwards or claims more than the
//! capacity is treated as "full" (producer) or "empty" (consumer) and counted in
//! [`Producer::corrupt`] / [`Consumer::corrupt`]; slot indices are masked, so no position
//! can index out of bounds.
//!
//! Passive waiting: a consumer with nothing to read sets the ring's sleeping flag and
//! waits on the wake sequence (a shared futex); a producer that publishes while the flag is
//! set bumps the sequence and wakes it.

use std::sync::atomic::{Ordering, fence};
use std::time::Duration;

use crate::sys::{self, RawRing};

/// The producing end of a ring.
#[derive(Debug)]
pub(crate) struct Producer {
    ring: RawRing,
    head: u64,
    published: u64,
    cached_tail: u64,
    /// Times the consumer's position was found invalid.
    pub(crate) corrupt: u64,
}

impl Producer {
    /// Takes over the producing end at the ring's current head.
    pub(crate) fn new(ring: RawRing) -> Self {
        let head = ring.head().load(Ordering::Acquire);
        let tail = ring.tail().load(Ordering::Acquire);
        Producer {
            ring,
            head,
            published: head,
            cached_tail: tail,
            corrupt: 0,
        }
    }

    /// Free slots, refreshing the consumer position if the cached one says full.
    #[inline]
    pub(crate) fn free(&mut self) -> u64 {
        let cap = self.ring.capacity();
        let used = self.head.wrapping_sub(self.cached_tail);
        if used < cap {
            return cap - used;
        }
        self.free_exact()
    }

    /// Free slots, always reading the consumer position.
    pub(crate) fn free_exact(&mut self) -> u64 {
        let cap = self.ring.capacity();
        let t = self.ring.tail().load(Ordering::Acquire);
        let used = self.head.wrapping_sub(t);
        if used > cap {
            // The consumer moved past what was produced, or backwards by more than the
            // capacity: invalid. Report full until it is sane again.
            self.corrupt += 1;
            return 0;
        }
        self.cached_tail = t;
        cap - used
    }

    /// Writes `v` into the next slot without publishing it; false if the ring is full.
    #[inline]
    pub(crate) fn push_local(&mut self, v: u64) -> bool {
        if self.free() == 0 {
            return false;
        }
        self.ring.slot(self.head).store(v, Ordering::Relaxed);
        self.head = self.head.wrapping_add(1);
        true
    }

    /// Publishes the entries written so far and wakes a sleeping consumer.
    #[inline]
    pub(crate) fn publish(&mut self) {
        if self.published == self.head {
            return;
        }
        self.published = self.head;
        self.ring.head().store(self.head, Ordering::Release);
        fence(Ordering::SeqCst);
        if self.ring.sleeping().load(Ordering::Relaxed) != 0 {
            self.ring.seq().fetch_add(1, Ordering::Release);
            sys::futex_wake(self.ring.seq());
        }
    }

    /// Pushes one entry and publishes it.
    pub(crate) fn push(&mut self, v: u64) -> bool {
        let ok = self.push_local(v);
        self.publish();
        ok
    }

    /// Entries produced and not yet consumed (as last seen).
    pub(crate) fn pending(&mut self) -> u64 {
        self.ring.capacity() - self.free_exact()
    }

    /// Wakes a consumer sleeping on the ring (for shutdown).
    pub(crate) fn wake_consumer(&self) {
        self.ring.seq().fetch_add(1, Ordering::Release);
        sys::futex_wake(self.ring.seq());
    }

    /// Empties the ring (both positions to 0). Only when the consumer is known gone.
    pub(crate) fn reset(&mut self) {
        self.ring.head().store(0, Ordering::Release);
        self.ring.tail().store(0, Ordering::Release);
        self.ring.sleeping().store(0, Ordering::Release);
        self.head = 0;
        self.published = 0;
        self.cached_tail = 0;
    }
}

/// The consuming end of a ring.
#[derive(Debug)]
pub(crate) struct Consumer {
    ring: RawRing,
    tail: u64,
    released: u64,
    cached_head: u64,
    /// Times the producer's position was found invalid.
    pub(crate) corrupt: u64,
}

impl Consumer {
    /// Takes over the consuming end at the ring's current tail.
    pub(crate) fn new(ring: RawRing) -> Self {
        let tail = ring.tail().load(Ordering::Acquire);
        Consumer {
            ring,
            tail,
            released: tail,
            cached_head: tail,
            corrupt: 0,
        }
    }

    /// Entries available, refreshing the producer position if the cached one says empty.
    #[inline]
    pub(crate) fn available(&mut self) -> u64 {
        let n = self.cached_head.wrapping_sub(self.tail);
        if n != 0 {
            return n;
        }
        let h = self.ring.head().load(Ordering::Acquire);
        let n = h.wrapping_sub(self.tail);
        if n > self.ring.capacity() {
            self.corrupt += 1;
            return 0;
        }
        self.cached_head = h;
        n
    }

    /// Entries available, read fresh, without touching the private view.
    pub(crate) fn available_now(&self) -> u64 {
        let h = self.ring.head().load(Ordering::Acquire);
        let n = h.wrapping_sub(self.tail);
        if n > self.ring.capacity() { 0 } else { n }
    }

    /// The next entry, left in the ring.
    pub(crate) fn peek(&mut self) -> Option<u64> {
        if self.available() == 0 {
            return None;
        }
        Some(self.ring.slot(self.tail).load(Ordering::Relaxed))
    }

    /// Takes the next entry without releasing its slot to the producer.
    #[inline]
    pub(crate) fn pop_local(&mut self) -> Option<u64> {
        if self.available() == 0 {
            return None;
        }
        let v = self.ring.slot(self.tail).load(Ordering::Relaxed);
        self.tail = self.tail.wrapping_add(1);
        Some(v)
    }

    /// Gives the slots of the entries taken so far back to the producer.
    #[inline]
    pub(crate) fn release(&mut self) {
        if self.released != self.tail {
            self.released = self.tail;
            self.ring.tail().store(self.tail, Ordering::Release);
        }
    }

    /// Takes one entry and releases its slot.
    pub(crate) fn pop(&mut self) -> Option<u64> {
        let v = self.pop_local();
        self.release();
        v
    }

    /// Waits up to `timeout` for an entry (shared futex), returns whether one is there.
    pub(crate) fn wait(&mut self, timeout: Duration) -> bool {
        if self.available() != 0 {
            return true;
        }
        let seq = self.ring.seq().load(Ordering::Acquire);
        self.ring.sleeping().store(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if self.available() == 0 {
            sys::futex_wait(self.ring.seq(), seq, timeout);
        }
        self.ring.sleeping().store(0, Ordering::Relaxed);
        self.available() != 0
    }

    /// Empties the ring (both positions to 0). Only when the producer is known gone.
    pub(crate) fn reset(&mut self) {
        self.ring.head().store(0, Ordering::Release);
        self.ring.tail().store(0, Ordering::Release);
        self.reset_view();
    }

    /// Resets the private view to an emptied ring (after [`Producer::reset`]).
    pub(crate) fn reset_view(&mut self) {
        self.tail = 0;
        self.released = 0;
        self.cached_head = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::{Mapping, RING_CTL};
    use std::sync::Arc;

    fn ring_pair(len: usize) -> (Producer, Consumer, Arc<Mapping>) {
        let map = Arc::new(Mapping::anonymous(RING_CTL + len * 8).unwrap());
        let p = Producer::new(RawRing::new(&map, 0, len).unwrap());
        let c = Consumer::new(RawRing::new(&map, 0, len).unwrap());
        (p, c, map)
    }

    #[test]
    fn fifo_order_and_capacity() {
        let (mut p, mut c, _m) = ring_pair(8);
        for i in 0..8 {
            assert!(p.push(i));
        }
        assert!(!p.push(99), "a full ring refuses");
        for i in 0..8 {
            assert_eq!(c.pop(), Some(i));
        }
        assert_eq!(c.pop(), None);
        assert!(p.push(100));
        assert_eq!(c.pop(), Some(100));
    }

    #[test]
    fn unpublished_entries_are_invisible() {
        let (mut p, mut c, _m) = ring_pair(8);
        assert!(p.push_local(1));
        assert_eq!(c.pop(), None);
        p.publish();
        assert_eq!(c.pop(), Some(1));
    }

    #[test]
    fn unreleased_slots_stay_taken() {
        let (mut p, mut c, _m) = ring_pair(2);
        assert!(p.push(1) && p.push(2));
        assert_eq!(c.pop_local(), Some(1));
        assert!(!p.push(3), "slot not released yet");
        c.release();
        assert!(p.push(3));
    }

    #[test]
    fn bad_ring_geometry_is_refused() {
        let map = Arc::new(Mapping::anonymous(4096).unwrap());
        assert!(RawRing::new(&map, 0, 3).is_none(), "not a power of two");
        assert!(RawRing::new(&map, 0, 1024).is_none(), "past the end");
        assert!(RawRing::new(&map, 8, 8).is_none(), "misaligned");
    }

    #[test]
    fn corrupt_peer_positions_never_index_out_of_bounds() {
        let (_p, _c, map) = ring_pair(8);
        let ring = RawRing::new(&map, 0, 8).unwrap();
        // A consumer claiming to be ahead of the producer.
        ring.tail().store(1_000, Ordering::SeqCst);
        let mut p = Producer::new(RawRing::new(&map, 0, 8).unwrap());
        assert!(!p.push(1), "invalid tail: treated as full");
        assert!(p.corrupt > 0);
        // A producer claiming far more entries than the capacity.
        ring.tail().store(0, Ordering::SeqCst);
        let mut c = Consumer::new(RawRing::new(&map, 0, 8).unwrap());
        ring.head().store(u64::MAX / 2, Ordering::SeqCst);
        assert_eq!(c.pop(), None, "invalid head: treated as empty");
        assert!(c.corrupt > 0);
        // Back to sane positions: works again.
        ring.head().store(0, Ordering::SeqCst);
        let mut p = Producer::new(RawRing::new(&map, 0, 8).unwrap());
        let mut c = Consumer::new(RawRing::new(&map, 0, 8).unwrap());
        assert!(p.push(7));
        assert_eq!(c.pop(), Some(7));
    }

    #[test]
    fn positions_wrap_around_u64() {
        let (_p, _c, map) = ring_pair(4);
        let ring = RawRing::new(&map, 0, 4).unwrap();
        ring.head().store(u64::MAX - 1, Ordering::SeqCst);
        ring.tail().store(u64::MAX - 1, Ordering::SeqCst);
        let mut p = Producer::new(RawRing::new(&map, 0, 4).unwrap());
        let mut c = Consumer::new(RawRing::new(&map, 0, 4).unwrap());
        for i in 0..10u64 {
            assert!(p.push(i));
            assert_eq!(c.pop(), Some(i));
        }
    }

    #[test]
    fn threaded_stress_keeps_order_without_loss() {
        const N: u64 = 2_000_000;
        let (mut p, mut c, _m) = ring_pair(64);
        let t = std::thread::spawn(move || {
            let mut i = 0;
            while i < N {
                while i < N && p.push_local(i) {
                    i += 1;
                }
                p.publish();
                std::hint::spin_loop();
            }
        });
        let mut expect = 0;
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while expect < N {
            assert!(
                std::time::Instant::now() < deadline,
                "stress test timed out"
            );
            while let Some(v) = c.pop_local() {
                assert_eq!(v, expect);
                expect += 1;
            }
            c.release();
        }
        t.join().unwrap();
        assert_eq!(c.pop(), None);
    }

    #[test]
    fn passive_wait_is_woken_by_publish() {
        let (mut p, mut c, _m) = ring_pair(8);
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            assert!(p.push(42));
        });
        let start = std::time::Instant::now();
        let mut got = None;
        while got.is_none() && start.elapsed() < Duration::from_secs(5) {
            c.wait(Duration::from_secs(1));
            got = c.pop();
        }
        t.join().unwrap();
        assert_eq!(got, Some(42));
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "woken, not timed out"
        );
    }
}
