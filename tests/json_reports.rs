//! One report value per command (issue 10 item 5): for `init`, `install-cert`,
//! `install-ca`, `credentials`, `test-connect` and `check-expiry`, the real binary's
//! `--format json` document has every field docs/ and README document, and says what the
//! text output of the same state says (same fingerprint, path, days left). Each command
//! also fails with the JSON error document (SPEC: JSON contract).

mod support;

use std::path::Path;

use serde_json::Value;
use support::mosquitto::{Mosquitto, ready_profile};
use support::{Ca, TestHome, ec_key, free_port, run};

/// Parses stdout as one JSON document with `format_version: 1`.
fn doc(what: &str, stdout: &str) -> Value {
    let v: Value = serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{what}: {e}: {stdout}"));
    assert_eq!(v["format_version"], 1, "{what}: {v}");
    assert!(!stdout.contains("+00:00"), "{what}: {stdout}");
    v
}

/// Every documented field is in `v` (null is a value: "present").
fn has_fields(what: &str, v: &Value, fields: &[&str]) {
    let missing: Vec<&&str> = fields.iter().filter(|f| v.get(**f).is_none()).collect();
    assert!(missing.is_empty(), "{what}: no {missing:?} in {v}");
}

fn s<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is not a string in {v}"))
}

/// `2027-11-30T17:40:12Z` as the text shows it: `2027-11-30 17:40 UTC`.
fn when(rfc3339: &str) -> String {
    format!("{} {} UTC", &rfc3339[..10], &rfc3339[11..16])
}

/// The JSON error document of a failed `--format json` run: `ok` false, the run's exit
/// code, and the sentence that stderr says once. Returns the document.
fn assert_error_document(what: &str, (code, out, err): (i32, String, String), want: i32) -> Value {
    assert_eq!(code, want, "{what}: {out}\n{err}");
    let v = doc(what, &out);
    assert_eq!(v["ok"], false, "{what}: {v}");
    assert_eq!(v["exit_code"], want, "{what}: {v}");
    assert_eq!(err, format!("ERROR: {}\n", s(&v, "error")), "{what}");
    v
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

const INIT: [&str; 7] = [
    "init",
    "--tenant",
    "acme",
    "--org",
    "Demo Corp",
    "--email",
    "ops@example.com",
];

#[test]
fn init_json_matches_its_text() {
    let h = TestHome::new();
    ec_key(h.path(), "prime256v1", "k.pem");
    let key = h.path().join("k.pem");
    let (code, text, _) = run(&h, &[&INIT[..], &["--key", p(&key)]].concat());
    assert_eq!(code, 0, "{text}");
    // The same key again, replacing the profile: the same facts, in JSON.
    let (code, out, err) = run(
        &h,
        &[
            &INIT[..],
            &["--key", p(&key), "--force", "--format", "json"],
        ]
        .concat(),
    );
    assert_eq!(code, 0, "{err}");
    let v = doc("init", &out);
    has_fields(
        "init",
        &v,
        &[
            "profile",
            "dir",
            "tenant",
            "subject",
            "key_file",
            "curve",
            "key_fingerprint_sha256",
            "key_adopted",
            "broker",
            "archived_to",
        ],
    );
    let dir = h.profile_dir("default");
    assert_eq!(s(&v, "dir"), p(&dir));
    assert_eq!(s(&v, "key_file"), p(&dir.join("private-key.pem")));
    assert_eq!(v["profile"], "default");
    assert_eq!(v["tenant"], "acme");
    assert_eq!(v["curve"], "p256");
    assert_eq!(v["key_adopted"], true);
    assert_eq!(v["broker"], "mqtt-client.centiloc.com:8883");
    let archived = s(&v, "archived_to");
    assert!(Path::new(archived).join("private-key.pem").is_file(), "{v}");
    for line in [
        format!("Created profile \"default\" in {}", p(&dir)),
        "  tenant       acme".into(),
        format!("  subject      {}", s(&v, "subject")),
        format!(
            "  private key  {} (P-256 (prime256v1), adopted, mode 0600)",
            s(&v, "key_file")
        ),
        format!("  key SHA-256  {}", s(&v, "key_fingerprint_sha256")),
        format!("  broker       {}", s(&v, "broker")),
    ] {
        assert!(text.lines().any(|l| l == line), "{line:?} not in {text}");
    }
}

#[test]
fn init_fails_with_a_json_error_document() {
    let h = TestHome::new();
    let v = assert_error_document(
        "init",
        run(&h, &["init", "--tenant", "acme", "--format", "json"]),
        64,
    );
    let e = s(&v, "error");
    assert!(e.contains("--org") && e.contains("--email"), "{e}");
    assert!(!h.profile_dir("default").exists());
}

/// A profile with key and CSR, and a 365-day certificate for it signed by `Ca`.
fn signed() -> (TestHome, Ca, std::path::PathBuf) {
    let h = TestHome::new();
    let csr = h.init_with_csr("acme");
    let ca = Ca::new("Test CA");
    let cert = ca.sign_days_from_now(&csr, 365);
    (h, ca, cert)
}

#[test]
fn install_cert_json_matches_its_text() {
    let (h, _ca, cert) = signed();
    let (code, out, err) = run(&h, &["install-cert", p(&cert), "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let first = doc("install-cert", &out);
    assert_eq!(first["changed"], true, "{first}");
    // The same certificate again: text and JSON of one state (nothing changes).
    let (code, text, _) = run(&h, &["install-cert", p(&cert)]);
    assert_eq!(code, 0, "{text}");
    let (_, out, _) = run(&h, &["install-cert", p(&cert), "--format", "json"]);
    let v = doc("install-cert", &out);
    has_fields(
        "install-cert",
        &v,
        &[
            "profile",
            "ok",
            "exit_code",
            "test",
            "cert_file",
            "changed",
            "promoted_renewal",
            "subject",
            "issuer",
            "serial",
            "fingerprint_sha256",
            "key_fingerprint_sha256",
            "not_before",
            "not_after",
            "days_left",
            "chain_length",
            "archived_to",
            "warnings",
            "notes",
        ],
    );
    assert_eq!(
        (v["ok"].clone(), v["exit_code"].clone()),
        (true.into(), 0.into())
    );
    assert_eq!(v["changed"], false);
    assert_eq!(v["test"], Value::Null);
    assert_eq!(v["fingerprint_sha256"], first["fingerprint_sha256"]);
    let file = h.profile_dir("default").join("tls-cert.pem");
    assert_eq!(s(&v, "cert_file"), p(&file));
    // The key it is for is the profile's, as init reported it.
    let (_, status, _) = run(&h, &["status", "--format", "json"]);
    let status = doc("status", &status);
    assert_eq!(
        status["certificate"]["fingerprint_sha256"],
        v["fingerprint_sha256"]
    );
    let days = v["days_left"].as_i64().unwrap();
    assert!((363..=365).contains(&days), "{v}");
    for line in [
        format!(
            "{} already holds this certificate; nothing changed.",
            p(&file)
        ),
        format!("  subject      {}", s(&v, "subject")),
        format!("  issuer       {}", s(&v, "issuer")),
        format!("  serial       {}", s(&v, "serial")),
        format!("  SHA-256      {}", s(&v, "fingerprint_sha256")),
        format!(
            "  valid        {} to {} ({days} days left)",
            when(s(&v, "not_before")),
            when(s(&v, "not_after"))
        ),
    ] {
        assert!(text.lines().any(|l| l == line), "{line:?} not in {text}");
    }
}

#[test]
fn install_cert_fails_with_a_json_error_document() {
    let (h, ca, _) = signed();
    // Signed for another key: refused (65), the document says so and `test` is null.
    let other = TestHome::new();
    let csr = other.init_with_csr("acme");
    let foreign = ca.sign_days_from_now(&csr, 365);
    let v = assert_error_document(
        "install-cert",
        run(&h, &["install-cert", p(&foreign), "--format", "json"]),
        65,
    );
    assert_eq!(v["profile"], "default");
    assert_eq!(v["test"], Value::Null);
    assert!(!h.profile_dir("default").join("tls-cert.pem").exists());
}

#[test]
fn install_ca_json_matches_its_text() {
    let (h, ca, _) = signed();
    let ca_pem = p(&ca.cert);
    let (code, out, err) = run(&h, &["install-ca", ca_pem, "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(doc("install-ca", &out)["changed"], true);
    let (code, text, _) = run(&h, &["install-ca", ca_pem]);
    assert_eq!(code, 0, "{text}");
    let (_, out, _) = run(&h, &["install-ca", ca_pem, "--format", "json"]);
    let v = doc("install-ca", &out);
    has_fields(
        "install-ca",
        &v,
        &[
            "profile",
            "ca_file",
            "changed",
            "subject",
            "fingerprint_sha256",
            "not_after",
            "days_left",
            "certificates",
            "archived_to",
            "warnings",
        ],
    );
    let file = h.profile_dir("default").join("ca-cert.pem");
    assert_eq!(s(&v, "ca_file"), p(&file));
    assert_eq!(
        (v["changed"].clone(), v["certificates"].clone()),
        (false.into(), 1.into())
    );
    let fp = support::openssl(
        Path::new("."),
        &["x509", "-in", ca_pem, "-noout", "-fingerprint", "-sha256"],
    );
    assert!(
        fp.trim().ends_with(s(&v, "fingerprint_sha256")),
        "{fp} vs {v}"
    );
    for line in [
        format!(
            "{} already holds this CA certificate; nothing changed.",
            p(&file)
        ),
        format!("  subject      {}", s(&v, "subject")),
        format!("  SHA-256      {}", s(&v, "fingerprint_sha256")),
        format!(
            "  valid until  {} ({} days left)",
            when(s(&v, "not_after")),
            v["days_left"]
        ),
    ] {
        assert!(text.lines().any(|l| l == line), "{line:?} not in {text}");
    }
}

#[test]
fn install_ca_fails_with_a_json_error_document() {
    let (h, _ca, cert) = signed();
    // A client certificate is no CA: refused (65), pointed at install-cert.
    let v = assert_error_document(
        "install-ca",
        run(&h, &["install-ca", p(&cert), "--format", "json"]),
        65,
    );
    assert!(s(&v, "error").contains("install-cert"), "{v}");
}

/// `credentials ARGS --format FORMAT` in `h` reading `stdin`: exit code, stdout, stderr.
fn credentials(h: &TestHome, args: &[&str], stdin: &str, format: &str) -> (i32, String, String) {
    let out = h
        .cmd()
        .arg("credentials")
        .args(args)
        .args(["--format", format])
        .write_stdin(stdin)
        .output()
        .unwrap();
    support::outcome(out)
}

#[test]
fn credentials_json_matches_its_text() {
    let h = TestHome::new();
    h.init("acme");
    let args = ["--username", "bob", "--password-stdin"];
    let (code, text, _) = credentials(&h, &args, "pw-Secret-1\n", "text");
    assert_eq!(code, 0, "{text}");
    let (code, out, err) = credentials(&h, &args, "pw-Secret-1\n", "json");
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("pw-Secret-1") && !text.contains("pw-Secret-1"));
    let v = doc("credentials", &out);
    has_fields(
        "credentials",
        &v,
        &[
            "profile",
            "username",
            "username_changed",
            "password_stored",
            "password_file",
            "password_overridden_by_environment",
            "warnings",
        ],
    );
    let dir = h.profile_dir("default");
    assert_eq!(s(&v, "password_file"), p(&dir.join("mqtt-password")));
    assert_eq!(v["username"], "bob");
    assert_eq!(v["password_stored"], true);
    for line in [
        format!(
            "Username \"{}\" saved in {}",
            s(&v, "username"),
            p(&dir.join("profile.toml"))
        ),
        format!("Password saved in {} (mode 0600)", s(&v, "password_file")),
    ] {
        assert!(text.lines().any(|l| l == line), "{line:?} not in {text}");
    }
}

#[test]
fn credentials_smtp_password_json_matches_its_text() {
    let h = TestHome::new();
    let args = ["--smtp-password-stdin"];
    let (code, text, _) = credentials(&h, &args, "smtp-Secret-2\n", "text");
    assert_eq!(code, 0, "{text}");
    let (code, out, err) = credentials(&h, &args, "smtp-Secret-2\n", "json");
    assert_eq!(code, 0, "{err}");
    let v = doc("credentials --smtp-password-stdin", &out);
    has_fields(
        "credentials --smtp-password-stdin",
        &v,
        &[
            "smtp_password_stored",
            "smtp_password_file",
            "smtp_password_overridden_by_environment",
        ],
    );
    let file = s(&v, "smtp_password_file");
    assert!(Path::new(file).is_file(), "{v}");
    assert!(
        text.starts_with(&format!("SMTP password saved in {file} (mode 0600)")),
        "{text}"
    );
}

#[test]
fn credentials_fails_with_a_json_error_document() {
    let h = TestHome::new();
    h.init("acme");
    // Nothing to set and no terminal to ask on: a usage error (64).
    let v = assert_error_document(
        "credentials",
        run(&h, &["credentials", "--format", "json"]),
        64,
    );
    assert!(s(&v, "error").contains("--password-stdin"), "{v}");
}

const ENTRY_FIELDS: [&str; 21] = [
    "profile",
    "tenant",
    "kind",
    "file",
    "subject",
    "serial",
    "fingerprint_sha256",
    "not_before",
    "not_after",
    "days_left",
    "expired",
    "state",
    "summary",
    "problem",
    "warn_days",
    "critical_days",
    "renewal_pending_since",
    "alarm",
    "renewal_requested_at",
    "renewal_requested_to",
    "fix",
];

#[test]
fn check_expiry_json_matches_its_text() {
    let h = TestHome::new();
    let csr = h.init_with_csr("acme");
    let ca = Ca::new("Test CA");
    // 20 days: a WARNING, so the line carries its fix.
    let cert = ca.sign_days_from_now(&csr, 20);
    assert_eq!(run(&h, &["install-cert", p(&cert)]).0, 0);
    assert_eq!(run(&h, &["install-ca", p(&ca.cert)]).0, 0);
    let (code, text, _) = run(&h, &["check-expiry"]);
    let (json_code, out, _) = run(&h, &["check-expiry", "--format", "json"]);
    assert_eq!((code, json_code), (1, 1), "{text}");
    let v = doc("check-expiry", &out);
    has_fields(
        "check-expiry",
        &v,
        &[
            "state",
            "exit_code",
            "checked_at",
            "problem",
            "certificates",
        ],
    );
    assert_eq!(
        (v["state"].clone(), v["exit_code"].clone()),
        ("warning".into(), 1.into())
    );
    let certs = v["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 2, "{v}");
    // The text is the entries' summaries, worst first.
    let lines: Vec<&str> = text.lines().collect();
    let summaries: Vec<&str> = certs.iter().map(|c| s(c, "summary")).collect();
    assert_eq!(lines, [summaries[0], summaries[1]], "{text}");
    let client = &certs[0];
    has_fields("check-expiry client", client, &ENTRY_FIELDS);
    assert_eq!(client["kind"], "client");
    assert_eq!(client["state"], "warning");
    assert_eq!(
        s(client, "file"),
        p(&h.profile_dir("default").join("tls-cert.pem"))
    );
    let days = client["days_left"].as_i64().unwrap();
    let summary = s(client, "summary");
    assert!(
        summary.starts_with("WARNING default (acme) client certificate"),
        "{summary}"
    );
    assert!(
        summary.contains(&format!(
            "expires {} ({days} days left), serial {}",
            when(s(client, "not_after")),
            s(client, "serial")
        )),
        "{summary}"
    );
    assert!(summary.ends_with(s(client, "fix")), "{summary}");
    assert_eq!(certs[1]["kind"], "ca");
    assert_eq!(
        (certs[1]["state"].clone(), certs[1]["fix"].clone()),
        ("ok".into(), Value::Null)
    );
}

#[test]
fn check_expiry_fails_with_a_json_error_document() {
    let h = TestHome::new();
    h.init("acme");
    let v = assert_error_document(
        "check-expiry",
        run(
            &h,
            &[
                "check-expiry",
                "--warn-days",
                "5",
                "--critical-days",
                "10",
                "--format",
                "json",
            ],
        ),
        64,
    );
    assert!(s(&v, "error").contains("--critical-days 10"), "{v}");
}

const TENANT: &str = "acme";
const USER: &str = "acme-user";
const PASSWORD: &str = "s3cret-Pw-7731";
const ITEM_JSON: &str =
    r#"{"momentum":"2026-11-25T10:00:00Z","uid":"E004015012345678","is_in":true}"#;

#[test]
fn test_connect_json_matches_its_text() {
    let m = Mosquitto::start(TENANT, USER, PASSWORD);
    let h = TestHome::new();
    ready_profile(&h, &m, TENANT, USER, PASSWORD, |csr| {
        m.client_ca.sign_days_from_now(csr, 365)
    });
    m.publish(
        "centiloc/acme/json/item/v1/update",
        ITEM_JSON.as_bytes(),
        true,
    );
    let args = [
        "test-connect",
        "--topics",
        "item",
        "--encoding",
        "json",
        "--client-id",
        "acme-reports",
        "--timeout",
        "5",
    ];
    let (code, text, err) = run(&h, &args);
    assert_eq!(code, 0, "{text}\n{err}");
    let (code, out, err) = run(&h, &[&args[..], &["--format", "json"]].concat());
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains(PASSWORD) && !text.contains(PASSWORD));
    let v = doc("test-connect", &out);
    has_fields(
        "test-connect",
        &v,
        &[
            "broker",
            "client_id",
            "username",
            "ok",
            "exit_code",
            "error",
            "failed_stage",
            "stages",
            "messages",
        ],
    );
    assert_eq!(
        (
            v["ok"].clone(),
            v["exit_code"].clone(),
            v["failed_stage"].clone()
        ),
        (true.into(), 0.into(), Value::Null)
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "Connecting to {} as {} (user \"{}\")",
            s(&v, "broker"),
            s(&v, "client_id"),
            s(&v, "username")
        )
    );
    assert_eq!(v["client_id"], "acme-reports");
    // One ✓ line per stage, in order, with the stage's label and detail.
    let stages = v["stages"].as_array().unwrap();
    let marks: Vec<&&str> = lines.iter().filter(|l| l.starts_with('✓')).collect();
    assert_eq!(marks.len(), stages.len() + 1, "{text}");
    for (st, line) in stages.iter().zip(&marks) {
        has_fields("stage", st, &["stage", "ok", "duration_ms", "detail"]);
        assert_eq!(st["ok"], true);
        assert!(line.ends_with(s(st, "detail")), "{line} vs {st}");
    }
    assert_eq!(
        *marks.last().unwrap(),
        &format!(
            "✓ the connection to {} works: mutual TLS, login and subscriptions accepted",
            s(&v, "broker")
        )
    );
    let msgs = v["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 1, "{v}");
    has_fields(
        "message",
        &msgs[0],
        &[
            "topic", "received", "size", "retained", "encoding", "payload",
        ],
    );
    let header = format!(
        "  message on {} ({} bytes, retained)",
        s(&msgs[0], "topic"),
        msgs[0]["size"]
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&header) && l.contains("E004015012345678")),
        "{header:?} not in {text}"
    );
}

#[test]
fn test_connect_fails_with_a_json_error_document() {
    let m = Mosquitto::start(TENANT, USER, PASSWORD);
    let h = TestHome::new();
    ready_profile(&h, &m, TENANT, USER, PASSWORD, |csr| {
        m.client_ca.sign_days_from_now(csr, 365)
    });
    // Nobody listens there: TCP refused (69), the document names the stage.
    let nobody = format!("127.0.0.1:{}", free_port());
    let v = assert_error_document(
        "test-connect",
        run(
            &h,
            &["test-connect", "--broker", &nobody, "--format", "json"],
        ),
        69,
    );
    assert_eq!(v["failed_stage"], "tcp", "{v}");
    assert_eq!(v["broker"], nobody.as_str());
    let stages = v["stages"].as_array().unwrap();
    assert_eq!(stages.last().unwrap()["ok"], false, "{v}");
    // Before connecting (no profile): the stage is "preflight", nothing ran.
    let empty = TestHome::new();
    let v = assert_error_document(
        "test-connect",
        run(&empty, &["test-connect", "--format", "json"]),
        66,
    );
    assert_eq!(v["failed_stage"], "preflight", "{v}");
    assert_eq!(v["stages"], serde_json::json!([]));
}

/// A usage error that clap finds (a bad value, an unknown flag) is a JSON error document
/// too when `--format json` was asked, with the sentence stderr shows, for every one of
/// these commands; `decode` prints payloads, so its usage errors stay on stderr only.
#[test]
fn usage_errors_are_json_error_documents() {
    let h = TestHome::new();
    for args in [
        &["init", "--format", "json", "--curve", "p521"][..],
        &["install-cert", "c.pem", "--format", "json", "--bogus"],
        &["install-ca", "--format=json"],
        &["credentials", "--format", "json", "--password"],
        &["test-connect", "--format", "json", "--topics", "items"],
        &["check-expiry", "--format", "json", "--warn-days", "soon"],
    ] {
        let v = assert_error_document(args[0], run(&h, args), 64);
        assert!(
            s(&v, "error").contains(&format!("`centiloc-cert {} --help`", args[0])),
            "{v}"
        );
    }
    let (code, out, err) = run(&h, &["decode", "--format", "json", "--bogus"]);
    assert_eq!((code, out.as_str()), (64, ""), "{err}");
}
