//! Making Centiloc payloads readable: plain bytes in, a [`Decoded`] value out, no I/O.
//! `decode`, `test-connect` and `watch` all go through [`decode`]; the encoding comes
//! from `--encoding`, from the topic (`mqtt::topics` knows Centiloc's topics) or from
//! the payload's first byte ([`Encoding::guess`]).
//!
//! - [`raw_proto`]: protobuf without a schema, identical to `protoc --decode_raw`.
//! - [`schema`]: protobuf with the customer's `.proto` (compiled at run time).
//! - [`text_format`]: a message decoded with a schema, as `protoc --decode` prints it.
//! - [`json`]: the JSON item and board updates.

mod cursor;
pub mod json;
pub mod json_out;
pub mod options;
pub mod raw_json;
pub mod raw_proto;
pub mod schema;
pub mod schema_json;
pub mod text_format;

use std::fmt;

use prost_reflect::DynamicMessage;
use serde_json::Value;

pub use schema::{MessageNames, Schema, SchemaError, Schemas};

/// How a payload is encoded (`--encoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Encoding {
    Json,
    Proto,
}

impl Encoding {
    /// For a payload of unknown origin (`decode` without `--encoding`): JSON when its
    /// first non-blank byte is `{` or `[`, else protobuf. In wire format those bytes
    /// would open a proto2 group (fields 15 and 11); Centiloc's schema is proto3 and has
    /// no groups, so the guess is safe, and a broken JSON payload is then reported as
    /// broken JSON rather than as puzzling protobuf. `--encoding proto` overrides.
    /// A UTF-8 byte order mark, which Windows editors put before JSON, is skipped too
    /// (0xEF would be a field 29 with an invalid wire type 7 in protobuf).
    pub fn guess(bytes: &[u8]) -> Encoding {
        let bytes = json::strip_bom(bytes);
        let start = bytes.iter().find(|b| !b.is_ascii_whitespace());
        match start {
            Some(b'{') | Some(b'[') => Encoding::Json,
            _ => Encoding::Proto,
        }
    }
}

/// The two kinds of Centiloc events; each has its own protobuf message type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    Item,
    Board,
}

/// A decoded payload, ready to show as text or JSON.
#[derive(Debug, Clone)]
pub enum Decoded {
    /// Protobuf without schema; the bytes are checked, rendering walks them again.
    Raw(Vec<u8>),
    /// Protobuf decoded with the user's schema.
    Message(DynamicMessage),
    Json(json::JsonPayload),
}

/// Why a payload could not be decoded; every variant is "bad input data" (exit 65).
#[derive(Debug, Clone)]
pub enum DecodeError {
    /// Not protobuf wire format (offset and reason).
    Wire(raw_proto::WireError),
    /// Valid wire format that does not fit the schema's message.
    Schema {
        message: String,
        reason: String,
    },
    Json(json::JsonError),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Wire(e) => write!(f, "not valid protobuf: {e}"),
            DecodeError::Schema { message, reason } => {
                write!(f, "not a valid {message}: {reason}")
            }
            DecodeError::Json(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Decodes one payload. With `schema`, protobuf is decoded as its message; without,
/// schema-less like `protoc --decode_raw`. The schema is ignored for JSON.
pub fn decode(
    bytes: &[u8],
    encoding: Encoding,
    schema: Option<&Schema>,
) -> Result<Decoded, DecodeError> {
    match (encoding, schema) {
        (Encoding::Json, _) => json::decode(bytes)
            .map(Decoded::Json)
            .map_err(DecodeError::Json),
        (Encoding::Proto, None) => {
            raw_proto::validate(bytes).map_err(DecodeError::Wire)?;
            Ok(Decoded::Raw(bytes.to_vec()))
        }
        (Encoding::Proto, Some(s)) => {
            // Report bad wire data with its offset first; prost's reasons have none.
            raw_proto::validate(bytes).map_err(DecodeError::Wire)?;
            s.decode(bytes)
                .map(Decoded::Message)
                .map_err(|e| DecodeError::Schema {
                    message: s.message_name().to_owned(),
                    reason: schema_mismatch(&e),
                })
        }
    }
}

/// prost's reason in words: its "failed to decode Protobuf message: " opening names the
/// library, not the problem (the wire data is valid here; its fields do not fit the
/// message, as a payload of another topic kind would not).
fn schema_mismatch(e: &prost_reflect::prost::DecodeError) -> String {
    let text = e.to_string();
    let detail = text
        .strip_prefix("failed to decode Protobuf message: ")
        .unwrap_or(&text);
    // prost spells wire types as its enum's variant names: say them as protobuf does.
    let words = [
        ("LengthDelimited", "length-delimited"),
        ("Varint", "varint"),
        ("SixtyFourBit", "64-bit"),
        ("ThirtyTwoBit", "32-bit"),
        ("StartGroup", "group start"),
        ("EndGroup", "group end"),
    ]
    .iter()
    .fold(detail.to_owned(), |t, (name, word)| t.replace(name, word));
    format!("its fields do not fit that message ({words})")
}

impl Decoded {
    /// The text view: protoc's text for protobuf (a block of lines ending in a newline,
    /// empty for an empty message), one summary line per JSON event. Safe for a terminal.
    pub fn to_text(&self) -> String {
        match self {
            // Validated in `decode`; an error here would be a bug, shown rather than hidden.
            Decoded::Raw(b) => raw_proto::render_text(b).unwrap_or_else(|e| format!("<{e}>\n")),
            Decoded::Message(m) => text_format::to_text(m),
            Decoded::Json(j) => j.to_text(),
        }
    }

    /// [`Decoded::to_text`] appended to `out` as bytes; for protobuf without a schema,
    /// without building a `String` (the text of a 1 MB payload is megabytes).
    pub fn write_text(&self, out: &mut Vec<u8>) {
        match self {
            Decoded::Raw(b) => {
                if let Err(e) = raw_proto::render_text_into(b, out) {
                    out.extend_from_slice(format!("<{e}>\n").as_bytes());
                }
            }
            other => out.extend_from_slice(other.to_text().as_bytes()),
        }
    }

    /// The JSON view streamed into a serializer without building the tree first: what
    /// [`Decoded::to_json`] would serialize to, byte for byte (issue 12, item 5).
    pub fn json_view(&self) -> JsonView<'_> {
        JsonView(self)
    }

    /// The JSON view pretty-printed into `out`: what `serde_json::to_writer_pretty` of
    /// [`Decoded::json_view`] writes, byte for byte, written directly for protobuf
    /// without a schema (issue 12, item 5: serde_json's writer cost 16x the text path).
    pub fn write_json(&self, out: &mut json_out::JsonOut<'_>) {
        match self {
            // Validated in `decode`; a walk error would be a bug: the JSON stops there.
            Decoded::Raw(b) => {
                let _ = raw_json::write(b, out);
            }
            // A failure is a value serde cannot write (a timestamp out of range): what
            // was written stays, as with serde_json's writer.
            other => {
                let _ = serde_json::to_writer_pretty(out, &other.json_view());
            }
        }
    }

    /// The JSON view (SPEC: `--format json`).
    pub fn to_json(&self) -> Value {
        match self {
            Decoded::Raw(b) => raw_proto::to_json(b).unwrap_or(Value::Null),
            Decoded::Message(m) => schema::to_json(m).unwrap_or(Value::Null),
            Decoded::Json(j) => j.to_json(),
        }
    }
}

/// See [`Decoded::json_view`].
pub struct JsonView<'a>(&'a Decoded);

impl serde::Serialize for JsonView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Decoded::Raw(b) => raw_proto::JsonFields::top(b).serialize(s),
            Decoded::Message(m) => {
                m.serialize_with_options(s, &prost_reflect::SerializeOptions::new())
            }
            Decoded::Json(j) => j.to_json().serialize(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guess_prefers_json_only_for_json_looking_bytes() {
        assert_eq!(Encoding::guess(b" {\"uid\":1}"), Encoding::Json);
        assert_eq!(Encoding::guess(b"\x08\x01"), Encoding::Proto);
        assert_eq!(Encoding::guess(b""), Encoding::Proto);
        assert_eq!(Encoding::guess(b"\xef\xbb\xbf {}"), Encoding::Json);
        assert_eq!(Encoding::guess(b"\xef\xbb\xbf[]"), Encoding::Json);
        assert_eq!(Encoding::guess(b"\xef\xbb"), Encoding::Proto);
    }
}
