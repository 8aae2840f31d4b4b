//! The schema-less JSON view ([`raw_proto::to_json`]'s tree) written straight into a
//! [`JsonOut`]: the `decode --format json` path. Byte for byte what serde_json prints for
//! [`raw_proto::JsonFields`] (tests compare the two on generated payloads), at a fraction
//! of the cost: no `Serializer` per token, no `String` per base64 value, field order by
//! a precomputed key instead of decimal strings compared per comparison (issue 12, item 5).

use super::json_out::JsonOut;
use super::raw_proto::{self, PRINT_BUDGET, Rules, Trial, Wire, WireError};

/// One field of the message being written.
#[derive(Clone, Copy)]
struct Field<'a> {
    /// Sorts as the field number's decimal string sorts (a `Map` orders keys so).
    order: u64,
    number: u32,
    wire: Wire<'a>,
}

/// A key that orders numbers as their decimal strings order: the number scaled to 10
/// digits, then its digit count ("1" < "10" < "2": 1000000000.1 < 1000000000.2 < 2000000000.1).
pub(super) fn order_key(n: u32) -> u64 {
    // A table, not `10u64.pow`: this runs for every field (issue 12, item 5 profile).
    const POW10: [u64; 11] = {
        let mut t = [1u64; 11];
        let mut i = 1;
        while i < 11 {
            t[i] = t[i - 1] * 10;
            i += 1;
        }
        t
    };
    let digits = match n {
        0..=9 => 1,
        10..=99 => 2,
        _ => n.ilog10() + 1,
    };
    (u64::from(n) * POW10[(10 - digits) as usize]) << 4 | u64::from(digits)
}

/// Writes the JSON view of `bytes`, which must have passed [`raw_proto::validate`].
pub fn write(bytes: &[u8], out: &mut JsonOut<'_>) -> Result<(), WireError> {
    let mut stack = Vec::new();
    fields(bytes, Rules::Top, PRINT_BUDGET, out, &mut stack)
}

/// One message or group body as an object keyed by field number; a repeated field's
/// values as an array in wire order. `stack` holds the fields of every open level.
fn fields<'a>(
    bytes: &'a [u8],
    rules: Rules,
    budget: u32,
    out: &mut JsonOut<'_>,
    stack: &mut Vec<Field<'a>>,
) -> Result<(), WireError> {
    let start = stack.len();
    raw_proto::for_each_field(bytes, rules, |number, wire| push(stack, number, wire))?;
    write_fields(start, rules, budget, out, stack)
}

fn push<'a>(stack: &mut Vec<Field<'a>>, number: u32, wire: Wire<'a>) {
    stack.push(Field {
        order: order_key(number),
        number,
        wire,
    });
}

/// Writes the fields on `stack` from `start` on as one object, and takes them off.
fn write_fields<'a>(
    start: usize,
    rules: Rules,
    budget: u32,
    out: &mut JsonOut<'_>,
    stack: &mut Vec<Field<'a>>,
) -> Result<(), WireError> {
    let end = stack.len();
    if !stack[start..].is_sorted_by_key(|f| f.order) {
        // Stable: a repeated field's values stay in wire order.
        stack[start..].sort_by_key(|f| f.order);
    }
    out.begin_object();
    let mut i = start;
    while i < end {
        let number = stack[i].number;
        let same = stack[i..end]
            .iter()
            .take_while(|f| f.number == number)
            .count();
        out.number_key(number);
        if same == 1 {
            value(stack[i].wire, rules, budget, out, stack)?;
        } else {
            out.begin_array();
            for k in i..i + same {
                out.element();
                value(stack[k].wire, rules, budget, out, stack)?;
            }
            out.end_array();
        }
        i += same;
    }
    out.end_object();
    stack.truncate(start);
    Ok(())
}

/// One value, as `raw_proto::json_value` builds it.
fn value<'a>(
    wire: Wire<'a>,
    rules: Rules,
    budget: u32,
    out: &mut JsonOut<'_>,
    stack: &mut Vec<Field<'a>>,
) -> Result<(), WireError> {
    match wire {
        Wire::Varint(v) => out.u64(v),
        Wire::Fixed32(v) => {
            out.begin_object();
            out.plain_key(b"fixed32");
            out.u64(u64::from(v));
            out.plain_key(b"float");
            out.f64(f64::from(f32::from_bits(v)));
            out.end_object();
        }
        Wire::Fixed64(v) => {
            out.begin_object();
            out.plain_key(b"double");
            out.f64(f64::from_bits(v));
            out.plain_key(b"fixed64");
            out.quoted(itoa::Buffer::new().format(v).as_bytes());
            out.end_object();
        }
        Wire::Len(b) => {
            out.begin_object();
            out.plain_key(b"bytes");
            out.base64(b);
            let start = stack.len();
            match raw_proto::embedded_fields(b, budget, |n, w| push(stack, n, w)) {
                Trial::Message => {
                    out.plain_key(b"message");
                    write_fields(start, Rules::Embedded, budget - 1, out, stack)?;
                }
                Trial::NotMessage => stack.truncate(start),
                Trial::Group => {
                    stack.truncate(start);
                    if raw_proto::prints_as_message(b, budget) {
                        out.plain_key(b"message");
                        fields(b, Rules::Embedded, budget - 1, out, stack)?;
                    }
                }
            }
            if let Ok(text) = std::str::from_utf8(b) {
                out.plain_key(b"string");
                out.string(text);
            }
            out.end_object();
        }
        Wire::Group(b) => {
            out.begin_object();
            out.plain_key(b"group");
            fields(b, rules, budget.saturating_sub(1), out, stack)?;
            out.end_object();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_order_is_decimal_string_order() {
        let mut numbers: Vec<u32> = vec![0, 1, 2, 9, 10, 11, 19, 100, 101, 2000, u32::MAX];
        numbers.extend((0..200).map(|i| i * 7919 % 100_000));
        let mut by_key = numbers.clone();
        by_key.sort_by_key(|&n| order_key(n));
        let mut by_string = numbers.clone();
        by_string.sort_by_key(|n| n.to_string());
        assert_eq!(by_key, by_string);
    }
}
