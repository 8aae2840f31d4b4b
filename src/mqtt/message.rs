//! One received message as the user sees it: decoded by topic encoding, as a text line
//! or a JSON value. [`decode_message`] is the single call site of the decoder.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::decode;
use crate::mqtt::Encoding;

/// A decoded payload, or why it could not be decoded. The summary and the JSON tree
/// are rendered on demand: `watch --format json` never needs the summary.
pub struct Decoded {
    pub encoding: Encoding,
    inner: decode::Decoded,
}

impl Decoded {
    /// One line (protoc's text is a block of lines), at most 300 bytes.
    pub fn summary(&self) -> String {
        let text = self.inner.to_text();
        truncate(text.trim_end().replace('\n', " "), 300)
    }

    /// The decoded tree.
    pub fn value(&self) -> Value {
        self.inner.to_json()
    }
}

/// Decodes `payload` as `encoding` (guessed when the topic does not tell), schema-less:
/// protobuf as `protoc --decode_raw` shows it, JSON as Centiloc item/board events.
pub fn decode_message(encoding: Option<Encoding>, payload: &[u8]) -> Result<Decoded, String> {
    let encoding = encoding.unwrap_or_else(|| Encoding::guess(payload));
    // The decoder's JSON error already shows the start of the payload, terminal-safe.
    let inner = decode::decode(payload, encoding, None).map_err(|e| e.to_string())?;
    Ok(Decoded { encoding, inner })
}

pub fn encoding_name(e: Encoding) -> &'static str {
    match e {
        Encoding::Json => "json",
        Encoding::Proto => "proto",
    }
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
    crate::time::rfc3339_millis(t)
}

/// The JSON form of one message (`watch --format json` line, `test-connect` document).
/// Fields in alphabetical order, as a `serde_json::Map` would write them.
#[derive(serde::Serialize)]
struct Envelope<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    encoding: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<Value>,
    received: String,
    retained: bool,
    size: usize,
    topic: &'a str,
}

impl<'a> Envelope<'a> {
    fn new(
        topic: &'a str,
        payload: &[u8],
        retained: bool,
        received: DateTime<Utc>,
        decoded: &'a Result<Decoded, String>,
    ) -> Self {
        let (encoding, payload_value, error) = match decoded {
            Ok(d) => (Some(encoding_name(d.encoding)), Some(d.value()), None),
            Err(e) => (None, None, Some(e.as_str())),
        };
        Envelope {
            encoding,
            error,
            payload: payload_value,
            received: stamp(received),
            retained,
            size: payload.len(),
            topic,
        }
    }
}

/// The JSON form of one message as a value (`test-connect --format json`).
pub fn message_json(
    topic: &str,
    payload: &[u8],
    retained: bool,
    received: DateTime<Utc>,
    decoded: &Result<Decoded, String>,
) -> Value {
    serde_json::to_value(Envelope::new(topic, payload, retained, received, decoded))
        .unwrap_or(Value::Null)
}

/// The JSON form of one message written straight to `out`, without building the
/// envelope as a map first (`watch --format json`: the per-message hot path).
pub fn write_message_json(
    out: &mut impl std::io::Write,
    topic: &str,
    payload: &[u8],
    retained: bool,
    received: DateTime<Utc>,
    decoded: &Result<Decoded, String>,
) -> std::io::Result<()> {
    let e = Envelope::new(topic, payload, retained, received, decoded);
    serde_json::to_writer(out, &e).map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_proto_and_garbage() {
        let d = decode_message(Some(Encoding::Json), br#"{"uid":"E1"}"#).unwrap();
        assert_eq!(d.value()["uid"], "E1");
        let p = decode_message(None, &[0x08, 0x96, 0x01]).unwrap();
        assert_eq!(p.encoding, Encoding::Proto);
        assert_eq!(p.summary(), "1: 150");
        assert!(decode_message(Some(Encoding::Proto), &[0x0a, 0x09]).is_err());
        let e = decode_message(Some(Encoding::Json), b"{\x1b[31m")
            .err()
            .unwrap();
        assert!(e.contains("\\u{1b}"), "{e}");
        // The payload is shown once (it used to follow the decoder's own preview).
        let e = decode_message(Some(Encoding::Json), b"not json {")
            .err()
            .unwrap();
        assert_eq!(e.matches("not json {").count(), 1, "{e}");
    }

    /// The envelope written straight out is the one built as a value, field for field
    /// and in the same order (the form `watch` printed before it stopped building maps).
    #[test]
    fn written_json_matches_the_value() {
        let now = Utc::now();
        let item = br#"{"uid":"E004015012345678","is_in":true,"pos_mm":[120,45],"hold_time":1500000000,"fill_ratio":0.5}"#;
        let cases: [(Option<Encoding>, &[u8], bool); 4] = [
            (Some(Encoding::Json), item, false),
            (
                Some(Encoding::Json),
                br#"{"x":"\u00e9\n","y":[1.5,null]}"#,
                true,
            ),
            (None, &[0x08, 0x96, 0x01], false),
            (Some(Encoding::Json), b"{\x1b[31m", false),
        ];
        for (enc, payload, retained) in cases {
            let d = decode_message(enc, payload);
            let mut old = serde_json::json!({
                "topic": "t/\"x\"",
                "received": stamp(now),
                "size": payload.len(),
                "retained": retained,
            });
            match &d {
                Ok(d) => {
                    old["encoding"] = serde_json::json!(encoding_name(d.encoding));
                    old["payload"] = d.value();
                }
                Err(e) => old["error"] = serde_json::json!(e),
            }
            let mut line = Vec::new();
            write_message_json(&mut line, "t/\"x\"", payload, retained, now, &d).unwrap();
            assert_eq!(String::from_utf8(line).unwrap(), old.to_string());
            assert_eq!(message_json("t/\"x\"", payload, retained, now, &d), old);
        }
    }
}
