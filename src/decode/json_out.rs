//! Pretty JSON written straight into bytes: what `serde_json::to_writer_pretty` prints,
//! byte for byte (two-space indent, `"key": value`, `{}` and `[]` when empty, numbers
//! and string escapes as serde_json writes them), without a `Serializer` per token.
//! `decode --format json` of a 1.35 MB batch prints 15 MB of JSON: through serde_json's
//! writer, one small `write_all` per token cost 16 times the text path (issue 12, item 5).
//! Tests compare every writer built on this with serde_json's output.

use super::cursor::Cursor;

/// Where full chunks go (stdout, in `decode`).
pub type Sink<'s> = &'s mut dyn FnMut(&[u8]);

/// A chunk this size stays in the CPU cache; megabytes in one buffer cost page faults.
const CHUNK: usize = 64 * 1024;

/// The JSON being written, and where in its nesting the writer is. Written through the
/// text printer's [`Cursor`]: each token makes room for itself once, then its pieces are
/// plain copies.
pub struct JsonOut<'s> {
    out: Cursor,
    depth: usize,
    /// The innermost object or array has no entry yet.
    empty: bool,
    sink: Option<Sink<'s>>,
}

/// serde_json's escapes: 0 as is, `u` as `\u00XX`, else the letter after the backslash.
static ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = b'u';
        i += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0a] = b'n';
    t[0x0c] = b'f';
    t[0x0d] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

const SPACES: &[u8; 32] = b"                                ";

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The two base64 digits of every 12 bits: two lookups per 3 bytes instead of four.
static BASE64_PAIRS: [[u8; 2]; 4096] = {
    let mut t = [[0u8; 2]; 4096];
    let mut i = 0;
    while i < 4096 {
        t[i] = [BASE64[i >> 6], BASE64[i & 63]];
        i += 1;
    }
    t
};

impl<'s> JsonOut<'s> {
    /// Writes into memory only ([`JsonOut::into_bytes`]).
    pub fn new() -> JsonOut<'static> {
        JsonOut {
            out: Cursor {
                buf: Vec::new(),
                pos: 0,
            },
            depth: 0,
            empty: true,
            sink: None,
        }
    }

    /// Hands the text to `sink` in chunks of about 64 KiB as it is written.
    pub fn streaming(sink: Sink<'s>) -> JsonOut<'s> {
        JsonOut {
            out: Cursor::new(Vec::new(), CHUNK + 4096),
            depth: 0,
            empty: true,
            sink: Some(sink),
        }
    }

    /// The bytes not yet handed to a sink (all of them without one).
    pub fn into_bytes(self) -> Vec<u8> {
        self.out.finish()
    }

    /// Hands what is left to the sink.
    pub fn finish(mut self) {
        if let Some(sink) = self.sink.as_mut()
            && self.out.pos > 0
        {
            sink(&self.out.buf[..self.out.pos]);
            self.out.pos = 0;
        }
    }

    #[inline]
    fn maybe_flush(&mut self) {
        if self.out.pos >= CHUNK
            && let Some(sink) = self.sink.as_mut()
        {
            sink(&self.out.buf[..self.out.pos]);
            self.out.pos = 0;
        }
    }

    /// A newline and the indent; needs `1 + max(32, 2 * depth)` bytes of room.
    #[inline(always)]
    fn newline_indent(&mut self) {
        self.out.byte(b'\n');
        let n = 2 * self.depth;
        if n <= SPACES.len() {
            // 32 bytes written, `n` kept: the rest is scratch.
            self.out.buf[self.out.pos..self.out.pos + SPACES.len()].copy_from_slice(SPACES);
            self.out.pos += n;
        } else {
            for _ in 0..self.depth {
                self.out.put_slice(b"  ");
            }
        }
    }

    /// Room for a newline, the indent and a comma.
    #[inline(always)]
    fn indent_room(&self) -> usize {
        2 + (2 * self.depth).max(SPACES.len())
    }

    /// Before an entry of an object or an element of an array; makes `extra` bytes of
    /// room after the indent too. (Inlined: a call per key was 14% of the writing.)
    #[inline(always)]
    fn next_entry(&mut self, extra: usize) {
        self.maybe_flush();
        self.out.room(self.indent_room() + extra);
        if !self.empty {
            self.out.byte(b',');
        }
        self.empty = false;
        self.newline_indent();
    }

    pub fn begin_object(&mut self) {
        self.open(b'{');
    }

    pub fn end_object(&mut self) {
        self.close(b'}');
    }

    pub fn begin_array(&mut self) {
        self.open(b'[');
    }

    pub fn end_array(&mut self) {
        self.close(b']');
    }

    #[inline]
    fn open(&mut self, bracket: u8) {
        self.out.room(1);
        self.out.byte(bracket);
        self.depth += 1;
        self.empty = true;
    }

    #[inline]
    fn close(&mut self, bracket: u8) {
        self.depth -= 1;
        self.out.room(self.indent_room());
        if !self.empty {
            self.newline_indent();
        }
        self.out.byte(bracket);
        // The enclosing object or array has this one as an entry.
        self.empty = false;
    }

    /// An object's key (escaped), then `": "`; the value comes next.
    #[inline]
    pub fn key(&mut self, key: &str) {
        self.next_entry(0);
        self.string(key);
        self.raw(b": ");
    }

    /// A key that needs no escape (field numbers, our own names, escaped names).
    #[inline(always)]
    pub fn plain_key(&mut self, key: &[u8]) {
        self.next_entry(key.len() + 4);
        self.out.byte(b'"');
        self.out.put_slice(key);
        self.out.put_slice(b"\": ");
    }

    /// A field number as a key (`"12": `).
    #[inline]
    pub fn number_key(&mut self, n: u32) {
        if n >= 100 {
            return self.plain_key(itoa::Buffer::new().format(n).as_bytes());
        }
        self.next_entry(8);
        // `"N": ` or `"NN": `, written as 6 bytes with the last one scratch for N < 10.
        let (d1, d0) = (b'0' + (n / 10) as u8, b'0' + (n % 10) as u8);
        let key = if n < 10 {
            [b'"', d0, b'"', b':', b' ', b' ']
        } else {
            [b'"', d1, d0, b'"', b':', b' ']
        };
        self.out.buf[self.out.pos..self.out.pos + 6].copy_from_slice(&key);
        self.out.pos += if n < 10 { 5 } else { 6 };
    }

    /// Before each element of an array.
    #[inline]
    pub fn element(&mut self) {
        self.next_entry(0);
    }

    /// Text that is already JSON (a number, `true`).
    #[inline]
    pub fn raw(&mut self, text: &[u8]) {
        self.out.room(text.len());
        self.out.put_slice(text);
    }

    #[inline]
    pub fn u64(&mut self, v: u64) {
        self.raw(itoa::Buffer::new().format(v).as_bytes());
    }

    #[inline]
    pub fn i64(&mut self, v: i64) {
        self.raw(itoa::Buffer::new().format(v).as_bytes());
    }

    /// Text in quotes that needs no escape: proto3 JSON's 64-bit integers, escaped names.
    #[inline]
    pub fn quoted(&mut self, text: &[u8]) {
        self.out.room(text.len() + 2);
        self.out.byte(b'"');
        self.out.put_slice(text);
        self.out.byte(b'"');
    }

    /// proto3 JSON's float: a number, or "NaN", "Infinity", "-Infinity".
    pub fn f64(&mut self, v: f64) {
        if v.is_finite() {
            self.raw(zmij::Buffer::new().format_finite(v).as_bytes());
        } else {
            self.non_finite(v.is_nan(), v > 0.0);
        }
    }

    /// As [`JsonOut::f64`], with the shortest digits of an `f32` (serde's `serialize_f32`).
    pub fn f32(&mut self, v: f32) {
        if v.is_finite() {
            self.raw(zmij::Buffer::new().format_finite(v).as_bytes());
        } else {
            self.non_finite(v.is_nan(), v > 0.0);
        }
    }

    fn non_finite(&mut self, nan: bool, positive: bool) {
        self.raw(match (nan, positive) {
            (true, _) => b"\"NaN\"",
            (false, true) => b"\"Infinity\"",
            (false, false) => b"\"-Infinity\"",
        });
    }

    /// `bytes` in standard base64 with padding, in quotes (the base64 crate's output;
    /// its `encode_slice` wanted a zero-filled slice per value, a `memset` each).
    pub fn base64(&mut self, bytes: &[u8]) {
        let sextet = |n: u32, shift: u32| BASE64[(n >> shift & 63) as usize];
        self.out.room(bytes.len().div_ceil(3) * 4 + 2);
        self.out.byte(b'"');
        let mut chunks = bytes.chunks_exact(3);
        for c in &mut chunks {
            let n = u32::from(c[0]) << 16 | u32::from(c[1]) << 8 | u32::from(c[2]);
            let (high, low) = (
                BASE64_PAIRS[(n >> 12) as usize],
                BASE64_PAIRS[(n & 0xfff) as usize],
            );
            let quad = [high[0], high[1], low[0], low[1]];
            self.out.buf[self.out.pos..self.out.pos + 4].copy_from_slice(&quad);
            self.out.pos += 4;
        }
        match *chunks.remainder() {
            [a] => {
                let n = u32::from(a) << 16;
                self.out
                    .put_slice(&[sextet(n, 18), sextet(n, 12), b'=', b'=']);
            }
            [a, b] => {
                let n = u32::from(a) << 16 | u32::from(b) << 8;
                self.out
                    .put_slice(&[sextet(n, 18), sextet(n, 12), sextet(n, 6), b'=']);
            }
            _ => {}
        }
        self.out.byte(b'"');
    }

    /// A string in quotes, escaped as serde_json escapes it.
    #[inline]
    pub fn string(&mut self, s: &str) {
        self.utf8(s.as_bytes());
    }

    /// [`JsonOut::string`] of bytes the caller checked are UTF-8 (checking twice cost
    /// 5% of `decode --format json` with a schema).
    #[inline]
    pub fn utf8(&mut self, bytes: &[u8]) {
        if bytes.len() >= 8 && !any_escape(bytes) {
            return self.quoted(bytes);
        }
        match bytes.iter().position(|&b| ESCAPE[b as usize] != 0) {
            None => self.quoted(bytes),
            Some(first) => self.escaped(bytes, first),
        }
    }

    /// A string with escapes, the first at `first`: each byte is 6 bytes at most.
    #[inline(never)]
    fn escaped(&mut self, bytes: &[u8], first: usize) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        self.out
            .room(bytes.len().saturating_mul(6).saturating_add(2));
        self.out.byte(b'"');
        self.out.put_slice(&bytes[..first]);
        let mut run = first;
        for (i, &b) in bytes.iter().enumerate().skip(first) {
            let e = ESCAPE[b as usize];
            if e == 0 {
                continue;
            }
            self.out.put_slice(&bytes[run..i]);
            if e == b'u' {
                let hex = [HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]];
                self.out
                    .put_slice(&[b'\\', b'u', b'0', b'0', hex[0], hex[1]]);
            } else {
                self.out.put_slice(&[b'\\', e]);
            }
            run = i + 1;
        }
        self.out.put_slice(&bytes[run..]);
        self.out.byte(b'"');
    }
}

/// Does any byte of `bytes` (8 or more) need a JSON escape: below 0x20, `"` or `\\`?
/// Eight bytes at a time; exact as a yes/no (the usual bit tricks).
#[inline]
fn any_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let bad = |x: u64| {
        let low = x.wrapping_sub(ONES * 0x20) & !x & HIGH;
        low | has_zero(x ^ (ONES * u64::from(b'"'))) | has_zero(x ^ (ONES * u64::from(b'\\'))) != 0
    };
    let word = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or_default());
    let n = bytes.len();
    bytes.chunks_exact(8).any(|w| bad(word(w))) || bad(word(&bytes[n - 8..]))
}

/// For values written by serde_json (payloads without a fast path).
impl std::io::Write for JsonOut<'_> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.raw(b);
        self.maybe_flush();
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_what_serde_json_pretty_writes() {
        let mut o = JsonOut::new();
        o.begin_object();
        o.plain_key(b"12");
        o.base64(b"\x00\xffab");
        o.key("a\"\u{1}\n\u{7f}é\\");
        o.begin_array();
        for v in [0.1f64, 1e300, -0.0, f64::NAN, f64::INFINITY] {
            o.element();
            o.f64(v);
        }
        o.element();
        o.begin_object();
        o.end_object();
        o.element();
        o.begin_array();
        o.end_array();
        o.end_array();
        o.end_object();
        // serde_json's map sorts its keys; ours were written in that order.
        let want = serde_json::json!({
            "12": "AP9hYg==",
            "a\"\u{1}\n\u{7f}é\\": [0.1, 1e300, -0.0, "NaN", "Infinity", {}, []],
        });
        let expected = serde_json::to_string_pretty(&want).unwrap();
        assert_eq!(String::from_utf8(o.into_bytes()).unwrap(), expected);
        // Indents past the 32-space fast path, and a long escaped string.
        let mut deep = serde_json::json!("a\u{0}b".repeat(40));
        let mut o = JsonOut::new();
        for _ in 0..20 {
            o.begin_array();
            o.element();
            deep = serde_json::json!([deep, {}]);
        }
        o.string(&"a\u{0}b".repeat(40));
        for _ in 0..20 {
            o.element();
            o.begin_object();
            o.end_object();
            o.end_array();
        }
        let want = serde_json::to_string_pretty(&deep).unwrap();
        assert_eq!(String::from_utf8(o.into_bytes()).unwrap(), want);
        // The 8-byte scan: each escaped byte at each place, and clean strings.
        for bad in [0u8, 0x1f, b'"', b'\\'] {
            for len in 8..20 {
                for at in 0..len {
                    let mut b = vec![b'a'; len];
                    b[at] = bad;
                    assert!(any_escape(&b), "{bad} {len} {at}");
                }
            }
        }
        let clean: Vec<u8> = (0x20..=0xff).filter(|b| !b"\"\\".contains(b)).collect();
        for w in clean.windows(11) {
            assert!(!any_escape(w), "{w:?}");
        }
        // Base64 of every length against the base64 crate.
        for n in 0..40u8 {
            let bytes: Vec<u8> = (0..n).map(|i| i.wrapping_mul(97) ^ 0xa5).collect();
            let mut o = JsonOut::new();
            o.base64(&bytes);
            use base64::Engine as _;
            let want = base64::engine::general_purpose::STANDARD.encode(&bytes);
            assert_eq!(o.into_bytes(), format!("\"{want}\"").into_bytes());
        }
        // serde's serialize_f32: the shortest digits of the f32, not of its f64.
        let mut o = JsonOut::new();
        o.f32(0.1);
        o.f32(f32::NEG_INFINITY);
        assert_eq!(o.into_bytes(), b"0.1\"-Infinity\"");
        assert_eq!(serde_json::to_string(&0.1f32).unwrap(), "0.1");
    }
}
