//! E-mail end to end against a real SMTP server (aiosmtpd): `check-expiry --notify`
//! once per threshold per certificate, `--dry-run`, an SMTP outage that is reported and
//! retried, `csr --mail` with the CSR attached, and the configuration errors.

mod support;

use predicates::prelude::*;
use support::smtp::Smtp;
use support::{Ca, TestHome, free_port, openssl};

fn notify(h: &TestHome) -> std::process::Output {
    h.cmd()
        .args(["check-expiry", "--all", "--notify", "--quiet"])
        .output()
        .unwrap()
}

fn fingerprint(h: &TestHome, cert: &std::path::Path) -> String {
    let out = openssl(
        h.path(),
        &[
            "x509",
            "-in",
            cert.to_str().unwrap(),
            "-noout",
            "-fingerprint",
            "-sha256",
        ],
    );
    out.trim().split_once('=').unwrap().1.to_owned()
}

#[test]
fn one_notice_per_threshold_per_certificate() {
    let smtp = Smtp::start();
    let h = TestHome::new();
    h.notify_config(&smtp.url());
    let ca = Ca::new("CA");
    let cert = h.profile_expiring_in(&ca, "default", "acme", 25);
    h.profile_expiring_in(&ca, "calm", "t-calm", 200);

    let out = notify(&h);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the expiry state, notices or not"
    );
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1, "{mails:#?}");
    let m = &mails[0];
    assert_eq!(m.to, "ops-acme@example.com");
    assert_eq!(m.from, "Certificates <certs@example.com>");
    // Headers a mail client and spam filter expect from the sender.
    let id = m.message_id.as_deref().unwrap_or_default();
    assert!(
        id.starts_with('<') && id.ends_with('>') && id.contains('@'),
        "{m:#?}"
    );
    assert!(m.date.is_some(), "{m:#?}");
    assert_eq!(
        m.subject,
        "24 days left: Centiloc User-MQTT client certificate of tenant acme (default)"
    );
    let serial = openssl(
        h.path(),
        &["x509", "-in", cert.to_str().unwrap(), "-noout", "-serial"],
    );
    let serial = serial.trim().trim_start_matches("serial=");
    let fp = fingerprint(&h, &cert);
    let text = &m.text;
    assert!(text.contains(&fp), "fingerprint {fp} in:\n{text}");
    assert!(
        text.replace(':', "").contains(serial),
        "serial {serial} in:\n{text}"
    );
    for fact in [
        "Tenant        acme",
        "Profile       default",
        "in 24 days",
        "Days left     24",
    ] {
        assert!(text.contains(fact), "{fact:?} in:\n{text}");
    }
    // The exact renewal steps, with this home.
    let home = h.path().display().to_string();
    assert!(
        text.contains(&format!("1. centiloc-cert --home {home} renew")),
        "{text}"
    );
    assert!(
        text.contains("pending/certificate-request.csr to Centiloc support"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "3. centiloc-cert --home {home} install-cert tls-cert.pem"
        )),
        "{text}"
    );
    let html = m.html.as_deref().expect("an HTML alternative");
    assert!(html.contains(&fp) && html.contains("<ol>"), "{html}");
    let state = std::fs::read_to_string(h.profile_dir("default").join("notices.toml")).unwrap();
    assert!(state.contains(&fp) && state.contains("\"30\""), "{state}");

    // The daily cron run the day after: nothing new.
    assert_eq!(notify(&h).status.code(), Some(1));
    assert_eq!(smtp.messages().len(), 1);

    // The certificate nears its end (a certificate ending sooner stands in for time
    // passing): crossing 14 days sends the next notice, once.
    let csr = h.profile_dir("default").join("certificate-request.csr");
    let sooner = ca.sign_days_from_now(&csr, 10);
    h.install("default", &sooner, &ca.cert);
    assert_eq!(notify(&h).status.code(), Some(1));
    assert_eq!(notify(&h).status.code(), Some(1));
    let mails = smtp.messages();
    assert_eq!(mails.len(), 2, "{mails:#?}");
    assert!(
        mails[1].subject.starts_with("9 days left: "),
        "{}",
        mails[1].subject
    );
    assert!(mails[1].text.contains(&fingerprint(&h, &sooner)));
    // The new certificate has its notice; the replaced one's record is kept for a year
    // (a run that did not check a certificate, such as the broker's without
    // --check-broker, must not forget what was sent for it).
    let state = std::fs::read_to_string(h.profile_dir("default").join("notices.toml")).unwrap();
    assert!(state.contains(&fp) && state.contains("\"14\""), "{state}");

    // Expired: one last notice.
    let gone = ca.sign_days_from_now(&csr, -1);
    h.install("default", &gone, &ca.cert);
    assert_eq!(notify(&h).status.code(), Some(2));
    let mails = smtp.messages();
    assert_eq!(mails.len(), 3);
    assert!(
        mails[2].subject.starts_with("EXPIRED: "),
        "{}",
        mails[2].subject
    );
}

#[test]
fn dry_run_prints_and_sends_nothing() {
    let smtp = Smtp::start();
    let h = TestHome::new();
    h.notify_config(&smtp.url());
    let ca = Ca::new("CA");
    h.profile_expiring_in(&ca, "default", "acme", 5);
    h.cmd()
        .args(["check-expiry", "--notify", "--dry-run"])
        .assert()
        .code(2)
        .stdout(predicate::str::contains(
            "--- dry run: 7-day notice for profile default (client certificate), not sent ---",
        ))
        .stdout(predicate::str::contains("To: ops-acme@example.com"))
        .stdout(predicate::str::contains(
            "Subject: 4 days left: Centiloc User-MQTT client certificate of tenant acme",
        ));
    assert!(smtp.messages().is_empty());
    assert!(!h.profile_dir("default").join("notices.toml").exists());
    // --dry-run alone is a usage error (clap's `requires`, mapped to 64): it only
    // qualifies --notify, and must not look like a silent success. (The sentence should
    // also name --notify; `cli::usage_sentence` drops clap's list of missing arguments,
    // which is outside this module.)
    h.cmd()
        .args(["check-expiry", "--dry-run"])
        .assert()
        .code(64)
        .stdout("")
        .stderr(predicate::str::contains(
            "required arguments were not provided",
        ));
    // With --format json, the usage error is the JSON error document (SPEC: JSON
    // contract), never a report that could pass for a check.
    let out = h
        .cmd()
        .args(["check-expiry", "--all", "--dry-run", "--format", "json"])
        .assert()
        .code(64)
        .get_output()
        .stdout
        .clone();
    let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        (doc["ok"].clone(), doc["exit_code"].clone()),
        (false.into(), 64.into())
    );
    assert!(doc.get("certificates").is_none(), "{doc}");
}

#[test]
fn smtp_down_is_reported_keeps_the_exit_code_and_is_retried() {
    let port = free_port();
    let h = TestHome::new();
    h.notify_config(&format!("smtp://127.0.0.1:{port}"));
    h.profile_due_for_notice();
    let out = notify(&h);
    assert_eq!(
        out.status.code(),
        Some(1),
        "still the WARNING of the certificate"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(
        err.contains("it will be sent again on the next run"),
        "{err}"
    );
    assert!(err.to_lowercase().contains("connect"), "the cause: {err}");
    assert!(!h.profile_dir("default").join("notices.toml").exists());

    // The server is back: the notice goes out on the next run.
    let smtp = Smtp::start_on(port);
    let out = notify(&h);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(smtp.messages().len(), 1);
}

#[test]
fn smtp_failure_never_shows_the_password() {
    let smtp = Smtp::start();
    let h = TestHome::new();
    // aiosmtpd offers no STARTTLS, so a connection that requires it fails before login.
    h.notify_config(&format!(
        "smtp://mailer@127.0.0.1:{}?tls=required",
        smtp.port
    ));
    h.profile_due_for_notice();
    let (code, out, err) = h.notify_with_password();
    assert_eq!(code, 1);
    let all = format!("{out}{err}");
    assert!(all.contains("was not sent"), "{all}");
    assert!(!all.contains("hunter2"), "{all}");
    // Without the password, a user in the URL is a configuration error, found up front.
    h.cmd()
        .args(["check-expiry", "--notify"])
        .assert()
        .code(78)
        .stderr(predicate::str::contains("set CENTILOC_SMTP_PASSWORD"));
}

#[test]
fn notify_configuration_errors_are_78_and_name_the_file() {
    let h = TestHome::new();
    let ca = Ca::new("CA");
    h.profile_expiring_in(&ca, "default", "acme", 25);
    // No config.toml: nothing to correct, so the fix is to add the section.
    let config = h.path().join("config.toml");
    h.cmd()
        .args(["check-expiry", "--notify"])
        .assert()
        .code(78)
        .stderr(
            predicate::str::contains(format!(
                "ERROR: e-mail is not set up: {} does not exist; check-expiry --notify needs a [notify] section there",
                config.display()
            ))
                .and(predicate::str::contains("smtp_url = \"smtp://"))
                .and(predicate::str::contains("correct that line").not()),
        );
    // A missing key names the section, its line and the file.
    std::fs::write(&config, "[notify]\nsmtp_url = \"smtp://127.0.0.1:1\"\n").unwrap();
    h.cmd()
        .args(["check-expiry", "--notify"])
        .assert()
        .code(78)
        .stderr(
            predicate::str::contains(config.display().to_string())
                .and(predicate::str::contains(
                    "line 1: the [notify] section has no from; add from = ",
                ))
                .and(predicate::str::contains("missing field").not()),
        );
    h.write_config("[notify]\nsmtp_url = \"smtp://u:s3cret@127.0.0.1\"\nfrom = \"a@b.co\"\n");
    h.cmd()
        .args(["check-expiry", "--notify"])
        .assert()
        .code(78)
        .stderr(
            predicate::str::contains("CENTILOC_SMTP_PASSWORD")
                .and(predicate::str::contains("s3cret").not()),
        );
    // A broken template override is caught before anything is sent.
    h.notify_config("smtp://127.0.0.1:1");
    std::fs::write(h.path().join("expiry-notice.txt"), "{% if %}").unwrap();
    h.cmd()
        .args(["check-expiry", "--notify", "--dry-run"])
        .assert()
        .code(78)
        .stderr(predicate::str::contains("expiry-notice.txt"));
    // A misspelt variable is caught on a run where no notice is due.
    let calm = TestHome::new();
    calm.notify_config("smtp://127.0.0.1:1");
    calm.profile_expiring_in(&ca, "default", "calm", 200);
    std::fs::write(calm.path().join("expiry-notice.html"), "{{ tenat }}").unwrap();
    calm.cmd()
        .args(["check-expiry", "--notify"])
        .assert()
        .code(78)
        .stderr(
            predicate::str::contains("expiry-notice.html").and(predicate::str::contains("tenat")),
        );
}

#[test]
fn template_override_in_the_config_directory_is_used() {
    let h = TestHome::new();
    h.notify_config("smtp://127.0.0.1:1");
    std::fs::write(
        h.path().join("expiry-notice.subject.txt"),
        "[certs] {{ tenant }} needs renewing in {{ days_left }} days",
    )
    .unwrap();
    h.profile_due_for_notice();
    h.cmd()
        .args(["check-expiry", "--notify", "--dry-run"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "Subject: [certs] acme needs renewing in 24 days",
        ));
}

#[test]
fn csr_mail_delivers_the_csr_intact_to_support() {
    let smtp = Smtp::start();
    let h = TestHome::new();
    h.notify_config(&smtp.url());
    h.init("acme");
    h.cmd()
        .args(["csr", "--mail"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "e-mailed the CSR to Centiloc support at support@centiloc.example",
        ));
    let written =
        std::fs::read_to_string(h.profile_dir("default").join("certificate-request.csr")).unwrap();
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1);
    let m = &mails[0];
    assert_eq!(m.to, "support@centiloc.example");
    assert_eq!(m.reply_to.as_deref(), Some("ops@example.com"));
    assert!(
        m.subject.contains("tenant acme (Demo Corp)"),
        "{}",
        m.subject
    );
    let key_fp = {
        let out = h.cmd().args(["csr", "--format", "json"]).output().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["key_fingerprint_sha256"].as_str().unwrap().to_owned()
    };
    for fact in ["Demo Corp", "acme", "ops@example.com", key_fp.as_str()] {
        assert!(m.text.contains(fact), "{fact} in:\n{}", m.text);
    }
    assert_eq!(m.attachments.len(), 1);
    let a = &m.attachments[0];
    assert_eq!(a.filename, "certificate-request.csr");
    assert_eq!(a.content_type, "application/pkcs10");
    assert_eq!(
        a.content, written,
        "the attachment is the CSR byte for byte"
    );
    let back = h.path().join("from-mail.csr");
    std::fs::write(&back, &a.content).unwrap();
    let subject = openssl(
        h.path(),
        &[
            "req",
            "-in",
            back.to_str().unwrap(),
            "-verify",
            "-noout",
            "-subject",
            "-nameopt",
            "RFC2253",
        ],
    );
    assert!(
        subject.contains("CN=acme") && subject.contains("O=Demo Corp"),
        "{subject}"
    );
}

#[test]
fn csr_mail_without_support_address_changes_nothing() {
    let h = TestHome::new();
    h.init("acme");
    // No config.toml at all: the example to add has support's address too.
    h.cmd()
        .args(["csr", "--mail"])
        .assert()
        .code(78)
        .stderr(
            predicate::str::contains(format!(
                "ERROR: e-mail is not set up: {} does not exist; csr --mail needs a [notify] section there",
                h.path().join("config.toml").display()
            ))
            .and(predicate::str::contains("support_to = ")),
        );
    h.write_config("[notify]\nsmtp_url = \"smtp://127.0.0.1:1\"\nfrom = \"a@b.co\"\n");
    h.cmd()
        .args(["csr", "--mail"])
        .assert()
        .code(78)
        .stderr(predicate::str::contains("support_to"));
    assert!(
        !h.profile_dir("default")
            .join("certificate-request.csr")
            .exists()
    );
    // SMTP down: 69, naming the server.
    let port = free_port();
    h.notify_config(&format!("smtp://127.0.0.1:{port}"));
    h.cmd()
        .args(["csr", "--mail"])
        .assert()
        .code(69)
        .stderr(predicate::str::contains(format!("127.0.0.1:{port}")));
}
