//! A fixed byte pipe: what one side of the TLS task writes, the other reads.

/// Up to `N` bytes in order; the readable bytes are always contiguous (they are moved to the
/// front when the room at the back runs out).
pub(crate) struct Pipe<const N: usize> {
    buf: [u8; N],
    start: usize,
    end: usize,
}

impl<const N: usize> Pipe<N> {
    /// An empty pipe.
    pub(crate) const fn new() -> Self {
        Self {
            buf: [0; N],
            start: 0,
            end: 0,
        }
    }

    /// Bytes waiting to be read.
    pub(crate) fn len(&self) -> usize {
        self.end - self.start
    }

    /// Whether nothing waits to be read.
    pub(crate) fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Room for more bytes.
    pub(crate) fn free(&self) -> usize {
        N - self.len()
    }

    /// Drops everything.
    pub(crate) fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
    }

    /// The bytes waiting to be read.
    pub(crate) fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Marks `n` bytes as read.
    pub(crate) fn consume(&mut self, n: usize) {
        self.start += n.min(self.len());
        if self.start == self.end {
            self.clear();
        }
    }

    /// Moves the unread bytes to the front, so all free room is at the back.
    fn compact(&mut self) {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
    }

    /// Appends as much of `data` as fits; returns how much.
    pub(crate) fn push(&mut self, data: &[u8]) -> usize {
        if data.len() > N - self.end {
            self.compact();
        }
        let n = data.len().min(N - self.end);
        self.buf[self.end..self.end + n].copy_from_slice(&data[..n]);
        self.end += n;
        n
    }

    /// Moves up to `out.len()` bytes out; returns how many.
    pub(crate) fn pop_into(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.len());
        out[..n].copy_from_slice(&self.buf[self.start..self.start + n]);
        self.consume(n);
        n
    }
}

#[cfg(test)]
mod tests {
    use super::Pipe;

    #[test]
    fn keeps_order_through_wraps() {
        let mut pipe = Pipe::<8>::new();
        let mut out = [0u8; 8];
        let mut next = 0u8;
        let mut want = 0u8;
        for round in 0..200usize {
            let data: [u8; 5] = core::array::from_fn(|i| next.wrapping_add(i as u8));
            let took = pipe.push(&data[..round % 6]);
            next = next.wrapping_add(took as u8);
            let got = pipe.pop_into(&mut out[..round % 5]);
            for &b in &out[..got] {
                assert_eq!(b, want);
                want = want.wrapping_add(1);
            }
            assert!(pipe.len() <= 8);
        }
    }
}
