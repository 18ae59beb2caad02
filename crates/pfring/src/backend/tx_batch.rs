//! Frames queued in user memory for one `sendmmsg(2)` ([`crate::TxMode::Batch`]).
//!
//! The batch is a fixed buffer of `slots` strides of `max_frame` bytes (rounded up to a cache
//! line) and the length of each queued frame. It never grows: a full batch refuses frames
//! until it is flushed, as a full TX ring does.

use std::io;

/// Frames waiting to be handed to the kernel, in order.
pub(crate) struct TxBatch {
    buf: Box<[u8]>,
    stride: usize,
    lens: Vec<u32>,
    slots: usize,
}

impl std::fmt::Debug for TxBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxBatch")
            .field("slots", &self.slots)
            .field("stride", &self.stride)
            .field("queued", &self.lens.len())
            .finish_non_exhaustive()
    }
}

impl TxBatch {
    /// A batch of `slots` frames of up to `max_frame` bytes each.
    pub(crate) fn new(max_frame: usize, slots: usize) -> Self {
        let stride = max_frame.max(1).next_multiple_of(64);
        let slots = slots.max(1);
        TxBatch {
            buf: vec![0u8; stride * slots].into_boxed_slice(),
            stride,
            lens: Vec::with_capacity(slots),
            slots,
        }
    }

    /// Frames queued.
    pub(crate) fn len(&self) -> usize {
        self.lens.len()
    }

    /// Whether another frame fits.
    pub(crate) fn has_room(&self) -> bool {
        self.lens.len() < self.slots
    }

    /// Queues a copy of `frame`; `false` when the batch is full. The caller checked that
    /// `frame` is at most `max_frame` bytes.
    pub(crate) fn push(&mut self, frame: &[u8]) -> bool {
        if !self.has_room() {
            return false;
        }
        assert!(frame.len() <= self.stride, "frame larger than a batch slot");
        let at = self.lens.len() * self.stride;
        self.buf[at..at + frame.len()].copy_from_slice(frame);
        self.lens.push(frame.len() as u32);
        true
    }

    /// The `i`-th queued frame.
    pub(crate) fn frame(&self, i: usize) -> &[u8] {
        &self.buf[i * self.stride..][..self.lens[i] as usize]
    }

    /// Hands the queued frames to `send` (which reads them with [`TxBatch::frame`]) and
    /// removes the ones it took (it returns how many, from the front); the rest stay queued
    /// in order.
    pub(crate) fn send_with(
        &mut self,
        send: impl FnOnce(&TxBatch) -> io::Result<usize>,
    ) -> io::Result<usize> {
        if self.lens.is_empty() {
            return Ok(0);
        }
        let n = send(self)?.min(self.lens.len());
        self.drop_front(n);
        Ok(n)
    }

    /// Removes the `n` oldest frames.
    pub(crate) fn drop_front(&mut self, n: usize) {
        let n = n.min(self.lens.len());
        if n == 0 {
            return;
        }
        let rest = self.lens.len() - n;
        if rest > 0 {
            self.buf
                .copy_within(n * self.stride..(n + rest) * self.stride, 0);
        }
        self.lens.drain(..n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(b: &TxBatch) -> Vec<Vec<u8>> {
        (0..b.len()).map(|i| b.frame(i).to_vec()).collect()
    }

    #[test]
    fn frames_go_out_in_order_and_a_partial_send_keeps_the_rest() {
        let mut b = TxBatch::new(100, 4);
        let f: Vec<Vec<u8>> = (0..4u8).map(|i| vec![i; 20 + usize::from(i)]).collect();
        for x in &f {
            assert!(b.push(x));
        }
        assert!(!b.push(&f[0]), "full");
        // The kernel takes two, then the other two.
        let mut seen = Vec::new();
        let n = b
            .send_with(|b| {
                seen = frames(b);
                Ok(2)
            })
            .unwrap();
        assert_eq!(n, 2);
        assert_eq!(seen, f);
        assert_eq!(b.len(), 2);
        assert!(b.push(&f[0]));
        b.send_with(|b| {
            seen = frames(b);
            Ok(b.len())
        })
        .unwrap();
        assert_eq!(seen, vec![f[2].clone(), f[3].clone(), f[0].clone()]);
        assert_eq!(b.len(), 0);
    }

    #[test]
    fn an_error_keeps_every_frame_and_dropping_the_front_skips_one() {
        let mut b = TxBatch::new(64, 3);
        assert!(b.push(&[1; 14]) && b.push(&[2; 15]));
        let e = b
            .send_with(|_| Err(io::Error::from_raw_os_error(libc::ENOBUFS)))
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOBUFS));
        assert_eq!(b.len(), 2);
        b.drop_front(1);
        let mut seen = Vec::new();
        b.send_with(|b| {
            seen = frames(b);
            Ok(1)
        })
        .unwrap();
        assert_eq!(seen, vec![vec![2; 15]]);
        // Nothing queued: `send` is not called.
        assert_eq!(b.send_with(|_| unreachable!()).unwrap(), 0);
    }
}
