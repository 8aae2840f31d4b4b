//! One received message as the user sees it: decoded by topic encoding, as a text line
//! or a JSON value. [`decode_message`] is the single call site of the decoder.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::mqtt::Encoding;
use crate::output::safe;

/// A decoded payload: a one-line summary and a JSON tree, or why it could not be decoded.
pub struct Decoded {
    pub encoding: Encoding,
    pub summary: String,
    pub value: Value,
}

/// Decodes `payload` as `encoding` (sniffed when the topic does not tell).
// TODO(decode): switch to crate::decode::decode once src/decode/ lands on main; until
// then JSON is parsed and protobuf shown as hex, so this stays the only place to change.
pub fn decode_message(encoding: Option<Encoding>, payload: &[u8]) -> Result<Decoded, String> {
    let encoding = encoding.unwrap_or_else(|| sniff(payload));
    match encoding {
        Encoding::Json => {
            let value: Value = serde_json::from_slice(payload)
                .map_err(|e| format!("not valid JSON ({e}): {}", preview(payload)))?;
            let summary = safe(&value.to_string()).into_owned();
            Ok(Decoded {
                encoding,
                summary: truncate(summary, 300),
                value,
            })
        }
        Encoding::Proto => {
            let hex = hex(payload);
            Ok(Decoded {
                encoding,
                summary: truncate(format!("protobuf {hex}"), 300),
                value: json!({ "hex": hex }),
            })
        }
    }
}

/// JSON documents start with `{` or `[`; anything else is taken as protobuf.
fn sniff(payload: &[u8]) -> Encoding {
    match payload.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') | Some(b'[') => Encoding::Json,
        _ => Encoding::Proto,
    }
}

/// The start of an undecodable payload, safe for a terminal.
pub fn preview(payload: &[u8]) -> String {
    let text = String::from_utf8_lossy(&payload[..payload.len().min(80)]);
    let more = if payload.len() > 80 { "…" } else { "" };
    format!("{:?}{more}", safe(&text))
}

fn hex(b: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

/// RFC 3339 with milliseconds, UTC.
pub fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The JSON form of one message (`watch --format json` line, `test-connect` document).
pub fn message_json(
    topic: &str,
    payload: &[u8],
    retained: bool,
    received: DateTime<Utc>,
    decoded: &Result<Decoded, String>,
) -> Value {
    let mut v = json!({
        "topic": topic,
        "received": stamp(received),
        "size": payload.len(),
        "retained": retained,
    });
    match decoded {
        Ok(d) => {
            v["encoding"] = json!(d.encoding);
            v["payload"] = d.value.clone();
        }
        Err(e) => v["error"] = json!(e),
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_proto_and_garbage() {
        let d = decode_message(Some(Encoding::Json), br#"{"uid":"E1"}"#).unwrap();
        assert_eq!(d.value["uid"], "E1");
        let p = decode_message(None, &[0x0a, 0x02, b'h', b'i']).unwrap();
        assert_eq!(p.encoding, Encoding::Proto);
        assert!(p.summary.contains("0a026869"));
        let e = decode_message(Some(Encoding::Json), b"{\x1b[31m")
            .err()
            .unwrap();
        assert!(e.contains("\\u{1b}"), "{e}");
    }
}
