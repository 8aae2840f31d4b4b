//! How `check-expiry` reports: text lines for people and monitoring plugins, one JSON
//! document for scripts, the Prometheus text exposition format for node_exporter's
//! textfile collector. Certificate text is untrusted: it goes through `output::safe`
//! (text), serde's escaping (JSON) or label escaping (Prometheus).

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{Checked, Facts, Kind, Problem};
use crate::cli::ExpiryFormat;
use crate::context::Ctx;
use crate::expiry::State;
use crate::output::safe;
use crate::time::{self, rfc3339};

/// `nothing` is why nothing was checked (`--all` in a home with no profile): the text
/// report prints it as its one UNKNOWN line, the JSON report as `problem`.
pub fn print(
    ctx: &Ctx,
    checked: &[Checked],
    nothing: Option<&str>,
    format: ExpiryFormat,
    now: DateTime<Utc>,
) {
    let text = match format {
        ExpiryFormat::Text => text(ctx, checked, nothing, now),
        ExpiryFormat::Json => json(ctx, checked, nothing, now),
        ExpiryFormat::Prometheus => prometheus(checked, now),
    };
    // One write for the whole report: 10,000 lines must not cost 10,000 syscalls.
    crate::output::write_stdout(text.as_bytes());
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

fn line(ctx: &Ctx, c: &Checked, now: DateTime<Utc>) -> String {
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
            ctx.cmd_for(&o.name, "install-ca ca-cert.pem")
        ),
        (Some(o), _) => format!(
            "install the certificate Centiloc support sent with `{}` (no CSR sent yet? `{}`)",
            ctx.cmd_for(&o.name, "install-cert tls-cert.pem"),
            ctx.cmd_for(&o.name, "csr")
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
            ctx.cmd_for(&o.name, "test-connect")
        ),
        (Some(o), Kind::Ca) => format!(
            "download Centiloc's CA certificate again and run `{}`",
            ctx.cmd_for(&o.name, "install-ca ca-cert.pem")
        ),
        (Some(o), _) => format!(
            "install the certificate Centiloc support sent again with `{}`",
            ctx.cmd_for(&o.name, "install-cert tls-cert.pem")
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
                ctx.cmd_for(&o.name, "install-ca ca-cert.pem")
            )
        }
        (Some(_), Kind::Broker) => {
            "Centiloc renews its broker's certificate: if it is not replaced in time, tell Centiloc support".into()
        }
        (Some(o), Kind::Ca) => format!(
            "get Centiloc's current CA certificate and run `{}`",
            ctx.cmd_for(&o.name, "install-ca ca-cert.pem")
        ),
        (Some(o), _) if c.pending_since().is_some() => format!(
            "when support returns the certificate, run `{}`",
            ctx.cmd_for(&o.name, "install-cert tls-cert.pem")
        ),
        (Some(o), _) => format!(
            "renew with `{}`, send the new CSR to Centiloc support, then `{}`",
            ctx.cmd_for(&o.name, "renew"),
            ctx.cmd_for(&o.name, "install-cert tls-cert.pem")
        ),
        (None, _) => format!(
            "renew it with its issuer (for a profile's certificate: `{}`)",
            ctx.cmd("renew")
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
            ctx.cmd_for(&o.name, "install-ca ca-cert.pem"),
        ],
        _ => {
            let mut steps = Vec::new();
            if o.pending_since.is_none() {
                steps.push(ctx.cmd_for(&o.name, "renew"));
            }
            match o.request.as_ref().and_then(|r| r.requested()) {
                Some(at) => steps.push(format!(
                    "Wait for Centiloc support's answer to {} (e-mailed on {}; they are reminded at each notice threshold).",
                    pending.display(),
                    at.format("%Y-%m-%d")
                )),
                None => steps.push(format!(
                    "Send {} to Centiloc support (if not done yet); they answer within one working day.",
                    pending.display()
                )),
            }
            steps.push(ctx.cmd_for(&o.name, "install-cert tls-cert.pem"));
            steps
        }
    }
}

fn facts(c: &Checked) -> Option<&Facts> {
    c.outcome.as_ref().ok()
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
                "state": c.state().as_str(),
                "problem": problem,
                "warn_days": c.limits.warn_days,
                "critical_days": c.limits.critical_days,
                "renewal_pending_since": c.pending_since().map(rfc3339),
                "alarm": facts.and_then(|f| f.alarm.clone()),
                "renewal_requested_at": c.requested_at().map(rfc3339),
                "renewal_requested_to": c.requested_at().and(owner.and_then(|o| o.request.as_ref())).and_then(|r| r.to.clone()),
                "fix": fix(ctx, c),
            })
        })
        .collect();
    let doc = json!({
        "state": worst.as_str(),
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

/// Prometheus label value escaping: backslash, double quote and line feed.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The text exposition format, every metric family with `# HELP` and `# TYPE`, samples
/// labelled by profile, tenant and kind.
fn prometheus(checked: &[Checked], now: DateTime<Utc>) -> String {
    let labels: Vec<String> = checked
        .iter()
        .map(|c| {
            let owner = c.owner.as_ref();
            let profile = owner.map(|o| o.name.clone()).unwrap_or_default();
            let tenant = match owner {
                Some(o) => o
                    .profile
                    .as_ref()
                    .map(|p| p.tenant.clone())
                    .unwrap_or_default(),
                None => c
                    .outcome
                    .as_ref()
                    .ok()
                    .and_then(|f| f.common_name.clone())
                    .unwrap_or_default(),
            };
            let mut l = format!(
                "profile=\"{}\",tenant=\"{}\",kind=\"{}\"",
                label(&profile),
                label(&tenant),
                c.kind.as_str()
            );
            if owner.is_none() {
                let _ = write!(l, ",file=\"{}\"", label(&c.file.display().to_string()));
            }
            l
        })
        .collect();
    let mut out = String::with_capacity(checked.len() * 400);
    let mut family = |name: &str, help: &str, value: &dyn Fn(&Checked) -> Option<String>| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        for (c, l) in checked.iter().zip(&labels) {
            if let Some(v) = value(c) {
                let _ = writeln!(out, "{name}{{{l}}} {v}");
            }
        }
    };
    family(
        "centiloc_cert_not_after_timestamp_seconds",
        "Certificate notAfter as a Unix timestamp.",
        &|c| facts(c).map(|f| f.not_after.timestamp().to_string()),
    );
    family(
        "centiloc_cert_not_before_timestamp_seconds",
        "Certificate notBefore as a Unix timestamp.",
        &|c| facts(c).map(|f| f.not_before.timestamp().to_string()),
    );
    family(
        "centiloc_cert_days_left",
        "Whole days until notAfter, negative once expired.",
        &|c| facts(c).map(|f| f.verdict.days_left.to_string()),
    );
    family(
        "centiloc_cert_state",
        "Expiry state: 0 OK, 1 WARNING, 2 CRITICAL or expired, 3 UNKNOWN (missing or unreadable).",
        &|c| Some(c.state().value().to_string()),
    );
    family(
        "centiloc_cert_renewal_pending",
        "1 when a renewal CSR is waiting for its signed certificate (client certificates only: a renewal never replaces the CA).",
        &|c| {
            c.owner
                .as_ref()
                .map(|_| u8::from(c.pending_since().is_some()).to_string())
        },
    );
    family(
        "centiloc_cert_renewal_requested_timestamp_seconds",
        "When the pending renewal's CSR was e-mailed to Centiloc support, as a Unix timestamp (client certificates with such a request only).",
        &|c| c.requested_at().map(|t| t.timestamp().to_string()),
    );
    let _ = writeln!(
        out,
        "# HELP centiloc_cert_check_timestamp_seconds When check-expiry ran, as a Unix timestamp.\n# TYPE centiloc_cert_check_timestamp_seconds gauge\ncentiloc_cert_check_timestamp_seconds {}",
        now.timestamp()
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
