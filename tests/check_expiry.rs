//! `check-expiry` end to end: certificates made by `openssl ca` with exact end dates, the
//! exit codes monitoring reads, and the three report formats parsed back.

mod support;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use predicates::prelude::*;
use support::{Ca, TestHome, asn1_time, openssl};

/// One home with four profiles ending in 200, 25, 5 and -1 days.
fn fleet() -> (TestHome, Ca) {
    let h = TestHome::new();
    let ca = Ca::new("Centiloc Test CA");
    for (name, days) in [("p200", 200), ("p25", 25), ("p5", 5), ("expired", -1)] {
        h.profile_expiring_in(&ca, name, &format!("t-{name}"), days);
    }
    (h, ca)
}

fn code(h: &TestHome, args: &[&str]) -> (i32, String, String) {
    let out = h.cmd().args(args).output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn exit_codes_per_profile_and_worst_of_all() {
    let (h, _ca) = fleet();
    for (profile, want, first_word) in [
        ("p200", 0, "OK"),
        ("p25", 1, "WARNING"),
        ("p5", 2, "CRITICAL"),
        ("expired", 2, "CRITICAL"),
    ] {
        let (c, out, _) = code(&h, &["--profile", profile, "check-expiry"]);
        assert_eq!(c, want, "{profile}: {out}");
        let first = out.lines().next().unwrap();
        assert!(first.starts_with(first_word), "{profile}: {out}");
        assert_eq!(out.lines().count(), 2, "client and CA lines: {out}");
    }
    let (_, out, _) = code(&h, &["--profile", "p25", "check-expiry"]);
    assert!(
        out.contains("WARNING p25 (t-p25) client certificate expires")
            && out.contains("(24 days left)"),
        "{out}"
    );
    // Every WARNING/CRITICAL line names the command that renews.
    assert!(
        out.contains(&format!(
            "renew with `centiloc-cert --home {} --profile p25 renew`",
            h.path().display()
        )),
        "{out}"
    );
    let (_, out, _) = code(&h, &["--profile", "expired", "check-expiry"]);
    assert!(out.contains("EXPIRED on"), "{out}");

    let (c, out, _) = code(&h, &["check-expiry", "--all"]);
    assert_eq!(c, 2, "{out}");
    assert_eq!(out.lines().count(), 8, "{out}");
    // Worst first: the first line carries the overall state, as plugins read it.
    assert!(out.lines().next().unwrap().starts_with("CRITICAL"), "{out}");
    assert!(out.lines().last().unwrap().starts_with("OK"), "{out}");

    // A profile waiting for its first certificate (UNKNOWN, normal while onboarding)
    // must not hide an expired one elsewhere: Icinga/Nagios severity, CRITICAL >
    // UNKNOWN > WARNING > OK, for the exit code and for the order of the lines.
    h.profile_with_csr("nocert", "t-nocert");
    let (c, out, _) = code(&h, &["check-expiry", "--all"]);
    assert_eq!(c, 2, "{out}");
    let states: Vec<&str> = out.lines().map(|l| l.split_once(' ').unwrap().0).collect();
    assert_eq!(
        states,
        [
            "CRITICAL", "CRITICAL", "UNKNOWN", "UNKNOWN", "WARNING", "OK", "OK", "OK", "OK", "OK"
        ],
        "{out}"
    );
    let unknown = out
        .lines()
        .find(|l| l.starts_with("UNKNOWN nocert"))
        .unwrap();
    assert!(
        unknown.starts_with("UNKNOWN nocert (t-nocert) client certificate: ")
            && unknown.contains("tls-cert.pem is missing")
            && unknown.contains("install-cert"),
        "{out}"
    );
    let (c, out, _) = code(&h, &["check-expiry", "--all", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (c, &doc["state"], &doc["exit_code"]),
        (2, &"critical".into(), &2.into())
    );
    assert_eq!(doc["format_version"], 1);
    // UNKNOWN still beats WARNING and OK.
    let onboarding = TestHome::new();
    let ca = Ca::new("CA");
    onboarding.profile_expiring_in(&ca, "p25", "t-p25", 25);
    onboarding.profile_with_csr("nocert", "t-nocert");
    let (c, out, _) = code(&onboarding, &["check-expiry", "--all"]);
    assert_eq!(c, 3, "{out}");
    assert!(
        out.starts_with("UNKNOWN nocert (t-nocert) client certificate"),
        "{out}"
    );
}

#[test]
fn day_counts_truncate_like_status_and_never_say_zero_days() {
    let h = TestHome::new();
    let ca = Ca::new("CA");
    let now = chrono::Utc::now().timestamp();
    // Expired 2 days and 5 seconds ago: "2 days ago" and days_left -2 (not 3 and -3).
    let csr = h.profile_with_csr("gone", "t-gone");
    let signed = ca.sign_dates(
        &csr,
        &asn1_time(now - 300 * 86_400),
        &asn1_time(now - 2 * 86_400 - 5),
    );
    h.install("gone", &signed, &ca.cert);
    let (c, out, _) = code(&h, &["--profile", "gone", "check-expiry"]);
    assert_eq!(c, 2, "{out}");
    assert!(out.contains(" (2 days ago)"), "{out}");
    let (_, out, _) = code(
        &h,
        &["--profile", "gone", "check-expiry", "--format", "json"],
    );
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["certificates"][0]["days_left"], -2, "{out}");
    let (_, out, _) = code(
        &h,
        &[
            "--profile",
            "gone",
            "check-expiry",
            "--format",
            "prometheus",
        ],
    );
    // Prometheus has no days (they freeze when cron dies, issue 13): expired is 1.
    let expired = parse_prometheus(&out)
        .into_iter()
        .find(|(n, l, _)| n == "centiloc_cert_expired" && l["profile"] == "gone")
        .map(|(_, _, v)| v);
    assert_eq!(expired, Some(1.0), "{out}");
    // Ends in 5 hours: hours, not "0 days left".
    let csr = h.profile_with_csr("today", "t-today");
    let signed = ca.sign_dates(
        &csr,
        &asn1_time(now - 300 * 86_400),
        &asn1_time(now + 5 * 3600),
    );
    h.install("today", &signed, &ca.cert);
    let (c, out, _) = code(&h, &["--profile", "today", "check-expiry"]);
    assert_eq!(c, 2, "{out}");
    assert!(out.contains("(within 24 hours: 4 hours left)"), "{out}");
    assert!(!out.contains("0 days"), "{out}");
}

/// `check-expiry` where the profile's `settings` file is refused: exit 3 and a first line
/// `UNKNOWN default ...` naming that file. Returns the line.
fn unknown_naming(h: &TestHome, settings: &Path) -> String {
    let (c, out, _) = code(h, &["check-expiry"]);
    assert_eq!(c, 3, "{out}");
    let first = out.lines().next().unwrap().to_owned();
    assert!(
        first.starts_with("UNKNOWN default") && first.contains(&settings.display().to_string()),
        "{out}"
    );
    first
}

#[test]
fn invalid_profile_toml_is_unknown_with_the_file_and_the_fix() {
    let h = TestHome::new();
    let ca = Ca::new("CA");
    h.profile_expiring_in(&ca, "default", "acme", 200);
    let settings = h.profile_dir("default").join("profile.toml");
    std::fs::write(&settings, "tenant = [\n").unwrap();
    // Single profile: like --all, UNKNOWN (3) and a line, never 78 with nothing printed.
    let first = unknown_naming(&h, &settings);
    assert!(
        first.starts_with("UNKNOWN default client certificate: ")
            && first.contains("correct that line"),
        "{first}"
    );
    let (c, all, _) = code(&h, &["check-expiry", "--all"]);
    assert_eq!((c, all.lines().next()), (3, Some(first.as_str())), "{all}");
    let (_, out, _) = code(&h, &["check-expiry", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    for cert in doc["certificates"].as_array().unwrap() {
        assert_eq!(cert["state"], "unknown");
        assert!(
            cert["problem"].as_str().unwrap().contains("profile.toml"),
            "{cert}"
        );
        let fix = cert["fix"].as_str().unwrap();
        assert!(
            fix.contains("correct") && fix.contains("profile.toml"),
            "{fix}"
        );
        assert!(!fix.contains("renew"), "{fix}");
    }
    let (c, out, _) = code(&h, &["check-expiry", "--format", "prometheus"]);
    assert_eq!(c, 3);
    let samples = parse_prometheus(&out);
    assert!(samples.iter().any(|(n, l, v)| n == "centiloc_cert_state"
        && l["tenant"].is_empty()
        && l["profile"] == "default"
        && *v == 3.0));
    // A profile that does not exist is still 66.
    h.cmd()
        .args(["--profile", "nope", "check-expiry"])
        .assert()
        .code(66);
}

#[test]
fn profile_critical_days_above_warn_days_is_a_configuration_error() {
    let h = TestHome::new();
    let ca = Ca::new("CA");
    h.profile_expiring_in(&ca, "default", "acme", 3);
    h.profile_expiring_in(&ca, "ok", "t-ok", 200);
    let settings = h.profile_dir("default").join("profile.toml");
    let text = std::fs::read_to_string(&settings).unwrap();
    std::fs::write(
        &settings,
        format!("{text}\n[expiry]\nwarn_days = 5\ncritical_days = 10\n"),
    )
    .unwrap();
    let first = unknown_naming(&h, &settings);
    assert!(
        first.contains("critical_days \"10\": it must not exceed warn_days (5)"),
        "{first}"
    );
    // --all: only that profile is UNKNOWN, the others are checked as usual.
    let (c, out, _) = code(&h, &["check-expiry", "--all"]);
    assert_eq!(c, 3, "{out}");
    assert!(out.contains("OK ok (t-ok) client certificate"), "{out}");
    // `status` refuses the same file with a configuration error.
    h.cmd().arg("status").assert().code(78);
}

/// A renewal under way in profile `default`: its CSR copied into pending/, where `renew`
/// puts the new one.
fn pending_renewal(h: &TestHome) {
    let pending = h.profile_dir("default").join("pending");
    std::fs::create_dir(&pending).unwrap();
    std::fs::copy(
        h.profile_dir("default").join("certificate-request.csr"),
        pending.join("certificate-request.csr"),
    )
    .unwrap();
}

#[test]
fn client_renewal_is_not_reported_on_the_ca_line() {
    let h = TestHome::new();
    let ca = Ca::new("CA");
    h.profile_expiring_in(&ca, "default", "acme", 20);
    pending_renewal(&h);
    let (c, out, _) = code(&h, &["check-expiry"]);
    assert_eq!(c, 1, "{out}");
    let client = out
        .lines()
        .find(|l| l.contains("client certificate"))
        .unwrap();
    let ca_line = out.lines().find(|l| l.contains("CA certificate")).unwrap();
    assert!(
        client.contains("waiting for the signed certificate"),
        "{out}"
    );
    assert!(!ca_line.contains("renewal"), "{out}");
    let (_, out, _) = code(&h, &["check-expiry", "--format", "prometheus"]);
    let samples = parse_prometheus(&out);
    let pending = |kind: &str| {
        samples
            .iter()
            .find(|(n, l, _)| n == "centiloc_cert_renewal_pending" && l["kind"] == kind)
            .unwrap()
            .2
    };
    assert_eq!((pending("client"), pending("ca")), (1.0, 0.0), "{out}");
    let (_, out, _) = code(&h, &["check-expiry", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let by_kind = |k: &str| {
        doc["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["kind"] == k)
            .unwrap()
            .clone()
    };
    assert!(by_kind("client")["renewal_pending_since"].is_string());
    assert!(by_kind("ca")["renewal_pending_since"].is_null());
}

#[test]
fn missing_certificate_is_unknown_and_missing_profile_is_66() {
    let h = TestHome::new();
    h.init("acme");
    h.cmd()
        .arg("check-expiry")
        .assert()
        .code(3)
        .stdout(predicate::str::contains(
            "UNKNOWN default (acme) client certificate",
        ))
        .stdout(predicate::str::contains("install-ca"));
    h.cmd()
        .args(["--profile", "nope", "check-expiry"])
        .assert()
        .code(66)
        .stderr(predicate::str::contains("no profile \"nope\""));
    // --all in an empty home has nothing to vouch for: UNKNOWN, with one line that
    // says so and how to create a profile (even with --quiet: it needs action).
    let empty = TestHome::new();
    for quiet in [false, true] {
        let mut cmd = empty.cmd();
        cmd.args(["check-expiry", "--all"]);
        if quiet {
            cmd.arg("--quiet");
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(3));
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(
            text.starts_with("UNKNOWN no profiles in ")
                && text.contains("create one with `centiloc-cert")
                && text.contains("init --tenant"),
            "{text}"
        );
    }
    let out = empty
        .cmd()
        .args(["check-expiry", "--all", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["state"], "unknown");
    assert_eq!(doc["certificates"].as_array().map(Vec::len), Some(0));
    assert!(
        doc["problem"]
            .as_str()
            .unwrap()
            .starts_with("no profiles in ")
    );
}

#[test]
fn quiet_is_silent_when_ok_and_shows_only_what_needs_action() {
    let h = TestHome::new();
    let ca = Ca::new("CA");
    h.profile_expiring_in(&ca, "good", "t-good", 200);
    h.cmd()
        .args(["check-expiry", "--all", "--quiet"])
        .assert()
        .code(0)
        .stdout("")
        .stderr("");
    h.profile_expiring_in(&ca, "soon", "t-soon", 20);
    let (c, out, err) = code(&h, &["check-expiry", "--all", "-q"]);
    assert_eq!((c, err.as_str()), (1, ""));
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.starts_with("WARNING soon"), "{out}");
}

#[test]
fn json_report_parses_with_stable_fields() {
    let (h, ca) = fleet();
    let (c, out, _) = code(&h, &["check-expiry", "--all", "--format", "json"]);
    assert_eq!(c, 2);
    let doc: serde_json::Value = serde_json::from_str(&out).expect("one JSON document");
    assert_eq!(doc["state"], "critical");
    assert_eq!(doc["exit_code"], 2);
    let certs = doc["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 8);
    let by: HashMap<(String, String), &serde_json::Value> = certs
        .iter()
        .map(|c| {
            (
                (
                    c["profile"].as_str().unwrap().to_owned(),
                    c["kind"].as_str().unwrap().to_owned(),
                ),
                c,
            )
        })
        .collect();
    let p25 = by[&("p25".into(), "client".into())];
    for field in [
        "profile",
        "tenant",
        "kind",
        "subject",
        "serial",
        "not_before",
        "not_after",
        "days_left",
        "state",
    ] {
        assert!(!p25[field].is_null(), "{field} missing: {p25}");
    }
    assert_eq!(p25["tenant"], "t-p25");
    assert_eq!(p25["state"], "warning");
    assert_eq!(p25["format_version"], serde_json::Value::Null);
    assert!(
        p25["summary"]
            .as_str()
            .unwrap()
            .starts_with("WARNING p25 (t-p25) client certificate expires "),
        "{p25}"
    );
    assert_eq!(p25["days_left"], 24);
    assert!(
        p25["subject"].as_str().unwrap().contains("CN=t-p25"),
        "{p25}"
    );
    // Serial and notAfter agree with openssl's reading of the same file.
    let file = h.profile_dir("p25").join("tls-cert.pem");
    let serial = openssl(
        h.path(),
        &["x509", "-in", file.to_str().unwrap(), "-noout", "-serial"],
    );
    let serial_hex: String = p25["serial"].as_str().unwrap().replace(':', "");
    assert_eq!(serial.trim().trim_start_matches("serial="), serial_hex);
    let enddate = openssl(
        h.path(),
        &[
            "x509",
            "-in",
            file.to_str().unwrap(),
            "-noout",
            "-enddate",
            "-dateopt",
            "iso_8601",
        ],
    );
    let iso = enddate
        .trim()
        .trim_start_matches("notAfter=")
        .replace(' ', "T");
    assert_eq!(p25["not_after"].as_str().unwrap(), iso);
    assert_eq!(
        by[&("expired".into(), "client".into())]["state"],
        "critical"
    );
    assert_eq!(by[&("expired".into(), "client".into())]["expired"], true);
    assert_eq!(by[&("p200".into(), "ca".into())]["state"], "ok");
    drop(ca);
}

/// Parses the text exposition format strictly enough to catch what node_exporter's
/// textfile collector would refuse: every sample's family announced by HELP and TYPE
/// first, label syntax, numeric values, no duplicate series.
fn parse_prometheus(text: &str) -> Vec<(String, HashMap<String, String>, f64)> {
    let mut helped = HashSet::new();
    let mut typed = HashSet::new();
    let mut seen = HashSet::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("HELP has text");
            assert!(!help.is_empty());
            assert!(helped.insert(name.to_owned()), "HELP twice for {name}");
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert_eq!(kind, "gauge", "{line}");
            assert!(helped.contains(name), "TYPE before HELP: {line}");
            typed.insert(name.to_owned());
            continue;
        }
        assert!(
            !line.starts_with('#') && !line.is_empty(),
            "stray line {line:?}"
        );
        let (series, value) = line.rsplit_once(' ').expect("sample has a value");
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value in {line}"));
        let (name, labels) = match series.split_once('{') {
            Some((n, l)) => (n, l.strip_suffix('}').expect("closing brace")),
            None => (series, ""),
        };
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "metric name {name}"
        );
        assert!(typed.contains(name), "sample before its TYPE: {line}");
        let mut map = HashMap::new();
        for pair in labels
            .split(",\"")
            .filter(|p| !p.is_empty())
            .flat_map(|p| p.split("\","))
        {
            let (k, v) = pair
                .split_once("=\"")
                .unwrap_or_else(|| panic!("label syntax in {line}"));
            map.insert(k.to_owned(), v.trim_end_matches('"').to_owned());
        }
        assert!(seen.insert(series.to_owned()), "duplicate series {series}");
        samples.push((name.to_owned(), map, value));
    }
    samples
}

#[test]
fn prometheus_report_parses_line_by_line() {
    let (h, _ca) = fleet();
    let (c, out, _) = code(&h, &["check-expiry", "--all", "--format", "prometheus"]);
    assert_eq!(c, 2, "exit code is the same in every format");
    let samples = parse_prometheus(&out);
    let get = |metric: &str, profile: &str, kind: &str| {
        samples
            .iter()
            .find(|(n, l, _)| n == metric && l["profile"] == profile && l["kind"] == kind)
            .unwrap_or_else(|| panic!("no {metric} for {profile}/{kind} in\n{out}"))
            .2
    };
    assert_eq!(get("centiloc_cert_state", "p200", "client"), 0.0);
    assert_eq!(get("centiloc_cert_state", "p25", "client"), 1.0);
    assert_eq!(get("centiloc_cert_state", "p5", "client"), 2.0);
    assert_eq!(get("centiloc_cert_state", "expired", "client"), 2.0);
    assert_eq!(get("centiloc_cert_expired", "p25", "client"), 0.0);
    assert_eq!(get("centiloc_cert_expired", "expired", "client"), 1.0);
    // WARNING from less than warn_days + 1 days: the same second check-expiry turns.
    assert_eq!(
        get("centiloc_cert_warning_threshold_seconds", "p25", "client"),
        31.0 * 86400.0
    );
    assert!(!out.contains("days_left"), "{out}");
    let now = chrono::Utc::now().timestamp() as f64;
    let na = get("centiloc_cert_not_after_timestamp_seconds", "p25", "client");
    assert!((na - now - 25.0 * 86400.0).abs() < 120.0, "{na} vs {now}");
    let tenant = samples
        .iter()
        .find(|(n, l, _)| n == "centiloc_cert_state" && l["profile"] == "p5")
        .map(|(_, l, _)| l["tenant"].clone());
    assert_eq!(tenant.as_deref(), Some("t-p5"));
}

#[test]
fn cert_file_needs_no_profile_and_flags_set_thresholds() {
    let h = TestHome::new();
    let ca = Ca::new("CA");
    let csr = h.profile_with_csr("x", "t-x");
    let cert = ca.sign_days_from_now(&csr, 40);
    let other = TestHome::new();
    let run = |extra: &[&str]| {
        other
            .cmd()
            .args(["check-expiry", "--cert", cert.to_str().unwrap()])
            .args(extra)
            .output()
            .unwrap()
    };
    assert_eq!(run(&[]).status.code(), Some(0));
    let out = run(&["--warn-days", "45"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("WARNING certificate "));
    assert_eq!(
        run(&["--warn-days", "60", "--critical-days", "45"])
            .status
            .code(),
        Some(2)
    );
    let bad = run(&["--warn-days", "5", "--critical-days", "10"]);
    assert_eq!(bad.status.code(), Some(64));
    assert!(
        String::from_utf8_lossy(&bad.stderr)
            .contains("--critical-days 10 is more than --warn-days 5")
    );
    // Not a certificate: UNKNOWN, with the reason.
    let junk = other.path().join("junk.pem");
    std::fs::write(&junk, "hello").unwrap();
    other
        .cmd()
        .args(["check-expiry", "--cert", junk.to_str().unwrap()])
        .assert()
        .code(3)
        .stdout(
            predicate::str::contains("UNKNOWN certificate")
                .and(predicate::str::contains("junk.pem")),
        );
}

#[test]
fn profile_thresholds_and_pending_renewal_are_honoured() {
    let h = TestHome::new();
    let ca = Ca::new("CA");
    h.profile_expiring_in(&ca, "default", "acme", 200);
    h.cmd().arg("check-expiry").assert().code(0);
    let settings = h.profile_dir("default").join("profile.toml");
    let text = std::fs::read_to_string(&settings).unwrap();
    // No [expiry] table is written while the defaults apply; add one.
    assert!(!text.contains("[expiry]"), "{text}");
    let text = format!("{text}\n[expiry]\nwarn_days = 250\n");
    std::fs::write(&settings, text).unwrap();
    h.cmd()
        .arg("check-expiry")
        .assert()
        .code(1)
        .stdout(predicate::str::starts_with(
            "WARNING default (acme) client certificate",
        ));
    // The command line wins over the profile.
    h.cmd()
        .args(["check-expiry", "--warn-days", "30"])
        .assert()
        .code(0);
    // A renewal under way is mentioned, and the fix becomes install-cert.
    pending_renewal(&h);
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    h.cmd()
        .arg("check-expiry")
        .assert()
        .code(1)
        .stdout(predicate::str::contains(format!(
            "renewal CSR made on {today}, waiting for the signed certificate"
        )))
        .stdout(predicate::str::contains(
            "when support returns the certificate, run `centiloc-cert",
        ));
}

/// One rule for "expires soon" (issue 10 item 1): with `[expiry] warn_days = 45` and 39
/// days left, `check-expiry`, `status`, `list` and their JSON agree that it is a warning
/// (`status` kept its own 30 days and said all was well).
#[test]
fn status_list_and_check_expiry_use_the_profile_limits() {
    let h = TestHome::new();
    let ca = Ca::new("Centiloc Test CA");
    let csr = h.profile_with_csr("default", "acme");
    let now = chrono::Utc::now().timestamp();
    let end = now + 39 * 86_400 + 3_600;
    let signed = ca.sign_dates(&csr, &asn1_time(now - 86_400), &asn1_time(end));
    h.install("default", &signed, &ca.cert);
    let settings = h.profile_dir("default").join("profile.toml");
    let toml = std::fs::read_to_string(&settings).unwrap();
    let toml = format!("username = \"acme-user\"\n{toml}\n[expiry]\nwarn_days = 45\n");
    std::fs::write(&settings, toml).unwrap();
    let password = h.profile_dir("default").join("mqtt-password");
    std::fs::write(&password, "pw").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&password, std::fs::Permissions::from_mode(0o600)).unwrap();

    let (c, out, _) = code(&h, &["check-expiry"]);
    assert_eq!(c, 1, "{out}");
    assert!(
        out.starts_with("WARNING default (acme) client certificate expires "),
        "{out}"
    );
    assert!(out.contains("(39 days left)"), "{out}");

    let (_, out, _) = code(&h, &["status"]);
    let line = out
        .lines()
        .find(|l| l.contains("validity"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        line.contains("expires ") && line.contains("(39 days left)"),
        "{out}"
    );
    assert!(!line.contains('✓'), "{out}");

    let (_, out, _) = code(&h, &["status", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let check = support::status_check(&v, "certificate_validity");
    assert_eq!(check["state"], "warning", "{out}");

    let (_, out, _) = code(&h, &["list"]);
    assert!(
        out.lines().nth(1).unwrap().ends_with("  39  expiring soon"),
        "{out}"
    );
}
