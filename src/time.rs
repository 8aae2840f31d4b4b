//! How the tool writes times, in one place: [`when`] for a moment in a sentence,
//! [`distance`] for how far one is, [`rfc3339`] for JSON (always UTC with `Z`, never
//! `+00:00`). Every date and span a command prints goes through here, so `status`,
//! `list`, `check-expiry`, the e-mails and the JSON documents agree.

use chrono::{DateTime, SecondsFormat, Utc};

/// A moment as sentences and tables show it: `2026-12-19 10:00 UTC`.
pub fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// A day: `2026-12-19` (when a renewal CSR was made).
pub fn day(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

/// How far `to` is from `from`, in words, without a sign: "24 days", "1 day", and below
/// a day "5 hours", "1 hour" or "less than an hour" (never "0 days" or "0 hours"). Days
/// are whole days truncated toward zero, as [`crate::expiry::days_left`] counts them.
/// The caller says "left", "in" or "ago".
pub fn distance(to: DateTime<Utc>, from: DateTime<Utc>) -> String {
    let span = to - from;
    let days = span.num_days().unsigned_abs();
    let hours = span.num_hours().unsigned_abs();
    let plural = |n: u64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if days > 0 {
        plural(days, "day")
    } else if hours > 0 {
        plural(hours, "hour")
    } else {
        "less than an hour".into()
    }
}

/// A moment in JSON: RFC 3339, whole seconds, UTC as `Z`.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A moment in JSON to the millisecond (when a message was received).
pub fn rfc3339_millis(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `#[serde(serialize_with = "crate::time::json")]` for report fields.
pub fn json<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*t))
}

/// [`json`] for an optional moment (`null` when absent).
pub fn json_opt<S: serde::Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&rfc3339(*t)),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    #[test]
    fn distances_in_words() {
        let now = Utc::now();
        let d = |s: TimeDelta| distance(now + s, now);
        assert_eq!(d(TimeDelta::seconds(75)), "less than an hour");
        assert_eq!(d(TimeDelta::seconds(-75)), "less than an hour");
        assert_eq!(d(TimeDelta::hours(1)), "1 hour");
        assert_eq!(d(TimeDelta::hours(23)), "23 hours");
        assert_eq!(d(TimeDelta::hours(24)), "1 day");
        assert_eq!(d(TimeDelta::days(-3)), "3 days");
    }

    #[test]
    fn json_times_end_in_z() {
        let t = DateTime::parse_from_rfc3339("2026-12-19T10:00:00+00:00")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(rfc3339(t), "2026-12-19T10:00:00Z");
        assert_eq!(when(t), "2026-12-19 10:00 UTC");
        assert_eq!(day(t), "2026-12-19");
    }
}
