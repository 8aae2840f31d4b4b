//! How `check-expiry` reports: text lines for people, one JSON document for scripts;
//! the Prometheus and monitoring-plugins forms are [`super::prometheus`] and
//! [`super::nagios`]. Certificate text is untrusted: it goes through `output::safe`
//! (text), serde's escaping (JSON) or label escaping (Prometheus).

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Checked, Kind, Problem};
use crate::cli::ExpiryFormat;
use crate::context::Ctx;
use crate::expiry::State;
use crate::fix::Fix;
use crate::output::safe;
use crate::time;

/// The whole report, for stdout or `--output`. `nothing` is why nothing was checked
/// (`--all` in a home with no profile): the text and Nagios reports print it as their
/// UNKNOWN line, the JSON report as `problem`.
pub fn render(
    ctx: &Ctx,
    checked: &[Checked],
    nothing: Option<&str>,
    format: ExpiryFormat,
    now: DateTime<Utc>,
) -> String {
    match format {
        ExpiryFormat::Text => {
            // `--quiet` prints only what needs action: the OK lines are not even made
            // (cron's `--all --quiet` over thousands of profiles, scripts/bench-expiry).
            let shown = |c: &Checked| !(ctx.out.quiet && c.state() == State::Ok);
            text(&Document::new(ctx, checked, shown, nothing, now))
        }
        ExpiryFormat::Json => json(&Document::new(ctx, checked, |_| true, nothing, now)),
        ExpiryFormat::Prometheus => super::prometheus::render(checked, now),
        ExpiryFormat::Nagios => super::nagios::render(ctx, checked, nothing, now),
    }
}

/// One line per certificate, worst first (Icinga/Nagios severity: CRITICAL, UNKNOWN,
/// WARNING, OK), so the first line carries the overall state as monitoring plugins
/// expect. Each line is an entry's `summary`; under `--quiet` the document holds only
/// the lines that need action: silent while all is well, so cron mails only when there
/// is something to do.
fn text(doc: &Document) -> String {
    let mut order: Vec<&Entry> = doc.certificates.iter().collect();
    order.sort_by_key(|e| std::cmp::Reverse(e.rank));
    let mut out = String::with_capacity(doc.certificates.len() * 120);
    if let Some(why) = doc.problem {
        let _ = writeln!(out, "{} {}", State::Unknown.as_str(), safe(why));
    }
    for e in order {
        let _ = writeln!(out, "{}", e.summary);
    }
    out
}

/// `default (acme) client certificate`, or the file for `--cert`.
fn what(c: &Checked) -> String {
    match &c.owner {
        Some(o) => {
            let tenant = o
                .profile
                .as_ref()
                .map(|p| format!(" ({})", safe(&p.tenant)))
                .unwrap_or_default();
            match c.kind {
                Kind::Ca => format!("{}{tenant} CA certificate", o.name),
                Kind::Broker => format!(
                    "{}{tenant} broker certificate ({})",
                    o.name,
                    c.file.display()
                ),
                _ => format!("{}{tenant} client certificate", o.name),
            }
        }
        None => format!("certificate {}", c.file.display()),
    }
}

pub(super) fn line(ctx: &Ctx, c: &Checked, now: DateTime<Utc>) -> String {
    let state = c.state().as_str();
    let what = what(c);
    let f = match &c.outcome {
        Err(Problem::Missing) => {
            return format!(
                "{state} {what}: {} is missing; {}",
                c.file.display(),
                missing_fix(ctx, c)
            );
        }
        Err(Problem::Unreadable(why)) => {
            return format!("{state} {what}: {}; {}", safe(why), unreadable_fix(ctx, c));
        }
        // The sentence names profile.toml and says how to correct it.
        Err(Problem::BadProfile(why)) => return format!("{state} {what}: {}", safe(why)),
        Ok(f) => f,
    };
    let v = &f.verdict;
    // Days as `Certificate::days_left` counts them; below one day, hours (never "0 days").
    let span = crate::time::distance(f.not_after, now);
    let when = if v.expired {
        format!("EXPIRED on {} ({span} ago)", time::when(f.not_after))
    } else if v.days_left == 0 {
        format!(
            "expires {} (within 24 hours: {span} left)",
            time::when(f.not_after)
        )
    } else {
        format!("expires {} ({span} left)", time::when(f.not_after))
    };
    let mut s = format!("{state} {what} {when}, serial {}", safe(&f.serial));
    if v.not_yet_valid {
        let _ = write!(s, ", not valid before {}", time::when(f.not_before));
    }
    if let Some(at) = c.requested_at() {
        let _ = write!(
            s,
            "; {}, no certificate yet",
            crate::autopilot::requested_words(at, now)
        );
    } else if let Some(since) = c.pending_since() {
        let _ = write!(
            s,
            "; renewal CSR made on {}, waiting for the signed certificate",
            time::day(since)
        );
    }
    if let Some(alarm) = &f.alarm {
        let _ = write!(s, "; {}", safe(alarm));
    }
    if c.state() != State::Ok {
        let _ = write!(s, "; {}", renew_fix(ctx, c));
    }
    s
}

/// What to run when the certificate is missing.
fn missing_fix(ctx: &Ctx, c: &Checked) -> String {
    match (&c.owner, c.kind) {
        (Some(o), Kind::Ca) => format!(
            "download Centiloc's CA certificate and run `{}`",
            ctx.fix_for(&o.name, Fix::InstallCa)
        ),
        (Some(o), _) => format!(
            "install the certificate Centiloc support sent with `{}` (no CSR sent yet? `{}`)",
            ctx.fix_for(&o.name, Fix::InstallCert),
            ctx.fix_for(&o.name, Fix::Csr)
        ),
        (None, _) => "check the path".into(),
    }
}

/// What to do about a certificate file that is there but does not parse: install it
/// again (not renew: nothing says it is expiring).
fn unreadable_fix(ctx: &Ctx, c: &Checked) -> String {
    match (&c.owner, c.kind) {
        (Some(o), Kind::Broker) => format!(
            "check the network and [broker] in {} (`{}` shows each stage)",
            o.dir.join(crate::paths::PROFILE_FILE).display(),
            ctx.fix_for(&o.name, Fix::TestConnect)
        ),
        (Some(o), Kind::Ca) => format!(
            "download Centiloc's CA certificate again and run `{}`",
            ctx.fix_for(&o.name, Fix::InstallCa)
        ),
        (Some(o), _) => format!(
            "install the certificate Centiloc support sent again with `{}`",
            ctx.fix_for(&o.name, Fix::InstallCert)
        ),
        (None, _) => "check that the file is a PEM or DER certificate".into(),
    }
}

/// The fix for a line that is not OK, whatever the reason: what the JSON `fix` says.
fn fix(ctx: &Ctx, c: &Checked) -> Option<String> {
    if c.state() == State::Ok {
        return None;
    }
    Some(match &c.outcome {
        Err(Problem::Missing) => missing_fix(ctx, c),
        Err(Problem::Unreadable(_)) => unreadable_fix(ctx, c),
        Err(Problem::BadProfile(_)) => {
            let file = c
                .owner
                .as_ref()
                .map(|o| o.dir.join(crate::paths::PROFILE_FILE).display().to_string())
                .unwrap_or_else(|| "profile.toml".into());
            format!("correct {file} as `problem` says")
        }
        Ok(_) => renew_fix(ctx, c),
    })
}

/// The one-line fix for a WARNING/CRITICAL certificate: the command that renews (SPEC:
/// every warning says which command renews).
pub fn renew_fix(ctx: &Ctx, c: &Checked) -> String {
    match (&c.owner, c.kind) {
        (Some(o), Kind::Broker) if c.outcome.as_ref().is_ok_and(|f| f.alarm.is_some()) => {
            format!(
                "Centiloc may have changed its CA: download the new one, then `{}`",
                ctx.fix_for(&o.name, Fix::InstallCa)
            )
        }
        (Some(_), Kind::Broker) => {
            "Centiloc renews its broker's certificate: if it is not replaced in time, tell Centiloc support".into()
        }
        (Some(o), Kind::Ca) => format!(
            "get Centiloc's current CA certificate and run `{}`",
            ctx.fix_for(&o.name, Fix::InstallCa)
        ),
        (Some(o), _) if c.pending_since().is_some() => format!(
            "when support returns the certificate, run `{}`",
            ctx.fix_for(&o.name, Fix::InstallCert)
        ),
        (Some(o), _) => format!(
            "renew with `{}`, send the new CSR to Centiloc support, then `{}`",
            ctx.fix_for(&o.name, Fix::Renew),
            ctx.fix_for(&o.name, Fix::InstallCert)
        ),
        (None, _) => format!(
            "renew it with its issuer (for a profile's certificate: `{}`)",
            ctx.fix(Fix::Renew)
        ),
    }
}

/// The exact renewal steps, for e-mail notices.
pub fn renew_steps(ctx: &Ctx, c: &Checked) -> Vec<String> {
    let Some(o) = &c.owner else {
        return vec![renew_fix(ctx, c)];
    };
    let pending = o.dir.join("pending").join(crate::paths::CSR_FILE);
    match c.kind {
        Kind::Broker => vec![renew_fix(ctx, c)],
        Kind::Ca => vec![
            "Download Centiloc's current CA certificate (ca-cert.pem) from Centiloc's User-MQTT documentation or support.".into(),
            ctx.fix_for(&o.name, Fix::InstallCa),
        ],
        _ => {
            let mut steps = Vec::new();
            if o.pending_since.is_none() {
                steps.push(ctx.fix_for(&o.name, Fix::Renew));
            }
            match o.request.as_ref().and_then(|r| r.requested()) {
                Some(at) => steps.push(format!(
                    "Wait for Centiloc support's answer to {} (e-mailed on {}; they are reminded at each notice threshold).",
                    pending.display(),
                    crate::time::day(at)
                )),
                None => steps.push(format!(
                    "Send {} to Centiloc support (if not done yet); they answer within one working day.",
                    pending.display()
                )),
            }
            steps.push(ctx.fix_for(&o.name, Fix::InstallCert));
            steps
        }
    }
}

/// The whole `check-expiry` report: the JSON document, and what the text lines are
/// made from (each entry's `summary`). Field names are stable (issue 4; docs/expiry.md).
#[derive(Serialize)]
struct Document<'a> {
    format_version: u32,
    state: &'static str,
    exit_code: u8,
    #[serde(serialize_with = "time::json")]
    checked_at: DateTime<Utc>,
    /// Why nothing was checked (`--all` with no profile); null otherwise.
    problem: Option<&'a str>,
    certificates: Vec<Entry<'a>>,
}

impl<'a> Document<'a> {
    /// The document of `checked`, with an entry for those `shown` lets through (the
    /// overall state is still that of all of them).
    fn new(
        ctx: &Ctx,
        checked: &'a [Checked],
        shown: impl Fn(&Checked) -> bool,
        nothing: Option<&'a str>,
        now: DateTime<Utc>,
    ) -> Self {
        let worst = checked
            .iter()
            .map(Checked::state)
            .max()
            .unwrap_or(State::Unknown);
        Document {
            format_version: crate::output::FORMAT_VERSION,
            state: worst.token(),
            exit_code: worst.exit_code().code(),
            checked_at: now,
            problem: nothing,
            certificates: checked
                .iter()
                .filter(|c| shown(c))
                .map(|c| Entry::new(ctx, c, now))
                .collect(),
        }
    }
}

/// One certificate's line.
#[derive(Serialize)]
struct Entry<'a> {
    profile: Option<&'a str>,
    tenant: Option<&'a str>,
    kind: &'static str,
    #[serde(serialize_with = "crate::output::path")]
    file: &'a std::path::Path,
    subject: Option<&'a str>,
    serial: Option<&'a str>,
    /// Computed only with --notify (it keys notices.toml); null otherwise.
    fingerprint_sha256: Option<&'a str>,
    #[serde(serialize_with = "time::json_opt")]
    not_before: Option<DateTime<Utc>>,
    #[serde(serialize_with = "time::json_opt")]
    not_after: Option<DateTime<Utc>>,
    days_left: Option<i64>,
    expired: Option<bool>,
    /// The token; `summary` is the text report's line for it, the sentence beside it.
    state: &'static str,
    summary: String,
    problem: Option<&'a str>,
    warn_days: u32,
    critical_days: u32,
    #[serde(serialize_with = "time::json_opt")]
    renewal_pending_since: Option<DateTime<Utc>>,
    alarm: Option<&'a str>,
    #[serde(serialize_with = "time::json_opt")]
    renewal_requested_at: Option<DateTime<Utc>>,
    renewal_requested_to: Option<&'a str>,
    fix: Option<String>,
    /// The state for ordering the text lines (the token's order is not severity's).
    #[serde(skip)]
    rank: State,
}

impl<'a> Entry<'a> {
    fn new(ctx: &Ctx, c: &'a Checked, now: DateTime<Utc>) -> Self {
        let owner = c.owner.as_deref();
        let facts = c.outcome.as_ref().ok();
        let problem = match &c.outcome {
            Ok(_) => None,
            Err(Problem::Missing) => Some("missing"),
            Err(Problem::Unreadable(w) | Problem::BadProfile(w)) => Some(w.as_str()),
        };
        let requested_at = c.requested_at();
        Entry {
            profile: owner.map(|o| o.name.as_str()),
            tenant: owner
                .and_then(|o| o.profile.as_ref())
                .map(|p| p.tenant.as_str()),
            kind: c.kind.as_str(),
            file: &c.file,
            subject: facts.map(|f| f.subject.as_str()),
            serial: facts.map(|f| f.serial.as_str()),
            fingerprint_sha256: facts
                .map(|f| f.fingerprint.as_str())
                .filter(|f| !f.is_empty()),
            not_before: facts.map(|f| f.not_before),
            not_after: facts.map(|f| f.not_after),
            days_left: facts.map(|f| f.verdict.days_left),
            expired: facts.map(|f| f.verdict.expired),
            state: c.state().token(),
            summary: line(ctx, c, now),
            problem,
            warn_days: c.limits.warn_days,
            critical_days: c.limits.critical_days,
            renewal_pending_since: c.pending_since(),
            alarm: facts.and_then(|f| f.alarm.as_deref()),
            renewal_requested_at: requested_at,
            renewal_requested_to: requested_at
                .and(owner.and_then(|o| o.request.as_ref()))
                .and_then(|r| r.to.as_deref()),
            fix: fix(ctx, c),
            rank: c.state(),
        }
    }
}

fn json(doc: &Document) -> String {
    let mut s = serde_json::to_string_pretty(doc).unwrap_or_else(|_| "null".into());
    s.push('\n');
    s
}
