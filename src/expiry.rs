//! Expiry verdicts, as pure functions of (notBefore, notAfter, now, thresholds): no clock,
//! no files (STYLE 5). `check-expiry` feeds them; the unit tests below pin every edge.
//!
//! States follow the monitoring-plugin convention SPEC fixes for `check-expiry`'s exit
//! code: 0 OK, 1 WARNING, 2 CRITICAL (or expired), 3 UNKNOWN.

use chrono::{DateTime, Utc};

use crate::exit_codes::ExitCode;

pub const DEFAULT_WARN_DAYS: u32 = 30;
pub const DEFAULT_CRITICAL_DAYS: u32 = 7;
/// SPEC: notices at 30, 14, 7, 3, 1 days and at expiry.
pub const DEFAULT_NOTICE_DAYS: [u32; 5] = [30, 14, 7, 3, 1];

/// The outcome of one check. Ordered so that the worst of several is `max()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    Ok,
    Warning,
    Critical,
    /// Missing or unreadable certificate.
    Unknown,
}

impl State {
    /// The word monitoring plugins print first.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Ok => "OK",
            State::Warning => "WARNING",
            State::Critical => "CRITICAL",
            State::Unknown => "UNKNOWN",
        }
    }

    pub fn exit_code(self) -> ExitCode {
        match self {
            State::Ok => ExitCode::Ok,
            State::Warning => ExitCode::Warning,
            State::Critical => ExitCode::Critical,
            State::Unknown => ExitCode::Unknown,
        }
    }

    /// The number Prometheus gets (the same as the exit code).
    pub fn value(self) -> u8 {
        self.exit_code().code()
    }
}

/// Days before notAfter at which to warn and to go critical.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub warn_days: u32,
    pub critical_days: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            warn_days: DEFAULT_WARN_DAYS,
            critical_days: DEFAULT_CRITICAL_DAYS,
        }
    }
}

/// Where a certificate stands at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub state: State,
    /// Whole days until notAfter, rounded toward minus infinity: 0 means "expires within
    /// 24 hours", -1 "expired less than a day ago".
    pub days_left: i64,
    pub expired: bool,
    pub not_yet_valid: bool,
}

/// The verdict for a certificate valid from `not_before` to `not_after`, seen at `now`.
///
/// Expired is CRITICAL; within `critical_days` of notAfter (inclusive) CRITICAL; within
/// `warn_days` WARNING. A certificate that is not valid yet cannot connect today, so it
/// is at least a WARNING (its expiry verdict still applies if worse).
pub fn verdict(
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
    now: DateTime<Utc>,
    limits: Limits,
) -> Verdict {
    let days_left = days_left(not_after, now);
    let expired = now > not_after;
    let not_yet_valid = now < not_before;
    let mut state = if expired || days_left <= i64::from(limits.critical_days) {
        State::Critical
    } else if days_left <= i64::from(limits.warn_days) {
        State::Warning
    } else {
        State::Ok
    };
    if not_yet_valid {
        state = state.max(State::Warning);
    }
    Verdict {
        state,
        days_left,
        expired,
        not_yet_valid,
    }
}

/// Whole days from `now` to `not_after`, floored (same rule as `Certificate::days_left`).
pub fn days_left(not_after: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    (not_after - now).num_seconds().div_euclid(86_400)
}

/// A notice threshold: "N days left" or "expired". Stored in `notices.toml` by its
/// [`Notice::key`], so the words there are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Notice {
    Days(u32),
    Expired,
}

impl Notice {
    pub fn key(self) -> String {
        match self {
            Notice::Days(n) => n.to_string(),
            Notice::Expired => "expired".into(),
        }
    }
}

/// The most urgent notice threshold the certificate has crossed at `now`, if any.
///
/// Counted like the verdict's `days_left <= warn_days`: with thresholds 30/14/7/3/1,
/// 30 or 24 days left has crossed 30; 10 days left has crossed
/// 14 (and 30, but one message about the nearer deadline is what a person needs when a
/// daily run was missed); past notAfter it is [`Notice::Expired`].
pub fn crossed_notice(
    not_after: DateTime<Utc>,
    now: DateTime<Utc>,
    thresholds: &[u32],
) -> Option<Notice> {
    if now > not_after {
        return Some(Notice::Expired);
    }
    let left = days_left(not_after, now);
    thresholds
        .iter()
        .copied()
        .filter(|t| left <= i64::from(*t))
        .min()
        .map(Notice::Days)
}

/// The notice to send now, given the keys already sent for this certificate: the crossed
/// threshold, unless it (or a more urgent one) went out already. Once per threshold per
/// certificate (SPEC: `--notify`).
pub fn notice_due(
    not_after: DateTime<Utc>,
    now: DateTime<Utc>,
    thresholds: &[u32],
    sent: &[String],
) -> Option<Notice> {
    let due = crossed_notice(not_after, now, thresholds)?;
    let already = sent.iter().any(|k| match parse_key(k) {
        Some(s) => urgency(s) >= urgency(due),
        None => false,
    });
    (!already).then_some(due)
}

fn parse_key(k: &str) -> Option<Notice> {
    if k == "expired" {
        Some(Notice::Expired)
    } else {
        k.parse().ok().map(Notice::Days)
    }
}

/// Higher is more urgent: fewer days left, and expiry above all.
fn urgency(n: Notice) -> i64 {
    match n {
        Notice::Expired => i64::MAX,
        Notice::Days(d) => -i64::from(d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn v(days_from_now: i64) -> Verdict {
        let now = at("2026-06-01T12:00:00Z");
        verdict(
            now - Duration::days(365),
            now + Duration::days(days_from_now),
            now,
            Limits::default(),
        )
    }

    #[test]
    fn states_by_days_left() {
        assert_eq!(v(200).state, State::Ok);
        assert_eq!(v(31).state, State::Ok);
        assert_eq!(v(30).state, State::Warning);
        assert_eq!(v(25).state, State::Warning);
        assert_eq!(v(8).state, State::Warning);
        assert_eq!(v(7).state, State::Critical);
        assert_eq!(v(5).state, State::Critical);
        assert_eq!(v(0).state, State::Critical);
        let gone = v(-1);
        assert_eq!(
            (gone.state, gone.expired, gone.days_left),
            (State::Critical, true, -1)
        );
    }

    #[test]
    fn days_left_floors() {
        let now = at("2026-06-01T12:00:00Z");
        assert_eq!(days_left(now + Duration::hours(23), now), 0);
        assert_eq!(days_left(now + Duration::hours(25), now), 1);
        assert_eq!(days_left(now - Duration::seconds(1), now), -1);
    }

    #[test]
    fn expired_by_one_second_is_critical_even_with_zero_limits() {
        let now = at("2026-06-01T12:00:00Z");
        let limits = Limits {
            warn_days: 0,
            critical_days: 0,
        };
        let r = verdict(
            now - Duration::days(1),
            now - Duration::seconds(1),
            now,
            limits,
        );
        assert!(r.expired);
        assert_eq!(r.state, State::Critical);
    }

    #[test]
    fn not_yet_valid_is_at_least_a_warning() {
        let now = at("2026-06-01T12:00:00Z");
        let r = verdict(
            now + Duration::days(1),
            now + Duration::days(366),
            now,
            Limits::default(),
        );
        assert!(r.not_yet_valid);
        assert_eq!(r.state, State::Warning);
    }

    #[test]
    fn worst_state_is_max() {
        let all = [State::Warning, State::Ok, State::Unknown, State::Critical];
        assert_eq!(all.iter().max(), Some(&State::Unknown));
        assert_eq!(State::Critical.exit_code().code(), 2);
    }

    #[test]
    fn notices_once_per_threshold() {
        let now = at("2026-06-01T12:00:00Z");
        let t = DEFAULT_NOTICE_DAYS;
        let after = |d: i64| now + Duration::days(d) + Duration::hours(1);
        assert_eq!(notice_due(after(200), now, &t, &[]), None);
        assert_eq!(notice_due(after(31), now, &t, &[]), None);
        // 30 days and 1 hour left is "30 days left", as the WARNING state counts it.
        assert_eq!(notice_due(after(30), now, &t, &[]), Some(Notice::Days(30)));
        assert_eq!(notice_due(after(24), now, &t, &[]), Some(Notice::Days(30)));
        let sent = vec!["30".to_string()];
        assert_eq!(notice_due(after(24), now, &t, &sent), None);
        assert_eq!(
            notice_due(after(10), now, &t, &sent),
            Some(Notice::Days(14))
        );
        // A missed run jumps straight to the nearest deadline; the farther ones stay quiet.
        let sent = vec!["7".to_string()];
        assert_eq!(notice_due(after(10), now, &t, &sent), None);
        assert_eq!(notice_due(after(0), now, &t, &sent), Some(Notice::Days(1)));
        let gone = now - Duration::minutes(1);
        assert_eq!(notice_due(gone, now, &t, &sent), Some(Notice::Expired));
        let sent = vec!["expired".to_string()];
        assert_eq!(notice_due(gone, now, &t, &sent), None);
        // Unknown keys (a hand-edited file) are ignored, not fatal.
        let sent = vec!["soon".to_string()];
        assert_eq!(
            notice_due(after(24), now, &t, &sent),
            Some(Notice::Days(30))
        );
    }

    #[test]
    fn custom_and_empty_notice_lists() {
        let now = at("2026-06-01T12:00:00Z");
        let na = now + Duration::days(50);
        assert_eq!(crossed_notice(na, now, &[60]), Some(Notice::Days(60)));
        assert_eq!(crossed_notice(na, now, &[]), None);
        assert_eq!(
            crossed_notice(now - Duration::days(1), now, &[]),
            Some(Notice::Expired)
        );
    }
}
