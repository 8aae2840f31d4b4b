//! Centiloc's JSON topics: item updates (`centiloc/<tenant>/json/item/v1/update`) and
//! board updates (`.../json/board/v1/update`), with the fields SPEC lists. Fields may be
//! masked by the subscription (present but empty or null), so every field is optional
//! and a value of the wrong shape reads as absent rather than failing the whole event;
//! fields we do not know are kept and shown in `--format json`.

use std::fmt::Write as _;

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::output::safe;

/// A field that reads as absent when the subscription masks it (null or "") or when its
/// value has the wrong shape, so one odd field never fails the whole event. Derefs to
/// `Option<T>` for the summary line.
#[derive(Debug, Clone, PartialEq)]
pub struct Lenient<T>(pub Option<T>);

impl<T> Default for Lenient<T> {
    fn default() -> Self {
        Lenient(None)
    }
}

impl<T> std::ops::Deref for Lenient<T> {
    type Target = Option<T>;
    fn deref(&self) -> &Option<T> {
        &self.0
    }
}

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        lenient(d).map(Lenient)
    }
}

/// One item update (Centiloc "item event").
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ItemUpdate {
    pub momentum: Lenient<String>,
    pub uid: Lenient<String>,
    pub is_in: Lenient<bool>,
    pub pos_mm: Lenient<Vec<i32>>,
    pub board_sn: Lenient<String>,
    pub nb_hits: Lenient<i32>,
    /// A Go `time.Duration`: integer nanoseconds.
    pub hold_time: Lenient<i64>,
    pub fill_ratio: Lenient<f64>,
    pub product_reference: Lenient<String>,
    pub shelf_sn: Lenient<String>,
    pub furniture_sn: Lenient<String>,
    pub pos_on_shelf_mm: Lenient<Vec<i32>>,
    pub tenant: Lenient<String>,
    pub loc_reference: Lenient<String>,
    pub loc_labels: Lenient<Vec<String>>,
    pub item_labels: Lenient<Vec<String>>,
    pub pos_on_floor_mm: Lenient<Vec<i32>>,
    pub floor: Lenient<i32>,
    pub is_interpolated: Lenient<bool>,
    /// Fields this version does not know, kept as they came.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// One board update (Centiloc "board event"); Go-style field names, as published.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct BoardUpdate {
    pub momentum: Lenient<String>,
    #[serde(rename = "BoardSN")]
    pub board_sn: Lenient<String>,
    /// A number (CONNECTED=0, DISCONNECTED=1, ONERROR=2, MAINTENANCE=3) or its name.
    pub status: Lenient<Value>,
    pub fw_version: Lenient<String>,
    pub last_connection_date: Lenient<String>,
    pub last_disconnection_date: Lenient<String>,
    pub last_error_date: Lenient<String>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// What a JSON payload turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonPayload {
    /// An item update: its fields as read for the summary line, and the object as it
    /// came, which `--format json` shows (a masked field stays present and empty there:
    /// SPEC says masked fields are "present but empty", which is not "absent").
    Item { update: Box<ItemUpdate>, raw: Value },
    /// A board update, the same way.
    Board { update: BoardUpdate, raw: Value },
    /// An array of events (each element read on its own).
    Batch(Vec<JsonPayload>),
    /// Valid JSON that is neither: shown as is.
    Other(Value),
}

/// Malformed JSON: serde's position and a terminal-safe start of the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    pub reason: String,
    pub preview: String,
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (payload: {})", self.reason, self.preview)
    }
}

impl std::error::Error for JsonError {}

/// Reads a field for the summary line, taking null, "" and values of the wrong type as
/// "masked" (not shown). `--format json` shows the payload's own values instead.
fn lenient<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let v = Value::deserialize(d)?;
    if v.is_null() || v.as_str() == Some("") {
        return Ok(None);
    }
    Ok(serde_json::from_value(v).ok())
}

/// How many bytes of a bad payload the error shows.
const PREVIEW_BYTES: usize = 80;

fn preview(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(PREVIEW_BYTES)];
    let text = String::from_utf8_lossy(cut);
    let mut s = safe(&text).into_owned();
    if bytes.len() > PREVIEW_BYTES {
        s.push_str("...");
    }
    s
}

/// `bytes` without a leading UTF-8 byte order mark (RFC 8259 section 8.1 lets a parser
/// ignore one; serde_json does not, and Windows tools write one).
pub fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes)
}

/// Parses a JSON payload and recognises Centiloc events in it.
pub fn decode(bytes: &[u8]) -> Result<JsonPayload, JsonError> {
    let bytes = strip_bom(bytes);
    let value: Value = serde_json::from_slice(bytes).map_err(|e| JsonError {
        reason: format!("not valid JSON: {e}"),
        preview: preview(bytes),
    })?;
    Ok(classify(value))
}

fn classify(value: Value) -> JsonPayload {
    match value {
        Value::Object(ref o) if o.contains_key("uid") || o.contains_key("is_in") => {
            match ItemUpdate::deserialize(&value) {
                Ok(item) => JsonPayload::Item {
                    update: Box::new(item),
                    raw: value,
                },
                Err(_) => JsonPayload::Other(value),
            }
        }
        Value::Object(ref o) if o.contains_key("BoardSN") => match BoardUpdate::deserialize(&value)
        {
            Ok(board) => JsonPayload::Board {
                update: board,
                raw: value,
            },
            Err(_) => JsonPayload::Other(value),
        },
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_object) => {
            JsonPayload::Batch(items.into_iter().map(classify).collect())
        }
        other => JsonPayload::Other(other),
    }
}

impl JsonPayload {
    /// One line per event (a batch: one per element); other JSON pretty-printed. Payload
    /// text passes through [`safe`].
    pub fn to_text(&self) -> String {
        match self {
            JsonPayload::Item { update, .. } => safe(&update.summary()).into_owned(),
            JsonPayload::Board { update, .. } => safe(&update.summary()).into_owned(),
            JsonPayload::Batch(v) => v
                .iter()
                .map(JsonPayload::to_text)
                .collect::<Vec<_>>()
                .join("\n"),
            JsonPayload::Other(v) => {
                let text = serde_json::to_string_pretty(v).unwrap_or_default();
                safe_multiline(&text)
            }
        }
    }

    /// The payload as it came: every field, known or not, masked ones included.
    pub fn to_json(&self) -> Value {
        match self {
            JsonPayload::Item { raw, .. } | JsonPayload::Board { raw, .. } => raw.clone(),
            JsonPayload::Batch(v) => Value::Array(v.iter().map(JsonPayload::to_json).collect()),
            JsonPayload::Other(v) => v.clone(),
        }
    }
}

/// Pretty JSON keeps its line breaks; each line is made safe (serde already escapes
/// controls inside strings, this also covers bidi overrides).
fn safe_multiline(text: &str) -> String {
    text.lines()
        .map(|l| safe(l).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

impl ItemUpdate {
    /// e.g. `item E004015012345678 IN board CB-000123 pos 120,45 mm hold 1.5s @ 2026-11-25T10:00:00Z`
    pub fn summary(&self) -> String {
        let mut s = format!("item {}", self.uid.as_deref().unwrap_or("?"));
        match *self.is_in {
            Some(true) => s.push_str(" IN"),
            Some(false) => s.push_str(" OUT"),
            None => {}
        }
        if let Some(b) = &*self.board_sn {
            let _ = write!(s, " board {b}");
        }
        if let Some(p) = self.pos_mm.as_deref().filter(|p| !p.is_empty()) {
            let _ = write!(s, " pos {} mm", join(p));
        }
        if let Some(h) = *self.hold_time {
            let _ = write!(s, " hold {}", go_duration(h));
        }
        if let Some(m) = &*self.momentum {
            let _ = write!(s, " @ {m}");
        }
        s
    }
}

impl BoardUpdate {
    /// e.g. `board CB-000123 DISCONNECTED fw 2.4.1 @ 2026-11-25T10:00:00Z`
    pub fn summary(&self) -> String {
        let mut s = format!("board {}", self.board_sn.as_deref().unwrap_or("?"));
        if let Some(st) = &*self.status {
            let _ = write!(s, " {}", board_status(st));
        }
        if let Some(fw) = &*self.fw_version {
            let _ = write!(s, " fw {fw}");
        }
        if let Some(m) = &*self.momentum {
            let _ = write!(s, " @ {m}");
        }
        s
    }
}

/// Board status names (SPEC: Facts about the Centiloc side).
fn board_status(v: &Value) -> String {
    match v.as_i64() {
        Some(0) => "CONNECTED".into(),
        Some(1) => "DISCONNECTED".into(),
        Some(2) => "ONERROR".into(),
        Some(3) => "MAINTENANCE".into(),
        Some(n) => format!("status {n}"),
        None => match v.as_str() {
            Some(s) => s.to_owned(),
            None => v.to_string(),
        },
    }
}

fn join(p: &[i32]) -> String {
    p.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}

/// Nanoseconds as seconds with only the digits needed: 1500000000 -> "1.5s".
fn go_duration(nanos: i64) -> String {
    let sign = if nanos < 0 { "-" } else { "" };
    let n = nanos.unsigned_abs();
    let whole = n / 1_000_000_000;
    let frac = n % 1_000_000_000;
    if frac == 0 {
        format!("{sign}{whole}s")
    } else {
        let f = format!("{frac:09}");
        format!("{sign}{whole}.{}s", f.trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_go() {
        assert_eq!(go_duration(1_500_000_000), "1.5s");
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(250_000_000), "0.25s");
        assert_eq!(go_duration(-2_000_000_000), "-2s");
    }

    #[test]
    fn masked_fields_are_absent() {
        let p = decode(br#"{"uid":"E1","is_in":"","pos_mm":null,"board_sn":""}"#).unwrap();
        assert_eq!(p.to_text(), "item E1");
    }
}
