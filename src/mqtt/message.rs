//! One received message as the user sees it: decoded by topic encoding (and with the
//! schema of its topic kind), as text under a header line or as a JSON value.
//! [`decode_message`] is the single call site of the decoder. A payload that does not
//! decode is still shown, as hex or base64 with the reason (issue 12: nothing dropped).

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::decode::{self, Schema, Schemas};
use crate::mqtt::Encoding;
use crate::mqtt::topics::kind_of;

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

    /// The text under a header line: a JSON event is one line, written after `header`
    /// and `sep`; protobuf is protoc's block of lines, below the header, each line after
    /// `indent` so the nesting stays as protoc prints it (issue 12, item 2).
    pub fn write_text(&self, out: &mut Vec<u8>, header: &str, sep: &str, indent: &str) {
        match self.encoding {
            Encoding::Json => {
                out.extend_from_slice(header.as_bytes());
                out.extend_from_slice(sep.as_bytes());
                out.extend_from_slice(self.inner.to_text().trim_end().as_bytes());
                out.push(b'\n');
            }
            Encoding::Proto => {
                out.extend_from_slice(header.as_bytes());
                let mut block = Vec::new();
                self.inner.write_text(&mut block);
                if block.is_empty() {
                    out.extend_from_slice(sep.as_bytes());
                    out.extend_from_slice(b"(empty message)\n");
                    return;
                }
                out.push(b'\n');
                for line in block.split_inclusive(|b| *b == b'\n') {
                    out.extend_from_slice(indent.as_bytes());
                    out.extend_from_slice(line);
                }
                if !out.ends_with(b"\n") {
                    out.push(b'\n');
                }
            }
        }
    }

    /// The decoded tree.
    pub fn value(&self) -> Value {
        self.inner.to_json()
    }
}

/// A payload that did not decode as the encoding its topic (or a guess) gave: the
/// encoding stays in the JSON line, so a filter on `.encoding` keeps the broken ones.
#[derive(Debug)]
pub struct Undecodable {
    pub encoding: Encoding,
    /// The decoder's sentence, with the offset; terminal-safe.
    pub reason: String,
}

impl std::fmt::Display for Undecodable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

/// Decodes `payload` as `encoding` (guessed when the topic does not tell): protobuf with
/// `schema`, or without one as `protoc --decode_raw` shows it; JSON as Centiloc item/board
/// events.
pub fn decode_message(
    encoding: Option<Encoding>,
    schema: Option<&Schema>,
    payload: &[u8],
) -> Result<Decoded, Undecodable> {
    let encoding = encoding.unwrap_or_else(|| Encoding::guess(payload));
    // The decoder's JSON error already shows the start of the payload, terminal-safe.
    let inner = decode::decode(payload, encoding, schema).map_err(|e| Undecodable {
        encoding,
        reason: e.to_string(),
    })?;
    Ok(Decoded { encoding, inner })
}

/// The schema for a message on `topic`: the one of its topic kind (item, board), if any.
pub fn schema_for<'a>(schemas: Option<&'a Schemas>, topic: &str) -> Option<&'a Schema> {
    schemas.and_then(|s| s.for_kind(kind_of(topic)))
}

/// A message that could not be decoded, as text: the header, the reason, then every
/// byte as `hexdump -C` shows it (offsets match the reason's "at byte N").
pub fn write_undecodable(
    out: &mut Vec<u8>,
    header: &str,
    sep: &str,
    indent: &str,
    payload: &[u8],
    why: &str,
) {
    use std::io::Write;
    let _ = writeln!(out, "{header}{sep}cannot decode: {why}; the bytes:");
    for (i, chunk) in payload.chunks(16).enumerate() {
        let _ = write!(out, "{indent}{:08x} ", i * 16);
        for (j, b) in chunk.iter().enumerate() {
            let gap = if j == 8 { "  " } else { " " };
            let _ = write!(out, "{gap}{b:02x}");
        }
        let pad = (16 - chunk.len()) * 3 + usize::from(chunk.len() <= 8);
        let ascii: String = chunk
            .iter()
            .map(|&b| {
                if b.is_ascii_graphic() || b == b' ' {
                    b as char
                } else {
                    '.'
                }
            })
            .collect();
        let _ = writeln!(out, "{:pad$}  |{ascii}|", "");
    }
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
    /// On a `watch` line, which is a document of its own (SPEC: JSON contract); not on
    /// the messages inside `test-connect`'s document, which has its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    format_version: Option<u32>,
    /// Streamed into the line, never built as a tree (issue 12, item 6).
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<decode::JsonView<'a>>,
    /// The bytes of a message that could not be decoded (issue 12: nothing dropped).
    #[serde(skip_serializing_if = "Option::is_none")]
    payload_base64: Option<String>,
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
        decoded: &'a Result<Decoded, Undecodable>,
    ) -> Self {
        use base64::Engine as _;
        let (encoding, payload_value, error) = match decoded {
            Ok(d) => (
                Some(encoding_name(d.encoding)),
                Some(d.inner.json_view()),
                None,
            ),
            Err(e) => (
                Some(encoding_name(e.encoding)),
                None,
                Some(e.reason.as_str()),
            ),
        };
        let payload_base64 =
            error.map(|_| base64::engine::general_purpose::STANDARD.encode(payload));
        Envelope {
            encoding,
            error,
            format_version: None,
            payload: payload_value,
            payload_base64,
            received: stamp(received),
            retained,
            size: payload.len(),
            topic,
        }
    }
}

/// The JSON form of one message as it will stand in `test-connect`'s document: written
/// once, so the payload keeps the field order `watch` and `decode` print (a `Value`
/// would sort it).
pub fn message_json(
    topic: &str,
    payload: &[u8],
    retained: bool,
    received: DateTime<Utc>,
    decoded: &Result<Decoded, Undecodable>,
) -> Box<serde_json::value::RawValue> {
    let envelope = Envelope::new(topic, payload, retained, received, decoded);
    serde_json::value::to_raw_value(&envelope)
        .unwrap_or_else(|_| serde_json::value::RawValue::NULL.to_owned())
}

/// The JSON form of one message written straight to `out`, without building the
/// envelope as a map first (`watch --format json`: the per-message hot path).
pub fn write_message_json(
    out: &mut impl std::io::Write,
    topic: &str,
    payload: &[u8],
    retained: bool,
    received: DateTime<Utc>,
    decoded: &Result<Decoded, Undecodable>,
) -> std::io::Result<()> {
    let mut e = Envelope::new(topic, payload, retained, received, decoded);
    e.format_version = Some(crate::output::FORMAT_VERSION);
    serde_json::to_writer(out, &e).map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_proto_and_garbage() {
        let d = decode_message(Some(Encoding::Json), None, br#"{"uid":"E1"}"#).unwrap();
        assert_eq!(d.value()["uid"], "E1");
        let p = decode_message(None, None, &[0x08, 0x96, 0x01]).unwrap();
        assert_eq!(p.encoding, Encoding::Proto);
        assert_eq!(p.summary(), "1: 150");
        assert!(decode_message(Some(Encoding::Proto), None, &[0x0a, 0x09]).is_err());
        let e = decode_message(Some(Encoding::Json), None, b"{\x1b[31m")
            .err()
            .unwrap()
            .reason;
        assert!(e.contains("\\u{1b}"), "{e}");
        // The payload is shown once (it used to follow the decoder's own preview).
        let e = decode_message(Some(Encoding::Json), None, b"not json {")
            .err()
            .unwrap()
            .reason;
        assert_eq!(e.matches("not json {").count(), 1, "{e}");
    }

    #[test]
    fn protobuf_text_keeps_protocs_lines_indented_under_the_header() {
        // 1: "E1", 4 { 15: 45 }
        let d = decode_message(None, None, b"\x0a\x02E1\x22\x02\x78\x2d").unwrap();
        let mut out = Vec::new();
        d.write_text(&mut out, "T topic", " ", "  ");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "T topic\n  1: \"E1\"\n  4 {\n    15: 45\n  }\n"
        );
        let j = decode_message(None, None, br#"{"uid":"E1","is_in":true}"#).unwrap();
        let mut out = Vec::new();
        j.write_text(&mut out, "T topic", " ", "  ");
        let line = String::from_utf8(out).unwrap();
        assert!(
            line.starts_with("T topic item E1 IN") && line.ends_with('\n'),
            "{line}"
        );
    }

    #[test]
    fn undecodable_bytes_are_shown_as_a_hex_dump() {
        let mut out = Vec::new();
        let payload: Vec<u8> = (0u8..20).map(|b| b + 0x3c).collect();
        write_undecodable(&mut out, "H", ": ", "  ", &payload, "why");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "H: cannot decode: why; the bytes:\n  00000000  3c 3d 3e 3f 40 41 42 43  44 45 46 47 48 49 4a 4b  |<=>?@ABCDEFGHIJK|\n  00000010  4c 4d 4e 4f                                       |LMNO|\n"
        );
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
            let d = decode_message(enc, None, payload);
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
                Err(e) => {
                    old["encoding"] = serde_json::json!(encoding_name(e.encoding));
                    old["error"] = serde_json::json!(e.reason);
                    use base64::Engine as _;
                    old["payload_base64"] = serde_json::json!(
                        base64::engine::general_purpose::STANDARD.encode(payload)
                    );
                }
            }
            let raw = message_json("t/\"x\"", payload, retained, now, &d);
            assert_eq!(serde_json::from_str::<Value>(raw.get()).unwrap(), old);
            let mut line = Vec::new();
            write_message_json(&mut line, "t/\"x\"", payload, retained, now, &d).unwrap();
            old["format_version"] = serde_json::json!(1);
            assert_eq!(String::from_utf8(line).unwrap(), old.to_string());
        }
    }
}
