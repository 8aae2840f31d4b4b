//! How `check-expiry` reports: text lines for people, one JSON document for scripts;
//! the Prometheus and monitoring-plugins forms are [`super::prometheus`] and
//! [`super::nagios`]. Certificate text is untrusted: it goes through `output::safe`
//! (text), serde's escaping (JSON) or label escaping (Prometheus).

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{Checked, Kind, Problem};
use crate::cli::ExpiryFormat;
use crate::context::Ctx;
use crate::expiry::State;
use crate::fix::Fix;
use crate::output::safe;
use crate::time::{self, rfc3339};

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
        ExpiryFormat::Text => text(ctx, checked, nothing, now),
        ExpiryFormat::Json => json(ctx, checked, nothing, now),
        ExpiryFormat::Prometheus => super::prometheus::render(checked, now),
        ExpiryFormat::Nagios => super::nagios::render(ctx, checked, nothing, now),
    }
}

/// One line per certificate, worst first (Icinga/Nagios severity: CRITICAL, UNKNOWN,
/// WARNING, OK), so the first line carries the overall state as monitoring plugins
/// expect. `--quiet` keeps only the lines that need action: silent while all is well, so
/// cron mails only when there is something to do.
fn text(ctx: &Ctx, checked: &[Checked], nothing: Option<&str>, now: DateTime<Utc>) -> String {
    let mut order: Vec<&Checked> = checked.iter().collect();
    order.sort_by_key(|c| std::cmp::Reverse(c.state()));
    let mut out = String::with_capacity(checked.len() * 120);
    if let Some(why) = nothing {
        let _ = writeln!(out, "{} {}", State::Unknown.as_str(), safe(why));
    }
    for c in order {
        if ctx.out.quiet && c.state() == State::Ok {
            continue;
        }
        let _ = writeln!(out, "{}", line(ctx, c, now));
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
            let kind = if c.kind == Kind::Ca { "CA" } else { "client" };
            format!("{}{tenant} {kind} certificate", o.name)
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
    if let Some(since) = c.pending_since() {
        let _ = write!(
            s,
            "; renewal CSR made on {}, waiting for the signed certificate",
            time::day(since)
        );
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
        Kind::Ca => vec![
            "Download Centiloc's current CA certificate (ca-cert.pem) from Centiloc's User-MQTT documentation or support.".into(),
            ctx.fix_for(&o.name, Fix::InstallCa),
        ],
        _ => {
            let mut steps = Vec::new();
            if o.pending_since.is_none() {
                steps.push(ctx.fix_for(&o.name, Fix::Renew));
            }
            steps.push(format!(
                "Send {} to Centiloc support (if not done yet); they answer within one working day.",
                pending.display()
            ));
            steps.push(ctx.fix_for(&o.name, Fix::InstallCert));
            steps
        }
    }
}

/// One document; field names are stable (issue 4).
fn json(ctx: &Ctx, checked: &[Checked], nothing: Option<&str>, now: DateTime<Utc>) -> String {
    let worst = checked
        .iter()
        .map(Checked::state)
        .max()
        .unwrap_or(State::Unknown);
    let certs: Vec<serde_json::Value> = checked
        .iter()
        .map(|c| {
            let owner = c.owner.as_ref();
            let tenant = owner
                .and_then(|o| o.profile.as_ref())
                .map(|p| p.tenant.clone());
            let (facts, problem) = match &c.outcome {
                Ok(f) => (Some(f), None),
                Err(Problem::Missing) => (None, Some("missing".to_string())),
                Err(Problem::Unreadable(w) | Problem::BadProfile(w)) => (None, Some(w.clone())),
            };
            json!({
                "profile": owner.map(|o| o.name.clone()),
                "tenant": tenant,
                "kind": c.kind.as_str(),
                "file": c.file,
                "subject": facts.map(|f| f.subject.clone()),
                "serial": facts.map(|f| f.serial.clone()),
                // Computed only with --notify (it keys notices.toml); null otherwise.
                "fingerprint_sha256": facts.map(|f| f.fingerprint.clone()).filter(|f| !f.is_empty()),
                "not_before": facts.map(|f| rfc3339(f.not_before)),
                "not_after": facts.map(|f| rfc3339(f.not_after)),
                "days_left": facts.map(|f| f.verdict.days_left),
                "expired": facts.map(|f| f.verdict.expired),
                "state": c.state().token(),
                // The text report's line for it: the sentence beside the token.
                "summary": line(ctx, c, now),
                "problem": problem,
                "warn_days": c.limits.warn_days,
                "critical_days": c.limits.critical_days,
                "renewal_pending_since": c.pending_since().map(rfc3339),
                "fix": fix(ctx, c),
            })
        })
        .collect();
    let doc = json!({
        "format_version": crate::output::FORMAT_VERSION,
        "state": worst.token(),
        "exit_code": worst.exit_code().code(),
        "checked_at": rfc3339(now),
        // Why nothing was checked (`--all` with no profile); null otherwise.
        "problem": nothing,
        "certificates": certs,
    });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "null".into());
    s.push('\n');
    s
}
