//! The output buffer of the two hand-written printers (`raw_proto`'s protoc text and
//! `json_out`'s JSON): a zero-filled buffer written through a cursor. Each line or token
//! first makes room for itself once ([`Cursor::room`]); the stores after that are plain
//! copies of fixed size into the buffer (no capacity check or length update per piece,
//! and no `memcpy` call for 2 bytes). Bytes past `pos` are scratch. Hand-written because
//! this is the decoders' hot path (issue 12, item 5: `Vec::extend` per token cost 16x).

/// Room always kept past what a caller asked for: the fixed-size stores (8- and 16-byte
/// copies of shorter pieces) may write that far ahead.
const SLACK: usize = 64;

pub(crate) struct Cursor {
    pub(crate) buf: Vec<u8>,
    /// The end of the text written.
    pub(crate) pos: usize,
}

impl Cursor {
    /// Writes after the existing bytes of `buf`, with `hint` bytes of room to start.
    pub(crate) fn new(mut buf: Vec<u8>, hint: usize) -> Cursor {
        let pos = buf.len();
        let len = pos.saturating_add(hint).saturating_add(SLACK);
        if buf.capacity() == 0 {
            // Zeroed memory from the allocator: fresh pages need no clearing.
            buf = vec![0; len];
        } else {
            buf.resize(len, 0);
        }
        Cursor { buf, pos }
    }

    /// The text written so far, as a `Vec` of exactly that length.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.buf.truncate(self.pos);
        self.buf
    }

    pub(crate) fn text(&self) -> &[u8] {
        &self.buf[..self.pos]
    }

    #[inline(always)]
    pub(crate) fn room(&mut self, n: usize) {
        if self.buf.len() - self.pos < n {
            self.grow(n);
        }
    }

    #[cold]
    #[inline(never)]
    fn grow(&mut self, n: usize) {
        let want = self.pos.saturating_add(n).saturating_add(SLACK);
        self.buf
            .resize(want.max(self.buf.len().saturating_mul(2)), 0);
    }

    #[inline(always)]
    pub(crate) fn put<const N: usize>(&mut self, s: &[u8; N]) {
        self.buf[self.pos..self.pos + N].copy_from_slice(s);
        self.pos += N;
    }

    /// Short pieces (most keys and strings) as two overlapping fixed-size copies rather
    /// than a call to `memcpy`.
    #[inline(always)]
    pub(crate) fn put_slice(&mut self, s: &[u8]) {
        let n = s.len();
        let d = &mut self.buf[self.pos..self.pos + n];
        if (8..=16).contains(&n) {
            d[..8].copy_from_slice(&s[..8]);
            d[n - 8..].copy_from_slice(&s[n - 8..]);
        } else if (4..8).contains(&n) {
            d[..4].copy_from_slice(&s[..4]);
            d[n - 4..].copy_from_slice(&s[n - 4..]);
        } else {
            d.copy_from_slice(s);
        }
        self.pos += n;
    }

    #[inline(always)]
    pub(crate) fn byte(&mut self, b: u8) {
        self.buf[self.pos] = b;
        self.pos += 1;
    }
}
