//! One received message as the user sees it: decoded by topic encoding, as a text line
//! or a JSON value. [`decode_message`] is the single call site of the decoder.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::decode;
use crate::mqtt::Encoding;
use crate::output::safe;

/// A decoded payload: a one-line summary and a JSON tree, or why it could not be decoded.
pub struct Decoded {
    pub encoding: Encoding,
    pub summary: String,
    pub value: Value,
}

/// Decodes `payload` as `encoding` (guessed when the topic does not tell), schema-less:
/// protobuf as `protoc --decode_raw` shows it, JSON as Centiloc item/board events.
pub fn decode_message(encoding: Option<Encoding>, payload: &[u8]) -> Result<Decoded, String> {
    let encoding = encoding.unwrap_or_else(|| Encoding::guess(payload));
    let d = decode::decode(payload, encoding, None).map_err(|e| match encoding {
        Encoding::Json => format!("{e}: {}", preview(payload)),
        Encoding::Proto => e.to_string(),
    })?;
    // protoc's text is a block of lines; one message is one line here.
    let text = d.to_text();
    let summary = text.trim_end().replace('\n', " ");
    Ok(Decoded {
        encoding,
        summary: truncate(summary, 300),
        value: d.to_json(),
    })
}

pub fn encoding_name(e: Encoding) -> &'static str {
    match e {
        Encoding::Json => "json",
        Encoding::Proto => "proto",
    }
}

/// The start of an undecodable payload, safe for a terminal.
pub fn preview(payload: &[u8]) -> String {
    let text = String::from_utf8_lossy(&payload[..payload.len().min(80)]);
    let more = if payload.len() > 80 { "…" } else { "" };
    format!("{:?}{more}", safe(&text))
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
            v["encoding"] = json!(encoding_name(d.encoding));
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
        let p = decode_message(None, &[0x08, 0x96, 0x01]).unwrap();
        assert_eq!(p.encoding, Encoding::Proto);
        assert_eq!(p.summary, "1: 150");
        assert!(decode_message(Some(Encoding::Proto), &[0x0a, 0x09]).is_err());
        let e = decode_message(Some(Encoding::Json), b"{\x1b[31m")
            .err()
            .unwrap();
        assert!(e.contains("\\u{1b}"), "{e}");
    }
}
