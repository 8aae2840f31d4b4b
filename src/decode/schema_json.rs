//! Canonical proto3 JSON written straight from the wire bytes with the schema, without
//! building a `DynamicMessage` (issue 12, item 5: decoding into prost-reflect's tree and
//! serializing it cost 19 times the schema-less text path, and about 30 times the
//! payload in memory). The output is the one `DynamicMessage::serialize_with_options`
//! gives with default options, byte for byte: fields in number order under their
//! `json_name`, defaults omitted (fields without presence), 64-bit integers as strings,
//! enums by name (unknown numbers as numbers), bytes in base64, floats as serde writes
//! them, `google.protobuf.Timestamp` in RFC 3339.
//!
//! A payload is first [`Plan::check`]ed: only when every field is known and of a kind
//! handled here, each singular field and oneof set once, and everything decodes by
//! prost's rules is it written here; anything else (unknown fields, maps, groups, other
//! well-known types, repeated singular fields, ...) goes the prost-reflect way, which
//! also produces its error messages. Tests compare both ways on generated messages.

use std::collections::HashMap;

use prost_reflect::{Kind, MessageDescriptor, Value};

use super::json_out::JsonOut;

/// How each message type reachable from the top one is written.
#[derive(Debug)]
pub struct Plan {
    /// Index 0 is the top message.
    messages: Vec<MessagePlan>,
}

#[derive(Debug, Default)]
struct MessagePlan {
    /// In field number order (the order of the JSON).
    fields: Vec<FieldPlan>,
}

#[derive(Debug)]
struct FieldPlan {
    number: u32,
    /// The `json_name`, escaped for JSON, without quotes.
    key: Vec<u8>,
    kind: FieldKind,
    repeated: bool,
    /// Written when set, even to its default (message fields, oneofs, `optional`).
    presence: bool,
    /// Which oneof of the message (for oneofs set twice), if any: its first field number.
    oneof: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scalar {
    Double,
    Float,
    Int32,
    Int64,
    Uint32,
    Uint64,
    Sint32,
    Sint64,
    Fixed32,
    Fixed64,
    Sfixed32,
    Sfixed64,
    Bool,
}

#[derive(Debug)]
enum FieldKind {
    Scalar(Scalar),
    String,
    Bytes,
    /// Names of the enum's values by number (escaped for JSON).
    Enum(HashMap<i32, Vec<u8>>),
    /// Index into [`Plan::messages`].
    Message(usize),
    Timestamp,
    /// Left to prost-reflect.
    Unsupported,
}

/// Deeper nesting is left to prost (its own limit is 100).
const MAX_DEPTH: u32 = 64;

const WT_VARINT: u8 = 0;
const WT_FIXED64: u8 = 1;
const WT_LEN: u8 = 2;
const WT_FIXED32: u8 = 5;

impl Scalar {
    fn wire_type(self) -> u8 {
        use Scalar::*;
        match self {
            Double | Fixed64 | Sfixed64 => WT_FIXED64,
            Float | Fixed32 | Sfixed32 => WT_FIXED32,
            _ => WT_VARINT,
        }
    }
}

impl Plan {
    /// The plan for `top`, or `None` when it is itself a well-known type (written in
    /// its special JSON form by prost-reflect).
    pub fn new(top: &MessageDescriptor) -> Option<Plan> {
        if top.full_name().starts_with("google.protobuf.") {
            return None;
        }
        let mut plan = Plan {
            messages: vec![MessagePlan::default()],
        };
        let mut index = HashMap::from([(top.full_name().to_owned(), 0)]);
        let mut todo = vec![(0, top.clone())];
        while let Some((i, desc)) = todo.pop() {
            let fields = desc
                .fields()
                .map(|f| field_plan(&f, &mut plan, &mut index, &mut todo))
                .collect();
            plan.messages[i].fields = fields;
        }
        Some(plan)
    }
}

fn field_plan(
    f: &prost_reflect::FieldDescriptor,
    plan: &mut Plan,
    index: &mut HashMap<String, usize>,
    todo: &mut Vec<(usize, MessageDescriptor)>,
) -> FieldPlan {
    let repeated = f.is_list();
    let presence = f.supports_presence();
    let mut kind = match f.kind() {
        Kind::Message(_) if f.is_map() || f.is_group() => FieldKind::Unsupported,
        Kind::Message(m) if m.full_name() == "google.protobuf.Timestamp" => FieldKind::Timestamp,
        Kind::Message(m) if m.full_name().starts_with("google.protobuf.") => FieldKind::Unsupported,
        Kind::Message(m) => {
            let next = plan.messages.len();
            let i = *index.entry(m.full_name().to_owned()).or_insert_with(|| {
                todo.push((next, m.clone()));
                next
            });
            if i == next {
                plan.messages.push(MessagePlan::default());
            }
            FieldKind::Message(i)
        }
        Kind::Enum(e) if e.full_name() == "google.protobuf.NullValue" => FieldKind::Unsupported,
        // The name prost-reflect's `get_value` gives a number (aliases share numbers).
        Kind::Enum(e) => FieldKind::Enum(
            e.values()
                .filter_map(|v| Some((v.number(), escaped(e.get_value(v.number())?.name()))))
                .collect(),
        ),
        Kind::String => FieldKind::String,
        Kind::Bytes => FieldKind::Bytes,
        other => scalar(&other).map_or(FieldKind::Unsupported, FieldKind::Scalar),
    };
    // Without presence a field is written unless it holds its default, which is zero in
    // proto3; a proto2-style default elsewhere is left to prost-reflect.
    if !repeated && !presence && !is_zero(&f.default_value()) {
        kind = FieldKind::Unsupported;
    }
    FieldPlan {
        number: f.number(),
        key: escaped(f.json_name()),
        kind,
        repeated,
        presence,
        // A oneof is told apart by its first field's number.
        oneof: f
            .containing_oneof()
            .and_then(|o| o.fields().next().map(|f| f.number())),
    }
}

fn scalar(kind: &Kind) -> Option<Scalar> {
    Some(match kind {
        Kind::Double => Scalar::Double,
        Kind::Float => Scalar::Float,
        Kind::Int32 => Scalar::Int32,
        Kind::Int64 => Scalar::Int64,
        Kind::Uint32 => Scalar::Uint32,
        Kind::Uint64 => Scalar::Uint64,
        Kind::Sint32 => Scalar::Sint32,
        Kind::Sint64 => Scalar::Sint64,
        Kind::Fixed32 => Scalar::Fixed32,
        Kind::Fixed64 => Scalar::Fixed64,
        Kind::Sfixed32 => Scalar::Sfixed32,
        Kind::Sfixed64 => Scalar::Sfixed64,
        Kind::Bool => Scalar::Bool,
        _ => return None,
    })
}

fn is_zero(v: &Value) -> bool {
    match v {
        Value::Bool(b) => !b,
        Value::I32(n) | Value::EnumNumber(n) => *n == 0,
        Value::I64(n) => *n == 0,
        Value::U32(n) => *n == 0,
        Value::U64(n) => *n == 0,
        Value::F32(n) => *n == 0.0,
        Value::F64(n) => *n == 0.0,
        Value::String(s) => s.is_empty(),
        Value::Bytes(b) => b.is_empty(),
        _ => false,
    }
}

/// `s` as serde_json writes it inside quotes.
fn escaped(s: &str) -> Vec<u8> {
    let mut out = JsonOut::new();
    out.string(s);
    let mut b = out.into_bytes();
    b.pop();
    b.remove(0);
    b
}

/// A varint by prost's rules: at most 10 bytes, the 10th at most 1.
#[inline(always)]
fn varint(b: &[u8], pos: &mut usize) -> Option<u64> {
    let first = *b.get(*pos)?;
    if first < 0x80 {
        *pos += 1;
        return Some(u64::from(first));
    }
    varint_long(b, pos)
}

#[inline(never)]
fn varint_long(b: &[u8], pos: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for i in 0..10 {
        let x = *b.get(*pos)?;
        *pos += 1;
        if i == 9 && x > 1 {
            return None;
        }
        value |= u64::from(x & 0x7f) << (7 * i);
        if x < 0x80 {
            return Some(value);
        }
    }
    None
}

/// One field's value as read off the wire.
#[derive(Clone, Copy)]
enum Wire<'a> {
    Varint(u64),
    Fixed32(u32),
    Fixed64(u64),
    Len(&'a [u8]),
}

/// The next field at `*pos`: (field number, wire type, value); `None` when it does not
/// decode (or is a group, which no supported field uses).
#[inline(always)]
fn next_field<'a>(b: &'a [u8], pos: &mut usize) -> Option<(u32, u8, Wire<'a>)> {
    let key = varint(b, pos)?;
    let key = u32::try_from(key).ok()?;
    let (number, wt) = (key >> 3, (key & 7) as u8);
    if number == 0 {
        return None;
    }
    let wire = match wt {
        WT_VARINT => Wire::Varint(varint(b, pos)?),
        WT_FIXED64 => Wire::Fixed64(u64::from_le_bytes(take(b, pos, 8)?.try_into().ok()?)),
        WT_FIXED32 => Wire::Fixed32(u32::from_le_bytes(take(b, pos, 4)?.try_into().ok()?)),
        WT_LEN => {
            let len = usize::try_from(varint(b, pos)?).ok()?;
            Wire::Len(take(b, pos, len)?)
        }
        _ => return None,
    };
    Some((number, wt, wire))
}

#[inline]
fn take<'a>(b: &'a [u8], pos: &mut usize, n: usize) -> Option<&'a [u8]> {
    let s = b.get(*pos..pos.checked_add(n)?)?;
    *pos += n;
    Some(s)
}

impl MessagePlan {
    /// The field with `number`: fields are usually numbered 1, 2, 3, ...
    #[inline]
    fn field(&self, number: u32) -> Option<(usize, &FieldPlan)> {
        let guess = (number as usize).wrapping_sub(1);
        match self.fields.get(guess) {
            Some(f) if f.number == number => Some((guess, f)),
            _ => {
                let i = self
                    .fields
                    .binary_search_by_key(&number, |f| f.number)
                    .ok()?;
                Some((i, &self.fields[i]))
            }
        }
    }
}

impl Plan {
    /// Can [`Plan::write`] write `bytes` exactly as prost-reflect would? (See the module
    /// comment.) `false` says nothing about whether the bytes decode.
    pub fn check(&self, bytes: &[u8]) -> bool {
        self.check_message(0, bytes, 0)
    }

    fn check_message(&self, m: usize, bytes: &[u8], depth: u32) -> bool {
        if depth > MAX_DEPTH {
            return false;
        }
        let plan = &self.messages[m];
        let mut seen = Seen::new(plan.fields.len());
        let mut oneofs: Vec<u32> = Vec::new();
        let mut pos = 0;
        while pos < bytes.len() {
            let Some((number, wt, wire)) = next_field(bytes, &mut pos) else {
                return false;
            };
            let Some((i, f)) = plan.field(number) else {
                return false;
            };
            if !f.repeated {
                // Set twice: prost keeps the last value or merges messages.
                if seen.insert(i) {
                    return false;
                }
                if let Some(o) = f.oneof {
                    if oneofs.contains(&o) {
                        return false;
                    }
                    oneofs.push(o);
                }
            }
            if !self.check_value(f, wt, wire, depth) {
                return false;
            }
        }
        true
    }

    fn check_value(&self, f: &FieldPlan, wt: u8, wire: Wire<'_>, depth: u32) -> bool {
        match (&f.kind, wire) {
            (FieldKind::Scalar(s), Wire::Len(b)) if f.repeated => packed_ok(*s, b),
            (FieldKind::Scalar(s), _) => s.wire_type() == wt,
            (FieldKind::Enum(_), Wire::Len(b)) if f.repeated => packed_ok(Scalar::Int32, b),
            (FieldKind::Enum(_), Wire::Varint(_)) => true,
            (FieldKind::String, Wire::Len(b)) => std::str::from_utf8(b).is_ok(),
            (FieldKind::Bytes, Wire::Len(_)) => true,
            (FieldKind::Message(m), Wire::Len(b)) => self.check_message(*m, b, depth + 1),
            (FieldKind::Timestamp, Wire::Len(b)) => timestamp(b).is_some(),
            _ => false,
        }
    }
}

/// Which singular fields of a message were read: bits for the first 64 (no allocation per
/// message), a list past them.
struct Seen {
    bits: u64,
    more: Vec<bool>,
}

impl Seen {
    fn new(fields: usize) -> Seen {
        Seen {
            bits: 0,
            more: vec![false; fields.saturating_sub(64)],
        }
    }

    /// Marks field `i`; was it marked already?
    fn insert(&mut self, i: usize) -> bool {
        if i < 64 {
            let was = self.bits & 1 << i != 0;
            self.bits |= 1 << i;
            was
        } else {
            std::mem::replace(&mut self.more[i - 64], true)
        }
    }
}

/// A packed run of `s` values that decodes whole.
fn packed_ok(s: Scalar, b: &[u8]) -> bool {
    match s.wire_type() {
        WT_FIXED32 => b.len().is_multiple_of(4),
        WT_FIXED64 => b.len().is_multiple_of(8),
        _ => {
            let mut pos = 0;
            while pos < b.len() {
                if varint(b, &mut pos).is_none() {
                    return false;
                }
            }
            true
        }
    }
}

/// A Timestamp's seconds and nanos, when it has only those, each once, in the range
/// prost-reflect writes (years 1 to 9999, nanos 0 to 999,999,999).
fn timestamp(b: &[u8]) -> Option<prost_reflect::prost_types::Timestamp> {
    let (mut seconds, mut nanos) = (None, None);
    let mut pos = 0;
    while pos < b.len() {
        let slot = match next_field(b, &mut pos)? {
            (1, WT_VARINT, Wire::Varint(v)) => seconds.replace(v as i64),
            (2, WT_VARINT, Wire::Varint(v)) => nanos.replace(v as i32 as i64),
            _ => return None,
        };
        if slot.is_some() {
            return None;
        }
    }
    let (seconds, nanos) = (seconds.unwrap_or(0), nanos.unwrap_or(0) as i32);
    let in_range = (-62_135_596_800..=253_402_300_799).contains(&seconds)
        && (0..1_000_000_000).contains(&nanos);
    in_range.then_some(prost_reflect::prost_types::Timestamp { seconds, nanos })
}

/// A field's values in the message being written.
#[derive(Clone, Copy)]
struct Entry<'a> {
    /// Index into the message's [`MessagePlan::fields`].
    field: usize,
    wire: Wire<'a>,
}

impl Plan {
    /// Writes `bytes`, which [`Plan::check`] accepted, as prost-reflect's JSON.
    pub fn write(&self, bytes: &[u8], out: &mut JsonOut<'_>) {
        let mut stack = Vec::new();
        self.write_message(0, bytes, out, &mut stack);
    }

    fn write_message<'a>(
        &self,
        m: usize,
        bytes: &'a [u8],
        out: &mut JsonOut<'_>,
        stack: &mut Vec<Entry<'a>>,
    ) {
        let plan = &self.messages[m];
        let start = stack.len();
        let mut pos = 0;
        while let Some((number, _, wire)) = next_field(bytes, &mut pos) {
            if let Some((field, _)) = plan.field(number) {
                stack.push(Entry { field, wire });
            }
        }
        let end = stack.len();
        if !stack[start..].is_sorted_by_key(|e| e.field) {
            // Stable: a repeated field's values stay in wire order.
            stack[start..].sort_by_key(|e| e.field);
        }
        out.begin_object();
        let mut i = start;
        while i < end {
            let f = &plan.fields[stack[i].field];
            let same = stack[i..end]
                .iter()
                .take_while(|e| e.field == stack[i].field)
                .count();
            if f.repeated {
                self.write_list(f, i..i + same, out, stack);
            } else if f.presence || !is_default(f, stack[i].wire) {
                out.plain_key(&f.key);
                self.write_value(f, stack[i].wire, out, stack);
            }
            i += same;
        }
        out.end_object();
        stack.truncate(start);
    }

    fn write_list<'a>(
        &self,
        f: &FieldPlan,
        entries: std::ops::Range<usize>,
        out: &mut JsonOut<'_>,
        stack: &mut Vec<Entry<'a>>,
    ) {
        let packed = |w: Wire<'_>| {
            matches!(w, Wire::Len(_)) && matches!(f.kind, FieldKind::Scalar(_) | FieldKind::Enum(_))
        };
        let empty = stack[entries.clone()]
            .iter()
            .all(|e| packed(e.wire) && matches!(e.wire, Wire::Len(b) if b.is_empty()));
        if empty {
            return;
        }
        out.plain_key(&f.key);
        out.begin_array();
        for k in entries {
            let wire = stack[k].wire;
            match wire {
                Wire::Len(b) if packed(wire) => each_packed(f, b, |w| {
                    out.element();
                    write_scalar(f, w, out);
                }),
                _ => {
                    out.element();
                    self.write_value(f, wire, out, stack);
                }
            }
        }
        out.end_array();
    }

    fn write_value<'a>(
        &self,
        f: &FieldPlan,
        wire: Wire<'a>,
        out: &mut JsonOut<'_>,
        stack: &mut Vec<Entry<'a>>,
    ) {
        match (&f.kind, wire) {
            (FieldKind::Message(m), Wire::Len(b)) => self.write_message(*m, b, out, stack),
            (FieldKind::Timestamp, Wire::Len(b)) => {
                let t = timestamp(b).unwrap_or_default();
                let mut text = [0u8; 32];
                let n = rfc3339(t.seconds, t.nanos, &mut text);
                out.quoted(&text[..n]);
            }
            _ => write_scalar(f, wire, out),
        }
    }
}

/// Calls `each` on every value of a packed run (checked by [`packed_ok`]).
fn each_packed(f: &FieldPlan, b: &[u8], mut each: impl FnMut(Wire<'_>)) {
    let wt = match f.kind {
        FieldKind::Scalar(s) => s.wire_type(),
        _ => WT_VARINT,
    };
    let mut pos = 0;
    while pos < b.len() {
        let w = match wt {
            WT_FIXED32 => take(b, &mut pos, 4)
                .and_then(|s| s.try_into().ok())
                .map(|a| Wire::Fixed32(u32::from_le_bytes(a))),
            WT_FIXED64 => take(b, &mut pos, 8)
                .and_then(|s| s.try_into().ok())
                .map(|a| Wire::Fixed64(u64::from_le_bytes(a))),
            _ => varint(b, &mut pos).map(Wire::Varint),
        };
        match w {
            Some(w) => each(w),
            None => return,
        }
    }
}

/// Is this value its field's default (zero, false, empty), so not written when the field
/// has no presence? Compared as prost-reflect compares: after conversion, `-0.0 == 0`.
fn is_default(f: &FieldPlan, wire: Wire<'_>) -> bool {
    use Scalar::*;
    match (&f.kind, wire) {
        (FieldKind::Scalar(Float), Wire::Fixed32(v)) => f32::from_bits(v) == 0.0,
        (FieldKind::Scalar(Double), Wire::Fixed64(v)) => f64::from_bits(v) == 0.0,
        (FieldKind::Scalar(Int32 | Uint32 | Sint32) | FieldKind::Enum(_), Wire::Varint(v)) => {
            v as u32 == 0
        }
        (_, Wire::Varint(v)) => v == 0,
        (_, Wire::Fixed32(v)) => v == 0,
        (_, Wire::Fixed64(v)) => v == 0,
        (_, Wire::Len(b)) => b.is_empty(),
    }
}

/// A scalar, string, bytes or enum value as prost-reflect's serializer writes it.
fn write_scalar(f: &FieldPlan, wire: Wire<'_>, out: &mut JsonOut<'_>) {
    use Scalar::*;
    let mut digits = itoa::Buffer::new();
    match (&f.kind, wire) {
        (FieldKind::Scalar(s), Wire::Varint(v)) => match s {
            Int32 => out.i64(i64::from(v as i32)),
            Uint32 => out.u64(u64::from(v as u32)),
            Sint32 => out.i64(i64::from(zigzag32(v as u32))),
            Int64 => out.quoted(digits.format(v as i64).as_bytes()),
            Uint64 => out.quoted(digits.format(v).as_bytes()),
            Sint64 => out.quoted(digits.format(zigzag64(v)).as_bytes()),
            Bool => out.raw(if v != 0 { b"true" } else { b"false" }),
            _ => {}
        },
        (FieldKind::Scalar(s), Wire::Fixed32(v)) => match s {
            Float => out.f32(f32::from_bits(v)),
            Fixed32 => out.u64(u64::from(v)),
            _ => out.i64(i64::from(v as i32)),
        },
        (FieldKind::Scalar(s), Wire::Fixed64(v)) => match s {
            Double => out.f64(f64::from_bits(v)),
            Fixed64 => out.quoted(digits.format(v).as_bytes()),
            _ => out.quoted(digits.format(v as i64).as_bytes()),
        },
        (FieldKind::Enum(names), Wire::Varint(v)) => match names.get(&(v as i32)) {
            Some(name) => out.quoted(name),
            None => out.i64(i64::from(v as i32)),
        },
        // UTF-8, as checked.
        (FieldKind::String, Wire::Len(b)) => out.utf8(b),
        (FieldKind::Bytes, Wire::Len(b)) => out.base64(b),
        _ => {}
    }
}

/// A timestamp in range (checked by [`timestamp`]) as prost-types prints it: UTC, a
/// 4-digit year, and 0, 3, 6 or 9 digits of fraction (days to dates: H. Hinnant's
/// `civil_from_days`).
fn rfc3339(seconds: i64, nanos: i32, out: &mut [u8; 32]) -> usize {
    let (days, secs) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mut at = pad(out, 0, year, 4);
    let fields = [month, day, secs / 3600, secs / 60 % 60, secs % 60];
    for (sep, v) in b"--T::".iter().zip(fields) {
        out[at] = *sep;
        at = pad(out, at + 1, v, 2);
    }
    let (frac, width) = match nanos {
        0 => (0, 0),
        n if n % 1_000_000 == 0 => (n / 1_000_000, 3),
        n if n % 1_000 == 0 => (n / 1_000, 6),
        n => (n, 9),
    };
    if width > 0 {
        out[at] = b'.';
        at = pad(out, at + 1, i64::from(frac), width);
    }
    out[at] = b'Z';
    at + 1
}

/// Writes `v` (0 to 9999 or a fraction below 10^9) at `at`, zero-padded to `width`
/// digits; returns where it ends.
fn pad(out: &mut [u8; 32], at: usize, mut v: i64, width: usize) -> usize {
    for i in (at..at + width).rev() {
        out[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    at + width
}

fn zigzag32(v: u32) -> i32 {
    ((v >> 1) as i32) ^ -((v & 1) as i32)
}

fn zigzag64(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_print_as_prost_types_prints_them() {
        let (min, max) = (-62_135_596_800i64, 253_402_300_799i64);
        let mut seconds = vec![min, max, 0, -1, 86_399, 951_782_400, 1_795_600_800];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            // xorshift: spread over the whole range.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            seconds.push(min + (x % (max - min + 1) as u64) as i64);
        }
        let nanos = [0, 1, 999_999_999, 5_000_000, 120_000, 123_456_789];
        for (i, &s) in seconds.iter().enumerate() {
            let n = nanos[i % nanos.len()];
            let want = prost_reflect::prost_types::Timestamp {
                seconds: s,
                nanos: n,
            }
            .to_string();
            let mut text = [0u8; 32];
            let len = rfc3339(s, n, &mut text);
            assert_eq!(std::str::from_utf8(&text[..len]).unwrap(), want, "{s} {n}");
        }
    }
}
