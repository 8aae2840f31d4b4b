//! Expiry verdicts, as pure functions of (notBefore, notAfter, now, thresholds): no clock,
//! no files (STYLE 5). `check-expiry` feeds them; the unit tests below pin every edge.
//!
//! States follow the monitoring-plugin convention SPEC fixes for `check-expiry`'s exit
//! code: 0 OK, 1 WARNING, 2 CRITICAL (or expired), 3 UNKNOWN. The *worst* of several
//! follows Icinga/Nagios severity, which is not the numeric order of the codes:
//! CRITICAL > UNKNOWN > WARNING > OK, so a profile still waiting for its first
//! certificate (UNKNOWN, normal during onboarding) never hides an expired one elsewhere.

use std::path::Path;

use chrono::{DateTime, Utc};

use crate::exit_codes::ExitCode;
use crate::profile::Profile;

pub const DEFAULT_WARN_DAYS: u32 = 30;
pub const DEFAULT_CRITICAL_DAYS: u32 = 7;
/// SPEC: notices at 30, 14, 7, 3, 1 days and at expiry.
pub const DEFAULT_NOTICE_DAYS: [u32; 5] = [30, 14, 7, 3, 1];

/// The outcome of one check. The variants are declared in Icinga/Nagios severity order
/// (OK < WARNING < UNKNOWN < CRITICAL), so the worst of several is `max()`; the exit code
/// and Prometheus value are [`State::exit_code`], not this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    Ok,
    Warning,
    /// Missing or unreadable certificate, or a profile that cannot be read.
    Unknown,
    Critical,
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

    /// The JSON token (SPEC: JSON contract, lowercase).
    pub fn token(self) -> &'static str {
        match self {
            State::Ok => "ok",
            State::Warning => "warning",
            State::Critical => "critical",
            State::Unknown => "unknown",
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

/// Thresholds from the command line; each unset one falls back to the profile, then to
/// the defaults. The command line wins: it is what the person or cron job asked for now.
#[derive(Debug, Clone, Copy, Default)]
pub struct LimitFlags {
    pub warn_days: Option<u32>,
    pub critical_days: Option<u32>,
}

impl LimitFlags {
    pub fn resolve(self, profile: Option<&Profile>) -> Limits {
        let p = profile.map(|p| &p.expiry);
        let d = Limits::default();
        Limits {
            warn_days: self
                .warn_days
                .or(p.and_then(|p| p.warn_days))
                .unwrap_or(d.warn_days),
            critical_days: self
                .critical_days
                .or(p.and_then(|p| p.critical_days))
                .unwrap_or(d.critical_days),
        }
    }

    /// Why the thresholds that apply to a profile contradict each other (critical above
    /// warn), when `profile.toml` set at least one of them; `None` when they are fine.
    /// Both from the command line is a usage error, caught before the scan. Treated as
    /// an invalid `profile.toml` (check-expiry reports it UNKNOWN, naming the file): a
    /// guess at which number was meant could report WARNING for what should be CRITICAL.
    pub fn conflict(self, profile: &Profile, file: &Path) -> Option<String> {
        let l = self.resolve(Some(profile));
        // Only when a value in force came from profile.toml: that file is what to fix.
        let e = &profile.expiry;
        let set = (self.warn_days.is_none() && e.warn_days.is_some())
            || (self.critical_days.is_none() && e.critical_days.is_some());
        if l.critical_days <= l.warn_days || !set {
            return None;
        }
        let source = |flag: Option<u32>, set: Option<u32>, key: &str, v: u32| match (flag, set) {
            (Some(_), _) => format!("--{} {v}", key.replace('_', "-")),
            (None, Some(_)) => format!("[expiry] {key} = {v}"),
            (None, None) => format!("the default {key} {v}"),
        };
        Some(format!(
            "{} is not valid: {} is more than {}, but CRITICAL must come after WARNING; set [expiry] critical_days to at most warn_days there (defaults: warn_days = {}, critical_days = {})",
            file.display(),
            source(
                self.critical_days,
                e.critical_days,
                "critical_days",
                l.critical_days
            ),
            source(self.warn_days, e.warn_days, "warn_days", l.warn_days),
            DEFAULT_WARN_DAYS,
            DEFAULT_CRITICAL_DAYS,
        ))
    }
}

impl Limits {
    /// The limits that apply to `profile` when no flag overrides them: what `status`,
    /// `list` and `test-connect` warn by, the same as a plain `check-expiry`.
    pub fn for_profile(profile: &Profile) -> Limits {
        LimitFlags::default().resolve(Some(profile))
    }
}

/// Where a certificate stands at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub state: State,
    /// Whole days until notAfter, truncated toward zero like `Certificate::days_left`:
    /// 0 means "within 24 hours either side of notAfter" (see `expired`), -2 "expired 2
    /// to 3 days ago".
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

/// Whole days from `now` to `not_after`, truncated toward zero: the same rule as
/// `Certificate::days_left` (29.9 → 29, -2.0001 → -2), so `check-expiry`, `status`,
/// `list` and the e-mails all show the same number (pinned by a unit test).
pub fn days_left(not_after: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    (not_after - now).num_days()
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
    use crate::time::distance;
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
        let gone = v(-2);
        assert_eq!(
            (gone.state, gone.expired, gone.days_left),
            (State::Critical, true, -2)
        );
        let gone = v(-1);
        assert_eq!(
            (gone.state, gone.expired, gone.days_left),
            (State::Critical, true, -1)
        );
    }

    #[test]
    fn days_left_truncates_like_certificate_days_left() {
        let now = at("2026-06-01T12:00:00Z");
        assert_eq!(days_left(now + Duration::hours(23), now), 0);
        assert_eq!(days_left(now + Duration::hours(25), now), 1);
        assert_eq!(days_left(now - Duration::seconds(1), now), 0);
        // The review's case: expired 2 days and 5 seconds ago is "2 days ago", not 3.
        let gone = now - Duration::days(2) - Duration::seconds(5);
        assert_eq!(days_left(gone, now), -2);
        assert_eq!(distance(gone, now), "2 days");
        // Same number as Certificate::days_left for the same certificate, at many offsets.
        let key = crate::keys::PrivateKey::generate(crate::keys::Curve::P256).unwrap();
        let mut params = rcgen::CertificateParams::new(vec![]).unwrap();
        params.not_before = rcgen::date_time_ymd(2025, 6, 1);
        params.not_after = rcgen::date_time_ymd(2026, 6, 1);
        let cert = params.self_signed(&key.signing_key().unwrap()).unwrap();
        let c = crate::cert::Certificate::from_der(cert.der()).unwrap();
        for secs in [
            -400 * 86_400,
            -2 * 86_400 - 5,
            -86_401,
            -86_400,
            -86_399,
            -1,
            0,
            1,
            86_399,
            86_400,
            29 * 86_400 + 86_399,
            200 * 86_400,
        ] {
            let t = c.not_after - Duration::seconds(secs);
            assert_eq!(days_left(c.not_after, t), c.days_left(t), "{secs} s");
        }
    }

    #[test]
    fn distance_never_says_zero_days() {
        let now = at("2026-06-01T12:00:00Z");
        let d = |s: i64| distance(now + Duration::seconds(s), now);
        assert_eq!(d(30 * 86_400 + 3_600), "30 days");
        assert_eq!(d(86_400), "1 day");
        assert_eq!(d(86_399), "23 hours");
        assert_eq!(d(3_600), "1 hour");
        assert_eq!(d(3_599), "less than an hour");
        assert_eq!(d(-7_200), "2 hours");
        assert_eq!(d(-86_400 - 5), "1 day");
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
    fn worst_state_follows_nagios_severity_not_the_exit_code() {
        let all = [State::Warning, State::Ok, State::Unknown, State::Critical];
        assert_eq!(all.iter().max(), Some(&State::Critical));
        assert_eq!(State::Critical.exit_code().code(), 2);
        assert_eq!(State::Unknown.exit_code().code(), 3);
        assert!(State::Unknown > State::Warning && State::Warning > State::Ok);
        assert_eq!(State::Ok.max(State::Unknown), State::Unknown);
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
