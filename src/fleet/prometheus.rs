//! `check-expiry --format prometheus`: the text exposition format for node_exporter's
//! textfile collector. Only facts that stay true go in (timestamps, thresholds, the
//! check time): the shipped rules (contrib/prometheus/centiloc-cert.rules.yml) compute
//! the time left from `time()`, so a cron job that died cannot freeze an alert (issue
//! 13). Base units only, so `promtool check metrics` finds nothing to lint. A
//! certificate's series carry its `serial` and `issuer`: a renewed certificate is a new
//! series, not a jump in an old one. Label values are escaped; certificate text is
//! untrusted.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::{Checked, Facts, Kind};

/// One sample: its label set and its value, `None` when the certificate has none.
type Sample<'a> = (&'a str, Option<String>);

pub fn render(checked: &[Checked], now: DateTime<Utc>) -> String {
    let ids: Vec<String> = checked.iter().map(id_labels).collect();
    let certs: Vec<(String, Option<&Facts>)> = checked
        .iter()
        .zip(&ids)
        .map(|(c, id)| match &c.outcome {
            Ok(f) => (
                format!(
                    "{id},serial=\"{}\",issuer=\"{}\"",
                    label(&f.serial),
                    label(&f.issuer)
                ),
                Some(f),
            ),
            Err(_) => (String::new(), None),
        })
        .collect();
    let mut out = String::with_capacity(checked.len() * 900);
    certificate_families(&mut out, checked, &certs);
    check_families(&mut out, checked, &ids);
    let _ = writeln!(
        out,
        "# HELP centiloc_cert_check_timestamp_seconds When check-expiry ran, as a Unix timestamp.\n# TYPE centiloc_cert_check_timestamp_seconds gauge\ncentiloc_cert_check_timestamp_seconds {}",
        now.timestamp()
    );
    out
}

/// The families of the certificates that could be read, labelled with serial and issuer.
fn certificate_families(out: &mut String, checked: &[Checked], certs: &[(String, Option<&Facts>)]) {
    let samples = |value: &dyn Fn(&Checked, &Facts) -> String| -> Vec<Sample<'_>> {
        checked
            .iter()
            .zip(certs)
            .map(|(c, (l, f))| (l.as_str(), f.map(|f| value(c, f))))
            .collect()
    };
    // The state's own limits in seconds: `days_left <= warn_days` with whole days
    // truncated is "less than warn_days + 1 days left", so rules that compare
    // `notAfter - time() < threshold` agree with check-expiry to the second.
    let limit = |days: u32| ((i64::from(days) + 1) * 86_400).to_string();
    family(
        out,
        "centiloc_cert_not_after_timestamp_seconds",
        "Certificate notAfter (expiry) as a Unix timestamp.",
        samples(&|_, f| f.not_after.timestamp().to_string()),
    );
    family(
        out,
        "centiloc_cert_not_before_timestamp_seconds",
        "Certificate notBefore as a Unix timestamp.",
        samples(&|_, f| f.not_before.timestamp().to_string()),
    );
    family(
        out,
        "centiloc_cert_expired",
        "1 when the certificate had expired at the check, else 0.",
        samples(&|_, f| u8::from(f.verdict.expired).to_string()),
    );
    family(
        out,
        "centiloc_cert_warning_threshold_seconds",
        "check-expiry says WARNING once notAfter is less than this far away: warn_days + 1 days, as days left are whole days truncated.",
        samples(&|c, _| limit(c.limits.warn_days)),
    );
    family(
        out,
        "centiloc_cert_critical_threshold_seconds",
        "check-expiry says CRITICAL once notAfter is less than this far away: critical_days + 1 days, as days left are whole days truncated.",
        samples(&|c, _| limit(c.limits.critical_days)),
    );
}

/// The families of every certificate, readable or not, labelled profile, tenant, kind.
fn check_families(out: &mut String, checked: &[Checked], ids: &[String]) {
    let samples = |value: &dyn Fn(&Checked) -> Option<String>| -> Vec<Sample<'_>> {
        checked
            .iter()
            .zip(ids)
            .map(|(c, l)| (l.as_str(), value(c)))
            .collect()
    };
    family(
        out,
        "centiloc_cert_check_success",
        "1 when the certificate could be read, 0 when it is UNKNOWN (missing, unreadable, or its profile.toml is invalid).",
        samples(&|c| Some(u8::from(c.outcome.is_ok()).to_string())),
    );
    family(
        out,
        "centiloc_cert_state",
        "check-expiry's verdict as its exit code: 0 OK, 1 WARNING, 2 CRITICAL or expired, 3 UNKNOWN.",
        samples(&|c| Some(c.state().value().to_string())),
    );
    family(
        out,
        "centiloc_cert_renewal_pending",
        "1 when a renewal CSR is waiting for its signed certificate (client certificates only: a renewal never replaces the CA).",
        samples(&|c| {
            c.owner
                .as_ref()
                .map(|_| u8::from(c.pending_since().is_some()).to_string())
        }),
    );
    family(
        out,
        "centiloc_cert_renewal_requested_timestamp_seconds",
        "When the pending renewal CSR was sent to Centiloc support, as a Unix timestamp.",
        samples(&|c| {
            let requested = c.owner.as_ref().and_then(|o| o.renewal_requested);
            requested
                .filter(|_| c.kind == Kind::Client)
                .map(|t| t.timestamp().to_string())
        }),
    );
}

/// One gauge family: `# HELP`, `# TYPE`, then a sample per certificate that has a value.
fn family(out: &mut String, name: &str, help: &str, samples: Vec<Sample<'_>>) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    for (labels, value) in samples {
        if let Some(v) = value {
            let _ = writeln!(out, "{name}{{{labels}}} {v}");
        }
    }
}

/// The identity labels of one certificate: profile, tenant, kind (and file for `--cert`).
fn id_labels(c: &Checked) -> String {
    let owner = c.owner.as_ref();
    let profile = owner.map(|o| o.name.as_str()).unwrap_or_default();
    let tenant = match owner {
        Some(o) => o.profile.as_ref().map(|p| p.tenant.as_str()),
        None => c
            .outcome
            .as_ref()
            .ok()
            .and_then(|f| f.common_name.as_deref()),
    };
    let mut l = format!(
        "profile=\"{}\",tenant=\"{}\",kind=\"{}\"",
        label(profile),
        label(tenant.unwrap_or_default()),
        c.kind.as_str()
    );
    if owner.is_none() {
        let _ = write!(l, ",file=\"{}\"", label(&c.file.display().to_string()));
    }
    l
}

/// Prometheus label value escaping: backslash, double quote and line feed.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
