//! Protobuf without a schema: the exact text `protoc --decode_raw` (protobuf 3.21, as
//! Debian ships it) prints, plus a JSON tree of the same fields.
//!
//! protoc reads its input in two different ways, and both are reproduced here because the
//! output depends on them (rules found by testing `/usr/bin/protoc` 3.21.12, issue 6):
//!
//! * **The whole payload** goes through the table-driven parser (`ParseContext`). A tag
//!   is at most 5 bytes (bits past 32 dropped); a length is at most 5 bytes and below
//!   2^31; a varint at most 10 bytes; field number 0, wire types 6 and 7, a stray
//!   end-group, a mismatched end-group, data past the end: "Failed to parse input.".
//!   Groups nest at most 100 deep.
//! * **Each length-delimited field** is then tried as a message by the text printer
//!   (`UnknownFieldSet::ParseFromCodedStream`, i.e. `CodedInputStream`), which is more
//!   lenient: tags and lengths may take up to 10 bytes (truncated to 32 bits). If the
//!   bytes are non-empty, the print budget is above 0 and they parse, they print as a
//!   nested `N { ... }` block; otherwise as a C-escaped string. The print budget starts
//!   at 10 and drops by one per nested message or group; it is also the group depth
//!   limit of that trial parse.
//!
//! The whole payload is checked up front ([`validate`], which only skips over
//! length-delimited values); printing then walks the bytes once, printing each
//! length-delimited value as a message while it tries to parse it, and falling back to a
//! string when that fails.

use std::fmt;

use base64::Engine;
use serde_json::{Map, Value};

use super::cursor::Cursor;

/// protoc's `io::CodedInputStream::GetDefaultRecursionLimit()`.
const TOP_GROUP_DEPTH: u32 = 100;
/// protoc's `TextFormat::Printer` budget for unknown fields (`kUnknownFieldRecursionLimit`).
pub(super) const PRINT_BUDGET: u32 = 10;

const WT_VARINT: u8 = 0;
const WT_FIXED64: u8 = 1;
const WT_LEN: u8 = 2;
const WT_START_GROUP: u8 = 3;
const WT_END_GROUP: u8 = 4;
const WT_FIXED32: u8 = 5;

/// Why bytes are not a protobuf message, and where (offset from the payload's start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError {
    pub offset: usize,
    pub kind: WireErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireErrorKind {
    TruncatedVarint,
    VarintTooLong,
    TagTooLong,
    TagZero,
    FieldNumberZero,
    BadWireType(u8),
    LengthTooLong,
    LengthPastEnd { length: u64, remaining: usize },
    TruncatedFixed { size: usize, remaining: usize },
    UnexpectedEndGroup(u32),
    MismatchedEndGroup { open: u32, end: u32 },
    UnclosedGroup(u32),
    GroupsTooDeep,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use WireErrorKind::*;
        let at = self.offset;
        match &self.kind {
            TruncatedVarint => write!(f, "varint truncated by the end of the data at byte {at}"),
            VarintTooLong => write!(f, "varint longer than 10 bytes at byte {at}"),
            TagTooLong => write!(f, "field tag longer than 5 bytes at byte {at}"),
            TagZero => write!(f, "zero tag (not a field) at byte {at}"),
            FieldNumberZero => write!(f, "field number 0 at byte {at}"),
            BadWireType(wt) => write!(f, "invalid wire type {wt} at byte {at}"),
            LengthTooLong => write!(
                f,
                "length prefix at byte {at} is 2 GiB or more (or over-long)"
            ),
            LengthPastEnd { length, remaining } => write!(
                f,
                "length {length} at byte {at} runs past the end of the data ({remaining} bytes left)"
            ),
            TruncatedFixed { size, remaining } => write!(
                f,
                "{size}-byte fixed value at byte {at} truncated ({remaining} bytes left)"
            ),
            UnexpectedEndGroup(n) => write!(f, "end of group {n} at byte {at} without a start"),
            MismatchedEndGroup { open, end } => {
                write!(f, "end of group {end} at byte {at} inside group {open}")
            }
            UnclosedGroup(n) => write!(f, "group {n} opened at byte {at} is never closed"),
            GroupsTooDeep => write!(
                f,
                "groups nested more than {TOP_GROUP_DEPTH} deep at byte {at}"
            ),
        }
    }
}

impl std::error::Error for WireError {}

/// Which of protoc's two readers the bytes go through (see the module comment).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Rules {
    /// The whole payload: `ParseContext`.
    Top,
    /// A length-delimited field tried as a message: `CodedInputStream`.
    Embedded,
}

/// One field's value as read off the wire; `Len` and `Group` borrow the input.
#[derive(Debug, Clone, Copy)]
pub(super) enum Wire<'a> {
    Varint(u64),
    Fixed64(u64),
    Fixed32(u32),
    Len(&'a [u8]),
    /// The group's body, without the end-group tag.
    Group(&'a [u8]),
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Offset of `buf[0]` in the whole payload, for error messages.
    base: usize,
    rules: Rules,
}

/// Result of reading one tag: a field, the end of a group, or the end of the data.
enum Step<'a> {
    Field(u32, Wire<'a>),
    EndGroup(u32),
    End,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], base: usize, rules: Rules) -> Self {
        Reader {
            buf,
            pos: 0,
            base,
            rules,
        }
    }

    fn err(&self, at: usize, kind: WireErrorKind) -> WireError {
        WireError {
            offset: self.base + at,
            kind,
        }
    }

    /// A little-endian base-128 varint of at most `max` bytes; bits past 64 are dropped
    /// as protoc drops them.
    #[inline]
    fn varint(&mut self, max: usize, too_long: WireErrorKind) -> Result<u64, WireError> {
        // Most tags, lengths and small values are one byte.
        if let Some(&b) = self.buf.get(self.pos)
            && b < 0x80
        {
            self.pos += 1;
            return Ok(u64::from(b));
        }
        let start = self.pos;
        let mut value: u64 = 0;
        for i in 0..max {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(self.err(start, WireErrorKind::TruncatedVarint));
            };
            self.pos += 1;
            if i < 10 {
                value |= u64::from(b & 0x7f).checked_shl(7 * i as u32).unwrap_or(0);
            }
            if b < 0x80 {
                return Ok(value);
            }
        }
        Err(self.err(start, too_long))
    }

    fn tag(&mut self) -> Result<u32, WireError> {
        let max = if self.rules == Rules::Top { 5 } else { 10 };
        let start = self.pos;
        let tag = self.varint(max, WireErrorKind::TagTooLong)? as u32;
        if tag == 0 {
            return Err(self.err(start, WireErrorKind::TagZero));
        }
        Ok(tag)
    }

    #[inline(always)]
    fn length(&mut self) -> Result<&'a [u8], WireError> {
        // A one-byte length (below 128: the same under both rules) that fits.
        if let Some(&n) = self.buf.get(self.pos)
            && n < 0x80
            && let Some(s) = self.buf.get(self.pos + 1..self.pos + 1 + usize::from(n))
        {
            self.pos += 1 + usize::from(n);
            return Ok(s);
        }
        self.length_long()
    }

    /// [`Reader::length`] past its fast path: a longer length, or an error.
    #[inline(never)]
    fn length_long(&mut self) -> Result<&'a [u8], WireError> {
        let start = self.pos;
        let len = match self.rules {
            Rules::Top => {
                let v = self.varint(5, WireErrorKind::LengthTooLong)?;
                if v >= 1 << 31 {
                    return Err(self.err(start, WireErrorKind::LengthTooLong));
                }
                v
            }
            Rules::Embedded => {
                let v = self.varint(10, WireErrorKind::VarintTooLong)? as u32;
                if v >= 1 << 31 {
                    return Err(self.err(start, WireErrorKind::LengthTooLong));
                }
                u64::from(v)
            }
        };
        let remaining = self.buf.len() - self.pos;
        if len > remaining as u64 {
            return Err(self.err(
                start,
                WireErrorKind::LengthPastEnd {
                    length: len,
                    remaining,
                },
            ));
        }
        let s = &self.buf[self.pos..self.pos + len as usize];
        self.pos += len as usize;
        Ok(s)
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let remaining = self.buf.len() - self.pos;
        match self.buf.get(self.pos..self.pos + N) {
            Some(s) => {
                let mut a = [0u8; N];
                a.copy_from_slice(s);
                self.pos += N;
                Ok(a)
            }
            None => Err(self.err(
                self.pos,
                WireErrorKind::TruncatedFixed { size: N, remaining },
            )),
        }
    }

    /// Reads the next field. `depth_left` bounds group nesting (it is the caller's
    /// remaining depth); a group is read whole, its body checked recursively.
    fn step(&mut self, depth_left: u32) -> Result<Step<'a>, WireError> {
        if self.pos >= self.buf.len() {
            return Ok(Step::End);
        }
        let start = self.pos;
        let tag = self.tag()?;
        let number = tag >> 3;
        let wt = (tag & 7) as u8;
        if wt == WT_END_GROUP {
            // protoc checks the end-group's number against the open group only.
            return Ok(Step::EndGroup(number));
        }
        if number == 0 {
            return Err(self.err(start, WireErrorKind::FieldNumberZero));
        }
        let value = match wt {
            WT_VARINT => Wire::Varint(self.varint(10, WireErrorKind::VarintTooLong)?),
            WT_FIXED64 => Wire::Fixed64(u64::from_le_bytes(self.fixed::<8>()?)),
            WT_FIXED32 => Wire::Fixed32(u32::from_le_bytes(self.fixed::<4>()?)),
            WT_LEN => Wire::Len(self.length()?),
            WT_START_GROUP => {
                if depth_left == 0 {
                    return Err(self.err(start, WireErrorKind::GroupsTooDeep));
                }
                let body_start = self.pos;
                let mut inner = Reader {
                    buf: self.buf,
                    pos: self.pos,
                    base: self.base,
                    rules: self.rules,
                };
                let body_end = inner.skip_fields(depth_left - 1, Some((number, start)))?;
                self.pos = inner.pos;
                Wire::Group(&self.buf[body_start..body_end])
            }
            other => return Err(self.err(start, WireErrorKind::BadWireType(other))),
        };
        Ok(Step::Field(number, value))
    }

    /// Checks fields up to the end of the data, or up to the end-group of `group`
    /// (number, offset of its start tag). Returns where the body ends (before the end tag).
    fn skip_fields(
        &mut self,
        depth_left: u32,
        group: Option<(u32, usize)>,
    ) -> Result<usize, WireError> {
        loop {
            let before = self.pos;
            match self.step(depth_left)? {
                Step::Field(..) => {}
                Step::End => {
                    return match group {
                        None => Ok(self.pos),
                        Some((n, at)) => Err(self.err(at, WireErrorKind::UnclosedGroup(n))),
                    };
                }
                Step::EndGroup(end) => {
                    return match group {
                        Some((open, _)) if open == end => Ok(before),
                        Some((open, _)) => {
                            Err(self.err(before, WireErrorKind::MismatchedEndGroup { open, end }))
                        }
                        None => Err(self.err(before, WireErrorKind::UnexpectedEndGroup(end))),
                    };
                }
            }
        }
    }
}

/// Checks that `bytes` is a message protoc accepts; the error names the first problem.
pub fn validate(bytes: &[u8]) -> Result<(), WireError> {
    Reader::new(bytes, 0, Rules::Top)
        .skip_fields(TOP_GROUP_DEPTH, None)
        .map(|_| ())
}

/// Would protoc's printer show this length-delimited value as a nested message? (The
/// trial parse by [`lenient_step`], which builds no errors: most values are strings,
/// refused at their first byte; issue 12, item 5 profile.)
pub(super) fn prints_as_message(bytes: &[u8], budget: u32) -> bool {
    if bytes.is_empty() || budget == 0 || !first_field_parses(bytes, budget) {
        return false;
    }
    let mut pos = 0;
    while pos < bytes.len() {
        if lenient_step(bytes, &mut pos, budget) != Some(None) {
            return false;
        }
    }
    true
}

/// Calls `f` on each field of already-validated bytes, in wire order.
pub(super) fn for_each_field<'a>(
    bytes: &'a [u8],
    rules: Rules,
    mut f: impl FnMut(u32, Wire<'a>),
) -> Result<(), WireError> {
    let mut r = Reader::new(bytes, 0, rules);
    // Bytes were validated with a tighter or equal limit; depth is not re-checked here.
    while let Step::Field(n, v) = r.step(u32::MAX)? {
        f(n, v);
    }
    Ok(())
}

/// `protoc --decode_raw` output for `bytes`, or where and why protoc would refuse them.
pub fn to_text(bytes: &[u8]) -> Result<String, WireError> {
    let mut out = Vec::new();
    write_text(bytes, &mut out)?;
    Ok(ascii_string(out))
}

/// [`to_text`] appended to `out` as bytes (no UTF-8 check, no `String`): the fast path
/// of `decode`. Nothing is appended when the bytes are refused.
pub fn write_text(bytes: &[u8], out: &mut Vec<u8>) -> Result<(), WireError> {
    validate(bytes)?;
    render_text_into(bytes, out)
}

/// [`to_text`] for bytes [`validate`] already accepted (the walk still fails cleanly,
/// never panics, if they were not).
pub(crate) fn render_text(bytes: &[u8]) -> Result<String, WireError> {
    let mut out = Vec::new();
    render_text_into(bytes, &mut out)?;
    Ok(ascii_string(out))
}

/// [`render_text`] appended to `out`; on error `out` is left as it was.
pub(crate) fn render_text_into(bytes: &[u8], out: &mut Vec<u8>) -> Result<(), WireError> {
    let mark = out.len();
    // The text is about 2.5 times the wire size for typical events; more is grown.
    let mut o = Out::new(std::mem::take(out), bytes.len().saturating_mul(3));
    let mut r = Reader::new(bytes, 0, Rules::Top);
    let result = print_fields(&mut r, PRINT_BUDGET, TOP_GROUP_DEPTH, 0, None, &mut o, None);
    *out = o.finish();
    if result.is_err() {
        out.truncate(mark);
    }
    result
}

/// Where [`stream_text`] hands its chunks.
type Sink<'s> = &'s mut dyn FnMut(&[u8]);

/// Text chunk size of [`stream_text`]: a buffer this size stays in the CPU cache and is
/// faulted in once, where megabytes of text in one buffer cost a page fault per 4 KiB.
const CHUNK: usize = 64 * 1024;

/// [`to_text`] handed to `sink` in chunks of about 64 KiB, each ending at a top-level
/// field's end (so at a newline). Nothing is handed over when the bytes are refused:
/// they are checked before the first chunk.
pub fn stream_text(bytes: &[u8], sink: Sink<'_>) -> Result<(), WireError> {
    validate(bytes)?;
    // A small payload gets a small buffer: the buffer is zero-filled.
    let mut out = Out::new(Vec::new(), bytes.len().saturating_mul(3).min(CHUNK + 4096));
    let mut r = Reader::new(bytes, 0, Rules::Top);
    print_fields(
        &mut r,
        PRINT_BUDGET,
        TOP_GROUP_DEPTH,
        0,
        None,
        &mut out,
        Some(sink),
    )?;
    if out.pos > 0 {
        sink(out.text());
    }
    Ok(())
}

/// The printer only ever writes printable ASCII and newlines.
fn ascii_string(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).expect("the printer writes ASCII only")
}

/// Bytes of room every field line asks for before it is written: the indent's fast path
/// (16 bytes), a field number (10 digits), `: ` and a value (20 digits, or `: 0x` and 16
/// hex digits) and the newline, with slack for the fixed-size stores below.
const LINE: usize = 64;

/// The printer's output: a [`Cursor`] (room made once per line, then plain copies).
type Out = Cursor;

/// Prints the fields of `r` up to its end, or up to the end-group tag of `group`
/// (number, offset of its start tag), in one pass: checking and printing together.
/// With a `sink` (top level only), full chunks of text are handed to it as they fill.
///
/// `budget` is protoc's print budget; `depth_left` is how many more groups the parse
/// this walk belongs to allows (the top-level parse, or the trial parse of the enclosing
/// length-delimited field). On error `out` holds partial text: the caller truncates it.
fn print_fields(
    r: &mut Reader<'_>,
    budget: u32,
    depth_left: u32,
    indent: usize,
    group: Option<(u32, usize)>,
    out: &mut Out,
    mut sink: Option<Sink<'_>>,
) -> Result<(), WireError> {
    loop {
        // Only the top level streams: text of a nested message may still be taken back.
        if let Some(sink) = sink.as_mut()
            && out.pos >= CHUNK
        {
            sink(out.text());
            out.pos = 0;
        }
        if r.pos >= r.buf.len() {
            return match group {
                None => Ok(()),
                Some((n, at)) => Err(r.err(at, WireErrorKind::UnclosedGroup(n))),
            };
        }
        let start = r.pos;
        let tag = r.tag()?;
        let number = tag >> 3;
        let wt = (tag & 7) as u8;
        if wt == WT_END_GROUP {
            return match group {
                Some((open, _)) if open == number => Ok(()),
                Some((open, _)) => Err(r.err(
                    start,
                    WireErrorKind::MismatchedEndGroup { open, end: number },
                )),
                None => Err(r.err(start, WireErrorKind::UnexpectedEndGroup(number))),
            };
        }
        if number == 0 {
            return Err(r.err(start, WireErrorKind::FieldNumberZero));
        }
        print_field(r, (number, wt, start), budget, depth_left, indent, out)?;
    }
}

/// One field's line (or block) after its tag: `number` and wire type `wt` read from the
/// tag at `start`. Arguments as in [`print_fields`].
#[inline(always)]
fn print_field(
    r: &mut Reader<'_>,
    (number, wt, start): (u32, u8, usize),
    budget: u32,
    depth_left: u32,
    indent: usize,
    out: &mut Out,
) -> Result<(), WireError> {
    out.room(2 * indent + LINE);
    push_indent(out, indent);
    push_u64(out, u64::from(number));
    match wt {
        WT_VARINT => {
            let v = r.varint(10, WireErrorKind::VarintTooLong)?;
            out.put(b": ");
            push_u64(out, v);
            out.byte(b'\n');
        }
        WT_FIXED64 => {
            let v = u64::from_le_bytes(r.fixed::<8>()?);
            push_hex(out, &v.to_be_bytes());
        }
        WT_FIXED32 => {
            let v = u32::from_le_bytes(r.fixed::<4>()?);
            push_hex(out, &v.to_be_bytes());
        }
        WT_LEN => {
            let b = r.length()?;
            print_len(b, budget, indent, out);
        }
        WT_START_GROUP => {
            if depth_left == 0 {
                return Err(r.err(start, WireErrorKind::GroupsTooDeep));
            }
            out.put(b" {\n");
            let group = Some((number, start));
            let (budget, depth) = (budget.saturating_sub(1), depth_left - 1);
            print_fields(r, budget, depth, indent + 1, group, out, None)?;
            out.room(2 * indent + LINE);
            push_indent(out, indent);
            out.put(b"}\n");
        }
        other => return Err(r.err(start, WireErrorKind::BadWireType(other))),
    }
    Ok(())
}

/// A length-delimited value after its field number: protoc's printer shows it as a
/// nested message when the bytes are non-empty, the budget is above 0 and they parse
/// (with the lenient rules), else as a C-escaped string. The nested message is printed
/// while it is parsed; if the parse fails the partial text is dropped (no allocation,
/// and valid messages, the usual case, are walked once).
fn print_len(b: &[u8], budget: u32, indent: usize, out: &mut Out) {
    if !b.is_empty() && budget > 0 && first_field_parses(b, budget) {
        let mark = out.pos;
        out.put(b" {\n");
        let mut r = Reader::new(b, 0, Rules::Embedded);
        // The trial parse allows `budget` nested groups (see `prints_as_message`).
        if print_fields(&mut r, budget - 1, budget, indent + 1, None, out, None).is_ok() {
            out.room(2 * indent + LINE);
            push_indent(out, indent);
            out.put(b"}\n");
            return;
        }
        out.pos = mark;
    }
    // Every byte is at most 4 once escaped.
    out.room(b.len().saturating_mul(4).saturating_add(LINE));
    out.put(b": \"");
    escape_into(b, out);
    out.put(b"\"\n");
}

/// A cheap first look before the trial print: does the first field of `b` parse (as
/// the trial parse would read it, a group checked whole)? Most strings fail at their
/// first byte (`"acme"`: a fixed64 with 3 bytes left; `"fragile"`: wire type 6), and
/// printing them speculatively cost more than this check (issue 6 profile). A yes
/// proves nothing: the trial print still decides.
///
/// Strings are printable bytes, so their first byte is a one-byte tag: that field is
/// checked here without a [`Reader`], by the same rules (`Rules::Embedded`); groups and
/// longer tags or lengths take the general path.
fn first_field_parses(b: &[u8], depth_left: u32) -> bool {
    let (Some(&tag), rest) = (b.first(), b.get(1..).unwrap_or_default()) else {
        return false;
    };
    if tag >= 0x80 {
        return first_field_parses_slow(b, depth_left);
    }
    if tag >> 3 == 0 {
        // Tag 0, or field number 0: refused (also as an end-group, which ends nothing).
        return false;
    }
    match tag & 7 {
        // A varint of at most 10 bytes, ended before the data ends.
        WT_VARINT => rest.iter().take(10).any(|&x| x < 0x80),
        WT_FIXED64 => rest.len() >= 8,
        WT_FIXED32 => rest.len() >= 4,
        WT_LEN => match rest.first() {
            Some(&len) if len < 0x80 => usize::from(len) < rest.len(),
            Some(_) => first_field_parses_slow(b, depth_left),
            None => false,
        },
        WT_START_GROUP => first_field_parses_slow(b, depth_left),
        // An end-group first, or wire type 6 or 7.
        _ => false,
    }
}

#[inline(never)]
fn first_field_parses_slow(b: &[u8], depth_left: u32) -> bool {
    let mut pos = 0;
    !b.is_empty() && matches!(lenient_step(b, &mut pos, depth_left), Some(None))
}

/// What [`embedded_fields`] found.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Trial {
    /// The bytes parse as a message: each field was handed over.
    Message,
    /// They do not (what was handed over is to be dropped).
    NotMessage,
    /// A group: the caller decides the slow way ([`prints_as_message`]).
    Group,
}

/// [`prints_as_message`] and [`for_each_field`] in one walk for a length-delimited value:
/// hands each field to `f` while it parses (the JSON view would otherwise parse every
/// nested message twice; issue 12, item 5).
pub(super) fn embedded_fields<'a>(
    b: &'a [u8],
    budget: u32,
    mut f: impl FnMut(u32, Wire<'a>),
) -> Trial {
    if b.is_empty() || budget == 0 || !first_field_parses(b, budget) {
        return Trial::NotMessage;
    }
    let mut pos = 0;
    while pos < b.len() {
        match lenient_field(b, &mut pos) {
            Ok(Some((n, w))) => f(n, w),
            Ok(None) => return Trial::NotMessage,
            Err(()) => return Trial::Group,
        }
    }
    Trial::Message
}

/// One field by `Rules::Embedded` ([`lenient_step`]'s rules); `Ok(None)`: refused;
/// `Err`: a group starts here.
#[inline]
fn lenient_field<'a>(b: &'a [u8], pos: &mut usize) -> Result<Option<(u32, Wire<'a>)>, ()> {
    let Some(tag) = lenient_varint(b, pos).map(|t| t as u32) else {
        return Ok(None);
    };
    let (number, wt) = (tag >> 3, (tag & 7) as u8);
    if tag == 0 || number == 0 {
        return Ok(None);
    }
    let fixed = |pos: &mut usize, n: usize| {
        let s = b.get(*pos..pos.checked_add(n)?)?;
        *pos += n;
        Some(s)
    };
    let wire = match wt {
        WT_VARINT => lenient_varint(b, pos).map(Wire::Varint),
        WT_FIXED64 => fixed(pos, 8)
            .and_then(|s| s.try_into().ok())
            .map(|a| Wire::Fixed64(u64::from_le_bytes(a))),
        WT_FIXED32 => fixed(pos, 4)
            .and_then(|s| s.try_into().ok())
            .map(|a| Wire::Fixed32(u32::from_le_bytes(a))),
        WT_LEN => match lenient_varint(b, pos) {
            Some(len) if (len as u32) < 1 << 31 => fixed(pos, len as u32 as usize).map(Wire::Len),
            _ => None,
        },
        WT_START_GROUP => return Err(()),
        // An end-group outside a group, or wire type 6 or 7.
        _ => None,
    };
    Ok(wire.map(|w| (number, w)))
}

/// [`Reader::step`] under `Rules::Embedded` as a yes/no, without building errors: reads
/// the field at `*pos` (a group whole). `Some(None)`: a field; `Some(Some(n))`: the
/// end-group tag of group `n`; `None`: refused. `*pos` is not at the end of `b`.
fn lenient_step(b: &[u8], pos: &mut usize, depth_left: u32) -> Option<Option<u32>> {
    let tag = lenient_varint(b, pos)? as u32;
    if tag == 0 {
        return None;
    }
    let number = tag >> 3;
    let wt = (tag & 7) as u8;
    if wt == WT_END_GROUP {
        return Some(Some(number));
    }
    if number == 0 {
        return None;
    }
    match wt {
        WT_VARINT => {
            lenient_varint(b, pos)?;
        }
        WT_FIXED64 => *pos = pos.checked_add(8).filter(|&e| e <= b.len())?,
        WT_FIXED32 => *pos = pos.checked_add(4).filter(|&e| e <= b.len())?,
        WT_LEN => {
            let len = lenient_varint(b, pos)? as u32;
            if len >= 1 << 31 {
                return None;
            }
            *pos = pos.checked_add(len as usize).filter(|&e| e <= b.len())?;
        }
        WT_START_GROUP => {
            if depth_left == 0 {
                return None;
            }
            loop {
                if *pos >= b.len() {
                    return None;
                }
                match lenient_step(b, pos, depth_left - 1)? {
                    None => {}
                    Some(end) if end == number => break,
                    Some(_) => return None,
                }
            }
        }
        _ => return None,
    }
    Some(None)
}

/// [`Reader::varint`] of at most 10 bytes, as an `Option`.
#[inline(always)]
fn lenient_varint(b: &[u8], pos: &mut usize) -> Option<u64> {
    let first = *b.get(*pos)?;
    if first < 0x80 {
        *pos += 1;
        return Some(u64::from(first));
    }
    lenient_varint_long(b, pos)
}

#[inline(never)]
fn lenient_varint_long(b: &[u8], pos: &mut usize) -> Option<u64> {
    let mut value: u64 = 0;
    for i in 0..10 {
        let x = *b.get(*pos)?;
        *pos += 1;
        value |= u64::from(x & 0x7f) << (7 * i);
        if x < 0x80 {
            return Some(value);
        }
    }
    None
}

/// 16 spaces: the indent of up to 8 levels in one fixed-size copy.
const SPACES: &[u8; 16] = b"                ";

/// Needs `2 * indent + 16` bytes of room.
#[inline(always)]
fn push_indent(out: &mut Out, indent: usize) {
    if indent <= 8 {
        // Writes 16 bytes, keeps the first `2 * indent`: the rest is scratch.
        out.put(SPACES);
        out.pos = out.pos - 16 + 2 * indent;
    } else {
        for _ in 0..indent {
            out.put(b"  ");
        }
    }
}

/// "00" to "99", for two decimal digits at a time.
const DIGIT_PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// The decimal digits of `v`; needs 20 bytes of room.
// Always inlined: a call per number cost more than the code it adds (issue 6 profile).
#[inline(always)]
fn push_u64(out: &mut Out, v: u64) {
    // Field numbers and most small values: inline.
    if v < 10 {
        out.byte(b'0' + v as u8);
    } else if v < 100 {
        let d = v as usize * 2;
        out.put(&[DIGIT_PAIRS[d], DIGIT_PAIRS[d + 1]]);
    } else {
        push_u64_long(out, v);
    }
}

/// `v` >= 100: in 8-digit pieces of `u32` arithmetic, each written in fixed-size stores.
fn push_u64_long(out: &mut Out, v: u64) {
    const E8: u64 = 100_000_000;
    if v < E8 {
        push_u32_short(out, v as u32);
    } else if v < E8 * E8 {
        push_u32_short(out, (v / E8) as u32);
        push_8_digits(out, (v % E8) as u32);
    } else {
        let high = v / E8;
        push_u32_short(out, (high / E8) as u32);
        push_8_digits(out, (high % E8) as u32);
        push_8_digits(out, (v % E8) as u32);
    }
}

/// `v` < 10^8 without leading zeros, from the last digit pair.
#[inline(always)]
fn push_u32_short(out: &mut Out, mut v: u32) {
    let n = if v < 10_000 {
        if v < 100 {
            if v < 10 { 1 } else { 2 }
        } else if v < 1000 {
            3
        } else {
            4
        }
    } else if v < 1_000_000 {
        if v < 100_000 { 5 } else { 6 }
    } else if v < 10_000_000 {
        7
    } else {
        8
    };
    let digits = &mut out.buf[out.pos..out.pos + 8];
    let mut i = n;
    while i >= 2 {
        let d = (v % 100) as usize * 2;
        v /= 100;
        i -= 2;
        digits[i..i + 2].copy_from_slice(&DIGIT_PAIRS[d..d + 2]);
    }
    if i == 1 {
        digits[0] = b'0' + v as u8;
    }
    out.pos += n;
}

/// `v` < 10^8 as exactly 8 digits, leading zeros included.
#[inline(always)]
fn push_8_digits(out: &mut Out, v: u32) {
    let (high, low) = ((v / 10_000) as usize, (v % 10_000) as usize);
    let pairs = [high / 100, high % 100, low / 100, low % 100];
    let mut digits = [0u8; 8];
    for (k, p) in pairs.into_iter().enumerate() {
        digits[2 * k] = DIGIT_PAIRS[2 * p];
        digits[2 * k + 1] = DIGIT_PAIRS[2 * p + 1];
    }
    out.put(&digits);
}

/// Each byte's two lower-case hex digits.
static HEX_PAIRS: [[u8; 2]; 256] = {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut t = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = [HEX[i >> 4], HEX[i & 15]];
        i += 1;
    }
    t
};

/// `: 0x`, the big-endian bytes `be` as lower-case hex (so zero-padded, protoc's
/// `0x%08x` / `0x%016x`) and the newline; needs 21 bytes of room.
#[inline(always)]
fn push_hex<const N: usize>(out: &mut Out, be: &[u8; N]) {
    out.put(b": 0x");
    for &b in be {
        out.put(&HEX_PAIRS[b as usize]);
    }
    out.byte(b'\n');
}

/// How [`c_escape`] writes each byte: 0 as is, `o` as 3-digit octal, anything else is
/// the letter after the backslash.
static ESCAPES: [u8; 256] = {
    let mut t = [b'o'; 256];
    let mut i = 0x20;
    while i < 0x7f {
        t[i] = 0;
        i += 1;
    }
    t[b'\n' as usize] = b'n';
    t[b'\r' as usize] = b'r';
    t[b'\t' as usize] = b't';
    t[b'"' as usize] = b'"';
    t[b'\'' as usize] = b'\'';
    t[b'\\' as usize] = b'\\';
    t
};

/// protobuf's `CEscape`: named escapes for `\n \r \t \" \' \\`, printable ASCII as is,
/// every other byte (controls, DEL, all of 0x80-0xFF, so UTF-8 too) as 3-digit octal.
/// The result is plain printable ASCII: safe for any terminal.
pub fn c_escape(bytes: &[u8], out: &mut String) {
    let mut v = Vec::with_capacity(bytes.len());
    c_escape_bytes(bytes, &mut v);
    out.push_str(&ascii_string(v));
}

/// [`c_escape`] into bytes: runs of printable bytes are copied whole.
pub fn c_escape_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    let mut o = Out::new(std::mem::take(out), bytes.len().saturating_mul(4));
    escape_into(bytes, &mut o);
    *out = o.finish();
}

/// Where the first byte that [`c_escape`] changes is, looking at 8 bytes at a time:
/// a byte below 0x20, above 0x7e, or one of `"`, `'`, `\\`.
#[inline]
fn first_to_escape(bytes: &[u8]) -> Option<usize> {
    let n = bytes.len();
    let word = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or_default());
    let half = |b: &[u8]| u64::from(u32::from_le_bytes(b.try_into().unwrap_or_default()));
    let clean = if n >= 8 {
        // Whole words, then the last 8 bytes for the rest (overlapping the last word).
        bytes.chunks_exact(8).all(|w| !needs_escape(word(w)))
            && (n.is_multiple_of(8) || !needs_escape(word(&bytes[n - 8..])))
    } else if n >= 4 {
        // The first and the last 4 bytes (overlapping) as one word.
        !needs_escape(half(&bytes[..4]) | half(&bytes[n - 4..]) << 32)
    } else {
        false
    };
    if clean {
        return None;
    }
    bytes.iter().position(|&b| ESCAPES[b as usize] != 0)
}

/// Does a byte of `x` need an escape: below 0x20, above 0x7e, or one of `"`, `'`, `\`?
/// Exact as a yes/no (the usual bit tricks; they may misplace, never miss, a byte).
#[inline(always)]
fn needs_escape(x: u64) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    // Non-zero iff some byte of `x` is 0.
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    // Below 0x20 (exact when no byte is 0x80 or more, and those are caught next).
    let low = x.wrapping_sub(ONES * 0x20) & !x & HIGH;
    // 0x7f or more: adding 1 sets bit 7 of 0x7f, bit 7 is set already above.
    let high = (x.wrapping_add(ONES) | x) & HIGH;
    let quotes = has_zero(x ^ (ONES * u64::from(b'"')))
        | has_zero(x ^ (ONES * u64::from(b'\'')))
        | has_zero(x ^ (ONES * u64::from(b'\\')));
    low | high | quotes != 0
}

/// [`c_escape_bytes`] into `out`, which has room for 4 bytes per input byte. Most
/// values need no escape at all: they are found so with one scan and copied whole.
#[inline]
fn escape_into(bytes: &[u8], out: &mut Out) {
    let Some(first) = first_to_escape(bytes) else {
        out.put_slice(bytes);
        return;
    };
    out.put_slice(&bytes[..first]);
    let mut run = first;
    for (i, &b) in bytes.iter().enumerate().skip(first) {
        let e = ESCAPES[b as usize];
        if e == 0 {
            continue;
        }
        out.put_slice(&bytes[run..i]);
        if e == b'o' {
            out.put(&[
                b'\\',
                b'0' + (b >> 6),
                b'0' + ((b >> 3) & 7),
                b'0' + (b & 7),
            ]);
        } else {
            out.put(&[b'\\', e]);
        }
        run = i + 1;
    }
    out.put_slice(&bytes[run..]);
}

/// The JSON tree of `bytes` (see `docs/decode.md`): an object keyed by field number;
/// a field seen once maps to its value, a repeated one to an array in wire order.
/// Length-delimited values list every plausible reading: `bytes` (base64, always),
/// `string` (when valid UTF-8), `message` (when protoc would print a nested message).
pub fn to_json(bytes: &[u8]) -> Result<Value, WireError> {
    validate(bytes)?;
    json_fields(bytes, Rules::Top, PRINT_BUDGET)
}

fn json_fields(bytes: &[u8], rules: Rules, budget: u32) -> Result<Value, WireError> {
    let mut map: Map<String, Value> = Map::new();
    let mut inner: Result<(), WireError> = Ok(());
    for_each_field(bytes, rules, |number, wire| {
        let value = match json_value(wire, rules, budget) {
            Ok(v) => v,
            Err(e) => {
                inner = Err(e);
                return;
            }
        };
        match map.entry(number.to_string()) {
            serde_json::map::Entry::Vacant(e) => {
                e.insert(value);
            }
            serde_json::map::Entry::Occupied(mut e) => {
                let slot = e.get_mut();
                // `json_value` never returns an array: an array here means "repeated".
                if let Value::Array(a) = slot {
                    a.push(value);
                } else {
                    let first = slot.take();
                    *slot = Value::Array(vec![first, value]);
                }
            }
        }
    })?;
    inner?;
    Ok(Value::Object(map))
}

fn json_value(wire: Wire<'_>, rules: Rules, budget: u32) -> Result<Value, WireError> {
    Ok(match wire {
        Wire::Varint(v) => Value::from(v),
        Wire::Fixed32(v) => serde_json::json!({
            "fixed32": v,
            "float": json_float(f64::from(f32::from_bits(v))),
        }),
        Wire::Fixed64(v) => serde_json::json!({
            "fixed64": v.to_string(),
            "double": json_float(f64::from_bits(v)),
        }),
        Wire::Len(b) => {
            let mut o = Map::new();
            o.insert(
                "bytes".into(),
                base64::engine::general_purpose::STANDARD.encode(b).into(),
            );
            if let Ok(s) = std::str::from_utf8(b) {
                o.insert("string".into(), s.into());
            }
            if prints_as_message(b, budget) {
                o.insert(
                    "message".into(),
                    json_fields(b, Rules::Embedded, budget - 1)?,
                );
            }
            Value::Object(o)
        }
        Wire::Group(b) => {
            serde_json::json!({ "group": json_fields(b, rules, budget.saturating_sub(1))? })
        }
    })
}

/// [`to_json`]'s tree written straight into a serializer, level by level, without
/// building it (issue 12, item 5: the tree of a 1.35 MB batch cost 23x the text path, and
/// a 50 MB payload 130x its size in memory). Same keys in the same order (a `Map` sorts
/// its keys as strings: "1" < "10" < "2"), so the output is byte for byte the tree's.
/// The bytes must have passed [`validate`].
#[derive(Clone, Copy)]
pub struct JsonFields<'a> {
    bytes: &'a [u8],
    rules: Rules,
    budget: u32,
}

impl<'a> JsonFields<'a> {
    /// The whole payload, already validated.
    pub fn top(bytes: &'a [u8]) -> Self {
        JsonFields {
            bytes,
            rules: Rules::Top,
            budget: PRINT_BUDGET,
        }
    }
}

/// `v` in decimal, written at the end of `buf`.
fn decimal(mut v: u32, buf: &mut [u8; 10]) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    std::str::from_utf8(&buf[i..]).unwrap_or_default()
}

impl<'a> serde::Serialize for JsonFields<'a> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error as _, SerializeMap};
        let mut fields: Vec<(u32, Wire<'a>)> = Vec::new();
        for_each_field(self.bytes, self.rules, |n, w| fields.push((n, w)))
            .map_err(|e| S::Error::custom(e.to_string()))?;
        // Stable: a repeated field's values stay in wire order.
        if !fields.is_sorted_by_key(|f| super::raw_json::order_key(f.0)) {
            fields.sort_by_key(|f| super::raw_json::order_key(f.0));
        }
        let mut map = s.serialize_map(None)?;
        let mut rest = &fields[..];
        while let Some(&(n, _)) = rest.first() {
            let same = rest.iter().take_while(|f| f.0 == n).count();
            let (group, after) = rest.split_at(same);
            let value = |w: Wire<'a>| JsonWire {
                wire: w,
                rules: self.rules,
                budget: self.budget,
            };
            map.serialize_key(decimal(n, &mut [0u8; 10]))?;
            if let [(_, one)] = group {
                map.serialize_value(&value(*one))?;
            } else {
                let all: Vec<JsonWire<'a>> = group.iter().map(|(_, w)| value(*w)).collect();
                map.serialize_value(&all)?;
            }
            rest = after;
        }
        map.end()
    }
}

/// One value of [`JsonFields`], as [`json_value`] makes it.
struct JsonWire<'a> {
    wire: Wire<'a>,
    rules: Rules,
    budget: u32,
}

impl serde::Serialize for JsonWire<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        if let Wire::Varint(v) = self.wire {
            return s.serialize_u64(v);
        }
        let mut map = s.serialize_map(None)?;
        match self.wire {
            Wire::Varint(_) => {}
            Wire::Fixed32(v) => {
                map.serialize_entry("fixed32", &v)?;
                map.serialize_entry("float", &json_float(f64::from(f32::from_bits(v))))?;
            }
            Wire::Fixed64(v) => {
                map.serialize_entry("double", &json_float(f64::from_bits(v)))?;
                map.serialize_entry("fixed64", &v.to_string())?;
            }
            Wire::Len(b) => {
                map.serialize_entry(
                    "bytes",
                    &base64::engine::general_purpose::STANDARD.encode(b),
                )?;
                if prints_as_message(b, self.budget) {
                    let inner = JsonFields {
                        bytes: b,
                        rules: Rules::Embedded,
                        budget: self.budget - 1,
                    };
                    map.serialize_entry("message", &inner)?;
                }
                if let Ok(text) = std::str::from_utf8(b) {
                    map.serialize_entry("string", text)?;
                }
            }
            Wire::Group(b) => {
                let inner = JsonFields {
                    bytes: b,
                    rules: self.rules,
                    budget: self.budget.saturating_sub(1),
                };
                map.serialize_entry("group", &inner)?;
            }
        }
        map.end()
    }
}

/// proto3 JSON's spelling of floats: numbers, or the strings "NaN"/"Infinity"/"-Infinity".
fn json_float(f: f64) -> Value {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else {
        Value::from(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_like_protoc() {
        // Outputs copied from protoc 3.21.12 --decode_raw.
        let b = b"\x08\x96\x01\x2a\x05hello\x42\x04\x08\x01\x12\x00";
        assert_eq!(
            to_text(b).unwrap(),
            "1: 150\n5: \"hello\"\n8 {\n  1: 1\n  2: \"\"\n}\n"
        );
    }

    #[test]
    fn streamed_chunks_add_up_to_the_text() {
        // ~200 KiB of text: several chunks, each cut at a top-level field's end.
        let event = b"\x0a\x02\x08\x01\x12\x05hello\x1d\x00\x00\x40\x3f\x20\xff\x01";
        let mut bytes = Vec::new();
        for _ in 0..4000 {
            bytes.extend_from_slice(b"\x0a");
            bytes.push(event.len() as u8);
            bytes.extend_from_slice(event);
        }
        let mut chunks: Vec<Vec<u8>> = Vec::new();
        stream_text(&bytes, &mut |c| chunks.push(c.to_vec())).unwrap();
        assert!(chunks.len() > 2);
        assert!(chunks.iter().all(|c| c.ends_with(b"}\n")));
        assert_eq!(chunks.concat(), to_text(&bytes).unwrap().into_bytes());
        let mut called = false;
        assert!(stream_text(b"\x08", &mut |_| called = true).is_err());
        assert!(!called);
    }

    #[test]
    fn decimal_digits() {
        for v in [
            0,
            9,
            10,
            99,
            100,
            101,
            999,
            1000,
            12_345,
            99_999_999,
            100_000_000,
            1_795_600_800,
            9_999_999_999_999_999,
            10_000_000_000_000_000,
            10_203_040_506_070_809_000,
            u64::MAX,
        ] {
            let mut out = Out::new(Vec::new(), 0);
            push_u64(&mut out, v);
            assert_eq!(out.finish(), v.to_string().into_bytes());
        }
        let mut out = Out::new(Vec::new(), 0);
        push_hex(&mut out, &0x3f40_0000u32.to_be_bytes());
        assert_eq!(out.finish(), b": 0x3f400000\n");
    }

    #[test]
    fn escapes_like_cescape() {
        let mut s = String::new();
        c_escape("h\u{e9}\n\"'\\\x01\x7f".as_bytes(), &mut s);
        assert_eq!(s, "h\\303\\251\\n\\\"\\'\\\\\\001\\177");
        // The 8-byte scan: each escaped byte at each place of a word, and past it.
        for bad in [0u8, 0x1f, b'"', b'\'', b'\\', 0x7f, 0x80, 0xff] {
            for at in 0..19 {
                let mut b = vec![b'a'; 19];
                b[at] = bad;
                assert_eq!(first_to_escape(&b), Some(at));
            }
        }
        for len in 1..20 {
            for at in 0..len {
                for bad in [0x1f, b'\\', 0x80] {
                    let mut b = vec![b'z'; len];
                    b[at] = bad;
                    assert_eq!(first_to_escape(&b), Some(at), "{len} {at}");
                }
            }
            assert_eq!(first_to_escape(&vec![b' '; len]), None);
            assert_eq!(first_to_escape(&vec![b'~'; len]), None);
        }
        let clean: Vec<u8> = (0x20..0x7f).filter(|b| !b"\"'\\".contains(b)).collect();
        assert_eq!(first_to_escape(&clean), None);
    }

    #[test]
    fn quick_first_field_check_agrees_with_the_reader() {
        // Every 1- to 3-byte input and a few longer ones, at several depths.
        let mut inputs: Vec<Vec<u8>> = Vec::new();
        for a in 0..=255u8 {
            inputs.push(vec![a]);
            for c in [0u8, 1, 2, 0x0c, 0x0b, 0x13, 0x14, 0x7f, 0x80, 0xff] {
                inputs.push(vec![a, c]);
                inputs.push(vec![a, c, 0x14, 1, 2, 3, 4, 5, 6, 7, 8]);
                inputs.push(vec![a, 0x0b, c, 0x0c, 0x0c]);
            }
        }
        for b in &inputs {
            for depth in [0, 1, 2, 10] {
                let reader = matches!(
                    Reader::new(b, 0, Rules::Embedded).step(depth),
                    Ok(Step::Field(..))
                );
                assert_eq!(first_field_parses(b, depth), reader, "{b:?} {depth}");
                assert_eq!(first_field_parses_slow(b, depth), reader, "{b:?} {depth}");
                let whole = !b.is_empty()
                    && depth > 0
                    && Reader::new(b, 0, Rules::Embedded)
                        .skip_fields(depth, None)
                        .is_ok();
                assert_eq!(prints_as_message(b, depth), whole, "{b:?} {depth}");
                let mut walked = Vec::new();
                let trial = embedded_fields(b, depth, |n, w| walked.push((n, w)));
                if trial != Trial::Group {
                    assert_eq!(trial == Trial::Message, whole, "{b:?} {depth}");
                }
                if trial == Trial::Message {
                    let mut read = Vec::new();
                    for_each_field(b, Rules::Embedded, |n, w| read.push((n, w))).unwrap();
                    assert_eq!(format!("{walked:?}"), format!("{read:?}"));
                }
            }
        }
    }

    #[test]
    fn errors_name_the_offset() {
        let e = validate(b"\x08\x01\x12\x05ab").unwrap_err();
        assert_eq!(e.offset, 3);
        assert!(matches!(e.kind, WireErrorKind::LengthPastEnd { .. }));
        assert_eq!(
            validate(b"\x0c").unwrap_err().kind,
            WireErrorKind::UnexpectedEndGroup(1)
        );
    }
}
